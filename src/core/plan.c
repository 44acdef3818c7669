/*
 * plan.c - plans, card statuses, channels, payment methods and the price of a top-up.
 *
 * This module owns the rules that decide whether a top-up may happen at all and what it
 * costs: whether a plan is coherent, whether a card can take money, which caller may use
 * which channel and payment method, and the quote (face, discount, fee, bonus, pay). It also
 * owns the contract's names of models, statuses, channels and methods.
 *
 * It must never read a clock, a store or a configuration: everything it decides on is a
 * parameter, so that the same inputs always give the same price. It must never compute money
 * without overflow checks, and never write an output it then reports as an error.
 */
#include "core/plan.h"

#include <string.h>

#include "core/money.h"

/* Longest name any parse function compares; longer input is not a name. */
#define PLAN_NAME_PARSE_MAX 32

static const char *const retention_model_names[] = {
    [RETENTION_MONTHLY_FEE] = "monthly_fee",
    [RETENTION_VALIDITY] = "validity",
};
#define RETENTION_MODEL_COUNT (sizeof(retention_model_names) / sizeof(retention_model_names[0]))

static const char *const card_status_names[] = {
    [CARD_ACTIVE] = "active",
    [CARD_SUSPENDED] = "suspended",
    [CARD_RECYCLED] = "recycled",
};
#define CARD_STATUS_COUNT (sizeof(card_status_names) / sizeof(card_status_names[0]))

static const char *const channel_names[CHANNEL_COUNT] = {
    [CHANNEL_WEB] = "web",
    [CHANNEL_APP] = "app",
    [CHANNEL_PARTNER] = "partner",
    [CHANNEL_BUSINESS_HALL] = "business_hall",
    [CHANNEL_CONVENIENCE_STORE] = "convenience_store",
    [CHANNEL_COURIER_POINT] = "courier_point",
    [CHANNEL_AUTO_RENEW] = "auto_renew",
};

static const char *const payment_method_names[PAYMENT_METHOD_COUNT] = {
    [PAYMENT_SANDBOX] = "sandbox",     [PAYMENT_ALIPAY] = "alipay",
    [PAYMENT_WECHATPAY] = "wechatpay", [PAYMENT_WECHATPAY_V2] = "wechatpay_v2",
    [PAYMENT_CARD] = "card",           [PAYMENT_AGENT_FLOAT] = "agent_float",
};

/* The index of "name" in "names", or -1. NULL and over-long names are not names. */
static int plan_name_lookup(const char *const *names, size_t count, const char *name)
{
    if (name == NULL || strnlen(name, PLAN_NAME_PARSE_MAX + 1) > PLAN_NAME_PARSE_MAX) {
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (names[i] != NULL && strcmp(name, names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------
 * Plans
 * ------------------------------------------------------------------------------------- */

static bool plan_code_is_valid(const char code[PLAN_CODE_SIZE])
{
    size_t length = strnlen(code, PLAN_CODE_SIZE);

    if (length == 0 || length == PLAN_CODE_SIZE) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        char c = code[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/*
 * Checks that "plan" does not contradict itself. Beyond the shape of its strings, it checks
 * that every amount a later rule divides by or compares with is positive and ordered, that
 * every denomination can actually be bought, and that the fields of the plan's own retention
 * model are meaningful; the other model's fields need only be non-negative. A daily limit,
 * when there is one, must allow at least one top-up of the minimum amount.
 */
int plan_validate(const struct plan *plan)
{
    LEB_ASSERT(plan != NULL);

    if (!plan_code_is_valid(plan->code)) {
        return LEB_E_INVALID_PLAN;
    }
    if (plan->name[0] == '\0' || strnlen(plan->name, PLAN_NAME_SIZE) == PLAN_NAME_SIZE) {
        return LEB_E_INVALID_PLAN;
    }
    if (!currency_is_valid(plan->currency)) {
        return LEB_E_INVALID_PLAN;
    }
    if ((int)plan->model < 0 || (size_t)plan->model >= RETENTION_MODEL_COUNT) {
        return LEB_E_INVALID_PLAN;
    }

    if (plan->amount_min <= 0 || plan->amount_min > plan->amount_max || plan->amount_step <= 0) {
        return LEB_E_INVALID_PLAN;
    }
    if (plan->denominations_count > PLAN_DENOMINATIONS_MAX) {
        return LEB_E_INVALID_PLAN;
    }
    for (size_t i = 0; i < plan->denominations_count; i++) {
        if (plan->denominations[i] < plan->amount_min ||
            plan->denominations[i] > plan->amount_max) {
            return LEB_E_INVALID_PLAN;
        }
    }
    if (plan->daily_limit < 0 || (plan->daily_limit > 0 && plan->daily_limit < plan->amount_min)) {
        return LEB_E_INVALID_PLAN;
    }
    if (plan->grace_days < 0) {
        return LEB_E_INVALID_PLAN;
    }
    /* Reminders within a month, and a last warning that comes after the suspension. */
    if (plan->remind_days_before < 0 || plan->remind_days_before > 28 ||
        plan->recycle_warning_days < 0 || plan->recycle_warning_days > plan->grace_days) {
        return LEB_E_INVALID_PLAN;
    }

    if (plan->monthly_fee < 0 || plan->validity_days < 0 || plan->validity_step_amount < 0 ||
        plan->validity_days_max < 0) {
        return LEB_E_INVALID_PLAN;
    }
    if (plan->model == RETENTION_MONTHLY_FEE && plan->monthly_fee <= 0) {
        return LEB_E_INVALID_PLAN;
    }
    if (plan->model == RETENTION_VALIDITY &&
        (plan->validity_days <= 0 || plan->validity_step_amount <= 0 ||
         plan->validity_days_max < plan->validity_days)) {
        return LEB_E_INVALID_PLAN;
    }
    return LEB_OK;
}

const char *retention_model_name(enum retention_model model)
{
    LEB_ASSERT((int)model >= 0 && (size_t)model < RETENTION_MODEL_COUNT);
    return retention_model_names[model];
}

int retention_model_parse(enum retention_model *out, const char *name)
{
    int index;

    LEB_ASSERT(out != NULL);
    index = plan_name_lookup(retention_model_names, RETENTION_MODEL_COUNT, name);
    if (index < 0) {
        return LEB_E_INVALID_REQUEST;
    }
    *out = (enum retention_model)index;
    return LEB_OK;
}

/* ---------------------------------------------------------------------------------------
 * Card statuses
 * ------------------------------------------------------------------------------------- */

static void card_status_assert(enum card_status status)
{
    LEB_ASSERT((int)status >= 0 && (size_t)status < CARD_STATUS_COUNT);
}

const char *card_status_name(enum card_status status)
{
    card_status_assert(status);
    return card_status_names[status];
}

int card_status_parse(enum card_status *out, const char *name)
{
    int index;

    LEB_ASSERT(out != NULL);
    index = plan_name_lookup(card_status_names, CARD_STATUS_COUNT, name);
    if (index < 0) {
        return LEB_E_INVALID_REQUEST;
    }
    *out = (enum card_status)index;
    return LEB_OK;
}

bool card_is_rechargeable(enum card_status status, const struct plan *plan)
{
    LEB_ASSERT(plan != NULL);
    card_status_assert(status);
    return status != CARD_RECYCLED && plan->recharge_allowed;
}

/*
 * An active card stays active whatever its balance (a credit never suspends); a suspended
 * card comes back at once when the credit clears its arrears; a recycled card's number is
 * gone, so crediting it is refused rather than silently absorbed.
 */
int card_status_after_credit(enum card_status *out, enum card_status current, int64_t balance_after)
{
    LEB_ASSERT(out != NULL);
    card_status_assert(current);
    switch (current) {
    case CARD_ACTIVE:
        *out = CARD_ACTIVE;
        return LEB_OK;
    case CARD_SUSPENDED:
        *out = balance_after >= 0 ? CARD_ACTIVE : CARD_SUSPENDED;
        return LEB_OK;
    case CARD_RECYCLED:
        return LEB_E_CARD_NOT_RECHARGEABLE;
    }
    LEB_ASSERT(false && "unreachable card status");
    return LEB_E_INTERNAL;
}

/* ---------------------------------------------------------------------------------------
 * Channels and payment methods
 * ------------------------------------------------------------------------------------- */

const char *channel_name(enum channel channel)
{
    LEB_ASSERT((int)channel >= 0 && channel < CHANNEL_COUNT);
    return channel_names[channel];
}

int channel_parse(enum channel *out, const char *name)
{
    int index;

    LEB_ASSERT(out != NULL);
    index = plan_name_lookup(channel_names, CHANNEL_COUNT, name);
    if (index < 0) {
        return LEB_E_INVALID_REQUEST;
    }
    *out = (enum channel)index;
    return LEB_OK;
}

const char *payment_method_name(enum payment_method method)
{
    LEB_ASSERT((int)method >= 0 && method < PAYMENT_METHOD_COUNT);
    return payment_method_names[method];
}

int payment_method_parse(enum payment_method *out, const char *name)
{
    int index;

    LEB_ASSERT(out != NULL);
    index = plan_name_lookup(payment_method_names, PAYMENT_METHOD_COUNT, name);
    if (index < 0) {
        return LEB_E_INVALID_REQUEST;
    }
    *out = (enum payment_method)index;
    return LEB_OK;
}

/*
 * Who may use which channel with which method. Each channel belongs to exactly one kind of
 * caller: web, app and partner to the public, the three agent channels to agents, auto_renew
 * to the scheduler. The agent float is an agent's own money, so only an agent on an agent
 * channel may spend it; every other method is open on every channel its caller may use. An
 * agent acting as an agent uses an agent channel even for an online payment, so that the
 * order is attributed (commission, limits) to the right place.
 */
int pricing_check_channel(enum caller_kind caller, enum channel channel, enum payment_method method)
{
    enum caller_kind owner;

    LEB_ASSERT((int)caller >= 0 && caller <= CALLER_SCHEDULER);
    LEB_ASSERT((int)channel >= 0 && channel < CHANNEL_COUNT);
    LEB_ASSERT((int)method >= 0 && method < PAYMENT_METHOD_COUNT);

    switch (channel) {
    case CHANNEL_WEB:
    case CHANNEL_APP:
    case CHANNEL_PARTNER:
        owner = CALLER_PUBLIC;
        break;
    case CHANNEL_BUSINESS_HALL:
    case CHANNEL_CONVENIENCE_STORE:
    case CHANNEL_COURIER_POINT:
        owner = CALLER_AGENT;
        break;
    case CHANNEL_AUTO_RENEW:
        owner = CALLER_SCHEDULER;
        break;
    default:
        LEB_ASSERT(false && "unreachable channel");
        return LEB_E_INTERNAL;
    }
    if (caller != owner) {
        return LEB_E_CHANNEL_NOT_ALLOWED;
    }
    if (method == PAYMENT_AGENT_FLOAT && caller != CALLER_AGENT) {
        return LEB_E_CHANNEL_NOT_ALLOWED;
    }
    return LEB_OK;
}

/* ---------------------------------------------------------------------------------------
 * Quotes
 * ------------------------------------------------------------------------------------- */

static bool plan_has_denomination(const struct plan *plan, int64_t amount)
{
    for (size_t i = 0; i < plan->denominations_count; i++) {
        if (plan->denominations[i] == amount) {
            return true;
        }
    }
    return false;
}

/*
 * Prices a top-up of "face_amount" on a card in "status" on "plan", through "channel" with
 * "method" (neither changes the price yet; they are here for the fees and promotions to
 * come). The checks run in the order the caller's error messages promise: a card that cannot
 * be recharged is reported as such whatever the amount. "*out" is written only on success.
 */
int pricing_quote(struct quote *out, const struct plan *plan, enum card_status status,
                  int64_t face_amount, enum channel channel, enum payment_method method)
{
    struct quote quote;
    int64_t pay_amount;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(plan != NULL);
    LEB_ASSERT(plan->amount_step > 0);
    LEB_ASSERT(plan->denominations_count <= PLAN_DENOMINATIONS_MAX);
    LEB_ASSERT(currency_is_valid(plan->currency));
    LEB_ASSERT((int)channel >= 0 && channel < CHANNEL_COUNT);
    LEB_ASSERT((int)method >= 0 && method < PAYMENT_METHOD_COUNT);

    if (!card_is_rechargeable(status, plan)) {
        return LEB_E_CARD_NOT_RECHARGEABLE;
    }
    if (face_amount < plan->amount_min || face_amount > plan->amount_max) {
        return LEB_E_AMOUNT_OUT_OF_RANGE;
    }
    if (!plan_has_denomination(plan, face_amount) && face_amount % plan->amount_step != 0) {
        return LEB_E_AMOUNT_NOT_ALLOWED;
    }

    memset(&quote, 0, sizeof(quote));
    quote.face_amount = face_amount;
    quote.discount_amount = 0;
    quote.fee_amount = 0;
    quote.bonus_amount = 0;
    if (__builtin_sub_overflow(quote.face_amount, quote.discount_amount, &pay_amount) ||
        __builtin_add_overflow(pay_amount, quote.fee_amount, &pay_amount)) {
        return LEB_E_OVERFLOW;
    }
    quote.pay_amount = pay_amount;
    memcpy(quote.currency, plan->currency, CURRENCY_SIZE);

    LEB_ASSERT(quote.face_amount > 0 && quote.pay_amount >= 0);
    *out = quote;
    return LEB_OK;
}

/*
 * Whether one more top-up of "face_amount" keeps the card within its plan's daily limit. A
 * sum that overflows is certainly past any limit. "today_total" comes from the store's sum
 * of the card's paid orders, so a negative one is a bug there, not bad input.
 */
int pricing_check_daily_limit(const struct plan *plan, int64_t today_total, int64_t face_amount)
{
    int64_t total;

    LEB_ASSERT(plan != NULL);
    LEB_ASSERT(plan->daily_limit >= 0);
    LEB_ASSERT(today_total >= 0);
    if (face_amount <= 0) {
        return LEB_E_AMOUNT_OUT_OF_RANGE;
    }
    if (plan->daily_limit == 0) {
        return LEB_OK;
    }
    if (__builtin_add_overflow(today_total, face_amount, &total) || total > plan->daily_limit) {
        return LEB_E_AMOUNT_OUT_OF_RANGE;
    }
    return LEB_OK;
}
