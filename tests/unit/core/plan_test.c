/*
 * plan_test.c - plan validation, names, card statuses, channel rules and quotes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "core/plan.h"

/* The contract's demo plan KEEP8. */
static struct plan plan_keep8(void)
{
    struct plan plan;

    memset(&plan, 0, sizeof(plan));
    strcpy(plan.code, "KEEP8");
    strcpy(plan.name, "保号 8 元");
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
    plan.daily_limit = 0;
    plan.grace_days = 90;
    plan.recharge_allowed = true;
    return plan;
}

static struct plan plan_validity(void)
{
    struct plan plan = plan_keep8();

    strcpy(plan.code, "VALID-30_D");
    plan.model = RETENTION_VALIDITY;
    plan.monthly_fee = 0;
    plan.validity_days = 30;
    plan.validity_step_amount = 1000;
    plan.validity_days_max = 365;
    return plan;
}

/* ---------------------------------------------------------------------------------------
 * plan_validate
 * ------------------------------------------------------------------------------------- */

static void test_plan__validate_accepts_the_demo_plan(void **state)
{
    struct plan plan = plan_keep8();

    assert_int_equal(plan_validate(&plan), LEB_OK);
}

static void test_plan__validate_bounds_the_reminder_and_the_last_warning(void **state)
{
    struct plan plan = plan_keep8();

    plan.remind_days_before = 28;
    plan.recycle_warning_days = plan.grace_days;
    assert_int_equal(plan_validate(&plan), LEB_OK);
    plan.remind_days_before = 29;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan.remind_days_before = -1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan.remind_days_before = 3;
    plan.recycle_warning_days = plan.grace_days + 1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan.recycle_warning_days = -1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
}

static void test_plan__validate_accepts_a_validity_plan(void **state)
{
    struct plan plan = plan_validity();

    assert_int_equal(plan_validate(&plan), LEB_OK);
    plan.validity_days_max = plan.validity_days;
    assert_int_equal(plan_validate(&plan), LEB_OK);
}

static void test_plan__validate_accepts_the_boundaries(void **state)
{
    struct plan plan = plan_keep8();

    strcpy(plan.code, "A");
    assert_int_equal(plan_validate(&plan), LEB_OK);
    memset(plan.code, 'Z', PLAN_CODE_SIZE - 1);
    plan.code[PLAN_CODE_SIZE - 1] = '\0';
    assert_int_equal(plan_validate(&plan), LEB_OK);
    strcpy(plan.code, "AZ09_-");
    assert_int_equal(plan_validate(&plan), LEB_OK);

    plan = plan_keep8();
    plan.amount_min = plan.amount_max = 5000;
    plan.denominations_count = 1;
    assert_int_equal(plan_validate(&plan), LEB_OK);

    plan = plan_keep8();
    plan.denominations_count = 0;
    plan.grace_days = 0;
    plan.amount_step = 1;
    assert_int_equal(plan_validate(&plan), LEB_OK);

    plan = plan_keep8();
    plan.denominations_count = PLAN_DENOMINATIONS_MAX;
    for (size_t i = 0; i < PLAN_DENOMINATIONS_MAX; i++) {
        plan.denominations[i] = 1000 + (int64_t)i * 1000;
    }
    assert_int_equal(plan_validate(&plan), LEB_OK);

    plan = plan_keep8();
    plan.daily_limit = plan.amount_min;
    assert_int_equal(plan_validate(&plan), LEB_OK);
    plan.recharge_allowed = false;
    assert_int_equal(plan_validate(&plan), LEB_OK);
}

static void test_plan__validate_rejects_a_bad_code(void **state)
{
    static const char *const codes[] = {"", "keep8", "KEEP 8", "KEEP.8", "KEEP8!", "KÉEP"};

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        struct plan plan = plan_keep8();

        strcpy(plan.code, codes[i]);
        assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    }
    {
        /* 33 characters with no room for the NUL: not a string at all. */
        struct plan plan = plan_keep8();
        memset(plan.code, 'A', PLAN_CODE_SIZE);
        assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    }
}

static void test_plan__validate_rejects_an_empty_or_unterminated_name(void **state)
{
    struct plan plan = plan_keep8();

    plan.name[0] = '\0';
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    memset(plan.name, 'n', PLAN_NAME_SIZE);
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
}

static void test_plan__validate_rejects_a_bad_currency(void **state)
{
    static const char *const currencies[] = {"", "cny", "CN", "C1Y"};

    for (size_t i = 0; i < sizeof(currencies) / sizeof(currencies[0]); i++) {
        struct plan plan = plan_keep8();

        strcpy(plan.currency, currencies[i]);
        assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    }
}

static void test_plan__validate_rejects_contradicting_amounts(void **state)
{
    struct plan plan;

    plan = plan_keep8();
    plan.amount_min = 0;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_keep8();
    plan.amount_min = -1000;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_keep8();
    plan.amount_min = plan.amount_max + 1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_keep8();
    plan.amount_step = 0;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_keep8();
    plan.amount_step = -100;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
}

static void test_plan__validate_rejects_a_denomination_outside_the_order_limits(void **state)
{
    struct plan plan;

    plan = plan_keep8();
    plan.denominations[1] = plan.amount_max + 1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_keep8();
    plan.denominations[0] = plan.amount_min - 1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_keep8();
    plan.denominations[2] = 0;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_keep8();
    plan.denominations_count = PLAN_DENOMINATIONS_MAX + 1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
}

static void test_plan__validate_rejects_negative_limits(void **state)
{
    struct plan plan;

    plan = plan_keep8();
    plan.grace_days = -1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_keep8();
    plan.daily_limit = -1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
}

static void test_plan__validate_rejects_a_daily_limit_below_the_minimum_order(void **state)
{
    struct plan plan = plan_keep8();

    plan.daily_limit = plan.amount_min - 1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
}

static void test_plan__validate_rejects_a_monthly_fee_plan_without_a_fee(void **state)
{
    struct plan plan;

    plan = plan_keep8();
    plan.monthly_fee = 0;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan.monthly_fee = -800;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    /* The validity model ignores the fee, but a negative one is never meaningful. */
    plan = plan_validity();
    plan.monthly_fee = -1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    /* The monthly fee model ignores validity fields, but not negative ones. */
    plan = plan_keep8();
    plan.validity_days = -1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
}

static void test_plan__validate_rejects_a_validity_plan_without_validity(void **state)
{
    struct plan plan;

    plan = plan_validity();
    plan.validity_days = 0;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_validity();
    plan.validity_step_amount = 0;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_validity();
    plan.validity_days_max = plan.validity_days - 1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan = plan_validity();
    plan.validity_days = -30;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
}

static void test_plan__validate_rejects_an_unknown_model(void **state)
{
    struct plan plan = plan_keep8();

    plan.model = (enum retention_model)7;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
    plan.model = (enum retention_model) - 1;
    assert_int_equal(plan_validate(&plan), LEB_E_INVALID_PLAN);
}

/* ---------------------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------------------- */

static void test_plan__retention_model_names_round_trip(void **state)
{
    enum retention_model model = RETENTION_VALIDITY;

    assert_string_equal(retention_model_name(RETENTION_MONTHLY_FEE), "monthly_fee");
    assert_string_equal(retention_model_name(RETENTION_VALIDITY), "validity");
    assert_int_equal(retention_model_parse(&model, "monthly_fee"), LEB_OK);
    assert_int_equal(model, RETENTION_MONTHLY_FEE);
    assert_int_equal(retention_model_parse(&model, "validity"), LEB_OK);
    assert_int_equal(model, RETENTION_VALIDITY);
    assert_int_equal(retention_model_parse(&model, "monthly"), LEB_E_INVALID_REQUEST);
    assert_int_equal(retention_model_parse(&model, "Validity"), LEB_E_INVALID_REQUEST);
    assert_int_equal(retention_model_parse(&model, ""), LEB_E_INVALID_REQUEST);
    assert_int_equal(retention_model_parse(&model, NULL), LEB_E_INVALID_REQUEST);
    assert_int_equal(model, RETENTION_VALIDITY);
}

static void test_plan__card_status_names_round_trip(void **state)
{
    static const char *const names[] = {"active", "suspended", "recycled"};
    enum card_status status = CARD_RECYCLED;

    for (int i = 0; i < 3; i++) {
        assert_string_equal(card_status_name((enum card_status)i), names[i]);
        assert_int_equal(card_status_parse(&status, names[i]), LEB_OK);
        assert_int_equal(status, i);
    }
    status = CARD_SUSPENDED;
    assert_int_equal(card_status_parse(&status, "ACTIVE"), LEB_E_INVALID_REQUEST);
    assert_int_equal(card_status_parse(&status, "barred"), LEB_E_INVALID_REQUEST);
    assert_int_equal(card_status_parse(&status, ""), LEB_E_INVALID_REQUEST);
    assert_int_equal(card_status_parse(&status, NULL), LEB_E_INVALID_REQUEST);
    assert_int_equal(status, CARD_SUSPENDED);
}

static void test_plan__channel_names_are_the_contract_names(void **state)
{
    static const char *const names[CHANNEL_COUNT] = {
        [CHANNEL_WEB] = "web",
        [CHANNEL_APP] = "app",
        [CHANNEL_PARTNER] = "partner",
        [CHANNEL_BUSINESS_HALL] = "business_hall",
        [CHANNEL_CONVENIENCE_STORE] = "convenience_store",
        [CHANNEL_COURIER_POINT] = "courier_point",
        [CHANNEL_AUTO_RENEW] = "auto_renew",
    };
    enum channel channel = CHANNEL_COUNT;

    for (int i = 0; i < CHANNEL_COUNT; i++) {
        assert_string_equal(channel_name((enum channel)i), names[i]);
        assert_int_equal(channel_parse(&channel, names[i]), LEB_OK);
        assert_int_equal(channel, i);
    }
    channel = CHANNEL_COUNT;
    assert_int_equal(channel_parse(&channel, "WEB"), LEB_E_INVALID_REQUEST);
    assert_int_equal(channel_parse(&channel, "business-hall"), LEB_E_INVALID_REQUEST);
    assert_int_equal(channel_parse(&channel, "sms"), LEB_E_INVALID_REQUEST);
    assert_int_equal(channel_parse(&channel, ""), LEB_E_INVALID_REQUEST);
    assert_int_equal(channel_parse(&channel, NULL), LEB_E_INVALID_REQUEST);
    assert_int_equal(channel, CHANNEL_COUNT);
}

static void test_plan__payment_method_names_are_the_contract_names(void **state)
{
    static const char *const names[PAYMENT_METHOD_COUNT] = {
        [PAYMENT_SANDBOX] = "sandbox",     [PAYMENT_ALIPAY] = "alipay",
        [PAYMENT_WECHATPAY] = "wechatpay", [PAYMENT_WECHATPAY_V2] = "wechatpay_v2",
        [PAYMENT_CARD] = "card",           [PAYMENT_AGENT_FLOAT] = "agent_float",
    };
    enum payment_method method = PAYMENT_METHOD_COUNT;

    for (int i = 0; i < PAYMENT_METHOD_COUNT; i++) {
        assert_string_equal(payment_method_name((enum payment_method)i), names[i]);
        assert_int_equal(payment_method_parse(&method, names[i]), LEB_OK);
        assert_int_equal(method, i);
    }
    method = PAYMENT_METHOD_COUNT;
    assert_int_equal(payment_method_parse(&method, "wechat"), LEB_E_INVALID_REQUEST);
    assert_int_equal(payment_method_parse(&method, "wechatpay_v3"), LEB_E_INVALID_REQUEST);
    assert_int_equal(payment_method_parse(&method, "Alipay"), LEB_E_INVALID_REQUEST);
    assert_int_equal(payment_method_parse(&method, "cash"), LEB_E_INVALID_REQUEST);
    assert_int_equal(payment_method_parse(&method, ""), LEB_E_INVALID_REQUEST);
    assert_int_equal(payment_method_parse(&method, NULL), LEB_E_INVALID_REQUEST);
    assert_int_equal(method, PAYMENT_METHOD_COUNT);
}

/* ---------------------------------------------------------------------------------------
 * Card statuses
 * ------------------------------------------------------------------------------------- */

static void test_plan__a_card_is_rechargeable_unless_recycled_or_forbidden_by_its_plan(void **state)
{
    struct plan plan = plan_keep8();

    assert_true(card_is_rechargeable(CARD_ACTIVE, &plan));
    assert_true(card_is_rechargeable(CARD_SUSPENDED, &plan));
    assert_false(card_is_rechargeable(CARD_RECYCLED, &plan));
    plan.recharge_allowed = false;
    assert_false(card_is_rechargeable(CARD_ACTIVE, &plan));
    assert_false(card_is_rechargeable(CARD_SUSPENDED, &plan));
    assert_false(card_is_rechargeable(CARD_RECYCLED, &plan));
}

static void test_plan__an_active_card_stays_active_after_a_credit(void **state)
{
    const int64_t balances[] = {INT64_MIN, -1, 0, 1, INT64_MAX};

    for (size_t i = 0; i < sizeof(balances) / sizeof(balances[0]); i++) {
        enum card_status out = CARD_RECYCLED;

        assert_int_equal(card_status_after_credit(&out, CARD_ACTIVE, balances[i]), LEB_OK);
        assert_int_equal(out, CARD_ACTIVE);
    }
}

static void test_plan__a_suspended_card_is_reactivated_once_its_arrears_are_covered(void **state)
{
    enum card_status out = CARD_RECYCLED;

    assert_int_equal(card_status_after_credit(&out, CARD_SUSPENDED, -1), LEB_OK);
    assert_int_equal(out, CARD_SUSPENDED);
    assert_int_equal(card_status_after_credit(&out, CARD_SUSPENDED, INT64_MIN), LEB_OK);
    assert_int_equal(out, CARD_SUSPENDED);
    assert_int_equal(card_status_after_credit(&out, CARD_SUSPENDED, 0), LEB_OK);
    assert_int_equal(out, CARD_ACTIVE);
    assert_int_equal(card_status_after_credit(&out, CARD_SUSPENDED, 4200), LEB_OK);
    assert_int_equal(out, CARD_ACTIVE);
}

static void test_plan__a_recycled_card_cannot_be_credited(void **state)
{
    enum card_status out = CARD_SUSPENDED;

    assert_int_equal(card_status_after_credit(&out, CARD_RECYCLED, 5000),
                     LEB_E_CARD_NOT_RECHARGEABLE);
    assert_int_equal(card_status_after_credit(&out, CARD_RECYCLED, -5000),
                     LEB_E_CARD_NOT_RECHARGEABLE);
    assert_int_equal(out, CARD_SUSPENDED);
}

/* ---------------------------------------------------------------------------------------
 * Channels
 * ------------------------------------------------------------------------------------- */

static void
test_plan__every_caller_channel_and_method_combination_is_decided_as_expected(void **state)
{
    /* Written independently of plan.c: which channels each caller owns, and which methods each
     * caller may pay with. A combination is allowed when both say yes. */
    static const bool channel_of[3][CHANNEL_COUNT] = {
        /*                 web   app   partner hall   store  courier auto_renew */
        [CALLER_PUBLIC] = {true, true, true, false, false, false, false},
        [CALLER_AGENT] = {false, false, false, true, true, true, false},
        [CALLER_SCHEDULER] = {false, false, false, false, false, false, true},
    };
    static const bool method_of[3][PAYMENT_METHOD_COUNT] = {
        /*                 sandbox alipay wechat wechat_v2 card  agent_float */
        [CALLER_PUBLIC] = {true, true, true, true, true, false},
        [CALLER_AGENT] = {true, true, true, true, true, true},
        [CALLER_SCHEDULER] = {true, true, true, true, true, false},
    };
    int allowed = 0;

    for (int caller = 0; caller < 3; caller++) {
        for (int channel = 0; channel < CHANNEL_COUNT; channel++) {
            for (int method = 0; method < PAYMENT_METHOD_COUNT; method++) {
                bool expected = channel_of[caller][channel] && method_of[caller][method];
                int rc = pricing_check_channel((enum caller_kind)caller, (enum channel)channel,
                                               (enum payment_method)method);

                assert_int_equal(rc, expected ? LEB_OK : LEB_E_CHANNEL_NOT_ALLOWED);
                allowed += expected;
            }
        }
    }
    /* public: 3 channels x 5 methods; agent: 3 x 6; scheduler: 1 x 5. */
    assert_int_equal(allowed, 15 + 18 + 5);
}

static void test_plan__the_public_may_not_spend_an_agent_float(void **state)
{
    assert_int_equal(pricing_check_channel(CALLER_PUBLIC, CHANNEL_WEB, PAYMENT_AGENT_FLOAT),
                     LEB_E_CHANNEL_NOT_ALLOWED);
    assert_int_equal(
        pricing_check_channel(CALLER_PUBLIC, CHANNEL_BUSINESS_HALL, PAYMENT_AGENT_FLOAT),
        LEB_E_CHANNEL_NOT_ALLOWED);
    assert_int_equal(pricing_check_channel(CALLER_PUBLIC, CHANNEL_AUTO_RENEW, PAYMENT_ALIPAY),
                     LEB_E_CHANNEL_NOT_ALLOWED);
}

/* ---------------------------------------------------------------------------------------
 * Quotes
 * ------------------------------------------------------------------------------------- */

static void test_plan__quote_of_a_denomination_costs_its_face_value(void **state)
{
    struct plan plan = plan_keep8();
    struct quote quote;

    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 5000, CHANNEL_WEB, PAYMENT_SANDBOX),
                     LEB_OK);
    assert_int_equal(quote.face_amount, 5000);
    assert_int_equal(quote.discount_amount, 0);
    assert_int_equal(quote.fee_amount, 0);
    assert_int_equal(quote.bonus_amount, 0);
    assert_int_equal(quote.pay_amount, 5000);
    assert_string_equal(quote.currency, "CNY");
}

static void test_plan__quote_accepts_a_free_amount_in_whole_steps(void **state)
{
    struct plan plan = plan_keep8();
    struct quote quote;

    assert_int_equal(
        pricing_quote(&quote, &plan, CARD_SUSPENDED, 1200, CHANNEL_APP, PAYMENT_ALIPAY), LEB_OK);
    assert_int_equal(quote.face_amount, 1200);
    assert_int_equal(quote.pay_amount, 1200);
}

static void test_plan__quote_accepts_the_minimum_and_the_maximum(void **state)
{
    struct plan plan = plan_keep8();
    struct quote quote;

    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 1000, CHANNEL_WEB, PAYMENT_CARD),
                     LEB_OK);
    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 50000, CHANNEL_WEB, PAYMENT_CARD),
                     LEB_OK);
    assert_int_equal(quote.pay_amount, 50000);
}

static void test_plan__quote_rejects_an_amount_outside_the_limits(void **state)
{
    const int64_t amounts[] = {999, 50001, 50100, 0, -5000, INT64_MIN, INT64_MAX};
    struct plan plan = plan_keep8();

    for (size_t i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
        struct quote quote = {.face_amount = -7};

        assert_int_equal(
            pricing_quote(&quote, &plan, CARD_ACTIVE, amounts[i], CHANNEL_WEB, PAYMENT_SANDBOX),
            LEB_E_AMOUNT_OUT_OF_RANGE);
        assert_int_equal(quote.face_amount, -7);
    }
}

static void
test_plan__quote_rejects_an_amount_that_is_neither_a_denomination_nor_a_step(void **state)
{
    struct plan plan = plan_keep8();
    struct quote quote = {.face_amount = -7};

    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 1250, CHANNEL_WEB, PAYMENT_SANDBOX),
                     LEB_E_AMOUNT_NOT_ALLOWED);
    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 5001, CHANNEL_WEB, PAYMENT_SANDBOX),
                     LEB_E_AMOUNT_NOT_ALLOWED);
    assert_int_equal(quote.face_amount, -7);
}

static void test_plan__quote_accepts_a_denomination_that_is_not_a_whole_step(void **state)
{
    struct plan plan = plan_keep8();
    struct quote quote;

    plan.amount_step = 1000;
    plan.denominations[0] = 1500;
    assert_int_equal(plan_validate(&plan), LEB_OK);
    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 1500, CHANNEL_WEB, PAYMENT_SANDBOX),
                     LEB_OK);
    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 2500, CHANNEL_WEB, PAYMENT_SANDBOX),
                     LEB_E_AMOUNT_NOT_ALLOWED);
}

static void test_plan__quote_checks_rechargeability_first(void **state)
{
    struct plan plan = plan_keep8();
    struct quote quote = {.face_amount = -7};

    /* A recycled card is reported as such, whatever the amount. */
    assert_int_equal(
        pricing_quote(&quote, &plan, CARD_RECYCLED, 5000, CHANNEL_WEB, PAYMENT_SANDBOX),
        LEB_E_CARD_NOT_RECHARGEABLE);
    assert_int_equal(pricing_quote(&quote, &plan, CARD_RECYCLED, 1, CHANNEL_WEB, PAYMENT_SANDBOX),
                     LEB_E_CARD_NOT_RECHARGEABLE);
    assert_int_equal(
        pricing_quote(&quote, &plan, CARD_RECYCLED, 1250, CHANNEL_WEB, PAYMENT_SANDBOX),
        LEB_E_CARD_NOT_RECHARGEABLE);
    plan.recharge_allowed = false;
    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 5000, CHANNEL_WEB, PAYMENT_SANDBOX),
                     LEB_E_CARD_NOT_RECHARGEABLE);
    assert_int_equal(quote.face_amount, -7);
}

static void test_plan__quote_checks_the_range_before_the_step(void **state)
{
    struct plan plan = plan_keep8();
    struct quote quote;

    /* 50050 is both out of range and not a whole step: out of range wins. */
    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 50050, CHANNEL_WEB, PAYMENT_SANDBOX),
                     LEB_E_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(pricing_quote(&quote, &plan, CARD_ACTIVE, 950, CHANNEL_WEB, PAYMENT_SANDBOX),
                     LEB_E_AMOUNT_OUT_OF_RANGE);
}

static void test_plan__quote_copies_the_plan_currency(void **state)
{
    struct plan plan = plan_keep8();
    struct quote quote;

    strcpy(plan.currency, "HKD");
    assert_int_equal(
        pricing_quote(&quote, &plan, CARD_ACTIVE, 10000, CHANNEL_PARTNER, PAYMENT_WECHATPAY),
        LEB_OK);
    assert_string_equal(quote.currency, "HKD");
}

static void test_plan__quote_handles_the_largest_amounts(void **state)
{
    struct plan plan = plan_keep8();
    struct quote quote;

    plan.amount_max = INT64_MAX;
    plan.amount_step = 1;
    assert_int_equal(
        pricing_quote(&quote, &plan, CARD_ACTIVE, INT64_MAX, CHANNEL_WEB, PAYMENT_SANDBOX), LEB_OK);
    assert_true(quote.pay_amount == INT64_MAX);
}

/* ---------------------------------------------------------------------------------------
 * Daily limit
 * ------------------------------------------------------------------------------------- */

static void test_plan__daily_limit_of_zero_means_no_limit(void **state)
{
    struct plan plan = plan_keep8();

    assert_int_equal(pricing_check_daily_limit(&plan, 0, 50000), LEB_OK);
    assert_int_equal(pricing_check_daily_limit(&plan, INT64_MAX, 50000), LEB_OK);
}

static void test_plan__daily_limit_allows_up_to_the_limit_and_no_more(void **state)
{
    struct plan plan = plan_keep8();

    plan.daily_limit = 100000;
    assert_int_equal(pricing_check_daily_limit(&plan, 0, 100000), LEB_OK);
    assert_int_equal(pricing_check_daily_limit(&plan, 50000, 50000), LEB_OK);
    assert_int_equal(pricing_check_daily_limit(&plan, 50000, 50001), LEB_E_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(pricing_check_daily_limit(&plan, 100000, 1), LEB_E_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(pricing_check_daily_limit(&plan, 0, 100001), LEB_E_AMOUNT_OUT_OF_RANGE);
}

static void test_plan__daily_limit_treats_an_overflowing_total_as_over_the_limit(void **state)
{
    struct plan plan = plan_keep8();

    plan.daily_limit = INT64_MAX;
    assert_int_equal(pricing_check_daily_limit(&plan, INT64_MAX - 1, 1), LEB_OK);
    assert_int_equal(pricing_check_daily_limit(&plan, INT64_MAX, 1), LEB_E_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(pricing_check_daily_limit(&plan, INT64_MAX, INT64_MAX),
                     LEB_E_AMOUNT_OUT_OF_RANGE);
}

static void test_plan__daily_limit_rejects_a_non_positive_amount(void **state)
{
    struct plan plan = plan_keep8();

    plan.daily_limit = 100000;
    assert_int_equal(pricing_check_daily_limit(&plan, 90000, 0), LEB_E_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(pricing_check_daily_limit(&plan, 90000, -50000), LEB_E_AMOUNT_OUT_OF_RANGE);
    assert_int_equal(pricing_check_daily_limit(&plan, 0, INT64_MIN), LEB_E_AMOUNT_OUT_OF_RANGE);
    plan.daily_limit = 0;
    assert_int_equal(pricing_check_daily_limit(&plan, 0, -1), LEB_E_AMOUNT_OUT_OF_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan__validate_accepts_the_demo_plan),
        cmocka_unit_test(test_plan__validate_accepts_a_validity_plan),
        cmocka_unit_test(test_plan__validate_accepts_the_boundaries),
        cmocka_unit_test(test_plan__validate_rejects_a_bad_code),
        cmocka_unit_test(test_plan__validate_rejects_an_empty_or_unterminated_name),
        cmocka_unit_test(test_plan__validate_rejects_a_bad_currency),
        cmocka_unit_test(test_plan__validate_rejects_contradicting_amounts),
        cmocka_unit_test(test_plan__validate_rejects_a_denomination_outside_the_order_limits),
        cmocka_unit_test(test_plan__validate_rejects_negative_limits),
        cmocka_unit_test(test_plan__validate_rejects_a_daily_limit_below_the_minimum_order),
        cmocka_unit_test(test_plan__validate_rejects_a_monthly_fee_plan_without_a_fee),
        cmocka_unit_test(test_plan__validate_rejects_a_validity_plan_without_validity),
        cmocka_unit_test(test_plan__validate_rejects_an_unknown_model),
        cmocka_unit_test(test_plan__validate_bounds_the_reminder_and_the_last_warning),
        cmocka_unit_test(test_plan__retention_model_names_round_trip),
        cmocka_unit_test(test_plan__card_status_names_round_trip),
        cmocka_unit_test(test_plan__channel_names_are_the_contract_names),
        cmocka_unit_test(test_plan__payment_method_names_are_the_contract_names),
        cmocka_unit_test(
            test_plan__a_card_is_rechargeable_unless_recycled_or_forbidden_by_its_plan),
        cmocka_unit_test(test_plan__an_active_card_stays_active_after_a_credit),
        cmocka_unit_test(test_plan__a_suspended_card_is_reactivated_once_its_arrears_are_covered),
        cmocka_unit_test(test_plan__a_recycled_card_cannot_be_credited),
        cmocka_unit_test(
            test_plan__every_caller_channel_and_method_combination_is_decided_as_expected),
        cmocka_unit_test(test_plan__the_public_may_not_spend_an_agent_float),
        cmocka_unit_test(test_plan__quote_of_a_denomination_costs_its_face_value),
        cmocka_unit_test(test_plan__quote_accepts_a_free_amount_in_whole_steps),
        cmocka_unit_test(test_plan__quote_accepts_the_minimum_and_the_maximum),
        cmocka_unit_test(test_plan__quote_rejects_an_amount_outside_the_limits),
        cmocka_unit_test(
            test_plan__quote_rejects_an_amount_that_is_neither_a_denomination_nor_a_step),
        cmocka_unit_test(test_plan__quote_accepts_a_denomination_that_is_not_a_whole_step),
        cmocka_unit_test(test_plan__quote_checks_rechargeability_first),
        cmocka_unit_test(test_plan__quote_checks_the_range_before_the_step),
        cmocka_unit_test(test_plan__quote_copies_the_plan_currency),
        cmocka_unit_test(test_plan__quote_handles_the_largest_amounts),
        cmocka_unit_test(test_plan__daily_limit_of_zero_means_no_limit),
        cmocka_unit_test(test_plan__daily_limit_allows_up_to_the_limit_and_no_more),
        cmocka_unit_test(test_plan__daily_limit_treats_an_overflowing_total_as_over_the_limit),
        cmocka_unit_test(test_plan__daily_limit_rejects_a_non_positive_amount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
