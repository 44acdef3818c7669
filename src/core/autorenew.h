/*
 * autorenew.h - auto-renewal (自动续费): when a card with a payment agreement is topped up on
 * its own, and by how much. Pure: the job reads the card and the clock, this decides.
 *
 * Rules:
 * - An auto-renewal acts for one "cycle": a monthly_fee card's next_billing_at, or a validity
 *   card's valid_until. At most one charge per card per cycle, whatever happens (the caller
 *   stores the cycle as the charge's unique key).
 * - It acts from AUTORENEW_LEAD_DAYS + the plan's remind_days_before days before the cycle, so
 *   that a successful charge comes before the low-balance reminder would.
 * - keep_fee (monthly_fee plans only): tops up when the balance will not cover the fee, by the
 *   smallest amount the plan allows (a multiple of amount_step, at least amount_min, at most
 *   amount_max) that makes balance + amount >= monthly_fee.
 * - threshold: tops up "amount" when the balance is below "threshold" (either model).
 * - A suspended card is topped up at once (its cycle is its suspended_at) by what pays its
 *   arrears (keep_fee) or by "amount" (threshold); a recycled card never.
 * - A failed charge is retried AUTORENEW_RETRY_S later, at most AUTORENEW_ATTEMPTS_MAX times a
 *   cycle; after the last failure the cardholder is told (the caller sends the SMS).
 */
#ifndef LEB_CORE_AUTORENEW_H
#define LEB_CORE_AUTORENEW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/lifecycle.h"
#include "core/plan.h"

#define AUTORENEW_LEAD_DAYS 1
#define AUTORENEW_RETRY_S (6 * 3600)
#define AUTORENEW_ATTEMPTS_MAX 3

enum autorenew_rule { AUTORENEW_KEEP_FEE = 0, AUTORENEW_THRESHOLD };

const char *autorenew_rule_name(enum autorenew_rule rule);
LEB_MUST_CHECK int autorenew_rule_parse(enum autorenew_rule *out, const char *name);

struct autorenew_setting {
    enum autorenew_rule rule;
    int64_t amount;    /* threshold rule: the top-up, an amount the plan allows */
    int64_t threshold; /* threshold rule: top up when the balance is below this */
};

/* LEB_E_INVALID_REQUEST for a setting the plan cannot honour: keep_fee on a validity plan,
 * a threshold amount the plan does not allow (see pricing), a negative threshold. */
LEB_MUST_CHECK int autorenew_setting_check(const struct autorenew_setting *setting,
                                           const struct plan *plan);

struct autorenew_decision {
    bool charge;    /* a charge is due now */
    int64_t amount; /* what to charge, when due */
    int64_t cycle;  /* the cycle it is for: the charge's unique key with the card */
    /* Without a charge: the instant the decision may change with nothing else happening (the
     * cycle's lead, or the next retry), or 0 when only a change of the card can (a fee
     * charged, a suspension, a credit): the caller looks again after such a change. */
    int64_t next_check_at;
};

/*
 * Whether "card" should be topped up at "now" under "setting", given the attempts already made
 * for "cycle_tried" ("attempts" of them, the last at "last_attempt_at"; 0 when none). A cycle
 * whose attempts are used up gives no charge. LEB_E_INVALID_REQUEST for a broken state.
 */
LEB_MUST_CHECK int autorenew_decide(struct autorenew_decision *out, const struct card_state *card,
                                    const struct plan *plan,
                                    const struct autorenew_setting *setting, int64_t cycle_tried,
                                    int64_t attempts, int64_t last_attempt_at, int64_t now);

#endif
