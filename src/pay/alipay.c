/*
 * alipay.c - the Alipay provider, over Alipay's open API (the gateway.do of
 * alipay.gateway_url): alipay.trade.precreate for the QR code the payer scans, the
 * asynchronous notification (notify_type trade_status_sync), alipay.trade.query for a
 * notification that never came, and alipay.trade.refund (confirmed with
 * alipay.trade.fastpay.refund.query when Alipay answers that nothing moved) for money that can
 * no longer reach a card.
 *
 * Every call is a form POST of the common parameters and a JSON biz_content, signed RSA2
 * (SHA256withRSA) with the application's private key over the parameters sorted by name and
 * written "name=value&...". Every answer is {"<method>_response":{...},"sign":"..."}, where
 * Alipay signs the exact bytes of the response member: those bytes are checked with Alipay's
 * public key (the current one and, during a rotation, the next) before one field is read. A
 * notification is checked the same way over its decoded parameters, less sign and sign_type.
 *
 * This file must never act on an answer or a notification whose signature it did not verify,
 * read an amount through floating point, or log a key, a signature or a card number.
 */
#include "pay/alipay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "core/money.h"
#include "core/timeutil.h"
#include "pay/pay.h"
#include "pay/pay_crypto.h"
#include "util/text.h"
#include "util/http_client.h"
#include "util/log.h"

#define ALIPAY_ID_MAX 64   /* app_id is String(32), seller_id String(28): room to spare */
#define ALIPAY_URL_MAX 512 /* the gateway URL, and the notify URL we give */
#define ALIPAY_AMOUNT_MAX (1LL << 53) /* fen: every amount LEB accepts */
#define ALIPAY_EXPIRE_MIN_S 60        /* time_expire must be at least a minute ahead */
#define ALIPAY_ERROR_MAX 110 /* bytes of a refund error that reach the order's last_error */
#define ALIPAY_NOTIFY_PATH "/api/v1/payments/alipay/notify"
#define ALIPAY_CODE_SUCCESS "10000"
#define ALIPAY_CODE_BUSINESS_FAILED "40004"

/* Loaded by alipay_init at start-up, read-only afterwards (from any thread). */
static struct {
    char app_id[ALIPAY_ID_MAX + 1];
    char seller_id[ALIPAY_ID_MAX + 1];
    char gateway_url[ALIPAY_URL_MAX];
    EVP_PKEY *app_key;           /* signs our requests */
    struct pay_keys alipay_keys; /* verify Alipay's answers and notifications */
} alipay;

/* ---- the wire format (alipay.h) ---- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The decoded copy of "size" bytes of form text, malloc'd; NULL for a bad escape or a NUL. */
static char *form_unescape(const char *text, size_t size)
{
    char *out = malloc(size + 1);
    LEB_ASSERT(out != NULL);
    size_t written = 0;
    for (size_t i = 0; i < size; i++) {
        char c = text[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (size - i < 3) {
                free(out);
                return NULL;
            }
            int a = hex_digit(text[i + 1]), b = hex_digit(text[i + 2]);
            if (a < 0 || b < 0) {
                free(out);
                return NULL;
            }
            c = (char)(a * 16 + b);
            i += 2;
        }
        if (c == '\0') {
            free(out);
            return NULL;
        }
        out[written++] = c;
    }
    out[written] = '\0';
    return out;
}

const char *alipay_params_get(const struct alipay_params *params, const char *name)
{
    for (size_t i = 0; i < params->count; i++)
        if (strcmp(params->items[i].name, name) == 0)
            return params->items[i].value;
    return NULL;
}

/* Takes "name" and "value" (malloc'd) into "params", or frees them. */
static int params_take(struct alipay_params *params, char *name, char *value)
{
    if (params->count == ALIPAY_PARAMS_MAX || alipay_params_get(params, name) != NULL) {
        free(name);
        free(value);
        return LEB_E_INVALID_REQUEST;
    }
    params->items[params->count].name = name;
    params->items[params->count].value = value;
    params->count++;
    return 0;
}

int alipay_params_add(struct alipay_params *params, const char *name, const char *value)
{
    char *name_copy = strdup(name), *value_copy = strdup(value);
    LEB_ASSERT(name_copy != NULL && value_copy != NULL);
    return params_take(params, name_copy, value_copy);
}

void alipay_params_free(struct alipay_params *params)
{
    if (params == NULL)
        return;
    for (size_t i = 0; i < params->count; i++) {
        free(params->items[i].name);
        free(params->items[i].value);
    }
    params->count = 0;
}

int alipay_form_decode(struct alipay_params *out, const char *body, size_t size)
{
    out->count = 0;
    size_t at = 0;
    int rc = 0;
    /* Each turn consumes one pair and its '&': at most "size" turns. */
    while (rc == 0 && at < size) {
        const char *pair = body + at;
        const char *amp = memchr(pair, '&', size - at);
        size_t pair_size = amp ? (size_t)(amp - pair) : size - at;
        at += pair_size + 1;
        if (pair_size == 0)
            continue;
        const char *equals = memchr(pair, '=', pair_size);
        if (equals == NULL || equals == pair) {
            rc = LEB_E_INVALID_REQUEST;
            break;
        }
        char *name = form_unescape(pair, (size_t)(equals - pair));
        char *value = form_unescape(equals + 1, pair_size - (size_t)(equals - pair) - 1);
        if (name == NULL || value == NULL || name[0] == '\0') {
            free(name);
            free(value);
            rc = LEB_E_INVALID_REQUEST;
            break;
        }
        rc = params_take(out, name, value);
    }
    if (rc < 0)
        alipay_params_free(out);
    return rc;
}

static int param_compare(const void *a, const void *b)
{
    const struct alipay_param *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

char *alipay_sign_content(const struct alipay_params *params, bool without_sign_type)
{
    const struct alipay_param *sorted[ALIPAY_PARAMS_MAX];
    size_t count = 0, size = 1;
    for (size_t i = 0; i < params->count; i++) {
        const struct alipay_param *param = &params->items[i];
        if (param->value[0] == '\0' || strcmp(param->name, "sign") == 0 ||
            (without_sign_type && strcmp(param->name, "sign_type") == 0))
            continue;
        sorted[count++] = param;
        size += strlen(param->name) + strlen(param->value) + 2;
    }
    qsort(sorted, count, sizeof(sorted[0]), param_compare);
    char *out = malloc(size);
    LEB_ASSERT(out != NULL);
    size_t written = 0;
    for (size_t i = 0; i < count; i++) {
        int n = snprintf(out + written, size - written, "%s%s=%s", i ? "&" : "", sorted[i]->name,
                         sorted[i]->value);
        LEB_ASSERT(n >= 0 && (size_t)n < size - written);
        written += (size_t)n;
    }
    out[written] = '\0';
    return out;
}

static bool form_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Appends "text" escaped for a form body at "out" + "*written". */
static void form_escape_into(char *out, size_t *written, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (form_unreserved(*p)) {
            out[(*written)++] = (char)*p;
        } else if (*p == ' ') {
            out[(*written)++] = '+';
        } else {
            out[(*written)++] = '%';
            out[(*written)++] = hex[*p >> 4];
            out[(*written)++] = hex[*p & 15];
        }
    }
}

char *alipay_form_encode(const struct alipay_params *params)
{
    size_t size = 1;
    for (size_t i = 0; i < params->count; i++)
        size += 3 * (strlen(params->items[i].name) + strlen(params->items[i].value)) + 2;
    char *out = malloc(size);
    LEB_ASSERT(out != NULL);
    size_t written = 0;
    for (size_t i = 0; i < params->count; i++) {
        if (i > 0)
            out[written++] = '&';
        form_escape_into(out, &written, params->items[i].name);
        out[written++] = '=';
        form_escape_into(out, &written, params->items[i].value);
    }
    LEB_ASSERT(written < size);
    out[written] = '\0';
    return out;
}

int alipay_amount_parse(int64_t *out, const char *text)
{
    int64_t amount = 0;
    /* money_parse_decimal takes exactly Alipay's Price: digits, then '.' and one or two. */
    if (text == NULL || money_parse_decimal(&amount, text) < 0 || amount <= 0 ||
        amount > ALIPAY_AMOUNT_MAX)
        return LEB_E_INVALID_REQUEST;
    *out = amount;
    return 0;
}

void alipay_time_format(char out[ALIPAY_TIME_SIZE], int64_t unix_s)
{
    int64_t beijing = unix_s + 8 * 3600;
    int64_t days = beijing / 86400, seconds = beijing % 86400;
    if (seconds < 0) {
        seconds += 86400;
        days--;
    }
    int64_t year;
    int month, day;
    time_civil_from_days(days, &year, &month, &day);
    LEB_ASSERT(year >= 0 && year <= 9999);
    snprintf(out, ALIPAY_TIME_SIZE, "%04d-%02d-%02d %02d:%02d:%02d", (int)year, month, day,
             (int)(seconds / 3600), (int)(seconds / 60 % 60), (int)(seconds % 60));
}

int alipay_time_parse(int64_t *out, const char *text)
{
    if (text == NULL || strlen(text) != ALIPAY_TIME_SIZE - 1)
        return LEB_E_INVALID_REQUEST;
    for (size_t i = 0; i < ALIPAY_TIME_SIZE - 1; i++) {
        char expected = i == 4 || i == 7 ? '-' : i == 10 ? ' ' : i == 13 || i == 16 ? ':' : '0';
        if (expected == '0' ? (text[i] < '0' || text[i] > '9') : text[i] != expected)
            return LEB_E_INVALID_REQUEST;
    }
    int year = atoi(text), month = atoi(text + 5), day = atoi(text + 8);
    int hour = atoi(text + 11), minute = atoi(text + 14), second = atoi(text + 17);
    if (month < 1 || month > 12 || day < 1 || day > time_days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 59)
        return LEB_E_INVALID_REQUEST;
    *out = time_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
           8 * 3600;
    return 0;
}

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t json_skip_space(const char *text, size_t at, size_t size)
{
    while (at < size && json_space(text[at]))
        at++;
    return at;
}

/* One past the closing quote of the string opening at "at", or 0 if it is cut. */
static size_t json_skip_string(const char *text, size_t at, size_t size)
{
    for (at++; at < size; at++) {
        if (text[at] == '\\')
            at++;
        else if (text[at] == '"')
            return at + 1;
    }
    return 0;
}

/* One past the value starting at "at", or 0 if it is cut or empty. */
static size_t json_skip_value(const char *text, size_t at, size_t size)
{
    if (at >= size)
        return 0;
    if (text[at] == '"')
        return json_skip_string(text, at, size);
    if (text[at] == '{' || text[at] == '[') {
        size_t depth = 0;
        while (at < size) {
            char c = text[at];
            if (c == '"') {
                at = json_skip_string(text, at, size);
                if (at == 0)
                    return 0;
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return at + 1;
            }
            at++;
        }
        return 0;
    }
    size_t start = at; /* a number, true, false or null */
    while (at < size && text[at] != ',' && text[at] != '}' && text[at] != ']' &&
           !json_space(text[at]))
        at++;
    return at > start ? at : 0;
}

int alipay_json_member_span(const char **start, size_t *size, const char *body, size_t body_size,
                            const char *name)
{
    size_t name_size = strlen(name);
    size_t at = json_skip_space(body, 0, body_size);
    if (at >= body_size || body[at] != '{')
        return LEB_E_INVALID_JSON;
    at = json_skip_space(body, at + 1, body_size);
    if (at < body_size && body[at] == '}')
        return LEB_E_NOT_FOUND;
    bool found = false;
    /* Each turn consumes one member: at most "body_size" turns. */
    while (at < body_size) {
        if (body[at] != '"')
            return LEB_E_INVALID_JSON;
        size_t key_end = json_skip_string(body, at, body_size);
        if (key_end == 0)
            return LEB_E_INVALID_JSON;
        bool match = key_end - at - 2 == name_size && memcmp(body + at + 1, name, name_size) == 0;
        at = json_skip_space(body, key_end, body_size);
        if (at >= body_size || body[at] != ':')
            return LEB_E_INVALID_JSON;
        at = json_skip_space(body, at + 1, body_size);
        size_t value_end = json_skip_value(body, at, body_size);
        if (value_end == 0)
            return LEB_E_INVALID_JSON;
        if (match) {
            if (found)
                return LEB_E_INVALID_JSON;
            found = true;
            *start = body + at;
            *size = value_end - at;
        }
        at = json_skip_space(body, value_end, body_size);
        if (at < body_size && body[at] == '}')
            return found ? 0 : LEB_E_NOT_FOUND;
        if (at >= body_size || body[at] != ',')
            return LEB_E_INVALID_JSON;
        at = json_skip_space(body, at + 1, body_size);
    }
    return LEB_E_INVALID_JSON;
}

/* ---- calls to the gateway ---- */

/* A verified answer: "response" is the "<method>_response" member whose bytes Alipay signed. */
struct alipay_answer {
    struct http_result result;
    json_t *response;
    const char *code;     /* "10000" on success; never NULL once verified */
    const char *sub_code; /* "" when absent */
    const char *sub_msg;  /* "" when absent */
};

static void alipay_answer_free(struct alipay_answer *answer)
{
    json_decref(answer->response);
    answer->response = NULL;
    http_result_free(&answer->result);
}

/* The string member "name" of "object", or NULL when absent or not a string. */
static const char *json_text(json_t *object, const char *name)
{
    json_t *value = json_object_get(object, name);
    return json_is_string(value) ? json_string_value(value) : NULL;
}

static bool text_is(const char *text, const char *expected)
{
    return text != NULL && strcmp(text, expected) == 0;
}

static void alipay_log_failure(const char *method, const char *order_no, const char *reason,
                               const struct alipay_answer *answer)
{
    LOG_WARN("alipay call failed", "method", method, "order_no", order_no, "reason", reason, "code",
             answer && answer->code ? answer->code : "", "sub_code",
             answer && answer->sub_code ? answer->sub_code : "");
}

/*
 * Checks the answer in "out->result" to "method": the "<method>_response" member (dots as
 * underscores) is found by its bytes, its signature checked over exactly those bytes, and only
 * then trusted. On failure "*reason" says why (static text), and "out->response" (which
 * alipay_call drops) may hold the unverified member, for the log's code alone.
 */
static int alipay_answer_open(struct alipay_answer *out, const char *method, const char **reason)
{
    char name[128];
    int n = snprintf(name, sizeof(name), "%s_response", method);
    LEB_ASSERT(n > 0 && (size_t)n < sizeof(name));
    for (char *p = name; *p; p++)
        if (*p == '.')
            *p = '_';
    json_t *root =
        json_loadb(out->result.body, out->result.body_size, JSON_REJECT_DUPLICATES, NULL);
    const char *span = NULL;
    size_t span_size = 0;
    int rc = LEB_E_UNAVAILABLE;
    *reason = "the answer is not a JSON object";
    if (!json_is_object(root))
        goto out;
    int found =
        alipay_json_member_span(&span, &span_size, out->result.body, out->result.body_size, name);
    if (found < 0) {
        *reason = json_object_get(root, "error_response") ? "an error_response"
                                                          : "the answer has no response member";
        goto out;
    }
    out->response = json_loadb(span, span_size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(out->response)) {
        *reason = "the response member is not an object";
        goto out;
    }
    out->code = json_text(out->response, "code");
    out->sub_code = json_text(out->response, "sub_code");
    out->sub_msg = json_text(out->response, "sub_msg");
    if (out->sub_code == NULL)
        out->sub_code = "";
    if (out->sub_msg == NULL)
        out->sub_msg = "";
    /* Alipay leaves some gateway errors (a bad signature of ours, a wrong app_id) unsigned:
     * they are failures, and nothing is read from them but their code, for the log. */
    const char *sign = json_text(root, "sign");
    if (sign == NULL || sign[0] == '\0') {
        *reason = "the answer is not signed";
        goto out;
    }
    if (!pay_rsa_verify_base64(&alipay.alipay_keys, span, span_size, sign)) {
        *reason = "the answer's signature does not verify";
        out->code = out->sub_code = NULL; /* not Alipay's word: not even logged */
        goto out;
    }
    if (out->code == NULL) {
        *reason = "the answer has no code";
        goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/*
 * Calls "method" at "now" (the timestamp) with "biz_content" (stolen) for "order_no" (for the
 * log), with our notify URL when "with_notify". 0 with a verified "out" (free it with
 * alipay_answer_free, whatever the return), or LEB_E_UNAVAILABLE when Alipay cannot be reached or
 * its answer is not signed by Alipay.
 */
static int alipay_call(struct app *app, int64_t now, const char *method, json_t *biz_content,
                       bool with_notify, const char *order_no, struct alipay_answer *out)
{
    memset(out, 0, sizeof(*out));
    LEB_ASSERT(biz_content != NULL && alipay.app_key != NULL);
    char *biz = json_dumps(biz_content, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(biz_content);
    LEB_ASSERT(biz != NULL);
    char timestamp[ALIPAY_TIME_SIZE], notify_url[ALIPAY_URL_MAX];
    alipay_time_format(timestamp, now);
    int n = snprintf(notify_url, sizeof(notify_url), "%s%s", app->public_url, ALIPAY_NOTIFY_PATH);
    LEB_ASSERT(n > 0 && (size_t)n < sizeof(notify_url));

    struct alipay_params params = {.count = 0};
    int rc = alipay_params_add(&params, "app_id", alipay.app_id);
    if (rc == 0)
        rc = alipay_params_add(&params, "method", method);
    if (rc == 0)
        rc = alipay_params_add(&params, "format", "JSON");
    if (rc == 0)
        rc = alipay_params_add(&params, "charset", "utf-8");
    if (rc == 0)
        rc = alipay_params_add(&params, "sign_type", "RSA2");
    if (rc == 0)
        rc = alipay_params_add(&params, "timestamp", timestamp);
    if (rc == 0)
        rc = alipay_params_add(&params, "version", "1.0");
    if (rc == 0 && with_notify)
        rc = alipay_params_add(&params, "notify_url", notify_url);
    if (rc == 0)
        rc = alipay_params_add(&params, "biz_content", biz);
    LEB_ASSERT(rc == 0); /* nine distinct names */
    free(biz);
    char *content = alipay_sign_content(&params, false);
    char *sign = pay_rsa_sign_base64(alipay.app_key, content, strlen(content));
    free(content);
    LEB_ASSERT(sign != NULL); /* the key was checked at start-up */
    rc = alipay_params_add(&params, "sign", sign);
    LEB_ASSERT(rc == 0);
    free(sign);
    char *body = alipay_form_encode(&params);
    alipay_params_free(&params);

    static const char *const headers[] = {
        "Content-Type: application/x-www-form-urlencoded;charset=utf-8", "Accept: application/json",
        NULL};
    struct http_call call = {.method = "POST",
                             .url = alipay.gateway_url,
                             .headers = headers,
                             .body = body,
                             .body_size = strlen(body),
                             .timeout_ms = PAY_CALL_TIMEOUT_MS,
                             .cancel = &app->stopping};
    rc = http_client_call(&call, &out->result);
    free(body);
    const char *reason = NULL;
    if (rc < 0) {
        reason = out->result.error;
    } else if (out->result.status != 200) {
        reason = "the gateway did not answer 200";
    } else if (alipay_answer_open(out, method, &reason) == 0) {
        return 0;
    }
    alipay_log_failure(method, order_no, reason, out);
    /* Nothing of an answer that failed is read further. */
    json_decref(out->response);
    out->response = NULL;
    out->code = out->sub_code = out->sub_msg = NULL;
    return LEB_E_UNAVAILABLE;
}

/* ---- the provider ---- */

static void alipay_shutdown(void)
{
    EVP_PKEY_free(alipay.app_key);
    pay_keys_free(&alipay.alipay_keys);
    memset(&alipay, 0, sizeof(alipay));
}

static bool setting_given(const char *value)
{
    return value != NULL && value[0] != '\0';
}

static int alipay_init(const struct config *config, char error[PAY_ERROR_SIZE])
{
    const struct {
        const char *name;
        const char *value;
    } required[] = {
        {"alipay.app_id", config->alipay_app_id},
        {"alipay.seller_id", config->alipay_seller_id},
        {"alipay.app_private_key_file", config->alipay_app_private_key},
        {"alipay.alipay_public_key_file", config->alipay_public_key},
        {"alipay.gateway_url", config->alipay_gateway_url},
    };
    size_t count = sizeof(required) / sizeof(required[0]);
    bool any = setting_given(config->alipay_public_key_next);
    for (size_t i = 0; i < count; i++)
        any = any || setting_given(required[i].value);
    if (!any)
        return LEB_E_NOT_FOUND;
    for (size_t i = 0; i < count; i++) {
        if (!setting_given(required[i].value)) {
            snprintf(error, PAY_ERROR_SIZE,
                     "%s is required once any alipay setting is given (Alipay needs all of "
                     "app_id, seller_id, app_private_key_file, alipay_public_key_file and "
                     "gateway_url)",
                     required[i].name);
            return LEB_E_INVALID_REQUEST;
        }
    }
    alipay_shutdown();
    const char *bad = NULL;
    if (strlen(config->alipay_app_id) > ALIPAY_ID_MAX)
        bad = "alipay.app_id is longer than 64 characters";
    else if (strlen(config->alipay_seller_id) > ALIPAY_ID_MAX)
        bad = "alipay.seller_id is longer than 64 characters";
    else if (strlen(config->alipay_gateway_url) >= ALIPAY_URL_MAX)
        bad = "alipay.gateway_url is longer than 511 characters";
    if (bad == NULL) {
        alipay.app_key = pay_private_key_load(config->alipay_app_private_key);
        /* RSA2 is SHA256withRSA: an RSA key, of Alipay's 2048 bits or more. */
        if (alipay.app_key == NULL || EVP_PKEY_get_base_id(alipay.app_key) != EVP_PKEY_RSA ||
            EVP_PKEY_get_bits(alipay.app_key) < 2048)
            bad = "alipay.app_private_key_file holds no RSA private key of 2048 bits or more";
    }
    if (bad == NULL && pay_public_keys_add(&alipay.alipay_keys, config->alipay_public_key) < 0)
        bad = "alipay.alipay_public_key_file holds no usable public key";
    if (bad == NULL && setting_given(config->alipay_public_key_next) &&
        pay_public_keys_add(&alipay.alipay_keys, config->alipay_public_key_next) < 0)
        bad = "alipay.alipay_public_key_next_file holds no usable public key";
    if (bad != NULL) {
        snprintf(error, PAY_ERROR_SIZE, "%s", bad);
        alipay_shutdown();
        return LEB_E_INVALID_REQUEST;
    }
    snprintf(alipay.app_id, sizeof(alipay.app_id), "%s", config->alipay_app_id);
    snprintf(alipay.seller_id, sizeof(alipay.seller_id), "%s", config->alipay_seller_id);
    snprintf(alipay.gateway_url, sizeof(alipay.gateway_url), "%s", config->alipay_gateway_url);
    return 0;
}

/* The answer is about "order_no", or says nothing of it. */
static bool answer_is_for(const struct alipay_answer *answer, const char *order_no)
{
    const char *out_trade_no = json_text(answer->response, "out_trade_no");
    return out_trade_no == NULL || strcmp(out_trade_no, order_no) == 0;
}

static int alipay_prepare(struct app *app, const struct order_row *order,
                          struct order_payment_row *out)
{
    static const char method[] = "alipay.trade.precreate";
    LEB_ASSERT(order->quote.pay_amount > 0 && order->expires_at > 0);
    if (strcmp(order->quote.currency, "CNY") != 0) {
        alipay_log_failure(method, order->order_no, "Alipay takes CNY only", NULL);
        return LEB_E_UNAVAILABLE;
    }
    char total[MONEY_FORMAT_MAX], face[MONEY_FORMAT_MAX], subject[64], expire[ALIPAY_TIME_SIZE];
    money_format(total, order->quote.pay_amount);
    money_format(face, order->quote.face_amount);
    snprintf(subject, sizeof(subject), "保号卡充值 %s 元", face);
    /* The payer's QR code closes with the order; Alipay wants a minute at least. */
    int64_t now = app_now(app);
    alipay_time_format(expire, order->expires_at > now + ALIPAY_EXPIRE_MIN_S
                                   ? order->expires_at
                                   : now + ALIPAY_EXPIRE_MIN_S);
    json_t *biz = json_pack("{s:s, s:s, s:s, s:s}", "out_trade_no", order->order_no, "total_amount",
                            total, "subject", subject, "time_expire", expire);
    struct alipay_answer answer;
    int rc = alipay_call(app, now, method, biz, true, order->order_no, &answer);
    if (rc < 0)
        goto out;
    const char *qr_code = json_text(answer.response, "qr_code");
    rc = LEB_E_UNAVAILABLE;
    if (!text_is(answer.code, ALIPAY_CODE_SUCCESS))
        alipay_log_failure(method, order->order_no, "refused", &answer);
    else if (!answer_is_for(&answer, order->order_no))
        alipay_log_failure(method, order->order_no, "the answer is about another order", &answer);
    else if (qr_code == NULL || qr_code[0] == '\0' || strlen(qr_code) >= sizeof(out->qr_text))
        alipay_log_failure(method, order->order_no, "no usable qr_code", &answer);
    else
        rc = 0;
    if (rc == 0) {
        snprintf(out->pay_url, sizeof(out->pay_url), "%s", qr_code);
        snprintf(out->qr_text, sizeof(out->qr_text), "%s", qr_code);
    }
out:
    alipay_answer_free(&answer);
    return rc;
}

/* The answer's body, malloc'd, for the caller to keep for audit. */
static char *answer_body_copy(const struct alipay_answer *answer, size_t *size)
{
    char *copy = malloc(answer->result.body_size + 1);
    LEB_ASSERT(copy != NULL);
    memcpy(copy, answer->result.body, answer->result.body_size);
    copy[answer->result.body_size] = '\0';
    *size = answer->result.body_size;
    return copy;
}

static int alipay_query(struct app *app, const struct order_row *order,
                        const struct order_payment_row *payment, struct payment_query *out)
{
    static const char method[] = "alipay.trade.query";
    (void)payment;
    memset(out, 0, sizeof(*out));
    struct alipay_answer answer;
    int rc =
        alipay_call(app, app_now(app), method, json_pack("{s:s}", "out_trade_no", order->order_no),
                    false, order->order_no, &answer);
    if (rc < 0)
        goto out;
    rc = LEB_E_UNAVAILABLE;
    const char *status = json_text(answer.response, "trade_status");
    const char *trade_no = json_text(answer.response, "trade_no");
    const char *total = json_text(answer.response, "total_amount");
    if (text_is(answer.code, ALIPAY_CODE_BUSINESS_FAILED) &&
        strcmp(answer.sub_code, "ACQ.TRADE_NOT_EXIST") == 0) {
        /* A precreated trade exists at Alipay only once the payer has scanned it. */
        out->state = PAYMENT_QUERY_WAITING;
        snprintf(out->status_word, sizeof(out->status_word), "TRADE_NOT_EXIST");
        rc = 0;
    } else if (!text_is(answer.code, ALIPAY_CODE_SUCCESS) || status == NULL) {
        alipay_log_failure(method, order->order_no, "refused", &answer);
    } else if (!answer_is_for(&answer, order->order_no)) {
        alipay_log_failure(method, order->order_no, "the answer is about another order", &answer);
    } else if (strcmp(status, "TRADE_SUCCESS") == 0 || strcmp(status, "TRADE_FINISHED") == 0) {
        if (trade_no == NULL || trade_no[0] == '\0' || strlen(trade_no) >= TRADE_NO_SIZE ||
            alipay_amount_parse(&out->amount, total) < 0) {
            alipay_log_failure(method, order->order_no, "a paid trade without its number or amount",
                               &answer);
        } else {
            out->state = PAYMENT_QUERY_PAID;
            snprintf(out->trade_no, sizeof(out->trade_no), "%s", trade_no);
            if (alipay_time_parse(&out->paid_at, json_text(answer.response, "send_pay_date")) < 0)
                out->paid_at = 0;
            rc = 0;
        }
    } else if (strcmp(status, "TRADE_CLOSED") == 0) {
        out->state = PAYMENT_QUERY_CLOSED;
        if (trade_no != NULL && strlen(trade_no) < TRADE_NO_SIZE)
            snprintf(out->trade_no, sizeof(out->trade_no), "%s", trade_no);
        if (total != NULL && alipay_amount_parse(&out->amount, total) < 0)
            out->amount = 0;
        rc = 0;
    } else if (strcmp(status, "WAIT_BUYER_PAY") == 0) {
        out->state = PAYMENT_QUERY_WAITING;
        rc = 0;
    } else {
        alipay_log_failure(method, order->order_no, "an unknown trade_status", &answer);
    }
    if (rc == 0) {
        if (status != NULL)
            snprintf(out->status_word, sizeof(out->status_word), "%s", status);
        out->raw = answer_body_copy(&answer, &out->raw_size);
    } else {
        out->state = PAYMENT_QUERY_WAITING;
        out->amount = 0;
        out->trade_no[0] = '\0';
    }
out:
    alipay_answer_free(&answer);
    return rc;
}

/* Alipay's business failures of a refund that a later attempt with the same out_request_no
 * may get past; every other one needs a human. */
static bool refund_failure_passes(const char *sub_code)
{
    static const char *const passing[] = {
        "ACQ.SYSTEM_ERROR",              /* "call again with the same parameters" */
        "ACQ.SELLER_BALANCE_NOT_ENOUGH", /* the merchant's balance is topped up */
        "ACQ.REFUND_CHARGE_ERROR",       /* the refund of the fee failed: retry */
    };
    for (size_t i = 0; i < sizeof(passing) / sizeof(passing[0]); i++)
        if (strcmp(sub_code, passing[i]) == 0)
            return true;
    return false;
}

/* "sub_code: sub_msg" of a refused answer into "out->error". */
static void refund_error(struct payment_refund *out, const struct alipay_answer *answer)
{
    char text[ALIPAY_ERROR_MAX * 4];
    snprintf(text, sizeof(text), "alipay %s %s: %s", answer->code ? answer->code : "",
             answer->sub_code, answer->sub_msg);
    /* Alipay's sub_msg is Chinese: cut on a character, never in one. */
    text_copy_utf8(out->error, sizeof(out->error), text, ALIPAY_ERROR_MAX);
}

/*
 * Asks Alipay whether refund "refund_no" of "order" went through: Alipay's refund answers
 * fund_change "N" to an out_request_no it has seen, and says that only a refund query tells
 * whether that refund succeeded.
 */
static int alipay_refund_confirm(struct app *app, const struct order_row *order,
                                 const char *refund_no, struct payment_refund *out)
{
    static const char method[] = "alipay.trade.fastpay.refund.query";
    struct alipay_answer answer;
    int rc = alipay_call(
        app, app_now(app), method,
        json_pack("{s:s, s:s}", "out_trade_no", order->order_no, "out_request_no", refund_no),
        false, order->order_no, &answer);
    if (rc < 0)
        goto out;
    const char *request_no = json_text(answer.response, "out_request_no");
    const char *trade_no = json_text(answer.response, "trade_no");
    if (text_is(answer.code, ALIPAY_CODE_SUCCESS) && answer_is_for(&answer, order->order_no) &&
        text_is(json_text(answer.response, "refund_status"), "REFUND_SUCCESS") &&
        (request_no == NULL || strcmp(request_no, refund_no) == 0)) {
        out->state = PAYMENT_REFUND_DONE;
        snprintf(out->refund_id, sizeof(out->refund_id), "%s",
                 trade_no && trade_no[0] && strlen(trade_no) < TRADE_NO_SIZE ? trade_no
                                                                             : refund_no);
    } else {
        out->state = PAYMENT_REFUND_PENDING;
        snprintf(out->error, sizeof(out->error), "alipay has not confirmed refund %s yet",
                 refund_no);
    }
out:
    alipay_answer_free(&answer);
    return rc;
}

static int alipay_refund(struct app *app, const struct order_row *order,
                         const struct order_payment_row *payment, const char *refund_no,
                         struct payment_refund *out)
{
    static const char method[] = "alipay.trade.refund";
    memset(out, 0, sizeof(*out));
    int64_t amount = payment->refund_amount > 0 ? payment->refund_amount : order->quote.pay_amount;
    LEB_ASSERT(amount > 0); /* a review's refund may give back more than the price: what was paid */
    char refund_amount[MONEY_FORMAT_MAX];
    money_format(refund_amount, amount);
    json_t *biz = json_pack("{s:s, s:s, s:s}", "out_trade_no", order->order_no, "refund_amount",
                            refund_amount, "out_request_no", refund_no);
    struct alipay_answer answer;
    int rc = alipay_call(app, app_now(app), method, biz, false, order->order_no, &answer);
    if (rc < 0)
        goto out;
    const char *trade_no = json_text(answer.response, "trade_no");
    if (text_is(answer.code, ALIPAY_CODE_SUCCESS)) {
        if (!answer_is_for(&answer, order->order_no)) {
            alipay_log_failure(method, order->order_no, "the answer is about another order",
                               &answer);
            rc = LEB_E_UNAVAILABLE;
        } else if (text_is(json_text(answer.response, "fund_change"), "Y")) {
            out->state = PAYMENT_REFUND_DONE;
            snprintf(out->refund_id, sizeof(out->refund_id), "%s",
                     trade_no && trade_no[0] && strlen(trade_no) < TRADE_NO_SIZE ? trade_no
                                                                                 : refund_no);
        } else {
            rc = alipay_refund_confirm(app, order, refund_no, out);
        }
    } else if (text_is(answer.code, ALIPAY_CODE_BUSINESS_FAILED) &&
               !refund_failure_passes(answer.sub_code)) {
        out->state = PAYMENT_REFUND_FAILED;
        refund_error(out, &answer);
    } else {
        /* Alipay busy (20000), a passing failure, or our own request refused (400xx): the
         * same refund number is tried again later, and an operator sees why meanwhile. */
        out->state = PAYMENT_REFUND_PENDING;
        refund_error(out, &answer);
        alipay_log_failure(method, order->order_no, "refund not done", &answer);
    }
out:
    alipay_answer_free(&answer);
    return rc;
}

/* ---- notifications ---- */

static void params_owner_free(void *owner)
{
    alipay_params_free(owner);
    free(owner);
}

static int alipay_notify_parse(const struct app *app, const struct pay_notify_input *input,
                               struct pay_notify_parsed *out)
{
    (void)app;
    memset(out, 0, sizeof(*out));
    static const char form_type[] = "application/x-www-form-urlencoded";
    if (input->content_type != NULL &&
        strncasecmp(input->content_type, form_type, sizeof(form_type) - 1) != 0)
        return LEB_E_INVALID_REQUEST;
    struct alipay_params *params = malloc(sizeof(*params));
    LEB_ASSERT(params != NULL);
    int rc = alipay_form_decode(params, input->body, input->body_size);
    if (rc < 0)
        goto out;

    /* The signature first: nothing of the message counts before it verifies. */
    const char *sign = alipay_params_get(params, "sign");
    const char *sign_type = alipay_params_get(params, "sign_type");
    rc = LEB_E_INVALID_SIGNATURE;
    if (sign == NULL || sign[0] == '\0' || (sign_type != NULL && strcmp(sign_type, "RSA2") != 0))
        goto out;
    char *content = alipay_sign_content(params, true);
    bool verified = pay_rsa_verify_base64(&alipay.alipay_keys, content, strlen(content), sign);
    free(content);
    if (!verified)
        goto out;

    const char *notify_type = alipay_params_get(params, "notify_type");
    const char *status = alipay_params_get(params, "trade_status");
    const char *order_no = alipay_params_get(params, "out_trade_no");
    const char *trade_no = alipay_params_get(params, "trade_no");
    const char *total = alipay_params_get(params, "total_amount");
    rc = LEB_E_INVALID_REQUEST;
    if (status == NULL || order_no == NULL || order_no[0] == '\0' || trade_no == NULL ||
        trade_no[0] == '\0' || strlen(trade_no) >= TRADE_NO_SIZE)
        goto out;
    /* A signed notification from long ago is a replay: Alipay's own resends stop after about
     * a day, and what it never told is found by querying. Real time: Alipay's clock. */
    int64_t sent_at = 0, now = (int64_t)time(NULL);
    if (alipay_time_parse(&sent_at, alipay_params_get(params, "notify_time")) < 0 ||
        sent_at < now - ALIPAY_NOTIFY_AGE_MAX_S || sent_at > now + ALIPAY_NOTIFY_SKEW_MAX_S) {
        rc = LEB_E_INVALID_SIGNATURE;
        goto out;
    }
    bool success = strcmp(status, "TRADE_SUCCESS") == 0 || strcmp(status, "TRADE_FINISHED") == 0;
    bool closed = strcmp(status, "TRADE_CLOSED") == 0;
    /* Verified, but nothing LEB acts on: another kind of message, a trade still waiting for
     * its buyer, or an order number LEB never makes. Acknowledged, so Alipay stops. */
    if ((notify_type != NULL && strcmp(notify_type, "trade_status_sync") != 0) ||
        strcmp(status, "WAIT_BUYER_PAY") == 0 || strlen(order_no) >= ORDER_NO_SIZE) {
        rc = PAY_NOTIFY_IGNORED;
        goto out;
    }
    if (!success && !closed)
        goto out;
    int64_t amount = 0;
    if ((success || total != NULL) && alipay_amount_parse(&amount, total) < 0)
        goto out;
    const char *app_id = alipay_params_get(params, "app_id");
    const char *seller_id = alipay_params_get(params, "seller_id");
    bool ours = text_is(app_id, alipay.app_id) && text_is(seller_id, alipay.seller_id);
    /* Another merchant's trade closing says nothing of our order: it must not fail it. */
    if (closed && !ours) {
        rc = PAY_NOTIFY_IGNORED;
        goto out;
    }
    out->notice = (struct payment_notice){
        .provider = "alipay",
        .order_no = order_no,
        .trade_no = trade_no,
        .amount = amount,
        .success = success,
        .status_word = status,
        .raw = input->body,
        .raw_size = input->body_size,
        .merchant_mismatch = !ours,
    };
    if (success &&
        alipay_time_parse(&out->notice.paid_at, alipay_params_get(params, "gmt_payment")) < 0)
        out->notice.paid_at = 0; /* when Alipay took the money; unsaid: when LEB learnt of it */
    out->owner = params;
    out->owner_free = params_owner_free;
    return 0;
out:
    params_owner_free(params);
    memset(out, 0, sizeof(*out));
    return rc;
}

static void alipay_notify_reply(enum pay_verdict verdict, struct pay_reply *out)
{
    memset(out, 0, sizeof(*out));
    out->status = 200;
    out->content_type = "text/plain; charset=utf-8";
    /* Alipay sends again, for a day, until it reads exactly "success". */
    snprintf(out->body, sizeof(out->body), "%s",
             verdict == PAY_VERDICT_ACCEPTED ? "success" : "failure");
}

const struct pay_provider pay_alipay = {
    .name = "alipay",
    .method = PAYMENT_ALIPAY,
    .init = alipay_init,
    .shutdown = alipay_shutdown,
    .prepare = alipay_prepare,
    .notify_parse = alipay_notify_parse,
    .notify_reply = alipay_notify_reply,
    .query = alipay_query,
    .refund = alipay_refund,
};
