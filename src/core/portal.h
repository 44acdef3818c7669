/*
 * portal.h - the cardholder's self-service rules: one-time login codes sent by SMS, how often
 * they may be sent and tried, the sessions they open, actions confirmed by SMS, and the
 * languages a cardholder may choose.
 */
#ifndef LEB_CORE_PORTAL_H
#define LEB_CORE_PORTAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/sms.h"

#define PORTAL_CODE_DIGITS 6
#define PORTAL_CODE_SIZE (PORTAL_CODE_DIGITS + 1)
#define PORTAL_CODE_TTL_S SMS_LOGIN_CODE_TTL_S /* a code lives five minutes, as its SMS says */
#define PORTAL_CODE_TRIES_MAX 5                /* then it is burnt, right or wrong */
#define PORTAL_CODE_RESEND_S 60                /* no second code to a number within a minute */
#define PORTAL_CODE_SENDS_MAX 5                /* codes to one number in one window */
#define PORTAL_CODE_WINDOW_S 3600              /* ... of an hour */
#define PORTAL_SESSION_TTL_S 1800              /* a portal session lives half an hour */

/* A one-time code's life, as the store keeps it per phone number and purpose. The code itself
 * is kept only as a hash, out of this module's sight. */
struct portal_challenge {
    int64_t created_at;   /* when the current code was sent */
    int64_t expires_at;   /* when it stops working */
    int64_t tries;        /* wrong answers given to it */
    int64_t window_start; /* when the current counting window of sends began */
    int64_t sends;        /* codes sent in that window */
};

/*
 * Whether a new code may be sent at "now", given the number's "current" challenge (NULL if it
 * never had one). 0 with "*next" the challenge of the new code (its tries reset, this send
 * counted), or LEB_E_RATE_LIMITED with "*retry_after_s" the seconds until one may be sent.
 * The same rule holds for numbers that hold no card, so that its answer never tells them
 * apart.
 */
LEB_MUST_CHECK int portal_code_send(struct portal_challenge *next,
                                    const struct portal_challenge *current, int64_t now,
                                    int64_t *retry_after_s);

enum portal_verdict {
    PORTAL_ACCEPTED = 0, /* the code is right and fresh: open the session, forget the code */
    PORTAL_WRONG,        /* wrong: one try used */
    PORTAL_EXPIRED,      /* too old, or none was sent */
    PORTAL_LOCKED,       /* every try is used: only a new code helps */
};

/* Judges an answer ("matches": it equals the code) to "current" (NULL: no code was sent) at
 * "now"; "*next" is the challenge to keep (tries counted). A locked code stays locked even
 * when the right code comes after the last wrong one. */
enum portal_verdict portal_code_check(struct portal_challenge *next,
                                      const struct portal_challenge *current, bool matches,
                                      int64_t now);

/* The error an answer's verdict is given as: 0, LEB_E_INVALID_CODE or LEB_E_TOO_MANY_ATTEMPTS. */
int portal_verdict_error(enum portal_verdict verdict);

/* True if "code" is exactly PORTAL_CODE_DIGITS ASCII digits. */
bool portal_code_is_valid(const char *code);

/* Formats "value" (below 10^6) as the zero-padded code. */
void portal_code_format(char out[PORTAL_CODE_SIZE], uint32_t value);

#define PORTAL_LANGUAGE_SIZE 8

/*
 * Parses a language a cardholder chose: "zh-CN" (also "zh", "zh-Hans", any case) or "en"
 * (also "en-US", "en-GB"). "*stored" is what the card keeps ("zh" or "en"); LEB_E_INVALID_REQUEST
 * for anything else.
 */
LEB_MUST_CHECK int portal_language_parse(const char **stored, const char *text);

/* The BCP 47 tag shown for a stored language: "zh-CN" or "en". */
const char *portal_language_tag(const char *stored);

#endif
