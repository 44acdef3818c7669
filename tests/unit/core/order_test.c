/*
 * order_test.c - the order state machine, cell by cell of the status x event matrix.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "core/order.h"

struct edge {
    enum order_status from;
    enum order_event event;
    enum order_status to;
};

/* The legal edges, written from the design (DESIGN.md's order states and the brief), not from
 * order.c. Every cell of the matrix not listed here must be illegal. */
static const struct edge legal_edges[] = {
    {ORDER_PENDING_PAYMENT, ORDER_EVENT_PAYMENT_CONFIRMED, ORDER_PAID},
    {ORDER_PENDING_PAYMENT, ORDER_EVENT_PAYMENT_FAILED, ORDER_FAILED},
    {ORDER_PENDING_PAYMENT, ORDER_EVENT_TTL_ELAPSED, ORDER_EXPIRED},
    {ORDER_PENDING_PAYMENT, ORDER_EVENT_AMOUNT_MISMATCH, ORDER_REVIEW},
    {ORDER_EXPIRED, ORDER_EVENT_PAYMENT_CONFIRMED, ORDER_PAID},
    {ORDER_EXPIRED, ORDER_EVENT_AMOUNT_MISMATCH, ORDER_REVIEW},
    {ORDER_FAILED, ORDER_EVENT_PAYMENT_CONFIRMED, ORDER_PAID},
    {ORDER_FAILED, ORDER_EVENT_AMOUNT_MISMATCH, ORDER_REVIEW},
    {ORDER_PAID, ORDER_EVENT_CREDITED, ORDER_SUCCEEDED},
    {ORDER_PAID, ORDER_EVENT_NOT_CREDITABLE, ORDER_REFUNDING},
    {ORDER_REVIEW, ORDER_EVENT_REVIEW_CREDIT, ORDER_PAID},
    {ORDER_REVIEW, ORDER_EVENT_REVIEW_REFUND, ORDER_REFUNDING},
    {ORDER_REFUNDING, ORDER_EVENT_REFUND_COMPLETED, ORDER_REFUNDED},
};
#define LEGAL_EDGES_COUNT (sizeof(legal_edges) / sizeof(legal_edges[0]))

static const struct edge *legal_edge_of(enum order_status from, enum order_event event)
{
    for (size_t i = 0; i < LEGAL_EDGES_COUNT; i++) {
        if (legal_edges[i].from == from && legal_edges[i].event == event) {
            return &legal_edges[i];
        }
    }
    return NULL;
}

static void test_order__every_cell_of_the_matrix_is_legal_exactly_as_expected(void **state)
{
    size_t legal = 0;
    size_t illegal = 0;

    for (int from = 0; from < ORDER_STATUS_COUNT; from++) {
        for (int event = 0; event < ORDER_EVENT_COUNT; event++) {
            const struct edge *edge = legal_edge_of(from, event);
            enum order_status out = ORDER_STATUS_COUNT; /* a value no edge produces */
            int rc = order_transition(&out, from, event);

            if (edge != NULL) {
                assert_int_equal(rc, LEB_OK);
                assert_int_equal(out, edge->to);
                legal++;
            } else {
                assert_int_equal(rc, LEB_E_ILLEGAL_TRANSITION);
                assert_int_equal(out, ORDER_STATUS_COUNT);
                illegal++;
            }
        }
    }
    assert_int_equal(legal, LEGAL_EDGES_COUNT);
    assert_int_equal(legal + illegal, ORDER_STATUS_COUNT * ORDER_EVENT_COUNT);
}

static void
test_order__a_payment_is_honoured_on_every_order_that_can_still_receive_one(void **state)
{
    const enum order_status receivers[] = {ORDER_PENDING_PAYMENT, ORDER_EXPIRED, ORDER_FAILED};

    for (size_t i = 0; i < sizeof(receivers) / sizeof(receivers[0]); i++) {
        enum order_status out;

        assert_int_equal(order_transition(&out, receivers[i], ORDER_EVENT_PAYMENT_CONFIRMED),
                         LEB_OK);
        assert_int_equal(out, ORDER_PAID);
        assert_int_equal(order_transition(&out, receivers[i], ORDER_EVENT_AMOUNT_MISMATCH), LEB_OK);
        assert_int_equal(out, ORDER_REVIEW);
    }
}

static void test_order__a_second_confirmation_of_a_paid_order_is_illegal(void **state)
{
    enum order_status out = ORDER_REVIEW;

    assert_int_equal(order_transition(&out, ORDER_PAID, ORDER_EVENT_PAYMENT_CONFIRMED),
                     LEB_E_ILLEGAL_TRANSITION);
    assert_int_equal(order_transition(&out, ORDER_SUCCEEDED, ORDER_EVENT_PAYMENT_CONFIRMED),
                     LEB_E_ILLEGAL_TRANSITION);
    assert_int_equal(order_transition(&out, ORDER_SUCCEEDED, ORDER_EVENT_CREDITED),
                     LEB_E_ILLEGAL_TRANSITION);
    assert_int_equal(out, ORDER_REVIEW);
}

static void test_order__an_expired_order_does_not_fail_or_expire_again(void **state)
{
    enum order_status out = ORDER_REVIEW;

    assert_int_equal(order_transition(&out, ORDER_EXPIRED, ORDER_EVENT_PAYMENT_FAILED),
                     LEB_E_ILLEGAL_TRANSITION);
    assert_int_equal(order_transition(&out, ORDER_EXPIRED, ORDER_EVENT_TTL_ELAPSED),
                     LEB_E_ILLEGAL_TRANSITION);
    assert_int_equal(order_transition(&out, ORDER_FAILED, ORDER_EVENT_TTL_ELAPSED),
                     LEB_E_ILLEGAL_TRANSITION);
    assert_int_equal(out, ORDER_REVIEW);
}

static void test_order__final_statuses_are_exactly_succeeded_and_refunded(void **state)
{
    for (int status = 0; status < ORDER_STATUS_COUNT; status++) {
        bool expected = status == ORDER_SUCCEEDED || status == ORDER_REFUNDED;
        bool has_edge = false;

        assert_int_equal(order_status_is_final(status), expected);
        for (size_t i = 0; i < LEGAL_EDGES_COUNT; i++) {
            has_edge = has_edge || legal_edges[i].from == (enum order_status)status;
        }
        assert_int_equal(has_edge, !expected);
    }
}

static void test_order__every_status_is_reachable_and_every_status_can_end(void **state)
{
    bool reachable[ORDER_STATUS_COUNT] = {[ORDER_PENDING_PAYMENT] = true};
    bool can_end[ORDER_STATUS_COUNT] = {[ORDER_SUCCEEDED] = true, [ORDER_REFUNDED] = true};

    /* A fixed point in at most ORDER_STATUS_COUNT rounds. */
    for (int round = 0; round < ORDER_STATUS_COUNT; round++) {
        for (int from = 0; from < ORDER_STATUS_COUNT; from++) {
            for (int event = 0; event < ORDER_EVENT_COUNT; event++) {
                enum order_status to;
                if (order_transition(&to, from, event) != LEB_OK) {
                    continue;
                }
                reachable[to] = reachable[to] || reachable[from];
                can_end[from] = can_end[from] || can_end[to];
            }
        }
    }
    for (int status = 0; status < ORDER_STATUS_COUNT; status++) {
        assert_true(reachable[status]);
        assert_true(can_end[status]);
    }
}

static void test_order__status_names_are_the_contract_names(void **state)
{
    static const char *const names[ORDER_STATUS_COUNT] = {
        [ORDER_PENDING_PAYMENT] = "pending_payment",
        [ORDER_PAID] = "paid",
        [ORDER_SUCCEEDED] = "succeeded",
        [ORDER_FAILED] = "failed",
        [ORDER_EXPIRED] = "expired",
        [ORDER_REVIEW] = "review",
        [ORDER_REFUNDING] = "refunding",
        [ORDER_REFUNDED] = "refunded",
    };

    for (int status = 0; status < ORDER_STATUS_COUNT; status++) {
        enum order_status parsed = ORDER_STATUS_COUNT;

        assert_string_equal(order_status_name(status), names[status]);
        assert_int_equal(order_status_parse(&parsed, names[status]), LEB_OK);
        assert_int_equal(parsed, status);
    }
}

static void test_order__status_parse_rejects_unknown_names(void **state)
{
    static const char *const rejects[] = {
        "",
        "PAID",
        "Paid",
        "paid ",
        " paid",
        "pending",
        "pending-payment",
        "refund",
        "cancelled",
        "paid\n",
        "succeeded_and_more_text_that_is_very_long_indeed",
    };

    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        enum order_status out = ORDER_REVIEW;

        assert_int_equal(order_status_parse(&out, rejects[i]), LEB_E_INVALID_REQUEST);
        assert_int_equal(out, ORDER_REVIEW);
    }
    {
        enum order_status out = ORDER_REVIEW;
        assert_int_equal(order_status_parse(&out, NULL), LEB_E_INVALID_REQUEST);
        assert_int_equal(out, ORDER_REVIEW);
    }
}

static void test_order__event_names_are_distinct_snake_case(void **state)
{
    static const char *const names[ORDER_EVENT_COUNT] = {
        [ORDER_EVENT_PAYMENT_CONFIRMED] = "payment_confirmed",
        [ORDER_EVENT_PAYMENT_FAILED] = "payment_failed",
        [ORDER_EVENT_TTL_ELAPSED] = "ttl_elapsed",
        [ORDER_EVENT_AMOUNT_MISMATCH] = "amount_mismatch",
        [ORDER_EVENT_CREDITED] = "credited",
        [ORDER_EVENT_NOT_CREDITABLE] = "not_creditable",
        [ORDER_EVENT_REVIEW_CREDIT] = "review_credit",
        [ORDER_EVENT_REVIEW_REFUND] = "review_refund",
        [ORDER_EVENT_REFUND_COMPLETED] = "refund_completed",
    };

    for (int event = 0; event < ORDER_EVENT_COUNT; event++) {
        assert_string_equal(order_event_name(event), names[event]);
    }
}

static void test_order__a_lost_notification_is_asked_for_sooner_then_seldom_then_never(void **state)
{
    const int64_t created = 1000000, expires = created + 900;
    /* First after 120 s, then gaps of 240, 480, 600, 600, ... */
    assert_true(order_query_next(created, expires, 0, 120) == created + 120);
    assert_true(order_query_next(created, expires, 1, 120) == created + 360);
    assert_true(order_query_next(created, expires, 2, 120) == created + 840);
    assert_true(order_query_next(created, expires, 3, 120) == created + 1440);
    assert_true(order_query_next(created, expires, 4, 120) == created + 2040);
    /* Never more than an hour after the order expired. */
    int64_t attempts = 0, last = 0, next;
    while ((next = order_query_next(created, expires, attempts, 120)) != 0) {
        assert_true(next > last);
        assert_true(next <= expires + ORDER_QUERY_AFTER_EXPIRY_S);
        if (last != 0)
            assert_true(next - last <= ORDER_QUERY_GAP_MAX_S);
        last = next;
        attempts++;
        assert_true(attempts < 100);
    }
    assert_true(attempts >= 7);
    assert_true(order_query_next(created, expires, 1000, 120) == 0);
    assert_true(order_query_next(created, expires, INT64_C(1) << 40, 120) == 0);
}

static void test_order__a_refund_is_retried_after_a_minute_doubling_to_an_hour(void **state)
{
    assert_true(order_refund_retry_at(0, 100) == 160);
    assert_true(order_refund_retry_at(1, 100) == 160);
    assert_true(order_refund_retry_at(2, 100) == 220);
    assert_true(order_refund_retry_at(3, 100) == 340);
    assert_true(order_refund_retry_at(20, 100) == 100 + 3600);
    assert_true(order_refund_retry_at(INT64_C(1) << 40, 100) == 100 + 3600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_order__a_lost_notification_is_asked_for_sooner_then_seldom_then_never),
        cmocka_unit_test(test_order__a_refund_is_retried_after_a_minute_doubling_to_an_hour),
        cmocka_unit_test(test_order__every_cell_of_the_matrix_is_legal_exactly_as_expected),
        cmocka_unit_test(
            test_order__a_payment_is_honoured_on_every_order_that_can_still_receive_one),
        cmocka_unit_test(test_order__a_second_confirmation_of_a_paid_order_is_illegal),
        cmocka_unit_test(test_order__an_expired_order_does_not_fail_or_expire_again),
        cmocka_unit_test(test_order__final_statuses_are_exactly_succeeded_and_refunded),
        cmocka_unit_test(test_order__every_status_is_reachable_and_every_status_can_end),
        cmocka_unit_test(test_order__status_names_are_the_contract_names),
        cmocka_unit_test(test_order__status_parse_rejects_unknown_names),
        cmocka_unit_test(test_order__event_names_are_distinct_snake_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
