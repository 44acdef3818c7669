/*
 * sms.c - the cardholder's side of SMS: commands texted to LEB and the answers, and the
 * gateway's delivery reports of what LEB sent.
 *
 * A command that changes something is confirmed before it acts: "TD" (auto-renewal off) only
 * asks, and a "Y" from the same phone within ten minutes does it. The pending action is a
 * challenge row of the phone number, written like any other change, so a restart in between
 * loses nothing and a "Y" without a fresh "TD" does nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "app/app.h"
#include "core/cardno.h"
#include "core/outbox.h"
#include "core/timeutil.h"
#include "util/log.h"

#define PURPOSE_CONFIRM "sms_confirm"
#define ACTION_AUTO_RENEW_OFF "auto_renew_off"

static void reply_balance(char reply[SMS_REPLY_MAX], const struct card_row *card,
                          enum sms_language language)
{
    char masked[CARDNO_MASKED_SIZE], valid_until[RFC3339_SIZE], next_billing[RFC3339_SIZE];
    cardno_mask(masked, card->card_no);
    if (card->valid_until)
        time_format_rfc3339(valid_until, card->valid_until);
    if (card->next_billing_at)
        time_format_rfc3339(next_billing, card->next_billing_at);
    struct sms_balance_view view = {
        .card_no_masked = masked,
        .status = card->status,
        .balance = card->balance,
        .currency = card->currency,
        .valid_until = card->valid_until ? valid_until : NULL,
        .next_billing_at = card->next_billing_at ? next_billing : NULL,
    };
    sms_reply_balance(reply, &view, language);
}

static int reply_auto_renew(struct app *app, char reply[SMS_REPLY_MAX], const struct card_row *card,
                            enum sms_language language)
{
    struct autorenew_row row;
    int rc = STORE_CALL(app->store, autorenew_get, &row, card->card_no);
    if (rc < 0 && rc != LEB_E_NOT_FOUND)
        return rc;
    struct sms_autorenew_view view = {
        .enabled = rc == 0 && row.enabled,
        .rule = rc == 0 ? row.rule : "keep_fee",
        .amount = rc == 0 ? row.amount : 0,
        .threshold = rc == 0 ? row.threshold : 0,
        .currency = card->currency,
    };
    sms_reply_auto_renew(reply, &view, language);
    return 0;
}

/* A command that changes something, done in one transaction with what it depends on. */
struct change_job {
    const struct card_row *card;
    enum sms_command command;
    int64_t now;
    enum sms_notice notice; /* what the reply says happened */
};

static int ask_in_tx(struct store_tx *tx, struct change_job *job)
{
    struct autorenew_row renewal;
    int rc = STORE_TX(tx, tx_autorenew_get, &renewal, job->card->card_no);
    if (rc < 0 && rc != LEB_E_NOT_FOUND)
        return rc;
    if (rc == LEB_E_NOT_FOUND || !renewal.enabled) {
        job->notice = SMS_NOTICE_AUTO_RENEW_NOT_ON;
        return 0;
    }
    struct challenge_row row = {.life = {.created_at = job->now,
                                         .expires_at = job->now + SMS_CONFIRM_TTL_S,
                                         .window_start = job->now,
                                         .sends = 1}};
    memcpy(row.msisdn, job->card->msisdn, sizeof(row.msisdn));
    snprintf(row.purpose, sizeof(row.purpose), PURPOSE_CONFIRM);
    snprintf(row.secret_hash, sizeof(row.secret_hash), ACTION_AUTO_RENEW_OFF);
    job->notice = SMS_NOTICE_AUTO_RENEW_OFF_CONFIRM;
    return STORE_TX(tx, tx_challenge_put, &row);
}

static int confirm_in_tx(struct store_tx *tx, struct change_job *job)
{
    struct challenge_row pending;
    int rc = STORE_TX(tx, tx_challenge_get, &pending, job->card->msisdn, PURPOSE_CONFIRM);
    if (rc < 0 && rc != LEB_E_NOT_FOUND)
        return rc;
    job->notice = SMS_NOTICE_NOTHING_TO_CONFIRM;
    if (rc == LEB_E_NOT_FOUND)
        return 0;
    rc = STORE_TX(tx, tx_challenge_delete, job->card->msisdn, PURPOSE_CONFIRM);
    if (rc < 0 || job->now >= pending.life.expires_at || job->now < pending.life.created_at ||
        strcmp(pending.secret_hash, ACTION_AUTO_RENEW_OFF) != 0)
        return rc;
    struct autorenew_row renewal;
    rc = STORE_TX(tx, tx_autorenew_get, &renewal, job->card->card_no);
    if (rc == LEB_E_NOT_FOUND || (rc == 0 && !renewal.enabled)) {
        job->notice = SMS_NOTICE_AUTO_RENEW_NOT_ON; /* turned off meanwhile, elsewhere */
        return 0;
    }
    if (rc < 0)
        return rc;
    renewal.enabled = false;
    job->notice = SMS_NOTICE_AUTO_RENEW_OFF_DONE;
    return STORE_TX(tx, tx_autorenew_put, &renewal);
}

static int language_in_tx(struct store_tx *tx, struct change_job *job)
{
    job->notice = SMS_NOTICE_LANGUAGE_SET;
    return STORE_TX(tx, tx_card_update_language, job->card->card_no,
                    job->command == SMS_CMD_LANG_EN ? "en" : "zh");
}

static int change_in_tx(struct store_tx *tx, void *arg)
{
    struct change_job *job = arg;
    switch (job->command) {
    case SMS_CMD_AUTO_RENEW_OFF:
        return ask_in_tx(tx, job);
    case SMS_CMD_CONFIRM:
        return confirm_in_tx(tx, job);
    default:
        return language_in_tx(tx, job);
    }
}

static const char *command_name(enum sms_command command)
{
    switch (command) {
    case SMS_CMD_BALANCE:
        return "balance";
    case SMS_CMD_CARD_NO:
        return "card_no";
    case SMS_CMD_RECHARGE:
        return "recharge";
    case SMS_CMD_HELP:
        return "help";
    case SMS_CMD_AUTO_RENEW:
        return "auto_renew";
    case SMS_CMD_AUTO_RENEW_OFF:
        return "auto_renew_off";
    case SMS_CMD_CONFIRM:
        return "confirm";
    case SMS_CMD_LANG_EN:
    case SMS_CMD_LANG_ZH:
        return "language";
    default:
        return "other";
    }
}

int app_sms_inbound(struct app *app, char reply[SMS_REPLY_MAX], const char *from, const char *text)
{
    struct card_row card;
    char msisdn[MSISDN_SIZE];
    int rc = msisdn_normalize(msisdn, from);
    if (rc == 0)
        rc = STORE_CALL(app->store, card_get_by_msisdn, &card, msisdn);
    if (rc == LEB_E_UNAVAILABLE)
        return rc;
    bool has_card = rc == 0;
    enum sms_language language =
        has_card && strcmp(card.language, "en") == 0 ? SMS_LANG_EN : SMS_LANG_ZH;
    enum sms_command command = sms_command_parse(text);
    rc = 0;
    if (!has_card) {
        sms_reply_no_card(reply, language);
    } else if (command == SMS_CMD_BALANCE) {
        reply_balance(reply, &card, language);
    } else if (command == SMS_CMD_CARD_NO) {
        sms_reply_card_no(reply, card.card_no, language);
    } else if (command == SMS_CMD_RECHARGE) {
        char url[256];
        /* The link names the sender's own phone number, not the card number: a forwarded SMS
         * should not spread the card number. The base URL is cut to keep the link in one SMS. */
        snprintf(url, sizeof(url), "%.170s/?number=%s", app->public_url,
                 card.msisdn + (card.msisdn[0] == '+'));
        sms_reply_recharge_link(reply, url, language);
    } else if (command == SMS_CMD_AUTO_RENEW) {
        rc = reply_auto_renew(app, reply, &card, language);
    } else if (command == SMS_CMD_AUTO_RENEW_OFF || command == SMS_CMD_CONFIRM ||
               command == SMS_CMD_LANG_EN || command == SMS_CMD_LANG_ZH) {
        struct change_job job = {.card = &card, .command = command, .now = app_now(app)};
        rc = store_write(app->store, change_in_tx, &job);
        if (command == SMS_CMD_LANG_EN || command == SMS_CMD_LANG_ZH)
            language = command == SMS_CMD_LANG_EN ? SMS_LANG_EN : SMS_LANG_ZH;
        if (rc == 0)
            sms_reply_notice(reply, job.notice, language);
    } else {
        sms_reply_help(reply, language);
    }
    char from_masked[MSISDN_MASKED_SIZE];
    msisdn_mask(from_masked, has_card ? card.msisdn : "+0000");
    LOG_INFO("sms inbound", "from", from_masked, "command", command_name(command));
    return rc;
}

void app_sms_dlr_token(const struct app *app, char out[APP_DLR_TOKEN_SIZE], int64_t id)
{
    char message[32];
    int length = snprintf(message, sizeof(message), "dlr:%lld", (long long)id);
    unsigned char key[crypto_auth_hmacsha256_KEYBYTES];
    crypto_hash_sha256(key, (const unsigned char *)app->sms_key, strlen(app->sms_key));
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)message, (unsigned long long)length, key);
    sodium_bin2hex(out, APP_DLR_TOKEN_SIZE, mac, (APP_DLR_TOKEN_SIZE - 1) / 2);
    sodium_memzero(key, sizeof(key));
}

struct dlr_job {
    int64_t id;
    enum sms_delivery report;
    int64_t now;
};

static int dlr_in_tx(struct store_tx *tx, void *arg)
{
    struct dlr_job *job = arg;
    struct outbox_row row;
    int rc = STORE_TX(tx, tx_outbox_get, &row, job->id);
    if (rc < 0)
        return rc;
    enum sms_delivery current = SMS_DELIVERY_NONE;
    bool known = sms_delivery_parse(&current, row.delivery) == 0;
    bool is_sms = strcmp(row.kind, "sms") == 0;
    free(row.payload);
    if (!is_sms)
        return LEB_E_NOT_FOUND;
    enum sms_delivery next = sms_delivery_merge(known ? current : SMS_DELIVERY_NONE, job->report);
    if (known && next == current)
        return 0; /* a repeated or late report */
    return STORE_TX(tx, tx_outbox_delivery, job->id, sms_delivery_name(next), job->now);
}

int app_sms_delivery_report(struct app *app, int64_t id, const char *token, int64_t dlr_type)
{
    char expected[APP_DLR_TOKEN_SIZE];
    app_sms_dlr_token(app, expected, id);
    if (token == NULL || strlen(token) != APP_DLR_TOKEN_SIZE - 1 ||
        sodium_memcmp(token, expected, APP_DLR_TOKEN_SIZE - 1) != 0)
        return LEB_E_FORBIDDEN;
    struct dlr_job job = {.id = id, .now = app_now(app)};
    int rc = sms_delivery_of_dlr(&job.report, dlr_type);
    if (rc < 0)
        return rc;
    return store_write(app->store, dlr_in_tx, &job);
}
