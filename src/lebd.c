/*
 * lebd - the LEB daemon's main: configuration, wiring, signals and graceful shutdown.
 *
 * Start-up order: configuration, store (migrations), demo data, HTTP, scheduler; shutdown is
 * the reverse: stop accepting, let in-flight requests finish, stop the scheduler, then close
 * the store, which commits every write already queued. A write is acknowledged only once it
 * is durable, so a crash at any instant loses nothing that was acknowledged.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "app/app.h"
#include "core/timeutil.h"
#include "http/http.h"
#include "sched/sched.h"
#include "store/store.h"
#include "pay/pay.h"
#include "util/config.h"
#include "util/log.h"

#define LEB_VERSION "0.1.0"
#define DEMO_SANDBOX_SECRET "demo-sandbox-secret"
#define DEMO_SMS_KEY "demo-sms-key"

extern char **environ;

static int secret_copy(char *out, size_t size, const char *value, const char *fallback,
                       const char *name, bool demo)
{
    const char *secret = value && value[0] ? value : demo ? fallback : NULL;
    if (secret == NULL) {
        fprintf(stderr,
                "lebd: %s is not set (a file key, or the environment); without --demo "
                "every secret must be given\n",
                name);
        return -1;
    }
    if (strlen(secret) >= size) {
        fprintf(stderr, "lebd: %s is longer than %zu bytes\n", name, size - 1);
        return -1;
    }
    memcpy(out, secret, strlen(secret) + 1);
    return 0;
}

/* With --demo, the admin user's password is $LEB_ADMIN_PASSWORD, or a fresh one printed once
 * on stderr (not through the log: it is a secret for the person starting the demo). */
static int demo_admin(struct app *app, const char *configured)
{
    char generated[32];
    const char *password = configured;
    if (password == NULL || password[0] == '\0') {
        unsigned char random[12];
        randombytes_buf(random, sizeof(random));
        sodium_bin2base64(generated, sizeof(generated), random, sizeof(random),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        password = generated;
    }
    int rc = app_user_set(app, "admin", password, ROLE_ADMIN);
    if (rc == LEB_E_INVALID_REQUEST)
        fprintf(stderr, "lebd: the admin password must be 8 to 1024 characters\n");
    if (rc < 0)
        return rc;
    if (password == generated)
        fprintf(stderr, "lebd: demo admin password: %s\n", generated);
    else
        fprintf(stderr, "lebd: demo admin password: as set in LEB_ADMIN_PASSWORD\n");
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(config_usage(), stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            puts("lebd " LEB_VERSION);
            return 0;
        }
    }
    /* Every thread inherits this mask; the main thread alone takes the signals, by sigwait. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct config config = {0};
    char error[CONFIG_ERROR_SIZE] = "";
    if (config_load(&config, argc, argv, environ, error) < 0) {
        fprintf(stderr, "lebd: %s\n(see lebd --help)\n", error);
        return 2;
    }
    if (!log_set_level_name(config.log_level)) {
        fprintf(stderr, "lebd: unknown log level\n");
        config_free(&config);
        return 2;
    }
    LEB_ASSERT(sodium_init() >= 0);
    LEB_ASSERT(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);

    int exit_code = 1;
    struct store *store = NULL;
    struct http_server *server = NULL;
    struct sched *sched = NULL;
    struct app *app = calloc(1, sizeof(*app));
    LEB_ASSERT(app != NULL);
    /* One clock for every rule: the real time, moved by --clock, and forward by the test-mode
     * clock route. */
    app->clock = app_clock_offset_now;
    app->clock_context = app;
    app->test_mode = config.test_mode;
    if (config.sms_sendsms_url != NULL) {
        if (config.sms_username == NULL || config.sms_password == NULL ||
            strlen(config.sms_sendsms_url) >= sizeof(app->sms_sendsms_url) ||
            strlen(config.sms_username) >= sizeof(app->sms_username) ||
            strlen(config.sms_password) >= sizeof(app->sms_password) ||
            (config.sms_sender && strlen(config.sms_sender) >= sizeof(app->sms_sender))) {
            fprintf(stderr, "lebd: sms.sendsms_url needs sms.username and sms.password_file "
                            "(each of a sensible length)\n");
            goto out;
        }
        snprintf(app->sms_sendsms_url, sizeof(app->sms_sendsms_url), "%s", config.sms_sendsms_url);
        snprintf(app->sms_username, sizeof(app->sms_username), "%s", config.sms_username);
        snprintf(app->sms_password, sizeof(app->sms_password), "%s", config.sms_password);
        snprintf(app->sms_sender, sizeof(app->sms_sender), "%s",
                 config.sms_sender ? config.sms_sender : "");
    }
    app->telecom_attempts_max = config.telecom_attempts_max;
    app->telecom_backoff_s = config.telecom_backoff_s;
    if (config.telecom_webhook_url != NULL) {
        if (config.telecom_webhook_secret == NULL) {
            fprintf(stderr, "lebd: telecom.webhook_url needs telecom.webhook_secret_file: "
                            "webhooks are never sent unsigned\n");
            goto out;
        }
        if (strlen(config.telecom_webhook_url) >= sizeof(app->telecom_webhook_url) ||
            secret_copy(app->telecom_webhook_secret, sizeof(app->telecom_webhook_secret),
                        config.telecom_webhook_secret, NULL, "telecom.webhook_secret_file",
                        false) < 0) {
            fprintf(stderr, "lebd: telecom.webhook_url or its secret is too long\n");
            goto out;
        }
        snprintf(app->telecom_webhook_url, sizeof(app->telecom_webhook_url), "%s",
                 config.telecom_webhook_url);
    }
    if (config.clock != NULL) {
        int64_t start = 0;
        LEB_ASSERT(time_parse_rfc3339(&start, config.clock) == 0); /* config_load checked it */
        atomic_store(&app->clock_offset_s, start - (int64_t)time(NULL));
    }
    app->order_ttl_s = config.order_ttl_s;
    app->sandbox_enabled = config.demo;
    app->config = &config;
    app->payment_query_after_s = config.payments_query_after_s;
    char pay_error[PAY_ERROR_SIZE];
    if (pay_init(app, &config, pay_error) < 0) {
        fprintf(stderr, "lebd: %s\n", pay_error);
        goto out;
    }
    if (secret_copy(app->sms_key, sizeof(app->sms_key), config.sms_key, DEMO_SMS_KEY, "sms.key",
                    config.demo) < 0)
        goto out;
    if (config.demo &&
        secret_copy(app->sandbox_secret, sizeof(app->sandbox_secret), config.sandbox_secret,
                    DEMO_SANDBOX_SECRET, "sandbox.secret", true) < 0)
        goto out;

    struct store_options options = {.batch_max = config.batch_max, .readers = 16};
    int rc = store_open(&store, config.db, &options);
    if (rc == LEB_E_INVALID_REQUEST) {
        fprintf(stderr, "lebd: no store backend for that --db; this build has sqlite:PATH only "
                        "(PostgreSQL is planned)\n");
        goto out;
    }
    if (rc < 0) {
        LOG_ERROR("cannot open the store", "code", leb_error_name(rc));
        goto out;
    }
    app->store = store;
    if (config.demo) {
        rc = app_demo_seed(app);
        if (rc == 0)
            rc = demo_admin(app, config.admin_password);
        if (rc < 0) {
            LOG_ERROR("cannot seed the demo data", "code", leb_error_name(rc));
            goto out;
        }
    } else if (config.admin_password && config.admin_password[0]) {
        rc = app_user_set(app, "admin", config.admin_password, ROLE_ADMIN);
        if (rc == LEB_E_INVALID_REQUEST)
            fprintf(stderr, "lebd: the admin password must be 8 to 1024 characters\n");
        if (rc < 0) {
            LOG_ERROR("cannot set the admin password", "code", leb_error_name(rc));
            goto out;
        }
    }

    rc = http_start(&server, app, &config);
    if (rc < 0)
        goto out;
    char host[64];
    const char *colon = strrchr(config.listen, ':');
    snprintf(host, sizeof(host), "%.*s", (int)(colon - config.listen), config.listen);
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    snprintf(app->self_url, sizeof(app->self_url), "http://%s:%u", host, http_port(server));
    snprintf(app->public_url, sizeof(app->public_url), "%s",
             config.public_url && config.public_url[0] ? config.public_url : app->self_url);

    rc = sched_start(&sched, app, config.expiry_interval_s, config.lifecycle_interval_s,
                     config.outbox_interval_s, config.payments_interval_s);
    if (rc < 0)
        goto out;
    LOG_INFO("listening", "url", app->self_url, "db",
             strncmp(config.db, "sqlite:", 7) == 0 ? config.db : "postgres", "demo",
             config.demo ? LOG_RAW("true") : LOG_RAW("false"), "version", LEB_VERSION);

    int signal_number = 0;
    sigwait(&signals, &signal_number);
    LOG_INFO("shutting down", "signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    atomic_store(&app->stopping, true); /* calls out in flight give up now */
    exit_code = 0;
out:
    http_stop(server);
    sched_stop(sched);
    store_close(store);
    pay_shutdown();
    if (exit_code == 0)
        LOG_INFO("stopped");
    free(app);
    config_free(&config);
    curl_global_cleanup();
    return exit_code;
}
