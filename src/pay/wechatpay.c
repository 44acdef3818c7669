/*
 * wechatpay.c - the wechatpay payment provider: WeChat Pay API v3, Native payment (the payer
 * scans a QR code), for a directly connected merchant (直连商户).
 *
 * The wire format, as WeChat Pay documents it:
 *
 * - Every call LEB makes is signed with the merchant's private key: SHA256withRSA over
 *   "METHOD\nURL-path-and-query\ntimestamp\nnonce\nbody\n", sent as
 *   "Authorization: WECHATPAY2-SHA256-RSA2048 mchid=...,nonce_str=...,signature=...,
 *   timestamp=...,serial_no=<merchant certificate serial>".
 * - Every answer, and every notification, is signed by WeChat Pay's platform key: SHA256withRSA
 *   over "timestamp\nnonce\nbody\n" in the headers Wechatpay-Timestamp, -Nonce, -Signature,
 *   and -Serial naming the platform key (two during a rotation). An answer or a notification
 *   that does not verify is not believed: an answer is as good as no answer (the call is
 *   unavailable), a notification is refused.
 * - A notification's payload (the transaction) is encrypted with AEAD_AES_256_GCM under the
 *   merchant's APIv3 key; its signature is checked over the exact bytes received before
 *   anything is parsed or decrypted.
 * - Amounts are integers of fen, in CNY.
 *
 * This file owns the [wechatpay] keys, loaded and checked once by init and only read
 * afterwards (from any thread). It never logs a key, a signature it made or a decrypted
 * payload, and it never decides what a payment does to an order: that is src/app's.
 */
#include "pay/wechatpay.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/timeutil.h"
#include "pay/pay.h"
#include "pay/pay_crypto.h"
#include "util/http_client.h"
#include "util/text.h"
#include "util/log.h"

#define WECHATPAY_NOTIFY_PATH "/api/v1/payments/wechatpay/notify"
#define WECHATPAY_AUTH_SCHEME "WECHATPAY2-SHA256-RSA2048"
#define WECHATPAY_CURRENCY "CNY"
#define WECHATPAY_APIV3_KEY_SIZE 32    /* the APIv3 key: 32 bytes of text */
#define WECHATPAY_ID_MAX 32            /* appid and mchid are string(32) */
#define WECHATPAY_SERIAL_MAX 64        /* a certificate serial or a public key id */
#define WECHATPAY_NONCE_MAX 64         /* the nonces WeChat Pay sends are 32 characters */
#define WECHATPAY_SIGNATURE_MAX 1024   /* base64 of a 2048-bit (or 4096-bit) signature */
#define WECHATPAY_CLOCK_SKEW_MAX_S 300 /* a signed timestamp older or newer is refused */
#define WECHATPAY_BASE_URL_MAX 255
#define WECHATPAY_URL_MAX 1024
#define WECHATPAY_DESCRIPTION "保号卡充值"      /* shown to the payer with the order number */
#define WECHATPAY_AMOUNT_MAX 9007199254740992LL /* 2^53, as every amount LEB accepts */
#define WECHATPAY_BEIJING_OFFSET_S (8 * 3600)
#define WECHATPAY_PLATFORMS_MAX 2 /* the current platform key and, during a rotation, the next */
#define WECHATPAY_USER_AGENT "lebd (WeChat Pay API v3)"

struct wechatpay_platform {
    char serial[WECHATPAY_SERIAL_MAX + 1];
    struct pay_keys keys;
};

/* What init loaded: written once at start-up, before any thread reads it. */
static struct {
    char appid[WECHATPAY_ID_MAX + 1];
    char mchid[WECHATPAY_ID_MAX + 1];
    char apiv3_key[WECHATPAY_APIV3_KEY_SIZE + 1];
    char merchant_serial[WECHATPAY_SERIAL_MAX + 1];
    char base_url[WECHATPAY_BASE_URL_MAX + 1]; /* without a trailing "/" */
    size_t base_path_at;                       /* where base_url's path begins */
    EVP_PKEY *merchant_key;
    struct wechatpay_platform platforms[WECHATPAY_PLATFORMS_MAX];
    size_t platforms_count;
} wechatpay;

/* ---- the texts WeChat Pay signs ---- */

void wechatpay_time_format(char out[WECHATPAY_TIME_SIZE], int64_t unix_s)
{
    time_t beijing = (time_t)(unix_s + WECHATPAY_BEIJING_OFFSET_S);
    struct tm fields;
    LEB_ASSERT(gmtime_r(&beijing, &fields) != NULL);
    size_t written = strftime(out, WECHATPAY_TIME_SIZE, "%Y-%m-%dT%H:%M:%S+08:00", &fields);
    LEB_ASSERT(written == WECHATPAY_TIME_SIZE - 1);
}

char *wechatpay_signed_text(size_t *size, const char *const *parts, const size_t *sizes,
                            size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        LEB_ASSERT(sizes[i] < SIZE_MAX / 2 && total < SIZE_MAX / 2);
        total += sizes[i] + 1;
    }
    char *text = malloc(total + 1);
    LEB_ASSERT(text != NULL);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        memcpy(text + at, parts[i], sizes[i]);
        at += sizes[i];
        text[at++] = '\n';
    }
    LEB_ASSERT(at == total);
    text[at] = '\0';
    *size = total;
    return text;
}

/* True if "text" is 1 to "max" characters a header value or a JSON string carries as they
 * are: letters, digits, "_" and "-". Identifiers and serials are all of that kind. */
static bool text_is_token(const char *text, size_t max)
{
    size_t size = strlen(text);
    if (size == 0 || size > max)
        return false;
    for (size_t i = 0; i < size; i++) {
        char c = text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* The platform key WeChat Pay names by "serial" (a certificate serial in hex, whose case does
 * not matter, or a public key id), or NULL. */
static const struct wechatpay_platform *platform_find(const char *serial)
{
    for (size_t i = 0; i < wechatpay.platforms_count; i++)
        if (strcasecmp(wechatpay.platforms[i].serial, serial) == 0)
            return &wechatpay.platforms[i];
    return NULL;
}

/*
 * Checks WeChat Pay's signature of "body" ("body_size" bytes) given the four Wechatpay-*
 * headers (any may be NULL), against the real time "now": NULL if it verifies, else why not,
 * in a few words for the logs.
 */
static const char *signature_problem(const char *serial, const char *timestamp, const char *nonce,
                                     const char *signature, const char *body, size_t body_size,
                                     int64_t now)
{
    if (serial == NULL || timestamp == NULL || nonce == NULL || signature == NULL)
        return "a Wechatpay-* header is missing";
    const struct wechatpay_platform *platform = platform_find(serial);
    if (platform == NULL)
        return "unknown platform serial (configure the new platform key?)";
    size_t timestamp_size = strlen(timestamp);
    if (timestamp_size == 0 || timestamp_size > 12 ||
        strspn(timestamp, "0123456789") != timestamp_size)
        return "bad timestamp";
    int64_t at = strtoll(timestamp, NULL, 10);
    if (at < now - WECHATPAY_CLOCK_SKEW_MAX_S || at > now + WECHATPAY_CLOCK_SKEW_MAX_S)
        return "timestamp too far from now (a replay, or a clock out of step)";
    size_t nonce_size = strlen(nonce);
    if (nonce_size == 0 || nonce_size > WECHATPAY_NONCE_MAX)
        return "bad nonce";
    const char *parts[] = {timestamp, nonce, body};
    const size_t sizes[] = {timestamp_size, nonce_size, body_size};
    size_t text_size = 0;
    char *text = wechatpay_signed_text(&text_size, parts, sizes, 3);
    bool verified = pay_rsa_verify_base64(&platform->keys, text, text_size, signature);
    free(text);
    return verified ? NULL : "signature does not verify";
}

/* ---- start-up ---- */

static void wechatpay_shutdown(void)
{
    EVP_PKEY_free(wechatpay.merchant_key);
    for (size_t i = 0; i < wechatpay.platforms_count; i++)
        pay_keys_free(&wechatpay.platforms[i].keys);
    explicit_bzero(&wechatpay, sizeof(wechatpay));
}

/* Every key of a public key set is RSA: WeChat Pay signs with RSA only. */
static bool keys_are_rsa(const struct pay_keys *keys)
{
    for (size_t i = 0; i < keys->count; i++)
        if (EVP_PKEY_get_base_id(keys->keys[i]) != EVP_PKEY_RSA)
            return false;
    return keys->count > 0;
}

static int platform_add(const char *pem, const char *serial, const char *pem_key,
                        const char *serial_key, char error[PAY_ERROR_SIZE])
{
    LEB_ASSERT(wechatpay.platforms_count < WECHATPAY_PLATFORMS_MAX);
    if (!text_is_token(serial, WECHATPAY_SERIAL_MAX)) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay] %s must be 1 to %d letters, digits, '_' or '-' (the platform "
                 "certificate's serial, or the public key's id)",
                 serial_key, WECHATPAY_SERIAL_MAX);
        return LEB_E_INVALID_REQUEST;
    }
    if (platform_find(serial) != NULL) {
        snprintf(error, PAY_ERROR_SIZE, "[wechatpay] %s names a serial already configured",
                 serial_key);
        return LEB_E_INVALID_REQUEST;
    }
    struct wechatpay_platform *platform = &wechatpay.platforms[wechatpay.platforms_count];
    if (pay_public_keys_add(&platform->keys, pem) < 0 || !keys_are_rsa(&platform->keys)) {
        pay_keys_free(&platform->keys);
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay] %s holds no RSA public key or certificate in PEM", pem_key);
        return LEB_E_INVALID_REQUEST;
    }
    snprintf(platform->serial, sizeof(platform->serial), "%s", serial);
    wechatpay.platforms_count++;
    return 0;
}

static int merchant_key_load(const char *pem, char error[PAY_ERROR_SIZE])
{
    EVP_PKEY *key = pay_private_key_load(pem);
    if (key == NULL) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay] merchant_private_key_file holds no private key in PEM "
                 "(apiclient_key.pem)");
        return LEB_E_INVALID_REQUEST;
    }
    /* WeChat Pay issues 2048-bit keys; the bound keeps a signature within its header. */
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048 ||
        EVP_PKEY_get_bits(key) > 4096) {
        EVP_PKEY_free(key);
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay] merchant_private_key_file must hold an RSA key of 2048 to 4096 "
                 "bits");
        return LEB_E_INVALID_REQUEST;
    }
    /* A key that cannot sign is found now rather than at the first order. */
    char *probe = pay_rsa_sign_base64(key, "leb", 3);
    if (probe == NULL) {
        EVP_PKEY_free(key);
        snprintf(error, PAY_ERROR_SIZE, "[wechatpay] merchant_private_key_file cannot sign");
        return LEB_E_INVALID_REQUEST;
    }
    free(probe);
    wechatpay.merchant_key = key;
    return 0;
}

static int base_url_set(const char *url, char error[PAY_ERROR_SIZE])
{
    size_t size = strlen(url);
    while (size > 0 && url[size - 1] == '/')
        size--;
    const char *authority = strstr(url, "://");
    if (size > WECHATPAY_BASE_URL_MAX || authority == NULL || strpbrk(url, "?# \"") != NULL) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay] base_url must be an http(s) URL of at most %d characters, "
                 "without a query (https://api.mch.weixin.qq.com)",
                 WECHATPAY_BASE_URL_MAX);
        return LEB_E_INVALID_REQUEST;
    }
    memcpy(wechatpay.base_url, url, size);
    wechatpay.base_url[size] = '\0';
    /* What the signature covers is the path WeChat Pay's server sees: whatever path the base
     * URL has, then the API's. */
    const char *path = strchr(wechatpay.base_url + (authority - url) + 3, '/');
    wechatpay.base_path_at = path ? (size_t)(path - wechatpay.base_url) : size;
    return 0;
}

/*
 * Off when no [wechatpay] setting is given; otherwise every one is needed (the next platform
 * key and its serial only together), and each is checked here so that a bad key stops lebd
 * at start-up instead of failing the first payment.
 */
static int wechatpay_init(const struct config *config, char error[PAY_ERROR_SIZE])
{
    const struct {
        const char *key;
        const char *env;
        const char *value;
    } required[] = {
        {"appid", "LEB_WECHATPAY_APPID", config->wechatpay_appid},
        {"mch_id", "LEB_WECHATPAY_MCH_ID", config->wechatpay_mch_id},
        {"apiv3_key_file", "LEB_WECHATPAY_APIV3_KEY_FILE", config->wechatpay_apiv3_key},
        {"platform_public_key_file", "LEB_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE",
         config->wechatpay_platform_public_key},
        {"platform_serial", "LEB_WECHATPAY_PLATFORM_SERIAL", config->wechatpay_platform_serial},
        {"merchant_private_key_file", "LEB_WECHATPAY_MERCHANT_PRIVATE_KEY_FILE",
         config->wechatpay_merchant_private_key},
        {"merchant_serial", "LEB_WECHATPAY_MERCHANT_SERIAL", config->wechatpay_merchant_serial},
        {"base_url", "LEB_WECHATPAY_BASE_URL", config->wechatpay_base_url},
    };
    const char *next_pem = config->wechatpay_platform_public_key_next;
    const char *next_serial = config->wechatpay_platform_serial_next;
    size_t required_count = sizeof(required) / sizeof(required[0]);
    bool any = next_pem != NULL || next_serial != NULL;
    for (size_t i = 0; i < required_count; i++)
        any = any || required[i].value != NULL;
    if (!any)
        return LEB_E_NOT_FOUND;

    explicit_bzero(&wechatpay, sizeof(wechatpay));
    int rc = LEB_E_INVALID_REQUEST;
    for (size_t i = 0; i < required_count; i++) {
        if (required[i].value == NULL || required[i].value[0] == '\0') {
            snprintf(error, PAY_ERROR_SIZE,
                     "[wechatpay] %s is not set (%s): once one [wechatpay] setting is given, "
                     "WeChat Pay needs them all",
                     required[i].key, required[i].env);
            goto out;
        }
    }
    if ((next_pem == NULL) != (next_serial == NULL)) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay] platform_public_key_next_file and platform_serial_next go "
                 "together: set both or neither");
        goto out;
    }
    if (!text_is_token(config->wechatpay_appid, WECHATPAY_ID_MAX) ||
        !text_is_token(config->wechatpay_mch_id, WECHATPAY_ID_MAX)) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay] appid and mch_id must be 1 to %d letters or digits",
                 WECHATPAY_ID_MAX);
        goto out;
    }
    if (!text_is_token(config->wechatpay_merchant_serial, WECHATPAY_SERIAL_MAX)) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay] merchant_serial must be the merchant API certificate's serial "
                 "(1 to %d letters or digits)",
                 WECHATPAY_SERIAL_MAX);
        goto out;
    }
    size_t key_size = strlen(config->wechatpay_apiv3_key);
    if (key_size != WECHATPAY_APIV3_KEY_SIZE) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay] apiv3_key_file must hold the 32-byte APIv3 key; it holds %zu "
                 "bytes",
                 key_size);
        goto out;
    }
    snprintf(wechatpay.appid, sizeof(wechatpay.appid), "%s", config->wechatpay_appid);
    snprintf(wechatpay.mchid, sizeof(wechatpay.mchid), "%s", config->wechatpay_mch_id);
    snprintf(wechatpay.merchant_serial, sizeof(wechatpay.merchant_serial), "%s",
             config->wechatpay_merchant_serial);
    memcpy(wechatpay.apiv3_key, config->wechatpay_apiv3_key, WECHATPAY_APIV3_KEY_SIZE + 1);
    rc = base_url_set(config->wechatpay_base_url, error);
    if (rc == 0)
        rc = merchant_key_load(config->wechatpay_merchant_private_key, error);
    if (rc == 0)
        rc = platform_add(config->wechatpay_platform_public_key, config->wechatpay_platform_serial,
                          "platform_public_key_file", "platform_serial", error);
    if (rc == 0 && next_pem != NULL)
        rc = platform_add(next_pem, next_serial, "platform_public_key_next_file",
                          "platform_serial_next", error);
    if (rc == 0) {
        LEB_ASSERT(wechatpay.merchant_key != NULL && wechatpay.platforms_count >= 1);
        LOG_INFO("wechatpay keys loaded", "mchid", wechatpay.mchid, "merchant_serial",
                 wechatpay.merchant_serial, "platform_serial", wechatpay.platforms[0].serial,
                 "platform_serial_next", next_serial ? next_serial : "");
        /* WeChat Pay posts notifications to public HTTPS URLs only (or over a private line):
         * without one, payments are found by polling alone. */
        if (config->public_url == NULL || strncmp(config->public_url, "https://", 8) != 0)
            LOG_WARN("wechatpay notify_url is not https: WeChat Pay may not deliver to it",
                     "public_url", config->public_url ? config->public_url : "(listen address)");
        return 0;
    }
out:
    wechatpay_shutdown();
    return LEB_E_INVALID_REQUEST;
}

/* ---- calls to WeChat Pay ---- */

/* A verified answer of WeChat Pay. */
struct wechatpay_answer {
    long status;
    json_t *root; /* the body; NULL when it is empty */
    char *body;   /* malloc'd, NUL-terminated */
    size_t body_size;
};

static void answer_free(struct wechatpay_answer *answer)
{
    json_decref(answer->root);
    free(answer->body);
    memset(answer, 0, sizeof(*answer));
}

/* WeChat Pay's error code of an answer ({"code","message"}), for the logs. */
static const char *answer_code(const struct wechatpay_answer *answer)
{
    const char *code = answer->root ? pay_json_string(answer->root, "code", 64) : NULL;
    return code ? code : "";
}

static const char *answer_message(const struct wechatpay_answer *answer)
{
    const char *message = answer->root ? pay_json_string(answer->root, "message", 512) : NULL;
    return message ? message : "";
}

/*
 * Calls WeChat Pay: "method" on "path_and_query" (from "/v3/"), with the JSON "body" (NULL
 * for none), signed with the merchant key. On 0, "out" holds an answer whose signature was
 * verified, whatever its status; LEB_E_UNAVAILABLE if WeChat Pay could not be reached or its
 * answer is not proven to be its own. Free "out" with answer_free() in both cases.
 */
static int wechatpay_call(struct app *app, const char *method, const char *path_and_query,
                          const char *body, struct wechatpay_answer *out)
{
    memset(out, 0, sizeof(*out));
    char url[WECHATPAY_URL_MAX];
    int length = snprintf(url, sizeof(url), "%s%s", wechatpay.base_url, path_and_query);
    LEB_ASSERT(length > 0 && (size_t)length < sizeof(url));
    const char *canonical_url = url + wechatpay.base_path_at;

    char timestamp[24], nonce[33];
    snprintf(timestamp, sizeof(timestamp), "%lld", (long long)time(NULL));
    pay_random_hex(nonce, 16);
    pay_hex_upper(nonce);
    const char *payload = body ? body : "";
    const char *parts[] = {method, canonical_url, timestamp, nonce, payload};
    const size_t sizes[] = {strlen(method), strlen(canonical_url), strlen(timestamp), strlen(nonce),
                            strlen(payload)};
    size_t text_size = 0;
    char *text = wechatpay_signed_text(&text_size, parts, sizes, 5);
    char *signature = pay_rsa_sign_base64(wechatpay.merchant_key, text, text_size);
    free(text);
    LEB_ASSERT(signature != NULL); /* init proved that the key signs */
    char authorization[WECHATPAY_SIGNATURE_MAX + 512];
    length = snprintf(authorization, sizeof(authorization),
                      "Authorization: " WECHATPAY_AUTH_SCHEME
                      " mchid=\"%s\",nonce_str=\"%s\",signature=\"%s\",timestamp=\"%s\","
                      "serial_no=\"%s\"",
                      wechatpay.mchid, nonce, signature, timestamp, wechatpay.merchant_serial);
    free(signature);
    LEB_ASSERT(length > 0 && (size_t)length < sizeof(authorization));

    /* "Expect:" keeps curl from waiting for a 100 Continue: one answer, one set of headers. */
    const char *headers[] = {authorization,
                             "Accept: application/json",
                             "User-Agent: " WECHATPAY_USER_AGENT,
                             "Expect:",
                             body ? "Content-Type: application/json" : NULL,
                             NULL};
    struct http_call call = {.method = method,
                             .url = url,
                             .headers = headers,
                             .body = body,
                             .body_size = body ? strlen(body) : 0,
                             .timeout_ms = PAY_CALL_TIMEOUT_MS,
                             .cancel = &app->stopping};
    struct http_result result;
    if (http_client_call(&call, &result) < 0) {
        LOG_WARN("wechatpay call failed", "method", method, "path", canonical_url, "error",
                 result.error);
        http_result_free(&result);
        return LEB_E_UNAVAILABLE;
    }
    char serial[WECHATPAY_SERIAL_MAX + 2], answer_timestamp[24],
        answer_nonce[WECHATPAY_NONCE_MAX + 2];
    char answer_signature[WECHATPAY_SIGNATURE_MAX];
    const char *problem = signature_problem(
        http_result_header(&result, "Wechatpay-Serial", serial, sizeof(serial)),
        http_result_header(&result, "Wechatpay-Timestamp", answer_timestamp,
                           sizeof(answer_timestamp)),
        http_result_header(&result, "Wechatpay-Nonce", answer_nonce, sizeof(answer_nonce)),
        http_result_header(&result, "Wechatpay-Signature", answer_signature,
                           sizeof(answer_signature)),
        result.body, result.body_size, (int64_t)time(NULL));
    char status[16];
    snprintf(status, sizeof(status), LOG_RAW_PREFIX "%ld", result.status);
    if (problem != NULL) {
        LOG_WARN("wechatpay answer not verified", "method", method, "path", canonical_url, "status",
                 status, "reason", problem);
        http_result_free(&result);
        return LEB_E_UNAVAILABLE;
    }
    out->status = result.status;
    out->body = result.body;
    out->body_size = result.body_size;
    result.body = NULL;
    http_result_free(&result);
    if (out->body_size > 0) {
        out->root = json_loadb(out->body, out->body_size, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(out->root)) {
            LOG_WARN("wechatpay answer is not a JSON object", "method", method, "path",
                     canonical_url, "status", status);
            answer_free(out);
            return LEB_E_UNAVAILABLE;
        }
    }
    return 0;
}

/* An integer member of "object" in [1, WECHATPAY_AMOUNT_MAX], or -1. */
static int64_t amount_field(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);
    if (!json_is_integer(value))
        return -1;
    json_int_t amount = json_integer_value(value);
    return amount >= 1 && amount <= WECHATPAY_AMOUNT_MAX ? (int64_t)amount : -1;
}

/* ---- prepare: Native payment (POST /v3/pay/transactions/native) ---- */

static int wechatpay_prepare(struct app *app, const struct order_row *order,
                             struct order_payment_row *out)
{
    LEB_ASSERT(order->quote.pay_amount > 0);
    if (strcmp(order->quote.currency, WECHATPAY_CURRENCY) != 0) {
        LOG_WARN("wechatpay takes CNY only", "order_no", order->order_no, "currency",
                 order->quote.currency);
        return LEB_E_CURRENCY_MISMATCH;
    }
    char time_expire[WECHATPAY_TIME_SIZE], notify_url[512], description[128];
    wechatpay_time_format(time_expire, order->expires_at);
    size_t public_size = strlen(app->public_url);
    while (public_size > 0 && app->public_url[public_size - 1] == '/')
        public_size--;
    snprintf(notify_url, sizeof(notify_url), "%.*s" WECHATPAY_NOTIFY_PATH, (int)public_size,
             app->public_url);
    snprintf(description, sizeof(description), WECHATPAY_DESCRIPTION " %s", order->order_no);
    json_t *request =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s}}", "appid", wechatpay.appid, "mchid",
                  wechatpay.mchid, "description", description, "out_trade_no", order->order_no,
                  "time_expire", time_expire, "notify_url", notify_url, "amount", "total",
                  (json_int_t)order->quote.pay_amount, "currency", WECHATPAY_CURRENCY);
    LEB_ASSERT(request != NULL);
    char *body = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    LEB_ASSERT(body != NULL);
    struct wechatpay_answer answer;
    int rc = wechatpay_call(app, "POST", "/v3/pay/transactions/native", body, &answer);
    free(body);
    if (rc < 0)
        return rc;
    const char *code_url = answer.root ? pay_json_string(answer.root, "code_url", 511) : NULL;
    if (answer.status != 200 || code_url == NULL || strncmp(code_url, "weixin://", 9) != 0) {
        char status[16];
        snprintf(status, sizeof(status), LOG_RAW_PREFIX "%ld", answer.status);
        LOG_WARN("wechatpay refused the order", "order_no", order->order_no, "status", status,
                 "code", answer_code(&answer), "message", answer_message(&answer));
        answer_free(&answer);
        return LEB_E_UNAVAILABLE;
    }
    LEB_ASSERT(strlen(code_url) < sizeof(out->pay_url));
    snprintf(out->pay_url, sizeof(out->pay_url), "%s", code_url);
    snprintf(out->qr_text, sizeof(out->qr_text), "%s", code_url);
    answer_free(&answer);
    return 0;
}

/* ---- query: an order by its number (GET /v3/pay/transactions/out-trade-no/{no}) ---- */

static int query_read(const struct order_row *order, const struct wechatpay_answer *answer,
                      struct payment_query *out)
{
    json_t *root = answer->root;
    const char *state = root ? pay_json_string(root, "trade_state", 31) : NULL;
    const char *out_trade_no = root ? pay_json_string(root, "out_trade_no", 64) : NULL;
    const char *mchid = root ? pay_json_string(root, "mchid", 64) : NULL;
    if (state == NULL || out_trade_no == NULL || strcmp(out_trade_no, order->order_no) != 0 ||
        mchid == NULL || strcmp(mchid, wechatpay.mchid) != 0)
        return LEB_E_INVALID_REQUEST; /* not the answer to what was asked */
    snprintf(out->status_word, sizeof(out->status_word), "%s", state);
    const char *transaction_id = pay_json_string(root, "transaction_id", TRADE_NO_SIZE - 1);
    json_t *amount = json_object_get(root, "amount");
    if (strcmp(state, "NOTPAY") == 0 || strcmp(state, "USERPAYING") == 0) {
        out->state = PAYMENT_QUERY_WAITING;
    } else if (strcmp(state, "SUCCESS") == 0) {
        const char *currency = pay_json_string(amount, "currency", 8);
        int64_t total = amount_field(amount, "total");
        if (transaction_id == NULL || total < 0 ||
            (currency != NULL && strcmp(currency, WECHATPAY_CURRENCY) != 0))
            return LEB_E_INVALID_REQUEST;
        out->state = PAYMENT_QUERY_PAID;
        out->amount = total;
        snprintf(out->trade_no, sizeof(out->trade_no), "%s", transaction_id);
        if (time_parse_rfc3339_offset(&out->paid_at, pay_json_string(root, "success_time", 40)) < 0)
            out->paid_at = 0;
    } else if (strcmp(state, "CLOSED") == 0 || strcmp(state, "REVOKED") == 0 ||
               strcmp(state, "PAYERROR") == 0) {
        int64_t total = amount_field(amount, "total");
        out->state = PAYMENT_QUERY_CLOSED;
        out->amount = total > 0 ? total : 0;
        if (transaction_id != NULL)
            snprintf(out->trade_no, sizeof(out->trade_no), "%s", transaction_id);
    } else {
        /* REFUND (paid, then refunded at WeChat Pay: not LEB's doing) or a state this file
         * does not know: nothing LEB may conclude on its own. */
        return LEB_E_INVALID_REQUEST;
    }
    return 0;
}

static int wechatpay_query(struct app *app, const struct order_row *order,
                           const struct order_payment_row *payment, struct payment_query *out)
{
    (void)payment;
    memset(out, 0, sizeof(*out));
    char *order_no = http_client_escape(order->order_no);
    char *mchid = http_client_escape(wechatpay.mchid);
    char path[256];
    int length = snprintf(path, sizeof(path), "/v3/pay/transactions/out-trade-no/%s?mchid=%s",
                          order_no, mchid);
    free(order_no);
    free(mchid);
    LEB_ASSERT(length > 0 && (size_t)length < sizeof(path));
    struct wechatpay_answer answer;
    int rc = wechatpay_call(app, "GET", path, NULL, &answer);
    if (rc < 0)
        return rc;
    if (answer.status == 404 && strcmp(answer_code(&answer), "ORDER_NOT_EXIST") == 0) {
        /* The payer never opened the code: nothing exists to pay yet. */
        out->state = PAYMENT_QUERY_WAITING;
        snprintf(out->status_word, sizeof(out->status_word), "ORDER_NOT_EXIST");
    } else if (answer.status != 200) {
        rc = LEB_E_UNAVAILABLE;
    } else {
        rc = query_read(order, &answer, out);
    }
    if (rc < 0) {
        char status[16];
        snprintf(status, sizeof(status), LOG_RAW_PREFIX "%ld", answer.status);
        LOG_WARN("wechatpay query not understood", "order_no", order->order_no, "status", status,
                 "code", answer_code(&answer), "trade_state", out->status_word);
        answer_free(&answer);
        memset(out, 0, sizeof(*out));
        return rc;
    }
    out->raw = answer.body;
    out->raw_size = answer.body_size;
    answer.body = NULL;
    answer_free(&answer);
    return 0;
}

/* ---- refund (POST /v3/refund/domestic/refunds) ---- */

static int wechatpay_refund(struct app *app, const struct order_row *order,
                            const struct order_payment_row *payment, const char *refund_no,
                            struct payment_refund *out)
{
    memset(out, 0, sizeof(*out));
    int64_t total = order->quote.pay_amount;
    int64_t refund = payment->refund_amount > 0 ? payment->refund_amount : total;
    LEB_ASSERT(total > 0 && refund > 0);
    if (refund > total) {
        out->state = PAYMENT_REFUND_FAILED;
        snprintf(out->error, sizeof(out->error), "the refund is larger than what was paid");
        return 0;
    }
    json_t *request = json_pack("{s:s, s:s, s:{s:I, s:I, s:s}}", "out_trade_no", order->order_no,
                                "out_refund_no", refund_no, "amount", "refund", (json_int_t)refund,
                                "total", (json_int_t)total, "currency", WECHATPAY_CURRENCY);
    LEB_ASSERT(request != NULL);
    char *body = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    LEB_ASSERT(body != NULL);
    struct wechatpay_answer answer;
    int rc = wechatpay_call(app, "POST", "/v3/refund/domestic/refunds", body, &answer);
    free(body);
    if (rc < 0)
        return rc;
    char status[16];
    snprintf(status, sizeof(status), LOG_RAW_PREFIX "%ld", answer.status);
    if (answer.status == 429 || answer.status >= 500 || answer.status < 200) {
        /* Busy or broken at WeChat Pay: the same refund number is asked again later. */
        LOG_WARN("wechatpay refund not taken yet", "order_no", order->order_no, "status", status,
                 "code", answer_code(&answer));
        answer_free(&answer);
        return LEB_E_UNAVAILABLE;
    }
    if (answer.status >= 400) {
        /* Refused for a reason of business (the trade, the amounts, the balance): a human
         * must look; asking again would get the same answer. */
        out->state = PAYMENT_REFUND_FAILED;
        char reason[640]; /* whole, then cut at a character for "out->error" */
        snprintf(reason, sizeof(reason), "%s: %s", answer_code(&answer), answer_message(&answer));
        text_copy_utf8(out->error, sizeof(out->error), reason, sizeof(out->error) - 1);
        answer_free(&answer);
        return 0;
    }
    json_t *root = answer.root;
    const char *state = root ? pay_json_string(root, "status", 31) : NULL;
    const char *out_refund_no = root ? pay_json_string(root, "out_refund_no", 64) : NULL;
    const char *refund_id = root ? pay_json_string(root, "refund_id", TRADE_NO_SIZE - 1) : NULL;
    if (state == NULL || out_refund_no == NULL || strcmp(out_refund_no, refund_no) != 0) {
        LOG_WARN("wechatpay refund answer not understood", "order_no", order->order_no, "status",
                 status);
        answer_free(&answer);
        return LEB_E_UNAVAILABLE;
    }
    if (refund_id != NULL)
        snprintf(out->refund_id, sizeof(out->refund_id), "%s", refund_id);
    if (strcmp(state, "SUCCESS") == 0) {
        out->state = PAYMENT_REFUND_DONE;
    } else if (strcmp(state, "PROCESSING") == 0) {
        out->state = PAYMENT_REFUND_PENDING;
        snprintf(out->error, sizeof(out->error), "PROCESSING at WeChat Pay");
    } else if (strcmp(state, "ABNORMAL") == 0 || strcmp(state, "CLOSED") == 0) {
        /* ABNORMAL: the payer's card refused the money back; only the merchant platform (a
         * human) can send it elsewhere. CLOSED: WeChat Pay gave up on it. */
        out->state = PAYMENT_REFUND_FAILED;
        snprintf(out->error, sizeof(out->error), "%s at WeChat Pay", state);
    } else {
        out->state = PAYMENT_REFUND_PENDING;
        snprintf(out->error, sizeof(out->error), "unknown refund status at WeChat Pay");
    }
    answer_free(&answer);
    return 0;
}

/* ---- notifications ---- */

/* What a parsed notification's notice points into. */
struct notice_owner {
    json_t *transaction;
    char trade_no[TRADE_NO_SIZE]; /* for a failure without a transaction_id */
};

static void notice_owner_free(void *owner)
{
    struct notice_owner *notice_owner = owner;
    json_decref(notice_owner->transaction);
    free(notice_owner);
}

static json_t *json_parse(const char *text, size_t size, int *rc)
{
    json_error_t error;
    json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) /* jansson refuses integers beyond int64 while parsing */
        *rc = strstr(error.text, "too big") ? LEB_E_INVALID_AMOUNT : LEB_E_INVALID_JSON;
    else if (!json_is_object(root))
        *rc = LEB_E_INVALID_JSON;
    else
        return root;
    json_decref(root);
    return NULL;
}

/* Decrypts the notification's resource into the transaction it carries. */
static int resource_decrypt(json_t **out, json_t *envelope)
{
    *out = NULL;
    json_t *resource = json_object_get(envelope, "resource");
    const char *resource_type = pay_json_string(envelope, "resource_type", 32);
    const char *algorithm = pay_json_string(resource, "algorithm", 32);
    const char *original_type = pay_json_string(resource, "original_type", 32);
    const char *nonce = pay_json_string(resource, "nonce", WECHATPAY_NONCE_MAX);
    const char *ciphertext = pay_json_string(resource, "ciphertext", 1 << 20);
    json_t *associated = json_object_get(resource, "associated_data");
    if (resource_type == NULL || strcmp(resource_type, "encrypt-resource") != 0 ||
        algorithm == NULL || strcmp(algorithm, "AEAD_AES_256_GCM") != 0 || original_type == NULL ||
        strcmp(original_type, "transaction") != 0 || nonce == NULL || ciphertext == NULL ||
        (associated != NULL && !json_is_string(associated)))
        return LEB_E_INVALID_REQUEST;
    /* associated_data may be empty, or absent: both mean "". */
    const char *associated_data = associated ? json_string_value(associated) : "";
    char *plain = NULL;
    size_t plain_size = 0;
    int rc = pay_aes256gcm_decrypt(&plain, &plain_size, wechatpay.apiv3_key, nonce, associated_data,
                                   ciphertext);
    if (rc == LEB_E_INVALID_SIGNATURE) /* signed by WeChat Pay, yet not under our key */
        LOG_WARN("wechatpay notification does not decrypt", "hint",
                 "is apiv3_key_file the APIv3 key set on the merchant platform?");
    if (rc < 0)
        return rc == LEB_E_INVALID_SIGNATURE ? rc : LEB_E_INVALID_REQUEST;
    json_t *transaction = json_parse(plain, plain_size, &rc);
    explicit_bzero(plain, plain_size);
    free(plain);
    if (transaction == NULL)
        return rc;
    *out = transaction;
    return 0;
}

/*
 * Reads the decrypted "transaction" into "out"'s notice; takes "transaction". On 0 the
 * notice is filled; PAY_NOTIFY_IGNORED for a state that says nothing yet.
 */
static int transaction_read(json_t *transaction, const struct pay_notify_input *input,
                            struct pay_notify_parsed *out)
{
    int rc = LEB_E_INVALID_REQUEST;
    const char *state = pay_json_string(transaction, "trade_state", 31);
    const char *order_no = pay_json_string(transaction, "out_trade_no", ORDER_NO_SIZE - 1);
    const char *transaction_id = pay_json_string(transaction, "transaction_id", TRADE_NO_SIZE - 1);
    const char *appid = pay_json_string(transaction, "appid", 64);
    const char *mchid = pay_json_string(transaction, "mchid", 64);
    json_t *amount = json_object_get(transaction, "amount");
    const char *currency = pay_json_string(amount, "currency", 8);
    int64_t total = amount_field(amount, "total");
    if (state == NULL || order_no == NULL)
        goto out;
    bool success = strcmp(state, "SUCCESS") == 0;
    if (strcmp(state, "NOTPAY") == 0 || strcmp(state, "USERPAYING") == 0) {
        rc = PAY_NOTIFY_IGNORED; /* waiting for the payer: nothing happened yet */
        goto out;
    }
    if (!success && strcmp(state, "CLOSED") != 0 && strcmp(state, "PAYERROR") != 0 &&
        strcmp(state, "REVOKED") != 0)
        goto out; /* REFUND, or a state this file does not know */
    if (success && transaction_id == NULL)
        goto out;
    if (json_is_integer(json_object_get(amount, "total")) && total < 0) {
        rc = LEB_E_INVALID_AMOUNT;
        goto out;
    }
    if (success && total < 0)
        goto out;
    struct notice_owner *owner = calloc(1, sizeof(*owner));
    LEB_ASSERT(owner != NULL);
    owner->transaction = transaction;
    if (transaction_id != NULL)
        snprintf(owner->trade_no, sizeof(owner->trade_no), "%s", transaction_id);
    else /* a closed trade has no WeChat Pay number: one per order and state records it */
        snprintf(owner->trade_no, sizeof(owner->trade_no), "%s-%s", state, order_no);
    /* Signed by WeChat Pay but for another application or merchant, or in another currency:
     * not the payment this order asked for, whatever its amount says. */
    bool mismatch = appid == NULL || strcmp(appid, wechatpay.appid) != 0 || mchid == NULL ||
                    strcmp(mchid, wechatpay.mchid) != 0 ||
                    (currency != NULL && strcmp(currency, WECHATPAY_CURRENCY) != 0);
    out->notice = (struct payment_notice){.provider = "wechatpay",
                                          .order_no = order_no,
                                          .trade_no = owner->trade_no,
                                          .amount = total > 0 ? total : 0,
                                          .success = success,
                                          .status_word = state,
                                          .raw = input->body,
                                          .raw_size = input->body_size,
                                          .merchant_mismatch = mismatch};
    /* When it was paid, by WeChat's clock ("2026-11-25T22:00:00+08:00"); unsaid is 0. */
    if (success && time_parse_rfc3339_offset(&out->notice.paid_at,
                                             pay_json_string(transaction, "success_time", 40)) < 0)
        out->notice.paid_at = 0;
    out->owner = owner;
    out->owner_free = notice_owner_free;
    return 0;
out:
    json_decref(transaction);
    return rc;
}

static int wechatpay_notify_parse(const struct app *app, const struct pay_notify_input *input,
                                  struct pay_notify_parsed *out)
{
    (void)app;
    memset(out, 0, sizeof(*out));
    /* The signature first, over the exact bytes received, with the key the serial names and
     * against the real time (not the app's clock, which tests and demos move). */
    const char *serial = input->header(input->header_context, "Wechatpay-Serial");
    const char *problem =
        signature_problem(serial, input->header(input->header_context, "Wechatpay-Timestamp"),
                          input->header(input->header_context, "Wechatpay-Nonce"),
                          input->header(input->header_context, "Wechatpay-Signature"), input->body,
                          input->body_size, (int64_t)time(NULL));
    if (problem != NULL) {
        char shown[WECHATPAY_SERIAL_MAX + 1]; /* the sender's text: bounded in the logs */
        snprintf(shown, sizeof(shown), "%s", serial ? serial : "");
        LOG_WARN("wechatpay notification not verified", "reason", problem, "serial", shown);
        return LEB_E_INVALID_SIGNATURE;
    }
    int rc = 0;
    json_t *envelope = json_parse(input->body, input->body_size, &rc);
    if (envelope == NULL)
        return rc;
    const char *event_type = pay_json_string(envelope, "event_type", 64);
    json_t *transaction = NULL;
    if (event_type == NULL) {
        rc = LEB_E_INVALID_REQUEST;
    } else if (strncmp(event_type, "TRANSACTION.", 12) != 0) {
        rc = PAY_NOTIFY_IGNORED; /* another product's event: nothing of a payment */
    } else {
        rc = resource_decrypt(&transaction, envelope);
    }
    json_decref(envelope);
    if (rc != 0)
        return rc;
    return transaction_read(transaction, input, out);
}

/*
 * WeChat Pay takes a 2xx as "received" and anything else as "send it again" (over about a
 * day). A refused message is answered 401 like a bad signature: one that WeChat Pay really
 * sent but LEB could not verify (a platform key not configured yet, an APIv3 key changed on
 * the merchant platform) comes back later and goes through once the keys are right, while a
 * forged one was never WeChat Pay's to resend.
 */
static void wechatpay_notify_reply(enum pay_verdict verdict, struct pay_reply *out)
{
    memset(out, 0, sizeof(*out));
    switch (verdict) {
    case PAY_VERDICT_ACCEPTED:
        out->status = 204;
        out->content_type = NULL;
        break;
    case PAY_VERDICT_RETRY:
        out->status = 500;
        out->content_type = "application/json";
        snprintf(out->body, sizeof(out->body), "{\"code\":\"FAIL\",\"message\":\"%s\"}",
                 "系统繁忙，请稍后重试");
        break;
    case PAY_VERDICT_REJECTED:
    default:
        out->status = 401;
        out->content_type = "application/json";
        snprintf(out->body, sizeof(out->body), "{\"code\":\"FAIL\",\"message\":\"%s\"}",
                 "签名错误");
        break;
    }
}

const struct pay_provider pay_wechatpay = {
    .name = "wechatpay",
    .method = PAYMENT_WECHATPAY,
    .init = wechatpay_init,
    .shutdown = wechatpay_shutdown,
    .prepare = wechatpay_prepare,
    .notify_parse = wechatpay_notify_parse,
    .notify_reply = wechatpay_notify_reply,
    .query = wechatpay_query,
    .refund = wechatpay_refund,
};
