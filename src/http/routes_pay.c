/*
 * routes_pay.c - payment notifications, and the sandbox provider's demo pages.
 *
 * A notification is verified by its provider (src/pay) over the raw bytes before anything is
 * parsed or recorded; a forged one changes nothing and is answered 401.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "http/http.h"
#include "pay/pay.h"
#include "util/http_client.h"
#include "util/log.h"

#define SANDBOX_CALL_TIMEOUT_MS 10000

static const char *request_header(void *context, const char *name)
{
    return http_header(context, name);
}

int route_sandbox_notify(struct http_request *request, struct http_response *response)
{
    if (!request->app->sandbox_enabled)
        return LEB_E_NOT_FOUND;
    const char *type = http_header(request, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (type == NULL || strncasecmp(type, "application/json", 16) != 0 ||
        (type[16] != '\0' && type[16] != ';' && type[16] != ' '))
        return LEB_E_UNSUPPORTED_MEDIA_TYPE;
    struct pay_notify_input input = {.body = request->body,
                                     .body_size = request->body_size,
                                     .content_type = type,
                                     .header = request_header,
                                     .header_context = request};
    struct pay_notify_parsed parsed;
    int rc = pay_sandbox.notify_parse(request->app, &input, &parsed);
    if (rc < 0) {
        if (rc == LEB_E_INVALID_SIGNATURE)
            LOG_WARN("payment notification refused", "request_id", request->request_id, "provider",
                     "sandbox", "reason", "invalid_signature");
        return rc;
    }
    enum payment_outcome outcome;
    rc = app_payment_apply(request->app, &outcome, &parsed.notice);
    if (rc == 0)
        LOG_INFO("payment notification", "request_id", request->request_id, "provider", "sandbox",
                 "order_no", parsed.notice.order_no, "outcome", payment_outcome_name(outcome));
    pay_notify_parsed_free(&parsed);
    if (rc < 0)
        return rc;
    if (outcome == PAYMENT_UNKNOWN_ORDER)
        return LEB_E_ORDER_NOT_FOUND;
    return http_reply_json(response, 200, json_pack("{s:b}", "received", 1));
}

/*
 * A real provider's notification: verified by its provider over the raw bytes, applied
 * exactly once, and answered as that provider expects. A verified message that LEB cannot act
 * on (unknown order, another amount or merchant) is recorded and acknowledged, since sending it
 * again cannot help; one that could not be recorded is answered so that the provider resends.
 */
int route_payment_notify(struct http_request *request, struct http_response *response)
{
    const struct pay_provider *provider = pay_provider_named(request->app, request->params[0]);
    if (provider == NULL || provider->notify_parse == NULL || provider->notify_reply == NULL)
        return http_error(response, LEB_E_NOT_FOUND, "no such payment provider here");
    struct pay_notify_input input = {
        .body = request->body ? request->body : "",
        .body_size = request->body_size,
        .content_type = http_header(request, MHD_HTTP_HEADER_CONTENT_TYPE),
        .header = request_header,
        .header_context = request,
    };
    struct pay_notify_parsed parsed;
    enum pay_verdict verdict = PAY_VERDICT_REJECTED;
    int rc = provider->notify_parse(request->app, &input, &parsed);
    enum payment_outcome outcome = PAYMENT_OUTCOME_COUNT;
    if (rc < 0) {
        LOG_WARN("payment notification refused", "request_id", request->request_id, "provider",
                 provider->name, "reason", leb_error_name(rc));
    } else if (rc == PAY_NOTIFY_IGNORED) {
        verdict = PAY_VERDICT_ACCEPTED;
        LOG_INFO("payment notification ignored", "request_id", request->request_id, "provider",
                 provider->name);
    } else {
        rc = app_payment_apply(request->app, &outcome, &parsed.notice);
        verdict = rc == 0 ? PAY_VERDICT_ACCEPTED : PAY_VERDICT_RETRY;
        LOG_INFO("payment notification", "request_id", request->request_id, "provider",
                 provider->name, "order_no", parsed.notice.order_no, "outcome",
                 rc == 0 ? payment_outcome_name(outcome) : leb_error_name(rc));
        pay_notify_parsed_free(&parsed);
    }
    struct pay_reply reply = {0};
    provider->notify_reply(verdict, &reply);
    if (reply.status == 204)
        return http_reply_text(response, 204, reply.content_type, "");
    return http_reply_text(response, reply.status, reply.content_type, reply.body);
}

int route_sandbox_page(struct http_request *request, struct http_response *response)
{
    if (!request->app->sandbox_enabled)
        return LEB_E_NOT_FOUND;
    static __thread char path[512];
    snprintf(path, sizeof(path), "%s/sandbox.html", http_config(request->server)->web_root);
    response->status = 200;
    response->file_path = path;
    response->content_type = "text/html; charset=utf-8";
    return 0;
}

/* Plays the provider: signs a notification for "order" and posts it over HTTP to this lebd's
 * own notify route, exactly as the provider's servers would. */
static int sandbox_send(struct app *app, const struct order_row *order, bool success, long *status)
{
    unsigned char random[8];
    randombytes_buf(random, sizeof(random));
    char trade_no[2 * sizeof(random) + 1];
    sodium_bin2hex(trade_no, sizeof(trade_no), random, sizeof(random));
    char body[512];
    snprintf(body, sizeof(body),
             "{\"order_no\":\"%s\",\"trade_no\":\"SBX%s\",\"amount\":%lld,\"status\":\"%s\"}",
             order->order_no, trade_no, (long long)order->quote.pay_amount,
             success ? "SUCCESS" : "FAILED");
    char signature[PAY_SIGNATURE_HEX_SIZE], header[128], url[256];
    pay_sandbox_sign(signature, app->sandbox_secret, body, strlen(body));
    snprintf(header, sizeof(header), "X-Sandbox-Signature: %s", signature);
    snprintf(url, sizeof(url), "%s/api/v1/payments/sandbox/notify", app->self_url);

    const char *const headers[] = {"Content-Type: application/json", header, NULL};
    char error[HTTP_CLIENT_ERROR_SIZE];
    if (http_client_post(url, headers, body, SANDBOX_CALL_TIMEOUT_MS, status, error) < 0) {
        LOG_ERROR("sandbox: cannot reach the notify route", "error", error);
        return LEB_E_UNAVAILABLE;
    }
    return 0;
}

int route_sandbox_pay(struct http_request *request, struct http_response *response)
{
    static const char *const fields[] = {"action", NULL};
    if (!request->app->sandbox_enabled)
        return LEB_E_NOT_FOUND;
    json_t *root = NULL;
    const char *action = NULL;
    int rc = http_body_json(request, &root);
    if (rc == 0)
        rc = http_fields_only(response, root, fields);
    if (rc == 0)
        rc = http_field_string(response, root, "action", true, 8, &action);
    bool success = action && strcmp(action, "pay") == 0;
    if (rc == 0 && !success && strcmp(action, "fail") != 0)
        rc = http_error(response, LEB_E_INVALID_REQUEST, "action must be pay or fail");
    json_decref(root);
    if (rc < 0)
        return rc;
    struct order_row order;
    rc = STORE_CALL(request->app->store, order_get, &order, request->params[0]);
    if (rc < 0)
        return rc;
    long status = 0;
    rc = sandbox_send(request->app, &order, success, &status);
    if (rc < 0)
        return rc;
    if (status != 200)
        return http_error(response, LEB_E_UNAVAILABLE, "the notify route answered %ld", status);
    rc = STORE_CALL(request->app->store, order_get, &order, request->params[0]);
    if (rc < 0)
        return rc;
    return http_reply_json(response, 200,
                           json_pack("{s:s, s:s}", "order_no", order.order_no, "status",
                                     order_status_name(order.status)));
}
