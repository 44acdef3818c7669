/*
 * timeutil_test.c - civil dates, RFC 3339 text and the billing calendar.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"

#define DAY INT64_C(86400)

/* Unix seconds of a UTC time, through the parser; the parser itself is tested separately
 * against constants computed outside this code. */
static int64_t at(const char *text)
{
    int64_t unix_s = -1;

    assert_int_equal(time_parse_rfc3339(&unix_s, text), LEB_OK);
    return unix_s;
}

static void test_time__days_from_civil_of_known_dates(void **state)
{
    assert_int_equal(time_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(time_days_from_civil(1970, 1, 2), 1);
    assert_int_equal(time_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(time_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(time_days_from_civil(2000, 2, 29), 11016);
    assert_int_equal(time_days_from_civil(0, 3, 1), -719468);
    assert_int_equal(time_days_from_civil(9999, 12, 31), 2932896);
    assert_int_equal(time_days_from_civil(-1, 12, 31), -719529);
}

static void test_time__civil_from_days_of_known_days(void **state)
{
    int64_t year;
    int month;
    int day;

    time_civil_from_days(0, &year, &month, &day);
    assert_true(year == 1970 && month == 1 && day == 1);
    time_civil_from_days(-1, &year, &month, &day);
    assert_true(year == 1969 && month == 12 && day == 31);
    time_civil_from_days(11016, &year, &month, &day);
    assert_true(year == 2000 && month == 2 && day == 29);
    time_civil_from_days(-719468, &year, &month, &day);
    assert_true(year == 0 && month == 3 && day == 1);
    time_civil_from_days(2932896, &year, &month, &day);
    assert_true(year == 9999 && month == 12 && day == 31);
}

static void test_time__civil_dates_round_trip_day_by_day_across_eight_centuries(void **state)
{
    int64_t expected_days = time_days_from_civil(1600, 1, 1);
    int64_t year = 1600;
    int month = 1;
    int day = 1;

    /* Walk every day from 1600 to 2400 by hand, the slow way, and compare. */
    while (year < 2400) {
        int64_t back_year;
        int back_month;
        int back_day;

        assert_true(time_days_from_civil(year, month, day) == expected_days);
        time_civil_from_days(expected_days, &back_year, &back_month, &back_day);
        assert_true(back_year == year && back_month == month && back_day == day);

        expected_days++;
        day++;
        if (day > time_days_in_month(year, month)) {
            day = 1;
            month++;
            if (month > 12) {
                month = 1;
                year++;
            }
        }
    }
}

static void test_time__days_in_month_knows_leap_years(void **state)
{
    assert_int_equal(time_days_in_month(2024, 2), 29);
    assert_int_equal(time_days_in_month(2023, 2), 28);
    assert_int_equal(time_days_in_month(2000, 2), 29);
    assert_int_equal(time_days_in_month(1900, 2), 28);
    assert_int_equal(time_days_in_month(2100, 2), 28);
    assert_int_equal(time_days_in_month(2400, 2), 29);
    assert_int_equal(time_days_in_month(2026, 1), 31);
    assert_int_equal(time_days_in_month(2026, 4), 30);
    assert_int_equal(time_days_in_month(2026, 6), 30);
    assert_int_equal(time_days_in_month(2026, 9), 30);
    assert_int_equal(time_days_in_month(2026, 11), 30);
    assert_int_equal(time_days_in_month(2026, 12), 31);
}

static void test_time__format_writes_utc_rfc3339(void **state)
{
    char out[RFC3339_SIZE];

    time_format_rfc3339(out, 0);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    time_format_rfc3339(out, INT64_C(1795615200));
    assert_string_equal(out, "2026-11-25T14:00:00Z");
    time_format_rfc3339(out, INT64_C(951782400));
    assert_string_equal(out, "2000-02-29T00:00:00Z");
    time_format_rfc3339(out, INT64_C(2147483648));
    assert_string_equal(out, "2038-01-19T03:14:08Z");
    time_format_rfc3339(out, INT64_C(253402300799));
    assert_string_equal(out, "9999-12-31T23:59:59Z");
    time_format_rfc3339(out, 59);
    assert_string_equal(out, "1970-01-01T00:00:59Z");
    time_format_rfc3339(out, DAY - 1);
    assert_string_equal(out, "1970-01-01T23:59:59Z");
}

static void test_time__parse_reads_utc_rfc3339_in_every_accepted_spelling(void **state)
{
    int64_t out = -1;

    assert_int_equal(time_parse_rfc3339(&out, "2026-11-25T14:00:00Z"), LEB_OK);
    assert_true(out == INT64_C(1795615200));
    out = -1;
    assert_int_equal(time_parse_rfc3339(&out, "2026-11-25t14:00:00z"), LEB_OK);
    assert_true(out == INT64_C(1795615200));
    out = -1;
    assert_int_equal(time_parse_rfc3339(&out, "2026-11-25T14:00:00+00:00"), LEB_OK);
    assert_true(out == INT64_C(1795615200));
    assert_int_equal(time_parse_rfc3339(&out, "1970-01-01T00:00:00Z"), LEB_OK);
    assert_true(out == 0);
    assert_int_equal(time_parse_rfc3339(&out, "2024-02-29T00:00:00Z"), LEB_OK);
    assert_true(out == INT64_C(1709164800));
    assert_int_equal(time_parse_rfc3339(&out, "2000-02-29T00:00:00Z"), LEB_OK);
    assert_true(out == INT64_C(951782400));
    assert_int_equal(time_parse_rfc3339(&out, "9999-12-31T23:59:59Z"), LEB_OK);
    assert_true(out == INT64_C(253402300799));
}

static void test_time__parse_rejects_impossible_or_malformed_times(void **state)
{
    static const char *const rejects[] = {
        "2026-02-30T00:00:00Z",      /* no 30 February */
        "2023-02-29T00:00:00Z",      /* not a leap year */
        "1900-02-29T00:00:00Z",      /* not a leap year either */
        "2026-04-31T00:00:00Z",      /* April has 30 days */
        "2026-11-25T24:00:00Z",      /* no hour 24 */
        "2026-11-25T14:60:00Z",      /* no minute 60 */
        "2026-11-25T14:00:60Z",      /* no leap second */
        "2026-13-01T00:00:00Z",      /* no month 13 */
        "2026-00-01T00:00:00Z",      /* no month 0 */
        "2026-11-00T00:00:00Z",      /* no day 0 */
        "2026-11-32T00:00:00Z",      /* no day 32 */
        "2026-11-25T14:00:00Zjunk",  /* trailing junk */
        "2026-11-25T14:00:00Z ",     /* trailing space */
        " 2026-11-25T14:00:00Z",     /* leading space */
        "2026-11-25T14:00:00",       /* no zone */
        "2026-11-25 14:00:00Z",      /* a space for the T */
        "2026-11-25T14:00:00.5Z",    /* fractional seconds */
        "2026-11-25T14:00:00-00:00", /* unknown offset */
        "2026-11-25T14:00:00+01:00", /* not UTC */
        "2026-11-25T14:00:00+00:00x",
        "2026-11-25T14:00:00+0000",
        "2026-11-25",
        "2026-1-25T14:00:00Z",
        "2026/11/25T14:00:00Z",
        "2026-11-25T14-00-00Z",
        "+2026-11-25T14:00:00Z",
        "-026-11-25T14:00:00Z",
        "2026-11-2aT14:00:00Z",
        "1969-12-31T23:59:59Z", /* before 1970 */
        "0000-01-01T00:00:00Z",
        "",
        "Z",
    };

    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        int64_t out = -7;

        assert_int_equal(time_parse_rfc3339(&out, rejects[i]), LEB_E_INVALID_REQUEST);
        assert_int_equal(out, -7);
    }
    {
        int64_t out = -7;
        assert_int_equal(time_parse_rfc3339(&out, NULL), LEB_E_INVALID_REQUEST);
        assert_int_equal(out, -7);
    }
}

static void test_time__format_and_parse_round_trip(void **state)
{
    uint64_t lcg = 12345;

    /* Every hour of 2024 (a leap year), then pseudo-random instants across 1970..9999. */
    for (int64_t unix_s = at("2024-01-01T00:00:00Z"); unix_s < at("2025-01-01T00:00:00Z");
         unix_s += 3600) {
        char text[RFC3339_SIZE];
        int64_t back = -1;

        time_format_rfc3339(text, unix_s);
        assert_int_equal(time_parse_rfc3339(&back, text), LEB_OK);
        assert_true(back == unix_s);
    }
    for (int i = 0; i < 100000; i++) {
        char text[RFC3339_SIZE];
        int64_t unix_s;
        int64_t back = -1;

        lcg = lcg * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        unix_s = (int64_t)((lcg >> 11) % (UINT64_C(253402300799) + 1));
        time_format_rfc3339(text, unix_s);
        assert_int_equal(time_parse_rfc3339(&back, text), LEB_OK);
        assert_true(back == unix_s);
    }
}

static void test_time__day_start_floors_to_midnight_utc(void **state)
{
    assert_int_equal(time_day_start(0), 0);
    assert_int_equal(time_day_start(1), 0);
    assert_int_equal(time_day_start(DAY - 1), 0);
    assert_int_equal(time_day_start(DAY), DAY);
    assert_true(time_day_start(at("2026-11-25T14:00:00Z")) == at("2026-11-25T00:00:00Z"));
    assert_true(time_day_start(at("2026-11-25T23:59:59Z")) == at("2026-11-25T00:00:00Z"));
    /* Before 1970 the floor is still towards the past. */
    assert_int_equal(time_day_start(-1), -DAY);
    assert_int_equal(time_day_start(-DAY), -DAY);
    assert_int_equal(time_day_start(-DAY - 1), -2 * DAY);
    assert_true(time_day_start(INT64_MAX) == INT64_MAX - INT64_MAX % DAY);
}

static void test_time__next_billing_is_the_activation_day_of_next_month(void **state)
{
    int64_t activated = at("2026-01-15T12:00:00Z");

    assert_true(time_next_billing(activated, activated) == at("2026-02-15T00:00:00Z"));
    assert_true(time_next_billing(activated, at("2026-02-14T23:59:59Z")) ==
                at("2026-02-15T00:00:00Z"));
    assert_true(time_next_billing(activated, at("2026-02-15T00:00:00Z")) ==
                at("2026-03-15T00:00:00Z"));
    assert_true(time_next_billing(activated, at("2026-02-15T00:00:01Z")) ==
                at("2026-03-15T00:00:00Z"));
}

static void test_time__next_billing_is_strictly_after_the_given_instant(void **state)
{
    int64_t activated = at("2026-01-15T12:00:00Z");
    int64_t billing = at("2026-05-15T00:00:00Z");

    assert_true(time_next_billing(activated, billing - 1) == billing);
    assert_true(time_next_billing(activated, billing) > billing);
}

static void test_time__next_billing_is_never_at_or_before_activation(void **state)
{
    int64_t activated = at("2026-01-15T12:00:00Z");

    assert_true(time_next_billing(activated, at("2025-06-01T00:00:00Z")) ==
                at("2026-02-15T00:00:00Z"));
    assert_true(time_next_billing(activated, 0) == at("2026-02-15T00:00:00Z"));
    /* Activated at midnight: that midnight is not a billing instant. */
    activated = at("2026-01-15T00:00:00Z");
    assert_true(time_next_billing(activated, activated - 1) == at("2026-02-15T00:00:00Z"));
}

static void test_time__next_billing_clamps_the_31st_to_the_end_of_short_months(void **state)
{
    int64_t activated = at("2026-01-31T10:00:00Z");
    int64_t billing;

    billing = time_next_billing(activated, activated);
    assert_true(billing == at("2026-02-28T00:00:00Z"));
    billing = time_next_billing(activated, billing);
    assert_true(billing == at("2026-03-31T00:00:00Z"));
    billing = time_next_billing(activated, billing);
    assert_true(billing == at("2026-04-30T00:00:00Z"));
    billing = time_next_billing(activated, billing);
    assert_true(billing == at("2026-05-31T00:00:00Z"));
}

static void test_time__next_billing_clamps_to_29_february_in_a_leap_year(void **state)
{
    int64_t activated = at("2024-01-31T08:30:00Z");
    int64_t billing;

    billing = time_next_billing(activated, activated);
    assert_true(billing == at("2024-02-29T00:00:00Z"));
    billing = time_next_billing(activated, billing);
    assert_true(billing == at("2024-03-31T00:00:00Z"));
}

static void test_time__next_billing_of_a_card_activated_on_29_february(void **state)
{
    int64_t activated = at("2024-02-29T09:00:00Z");

    assert_true(time_next_billing(activated, activated) == at("2024-03-29T00:00:00Z"));
    assert_true(time_next_billing(activated, at("2025-02-01T00:00:00Z")) ==
                at("2025-02-28T00:00:00Z"));
    assert_true(time_next_billing(activated, at("2028-02-01T00:00:00Z")) ==
                at("2028-02-29T00:00:00Z"));
}

static void test_time__next_billing_crosses_the_year_end(void **state)
{
    int64_t activated = at("2025-12-31T23:00:00Z");

    assert_true(time_next_billing(activated, activated) == at("2026-01-31T00:00:00Z"));
    activated = at("2025-12-01T00:00:01Z");
    assert_true(time_next_billing(activated, activated) == at("2026-01-01T00:00:00Z"));
}

static void test_time__next_billing_walks_every_month_once_for_four_years(void **state)
{
    static const int activation_days[] = {1, 15, 28, 29, 30, 31};

    for (size_t a = 0; a < sizeof(activation_days) / sizeof(activation_days[0]); a++) {
        int activation_day = activation_days[a];
        int64_t activated = time_days_from_civil(2023, 1, activation_day) * DAY + 3600;
        int64_t billing = activated;
        int64_t year = 2023;
        int month = 1;

        for (int i = 0; i < 48; i++) {
            int64_t next = time_next_billing(activated, billing);
            int64_t expected_year;
            int expected_month;
            int expected_day;
            int64_t got_year;
            int got_month;
            int got_day;

            month++;
            if (month > 12) {
                month = 1;
                year++;
            }
            expected_year = year;
            expected_month = month;
            expected_day = activation_day < time_days_in_month(year, month)
                               ? activation_day
                               : time_days_in_month(year, month);
            assert_true(next > billing);
            assert_int_equal(next % DAY, 0);
            time_civil_from_days(next / DAY, &got_year, &got_month, &got_day);
            assert_true(got_year == expected_year);
            assert_int_equal(got_month, expected_month);
            assert_int_equal(got_day, expected_day);
            billing = next;
        }
    }
}

static void test_timeutil__provider_times_carry_any_offset(void **state)
{
    int64_t out = 0;
    int64_t utc = 0;
    (void)state;
    assert_int_equal(time_parse_rfc3339(&utc, "2026-11-25T14:00:00Z"), LEB_OK);
    assert_int_equal(time_parse_rfc3339_offset(&out, "2026-11-25T22:00:00+08:00"), LEB_OK);
    assert_true(out == utc);
    assert_int_equal(time_parse_rfc3339_offset(&out, "2026-11-25T08:30:00-05:30"), LEB_OK);
    assert_true(out == utc);
    assert_int_equal(time_parse_rfc3339_offset(&out, "2026-11-25T14:00:00Z"), LEB_OK);
    assert_true(out == utc);
    assert_int_equal(time_parse_rfc3339_offset(&out, "2026-11-26T06:00:00+16:00"), LEB_OK);
    const char *bad[] = {NULL,
                         "",
                         "2026-11-25T22:00:00+24:00",
                         "2026-11-25T22:00:00+08:60",
                         "2026-11-25T22:00:00+0800",
                         "2026-11-25T22:00:00 08:00",
                         "2026-02-30T22:00:00+08:00",
                         "2026-11-25 22:00:00+08:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(time_parse_rfc3339_offset(&out, bad[i]), LEB_E_INVALID_REQUEST);
    }
    /* LEB's own API stays strict. */
    assert_int_equal(time_parse_rfc3339(&out, "2026-11-25T22:00:00+08:00"), LEB_E_INVALID_REQUEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeutil__provider_times_carry_any_offset),
        cmocka_unit_test(test_time__days_from_civil_of_known_dates),
        cmocka_unit_test(test_time__civil_from_days_of_known_days),
        cmocka_unit_test(test_time__civil_dates_round_trip_day_by_day_across_eight_centuries),
        cmocka_unit_test(test_time__days_in_month_knows_leap_years),
        cmocka_unit_test(test_time__format_writes_utc_rfc3339),
        cmocka_unit_test(test_time__parse_reads_utc_rfc3339_in_every_accepted_spelling),
        cmocka_unit_test(test_time__parse_rejects_impossible_or_malformed_times),
        cmocka_unit_test(test_time__format_and_parse_round_trip),
        cmocka_unit_test(test_time__day_start_floors_to_midnight_utc),
        cmocka_unit_test(test_time__next_billing_is_the_activation_day_of_next_month),
        cmocka_unit_test(test_time__next_billing_is_strictly_after_the_given_instant),
        cmocka_unit_test(test_time__next_billing_is_never_at_or_before_activation),
        cmocka_unit_test(test_time__next_billing_clamps_the_31st_to_the_end_of_short_months),
        cmocka_unit_test(test_time__next_billing_clamps_to_29_february_in_a_leap_year),
        cmocka_unit_test(test_time__next_billing_of_a_card_activated_on_29_february),
        cmocka_unit_test(test_time__next_billing_crosses_the_year_end),
        cmocka_unit_test(test_time__next_billing_walks_every_month_once_for_four_years),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
