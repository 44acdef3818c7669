/*
 * lebctl_http.c - lebctl's HTTP client: one request at a time to lebd's JSON API, by libcurl.
 *
 * It owns the curl handle (one per run, reused so that the batches of an import share one
 * connection), the request headers, the bounds on time and size, and the translation of what
 * came back into the CLI's exit codes: 401/403 mean "log in", 404 "not found", another 4xx
 * "the server refused the input", 5xx or no answer at all "the server is the problem".
 * It must never print or log the token, never follow a redirect (a redirect could carry the
 * token to another host), and never speak a protocol other than http and https.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "lebctl.h"

#define HTTP_BODY_BYTES_MAX (64u * 1024u * 1024u) /* the biggest answer lebctl will hold */
#define HTTP_CONNECT_TIMEOUT_S 10L
#define HTTP_TIMEOUT_S 300L /* a batch of cards is one transaction: give it time */
#define HTTP_HEADER_MAX 4096

/* Where curl writes the body: bounded, so a runaway answer cannot exhaust memory. */
struct http_sink {
    struct http_response *response;
    size_t capacity;
    bool too_large;
};

static size_t http_write_body(char *data, size_t size, size_t count, void *userdata)
{
    struct http_sink *sink = userdata;
    size_t length = size * count;
    struct http_response *response = sink->response;
    if (length > HTTP_BODY_BYTES_MAX - response->body_length) {
        sink->too_large = true;
        return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (response->body_length + length + 1 > sink->capacity) {
        size_t capacity = sink->capacity == 0 ? 4096 : sink->capacity;
        while (response->body_length + length + 1 > capacity) {
            capacity *= 2;
        }
        response->body = xrealloc(response->body, capacity);
        sink->capacity = capacity;
    }
    memcpy(response->body + response->body_length, data, length);
    response->body_length += length;
    response->body[response->body_length] = '\0';
    return length;
}

int http_escape_segment(char *out, size_t out_size, const char *segment)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t length = 0;
    for (const unsigned char *cursor = (const unsigned char *)segment; *cursor != '\0'; cursor++) {
        unsigned char byte = *cursor;
        bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                          (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' ||
                          byte == '_' || byte == '~';
        if (length + (unreserved ? 1 : 3) + 1 > out_size) {
            return -1;
        }
        if (unreserved) {
            out[length++] = (char)byte;
        } else {
            out[length++] = '%';
            out[length++] = hex[byte >> 4];
            out[length++] = hex[byte & 0x0f];
        }
    }
    if (out_size == 0) {
        return -1;
    }
    out[length] = '\0';
    return 0;
}

/* The error code lebctl reports for a transfer that got no answer. */
static const char *http_transport_code(CURLcode result)
{
    switch (result) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "unreachable";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    default:
        return "network_error";
    }
}

/* curl's progress callback, passing the figures on as plain integers. */
static int http_upload_progress(void *context, curl_off_t download_total, curl_off_t download_now,
                                curl_off_t upload_total, curl_off_t upload_now)
{
    const struct http_upload *upload = context;
    return upload->progress(upload->progress_context, (long long)download_total,
                            (long long)download_now, (long long)upload_total,
                            (long long)upload_now);
}

static int http_exchange(struct lebctl *ctx, struct http_response *out, const char *method,
                         const char *path, const json_t *body, const struct http_upload *upload)
{
    int exit_code = LEBCTL_EXIT_SERVER;
    char url[LEBCTL_URL_MAX + LEBCTL_PATH_MAX];
    char error[CURL_ERROR_SIZE];
    char authorization[HTTP_HEADER_MAX];
    struct curl_slist *headers = NULL;
    char *payload = NULL;
    struct http_sink sink = {.response = out};

    memset(out, 0, sizeof *out);
    error[0] = '\0';
    authorization[0] = '\0';
    if (ctx->needs_login && ctx->token == NULL) {
        exit_code = lebctl_resolve_token(ctx);
        if (exit_code != 0) {
            return exit_code;
        }
        exit_code = LEBCTL_EXIT_SERVER;
    }
    if ((size_t)snprintf(url, sizeof url, "%s%s", ctx->server, path) >= sizeof url) {
        out_error("invalid_request", "the URL %s%s is too long", ctx->server, path);
        exit_code = LEBCTL_EXIT_USAGE;
        goto out;
    }
    if (ctx->curl == NULL) {
        ctx->curl = curl_easy_init();
        if (ctx->curl == NULL) {
            out_error("internal", "libcurl could not start");
            goto out;
        }
    }
    CURL *curl = ctx->curl;
    /* A reset keeps the connection cache, so the next request reuses the connection. */
    curl_easy_reset(curl);

    headers = curl_slist_append(headers, "Accept: application/json");
    /* No "Expect: 100-continue" round trip before a large batch. */
    headers = curl_slist_append(headers, "Expect:");
    if (body != NULL) {
        payload = json_dumps(body, JSON_COMPACT);
        if (payload == NULL) {
            out_error("internal", "could not encode the request as JSON");
            goto out;
        }
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
    } else if (upload != NULL) {
        char content_type[HTTP_HEADER_MAX];
        snprintf(content_type, sizeof content_type, "Content-Type: %s", upload->content_type);
        headers = curl_slist_append(headers, content_type);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, upload->data);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)upload->size);
        if (upload->progress != NULL) {
            curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, http_upload_progress);
            curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)upload);
            curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        }
    }
    if (ctx->token != NULL) {
        if ((size_t)snprintf(authorization, sizeof authorization, "Authorization: Bearer %s",
                             ctx->token) >= sizeof authorization) {
            out_error("invalid_token", "the saved token is too long; run 'lebctl login' again");
            exit_code = LEBCTL_EXIT_AUTH;
            goto out;
        }
        headers = curl_slist_append(headers, authorization);
    }
    if (headers == NULL) {
        out_error("internal", "out of memory building the request");
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "lebctl/" LEBCTL_VERSION);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, HTTP_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_write_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);

    CURLcode result = curl_easy_perform(curl);
    /* The error buffer, the sink and the upload live on this stack frame: detach them. */
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, NULL);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 1L);
    if (result != CURLE_OK) {
        if (sink.too_large) {
            out_error("invalid_response", "%s answered with more than %u bytes", ctx->server,
                      HTTP_BODY_BYTES_MAX);
        } else if (result == CURLE_UNSUPPORTED_PROTOCOL) {
            out_error("invalid_server", "%s: only http:// and https:// servers are supported",
                      ctx->server);
            exit_code = LEBCTL_EXIT_USAGE;
        } else {
            const char *code = http_transport_code(result);
            out_error(code, "%s %s: %s",
                      strcmp(code, "network_error") == 0 ? "no answer from" : "cannot reach",
                      ctx->server, error[0] != '\0' ? error : curl_easy_strerror(result));
        }
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    if (out->body != NULL) {
        out->json = json_loadb(out->body, out->body_length, 0, NULL);
    }
    exit_code = 0;
out:
    /* The header list holds a copy of the token: wipe it before it goes back to the heap. */
    for (struct curl_slist *header = headers; header != NULL; header = header->next) {
        if (strncmp(header->data, "Authorization:", 14) == 0) {
            explicit_bzero(header->data, strlen(header->data));
        }
    }
    explicit_bzero(authorization, sizeof authorization);
    curl_slist_free_all(headers);
    if (payload != NULL) {
        /* The login's payload holds the password. */
        explicit_bzero(payload, strlen(payload));
        free(payload);
    }
    return exit_code;
}

int http_send(struct lebctl *ctx, struct http_response *out, const char *method, const char *path,
              const json_t *body)
{
    return http_exchange(ctx, out, method, path, body, NULL);
}

int http_send_upload(struct lebctl *ctx, struct http_response *out, const char *method,
                     const char *path, const struct http_upload *upload)
{
    return http_exchange(ctx, out, method, path, NULL, upload);
}

int exit_code_for_status(long status)
{
    if (status == 401 || status == 403) {
        return LEBCTL_EXIT_AUTH;
    }
    if (status == 404) {
        return LEBCTL_EXIT_NOT_FOUND;
    }
    if (status >= 400 && status <= 499) {
        return LEBCTL_EXIT_REFUSED;
    }
    return LEBCTL_EXIT_SERVER;
}

const char *http_error_code(const struct http_response *response)
{
    const json_t *code = json_object_get(json_object_get(response->json, "error"), "code");
    return json_is_string(code) ? json_string_value(code) : NULL;
}

const char *http_error_message(const struct http_response *response)
{
    const json_t *message = json_object_get(json_object_get(response->json, "error"), "message");
    return json_is_string(message) ? json_string_value(message) : NULL;
}

int http_check(const struct lebctl *ctx, const struct http_response *response)
{
    long status = response->status;
    if (status >= 200 && status <= 299) {
        if (json_is_object(response->json)) {
            return 0;
        }
        out_error("invalid_response",
                  "%s answered HTTP %ld with something that is not a JSON "
                  "object (is it lebd?)",
                  ctx->server, status);
        return LEBCTL_EXIT_SERVER;
    }
    const char *code = http_error_code(response);
    const char *message = http_error_message(response);
    if (code != NULL) {
        out_error(code, "%s", message != NULL ? message : "the server gave no message");
    } else {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "http_%ld", status);
        out_error(fallback, "%s answered HTTP %ld%s", ctx->server, status,
                  response->json == NULL ? " without a JSON error (is it lebd?)" : "");
    }
    if (status == 401 && ctx->token != NULL) {
        out_note("the token was not accepted (a login expires); log in again with 'lebctl "
                 "login --server %s'",
                 ctx->server);
    }
    return exit_code_for_status(status);
}

int api_call(struct lebctl *ctx, struct http_response *out, const char *method, const char *path,
             const json_t *body)
{
    int exit_code = http_send(ctx, out, method, path, body);
    if (exit_code != 0) {
        return exit_code;
    }
    return http_check(ctx, out);
}

void http_response_free(struct http_response *response)
{
    if (response == NULL) {
        return;
    }
    json_decref(response->json);
    free(response->body);
    memset(response, 0, sizeof *response);
}

void http_close(struct lebctl *ctx)
{
    if (ctx->curl != NULL) {
        curl_easy_cleanup(ctx->curl);
        ctx->curl = NULL;
    }
}
