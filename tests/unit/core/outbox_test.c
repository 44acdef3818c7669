/*
 * outbox_test.c - delivery rules: back-off, the bound on attempts, dead letters, resend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/outbox.h"

static void test_outbox__a_success_is_delivered_whatever_came_before(void **state)
{
    struct outbox_attempt next;
    assert_int_equal(outbox_after_attempt(&next, 0, true, 1000, 8, 30), LEB_OK);
    assert_int_equal(next.status, OUTBOX_DELIVERED);
    assert_int_equal(next.attempts, 1);
    assert_int_equal(outbox_after_attempt(&next, 6, true, 1000, 8, 30), LEB_OK);
    assert_int_equal(next.status, OUTBOX_DELIVERED);
    assert_int_equal(next.attempts, 7);
}

static void test_outbox__failures_back_off_doubling_up_to_an_hour(void **state)
{
    static const int64_t expected_wait_s[] = {30, 60, 120, 240, 480, 960, 1920, 3600, 3600};
    for (int64_t before = 0; before < 9; before++) {
        struct outbox_attempt next;
        assert_int_equal(outbox_after_attempt(&next, before, false, 1000, 100, 30), LEB_OK);
        assert_int_equal(next.status, OUTBOX_PENDING);
        assert_int_equal(next.attempts, before + 1);
        assert_int_equal(next.next_attempt_at - 1000, expected_wait_s[before]);
    }
    struct outbox_attempt next;
    assert_int_equal(outbox_after_attempt(&next, 98, false, 0, 100, 3600), LEB_OK);
    assert_int_equal(next.next_attempt_at, OUTBOX_BACKOFF_MAX_S);
}

static void test_outbox__the_last_allowed_failure_makes_a_dead_letter(void **state)
{
    struct outbox_attempt next;
    assert_int_equal(outbox_after_attempt(&next, 2, false, 1000, 3, 30), LEB_OK);
    assert_int_equal(next.status, OUTBOX_DEAD);
    assert_int_equal(next.attempts, 3);
    assert_int_equal(outbox_after_attempt(&next, 1, false, 1000, 3, 30), LEB_OK);
    assert_int_equal(next.status, OUTBOX_PENDING);
    assert_int_equal(outbox_after_attempt(&next, 0, false, 1000, 1, 30), LEB_OK);
    assert_int_equal(next.status, OUTBOX_DEAD);
}

static void test_outbox__bad_parameters_are_refused_and_leave_out_alone(void **state)
{
    struct outbox_attempt next = {.status = OUTBOX_DELIVERED, .attempts = 42};
    assert_int_equal(outbox_after_attempt(&next, -1, false, 0, 3, 30), LEB_E_INVALID_REQUEST);
    assert_int_equal(outbox_after_attempt(&next, 0, false, 0, 0, 30), LEB_E_INVALID_REQUEST);
    assert_int_equal(outbox_after_attempt(&next, 0, false, 0, 3, 0), LEB_E_INVALID_REQUEST);
    assert_int_equal(outbox_after_attempt(&next, 0, false, INT64_MAX, 3, 30),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(next.attempts, 42);
}

static void test_outbox__only_a_dead_letter_can_be_resent(void **state)
{
    struct outbox_attempt next;
    assert_int_equal(outbox_resend(&next, OUTBOX_DEAD, 5000), LEB_OK);
    assert_int_equal(next.status, OUTBOX_PENDING);
    assert_int_equal(next.attempts, 0);
    assert_int_equal(next.next_attempt_at, 5000);
    assert_int_equal(outbox_resend(&next, OUTBOX_PENDING, 5000), LEB_E_ILLEGAL_TRANSITION);
    assert_int_equal(outbox_resend(&next, OUTBOX_DELIVERED, 5000), LEB_E_ILLEGAL_TRANSITION);
}

static void test_outbox__status_names_round_trip(void **state)
{
    for (int i = 0; i < OUTBOX_STATUS_COUNT; i++) {
        enum outbox_status parsed;
        assert_int_equal(outbox_status_parse(&parsed, outbox_status_name((enum outbox_status)i)),
                         LEB_OK);
        assert_int_equal(parsed, i);
    }
    enum outbox_status parsed;
    assert_int_equal(outbox_status_parse(&parsed, "sent"), LEB_E_INVALID_REQUEST);
    assert_int_equal(outbox_status_parse(&parsed, NULL), LEB_E_INVALID_REQUEST);
}

static void test_outbox__kannel_dlr_types_name_one_report_each(void **state)
{
    const struct {
        int64_t type;
        const char *name;
    } known[] = {
        {1, "delivered"}, {2, "undelivered"}, {4, "queued"}, {8, "accepted"}, {16, "rejected"}};
    for (size_t i = 0; i < 5; i++) {
        enum sms_delivery delivery = SMS_DELIVERY_NONE, parsed = SMS_DELIVERY_NONE;
        assert_int_equal(sms_delivery_of_dlr(&delivery, known[i].type), LEB_OK);
        assert_string_equal(sms_delivery_name(delivery), known[i].name);
        assert_int_equal(sms_delivery_parse(&parsed, known[i].name), LEB_OK);
        assert_int_equal(parsed, delivery);
    }
    const int64_t bad[] = {0, 3, 5, 9, 17, 31, 32, -1, INT64_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum sms_delivery delivery = SMS_DELIVERY_QUEUED;
        assert_int_equal(sms_delivery_of_dlr(&delivery, bad[i]), LEB_E_INVALID_REQUEST);
        assert_int_equal(delivery, SMS_DELIVERY_QUEUED);
    }
    enum sms_delivery none;
    assert_int_equal(sms_delivery_parse(&none, ""), LEB_OK);
    assert_int_equal(none, SMS_DELIVERY_NONE);
    assert_int_equal(sms_delivery_parse(&none, "sent"), LEB_E_INVALID_REQUEST);
    assert_int_equal(sms_delivery_parse(&none, NULL), LEB_E_INVALID_REQUEST);
}

static void test_outbox__delivery_never_goes_back_and_the_first_final_stands(void **state)
{
    /* The usual order. */
    enum sms_delivery d = SMS_DELIVERY_NONE;
    d = sms_delivery_merge(d, SMS_DELIVERY_QUEUED);
    assert_int_equal(d, SMS_DELIVERY_QUEUED);
    d = sms_delivery_merge(d, SMS_DELIVERY_ACCEPTED);
    assert_int_equal(d, SMS_DELIVERY_ACCEPTED);
    d = sms_delivery_merge(d, SMS_DELIVERY_DELIVERED);
    assert_int_equal(d, SMS_DELIVERY_DELIVERED);
    /* Late and contradicting reports change nothing once a final one is in. */
    const enum sms_delivery late[] = {SMS_DELIVERY_NONE, SMS_DELIVERY_QUEUED, SMS_DELIVERY_ACCEPTED,
                                      SMS_DELIVERY_UNDELIVERED, SMS_DELIVERY_REJECTED};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(sms_delivery_merge(d, late[i]), SMS_DELIVERY_DELIVERED);
    assert_int_equal(sms_delivery_merge(SMS_DELIVERY_ACCEPTED, SMS_DELIVERY_QUEUED),
                     SMS_DELIVERY_ACCEPTED);
    assert_int_equal(sms_delivery_merge(SMS_DELIVERY_QUEUED, SMS_DELIVERY_REJECTED),
                     SMS_DELIVERY_REJECTED);
    assert_int_equal(sms_delivery_merge(SMS_DELIVERY_NONE, SMS_DELIVERY_UNDELIVERED),
                     SMS_DELIVERY_UNDELIVERED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outbox__a_success_is_delivered_whatever_came_before),
        cmocka_unit_test(test_outbox__failures_back_off_doubling_up_to_an_hour),
        cmocka_unit_test(test_outbox__the_last_allowed_failure_makes_a_dead_letter),
        cmocka_unit_test(test_outbox__bad_parameters_are_refused_and_leave_out_alone),
        cmocka_unit_test(test_outbox__only_a_dead_letter_can_be_resent),
        cmocka_unit_test(test_outbox__status_names_round_trip),
        cmocka_unit_test(test_outbox__kannel_dlr_types_name_one_report_each),
        cmocka_unit_test(test_outbox__delivery_never_goes_back_and_the_first_final_stands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
