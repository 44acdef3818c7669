/*
 * alipay.c - the alipay payment provider. Not built yet: configuring it stops lebd at start-up
 * rather than taking payments it cannot verify.
 */
#include <stdio.h>

#include "pay/pay.h"

static int alipay_init(const struct config *config, char error[PAY_ERROR_SIZE])
{
    if (config->alipay_app_id == NULL)
        return LEB_E_NOT_FOUND;
    snprintf(error, PAY_ERROR_SIZE, "the alipay provider is not built yet");
    return LEB_E_INVALID_REQUEST;
}

const struct pay_provider pay_alipay = {
    .name = "alipay",
    .method = PAYMENT_ALIPAY,
    .init = alipay_init,
};
