/*
 * config_test.c - the configuration: defaults, the precedence of file < environment < flag,
 * and that every mistake stops the start-up with a message naming where it is and never
 * repeating a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/config.h"

/* Temporary files of the current run, removed by the group teardown even when a test fails. */
#define TEMP_FILES_MAX 64
static char temp_paths[TEMP_FILES_MAX][64];
static int temp_count;

/* Writes "content" to a new file under /tmp and returns its path (valid until teardown). */
static const char *temp_file(const char *content)
{
    assert_true(temp_count < TEMP_FILES_MAX);
    char *path = temp_paths[temp_count++];
    snprintf(path, sizeof(temp_paths[0]), "/tmp/leb_config_test_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t length = strlen(content);
    assert_int_equal(write(fd, content, length), (ssize_t)length);
    assert_int_equal(close(fd), 0);
    return path;
}

static int temp_files_remove(void **state)
{
    for (int i = 0; i < temp_count; i++)
        unlink(temp_paths[i]);
    temp_count = 0;
    return 0;
}

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", part, text);
}

static void assert_not_contains(const char *text, const char *part)
{
    if (strstr(text, part) != NULL)
        fail_msg("did not expect \"%s\" in \"%s\"", part, text);
}

static int argv_count(char **argv)
{
    int count = 0;
    while (argv[count] != NULL)
        count++;
    return count;
}

/* Loads and expects success; the caller frees with config_free(). */
static void load_ok(struct config *config, char **argv, char **envp)
{
    char error[CONFIG_ERROR_SIZE];
    int result = config_load(config, argv_count(argv), argv, envp, error);
    if (result != 0)
        fail_msg("config_load failed: %s", error);
}

/* Loads and expects failure; the message is left in "error". */
static void load_fails(char error[CONFIG_ERROR_SIZE], char **argv, char **envp)
{
    struct config config;
    int result = config_load(&config, argv_count(argv), argv, envp, error);
    if (result == 0) {
        config_free(&config);
        fail_msg("config_load succeeded; expected an error");
    }
    assert_int_equal(result, LEB_E_INVALID_REQUEST);
    assert_true(error[0] != '\0');
    assert_null(strchr(error, '\n')); /* one line */
    /* A failed load leaves nothing to free. */
    assert_null(config.listen);
    assert_null(config.admin_password);
}

#define ARGS(...) ((char *[]){"lebd", __VA_ARGS__, NULL})
#define NO_ARGS ((char *[]){"lebd", NULL})
#define ENV(...) ((char *[]){__VA_ARGS__, NULL})

/* ---------------------------------------------------------------------------------------------
 * Defaults and precedence
 * ------------------------------------------------------------------------------------------ */

static void test_config__has_the_documented_defaults(void **state)
{
    struct config config;
    load_ok(&config, NO_ARGS, NULL);

    assert_string_equal(config.listen, "127.0.0.1:8080");
    assert_string_equal(config.db, "sqlite:var/leb.db");
    assert_null(config.public_url);
    assert_false(config.demo);
    assert_false(config.test_mode);
    assert_non_null(config.web_root);
    assert_int_equal(config.threads_max, 512);
    assert_int_equal(config.body_max_bytes, 65536);
    assert_int_equal(config.order_ttl_s, 900);
    assert_int_equal(config.expiry_interval_s, 5);
    assert_int_equal(config.card_lookup_per_min, 60);
    assert_int_equal(config.card_lookup_burst, 20);
    assert_int_equal(config.batch_max, 256);
    assert_string_equal(config.log_level, "info");
    /* Secrets have no default outside --demo. */
    assert_null(config.admin_password);
    assert_null(config.sandbox_secret);
    assert_null(config.sms_key);
    assert_null(config.alipay_app_id);
    config_free(&config);
}

static void test_config__file_loses_to_environment_which_loses_to_flags(void **state)
{
    const char *path = temp_file("; a comment\n"
                                 "[server]\n"
                                 "listen = 10.0.0.1:1000\n"
                                 "db = sqlite:/tmp/from-file.db\n"
                                 "public_url = https://file.example\n"
                                 "\n"
                                 "[orders]\n"
                                 "ttl_s = 100\n"
                                 "expiry_interval_s = 7\n"
                                 "[store]\n"
                                 "batch_max = 10\n");
    char *argv[] = {"lebd", "--config", (char *)path, "--listen", "10.0.0.3:3000", NULL};
    char **envp = ENV("PATH=/usr/bin", "LEB_SERVER_LISTEN=10.0.0.2:2000", "LEB_ORDERS_TTL_S=200",
                      "LEB_SERVER_PUBLIC_URL=https://env.example");
    struct config config;
    load_ok(&config, argv, envp);

    assert_string_equal(config.listen, "10.0.0.3:3000");           /* flag */
    assert_int_equal(config.order_ttl_s, 200);                     /* environment */
    assert_string_equal(config.public_url, "https://env.example"); /* environment */
    assert_string_equal(config.db, "sqlite:/tmp/from-file.db");    /* file */
    assert_int_equal(config.expiry_interval_s, 7);                 /* file */
    assert_int_equal(config.batch_max, 10);                        /* file */
    assert_int_equal(config.threads_max, 512);                     /* default */
    config_free(&config);
}

static void test_config__flags_take_both_spellings_and_set(void **state)
{
    struct config config;
    load_ok(&config,
            ARGS("--listen=127.0.0.1:0", "--db", "postgres://leb@localhost/leb", "--demo",
                 "--test-mode=yes", "--web-root", "/srv/web", "--public-url=http://[::1]:9",
                 "--log-level", "debug", "--set", "orders.ttl_s=2", "--set=store.batch_max=1",
                 "--set", "alipay.app_id=2021000", "--set", "limits.card_lookup_burst=3"),
            NULL);

    assert_string_equal(config.listen, "127.0.0.1:0");
    assert_string_equal(config.db, "postgres://leb@localhost/leb");
    assert_true(config.demo);
    assert_true(config.test_mode);
    assert_string_equal(config.web_root, "/srv/web");
    assert_string_equal(config.public_url, "http://[::1]:9");
    assert_string_equal(config.log_level, "debug");
    assert_int_equal(config.order_ttl_s, 2);
    assert_int_equal(config.batch_max, 1);
    assert_string_equal(config.alipay_app_id, "2021000");
    assert_int_equal(config.card_lookup_burst, 3);
    config_free(&config);
}

static void test_config__a_repeated_flag_keeps_the_last_value(void **state)
{
    struct config config;
    load_ok(&config, ARGS("--demo", "--listen", "[::1]:1", "--listen", "0.0.0.0:2", "--demo=off"),
            NULL);
    assert_string_equal(config.listen, "0.0.0.0:2");
    assert_false(config.demo);
    config_free(&config);
}

static void test_config__accepts_every_contract_key_without_a_flag(void **state)
{
    const char *path = temp_file("[alipay]\n"
                                 "app_id = 2021\n"
                                 "seller_id = 2088\n"
                                 "gateway_url = https://openapi.alipay.example/gateway.do\n"
                                 "[wechatpay]\n"
                                 "appid = wx1\n"
                                 "mch_id = 190\n"
                                 "platform_serial = ABC\n"
                                 "merchant_serial = DEF\n"
                                 "base_url = https://api.mch.example\n"
                                 "[wechatpay_v2]\n"
                                 "mch_id = 191\n"
                                 "[card]\n"
                                 "base_url = http://127.0.0.1:9999\n"
                                 "[telecom]\n"
                                 "webhook_url = http://127.0.0.1:9998/hook\n"
                                 "[sms]\n"
                                 "sendsms_url = http://127.0.0.1:13013/cgi-bin/sendsms\n"
                                 "username = kannel\n"
                                 "sender = 10086\n");
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    struct config config;
    load_ok(&config, argv,
            ENV("LEB_WECHATPAY_V2_APPID=wx2", "LEB_WECHATPAY_V2_BASE_URL=https://v2"));

    assert_string_equal(config.alipay_app_id, "2021");
    assert_string_equal(config.alipay_seller_id, "2088");
    assert_string_equal(config.alipay_gateway_url, "https://openapi.alipay.example/gateway.do");
    assert_string_equal(config.wechatpay_appid, "wx1");
    assert_string_equal(config.wechatpay_mch_id, "190");
    assert_string_equal(config.wechatpay_platform_serial, "ABC");
    assert_string_equal(config.wechatpay_merchant_serial, "DEF");
    assert_string_equal(config.wechatpay_base_url, "https://api.mch.example");
    assert_string_equal(config.wechatpay_v2_appid, "wx2");
    assert_string_equal(config.wechatpay_v2_mch_id, "191");
    assert_string_equal(config.wechatpay_v2_base_url, "https://v2");
    assert_string_equal(config.card_base_url, "http://127.0.0.1:9999");
    assert_string_equal(config.telecom_webhook_url, "http://127.0.0.1:9998/hook");
    assert_string_equal(config.sms_sendsms_url, "http://127.0.0.1:13013/cgi-bin/sendsms");
    assert_string_equal(config.sms_username, "kannel");
    assert_string_equal(config.sms_sender, "10086");
    config_free(&config);
}

static void test_config__ignores_leb_variables_outside_the_known_sections(void **state)
{
    struct config config;
    load_ok(&config, NO_ARGS, ENV("LEB_TEST_SANITIZED=1", "LEBD=/bin/lebd", "LEB_=x", "LEB_LOG"));
    assert_string_equal(config.log_level, "info");
    config_free(&config);
}

static void test_config__demo_supplies_the_demo_secrets(void **state)
{
    struct config config;
    load_ok(&config, ARGS("--demo"), ENV("LEB_SMS_KEY=real-key"));
    assert_string_equal(config.sandbox_secret, CONFIG_DEMO_SANDBOX_SECRET);
    assert_string_equal(config.sms_key, "real-key");
    assert_null(config.admin_password); /* lebd generates and prints one */
    config_free(&config);
}

static void test_config__can_be_loaded_again_in_the_same_process(void **state)
{
    struct config config;
    for (int i = 0; i < 3; i++) {
        load_ok(&config, ARGS("--listen", "127.0.0.1:9"), NULL);
        assert_string_equal(config.listen, "127.0.0.1:9");
        config_free(&config);
    }
    config_free(&config); /* a freed config is zeroed: freeing again is harmless */
    config_free(NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Mistakes, each named by its place
 * ------------------------------------------------------------------------------------------ */

static void test_config__rejects_an_unknown_section_naming_file_and_line(void **state)
{
    const char *path = temp_file("[server]\nlisten = 127.0.0.1:1\n\n[nope]\nx = 1\n");
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    char error[CONFIG_ERROR_SIZE];
    char where[128];
    load_fails(error, argv, NULL);
    snprintf(where, sizeof(where), "%s:4:", path);
    assert_contains(error, where);
    assert_contains(error, "[nope]");
}

static void test_config__rejects_an_unknown_section_even_when_empty(void **state)
{
    const char *path = temp_file("[server]\n[alipy]\n");
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    char error[CONFIG_ERROR_SIZE];
    char where[128];
    load_fails(error, argv, NULL);
    snprintf(where, sizeof(where), "%s:2:", path);
    assert_contains(error, where);
    assert_contains(error, "alipy");
}

static void test_config__rejects_an_unknown_key_naming_file_and_line(void **state)
{
    const char *path = temp_file("[server]\ndb = sqlite:x.db\nlisen = 127.0.0.1:1\n");
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    char error[CONFIG_ERROR_SIZE];
    char where[128];
    load_fails(error, argv, NULL);
    snprintf(where, sizeof(where), "%s:3:", path);
    assert_contains(error, where);
    assert_contains(error, "lisen");
    assert_contains(error, "[server]");
}

static void test_config__rejects_a_key_before_any_section(void **state)
{
    const char *path = temp_file("listen = 127.0.0.1:1\n");
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, argv, NULL);
    assert_contains(error, ":1:");
    assert_contains(error, "listen");
}

static void test_config__rejects_a_line_that_is_not_ini_naming_its_line(void **state)
{
    const char *path = temp_file("[server]\nlisten\nlisen = 1\n");
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    char error[CONFIG_ERROR_SIZE];
    char where[128];
    load_fails(error, argv, NULL);
    snprintf(where, sizeof(where), "%s:2:", path); /* the first error, not the later one */
    assert_contains(error, where);
}

static void test_config__rejects_a_key_given_twice_or_an_indented_line(void **state)
{
    const char *twice = temp_file("[server]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n");
    const char *indented = temp_file("[server]\ndb = sqlite:x.db\n  listen = 127.0.0.1:2\n");
    char error[CONFIG_ERROR_SIZE];

    char *argv_twice[] = {"lebd", "--config", (char *)twice, NULL};
    load_fails(error, argv_twice, NULL);
    assert_contains(error, ":3:");
    assert_contains(error, "given twice");

    char *argv_indented[] = {"lebd", "--config", (char *)indented, NULL};
    load_fails(error, argv_indented, NULL);
    assert_contains(error, ":3:");
    assert_contains(error, "indented");
}

static void test_config__rejects_a_line_too_long_to_parse_whole(void **state)
{
    char content[1024];
    char url[600];
    memset(url, 'a', sizeof(url) - 1);
    url[sizeof(url) - 1] = '\0';
    snprintf(content, sizeof(content), "[server]\npublic_url = https://%s\n", url);
    const char *path = temp_file(content);
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, argv, NULL);
    assert_contains(error, ":2:");
    assert_contains(error, "longer than");
}

static void test_config__rejects_a_missing_config_file(void **state)
{
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, ARGS("--config", "/nonexistent/leb.ini"), NULL);
    assert_contains(error, "--config /nonexistent/leb.ini");
}

static void test_config__rejects_an_unknown_flag(void **state)
{
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, ARGS("--demo", "--frobnicate=1"), NULL);
    assert_contains(error, "unknown flag --frobnicate");
    assert_not_contains(error, "=1");
    load_fails(error, ARGS("-demo"), NULL);
    assert_contains(error, "argument 1");
}

static void test_config__rejects_a_positional_argument(void **state)
{
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, ARGS("--demo", "leb.ini"), NULL);
    assert_contains(error, "argument 2 is not a flag");
}

static void test_config__rejects_a_flag_without_its_value(void **state)
{
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, ARGS("--listen"), NULL);
    assert_contains(error, "--listen needs a value");
    load_fails(error, ARGS("--db", "--demo"), NULL);
    assert_contains(error, "--db needs a value");
}

static void test_config__rejects_a_bad_int_naming_where(void **state)
{
    const char *path = temp_file("[orders]\nttl_s = 12abc\n");
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    char error[CONFIG_ERROR_SIZE];
    char where[128];

    load_fails(error, argv, NULL);
    snprintf(where, sizeof(where), "%s:2: [orders] ttl_s", path);
    assert_contains(error, where);
    assert_contains(error, "12abc");

    load_fails(error, NO_ARGS, ENV("LEB_ORDERS_TTL_S=0"));
    assert_contains(error, "LEB_ORDERS_TTL_S");
    load_fails(error, NO_ARGS, ENV("LEB_ORDERS_TTL_S="));
    assert_contains(error, "LEB_ORDERS_TTL_S");
    load_fails(error, NO_ARGS, ENV("LEB_SERVER_THREADS_MAX=99999999999999999999"));
    assert_contains(error, "LEB_SERVER_THREADS_MAX");
    load_fails(error, ARGS("--set", "server.body_max_bytes=1023"), NULL);
    assert_contains(error, "--set server.body_max_bytes");
    load_fails(error, ARGS("--set", "server.body_max_bytes=16777217"), NULL);
    assert_contains(error, "body_max_bytes");
    load_fails(error, ARGS("--set", "store.batch_max=10001"), NULL);
    assert_contains(error, "--set store.batch_max");
    load_fails(error, ARGS("--set", "store.batch_max= 5"), NULL);
    assert_contains(error, "batch_max");
}

static void test_config__rejects_a_bad_bool_naming_where(void **state)
{
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, ARGS("--demo=maybe"), NULL);
    assert_contains(error, "--demo");
    assert_contains(error, "maybe");
    load_fails(error, NO_ARGS, ENV("LEB_SERVER_TEST_MODE=sure"));
    assert_contains(error, "LEB_SERVER_TEST_MODE");
}

static void test_config__rejects_a_bad_listen_address(void **state)
{
    static const char *const bad[] = {
        "127.0.0.1", "127.0.0.1:65536", ":8080",       "host:", "::1:80", "[::1]", "a b:1", "h:8x",
        "h:-1",      "h:123456",        "http://h:80", ""};
    char error[CONFIG_ERROR_SIZE];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *argv[] = {"lebd", "--listen", (char *)bad[i], NULL};
        load_fails(error, argv, NULL);
        assert_contains(error, "--listen");
    }
    struct config config;
    load_ok(&config, ARGS("--listen", "localhost:65535"), NULL);
    config_free(&config);
}

static void test_config__rejects_a_bad_db_url(void **state)
{
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, NO_ARGS, ENV("LEB_SERVER_DB=mysql://localhost/leb"));
    assert_contains(error, "LEB_SERVER_DB");
    load_fails(error, ARGS("--db", "sqlite:"), NULL);
    assert_contains(error, "--db");
    load_fails(error, ARGS("--db", "var/leb.db"), NULL);
    assert_contains(error, "--db");
}

static void test_config__rejects_a_bad_log_level_and_url(void **state)
{
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, ARGS("--log-level", "verbose"), NULL);
    assert_contains(error, "--log-level");
    load_fails(error, ARGS("--public-url", "ftp://x"), NULL);
    assert_contains(error, "--public-url");
}

static void test_config__rejects_an_unknown_key_of_a_known_section_in_the_environment(void **state)
{
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, NO_ARGS, ENV("LEB_SERVER_LISTN=127.0.0.1:1"));
    assert_contains(error, "LEB_SERVER_LISTN");
    load_fails(error, NO_ARGS, ENV("LEB_WECHATPAY_V2_APP_ID=x"));
    assert_contains(error, "LEB_WECHATPAY_V2_APP_ID");
    assert_contains(error, "[wechatpay_v2]");
}

static void test_config__rejects_an_unknown_setting_in_set(void **state)
{
    char error[CONFIG_ERROR_SIZE];
    load_fails(error, ARGS("--set", "server.lisen=1"), NULL);
    assert_contains(error, "server.lisen");
    load_fails(error, ARGS("--set", "listen=1"), NULL);
    assert_contains(error, "SECTION.KEY=VALUE");
}

/* ---------------------------------------------------------------------------------------------
 * Secrets
 * ------------------------------------------------------------------------------------------ */

static void test_config__refuses_a_secret_on_the_command_line(void **state)
{
    static const char *const secrets[] = {
        "admin.password=hunter2-secret", "sandbox.secret=hunter2-secret", "sms.key=hunter2-secret"};
    char error[CONFIG_ERROR_SIZE];
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
        char *argv[] = {"lebd", "--set", (char *)secrets[i], NULL};
        load_fails(error, argv, NULL);
        assert_contains(error, "secret");
        assert_contains(error, "_file");
        assert_not_contains(error, "hunter2");
    }
    char *joined[] = {"lebd", "--set=admin.password=hunter2-secret", NULL};
    load_fails(error, joined, NULL);
    assert_contains(error, "LEB_ADMIN_PASSWORD");
    assert_not_contains(error, "hunter2");
}

static void test_config__reads_secrets_from_files(void **state)
{
    const char *password = temp_file("s3cret-password\n");
    const char *sandbox = temp_file("sandbox-secret\r\n");
    const char *pem = temp_file("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    const char *sms = temp_file("sms-password");
    char ini[512];
    snprintf(ini, sizeof(ini), "[admin]\npassword_file = %s\n[alipay]\napp_private_key_file = %s\n",
             password, pem);
    const char *path = temp_file(ini);
    char env_sandbox[128];
    snprintf(env_sandbox, sizeof(env_sandbox), "LEB_SANDBOX_SECRET_FILE=%s", sandbox);
    char set_sms[128];
    snprintf(set_sms, sizeof(set_sms), "sms.password_file=%s", sms);
    char *argv[] = {"lebd", "--config", (char *)path, "--set", set_sms, NULL};
    char *envp[] = {env_sandbox, "LEB_SMS_KEY=sms-key", NULL};
    struct config config;
    load_ok(&config, argv, envp);

    assert_string_equal(config.admin_password, "s3cret-password");
    assert_string_equal(config.sandbox_secret, "sandbox-secret");
    assert_string_equal(config.sms_key, "sms-key");
    assert_string_equal(config.sms_password, "sms-password");
    /* A PEM key keeps its line breaks, the last one too. */
    assert_string_equal(config.alipay_app_private_key,
                        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    config_free(&config);
}

static void test_config__a_later_source_overrides_a_secret_file_unread(void **state)
{
    /* The file's secret_file does not exist; the environment's secret wins, so it is never
     * opened and the start-up succeeds. */
    const char *path = temp_file("[admin]\npassword_file = /nonexistent/password\n");
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    struct config config;
    load_ok(&config, argv, ENV("LEB_ADMIN_PASSWORD=from-env"));
    assert_string_equal(config.admin_password, "from-env");
    config_free(&config);
}

static void test_config__rejects_a_missing_or_empty_secret_file(void **state)
{
    const char *path = temp_file("[sandbox]\nsecret_file = /nonexistent/secret\n");
    char *argv[] = {"lebd", "--config", (char *)path, NULL};
    char error[CONFIG_ERROR_SIZE];
    char where[128];
    load_fails(error, argv, NULL);
    snprintf(where, sizeof(where), "%s:2: [sandbox] secret_file", path);
    assert_contains(error, where);
    assert_contains(error, "/nonexistent/secret");

    load_fails(error, NO_ARGS, ENV("LEB_SMS_KEY_FILE=/nonexistent/key"));
    assert_contains(error, "LEB_SMS_KEY_FILE");

    const char *empty = temp_file("\n");
    char env[128];
    snprintf(env, sizeof(env), "LEB_CARD_API_KEY_FILE=%s", empty);
    char *envp[] = {env, NULL};
    load_fails(error, NO_ARGS, envp);
    assert_contains(error, "LEB_CARD_API_KEY_FILE");
    assert_contains(error, "empty");
}

static void test_config__never_repeats_a_secret_in_an_error(void **state)
{
    char error[CONFIG_ERROR_SIZE];

    /* A secret and its *_file twin in the same file. */
    const char *twins = temp_file("[sandbox]\nsecret = topsecret-value\nsecret_file = /x\n");
    char *argv_twins[] = {"lebd", "--config", (char *)twins, NULL};
    load_fails(error, argv_twins, NULL);
    assert_contains(error, ":3:");
    assert_not_contains(error, "topsecret");

    /* A secret given twice, and an indented line under a secret. */
    const char *twice = temp_file("[admin]\npassword = topsecret-one\npassword = topsecret-two\n");
    char *argv_twice[] = {"lebd", "--config", (char *)twice, NULL};
    load_fails(error, argv_twice, NULL);
    assert_not_contains(error, "topsecret");
    const char *indented = temp_file("[admin]\npassword = topsecret-one\n  topsecret-two\n");
    char *argv_indented[] = {"lebd", "--config", (char *)indented, NULL};
    load_fails(error, argv_indented, NULL);
    assert_not_contains(error, "topsecret");

    /* Both in the environment, and an empty one. */
    load_fails(error, NO_ARGS, ENV("LEB_SMS_KEY=topsecret-key", "LEB_SMS_KEY_FILE=/x"));
    assert_contains(error, "LEB_SMS_KEY");
    assert_not_contains(error, "topsecret");
    load_fails(error, NO_ARGS, ENV("LEB_ADMIN_PASSWORD="));
    assert_contains(error, "LEB_ADMIN_PASSWORD");

    /* A later error while a secret is loaded. */
    load_fails(error, ARGS("--listen", "nope"), ENV("LEB_ADMIN_PASSWORD=topsecret-pw"));
    assert_not_contains(error, "topsecret");
}

static void test_config__usage_lists_every_flag(void **state)
{
    static const char *const flags[] = {"--config",    "--listen",   "--db",         "--demo",
                                        "--test-mode", "--web-root", "--public-url", "--log-level",
                                        "--set",       "--help",     "--version"};
    const char *usage = config_usage();
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        assert_contains(usage, flags[i]);
    assert_contains(usage, "LEB_<SECTION>_<KEY>");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config__has_the_documented_defaults),
        cmocka_unit_test(test_config__file_loses_to_environment_which_loses_to_flags),
        cmocka_unit_test(test_config__flags_take_both_spellings_and_set),
        cmocka_unit_test(test_config__a_repeated_flag_keeps_the_last_value),
        cmocka_unit_test(test_config__accepts_every_contract_key_without_a_flag),
        cmocka_unit_test(test_config__ignores_leb_variables_outside_the_known_sections),
        cmocka_unit_test(test_config__demo_supplies_the_demo_secrets),
        cmocka_unit_test(test_config__can_be_loaded_again_in_the_same_process),
        cmocka_unit_test(test_config__rejects_an_unknown_section_naming_file_and_line),
        cmocka_unit_test(test_config__rejects_an_unknown_section_even_when_empty),
        cmocka_unit_test(test_config__rejects_an_unknown_key_naming_file_and_line),
        cmocka_unit_test(test_config__rejects_a_key_before_any_section),
        cmocka_unit_test(test_config__rejects_a_line_that_is_not_ini_naming_its_line),
        cmocka_unit_test(test_config__rejects_a_key_given_twice_or_an_indented_line),
        cmocka_unit_test(test_config__rejects_a_line_too_long_to_parse_whole),
        cmocka_unit_test(test_config__rejects_a_missing_config_file),
        cmocka_unit_test(test_config__rejects_an_unknown_flag),
        cmocka_unit_test(test_config__rejects_a_positional_argument),
        cmocka_unit_test(test_config__rejects_a_flag_without_its_value),
        cmocka_unit_test(test_config__rejects_a_bad_int_naming_where),
        cmocka_unit_test(test_config__rejects_a_bad_bool_naming_where),
        cmocka_unit_test(test_config__rejects_a_bad_listen_address),
        cmocka_unit_test(test_config__rejects_a_bad_db_url),
        cmocka_unit_test(test_config__rejects_a_bad_log_level_and_url),
        cmocka_unit_test(test_config__rejects_an_unknown_key_of_a_known_section_in_the_environment),
        cmocka_unit_test(test_config__rejects_an_unknown_setting_in_set),
        cmocka_unit_test(test_config__refuses_a_secret_on_the_command_line),
        cmocka_unit_test(test_config__reads_secrets_from_files),
        cmocka_unit_test(test_config__a_later_source_overrides_a_secret_file_unread),
        cmocka_unit_test(test_config__rejects_a_missing_or_empty_secret_file),
        cmocka_unit_test(test_config__never_repeats_a_secret_in_an_error),
        cmocka_unit_test(test_config__usage_lists_every_flag),
    };
    return cmocka_run_group_tests(tests, NULL, temp_files_remove);
}
