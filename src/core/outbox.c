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
