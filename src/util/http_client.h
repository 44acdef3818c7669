/*
 * http_client.h - one outbound HTTP POST, the only way lebd calls out (webhooks, the sandbox
 * provider playing its part). Bounded in time; no redirects followed; the body of the answer
 * is read and dropped.
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

/* "text" percent-encoded for a URL query, in a new string (free it). */
char *http_client_escape(const char *text);

/* The same, given up as soon as "*cancel" becomes true (checked several times a second). */
int http_client_post_cancellable(const char *url, const char *const *headers, const char *body,
                                 long timeout_ms, const atomic_bool *cancel, long *status,
                                 char error[HTTP_CLIENT_ERROR_SIZE]);

#endif
