/*
 * lebctl_recon.c - `lebctl recon import FILE --provider NAME` and `lebctl recon show ID`:
 * reconciliation (对账) of a payment provider's statement against lebd's records.
 *
 * The statement goes to lebd as the provider published it (CSV, UTF-8 or GBK: lebd reads
 * both), in one request to POST /api/v1/admin/reconciliations, so that lebd sees exactly the
 * bytes it will remember having imported (the same file imported twice changes nothing).
 * lebctl reads the file, checks its size against lebd's limit, uploads it with a progress bar
 * on stderr when stderr is a terminal (and silence otherwise), and prints the report's
 * summary: how many rows fell in each class. `recon show` prints a report with its rows;
 * --csv gives lebd's CSV form of the rows, --json the report as lebd sent it.
 *
 * lebctl_http.c sends JSON bodies only; the upload of a raw file with a progress callback is
 * done here with the same rules: the token only to the server that issued it, no redirects,
 * http and https only, a bounded answer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lebctl.h"

#define RECON_FILE_BYTES_MAX (16u * 1024u * 1024u) /* lebd's limit on a statement */
#define RECON_PROVIDER_MAX 15
#define RECON_ID_DIGITS_MAX 18
#define RECON_PROGRESS_WIDTH 30

/* ---------------------------------------------------------------------------------------------
 * The upload
 * ------------------------------------------------------------------------------------------ */

struct recon_progress {
    bool shown;
    int last_percent;
    bool waiting_said;
};

static void recon_size_text(char *out, size_t out_size, long long bytes)
{
    if (bytes >= 1024 * 1024) {
        snprintf(out, out_size, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
    } else {
        snprintf(out, out_size, "%.1f KiB", (double)bytes / 1024.0);
    }
}

/* curl's progress callback: the upload as a bar, then a word while lebd reconciles. */
static int recon_progress_draw(void *userdata, long long download_total, long long download_now,
                               long long upload_total, long long upload_now)
{
    struct recon_progress *progress = userdata;
    (void)download_total;
    (void)download_now;
    if (upload_total <= 0) {
        return 0;
    }
    int percent = (int)(upload_now * 100 / upload_total);
    if (upload_now == upload_total) {
        if (!progress->waiting_said) {
            progress->waiting_said = true;
            char total[32];
            char line[160];
            recon_size_text(total, sizeof total, upload_total);
            snprintf(line, sizeof line, "[%.*s] %s sent; lebd is reconciling...    ",
                     RECON_PROGRESS_WIDTH, "##############################", total);
            out_progress(line);
            progress->shown = true;
        }
        return 0;
    }
    if (percent == progress->last_percent) {
        return 0;
    }
    progress->last_percent = percent;
    char bar[RECON_PROGRESS_WIDTH + 1];
    size_t filled = (size_t)percent * RECON_PROGRESS_WIDTH / 100;
    for (size_t index = 0; index < RECON_PROGRESS_WIDTH; index++) {
        bar[index] = index < filled ? '#' : '.';
    }
    bar[RECON_PROGRESS_WIDTH] = '\0';
    char done[32];
    char total[32];
    char line[160];
    recon_size_text(done, sizeof done, upload_now);
    recon_size_text(total, sizeof total, upload_total);
    snprintf(line, sizeof line, "[%s] %s/%s %3d%%            ", bar, done, total, percent);
    out_progress(line);
    progress->shown = true;
    return 0;
}

/*
 * POSTs "size" bytes of "data" as text/csv to "path", with the login token. 0 when an answer
 * arrived (whatever its status), else an exit code with the message printed; "*out" must be
 * freed with http_response_free in every case.
 */
static int recon_upload(struct lebctl *ctx, struct http_response *out, const char *path,
                        const char *data, size_t size)
{
    struct recon_progress progress = {.last_percent = -1};
    struct http_upload upload = {.data = data,
                                 .size = size,
                                 .content_type = "text/csv",
                                 .progress = ctx->stderr_tty ? recon_progress_draw : NULL,
                                 .progress_context = &progress};
    int exit_code = http_send_upload(ctx, out, "POST", path, &upload);
    if (progress.shown) {
        out_progress_done();
    }
    return exit_code;
}

/* ---------------------------------------------------------------------------------------------
 * Printing a report
 * ------------------------------------------------------------------------------------------ */

static const char *report_string(const json_t *report, const char *key)
{
    const json_t *value = json_object_get(report, key);
    return json_is_string(value) ? json_string_value(value) : "-";
}

static void report_heading(const json_t *report)
{
    const json_t *id = json_object_get(report, "id");
    const json_t *rows = json_object_get(report, "rows");
    printf("reconciliation %lld of %s (%s statement, %lld rows)\n",
           json_is_integer(id) ? (long long)json_integer_value(id) : 0LL,
           report_string(report, "provider"), report_string(report, "format"),
           json_is_integer(rows) ? (long long)json_integer_value(rows) : 0LL);
    printf("period:   %s to %s\n", report_string(report, "period_start"),
           report_string(report, "period_end"));
    printf("imported: %s\n\n", report_string(report, "imported_at"));
}

/* The summary: how many rows fell in each class, in lebd's order. */
static void report_summary(const json_t *report)
{
    static const char *const headers[] = {"CLASS", "ROWS"};
    struct out_table *table = out_table_new(2, headers);
    out_table_align_right(table, 1);
    const char *name;
    const json_t *count;
    json_object_foreach((json_t *)json_object_get(report, "summary"), name, count)
    {
        char *cells[2] = {xstrdup(name), out_format_value(count, false, NULL)};
        out_table_add_row_owned(table, cells);
    }
    out_table_print(table, stdout);
    out_table_free(table);
}

/* The rows that need a look (everything but the matched ones). */
static void report_items(const json_t *report)
{
    const json_t *items = json_object_get(report, "items");
    if (!json_is_array(items) || json_array_size(items) == 0) {
        printf("\nevery row matched\n");
        return;
    }
    static const char *const headers[] = {"LINE",      "CLASS", "ORDER",   "TRADE",
                                          "STATEMENT", "LEB",   "REPAIRED"};
    enum { COLUMNS = sizeof headers / sizeof headers[0] };
    struct out_table *table = out_table_new(COLUMNS, headers);
    out_table_align_right(table, 0);
    out_table_align_right(table, 4);
    out_table_align_right(table, 5);
    const char *currency = report_string(report, "currency");
    size_t index;
    const json_t *item;
    json_array_foreach(items, index, item)
    {
        char *cells[COLUMNS] = {
            out_format_value(json_object_get(item, "line"), false, NULL),
            out_format_value(json_object_get(item, "class"), false, NULL),
            out_format_value(json_object_get(item, "order_no"), false, NULL),
            out_format_value(json_object_get(item, "trade_no"), false, NULL),
            out_format_value(json_object_get(item, "statement_amount"), true, currency),
            out_format_value(json_object_get(item, "leb_amount"), true, currency),
            out_format_value(json_object_get(item, "repaired"), false, NULL),
        };
        out_table_add_row_owned(table, cells);
    }
    putchar('\n');
    out_table_print(table, stdout);
    out_table_free(table);
}

/* GET the report "id" as CSV and print it as it came. */
static int report_print_csv(struct lebctl *ctx, long long id)
{
    char path[LEBCTL_PATH_MAX];
    snprintf(path, sizeof path, "/api/v1/admin/reconciliations/%lld?format=csv", id);
    struct http_response response;
    int result = http_send(ctx, &response, "GET", path, NULL);
    if (result == 0 && (response.status < 200 || response.status > 299)) {
        result = http_check(ctx, &response);
    }
    if (result == 0 && response.body_length > 0) {
        fwrite(response.body, 1, response.body_length, stdout);
    }
    http_response_free(&response);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * recon import
 * ------------------------------------------------------------------------------------------ */

static int recon_read_file(char **out, size_t *length, const char *path, const char *name)
{
    FILE *file = stdin;
    if (strcmp(path, "-") != 0) {
        file = fopen(path, "rb");
        if (file == NULL) {
            out_error("invalid_request", "cannot open %s: %s", path, strerror(errno));
            return LEBCTL_EXIT_USAGE;
        }
    }
    char *data = NULL;
    size_t used = 0;
    size_t capacity = 0;
    int result = 0;
    for (;;) {
        if (used + 65536 + 1 > capacity) {
            capacity = capacity == 0 ? 1 << 20 : capacity * 2;
            data = xrealloc(data, capacity);
        }
        size_t count = fread(data + used, 1, capacity - used - 1, file);
        used += count;
        if (used > RECON_FILE_BYTES_MAX) {
            out_error("payload_too_large", "%s is larger than lebd's limit of %u bytes: split it",
                      name, RECON_FILE_BYTES_MAX);
            result = LEBCTL_EXIT_REFUSED;
            break;
        }
        if (count == 0) {
            break;
        }
    }
    if (result == 0 && ferror(file) != 0) {
        out_error("invalid_request", "cannot read %s", name);
        result = LEBCTL_EXIT_USAGE;
    }
    if (result == 0 && used == 0) {
        out_error("invalid_request", "%s is empty", name);
        result = LEBCTL_EXIT_REFUSED;
    }
    if (file != stdin) {
        fclose(file);
    }
    if (result != 0) {
        free(data);
        return result;
    }
    data[used] = '\0';
    *out = data;
    *length = used;
    return 0;
}

static int recon_import_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const char *path = args->positionals[0];
    const char *provider = args_get(args, "provider");
    bool csv = args_get(args, "csv") != NULL;
    if (provider == NULL) {
        return usage_error(&lebctl_command_recon_import,
                           "--provider is required: alipay, wechatpay or wechatpay_v2");
    }
    size_t provider_length = strlen(provider);
    if (provider_length == 0 || provider_length > RECON_PROVIDER_MAX ||
        strspn(provider, "abcdefghijklmnopqrstuvwxyz0123456789_") != provider_length) {
        return usage_error(&lebctl_command_recon_import,
                           "--provider '%s' is not a provider's name (alipay, wechatpay, "
                           "wechatpay_v2)",
                           provider);
    }
    if (csv && ctx->json) {
        return usage_error(&lebctl_command_recon_import, "--csv and --json: choose one");
    }
    const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
    char *data = NULL;
    size_t length = 0;
    int result = recon_read_file(&data, &length, path, name);
    if (result != 0) {
        return result;
    }
    char request_path[LEBCTL_PATH_MAX];
    snprintf(request_path, sizeof request_path, "/api/v1/admin/reconciliations?provider=%s",
             provider);
    struct http_response response;
    result = recon_upload(ctx, &response, request_path, data, length);
    free(data);
    if (result == 0) {
        result = http_check(ctx, &response);
        if (result != 0) {
            out_note("%s: nothing was imported", name);
        }
    }
    if (result != 0) {
        http_response_free(&response);
        return result;
    }
    const json_t *id = json_object_get(response.json, "id");
    if (!json_is_integer(id)) {
        out_error("invalid_response", "%s answered without a report id", ctx->server);
        http_response_free(&response);
        return LEBCTL_EXIT_SERVER;
    }
    bool replayed = response.status == 200;
    if (replayed) {
        out_note("%s was imported before: nothing changed; this is the earlier report", name);
    }
    if (ctx->json) {
        out_json_raw(&response);
    } else if (csv) {
        result = report_print_csv(ctx, (long long)json_integer_value(id));
    } else {
        report_heading(response.json);
        report_summary(response.json);
        printf("\nthe rows: lebctl recon show %lld\n", (long long)json_integer_value(id));
    }
    http_response_free(&response);
    return result;
}

static const struct lebctl_option recon_import_options[] = {
    {"provider", "NAME", "whose statement it is: alipay, wechatpay or wechatpay_v2"},
    {"csv", NULL, "print the report's rows as CSV instead of the summary"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_recon_import = {
    .group = "recon",
    .name = "import",
    .synopsis = "FILE --provider NAME",
    .summary = "reconcile a payment provider's statement (- for stdin)",
    .help =
        "Sends the statement, as the provider published it, to POST\n"
        "/api/v1/admin/reconciliations: Alipay's business details (支付宝业务明细) or WeChat\n"
        "Pay's trade bill (交易账单), in UTF-8 or GBK. lebd classifies every row (matched,\n"
        "repaired, missing_from_statement, amount_mismatch, duplicate, unknown_order,\n"
        "order_mismatch, double_payment, refund_matched, refund_unknown), credits exactly once\n"
        "the payments it had never heard of, and keeps the report. The same file imported\n"
        "again changes nothing and shows the earlier report. A malformed row refuses the whole\n"
        "statement with its line number (exit 5). A progress bar is drawn on stderr when it is\n"
        "a terminal. Amounts are shown in yuan; --json prints lebd's report (amounts in fen).\n",
    .options = recon_import_options,
    .positionals_min = 1,
    .positionals_max = 1,
    .needs_login = true,
    .run = recon_import_run,
};

/* ---------------------------------------------------------------------------------------------
 * recon show
 * ------------------------------------------------------------------------------------------ */

static int recon_show_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const char *id_text = args->positionals[0];
    long long id = 0;
    if (parse_count(&id, id_text, 999999999999999999LL) != 0 || id == 0 ||
        strlen(id_text) > RECON_ID_DIGITS_MAX) {
        return usage_error(&lebctl_command_recon_show, "'%s' is not a reconciliation id", id_text);
    }
    bool csv = args_get(args, "csv") != NULL;
    if (csv && ctx->json) {
        return usage_error(&lebctl_command_recon_show, "--csv and --json: choose one");
    }
    if (csv) {
        return report_print_csv(ctx, id);
    }
    char path[LEBCTL_PATH_MAX];
    snprintf(path, sizeof path, "/api/v1/admin/reconciliations/%lld", id);
    struct http_response response;
    int result = api_call(ctx, &response, "GET", path, NULL);
    if (result == 0) {
        if (ctx->json) {
            out_json_raw(&response);
        } else {
            report_heading(response.json);
            report_summary(response.json);
            report_items(response.json);
        }
    }
    http_response_free(&response);
    return result;
}

static const struct lebctl_option recon_show_options[] = {
    {"csv", NULL,
     "print the rows as CSV: line,class,order_no,trade_no,statement_amount,\n"
     "leb_amount,repaired (amounts in fen)"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_recon_show = {
    .group = "recon",
    .name = "show",
    .synopsis = "ID",
    .summary = "show a reconciliation report and the rows that need a look",
    .help = "Sends GET /api/v1/admin/reconciliations/{id}. Matched rows are only counted; every\n"
            "other row is listed with its line in the statement. An unknown id exits 4.\n",
    .options = recon_show_options,
    .positionals_min = 1,
    .positionals_max = 1,
    .needs_login = true,
    .run = recon_show_run,
};
