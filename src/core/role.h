/*
 * role.h - who may do what: one table of roles against permissions, checked on every route.
 */
#ifndef LEB_CORE_ROLE_H
#define LEB_CORE_ROLE_H

#include <stdbool.h>

#include "core/error.h"

enum role { ROLE_ADMIN = 0, ROLE_OPERATOR, ROLE_SUPPORT, ROLE_AGENT, ROLE_PORTAL, ROLE_COUNT };

enum permission {
    PERM_CARD_READ_ANY = 0, /* full card view and balance of any card */
    PERM_CARD_WRITE,        /* create cards */
    PERM_PLAN_WRITE,        /* create plans */
    PERM_LEDGER_READ,       /* ledger check */
    PERM_ORDER_READ_ANY,    /* full order view */
    PERM_USER_WRITE,        /* create users */
    PERM_MONEY_RESOLVE,     /* resolve orders in review, import providers' statements */
    PERM_COUNT
};

const char *role_name(enum role role);
LEB_MUST_CHECK int role_parse(enum role *out, const char *name);

/* admin: everything; operator: everything but users; support: reads only; agent and portal:
 * none of these (they reach their own data through their own routes). */
bool role_may(enum role role, enum permission permission);

#endif
