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

#include "core/cardno.h"
#include "core/money.h"

/* Commands are a few characters; longer texts are not commands and are not even folded. */
#define SMS_COMMAND_INPUT_MAX 64

struct sms_command_word {
    const char *text; /* upper-case ASCII or UTF-8 Chinese */
    enum sms_command command;
};

static const struct sms_command_word sms_command_words[] = {
    {"YE", SMS_CMD_BALANCE},        {"余额", SMS_CMD_BALANCE},
    {"KH", SMS_CMD_CARD_NO},        {"卡号", SMS_CMD_CARD_NO},
    {"CZ", SMS_CMD_RECHARGE},       {"充值", SMS_CMD_RECHARGE},
    {"BZ", SMS_CMD_HELP},           {"帮助", SMS_CMD_HELP},
    {"ZD", SMS_CMD_AUTO_RENEW},     {"自动续费", SMS_CMD_AUTO_RENEW},
    {"TD", SMS_CMD_AUTO_RENEW_OFF},
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

void sms_reply_help(char out[SMS_REPLY_MAX], enum sms_language language)
{
    struct sms_writer writer = {.out = out, .used = 0};

    LEB_ASSERT(out != NULL);
    sms_assert_language(language);
    if (language == SMS_LANG_ZH) {
        sms_append(&writer, "%s",
                   "发送 YE 或 余额 查余额，KH 或 卡号 查卡号，CZ 或 充值 取充值链接，"
                   "ZD 或 自动续费 开通自动续费，TD 关闭自动续费，BZ 或 帮助 看本帮助。");
    } else {
        sms_append(&writer, "%s",
                   "Commands: YE balance, KH card number, CZ recharge link, ZD auto-renew on, "
                   "TD auto-renew off, BZ help.");
    }
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
