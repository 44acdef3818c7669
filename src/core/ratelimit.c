/*
 * ratelimit.c - a token bucket in integer milli-tokens.
 *
 * This module owns the arithmetic of one bucket: refilling "rate_per_min" tokens a minute up
 * to "burst", and taking one per request. The caller owns the buckets (one per client
 * address), their storage and their locking, and passes "now" in.
 *
 * It must never read a clock, never use floating point, never lose or invent a fraction of a
 * token however often the bucket is polled, and never overflow however long a bucket sat idle
 * or however wrong the clock that feeds it.
 */
#include "core/ratelimit.h"

#include "core/error.h"

#define RATELIMIT_MILLI 1000
/* At one token a minute, a milli-token takes 60 ms: rate_per_min * 1000 / 60000 = 1 / 60. */
#define RATELIMIT_MS_PER_MILLI_AT_ONE_PER_MIN 60
#define RATELIMIT_MS_PER_MILLI_AT_ONE_PER_HOUR 3600

static void ratelimit_assert_burst(int64_t burst)
{
    LEB_ASSERT(burst >= 0 && burst <= INT64_MAX / RATELIMIT_MILLI);
}

static int64_t ratelimit_gcd(int64_t a, int64_t b)
{
    /* Euclid on positive numbers below 2^63 ends within 92 steps (Fibonacci bound). */
    for (int steps = 0; b != 0; steps++) {
        int64_t remainder = a % b;

        LEB_ASSERT(steps < 100);
        a = b;
        b = remainder;
    }
    return a;
}

void ratelimit_init(struct ratelimit_bucket *bucket, int64_t burst, int64_t now_ms)
{
    LEB_ASSERT(bucket != NULL);
    ratelimit_assert_burst(burst);
    bucket->tokens_milli = burst * RATELIMIT_MILLI;
    bucket->updated_ms = now_ms;
}

/*
 * Refills "bucket" for the time since it was last refilled, then takes one token if there is
 * a whole one.
 *
 * The refill is elapsed_ms * rate_per_min * 1000 / 60000 milli-tokens, counted in whole
 * quanta: a quantum is the shortest time that earns a whole number of milli-tokens (60 ms
 * divided by gcd(60, rate_per_min); 1 ms at 60 a minute). The bucket's clock advances by
 * whole quanta only, so the remainder (under 60 ms) counts towards the next refill and a
 * bucket polled every millisecond earns exactly what one polled once a minute earns. When the
 * bucket fills, nothing more could be earned and its clock jumps to "now_ms".
 *
 * A clock that went backwards refills nothing and leaves the bucket's clock where it was, so
 * the same time is never counted twice when the clock recovers. An elapsed time so long that
 * the arithmetic would overflow has certainly refilled the bucket.
 */
static bool ratelimit_take_at(struct ratelimit_bucket *bucket, int64_t ms_per_milli_at_one,
                              int64_t rate_per_min, int64_t burst, int64_t now_ms)
{
    int64_t capacity_milli;

    LEB_ASSERT(bucket != NULL);
    LEB_ASSERT(rate_per_min >= 0);
    ratelimit_assert_burst(burst);
    LEB_ASSERT(bucket->tokens_milli >= 0);
    capacity_milli = burst * RATELIMIT_MILLI;

    /* A burst lowered by a configuration reload takes effect at once. */
    if (bucket->tokens_milli > capacity_milli) {
        bucket->tokens_milli = capacity_milli;
    }

    if (now_ms > bucket->updated_ms && rate_per_min == 0) {
        bucket->updated_ms = now_ms;
    } else if (now_ms > bucket->updated_ms) {
        int64_t divisor = ratelimit_gcd(ms_per_milli_at_one, rate_per_min);
        int64_t quantum_ms = ms_per_milli_at_one / divisor;
        int64_t milli_per_quantum = rate_per_min / divisor;
        int64_t room_milli = capacity_milli - bucket->tokens_milli;
        int64_t elapsed_ms;
        int64_t quanta;
        int64_t earned_milli;

        if (__builtin_sub_overflow(now_ms, bucket->updated_ms, &elapsed_ms) ||
            __builtin_mul_overflow(elapsed_ms / quantum_ms, milli_per_quantum, &earned_milli) ||
            earned_milli >= room_milli) {
            bucket->tokens_milli = capacity_milli;
            bucket->updated_ms = now_ms;
        } else {
            quanta = elapsed_ms / quantum_ms;
            bucket->tokens_milli += earned_milli;
            bucket->updated_ms += quanta * quantum_ms;
            LEB_ASSERT(bucket->updated_ms <= now_ms && now_ms - bucket->updated_ms < quantum_ms);
        }
    }

    LEB_ASSERT(bucket->tokens_milli >= 0 && bucket->tokens_milli <= capacity_milli);
    if (bucket->tokens_milli < RATELIMIT_MILLI) {
        return false;
    }
    bucket->tokens_milli -= RATELIMIT_MILLI;
    return true;
}

bool ratelimit_take(struct ratelimit_bucket *bucket, int64_t rate_per_min, int64_t burst,
                    int64_t now_ms)
{
    return ratelimit_take_at(bucket, RATELIMIT_MS_PER_MILLI_AT_ONE_PER_MIN, rate_per_min, burst,
                             now_ms);
}

bool ratelimit_take_hourly(struct ratelimit_bucket *bucket, int64_t rate_per_hour, int64_t burst,
                           int64_t now_ms)
{
    return ratelimit_take_at(bucket, RATELIMIT_MS_PER_MILLI_AT_ONE_PER_HOUR, rate_per_hour, burst,
                             now_ms);
}
