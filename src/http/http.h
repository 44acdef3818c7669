/*
 * http.h - the HTTP layer: libmicrohttpd in, JSON out, and nothing else.
 *
 * This layer translates requests into calls of src/app and LEB_E_* codes into statuses and
 * the contract's error bodies. It holds no business rule. Each request owns its memory (the
 * body, the response), freed when the request completes.
 */
#ifndef LEB_HTTP_HTTP_H
#define LEB_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "app/app.h"
#include "core/ratelimit.h"
#include "util/config.h"

#define HTTP_PARAMS_MAX 4
#define HTTP_PARAM_SIZE 128
#define HTTP_REQUEST_ID_SIZE 17
#define HTTP_CLIENT_ADDRESS_SIZE 64
#define HTTP_HEADERS_MAX 4

struct http_server;

enum http_auth { AUTH_NONE = 0, AUTH_TOKEN };

struct http_request {
    struct http_server *server;
    struct app *app;
    struct MHD_Connection *connection;
    const char *method;
    const char *path;
    char *body;
    size_t body_size;
    size_t body_capacity;
    size_t body_max_bytes; /* the matched route's bound, or the configured one */
    bool body_too_large;
    char params[HTTP_PARAMS_MAX][HTTP_PARAM_SIZE]; /* the {} segments of the route */
    size_t params_count;
    char request_id[HTTP_REQUEST_ID_SIZE];
    char client_address[HTTP_CLIENT_ADDRESS_SIZE];
    bool authenticated;
    struct token_row token; /* when authenticated */
    const char *bearer;     /* the token itself, when authenticated */
    int route_index;
    int64_t started_us;
};

struct http_response {
    unsigned int status;
    char *body; /* malloc'd; freed by the server */
    size_t body_size;
    const char *content_type;
    const char *header_names[HTTP_HEADERS_MAX];
    char header_values[HTTP_HEADERS_MAX][128];
    size_t headers_count;
    const char *file_path; /* a static file to send instead of body */
    /* An error's details: a human message overriding the default, and a JSON value. */
    char error_message[256];
    json_t *error_details;
};

typedef int (*http_handler)(struct http_request *request, struct http_response *response);

struct http_route {
    const char *method;
    const char *pattern; /* "/api/v1/orders/{}" */
    http_handler handler;
    enum http_auth auth;
    const char *metric_name; /* the route's label in metrics */
    size_t body_max_bytes;   /* 0: the configured body_max_bytes */
    bool test_only;          /* exists only with --test-mode */
};

/* ---- the server ---- */

LEB_MUST_CHECK int http_start(struct http_server **out, struct app *app,
                              const struct config *config);
/* The port actually bound (for --listen HOST:0). */
unsigned int http_port(const struct http_server *server);
/* Stops accepting, lets in-flight requests finish, then frees. NULL is fine. */
void http_stop(struct http_server *server);
/* Appends printf-formatted text to a growing buffer ("*out" is malloc'd, "*size" excludes the
 * NUL that is always kept). */
void http_buffer_append(char **out, size_t *size, size_t *capacity, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
/* Renders Prometheus text of the HTTP counters into "out" (appending). */
void http_metrics_render(struct http_server *server, char **out, size_t *size, size_t *capacity);
const struct config *http_config(const struct http_server *server);
/* The limits kept per client address. */
enum http_limit {
    HTTP_LIMIT_CARD_LOOKUP = 0, /* [limits] card_lookup_per_min, card_lookup_burst */
    HTTP_LIMIT_PORTAL_CODES,    /* [limits] portal_codes_per_client_per_hour */
    HTTP_LIMIT_COUNT
};

/* Takes a token from the request's client address's bucket of "limit". */
bool http_rate_limit_take(struct http_request *request, enum http_limit limit);

/* ---- the routes (routes_*.c), in one table (router.c) ---- */

extern const struct http_route http_routes[];
extern const size_t http_routes_count;

/* Finds the route for "method" and "path". Returns its index and fills "request->params"; or
 * LEB_E_NOT_FOUND, or LEB_E_METHOD_NOT_ALLOWED with "allow" listing the methods. */
int http_route_match(struct http_request *request, const char *method, const char *path,
                     char *allow, size_t allow_size);

/* ---- request and response helpers (json_io.c) ---- */

/* Parses the body as a JSON object: LEB_E_INVALID_JSON, LEB_E_UNSUPPORTED_MEDIA_TYPE. */
LEB_MUST_CHECK int http_body_json(struct http_request *request, json_t **out);

/* Required or optional fields; LEB_E_INVALID_REQUEST names the field in the message. */
LEB_MUST_CHECK int http_field_string(struct http_response *response, json_t *object,
                                     const char *key, bool required, size_t size_max,
                                     const char **out);
/* An amount: an integer within +-2^53 (so JavaScript clients see it exactly); else
 * LEB_E_INVALID_AMOUNT. */
LEB_MUST_CHECK int http_field_amount(struct http_response *response, json_t *object,
                                     const char *key, bool required, int64_t *out);
LEB_MUST_CHECK int http_field_bool(struct http_response *response, json_t *object, const char *key,
                                   bool *out);
/* Rejects any key of "object" not in "allowed" (NULL-terminated). */
LEB_MUST_CHECK int http_fields_only(struct http_response *response, json_t *object,
                                    const char *const *allowed);

/* Sets "response" to "status" with "value" as its JSON body; steals the reference. */
int http_reply_json(struct http_response *response, unsigned int status, json_t *value);
/* Sets a text body. */
int http_reply_text(struct http_response *response, unsigned int status, const char *content_type,
                    const char *text);
void http_header_add(struct http_response *response, const char *name, const char *value);
/* An error's specific human message. Returns "code", so handlers can `return
 * http_error(...)`. */
int http_error(struct http_response *response, int code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Requires a permission; LEB_E_UNAUTHORIZED or LEB_E_FORBIDDEN. */
LEB_MUST_CHECK int http_require(struct http_request *request, enum permission permission);

/* A query parameter, or NULL. */
const char *http_query(struct http_request *request, const char *key);
/* The "limit" query parameter: "fallback" when absent, else 1..max; LEB_E_INVALID_REQUEST
 * (with its message) otherwise. */
LEB_MUST_CHECK int http_query_limit(struct http_request *request, struct http_response *response,
                                    long fallback, long max, long *out);
/* A request header, or NULL. */
const char *http_header(struct http_request *request, const char *name);

/* JSON views shared by routes. */
json_t *http_json_time(int64_t unix_s); /* RFC 3339 string, or null for 0 */
json_t *http_json_card_full(const struct card_row *card);
json_t *http_json_plan(const struct plan *plan);
json_t *http_json_autorenew(const struct autorenew_row *row);
/* An order as its payer sees it (with the payment links while it waits for payment). */
json_t *http_json_order(const struct app *app, const struct order_row *order);

/* Applies a PUT of a card's auto-renewal setting: an "operator" may also name the agreement's
 * provider and (sandbox) behaviour, a cardholder only the rule. */
int http_autorenew_change(struct http_request *request, struct http_response *response,
                          const char *card, bool operator);

/* Route handlers. */
int route_healthz(struct http_request *, struct http_response *);
int route_readyz(struct http_request *, struct http_response *);
int route_metrics(struct http_request *, struct http_response *);
int route_card_public(struct http_request *, struct http_response *);
int route_card_balance(struct http_request *, struct http_response *);
int route_quote(struct http_request *, struct http_response *);
int route_order_create(struct http_request *, struct http_response *);
int route_order_get(struct http_request *, struct http_response *);
int route_order_qr(struct http_request *, struct http_response *);
int route_payment_methods(struct http_request *, struct http_response *);
int route_sandbox_notify(struct http_request *, struct http_response *);
int route_payment_notify(struct http_request *, struct http_response *);
int route_sandbox_page(struct http_request *, struct http_response *);
int route_sandbox_pay(struct http_request *, struct http_response *);
int route_login(struct http_request *, struct http_response *);
int route_ledger_check(struct http_request *, struct http_response *);
int route_plan_create(struct http_request *, struct http_response *);
int route_plans_list(struct http_request *, struct http_response *);
int route_cards_create(struct http_request *, struct http_response *);
int route_sms_inbound(struct http_request *, struct http_response *);
int route_static(struct http_request *, struct http_response *);
int route_clock(struct http_request *, struct http_response *);
int route_jobs_run(struct http_request *, struct http_response *);
int route_outbox_list(struct http_request *, struct http_response *);
int route_outbox_resend(struct http_request *, struct http_response *);
int route_autorenew_get(struct http_request *, struct http_response *);
int route_autorenew_put(struct http_request *, struct http_response *);
int route_outbox_summary(struct http_request *, struct http_response *);
int route_orders_list(struct http_request *, struct http_response *);
int route_order_resolve(struct http_request *, struct http_response *);
int route_audit_list(struct http_request *, struct http_response *);
int route_sms_dlr(struct http_request *, struct http_response *);
int route_portal_otp(struct http_request *, struct http_response *);
int route_portal_session_open(struct http_request *, struct http_response *);
int route_portal_session_close(struct http_request *, struct http_response *);
int route_portal_card(struct http_request *, struct http_response *);
int route_portal_history(struct http_request *, struct http_response *);
int route_portal_autorenew_get(struct http_request *, struct http_response *);
int route_portal_autorenew_put(struct http_request *, struct http_response *);
int route_portal_language(struct http_request *, struct http_response *);

#endif
