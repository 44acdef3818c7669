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
#include "core/timeutil.h"

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
    bool unusable; /* numbers that cannot be ours: recorded, nothing looked up */
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

/* The "recharge succeeded" SMS, written in the credit's transaction, so it is sent exactly
 * when the credit is durable and never for a credit that rolled back. */
static int outbox_recharged(struct store_tx *tx, const struct card_row *card,
                            const struct order_row *order, int64_t now)
{
    char valid_until[RFC3339_SIZE] = "";
    if (card->valid_until != 0)
        time_format_rfc3339(valid_until, card->valid_until);
    json_t *fields = json_pack("{s:s, s:I, s:I, s:s}", "order_no", order->order_no, "amount",
                               (json_int_t)order->quote.face_amount, "balance",
                               (json_int_t)card->balance, "currency", order->quote.currency);
    LEB_ASSERT(fields != NULL);
    json_object_set_new(fields, "valid_until",
                        card->valid_until ? json_string(valid_until) : json_null());
    return app_outbox_sms(tx, card, "recharge_succeeded", fields, now);
}

static bool card_lifecycle_changed(const struct card_row *a, const struct card_row *b)
{
    return a->status != b->status || a->arrears != b->arrears ||
           a->next_billing_at != b->next_billing_at || a->valid_until != b->valid_until ||
           a->suspended_at != b->suspended_at || a->reminded_for != b->reminded_for ||
           a->warned_for != b->warned_for || a->due_at != b->due_at;
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
        if (rc == 0)
            rc = app_refund_schedule(tx, order, job->now);
        job->outcome = PAYMENT_REFUND_HOLD;
        return rc;
    }
    /* The lifecycle decides what the credit does to the card: arrears first, then validity,
     * then reactivation, all in this transaction with the credit itself. */
    struct plan plan;
    rc = STORE_TX(tx, tx_plan_get, &plan, card.plan_code);
    if (rc < 0)
        return rc;
    int64_t credited = 0;
    LEB_ASSERT(money_add(&credited, order->quote.face_amount, order->quote.bonus_amount) == 0);
    struct card_state state;
    struct lifecycle_credit applied;
    app_card_state(&state, &card);
    rc = lifecycle_apply_credit(&applied, &state, &plan, credited, job->now);
    if (rc < 0)
        return rc;
    rc = ledger_post_recharge(&posting, &order->quote, card.card_no, notice->provider);
    if (rc == 0)
        rc = STORE_TX(tx, tx_ledger_post, &posting, order->order_no, job->now);
    if (rc == 0 && applied.arrears_paid > 0) {
        rc = ledger_post_monthly_fee(&posting, card.card_no, applied.arrears_paid, card.currency);
        if (rc == 0)
            rc = STORE_TX(tx, tx_ledger_post, &posting, order->order_no, job->now);
    }
    if (rc < 0)
        return rc;
    struct card_row before = card;
    app_card_state_store(&card, &applied.after, &plan, job->now);
    /* Most credits change only the balance, which lives in the ledger: the card's row is
     * rewritten only when its lifecycle moved, which keeps the hot path to the rows it must
     * touch. */
    if (card_lifecycle_changed(&before, &card))
        rc = STORE_TX(tx, tx_card_update_lifecycle, &card);
    /* A credit changes what auto-renewal must do (a card back from suspension has a new
     * cycle): have it look at the card on its next run. */
    struct autorenew_row renewal;
    if (rc == 0 && STORE_TX(tx, tx_autorenew_get, &renewal, card.card_no) == 0 && renewal.enabled &&
        renewal.next_check_at > job->now) {
        renewal.next_check_at = job->now;
        rc = STORE_TX(tx, tx_autorenew_put, &renewal);
    }
    /* In the order they happened: the money arrived, then the card came back. */
    if (rc == 0)
        rc = app_outbox_webhook(tx, &card, "card.recharged", job->now);
    if (rc == 0 && applied.status_before != card.status)
        rc = app_outbox_webhook(tx, &card, "card.reactivated", job->now);
    if (rc < 0)
        return rc;
    order_step(order, ORDER_EVENT_CREDITED);
    order->credited_at = job->now;
    job->outcome = PAYMENT_CREDITED;
    rc = outbox_recharged(tx, &card, order, job->now);
    /* The cardholder reads that the money arrived, then that the number works again. */
    if (rc == 0 && applied.status_before != card.status)
        rc = app_outbox_sms(
            tx, &card, "reactivated",
            json_pack("{s:I, s:s}", "balance", (json_int_t)card.balance, "currency", card.currency),
            job->now);
    return rc;
}

static int decide(struct store_tx *tx, struct apply_job *job, struct order_row *order)
{
    const struct payment_notice *notice = job->notice;
    if (!notice->success) {
        /* Another merchant's failure says nothing of our order. */
        if (notice->merchant_mismatch || !order_allows(order, ORDER_EVENT_PAYMENT_FAILED)) {
            job->outcome = PAYMENT_IGNORED; /* a failure after a success is stale */
            return 0;
        }
        order_step(order, ORDER_EVENT_PAYMENT_FAILED);
        job->outcome = PAYMENT_FAILED;
        return 0;
    }
    int rc = STORE_TX(tx, tx_payment_claim, notice->provider, notice->trade_no, order->order_no,
                      notice->amount, notice->paid_at, job->now);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        job->outcome = PAYMENT_DUPLICATE;
        return 0;
    }
    /* A payment that is not the one this order asked for (another amount, another merchant,
     * another provider) credits nothing: a human decides, and the money is on record. */
    bool provider_differs = strcmp(notice->provider, payment_method_name(order->method)) != 0;
    if (notice->amount != order->quote.pay_amount || notice->merchant_mismatch ||
        provider_differs) {
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
    int rc = job->unusable ? LEB_E_ORDER_NOT_FOUND
                           : STORE_TX(tx, tx_order_get, &order, notice->order_no);
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
    /* A verified notification whose numbers cannot be ours (empty, longer than any we make)
     * is recorded as for an unknown order: refusing it would only make the provider resend
     * it for ever. */
    bool unusable = strlen(notice->order_no) >= ORDER_NO_SIZE ||
                    strlen(notice->trade_no) >= TRADE_NO_SIZE || notice->trade_no[0] == '\0' ||
                    notice->order_no[0] == '\0';
    struct apply_job job = {.notice = notice, .now = app_now(app), .unusable = unusable};
    int rc = store_write(app->store, apply_in_tx, &job);
    if (rc < 0)
        return rc;
    *outcome = job.outcome;
    enum payment_method provider = PAYMENT_SANDBOX;
    if (payment_method_parse(&provider, notice->provider) == 0)
        atomic_fetch_add(&app->counters.notifications[provider][job.outcome], 1);
    if (job.outcome == PAYMENT_CREDITED)
        atomic_fetch_add(&app->counters.payments_credited, 1);
    return 0;
}

/* ---- operators' resolution of an order in review ---- */

struct resolve_job {
    const struct order_resolution *resolution;
    int64_t now;
    struct order_row order;
};

static int resolve_in_tx(struct store_tx *tx, void *arg)
{
    struct resolve_job *job = arg;
    const struct order_resolution *resolution = job->resolution;
    struct order_row *order = &job->order;
    int rc = STORE_TX(tx, tx_order_get, order, resolution->order_no);
    if (rc < 0)
        return rc;
    enum order_event event =
        resolution->credit ? ORDER_EVENT_REVIEW_CREDIT : ORDER_EVENT_REVIEW_REFUND;
    if (!order_allows(order, event))
        return LEB_E_ILLEGAL_TRANSITION;
    /* What was really paid, and through whom: the trade that put the order in review. */
    struct payment_row payment;
    rc = STORE_TX(tx, tx_payment_of_order, &payment, order->order_no, order->trade_no);
    if (rc == LEB_E_NOT_FOUND)
        return LEB_E_ILLEGAL_TRANSITION; /* a review without a payment: nothing to resolve */
    if (rc < 0)
        return rc;
    struct payment_notice notice = {.provider = payment.provider};
    struct apply_job apply = {.notice = &notice, .now = job->now};
    order_step(order, event);
    if (resolution->credit) {
        /* Credited as the order was priced: the difference with what was paid stays visible
         * to reconciliation, and the audit row says who decided it and why. */
        order->paid_at = order->paid_at ? order->paid_at : job->now;
        rc = credit(tx, &apply, order);
    } else {
        struct ledger_posting posting;
        rc = ledger_post_refund_hold(&posting, payment.amount, order->quote.currency,
                                     payment.provider);
        if (rc == 0)
            rc = STORE_TX(tx, tx_ledger_post, &posting, order->order_no, job->now);
        if (rc == 0)
            rc = app_refund_schedule(tx, order, job->now);
        struct order_payment_row row;
        if (rc == 0)
            rc = STORE_TX(tx, tx_order_payment_get, &row, order->order_no);
        if (rc == 0) {
            row.refund_amount = payment.amount; /* what was paid, not the price */
            snprintf(row.provider, sizeof(row.provider), "%s", payment.provider);
            rc = STORE_TX(tx, tx_order_payment_put, &row);
        }
    }
    if (rc < 0)
        return rc;
    order->updated_at = job->now;
    rc = STORE_TX(tx, tx_order_update, order);
    if (rc < 0)
        return rc;
    char details[256];
    snprintf(details, sizeof(details),
             "{\"from\":\"review\",\"to\":\"%s\",\"provider\":\"%s\",\"trade_no\":\"%s\","
             "\"paid_amount\":%lld,\"pay_amount\":%lld}",
             order_status_name(order->status), payment.provider, payment.trade_no,
             (long long)payment.amount, (long long)order->quote.pay_amount);
    struct audit_row audit = {.at = job->now, .details = details};
    snprintf(audit.actor, sizeof(audit.actor), "%s", resolution->actor);
    snprintf(audit.action, sizeof(audit.action), "%s",
             resolution->credit ? "order.credit" : "order.refund");
    snprintf(audit.subject, sizeof(audit.subject), "%s", order->order_no);
    snprintf(audit.reason, sizeof(audit.reason), "%s", resolution->reason);
    return STORE_TX(tx, tx_audit_insert, &audit);
}

int app_order_resolve(struct app *app, struct order_row *out,
                      const struct order_resolution *resolution)
{
    size_t reason_size = strlen(resolution->reason);
    if (reason_size == 0 || reason_size >= sizeof(((struct audit_row *)0)->reason) ||
        strlen(resolution->order_no) >= ORDER_NO_SIZE || resolution->actor[0] == '\0')
        return LEB_E_INVALID_REQUEST;
    struct resolve_job job = {.resolution = resolution, .now = app_now(app)};
    int rc = store_write(app->store, resolve_in_tx, &job);
    if (rc < 0)
        return rc;
    *out = job.order;
    return 0;
}
