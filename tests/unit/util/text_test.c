/*
 * text_test.c - copying text cut on a UTF-8 character boundary.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/text.h"

static void test_text__a_short_text_is_copied_whole(void **state)
{
    char out[16];
    (void)state;
    text_copy_utf8(out, sizeof(out), "签名错误", 15);
    assert_string_equal(out, "签名错误");
    text_copy_utf8(out, sizeof(out), "", 15);
    assert_string_equal(out, "");
}

static void test_text__a_long_text_is_cut_between_characters_never_inside_one(void **state)
{
    char out[8];
    (void)state;
    /* Each Chinese character is 3 bytes: 7 bytes hold two of them, not two and a third. */
    text_copy_utf8(out, sizeof(out), "签名错误", 7);
    assert_string_equal(out, "签名");
    text_copy_utf8(out, sizeof(out), "ab签名错误", 7);
    assert_string_equal(out, "ab签");
    /* "max" below the room bounds it too. */
    text_copy_utf8(out, sizeof(out), "签名错误", 4);
    assert_string_equal(out, "签");
    text_copy_utf8(out, sizeof(out), "签名错误", 2);
    assert_string_equal(out, "");
    /* ASCII is cut anywhere. */
    text_copy_utf8(out, sizeof(out), "abcdefghij", 100);
    assert_string_equal(out, "abcdefg");
    /* A 4-byte character (an emoji) is kept whole or left out. */
    text_copy_utf8(out, sizeof(out), "a\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 7);
    assert_string_equal(out, "a\xF0\x9F\x98\x80");
}

static void test_text__one_byte_of_room_holds_the_terminator_only(void **state)
{
    char out[1] = {'x'};
    (void)state;
    text_copy_utf8(out, sizeof(out), "anything", 100);
    assert_int_equal(out[0], '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text__a_short_text_is_copied_whole),
        cmocka_unit_test(test_text__a_long_text_is_cut_between_characters_never_inside_one),
        cmocka_unit_test(test_text__one_byte_of_room_holds_the_terminator_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
