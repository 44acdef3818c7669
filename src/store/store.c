/*
 * store.c - picks the backend named by a store URL. Owns nothing else.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static const struct store_backend *const backends[] = {&store_sqlite_backend};

int store_open(struct store **out, const char *url, const struct store_options *options)
{
    LEB_ASSERT(out != NULL && url != NULL && options != NULL);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        const struct store_backend *backend = backends[i];
        size_t scheme_size = strlen(backend->scheme);
        LEB_ASSERT(backend->version == STORE_BACKEND_VERSION);
        if (strncmp(url, backend->scheme, scheme_size) == 0 && url[scheme_size] == ':')
            return backend->open(out, url + scheme_size + 1, options);
    }
    return LEB_E_INVALID_REQUEST;
}

void outbox_rows_free(struct outbox_row *rows, size_t count)
{
    for (size_t i = 0; rows != NULL && i < count; i++)
        free(rows[i].payload);
    free(rows);
}

void audit_rows_free(struct audit_row *rows, size_t count)
{
    for (size_t i = 0; rows != NULL && i < count; i++)
        free(rows[i].details);
    free(rows);
}

void store_close(struct store *store)
{
    if (store == NULL)
        return;
    ((struct store_base *)store)->backend->close(store);
}

const struct store_backend *store_backend_of(const struct store *store)
{
    return ((const struct store_base *)store)->backend;
}

int store_write(struct store *store, store_write_fn fn, void *arg)
{
    return ((struct store_base *)store)->backend->write(store, fn, arg);
}
