/*
 * payments.c - applying verified payment notifications, exactly once.
 *
 * Exactly once rests on three things written in one transaction: the (provider, trade_no)
 * primary key of the payments table (a trade counts once), the order's state machine (an
 * order is credited once), and the ledger's unique (kind, order_no) (one recharge posting per
 * order). The notification itself is always recorded, whatever came of it, for audit.
 * Signatures are checked before this file is reached (src/pay); it trusts its input.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "app/app.h"
#include "core/cardno.h"
#include "core/ledger.h"
#include "core/money.h"

static const char *const outcome_names[PAYMENT_OUTCOME_COUNT] = {
    [PAYMENT_CREDITED] = "credited",       [PAYMENT_DUPLICATE] = "duplicate",
    [PAYMENT_REVIEW] = "review",           [PAYMENT_FAILED] = "failed",
    [PAYMENT_REFUND_HOLD] = "refund_hold", [PAYMENT_DOUBLE_PAYMENT] = "double_payment",
    [PAYMENT_IGNORED] = "ignored",         [PAYMENT_UNKNOWN_ORDER] = "unknown_order",
};

const char *payment_outcome_name(enum payment_outcome outcome)
{
    LEB_ASSERT(outcome >= 0 && outcome < PAYMENT_OUTCOME_COUNT);
    return outcome_names[outcome];
}

struct apply_job {
    const struct payment_notice *notice;
    int64_t now;
    enum payment_outcome outcome;
};

/* Moves "order" along "event"; a programmer error if the caller did not check legality. */
static void order_step(struct order_row *order, enum order_event event)
{
    enum order_status next;
    LEB_ASSERT(order_transition(&next, order->status, event) == 0);
    order->status = next;
}

static bool order_allows(const struct order_row *order, enum order_event event)
{
    enum order_status next;
    return order_transition(&next, order->status, event) == 0;
}

/* Writes the "recharge succeeded" message to the outbox, in the credit's transaction, so it is
 * sent exactly when the credit is durable and never for a credit that rolled back. */
static int outbox_recharged(struct store_tx *tx, const struct card_row *card,
                            const struct order_row *order, int64_t balance_after, int64_t now)
{
    json_t *payload =
        json_pack("{s:s, s:s, s:I, s:I, s:s}", "template", "recharge_succeeded", "order_no",
                  order->order_no, "amount", (json_int_t)order->quote.face_amount, "balance",
                  (json_int_t)balance_after, "currency", order->quote.currency);
    LEB_ASSERT(payload != NULL);
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    LEB_ASSERT(text != NULL);
    int rc = STORE_TX(tx, tx_outbox_put, "sms", card->msisdn, text, now);
    free(text);
    return rc;
}

static int credit(struct store_tx *tx, struct apply_job *job, struct order_row *order)
{
    const struct payment_notice *notice = job->notice;
    struct card_row card;
    int rc = STORE_TX(tx, tx_card_get, &card, order->card_no);
    if (rc < 0)
        return rc;
    struct ledger_posting posting;
    if (card.status == CARD_RECYCLED) {
        /* The number is gone: the money cannot reach it and must go back to the payer. */
        order_step(order, ORDER_EVENT_NOT_CREDITABLE);
        rc = ledger_post_refund_hold(&posting, order->quote.pay_amount, order->quote.currency,
                                     notice->provider);
        if (rc == 0)
            rc = STORE_TX(tx, tx_ledger_post, &posting, order->order_no, job->now);
        job->outcome = PAYMENT_REFUND_HOLD;
        return rc;
    }
    rc = ledger_post_recharge(&posting, &order->quote, card.card_no, notice->provider);
    if (rc == 0)
        rc = STORE_TX(tx, tx_ledger_post, &posting, order->order_no, job->now);
    if (rc < 0)
        return rc;
    int64_t credited = 0, balance_after = 0;
    LEB_ASSERT(money_add(&credited, order->quote.face_amount, order->quote.bonus_amount) == 0);
    rc = money_add(&balance_after, card.balance, credited);
    if (rc < 0)
        return rc;
    enum card_status status_after;
    rc = card_status_after_credit(&status_after, card.status, balance_after);
    if (rc == 0 && status_after != card.status)
        rc = STORE_TX(tx, tx_card_update_status, card.card_no, status_after);
    if (rc < 0)
        return rc;
    order_step(order, ORDER_EVENT_CREDITED);
    order->credited_at = job->now;
    job->outcome = PAYMENT_CREDITED;
    return outbox_recharged(tx, &card, order, balance_after, job->now);
}

static int decide(struct store_tx *tx, struct apply_job *job, struct order_row *order)
{
    const struct payment_notice *notice = job->notice;
    if (!notice->success) {
        if (!order_allows(order, ORDER_EVENT_PAYMENT_FAILED)) {
            job->outcome = PAYMENT_IGNORED; /* a failure after a success is stale */
            return 0;
        }
        order_step(order, ORDER_EVENT_PAYMENT_FAILED);
        job->outcome = PAYMENT_FAILED;
        return 0;
    }
    int rc = STORE_TX(tx, tx_payment_claim, notice->provider, notice->trade_no, order->order_no,
                      notice->amount, job->now);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        job->outcome = PAYMENT_DUPLICATE;
        return 0;
    }
    if (notice->amount != order->quote.pay_amount) {
        if (order_allows(order, ORDER_EVENT_AMOUNT_MISMATCH)) {
            order_step(order, ORDER_EVENT_AMOUNT_MISMATCH);
            snprintf(order->trade_no, sizeof(order->trade_no), "%s", notice->trade_no);
            job->outcome = PAYMENT_REVIEW;
        } else {
            job->outcome = PAYMENT_DOUBLE_PAYMENT;
        }
        return 0;
    }
    if (!order_allows(order, ORDER_EVENT_PAYMENT_CONFIRMED)) {
        /* Another trade already paid this order: the second payment is money we must give
         * back, which reconciliation finds through the payments table. */
        job->outcome = PAYMENT_DOUBLE_PAYMENT;
        return 0;
    }
    order_step(order, ORDER_EVENT_PAYMENT_CONFIRMED);
    snprintf(order->trade_no, sizeof(order->trade_no), "%s", notice->trade_no);
    order->paid_at = job->now;
    return credit(tx, job, order);
}

static int apply_in_tx(struct store_tx *tx, void *arg)
{
    struct apply_job *job = arg;
    const struct payment_notice *notice = job->notice;
    struct order_row order;
    int rc = STORE_TX(tx, tx_order_get, &order, notice->order_no);
    if (rc == LEB_E_ORDER_NOT_FOUND) {
        job->outcome = PAYMENT_UNKNOWN_ORDER;
    } else if (rc < 0) {
        return rc;
    } else {
        enum order_status before = order.status;
        rc = decide(tx, job, &order);
        if (rc < 0)
            return rc;
        if (order.status != before) {
            order.updated_at = job->now;
            rc = STORE_TX(tx, tx_order_update, &order);
            if (rc < 0)
                return rc;
        }
    }
    struct notification_row row = {.amount = notice->amount,
                                   .status = notice->status_word,
                                   .outcome = payment_outcome_name(job->outcome),
                                   .raw = notice->raw,
                                   .raw_size = notice->raw_size,
                                   .received_at = job->now};
    snprintf(row.provider, sizeof(row.provider), "%s", notice->provider);
    snprintf(row.order_no, sizeof(row.order_no), "%s", notice->order_no);
    snprintf(row.trade_no, sizeof(row.trade_no), "%s", notice->trade_no);
    return STORE_TX(tx, tx_notification_insert, &row);
}

int app_payment_apply(struct app *app, enum payment_outcome *outcome,
                      const struct payment_notice *notice)
{
    LEB_ASSERT(notice->provider && notice->order_no && notice->trade_no);
    if (strlen(notice->order_no) >= ORDER_NO_SIZE || strlen(notice->trade_no) >= TRADE_NO_SIZE ||
        notice->trade_no[0] == '\0' || notice->order_no[0] == '\0')
        return LEB_E_INVALID_REQUEST;
    struct apply_job job = {.notice = notice, .now = app_now(app)};
    int rc = store_write(app->store, apply_in_tx, &job);
    if (rc < 0)
        return rc;
    *outcome = job.outcome;
    atomic_fetch_add(&app->counters.notifications[job.outcome], 1);
    if (job.outcome == PAYMENT_CREDITED)
        atomic_fetch_add(&app->counters.payments_credited, 1);
    return 0;
}
