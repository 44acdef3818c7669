/*
 * http_client.c - outbound HTTP with libcurl, each call on its own handle so that any thread
 * may call it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/error.h"
#include "util/http_client.h"

static size_t discard_body(char *data, size_t size, size_t count, void *context)
{
    (void)data;
    (void)context;
    return size * count;
}

static int on_progress(void *context, curl_off_t download_total, curl_off_t downloaded,
                       curl_off_t upload_total, curl_off_t uploaded)
{
    (void)download_total;
    (void)downloaded;
    (void)upload_total;
    (void)uploaded;
    const atomic_bool *cancel = context;
    return cancel != NULL && atomic_load(cancel) ? 1 : 0; /* non-zero aborts the transfer */
}

/* One exchange: a POST of "body", or a GET when "body" is NULL. */
static int exchange(const char *url, const char *const *headers, const char *body, long timeout_ms,
                    const atomic_bool *cancel, long *status, char error[HTTP_CLIENT_ERROR_SIZE])
{
    *status = 0;
    error[0] = '\0';
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(error, HTTP_CLIENT_ERROR_SIZE, "out of memory");
        return -1;
    }
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    if (body != NULL)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    else
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
    if (cancel != NULL) {
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)cancel);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode result = curl_easy_perform(curl);
    if (result == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    else
        snprintf(error, HTTP_CLIENT_ERROR_SIZE, "%s", curl_easy_strerror(result));
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return result == CURLE_OK ? 0 : -1;
}

int http_client_post(const char *url, const char *const *headers, const char *body, long timeout_ms,
                     long *status, char error[HTTP_CLIENT_ERROR_SIZE])
{
    LEB_ASSERT(body != NULL);
    return exchange(url, headers, body, timeout_ms, NULL, status, error);
}

int http_client_post_cancellable(const char *url, const char *const *headers, const char *body,
                                 long timeout_ms, const atomic_bool *cancel, long *status,
                                 char error[HTTP_CLIENT_ERROR_SIZE])
{
    LEB_ASSERT(body != NULL);
    return exchange(url, headers, body, timeout_ms, cancel, status, error);
}

int http_client_get(const char *url, long timeout_ms, const atomic_bool *cancel, long *status,
                    char error[HTTP_CLIENT_ERROR_SIZE])
{
    return exchange(url, NULL, NULL, timeout_ms, cancel, status, error);
}

char *http_client_escape(const char *text)
{
    char *escaped = curl_easy_escape(NULL, text, 0);
    LEB_ASSERT(escaped != NULL);
    char *copy = strdup(escaped);
    curl_free(escaped);
    LEB_ASSERT(copy != NULL);
    return copy;
}

struct growing {
    char *data;
    size_t size;
    size_t capacity;
    size_t max;
};

static size_t keep(char *data, size_t size, size_t count, void *context)
{
    struct growing *buffer = context;
    size_t n = size * count;
    if (buffer->size + n > buffer->max)
        return 0; /* too big: curl stops with a write error */
    if (buffer->size + n + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 4096;
        while (capacity < buffer->size + n + 1)
            capacity *= 2;
        char *grown = realloc(buffer->data, capacity);
        LEB_ASSERT(grown != NULL);
        buffer->data = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->size, data, n);
    buffer->size += n;
    buffer->data[buffer->size] = '\0';
    return n;
}

int http_client_call(const struct http_call *call, struct http_result *out)
{
    memset(out, 0, sizeof(*out));
    struct growing body = {.max = HTTP_RESULT_BODY_MAX}, headers = {.max = 64 * 1024};
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(out->error, HTTP_CLIENT_ERROR_SIZE, "out of memory");
        return -1;
    }
    struct curl_slist *list = NULL;
    for (size_t i = 0; call->headers != NULL && call->headers[i] != NULL; i++)
        list = curl_slist_append(list, call->headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, call->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, call->method);
    if (call->body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_size);
    }
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, call->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, call->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (call->client_cert_pem != NULL && call->client_key_pem != NULL) {
        /* From memory: the key never touches a file lebd did not read it from. */
        struct curl_blob cert = {.data = (void *)call->client_cert_pem,
                                 .len = strlen(call->client_cert_pem),
                                 .flags = CURL_BLOB_COPY};
        struct curl_blob key = {.data = (void *)call->client_key_pem,
                                .len = strlen(call->client_key_pem),
                                .flags = CURL_BLOB_COPY};
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
        curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, keep);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headers);
    if (call->cancel != NULL) {
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)call->cancel);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode result = curl_easy_perform(curl);
    if (result == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    else
        snprintf(out->error, HTTP_CLIENT_ERROR_SIZE, "%s",
                 result == CURLE_WRITE_ERROR ? "the answer is too large"
                                             : curl_easy_strerror(result));
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (body.data == NULL) {
        body.data = calloc(1, 1);
        LEB_ASSERT(body.data != NULL);
    }
    out->body = body.data;
    out->body_size = body.size;
    out->headers = headers.data;
    out->headers_size = headers.size;
    return result == CURLE_OK ? 0 : -1;
}

const char *http_result_header(const struct http_result *result, const char *name, char *value,
                               size_t value_size)
{
    size_t name_size = strlen(name);
    const char *line = result->headers;
    while (line != NULL && *line != '\0') {
        const char *end = strstr(line, "\r\n");
        size_t line_size = end ? (size_t)(end - line) : strlen(line);
        if (line_size > name_size && line[name_size] == ':' &&
            strncasecmp(line, name, name_size) == 0) {
            const char *start = line + name_size + 1;
            while (*start == ' ' || *start == '\t')
                start++;
            size_t size = (size_t)(line + line_size - start);
            while (size > 0 && (start[size - 1] == ' ' || start[size - 1] == '\t'))
                size--;
            if (size >= value_size)
                return NULL;
            memcpy(value, start, size);
            value[size] = '\0';
            return value;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

void http_result_free(struct http_result *result)
{
    free(result->body);
    free(result->headers);
    result->body = NULL;
    result->headers = NULL;
}
