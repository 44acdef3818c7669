/*
 * log_test.c - JSON log lines: shape, escaping, masking of card and phone numbers, level
 * filtering, and that a cut line is still valid JSON. Output is captured by pointing fd 2 at a
 * temporary file; every line is checked with jansson.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/log.h"

/* What the logger wrote while captured: the file, and fd 2 as it was. */
static char capture_path[64];
static int capture_fd = -1;
static int saved_stderr = -1;
static char captured[64 * 1024];

static void capture_begin(void)
{
    snprintf(capture_path, sizeof(capture_path), "/tmp/leb_log_test_XXXXXX");
    capture_fd = mkstemp(capture_path);
    assert_true(capture_fd >= 0);
    fflush(stderr);
    saved_stderr = dup(STDERR_FILENO);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(capture_fd, STDERR_FILENO) >= 0);
}

/* Restores fd 2 and returns everything written meanwhile (valid until the next capture). */
static const char *capture_end(void)
{
    assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
    close(saved_stderr);
    saved_stderr = -1;
    ssize_t length = pread(capture_fd, captured, sizeof(captured) - 1, 0);
    assert_true(length >= 0);
    captured[length] = '\0';
    close(capture_fd);
    capture_fd = -1;
    unlink(capture_path);
    return captured;
}

/* Removes a capture left behind by a failed test, so the next test's output is not lost. */
static int capture_cleanup(void **state)
{
    if (saved_stderr >= 0) {
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;
    }
    if (capture_fd >= 0) {
        close(capture_fd);
        capture_fd = -1;
        unlink(capture_path);
    }
    log_set_level(LOG_LEVEL_INFO);
    return 0;
}

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", part, text);
}

static void assert_not_contains(const char *text, const char *part)
{
    if (strstr(text, part) != NULL)
        fail_msg("did not expect \"%s\" in \"%s\"", part, text);
}

/* Checks "text" is exactly one JSON object and a newline, and returns the parsed object. */
static json_t *parse_one_line(const char *text)
{
    size_t length = strlen(text);
    json_error_t error;

    assert_true(length > 0);
    assert_int_equal(text[length - 1], '\n');
    assert_null(memchr(text, '\n', length - 1));
    json_t *object = json_loadb(text, length - 1, 0, &error);
    if (object == NULL)
        fail_msg("not JSON (%s): %s", error.text, text);
    assert_true(json_is_object(object));
    return object;
}

static const char *field(json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);
    if (!json_is_string(value))
        fail_msg("no string field \"%s\"", key);
    return json_string_value(value);
}

/* ---------------------------------------------------------------------------------------------
 * Shape
 * ------------------------------------------------------------------------------------------ */

static void test_log__writes_one_json_object_per_line(void **state)
{
    capture_begin();
    log_fields(LOG_LEVEL_INFO, "listening", "url", "http://127.0.0.1:8080", "request_id", "r-1",
               (char *)NULL);
    const char *out = capture_end();

    json_t *line = parse_one_line(out);
    assert_string_equal(field(line, "level"), "info");
    assert_string_equal(field(line, "msg"), "listening");
    assert_string_equal(field(line, "url"), "http://127.0.0.1:8080");
    assert_string_equal(field(line, "request_id"), "r-1");
    /* "2026-11-25T14:00:00.123Z" */
    const char *ts = field(line, "ts");
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
    assert_true(strncmp(out, "{\"ts\":\"", 7) == 0);
    assert_contains(out, "\"level\":\"info\",\"msg\":\"listening\",\"url\"");
    json_decref(line);
}

static void test_log__writes_raw_values_unquoted_only_when_they_are_json(void **state)
{
    capture_begin();
    LOG_INFO("raw", "count", LOG_RAW("42"), "ok", LOG_RAW("true"), "ratio", LOG_RAW("-0.5e3"),
             "evil", LOG_RAW("1}{\"x\":1"), "leading_zero", LOG_RAW("007"));
    const char *out = capture_end();

    assert_contains(out, "\"count\":42,\"ok\":true,\"ratio\":-0.5e3,");
    json_t *line = parse_one_line(out);
    assert_string_equal(field(line, "evil"), "1}{\"x\":1");
    assert_string_equal(field(line, "leading_zero"), "007");
    json_decref(line);
}

static void test_log__writes_a_null_value_as_null_and_stops(void **state)
{
    capture_begin();
    log_fields(LOG_LEVEL_INFO, "nothing", "missing", (char *)NULL, (char *)NULL);
    const char *out = capture_end();
    json_t *line = parse_one_line(out);
    assert_true(json_is_null(json_object_get(line, "missing")));
    json_decref(line);
}

/* ---------------------------------------------------------------------------------------------
 * Escaping
 * ------------------------------------------------------------------------------------------ */

static void test_log__escapes_quotes_backslashes_and_control_characters(void **state)
{
    capture_begin();
    LOG_INFO("say \"hi\"", "text", "a\"b\\c\nd\x01\x7f", "key\"", "v");
    const char *out = capture_end();

    assert_contains(out, "\"msg\":\"say \\\"hi\\\"\"");
    assert_contains(out, "\"text\":\"a\\\"b\\\\c\\u000ad\\u0001\\u007f\"");
    json_t *line = parse_one_line(out);
    assert_string_equal(field(line, "text"), "a\"b\\c\nd\x01\x7f");
    assert_string_equal(field(line, "key\""), "v");
    json_decref(line);
}

static void test_log__passes_utf8_through_and_replaces_broken_bytes(void **state)
{
    capture_begin();
    LOG_INFO("余额 query", "reply", "余额 12.00 元", "broken",
             "a\xff"
             "b\xe4\xbd"
             "c\xed\xa0\x80");
    const char *out = capture_end();

    assert_contains(out, "\"reply\":\"余额 12.00 元\"");
    json_t *line = parse_one_line(out);
    assert_string_equal(field(line, "msg"), "余额 query");
    assert_string_equal(field(line, "broken"), "a\xef\xbf\xbd"
                                               "b\xef\xbf\xbd\xef\xbf\xbd"
                                               "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(line);
}

/* ---------------------------------------------------------------------------------------------
 * Masking
 * ------------------------------------------------------------------------------------------ */

static void test_log__masks_a_card_number(void **state)
{
    capture_begin();
    LOG_INFO("card looked up", "card_no", "8986010000000000018");
    const char *out = capture_end();

    assert_not_contains(out, "8986010000000000018");
    assert_contains(out, "\"card_no\":\"898************0018\"");
    json_t *line = parse_one_line(out);
    json_decref(line);
}

static void test_log__masks_a_phone_number_inside_text(void **state)
{
    capture_begin();
    LOG_WARN("sms from 13800000001 refused", "detail", "reply to +8613800000002 (2 tries)", "raw",
             LOG_RAW("13800000003"));
    const char *out = capture_end();

    assert_not_contains(out, "13800000001");
    assert_not_contains(out, "13800000002");
    assert_not_contains(out, "13800000003");
    assert_contains(out, "\"msg\":\"sms from 138****0001 refused\"");
    assert_contains(out, "\"detail\":\"reply to +861******0002 (2 tries)\"");
    /* A raw value that looks like a number to mask is masked and quoted. */
    assert_contains(out, "\"raw\":\"138****0003\"");
    json_decref(parse_one_line(out));
}

static void test_log__leaves_shorter_digit_runs_alone(void **state)
{
    capture_begin();
    LOG_INFO("order", "order_no", "2026112514000001", "amount", LOG_RAW("1234567890"), "short",
             "1234567890 and 8986-0100-0000-0000-018");
    const char *out = capture_end();

    assert_contains(out, "\"order_no\":\"202*********0001\"");
    assert_contains(out, "\"amount\":1234567890");
    assert_contains(out, "\"short\":\"1234567890 and 8986-0100-0000-0000-018\"");
}

/* ---------------------------------------------------------------------------------------------
 * Levels
 * ------------------------------------------------------------------------------------------ */

static void test_log__filters_by_level(void **state)
{
    log_set_level(LOG_LEVEL_WARN);
    assert_false(log_enabled(LOG_LEVEL_DEBUG));
    assert_false(log_enabled(LOG_LEVEL_INFO));
    assert_true(log_enabled(LOG_LEVEL_WARN));
    assert_true(log_enabled(LOG_LEVEL_ERROR));

    capture_begin();
    LOG_DEBUG("debug line");
    LOG_INFO("info line");
    log_fields(LOG_LEVEL_INFO, "direct info line", (char *)NULL);
    LOG_WARN("warn line");
    LOG_ERROR("error line", "code", "internal");
    const char *out = capture_end();

    assert_not_contains(out, "debug line");
    assert_not_contains(out, "info line");
    assert_contains(out, "\"level\":\"warn\",\"msg\":\"warn line\"");
    assert_contains(out, "\"level\":\"error\",\"msg\":\"error line\",\"code\":\"internal\"");

    assert_true(log_set_level_name("debug"));
    capture_begin();
    LOG_DEBUG("debug line");
    out = capture_end();
    assert_contains(out, "\"level\":\"debug\"");
    log_set_level(LOG_LEVEL_INFO);
}

static void test_log__does_not_evaluate_arguments_below_the_level(void **state)
{
    int evaluated = 0;
    log_set_level(LOG_LEVEL_ERROR);
    LOG_INFO("never", "value", (evaluated++, "x"));
    assert_int_equal(evaluated, 0);
    log_set_level(LOG_LEVEL_INFO);
}

static void test_log__parses_level_names(void **state)
{
    enum log_level level = LOG_LEVEL_ERROR;
    assert_true(log_level_parse("debug", &level));
    assert_int_equal(level, LOG_LEVEL_DEBUG);
    assert_true(log_level_parse("warn", &level));
    assert_int_equal(level, LOG_LEVEL_WARN);
    assert_false(log_level_parse("verbose", &level));
    assert_false(log_level_parse("INFO", &level));
    assert_false(log_level_parse(NULL, &level));
    assert_int_equal(level, LOG_LEVEL_WARN);
    assert_false(log_set_level_name("loud"));
}

/* ---------------------------------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------------------------------ */

static void test_log__cuts_a_long_line_and_keeps_it_valid_json(void **state)
{
    /* Plain text, text that escapes to six bytes a character, three-byte UTF-8 characters,
     * and digits to mask: a cut must split none of them. */
    static const char *const units[] = {"a", "\x01", "余", "8986010000000000018 "};
    static char value[3 * LOG_LINE_MAX];

    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        for (size_t shift = 0; shift < 7; shift++) {
            size_t length = 0;
            memset(value, 'x', shift);
            length = shift;
            while (length + strlen(units[u]) < sizeof(value)) {
                memcpy(value + length, units[u], strlen(units[u]));
                length += strlen(units[u]);
            }
            value[length] = '\0';

            capture_begin();
            LOG_INFO("long", "value", value, "after", "dropped");
            const char *out = capture_end();

            assert_true(strlen(out) <= LOG_LINE_MAX);
            assert_true(strlen(out) > LOG_LINE_MAX - 32);
            assert_not_contains(out, "8986010000000000018");
            json_t *line = parse_one_line(out);
            assert_true(json_is_true(json_object_get(line, "truncated")));
            assert_null(json_object_get(line, "after"));
            json_decref(line);
        }
    }
}

static void test_log__cuts_between_fields_when_a_key_does_not_fit(void **state)
{
    static char value[LOG_LINE_MAX];
    memset(value, 'v', sizeof(value) - 200);
    value[sizeof(value) - 200] = '\0';

    capture_begin();
    LOG_INFO("fields", "first", value, "second", value, "count", LOG_RAW("7"));
    const char *out = capture_end();
    json_t *line = parse_one_line(out);
    assert_true(json_is_true(json_object_get(line, "truncated")));
    assert_true(strlen(out) <= LOG_LINE_MAX);
    json_decref(line);
}

static void test_log__keeps_errno(void **state)
{
    capture_begin();
    errno = ENOENT;
    LOG_ERROR("open failed", "path", "/nonexistent");
    int after = errno;
    capture_end();
    assert_int_equal(after, ENOENT);
}

/* ---------------------------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------------------------ */

#define THREADS 4
#define LINES_PER_THREAD 100

static void *log_many(void *argument)
{
    const char *name = argument;
    for (int i = 0; i < LINES_PER_THREAD; i++)
        LOG_INFO("from a thread", "thread", name, "padding",
                 "................................................................");
    return NULL;
}

static void test_log__lines_from_threads_never_interleave(void **state)
{
    static const char *const names[THREADS] = {"t0", "t1", "t2", "t3"};
    pthread_t threads[THREADS];

    capture_begin();
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, log_many, (void *)names[i]), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    const char *out = capture_end();

    int lines = 0;
    for (const char *start = out; *start != '\0'; lines++) {
        const char *end = strchr(start, '\n');
        assert_non_null(end);
        char text[LOG_LINE_MAX + 1];
        size_t length = (size_t)(end - start + 1);
        assert_true(length <= LOG_LINE_MAX);
        memcpy(text, start, length);
        text[length] = '\0';
        json_decref(parse_one_line(text));
        start = end + 1;
    }
    assert_int_equal(lines, THREADS * LINES_PER_THREAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_log__writes_one_json_object_per_line, capture_cleanup),
        cmocka_unit_test_teardown(test_log__writes_raw_values_unquoted_only_when_they_are_json,
                                  capture_cleanup),
        cmocka_unit_test_teardown(test_log__writes_a_null_value_as_null_and_stops, capture_cleanup),
        cmocka_unit_test_teardown(test_log__escapes_quotes_backslashes_and_control_characters,
                                  capture_cleanup),
        cmocka_unit_test_teardown(test_log__passes_utf8_through_and_replaces_broken_bytes,
                                  capture_cleanup),
        cmocka_unit_test_teardown(test_log__masks_a_card_number, capture_cleanup),
        cmocka_unit_test_teardown(test_log__masks_a_phone_number_inside_text, capture_cleanup),
        cmocka_unit_test_teardown(test_log__leaves_shorter_digit_runs_alone, capture_cleanup),
        cmocka_unit_test_teardown(test_log__filters_by_level, capture_cleanup),
        cmocka_unit_test_teardown(test_log__does_not_evaluate_arguments_below_the_level,
                                  capture_cleanup),
        cmocka_unit_test_teardown(test_log__parses_level_names, capture_cleanup),
        cmocka_unit_test_teardown(test_log__cuts_a_long_line_and_keeps_it_valid_json,
                                  capture_cleanup),
        cmocka_unit_test_teardown(test_log__cuts_between_fields_when_a_key_does_not_fit,
                                  capture_cleanup),
        cmocka_unit_test_teardown(test_log__keeps_errno, capture_cleanup),
        cmocka_unit_test_teardown(test_log__lines_from_threads_never_interleave, capture_cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
