/*
 * routes_recon.c - reconciliation (对账) over HTTP.
 *
 * POST /api/v1/admin/reconciliations?provider=NAME takes a provider's statement as the raw
 * body (text/csv, as the provider published it: UTF-8 or GBK) and answers the report: 201
 * for a new import, 200 with the earlier report when the same statement was imported before.
 * GET /api/v1/admin/reconciliations/{id} reads a report back, as JSON or, with ?format=csv or
 * Accept: text/csv, as CSV for a spreadsheet.
 *
 * Like every route file it only translates: the import is app_recon_import's, the rules are
 * src/core/recon.c's. It must never render a report cell a spreadsheet would run as a
 * formula.
 */
#include "http/routes_recon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/recon.h"
#include "util/log.h"

#define RECON_ID_DIGITS_MAX 18

static bool content_type_is(const char *type, const char *wanted)
{
    if (type == NULL)
        return false;
    size_t size = strcspn(type, "; ");
    return size == strlen(wanted) && strncasecmp(type, wanted, size) == 0;
}

static int report_reply(struct http_request *request, struct http_response *response,
                        unsigned int status, int64_t id)
{
    json_t *report = NULL;
    int rc = app_recon_report(request->app, &report, id);
    if (rc < 0)
        return rc;
    char location[64];
    snprintf(location, sizeof(location), "/api/v1/admin/reconciliations/%lld", (long long)id);
    http_header_add(response, "Location", location);
    return http_reply_json(response, status, report);
}

int route_recon_import(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_MONEY_RESOLVE);
    if (rc < 0)
        return rc;
    if (!content_type_is(http_header(request, MHD_HTTP_HEADER_CONTENT_TYPE), "text/csv"))
        return http_error(response, LEB_E_UNSUPPORTED_MEDIA_TYPE,
                          "send the statement as it was downloaded, with Content-Type text/csv");
    const char *provider = http_query(request, "provider");
    enum recon_format format;
    if (provider == NULL || provider[0] == '\0')
        return http_error(response, LEB_E_INVALID_REQUEST,
                          "provider is required: alipay, wechatpay or wechatpay_v2");
    if (strlen(provider) >= PROVIDER_SIZE || recon_format_of_provider(&format, provider) < 0)
        return http_error(response, LEB_E_PAYMENT_METHOD_UNAVAILABLE,
                          "LEB reads the statements of alipay, wechatpay and wechatpay_v2 only");
    struct recon_import_request import = {.actor = request->token.username,
                                          .provider = provider,
                                          .statement = request->body,
                                          .statement_size = request->body_size};
    struct recon_error error;
    int64_t id = 0;
    bool replayed = false;
    rc = app_recon_import(request->app, &id, &replayed, &error, &import);
    if (rc == LEB_E_INVALID_REQUEST) {
        response->error_details = json_pack("{s:I}", "line", (json_int_t)error.line);
        return http_error(response, rc, "%s", error.message);
    }
    if (rc < 0)
        return rc;
    if (replayed)
        LOG_INFO("statement imported again: the earlier report stands", "request_id",
                 request->request_id, "by", request->token.username, "provider", provider);
    return report_reply(request, response, replayed ? 200 : 201, id);
}

/* One CSV cell: quoted when it holds a comma, a quote or a line end; a text that a
 * spreadsheet would take for a formula is kept as text by a leading apostrophe. */
static void csv_cell(char **out, size_t *size, size_t *capacity, const json_t *value, bool text)
{
    if (value == NULL || json_is_null(value))
        return;
    if (json_is_integer(value)) {
        http_buffer_append(out, size, capacity, "%lld", (long long)json_integer_value(value));
        return;
    }
    if (json_is_boolean(value)) {
        http_buffer_append(out, size, capacity, "%s", json_is_true(value) ? "true" : "false");
        return;
    }
    const char *cell = json_string_value(value);
    if (cell == NULL)
        return;
    bool formula = text && strchr("=+-@", cell[0]) != NULL && cell[0] != '\0';
    bool quote = formula || strpbrk(cell, ",\"\r\n") != NULL;
    if (!quote) {
        http_buffer_append(out, size, capacity, "%s", cell);
        return;
    }
    http_buffer_append(out, size, capacity, "\"%s", formula ? "'" : "");
    for (const char *c = cell; *c != '\0'; c++)
        http_buffer_append(out, size, capacity, *c == '"' ? "\"\"" : "%c", *c);
    http_buffer_append(out, size, capacity, "\"");
}

static int report_csv(struct http_response *response, const json_t *report)
{
    static const char *const columns[] = {
        "line", "class", "order_no", "trade_no", "statement_amount", "leb_amount", "repaired"};
    static const bool texts[] = {false, false, true, true, false, false, false};
    size_t size = 0, capacity = 4096;
    char *text = malloc(capacity);
    LEB_ASSERT(text != NULL);
    text[0] = '\0';
    http_buffer_append(&text, &size, &capacity,
                       "line,class,order_no,trade_no,statement_amount,leb_amount,repaired\r\n");
    size_t index;
    const json_t *item;
    json_array_foreach(json_object_get(report, "items"), index, item)
    {
        for (size_t column = 0; column < sizeof(columns) / sizeof(columns[0]); column++) {
            if (column > 0)
                http_buffer_append(&text, &size, &capacity, ",");
            csv_cell(&text, &size, &capacity, json_object_get(item, columns[column]),
                     texts[column]);
        }
        http_buffer_append(&text, &size, &capacity, "\r\n");
    }
    free(response->body);
    response->body = text;
    response->body_size = size;
    response->status = 200;
    response->content_type = "text/csv; charset=utf-8";
    return 0;
}

int route_recon_get(struct http_request *request, struct http_response *response)
{
    int rc = http_require(request, PERM_LEDGER_READ);
    if (rc < 0)
        return rc;
    const char *digits = request->params[0];
    size_t length = strlen(digits);
    long long id = 0;
    if (length > 0 && length <= RECON_ID_DIGITS_MAX && strspn(digits, "0123456789") == length)
        id = strtoll(digits, NULL, 10);
    if (id <= 0)
        return http_error(response, LEB_E_INVALID_REQUEST, "a reconciliation id is a number");
    const char *format = http_query(request, "format");
    if (format != NULL && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        return http_error(response, LEB_E_INVALID_REQUEST, "format must be json or csv");
    const char *accept = http_header(request, MHD_HTTP_HEADER_ACCEPT);
    bool csv = format != NULL ? strcmp(format, "csv") == 0
                              : accept != NULL && strstr(accept, "text/csv") != NULL;
    json_t *report = NULL;
    rc = app_recon_report(request->app, &report, (int64_t)id);
    if (rc == LEB_E_NOT_FOUND)
        return http_error(response, rc, "no reconciliation %lld", id);
    if (rc < 0)
        return rc;
    if (!csv)
        return http_reply_json(response, 200, report);
    rc = report_csv(response, report);
    json_decref(report);
    return rc;
}
