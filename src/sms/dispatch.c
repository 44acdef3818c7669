/*
 * dispatch.c - the outbox dispatcher. Reads due messages, sends each over HTTP outside any
 * transaction (no lock is held while a receiver is slow), then records the outcome in a short
 * write. The back-off and the bound on attempts are src/core/outbox.c's.
 *
 * A webhook is POSTed as its payload plus "id", signed: X-Leb-Signature is "sha256=" and the
 * hex HMAC-SHA256, under the telecom secret, of "<X-Leb-Timestamp>.<body>". The timestamp is
 * real time, so receivers can refuse stale replays whatever the business clock says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "core/cardno.h"
#include "core/outbox.h"
#include "core/sms.h"
#include "sms/dispatch.h"
#include "util/http_client.h"
#include "util/log.h"

#define DISPATCH_BATCH_MAX 100
#define DISPATCH_ROUNDS_MAX 100
#define WEBHOOK_TIMEOUT_MS 10000
/* Kannel's dlr-mask: 1 delivered, 2 not delivered, 4 queued, 8 accepted, 16 rejected. */
#define SMS_DLR_MASK 31
#define SMS_TIMEOUT_MS 10000
/* Longer than a whole batch of attempts can take at the timeout. */
#define DISPATCH_LEASE_S (DISPATCH_BATCH_MAX * WEBHOOK_TIMEOUT_MS / 1000 + 60)

struct mark_job {
    const struct outbox_row *row;
    struct outbox_attempt next;
    const char *error;
    bool applied;
};

/* Records an attempt, unless another dispatcher recorded one for this message meanwhile. */
static int mark_in_tx(struct store_tx *tx, void *arg)
{
    struct mark_job *job = arg;
    struct outbox_row current;
    job->applied = false;
    int rc = STORE_TX(tx, tx_outbox_get, &current, job->row->id);
    if (rc < 0)
        return rc;
    bool unchanged =
        strcmp(current.status, "pending") == 0 && current.attempts == job->row->attempts;
    free(current.payload);
    if (!unchanged)
        return 0;
    job->applied = true;
    return STORE_TX(tx, tx_outbox_mark, job->row->id, outbox_status_name(job->next.status),
                    job->next.attempts, job->next.next_attempt_at, job->error);
}

/* The body: the stored payload with the message's id added, keys sorted. */
static char *webhook_body(const struct outbox_row *row)
{
    json_t *payload = json_loads(row->payload, 0, NULL);
    if (!json_is_object(payload)) {
        json_decref(payload);
        return NULL;
    }
    json_object_set_new(payload, "id", json_integer(row->id));
    char *body = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(payload);
    return body;
}

static bool webhook_send(struct app *app, const struct outbox_row *row, char *error,
                         size_t error_size)
{
    char *body = webhook_body(row);
    if (body == NULL) {
        snprintf(error, error_size, "the stored payload is not a JSON object");
        return false;
    }
    json_t *payload = json_loads(row->payload, 0, NULL);
    const char *event = json_string_value(json_object_get(payload, "event"));
    char timestamp[24], header_event[96], header_delivery[48], header_timestamp[48];
    snprintf(timestamp, sizeof(timestamp), "%lld", (long long)time(NULL));
    snprintf(header_event, sizeof(header_event), "X-Leb-Event: %.64s", event ? event : "");
    snprintf(header_delivery, sizeof(header_delivery), "X-Leb-Delivery: %lld", (long long)row->id);
    snprintf(header_timestamp, sizeof(header_timestamp), "X-Leb-Timestamp: %s", timestamp);
    json_decref(payload);

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    size_t signed_size = strlen(timestamp) + 1 + strlen(body);
    char *signed_text = malloc(signed_size + 1);
    LEB_ASSERT(signed_text != NULL);
    snprintf(signed_text, signed_size + 1, "%s.%s", timestamp, body);
    LEB_ASSERT(HMAC(EVP_sha256(), app->telecom_webhook_secret,
                    (int)strlen(app->telecom_webhook_secret), (const unsigned char *)signed_text,
                    signed_size, digest, &digest_size) != NULL);
    free(signed_text);
    char hex[2 * EVP_MAX_MD_SIZE + 1], header_signature[2 * EVP_MAX_MD_SIZE + 32];
    sodium_bin2hex(hex, sizeof(hex), digest, digest_size);
    snprintf(header_signature, sizeof(header_signature), "X-Leb-Signature: sha256=%s", hex);

    const char *const headers[] = {"Content-Type: application/json",
                                   header_event,
                                   header_delivery,
                                   header_timestamp,
                                   header_signature,
                                   NULL};
    long status = 0;
    char transport_error[HTTP_CLIENT_ERROR_SIZE];
    int rc =
        http_client_post_cancellable(app->telecom_webhook_url, headers, body, WEBHOOK_TIMEOUT_MS,
                                     &app->stopping, &status, transport_error);
    free(body);
    if (rc < 0) {
        snprintf(error, error_size, "%s", transport_error);
        return false;
    }
    if (status < 200 || status > 299) {
        snprintf(error, error_size, "the receiver answered %ld", status);
        return false;
    }
    error[0] = '\0';
    return true;
}

/* Reads the SMS of an outbox row, renders it and hands it to the gateway's sendsms
 * interface (Kannel: username, password, to, text, charset=UTF-8, coding 2 for UCS-2). The
 * gateway's 2xx means it took the message; it stores and forwards it from there. */
static bool sms_send(struct app *app, const struct outbox_row *row, char *error, size_t error_size,
                     bool *permanent)
{
    *permanent = false;
    json_t *payload = json_loads(row->payload, 0, NULL);
    const char *template_name = json_string_value(json_object_get(payload, "template"));
    const char *card_no = json_string_value(json_object_get(payload, "card_no"));
    const char *language = json_string_value(json_object_get(payload, "language"));
    char masked[CARDNO_MASKED_SIZE] = "";
    if (card_no != NULL)
        cardno_mask(masked, card_no);
    struct sms_fields fields = {
        .card_no_masked = masked,
        .amount = json_integer_value(json_object_get(payload, "amount")),
        .balance = json_integer_value(json_object_get(payload, "balance")),
        .fee = json_integer_value(json_object_get(payload, "fee")),
        .arrears = json_integer_value(json_object_get(payload, "arrears")),
        .currency = json_string_value(json_object_get(payload, "currency")),
        .valid_until = json_string_value(json_object_get(payload, "valid_until")),
        .due_at = json_string_value(json_object_get(payload, "due_at")),
        .recycle_at = json_string_value(json_object_get(payload, "recycle_at")),
        .code = json_string_value(json_object_get(payload, "code")),
    };
    char text[SMS_REPLY_MAX];
    enum sms_language lang = language && strcmp(language, "en") == 0 ? SMS_LANG_EN : SMS_LANG_ZH;
    int rc = template_name ? sms_render(text, template_name, &fields, lang) : LEB_E_INVALID_REQUEST;
    json_decref(payload);
    if (rc < 0) {
        snprintf(error, error_size, "the message cannot be rendered");
        *permanent = true; /* no retry can mend it */
        return false;
    }
    bool ucs2 = false;
    (void)sms_segments(text, &ucs2);
    char *to = http_client_escape(row->destination);
    char *body = http_client_escape(text);
    char *username = http_client_escape(app->sms_username);
    char *password = http_client_escape(app->sms_password);
    char *sender = app->sms_sender[0] ? http_client_escape(app->sms_sender) : NULL;
    /* Every report (delivered, not delivered, queued, accepted or rejected by the SMS centre)
     * comes back to this message's own address, "%d" being the report's type. */
    char dlr_token[APP_DLR_TOKEN_SIZE], dlr_url[512];
    app_sms_dlr_token(app, dlr_token, row->id);
    snprintf(dlr_url, sizeof(dlr_url), "%.300s/api/v1/sms/dlr?id=%lld&t=%s&type=%%d",
             app->public_url, (long long)row->id, dlr_token);
    char *dlr = http_client_escape(dlr_url);
    size_t size = strlen(app->sms_sendsms_url) + strlen(to) + strlen(body) + strlen(username) +
                  strlen(password) + (sender ? strlen(sender) : 0) + strlen(dlr) + 160;
    char *url = malloc(size);
    LEB_ASSERT(url != NULL);
    snprintf(url, size,
             "%s%susername=%s&password=%s&to=%s&text=%s&charset=UTF-8&coding=%d&dlr-mask=%d"
             "&dlr-url=%s%s%s",
             app->sms_sendsms_url, strchr(app->sms_sendsms_url, '?') ? "&" : "?", username,
             password, to, body, ucs2 ? 2 : 0, SMS_DLR_MASK, dlr, sender ? "&from=" : "",
             sender ? sender : "");
    free(dlr);
    long status = 0;
    char transport_error[HTTP_CLIENT_ERROR_SIZE];
    rc = http_client_get(url, SMS_TIMEOUT_MS, &app->stopping, &status, transport_error);
    free(url);
    free(to);
    free(body);
    free(username);
    free(password);
    free(sender);
    if (rc < 0) {
        snprintf(error, error_size, "%s", transport_error);
        return false;
    }
    if (status < 200 || status > 299) {
        snprintf(error, error_size, "the gateway answered %ld", status);
        return false;
    }
    error[0] = '\0';
    return true;
}

/* The kinds of message and how each is sent; a kind whose gateway is not configured waits. */
struct outlet {
    const char *kind;
    bool (*configured)(const struct app *app);
    bool (*send)(struct app *app, const struct outbox_row *row, char *error, size_t error_size,
                 bool *permanent);
};

static bool webhook_configured(const struct app *app)
{
    return app->telecom_webhook_url[0] != '\0';
}

static bool sms_configured(const struct app *app)
{
    return app->sms_sendsms_url[0] != '\0';
}

static bool webhook_send_channel(struct app *app, const struct outbox_row *row, char *error,
                                 size_t error_size, bool *permanent)
{
    *permanent = false;
    return webhook_send(app, row, error, error_size);
}

static const struct outlet outlets[] = {
    {"webhook", webhook_configured, webhook_send_channel},
    {"sms", sms_configured, sms_send},
};

struct claim_job {
    const char *kind;
    int64_t now;
    struct outbox_row *rows;
    size_t count;
};

/* Takes the due messages for this pass: leased past the longest an attempt can take, so that
 * another pass (the timer, a jobs/run, another node) does not send them at the same time; a
 * pass that dies mid-way leaves a lease that expires, and the message is sent again. */
static int claim_in_tx(struct store_tx *tx, void *arg)
{
    struct claim_job *job = arg;
    outbox_rows_free(job->rows, job->count); /* a write function may run again */
    job->rows = NULL;
    job->count = 0;
    return STORE_TX(tx, tx_outbox_claim, &job->rows, &job->count, job->kind, job->now,
                    job->now + DISPATCH_LEASE_S, DISPATCH_BATCH_MAX);
}

/* Delivers what is due of one kind of message. */
static int dispatch_channel(struct app *app, const struct outlet *outlet,
                            struct dispatch_stats *stats)
{
    for (int round = 0; round < DISPATCH_ROUNDS_MAX; round++) {
        int64_t now = app_now(app);
        struct claim_job claim = {.kind = outlet->kind, .now = now};
        int rc = store_write(app->store, claim_in_tx, &claim);
        if (rc < 0) {
            outbox_rows_free(claim.rows, claim.count);
            return rc;
        }
        struct outbox_row *rows = claim.rows;
        size_t count = claim.count;
        for (size_t i = 0; i < count && rc == 0; i++) {
            if (atomic_load(&app->stopping)) {
                /* Shutting down: hand back what this pass took and did not try, so that the
                 * next start sends it at once instead of after the lease. */
                struct mark_job job = {.row = &rows[i], .error = rows[i].last_error};
                job.next = (struct outbox_attempt){.status = OUTBOX_PENDING,
                                                   .attempts = rows[i].attempts,
                                                   .next_attempt_at = rows[i].next_attempt_at};
                rc = store_write(app->store, mark_in_tx, &job);
                continue;
            }
            char error[HTTP_CLIENT_ERROR_SIZE];
            bool permanent = false;
            bool delivered = outlet->send(app, &rows[i], error, sizeof(error), &permanent);
            if (!delivered && atomic_load(&app->stopping)) {
                /* Cut short by the shutdown, not refused: not an attempt. */
                struct mark_job job = {.row = &rows[i], .error = rows[i].last_error};
                job.next = (struct outbox_attempt){.status = OUTBOX_PENDING,
                                                   .attempts = rows[i].attempts,
                                                   .next_attempt_at = rows[i].next_attempt_at};
                rc = store_write(app->store, mark_in_tx, &job);
                continue;
            }
            struct mark_job job = {.row = &rows[i], .error = error};
            /* The back-off counts from the attempt, not from the start of the pass. */
            rc = outbox_after_attempt(&job.next, rows[i].attempts, delivered, app_now(app),
                                      permanent ? rows[i].attempts + 1 : app->telecom_attempts_max,
                                      app->telecom_backoff_s);
            if (rc == 0)
                rc = store_write(app->store, mark_in_tx, &job);
            if (rc < 0 || !job.applied)
                continue;
            char id[24];
            snprintf(id, sizeof(id), LOG_RAW_PREFIX "%lld", (long long)rows[i].id);
            if (job.next.status == OUTBOX_DELIVERED) {
                stats->delivered++;
            } else if (job.next.status == OUTBOX_DEAD) {
                stats->dead++;
                LOG_ERROR("message dead after its last attempt", "kind", outlet->kind, "outbox_id",
                          id, "error", error);
            } else {
                stats->failed++;
                LOG_WARN("delivery attempt failed; it will be retried", "kind", outlet->kind,
                         "outbox_id", id, "error", error);
            }
        }
        outbox_rows_free(rows, count);
        if (rc < 0)
            return rc;
        if (count < DISPATCH_BATCH_MAX)
            break;
    }
    return 0;
}

int dispatch_run(struct app *app, struct dispatch_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    for (size_t i = 0; i < sizeof(outlets) / sizeof(outlets[0]); i++) {
        if (!outlets[i].configured(app))
            continue; /* nowhere to send: the messages wait, nothing is lost */
        int rc = dispatch_channel(app, &outlets[i], stats);
        if (rc < 0)
            return rc;
    }
    return 0;
}
