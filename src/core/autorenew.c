/*
 * autorenew.c - auto-renewal (自动续费): whether a card with a payment agreement is topped up
 * at "now", for which cycle, and by how much.
 *
 * This module owns the rules of auto-renewal: which instant a card's top-up is for (its
 * "cycle"), from when it may act (the lead before the cycle), whether the card needs money
 * under the cardholder's rule (keep_fee or threshold), the amount, and how often a failed
 * charge is tried again. The job reads the card, its setting and the attempts it recorded,
 * asks autorenew_decide(), places the order through the auto_renew channel and records the
 * attempt under the cycle.
 *
 * It must never read a clock, a store or a global: "now" and the attempts made so far are
 * parameters, so that a job run twice or late decides the same. It must never ask for an
 * amount the plan's own pricing would refuse (the rule is the one pricing_quote() applies),
 * never ask for more than AUTORENEW_ATTEMPTS_MAX charges in one cycle, never let an amount or
 * a time wrap, and never write an output it then reports as an error.
 */
#include "core/autorenew.h"

#include <stddef.h>
#include <string.h>

/* 9999-12-31T23:59:59Z, the last instant the billing calendar knows. "now" and the instant
 * of the last attempt come from the job's clock and are kept within [0, AUTORENEW_TIME_MAX];
 * the card's times need only be non-negative, as in lifecycle.c (a validity card may be
 * valid for ever), and the arithmetic on them is checked. */
#define AUTORENEW_TIME_MAX INT64_C(253402300799)

static const char *const autorenew_rule_names[] = {
    [AUTORENEW_KEEP_FEE] = "keep_fee",
    [AUTORENEW_THRESHOLD] = "threshold",
};
#define AUTORENEW_RULE_COUNT (sizeof(autorenew_rule_names) / sizeof(autorenew_rule_names[0]))

/* The rule comes from autorenew_rule_parse() and the store, so an unknown value is a bug of
 * the caller, not bad input. */
static void autorenew_rule_assert(enum autorenew_rule rule)
{
    LEB_ASSERT((int)rule >= 0 && (size_t)rule < AUTORENEW_RULE_COUNT);
}

const char *autorenew_rule_name(enum autorenew_rule rule)
{
    autorenew_rule_assert(rule);
    return autorenew_rule_names[rule];
}

/* "keep_fee" or "threshold", exactly; NULL and anything else is LEB_E_INVALID_REQUEST. */
int autorenew_rule_parse(enum autorenew_rule *out, const char *name)
{
    LEB_ASSERT(out != NULL);
    if (name == NULL) {
        return LEB_E_INVALID_REQUEST;
    }
    for (size_t i = 0; i < AUTORENEW_RULE_COUNT; i++) {
        if (strcmp(name, autorenew_rule_names[i]) == 0) {
            *out = (enum autorenew_rule)i;
            return LEB_OK;
        }
    }
    return LEB_E_INVALID_REQUEST;
}

/* ---------------------------------------------------------------------------------------
 * Amounts the plan allows
 * ------------------------------------------------------------------------------------- */

/*
 * The plan fields these rules read must make sense. plan_validate() guarantees them for a
 * plan it accepted, but a plan stored under older rules must not make a division by zero, a
 * read past the denominations or a lead that points after its cycle: like lifecycle.c, such a
 * plan is LEB_E_INVALID_PLAN rather than an assertion.
 */
static int autorenew_plan_check(const struct plan *plan)
{
    if (plan->amount_min <= 0 || plan->amount_min > plan->amount_max || plan->amount_step <= 0) {
        return LEB_E_INVALID_PLAN;
    }
    if (plan->denominations_count > PLAN_DENOMINATIONS_MAX) {
        return LEB_E_INVALID_PLAN;
    }
    if (plan->monthly_fee < 0 || plan->remind_days_before < 0) {
        return LEB_E_INVALID_PLAN;
    }
    return LEB_OK;
}

static bool autorenew_plan_has_denomination(const struct plan *plan, int64_t amount)
{
    for (size_t i = 0; i < plan->denominations_count; i++) {
        if (plan->denominations[i] == amount) {
            return true;
        }
    }
    return false;
}

/*
 * Whether a top-up of "amount" is one the plan sells: within [amount_min, amount_max], and a
 * denomination or a multiple of amount_step. This is pricing_quote()'s rule without its first
 * check, that the card is rechargeable: a setting stays valid while a plan has stopped
 * selling top-ups for a time, and autorenew_decide() looks at recharge_allowed itself.
 * autorenew_test.c holds the two rules to the same answers.
 */
static bool autorenew_amount_is_allowed(const struct plan *plan, int64_t amount)
{
    if (amount < plan->amount_min || amount > plan->amount_max) {
        return false;
    }
    return autorenew_plan_has_denomination(plan, amount) || amount % plan->amount_step == 0;
}

/*
 * The smallest amount the plan allows that is at least "target", into "*out"; false if every
 * allowed amount is below it. Candidates are the first multiple of amount_step from
 * max(target, amount_min) (a multiple past int64 is past amount_max too) and the
 * denominations, which need not be multiples of the step.
 */
static bool autorenew_amount_smallest_from(int64_t *out, const struct plan *plan, int64_t target)
{
    int64_t from = target > plan->amount_min ? target : plan->amount_min;
    int64_t steps = from / plan->amount_step;
    int64_t multiple;
    bool found = false;

    if (from > plan->amount_max) {
        return false;
    }
    if (from % plan->amount_step != 0) {
        steps++; /* from > 0, so from / amount_step < INT64_MAX */
    }
    if (!__builtin_mul_overflow(steps, plan->amount_step, &multiple) &&
        multiple <= plan->amount_max) {
        *out = multiple;
        found = true;
    }
    for (size_t i = 0; i < plan->denominations_count; i++) {
        int64_t denomination = plan->denominations[i];

        if (denomination >= from && denomination <= plan->amount_max &&
            (!found || denomination < *out)) {
            *out = denomination;
            found = true;
        }
    }
    LEB_ASSERT(!found || (*out >= target && autorenew_amount_is_allowed(plan, *out)));
    return found;
}

/* The largest amount the plan allows, into "*out"; false if it allows none at all (a range
 * holding no multiple of the step and no denomination). */
static bool autorenew_amount_largest(int64_t *out, const struct plan *plan)
{
    int64_t multiple = plan->amount_max / plan->amount_step * plan->amount_step;
    bool found = false;

    if (multiple >= plan->amount_min) {
        *out = multiple;
        found = true;
    }
    for (size_t i = 0; i < plan->denominations_count; i++) {
        int64_t denomination = plan->denominations[i];

        if (denomination >= plan->amount_min && denomination <= plan->amount_max &&
            (!found || denomination > *out)) {
            *out = denomination;
            found = true;
        }
    }
    LEB_ASSERT(!found || autorenew_amount_is_allowed(plan, *out));
    return found;
}

/*
 * What keep_fee charges to bring the card to "needed" more than it holds: the smallest
 * amount the plan allows that is at least "needed", or, when even the largest is not enough,
 * the largest (normally amount_max): a charge that covers part of the fee still buys the
 * cardholder time, and a cap is a cap. The plan allows some amount: autorenew_setting_check()
 * refuses keep_fee on a plan that allows none.
 */
static int64_t autorenew_amount_covering(const struct plan *plan, int64_t needed)
{
    int64_t amount = 0;
    bool found = autorenew_amount_smallest_from(&amount, plan, needed);

    if (!found) {
        found = autorenew_amount_largest(&amount, plan);
    }
    LEB_ASSERT(found);
    LEB_ASSERT(amount > 0 && autorenew_amount_is_allowed(plan, amount));
    return amount;
}

/* ---------------------------------------------------------------------------------------
 * Settings
 * ------------------------------------------------------------------------------------- */

/*
 * Whether "plan" can honour "setting" (see autorenew.h). keep_fee needs a monthly fee to
 * keep, and a plan that sells at least one amount; threshold needs a threshold that is not
 * negative (0 is allowed: it never tops up an active card, only a suspended one) and an
 * amount the plan sells. The threshold rule's fields mean nothing to keep_fee and are not
 * looked at, so a cardholder who switches rules may keep them for later. A plan that
 * contradicts itself is LEB_E_INVALID_PLAN.
 */
int autorenew_setting_check(const struct autorenew_setting *setting, const struct plan *plan)
{
    int64_t largest;
    int error;

    LEB_ASSERT(setting != NULL && plan != NULL);
    autorenew_rule_assert(setting->rule);
    LEB_ASSERT((int)plan->model >= RETENTION_MONTHLY_FEE && plan->model <= RETENTION_VALIDITY);

    if ((error = autorenew_plan_check(plan)) != 0) {
        return error;
    }
    if (setting->rule == AUTORENEW_KEEP_FEE) {
        if (plan->model != RETENTION_MONTHLY_FEE || !autorenew_amount_largest(&largest, plan)) {
            return LEB_E_INVALID_REQUEST;
        }
        return LEB_OK;
    }
    if (setting->threshold < 0 || !autorenew_amount_is_allowed(plan, setting->amount)) {
        return LEB_E_INVALID_REQUEST;
    }
    return LEB_OK;
}

/* ---------------------------------------------------------------------------------------
 * Decisions
 * ------------------------------------------------------------------------------------- */

static bool autorenew_time_is_valid(int64_t unix_s)
{
    return unix_s >= 0 && unix_s <= AUTORENEW_TIME_MAX;
}

/*
 * Whether "card" and the attempts recorded for it are a state the rules can have written, at
 * "now". The card: as lifecycle.c has it (amounts and times never negative, arrears only on a
 * suspended monthly_fee card, a suspended card knows when, an active monthly_fee card knows
 * its next billing instant). The attempts: never negative, and a last attempt, within the
 * calendar like "now", exactly when there was one. More attempts than AUTORENEW_ATTEMPTS_MAX
 * is not refused but counts as used up, so that lowering the cap in a later release does not
 * turn the rows already stored into errors.
 */
static int autorenew_state_check(const struct card_state *card, const struct plan *plan,
                                 int64_t cycle_tried, int64_t attempts, int64_t last_attempt_at,
                                 int64_t now)
{
    if (!autorenew_time_is_valid(now)) {
        return LEB_E_INVALID_REQUEST;
    }
    if (attempts < 0 || cycle_tried < 0 || !autorenew_time_is_valid(last_attempt_at)) {
        return LEB_E_INVALID_REQUEST;
    }
    if ((attempts == 0) != (last_attempt_at == 0)) {
        return LEB_E_INVALID_REQUEST;
    }
    if (card->balance < 0 || card->arrears < 0) {
        return LEB_E_INVALID_REQUEST;
    }
    if (card->next_billing_at < 0 || card->valid_until < 0 || card->suspended_at < 0) {
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
    if (card->status == CARD_ACTIVE && plan->model == RETENTION_MONTHLY_FEE &&
        card->next_billing_at == 0) {
        return LEB_E_INVALID_REQUEST;
    }
    return LEB_OK;
}

/*
 * The cycle a top-up of "card" would be for: the instant the lifecycle acts on next, which is
 * also the instant a suspended card was suspended at. 0 for none: a recycled card, or a
 * validity card without an end of validity, which nothing threatens.
 */
static int64_t autorenew_cycle(const struct card_state *card, const struct plan *plan)
{
    switch (card->status) {
    case CARD_ACTIVE:
        return plan->model == RETENTION_MONTHLY_FEE ? card->next_billing_at : card->valid_until;
    case CARD_SUSPENDED:
        return card->suspended_at;
    case CARD_RECYCLED:
        break;
    }
    return 0;
}

/*
 * The first instant an active card's top-up for "cycle" is due: AUTORENEW_LEAD_DAYS +
 * remind_days_before days before it, so that a charge that works lands before the
 * low-balance reminder would be sent. Neither "cycle" nor the lead is negative, so it cannot
 * overflow; the check is there so that no later change can make it wrap silently.
 */
static int autorenew_lead_from(int64_t *out, const struct plan *plan, int64_t cycle)
{
    int64_t lead_days = (int64_t)AUTORENEW_LEAD_DAYS + (int64_t)plan->remind_days_before;
    int64_t lead_s;

    if (__builtin_mul_overflow(lead_days, (int64_t)LIFECYCLE_DAY_S, &lead_s) ||
        __builtin_sub_overflow(cycle, lead_s, out)) {
        return LEB_E_INVALID_REQUEST;
    }
    return LEB_OK;
}

/*
 * What "card" needs under "setting", or 0 if it needs nothing. keep_fee on an active card:
 * what makes balance + amount >= monthly_fee, nothing if the balance covers the fee already.
 * keep_fee on a suspended card: what pays its arrears; its balance helps, as it does in
 * lifecycle_apply_credit(), and a card that owes nothing more (one created suspended) still
 * needs a credit to come back, so it gets the smallest amount the plan sells. threshold:
 * "amount" when the balance is below "threshold", and always for a suspended card.
 */
static int64_t autorenew_amount_needed(const struct card_state *card, const struct plan *plan,
                                       const struct autorenew_setting *setting)
{
    int64_t short_by;

    if (setting->rule == AUTORENEW_THRESHOLD) {
        if (card->status == CARD_SUSPENDED || card->balance < setting->threshold) {
            return setting->amount;
        }
        return 0;
    }
    LEB_ASSERT(plan->model == RETENTION_MONTHLY_FEE); /* autorenew_setting_check() */
    if (card->status == CARD_SUSPENDED) {
        /* Both are non-negative, so the difference cannot wrap. */
        short_by = card->arrears > card->balance ? card->arrears - card->balance : 0;
        return autorenew_amount_covering(plan, short_by);
    }
    if (card->balance >= plan->monthly_fee) {
        return 0;
    }
    short_by = plan->monthly_fee - card->balance;
    return autorenew_amount_covering(plan, short_by);
}

/*
 * Whether one more charge for "cycle" may be tried at "now". Attempts recorded for another
 * cycle do not count: a new cycle starts afresh. Within the cycle, none after
 * AUTORENEW_ATTEMPTS_MAX, and none sooner than AUTORENEW_RETRY_S after the last, so that a
 * declined card is not charged on every run of the job.
 */
static int autorenew_attempt_allowed(bool *out, int64_t cycle, int64_t cycle_tried,
                                     int64_t attempts, int64_t last_attempt_at, int64_t now)
{
    int64_t retry_at;

    if (cycle_tried != cycle || attempts == 0) {
        *out = true;
        return LEB_OK;
    }
    if (attempts >= AUTORENEW_ATTEMPTS_MAX) {
        *out = false;
        return LEB_OK;
    }
    /* last_attempt_at is within the calendar, so this cannot fail; it is checked anyway. */
    if (__builtin_add_overflow(last_attempt_at, (int64_t)AUTORENEW_RETRY_S, &retry_at)) {
        return LEB_E_INVALID_REQUEST;
    }
    *out = now >= retry_at;
    return LEB_OK;
}

/*
 * Whether "card" on "plan" is topped up at "now" under "setting" (see autorenew.h). The checks
 * run plan, setting, state, so that the job can tell an operator's mistake
 * (LEB_E_INVALID_PLAN), a cardholder's setting the plan no longer honours and a broken row
 * (both LEB_E_INVALID_REQUEST) apart. Then: a recycled card never; a card on a plan that no
 * longer sells top-ups not either (pricing would refuse the order); a suspended card at once;
 * an active card from its lead on. "cycle" is set whenever the card has one, charge or not;
 * "amount" only with a charge. "*out" is written only on success.
 */
int autorenew_decide(struct autorenew_decision *out, const struct card_state *card,
                     const struct plan *plan, const struct autorenew_setting *setting,
                     int64_t cycle_tried, int64_t attempts, int64_t last_attempt_at, int64_t now)
{
    struct autorenew_decision decision;
    int64_t amount;
    int64_t lead_from;
    bool attempt_allowed = false;
    int error;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(card != NULL && plan != NULL && setting != NULL);
    LEB_ASSERT((int)card->status >= CARD_ACTIVE && card->status <= CARD_RECYCLED);

    if ((error = autorenew_setting_check(setting, plan)) != 0) {
        return error;
    }
    if ((error = autorenew_state_check(card, plan, cycle_tried, attempts, last_attempt_at, now)) !=
        0) {
        return error;
    }

    memset(&decision, 0, sizeof(decision));
    decision.charge = false;
    decision.amount = 0;
    decision.cycle = autorenew_cycle(card, plan);
    if (decision.cycle == 0 || !plan->recharge_allowed) {
        *out = decision;
        return LEB_OK;
    }
    if (card->status == CARD_ACTIVE) {
        if ((error = autorenew_lead_from(&lead_from, plan, decision.cycle)) != 0) {
            return error;
        }
        if (now < lead_from) {
            decision.next_check_at = lead_from;
            *out = decision;
            return LEB_OK;
        }
    }
    if ((error = autorenew_attempt_allowed(&attempt_allowed, decision.cycle, cycle_tried, attempts,
                                           last_attempt_at, now)) != 0) {
        return error;
    }
    amount = autorenew_amount_needed(card, plan, setting);
    if (attempt_allowed && amount > 0) {
        decision.charge = true;
        decision.amount = amount;
    } else if (amount > 0 && decision.cycle == cycle_tried && attempts > 0 &&
               attempts < AUTORENEW_ATTEMPTS_MAX) {
        decision.next_check_at = last_attempt_at + AUTORENEW_RETRY_S; /* checked above */
    }

    /* A charge is for a real cycle and is an amount the plan sells; no charge carries no
     * amount, so a caller that forgets to look at "charge" still moves no money. */
    LEB_ASSERT(!decision.charge ||
               (decision.cycle > 0 && autorenew_amount_is_allowed(plan, decision.amount)));
    LEB_ASSERT(decision.charge || decision.amount == 0);
    *out = decision;
    return LEB_OK;
}
