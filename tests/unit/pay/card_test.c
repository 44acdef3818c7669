/*
 * card_test.c - the card provider's Stripe-Signature check (any v1 against any secret, within
 * the tolerance, over the exact bytes) and the expiry it asks a Checkout Session for.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pay/card.h"
#include "pay/pay_crypto.h"

#define NOW INT64_C(1795000000)
#define SECRET "whsec_current"
#define SECRET_NEXT "whsec_next"

static const char BODY[] = "{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\"}";
static const char *const ONE_SECRET[] = {SECRET};
static const char *const TWO_SECRETS[] = {SECRET, SECRET_NEXT};

/* The v1 signature of BODY at "timestamp" under "secret". */
static void sign(char out[65], const char *secret, int64_t timestamp, const char *body)
{
    char payload[512];
    int n = snprintf(payload, sizeof(payload), "%lld.%s", (long long)timestamp, body);
    pay_hmac_sha256_hex(out, secret, strlen(secret), payload, (size_t)n);
}

static int verify(const char *header, const char *const *secrets, size_t count, int64_t now)
{
    return card_signature_verify(header, BODY, strlen(BODY), secrets, count, now,
                                 CARD_SIGNATURE_TOLERANCE_S);
}

static void test_card__accepts_a_signature_of_the_exact_body(void **state)
{
    (void)state;
    char v1[65], header[256];
    sign(v1, SECRET, NOW, BODY);
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)NOW, v1);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), 0);
    /* Stripe's test-mode v0 beside it changes nothing. */
    snprintf(header, sizeof(header), "t=%lld,v1=%s,v0=%s", (long long)NOW, v1, v1);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), 0);
}

static void test_card__refuses_a_changed_body_or_another_secret(void **state)
{
    (void)state;
    char v1[65], header[256];
    sign(v1, SECRET, NOW, BODY);
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)NOW, v1);
    const char changed[] = "{\"id\":\"evt_2\",\"type\":\"payment_intent.succeeded\"}";
    assert_int_equal(card_signature_verify(header, changed, strlen(changed), ONE_SECRET, 1, NOW,
                                           CARD_SIGNATURE_TOLERANCE_S),
                     LEB_E_INVALID_SIGNATURE);
    /* The body with one byte less. */
    assert_int_equal(card_signature_verify(header, BODY, strlen(BODY) - 1, ONE_SECRET, 1, NOW,
                                           CARD_SIGNATURE_TOLERANCE_S),
                     LEB_E_INVALID_SIGNATURE);
    sign(v1, "whsec_other", NOW, BODY);
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)NOW, v1);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
}

static void test_card__refuses_a_timestamp_that_was_not_signed(void **state)
{
    (void)state;
    char v1[65], header[256];
    sign(v1, SECRET, NOW, BODY);
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)NOW + 1, v1);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
    /* The same number spelt with a leading zero is not what was signed. */
    snprintf(header, sizeof(header), "t=0%lld,v1=%s", (long long)NOW, v1);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
}

static void test_card__keeps_to_the_tolerance_both_ways(void **state)
{
    (void)state;
    char v1[65], header[256];
    int64_t at[] = {NOW - 300, NOW + 300};
    for (size_t i = 0; i < 2; i++) {
        sign(v1, SECRET, at[i], BODY);
        snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)at[i], v1);
        assert_int_equal(verify(header, ONE_SECRET, 1, NOW), 0);
    }
    int64_t beyond[] = {NOW - 301, NOW + 301, 0};
    for (size_t i = 0; i < 3; i++) {
        sign(v1, SECRET, beyond[i], BODY);
        snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)beyond[i], v1);
        assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
    }
}

static void test_card__accepts_any_v1_under_any_secret_of_a_rotation(void **state)
{
    (void)state;
    char good[65], wrong[65], next[65], header[512];
    sign(good, SECRET, NOW, BODY);
    sign(wrong, "whsec_old", NOW, BODY);
    sign(next, SECRET_NEXT, NOW, BODY);
    snprintf(header, sizeof(header), "t=%lld,v1=%s,v1=%s", (long long)NOW, wrong, good);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), 0);
    snprintf(header, sizeof(header), "t=%lld,v1=%s,v1=%s", (long long)NOW, good, wrong);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), 0);
    /* Signed with the next secret only: verifies once it is configured, not before. */
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)NOW, next);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
    assert_int_equal(verify(header, TWO_SECRETS, 2, NOW), 0);
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)NOW, good);
    assert_int_equal(verify(header, TWO_SECRETS, 2, NOW), 0);
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)NOW, wrong);
    assert_int_equal(verify(header, TWO_SECRETS, 2, NOW), LEB_E_INVALID_SIGNATURE);
}

static void test_card__refuses_missing_or_malformed_headers(void **state)
{
    (void)state;
    char v1[65], upper[65], header[512];
    sign(v1, SECRET, NOW, BODY);
    memcpy(upper, v1, sizeof(upper));
    pay_hex_upper(upper);
    char malformed[][256] = {"",
                             "t=",
                             "v1=",
                             "garbage",
                             ",",
                             "t=1795000000",
                             "t=1795000000,v0=00",
                             "t=abc,v1=00",
                             "=1795000000"};
    assert_int_equal(verify(NULL, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        assert_int_equal(verify(malformed[i], ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
    snprintf(header, sizeof(header), "v1=%s", v1); /* no timestamp */
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
    const char *shapes[] = {
        "t=%lld,t=1795000000,v1=%s", /* two timestamps */
        "t=%lld;v1=%s",              /* not comma-separated */
        "t=%lld,v1=sha256=%s",       /* a prefix */
        "t=%lld,v1=%s0",             /* one character long */
        "t=-%lld,v1=%s",             /* a sign */
        "t=%lld,v1=%s,=x",           /* an element without a key */
        "t=%lld,v1=%s,junk",         /* an element without a value */
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        snprintf(header, sizeof(header), shapes[i], (long long)NOW, v1);
        assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
    }
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)NOW, upper);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
    /* Blanks around the elements are tolerated; the values themselves are exact. */
    snprintf(header, sizeof(header), " t=%lld , v1=%s ", (long long)NOW, v1);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), 0);
}

static void test_card__refuses_too_many_elements_or_too_long_a_header(void **state)
{
    (void)state;
    char v1[65], header[4096];
    sign(v1, SECRET, NOW, BODY);
    int n = snprintf(header, sizeof(header), "t=%lld", (long long)NOW);
    for (int i = 0; i < CARD_SIGNATURE_ELEMENTS_MAX; i++)
        n += snprintf(header + n, sizeof(header) - (size_t)n, ",v0=x");
    snprintf(header + n, sizeof(header) - (size_t)n, ",v1=%s", v1);
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
    memset(header, ' ', sizeof(header) - 1);
    header[sizeof(header) - 1] = '\0';
    n = snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)NOW, v1);
    header[n] = ' ';
    assert_int_equal(verify(header, ONE_SECRET, 1, NOW), LEB_E_INVALID_SIGNATURE);
}

static void test_card__session_expiry_is_the_clamped_order_ttl_from_its_creation(void **state)
{
    (void)state;
    /* An order of 15 minutes: the session lives the shortest LEB asks, from the creation. */
    assert_int_equal(card_session_expires_at(NOW, NOW + 900, 0, NOW), NOW + CARD_SESSION_TTL_MIN_S);
    /* Asked again a little later: the same answer (Stripe's idempotency wants the same). */
    assert_int_equal(card_session_expires_at(NOW, NOW + 900, 0, NOW + 300),
                     NOW + CARD_SESSION_TTL_MIN_S);
    /* A week-long order: the longest LEB asks. */
    assert_int_equal(card_session_expires_at(NOW, NOW + 7 * 86400, 0, NOW),
                     NOW + CARD_SESSION_TTL_MAX_S);
    /* An hour: as it is. */
    assert_int_equal(card_session_expires_at(NOW, NOW + 3600, 0, NOW), NOW + 3600);
    /* LEB's clock 91 days ahead: Stripe's real time counts. */
    int64_t ahead = 91 * 86400;
    assert_int_equal(card_session_expires_at(NOW + ahead, NOW + ahead + 3600, ahead, NOW),
                     NOW + 3600);
    /* So late that the first answer would break Stripe's bounds: counted from now. */
    assert_int_equal(card_session_expires_at(NOW, NOW + 900, 0, NOW + 3600),
                     NOW + 3600 + CARD_SESSION_TTL_MIN_S);
    /* An order whose creation LEB's clock puts later than this: from its creation still. */
    assert_int_equal(card_session_expires_at(NOW + 7200, NOW + 7200 + 900, 0, NOW),
                     NOW + 7200 + CARD_SESSION_TTL_MIN_S);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_card__accepts_a_signature_of_the_exact_body),
        cmocka_unit_test(test_card__refuses_a_changed_body_or_another_secret),
        cmocka_unit_test(test_card__refuses_a_timestamp_that_was_not_signed),
        cmocka_unit_test(test_card__keeps_to_the_tolerance_both_ways),
        cmocka_unit_test(test_card__accepts_any_v1_under_any_secret_of_a_rotation),
        cmocka_unit_test(test_card__refuses_missing_or_malformed_headers),
        cmocka_unit_test(test_card__refuses_too_many_elements_or_too_long_a_header),
        cmocka_unit_test(test_card__session_expiry_is_the_clamped_order_ttl_from_its_creation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
