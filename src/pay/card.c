/*
 * card.c - the card payment provider. Not built yet: configuring it stops lebd at start-up
 * rather than taking payments it cannot verify.
 */
#include <stdio.h>

#include "pay/pay.h"

static int card_init(const struct config *config, char error[PAY_ERROR_SIZE])
{
    if (config->card_base_url == NULL)
        return LEB_E_NOT_FOUND;
    snprintf(error, PAY_ERROR_SIZE, "the card provider is not built yet");
    return LEB_E_INVALID_REQUEST;
}

const struct pay_provider pay_card = {
    .name = "card",
    .method = PAYMENT_CARD,
    .init = card_init,
};
