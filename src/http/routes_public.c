/*
 * routes_public.c - health, metrics, the public card view, quotes, orders and balances.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cardno.h"
#include "http/http.h"
#include "pay/pay.h"
#include "util/log.h"
#include "util/qrsvg.h"

#define CARD_INPUT_MAX 64
#define IDEMPOTENCY_KEY_MAX 128

int route_healthz(struct http_request *request, struct http_response *response)
{
    return http_reply_json(response, 200, json_pack("{s:s}", "status", "ok"));
}

int route_readyz(struct http_request *request, struct http_response *response)
{
    return http_reply_json(response, 200, json_pack("{s:s}", "status", "ready"));
}

static void counter(char **out, size_t *size, size_t *capacity, const char *name, const char *help,
                    uint64_t value)
{
    http_buffer_append(out, size, capacity, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name,
                       help, name, name, (unsigned long long)value);
}

/* A Prometheus histogram from 8 bucket counts whose upper bounds are "bounds" (the last is
 * +Inf); "sum" is already in the histogram's unit. */
static void histogram(char **out, size_t *size, size_t *capacity, const char *name,
                      const char *help, const char *const bounds[8], const uint64_t buckets[8],
                      const char *sum, uint64_t count)
{
    http_buffer_append(out, size, capacity, "# HELP %s %s\n# TYPE %s histogram\n", name, help,
                       name);
    uint64_t cumulative = 0;
    for (int b = 0; b < 8; b++) {
        cumulative += buckets[b];
        http_buffer_append(out, size, capacity, "%s_bucket{le=\"%s\"} %llu\n", name, bounds[b],
                           (unsigned long long)cumulative);
    }
    http_buffer_append(out, size, capacity, "%s_sum %s\n%s_count %llu\n", name, sum, name,
                       (unsigned long long)count);
}

int route_metrics(struct http_request *request, struct http_response *response)
{
    static const char *const size_bounds[8] = {"1", "2", "4", "8", "16", "32", "64", "+Inf"};
    static const char *const time_bounds[8] = {"0.0005", "0.001", "0.002", "0.005",
                                               "0.01",   "0.025", "0.05",  "+Inf"};
    struct app *app = request->app;
    size_t size = 0, capacity = 8192;
    char *text = malloc(capacity);
    LEB_ASSERT(text != NULL);
    text[0] = '\0';
    http_metrics_render(request->server, &text, &size, &capacity);
    counter(&text, &size, &capacity, "leb_orders_created_total", "Orders created.",
            atomic_load(&app->counters.orders_created));
    counter(&text, &size, &capacity, "leb_orders_expired_total", "Orders expired unpaid.",
            atomic_load(&app->counters.orders_expired));
    counter(&text, &size, &capacity, "leb_payments_credited_total", "Payments credited to cards.",
            atomic_load(&app->counters.payments_credited));
    http_buffer_append(&text, &size, &capacity,
                       "# HELP leb_notifications_total Payment notifications (and query answers, "
                       "statement repairs) by provider and outcome.\n"
                       "# TYPE leb_notifications_total counter\n");
    for (int p = 0; p < PAYMENT_METHOD_COUNT; p++) {
        if (p == PAYMENT_AGENT_FLOAT)
            continue; /* no provider: an agent's float is not notified */
        for (int o = 0; o < PAYMENT_OUTCOME_COUNT; o++)
            http_buffer_append(&text, &size, &capacity,
                               "leb_notifications_total{provider=\"%s\",outcome=\"%s\"} %llu\n",
                               payment_method_name((enum payment_method)p),
                               payment_outcome_name((enum payment_outcome)o),
                               (unsigned long long)atomic_load(&app->counters.notifications[p][o]));
    }
    counter(&text, &size, &capacity, "leb_payment_queries_total",
            "Providers asked about unpaid orders (lost notifications).",
            atomic_load(&app->counters.payment_queries));
    counter(&text, &size, &capacity, "leb_refunds_completed_total",
            "Refunds the providers confirmed.", atomic_load(&app->counters.refunds_completed));
    counter(&text, &size, &capacity, "leb_refunds_refused_total",
            "Refunds the providers refused: orders left refunding for a human.",
            atomic_load(&app->counters.refunds_refused));

    struct store_stats stats;
    store_backend_of(app->store)->stats(app->store, &stats);
    counter(&text, &size, &capacity, "leb_store_commits_total",
            "Durable commits of the write path.", stats.commits);
    counter(&text, &size, &capacity, "leb_store_writes_total",
            "Writes committed (several share one commit).", stats.writes);
    char sum[32];
    snprintf(sum, sizeof(sum), "%llu", (unsigned long long)stats.writes);
    histogram(&text, &size, &capacity, "leb_store_batch_size", "Writes per commit.", size_bounds,
              stats.batch_size_buckets, sum, stats.commits);
    snprintf(sum, sizeof(sum), "%.6f", (double)stats.commit_us_sum / 1e6);
    histogram(&text, &size, &capacity, "leb_store_commit_seconds",
              "Time of one batch, BEGIN to durable COMMIT.", time_bounds, stats.commit_us_buckets,
              sum, stats.commits);
    response->status = 200;
    response->body = text;
    response->body_size = size;
    response->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

int route_card_public(struct http_request *request, struct http_response *response)
{
    if (!http_rate_limit_take(request, HTTP_LIMIT_CARD_LOOKUP)) {
        /* One token comes back every 60 / rate seconds: that is when to try again. */
        int64_t per_min = http_config(request->server)->card_lookup_per_min;
        char seconds[24];
        snprintf(seconds, sizeof(seconds), "%lld", (long long)((60 + per_min - 1) / per_min));
        http_header_add(response, "Retry-After", seconds);
        return LEB_E_RATE_LIMITED;
    }
    struct card_row card;
    int rc = app_card_find(request->app, &card, request->params[0]);
    if (rc < 0)
        return rc;
    struct plan plan;
    rc = STORE_CALL(request->app->store, plan_get, &plan, card.plan_code);
    if (rc < 0)
        return rc == LEB_E_PLAN_NOT_FOUND ? LEB_E_INTERNAL : rc;
    char card_masked[CARDNO_MASKED_SIZE], msisdn_masked[MSISDN_MASKED_SIZE];
    cardno_mask(card_masked, card.card_no);
    msisdn_mask(msisdn_masked, card.msisdn);
    json_t *denominations = json_array();
    for (size_t i = 0; i < plan.denominations_count; i++)
        json_array_append_new(denominations, json_integer(plan.denominations[i]));
    return http_reply_json(
        response, 200,
        json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:s, s:b, s:o, s:I, s:I, s:I}", "card_no_masked",
                  card_masked, "msisdn_masked", msisdn_masked, "plan", "code", plan.code, "name",
                  plan.name, "currency", plan.currency, "status", card_status_name(card.status),
                  "rechargeable", card_is_rechargeable(card.status, &plan), "denominations",
                  denominations, "min_amount", (json_int_t)plan.amount_min, "max_amount",
                  (json_int_t)plan.amount_max, "amount_step", (json_int_t)plan.amount_step));
}

int route_card_balance(struct http_request *request, struct http_response *response)
{
    struct card_row card;
    int rc = http_require(request, PERM_CARD_READ_ANY);
    bool portal = rc == LEB_E_FORBIDDEN && request->token.role == ROLE_PORTAL;
    if (rc < 0 && !portal)
        return rc;
    rc = app_card_find(request->app, &card, request->params[0]);
    if (portal && (rc < 0 || strcmp(card.card_no, request->token.card_no) != 0))
        return LEB_E_FORBIDDEN; /* a portal session sees its own card and nothing else */
    if (rc < 0)
        return rc;
    return http_reply_json(response, 200, http_json_card_full(&card));
}

/* The body of a quote or an order. */
static int order_request_parse(struct http_request *request, struct http_response *response,
                               json_t **root, struct order_request *out)
{
    static const char *const fields[] = {"card", "face_amount", "channel", "payment_method", NULL};
    int rc = http_body_json(request, root);
    if (rc < 0)
        return rc;
    const char *channel = NULL, *method = NULL;
    memset(out, 0, sizeof(*out));
    out->caller = CALLER_PUBLIC;
    rc = http_fields_only(response, *root, fields);
    if (rc == 0)
        rc = http_field_string(response, *root, "card", true, CARD_INPUT_MAX, &out->card);
    if (rc == 0)
        rc = http_field_amount(response, *root, "face_amount", true, &out->face_amount);
    if (rc == 0)
        rc = http_field_string(response, *root, "channel", true, 32, &channel);
    if (rc == 0)
        rc = http_field_string(response, *root, "payment_method", true, 32, &method);
    if (rc == 0 && channel_parse(&out->channel, channel) < 0)
        rc = http_error(response, LEB_E_INVALID_REQUEST, "unknown channel");
    if (rc == 0 && payment_method_parse(&out->method, method) < 0)
        rc = http_error(response, LEB_E_INVALID_REQUEST, "unknown payment_method");
    return rc;
}

int route_quote(struct http_request *request, struct http_response *response)
{
    json_t *root = NULL;
    struct order_request order_request;
    int rc = order_request_parse(request, response, &root, &order_request);
    struct quote quote;
    if (rc == 0)
        rc = app_quote(request->app, &quote, &order_request);
    json_decref(root);
    if (rc < 0)
        return rc;
    return http_reply_json(
        response, 200,
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "face_amount", (json_int_t)quote.face_amount,
                  "discount_amount", (json_int_t)quote.discount_amount, "fee_amount",
                  (json_int_t)quote.fee_amount, "bonus_amount", (json_int_t)quote.bonus_amount,
                  "pay_amount", (json_int_t)quote.pay_amount, "currency", quote.currency));
}

json_t *http_json_order(const struct app *app, const struct order_row *order)
{
    char card_masked[CARDNO_MASKED_SIZE];
    cardno_mask(card_masked, order->card_no);
    json_t *view = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "order_no",
        order->order_no, "status", order_status_name(order->status), "card_no_masked", card_masked,
        "face_amount", (json_int_t)order->quote.face_amount, "discount_amount",
        (json_int_t)order->quote.discount_amount, "fee_amount", (json_int_t)order->quote.fee_amount,
        "bonus_amount", (json_int_t)order->quote.bonus_amount, "pay_amount",
        (json_int_t)order->quote.pay_amount, "currency", order->quote.currency, "channel",
        channel_name(order->channel), "payment_method", payment_method_name(order->method),
        "created_at", http_json_time(order->created_at), "expires_at",
        http_json_time(order->expires_at), "paid_at", http_json_time(order->paid_at), "credited_at",
        http_json_time(order->credited_at));
    LEB_ASSERT(view != NULL);
    const struct pay_provider *provider = pay_provider_for(app, order->method);
    if (provider != NULL && order->status == ORDER_PENDING_PAYMENT) {
        struct pay_links links = {.pay_url = "", .qr_text = ""};
        struct order_payment_row payment;
        if (provider == &pay_sandbox)
            pay_sandbox_links(app, order, &links);
        else if (STORE_CALL(app->store, order_payment_get, &payment, order->order_no) == 0) {
            memcpy(links.pay_url, payment.pay_url, sizeof(links.pay_url));
            memcpy(links.qr_text, payment.qr_text, sizeof(links.qr_text));
        }
        json_object_set_new(view, "payment",
                            json_pack("{s:s, s:s, s:s}", "provider", provider->name, "pay_url",
                                      links.pay_url, "qr_text", links.qr_text));
    }
    return view;
}

int route_order_create(struct http_request *request, struct http_response *response)
{
    const char *key = http_header(request, "Idempotency-Key");
    if (key != NULL && (key[0] == '\0' || strlen(key) > IDEMPOTENCY_KEY_MAX))
        return http_error(response, LEB_E_INVALID_REQUEST,
                          "Idempotency-Key must be 1 to %d characters", IDEMPOTENCY_KEY_MAX);
    json_t *root = NULL;
    struct order_request order_request;
    int rc = order_request_parse(request, response, &root, &order_request);
    struct order_row order;
    bool replayed = false;
    if (rc == 0)
        rc = app_order_create(request->app, &order, &replayed, &order_request, key);
    json_decref(root);
    if (rc < 0)
        return rc;
    if (!replayed) {
        char card_masked[CARDNO_MASKED_SIZE], amount[32];
        cardno_mask(card_masked, order.card_no);
        snprintf(amount, sizeof(amount), LOG_RAW_PREFIX "%lld", (long long)order.quote.face_amount);
        LOG_INFO("order created", "request_id", request->request_id, "order_no", order.order_no,
                 "card", card_masked, "face_amount", amount, "channel", channel_name(order.channel),
                 "payment_method", payment_method_name(order.method));
    }
    return http_reply_json(response, replayed ? 200 : 201, http_json_order(request->app, &order));
}

int route_order_get(struct http_request *request, struct http_response *response)
{
    struct order_row order;
    int rc = STORE_CALL(request->app->store, order_get, &order, request->params[0]);
    if (rc < 0)
        return rc;
    return http_reply_json(response, 200, http_json_order(request->app, &order));
}

/* The QR code of an unpaid order's payment, for the payer to scan with the provider's app. */
int route_order_qr(struct http_request *request, struct http_response *response)
{
    struct order_row order;
    int rc = STORE_CALL(request->app->store, order_get, &order, request->params[0]);
    if (rc < 0)
        return rc;
    const struct pay_provider *provider = pay_provider_for(request->app, order.method);
    struct pay_links links = {.qr_text = ""};
    struct order_payment_row payment;
    if (provider == &pay_sandbox)
        pay_sandbox_links(request->app, &order, &links);
    else if (provider != NULL &&
             STORE_CALL(request->app->store, order_payment_get, &payment, order.order_no) == 0)
        memcpy(links.qr_text, payment.qr_text, sizeof(links.qr_text));
    if (order.status != ORDER_PENDING_PAYMENT || links.qr_text[0] == '\0')
        return http_error(response, LEB_E_NOT_FOUND,
                          "no QR code: the order is not waiting for a payment");
    size_t size = 0;
    char *svg = qr_svg(links.qr_text, &size);
    if (svg == NULL)
        return LEB_E_INTERNAL;
    response->status = 200;
    response->body = svg;
    response->body_size = size;
    response->content_type = "image/svg+xml";
    return 0;
}

/* The payment methods a payer may choose on this server, in the order the page shows them. */
int route_payment_methods(struct http_request *request, struct http_response *response)
{
    static const enum payment_method shown[] = {
        PAYMENT_ALIPAY, PAYMENT_WECHATPAY, PAYMENT_WECHATPAY_V2, PAYMENT_CARD, PAYMENT_SANDBOX};
    json_t *methods = json_array();
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
        if (pay_provider_for(request->app, shown[i]) != NULL)
            json_array_append_new(methods, json_string(payment_method_name(shown[i])));
    return http_reply_json(response, 200, json_pack("{s:o}", "methods", methods));
}
