/*
 * routes_portal.c - the cardholder's self-service: log in with the phone number and a code
 * sent by SMS, then see and change that one card.
 *
 * Every route after the log-in takes its card from the session, never from the request: a
 * portal session has no way to name another card.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cardno.h"
#include "core/portal.h"
#include "http/http.h"
#include "util/log.h"

#define PHONE_INPUT_MAX 96 /* full-width digits take 3 bytes each */
#define HISTORY_LIMIT_DEFAULT 20
#define HISTORY_LIMIT_MAX 100

static int retry_after(struct http_response *response, int64_t seconds)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)(seconds > 0 ? seconds : 1));
    http_header_add(response, "Retry-After", text);
    return LEB_E_RATE_LIMITED;
}

int route_portal_otp(struct http_request *request, struct http_response *response)
{
    static const char *const fields[] = {"phone", NULL};
    json_t *root = NULL;
    int rc = http_body_json(request, &root);
    if (rc < 0)
        return rc;
    const char *phone = NULL;
    rc = http_fields_only(response, root, fields);
    if (rc == 0)
        rc = http_field_string(response, root, "phone", true, PHONE_INPUT_MAX, &phone);
    char msisdn[MSISDN_SIZE];
    if (rc == 0 && msisdn_normalize(msisdn, phone) < 0)
        rc = LEB_E_INVALID_PHONE_NUMBER;
    /* One address asking codes for many numbers is someone running up SMS bills. */
    if (rc == 0 && !http_rate_limit_take(request, HTTP_LIMIT_PORTAL_CODES)) {
        int64_t per_hour = http_config(request->server)->portal_codes_per_client_per_hour;
        rc = retry_after(response, (3600 + per_hour - 1) / per_hour);
    }
    int64_t wait_s = 0;
    if (rc == 0)
        rc = app_portal_code_send(request->app, msisdn, &wait_s);
    json_decref(root);
    if (rc == LEB_E_RATE_LIMITED && wait_s > 0)
        return retry_after(response, wait_s);
    if (rc < 0)
        return rc;
    return http_reply_json(response, 202,
                           json_pack("{s:s, s:i, s:i}", "status", "sent", "expires_in_s",
                                     PORTAL_CODE_TTL_S, "resend_after_s", PORTAL_CODE_RESEND_S));
}

int route_portal_session_open(struct http_request *request, struct http_response *response)
{
    static const char *const fields[] = {"phone", "code", NULL};
    json_t *root = NULL;
    int rc = http_body_json(request, &root);
    if (rc < 0)
        return rc;
    const char *phone = NULL, *code = NULL;
    rc = http_fields_only(response, root, fields);
    if (rc == 0)
        rc = http_field_string(response, root, "phone", true, PHONE_INPUT_MAX, &phone);
    if (rc == 0)
        rc = http_field_string(response, root, "code", true, 16, &code);
    if (rc == 0 && !portal_code_is_valid(code))
        rc = http_error(response, LEB_E_INVALID_REQUEST, "code must be %d digits",
                        PORTAL_CODE_DIGITS);
    char token[APP_TOKEN_SIZE];
    int64_t expires_at = 0;
    struct card_row card;
    if (rc == 0)
        rc = app_portal_session_open(request->app, token, &expires_at, &card, phone, code);
    json_decref(root);
    if (rc < 0)
        return rc;
    char masked[CARDNO_MASKED_SIZE];
    cardno_mask(masked, card.card_no);
    return http_reply_json(response, 201,
                           json_pack("{s:s, s:s, s:o, s:s, s:s}", "token", token, "role", "portal",
                                     "expires_at", http_json_time(expires_at), "card_no",
                                     card.card_no, "card_no_masked", masked));
}

/* The card of the request's portal session; LEB_E_FORBIDDEN for any other kind of token. */
static int session_card(struct http_request *request, struct card_row *out)
{
    if (request->token.role != ROLE_PORTAL || request->token.card_no[0] == '\0')
        return LEB_E_FORBIDDEN;
    int rc = STORE_CALL(request->app->store, card_get, out, request->token.card_no);
    return rc == LEB_E_CARD_NOT_FOUND ? LEB_E_FORBIDDEN : rc;
}

int route_portal_session_close(struct http_request *request, struct http_response *response)
{
    if (request->token.role != ROLE_PORTAL)
        return LEB_E_FORBIDDEN;
    int rc = app_logout(request->app, request->bearer);
    if (rc < 0)
        return rc;
    return http_reply_text(response, 204, "text/plain; charset=utf-8", "");
}

int route_portal_card(struct http_request *request, struct http_response *response)
{
    struct card_row card;
    int rc = session_card(request, &card);
    if (rc < 0)
        return rc;
    struct plan plan;
    rc = STORE_CALL(request->app->store, plan_get, &plan, card.plan_code);
    if (rc < 0)
        return rc == LEB_E_PLAN_NOT_FOUND ? LEB_E_INTERNAL : rc;
    json_t *view = http_json_card_full(&card);
    json_object_set_new(view, "language", json_string(portal_language_tag(card.language)));
    json_object_set_new(view, "rechargeable",
                        json_boolean(card_is_rechargeable(card.status, &plan)));
    /* The plan's amounts too: what an auto-renewal may top up. */
    json_t *denominations = json_array();
    for (size_t i = 0; i < plan.denominations_count; i++)
        json_array_append_new(denominations, json_integer(plan.denominations[i]));
    json_object_set_new(view, "plan",
                        json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:I}", "code", plan.code,
                                  "name", plan.name, "currency", plan.currency, "model",
                                  retention_model_name(plan.model), "monthly_fee",
                                  (json_int_t)plan.monthly_fee, "denominations", denominations,
                                  "min_amount", (json_int_t)plan.amount_min, "max_amount",
                                  (json_int_t)plan.amount_max));
    return http_reply_json(response, 200, view);
}

int route_portal_history(struct http_request *request, struct http_response *response)
{
    struct card_row card;
    int rc = session_card(request, &card);
    if (rc < 0)
        return rc;
    long limit;
    rc = http_query_limit(request, response, HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX, &limit);
    if (rc < 0)
        return rc;
    const struct store_backend *store = store_backend_of(request->app->store);
    struct order_row *orders = NULL;
    size_t orders_count = 0;
    rc = store->card_orders(request->app->store, &orders, &orders_count, card.card_no,
                            (size_t)limit);
    if (rc < 0)
        return rc;
    struct card_entry *entries = NULL;
    size_t entries_count = 0;
    rc = store->card_entries(request->app->store, &entries, &entries_count, card.card_no,
                             (size_t)limit);
    if (rc < 0) {
        free(orders);
        return rc;
    }
    json_t *order_list = json_array();
    for (size_t i = 0; i < orders_count; i++)
        json_array_append_new(order_list, http_json_order(request->app, &orders[i]));
    /* The movements of the card's money, newest first: top-ups in, fees and forfeits out. */
    json_t *movements = json_array();
    for (size_t i = 0; i < entries_count; i++) {
        json_t *movement = json_pack("{s:s, s:I, s:s, s:o}", "kind", entries[i].kind, "amount",
                                     (json_int_t)entries[i].amount, "currency", card.currency, "at",
                                     http_json_time(entries[i].at));
        json_object_set_new(movement, "order_no",
                            entries[i].order_no[0] ? json_string(entries[i].order_no)
                                                   : json_null());
        json_array_append_new(movements, movement);
    }
    free(orders);
    free(entries);
    return http_reply_json(response, 200,
                           json_pack("{s:o, s:o}", "orders", order_list, "movements", movements));
}

int route_portal_autorenew_get(struct http_request *request, struct http_response *response)
{
    struct card_row card;
    int rc = session_card(request, &card);
    if (rc < 0)
        return rc;
    struct autorenew_row row;
    rc = STORE_CALL(request->app->store, autorenew_get, &row, card.card_no);
    if (rc == LEB_E_NOT_FOUND)
        return http_reply_json(response, 200, json_pack("{s:b}", "enabled", 0));
    if (rc < 0)
        return rc;
    return http_reply_json(response, 200, http_json_autorenew(&row));
}

int route_portal_autorenew_put(struct http_request *request, struct http_response *response)
{
    struct card_row card;
    int rc = session_card(request, &card);
    if (rc < 0)
        return rc;
    return http_autorenew_change(request, response, card.card_no, false);
}

int route_portal_language(struct http_request *request, struct http_response *response)
{
    static const char *const fields[] = {"language", NULL};
    struct card_row card;
    int rc = session_card(request, &card);
    if (rc < 0)
        return rc;
    json_t *root = NULL;
    rc = http_body_json(request, &root);
    if (rc < 0)
        return rc;
    const char *text = NULL, *stored = NULL;
    rc = http_fields_only(response, root, fields);
    if (rc == 0)
        rc = http_field_string(response, root, "language", true, 32, &text);
    if (rc == 0 && portal_language_parse(&stored, text) < 0)
        rc = http_error(response, LEB_E_INVALID_REQUEST, "language must be zh-CN or en");
    if (rc == 0)
        rc = app_card_language_set(request->app, card.card_no, stored);
    json_decref(root);
    if (rc < 0)
        return rc;
    return http_reply_json(response, 200,
                           json_pack("{s:s}", "language", portal_language_tag(stored)));
}
