/*
 * routes_static.c - the pages: files of the web root, by a strict name pattern only, so that no
 * path can leave the web root.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"

static const struct {
    const char *extension;
    const char *content_type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
};

int route_static(struct http_request *request, struct http_response *response)
{
    const char *name = request->params_count ? request->params[0] : "index.html";
    size_t size = strlen(name);
    const char *dot = strrchr(name, '.');
    if (dot == NULL || dot == name || size > 64)
        return LEB_E_NOT_FOUND;
    for (const char *p = name; p < dot; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return LEB_E_NOT_FOUND;
    for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++) {
        if (strcmp(dot, content_types[i].extension) != 0)
            continue;
        static __thread char path[512];
        snprintf(path, sizeof(path), "%s/%s", http_config(request->server)->web_root, name);
        response->status = 200;
        response->file_path = path;
        response->content_type = content_types[i].content_type;
        return 0;
    }
    return LEB_E_NOT_FOUND;
}
