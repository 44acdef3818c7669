/*
 * recon_test.c - providers' statements read exactly (Alipay's business details, WeChat Pay's
 * trade bill), their malformed rows refused with line numbers, their amounts parsed to the
 * fen without floating point, repeated rows found, and every class of row classified.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/recon.h"

/* Beijing 2026-11-25 00:00:00 and the next midnight, in Unix seconds. */
#define BEIJING_20261125 INT64_C(1795536000)
#define BEIJING_20261126 INT64_C(1795622400)

#define ROWS_MAX 16

struct parsed {
    struct recon_parser parser;
    struct recon_error error;
    struct recon_record records[ROWS_MAX];
    size_t count;
    int rc; /* 0, or the first error */
};

/* Parses "text" whole into "out"; the result is out->rc. */
static int parse(struct parsed *out, const char *text)
{
    memset(out, 0, sizeof(*out));
    out->rc = recon_parser_init(&out->parser, &out->error, text, strlen(text));
    while (out->rc == 0) {
        assert_true(out->count < ROWS_MAX);
        int rc = recon_parser_next(&out->parser, &out->records[out->count], &out->error);
        if (rc <= 0) {
            out->rc = rc;
            break;
        }
        out->count++;
    }
    return out->rc;
}

/* Parses "text", expecting a refusal at "line"; returns the message. */
static const char *parse_refused(struct parsed *out, const char *text, size_t line)
{
    assert_int_equal(parse(out, text), LEB_E_INVALID_REQUEST);
    if (out->error.line != line)
        fail_msg("expected an error on line %zu, got line %zu: %s", line, out->error.line,
                 out->error.message);
    return out->error.message;
}

/* ---- amounts ---- */

static void test_recon__amounts_are_exact_fen(void **state)
{
    int64_t amount = -1;
    bool negative = true;
    assert_int_equal(recon_amount_parse(&amount, &negative, "12.3", false), 0);
    assert_int_equal(amount, 1230);
    assert_false(negative);
    assert_int_equal(recon_amount_parse(&amount, &negative, "12.30", false), 0);
    assert_int_equal(amount, 1230);
    assert_int_equal(recon_amount_parse(&amount, &negative, "0.01", false), 0);
    assert_int_equal(amount, 1);
    assert_int_equal(recon_amount_parse(&amount, &negative, "100", false), 0);
    assert_int_equal(amount, 10000);
    assert_int_equal(recon_amount_parse(&amount, &negative, "0.00", false), 0);
    assert_int_equal(amount, 0);
    /* 0.1 + 0.2 in floating point is not 0.3; here it is 30 fen, exactly. */
    assert_int_equal(recon_amount_parse(&amount, &negative, "0.30", false), 0);
    assert_int_equal(amount, 30);
}

static void test_recon__a_sign_is_taken_only_where_the_format_uses_one(void **state)
{
    int64_t amount = -1;
    bool negative = false;
    assert_int_equal(recon_amount_parse(&amount, &negative, "-5.00", true), 0);
    assert_int_equal(amount, 500);
    assert_true(negative);
    assert_int_equal(recon_amount_parse(&amount, &negative, "5.00", true), 0);
    assert_int_equal(amount, 500);
    assert_false(negative);
    assert_int_equal(recon_amount_parse(&amount, &negative, "-5.00", false), LEB_E_INVALID_AMOUNT);
    assert_int_equal(recon_amount_parse(&amount, &negative, "--5.00", true), LEB_E_INVALID_AMOUNT);
    assert_int_equal(recon_amount_parse(&amount, &negative, "-", true), LEB_E_INVALID_AMOUNT);
    assert_int_equal(recon_amount_parse(&amount, &negative, "- 5", true), LEB_E_INVALID_AMOUNT);
}

static void test_recon__amounts_refuse_anything_but_plain_decimals(void **state)
{
    static const char *const bad[] = {
        "1e3", "12.345", " 12",  "12 ",  "+1",   "",    "1,000.00", ".5",
        "5.",  "12.3.4", "0x10", "１２", "12\t", "NaN", "1.0e2",    "12.3 ",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t amount = -7;
        bool negative = false;
        if (recon_amount_parse(&amount, &negative, bad[i], true) != LEB_E_INVALID_AMOUNT)
            fail_msg("'%s' was taken as an amount", bad[i]);
        assert_int_equal(amount, -7);
    }
    int64_t amount = 0;
    bool negative = false;
    assert_int_equal(recon_amount_parse(&amount, &negative, NULL, true), LEB_E_INVALID_AMOUNT);
    assert_int_equal(recon_amount_parse(&amount, &negative, "99999999999999999999", false),
                     LEB_E_OVERFLOW);
}

/* ---- times ---- */

static void test_recon__times_are_beijing_time(void **state)
{
    int64_t time = 0;
    assert_int_equal(recon_time_parse(&time, "2026-11-25 00:00:00"), 0);
    assert_int_equal(time, BEIJING_20261125);
    assert_int_equal(recon_time_parse(&time, "2026-11-25 08:00:00"), 0);
    assert_int_equal(time, INT64_C(1795564800)); /* 2026-11-25T00:00:00Z */
    assert_int_equal(recon_time_parse(&time, "2026-11-25 10:30:05"), 0);
    assert_int_equal(time, INT64_C(1795573805));
    assert_int_equal(recon_time_parse(&time, "2024-02-29 23:59:59"), 0);
}

static void test_recon__times_refuse_other_shapes_and_impossible_dates(void **state)
{
    static const char *const bad[] = {
        "2026-02-29 00:00:00",  "2026-11-31 00:00:00",
        "2026-13-01 00:00:00",  "2026-11-25 24:00:00",
        "2026-11-25 23:60:00",  "2026-11-25 23:59:60",
        "2026-11-25T10:30:05",  "2026/11/25 10:30:05",
        "2026-11-25 10:30",     "2026-11-25 10:30:05Z",
        " 2026-11-25 10:30:05", "2026-11-2510:30:05",
        "2014-11-1016：33：45", "",
        "1969-12-31 23:59:59",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t time = 0;
        if (recon_time_parse(&time, bad[i]) != LEB_E_INVALID_REQUEST)
            fail_msg("'%s' was taken as a time", bad[i]);
    }
}

/* ---- Alipay ---- */

#define ALIPAY_HEADER                                                                                                                       \
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号," \
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"        \
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"                  \
    "退款批次号/请求号,服务费（元）,分润（元）,备注\n"

#define ALIPAY_TOP                                                                                      \
    "#支付宝业务明细查询\n"                                                                    \
    "#账号：[20880000000000000156]\n"                                                                \
    "#起始日期：[2026年11月25日 00:00:00]   终止日期：[2026年11月26日 00:00:00]\n"      \
    "#-----------------------------------------业务明细列表-------------------------------------" \
    "---\n" ALIPAY_HEADER

#define ALIPAY_BOTTOM                                                                                      \
    "#-----------------------------------------业务明细列表结束----------------------------------" \
    "-"                                                                                                    \
    "-\n"                                                                                                  \
    "#交易合计：2笔，商家实收共160.80元，商家优惠共0.00元\n"                           \
    "#退款合计：1笔，商家实收退款共-50.00元，商家优惠退款共0.00元\n"               \
    "#导出时间：[2026年11月26日 09:14:33]\n"

/* An Alipay data row: trade, order, type, amount, refund number. */
#define ALIPAY_ROW(trade, order, type, amount, refund)                                             \
    trade "\t," order "\t," type ",话费充值,2026-11-25 10:30:00,2026-11-25 10:30:05,,,,,"      \
          "buy***@example.com," amount "," amount ",0.00,0.00,0.00,0.00,0.00,,0.00,0.00," refund   \
          ",-0.30,0.00,\n"

static void test_recon__reads_alipay_business_details(void **state)
{
    static const char text[] = ALIPAY_TOP ALIPAY_ROW("2026112522001400000000000001",
                                                     "LEB0000000000000001", "交易", "100.00", "")
        ALIPAY_ROW("2026112522001400000000000002", "LEB0000000000000002", "交易", "60.8", "")
            ALIPAY_ROW("2026112522001400000000000001", "LEB0000000000000001", "退款", "-50.00",
                       "RF0000000000000001\t") ALIPAY_BOTTOM;
    struct parsed p;
    assert_int_equal(parse(&p, text), 0);
    assert_int_equal(p.parser.format, RECON_FORMAT_ALIPAY);
    assert_int_equal(p.count, 3);
    assert_true(p.parser.period_declared);
    assert_int_equal(p.parser.period_start, BEIJING_20261125);
    assert_int_equal(p.parser.period_end, BEIJING_20261126);

    const struct recon_record *payment = &p.records[0];
    assert_int_equal(payment->line, 6);
    assert_int_equal(payment->kind, RECON_KIND_PAYMENT);
    assert_string_equal(payment->trade_no, "2026112522001400000000000001");
    assert_string_equal(payment->order_no, "LEB0000000000000001");
    assert_string_equal(payment->refund_no, "");
    assert_int_equal(payment->amount, 10000);
    assert_int_equal(payment->time, INT64_C(1795573805)); /* 完成时间, not 创建时间 */
    assert_string_equal(payment->status, "交易");
    assert_int_equal(p.records[1].amount, 6080);

    const struct recon_record *refund = &p.records[2];
    assert_int_equal(refund->line, 8);
    assert_int_equal(refund->kind, RECON_KIND_REFUND);
    assert_int_equal(refund->amount, 5000); /* -50.00: a refund, its amount without the sign */
    assert_string_equal(refund->refund_no, "RF0000000000000001");
    assert_string_equal(refund->status, "退款");

    /* The raw text of a row is its line, without the line end. */
    assert_int_equal(text[payment->raw_offset + payment->raw_size], '\n');
    assert_memory_equal(text + payment->raw_offset, "2026112522001400000000000001\t,", 30);
    /* Nothing after the end marker is read, and the parser stays at the end. */
    assert_int_equal(recon_parser_next(&p.parser, &p.records[0], &p.error), 0);
}

static void test_recon__alipay_with_a_byte_order_mark_crlf_and_quotes(void **state)
{
    static const char text[] =
        "\xEF\xBB\xBF#支付宝业务明细查询\r\n" ALIPAY_HEADER
        "2026112522001400000000000009\t,LEB9,交易,\"话费,充值 \"\"100\"\"\",2026-11-25 10:30:00,"
        "2026-11-25 10:30:05,,,,,x,1.00,1.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,0.00,0.00,\r\n"
        "\r\n" ALIPAY_BOTTOM;
    struct parsed p;
    assert_int_equal(parse(&p, text), 0);
    assert_int_equal(p.count, 1);
    assert_false(p.parser.period_declared);
    assert_string_equal(p.records[0].order_no, "LEB9");
    assert_int_equal(p.records[0].amount, 100);
    assert_int_equal(p.records[0].line, 3);
    /* The raw text stops before the carriage return. */
    assert_int_equal(text[p.records[0].raw_offset + p.records[0].raw_size], '\r');
}

static void test_recon__alipay_falls_back_to_the_creation_time(void **state)
{
    static const char text[] = ALIPAY_HEADER
        "2026112522001400000000000009,LEB9,交易,x,2026-11-25 10:30:00,,,,,,x,1.00,1.00,0.00,"
        "0.00,0.00,0.00,0.00,,0.00,0.00,,0.00,0.00,\n";
    struct parsed p;
    assert_int_equal(parse(&p, text), 0);
    assert_int_equal(p.count, 1);
    assert_int_equal(p.records[0].time, INT64_C(1795573800));
}

static void test_recon__alipay_malformed_rows_are_refused_with_their_line(void **state)
{
    struct parsed p;
    const char *message;
    message = parse_refused(
        &p, ALIPAY_TOP ALIPAY_ROW("2026112522001400000000000001", "LEB1", "交易", "12.345", ""), 6);
    assert_non_null(strstr(message, "line 6"));
    assert_non_null(strstr(message, "12.345"));
    parse_refused(&p,
                  ALIPAY_TOP ALIPAY_ROW("T1", "LEB1", "交易", "1.00", "")
                      ALIPAY_ROW("T2", "LEB2", "交易", "1e3", ""),
                  7);
    parse_refused(&p, ALIPAY_TOP ALIPAY_ROW("T1", "LEB1", "交易", " 12", ""), 6);
    /* A payment is never negative; only refunds carry the sign. */
    parse_refused(&p, ALIPAY_TOP ALIPAY_ROW("T1", "LEB1", "交易", "-1.00", ""), 6);
    message = parse_refused(&p, ALIPAY_TOP ALIPAY_ROW("T1", "LEB1", "冻结", "1.00", ""), 6);
    assert_non_null(strstr(message, "冻结"));
    parse_refused(&p, ALIPAY_TOP ALIPAY_ROW("", "LEB1", "交易", "1.00", ""), 6);
    parse_refused(&p, ALIPAY_TOP ALIPAY_ROW("T1", "", "交易", "1.00", ""), 6);
    parse_refused(&p, ALIPAY_TOP ALIPAY_ROW("T 1", "LEB1", "交易", "1.00", ""), 6);
    /* A field too few. */
    message = parse_refused(&p, ALIPAY_TOP "T1,LEB1,交易\n", 6);
    assert_non_null(strstr(message, "3 fields"));
    parse_refused(&p, ALIPAY_TOP "T1,\"LEB1,交易\n", 6);
    /* A time that is no time. */
    parse_refused(&p,
                  ALIPAY_HEADER "T1,LEB1,交易,x,2026-11-25,2026-11-25,,,,,x,1.00,1.00,0.00,0.00,"
                                "0.00,0.00,0.00,,0.00,0.00,,0.00,0.00,\n",
                  2);
    /* A declared period that cannot be read. */
    parse_refused(&p, "#起始日期：[2026年11月25日]   终止日期：[2026年11月26日 00:00:00]\n", 1);
    parse_refused(
        &p, "#起始日期：[2026年11月26日 00:00:00]   终止日期：[2026年11月25日 00:00:00]\n", 1);
}

static void test_recon__a_header_must_name_every_column_read(void **state)
{
    struct parsed p;
    const char *message = parse_refused(&p, "支付宝交易号,商户订单号,业务类型,完成时间\n", 1);
    assert_non_null(strstr(message, "订单金额"));
    message = parse_refused(&p, "交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态\n", 1);
    assert_non_null(strstr(message, "订单金额"));
    message = parse_refused(&p, "#comment\n\norder_no,amount\n", 3);
    assert_non_null(strstr(message, "not the header"));
    message = parse_refused(&p, "#only comments\n", 0);
    assert_non_null(strstr(message, "no header"));
    parse_refused(&p, "", 0);
}

/* ---- WeChat Pay ---- */

#define WECHAT_HEADER                                                                                                                \
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"     \
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"  \
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额," \
    "费率备注\n"

/* A WeChat Pay data row: time, transaction, order, state, settled amount, refund id, out refund
 * no, refund amount, product name, order amount. */
#define WECHAT_ROW(time, trade, order, state, settled, refund_id, out_refund, refund, product,     \
                   total)                                                                          \
    "`" time ",`wx2421b1c4370ec43b,`10000100,`0,`,`" trade ",`" order                              \
    ",`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`" state ",`CMC,`CNY,`" settled ",`0.00,`" refund_id   \
    ",`" out_refund ",`" refund ",`0.00,`ORIGINAL,`SUCCESS,`" product ",`,`0.01000,`0.60%,`" total \
    ",`" refund ",`\n"

#define WECHAT_BOTTOM                                                                                                                         \
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额" \
    "\n`3,`150.00,`20.00,`0.00,`0.90000,`150.00,`20.00\n"

static void test_recon__reads_wechatpay_trade_bills(void **state)
{
    static const char text[] =
        WECHAT_HEADER WECHAT_ROW("2026-11-25 10:30:05", "4200000001202611250000000001", "LEB1",
                                 "SUCCESS", "100.00", "0", "0", "0.00", "话费充值, 100元", "100.00")
            WECHAT_ROW("2026-11-25 11:00:00", "4200000001202611250000000002", "LEB2", "SUCCESS",
                       "49.00", "0", "0", "0.00", "充值", "50.00")
                WECHAT_ROW("2026-11-25 12:00:00", "4200000001202611250000000001", "LEB1", "REFUND",
                           "0.00", "50000000012026112500000000001", "LEB1R", "20.00", "充值",
                           "0.00") WECHAT_BOTTOM;
    struct parsed p;
    assert_int_equal(parse(&p, text), 0);
    assert_int_equal(p.parser.format, RECON_FORMAT_WECHATPAY);
    assert_false(p.parser.period_declared);
    assert_int_equal(p.count, 3);
    const struct recon_record *first = &p.records[0];
    assert_int_equal(first->line, 2);
    assert_int_equal(first->kind, RECON_KIND_PAYMENT);
    assert_string_equal(first->trade_no, "4200000001202611250000000001");
    assert_string_equal(first->order_no, "LEB1");
    assert_int_equal(first->amount, 10000);
    assert_int_equal(first->time, INT64_C(1795573805));
    assert_string_equal(first->status, "SUCCESS");
    /* 订单金额 (what the payer was asked for), not 应结订单金额 (less coupons). */
    assert_int_equal(p.records[1].amount, 5000);
    const struct recon_record *refund = &p.records[2];
    assert_int_equal(refund->kind, RECON_KIND_REFUND);
    assert_int_equal(refund->amount, 2000);
    assert_string_equal(refund->refund_no, "50000000012026112500000000001");
    assert_string_equal(refund->trade_no, "4200000001202611250000000001");
    assert_string_equal(refund->status, "REFUND");
    /* The raw row starts with its backtick. */
    assert_int_equal(text[first->raw_offset], '`');
}

static void test_recon__reads_older_wechatpay_bills(void **state)
{
    /* API v2's older layout: 子商户号 and 总金额, no 订单金额, no backticks in some SDKs' echo. */
    static const char text[] =
        "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,总金额,代金券或立减优惠金额,微信退款单号,商户退款单号,"
        "退款金额,代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率\r\n"
        "`2014-11-10 16:33:45,`wx2421b1c4370ec43b,`10000100,`0,`1000,"
        "`1001690740201411100005734289,`1415640626,`085e9858e3ba5186aafcbaed1,`MICROPAY,"
        "`SUCCESS,`CFT,`CNY,`0.01,`0.0,`0,`0,`0,`0,`,`,`被扫支付测试,`订单额外描述,`0,`0.60%\r\n"
        "2014-11-10 16:46:14,wx2421b1c4370ec43b,10000100,0,1000,1002780740201411100005729794,"
        "1415635270,085e9858e90ca40c0b5aee463,MICROPAY,SUCCESS,CFT,CNY,0.02,0.0,0,0,0,0,,,"
        "被扫支付测试,订单额外描述,0,0.60%\r\n"
        "总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额\r\n"
        "`2,`0.03,`0.0,`0.0,`0\r\n";
    struct parsed p;
    assert_int_equal(parse(&p, text), 0);
    assert_int_equal(p.count, 2);
    assert_int_equal(p.records[0].amount, 1);
    assert_string_equal(p.records[0].order_no, "1415640626");
    assert_int_equal(p.records[1].amount, 2);
}

static void test_recon__wechatpay_malformed_rows_are_refused_with_their_line(void **state)
{
    struct parsed p;
    const char *message;
    parse_refused(&p,
                  WECHAT_HEADER WECHAT_ROW("2026-11-25 10:30:05", "T1", "LEB1", "SUCCESS", "1.00",
                                           "0", "0", "0.00", "x", "1.005"),
                  2);
    /* WeChat Pay writes no signs. */
    parse_refused(&p,
                  WECHAT_HEADER WECHAT_ROW("2026-11-25 10:30:05", "T1", "LEB1", "REFUND", "0.00",
                                           "R1", "0", "-1.00", "x", "0.00"),
                  2);
    message = parse_refused(&p,
                            WECHAT_HEADER WECHAT_ROW("2026-11-25 10:30:05", "T1", "LEB1", "SUCCESS",
                                                     "1.00", "0", "0", "0.00", "x", "1.00")
                                WECHAT_ROW("2026-11-25 10:30:05", "T2", "LEB2", "NOTPAY", "1.00",
                                           "0", "0", "0.00", "x", "1.00"),
                            3);
    assert_non_null(strstr(message, "NOTPAY"));
    parse_refused(&p,
                  WECHAT_HEADER WECHAT_ROW("2026-11-25 25:30:05", "T1", "LEB1", "SUCCESS", "1.00",
                                           "0", "0", "0.00", "x", "1.00"),
                  2);
    message = parse_refused(&p, WECHAT_HEADER "`2026-11-25 10:30:05,`wx,`1\n", 2);
    assert_non_null(strstr(message, "3 fields, but the header has 27"));
    /* A line longer than any statement's. */
    static char long_line[RECON_LINE_BYTES_MAX + 200];
    memset(long_line, 'x', sizeof(long_line) - 2);
    long_line[sizeof(long_line) - 2] = '\n';
    long_line[sizeof(long_line) - 1] = '\0';
    static char text[sizeof(long_line) + 1024];
    snprintf(text, sizeof(text), "%s%s", WECHAT_HEADER, long_line);
    parse_refused(&p, text, 2);
}

static void test_recon__a_failed_parser_stays_failed(void **state)
{
    struct parsed p;
    parse_refused(&p,
                  ALIPAY_TOP ALIPAY_ROW("T1", "LEB1", "交易", "x", "")
                      ALIPAY_ROW("T2", "LEB2", "交易", "1.00", ""),
                  6);
    struct recon_record record;
    assert_int_equal(recon_parser_next(&p.parser, &record, &p.error), LEB_E_INVALID_REQUEST);
}

static void test_recon__an_error_message_stays_whole_utf8(void **state)
{
    /* A 业务类型 of many three-byte characters is quoted cut to 40 bytes: never mid-character. */
    struct parsed p;
    const char *message = parse_refused(
        &p,
        ALIPAY_TOP ALIPAY_ROW("T1", "LEB1", "冻结冻结冻结冻结冻结冻结冻结冻结冻结冻结", "1.00", ""),
        6);
    const unsigned char *cursor = (const unsigned char *)message;
    while (*cursor != 0) {
        size_t size = *cursor < 0x80             ? 1
                      : (*cursor & 0xE0) == 0xC0 ? 2
                      : (*cursor & 0xF0) == 0xE0 ? 3
                                                 : 4;
        for (size_t i = 1; i < size; i++)
            assert_int_equal(cursor[i] & 0xC0, 0x80);
        cursor += size;
    }
}

/* ---- repeated rows and the period ---- */

static struct recon_record record_of(enum recon_kind kind, const char *trade_no,
                                     const char *refund_no, size_t line)
{
    struct recon_record record;
    memset(&record, 0, sizeof(record));
    record.kind = kind;
    record.line = line;
    snprintf(record.trade_no, sizeof(record.trade_no), "%s", trade_no);
    snprintf(record.refund_no, sizeof(record.refund_no), "%s", refund_no);
    return record;
}

static void test_recon__repeated_rows_are_found_after_their_first(void **state)
{
    struct recon_record records[] = {
        record_of(RECON_KIND_PAYMENT, "T2", "", 2),  record_of(RECON_KIND_PAYMENT, "T1", "", 3),
        record_of(RECON_KIND_PAYMENT, "T2", "", 4),  record_of(RECON_KIND_REFUND, "T2", "R1", 5),
        record_of(RECON_KIND_REFUND, "T2", "R2", 6), record_of(RECON_KIND_REFUND, "T2", "R1", 7),
        record_of(RECON_KIND_REFUND, "T3", "", 8),   record_of(RECON_KIND_REFUND, "T3", "", 9),
        record_of(RECON_KIND_PAYMENT, "T2", "", 10),
    };
    enum { COUNT = sizeof(records) / sizeof(records[0]) };
    const struct recon_record *sorted[COUNT];
    bool duplicate[COUNT];
    recon_mark_duplicates(sorted, duplicate, records, COUNT);
    static const bool expected[COUNT] = {false, false, true, false, false, true, false, true, true};
    for (size_t i = 0; i < COUNT; i++)
        if (duplicate[i] != expected[i])
            fail_msg("line %zu: duplicate %d, expected %d", records[i].line, duplicate[i],
                     expected[i]);
    assert_true(recon_find_payment(sorted, COUNT, "T1"));
    assert_true(recon_find_payment(sorted, COUNT, "T2"));
    assert_false(recon_find_payment(sorted, COUNT, "T3")); /* a refund's trade, not a payment */
    assert_false(recon_find_payment(sorted, COUNT, "T0"));
    assert_false(recon_find_payment(sorted, 0, "T1"));
    recon_mark_duplicates(NULL, NULL, NULL, 0);
}

static void test_recon__the_period_is_declared_or_whole_beijing_days(void **state)
{
    struct recon_parser parser;
    memset(&parser, 0, sizeof(parser));
    int64_t start = -1, end = -1;
    /* 10:30 and 23:59:59 Beijing on the 25th: that one day. */
    recon_period(&start, &end, &parser, 2, INT64_C(1795573805), BEIJING_20261126 - 1);
    assert_int_equal(start, BEIJING_20261125);
    assert_int_equal(end, BEIJING_20261126);
    /* Midnight Beijing is the next day's. */
    recon_period(&start, &end, &parser, 1, BEIJING_20261126, BEIJING_20261126);
    assert_int_equal(start, BEIJING_20261126);
    assert_int_equal(end, BEIJING_20261126 + 86400);
    /* Two days. */
    recon_period(&start, &end, &parser, 2, BEIJING_20261125, BEIJING_20261126 + 5);
    assert_int_equal(start, BEIJING_20261125);
    assert_int_equal(end, BEIJING_20261126 + 86400);
    recon_period(&start, &end, &parser, 0, 0, 0);
    assert_int_equal(start, 0);
    assert_int_equal(end, 0);
    parser.period_declared = true;
    parser.period_start = 100;
    parser.period_end = 200;
    recon_period(&start, &end, &parser, 1, BEIJING_20261125, BEIJING_20261125);
    assert_int_equal(start, 100);
    assert_int_equal(end, 200);
}

static void test_recon__providers_map_to_their_formats(void **state)
{
    enum recon_format format = RECON_FORMAT_COUNT;
    assert_int_equal(recon_format_of_provider(&format, "alipay"), 0);
    assert_int_equal(format, RECON_FORMAT_ALIPAY);
    assert_int_equal(recon_format_of_provider(&format, "wechatpay"), 0);
    assert_int_equal(format, RECON_FORMAT_WECHATPAY);
    assert_int_equal(recon_format_of_provider(&format, "wechatpay_v2"), 0);
    assert_int_equal(format, RECON_FORMAT_WECHATPAY);
    assert_int_equal(recon_format_of_provider(&format, "sandbox"), LEB_E_NOT_FOUND);
    assert_int_equal(recon_format_of_provider(&format, "card"), LEB_E_NOT_FOUND);
    assert_int_equal(recon_format_of_provider(&format, "Alipay"), LEB_E_NOT_FOUND);
    assert_int_equal(recon_format_of_provider(&format, NULL), LEB_E_NOT_FOUND);
    assert_string_equal(recon_format_name(RECON_FORMAT_WECHATPAY), "wechatpay");
}

/* ---- classification ---- */

/* A payment row of 100.00 for an order of 100.00 through the statement's provider. */
static struct recon_facts payment_facts(void)
{
    struct recon_facts facts;
    memset(&facts, 0, sizeof(facts));
    facts.kind = RECON_KIND_PAYMENT;
    facts.statement_amount = 10000;
    facts.order_found = true;
    facts.order_status = ORDER_SUCCEEDED;
    facts.order_pay_amount = 10000;
    facts.order_provider_same = true;
    facts.refund_amount = 10000;
    return facts;
}

static struct recon_verdict classify(const struct recon_facts *facts)
{
    struct recon_verdict verdict;
    memset(&verdict, 0xA5, sizeof(verdict));
    recon_classify(&verdict, facts);
    return verdict;
}

static void test_recon__a_trade_leb_has_is_matched_or_mismatched(void **state)
{
    struct recon_facts facts = payment_facts();
    facts.trade_found = true;
    facts.trade_amount = 10000;
    facts.trade_order_same = true;
    struct recon_verdict verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_MATCHED);
    assert_false(verdict.repair);
    assert_true(verdict.leb_amount_known);
    assert_int_equal(verdict.leb_amount, 10000);

    facts.trade_amount = 9900;
    verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_AMOUNT_MISMATCH);
    assert_int_equal(verdict.leb_amount, 9900);
    assert_false(verdict.repair);

    facts.trade_amount = 10000;
    facts.trade_order_same = false;
    verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_ORDER_MISMATCH);
    assert_false(verdict.repair);
}

static void test_recon__paid_but_not_credited_is_repaired_exactly_when_the_order_waits(void **state)
{
    static const enum order_status waiting[] = {ORDER_PENDING_PAYMENT, ORDER_EXPIRED, ORDER_FAILED};
    for (size_t i = 0; i < sizeof(waiting) / sizeof(waiting[0]); i++) {
        struct recon_facts facts = payment_facts();
        facts.order_status = waiting[i];
        struct recon_verdict verdict = classify(&facts);
        assert_int_equal(verdict.class_, RECON_REPAIRED);
        assert_true(verdict.repair);
        assert_int_equal(verdict.leb_amount, 10000);
        assert_true(recon_order_awaits_payment(waiting[i]));
    }
    /* Paid otherwise, or waiting for a human: a double payment, never applied. */
    static const enum order_status settled[] = {ORDER_PAID, ORDER_SUCCEEDED, ORDER_REVIEW,
                                                ORDER_REFUNDING, ORDER_REFUNDED};
    for (size_t i = 0; i < sizeof(settled) / sizeof(settled[0]); i++) {
        struct recon_facts facts = payment_facts();
        facts.order_status = settled[i];
        struct recon_verdict verdict = classify(&facts);
        assert_int_equal(verdict.class_, RECON_DOUBLE_PAYMENT);
        assert_false(verdict.repair);
        assert_false(recon_order_awaits_payment(settled[i]));
    }
}

static void test_recon__a_trade_leb_lacks_is_never_repaired_when_anything_differs(void **state)
{
    struct recon_facts facts = payment_facts();
    facts.order_status = ORDER_PENDING_PAYMENT;
    facts.statement_amount = 10001;
    struct recon_verdict verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_AMOUNT_MISMATCH);
    assert_int_equal(verdict.leb_amount, 10000);
    assert_false(verdict.repair);

    facts = payment_facts();
    facts.order_status = ORDER_PENDING_PAYMENT;
    facts.order_provider_same = false;
    verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_ORDER_MISMATCH);
    assert_false(verdict.repair);

    facts = payment_facts();
    facts.order_found = false;
    verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_UNKNOWN_ORDER);
    assert_false(verdict.leb_amount_known);
    assert_false(verdict.repair);
}

static void test_recon__a_repeated_row_is_a_duplicate_and_never_repaired(void **state)
{
    struct recon_facts facts = payment_facts();
    facts.order_status = ORDER_PENDING_PAYMENT;
    facts.duplicate = true;
    struct recon_verdict verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_DUPLICATE);
    assert_false(verdict.repair);
    assert_false(verdict.leb_amount_known);

    facts.trade_found = true;
    facts.trade_amount = 10000;
    facts.trade_order_same = true;
    verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_DUPLICATE);
    assert_true(verdict.leb_amount_known);

    facts.kind = RECON_KIND_REFUND;
    facts.order_status = ORDER_REFUNDED;
    verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_DUPLICATE);
    assert_false(verdict.repair);
}

static void test_recon__refunds_match_only_orders_leb_refunds(void **state)
{
    struct recon_facts facts = payment_facts();
    facts.kind = RECON_KIND_REFUND;
    facts.statement_amount = 8000;
    facts.refund_amount = 8000;
    facts.order_status = ORDER_REFUNDED;
    struct recon_verdict verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_REFUND_MATCHED);
    assert_int_equal(verdict.leb_amount, 8000);
    assert_false(verdict.repair);

    facts.order_status = ORDER_REFUNDING;
    assert_int_equal(classify(&facts).class_, RECON_REFUND_MATCHED);

    facts.statement_amount = 10000;
    verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_AMOUNT_MISMATCH);
    assert_int_equal(verdict.leb_amount, 8000);

    facts.order_status = ORDER_SUCCEEDED;
    verdict = classify(&facts);
    assert_int_equal(verdict.class_, RECON_REFUND_UNKNOWN);
    assert_false(verdict.leb_amount_known);
    assert_false(verdict.repair);

    facts.order_found = false;
    assert_int_equal(classify(&facts).class_, RECON_REFUND_UNKNOWN);
}

static void test_recon__every_class_has_a_name(void **state)
{
    static const char *const names[RECON_CLASS_COUNT] = {
        "matched",        "repaired",       "missing_from_statement", "amount_mismatch",
        "duplicate",      "unknown_order",  "order_mismatch",         "double_payment",
        "refund_matched", "refund_unknown",
    };
    for (int i = 0; i < RECON_CLASS_COUNT; i++)
        assert_string_equal(recon_class_name((enum recon_class)i), names[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recon__amounts_are_exact_fen),
        cmocka_unit_test(test_recon__a_sign_is_taken_only_where_the_format_uses_one),
        cmocka_unit_test(test_recon__amounts_refuse_anything_but_plain_decimals),
        cmocka_unit_test(test_recon__times_are_beijing_time),
        cmocka_unit_test(test_recon__times_refuse_other_shapes_and_impossible_dates),
        cmocka_unit_test(test_recon__reads_alipay_business_details),
        cmocka_unit_test(test_recon__alipay_with_a_byte_order_mark_crlf_and_quotes),
        cmocka_unit_test(test_recon__alipay_falls_back_to_the_creation_time),
        cmocka_unit_test(test_recon__alipay_malformed_rows_are_refused_with_their_line),
        cmocka_unit_test(test_recon__a_header_must_name_every_column_read),
        cmocka_unit_test(test_recon__reads_wechatpay_trade_bills),
        cmocka_unit_test(test_recon__reads_older_wechatpay_bills),
        cmocka_unit_test(test_recon__wechatpay_malformed_rows_are_refused_with_their_line),
        cmocka_unit_test(test_recon__a_failed_parser_stays_failed),
        cmocka_unit_test(test_recon__an_error_message_stays_whole_utf8),
        cmocka_unit_test(test_recon__repeated_rows_are_found_after_their_first),
        cmocka_unit_test(test_recon__the_period_is_declared_or_whole_beijing_days),
        cmocka_unit_test(test_recon__providers_map_to_their_formats),
        cmocka_unit_test(test_recon__a_trade_leb_has_is_matched_or_mismatched),
        cmocka_unit_test(
            test_recon__paid_but_not_credited_is_repaired_exactly_when_the_order_waits),
        cmocka_unit_test(test_recon__a_trade_leb_lacks_is_never_repaired_when_anything_differs),
        cmocka_unit_test(test_recon__a_repeated_row_is_a_duplicate_and_never_repaired),
        cmocka_unit_test(test_recon__refunds_match_only_orders_leb_refunds),
        cmocka_unit_test(test_recon__every_class_has_a_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
