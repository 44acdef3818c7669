/*
 * routes_review.c - what operators do about orders that wait for a human: list them by status,
 * resolve one in review (credit or refund, with a reason), and read the audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "util/log.h"

#define ORDERS_LIMIT_DEFAULT 50
#define ORDERS_LIMIT_MAX 1000
#define REASON_MAX 500

/* An order as operators see it: the payer's view, the card in full, the trade, and what the
 * providers' side knows (the refund's state, the last error). */
static json_t *order_admin_view(struct app *app, const struct order_row *order)
{
    json_t *view = http_json_order(app, order);
    json_object_set_new(view, "card_no", json_string(order->card_no));
    json_object_set_new(view, "trade_no",
                        order->trade_no[0] ? json_string(order->trade_no) : json_null());
    struct order_payment_row payment;
    if (STORE_CALL(app->store, order_payment_get, &payment, order->order_no) == 0) {
        json_t *provider =
            json_pack("{s:s, s:I, s:o, s:I, s:o, s:o}", "provider", payment.provider,
                      "query_attempts", (json_int_t)payment.query_attempts, "next_query_at",
                      http_json_time(payment.next_query_at), "refund_attempts",
                      (json_int_t)payment.refund_attempts, "next_refund_at",
                      http_json_time(payment.next_refund_at), "last_error",
                      payment.last_error[0] ? json_string(payment.last_error) : json_null());
        if (payment.refund_id[0] != '\0')
            json_object_set_new(provider, "refund_id", json_string(payment.refund_id));
        if (payment.refund_amount > 0)
            json_object_set_new(provider, "refund_amount", json_integer(payment.refund_amount));
        json_object_set_new(view, "provider_state", provider);
    }
    return view;
}

int route_orders_list(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_ORDER_READ_ANY);
    if (rc < 0)
        return rc;
    const char *status_text = http_query(request, "status");
    enum order_status status;
    if (status_text == NULL || order_status_parse(&status, status_text) < 0)
        return http_error(response, LEB_E_INVALID_REQUEST,
                          "status is required: pending_payment, paid, succeeded, failed, "
                          "expired, review, refunding or refunded");
    long limit;
    rc = http_query_limit(request, response, ORDERS_LIMIT_DEFAULT, ORDERS_LIMIT_MAX, &limit);
    if (rc < 0)
        return rc;
    struct order_row *orders = NULL;
    size_t count = 0;
    rc = store_backend_of(request->app->store)
             ->orders_by_status(request->app->store, &orders, &count, status, (size_t)limit);
    if (rc < 0)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++)
        json_array_append_new(list, order_admin_view(request->app, &orders[i]));
    free(orders);
    return http_reply_json(response, 200, json_pack("{s:o}", "orders", list));
}

int route_order_resolve(struct http_request *request, struct http_response *response)
{
    static const char *const fields[] = {"action", "reason", NULL};
    int rc = http_require(request, PERM_MONEY_RESOLVE);
    if (rc < 0)
        return rc;
    json_t *root = NULL;
    rc = http_body_json(request, &root);
    if (rc < 0)
        return rc;
    const char *action = NULL, *reason = NULL;
    rc = http_fields_only(response, root, fields);
    if (rc == 0)
        rc = http_field_string(response, root, "action", true, 16, &action);
    if (rc == 0)
        rc = http_field_string(response, root, "reason", true, REASON_MAX, &reason);
    if (rc == 0 && strcmp(action, "credit") != 0 && strcmp(action, "refund") != 0)
        rc = http_error(response, LEB_E_INVALID_REQUEST, "action must be credit or refund");
    struct order_resolution resolution = {.order_no = request->params[0],
                                          .actor = request->token.username,
                                          .reason = reason,
                                          .credit = action && strcmp(action, "credit") == 0};
    struct order_row order;
    if (rc == 0)
        rc = app_order_resolve(request->app, &order, &resolution);
    json_decref(root);
    if (rc == LEB_E_ILLEGAL_TRANSITION)
        return http_error(response, rc, "only an order in review, with its payment, is resolved");
    if (rc < 0)
        return rc;
    LOG_INFO("order resolved", "request_id", request->request_id, "by", request->token.username,
             "order_no", order.order_no, "action", resolution.credit ? "credit" : "refund");
    return http_reply_json(response, 200, order_admin_view(request->app, &order));
}

int route_audit_list(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_LEDGER_READ);
    if (rc < 0)
        return rc;
    long limit;
    rc = http_query_limit(request, response, ORDERS_LIMIT_DEFAULT, ORDERS_LIMIT_MAX, &limit);
    if (rc < 0)
        return rc;
    const char *subject = http_query(request, "subject");
    if (subject != NULL && (subject[0] == '\0' || strlen(subject) >= 64))
        return http_error(response, LEB_E_INVALID_REQUEST, "subject is 1 to 63 bytes");
    struct audit_row *rows = NULL;
    size_t count = 0;
    rc = store_backend_of(request->app->store)
             ->audit_list(request->app->store, &rows, &count, subject, (size_t)limit);
    if (rc < 0)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < count; i++) {
        json_t *details = rows[i].details ? json_loads(rows[i].details, 0, NULL) : NULL;
        json_array_append_new(
            list, json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:o}", "id", (json_int_t)rows[i].id,
                            "at", http_json_time(rows[i].at), "actor", rows[i].actor, "action",
                            rows[i].action, "subject", rows[i].subject, "reason", rows[i].reason,
                            "details", details ? details : json_null()));
    }
    audit_rows_free(rows, count);
    return http_reply_json(response, 200, json_pack("{s:o}", "entries", list));
}
