/*
 * store.h - the one storage interface of LEB.
 *
 * The store owns durability and nothing else: it keeps rows and answers queries, and never
 * decides a business rule (that is src/core's, orchestrated by src/app). Backends are tables
 * of function pointers (struct store_backend); SQLite is the embedded default.
 *
 * Writes go through store_write(): the caller hands a function that runs inside a
 * transaction, and gets its result back only once the transaction is durable. Writes from
 * many threads are grouped into one transaction and one fsync (group commit); each write runs
 * inside its own savepoint, so a write that fails rolls back alone and never takes its
 * neighbours in the batch with it.
 */
#ifndef LEB_STORE_STORE_H
#define LEB_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cardno.h"
#include "core/error.h"
#include "core/ledger.h"
#include "core/order.h"
#include "core/plan.h"
#include "core/portal.h"
#include "core/role.h"

#define ORDER_NO_SIZE 32
#define TRADE_NO_SIZE 65
#define PROVIDER_SIZE 16
#define USERNAME_SIZE 65
#define PASSWORD_HASH_SIZE 128
#define TOKEN_HASH_SIZE 65
#define IDEMPOTENCY_KEY_SIZE 129
#define REQUEST_HASH_SIZE 65
#define LANGUAGE_SIZE 8

struct store;
struct store_tx;

struct card_row {
    char card_no[CARDNO_SIZE];
    char msisdn[MSISDN_SIZE];
    char plan_code[PLAN_CODE_SIZE];
    enum card_status status;
    int64_t balance; /* the card's ledger account balance, minor units */
    char currency[CURRENCY_SIZE];
    int64_t activated_at;
    int64_t valid_until;     /* 0: none */
    int64_t next_billing_at; /* 0: none */
    char language[LANGUAGE_SIZE];
    int64_t created_at;
    int64_t arrears;      /* unpaid fee, minor units */
    int64_t suspended_at; /* 0: not suspended */
    int64_t reminded_for; /* the billing instant / valid_until last reminded of */
    int64_t warned_for;   /* the suspended_at whose last warning was sent */
    int64_t due_at;       /* the next instant a lifecycle rule may act; 0: never */
};

/* A message waiting in (or delivered from) the outbox. */
struct outbox_row {
    int64_t id;
    char kind[16];
    char destination[64];
    char *payload; /* JSON text, malloc'd */
    char status[16];
    int64_t created_at;
    int64_t attempts;
    int64_t next_attempt_at;
    char last_error[128];
    char delivery[16];   /* the SMS gateway's last report: "", "queued", "smsc", "delivered", ... */
    int64_t delivery_at; /* when it came; 0: none */
};

/* How many outbox messages are in one (kind, status, delivery). */
struct outbox_count {
    char kind[16];
    char status[16];
    char delivery[16];
    int64_t count;
};

/* A one-time code or a pending confirmation of one phone number. */
struct challenge_row {
    char msisdn[MSISDN_SIZE];
    char purpose[16];                  /* "portal_login", "sms_confirm" */
    char secret_hash[TOKEN_HASH_SIZE]; /* the code's hash; or the action waiting for "Y" */
    struct portal_challenge life;
};

/* One movement of a card's money: an entry on its ledger account. */
struct card_entry {
    int64_t id;
    char kind[32];                /* the transaction's kind: "recharge", "monthly_fee", ... */
    char order_no[ORDER_NO_SIZE]; /* "" when no order caused it */
    int64_t amount;               /* signed: positive into the card */
    int64_t at;
};

/* A card's auto-renewal: its rule, its payment agreement, and the attempts of its cycle. */
struct autorenew_row {
    char card_no[CARDNO_SIZE];
    char rule[16];     /* "keep_fee", "threshold" */
    int64_t amount;    /* threshold rule */
    int64_t threshold; /* threshold rule */
    char provider[PROVIDER_SIZE];
    char agreement_id[64];
    char behaviour[16]; /* sandbox agreements only: "succeed" or "fail" */
    bool enabled;
    int64_t cycle_tried;
    int64_t attempts;
    int64_t last_attempt_at;
    int64_t next_check_at;
    int64_t created_at;
};

/* What LEB knows of an order's payment at its provider: the links the payer opens, the
 * provider's own reference, and the state of the active queries and of the refund. */
#define PAY_LINK_SIZE 2048 /* a card gateway's checkout URL carries a long fragment */
#define PROVIDER_REF_SIZE 128
struct order_payment_row {
    char order_no[ORDER_NO_SIZE];
    char provider[PROVIDER_SIZE];
    char pay_url[PAY_LINK_SIZE];
    char qr_text[PAY_LINK_SIZE];
    char provider_ref[PROVIDER_REF_SIZE]; /* e.g. a card gateway's payment intent id */
    int64_t query_attempts;
    int64_t next_query_at; /* 0: no query due */
    int64_t refund_attempts;
    int64_t next_refund_at; /* 0: no refund due */
    char refund_id[TRADE_NO_SIZE];
    char last_error[128];
    int64_t created_at;
    int64_t refund_amount; /* what to give back; 0: the order's pay_amount */
};

/* A provider trade as LEB recorded it: one row per (provider, trade_no), whatever came of it. */
struct payment_row {
    char provider[PROVIDER_SIZE];
    char trade_no[TRADE_NO_SIZE];
    char order_no[ORDER_NO_SIZE];
    int64_t amount;
    int64_t received_at;
    int64_t paid_at; /* the provider's time of the payment; received_at when it did not say */
};

/* An operator's action on money, kept for ever: who, when, what, on what, and why. */
struct audit_row {
    int64_t id;
    int64_t at;
    char actor[USERNAME_SIZE];
    char action[32];  /* "order.credit", "order.refund", "recon.import", ... */
    char subject[64]; /* an order number, a reconciliation id */
    char reason[512];
    char *details; /* JSON text or NULL; malloc'd when read */
};

/* An imported provider statement and its report. */
struct recon_row {
    int64_t id;
    char provider[PROVIDER_SIZE];
    char statement_hash[65]; /* SHA-256 of the file: the same statement imports once */
    int64_t period_start;
    int64_t period_end;
    int64_t rows;
    int64_t created_at;
    char *report; /* JSON text, malloc'd when read */
};

/* Which outbox messages to list; NULL fields match everything. */
struct outbox_filter {
    const char *destination;
    const char *kind;
    const char *status;
    const char *delivery; /* "" matches messages without a delivery report */
};

struct order_row {
    char order_no[ORDER_NO_SIZE];
    char card_no[CARDNO_SIZE];
    enum order_status status;
    enum channel channel;
    enum payment_method method;
    struct quote quote;
    char trade_no[TRADE_NO_SIZE]; /* the provider's trade number once paid; "" before */
    int64_t created_at;
    int64_t expires_at;
    int64_t paid_at;     /* 0: not yet */
    int64_t credited_at; /* 0: not yet */
    int64_t updated_at;
};

struct user_row {
    int64_t id;
    char username[USERNAME_SIZE];
    char password_hash[PASSWORD_HASH_SIZE];
    enum role role;
};

struct token_row {
    int64_t user_id;
    char username[USERNAME_SIZE];
    enum role role;
    char card_no[CARDNO_SIZE]; /* portal tokens only; "" otherwise */
    int64_t expires_at;
};

/* A payment notification as received, kept whole for audit whatever its outcome. */
struct notification_row {
    char provider[PROVIDER_SIZE];
    char order_no[ORDER_NO_SIZE];
    char trade_no[TRADE_NO_SIZE];
    int64_t amount;
    const char *status;  /* the provider's word: "SUCCESS", "FAILED", ... */
    const char *outcome; /* what LEB did: "credited", "duplicate", "review", ... */
    const char *raw;     /* the raw body, borrowed */
    size_t raw_size;
    int64_t received_at;
};

#define LEDGER_MISMATCHES_MAX 50

struct ledger_mismatch {
    char what[16];                 /* "transaction", "account", "total" */
    char ref[LEDGER_ACCOUNT_SIZE]; /* the transaction id or the account code */
    int64_t expected;              /* the sum of entries */
    int64_t actual;                /* the stored balance (or the transaction's sum) */
};

struct ledger_report {
    bool balanced;
    int64_t transactions;
    int64_t accounts;
    int64_t entries;
    struct ledger_mismatch mismatches[LEDGER_MISMATCHES_MAX];
    size_t mismatches_count;
};

struct store_stats {
    uint64_t commits;
    uint64_t writes;
    uint64_t batch_size_buckets[8]; /* writes per commit: <=1, 2, 4, 8, 16, 32, 64, more */
    uint64_t commit_us_buckets[8];  /* commit time: <=0.5 ms, 1, 2, 5, 10, 25, 50, more */
    uint64_t commit_us_sum;         /* BEGIN to COMMIT, the whole batch */
    uint64_t durable_us_sum;        /* inside COMMIT alone: the WAL write and its fsync */
};

struct store_options {
    int64_t batch_max; /* most writes in one commit */
    int readers;       /* read connections kept open */
};

/* Runs inside a write transaction; a negative result rolls back what it did alone. */
typedef int (*store_write_fn)(struct store_tx *tx, void *arg);

/* A backend: every function a store must offer. Versioned so that a backend built against
 * an older table is refused rather than misused. */
#define STORE_BACKEND_VERSION 6
struct store_backend {
    int version;
    const char *scheme; /* "sqlite" */
    int (*open)(struct store **out, const char *location, const struct store_options *options);
    void (*close)(struct store *store);
    int (*write)(struct store *store, store_write_fn fn, void *arg);
    void (*stats)(const struct store *store, struct store_stats *out);

    /* Reads outside a write, each a consistent snapshot. */
    int (*plan_get)(struct store *store, struct plan *out, const char *code);
    int (*plans_list)(struct store *store, struct plan **out, size_t *count);
    int (*card_get)(struct store *store, struct card_row *out, const char *card_no);
    int (*card_get_by_msisdn)(struct store *store, struct card_row *out, const char *msisdn);
    int (*order_get)(struct store *store, struct order_row *out, const char *order_no);
    int (*user_get)(struct store *store, struct user_row *out, const char *username);
    int (*token_get)(struct store *store, struct token_row *out, const char *hash);
    int (*ledger_check)(struct store *store, struct ledger_report *out);

    /* The same reads, and the writes, inside a write transaction. */
    int (*tx_plan_get)(struct store_tx *tx, struct plan *out, const char *code);
    int (*tx_plan_insert)(struct store_tx *tx, const struct plan *plan, int64_t now);
    int (*tx_card_get)(struct store_tx *tx, struct card_row *out, const char *card_no);
    int (*tx_card_insert)(struct store_tx *tx, const struct card_row *card);
    int (*tx_card_update_status)(struct store_tx *tx, const char *card_no, enum card_status status);
    int (*tx_order_get)(struct store_tx *tx, struct order_row *out, const char *order_no);
    int (*tx_order_insert)(struct store_tx *tx, const struct order_row *order);
    int (*tx_order_update)(struct store_tx *tx, const struct order_row *order);
    int (*tx_orders_due_expiry)(struct store_tx *tx, int64_t now, char (*out)[ORDER_NO_SIZE],
                                size_t max, size_t *count);
    int (*tx_card_paid_today)(struct store_tx *tx, const char *card_no, int64_t day_start,
                              int64_t *out_total);
    int (*tx_idempotency_get)(struct store_tx *tx, const char *key,
                              char out_hash[REQUEST_HASH_SIZE], char out_order_no[ORDER_NO_SIZE]);
    int (*tx_idempotency_put)(struct store_tx *tx, const char *key, const char *request_hash,
                              const char *order_no, int64_t now);
    int (*tx_notification_insert)(struct store_tx *tx, const struct notification_row *row);
    /* Claims a trade once; "paid_at" is when the provider says it was paid (0: not said). */
    int (*tx_payment_claim)(struct store_tx *tx, const char *provider, const char *trade_no,
                            const char *order_no, int64_t amount, int64_t paid_at, int64_t now);
    int (*tx_ledger_post)(struct store_tx *tx, const struct ledger_posting *posting,
                          const char *order_no, int64_t now);
    int (*tx_user_get)(struct store_tx *tx, struct user_row *out, const char *username);
    int (*tx_user_put)(struct store_tx *tx, const struct user_row *user, int64_t now);
    int (*tx_token_insert)(struct store_tx *tx, const char *hash, const struct token_row *token,
                           int64_t now);
    int (*tx_outbox_put)(struct store_tx *tx, const char *kind, const char *destination,
                         const char *payload, int64_t now);
    /* Writes the lifecycle fields of "card" (status, arrears, billing, validity, reminders,
     * due_at). */
    int (*tx_card_update_lifecycle)(struct store_tx *tx, const struct card_row *card);
    /* Up to "max" cards whose due_at has come, earliest first. */
    int (*tx_cards_due)(struct store_tx *tx, int64_t now, char (*out)[CARDNO_SIZE], size_t max,
                        size_t *count);
    /* 0 if new, 1 if this (card, kind, period) was recorded before. */
    int (*tx_lifecycle_event_put)(struct store_tx *tx, const char *card_no, const char *kind,
                                  int64_t period, int64_t amount, int64_t now);
    /* The newest "limit" outbox messages that "filter" matches; free each payload and the
     * array (outbox_rows_free). */
    int (*outbox_list)(struct store *store, struct outbox_row **out, size_t *count,
                       const struct outbox_filter *filter, size_t limit);
    int (*tx_outbox_get)(struct store_tx *tx, struct outbox_row *out, int64_t id);
    /* Up to "limit" pending messages of "kind" due at "now", oldest first, each leased until
     * "lease_until" (no other dispatcher sees it due before then). */
    int (*tx_outbox_claim)(struct store_tx *tx, struct outbox_row **out, size_t *count,
                           const char *kind, int64_t now, int64_t lease_until, size_t limit);
    /* Auto-renewals: one per card. */
    int (*tx_autorenew_put)(struct store_tx *tx, const struct autorenew_row *row);
    int (*tx_autorenew_get)(struct store_tx *tx, struct autorenew_row *out, const char *card_no);
    int (*autorenew_get)(struct store *store, struct autorenew_row *out, const char *card_no);
    /* Up to "max" enabled auto-renewals whose next_check_at has come. */
    int (*tx_autorenew_due)(struct store_tx *tx, int64_t now, char (*out)[CARDNO_SIZE], size_t max,
                            size_t *count);
    /* Records an attempt's outcome; LEB_E_NOT_FOUND for an unknown id. */
    int (*tx_outbox_mark)(struct store_tx *tx, int64_t id, const char *status, int64_t attempts,
                          int64_t next_attempt_at, const char *last_error);

    /* Version 3: the cardholder's self-service and SMS delivery reports. */
    /* Ends a session (an operator's token or a portal session); LEB_E_NOT_FOUND if none. */
    int (*tx_token_delete)(struct store_tx *tx, const char *hash);
    /* LEB_E_NOT_FOUND when the number has no challenge of this purpose. */
    int (*tx_challenge_get)(struct store_tx *tx, struct challenge_row *out, const char *msisdn,
                            const char *purpose);
    int (*tx_challenge_put)(struct store_tx *tx, const struct challenge_row *row);
    int (*tx_challenge_delete)(struct store_tx *tx, const char *msisdn, const char *purpose);
    int (*tx_card_update_language)(struct store_tx *tx, const char *card_no, const char *language);
    /* A card's newest "limit" orders and ledger entries, newest first; free the array. */
    int (*card_orders)(struct store *store, struct order_row **out, size_t *count,
                       const char *card_no, size_t limit);
    int (*card_entries)(struct store *store, struct card_entry **out, size_t *count,
                        const char *card_no, size_t limit);
    /* Records a delivery report; LEB_E_NOT_FOUND for an unknown id. */
    int (*tx_outbox_delivery)(struct store_tx *tx, int64_t id, const char *delivery, int64_t at);
    /* Counts of every (kind, status, delivery); free the array. */
    int (*outbox_summary)(struct store *store, struct outbox_count **out, size_t *count);
    /* Forgets challenges expired by "challenges_expired_by" whose counting window began by
     * "challenges_window_before", and sessions (operators' and cardholders') expired by
     * "sessions_expired_by"; "*removed" says how many rows went. */
    int (*tx_prune)(struct store_tx *tx, int64_t challenges_expired_by,
                    int64_t challenges_window_before, int64_t sessions_expired_by,
                    int64_t *removed);

    /* Version 4: real payment providers. LEB_E_NOT_FOUND when an order has no payment row. */
    int (*order_payment_get)(struct store *store, struct order_payment_row *out,
                             const char *order_no);
    int (*tx_order_payment_get)(struct store_tx *tx, struct order_payment_row *out,
                                const char *order_no);
    int (*tx_order_payment_put)(struct store_tx *tx, const struct order_payment_row *row);
    /* Up to "max" orders whose provider query (or refund) is due at "now", earliest first. */
    int (*tx_order_payments_query_due)(struct store_tx *tx, int64_t now, char (*out)[ORDER_NO_SIZE],
                                       size_t max, size_t *count);
    int (*tx_order_payments_refund_due)(struct store_tx *tx, int64_t now,
                                        char (*out)[ORDER_NO_SIZE], size_t max, size_t *count);

    /* Version 5: review, audit, reconciliation. LEB_E_NOT_FOUND for an unknown trade. */
    int (*payment_get)(struct store *store, struct payment_row *out, const char *provider,
                       const char *trade_no);
    int (*tx_payment_get)(struct store_tx *tx, struct payment_row *out, const char *provider,
                          const char *trade_no);
    /* The trade "trade_no" that paid "order_no", whichever provider it came through. */
    int (*tx_payment_of_order)(struct store_tx *tx, struct payment_row *out, const char *order_no,
                               const char *trade_no);
    /* Every trade of "provider" paid (by the provider's time, else received) in [from, to),
     * oldest first; free the array. */
    int (*payments_between)(struct store *store, struct payment_row **out, size_t *count,
                            const char *provider, int64_t from, int64_t to);
    /* The newest "limit" orders in "status"; free the array. */
    int (*orders_by_status)(struct store *store, struct order_row **out, size_t *count,
                            enum order_status status, size_t limit);
    int (*tx_audit_insert)(struct store_tx *tx, const struct audit_row *row);
    /* The newest "limit" audit rows about "subject" (NULL: all); free with audit_rows_free. */
    int (*audit_list)(struct store *store, struct audit_row **out, size_t *count,
                      const char *subject, size_t limit);
    /* Records an import; 1 (and "*id" the earlier one's) if this provider's statement with
     * this hash was imported before, 0 (and "*id" the new one) otherwise. */
    int (*tx_recon_insert)(struct store_tx *tx, const struct recon_row *row, int64_t *id);
    /* LEB_E_NOT_FOUND for an unknown id; free out->report. */
    int (*recon_get)(struct store *store, struct recon_row *out, int64_t id);
    /* The id of this provider's statement with this hash, if it was imported;
     * LEB_E_NOT_FOUND otherwise. */
    int (*recon_find)(struct store *store, const char *provider, const char *statement_hash,
                      int64_t *id);
};

/* Frees what outbox_list / tx_outbox_claim returned. */
void outbox_rows_free(struct outbox_row *rows, size_t count);
/* Frees what audit_list returned. */
void audit_rows_free(struct audit_row *rows, size_t count);

/* Opens the store named by "url" ("sqlite:PATH"), applying migrations. */
LEB_MUST_CHECK int store_open(struct store **out, const char *url,
                              const struct store_options *options);
/* Finishes every queued write, then closes. NULL is fine. */
void store_close(struct store *store);

/* The backend behind "store"; every call below goes through it. */
const struct store_backend *store_backend_of(const struct store *store);

/* Runs "fn" in a group-committed transaction; returns its result once durable. */
LEB_MUST_CHECK int store_write(struct store *store, store_write_fn fn, void *arg);

extern const struct store_backend store_sqlite_backend;

/* Every store begins with the backend pointer, so that the wrappers can find it. */
struct store_base {
    const struct store_backend *backend;
};
struct store_tx_base {
    const struct store_backend *backend;
};

#define STORE_CALL(store, fn, ...)                                                                 \
    (((struct store_base *)(store))->backend->fn((store), __VA_ARGS__))
#define STORE_TX(tx, fn, ...) (((struct store_tx_base *)(tx))->backend->fn((tx), __VA_ARGS__))

#endif
