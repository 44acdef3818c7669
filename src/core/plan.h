/*
 * plan.h - plans, cards' statuses, channels and payment methods, and the quote: what a
 * top-up costs and whether it is allowed at all.
 */
#ifndef LEB_CORE_PLAN_H
#define LEB_CORE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define PLAN_CODE_SIZE 33
#define PLAN_NAME_SIZE 129
#define PLAN_DENOMINATIONS_MAX 16
#define CURRENCY_SIZE 4

enum retention_model { RETENTION_MONTHLY_FEE = 0, RETENTION_VALIDITY };

struct plan {
    char code[PLAN_CODE_SIZE]; /* [A-Z0-9_-]{1,32} */
    char name[PLAN_NAME_SIZE];
    char currency[CURRENCY_SIZE];
    enum retention_model model;
    int64_t monthly_fee;          /* minor units, monthly_fee model */
    int32_t validity_days;        /* days added per validity_step_amount, validity model */
    int64_t validity_step_amount; /* minor units, validity model */
    int32_t validity_days_max;    /* cap on valid_until - now, validity model */
    int64_t denominations[PLAN_DENOMINATIONS_MAX];
    size_t denominations_count;
    int64_t amount_min;  /* per order, minor units */
    int64_t amount_max;  /* per order, minor units */
    int64_t amount_step; /* a free amount must be a multiple of this (100: whole yuan) */
    int64_t daily_limit; /* per card per UTC day, minor units; 0: none */
    int32_t grace_days;  /* suspended this long, the number is recycled */
    bool recharge_allowed;
    int32_t remind_days_before;   /* low-balance reminder this many days ahead; 0: none */
    int32_t recycle_warning_days; /* last warning this many days before recycling; 0: none */
};

/* LEB_E_INVALID_PLAN when the plan contradicts itself (min > max, a denomination outside
 * [min, max], non-positive amounts, a bad code or currency...). */
LEB_MUST_CHECK int plan_validate(const struct plan *plan);

const char *retention_model_name(enum retention_model model);
LEB_MUST_CHECK int retention_model_parse(enum retention_model *out, const char *name);

enum card_status { CARD_ACTIVE = 0, CARD_SUSPENDED, CARD_RECYCLED };

const char *card_status_name(enum card_status status);
LEB_MUST_CHECK int card_status_parse(enum card_status *out, const char *name);

/* A recycled card can never be recharged; neither can a card whose plan forbids it. */
bool card_is_rechargeable(enum card_status status, const struct plan *plan);

/* The card's status once "balance_after" is its balance after a credit: a suspended card
 * whose balance no longer is negative is active again at once. LEB_E_CARD_NOT_RECHARGEABLE
 * for a recycled card. */
LEB_MUST_CHECK int card_status_after_credit(enum card_status *out, enum card_status current,
                                            int64_t balance_after);

enum channel {
    CHANNEL_WEB = 0,
    CHANNEL_APP,
    CHANNEL_PARTNER,
    CHANNEL_BUSINESS_HALL,
    CHANNEL_CONVENIENCE_STORE,
    CHANNEL_COURIER_POINT,
    CHANNEL_AUTO_RENEW,
    CHANNEL_COUNT
};
const char *channel_name(enum channel channel);
LEB_MUST_CHECK int channel_parse(enum channel *out, const char *name);

enum payment_method {
    PAYMENT_SANDBOX = 0,
    PAYMENT_ALIPAY,
    PAYMENT_WECHATPAY,
    PAYMENT_WECHATPAY_V2,
    PAYMENT_CARD,
    PAYMENT_AGENT_FLOAT,
    PAYMENT_METHOD_COUNT
};
const char *payment_method_name(enum payment_method method);
LEB_MUST_CHECK int payment_method_parse(enum payment_method *out, const char *name);

/* Who is asking: the public (web, app), a partner system, an agent, the scheduler. */
enum caller_kind { CALLER_PUBLIC = 0, CALLER_AGENT, CALLER_SCHEDULER };

/* Whether "caller" may use "channel" with "method": agent channels and the agent float
 * belong to agents, auto_renew to the scheduler. LEB_E_CHANNEL_NOT_ALLOWED otherwise. */
LEB_MUST_CHECK int pricing_check_channel(enum caller_kind caller, enum channel channel,
                                         enum payment_method method);

struct quote {
    int64_t face_amount;     /* what the card receives */
    int64_t discount_amount; /* taken off what the payer pays */
    int64_t fee_amount;      /* service fee added to what the payer pays */
    int64_t bonus_amount;    /* extra credit from a promotion */
    int64_t pay_amount;      /* face - discount + fee */
    char currency[CURRENCY_SIZE];
};

/*
 * Prices a top-up of "face_amount" on a card in "status" on "plan". Checks, in order:
 * rechargeable (LEB_E_CARD_NOT_RECHARGEABLE), within [amount_min, amount_max]
 * (LEB_E_AMOUNT_OUT_OF_RANGE), a denomination or a multiple of amount_step
 * (LEB_E_AMOUNT_NOT_ALLOWED). No promotions or fees exist yet, so discount, fee and bonus
 * are zero; the postings already carry them.
 */
LEB_MUST_CHECK int pricing_quote(struct quote *out, const struct plan *plan,
                                 enum card_status status, int64_t face_amount, enum channel channel,
                                 enum payment_method method);

/* LEB_E_AMOUNT_OUT_OF_RANGE if "today_total" (already paid orders of the card today) plus
 * "face_amount" passes the plan's daily limit. */
LEB_MUST_CHECK int pricing_check_daily_limit(const struct plan *plan, int64_t today_total,
                                             int64_t face_amount);

#endif
