/*
 * provider.c - what LEB asks of the payment providers on its own initiative: creating an
 * order's payment, asking about an order whose notification never came, and refunding money
 * that can no longer reach a card.
 *
 * No provider call is made inside a store transaction. A due query or refund is first leased
 * (its next attempt pushed back, in a transaction), then made, then its result applied in a
 * transaction of its own: a crash between the two repeats the call later, which the
 * provider's idempotency on the order and refund numbers makes harmless, and the payments
 * table's (provider, trade) key makes a repeated "paid" credit nothing twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "core/ledger.h"
#include "util/log.h"
#include "util/text.h"

#define POLL_BATCH_MAX 50
#define POLL_ROUNDS_MAX 20
#define REFUND_LEASE_S 300

/* "prefix" and "text" into "out", cut on a UTF-8 character boundary: a provider's message may
 * be Chinese, and half a character is no text. */
static void error_text(char *out, size_t size, const char *prefix, const char *text)
{
    size_t used = strlen(prefix);
    LEB_ASSERT(used < size);
    memcpy(out, prefix, used);
    text_copy_utf8(out + used, size - used, text, size - used - 1);
}

static bool needs_gateway(const struct app *app, enum payment_method method)
{
    return method != PAYMENT_SANDBOX && app->gateway != NULL;
}

struct payment_put_job {
    struct order_payment_row row;
};

static int payment_put_in_tx(struct store_tx *tx, void *arg)
{
    struct payment_put_job *job = arg;
    return STORE_TX(tx, tx_order_payment_put, &job->row);
}

int app_order_prepare(struct app *app, const struct order_row *order)
{
    if (!needs_gateway(app, order->method) || order->status != ORDER_PENDING_PAYMENT)
        return 0;
    struct payment_put_job job;
    int rc = STORE_CALL(app->store, order_payment_get, &job.row, order->order_no);
    if (rc == 0 && job.row.pay_url[0] != '\0')
        return 0; /* a replay: prepared before */
    if (rc < 0 && rc != LEB_E_NOT_FOUND)
        return rc;
    memset(&job.row, 0, sizeof(job.row));
    rc = app->gateway->prepare(app, order, &job.row);
    /* Whatever the provider said, the order is looked for from now on: a payer may have paid
     * through a link that a lost answer never showed us. */
    memcpy(job.row.order_no, order->order_no, ORDER_NO_SIZE);
    snprintf(job.row.provider, sizeof(job.row.provider), "%s", payment_method_name(order->method));
    job.row.created_at = order->created_at;
    job.row.query_attempts = 0;
    job.row.next_query_at =
        order_query_next(order->created_at, order->expires_at, 0, app->payment_query_after_s);
    if (rc < 0) {
        job.row.pay_url[0] = job.row.qr_text[0] = '\0';
        snprintf(job.row.last_error, sizeof(job.row.last_error), "prepare: %s", leb_error_name(rc));
        LOG_WARN("payment provider unavailable", "order_no", order->order_no, "provider",
                 job.row.provider, "code", leb_error_name(rc));
    }
    int written = store_write(app->store, payment_put_in_tx, &job);
    return rc < 0 ? LEB_E_UNAVAILABLE : written;
}

int app_refund_schedule(struct store_tx *tx, const struct order_row *order, int64_t now)
{
    struct order_payment_row row;
    int rc = STORE_TX(tx, tx_order_payment_get, &row, order->order_no);
    if (rc == LEB_E_NOT_FOUND) {
        memset(&row, 0, sizeof(row));
        memcpy(row.order_no, order->order_no, ORDER_NO_SIZE);
        snprintf(row.provider, sizeof(row.provider), "%s", payment_method_name(order->method));
        row.created_at = now;
    } else if (rc < 0) {
        return rc;
    }
    row.next_query_at = 0; /* paid: nothing left to look for */
    row.refund_attempts = 0;
    row.next_refund_at = now;
    return STORE_TX(tx, tx_order_payment_put, &row);
}

/* ---- lost notifications ---- */

struct lease_job {
    int64_t now;
    char due[POLL_BATCH_MAX][ORDER_NO_SIZE];
    size_t count;
    bool refunds; /* lease refunds rather than queries */
    int64_t after_s;
};

/* Pushes back every due query (or refund) before it is made: another round, or a lebd
 * restarted after a crash, does not ask twice at once. */
static int lease_in_tx(struct store_tx *tx, void *arg)
{
    struct lease_job *job = arg;
    int rc = job->refunds ? STORE_TX(tx, tx_order_payments_refund_due, job->now, job->due,
                                     POLL_BATCH_MAX, &job->count)
                          : STORE_TX(tx, tx_order_payments_query_due, job->now, job->due,
                                     POLL_BATCH_MAX, &job->count);
    for (size_t i = 0; rc == 0 && i < job->count; i++) {
        struct order_payment_row row;
        struct order_row order;
        rc = STORE_TX(tx, tx_order_payment_get, &row, job->due[i]);
        if (rc == 0)
            rc = STORE_TX(tx, tx_order_get, &order, job->due[i]);
        if (rc < 0)
            break;
        if (job->refunds) {
            row.refund_attempts++;
            row.next_refund_at = order.status == ORDER_REFUNDING ? job->now + REFUND_LEASE_S : 0;
        } else {
            bool unpaid = order.status == ORDER_PENDING_PAYMENT || order.status == ORDER_EXPIRED;
            row.query_attempts++;
            row.next_query_at = unpaid ? order_query_next(order.created_at, order.expires_at,
                                                          row.query_attempts, job->after_s)
                                       : 0;
            if (!unpaid)
                job->due[i][0] = '\0'; /* settled by its notification: no call */
        }
        if (job->refunds && order.status != ORDER_REFUNDING)
            job->due[i][0] = '\0';
        rc = STORE_TX(tx, tx_order_payment_put, &row);
    }
    return rc;
}

static int poll_one(struct app *app, const char *order_no, struct provider_stats *stats)
{
    struct order_row order;
    struct order_payment_row payment;
    int rc = STORE_CALL(app->store, order_get, &order, order_no);
    if (rc == 0)
        rc = STORE_CALL(app->store, order_payment_get, &payment, order_no);
    if (rc < 0)
        return rc;
    struct payment_query query;
    memset(&query, 0, sizeof(query));
    stats->queried++;
    atomic_fetch_add(&app->counters.payment_queries, 1);
    rc = app->gateway->query(app, &order, &payment, &query);
    if (rc < 0) {
        free(query.raw);
        LOG_WARN("payment query failed", "order_no", order_no, "provider", payment.provider, "code",
                 leb_error_name(rc));
        return 0; /* asked again at the next lease */
    }
    if (query.state == PAYMENT_QUERY_WAITING) {
        free(query.raw);
        return 0;
    }
    char closed_trade[TRADE_NO_SIZE];
    snprintf(closed_trade, sizeof(closed_trade), "CLOSED-%s", order_no);
    struct payment_notice notice = {
        .provider = payment.provider,
        .order_no = order_no,
        .trade_no = query.trade_no[0] ? query.trade_no : closed_trade,
        .amount = query.amount,
        .success = query.state == PAYMENT_QUERY_PAID,
        .status_word = query.status_word[0] ? query.status_word : "QUERY",
        .raw = query.raw ? query.raw : "",
        .raw_size = query.raw ? query.raw_size : 0,
        .merchant_mismatch = query.merchant_mismatch,
        .paid_at = query.paid_at,
    };
    enum payment_outcome outcome;
    rc = app_payment_apply(app, &outcome, &notice);
    if (rc == 0) {
        stats->found++;
        LOG_INFO("payment found by query", "order_no", order_no, "provider", payment.provider,
                 "outcome", payment_outcome_name(outcome));
    }
    free(query.raw);
    return rc;
}

/* Leases what is due (queries, or refunds), then makes each call outside any transaction. */
static int run_due(struct app *app, struct provider_stats *stats, bool refunds,
                   int (*one)(struct app *app, const char *order_no, struct provider_stats *stats))
{
    memset(stats, 0, sizeof(*stats));
    if (app->gateway == NULL)
        return 0;
    for (int round = 0; round < POLL_ROUNDS_MAX && !atomic_load(&app->stopping); round++) {
        struct lease_job job = {
            .now = app_now(app), .refunds = refunds, .after_s = app->payment_query_after_s};
        int rc = store_write(app->store, lease_in_tx, &job);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < job.count && !atomic_load(&app->stopping); i++) {
            if (job.due[i][0] == '\0')
                continue;
            rc = one(app, job.due[i], stats);
            if (rc < 0)
                return rc;
        }
        if (job.count < POLL_BATCH_MAX)
            break;
    }
    return 0;
}

int app_payments_poll(struct app *app, struct provider_stats *stats)
{
    return run_due(app, stats, false, poll_one);
}

/* ---- refunds ---- */

struct refund_done_job {
    const char *order_no;
    struct payment_refund result;
    int64_t now;
    bool completed;
};

static int refund_done_in_tx(struct store_tx *tx, void *arg)
{
    struct refund_done_job *job = arg;
    struct order_row order;
    struct order_payment_row row;
    int rc = STORE_TX(tx, tx_order_get, &order, job->order_no);
    if (rc == 0)
        rc = STORE_TX(tx, tx_order_payment_get, &row, job->order_no);
    if (rc < 0)
        return rc;
    if (job->result.refund_id[0] != '\0')
        snprintf(row.refund_id, sizeof(row.refund_id), "%s", job->result.refund_id);
    enum order_status next;
    if (job->result.state == PAYMENT_REFUND_DONE &&
        order_transition(&next, order.status, ORDER_EVENT_REFUND_COMPLETED) == 0) {
        struct ledger_posting posting;
        rc = ledger_post_refund_paid(
            &posting, row.refund_amount > 0 ? row.refund_amount : order.quote.pay_amount,
            order.quote.currency, row.provider);
        if (rc == 0)
            rc = STORE_TX(tx, tx_ledger_post, &posting, order.order_no, job->now);
        if (rc < 0)
            return rc;
        order.status = next;
        order.updated_at = job->now;
        rc = STORE_TX(tx, tx_order_update, &order);
        row.next_refund_at = 0;
        row.last_error[0] = '\0';
        job->completed = true;
    } else if (job->result.state == PAYMENT_REFUND_FAILED) {
        /* Refused: retrying cannot mend it. The order stays refunding, for an operator. */
        row.next_refund_at = 0;
        error_text(row.last_error, sizeof(row.last_error), "refund: ", job->result.error);
    } else {
        row.next_refund_at = order_refund_retry_at(row.refund_attempts, job->now);
        error_text(row.last_error, sizeof(row.last_error), "refund: ",
                   job->result.error[0] ? job->result.error : "pending at the provider");
    }
    return rc < 0 ? rc : STORE_TX(tx, tx_order_payment_put, &row);
}

static int refund_one(struct app *app, const char *order_no, struct provider_stats *stats)
{
    struct order_row order;
    struct order_payment_row payment;
    int rc = STORE_CALL(app->store, order_get, &order, order_no);
    if (rc == 0)
        rc = STORE_CALL(app->store, order_payment_get, &payment, order_no);
    if (rc < 0)
        return rc;
    /* One refund number per order: the provider refunds it once however often it is asked. */
    char refund_no[ORDER_NO_SIZE + 2];
    snprintf(refund_no, sizeof(refund_no), "R%s", order_no);
    /* The money goes back the way it came, and as much as came: a review's payment may have
     * come through another provider, or for another amount, than the order asked for. */
    if (payment.refund_amount > 0)
        order.quote.pay_amount = payment.refund_amount;
    enum payment_method method;
    if (payment_method_parse(&method, payment.provider) == 0)
        order.method = method;
    struct refund_done_job job = {.order_no = order_no};
    rc = app->gateway->refund(app, &order, &payment, refund_no, &job.result);
    if (rc < 0) {
        job.result.state = PAYMENT_REFUND_PENDING; /* not reached: try again later */
        snprintf(job.result.error, sizeof(job.result.error), "%s", leb_error_name(rc));
    }
    job.now = app_now(app);
    rc = store_write(app->store, refund_done_in_tx, &job);
    if (rc == 0 && job.completed) {
        stats->refunded++;
        atomic_fetch_add(&app->counters.refunds_completed, 1);
        LOG_INFO("order refunded", "order_no", order_no, "provider", payment.provider);
    } else if (rc == 0 && job.result.state == PAYMENT_REFUND_FAILED) {
        stats->refund_failed++;
        atomic_fetch_add(&app->counters.refunds_refused, 1);
        LOG_ERROR("refund refused", "order_no", order_no, "provider", payment.provider);
    }
    return rc;
}

int app_refunds_run(struct app *app, struct provider_stats *stats)
{
    return run_due(app, stats, true, refund_one);
}
