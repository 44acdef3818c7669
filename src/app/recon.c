/*
 * recon.c - importing a provider's statement: classify every row, repair what was paid but
 * never credited, list what LEB credited that the statement lacks, keep the report.
 *
 * The order of work is what makes an import safe to repeat and to interrupt:
 *
 *  1. A statement already imported (same provider, same SHA-256) is answered from the earlier
 *     report before anything else is read or written.
 *  2. The whole statement is read (GBK converted to UTF-8 with iconv(3)) and refused at its
 *     first bad line before any row is acted on: a half-read statement repairs nothing.
 *  3. Each row is classified from what LEB knows (src/core/recon.c decides); a repairable row
 *     is applied through app_payment_apply, which credits a provider trade at most once
 *     whatever else applies it (a late notification, another statement, a second import).
 *     Each repair is its own transaction, with the credit's ledger postings and messages.
 *  4. The report and its audit row are written in one transaction.
 *
 * The store offers no transaction that spans a repair (app_payment_apply owns its own) and
 * the report, so an import that stops between 3 and 4 (a crash) leaves repairs without a
 * report. Nothing is lost or doubled by that: importing the statement again finds those
 * trades credited (matched) and writes the report then.
 *
 * It owns no rule of its own and never credits anything but through app_payment_apply.
 */
#include "app/recon.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/money.h"
#include "core/timeutil.h"
#include "util/log.h"

#define RECON_STATUS_WORD "RECON"
#define RECON_AUDIT_REASON_SIZE 256

/* ---------------------------------------------------------------------------------------------
 * The statement's text
 * ------------------------------------------------------------------------------------------ */

/* The offset of the first byte of "text" that is not well-formed UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF are not), or "size" if there is none. */
static size_t utf8_invalid_at(const unsigned char *text, size_t size)
{
    size_t i = 0;
    while (i < size) {
        unsigned char c = text[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t length;
        unsigned char low = 0x80, high = 0xBF; /* the second byte's range */
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            if (c == 0xE0)
                low = 0xA0;
            if (c == 0xED)
                high = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            if (c == 0xF0)
                low = 0x90;
            if (c == 0xF4)
                high = 0x8F;
        } else {
            return i;
        }
        if (size - i < length || text[i + 1] < low || text[i + 1] > high)
            return i;
        for (size_t k = 2; k < length; k++)
            if ((text[i + k] & 0xC0) != 0x80)
                return i;
        i += length;
    }
    return size;
}

static size_t line_of_offset(const char *text, size_t offset)
{
    size_t line = 1;
    for (size_t i = 0; i < offset; i++)
        line += text[i] == '\n';
    return line;
}

/*
 * The statement as UTF-8: the bytes themselves when they are UTF-8 (a byte order mark is left
 * for the parser to skip), else their conversion from GB18030 (a superset of GBK, the
 * providers' default). "*owned" is the converted copy to free, or NULL.
 */
static int statement_utf8(const char **out, size_t *out_size, char **owned,
                          struct recon_error *error, const char *statement, size_t size)
{
    *owned = NULL;
    size_t utf8_bad = utf8_invalid_at((const unsigned char *)statement, size);
    if (utf8_bad == size) {
        *out = statement;
        *out_size = size;
        return 0;
    }
    iconv_t converter = iconv_open("UTF-8", "GB18030");
    LEB_ASSERT(converter != (iconv_t)-1); /* glibc always has it */
    /* A GBK character is 1 or 2 bytes and becomes at most 3; a GB18030 four-byte one becomes
     * 4: twice the size always fits. */
    size_t capacity = size * 2 + 1;
    char *text = malloc(capacity);
    LEB_ASSERT(text != NULL);
    char *in = (char *)statement, *cursor = text;
    size_t in_left = size, out_left = capacity - 1;
    size_t converted = iconv(converter, &in, &in_left, &cursor, &out_left);
    int saved_errno = errno;
    iconv_close(converter);
    if (converted == (size_t)-1) {
        LEB_ASSERT(saved_errno != E2BIG);
        free(text);
        /* Neither reads it whole: the one that read further is what the file was meant to
         * be, and the bad line is where it stopped. */
        size_t gbk_bad = (size_t)(in - statement);
        error->line = line_of_offset(statement, gbk_bad > utf8_bad ? gbk_bad : utf8_bad);
        snprintf(error->message, sizeof(error->message),
                 "line %zu: the statement is neither UTF-8 nor GBK text", error->line);
        return LEB_E_INVALID_REQUEST;
    }
    *cursor = '\0';
    *out = text;
    *out_size = (size_t)(cursor - text);
    *owned = text;
    return 0;
}

static void sha256_hex(char out[65], const char *data, size_t size)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)data, size);
    sodium_bin2hex(out, 65, digest, sizeof(digest));
}

/* ---------------------------------------------------------------------------------------------
 * Classifying and repairing
 * ------------------------------------------------------------------------------------------ */

struct import {
    struct app *app;
    const struct recon_import_request *request;
    const char *text; /* the statement as UTF-8 */
    struct recon_record *records;
    size_t count;
    const struct recon_record **sorted;
    bool *duplicate;
    int64_t counts[RECON_CLASS_COUNT];
    json_t *items;
    json_t *repaired_orders;
};

/* What LEB knows about "record". */
static int facts_look_up(struct import *import, struct recon_facts *facts,
                         const struct recon_record *record)
{
    struct store *store = import->app->store;
    const char *provider = import->request->provider;
    facts->kind = record->kind;
    facts->statement_amount = record->amount;
    struct payment_row payment;
    int rc = STORE_CALL(store, payment_get, &payment, provider, record->trade_no);
    if (rc < 0 && rc != LEB_E_NOT_FOUND)
        return rc;
    facts->trade_found = rc == 0;
    if (facts->trade_found) {
        facts->trade_amount = payment.amount;
        facts->trade_order_same = strcmp(payment.order_no, record->order_no) == 0;
        if (record->kind == RECON_KIND_PAYMENT)
            return 0; /* a trade LEB has is judged by the trade alone */
    }
    struct order_row order;
    rc = LEB_E_ORDER_NOT_FOUND;
    if (strlen(record->order_no) < ORDER_NO_SIZE)
        rc = STORE_CALL(store, order_get, &order, record->order_no);
    if (rc < 0 && rc != LEB_E_ORDER_NOT_FOUND)
        return rc;
    facts->order_found = rc == 0;
    if (!facts->order_found)
        return 0;
    facts->order_status = order.status;
    facts->order_pay_amount = order.quote.pay_amount;
    facts->order_provider_same = strcmp(payment_method_name(order.method), provider) == 0;
    facts->refund_amount = order.quote.pay_amount;
    if (record->kind == RECON_KIND_REFUND) {
        struct order_payment_row refund;
        rc = STORE_CALL(store, order_payment_get, &refund, record->order_no);
        if (rc < 0 && rc != LEB_E_NOT_FOUND)
            return rc;
        if (rc == 0 && refund.refund_amount > 0)
            facts->refund_amount = refund.refund_amount;
    }
    return 0;
}

/* Applies "record" as a verified payment. The notification kept for audit is the statement's
 * line itself, with the provider's word "RECON". */
static int repair(struct import *import, enum payment_outcome *outcome,
                  const struct recon_record *record)
{
    struct payment_notice notice = {
        .provider = import->request->provider,
        .order_no = record->order_no,
        .trade_no = record->trade_no,
        .amount = record->amount,
        .success = true,
        .status_word = RECON_STATUS_WORD,
        .raw = import->text + record->raw_offset,
        .raw_size = record->raw_size,
        .paid_at = record->time, /* the statement's day, whatever day LEB learns of it */
    };
    return app_payment_apply(import->app, outcome, &notice);
}

static json_t *amount_json(bool known, int64_t amount)
{
    return known ? json_integer(amount) : json_null();
}

static void item_add(struct import *import, const struct recon_record *record,
                     enum recon_class class_, const struct recon_verdict *verdict, bool repaired,
                     const char *outcome)
{
    json_t *item = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:I, s:o, s:b}", "line", (json_int_t)record->line, "class",
        recon_class_name(class_), "kind", record->kind == RECON_KIND_PAYMENT ? "payment" : "refund",
        "order_no", record->order_no, "trade_no", record->trade_no, "statement_amount",
        (json_int_t)record->amount, "leb_amount",
        amount_json(verdict->leb_amount_known, verdict->leb_amount), "repaired", repaired);
    LEB_ASSERT(item != NULL);
    if (record->refund_no[0] != '\0')
        json_object_set_new(item, "refund_no", json_string(record->refund_no));
    if (outcome != NULL)
        json_object_set_new(item, "outcome", json_string(outcome));
    json_array_append_new(import->items, item);
}

static int row_reconcile(struct import *import, size_t index)
{
    const struct recon_record *record = &import->records[index];
    struct recon_facts facts = {.duplicate = import->duplicate[index]};
    int rc = facts_look_up(import, &facts, record);
    if (rc < 0)
        return rc;
    struct recon_verdict verdict;
    recon_classify(&verdict, &facts);
    enum recon_class class_ = verdict.class_;
    bool repaired = false;
    const char *outcome_name = NULL;
    if (verdict.repair) {
        enum payment_outcome outcome;
        rc = repair(import, &outcome, record);
        if (rc < 0)
            return rc;
        outcome_name = payment_outcome_name(outcome);
        if (outcome == PAYMENT_CREDITED || outcome == PAYMENT_REFUND_HOLD) {
            repaired = true;
            json_array_append_new(import->repaired_orders, json_string(record->order_no));
            LOG_INFO("payment repaired from a statement", "order_no", record->order_no, "provider",
                     import->request->provider, "outcome", outcome_name);
        } else if (outcome == PAYMENT_DOUBLE_PAYMENT) {
            class_ = RECON_DOUBLE_PAYMENT; /* another trade paid the order meanwhile */
        } else if (outcome == PAYMENT_REVIEW) {
            class_ = RECON_AMOUNT_MISMATCH;
        } else {
            /* The trade arrived meanwhile (a notification, another import): judge it again
             * as LEB now knows it. A verified success is never "failed" nor "ignored", and
             * orders are never removed. */
            LEB_ASSERT(outcome == PAYMENT_DUPLICATE);
            facts = (struct recon_facts){.duplicate = false};
            rc = facts_look_up(import, &facts, record);
            if (rc < 0)
                return rc;
            recon_classify(&verdict, &facts);
            LEB_ASSERT(!verdict.repair);
            class_ = verdict.class_;
        }
    }
    import->counts[class_]++;
    /* A report lists what needs a look: matched payments and matched refunds are counted. */
    if (class_ != RECON_MATCHED && class_ != RECON_REFUND_MATCHED)
        item_add(import, record, class_, &verdict, repaired, outcome_name);
    return 0;
}

/* The trades LEB recorded in the period that the statement does not list. */
static int missing_find(struct import *import, int64_t period_start, int64_t period_end)
{
    if (period_end <= period_start)
        return 0;
    struct payment_row *payments = NULL;
    size_t count = 0;
    int rc = STORE_CALL(import->app->store, payments_between, &payments, &count,
                        import->request->provider, period_start, period_end);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < count; i++) {
        if (recon_find_payment(import->sorted, import->count, payments[i].trade_no))
            continue;
        json_t *item =
            json_pack("{s:n, s:s, s:s, s:s, s:s, s:n, s:I, s:b}", "line", "class",
                      recon_class_name(RECON_MISSING_FROM_STATEMENT), "kind", "payment", "order_no",
                      payments[i].order_no, "trade_no", payments[i].trade_no, "statement_amount",
                      "leb_amount", (json_int_t)payments[i].amount, "repaired", 0);
        LEB_ASSERT(item != NULL);
        json_array_append_new(import->items, item);
        import->counts[RECON_MISSING_FROM_STATEMENT]++;
    }
    free(payments);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Keeping the report
 * ------------------------------------------------------------------------------------------ */

struct commit_job {
    const struct recon_row *row;
    const char *actor;
    const char *reason;
    const char *details;
    int64_t now;
    int64_t id;
    bool replayed;
};

/* The report and the audit row that says who imported it, in one transaction. */
static int commit_in_tx(struct store_tx *tx, void *arg)
{
    struct commit_job *job = arg;
    int rc = STORE_TX(tx, tx_recon_insert, job->row, &job->id);
    if (rc < 0)
        return rc;
    job->replayed = rc == 1; /* imported meanwhile by someone else: theirs stands */
    if (job->replayed)
        return 0;
    struct audit_row audit = {.at = job->now, .details = (char *)job->details};
    snprintf(audit.actor, sizeof(audit.actor), "%s", job->actor);
    snprintf(audit.action, sizeof(audit.action), "recon.import");
    snprintf(audit.subject, sizeof(audit.subject), "recon:%lld", (long long)job->id);
    snprintf(audit.reason, sizeof(audit.reason), "%s", job->reason);
    return STORE_TX(tx, tx_audit_insert, &audit);
}

static json_t *summary_json(const int64_t counts[RECON_CLASS_COUNT])
{
    json_t *summary = json_object();
    for (int class_ = 0; class_ < RECON_CLASS_COUNT; class_++)
        json_object_set_new(summary, recon_class_name((enum recon_class)class_),
                            json_integer(counts[class_]));
    return summary;
}

/* ---------------------------------------------------------------------------------------------
 * The import
 * ------------------------------------------------------------------------------------------ */

static int records_read(struct import *import, struct recon_parser *parser,
                        struct recon_error *error, size_t size)
{
    size_t capacity = 0;
    for (;;) {
        if (import->count == capacity) {
            capacity = capacity == 0 ? 1024 : capacity * 2;
            import->records = realloc(import->records, capacity * sizeof(*import->records));
            LEB_ASSERT(import->records != NULL);
        }
        int rc = recon_parser_next(parser, &import->records[import->count], error);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return 0;
        import->count++;
        LEB_ASSERT(import->count <= size); /* a row takes at least a byte */
    }
}

int app_recon_import(struct app *app, int64_t *report_id, bool *replayed, struct recon_error *error,
                     const struct recon_import_request *request)
{
    LEB_ASSERT(report_id != NULL && replayed != NULL && error != NULL && request != NULL);
    LEB_ASSERT(request->actor != NULL && request->provider != NULL);
    memset(error, 0, sizeof(*error));
    enum recon_format format;
    if (recon_format_of_provider(&format, request->provider) < 0)
        return LEB_E_PAYMENT_METHOD_UNAVAILABLE;
    if (request->statement_size == 0) {
        snprintf(error->message, sizeof(error->message), "the statement is empty");
        return LEB_E_INVALID_REQUEST;
    }
    if (request->statement_size > APP_RECON_STATEMENT_BYTES_MAX) {
        snprintf(error->message, sizeof(error->message), "the statement is larger than %u bytes",
                 APP_RECON_STATEMENT_BYTES_MAX);
        return LEB_E_INVALID_REQUEST;
    }
    int64_t now = app_now(app);
    struct recon_row row = {.created_at = now};
    snprintf(row.provider, sizeof(row.provider), "%s", request->provider);
    sha256_hex(row.statement_hash, request->statement, request->statement_size);

    /* The same statement again changes nothing: its earlier report answers. (Two imports of
     * it at once are settled by tx_recon_insert, which finds the other's row.) */
    int rc = STORE_CALL(app->store, recon_find, row.provider, row.statement_hash, report_id);
    if (rc == 0) {
        *replayed = true;
        return 0;
    }
    if (rc != LEB_E_NOT_FOUND)
        return rc;

    struct import import = {.app = app, .request = request};
    char *owned = NULL;
    size_t text_size = 0;
    struct recon_parser parser;
    char *report_text = NULL, *details_text = NULL;
    rc = statement_utf8(&import.text, &text_size, &owned, error, request->statement,
                        request->statement_size);
    if (rc == 0)
        rc = recon_parser_init(&parser, error, import.text, text_size);
    if (rc == 0 && parser.format != format) {
        snprintf(error->message, sizeof(error->message), "this is %s statement, not one of %s",
                 parser.format == RECON_FORMAT_ALIPAY ? "an Alipay" : "a WeChat Pay",
                 request->provider);
        rc = LEB_E_INVALID_REQUEST;
    }
    if (rc == 0)
        rc = records_read(&import, &parser, error, text_size);
    if (rc < 0)
        goto out;

    /* Every row is read: now, and only now, act on them. */
    import.sorted = malloc((import.count + 1) * sizeof(*import.sorted));
    import.duplicate = malloc((import.count + 1) * sizeof(*import.duplicate));
    LEB_ASSERT(import.sorted != NULL && import.duplicate != NULL);
    recon_mark_duplicates(import.sorted, import.duplicate, import.records, import.count);
    import.items = json_array();
    import.repaired_orders = json_array();
    int64_t first = 0, last = 0;
    for (size_t i = 0; i < import.count && rc == 0; i++) {
        int64_t time = import.records[i].time;
        first = i == 0 || time < first ? time : first;
        last = i == 0 || time > last ? time : last;
        rc = row_reconcile(&import, i);
    }
    if (rc < 0)
        goto out;
    recon_period(&row.period_start, &row.period_end, &parser, import.count, first, last);
    rc = missing_find(&import, row.period_start, row.period_end);
    if (rc < 0)
        goto out;

    /* The report as stored: what the row's columns do not already say. */
    json_t *summary = summary_json(import.counts);
    json_t *report = json_pack("{s:s, s:s, s:O, s:O}", "format", recon_format_name(format),
                               "currency", "CNY", "summary", summary, "items", import.items);
    LEB_ASSERT(report != NULL);
    report_text = json_dumps(report, JSON_COMPACT);
    json_decref(report);
    LEB_ASSERT(report_text != NULL);
    row.rows = (int64_t)import.count;
    row.report = report_text;
    json_t *details =
        json_pack("{s:s, s:s, s:I, s:o, s:O}", "provider", request->provider, "statement_hash",
                  row.statement_hash, "rows", (json_int_t)import.count, "summary", summary,
                  "repaired", import.repaired_orders);
    LEB_ASSERT(details != NULL);
    details_text = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    LEB_ASSERT(details_text != NULL);
    char reason[RECON_AUDIT_REASON_SIZE];
    snprintf(reason, sizeof(reason), "%s statement of %zu rows imported: %lld repaired",
             request->provider, import.count, (long long)import.counts[RECON_REPAIRED]);
    struct commit_job commit = {.row = &row,
                                .actor = request->actor,
                                .reason = reason,
                                .details = details_text,
                                .now = now};
    rc = store_write(app->store, commit_in_tx, &commit);
    if (rc < 0)
        goto out;
    *report_id = commit.id;
    *replayed = commit.replayed;
    char id_text[24], rows_text[24], repaired_text[24];
    snprintf(id_text, sizeof(id_text), LOG_RAW_PREFIX "%lld", (long long)commit.id);
    snprintf(rows_text, sizeof(rows_text), LOG_RAW_PREFIX "%zu", import.count);
    snprintf(repaired_text, sizeof(repaired_text), LOG_RAW_PREFIX "%lld",
             (long long)import.counts[RECON_REPAIRED]);
    LOG_INFO("statement imported", "provider", request->provider, "recon_id", id_text, "rows",
             rows_text, "repaired", repaired_text, "by", request->actor);
out:
    free(details_text);
    free(report_text);
    json_decref(import.items);
    json_decref(import.repaired_orders);
    free(import.duplicate);
    free(import.sorted);
    free(import.records);
    free(owned);
    return rc;
}

static json_t *time_json(int64_t unix_s, bool known)
{
    if (!known)
        return json_null();
    char text[RFC3339_SIZE];
    time_format_rfc3339(text, unix_s);
    return json_string(text);
}

int app_recon_report(struct app *app, json_t **out, int64_t id)
{
    LEB_ASSERT(out != NULL);
    struct recon_row row;
    int rc = STORE_CALL(app->store, recon_get, &row, id);
    if (rc < 0)
        return rc;
    json_t *stored = json_loads(row.report, 0, NULL);
    free(row.report);
    char id_text[24];
    snprintf(id_text, sizeof(id_text), LOG_RAW_PREFIX "%lld", (long long)id);
    if (stored == NULL) {
        LOG_ERROR("a stored reconciliation report is not JSON", "recon_id", id_text);
        return LEB_E_INTERNAL;
    }
    bool period = row.period_end > row.period_start;
    json_t *report = json_pack(
        "{s:I, s:s, s:O, s:s, s:o, s:o, s:I, s:o, s:O, s:O, s:O}", "id", (json_int_t)row.id,
        "provider", row.provider, "format", json_object_get(stored, "format"), "statement_hash",
        row.statement_hash, "period_start", time_json(row.period_start, period), "period_end",
        time_json(row.period_end, period), "rows", (json_int_t)row.rows, "imported_at",
        time_json(row.created_at, true), "currency", json_object_get(stored, "currency"), "summary",
        json_object_get(stored, "summary"), "items", json_object_get(stored, "items"));
    json_decref(stored);
    if (report == NULL) {
        LOG_ERROR("a stored reconciliation report lacks a member", "recon_id", id_text);
        return LEB_E_INTERNAL;
    }
    *out = report;
    return 0;
}
