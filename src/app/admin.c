/*
 * admin.c - the back office's writes: plans, cards (one or a batch, all or nothing), and the
 * demo data of ../shared/API.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "core/cardno.h"
#include "core/timeutil.h"

struct plan_job {
    const struct plan *plan;
    int64_t now;
};

static int plan_in_tx(struct store_tx *tx, void *arg)
{
    struct plan_job *job = arg;
    return STORE_TX(tx, tx_plan_insert, job->plan, job->now);
}

int app_plan_create(struct app *app, const struct plan *plan)
{
    int rc = plan_validate(plan);
    if (rc < 0)
        return rc;
    struct plan_job job = {.plan = plan, .now = app_now(app)};
    return store_write(app->store, plan_in_tx, &job);
}

struct cards_job {
    struct card_row *rows;
    size_t count;
    struct batch_error *errors;
    size_t errors_max;
    size_t errors_count;
};

static void batch_error_add(struct cards_job *job, size_t index, int code)
{
    if (job->errors_count < job->errors_max)
        job->errors[job->errors_count] = (struct batch_error){.index = index, .code = code};
    job->errors_count++;
}

static int cards_in_tx(struct store_tx *tx, void *arg)
{
    struct cards_job *job = arg;
    for (size_t i = 0; i < job->count; i++) {
        struct plan plan;
        int rc = STORE_TX(tx, tx_plan_get, &plan, job->rows[i].plan_code);
        if (rc == 0) {
            /* A new card's billing day, validity and due instant come from its plan. */
            struct card_row *row = &job->rows[i];
            struct card_state state;
            memcpy(row->currency, plan.currency, CURRENCY_SIZE);
            lifecycle_new_card(&state, &plan, row->status, row->created_at);
            app_card_state_store(row, &state, &plan, row->created_at);
            rc = STORE_TX(tx, tx_card_insert, row);
        }
        if (rc == LEB_E_PLAN_NOT_FOUND || rc == LEB_E_CARD_EXISTS)
            batch_error_add(job, i, rc);
        else if (rc < 0)
            return rc;
    }
    /* One bad row and the whole batch rolls back: a half-imported batch is worse than none. */
    return job->errors_count > 0 ? LEB_E_INVALID_BATCH : 0;
}

int app_cards_create(struct app *app, struct card_row *out, const struct card_request *cards,
                     size_t count, struct batch_error *errors, size_t errors_max,
                     size_t *errors_count)
{
    LEB_ASSERT(count > 0);
    int64_t now = app_now(app);
    struct cards_job job = {.count = count, .errors = errors, .errors_max = errors_max};
    job.rows = calloc(count, sizeof(*job.rows));
    LEB_ASSERT(job.rows != NULL);
    for (size_t i = 0; i < count; i++) {
        struct card_row *row = &job.rows[i];
        int rc = cardno_normalize(row->card_no, cards[i].card_no);
        if (rc == 0)
            rc = msisdn_normalize(row->msisdn, cards[i].msisdn);
        if (rc == 0 && (cards[i].plan == NULL || strlen(cards[i].plan) >= PLAN_CODE_SIZE))
            rc = LEB_E_PLAN_NOT_FOUND;
        if (rc < 0) {
            batch_error_add(&job, i, rc);
            continue;
        }
        snprintf(row->plan_code, sizeof(row->plan_code), "%s", cards[i].plan);
        row->status = cards[i].status;
        row->activated_at = now;
        row->created_at = now;
        snprintf(row->language, sizeof(row->language), "zh");
        /* The same card twice in one batch is a bad row too, not a database error. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(job.rows[j].card_no, row->card_no) == 0) {
                batch_error_add(&job, i, LEB_E_CARD_EXISTS);
                break;
            }
    }
    int rc =
        job.errors_count > 0 ? LEB_E_INVALID_BATCH : store_write(app->store, cards_in_tx, &job);
    *errors_count = job.errors_count;
    if (rc == 0 && out != NULL) {
        for (size_t i = 0; i < count && rc == 0; i++)
            rc = STORE_CALL(app->store, card_get, &out[i], job.rows[i].card_no);
    }
    free(job.rows);
    return rc;
}

int app_demo_seed(struct app *app)
{
    struct plan plan = {
        .code = "KEEP8",
        .name = "保号套餐 8 元/月",
        .currency = "CNY",
        .model = RETENTION_MONTHLY_FEE,
        .monthly_fee = 800,
        .denominations = {5000, 10000, 20000},
        .denominations_count = 3,
        .amount_min = 1000,
        .amount_max = 50000,
        .amount_step = 100,
        .daily_limit = 0,
        .grace_days = 90,
        .recharge_allowed = true,
        .remind_days_before = 3,
        .recycle_warning_days = 7,
    };
    struct plan existing;
    int rc = STORE_CALL(app->store, plan_get, &existing, plan.code);
    if (rc == LEB_E_PLAN_NOT_FOUND)
        rc = app_plan_create(app, &plan);
    if (rc < 0 && rc != LEB_E_PLAN_EXISTS)
        return rc;
    static const struct card_request demo_cards[] = {
        {"8986010000000000018", "+8613800000001", "KEEP8", CARD_ACTIVE},
        {"8986010000000000026", "+8613800000002", "KEEP8", CARD_SUSPENDED},
        {"8986010000000000034", "+8613800000003", "KEEP8", CARD_RECYCLED},
    };
    for (size_t i = 0; i < sizeof(demo_cards) / sizeof(demo_cards[0]); i++) {
        struct card_row card;
        rc = STORE_CALL(app->store, card_get, &card, demo_cards[i].card_no);
        if (rc == 0)
            continue;
        if (rc != LEB_E_CARD_NOT_FOUND)
            return rc;
        struct batch_error error;
        size_t errors = 0;
        rc = app_cards_create(app, NULL, &demo_cards[i], 1, &error, 1, &errors);
        if (rc < 0)
            return rc;
    }
    return 0;
}
