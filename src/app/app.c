/*
 * app.c - the clock and card look-ups shared by every service.
 */
#include <string.h>
#include <time.h>

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

int64_t app_clock_offset_now(void *context)
{
    struct app *app = context;
    return (int64_t)time(NULL) + atomic_load(&app->clock_offset_s);
}

int app_clock_set(struct app *app, int64_t now)
{
    int64_t current = app_now(app);
    if (now < current)
        return LEB_E_INVALID_REQUEST; /* the clock only moves forward */
    atomic_fetch_add(&app->clock_offset_s, now - current);
    return 0;
}
