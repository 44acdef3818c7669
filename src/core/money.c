/*
 * money.c - amounts of money as int64_t minor units (fen).
 *
 * This module owns the arithmetic every amount goes through: checked sums and products, the
 * parsing of decimal major-unit text and its formatting back. Every overflow is reported as
 * LEB_E_OVERFLOW with the output left untouched, so a caller that forgets nothing can never
 * write a wrapped amount.
 *
 * It must never use floating point (0.1 + 0.2 is not 0.3, and money must add up to the fen),
 * never read a locale (the decimal separator is always '.'), and never allocate.
 */
#include "core/money.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The longest decimal text money_parse_decimal() looks at. Nothing valid is longer than the
 * 20 digits and the point of INT64_MAX's major units, so the bound is generous; it exists so
 * that a megabyte of leading zeros costs nothing. */
#define MONEY_TEXT_MAX 64

int money_add(int64_t *out, int64_t a, int64_t b)
{
    int64_t result;

    LEB_ASSERT(out != NULL);
    if (__builtin_add_overflow(a, b, &result)) {
        return LEB_E_OVERFLOW;
    }
    *out = result;
    return LEB_OK;
}

int money_sub(int64_t *out, int64_t a, int64_t b)
{
    int64_t result;

    LEB_ASSERT(out != NULL);
    if (__builtin_sub_overflow(a, b, &result)) {
        return LEB_E_OVERFLOW;
    }
    *out = result;
    return LEB_OK;
}

int money_mul(int64_t *out, int64_t amount, int64_t factor)
{
    int64_t result;

    LEB_ASSERT(out != NULL);
    if (__builtin_mul_overflow(amount, factor, &result)) {
        return LEB_E_OVERFLOW;
    }
    *out = result;
    return LEB_OK;
}

/*
 * Adds the "count" amounts of "amounts" into "*out". Every partial sum must fit, not only the
 * total: a ledger that is summed entry by entry must never pass through a wrapped value.
 */
int money_sum(int64_t *out, const int64_t *amounts, size_t count)
{
    int64_t total = 0;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(amounts != NULL || count == 0);
    for (size_t i = 0; i < count; i++) {
        if (__builtin_add_overflow(total, amounts[i], &total)) {
            return LEB_E_OVERFLOW;
        }
    }
    *out = total;
    return LEB_OK;
}

static bool money_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Parses "text", a decimal amount of major units, into minor units. The syntax is checked in
 * full before any arithmetic, so that "99999999999999999999x" is an invalid amount rather than
 * an overflow: overflow is reserved for text that is well formed but too large.
 */
int money_parse_decimal(int64_t *out, const char *text)
{
    size_t length;
    size_t whole_digits = 0;
    size_t fraction_digits = 0;
    int64_t whole = 0;
    int64_t fraction = 0;
    int64_t minor;

    LEB_ASSERT(out != NULL);
    if (text == NULL) {
        return LEB_E_INVALID_AMOUNT;
    }
    length = strnlen(text, MONEY_TEXT_MAX + 1);
    if (length == 0 || length > MONEY_TEXT_MAX) {
        return LEB_E_INVALID_AMOUNT;
    }

    /* Syntax: one or more digits, then optionally '.' and one or two digits, then the end. */
    while (whole_digits < length && money_is_digit(text[whole_digits])) {
        whole_digits++;
    }
    if (whole_digits == 0) {
        return LEB_E_INVALID_AMOUNT;
    }
    if (whole_digits < length) {
        if (text[whole_digits] != '.') {
            return LEB_E_INVALID_AMOUNT;
        }
        fraction_digits = length - whole_digits - 1;
        if (fraction_digits < 1 || fraction_digits > 2) {
            return LEB_E_INVALID_AMOUNT;
        }
        for (size_t i = whole_digits + 1; i < length; i++) {
            if (!money_is_digit(text[i])) {
                return LEB_E_INVALID_AMOUNT;
            }
        }
    }

    for (size_t i = 0; i < whole_digits; i++) {
        if (__builtin_mul_overflow(whole, 10, &whole) ||
            __builtin_add_overflow(whole, text[i] - '0', &whole)) {
            return LEB_E_OVERFLOW;
        }
    }
    if (fraction_digits >= 1) {
        fraction = (text[whole_digits + 1] - '0') * 10;
    }
    if (fraction_digits == 2) {
        fraction += text[whole_digits + 2] - '0';
    }
    if (__builtin_mul_overflow(whole, 100, &minor) ||
        __builtin_add_overflow(minor, fraction, &minor)) {
        return LEB_E_OVERFLOW;
    }
    LEB_ASSERT(minor >= 0);
    *out = minor;
    return LEB_OK;
}

/*
 * Writes "minor" as major units with exactly two fraction digits. The magnitude is taken as
 * uint64_t so that INT64_MIN, whose negation does not fit in int64_t, formats correctly.
 */
void money_format(char out[MONEY_FORMAT_MAX], int64_t minor)
{
    uint64_t magnitude = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    int written;

    LEB_ASSERT(out != NULL);
    written = snprintf(out, MONEY_FORMAT_MAX, "%s%" PRIu64 ".%02" PRIu64, minor < 0 ? "-" : "",
                       magnitude / 100, magnitude % 100);
    LEB_ASSERT(written > 0 && written < MONEY_FORMAT_MAX);
}

/* A NULL code is bad input, not a programmer error: it is simply not a currency. */
bool currency_is_valid(const char *code)
{
    if (code == NULL) {
        return false;
    }
    for (size_t i = 0; i < 3; i++) {
        if (code[i] < 'A' || code[i] > 'Z') {
            return false;
        }
    }
    return code[3] == '\0';
}
