/*
 * json_io.c - JSON bodies in, JSON bodies out, and the small helpers every route shares.
 *
 * Input is strict: a body must be one JSON object, duplicate keys are refused, amounts are
 * integers (no fractions, no strings, nothing past 2^53 so that JavaScript clients see them
 * exactly), and unknown fields are refused by the routes that list theirs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cardno.h"
#include "core/timeutil.h"
#include "http/http.h"

#define AMOUNT_ABS_MAX 9007199254740992LL /* 2^53 */

int http_body_json(struct http_request *request, json_t **out)
{
    const char *type = http_header(request, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t type_size = type ? strcspn(type, "; ") : 0;
    if (type == NULL || type_size != strlen("application/json") ||
        strncasecmp(type, "application/json", type_size) != 0)
        return LEB_E_UNSUPPORTED_MEDIA_TYPE;
    json_error_t error;
    json_t *root = json_loadb(request->body, request->body_size, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        /* jansson refuses integers beyond int64 while parsing; that is a bad amount. */
        if (strstr(error.text, "too big") != NULL)
            return LEB_E_INVALID_AMOUNT;
        return LEB_E_INVALID_JSON;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return LEB_E_INVALID_JSON;
    }
    *out = root;
    return 0;
}

int http_error(struct http_response *response, int code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(response->error_message, sizeof(response->error_message), format, args);
    va_end(args);
    return code;
}

int http_field_string(struct http_response *response, json_t *object, const char *key,
                      bool required, size_t size_max, const char **out)
{
    json_t *value = json_object_get(object, key);
    if (value == NULL) {
        *out = NULL;
        return required ? http_error(response, LEB_E_INVALID_REQUEST, "%s is required", key) : 0;
    }
    if (!json_is_string(value))
        return http_error(response, LEB_E_INVALID_REQUEST, "%s must be a string", key);
    size_t size = json_string_length(value);
    const char *text = json_string_value(value);
    if (strlen(text) != size)
        return http_error(response, LEB_E_INVALID_REQUEST, "%s must not contain NUL", key);
    if (size > size_max)
        return http_error(response, LEB_E_INVALID_REQUEST, "%s is longer than %zu bytes", key,
                          size_max);
    *out = text;
    return 0;
}

int http_field_amount(struct http_response *response, json_t *object, const char *key,
                      bool required, int64_t *out)
{
    json_t *value = json_object_get(object, key);
    if (value == NULL)
        return required ? http_error(response, LEB_E_INVALID_REQUEST, "%s is required", key) : 0;
    if (!json_is_integer(value))
        return http_error(response, LEB_E_INVALID_AMOUNT,
                          "%s must be an integer amount in minor units (fen)", key);
    json_int_t amount = json_integer_value(value);
    if (amount > AMOUNT_ABS_MAX || amount < -AMOUNT_ABS_MAX)
        return http_error(response, LEB_E_INVALID_AMOUNT, "%s is beyond 2^53", key);
    *out = (int64_t)amount;
    return 0;
}

int http_field_bool(struct http_response *response, json_t *object, const char *key, bool *out)
{
    json_t *value = json_object_get(object, key);
    if (value == NULL)
        return 0;
    if (!json_is_boolean(value))
        return http_error(response, LEB_E_INVALID_REQUEST, "%s must be true or false", key);
    *out = json_is_true(value);
    return 0;
}

int http_fields_only(struct http_response *response, json_t *object, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(object, key, value)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(allowed[i], key) == 0;
        if (!known)
            return http_error(response, LEB_E_INVALID_REQUEST, "unknown field %.64s", key);
    }
    return 0;
}

int http_reply_json(struct http_response *response, unsigned int status, json_t *value)
{
    LEB_ASSERT(value != NULL);
    char *text = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    LEB_ASSERT(text != NULL);
    free(response->body);
    response->body = text;
    response->body_size = strlen(text);
    response->status = status;
    response->content_type = "application/json; charset=utf-8";
    return 0;
}

int http_reply_text(struct http_response *response, unsigned int status, const char *content_type,
                    const char *text)
{
    free(response->body);
    response->body = strdup(text);
    LEB_ASSERT(response->body != NULL);
    response->body_size = strlen(text);
    response->status = status;
    response->content_type = content_type;
    return 0;
}

void http_header_add(struct http_response *response, const char *name, const char *value)
{
    LEB_ASSERT(response->headers_count < HTTP_HEADERS_MAX);
    response->header_names[response->headers_count] = name;
    snprintf(response->header_values[response->headers_count], sizeof(response->header_values[0]),
             "%s", value);
    response->headers_count++;
}

int http_require(struct http_request *request, enum permission permission)
{
    if (!request->authenticated)
        return LEB_E_UNAUTHORIZED;
    return role_may(request->token.role, permission) ? 0 : LEB_E_FORBIDDEN;
}

const char *http_query(struct http_request *request, const char *key)
{
    return MHD_lookup_connection_value(request->connection, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(struct http_request *request, const char *name)
{
    return MHD_lookup_connection_value(request->connection, MHD_HEADER_KIND, name);
}

json_t *http_json_time(int64_t unix_s)
{
    if (unix_s == 0)
        return json_null();
    char text[RFC3339_SIZE];
    time_format_rfc3339(text, unix_s);
    return json_string(text);
}

json_t *http_json_card_full(const struct card_row *card)
{
    char card_masked[CARDNO_MASKED_SIZE], msisdn_masked[MSISDN_MASKED_SIZE];
    cardno_mask(card_masked, card->card_no);
    msisdn_mask(msisdn_masked, card->msisdn);
    json_t *view = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:o}", "card_no", card->card_no,
        "card_no_masked", card_masked, "msisdn", card->msisdn, "msisdn_masked", msisdn_masked,
        "plan", card->plan_code, "status", card_status_name(card->status), "balance",
        (json_int_t)card->balance, "currency", card->currency, "valid_until",
        http_json_time(card->valid_until), "next_billing_at", http_json_time(card->next_billing_at),
        "created_at", http_json_time(card->created_at));
    LEB_ASSERT(view != NULL);
    json_object_set_new(view, "arrears", json_integer(card->arrears));
    json_object_set_new(view, "suspended_at", http_json_time(card->suspended_at));
    return view;
}

json_t *http_json_plan(const struct plan *plan)
{
    json_t *denominations = json_array();
    for (size_t i = 0; i < plan->denominations_count; i++)
        json_array_append_new(denominations, json_integer(plan->denominations[i]));
    json_t *view = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:i, s:I, s:i, s:o, s:I, s:I, s:I, s:I, s:i, s:b}", "code",
        plan->code, "name", plan->name, "currency", plan->currency, "model",
        retention_model_name(plan->model), "monthly_fee", (json_int_t)plan->monthly_fee,
        "validity_days", (int)plan->validity_days, "validity_step_amount",
        (json_int_t)plan->validity_step_amount, "validity_days_max", (int)plan->validity_days_max,
        "denominations", denominations, "min_amount", (json_int_t)plan->amount_min, "max_amount",
        (json_int_t)plan->amount_max, "amount_step", (json_int_t)plan->amount_step, "daily_limit",
        (json_int_t)plan->daily_limit, "grace_days", (int)plan->grace_days, "recharge_allowed",
        plan->recharge_allowed);
    LEB_ASSERT(view != NULL);
    json_object_set_new(view, "remind_days_before", json_integer(plan->remind_days_before));
    json_object_set_new(view, "recycle_warning_days", json_integer(plan->recycle_warning_days));
    return view;
}

int http_query_limit(struct http_request *request, struct http_response *response, long fallback,
                     long max, long *out)
{
    const char *text = http_query(request, "limit");
    *out = fallback;
    if (text == NULL)
        return 0;
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || value < 1 || value > max)
        return http_error(response, LEB_E_INVALID_REQUEST, "limit must be 1 to %ld", max);
    *out = value;
    return 0;
}
