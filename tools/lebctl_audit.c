/*
 * lebctl_audit.c - `lebctl audit list [--subject S]`: what operators decided about money, who,
 * when and why, newest first, as lebd's append-only audit log keeps it.
 */
#include <string.h>

#include "lebctl.h"

#define AUDIT_SUBJECT_MAX 63

static int audit_list_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const char *subject = args_get(args, "subject");
    const char *limit = args_get(args, "limit");
    char escaped[3 * AUDIT_SUBJECT_MAX + 1], path[LEBCTL_PATH_MAX];
    long long count = 50;
    if (limit != NULL && (parse_count(&count, limit, 1000) != 0 || count < 1))
        return usage_error(&lebctl_command_audit_list, "--limit takes 1 to 1000");
    size_t used = (size_t)snprintf(path, sizeof path, "/api/v1/admin/audit?limit=%lld", count);
    if (subject != NULL) {
        if (subject[0] == '\0' || strlen(subject) > AUDIT_SUBJECT_MAX ||
            http_escape_segment(escaped, sizeof escaped, subject) != 0)
            return usage_error(&lebctl_command_audit_list, "--subject is 1 to %d bytes",
                               AUDIT_SUBJECT_MAX);
        snprintf(path + used, sizeof path - used, "&subject=%s", escaped);
    }
    struct http_response response;
    int result = api_call(ctx, &response, "GET", path, NULL);
    if (result != 0 || ctx->json) {
        if (result == 0)
            out_json_raw(&response);
        http_response_free(&response);
        return result;
    }
    const json_t *entries = json_object_get(response.json, "entries");
    if (!json_is_array(entries)) {
        out_error("invalid_response", "%s answered without a list of entries", ctx->server);
        http_response_free(&response);
        return LEBCTL_EXIT_SERVER;
    }
    static const char *const headers[] = {"ID", "AT", "WHO", "ACTION", "SUBJECT", "REASON"};
    enum { COLUMNS = sizeof headers / sizeof headers[0] };
    struct out_table *table = out_table_new(COLUMNS, headers);
    out_table_align_right(table, 0);
    size_t index;
    const json_t *entry;
    json_array_foreach(entries, index, entry)
    {
        char *cells[COLUMNS] = {
            out_format_value(json_object_get(entry, "id"), false, NULL),
            out_format_value(json_object_get(entry, "at"), false, NULL),
            out_format_value(json_object_get(entry, "actor"), false, NULL),
            out_format_value(json_object_get(entry, "action"), false, NULL),
            out_format_value(json_object_get(entry, "subject"), false, NULL),
            out_format_value(json_object_get(entry, "reason"), false, NULL),
        };
        out_table_add_row_owned(table, cells);
    }
    out_table_print(table, stdout);
    out_table_free(table);
    http_response_free(&response);
    return LEBCTL_EXIT_OK;
}

static const struct lebctl_option audit_list_options[] = {
    {"subject", "S", "only what is about S: an order number, recon:ID"},
    {"limit", "N", "at most N entries, newest first (1..1000, default 50)"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_audit_list = {
    .group = "audit",
    .name = "list",
    .synopsis = "[--subject S] [--limit N]",
    .summary = "list operators' decisions about money: who, when, what and why",
    .help = "Sends GET /api/v1/admin/audit. --json shows each entry's details as well.\n",
    .options = audit_list_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = true,
    .run = audit_list_run,
};
