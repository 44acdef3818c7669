/*
 * error.h - the one error convention of LEB.
 *
 * A function that can fail returns 0 or a negative `enum leb_error`. Each code has a stable
 * snake_case name and an HTTP status: both are part of the API contract (../shared/API.md),
 * so a code is never renamed or renumbered, only added. Programmer errors are not codes: they
 * are assertions (LEB_ASSERT) that abort in release builds too.
 */
#ifndef LEB_CORE_ERROR_H
#define LEB_CORE_ERROR_H

#include <stdio.h>
#include <stdlib.h>

#define LEB_MUST_CHECK __attribute__((warn_unused_result))

/* An assertion that stays on in release builds (redis' serverAssert, TigerStyle). */
#define LEB_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr,                                                                        \
                    "{\"level\":\"fatal\",\"msg\":\"assertion failed\",\"assert\":\"%s\","         \
                    "\"file\":\"%s\",\"line\":%d}\n",                                              \
                    #cond, __FILE__, __LINE__);                                                    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum leb_error {
    LEB_OK = 0,
    LEB_E_INVALID_REQUEST = -1,             /* 400 invalid_request: missing field, wrong type */
    LEB_E_INVALID_JSON = -2,                /* 400 invalid_json: the body is not JSON */
    LEB_E_INVALID_CARD_NUMBER = -3,         /* 400 invalid_card_number: length or check digit */
    LEB_E_INVALID_PHONE_NUMBER = -4,        /* 400 invalid_phone_number */
    LEB_E_INVALID_AMOUNT = -5,              /* 400 invalid_amount: not an integer of minor units */
    LEB_E_UNAUTHORIZED = -6,                /* 401 unauthorized: no or bad token */
    LEB_E_INVALID_CREDENTIALS = -7,         /* 401 invalid_credentials */
    LEB_E_INVALID_SIGNATURE = -8,           /* 401 invalid_signature */
    LEB_E_FORBIDDEN = -9,                   /* 403 forbidden */
    LEB_E_NOT_FOUND = -10,                  /* 404 not_found: no such route */
    LEB_E_CARD_NOT_FOUND = -11,             /* 404 card_not_found */
    LEB_E_ORDER_NOT_FOUND = -12,            /* 404 order_not_found */
    LEB_E_METHOD_NOT_ALLOWED = -13,         /* 405 method_not_allowed */
    LEB_E_IDEMPOTENCY_CONFLICT = -14,       /* 409 idempotency_conflict */
    LEB_E_PLAN_EXISTS = -15,                /* 409 plan_exists */
    LEB_E_CARD_EXISTS = -16,                /* 409 card_exists */
    LEB_E_ILLEGAL_TRANSITION = -17,         /* 409 illegal_transition */
    LEB_E_PAYLOAD_TOO_LARGE = -18,          /* 413 payload_too_large */
    LEB_E_UNSUPPORTED_MEDIA_TYPE = -19,     /* 415 unsupported_media_type */
    LEB_E_CARD_NOT_RECHARGEABLE = -20,      /* 422 card_not_rechargeable */
    LEB_E_AMOUNT_OUT_OF_RANGE = -21,        /* 422 amount_out_of_range */
    LEB_E_AMOUNT_NOT_ALLOWED = -22,         /* 422 amount_not_allowed */
    LEB_E_CHANNEL_NOT_ALLOWED = -23,        /* 422 channel_not_allowed */
    LEB_E_PAYMENT_METHOD_UNAVAILABLE = -24, /* 422 payment_method_unavailable */
    LEB_E_PLAN_NOT_FOUND = -25,             /* 422 plan_not_found */
    LEB_E_INVALID_BATCH = -26,              /* 422 invalid_batch */
    LEB_E_OVERFLOW = -27,                   /* 422 amount_overflow: a sum leaves int64 */
    LEB_E_CURRENCY_MISMATCH = -28,          /* 422 currency_mismatch */
    LEB_E_RATE_LIMITED = -29,               /* 429 rate_limited */
    LEB_E_INTERNAL = -30,                   /* 500 internal */
    LEB_E_UNAVAILABLE = -31,                /* 503 unavailable: shutting down, store down */
    LEB_E_INVALID_PLAN = -32,               /* 400 invalid_plan: a plan's fields contradict */
    LEB_E_ORDER_EXISTS = -33,               /* 409 order_exists: an order number was taken */
    LEB_E_INVALID_CODE = -34,               /* 401 invalid_code: a one-time code is wrong or old */
    LEB_E_TOO_MANY_ATTEMPTS = -35,          /* 429 too_many_attempts: a code's tries are used */
    LEB_E_ERROR_COUNT_ = -36                /* one past the last code; not a code */
};

/* The stable snake_case name of "code" ("invalid_card_number"); "internal" for unknown. */
const char *leb_error_name(int code);

/* The HTTP status of "code" (400, 404, ...); 500 for an unknown code. */
int leb_error_http_status(int code);

/* A default human message for "code", in English. */
const char *leb_error_message(int code);

#endif
