/*
 * wechatpay_test.c - the WeChat Pay API v3 provider without a network: the texts it signs, the
 * times it writes, its start-up checks, and notifications built here the way WeChat Pay builds
 * them (the transaction encrypted with AES-256-GCM under the APIv3 key, the envelope signed
 * with a platform key generated for the test) taken apart or refused. The calls it makes are
 * tested against a simulator in tests/integration/pay_wechatpay.test.js.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "pay/pay.h"
#include "pay/pay_crypto.h"
#include "pay/wechatpay.h"
#include "util/config.h"
#include "util/log.h"

#define APPID "wx0123456789abcdef"
#define MCHID "1900000001"
#define APIV3_KEY "0123456789ABCDEFabcdef0123456789"
#define PLATFORM_SERIAL "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
#define MERCHANT_SERIAL "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
#define GCM_NONCE "0123456789ab"

/* Keys made once for every test: the merchant's, WeChat Pay's platform key, and a stranger. */
static EVP_PKEY *merchant_key, *platform_key, *stranger_key;
static char *merchant_pem, *platform_public_pem;

static char *pem_of(EVP_PKEY *key, bool private_part)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    if (private_part)
        assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
    char *data = NULL;
    long size = BIO_get_mem_data(bio, &data);
    char *pem = malloc((size_t)size + 1);
    assert_non_null(pem);
    memcpy(pem, data, (size_t)size);
    pem[size] = '\0';
    BIO_free(bio);
    return pem;
}

static int keys_make(void **state)
{
    (void)state;
    log_set_level(LOG_LEVEL_ERROR);
    assert_true(sodium_init() >= 0);
    merchant_key = EVP_RSA_gen(2048);
    platform_key = EVP_RSA_gen(2048);
    stranger_key = EVP_RSA_gen(2048);
    assert_true(merchant_key && platform_key && stranger_key);
    merchant_pem = pem_of(merchant_key, true);
    platform_public_pem = pem_of(platform_key, false);
    return 0;
}

static int keys_free(void **state)
{
    (void)state;
    EVP_PKEY_free(merchant_key);
    EVP_PKEY_free(platform_key);
    EVP_PKEY_free(stranger_key);
    free(merchant_pem);
    free(platform_public_pem);
    return 0;
}

static struct config config_full(void)
{
    struct config config;
    memset(&config, 0, sizeof(config));
    config.wechatpay_appid = APPID;
    config.wechatpay_mch_id = MCHID;
    config.wechatpay_apiv3_key = APIV3_KEY;
    config.wechatpay_platform_public_key = platform_public_pem;
    config.wechatpay_platform_serial = PLATFORM_SERIAL;
    config.wechatpay_merchant_private_key = merchant_pem;
    config.wechatpay_merchant_serial = MERCHANT_SERIAL;
    config.wechatpay_base_url = "https://api.mch.weixin.qq.com/";
    return config;
}

static int provider_start(void **state)
{
    (void)state;
    struct config config = config_full();
    char error[PAY_ERROR_SIZE] = "";
    assert_int_equal(pay_wechatpay.init(&config, error), 0);
    return 0;
}

static int provider_stop(void **state)
{
    (void)state;
    pay_wechatpay.shutdown();
    return 0;
}

/* ---- a notification, as WeChat Pay makes one ---- */

struct headers {
    const char *names[4];
    char values[4][1024];
};

static const char *header_find(void *context, const char *name)
{
    struct headers *headers = context;
    for (size_t i = 0; i < 4; i++)
        if (headers->names[i] && strcasecmp(headers->names[i], name) == 0)
            return headers->values[i][0] ? headers->values[i] : NULL;
    return NULL;
}

/* AEAD_AES_256_GCM of "plain" under "key": base64 of the ciphertext and its tag, malloc'd. */
static char *encrypt_resource(const char *key, const char *plain)
{
    size_t size = strlen(plain);
    unsigned char *sealed = malloc(size + 16);
    assert_non_null(sealed);
    EVP_CIPHER_CTX *context = EVP_CIPHER_CTX_new();
    int n = 0, final = 0;
    assert_int_equal(EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), NULL, NULL, NULL), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, 12, NULL), 1);
    assert_int_equal(EVP_EncryptInit_ex(context, NULL, NULL, (const unsigned char *)key,
                                        (const unsigned char *)GCM_NONCE),
                     1);
    assert_int_equal(EVP_EncryptUpdate(context, NULL, &n, (const unsigned char *)"transaction", 11),
                     1);
    assert_int_equal(
        EVP_EncryptUpdate(context, sealed, &n, (const unsigned char *)plain, (int)size), 1);
    assert_int_equal(EVP_EncryptFinal_ex(context, sealed + n, &final), 1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, 16, sealed + size), 1);
    EVP_CIPHER_CTX_free(context);
    size_t encoded_size = sodium_base64_encoded_len(size + 16, sodium_base64_VARIANT_ORIGINAL);
    char *encoded = malloc(encoded_size);
    assert_non_null(encoded);
    sodium_bin2base64(encoded, encoded_size, sealed, size + 16, sodium_base64_VARIANT_ORIGINAL);
    free(sealed);
    return encoded;
}

struct notification {
    char body[4096];
    struct headers headers;
};

struct notification_options {
    const char *event_type;  /* NULL: TRANSACTION.SUCCESS */
    const char *trade_state; /* NULL: SUCCESS */
    const char *appid;       /* NULL: ours */
    const char *apiv3_key;   /* NULL: ours */
    EVP_PKEY *signer;        /* NULL: the platform key */
    const char *serial;      /* NULL: the platform serial */
    int64_t age_s;           /* how old its timestamp is */
    bool no_transaction_id;
};

static void notification_make(struct notification *out, const struct notification_options *o)
{
    char transaction[1024];
    snprintf(transaction, sizeof(transaction),
             "{\"appid\":\"%s\",\"mchid\":\"" MCHID "\",\"out_trade_no\":\"LEB1\",%s"
             "\"trade_type\":\"NATIVE\",\"trade_state\":\"%s\",\"amount\":{\"total\":5000,"
             "\"payer_total\":5000,\"currency\":\"CNY\",\"payer_currency\":\"CNY\"}}",
             o->appid ? o->appid : APPID,
             o->no_transaction_id ? "" : "\"transaction_id\":\"4200000001202611250000000001\",",
             o->trade_state ? o->trade_state : "SUCCESS");
    char *ciphertext = encrypt_resource(o->apiv3_key ? o->apiv3_key : APIV3_KEY, transaction);
    snprintf(
        out->body, sizeof(out->body),
        "{\"id\":\"EV-2018022511223320873\",\"create_time\":\"2026-11-25T13:29:35+08:00\","
        "\"resource_type\":\"encrypt-resource\",\"event_type\":\"%s\",\"summary\":\"支付成功\","
        "\"resource\":{\"original_type\":\"transaction\",\"algorithm\":\"AEAD_AES_256_GCM\","
        "\"ciphertext\":\"%s\",\"associated_data\":\"transaction\",\"nonce\":\"" GCM_NONCE "\"}}",
        o->event_type ? o->event_type : "TRANSACTION.SUCCESS", ciphertext);
    free(ciphertext);
    char timestamp[24];
    snprintf(timestamp, sizeof(timestamp), "%lld", (long long)time(NULL) - (long long)o->age_s);
    const char *nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";
    const char *parts[] = {timestamp, nonce, out->body};
    const size_t sizes[] = {strlen(timestamp), strlen(nonce), strlen(out->body)};
    size_t text_size = 0;
    char *text = wechatpay_signed_text(&text_size, parts, sizes, 3);
    char *signature = pay_rsa_sign_base64(o->signer ? o->signer : platform_key, text, text_size);
    assert_non_null(signature);
    free(text);
    memset(&out->headers, 0, sizeof(out->headers));
    const char *names[] = {"Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature",
                           "Wechatpay-Serial"};
    const char *values[] = {timestamp, nonce, signature, o->serial ? o->serial : PLATFORM_SERIAL};
    for (size_t i = 0; i < 4; i++) {
        out->headers.names[i] = names[i];
        snprintf(out->headers.values[i], sizeof(out->headers.values[i]), "%s", values[i]);
    }
    free(signature);
}

static int parse(struct notification *notification, struct pay_notify_parsed *out)
{
    struct pay_notify_input input = {.body = notification->body,
                                     .body_size = strlen(notification->body),
                                     .content_type = "application/json",
                                     .header = header_find,
                                     .header_context = &notification->headers};
    return pay_wechatpay.notify_parse(NULL, &input, out);
}

/* ---- tests ---- */

static void test_wechatpay__writes_times_in_beijing_time(void **state)
{
    (void)state;
    char text[WECHATPAY_TIME_SIZE];
    wechatpay_time_format(text, 0);
    assert_string_equal(text, "1970-01-01T08:00:00+08:00");
    wechatpay_time_format(text, 1764086399); /* 2025-11-25T15:59:59Z */
    assert_string_equal(text, "2025-11-25T23:59:59+08:00");
    wechatpay_time_format(text, 1764086400);
    assert_string_equal(text, "2025-11-26T00:00:00+08:00");
}

static void test_wechatpay__ends_every_signed_line_with_a_newline(void **state)
{
    (void)state;
    const char *parts[] = {"GET", "/v3/certificates", "1554208460",
                           "593BEC0C930BF1AFEB40B4A08C8FB242", ""};
    const size_t sizes[] = {3, 16, 10, 32, 0};
    size_t size = 0;
    char *text = wechatpay_signed_text(&size, parts, sizes, 5);
    assert_string_equal(text,
                        "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n");
    assert_int_equal(size, strlen(text));
    free(text);
}

static void test_wechatpay__is_off_when_nothing_is_set(void **state)
{
    (void)state;
    struct config config;
    memset(&config, 0, sizeof(config));
    char error[PAY_ERROR_SIZE] = "";
    assert_int_equal(pay_wechatpay.init(&config, error), LEB_E_NOT_FOUND);
}

static void test_wechatpay__names_the_setting_that_is_missing_or_bad(void **state)
{
    (void)state;
    char error[PAY_ERROR_SIZE];
    struct config config;
    memset(&config, 0, sizeof(config));
    config.wechatpay_appid = APPID;
    assert_int_equal(pay_wechatpay.init(&config, error), LEB_E_INVALID_REQUEST);
    assert_non_null(strstr(error, "mch_id"));
    assert_non_null(strstr(error, "LEB_WECHATPAY_MCH_ID"));

    config = config_full();
    config.wechatpay_apiv3_key = "0123456789ABCDEFabcdef012345678"; /* 31 bytes */
    assert_int_equal(pay_wechatpay.init(&config, error), LEB_E_INVALID_REQUEST);
    assert_non_null(strstr(error, "apiv3_key_file"));
    assert_null(strstr(error, "0123456789ABCDEF"));

    config = config_full();
    config.wechatpay_merchant_private_key = platform_public_pem;
    assert_int_equal(pay_wechatpay.init(&config, error), LEB_E_INVALID_REQUEST);
    assert_non_null(strstr(error, "merchant_private_key_file"));
    assert_null(strstr(error, "BEGIN"));

    config = config_full();
    config.wechatpay_platform_serial_next = "ABCDEF";
    assert_int_equal(pay_wechatpay.init(&config, error), LEB_E_INVALID_REQUEST);
    assert_non_null(strstr(error, "platform_serial_next"));

    config = config_full();
    config.wechatpay_merchant_serial = "1DDE55\"AD";
    assert_int_equal(pay_wechatpay.init(&config, error), LEB_E_INVALID_REQUEST);
    assert_non_null(strstr(error, "merchant_serial"));
}

static void test_wechatpay__reads_a_signed_encrypted_notification(void **state)
{
    (void)state;
    struct notification notification;
    notification_make(&notification, &(struct notification_options){0});
    struct pay_notify_parsed parsed;
    assert_int_equal(parse(&notification, &parsed), 0);
    assert_string_equal(parsed.notice.provider, "wechatpay");
    assert_string_equal(parsed.notice.order_no, "LEB1");
    assert_string_equal(parsed.notice.trade_no, "4200000001202611250000000001");
    assert_int_equal(parsed.notice.amount, 5000);
    assert_true(parsed.notice.success);
    assert_false(parsed.notice.merchant_mismatch);
    assert_string_equal(parsed.notice.status_word, "SUCCESS");
    assert_ptr_equal(parsed.notice.raw, notification.body); /* the body as received */
    pay_notify_parsed_free(&parsed);
}

static void test_wechatpay__refuses_what_it_cannot_verify(void **state)
{
    (void)state;
    struct notification notification;
    struct pay_notify_parsed parsed;
    const struct notification_options cases[] = {
        {.signer = stranger_key},
        {.serial = "00000000000000000000000000000000000000AA"},
        {.age_s = 301},
        {.age_s = -301},
        {.apiv3_key = "ffffffffffffffffffffffffffffffff"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        notification_make(&notification, &cases[i]);
        assert_int_equal(parse(&notification, &parsed), LEB_E_INVALID_SIGNATURE);
        assert_null(parsed.owner);
    }
    /* One byte changed after signing. */
    notification_make(&notification, &(struct notification_options){0});
    notification.body[strlen(notification.body) - 3] ^= 1;
    assert_int_equal(parse(&notification, &parsed), LEB_E_INVALID_SIGNATURE);
    /* No signature at all. */
    notification_make(&notification, &(struct notification_options){0});
    notification.headers.values[2][0] = '\0';
    assert_int_equal(parse(&notification, &parsed), LEB_E_INVALID_SIGNATURE);
}

static void test_wechatpay__marks_another_application_as_a_mismatch(void **state)
{
    (void)state;
    struct notification notification;
    notification_make(&notification, &(struct notification_options){.appid = "wxffffffffffffffff"});
    struct pay_notify_parsed parsed;
    assert_int_equal(parse(&notification, &parsed), 0);
    assert_true(parsed.notice.merchant_mismatch);
    pay_notify_parsed_free(&parsed);
}

static void test_wechatpay__reads_states_and_ignores_what_says_nothing(void **state)
{
    (void)state;
    struct notification notification;
    struct pay_notify_parsed parsed;
    notification_make(&notification, &(struct notification_options){.trade_state = "CLOSED",
                                                                    .no_transaction_id = true});
    assert_int_equal(parse(&notification, &parsed), 0);
    assert_false(parsed.notice.success);
    assert_string_equal(parsed.notice.trade_no, "CLOSED-LEB1");
    pay_notify_parsed_free(&parsed);

    notification_make(&notification, &(struct notification_options){.trade_state = "NOTPAY"});
    assert_int_equal(parse(&notification, &parsed), PAY_NOTIFY_IGNORED);
    notification_make(&notification,
                      &(struct notification_options){.event_type = "REFUND.SUCCESS"});
    assert_int_equal(parse(&notification, &parsed), PAY_NOTIFY_IGNORED);
    notification_make(&notification, &(struct notification_options){.trade_state = "REFUND"});
    assert_int_equal(parse(&notification, &parsed), LEB_E_INVALID_REQUEST);
    /* A SUCCESS without WeChat Pay's transaction number is not a payment LEB can record. */
    notification_make(&notification, &(struct notification_options){.no_transaction_id = true});
    assert_int_equal(parse(&notification, &parsed), LEB_E_INVALID_REQUEST);
}

static void test_wechatpay__answers_as_wechat_pay_expects(void **state)
{
    (void)state;
    struct pay_reply reply;
    pay_wechatpay.notify_reply(PAY_VERDICT_ACCEPTED, &reply);
    assert_int_equal(reply.status, 204);
    assert_string_equal(reply.body, "");
    pay_wechatpay.notify_reply(PAY_VERDICT_RETRY, &reply);
    assert_int_equal(reply.status, 500);
    assert_non_null(strstr(reply.body, "\"code\":\"FAIL\""));
    pay_wechatpay.notify_reply(PAY_VERDICT_REJECTED, &reply);
    assert_int_equal(reply.status, 401);
    assert_string_equal(reply.body, "{\"code\":\"FAIL\",\"message\":\"签名错误\"}");
    assert_string_equal(reply.content_type, "application/json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wechatpay__writes_times_in_beijing_time),
        cmocka_unit_test(test_wechatpay__ends_every_signed_line_with_a_newline),
        cmocka_unit_test(test_wechatpay__is_off_when_nothing_is_set),
        cmocka_unit_test(test_wechatpay__names_the_setting_that_is_missing_or_bad),
        cmocka_unit_test_setup_teardown(test_wechatpay__reads_a_signed_encrypted_notification,
                                        provider_start, provider_stop),
        cmocka_unit_test_setup_teardown(test_wechatpay__refuses_what_it_cannot_verify,
                                        provider_start, provider_stop),
        cmocka_unit_test_setup_teardown(test_wechatpay__marks_another_application_as_a_mismatch,
                                        provider_start, provider_stop),
        cmocka_unit_test_setup_teardown(test_wechatpay__reads_states_and_ignores_what_says_nothing,
                                        provider_start, provider_stop),
        cmocka_unit_test(test_wechatpay__answers_as_wechat_pay_expects),
    };
    return cmocka_run_group_tests(tests, keys_make, keys_free);
}
