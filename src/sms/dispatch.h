/*
 * dispatch.h - delivery of the outbox to the outside world: webhooks to the telecom core now,
 * SMS through the gateway with the SMS work. At least once: a message is marked delivered only
 * after the receiver answered 2xx, so a crash in between sends it again, with the same id for
 * the receiver to drop the repeat.
 */
#ifndef LEB_SMS_DISPATCH_H
#define LEB_SMS_DISPATCH_H

#include "app/app.h"

struct dispatch_stats {
    int64_t delivered;
    int64_t failed;
    int64_t dead;
};

/* Delivers every webhook due at the clock's now, each once, and records the outcomes. */
LEB_MUST_CHECK int dispatch_run(struct app *app, struct dispatch_stats *stats);

#endif
