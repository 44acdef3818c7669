/*
 * server.c - libmicrohttpd glue: accepts connections, gathers bodies within their bound,
 * authenticates, dispatches to the route table, renders errors, logs one line per request and
 * counts it for /metrics.
 *
 * Threading: one thread per connection (MHD_USE_THREAD_PER_CONNECTION), bounded by the
 * connection limit. Handlers block while their write waits for its group commit; the other
 * connections go on meanwhile, which is what lets many writes share one commit.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "http/http.h"
#include "util/log.h"

#define ROUTES_MAX 64
#define STATUSES_COUNT 17
#define RATE_SLOTS 4096
#define CONNECTION_TIMEOUT_S 30
#define SHUTDOWN_WAIT_MS 15000
/* Headers and query of one request. libmicrohttpd zeroes this pool for every request, so it
 * costs CPU per request: 96 KiB holds a thousand query parameters (64 KiB does not). */
#define CONNECTION_MEMORY_BYTES (96 * 1024)

static const unsigned int statuses[STATUSES_COUNT] = {200, 201, 202, 204, 302, 400, 401, 403, 404,
                                                      405, 409, 413, 415, 422, 429, 500, 503};

struct rate_slot {
    char address[HTTP_CLIENT_ADDRESS_SIZE];
    struct ratelimit_bucket bucket;
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    const struct config *config;
    unsigned int port;
    atomic_uint_fast64_t requests[ROUTES_MAX + 1][STATUSES_COUNT + 1];
    atomic_uint_fast64_t duration_us_sum;
    atomic_int in_flight; /* requests begun and not completed */
    atomic_bool stopping; /* once set, every answer closes its connection */
    pthread_mutex_t rate_lock;
    /* Fixed tables, one per limit: a collision evicts the older address. */
    struct rate_slot *rate_slots[HTTP_LIMIT_COUNT];
};

static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t monotonic_ms(void)
{
    return monotonic_us() / 1000;
}

const struct config *http_config(const struct http_server *server)
{
    return server->config;
}

bool http_rate_limit_take(struct http_request *request, enum http_limit limit)
{
    struct http_server *server = request->server;
    const struct config *config = server->config;
    LEB_ASSERT((int)limit >= 0 && limit < HTTP_LIMIT_COUNT);
    int64_t burst = limit == HTTP_LIMIT_CARD_LOOKUP ? config->card_lookup_burst
                                                    : config->portal_codes_per_client_per_hour;
    uint32_t hash = 2166136261u;
    for (const char *p = request->client_address; *p; p++)
        hash = (hash ^ (unsigned char)*p) * 16777619u;
    int64_t now_ms = monotonic_ms();
    pthread_mutex_lock(&server->rate_lock);
    struct rate_slot *slot = &server->rate_slots[limit][hash % RATE_SLOTS];
    if (strcmp(slot->address, request->client_address) != 0) {
        snprintf(slot->address, sizeof(slot->address), "%s", request->client_address);
        ratelimit_init(&slot->bucket, burst, now_ms);
    }
    bool allowed = limit == HTTP_LIMIT_CARD_LOOKUP
                       ? ratelimit_take(&slot->bucket, config->card_lookup_per_min, burst, now_ms)
                       : ratelimit_take_hourly(&slot->bucket, burst, burst, now_ms);
    pthread_mutex_unlock(&server->rate_lock);
    return allowed;
}

static size_t status_index(unsigned int status)
{
    for (size_t i = 0; i < STATUSES_COUNT; i++)
        if (statuses[i] == status)
            return i;
    return STATUSES_COUNT;
}

void http_buffer_append(char **out, size_t *size, size_t *capacity, const char *format, ...)
{
    for (;;) {
        va_list args;
        va_start(args, format);
        int n = vsnprintf(*out + *size, *capacity - *size, format, args);
        va_end(args);
        LEB_ASSERT(n >= 0);
        if ((size_t)n < *capacity - *size) {
            *size += (size_t)n;
            return;
        }
        *capacity = (*capacity + (size_t)n + 1) * 2;
        *out = realloc(*out, *capacity);
        LEB_ASSERT(*out != NULL);
    }
}

void http_metrics_render(struct http_server *server, char **out, size_t *size, size_t *capacity)
{
    http_buffer_append(out, size, capacity,
                       "# HELP leb_http_requests_total HTTP requests by route and status.\n"
                       "# TYPE leb_http_requests_total counter\n");
    for (size_t r = 0; r <= http_routes_count && r <= ROUTES_MAX; r++) {
        const char *route = r < http_routes_count ? http_routes[r].metric_name : "unmatched";
        for (size_t s = 0; s <= STATUSES_COUNT; s++) {
            uint64_t n = atomic_load(&server->requests[r][s]);
            if (n == 0)
                continue;
            http_buffer_append(out, size, capacity,
                               "leb_http_requests_total{route=\"%s\",status=\"%s%u\"} %llu\n",
                               route, s < STATUSES_COUNT ? "" : "other",
                               s < STATUSES_COUNT ? statuses[s] : 0u, (unsigned long long)n);
        }
    }
    http_buffer_append(
        out, size, capacity,
        "# HELP leb_http_request_duration_seconds_sum Time spent answering requests.\n"
        "# TYPE leb_http_request_duration_seconds_sum counter\n"
        "leb_http_request_duration_seconds_sum %.6f\n",
        (double)atomic_load(&server->duration_us_sum) / 1e6);
}

/* 16 letters: no digits, so the logs' masking of long digit runs never touches a request id. */
static void request_id_make(char out[HTTP_REQUEST_ID_SIZE])
{
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz";
    unsigned char random[HTTP_REQUEST_ID_SIZE - 1];
    randombytes_buf(random, sizeof(random));
    for (size_t i = 0; i < sizeof(random); i++)
        out[i] = alphabet[random[i] % (sizeof(alphabet) - 1)];
    out[HTTP_REQUEST_ID_SIZE - 1] = '\0';
}

static void client_address_of(struct MHD_Connection *connection, char *out, size_t size)
{
    snprintf(out, size, "unknown");
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL)
        return;
    const struct sockaddr *address = info->client_addr;
    if (address->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)address)->sin_addr, out,
                  (socklen_t)size);
    else if (address->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)address)->sin6_addr, out,
                  (socklen_t)size);
}

/* Renders "code" as the contract's error body, unless the handler already set a body. */
static void render_error(struct http_response *response, int code)
{
    json_t *error =
        json_pack("{s:s, s:s}", "code", leb_error_name(code), "message",
                  response->error_message[0] ? response->error_message : leb_error_message(code));
    LEB_ASSERT(error != NULL);
    if (response->error_details != NULL) {
        json_object_set_new(error, "details", response->error_details);
        response->error_details = NULL;
    }
    free(response->body);
    response->body = NULL;
    response->file_path = NULL;
    (void)http_reply_json(response, (unsigned int)leb_error_http_status(code),
                          json_pack("{s:o}", "error", error));
}

static int authenticate(struct http_request *request)
{
    const char *header = http_header(request, MHD_HTTP_HEADER_AUTHORIZATION);
    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
        return LEB_E_UNAUTHORIZED;
    const char *token = header + 7;
    while (*token == ' ')
        token++;
    int rc = app_token_verify(request->app, &request->token, token);
    if (rc < 0)
        return rc == LEB_E_UNAVAILABLE ? rc : LEB_E_UNAUTHORIZED;
    request->authenticated = true;
    request->bearer = token;
    return 0;
}

static void dispatch(struct http_request *request, struct http_response *response)
{
    char allow[64] = "";
    int rc = http_route_match(request, request->method, request->path, allow, sizeof(allow));
    if (rc == LEB_E_METHOD_NOT_ALLOWED)
        http_header_add(response, "Allow", allow);
    if (rc >= 0) {
        request->route_index = rc;
        const struct http_route *route = &http_routes[rc];
        rc = 0;
        if (request->body_too_large)
            rc = LEB_E_PAYLOAD_TOO_LARGE;
        if (rc == 0 && route->auth == AUTH_TOKEN)
            rc = authenticate(request);
        if (rc == 0)
            rc = route->handler(request, response);
    } else if (request->body_too_large) {
        rc = LEB_E_PAYLOAD_TOO_LARGE;
    }
    if (rc < 0) {
        render_error(response, rc);
        int status = leb_error_http_status(rc);
        if (status >= 500)
            LOG_ERROR("request failed", "request_id", request->request_id, "method",
                      request->method, "path",
                      request->route_index >= 0 ? http_routes[request->route_index].metric_name
                                                : "unmatched",
                      "code", leb_error_name(rc));
    }
}

static enum MHD_Result send_response(struct http_request *request, struct http_response *response)
{
    struct MHD_Response *mhd = NULL;
    if (response->file_path != NULL) {
        int fd = open(response->file_path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            mhd = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
        } else {
            if (fd >= 0)
                close(fd);
            render_error(response, LEB_E_NOT_FOUND);
        }
    }
    if (mhd == NULL) {
        mhd = MHD_create_response_from_buffer(response->body_size, response->body,
                                              MHD_RESPMEM_MUST_FREE);
        response->body = NULL;
    }
    LEB_ASSERT(mhd != NULL);
    if (response->content_type)
        MHD_add_response_header(mhd, MHD_HTTP_HEADER_CONTENT_TYPE, response->content_type);
    MHD_add_response_header(mhd, "X-Request-Id", request->request_id);
    MHD_add_response_header(mhd, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(mhd, "Cache-Control", "no-store");
    if (atomic_load(&request->server->stopping))
        MHD_add_response_header(mhd, MHD_HTTP_HEADER_CONNECTION, "close");
    for (size_t i = 0; i < response->headers_count; i++)
        MHD_add_response_header(mhd, response->header_names[i], response->header_values[i]);
    enum MHD_Result result = MHD_queue_response(request->connection, response->status, mhd);
    MHD_destroy_response(mhd);
    return result;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_cls)
{
    struct http_server *server = cls;
    struct http_request *request = *request_cls;
    if (request == NULL) {
        request = calloc(1, sizeof(*request));
        LEB_ASSERT(request != NULL);
        request->server = server;
        request->app = server->app;
        request->connection = connection;
        request->method = method;
        request->path = url;
        request->route_index = -1;
        request->started_us = monotonic_us();
        atomic_fetch_add(&server->in_flight, 1);
        request_id_make(request->request_id);
        client_address_of(connection, request->client_address, sizeof(request->client_address));
        /* The route is known from the request line: its own body bound applies from the first
         * byte, so an over-large body is never buffered. */
        request->body_max_bytes = (size_t)server->config->body_max_bytes;
        char allow[64];
        int route = http_route_match(request, method, url, allow, sizeof(allow));
        if (route >= 0 && http_routes[route].body_max_bytes > 0)
            request->body_max_bytes = http_routes[route].body_max_bytes;
        *request_cls = request;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (request->body_too_large || request->body_size + size > request->body_max_bytes) {
            request->body_too_large = true; /* keep reading, discard: answer 413 at the end */
            return MHD_YES;
        }
        if (request->body_size + size + 1 > request->body_capacity) {
            size_t capacity = (request->body_size + size + 1) * 2;
            if (capacity > request->body_max_bytes + 1)
                capacity = request->body_max_bytes + 1;
            request->body = realloc(request->body, capacity);
            LEB_ASSERT(request->body != NULL);
            request->body_capacity = capacity;
        }
        memcpy(request->body + request->body_size, upload_data, size);
        request->body_size += size;
        request->body[request->body_size] = '\0';
        return MHD_YES;
    }
    if (request->body == NULL) {
        request->body = calloc(1, 1);
        LEB_ASSERT(request->body != NULL);
    }
    struct http_response response = {.status = 200};
    dispatch(request, &response);
    enum MHD_Result result = send_response(request, &response);
    free(response.body);
    json_decref(response.error_details);

    int64_t duration_us = monotonic_us() - request->started_us;
    size_t route = request->route_index >= 0 ? (size_t)request->route_index : http_routes_count;
    if (route > ROUTES_MAX)
        route = ROUTES_MAX;
    atomic_fetch_add(&server->requests[route][status_index(response.status)], 1);
    atomic_fetch_add(&server->duration_us_sum, (uint_fast64_t)duration_us);
    if (log_enabled(LOG_LEVEL_DEBUG) || response.status >= 400) {
        char status[16], duration[32];
        snprintf(status, sizeof(status), LOG_RAW_PREFIX "%u", response.status);
        snprintf(duration, sizeof(duration), LOG_RAW_PREFIX "%.3f", (double)duration_us / 1000.0);
        log_fields(response.status >= 500   ? LOG_LEVEL_ERROR
                   : response.status >= 400 ? LOG_LEVEL_INFO
                                            : LOG_LEVEL_DEBUG,
                   "request", "request_id", request->request_id, "method", method, "route",
                   request->route_index >= 0 ? http_routes[request->route_index].metric_name
                                             : "unmatched",
                   "status", status, "duration_ms", duration, (char *)NULL);
    }
    (void)version;
    return result;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **request_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct http_request *request = *request_cls;
    if (request == NULL)
        return;
    atomic_fetch_sub(&request->server->in_flight, 1);
    free(request->body);
    free(request);
    *request_cls = NULL;
    (void)cls;
    (void)connection;
    (void)code;
}

/*
 * Percent-decodes a URL path or query value in place, as libmicrohttpd's own unescaper does,
 * except that "%00" stays as it is: a NUL would end the C string early and let
 * "/cards/<number>%00junk" pass as "/cards/<number>". Left literal, it is refused like any
 * other bad character.
 */
static size_t on_unescape(void *cls, struct MHD_Connection *connection, char *text)
{
    (void)cls;
    (void)connection;
    char *out = text;
    for (const char *in = text; *in; in++) {
        if (in[0] == '%' && isxdigit((unsigned char)in[1]) && isxdigit((unsigned char)in[2])) {
            char hex[3] = {in[1], in[2], '\0'};
            long value = strtol(hex, NULL, 16);
            if (value != 0) {
                *out++ = (char)value;
                in += 2;
                continue;
            }
        }
        *out++ = *in;
    }
    *out = '\0';
    return (size_t)(out - text);
}

/* libmicrohttpd's own messages, as JSON log lines like every other. */
static void on_mhd_log(void *cls, const char *format, va_list args)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof(text), format, args);
    size_t size = strlen(text);
    while (size > 0 && (text[size - 1] == '\n' || text[size - 1] == '\r'))
        text[--size] = '\0';
    LOG_WARN("libmicrohttpd", "detail", text);
}

static void on_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
    char line_text[16];
    snprintf(line_text, sizeof(line_text), "%u", line);
    log_fields(LOG_LEVEL_ERROR, "libmicrohttpd panic", "file", file ? file : "?", "line", line_text,
               "reason", reason ? reason : "?", (char *)NULL);
    abort();
}

int http_start(struct http_server **out, struct app *app, const struct config *config)
{
    const char *colon = strrchr(config->listen, ':');
    LEB_ASSERT(colon != NULL); /* config_load checked it */
    char host[128];
    snprintf(host, sizeof(host), "%.*s", (int)(colon - config->listen), config->listen);
    long port = strtol(colon + 1, NULL, 10);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &address.sin_addr) != 1) {
        LOG_ERROR("listen address must be an IPv4 address and a port", "listen", config->listen);
        return LEB_E_INVALID_REQUEST;
    }
    struct http_server *server = calloc(1, sizeof(*server));
    LEB_ASSERT(server != NULL);
    LEB_ASSERT(http_routes_count <= ROUTES_MAX);
    server->app = app;
    server->config = config;
    for (int limit = 0; limit < HTTP_LIMIT_COUNT; limit++) {
        server->rate_slots[limit] = calloc(RATE_SLOTS, sizeof(*server->rate_slots[limit]));
        LEB_ASSERT(server->rate_slots[limit] != NULL);
    }
    pthread_mutex_init(&server->rate_lock, NULL);
    MHD_set_panic_func(on_panic, NULL);
    server->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
            MHD_USE_ITC | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, &address, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)config->threads_max, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
        MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY_BYTES, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (server->daemon == NULL) {
        LOG_ERROR("cannot listen", "listen", config->listen);
        pthread_mutex_destroy(&server->rate_lock);
        for (int limit = 0; limit < HTTP_LIMIT_COUNT; limit++)
            free(server->rate_slots[limit]);
        free(server);
        return LEB_E_UNAVAILABLE;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : (unsigned int)port;
    *out = server;
    return 0;
}

unsigned int http_port(const struct http_server *server)
{
    return server->port;
}

void http_stop(struct http_server *server)
{
    if (server == NULL)
        return;
    /* Stop accepting first; MHD_stop_daemon then waits for every connection's thread, so a
     * request that was being answered is answered in full. */
    atomic_store(&server->stopping, true);
    MHD_socket listener = MHD_quiesce_daemon(server->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    for (int waited_ms = 0; atomic_load(&server->in_flight) > 0 && waited_ms < SHUTDOWN_WAIT_MS;
         waited_ms += 10) {
        struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    MHD_stop_daemon(server->daemon);
    pthread_mutex_destroy(&server->rate_lock);
    for (int limit = 0; limit < HTTP_LIMIT_COUNT; limit++)
        free(server->rate_slots[limit]);
    free(server);
}
