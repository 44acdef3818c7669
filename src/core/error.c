/*
 * error.c - the table behind LEB's one error convention.
 *
 * This module owns the mapping of every `enum leb_error` code to its stable snake_case name,
 * its HTTP status and a default English message. The names and statuses are part of the API
 * contract: a row is never changed, only added (together with its code in error.h).
 *
 * It must never format, log or allocate: it hands out pointers to constant strings, so that
 * the HTTP layer can answer an error even when everything else has gone wrong.
 */
#include "core/error.h"

#include <stddef.h>

struct leb_error_info {
    const char *name;
    int http_status;
    const char *message;
};

/* Indexed by the negated code, so that a lookup is one bounds check and one load. */
static const struct leb_error_info leb_error_table[] = {
    [-LEB_OK] = {"ok", 200, "OK."},
    [-LEB_E_INVALID_REQUEST] = {"invalid_request", 400,
                                "The request is missing a field or has a field of the wrong type."},
    [-LEB_E_INVALID_JSON] = {"invalid_json", 400, "The body is not a JSON object."},
    [-LEB_E_INVALID_CARD_NUMBER] = {"invalid_card_number", 400,
                                    "The card number has a bad length or check digit."},
    [-LEB_E_INVALID_PHONE_NUMBER] = {"invalid_phone_number", 400,
                                     "The phone number is not a valid mobile or E.164 number."},
    [-LEB_E_INVALID_AMOUNT] = {"invalid_amount", 400,
                               "The amount is not an integer number of minor units."},
    [-LEB_E_UNAUTHORIZED] = {"unauthorized", 401, "Authentication is required."},
    [-LEB_E_INVALID_CREDENTIALS] = {"invalid_credentials", 401,
                                    "The user name or password is wrong."},
    [-LEB_E_INVALID_SIGNATURE] = {"invalid_signature", 401,
                                  "The notification's signature does not verify."},
    [-LEB_E_FORBIDDEN] = {"forbidden", 403, "This role may not do that."},
    [-LEB_E_NOT_FOUND] = {"not_found", 404, "No such route."},
    [-LEB_E_CARD_NOT_FOUND] = {"card_not_found", 404, "No card has this number."},
    [-LEB_E_ORDER_NOT_FOUND] = {"order_not_found", 404, "No order has this number."},
    [-LEB_E_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405,
                                   "The route exists but not with this method."},
    [-LEB_E_IDEMPOTENCY_CONFLICT] = {"idempotency_conflict", 409,
                                     "This idempotency key was used with another body."},
    [-LEB_E_PLAN_EXISTS] = {"plan_exists", 409, "A plan with this code exists."},
    [-LEB_E_CARD_EXISTS] = {"card_exists", 409, "A card with this number exists."},
    [-LEB_E_ILLEGAL_TRANSITION] = {"illegal_transition", 409,
                                   "The order cannot move to that status from its current one."},
    [-LEB_E_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413, "The body is too large."},
    [-LEB_E_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415,
                                       "The body must be application/json."},
    [-LEB_E_CARD_NOT_RECHARGEABLE] = {"card_not_rechargeable", 422,
                                      "This card cannot be recharged."},
    [-LEB_E_AMOUNT_OUT_OF_RANGE] = {"amount_out_of_range", 422,
                                    "The amount is outside the plan's limits."},
    [-LEB_E_AMOUNT_NOT_ALLOWED] = {"amount_not_allowed", 422,
                                   "The amount is neither a denomination nor a whole step."},
    [-LEB_E_CHANNEL_NOT_ALLOWED] = {"channel_not_allowed", 422,
                                    "This channel or payment method is not open to the caller."},
    [-LEB_E_PAYMENT_METHOD_UNAVAILABLE] = {"payment_method_unavailable", 422,
                                           "This payment method is not configured."},
    [-LEB_E_PLAN_NOT_FOUND] = {"plan_not_found", 422, "No plan has this code."},
    [-LEB_E_INVALID_BATCH] = {"invalid_batch", 422,
                              "The batch has a bad row; nothing was written."},
    [-LEB_E_OVERFLOW] = {"amount_overflow", 422, "A sum of amounts is too large."},
    [-LEB_E_CURRENCY_MISMATCH] = {"currency_mismatch", 422, "The currencies do not match."},
    [-LEB_E_RATE_LIMITED] = {"rate_limited", 429, "Too many requests; try again later."},
    [-LEB_E_INTERNAL] = {"internal", 500, "Internal error."},
    [-LEB_E_UNAVAILABLE] = {"unavailable", 503, "The service is unavailable; try again later."},
    [-LEB_E_INVALID_PLAN] = {"invalid_plan", 400, "The plan's fields contradict each other."},
    [-LEB_E_ORDER_EXISTS] = {"order_exists", 409, "That order number is taken."},
    [-LEB_E_INVALID_CODE] = {"invalid_code", 401,
                             "The code is wrong or has expired; request a new one."},
    [-LEB_E_TOO_MANY_ATTEMPTS] = {"too_many_attempts", 429,
                                  "Too many wrong codes; request a new one."},
};

/* A code added to error.h without a row here fails the build, not a request. */
_Static_assert(sizeof(leb_error_table) / sizeof(leb_error_table[0]) == -LEB_E_ERROR_COUNT_,
               "every leb_error code needs a row in leb_error_table");

/* The row of "code", or the row of LEB_E_INTERNAL for anything that is not a known code:
 * an unknown code is answered as an internal error rather than trusted. */
static const struct leb_error_info *leb_error_info_of(int code)
{
    if (code > 0 || code <= LEB_E_ERROR_COUNT_ || leb_error_table[-code].name == NULL) {
        return &leb_error_table[-LEB_E_INTERNAL];
    }
    return &leb_error_table[-code];
}

const char *leb_error_name(int code)
{
    return leb_error_info_of(code)->name;
}

int leb_error_http_status(int code)
{
    return leb_error_info_of(code)->http_status;
}

const char *leb_error_message(int code)
{
    return leb_error_info_of(code)->message;
}
