/*
 * app.h - the services: each one orchestrates a use case by reading through the store,
 * deciding with src/core and writing in one group-committed transaction.
 *
 * Services own no rule of their own (the rules are src/core's) and know nothing of HTTP: they
 * take plain values and return LEB_E_* codes, so that the HTTP layer, lebctl's routes and the
 * scheduler all share one path for every change of money.
 */
#ifndef LEB_APP_APP_H
#define LEB_APP_APP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/lifecycle.h"
#include "core/plan.h"
#include "core/sms.h"
#include "store/store.h"

struct app;
struct config;

#define APP_SECRET_SIZE 256
#define APP_TOKEN_SIZE 64
#define APP_TOKEN_TTL_S (12 * 3600)

/* Counters the metrics page shows; incremented by the services. */
struct app_counters {
    atomic_uint_fast64_t orders_created;
    atomic_uint_fast64_t orders_expired;
    atomic_uint_fast64_t payments_credited;
    /* Payment notices (notifications, query answers, statement repairs) by provider (enum
     * payment_method) and enum payment_outcome. */
    atomic_uint_fast64_t notifications[6][8];
    atomic_uint_fast64_t payment_queries;   /* providers asked about unpaid orders */
    atomic_uint_fast64_t refunds_completed; /* refunds the providers confirmed */
    atomic_uint_fast64_t refunds_refused;   /* refunds the providers refused: for a human */
};

/* What a provider says of an order when asked (lost notifications). */
enum payment_query_state {
    PAYMENT_QUERY_WAITING = 0, /* not paid (yet), or the provider does not know it yet */
    PAYMENT_QUERY_PAID,        /* paid: "trade_no" and "amount" say how */
    PAYMENT_QUERY_CLOSED,      /* closed unpaid: the order failed */
};

struct payment_query {
    enum payment_query_state state;
    char trade_no[TRADE_NO_SIZE];
    int64_t amount;       /* minor units, what was paid */
    char status_word[32]; /* the provider's own word, kept for audit */
    char *raw;            /* the provider's answer, malloc'd (may be NULL); the caller frees */
    size_t raw_size;
    bool merchant_mismatch; /* paid, but not as this merchant asked (another currency...) */
    int64_t paid_at;        /* when the provider says it was paid (Unix s); 0: not said */
};

enum payment_refund_state {
    PAYMENT_REFUND_DONE = 0, /* the money went back */
    PAYMENT_REFUND_PENDING,  /* accepted, not finished: ask again later */
    PAYMENT_REFUND_FAILED,   /* refused: a human must look ("error" says why) */
};

struct payment_refund {
    enum payment_refund_state state;
    char refund_id[TRADE_NO_SIZE]; /* the provider's reference of the refund */
    char error[128];
};

/*
 * What src/app needs of the payment providers (src/pay sets it up at start-up: src/app must
 * not depend on src/pay). Each call talks to the provider of "order->method" over the network
 * and may take seconds; none is made inside a store transaction.
 */
struct app_gateway {
    /* True if the method's provider is configured on this server. */
    bool (*available)(const struct app *app, enum payment_method method);
    /* Creates the payment at the provider: the links the payer opens and the provider's
     * reference. LEB_E_UNAVAILABLE if the provider cannot be reached. */
    int (*prepare)(struct app *app, const struct order_row *order, struct order_payment_row *out);
    /* Asks the provider what became of an order. */
    int (*query)(struct app *app, const struct order_row *order,
                 const struct order_payment_row *payment, struct payment_query *out);
    /* Gives back what "order" paid, under the refund number "refund_no" (the same on every
     * attempt, so a provider refunds it once). */
    int (*refund)(struct app *app, const struct order_row *order,
                  const struct order_payment_row *payment, const char *refund_no,
                  struct payment_refund *out);
};

struct app {
    struct store *store;
    const struct app_gateway *gateway; /* NULL: the sandbox alone, computed locally */
    const struct config *config;       /* the providers' keys and URLs */
    int64_t payment_query_after_s;     /* an unpaid order is asked about this long after */
    int64_t order_ttl_s;
    bool sandbox_enabled;
    char sandbox_secret[APP_SECRET_SIZE];
    char sms_key[APP_SECRET_SIZE];
    char public_url[256]; /* what providers and gateways call back */
    char self_url[128];   /* this lebd on loopback, for the sandbox provider's own calls */
    struct app_counters counters;
    /* The one clock: Unix seconds. Tests and demos may replace it. */
    int64_t (*clock)(void *context);
    void *clock_context;
    atomic_int_fast64_t clock_offset_s; /* app_clock_offset_now(): real time + this */
    /* Delivery of webhooks to the telecom core; no URL: messages wait in the outbox. */
    char telecom_webhook_url[256];
    char telecom_webhook_secret[APP_SECRET_SIZE];
    /* Delivery of SMS through the gateway's sendsms interface (Kannel); no URL: they wait. */
    char sms_sendsms_url[256];
    char sms_username[64];
    char sms_password[APP_SECRET_SIZE];
    char sms_sender[32];
    int64_t telecom_attempts_max;
    int64_t telecom_backoff_s;
    bool test_mode;
    atomic_bool stopping; /* set at shutdown: long calls out give up */
};

int64_t app_now(const struct app *app);

/* A clock for app->clock (context: the app): the real time moved by clock_offset_s, so that
 * --clock starts it anywhere and test mode can move it forward. */
int64_t app_clock_offset_now(void *context);

/* Moves the clock forward to "now"; LEB_E_INVALID_REQUEST if that is in its past. */
LEB_MUST_CHECK int app_clock_set(struct app *app, int64_t now);

/* ---- cards ---- */

/* Finds a card by a card number or a phone number as a person typed it. */
LEB_MUST_CHECK int app_card_find(struct app *app, struct card_row *out, const char *number);

/* ---- quotes and orders ---- */

struct order_request {
    const char *card; /* card number or phone number, as typed */
    int64_t face_amount;
    enum channel channel;
    enum payment_method method;
    enum caller_kind caller;
};

LEB_MUST_CHECK int app_quote(struct app *app, struct quote *out, const struct order_request *req);

/*
 * Creates an order. With an "idempotency_key" (may be NULL), the same key and request give
 * back the first order ("*replayed" true); the same key with another request is
 * LEB_E_IDEMPOTENCY_CONFLICT.
 */
LEB_MUST_CHECK int app_order_create(struct app *app, struct order_row *out, bool *replayed,
                                    const struct order_request *req, const char *idempotency_key);

/* Expires the orders whose time ran out; "*expired" says how many. */
LEB_MUST_CHECK int app_orders_expire(struct app *app, int64_t *expired);

/* ---- payments ---- */

enum payment_outcome {
    PAYMENT_CREDITED = 0,   /* the card received the money */
    PAYMENT_DUPLICATE,      /* this provider trade was seen before: nothing done */
    PAYMENT_REVIEW,         /* the amount differs: the order waits for a human */
    PAYMENT_FAILED,         /* the provider says the payment failed */
    PAYMENT_REFUND_HOLD,    /* paid, but the card can no longer take it: to be refunded */
    PAYMENT_DOUBLE_PAYMENT, /* a second trade paid an order already paid: for reconciliation */
    PAYMENT_IGNORED,        /* a stale message (a failure after a success) */
    PAYMENT_UNKNOWN_ORDER,  /* no such order: recorded, nothing done */
    PAYMENT_OUTCOME_COUNT
};
const char *payment_outcome_name(enum payment_outcome outcome);
_Static_assert(PAYMENT_OUTCOME_COUNT <= 8 && PAYMENT_METHOD_COUNT <= 6,
               "struct app_counters' notifications has a cell for every provider and outcome");

struct payment_notice {
    const char *provider;
    const char *order_no;
    const char *trade_no;
    int64_t amount;
    bool success;
    const char *status_word; /* the provider's own word, kept for audit */
    const char *raw;         /* the raw body, kept for audit */
    size_t raw_size;
    bool merchant_mismatch; /* signed, but for another merchant or application: review */
    int64_t paid_at;        /* when the provider says it was paid (Unix s); 0: not said */
};

/*
 * Applies a verified payment notification exactly once: whatever the number, order or timing
 * of duplicates, one provider trade credits at most once, and every notification is recorded
 * whole. Returns 0 with "*outcome" (even for an unknown order, which is recorded), or a
 * negative code if nothing could be written.
 */
LEB_MUST_CHECK int app_payment_apply(struct app *app, enum payment_outcome *outcome,
                                     const struct payment_notice *notice);

/* An operator's decision on an order in review: credit the card as the order was priced, or
 * give back what was paid. */
struct order_resolution {
    const char *order_no;
    const char *actor;  /* the operator's user name */
    const char *reason; /* why: 1 to 511 bytes, kept in the audit log for ever */
    bool credit;        /* true: credit; false: refund */
};

/* Resolves an order in review, with its audit row, in one transaction.
 * LEB_E_ILLEGAL_TRANSITION if the order is not in review; LEB_E_ORDER_NOT_FOUND. */
LEB_MUST_CHECK int app_order_resolve(struct app *app, struct order_row *out,
                                     const struct order_resolution *resolution);

/* ---- the providers' side of payments (provider.c) ---- */

/* Creates the payment of a new order at its provider (no-op for the sandbox) and keeps its
 * links; LEB_E_UNAVAILABLE (the order stays, unpaid) if the provider cannot be reached. A
 * replayed order whose links are missing is prepared again: the provider's own
 * idempotency on the order number makes that safe. */
LEB_MUST_CHECK int app_order_prepare(struct app *app, const struct order_row *order);

/* Inside a transaction that moved "order" to refunding: the refund is due now. */
LEB_MUST_CHECK int app_refund_schedule(struct store_tx *tx, const struct order_row *order,
                                       int64_t now);

struct provider_stats {
    int64_t queried;  /* orders asked about */
    int64_t found;    /* ... of which the provider said paid or closed: applied */
    int64_t refunded; /* refunds completed */
    int64_t refund_failed;
};

/* Asks the providers about every unpaid order whose query is due (lost notifications) and
 * applies what they say exactly as a notification. */
LEB_MUST_CHECK int app_payments_poll(struct app *app, struct provider_stats *stats);
/* Refunds every order whose refund is due, through its provider. */
LEB_MUST_CHECK int app_refunds_run(struct app *app, struct provider_stats *stats);

/* ---- back office ---- */

LEB_MUST_CHECK int app_plan_create(struct app *app, const struct plan *plan);

struct card_request {
    const char *card_no; /* as typed */
    const char *msisdn;  /* as typed */
    const char *plan;
    enum card_status status;
};

struct batch_error {
    size_t index;
    int code;
};

/*
 * Creates "count" cards, all or nothing. On LEB_E_INVALID_BATCH, "errors" (capacity
 * "errors_max") lists each bad row and "*errors_count" how many. "out" (may be NULL) receives
 * the created cards.
 */
LEB_MUST_CHECK int app_cards_create(struct app *app, struct card_row *out,
                                    const struct card_request *cards, size_t count,
                                    struct batch_error *errors, size_t errors_max,
                                    size_t *errors_count);

/* Seeds the demo plan and cards of ../shared/API.md; idempotent. */
LEB_MUST_CHECK int app_demo_seed(struct app *app);

/* ---- keeping the number alive ---- */

struct lifecycle_stats {
    int64_t cards;
    int64_t steps[LIFECYCLE_ACTION_COUNT];
};

/* Runs every lifecycle step due at the clock's now on every due card, each card in one
 * transaction with its ledger postings and outbox messages. Idempotent per card and period. */
LEB_MUST_CHECK int app_lifecycle_run(struct app *app, struct lifecycle_stats *stats);

/* A card's lifecycle state and its plan's lifecycle rules, from their rows. */
void app_card_state(struct card_state *out, const struct card_row *card);
void app_card_state_store(struct card_row *card, const struct card_state *state,
                          const struct plan *plan, int64_t now);
void app_plan_rules(struct plan_lifecycle *out, const struct plan *plan);

/* ---- auto-renewal (autorenew.c) ---- */

struct autorenew_request {
    const char *card; /* card or phone number, as typed */
    bool enabled;
    const char *rule;      /* "keep_fee" or "threshold" */
    int64_t amount;        /* threshold rule */
    int64_t threshold;     /* threshold rule */
    const char *behaviour; /* the sandbox agreement's behaviour: "succeed" (default) or "fail" */
};

/* Enables, changes or disables a card's auto-renewal with a (sandbox) payment agreement. */
LEB_MUST_CHECK int app_autorenew_set(struct app *app, struct autorenew_row *out,
                                     const struct autorenew_request *request);

struct autorenew_stats {
    int64_t charged;
    int64_t failed;
    int64_t given_up; /* cycles whose attempts are used up: the cardholder was told */
};

/* Charges every auto-renewal due at the clock's now through its agreement; at most one charge
 * per card per cycle (see src/core/autorenew.h). */
LEB_MUST_CHECK int app_autorenew_run(struct app *app, struct autorenew_stats *stats);

/* ---- the outbox (outbox.c) ---- */

/* An SMS to the card's phone from "template_name" with "fields" (stolen; may be NULL). */
LEB_MUST_CHECK int app_outbox_sms(struct store_tx *tx, const struct card_row *card,
                                  const char *template_name, json_t *fields, int64_t now);
/* A webhook to the telecom core: {"event", "card_no", "msisdn", "status", "at"}. */
LEB_MUST_CHECK int app_outbox_webhook(struct store_tx *tx, const struct card_row *card,
                                      const char *event, int64_t now);

/* ---- users and tokens ---- */

/* Creates or resets a user's password (argon2id). */
LEB_MUST_CHECK int app_user_set(struct app *app, const char *username, const char *password,
                                enum role role);

/* Checks a password and issues a token ("out_token", APP_TOKEN_SIZE). The same
 * LEB_E_INVALID_CREDENTIALS whether the user or the password is wrong. */
LEB_MUST_CHECK int app_login(struct app *app, char out_token[APP_TOKEN_SIZE], enum role *role,
                             int64_t *expires_at, const char *username, const char *password);

/* Resolves a bearer token; LEB_E_UNAUTHORIZED if unknown or expired. */
LEB_MUST_CHECK int app_token_verify(struct app *app, struct token_row *out, const char *token);

/* Draws a new token into "out_token", its hash (what the store keeps) into "out_hash", and
 * sets "token->expires_at" "ttl_s" from now (real time). */
void app_token_new(char out_token[APP_TOKEN_SIZE], char (*out_hash)[TOKEN_HASH_SIZE],
                   struct token_row *token, int64_t ttl_s);

/* Ends the session of "token" (an operator's or a cardholder's); LEB_E_UNAUTHORIZED if it is
 * not one. */
LEB_MUST_CHECK int app_logout(struct app *app, const char *token);

/* Forgets expired sessions and the one-time codes that no longer count for any limit;
 * "*removed" says how many. */
LEB_MUST_CHECK int app_sessions_prune(struct app *app, int64_t *removed);

/* ---- the cardholder's self-service (portal.c) ---- */

/*
 * Sends a one-time login code by SMS to "number" (a phone number as typed) if a card is
 * registered to it. The same answer, and the same limits, whether or not one is: 0, or
 * LEB_E_RATE_LIMITED with "*retry_after_s"; LEB_E_INVALID_PHONE_NUMBER for what is no phone
 * number at all.
 */
LEB_MUST_CHECK int app_portal_code_send(struct app *app, const char *number,
                                        int64_t *retry_after_s);

/* Exchanges a phone number and its code for a session on that number's card ("out_token",
 * valid until "*expires_at"; "card" the card). LEB_E_INVALID_CODE or LEB_E_TOO_MANY_ATTEMPTS
 * otherwise, the same for a number without a card. */
LEB_MUST_CHECK int app_portal_session_open(struct app *app, char out_token[APP_TOKEN_SIZE],
                                           int64_t *expires_at, struct card_row *card,
                                           const char *number, const char *code);

/* Sets the language of a card's SMS and portal ("zh" or "en", see portal_language_parse). */
LEB_MUST_CHECK int app_card_language_set(struct app *app, const char *card_no,
                                         const char *language);

/* Answers an inbound SMS "text" from "from" (sms.c): the reply to send back, in the card's
 * language; commands that change something (TD then Y, EN, ZW) are written before the reply
 * says so. */
LEB_MUST_CHECK int app_sms_inbound(struct app *app, char reply[SMS_REPLY_MAX], const char *from,
                                   const char *text);

/* Records a delivery report of the SMS sent from outbox message "id" (sms.c). "token" must be
 * app_sms_dlr_token(id): LEB_E_FORBIDDEN otherwise. LEB_E_NOT_FOUND for an unknown message,
 * LEB_E_INVALID_REQUEST for an unknown report type. */
LEB_MUST_CHECK int app_sms_delivery_report(struct app *app, int64_t id, const char *token,
                                           int64_t dlr_type);

#define APP_DLR_TOKEN_SIZE 33
/* The token a delivery report of message "id" must carry: it addresses that one message. */
void app_sms_dlr_token(const struct app *app, char out[APP_DLR_TOKEN_SIZE], int64_t id);

#endif
