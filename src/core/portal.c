/*
 * portal.c - one-time codes, their sending and trying, and the cardholder's language.
 *
 * This module owns how often a code may be sent to a number (once a minute, five an hour),
 * how long it lives (five minutes) and how often it may be tried (five times), and never
 * distinguishes a number that holds a card from one that does not: the caller applies the
 * same rules to both. It owns no randomness and no hash: the caller draws the code and keeps
 * only its hash.
 */
#include "core/portal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int portal_code_send(struct portal_challenge *next, const struct portal_challenge *current,
                     int64_t now, int64_t *retry_after_s)
{
    LEB_ASSERT(next != NULL && retry_after_s != NULL);
    struct portal_challenge fresh = {.window_start = now};
    if (current != NULL) {
        fresh.window_start = current->window_start;
        fresh.sends = current->sends;
        /* A clock that went back must not make a number wait for ever. */
        if (now >= current->created_at && now - current->created_at < PORTAL_CODE_RESEND_S) {
            *retry_after_s = PORTAL_CODE_RESEND_S - (now - current->created_at);
            return LEB_E_RATE_LIMITED;
        }
        if (now < fresh.window_start || now - fresh.window_start >= PORTAL_CODE_WINDOW_S) {
            fresh.window_start = now;
            fresh.sends = 0;
        }
        if (fresh.sends >= PORTAL_CODE_SENDS_MAX) {
            *retry_after_s = fresh.window_start + PORTAL_CODE_WINDOW_S - now;
            return LEB_E_RATE_LIMITED;
        }
    }
    fresh.created_at = now;
    fresh.expires_at = now + PORTAL_CODE_TTL_S;
    fresh.tries = 0;
    fresh.sends++;
    *next = fresh;
    *retry_after_s = 0;
    return 0;
}

enum portal_verdict portal_code_check(struct portal_challenge *next,
                                      const struct portal_challenge *current, bool matches,
                                      int64_t now)
{
    LEB_ASSERT(next != NULL);
    if (current == NULL) {
        memset(next, 0, sizeof(*next));
        return PORTAL_EXPIRED;
    }
    *next = *current;
    if (current->tries >= PORTAL_CODE_TRIES_MAX)
        return PORTAL_LOCKED;
    if (now >= current->expires_at || now < current->created_at)
        return PORTAL_EXPIRED;
    if (matches)
        return PORTAL_ACCEPTED;
    next->tries++;
    return next->tries >= PORTAL_CODE_TRIES_MAX ? PORTAL_LOCKED : PORTAL_WRONG;
}

int portal_verdict_error(enum portal_verdict verdict)
{
    switch (verdict) {
    case PORTAL_ACCEPTED:
        return 0;
    case PORTAL_LOCKED:
        return LEB_E_TOO_MANY_ATTEMPTS;
    case PORTAL_WRONG:
    case PORTAL_EXPIRED:
        return LEB_E_INVALID_CODE;
    }
    LEB_ASSERT(!"unknown portal verdict");
    return LEB_E_INTERNAL;
}

bool portal_code_is_valid(const char *code)
{
    if (code == NULL || strnlen(code, PORTAL_CODE_SIZE) != PORTAL_CODE_DIGITS)
        return false;
    for (size_t i = 0; i < PORTAL_CODE_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    return true;
}

void portal_code_format(char out[PORTAL_CODE_SIZE], uint32_t value)
{
    LEB_ASSERT(value < 1000000u);
    snprintf(out, PORTAL_CODE_SIZE, "%06u", (unsigned)value);
}

struct portal_language {
    const char *tag;    /* what a client may send */
    const char *stored; /* what the card keeps */
};

static const struct portal_language portal_languages[] = {
    {"zh-CN", "zh"}, {"zh", "zh"},    {"zh-Hans", "zh"}, {"zh-Hans-CN", "zh"},
    {"en", "en"},    {"en-US", "en"}, {"en-GB", "en"},
};

int portal_language_parse(const char **stored, const char *text)
{
    LEB_ASSERT(stored != NULL);
    if (text == NULL || strnlen(text, PORTAL_LANGUAGE_SIZE * 2) >= PORTAL_LANGUAGE_SIZE * 2)
        return LEB_E_INVALID_REQUEST;
    for (size_t i = 0; i < sizeof(portal_languages) / sizeof(portal_languages[0]); i++) {
        if (strcasecmp(text, portal_languages[i].tag) == 0) {
            *stored = portal_languages[i].stored;
            return 0;
        }
    }
    return LEB_E_INVALID_REQUEST;
}

const char *portal_language_tag(const char *stored)
{
    return stored != NULL && strcmp(stored, "en") == 0 ? "en" : "zh-CN";
}
