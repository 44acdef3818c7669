/*
 * sched.c - the timer thread and its job table.
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

#define JOBS_MAX 8

struct job {
    const char *name;
    int (*run)(struct app *app);
    int64_t interval_s;
    int64_t next_due_ms;
};

struct sched {
    struct app *app;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    struct job jobs[JOBS_MAX];
    size_t jobs_count;
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

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *sched_main(void *arg)
{
    struct sched *sched = arg;
    pthread_setname_np(pthread_self(), "leb-sched");
    pthread_mutex_lock(&sched->lock);
    while (!sched->stopping) {
        int64_t now_ms = monotonic_ms(), next_ms = now_ms + 1000;
        for (size_t i = 0; i < sched->jobs_count; i++) {
            struct job *job = &sched->jobs[i];
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

static int job_dispatch(struct app *app)
{
    struct dispatch_stats stats;
    return dispatch_run(app, &stats);
}

int sched_start(struct sched **out, struct app *app, int64_t expiry_interval_s,
                int64_t lifecycle_interval_s, int64_t outbox_interval_s)
{
    LEB_ASSERT(expiry_interval_s > 0 && lifecycle_interval_s > 0 && outbox_interval_s > 0);
    struct sched *sched = calloc(1, sizeof(*sched));
    LEB_ASSERT(sched != NULL);
    sched->app = app;
    pthread_mutex_init(&sched->lock, NULL);
    pthread_cond_init(&sched->wake, NULL);
    sched->jobs[sched->jobs_count++] = (struct job){.name = "expire_orders",
                                                    .run = job_expire_orders,
                                                    .interval_s = expiry_interval_s,
                                                    .next_due_ms = monotonic_ms()};
    sched->jobs[sched->jobs_count++] = (struct job){.name = "outbox",
                                                    .run = job_dispatch,
                                                    .interval_s = outbox_interval_s,
                                                    .next_due_ms = monotonic_ms()};
    sched->jobs[sched->jobs_count++] = (struct job){.name = "lifecycle",
                                                    .run = job_lifecycle,
                                                    .interval_s = lifecycle_interval_s,
                                                    .next_due_ms = monotonic_ms()};
    if (pthread_create(&sched->thread, NULL, sched_main, sched) != 0) {
        free(sched);
        return LEB_E_UNAVAILABLE;
    }
    *out = sched;
    return 0;
}

void sched_stop(struct sched *sched)
{
    if (sched == NULL)
        return;
    pthread_mutex_lock(&sched->lock);
    sched->stopping = true;
    pthread_cond_signal(&sched->wake);
    pthread_mutex_unlock(&sched->lock);
    pthread_join(sched->thread, NULL);
    pthread_mutex_destroy(&sched->lock);
    pthread_cond_destroy(&sched->wake);
    free(sched);
}
