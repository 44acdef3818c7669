/*
 * wechatpay.c - the wechatpay payment provider. Not built yet: configuring it stops lebd at
 * start-up rather than taking payments it cannot verify.
 */
#include <stdio.h>

#include "pay/pay.h"

static int wechatpay_init(const struct config *config, char error[PAY_ERROR_SIZE])
{
    if (config->wechatpay_mch_id == NULL)
        return LEB_E_NOT_FOUND;
    snprintf(error, PAY_ERROR_SIZE, "the wechatpay provider is not built yet");
    return LEB_E_INVALID_REQUEST;
}

const struct pay_provider pay_wechatpay = {
    .name = "wechatpay",
    .method = PAYMENT_WECHATPAY,
    .init = wechatpay_init,
};
