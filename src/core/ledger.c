/*
 * ledger.c - double-entry postings as pure values.
 *
 * This module owns the shape of every journal transaction LEB writes: which accounts a
 * recharge or a refund hold touches, with which signs, and the check that a posting balances
 * to exactly zero. The store writes what this module builds, after ledger_posting_check().
 *
 * It must never write anything itself, never let a posting out that does not sum to zero,
 * and never let an amount wrap: a ledger that balances only modulo 2^64 does not balance.
 */
#include "core/ledger.h"

#include <stdio.h>
#include <string.h>

#include "core/cardno.h"
#include "core/money.h"

#define LEDGER_ACCOUNT_REVENUE_FEE "revenue:fee"
#define LEDGER_ACCOUNT_EXPENSE_PROMOTION "expense:promotion"
#define LEDGER_ACCOUNT_PAYABLE_REFUND "payable:refund"

static const char *const ledger_txn_kind_names[LEDGER_TXN_KIND_COUNT] = {
    [LEDGER_TXN_RECHARGE] = "recharge",       [LEDGER_TXN_REFUND_HOLD] = "refund_hold",
    [LEDGER_TXN_MONTHLY_FEE] = "monthly_fee", [LEDGER_TXN_FORFEIT] = "forfeit",
    [LEDGER_TXN_REFUND] = "refund",
};

const char *ledger_txn_kind_name(enum ledger_txn_kind kind)
{
    LEB_ASSERT((int)kind >= 0 && kind < LEDGER_TXN_KIND_COUNT);
    return ledger_txn_kind_names[kind];
}

/* Writes "<prefix><name>" into "out"; -1 if it does not fit. */
static int ledger_account_format(char out[LEDGER_ACCOUNT_SIZE], const char *prefix,
                                 const char *name)
{
    int written = snprintf(out, LEDGER_ACCOUNT_SIZE, "%s%s", prefix, name);

    if (written < 0 || written >= LEDGER_ACCOUNT_SIZE) {
        return -1;
    }
    return 0;
}

/* A card's account code. "card_no" is a normalised card number, whose account always fits. */
void ledger_account_card(char out[LEDGER_ACCOUNT_SIZE], const char *card_no)
{
    int fitted;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(card_no != NULL);
    fitted = ledger_account_format(out, "card:", card_no);
    LEB_ASSERT(fitted == 0);
}

/* A provider's name becomes part of an account code: non-empty printable ASCII without
 * spaces, short enough that "clearing:<provider>" fits. */
static bool ledger_provider_is_valid(const char *provider)
{
    size_t length;

    if (provider == NULL) {
        return false;
    }
    length = strnlen(provider, LEDGER_ACCOUNT_SIZE);
    if (length == 0 || length + strlen("clearing:") >= LEDGER_ACCOUNT_SIZE) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (provider[i] <= ' ' || provider[i] > '~') {
            return false;
        }
    }
    return true;
}

/* Appends an entry to "posting" unless "amount" is zero: a zero entry moves nothing and
 * would only make every balance query longer. */
static void ledger_posting_append(struct ledger_posting *posting, const char *account,
                                  int64_t amount)
{
    struct ledger_entry *entry;

    if (amount == 0) {
        return;
    }
    LEB_ASSERT(posting->count < LEDGER_ENTRIES_MAX);
    entry = &posting->entries[posting->count++];
    LEB_ASSERT(strnlen(account, LEDGER_ACCOUNT_SIZE) < LEDGER_ACCOUNT_SIZE);
    memcpy(entry->account, account, strlen(account) + 1);
    entry->amount = amount;
}

/*
 * Builds the posting of a recharge priced by "quote" for "card_no", paid through "provider":
 *
 *   card:<card_no>        +(face + bonus)    the cardholder's balance grows
 *   clearing:<provider>   -pay               the provider owes LEB what the payer paid
 *   revenue:fee           +fee               LEB earned the service fee
 *   expense:promotion     -(discount + bonus) LEB paid for the promotion
 *
 * which sums to face - pay + fee - discount = 0 because pay = face - discount + fee. A quote
 * that does not satisfy that equation is refused (LEB_E_INVALID_REQUEST), as are negative
 * parts, a bad card number (LEB_E_INVALID_CARD_NUMBER) or provider; sums that overflow are
 * LEB_E_OVERFLOW. "*out" is written only on success.
 */
int ledger_post_recharge(struct ledger_posting *out, const struct quote *quote, const char *card_no,
                         const char *provider)
{
    struct ledger_posting posting;
    char account[LEDGER_ACCOUNT_SIZE];
    int64_t card_credit;
    int64_t promotion_debit;
    int64_t pay_expected;
    int fitted;
    int error;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(quote != NULL);

    if (!cardno_is_valid(card_no)) {
        return LEB_E_INVALID_CARD_NUMBER;
    }
    if (!ledger_provider_is_valid(provider) || !currency_is_valid(quote->currency)) {
        return LEB_E_INVALID_REQUEST;
    }
    if (quote->face_amount <= 0 || quote->discount_amount < 0 || quote->fee_amount < 0 ||
        quote->bonus_amount < 0 || quote->pay_amount < 0) {
        return LEB_E_INVALID_REQUEST;
    }
    if ((error = money_sub(&pay_expected, quote->face_amount, quote->discount_amount)) != 0 ||
        (error = money_add(&pay_expected, pay_expected, quote->fee_amount)) != 0) {
        return error;
    }
    if (pay_expected != quote->pay_amount) {
        return LEB_E_INVALID_REQUEST;
    }
    if ((error = money_add(&card_credit, quote->face_amount, quote->bonus_amount)) != 0 ||
        (error = money_add(&promotion_debit, quote->discount_amount, quote->bonus_amount)) != 0) {
        return error;
    }

    memset(&posting, 0, sizeof(posting));
    posting.kind = LEDGER_TXN_RECHARGE;
    memcpy(posting.currency, quote->currency, CURRENCY_SIZE);

    ledger_account_card(account, card_no);
    ledger_posting_append(&posting, account, card_credit);
    fitted = ledger_account_format(account, "clearing:", provider);
    LEB_ASSERT(fitted == 0);
    ledger_posting_append(&posting, account, -quote->pay_amount);
    ledger_posting_append(&posting, LEDGER_ACCOUNT_REVENUE_FEE, quote->fee_amount);
    ledger_posting_append(&posting, LEDGER_ACCOUNT_EXPENSE_PROMOTION, -promotion_debit);

    if ((error = ledger_posting_check(&posting)) != 0) {
        return error;
    }
    *out = posting;
    return LEB_OK;
}

/*
 * Builds the posting that holds "pay_amount" paid through "provider" for refund: the
 * provider's clearing account is debited and refunds payable credited, so the money is owed
 * back to the payer instead of sitting nowhere. "*out" is written only on success.
 */
static int ledger_post_refund_move(struct ledger_posting *out, enum ledger_txn_kind kind,
                                   int64_t sign, int64_t pay_amount, const char *currency,
                                   const char *provider)
{
    struct ledger_posting posting;
    char account[LEDGER_ACCOUNT_SIZE];
    int fitted;
    int error;

    LEB_ASSERT(out != NULL);
    if (pay_amount <= 0 || !currency_is_valid(currency) || !ledger_provider_is_valid(provider)) {
        return LEB_E_INVALID_REQUEST;
    }

    memset(&posting, 0, sizeof(posting));
    posting.kind = kind;
    memcpy(posting.currency, currency, CURRENCY_SIZE);
    fitted = ledger_account_format(account, "clearing:", provider);
    LEB_ASSERT(fitted == 0);
    ledger_posting_append(&posting, account, -sign * pay_amount);
    ledger_posting_append(&posting, LEDGER_ACCOUNT_PAYABLE_REFUND, sign * pay_amount);

    if ((error = ledger_posting_check(&posting)) != 0) {
        return error;
    }
    *out = posting;
    return LEB_OK;
}

int ledger_post_refund_hold(struct ledger_posting *out, int64_t pay_amount, const char *currency,
                            const char *provider)
{
    return ledger_post_refund_move(out, LEDGER_TXN_REFUND_HOLD, 1, pay_amount, currency, provider);
}

/* The hold reversed: once the provider gave the money back, neither clearing nor refunds
 * payable keeps anything of the order. */
int ledger_post_refund_paid(struct ledger_posting *out, int64_t pay_amount, const char *currency,
                            const char *provider)
{
    return ledger_post_refund_move(out, LEDGER_TXN_REFUND, -1, pay_amount, currency, provider);
}

/* A card debited "amount", "account" credited: the shape of both lifecycle postings. */
static int ledger_post_from_card(struct ledger_posting *out, enum ledger_txn_kind kind,
                                 const char *card_no, const char *account, int64_t amount,
                                 const char *currency)
{
    struct ledger_posting posting;
    char card_account[LEDGER_ACCOUNT_SIZE];
    int error;

    LEB_ASSERT(out != NULL);
    if (!cardno_is_valid(card_no)) {
        return LEB_E_INVALID_CARD_NUMBER;
    }
    if (amount <= 0 || !currency_is_valid(currency)) {
        return LEB_E_INVALID_REQUEST;
    }
    memset(&posting, 0, sizeof(posting));
    posting.kind = kind;
    memcpy(posting.currency, currency, CURRENCY_SIZE);
    ledger_account_card(card_account, card_no);
    ledger_posting_append(&posting, card_account, -amount);
    ledger_posting_append(&posting, account, amount);
    if ((error = ledger_posting_check(&posting)) != 0) {
        return error;
    }
    *out = posting;
    return LEB_OK;
}

int ledger_post_monthly_fee(struct ledger_posting *out, const char *card_no, int64_t amount,
                            const char *currency)
{
    return ledger_post_from_card(out, LEDGER_TXN_MONTHLY_FEE, card_no, "revenue:monthly_fee",
                                 amount, currency);
}

int ledger_post_forfeit(struct ledger_posting *out, const char *card_no, int64_t amount,
                        const char *currency)
{
    return ledger_post_from_card(out, LEDGER_TXN_FORFEIT, card_no, "forfeit:recycled", amount,
                                 currency);
}

/*
 * Checks that "posting" may be written: a known kind, a valid currency, 2..LEDGER_ENTRIES_MAX
 * entries, each with a non-empty NUL-terminated account and a non-zero amount, summing to
 * exactly zero with no partial sum leaving int64. The check runs on a value the caller may
 * have built by hand, so every field is inspected, never trusted.
 */
int ledger_posting_check(const struct ledger_posting *posting)
{
    int64_t sum = 0;

    LEB_ASSERT(posting != NULL);
    if ((int)posting->kind < 0 || posting->kind >= LEDGER_TXN_KIND_COUNT) {
        return LEB_E_INVALID_REQUEST;
    }
    if (!currency_is_valid(posting->currency)) {
        return LEB_E_INVALID_REQUEST;
    }
    if (posting->count < 2 || posting->count > LEDGER_ENTRIES_MAX) {
        return LEB_E_INVALID_REQUEST;
    }
    for (size_t i = 0; i < posting->count; i++) {
        const struct ledger_entry *entry = &posting->entries[i];
        size_t length = strnlen(entry->account, LEDGER_ACCOUNT_SIZE);

        if (length == 0 || length == LEDGER_ACCOUNT_SIZE || entry->amount == 0) {
            return LEB_E_INVALID_REQUEST;
        }
        if (__builtin_add_overflow(sum, entry->amount, &sum)) {
            return LEB_E_INVALID_REQUEST;
        }
    }
    if (sum != 0) {
        return LEB_E_INVALID_REQUEST;
    }
    return LEB_OK;
}
