/*
 * pay.c - picks the configured provider for a payment method.
 */
#include <jansson.h>

#include "pay/pay.h"

const struct pay_provider *pay_provider_for(const struct app *app, enum payment_method method)
{
    if (method == PAYMENT_SANDBOX && app->sandbox_enabled)
        return &pay_sandbox;
    return NULL;
}

void pay_notify_parsed_free(struct pay_notify_parsed *parsed)
{
    if (parsed == NULL || parsed->owner == NULL)
        return;
    json_decref(parsed->owner);
    parsed->owner = NULL;
}
