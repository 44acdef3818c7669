/*
 * lebctl_outbox.c - `lebctl outbox list` and `lebctl outbox resend ID`: the messages lebd owes
 * the outside world (SMS, telecom webhooks), their delivery state, and a second chance for a
 * dead letter. It shows what lebd answers; delivery is lebd's.
 */
#include <stdio.h>
#include <string.h>

#include "lebctl.h"

#define OUTBOX_QUERY_MAX 256
#define OUTBOX_ID_DIGITS_MAX 18

static int outbox_list_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const char *status = args_get(args, "status");
    const char *kind = args_get(args, "kind");
    const char *destination = args_get(args, "destination");
    const char *delivery = args_get(args, "delivery");
    const char *limit = args_get(args, "limit");
    char path[LEBCTL_PATH_MAX], escaped[3 * OUTBOX_QUERY_MAX + 1];
    size_t used =
        (size_t)snprintf(path, sizeof path, "/api/v1/admin/outbox?limit=%s", limit ? "" : "50");
    if (limit != NULL) {
        if (strlen(limit) > 4 || strspn(limit, "0123456789") != strlen(limit) || limit[0] == '\0')
            return usage_error(&lebctl_command_outbox_list, "--limit takes 1 to 1000");
        used += (size_t)snprintf(path + used, sizeof path - used, "%s", limit);
    }
    const char *names[] = {"status", "kind", "destination", "delivery"};
    const char *values[] = {status, kind, destination, delivery};
    for (size_t i = 0; i < 4; i++) {
        if (values[i] == NULL)
            continue;
        if (strlen(values[i]) > OUTBOX_QUERY_MAX ||
            http_escape_segment(escaped, sizeof escaped, values[i]) != 0)
            return usage_error(&lebctl_command_outbox_list, "--%s is too long", names[i]);
        used += (size_t)snprintf(path + used, sizeof path - used, "&%s=%s", names[i], escaped);
        if (used >= sizeof path)
            return usage_error(&lebctl_command_outbox_list, "the filters are too long");
    }
    struct http_response response;
    int result = api_call(ctx, &response, "GET", path, NULL);
    if (result != 0 || ctx->json) {
        if (result == 0)
            out_json_raw(&response);
        http_response_free(&response);
        return result;
    }
    const json_t *messages = json_object_get(response.json, "messages");
    if (!json_is_array(messages)) {
        out_error("invalid_response", "%s answered without a list of messages", ctx->server);
        http_response_free(&response);
        return LEBCTL_EXIT_SERVER;
    }
    static const char *const headers[] = {"ID",       "KIND", "TO",       "WHAT",      "STATUS",
                                          "ATTEMPTS", "NEXT", "DELIVERY", "LAST ERROR"};
    enum { COLUMNS = sizeof headers / sizeof headers[0] };
    struct out_table *table = out_table_new(COLUMNS, headers);
    out_table_align_right(table, 0);
    out_table_align_right(table, 5);
    size_t index;
    const json_t *message;
    json_array_foreach(messages, index, message)
    {
        const json_t *payload = json_object_get(message, "payload");
        const json_t *what = json_object_get(payload, "event");
        if (what == NULL)
            what = json_object_get(payload, "template");
        char *cells[COLUMNS] = {
            out_format_value(json_object_get(message, "id"), false, NULL),
            out_format_value(json_object_get(message, "kind"), false, NULL),
            out_format_value(json_object_get(message, "destination"), false, NULL),
            out_format_value(what, false, NULL),
            out_format_value(json_object_get(message, "status"), false, NULL),
            out_format_value(json_object_get(message, "attempts"), false, NULL),
            out_format_value(json_object_get(message, "next_attempt_at"), false, NULL),
            out_format_value(json_object_get(message, "delivery"), false, NULL),
            out_format_value(json_object_get(message, "last_error"), false, NULL),
        };
        out_table_add_row_owned(table, cells);
    }
    out_table_print(table, stdout);
    out_table_free(table);
    http_response_free(&response);
    return LEBCTL_EXIT_OK;
}

/* One line per kind: how many wait, went and died, and where the gateway says the SMS are. */
static int outbox_summary_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    (void)args;
    struct http_response response;
    int result = api_call(ctx, &response, "GET", "/api/v1/admin/outbox/summary", NULL);
    if (result != 0 || ctx->json) {
        if (result == 0)
            out_json_raw(&response);
        http_response_free(&response);
        return result;
    }
    const json_t *kinds = json_object_get(response.json, "kinds");
    if (!json_is_object(kinds)) {
        out_error("invalid_response", "%s answered without the counts", ctx->server);
        http_response_free(&response);
        return LEBCTL_EXIT_SERVER;
    }
    static const char *const headers[] = {"KIND",     "PENDING",  "DELIVERED", "DEAD",
                                          "QUEUED",   "ACCEPTED", "ON PHONE",  "UNDELIVERED",
                                          "REJECTED", "NO REPORT"};
    static const char *const reports[] = {"queued",      "accepted", "delivered",
                                          "undelivered", "rejected", "none"};
    enum { COLUMNS = sizeof headers / sizeof headers[0] };
    struct out_table *table = out_table_new(COLUMNS, headers);
    for (size_t column = 1; column < COLUMNS; column++)
        out_table_align_right(table, column);
    const char *name;
    const json_t *kind;
    json_object_foreach((json_t *)kinds, name, kind)
    {
        const json_t *delivery = json_object_get(kind, "delivery");
        bool sms = strcmp(name, "sms") == 0;
        char *cells[COLUMNS] = {
            xstrdup(name),
            out_format_value(json_object_get(kind, "pending"), false, NULL),
            out_format_value(json_object_get(kind, "delivered"), false, NULL),
            out_format_value(json_object_get(kind, "dead"), false, NULL),
        };
        for (size_t i = 0; i < sizeof reports / sizeof reports[0]; i++) {
            const json_t *count = json_object_get(delivery, reports[i]);
            json_t *zero = json_integer(0);
            cells[4 + i] = sms ? out_format_value(count ? count : zero, false, NULL) : NULL;
            json_decref(zero);
        }
        out_table_add_row_owned(table, cells);
    }
    out_table_print(table, stdout);
    out_table_free(table);
    http_response_free(&response);
    return LEBCTL_EXIT_OK;
}

static int outbox_resend_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const char *id = args->positionals[0];
    if (id[0] == '\0' || strlen(id) > OUTBOX_ID_DIGITS_MAX ||
        strspn(id, "0123456789") != strlen(id))
        return usage_error(&lebctl_command_outbox_resend, "'%s' is not a message id", id);
    char path[LEBCTL_PATH_MAX], heading[64];
    snprintf(path, sizeof path, "/api/v1/admin/outbox/%s/resend", id);
    snprintf(heading, sizeof heading, "message %s will be sent again", id);
    static const char *const keys[] = {
        "id", "kind", "destination", "status", "attempts", "next_attempt_at", NULL};
    static const char *const hidden[] = {"payload", "last_error", "created_at", NULL};
    json_t *body = json_object();
    int result = api_show(ctx, "POST", path, body, heading, keys, hidden);
    json_decref(body);
    return result;
}

static const struct lebctl_option outbox_list_options[] = {
    {"status", "STATUS", "pending, delivered or dead"},
    {"kind", "KIND", "sms or webhook"},
    {"destination", "TO", "a phone number, or telecom"},
    {"delivery", "STATE",
     "SMS by the gateway's report: none, queued, accepted, delivered, "
     "undelivered or rejected"},
    {"limit", "N", "at most N messages, newest first (1..1000, default 50)"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_outbox_list = {
    .group = "outbox",
    .name = "list",
    .synopsis = "[--status STATUS] [--kind KIND] [--destination TO] [--delivery STATE] [--limit N]",
    .summary = "list outgoing messages (SMS, telecom webhooks) and their delivery state",
    .help = "Sends GET /api/v1/admin/outbox. Dead letters: --status dead. DELIVERY is the SMS\n"
            "gateway's last delivery report; STATUS delivered means the gateway took it.\n",
    .options = outbox_list_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = true,
    .run = outbox_list_run,
};

static const struct lebctl_option outbox_summary_options[] = {
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_outbox_summary = {
    .group = "outbox",
    .name = "summary",
    .synopsis = "",
    .summary = "count outgoing messages by kind and state, and SMS by delivery report",
    .help = "Sends GET /api/v1/admin/outbox/summary. DELIVERED counts what the gateway took;\n"
            "ON PHONE what the phone reported received.\n",
    .options = outbox_summary_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = true,
    .run = outbox_summary_run,
};

static const struct lebctl_option outbox_resend_options[] = {
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_outbox_resend = {
    .group = "outbox",
    .name = "resend",
    .synopsis = "ID",
    .summary = "send a dead message again",
    .help = "Sends POST /api/v1/admin/outbox/{id}/resend. A message that is not dead exits 5\n"
            "(illegal_transition); an unknown one exits 4.\n",
    .options = outbox_resend_options,
    .positionals_min = 1,
    .positionals_max = 1,
    .needs_login = true,
    .run = outbox_resend_run,
};
