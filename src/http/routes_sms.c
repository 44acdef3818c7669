/*
 * routes_sms.c - Kannel's sms-service get-url: an inbound SMS in, the reply SMS out as the
 * text/plain body (?from=%p&to=%P&text=%a&key=...).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/cardno.h"
#include "core/sms.h"
#include "core/timeutil.h"
#include "http/http.h"
#include "util/log.h"

#define SMS_TEXT_MAX 1024

static bool key_matches(const char *given, const char *expected)
{
    size_t size = strlen(expected);
    if (given == NULL || strlen(given) != size || size == 0)
        return false;
    return sodium_memcmp(given, expected, size) == 0;
}

int route_sms_inbound(struct http_request *request, struct http_response *response)
{
    if (!key_matches(http_query(request, "key"), request->app->sms_key))
        return http_reply_text(response, 403, "text/plain; charset=utf-8", "");
    const char *from = http_query(request, "from");
    const char *text = http_query(request, "text");
    if (from == NULL || text == NULL || strlen(text) > SMS_TEXT_MAX)
        return http_error(response, LEB_E_INVALID_REQUEST, "from and text are required");

    char reply[SMS_REPLY_MAX];
    struct card_row card;
    char msisdn[MSISDN_SIZE];
    int rc = msisdn_normalize(msisdn, from);
    if (rc == 0)
        rc = STORE_CALL(request->app->store, card_get_by_msisdn, &card, msisdn);
    enum sms_language language = SMS_LANG_ZH;
    if (rc == 0 && strcmp(card.language, "en") == 0)
        language = SMS_LANG_EN;
    enum sms_command command = sms_command_parse(text);
    if (rc == LEB_E_UNAVAILABLE)
        return rc;
    if (rc < 0) {
        sms_reply_no_card(reply, language);
    } else if (command == SMS_CMD_BALANCE) {
        char masked[CARDNO_MASKED_SIZE], valid_until[RFC3339_SIZE], next_billing[RFC3339_SIZE];
        cardno_mask(masked, card.card_no);
        if (card.valid_until)
            time_format_rfc3339(valid_until, card.valid_until);
        if (card.next_billing_at)
            time_format_rfc3339(next_billing, card.next_billing_at);
        struct sms_balance_view view = {
            .card_no_masked = masked,
            .status = card.status,
            .balance = card.balance,
            .currency = card.currency,
            .valid_until = card.valid_until ? valid_until : NULL,
            .next_billing_at = card.next_billing_at ? next_billing : NULL,
        };
        sms_reply_balance(reply, &view, language);
    } else if (command == SMS_CMD_CARD_NO) {
        sms_reply_card_no(reply, card.card_no, language);
    } else if (command == SMS_CMD_RECHARGE) {
        char url[256];
        /* The link names the sender's own phone number, not the card number: a forwarded SMS
         * should not spread the card number. The base URL is cut to keep the link in one SMS. */
        snprintf(url, sizeof(url), "%.170s/?number=%s", request->app->public_url,
                 card.msisdn + (card.msisdn[0] == '+'));
        sms_reply_recharge_link(reply, url, language);
    } else {
        /* The auto-renewal commands come with auto-renewal; until then they, like any unknown
         * command, are answered with the help text. */
        sms_reply_help(reply, language);
    }
    char from_masked[MSISDN_MASKED_SIZE];
    msisdn_mask(from_masked, rc == 0 ? card.msisdn : "+0000");
    LOG_INFO("sms inbound", "request_id", request->request_id, "from", from_masked, "command",
             command == SMS_CMD_BALANCE    ? "balance"
             : command == SMS_CMD_CARD_NO  ? "card_no"
             : command == SMS_CMD_RECHARGE ? "recharge"
                                           : "other");
    /* Kannel sends a get-url answer as GSM 7-bit unless told otherwise: Chinese must go as
     * UCS-2 (the sms-service needs accept-x-kannel-headers = yes for this header). */
    bool ucs2 = false;
    (void)sms_segments(reply, &ucs2);
    if (ucs2)
        http_header_add(response, "X-Kannel-Coding", "2");
    return http_reply_text(response, 200, "text/plain; charset=utf-8", reply);
}
