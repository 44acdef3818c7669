/*
 * routes_ops.c - operations: the outbox as operators see it, and, in test mode only, the
 * clock and an immediate run of the time-driven jobs (so that a month of billing can be tested
 * in a second).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cardno.h"
#include "core/timeutil.h"
#include "core/outbox.h"
#include "http/http.h"
#include "sms/dispatch.h"
#include "util/log.h"

#define OUTBOX_LIMIT_DEFAULT 50
#define OUTBOX_LIMIT_MAX 1000
#define CLOCK_ADVANCE_MAX_S (100LL * 366 * 86400)

int route_clock(struct http_request *request, struct http_response *response)
{
    static const char *const fields[] = {"advance_s", "now", NULL};
    int rc = http_require(request, PERM_PLAN_WRITE);
    if (rc < 0)
        return rc;
    json_t *root = NULL;
    rc = http_body_json(request, &root);
    if (rc < 0)
        return rc;
    int64_t advance_s = 0, target = 0;
    const char *now_text = NULL;
    rc = http_fields_only(response, root, fields);
    if (rc == 0)
        rc = http_field_amount(response, root, "advance_s", false, &advance_s);
    if (rc == 0)
        rc = http_field_string(response, root, "now", false, 32, &now_text);
    if (rc == 0 && (json_object_get(root, "advance_s") != NULL) == (now_text != NULL))
        rc = http_error(response, LEB_E_INVALID_REQUEST, "give advance_s or now, one of them");
    if (rc == 0 && now_text == NULL && (advance_s <= 0 || advance_s > CLOCK_ADVANCE_MAX_S))
        rc = http_error(response, LEB_E_INVALID_REQUEST, "advance_s must be 1 to %lld seconds",
                        (long long)CLOCK_ADVANCE_MAX_S);
    if (rc == 0 && now_text != NULL && time_parse_rfc3339(&target, now_text) < 0)
        rc = http_error(response, LEB_E_INVALID_REQUEST, "now must be an RFC 3339 UTC time");
    if (rc == 0) {
        if (now_text == NULL)
            target = app_now(request->app) + advance_s;
        rc = app_clock_set(request->app, target);
        if (rc < 0)
            http_error(response, rc, "the clock only moves forward");
    }
    json_decref(root);
    if (rc < 0)
        return rc;
    LOG_INFO("clock moved", "request_id", request->request_id, "by", request->token.username);
    return http_reply_json(response, 200,
                           json_pack("{s:o}", "now", http_json_time(app_now(request->app))));
}

int route_jobs_run(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_PLAN_WRITE);
    if (rc < 0)
        return rc;
    struct lifecycle_stats stats;
    struct dispatch_stats delivery;
    int64_t expired = 0;
    struct autorenew_stats renewals;
    rc = app_autorenew_run(request->app, &renewals);
    if (rc == 0)
        rc = app_lifecycle_run(request->app, &stats);
    if (rc == 0)
        rc = app_orders_expire(request->app, &expired);
    if (rc == 0)
        rc = dispatch_run(request->app, &delivery);
    int64_t pruned = 0;
    if (rc == 0)
        rc = app_sessions_prune(request->app, &pruned);
    struct provider_stats polled, refunds;
    if (rc == 0)
        rc = app_payments_poll(request->app, &polled);
    if (rc == 0)
        rc = app_refunds_run(request->app, &refunds);
    if (rc < 0)
        return rc;
    json_t *view =
        json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:I, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:I}}",
                  "lifecycle", "cards", (json_int_t)stats.cards, "charged",
                  (json_int_t)stats.steps[LIFECYCLE_CHARGE_FEE], "suspended",
                  (json_int_t)stats.steps[LIFECYCLE_SUSPEND], "recycled",
                  (json_int_t)stats.steps[LIFECYCLE_RECYCLE], "reminders",
                  (json_int_t)stats.steps[LIFECYCLE_REMIND_LOW], "warnings",
                  (json_int_t)stats.steps[LIFECYCLE_WARN_RECYCLE], "expired_orders",
                  (json_int_t)expired, "outbox", "delivered", (json_int_t)delivery.delivered,
                  "failed", (json_int_t)delivery.failed, "dead", (json_int_t)delivery.dead,
                  "auto_renew", "charged", (json_int_t)renewals.charged, "failed",
                  (json_int_t)renewals.failed, "given_up", (json_int_t)renewals.given_up);
    LEB_ASSERT(view != NULL);
    json_object_set_new(view, "pruned", json_integer(pruned));
    json_object_set_new(view, "payments",
                        json_pack("{s:I, s:I, s:I, s:I}", "queried", (json_int_t)polled.queried,
                                  "found", (json_int_t)polled.found, "refunded",
                                  (json_int_t)refunds.refunded, "refund_failed",
                                  (json_int_t)refunds.refund_failed));
    return http_reply_json(response, 200, view);
}

static json_t *outbox_view(const struct outbox_row *row)
{
    json_t *payload = json_loads(row->payload, 0, NULL);
    json_t *view = json_pack("{s:I, s:s, s:s, s:o, s:s, s:I, s:o, s:o, s:o}", "id",
                             (json_int_t)row->id, "kind", row->kind, "destination",
                             row->destination, "payload", payload ? payload : json_null(), "status",
                             row->status, "attempts", (json_int_t)row->attempts, "next_attempt_at",
                             http_json_time(row->next_attempt_at), "last_error",
                             row->last_error[0] ? json_string(row->last_error) : json_null(),
                             "created_at", http_json_time(row->created_at));
    LEB_ASSERT(view != NULL);
    /* A login code is the cardholder's alone: operators see that one was sent, never which. */
    json_t *code = payload ? json_object_get(payload, "code") : NULL;
    if (code != NULL)
        json_object_set_new(payload, "code", json_string("******"));
    if (strcmp(row->kind, "sms") == 0) {
        json_object_set_new(view, "delivery",
                            row->delivery[0] ? json_string(row->delivery) : json_null());
        json_object_set_new(view, "delivery_at", http_json_time(row->delivery_at));
    }
    return view;
}

struct resend_job {
    int64_t id;
    int64_t now;
    struct outbox_row row;
};

static int resend_in_tx(struct store_tx *tx, void *arg)
{
    struct resend_job *job = arg;
    int rc = STORE_TX(tx, tx_outbox_get, &job->row, job->id);
    if (rc < 0)
        return rc;
    enum outbox_status status;
    struct outbox_attempt next;
    LEB_ASSERT(outbox_status_parse(&status, job->row.status) == 0);
    rc = outbox_resend(&next, status, job->now);
    if (rc == 0)
        rc = STORE_TX(tx, tx_outbox_mark, job->id, outbox_status_name(next.status), next.attempts,
                      next.next_attempt_at, NULL);
    free(job->row.payload);
    job->row.payload = NULL;
    return rc < 0 ? rc : STORE_TX(tx, tx_outbox_get, &job->row, job->id);
}

int route_outbox_resend(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_PLAN_WRITE);
    if (rc < 0)
        return rc;
    const char *digits = request->params[0];
    size_t size = strlen(digits);
    char *end = NULL;
    long long id = 0;
    if (size > 0 && size <= 18 && strspn(digits, "0123456789") == size)
        id = strtoll(digits, &end, 10);
    if (id <= 0)
        return http_error(response, LEB_E_INVALID_REQUEST, "the message id is a number");
    struct resend_job job = {.id = id, .now = app_now(request->app)};
    rc = store_write(request->app->store, resend_in_tx, &job);
    if (rc == LEB_E_NOT_FOUND)
        return http_error(response, rc, "no such message");
    if (rc == LEB_E_ILLEGAL_TRANSITION)
        return http_error(response, rc, "only a dead message can be sent again");
    if (rc < 0)
        return rc;
    char id_text[24];
    snprintf(id_text, sizeof(id_text), LOG_RAW_PREFIX "%lld", id);
    LOG_INFO("outbox message resent", "request_id", request->request_id, "by",
             request->token.username, "outbox_id", id_text);
    json_t *view = outbox_view(&job.row);
    free(job.row.payload);
    return http_reply_json(response, 200, view);
}

int route_outbox_list(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_CARD_READ_ANY);
    if (rc < 0)
        return rc;
    const char *destination = http_query(request, "destination");
    struct outbox_filter filter = {.kind = http_query(request, "kind"),
                                   .status = http_query(request, "status"),
                                   .delivery = http_query(request, "delivery")};
    enum outbox_status status;
    if (filter.status != NULL && outbox_status_parse(&status, filter.status) < 0)
        return http_error(response, LEB_E_INVALID_REQUEST,
                          "status must be pending, delivered or dead");
    enum sms_delivery delivery;
    if (filter.delivery != NULL && strcmp(filter.delivery, "none") == 0)
        filter.delivery = ""; /* no report yet */
    else if (filter.delivery != NULL &&
             (sms_delivery_parse(&delivery, filter.delivery) < 0 || delivery == SMS_DELIVERY_NONE))
        return http_error(response, LEB_E_INVALID_REQUEST,
                          "delivery must be none, queued, accepted, delivered, undelivered or "
                          "rejected");
    if (filter.kind != NULL && strcmp(filter.kind, "sms") != 0 &&
        strcmp(filter.kind, "webhook") != 0)
        return http_error(response, LEB_E_INVALID_REQUEST, "kind must be sms or webhook");
    long limit;
    int limited =
        http_query_limit(request, response, OUTBOX_LIMIT_DEFAULT, OUTBOX_LIMIT_MAX, &limit);
    if (limited < 0)
        return limited;
    /* A phone number is looked up in its E.164 form, whatever spelling was given. */
    char msisdn[MSISDN_SIZE];
    if (destination != NULL && strcmp(destination, "telecom") != 0) {
        if (msisdn_normalize(msisdn, destination) < 0)
            return LEB_E_INVALID_PHONE_NUMBER;
        destination = msisdn;
    }
    filter.destination = destination;
    struct outbox_row *rows = NULL;
    size_t count = 0;
    rc = store_backend_of(request->app->store)
             ->outbox_list(request->app->store, &rows, &count, &filter, (size_t)limit);
    if (rc < 0)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, outbox_view(&rows[i]));
    outbox_rows_free(rows, count);
    return http_reply_json(response, 200, json_pack("{s:o}", "messages", list));
}

int route_outbox_summary(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_CARD_READ_ANY);
    if (rc < 0)
        return rc;
    struct outbox_count *rows = NULL;
    size_t count = 0;
    rc = store_backend_of(request->app->store)->outbox_summary(request->app->store, &rows, &count);
    if (rc < 0)
        return rc;
    /* By kind: how many wait, went, died; and for SMS, where the gateway says they are. */
    json_t *kinds = json_object();
    for (size_t i = 0; i < count; i++) {
        json_t *kind = json_object_get(kinds, rows[i].kind);
        if (kind == NULL) {
            kind = json_pack("{s:I, s:I, s:I, s:{}}", "pending", (json_int_t)0, "delivered",
                             (json_int_t)0, "dead", (json_int_t)0, "delivery");
            json_object_set_new(kinds, rows[i].kind, kind);
        }
        json_t *by_status = json_object_get(kind, rows[i].status);
        json_object_set_new(kind, rows[i].status,
                            json_integer(json_integer_value(by_status) + rows[i].count));
        if (strcmp(rows[i].kind, "sms") == 0 && strcmp(rows[i].status, "delivered") == 0) {
            const char *name = rows[i].delivery[0] ? rows[i].delivery : "none";
            json_t *by_delivery = json_object_get(kind, "delivery");
            json_object_set_new(
                by_delivery, name,
                json_integer(json_integer_value(json_object_get(by_delivery, name)) +
                             rows[i].count));
        }
    }
    free(rows);
    return http_reply_json(response, 200, json_pack("{s:o}", "kinds", kinds));
}

json_t *http_json_autorenew(const struct autorenew_row *row)
{
    json_t *view = json_pack(
        "{s:s, s:b, s:s, s:I, s:I, s:{s:s, s:s}, s:I, s:o, s:o}", "card_no_masked", "", "enabled",
        row->enabled, "rule", row->rule, "amount", (json_int_t)row->amount, "threshold",
        (json_int_t)row->threshold, "agreement", "provider", row->provider, "agreement_id",
        row->agreement_id, "attempts", (json_int_t)row->attempts, "last_attempt_at",
        http_json_time(row->last_attempt_at), "next_check_at", http_json_time(row->next_check_at));
    LEB_ASSERT(view != NULL);
    char masked[CARDNO_MASKED_SIZE];
    cardno_mask(masked, row->card_no);
    json_object_set_new(view, "card_no_masked", json_string(masked));
    return view;
}

int route_autorenew_get(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_CARD_READ_ANY);
    if (rc < 0)
        return rc;
    struct card_row card;
    rc = app_card_find(request->app, &card, request->params[0]);
    if (rc < 0)
        return rc;
    struct autorenew_row row;
    rc = store_backend_of(request->app->store)
             ->autorenew_get(request->app->store, &row, card.card_no);
    if (rc == LEB_E_NOT_FOUND) /* never set up: off */
        return http_reply_json(response, 200, json_pack("{s:b}", "enabled", 0));
    if (rc < 0)
        return rc;
    return http_reply_json(response, 200, http_json_autorenew(&row));
}

int http_autorenew_change(struct http_request *request, struct http_response *response,
                          const char *card, bool operator)
{
    static const char *const fields[] = {"enabled",   "rule",      "amount",
                                         "threshold", "agreement", NULL};
    static const char *const cardholder_fields[] = {"enabled", "rule", "amount", "threshold", NULL};
    static const char *const agreement_fields[] = {"provider", "behaviour", NULL};
    json_t *root = NULL;
    int rc = http_body_json(request, &root);
    if (rc < 0)
        return rc;
    struct autorenew_request change = {.card = card, .enabled = true};
    const char *provider = NULL;
    json_t *agreement = json_object_get(root, "agreement");
    rc = http_fields_only(response, root, operator? fields : cardholder_fields);
    if (rc == 0 && json_object_get(root, "enabled") == NULL)
        rc = http_error(response, LEB_E_INVALID_REQUEST, "enabled is required");
    if (rc == 0)
        rc = http_field_bool(response, root, "enabled", &change.enabled);
    if (rc == 0)
        rc = http_field_string(response, root, "rule", change.enabled, 16, &change.rule);
    if (rc == 0)
        rc = http_field_amount(response, root, "amount", false, &change.amount);
    if (rc == 0)
        rc = http_field_amount(response, root, "threshold", false, &change.threshold);
    if (rc == 0 && agreement != NULL && !json_is_object(agreement))
        rc = http_error(response, LEB_E_INVALID_REQUEST, "agreement must be an object");
    if (rc == 0 && agreement != NULL)
        rc = http_fields_only(response, agreement, agreement_fields);
    if (rc == 0 && agreement != NULL)
        rc = http_field_string(response, agreement, "provider", false, 16, &provider);
    if (rc == 0 && agreement != NULL)
        rc = http_field_string(response, agreement, "behaviour", false, 16, &change.behaviour);
    if (rc == 0 && provider != NULL && strcmp(provider, "sandbox") != 0)
        rc = http_error(response, LEB_E_PAYMENT_METHOD_UNAVAILABLE,
                        "only sandbox agreements exist yet");
    if (rc == 0 && change.rule != NULL && strcmp(change.rule, "keep_fee") != 0 &&
        strcmp(change.rule, "threshold") != 0)
        rc = http_error(response, LEB_E_INVALID_REQUEST, "rule must be keep_fee or threshold");
    struct autorenew_row row;
    if (rc == 0)
        rc = app_autorenew_set(request->app, &row, &change);
    if (rc == LEB_E_INVALID_REQUEST && response->error_message[0] == '\0')
        http_error(response, rc,
                   "the card's plan cannot honour this setting: keep_fee needs a monthly fee, "
                   "a threshold rule an amount the plan sells and a threshold of 0 or more");
    json_decref(root);
    if (rc < 0)
        return rc;
    LOG_INFO("auto-renewal set", "request_id", request->request_id,
             "by", operator? request->token.username : "cardholder", "enabled",
             row.enabled ? LOG_RAW("true") : LOG_RAW("false"));
    return http_reply_json(response, 200, http_json_autorenew(&row));
}

int route_autorenew_put(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_CARD_WRITE);
    if (rc < 0)
        return rc;
    return http_autorenew_change(request, response, request->params[0], true);
}
