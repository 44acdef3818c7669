/*
 * wechatpay_v2.c - the wechatpay_v2 payment provider. Not built yet: configuring it stops lebd at
 * start-up rather than taking payments it cannot verify.
 */
#include <stdio.h>

#include "pay/pay.h"

static int wechatpay_v2_init(const struct config *config, char error[PAY_ERROR_SIZE])
{
    if (config->wechatpay_v2_mch_id == NULL)
        return LEB_E_NOT_FOUND;
    snprintf(error, PAY_ERROR_SIZE, "the wechatpay_v2 provider is not built yet");
    return LEB_E_INVALID_REQUEST;
}

const struct pay_provider pay_wechatpay_v2 = {
    .name = "wechatpay_v2",
    .method = PAYMENT_WECHATPAY_V2,
    .init = wechatpay_v2_init,
};
