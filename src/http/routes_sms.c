/*
 * routes_sms.c - Kannel's sms-service get-url: an inbound SMS in, the reply SMS out as the
 * text/plain body (?from=%p&to=%P&text=%a&key=...); and Kannel's delivery reports of what LEB
 * sent (the dlr-url of each sendsms: ?id=<outbox id>&t=<token>&type=%d).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include <stdlib.h>

#include "core/sms.h"
#include "http/http.h"

#define SMS_TEXT_MAX 1024

static bool key_matches(const char *given, const char *expected)
{
    size_t size = strlen(expected);
    if (given == NULL || strlen(given) != size || size == 0)
        return false;
    return sodium_memcmp(given, expected, size) == 0;
}

int route_sms_inbound(struct http_request *request, struct http_response *response)
{
    if (!key_matches(http_query(request, "key"), request->app->sms_key))
        return http_reply_text(response, 403, "text/plain; charset=utf-8", "");
    const char *from = http_query(request, "from");
    const char *text = http_query(request, "text");
    if (from == NULL || text == NULL || strlen(text) > SMS_TEXT_MAX)
        return http_error(response, LEB_E_INVALID_REQUEST, "from and text are required");

    char reply[SMS_REPLY_MAX];
    int rc = app_sms_inbound(request->app, reply, from, text);
    if (rc < 0)
        return rc;
    /* Kannel sends a get-url answer as GSM 7-bit unless told otherwise: Chinese must go as
     * UCS-2 (the sms-service needs accept-x-kannel-headers = yes for this header). */
    bool ucs2 = false;
    (void)sms_segments(reply, &ucs2);
    if (ucs2)
        http_header_add(response, "X-Kannel-Coding", "2");
    return http_reply_text(response, 200, "text/plain; charset=utf-8", reply);
}

int route_sms_dlr(struct http_request *request, struct http_response *response)
{
    const char *id_text = http_query(request, "id");
    const char *type_text = http_query(request, "type");
    const char *token = http_query(request, "t");
    char *end = NULL;
    long long id = id_text ? strtoll(id_text, &end, 10) : 0;
    if (id_text == NULL || *id_text == '\0' || *end != '\0' || id <= 0)
        return http_error(response, LEB_E_INVALID_REQUEST, "id must be a message id");
    long long type = type_text ? strtoll(type_text, &end, 10) : 0;
    if (type_text == NULL || *type_text == '\0' || *end != '\0')
        return http_error(response, LEB_E_INVALID_REQUEST, "type must be a delivery report type");
    int rc = app_sms_delivery_report(request->app, id, token, type);
    if (rc == LEB_E_INVALID_REQUEST)
        return http_error(response, rc, "type must be 1, 2, 4, 8 or 16");
    if (rc == LEB_E_NOT_FOUND)
        return http_error(response, rc, "no such message");
    if (rc < 0)
        return rc;
    return http_reply_text(response, 200, "text/plain; charset=utf-8", "ok");
}
