/*
 * http_client.h - lebd's calls out: webhooks, Kannel's sendsms, the sandbox provider playing
 * its part, and the payment providers' APIs. Bounded in time, no redirects followed. The
 * plain POST and GET drop the answer's body; http_client_call keeps it, with its headers.
 */
#ifndef LEB_UTIL_HTTP_CLIENT_H
#define LEB_UTIL_HTTP_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_CLIENT_ERROR_SIZE 128

/*
 * POSTs "body" to "url" with "headers" ("Name: value", NULL-terminated; may be NULL). On a
 * completed exchange returns 0 with the status in "*status"; on a transport failure (refused,
 * timed out, reset) returns -1 with a one-line reason in "error" and "*status" 0.
 */
int http_client_post(const char *url, const char *const *headers, const char *body, long timeout_ms,
                     long *status, char error[HTTP_CLIENT_ERROR_SIZE]);

/* A GET of "url" (already carrying its query), cancellable like the POST below. */
int http_client_get(const char *url, long timeout_ms, const atomic_bool *cancel, long *status,
                    char error[HTTP_CLIENT_ERROR_SIZE]);

/* One call to a provider's API: any method, a body, and the answer kept. */
struct http_call {
    const char *method; /* "GET", "POST", ... */
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated; may be NULL */
    const char *body;           /* may be NULL */
    size_t body_size;
    long timeout_ms;
    const atomic_bool *cancel; /* may be NULL */
    /* A client certificate and its private key, PEM text (mutual TLS); NULL: none. */
    const char *client_cert_pem;
    const char *client_key_pem;
};

#define HTTP_RESULT_BODY_MAX (4 * 1024 * 1024)

struct http_result {
    long status;
    char *body; /* malloc'd, NUL-terminated (also when empty); at most HTTP_RESULT_BODY_MAX */
    size_t body_size;
    char *headers; /* the answer's header lines, "Name: value\r\n" each, malloc'd */
    size_t headers_size;
    char error[HTTP_CLIENT_ERROR_SIZE];
};

/* Makes "call"; 0 with "out" filled on a completed exchange (whatever its status), -1 with
 * "out->error" on a transport failure or an answer over HTTP_RESULT_BODY_MAX. Free "out" with
 * http_result_free() in both cases. */
int http_client_call(const struct http_call *call, struct http_result *out);
/* The value of the answer's header "name" (case does not matter) into "value", or NULL. */
const char *http_result_header(const struct http_result *result, const char *name, char *value,
                               size_t value_size);
void http_result_free(struct http_result *result);

/* "text" percent-encoded for a URL query, in a new string (free it). */
char *http_client_escape(const char *text);

/* The same, given up as soon as "*cancel" becomes true (checked several times a second). */
int http_client_post_cancellable(const char *url, const char *const *headers, const char *body,
                                 long timeout_ms, const atomic_bool *cancel, long *status,
                                 char error[HTTP_CLIENT_ERROR_SIZE]);

#endif
