/*
 * role_test.c - the role x permission table, cell by cell.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "core/role.h"

/* Written from role.h's comment: admin everything; operator all but users; support reads;
 * agent and portal nothing. Columns: card_read_any, card_write, plan_write, ledger_read,
 * order_read_any, user_write, money_resolve. */
static const bool expected[ROLE_COUNT][PERM_COUNT] = {
    [ROLE_ADMIN] = {true, true, true, true, true, true, true},
    [ROLE_OPERATOR] = {true, true, true, true, true, false, true},
    [ROLE_SUPPORT] = {true, false, false, true, true, false, false},
    [ROLE_AGENT] = {false, false, false, false, false, false, false},
    [ROLE_PORTAL] = {false, false, false, false, false, false, false},
};

static void test_role__every_cell_of_the_table_is_as_expected(void **state)
{
    for (int role = 0; role < ROLE_COUNT; role++) {
        for (int permission = 0; permission < PERM_COUNT; permission++) {
            assert_int_equal(role_may(role, permission), expected[role][permission]);
        }
    }
}

static void test_role__only_admin_may_manage_users(void **state)
{
    for (int role = 0; role < ROLE_COUNT; role++) {
        assert_int_equal(role_may(role, PERM_USER_WRITE), role == ROLE_ADMIN);
    }
}

static void test_role__support_may_read_but_never_write(void **state)
{
    assert_true(role_may(ROLE_SUPPORT, PERM_CARD_READ_ANY));
    assert_true(role_may(ROLE_SUPPORT, PERM_ORDER_READ_ANY));
    assert_true(role_may(ROLE_SUPPORT, PERM_LEDGER_READ));
    assert_false(role_may(ROLE_SUPPORT, PERM_CARD_WRITE));
    assert_false(role_may(ROLE_SUPPORT, PERM_PLAN_WRITE));
    assert_false(role_may(ROLE_SUPPORT, PERM_USER_WRITE));
}

static void test_role__names_round_trip(void **state)
{
    static const char *const names[ROLE_COUNT] = {
        [ROLE_ADMIN] = "admin", [ROLE_OPERATOR] = "operator", [ROLE_SUPPORT] = "support",
        [ROLE_AGENT] = "agent", [ROLE_PORTAL] = "portal",
    };

    for (int role = 0; role < ROLE_COUNT; role++) {
        enum role parsed = ROLE_COUNT;

        assert_string_equal(role_name(role), names[role]);
        assert_int_equal(role_parse(&parsed, names[role]), LEB_OK);
        assert_int_equal(parsed, role);
    }
}

static void test_role__parse_rejects_unknown_names(void **state)
{
    static const char *const rejects[] = {"",          "Admin", "ADMIN",     "admin ",      "root",
                                          "superuser", "ops",   "operators", "portal-admin"};

    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        enum role out = ROLE_COUNT;

        assert_int_equal(role_parse(&out, rejects[i]), LEB_E_INVALID_REQUEST);
        assert_int_equal(out, ROLE_COUNT);
    }
    {
        enum role out = ROLE_COUNT;
        assert_int_equal(role_parse(&out, NULL), LEB_E_INVALID_REQUEST);
        assert_int_equal(out, ROLE_COUNT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role__every_cell_of_the_table_is_as_expected),
        cmocka_unit_test(test_role__only_admin_may_manage_users),
        cmocka_unit_test(test_role__support_may_read_but_never_write),
        cmocka_unit_test(test_role__names_round_trip),
        cmocka_unit_test(test_role__parse_rejects_unknown_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
