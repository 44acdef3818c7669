/*
 * cardno.h - card numbers and phone numbers: normalisation, check digits, masking.
 *
 * A card number is 19 ASCII digits whose last digit is the Luhn check digit of the first 18.
 * Input as people type it is accepted: ASCII or full-width digits (U+FF10..U+FF19), spaces
 * (also U+3000), dashes (also U+FF0D). Anything else is rejected, so a mistyped number is
 * caught before any money moves. Phone numbers become E.164 ("+8613800000001").
 */
#ifndef LEB_CORE_CARDNO_H
#define LEB_CORE_CARDNO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

#define CARDNO_DIGITS 19
#define CARDNO_SIZE (CARDNO_DIGITS + 1)
#define CARDNO_MASKED_SIZE 32
#define MSISDN_SIZE 17 /* '+', at most 15 digits, NUL */
#define MSISDN_MASKED_SIZE 24

/* Normalises "input" to 19 ASCII digits; LEB_E_INVALID_CARD_NUMBER on bad length, a
 * character that is not a digit or separator, or a wrong check digit. */
LEB_MUST_CHECK int cardno_normalize(char out[CARDNO_SIZE], const char *input);

/* The Luhn check digit ('0'..'9') of "digits", "count" ASCII digits long. */
char cardno_luhn_digit(const char *digits, size_t count);

/* True if "card_no" is exactly 19 ASCII digits with a correct check digit. */
bool cardno_is_valid(const char *card_no);

/* "8986010000000000018" -> "8986***********0018": the first 4 and last 4 digits stay. */
void cardno_mask(char out[CARDNO_MASKED_SIZE], const char *card_no);

/*
 * Normalises a phone number to E.164. Accepted: a Chinese mobile number of 11 digits
 * starting with 1[3-9], with or without "+86", "86" or "0086" before it; or "+" and 8 to 15
 * digits of another country. Separators and full-width digits as for card numbers.
 * LEB_E_INVALID_PHONE_NUMBER otherwise.
 */
LEB_MUST_CHECK int msisdn_normalize(char out[MSISDN_SIZE], const char *input);

/* "+8613800000001" -> "+86138****0001": the last 4 digits and the first 3 after the
 * country code stay. */
void msisdn_mask(char out[MSISDN_MASKED_SIZE], const char *msisdn);

enum number_kind { NUMBER_CARD, NUMBER_MSISDN };

/*
 * Classifies the "{number}" of an API path: 19 digits after normalisation is a card number
 * (and must pass its check digit: LEB_E_INVALID_CARD_NUMBER), anything a phone number
 * accepts is a phone number; everything else is LEB_E_INVALID_CARD_NUMBER. "out" receives
 * the normalised form (card number or E.164).
 */
LEB_MUST_CHECK int number_classify(enum number_kind *kind, char out[MSISDN_SIZE + CARDNO_SIZE],
                                   const char *input);

#endif
