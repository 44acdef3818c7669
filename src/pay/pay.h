/*
 * pay.h - the one payment provider interface.
 *
 * A provider turns an order into what the payer opens (a pay URL, a QR text) and turns the
 * provider's asynchronous notification into a verified struct payment_notice, or refuses it.
 * Verification is the provider's whole job here: nothing reaches src/app before its signature
 * is proven. Providers are tables of function pointers, one file each.
 */
#ifndef LEB_PAY_PAY_H
#define LEB_PAY_PAY_H

#include <stddef.h>

#include "app/app.h"

#define PAY_URL_SIZE 512
#define PAY_SIGNATURE_HEX_SIZE 65

struct pay_links {
    char pay_url[PAY_URL_SIZE];
    char qr_text[PAY_URL_SIZE];
};

/* What arrived: the raw body and the one header a provider signs with. Borrowed. */
struct pay_notify_input {
    const char *body;
    size_t body_size;
    const char *signature; /* the provider's signature header, or NULL */
};

/* A parsed notification owns the strings its notice points into. */
struct pay_notify_parsed {
    struct payment_notice notice;
    void *owner; /* freed by pay_notify_parsed_free() */
};

struct pay_provider {
    const char *name;
    void (*links)(const struct app *app, const struct order_row *order, struct pay_links *out);
    /* LEB_E_INVALID_SIGNATURE, or LEB_E_INVALID_REQUEST / LEB_E_INVALID_JSON for a signed
     * body that is not a notification. */
    int (*notify_parse)(const struct app *app, const struct pay_notify_input *input,
                        struct pay_notify_parsed *out);
};

extern const struct pay_provider pay_sandbox;

/* The provider for "method" if this server has it configured, else NULL. */
const struct pay_provider *pay_provider_for(const struct app *app, enum payment_method method);

void pay_notify_parsed_free(struct pay_notify_parsed *parsed);

/* Lower-case hex HMAC-SHA256 of "body" under "secret" (the sandbox's signature). */
void pay_sandbox_sign(char out[PAY_SIGNATURE_HEX_SIZE], const char *secret, const char *body,
                      size_t body_size);

#endif
