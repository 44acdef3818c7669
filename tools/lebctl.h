/*
 * lebctl.h - the shared pieces of lebctl, the operator's command-line client of lebd.
 *
 * lebctl is a client of lebd's HTTP API and nothing else: it never opens the database and owns
 * no business rules. It parses the command line, checks locally what can be checked before
 * anything is sent (card numbers and their check digit, so a bad CSV row is caught with its
 * line number), sends requests, and prints the answers for people (aligned columns, amounts in
 * yuan) or for scripts (--json: the server's JSON document, unchanged). It must never print the
 * login token, and it must never send the token to a server other than the one that issued it.
 *
 * Command functions return the process's exit code (enum lebctl_exit), not a LEB_E* code: the
 * exit code is the CLI's error contract, documented in `lebctl --help`. Messages are printed
 * once, where the failure is understood, as "lebctl: <message> (<code>)" on stderr.
 */
#ifndef LEBCTL_H
#define LEBCTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define LEBCTL_VERSION "0.1.0"
#define LEBCTL_DEFAULT_SERVER "http://127.0.0.1:8080"
#define LEBCTL_URL_MAX 1024
#define LEBCTL_PATH_MAX 4096
#define LEBCTL_OPTIONS_MAX 24
#define LEBCTL_POSITIONALS_MAX 8

/* What the exit status means; `lebctl --help` documents these numbers for scripts. */
enum lebctl_exit {
    LEBCTL_EXIT_OK = 0,
    LEBCTL_EXIT_CHECK_FAILED = 1, /* a check ran and failed: the ledger is not balanced */
    LEBCTL_EXIT_USAGE = 2,        /* the command line is wrong */
    LEBCTL_EXIT_AUTH = 3,         /* not logged in, unauthorized (401) or forbidden (403) */
    LEBCTL_EXIT_NOT_FOUND = 4,    /* 404 */
    LEBCTL_EXIT_REFUSED = 5,      /* the input was refused: other 4xx, or lebctl's own check */
    LEBCTL_EXIT_SERVER = 6,       /* 5xx, an unreachable server, an answer that is not JSON */
};

/* ---------------------------------------------------------------------------------------------
 * The saved login (lebctl_config.c)
 * ------------------------------------------------------------------------------------------ */

/* What `lebctl login` saves. Every string is owned by the struct (config_login_clear frees). */
struct lebctl_login {
    char *server;
    char *token;
    char *role;
    char *expires_at;
    char *username;
};

/* Writes the path of the saved login into "out": $XDG_CONFIG_HOME/lebctl/config.json, or
 * ~/.config/lebctl/config.json. 0, or -1 with a message printed. */
int config_file_path(char *out, size_t out_size);

/* Loads the saved login into "*out": 0 loaded, 1 there is none, -1 unreadable (message
 * printed). "*out" is always safe to pass to config_login_clear afterwards. */
int config_load(struct lebctl_login *out);

/* Saves "login" with mode 0600 in a directory of mode 0700, atomically (write then rename).
 * 0, or -1 with a message printed. */
int config_save(const struct lebctl_login *login);

/* Deletes the saved login; "*removed" says whether there was one. 0, or -1 (message printed). */
int config_remove(bool *removed);

/* Frees the strings of "login" (wiping the token first) and zeroes it; NULL is fine. */
void config_login_clear(struct lebctl_login *login);

/* ---------------------------------------------------------------------------------------------
 * The run's context and the command line (lebctl.c)
 * ------------------------------------------------------------------------------------------ */

struct lebctl {
    char server[LEBCTL_URL_MAX]; /* base URL, no trailing slash */
    const char *server_source;   /* "--server", "$LEB_SERVER", "the saved login", "the default" */
    bool json;                   /* --json: machine output on stdout */
    struct lebctl_login login;   /* the saved login, if any (have_login) */
    bool have_login;
    bool needs_login;  /* the command sends the token: http_send resolves it first */
    const char *token; /* borrowed; set only for commands that need a login */
    void *curl;        /* the CURL easy handle, created on first use, reused (keep-alive) */
    bool stderr_tty;
};

/* One option of a command: "--name VALUE" (value_name set) or a flag "--name". */
struct lebctl_option {
    const char *name; /* without the leading "--"; NULL ends a list */
    const char *value_name;
    const char *help;
};

/* A parsed command line: values[i] belongs to options[i] (a flag present is ""). */
struct lebctl_args {
    const struct lebctl_option *options;
    const char *values[LEBCTL_OPTIONS_MAX];
    const char *positionals[LEBCTL_POSITIONALS_MAX];
    size_t positional_count;
};

/* The value of option "name", or NULL when it was not given. "name" must be an option of the
 * command (a programmer error otherwise). */
const char *args_get(const struct lebctl_args *args, const char *name);

struct lebctl_command {
    const char *group;    /* "card", or NULL for a top-level command */
    const char *name;     /* "show" */
    const char *synopsis; /* arguments after the command words: "NUMBER" */
    const char *summary;  /* one line for the command list */
    const char *help;     /* paragraphs shown by `lebctl COMMAND --help` */
    const struct lebctl_option *options;
    size_t positionals_min;
    size_t positionals_max;
    bool needs_login;
    bool ignores_saved_login; /* logout: must work even when the saved login is unreadable */
    int (*run)(struct lebctl *ctx, const struct lebctl_args *args);
};

extern const struct lebctl_command lebctl_command_login;
extern const struct lebctl_command lebctl_command_logout;
extern const struct lebctl_command lebctl_command_card_show;
extern const struct lebctl_command lebctl_command_card_create;
extern const struct lebctl_command lebctl_command_card_import;
extern const struct lebctl_command lebctl_command_order_show;
extern const struct lebctl_command lebctl_command_ledger_check;
extern const struct lebctl_command lebctl_command_plan_create;
extern const struct lebctl_command lebctl_command_plan_list;
extern const struct lebctl_command lebctl_command_outbox_list;
extern const struct lebctl_command lebctl_command_outbox_resend;

/* Finds the token for a command that needs a login: $LEB_TOKEN, or the saved login's when it
 * was issued by the server in use. 0, or LEBCTL_EXIT_AUTH with "not logged in" printed.
 * http_send calls it before the first request, so a command checks its own input first. */
int lebctl_resolve_token(struct lebctl *ctx);

/* Prints a usage error ("lebctl: <message>" and a pointer to --help) and returns
 * LEBCTL_EXIT_USAGE, so callers can `return usage_error(...)`. */
int usage_error(const struct lebctl_command *command, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses "text" as a whole non-negative decimal integer no larger than "max"; 0 or -1. */
int parse_count(long long *out, const char *text, long long max);

/* Allocation that cannot fail: out of memory is fatal (the house rule). */
void *xrealloc(void *pointer, size_t size);
char *xstrdup(const char *text);

/* ---------------------------------------------------------------------------------------------
 * Cards (lebctl_card.c)
 * ------------------------------------------------------------------------------------------ */

/* Why "input" is not a card number, for an operator fixing it ("wrong check digit"), or NULL
 * when core/cardno accepts it. */
const char *card_number_problem(const char *input);

/* True for the card statuses of the contract: active, suspended, recycled. */
bool card_status_is_known(const char *status);

/* ---------------------------------------------------------------------------------------------
 * HTTP (lebctl_http.c)
 * ------------------------------------------------------------------------------------------ */

struct http_response {
    long status; /* the HTTP status; 0 when no answer arrived */
    char *body;  /* the raw body, NUL-terminated; owned */
    size_t body_length;
    json_t *json; /* the body parsed, or NULL when it is not JSON; owned */
};

/*
 * Sends "method" "path" (which starts with "/", already escaped) to the server, with "body"
 * as JSON when not NULL and the login token when the command needs one. 0 when an answer
 * arrived, whatever its status; otherwise an exit code with the message printed: LEBCTL_EXIT_AUTH
 * when not logged in (nothing is sent), LEBCTL_EXIT_SERVER when no answer came (the message
 * names the server URL). "*out" must be freed with http_response_free in every case.
 */
int http_send(struct lebctl *ctx, struct http_response *out, const char *method, const char *path,
              const json_t *body);

/* A body sent as it is ("size" bytes of "data" as "content_type"), with an optional progress
 * callback (curl's CURLOPT_XFERINFOFUNCTION) for the upload. */
struct http_upload {
    const char *data;
    size_t size;
    const char *content_type;
    int (*progress)(void *context, long long download_total, long long download_now,
                    long long upload_total, long long upload_now);
    void *progress_context;
};

/* http_send with "upload" as the body: the same rules (token to its own server only, no
 * redirects, http and https only, a bounded answer). */
int http_send_upload(struct lebctl *ctx, struct http_response *out, const char *method,
                     const char *path, const struct http_upload *upload);

extern const struct lebctl_command lebctl_command_order_list;
extern const struct lebctl_command lebctl_command_audit_list;
extern const struct lebctl_command lebctl_command_outbox_summary;
extern const struct lebctl_command lebctl_command_order_resolve;
extern const struct lebctl_command lebctl_command_recon_import;
extern const struct lebctl_command lebctl_command_recon_show;

/* For an answer that is not a 2xx JSON object: prints the API's error and returns the exit
 * code its status means. 0 for a 2xx JSON object. */
int http_check(const struct lebctl *ctx, const struct http_response *response);

/* http_send then http_check: 0 with a 2xx JSON object in out->json, or an exit code. */
int api_call(struct lebctl *ctx, struct http_response *out, const char *method, const char *path,
             const json_t *body);

/* The exit code an HTTP status means (401/403: 3, 404: 4, other 4xx: 5, anything else: 6). */
int exit_code_for_status(long status);

/* The API error code and message of "response" (borrowed), or NULL when it carries none. */
const char *http_error_code(const struct http_response *response);
const char *http_error_message(const struct http_response *response);

/* "segment" percent-escaped for a URL path, in "out"; 0, or -1 when it does not fit. */
int http_escape_segment(char *out, size_t out_size, const char *segment);

void http_response_free(struct http_response *response);

/* Releases the CURL handle of "ctx". */
void http_close(struct lebctl *ctx);

/* ---------------------------------------------------------------------------------------------
 * Output (lebctl_output.c)
 * ------------------------------------------------------------------------------------------ */

/* "lebctl: <message> (<code>)" on stderr; no parenthesis when "code" is NULL. Control
 * characters in the message are replaced, so a server cannot drive the terminal. */
void out_error(const char *code, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* "lebctl: <message>" on stderr. */
void out_note(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Draws "line" as the progress line on stderr, over the previous one. The next message or
 * out_progress_done ends the line, so an error never lands in the middle of a bar. */
void out_progress(const char *line);
void out_progress_done(void);

/* Writes "text" to "stream" with control characters replaced by '?'. */
void out_text(FILE *stream, const char *text);

/* The raw body of "response" on stdout, ending with a newline: what --json promises. */
void out_json_raw(const struct http_response *response);

/* "document" on stdout, indented, in key order: for --json outputs that lebctl composes. */
void out_json(const json_t *document);

/* Columns on a terminal: how many cells "text" (UTF-8) takes; CJK characters take two. */
size_t out_text_width(const char *text);

/* True for keys whose integer values are minor units of money (balance, *_amount, ...). */
bool out_is_money_key(const char *key);

/* "value" as people read it, in a new string (free it): null is "-", booleans "yes"/"no",
 * money "100.00 CNY" when "money" (currency may be NULL), arrays joined with ",", a plan
 * object as "CODE (name)". */
char *out_format_value(const json_t *value, bool money, const char *currency);

/*
 * Prints the members of "object" as aligned "key: value" lines: first "keys" (NULL-ended, a
 * missing one skipped), then every other member not named in "hidden" (NULL-ended, may be
 * NULL). Money keys are formatted in the object's currency.
 */
void out_object(FILE *stream, const json_t *object, const char *const *keys,
                const char *const *hidden);

/*
 * api_call, then the answer as the command's output: the raw body with --json, otherwise
 * "heading" (a line of its own, may be NULL) and out_object with "keys" and "hidden". Returns
 * 0 or the exit code, as api_call.
 */
int api_show(struct lebctl *ctx, const char *method, const char *path, const json_t *body,
             const char *heading, const char *const *keys, const char *const *hidden);

/* A table with aligned columns, built in memory and printed at once. */
struct out_table;

/* A table with "column_count" columns named by "headers" (upper-case by habit). */
struct out_table *out_table_new(size_t column_count, const char *const *headers);

/* Right-aligns column "column" (numbers and money). */
void out_table_align_right(struct out_table *table, size_t column);

/* Appends a row of column_count cells (copied; NULL is "-"). */
void out_table_add_row(struct out_table *table, const char *const *cells);

/* Appends a row whose cells are taken, not copied: they must come from malloc. */
void out_table_add_row_owned(struct out_table *table, char **cells);

void out_table_print(const struct out_table *table, FILE *stream);
void out_table_free(struct out_table *table);

/* ---------------------------------------------------------------------------------------------
 * CSV (lebctl_csv.c)
 * ------------------------------------------------------------------------------------------ */

#define CSV_FIELDS_MAX 64
#define CSV_FIELD_BYTES_MAX 4096

/* One record of a CSV file: its fields, and the line on which it starts (1-based). */
struct csv_record {
    char *fields[CSV_FIELDS_MAX]; /* owned, NUL-terminated */
    size_t field_count;
    size_t line;
};

/* An RFC 4180 reader over a buffer the caller owns and keeps alive. */
struct csv_reader {
    const char *data;
    size_t length;
    size_t position;
    size_t line;
};

/* Starts reading "data" ("length" bytes); a leading UTF-8 byte order mark is skipped. */
void csv_reader_init(struct csv_reader *reader, const char *data, size_t length);

/*
 * Reads the next record into "*record" (free it with csv_record_clear). 1 for a record, 0 at
 * the end, -1 for malformed CSV with the reason in "error" and its line in record->line.
 * Records end with LF or CRLF; fields are separated by commas; a field in double quotes may
 * hold commas, line breaks and doubled quotes. Empty lines are skipped.
 */
int csv_read_record(struct csv_reader *reader, struct csv_record *record, char *error,
                    size_t error_size);

void csv_record_clear(struct csv_record *record);

#endif
