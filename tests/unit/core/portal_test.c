/*
 * portal_test.c - one-time codes: how often they are sent, how long they live, how often they
 * may be tried; and the languages a cardholder may choose.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "core/portal.h"

#define T0 INT64_C(1795000000)

static struct portal_challenge sent_at(int64_t now)
{
    struct portal_challenge next;
    int64_t wait = -1;
    assert_int_equal(portal_code_send(&next, NULL, now, &wait), 0);
    assert_int_equal(wait, 0);
    return next;
}

static void test_portal__a_first_code_lives_five_minutes_untried(void **state)
{
    struct portal_challenge c = sent_at(T0);
    assert_true(c.created_at == T0);
    assert_true(c.expires_at == T0 + 300);
    assert_int_equal(c.tries, 0);
    assert_int_equal(c.sends, 1);
    assert_true(c.window_start == T0);
}

static void test_portal__a_second_code_waits_a_minute(void **state)
{
    struct portal_challenge c = sent_at(T0), next = {0};
    int64_t wait = 0;
    assert_int_equal(portal_code_send(&next, &c, T0, &wait), LEB_E_RATE_LIMITED);
    assert_int_equal(wait, 60);
    assert_int_equal(portal_code_send(&next, &c, T0 + 59, &wait), LEB_E_RATE_LIMITED);
    assert_int_equal(wait, 1);
    assert_int_equal(portal_code_send(&next, &c, T0 + 60, &wait), 0);
    assert_int_equal(next.sends, 2);
    assert_int_equal(next.tries, 0);
    assert_true(next.expires_at == T0 + 360);
}

static void test_portal__five_codes_an_hour_then_the_window_must_pass(void **state)
{
    struct portal_challenge c = sent_at(T0), next;
    int64_t wait = 0, now = T0;
    for (int i = 1; i < 5; i++) {
        now += 120;
        assert_int_equal(portal_code_send(&next, &c, now, &wait), 0);
        c = next;
    }
    assert_int_equal(c.sends, 5);
    now += 120;
    assert_int_equal(portal_code_send(&next, &c, now, &wait), LEB_E_RATE_LIMITED);
    assert_true(wait == T0 + 3600 - now);
    assert_int_equal(portal_code_send(&next, &c, T0 + 3599, &wait), LEB_E_RATE_LIMITED);
    assert_int_equal(wait, 1);
    assert_int_equal(portal_code_send(&next, &c, T0 + 3600, &wait), 0);
    assert_int_equal(next.sends, 1);
    assert_true(next.window_start == T0 + 3600);
}

static void test_portal__a_clock_gone_back_never_blocks_for_ever(void **state)
{
    struct portal_challenge c = sent_at(T0), next;
    int64_t wait = 0;
    assert_int_equal(portal_code_send(&next, &c, T0 - 86400, &wait), 0);
    assert_int_equal(next.sends, 1);
}

static void test_portal__the_right_code_is_accepted_in_time(void **state)
{
    struct portal_challenge c = sent_at(T0), next;
    assert_int_equal(portal_code_check(&next, &c, true, T0 + 299), PORTAL_ACCEPTED);
    assert_int_equal(portal_verdict_error(PORTAL_ACCEPTED), 0);
}

static void test_portal__a_code_five_minutes_old_is_expired_even_if_right(void **state)
{
    struct portal_challenge c = sent_at(T0), next;
    assert_int_equal(portal_code_check(&next, &c, true, T0 + 300), PORTAL_EXPIRED);
    assert_int_equal(portal_verdict_error(PORTAL_EXPIRED), LEB_E_INVALID_CODE);
    assert_int_equal(portal_code_check(&next, NULL, true, T0), PORTAL_EXPIRED);
}

static void test_portal__five_wrong_tries_burn_the_code(void **state)
{
    struct portal_challenge c = sent_at(T0), next;
    for (int i = 1; i < 5; i++) {
        assert_int_equal(portal_code_check(&next, &c, false, T0 + i), PORTAL_WRONG);
        assert_int_equal(next.tries, i);
        c = next;
    }
    assert_int_equal(portal_code_check(&next, &c, false, T0 + 5), PORTAL_LOCKED);
    assert_int_equal(next.tries, 5);
    c = next;
    /* The right code after the fifth wrong one opens nothing. */
    assert_int_equal(portal_code_check(&next, &c, true, T0 + 6), PORTAL_LOCKED);
    assert_int_equal(portal_verdict_error(PORTAL_LOCKED), LEB_E_TOO_MANY_ATTEMPTS);
    assert_int_equal(portal_verdict_error(PORTAL_WRONG), LEB_E_INVALID_CODE);
}

static void test_portal__a_new_code_brings_new_tries(void **state)
{
    struct portal_challenge c = sent_at(T0), next;
    c.tries = 5;
    int64_t wait;
    assert_int_equal(portal_code_send(&next, &c, T0 + 60, &wait), 0);
    assert_int_equal(next.tries, 0);
    assert_int_equal(portal_code_check(&c, &next, true, T0 + 61), PORTAL_ACCEPTED);
}

static void test_portal__codes_are_six_ascii_digits(void **state)
{
    assert_true(portal_code_is_valid("000000"));
    assert_true(portal_code_is_valid("123456"));
    const char *bad[] = {NULL,           "",       "12345", "1234567", "12345a", " 12345",
                         "１２３４５６", "12 456", "-12345"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(portal_code_is_valid(bad[i]));
    char out[PORTAL_CODE_SIZE];
    portal_code_format(out, 42);
    assert_string_equal(out, "000042");
    portal_code_format(out, 999999);
    assert_string_equal(out, "999999");
    assert_true(portal_code_is_valid(out));
}

static void test_portal__languages_a_cardholder_may_choose(void **state)
{
    const char *stored = NULL;
    const char *zh[] = {"zh-CN", "zh", "ZH-cn", "zh-Hans"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(portal_language_parse(&stored, zh[i]), 0);
        assert_string_equal(stored, "zh");
    }
    const char *en[] = {"en", "EN", "en-US", "en-gb"};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(portal_language_parse(&stored, en[i]), 0);
        assert_string_equal(stored, "en");
    }
    const char *bad[] = {NULL, "", "fr", "english", "zh-TW", "en-", "zh-CN-very-long-tag-x"};
    stored = "unchanged";
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(portal_language_parse(&stored, bad[i]), LEB_E_INVALID_REQUEST);
    assert_string_equal(stored, "unchanged");
    assert_string_equal(portal_language_tag("zh"), "zh-CN");
    assert_string_equal(portal_language_tag("en"), "en");
    assert_string_equal(portal_language_tag(""), "zh-CN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_portal__a_first_code_lives_five_minutes_untried),
        cmocka_unit_test(test_portal__a_second_code_waits_a_minute),
        cmocka_unit_test(test_portal__five_codes_an_hour_then_the_window_must_pass),
        cmocka_unit_test(test_portal__a_clock_gone_back_never_blocks_for_ever),
        cmocka_unit_test(test_portal__the_right_code_is_accepted_in_time),
        cmocka_unit_test(test_portal__a_code_five_minutes_old_is_expired_even_if_right),
        cmocka_unit_test(test_portal__five_wrong_tries_burn_the_code),
        cmocka_unit_test(test_portal__a_new_code_brings_new_tries),
        cmocka_unit_test(test_portal__codes_are_six_ascii_digits),
        cmocka_unit_test(test_portal__languages_a_cardholder_may_choose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
