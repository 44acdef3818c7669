/*
 * sms.c - the SMS command language and LEB's SMS replies.
 *
 * This module owns what an inbound SMS means (after folding the ways phones type the same
 * letters) and the words of every reply, in Chinese and in English. The gateway adapter owns
 * sending; the application owns looking up the card the reply describes.
 *
 * It must never guess: a text that is not exactly a command, once folded and trimmed, is
 * SMS_CMD_UNKNOWN. It must never write a reply longer than two concatenated UCS-2 segments
 * (134 characters), because a third segment costs money and arrives out of order on some
 * phones, and never put a full card number in a reply: views carry masked numbers only.
 */
#include "core/sms.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/autorenew.h"
#include "core/cardno.h"
#include "core/money.h"

/* Commands are a few characters; longer texts are not commands and are not even folded. */
#define SMS_COMMAND_INPUT_MAX 64

struct sms_command_word {
    const char *text; /* upper-case ASCII or UTF-8 Chinese */
    enum sms_command command;
};

/* Y alone means something only while a confirmation is pending; the application, not this
 * table, knows whether one is. */
static const struct sms_command_word sms_command_words[] = {
    {"YE", SMS_CMD_BALANCE},        {"余额", SMS_CMD_BALANCE},
    {"KH", SMS_CMD_CARD_NO},        {"卡号", SMS_CMD_CARD_NO},
    {"CZ", SMS_CMD_RECHARGE},       {"充值", SMS_CMD_RECHARGE},
    {"BZ", SMS_CMD_HELP},           {"帮助", SMS_CMD_HELP},
    {"ZD", SMS_CMD_AUTO_RENEW},     {"自动续费", SMS_CMD_AUTO_RENEW},
    {"TD", SMS_CMD_AUTO_RENEW_OFF}, {"关闭自动续费", SMS_CMD_AUTO_RENEW_OFF},
    {"Y", SMS_CMD_CONFIRM},         {"YES", SMS_CMD_CONFIRM},
    {"是", SMS_CMD_CONFIRM},        {"确认", SMS_CMD_CONFIRM},
    {"EN", SMS_CMD_LANG_EN},        {"ENGLISH", SMS_CMD_LANG_EN},
    {"ZW", SMS_CMD_LANG_ZH},        {"中文", SMS_CMD_LANG_ZH},
};

static bool sms_is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Folds "text" into "out": full-width ASCII (U+FF01..U+FF5E, EF BC 81..EF BD 9E) becomes
 * ASCII, the ideographic space (U+3000, E3 80 80) a space, lower-case letters upper-case;
 * every other byte is copied, so Chinese passes through unchanged. Folding only ever
 * shortens, so "out" needs no more room than "text".
 */
static void sms_fold(char *out, const unsigned char *text, size_t length)
{
    size_t written = 0;
    size_t i = 0;

    while (i < length) {
        unsigned char c = text[i];

        if (i + 2 < length && c == 0xEF && text[i + 1] == 0xBC && text[i + 2] >= 0x81 &&
            text[i + 2] <= 0xBF) {
            c = (unsigned char)(0x21 + (text[i + 2] - 0x81));
            i += 3;
        } else if (i + 2 < length && c == 0xEF && text[i + 1] == 0xBD && text[i + 2] >= 0x80 &&
                   text[i + 2] <= 0x9E) {
            c = (unsigned char)(0x60 + (text[i + 2] - 0x80));
            i += 3;
        } else if (i + 2 < length && c == 0xE3 && text[i + 1] == 0x80 && text[i + 2] == 0x80) {
            c = ' ';
            i += 3;
        } else {
            i += 1;
        }
        if (c >= 'a' && c <= 'z') {
            c = (unsigned char)(c - 'a' + 'A');
        }
        out[written++] = (char)c;
    }
    LEB_ASSERT(written <= length);
    out[written] = '\0';
}

/* NULL (a gateway call without text) and over-long texts are unknown commands. */
enum sms_command sms_command_parse(const char *text)
{
    char folded[SMS_COMMAND_INPUT_MAX + 1];
    size_t length;
    size_t start = 0;
    size_t end;

    if (text == NULL) {
        return SMS_CMD_UNKNOWN;
    }
    length = strnlen(text, SMS_COMMAND_INPUT_MAX + 1);
    if (length > SMS_COMMAND_INPUT_MAX) {
        return SMS_CMD_UNKNOWN;
    }
    sms_fold(folded, (const unsigned char *)text, length);

    end = strlen(folded);
    while (start < end && sms_is_ascii_space(folded[start])) {
        start++;
    }
    while (end > start && sms_is_ascii_space(folded[end - 1])) {
        end--;
    }
    folded[end] = '\0';

    for (size_t i = 0; i < sizeof(sms_command_words) / sizeof(sms_command_words[0]); i++) {
        if (strcmp(folded + start, sms_command_words[i].text) == 0) {
            return sms_command_words[i].command;
        }
    }
    return SMS_CMD_UNKNOWN;
}

/* ---------------------------------------------------------------------------------------
 * Replies
 * ------------------------------------------------------------------------------------- */

/* A reply under construction: appends never overflow "out"; one that would is a bug in the
 * texts below, caught by the assertion rather than sent truncated. */
struct sms_writer {
    char *out;
    size_t used;
};

__attribute__((format(printf, 2, 3))) static void sms_append(struct sms_writer *writer,
                                                             const char *format, ...)
{
    va_list arguments;
    int written;

    LEB_ASSERT(writer->used < SMS_REPLY_MAX);
    va_start(arguments, format);
    written =
        vsnprintf(writer->out + writer->used, SMS_REPLY_MAX - writer->used, format, arguments);
    va_end(arguments);
    LEB_ASSERT(written >= 0 && (size_t)written < SMS_REPLY_MAX - writer->used);
    writer->used += (size_t)written;
}

/*
 * Copies the "YYYY-MM-DD" that starts the RFC 3339 time "text" into "out". False (and
 * nothing said about the date) when "text" is NULL or does not start with a date: a reply
 * without a date is better than a reply with a wrong one.
 */
static bool sms_date_of(char out[11], const char *text)
{
    if (text == NULL || strnlen(text, 10) < 10) {
        return false;
    }
    for (size_t i = 0; i < 10; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? text[i] != '-' : (text[i] < '0' || text[i] > '9')) {
            return false;
        }
    }
    memcpy(out, text, 10);
    out[10] = '\0';
    return true;
}

static const char *sms_status_word(enum card_status status, enum sms_language language)
{
    static const char *const zh[] = {
        [CARD_ACTIVE] = "正常", [CARD_SUSPENDED] = "停机", [CARD_RECYCLED] = "已回收"};
    static const char *const en[] = {
        [CARD_ACTIVE] = "active", [CARD_SUSPENDED] = "suspended", [CARD_RECYCLED] = "recycled"};

    LEB_ASSERT((int)status >= 0 && status <= CARD_RECYCLED);
    return language == SMS_LANG_ZH ? zh[status] : en[status];
}

static void sms_assert_language(enum sms_language language)
{
    LEB_ASSERT(language == SMS_LANG_ZH || language == SMS_LANG_EN);
}

/*
 * The balance reply for "view" in "language": balance, status, then the next billing date and
 * the validity end when the view has them, then the masked card number. Chinese replies say
 * 元 for yuan; any other currency, and every English reply, names the ISO 4217 code.
 */
void sms_reply_balance(char out[SMS_REPLY_MAX], const struct sms_balance_view *view,
                       enum sms_language language)
{
    struct sms_writer writer = {.out = out, .used = 0};
    char amount[MONEY_FORMAT_MAX];
    char next_billing[11];
    char valid_until[11];
    bool has_next_billing;
    bool has_valid_until;
    const char *unit;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(view != NULL);
    LEB_ASSERT(view->card_no_masked != NULL &&
               strnlen(view->card_no_masked, CARDNO_MASKED_SIZE) < CARDNO_MASKED_SIZE);
    LEB_ASSERT(currency_is_valid(view->currency));
    sms_assert_language(language);

    money_format(amount, view->balance);
    has_next_billing = sms_date_of(next_billing, view->next_billing_at);
    has_valid_until = sms_date_of(valid_until, view->valid_until);

    if (language == SMS_LANG_ZH) {
        unit = strcmp(view->currency, "CNY") == 0 ? "元" : view->currency;
        sms_append(&writer, "余额 %s %s，状态 %s", amount, unit,
                   sms_status_word(view->status, language));
        if (has_next_billing) {
            sms_append(&writer, "，下次扣费 %s", next_billing);
        }
        if (has_valid_until) {
            sms_append(&writer, "，有效期至 %s", valid_until);
        }
        sms_append(&writer, "，卡号 %s。", view->card_no_masked);
    } else {
        sms_append(&writer, "Balance %s %s, status %s", amount, view->currency,
                   sms_status_word(view->status, language));
        if (has_next_billing) {
            sms_append(&writer, ", next billing %s", next_billing);
        }
        if (has_valid_until) {
            sms_append(&writer, ", valid until %s", valid_until);
        }
        sms_append(&writer, ", card %s.", view->card_no_masked);
    }
}

/*
 * The help text: every command a cardholder may start with (Y only answers a question LEB
 * asked, so the TD entry names it). No command turns auto-renewal on: that takes a payment
 * agreement, made in the self-service portal, so ZD only says how it stands.
 */
void sms_reply_help(char out[SMS_REPLY_MAX], enum sms_language language)
{
    struct sms_writer writer = {.out = out, .used = 0};

    LEB_ASSERT(out != NULL);
    sms_assert_language(language);
    if (language == SMS_LANG_ZH) {
        sms_append(&writer, "%s",
                   "发送 YE 或 余额 查余额，KH 或 卡号 查卡号，CZ 或 充值 取充值链接，"
                   "ZD 或 自动续费 查自动续费，TD 或 关闭自动续费 关闭（需回复 Y 确认），"
                   "EN 改收英文短信，ZW 或 中文 改收中文短信，BZ 或 帮助 看本帮助。");
    } else {
        sms_append(&writer, "%s",
                   "Send YE balance, KH card number, CZ recharge link, ZD auto-renewal status, "
                   "TD turn it off (then Y), EN English, ZW Chinese, BZ help.");
    }
    LEB_ASSERT(sms_segments(out, NULL) <= 2);
}

/*
 * The auto-renewal status for "view" in "language" (ZD). Off: where to turn it on. On: what
 * the rule does, then how to turn it off. A keep_fee rule names no amount, as what it tops up
 * depends on the balance at the time; a threshold rule names both of its amounts, in 元 for
 * yuan in Chinese and the ISO 4217 code otherwise, as the balance reply does.
 *
 * The view comes from the store, not from the cardholder: a rule autorenew_rule_parse() does
 * not know, a currency that is not ISO 4217 or a negative amount is a bug upstream, caught by
 * an assertion rather than explained to a cardholder. When "view->enabled" is false nothing
 * else in the view is read, and "currency" and the amounts are read for a threshold rule only.
 */
void sms_reply_auto_renew(char out[SMS_REPLY_MAX], const struct sms_autorenew_view *view,
                          enum sms_language language)
{
    struct sms_writer writer = {.out = out, .used = 0};
    enum autorenew_rule rule = AUTORENEW_KEEP_FEE;
    char amount[MONEY_FORMAT_MAX];
    char threshold[MONEY_FORMAT_MAX];
    bool zh = language == SMS_LANG_ZH;
    bool cny;
    const char *unit;
    int rc;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(view != NULL);
    sms_assert_language(language);

    if (!view->enabled) {
        sms_append(&writer, "%s",
                   zh ? "自动续费未开通，可在网上自助服务中开通。"
                      : "Auto-renewal is off. You can turn it on in the online self-service "
                        "portal.");
        LEB_ASSERT(sms_segments(out, NULL) <= 2);
        return;
    }

    rc = autorenew_rule_parse(&rule, view->rule);
    LEB_ASSERT(rc == 0);
    switch (rule) {
    case AUTORENEW_KEEP_FEE:
        sms_append(&writer, "%s",
                   zh ? "自动续费已开通：每次扣费日前自动补足月费。回复 TD 关闭。"
                      : "Auto-renewal is on: before each billing day it tops up enough to pay "
                        "the monthly fee. Reply TD to turn it off.");
        break;
    case AUTORENEW_THRESHOLD:
        LEB_ASSERT(currency_is_valid(view->currency));
        /* autorenew_setting_check() refuses negative amounts: one here is a bug that the
         * cardholder must not read. */
        LEB_ASSERT(view->amount >= 0 && view->threshold >= 0);
        money_format(amount, view->amount);
        money_format(threshold, view->threshold);
        cny = strcmp(view->currency, "CNY") == 0;
        if (zh) {
            unit = cny ? "元" : view->currency;
            /* "5.00 元时" reads naturally; a code needs a space before the next word. */
            sms_append(&writer, "自动续费已开通：余额低于 %s %s%s时自动充值 %s %s。回复 TD 关闭。",
                       threshold, unit, cny ? "" : " ", amount, unit);
        } else {
            sms_append(&writer,
                       "Auto-renewal is on: when the balance falls below %s %s it tops up %s %s. "
                       "Reply TD to turn it off.",
                       threshold, view->currency, amount, view->currency);
        }
        break;
    }
    LEB_ASSERT(writer.used > 0);
    LEB_ASSERT(sms_segments(out, NULL) <= 2);
}

/* The confirmation notice says "10 minutes" in both languages. */
_Static_assert(SMS_CONFIRM_TTL_S == 10 * 60, "the confirmation notice names 10 minutes");

static const char *const sms_notice_texts[SMS_NOTICE_COUNT][2] = {
    [SMS_NOTICE_AUTO_RENEW_OFF_CONFIRM] =
        {
            [SMS_LANG_ZH] = "关闭自动续费请在10分钟内回复 Y 确认，不回复则保持不变。",
            [SMS_LANG_EN] = "Turn auto-renewal off? Reply Y within 10 minutes to confirm; "
                            "otherwise nothing changes.",
        },
    [SMS_NOTICE_AUTO_RENEW_OFF_DONE] =
        {
            [SMS_LANG_ZH] = "自动续费已关闭，本卡将不再自动充值。请记得在扣费日前充值，"
                            "发送 CZ 获取充值链接。",
            [SMS_LANG_EN] = "Auto-renewal is off. This card will no longer be topped up "
                            "automatically. Remember to top up before the fee is due; send CZ "
                            "for a recharge link.",
        },
    [SMS_NOTICE_AUTO_RENEW_NOT_ON] =
        {
            [SMS_LANG_ZH] = "自动续费未开通，无需关闭。",
            [SMS_LANG_EN] = "Auto-renewal is not on; there is nothing to turn off.",
        },
    [SMS_NOTICE_NOTHING_TO_CONFIRM] =
        {
            [SMS_LANG_ZH] = "没有待确认的操作（或已超时）。发送 BZ 查看帮助。",
            [SMS_LANG_EN] = "Nothing is waiting for confirmation (or it has expired). Send BZ "
                            "for help.",
        },
    /* Said in the language just chosen: the first SMS in it shows the choice worked. */
    [SMS_NOTICE_LANGUAGE_SET] =
        {
            [SMS_LANG_ZH] = "短信将以中文发送。",
            [SMS_LANG_EN] = "SMS will now be sent in English. Send ZW for Chinese.",
        },
};

/* The fixed text "notice" in "language"; a notice outside the enum is a bug. */
void sms_reply_notice(char out[SMS_REPLY_MAX], enum sms_notice notice, enum sms_language language)
{
    struct sms_writer writer = {.out = out, .used = 0};
    const char *text;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT((int)notice >= 0 && notice < SMS_NOTICE_COUNT);
    sms_assert_language(language);
    text = sms_notice_texts[notice][language];
    LEB_ASSERT(text != NULL);
    sms_append(&writer, "%s", text);
    LEB_ASSERT(sms_segments(out, NULL) <= 2);
}

void sms_reply_no_card(char out[SMS_REPLY_MAX], enum sms_language language)
{
    struct sms_writer writer = {.out = out, .used = 0};

    LEB_ASSERT(out != NULL);
    sms_assert_language(language);
    if (language == SMS_LANG_ZH) {
        sms_append(&writer, "%s",
                   "本号码未绑定保号卡，无法查询。请用卡上登记的手机号发送，或发送 BZ 查看帮助。");
    } else {
        sms_append(&writer, "%s",
                   "No card is linked to this phone number. Text from the card's own number, "
                   "or send BZ for help.");
    }
}

void sms_reply_card_no(char out[SMS_REPLY_MAX], const char *card_no, enum sms_language language)
{
    struct sms_writer writer = {.out = out, .used = 0};

    LEB_ASSERT(out != NULL && card_no != NULL && strlen(card_no) <= 32);
    sms_assert_language(language);
    /* The full number goes only to the phone the card is registered to: it is what the owner
     * types on the recharge page. */
    if (language == SMS_LANG_ZH)
        sms_append(&writer, "您的保号卡卡号：%s。充值时输入此卡号即可。", card_no);
    else
        sms_append(&writer, "Your card number: %s. Enter it on the recharge page to top up.",
                   card_no);
}

void sms_reply_recharge_link(char out[SMS_REPLY_MAX], const char *url, enum sms_language language)
{
    struct sms_writer writer = {.out = out, .used = 0};

    LEB_ASSERT(out != NULL && url != NULL && strlen(url) <= 200);
    sms_assert_language(language);
    if (language == SMS_LANG_ZH)
        sms_append(&writer, "点击链接为本卡充值：%s", url);
    else
        sms_append(&writer, "Top up this card here: %s", url);
}

/* ---------------------------------------------------------------------------------------
 * Notification texts
 * ------------------------------------------------------------------------------------- */

enum sms_template {
    SMS_TEMPLATE_RECHARGE_SUCCEEDED = 0,
    SMS_TEMPLATE_LOW_BALANCE,
    SMS_TEMPLATE_SUSPENDED,
    SMS_TEMPLATE_RECYCLE_WARNING,
    SMS_TEMPLATE_RECYCLED,
    SMS_TEMPLATE_AUTO_RENEW_FAILED,
    SMS_TEMPLATE_REACTIVATED,
    SMS_TEMPLATE_LOGIN_CODE,
    SMS_TEMPLATE_COUNT
};

/* The fields of "struct sms_fields" a template cannot be written without. */
enum sms_need {
    SMS_NEEDS_AMOUNT = 1u << 0,
    SMS_NEEDS_BALANCE = 1u << 1,
    SMS_NEEDS_FEE = 1u << 2,
    SMS_NEEDS_ARREARS = 1u << 3,
    SMS_NEEDS_CURRENCY = 1u << 4,
    SMS_NEEDS_DUE_AT = 1u << 5,
    SMS_NEEDS_RECYCLE_AT = 1u << 6,
    SMS_NEEDS_CODE = 1u << 7,
};

struct sms_template_spec {
    const char *name; /* the outbox payload's template name */
    unsigned needs;   /* enum sms_need bits */
};

static const struct sms_template_spec sms_templates[SMS_TEMPLATE_COUNT] = {
    [SMS_TEMPLATE_RECHARGE_SUCCEEDED] = {"recharge_succeeded",
                                         SMS_NEEDS_AMOUNT | SMS_NEEDS_BALANCE | SMS_NEEDS_CURRENCY},
    [SMS_TEMPLATE_LOW_BALANCE] = {"low_balance", SMS_NEEDS_BALANCE | SMS_NEEDS_FEE |
                                                     SMS_NEEDS_CURRENCY | SMS_NEEDS_DUE_AT},
    [SMS_TEMPLATE_SUSPENDED] = {"suspended",
                                SMS_NEEDS_ARREARS | SMS_NEEDS_CURRENCY | SMS_NEEDS_RECYCLE_AT},
    [SMS_TEMPLATE_RECYCLE_WARNING] = {"recycle_warning", SMS_NEEDS_RECYCLE_AT},
    [SMS_TEMPLATE_RECYCLED] = {"recycled", 0},
    [SMS_TEMPLATE_AUTO_RENEW_FAILED] = {"auto_renew_failed", 0},
    [SMS_TEMPLATE_REACTIVATED] = {"reactivated", SMS_NEEDS_BALANCE | SMS_NEEDS_CURRENCY},
    [SMS_TEMPLATE_LOGIN_CODE] = {"login_code", SMS_NEEDS_CODE},
};

/* The login_code text says "5 minutes" in both languages. */
_Static_assert(SMS_LOGIN_CODE_TTL_S == 5 * 60, "the login_code text names 5 minutes");

/* Login codes are this many ASCII digits, what phones offer to fill in from an SMS. */
#define SMS_LOGIN_CODE_DIGITS 6

/* Template names are short; a longer "name" is no template and is not read past this. */
#define SMS_TEMPLATE_NAME_MAX 32

/* SMS_TEMPLATE_COUNT when "name" (may be NULL) names no template. */
static enum sms_template sms_template_find(const char *name)
{
    if (name == NULL || strnlen(name, SMS_TEMPLATE_NAME_MAX + 1) > SMS_TEMPLATE_NAME_MAX) {
        return SMS_TEMPLATE_COUNT;
    }
    for (size_t i = 0; i < SMS_TEMPLATE_COUNT; i++) {
        if (strcmp(name, sms_templates[i].name) == 0) {
            return (enum sms_template)i;
        }
    }
    return SMS_TEMPLATE_COUNT;
}

/*
 * True if "masked" looks like what cardno_mask() writes: at most 19 digits and asterisks,
 * at least one of them an asterisk. The asterisk is what keeps a full card number (or a
 * phone number passed by mistake) out of a notification that anyone holding the phone can
 * read; the length bound is what lets every text below fit two segments.
 */
static bool sms_card_masked_is_valid(const char *masked)
{
    size_t length;
    bool has_asterisk = false;

    if (masked == NULL) {
        return false;
    }
    length = strnlen(masked, CARDNO_DIGITS + 1);
    if (length == 0 || length > CARDNO_DIGITS) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (masked[i] == '*') {
            has_asterisk = true;
        } else if (masked[i] < '0' || masked[i] > '9') {
            return false;
        }
    }
    return has_asterisk;
}

/* True if "code" is exactly SMS_LOGIN_CODE_DIGITS ASCII digits: anything else is a bug
 * upstream, and a text with a wrong code would only send the cardholder back for another. */
static bool sms_login_code_is_valid(const char *code)
{
    if (code == NULL || strnlen(code, SMS_LOGIN_CODE_DIGITS + 1) != SMS_LOGIN_CODE_DIGITS) {
        return false;
    }
    for (size_t i = 0; i < SMS_LOGIN_CODE_DIGITS; i++) {
        if (code[i] < '0' || code[i] > '9') {
            return false;
        }
    }
    return true;
}

/* True if every amount "needs" names in "fields" is there, that is not negative: balances
 * and arrears never are, and a negative amount in a payload is a bug upstream that the
 * cardholder must not read. */
static bool sms_amounts_are_valid(const struct sms_fields *fields, unsigned needs)
{
    return (!(needs & SMS_NEEDS_AMOUNT) || fields->amount >= 0) &&
           (!(needs & SMS_NEEDS_BALANCE) || fields->balance >= 0) &&
           (!(needs & SMS_NEEDS_FEE) || fields->fee >= 0) &&
           (!(needs & SMS_NEEDS_ARREARS) || fields->arrears >= 0);
}

/*
 * Writes the text of "template_name" for "fields" in "language" into "out".
 *
 * Every field the template needs must be there: "card_no_masked" (always; see
 * sms_card_masked_is_valid()), amounts not negative, "currency" an ISO 4217 code, "due_at"
 * and "recycle_at" RFC 3339 times that start with a date, "code" exactly six ASCII digits.
 * Otherwise, and for an unknown template, the result is LEB_E_INVALID_REQUEST and "out" is
 * set to "" so that a caller can never send the previous text again by mistake.
 * "valid_until" is optional: NULL or a time without a date leaves the validity out, as a
 * reply without a date is better than a reply with a wrong one. Pointers a template does not
 * use are not read.
 *
 * The texts stay within two segments whatever the fields hold (amounts up to INT64_MAX,
 * any currency code): the assertion at the end checks it on every call.
 */
int sms_render(char out[SMS_REPLY_MAX], const char *template_name, const struct sms_fields *fields,
               enum sms_language language)
{
    struct sms_writer writer = {.out = out, .used = 0};
    enum sms_template template_id;
    unsigned needs;
    char amount[MONEY_FORMAT_MAX];
    char balance[MONEY_FORMAT_MAX];
    char fee[MONEY_FORMAT_MAX];
    char arrears[MONEY_FORMAT_MAX];
    char due_at[11] = "";
    char recycle_at[11] = "";
    char valid_until[11] = "";
    bool has_valid_until = false;
    bool zh = language == SMS_LANG_ZH;
    bool cny;
    const char *unit = "";
    const char *card;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(fields != NULL);
    sms_assert_language(language);

    out[0] = '\0';
    template_id = sms_template_find(template_name);
    if (template_id == SMS_TEMPLATE_COUNT) {
        return LEB_E_INVALID_REQUEST;
    }
    needs = sms_templates[template_id].needs;
    if (!sms_card_masked_is_valid(fields->card_no_masked) ||
        !sms_amounts_are_valid(fields, needs) ||
        ((needs & SMS_NEEDS_CURRENCY) && !currency_is_valid(fields->currency)) ||
        ((needs & SMS_NEEDS_DUE_AT) && !sms_date_of(due_at, fields->due_at)) ||
        ((needs & SMS_NEEDS_RECYCLE_AT) && !sms_date_of(recycle_at, fields->recycle_at)) ||
        ((needs & SMS_NEEDS_CODE) && !sms_login_code_is_valid(fields->code))) {
        return LEB_E_INVALID_REQUEST;
    }

    card = fields->card_no_masked;
    money_format(amount, fields->amount);
    money_format(balance, fields->balance);
    money_format(fee, fields->fee);
    money_format(arrears, fields->arrears);
    /* Chinese says 元 for yuan and the code for anything else; English always the code. */
    cny = (needs & SMS_NEEDS_CURRENCY) && strcmp(fields->currency, "CNY") == 0;
    if (needs & SMS_NEEDS_CURRENCY) {
        unit = zh && cny ? "元" : fields->currency;
    }

    switch (template_id) {
    case SMS_TEMPLATE_RECHARGE_SUCCEEDED:
        has_valid_until = sms_date_of(valid_until, fields->valid_until);
        if (zh) {
            /* "100.00 元已到账" reads naturally; a code needs a space before the verb. */
            sms_append(&writer, "充值成功：%s %s%s已到账，余额 %s %s", amount, unit, cny ? "" : " ",
                       balance, unit);
            if (has_valid_until) {
                sms_append(&writer, "，有效期至 %s", valid_until);
            }
            sms_append(&writer, "，卡号 %s。", card);
        } else {
            sms_append(&writer, "Top-up received: %s %s added, balance %s %s", amount, unit,
                       balance, unit);
            if (has_valid_until) {
                sms_append(&writer, ", valid until %s", valid_until);
            }
            sms_append(&writer, ". Card %s.", card);
        }
        break;
    case SMS_TEMPLATE_LOW_BALANCE:
        if (zh) {
            sms_append(&writer,
                       "温馨提示：卡号 %s 余额 %s %s，不足以支付 %s 的月费 %s %s。"
                       "请及时充值以免停机，发送 CZ 获取充值链接。",
                       card, balance, unit, due_at, fee, unit);
        } else {
            sms_append(&writer,
                       "Reminder: card %s has %s %s, not enough for the %s %s fee due on %s. "
                       "Please top up to keep your number. Send CZ for a recharge link.",
                       card, balance, unit, fee, unit, due_at);
        }
        break;
    case SMS_TEMPLATE_SUSPENDED:
        /* A card on a validity plan is suspended without arrears: then there are none to
         * name, only the date to beat. */
        if (zh) {
            sms_append(&writer, "停机通知：卡号 %s 已停机", card);
            if (fields->arrears > 0) {
                sms_append(&writer, "，欠费 %s %s", arrears, unit);
            }
            sms_append(&writer, "。请在 %s 前充值，否则号码将被回收。发送 CZ 获取充值链接。",
                       recycle_at);
        } else {
            sms_append(&writer, "Card %s is suspended", card);
            if (fields->arrears > 0) {
                sms_append(&writer, ", arrears %s %s", arrears, unit);
            }
            sms_append(&writer,
                       ". Top up before %s to keep your number, or it will be recycled. "
                       "Send CZ for a recharge link.",
                       recycle_at);
        }
        break;
    case SMS_TEMPLATE_RECYCLE_WARNING:
        if (zh) {
            sms_append(&writer,
                       "最后提醒：卡号 %s 仍在停机，号码将于 %s 被回收，回收后无法恢复。"
                       "请尽快充值，发送 CZ 获取充值链接。",
                       card, recycle_at);
        } else {
            sms_append(&writer,
                       "Last warning: card %s is still suspended and its number will be "
                       "recycled on %s. This cannot be undone. Top up now; send CZ for a "
                       "recharge link.",
                       card, recycle_at);
        }
        break;
    case SMS_TEMPLATE_RECYCLED:
        if (zh) {
            sms_append(&writer,
                       "通知：卡号 %s 停机后未在期限内充值，号码已被回收，不能再使用。"
                       "请勿再为此卡充值。",
                       card);
        } else {
            sms_append(&writer,
                       "Card %s was not topped up in time after suspension and its number "
                       "has been recycled. It can no longer be used; please do not top it up.",
                       card);
        }
        break;
    case SMS_TEMPLATE_AUTO_RENEW_FAILED:
        if (zh) {
            sms_append(&writer,
                       "自动续费扣款失败：卡号 %s 本期费用未能自动支付。请自行充值以免停机，"
                       "发送 CZ 获取充值链接。",
                       card);
        } else {
            sms_append(&writer,
                       "Auto-renewal could not charge your payment for card %s. Please top up "
                       "yourself to avoid suspension. Send CZ for a recharge link.",
                       card);
        }
        break;
    case SMS_TEMPLATE_REACTIVATED:
        if (zh) {
            sms_append(&writer, "恢复通知：卡号 %s 已恢复正常使用，余额 %s %s。", card, balance,
                       unit);
        } else {
            sms_append(&writer, "Card %s is back in service. Balance %s %s.", card, balance, unit);
        }
        break;
    case SMS_TEMPLATE_LOGIN_CODE:
        /* The code comes first, where phones look for it. "Staff never ask" because someone
         * who does is the fraud the code guards against; the card says which account the
         * login is for, so that a code nobody asked for is noticed. */
        if (zh) {
            sms_append(&writer,
                       "LEB 网上自助服务登录验证码 %s，5分钟内有效。切勿告诉他人，"
                       "工作人员不会索要。卡号 %s。",
                       fields->code, card);
        } else {
            sms_append(&writer,
                       "LEB self-service login code: %s, valid for 5 minutes. Never tell "
                       "anyone; our staff never ask for it. Card %s.",
                       fields->code, card);
        }
        break;
    case SMS_TEMPLATE_COUNT:
        LEB_ASSERT(0);
    }

    /* The promise of sms.h, checked where it is made: a third segment costs money and
     * arrives out of order on some phones. */
    LEB_ASSERT(writer.used > 0);
    LEB_ASSERT(sms_segments(out, NULL) <= 2);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Segments (3GPP TS 23.038 coding, TS 23.040 concatenation)
 * ------------------------------------------------------------------------------------- */

#define SMS_GSM7_SINGLE_SEPTETS 160
#define SMS_GSM7_PART_SEPTETS 153 /* 7 septets go to the concatenation header */
#define SMS_UCS2_SINGLE_UNITS 70
#define SMS_UCS2_PART_UNITS 67 /* 6 octets go to the concatenation header */

/* What sms_utf8_next() says for a byte that starts no valid UTF-8 sequence. */
#define SMS_INVALID_CHAR UINT32_MAX

/* The characters of the GSM 7-bit default alphabet outside ASCII (ASCII is sorted out in
 * sms_gsm_septets()). */
static const uint32_t sms_gsm_basic_non_ascii[] = {
    0x00A3, /* £ */ 0x00A5, /* ¥ */ 0x00E8, /* è */ 0x00E9, /* é */ 0x00F9, /* ù */
    0x00EC, /* ì */ 0x00F2, /* ò */ 0x00C7, /* Ç */ 0x00D8, /* Ø */ 0x00F8, /* ø */
    0x00C5, /* Å */ 0x00E5, /* å */ 0x0394, /* Δ */ 0x03A6, /* Φ */ 0x0393, /* Γ */
    0x039B, /* Λ */ 0x03A9, /* Ω */ 0x03A0, /* Π */ 0x03A8, /* Ψ */ 0x03A3, /* Σ */
    0x0398, /* Θ */ 0x039E, /* Ξ */ 0x00C6, /* Æ */ 0x00E6, /* æ */ 0x00DF, /* ß */
    0x00C9, /* É */ 0x00A4, /* ¤ */ 0x00A1, /* ¡ */ 0x00C4, /* Ä */ 0x00D6, /* Ö */
    0x00D1, /* Ñ */ 0x00DC, /* Ü */ 0x00A7, /* § */ 0x00BF, /* ¿ */ 0x00E4, /* ä */
    0x00F6, /* ö */ 0x00F1, /* ñ */ 0x00FC, /* ü */ 0x00E0,                 /* à */
};

/*
 * The septets "code_point" takes in the GSM 7-bit default alphabet: 1 for the basic table,
 * 2 for the extension table (an escape and the character), 0 for a character GSM 7-bit
 * cannot carry, which makes the whole text UCS-2.
 */
static size_t sms_gsm_septets(uint32_t code_point)
{
    if (code_point < 0x80) {
        char c = (char)code_point;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            return 1;
        }
        /* memchr, not strchr: strchr would find the terminating NUL. */
        if (c != '\0' && memchr(" !\"#$%&'()*+,-./:;<=>?@_\n\r", c, 27) != NULL) {
            return 1;
        }
        if (c != '\0' && memchr("^{}\\[~]|\f", c, 9) != NULL) {
            return 2;
        }
        return 0; /* ` and the other control characters */
    }
    if (code_point == 0x20AC) { /* €, the extension table's only non-ASCII character */
        return 2;
    }
    for (size_t i = 0; i < sizeof(sms_gsm_basic_non_ascii) / sizeof(sms_gsm_basic_non_ascii[0]);
         i++) {
        if (sms_gsm_basic_non_ascii[i] == code_point) {
            return 1;
        }
    }
    return 0;
}

/* The UTF-16 code units "code_point" takes in UCS-2 coding: two for a surrogate pair beyond
 * the BMP, one otherwise, and one for an invalid byte (it is sent as U+FFFD). */
static size_t sms_ucs2_units(uint32_t code_point)
{
    return code_point != SMS_INVALID_CHAR && code_point > 0xFFFF ? 2 : 1;
}

/*
 * Decodes the UTF-8 character at "text" (not at its NUL) into "*code_point" and returns its
 * length in bytes. A byte that does not start a well-formed sequence (a stray continuation
 * byte, an overlong form, a UTF-16 surrogate, past U+10FFFF, cut short) is SMS_INVALID_CHAR
 * and one byte long, so each bad byte counts once and the decoder never reads past the NUL:
 * a continuation byte is never NUL.
 */
static size_t sms_utf8_next(const unsigned char *text, uint32_t *code_point)
{
    unsigned char lead = text[0];
    size_t length;
    uint32_t value;
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;

    LEB_ASSERT(lead != '\0');
    if (lead < 0x80) {
        *code_point = lead;
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        value = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        value = lead & 0x0Fu;
        second_min = lead == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        second_max = lead == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        value = lead & 0x07u;
        second_min = lead == 0xF0 ? 0x90 : 0x80; /* no overlong forms */
        second_max = lead == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else {
        *code_point = SMS_INVALID_CHAR;
        return 1;
    }
    for (size_t i = 1; i < length; i++) {
        unsigned char min = i == 1 ? second_min : 0x80;
        unsigned char max = i == 1 ? second_max : 0xBF;

        /* A NUL fails this test, so a sequence cut short by the end stops here. */
        if (text[i] < min || text[i] > max) {
            *code_point = SMS_INVALID_CHAR;
            return 1;
        }
        value = (value << 6) | (text[i] & 0x3Fu);
    }
    LEB_ASSERT(value >= 0x80 && value <= 0x10FFFF);
    *code_point = value;
    return length;
}

/*
 * The segments "text" takes, as sms.h says. A single message carries 160 septets or 70
 * UTF-16 units; past that, every part carries 153 septets or 67 units, filled in order, and
 * a character that does not fit whole in what is left of a part (an escape pair with one
 * septet left, a surrogate pair with one unit left) starts the next part, as phones and
 * SMS centres split them. Invalid UTF-8 makes the text UCS-2, each bad byte one unit.
 */
size_t sms_segments(const char *text, bool *ucs2)
{
    const unsigned char *bytes = (const unsigned char *)text;
    size_t septets = 0;
    size_t units = 0;
    bool gsm7 = true;
    size_t total;
    size_t part_capacity;
    size_t parts = 1;
    size_t part_used = 0;

    LEB_ASSERT(text != NULL);
    for (size_t i = 0; bytes[i] != '\0';) {
        uint32_t code_point;
        size_t cost;

        i += sms_utf8_next(bytes + i, &code_point);
        cost = code_point == SMS_INVALID_CHAR ? 0 : sms_gsm_septets(code_point);
        gsm7 = gsm7 && cost > 0;
        septets += cost;
        units += sms_ucs2_units(code_point);
    }
    if (ucs2 != NULL) {
        *ucs2 = !gsm7;
    }
    total = gsm7 ? septets : units;
    if (total == 0) {
        return 0;
    }
    if (total <= (gsm7 ? SMS_GSM7_SINGLE_SEPTETS : SMS_UCS2_SINGLE_UNITS)) {
        return 1;
    }

    /* Too long for one message: fill parts one character at a time, so that no character
     * is split across two. */
    part_capacity = gsm7 ? SMS_GSM7_PART_SEPTETS : SMS_UCS2_PART_UNITS;
    for (size_t i = 0; bytes[i] != '\0';) {
        uint32_t code_point;
        size_t cost;

        i += sms_utf8_next(bytes + i, &code_point);
        cost = gsm7 ? sms_gsm_septets(code_point) : sms_ucs2_units(code_point);
        LEB_ASSERT(cost >= 1 && cost <= 2);
        if (part_used + cost > part_capacity) {
            parts++;
            part_used = 0;
        }
        part_used += cost;
    }
    LEB_ASSERT(parts >= 2 && parts <= total);
    return parts;
}
