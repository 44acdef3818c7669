/*
 * lifecycle.c - the job that keeps numbers alive: for every card whose due instant has come,
 * applies the steps src/core/lifecycle.c decides (fees, suspension, recycling, reminders),
 * each with its ledger posting and its outbox messages, in the card's own transaction.
 *
 * A step is recorded under its unique (card, kind, period) key in the same transaction, and
 * the card's state moves past it, so a second run, a late run, a run on another node or a run
 * cut short by a crash never charges a cycle twice.
 */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "core/ledger.h"
#include "core/timeutil.h"
#include "util/log.h"

#define DUE_BATCH_MAX 200
#define DUE_ROUNDS_MAX 10000

void app_card_state(struct card_state *out, const struct card_row *card)
{
    *out = (struct card_state){.status = card->status,
                               .balance = card->balance,
                               .arrears = card->arrears,
                               .activated_at = card->activated_at,
                               .next_billing_at = card->next_billing_at,
                               .valid_until = card->valid_until,
                               .suspended_at = card->suspended_at,
                               .reminded_for = card->reminded_for,
                               .warned_for = card->warned_for};
}

void app_plan_rules(struct plan_lifecycle *out, const struct plan *plan)
{
    *out = (struct plan_lifecycle){.remind_days_before = plan->remind_days_before,
                                   .recycle_warning_days = plan->recycle_warning_days};
}

void app_card_state_store(struct card_row *card, const struct card_state *state,
                          const struct plan *plan, int64_t now)
{
    struct plan_lifecycle rules;
    app_plan_rules(&rules, plan);
    card->status = state->status;
    card->balance = state->balance;
    card->arrears = state->arrears;
    card->next_billing_at = state->next_billing_at;
    card->valid_until = state->valid_until;
    card->suspended_at = state->suspended_at;
    card->reminded_for = state->reminded_for;
    card->warned_for = state->warned_for;
    card->due_at = lifecycle_due_at(state, plan, &rules, now);
}

static json_t *time_or_null(int64_t unix_s)
{
    if (unix_s == 0)
        return json_null();
    char text[RFC3339_SIZE];
    time_format_rfc3339(text, unix_s);
    return json_string(text);
}

/* The ledger posting and the messages of one step. */
static int step_effects(struct store_tx *tx, const struct card_row *card, const struct plan *plan,
                        const struct lifecycle_step *step, int64_t now)
{
    struct ledger_posting posting;
    int rc = 0;
    switch (step->action) {
    case LIFECYCLE_CHARGE_FEE:
        if (step->amount == 0)
            break; /* a plan without a fee moves its billing day on and posts nothing */
        rc = ledger_post_monthly_fee(&posting, card->card_no, step->amount, card->currency);
        if (rc == 0)
            rc = STORE_TX(tx, tx_ledger_post, &posting, NULL, now);
        break;
    case LIFECYCLE_SUSPEND:
        rc = app_outbox_sms(tx, card, "suspended",
                            json_pack("{s:I, s:s, s:o}", "arrears", (json_int_t)step->amount,
                                      "currency", card->currency, "recycle_at",
                                      time_or_null(step->after.suspended_at +
                                                   (int64_t)plan->grace_days * LIFECYCLE_DAY_S)),
                            now);
        if (rc == 0)
            rc = app_outbox_webhook(tx, card, "card.suspended", now);
        break;
    case LIFECYCLE_RECYCLE:
        if (step->amount > 0) {
            rc = ledger_post_forfeit(&posting, card->card_no, step->amount, card->currency);
            if (rc == 0)
                rc = STORE_TX(tx, tx_ledger_post, &posting, NULL, now);
        }
        if (rc == 0)
            rc = app_outbox_sms(tx, card, "recycled", NULL, now);
        if (rc == 0)
            rc = app_outbox_webhook(tx, card, "card.recycled", now);
        break;
    case LIFECYCLE_REMIND_LOW:
        rc = app_outbox_sms(tx, card, "low_balance",
                            json_pack("{s:I, s:I, s:s, s:o}", "balance", (json_int_t)card->balance,
                                      "fee", (json_int_t)plan->monthly_fee, "currency",
                                      card->currency, "due_at", time_or_null(step->period)),
                            now);
        break;
    case LIFECYCLE_WARN_RECYCLE:
        rc = app_outbox_sms(tx, card, "recycle_warning",
                            json_pack("{s:o}", "recycle_at",
                                      time_or_null(card->suspended_at +
                                                   (int64_t)plan->grace_days * LIFECYCLE_DAY_S)),
                            now);
        break;
    case LIFECYCLE_NONE:
    case LIFECYCLE_ACTION_COUNT:
        LEB_ASSERT(0);
    }
    return rc;
}

struct run_job {
    int64_t now;
    size_t due;
    struct lifecycle_stats stats; /* of this transaction alone */
};

static int card_run(struct store_tx *tx, struct run_job *job, const char *card_no)
{
    struct card_row card;
    struct plan plan;
    int rc = STORE_TX(tx, tx_card_get, &card, card_no);
    if (rc == 0)
        rc = STORE_TX(tx, tx_plan_get, &plan, card.plan_code);
    if (rc < 0)
        return rc;
    struct plan_lifecycle rules;
    app_plan_rules(&rules, &plan);
    struct card_state state;
    app_card_state(&state, &card);
    int steps = 0;
    for (int i = 0; i < LIFECYCLE_STEPS_MAX; i++, steps++) {
        struct lifecycle_step step;
        rc = lifecycle_next(&step, &state, &plan, &rules, job->now);
        if (rc < 0 || step.action == LIFECYCLE_NONE)
            break;
        rc = STORE_TX(tx, tx_lifecycle_event_put, card.card_no, lifecycle_action_name(step.action),
                      step.period, step.amount, job->now);
        if (rc < 0)
            return rc;
        /* The card's state is written with its events, so an event already on record means
         * the state below was written by a run that did not commit its state: impossible in
         * one transaction. Trust the record, not the repeat: skip the effects. */
        if (rc == 0) {
            card.status = step.after.status; /* messages carry the status after the step */
            rc = step_effects(tx, &card, &plan, &step, job->now);
            if (rc < 0)
                return rc;
        }
        state = step.after;
        card.balance = state.balance;
        card.suspended_at = state.suspended_at;
        job->stats.steps[step.action]++;
    }
    if (rc < 0) {
        char masked[CARDNO_MASKED_SIZE];
        cardno_mask(masked, card.card_no);
        LOG_ERROR("lifecycle: a card's state breaks the rules; it is left as it is", "card", masked,
                  "code", leb_error_name(rc));
        /* Not due again until someone looks: an hour from now, not every run. */
        card.due_at = job->now + 3600;
        return STORE_TX(tx, tx_card_update_lifecycle, &card);
    }
    app_card_state_store(&card, &state, &plan, job->now);
    job->stats.cards++;
    rc = STORE_TX(tx, tx_card_update_lifecycle, &card);
    /* A fee, a suspension or a recycling changes what auto-renewal must do: have it look at
     * the card on its next run. */
    struct autorenew_row renewal;
    if (rc == 0 && steps > 0 && STORE_TX(tx, tx_autorenew_get, &renewal, card.card_no) == 0 &&
        renewal.enabled && renewal.next_check_at > job->now) {
        renewal.next_check_at = job->now;
        rc = STORE_TX(tx, tx_autorenew_put, &renewal);
    }
    return rc;
}

static int run_in_tx(struct store_tx *tx, void *arg)
{
    struct run_job *job = arg;
    char due[DUE_BATCH_MAX][CARDNO_SIZE];
    memset(&job->stats, 0, sizeof(job->stats)); /* a write function may run again */
    int rc = STORE_TX(tx, tx_cards_due, job->now, due, DUE_BATCH_MAX, &job->due);
    for (size_t i = 0; rc == 0 && i < job->due; i++)
        rc = card_run(tx, job, due[i]);
    return rc;
}

int app_lifecycle_run(struct app *app, struct lifecycle_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    int64_t now = app_now(app);
    for (int round = 0; round < DUE_ROUNDS_MAX; round++) {
        struct run_job job = {.now = now};
        int rc = store_write(app->store, run_in_tx, &job);
        if (rc < 0)
            return rc;
        stats->cards += job.stats.cards;
        for (int a = 0; a < LIFECYCLE_ACTION_COUNT; a++)
            stats->steps[a] += job.stats.steps[a];
        if (job.due < DUE_BATCH_MAX)
            break;
    }
    return 0;
}
