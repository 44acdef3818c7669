/*
 * card.c - the card payment provider: a card gateway that speaks Stripe's API, byte for byte.
 *
 * Creating a payment is creating a Checkout Session (POST /v1/checkout/sessions, a form body,
 * the API key as a bearer token, the order number as Idempotency-Key): the payer opens its
 * "url". Stripe tells what became of it by webhook events signed in the Stripe-Signature
 * header ("t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<body>'>"), checked over the exact bytes
 * received, against the endpoint's secret and, during a rotation, the next one, and only
 * within CARD_SIGNATURE_TOLERANCE_S of the real time: a replayed old event is refused even
 * with a good signature. A lost event is made up for by retrieving the session with its
 * payment intent expanded; money that cannot reach a card goes back with POST /v1/refunds
 * under the refund number as Idempotency-Key, so that it goes back once.
 *
 * LEB's orders are in CNY and Stripe's CNY is in fen, so amounts travel unchanged; an order
 * in another currency is not offered, and a signed event in another currency is a payment
 * this order did not ask for: it goes to review.
 *
 * This file never logs a secret, never trusts an event before its signature is proven, and
 * never parses a body it has not verified.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "pay/card.h"
#include "pay/pay.h"
#include "pay/pay_crypto.h"
#include "util/http_client.h"
#include "util/log.h"

#define CARD_BASE_URL_SIZE 256
#define CARD_BASE_URL_MAX 192 /* leaves room in CARD_BASE_URL_SIZE-based buffers for a path */
#define CARD_KEY_MAX 255      /* an API key or a webhook secret: Stripe's are ~100 bytes */
#define CARD_FIELD_MAX 64     /* an id, an order number, a currency, a status */
#define CARD_URL_MAX 1024     /* what a session's url may be before LEB gives up on it */
#define CARD_AMOUNT_MAX 9007199254740992LL /* 2^53, as every amount LEB accepts */
#define CARD_CURRENCY "cny"                /* Stripe's currency code of LEB's orders: lower case */
#define CARD_FORM_MAX 8192                 /* the longest body: two URLs of ~300 bytes, escaped */

/* What init loaded; written once at start-up, read only afterwards. */
static struct {
    char *webhook_secret;
    char *webhook_secret_next; /* NULL outside a rotation */
    char *api_key;
    char base_url[CARD_BASE_URL_SIZE]; /* without a trailing slash */
} card;

/* ---- the Stripe-Signature header ---- */

/* A canonical decimal of at most 12 digits (no sign, no leading zero): the text Stripe signs
 * is the number as it formats it, so any other spelling could not have been signed. */
static bool timestamp_parse(const char *text, int64_t *out)
{
    size_t size = strlen(text);
    if (size == 0 || size > 12 || (size > 1 && text[0] == '0'))
        return false;
    int64_t value = 0;
    for (size_t i = 0; i < size; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        value = value * 10 + (text[i] - '0');
    }
    *out = value;
    return true;
}

static char *trim(char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t size = strlen(text);
    while (size > 0 && (text[size - 1] == ' ' || text[size - 1] == '\t'))
        text[--size] = '\0';
    return text;
}

int card_signature_verify(const char *header, const char *body, size_t body_size,
                          const char *const *secrets, size_t secrets_count, int64_t now,
                          int64_t tolerance_s)
{
    LEB_ASSERT(secrets_count >= 1 && secrets_count <= CARD_SECRETS_MAX);
    LEB_ASSERT(tolerance_s >= 0 && body != NULL);
    if (header == NULL)
        return LEB_E_INVALID_SIGNATURE;
    size_t header_size = strnlen(header, CARD_SIGNATURE_HEADER_MAX + 1);
    if (header_size == 0 || header_size > CARD_SIGNATURE_HEADER_MAX)
        return LEB_E_INVALID_SIGNATURE;
    char copy[CARD_SIGNATURE_HEADER_MAX + 1];
    memcpy(copy, header, header_size + 1);

    const char *timestamp = NULL;
    int64_t signed_at = 0;
    const char *signatures[CARD_SIGNATURE_ELEMENTS_MAX];
    size_t signatures_count = 0, elements = 0;
    for (char *cursor = copy; cursor != NULL;) {
        char *end = strchr(cursor, ',');
        if (end != NULL)
            *end++ = '\0';
        if (++elements > CARD_SIGNATURE_ELEMENTS_MAX)
            return LEB_E_INVALID_SIGNATURE;
        char *element = trim(cursor);
        cursor = end;
        char *equals = strchr(element, '=');
        if (equals == NULL || equals == element)
            return LEB_E_INVALID_SIGNATURE; /* not a list of key=value */
        *equals = '\0';
        const char *value = equals + 1;
        if (strcmp(element, "t") == 0) {
            /* Two timestamps: which one was signed is anybody's guess. */
            if (timestamp != NULL || !timestamp_parse(value, &signed_at))
                return LEB_E_INVALID_SIGNATURE;
            timestamp = value;
        } else if (strcmp(element, "v1") == 0) {
            /* A v1 of another shape is kept too: it simply matches nothing. */
            signatures[signatures_count++] = value;
        }
        /* v0 (test-mode signatures with a fake secret) and unknown schemes: ignored. */
    }
    if (timestamp == NULL || signatures_count == 0)
        return LEB_E_INVALID_SIGNATURE;
    /* Both are at most 12 digits of seconds, far from overflow. */
    if (signed_at < now - tolerance_s || signed_at > now + tolerance_s)
        return LEB_E_INVALID_SIGNATURE;

    size_t timestamp_size = strlen(timestamp);
    size_t payload_size = timestamp_size + 1 + body_size;
    char *payload = malloc(payload_size);
    LEB_ASSERT(payload != NULL);
    memcpy(payload, timestamp, timestamp_size);
    payload[timestamp_size] = '.';
    memcpy(payload + timestamp_size + 1, body, body_size);
    /* Every secret against every signature, without stopping at the first match: the time
     * taken says nothing about which one matched. */
    bool matched = false;
    for (size_t s = 0; s < secrets_count; s++) {
        LEB_ASSERT(secrets[s] != NULL && secrets[s][0] != '\0');
        char expected[PAY_SIGNATURE_HEX_SIZE];
        pay_hmac_sha256_hex(expected, secrets[s], strlen(secrets[s]), payload, payload_size);
        for (size_t i = 0; i < signatures_count; i++)
            matched |= pay_text_equal(expected, signatures[i]);
    }
    free(payload);
    return matched ? 0 : LEB_E_INVALID_SIGNATURE;
}

int64_t card_session_expires_at(int64_t created_at, int64_t expires_at, int64_t clock_offset_s,
                                int64_t real_now)
{
    int64_t ttl_s = expires_at - created_at;
    if (ttl_s < CARD_SESSION_TTL_MIN_S)
        ttl_s = CARD_SESSION_TTL_MIN_S;
    if (ttl_s > CARD_SESSION_TTL_MAX_S)
        ttl_s = CARD_SESSION_TTL_MAX_S;
    int64_t at = created_at - clock_offset_s + ttl_s;
    if (at < real_now + CARD_STRIPE_TTL_MIN_S + CARD_SESSION_MARGIN_S ||
        at > real_now + CARD_STRIPE_TTL_MAX_S - CARD_SESSION_MARGIN_S)
        at = real_now + ttl_s;
    LEB_ASSERT(at >= real_now + CARD_STRIPE_TTL_MIN_S && at <= real_now + CARD_STRIPE_TTL_MAX_S);
    return at;
}

/* ---- configuration ---- */

/* Free of anything that could end a header line or hide in a log: printable ASCII. */
static bool key_acceptable(const char *key)
{
    size_t size = strlen(key);
    if (size == 0 || size > CARD_KEY_MAX)
        return false;
    for (size_t i = 0; i < size; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return false;
    return true;
}

static void secret_free(char **secret)
{
    if (*secret == NULL)
        return;
    sodium_memzero(*secret, strlen(*secret));
    free(*secret);
    *secret = NULL;
}

static char *secret_copy(const char *secret)
{
    char *copy = strdup(secret);
    LEB_ASSERT(copy != NULL);
    return copy;
}

static void card_shutdown(void)
{
    secret_free(&card.webhook_secret);
    secret_free(&card.webhook_secret_next);
    secret_free(&card.api_key);
    card.base_url[0] = '\0';
}

static int card_init(const struct config *config, char error[PAY_ERROR_SIZE])
{
    const char *missing = NULL;
    if (config->card_webhook_secret == NULL && config->card_webhook_secret_next == NULL &&
        config->card_api_key == NULL && config->card_base_url == NULL)
        return LEB_E_NOT_FOUND;
    /* Some keys and not all: a server that would take payments it cannot create, verify or
     * refund must not start. The message names the key, never its value. */
    if (config->card_webhook_secret == NULL)
        missing = "card.webhook_secret_file (LEB_CARD_WEBHOOK_SECRET_FILE)";
    else if (config->card_api_key == NULL)
        missing = "card.api_key_file (LEB_CARD_API_KEY_FILE)";
    else if (config->card_base_url == NULL)
        missing = "card.base_url (LEB_CARD_BASE_URL)";
    if (missing != NULL) {
        snprintf(error, PAY_ERROR_SIZE, "the card provider is half configured: %s is not set",
                 missing);
        return LEB_E_INVALID_REQUEST;
    }
    const char *bad = NULL;
    if (!key_acceptable(config->card_webhook_secret))
        bad = "card.webhook_secret_file";
    else if (config->card_webhook_secret_next != NULL &&
             !key_acceptable(config->card_webhook_secret_next))
        bad = "card.webhook_secret_next_file";
    else if (!key_acceptable(config->card_api_key))
        bad = "card.api_key_file";
    if (bad != NULL) {
        snprintf(error, PAY_ERROR_SIZE,
                 "%s must hold one line of 1 to %d printable ASCII characters", bad, CARD_KEY_MAX);
        return LEB_E_INVALID_REQUEST;
    }
    size_t url_size = strlen(config->card_base_url);
    while (url_size > 0 && config->card_base_url[url_size - 1] == '/')
        url_size--;
    if (url_size == 0 || url_size > CARD_BASE_URL_MAX) {
        snprintf(error, PAY_ERROR_SIZE, "card.base_url must be a URL of at most %d bytes",
                 CARD_BASE_URL_MAX);
        return LEB_E_INVALID_REQUEST;
    }
    card_shutdown();
    memcpy(card.base_url, config->card_base_url, url_size);
    card.base_url[url_size] = '\0';
    card.webhook_secret = secret_copy(config->card_webhook_secret);
    if (config->card_webhook_secret_next != NULL)
        card.webhook_secret_next = secret_copy(config->card_webhook_secret_next);
    card.api_key = secret_copy(config->card_api_key);
    return 0;
}

/* ---- calls to the API ---- */

/* An application/x-www-form-urlencoded body, keys and values percent-encoded as Stripe's own
 * libraries send them ("metadata%5Border_no%5D=..."). */
struct form {
    char data[CARD_FORM_MAX];
    size_t size;
};

static void form_add(struct form *form, const char *key, const char *value)
{
    char *key_escaped = http_client_escape(key);
    char *value_escaped = http_client_escape(value);
    int n = snprintf(form->data + form->size, sizeof(form->data) - form->size, "%s%s=%s",
                     form->size > 0 ? "&" : "", key_escaped, value_escaped);
    /* Every field is bounded (URLs by PAY_LINK_SIZE-sized rows, ids by CARD_FIELD_MAX). */
    LEB_ASSERT(n > 0 && (size_t)n < sizeof(form->data) - form->size);
    form->size += (size_t)n;
    free(key_escaped);
    free(value_escaped);
}

static void form_add_int(struct form *form, const char *key, int64_t value)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", (long long)value);
    form_add(form, key, text);
}

/*
 * One call to the API: "method" on base_url + "path", with "form" as the body (NULL for a
 * GET) and "idempotency_key" (may be NULL). 0 with "out" filled whatever the status;
 * LEB_E_UNAVAILABLE if the gateway could not be reached (out->error says why). Free "out"
 * with http_result_free() either way.
 */
static LEB_MUST_CHECK int card_call(struct app *app, const char *method, const char *path,
                                    const struct form *form, const char *idempotency_key,
                                    struct http_result *out)
{
    char url[CARD_BASE_URL_SIZE + 256];
    int n = snprintf(url, sizeof(url), "%s%s", card.base_url, path);
    LEB_ASSERT(n > 0 && (size_t)n < sizeof(url));
    char authorization[CARD_KEY_MAX + 32], idempotency[CARD_FIELD_MAX + 32];
    snprintf(authorization, sizeof(authorization), "Authorization: Bearer %s", card.api_key);
    const char *headers[5] = {authorization, "Accept: application/json", NULL, NULL, NULL};
    size_t count = 2;
    if (form != NULL)
        headers[count++] = "Content-Type: application/x-www-form-urlencoded";
    if (idempotency_key != NULL) {
        snprintf(idempotency, sizeof(idempotency), "Idempotency-Key: %s", idempotency_key);
        headers[count++] = idempotency;
    }
    struct http_call call = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = form ? form->data : NULL,
        .body_size = form ? form->size : 0,
        .timeout_ms = PAY_CALL_TIMEOUT_MS,
        .cancel = &app->stopping,
    };
    int rc = http_client_call(&call, out);
    sodium_memzero(authorization, sizeof(authorization));
    return rc < 0 ? LEB_E_UNAVAILABLE : 0;
}

/* The body of an answer as JSON, or NULL. */
static json_t *answer_json(const struct http_result *result)
{
    json_t *root = json_loadb(result->body, result->body_size, 0, NULL);
    if (root != NULL && !json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* An amount member: an integer of minor units in (0, 2^53]; -1 otherwise. */
static int64_t amount_field(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);
    if (!json_is_integer(value) || json_integer_value(value) <= 0 ||
        json_integer_value(value) > CARD_AMOUNT_MAX)
        return -1;
    return json_integer_value(value);
}

/* Stripe's error, {"error":{"type","code","message"}}, as one line into "out". */
static void answer_error(const struct http_result *result, char *out, size_t out_size)
{
    json_t *root = answer_json(result);
    json_t *error = root ? json_object_get(root, "error") : NULL;
    const char *type = error ? pay_json_string(error, "type", 64) : NULL;
    const char *message = error ? pay_json_string(error, "message", 512) : NULL;
    snprintf(out, out_size, "HTTP %ld %s: %s", result->status, type ? type : "error",
             message ? message : "no error message");
    json_decref(root);
}

/* ---- creating the payment ---- */

static LEB_MUST_CHECK int card_prepare(struct app *app, const struct order_row *order,
                                       struct order_payment_row *out)
{
    LEB_ASSERT(order->quote.pay_amount > 0);
    if (strcasecmp(order->quote.currency, CARD_CURRENCY) != 0) {
        LOG_WARN("card: only CNY orders are offered", "order_no", order->order_no, "currency",
                 order->quote.currency);
        return LEB_E_CURRENCY_MISMATCH;
    }
    /* Stripe's clock is the real one; LEB's may run ahead (--clock, test mode). */
    int64_t real_now = (int64_t)time(NULL);
    int64_t offset_s = app->clock == app_clock_offset_now ? atomic_load(&app->clock_offset_s)
                                                          : app_now(app) - real_now;
    int64_t expires_at =
        card_session_expires_at(order->created_at, order->expires_at, offset_s, real_now);

    char back_url[PAY_LINK_SIZE], name[128];
    snprintf(back_url, sizeof(back_url), "%s/order.html?order_no=%s", app->public_url,
             order->order_no);
    snprintf(name, sizeof(name), "Prepaid recharge %s", order->order_no);
    struct form form = {.size = 0};
    form_add(&form, "mode", "payment");
    form_add(&form, "line_items[0][price_data][currency]", CARD_CURRENCY);
    form_add_int(&form, "line_items[0][price_data][unit_amount]", order->quote.pay_amount);
    form_add(&form, "line_items[0][price_data][product_data][name]", name);
    form_add(&form, "line_items[0][quantity]", "1");
    form_add(&form, "client_reference_id", order->order_no);
    form_add(&form, "metadata[order_no]", order->order_no);
    form_add(&form, "payment_intent_data[metadata][order_no]", order->order_no);
    form_add_int(&form, "expires_at", expires_at);
    form_add(&form, "success_url", back_url);
    form_add(&form, "cancel_url", back_url);

    struct http_result result;
    int rc = card_call(app, "POST", "/v1/checkout/sessions", &form, order->order_no, &result);
    json_t *root = NULL;
    if (rc < 0) {
        LOG_WARN("card: cannot reach the gateway", "order_no", order->order_no, "error",
                 result.error);
        goto out;
    }
    rc = LEB_E_UNAVAILABLE;
    if (result.status != 200) {
        char error[256];
        answer_error(&result, error, sizeof(error));
        LOG_WARN("card: checkout session refused", "order_no", order->order_no, "error", error);
        goto out;
    }
    root = answer_json(&result);
    const char *id = root ? pay_json_string(root, "id", PROVIDER_REF_SIZE - 1) : NULL;
    const char *url = root ? pay_json_string(root, "url", CARD_URL_MAX) : NULL;
    if (id == NULL || url == NULL || strlen(url) >= PAY_URL_SIZE) {
        LOG_WARN("card: checkout session without a usable id or url", "order_no", order->order_no);
        goto out;
    }
    snprintf(out->pay_url, sizeof(out->pay_url), "%s", url);
    snprintf(out->qr_text, sizeof(out->qr_text), "%s", url);
    snprintf(out->provider_ref, sizeof(out->provider_ref), "%s", id);
    rc = 0;
out:
    json_decref(root);
    http_result_free(&result);
    return rc;
}

/* ---- notifications ---- */

/*
 * What a verified event says of a payment: payment_intent.succeeded (the
 * payment intent carries the order number in its metadata, set through payment_intent_data),
 * and checkout.session.completed once paid (the same payment intent: whichever comes second
 * is a duplicate of the same trade). Anything else is nothing for LEB: PAY_NOTIFY_IGNORED.
 */
static int event_read(json_t *event, const char *type, struct payment_notice *notice)
{
    json_t *data = json_object_get(event, "data");
    json_t *object = json_is_object(data) ? json_object_get(data, "object") : NULL;
    if (!json_is_object(object))
        return LEB_E_INVALID_REQUEST;
    json_t *metadata = json_object_get(object, "metadata");
    const char *order_no =
        json_is_object(metadata) ? pay_json_string(metadata, "order_no", CARD_FIELD_MAX) : NULL;
    const char *currency = pay_json_string(object, "currency", CARD_FIELD_MAX);
    int64_t amount = -1;
    const char *trade_no = NULL;

    if (strcmp(type, "payment_intent.payment_failed") == 0) {
        /* A declined card: the payer may try another in the same checkout session, whose
         * success must still find the order waiting. The order fails when the session
         * expires unpaid, which polling sees. */
        return PAY_NOTIFY_IGNORED;
    }
    if (strcmp(type, "payment_intent.succeeded") == 0) {
        notice->success = true;
        trade_no = pay_json_string(object, "id", CARD_FIELD_MAX);
        amount = amount_field(object, "amount_received");
    } else if (strcmp(type, "checkout.session.completed") == 0) {
        const char *payment_status = pay_json_string(object, "payment_status", CARD_FIELD_MAX);
        if (payment_status == NULL || strcmp(payment_status, "paid") != 0)
            return PAY_NOTIFY_IGNORED; /* a delayed method: its payment intent event will do */
        if (order_no == NULL)
            order_no = pay_json_string(object, "client_reference_id", CARD_FIELD_MAX);
        notice->success = true;
        trade_no = pay_json_string(object, "payment_intent", CARD_FIELD_MAX);
        amount = amount_field(object, "amount_total");
    } else {
        return PAY_NOTIFY_IGNORED;
    }
    /* A payment on our account that no order of ours made (another integration, the
     * dashboard): nothing LEB can record against an order. */
    if (order_no == NULL || strlen(order_no) >= ORDER_NO_SIZE)
        return PAY_NOTIFY_IGNORED;
    if (trade_no == NULL || currency == NULL)
        return LEB_E_INVALID_REQUEST;
    if (amount < 0)
        return LEB_E_INVALID_AMOUNT;
    notice->order_no = order_no;
    notice->trade_no = trade_no;
    notice->amount = amount;
    notice->status_word = type;
    /* Signed, but not the payment the order asked for: its minor units are not fen. */
    notice->merchant_mismatch = strcmp(currency, CARD_CURRENCY) != 0;
    return 0;
}

static LEB_MUST_CHECK int card_notify_parse(const struct app *app,
                                            const struct pay_notify_input *input,
                                            struct pay_notify_parsed *out)
{
    (void)app;
    memset(out, 0, sizeof(*out));
    const char *secrets[CARD_SECRETS_MAX] = {card.webhook_secret, card.webhook_secret_next};
    size_t secrets_count = card.webhook_secret_next != NULL ? 2 : 1;
    /* Stripe's clock is the real one, whatever LEB's clock says. */
    int rc = card_signature_verify(input->header(input->header_context, "Stripe-Signature"),
                                   input->body, input->body_size, secrets, secrets_count,
                                   (int64_t)time(NULL), CARD_SIGNATURE_TOLERANCE_S);
    if (rc < 0)
        return rc;

    json_error_t error;
    json_t *root = json_loadb(input->body, input->body_size, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) /* jansson refuses integers beyond int64 while parsing */
        return strstr(error.text, "too big") ? LEB_E_INVALID_AMOUNT : LEB_E_INVALID_JSON;
    const char *type = json_is_object(root) ? pay_json_string(root, "type", CARD_FIELD_MAX) : NULL;
    if (type == NULL) {
        rc = json_is_object(root) ? LEB_E_INVALID_REQUEST : LEB_E_INVALID_JSON;
        goto out;
    }
    out->notice.provider = pay_card.name;
    rc = event_read(root, type, &out->notice);
    if (rc != 0)
        goto out;
    out->notice.raw = input->body;
    out->notice.raw_size = input->body_size;
    out->owner = root;
    return 0;
out:
    memset(out, 0, sizeof(*out));
    json_decref(root);
    return rc;
}

static void card_notify_reply(enum pay_verdict verdict, struct pay_reply *out)
{
    out->content_type = "application/json";
    switch (verdict) {
    case PAY_VERDICT_ACCEPTED:
        out->status = 200;
        snprintf(out->body, sizeof(out->body), "{\"received\":true}");
        return;
    case PAY_VERDICT_RETRY:
        out->status = 500;
        snprintf(out->body, sizeof(out->body), "{\"error\":\"not recorded, send it again\"}");
        return;
    case PAY_VERDICT_REJECTED:
        out->status = 400;
        snprintf(out->body, sizeof(out->body), "{\"error\":\"invalid signature\"}");
        return;
    }
    LEB_ASSERT(!"a verdict without an answer");
}

/* ---- lost notifications ---- */

/* The answer's body, handed over to a struct payment_query (which frees it). */
static void query_keep_raw(struct payment_query *out, struct http_result *result)
{
    out->raw = result->body;
    out->raw_size = result->body_size;
    result->body = NULL;
}

static LEB_MUST_CHECK int card_query(struct app *app, const struct order_row *order,
                                     const struct order_payment_row *payment,
                                     struct payment_query *out)
{
    memset(out, 0, sizeof(*out));
    if (payment->provider_ref[0] == '\0') {
        /* The session was never created (the gateway was down): nobody could pay it. */
        snprintf(out->status_word, sizeof(out->status_word), "no_session");
        return 0;
    }
    char *id = http_client_escape(payment->provider_ref);
    char path[PROVIDER_REF_SIZE * 3 + 64];
    snprintf(path, sizeof(path), "/v1/checkout/sessions/%s?expand%%5B%%5D=payment_intent", id);
    free(id);
    struct http_result result;
    int rc = card_call(app, "GET", path, NULL, NULL, &result);
    json_t *root = NULL;
    if (rc < 0)
        goto out;
    rc = LEB_E_UNAVAILABLE;
    if (result.status == 404) {
        /* Not (yet) known where we ask: nothing says it was paid. */
        snprintf(out->status_word, sizeof(out->status_word), "not_found");
        rc = 0;
        goto out;
    }
    if (result.status != 200) {
        char error[256];
        answer_error(&result, error, sizeof(error));
        LOG_WARN("card: session query refused", "order_no", order->order_no, "error", error);
        goto out;
    }
    root = answer_json(&result);
    const char *status = root ? pay_json_string(root, "status", CARD_FIELD_MAX) : NULL;
    const char *payment_status =
        root ? pay_json_string(root, "payment_status", CARD_FIELD_MAX) : NULL;
    const char *reference =
        root ? pay_json_string(root, "client_reference_id", CARD_FIELD_MAX) : NULL;
    if (status == NULL || payment_status == NULL) {
        LOG_WARN("card: session answer without a status", "order_no", order->order_no);
        goto out;
    }
    if (reference != NULL && strcmp(reference, order->order_no) != 0) {
        LOG_ERROR("card: the session is another order's", "order_no", order->order_no);
        goto out;
    }
    snprintf(out->status_word, sizeof(out->status_word), "%s/%s", status, payment_status);
    if (strcmp(payment_status, "paid") == 0) {
        json_t *intent = json_object_get(root, "payment_intent");
        const char *trade_no = json_is_object(intent)
                                   ? pay_json_string(intent, "id", CARD_FIELD_MAX)
                                   : pay_json_string(root, "payment_intent", CARD_FIELD_MAX);
        const char *currency = pay_json_string(root, "currency", CARD_FIELD_MAX);
        int64_t amount = amount_field(root, "amount_total");
        if (trade_no == NULL || currency == NULL || amount < 0 ||
            strlen(trade_no) >= TRADE_NO_SIZE) {
            LOG_WARN("card: paid session without a payment intent or amount", "order_no",
                     order->order_no);
            goto out;
        }
        if (strcmp(currency, CARD_CURRENCY) != 0) {
            /* struct payment_query cannot say "for review": the event, which can, will. */
            LOG_ERROR("card: session paid in another currency", "order_no", order->order_no,
                      "currency", currency);
            rc = LEB_E_CURRENCY_MISMATCH;
            goto out;
        }
        out->state = PAYMENT_QUERY_PAID;
        snprintf(out->trade_no, sizeof(out->trade_no), "%s", trade_no);
        out->amount = amount;
    } else if (strcmp(status, "expired") == 0) {
        out->state = PAYMENT_QUERY_CLOSED;
    } else {
        out->state = PAYMENT_QUERY_WAITING; /* open, or complete with a payment on its way */
    }
    query_keep_raw(out, &result);
    rc = 0;
out:
    json_decref(root);
    http_result_free(&result);
    return rc;
}

/* ---- refunds ---- */

/* What a refund object says: its id and its status, into "out". */
static int refund_read(const struct http_result *result, struct payment_refund *out)
{
    json_t *root = answer_json(result);
    const char *id = root ? pay_json_string(root, "id", TRADE_NO_SIZE - 1) : NULL;
    const char *status = root ? pay_json_string(root, "status", CARD_FIELD_MAX) : NULL;
    if (id == NULL || status == NULL) {
        json_decref(root);
        return LEB_E_UNAVAILABLE; /* not a refund: asked again later */
    }
    snprintf(out->refund_id, sizeof(out->refund_id), "%s", id);
    if (strcmp(status, "succeeded") == 0) {
        out->state = PAYMENT_REFUND_DONE;
    } else if (strcmp(status, "failed") == 0 || strcmp(status, "canceled") == 0) {
        const char *reason = pay_json_string(root, "failure_reason", CARD_FIELD_MAX);
        out->state = PAYMENT_REFUND_FAILED;
        snprintf(out->error, sizeof(out->error), "refund %s %s: %s", id, status,
                 reason ? reason : "no reason given");
    } else {
        out->state = PAYMENT_REFUND_PENDING; /* pending, requires_action */
        snprintf(out->error, sizeof(out->error), "refund %s %s at the gateway", id, status);
    }
    json_decref(root);
    return 0;
}

/*
 * Refunds the payment intent the order was paid with ("order->trade_no"), "pay_amount" of it
 * (what came in), under "refund_no" as Idempotency-Key. A refund an earlier attempt created
 * ("payment->refund_id") is looked at rather than asked for again: Stripe answers a key sent
 * again with its first answer, so a pending refund would stay pending for ever.
 */
static LEB_MUST_CHECK int card_refund(struct app *app, const struct order_row *order,
                                      const struct order_payment_row *payment,
                                      const char *refund_no, struct payment_refund *out)
{
    memset(out, 0, sizeof(*out));
    LEB_ASSERT(order->quote.pay_amount > 0 && refund_no[0] != '\0');
    struct http_result result;
    int rc;
    if (payment->refund_id[0] != '\0') {
        char *id = http_client_escape(payment->refund_id);
        char path[TRADE_NO_SIZE * 3 + 32];
        snprintf(path, sizeof(path), "/v1/refunds/%s", id);
        free(id);
        rc = card_call(app, "GET", path, NULL, NULL, &result);
    } else if (order->trade_no[0] == '\0') {
        out->state = PAYMENT_REFUND_FAILED;
        snprintf(out->error, sizeof(out->error), "no payment intent to refund");
        return 0;
    } else {
        struct form form = {.size = 0};
        form_add(&form, "payment_intent", order->trade_no);
        form_add_int(&form, "amount", order->quote.pay_amount);
        form_add(&form, "metadata[order_no]", order->order_no);
        rc = card_call(app, "POST", "/v1/refunds", &form, refund_no, &result);
    }
    if (rc < 0) {
        LOG_WARN("card: cannot reach the gateway", "order_no", order->order_no, "error",
                 result.error);
        goto out;
    }
    /* A concurrent use of the key (409), too many requests (429), the gateway's own trouble
     * (5xx): the same refund is asked about again later. */
    if (result.status == 409 || result.status == 429 || result.status >= 500) {
        rc = LEB_E_UNAVAILABLE;
        goto out;
    }
    if (result.status != 200) {
        out->state = PAYMENT_REFUND_FAILED;
        answer_error(&result, out->error, sizeof(out->error));
        goto out;
    }
    rc = refund_read(&result, out);
out:
    http_result_free(&result);
    return rc;
}

const struct pay_provider pay_card = {
    .name = "card",
    .method = PAYMENT_CARD,
    .init = card_init,
    .shutdown = card_shutdown,
    .prepare = card_prepare,
    .notify_parse = card_notify_parse,
    .notify_reply = card_notify_reply,
    .query = card_query,
    .refund = card_refund,
};
