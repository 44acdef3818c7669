/*
 * sms_test.c - the SMS command language and the length and content of every reply.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

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
        {"TD", SMS_CMD_AUTO_RENEW_OFF},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(sms_command_parse(cases[i].text), cases[i].command);
    }
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
}

static void test_sms__parse_folds_full_width_letters(void **state)
{
    assert_int_equal(sms_command_parse("ｙｅ"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("ＹＥ"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("Ｙe"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("ｋｈ"), SMS_CMD_CARD_NO);
    assert_int_equal(sms_command_parse("ｔｄ"), SMS_CMD_AUTO_RENEW_OFF);
    assert_int_equal(sms_command_parse("ＢＺ"), SMS_CMD_HELP);
}

static void test_sms__parse_trims_ascii_and_ideographic_spaces(void **state)
{
    assert_int_equal(sms_command_parse(" 余额 "), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("\t YE \r\n"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("　余额　"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("　 ｙｅ\n"), SMS_CMD_BALANCE);
    assert_int_equal(sms_command_parse("  td"), SMS_CMD_AUTO_RENEW_OFF);
}

static void test_sms__parse_calls_anything_else_unknown(void **state)
{
    static const char *const unknown[] = {
        "",    "   ",    "　",     "Y",     "YEE",        "Y E",      "YE 1",
        "余",  "余额额", "查余额", "余 额", "HELP",       "balance",  "退订",
        "ye.", "ＹＥ！", "TDX",    "自动",  "自动续费吧", "\xef\xbc", "\xff\xfe",
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
    static const char *const words[] = {"YE", "KH", "CZ", "BZ", "ZD", "TD"};
    static const char *const chinese[] = {"余额", "卡号", "充值", "帮助", "自动续费"};
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
    assert_fits_two_ucs2_segments(zh);
    assert_fits_two_ucs2_segments(en);
    assert_fits_one_gsm7_segment(en);
}

static void test_sms__every_command_the_help_names_is_understood(void **state)
{
    static const char *const words[] = {"YE",   "KH",   "CZ",   "BZ",   "ZD",      "TD",
                                        "余额", "卡号", "充值", "帮助", "自动续费"};

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sms__parse_knows_every_command_in_both_spellings),
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
