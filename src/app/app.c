/*
 * app.c - the clock and card look-ups shared by every service.
 */
#include <string.h>

#include "app/app.h"
#include "core/cardno.h"

int64_t app_now(const struct app *app)
{
    LEB_ASSERT(app->clock != NULL);
    return app->clock(app->clock_context);
}

int app_card_find(struct app *app, struct card_row *out, const char *number)
{
    enum number_kind kind;
    char normalized[MSISDN_SIZE + CARDNO_SIZE];
    int rc = number_classify(&kind, normalized, number);
    if (rc < 0)
        return rc;
    if (kind == NUMBER_CARD)
        return STORE_CALL(app->store, card_get, out, normalized);
    return STORE_CALL(app->store, card_get_by_msisdn, out, normalized);
}
