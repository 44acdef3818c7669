/*
 * sqlite.c - the embedded SQLite backend: WAL, durable commits (synchronous=FULL), versioned
 * migrations, and group commit.
 *
 * One writer thread owns the one write connection. store_write() queues a request and sleeps
 * on its own semaphore; the writer takes everything queued (up to batch_max), runs each
 * request in its own savepoint inside one BEGIN IMMEDIATE ... COMMIT, and wakes every
 * request of the batch only after COMMIT returned, i.e. after the WAL was fsynced. While one
 * commit is on the disk the next batch gathers, so throughput grows with concurrency instead
 * of being capped by fsync latency. Reads use a pool of read-only connections, which WAL lets
 * run beside the writer.
 *
 * This file must never decide a business rule: it stores what src/app decided.
 */
#define _GNU_SOURCE /* pthread_setname_np: threads named in top, perf and gdb */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/store.h"
#include "util/log.h"

enum stmt_id {
    S_PLAN_GET,
    S_PLANS_LIST,
    S_PLAN_INSERT,
    S_CARD_GET,
    S_CARD_GET_BY_MSISDN,
    S_CARD_INSERT,
    S_CARD_UPDATE_STATUS,
    S_CARD_UPDATE_LIFECYCLE,
    S_CARDS_DUE,
    S_LIFECYCLE_EVENT_PUT,
    S_OUTBOX_LIST,
    S_OUTBOX_DUE,
    S_OUTBOX_GET,
    S_OUTBOX_MARK,
    S_OUTBOX_LEASE,
    S_AUTORENEW_PUT,
    S_AUTORENEW_GET,
    S_AUTORENEW_DUE,
    S_ORDER_GET,
    S_ORDER_INSERT,
    S_ORDER_UPDATE,
    S_ORDERS_DUE,
    S_CARD_PAID_TODAY,
    S_IDEM_GET,
    S_IDEM_PUT,
    S_NOTIFICATION_INSERT,
    S_PAYMENT_CLAIM,
    S_TXN_INSERT,
    S_ENTRY_INSERT,
    S_ACCOUNT_UPSERT,
    S_USER_GET,
    S_USER_INSERT,
    S_TOKEN_INSERT,
    S_TOKEN_GET,
    S_OUTBOX_PUT,
    S_TOKEN_DELETE,
    S_PORTAL_SESSION_INSERT,
    S_PORTAL_SESSION_DELETE,
    S_CHALLENGE_GET,
    S_CHALLENGE_PUT,
    S_CHALLENGE_DELETE,
    S_CARD_UPDATE_LANGUAGE,
    S_CARD_ORDERS,
    S_CARD_ENTRIES,
    S_OUTBOX_DELIVERY,
    S_OUTBOX_SUMMARY,
    S_CHALLENGES_PRUNE,
    S_PORTAL_SESSIONS_PRUNE,
    S_TOKENS_PRUNE,
    S_ORDER_PAYMENT_GET,
    S_ORDER_PAYMENT_PUT,
    S_ORDER_PAYMENTS_QUERY_DUE,
    S_ORDER_PAYMENTS_REFUND_DUE,
    S_PAYMENT_GET,
    S_PAYMENT_OF_ORDER,
    S_PAYMENTS_BETWEEN,
    S_ORDERS_BY_STATUS,
    S_AUDIT_INSERT,
    S_AUDIT_LIST,
    S_RECON_FIND,
    S_RECON_INSERT,
    S_RECON_GET,
    S_LEDGER_COUNTS,
    S_LEDGER_BAD_TXNS,
    S_LEDGER_BAD_ACCOUNTS,
    S_LEDGER_TOTAL,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_READ_BEGIN,
    S_READ_END,
    S_COUNT
};

#define CARD_COLUMNS                                                                               \
    "c.card_no, c.msisdn, c.plan_code, c.status, COALESCE(a.balance, 0), p.currency, "             \
    "c.activated_at, COALESCE(c.valid_until, 0), COALESCE(c.next_billing_at, 0), c.language, "     \
    "c.created_at, c.arrears, COALESCE(c.suspended_at, 0), COALESCE(c.reminded_for, 0), "          \
    "COALESCE(c.warned_for, 0), COALESCE(c.due_at, 0) "                                            \
    "FROM cards c JOIN plans p ON p.code = c.plan_code "                                           \
    "LEFT JOIN accounts a ON a.code = 'card:' || c.card_no "
#define ORDER_COLUMNS                                                                              \
    "order_no, card_no, status, channel, payment_method, currency, face_amount, "                  \
    "discount_amount, fee_amount, bonus_amount, pay_amount, COALESCE(trade_no, ''), created_at, "  \
    "expires_at, COALESCE(paid_at, 0), COALESCE(credited_at, 0), updated_at"
#define PLAN_COLUMNS                                                                               \
    "code, name, currency, model, monthly_fee, validity_days, validity_step_amount, "              \
    "validity_days_max, denominations, amount_min, amount_max, amount_step, daily_limit, "         \
    "grace_days, recharge_allowed, remind_days_before, recycle_warning_days"

#define OUTBOX_COLUMNS                                                                             \
    "id, kind, destination, payload, status, created_at, attempts, next_attempt_at, "              \
    "COALESCE(last_error, ''), COALESCE(delivery, ''), COALESCE(delivery_at, 0)"

#define ORDER_PAYMENT_COLUMNS                                                                      \
    "order_no, provider, pay_url, qr_text, provider_ref, query_attempts, next_query_at, "          \
    "refund_attempts, next_refund_at, refund_id, last_error, created_at, refund_amount"

#define PAYMENT_COLUMNS                                                                            \
    "provider, trade_no, order_no, amount, received_at, COALESCE(paid_at, received_at)"

#define AUTORENEW_COLUMNS                                                                          \
    "card_no, rule, amount, threshold, provider, agreement_id, behaviour, enabled, cycle_tried, "  \
    "attempts, last_attempt_at, next_check_at, created_at"

static const char *const stmt_sql[S_COUNT] = {
    [S_PLAN_GET] = "SELECT " PLAN_COLUMNS " FROM plans WHERE code = ?1",
    [S_PLANS_LIST] = "SELECT " PLAN_COLUMNS " FROM plans ORDER BY code",
    [S_PLAN_INSERT] = "INSERT INTO plans (" PLAN_COLUMNS ", created_at) VALUES "
                      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
                      "?17, ?18)",
    [S_CARD_GET] = "SELECT " CARD_COLUMNS "WHERE c.card_no = ?1",
    [S_CARD_GET_BY_MSISDN] = "SELECT " CARD_COLUMNS "WHERE c.msisdn = ?1 "
                             "ORDER BY c.status = 'recycled', c.created_at DESC LIMIT 1",
    [S_CARD_INSERT] = "INSERT INTO cards (card_no, msisdn, plan_code, status, activated_at, "
                      "valid_until, next_billing_at, language, created_at, suspended_at, due_at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, 0), NULLIF(?7, 0), ?8, ?9, "
                      "NULLIF(?10, 0), NULLIF(?11, 0))",
    [S_CARD_UPDATE_LIFECYCLE] = "UPDATE cards SET status = ?2, arrears = ?3, "
                                "next_billing_at = NULLIF(?4, 0), valid_until = NULLIF(?5, 0), "
                                "suspended_at = NULLIF(?6, 0), reminded_for = NULLIF(?7, 0), "
                                "warned_for = NULLIF(?8, 0), due_at = NULLIF(?9, 0) "
                                "WHERE card_no = ?1",
    [S_CARDS_DUE] = "SELECT card_no FROM cards WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
    [S_LIFECYCLE_EVENT_PUT] = "INSERT INTO lifecycle_events (card_no, kind, period, amount, "
                              "created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
    [S_OUTBOX_LIST] = "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE (?1 IS NULL OR "
                      "destination = ?1) AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR "
                      "status = ?4) AND (?5 IS NULL OR COALESCE(delivery, '') = ?5) "
                      "ORDER BY id DESC LIMIT ?2",
    [S_OUTBOX_DUE] = "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE status = 'pending' AND "
                     "kind = ?1 AND next_attempt_at <= ?2 ORDER BY next_attempt_at, id LIMIT ?3",
    [S_OUTBOX_GET] = "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE id = ?1",
    [S_OUTBOX_LEASE] = "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1",
    [S_AUTORENEW_PUT] = "INSERT INTO auto_renewals (" AUTORENEW_COLUMNS ") VALUES (?1, ?2, ?3, "
                        "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT (card_no) DO "
                        "UPDATE SET rule = ?2, amount = ?3, threshold = ?4, provider = ?5, "
                        "agreement_id = ?6, behaviour = ?7, enabled = ?8, cycle_tried = ?9, "
                        "attempts = ?10, last_attempt_at = ?11, next_check_at = ?12",
    [S_AUTORENEW_GET] = "SELECT " AUTORENEW_COLUMNS " FROM auto_renewals WHERE card_no = ?1",
    [S_AUTORENEW_DUE] = "SELECT card_no FROM auto_renewals WHERE enabled = 1 AND "
                        "next_check_at <= ?1 ORDER BY next_check_at LIMIT ?2",
    [S_OUTBOX_MARK] = "UPDATE outbox SET status = ?2, attempts = ?3, next_attempt_at = ?4, "
                      "last_error = NULLIF(?5, '') WHERE id = ?1",
    [S_CARD_UPDATE_STATUS] = "UPDATE cards SET status = ?2 WHERE card_no = ?1",
    [S_ORDER_GET] = "SELECT " ORDER_COLUMNS " FROM orders WHERE order_no = ?1",
    [S_ORDER_INSERT] = "INSERT INTO orders (order_no, card_no, status, channel, payment_method, "
                       "currency, face_amount, discount_amount, fee_amount, bonus_amount, "
                       "pay_amount, trade_no, created_at, expires_at, paid_at, credited_at, "
                       "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                       "?7, ?8, ?9, ?10, ?11, NULLIF(?12, ''), ?13, ?14, NULLIF(?15, 0), "
                       "NULLIF(?16, 0), ?17)",
    [S_ORDER_UPDATE] = "UPDATE orders SET status = ?2, trade_no = NULLIF(?3, ''), "
                       "paid_at = NULLIF(?4, 0), credited_at = NULLIF(?5, 0), updated_at = ?6 "
                       "WHERE order_no = ?1",
    [S_ORDERS_DUE] = "SELECT order_no FROM orders WHERE status = 'pending_payment' AND "
                     "expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
    [S_CARD_PAID_TODAY] = "SELECT COALESCE(SUM(face_amount), 0) FROM orders WHERE card_no = ?1 "
                          "AND paid_at >= ?2 AND status IN ('paid', 'succeeded')",
    [S_IDEM_GET] = "SELECT request_hash, order_no FROM idempotency_keys WHERE key = ?1",
    [S_IDEM_PUT] = "INSERT INTO idempotency_keys (key, request_hash, order_no, created_at) "
                   "VALUES (?1, ?2, ?3, ?4)",
    [S_NOTIFICATION_INSERT] = "INSERT INTO payment_notifications (provider, order_no, trade_no, "
                              "amount, status, outcome, raw, received_at) VALUES "
                              "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_PAYMENT_CLAIM] = "INSERT INTO payments (provider, trade_no, order_no, amount, "
                        "received_at, paid_at) VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, 0)) "
                        "ON CONFLICT DO NOTHING",
    [S_TXN_INSERT] = "INSERT INTO ledger_transactions (kind, order_no, currency, created_at) "
                     "VALUES (?1, ?2, ?3, ?4)",
    [S_ENTRY_INSERT] = "INSERT INTO ledger_entries (txn_id, account, amount) VALUES (?1, ?2, ?3)",
    [S_ACCOUNT_UPSERT] = "INSERT INTO accounts (code, currency, balance) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT (code) DO UPDATE SET balance = balance + excluded.balance "
                         "WHERE currency = excluded.currency",
    [S_USER_GET] = "SELECT id, username, password_hash, role FROM users WHERE username = ?1",
    [S_USER_INSERT] = "INSERT INTO users (username, password_hash, role, created_at) VALUES "
                      "(?1, ?2, ?3, ?4) ON CONFLICT (username) DO UPDATE SET "
                      "password_hash = excluded.password_hash, role = excluded.role",
    [S_TOKEN_INSERT] = "INSERT INTO tokens (hash, user_id, role, card_no, expires_at, "
                       "created_at) VALUES (?1, ?2, ?3, NULLIF(?4, ''), ?5, ?6)",
    [S_TOKEN_GET] = "SELECT t.user_id, u.username, t.role, COALESCE(t.card_no, ''), "
                    "t.expires_at FROM tokens t JOIN users u ON u.id = t.user_id "
                    "WHERE t.hash = ?1 UNION ALL SELECT 0, '', 'portal', card_no, expires_at "
                    "FROM portal_sessions WHERE hash = ?1",
    [S_TOKEN_DELETE] = "DELETE FROM tokens WHERE hash = ?1",
    [S_PORTAL_SESSION_INSERT] = "INSERT INTO portal_sessions (hash, card_no, expires_at, "
                                "created_at) VALUES (?1, ?2, ?3, ?4)",
    [S_PORTAL_SESSION_DELETE] = "DELETE FROM portal_sessions WHERE hash = ?1",
    [S_CHALLENGE_GET] = "SELECT secret_hash, created_at, expires_at, tries, window_start, sends "
                        "FROM challenges WHERE msisdn = ?1 AND purpose = ?2",
    [S_CHALLENGE_PUT] = "INSERT INTO challenges (msisdn, purpose, secret_hash, created_at, "
                        "expires_at, tries, window_start, sends) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                        "?7, ?8) ON CONFLICT (msisdn, purpose) DO UPDATE SET secret_hash = ?3, "
                        "created_at = ?4, expires_at = ?5, tries = ?6, window_start = ?7, "
                        "sends = ?8",
    [S_CHALLENGE_DELETE] = "DELETE FROM challenges WHERE msisdn = ?1 AND purpose = ?2",
    [S_CARD_UPDATE_LANGUAGE] = "UPDATE cards SET language = ?2 WHERE card_no = ?1",
    [S_CARD_ORDERS] = "SELECT " ORDER_COLUMNS " FROM orders WHERE card_no = ?1 "
                      "ORDER BY created_at DESC, rowid DESC LIMIT ?2",
    [S_CARD_ENTRIES] = "SELECT e.id, t.kind, COALESCE(t.order_no, ''), e.amount, t.created_at "
                       "FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.txn_id "
                       "WHERE e.account = 'card:' || ?1 ORDER BY e.id DESC LIMIT ?2",
    [S_CHALLENGES_PRUNE] = "DELETE FROM challenges WHERE expires_at <= ?1 AND window_start <= ?2",
    [S_PORTAL_SESSIONS_PRUNE] = "DELETE FROM portal_sessions WHERE expires_at <= ?1",
    [S_TOKENS_PRUNE] = "DELETE FROM tokens WHERE expires_at <= ?1",
    [S_ORDER_PAYMENT_GET] = "SELECT " ORDER_PAYMENT_COLUMNS " FROM order_payments "
                            "WHERE order_no = ?1",
    [S_ORDER_PAYMENT_PUT] = "INSERT INTO order_payments (" ORDER_PAYMENT_COLUMNS ") VALUES (?1, "
                            "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) ON CONFLICT "
                            "(order_no) DO UPDATE SET provider = ?2, pay_url = ?3, qr_text = ?4, "
                            "provider_ref = ?5, query_attempts = ?6, next_query_at = ?7, "
                            "refund_attempts = ?8, next_refund_at = ?9, refund_id = ?10, "
                            "last_error = ?11, refund_amount = ?13",
    [S_PAYMENT_GET] = "SELECT " PAYMENT_COLUMNS " FROM payments WHERE provider = ?1 AND "
                      "trade_no = ?2",
    [S_PAYMENT_OF_ORDER] = "SELECT " PAYMENT_COLUMNS " FROM payments WHERE order_no = ?1 AND "
                           "trade_no = ?2 LIMIT 1",
    [S_PAYMENTS_BETWEEN] = "SELECT " PAYMENT_COLUMNS " FROM payments WHERE provider = ?1 AND "
                           "COALESCE(paid_at, received_at) >= ?2 AND "
                           "COALESCE(paid_at, received_at) < ?3 "
                           "ORDER BY COALESCE(paid_at, received_at), trade_no",
    [S_ORDERS_BY_STATUS] = "SELECT " ORDER_COLUMNS " FROM orders WHERE status = ?1 "
                           "ORDER BY created_at DESC, rowid DESC LIMIT ?2",
    [S_AUDIT_INSERT] = "INSERT INTO audit_log (at, actor, action, subject, reason, details) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_AUDIT_LIST] = "SELECT id, at, actor, action, subject, reason, details FROM audit_log "
                     "WHERE (?1 IS NULL OR subject = ?1) ORDER BY id DESC LIMIT ?2",
    [S_RECON_FIND] = "SELECT id FROM reconciliations WHERE provider = ?1 AND statement_hash = ?2",
    [S_RECON_INSERT] = "INSERT INTO reconciliations (provider, statement_hash, period_start, "
                       "period_end, rows, report, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_RECON_GET] = "SELECT id, provider, statement_hash, period_start, period_end, rows, report, "
                    "created_at FROM reconciliations WHERE id = ?1",
    [S_ORDER_PAYMENTS_QUERY_DUE] = "SELECT order_no FROM order_payments WHERE next_query_at > 0 "
                                   "AND next_query_at <= ?1 ORDER BY next_query_at LIMIT ?2",
    [S_ORDER_PAYMENTS_REFUND_DUE] = "SELECT order_no FROM order_payments WHERE next_refund_at > 0 "
                                    "AND next_refund_at <= ?1 ORDER BY next_refund_at LIMIT ?2",
    [S_OUTBOX_DELIVERY] = "UPDATE outbox SET delivery = ?2, delivery_at = ?3 WHERE id = ?1",
    [S_OUTBOX_SUMMARY] = "SELECT kind, status, COALESCE(delivery, ''), COUNT(*) FROM outbox "
                         "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    [S_OUTBOX_PUT] = "INSERT INTO outbox (kind, destination, payload, next_attempt_at, "
                     "created_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    [S_LEDGER_COUNTS] = "SELECT (SELECT COUNT(*) FROM ledger_transactions), "
                        "(SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM ledger_entries)",
    [S_LEDGER_BAD_TXNS] = "SELECT t.id, COALESCE(SUM(e.amount), 0), COUNT(e.id) FROM "
                          "ledger_transactions t LEFT JOIN ledger_entries e ON e.txn_id = t.id "
                          "GROUP BY t.id HAVING COALESCE(SUM(e.amount), 0) <> 0 OR "
                          "COUNT(e.id) < 2 LIMIT ?1",
    [S_LEDGER_BAD_ACCOUNTS] = "SELECT a.code, a.balance, COALESCE(s.total, 0) FROM accounts a "
                              "LEFT JOIN (SELECT account, SUM(amount) AS total FROM "
                              "ledger_entries GROUP BY account) s ON s.account = a.code "
                              "WHERE a.balance <> COALESCE(s.total, 0) LIMIT ?1",
    [S_LEDGER_TOTAL] = "SELECT COALESCE(SUM(balance), 0) FROM accounts",
    [S_SAVEPOINT] = "SAVEPOINT w",
    [S_RELEASE] = "RELEASE w",
    [S_ROLLBACK_TO] = "ROLLBACK TO w",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_READ_BEGIN] = "BEGIN",
    [S_READ_END] = "COMMIT",
};

/* Versioned migrations: migrations[i] takes the schema from version i to i + 1, recorded in
 * PRAGMA user_version in the same transaction. Never edit a migration that has shipped. */
static const char *const migrations[] = {
    "CREATE TABLE plans ("
    "  code TEXT PRIMARY KEY, name TEXT NOT NULL, currency TEXT NOT NULL,"
    "  model TEXT NOT NULL CHECK (model IN ('monthly_fee', 'validity')),"
    "  monthly_fee INTEGER NOT NULL, validity_days INTEGER NOT NULL,"
    "  validity_step_amount INTEGER NOT NULL, validity_days_max INTEGER NOT NULL,"
    "  denominations TEXT NOT NULL, amount_min INTEGER NOT NULL, amount_max INTEGER NOT NULL,"
    "  amount_step INTEGER NOT NULL, daily_limit INTEGER NOT NULL, grace_days INTEGER NOT NULL,"
    "  recharge_allowed INTEGER NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE cards ("
    "  card_no TEXT PRIMARY KEY, msisdn TEXT NOT NULL,"
    "  plan_code TEXT NOT NULL REFERENCES plans (code),"
    "  status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'recycled')),"
    "  activated_at INTEGER NOT NULL, valid_until INTEGER, next_billing_at INTEGER,"
    "  language TEXT NOT NULL DEFAULT 'zh', created_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX cards_msisdn_live ON cards (msisdn) WHERE status <> 'recycled';"
    "CREATE TABLE orders ("
    "  order_no TEXT PRIMARY KEY, card_no TEXT NOT NULL REFERENCES cards (card_no),"
    "  status TEXT NOT NULL CHECK (status IN ('pending_payment', 'paid', 'succeeded', 'failed',"
    "    'expired', 'review', 'refunding', 'refunded')),"
    "  channel TEXT NOT NULL, payment_method TEXT NOT NULL, currency TEXT NOT NULL,"
    "  face_amount INTEGER NOT NULL, discount_amount INTEGER NOT NULL,"
    "  fee_amount INTEGER NOT NULL, bonus_amount INTEGER NOT NULL, pay_amount INTEGER NOT NULL,"
    "  trade_no TEXT, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    "  paid_at INTEGER, credited_at INTEGER, updated_at INTEGER NOT NULL);"
    "CREATE INDEX orders_pending_expiry ON orders (expires_at) WHERE status = 'pending_payment';"
    "CREATE INDEX orders_card ON orders (card_no, created_at);"
    "CREATE TABLE idempotency_keys ("
    "  key TEXT PRIMARY KEY, request_hash TEXT NOT NULL,"
    "  order_no TEXT NOT NULL REFERENCES orders (order_no), created_at INTEGER NOT NULL)"
    "  WITHOUT ROWID;"
    "CREATE TABLE payment_notifications ("
    "  id INTEGER PRIMARY KEY, provider TEXT NOT NULL, order_no TEXT, trade_no TEXT,"
    "  amount INTEGER, status TEXT, outcome TEXT NOT NULL, raw BLOB NOT NULL,"
    "  received_at INTEGER NOT NULL);"
    "CREATE INDEX payment_notifications_order ON payment_notifications (order_no);"
    "CREATE TABLE payments ("
    "  provider TEXT NOT NULL, trade_no TEXT NOT NULL,"
    "  order_no TEXT NOT NULL REFERENCES orders (order_no), amount INTEGER NOT NULL,"
    "  received_at INTEGER NOT NULL, PRIMARY KEY (provider, trade_no)) WITHOUT ROWID;"
    "CREATE TABLE accounts ("
    "  code TEXT PRIMARY KEY, currency TEXT NOT NULL,"
    "  balance INTEGER NOT NULL CHECK (typeof(balance) = 'integer')) WITHOUT ROWID;"
    "CREATE TABLE ledger_transactions ("
    "  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, order_no TEXT, currency TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX ledger_transactions_once ON ledger_transactions (kind, order_no)"
    "  WHERE order_no IS NOT NULL;"
    "CREATE TABLE ledger_entries ("
    "  id INTEGER PRIMARY KEY, txn_id INTEGER NOT NULL REFERENCES ledger_transactions (id),"
    "  account TEXT NOT NULL REFERENCES accounts (code),"
    "  amount INTEGER NOT NULL CHECK (typeof(amount) = 'integer' AND amount <> 0));"
    "CREATE INDEX ledger_entries_account ON ledger_entries (account);"
    "CREATE INDEX ledger_entries_txn ON ledger_entries (txn_id);"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
    "  role TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE tokens ("
    "  hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id),"
    "  role TEXT NOT NULL, card_no TEXT, expires_at INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, destination TEXT NOT NULL,"
    "  payload TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',"
    "  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';",

    /* 2: keeping the number alive. due_at is the next instant a lifecycle rule may act on the
     * card (src/core/lifecycle.c); the job reads only cards whose due_at has come. */
    "ALTER TABLE cards ADD COLUMN arrears INTEGER NOT NULL DEFAULT 0 CHECK (arrears >= 0);"
    "ALTER TABLE cards ADD COLUMN suspended_at INTEGER;"
    "ALTER TABLE cards ADD COLUMN reminded_for INTEGER;"
    "ALTER TABLE cards ADD COLUMN warned_for INTEGER;"
    "ALTER TABLE cards ADD COLUMN due_at INTEGER;"
    "UPDATE cards SET suspended_at = created_at WHERE status = 'suspended';"
    "UPDATE cards SET due_at = created_at WHERE status <> 'recycled';"
    "CREATE INDEX cards_due ON cards (due_at) WHERE due_at IS NOT NULL;"
    "ALTER TABLE plans ADD COLUMN remind_days_before INTEGER NOT NULL DEFAULT 3;"
    "ALTER TABLE plans ADD COLUMN recycle_warning_days INTEGER NOT NULL DEFAULT 7;"
    "CREATE TABLE lifecycle_events ("
    "  card_no TEXT NOT NULL REFERENCES cards (card_no), kind TEXT NOT NULL,"
    "  period INTEGER NOT NULL, amount INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (card_no, kind, period)) WITHOUT ROWID;",

    /* 3: delivery of the outbox. */
    "ALTER TABLE outbox ADD COLUMN last_error TEXT;"
    "CREATE INDEX outbox_kind_due ON outbox (kind, next_attempt_at) WHERE status = 'pending';",

    /* 4: auto-renewal. */
    "CREATE TABLE auto_renewals ("
    "  card_no TEXT PRIMARY KEY REFERENCES cards (card_no),"
    "  rule TEXT NOT NULL CHECK (rule IN ('keep_fee', 'threshold')),"
    "  amount INTEGER NOT NULL, threshold INTEGER NOT NULL, provider TEXT NOT NULL,"
    "  agreement_id TEXT NOT NULL, behaviour TEXT NOT NULL, enabled INTEGER NOT NULL,"
    "  cycle_tried INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    "  last_attempt_at INTEGER NOT NULL, next_check_at INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX auto_renewals_due ON auto_renewals (next_check_at) WHERE enabled = 1;",

    /* 5: the dispatcher claims by (kind, next_attempt_at); the first outbox index only cost
     * every new message (two per credit) an insert. */
    "DROP INDEX outbox_due;",

    /* 6: the cardholder's self-service. Portal sessions belong to a card, not to a user, so
     * they have a table of their own; challenges are one-time codes and SMS confirmations,
     * one per phone number and purpose. Delivery reports from the SMS gateway say where an
     * SMS the outbox sent has got to. */
    "CREATE TABLE portal_sessions ("
    "  hash TEXT PRIMARY KEY, card_no TEXT NOT NULL REFERENCES cards (card_no),"
    "  expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE challenges ("
    "  msisdn TEXT NOT NULL, purpose TEXT NOT NULL, secret_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, tries INTEGER NOT NULL,"
    "  window_start INTEGER NOT NULL, sends INTEGER NOT NULL,"
    "  PRIMARY KEY (msisdn, purpose)) WITHOUT ROWID;"
    "ALTER TABLE outbox ADD COLUMN delivery TEXT;"
    "ALTER TABLE outbox ADD COLUMN delivery_at INTEGER;",

    /* 7: real payment providers. An order's payment at its provider: the links a provider
     * created for it, and when to ask the provider about it (a lost notification) or to
     * refund it (paid, but the card could no longer take it). */
    "CREATE TABLE order_payments ("
    "  order_no TEXT PRIMARY KEY REFERENCES orders (order_no), provider TEXT NOT NULL,"
    "  pay_url TEXT NOT NULL, qr_text TEXT NOT NULL, provider_ref TEXT NOT NULL,"
    "  query_attempts INTEGER NOT NULL, next_query_at INTEGER NOT NULL,"
    "  refund_attempts INTEGER NOT NULL, next_refund_at INTEGER NOT NULL,"
    "  refund_id TEXT NOT NULL, last_error TEXT NOT NULL, created_at INTEGER NOT NULL)"
    "  WITHOUT ROWID;"
    "CREATE INDEX order_payments_query ON order_payments (next_query_at) WHERE next_query_at > 0;"
    "CREATE INDEX order_payments_refund ON order_payments (next_refund_at)"
    "  WHERE next_refund_at > 0;",

    /* 8: what operators do about money, and the providers' statements. A refund of a review
     * gives back what was paid, which may differ from the order's price; orders that wait
     * for a human are found by status without reading every order; an audit row is never
     * changed or removed. */
    "ALTER TABLE order_payments ADD COLUMN refund_amount INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX orders_attention ON orders (status, created_at)"
    "  WHERE status IN ('review', 'refunding');"
    "CREATE INDEX payments_received ON payments (provider, received_at);"
    "CREATE INDEX payments_order ON payments (order_no);"
    "CREATE TABLE audit_log ("
    "  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
    "  subject TEXT NOT NULL, reason TEXT NOT NULL, details TEXT);"
    "CREATE INDEX audit_log_subject ON audit_log (subject);"
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
    "CREATE TABLE reconciliations ("
    "  id INTEGER PRIMARY KEY, provider TEXT NOT NULL, statement_hash TEXT NOT NULL,"
    "  period_start INTEGER NOT NULL, period_end INTEGER NOT NULL, rows INTEGER NOT NULL,"
    "  report TEXT NOT NULL, created_at INTEGER NOT NULL,"
    "  UNIQUE (provider, statement_hash));",

    /* 9: when the provider says a trade was paid, which is what its statement dates it by:
     * a trade LEB learns of a day late still belongs to the day it was paid. */
    "ALTER TABLE payments ADD COLUMN paid_at INTEGER;"
    "CREATE INDEX payments_paid ON payments (provider, COALESCE(paid_at, received_at));",
};
#define MIGRATIONS_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define READERS_MAX 64
#define PLANS_LIST_MAX 1000

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmts[S_COUNT];
};

struct store_tx {
    struct store_tx_base base;
    struct conn *conn;
};

struct write_request {
    store_write_fn fn;
    void *arg;
    int result;
    sem_t done;
    struct write_request *next;
};

struct store {
    struct store_base base;
    char *path;
    int64_t batch_max;

    struct conn writer; /* owned by the writer thread once started */
    pthread_t writer_thread;
    bool writer_started;
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_ready;
    struct write_request *queue_head;
    struct write_request *queue_tail;
    bool stopping;
    struct store_stats stats; /* under queue_lock */

    /* Checkpoints run on their own thread and connection, off the writer's serial path: the
     * writer only appends to the WAL, and the checkpointer copies it back into the database
     * (PASSIVE, so it never blocks the writer) once the WAL has grown past a bound. */
    struct conn checkpointer;
    pthread_t checkpointer_thread;
    bool checkpointer_started;
    pthread_cond_t checkpoint_wanted; /* under queue_lock */
    int wal_frames;                   /* under queue_lock */
    int writer_wal_frames;            /* the writer thread's own copy */

    struct conn readers[READERS_MAX];
    int readers_count;
    int readers_free[READERS_MAX];
    int readers_free_count;
    pthread_mutex_t readers_lock;
    pthread_cond_t readers_ready;
};

/* ---------------------------------------------------------------------------------------- */
/* Connections and statements                                                               */
/* ---------------------------------------------------------------------------------------- */

static sqlite3_stmt *stmt(struct conn *conn, enum stmt_id id)
{
    if (conn->stmts[id] == NULL) {
        int rc = sqlite3_prepare_v3(conn->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                    &conn->stmts[id], NULL);
        if (rc != SQLITE_OK) {
            LOG_ERROR("store: prepare failed", "error", sqlite3_errmsg(conn->db), "sql",
                      stmt_sql[id]);
            LEB_ASSERT(rc == SQLITE_OK); /* our SQL is wrong: a programmer error */
        }
    } else {
        sqlite3_reset(conn->stmts[id]);
        sqlite3_clear_bindings(conn->stmts[id]);
    }
    return conn->stmts[id];
}

static void bind_text(sqlite3_stmt *s, int index, const char *text)
{
    LEB_ASSERT(sqlite3_bind_text(s, index, text, -1, SQLITE_STATIC) == SQLITE_OK);
}

static void bind_int(sqlite3_stmt *s, int index, int64_t value)
{
    LEB_ASSERT(sqlite3_bind_int64(s, index, value) == SQLITE_OK);
}

static void column_copy(char *out, size_t size, sqlite3_stmt *s, int column)
{
    const unsigned char *text = sqlite3_column_text(s, column);
    snprintf(out, size, "%s", text ? (const char *)text : "");
}

/* Runs a statement that returns no row; maps constraint failures to "on_constraint". */
static int step_done(struct conn *conn, sqlite3_stmt *s, int on_constraint)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return 0;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return on_constraint;
    LOG_ERROR("store: statement failed", "error", sqlite3_errmsg(conn->db));
    return LEB_E_UNAVAILABLE;
}

static int exec_simple(struct conn *conn, enum stmt_id id)
{
    return step_done(conn, stmt(conn, id), LEB_E_INTERNAL);
}

static int conn_open(struct conn *conn, const char *path, bool writer)
{
    memset(conn, 0, sizeof(*conn));
    int flags = SQLITE_OPEN_NOMUTEX |
                (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
    if (sqlite3_open_v2(path, &conn->db, flags, NULL) != SQLITE_OK) {
        LOG_ERROR("store: cannot open the database", "error",
                  conn->db ? sqlite3_errmsg(conn->db) : "out of memory");
        sqlite3_close(conn->db);
        conn->db = NULL;
        return LEB_E_UNAVAILABLE;
    }
    sqlite3_busy_timeout(conn->db, 10000);
    sqlite3_extended_result_codes(conn->db, 1);
    /* A large page cache and a memory map keep the hot pages out of pread(): the writer's CPU
     * is what bounds group commit once fsyncs are shared. */
    const char *pragmas = writer ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                                   "PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
                                   "PRAGMA cache_size = -131072; PRAGMA mmap_size = 1073741824;"
                                   "PRAGMA journal_size_limit = 67108864;"
                                 : "PRAGMA query_only = ON; PRAGMA temp_store = MEMORY;"
                                   "PRAGMA cache_size = -16384; PRAGMA mmap_size = 1073741824;";
    char *error = NULL;
    if (sqlite3_exec(conn->db, pragmas, NULL, NULL, &error) != SQLITE_OK) {
        LOG_ERROR("store: cannot configure the database", "error", error ? error : "?");
        sqlite3_free(error);
        return LEB_E_UNAVAILABLE;
    }
    return 0;
}

/* Prepares every statement up front, so that a wrong statement stops lebd at start-up rather
 * than on the first request that needs it. */
static void conn_prepare_all(struct conn *conn)
{
    for (int i = 0; i < S_COUNT; i++)
        (void)stmt(conn, (enum stmt_id)i);
}

static void conn_close(struct conn *conn)
{
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(conn->stmts[i]);
    sqlite3_close(conn->db);
    memset(conn, 0, sizeof(*conn));
}

static int migrate(struct conn *conn)
{
    sqlite3_stmt *s = NULL;
    LEB_ASSERT(sqlite3_prepare_v2(conn->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK);
    int version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    if (version < 0 || version > MIGRATIONS_COUNT) {
        LOG_ERROR("store: the database's schema is newer than this lebd", "schema_version",
                  LOG_RAW("0"));
        return LEB_E_UNAVAILABLE;
    }
    for (int v = version; v < MIGRATIONS_COUNT; v++) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d;", v + 1);
        char *error = NULL;
        int rc = sqlite3_exec(conn->db, "BEGIN IMMEDIATE", NULL, NULL, &error);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(conn->db, migrations[v], NULL, NULL, &error);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(conn->db, pragma, NULL, NULL, &error);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(conn->db, "COMMIT", NULL, NULL, &error);
        if (rc != SQLITE_OK) {
            LOG_ERROR("store: migration failed", "error", error ? error : "?");
            sqlite3_free(error);
            sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
            return LEB_E_UNAVAILABLE;
        }
        char version_text[16];
        snprintf(version_text, sizeof(version_text), "%d", v + 1);
        LOG_INFO("store: migrated", "schema_version", version_text);
    }
    return 0;
}

static struct conn *reader_take(struct store *store)
{
    pthread_mutex_lock(&store->readers_lock);
    while (store->readers_free_count == 0)
        pthread_cond_wait(&store->readers_ready, &store->readers_lock);
    int index = store->readers_free[--store->readers_free_count];
    pthread_mutex_unlock(&store->readers_lock);
    return &store->readers[index];
}

static void reader_give(struct store *store, struct conn *conn)
{
    pthread_mutex_lock(&store->readers_lock);
    store->readers_free[store->readers_free_count++] = (int)(conn - store->readers);
    pthread_cond_signal(&store->readers_ready);
    pthread_mutex_unlock(&store->readers_lock);
}

/* ---------------------------------------------------------------------------------------- */
/* Row readers, shared by reads and by reads inside a write                                 */
/* ---------------------------------------------------------------------------------------- */

static void plan_from_row(struct plan *out, sqlite3_stmt *s)
{
    memset(out, 0, sizeof(*out));
    column_copy(out->code, sizeof(out->code), s, 0);
    column_copy(out->name, sizeof(out->name), s, 1);
    column_copy(out->currency, sizeof(out->currency), s, 2);
    const char *model = (const char *)sqlite3_column_text(s, 3);
    LEB_ASSERT(retention_model_parse(&out->model, model) == 0);
    out->monthly_fee = sqlite3_column_int64(s, 4);
    out->validity_days = sqlite3_column_int(s, 5);
    out->validity_step_amount = sqlite3_column_int64(s, 6);
    out->validity_days_max = sqlite3_column_int(s, 7);
    const char *denominations = (const char *)sqlite3_column_text(s, 8);
    for (const char *p = denominations;
         p && *p && out->denominations_count < PLAN_DENOMINATIONS_MAX;) {
        char *end = NULL;
        out->denominations[out->denominations_count++] = strtoll(p, &end, 10);
        p = (*end == ',') ? end + 1 : end;
    }
    out->amount_min = sqlite3_column_int64(s, 9);
    out->amount_max = sqlite3_column_int64(s, 10);
    out->amount_step = sqlite3_column_int64(s, 11);
    out->daily_limit = sqlite3_column_int64(s, 12);
    out->grace_days = sqlite3_column_int(s, 13);
    out->recharge_allowed = sqlite3_column_int(s, 14) != 0;
    out->remind_days_before = sqlite3_column_int(s, 15);
    out->recycle_warning_days = sqlite3_column_int(s, 16);
}

static int q_plan_get(struct conn *conn, struct plan *out, const char *code)
{
    sqlite3_stmt *s = stmt(conn, S_PLAN_GET);
    bind_text(s, 1, code);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        plan_from_row(out, s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_PLAN_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static void card_from_row(struct card_row *out, sqlite3_stmt *s)
{
    memset(out, 0, sizeof(*out));
    column_copy(out->card_no, sizeof(out->card_no), s, 0);
    column_copy(out->msisdn, sizeof(out->msisdn), s, 1);
    column_copy(out->plan_code, sizeof(out->plan_code), s, 2);
    LEB_ASSERT(card_status_parse(&out->status, (const char *)sqlite3_column_text(s, 3)) == 0);
    out->balance = sqlite3_column_int64(s, 4);
    column_copy(out->currency, sizeof(out->currency), s, 5);
    out->activated_at = sqlite3_column_int64(s, 6);
    out->valid_until = sqlite3_column_int64(s, 7);
    out->next_billing_at = sqlite3_column_int64(s, 8);
    column_copy(out->language, sizeof(out->language), s, 9);
    out->created_at = sqlite3_column_int64(s, 10);
    out->arrears = sqlite3_column_int64(s, 11);
    out->suspended_at = sqlite3_column_int64(s, 12);
    out->reminded_for = sqlite3_column_int64(s, 13);
    out->warned_for = sqlite3_column_int64(s, 14);
    out->due_at = sqlite3_column_int64(s, 15);
}

static int q_card_get(struct conn *conn, struct card_row *out, enum stmt_id id, const char *key)
{
    sqlite3_stmt *s = stmt(conn, id);
    bind_text(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        card_from_row(out, s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_CARD_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static void order_from_row(struct order_row *out, sqlite3_stmt *s)
{
    {
        memset(out, 0, sizeof(*out));
        column_copy(out->order_no, sizeof(out->order_no), s, 0);
        column_copy(out->card_no, sizeof(out->card_no), s, 1);
        LEB_ASSERT(order_status_parse(&out->status, (const char *)sqlite3_column_text(s, 2)) == 0);
        LEB_ASSERT(channel_parse(&out->channel, (const char *)sqlite3_column_text(s, 3)) == 0);
        LEB_ASSERT(payment_method_parse(&out->method, (const char *)sqlite3_column_text(s, 4)) ==
                   0);
        column_copy(out->quote.currency, sizeof(out->quote.currency), s, 5);
        out->quote.face_amount = sqlite3_column_int64(s, 6);
        out->quote.discount_amount = sqlite3_column_int64(s, 7);
        out->quote.fee_amount = sqlite3_column_int64(s, 8);
        out->quote.bonus_amount = sqlite3_column_int64(s, 9);
        out->quote.pay_amount = sqlite3_column_int64(s, 10);
        column_copy(out->trade_no, sizeof(out->trade_no), s, 11);
        out->created_at = sqlite3_column_int64(s, 12);
        out->expires_at = sqlite3_column_int64(s, 13);
        out->paid_at = sqlite3_column_int64(s, 14);
        out->credited_at = sqlite3_column_int64(s, 15);
        out->updated_at = sqlite3_column_int64(s, 16);
    }
}

static int q_order_get(struct conn *conn, struct order_row *out, const char *order_no)
{
    sqlite3_stmt *s = stmt(conn, S_ORDER_GET);
    bind_text(s, 1, order_no);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        order_from_row(out, s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_ORDER_NOT_FOUND : LEB_E_UNAVAILABLE;
}

/* Reads every row of a bound statement into a growing array of "size"-byte elements. */
static int rows_read_all(struct store *store, struct conn *conn, sqlite3_stmt *s, size_t size,
                         void (*from_row)(void *row, sqlite3_stmt *s), void **out, size_t *count)
{
    size_t n = 0, capacity = 64;
    char *rows = malloc(capacity * size);
    LEB_ASSERT(rows != NULL);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == capacity) {
            capacity *= 2;
            rows = realloc(rows, capacity * size);
            LEB_ASSERT(rows != NULL);
        }
        from_row(rows + n * size, s);
        n++;
    }
    sqlite3_reset(s);
    reader_give(store, conn);
    if (rc != SQLITE_DONE) {
        free(rows);
        return LEB_E_UNAVAILABLE;
    }
    *out = rows;
    *count = n;
    return 0;
}

static void order_row_read(void *row, sqlite3_stmt *s)
{
    order_from_row(row, s);
}

static int sqlite_card_orders(struct store *store, struct order_row **out, size_t *count,
                              const char *card_no, size_t limit)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_CARD_ORDERS);
    bind_text(s, 1, card_no);
    bind_int(s, 2, (int64_t)limit);
    return rows_read_all(store, conn, s, sizeof(**out), order_row_read, (void **)out, count);
}

static void card_entry_read(void *out, sqlite3_stmt *s)
{
    struct card_entry *row = out;
    memset(row, 0, sizeof(*row));
    row->id = sqlite3_column_int64(s, 0);
    column_copy(row->kind, sizeof(row->kind), s, 1);
    column_copy(row->order_no, sizeof(row->order_no), s, 2);
    row->amount = sqlite3_column_int64(s, 3);
    row->at = sqlite3_column_int64(s, 4);
}

static int sqlite_card_entries(struct store *store, struct card_entry **out, size_t *count,
                               const char *card_no, size_t limit)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_CARD_ENTRIES);
    bind_text(s, 1, card_no);
    bind_int(s, 2, (int64_t)limit);
    return rows_read_all(store, conn, s, sizeof(**out), card_entry_read, (void **)out, count);
}

static int q_user_get(struct conn *conn, struct user_row *out, const char *username)
{
    sqlite3_stmt *s = stmt(conn, S_USER_GET);
    bind_text(s, 1, username);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->id = sqlite3_column_int64(s, 0);
        column_copy(out->username, sizeof(out->username), s, 1);
        column_copy(out->password_hash, sizeof(out->password_hash), s, 2);
        LEB_ASSERT(role_parse(&out->role, (const char *)sqlite3_column_text(s, 3)) == 0);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

/* ---------------------------------------------------------------------------------------- */
/* Reads                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static int sqlite_plan_get(struct store *store, struct plan *out, const char *code)
{
    struct conn *conn = reader_take(store);
    int rc = q_plan_get(conn, out, code);
    reader_give(store, conn);
    return rc;
}

static int sqlite_plans_list(struct store *store, struct plan **out, size_t *count)
{
    struct conn *conn = reader_take(store);
    size_t capacity = 16, n = 0;
    struct plan *plans = malloc(capacity * sizeof(*plans));
    LEB_ASSERT(plans != NULL);
    sqlite3_stmt *s = stmt(conn, S_PLANS_LIST);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < PLANS_LIST_MAX) {
        if (n == capacity) {
            capacity *= 2;
            plans = realloc(plans, capacity * sizeof(*plans));
            LEB_ASSERT(plans != NULL);
        }
        plan_from_row(&plans[n++], s);
    }
    sqlite3_reset(s);
    reader_give(store, conn);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        free(plans);
        return LEB_E_UNAVAILABLE;
    }
    *out = plans;
    *count = n;
    return 0;
}

static int sqlite_card_get(struct store *store, struct card_row *out, const char *card_no)
{
    struct conn *conn = reader_take(store);
    int rc = q_card_get(conn, out, S_CARD_GET, card_no);
    reader_give(store, conn);
    return rc;
}

static int sqlite_card_get_by_msisdn(struct store *store, struct card_row *out, const char *msisdn)
{
    struct conn *conn = reader_take(store);
    int rc = q_card_get(conn, out, S_CARD_GET_BY_MSISDN, msisdn);
    reader_give(store, conn);
    return rc;
}

static int sqlite_order_get(struct store *store, struct order_row *out, const char *order_no)
{
    struct conn *conn = reader_take(store);
    int rc = q_order_get(conn, out, order_no);
    reader_give(store, conn);
    return rc;
}

static int sqlite_user_get(struct store *store, struct user_row *out, const char *username)
{
    struct conn *conn = reader_take(store);
    int rc = q_user_get(conn, out, username);
    reader_give(store, conn);
    return rc;
}

static int sqlite_token_get(struct store *store, struct token_row *out, const char *hash)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_TOKEN_GET);
    bind_text(s, 1, hash);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->user_id = sqlite3_column_int64(s, 0);
        column_copy(out->username, sizeof(out->username), s, 1);
        LEB_ASSERT(role_parse(&out->role, (const char *)sqlite3_column_text(s, 2)) == 0);
        column_copy(out->card_no, sizeof(out->card_no), s, 3);
        out->expires_at = sqlite3_column_int64(s, 4);
    }
    sqlite3_reset(s);
    reader_give(store, conn);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_UNAUTHORIZED : LEB_E_UNAVAILABLE;
}

static void outbox_from_row(struct outbox_row *row, sqlite3_stmt *s)
{
    memset(row, 0, sizeof(*row));
    row->id = sqlite3_column_int64(s, 0);
    column_copy(row->kind, sizeof(row->kind), s, 1);
    column_copy(row->destination, sizeof(row->destination), s, 2);
    row->payload = strdup((const char *)sqlite3_column_text(s, 3));
    LEB_ASSERT(row->payload != NULL);
    column_copy(row->status, sizeof(row->status), s, 4);
    row->created_at = sqlite3_column_int64(s, 5);
    row->attempts = sqlite3_column_int64(s, 6);
    row->next_attempt_at = sqlite3_column_int64(s, 7);
    column_copy(row->last_error, sizeof(row->last_error), s, 8);
    column_copy(row->delivery, sizeof(row->delivery), s, 9);
    row->delivery_at = sqlite3_column_int64(s, 10);
}

/* Reads the rows of a prepared, bound outbox query on a reader connection. */
static int outbox_rows_read(struct store *store, struct conn *conn, sqlite3_stmt *s,
                            struct outbox_row **out, size_t *count, size_t limit)
{
    struct outbox_row *rows = calloc(limit ? limit : 1, sizeof(*rows));
    LEB_ASSERT(rows != NULL);
    size_t n = 0;
    int rc = SQLITE_DONE;
    while (n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW)
        outbox_from_row(&rows[n++], s);
    sqlite3_reset(s);
    reader_give(store, conn);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        outbox_rows_free(rows, n);
        return LEB_E_UNAVAILABLE;
    }
    *out = rows;
    *count = n;
    return 0;
}

static int sqlite_outbox_list(struct store *store, struct outbox_row **out, size_t *count,
                              const struct outbox_filter *filter, size_t limit)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_OUTBOX_LIST);
    if (filter->destination != NULL)
        bind_text(s, 1, filter->destination);
    bind_int(s, 2, (int64_t)limit);
    if (filter->kind != NULL)
        bind_text(s, 3, filter->kind);
    if (filter->status != NULL)
        bind_text(s, 4, filter->status);
    if (filter->delivery != NULL)
        bind_text(s, 5, filter->delivery);
    return outbox_rows_read(store, conn, s, out, count, limit);
}

static void outbox_count_read(void *out, sqlite3_stmt *s)
{
    struct outbox_count *row = out;
    memset(row, 0, sizeof(*row));
    column_copy(row->kind, sizeof(row->kind), s, 0);
    column_copy(row->status, sizeof(row->status), s, 1);
    column_copy(row->delivery, sizeof(row->delivery), s, 2);
    row->count = sqlite3_column_int64(s, 3);
}

static int sqlite_outbox_summary(struct store *store, struct outbox_count **out, size_t *count)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_OUTBOX_SUMMARY);
    return rows_read_all(store, conn, s, sizeof(**out), outbox_count_read, (void **)out, count);
}

static int tx_outbox_delivery(struct store_tx *tx, int64_t id, const char *delivery, int64_t at);

static struct conn *tx_conn(struct store_tx *tx);

static int tx_outbox_get(struct store_tx *tx, struct outbox_row *out, int64_t id)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_OUTBOX_GET);
    bind_int(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        outbox_from_row(out, s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static int tx_outbox_claim(struct store_tx *tx, struct outbox_row **out, size_t *count,
                           const char *kind, int64_t now, int64_t lease_until, size_t limit)
{
    struct conn *conn = tx_conn(tx);
    struct outbox_row *rows = calloc(limit ? limit : 1, sizeof(*rows));
    LEB_ASSERT(rows != NULL);
    sqlite3_stmt *s = stmt(conn, S_OUTBOX_DUE);
    bind_text(s, 1, kind);
    bind_int(s, 2, now);
    bind_int(s, 3, (int64_t)limit);
    size_t n = 0;
    int rc = SQLITE_DONE;
    while (n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW)
        outbox_from_row(&rows[n++], s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        outbox_rows_free(rows, n);
        return LEB_E_UNAVAILABLE;
    }
    for (size_t i = 0; i < n; i++) {
        s = stmt(conn, S_OUTBOX_LEASE);
        bind_int(s, 1, rows[i].id);
        bind_int(s, 2, lease_until);
        int step_rc = step_done(conn, s, LEB_E_INTERNAL);
        if (step_rc < 0) {
            outbox_rows_free(rows, n);
            return step_rc;
        }
    }
    *out = rows;
    *count = n;
    return 0;
}

static int tx_outbox_mark(struct store_tx *tx, int64_t id, const char *status, int64_t attempts,
                          int64_t next_attempt_at, const char *last_error)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_OUTBOX_MARK);
    bind_int(s, 1, id);
    bind_text(s, 2, status);
    bind_int(s, 3, attempts);
    bind_int(s, 4, next_attempt_at);
    bind_text(s, 5, last_error ? last_error : "");
    int rc = step_done(conn, s, LEB_E_INTERNAL);
    if (rc == 0 && sqlite3_changes(conn->db) != 1)
        return LEB_E_NOT_FOUND;
    return rc;
}

static void mismatch_add(struct ledger_report *out, const char *what, const char *ref,
                         int64_t expected, int64_t actual)
{
    out->balanced = false;
    if (out->mismatches_count == LEDGER_MISMATCHES_MAX)
        return;
    struct ledger_mismatch *m = &out->mismatches[out->mismatches_count++];
    snprintf(m->what, sizeof(m->what), "%s", what);
    snprintf(m->ref, sizeof(m->ref), "%s", ref);
    m->expected = expected;
    m->actual = actual;
}

/* Proves the ledger in one read snapshot: every transaction has two or more entries summing
 * to zero, every account's stored balance is the sum of its entries (so a card's balance is),
 * and all balances together sum to zero. */
static int sqlite_ledger_check(struct store *store, struct ledger_report *out)
{
    memset(out, 0, sizeof(*out));
    out->balanced = true;
    struct conn *conn = reader_take(store);
    int rc = exec_simple(conn, S_READ_BEGIN);
    if (rc < 0)
        goto out;
    sqlite3_stmt *s = stmt(conn, S_LEDGER_COUNTS);
    if (sqlite3_step(s) == SQLITE_ROW) {
        out->transactions = sqlite3_column_int64(s, 0);
        out->accounts = sqlite3_column_int64(s, 1);
        out->entries = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    s = stmt(conn, S_LEDGER_BAD_TXNS);
    bind_int(s, 1, LEDGER_MISMATCHES_MAX);
    while (sqlite3_step(s) == SQLITE_ROW) {
        char ref[32];
        snprintf(ref, sizeof(ref), "%lld", (long long)sqlite3_column_int64(s, 0));
        mismatch_add(out, "transaction", ref, 0, sqlite3_column_int64(s, 1));
    }
    sqlite3_reset(s);
    s = stmt(conn, S_LEDGER_BAD_ACCOUNTS);
    bind_int(s, 1, LEDGER_MISMATCHES_MAX);
    while (sqlite3_step(s) == SQLITE_ROW)
        mismatch_add(out, "account", (const char *)sqlite3_column_text(s, 0),
                     sqlite3_column_int64(s, 2), sqlite3_column_int64(s, 1));
    sqlite3_reset(s);
    s = stmt(conn, S_LEDGER_TOTAL);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) != 0)
        mismatch_add(out, "total", "all accounts", 0, sqlite3_column_int64(s, 0));
    sqlite3_reset(s);
    rc = exec_simple(conn, S_READ_END);
out:
    reader_give(store, conn);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Inside a write                                                                           */
/* ---------------------------------------------------------------------------------------- */

static struct conn *tx_conn(struct store_tx *tx)
{
    return tx->conn;
}

static int tx_plan_get(struct store_tx *tx, struct plan *out, const char *code)
{
    return q_plan_get(tx_conn(tx), out, code);
}

static int tx_plan_insert(struct store_tx *tx, const struct plan *plan, int64_t now)
{
    char denominations[PLAN_DENOMINATIONS_MAX * 21] = "";
    size_t used = 0;
    for (size_t i = 0; i < plan->denominations_count; i++)
        used += (size_t)snprintf(denominations + used, sizeof(denominations) - used, "%s%lld",
                                 i ? "," : "", (long long)plan->denominations[i]);
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_PLAN_INSERT);
    bind_text(s, 1, plan->code);
    bind_text(s, 2, plan->name);
    bind_text(s, 3, plan->currency);
    bind_text(s, 4, retention_model_name(plan->model));
    bind_int(s, 5, plan->monthly_fee);
    bind_int(s, 6, plan->validity_days);
    bind_int(s, 7, plan->validity_step_amount);
    bind_int(s, 8, plan->validity_days_max);
    bind_text(s, 9, denominations);
    bind_int(s, 10, plan->amount_min);
    bind_int(s, 11, plan->amount_max);
    bind_int(s, 12, plan->amount_step);
    bind_int(s, 13, plan->daily_limit);
    bind_int(s, 14, plan->grace_days);
    bind_int(s, 15, plan->recharge_allowed ? 1 : 0);
    bind_int(s, 16, plan->remind_days_before);
    bind_int(s, 17, plan->recycle_warning_days);
    bind_int(s, 18, now);
    return step_done(conn, s, LEB_E_PLAN_EXISTS);
}

static int tx_card_get(struct store_tx *tx, struct card_row *out, const char *card_no)
{
    return q_card_get(tx_conn(tx), out, S_CARD_GET, card_no);
}

static int tx_card_insert(struct store_tx *tx, const struct card_row *card)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_CARD_INSERT);
    bind_text(s, 1, card->card_no);
    bind_text(s, 2, card->msisdn);
    bind_text(s, 3, card->plan_code);
    bind_text(s, 4, card_status_name(card->status));
    bind_int(s, 5, card->activated_at);
    bind_int(s, 6, card->valid_until);
    bind_int(s, 7, card->next_billing_at);
    bind_text(s, 8, card->language[0] ? card->language : "zh");
    bind_int(s, 9, card->created_at);
    bind_int(s, 10, card->suspended_at);
    bind_int(s, 11, card->due_at);
    return step_done(conn, s, LEB_E_CARD_EXISTS);
}

static int tx_card_update_status(struct store_tx *tx, const char *card_no, enum card_status status)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_CARD_UPDATE_STATUS);
    bind_text(s, 1, card_no);
    bind_text(s, 2, card_status_name(status));
    int rc = step_done(conn, s, LEB_E_INTERNAL);
    if (rc == 0 && sqlite3_changes(conn->db) != 1)
        return LEB_E_CARD_NOT_FOUND;
    return rc;
}

/* Reads up to "max" keys (the first column of "id", bound to now and max) into "out", each
 * "key_size" bytes: the shape of every "what is due" query. */
static int due_keys(struct conn *conn, enum stmt_id id, int64_t now, char *out, size_t key_size,
                    size_t max, size_t *count)
{
    sqlite3_stmt *s = stmt(conn, id);
    bind_int(s, 1, now);
    bind_int(s, 2, (int64_t)max);
    size_t n = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max)
        column_copy(out + key_size * n++, key_size, s, 0);
    sqlite3_reset(s);
    *count = n;
    return (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : LEB_E_UNAVAILABLE;
}

static int tx_card_update_lifecycle(struct store_tx *tx, const struct card_row *card)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_CARD_UPDATE_LIFECYCLE);
    bind_text(s, 1, card->card_no);
    bind_text(s, 2, card_status_name(card->status));
    bind_int(s, 3, card->arrears);
    bind_int(s, 4, card->next_billing_at);
    bind_int(s, 5, card->valid_until);
    bind_int(s, 6, card->suspended_at);
    bind_int(s, 7, card->reminded_for);
    bind_int(s, 8, card->warned_for);
    bind_int(s, 9, card->due_at);
    int rc = step_done(conn, s, LEB_E_INVALID_REQUEST);
    if (rc == 0 && sqlite3_changes(conn->db) != 1)
        return LEB_E_CARD_NOT_FOUND;
    return rc;
}

static int tx_cards_due(struct store_tx *tx, int64_t now, char (*out)[CARDNO_SIZE], size_t max,
                        size_t *count)
{
    return due_keys(tx_conn(tx), S_CARDS_DUE, now, (char *)out, CARDNO_SIZE, max, count);
}

/* 0 if this (card, kind, period) is new, 1 if it happened before: the key that makes a job
 * act once per card and period, whatever runs it twice. */
static int tx_lifecycle_event_put(struct store_tx *tx, const char *card_no, const char *kind,
                                  int64_t period, int64_t amount, int64_t now)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_LIFECYCLE_EVENT_PUT);
    bind_text(s, 1, card_no);
    bind_text(s, 2, kind);
    bind_int(s, 3, period);
    bind_int(s, 4, amount);
    bind_int(s, 5, now);
    int rc = step_done(conn, s, LEB_E_INTERNAL);
    if (rc < 0)
        return rc;
    return sqlite3_changes(conn->db) == 1 ? 0 : 1;
}

static void autorenew_from_row(struct autorenew_row *out, sqlite3_stmt *s)
{
    memset(out, 0, sizeof(*out));
    column_copy(out->card_no, sizeof(out->card_no), s, 0);
    column_copy(out->rule, sizeof(out->rule), s, 1);
    out->amount = sqlite3_column_int64(s, 2);
    out->threshold = sqlite3_column_int64(s, 3);
    column_copy(out->provider, sizeof(out->provider), s, 4);
    column_copy(out->agreement_id, sizeof(out->agreement_id), s, 5);
    column_copy(out->behaviour, sizeof(out->behaviour), s, 6);
    out->enabled = sqlite3_column_int(s, 7) != 0;
    out->cycle_tried = sqlite3_column_int64(s, 8);
    out->attempts = sqlite3_column_int64(s, 9);
    out->last_attempt_at = sqlite3_column_int64(s, 10);
    out->next_check_at = sqlite3_column_int64(s, 11);
    out->created_at = sqlite3_column_int64(s, 12);
}

static int q_autorenew_get(struct conn *conn, struct autorenew_row *out, const char *card_no)
{
    sqlite3_stmt *s = stmt(conn, S_AUTORENEW_GET);
    bind_text(s, 1, card_no);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        autorenew_from_row(out, s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static int tx_autorenew_get(struct store_tx *tx, struct autorenew_row *out, const char *card_no)
{
    return q_autorenew_get(tx_conn(tx), out, card_no);
}

static int sqlite_autorenew_get(struct store *store, struct autorenew_row *out, const char *card_no)
{
    struct conn *conn = reader_take(store);
    int rc = q_autorenew_get(conn, out, card_no);
    reader_give(store, conn);
    return rc;
}

static int tx_autorenew_put(struct store_tx *tx, const struct autorenew_row *row)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_AUTORENEW_PUT);
    bind_text(s, 1, row->card_no);
    bind_text(s, 2, row->rule);
    bind_int(s, 3, row->amount);
    bind_int(s, 4, row->threshold);
    bind_text(s, 5, row->provider);
    bind_text(s, 6, row->agreement_id);
    bind_text(s, 7, row->behaviour);
    bind_int(s, 8, row->enabled ? 1 : 0);
    bind_int(s, 9, row->cycle_tried);
    bind_int(s, 10, row->attempts);
    bind_int(s, 11, row->last_attempt_at);
    bind_int(s, 12, row->next_check_at);
    bind_int(s, 13, row->created_at);
    return step_done(conn, s, LEB_E_INVALID_REQUEST);
}

static int tx_autorenew_due(struct store_tx *tx, int64_t now, char (*out)[CARDNO_SIZE], size_t max,
                            size_t *count)
{
    return due_keys(tx_conn(tx), S_AUTORENEW_DUE, now, (char *)out, CARDNO_SIZE, max, count);
}

static int tx_order_get(struct store_tx *tx, struct order_row *out, const char *order_no)
{
    return q_order_get(tx_conn(tx), out, order_no);
}

static int tx_order_insert(struct store_tx *tx, const struct order_row *order)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_ORDER_INSERT);
    bind_text(s, 1, order->order_no);
    bind_text(s, 2, order->card_no);
    bind_text(s, 3, order_status_name(order->status));
    bind_text(s, 4, channel_name(order->channel));
    bind_text(s, 5, payment_method_name(order->method));
    bind_text(s, 6, order->quote.currency);
    bind_int(s, 7, order->quote.face_amount);
    bind_int(s, 8, order->quote.discount_amount);
    bind_int(s, 9, order->quote.fee_amount);
    bind_int(s, 10, order->quote.bonus_amount);
    bind_int(s, 11, order->quote.pay_amount);
    bind_text(s, 12, order->trade_no);
    bind_int(s, 13, order->created_at);
    bind_int(s, 14, order->expires_at);
    bind_int(s, 15, order->paid_at);
    bind_int(s, 16, order->credited_at);
    bind_int(s, 17, order->updated_at);
    return step_done(conn, s, LEB_E_ORDER_EXISTS);
}

static int tx_order_update(struct store_tx *tx, const struct order_row *order)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_ORDER_UPDATE);
    bind_text(s, 1, order->order_no);
    bind_text(s, 2, order_status_name(order->status));
    bind_text(s, 3, order->trade_no);
    bind_int(s, 4, order->paid_at);
    bind_int(s, 5, order->credited_at);
    bind_int(s, 6, order->updated_at);
    int rc = step_done(conn, s, LEB_E_INTERNAL);
    if (rc == 0 && sqlite3_changes(conn->db) != 1)
        return LEB_E_ORDER_NOT_FOUND;
    return rc;
}

static int tx_orders_due_expiry(struct store_tx *tx, int64_t now, char (*out)[ORDER_NO_SIZE],
                                size_t max, size_t *count)
{
    return due_keys(tx_conn(tx), S_ORDERS_DUE, now, (char *)out, ORDER_NO_SIZE, max, count);
}

static int tx_card_paid_today(struct store_tx *tx, const char *card_no, int64_t day_start,
                              int64_t *out_total)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_CARD_PAID_TODAY);
    bind_text(s, 1, card_no);
    bind_int(s, 2, day_start);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out_total = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : LEB_E_UNAVAILABLE;
}

static int tx_idempotency_get(struct store_tx *tx, const char *key,
                              char out_hash[REQUEST_HASH_SIZE], char out_order_no[ORDER_NO_SIZE])
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_IDEM_GET);
    bind_text(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        column_copy(out_hash, REQUEST_HASH_SIZE, s, 0);
        column_copy(out_order_no, ORDER_NO_SIZE, s, 1);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static int tx_idempotency_put(struct store_tx *tx, const char *key, const char *request_hash,
                              const char *order_no, int64_t now)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_IDEM_PUT);
    bind_text(s, 1, key);
    bind_text(s, 2, request_hash);
    bind_text(s, 3, order_no);
    bind_int(s, 4, now);
    return step_done(conn, s, LEB_E_IDEMPOTENCY_CONFLICT);
}

static int tx_notification_insert(struct store_tx *tx, const struct notification_row *row)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_NOTIFICATION_INSERT);
    bind_text(s, 1, row->provider);
    bind_text(s, 2, row->order_no);
    bind_text(s, 3, row->trade_no);
    bind_int(s, 4, row->amount);
    bind_text(s, 5, row->status ? row->status : "");
    bind_text(s, 6, row->outcome);
    LEB_ASSERT(sqlite3_bind_blob64(s, 7, row->raw ? row->raw : "", row->raw_size, SQLITE_STATIC) ==
               SQLITE_OK);
    bind_int(s, 8, row->received_at);
    return step_done(conn, s, LEB_E_INTERNAL);
}

/* 0 if this (provider, trade_no) was never seen, 1 if it was: the
 * primary key is what makes a payment count once, whatever the timing of duplicates. */
static int tx_payment_claim(struct store_tx *tx, const char *provider, const char *trade_no,
                            const char *order_no, int64_t amount, int64_t paid_at, int64_t now)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_PAYMENT_CLAIM);
    bind_text(s, 1, provider);
    bind_text(s, 2, trade_no);
    bind_text(s, 3, order_no);
    bind_int(s, 4, amount);
    bind_int(s, 5, now);
    bind_int(s, 6, paid_at);
    int rc = step_done(conn, s, LEB_E_INTERNAL);
    if (rc < 0)
        return rc;
    return sqlite3_changes(conn->db) == 1 ? 0 : 1;
}

static int tx_ledger_post(struct store_tx *tx, const struct ledger_posting *posting,
                          const char *order_no, int64_t now)
{
    LEB_ASSERT(ledger_posting_check(posting) == 0);
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_TXN_INSERT);
    bind_text(s, 1, ledger_txn_kind_name(posting->kind));
    if (order_no != NULL)
        bind_text(s, 2, order_no);
    bind_text(s, 3, posting->currency);
    bind_int(s, 4, now);
    int rc = step_done(conn, s, LEB_E_ILLEGAL_TRANSITION);
    if (rc < 0)
        return rc;
    int64_t txn_id = sqlite3_last_insert_rowid(conn->db);
    for (size_t i = 0; i < posting->count; i++) {
        const struct ledger_entry *entry = &posting->entries[i];
        s = stmt(conn, S_ACCOUNT_UPSERT);
        bind_text(s, 1, entry->account);
        bind_text(s, 2, posting->currency);
        bind_int(s, 3, entry->amount);
        rc = step_done(conn, s, LEB_E_OVERFLOW);
        if (rc < 0)
            return rc;
        if (sqlite3_changes(conn->db) != 1)
            return LEB_E_CURRENCY_MISMATCH;
        s = stmt(conn, S_ENTRY_INSERT);
        bind_int(s, 1, txn_id);
        bind_text(s, 2, entry->account);
        bind_int(s, 3, entry->amount);
        rc = step_done(conn, s, LEB_E_INTERNAL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int tx_user_get(struct store_tx *tx, struct user_row *out, const char *username)
{
    return q_user_get(tx_conn(tx), out, username);
}

static int tx_user_put(struct store_tx *tx, const struct user_row *user, int64_t now)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_USER_INSERT);
    bind_text(s, 1, user->username);
    bind_text(s, 2, user->password_hash);
    bind_text(s, 3, role_name(user->role));
    bind_int(s, 4, now);
    return step_done(conn, s, LEB_E_INTERNAL);
}

static int tx_token_insert(struct store_tx *tx, const char *hash, const struct token_row *token,
                           int64_t now)
{
    struct conn *conn = tx_conn(tx);
    if (token->role == ROLE_PORTAL) {
        /* A portal session is a card's, not a user's. */
        sqlite3_stmt *s = stmt(conn, S_PORTAL_SESSION_INSERT);
        bind_text(s, 1, hash);
        bind_text(s, 2, token->card_no);
        bind_int(s, 3, token->expires_at);
        bind_int(s, 4, now);
        return step_done(conn, s, LEB_E_CARD_NOT_FOUND);
    }
    sqlite3_stmt *s = stmt(conn, S_TOKEN_INSERT);
    bind_text(s, 1, hash);
    bind_int(s, 2, token->user_id);
    bind_text(s, 3, role_name(token->role));
    bind_text(s, 4, token->card_no);
    bind_int(s, 5, token->expires_at);
    bind_int(s, 6, now);
    return step_done(conn, s, LEB_E_INTERNAL);
}

static int tx_token_delete(struct store_tx *tx, const char *hash)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_TOKEN_DELETE);
    bind_text(s, 1, hash);
    int rc = step_done(conn, s, LEB_E_INTERNAL);
    int deleted = rc == 0 ? sqlite3_changes(conn->db) : 0;
    if (rc == 0) {
        s = stmt(conn, S_PORTAL_SESSION_DELETE);
        bind_text(s, 1, hash);
        rc = step_done(conn, s, LEB_E_INTERNAL);
        deleted += rc == 0 ? sqlite3_changes(conn->db) : 0;
    }
    return rc < 0 ? rc : deleted > 0 ? 0 : LEB_E_NOT_FOUND;
}

static int tx_challenge_get(struct store_tx *tx, struct challenge_row *out, const char *msisdn,
                            const char *purpose)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_CHALLENGE_GET);
    bind_text(s, 1, msisdn);
    bind_text(s, 2, purpose);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        snprintf(out->msisdn, sizeof(out->msisdn), "%s", msisdn);
        snprintf(out->purpose, sizeof(out->purpose), "%s", purpose);
        column_copy(out->secret_hash, sizeof(out->secret_hash), s, 0);
        out->life.created_at = sqlite3_column_int64(s, 1);
        out->life.expires_at = sqlite3_column_int64(s, 2);
        out->life.tries = sqlite3_column_int64(s, 3);
        out->life.window_start = sqlite3_column_int64(s, 4);
        out->life.sends = sqlite3_column_int64(s, 5);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static int tx_challenge_put(struct store_tx *tx, const struct challenge_row *row)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_CHALLENGE_PUT);
    bind_text(s, 1, row->msisdn);
    bind_text(s, 2, row->purpose);
    bind_text(s, 3, row->secret_hash);
    bind_int(s, 4, row->life.created_at);
    bind_int(s, 5, row->life.expires_at);
    bind_int(s, 6, row->life.tries);
    bind_int(s, 7, row->life.window_start);
    bind_int(s, 8, row->life.sends);
    return step_done(conn, s, LEB_E_INTERNAL);
}

static int tx_challenge_delete(struct store_tx *tx, const char *msisdn, const char *purpose)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_CHALLENGE_DELETE);
    bind_text(s, 1, msisdn);
    bind_text(s, 2, purpose);
    return step_done(conn, s, LEB_E_INTERNAL);
}

static int tx_card_update_language(struct store_tx *tx, const char *card_no, const char *language)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_CARD_UPDATE_LANGUAGE);
    bind_text(s, 1, card_no);
    bind_text(s, 2, language);
    int rc = step_done(conn, s, LEB_E_INTERNAL);
    if (rc == 0 && sqlite3_changes(conn->db) != 1)
        return LEB_E_CARD_NOT_FOUND;
    return rc;
}

static int tx_prune(struct store_tx *tx, int64_t challenges_expired_by,
                    int64_t challenges_window_before, int64_t sessions_expired_by, int64_t *removed)
{
    struct conn *conn = tx_conn(tx);
    *removed = 0;
    sqlite3_stmt *s = stmt(conn, S_CHALLENGES_PRUNE);
    bind_int(s, 1, challenges_expired_by);
    bind_int(s, 2, challenges_window_before);
    int rc = step_done(conn, s, LEB_E_INTERNAL);
    if (rc == 0)
        *removed += sqlite3_changes(conn->db);
    const enum stmt_id sessions[] = {S_PORTAL_SESSIONS_PRUNE, S_TOKENS_PRUNE};
    for (size_t i = 0; rc == 0 && i < sizeof(sessions) / sizeof(sessions[0]); i++) {
        s = stmt(conn, sessions[i]);
        bind_int(s, 1, sessions_expired_by);
        rc = step_done(conn, s, LEB_E_INTERNAL);
        if (rc == 0)
            *removed += sqlite3_changes(conn->db);
    }
    return rc;
}

static int q_order_payment_get(struct conn *conn, struct order_payment_row *out,
                               const char *order_no)
{
    sqlite3_stmt *s = stmt(conn, S_ORDER_PAYMENT_GET);
    bind_text(s, 1, order_no);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        column_copy(out->order_no, sizeof(out->order_no), s, 0);
        column_copy(out->provider, sizeof(out->provider), s, 1);
        column_copy(out->pay_url, sizeof(out->pay_url), s, 2);
        column_copy(out->qr_text, sizeof(out->qr_text), s, 3);
        column_copy(out->provider_ref, sizeof(out->provider_ref), s, 4);
        out->query_attempts = sqlite3_column_int64(s, 5);
        out->next_query_at = sqlite3_column_int64(s, 6);
        out->refund_attempts = sqlite3_column_int64(s, 7);
        out->next_refund_at = sqlite3_column_int64(s, 8);
        column_copy(out->refund_id, sizeof(out->refund_id), s, 9);
        column_copy(out->last_error, sizeof(out->last_error), s, 10);
        out->created_at = sqlite3_column_int64(s, 11);
        out->refund_amount = sqlite3_column_int64(s, 12);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static void payment_from_row(struct payment_row *out, sqlite3_stmt *s)
{
    memset(out, 0, sizeof(*out));
    column_copy(out->provider, sizeof(out->provider), s, 0);
    column_copy(out->trade_no, sizeof(out->trade_no), s, 1);
    column_copy(out->order_no, sizeof(out->order_no), s, 2);
    out->amount = sqlite3_column_int64(s, 3);
    out->received_at = sqlite3_column_int64(s, 4);
    out->paid_at = sqlite3_column_int64(s, 5);
}

static int q_payment_get(struct conn *conn, struct payment_row *out, const char *provider,
                         const char *trade_no)
{
    sqlite3_stmt *s = stmt(conn, S_PAYMENT_GET);
    bind_text(s, 1, provider);
    bind_text(s, 2, trade_no);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        payment_from_row(out, s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static int sqlite_payment_get(struct store *store, struct payment_row *out, const char *provider,
                              const char *trade_no)
{
    struct conn *conn = reader_take(store);
    int rc = q_payment_get(conn, out, provider, trade_no);
    reader_give(store, conn);
    return rc;
}

static int tx_payment_get(struct store_tx *tx, struct payment_row *out, const char *provider,
                          const char *trade_no)
{
    return q_payment_get(tx_conn(tx), out, provider, trade_no);
}

static int tx_payment_of_order(struct store_tx *tx, struct payment_row *out, const char *order_no,
                               const char *trade_no)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_PAYMENT_OF_ORDER);
    bind_text(s, 1, order_no);
    bind_text(s, 2, trade_no);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        payment_from_row(out, s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static void payment_row_read(void *row, sqlite3_stmt *s)
{
    payment_from_row(row, s);
}

static int sqlite_payments_between(struct store *store, struct payment_row **out, size_t *count,
                                   const char *provider, int64_t from, int64_t to)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_PAYMENTS_BETWEEN);
    bind_text(s, 1, provider);
    bind_int(s, 2, from);
    bind_int(s, 3, to);
    return rows_read_all(store, conn, s, sizeof(**out), payment_row_read, (void **)out, count);
}

static int sqlite_orders_by_status(struct store *store, struct order_row **out, size_t *count,
                                   enum order_status status, size_t limit)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_ORDERS_BY_STATUS);
    bind_text(s, 1, order_status_name(status));
    bind_int(s, 2, (int64_t)limit);
    return rows_read_all(store, conn, s, sizeof(**out), order_row_read, (void **)out, count);
}

static int tx_audit_insert(struct store_tx *tx, const struct audit_row *row)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_AUDIT_INSERT);
    bind_int(s, 1, row->at);
    bind_text(s, 2, row->actor);
    bind_text(s, 3, row->action);
    bind_text(s, 4, row->subject);
    bind_text(s, 5, row->reason);
    if (row->details != NULL)
        bind_text(s, 6, row->details);
    else
        sqlite3_bind_null(s, 6);
    return step_done(conn, s, LEB_E_INTERNAL);
}

static void audit_row_read(void *out, sqlite3_stmt *s)
{
    struct audit_row *row = out;
    memset(row, 0, sizeof(*row));
    row->id = sqlite3_column_int64(s, 0);
    row->at = sqlite3_column_int64(s, 1);
    column_copy(row->actor, sizeof(row->actor), s, 2);
    column_copy(row->action, sizeof(row->action), s, 3);
    column_copy(row->subject, sizeof(row->subject), s, 4);
    column_copy(row->reason, sizeof(row->reason), s, 5);
    if (sqlite3_column_type(s, 6) != SQLITE_NULL) {
        row->details = strdup((const char *)sqlite3_column_text(s, 6));
        LEB_ASSERT(row->details != NULL);
    }
}

static int sqlite_audit_list(struct store *store, struct audit_row **out, size_t *count,
                             const char *subject, size_t limit)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_AUDIT_LIST);
    if (subject != NULL)
        bind_text(s, 1, subject);
    bind_int(s, 2, (int64_t)limit);
    return rows_read_all(store, conn, s, sizeof(**out), audit_row_read, (void **)out, count);
}

static int tx_recon_insert(struct store_tx *tx, const struct recon_row *row, int64_t *id)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_RECON_FIND);
    bind_text(s, 1, row->provider);
    bind_text(s, 2, row->statement_hash);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc != SQLITE_DONE)
        return LEB_E_UNAVAILABLE;
    s = stmt(conn, S_RECON_INSERT);
    bind_text(s, 1, row->provider);
    bind_text(s, 2, row->statement_hash);
    bind_int(s, 3, row->period_start);
    bind_int(s, 4, row->period_end);
    bind_int(s, 5, row->rows);
    bind_text(s, 6, row->report ? row->report : "{}");
    bind_int(s, 7, row->created_at);
    rc = step_done(conn, s, LEB_E_INTERNAL);
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(conn->db);
    return rc;
}

static int sqlite_recon_find(struct store *store, const char *provider, const char *statement_hash,
                             int64_t *id)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_RECON_FIND);
    bind_text(s, 1, provider);
    bind_text(s, 2, statement_hash);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    reader_give(store, conn);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static int sqlite_recon_get(struct store *store, struct recon_row *out, int64_t id)
{
    struct conn *conn = reader_take(store);
    sqlite3_stmt *s = stmt(conn, S_RECON_GET);
    bind_int(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        out->id = sqlite3_column_int64(s, 0);
        column_copy(out->provider, sizeof(out->provider), s, 1);
        column_copy(out->statement_hash, sizeof(out->statement_hash), s, 2);
        out->period_start = sqlite3_column_int64(s, 3);
        out->period_end = sqlite3_column_int64(s, 4);
        out->rows = sqlite3_column_int64(s, 5);
        out->report = strdup((const char *)sqlite3_column_text(s, 6));
        LEB_ASSERT(out->report != NULL);
        out->created_at = sqlite3_column_int64(s, 7);
    }
    sqlite3_reset(s);
    reader_give(store, conn);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LEB_E_NOT_FOUND : LEB_E_UNAVAILABLE;
}

static int sqlite_order_payment_get(struct store *store, struct order_payment_row *out,
                                    const char *order_no)
{
    struct conn *conn = reader_take(store);
    int rc = q_order_payment_get(conn, out, order_no);
    reader_give(store, conn);
    return rc;
}

static int tx_order_payment_get(struct store_tx *tx, struct order_payment_row *out,
                                const char *order_no)
{
    return q_order_payment_get(tx_conn(tx), out, order_no);
}

static int tx_order_payment_put(struct store_tx *tx, const struct order_payment_row *row)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_ORDER_PAYMENT_PUT);
    bind_text(s, 1, row->order_no);
    bind_text(s, 2, row->provider);
    bind_text(s, 3, row->pay_url);
    bind_text(s, 4, row->qr_text);
    bind_text(s, 5, row->provider_ref);
    bind_int(s, 6, row->query_attempts);
    bind_int(s, 7, row->next_query_at);
    bind_int(s, 8, row->refund_attempts);
    bind_int(s, 9, row->next_refund_at);
    bind_text(s, 10, row->refund_id);
    bind_text(s, 11, row->last_error);
    bind_int(s, 12, row->created_at);
    bind_int(s, 13, row->refund_amount);
    return step_done(conn, s, LEB_E_ORDER_NOT_FOUND);
}

static int tx_order_payments_query_due(struct store_tx *tx, int64_t now, char (*out)[ORDER_NO_SIZE],
                                       size_t max, size_t *count)
{
    return due_keys(tx_conn(tx), S_ORDER_PAYMENTS_QUERY_DUE, now, (char *)out, ORDER_NO_SIZE, max,
                    count);
}

static int tx_order_payments_refund_due(struct store_tx *tx, int64_t now,
                                        char (*out)[ORDER_NO_SIZE], size_t max, size_t *count)
{
    return due_keys(tx_conn(tx), S_ORDER_PAYMENTS_REFUND_DUE, now, (char *)out, ORDER_NO_SIZE, max,
                    count);
}

static int tx_outbox_delivery(struct store_tx *tx, int64_t id, const char *delivery, int64_t at)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_OUTBOX_DELIVERY);
    bind_int(s, 1, id);
    bind_text(s, 2, delivery);
    bind_int(s, 3, at);
    int rc = step_done(conn, s, LEB_E_INTERNAL);
    if (rc == 0 && sqlite3_changes(conn->db) != 1)
        return LEB_E_NOT_FOUND;
    return rc;
}

static int tx_outbox_put(struct store_tx *tx, const char *kind, const char *destination,
                         const char *payload, int64_t now)
{
    struct conn *conn = tx_conn(tx);
    sqlite3_stmt *s = stmt(conn, S_OUTBOX_PUT);
    bind_text(s, 1, kind);
    bind_text(s, 2, destination);
    bind_text(s, 3, payload);
    bind_int(s, 4, now);
    return step_done(conn, s, LEB_E_INTERNAL);
}

/* ---------------------------------------------------------------------------------------- */
/* Group commit                                                                             */
/* ---------------------------------------------------------------------------------------- */

static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t bucket_of(uint64_t value, const uint64_t *bounds, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (value <= bounds[i])
            return i;
    return count;
}

/* Runs one batch in one transaction. Each request gets its own savepoint: a request whose
 * function fails is rolled back alone. If the commit itself fails, nothing of the batch was
 * written and every request of it fails. */
static void run_batch(struct store *store, struct write_request **batch, size_t count)
{
    struct conn *conn = &store->writer;
    struct store_tx tx = {.base = {.backend = &store_sqlite_backend}, .conn = conn};
    int64_t started_us = monotonic_us();
    int rc = exec_simple(conn, S_BEGIN);
    for (size_t i = 0; i < count && rc == 0; i++) {
        struct write_request *request = batch[i];
        if (exec_simple(conn, S_SAVEPOINT) < 0) {
            rc = LEB_E_UNAVAILABLE;
            break;
        }
        request->result = request->fn(&tx, request->arg);
        if (request->result < 0 && exec_simple(conn, S_ROLLBACK_TO) < 0)
            rc = LEB_E_UNAVAILABLE;
        if (rc == 0 && exec_simple(conn, S_RELEASE) < 0)
            rc = LEB_E_UNAVAILABLE;
        if (sqlite3_get_autocommit(conn->db))
            rc = LEB_E_UNAVAILABLE; /* SQLite rolled the whole transaction back (disk full) */
    }
    int64_t commit_started_us = monotonic_us();
    if (rc == 0)
        rc = exec_simple(conn, S_COMMIT);
    uint64_t durable_us = (uint64_t)(monotonic_us() - commit_started_us);
    if (rc < 0) {
        if (!sqlite3_get_autocommit(conn->db))
            (void)exec_simple(conn, S_ROLLBACK);
        LOG_ERROR("store: a batch failed to commit; its writes are refused");
        for (size_t i = 0; i < count; i++)
            batch[i]->result = LEB_E_UNAVAILABLE;
    }
    uint64_t commit_us = (uint64_t)(monotonic_us() - started_us);
    static const uint64_t size_bounds[] = {1, 2, 4, 8, 16, 32, 64};
    static const uint64_t us_bounds[] = {500, 1000, 2000, 5000, 10000, 25000, 50000};
    pthread_mutex_lock(&store->queue_lock);
    store->stats.commits++;
    store->stats.writes += count;
    store->stats.batch_size_buckets[bucket_of(count, size_bounds, 7)]++;
    store->stats.commit_us_buckets[bucket_of(commit_us, us_bounds, 7)]++;
    store->stats.commit_us_sum += commit_us;
    store->stats.durable_us_sum += durable_us;
    pthread_mutex_unlock(&store->queue_lock);
    for (size_t i = 0; i < count; i++)
        sem_post(&batch[i]->done);
}

#define CHECKPOINT_FRAMES 1000
#define CHECKPOINT_IDLE_MS 1000
#define WAL_RESTART_FRAMES 2000 /* about 8 MiB */

/* Called by SQLite after each commit of the writer with the WAL's size in frames. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct store *store = arg;
    (void)db;
    (void)name;
    pthread_mutex_lock(&store->queue_lock);
    store->wal_frames = frames;
    store->writer_wal_frames = frames; /* this hook runs on the writer's own thread */
    if (frames >= CHECKPOINT_FRAMES)
        pthread_cond_signal(&store->checkpoint_wanted);
    pthread_mutex_unlock(&store->queue_lock);
    return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
    struct store *store = arg;
    pthread_setname_np(pthread_self(), "leb-checkpoint");
    pthread_mutex_lock(&store->queue_lock);
    while (!store->stopping) {
        if (store->wal_frames < CHECKPOINT_FRAMES) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += CHECKPOINT_IDLE_MS / 1000;
            pthread_cond_timedwait(&store->checkpoint_wanted, &store->queue_lock, &until);
        }
        if (store->stopping || store->wal_frames == 0)
            continue;
        store->wal_frames = 0;
        pthread_mutex_unlock(&store->queue_lock);
        int log_frames = 0, done_frames = 0;
        int rc = sqlite3_wal_checkpoint_v2(store->checkpointer.db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                           &log_frames, &done_frames);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            LOG_WARN("store: checkpoint failed", "error", sqlite3_errmsg(store->checkpointer.db));
        pthread_mutex_lock(&store->queue_lock);
    }
    pthread_mutex_unlock(&store->queue_lock);
    return NULL;
}

/*
 * Under a steady stream of writes the background PASSIVE checkpoint never quite catches up:
 * the writer always begins its next transaction before the last frames are copied, so the WAL
 * never starts over and grows without bound (2 GB in a minute of the engine bench), each
 * commit appending to new blocks. Between two batches, holding no snapshot, the writer itself
 * copies what is left (little: the background thread did the bulk) and makes the next commit
 * write the WAL from its start again.
 */
static void wal_restart(struct store *store)
{
    int log_frames = 0, done_frames = 0;
    int rc = sqlite3_wal_checkpoint_v2(store->writer.db, NULL, SQLITE_CHECKPOINT_RESTART,
                                       &log_frames, &done_frames);
    if (rc == SQLITE_OK)
        store->writer_wal_frames = 0;
    else if (rc != SQLITE_BUSY)
        LOG_WARN("store: WAL restart failed", "error", sqlite3_errmsg(store->writer.db));
}

static void *writer_main(void *arg)
{
    struct store *store = arg;
    pthread_setname_np(pthread_self(), "leb-writer");
    struct write_request **batch = calloc((size_t)store->batch_max, sizeof(*batch));
    LEB_ASSERT(batch != NULL);
    for (;;) {
        pthread_mutex_lock(&store->queue_lock);
        while (store->queue_head == NULL && !store->stopping)
            pthread_cond_wait(&store->queue_ready, &store->queue_lock);
        if (store->queue_head == NULL && store->stopping) {
            pthread_mutex_unlock(&store->queue_lock);
            break;
        }
        size_t count = 0;
        while (store->queue_head != NULL && count < (size_t)store->batch_max) {
            batch[count++] = store->queue_head;
            store->queue_head = store->queue_head->next;
        }
        if (store->queue_head == NULL)
            store->queue_tail = NULL;
        pthread_mutex_unlock(&store->queue_lock);
        run_batch(store, batch, count);
        if (store->writer_wal_frames >= WAL_RESTART_FRAMES)
            wal_restart(store);
    }
    free(batch);
    return NULL;
}

static int sqlite_write(struct store *store, store_write_fn fn, void *arg)
{
    struct write_request request = {.fn = fn, .arg = arg, .result = LEB_E_UNAVAILABLE};
    LEB_ASSERT(sem_init(&request.done, 0, 0) == 0);
    pthread_mutex_lock(&store->queue_lock);
    if (store->stopping) {
        pthread_mutex_unlock(&store->queue_lock);
        sem_destroy(&request.done);
        return LEB_E_UNAVAILABLE;
    }
    if (store->queue_tail)
        store->queue_tail->next = &request;
    else
        store->queue_head = &request;
    store->queue_tail = &request;
    pthread_cond_signal(&store->queue_ready);
    pthread_mutex_unlock(&store->queue_lock);
    while (sem_wait(&request.done) != 0)
        LEB_ASSERT(errno == EINTR);
    sem_destroy(&request.done);
    return request.result;
}

static void sqlite_stats(const struct store *store, struct store_stats *out)
{
    struct store *mutable_store = (struct store *)store;
    pthread_mutex_lock(&mutable_store->queue_lock);
    *out = store->stats;
    pthread_mutex_unlock(&mutable_store->queue_lock);
}

/* ---------------------------------------------------------------------------------------- */
/* Open and close                                                                           */
/* ---------------------------------------------------------------------------------------- */

static void sqlite_close(struct store *store)
{
    if (store == NULL)
        return;
    pthread_mutex_lock(&store->queue_lock);
    store->stopping = true;
    pthread_cond_broadcast(&store->queue_ready);
    pthread_cond_broadcast(&store->checkpoint_wanted);
    pthread_mutex_unlock(&store->queue_lock);
    if (store->writer_started)
        pthread_join(store->writer_thread, NULL);
    if (store->checkpointer_started)
        pthread_join(store->checkpointer_thread, NULL);
    conn_close(&store->checkpointer);
    for (int i = 0; i < store->readers_count; i++)
        conn_close(&store->readers[i]);
    if (store->writer.db != NULL) {
        (void)sqlite3_wal_checkpoint_v2(store->writer.db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                        NULL);
        conn_close(&store->writer);
    }
    pthread_mutex_destroy(&store->queue_lock);
    pthread_cond_destroy(&store->queue_ready);
    pthread_cond_destroy(&store->checkpoint_wanted);
    pthread_mutex_destroy(&store->readers_lock);
    pthread_cond_destroy(&store->readers_ready);
    free(store->path);
    free(store);
}

static int sqlite_open(struct store **out, const char *location,
                       const struct store_options *options)
{
    if (location[0] == '\0')
        return LEB_E_INVALID_REQUEST;
    struct store *store = calloc(1, sizeof(*store));
    LEB_ASSERT(store != NULL);
    store->base.backend = &store_sqlite_backend;
    store->path = strdup(location);
    LEB_ASSERT(store->path != NULL);
    store->batch_max = options->batch_max > 0 ? options->batch_max : 256;
    pthread_mutex_init(&store->queue_lock, NULL);
    pthread_cond_init(&store->queue_ready, NULL);
    pthread_cond_init(&store->checkpoint_wanted, NULL);
    pthread_mutex_init(&store->readers_lock, NULL);
    pthread_cond_init(&store->readers_ready, NULL);

    int rc = conn_open(&store->writer, store->path, true);
    if (rc == 0)
        rc = migrate(&store->writer);
    if (rc == 0) {
        conn_prepare_all(&store->writer);
        sqlite3_wal_autocheckpoint(store->writer.db, 0);
        sqlite3_wal_hook(store->writer.db, on_wal_commit, store);
        rc = conn_open(&store->checkpointer, store->path, true);
    }
    int readers = options->readers > 0 ? options->readers : 16;
    if (readers > READERS_MAX)
        readers = READERS_MAX;
    for (int i = 0; rc == 0 && i < readers; i++) {
        rc = conn_open(&store->readers[i], store->path, false);
        if (rc == 0) {
            conn_prepare_all(&store->readers[i]);
            store->readers_free[store->readers_free_count++] = i;
            store->readers_count++;
        }
    }
    if (rc == 0) {
        store->writer_started =
            pthread_create(&store->writer_thread, NULL, writer_main, store) == 0;
        store->checkpointer_started =
            pthread_create(&store->checkpointer_thread, NULL, checkpointer_main, store) == 0;
        if (!store->writer_started || !store->checkpointer_started)
            rc = LEB_E_UNAVAILABLE;
    }
    if (rc < 0) {
        sqlite_close(store);
        return rc;
    }
    *out = store;
    return 0;
}

const struct store_backend store_sqlite_backend = {
    .version = STORE_BACKEND_VERSION,
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .write = sqlite_write,
    .stats = sqlite_stats,
    .plan_get = sqlite_plan_get,
    .plans_list = sqlite_plans_list,
    .card_get = sqlite_card_get,
    .card_get_by_msisdn = sqlite_card_get_by_msisdn,
    .order_get = sqlite_order_get,
    .user_get = sqlite_user_get,
    .token_get = sqlite_token_get,
    .ledger_check = sqlite_ledger_check,
    .tx_plan_get = tx_plan_get,
    .tx_plan_insert = tx_plan_insert,
    .tx_card_get = tx_card_get,
    .tx_card_insert = tx_card_insert,
    .tx_card_update_status = tx_card_update_status,
    .tx_order_get = tx_order_get,
    .tx_order_insert = tx_order_insert,
    .tx_order_update = tx_order_update,
    .tx_orders_due_expiry = tx_orders_due_expiry,
    .tx_card_paid_today = tx_card_paid_today,
    .tx_idempotency_get = tx_idempotency_get,
    .tx_idempotency_put = tx_idempotency_put,
    .tx_notification_insert = tx_notification_insert,
    .tx_payment_claim = tx_payment_claim,
    .tx_ledger_post = tx_ledger_post,
    .tx_user_get = tx_user_get,
    .tx_user_put = tx_user_put,
    .tx_token_insert = tx_token_insert,
    .tx_outbox_put = tx_outbox_put,
    .tx_card_update_lifecycle = tx_card_update_lifecycle,
    .tx_cards_due = tx_cards_due,
    .tx_lifecycle_event_put = tx_lifecycle_event_put,
    .outbox_list = sqlite_outbox_list,
    .tx_autorenew_put = tx_autorenew_put,
    .tx_autorenew_get = tx_autorenew_get,
    .autorenew_get = sqlite_autorenew_get,
    .tx_autorenew_due = tx_autorenew_due,
    .tx_outbox_get = tx_outbox_get,
    .tx_outbox_claim = tx_outbox_claim,
    .tx_outbox_mark = tx_outbox_mark,
    .tx_token_delete = tx_token_delete,
    .tx_challenge_get = tx_challenge_get,
    .tx_challenge_put = tx_challenge_put,
    .tx_challenge_delete = tx_challenge_delete,
    .tx_card_update_language = tx_card_update_language,
    .card_orders = sqlite_card_orders,
    .card_entries = sqlite_card_entries,
    .tx_outbox_delivery = tx_outbox_delivery,
    .outbox_summary = sqlite_outbox_summary,
    .tx_prune = tx_prune,
    .order_payment_get = sqlite_order_payment_get,
    .tx_order_payment_get = tx_order_payment_get,
    .tx_order_payment_put = tx_order_payment_put,
    .tx_order_payments_query_due = tx_order_payments_query_due,
    .tx_order_payments_refund_due = tx_order_payments_refund_due,
    .payment_get = sqlite_payment_get,
    .tx_payment_get = tx_payment_get,
    .tx_payment_of_order = tx_payment_of_order,
    .payments_between = sqlite_payments_between,
    .orders_by_status = sqlite_orders_by_status,
    .tx_audit_insert = tx_audit_insert,
    .audit_list = sqlite_audit_list,
    .tx_recon_insert = tx_recon_insert,
    .recon_get = sqlite_recon_get,
    .recon_find = sqlite_recon_find,
};
