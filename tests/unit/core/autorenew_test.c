/*
 * autorenew_test.c - auto-renewal: rule names, settings against their plan, and every rule of
 * the decision at its boundary (the lead, the fee exactly covered, the threshold, the amount
 * rounded and capped, suspended and recycled cards, retries and their cap, new cycles), with
 * the amounts held to pricing_quote()'s own answers and states that would overflow refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "core/autorenew.h"
#include "core/lifecycle.h"
#include "core/timeutil.h"

#define DAY INT64_C(86400)
#define TIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* Unix seconds of a UTC civil time. */
static int64_t utc(int year, int month, int day, int hour, int minute, int second)
{
    return time_days_from_civil(year, month, day) * DAY + hour * 3600 + minute * 60 + second;
}

/* The contract's demo plan KEEP8: 8 yuan a month, top-ups of 10 to 500 yuan in whole yuan,
 * a reminder 3 days ahead, so that auto-renewal acts 1 + 3 = 4 days ahead. */
static struct plan plan_monthly(void)
{
    struct plan plan;

    memset(&plan, 0, sizeof(plan));
    strcpy(plan.code, "KEEP8");
    strcpy(plan.name, "KEEP 8");
    strcpy(plan.currency, "CNY");
    plan.model = RETENTION_MONTHLY_FEE;
    plan.monthly_fee = 800;
    plan.denominations[0] = 5000;
    plan.denominations[1] = 10000;
    plan.denominations[2] = 20000;
    plan.denominations_count = 3;
    plan.amount_min = 1000;
    plan.amount_max = 50000;
    plan.amount_step = 100;
    plan.grace_days = 90;
    plan.recharge_allowed = true;
    plan.remind_days_before = 3;
    plan.recycle_warning_days = 7;
    return plan;
}

/* KEEP8 with top-ups from 1 yuan, so that the step alone decides the amount. */
static struct plan plan_small(void)
{
    struct plan plan = plan_monthly();

    plan.amount_min = 100;
    return plan;
}

/* 30 days per 10 yuan, at most 365 days ahead. */
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

static const struct autorenew_setting keep_fee = {.rule = AUTORENEW_KEEP_FEE};

static struct autorenew_setting threshold_setting(int64_t amount, int64_t threshold)
{
    struct autorenew_setting setting = {.rule = AUTORENEW_THRESHOLD};

    setting.amount = amount;
    setting.threshold = threshold;
    return setting;
}

/* The billing instant the cards below are for, and its lead on KEEP8. */
static int64_t cycle_at(void)
{
    return utc(2024, 5, 15, 0, 0, 0);
}

static int64_t lead_at(void)
{
    return cycle_at() - 4 * DAY;
}

/* An active monthly_fee card billed next at cycle_at(), holding "balance". */
static struct card_state card_monthly(int64_t balance)
{
    struct card_state card;

    memset(&card, 0, sizeof(card));
    card.status = CARD_ACTIVE;
    card.balance = balance;
    card.activated_at = utc(2024, 1, 15, 10, 0, 0);
    card.next_billing_at = cycle_at();
    return card;
}

/* An active validity card valid until cycle_at(), holding "balance". */
static struct card_state card_validity(int64_t balance)
{
    struct card_state card;

    memset(&card, 0, sizeof(card));
    card.status = CARD_ACTIVE;
    card.balance = balance;
    card.activated_at = utc(2024, 1, 15, 10, 0, 0);
    card.valid_until = cycle_at();
    return card;
}

/* A monthly_fee card suspended at cycle_at() for a fee it could not pay, as lifecycle.c
 * leaves it: the balance it had, the fee as arrears. */
static struct card_state card_suspended(int64_t balance, int64_t arrears)
{
    struct card_state card = card_monthly(balance);

    card.status = CARD_SUSPENDED;
    card.arrears = arrears;
    card.suspended_at = cycle_at();
    return card;
}

static struct autorenew_decision decide_ok(const struct card_state *card, const struct plan *plan,
                                           const struct autorenew_setting *setting,
                                           int64_t cycle_tried, int64_t attempts,
                                           int64_t last_attempt_at, int64_t now)
{
    struct autorenew_decision decision;

    assert_int_equal(autorenew_decide(&decision, card, plan, setting, cycle_tried, attempts,
                                      last_attempt_at, now),
                     LEB_OK);
    return decision;
}

/* The decision for a card with no attempts recorded. */
static struct autorenew_decision decide_fresh(const struct card_state *card,
                                              const struct plan *plan,
                                              const struct autorenew_setting *setting, int64_t now)
{
    return decide_ok(card, plan, setting, 0, 0, 0, now);
}

static void assert_charge(struct autorenew_decision decision, int64_t amount, int64_t cycle)
{
    assert_true(decision.charge);
    assert_int_equal(decision.amount, amount);
    assert_int_equal(decision.cycle, cycle);
}

static void assert_no_charge(struct autorenew_decision decision, int64_t cycle)
{
    assert_false(decision.charge);
    assert_int_equal(decision.amount, 0);
    assert_int_equal(decision.cycle, cycle);
}

/* Asserts that autorenew_decide() refuses with "code" and leaves its output alone. */
static void assert_refused(const struct card_state *card, const struct plan *plan,
                           const struct autorenew_setting *setting, int64_t cycle_tried,
                           int64_t attempts, int64_t last_attempt_at, int64_t now, int code)
{
    struct autorenew_decision decision = {.charge = true, .amount = -7, .cycle = -7};

    assert_int_equal(autorenew_decide(&decision, card, plan, setting, cycle_tried, attempts,
                                      last_attempt_at, now),
                     code);
    assert_true(decision.charge);
    assert_int_equal(decision.amount, -7);
    assert_int_equal(decision.cycle, -7);
}

static bool pricing_allows(const struct plan *plan, int64_t amount)
{
    struct quote quote;

    return pricing_quote(&quote, plan, CARD_ACTIVE, amount, CHANNEL_AUTO_RENEW, PAYMENT_SANDBOX) ==
           LEB_OK;
}

/* splitmix64: a fixed seed gives the same plans on every run and every machine. */
static uint64_t random_next(uint64_t *seed)
{
    uint64_t z = (*seed += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int64_t random_below(uint64_t *seed, int64_t bound)
{
    return (int64_t)(random_next(seed) % (uint64_t)bound);
}

/* A small random plan, coherent or not in what it sells: amounts of 1..350, a step of 1..60,
 * up to four denominations within the range. */
static struct plan random_plan(uint64_t *seed)
{
    struct plan plan = plan_monthly();

    plan.amount_min = 1 + random_below(seed, 50);
    plan.amount_max = plan.amount_min + random_below(seed, 300);
    plan.amount_step = 1 + random_below(seed, 60);
    plan.denominations_count = (size_t)random_below(seed, 5);
    for (size_t i = 0; i < plan.denominations_count; i++) {
        plan.denominations[i] =
            plan.amount_min + random_below(seed, plan.amount_max - plan.amount_min + 1);
    }
    plan.monthly_fee = 1 + random_below(seed, 500);
    assert_int_equal(plan_validate(&plan), LEB_OK);
    return plan;
}

/* ---------------------------------------------------------------------------------------
 * Rule names
 * ------------------------------------------------------------------------------------- */

static void test_autorenew__rule_names_are_the_contract_names(void **state)
{
    assert_string_equal(autorenew_rule_name(AUTORENEW_KEEP_FEE), "keep_fee");
    assert_string_equal(autorenew_rule_name(AUTORENEW_THRESHOLD), "threshold");
}

static void test_autorenew__parses_the_rule_names_and_nothing_else(void **state)
{
    static const char *const refused[] = {"",          "keep",      "KEEP_FEE", "Threshold",
                                          " keep_fee", "keep_fee ", "keep-fee", "thresholds"};
    enum autorenew_rule rule = AUTORENEW_THRESHOLD;

    assert_int_equal(autorenew_rule_parse(&rule, "keep_fee"), LEB_OK);
    assert_int_equal(rule, AUTORENEW_KEEP_FEE);
    assert_int_equal(autorenew_rule_parse(&rule, "threshold"), LEB_OK);
    assert_int_equal(rule, AUTORENEW_THRESHOLD);

    rule = AUTORENEW_KEEP_FEE;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(autorenew_rule_parse(&rule, refused[i]), LEB_E_INVALID_REQUEST);
        assert_int_equal(rule, AUTORENEW_KEEP_FEE); /* untouched */
    }
    assert_int_equal(autorenew_rule_parse(&rule, NULL), LEB_E_INVALID_REQUEST);
    assert_int_equal(rule, AUTORENEW_KEEP_FEE);
}

static void test_autorenew__a_rule_name_parses_back_to_its_rule(void **state)
{
    static const enum autorenew_rule rules[] = {AUTORENEW_KEEP_FEE, AUTORENEW_THRESHOLD};

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        enum autorenew_rule parsed;

        assert_int_equal(autorenew_rule_parse(&parsed, autorenew_rule_name(rules[i])), LEB_OK);
        assert_int_equal(parsed, rules[i]);
    }
}

/* ---------------------------------------------------------------------------------------
 * Settings
 * ------------------------------------------------------------------------------------- */

static void test_autorenew__keep_fee_is_a_setting_of_monthly_fee_plans_only(void **state)
{
    struct plan monthly = plan_monthly();
    struct plan validity = plan_validity();

    assert_int_equal(autorenew_setting_check(&keep_fee, &monthly), LEB_OK);
    assert_int_equal(autorenew_setting_check(&keep_fee, &validity), LEB_E_INVALID_REQUEST);
}

static void test_autorenew__keep_fee_ignores_the_threshold_fields(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting = {.rule = AUTORENEW_KEEP_FEE, .amount = -1, .threshold = -1};

    assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_OK);
}

static void test_autorenew__keep_fee_is_refused_on_a_plan_that_sells_no_amount(void **state)
{
    struct plan plan = plan_monthly();

    /* 1.50 to 1.80 yuan in whole yuan: nothing can be bought. */
    plan.amount_min = 150;
    plan.amount_max = 180;
    plan.denominations_count = 0;
    assert_int_equal(plan_validate(&plan), LEB_OK);
    assert_int_equal(autorenew_setting_check(&keep_fee, &plan), LEB_E_INVALID_REQUEST);

    /* One denomination is enough. */
    plan.denominations[0] = 170;
    plan.denominations_count = 1;
    assert_int_equal(autorenew_setting_check(&keep_fee, &plan), LEB_OK);
}

static void test_autorenew__a_threshold_amount_must_be_one_the_plan_sells(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting;

    static const int64_t allowed[] = {1000, 1100, 5000, 49900, 50000};
    static const int64_t refused[] = {INT64_MIN, -1000, 0,     900,   999,      1001,
                                      1050,      49999, 50001, 50100, INT64_MAX};

    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        setting = threshold_setting(allowed[i], 2000);
        assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_OK);
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        setting = threshold_setting(refused[i], 2000);
        assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_E_INVALID_REQUEST);
    }

    /* A denomination off the step is sold, so it may be the amount. */
    plan.denominations[3] = 3333;
    plan.denominations_count = 4;
    setting = threshold_setting(3333, 2000);
    assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_OK);
}

static void test_autorenew__a_threshold_may_be_zero_but_not_negative(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting;

    setting = threshold_setting(1000, 0);
    assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_OK);
    setting = threshold_setting(1000, INT64_MAX);
    assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_OK);
    setting = threshold_setting(1000, -1);
    assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_E_INVALID_REQUEST);
    setting = threshold_setting(1000, INT64_MIN);
    assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_E_INVALID_REQUEST);
}

static void test_autorenew__a_threshold_setting_suits_either_model(void **state)
{
    struct plan monthly = plan_monthly();
    struct plan validity = plan_validity();
    struct autorenew_setting setting = threshold_setting(2000, 500);

    assert_int_equal(autorenew_setting_check(&setting, &monthly), LEB_OK);
    assert_int_equal(autorenew_setting_check(&setting, &validity), LEB_OK);
}

static void test_autorenew__threshold_amounts_follow_the_same_rule_as_pricing_quote(void **state)
{
    uint64_t seed = 20240515;

    for (int round = 0; round < 200; round++) {
        struct plan plan = random_plan(&seed);

        for (int64_t amount = plan.amount_min - 3; amount <= plan.amount_max + 3; amount++) {
            struct autorenew_setting setting = threshold_setting(amount, 0);
            int expected = pricing_allows(&plan, amount) ? LEB_OK : LEB_E_INVALID_REQUEST;

            assert_int_equal(autorenew_setting_check(&setting, &plan), expected);
        }
    }
}

static void test_autorenew__a_setting_stays_valid_while_the_plan_sells_no_top_ups(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting = threshold_setting(2000, 500);

    plan.recharge_allowed = false;
    assert_int_equal(autorenew_setting_check(&keep_fee, &plan), LEB_OK);
    assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_OK);
}

static void test_autorenew__a_plan_that_contradicts_itself_is_refused(void **state)
{
    struct card_state card = card_monthly(0);
    struct autorenew_setting setting = threshold_setting(2000, 500);
    struct plan plan;

    for (int broken = 0; broken < 7; broken++) {
        plan = plan_monthly();
        switch (broken) {
        case 0:
            plan.amount_step = 0; /* would divide by zero */
            break;
        case 1:
            plan.amount_step = -100;
            break;
        case 2:
            plan.amount_min = 0;
            break;
        case 3:
            plan.amount_min = plan.amount_max + 1;
            break;
        case 4:
            plan.denominations_count = PLAN_DENOMINATIONS_MAX + 1; /* would read past */
            break;
        case 5:
            plan.monthly_fee = -800;
            break;
        default:
            plan.remind_days_before = -5; /* a lead after its cycle */
            break;
        }
        assert_int_equal(autorenew_setting_check(&keep_fee, &plan), LEB_E_INVALID_PLAN);
        assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_E_INVALID_PLAN);
        assert_refused(&card, &plan, &keep_fee, 0, 0, 0, lead_at(), LEB_E_INVALID_PLAN);
    }
}

/* ---------------------------------------------------------------------------------------
 * keep_fee
 * ------------------------------------------------------------------------------------- */

static void test_autorenew__keep_fee_acts_from_the_lead_and_not_a_second_before(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);

    assert_no_charge(decide_fresh(&card, &plan, &keep_fee, utc(2024, 4, 20, 0, 0, 0)), cycle_at());
    assert_no_charge(decide_fresh(&card, &plan, &keep_fee, lead_at() - 1), cycle_at());
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 1000, cycle_at());
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at() - 1), 1000, cycle_at());
}

static void test_autorenew__the_lead_is_one_day_more_than_the_plan_reminder(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);

    for (int32_t remind_days = 0; remind_days <= 28; remind_days += 7) {
        int64_t lead = cycle_at() - (AUTORENEW_LEAD_DAYS + remind_days) * DAY;

        plan.remind_days_before = remind_days;
        assert_no_charge(decide_fresh(&card, &plan, &keep_fee, lead - 1), cycle_at());
        assert_charge(decide_fresh(&card, &plan, &keep_fee, lead), 1000, cycle_at());
    }

    /* The lead always comes before the low-balance reminder of lifecycle.c. */
    {
        struct plan_lifecycle rules = {.remind_days_before = plan.remind_days_before};
        struct lifecycle_step step;
        int64_t lead = cycle_at() - (AUTORENEW_LEAD_DAYS + plan.remind_days_before) * DAY;

        assert_int_equal(lifecycle_next(&step, &card, &plan, &rules, lead), LEB_OK);
        assert_int_equal(step.action, LIFECYCLE_NONE);
        assert_charge(decide_fresh(&card, &plan, &keep_fee, lead), 1000, cycle_at());
    }
}

static void test_autorenew__keep_fee_still_acts_when_the_billing_instant_has_passed(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);

    /* The lifecycle job has not run yet: the cycle is still the billing instant. */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), 1000, cycle_at());
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at() + 3 * DAY), 1000, cycle_at());
}

static void test_autorenew__keep_fee_charges_nothing_when_the_balance_covers_the_fee(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card;

    card = card_monthly(800); /* exactly the fee */
    assert_no_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), cycle_at());
    card = card_monthly(801);
    assert_no_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), cycle_at());
    card = card_monthly(INT64_MAX);
    assert_no_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), cycle_at());

    /* One fen short is short. */
    plan = plan_small();
    card = card_monthly(799);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 100, cycle_at());
}

static void test_autorenew__keep_fee_rounds_what_is_missing_up_to_the_step(void **state)
{
    static const struct {
        int64_t balance;
        int64_t amount;
    } cases[] = {
        {0, 800},   /* exactly a multiple */
        {1, 800},   /* 799 missing */
        {99, 800},  /* 701 missing */
        {100, 700}, /* 700 missing, exactly */
        {101, 700}, /* 699 missing */
        {350, 500}, /* 450 missing */
        {700, 100}, /* 100 missing, exactly the minimum */
        {750, 100}, /* 50 missing: at least the minimum */
    };
    struct plan plan = plan_small();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct card_state card = card_monthly(cases[i].balance);

        assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), cases[i].amount,
                      cycle_at());
    }
}

static void test_autorenew__keep_fee_charges_at_least_the_plan_minimum(void **state)
{
    struct plan plan = plan_monthly(); /* 10 yuan at least, 8 yuan a month */
    struct card_state card;

    card = card_monthly(0);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 1000, cycle_at());
    card = card_monthly(799);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 1000, cycle_at());

    /* A minimum off the step is rounded up to the step: 10.50 yuan is not sold. */
    plan.amount_min = 1050;
    card = card_monthly(0);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 1100, cycle_at());
}

static void test_autorenew__keep_fee_charges_the_maximum_when_even_that_is_not_enough(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card;

    plan.monthly_fee = 80000; /* more than one top-up may be */
    card = card_monthly(0);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 50000, cycle_at());
    card = card_monthly(29999); /* 50001 missing */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 50000, cycle_at());
    card = card_monthly(30000); /* 50000 missing: the maximum is exactly enough */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 50000, cycle_at());
    card = card_monthly(30001); /* 49999 missing */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 50000, cycle_at());
    card = card_monthly(30100); /* 49900 missing */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 49900, cycle_at());
}

static void test_autorenew__keep_fee_never_charges_a_maximum_the_plan_does_not_sell(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);

    plan.monthly_fee = 80000;
    plan.amount_max = 50050; /* off the step: the largest amount sold is 500 yuan */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 50000, cycle_at());

    /* unless it is a denomination */
    plan.denominations[3] = 50050;
    plan.denominations_count = 4;
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 50050, cycle_at());

    /* What is missing lies between the last multiple sold and the maximum: the next multiple
     * is one fen past the maximum, so the charge is the last multiple. */
    plan = plan_monthly();
    plan.monthly_fee = 80000;
    plan.amount_max = 49999;
    card = card_monthly(30050); /* 49950 missing */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 49900, cycle_at());
}

static void test_autorenew__keep_fee_takes_a_denomination_off_the_step_when_it_is_less(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card;

    plan.amount_step = 1000;
    plan.monthly_fee = 1200;
    plan.denominations[3] = 1500;
    plan.denominations_count = 4;
    card = card_monthly(0); /* 1200 missing: 15 yuan beats 20 */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 1500, cycle_at());
    card = card_monthly(600); /* 600 missing: 10 yuan, the minimum, beats 15 */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 1000, cycle_at());
}

static void test_autorenew__denominations_outside_the_range_are_never_charged(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting = threshold_setting(500, 1500);
    struct card_state card;

    /* A plan stored under older rules: plan_validate() would refuse both denominations. */
    plan.denominations[0] = 500;
    plan.denominations[1] = 60000;
    plan.monthly_fee = 80000;
    assert_int_equal(autorenew_setting_check(&setting, &plan), LEB_E_INVALID_REQUEST);
    card = card_monthly(0);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 50000, cycle_at());
    card = card_monthly(79600); /* 400 missing */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 1000, cycle_at());
}

/*
 * Against an oracle that tries every amount pricing_quote() accepts: keep_fee charges the
 * smallest amount that covers the fee, or the largest there is when none does, and nothing
 * when the balance covers the fee already.
 */
static void test_autorenew__keep_fee_charges_the_smallest_amount_pricing_accepts(void **state)
{
    uint64_t seed = 86400;

    for (int round = 0; round < 2000; round++) {
        struct plan plan = random_plan(&seed);
        struct card_state card = card_monthly(random_below(&seed, 600));
        int64_t smallest = 0;
        int64_t largest = 0;

        for (int64_t amount = plan.amount_min; amount <= plan.amount_max; amount++) {
            if (!pricing_allows(&plan, amount)) {
                continue;
            }
            largest = amount;
            if (smallest == 0 && card.balance + amount >= plan.monthly_fee) {
                smallest = amount;
            }
        }
        if (largest == 0) {
            assert_int_equal(autorenew_setting_check(&keep_fee, &plan), LEB_E_INVALID_REQUEST);
            assert_refused(&card, &plan, &keep_fee, 0, 0, 0, lead_at(), LEB_E_INVALID_REQUEST);
        } else if (card.balance >= plan.monthly_fee) {
            assert_no_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), cycle_at());
        } else {
            assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()),
                          smallest != 0 ? smallest : largest, cycle_at());
        }
    }
}

static void test_autorenew__a_monthly_fee_of_zero_never_needs_keep_fee(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);

    plan.monthly_fee = 0;
    assert_no_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), cycle_at());
}

/* ---------------------------------------------------------------------------------------
 * threshold
 * ------------------------------------------------------------------------------------- */

static void test_autorenew__threshold_tops_up_below_the_threshold_and_not_at_it(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting = threshold_setting(2000, 1500);
    struct card_state card;

    card = card_monthly(1499);
    assert_charge(decide_fresh(&card, &plan, &setting, lead_at()), 2000, cycle_at());
    card = card_monthly(0);
    assert_charge(decide_fresh(&card, &plan, &setting, lead_at()), 2000, cycle_at());
    card = card_monthly(1500);
    assert_no_charge(decide_fresh(&card, &plan, &setting, lead_at()), cycle_at());
    card = card_monthly(1501);
    assert_no_charge(decide_fresh(&card, &plan, &setting, lead_at()), cycle_at());
}

static void test_autorenew__threshold_tops_up_by_its_amount_whatever_the_fee(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting = threshold_setting(5000, 10000);
    struct card_state card = card_monthly(9000); /* covers the fee many times over */

    assert_charge(decide_fresh(&card, &plan, &setting, lead_at()), 5000, cycle_at());
}

static void test_autorenew__threshold_acts_from_the_lead_and_not_a_second_before(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting = threshold_setting(2000, 1500);
    struct card_state card = card_monthly(0);

    assert_no_charge(decide_fresh(&card, &plan, &setting, lead_at() - 1), cycle_at());
    assert_charge(decide_fresh(&card, &plan, &setting, lead_at()), 2000, cycle_at());
}

static void test_autorenew__a_zero_threshold_never_tops_up_an_active_card(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting = threshold_setting(2000, 0);
    struct card_state card = card_monthly(0);

    assert_no_charge(decide_fresh(&card, &plan, &setting, cycle_at()), cycle_at());
}

static void test_autorenew__a_validity_card_is_topped_up_for_its_end_of_validity(void **state)
{
    struct plan plan = plan_validity();
    struct autorenew_setting setting = threshold_setting(1000, 1000);
    struct card_state card = card_validity(999);

    assert_no_charge(decide_fresh(&card, &plan, &setting, lead_at() - 1), cycle_at());
    assert_charge(decide_fresh(&card, &plan, &setting, lead_at()), 1000, cycle_at());
    card = card_validity(1000);
    assert_no_charge(decide_fresh(&card, &plan, &setting, lead_at()), cycle_at());
}

static void test_autorenew__a_validity_card_without_an_end_is_never_topped_up(void **state)
{
    struct plan plan = plan_validity();
    struct autorenew_setting setting = threshold_setting(1000, 1000);
    struct card_state card = card_validity(0);

    card.valid_until = 0;
    assert_no_charge(decide_fresh(&card, &plan, &setting, lead_at()), 0);
    assert_no_charge(decide_fresh(&card, &plan, &setting, TIME_MAX), 0);
}

static void test_autorenew__keep_fee_on_a_validity_plan_is_refused_by_the_decision(void **state)
{
    struct plan plan = plan_validity();
    struct card_state card = card_validity(0);

    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, lead_at(), LEB_E_INVALID_REQUEST);
    card.status = CARD_SUSPENDED;
    card.suspended_at = cycle_at();
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, lead_at(), LEB_E_INVALID_REQUEST);
}

/* ---------------------------------------------------------------------------------------
 * Suspended and recycled cards
 * ------------------------------------------------------------------------------------- */

static void test_autorenew__a_suspended_card_is_topped_up_at_once_for_its_suspension(void **state)
{
    struct plan plan = plan_small();
    struct card_state card = card_suspended(0, 800);

    /* No lead: at once, however late, and until it is recycled. */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), 800, cycle_at());
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at() + 89 * DAY), 800, cycle_at());
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at() + 120 * DAY), 800, cycle_at());

    /* The cycle is the suspension, not a billing instant still on the card. */
    card.next_billing_at = cycle_at() + 30 * DAY;
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), 800, cycle_at());
}

static void test_autorenew__keep_fee_pays_the_arrears_of_a_suspended_card(void **state)
{
    static const struct {
        int64_t balance;
        int64_t arrears;
        int64_t amount;
    } cases[] = {
        {0, 800, 800},     /* exactly the arrears */
        {0, 801, 900},     /* rounded up to the step */
        {0, 799, 800},     /* rounded up to the step */
        {500, 800, 300},   /* the balance left helps, as in lifecycle_apply_credit() */
        {750, 800, 100},   /* at least the minimum */
        {0, 80000, 50000}, /* capped at the maximum */
    };
    struct plan plan = plan_small();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct card_state card = card_suspended(cases[i].balance, cases[i].arrears);

        assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), cases[i].amount,
                      cycle_at());
    }

    /* On KEEP8, 10 yuan at least. */
    plan = plan_monthly();
    {
        struct card_state card = card_suspended(0, 800);

        assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), 1000, cycle_at());
    }
}

static void test_autorenew__the_arrears_charge_reactivates_the_card(void **state)
{
    struct plan plan = plan_small();
    struct card_state card = card_suspended(500, 800);
    int64_t now = cycle_at() + 2 * DAY;
    struct autorenew_decision decision = decide_fresh(&card, &plan, &keep_fee, now);
    struct lifecycle_credit credit;

    assert_true(decision.charge);
    assert_int_equal(lifecycle_apply_credit(&credit, &card, &plan, decision.amount, now), LEB_OK);
    assert_int_equal(credit.after.status, CARD_ACTIVE);
    assert_int_equal(credit.after.arrears, 0);
}

static void
test_autorenew__a_suspended_card_that_owes_nothing_gets_the_smallest_top_up(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card;

    /* A card created suspended owes nothing, but still needs a credit to come back. */
    lifecycle_new_card(&card, &plan, CARD_SUSPENDED, cycle_at());
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), 1000, cycle_at());
    card.balance = 5000;
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), 1000, cycle_at());
}

static void test_autorenew__threshold_tops_up_a_suspended_card_whatever_its_balance(void **state)
{
    struct plan monthly = plan_monthly();
    struct plan validity = plan_validity();
    struct autorenew_setting setting = threshold_setting(2000, 0);
    struct card_state card = card_suspended(5000, 800);

    assert_charge(decide_fresh(&card, &monthly, &setting, cycle_at()), 2000, cycle_at());

    card = card_validity(5000);
    card.status = CARD_SUSPENDED;
    card.suspended_at = cycle_at();
    assert_charge(decide_fresh(&card, &validity, &setting, cycle_at() + DAY), 2000, cycle_at());
}

static void test_autorenew__a_recycled_card_is_never_topped_up(void **state)
{
    struct plan monthly = plan_monthly();
    struct plan validity = plan_validity();
    struct autorenew_setting setting = threshold_setting(2000, INT64_MAX);
    struct card_state card;

    lifecycle_new_card(&card, &monthly, CARD_RECYCLED, cycle_at());
    assert_no_charge(decide_fresh(&card, &monthly, &keep_fee, cycle_at()), 0);
    assert_no_charge(decide_fresh(&card, &monthly, &setting, TIME_MAX), 0);

    /* Whatever times it still carries. */
    card = card_suspended(0, 800);
    card.status = CARD_RECYCLED;
    assert_no_charge(decide_fresh(&card, &monthly, &keep_fee, cycle_at()), 0);
    card = card_validity(0);
    card.status = CARD_RECYCLED;
    assert_no_charge(decide_fresh(&card, &validity, &setting, cycle_at()), 0);
}

static void test_autorenew__a_plan_that_sells_no_top_ups_is_not_charged(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting = threshold_setting(2000, 1500);
    struct card_state card = card_monthly(0);
    struct card_state suspended = card_suspended(0, 800);

    plan.recharge_allowed = false; /* pricing_quote() would refuse the order */
    assert_no_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), cycle_at());
    assert_no_charge(decide_fresh(&card, &plan, &setting, lead_at()), cycle_at());
    assert_no_charge(decide_fresh(&suspended, &plan, &keep_fee, cycle_at()), cycle_at());
}

/* ---------------------------------------------------------------------------------------
 * Attempts
 * ------------------------------------------------------------------------------------- */

static void test_autorenew__a_failed_charge_is_retried_not_before_the_retry_delay(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);
    int64_t tried_at = lead_at() + 3600;

    assert_no_charge(decide_ok(&card, &plan, &keep_fee, cycle_at(), 1, tried_at, tried_at),
                     cycle_at());
    assert_no_charge(decide_ok(&card, &plan, &keep_fee, cycle_at(), 1, tried_at,
                               tried_at + AUTORENEW_RETRY_S - 1),
                     cycle_at());
    assert_charge(
        decide_ok(&card, &plan, &keep_fee, cycle_at(), 1, tried_at, tried_at + AUTORENEW_RETRY_S),
        1000, cycle_at());
}

static void test_autorenew__a_cycle_gets_no_charge_after_its_last_attempt(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);
    int64_t tried_at = lead_at();
    int64_t later = tried_at + 30 * AUTORENEW_RETRY_S;

    assert_charge(decide_ok(&card, &plan, &keep_fee, cycle_at(), AUTORENEW_ATTEMPTS_MAX - 1,
                            tried_at, tried_at + AUTORENEW_RETRY_S),
                  1000, cycle_at());
    assert_no_charge(
        decide_ok(&card, &plan, &keep_fee, cycle_at(), AUTORENEW_ATTEMPTS_MAX, tried_at, later),
        cycle_at());
    /* More than the cap (a cap lowered since) counts as used up, not as an error. */
    assert_no_charge(
        decide_ok(&card, &plan, &keep_fee, cycle_at(), AUTORENEW_ATTEMPTS_MAX + 5, tried_at, later),
        cycle_at());
    assert_no_charge(decide_ok(&card, &plan, &keep_fee, cycle_at(), INT64_MAX, tried_at, TIME_MAX),
                     cycle_at());
}

static void test_autorenew__a_new_cycle_starts_with_no_attempts(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);
    int64_t previous = utc(2024, 4, 15, 0, 0, 0);

    /* The last cycle used up its attempts a moment ago: this one has all of its own. */
    assert_charge(
        decide_ok(&card, &plan, &keep_fee, previous, AUTORENEW_ATTEMPTS_MAX, lead_at(), lead_at()),
        1000, cycle_at());
    assert_charge(decide_ok(&card, &plan, &keep_fee, previous, 1, lead_at(), lead_at()), 1000,
                  cycle_at());
    /* Attempts recorded for a cycle that lies ahead do not count either. */
    assert_charge(decide_ok(&card, &plan, &keep_fee, cycle_at() + 31 * DAY, AUTORENEW_ATTEMPTS_MAX,
                            lead_at(), lead_at()),
                  1000, cycle_at());
}

static void test_autorenew__a_suspension_at_a_billing_instant_keeps_its_attempts(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_suspended(0, 800);
    int64_t tried_at = cycle_at() - DAY;

    /* The charges for the billing instant all failed and the card was suspended at it: the
     * suspension is the same cycle, so the cardholder, already told, is not charged again. */
    assert_no_charge(decide_ok(&card, &plan, &keep_fee, cycle_at(), AUTORENEW_ATTEMPTS_MAX,
                               tried_at, cycle_at() + DAY),
                     cycle_at());
    /* With an attempt left, the retry rule holds for a suspended card too. */
    tried_at = cycle_at() + 3600;
    assert_no_charge(decide_ok(&card, &plan, &keep_fee, cycle_at(), 2, tried_at,
                               tried_at + AUTORENEW_RETRY_S - 1),
                     cycle_at());
    assert_charge(
        decide_ok(&card, &plan, &keep_fee, cycle_at(), 2, tried_at, tried_at + AUTORENEW_RETRY_S),
        1000, cycle_at());
}

/* A month of a KEEP8 card whose charges succeed, as the job and the lifecycle play it: the
 * charge comes at the lead, the fee is then covered, the lifecycle takes it, and the next
 * cycle starts afresh. */
static void test_autorenew__a_paid_cycle_needs_nothing_more_and_the_next_starts_afresh(void **state)
{
    struct plan plan = plan_monthly();
    struct plan_lifecycle rules = {.remind_days_before = plan.remind_days_before,
                                   .recycle_warning_days = plan.recycle_warning_days};
    struct card_state card;
    struct autorenew_decision decision;
    struct lifecycle_credit credit;
    struct lifecycle_step step;
    int64_t first_cycle;

    lifecycle_new_card(&card, &plan, CARD_ACTIVE, utc(2024, 4, 15, 10, 0, 0));
    first_cycle = card.next_billing_at;
    decision = decide_fresh(&card, &plan, &keep_fee, first_cycle - 4 * DAY);
    assert_charge(decision, 1000, first_cycle);
    assert_int_equal(
        lifecycle_apply_credit(&credit, &card, &plan, decision.amount, first_cycle - 4 * DAY),
        LEB_OK);
    card = credit.after;
    assert_no_charge(decide_ok(&card, &plan, &keep_fee, first_cycle, 1, first_cycle - 4 * DAY,
                               first_cycle - DAY),
                     first_cycle);

    assert_int_equal(lifecycle_next(&step, &card, &plan, &rules, first_cycle), LEB_OK);
    assert_int_equal(step.action, LIFECYCLE_CHARGE_FEE);
    card = step.after;
    assert_int_equal(card.balance, 200);
    assert_true(card.next_billing_at > first_cycle);

    /* 2 yuan left: the next cycle needs 6 more, rounded up to the 10-yuan minimum. */
    decision = decide_ok(&card, &plan, &keep_fee, first_cycle, 1, first_cycle - 4 * DAY,
                         card.next_billing_at - 4 * DAY);
    assert_charge(decision, 1000, card.next_billing_at);
}

/* ---------------------------------------------------------------------------------------
 * Broken states and overflow
 * ------------------------------------------------------------------------------------- */

static void test_autorenew__states_that_break_the_rules_are_refused(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card;
    int64_t now = lead_at();

    card = card_monthly(-1);
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, now, LEB_E_INVALID_REQUEST);
    card = card_suspended(0, -1);
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, now, LEB_E_INVALID_REQUEST);
    card = card_monthly(0);
    card.arrears = 800; /* an active card owes nothing */
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, now, LEB_E_INVALID_REQUEST);
    card = card_suspended(0, 800);
    card.suspended_at = 0;
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, now, LEB_E_INVALID_REQUEST);
    card = card_monthly(0);
    card.next_billing_at = 0;
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, now, LEB_E_INVALID_REQUEST);
    card = card_monthly(0);
    card.next_billing_at = -1;
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, now, LEB_E_INVALID_REQUEST);
    card = card_monthly(0);
    card.valid_until = -1;
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, now, LEB_E_INVALID_REQUEST);
    card = card_suspended(0, 800);
    card.suspended_at = -1;
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, now, LEB_E_INVALID_REQUEST);
    {
        struct plan validity = plan_validity();
        struct autorenew_setting setting = threshold_setting(2000, 500);

        card = card_validity(0);
        card.status = CARD_SUSPENDED;
        card.suspended_at = cycle_at();
        card.arrears = 800; /* a validity card never owes */
        assert_refused(&card, &validity, &setting, 0, 0, 0, now, LEB_E_INVALID_REQUEST);
    }
    /* A recycled card is still checked for its amounts. */
    card = card_monthly(-1);
    card.status = CARD_RECYCLED;
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, now, LEB_E_INVALID_REQUEST);

    /* "now" outside the calendar. */
    card = card_monthly(0);
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, -1, LEB_E_INVALID_REQUEST);
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, TIME_MAX + 1, LEB_E_INVALID_REQUEST);
    assert_refused(&card, &plan, &keep_fee, 0, 0, 0, INT64_MIN, LEB_E_INVALID_REQUEST);
}

static void test_autorenew__attempts_that_break_the_rules_are_refused(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);
    int64_t now = lead_at();

    assert_refused(&card, &plan, &keep_fee, cycle_at(), -1, now, now, LEB_E_INVALID_REQUEST);
    assert_refused(&card, &plan, &keep_fee, cycle_at(), INT64_MIN, now, now, LEB_E_INVALID_REQUEST);
    /* A last attempt exactly when there was one. */
    assert_refused(&card, &plan, &keep_fee, cycle_at(), 1, 0, now, LEB_E_INVALID_REQUEST);
    assert_refused(&card, &plan, &keep_fee, cycle_at(), 0, now, now, LEB_E_INVALID_REQUEST);
    /* Times outside the calendar. */
    assert_refused(&card, &plan, &keep_fee, -1, 1, now, now, LEB_E_INVALID_REQUEST);
    assert_refused(&card, &plan, &keep_fee, cycle_at(), 1, -1, now, LEB_E_INVALID_REQUEST);
    assert_refused(&card, &plan, &keep_fee, cycle_at(), 1, TIME_MAX + 1, now,
                   LEB_E_INVALID_REQUEST);
    assert_refused(&card, &plan, &keep_fee, cycle_at(), 1, INT64_MAX, now, LEB_E_INVALID_REQUEST);

    /* No attempts, whatever cycle the row names, is a fresh cycle. */
    assert_charge(decide_ok(&card, &plan, &keep_fee, cycle_at(), 0, 0, now), 1000, cycle_at());
}

static void test_autorenew__invalid_settings_are_refused_by_the_decision(void **state)
{
    struct plan plan = plan_monthly();
    struct card_state card = card_monthly(0);
    struct autorenew_setting setting;

    setting = threshold_setting(999, 1500);
    assert_refused(&card, &plan, &setting, 0, 0, 0, lead_at(), LEB_E_INVALID_REQUEST);
    setting = threshold_setting(1050, 1500);
    assert_refused(&card, &plan, &setting, 0, 0, 0, lead_at(), LEB_E_INVALID_REQUEST);
    setting = threshold_setting(50100, 1500);
    assert_refused(&card, &plan, &setting, 0, 0, 0, lead_at(), LEB_E_INVALID_REQUEST);
    setting = threshold_setting(2000, -1);
    assert_refused(&card, &plan, &setting, 0, 0, 0, lead_at(), LEB_E_INVALID_REQUEST);
    /* even for a card that would never be charged */
    card.status = CARD_RECYCLED;
    assert_refused(&card, &plan, &setting, 0, 0, 0, lead_at(), LEB_E_INVALID_REQUEST);
}

static void test_autorenew__extreme_amounts_and_times_neither_wrap_nor_abort(void **state)
{
    struct plan plan = plan_monthly();
    struct autorenew_setting setting;
    struct card_state card;

    /* The largest balance and threshold compare without arithmetic. */
    setting = threshold_setting(1000, INT64_MAX);
    card = card_monthly(INT64_MAX - 1);
    assert_charge(decide_fresh(&card, &plan, &setting, lead_at()), 1000, cycle_at());
    card = card_monthly(INT64_MAX);
    assert_no_charge(decide_fresh(&card, &plan, &setting, lead_at()), cycle_at());

    /* The largest fee and arrears are capped at the maximum. */
    plan.monthly_fee = INT64_MAX;
    card = card_monthly(0);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), 50000, cycle_at());
    card = card_suspended(0, INT64_MAX);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), 50000, cycle_at());
    card = card_suspended(INT64_MAX, INT64_MAX);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, cycle_at()), 1000, cycle_at());

    /* A range up to INT64_MAX: rounding up to the step would pass int64. */
    plan = plan_monthly();
    plan.amount_max = INT64_MAX;
    plan.amount_step = INT64_C(1) << 62;
    plan.amount_min = 1;
    plan.denominations_count = 0;
    plan.monthly_fee = INT64_MAX;
    card = card_monthly(1); /* INT64_MAX - 1 missing: 2^63 is past int64 */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), INT64_C(1) << 62, cycle_at());
    card = card_monthly(INT64_MAX - (INT64_C(1) << 62)); /* 2^62 missing, exactly */
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), INT64_C(1) << 62, cycle_at());
    plan.amount_step = 1;
    card = card_monthly(0);
    assert_charge(decide_fresh(&card, &plan, &keep_fee, lead_at()), INT64_MAX, cycle_at());

    /* The longest lead before the earliest cycle is simply due. */
    plan = plan_monthly();
    plan.remind_days_before = INT32_MAX;
    card = card_monthly(0);
    card.next_billing_at = 1;
    assert_charge(decide_fresh(&card, &plan, &keep_fee, 0), 1000, 1);

    /* A validity card valid for ever is never due, even at the end of the calendar. */
    plan = plan_validity();
    setting = threshold_setting(1000, 1000);
    card = card_validity(0);
    card.valid_until = INT64_MAX;
    assert_no_charge(decide_fresh(&card, &plan, &setting, TIME_MAX), INT64_MAX);

    /* A retry from the last instant of the calendar. */
    plan = plan_monthly();
    card = card_monthly(0);
    card.next_billing_at = TIME_MAX;
    assert_no_charge(decide_ok(&card, &plan, &keep_fee, TIME_MAX, 1, TIME_MAX, TIME_MAX), TIME_MAX);
    card = card_suspended(0, 800);
    card.suspended_at = INT64_MAX;
    assert_charge(
        decide_ok(&card, &plan, &keep_fee, INT64_MAX, 1, TIME_MAX - AUTORENEW_RETRY_S, TIME_MAX),
        1000, INT64_MAX);
}

static void test_autorenew__says_when_to_look_again_without_a_charge(void **state)
{
    struct plan plan;
    struct card_state card;
    struct autorenew_setting setting = {.rule = AUTORENEW_KEEP_FEE};
    struct autorenew_decision decision;
    int64_t billing = 1801526400; /* a billing instant: 2027-02-02T00:00:00Z */

    memset(&plan, 0, sizeof(plan));
    strcpy(plan.code, "KEEP8");
    strcpy(plan.name, "keep");
    strcpy(plan.currency, "CNY");
    plan.model = RETENTION_MONTHLY_FEE;
    plan.monthly_fee = 800;
    plan.amount_min = 1000;
    plan.amount_max = 50000;
    plan.amount_step = 100;
    plan.grace_days = 90;
    plan.recharge_allowed = true;
    plan.remind_days_before = 3;
    memset(&card, 0, sizeof(card));
    card.status = CARD_ACTIVE;
    card.activated_at = billing - 31 * LIFECYCLE_DAY_S;
    card.next_billing_at = billing;

    /* Before the lead: look again at the lead. */
    assert_int_equal(
        autorenew_decide(&decision, &card, &plan, &setting, 0, 0, 0, billing - 10 * 86400), LEB_OK);
    assert_false(decision.charge);
    assert_int_equal(decision.next_check_at, billing - 4 * LIFECYCLE_DAY_S);
    /* A failed attempt: look again at the retry. */
    int64_t tried = billing - 4 * LIFECYCLE_DAY_S;
    assert_int_equal(
        autorenew_decide(&decision, &card, &plan, &setting, billing, 1, tried, tried + 60), LEB_OK);
    assert_false(decision.charge);
    assert_int_equal(decision.next_check_at, tried + AUTORENEW_RETRY_S);
    /* Attempts used up, or nothing needed: only a change of the card can matter. */
    assert_int_equal(autorenew_decide(&decision, &card, &plan, &setting, billing,
                                      AUTORENEW_ATTEMPTS_MAX, tried, tried + 60),
                     LEB_OK);
    assert_int_equal(decision.next_check_at, 0);
    card.balance = 800;
    assert_int_equal(autorenew_decide(&decision, &card, &plan, &setting, 0, 0, 0, tried), LEB_OK);
    assert_false(decision.charge);
    assert_int_equal(decision.next_check_at, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_autorenew__rule_names_are_the_contract_names),
        cmocka_unit_test(test_autorenew__parses_the_rule_names_and_nothing_else),
        cmocka_unit_test(test_autorenew__a_rule_name_parses_back_to_its_rule),
        cmocka_unit_test(test_autorenew__keep_fee_is_a_setting_of_monthly_fee_plans_only),
        cmocka_unit_test(test_autorenew__keep_fee_ignores_the_threshold_fields),
        cmocka_unit_test(test_autorenew__keep_fee_is_refused_on_a_plan_that_sells_no_amount),
        cmocka_unit_test(test_autorenew__a_threshold_amount_must_be_one_the_plan_sells),
        cmocka_unit_test(test_autorenew__a_threshold_may_be_zero_but_not_negative),
        cmocka_unit_test(test_autorenew__a_threshold_setting_suits_either_model),
        cmocka_unit_test(test_autorenew__threshold_amounts_follow_the_same_rule_as_pricing_quote),
        cmocka_unit_test(test_autorenew__a_setting_stays_valid_while_the_plan_sells_no_top_ups),
        cmocka_unit_test(test_autorenew__a_plan_that_contradicts_itself_is_refused),
        cmocka_unit_test(test_autorenew__keep_fee_acts_from_the_lead_and_not_a_second_before),
        cmocka_unit_test(test_autorenew__the_lead_is_one_day_more_than_the_plan_reminder),
        cmocka_unit_test(test_autorenew__keep_fee_still_acts_when_the_billing_instant_has_passed),
        cmocka_unit_test(test_autorenew__keep_fee_charges_nothing_when_the_balance_covers_the_fee),
        cmocka_unit_test(test_autorenew__keep_fee_rounds_what_is_missing_up_to_the_step),
        cmocka_unit_test(test_autorenew__keep_fee_charges_at_least_the_plan_minimum),
        cmocka_unit_test(test_autorenew__keep_fee_charges_the_maximum_when_even_that_is_not_enough),
        cmocka_unit_test(test_autorenew__keep_fee_never_charges_a_maximum_the_plan_does_not_sell),
        cmocka_unit_test(
            test_autorenew__keep_fee_takes_a_denomination_off_the_step_when_it_is_less),
        cmocka_unit_test(test_autorenew__denominations_outside_the_range_are_never_charged),
        cmocka_unit_test(test_autorenew__keep_fee_charges_the_smallest_amount_pricing_accepts),
        cmocka_unit_test(test_autorenew__a_monthly_fee_of_zero_never_needs_keep_fee),
        cmocka_unit_test(test_autorenew__threshold_tops_up_below_the_threshold_and_not_at_it),
        cmocka_unit_test(test_autorenew__threshold_tops_up_by_its_amount_whatever_the_fee),
        cmocka_unit_test(test_autorenew__threshold_acts_from_the_lead_and_not_a_second_before),
        cmocka_unit_test(test_autorenew__a_zero_threshold_never_tops_up_an_active_card),
        cmocka_unit_test(test_autorenew__a_validity_card_is_topped_up_for_its_end_of_validity),
        cmocka_unit_test(test_autorenew__a_validity_card_without_an_end_is_never_topped_up),
        cmocka_unit_test(test_autorenew__keep_fee_on_a_validity_plan_is_refused_by_the_decision),
        cmocka_unit_test(test_autorenew__a_suspended_card_is_topped_up_at_once_for_its_suspension),
        cmocka_unit_test(test_autorenew__keep_fee_pays_the_arrears_of_a_suspended_card),
        cmocka_unit_test(test_autorenew__the_arrears_charge_reactivates_the_card),
        cmocka_unit_test(
            test_autorenew__a_suspended_card_that_owes_nothing_gets_the_smallest_top_up),
        cmocka_unit_test(test_autorenew__threshold_tops_up_a_suspended_card_whatever_its_balance),
        cmocka_unit_test(test_autorenew__a_recycled_card_is_never_topped_up),
        cmocka_unit_test(test_autorenew__a_plan_that_sells_no_top_ups_is_not_charged),
        cmocka_unit_test(test_autorenew__a_failed_charge_is_retried_not_before_the_retry_delay),
        cmocka_unit_test(test_autorenew__a_cycle_gets_no_charge_after_its_last_attempt),
        cmocka_unit_test(test_autorenew__a_new_cycle_starts_with_no_attempts),
        cmocka_unit_test(test_autorenew__a_suspension_at_a_billing_instant_keeps_its_attempts),
        cmocka_unit_test(
            test_autorenew__a_paid_cycle_needs_nothing_more_and_the_next_starts_afresh),
        cmocka_unit_test(test_autorenew__states_that_break_the_rules_are_refused),
        cmocka_unit_test(test_autorenew__attempts_that_break_the_rules_are_refused),
        cmocka_unit_test(test_autorenew__invalid_settings_are_refused_by_the_decision),
        cmocka_unit_test(test_autorenew__extreme_amounts_and_times_neither_wrap_nor_abort),
        cmocka_unit_test(test_autorenew__says_when_to_look_again_without_a_charge),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
