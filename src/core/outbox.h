/*
 * outbox.h - the delivery rules of the outbox: what a failed attempt leads to, and when the
 * next one is due. Pure: the dispatcher reads the clock and the network, this decides.
 */
#ifndef LEB_CORE_OUTBOX_H
#define LEB_CORE_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"

#define OUTBOX_BACKOFF_MAX_S 3600

enum outbox_status { OUTBOX_PENDING = 0, OUTBOX_DELIVERED, OUTBOX_DEAD, OUTBOX_STATUS_COUNT };

const char *outbox_status_name(enum outbox_status status);
LEB_MUST_CHECK int outbox_status_parse(enum outbox_status *out, const char *name);

struct outbox_attempt {
    enum outbox_status status;
    int64_t attempts;        /* attempts made, this one included */
    int64_t next_attempt_at; /* when to try again (pending only) */
};

/*
 * The state after an attempt made at "now", the "attempts_before" + 1-th: delivered if it
 * "succeeded"; else pending again after min(backoff_s * 2^(attempts - 1), OUTBOX_BACKOFF_MAX_S)
 * seconds, or dead once "attempts_max" attempts have failed. LEB_E_INVALID_REQUEST for
 * attempts_before < 0, attempts_max < 1 or backoff_s < 1.
 */
LEB_MUST_CHECK int outbox_after_attempt(struct outbox_attempt *out, int64_t attempts_before,
                                        bool succeeded, int64_t now, int64_t attempts_max,
                                        int64_t backoff_s);

/* A dead message an operator sends again: pending, no attempts, due at "now". Only a dead
 * message may be resent: LEB_E_ILLEGAL_TRANSITION otherwise. */
LEB_MUST_CHECK int outbox_resend(struct outbox_attempt *out, enum outbox_status status,
                                 int64_t now);

#endif
