/*
 * money_test.c - checked arithmetic at the edges of int64, decimal parsing and formatting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/money.h"

/* A value no test expects, to prove that a failing call left "*out" untouched. */
#define UNTOUCHED INT64_C(-7777)

static void test_money__add_adds_within_range(void **state)
{
    int64_t out = 0;

    assert_int_equal(money_add(&out, 5000, 800), LEB_OK);
    assert_int_equal(out, 5800);
    assert_int_equal(money_add(&out, INT64_MAX, INT64_MIN), LEB_OK);
    assert_int_equal(out, -1);
    assert_int_equal(money_add(&out, INT64_MAX - 1, 1), LEB_OK);
    assert_true(out == INT64_MAX);
    assert_int_equal(money_add(&out, INT64_MIN + 1, -1), LEB_OK);
    assert_true(out == INT64_MIN);
}

static void test_money__add_reports_overflow_and_leaves_out_untouched(void **state)
{
    int64_t out = UNTOUCHED;

    assert_int_equal(money_add(&out, INT64_MAX, 1), LEB_E_OVERFLOW);
    assert_int_equal(money_add(&out, INT64_MAX, INT64_MAX), LEB_E_OVERFLOW);
    assert_int_equal(money_add(&out, INT64_MIN, -1), LEB_E_OVERFLOW);
    assert_int_equal(money_add(&out, INT64_MIN, INT64_MIN), LEB_E_OVERFLOW);
    assert_int_equal(out, UNTOUCHED);
}

static void test_money__sub_reports_overflow_at_both_ends(void **state)
{
    int64_t out = UNTOUCHED;

    assert_int_equal(money_sub(&out, INT64_MIN, 1), LEB_E_OVERFLOW);
    assert_int_equal(money_sub(&out, 0, INT64_MIN), LEB_E_OVERFLOW);
    assert_int_equal(money_sub(&out, INT64_MAX, -1), LEB_E_OVERFLOW);
    assert_int_equal(out, UNTOUCHED);
    assert_int_equal(money_sub(&out, -1, INT64_MAX), LEB_OK);
    assert_true(out == INT64_MIN);
    assert_int_equal(money_sub(&out, 10000, 10000), LEB_OK);
    assert_int_equal(out, 0);
    assert_int_equal(money_sub(&out, 100, 250), LEB_OK);
    assert_int_equal(out, -150);
}

static void test_money__mul_reports_overflow_of_products(void **state)
{
    int64_t out = UNTOUCHED;

    assert_int_equal(money_mul(&out, INT64_MAX, 2), LEB_E_OVERFLOW);
    assert_int_equal(money_mul(&out, INT64_MIN, -1), LEB_E_OVERFLOW);
    assert_int_equal(money_mul(&out, INT64_MIN, 2), LEB_E_OVERFLOW);
    assert_int_equal(money_mul(&out, INT64_C(4294967296), INT64_C(4294967296)), LEB_E_OVERFLOW);
    assert_int_equal(out, UNTOUCHED);
    assert_int_equal(money_mul(&out, INT64_MIN, 1), LEB_OK);
    assert_true(out == INT64_MIN);
    assert_int_equal(money_mul(&out, INT64_MAX, -1), LEB_OK);
    assert_true(out == -INT64_MAX);
    assert_int_equal(money_mul(&out, INT64_MIN, 0), LEB_OK);
    assert_int_equal(out, 0);
    assert_int_equal(money_mul(&out, 800, 12), LEB_OK);
    assert_int_equal(out, 9600);
}

static void test_money__sum_of_nothing_is_zero(void **state)
{
    int64_t out = UNTOUCHED;

    assert_int_equal(money_sum(&out, NULL, 0), LEB_OK);
    assert_int_equal(out, 0);
}

static void test_money__sum_adds_every_amount(void **state)
{
    const int64_t amounts[] = {5000, -9700, 200, 4500};
    int64_t out = UNTOUCHED;

    assert_int_equal(money_sum(&out, amounts, 4), LEB_OK);
    assert_int_equal(out, 0);
    assert_int_equal(money_sum(&out, amounts, 1), LEB_OK);
    assert_int_equal(out, 5000);
}

static void
test_money__sum_rejects_a_partial_sum_that_overflows_even_if_the_total_fits(void **state)
{
    const int64_t up_then_down[] = {INT64_MAX, 1, -1};
    const int64_t down_then_up[] = {INT64_MIN, -1, 1};
    const int64_t extremes[] = {INT64_MAX, INT64_MIN, INT64_MAX};
    int64_t out = UNTOUCHED;

    assert_int_equal(money_sum(&out, up_then_down, 3), LEB_E_OVERFLOW);
    assert_int_equal(money_sum(&out, down_then_up, 3), LEB_E_OVERFLOW);
    assert_int_equal(out, UNTOUCHED);
    assert_int_equal(money_sum(&out, extremes, 3), LEB_OK);
    assert_true(out == INT64_MAX - 1);
}

static void
test_money__parse_decimal_accepts_major_units_with_up_to_two_fraction_digits(void **state)
{
    static const struct {
        const char *text;
        int64_t minor;
    } cases[] = {
        {"0", 0},
        {"100", 10000},
        {"100.5", 10050},
        {"100.00", 10000},
        {"0.01", 1},
        {"0.1", 10},
        {"0.10", 10},
        {"12.34", 1234},
        {"007", 700},
        {"92233720368547758.07", INT64_MAX},
        {"92233720368547758", INT64_C(9223372036854775800)},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t out = UNTOUCHED;

        assert_int_equal(money_parse_decimal(&out, cases[i].text), LEB_OK);
        assert_true(out == cases[i].minor);
    }
}

static void test_money__parse_decimal_rejects_everything_but_plain_decimals(void **state)
{
    static const char *const rejects[] = {
        "",    ".",    "1.",   "1.234", "-1",  "+1",   "1e3", " 1",    "1 ",    ".5",
        "1,5", "1.2.", "1..2", "0x10",  "abc", "1.-1", "1.+", "١",     "１",    "1_000",
        "1.a", "1.2a", "\t1",  "NaN",   "inf", "1. 2", "--1", "1.00 ", "1.0\n",
    };

    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        int64_t out = UNTOUCHED;

        assert_int_equal(money_parse_decimal(&out, rejects[i]), LEB_E_INVALID_AMOUNT);
        assert_int_equal(out, UNTOUCHED);
    }
}

static void test_money__parse_decimal_rejects_null(void **state)
{
    int64_t out = UNTOUCHED;

    assert_int_equal(money_parse_decimal(&out, NULL), LEB_E_INVALID_AMOUNT);
    assert_int_equal(out, UNTOUCHED);
}

static void test_money__parse_decimal_reports_overflow_past_int64(void **state)
{
    static const char *const too_large[] = {
        "99999999999999999999",
        "92233720368547758.08",
        "92233720368547759",
        "9223372036854775808",
        "100000000000000000000000000000.00",
    };

    for (size_t i = 0; i < sizeof(too_large) / sizeof(too_large[0]); i++) {
        int64_t out = UNTOUCHED;

        assert_int_equal(money_parse_decimal(&out, too_large[i]), LEB_E_OVERFLOW);
        assert_int_equal(out, UNTOUCHED);
    }
}

static void test_money__parse_decimal_checks_syntax_before_overflow(void **state)
{
    int64_t out = UNTOUCHED;

    assert_int_equal(money_parse_decimal(&out, "99999999999999999999x"), LEB_E_INVALID_AMOUNT);
    assert_int_equal(money_parse_decimal(&out, "99999999999999999999.123"), LEB_E_INVALID_AMOUNT);
}

static void test_money__parse_decimal_rejects_text_longer_than_its_bound(void **state)
{
    char text[200];
    int64_t out = UNTOUCHED;

    /* 64 characters of zeros and a one: within the bound. */
    memset(text, '0', 63);
    text[63] = '1';
    text[64] = '\0';
    assert_int_equal(money_parse_decimal(&out, text), LEB_OK);
    assert_int_equal(out, 100);
    /* One more: refused unread, however harmless. */
    memset(text, '0', 64);
    text[64] = '1';
    text[65] = '\0';
    out = UNTOUCHED;
    assert_int_equal(money_parse_decimal(&out, text), LEB_E_INVALID_AMOUNT);
    assert_int_equal(out, UNTOUCHED);
}

static void test_money__format_writes_two_fraction_digits(void **state)
{
    static const struct {
        int64_t minor;
        const char *text;
    } cases[] = {
        {0, "0.00"},
        {1, "0.01"},
        {-1, "-0.01"},
        {10, "0.10"},
        {99, "0.99"},
        {100, "1.00"},
        {1234, "12.34"},
        {10050, "100.50"},
        {-10050, "-100.50"},
        {INT64_MAX, "92233720368547758.07"},
        {INT64_MIN, "-92233720368547758.08"},
        {INT64_MIN + 1, "-92233720368547758.07"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[MONEY_FORMAT_MAX];

        money_format(out, cases[i].minor);
        assert_string_equal(out, cases[i].text);
    }
}

static void test_money__format_then_parse_round_trips(void **state)
{
    const int64_t amounts[] = {0,        1, 9, 10, 99, 100, 101, 5000, 123456789, INT64_MAX - 1,
                               INT64_MAX};

    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        char text[MONEY_FORMAT_MAX];
        int64_t back = UNTOUCHED;

        money_format(text, amounts[i]);
        assert_int_equal(money_parse_decimal(&back, text), LEB_OK);
        assert_true(back == amounts[i]);
    }
}

static void test_money__currency_is_three_upper_case_letters(void **state)
{
    assert_true(currency_is_valid("CNY"));
    assert_true(currency_is_valid("USD"));
    assert_true(currency_is_valid("HKD"));
    assert_false(currency_is_valid("cny"));
    assert_false(currency_is_valid("Cny"));
    assert_false(currency_is_valid("CN"));
    assert_false(currency_is_valid("CNYY"));
    assert_false(currency_is_valid("C1Y"));
    assert_false(currency_is_valid("CN "));
    assert_false(currency_is_valid(" CNY"));
    assert_false(currency_is_valid(""));
    assert_false(currency_is_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_money__add_adds_within_range),
        cmocka_unit_test(test_money__add_reports_overflow_and_leaves_out_untouched),
        cmocka_unit_test(test_money__sub_reports_overflow_at_both_ends),
        cmocka_unit_test(test_money__mul_reports_overflow_of_products),
        cmocka_unit_test(test_money__sum_of_nothing_is_zero),
        cmocka_unit_test(test_money__sum_adds_every_amount),
        cmocka_unit_test(
            test_money__sum_rejects_a_partial_sum_that_overflows_even_if_the_total_fits),
        cmocka_unit_test(
            test_money__parse_decimal_accepts_major_units_with_up_to_two_fraction_digits),
        cmocka_unit_test(test_money__parse_decimal_rejects_everything_but_plain_decimals),
        cmocka_unit_test(test_money__parse_decimal_rejects_null),
        cmocka_unit_test(test_money__parse_decimal_reports_overflow_past_int64),
        cmocka_unit_test(test_money__parse_decimal_checks_syntax_before_overflow),
        cmocka_unit_test(test_money__parse_decimal_rejects_text_longer_than_its_bound),
        cmocka_unit_test(test_money__format_writes_two_fraction_digits),
        cmocka_unit_test(test_money__format_then_parse_round_trips),
        cmocka_unit_test(test_money__currency_is_three_upper_case_letters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
