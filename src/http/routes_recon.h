/*
 * routes_recon.h - the reconciliation routes: a provider's statement imported, its report
 * read back as JSON or CSV.
 */
#ifndef LEB_HTTP_ROUTES_RECON_H
#define LEB_HTTP_ROUTES_RECON_H

#include "http/http.h"

/* The largest statement accepted: a month of a busy merchant's trades. */
#define ROUTES_RECON_BODY_BYTES_MAX (16u << 20)

int route_recon_import(struct http_request *, struct http_response *);
int route_recon_get(struct http_request *, struct http_response *);

#endif
