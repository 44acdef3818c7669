/*
 * orders.c - quotes, order creation with idempotency keys, and order expiry.
 *
 * An order is priced by src/core/plan.c and written with its idempotency key in the same
 * transaction, so that a retried request can never create a second order, even when the
 * retries race each other.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "app/app.h"
#include "core/cardno.h"
#include "core/timeutil.h"

#define EXPIRE_BATCH_MAX 500
#define EXPIRE_ROUNDS_MAX 100
#define ORDER_NO_ATTEMPTS 5

static int resolve_card_no(struct app *app, char out[CARDNO_SIZE], const char *number)
{
    struct card_row card;
    int rc = app_card_find(app, &card, number);
    if (rc < 0)
        return rc;
    memcpy(out, card.card_no, CARDNO_SIZE);
    return 0;
}

/* Prices "req" for the card "card_no" inside "tx" (or, with tx NULL, through plain reads). */
static int price(struct app *app, struct store_tx *tx, struct quote *out, struct card_row *card,
                 struct plan *plan, const char *card_no, const struct order_request *req)
{
    int rc = pricing_check_channel(req->caller, req->channel, req->method);
    if (rc < 0)
        return rc;
    rc = tx ? STORE_TX(tx, tx_card_get, card, card_no)
            : STORE_CALL(app->store, card_get, card, card_no);
    if (rc < 0)
        return rc;
    rc = tx ? STORE_TX(tx, tx_plan_get, plan, card->plan_code)
            : STORE_CALL(app->store, plan_get, plan, card->plan_code);
    if (rc < 0)
        return rc == LEB_E_PLAN_NOT_FOUND ? LEB_E_INTERNAL : rc;
    rc = pricing_quote(out, plan, card->status, req->face_amount, req->channel, req->method);
    if (rc < 0)
        return rc;
    if (req->method == PAYMENT_SANDBOX)
        return app->sandbox_enabled ? 0 : LEB_E_PAYMENT_METHOD_UNAVAILABLE;
    if (app->gateway == NULL || !app->gateway->available(app, req->method))
        return LEB_E_PAYMENT_METHOD_UNAVAILABLE;
    return 0;
}

int app_quote(struct app *app, struct quote *out, const struct order_request *req)
{
    char card_no[CARDNO_SIZE];
    int rc = resolve_card_no(app, card_no, req->card);
    if (rc < 0)
        return rc;
    struct card_row card;
    struct plan plan;
    return price(app, NULL, out, &card, &plan, card_no, req);
}

struct create_job {
    struct app *app;
    const struct order_request *req;
    const char *card_no;
    const char *key;
    const char *request_hash;
    int64_t now;
    struct order_row order; /* in: order_no; out: the order */
    bool replayed;
};

static int create_in_tx(struct store_tx *tx, void *arg)
{
    struct create_job *job = arg;
    if (job->key != NULL) {
        char hash[REQUEST_HASH_SIZE], order_no[ORDER_NO_SIZE];
        int rc = STORE_TX(tx, tx_idempotency_get, job->key, hash, order_no);
        if (rc == 0) {
            if (strcmp(hash, job->request_hash) != 0)
                return LEB_E_IDEMPOTENCY_CONFLICT;
            job->replayed = true;
            return STORE_TX(tx, tx_order_get, &job->order, order_no);
        }
        if (rc != LEB_E_NOT_FOUND)
            return rc;
    }
    struct card_row card;
    struct plan plan;
    struct quote quote;
    int rc = price(job->app, tx, &quote, &card, &plan, job->card_no, job->req);
    if (rc < 0)
        return rc;
    if (plan.daily_limit > 0) {
        int64_t today = 0;
        rc = STORE_TX(tx, tx_card_paid_today, card.card_no, time_day_start(job->now), &today);
        if (rc < 0)
            return rc;
        rc = pricing_check_daily_limit(&plan, today, job->req->face_amount);
        if (rc < 0)
            return rc;
    }
    struct order_row *order = &job->order;
    memcpy(order->card_no, card.card_no, CARDNO_SIZE);
    order->status = ORDER_PENDING_PAYMENT;
    order->channel = job->req->channel;
    order->method = job->req->method;
    order->quote = quote;
    order->created_at = job->now;
    order->expires_at = job->now + job->app->order_ttl_s;
    order->updated_at = job->now;
    rc = STORE_TX(tx, tx_order_insert, order);
    if (rc == 0 && job->key != NULL)
        rc = STORE_TX(tx, tx_idempotency_put, job->key, job->request_hash, order->order_no,
                      job->now);
    return rc;
}

/* "LEB" + UTC date "T" time "R" + 10 random digits: sortable, unguessable enough that one
 * order's number says nothing of the next, and unique by primary key whatever happens. No run
 * of 11 digits, so the logs' last-line masking of card and phone numbers leaves it readable. */
static void order_no_generate(char out[ORDER_NO_SIZE], int64_t now)
{
    char stamp[RFC3339_SIZE];
    time_format_rfc3339(stamp, now);
    uint64_t random = 0;
    randombytes_buf(&random, sizeof(random));
    snprintf(out, ORDER_NO_SIZE, "LEB%.4s%.2s%.2sT%.2s%.2s%.2sR%010llu", stamp, stamp + 5,
             stamp + 8, stamp + 11, stamp + 14, stamp + 17,
             (unsigned long long)(random % 10000000000ULL));
}

int app_order_create(struct app *app, struct order_row *out, bool *replayed,
                     const struct order_request *req, const char *idempotency_key)
{
    char card_no[CARDNO_SIZE];
    int rc = resolve_card_no(app, card_no, req->card);
    if (rc < 0)
        return rc;
    /* The request's identity for its idempotency key: the normalised card and every field
     * that changes what is charged, so "138 0000 0001" and "+8613800000001" are the same. */
    char canonical[256], request_hash[REQUEST_HASH_SIZE];
    snprintf(canonical, sizeof(canonical), "%s|%lld|%s|%s|%d", card_no, (long long)req->face_amount,
             channel_name(req->channel), payment_method_name(req->method), (int)req->caller);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)canonical, strlen(canonical));
    sodium_bin2hex(request_hash, sizeof(request_hash), digest, sizeof(digest));

    struct create_job job = {.app = app,
                             .req = req,
                             .card_no = card_no,
                             .key = idempotency_key,
                             .request_hash = request_hash,
                             .now = app_now(app)};
    /* Ten random digits per second make a clash rare, not impossible: draw again. */
    for (int attempt = 0; attempt < ORDER_NO_ATTEMPTS; attempt++) {
        order_no_generate(job.order.order_no, job.now);
        rc = store_write(app->store, create_in_tx, &job);
        if (rc != LEB_E_ORDER_EXISTS)
            break;
    }
    if (rc < 0)
        return rc;
    LEB_ASSERT(job.order.order_no[0] != '\0');
    *out = job.order;
    *replayed = job.replayed;
    if (!job.replayed)
        atomic_fetch_add(&app->counters.orders_created, 1);
    /* The provider's side of the payment, after the order is durable: a provider that cannot
     * be reached leaves an order that is retried with the same Idempotency-Key. */
    return app_order_prepare(app, &job.order);
}

struct expire_job {
    int64_t now;
    size_t expired;
    size_t due;
};

static int expire_in_tx(struct store_tx *tx, void *arg)
{
    struct expire_job *job = arg;
    char due[EXPIRE_BATCH_MAX][ORDER_NO_SIZE];
    int rc = STORE_TX(tx, tx_orders_due_expiry, job->now, due, EXPIRE_BATCH_MAX, &job->due);
    for (size_t i = 0; rc == 0 && i < job->due; i++) {
        struct order_row order;
        rc = STORE_TX(tx, tx_order_get, &order, due[i]);
        if (rc < 0)
            break;
        enum order_status next;
        if (order_transition(&next, order.status, ORDER_EVENT_TTL_ELAPSED) < 0)
            continue; /* paid meanwhile: nothing to expire */
        order.status = next;
        order.updated_at = job->now;
        rc = STORE_TX(tx, tx_order_update, &order);
        if (rc == 0)
            job->expired++;
    }
    return rc;
}

int app_orders_expire(struct app *app, int64_t *expired)
{
    *expired = 0;
    for (int round = 0; round < EXPIRE_ROUNDS_MAX; round++) {
        struct expire_job job = {.now = app_now(app)};
        int rc = store_write(app->store, expire_in_tx, &job);
        if (rc < 0)
            return rc;
        *expired += (int64_t)job.expired;
        if (job.due < EXPIRE_BATCH_MAX)
            break;
    }
    atomic_fetch_add(&app->counters.orders_expired, (uint_fast64_t)*expired);
    return 0;
}
