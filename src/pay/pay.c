/*
 * pay.c - the providers this server has configured, and src/app's gateway to them.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "pay/pay.h"
#include "util/log.h"

/* Every provider LEB knows, in the order of enum payment_method. */
static const struct pay_provider *const pay_providers[] = {
    &pay_sandbox, &pay_alipay, &pay_wechatpay, &pay_wechatpay_v2, &pay_card,
};
#define PAY_PROVIDERS_COUNT (sizeof(pay_providers) / sizeof(pay_providers[0]))

/* Which of them init found configured. Written once at start-up, before any thread reads. */
static bool pay_configured[PAY_PROVIDERS_COUNT];

static bool provider_on(const struct app *app, size_t index)
{
    if (pay_providers[index] == &pay_sandbox)
        return app->sandbox_enabled;
    return pay_configured[index];
}

const struct pay_provider *pay_provider_for(const struct app *app, enum payment_method method)
{
    for (size_t i = 0; i < PAY_PROVIDERS_COUNT; i++)
        if (pay_providers[i]->method == method && provider_on(app, i))
            return pay_providers[i];
    return NULL;
}

const struct pay_provider *pay_provider_named(const struct app *app, const char *name)
{
    for (size_t i = 0; i < PAY_PROVIDERS_COUNT; i++)
        if (strcmp(pay_providers[i]->name, name) == 0 && provider_on(app, i))
            return pay_providers[i];
    return NULL;
}

void pay_notify_parsed_free(struct pay_notify_parsed *parsed)
{
    if (parsed == NULL || parsed->owner == NULL)
        return;
    if (parsed->owner_free != NULL)
        parsed->owner_free(parsed->owner);
    else
        json_decref(parsed->owner);
    parsed->owner = NULL;
}

const char *pay_json_string(json_t *object, const char *key, size_t max)
{
    json_t *value = json_object_get(object, key);
    if (!json_is_string(value))
        return NULL;
    const char *text = json_string_value(value);
    size_t size = json_string_length(value);
    if (size == 0 || size > max || strlen(text) != size)
        return NULL; /* empty, too long, or with an embedded NUL */
    return text;
}

/* ---- src/app's gateway ---- */

static bool gateway_available(const struct app *app, enum payment_method method)
{
    return pay_provider_for(app, method) != NULL;
}

static int gateway_prepare(struct app *app, const struct order_row *order,
                           struct order_payment_row *out)
{
    const struct pay_provider *provider = pay_provider_for(app, order->method);
    if (provider == NULL || provider->prepare == NULL)
        return LEB_E_PAYMENT_METHOD_UNAVAILABLE;
    return provider->prepare(app, order, out);
}

static int gateway_query(struct app *app, const struct order_row *order,
                         const struct order_payment_row *payment, struct payment_query *out)
{
    const struct pay_provider *provider = pay_provider_for(app, order->method);
    if (provider == NULL || provider->query == NULL)
        return LEB_E_PAYMENT_METHOD_UNAVAILABLE;
    return provider->query(app, order, payment, out);
}

static int gateway_refund(struct app *app, const struct order_row *order,
                          const struct order_payment_row *payment, const char *refund_no,
                          struct payment_refund *out)
{
    const struct pay_provider *provider = pay_provider_for(app, order->method);
    if (provider == NULL || provider->refund == NULL)
        return LEB_E_PAYMENT_METHOD_UNAVAILABLE;
    return provider->refund(app, order, payment, refund_no, out);
}

static const struct app_gateway pay_gateway = {
    .available = gateway_available,
    .prepare = gateway_prepare,
    .query = gateway_query,
    .refund = gateway_refund,
};

int pay_init(struct app *app, const struct config *config, char error[PAY_ERROR_SIZE])
{
    error[0] = '\0';
    for (size_t i = 0; i < PAY_PROVIDERS_COUNT; i++) {
        pay_configured[i] = false;
        if (pay_providers[i]->init == NULL)
            continue;
        int rc = pay_providers[i]->init(config, error);
        if (rc == LEB_E_NOT_FOUND)
            continue;
        if (rc < 0) {
            pay_shutdown();
            return LEB_E_INVALID_REQUEST;
        }
        pay_configured[i] = true;
        LOG_INFO("payment provider configured", "provider", pay_providers[i]->name);
    }
    app->gateway = &pay_gateway;
    return 0;
}

void pay_shutdown(void)
{
    for (size_t i = 0; i < PAY_PROVIDERS_COUNT; i++) {
        if (pay_configured[i] && pay_providers[i]->shutdown != NULL)
            pay_providers[i]->shutdown();
        pay_configured[i] = false;
    }
}
