/*
 * alipay.h - the pure pieces of Alipay's open-API wire format (alipay.c is the provider):
 * form bodies, the text Alipay signs, yuan amounts, Beijing time stamps and the signed span of
 * a JSON answer. No I/O, no clock, no keys: each is a function of its arguments, so that the
 * unit tests pin the format byte for byte.
 */
#ifndef LEB_PAY_ALIPAY_H
#define LEB_PAY_ALIPAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* A notification carries some thirty parameters; anything past this is not Alipay's. */
#define ALIPAY_PARAMS_MAX 64
/* "2026-11-25 22:00:00" and a NUL. */
#define ALIPAY_TIME_SIZE 20

struct alipay_param {
    char *name;  /* malloc'd, decoded */
    char *value; /* malloc'd, decoded; may be "" */
};

/* Parameters by name, each name once, in the order they came. */
struct alipay_params {
    struct alipay_param items[ALIPAY_PARAMS_MAX];
    size_t count;
};

/*
 * Decodes the application/x-www-form-urlencoded "body" ("size" bytes) into "out" (which it
 * empties first): "name=value" pairs joined by '&', '+' a space, "%XX" a byte. Empty pairs
 * ("&&") are skipped. LEB_E_INVALID_REQUEST for a pair without '=' or without a name, a bad
 * escape, a decoded NUL, a name given twice, or more than ALIPAY_PARAMS_MAX pairs; "out" is
 * then empty. Free "out" with alipay_params_free() either way.
 */
LEB_MUST_CHECK int alipay_form_decode(struct alipay_params *out, const char *body, size_t size);

/* Appends a copy of "name" and "value"; LEB_E_INVALID_REQUEST if "name" is there already or
 * there is no room. */
LEB_MUST_CHECK int alipay_params_add(struct alipay_params *params, const char *name,
                                     const char *value);

/* The value of "name", or NULL. */
const char *alipay_params_get(const struct alipay_params *params, const char *name);

/* Frees the names and values and empties "params"; NULL is fine. */
void alipay_params_free(struct alipay_params *params);

/*
 * The text a signature covers, malloc'd: every parameter with a non-empty value except "sign"
 * (and "sign_type" too when "without_sign_type": Alipay's notifications), sorted by name
 * byte by byte, written "name=value" with the values as they are (not escaped), joined by
 * '&'. A request is signed over it with "sign_type" included; a notification is checked over
 * it without.
 */
char *alipay_sign_content(const struct alipay_params *params, bool without_sign_type);

/* "params" as an application/x-www-form-urlencoded body, malloc'd: every byte but
 * [A-Za-z0-9-._~] escaped as %XX, a space as '+'. */
char *alipay_form_encode(const struct alipay_params *params);

/*
 * Parses a yuan amount as Alipay writes it ("12.34", "12.3", "12") into fen, exactly: digits,
 * then at most one '.' and one or two digits. No sign, exponent, space or third decimal.
 * LEB_E_INVALID_REQUEST for anything else, or for 0 or more than 2^53 fen.
 */
LEB_MUST_CHECK int alipay_amount_parse(int64_t *out, const char *text);

/* "unix_s" as Alipay's "yyyy-MM-dd HH:mm:ss" in Beijing time (UTC+8, no daylight saving). */
void alipay_time_format(char out[ALIPAY_TIME_SIZE], int64_t unix_s);
/* The reverse: Unix seconds of a "yyyy-MM-dd HH:mm:ss" Beijing time; LEB_E_INVALID_REQUEST for
 * anything else. */
LEB_MUST_CHECK int alipay_time_parse(int64_t *out, const char *text);

/* Alipay resends a notification for about 25 hours (4m, 10m, 10m, 1h, 2h, 6h, 15h): one
 * signed longer ago than this, or from the future, is a replay, not a resend. */
#define ALIPAY_NOTIFY_AGE_MAX_S (26 * 3600)
#define ALIPAY_NOTIFY_SKEW_MAX_S 300

/*
 * Finds the member "name" of the top-level JSON object "body" and gives its value's exact
 * bytes as they appear ("*start", "*size"): what Alipay signs in an answer. Strings and
 * nesting are followed, not parsed. LEB_E_NOT_FOUND if the object has no such member,
 * LEB_E_INVALID_JSON if "body" is not an object or has "name" twice.
 */
LEB_MUST_CHECK int alipay_json_member_span(const char **start, size_t *size, const char *body,
                                           size_t body_size, const char *name);

#endif
