/*
 * outbox.c - the messages a change causes, written in that change's transaction: SMS to the
 * cardholder and webhooks to the telecom core. Nothing here sends anything; a message exists
 * exactly when the change that caused it was committed.
 */
#include <stdlib.h>

#include <jansson.h>

#include "app/app.h"
#include "core/timeutil.h"

static int outbox_put_json(struct store_tx *tx, const char *kind, const char *destination,
                           json_t *payload, int64_t now)
{
    LEB_ASSERT(payload != NULL);
    char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(payload);
    LEB_ASSERT(text != NULL);
    int rc = STORE_TX(tx, tx_outbox_put, kind, destination, text, now);
    free(text);
    return rc;
}

int app_outbox_sms(struct store_tx *tx, const struct card_row *card, const char *template_name,
                   json_t *fields, int64_t now)
{
    json_t *payload = fields ? fields : json_object();
    LEB_ASSERT(payload != NULL);
    json_object_set_new(payload, "template", json_string(template_name));
    json_object_set_new(payload, "card_no", json_string(card->card_no));
    json_object_set_new(payload, "language", json_string(card->language));
    return outbox_put_json(tx, "sms", card->msisdn, payload, now);
}

int app_outbox_webhook(struct store_tx *tx, const struct card_row *card, const char *event,
                       int64_t now)
{
    char at[RFC3339_SIZE];
    time_format_rfc3339(at, now);
    json_t *payload =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", event, "card_no", card->card_no, "msisdn",
                  card->msisdn, "status", card_status_name(card->status), "at", at);
    return outbox_put_json(tx, "webhook", "telecom", payload, now);
}
