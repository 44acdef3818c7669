/*
 * ratelimit_test.c - the token bucket: bursts, refills, exactness and a wayward clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "core/ratelimit.h"

#define T0 INT64_C(1700000000000)

/* How many of "attempts" takes at "now_ms" succeed. */
static int take_many(struct ratelimit_bucket *bucket, int64_t rate_per_min, int64_t burst,
                     int64_t now_ms, int attempts)
{
    int taken = 0;

    for (int i = 0; i < attempts; i++) {
        taken += ratelimit_take(bucket, rate_per_min, burst, now_ms);
    }
    return taken;
}

/* Five an hour: one token every 12 minutes, none a millisecond sooner, never more than the
 * burst however long the bucket waits. */
static void test_ratelimit__an_hourly_bucket_refills_by_the_hour_exactly(void **state)
{
    struct ratelimit_bucket bucket;
    const int64_t minute = 60000;

    ratelimit_init(&bucket, 5, T0);
    for (int i = 0; i < 5; i++) {
        assert_true(ratelimit_take_hourly(&bucket, 5, 5, T0));
    }
    assert_false(ratelimit_take_hourly(&bucket, 5, 5, T0));
    assert_false(ratelimit_take_hourly(&bucket, 5, 5, T0 + 12 * minute - 1));
    assert_true(ratelimit_take_hourly(&bucket, 5, 5, T0 + 12 * minute));
    assert_false(ratelimit_take_hourly(&bucket, 5, 5, T0 + 12 * minute));
    assert_true(ratelimit_take_hourly(&bucket, 5, 5, T0 + 24 * minute));
    int taken = 0;
    for (int i = 0; i < 20; i++) {
        taken += ratelimit_take_hourly(&bucket, 5, 5, T0 + 1000 * minute);
    }
    assert_int_equal(taken, 5);
}

static void test_ratelimit__a_new_bucket_is_full(void **state)
{
    struct ratelimit_bucket bucket;

    ratelimit_init(&bucket, 20, T0);
    assert_int_equal(bucket.tokens_milli, 20000);
    assert_true(bucket.updated_ms == T0);
}

static void test_ratelimit__a_full_bucket_allows_a_burst_then_refuses(void **state)
{
    struct ratelimit_bucket bucket;

    ratelimit_init(&bucket, 20, T0);
    assert_int_equal(take_many(&bucket, 60, 20, T0, 20), 20);
    assert_false(ratelimit_take(&bucket, 60, 20, T0));
    assert_int_equal(bucket.tokens_milli, 0);
}

static void test_ratelimit__an_empty_burst_refuses_everything(void **state)
{
    struct ratelimit_bucket bucket;

    ratelimit_init(&bucket, 0, T0);
    assert_false(ratelimit_take(&bucket, 60, 0, T0));
    assert_false(ratelimit_take(&bucket, 60, 0, T0 + 3600000));
}

static void test_ratelimit__refills_one_token_a_second_at_sixty_a_minute(void **state)
{
    struct ratelimit_bucket bucket;

    ratelimit_init(&bucket, 1, T0);
    assert_true(ratelimit_take(&bucket, 60, 1, T0));
    assert_false(ratelimit_take(&bucket, 60, 1, T0 + 999));
    assert_true(ratelimit_take(&bucket, 60, 1, T0 + 1000));
    assert_false(ratelimit_take(&bucket, 60, 1, T0 + 1000));
    assert_false(ratelimit_take(&bucket, 60, 1, T0 + 1999));
    assert_true(ratelimit_take(&bucket, 60, 1, T0 + 2000));
}

static void test_ratelimit__refill_stops_at_the_burst(void **state)
{
    struct ratelimit_bucket bucket;

    ratelimit_init(&bucket, 5, T0);
    assert_int_equal(take_many(&bucket, 60, 5, T0, 5), 5);
    /* An hour later the bucket holds 5, not 3600. */
    assert_int_equal(take_many(&bucket, 60, 5, T0 + 3600000, 100), 5);
}

static void test_ratelimit__slow_rates_lose_no_fraction_when_polled_often(void **state)
{
    struct ratelimit_bucket bucket;
    int taken = 0;

    /* One token a minute, asked every millisecond for ten minutes: exactly ten. */
    ratelimit_init(&bucket, 0, T0);
    for (int64_t now = T0 + 1; now <= T0 + 600000; now++) {
        taken += ratelimit_take(&bucket, 1, 1, now);
    }
    assert_int_equal(taken, 10);
}

static void test_ratelimit__odd_rates_earn_exactly_their_rate_per_minute(void **state)
{
    const int64_t rates[] = {1, 7, 13, 59, 61, 97, 1000, 6001};

    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        struct ratelimit_bucket bucket;
        int64_t taken = 0;

        /* A bucket large enough never to cap, asked every 7 ms for ten minutes. */
        ratelimit_init(&bucket, 0, T0);
        for (int64_t now = T0 + 7; now <= T0 + 600000; now += 7) {
            taken += ratelimit_take(&bucket, rates[r], 1000000, now);
        }
        taken += ratelimit_take(&bucket, rates[r], 1000000, T0 + 600000);
        /* Ten minutes earn 10 * rate tokens; what was not taken is still in the bucket.
         * Nothing is pending: 600000 ms is a whole number of every rate's quantum. */
        assert_int_equal(taken * 1000 + bucket.tokens_milli, rates[r] * 10 * 1000);
    }
}

static void test_ratelimit__refills_in_whole_quanta_of_at_most_60_ms(void **state)
{
    struct ratelimit_bucket bucket;

    /* 61 a minute: gcd(60, 61) = 1, so 61 milli-tokens arrive every 60 ms, and the 59 ms
     * before them are not lost but counted with the next ones. */
    ratelimit_init(&bucket, 0, T0);
    assert_false(ratelimit_take(&bucket, 61, 10, T0 + 59));
    assert_int_equal(bucket.tokens_milli, 0);
    assert_true(bucket.updated_ms == T0);
    assert_false(ratelimit_take(&bucket, 61, 10, T0 + 60));
    assert_int_equal(bucket.tokens_milli, 61);
    assert_true(bucket.updated_ms == T0 + 60);
    /* 90 a minute: gcd 30, so 3 milli-tokens every 2 ms. */
    ratelimit_init(&bucket, 0, T0);
    assert_false(ratelimit_take(&bucket, 90, 10, T0 + 3));
    assert_int_equal(bucket.tokens_milli, 3);
    assert_true(bucket.updated_ms == T0 + 2);
}

static void test_ratelimit__a_clock_going_backwards_refills_nothing(void **state)
{
    struct ratelimit_bucket bucket;

    ratelimit_init(&bucket, 1, T0);
    assert_true(ratelimit_take(&bucket, 60, 1, T0));
    /* The clock jumps back an hour: no refill, and the bucket's clock stays. */
    assert_false(ratelimit_take(&bucket, 60, 1, T0 - 3600000));
    assert_true(bucket.updated_ms == T0);
    /* When it recovers, only time after T0 counts. */
    assert_false(ratelimit_take(&bucket, 60, 1, T0 + 999));
    assert_true(ratelimit_take(&bucket, 60, 1, T0 + 1000));
}

static void test_ratelimit__a_huge_elapsed_time_refills_without_overflow(void **state)
{
    struct ratelimit_bucket bucket;

    ratelimit_init(&bucket, 3, INT64_MIN);
    assert_int_equal(take_many(&bucket, 60, 3, INT64_MIN, 3), 3);
    assert_int_equal(take_many(&bucket, INT64_MAX, 3, INT64_MAX, 10), 3);

    /* 60 ms is a whole quantum at any rate: at INT64_MAX a minute, it overflows. */
    ratelimit_init(&bucket, 3, 0);
    assert_int_equal(take_many(&bucket, INT64_MAX, 3, 0, 3), 3);
    assert_int_equal(take_many(&bucket, INT64_MAX, 3, 60, 10), 3);

    ratelimit_init(&bucket, 2, 0);
    assert_int_equal(take_many(&bucket, 1000000, 2, 0, 2), 2);
    assert_int_equal(take_many(&bucket, 1000000, 2, INT64_MAX, 10), 2);
}

static void test_ratelimit__the_largest_burst_fits(void **state)
{
    struct ratelimit_bucket bucket;
    const int64_t burst = INT64_MAX / 1000;

    ratelimit_init(&bucket, burst, T0);
    assert_true(bucket.tokens_milli == burst * 1000);
    assert_true(ratelimit_take(&bucket, INT64_MAX, burst, T0 + 60));
    assert_true(ratelimit_take(&bucket, INT64_MAX, burst, INT64_MAX));
}

static void test_ratelimit__a_rate_of_zero_never_refills(void **state)
{
    struct ratelimit_bucket bucket;

    ratelimit_init(&bucket, 2, T0);
    assert_int_equal(take_many(&bucket, 0, 2, T0, 5), 2);
    assert_false(ratelimit_take(&bucket, 0, 2, T0 + 86400000));
}

static void test_ratelimit__a_lowered_burst_takes_effect_at_once(void **state)
{
    struct ratelimit_bucket bucket;

    ratelimit_init(&bucket, 20, T0);
    assert_int_equal(take_many(&bucket, 60, 2, T0, 10), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit__a_new_bucket_is_full),
        cmocka_unit_test(test_ratelimit__a_full_bucket_allows_a_burst_then_refuses),
        cmocka_unit_test(test_ratelimit__an_empty_burst_refuses_everything),
        cmocka_unit_test(test_ratelimit__refills_one_token_a_second_at_sixty_a_minute),
        cmocka_unit_test(test_ratelimit__refill_stops_at_the_burst),
        cmocka_unit_test(test_ratelimit__slow_rates_lose_no_fraction_when_polled_often),
        cmocka_unit_test(test_ratelimit__odd_rates_earn_exactly_their_rate_per_minute),
        cmocka_unit_test(test_ratelimit__refills_in_whole_quanta_of_at_most_60_ms),
        cmocka_unit_test(test_ratelimit__a_clock_going_backwards_refills_nothing),
        cmocka_unit_test(test_ratelimit__a_huge_elapsed_time_refills_without_overflow),
        cmocka_unit_test(test_ratelimit__the_largest_burst_fits),
        cmocka_unit_test(test_ratelimit__a_rate_of_zero_never_refills),
        cmocka_unit_test(test_ratelimit__a_lowered_burst_takes_effect_at_once),
        cmocka_unit_test(test_ratelimit__an_hourly_bucket_refills_by_the_hour_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
