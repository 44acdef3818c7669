/*
 * alipay_test.c - Alipay's open-API wire format, pinned byte for byte: form bodies decoded and
 * encoded, the text a signature covers (pinned to the sorted example of Alipay's own
 * "如何使用RSA签名验签" page), yuan amounts read exactly, Beijing time stamps, and the signed
 * span of a JSON answer found by its bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pay/alipay.h"

/* ---- form bodies ---- */

static void test_alipay__form_decode_reads_plus_percent_and_utf8(void **state)
{
    struct alipay_params params;
    static const char body[] = "notify_time=2026-11-25+22%3A00%3A00&subject=%E4%BF%9D%E5%8F%B7&"
                               "fund_bill_list=%5B%7B%22amount%22%3A%2250.00%22%7D%5D&empty=";
    assert_int_equal(alipay_form_decode(&params, body, strlen(body)), 0);
    assert_int_equal(params.count, 4);
    assert_string_equal(alipay_params_get(&params, "notify_time"), "2026-11-25 22:00:00");
    assert_string_equal(alipay_params_get(&params, "subject"), "保号");
    assert_string_equal(alipay_params_get(&params, "fund_bill_list"), "[{\"amount\":\"50.00\"}]");
    assert_string_equal(alipay_params_get(&params, "empty"), "");
    assert_null(alipay_params_get(&params, "sign"));
    alipay_params_free(&params);
}

static void test_alipay__form_decode_skips_empty_pairs_only(void **state)
{
    struct alipay_params params;
    static const char body[] = "&a=1&&b=2&";
    assert_int_equal(alipay_form_decode(&params, body, strlen(body)), 0);
    assert_int_equal(params.count, 2);
    assert_string_equal(params.items[0].name, "a");
    assert_string_equal(params.items[1].value, "2");
    alipay_params_free(&params);
    assert_int_equal(alipay_form_decode(&params, "", 0), 0);
    assert_int_equal(params.count, 0);
}

static void test_alipay__form_decode_rejects_what_is_not_a_form(void **state)
{
    static const char *const bad[] = {
        "a",         /* no '=' */
        "=1",        /* no name */
        "a=%zz",     /* not hex */
        "a=%4",      /* cut escape */
        "a=1%",      /* cut escape at the end */
        "a=%00",     /* a NUL inside a C string */
        "%00=1",     /* in a name too */
        "a=1&a=2",   /* a name twice: which one was signed? */
        "a=1&%61=2", /* the same name, escaped */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct alipay_params params;
        assert_int_equal(alipay_form_decode(&params, bad[i], strlen(bad[i])),
                         LEB_E_INVALID_REQUEST);
        assert_int_equal(params.count, 0);
    }
}

static void test_alipay__form_decode_bounds_the_number_of_pairs(void **state)
{
    char body[ALIPAY_PARAMS_MAX * 8 + 16] = "";
    size_t at = 0;
    for (int i = 0; i < ALIPAY_PARAMS_MAX; i++)
        at += (size_t)snprintf(body + at, sizeof(body) - at, "%sp%d=1", i ? "&" : "", i);
    struct alipay_params params;
    assert_int_equal(alipay_form_decode(&params, body, at), 0);
    assert_int_equal(params.count, ALIPAY_PARAMS_MAX);
    alipay_params_free(&params);
    snprintf(body + at, sizeof(body) - at, "&one=more");
    assert_int_equal(alipay_form_decode(&params, body, strlen(body)), LEB_E_INVALID_REQUEST);
    assert_int_equal(params.count, 0);
}

static void test_alipay__form_decode_reads_only_the_given_bytes(void **state)
{
    struct alipay_params params;
    static const char body[] = "a=12&b=3";
    assert_int_equal(alipay_form_decode(&params, body, 3), 0); /* "a=1" */
    assert_int_equal(params.count, 1);
    assert_string_equal(alipay_params_get(&params, "a"), "1");
    alipay_params_free(&params);
}

static void test_alipay__form_encode_escapes_all_but_unreserved_and_round_trips(void **state)
{
    struct alipay_params params = {.count = 0};
    assert_int_equal(alipay_params_add(&params, "biz_content", "{\"a\":\"1 2&3=4+5/保\"}"), 0);
    assert_int_equal(alipay_params_add(&params, "safe", "AZaz09-._~"), 0);
    assert_int_equal(alipay_params_add(&params, "safe", "again"), LEB_E_INVALID_REQUEST);
    char *body = alipay_form_encode(&params);
    assert_string_equal(body, "biz_content=%7B%22a%22%3A%221+2%263%3D4%2B5%2F%E4%BF%9D%22%7D&"
                              "safe=AZaz09-._~");
    struct alipay_params back;
    assert_int_equal(alipay_form_decode(&back, body, strlen(body)), 0);
    assert_int_equal(back.count, 2);
    assert_string_equal(alipay_params_get(&back, "biz_content"), "{\"a\":\"1 2&3=4+5/保\"}");
    assert_string_equal(alipay_params_get(&back, "safe"), "AZaz09-._~");
    free(body);
    alipay_params_free(&back);
    alipay_params_free(&params);
    alipay_params_free(NULL);
}

/* ---- the text a signature covers ---- */

/* Alipay's example of a request's string to sign, "已升序排序处理" (sorted). */
#define DOC_BIZ                                                                                    \
    "{\"out_trade_no\":\"20190401144352106451724\",\"total_amount\":\"0.01\",\"subject\":"         \
    "\"土豪机\",\"timeout_express\":\"10m\",\"qr_code_timeout_express\":\"2m\",\"store_id\":"   \
    "\"HK001\"}"
#define DOC_NOTIFY_URL "http://notify.dengw.online/do/6e5e3bd0-c2c5-4565-bcfd-bf57ea822672"

static void test_alipay__sign_content_of_a_request_sorts_and_keeps_sign_type(void **state)
{
    struct alipay_params params = {.count = 0};
    /* Given in another order, with a sign and an empty value that the text leaves out. */
    assert_int_equal(alipay_params_add(&params, "version", "1.0"), 0);
    assert_int_equal(alipay_params_add(&params, "sign", "c2lnbmF0dXJl"), 0);
    assert_int_equal(alipay_params_add(&params, "timestamp", "2019-04-01 14:43:53"), 0);
    assert_int_equal(alipay_params_add(&params, "method", "alipay.trade.precreate"), 0);
    assert_int_equal(alipay_params_add(&params, "app_auth_token", ""), 0);
    assert_int_equal(alipay_params_add(&params, "notify_url", DOC_NOTIFY_URL), 0);
    assert_int_equal(alipay_params_add(&params, "charset", "UTF-8"), 0);
    assert_int_equal(alipay_params_add(&params, "biz_content", DOC_BIZ), 0);
    assert_int_equal(alipay_params_add(&params, "sign_type", "RSA2"), 0);
    assert_int_equal(alipay_params_add(&params, "format", "json"), 0);
    assert_int_equal(alipay_params_add(&params, "app_id", "201****222"), 0);
    char *content = alipay_sign_content(&params, false);
    assert_string_equal(content, "app_id=201****222&biz_content=" DOC_BIZ
                                 "&charset=UTF-8&format=json&method=alipay.trade.precreate"
                                 "&notify_url=" DOC_NOTIFY_URL
                                 "&sign_type=RSA2&timestamp=2019-04-01 14:43:53&version=1.0");
    free(content);
    alipay_params_free(&params);
}

static void test_alipay__sign_content_of_a_notification_leaves_out_sign_and_sign_type(void **state)
{
    struct alipay_params params;
    static const char body[] = "total_amount=2.00&buyer_id=2088102116773037&sign_type=RSA2&"
                               "notify_time=2016-07-19+14%3A10%3A49&sign=abc%2B%3D&"
                               "trade_status=TRADE_SUCCESS&refund_fee=&app_id=2015102700040153";
    assert_int_equal(alipay_form_decode(&params, body, strlen(body)), 0);
    char *content = alipay_sign_content(&params, true);
    assert_string_equal(content, "app_id=2015102700040153&buyer_id=2088102116773037&"
                                 "notify_time=2016-07-19 14:10:49&total_amount=2.00&"
                                 "trade_status=TRADE_SUCCESS");
    free(content);
    content = alipay_sign_content(&params, false);
    assert_non_null(strstr(content, "&sign_type=RSA2&"));
    assert_null(strstr(content, "sign="));
    free(content);
    alipay_params_free(&params);
}

static void test_alipay__sign_content_sorts_by_bytes(void **state)
{
    struct alipay_params params = {.count = 0};
    assert_int_equal(alipay_params_add(&params, "a_b", "3"), 0);
    assert_int_equal(alipay_params_add(&params, "aB", "2"), 0);
    assert_int_equal(alipay_params_add(&params, "ab", "4"), 0);
    assert_int_equal(alipay_params_add(&params, "a", "1"), 0);
    char *content = alipay_sign_content(&params, false);
    assert_string_equal(content, "a=1&aB=2&a_b=3&ab=4"); /* 'B' < '_' < 'b' */
    free(content);
    alipay_params_free(&params);
}

/* ---- amounts ---- */

static void test_alipay__amount_parse_reads_yuan_exactly(void **state)
{
    static const struct {
        const char *text;
        int64_t fen;
    } good[] = {
        {"12.34", 1234},
        {"12.3", 1230},
        {"12.30", 1230},
        {"12", 1200},
        {"0.01", 1},
        {"100000000.00", 10000000000},
        {"90071992547409.92", 9007199254740992},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t fen = -1;
        assert_int_equal(alipay_amount_parse(&fen, good[i].text), 0);
        assert_true(fen == good[i].fen);
    }
}

static void test_alipay__amount_parse_rejects_all_else_and_leaves_out_untouched(void **state)
{
    static const char *const bad[] = {
        "12.345",
        "-1.00",
        "+1.00",
        "1e3",
        "1E3",
        " 1.00",
        "1.00 ",
        "",
        "0",
        "0.00",
        "1.",
        ".5",
        "1,00",
        "１２",
        "0x10",
        "1.0.0",
        "90071992547409.93",
        "99999999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t fen = -7;
        assert_int_equal(alipay_amount_parse(&fen, bad[i]), LEB_E_INVALID_REQUEST);
        assert_true(fen == -7);
    }
    int64_t fen = -7;
    assert_int_equal(alipay_amount_parse(&fen, NULL), LEB_E_INVALID_REQUEST);
}

/* ---- time stamps ---- */

static void test_alipay__time_format_is_beijing_time(void **state)
{
    char out[ALIPAY_TIME_SIZE];
    alipay_time_format(out, 0);
    assert_string_equal(out, "1970-01-01 08:00:00");
    alipay_time_format(out, 1795615200); /* 2026-11-25T14:00:00Z */
    assert_string_equal(out, "2026-11-25 22:00:00");
    alipay_time_format(out, 1798732799); /* 2026-12-31T15:59:59Z */
    assert_string_equal(out, "2026-12-31 23:59:59");
    alipay_time_format(out, 1798732800); /* 2026-12-31T16:00:00Z: new year in Beijing */
    assert_string_equal(out, "2027-01-01 00:00:00");
    alipay_time_format(out, 1709222400); /* 2024-02-29T16:00:00Z */
    assert_string_equal(out, "2024-03-01 00:00:00");
}

/* ---- the signed span of an answer ---- */

static void span_is(const char *body, const char *name, const char *expected)
{
    const char *start = NULL;
    size_t size = 0;
    assert_int_equal(alipay_json_member_span(&start, &size, body, strlen(body), name), 0);
    assert_int_equal(size, strlen(expected));
    assert_memory_equal(start, expected, size);
}

static void test_alipay__json_member_span_gives_the_exact_bytes(void **state)
{
    /* As Alipay writes it: the response first, then the sign. */
    span_is("{\"alipay_trade_query_response\":{\"code\":\"10000\",\"msg\":\"Success\"},"
            "\"sign\":\"abc\"}",
            "alipay_trade_query_response", "{\"code\":\"10000\",\"msg\":\"Success\"}");
    /* The sign first, spaces, braces and quotes inside strings, nesting, raw UTF-8. */
    span_is("{ \"sign\" : \"a}b\" ,\n \"r\" :\t{\"s\":\"}\\\"{\",\"l\":[{\"x\":[1,2]},3],"
            "\"m\":\"交易不存在\",\"n\":null} }",
            "r", "{\"s\":\"}\\\"{\",\"l\":[{\"x\":[1,2]},3],\"m\":\"交易不存在\",\"n\":null}");
    span_is("{\"sign\":\"abc\"}", "sign", "\"abc\"");
    span_is("{\"n\":-12.5e3,\"t\":true}", "n", "-12.5e3");
    span_is("{\"n\":-12.5e3,\"t\":true}", "t", "true");
}

static void test_alipay__json_member_span_matches_names_not_text(void **state)
{
    /* The name inside another member's string value is not the member. */
    span_is("{\"a\":\"\\\"r\\\":{\\\"forged\\\":1}\",\"r\":{\"real\":1}}", "r", "{\"real\":1}");
    span_is("{\"rr\":1,\"r\":2}", "r", "2");
}

static void test_alipay__json_member_span_refuses_what_it_cannot_pin(void **state)
{
    const char *start = NULL;
    size_t size = 0;
    static const char *const not_found[] = {"{}", "{ }", "{\"s\":{\"r\":1}}"};
    for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++)
        assert_int_equal(
            alipay_json_member_span(&start, &size, not_found[i], strlen(not_found[i]), "r"),
            LEB_E_NOT_FOUND);
    static const char *const bad[] = {
        "",
        "[]",
        "\"r\"",
        "{\"r\":{\"a\":1}",
        "{\"r\":\"cut}",
        "{\"r\" 1}",
        "{\"r\":}",
        "{r:1}",
        "{\"r\":1,\"r\":2}",
        "{\"r\":1,}",
        "{\"r\":1",
        "{\"a\":1 \"r\":2}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(alipay_json_member_span(&start, &size, bad[i], strlen(bad[i]), "r"),
                         LEB_E_INVALID_JSON);
}

static void test_alipay__time_parse_reads_beijing_time_back(void **state)
{
    int64_t at = 0;
    assert_int_equal(alipay_time_parse(&at, "2026-11-25 08:00:00"), 0);
    assert_true(at == 1795564800); /* 2026-11-25T00:00:00Z */
    char text[ALIPAY_TIME_SIZE];
    const int64_t samples[] = {0, 951782400, 1795564800, 1795651199, 4102444799};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        alipay_time_format(text, samples[i]);
        assert_int_equal(alipay_time_parse(&at, text), 0);
        assert_true(at == samples[i]);
    }
    const char *bad[] = {NULL,
                         "",
                         "2026-11-25",
                         "2026-11-25T08:00:00",
                         "2026-13-01 00:00:00",
                         "2026-02-29 00:00:00",
                         "2026-11-25 24:00:00",
                         "2026-11-25 08:60:00",
                         "2026-11-25 08:00:0x",
                         "2026-11-25  8:00:00",
                         "+026-11-25 08:00:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(alipay_time_parse(&at, bad[i]), LEB_E_INVALID_REQUEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alipay__form_decode_reads_plus_percent_and_utf8),
        cmocka_unit_test(test_alipay__form_decode_skips_empty_pairs_only),
        cmocka_unit_test(test_alipay__form_decode_rejects_what_is_not_a_form),
        cmocka_unit_test(test_alipay__form_decode_bounds_the_number_of_pairs),
        cmocka_unit_test(test_alipay__form_decode_reads_only_the_given_bytes),
        cmocka_unit_test(test_alipay__form_encode_escapes_all_but_unreserved_and_round_trips),
        cmocka_unit_test(test_alipay__sign_content_of_a_request_sorts_and_keeps_sign_type),
        cmocka_unit_test(test_alipay__sign_content_of_a_notification_leaves_out_sign_and_sign_type),
        cmocka_unit_test(test_alipay__sign_content_sorts_by_bytes),
        cmocka_unit_test(test_alipay__amount_parse_reads_yuan_exactly),
        cmocka_unit_test(test_alipay__amount_parse_rejects_all_else_and_leaves_out_untouched),
        cmocka_unit_test(test_alipay__time_format_is_beijing_time),
        cmocka_unit_test(test_alipay__json_member_span_gives_the_exact_bytes),
        cmocka_unit_test(test_alipay__json_member_span_matches_names_not_text),
        cmocka_unit_test(test_alipay__json_member_span_refuses_what_it_cannot_pin),
        cmocka_unit_test(test_alipay__time_parse_reads_beijing_time_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
