/*
 * money.h - amounts of money: int64_t minor units (fen), checked arithmetic, never floating
 * point. Every function that can overflow says so by returning LEB_E_OVERFLOW and leaves
 * "*out" untouched.
 */
#ifndef LEB_CORE_MONEY_H
#define LEB_CORE_MONEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define MONEY_FORMAT_MAX 32 /* "-92233720368547758.08" and a NUL fit */

LEB_MUST_CHECK int money_add(int64_t *out, int64_t a, int64_t b);
LEB_MUST_CHECK int money_sub(int64_t *out, int64_t a, int64_t b);
LEB_MUST_CHECK int money_mul(int64_t *out, int64_t amount, int64_t factor);
/* Sum of "count" amounts; LEB_E_OVERFLOW if any partial sum leaves int64. */
LEB_MUST_CHECK int money_sum(int64_t *out, const int64_t *amounts, size_t count);

/*
 * Parses a decimal major-unit string with at most two fraction digits ("100", "100.5",
 * "100.00", "0.01") into minor units. No sign, no exponent, no spaces, no leading '+'.
 * LEB_E_INVALID_AMOUNT for anything else, LEB_E_OVERFLOW past int64.
 */
LEB_MUST_CHECK int money_parse_decimal(int64_t *out, const char *text);

/* Formats minor units as a major-unit decimal with two fraction digits ("100.00", "-0.01"). */
void money_format(char out[MONEY_FORMAT_MAX], int64_t minor);

/* True for three upper-case ASCII letters (ISO 4217 shape). */
bool currency_is_valid(const char *code);

#endif
