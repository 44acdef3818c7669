/*
 * lebctl_import.c - `lebctl card import FILE.csv`: a batch of cards from a spreadsheet.
 *
 * The file is read whole, parsed (lebctl_csv.c) and every row validated before the first byte
 * is sent: card numbers with their check digit, phone numbers, plan codes, statuses, and card
 * numbers repeated inside the file. A bad row is reported with its line number, and nothing
 * is imported. Good rows are then sent in batches (at most --batch-size rows, and small
 * enough for lebd's body limit) to POST /api/v1/admin/cards; each batch is all or nothing on
 * the server, so when lebd refuses one (422 invalid_batch) its bad rows are reported with
 * their line numbers, the import stops, and the operator is told exactly which lines were
 * imported before. A progress bar goes to stderr only when stderr is a terminal: scripts get
 * silence until the summary.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cardno.h"
#include "lebctl.h"

#define IMPORT_FILE_BYTES_MAX (256u * 1024u * 1024u)
#define IMPORT_ROWS_MAX 1000000u
#define IMPORT_BATCH_ROWS_DEFAULT 500
#define IMPORT_BATCH_ROWS_MAX 1000   /* lebd's limit on one batch */
#define IMPORT_BATCH_BYTES_MAX 60000 /* under lebd's default body_max_bytes of 65536 */
#define IMPORT_ERRORS_SHOWN_MAX 20
#define IMPORT_PROGRESS_WIDTH 30
#define IMPORT_PLAN_BYTES_MAX 64

enum import_column { COLUMN_CARD_NO = 0, COLUMN_MSISDN, COLUMN_PLAN, COLUMN_STATUS, COLUMN_COUNT };

static const char *const import_column_names[COLUMN_COUNT] = {"card_no", "msisdn", "plan",
                                                              "status"};

struct import_row {
    size_t line;
    char card_no[CARDNO_SIZE];
    char msisdn[MSISDN_SIZE];
    char plan[IMPORT_PLAN_BYTES_MAX + 1];
    char status[16]; /* empty: the server's default (active) */
};

struct import {
    const char *file_name; /* for messages: the path, or "stdin" */
    char *data;
    size_t length;
    struct import_row *rows;
    size_t row_count;
    size_t errors;
    int header_columns;
    int columns[COLUMN_COUNT]; /* field index of each column, -1 when absent */
};

/* ---------------------------------------------------------------------------------------------
 * Reading and validating
 * ------------------------------------------------------------------------------------------ */

static int import_read_file(struct import *import, const char *path)
{
    FILE *file = stdin;
    if (strcmp(path, "-") != 0) {
        file = fopen(path, "rb");
        if (file == NULL) {
            out_error("invalid_request", "cannot open %s: %s", path, strerror(errno));
            return LEBCTL_EXIT_USAGE;
        }
    }
    size_t capacity = 0;
    for (;;) {
        if (import->length + 65536 + 1 > capacity) {
            capacity = capacity == 0 ? 1 << 20 : capacity * 2;
            import->data = xrealloc(import->data, capacity);
        }
        size_t count = fread(import->data + import->length, 1, capacity - import->length - 1, file);
        import->length += count;
        if (import->length > IMPORT_FILE_BYTES_MAX) {
            out_error("invalid_request", "%s is larger than %u bytes: split it", import->file_name,
                      IMPORT_FILE_BYTES_MAX);
            if (file != stdin) {
                fclose(file);
            }
            return LEBCTL_EXIT_REFUSED;
        }
        if (count == 0) {
            break;
        }
    }
    bool failed = ferror(file) != 0;
    if (file != stdin) {
        fclose(file);
    }
    if (failed) {
        out_error("invalid_request", "cannot read %s", import->file_name);
        return LEBCTL_EXIT_USAGE;
    }
    import->data[import->length] = '\0';
    return 0;
}

/* "text" without ASCII blanks around it, in place. */
static char *import_trim(char *text)
{
    while (*text == ' ' || *text == '\t') {
        text++;
    }
    size_t length = strlen(text);
    while (length > 0 && (text[length - 1] == ' ' || text[length - 1] == '\t')) {
        text[--length] = '\0';
    }
    return text;
}

/* Reports a bad row (the first IMPORT_ERRORS_SHOWN_MAX of them) and counts it. */
static void import_row_error(struct import *import, size_t line, const char *code,
                             const char *format, ...) __attribute__((format(printf, 4, 5)));

static void import_row_error(struct import *import, size_t line, const char *code,
                             const char *format, ...)
{
    import->errors++;
    if (import->errors > IMPORT_ERRORS_SHOWN_MAX) {
        return;
    }
    char message[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    out_error(code, "%s line %zu: %s", import->file_name, line, message);
}

static int import_header(struct import *import, struct csv_record *record)
{
    for (int column = 0; column < COLUMN_COUNT; column++) {
        import->columns[column] = -1;
    }
    import->header_columns = (int)record->field_count;
    for (size_t field = 0; field < record->field_count; field++) {
        char *name = import_trim(record->fields[field]);
        int match = -1;
        for (int column = 0; column < COLUMN_COUNT; column++) {
            if (strcasecmp(name, import_column_names[column]) == 0) {
                match = column;
            }
        }
        if (match < 0) {
            const char *hint =
                name[0] >= '0' && name[0] <= '9' ? " (the first line must be the header)" : "";
            out_error("invalid_request",
                      "%s line %zu: unknown column '%s'%s; the header is "
                      "card_no,msisdn,plan[,status]",
                      import->file_name, record->line, name, hint);
            return LEBCTL_EXIT_REFUSED;
        }
        if (import->columns[match] >= 0) {
            out_error("invalid_request", "%s line %zu: the column %s appears twice",
                      import->file_name, record->line, import_column_names[match]);
            return LEBCTL_EXIT_REFUSED;
        }
        import->columns[match] = (int)field;
    }
    for (int column = 0; column < COLUMN_STATUS; column++) {
        if (import->columns[column] < 0) {
            out_error("invalid_request",
                      "%s line %zu: no %s column; the header is card_no,msisdn,plan[,status]",
                      import->file_name, record->line, import_column_names[column]);
            return LEBCTL_EXIT_REFUSED;
        }
    }
    return 0;
}

/* Validates the record of one row; a good one is appended to import->rows. */
static void import_row(struct import *import, struct csv_record *record, size_t *rows_capacity)
{
    size_t line = record->line;
    if ((int)record->field_count != import->header_columns) {
        import_row_error(import, line, "invalid_request", "%zu fields, but the header has %d",
                         record->field_count, import->header_columns);
        return;
    }
    struct import_row row;
    memset(&row, 0, sizeof row);
    row.line = line;
    bool good = true;
    const char *card_no = record->fields[import->columns[COLUMN_CARD_NO]];
    if (cardno_normalize(row.card_no, card_no) != 0) {
        import_row_error(import, line, "invalid_card_number", "card_no '%s': %s", card_no,
                         card_number_problem(card_no));
        good = false;
    }
    const char *msisdn = record->fields[import->columns[COLUMN_MSISDN]];
    if (msisdn_normalize(row.msisdn, msisdn) != 0) {
        import_row_error(import, line, "invalid_phone_number",
                         "msisdn '%s' is not a phone number (+8613800000001 or 13800000001)",
                         msisdn);
        good = false;
    }
    const char *plan = import_trim(record->fields[import->columns[COLUMN_PLAN]]);
    if (plan[0] == '\0' || strlen(plan) > IMPORT_PLAN_BYTES_MAX) {
        import_row_error(import, line, "invalid_request",
                         "plan '%s': a plan code is 1 to 32 "
                         "characters",
                         plan);
        good = false;
    } else {
        snprintf(row.plan, sizeof row.plan, "%s", plan);
    }
    if (import->columns[COLUMN_STATUS] >= 0) {
        const char *status = import_trim(record->fields[import->columns[COLUMN_STATUS]]);
        if (status[0] != '\0' && !card_status_is_known(status)) {
            import_row_error(import, line, "invalid_request",
                             "status '%s': use active, suspended, recycled or leave it empty",
                             status);
            good = false;
        } else {
            snprintf(row.status, sizeof row.status, "%s", status);
        }
    }
    if (!good) {
        return;
    }
    if (import->row_count == *rows_capacity) {
        *rows_capacity = *rows_capacity == 0 ? 1024 : *rows_capacity * 2;
        import->rows = xrealloc(import->rows, *rows_capacity * sizeof *import->rows);
    }
    import->rows[import->row_count++] = row;
}

static int import_compare_card_no(const void *left, const void *right)
{
    const struct import_row *const *a = left;
    const struct import_row *const *b = right;
    int order = strcmp((*a)->card_no, (*b)->card_no);
    if (order != 0) {
        return order;
    }
    return (*a)->line < (*b)->line ? -1 : (*a)->line > (*b)->line;
}

/* A card number twice in one file is a mistake the operator should see with both lines. */
static void import_find_duplicates(struct import *import)
{
    if (import->row_count < 2) {
        return;
    }
    const struct import_row **sorted = xrealloc(NULL, import->row_count * sizeof *sorted);
    for (size_t index = 0; index < import->row_count; index++) {
        sorted[index] = &import->rows[index];
    }
    qsort(sorted, import->row_count, sizeof *sorted, import_compare_card_no);
    for (size_t index = 1; index < import->row_count; index++) {
        if (strcmp(sorted[index]->card_no, sorted[index - 1]->card_no) == 0) {
            import_row_error(import, sorted[index]->line, "card_exists",
                             "card_no %s is already on line %zu", sorted[index]->card_no,
                             sorted[index - 1]->line);
        }
    }
    free(sorted);
}

static int import_parse(struct import *import)
{
    struct csv_reader reader;
    struct csv_record record;
    char error[256];
    size_t rows_capacity = 0;
    int result = 0;
    memset(&record, 0, sizeof record);
    csv_reader_init(&reader, import->data, import->length);
    int status = csv_read_record(&reader, &record, error, sizeof error);
    if (status <= 0) {
        if (status == 0) {
            out_error("invalid_request",
                      "%s is empty: expected a header row card_no,msisdn,plan[,status]",
                      import->file_name);
        } else {
            out_error("invalid_request", "%s line %zu: %s", import->file_name, record.line, error);
        }
        return LEBCTL_EXIT_REFUSED;
    }
    result = import_header(import, &record);
    csv_record_clear(&record);
    if (result != 0) {
        return result;
    }
    for (;;) {
        status = csv_read_record(&reader, &record, error, sizeof error);
        if (status == 0) {
            break;
        }
        if (status < 0) {
            /* Malformed CSV: the rest of the file cannot be trusted to line up. */
            import_row_error(import, record.line, "invalid_request", "%s", error);
            break;
        }
        if (import->row_count + import->errors >= IMPORT_ROWS_MAX) {
            out_error("invalid_request", "%s has more than %u rows: split it", import->file_name,
                      IMPORT_ROWS_MAX);
            csv_record_clear(&record);
            return LEBCTL_EXIT_REFUSED;
        }
        import_row(import, &record, &rows_capacity);
        csv_record_clear(&record);
    }
    import_find_duplicates(import);
    if (import->errors > 0) {
        if (import->errors > IMPORT_ERRORS_SHOWN_MAX) {
            out_note("... and %zu more bad rows", import->errors - IMPORT_ERRORS_SHOWN_MAX);
        }
        out_note("%s: %zu bad row%s; nothing was imported", import->file_name, import->errors,
                 import->errors == 1 ? "" : "s");
        return LEBCTL_EXIT_REFUSED;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Sending
 * ------------------------------------------------------------------------------------------ */

static json_t *import_row_json(const struct import_row *row)
{
    json_t *card = json_object();
    json_object_set_new(card, "card_no", json_string(row->card_no));
    json_object_set_new(card, "msisdn", json_string(row->msisdn));
    json_object_set_new(card, "plan", json_string(row->plan));
    if (row->status[0] != '\0') {
        json_object_set_new(card, "status", json_string(row->status));
    }
    return card;
}

static void import_progress(const struct lebctl *ctx, size_t done, size_t total)
{
    if (!ctx->stderr_tty || total == 0) {
        return;
    }
    char bar[IMPORT_PROGRESS_WIDTH + 1];
    char line[128];
    size_t filled = done * IMPORT_PROGRESS_WIDTH / total;
    for (size_t index = 0; index < IMPORT_PROGRESS_WIDTH; index++) {
        bar[index] = index < filled ? '#' : '.';
    }
    bar[IMPORT_PROGRESS_WIDTH] = '\0';
    snprintf(line, sizeof line, "[%s] %zu/%zu rows %3zu%%", bar, done, total, done * 100 / total);
    out_progress(line);
}

/* Reports what a refused batch's error.details say, row by row, with the CSV lines. */
static void import_report_details(const struct import *import, const struct http_response *resp,
                                  size_t first, size_t count)
{
    const json_t *details = json_object_get(json_object_get(resp->json, "error"), "details");
    size_t index;
    const json_t *detail;
    size_t shown = 0;
    json_array_foreach(details, index, detail)
    {
        const json_t *row_index = json_object_get(detail, "index");
        const json_t *code = json_object_get(detail, "code");
        const json_t *message = json_object_get(detail, "message");
        if (shown == IMPORT_ERRORS_SHOWN_MAX) {
            out_note("... and %zu more bad rows", json_array_size(details) - shown);
            break;
        }
        shown++;
        const char *code_text = json_is_string(code) ? json_string_value(code) : "invalid";
        const char *message_text = json_is_string(message) ? json_string_value(message) : "";
        if (!json_is_integer(row_index) || json_integer_value(row_index) < 0 ||
            (size_t)json_integer_value(row_index) >= count) {
            out_error(code_text, "%s: a row of the batch: %s", import->file_name, message_text);
            continue;
        }
        const struct import_row *row = &import->rows[first + (size_t)json_integer_value(row_index)];
        out_error(code_text, "%s line %zu: card_no %s: %s", import->file_name, row->line,
                  row->card_no, message_text);
    }
}

/* Says what was imported before a failure, so the operator knows where to resume. */
static void import_report_partial(const struct import *import, size_t imported_rows, size_t batches)
{
    if (imported_rows == 0) {
        out_note("nothing was imported");
        return;
    }
    out_note("the first %zu row%s (lines %zu to %zu) were imported in %zu batch%s; the rows "
             "from line %zu on were not",
             imported_rows, imported_rows == 1 ? "" : "s", import->rows[0].line,
             import->rows[imported_rows - 1].line, batches, batches == 1 ? "" : "es",
             import->rows[imported_rows].line);
}

static int import_send(struct lebctl *ctx, struct import *import, size_t batch_rows_max)
{
    size_t sent = 0;
    size_t batches = 0;
    long long created_total = 0;
    json_t *created_cards = ctx->json ? json_array() : NULL;
    int result = 0;
    import_progress(ctx, 0, import->row_count);
    while (sent < import->row_count) {
        json_t *cards = json_array();
        size_t bytes = 16;
        size_t first = sent;
        while (sent < import->row_count && json_array_size(cards) < batch_rows_max) {
            json_t *card = import_row_json(&import->rows[sent]);
            char *encoded = json_dumps(card, JSON_COMPACT);
            size_t length = encoded != NULL ? strlen(encoded) + 1 : 0;
            free(encoded);
            if (json_array_size(cards) > 0 && bytes + length > IMPORT_BATCH_BYTES_MAX) {
                json_decref(card);
                break;
            }
            bytes += length;
            json_array_append_new(cards, card);
            sent++;
        }
        size_t count = sent - first;
        json_t *body = json_pack("{s:o}", "cards", cards);
        struct http_response response;
        result = http_send(ctx, &response, "POST", "/api/v1/admin/cards", body);
        json_decref(body);
        if (result == 0) {
            if (response.status == 422 && http_error_code(&response) != NULL &&
                strcmp(http_error_code(&response), "invalid_batch") == 0) {
                out_error("invalid_batch",
                          "lebd refused batch %zu (lines %zu to %zu); nothing in it was written",
                          batches + 1, import->rows[first].line, import->rows[sent - 1].line);
                import_report_details(import, &response, first, count);
                result = LEBCTL_EXIT_REFUSED;
            } else {
                result = http_check(ctx, &response);
            }
        }
        if (result != 0) {
            http_response_free(&response);
            import_report_partial(import, first, batches);
            json_decref(created_cards);
            return result;
        }
        const json_t *created = json_object_get(response.json, "created");
        created_total += json_is_integer(created) ? json_integer_value(created) : (long long)count;
        if (created_cards != NULL) {
            json_array_extend(created_cards, json_object_get(response.json, "cards"));
        }
        http_response_free(&response);
        batches++;
        import_progress(ctx, sent, import->row_count);
    }
    out_progress_done();
    if (ctx->json) {
        json_t *document = json_pack("{s:I,s:I,s:o}", "created", (json_int_t)created_total,
                                     "batches", (json_int_t)batches, "cards", created_cards);
        out_json(document);
        json_decref(document);
    } else {
        printf("imported %lld card%s in %zu batch%s\n", created_total,
               created_total == 1 ? "" : "s", batches, batches == 1 ? "" : "es");
    }
    return LEBCTL_EXIT_OK;
}

static int import_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const char *path = args->positionals[0];
    const char *batch_size_text = args_get(args, "batch-size");
    long long batch_rows_max = IMPORT_BATCH_ROWS_DEFAULT;
    if (batch_size_text != NULL &&
        (parse_count(&batch_rows_max, batch_size_text, IMPORT_BATCH_ROWS_MAX) != 0 ||
         batch_rows_max == 0)) {
        return usage_error(&lebctl_command_card_import, "--batch-size: a number from 1 to %d",
                           IMPORT_BATCH_ROWS_MAX);
    }
    struct import import;
    memset(&import, 0, sizeof import);
    import.file_name = strcmp(path, "-") == 0 ? "stdin" : path;
    int result = import_read_file(&import, path);
    if (result == 0) {
        result = import_parse(&import);
    }
    if (result == 0) {
        result = import_send(ctx, &import, (size_t)batch_rows_max);
    }
    free(import.rows);
    free(import.data);
    return result;
}

static const struct lebctl_option import_options[] = {
    {"batch-size", "N", "rows per request, 1 to 1000 (default 500)"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_card_import = {
    .group = "card",
    .name = "import",
    .synopsis = "FILE.csv",
    .summary = "create cards from a CSV file (- for stdin)",
    .help = "The CSV file starts with a header row naming its columns: card_no, msisdn, plan\n"
            "and optionally status (active, suspended, recycled; empty means active), e.g.\n"
            "\n"
            "    card_no,msisdn,plan,status\n"
            "    8986010000000000018,+8613800000001,KEEP8,active\n"
            "\n"
            "RFC 4180 quoting, LF or CRLF line ends and a UTF-8 byte order mark are accepted.\n"
            "Every row is checked before anything is sent (card number and check digit, phone\n"
            "number, plan, status, a card number repeated in the file); a bad row is reported\n"
            "with its line number and nothing is imported (exit 5). The rows are then sent in\n"
            "batches to POST /api/v1/admin/cards; each batch is all or nothing, so when lebd\n"
            "refuses one (invalid_batch: a card that exists, an unknown plan) its bad rows are\n"
            "reported by line, the import stops (exit 5), and lebctl says which lines were\n"
            "imported before. A progress bar is drawn on stderr when it is a terminal.\n",
    .options = import_options,
    .positionals_min = 1,
    .positionals_max = 1,
    .needs_login = true,
    .run = import_run,
};
