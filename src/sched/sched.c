/*
 * sched.c - the time-driven jobs, on two timer threads ("lanes"): one for the rules (order
 * expiry, auto-renewal, the lifecycle), one for delivery to the outside world (the outbox).
 * A receiver that hangs may hold up deliveries, never billing or expiry.
 *
 * Jobs are idempotent, so a late, repeated or interrupted run does nothing twice. Stopping
 * sets app->stopping first, so that a delivery in flight gives up at once instead of waiting
 * out its timeout.
 */
#define _GNU_SOURCE /* pthread_setname_np: threads named in top, perf and gdb */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sched/sched.h"
#include "sms/dispatch.h"
#include "util/log.h"

#define LANE_JOBS_MAX 4
#define PRUNE_INTERVAL_S 600
#define LANES 2

struct job {
    const char *name;
    int (*run)(struct app *app);
    int64_t interval_s;
    int64_t next_due_ms;
};

struct lane {
    struct sched *sched;
    const char *thread_name;
    pthread_t thread;
    bool started;
    struct job jobs[LANE_JOBS_MAX];
    size_t jobs_count;
};

struct sched {
    struct app *app;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    struct lane lanes[LANES];
};

static int job_expire_orders(struct app *app)
{
    int64_t expired = 0;
    int rc = app_orders_expire(app, &expired);
    if (rc == 0 && expired > 0) {
        char count[32];
        snprintf(count, sizeof(count), LOG_RAW_PREFIX "%lld", (long long)expired);
        LOG_INFO("orders expired", "count", count);
    }
    return rc;
}

static int job_lifecycle(struct app *app)
{
    /* Auto-renewals first: a card they top up is not reminded or suspended for nothing. */
    struct autorenew_stats renewals;
    struct lifecycle_stats stats;
    int rc = app_autorenew_run(app, &renewals);
    if (rc == 0)
        rc = app_lifecycle_run(app, &stats);
    if (rc == 0 && stats.cards > 0) {
        char cards[32], charged[32], suspended[32], recycled[32];
        snprintf(cards, sizeof(cards), LOG_RAW_PREFIX "%lld", (long long)stats.cards);
        snprintf(charged, sizeof(charged), LOG_RAW_PREFIX "%lld",
                 (long long)stats.steps[LIFECYCLE_CHARGE_FEE]);
        snprintf(suspended, sizeof(suspended), LOG_RAW_PREFIX "%lld",
                 (long long)stats.steps[LIFECYCLE_SUSPEND]);
        snprintf(recycled, sizeof(recycled), LOG_RAW_PREFIX "%lld",
                 (long long)stats.steps[LIFECYCLE_RECYCLE]);
        LOG_INFO("lifecycle run", "cards", cards, "charged", charged, "suspended", suspended,
                 "recycled", recycled);
    }
    return rc;
}

static int job_prune(struct app *app)
{
    int64_t removed = 0;
    int rc = app_sessions_prune(app, &removed);
    if (rc == 0 && removed > 0) {
        char count[32];
        snprintf(count, sizeof(count), LOG_RAW_PREFIX "%lld", (long long)removed);
        LOG_INFO("expired sessions and codes forgotten", "count", count);
    }
    return rc;
}

static int job_providers(struct app *app)
{
    struct provider_stats polled, refunds;
    int rc = app_payments_poll(app, &polled);
    if (rc == 0)
        rc = app_refunds_run(app, &refunds);
    return rc;
}

static int job_dispatch(struct app *app)
{
    struct dispatch_stats stats;
    return dispatch_run(app, &stats);
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *lane_main(void *arg)
{
    struct lane *lane = arg;
    struct sched *sched = lane->sched;
    pthread_setname_np(pthread_self(), lane->thread_name);
    pthread_mutex_lock(&sched->lock);
    while (!sched->stopping) {
        int64_t now_ms = monotonic_ms(), next_ms = now_ms + 1000;
        for (size_t i = 0; i < lane->jobs_count && !sched->stopping; i++) {
            struct job *job = &lane->jobs[i];
            if (job->next_due_ms <= now_ms) {
                pthread_mutex_unlock(&sched->lock);
                int rc = job->run(sched->app);
                if (rc < 0)
                    LOG_ERROR("job failed", "job", job->name, "code", leb_error_name(rc));
                pthread_mutex_lock(&sched->lock);
                job->next_due_ms = monotonic_ms() + job->interval_s * 1000;
            }
            if (job->next_due_ms < next_ms)
                next_ms = job->next_due_ms;
        }
        /* Sleep until the next job is due, or until sched_stop() wakes us. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t wait_ms = next_ms - monotonic_ms();
        if (wait_ms < 1)
            wait_ms = 1;
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        if (!sched->stopping)
            pthread_cond_timedwait(&sched->wake, &sched->lock, &until);
    }
    pthread_mutex_unlock(&sched->lock);
    return NULL;
}

static void lane_add(struct lane *lane, const char *name, int (*run)(struct app *),
                     int64_t interval_s)
{
    LEB_ASSERT(lane->jobs_count < LANE_JOBS_MAX && interval_s > 0);
    lane->jobs[lane->jobs_count++] = (struct job){
        .name = name, .run = run, .interval_s = interval_s, .next_due_ms = monotonic_ms()};
}

int sched_start(struct sched **out, struct app *app, int64_t expiry_interval_s,
                int64_t lifecycle_interval_s, int64_t outbox_interval_s,
                int64_t payments_interval_s)
{
    struct sched *sched = calloc(1, sizeof(*sched));
    LEB_ASSERT(sched != NULL);
    sched->app = app;
    pthread_mutex_init(&sched->lock, NULL);
    pthread_cond_init(&sched->wake, NULL);
    struct lane *rules = &sched->lanes[0], *delivery = &sched->lanes[1];
    *rules = (struct lane){.sched = sched, .thread_name = "leb-sched"};
    *delivery = (struct lane){.sched = sched, .thread_name = "leb-delivery"};
    lane_add(rules, "expire_orders", job_expire_orders, expiry_interval_s);
    lane_add(rules, "lifecycle", job_lifecycle, lifecycle_interval_s);
    lane_add(rules, "prune", job_prune, PRUNE_INTERVAL_S);
    lane_add(delivery, "outbox", job_dispatch, outbox_interval_s);
    /* Provider calls wait on the network, like deliveries: they must not hold up billing. */
    lane_add(delivery, "providers", job_providers, payments_interval_s);
    int rc = 0;
    for (int i = 0; i < LANES && rc == 0; i++) {
        sched->lanes[i].started =
            pthread_create(&sched->lanes[i].thread, NULL, lane_main, &sched->lanes[i]) == 0;
        if (!sched->lanes[i].started)
            rc = LEB_E_UNAVAILABLE;
    }
    if (rc < 0) {
        sched_stop(sched);
        return rc;
    }
    *out = sched;
    return 0;
}

void sched_stop(struct sched *sched)
{
    if (sched == NULL)
        return;
    atomic_store(&sched->app->stopping, true); /* deliveries in flight give up now */
    pthread_mutex_lock(&sched->lock);
    sched->stopping = true;
    pthread_cond_broadcast(&sched->wake);
    pthread_mutex_unlock(&sched->lock);
    for (int i = 0; i < LANES; i++)
        if (sched->lanes[i].started)
            pthread_join(sched->lanes[i].thread, NULL);
    pthread_mutex_destroy(&sched->lock);
    pthread_cond_destroy(&sched->wake);
    free(sched);
}
