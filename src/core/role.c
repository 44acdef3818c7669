/*
 * role.c - who may do what.
 *
 * This module owns the one table of roles against permissions and the contract's role names.
 * Every route that needs more than a public view asks role_may(); a permission that is not in
 * the table is denied.
 *
 * It must never grant anything by default: a cell not written below is false, so a new role
 * or permission starts with nothing until someone decides otherwise here.
 */
#include "core/role.h"

#include <string.h>

#define ROLE_NAME_MAX 16

static const char *const role_names[ROLE_COUNT] = {
    [ROLE_ADMIN] = "admin", [ROLE_OPERATOR] = "operator", [ROLE_SUPPORT] = "support",
    [ROLE_AGENT] = "agent", [ROLE_PORTAL] = "portal",
};

/*
 * admin may do everything; operator everything but manage users; support may only read, to
 * answer "I paid but it did not arrive"; agents and portal sessions reach only their own data
 * through their own routes, so they hold none of these.
 */
static const bool role_permissions[ROLE_COUNT][PERM_COUNT] = {
    [ROLE_ADMIN] =
        {
            [PERM_CARD_READ_ANY] = true,
            [PERM_CARD_WRITE] = true,
            [PERM_PLAN_WRITE] = true,
            [PERM_LEDGER_READ] = true,
            [PERM_ORDER_READ_ANY] = true,
            [PERM_USER_WRITE] = true,
            [PERM_MONEY_RESOLVE] = true,
        },
    [ROLE_OPERATOR] =
        {
            [PERM_CARD_READ_ANY] = true,
            [PERM_CARD_WRITE] = true,
            [PERM_PLAN_WRITE] = true,
            [PERM_LEDGER_READ] = true,
            [PERM_ORDER_READ_ANY] = true,
            [PERM_MONEY_RESOLVE] = true,
        },
    [ROLE_SUPPORT] =
        {
            [PERM_CARD_READ_ANY] = true,
            [PERM_LEDGER_READ] = true,
            [PERM_ORDER_READ_ANY] = true,
        },
};

const char *role_name(enum role role)
{
    LEB_ASSERT((int)role >= 0 && role < ROLE_COUNT);
    return role_names[role];
}

/* NULL and unknown names are LEB_E_INVALID_REQUEST; names are matched exactly. */
int role_parse(enum role *out, const char *name)
{
    LEB_ASSERT(out != NULL);
    if (name == NULL || strnlen(name, ROLE_NAME_MAX + 1) > ROLE_NAME_MAX) {
        return LEB_E_INVALID_REQUEST;
    }
    for (int role = 0; role < ROLE_COUNT; role++) {
        if (strcmp(name, role_names[role]) == 0) {
            *out = (enum role)role;
            return LEB_OK;
        }
    }
    return LEB_E_INVALID_REQUEST;
}

bool role_may(enum role role, enum permission permission)
{
    LEB_ASSERT((int)role >= 0 && role < ROLE_COUNT);
    LEB_ASSERT((int)permission >= 0 && permission < PERM_COUNT);
    return role_permissions[role][permission];
}
