/*
 * order.c - the recharge order's state machine.
 *
 * This module owns the one table of legal status changes of an order, and the contract's
 * names of statuses and events. Every status change anywhere in LEB asks order_transition()
 * first, so the table below is the whole truth about what may happen to an order.
 *
 * It must never decide anything the table does not say (no special cases in code), and never
 * drop paid money: every status a payment can still arrive in (pending_payment, expired,
 * failed) has an edge to `paid` and to `review`.
 */
#include "core/order.h"

#include <stddef.h>
#include <string.h>

/* Longest name parsed; anything longer is not a status. */
#define ORDER_NAME_MAX 32

static const char *const order_status_names[ORDER_STATUS_COUNT] = {
    [ORDER_PENDING_PAYMENT] = "pending_payment",
    [ORDER_PAID] = "paid",
    [ORDER_SUCCEEDED] = "succeeded",
    [ORDER_FAILED] = "failed",
    [ORDER_EXPIRED] = "expired",
    [ORDER_REVIEW] = "review",
    [ORDER_REFUNDING] = "refunding",
    [ORDER_REFUNDED] = "refunded",
};

static const char *const order_event_names[ORDER_EVENT_COUNT] = {
    [ORDER_EVENT_PAYMENT_CONFIRMED] = "payment_confirmed",
    [ORDER_EVENT_PAYMENT_FAILED] = "payment_failed",
    [ORDER_EVENT_TTL_ELAPSED] = "ttl_elapsed",
    [ORDER_EVENT_AMOUNT_MISMATCH] = "amount_mismatch",
    [ORDER_EVENT_CREDITED] = "credited",
    [ORDER_EVENT_NOT_CREDITABLE] = "not_creditable",
    [ORDER_EVENT_REVIEW_CREDIT] = "review_credit",
    [ORDER_EVENT_REVIEW_REFUND] = "review_refund",
    [ORDER_EVENT_REFUND_COMPLETED] = "refund_completed",
};

/*
 * The transition table. A cell holds the status the row's status moves to on the column's
 * event, plus one (so that a zero, the default of every cell not written below, means "no
 * such edge"). Reading: a pending order is paid, fails or expires; a payment that arrives on
 * an expired or failed order is still honoured; a paid order is credited, or refunded when the
 * card can no longer take it; a human resolves a review either way.
 */
#define ORDER_EDGE(status) ((unsigned char)((status) + 1))

static const unsigned char order_transitions[ORDER_STATUS_COUNT][ORDER_EVENT_COUNT] = {
    [ORDER_PENDING_PAYMENT] =
        {
            [ORDER_EVENT_PAYMENT_CONFIRMED] = ORDER_EDGE(ORDER_PAID),
            [ORDER_EVENT_PAYMENT_FAILED] = ORDER_EDGE(ORDER_FAILED),
            [ORDER_EVENT_TTL_ELAPSED] = ORDER_EDGE(ORDER_EXPIRED),
            [ORDER_EVENT_AMOUNT_MISMATCH] = ORDER_EDGE(ORDER_REVIEW),
        },
    [ORDER_EXPIRED] =
        {
            [ORDER_EVENT_PAYMENT_CONFIRMED] = ORDER_EDGE(ORDER_PAID),
            [ORDER_EVENT_AMOUNT_MISMATCH] = ORDER_EDGE(ORDER_REVIEW),
        },
    [ORDER_FAILED] =
        {
            [ORDER_EVENT_PAYMENT_CONFIRMED] = ORDER_EDGE(ORDER_PAID),
            [ORDER_EVENT_AMOUNT_MISMATCH] = ORDER_EDGE(ORDER_REVIEW),
        },
    [ORDER_PAID] =
        {
            [ORDER_EVENT_CREDITED] = ORDER_EDGE(ORDER_SUCCEEDED),
            [ORDER_EVENT_NOT_CREDITABLE] = ORDER_EDGE(ORDER_REFUNDING),
        },
    [ORDER_REVIEW] =
        {
            [ORDER_EVENT_REVIEW_CREDIT] = ORDER_EDGE(ORDER_PAID),
            [ORDER_EVENT_REVIEW_REFUND] = ORDER_EDGE(ORDER_REFUNDING),
        },
    [ORDER_REFUNDING] =
        {
            [ORDER_EVENT_REFUND_COMPLETED] = ORDER_EDGE(ORDER_REFUNDED),
        },
    /* succeeded and refunded are final: no row. */
};

static void order_assert_status(enum order_status status)
{
    LEB_ASSERT((int)status >= 0 && status < ORDER_STATUS_COUNT);
}

static void order_assert_event(enum order_event event)
{
    LEB_ASSERT((int)event >= 0 && event < ORDER_EVENT_COUNT);
}

/* A status or event out of its enum is a programmer error, not an illegal transition: the
 * store only holds parsed statuses, and events are constants in code. */
int order_transition(enum order_status *out, enum order_status from, enum order_event event)
{
    unsigned char edge;

    LEB_ASSERT(out != NULL);
    order_assert_status(from);
    order_assert_event(event);
    edge = order_transitions[from][event];
    if (edge == 0) {
        return LEB_E_ILLEGAL_TRANSITION;
    }
    LEB_ASSERT(edge <= ORDER_STATUS_COUNT);
    *out = (enum order_status)(edge - 1);
    return LEB_OK;
}

const char *order_status_name(enum order_status status)
{
    order_assert_status(status);
    return order_status_names[status];
}

/* Parses a status name exactly as the contract spells it (case matters); NULL and anything
 * else are LEB_E_INVALID_REQUEST. */
int order_status_parse(enum order_status *out, const char *name)
{
    LEB_ASSERT(out != NULL);
    if (name == NULL || strnlen(name, ORDER_NAME_MAX + 1) > ORDER_NAME_MAX) {
        return LEB_E_INVALID_REQUEST;
    }
    for (int status = 0; status < ORDER_STATUS_COUNT; status++) {
        if (strcmp(name, order_status_names[status]) == 0) {
            *out = (enum order_status)status;
            return LEB_OK;
        }
    }
    return LEB_E_INVALID_REQUEST;
}

const char *order_event_name(enum order_event event)
{
    order_assert_event(event);
    return order_event_names[event];
}

/* Final means the table's row is empty, so this is derived from the table rather than listed
 * a second time: the two can never disagree. */
bool order_status_is_final(enum order_status status)
{
    order_assert_status(status);
    for (int event = 0; event < ORDER_EVENT_COUNT; event++) {
        if (order_transitions[status][event] != 0) {
            return false;
        }
    }
    return true;
}

/* "base" doubled "times" times, at most "cap", without overflow. */
static int64_t order_doubled(int64_t base, int64_t times, int64_t cap)
{
    int64_t wait = base;
    for (int64_t i = 0; i < times && wait < cap; i++)
        wait *= 2;
    return wait < cap ? wait : cap;
}

int64_t order_query_next(int64_t created_at, int64_t expires_at, int64_t attempts, int64_t after_s)
{
    LEB_ASSERT(attempts >= 0 && after_s > 0);
    /* The n-th query (from 0) comes after_s * (1 + 2 + ... ) later, each gap capped. */
    int64_t at = created_at + after_s;
    for (int64_t i = 1; i <= attempts; i++) {
        at += order_doubled(after_s, i, ORDER_QUERY_GAP_MAX_S);
        if (at > expires_at + ORDER_QUERY_AFTER_EXPIRY_S)
            return 0;
    }
    return at > expires_at + ORDER_QUERY_AFTER_EXPIRY_S ? 0 : at;
}

int64_t order_refund_retry_at(int64_t attempts, int64_t now)
{
    LEB_ASSERT(attempts >= 0);
    return now + order_doubled(60, attempts > 0 ? attempts - 1 : 0, ORDER_REFUND_GAP_MAX_S);
}
