/*
 * lifecycle_test.c - billing, suspension, reactivation, recycling and reminders: every rule
 * at its boundary, jobs run late or twice, and random sequences of credits and time checked
 * against the invariants the ledger and the store rely on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "core/lifecycle.h"
#include "core/timeutil.h"

#define DAY INT64_C(86400)
#define TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* Unix seconds of a UTC civil time. */
static int64_t utc(int year, int month, int day, int hour, int minute, int second)
{
    return time_days_from_civil(year, month, day) * DAY + hour * 3600 + minute * 60 + second;
}

/* The contract's demo plan KEEP8: 8 yuan a month, 90 days of grace. */
static struct plan plan_monthly(void)
{
    struct plan plan;

    memset(&plan, 0, sizeof(plan));
    strcpy(plan.code, "KEEP8");
    strcpy(plan.name, "KEEP 8");
    strcpy(plan.currency, "CNY");
    plan.model = RETENTION_MONTHLY_FEE;
    plan.monthly_fee = 800;
    plan.amount_min = 1000;
    plan.amount_max = 50000;
    plan.amount_step = 100;
    plan.grace_days = 90;
    plan.recharge_allowed = true;
    return plan;
}

/* 30 days per 10 yuan, at most 365 days ahead, 90 days of grace. */
static struct plan plan_validity(void)
{
    struct plan plan = plan_monthly();

    strcpy(plan.code, "VALID30");
    plan.model = RETENTION_VALIDITY;
    plan.monthly_fee = 0;
    plan.validity_days = 30;
    plan.validity_step_amount = 1000;
    plan.validity_days_max = 365;
    return plan;
}

static const struct plan_lifecycle rules_default = {.remind_days_before = 3,
                                                    .recycle_warning_days = 7};
static const struct plan_lifecycle rules_none = {.remind_days_before = 0,
                                                 .recycle_warning_days = 0};

/* An active monthly_fee card activated at "activated_at" holding "balance". */
static struct card_state card_monthly(int64_t activated_at, int64_t balance)
{
    struct card_state card;
    struct plan plan = plan_monthly();

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, activated_at);
    card.balance = balance;
    return card;
}

/* A monthly_fee card suspended at "suspended_at" for a fee it could not pay. */
static struct card_state card_suspended(int64_t suspended_at, int64_t balance, int64_t arrears)
{
    struct card_state card = card_monthly(suspended_at - 30 * DAY, balance);

    card.status = CARD_SUSPENDED;
    card.arrears = arrears;
    card.next_billing_at = suspended_at;
    card.suspended_at = suspended_at;
    return card;
}

static struct lifecycle_step next_ok(const struct card_state *card, const struct plan *plan,
                                     const struct plan_lifecycle *rules, int64_t now)
{
    struct lifecycle_step step;

    assert_int_equal(lifecycle_next(&step, card, plan, rules, now), LEB_OK);
    return step;
}

static void assert_card_equal(const struct card_state *a, const struct card_state *b)
{
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->balance, b->balance);
    assert_int_equal(a->arrears, b->arrears);
    assert_int_equal(a->activated_at, b->activated_at);
    assert_int_equal(a->next_billing_at, b->next_billing_at);
    assert_int_equal(a->valid_until, b->valid_until);
    assert_int_equal(a->suspended_at, b->suspended_at);
    assert_int_equal(a->reminded_for, b->reminded_for);
    assert_int_equal(a->warned_for, b->warned_for);
}

static void assert_step_equal(const struct lifecycle_step *a, const struct lifecycle_step *b)
{
    assert_int_equal(a->action, b->action);
    assert_int_equal(a->amount, b->amount);
    assert_int_equal(a->period, b->period);
    assert_card_equal(&a->after, &b->after);
}

/* Asserts that nothing is due for "card" at "now", and that NONE leaves it as it is. */
static void assert_nothing_due(const struct card_state *card, const struct plan *plan,
                               const struct plan_lifecycle *rules, int64_t now)
{
    struct lifecycle_step step = next_ok(card, plan, rules, now);

    assert_int_equal(step.action, LIFECYCLE_NONE);
    assert_int_equal(step.amount, 0);
    assert_int_equal(step.period, 0);
    assert_card_equal(&step.after, card);
}

/* The steps one job run took, as the store would record them. */
struct job_log {
    size_t count;
    enum lifecycle_action actions[LIFECYCLE_STEPS_MAX];
    int64_t periods[LIFECYCLE_STEPS_MAX];
    int64_t amounts[LIFECYCLE_STEPS_MAX];
};

/* Runs a job at "now" the way the scheduler does: steps until NONE, each applied. It must
 * find NONE within LIFECYCLE_STEPS_MAX calls. */
static void run_job(struct card_state *card, const struct plan *plan,
                    const struct plan_lifecycle *rules, int64_t now, struct job_log *log)
{
    memset(log, 0, sizeof(*log));
    for (size_t i = 0; i < LIFECYCLE_STEPS_MAX; i++) {
        struct lifecycle_step step = next_ok(card, plan, rules, now);

        if (step.action == LIFECYCLE_NONE) {
            assert_card_equal(&step.after, card);
            return;
        }
        log->actions[log->count] = step.action;
        log->periods[log->count] = step.period;
        log->amounts[log->count] = step.amount;
        log->count++;
        *card = step.after;
    }
    fail_msg("the job did not reach LIFECYCLE_NONE within LIFECYCLE_STEPS_MAX steps");
}

/* ---------------------------------------------------------------------------------------
 * Names and new cards
 * ------------------------------------------------------------------------------------- */

static void test_lifecycle__action_names_are_the_event_names(void **state)
{
    assert_string_equal(lifecycle_action_name(LIFECYCLE_NONE), "none");
    assert_string_equal(lifecycle_action_name(LIFECYCLE_CHARGE_FEE), "charge_fee");
    assert_string_equal(lifecycle_action_name(LIFECYCLE_SUSPEND), "suspend");
    assert_string_equal(lifecycle_action_name(LIFECYCLE_RECYCLE), "recycle");
    assert_string_equal(lifecycle_action_name(LIFECYCLE_REMIND_LOW), "remind_low");
    assert_string_equal(lifecycle_action_name(LIFECYCLE_WARN_RECYCLE), "warn_recycle");
}

static void test_lifecycle__a_new_monthly_card_is_first_billed_on_its_next_billing_day(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card;
    int64_t now = utc(2024, 1, 31, 15, 30, 0);

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, now);
    assert_int_equal(card.status, CARD_ACTIVE);
    assert_int_equal(card.balance, 0);
    assert_int_equal(card.arrears, 0);
    assert_int_equal(card.activated_at, now);
    assert_int_equal(card.next_billing_at, utc(2024, 2, 29, 0, 0, 0));
    assert_int_equal(card.valid_until, 0);
    assert_int_equal(card.suspended_at, 0);
    assert_int_equal(card.reminded_for, 0);
    assert_int_equal(card.warned_for, 0);

    /* Activated at midnight on its billing day: the first billing is a month later. */
    lifecycle_new_card(&card, &plan, CARD_ACTIVE, utc(2024, 3, 15, 0, 0, 0));
    assert_int_equal(card.next_billing_at, utc(2024, 4, 15, 0, 0, 0));
}

static void test_lifecycle__a_new_validity_card_comes_with_one_step_of_validity(void **state)
{
    struct plan plan = plan_validity();
    struct card_state card;
    int64_t now = utc(2024, 6, 1, 8, 0, 0);

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, now);
    assert_int_equal(card.status, CARD_ACTIVE);
    assert_int_equal(card.balance, 0);
    assert_int_equal(card.valid_until, now + 30 * DAY);
    assert_int_equal(card.next_billing_at, 0);
    assert_int_equal(card.suspended_at, 0);
    assert_nothing_due(&card, &plan, &rules_none, now + 30 * DAY - 1);
}

static void test_lifecycle__a_card_created_suspended_is_suspended_from_now(void **state)
{
    struct plan monthly = plan_monthly();
    struct plan validity = plan_validity();
    struct lifecycle_credit credit;
    struct card_state card;
    int64_t now = utc(2024, 6, 1, 8, 0, 0);

    lifecycle_new_card(&card, &monthly, CARD_SUSPENDED, now);
    assert_int_equal(card.status, CARD_SUSPENDED);
    assert_int_equal(card.suspended_at, now);
    assert_int_equal(card.arrears, 0);
    assert_nothing_due(&card, &monthly, &rules_none, now);
    assert_int_equal(next_ok(&card, &monthly, &rules_none, now + 90 * DAY).action,
                     LIFECYCLE_RECYCLE);
    /* Nothing is owed, so any credit brings it back. */
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &monthly, 1, now + DAY), LEB_OK);
    assert_int_equal(credit.after.status, CARD_ACTIVE);

    /* A validity card created suspended has no validity left: only a whole step helps. */
    lifecycle_new_card(&card, &validity, CARD_SUSPENDED, now);
    assert_int_equal(card.status, CARD_SUSPENDED);
    assert_int_equal(card.suspended_at, now);
    assert_int_equal(card.valid_until, now);
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &validity, 999, now + DAY), LEB_OK);
    assert_int_equal(credit.after.status, CARD_SUSPENDED);
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &validity, 1000, now + DAY), LEB_OK);
    assert_int_equal(credit.after.status, CARD_ACTIVE);
    assert_int_equal(credit.after.valid_until, now + 31 * DAY);
}

static void test_lifecycle__a_card_created_recycled_has_nothing_due(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card;
    int64_t now = utc(2024, 6, 1, 8, 0, 0);

    lifecycle_new_card(&card, &plan, CARD_RECYCLED, now);
    assert_int_equal(card.status, CARD_RECYCLED);
    assert_int_equal(card.next_billing_at, 0);
    assert_int_equal(card.valid_until, 0);
    assert_int_equal(card.suspended_at, 0);
    assert_nothing_due(&card, &plan, &rules_default, now + 400 * DAY);
    assert_int_equal(lifecycle_due_at(&card, &plan, &rules_default, now), 0);
}

/* ---------------------------------------------------------------------------------------
 * Monthly fees
 * ------------------------------------------------------------------------------------- */

static void test_lifecycle__nothing_is_due_before_the_billing_day(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 5000);

    assert_int_equal(card.next_billing_at, utc(2024, 5, 15, 0, 0, 0));
    assert_nothing_due(&card, &plan, &rules_default, utc(2024, 4, 15, 10, 0, 0));
    assert_nothing_due(&card, &plan, &rules_default, card.next_billing_at - 1);
}

static void test_lifecycle__charges_the_fee_when_the_balance_is_exactly_enough(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 800);
    int64_t billing_at = card.next_billing_at;
    struct lifecycle_step step = next_ok(&card, &plan, &rules_default, billing_at);

    assert_int_equal(step.action, LIFECYCLE_CHARGE_FEE);
    assert_int_equal(step.amount, 800);
    assert_int_equal(step.period, billing_at);
    assert_int_equal(step.after.status, CARD_ACTIVE);
    assert_int_equal(step.after.balance, 0);
    assert_int_equal(step.after.arrears, 0);
    assert_int_equal(step.after.next_billing_at, utc(2024, 6, 15, 0, 0, 0));
    assert_int_equal(step.after.suspended_at, 0);

    /* The cycle is paid: asking again at the same instant finds nothing. */
    assert_nothing_due(&step.after, &plan, &rules_default, billing_at);
}

static void test_lifecycle__suspends_when_the_fee_is_not_covered(void **state)
{
    static const int64_t balances[] = {799, 1, 0};
    struct plan plan = plan_monthly();

    for (size_t i = 0; i < sizeof(balances) / sizeof(balances[0]); i++) {
        struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), balances[i]);
        int64_t billing_at = card.next_billing_at;
        struct lifecycle_step step = next_ok(&card, &plan, &rules_default, billing_at);

        assert_int_equal(step.action, LIFECYCLE_SUSPEND);
        assert_int_equal(step.amount, 800);
        assert_int_equal(step.period, billing_at);
        assert_int_equal(step.after.status, CARD_SUSPENDED);
        assert_int_equal(step.after.balance, balances[i]); /* nothing is taken */
        assert_int_equal(step.after.arrears, 800);
        assert_int_equal(step.after.suspended_at, billing_at);
        assert_int_equal(step.after.next_billing_at, billing_at);
    }
}

static void
test_lifecycle__a_late_suspension_is_dated_at_the_billing_instant_not_at_now(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 100);
    int64_t billing_at = card.next_billing_at;
    int64_t late = billing_at + 10 * DAY + 5 * 3600;
    struct lifecycle_step step = next_ok(&card, &plan, &rules_default, late);

    assert_int_equal(step.action, LIFECYCLE_SUSPEND);
    assert_int_equal(step.period, billing_at);
    assert_int_equal(step.after.suspended_at, billing_at);
    /* The grace runs from the billing instant too, whenever the job noticed. */
    assert_int_equal(next_ok(&step.after, &plan, &rules_none, billing_at + 90 * DAY).action,
                     LIFECYCLE_RECYCLE);
}

static void test_lifecycle__bills_on_the_last_day_of_short_months_across_a_leap_year(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2023, 1, 31, 12, 0, 0), 14 * 800 + 10000);
    const int64_t expected[] = {
        utc(2023, 2, 28, 0, 0, 0),  utc(2023, 3, 31, 0, 0, 0),  utc(2023, 4, 30, 0, 0, 0),
        utc(2023, 5, 31, 0, 0, 0),  utc(2023, 6, 30, 0, 0, 0),  utc(2023, 7, 31, 0, 0, 0),
        utc(2023, 8, 31, 0, 0, 0),  utc(2023, 9, 30, 0, 0, 0),  utc(2023, 10, 31, 0, 0, 0),
        utc(2023, 11, 30, 0, 0, 0), utc(2023, 12, 31, 0, 0, 0), utc(2024, 1, 31, 0, 0, 0),
        utc(2024, 2, 29, 0, 0, 0),  utc(2024, 3, 31, 0, 0, 0),
    };
    const size_t expected_count = sizeof(expected) / sizeof(expected[0]);
    struct job_log log;

    run_job(&card, &plan, &rules_default, utc(2024, 4, 1, 0, 0, 0), &log);
    assert_int_equal(log.count, expected_count);
    for (size_t i = 0; i < expected_count; i++) {
        assert_int_equal(log.actions[i], LIFECYCLE_CHARGE_FEE);
        assert_int_equal(log.periods[i], expected[i]);
        assert_int_equal(log.amounts[i], 800);
    }
    assert_int_equal(card.balance, 10000);
    assert_int_equal(card.next_billing_at, utc(2024, 4, 30, 0, 0, 0));
}

static void test_lifecycle__a_job_run_late_by_months_catches_up_cycle_by_cycle(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 1, 10, 9, 0, 0), 5 * 800 + 100);
    int64_t now = utc(2024, 7, 20, 0, 0, 0);
    struct lifecycle_step step;

    /* One step at a time: each cycle's fee under its own billing instant. */
    for (int month = 2; month <= 6; month++) {
        step = next_ok(&card, &plan, &rules_default, now);
        assert_int_equal(step.action, LIFECYCLE_CHARGE_FEE);
        assert_int_equal(step.period, utc(2024, month, 10, 0, 0, 0));
        assert_int_equal(step.amount, 800);
        card = step.after;
    }
    step = next_ok(&card, &plan, &rules_default, now);
    assert_int_equal(step.action, LIFECYCLE_SUSPEND);
    assert_int_equal(step.period, utc(2024, 7, 10, 0, 0, 0));
    card = step.after;
    assert_int_equal(card.balance, 100);
    assert_int_equal(card.arrears, 800);
    assert_nothing_due(&card, &plan, &rules_default, now);
}

static void
test_lifecycle__reminds_exactly_at_the_lead_boundary_and_not_a_second_before(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 500);
    int64_t billing_at = utc(2024, 5, 15, 0, 0, 0);
    int64_t remind_from = utc(2024, 5, 12, 0, 0, 0);
    struct lifecycle_step step;

    assert_int_equal(card.next_billing_at, billing_at);
    assert_nothing_due(&card, &plan, &rules_default, remind_from - 1);
    step = next_ok(&card, &plan, &rules_default, remind_from);
    assert_int_equal(step.action, LIFECYCLE_REMIND_LOW);
    assert_int_equal(step.amount, 0);
    assert_int_equal(step.period, billing_at);
    assert_int_equal(step.after.reminded_for, billing_at);
    assert_int_equal(step.after.balance, 500);
    assert_int_equal(step.after.status, CARD_ACTIVE);
    assert_int_equal(step.after.next_billing_at, billing_at);
}

static void test_lifecycle__reminds_once_per_billing_day(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 1000);
    int64_t first = utc(2024, 5, 15, 0, 0, 0);
    int64_t second = utc(2024, 6, 15, 0, 0, 0);
    struct lifecycle_step step;

    /* 10 yuan covers the first fee: no reminder for it. */
    assert_nothing_due(&card, &plan, &rules_default, first - 1);
    step = next_ok(&card, &plan, &rules_default, first);
    assert_int_equal(step.action, LIFECYCLE_CHARGE_FEE);
    card = step.after;

    /* 2 yuan left will not cover the second: one reminder, whenever the job runs. */
    step = next_ok(&card, &plan, &rules_default, second - 2 * DAY);
    assert_int_equal(step.action, LIFECYCLE_REMIND_LOW);
    assert_int_equal(step.period, second);
    card = step.after;
    assert_nothing_due(&card, &plan, &rules_default, second - 2 * DAY);
    assert_nothing_due(&card, &plan, &rules_default, second - DAY);
    assert_nothing_due(&card, &plan, &rules_default, second - 1);
    assert_int_equal(next_ok(&card, &plan, &rules_default, second).action, LIFECYCLE_SUSPEND);
}

static void
test_lifecycle__does_not_remind_a_card_that_covers_its_fee_or_a_plan_without_a_lead(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state covered = card_monthly(utc(2024, 4, 15, 10, 0, 0), 800);
    struct card_state short_of_it = card_monthly(utc(2024, 4, 15, 10, 0, 0), 799);

    assert_nothing_due(&covered, &plan, &rules_default, covered.next_billing_at - 1);
    assert_nothing_due(&short_of_it, &plan, &rules_none, short_of_it.next_billing_at - 1);
    assert_int_equal(
        next_ok(&short_of_it, &plan, &rules_default, short_of_it.next_billing_at - 1).action,
        LIFECYCLE_REMIND_LOW);
}

static void test_lifecycle__a_monthly_fee_of_zero_never_suspends(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 1, 10, 9, 0, 0), 0);
    struct job_log log;

    plan.monthly_fee = 0;
    run_job(&card, &plan, &rules_default, utc(2025, 1, 10, 0, 0, 0), &log);
    assert_int_equal(log.count, 12);
    for (size_t i = 0; i < log.count; i++) {
        assert_int_equal(log.actions[i], LIFECYCLE_CHARGE_FEE);
        assert_int_equal(log.amounts[i], 0);
    }
    assert_int_equal(card.status, CARD_ACTIVE);
    assert_int_equal(card.next_billing_at, utc(2025, 2, 10, 0, 0, 0));
}

/* ---------------------------------------------------------------------------------------
 * Validity
 * ------------------------------------------------------------------------------------- */

static void test_lifecycle__a_validity_card_is_suspended_when_its_validity_ends(void **state)
{
    struct plan plan = plan_validity();
    struct card_state card;
    int64_t activated_at = utc(2024, 6, 1, 8, 0, 0);
    int64_t valid_until = activated_at + 30 * DAY;
    struct lifecycle_step step;

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, activated_at);
    card.balance = 50000; /* a balance does not extend validity by itself */
    assert_nothing_due(&card, &plan, &rules_none, valid_until - 1);
    step = next_ok(&card, &plan, &rules_none, valid_until);
    assert_int_equal(step.action, LIFECYCLE_SUSPEND);
    assert_int_equal(step.amount, 0);
    assert_int_equal(step.period, valid_until);
    assert_int_equal(step.after.status, CARD_SUSPENDED);
    assert_int_equal(step.after.arrears, 0);
    assert_int_equal(step.after.balance, 50000);
    assert_int_equal(step.after.suspended_at, valid_until);
    assert_int_equal(step.after.valid_until, valid_until);

    /* Late: still suspended at the end of validity. */
    step = next_ok(&card, &plan, &rules_none, valid_until + 40 * DAY);
    assert_int_equal(step.action, LIFECYCLE_SUSPEND);
    assert_int_equal(step.after.suspended_at, valid_until);
}

static void test_lifecycle__a_validity_card_is_reminded_once_before_its_validity_ends(void **state)
{
    struct plan plan = plan_validity();
    struct card_state card;
    int64_t activated_at = utc(2024, 6, 1, 8, 0, 0);
    int64_t valid_until = activated_at + 30 * DAY;
    struct lifecycle_step step;

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, activated_at);
    card.balance = 50000; /* reminded whatever the balance: it is not what keeps the number */
    assert_nothing_due(&card, &plan, &rules_default, valid_until - 3 * DAY - 1);
    step = next_ok(&card, &plan, &rules_default, valid_until - 3 * DAY);
    assert_int_equal(step.action, LIFECYCLE_REMIND_LOW);
    assert_int_equal(step.period, valid_until);
    assert_int_equal(step.after.reminded_for, valid_until);
    card = step.after;
    assert_nothing_due(&card, &plan, &rules_default, valid_until - 1);
    assert_int_equal(next_ok(&card, &plan, &rules_default, valid_until).action, LIFECYCLE_SUSPEND);
}

static void test_lifecycle__a_validity_card_without_an_end_of_validity_never_expires(void **state)
{
    struct plan plan = plan_validity();
    struct card_state card;

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, utc(2024, 6, 1, 8, 0, 0));
    card.valid_until = 0;
    assert_nothing_due(&card, &plan, &rules_default, utc(2099, 1, 1, 0, 0, 0));
    assert_int_equal(lifecycle_due_at(&card, &plan, &rules_default, utc(2024, 6, 1, 8, 0, 0)), 0);
}

/* ---------------------------------------------------------------------------------------
 * Suspension, warning, recycling
 * ------------------------------------------------------------------------------------- */

static void
test_lifecycle__recycles_at_the_end_of_the_grace_period_and_not_a_second_before(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_suspended(suspended_at, 300, 800);
    struct lifecycle_step step;

    assert_nothing_due(&card, &plan, &rules_none, suspended_at + 90 * DAY - 1);
    step = next_ok(&card, &plan, &rules_none, suspended_at + 90 * DAY);
    assert_int_equal(step.action, LIFECYCLE_RECYCLE);
    assert_int_equal(step.period, suspended_at);
}

static void test_lifecycle__recycling_forfeits_the_balance_and_writes_off_the_arrears(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_suspended(suspended_at, 799, 800);
    struct lifecycle_step step = next_ok(&card, &plan, &rules_none, suspended_at + 90 * DAY);

    assert_int_equal(step.action, LIFECYCLE_RECYCLE);
    assert_int_equal(step.amount, 799);
    assert_int_equal(step.after.status, CARD_RECYCLED);
    assert_int_equal(step.after.balance, 0);
    assert_int_equal(step.after.arrears, 0);

    /* Nothing forfeited is still a recycling. */
    card.balance = 0;
    step = next_ok(&card, &plan, &rules_none, suspended_at + 90 * DAY);
    assert_int_equal(step.action, LIFECYCLE_RECYCLE);
    assert_int_equal(step.amount, 0);
}

static void test_lifecycle__warns_once_before_recycling(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    int64_t warn_from = suspended_at + 83 * DAY;
    struct card_state card = card_suspended(suspended_at, 0, 800);
    struct lifecycle_step step;

    assert_nothing_due(&card, &plan, &rules_default, warn_from - 1);
    step = next_ok(&card, &plan, &rules_default, warn_from);
    assert_int_equal(step.action, LIFECYCLE_WARN_RECYCLE);
    assert_int_equal(step.amount, 0);
    assert_int_equal(step.period, suspended_at);
    assert_int_equal(step.after.warned_for, suspended_at);
    assert_int_equal(step.after.status, CARD_SUSPENDED);
    card = step.after;
    assert_nothing_due(&card, &plan, &rules_default, warn_from);
    assert_nothing_due(&card, &plan, &rules_default, suspended_at + 90 * DAY - 1);
    assert_int_equal(next_ok(&card, &plan, &rules_default, suspended_at + 90 * DAY).action,
                     LIFECYCLE_RECYCLE);
}

static void
test_lifecycle__a_warning_lead_longer_than_the_grace_warns_at_the_suspension(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_suspended(suspended_at, 0, 800);

    plan.grace_days = 5;
    assert_int_equal(next_ok(&card, &plan, &rules_default, suspended_at).action,
                     LIFECYCLE_WARN_RECYCLE);
}

static void test_lifecycle__a_grace_of_zero_recycles_at_once(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 300);
    int64_t billing_at = card.next_billing_at;
    struct job_log log;

    plan.grace_days = 0;
    run_job(&card, &plan, &rules_default, billing_at, &log);
    assert_int_equal(log.count, 2);
    assert_int_equal(log.actions[0], LIFECYCLE_SUSPEND);
    assert_int_equal(log.actions[1], LIFECYCLE_RECYCLE);
    assert_int_equal(log.periods[1], billing_at);
    assert_int_equal(log.amounts[1], 300);
    assert_int_equal(card.status, CARD_RECYCLED);
}

static void test_lifecycle__a_job_too_late_for_the_warning_recycles_without_it(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_suspended(suspended_at, 0, 800);
    struct job_log log;

    run_job(&card, &plan, &rules_default, suspended_at + 200 * DAY, &log);
    assert_int_equal(log.count, 1);
    assert_int_equal(log.actions[0], LIFECYCLE_RECYCLE);
}

static void test_lifecycle__a_recycled_card_has_nothing_due_ever_again(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_suspended(suspended_at, 500, 800);
    struct lifecycle_step step = next_ok(&card, &plan, &rules_default, suspended_at + 90 * DAY);

    card = step.after;
    assert_int_equal(card.status, CARD_RECYCLED);
    assert_nothing_due(&card, &plan, &rules_default, suspended_at + 90 * DAY);
    assert_nothing_due(&card, &plan, &rules_default, utc(2200, 1, 1, 0, 0, 0));
    assert_int_equal(lifecycle_due_at(&card, &plan, &rules_default, suspended_at), 0);
}

/* ---------------------------------------------------------------------------------------
 * Jobs run late, twice, or after a crash
 * ------------------------------------------------------------------------------------- */

static void
test_lifecycle__a_card_untouched_for_three_years_pays_its_months_then_suspends_warns_recycles(
    void **state)
{
    struct plan plan = plan_monthly();
    struct plan_lifecycle rules = {.remind_days_before = 3, .recycle_warning_days = 10};
    int64_t activated_at = utc(2021, 3, 20, 10, 0, 0);
    struct card_state card = card_monthly(activated_at, 32 * 800 + 799);
    int64_t suspended_at = utc(2023, 12, 20, 0, 0, 0);
    int64_t billing_at = card.next_billing_at;
    struct job_log log;

    plan.grace_days = 95; /* recycling on 2024-03-24, warned from 2024-03-14 */
    run_job(&card, &plan, &rules, utc(2024, 3, 20, 10, 0, 0), &log);
    assert_true(log.count < LIFECYCLE_STEPS_MAX);
    assert_int_equal(log.count, 32 + 2);
    for (size_t i = 0; i < 32; i++) {
        assert_int_equal(log.actions[i], LIFECYCLE_CHARGE_FEE);
        assert_int_equal(log.periods[i], billing_at);
        assert_int_equal(log.amounts[i], 800);
        billing_at = time_next_billing(activated_at, billing_at);
    }
    assert_int_equal(log.actions[32], LIFECYCLE_SUSPEND);
    assert_int_equal(log.periods[32], suspended_at);
    assert_int_equal(log.amounts[32], 800);
    assert_int_equal(log.actions[33], LIFECYCLE_WARN_RECYCLE);
    assert_int_equal(log.periods[33], suspended_at);
    assert_int_equal(card.status, CARD_SUSPENDED);
    assert_int_equal(card.balance, 799);
    assert_int_equal(card.arrears, 800);

    run_job(&card, &plan, &rules, utc(2024, 3, 24, 0, 0, 0) - 1, &log);
    assert_int_equal(log.count, 0);
    run_job(&card, &plan, &rules, utc(2024, 3, 24, 0, 0, 0), &log);
    assert_int_equal(log.count, 1);
    assert_int_equal(log.actions[0], LIFECYCLE_RECYCLE);
    assert_int_equal(log.amounts[0], 799);
    assert_int_equal(card.status, CARD_RECYCLED);
    assert_int_equal(card.balance, 0);
    assert_int_equal(card.arrears, 0);
}

static void
test_lifecycle__a_card_untouched_for_three_years_past_its_grace_is_recycled_at_once(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2021, 3, 15, 10, 0, 0), 30 * 800 + 799);
    struct job_log log;

    run_job(&card, &plan, &rules_default, utc(2024, 3, 15, 10, 0, 0), &log);
    assert_int_equal(log.count, 30 + 2);
    for (size_t i = 0; i < 30; i++) {
        assert_int_equal(log.actions[i], LIFECYCLE_CHARGE_FEE);
    }
    assert_int_equal(log.actions[30], LIFECYCLE_SUSPEND);
    assert_int_equal(log.periods[30], utc(2023, 10, 15, 0, 0, 0));
    assert_int_equal(log.actions[31], LIFECYCLE_RECYCLE);
    assert_int_equal(log.amounts[31], 799);
}

static void test_lifecycle__running_a_job_twice_or_after_a_crash_charges_once(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 1, 10, 9, 0, 0), 3 * 800);
    int64_t now = utc(2024, 3, 20, 0, 0, 0);
    struct lifecycle_step first;
    struct lifecycle_step again;
    struct card_state after_first_run;
    struct job_log log;

    /* A crash before the step was stored: the same state gives the very same step. */
    first = next_ok(&card, &plan, &rules_default, now);
    again = next_ok(&card, &plan, &rules_default, now);
    assert_step_equal(&first, &again);

    run_job(&card, &plan, &rules_default, now, &log);
    assert_int_equal(log.count, 2);
    after_first_run = card;
    run_job(&card, &plan, &rules_default, now, &log);
    assert_int_equal(log.count, 0);
    run_job(&card, &plan, &rules_default, now + DAY, &log);
    assert_int_equal(log.count, 0);
    assert_card_equal(&card, &after_first_run);
    assert_int_equal(card.balance, 800);
}

static void test_lifecycle__due_at_is_the_first_instant_a_step_is_due(void **state)
{
    struct plan monthly = plan_monthly();
    struct plan validity = plan_validity();
    int64_t now = utc(2024, 4, 15, 10, 0, 0);
    int64_t billing_at = utc(2024, 5, 15, 0, 0, 0);
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_monthly(now, 800);

    assert_int_equal(lifecycle_due_at(&card, &monthly, &rules_default, now), billing_at);
    card.balance = 799;
    assert_int_equal(lifecycle_due_at(&card, &monthly, &rules_default, now), billing_at - 3 * DAY);
    assert_int_equal(lifecycle_due_at(&card, &monthly, &rules_none, now), billing_at);
    card.reminded_for = billing_at;
    assert_int_equal(lifecycle_due_at(&card, &monthly, &rules_default, now), billing_at);

    /* A billing instant the job has not reached yet is due at once: it lies before now. */
    assert_int_equal(lifecycle_due_at(&card, &monthly, &rules_default, billing_at + DAY),
                     billing_at);

    card = card_suspended(suspended_at, 0, 800);
    assert_int_equal(lifecycle_due_at(&card, &monthly, &rules_default, suspended_at),
                     suspended_at + 83 * DAY);
    card.warned_for = suspended_at;
    assert_int_equal(lifecycle_due_at(&card, &monthly, &rules_default, suspended_at),
                     suspended_at + 90 * DAY);

    lifecycle_new_card(&card, &validity, CARD_ACTIVE, now);
    assert_int_equal(lifecycle_due_at(&card, &validity, &rules_default, now), now + 27 * DAY);
    assert_int_equal(lifecycle_due_at(&card, &validity, &rules_none, now), now + 30 * DAY);

    /* A state the job would refuse is due now, so that the job meets it and reports it. */
    card.balance = -1;
    assert_int_equal(lifecycle_due_at(&card, &validity, &rules_default, now), now);
    card.balance = 0;
    validity.validity_step_amount = 0;
    assert_int_equal(lifecycle_due_at(&card, &validity, &rules_default, now), now);
}

/* ---------------------------------------------------------------------------------------
 * Credits
 * ------------------------------------------------------------------------------------- */

static void test_lifecycle__a_credit_on_an_active_card_adds_to_its_balance(void **state)
{
    struct plan plan = plan_monthly();
    int64_t now = utc(2024, 4, 20, 10, 0, 0);
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 300);
    struct lifecycle_credit credit;

    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 5000, now), LEB_OK);
    assert_int_equal(credit.status_before, CARD_ACTIVE);
    assert_int_equal(credit.arrears_paid, 0);
    assert_int_equal(credit.validity_added_s, 0);
    assert_int_equal(credit.after.status, CARD_ACTIVE);
    assert_int_equal(credit.after.balance, 5300);
    assert_int_equal(credit.after.next_billing_at, card.next_billing_at);
}

static void
test_lifecycle__a_credit_paying_part_of_the_arrears_leaves_the_card_suspended(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_suspended(suspended_at, 0, 800);
    struct lifecycle_credit credit;

    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 500, suspended_at + DAY),
                     LEB_OK);
    assert_int_equal(credit.status_before, CARD_SUSPENDED);
    assert_int_equal(credit.arrears_paid, 500);
    assert_int_equal(credit.after.status, CARD_SUSPENDED);
    assert_int_equal(credit.after.balance, 0);
    assert_int_equal(credit.after.arrears, 300);
    assert_int_equal(credit.after.suspended_at, suspended_at); /* the grace keeps running */
    assert_int_equal(credit.after.next_billing_at, card.next_billing_at);
}

static void
test_lifecycle__a_credit_paying_all_of_the_arrears_reactivates_the_card_at_once(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    int64_t now = utc(2024, 6, 20, 13, 0, 0);
    struct card_state card = card_suspended(suspended_at, 0, 800);
    struct lifecycle_credit credit;

    card.warned_for = utc(2023, 1, 1, 0, 0, 0);
    card.reminded_for = suspended_at;
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 800, now), LEB_OK);
    assert_int_equal(credit.arrears_paid, 800);
    assert_int_equal(credit.after.status, CARD_ACTIVE);
    assert_int_equal(credit.after.balance, 0);
    assert_int_equal(credit.after.arrears, 0);
    assert_int_equal(credit.after.suspended_at, 0);
    assert_int_equal(credit.after.next_billing_at, time_next_billing(card.activated_at, now));
    assert_true(credit.after.next_billing_at > now);
    assert_int_equal(credit.after.warned_for, card.warned_for);
    assert_int_equal(credit.after.reminded_for, card.reminded_for);
    /* The months it spent suspended are not billed. */
    assert_nothing_due(&credit.after, &plan, &rules_none, now);
}

static void test_lifecycle__a_credit_beyond_the_arrears_stays_as_balance(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_suspended(suspended_at, 0, 800);
    struct lifecycle_credit credit;

    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 5000, suspended_at + DAY),
                     LEB_OK);
    assert_int_equal(credit.arrears_paid, 800);
    assert_int_equal(credit.after.balance, 4200);
    assert_int_equal(credit.after.arrears, 0);
    assert_int_equal(credit.after.status, CARD_ACTIVE);
}

static void test_lifecycle__the_balance_left_on_a_suspended_card_helps_pay_its_arrears(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_suspended(suspended_at, 799, 800);
    struct lifecycle_credit credit;

    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 1, suspended_at + DAY), LEB_OK);
    assert_int_equal(credit.arrears_paid, 800);
    assert_int_equal(credit.after.balance, 0);
    assert_int_equal(credit.after.status, CARD_ACTIVE);
}

static void
test_lifecycle__a_credit_reaches_a_card_whose_grace_ended_but_is_not_yet_recycled(void **state)
{
    struct plan plan = plan_monthly();
    int64_t suspended_at = utc(2024, 5, 15, 0, 0, 0);
    struct card_state card = card_suspended(suspended_at, 0, 800);
    struct lifecycle_credit credit;

    /* The number is not lost until the job has recycled it. */
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 1000, suspended_at + 91 * DAY),
                     LEB_OK);
    assert_int_equal(credit.after.status, CARD_ACTIVE);
}

static void test_lifecycle__a_credit_extends_validity_by_whole_steps_only(void **state)
{
    struct plan plan = plan_validity();
    int64_t now = utc(2024, 6, 1, 8, 0, 0);
    struct card_state card;
    struct lifecycle_credit credit;

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, now);
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 2999, now + DAY), LEB_OK);
    assert_int_equal(credit.validity_added_s, 60 * DAY);
    assert_int_equal(credit.after.valid_until, now + 90 * DAY); /* from valid_until, not now */
    assert_int_equal(credit.after.balance, 2999); /* validity plans keep a balance too */
    assert_int_equal(credit.arrears_paid, 0);
    assert_int_equal(credit.after.status, CARD_ACTIVE);

    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 999, now + DAY), LEB_OK);
    assert_int_equal(credit.validity_added_s, 0);
    assert_int_equal(credit.after.valid_until, card.valid_until);
    assert_int_equal(credit.after.balance, 999);

    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 1000, now + DAY), LEB_OK);
    assert_int_equal(credit.validity_added_s, 30 * DAY);
}

static void test_lifecycle__validity_is_capped_at_the_plan_maximum(void **state)
{
    struct plan plan = plan_validity();
    int64_t now = utc(2024, 6, 1, 8, 0, 0);
    struct card_state card;
    struct lifecycle_credit credit;

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, now);
    card.valid_until = now + 350 * DAY;
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 1000, now), LEB_OK);
    assert_int_equal(credit.after.valid_until, now + 365 * DAY);
    assert_int_equal(credit.validity_added_s, 15 * DAY);
    assert_int_equal(credit.after.balance, 1000); /* the money is credited all the same */

    card = credit.after;
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 5000, now), LEB_OK);
    assert_int_equal(credit.after.valid_until, now + 365 * DAY);
    assert_int_equal(credit.validity_added_s, 0);
    assert_int_equal(credit.after.balance, 6000);

    /* The cap moves with now. */
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 1000, now + DAY), LEB_OK);
    assert_int_equal(credit.validity_added_s, DAY);
}

static void test_lifecycle__a_credit_never_shortens_validity(void **state)
{
    struct plan plan = plan_validity();
    int64_t now = utc(2024, 6, 1, 8, 0, 0);
    struct card_state card;
    struct lifecycle_credit credit;

    /* Bought under a plan whose cap was since lowered. */
    lifecycle_new_card(&card, &plan, CARD_ACTIVE, now);
    card.valid_until = now + 400 * DAY;
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 1000, now), LEB_OK);
    assert_int_equal(credit.after.valid_until, now + 400 * DAY);
    assert_int_equal(credit.validity_added_s, 0);
}

static void test_lifecycle__a_huge_credit_saturates_validity_at_the_cap(void **state)
{
    struct plan plan = plan_validity();
    int64_t now = utc(2024, 6, 1, 8, 0, 0);
    struct card_state card;
    struct lifecycle_credit credit;

    plan.validity_step_amount = 1;
    plan.validity_days = INT32_MAX;
    plan.validity_days_max = INT32_MAX;
    lifecycle_new_card(&card, &plan, CARD_ACTIVE, now);
    card.valid_until = now;
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, INT64_MAX, now), LEB_OK);
    assert_int_equal(credit.after.valid_until, now + (int64_t)INT32_MAX * DAY);
    assert_int_equal(credit.after.balance, INT64_MAX);
}

static void test_lifecycle__a_suspended_validity_card_is_reactivated_by_a_whole_step(void **state)
{
    struct plan plan = plan_validity();
    int64_t activated_at = utc(2024, 6, 1, 8, 0, 0);
    int64_t valid_until = activated_at + 30 * DAY;
    int64_t now = valid_until + 10 * DAY;
    struct card_state card;
    struct lifecycle_credit credit;

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, activated_at);
    card = next_ok(&card, &plan, &rules_none, valid_until).after;
    assert_int_equal(card.status, CARD_SUSPENDED);

    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 999, now), LEB_OK);
    assert_int_equal(credit.after.status, CARD_SUSPENDED);
    assert_int_equal(credit.after.valid_until, valid_until);
    assert_int_equal(credit.after.suspended_at, valid_until);
    assert_int_equal(credit.validity_added_s, 0);
    assert_int_equal(credit.after.balance, 999);

    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 1000, now), LEB_OK);
    assert_int_equal(credit.status_before, CARD_SUSPENDED);
    assert_int_equal(credit.after.status, CARD_ACTIVE);
    assert_int_equal(credit.after.valid_until, now + 30 * DAY); /* counted from now */
    assert_int_equal(credit.validity_added_s, 40 * DAY);        /* how far valid_until moved */
    assert_int_equal(credit.after.suspended_at, 0);
    assert_int_equal(credit.arrears_paid, 0);
}

static void test_lifecycle__a_credit_on_a_recycled_card_is_refused(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_suspended(utc(2024, 5, 15, 0, 0, 0), 0, 800);
    struct lifecycle_credit credit;
    struct lifecycle_credit untouched;

    card = next_ok(&card, &plan, &rules_none, utc(2025, 1, 1, 0, 0, 0)).after;
    assert_int_equal(card.status, CARD_RECYCLED);
    memset(&credit, 0x5a, sizeof(credit));
    untouched = credit;
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 1000, utc(2025, 1, 2, 0, 0, 0)),
                     LEB_E_CARD_NOT_RECHARGEABLE);
    /* Whatever the amount. */
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 0, utc(2025, 1, 2, 0, 0, 0)),
                     LEB_E_CARD_NOT_RECHARGEABLE);
    assert_memory_equal(&credit, &untouched, sizeof(credit));
}

static void test_lifecycle__a_credit_of_nothing_or_less_is_refused(void **state)
{
    static const int64_t amounts[] = {0, -1, -800, INT64_MIN};
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 300);
    struct lifecycle_credit credit;

    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        assert_int_equal(
            lifecycle_apply_credit(&credit, &card, &plan, amounts[i], utc(2024, 4, 20, 0, 0, 0)),
            LEB_E_INVALID_AMOUNT);
    }
}

static void test_lifecycle__a_credit_that_would_overflow_the_balance_is_refused(void **state)
{
    struct plan plan = plan_monthly();
    int64_t now = utc(2024, 4, 20, 0, 0, 0);
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), INT64_MAX - 10);
    struct lifecycle_credit credit;
    struct lifecycle_credit untouched;

    memset(&credit, 0x5a, sizeof(credit));
    untouched = credit;
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 11, now), LEB_E_OVERFLOW);
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, INT64_MAX, now), LEB_E_OVERFLOW);
    assert_memory_equal(&credit, &untouched, sizeof(credit));
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 10, now), LEB_OK);
    assert_int_equal(credit.after.balance, INT64_MAX);
}

static void
test_lifecycle__a_credit_is_not_refused_by_a_plan_that_no_longer_sells_top_ups(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 0);
    struct lifecycle_credit credit;

    /* The order was priced while it was allowed; money paid is credited. */
    plan.recharge_allowed = false;
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, 1000, utc(2024, 4, 20, 0, 0, 0)),
                     LEB_OK);
    assert_int_equal(credit.after.balance, 1000);
}

/* ---------------------------------------------------------------------------------------
 * States and plans the rules refuse
 * ------------------------------------------------------------------------------------- */

/* Asserts that both lifecycle_next() and lifecycle_apply_credit() refuse "card" at "now"
 * with "code", leaving their outputs untouched. */
static void assert_refused(const struct card_state *card, const struct plan *plan,
                           const struct plan_lifecycle *rules, int64_t now, int code)
{
    struct lifecycle_step step;
    struct lifecycle_step step_untouched;
    struct lifecycle_credit credit;
    struct lifecycle_credit credit_untouched;

    memset(&step, 0x5a, sizeof(step));
    memset(&credit, 0x5a, sizeof(credit));
    step_untouched = step;
    credit_untouched = credit;
    assert_int_equal(lifecycle_next(&step, card, plan, rules, now), code);
    assert_memory_equal(&step, &step_untouched, sizeof(step));
    assert_int_equal(lifecycle_apply_credit(&credit, card, plan, 1000, now), code);
    assert_memory_equal(&credit, &credit_untouched, sizeof(credit));
}

static void test_lifecycle__states_that_break_the_rules_are_refused(void **state)
{
    struct plan monthly = plan_monthly();
    struct plan validity = plan_validity();
    int64_t now = utc(2024, 4, 20, 0, 0, 0);
    struct card_state valid = card_monthly(utc(2024, 4, 15, 10, 0, 0), 300);
    struct card_state suspended = card_suspended(utc(2024, 4, 15, 0, 0, 0), 0, 800);
    struct card_state validity_card;
    struct card_state card;

    lifecycle_new_card(&validity_card, &validity, CARD_ACTIVE, utc(2024, 4, 15, 10, 0, 0));

    card = valid;
    card.balance = -1;
    assert_refused(&card, &monthly, &rules_default, now, LEB_E_INVALID_REQUEST);
    card = suspended;
    card.arrears = -1;
    assert_refused(&card, &monthly, &rules_default, now, LEB_E_INVALID_REQUEST);
    card = valid;
    card.next_billing_at = 0; /* a monthly_fee card with no next billing day */
    assert_refused(&card, &monthly, &rules_default, now, LEB_E_INVALID_REQUEST);
    card = valid;
    card.activated_at = 0; /* no billing day of the month at all */
    assert_refused(&card, &monthly, &rules_default, now, LEB_E_INVALID_REQUEST);
    card = valid;
    card.arrears = 800; /* an active card owes nothing */
    assert_refused(&card, &monthly, &rules_default, now, LEB_E_INVALID_REQUEST);
    card = validity_card;
    card.status = CARD_SUSPENDED;
    card.suspended_at = now - DAY;
    card.arrears = 1; /* a validity card never owes */
    assert_refused(&card, &validity, &rules_default, now, LEB_E_INVALID_REQUEST);
    card = suspended;
    card.suspended_at = 0; /* suspended, but never */
    assert_refused(&card, &monthly, &rules_default, now, LEB_E_INVALID_REQUEST);
    card = valid;
    card.reminded_for = -1;
    assert_refused(&card, &monthly, &rules_default, now, LEB_E_INVALID_REQUEST);
    card = validity_card;
    card.valid_until = -1;
    assert_refused(&card, &validity, &rules_default, now, LEB_E_INVALID_REQUEST);
    card = valid;
    card.next_billing_at = TIME_MAX + 1; /* past what the billing calendar knows */
    assert_refused(&card, &monthly, &rules_default, now, LEB_E_INVALID_REQUEST);

    /* "now" outside 1970..9999. */
    assert_refused(&valid, &monthly, &rules_default, -1, LEB_E_INVALID_REQUEST);
    assert_refused(&valid, &monthly, &rules_default, TIME_MAX + 1, LEB_E_INVALID_REQUEST);
    assert_refused(&validity_card, &validity, &rules_default, INT64_MIN, LEB_E_INVALID_REQUEST);
}

static void test_lifecycle__times_that_would_overflow_are_refused_not_wrapped(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_suspended(utc(2024, 4, 15, 0, 0, 0), 0, 800);
    struct lifecycle_step step;

    /* suspended_at + grace leaves int64. */
    card.suspended_at = INT64_MAX - DAY;
    assert_int_equal(lifecycle_next(&step, &card, &plan, &rules_default, TIME_MAX),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(lifecycle_due_at(&card, &plan, &rules_default, TIME_MAX), TIME_MAX);

    /* A far end of validity only moves reminders back, which cannot overflow. */
    {
        struct plan validity = plan_validity();
        struct card_state far;

        lifecycle_new_card(&far, &validity, CARD_ACTIVE, utc(2024, 4, 15, 0, 0, 0));
        far.valid_until = INT64_MAX;
        assert_nothing_due(&far, &validity, &rules_default, TIME_MAX);
    }
}

static void test_lifecycle__plans_and_rules_that_contradict_themselves_are_refused(void **state)
{
    int64_t now = utc(2024, 4, 20, 0, 0, 0);
    struct card_state monthly_card = card_monthly(utc(2024, 4, 15, 10, 0, 0), 300);
    struct card_state validity_card;
    struct plan plan;
    struct plan_lifecycle rules;
    struct lifecycle_step step;

    plan = plan_validity();
    lifecycle_new_card(&validity_card, &plan, CARD_ACTIVE, utc(2024, 4, 15, 10, 0, 0));

    plan = plan_monthly();
    plan.grace_days = -1;
    assert_refused(&monthly_card, &plan, &rules_default, now, LEB_E_INVALID_PLAN);
    plan = plan_monthly();
    plan.monthly_fee = -800;
    assert_refused(&monthly_card, &plan, &rules_default, now, LEB_E_INVALID_PLAN);

    plan = plan_validity();
    plan.validity_step_amount = 0; /* a credit would divide by it */
    assert_refused(&validity_card, &plan, &rules_default, now, LEB_E_INVALID_PLAN);
    plan = plan_validity();
    plan.validity_days = 0;
    assert_refused(&validity_card, &plan, &rules_default, now, LEB_E_INVALID_PLAN);
    plan = plan_validity();
    plan.validity_days_max = plan.validity_days - 1;
    assert_refused(&validity_card, &plan, &rules_default, now, LEB_E_INVALID_PLAN);

    plan = plan_monthly();
    rules = rules_default;
    rules.remind_days_before = -1;
    assert_int_equal(lifecycle_next(&step, &monthly_card, &plan, &rules, now), LEB_E_INVALID_PLAN);
    rules = rules_default;
    rules.recycle_warning_days = -1;
    assert_int_equal(lifecycle_next(&step, &monthly_card, &plan, &rules, now), LEB_E_INVALID_PLAN);
}

/* ---------------------------------------------------------------------------------------
 * Random sequences
 * ------------------------------------------------------------------------------------- */

#define SIM_SEQUENCES 400
#define SIM_OPERATIONS 60
#define SIM_EVENTS_MAX 2048

/* splitmix64: a fixed seed gives the same sequences on every run and every machine. */
static uint64_t sim_random(uint64_t *seed)
{
    uint64_t z = (*seed += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int64_t sim_below(uint64_t *seed, int64_t bound)
{
    return (int64_t)(sim_random(seed) % (uint64_t)bound);
}

/*
 * One card through random credits and jumps of time, with the flows of money counted as the
 * ledger would post them. Money is conserved when
 *
 *     credited == balance + fees_charged + arrears_paid + forfeited
 *
 * (every fen credited is still on the card, was taken as a monthly fee on a billing day, paid
 * arrears out of a credit, or was forfeited at recycling), and arrears are accounted for when
 *
 *     arrears_raised == arrears + arrears_paid + written_off
 *
 * (every fee a suspension left unpaid is still owed, was paid by a credit, or was written
 * off when the number was recycled).
 */
struct sim {
    struct plan plan;
    struct plan_lifecycle rules;
    struct card_state card;
    int64_t now;
    int64_t credited;
    int64_t fees_charged;
    int64_t arrears_raised;
    int64_t arrears_paid;
    int64_t forfeited;
    int64_t written_off;
    bool recycled;
    size_t events_count;
    enum lifecycle_action event_actions[SIM_EVENTS_MAX];
    int64_t event_periods[SIM_EVENTS_MAX];
};

static void sim_assert_invariants(const struct sim *sim)
{
    const struct card_state *card = &sim->card;

    assert_true(card->balance >= 0);
    assert_true(card->arrears >= 0);
    assert_int_equal(sim->credited,
                     card->balance + sim->fees_charged + sim->arrears_paid + sim->forfeited);
    assert_int_equal(sim->arrears_raised, card->arrears + sim->arrears_paid + sim->written_off);
    if (sim->recycled) {
        assert_int_equal(card->status, CARD_RECYCLED);
    }
    if (card->status == CARD_ACTIVE) {
        assert_int_equal(card->arrears, 0);
    }
    if (card->status == CARD_RECYCLED) {
        assert_int_equal(card->balance, 0);
        assert_int_equal(card->arrears, 0);
    }
    if (sim->plan.model == RETENTION_VALIDITY) {
        assert_int_equal(card->arrears, 0);
    }
}

/* The store's unique (card, kind, period) key: no step may ever be recorded twice. */
static void sim_record_event(struct sim *sim, const struct lifecycle_step *step)
{
    for (size_t i = 0; i < sim->events_count; i++) {
        assert_false(sim->event_actions[i] == step->action &&
                     sim->event_periods[i] == step->period);
    }
    assert_true(sim->events_count < SIM_EVENTS_MAX);
    sim->event_actions[sim->events_count] = step->action;
    sim->event_periods[sim->events_count] = step->period;
    sim->events_count++;
}

/* What each kind of step may do, checked against the state it was taken from. */
static void sim_assert_step(const struct sim *sim, const struct lifecycle_step *step)
{
    const struct card_state *before = &sim->card;
    const struct card_state *after = &step->after;
    int64_t grace_s = (int64_t)sim->plan.grace_days * DAY;

    assert_true(step->period > 0);
    switch (step->action) {
    case LIFECYCLE_CHARGE_FEE:
        assert_int_equal(before->status, CARD_ACTIVE);
        assert_int_equal(sim->plan.model, RETENTION_MONTHLY_FEE);
        assert_int_equal(step->amount, sim->plan.monthly_fee);
        assert_int_equal(step->period, before->next_billing_at);
        assert_true(step->period <= sim->now);
        assert_true(after->next_billing_at > before->next_billing_at);
        assert_int_equal(after->balance, before->balance - step->amount);
        assert_int_equal(after->status, CARD_ACTIVE);
        break;
    case LIFECYCLE_SUSPEND:
        assert_int_equal(before->status, CARD_ACTIVE);
        assert_int_equal(after->status, CARD_SUSPENDED);
        assert_int_equal(step->period, after->suspended_at);
        assert_true(step->period <= sim->now);
        assert_int_equal(after->balance, before->balance);
        if (sim->plan.model == RETENTION_MONTHLY_FEE) {
            assert_true(before->balance < sim->plan.monthly_fee);
            assert_int_equal(step->amount, sim->plan.monthly_fee);
            assert_int_equal(after->arrears, step->amount);
        } else {
            assert_int_equal(step->amount, 0);
            assert_int_equal(step->period, before->valid_until);
        }
        break;
    case LIFECYCLE_RECYCLE:
        assert_int_equal(before->status, CARD_SUSPENDED);
        assert_int_equal(after->status, CARD_RECYCLED);
        assert_int_equal(step->amount, before->balance);
        assert_true(sim->now >= before->suspended_at + grace_s);
        break;
    case LIFECYCLE_REMIND_LOW:
        assert_int_equal(before->status, CARD_ACTIVE);
        assert_int_equal(step->amount, 0);
        assert_true(step->period > sim->now);
        assert_true(step->period - sim->now <= (int64_t)sim->rules.remind_days_before * DAY);
        assert_int_equal(after->balance, before->balance);
        break;
    case LIFECYCLE_WARN_RECYCLE:
        assert_int_equal(before->status, CARD_SUSPENDED);
        assert_int_equal(step->amount, 0);
        assert_int_equal(step->period, before->suspended_at);
        assert_true(sim->now < before->suspended_at + grace_s);
        assert_int_equal(after->balance, before->balance);
        break;
    default:
        fail_msg("unexpected step %d", (int)step->action);
    }
}

/* A job run at sim->now: steps until NONE, every step checked, counted and recorded. */
static void sim_run_job(struct sim *sim)
{
    int64_t due_at;
    size_t steps;

    for (steps = 0; steps < LIFECYCLE_STEPS_MAX; steps++) {
        struct lifecycle_step step = next_ok(&sim->card, &sim->plan, &sim->rules, sim->now);
        struct lifecycle_step again = next_ok(&sim->card, &sim->plan, &sim->rules, sim->now);

        assert_step_equal(&step, &again); /* a crash before storing it changes nothing */
        if (step.action == LIFECYCLE_NONE) {
            break;
        }
        sim_assert_step(sim, &step);
        sim_record_event(sim, &step);
        switch (step.action) {
        case LIFECYCLE_CHARGE_FEE:
            sim->fees_charged += step.amount;
            break;
        case LIFECYCLE_SUSPEND:
            sim->arrears_raised += step.amount;
            break;
        case LIFECYCLE_RECYCLE:
            sim->forfeited += step.amount;
            sim->written_off += sim->card.arrears;
            sim->recycled = true;
            break;
        default:
            break;
        }
        sim->card = step.after;
        sim_assert_invariants(sim);
    }
    assert_true(steps < LIFECYCLE_STEPS_MAX);
    assert_nothing_due(&sim->card, &sim->plan, &sim->rules, sim->now);

    /* due_at is exactly the first instant the next run would find something. */
    due_at = lifecycle_due_at(&sim->card, &sim->plan, &sim->rules, sim->now);
    if (due_at == 0) {
        assert_true(sim->card.status == CARD_RECYCLED || sim->card.valid_until == 0);
    } else {
        assert_true(due_at > sim->now);
        assert_nothing_due(&sim->card, &sim->plan, &sim->rules, due_at - 1);
        assert_int_not_equal(next_ok(&sim->card, &sim->plan, &sim->rules, due_at).action,
                             LIFECYCLE_NONE);
    }
}

static void sim_credit(struct sim *sim, int64_t amount)
{
    struct lifecycle_credit credit;
    const struct card_state before = sim->card;
    int rc = lifecycle_apply_credit(&credit, &sim->card, &sim->plan, amount, sim->now);

    if (sim->recycled) {
        assert_int_equal(rc, LEB_E_CARD_NOT_RECHARGEABLE);
        return;
    }
    assert_int_equal(rc, LEB_OK);
    assert_int_equal(credit.status_before, before.status);
    assert_true(credit.arrears_paid >= 0 && credit.arrears_paid <= before.arrears);
    assert_int_equal(credit.after.balance + credit.arrears_paid, before.balance + amount);
    if (before.status == CARD_ACTIVE) {
        assert_int_equal(credit.after.status, CARD_ACTIVE);
    }
    if (sim->plan.model == RETENTION_MONTHLY_FEE) {
        assert_int_equal(credit.validity_added_s, 0);
        if (before.status == CARD_SUSPENDED) {
            assert_int_equal(credit.after.status == CARD_ACTIVE, credit.after.arrears == 0);
        }
        if (before.status == CARD_SUSPENDED && credit.after.status == CARD_ACTIVE) {
            assert_true(credit.after.next_billing_at > sim->now);
            assert_int_equal(credit.after.suspended_at, 0);
        }
    } else {
        int64_t cap = sim->now + (int64_t)sim->plan.validity_days_max * DAY;

        assert_int_equal(credit.arrears_paid, 0);
        assert_int_equal(credit.validity_added_s, credit.after.valid_until - before.valid_until);
        assert_true(credit.after.valid_until >= before.valid_until);
        assert_true(credit.validity_added_s == 0 || credit.after.valid_until <= cap);
        if (amount < sim->plan.validity_step_amount) {
            assert_int_equal(credit.validity_added_s, 0);
        }
        if (before.status == CARD_SUSPENDED) {
            assert_int_equal(credit.after.status == CARD_ACTIVE,
                             credit.after.valid_until > sim->now);
        }
    }
    sim->credited += amount;
    sim->arrears_paid += credit.arrears_paid;
    sim->card = credit.after;
    sim_assert_invariants(sim);
}

static void sim_init(struct sim *sim, uint64_t *seed)
{
    memset(sim, 0, sizeof(*sim));
    if (sim_below(seed, 2) == 0) {
        sim->plan = plan_monthly();
        sim->plan.monthly_fee = 1 + sim_below(seed, 2000);
    } else {
        sim->plan = plan_validity();
        sim->plan.validity_days = (int32_t)(1 + sim_below(seed, 60));
        sim->plan.validity_step_amount = 100 + sim_below(seed, 5000);
        sim->plan.validity_days_max = sim->plan.validity_days + (int32_t)sim_below(seed, 400);
    }
    sim->plan.grace_days = sim_below(seed, 8) == 0 ? 0 : (int32_t)sim_below(seed, 120);
    sim->rules.remind_days_before = (int32_t)sim_below(seed, 8);
    sim->rules.recycle_warning_days = (int32_t)sim_below(seed, 15);
    sim->now = utc(2020, 1, 1, 0, 0, 0) + sim_below(seed, 10 * 365 * DAY);
    lifecycle_new_card(&sim->card, &sim->plan,
                       sim_below(seed, 10) == 0 ? CARD_SUSPENDED : CARD_ACTIVE, sim->now);
}

static int64_t sim_amount(struct sim *sim, uint64_t *seed)
{
    int64_t unit = sim->plan.model == RETENTION_MONTHLY_FEE ? sim->plan.monthly_fee
                                                            : sim->plan.validity_step_amount;

    switch (sim_below(seed, 4)) {
    case 0:
        return 1 + sim_below(seed, unit); /* up to one fee or step, often less */
    case 1:
        return unit * (1 + sim_below(seed, 6)); /* whole fees or steps */
    case 2:
        return 1 + sim_below(seed, 20000);
    default:
        return unit * (1 + sim_below(seed, 6)) + sim_below(seed, unit);
    }
}

static void test_lifecycle__random_sequences_of_credits_and_time_keep_every_invariant(void **state)
{
    uint64_t seed = UINT64_C(0x1eb0c0de5eed);
    size_t recycled_count = 0;
    size_t reactivated_count = 0;

    for (int sequence = 0; sequence < SIM_SEQUENCES; sequence++) {
        struct sim *sim = test_malloc(sizeof(*sim));

        sim_init(sim, &seed);
        for (int operation = 0; operation < SIM_OPERATIONS; operation++) {
            int64_t choice = sim_below(&seed, 10);

            if (choice < 3) {
                enum card_status before = sim->card.status;

                sim_credit(sim, sim_amount(sim, &seed));
                reactivated_count +=
                    before == CARD_SUSPENDED && sim->card.status == CARD_ACTIVE ? 1 : 0;
                continue;
            }
            if (choice == 3) {
                /* The job runs again at once, or on another node: nothing new. */
            } else if (choice == 4) {
                /* Exactly at the next due instant, where every boundary lies. */
                int64_t due_at = lifecycle_due_at(&sim->card, &sim->plan, &sim->rules, sim->now);

                sim->now = due_at > sim->now ? due_at : sim->now + 1;
            } else if (choice < 8) {
                sim->now += sim_below(&seed, DAY);
            } else {
                sim->now += sim_below(&seed, 100 * DAY);
            }
            sim_run_job(sim);
        }
        recycled_count += sim->recycled ? 1 : 0;
        test_free(sim);
    }
    /* The sequences reach every part of the rules, not just the quiet ones. */
    assert_true(recycled_count > SIM_SEQUENCES / 10);
    assert_true(reactivated_count > SIM_SEQUENCES / 10);
}

static void test_lifecycle__a_late_job_moves_the_same_money_as_a_punctual_one(void **state)
{
    uint64_t seed = UINT64_C(0x5eed1a7e);

    for (int sequence = 0; sequence < 200; sequence++) {
        struct sim punctual;
        struct card_state late;
        struct job_log log;
        int64_t start;
        int64_t fees_late = 0;
        int64_t fees_punctual = 0;
        int64_t forfeited_late = 0;
        int64_t forfeited_punctual = 0;
        int days = 1 + (int)sim_below(&seed, 300);

        sim_init(&punctual, &seed);
        sim_credit(&punctual, sim_amount(&punctual, &seed) * (1 + sim_below(&seed, 4)));
        late = punctual.card;
        start = punctual.now;

        /* Punctual: every day at the hour the card was created. Late: once, at the end. */
        for (int day = 1; day <= days; day++) {
            punctual.now = start + day * DAY;
            sim_run_job(&punctual);
        }
        fees_punctual = punctual.fees_charged;
        forfeited_punctual = punctual.forfeited;
        run_job(&late, &punctual.plan, &punctual.rules, punctual.now, &log);
        for (size_t i = 0; i < log.count; i++) {
            fees_late += log.actions[i] == LIFECYCLE_CHARGE_FEE ? log.amounts[i] : 0;
            forfeited_late += log.actions[i] == LIFECYCLE_RECYCLE ? log.amounts[i] : 0;
        }
        assert_int_equal(fees_late, fees_punctual);
        assert_int_equal(forfeited_late, forfeited_punctual);
        assert_int_equal(late.status, punctual.card.status);
        assert_int_equal(late.balance, punctual.card.balance);
        assert_int_equal(late.arrears, punctual.card.arrears);
        assert_int_equal(late.next_billing_at, punctual.card.next_billing_at);
        assert_int_equal(late.valid_until, punctual.card.valid_until);
        assert_int_equal(late.suspended_at, punctual.card.suspended_at);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle__action_names_are_the_event_names),
        cmocka_unit_test(
            test_lifecycle__a_new_monthly_card_is_first_billed_on_its_next_billing_day),
        cmocka_unit_test(test_lifecycle__a_new_validity_card_comes_with_one_step_of_validity),
        cmocka_unit_test(test_lifecycle__a_card_created_suspended_is_suspended_from_now),
        cmocka_unit_test(test_lifecycle__a_card_created_recycled_has_nothing_due),
        cmocka_unit_test(test_lifecycle__nothing_is_due_before_the_billing_day),
        cmocka_unit_test(test_lifecycle__charges_the_fee_when_the_balance_is_exactly_enough),
        cmocka_unit_test(test_lifecycle__suspends_when_the_fee_is_not_covered),
        cmocka_unit_test(
            test_lifecycle__a_late_suspension_is_dated_at_the_billing_instant_not_at_now),
        cmocka_unit_test(test_lifecycle__bills_on_the_last_day_of_short_months_across_a_leap_year),
        cmocka_unit_test(test_lifecycle__a_job_run_late_by_months_catches_up_cycle_by_cycle),
        cmocka_unit_test(
            test_lifecycle__reminds_exactly_at_the_lead_boundary_and_not_a_second_before),
        cmocka_unit_test(test_lifecycle__reminds_once_per_billing_day),
        cmocka_unit_test(
            test_lifecycle__does_not_remind_a_card_that_covers_its_fee_or_a_plan_without_a_lead),
        cmocka_unit_test(test_lifecycle__a_monthly_fee_of_zero_never_suspends),
        cmocka_unit_test(test_lifecycle__a_validity_card_is_suspended_when_its_validity_ends),
        cmocka_unit_test(test_lifecycle__a_validity_card_is_reminded_once_before_its_validity_ends),
        cmocka_unit_test(test_lifecycle__a_validity_card_without_an_end_of_validity_never_expires),
        cmocka_unit_test(
            test_lifecycle__recycles_at_the_end_of_the_grace_period_and_not_a_second_before),
        cmocka_unit_test(test_lifecycle__recycling_forfeits_the_balance_and_writes_off_the_arrears),
        cmocka_unit_test(test_lifecycle__warns_once_before_recycling),
        cmocka_unit_test(
            test_lifecycle__a_warning_lead_longer_than_the_grace_warns_at_the_suspension),
        cmocka_unit_test(test_lifecycle__a_grace_of_zero_recycles_at_once),
        cmocka_unit_test(test_lifecycle__a_job_too_late_for_the_warning_recycles_without_it),
        cmocka_unit_test(test_lifecycle__a_recycled_card_has_nothing_due_ever_again),
        cmocka_unit_test(
            test_lifecycle__a_card_untouched_for_three_years_pays_its_months_then_suspends_warns_recycles),
        cmocka_unit_test(
            test_lifecycle__a_card_untouched_for_three_years_past_its_grace_is_recycled_at_once),
        cmocka_unit_test(test_lifecycle__running_a_job_twice_or_after_a_crash_charges_once),
        cmocka_unit_test(test_lifecycle__due_at_is_the_first_instant_a_step_is_due),
        cmocka_unit_test(test_lifecycle__a_credit_on_an_active_card_adds_to_its_balance),
        cmocka_unit_test(
            test_lifecycle__a_credit_paying_part_of_the_arrears_leaves_the_card_suspended),
        cmocka_unit_test(
            test_lifecycle__a_credit_paying_all_of_the_arrears_reactivates_the_card_at_once),
        cmocka_unit_test(test_lifecycle__a_credit_beyond_the_arrears_stays_as_balance),
        cmocka_unit_test(
            test_lifecycle__the_balance_left_on_a_suspended_card_helps_pay_its_arrears),
        cmocka_unit_test(
            test_lifecycle__a_credit_reaches_a_card_whose_grace_ended_but_is_not_yet_recycled),
        cmocka_unit_test(test_lifecycle__a_credit_extends_validity_by_whole_steps_only),
        cmocka_unit_test(test_lifecycle__validity_is_capped_at_the_plan_maximum),
        cmocka_unit_test(test_lifecycle__a_credit_never_shortens_validity),
        cmocka_unit_test(test_lifecycle__a_huge_credit_saturates_validity_at_the_cap),
        cmocka_unit_test(test_lifecycle__a_suspended_validity_card_is_reactivated_by_a_whole_step),
        cmocka_unit_test(test_lifecycle__a_credit_on_a_recycled_card_is_refused),
        cmocka_unit_test(test_lifecycle__a_credit_of_nothing_or_less_is_refused),
        cmocka_unit_test(test_lifecycle__a_credit_that_would_overflow_the_balance_is_refused),
        cmocka_unit_test(
            test_lifecycle__a_credit_is_not_refused_by_a_plan_that_no_longer_sells_top_ups),
        cmocka_unit_test(test_lifecycle__states_that_break_the_rules_are_refused),
        cmocka_unit_test(test_lifecycle__times_that_would_overflow_are_refused_not_wrapped),
        cmocka_unit_test(test_lifecycle__plans_and_rules_that_contradict_themselves_are_refused),
        cmocka_unit_test(test_lifecycle__random_sequences_of_credits_and_time_keep_every_invariant),
        cmocka_unit_test(test_lifecycle__a_late_job_moves_the_same_money_as_a_punctual_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
