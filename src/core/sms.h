/*
 * sms.h - the SMS command language (inbound) and the texts LEB replies with.
 *
 * Commands are matched after folding case, full-width letters and digits (U+FF01..U+FF5E)
 * to ASCII, and trimming ASCII and ideographic spaces.
 */
#ifndef LEB_CORE_SMS_H
#define LEB_CORE_SMS_H

#include <stddef.h>
#include <stdint.h>

#include "core/plan.h"

enum sms_command {
    SMS_CMD_BALANCE = 0,    /* YE, 余额 */
    SMS_CMD_CARD_NO,        /* KH, 卡号 */
    SMS_CMD_RECHARGE,       /* CZ, 充值 */
    SMS_CMD_HELP,           /* BZ, 帮助 */
    SMS_CMD_AUTO_RENEW,     /* ZD, 自动续费 */
    SMS_CMD_AUTO_RENEW_OFF, /* TD */
    SMS_CMD_UNKNOWN
};

enum sms_command sms_command_parse(const char *text);

enum sms_language { SMS_LANG_ZH = 0, SMS_LANG_EN };

#define SMS_REPLY_MAX 512

/* What a balance reply says; the caller fills it from the store. */
struct sms_balance_view {
    const char *card_no_masked;
    enum card_status status;
    int64_t balance;
    const char *currency;
    const char *valid_until;     /* RFC 3339 or NULL */
    const char *next_billing_at; /* RFC 3339 or NULL */
};

/* The balance reply, e.g. "余额 12.34 元，状态 正常，下次扣费 2026-12-01。". */
void sms_reply_balance(char out[SMS_REPLY_MAX], const struct sms_balance_view *view,
                       enum sms_language language);

/* The help text listing every command. */
void sms_reply_help(char out[SMS_REPLY_MAX], enum sms_language language);

/* The card number of the sender's own card (KH): the seed of every online top-up. */
void sms_reply_card_no(char out[SMS_REPLY_MAX], const char *card_no, enum sms_language language);

/* A recharge link with the card filled in (CZ); "url" at most 200 bytes. */
void sms_reply_recharge_link(char out[SMS_REPLY_MAX], const char *url, enum sms_language language);

/* The reply to a sender whose number holds no card. */
void sms_reply_no_card(char out[SMS_REPLY_MAX], enum sms_language language);

#endif
