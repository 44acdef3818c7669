/*
 * sms_test.c - the SMS command language and the length and content of every reply.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/sms.h"

/* Two concatenated UCS-2 segments carry 2 x 67 characters. */
#define SMS_TWO_UCS2_SEGMENTS_CHARS 134
/* One GSM 7-bit segment carries 160 characters. */
#define SMS_ONE_GSM7_SEGMENT_CHARS 160

/* The number of Unicode code points in the UTF-8 text "text" (all LEB replies are BMP, so
 * each is one UCS-2 unit). */
static size_t utf8_chars(const char *text)
{
    size_t count = 0;

    for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
        count += (*c & 0xC0) != 0x80;
    }
    return count;
}

/* True if "text" is in the GSM 7-bit basic set as far as ASCII goes: printable ASCII without
 * the characters that cost an escape ([ ] { } \ ^ ~ |) or do not exist (`). */
static bool is_gsm7_basic_ascii(const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        if (*c < ' ' || *c > '~' || strchr("[]{}\\^~|`", *c) != NULL) {
            return false;
        }
    }
    return true;
}

static void assert_fits_two_ucs2_segments(const char *reply)
{
    assert_true(strlen(reply) > 0);
    assert_true(utf8_chars(reply) <= SMS_TWO_UCS2_SEGMENTS_CHARS);
}

static void assert_fits_one_gsm7_segment(const char *reply)
{
    assert_true(is_gsm7_basic_ascii(reply));
    assert_true(strlen(reply) <= SMS_ONE_GSM7_SEGMENT_CHARS);
}

/*
 * Runs "run" in a child process and checks that it dies of an assertion (LEB_ASSERT aborts,
 * in release builds too), which a test cannot watch happen in its own process. The child's
 * assertion message is expected, so it goes to /dev/null rather than into the test log.
 */
static void assert_aborts(void (*run)(void))
{
    pid_t child;
    int status = 0;

    fflush(NULL);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL) {
            _exit(2);
        }
        run();
        _exit(0);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/*
 * Checks that every command "text" tells a cardholder to send is one the parser takes: a
 * word of one or two upper-case ASCII letters ("Y", "CZ") is a command in LEB's texts.
 * Returns how many it found.
 */
static size_t assert_every_command_named_is_understood(const char *text)
{
    size_t found = 0;
    size_t i = 0;

    while (text[i] != '\0') {
        size_t length = 0;
        bool upper = true;
        char word[3];

        while (isalpha((unsigned char)text[i + length])) {
            upper = upper && isupper((unsigned char)text[i + length]);
            length++;
        }
        if (length == 0) {
            i++;
            continue;
        }
        if (upper && length <= 2) {
            memcpy(word, text + i, length);
            word[length] = '\0';
            assert_int_not_equal(sms_command_parse(word), SMS_CMD_UNKNOWN);
            found++;
        }
        i += length;
    }
    return found;
}

/* ---------------------------------------------------------------------------------------
 * Commands
 * ------------------------------------------------------------------------------------- */

static void test_sms__parse_knows_every_command_in_both_spellings(void **state)
{
    static const struct {
        const char *text;
        enum sms_command command;
    } cases[] = {
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

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(sms_command_parse(cases[i].text), cases[i].command);
    }
}

/* New commands go at the end, before SMS_CMD_UNKNOWN, so that no value a caller may have
 * stored or compared moves. */
static void test_sms__command_values_never_change(void **state)
{
    assert_int_equal(SMS_CMD_BALANCE, 0);
    assert_int_equal(SMS_CMD_CARD_NO, 1);
    assert_int_equal(SMS_CMD_RECHARGE, 2);
    assert_int_equal(SMS_CMD_HELP, 3);
    assert_int_equal(SMS_CMD_AUTO_RENEW, 4);
    assert_int_equal(SMS_CMD_AUTO_RENEW_OFF, 5);
    assert_int_equal(SMS_CMD_CONFIRM, 6);
    assert_int_equal(SMS_CMD_LANG_EN, 7);
    assert_int_equal(SMS_CMD_LANG_ZH, 8);
    assert_int_equal(SMS_CMD_UNKNOWN, 9);
}

static void test_sms__parse_folds_case(void **state)
{
    assert_int_equal(sms_command_parse("ye"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("Ye"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("yE"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("kh"), SMS_CMD_CARD_NO);
    assert_int_equal(sms_command_parse("Cz"), SMS_CMD_RECHARGE);
    assert_int_equal(sms_command_parse("bz"), SMS_CMD_HELP);
    assert_int_equal(sms_command_parse("zd"), SMS_CMD_AUTO_RENEW);
    assert_int_equal(sms_command_parse("td"), SMS_CMD_AUTO_RENEW_OFF);
    assert_int_equal(sms_command_parse("y"), SMS_CMD_CONFIRM);
    assert_int_equal(sms_command_parse("yes"), SMS_CMD_CONFIRM);
    assert_int_equal(sms_command_parse("Yes"), SMS_CMD_CONFIRM);
    assert_int_equal(sms_command_parse("en"), SMS_CMD_LANG_EN);
    assert_int_equal(sms_command_parse("English"), SMS_CMD_LANG_EN);
    assert_int_equal(sms_command_parse("english"), SMS_CMD_LANG_EN);
    assert_int_equal(sms_command_parse("zw"), SMS_CMD_LANG_ZH);
    assert_int_equal(sms_command_parse("Zw"), SMS_CMD_LANG_ZH);
}

static void test_sms__parse_folds_full_width_letters(void **state)
{
    assert_int_equal(sms_command_parse("ｙｅ"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("ＹＥ"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("Ｙe"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("ｋｈ"), SMS_CMD_CARD_NO);
    assert_int_equal(sms_command_parse("ｔｄ"), SMS_CMD_AUTO_RENEW_OFF);
    assert_int_equal(sms_command_parse("ＢＺ"), SMS_CMD_HELP);
    assert_int_equal(sms_command_parse("ｙ"), SMS_CMD_CONFIRM);
    assert_int_equal(sms_command_parse("ＹＥＳ"), SMS_CMD_CONFIRM);
    assert_int_equal(sms_command_parse("ｙｅｓ"), SMS_CMD_CONFIRM);
    assert_int_equal(sms_command_parse("ＥＮ"), SMS_CMD_LANG_EN);
    assert_int_equal(sms_command_parse("Ｅｎｇｌｉｓｈ"), SMS_CMD_LANG_EN);
    assert_int_equal(sms_command_parse("ｚｗ"), SMS_CMD_LANG_ZH);
}

static void test_sms__parse_trims_ascii_and_ideographic_spaces(void **state)
{
    assert_int_equal(sms_command_parse(" 余额 "), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("\t YE \r\n"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("　余额　"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("　 ｙｅ\n"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("  td"), SMS_CMD_AUTO_RENEW_OFF);
    assert_int_equal(sms_command_parse(" 关闭自动续费\n"), SMS_CMD_AUTO_RENEW_OFF);
    assert_int_equal(sms_command_parse("　是　"), SMS_CMD_CONFIRM);
    assert_int_equal(sms_command_parse(" 确认 "), SMS_CMD_CONFIRM);
    assert_int_equal(sms_command_parse("y\r\n"), SMS_CMD_CONFIRM);
    assert_int_equal(sms_command_parse("　ＥＮ "), SMS_CMD_LANG_EN);
    assert_int_equal(sms_command_parse("\t中文　"), SMS_CMD_LANG_ZH);
}

static void test_sms__parse_calls_anything_else_unknown(void **state)
{
    static const char *const unknown[] = {
        "",       "   ",    "　",    "YEE",        "Y E",      "YE 1",     "余",
        "余额额", "查余额", "余 额", "HELP",       "balance",  "退订",     "ye.",
        "ＹＥ！", "TDX",    "自动",  "自动续费吧", "\xef\xbc", "\xff\xfe", "YS",
        "YESS",   "Y Y",    "Y.",    "是的",       "确认吗",   "E",        "ENG",
        "EN 1",   "Z W",    "ZWW",   "中",         "中文。",   "关闭",     "关闭 自动续费",
    };

    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_int_equal(sms_command_parse(unknown[i]), SMS_CMD_UNKNOWN);
    }
    assert_int_equal(sms_command_parse(NULL), SMS_CMD_UNKNOWN);
}

static void test_sms__parse_calls_an_over_long_text_unknown_unread(void **state)
{
    char text[200];

    /* 62 spaces around "YE": 64 bytes, within the bound. */
    memset(text, ' ', 62);
    memcpy(text + 62, "YE", 3);
    assert_int_equal(sms_command_parse(text), SMS_CMD_BALANCE);
    memset(text, ' ', 63);
    memcpy(text + 63, "YE", 3);
    assert_int_equal(sms_command_parse(text), SMS_CMD_UNKNOWN);
}

/* ---------------------------------------------------------------------------------------
 * Replies
 * ------------------------------------------------------------------------------------- */

static struct sms_balance_view view_demo(void)
{
    struct sms_balance_view view = {
        .card_no_masked = "8986***********0018",
        .status = CARD_ACTIVE,
        .balance = 1234,
        .currency = "CNY",
        .valid_until = NULL,
        .next_billing_at = "2026-12-01T00:00:00Z",
    };
    return view;
}

static void test_sms__balance_reply_in_chinese_says_balance_status_and_next_billing(void **state)
{
    struct sms_balance_view view = view_demo();
    char out[SMS_REPLY_MAX];

    sms_reply_balance(out, &view, SMS_LANG_ZH);
    assert_string_equal(out, "余额 12.34 元，状态 正常，下次扣费 2026-12-01，卡号 "
                             "8986***********0018。");
    assert_fits_two_ucs2_segments(out);
}

static void test_sms__balance_reply_in_english(void **state)
{
    struct sms_balance_view view = view_demo();
    char out[SMS_REPLY_MAX];

    sms_reply_balance(out, &view, SMS_LANG_EN);
    assert_string_equal(out, "Balance 12.34 CNY, status active, next billing 2026-12-01, card "
                             "8986***********0018.");
    assert_fits_one_gsm7_segment(out);
}

static void test_sms__balance_reply_names_every_status_in_words(void **state)
{
    static const char *const zh[] = {"状态 正常", "状态 停机", "状态 已回收"};
    static const char *const en[] = {"status active", "status suspended", "status recycled"};

    for (int status = CARD_ACTIVE; status <= CARD_RECYCLED; status++) {
        struct sms_balance_view view = view_demo();
        char out[SMS_REPLY_MAX];

        view.status = (enum card_status)status;
        sms_reply_balance(out, &view, SMS_LANG_ZH);
        assert_non_null(strstr(out, zh[status]));
        sms_reply_balance(out, &view, SMS_LANG_EN);
        assert_non_null(strstr(out, en[status]));
    }
}

static void test_sms__balance_reply_shows_a_negative_balance_and_validity(void **state)
{
    struct sms_balance_view view = view_demo();
    char out[SMS_REPLY_MAX];

    view.status = CARD_SUSPENDED;
    view.balance = -800;
    view.next_billing_at = NULL;
    view.valid_until = "2027-01-31T00:00:00Z";
    sms_reply_balance(out, &view, SMS_LANG_ZH);
    assert_string_equal(out, "余额 -8.00 元，状态 停机，有效期至 2027-01-31，卡号 "
                             "8986***********0018。");
    sms_reply_balance(out, &view, SMS_LANG_EN);
    assert_string_equal(out, "Balance -8.00 CNY, status suspended, valid until 2027-01-31, card "
                             "8986***********0018.");
}

static void test_sms__balance_reply_in_another_currency_names_it(void **state)
{
    struct sms_balance_view view = view_demo();
    char out[SMS_REPLY_MAX];

    view.currency = "HKD";
    sms_reply_balance(out, &view, SMS_LANG_ZH);
    assert_non_null(strstr(out, "余额 12.34 HKD，"));
    assert_null(strstr(out, "元"));
}

static void test_sms__balance_reply_leaves_out_a_date_that_is_not_one(void **state)
{
    struct sms_balance_view view = view_demo();
    char out[SMS_REPLY_MAX];

    view.next_billing_at = "soon";
    view.valid_until = "2027/01/31";
    sms_reply_balance(out, &view, SMS_LANG_ZH);
    assert_string_equal(out, "余额 12.34 元，状态 正常，卡号 8986***********0018。");
}

static void test_sms__every_balance_reply_fits_two_segments_even_at_the_extremes(void **state)
{
    const int64_t balances[] = {0, 1, -1, INT64_MAX, INT64_MIN};
    const char *const currencies[] = {"CNY", "USD"};
    const char *const dates[] = {NULL, "9999-12-31T23:59:59Z"};

    for (size_t b = 0; b < sizeof(balances) / sizeof(balances[0]); b++) {
        for (size_t c = 0; c < 2; c++) {
            for (int status = CARD_ACTIVE; status <= CARD_RECYCLED; status++) {
                for (size_t d = 0; d < 4; d++) {
                    struct sms_balance_view view = {
                        .card_no_masked = "8986***********0018",
                        .status = (enum card_status)status,
                        .balance = balances[b],
                        .currency = currencies[c],
                        .valid_until = dates[d % 2],
                        .next_billing_at = dates[d / 2],
                    };
                    char out[SMS_REPLY_MAX];

                    sms_reply_balance(out, &view, SMS_LANG_ZH);
                    assert_fits_two_ucs2_segments(out);
                    sms_reply_balance(out, &view, SMS_LANG_EN);
                    assert_fits_two_ucs2_segments(out);
                    assert_fits_one_gsm7_segment(out);
                }
            }
        }
    }
}

static void test_sms__balance_reply_never_shows_more_than_the_masked_card_number(void **state)
{
    struct sms_balance_view view = view_demo();
    char out[SMS_REPLY_MAX];

    sms_reply_balance(out, &view, SMS_LANG_ZH);
    assert_null(strstr(out, "8986010000000000018"));
    assert_non_null(strstr(out, "8986***********0018"));
}

static void test_sms__help_reply_lists_every_command(void **state)
{
    static const char *const words[] = {"YE", "KH", "CZ", "BZ", "ZD", "TD", "EN", "ZW"};
    static const char *const chinese[] = {"余额",     "卡号",         "充值", "帮助",
                                          "自动续费", "关闭自动续费", "中文"};
    char zh[SMS_REPLY_MAX];
    char en[SMS_REPLY_MAX];

    sms_reply_help(zh, SMS_LANG_ZH);
    sms_reply_help(en, SMS_LANG_EN);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        assert_non_null(strstr(zh, words[i]));
        assert_non_null(strstr(en, words[i]));
    }
    for (size_t i = 0; i < sizeof(chinese) / sizeof(chinese[0]); i++) {
        assert_non_null(strstr(zh, chinese[i]));
    }
    /* TD is confirmed with Y: the help says so, as "YE" alone would not show. */
    assert_non_null(strstr(zh, "回复 Y 确认"));
    assert_non_null(strstr(en, "then Y)"));
    assert_fits_two_ucs2_segments(zh);
    assert_fits_two_ucs2_segments(en);
    assert_fits_one_gsm7_segment(en);
}

static void test_sms__every_command_the_help_names_is_understood(void **state)
{
    static const char *const words[] = {
        "YE",   "KH",   "CZ",   "BZ",   "ZD",       "TD",           "Y",    "EN", "ZW",
        "余额", "卡号", "充值", "帮助", "自动续费", "关闭自动续费", "中文",
    };

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        assert_int_not_equal(sms_command_parse(words[i]), SMS_CMD_UNKNOWN);
    }
}

static void test_sms__no_card_reply_points_to_help(void **state)
{
    char zh[SMS_REPLY_MAX];
    char en[SMS_REPLY_MAX];

    sms_reply_no_card(zh, SMS_LANG_ZH);
    sms_reply_no_card(en, SMS_LANG_EN);
    assert_non_null(strstr(zh, "BZ"));
    assert_non_null(strstr(en, "BZ"));
    assert_non_null(strstr(zh, "未绑定"));
    assert_fits_two_ucs2_segments(zh);
    assert_fits_two_ucs2_segments(en);
    assert_fits_one_gsm7_segment(en);
}

static void test_sms__card_number_reply_names_the_whole_card_number(void **state)
{
    char zh[SMS_REPLY_MAX];
    char en[SMS_REPLY_MAX];

    sms_reply_card_no(zh, "8986010000000000018", SMS_LANG_ZH);
    sms_reply_card_no(en, "8986010000000000018", SMS_LANG_EN);
    assert_non_null(strstr(zh, "8986010000000000018"));
    assert_non_null(strstr(en, "8986010000000000018"));
    assert_fits_two_ucs2_segments(zh);
    assert_fits_one_gsm7_segment(en);
}

static void test_sms__recharge_reply_carries_the_link_whole_even_at_its_longest(void **state)
{
    char url[201];
    char zh[SMS_REPLY_MAX];
    char en[SMS_REPLY_MAX];

    memset(url, 'a', 200);
    url[200] = '\0';
    memcpy(url, "https://", 8);
    sms_reply_recharge_link(zh, url, SMS_LANG_ZH);
    sms_reply_recharge_link(en, url, SMS_LANG_EN);
    assert_non_null(strstr(zh, url));
    assert_non_null(strstr(en, url));
    sms_reply_recharge_link(zh, "https://leb.example/?card=8986010000000000018", SMS_LANG_ZH);
    assert_non_null(strstr(zh, "https://leb.example/?card=8986010000000000018"));
    assert_fits_two_ucs2_segments(zh);
}

static struct sms_autorenew_view autorenew_view_demo(void)
{
    struct sms_autorenew_view view = {
        .enabled = true,
        .rule = "threshold",
        .amount = 5000,
        .threshold = 500,
        .currency = "CNY",
    };
    return view;
}

static void test_sms__auto_renew_reply_when_off_points_to_the_self_service_portal(void **state)
{
    /* Nothing but "enabled" is read when it is off: a card without a setting has no rule. */
    struct sms_autorenew_view view = {.enabled = false, .rule = NULL, .currency = NULL};
    char zh[SMS_REPLY_MAX];
    char en[SMS_REPLY_MAX];

    sms_reply_auto_renew(zh, &view, SMS_LANG_ZH);
    sms_reply_auto_renew(en, &view, SMS_LANG_EN);
    assert_string_equal(zh, "自动续费未开通，可在网上自助服务中开通。");
    assert_string_equal(en, "Auto-renewal is off. You can turn it on in the online self-service "
                            "portal.");
    assert_fits_two_ucs2_segments(zh);
    assert_fits_one_gsm7_segment(en);
}

static void test_sms__auto_renew_reply_for_keep_fee_says_it_pays_the_fee(void **state)
{
    /* keep_fee names no amount, so it reads no currency. */
    struct sms_autorenew_view view = {.enabled = true, .rule = "keep_fee", .currency = NULL};
    char zh[SMS_REPLY_MAX];
    char en[SMS_REPLY_MAX];

    sms_reply_auto_renew(zh, &view, SMS_LANG_ZH);
    sms_reply_auto_renew(en, &view, SMS_LANG_EN);
    assert_string_equal(zh, "自动续费已开通：每次扣费日前自动补足月费。回复 TD 关闭。");
    assert_string_equal(en, "Auto-renewal is on: before each billing day it tops up enough to "
                            "pay the monthly fee. Reply TD to turn it off.");
    assert_fits_two_ucs2_segments(zh);
    assert_fits_one_gsm7_segment(en);
}

static void test_sms__auto_renew_reply_for_threshold_names_both_amounts(void **state)
{
    struct sms_autorenew_view view = autorenew_view_demo();
    char zh[SMS_REPLY_MAX];
    char en[SMS_REPLY_MAX];

    sms_reply_auto_renew(zh, &view, SMS_LANG_ZH);
    sms_reply_auto_renew(en, &view, SMS_LANG_EN);
    assert_string_equal(zh, "自动续费已开通：余额低于 5.00 元时自动充值 50.00 元。回复 TD 关闭。");
    assert_string_equal(en, "Auto-renewal is on: when the balance falls below 5.00 CNY it tops "
                            "up 50.00 CNY. Reply TD to turn it off.");
    assert_fits_two_ucs2_segments(zh);
    assert_fits_one_gsm7_segment(en);
}

static void test_sms__auto_renew_reply_in_chinese_names_a_currency_other_than_yuan(void **state)
{
    struct sms_autorenew_view view = autorenew_view_demo();
    char out[SMS_REPLY_MAX];

    view.currency = "HKD";
    sms_reply_auto_renew(out, &view, SMS_LANG_ZH);
    assert_string_equal(out,
                        "自动续费已开通：余额低于 5.00 HKD 时自动充值 50.00 HKD。回复 TD 关闭。");
    assert_null(strstr(out, "元"));
}

static void test_sms__every_auto_renew_reply_fits_two_segments_even_at_the_extremes(void **state)
{
    const int64_t amounts[] = {0, 1, 999999999, INT64_MAX};
    const char *const currencies[] = {"CNY", "USD"};
    const char *const rules[] = {"keep_fee", "threshold"};

    for (size_t r = 0; r < 2; r++) {
        for (size_t a = 0; a < sizeof(amounts) / sizeof(amounts[0]); a++) {
            for (size_t t = 0; t < sizeof(amounts) / sizeof(amounts[0]); t++) {
                for (size_t c = 0; c < 2; c++) {
                    struct sms_autorenew_view view = {
                        .enabled = true,
                        .rule = rules[r],
                        .amount = amounts[a],
                        .threshold = amounts[t],
                        .currency = currencies[c],
                    };
                    char out[SMS_REPLY_MAX];
                    bool ucs2 = false;

                    sms_reply_auto_renew(out, &view, SMS_LANG_ZH);
                    assert_in_range(sms_segments(out, &ucs2), 1, 2);
                    assert_true(ucs2);
                    assert_fits_two_ucs2_segments(out);
                    assert_int_equal(assert_every_command_named_is_understood(out), 1);
                    assert_non_null(strstr(out, "TD"));
                    sms_reply_auto_renew(out, &view, SMS_LANG_EN);
                    assert_in_range(sms_segments(out, &ucs2), 1, 2);
                    assert_false(ucs2);
                    assert_fits_one_gsm7_segment(out);
                    assert_int_equal(assert_every_command_named_is_understood(out), 1);
                    assert_non_null(strstr(out, "TD"));
                }
            }
        }
    }
}

static void auto_renew_reply_with_rule(const char *rule)
{
    struct sms_autorenew_view view = autorenew_view_demo();
    char out[SMS_REPLY_MAX];

    view.rule = rule;
    sms_reply_auto_renew(out, &view, SMS_LANG_ZH);
}

static void auto_renew_reply_with_unknown_rule(void)
{
    auto_renew_reply_with_rule("keep-fee");
}

static void auto_renew_reply_with_no_rule(void)
{
    auto_renew_reply_with_rule(NULL);
}

static void auto_renew_reply_with_rule_in_capitals(void)
{
    auto_renew_reply_with_rule("THRESHOLD");
}

static void auto_renew_reply_with_currency(const char *currency)
{
    struct sms_autorenew_view view = autorenew_view_demo();
    char out[SMS_REPLY_MAX];

    view.currency = currency;
    sms_reply_auto_renew(out, &view, SMS_LANG_EN);
}

static void auto_renew_reply_with_lower_case_currency(void)
{
    auto_renew_reply_with_currency("cny");
}

static void auto_renew_reply_with_no_currency(void)
{
    auto_renew_reply_with_currency(NULL);
}

static void auto_renew_reply_with_negative_threshold(void)
{
    struct sms_autorenew_view view = autorenew_view_demo();
    char out[SMS_REPLY_MAX];

    view.threshold = -1;
    sms_reply_auto_renew(out, &view, SMS_LANG_ZH);
}

static void test_sms__auto_renew_reply_asserts_on_a_view_the_store_cannot_hold(void **state)
{
    assert_aborts(auto_renew_reply_with_unknown_rule);
    assert_aborts(auto_renew_reply_with_no_rule);
    assert_aborts(auto_renew_reply_with_rule_in_capitals);
    assert_aborts(auto_renew_reply_with_lower_case_currency);
    assert_aborts(auto_renew_reply_with_no_currency);
    assert_aborts(auto_renew_reply_with_negative_threshold);
}

static void test_sms__notices_say_what_was_agreed_in_both_languages(void **state)
{
    static const struct {
        enum sms_notice notice;
        const char *zh;
        const char *en;
    } cases[] = {
        {SMS_NOTICE_AUTO_RENEW_OFF_CONFIRM,
         "关闭自动续费请在10分钟内回复 Y 确认，不回复则保持不变。",
         "Turn auto-renewal off? Reply Y within 10 minutes to confirm; otherwise nothing "
         "changes."},
        {SMS_NOTICE_AUTO_RENEW_OFF_DONE,
         "自动续费已关闭，本卡将不再自动充值。请记得在扣费日前充值，发送 CZ 获取充值链接。",
         "Auto-renewal is off. This card will no longer be topped up automatically. Remember "
         "to top up before the fee is due; send CZ for a recharge link."},
        {SMS_NOTICE_AUTO_RENEW_NOT_ON, "自动续费未开通，无需关闭。",
         "Auto-renewal is not on; there is nothing to turn off."},
        {SMS_NOTICE_NOTHING_TO_CONFIRM, "没有待确认的操作（或已超时）。发送 BZ 查看帮助。",
         "Nothing is waiting for confirmation (or it has expired). Send BZ for help."},
        {SMS_NOTICE_LANGUAGE_SET, "短信将以中文发送。",
         "SMS will now be sent in English. Send ZW for Chinese."},
    };
    char out[SMS_REPLY_MAX];

    assert_int_equal(sizeof(cases) / sizeof(cases[0]), SMS_NOTICE_COUNT);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sms_reply_notice(out, cases[i].notice, SMS_LANG_ZH);
        assert_string_equal(out, cases[i].zh);
        sms_reply_notice(out, cases[i].notice, SMS_LANG_EN);
        assert_string_equal(out, cases[i].en);
    }
}

static void test_sms__every_notice_fits_two_segments_in_both_languages(void **state)
{
    for (int notice = 0; notice < SMS_NOTICE_COUNT; notice++) {
        char out[SMS_REPLY_MAX];
        bool ucs2 = false;

        sms_reply_notice(out, (enum sms_notice)notice, SMS_LANG_ZH);
        assert_in_range(sms_segments(out, &ucs2), 1, 2);
        assert_true(ucs2);
        assert_fits_two_ucs2_segments(out);
        sms_reply_notice(out, (enum sms_notice)notice, SMS_LANG_EN);
        assert_in_range(sms_segments(out, &ucs2), 1, 2);
        assert_false(ucs2);
        assert_fits_one_gsm7_segment(out);
    }
}

static void test_sms__confirmation_notice_names_the_minutes_the_confirmation_waits(void **state)
{
    char minutes[32];
    char out[SMS_REPLY_MAX];

    snprintf(minutes, sizeof(minutes), "%d分钟", SMS_CONFIRM_TTL_S / 60);
    sms_reply_notice(out, SMS_NOTICE_AUTO_RENEW_OFF_CONFIRM, SMS_LANG_ZH);
    assert_non_null(strstr(out, minutes));
    snprintf(minutes, sizeof(minutes), "%d minutes", SMS_CONFIRM_TTL_S / 60);
    sms_reply_notice(out, SMS_NOTICE_AUTO_RENEW_OFF_CONFIRM, SMS_LANG_EN);
    assert_non_null(strstr(out, minutes));
}

static void test_sms__every_command_a_notice_names_is_understood(void **state)
{
    size_t found = 0;

    for (int notice = 0; notice < SMS_NOTICE_COUNT; notice++) {
        for (int language = SMS_LANG_ZH; language <= SMS_LANG_EN; language++) {
            char out[SMS_REPLY_MAX];

            sms_reply_notice(out, (enum sms_notice)notice, (enum sms_language)language);
            found += assert_every_command_named_is_understood(out);
        }
    }
    /* Y twice, CZ twice, BZ twice, ZW once: the scan does see them. */
    assert_int_equal(found, 7);
}

static void notice_out_of_range(void)
{
    char out[SMS_REPLY_MAX];

    sms_reply_notice(out, SMS_NOTICE_COUNT, SMS_LANG_ZH);
}

static void test_sms__notice_asserts_on_a_notice_outside_the_enum(void **state)
{
    assert_aborts(notice_out_of_range);
}

/* ---------------------------------------------------------------------------------------
 * Segments
 * ------------------------------------------------------------------------------------- */

/* "count" copies of the UTF-8 character "piece" after "prefix", in "out" (a test buffer of
 * "size" bytes). Returns "out" for use in an argument. */
static char *repeat(char *out, size_t size, const char *prefix, const char *piece, size_t count)
{
    size_t used = strlen(prefix);
    size_t piece_length = strlen(piece);

    assert_true(used + count * piece_length < size);
    memcpy(out, prefix, used);
    for (size_t i = 0; i < count; i++) {
        memcpy(out + used, piece, piece_length);
        used += piece_length;
    }
    out[used] = '\0';
    return out;
}

/* Appends "count" copies of "piece" to the text already in "out". */
static char *repeat_more(char *out, size_t size, const char *piece, size_t count)
{
    char prefix[2048];

    assert_true(strlen(out) < sizeof(prefix));
    strcpy(prefix, out);
    return repeat(out, size, prefix, piece, count);
}

static void assert_segments(const char *text, size_t expected, bool expected_ucs2)
{
    bool ucs2 = !expected_ucs2;

    assert_int_equal(sms_segments(text, &ucs2), expected);
    assert_int_equal(ucs2, expected_ucs2);
    assert_int_equal(sms_segments(text, NULL), expected);
}

/* Every character of the GSM 7-bit basic table but the escape (127), then the extension
 * table's ten. */
static const char gsm7_basic_table[] =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
static const char gsm7_extension_table[] = "\f^{}\\[~]|€";

static void test_sms__segments_of_an_empty_text_are_none(void **state)
{
    assert_segments("", 0, false);
}

static void test_sms__segments_fit_160_gsm7_characters_in_one(void **state)
{
    char text[1024];

    assert_segments("a", 1, false);
    assert_segments(repeat(text, sizeof(text), "", "a", 160), 1, false);
    assert_segments(repeat(text, sizeof(text), "", "a", 161), 2, false);
    assert_segments(repeat(text, sizeof(text), "", "a", 153 * 2), 2, false);
    assert_segments(repeat(text, sizeof(text), "", "a", 153 * 2 + 1), 3, false);
    assert_segments(repeat(text, sizeof(text), "", "a", 153 * 3), 3, false);
    assert_segments(repeat(text, sizeof(text), "", "a", 153 * 3 + 1), 4, false);
}

static void test_sms__segments_know_the_whole_gsm7_basic_table(void **state)
{
    char text[1024];

    /* 127 characters, one septet each: 33 more make 160, 34 more 161. */
    assert_segments(gsm7_basic_table, 1, false);
    assert_segments(repeat(text, sizeof(text), gsm7_basic_table, "a", 33), 1, false);
    assert_segments(repeat(text, sizeof(text), gsm7_basic_table, "a", 34), 2, false);
}

static void test_sms__segments_count_the_extension_table_twice(void **state)
{
    char text[1024];

    /* 10 characters, 20 septets: 140 more make 160, 141 more 161. */
    assert_segments(gsm7_extension_table, 1, false);
    assert_segments(repeat(text, sizeof(text), gsm7_extension_table, "a", 140), 1, false);
    assert_segments(repeat(text, sizeof(text), gsm7_extension_table, "a", 141), 2, false);
    assert_segments(repeat(text, sizeof(text), "", "€", 80), 1, false);
    assert_segments(repeat(text, sizeof(text), "", "€", 81), 2, false);
    /* A part holds 76 escape pairs (152 septets), never 76 and a half: 152 of them are 304
     * septets in two parts, 153 are 306 septets that still need three. */
    assert_segments(repeat(text, sizeof(text), "", "[", 152), 2, false);
    assert_segments(repeat(text, sizeof(text), "", "[", 153), 3, false);
}

static void test_sms__segments_never_split_an_escape_pair(void **state)
{
    char text[1024];

    /* 306 septets either way, but with the '{' on septets 153 and 154 it moves whole to the
     * second part, which then holds 154. */
    repeat(text, sizeof(text), "", "a", 151);
    repeat_more(text, sizeof(text), "{", 1);
    repeat_more(text, sizeof(text), "a", 153);
    assert_segments(text, 2, false);
    repeat(text, sizeof(text), "", "a", 152);
    repeat_more(text, sizeof(text), "{", 1);
    repeat_more(text, sizeof(text), "a", 152);
    assert_segments(text, 3, false);
    /* The same with €, a multi-byte character from the extension table. */
    repeat(text, sizeof(text), "", "a", 152);
    repeat_more(text, sizeof(text), "€", 1);
    repeat_more(text, sizeof(text), "a", 152);
    assert_segments(text, 3, false);
    /* A single message has no boundary: 158 + 2 = 160 is one. */
    repeat(text, sizeof(text), "", "a", 158);
    assert_segments(repeat_more(text, sizeof(text), "~", 1), 1, false);
    repeat(text, sizeof(text), "", "a", 159);
    assert_segments(repeat_more(text, sizeof(text), "~", 1), 2, false);
}

static void test_sms__segments_need_ucs2_for_anything_outside_gsm7(void **state)
{
    static const char *const outside[] = {
        "`", "\t", "\v", "ç", "Ç中", "中", "，", "¢", "Ё", "\xc2\xa0", "ÿ", "€`",
    };
    char text[1024];

    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        assert_segments(outside[i], 1, true);
    }
    /* One character is enough to make the whole text UCS-2. */
    assert_segments(repeat(text, sizeof(text), "中", "a", 69), 1, true);
    assert_segments(repeat(text, sizeof(text), "中", "a", 70), 2, true);
}

static void test_sms__segments_fit_70_ucs2_characters_in_one(void **state)
{
    char text[1024];

    assert_segments(repeat(text, sizeof(text), "", "中", 70), 1, true);
    assert_segments(repeat(text, sizeof(text), "", "中", 71), 2, true);
    assert_segments(repeat(text, sizeof(text), "", "中", 134), 2, true);
    assert_segments(repeat(text, sizeof(text), "", "中", 135), 3, true);
    assert_segments(repeat(text, sizeof(text), "", "中", 67 * 3), 3, true);
    assert_segments(repeat(text, sizeof(text), "", "中", 67 * 3 + 1), 4, true);
}

static void test_sms__segments_count_an_emoji_as_two_units_and_never_split_it(void **state)
{
    char text[1024];

    assert_segments("😀", 1, true);
    assert_segments(repeat(text, sizeof(text), "", "😀", 35), 1, true);
    assert_segments(repeat(text, sizeof(text), "", "😀", 36), 2, true);
    /* A part holds 33 pairs (66 units): 66 emoji fit two parts, 67 (134 units) need three. */
    assert_segments(repeat(text, sizeof(text), "", "😀", 66), 2, true);
    assert_segments(repeat(text, sizeof(text), "", "😀", 67), 3, true);
    /* 134 units either way, but a pair on units 67 and 68 moves whole to the second part. */
    repeat(text, sizeof(text), "", "中", 65);
    repeat_more(text, sizeof(text), "😀", 1);
    repeat_more(text, sizeof(text), "中", 67);
    assert_segments(text, 2, true);
    repeat(text, sizeof(text), "", "中", 66);
    repeat_more(text, sizeof(text), "😀", 1);
    repeat_more(text, sizeof(text), "中", 66);
    assert_segments(text, 3, true);
    /* 68 + 2 = 70 is still one message. */
    repeat(text, sizeof(text), "", "a", 68);
    assert_segments(repeat_more(text, sizeof(text), "😀", 1), 1, true);
}

static void test_sms__segments_count_each_invalid_utf8_byte_as_one_unit(void **state)
{
    char text[1024];

    assert_segments("\xff", 1, true);
    assert_segments("\x80", 1, true);
    assert_segments(repeat(text, sizeof(text), "", "\xff", 70), 1, true);
    assert_segments(repeat(text, sizeof(text), "", "\xff", 71), 2, true);
    /* A bad byte makes GSM 7-bit text UCS-2: 69 + 1 fit one message, 70 + 1 do not. */
    assert_segments(repeat(text, sizeof(text), "\xfe", "a", 69), 1, true);
    assert_segments(repeat(text, sizeof(text), "\xfe", "a", 70), 2, true);
    /* Cut short, overlong, a surrogate, past U+10FFFF: every byte counts. 35 x 2 = 70. */
    assert_segments(repeat(text, sizeof(text), "", "\xe4\xb8", 35), 1, true);
    assert_segments(repeat(text, sizeof(text), "", "\xe4\xb8", 36), 2, true);
    assert_segments(repeat(text, sizeof(text), "", "\xc0\xaf", 35), 1, true);
    assert_segments(repeat(text, sizeof(text), "", "\xc0\xaf", 36), 2, true);
    assert_segments(repeat(text, sizeof(text), "a", "\xed\xa0\x80", 23), 1, true);
    assert_segments(repeat(text, sizeof(text), "ab", "\xed\xa0\x80", 23), 2, true);
    assert_segments(repeat(text, sizeof(text), "ab", "\xf4\x90\x80\x80", 17), 1, true);
    assert_segments(repeat(text, sizeof(text), "abc", "\xf4\x90\x80\x80", 17), 2, true);
    /* A sequence cut short by the end of the text is two bad bytes, not a read past it. */
    assert_segments("\xf0\x9f", 1, true);
    assert_segments("a\xe4", 1, true);
}

/* ---------------------------------------------------------------------------------------
 * Notification texts
 * ------------------------------------------------------------------------------------- */

static const char *const template_names[] = {
    "recharge_succeeded", "low_balance",       "recycle_warning", "suspended",
    "recycled",           "auto_renew_failed", "reactivated",     "login_code",
};

static struct sms_fields fields_demo(void)
{
    struct sms_fields fields = {
        .card_no_masked = "8986***********0018",
        .amount = 10000,
        .balance = 10200,
        .fee = 1000,
        .arrears = 800,
        .currency = "CNY",
        .valid_until = "2027-01-31T00:00:00Z",
        .due_at = "2026-12-01T00:00:00+08:00",
        .recycle_at = "2026-12-31T00:00:00Z",
        .code = "042917",
    };
    return fields;
}

/* The longest run of ASCII digits in "text". */
static size_t longest_digit_run(const char *text)
{
    size_t longest = 0;
    size_t run = 0;

    for (const char *c = text; *c != '\0'; c++) {
        run = *c >= '0' && *c <= '9' ? run + 1 : 0;
        longest = run > longest ? run : longest;
    }
    return longest;
}

static void render_ok(char out[SMS_REPLY_MAX], const char *name, const struct sms_fields *fields,
                      enum sms_language language)
{
    assert_int_equal(sms_render(out, name, fields, language), 0);
}

static void test_sms__render_recharge_succeeded_says_amount_balance_validity_and_card(void **state)
{
    struct sms_fields fields = fields_demo();
    char out[SMS_REPLY_MAX];

    render_ok(out, "recharge_succeeded", &fields, SMS_LANG_ZH);
    assert_string_equal(out, "充值成功：100.00 元已到账，余额 102.00 元，有效期至 2027-01-31，"
                             "卡号 8986***********0018。");
    render_ok(out, "recharge_succeeded", &fields, SMS_LANG_EN);
    assert_string_equal(out, "Top-up received: 100.00 CNY added, balance 102.00 CNY, valid "
                             "until 2027-01-31. Card 8986***********0018.");
    fields.valid_until = NULL;
    render_ok(out, "recharge_succeeded", &fields, SMS_LANG_ZH);
    assert_string_equal(out, "充值成功：100.00 元已到账，余额 102.00 元，卡号 "
                             "8986***********0018。");
    render_ok(out, "recharge_succeeded", &fields, SMS_LANG_EN);
    assert_string_equal(out, "Top-up received: 100.00 CNY added, balance 102.00 CNY. Card "
                             "8986***********0018.");
    /* A validity that is not a date is left out rather than shown wrong. */
    fields.valid_until = "someday";
    render_ok(out, "recharge_succeeded", &fields, SMS_LANG_ZH);
    assert_null(strstr(out, "有效期"));
}

static void test_sms__render_in_chinese_names_a_currency_other_than_yuan(void **state)
{
    struct sms_fields fields = fields_demo();
    char out[SMS_REPLY_MAX];

    fields.currency = "HKD";
    fields.valid_until = NULL;
    render_ok(out, "recharge_succeeded", &fields, SMS_LANG_ZH);
    assert_string_equal(out, "充值成功：100.00 HKD 已到账，余额 102.00 HKD，卡号 "
                             "8986***********0018。");
    render_ok(out, "low_balance", &fields, SMS_LANG_ZH);
    assert_non_null(strstr(out, "余额 102.00 HKD，"));
    assert_null(strstr(out, "元"));
}

static void test_sms__render_low_balance_says_the_fee_its_day_and_how_to_top_up(void **state)
{
    struct sms_fields fields = fields_demo();
    char out[SMS_REPLY_MAX];

    fields.balance = 500;
    render_ok(out, "low_balance", &fields, SMS_LANG_ZH);
    assert_string_equal(out, "温馨提示：卡号 8986***********0018 余额 5.00 元，不足以支付 "
                             "2026-12-01 的月费 10.00 元。请及时充值以免停机，发送 CZ "
                             "获取充值链接。");
    render_ok(out, "low_balance", &fields, SMS_LANG_EN);
    assert_string_equal(out, "Reminder: card 8986***********0018 has 5.00 CNY, not enough for "
                             "the 10.00 CNY fee due on 2026-12-01. Please top up to keep your "
                             "number. Send CZ for a recharge link.");
}

static void test_sms__render_suspended_says_arrears_and_the_day_to_beat(void **state)
{
    struct sms_fields fields = fields_demo();
    char out[SMS_REPLY_MAX];

    render_ok(out, "suspended", &fields, SMS_LANG_ZH);
    assert_string_equal(out, "停机通知：卡号 8986***********0018 已停机，欠费 8.00 元。请在 "
                             "2026-12-31 前充值，否则号码将被回收。发送 CZ 获取充值链接。");
    render_ok(out, "suspended", &fields, SMS_LANG_EN);
    assert_string_equal(out, "Card 8986***********0018 is suspended, arrears 8.00 CNY. Top up "
                             "before 2026-12-31 to keep your number, or it will be recycled. "
                             "Send CZ for a recharge link.");
    /* A card on a validity plan is suspended owing nothing. */
    fields.arrears = 0;
    render_ok(out, "suspended", &fields, SMS_LANG_ZH);
    assert_null(strstr(out, "欠费"));
    assert_non_null(strstr(out, "2026-12-31"));
    render_ok(out, "suspended", &fields, SMS_LANG_EN);
    assert_null(strstr(out, "arrears"));
}

static void test_sms__render_recycle_warning_recycled_and_auto_renew_failed(void **state)
{
    struct sms_fields fields = fields_demo();
    char out[SMS_REPLY_MAX];

    render_ok(out, "recycle_warning", &fields, SMS_LANG_ZH);
    assert_string_equal(out, "最后提醒：卡号 8986***********0018 仍在停机，号码将于 2026-12-31 "
                             "被回收，回收后无法恢复。请尽快充值，发送 CZ 获取充值链接。");
    render_ok(out, "recycle_warning", &fields, SMS_LANG_EN);
    assert_non_null(strstr(out, "Last warning"));
    assert_non_null(strstr(out, "recycled on 2026-12-31"));
    render_ok(out, "recycled", &fields, SMS_LANG_ZH);
    assert_non_null(strstr(out, "号码已被回收"));
    render_ok(out, "recycled", &fields, SMS_LANG_EN);
    assert_non_null(strstr(out, "has been recycled"));
    render_ok(out, "auto_renew_failed", &fields, SMS_LANG_ZH);
    assert_non_null(strstr(out, "自动续费"));
    assert_non_null(strstr(out, "CZ"));
    render_ok(out, "auto_renew_failed", &fields, SMS_LANG_EN);
    assert_non_null(strstr(out, "Auto-renewal could not charge"));
    assert_non_null(strstr(out, "CZ"));
}

static void test_sms__render_reactivated_says_back_in_service_and_the_balance(void **state)
{
    struct sms_fields fields = fields_demo();
    char out[SMS_REPLY_MAX];

    render_ok(out, "reactivated", &fields, SMS_LANG_ZH);
    assert_string_equal(out, "恢复通知：卡号 8986***********0018 已恢复正常使用，余额 102.00 元。");
    render_ok(out, "reactivated", &fields, SMS_LANG_EN);
    assert_string_equal(out, "Card 8986***********0018 is back in service. Balance 102.00 CNY.");
    fields.currency = "HKD";
    render_ok(out, "reactivated", &fields, SMS_LANG_ZH);
    assert_string_equal(out,
                        "恢复通知：卡号 8986***********0018 已恢复正常使用，余额 102.00 HKD。");
    /* A top-up that only just paid the arrears leaves nothing, and the text says so. */
    fields.balance = 0;
    render_ok(out, "reactivated", &fields, SMS_LANG_EN);
    assert_non_null(strstr(out, "Balance 0.00 HKD."));
}

static void test_sms__render_login_code_says_the_code_its_life_and_never_to_share_it(void **state)
{
    struct sms_fields fields = fields_demo();
    char out[SMS_REPLY_MAX];
    char minutes[32];
    bool ucs2 = true;

    render_ok(out, "login_code", &fields, SMS_LANG_ZH);
    assert_string_equal(out, "LEB 网上自助服务登录验证码 042917，5分钟内有效。切勿告诉他人，"
                             "工作人员不会索要。卡号 8986***********0018。");
    /* One segment even for the longest masked number: a code should arrive whole. */
    assert_int_equal(sms_segments(out, NULL), 1);
    snprintf(minutes, sizeof(minutes), "%d分钟", SMS_LOGIN_CODE_TTL_S / 60);
    assert_non_null(strstr(out, minutes));
    render_ok(out, "login_code", &fields, SMS_LANG_EN);
    assert_string_equal(out, "LEB self-service login code: 042917, valid for 5 minutes. Never "
                             "tell anyone; our staff never ask for it. Card 8986***********0018.");
    assert_int_equal(sms_segments(out, &ucs2), 1);
    assert_false(ucs2);
    snprintf(minutes, sizeof(minutes), "%d minutes", SMS_LOGIN_CODE_TTL_S / 60);
    assert_non_null(strstr(out, minutes));
    /* Leading zeros are part of the code, not a number's padding. */
    fields.code = "000000";
    render_ok(out, "login_code", &fields, SMS_LANG_EN);
    assert_non_null(strstr(out, "code: 000000,"));
}

static void test_sms__render_needs_only_the_card_where_no_other_field_is_used(void **state)
{
    struct sms_fields fields = {.card_no_masked = "8986***********0018",
                                .amount = -1,
                                .balance = -1,
                                .fee = -1,
                                .arrears = -1,
                                .recycle_at = "2026-12-31T00:00:00Z"};
    char out[SMS_REPLY_MAX];

    render_ok(out, "recycled", &fields, SMS_LANG_ZH);
    render_ok(out, "auto_renew_failed", &fields, SMS_LANG_EN);
    render_ok(out, "recycle_warning", &fields, SMS_LANG_ZH);
    fields.code = "123456";
    render_ok(out, "login_code", &fields, SMS_LANG_ZH);
    render_ok(out, "login_code", &fields, SMS_LANG_EN);
}

static void test_sms__render_reactivated_needs_only_the_balance_and_currency(void **state)
{
    struct sms_fields fields = {.card_no_masked = "8986***********0018",
                                .amount = -1,
                                .balance = 0,
                                .fee = -1,
                                .arrears = -1,
                                .currency = "CNY"};
    char out[SMS_REPLY_MAX];

    render_ok(out, "reactivated", &fields, SMS_LANG_ZH);
    render_ok(out, "reactivated", &fields, SMS_LANG_EN);
}

static void assert_render_refused(const char *name, const struct sms_fields *fields)
{
    char out[SMS_REPLY_MAX];

    for (int language = SMS_LANG_ZH; language <= SMS_LANG_EN; language++) {
        memcpy(out, "stale", 6);
        assert_int_equal(sms_render(out, name, fields, (enum sms_language)language),
                         LEB_E_INVALID_REQUEST);
        assert_string_equal(out, "");
    }
}

static void test_sms__render_refuses_an_unknown_template_and_clears_out(void **state)
{
    struct sms_fields fields = fields_demo();

    assert_render_refused(NULL, &fields);
    assert_render_refused("", &fields);
    assert_render_refused("recharge", &fields);
    assert_render_refused("Recycled", &fields);
    assert_render_refused("recycled ", &fields);
    assert_render_refused("recharge_succeeded_recharge_succeeded_recharge_succeeded", &fields);
}

static void test_sms__render_refuses_a_missing_or_negative_field_and_clears_out(void **state)
{
    for (size_t t = 0; t < sizeof(template_names) / sizeof(template_names[0]); t++) {
        struct sms_fields fields = fields_demo();

        fields.card_no_masked = NULL;
        assert_render_refused(template_names[t], &fields);
    }
    {
        struct sms_fields fields = fields_demo();
        fields.amount = -1;
        assert_render_refused("recharge_succeeded", &fields);
    }
    {
        struct sms_fields fields = fields_demo();
        fields.balance = -1;
        assert_render_refused("recharge_succeeded", &fields);
        assert_render_refused("low_balance", &fields);
        assert_render_refused("reactivated", &fields);
    }
    {
        struct sms_fields fields = fields_demo();
        fields.fee = INT64_MIN;
        assert_render_refused("low_balance", &fields);
    }
    {
        struct sms_fields fields = fields_demo();
        fields.arrears = -800;
        assert_render_refused("suspended", &fields);
    }
    {
        struct sms_fields fields = fields_demo();
        fields.currency = NULL;
        assert_render_refused("recharge_succeeded", &fields);
        assert_render_refused("low_balance", &fields);
        assert_render_refused("suspended", &fields);
        assert_render_refused("reactivated", &fields);
        fields.currency = "cny";
        assert_render_refused("recharge_succeeded", &fields);
        assert_render_refused("reactivated", &fields);
        fields.currency = "YUAN";
        assert_render_refused("suspended", &fields);
    }
    {
        struct sms_fields fields = fields_demo();
        fields.code = NULL;
        assert_render_refused("login_code", &fields);
    }
    {
        struct sms_fields fields = fields_demo();
        fields.due_at = NULL;
        assert_render_refused("low_balance", &fields);
        fields.due_at = "12/01/2026";
        assert_render_refused("low_balance", &fields);
    }
    {
        struct sms_fields fields = fields_demo();
        fields.recycle_at = NULL;
        assert_render_refused("suspended", &fields);
        assert_render_refused("recycle_warning", &fields);
        fields.recycle_at = "2026-12";
        assert_render_refused("recycle_warning", &fields);
    }
}

static void test_sms__render_refuses_a_login_code_that_is_not_six_digits(void **state)
{
    static const char *const codes[] = {
        NULL,      "",        "12345",  "1234567", "12345a",  "１２３４５６",
        " 123456", "123456 ", "-12345", "12 456",  "12345\n", "\x31\x32\x33\x34\x35\xb9",
    };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        struct sms_fields fields = fields_demo();

        fields.code = codes[i];
        assert_render_refused("login_code", &fields);
    }
}

static void test_sms__render_refuses_a_card_number_that_is_not_masked(void **state)
{
    static const char *const unmasked[] = {
        "8986010000000000018", "", "8986 ******* 0018", "8986***********00180", "+8613800000001",
    };

    for (size_t i = 0; i < sizeof(unmasked) / sizeof(unmasked[0]); i++) {
        for (size_t t = 0; t < sizeof(template_names) / sizeof(template_names[0]); t++) {
            struct sms_fields fields = fields_demo();

            fields.card_no_masked = unmasked[i];
            assert_render_refused(template_names[t], &fields);
        }
    }
}

static void test_sms__every_text_fits_two_segments_even_at_the_extremes(void **state)
{
    /* 9999999.99 is the largest amount a card will see; INT64_MAX is the largest it can. */
    const int64_t amounts[] = {0, 1, 999999999, INT64_MAX};
    const char *const currencies[] = {"CNY", "USD"};
    const char *const valid_untils[] = {NULL, "9999-12-31T23:59:59Z"};
    const char *const cards[] = {"8986***********0018", "****"};

    for (size_t t = 0; t < sizeof(template_names) / sizeof(template_names[0]); t++) {
        for (size_t a = 0; a < sizeof(amounts) / sizeof(amounts[0]); a++) {
            for (size_t c = 0; c < 2; c++) {
                for (size_t v = 0; v < 2; v++) {
                    for (size_t k = 0; k < 2; k++) {
                        struct sms_fields fields = {
                            .card_no_masked = cards[k],
                            .amount = amounts[a],
                            .balance = amounts[a],
                            .fee = amounts[a],
                            .arrears = amounts[a],
                            .currency = currencies[c],
                            .valid_until = valid_untils[v],
                            .due_at = "9999-12-31T23:59:59Z",
                            .recycle_at = "9999-12-31T23:59:59Z",
                            .code = "999999",
                        };
                        char out[SMS_REPLY_MAX];
                        bool ucs2 = false;

                        render_ok(out, template_names[t], &fields, SMS_LANG_ZH);
                        assert_in_range(sms_segments(out, &ucs2), 1, 2);
                        assert_true(ucs2);
                        assert_non_null(strstr(out, cards[k]));
                        assert_true(longest_digit_run(out) < 19);
                        assert_fits_two_ucs2_segments(out);

                        render_ok(out, template_names[t], &fields, SMS_LANG_EN);
                        assert_in_range(sms_segments(out, &ucs2), 1, 2);
                        assert_false(ucs2);
                        assert_true(is_gsm7_basic_ascii(out));
                        assert_non_null(strstr(out, cards[k]));
                        assert_true(longest_digit_run(out) < 19);
                    }
                }
            }
        }
    }
}

static void test_sms__every_text_names_the_card_and_points_to_what_to_do(void **state)
{
    struct sms_fields fields = fields_demo();
    char out[SMS_REPLY_MAX];

    for (size_t t = 0; t < sizeof(template_names) / sizeof(template_names[0]); t++) {
        /* Good news, a recycled number and a login code ask for no top-up. */
        bool asks_for_top_up = strcmp(template_names[t], "recharge_succeeded") != 0 &&
                               strcmp(template_names[t], "recycled") != 0 &&
                               strcmp(template_names[t], "reactivated") != 0 &&
                               strcmp(template_names[t], "login_code") != 0;

        render_ok(out, template_names[t], &fields, SMS_LANG_ZH);
        assert_non_null(strstr(out, "卡号 8986***********0018"));
        assert_true(!asks_for_top_up || strstr(out, "发送 CZ") != NULL);
        render_ok(out, template_names[t], &fields, SMS_LANG_EN);
        assert_non_null(strstr(out, "ard 8986***********0018"));
        assert_true(!asks_for_top_up || strstr(out, "Send CZ") != NULL ||
                    strstr(out, "send CZ") != NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sms__parse_knows_every_command_in_both_spellings),
        cmocka_unit_test(test_sms__command_values_never_change),
        cmocka_unit_test(test_sms__parse_folds_case),
        cmocka_unit_test(test_sms__parse_folds_full_width_letters),
        cmocka_unit_test(test_sms__parse_trims_ascii_and_ideographic_spaces),
        cmocka_unit_test(test_sms__parse_calls_anything_else_unknown),
        cmocka_unit_test(test_sms__parse_calls_an_over_long_text_unknown_unread),
        cmocka_unit_test(test_sms__balance_reply_in_chinese_says_balance_status_and_next_billing),
        cmocka_unit_test(test_sms__balance_reply_in_english),
        cmocka_unit_test(test_sms__balance_reply_names_every_status_in_words),
        cmocka_unit_test(test_sms__balance_reply_shows_a_negative_balance_and_validity),
        cmocka_unit_test(test_sms__balance_reply_in_another_currency_names_it),
        cmocka_unit_test(test_sms__balance_reply_leaves_out_a_date_that_is_not_one),
        cmocka_unit_test(test_sms__every_balance_reply_fits_two_segments_even_at_the_extremes),
        cmocka_unit_test(test_sms__balance_reply_never_shows_more_than_the_masked_card_number),
        cmocka_unit_test(test_sms__help_reply_lists_every_command),
        cmocka_unit_test(test_sms__every_command_the_help_names_is_understood),
        cmocka_unit_test(test_sms__no_card_reply_points_to_help),
        cmocka_unit_test(test_sms__card_number_reply_names_the_whole_card_number),
        cmocka_unit_test(test_sms__recharge_reply_carries_the_link_whole_even_at_its_longest),
        cmocka_unit_test(test_sms__auto_renew_reply_when_off_points_to_the_self_service_portal),
        cmocka_unit_test(test_sms__auto_renew_reply_for_keep_fee_says_it_pays_the_fee),
        cmocka_unit_test(test_sms__auto_renew_reply_for_threshold_names_both_amounts),
        cmocka_unit_test(test_sms__auto_renew_reply_in_chinese_names_a_currency_other_than_yuan),
        cmocka_unit_test(test_sms__every_auto_renew_reply_fits_two_segments_even_at_the_extremes),
        cmocka_unit_test(test_sms__auto_renew_reply_asserts_on_a_view_the_store_cannot_hold),
        cmocka_unit_test(test_sms__notices_say_what_was_agreed_in_both_languages),
        cmocka_unit_test(test_sms__every_notice_fits_two_segments_in_both_languages),
        cmocka_unit_test(test_sms__confirmation_notice_names_the_minutes_the_confirmation_waits),
        cmocka_unit_test(test_sms__every_command_a_notice_names_is_understood),
        cmocka_unit_test(test_sms__notice_asserts_on_a_notice_outside_the_enum),
        cmocka_unit_test(test_sms__segments_of_an_empty_text_are_none),
        cmocka_unit_test(test_sms__segments_fit_160_gsm7_characters_in_one),
        cmocka_unit_test(test_sms__segments_know_the_whole_gsm7_basic_table),
        cmocka_unit_test(test_sms__segments_count_the_extension_table_twice),
        cmocka_unit_test(test_sms__segments_never_split_an_escape_pair),
        cmocka_unit_test(test_sms__segments_need_ucs2_for_anything_outside_gsm7),
        cmocka_unit_test(test_sms__segments_fit_70_ucs2_characters_in_one),
        cmocka_unit_test(test_sms__segments_count_an_emoji_as_two_units_and_never_split_it),
        cmocka_unit_test(test_sms__segments_count_each_invalid_utf8_byte_as_one_unit),
        cmocka_unit_test(test_sms__render_recharge_succeeded_says_amount_balance_validity_and_card),
        cmocka_unit_test(test_sms__render_in_chinese_names_a_currency_other_than_yuan),
        cmocka_unit_test(test_sms__render_low_balance_says_the_fee_its_day_and_how_to_top_up),
        cmocka_unit_test(test_sms__render_suspended_says_arrears_and_the_day_to_beat),
        cmocka_unit_test(test_sms__render_recycle_warning_recycled_and_auto_renew_failed),
        cmocka_unit_test(test_sms__render_reactivated_says_back_in_service_and_the_balance),
        cmocka_unit_test(test_sms__render_login_code_says_the_code_its_life_and_never_to_share_it),
        cmocka_unit_test(test_sms__render_needs_only_the_card_where_no_other_field_is_used),
        cmocka_unit_test(test_sms__render_reactivated_needs_only_the_balance_and_currency),
        cmocka_unit_test(test_sms__render_refuses_an_unknown_template_and_clears_out),
        cmocka_unit_test(test_sms__render_refuses_a_missing_or_negative_field_and_clears_out),
        cmocka_unit_test(test_sms__render_refuses_a_login_code_that_is_not_six_digits),
        cmocka_unit_test(test_sms__render_refuses_a_card_number_that_is_not_masked),
        cmocka_unit_test(test_sms__every_text_fits_two_segments_even_at_the_extremes),
        cmocka_unit_test(test_sms__every_text_names_the_card_and_points_to_what_to_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
