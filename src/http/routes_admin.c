/*
 * routes_admin.c - login and the back office: plans, cards (one or a batch), ledger check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "http/http.h"
#include "util/log.h"

#define CARDS_BATCH_MAX 1000
#define FIELD_MAX 128

int route_login(struct http_request *request, struct http_response *response)
{
    static const char *const fields[] = {"username", "password", NULL};
    json_t *root = NULL;
    const char *username = NULL, *password = NULL;
    int rc = http_body_json(request, &root);
    if (rc == 0)
        rc = http_fields_only(response, root, fields);
    if (rc == 0)
        rc = http_field_string(response, root, "username", true, FIELD_MAX, &username);
    if (rc == 0)
        rc = http_field_string(response, root, "password", true, 1024, &password);
    char token[APP_TOKEN_SIZE];
    enum role role;
    int64_t expires_at = 0;
    if (rc == 0)
        rc = app_login(request->app, token, &role, &expires_at, username, password);
    if (rc == 0)
        LOG_INFO("login", "request_id", request->request_id, "username", username, "role",
                 role_name(role));
    else if (rc == LEB_E_INVALID_CREDENTIALS)
        LOG_WARN("login refused", "request_id", request->request_id, "username", username, "client",
                 request->client_address);
    json_decref(root);
    if (rc < 0)
        return rc;
    return http_reply_json(response, 200,
                           json_pack("{s:s, s:s, s:o}", "token", token, "role", role_name(role),
                                     "expires_at", http_json_time(expires_at)));
}

int route_ledger_check(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_LEDGER_READ);
    if (rc < 0)
        return rc;
    struct ledger_report report;
    rc = STORE_CALL(request->app->store, ledger_check, &report);
    if (rc < 0)
        return rc;
    json_t *mismatches = json_array();
    for (size_t i = 0; i < report.mismatches_count; i++) {
        const struct ledger_mismatch *m = &report.mismatches[i];
        json_array_append_new(mismatches, json_pack("{s:s, s:s, s:I, s:I}", "what", m->what, "ref",
                                                    m->ref, "expected", (json_int_t)m->expected,
                                                    "actual", (json_int_t)m->actual));
    }
    return http_reply_json(response, 200,
                           json_pack("{s:b, s:I, s:I, s:I, s:o}", "balanced", report.balanced,
                                     "transactions", (json_int_t)report.transactions, "accounts",
                                     (json_int_t)report.accounts, "entries",
                                     (json_int_t)report.entries, "mismatches", mismatches));
}

static int int_field(struct http_response *response, json_t *root, const char *key, bool required,
                     int64_t *out)
{
    return http_field_amount(response, root, key, required, out);
}

int route_plan_create(struct http_request *request, struct http_response *response)
{
    static const char *const fields[] = {"code",
                                         "name",
                                         "currency",
                                         "model",
                                         "monthly_fee",
                                         "validity_days",
                                         "validity_step_amount",
                                         "validity_days_max",
                                         "denominations",
                                         "min_amount",
                                         "max_amount",
                                         "amount_step",
                                         "daily_limit",
                                         "grace_days",
                                         "recharge_allowed",
                                         "remind_days_before",
                                         "recycle_warning_days",
                                         NULL};
    int rc = http_require(request, PERM_PLAN_WRITE);
    if (rc < 0)
        return rc;
    json_t *root = NULL;
    rc = http_body_json(request, &root);
    if (rc < 0)
        return rc;
    struct plan plan = {.amount_step = 100,
                        .recharge_allowed = true,
                        .remind_days_before = 3,
                        .recycle_warning_days = 7};
    int64_t remind_days = plan.remind_days_before, warning_days = plan.recycle_warning_days;
    const char *code = NULL, *name = NULL, *currency = NULL, *model = NULL;
    int64_t monthly_fee = 0, validity_days = 0, validity_step = 0, validity_max = 0, grace_days = 0;
    rc = http_fields_only(response, root, fields);
    if (rc == 0)
        rc = http_field_string(response, root, "code", true, FIELD_MAX, &code);
    if (rc == 0)
        rc = http_field_string(response, root, "name", true, 512, &name);
    if (rc == 0)
        rc = http_field_string(response, root, "currency", true, FIELD_MAX, &currency);
    if (rc == 0)
        rc = http_field_string(response, root, "model", true, 32, &model);
    if (rc == 0 && retention_model_parse(&plan.model, model) < 0)
        rc = http_error(response, LEB_E_INVALID_PLAN, "model must be monthly_fee or validity");
    /* Each model requires its own fields; the other model's may be left out. */
    bool monthly = rc == 0 && plan.model == RETENTION_MONTHLY_FEE;
    if (rc == 0)
        rc = int_field(response, root, "monthly_fee", monthly, &monthly_fee);
    if (rc == 0)
        rc = int_field(response, root, "validity_days", !monthly, &validity_days);
    if (rc == 0)
        rc = int_field(response, root, "validity_step_amount", !monthly, &validity_step);
    if (rc == 0)
        rc = int_field(response, root, "validity_days_max", !monthly, &validity_max);
    if (rc == 0)
        rc = int_field(response, root, "min_amount", true, &plan.amount_min);
    if (rc == 0)
        rc = int_field(response, root, "max_amount", true, &plan.amount_max);
    if (rc == 0)
        rc = int_field(response, root, "amount_step", false, &plan.amount_step);
    if (rc == 0)
        rc = int_field(response, root, "daily_limit", false, &plan.daily_limit);
    if (rc == 0)
        rc = int_field(response, root, "grace_days", true, &grace_days);
    if (rc == 0)
        rc = http_field_bool(response, root, "recharge_allowed", &plan.recharge_allowed);
    if (rc == 0)
        rc = int_field(response, root, "remind_days_before", false, &remind_days);
    if (rc == 0)
        rc = int_field(response, root, "recycle_warning_days", false, &warning_days);
    if (rc == 0 &&
        (remind_days < 0 || remind_days > 28 || warning_days < 0 || warning_days > 36500))
        rc = http_error(response, LEB_E_INVALID_PLAN,
                        "remind_days_before is 0..28, recycle_warning_days at most grace_days");
    plan.remind_days_before = (int32_t)remind_days;
    plan.recycle_warning_days = (int32_t)warning_days;
    json_t *denominations = json_object_get(root, "denominations");
    if (rc == 0 && denominations == NULL)
        rc = http_error(response, LEB_E_INVALID_REQUEST, "denominations is required");
    if (rc == 0) {
        if (!json_is_array(denominations) ||
            json_array_size(denominations) > PLAN_DENOMINATIONS_MAX)
            rc = http_error(response, LEB_E_INVALID_PLAN,
                            "denominations must be a list of at most %d amounts",
                            PLAN_DENOMINATIONS_MAX);
        size_t i;
        json_t *value;
        json_array_foreach(denominations, i, value)
        {
            if (rc < 0)
                break;
            if (!json_is_integer(value)) {
                rc = http_error(response, LEB_E_INVALID_AMOUNT, "denominations must be integers");
                break;
            }
            plan.denominations[plan.denominations_count++] = json_integer_value(value);
        }
    }
    if (rc == 0 &&
        (validity_days > INT32_MAX || validity_days < INT32_MIN || validity_max > INT32_MAX ||
         validity_max < INT32_MIN || grace_days > INT32_MAX || grace_days < INT32_MIN))
        rc = http_error(response, LEB_E_INVALID_PLAN, "day counts are too large");
    if (rc == 0 && (strlen(code) >= sizeof(plan.code) || strlen(name) >= sizeof(plan.name) ||
                    strlen(currency) >= sizeof(plan.currency)))
        rc = http_error(response, LEB_E_INVALID_PLAN,
                        "code is at most 32 characters, name %zu bytes, currency 3 letters",
                        sizeof(plan.name) - 1);
    if (rc == 0) {
        snprintf(plan.code, sizeof(plan.code), "%s", code);
        snprintf(plan.name, sizeof(plan.name), "%s", name);
        snprintf(plan.currency, sizeof(plan.currency), "%s", currency);
        plan.monthly_fee = monthly_fee;
        plan.validity_days = (int32_t)validity_days;
        plan.validity_step_amount = validity_step;
        plan.validity_days_max = (int32_t)validity_max;
        plan.grace_days = (int32_t)grace_days;
        rc = app_plan_create(request->app, &plan);
    }
    json_decref(root);
    if (rc < 0)
        return rc;
    LOG_INFO("plan created", "request_id", request->request_id, "by", request->token.username,
             "plan", plan.code);
    return http_reply_json(response, 201, http_json_plan(&plan));
}

int route_plans_list(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_CARD_READ_ANY);
    if (rc < 0)
        return rc;
    struct plan *plans = NULL;
    size_t count = 0;
    rc = STORE_CALL(request->app->store, plans_list, &plans, &count);
    if (rc < 0)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, http_json_plan(&plans[i]));
    free(plans);
    return http_reply_json(response, 200, json_pack("{s:o}", "plans", list));
}

/* Reads one card of a request; a row's problem becomes its code. */
static int card_request_parse(json_t *value, struct card_request *out)
{
    static const char *const fields[] = {"card_no", "msisdn", "plan", "status", NULL};
    if (!json_is_object(value))
        return LEB_E_INVALID_REQUEST;
    struct http_response scratch = {0};
    const char *status = NULL;
    int rc = http_fields_only(&scratch, value, fields);
    if (rc == 0)
        rc = http_field_string(&scratch, value, "card_no", true, 64, &out->card_no);
    if (rc == 0)
        rc = http_field_string(&scratch, value, "msisdn", true, 64, &out->msisdn);
    if (rc == 0)
        rc = http_field_string(&scratch, value, "plan", true, PLAN_CODE_SIZE - 1, &out->plan);
    if (rc == 0)
        rc = http_field_string(&scratch, value, "status", false, 16, &status);
    out->status = CARD_ACTIVE;
    if (rc == 0 && status != NULL && card_status_parse(&out->status, status) < 0)
        rc = LEB_E_INVALID_REQUEST;
    return rc;
}

int route_cards_create(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_CARD_WRITE);
    if (rc < 0)
        return rc;
    json_t *root = NULL;
    rc = http_body_json(request, &root);
    if (rc < 0)
        return rc;
    json_t *batch = json_object_get(root, "cards");
    bool is_batch = batch != NULL;
    size_t count = is_batch ? json_array_size(batch) : 1;
    if (is_batch && (!json_is_array(batch) || count == 0 || count > CARDS_BATCH_MAX ||
                     json_object_size(root) != 1)) {
        json_decref(root);
        return http_error(response, LEB_E_INVALID_REQUEST,
                          "cards must be a list of 1 to %d cards and the only field",
                          CARDS_BATCH_MAX);
    }
    struct card_request *cards = calloc(count, sizeof(*cards));
    struct card_row *created = calloc(count, sizeof(*created));
    struct batch_error *errors = calloc(count, sizeof(*errors));
    LEB_ASSERT(cards && created && errors);
    size_t errors_count = 0;
    for (size_t i = 0; i < count; i++) {
        int row_rc = card_request_parse(is_batch ? json_array_get(batch, i) : root, &cards[i]);
        if (row_rc < 0)
            errors[errors_count++] = (struct batch_error){.index = i, .code = row_rc};
    }
    if (errors_count == 0)
        rc = app_cards_create(request->app, created, cards, count, errors, count, &errors_count);
    else
        rc = LEB_E_INVALID_BATCH;
    if (rc == LEB_E_INVALID_BATCH && !is_batch) {
        rc = errors[0].code; /* one card: its own error, not a batch's */
    } else if (rc == LEB_E_INVALID_BATCH) {
        json_t *details = json_array();
        for (size_t i = 0; i < errors_count && i < count; i++)
            json_array_append_new(details,
                                  json_pack("{s:I, s:s, s:s}", "index", (json_int_t)errors[i].index,
                                            "code", leb_error_name(errors[i].code), "message",
                                            leb_error_message(errors[i].code)));
        response->error_details = details;
        http_error(response, rc, "%zu of %zu cards are invalid; none was created", errors_count,
                   count);
    } else if (rc == 0 && !is_batch) {
        http_reply_json(response, 201, http_json_card_full(&created[0]));
    } else if (rc == 0) {
        json_t *list = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(list, http_json_card_full(&created[i]));
        http_reply_json(response, 201,
                        json_pack("{s:I, s:o}", "created", (json_int_t)count, "cards", list));
    }
    if (rc == 0) {
        char count_text[24];
        snprintf(count_text, sizeof(count_text), LOG_RAW_PREFIX "%zu", count);
        LOG_INFO("cards created", "request_id", request->request_id, "by", request->token.username,
                 "count", count_text);
    }
    free(cards);
    free(created);
    free(errors);
    json_decref(root);
    return rc;
}
