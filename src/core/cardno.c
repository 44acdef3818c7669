/*
 * cardno.c - card numbers and phone numbers as people type them.
 *
 * This module owns turning typed numbers into their one canonical form (19 ASCII digits for
 * a card, E.164 for a phone), the Luhn check digit that catches a mistyped card number before
 * any money moves, and the masks that are the only form in which numbers may reach a log.
 *
 * It must never accept a character it does not understand (a letter, a '.', a stray byte of
 * UTF-8): guessing what a person meant is how money reaches the wrong card. It must never
 * read past NUMBER_INPUT_MAX (128) bytes of its input, and never allocate.
 */
#include "core/cardno.h"

#include <string.h>

/* Longer input than this is rejected unread, so that hostile input costs a fixed amount. A
 * card number typed all in full-width, digits (3 bytes each) and ideographic spaces between
 * its groups, is 19 * 3 + 4 * 3 = 69 bytes, so 64 would be too tight; 128 leaves room for
 * generous separators and nothing more. */
#define NUMBER_INPUT_MAX 128
/* Digits a scan keeps; more than any card number (19) or E.164 number with "00" (17). */
#define NUMBER_DIGITS_MAX 24

#define MSISDN_DIGITS_MIN 8
#define MSISDN_DIGITS_MAX 15
#define MSISDN_CN_MOBILE_DIGITS 11

/* What a scan of typed input found: its digits in ASCII, and whether a '+' led them. */
struct number_scan {
    char digits[NUMBER_DIGITS_MAX + 1];
    size_t count;
    bool plus;
};

/*
 * Reads "input" as typed: ASCII digits, full-width digits (EF BC 90..99), spaces (ASCII and
 * U+3000, E3 80 80), dashes (ASCII and U+FF0D, EF BC 8D) and, when "plus_allowed", one '+'
 * (ASCII or U+FF0B, EF BC 8B) before the first digit. Fills "scan" and returns 0, or returns
 * -1 for anything else (including no digits at all and more than NUMBER_DIGITS_MAX).
 */
static int number_scan(struct number_scan *scan, const char *input, bool plus_allowed)
{
    const unsigned char *bytes = (const unsigned char *)input;
    size_t length;
    size_t i = 0;

    LEB_ASSERT(scan != NULL);
    memset(scan, 0, sizeof(*scan));
    if (input == NULL) {
        return -1;
    }
    length = strnlen(input, NUMBER_INPUT_MAX + 1);
    if (length > NUMBER_INPUT_MAX) {
        return -1;
    }

    while (i < length) {
        char digit = 0;
        bool plus = false;

        if (bytes[i] >= '0' && bytes[i] <= '9') {
            digit = (char)bytes[i];
            i += 1;
        } else if (bytes[i] == ' ' || bytes[i] == '-') {
            i += 1;
        } else if (bytes[i] == '+') {
            plus = true;
            i += 1;
        } else if (i + 2 < length && bytes[i] == 0xEF && bytes[i + 1] == 0xBC &&
                   bytes[i + 2] >= 0x90 && bytes[i + 2] <= 0x99) {
            digit = (char)('0' + (bytes[i + 2] - 0x90));
            i += 3;
        } else if (i + 2 < length && bytes[i] == 0xEF && bytes[i + 1] == 0xBC &&
                   bytes[i + 2] == 0x8D) {
            i += 3;
        } else if (i + 2 < length && bytes[i] == 0xEF && bytes[i + 1] == 0xBC &&
                   bytes[i + 2] == 0x8B) {
            plus = true;
            i += 3;
        } else if (i + 2 < length && bytes[i] == 0xE3 && bytes[i + 1] == 0x80 &&
                   bytes[i + 2] == 0x80) {
            i += 3;
        } else {
            return -1;
        }

        if (plus) {
            /* One '+', and only in front: "138+0000" is not a number. */
            if (!plus_allowed || scan->plus || scan->count > 0) {
                return -1;
            }
            scan->plus = true;
        }
        if (digit != 0) {
            if (scan->count == NUMBER_DIGITS_MAX) {
                return -1;
            }
            scan->digits[scan->count++] = digit;
        }
    }
    if (scan->count == 0) {
        return -1;
    }
    scan->digits[scan->count] = '\0';
    return 0;
}

static bool number_is_ascii_digits(const char *text, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
    }
    return true;
}

/*
 * The Luhn check digit of the "count" digits of "digits": counting from the rightmost digit,
 * every first, third, fifth... digit is doubled (its digits summed), because the check digit
 * will take the rightmost place. Doubling is a permutation of 0..9, which is why every
 * single-digit substitution changes the check digit.
 */
char cardno_luhn_digit(const char *digits, size_t count)
{
    unsigned sum = 0;

    LEB_ASSERT(digits != NULL);
    LEB_ASSERT(number_is_ascii_digits(digits, count));
    for (size_t i = 0; i < count; i++) {
        unsigned digit = (unsigned)(digits[count - 1 - i] - '0');
        if (i % 2 == 0) {
            digit *= 2;
            if (digit > 9) {
                digit -= 9;
            }
        }
        sum += digit;
    }
    return (char)('0' + (10 - sum % 10) % 10);
}

bool cardno_is_valid(const char *card_no)
{
    if (card_no == NULL || strnlen(card_no, CARDNO_SIZE) != CARDNO_DIGITS) {
        return false;
    }
    if (!number_is_ascii_digits(card_no, CARDNO_DIGITS)) {
        return false;
    }
    return cardno_luhn_digit(card_no, CARDNO_DIGITS - 1) == card_no[CARDNO_DIGITS - 1];
}

/* "*out" is written only when "input" is a valid card number. */
int cardno_normalize(char out[CARDNO_SIZE], const char *input)
{
    struct number_scan scan;

    LEB_ASSERT(out != NULL);
    if (number_scan(&scan, input, false) != 0 || scan.count != CARDNO_DIGITS) {
        return LEB_E_INVALID_CARD_NUMBER;
    }
    if (!cardno_is_valid(scan.digits)) {
        return LEB_E_INVALID_CARD_NUMBER;
    }
    memcpy(out, scan.digits, CARDNO_SIZE);
    LEB_ASSERT(cardno_is_valid(out));
    return LEB_OK;
}

/*
 * Masks a card number for logs and public views. Anything that is not 19 ASCII digits is
 * masked whole as "****": a mask must never fail, and must never leak digits of something
 * whose shape it does not know.
 */
void cardno_mask(char out[CARDNO_MASKED_SIZE], const char *card_no)
{
    LEB_ASSERT(out != NULL);
    if (card_no == NULL || strnlen(card_no, CARDNO_SIZE) != CARDNO_DIGITS ||
        !number_is_ascii_digits(card_no, CARDNO_DIGITS)) {
        memcpy(out, "****", 5);
        return;
    }
    memcpy(out, card_no, 4);
    memset(out + 4, '*', CARDNO_DIGITS - 8);
    memcpy(out + CARDNO_DIGITS - 4, card_no + CARDNO_DIGITS - 4, 4);
    out[CARDNO_DIGITS] = '\0';
}

/* True for 11 digits of a Chinese mobile number: 1, then 3 to 9, then nine more. */
static bool msisdn_is_cn_mobile(const char *digits, size_t count)
{
    return count == MSISDN_CN_MOBILE_DIGITS && digits[0] == '1' && digits[1] >= '3' &&
           digits[1] <= '9';
}

/*
 * Normalises a phone number to E.164. With a '+', the digits are a country code and a number
 * (8 to 15 digits, never starting with 0), and China's +86 must be followed by a mobile
 * number. Without one, only a Chinese mobile number is understood, bare or behind "86" or
 * "0086": a foreign number without its '+' is ambiguous, so it is refused.
 */
int msisdn_normalize(char out[MSISDN_SIZE], const char *input)
{
    struct number_scan scan;
    const char *mobile = NULL;

    LEB_ASSERT(out != NULL);
    if (number_scan(&scan, input, true) != 0) {
        return LEB_E_INVALID_PHONE_NUMBER;
    }

    if (scan.plus) {
        if (scan.count < MSISDN_DIGITS_MIN || scan.count > MSISDN_DIGITS_MAX ||
            scan.digits[0] == '0') {
            return LEB_E_INVALID_PHONE_NUMBER;
        }
        if (scan.digits[0] == '8' && scan.digits[1] == '6' &&
            !msisdn_is_cn_mobile(scan.digits + 2, scan.count - 2)) {
            return LEB_E_INVALID_PHONE_NUMBER;
        }
        out[0] = '+';
        memcpy(out + 1, scan.digits, scan.count + 1);
        return LEB_OK;
    }

    if (scan.count == MSISDN_CN_MOBILE_DIGITS) {
        mobile = scan.digits;
    } else if (scan.count == MSISDN_CN_MOBILE_DIGITS + 2 && memcmp(scan.digits, "86", 2) == 0) {
        mobile = scan.digits + 2;
    } else if (scan.count == MSISDN_CN_MOBILE_DIGITS + 4 && memcmp(scan.digits, "0086", 4) == 0) {
        mobile = scan.digits + 4;
    }
    if (mobile == NULL || !msisdn_is_cn_mobile(mobile, MSISDN_CN_MOBILE_DIGITS)) {
        return LEB_E_INVALID_PHONE_NUMBER;
    }
    memcpy(out, "+86", 3);
    memcpy(out + 3, mobile, MSISDN_CN_MOBILE_DIGITS + 1);
    return LEB_OK;
}

/*
 * Masks an E.164 number: the '+', the first 3 digits after the country code and the last 4
 * stay. Only +86 has a known country code length here; for any other number the first 3
 * digits after the '+' stay, which may include the country code, so the mask never shows
 * more than 7 digits. Anything that is not '+' and 8 to 15 digits is masked whole.
 */
void msisdn_mask(char out[MSISDN_MASKED_SIZE], const char *msisdn)
{
    size_t digits;
    size_t head;

    LEB_ASSERT(out != NULL);
    if (msisdn == NULL || msisdn[0] != '+') {
        memcpy(out, "****", 5);
        return;
    }
    digits = strnlen(msisdn + 1, MSISDN_DIGITS_MAX + 1);
    if (digits < MSISDN_DIGITS_MIN || digits > MSISDN_DIGITS_MAX ||
        !number_is_ascii_digits(msisdn + 1, digits)) {
        memcpy(out, "****", 5);
        return;
    }
    head = memcmp(msisdn + 1, "86", 2) == 0 ? 2 + 3 : 3;
    if (head + 4 >= digits) {
        /* Nothing would be left to hide: keep only the last 4. */
        head = 0;
    }
    out[0] = '+';
    memcpy(out + 1, msisdn + 1, head);
    memset(out + 1 + head, '*', digits - head - 4);
    memcpy(out + 1 + digits - 4, msisdn + 1 + digits - 4, 4);
    out[1 + digits] = '\0';
}

/*
 * Tells a card number from a phone number in an API path. 19 digits without a '+' can only
 * be a card (no phone number form has 19 digits), so a bad check digit there is reported as
 * such rather than as a bad phone number.
 */
int number_classify(enum number_kind *kind, char out[MSISDN_SIZE + CARDNO_SIZE], const char *input)
{
    struct number_scan scan;
    char card_no[CARDNO_SIZE];
    char msisdn[MSISDN_SIZE];

    LEB_ASSERT(kind != NULL);
    LEB_ASSERT(out != NULL);
    if (number_scan(&scan, input, true) == 0 && !scan.plus && scan.count == CARDNO_DIGITS) {
        if (cardno_normalize(card_no, input) != LEB_OK) {
            return LEB_E_INVALID_CARD_NUMBER;
        }
        memcpy(out, card_no, CARDNO_SIZE);
        *kind = NUMBER_CARD;
        return LEB_OK;
    }
    if (msisdn_normalize(msisdn, input) != LEB_OK) {
        return LEB_E_INVALID_CARD_NUMBER;
    }
    memcpy(out, msisdn, strlen(msisdn) + 1);
    *kind = NUMBER_MSISDN;
    return LEB_OK;
}
