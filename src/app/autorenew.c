/*
 * autorenew.c - auto-renewal: a card with a payment agreement is topped up before its fee or
 * validity falls due, through the same order and payment path as any top-up.
 *
 * At most one charge per card per cycle rests on the trade number: the agreement charge for a
 * cycle is asked for under "AR<card_no>C<cycle>", which the provider charges once (a repeated
 * request returns the first trade), and the payments table credits a trade once. A crash
 * between the charge and the credit is therefore repaired by the next attempt, never doubled.
 * Only the sandbox agreement exists yet; the real providers' agreement APIs plug in here.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "app/app.h"
#include "core/autorenew.h"
#include "core/cardno.h"
#include "util/log.h"

#define AUTORENEW_BATCH_MAX 100
#define AUTORENEW_ROUNDS_MAX 1000
#define AUTORENEW_IDLE_CHECK_S (6 * 3600) /* a card with nothing due is looked at again then */

static int setting_of(struct autorenew_setting *out, const struct autorenew_row *row)
{
    int rc = autorenew_rule_parse(&out->rule, row->rule);
    out->amount = row->amount;
    out->threshold = row->threshold;
    return rc;
}

struct set_job {
    struct autorenew_row row;
    int64_t now;
};

static int set_in_tx(struct store_tx *tx, void *arg)
{
    struct set_job *job = arg;
    struct autorenew_row existing;
    int rc = STORE_TX(tx, tx_autorenew_get, &existing, job->row.card_no);
    if (rc == 0) {
        /* A change of rule keeps the cycle's attempts: it must not buy a second charge. */
        job->row.cycle_tried = existing.cycle_tried;
        job->row.attempts = existing.attempts;
        job->row.last_attempt_at = existing.last_attempt_at;
        job->row.created_at = existing.created_at;
        if (existing.agreement_id[0] != '\0')
            memcpy(job->row.agreement_id, existing.agreement_id, sizeof(existing.agreement_id));
    } else if (rc != LEB_E_NOT_FOUND) {
        return rc;
    }
    return STORE_TX(tx, tx_autorenew_put, &job->row);
}

int app_autorenew_set(struct app *app, struct autorenew_row *out,
                      const struct autorenew_request *request)
{
    struct card_row card;
    int rc = app_card_find(app, &card, request->card);
    if (rc < 0)
        return rc;
    if (card.status == CARD_RECYCLED && request->enabled)
        return LEB_E_CARD_NOT_RECHARGEABLE; /* turning it off is always allowed */
    struct plan plan;
    rc = STORE_CALL(app->store, plan_get, &plan, card.plan_code);
    if (rc < 0)
        return rc == LEB_E_PLAN_NOT_FOUND ? LEB_E_INTERNAL : rc;
    const char *behaviour = request->behaviour ? request->behaviour : "succeed";
    if (strcmp(behaviour, "succeed") != 0 && strcmp(behaviour, "fail") != 0)
        return LEB_E_INVALID_REQUEST;
    if (!app->sandbox_enabled)
        return LEB_E_PAYMENT_METHOD_UNAVAILABLE; /* the only agreement there is, for now */

    struct set_job job = {.now = app_now(app)};
    struct autorenew_row *row = &job.row;
    memcpy(row->card_no, card.card_no, CARDNO_SIZE);
    snprintf(row->rule, sizeof(row->rule), "%s", request->rule ? request->rule : "keep_fee");
    row->amount = request->amount;
    row->threshold = request->threshold;
    /* Turning it off needs no rule the plan can honour; a disabled row keeps what was set. */
    struct autorenew_row existing;
    if (!request->enabled && STORE_CALL(app->store, autorenew_get, &existing, card.card_no) == 0) {
        *row = existing;
        row->enabled = false;
    } else {
        struct autorenew_setting setting;
        rc = setting_of(&setting, row);
        if (rc == 0 && request->enabled)
            rc = autorenew_setting_check(&setting, &plan);
        if (rc < 0)
            return rc;
    }
    snprintf(row->provider, sizeof(row->provider), "sandbox");
    unsigned char random[8];
    randombytes_buf(random, sizeof(random));
    char hex[2 * sizeof(random) + 1];
    sodium_bin2hex(hex, sizeof(hex), random, sizeof(random));
    snprintf(row->agreement_id, sizeof(row->agreement_id), "SBXAGR%s", hex);
    snprintf(row->behaviour, sizeof(row->behaviour), "%s", behaviour);
    row->enabled = request->enabled;
    row->next_check_at = job.now; /* look at it on the next run */
    row->created_at = job.now;
    rc = store_write(app->store, set_in_tx, &job);
    if (rc < 0)
        return rc;
    return STORE_CALL(app->store, autorenew_get, out, card.card_no);
}

/* What the decision of one card came to, for the steps outside the transaction. */
struct decide_job {
    const char *card_no;
    int64_t now;
    bool charge;
    bool given_up; /* the last attempt of the cycle failed before: tell the cardholder */
    int64_t amount;
    int64_t cycle;
    int64_t attempt;
    struct autorenew_row row;
};

static int decide_in_tx(struct store_tx *tx, void *arg)
{
    struct decide_job *job = arg;
    job->charge = false;
    struct card_row card;
    struct plan plan;
    int rc = STORE_TX(tx, tx_autorenew_get, &job->row, job->card_no);
    if (rc == 0)
        rc = STORE_TX(tx, tx_card_get, &card, job->card_no);
    if (rc == 0)
        rc = STORE_TX(tx, tx_plan_get, &plan, card.plan_code);
    if (rc < 0)
        return rc;
    struct autorenew_row *row = &job->row;
    if (card.status == CARD_RECYCLED) {
        /* The number is gone, and the agreement with it. */
        row->enabled = false;
        return STORE_TX(tx, tx_autorenew_put, row);
    }
    struct autorenew_setting setting;
    struct card_state state;
    struct autorenew_decision decision;
    app_card_state(&state, &card);
    rc = setting_of(&setting, row);
    if (rc == 0)
        rc = autorenew_decide(&decision, &state, &plan, &setting, row->cycle_tried, row->attempts,
                              row->last_attempt_at, job->now);
    if (rc < 0) {
        row->next_check_at = job->now + AUTORENEW_IDLE_CHECK_S;
        return STORE_TX(tx, tx_autorenew_put, row);
    }
    /* Nothing due: look again when the rules say (the lead, a retry), and at the latest after
     * the idle interval; the lifecycle job also calls it back after every change it makes. */
    int64_t idle_until = job->now + AUTORENEW_IDLE_CHECK_S;
    if (decision.charge) {
        if (row->cycle_tried != decision.cycle) {
            row->cycle_tried = decision.cycle;
            row->attempts = 0;
        }
        row->attempts++;
        row->last_attempt_at = job->now;
        row->next_check_at = job->now + AUTORENEW_RETRY_S;
        job->charge = true;
        job->amount = decision.amount;
        job->cycle = decision.cycle;
        job->attempt = row->attempts;
    } else {
        row->next_check_at =
            decision.next_check_at > job->now && decision.next_check_at < idle_until
                ? decision.next_check_at
                : idle_until;
    }
    return STORE_TX(tx, tx_autorenew_put, row);
}

struct given_up_job {
    const char *card_no;
    int64_t cycle;
    int64_t now;
};

/* Tells the cardholder, once per cycle, that auto-renewal could not charge. */
static int given_up_in_tx(struct store_tx *tx, void *arg)
{
    struct given_up_job *job = arg;
    struct card_row card;
    int rc = STORE_TX(tx, tx_card_get, &card, job->card_no);
    if (rc == 0)
        rc = STORE_TX(tx, tx_lifecycle_event_put, job->card_no, "auto_renew_failed", job->cycle, 0,
                      job->now);
    if (rc != 0)
        return rc < 0 ? rc : 0; /* 1: told already */
    return app_outbox_sms(tx, &card, "auto_renew_failed", NULL, job->now);
}

/* The sandbox agreement charges, under its idempotency key, or refuses as it was set up to. */
static bool sandbox_agreement_charge(const struct autorenew_row *row)
{
    return strcmp(row->behaviour, "succeed") == 0;
}

static int charge_one(struct app *app, struct decide_job *job, struct autorenew_stats *stats)
{
    char key[96];
    snprintf(key, sizeof(key), "autorenew:%s:%lld:%lld", job->card_no, (long long)job->cycle,
             (long long)job->attempt);
    struct order_request request = {.card = job->card_no,
                                    .face_amount = job->amount,
                                    .channel = CHANNEL_AUTO_RENEW,
                                    .method = PAYMENT_SANDBOX,
                                    .caller = CALLER_SCHEDULER};
    struct order_row order;
    bool replayed;
    int rc = app_order_create(app, &order, &replayed, &request, key);
    if (rc < 0)
        return rc;
    if (sandbox_agreement_charge(&job->row)) {
        char trade_no[TRADE_NO_SIZE];
        snprintf(trade_no, sizeof(trade_no), "AR%sC%lld", job->card_no, (long long)job->cycle);
        char raw[256];
        snprintf(raw, sizeof(raw), "{\"agreement_id\":\"%s\",\"trade_no\":\"%s\"}",
                 job->row.agreement_id, trade_no);
        struct payment_notice notice = {.provider = "sandbox",
                                        .order_no = order.order_no,
                                        .trade_no = trade_no,
                                        .amount = order.quote.pay_amount,
                                        .success = true,
                                        .status_word = "AGREEMENT_CHARGED",
                                        .raw = raw,
                                        .raw_size = strlen(raw)};
        enum payment_outcome outcome;
        rc = app_payment_apply(app, &outcome, &notice);
        if (rc < 0)
            return rc;
        if (outcome == PAYMENT_CREDITED)
            stats->charged++;
        return 0;
    }
    stats->failed++;
    char masked[CARDNO_MASKED_SIZE];
    cardno_mask(masked, job->card_no);
    LOG_WARN("auto-renewal charge refused by the agreement", "card", masked, "order_no",
             order.order_no);
    if (job->attempt >= AUTORENEW_ATTEMPTS_MAX) {
        struct given_up_job told = {.card_no = job->card_no, .cycle = job->cycle, .now = job->now};
        rc = store_write(app->store, given_up_in_tx, &told);
        if (rc == 0)
            stats->given_up++;
    }
    return rc;
}

struct due_job {
    int64_t now;
    char due[AUTORENEW_BATCH_MAX][CARDNO_SIZE];
    size_t count;
};

static int due_in_tx(struct store_tx *tx, void *arg)
{
    struct due_job *job = arg;
    return STORE_TX(tx, tx_autorenew_due, job->now, job->due, AUTORENEW_BATCH_MAX, &job->count);
}

int app_autorenew_run(struct app *app, struct autorenew_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    int64_t now = app_now(app);
    for (int round = 0; round < AUTORENEW_ROUNDS_MAX; round++) {
        struct due_job due = {.now = now};
        int rc = store_write(app->store, due_in_tx, &due);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < due.count; i++) {
            struct decide_job job = {.card_no = due.due[i], .now = now};
            rc = store_write(app->store, decide_in_tx, &job);
            if (rc == 0 && job.charge)
                rc = charge_one(app, &job, stats);
            if (rc < 0) {
                char masked[CARDNO_MASKED_SIZE];
                cardno_mask(masked, due.due[i]);
                LOG_ERROR("auto-renewal failed", "card", masked, "code", leb_error_name(rc));
            }
        }
        if (due.count < AUTORENEW_BATCH_MAX)
            break;
    }
    return 0;
}
