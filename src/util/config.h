/*
 * config.h - lebd's configuration: one table, a row per setting, read from an ini file,
 * then LEB_<SECTION>_<KEY> environment variables, then command-line flags (flags win).
 *
 * Unknown sections or keys are start-up errors, never silently ignored. A key ending in
 * "_file" names a file holding a secret: the secret is read from it, so secrets never travel
 * on a command line. Secrets are never logged.
 */
#ifndef LEB_UTIL_CONFIG_H
#define LEB_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define CONFIG_ERROR_SIZE 256

/* With --demo (and only then) these stand in for an unset sandbox.secret and sms.key. */
#define CONFIG_DEMO_SANDBOX_SECRET "demo-sandbox-secret"
#define CONFIG_DEMO_SMS_KEY "demo-sms-key"

/* The most a *_file may hold: a secret or a PEM key is a few KiB at most. */
#define CONFIG_SECRET_FILE_MAX (64 * 1024)

struct config {
    /* [server] */
    char *listen;     /* "127.0.0.1:8080"; port 0 picks a free port */
    char *db;         /* "sqlite:PATH" or "postgres://..." */
    char *public_url; /* base URL providers call back; default http://<listen> */
    bool demo;
    bool test_mode;
    char *web_root;
    int64_t threads_max;    /* connection limit, default 512 */
    int64_t body_max_bytes; /* default 65536 */
    /* [admin] */
    char *admin_password; /* demo bootstrap only */
    /* [sandbox] */
    char *sandbox_secret;
    /* [sms] */
    char *sms_key;
    /* [orders] */
    int64_t order_ttl_s;       /* default 900 */
    int64_t expiry_interval_s; /* how often the expiry job runs, default 5 */
    /* [limits] */
    int64_t card_lookup_per_min;              /* per client address, default 60 */
    int64_t card_lookup_burst;                /* default 20 */
    int64_t portal_codes_per_client_per_hour; /* login codes asked for per address, default 10 */
    /* [store] */
    int64_t batch_max; /* group commit: most writes in one commit, default 256 */
    /* [log] */
    char *log_level; /* debug, info, warn, error; default info */
    /* [server] clock: "now" at start-up, RFC 3339 (demos and tests); NULL: the real time */
    char *clock;
    /* [telecom] delivery of webhooks */
    int64_t telecom_attempts_max; /* failed attempts before a message is dead; default 8 */
    int64_t telecom_backoff_s;    /* first back-off, doubled per failure up to an hour */
    /* [outbox] */
    int64_t outbox_interval_s; /* how often the dispatcher looks for due messages; default 2 */
    /* [payments] */
    int64_t payments_query_after_s; /* an unpaid order is asked about this long after; 120 */
    int64_t payments_interval_s;    /* how often due queries and refunds are made; 15 */
    /* [lifecycle] */
    int64_t lifecycle_interval_s; /* how often billing, suspension, recycling run; default 60 */

    /*
     * The rest of the contract's keys. NULL when not configured: a provider whose keys are
     * NULL is not configured on this server. A key ending in "_file" fills the field named
     * without "_file" with what the file holds, not with its path: a one-line secret loses
     * its trailing line break, a multi-line file (a PEM key) is kept as it is.
     */
    /* [admin] password_file, [sandbox] secret_file and [sms] key_file fill the fields above. */
    /* [sms] */
    char *sms_sendsms_url; /* Kannel's sendsms URL */
    char *sms_username;
    char *sms_password; /* from password_file */
    char *sms_sender;
    /* [telecom] */
    char *telecom_webhook_url;
    char *telecom_webhook_secret; /* from webhook_secret_file */
    /* [alipay] */
    char *alipay_app_id;
    char *alipay_seller_id;
    char *alipay_app_private_key; /* PEM, from app_private_key_file */
    char *alipay_public_key;      /* PEM, from alipay_public_key_file */
    char *alipay_public_key_next; /* PEM, during a rotation: from alipay_public_key_next_file */
    char *alipay_gateway_url;
    /* [wechatpay] (API v3) */
    char *wechatpay_appid;
    char *wechatpay_mch_id;
    char *wechatpay_apiv3_key;           /* from apiv3_key_file */
    char *wechatpay_platform_public_key; /* PEM, from platform_public_key_file */
    char *wechatpay_platform_serial;
    char *wechatpay_platform_public_key_next; /* during a rotation, with its serial: */
    char *wechatpay_platform_serial_next;
    char *wechatpay_merchant_private_key; /* PEM, from merchant_private_key_file */
    char *wechatpay_merchant_serial;
    char *wechatpay_base_url;
    /* [wechatpay_v2] */
    char *wechatpay_v2_appid;
    char *wechatpay_v2_mch_id;
    char *wechatpay_v2_api_key; /* from api_key_file */
    char *wechatpay_v2_cert;    /* PEM client certificate for refunds, from cert_file */
    char *wechatpay_v2_key;     /* PEM, its private key, from key_file */
    char *wechatpay_v2_base_url;
    /* [card] */
    char *card_webhook_secret;      /* from webhook_secret_file */
    char *card_webhook_secret_next; /* during a rotation: from webhook_secret_next_file */
    char *card_api_key;             /* from api_key_file */
    char *card_base_url;
};

/*
 * Fills "out" from defaults, then the ini file named by --config (if any), then the
 * environment "envp" (LEB_* variables), then "argv". On error returns LEB_E_INVALID_REQUEST
 * and writes a one-line human explanation into "error" (naming the file and line, the
 * variable or the flag, never a secret's value). "--help" and "--version" are not handled
 * here. The caller frees with config_free().
 */
LEB_MUST_CHECK int config_load(struct config *out, int argc, char **argv, char **envp,
                               char error[CONFIG_ERROR_SIZE]);

/* Frees what config_load() allocated; NULL and a zeroed struct are fine. */
void config_free(struct config *config);

/* The usage text of lebd, listing every flag. */
const char *config_usage(void);

#endif
