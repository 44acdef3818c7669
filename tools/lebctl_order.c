/*
 * lebctl_order.c - `lebctl order show ORDER_NO`: one top-up, for support look-ups ("I paid but
 * it did not arrive"); `order list --status review`: the orders that wait for a human; and
 * `order resolve ORDER_NO --credit|--refund --reason TEXT`: an operator's decision, which lebd
 * keeps in its audit log.
 *
 * It shows what lebd answers, amounts in yuan; it interprets nothing: the order's state is
 * lebd's.
 */
#include <string.h>

#include "lebctl.h"

#define ORDER_NO_BYTES_MAX 128

static int order_show_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    static const char *const keys[] = {
        "order_no",     "status",          "card_no_masked",
        "face_amount",  "discount_amount", "fee_amount",
        "bonus_amount", "pay_amount",      "created_at",
        "paid_at",      "credited_at",     "expires_at",
        NULL,
    };
    static const char *const hidden[] = {"currency", NULL};
    const char *order_no = args->positionals[0];
    char escaped[3 * ORDER_NO_BYTES_MAX + 1];
    char path[LEBCTL_PATH_MAX];
    if (order_no[0] == '\0' || strlen(order_no) > ORDER_NO_BYTES_MAX ||
        http_escape_segment(escaped, sizeof escaped, order_no) != 0) {
        return usage_error(&lebctl_command_order_show, "'%s' is not an order number", order_no);
    }
    snprintf(path, sizeof path, "/api/v1/orders/%s", escaped);
    return api_show(ctx, "GET", path, NULL, NULL, keys, hidden);
}

static int order_list_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const char *status = args_get(args, "status");
    const char *limit = args_get(args, "limit");
    char escaped[3 * 32 + 1], path[LEBCTL_PATH_MAX];
    if (status == NULL || strlen(status) > 32 ||
        http_escape_segment(escaped, sizeof escaped, status) != 0)
        return usage_error(&lebctl_command_order_list, "--status is required");
    long long count = 50;
    if (limit != NULL && (parse_count(&count, limit, 1000) != 0 || count < 1))
        return usage_error(&lebctl_command_order_list, "--limit takes 1 to 1000");
    snprintf(path, sizeof path, "/api/v1/admin/orders?status=%s&limit=%lld", escaped, count);
    struct http_response response;
    int result = api_call(ctx, &response, "GET", path, NULL);
    if (result != 0 || ctx->json) {
        if (result == 0)
            out_json_raw(&response);
        http_response_free(&response);
        return result;
    }
    const json_t *orders = json_object_get(response.json, "orders");
    if (!json_is_array(orders)) {
        out_error("invalid_response", "%s answered without a list of orders", ctx->server);
        http_response_free(&response);
        return LEBCTL_EXIT_SERVER;
    }
    static const char *const headers[] = {"ORDER",   "STATUS", "CARD",      "PAY",
                                          "CREATED", "TRADE",  "LAST ERROR"};
    enum { COLUMNS = sizeof headers / sizeof headers[0] };
    struct out_table *table = out_table_new(COLUMNS, headers);
    out_table_align_right(table, 3);
    size_t index;
    const json_t *order;
    json_array_foreach(orders, index, order)
    {
        const json_t *provider = json_object_get(order, "provider_state");
        char *cells[COLUMNS] = {
            out_format_value(json_object_get(order, "order_no"), false, NULL),
            out_format_value(json_object_get(order, "status"), false, NULL),
            out_format_value(json_object_get(order, "card_no_masked"), false, NULL),
            out_format_value(json_object_get(order, "pay_amount"), true, NULL),
            out_format_value(json_object_get(order, "created_at"), false, NULL),
            out_format_value(json_object_get(order, "trade_no"), false, NULL),
            out_format_value(provider ? json_object_get(provider, "last_error") : NULL, false,
                             NULL),
        };
        out_table_add_row_owned(table, cells);
    }
    out_table_print(table, stdout);
    out_table_free(table);
    http_response_free(&response);
    return LEBCTL_EXIT_OK;
}

static int order_resolve_run(struct lebctl *ctx, const struct lebctl_args *args)
{
    const char *order_no = args->positionals[0];
    const char *reason = args_get(args, "reason");
    bool credit = args_get(args, "credit") != NULL, refund = args_get(args, "refund") != NULL;
    char escaped[3 * ORDER_NO_BYTES_MAX + 1], path[LEBCTL_PATH_MAX], heading[160];
    if (order_no[0] == '\0' || strlen(order_no) > ORDER_NO_BYTES_MAX ||
        http_escape_segment(escaped, sizeof escaped, order_no) != 0)
        return usage_error(&lebctl_command_order_resolve, "'%s' is not an order number", order_no);
    if (credit == refund)
        return usage_error(&lebctl_command_order_resolve, "say --credit or --refund, one of them");
    if (reason == NULL || reason[0] == '\0')
        return usage_error(&lebctl_command_order_resolve,
                           "--reason is required: it is kept in the audit log");
    snprintf(path, sizeof path, "/api/v1/admin/orders/%s/resolve", escaped);
    snprintf(heading, sizeof heading, "order %s: %s", order_no,
             credit ? "credited to the card" : "to be refunded to the payer");
    static const char *const keys[] = {"order_no",   "status",   "card_no_masked",
                                       "pay_amount", "trade_no", NULL};
    static const char *const hidden[] = {"currency", NULL};
    json_t *body =
        json_pack("{s:s, s:s}", "action", credit ? "credit" : "refund", "reason", reason);
    int result = api_show(ctx, "POST", path, body, heading, keys, hidden);
    json_decref(body);
    return result;
}

static const struct lebctl_option order_list_options[] = {
    {"status", "STATUS", "review, refunding, refunded, pending_payment, ... (required)"},
    {"limit", "N", "at most N orders, newest first (1..1000, default 50)"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_order_list = {
    .group = "order",
    .name = "list",
    .synopsis = "--status STATUS [--limit N]",
    .summary = "list orders in one status: those in review or refunding wait for a human",
    .help = "Sends GET /api/v1/admin/orders?status=STATUS. LAST ERROR is the provider's last\n"
            "answer to a query or a refund.\n",
    .options = order_list_options,
    .positionals_min = 0,
    .positionals_max = 0,
    .needs_login = true,
    .run = order_list_run,
};

static const struct lebctl_option order_resolve_options[] = {
    {"credit", NULL, "credit the card as the order was priced"},
    {"refund", NULL, "give back what was paid, through the provider that took it"},
    {"reason", "TEXT", "why (required; kept in the audit log with your name)"},
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_order_resolve = {
    .group = "order",
    .name = "resolve",
    .synopsis = "ORDER_NO --credit|--refund --reason TEXT",
    .summary = "decide an order in review: credit it or refund it",
    .help = "Sends POST /api/v1/admin/orders/{order_no}/resolve. An order that is not in\n"
            "review exits with 5 (illegal_transition); an unknown one with 4.\n",
    .options = order_resolve_options,
    .positionals_min = 1,
    .positionals_max = 1,
    .needs_login = true,
    .run = order_resolve_run,
};

static const struct lebctl_option order_show_options[] = {
    {NULL, NULL, NULL},
};

const struct lebctl_command lebctl_command_order_show = {
    .group = "order",
    .name = "show",
    .synopsis = "ORDER_NO",
    .summary = "show an order: status, amounts, when it was paid and credited",
    .help = "Sends GET /api/v1/orders/{order_no}; an unknown order exits with 4.\n",
    .options = order_show_options,
    .positionals_min = 1,
    .positionals_max = 1,
    .needs_login = false,
    .run = order_show_run,
};
