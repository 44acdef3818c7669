/*
 * config.c - lebd's configuration: one table, a row per setting, filled from four sources.
 *
 * This module owns the list of settings (the table below is the only place a setting is
 * named), their defaults and their validation. It reads, in order of precedence, lowest
 * first: the defaults, the ini file given by --config, LEB_<SECTION>_<KEY> environment
 * variables, then the command-line flags.
 *
 * It must never: accept a setting it does not know (a typo must stop the start-up, not leave
 * a default silently in force), accept a secret on the command line (any user can read
 * another's argv in /proc), write a secret's value into an error message, or keep state
 * between calls (the unit tests call config_load() many times in one process, so there is no
 * getopt and no global).
 *
 * How a value travels: each source writes the text it was given into a slot, one per row of
 * the table, after checking it; a later source overwrites an earlier one. Only when every
 * source is read are the winning texts converted into struct config, and only then are *_file
 * files read, so a file that a later source overrides is never opened.
 */
#include "util/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/timeutil.h"
#include "util/log.h"

#ifndef LEB_DEFAULT_WEB_ROOT
#define LEB_DEFAULT_WEB_ROOT "web"
#endif

/* A bound on the names built from the table ("LEB_WECHATPAY_MERCHANT_PRIVATE_KEY_FILE"). */
#define CONFIG_NAME_MAX 96
/* Where a value came from, as an error message names it: "FILE:LINE: [server] listen". */
#define CONFIG_ORIGIN_SIZE 200
/* How much of a bad value an error message quotes. */
#define CONFIG_QUOTE_MAX 48

/* ---------------------------------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------------------------------ */

enum setting_type {
    SETTING_STRING,      /* text; may come from any source */
    SETTING_SECRET,      /* text that may come from the file or the environment, never a flag */
    SETTING_SECRET_FILE, /* a path; the field receives what the file holds */
    SETTING_BOOL,        /* true/false, 1/0, yes/no, on/off */
    SETTING_INT64,       /* a decimal integer within [min, max] */
};

/* Returns NULL if "value" is acceptable, else why not (a sentence fragment, no value in it). */
typedef const char *(*setting_check_fn)(const char *value);

struct setting {
    const char *section;
    const char *key;
    enum setting_type type;
    size_t offset;             /* of the field in struct config */
    const char *default_value; /* NULL: unset unless configured */
    int64_t min, max;          /* SETTING_INT64 only */
    setting_check_fn check;    /* SETTING_STRING only; NULL: any non-empty text */
};

static const char *config_check_listen(const char *value);
static const char *config_check_db(const char *value);
static const char *config_check_url(const char *value);
static const char *config_check_log_level(const char *value);
static const char *config_check_time(const char *value);

#define FIELD(field) offsetof(struct config, field)
#define ROW_STRING(section, key, field, default_value, check)                                      \
    {                                                                                              \
        section, key, SETTING_STRING, FIELD(field), default_value, 0, 0, check                     \
    }
#define ROW_SECRET(section, key, field)                                                            \
    {                                                                                              \
        section, key, SETTING_SECRET, FIELD(field), NULL, 0, 0, NULL                               \
    }
#define ROW_FILE(section, key, field)                                                              \
    {                                                                                              \
        section, key, SETTING_SECRET_FILE, FIELD(field), NULL, 0, 0, NULL                          \
    }
#define ROW_BOOL(section, key, field, default_value)                                               \
    {                                                                                              \
        section, key, SETTING_BOOL, FIELD(field), default_value, 0, 0, NULL                        \
    }
#define ROW_INT64(section, key, field, default_value, min, max)                                    \
    {                                                                                              \
        section, key, SETTING_INT64, FIELD(field), default_value, min, max, NULL                   \
    }

/*
 * Every setting lebd knows, a line each. A secret and its *_file twin share a field: the one
 * given by the later source wins, and giving both in the same source is an error. Nothing
 * depends on the order of the rows; they are grouped by section for the reader. Bounds exist
 * so a typo (ttl_s = 9000000) stops the start-up instead of running a server nobody meant.
 */
static const struct setting config_settings[] = {
    ROW_STRING("server", "listen", listen, "127.0.0.1:8080", config_check_listen),
    ROW_STRING("server", "db", db, "sqlite:var/leb.db", config_check_db),
    ROW_STRING("server", "public_url", public_url, NULL, config_check_url),
    ROW_BOOL("server", "demo", demo, "false"),
    ROW_BOOL("server", "test_mode", test_mode, "false"),
    ROW_STRING("server", "web_root", web_root, LEB_DEFAULT_WEB_ROOT, NULL),
    ROW_STRING("server", "clock", clock, NULL, config_check_time),
    ROW_INT64("server", "threads_max", threads_max, "512", 1, 65536),
    ROW_INT64("server", "body_max_bytes", body_max_bytes, "65536", 1024, 16 * 1024 * 1024),
    ROW_SECRET("admin", "password", admin_password),
    ROW_FILE("admin", "password_file", admin_password),
    ROW_SECRET("sandbox", "secret", sandbox_secret),
    ROW_FILE("sandbox", "secret_file", sandbox_secret),
    ROW_SECRET("sms", "key", sms_key),
    ROW_FILE("sms", "key_file", sms_key),
    ROW_STRING("sms", "sendsms_url", sms_sendsms_url, NULL, config_check_url),
    ROW_STRING("sms", "username", sms_username, NULL, NULL),
    ROW_FILE("sms", "password_file", sms_password),
    ROW_STRING("sms", "sender", sms_sender, NULL, NULL),
    ROW_STRING("telecom", "webhook_url", telecom_webhook_url, NULL, config_check_url),
    ROW_FILE("telecom", "webhook_secret_file", telecom_webhook_secret),
    ROW_STRING("alipay", "app_id", alipay_app_id, NULL, NULL),
    ROW_STRING("alipay", "seller_id", alipay_seller_id, NULL, NULL),
    ROW_FILE("alipay", "app_private_key_file", alipay_app_private_key),
    ROW_FILE("alipay", "alipay_public_key_file", alipay_public_key),
    ROW_FILE("alipay", "alipay_public_key_next_file", alipay_public_key_next),
    ROW_STRING("alipay", "gateway_url", alipay_gateway_url, NULL, config_check_url),
    ROW_STRING("wechatpay", "appid", wechatpay_appid, NULL, NULL),
    ROW_STRING("wechatpay", "mch_id", wechatpay_mch_id, NULL, NULL),
    ROW_FILE("wechatpay", "apiv3_key_file", wechatpay_apiv3_key),
    ROW_FILE("wechatpay", "platform_public_key_file", wechatpay_platform_public_key),
    ROW_STRING("wechatpay", "platform_serial", wechatpay_platform_serial, NULL, NULL),
    ROW_FILE("wechatpay", "platform_public_key_next_file", wechatpay_platform_public_key_next),
    ROW_STRING("wechatpay", "platform_serial_next", wechatpay_platform_serial_next, NULL, NULL),
    ROW_FILE("wechatpay", "merchant_private_key_file", wechatpay_merchant_private_key),
    ROW_STRING("wechatpay", "merchant_serial", wechatpay_merchant_serial, NULL, NULL),
    ROW_STRING("wechatpay", "base_url", wechatpay_base_url, NULL, config_check_url),
    ROW_STRING("wechatpay_v2", "appid", wechatpay_v2_appid, NULL, NULL),
    ROW_STRING("wechatpay_v2", "mch_id", wechatpay_v2_mch_id, NULL, NULL),
    ROW_FILE("wechatpay_v2", "api_key_file", wechatpay_v2_api_key),
    ROW_FILE("wechatpay_v2", "cert_file", wechatpay_v2_cert),
    ROW_FILE("wechatpay_v2", "key_file", wechatpay_v2_key),
    ROW_STRING("wechatpay_v2", "base_url", wechatpay_v2_base_url, NULL, config_check_url),
    ROW_FILE("card", "webhook_secret_file", card_webhook_secret),
    ROW_FILE("card", "webhook_secret_next_file", card_webhook_secret_next),
    ROW_FILE("card", "api_key_file", card_api_key),
    ROW_STRING("card", "base_url", card_base_url, NULL, config_check_url),
    ROW_INT64("orders", "ttl_s", order_ttl_s, "900", 1, 7 * 24 * 3600),
    ROW_INT64("orders", "expiry_interval_s", expiry_interval_s, "5", 1, 3600),
    ROW_INT64("limits", "card_lookup_per_min", card_lookup_per_min, "60", 1, 1000000),
    ROW_INT64("limits", "card_lookup_burst", card_lookup_burst, "20", 1, 1000000),
    ROW_INT64("limits", "portal_codes_per_client_per_hour", portal_codes_per_client_per_hour, "10",
              1, 1000000),
    ROW_INT64("store", "batch_max", batch_max, "256", 1, 10000),
    ROW_INT64("payments", "query_after_s", payments_query_after_s, "120", 1, 86400),
    ROW_INT64("payments", "interval_s", payments_interval_s, "15", 1, 3600),
    ROW_INT64("lifecycle", "interval_s", lifecycle_interval_s, "60", 1, 86400),
    ROW_INT64("telecom", "attempts_max", telecom_attempts_max, "8", 1, 100),
    ROW_INT64("telecom", "backoff_s", telecom_backoff_s, "30", 1, 3600),
    ROW_INT64("outbox", "interval_s", outbox_interval_s, "2", 1, 3600),
    ROW_STRING("log", "level", log_level, "info", config_check_log_level),
};

#define CONFIG_SETTING_COUNT (sizeof(config_settings) / sizeof(config_settings[0]))

/*
 * The flags. --config and --set are handled apart; each other flag is a shorthand for one
 * setting. A flag that is a bool ("--demo") takes no separate value, only "--demo=false".
 */
struct config_flag {
    const char *name;
    const char *section;
    const char *key;
};

static const struct config_flag config_flags[] = {
    {"--listen", "server", "listen"},     {"--db", "server", "db"},
    {"--demo", "server", "demo"},         {"--test-mode", "server", "test_mode"},
    {"--web-root", "server", "web_root"}, {"--public-url", "server", "public_url"},
    {"--log-level", "log", "level"},      {"--clock", "server", "clock"},
};

#define CONFIG_FLAG_COUNT (sizeof(config_flags) / sizeof(config_flags[0]))

static const char config_usage_text[] =
    "Usage: lebd [FLAG]...\n"
    "The LEB recharge daemon.\n"
    "\n"
    "  --config FILE             read settings from this ini file\n"
    "  --listen HOST:PORT        address to listen on (default 127.0.0.1:8080; port 0 picks a\n"
    "                            free port)\n"
    "  --db URL                  sqlite:PATH or postgres://... (default sqlite:var/leb.db)\n"
    "  --demo                    seed the demo data and enable the sandbox payment provider\n"
    "  --test-mode               enable the test-only endpoints (setting the clock); never in\n"
    "                            production\n"
    "  --web-root DIR            directory of the recharge page and its assets\n"
    "  --public-url URL          base URL payment providers and gateways call back\n"
    "  --log-level LEVEL         debug, info, warn or error (default info)\n"
    "  --clock TIME              start the clock at TIME (RFC 3339, e.g. 2027-01-01T00:00:00Z)\n"
    "  --set SECTION.KEY=VALUE   set any setting of the ini file (not a secret)\n"
    "  --help                    print this text and exit\n"
    "  --version                 print the version and exit\n"
    "\n"
    "A flag's value may follow it (--listen 127.0.0.1:0) or be joined with '='\n"
    "(--listen=127.0.0.1:0; --demo=false). Every setting can also be given as the environment\n"
    "variable LEB_<SECTION>_<KEY> (LEB_SERVER_LISTEN, LEB_ORDERS_TTL_S). Flags override the\n"
    "environment, which overrides the file. Secrets (admin.password, sandbox.secret, sms.key)\n"
    "are never taken from the command line: put them in the file, in the environment, or in a\n"
    "file named by the matching *_file key.\n";

const char *config_usage(void)
{
    return config_usage_text;
}

/* ---------------------------------------------------------------------------------------------
 * Checking values
 * ------------------------------------------------------------------------------------------ */

static bool config_parse_bool(const char *text, bool *out)
{
    static const char *const truths[] = {"true", "1", "yes", "on"};
    static const char *const lies[] = {"false", "0", "no", "off"};

    for (size_t i = 0; i < sizeof(truths) / sizeof(truths[0]); i++) {
        if (strcasecmp(text, truths[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, lies[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* A decimal integer, all of "text" and nothing else: "12abc", " 12", "" and "0x10" fail. */
static bool config_parse_int64(const char *text, int64_t *out)
{
    char *end = NULL;

    if (text[0] == '\0' || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')))
        return false;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return false;
    *out = (int64_t)value;
    return true;
}

static const char *config_check_listen(const char *value)
{
    static const char *const why = "expected HOST:PORT with a port from 0 to 65535";
    const char *colon = strrchr(value, ':');

    if (colon == NULL || colon == value)
        return why;
    if (value[0] == '[') {
        /* An IPv6 address must be bracketed, or its colons could not be told from the port's. */
        if (colon - value < 3 || colon[-1] != ']')
            return why;
    } else if (memchr(value, ':', (size_t)(colon - value)) != NULL) {
        return why;
    }
    for (const char *p = value; p < colon; p++) {
        if ((unsigned char)*p <= ' ' || *p == '/')
            return why;
    }
    const char *port = colon + 1;
    size_t digits = strlen(port);
    if (digits == 0 || digits > 5 || strspn(port, "0123456789") != digits || atoi(port) > 65535)
        return why;
    return NULL;
}

static const char *config_check_db(const char *value)
{
    if (strncmp(value, "sqlite:", 7) == 0 && value[7] != '\0')
        return NULL;
    if (strncmp(value, "postgres://", 11) == 0 || strncmp(value, "postgresql://", 13) == 0)
        return NULL;
    return "expected sqlite:PATH, postgres://... or postgresql://...";
}

static const char *config_check_url(const char *value)
{
    static const char *const why = "expected an http:// or https:// URL";
    size_t scheme;

    if (strncmp(value, "http://", 7) == 0)
        scheme = 7;
    else if (strncmp(value, "https://", 8) == 0)
        scheme = 8;
    else
        return why;
    if (value[scheme] == '\0' || value[scheme] == '/')
        return why;
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7F)
            return why;
    }
    return NULL;
}

static const char *config_check_time(const char *value)
{
    int64_t unix_s;
    return time_parse_rfc3339(&unix_s, value) == 0 ? NULL
                                                   : "expected an RFC 3339 UTC time such as "
                                                     "2027-01-01T00:00:00Z";
}

static const char *config_check_log_level(const char *value)
{
    enum log_level level;
    return log_level_parse(value, &level) ? NULL : "expected debug, info, warn or error";
}

/* Copies "text" into "out" for quoting in a message: cut short, control characters as '?', so
 * an error stays one line. */
static void config_quote(char out[CONFIG_QUOTE_MAX + 4], const char *text)
{
    size_t i = 0;
    for (; text[i] != '\0' && i < CONFIG_QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)text[i];
        out[i] = (c < ' ' || c == 0x7F) ? '?' : (char)c;
    }
    if (text[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/*
 * Checks "value" for "setting": true if acceptable, else false with the reason in "reason".
 * The reason quotes a bad value, except a secret's: a secret is never repeated back.
 */
static bool config_setting_validate(const struct setting *setting, const char *value, char *reason,
                                    size_t reason_size)
{
    char quoted[CONFIG_QUOTE_MAX + 4];
    const char *why = NULL;
    int64_t number;
    bool truth;

    switch (setting->type) {
    case SETTING_SECRET:
        if (value[0] == '\0') {
            snprintf(reason, reason_size, "is empty");
            return false;
        }
        return true;
    case SETTING_SECRET_FILE:
        why = value[0] == '\0' ? "expected the path of a file" : NULL;
        break;
    case SETTING_STRING:
        if (value[0] == '\0') {
            snprintf(reason, reason_size, "is empty (leave it out to keep the default)");
            return false;
        }
        if (setting->check != NULL)
            why = setting->check(value);
        break;
    case SETTING_BOOL:
        if (!config_parse_bool(value, &truth))
            why = "expected true, false, 1, 0, yes, no, on or off";
        break;
    case SETTING_INT64:
        if (!config_parse_int64(value, &number) || number < setting->min || number > setting->max) {
            snprintf(reason, reason_size, "expected an integer from %lld to %lld",
                     (long long)setting->min, (long long)setting->max);
            config_quote(quoted, value);
            size_t used = strlen(reason);
            snprintf(reason + used, reason_size - used, " (got '%s')", quoted);
            return false;
        }
        return true;
    }
    if (why == NULL)
        return true;
    config_quote(quoted, value);
    snprintf(reason, reason_size, "%s (got '%s')", why, quoted);
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * The loader: one call's state
 * ------------------------------------------------------------------------------------------ */

enum config_source { SOURCE_DEFAULT, SOURCE_FILE, SOURCE_ENV, SOURCE_FLAG };

struct config_slot {
    char *value; /* owned copy of the text given; NULL when unset */
    enum config_source source;
    int line; /* SOURCE_FILE: the line it was on */
    char origin[CONFIG_ORIGIN_SIZE];
};

struct config_loader {
    struct config_slot slots[CONFIG_SETTING_COUNT];
    char *error; /* the caller's buffer, CONFIG_ERROR_SIZE bytes */
    bool failed;
    int error_line; /* the file's line of the first error, when it came from the file */
    /* The ini file being read. */
    const char *path;
    FILE *file;
    int line;
};

static char *config_strdup(const char *text)
{
    char *copy = strdup(text);
    LEB_ASSERT(copy != NULL); /* Out of memory at start-up is fatal. */
    return copy;
}

/* Frees a copy of a value. Any of them may be a secret, so it is wiped first, with
 * explicit_bzero() since the compiler may drop a memset() before free(). */
static void config_text_free(char *text)
{
    if (text == NULL)
        return;
    explicit_bzero(text, strlen(text));
    free(text);
}

/* Writes the first error message; later ones are dropped so the first cause is what is seen.
 * Always returns LEB_E_INVALID_REQUEST, for "return config_fail(...)". */
__attribute__((format(printf, 2, 3))) static int config_fail(struct config_loader *loader,
                                                             const char *format, ...)
{
    if (!loader->failed) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(loader->error, CONFIG_ERROR_SIZE, format, arguments);
        va_end(arguments);
        loader->failed = true;
    }
    return LEB_E_INVALID_REQUEST;
}

/* The row of "section"."key" (case does not matter, as in pgbouncer), or -1. */
static int config_setting_find(const char *section, const char *key)
{
    for (size_t row = 0; row < CONFIG_SETTING_COUNT; row++) {
        if (strcasecmp(config_settings[row].section, section) == 0 &&
            strcasecmp(config_settings[row].key, key) == 0)
            return (int)row;
    }
    return -1;
}

static bool config_section_is_known(const char *section)
{
    for (size_t row = 0; row < CONFIG_SETTING_COUNT; row++) {
        if (strcasecmp(config_settings[row].section, section) == 0)
            return true;
    }
    return false;
}

/* "LEB_" + "section" + "_" + "key", upper case, into "out"; with an empty "key", the prefix
 * of the section's variables. */
static void config_env_name(char out[CONFIG_NAME_MAX], const char *section, const char *key)
{
    int length = snprintf(out, CONFIG_NAME_MAX, "LEB_%s_%s", section, key);
    LEB_ASSERT(length > 0 && length < CONFIG_NAME_MAX);
    for (char *p = out; *p != '\0'; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    }
}

/*
 * Records "value" for row "row" from "source", "origin" naming where it came from for
 * messages. Checks the value first. A value from a later source replaces the earlier one and
 * clears a twin sharing the field (LEB_ADMIN_PASSWORD overrides admin.password_file from the
 * file); twins from the same source are an error, since which one was meant is unknowable.
 */
static int config_assign(struct config_loader *loader, int row, enum config_source source, int line,
                         const char *value, const char *origin)
{
    const struct setting *setting = &config_settings[row];
    char reason[160];

    LEB_ASSERT(row >= 0 && (size_t)row < CONFIG_SETTING_COUNT);
    if (!config_setting_validate(setting, value, reason, sizeof(reason)))
        return config_fail(loader, "%s: %s", origin, reason);

    for (size_t other = 0; other < CONFIG_SETTING_COUNT; other++) {
        struct config_slot *twin = &loader->slots[other];
        if ((int)other == row || config_settings[other].offset != setting->offset ||
            twin->value == NULL)
            continue;
        if (twin->source == source)
            return config_fail(loader, "%s: [%s] %s is given too (%s); give only one of them",
                               origin, config_settings[other].section, config_settings[other].key,
                               twin->origin);
        LEB_ASSERT(twin->source < source);
        config_text_free(twin->value);
        twin->value = NULL;
    }

    struct config_slot *slot = &loader->slots[row];
    config_text_free(slot->value);
    slot->value = config_strdup(value);
    slot->source = source;
    slot->line = line;
    snprintf(slot->origin, sizeof(slot->origin), "%s", origin);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Source 1: the ini file
 *
 * Parsed by libinih through ini_parse_stream() with our own line reader rather than
 * ini_parse(): Debian's libinih is built without line numbers for the handler
 * (INI_HANDLER_LINENO 0) and with a fixed line buffer (200 bytes) that silently splits a
 * longer line in two, both lines then parsed. Counting lines in the reader gives every message
 * its file:line, and the reader refuses a line that does not fit instead of letting it split.
 *
 * inih's syntax, for the record: "key = value" or "key: value", surrounding spaces stripped; a
 * ';' after a space starts a comment, so a secret holding " ;" belongs in a *_file.
 * ------------------------------------------------------------------------------------------ */

/* Fails for a "[section]" line naming an unknown section: inih calls the handler only for
 * keys, so an unknown section with no keys under it would otherwise pass unnoticed. */
static bool config_ini_check_section_line(struct config_loader *loader, const char *text)
{
    char name[CONFIG_NAME_MAX];
    char quoted[CONFIG_QUOTE_MAX + 4];

    if (loader->line == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0)
        text += 3; /* a UTF-8 byte order mark, which inih skips too */
    text += strspn(text, " \t\r");
    if (*text != '[')
        return true;
    const char *end = strchr(text, ']');
    if (end == NULL)
        return true; /* not a section line after all: inih reports the syntax error */
    size_t length = (size_t)(end - text - 1);
    if (length >= sizeof(name))
        length = sizeof(name) - 1;
    memcpy(name, text + 1, length);
    name[length] = '\0';
    if (config_section_is_known(name))
        return true;
    config_quote(quoted, name);
    config_fail(loader, "%s:%d: unknown section [%s]", loader->path, loader->line, quoted);
    loader->error_line = loader->line;
    return false;
}

/* inih's reader: fgets() that counts lines, refuses over-long ones and stops at the first
 * error (returning NULL ends the parse). */
static char *config_ini_read_line(char *buffer, int size, void *stream)
{
    struct config_loader *loader = stream;

    if (loader->failed || fgets(buffer, size, loader->file) == NULL)
        return NULL;
    loader->line++;
    size_t length = strlen(buffer);
    if (length > 0 && buffer[length - 1] != '\n') {
        int next = getc(loader->file);
        if (next != EOF) {
            config_fail(loader,
                        "%s:%d: line longer than %d bytes (set this one in the environment)",
                        loader->path, loader->line, size - 2);
            loader->error_line = loader->line;
            return NULL;
        }
    }
    if (!config_ini_check_section_line(loader, buffer))
        return NULL;
    return buffer;
}

/* inih's handler: one "key = value" of "section". Returns 0 on error, as inih wants. */
static int config_ini_on_value(void *user, const char *section, const char *key, const char *value)
{
    struct config_loader *loader = user;
    char origin[CONFIG_ORIGIN_SIZE];
    char quoted_section[CONFIG_QUOTE_MAX + 4];
    char quoted_key[CONFIG_QUOTE_MAX + 4];

    if (loader->failed)
        return 0;
    config_quote(quoted_section, section);
    config_quote(quoted_key, key);
    int row = config_setting_find(section, key);
    if (row < 0) {
        if (section[0] == '\0')
            config_fail(loader, "%s:%d: '%s' comes before any [section]", loader->path,
                        loader->line, quoted_key);
        else if (!config_section_is_known(section))
            config_fail(loader, "%s:%d: unknown section [%s]", loader->path, loader->line,
                        quoted_section);
        else
            config_fail(loader, "%s:%d: unknown key '%s' in [%s]", loader->path, loader->line,
                        quoted_key, quoted_section);
        loader->error_line = loader->line;
        return 0;
    }

    const struct setting *setting = &config_settings[row];
    struct config_slot *slot = &loader->slots[row];
    snprintf(origin, sizeof(origin), "%s:%d: [%s] %s", loader->path, loader->line, setting->section,
             setting->key);
    /* inih passes an indented line as more of the previous key's value (INI_ALLOW_MULTILINE is
     * on in Debian's build), so an indented "key = value" shows up here as the key above it
     * given twice: say so, rather than let the last one win unseen. */
    if (slot->value != NULL && slot->source == SOURCE_FILE) {
        config_fail(loader,
                    "%s: given twice (first on line %d; an indented line continues the value "
                    "of the key above it)",
                    origin, slot->line);
        loader->error_line = loader->line;
        return 0;
    }
    if (config_assign(loader, row, SOURCE_FILE, loader->line, value, origin) != 0) {
        loader->error_line = loader->line;
        return 0;
    }
    return 1;
}

static int config_load_file(struct config_loader *loader, const char *path)
{
    loader->path = path;
    loader->line = 0;
    loader->file = fopen(path, "r");
    if (loader->file == NULL)
        return config_fail(loader, "--config %s: cannot open: %s", path, strerror(errno));

    int first_error_line =
        ini_parse_stream(config_ini_read_line, loader, config_ini_on_value, loader);
    bool read_error = ferror(loader->file) != 0;
    fclose(loader->file);
    loader->file = NULL;

    /* inih returns the line of the first error; one of ours came no earlier unless it was a
     * line inih could not parse at all, which then is the first cause to report. */
    if (first_error_line > 0 && (!loader->failed || first_error_line < loader->error_line)) {
        loader->failed = false;
        return config_fail(loader, "%s:%d: expected [section], key = value or a ; comment", path,
                           first_error_line);
    }
    if (loader->failed)
        return LEB_E_INVALID_REQUEST;
    if (first_error_line < 0 || read_error)
        return config_fail(loader, "--config %s: cannot read the file", path);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Source 2: the environment
 * ------------------------------------------------------------------------------------------ */

/*
 * Applies every LEB_<SECTION>_<KEY> of "envp". A variable that starts like a known section
 * but names no key (LEB_SERVER_LISTN) is a typo and an error. Other LEB_* variables are
 * ignored: the prefix is shared with things that are not settings (the Makefile passes
 * LEB_TEST_SANITIZED to the black-box tests, lebctl may grow its own), and refusing them
 * would make lebd fail to start for reasons that have nothing to do with it.
 */
static int config_load_env(struct config_loader *loader, char **envp)
{
    char name[CONFIG_NAME_MAX];

    for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
        const char *entry = envp[i];
        const char *equals = strchr(entry, '=');
        if (strncmp(entry, "LEB_", 4) != 0 || equals == NULL)
            continue;
        size_t name_length = (size_t)(equals - entry);
        const char *value = equals + 1;

        int row = -1;
        for (size_t candidate = 0; candidate < CONFIG_SETTING_COUNT && row < 0; candidate++) {
            config_env_name(name, config_settings[candidate].section,
                            config_settings[candidate].key);
            if (strlen(name) == name_length && strncmp(name, entry, name_length) == 0)
                row = (int)candidate;
        }
        if (row >= 0) {
            config_env_name(name, config_settings[row].section, config_settings[row].key);
            if (config_assign(loader, row, SOURCE_ENV, 0, value, name) != 0)
                return LEB_E_INVALID_REQUEST;
            continue;
        }

        /* The longest known section prefix, so LEB_WECHATPAY_V2_X blames [wechatpay_v2]. */
        const char *section = NULL;
        size_t prefix_length = 0;
        for (size_t candidate = 0; candidate < CONFIG_SETTING_COUNT; candidate++) {
            config_env_name(name, config_settings[candidate].section, "");
            size_t length = strlen(name);
            if (length < name_length && length > prefix_length &&
                strncmp(name, entry, length) == 0) {
                section = config_settings[candidate].section;
                prefix_length = length;
            }
        }
        if (section != NULL) {
            char quoted[CONFIG_QUOTE_MAX + 4];
            char variable[CONFIG_NAME_MAX];
            snprintf(variable, sizeof(variable), "%.*s", (int)name_length, entry);
            config_quote(quoted, variable);
            return config_fail(loader, "%s: unknown setting: [%s] has no such key", quoted,
                               section);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Source 3: the command line
 * ------------------------------------------------------------------------------------------ */

/*
 * Walks "argv" once. With "apply" false it only checks the shape of every argument and finds
 * --config (which must be read before the environment, hence two walks); with "apply" true it
 * records each flag's value. Both "--flag value" and "--flag=value" are accepted. A flag
 * given twice: the last one wins, as people expect when they append to a command.
 */
static int config_load_flags(struct config_loader *loader, int argc, char **argv, bool apply,
                             const char **config_path)
{
    char name[CONFIG_NAME_MAX];
    char origin[CONFIG_ORIGIN_SIZE];

    for (int i = 1; i < argc; i++) {
        const char *argument = argv[i];
        if (strncmp(argument, "--", 2) != 0 || argument[2] == '\0')
            return config_fail(loader, "argument %d is not a flag (lebd takes no other arguments)",
                               i);

        const char *equals = strchr(argument, '=');
        size_t name_length = equals ? (size_t)(equals - argument) : strlen(argument);
        if (name_length >= sizeof(name))
            name_length = sizeof(name) - 1;
        memcpy(name, argument, name_length);
        name[name_length] = '\0';
        const char *value = equals ? equals + 1 : NULL;

        const struct config_flag *flag = NULL;
        for (size_t f = 0; f < CONFIG_FLAG_COUNT; f++) {
            if (strcmp(config_flags[f].name, name) == 0)
                flag = &config_flags[f];
        }
        bool is_config = strcmp(name, "--config") == 0;
        bool is_set = strcmp(name, "--set") == 0;
        if (flag == NULL && !is_config && !is_set) {
            char quoted[CONFIG_QUOTE_MAX + 4];
            config_quote(quoted, name);
            return config_fail(loader, "unknown flag %s", quoted);
        }

        int row = flag ? config_setting_find(flag->section, flag->key) : -1;
        bool is_bool = row >= 0 && config_settings[row].type == SETTING_BOOL;
        if (is_bool && value == NULL) {
            value = "true";
        } else if (value == NULL) {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                return config_fail(loader, "%s needs a value", name);
            value = argv[++i];
        }

        if (is_config) {
            if (!apply && *config_path != NULL)
                return config_fail(loader, "--config is given twice");
            *config_path = value;
            continue;
        }
        if (is_set) {
            /* Only the part before '=' is ever quoted: after it may be a secret. */
            const char *dot = strchr(value, '.');
            const char *assign = strchr(value, '=');
            if (dot == NULL || assign == NULL || dot > assign)
                return config_fail(loader, "--set: expected SECTION.KEY=VALUE");
            char section[CONFIG_NAME_MAX];
            char key[CONFIG_NAME_MAX];
            snprintf(section, sizeof(section), "%.*s", (int)(dot - value), value);
            snprintf(key, sizeof(key), "%.*s", (int)(assign - dot - 1), dot + 1);
            row = config_setting_find(section, key);
            if (row < 0) {
                char quoted_section[CONFIG_QUOTE_MAX + 4];
                char quoted_key[CONFIG_QUOTE_MAX + 4];
                config_quote(quoted_section, section);
                config_quote(quoted_key, key);
                return config_fail(loader, "--set %s.%s: unknown setting", quoted_section,
                                   quoted_key);
            }
            const struct setting *setting = &config_settings[row];
            if (setting->type == SETTING_SECRET) {
                config_env_name(name, setting->section, setting->key);
                return config_fail(loader,
                                   "--set %s.%s: a secret is never taken from the command line; "
                                   "put it in the config file, in %s, or in a file named by "
                                   "%s.%s_file",
                                   setting->section, setting->key, name, setting->section,
                                   setting->key);
            }
            snprintf(origin, sizeof(origin), "--set %s.%s", setting->section, setting->key);
            value = assign + 1;
        } else {
            snprintf(origin, sizeof(origin), "%s", name);
        }
        if (apply && config_assign(loader, row, SOURCE_FLAG, 0, value, origin) != 0)
            return LEB_E_INVALID_REQUEST;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Putting it together
 * ------------------------------------------------------------------------------------------ */

/*
 * Reads the file at "path" into "*out" for a *_file setting. A one-line secret loses its
 * trailing line break (echo adds one, and it is never part of the secret); a file of several
 * lines, a PEM key, is kept exactly, since PEM parsers want the final line break. On error
 * writes why into "reason" (naming the path, never the content).
 */
static int config_read_secret_file(char **out, const char *path, char *reason, size_t reason_size)
{
    int error = LEB_E_INVALID_REQUEST;
    char *content = NULL;
    FILE *file = fopen(path, "rb");

    *out = NULL;
    if (file == NULL) {
        snprintf(reason, reason_size, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    content = malloc(CONFIG_SECRET_FILE_MAX + 1);
    LEB_ASSERT(content != NULL);
    size_t length = fread(content, 1, CONFIG_SECRET_FILE_MAX + 1, file);
    if (ferror(file)) {
        snprintf(reason, reason_size, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    if (length > CONFIG_SECRET_FILE_MAX) {
        snprintf(reason, reason_size, "%s is larger than %d bytes", path, CONFIG_SECRET_FILE_MAX);
        goto out;
    }
    if (memchr(content, '\0', length) != NULL) {
        snprintf(reason, reason_size, "%s holds a NUL byte (a binary key? use PEM)", path);
        goto out;
    }
    content[length] = '\0';
    size_t stripped = length;
    while (stripped > 0 && (content[stripped - 1] == '\n' || content[stripped - 1] == '\r'))
        stripped--;
    if (stripped == 0) {
        snprintf(reason, reason_size, "%s is empty", path);
        goto out;
    }
    if (memchr(content, '\n', stripped) == NULL)
        content[stripped] = '\0';
    *out = content;
    content = NULL;
    error = 0;
out:
    if (content != NULL) {
        explicit_bzero(content, CONFIG_SECRET_FILE_MAX + 1);
        free(content);
    }
    if (file != NULL)
        fclose(file);
    return error;
}

/* Converts the winning text of every slot into its field of "out". */
static int config_finish(struct config_loader *loader, struct config *out)
{
    char reason[CONFIG_ORIGIN_SIZE];

    for (size_t row = 0; row < CONFIG_SETTING_COUNT; row++) {
        const struct setting *setting = &config_settings[row];
        const struct config_slot *slot = &loader->slots[row];
        void *field = (char *)out + setting->offset;

        if (slot->value == NULL)
            continue;
        switch (setting->type) {
        case SETTING_STRING:
        case SETTING_SECRET:
            LEB_ASSERT(*(char **)field == NULL);
            *(char **)field = config_strdup(slot->value);
            break;
        case SETTING_SECRET_FILE:
            LEB_ASSERT(*(char **)field == NULL);
            if (config_read_secret_file((char **)field, slot->value, reason, sizeof(reason)) != 0)
                return config_fail(loader, "%s: %s", slot->origin, reason);
            break;
        case SETTING_BOOL: {
            /* Checked when it was given: failing now is a bug here. */
            bool parsed = config_parse_bool(slot->value, (bool *)field);
            LEB_ASSERT(parsed);
            break;
        }
        case SETTING_INT64: {
            bool parsed = config_parse_int64(slot->value, (int64_t *)field);
            LEB_ASSERT(parsed);
            break;
        }
        }
    }

    /* The contract's demo secrets exist only with --demo; without it a missing secret stays
     * NULL, and the part of lebd that needs it refuses to start. */
    if (out->demo && out->sandbox_secret == NULL)
        out->sandbox_secret = config_strdup(CONFIG_DEMO_SANDBOX_SECRET);
    if (out->demo && out->sms_key == NULL)
        out->sms_key = config_strdup(CONFIG_DEMO_SMS_KEY);
    return 0;
}

int config_load(struct config *out, int argc, char **argv, char **envp,
                char error[CONFIG_ERROR_SIZE])
{
    struct config_loader *loader = calloc(1, sizeof(*loader));
    const char *config_path = NULL;
    int result;

    LEB_ASSERT(out != NULL && error != NULL && argc >= 0);
    LEB_ASSERT(argc == 0 || argv != NULL);
    LEB_ASSERT(loader != NULL);
    memset(out, 0, sizeof(*out));
    error[0] = '\0';
    loader->error = error;

    for (size_t row = 0; row < CONFIG_SETTING_COUNT; row++) {
        if (config_settings[row].default_value == NULL)
            continue;
        int checked = config_assign(loader, (int)row, SOURCE_DEFAULT, 0,
                                    config_settings[row].default_value, "default");
        /* A default that fails its own check is a bug in the table above. */
        LEB_ASSERT(checked == 0);
    }

    result = config_load_flags(loader, argc, argv, false, &config_path);
    if (result != 0)
        goto out;
    if (config_path != NULL) {
        result = config_load_file(loader, config_path);
        if (result != 0)
            goto out;
    }
    result = config_load_env(loader, envp);
    if (result != 0)
        goto out;
    result = config_load_flags(loader, argc, argv, true, &config_path);
    if (result != 0)
        goto out;
    result = config_finish(loader, out);
out:
    for (size_t row = 0; row < CONFIG_SETTING_COUNT; row++)
        config_text_free(loader->slots[row].value);
    free(loader);
    if (result != 0)
        config_free(out);
    return result;
}

void config_free(struct config *config)
{
    if (config == NULL)
        return;
    for (size_t row = 0; row < CONFIG_SETTING_COUNT; row++) {
        const struct setting *setting = &config_settings[row];
        if (setting->type != SETTING_STRING && setting->type != SETTING_SECRET &&
            setting->type != SETTING_SECRET_FILE)
            continue;
        char **field = (char **)((char *)config + setting->offset);
        config_text_free(*field);
        *field = NULL; /* twins share a field: the second visit must find NULL */
    }
    memset(config, 0, sizeof(*config));
}
