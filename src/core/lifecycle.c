/*
 * lifecycle.c - keeping the number alive, as pure transitions of a card's state.
 *
 * This module owns every rule that decides when a card is billed, suspended, reactivated,
 * reminded, warned and recycled, and what each of those moves: the fee taken, the arrears
 * recorded or paid, the balance forfeited, the validity added. A job asks lifecycle_next()
 * for one step at a time and stores it; a credit goes through lifecycle_apply_credit() in the
 * same transaction as its ledger posting. Each step writes into the state the fact that it
 * happened (next_billing_at moves on, reminded_for and warned_for remember), so asking again
 * never finds the same step twice: that is what makes a job idempotent per card and period.
 *
 * It must never read a clock, a store or a global: "now" is a parameter, so a late job and a
 * job run twice reach the same states. It must never let an amount wrap or go negative, never
 * write an output it then reports as an error, and never take a step that cannot be followed
 * by a later one: each step moves a time forwards or leaves a status for good, so a caller
 * that applies steps until LIFECYCLE_NONE always gets there.
 */
#include "core/lifecycle.h"

#include <stdbool.h>
#include <string.h>

#include "core/money.h"
#include "core/timeutil.h"

/* 9999-12-31T23:59:59Z, the last instant time_next_billing() accepts. "now" and the times
 * it is given are kept within [0, LIFECYCLE_TIME_MAX], so that a bad state is a code here
 * rather than an assertion there. */
#define LIFECYCLE_TIME_MAX INT64_C(253402300799)

static const char *const lifecycle_action_names[LIFECYCLE_ACTION_COUNT] = {
    [LIFECYCLE_NONE] = "none",
    [LIFECYCLE_CHARGE_FEE] = "charge_fee",
    [LIFECYCLE_SUSPEND] = "suspend",
    [LIFECYCLE_RECYCLE] = "recycle",
    [LIFECYCLE_REMIND_LOW] = "remind_low",
    [LIFECYCLE_WARN_RECYCLE] = "warn_recycle",
};

const char *lifecycle_action_name(enum lifecycle_action action)
{
    LEB_ASSERT((int)action >= 0 && action < LIFECYCLE_ACTION_COUNT);
    return lifecycle_action_names[action];
}

/* ---------------------------------------------------------------------------------------
 * Checks shared by the job and the credit
 * ------------------------------------------------------------------------------------- */

/* The enums come from parse functions and the plan table, so an unknown value is a bug of
 * the caller, not bad input. */
static void lifecycle_assert_enums(const struct card_state *card, const struct plan *plan)
{
    LEB_ASSERT((int)card->status >= CARD_ACTIVE && card->status <= CARD_RECYCLED);
    LEB_ASSERT((int)plan->model >= RETENTION_MONTHLY_FEE && plan->model <= RETENTION_VALIDITY);
}

static bool lifecycle_time_is_valid(int64_t unix_s)
{
    return unix_s >= 0 && unix_s <= LIFECYCLE_TIME_MAX;
}

/*
 * "*out" = "at" moved by "days" days of LIFECYCLE_DAY_S (negative moves back). A time that
 * would leave int64 can only come from a state no rule writes, so it is reported as
 * LEB_E_INVALID_REQUEST, like every other state that breaks the rules.
 */
static int lifecycle_time_add_days(int64_t *out, int64_t at, int64_t days)
{
    int64_t offset_s;

    if (__builtin_mul_overflow(days, (int64_t)LIFECYCLE_DAY_S, &offset_s) ||
        __builtin_add_overflow(at, offset_s, out)) {
        return LEB_E_INVALID_REQUEST;
    }
    return LEB_OK;
}

/*
 * The plan fields the rules read must make sense: plan_validate() guarantees them for a plan
 * it accepted, but a plan stored under older rules must not divide by zero or recycle a
 * card before it was suspended. A monthly fee of 0 is accepted here (it is simply always
 * covered); plan_validate() is the place that forbids it.
 */
static int lifecycle_plan_check(const struct plan *plan)
{
    if (plan->grace_days < 0 || plan->monthly_fee < 0) {
        return LEB_E_INVALID_PLAN;
    }
    if (plan->model == RETENTION_VALIDITY &&
        (plan->validity_days <= 0 || plan->validity_step_amount <= 0 ||
         plan->validity_days_max < plan->validity_days)) {
        return LEB_E_INVALID_PLAN;
    }
    return LEB_OK;
}

/*
 * Whether "card" is a state the rules can have written, at "now". Amounts are never
 * negative; only a suspended monthly_fee card owes arrears (a credit that clears them is what
 * reactivates it, and validity cards owe nothing); a suspended card knows when it was
 * suspended; a monthly_fee card has an activation day, and an active one its next billing
 * instant, both within the range of the billing calendar. A recycled card is only checked
 * for its amounts: nothing will ever be computed from its times again.
 */
static int lifecycle_state_check(const struct card_state *card, const struct plan *plan,
                                 int64_t now)
{
    if (!lifecycle_time_is_valid(now)) {
        return LEB_E_INVALID_REQUEST;
    }
    if (card->balance < 0 || card->arrears < 0) {
        return LEB_E_INVALID_REQUEST;
    }
    if (card->activated_at < 0 || card->next_billing_at < 0 || card->valid_until < 0 ||
        card->suspended_at < 0 || card->reminded_for < 0 || card->warned_for < 0) {
        return LEB_E_INVALID_REQUEST;
    }
    if (card->status == CARD_RECYCLED) {
        return LEB_OK;
    }
    if (card->arrears != 0 && (card->status == CARD_ACTIVE || plan->model == RETENTION_VALIDITY)) {
        return LEB_E_INVALID_REQUEST;
    }
    if (card->status == CARD_SUSPENDED && card->suspended_at == 0) {
        return LEB_E_INVALID_REQUEST;
    }
    if (plan->model == RETENTION_MONTHLY_FEE) {
        if (card->activated_at == 0 || !lifecycle_time_is_valid(card->activated_at)) {
            return LEB_E_INVALID_REQUEST;
        }
        if (card->status == CARD_ACTIVE &&
            (card->next_billing_at == 0 || !lifecycle_time_is_valid(card->next_billing_at))) {
            return LEB_E_INVALID_REQUEST;
        }
    }
    return LEB_OK;
}

/* ---------------------------------------------------------------------------------------
 * The job: one step at a time
 * ------------------------------------------------------------------------------------- */

/*
 * The instant from which the low-balance (or coming-expiry) reminder for "due_at" is due:
 * remind_days_before days before it, once per "due_at" (reminded_for remembers which one was
 * sent). 1 and "*out" set if a reminder is still to come, 0 if none is (no lead configured,
 * or already sent), or a negative code. Whether the card needs one at all is its caller's
 * rule.
 */
static int lifecycle_reminder_from(int64_t *out, const struct card_state *card,
                                   const struct plan_lifecycle *rules, int64_t due_at)
{
    int error;

    if (rules->remind_days_before == 0 || card->reminded_for == due_at) {
        return 0;
    }
    if ((error = lifecycle_time_add_days(out, due_at, -(int64_t)rules->remind_days_before)) != 0) {
        return error;
    }
    return 1;
}

/* When a suspended card is recycled: grace_days after it was suspended. */
static int lifecycle_recycle_at(int64_t *out, const struct card_state *card,
                                const struct plan *plan)
{
    return lifecycle_time_add_days(out, card->suspended_at, plan->grace_days);
}

/*
 * The instant from which the last warning before recycling is due: recycle_warning_days
 * before the recycling (a lead longer than the grace warns at once), once per suspension. 1
 * and "*out" set if the warning is still to come, 0 if none is, or a negative code.
 */
static int lifecycle_warning_from(int64_t *out, const struct card_state *card,
                                  const struct plan *plan, const struct plan_lifecycle *rules)
{
    int error;

    if (rules->recycle_warning_days == 0 || card->warned_for == card->suspended_at) {
        return 0;
    }
    if ((error = lifecycle_time_add_days(out, card->suspended_at,
                                         (int64_t)plan->grace_days -
                                             (int64_t)rules->recycle_warning_days)) != 0) {
        return error;
    }
    return 1;
}

/* The reminder step for "due_at", if it is due at "now". */
static int lifecycle_next_reminder(struct lifecycle_step *step, const struct card_state *card,
                                   const struct plan_lifecycle *rules, int64_t due_at, int64_t now)
{
    int64_t remind_from;
    int pending = lifecycle_reminder_from(&remind_from, card, rules, due_at);

    if (pending <= 0) {
        return pending;
    }
    if (now >= remind_from) {
        step->action = LIFECYCLE_REMIND_LOW;
        step->amount = 0;
        step->period = due_at;
        step->after.reminded_for = due_at;
    }
    return LEB_OK;
}

/*
 * An active monthly_fee card. A billing instant that has passed comes first, whatever "now"
 * is: the fee is taken if the balance covers it and the card moves on to its following
 * billing day; if not, nothing is taken and the card is suspended at that billing instant
 * (not at "now"), so a job that runs late, or twice, decides exactly what a punctual one
 * would have. Only when no billing instant has passed can a reminder be due, and only to a
 * card whose balance will not cover the fee.
 */
static int lifecycle_next_monthly(struct lifecycle_step *step, const struct card_state *card,
                                  const struct plan *plan, const struct plan_lifecycle *rules,
                                  int64_t now)
{
    int error;

    if (now >= card->next_billing_at) {
        step->period = card->next_billing_at;
        step->amount = plan->monthly_fee;
        if (card->balance >= plan->monthly_fee) {
            step->action = LIFECYCLE_CHARGE_FEE;
            if ((error = money_sub(&step->after.balance, card->balance, plan->monthly_fee)) != 0) {
                return error;
            }
            step->after.next_billing_at =
                time_next_billing(card->activated_at, card->next_billing_at);
            LEB_ASSERT(step->after.next_billing_at > card->next_billing_at);
        } else {
            step->action = LIFECYCLE_SUSPEND;
            step->after.status = CARD_SUSPENDED;
            step->after.arrears = plan->monthly_fee;
            step->after.suspended_at = card->next_billing_at;
        }
        return LEB_OK;
    }
    if (card->balance >= plan->monthly_fee) {
        return LEB_OK;
    }
    return lifecycle_next_reminder(step, card, rules, card->next_billing_at, now);
}

/*
 * An active validity card: suspended when its validity ends (at valid_until, with no
 * arrears: nothing is owed, the card is simply no longer paid for), reminded before that
 * whatever its balance, since no balance extends validity by itself. A valid_until of 0
 * means the card has no end of validity, and then nothing is ever due.
 */
static int lifecycle_next_validity(struct lifecycle_step *step, const struct card_state *card,
                                   const struct plan_lifecycle *rules, int64_t now)
{
    if (card->valid_until == 0) {
        return LEB_OK;
    }
    if (now >= card->valid_until) {
        step->action = LIFECYCLE_SUSPEND;
        step->amount = 0;
        step->period = card->valid_until;
        step->after.status = CARD_SUSPENDED;
        step->after.suspended_at = card->valid_until;
        return LEB_OK;
    }
    return lifecycle_next_reminder(step, card, rules, card->valid_until, now);
}

/*
 * A suspended card, either model: recycled grace_days after suspended_at, its balance
 * forfeited and its arrears written off (a number that is gone owes nothing); before that,
 * the last warning, once per suspension. A job too late for the warning recycles without
 * it: a warning sent together with the recycling would promise days the card no longer has.
 */
static int lifecycle_next_suspended(struct lifecycle_step *step, const struct card_state *card,
                                    const struct plan *plan, const struct plan_lifecycle *rules,
                                    int64_t now)
{
    int64_t recycle_at;
    int64_t warn_from;
    int pending;
    int error;

    if ((error = lifecycle_recycle_at(&recycle_at, card, plan)) != 0) {
        return error;
    }
    if (now >= recycle_at) {
        step->action = LIFECYCLE_RECYCLE;
        step->amount = card->balance;
        step->period = card->suspended_at;
        step->after.status = CARD_RECYCLED;
        step->after.balance = 0;
        step->after.arrears = 0;
        return LEB_OK;
    }
    pending = lifecycle_warning_from(&warn_from, card, plan, rules);
    if (pending <= 0) {
        return pending;
    }
    if (now >= warn_from) {
        step->action = LIFECYCLE_WARN_RECYCLE;
        step->amount = 0;
        step->period = card->suspended_at;
        step->after.warned_for = card->suspended_at;
    }
    return LEB_OK;
}

/* The plan, its rules and the card are something the rules can work on at "now". */
static int lifecycle_inputs_check(const struct card_state *card, const struct plan *plan,
                                  const struct plan_lifecycle *rules, int64_t now)
{
    int error;

    if ((error = lifecycle_plan_check(plan)) != 0) {
        return error;
    }
    if (rules->remind_days_before < 0 || rules->recycle_warning_days < 0) {
        return LEB_E_INVALID_PLAN;
    }
    return lifecycle_state_check(card, plan, now);
}

/*
 * The next step due for "card" on "plan" with "rules" at "now" (see lifecycle.h). Plans and
 * rules that contradict themselves are LEB_E_INVALID_PLAN; states no rule writes are
 * LEB_E_INVALID_REQUEST. "*out" is written only on success; for LIFECYCLE_NONE its "after"
 * is the card unchanged.
 */
int lifecycle_next(struct lifecycle_step *out, const struct card_state *card,
                   const struct plan *plan, const struct plan_lifecycle *rules, int64_t now)
{
    struct lifecycle_step step;
    int error;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(card != NULL && plan != NULL && rules != NULL);
    lifecycle_assert_enums(card, plan);

    if ((error = lifecycle_inputs_check(card, plan, rules, now)) != 0) {
        return error;
    }

    memset(&step, 0, sizeof(step));
    step.action = LIFECYCLE_NONE;
    step.after = *card;
    switch (card->status) {
    case CARD_ACTIVE:
        if (plan->model == RETENTION_MONTHLY_FEE) {
            error = lifecycle_next_monthly(&step, card, plan, rules, now);
        } else {
            error = lifecycle_next_validity(&step, card, rules, now);
        }
        break;
    case CARD_SUSPENDED:
        error = lifecycle_next_suspended(&step, card, plan, rules, now);
        break;
    case CARD_RECYCLED:
        error = LEB_OK;
        break;
    }
    if (error != 0) {
        return error;
    }

    /* What a step takes from the balance is exactly what it reports, and nothing goes
     * negative: the ledger posts "amount", the store writes "after". */
    LEB_ASSERT(step.after.balance >= 0 && step.after.arrears >= 0);
    LEB_ASSERT(step.action != LIFECYCLE_CHARGE_FEE ||
               step.after.balance + step.amount == card->balance);
    LEB_ASSERT(step.action != LIFECYCLE_RECYCLE || step.amount == card->balance);
    LEB_ASSERT(step.action != LIFECYCLE_NONE || step.period == 0);
    *out = step;
    return LEB_OK;
}

/*
 * The earliest "now" from which lifecycle_next() leaves LIFECYCLE_NONE, from the same
 * thresholds it compares "now" with: each one a reminder, a warning, a billing instant, an
 * end of validity or a recycling, whichever comes first. 0 is "never", so an instant that
 * would be 0 or earlier (a state from 1970) is reported as 1, still due at once.
 */
int64_t lifecycle_due_at(const struct card_state *card, const struct plan *plan,
                         const struct plan_lifecycle *rules, int64_t now)
{
    int64_t due_at = 0;
    int64_t from = 0;
    int pending = 0;

    LEB_ASSERT(card != NULL && plan != NULL && rules != NULL);
    lifecycle_assert_enums(card, plan);

    if (lifecycle_inputs_check(card, plan, rules, now) != 0) {
        return now > 1 ? now : 1;
    }
    switch (card->status) {
    case CARD_ACTIVE:
        if (plan->model == RETENTION_MONTHLY_FEE) {
            due_at = card->next_billing_at;
            if (card->balance < plan->monthly_fee) {
                pending = lifecycle_reminder_from(&from, card, rules, due_at);
            }
        } else if (card->valid_until != 0) {
            due_at = card->valid_until;
            pending = lifecycle_reminder_from(&from, card, rules, due_at);
        }
        break;
    case CARD_SUSPENDED:
        if (lifecycle_recycle_at(&due_at, card, plan) != 0) {
            return now > 1 ? now : 1;
        }
        pending = lifecycle_warning_from(&from, card, plan, rules);
        break;
    case CARD_RECYCLED:
        return 0;
    }
    if (pending < 0) {
        return now > 1 ? now : 1;
    }
    if (due_at == 0) {
        return 0;
    }
    if (pending > 0 && from < due_at) {
        due_at = from;
    }
    return due_at > 1 ? due_at : 1;
}

/* ---------------------------------------------------------------------------------------
 * Credits
 * ------------------------------------------------------------------------------------- */

/*
 * The valid_until a validity card has after a credit of "amount" at "now": whole steps of
 * validity_step_amount only, each worth validity_days, counted from the later of valid_until
 * and "now", capped at now + validity_days_max days. A credit never shortens validity (a
 * plan whose cap was lowered leaves a card's longer validity alone) and a credit of less
 * than a step leaves it where it was. Validity too large to compute is past the cap anyway,
 * so it saturates there rather than failing a credit that was paid.
 */
static int64_t lifecycle_validity_after_credit(const struct card_state *card,
                                               const struct plan *plan, int64_t amount, int64_t now)
{
    int64_t steps = amount / plan->validity_step_amount;
    int64_t base = card->valid_until > now ? card->valid_until : now;
    int64_t added_s;
    int64_t candidate;
    int64_t cap;
    int error;

    if (steps == 0) {
        return card->valid_until;
    }
    error = lifecycle_time_add_days(&cap, now, plan->validity_days_max);
    LEB_ASSERT(error == 0); /* now <= LIFECYCLE_TIME_MAX and the days fit in int32 */
    if (__builtin_mul_overflow(steps, (int64_t)plan->validity_days * LIFECYCLE_DAY_S, &added_s) ||
        __builtin_add_overflow(base, added_s, &candidate) || candidate > cap) {
        candidate = cap;
    }
    return candidate > card->valid_until ? candidate : card->valid_until;
}

/*
 * Applies a credit of "amount" to "card" on "plan" at "now" (see lifecycle.h). The checks run
 * in the order the caller's answers need: a recycled card is refused whatever the amount,
 * then the amount, then the plan and the state. The plan's recharge_allowed is not looked
 * at: it stops new orders (pricing_quote), but money already paid must still be credited.
 * The balance that was already on a suspended card helps pay its arrears, so arrears_paid
 * may exceed "amount". "*out" is written only on success.
 */
int lifecycle_apply_credit(struct lifecycle_credit *out, const struct card_state *card,
                           const struct plan *plan, int64_t amount, int64_t now)
{
    struct lifecycle_credit credit;
    int error;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(card != NULL && plan != NULL);
    lifecycle_assert_enums(card, plan);

    if (card->status == CARD_RECYCLED) {
        return LEB_E_CARD_NOT_RECHARGEABLE;
    }
    if (amount <= 0) {
        return LEB_E_INVALID_AMOUNT;
    }
    if ((error = lifecycle_plan_check(plan)) != 0) {
        return error;
    }
    if ((error = lifecycle_state_check(card, plan, now)) != 0) {
        return error;
    }

    memset(&credit, 0, sizeof(credit));
    credit.status_before = card->status;
    credit.after = *card;
    if ((error = money_add(&credit.after.balance, card->balance, amount)) != 0) {
        return error;
    }

    if (plan->model == RETENTION_MONTHLY_FEE) {
        credit.arrears_paid =
            card->arrears < credit.after.balance ? card->arrears : credit.after.balance;
        credit.after.balance -= credit.arrears_paid;
        credit.after.arrears -= credit.arrears_paid;
        if (card->status == CARD_SUSPENDED && credit.after.arrears == 0) {
            credit.after.status = CARD_ACTIVE;
            credit.after.next_billing_at = time_next_billing(card->activated_at, now);
            credit.after.suspended_at = 0;
        }
    } else {
        credit.after.valid_until = lifecycle_validity_after_credit(card, plan, amount, now);
        credit.validity_added_s = credit.after.valid_until - card->valid_until;
        if (card->status == CARD_SUSPENDED && credit.after.valid_until > now) {
            credit.after.status = CARD_ACTIVE;
            credit.after.suspended_at = 0;
        }
    }

    /* Every fen of the credit and of the old balance is either still on the card or paid
     * the arrears it cleared; a credit never suspends and never shortens validity. */
    LEB_ASSERT(credit.after.balance >= 0 && credit.after.arrears >= 0);
    LEB_ASSERT(credit.after.balance + credit.arrears_paid - amount == card->balance);
    LEB_ASSERT(credit.after.arrears + credit.arrears_paid == card->arrears);
    LEB_ASSERT(credit.validity_added_s >= 0);
    LEB_ASSERT(card->status != CARD_ACTIVE || credit.after.status == CARD_ACTIVE);
    *out = credit;
    return LEB_OK;
}

/* ---------------------------------------------------------------------------------------
 * New cards
 * ------------------------------------------------------------------------------------- */

/*
 * The state of a new card activated at "now" (see lifecycle.h). A card created suspended
 * (a batch imported as it stands at the operator's) has no validity left: its valid_until
 * is its suspension instant, as for a card the rules suspended, so that only a credit of a
 * whole step brings it back. "now" must lie in 1970..9999 and "plan" must have passed
 * plan_validate(): both are the caller's to check.
 */
void lifecycle_new_card(struct card_state *out, const struct plan *plan, enum card_status status,
                        int64_t now)
{
    struct card_state card;
    int error;

    LEB_ASSERT(out != NULL && plan != NULL);
    LEB_ASSERT((int)status >= CARD_ACTIVE && status <= CARD_RECYCLED);
    LEB_ASSERT((int)plan->model >= RETENTION_MONTHLY_FEE && plan->model <= RETENTION_VALIDITY);
    LEB_ASSERT(lifecycle_time_is_valid(now));
    LEB_ASSERT(plan->validity_days >= 0);

    memset(&card, 0, sizeof(card));
    card.status = status;
    card.activated_at = now;
    if (status != CARD_RECYCLED) {
        if (plan->model == RETENTION_MONTHLY_FEE) {
            card.next_billing_at = time_next_billing(now, now);
        } else if (status == CARD_ACTIVE) {
            error = lifecycle_time_add_days(&card.valid_until, now, plan->validity_days);
            LEB_ASSERT(error == 0);
        } else {
            card.valid_until = now;
        }
    }
    if (status == CARD_SUSPENDED) {
        card.suspended_at = now;
    }

    LEB_ASSERT(card.balance == 0 && card.arrears == 0);
    LEB_ASSERT(card.status != CARD_ACTIVE || plan->model != RETENTION_MONTHLY_FEE ||
               card.next_billing_at > now);
    *out = card;
}
