/*
 * wechatpay_v2_test.c - WeChat Pay API v2's signature, pinned to the worked example of WeChat
 * Pay's own "安全规范" (security specification) page, and its XML messages, read and written,
 * DTDs and entities refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pay/pay_crypto.h"
#include "pay/wechatpay_v2.h"

/* The documented example: its parameters, its key and its two signs. */
#define DOC_KEY "192006250b4c09247ec02edce69f6a2d"
#define DOC_MD5 "9A0A8659F005D6984697E2CA0A9CF3B7"
#define DOC_HMAC "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"

static const struct wechatpay_v2_field doc_fields[] = {
    {"appid", "wxd930ea5d5a258f4f"},   {"mch_id", "10000100"},
    {"device_info", "1000"},           {"body", "test"},
    {"nonce_str", "ibuaiVcKdpRxkhJA"},
};
#define DOC_COUNT (sizeof(doc_fields) / sizeof(doc_fields[0]))

static void sign_ok(char out[WECHATPAY_V2_SIGN_SIZE], const struct wechatpay_v2_field *fields,
                    size_t count, enum wechatpay_v2_sign_type type)
{
    assert_int_equal(wechatpay_v2_sign(out, fields, count, DOC_KEY, type), 0);
}

/* ---- the signature ---- */

static void test_wechatpay_v2__signs_the_documented_example_with_md5(void **state)
{
    char sign[WECHATPAY_V2_SIGN_SIZE];
    sign_ok(sign, doc_fields, DOC_COUNT, WECHATPAY_V2_SIGN_MD5);
    assert_string_equal(sign, DOC_MD5);
}

static void test_wechatpay_v2__signs_the_documented_example_with_hmac_sha256(void **state)
{
    char sign[WECHATPAY_V2_SIGN_SIZE];
    sign_ok(sign, doc_fields, DOC_COUNT, WECHATPAY_V2_SIGN_HMAC_SHA256);
    assert_string_equal(sign, DOC_HMAC);
}

static void test_wechatpay_v2__signs_the_documented_string_sign_temp(void **state)
{
    /* The example's stringSignTemp, hashed here directly: the module builds exactly it. */
    const char *temp = "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100"
                       "&nonce_str=ibuaiVcKdpRxkhJA&key=" DOC_KEY;
    char md5[33], hmac[65];
    pay_md5_hex(md5, temp, strlen(temp));
    pay_hex_upper(md5);
    pay_hmac_sha256_hex(hmac, DOC_KEY, strlen(DOC_KEY), temp, strlen(temp));
    pay_hex_upper(hmac);
    assert_string_equal(md5, DOC_MD5);
    assert_string_equal(hmac, DOC_HMAC);
}

static void test_wechatpay_v2__skips_empty_values(void **state)
{
    struct wechatpay_v2_field fields[DOC_COUNT + 2];
    memcpy(fields, doc_fields, sizeof(doc_fields));
    fields[DOC_COUNT] = (struct wechatpay_v2_field){"attach", ""};
    fields[DOC_COUNT + 1] = (struct wechatpay_v2_field){"detail", NULL};
    char sign[WECHATPAY_V2_SIGN_SIZE];
    sign_ok(sign, fields, DOC_COUNT + 2, WECHATPAY_V2_SIGN_MD5);
    assert_string_equal(sign, DOC_MD5);
    sign_ok(sign, fields, DOC_COUNT + 2, WECHATPAY_V2_SIGN_HMAC_SHA256);
    assert_string_equal(sign, DOC_HMAC);
}

static void test_wechatpay_v2__leaves_the_sign_field_out(void **state)
{
    struct wechatpay_v2_field fields[DOC_COUNT + 1];
    memcpy(fields, doc_fields, sizeof(doc_fields));
    fields[DOC_COUNT] = (struct wechatpay_v2_field){"sign", "0123456789ABCDEF0123456789ABCDEF"};
    char sign[WECHATPAY_V2_SIGN_SIZE];
    sign_ok(sign, fields, DOC_COUNT + 1, WECHATPAY_V2_SIGN_MD5);
    assert_string_equal(sign, DOC_MD5);
}

static void test_wechatpay_v2__signs_whatever_the_order_of_the_fields(void **state)
{
    const struct wechatpay_v2_field reversed[] = {
        {"nonce_str", "ibuaiVcKdpRxkhJA"}, {"body", "test"},
        {"device_info", "1000"},           {"mch_id", "10000100"},
        {"appid", "wxd930ea5d5a258f4f"},
    };
    char sign[WECHATPAY_V2_SIGN_SIZE];
    sign_ok(sign, reversed, 5, WECHATPAY_V2_SIGN_MD5);
    assert_string_equal(sign, DOC_MD5);
}

static void test_wechatpay_v2__sorts_names_by_ascii_not_by_alphabet(void **state)
{
    /* ASCII puts upper case before lower case and '_' (0x5F) between them: "Zeta" < "_x" <
     * "alpha". A dictionary order would give "alpha", "Zeta", "_x". */
    const struct wechatpay_v2_field fields[] = {{"alpha", "2"}, {"_x", "3"}, {"Zeta", "1"}};
    const char *temp = "Zeta=1&_x=3&alpha=2&key=" DOC_KEY;
    char expected[33], sign[WECHATPAY_V2_SIGN_SIZE];
    pay_md5_hex(expected, temp, strlen(temp));
    pay_hex_upper(expected);
    sign_ok(sign, fields, 3, WECHATPAY_V2_SIGN_MD5);
    assert_string_equal(sign, expected);
}

static void test_wechatpay_v2__signs_values_as_they_are_without_url_encoding(void **state)
{
    const struct wechatpay_v2_field fields[] = {{"body", "a b&c=d/充值"}};
    const char *temp = "body=a b&c=d/充值&key=" DOC_KEY;
    char expected[65], sign[WECHATPAY_V2_SIGN_SIZE];
    pay_hmac_sha256_hex(expected, DOC_KEY, strlen(DOC_KEY), temp, strlen(temp));
    pay_hex_upper(expected);
    sign_ok(sign, fields, 1, WECHATPAY_V2_SIGN_HMAC_SHA256);
    assert_string_equal(sign, expected);
}

static void test_wechatpay_v2__writes_the_sign_in_upper_case_hex(void **state)
{
    char sign[WECHATPAY_V2_SIGN_SIZE];
    for (int type = WECHATPAY_V2_SIGN_MD5; type <= WECHATPAY_V2_SIGN_HMAC_SHA256; type++) {
        sign_ok(sign, doc_fields, DOC_COUNT, (enum wechatpay_v2_sign_type)type);
        assert_int_equal(strlen(sign), type == WECHATPAY_V2_SIGN_MD5 ? 32 : 64);
        for (const char *c = sign; *c; c++)
            assert_true((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'F'));
    }
}

static void test_wechatpay_v2__refuses_a_name_given_twice_or_no_name(void **state)
{
    const struct wechatpay_v2_field twice[] = {{"body", "a"}, {"appid", "x"}, {"body", "b"}};
    const struct wechatpay_v2_field twice_empty[] = {{"body", "a"}, {"body", ""}};
    const struct wechatpay_v2_field unnamed[] = {{"", "a"}};
    char sign[WECHATPAY_V2_SIGN_SIZE];
    assert_int_equal(wechatpay_v2_sign(sign, twice, 3, DOC_KEY, WECHATPAY_V2_SIGN_MD5),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(wechatpay_v2_sign(sign, twice_empty, 2, DOC_KEY, WECHATPAY_V2_SIGN_MD5),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(wechatpay_v2_sign(sign, unnamed, 1, DOC_KEY, WECHATPAY_V2_SIGN_MD5),
                     LEB_E_INVALID_REQUEST);
}

/* ---- verification ---- */

static void test_wechatpay_v2__picks_the_sign_type_named_or_implied(void **state)
{
    enum wechatpay_v2_sign_type type;
    assert_int_equal(wechatpay_v2_sign_type_of(&type, "MD5", DOC_HMAC), 0);
    assert_int_equal(type, WECHATPAY_V2_SIGN_MD5);
    assert_int_equal(wechatpay_v2_sign_type_of(&type, "HMAC-SHA256", DOC_MD5), 0);
    assert_int_equal(type, WECHATPAY_V2_SIGN_HMAC_SHA256);
    assert_int_equal(wechatpay_v2_sign_type_of(&type, NULL, DOC_MD5), 0);
    assert_int_equal(type, WECHATPAY_V2_SIGN_MD5);
    assert_int_equal(wechatpay_v2_sign_type_of(&type, "", DOC_HMAC), 0);
    assert_int_equal(type, WECHATPAY_V2_SIGN_HMAC_SHA256);
    assert_int_equal(wechatpay_v2_sign_type_of(&type, "SHA1", DOC_MD5), LEB_E_INVALID_SIGNATURE);
    assert_int_equal(wechatpay_v2_sign_type_of(&type, "md5", DOC_MD5), LEB_E_INVALID_SIGNATURE);
    assert_int_equal(wechatpay_v2_sign_type_of(&type, NULL, "ABC"), LEB_E_INVALID_SIGNATURE);
    assert_int_equal(wechatpay_v2_sign_type_of(&type, NULL, NULL), LEB_E_INVALID_SIGNATURE);
}

static void test_wechatpay_v2__verifies_the_documented_message(void **state)
{
    const char *xml = "<xml>\n<appid>wxd930ea5d5a258f4f</appid>\n<mch_id>10000100</mch_id>\n"
                      "<device_info>1000</device_info>\n<body>test</body>\n"
                      "<nonce_str>ibuaiVcKdpRxkhJA</nonce_str>\n"
                      "<sign>" DOC_MD5 "</sign>\n</xml>";
    struct wechatpay_v2_message message;
    assert_int_equal(wechatpay_v2_xml_parse(&message, xml, strlen(xml)), 0);
    assert_int_equal(message.count, 6);
    assert_int_equal(wechatpay_v2_verify(message.fields, message.count, DOC_KEY), 0);
    assert_int_equal(
        wechatpay_v2_verify(message.fields, message.count, "192006250b4c09247ec02edce69f6a2e"),
        LEB_E_INVALID_SIGNATURE);
    wechatpay_v2_message_free(&message);
}

static void test_wechatpay_v2__verifies_with_the_named_type_and_refuses_changes(void **state)
{
    struct wechatpay_v2_field fields[DOC_COUNT + 2];
    memcpy(fields, doc_fields, sizeof(doc_fields));
    fields[DOC_COUNT] = (struct wechatpay_v2_field){"sign_type", "HMAC-SHA256"};
    char sign[WECHATPAY_V2_SIGN_SIZE];
    /* sign_type is a field like any other: it is signed too. */
    sign_ok(sign, fields, DOC_COUNT + 1, WECHATPAY_V2_SIGN_HMAC_SHA256);
    assert_string_not_equal(sign, DOC_HMAC);
    fields[DOC_COUNT + 1] = (struct wechatpay_v2_field){"sign", sign};
    assert_int_equal(wechatpay_v2_verify(fields, DOC_COUNT + 2, DOC_KEY), 0);

    fields[3].value = "tesT"; /* body */
    assert_int_equal(wechatpay_v2_verify(fields, DOC_COUNT + 2, DOC_KEY), LEB_E_INVALID_SIGNATURE);
    fields[3].value = "test";
    fields[DOC_COUNT].value = "MD5"; /* the same sign, called MD5: not it */
    assert_int_equal(wechatpay_v2_verify(fields, DOC_COUNT + 2, DOC_KEY), LEB_E_INVALID_SIGNATURE);
    fields[DOC_COUNT].value = "HMAC-SHA256";
    fields[DOC_COUNT + 1].value = NULL; /* no sign at all */
    assert_int_equal(wechatpay_v2_verify(fields, DOC_COUNT + 2, DOC_KEY), LEB_E_INVALID_SIGNATURE);
}

/* ---- XML ---- */

static int parse(struct wechatpay_v2_message *message, const char *xml)
{
    int rc = wechatpay_v2_xml_parse(message, xml, strlen(xml));
    if (rc < 0)
        assert_int_equal(message->count, 0);
    return rc;
}

static void test_wechatpay_v2__reads_text_cdata_and_predefined_entities(void **state)
{
    const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml>"
                      "<return_code><![CDATA[SUCCESS]]></return_code>"
                      "<total_fee>1000</total_fee><attach></attach><!-- a comment -->"
                      "<body>a &amp; b &lt;c&gt; &#x5145;</body></xml>";
    struct wechatpay_v2_message message;
    assert_int_equal(parse(&message, xml), 0);
    assert_int_equal(message.count, 4);
    assert_string_equal(wechatpay_v2_message_get(&message, "return_code"), "SUCCESS");
    assert_string_equal(wechatpay_v2_message_get(&message, "total_fee"), "1000");
    assert_string_equal(wechatpay_v2_message_get(&message, "attach"), "");
    assert_string_equal(wechatpay_v2_message_get(&message, "body"), "a & b <c> 充");
    assert_null(wechatpay_v2_message_get(&message, "sign"));
    wechatpay_v2_message_free(&message);
    wechatpay_v2_message_free(&message); /* twice, and NULL: no-ops */
    wechatpay_v2_message_free(NULL);
}

static void test_wechatpay_v2__refuses_a_doctype_and_every_entity(void **state)
{
    const char *bodies[] = {
        /* XXE: an external entity. */
        "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
        "<xml><body>&xxe;</body></xml>",
        /* An internal entity, as a signed value would use it. */
        "<!DOCTYPE xml [<!ENTITY ok \"SUCCESS\">]><xml><return_code>&ok;</return_code></xml>",
        /* "Billion laughs". */
        "<!DOCTYPE xml [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
        "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><xml><body>&c;</body></xml>",
        /* An external DTD, and a DOCTYPE with nothing in it. */
        "<!DOCTYPE xml SYSTEM \"http://127.0.0.1:1/x.dtd\"><xml><body>x</body></xml>",
        "<!DOCTYPE xml><xml><body>x</body></xml>",
        /* An entity without a DTD. */
        "<xml><body>&xxe;</body></xml>",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct wechatpay_v2_message message;
        assert_int_equal(parse(&message, bodies[i]), LEB_E_INVALID_REQUEST);
        wechatpay_v2_message_free(&message);
    }
}

static void test_wechatpay_v2__refuses_what_is_not_a_flat_message(void **state)
{
    const char *bodies[] = {
        "",
        "not xml",
        "<xml><body>x</body>",                     /* not closed */
        "<root><body>x</body></root>",             /* another root */
        "<xml><body><b>x</b></body></xml>",        /* nested */
        "<xml><body>x</body><body>y</body></xml>", /* twice */
        "<xml>text<body>x</body></xml>",           /* text outside the fields */
        "<xml><body a=\"1\">x</body></xml>",       /* an attribute */
        "<xml><![CDATA[x]]><body>x</body></xml>",  /* CDATA outside the fields */
        "<xml><body>x</body></xml><xml></xml>",    /* two roots */
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct wechatpay_v2_message message;
        assert_int_equal(parse(&message, bodies[i]), LEB_E_INVALID_REQUEST);
        wechatpay_v2_message_free(&message);
    }
    struct wechatpay_v2_message message;
    assert_int_equal(wechatpay_v2_xml_parse(&message, NULL, 0), LEB_E_INVALID_REQUEST);
}

static void test_wechatpay_v2__refuses_too_many_fields(void **state)
{
    char xml[8192];
    size_t at = (size_t)snprintf(xml, sizeof(xml), "<xml>");
    for (int i = 0; i <= WECHATPAY_V2_FIELDS_MAX; i++)
        at += (size_t)snprintf(xml + at, sizeof(xml) - at, "<f%d>v</f%d>", i, i);
    snprintf(xml + at, sizeof(xml) - at, "</xml>");
    struct wechatpay_v2_message message;
    assert_int_equal(parse(&message, xml), LEB_E_INVALID_REQUEST);
}

static void test_wechatpay_v2__writes_escaped_xml_that_reads_back(void **state)
{
    const struct wechatpay_v2_field fields[] = {
        {"appid", "wx1"}, {"attach", ""}, {"body", "a&b<c>]]>"}, {"detail", NULL}};
    char *xml = wechatpay_v2_xml_build(fields, 4);
    assert_string_equal(xml, "<xml><appid>wx1</appid><body>a&amp;b&lt;c&gt;]]&gt;</body></xml>");
    struct wechatpay_v2_message message;
    assert_int_equal(parse(&message, xml), 0);
    assert_int_equal(message.count, 2);
    assert_string_equal(wechatpay_v2_message_get(&message, "body"), "a&b<c>]]>");
    wechatpay_v2_message_free(&message);
    free(xml);
}

static void test_wechatpay_v2__writes_times_in_beijing_time(void **state)
{
    char text[15];
    wechatpay_v2_time_format(text, 0);
    assert_string_equal(text, "19700101080000");
    wechatpay_v2_time_format(text, 1764079200); /* 2025-11-25T14:00:00Z */
    assert_string_equal(text, "20251125220000");
    wechatpay_v2_time_format(text, 1767196799); /* 2025-12-31T15:59:59Z: the new year */
    assert_string_equal(text, "20251231235959");
    wechatpay_v2_time_format(text, 1767196800);
    assert_string_equal(text, "20260101000000");
}

static void test_wechatpay_v2__time_parse_reads_beijing_time_back(void **state)
{
    (void)state;
    int64_t at = 0;
    char text[15];
    const int64_t samples[] = {0, 951782400, 1795564800, 1795651199, 4102444799};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        wechatpay_v2_time_format(text, samples[i]);
        assert_int_equal(wechatpay_v2_time_parse(&at, text), 0);
        assert_true(at == samples[i]);
    }
    assert_int_equal(wechatpay_v2_time_parse(&at, "20261125080000"), 0);
    assert_true(at == 1795564800);
    const char *bad[] = {NULL,
                         "",
                         "2026112508000",
                         "202611250800000",
                         "20261325080000",
                         "20260229000000",
                         "20261125240000",
                         "2026112508000x",
                         "2026-11-25 08:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(wechatpay_v2_time_parse(&at, bad[i]), LEB_E_INVALID_REQUEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wechatpay_v2__time_parse_reads_beijing_time_back),
        cmocka_unit_test(test_wechatpay_v2__signs_the_documented_example_with_md5),
        cmocka_unit_test(test_wechatpay_v2__signs_the_documented_example_with_hmac_sha256),
        cmocka_unit_test(test_wechatpay_v2__signs_the_documented_string_sign_temp),
        cmocka_unit_test(test_wechatpay_v2__skips_empty_values),
        cmocka_unit_test(test_wechatpay_v2__leaves_the_sign_field_out),
        cmocka_unit_test(test_wechatpay_v2__signs_whatever_the_order_of_the_fields),
        cmocka_unit_test(test_wechatpay_v2__sorts_names_by_ascii_not_by_alphabet),
        cmocka_unit_test(test_wechatpay_v2__signs_values_as_they_are_without_url_encoding),
        cmocka_unit_test(test_wechatpay_v2__writes_the_sign_in_upper_case_hex),
        cmocka_unit_test(test_wechatpay_v2__refuses_a_name_given_twice_or_no_name),
        cmocka_unit_test(test_wechatpay_v2__picks_the_sign_type_named_or_implied),
        cmocka_unit_test(test_wechatpay_v2__verifies_the_documented_message),
        cmocka_unit_test(test_wechatpay_v2__verifies_with_the_named_type_and_refuses_changes),
        cmocka_unit_test(test_wechatpay_v2__reads_text_cdata_and_predefined_entities),
        cmocka_unit_test(test_wechatpay_v2__refuses_a_doctype_and_every_entity),
        cmocka_unit_test(test_wechatpay_v2__refuses_what_is_not_a_flat_message),
        cmocka_unit_test(test_wechatpay_v2__refuses_too_many_fields),
        cmocka_unit_test(test_wechatpay_v2__writes_escaped_xml_that_reads_back),
        cmocka_unit_test(test_wechatpay_v2__writes_times_in_beijing_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
