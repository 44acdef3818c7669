/*
 * order.h - the recharge order's state machine, as one transition table.
 *
 * Every status change of an order goes through order_transition(): a change the table does
 * not list cannot be written. Money paid is never dropped: a payment confirmed on an order
 * that already expired or failed still moves it to `paid`.
 */
#ifndef LEB_CORE_ORDER_H
#define LEB_CORE_ORDER_H

#include <stdbool.h>

#include "core/error.h"

enum order_status {
    ORDER_PENDING_PAYMENT = 0,
    ORDER_PAID,
    ORDER_SUCCEEDED,
    ORDER_FAILED,
    ORDER_EXPIRED,
    ORDER_REVIEW,
    ORDER_REFUNDING,
    ORDER_REFUNDED,
    ORDER_STATUS_COUNT
};

enum order_event {
    ORDER_EVENT_PAYMENT_CONFIRMED = 0, /* the provider says paid, amount matches */
    ORDER_EVENT_PAYMENT_FAILED,        /* the provider says the payment failed */
    ORDER_EVENT_TTL_ELAPSED,           /* not paid in time */
    ORDER_EVENT_AMOUNT_MISMATCH,       /* paid, but not the amount asked: a human must look */
    ORDER_EVENT_CREDITED,              /* the card received the money */
    ORDER_EVENT_NOT_CREDITABLE,        /* paid, but the card can no longer take it */
    ORDER_EVENT_REVIEW_CREDIT,         /* an operator resolves a review by crediting */
    ORDER_EVENT_REVIEW_REFUND,         /* an operator resolves a review by refunding */
    ORDER_EVENT_REFUND_COMPLETED,      /* the provider confirmed the refund */
    ORDER_EVENT_COUNT
};

/* The status "from" moves to on "event"; LEB_E_ILLEGAL_TRANSITION if the table has no such
 * edge ("*out" untouched then). */
LEB_MUST_CHECK int order_transition(enum order_status *out, enum order_status from,
                                    enum order_event event);

/* "pending_payment", "paid", ...: the contract's names. */
const char *order_status_name(enum order_status status);
LEB_MUST_CHECK int order_status_parse(enum order_status *out, const char *name);
const char *order_event_name(enum order_event event);

/* True for statuses no event leaves: succeeded, refunded. */
bool order_status_is_final(enum order_status status);

#define ORDER_QUERY_GAP_MAX_S 600       /* the longest wait between two queries of one order */
#define ORDER_QUERY_AFTER_EXPIRY_S 3600 /* a late payment is still looked for this long */
#define ORDER_REFUND_GAP_MAX_S 3600

/*
 * When to ask the provider about an order that is not paid yet, "attempts" queries having
 * been made: "after_s" after its creation, then after twice the last wait, at most
 * ORDER_QUERY_GAP_MAX_S apart, until ORDER_QUERY_AFTER_EXPIRY_S after the order expired;
 * 0 after that (no more queries). A lost notification is thus found within minutes, and a
 * late payment on an expired order within the hour.
 */
int64_t order_query_next(int64_t created_at, int64_t expires_at, int64_t attempts, int64_t after_s);

/* When to try a refund again after "attempts" tries, the last at "now": a minute, doubled per
 * try up to ORDER_REFUND_GAP_MAX_S. */
int64_t order_refund_retry_at(int64_t attempts, int64_t now);

#endif
