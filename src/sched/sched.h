/*
 * sched.h - time-driven jobs on one timer thread (redis' serverCron).
 *
 * Each job runs every "interval_s" seconds; jobs are idempotent, so a late, repeated or
 * crashed run never does anything twice. Order expiry is the first job; billing, reminders,
 * auto-renewal and outbox delivery join the same table.
 */
#ifndef LEB_SCHED_SCHED_H
#define LEB_SCHED_SCHED_H

#include "app/app.h"

struct sched;

LEB_MUST_CHECK int sched_start(struct sched **out, struct app *app, int64_t expiry_interval_s,
                               int64_t lifecycle_interval_s, int64_t outbox_interval_s,
                               int64_t payments_interval_s);
/* Stops the timer; a job that is running finishes first. NULL is fine. */
void sched_stop(struct sched *sched);

#endif
