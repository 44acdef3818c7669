/*
 * ledger_test.c - postings of recharges and refund holds, and the check that they balance.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/ledger.h"

#define CARD "8986010000000000018"

static struct quote quote_plain(int64_t face)
{
    struct quote quote;

    memset(&quote, 0, sizeof(quote));
    quote.face_amount = face;
    quote.pay_amount = face;
    strcpy(quote.currency, "CNY");
    return quote;
}

/* A type wider than any sum of 8 int64 amounts (a GCC and Clang extension). */
__extension__ typedef __int128 wide_t;

/* The sum of a posting's entries, computed here in a wider type, so that the test does not
 * trust the arithmetic it checks. */
static wide_t posting_sum(const struct ledger_posting *posting)
{
    wide_t sum = 0;

    for (size_t i = 0; i < posting->count; i++) {
        sum += posting->entries[i].amount;
    }
    return sum;
}

static const struct ledger_entry *posting_find(const struct ledger_posting *posting,
                                               const char *account)
{
    for (size_t i = 0; i < posting->count; i++) {
        if (strcmp(posting->entries[i].account, account) == 0) {
            return &posting->entries[i];
        }
    }
    return NULL;
}

static struct ledger_posting posting_balanced(size_t count)
{
    struct ledger_posting posting;

    memset(&posting, 0, sizeof(posting));
    posting.kind = LEDGER_TXN_RECHARGE;
    strcpy(posting.currency, "CNY");
    for (size_t i = 0; i < count; i++) {
        snprintf(posting.entries[i].account, LEDGER_ACCOUNT_SIZE, "test:%zu", i);
        posting.entries[i].amount = i + 1 < count ? 100 : -100 * (int64_t)(count - 1);
    }
    posting.count = count;
    return posting;
}

static void test_ledger__kind_names(void **state)
{
    assert_string_equal(ledger_txn_kind_name(LEDGER_TXN_RECHARGE), "recharge");
    assert_string_equal(ledger_txn_kind_name(LEDGER_TXN_REFUND_HOLD), "refund_hold");
    assert_string_equal(ledger_txn_kind_name(LEDGER_TXN_MONTHLY_FEE), "monthly_fee");
    assert_string_equal(ledger_txn_kind_name(LEDGER_TXN_FORFEIT), "forfeit");
}

static void test_ledger__card_account_is_card_colon_number(void **state)
{
    char account[LEDGER_ACCOUNT_SIZE];

    ledger_account_card(account, CARD);
    assert_string_equal(account, "card:" CARD);
}

static void test_ledger__a_plain_recharge_credits_the_card_and_debits_clearing(void **state)
{
    struct quote quote = quote_plain(5000);
    struct ledger_posting posting;

    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"), LEB_OK);
    assert_int_equal(posting.kind, LEDGER_TXN_RECHARGE);
    assert_string_equal(posting.currency, "CNY");
    assert_int_equal(posting.count, 2);
    assert_string_equal(posting.entries[0].account, "card:" CARD);
    assert_int_equal(posting.entries[0].amount, 5000);
    assert_string_equal(posting.entries[1].account, "clearing:sandbox");
    assert_int_equal(posting.entries[1].amount, -5000);
    assert_true(posting_sum(&posting) == 0);
    assert_int_equal(ledger_posting_check(&posting), LEB_OK);
}

static void test_ledger__a_recharge_with_discount_fee_and_bonus_touches_four_accounts(void **state)
{
    struct quote quote = quote_plain(10000);
    struct ledger_posting posting;

    quote.discount_amount = 500;
    quote.fee_amount = 200;
    quote.bonus_amount = 1000;
    quote.pay_amount = 10000 - 500 + 200;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "alipay"), LEB_OK);
    assert_int_equal(posting.count, 4);
    assert_int_equal(posting_find(&posting, "card:" CARD)->amount, 11000);
    assert_int_equal(posting_find(&posting, "clearing:alipay")->amount, -9700);
    assert_int_equal(posting_find(&posting, "revenue:fee")->amount, 200);
    assert_int_equal(posting_find(&posting, "expense:promotion")->amount, -1500);
    assert_true(posting_sum(&posting) == 0);
    assert_int_equal(ledger_posting_check(&posting), LEB_OK);
}

static void test_ledger__a_recharge_leaves_out_zero_entries(void **state)
{
    struct quote quote = quote_plain(5000);
    struct ledger_posting posting;

    /* Fully discounted: nothing is paid, so clearing is not touched. */
    quote.discount_amount = 5000;
    quote.pay_amount = 0;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"), LEB_OK);
    assert_int_equal(posting.count, 2);
    assert_int_equal(posting_find(&posting, "card:" CARD)->amount, 5000);
    assert_int_equal(posting_find(&posting, "expense:promotion")->amount, -5000);
    assert_null(posting_find(&posting, "clearing:sandbox"));
    assert_null(posting_find(&posting, "revenue:fee"));

    /* A fee but no promotion. */
    quote = quote_plain(5000);
    quote.fee_amount = 300;
    quote.pay_amount = 5300;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "card"), LEB_OK);
    assert_int_equal(posting.count, 3);
    assert_null(posting_find(&posting, "expense:promotion"));
    for (size_t i = 0; i < posting.count; i++) {
        assert_true(posting.entries[i].amount != 0);
    }
}

static void test_ledger__a_recharge_copies_the_quote_currency(void **state)
{
    struct quote quote = quote_plain(5000);
    struct ledger_posting posting;

    strcpy(quote.currency, "USD");
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "card"), LEB_OK);
    assert_string_equal(posting.currency, "USD");
}

static void test_ledger__a_recharge_rejects_a_quote_that_does_not_add_up(void **state)
{
    struct ledger_posting posting = {.count = 77};
    struct quote quote;

    quote = quote_plain(5000);
    quote.pay_amount = 4999;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"),
                     LEB_E_INVALID_REQUEST);
    quote = quote_plain(5000);
    quote.fee_amount = 100;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"),
                     LEB_E_INVALID_REQUEST);
    quote = quote_plain(0);
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"),
                     LEB_E_INVALID_REQUEST);
    quote = quote_plain(-5000);
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"),
                     LEB_E_INVALID_REQUEST);
    quote = quote_plain(5000);
    quote.discount_amount = -100;
    quote.pay_amount = 5100;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"),
                     LEB_E_INVALID_REQUEST);
    quote = quote_plain(5000);
    quote.bonus_amount = -1;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"),
                     LEB_E_INVALID_REQUEST);
    quote = quote_plain(5000);
    quote.discount_amount = 6000;
    quote.pay_amount = -1000;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"),
                     LEB_E_INVALID_REQUEST);
    quote = quote_plain(5000);
    strcpy(quote.currency, "cny");
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(posting.count, 77);
}

static void test_ledger__a_recharge_rejects_a_bad_card_number_or_provider(void **state)
{
    struct quote quote = quote_plain(5000);
    struct ledger_posting posting = {.count = 77};

    assert_int_equal(ledger_post_recharge(&posting, &quote, "8986010000000000019", "sandbox"),
                     LEB_E_INVALID_CARD_NUMBER);
    assert_int_equal(ledger_post_recharge(&posting, &quote, "", "sandbox"),
                     LEB_E_INVALID_CARD_NUMBER);
    assert_int_equal(ledger_post_recharge(&posting, &quote, NULL, "sandbox"),
                     LEB_E_INVALID_CARD_NUMBER);
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, ""), LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, NULL), LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "ali pay"),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(
        ledger_post_recharge(&posting, &quote, CARD, "a-provider-name-that-is-far-too-long-to-fit"),
        LEB_E_INVALID_REQUEST);
    assert_int_equal(posting.count, 77);
}

static void test_ledger__a_recharge_reports_overflow_of_its_sums(void **state)
{
    struct ledger_posting posting = {.count = 77};
    struct quote quote;

    /* face + bonus leaves int64. */
    quote = quote_plain(INT64_MAX);
    quote.bonus_amount = 1;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"), LEB_E_OVERFLOW);
    /* face - discount + fee leaves int64. */
    quote = quote_plain(INT64_MAX);
    quote.fee_amount = 1;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"), LEB_E_OVERFLOW);
    /* discount + bonus leaves int64. */
    quote = quote_plain(INT64_MAX);
    quote.discount_amount = INT64_MAX;
    quote.pay_amount = 0;
    quote.bonus_amount = 0;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"), LEB_OK);
    quote.discount_amount = 1;
    quote.pay_amount = INT64_MAX - 1;
    quote.bonus_amount = INT64_MAX;
    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"), LEB_E_OVERFLOW);
}

static void test_ledger__the_largest_recharge_still_balances(void **state)
{
    struct quote quote = quote_plain(INT64_MAX);
    struct ledger_posting posting;

    assert_int_equal(ledger_post_recharge(&posting, &quote, CARD, "sandbox"), LEB_OK);
    assert_true(posting.entries[0].amount == INT64_MAX);
    assert_true(posting.entries[1].amount == -INT64_MAX);
    assert_true(posting_sum(&posting) == 0);
}

static void test_ledger__a_refund_hold_moves_the_payment_to_refunds_payable(void **state)
{
    struct ledger_posting posting;

    assert_int_equal(ledger_post_refund_hold(&posting, 5000, "CNY", "wechatpay"), LEB_OK);
    assert_int_equal(posting.kind, LEDGER_TXN_REFUND_HOLD);
    assert_string_equal(posting.currency, "CNY");
    assert_int_equal(posting.count, 2);
    assert_int_equal(posting_find(&posting, "clearing:wechatpay")->amount, -5000);
    assert_int_equal(posting_find(&posting, "payable:refund")->amount, 5000);
    assert_int_equal(ledger_posting_check(&posting), LEB_OK);
}

static void test_ledger__a_refund_paid_reverses_the_hold_exactly(void **state)
{
    struct ledger_posting hold, paid;

    assert_int_equal(ledger_post_refund_hold(&hold, 5000, "CNY", "alipay"), LEB_OK);
    assert_int_equal(ledger_post_refund_paid(&paid, 5000, "CNY", "alipay"), LEB_OK);
    assert_int_equal(paid.kind, LEDGER_TXN_REFUND);
    assert_string_equal(ledger_txn_kind_name(LEDGER_TXN_REFUND), "refund");
    assert_int_equal(paid.count, 2);
    assert_int_equal(posting_find(&paid, "clearing:alipay")->amount, 5000);
    assert_int_equal(posting_find(&paid, "payable:refund")->amount, -5000);
    assert_int_equal(posting_find(&hold, "clearing:alipay")->amount +
                         posting_find(&paid, "clearing:alipay")->amount,
                     0);
    assert_int_equal(posting_find(&hold, "payable:refund")->amount +
                         posting_find(&paid, "payable:refund")->amount,
                     0);
    assert_int_equal(ledger_post_refund_paid(&paid, 0, "CNY", "alipay"), LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_refund_paid(&paid, 5000, "CNY", ""), LEB_E_INVALID_REQUEST);
}

static void test_ledger__a_refund_hold_rejects_bad_input(void **state)
{
    struct ledger_posting posting = {.count = 77};

    assert_int_equal(ledger_post_refund_hold(&posting, 0, "CNY", "sandbox"), LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_refund_hold(&posting, -1, "CNY", "sandbox"),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_refund_hold(&posting, INT64_MIN, "CNY", "sandbox"),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_refund_hold(&posting, 5000, "yuan", "sandbox"),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_refund_hold(&posting, 5000, NULL, "sandbox"),
                     LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_refund_hold(&posting, 5000, "CNY", ""), LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_refund_hold(&posting, 5000, "CNY", NULL), LEB_E_INVALID_REQUEST);
    assert_int_equal(posting.count, 77);
    assert_int_equal(ledger_post_refund_hold(&posting, INT64_MAX, "CNY", "sandbox"), LEB_OK);
}

static void test_ledger__a_monthly_fee_moves_money_from_the_card_to_fee_revenue(void **state)
{
    struct ledger_posting posting;

    assert_int_equal(ledger_post_monthly_fee(&posting, CARD, 800, "CNY"), LEB_OK);
    assert_int_equal(posting.kind, LEDGER_TXN_MONTHLY_FEE);
    assert_int_equal(posting.count, 2);
    assert_string_equal(posting.entries[0].account, "card:" CARD);
    assert_int_equal(posting.entries[0].amount, -800);
    assert_string_equal(posting.entries[1].account, "revenue:monthly_fee");
    assert_int_equal(posting.entries[1].amount, 800);
    assert_int_equal(ledger_posting_check(&posting), LEB_OK);
}

static void test_ledger__a_forfeit_moves_the_balance_to_the_forfeit_account(void **state)
{
    struct ledger_posting posting;

    assert_int_equal(ledger_post_forfeit(&posting, CARD, 1234, "CNY"), LEB_OK);
    assert_int_equal(posting.kind, LEDGER_TXN_FORFEIT);
    assert_string_equal(posting.entries[1].account, "forfeit:recycled");
    assert_int_equal(posting.entries[0].amount + posting.entries[1].amount, 0);
}

static void test_ledger__fee_and_forfeit_reject_bad_input(void **state)
{
    struct ledger_posting posting;

    assert_int_equal(ledger_post_monthly_fee(&posting, CARD, 0, "CNY"), LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_monthly_fee(&posting, CARD, -1, "CNY"), LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_monthly_fee(&posting, CARD, 800, "cny"), LEB_E_INVALID_REQUEST);
    assert_int_equal(ledger_post_forfeit(&posting, "8986010000000000019", 1, "CNY"),
                     LEB_E_INVALID_CARD_NUMBER);
}

static void test_ledger__check_accepts_two_to_eight_balanced_entries(void **state)
{
    for (size_t count = 2; count <= LEDGER_ENTRIES_MAX; count++) {
        struct ledger_posting posting = posting_balanced(count);

        assert_int_equal(ledger_posting_check(&posting), LEB_OK);
    }
}

static void test_ledger__check_rejects_too_few_or_too_many_entries(void **state)
{
    struct ledger_posting posting = posting_balanced(2);

    posting.count = 0;
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
    posting.count = 1;
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
    posting = posting_balanced(LEDGER_ENTRIES_MAX);
    posting.count = LEDGER_ENTRIES_MAX + 1;
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
    posting.count = SIZE_MAX;
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
}

static void test_ledger__check_rejects_an_unbalanced_posting(void **state)
{
    struct ledger_posting posting = posting_balanced(3);

    posting.entries[2].amount -= 1;
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
    posting = posting_balanced(2);
    posting.entries[1].amount = 100;
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
}

static void test_ledger__check_rejects_zero_amounts_and_empty_accounts(void **state)
{
    struct ledger_posting posting;

    posting = posting_balanced(3);
    posting.entries[0].amount = 0;
    posting.entries[2].amount = -100;
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
    posting = posting_balanced(3);
    posting.entries[1].account[0] = '\0';
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
    posting = posting_balanced(3);
    memset(posting.entries[1].account, 'x', LEDGER_ACCOUNT_SIZE);
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
}

static void test_ledger__check_rejects_a_posting_that_balances_only_through_overflow(void **state)
{
    struct ledger_posting posting = posting_balanced(4);

    /* MAX + MAX + 2 + MIN + MIN == 0 modulo 2^64 only after wrapping. */
    posting.entries[0].amount = INT64_MAX;
    posting.entries[1].amount = INT64_MAX;
    posting.entries[2].amount = 2;
    posting.entries[3].amount = INT64_MIN;
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
    /* The same amounts in an order whose partial sums stay in range are fine. */
    posting = posting_balanced(4);
    posting.entries[0].amount = INT64_MAX;
    posting.entries[1].amount = INT64_MIN;
    posting.entries[2].amount = INT64_MAX;
    posting.entries[3].amount = INT64_MIN + 2;
    assert_int_equal(ledger_posting_check(&posting), LEB_OK);
}

static void test_ledger__check_rejects_an_unknown_kind_or_currency(void **state)
{
    struct ledger_posting posting;

    posting = posting_balanced(2);
    posting.kind = LEDGER_TXN_KIND_COUNT;
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
    posting = posting_balanced(2);
    posting.currency[0] = '\0';
    assert_int_equal(ledger_posting_check(&posting), LEB_E_INVALID_REQUEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ledger__kind_names),
        cmocka_unit_test(test_ledger__card_account_is_card_colon_number),
        cmocka_unit_test(test_ledger__a_plain_recharge_credits_the_card_and_debits_clearing),
        cmocka_unit_test(test_ledger__a_recharge_with_discount_fee_and_bonus_touches_four_accounts),
        cmocka_unit_test(test_ledger__a_recharge_leaves_out_zero_entries),
        cmocka_unit_test(test_ledger__a_recharge_copies_the_quote_currency),
        cmocka_unit_test(test_ledger__a_recharge_rejects_a_quote_that_does_not_add_up),
        cmocka_unit_test(test_ledger__a_recharge_rejects_a_bad_card_number_or_provider),
        cmocka_unit_test(test_ledger__a_recharge_reports_overflow_of_its_sums),
        cmocka_unit_test(test_ledger__the_largest_recharge_still_balances),
        cmocka_unit_test(test_ledger__a_refund_hold_moves_the_payment_to_refunds_payable),
        cmocka_unit_test(test_ledger__a_refund_hold_rejects_bad_input),
        cmocka_unit_test(test_ledger__a_refund_paid_reverses_the_hold_exactly),
        cmocka_unit_test(test_ledger__check_accepts_two_to_eight_balanced_entries),
        cmocka_unit_test(test_ledger__check_rejects_too_few_or_too_many_entries),
        cmocka_unit_test(test_ledger__check_rejects_an_unbalanced_posting),
        cmocka_unit_test(test_ledger__check_rejects_zero_amounts_and_empty_accounts),
        cmocka_unit_test(test_ledger__check_rejects_a_posting_that_balances_only_through_overflow),
        cmocka_unit_test(test_ledger__check_rejects_an_unknown_kind_or_currency),
        cmocka_unit_test(test_ledger__a_monthly_fee_moves_money_from_the_card_to_fee_revenue),
        cmocka_unit_test(test_ledger__a_forfeit_moves_the_balance_to_the_forfeit_account),
        cmocka_unit_test(test_ledger__fee_and_forfeit_reject_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
