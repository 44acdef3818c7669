/*
 * router.c - the route table, one line per route, and the matcher.
 *
 * A pattern is a path whose "{}" segments capture one path segment each. A path that matches
 * a pattern with another method is 405 with an Allow header, never 404.
 */
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "http/routes_recon.h"

const struct http_route http_routes[] = {
    {"GET", "/healthz", route_healthz, AUTH_NONE, "healthz", 0, false},
    {"GET", "/readyz", route_readyz, AUTH_NONE, "readyz", 0, false},
    {"GET", "/metrics", route_metrics, AUTH_NONE, "metrics", 0, false},
    {"GET", "/api/v1/cards/{}", route_card_public, AUTH_NONE, "card_public", 0, false},
    {"GET", "/api/v1/admin/cards/{}/auto-renew", route_autorenew_get, AUTH_TOKEN, "autorenew_get",
     0, false},
    {"PUT", "/api/v1/admin/cards/{}/auto-renew", route_autorenew_put, AUTH_TOKEN, "autorenew_put",
     0, false},
    {"GET", "/api/v1/cards/{}/balance", route_card_balance, AUTH_TOKEN, "card_balance", 0, false},
    {"POST", "/api/v1/quotes", route_quote, AUTH_NONE, "quote", 0, false},
    {"POST", "/api/v1/orders", route_order_create, AUTH_NONE, "order_create", 0, false},
    {"GET", "/api/v1/orders/{}", route_order_get, AUTH_NONE, "order_get", 0, false},
    {"GET", "/api/v1/orders/{}/qr.svg", route_order_qr, AUTH_NONE, "order_qr", 0, false},
    {"GET", "/api/v1/payment-methods", route_payment_methods, AUTH_NONE, "payment_methods", 0,
     false},
    {"POST", "/api/v1/payments/sandbox/notify", route_sandbox_notify, AUTH_NONE, "sandbox_notify",
     0, false},
    {"POST", "/api/v1/payments/{}/notify", route_payment_notify, AUTH_NONE, "payment_notify", 0,
     false},
    {"POST", "/api/v1/auth/login", route_login, AUTH_NONE, "login", 0, false},
    {"GET", "/api/v1/admin/ledger/check", route_ledger_check, AUTH_TOKEN, "ledger_check", 0, false},
    {"POST", "/api/v1/admin/plans", route_plan_create, AUTH_TOKEN, "plan_create", 0, false},
    {"GET", "/api/v1/admin/plans", route_plans_list, AUTH_TOKEN, "plans_list", 0, false},
    /* A batch of 1000 cards is about 100 KiB. */
    {"POST", "/api/v1/admin/cards", route_cards_create, AUTH_TOKEN, "cards_create", 1 << 20, false},
    {"POST", "/api/v1/admin/clock", route_clock, AUTH_TOKEN, "clock", 0, true},
    {"POST", "/api/v1/admin/jobs/run", route_jobs_run, AUTH_TOKEN, "jobs_run", 0, true},
    {"GET", "/api/v1/admin/outbox", route_outbox_list, AUTH_TOKEN, "outbox_list", 0, false},
    {"POST", "/api/v1/admin/outbox/{}/resend", route_outbox_resend, AUTH_TOKEN, "outbox_resend", 0,
     false},
    {"GET", "/api/v1/admin/orders", route_orders_list, AUTH_TOKEN, "orders_list", 0, false},
    {"POST", "/api/v1/admin/orders/{}/resolve", route_order_resolve, AUTH_TOKEN, "order_resolve", 0,
     false},
    {"GET", "/api/v1/admin/audit", route_audit_list, AUTH_TOKEN, "audit_list", 0, false},
    /* A statement of a month of trades: ROUTES_RECON_BODY_BYTES_MAX (16 MiB). */
    {"POST", "/api/v1/admin/reconciliations", route_recon_import, AUTH_TOKEN, "recon_import",
     ROUTES_RECON_BODY_BYTES_MAX, false},
    {"GET", "/api/v1/admin/reconciliations/{}", route_recon_get, AUTH_TOKEN, "recon_get", 0, false},
    {"GET", "/api/v1/admin/outbox/summary", route_outbox_summary, AUTH_TOKEN, "outbox_summary", 0,
     false},
    {"GET", "/api/v1/sms/inbound", route_sms_inbound, AUTH_NONE, "sms_inbound", 0, false},
    {"GET", "/api/v1/sms/dlr", route_sms_dlr, AUTH_NONE, "sms_dlr", 0, false},
    {"POST", "/api/v1/portal/otp", route_portal_otp, AUTH_NONE, "portal_otp", 0, false},
    {"POST", "/api/v1/portal/session", route_portal_session_open, AUTH_NONE, "portal_session", 0,
     false},
    {"DELETE", "/api/v1/portal/session", route_portal_session_close, AUTH_TOKEN, "portal_logout", 0,
     false},
    {"GET", "/api/v1/portal/card", route_portal_card, AUTH_TOKEN, "portal_card", 0, false},
    {"GET", "/api/v1/portal/history", route_portal_history, AUTH_TOKEN, "portal_history", 0, false},
    {"GET", "/api/v1/portal/auto-renew", route_portal_autorenew_get, AUTH_TOKEN,
     "portal_autorenew_get", 0, false},
    {"PUT", "/api/v1/portal/auto-renew", route_portal_autorenew_put, AUTH_TOKEN,
     "portal_autorenew_put", 0, false},
    {"PUT", "/api/v1/portal/language", route_portal_language, AUTH_TOKEN, "portal_language", 0,
     false},
    {"GET", "/sandbox/pay/{}", route_sandbox_page, AUTH_NONE, "sandbox_page", 0, false},
    {"POST", "/sandbox/pay/{}", route_sandbox_pay, AUTH_NONE, "sandbox_pay", 0, false},
    {"GET", "/", route_static, AUTH_NONE, "static", 0, false},
    {"GET", "/{}", route_static, AUTH_NONE, "static", 0, false},
};
const size_t http_routes_count = sizeof(http_routes) / sizeof(http_routes[0]);

/* Matches "path" against "pattern", capturing {} segments into "request". */
static bool pattern_match(struct http_request *request, const char *pattern, const char *path)
{
    size_t captured = 0;
    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            const char *end = strchr(path, '/');
            size_t size = end ? (size_t)(end - path) : strlen(path);
            if (size == 0 || captured == HTTP_PARAMS_MAX)
                return false;
            /* An over-long segment is kept cut short: the route still answers, and its handler
             * refuses the value as it would any other bad one. */
            size_t kept = size < HTTP_PARAM_SIZE ? size : HTTP_PARAM_SIZE - 1;
            memcpy(request->params[captured], path, kept);
            request->params[captured][kept] = '\0';
            captured++;
            pattern += 2;
            path += size;
            continue;
        }
        if (*pattern != *path)
            return false;
        pattern++;
        path++;
    }
    if (*pattern != '\0' || *path != '\0')
        return false;
    request->params_count = captured;
    return true;
}

int http_route_match(struct http_request *request, const char *method, const char *path,
                     char *allow, size_t allow_size)
{
    bool path_known = false;
    size_t allow_used = 0;
    allow[0] = '\0';
    bool test_mode = http_config(request->server)->test_mode;
    for (size_t i = 0; i < http_routes_count; i++) {
        const struct http_route *route = &http_routes[i];
        if (route->test_only && !test_mode)
            continue; /* outside test mode the route does not exist at all */
        if (!pattern_match(request, route->pattern, path))
            continue;
        bool head_as_get = strcmp(method, "HEAD") == 0 && strcmp(route->method, "GET") == 0;
        if (strcmp(route->method, method) == 0 || head_as_get)
            return (int)i;
        path_known = true;
        if (strstr(allow, route->method) == NULL)
            allow_used += (size_t)snprintf(allow + allow_used, allow_size - allow_used, "%s%s",
                                           allow_used ? ", " : "", route->method);
        if (allow_used >= allow_size)
            allow_used = allow_size - 1;
    }
    return path_known ? LEB_E_METHOD_NOT_ALLOWED : LEB_E_NOT_FOUND;
}
