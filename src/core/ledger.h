/*
 * ledger.h - double-entry postings, built as pure values before anything is written.
 *
 * Sign convention: an entry's amount is positive when it credits its account, negative when
 * it debits it, so every transaction sums to zero and a card's balance (a liability to the
 * cardholder) is exactly the sum of its entries. Asset accounts such as a provider's clearing
 * account therefore carry negative balances when money is owed to LEB.
 */
#ifndef LEB_CORE_LEDGER_H
#define LEB_CORE_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/plan.h"

#define LEDGER_ENTRIES_MAX 8
#define LEDGER_ACCOUNT_SIZE 48

enum ledger_txn_kind {
    LEDGER_TXN_RECHARGE = 0, /* a paid order credits a card */
    LEDGER_TXN_REFUND_HOLD,  /* a paid order that cannot be credited is held for refund */
    LEDGER_TXN_MONTHLY_FEE,  /* a card's monthly fee, or the arrears of one, is taken */
    LEDGER_TXN_FORFEIT,      /* a recycled card's balance is forfeited */
    LEDGER_TXN_REFUND,       /* money held for refund went back to the payer */
    LEDGER_TXN_KIND_COUNT
};

struct ledger_entry {
    char account[LEDGER_ACCOUNT_SIZE]; /* "card:<card_no>", "clearing:<provider>", ... */
    int64_t amount;                    /* credit positive, debit negative */
};

struct ledger_posting {
    enum ledger_txn_kind kind;
    char currency[CURRENCY_SIZE];
    struct ledger_entry entries[LEDGER_ENTRIES_MAX];
    size_t count;
};

const char *ledger_txn_kind_name(enum ledger_txn_kind kind);

/*
 * The recharge of "card_no" paid through "provider" as priced by "quote": the card is
 * credited face + bonus, the provider's clearing account debited pay, fee revenue credited
 * the fee and promotion expense debited discount + bonus. Zero entries are left out.
 */
LEB_MUST_CHECK int ledger_post_recharge(struct ledger_posting *out, const struct quote *quote,
                                        const char *card_no, const char *provider);

/* Money paid for an order that can no longer be credited: clearing debited, refunds payable
 * credited "pay_amount". */
LEB_MUST_CHECK int ledger_post_refund_hold(struct ledger_posting *out, int64_t pay_amount,
                                           const char *currency, const char *provider);

/* Money held for refund that the provider gave back: the hold reversed, refunds payable
 * debited and clearing credited "pay_amount". */
LEB_MUST_CHECK int ledger_post_refund_paid(struct ledger_posting *out, int64_t pay_amount,
                                           const char *currency, const char *provider);

/* A monthly fee (or arrears) of "amount" taken from "card_no": the card debited, monthly-fee
 * revenue ("revenue:monthly_fee") credited. */
LEB_MUST_CHECK int ledger_post_monthly_fee(struct ledger_posting *out, const char *card_no,
                                           int64_t amount, const char *currency);

/* What is left of a recycled card's balance: the card debited, "forfeit:recycled" credited. */
LEB_MUST_CHECK int ledger_post_forfeit(struct ledger_posting *out, const char *card_no,
                                       int64_t amount, const char *currency);

/* LEB_E_INVALID_REQUEST unless the posting has 2..LEDGER_ENTRIES_MAX entries, no zero
 * amount, no empty account, and sums to exactly zero without overflow. */
LEB_MUST_CHECK int ledger_posting_check(const struct ledger_posting *posting);

/* The account code of a card: "card:<card_no>". */
void ledger_account_card(char out[LEDGER_ACCOUNT_SIZE], const char *card_no);

#endif
