/*
 * cardno_test.c - card numbers and phone numbers as people type them, check digits, masks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/cardno.h"

static const char *const demo_cards[] = {
    "8986010000000000018",
    "8986010000000000026",
    "8986010000000000034",
};
#define DEMO_CARDS_COUNT (sizeof(demo_cards) / sizeof(demo_cards[0]))

/* A card number ending in a check digit computed by hand, not by the code under test. */
#define CARD_MIXED "8986031234567890124"

static void test_cardno__luhn_digit_of_the_demo_cards_is_their_last_digit(void **state)
{
    assert_int_equal(cardno_luhn_digit("898601000000000001", 18), '8');
    assert_int_equal(cardno_luhn_digit("898601000000000002", 18), '6');
    assert_int_equal(cardno_luhn_digit("898601000000000003", 18), '4');
}

static void test_cardno__luhn_digit_matches_known_values(void **state)
{
    /* The classic example: 7992739871 has check digit 3. */
    assert_int_equal(cardno_luhn_digit("7992739871", 10), '3');
    assert_int_equal(cardno_luhn_digit("0", 1), '0');
    assert_int_equal(cardno_luhn_digit("", 0), '0');
    assert_int_equal(cardno_luhn_digit("898603123456789012", 18), '4');
    /* "count" bounds the digits read: the rest of the string is ignored. */
    assert_int_equal(cardno_luhn_digit("8986010000000000018", 18), '8');
}

static void test_cardno__demo_cards_are_valid(void **state)
{
    for (size_t i = 0; i < DEMO_CARDS_COUNT; i++) {
        assert_true(cardno_is_valid(demo_cards[i]));
    }
    assert_true(cardno_is_valid(CARD_MIXED));
}

static void test_cardno__rejects_wrong_check_digit(void **state)
{
    char out[CARDNO_SIZE] = "untouched";

    assert_false(cardno_is_valid("8986010000000000019"));
    assert_int_equal(cardno_normalize(out, "8986010000000000019"), LEB_E_INVALID_CARD_NUMBER);
    assert_string_equal(out, "untouched");
}

static void test_cardno__every_single_digit_substitution_is_caught(void **state)
{
    const char *cards[DEMO_CARDS_COUNT + 1] = {demo_cards[0], demo_cards[1], demo_cards[2],
                                               CARD_MIXED};
    size_t caught = 0;

    for (size_t c = 0; c < DEMO_CARDS_COUNT + 1; c++) {
        for (size_t position = 0; position < CARDNO_DIGITS; position++) {
            for (char digit = '0'; digit <= '9'; digit++) {
                char typo[CARDNO_SIZE];
                char out[CARDNO_SIZE];

                if (digit == cards[c][position]) {
                    continue;
                }
                memcpy(typo, cards[c], CARDNO_SIZE);
                typo[position] = digit;
                assert_false(cardno_is_valid(typo));
                assert_int_equal(cardno_normalize(out, typo), LEB_E_INVALID_CARD_NUMBER);
                caught++;
            }
        }
    }
    assert_int_equal(caught, (DEMO_CARDS_COUNT + 1) * CARDNO_DIGITS * 9);
}

static void test_cardno__adjacent_transpositions_other_than_09_are_caught(void **state)
{
    for (size_t position = 0; position + 1 < CARDNO_DIGITS; position++) {
        char swapped[CARDNO_SIZE];
        char a = CARD_MIXED[position];
        char b = CARD_MIXED[position + 1];

        if (a == b || (a == '0' && b == '9') || (a == '9' && b == '0')) {
            continue;
        }
        memcpy(swapped, CARD_MIXED, CARDNO_SIZE);
        swapped[position] = b;
        swapped[position + 1] = a;
        assert_false(cardno_is_valid(swapped));
    }
}

static void test_cardno__is_valid_wants_exactly_19_ascii_digits(void **state)
{
    assert_false(cardno_is_valid(NULL));
    assert_false(cardno_is_valid(""));
    assert_false(cardno_is_valid("898601000000000001"));
    assert_false(cardno_is_valid("89860100000000000180"));
    assert_false(cardno_is_valid("8986 010000000000018"));
    assert_false(cardno_is_valid("898601000000000001a"));
    assert_false(cardno_is_valid("a986010000000000018"));
}

static void test_cardno__normalize_accepts_what_people_type(void **state)
{
    static const char *const typed[] = {
        "8986010000000000018",
        "8986 0100 0000 0000 018",
        "8986-0100-0000-0000-018",
        "  8986010000000000018  ",
        "8986 - 0100 -- 0000 0000018",
        /* full-width digits */
        "８９８６０１０００００００００００１８",
        /* ideographic spaces and full-width dashes */
        "８９８６　０１００　００００\xef\xbc\x8d００００\xef\xbc\x8d０１８",
        /* a mixture */
        "8986０1000000０00001８",
    };

    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
        char out[CARDNO_SIZE];

        assert_int_equal(cardno_normalize(out, typed[i]), LEB_OK);
        assert_string_equal(out, "8986010000000000018");
    }
}

static void test_cardno__normalize_rejects_anything_else(void **state)
{
    static const char *const rejects[] = {
        "",
        "   ",
        "898601000000000001",                           /* 18 digits */
        "89860100000000000180",                         /* 20 digits */
        "8986010000000000018x",                         /* a letter */
        "8986.0100.0000.0000.018",                      /* dots */
        "+8986010000000000018",                         /* a plus */
        "8986_0100_0000_0000_018",                      /* underscores */
        "8986\t010000000000018",                        /* a tab */
        "8986010000000000018\n",                        /* a newline */
        "８９８６０１０００００００００００１\xef\xbc", /* a truncated full-width 8 */
        "\357\274\241986010000000000018",               /* full-width A */
        "\357\274\2178986010000000000018",              /* full-width slash, U+FF0F */
        "\343\200\2018986010000000000018",              /* ideographic comma, U+3001 */
        "\302\2408986010000000000018",                  /* no-break space */
        "\2008986010000000000018",                      /* a stray continuation byte */
    };

    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        char out[CARDNO_SIZE] = "untouched";

        assert_int_equal(cardno_normalize(out, rejects[i]), LEB_E_INVALID_CARD_NUMBER);
        assert_string_equal(out, "untouched");
    }
    {
        char out[CARDNO_SIZE] = "untouched";
        assert_int_equal(cardno_normalize(out, NULL), LEB_E_INVALID_CARD_NUMBER);
        assert_string_equal(out, "untouched");
    }
}

static void test_cardno__normalize_rejects_input_longer_than_128_bytes(void **state)
{
    char input[256];
    char out[CARDNO_SIZE];

    /* 109 spaces and 19 digits: 128 bytes, accepted. */
    memset(input, ' ', 109);
    memcpy(input + 109, "8986010000000000018", 20);
    assert_int_equal(strlen(input), 128);
    assert_int_equal(cardno_normalize(out, input), LEB_OK);
    /* One more space: refused unread. */
    memset(input, ' ', 110);
    memcpy(input + 110, "8986010000000000018", 20);
    assert_int_equal(cardno_normalize(out, input), LEB_E_INVALID_CARD_NUMBER);
}

static void test_cardno__normalize_accepts_a_card_number_typed_all_in_full_width(void **state)
{
    /* 69 bytes: full-width digits with an ideographic space between groups of four. */
    const char *typed = "８９８６　０１００　００００　００００　０１８";
    char out[CARDNO_SIZE];

    assert_int_equal(strlen(typed), 69);
    assert_int_equal(cardno_normalize(out, typed), LEB_OK);
    assert_string_equal(out, "8986010000000000018");
}

static void test_cardno__mask_keeps_the_first_and_last_four_digits(void **state)
{
    char out[CARDNO_MASKED_SIZE];

    cardno_mask(out, "8986010000000000018");
    assert_string_equal(out, "8986***********0018");
    cardno_mask(out, CARD_MIXED);
    assert_string_equal(out, "8986***********0124");
}

static void test_cardno__mask_hides_everything_of_a_malformed_number(void **state)
{
    char out[CARDNO_MASKED_SIZE];

    cardno_mask(out, "12345");
    assert_string_equal(out, "****");
    cardno_mask(out, "89860100000000000180");
    assert_string_equal(out, "****");
    cardno_mask(out, "8986 010000000000018");
    assert_string_equal(out, "****");
    cardno_mask(out, NULL);
    assert_string_equal(out, "****");
}

static void test_msisdn__normalize_accepts_chinese_mobile_numbers_in_every_form(void **state)
{
    static const char *const typed[] = {
        "13800000001",
        "138 0000 0001",
        "138-0000-0001",
        "+86 138-0000-0001",
        "+8613800000001",
        "86 13800000001",
        "8613800000001",
        "0086 138 0000 0001",
        "１３８０００００００１",
        "\357\274\213８６　１３８\xef\xbc\x8d００００\xef\xbc\x8d０００１",
    };

    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
        char out[MSISDN_SIZE];

        assert_int_equal(msisdn_normalize(out, typed[i]), LEB_OK);
        assert_string_equal(out, "+8613800000001");
    }
}

static void test_msisdn__normalize_accepts_every_chinese_mobile_prefix_13_to_19(void **state)
{
    for (char second = '0'; second <= '9'; second++) {
        char typed[] = "1X800000001";
        char out[MSISDN_SIZE];
        int expected = second >= '3' ? LEB_OK : LEB_E_INVALID_PHONE_NUMBER;

        typed[1] = second;
        assert_int_equal(msisdn_normalize(out, typed), expected);
    }
}

static void test_msisdn__normalize_accepts_other_countries_with_a_plus(void **state)
{
    char out[MSISDN_SIZE];

    assert_int_equal(msisdn_normalize(out, "+44 7911 123456"), LEB_OK);
    assert_string_equal(out, "+447911123456");
    assert_int_equal(msisdn_normalize(out, "+1 650-555-1234"), LEB_OK);
    assert_string_equal(out, "+16505551234");
    assert_int_equal(msisdn_normalize(out, "+12345678"), LEB_OK); /* 8 digits */
    assert_string_equal(out, "+12345678");
    assert_int_equal(msisdn_normalize(out, "+123456789012345"), LEB_OK); /* 15 digits */
    assert_string_equal(out, "+123456789012345");
    assert_int_equal(msisdn_normalize(out, "+85291234567"), LEB_OK); /* Hong Kong */
    assert_string_equal(out, "+85291234567");
}

static void test_msisdn__normalize_rejects_what_is_not_a_phone_number(void **state)
{
    static const char *const rejects[] = {
        "",
        "+",
        "12800000001",       /* 12x is no mobile prefix */
        "23800000001",       /* does not start with 1 */
        "1380000000",        /* 10 digits */
        "138000000011",      /* 12 digits */
        "+86 10 1234 5678",  /* a Beijing landline */
        "+86 1380000000",    /* +86 and 10 digits */
        "+0123456789",       /* no country code starts with 0 */
        "+0086 13800000001", /* international prefix after a plus */
        "+1234567",          /* 7 digits */
        "+1234567890123456", /* 16 digits */
        "447911123456",      /* a foreign number without its plus */
        "138+00000001",      /* a plus inside */
        "++8613800000001",   /* two pluses */
        "+86+13800000001",   /* two pluses */
        "13800000001+",      /* a trailing plus */
        "abc",
        "138.0000.0001",
        "(138) 0000 0001",
        "8986010000000000018", /* a card number */
        "0013800000001",       /* 00 and 11 digits but not 0086 */
    };

    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        char out[MSISDN_SIZE] = "untouched";

        assert_int_equal(msisdn_normalize(out, rejects[i]), LEB_E_INVALID_PHONE_NUMBER);
        assert_string_equal(out, "untouched");
    }
    {
        char out[MSISDN_SIZE] = "untouched";
        assert_int_equal(msisdn_normalize(out, NULL), LEB_E_INVALID_PHONE_NUMBER);
        assert_string_equal(out, "untouched");
    }
}

static void
test_msisdn__mask_keeps_three_digits_after_the_country_code_and_the_last_four(void **state)
{
    char out[MSISDN_MASKED_SIZE];

    msisdn_mask(out, "+8613800000001");
    assert_string_equal(out, "+86138****0001");
    msisdn_mask(out, "+8618912345678");
    assert_string_equal(out, "+86189****5678");
}

static void test_msisdn__mask_of_a_foreign_number_shows_at_most_seven_digits(void **state)
{
    char out[MSISDN_MASKED_SIZE];

    msisdn_mask(out, "+447911123456");
    assert_string_equal(out, "+447*****3456");
    msisdn_mask(out, "+12345678");
    assert_string_equal(out, "+123*5678");
    msisdn_mask(out, "+123456789012345");
    assert_string_equal(out, "+123********2345");
}

static void test_msisdn__mask_hides_everything_of_a_malformed_number(void **state)
{
    char out[MSISDN_MASKED_SIZE];

    msisdn_mask(out, "13800000001");
    assert_string_equal(out, "****");
    msisdn_mask(out, "+1234567");
    assert_string_equal(out, "****");
    msisdn_mask(out, "+1234567890123456");
    assert_string_equal(out, "****");
    msisdn_mask(out, "+86138O0000001");
    assert_string_equal(out, "****");
    msisdn_mask(out, NULL);
    assert_string_equal(out, "****");
}

static void test_number__classify_tells_a_phone_number(void **state)
{
    enum number_kind kind = NUMBER_CARD;
    char out[MSISDN_SIZE + CARDNO_SIZE];

    assert_int_equal(number_classify(&kind, out, "+86 138-0000-0001"), LEB_OK);
    assert_int_equal(kind, NUMBER_MSISDN);
    assert_string_equal(out, "+8613800000001");
    kind = NUMBER_CARD;
    assert_int_equal(number_classify(&kind, out, "13800000002"), LEB_OK);
    assert_int_equal(kind, NUMBER_MSISDN);
    assert_string_equal(out, "+8613800000002");
    kind = NUMBER_CARD;
    assert_int_equal(number_classify(&kind, out, "+447911123456"), LEB_OK);
    assert_int_equal(kind, NUMBER_MSISDN);
    assert_string_equal(out, "+447911123456");
}

static void test_number__classify_tells_a_card_number(void **state)
{
    enum number_kind kind = NUMBER_MSISDN;
    char out[MSISDN_SIZE + CARDNO_SIZE];

    assert_int_equal(number_classify(&kind, out, "8986010000000000034"), LEB_OK);
    assert_int_equal(kind, NUMBER_CARD);
    assert_string_equal(out, "8986010000000000034");
    kind = NUMBER_MSISDN;
    assert_int_equal(number_classify(&kind, out, "８９８６ ０１００ ００００ ００００ ０２６"),
                     LEB_OK);
    assert_int_equal(kind, NUMBER_CARD);
    assert_string_equal(out, "8986010000000000026");
}

static void
test_number__classify_reports_a_19_digit_number_with_a_bad_check_digit_as_a_card(void **state)
{
    enum number_kind kind = NUMBER_MSISDN;
    char out[MSISDN_SIZE + CARDNO_SIZE] = "untouched";

    assert_int_equal(number_classify(&kind, out, "8986010000000000017"), LEB_E_INVALID_CARD_NUMBER);
    assert_int_equal(kind, NUMBER_MSISDN);
    assert_string_equal(out, "untouched");
}

static void test_number__classify_rejects_garbage_as_an_invalid_card_number(void **state)
{
    static const char *const rejects[] = {
        "",
        "hello",
        "12345",
        "898601000000000001",
        "89860100000000000180",
        "+8986010000000000018",
        "1280000000l",
        "../../etc/passwd",
        "8986010000000000018; DROP",
    };

    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        enum number_kind kind = NUMBER_MSISDN;
        char out[MSISDN_SIZE + CARDNO_SIZE] = "untouched";

        assert_int_equal(number_classify(&kind, out, rejects[i]), LEB_E_INVALID_CARD_NUMBER);
        assert_string_equal(out, "untouched");
        assert_int_equal(kind, NUMBER_MSISDN);
    }
    {
        enum number_kind kind = NUMBER_MSISDN;
        char out[MSISDN_SIZE + CARDNO_SIZE];
        assert_int_equal(number_classify(&kind, out, NULL), LEB_E_INVALID_CARD_NUMBER);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cardno__luhn_digit_of_the_demo_cards_is_their_last_digit),
        cmocka_unit_test(test_cardno__luhn_digit_matches_known_values),
        cmocka_unit_test(test_cardno__demo_cards_are_valid),
        cmocka_unit_test(test_cardno__rejects_wrong_check_digit),
        cmocka_unit_test(test_cardno__every_single_digit_substitution_is_caught),
        cmocka_unit_test(test_cardno__adjacent_transpositions_other_than_09_are_caught),
        cmocka_unit_test(test_cardno__is_valid_wants_exactly_19_ascii_digits),
        cmocka_unit_test(test_cardno__normalize_accepts_what_people_type),
        cmocka_unit_test(test_cardno__normalize_rejects_anything_else),
        cmocka_unit_test(test_cardno__normalize_rejects_input_longer_than_128_bytes),
        cmocka_unit_test(test_cardno__normalize_accepts_a_card_number_typed_all_in_full_width),
        cmocka_unit_test(test_cardno__mask_keeps_the_first_and_last_four_digits),
        cmocka_unit_test(test_cardno__mask_hides_everything_of_a_malformed_number),
        cmocka_unit_test(test_msisdn__normalize_accepts_chinese_mobile_numbers_in_every_form),
        cmocka_unit_test(test_msisdn__normalize_accepts_every_chinese_mobile_prefix_13_to_19),
        cmocka_unit_test(test_msisdn__normalize_accepts_other_countries_with_a_plus),
        cmocka_unit_test(test_msisdn__normalize_rejects_what_is_not_a_phone_number),
        cmocka_unit_test(
            test_msisdn__mask_keeps_three_digits_after_the_country_code_and_the_last_four),
        cmocka_unit_test(test_msisdn__mask_of_a_foreign_number_shows_at_most_seven_digits),
        cmocka_unit_test(test_msisdn__mask_hides_everything_of_a_malformed_number),
        cmocka_unit_test(test_number__classify_tells_a_phone_number),
        cmocka_unit_test(test_number__classify_tells_a_card_number),
        cmocka_unit_test(
            test_number__classify_reports_a_19_digit_number_with_a_bad_check_digit_as_a_card),
        cmocka_unit_test(test_number__classify_rejects_garbage_as_an_invalid_card_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
