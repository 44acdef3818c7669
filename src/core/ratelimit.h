/*
 * ratelimit.h - a token bucket, in integer milli-tokens so that it never drifts.
 */
#ifndef LEB_CORE_RATELIMIT_H
#define LEB_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit_bucket {
    int64_t tokens_milli; /* current tokens, in thousandths */
    int64_t updated_ms;   /* when tokens_milli was last refilled */
};

/* A full bucket of "burst" tokens at "now_ms". */
void ratelimit_init(struct ratelimit_bucket *bucket, int64_t burst, int64_t now_ms);

/* Refills "rate_per_min" tokens a minute up to "burst", then takes one token if there is one.
 * True if the request may go ahead. A clock that goes backwards refills nothing. */
bool ratelimit_take(struct ratelimit_bucket *bucket, int64_t rate_per_min, int64_t burst,
                    int64_t now_ms);

/* The same, refilling "rate_per_hour" tokens an hour: for what may happen a few times an hour
 * (one-time codes sent by SMS). */
bool ratelimit_take_hourly(struct ratelimit_bucket *bucket, int64_t rate_per_hour, int64_t burst,
                           int64_t now_ms);

#endif
