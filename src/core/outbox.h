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

/*
 * Where an SMS has got to after the gateway took it, from the gateway's delivery reports
 * (Kannel's dlr-url "%d": 1 delivered to the phone, 2 not delivered to the phone, 4 queued
 * at the SMS centre, 8 accepted by the SMS centre, 16 rejected by the SMS centre).
 */
enum sms_delivery {
    SMS_DELIVERY_NONE = 0,    /* no report yet */
    SMS_DELIVERY_QUEUED,      /* 4 */
    SMS_DELIVERY_ACCEPTED,    /* 8 */
    SMS_DELIVERY_DELIVERED,   /* 1: final */
    SMS_DELIVERY_UNDELIVERED, /* 2: final */
    SMS_DELIVERY_REJECTED,    /* 16: final */
    SMS_DELIVERY_COUNT
};

/* "" for none, then "queued", "accepted", "delivered", "undelivered", "rejected". */
const char *sms_delivery_name(enum sms_delivery delivery);
LEB_MUST_CHECK int sms_delivery_parse(enum sms_delivery *out, const char *name);

/* The report a Kannel DLR type stands for: exactly one of 1, 2, 4, 8, 16, else
 * LEB_E_INVALID_REQUEST. */
LEB_MUST_CHECK int sms_delivery_of_dlr(enum sms_delivery *out, int64_t dlr_type);

/* What a message's state becomes when "report" arrives in state "current": reports arrive out
 * of order (an SMS centre's "accepted" after the phone's "delivered"), so a state never goes
 * back, and the first final report stands. */
enum sms_delivery sms_delivery_merge(enum sms_delivery current, enum sms_delivery report);

#endif
