/*
 * sandbox.c - the sandbox payment provider: a demo provider with a documented, signed wire
 * format, so that a recharge can be completed end to end without real money.
 *
 * Notification: a JSON body {"order_no","trade_no","amount","status":"SUCCESS"|"FAILED"},
 * signed in the X-Sandbox-Signature header as the lower-case hex HMAC-SHA256 of the raw body
 * with the sandbox secret. The signature is checked over the exact bytes received, before the
 * body is parsed, and compared in constant time.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "pay/pay.h"

#define NOTIFY_FIELD_MAX 64
#define NOTIFY_AMOUNT_MAX 9007199254740992LL /* 2^53, as every amount LEB accepts */

void pay_sandbox_sign(char out[PAY_SIGNATURE_HEX_SIZE], const char *secret, const char *body,
                      size_t body_size)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    LEB_ASSERT(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body,
                    body_size, digest, &digest_size) != NULL);
    LEB_ASSERT(digest_size == 32);
    sodium_bin2hex(out, PAY_SIGNATURE_HEX_SIZE, digest, digest_size);
}

void pay_sandbox_links(const struct app *app, const struct order_row *order, struct pay_links *out)
{
    snprintf(out->pay_url, sizeof(out->pay_url), "%s/sandbox/pay/%s", app->public_url,
             order->order_no);
    snprintf(out->qr_text, sizeof(out->qr_text), "%s", out->pay_url);
}

static int sandbox_notify_parse(const struct app *app, const struct pay_notify_input *input,
                                struct pay_notify_parsed *out)
{
    memset(out, 0, sizeof(*out));
    const char *signature = input->header(input->header_context, "X-Sandbox-Signature");
    if (signature == NULL || strlen(signature) != PAY_SIGNATURE_HEX_SIZE - 1)
        return LEB_E_INVALID_SIGNATURE;
    char expected[PAY_SIGNATURE_HEX_SIZE];
    pay_sandbox_sign(expected, app->sandbox_secret, input->body, input->body_size);
    if (sodium_memcmp(expected, signature, PAY_SIGNATURE_HEX_SIZE - 1) != 0)
        return LEB_E_INVALID_SIGNATURE;

    json_error_t error;
    json_t *root = json_loadb(input->body, input->body_size, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) /* jansson refuses integers beyond int64 while parsing */
        return strstr(error.text, "too big") ? LEB_E_INVALID_AMOUNT : LEB_E_INVALID_JSON;
    int rc = LEB_E_INVALID_REQUEST;
    const char *order_no = NULL, *trade_no = NULL, *status = NULL;
    json_t *amount = NULL;
    if (!json_is_object(root)) {
        rc = LEB_E_INVALID_JSON;
        goto out;
    }
    order_no = pay_json_string(root, "order_no", NOTIFY_FIELD_MAX);
    trade_no = pay_json_string(root, "trade_no", NOTIFY_FIELD_MAX);
    status = pay_json_string(root, "status", NOTIFY_FIELD_MAX);
    amount = json_object_get(root, "amount");
    if (!order_no || !trade_no || !status || amount == NULL)
        goto out;
    if (!json_is_integer(amount)) {
        rc = LEB_E_INVALID_AMOUNT;
        goto out;
    }
    if (strcmp(status, "SUCCESS") != 0 && strcmp(status, "FAILED") != 0)
        goto out;
    if (json_integer_value(amount) <= 0 || json_integer_value(amount) > NOTIFY_AMOUNT_MAX) {
        rc = LEB_E_INVALID_AMOUNT;
        goto out;
    }
    out->notice = (struct payment_notice){.provider = "sandbox",
                                          .order_no = order_no,
                                          .trade_no = trade_no,
                                          .amount = json_integer_value(amount),
                                          .success = strcmp(status, "SUCCESS") == 0,
                                          .status_word = status,
                                          .raw = input->body,
                                          .raw_size = input->body_size};
    out->owner = root;
    return 0;
out:
    json_decref(root);
    return rc;
}

/* The demo provider refunds at once: there is no money to send back. */
static int sandbox_refund(struct app *app, const struct order_row *order,
                          const struct order_payment_row *payment, const char *refund_no,
                          struct payment_refund *out)
{
    (void)app;
    (void)order;
    (void)payment;
    memset(out, 0, sizeof(*out));
    out->state = PAYMENT_REFUND_DONE;
    snprintf(out->refund_id, sizeof(out->refund_id), "SBX%s", refund_no);
    return 0;
}

const struct pay_provider pay_sandbox = {
    .name = "sandbox",
    .method = PAYMENT_SANDBOX,
    .notify_parse = sandbox_notify_parse,
    .refund = sandbox_refund,
};
