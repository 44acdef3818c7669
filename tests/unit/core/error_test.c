/*
 * error_test.c - every error code's name, HTTP status and message, against the contract.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "core/error.h"

struct expected_error {
    int code;
    const char *name;
    int http_status;
};

/* Written from the contract (API.md, API-ADDITIONS.md, the comments of error.h), not copied
 * from error.c. */
static const struct expected_error expected_errors[] = {
    {LEB_E_INVALID_REQUEST, "invalid_request", 400},
    {LEB_E_INVALID_JSON, "invalid_json", 400},
    {LEB_E_INVALID_CARD_NUMBER, "invalid_card_number", 400},
    {LEB_E_INVALID_PHONE_NUMBER, "invalid_phone_number", 400},
    {LEB_E_INVALID_AMOUNT, "invalid_amount", 400},
    {LEB_E_UNAUTHORIZED, "unauthorized", 401},
    {LEB_E_INVALID_CREDENTIALS, "invalid_credentials", 401},
    {LEB_E_INVALID_SIGNATURE, "invalid_signature", 401},
    {LEB_E_FORBIDDEN, "forbidden", 403},
    {LEB_E_NOT_FOUND, "not_found", 404},
    {LEB_E_CARD_NOT_FOUND, "card_not_found", 404},
    {LEB_E_ORDER_NOT_FOUND, "order_not_found", 404},
    {LEB_E_METHOD_NOT_ALLOWED, "method_not_allowed", 405},
    {LEB_E_IDEMPOTENCY_CONFLICT, "idempotency_conflict", 409},
    {LEB_E_PLAN_EXISTS, "plan_exists", 409},
    {LEB_E_CARD_EXISTS, "card_exists", 409},
    {LEB_E_ILLEGAL_TRANSITION, "illegal_transition", 409},
    {LEB_E_PAYLOAD_TOO_LARGE, "payload_too_large", 413},
    {LEB_E_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415},
    {LEB_E_CARD_NOT_RECHARGEABLE, "card_not_rechargeable", 422},
    {LEB_E_AMOUNT_OUT_OF_RANGE, "amount_out_of_range", 422},
    {LEB_E_AMOUNT_NOT_ALLOWED, "amount_not_allowed", 422},
    {LEB_E_CHANNEL_NOT_ALLOWED, "channel_not_allowed", 422},
    {LEB_E_PAYMENT_METHOD_UNAVAILABLE, "payment_method_unavailable", 422},
    {LEB_E_PLAN_NOT_FOUND, "plan_not_found", 422},
    {LEB_E_INVALID_BATCH, "invalid_batch", 422},
    {LEB_E_OVERFLOW, "amount_overflow", 422},
    {LEB_E_CURRENCY_MISMATCH, "currency_mismatch", 422},
    {LEB_E_RATE_LIMITED, "rate_limited", 429},
    {LEB_E_INTERNAL, "internal", 500},
    {LEB_E_UNAVAILABLE, "unavailable", 503},
    {LEB_E_INVALID_PLAN, "invalid_plan", 400},
    {LEB_E_ORDER_EXISTS, "order_exists", 409},
    {LEB_E_INVALID_CODE, "invalid_code", 401},
    {LEB_E_TOO_MANY_ATTEMPTS, "too_many_attempts", 429},
};
#define EXPECTED_ERRORS_COUNT (sizeof(expected_errors) / sizeof(expected_errors[0]))

static void test_error__every_code_has_its_contract_name_and_status(void **state)
{
    for (size_t i = 0; i < EXPECTED_ERRORS_COUNT; i++) {
        assert_string_equal(leb_error_name(expected_errors[i].code), expected_errors[i].name);
        assert_int_equal(leb_error_http_status(expected_errors[i].code),
                         expected_errors[i].http_status);
    }
}

static void test_error__the_expected_table_covers_every_code(void **state)
{
    /* If a code is added to error.h, this test must learn its name and status too. */
    assert_int_equal(EXPECTED_ERRORS_COUNT, (size_t)(-LEB_E_ERROR_COUNT_ - 1));
    for (int code = -1; code > LEB_E_ERROR_COUNT_; code--) {
        bool found = false;
        for (size_t i = 0; i < EXPECTED_ERRORS_COUNT; i++) {
            found = found || expected_errors[i].code == code;
        }
        assert_true(found);
    }
}

static void test_error__every_code_has_a_message_ending_in_a_full_stop(void **state)
{
    for (int code = 0; code > LEB_E_ERROR_COUNT_; code--) {
        const char *message = leb_error_message(code);
        size_t length = strlen(message);

        assert_non_null(message);
        assert_true(length > 1);
        assert_int_equal(message[length - 1], '.');
    }
}

static void test_error__names_are_unique_snake_case(void **state)
{
    for (int code = 0; code > LEB_E_ERROR_COUNT_; code--) {
        const char *name = leb_error_name(code);

        assert_true(strlen(name) > 0);
        for (const char *c = name; *c != '\0'; c++) {
            assert_true((*c >= 'a' && *c <= 'z') || *c == '_');
        }
        for (int other = code - 1; other > LEB_E_ERROR_COUNT_; other--) {
            assert_string_not_equal(name, leb_error_name(other));
        }
    }
}

static void test_error__success_is_named_ok_with_status_200(void **state)
{
    assert_string_equal(leb_error_name(LEB_OK), "ok");
    assert_int_equal(leb_error_http_status(LEB_OK), 200);
}

static void test_error__unknown_codes_are_internal_errors(void **state)
{
    const int unknown[] = {1,       42,     LEB_E_ERROR_COUNT_, LEB_E_ERROR_COUNT_ - 1, -1000,
                           INT_MIN, INT_MAX};

    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_string_equal(leb_error_name(unknown[i]), "internal");
        assert_int_equal(leb_error_http_status(unknown[i]), 500);
        assert_string_equal(leb_error_message(unknown[i]), leb_error_message(LEB_E_INTERNAL));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error__every_code_has_its_contract_name_and_status),
        cmocka_unit_test(test_error__the_expected_table_covers_every_code),
        cmocka_unit_test(test_error__every_code_has_a_message_ending_in_a_full_stop),
        cmocka_unit_test(test_error__names_are_unique_snake_case),
        cmocka_unit_test(test_error__success_is_named_ok_with_status_200),
        cmocka_unit_test(test_error__unknown_codes_are_internal_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
