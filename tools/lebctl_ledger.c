/*
 * lebctl_ledger.c - `lebctl ledger check`: lebd's proof that the double-entry ledger balances
 * and that every card's balance equals the sum of its entries.
 *
 * The check runs in lebd; lebctl reports it and turns the verdict into the exit status (0
 * balanced, 1 not), so cron jobs and monitoring can run it as is. The mismatches are shown
 * as a table whose columns are whatever lebd reports for each one, amounts in yuan.
 */
#include <stdlib.h>
#include <string.h>

#include "lebctl.h"

#define LEDGER_COLUMNS_MAX 16

/* The mismatches as a table: one column per member name, in the order first seen. */
static void ledger_print_mismatches(const json_t *mismatches)
{
    const char *names[LEDGER_COLUMNS_MAX];
    char *headers[LEDGER_COLUMNS_MAX];
    size_t column_count = 0;
    size_t index;
    const json_t *mismatch;
    json_array_foreach(mismatches, index, mismatch)
    {
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)mismatch, key, value)
        {
            bool known = false;
            for (size_t column = 0; column < column_count; column++) {
                known = known || strcmp(names[column], key) == 0;
            }
            if (!known && column_count < LEDGER_COLUMNS_MAX) {
                names[column_count++] = key;
            }
        }
    }
    if (column_count == 0) {
        /* Not objects: one column of whatever they are. */
        names[0] = NULL;
        column_count = 1;
    }
    for (size_t column = 0; column < column_count; column++) {
        headers[column] = xstrdup(names[column] != NULL ? names[column] : "mismatch");
        for (char *cursor = headers[column]; *cursor != '\0'; cursor++) {
            *cursor = *cursor == '_' ? ' '
                                     : (char)(*cursor >= 'a' && *cursor <= 'z' ? *cursor - 'a' + 'A'
                                                                               : *cursor);
        }
    }
    struct out_table *table = out_table_new(column_count, (const char *const *)headers);
    for (size_t column = 0; column < column_count; column++) {
        if (names[column] != NULL && out_is_money_key(names[column])) {
            out_table_align_right(table, column);
        }
    }
    json_array_foreach(mismatches, index, mismatch)
    {
        char *cells[LEDGER_COLUMNS_MAX];
        const json_t *currency = json_object_get(mismatch, "currency");
        for (size_t column = 0; column < column_count; column++) {
            const json_t *value =
                names[column] != NULL ? json_object_get(mismatch, names[column]) : mismatch;
            cells[column] =
                out_format_value(value, names[column] != NULL && out_is_money_key(names[column]),
                                 json_is_string(currency) ? json_string_value(currency) : NULL);
        }
        out_table_add_row_owned(table, cells);
    }
    out_table_print(table, stdout);
    out_table_free(table);
    for (size_t column = 0; column < column_count; column++) {
        free(headers[column]);
    }
}

static int ledger_check_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    struct http_response response;
    int result = api_call(ctx, &response, "GET", "/api/v1/admin/ledger/check", NULL);
    if (result != 0) {
        http_response_free(&response);
        return result;
    }
    const json_t *balanced = json_object_get(response.json, "balanced");
    if (!json_is_boolean(balanced)) {
        out_error("invalid_response", "%s answered the ledger check without a verdict",
                  ctx->server);
        http_response_free(&response);
        return LEBCTL_EXIT_SERVER;
    }
    result = json_is_true(balanced) ? LEBCTL_EXIT_OK : LEBCTL_EXIT_CHECK_FAILED;
    if (ctx->json) {
        out_json_raw(&response);
        http_response_free(&response);
        return result;
    }
    char *transactions =
        out_format_value(json_object_get(response.json, "transactions"), false, NULL);
    char *accounts = out_format_value(json_object_get(response.json, "accounts"), false, NULL);
    printf("balanced: %s, %s transactions, %s accounts\n", json_is_true(balanced) ? "yes" : "no",
           transactions, accounts);
    free(transactions);
    free(accounts);
    const json_t *mismatches = json_object_get(response.json, "mismatches");
    if (json_is_array(mismatches) && json_array_size(mismatches) > 0) {
        printf("\n%zu mismatch%s:\n", json_array_size(mismatches),
               json_array_size(mismatches) == 1 ? "" : "es");
        ledger_print_mismatches(mismatches);
    }
    http_response_free(&response);
    return result;
}

static const struct lebctl_option ledger_check_options[] = {
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_ledger_check = {
    .group = "ledger",
    .name = "check",
    .synopsis = "",
    .summary = "check that the ledger balances (exit 0 if it does, 1 if not)",
    .help = "Sends GET /api/v1/admin/ledger/check: lebd proves that every journal transaction\n"
            "sums to zero and that every card's balance equals the sum of its entries. Prints\n"
            "\"balanced: yes, N transactions, M accounts\", or \"balanced: no\" and the table of\n"
            "mismatches. Exits with 0 when balanced and 1 when not, also with --json.\n",
    .options = ledger_check_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = true,
    .run = ledger_check_run,
};
