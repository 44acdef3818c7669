/*
 * lebctl_order.c - `lebctl order show ORDER_NO`: one top-up, for support look-ups ("I paid but
 * it did not arrive").
 *
 * It shows what lebd answers on the public order route, amounts in yuan; it interprets
 * nothing: the order's state is lebd's.
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
