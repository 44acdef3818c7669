/*
 * lifecycle.h - keeping the number alive: billing, suspension, reactivation, recycling and
 * reminders, as pure transitions of a card's state at a given "now".
 *
 * Every rule that decides when a number is lost lives here, and nowhere else. Each step
 * changes the state it reads (a charged cycle moves next_billing_at on, a sent reminder is
 * remembered), so running a job twice, late, or after a crash finds nothing left to do: the
 * caller applies steps until LIFECYCLE_NONE, and stores each step's event under its unique
 * (card, kind, period) key as a second guard.
 *
 * Rules (a plan's days are 86400 s each):
 * - monthly_fee, active: at next_billing_at the fee is taken if the balance covers it, and
 *   next_billing_at moves to the following billing day (time_next_billing); if it does not,
 *   nothing is taken, the card is suspended at that billing instant with the fee as arrears.
 *   A low-balance reminder is due from remind_days_before days before next_billing_at when the
 *   balance will not cover the fee, once per billing day.
 * - validity, active: at valid_until the card is suspended (no arrears). The reminder is due
 *   from remind_days_before days before valid_until, once per valid_until.
 * - suspended: grace_days after suspended_at the card is recycled and what is left of its
 *   balance is forfeited; a last warning is due recycle_warning_days before that, once.
 * - recycled: nothing, ever again.
 * - a credit first pays arrears; a suspended card with no arrears left (monthly_fee) or with
 *   valid_until after now (validity) is active again at once, and its next billing day is the
 *   first one after now.
 */
#ifndef LEB_CORE_LIFECYCLE_H
#define LEB_CORE_LIFECYCLE_H

#include <stdint.h>

#include "core/error.h"
#include "core/plan.h"

#define LIFECYCLE_DAY_S 86400
#define LIFECYCLE_STEPS_MAX 64 /* bound on steps one card takes in one job run */

/* The part of a card the rules read and write. Times are Unix seconds; 0 means "none". */
struct card_state {
    enum card_status status;
    int64_t balance;         /* minor units, never negative */
    int64_t arrears;         /* unpaid fee, minor units */
    int64_t activated_at;    /* fixes the billing day of the month */
    int64_t next_billing_at; /* monthly_fee: the next billing instant */
    int64_t valid_until;     /* validity: the end of validity */
    int64_t suspended_at;    /* when the card was suspended */
    int64_t reminded_for;    /* the billing instant or valid_until last reminded of */
    int64_t warned_for;      /* the suspended_at whose last warning was sent */
};

/* The lifecycle fields of a plan beyond struct plan's. */
struct plan_lifecycle {
    int32_t remind_days_before;   /* low-balance / expiry reminder lead, days; 0: none */
    int32_t recycle_warning_days; /* last warning lead before recycling, days; 0: none */
};

enum lifecycle_action {
    LIFECYCLE_NONE = 0,
    LIFECYCLE_CHARGE_FEE,   /* "amount" taken from the balance as the monthly fee */
    LIFECYCLE_SUSPEND,      /* suspended; "amount" is the new arrears (0 for validity) */
    LIFECYCLE_RECYCLE,      /* recycled; "amount" is the balance forfeited */
    LIFECYCLE_REMIND_LOW,   /* remind: the balance will not cover the coming fee/expiry */
    LIFECYCLE_WARN_RECYCLE, /* last warning before recycling */
    LIFECYCLE_ACTION_COUNT
};

struct lifecycle_step {
    enum lifecycle_action action;
    int64_t amount; /* see enum lifecycle_action; 0 for reminders */
    int64_t period; /* the instant this step is for: its idempotency key with the card */
    struct card_state after;
};

/* "charge_fee", "suspend", "recycle", "remind_low", "warn_recycle" ("none" for NONE). */
const char *lifecycle_action_name(enum lifecycle_action action);

/*
 * The next step due for "card" on "plan" at "now", or LIFECYCLE_NONE. Applying "after" and
 * asking again gives the following step, so a job that was not run for months catches up one
 * billing cycle at a time. LEB_E_INVALID_REQUEST for a state that breaks the rules (negative
 * balance or arrears, a monthly_fee card with no next_billing_at, ...).
 */
LEB_MUST_CHECK int lifecycle_next(struct lifecycle_step *out, const struct card_state *card,
                                  const struct plan *plan, const struct plan_lifecycle *rules,
                                  int64_t now);

/*
 * The earliest instant from which lifecycle_next() finds a step for "card" (the store's
 * due_at: a job need look at no card before it), or 0 if it never will (recycled; validity
 * without an end). It may lie before "now": the step is due at once. A state or plan that
 * lifecycle_next() refuses is due at "now", so that the job meets it and reports it.
 */
int64_t lifecycle_due_at(const struct card_state *card, const struct plan *plan,
                         const struct plan_lifecycle *rules, int64_t now);

struct lifecycle_credit {
    int64_t arrears_paid;     /* taken from the credit to pay the arrears */
    int64_t validity_added_s; /* validity: how far valid_until moved */
    enum card_status status_before;
    struct card_state after;
};

/*
 * Applies a credit of "amount" (> 0) at "now": adds it to the balance, pays arrears first,
 * extends validity (validity plans: amount / validity_step_amount steps of validity_days,
 * whole steps only, valid_until counted from max(valid_until, now) and capped at now +
 * validity_days_max days), and reactivates a suspended card whose debt is paid (see the
 * rules above). LEB_E_CARD_NOT_RECHARGEABLE for a recycled card; LEB_E_OVERFLOW if the
 * balance would leave int64.
 */
LEB_MUST_CHECK int lifecycle_apply_credit(struct lifecycle_credit *out,
                                          const struct card_state *card, const struct plan *plan,
                                          int64_t amount, int64_t now);

/*
 * The instant at which lifecycle_next() may next return a step for "card": "now" if it
 * returns one already, else the earliest instant after "now" at which a rule could act
 * (a billing instant, an end of validity, a reminder or warning lead, the end of the grace),
 * or 0 for never (recycled). The scheduler visits a card only once its due instant has come.
 */
int64_t lifecycle_due_at(const struct card_state *card, const struct plan *plan,
                         const struct plan_lifecycle *rules, int64_t now);

/* The state of a new card activated at "now" on "plan" in "status": no balance, no arrears;
 * monthly_fee: next_billing_at the first billing day after now; validity: valid_until one
 * step of validity_days after now (the validity a new card comes with); a card created
 * suspended has suspended_at = now; a recycled one has nothing to be due. */
void lifecycle_new_card(struct card_state *out, const struct plan *plan, enum card_status status,
                        int64_t now);

#endif
