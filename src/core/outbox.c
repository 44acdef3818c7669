/*
 * outbox.c - delivery rules of the outbox: exponential back-off with a ceiling, a bounded
 * number of attempts, then a dead letter an operator can send again. Never reads a clock.
 */
#include <stdbool.h>
#include <string.h>

#include "core/outbox.h"

static const char *const outbox_status_names[OUTBOX_STATUS_COUNT] = {
    [OUTBOX_PENDING] = "pending",
    [OUTBOX_DELIVERED] = "delivered",
    [OUTBOX_DEAD] = "dead",
};

const char *outbox_status_name(enum outbox_status status)
{
    LEB_ASSERT((int)status >= 0 && status < OUTBOX_STATUS_COUNT);
    return outbox_status_names[status];
}

int outbox_status_parse(enum outbox_status *out, const char *name)
{
    LEB_ASSERT(out != NULL);
    for (int i = 0; name != NULL && i < OUTBOX_STATUS_COUNT; i++) {
        if (strcmp(outbox_status_names[i], name) == 0) {
            *out = (enum outbox_status)i;
            return LEB_OK;
        }
    }
    return LEB_E_INVALID_REQUEST;
}

static const char *const sms_delivery_names[SMS_DELIVERY_COUNT] = {
    [SMS_DELIVERY_NONE] = "",
    [SMS_DELIVERY_QUEUED] = "queued",
    [SMS_DELIVERY_ACCEPTED] = "accepted",
    [SMS_DELIVERY_DELIVERED] = "delivered",
    [SMS_DELIVERY_UNDELIVERED] = "undelivered",
    [SMS_DELIVERY_REJECTED] = "rejected",
};

const char *sms_delivery_name(enum sms_delivery delivery)
{
    LEB_ASSERT((int)delivery >= 0 && delivery < SMS_DELIVERY_COUNT);
    return sms_delivery_names[delivery];
}

int sms_delivery_parse(enum sms_delivery *out, const char *name)
{
    LEB_ASSERT(out != NULL);
    for (int i = 0; name != NULL && i < SMS_DELIVERY_COUNT; i++) {
        if (strcmp(sms_delivery_names[i], name) == 0) {
            *out = (enum sms_delivery)i;
            return LEB_OK;
        }
    }
    return LEB_E_INVALID_REQUEST;
}

int sms_delivery_of_dlr(enum sms_delivery *out, int64_t dlr_type)
{
    LEB_ASSERT(out != NULL);
    switch (dlr_type) {
    case 1:
        *out = SMS_DELIVERY_DELIVERED;
        return LEB_OK;
    case 2:
        *out = SMS_DELIVERY_UNDELIVERED;
        return LEB_OK;
    case 4:
        *out = SMS_DELIVERY_QUEUED;
        return LEB_OK;
    case 8:
        *out = SMS_DELIVERY_ACCEPTED;
        return LEB_OK;
    case 16:
        *out = SMS_DELIVERY_REJECTED;
        return LEB_OK;
    default:
        return LEB_E_INVALID_REQUEST;
    }
}

/* None, then on its way, then at the SMS centre, then final. */
static int sms_delivery_rank(enum sms_delivery delivery)
{
    LEB_ASSERT((int)delivery >= 0 && delivery < SMS_DELIVERY_COUNT);
    return delivery >= SMS_DELIVERY_DELIVERED ? 3 : (int)delivery;
}

enum sms_delivery sms_delivery_merge(enum sms_delivery current, enum sms_delivery report)
{
    return sms_delivery_rank(report) > sms_delivery_rank(current) ? report : current;
}

int outbox_after_attempt(struct outbox_attempt *out, int64_t attempts_before, bool succeeded,
                         int64_t now, int64_t attempts_max, int64_t backoff_s)
{
    LEB_ASSERT(out != NULL);
    if (attempts_before < 0 || attempts_max < 1 || backoff_s < 1 || now < 0)
        return LEB_E_INVALID_REQUEST;
    struct outbox_attempt next = {.attempts = attempts_before + 1};
    if (succeeded) {
        next.status = OUTBOX_DELIVERED;
    } else if (next.attempts >= attempts_max) {
        next.status = OUTBOX_DEAD;
    } else {
        /* backoff_s * 2^(attempts - 1), saturating at the ceiling long before it overflows. */
        int64_t wait_s = backoff_s;
        for (int64_t i = 1; i < next.attempts && wait_s < OUTBOX_BACKOFF_MAX_S; i++)
            wait_s *= 2;
        if (wait_s > OUTBOX_BACKOFF_MAX_S)
            wait_s = OUTBOX_BACKOFF_MAX_S;
        next.status = OUTBOX_PENDING;
        if (__builtin_add_overflow(now, wait_s, &next.next_attempt_at))
            return LEB_E_INVALID_REQUEST;
    }
    *out = next;
    return LEB_OK;
}

int outbox_resend(struct outbox_attempt *out, enum outbox_status status, int64_t now)
{
    LEB_ASSERT(out != NULL);
    LEB_ASSERT((int)status >= 0 && status < OUTBOX_STATUS_COUNT);
    if (status != OUTBOX_DEAD)
        return LEB_E_ILLEGAL_TRANSITION;
    *out = (struct outbox_attempt){.status = OUTBOX_PENDING, .attempts = 0, .next_attempt_at = now};
    return LEB_OK;
}
