/*
 * sms.h - the SMS command language (inbound) and the texts LEB replies with.
 *
 * Commands are matched after folding case, full-width letters and digits (U+FF01..U+FF5E)
 * to ASCII, and trimming ASCII and ideographic spaces.
 */
#ifndef LEB_CORE_SMS_H
#define LEB_CORE_SMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/plan.h"

enum sms_command {
    SMS_CMD_BALANCE = 0,    /* YE, 余额 */
    SMS_CMD_CARD_NO,        /* KH, 卡号 */
    SMS_CMD_RECHARGE,       /* CZ, 充值 */
    SMS_CMD_HELP,           /* BZ, 帮助 */
    SMS_CMD_AUTO_RENEW,     /* ZD, 自动续费: the auto-renewal status */
    SMS_CMD_AUTO_RENEW_OFF, /* TD, 关闭自动续费: asks for a confirmation first */
    SMS_CMD_CONFIRM,        /* Y, YES, 是, 确认: confirms the pending action */
    SMS_CMD_LANG_EN,        /* EN, ENGLISH: SMS in English from now on */
    SMS_CMD_LANG_ZH,        /* ZW, 中文: SMS in Chinese from now on */
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

/* What an auto-renewal status reply (ZD) says; the caller fills it from the store. */
struct sms_autorenew_view {
    bool enabled;
    const char *rule;     /* "keep_fee" or "threshold"; read only when enabled */
    int64_t amount;       /* threshold rule: the top-up, not negative */
    int64_t threshold;    /* threshold rule: top up when the balance is below this, not negative */
    const char *currency; /* threshold rule: ISO 4217 */
};

/*
 * The auto-renewal status (ZD): off (and where to turn it on), or on and what its rule does,
 * e.g. "自动续费已开通：余额低于 5.00 元时自动充值 50.00 元。回复 TD 关闭。". An unknown rule
 * or, for a threshold rule, a bad currency or a negative amount is a bug: an assertion.
 */
void sms_reply_auto_renew(char out[SMS_REPLY_MAX], const struct sms_autorenew_view *view,
                          enum sms_language language);

/*
 * How long a pending confirmation (TD, then Y) waits: the confirmation notice promises it in
 * minutes, so whoever keeps the pending action must use this very number.
 */
#define SMS_CONFIRM_TTL_S 600

/* The fixed replies, in the order a cardholder meets them. */
enum sms_notice {
    SMS_NOTICE_AUTO_RENEW_OFF_CONFIRM = 0, /* TD: reply Y within SMS_CONFIRM_TTL_S */
    SMS_NOTICE_AUTO_RENEW_OFF_DONE,        /* Y after TD: it is off */
    SMS_NOTICE_AUTO_RENEW_NOT_ON,          /* TD without auto-renewal: nothing to turn off */
    SMS_NOTICE_NOTHING_TO_CONFIRM,         /* Y with nothing pending, or too late */
    SMS_NOTICE_LANGUAGE_SET,               /* EN, ZW: said in the new "language" */
    SMS_NOTICE_COUNT                       /* not a notice: how many there are */
};

/* The fixed text "notice" in "language" (for SMS_NOTICE_LANGUAGE_SET, the one just chosen). */
void sms_reply_notice(char out[SMS_REPLY_MAX], enum sms_notice notice, enum sms_language language);

/* The card number of the sender's own card (KH): the seed of every online top-up. */
void sms_reply_card_no(char out[SMS_REPLY_MAX], const char *card_no, enum sms_language language);

/* A recharge link with the card filled in (CZ); "url" at most 200 bytes. */
void sms_reply_recharge_link(char out[SMS_REPLY_MAX], const char *url, enum sms_language language);

/* The reply to a sender whose number holds no card. */
void sms_reply_no_card(char out[SMS_REPLY_MAX], enum sms_language language);

/*
 * The SMS LEB sends, from an outbox payload's fields. "template_name" is one of
 * recharge_succeeded {amount, balance, currency, valid_until?}, low_balance {balance, fee,
 * currency, due_at}, suspended {arrears, currency, recycle_at}, recycle_warning {recycle_at},
 * recycled {}, auto_renew_failed {}, reactivated {balance, currency}, login_code {code};
 * amounts in minor units, times RFC 3339 (shown as YYYY-MM-DD), "code" exactly 6 ASCII digits.
 * "card_no_masked" names the card in every text (masked: a full number is refused).
 * LEB_E_INVALID_REQUEST for an unknown template or a missing field, with "out" set to "" so
 * that no stale text can be sent. Every text fits two SMS segments (sms_segments() <= 2).
 */
struct sms_fields {
    const char *card_no_masked;
    int64_t amount;
    int64_t balance;
    int64_t fee;
    int64_t arrears;
    const char *currency;
    const char *valid_until; /* may be NULL */
    const char *due_at;
    const char *recycle_at;
    const char *code; /* login_code: the one-time code, valid SMS_LOGIN_CODE_TTL_S */
};

/* How long a login code lives: the login_code text promises it in minutes, so whoever issues
 * the code must use this very number. */
#define SMS_LOGIN_CODE_TTL_S 300

LEB_MUST_CHECK int sms_render(char out[SMS_REPLY_MAX], const char *template_name,
                              const struct sms_fields *fields, enum sms_language language);

/*
 * How many SMS segments "text" (UTF-8) takes: GSM 7-bit when every character is in the GSM
 * default alphabet (160 septets alone, 153 per part of a long message; the extension table's
 * characters count twice), else UCS-2 (70 alone, 67 per part; characters beyond the BMP count
 * twice). 0 for an empty text. "*ucs2" (may be NULL) says which coding it needs.
 */
size_t sms_segments(const char *text, bool *ucs2);

#endif
