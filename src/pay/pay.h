/*
 * pay.h - the one payment provider interface.
 *
 * A provider creates the payment the payer opens (a pay URL, a QR text), turns the provider's
 * asynchronous notification into a verified struct payment_notice or refuses it, answers the
 * notification the way the provider expects, and asks the provider about an order (a lost
 * notification) or to refund it. Verification is the provider's whole job on the way in:
 * nothing reaches src/app before its signature is proven. Providers are tables of function
 * pointers, one file each; keys are loaded and checked once, at start-up (pay_init).
 *
 * Network calls (prepare, query, refund) go to the base URL the configuration names, so the
 * tests point them at a simulator of the provider's documented wire format.
 */
#ifndef LEB_PAY_PAY_H
#define LEB_PAY_PAY_H

#include <stddef.h>

#include "app/app.h"
#include "util/config.h"

#define PAY_URL_SIZE PAY_LINK_SIZE
#define PAY_SIGNATURE_HEX_SIZE 65
#define PAY_ERROR_SIZE 256
#define PAY_CALL_TIMEOUT_MS 10000

struct pay_links {
    char pay_url[PAY_URL_SIZE];
    char qr_text[PAY_URL_SIZE];
};

/* What arrived at POST /api/v1/payments/{provider}/notify. Borrowed. */
struct pay_notify_input {
    const char *body;
    size_t body_size;
    const char *content_type; /* may be NULL */
    /* A request header by name (case does not matter), or NULL. */
    const char *(*header)(void *context, const char *name);
    void *header_context;
};

/* A parsed notification owns the strings its notice points into. */
struct pay_notify_parsed {
    struct payment_notice notice;
    void *owner;                     /* json_t or other; freed by pay_notify_parsed_free */
    void (*owner_free)(void *owner); /* NULL: a json_t */
};

/* notify_parse's answer for a verified message LEB has nothing to do with. */
#define PAY_NOTIFY_IGNORED 1

/* What LEB did with a notification, for the provider's answer. */
enum pay_verdict {
    PAY_VERDICT_ACCEPTED = 0, /* verified and recorded, whatever came of it: stop sending */
    PAY_VERDICT_RETRY,        /* verified but not recorded (store down, shutting down): resend */
    PAY_VERDICT_REJECTED,     /* not verified, or not a notification: nothing was recorded */
};

/* The HTTP answer a provider expects. */
struct pay_reply {
    unsigned int status;      /* 200, 204, 4xx, 5xx */
    const char *content_type; /* static text */
    char body[512];
};

struct pay_provider {
    const char *name; /* the {provider} of the notify path, and the ledger's clearing account */
    enum payment_method method;
    /*
     * Reads the provider's section of "config" and loads its keys: 0 when it is fully
     * configured, LEB_E_NOT_FOUND when none of its keys is set (the provider is off), or
     * LEB_E_INVALID_REQUEST with a one-line "error" naming the key that is missing or bad
     * (never a secret's value): lebd refuses to start.
     */
    int (*init)(const struct config *config, char error[PAY_ERROR_SIZE]);
    /* Frees what init loaded. */
    void (*shutdown)(void);
    /* Creates the payment at the provider for "order" (pending, priced): "out" gets pay_url,
     * qr_text and provider_ref. LEB_E_UNAVAILABLE when the provider cannot be reached or
     * refuses. */
    int (*prepare)(struct app *app, const struct order_row *order, struct order_payment_row *out);
    /* LEB_E_INVALID_SIGNATURE (or LEB_E_INVALID_REQUEST / LEB_E_INVALID_JSON for a verified body
     * that is not a notification of a payment). On 0, "out->notice" is filled: "amount" in
     * minor units, "success", "merchant_mismatch" when the signed message names another
     * merchant or application than ours. PAY_NOTIFY_IGNORED: verified, but nothing for LEB
     * to do (an event type or a state LEB does not act on, such as "waiting for the buyer"):
     * acknowledged so that the provider stops, nothing recorded, "out" empty. */
    int (*notify_parse)(const struct app *app, const struct pay_notify_input *input,
                        struct pay_notify_parsed *out);
    /* The answer the provider expects for "verdict". */
    void (*notify_reply)(enum pay_verdict verdict, struct pay_reply *out);
    /* Asks the provider what became of "order" (see struct payment_query). */
    int (*query)(struct app *app, const struct order_row *order,
                 const struct order_payment_row *payment, struct payment_query *out);
    /* Refunds what "order" paid under "refund_no" (see struct payment_refund). */
    int (*refund)(struct app *app, const struct order_row *order,
                  const struct order_payment_row *payment, const char *refund_no,
                  struct payment_refund *out);
};

extern const struct pay_provider pay_sandbox;
extern const struct pay_provider pay_alipay;
extern const struct pay_provider pay_wechatpay;
extern const struct pay_provider pay_wechatpay_v2;
extern const struct pay_provider pay_card;

/* Initialises every provider from "config"; on LEB_E_INVALID_REQUEST "error" says why. Sets
 * app->gateway. */
LEB_MUST_CHECK int pay_init(struct app *app, const struct config *config,
                            char error[PAY_ERROR_SIZE]);
void pay_shutdown(void);

/* The provider for "method" if this server has it configured, else NULL. */
const struct pay_provider *pay_provider_for(const struct app *app, enum payment_method method);
/* The configured provider named "name" (a notify path's segment), else NULL. */
const struct pay_provider *pay_provider_named(const struct app *app, const char *name);

void pay_notify_parsed_free(struct pay_notify_parsed *parsed);

/* A string member of "object" of 1 to "max" bytes without an embedded NUL, or NULL: what a
 * provider's JSON field must be before LEB reads it. */
const char *pay_json_string(json_t *object, const char *key, size_t max);

/* The sandbox's links, computed: it needs no call. */
void pay_sandbox_links(const struct app *app, const struct order_row *order, struct pay_links *out);

/* Lower-case hex HMAC-SHA256 of "body" under "secret" (the sandbox's signature). */
void pay_sandbox_sign(char out[PAY_SIGNATURE_HEX_SIZE], const char *secret, const char *body,
                      size_t body_size);

#endif
