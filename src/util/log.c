/*
 * log.c - one JSON object per line on stderr.
 *
 * This module owns the level filter and the shape of a log line. It must never allocate (a log
 * call has to work when memory is short), never take a lock (a stack buffer and one write(2)
 * are enough), never let a whole card number or phone number through, and never emit a line
 * that is not valid JSON, whatever the caller passes: callers log user input, and a broken
 * line would break every tool that reads the log.
 *
 * The level is one process-wide atomic. That is a global, which src/core may not have; this is
 * src/util, and the level really is one per process.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

/* Last line of defence: a run of this many ASCII digits or more is a card number (19) or a
 * phone number (11, or 13 with the country code) until proven otherwise. */
#define LOG_MASK_RUN_MIN 11
#define LOG_MASK_KEEP_HEAD 3
#define LOG_MASK_KEEP_TAIL 4

/* What a cut line needs after its body: the closing quote of the string being written, the
 * marker and the end of the object. Kept free so a cut line is always valid JSON. */
#define LOG_TAIL ",\"truncated\":true}\n"
#define LOG_TAIL_RESERVE (1 + sizeof(LOG_TAIL) - 1)
#define LOG_BODY_MAX (LOG_LINE_MAX - LOG_TAIL_RESERVE)

/* A bound on the fields of one line, so a missing NULL sentinel cannot loop for long. */
#define LOG_FIELDS_MAX 64

/* A bound on write(2) retries (EINTR and short writes). */
#define LOG_WRITE_ATTEMPTS_MAX 16

static atomic_int log_level_min = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

struct log_line {
    char text[LOG_LINE_MAX];
    size_t length;
    bool truncated;
};

bool log_level_parse(const char *name, enum log_level *out)
{
    LEB_ASSERT(out != NULL);
    if (name == NULL)
        return false;
    for (size_t i = 0; i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
        if (strcmp(name, log_level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    return false;
}

bool log_set_level_name(const char *name)
{
    enum log_level level;
    if (!log_level_parse(name, &level))
        return false;
    log_set_level(level);
    return true;
}

void log_set_level(enum log_level level)
{
    LEB_ASSERT(level >= LOG_LEVEL_DEBUG && level <= LOG_LEVEL_ERROR);
    atomic_store_explicit(&log_level_min, (int)level, memory_order_relaxed);
}

bool log_enabled(enum log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level_min, memory_order_relaxed);
}

/* ---------------------------------------------------------------------------------------------
 * Building a line
 * ------------------------------------------------------------------------------------------ */

/*
 * Appends "count" bytes of "bytes" to "line" if they fit in the body, all or nothing, so an
 * escape sequence or a UTF-8 character is never cut in half. Once something did not fit the
 * line is marked truncated and every later append fails: a line is cut once, at one place.
 */
static bool log_line_put(struct log_line *line, const char *bytes, size_t count)
{
    if (line->truncated || line->length > LOG_BODY_MAX || count > LOG_BODY_MAX - line->length) {
        line->truncated = true;
        return false;
    }
    memcpy(line->text + line->length, bytes, count);
    line->length += count;
    return true;
}

/* Appends into the reserve kept after the body: only the closers of a line use this. */
static void log_line_put_reserved(struct log_line *line, const char *bytes, size_t count)
{
    LEB_ASSERT(line->length + count <= LOG_LINE_MAX);
    memcpy(line->text + line->length, bytes, count);
    line->length += count;
}

/*
 * The length of the well-formed UTF-8 sequence starting at "p" (2 to 4), or 0 if it is not one
 * (a stray continuation byte, an overlong form, a surrogate, beyond U+10FFFF, or cut short by
 * the end of the string). Never reads past a NUL: the first byte that is not a continuation
 * byte ends the check.
 */
static size_t log_utf8_sequence_length(const unsigned char *p)
{
    unsigned char second_min = 0x80, second_max = 0xBF;
    size_t length;

    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        length = 2;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        length = 3;
        if (p[0] == 0xE0)
            second_min = 0xA0; /* overlong */
        if (p[0] == 0xED)
            second_max = 0x9F; /* UTF-16 surrogates */
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        length = 4;
        if (p[0] == 0xF0)
            second_min = 0x90; /* overlong */
        if (p[0] == 0xF4)
            second_max = 0x8F; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (p[1] < second_min || p[1] > second_max)
        return 0;
    for (size_t i = 2; i < length; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    }
    return length;
}

/* The length of the run of ASCII digits at the start of "p". */
static size_t log_digit_run_length(const char *p)
{
    size_t length = 0;
    while (p[length] >= '0' && p[length] <= '9')
        length++;
    return length;
}

/*
 * Appends "text" JSON-escaped (without quotes): quotes and backslashes escaped, control
 * characters as \u00XX, well-formed UTF-8 passed through, anything else as U+FFFD so the line
 * stays valid UTF-8. With "mask", every run of LOG_MASK_RUN_MIN or more digits keeps its first
 * 3 and last 4 digits and has '*' in between, same length. Returns false if the line was cut
 * on the way; what was written until then is still valid string content, and a cut inside a
 * masked run only ever shows its masked form.
 */
static bool log_line_put_escaped(struct log_line *line, const char *text, bool mask)
{
    const char *p = text;

    while (*p != '\0') {
        unsigned char c = (unsigned char)*p;

        if (mask && c >= '0' && c <= '9') {
            size_t run = log_digit_run_length(p);
            bool masked = run >= LOG_MASK_RUN_MIN;
            for (size_t i = 0; i < run; i++) {
                char digit = p[i];
                if (masked && i >= LOG_MASK_KEEP_HEAD && i < run - LOG_MASK_KEEP_TAIL)
                    digit = '*';
                if (!log_line_put(line, &digit, 1))
                    return false;
            }
            p += run;
        } else if (c == '"' || c == '\\') {
            char escaped[2] = {'\\', (char)c};
            if (!log_line_put(line, escaped, sizeof(escaped)))
                return false;
            p++;
        } else if (c < 0x20 || c == 0x7F) {
            char escaped[8];
            snprintf(escaped, sizeof(escaped), "\\u%04x", (unsigned)c);
            if (!log_line_put(line, escaped, 6))
                return false;
            p++;
        } else if (c < 0x80) {
            if (!log_line_put(line, p, 1))
                return false;
            p++;
        } else {
            size_t length = log_utf8_sequence_length((const unsigned char *)p);
            if (length == 0) {
                if (!log_line_put(line, "\\ufffd", 6))
                    return false;
                p++;
            } else {
                if (!log_line_put(line, p, length))
                    return false;
                p += length;
            }
        }
    }
    return true;
}

/*
 * True if "raw" may be written unquoted: a JSON number, true, false or null, with no run of
 * LOG_MASK_RUN_MIN digits. Anything else marked LOG_RAW is written as a (masked) string
 * instead, so a careless LOG_RAW can neither break the line nor leak a card number.
 */
static bool log_raw_is_safe(const char *raw)
{
    const char *p = raw;

    if (strcmp(raw, "true") == 0 || strcmp(raw, "false") == 0 || strcmp(raw, "null") == 0)
        return true;
    if (*p == '-')
        p++;
    size_t run = log_digit_run_length(p);
    if (run == 0 || run >= LOG_MASK_RUN_MIN || (run > 1 && *p == '0'))
        return false;
    p += run;
    if (*p == '.') {
        p++;
        run = log_digit_run_length(p);
        if (run == 0 || run >= LOG_MASK_RUN_MIN)
            return false;
        p += run;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        run = log_digit_run_length(p);
        if (run == 0 || run >= LOG_MASK_RUN_MIN)
            return false;
        p += run;
    }
    return *p == '\0';
}

/*
 * Appends ,"key":value to "line". A field that cannot even start (its key, or a raw value, does
 * not fit) is dropped whole; a string value that does not fit is cut and closed, so the line
 * stays valid JSON. A NULL "value" is written as null.
 */
static void log_line_put_field(struct log_line *line, const char *key, const char *value)
{
    size_t checkpoint = line->length;

    if (line->length > 1 && !log_line_put(line, ",", 1))
        goto drop;
    if (!log_line_put(line, "\"", 1) || !log_line_put_escaped(line, key, false) ||
        !log_line_put(line, "\":", 2))
        goto drop;
    if (value == NULL) {
        if (!log_line_put(line, "null", 4))
            goto drop;
        return;
    }
    if (value[0] == LOG_RAW_PREFIX[0]) {
        value++;
        if (log_raw_is_safe(value)) {
            if (!log_line_put(line, value, strlen(value)))
                goto drop;
            return;
        }
    }
    if (!log_line_put(line, "\"", 1))
        goto drop;
    (void)log_line_put_escaped(line, value, true);
    /* Always room for this quote: the body stops LOG_TAIL_RESERVE bytes short of the end. */
    log_line_put_reserved(line, "\"", 1);
    return;
drop:
    line->length = checkpoint;
}

/* Writes "count" bytes to stderr, retrying on EINTR and short writes, a bounded number of
 * times: a log line is worth a retry, never a hang. */
static void log_write_stderr(const char *bytes, size_t count)
{
    for (int attempt = 0; attempt < LOG_WRITE_ATTEMPTS_MAX && count > 0; attempt++) {
        ssize_t written = write(STDERR_FILENO, bytes, count);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return; /* Nowhere left to report that stderr is gone. */
        }
        bytes += written;
        count -= (size_t)written;
    }
}

/* "2026-11-25T14:00:00.123Z", the current UTC time with milliseconds. */
static void log_format_time(char out[32])
{
    struct timespec now;
    struct tm utc;

    if (clock_gettime(CLOCK_REALTIME, &now) != 0 || gmtime_r(&now.tv_sec, &utc) == NULL) {
        snprintf(out, 32, "1970-01-01T00:00:00.000Z");
        return;
    }
    size_t length = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(out + length, 32 - length, ".%03dZ", (int)(now.tv_nsec / 1000000) % 1000);
}

void log_fields(enum log_level level, const char *msg, ...)
{
    LEB_ASSERT(level >= LOG_LEVEL_DEBUG && level <= LOG_LEVEL_ERROR);
    if (!log_enabled(level))
        return;

    /* A caller that logs and then looks at errno must see its own errno, not write(2)'s. */
    int saved_errno = errno;
    struct log_line line;
    char time_text[32];
    va_list arguments;

    line.length = 0;
    line.truncated = false;
    log_format_time(time_text);
    log_line_put(&line, "{", 1);
    log_line_put_field(&line, "ts", time_text);
    log_line_put_field(&line, "level", log_level_names[level]);
    log_line_put_field(&line, "msg", msg != NULL ? msg : "");

    va_start(arguments, msg);
    for (int field = 0; field < LOG_FIELDS_MAX; field++) {
        const char *key = va_arg(arguments, const char *);
        if (key == NULL)
            break;
        const char *value = va_arg(arguments, const char *);
        log_line_put_field(&line, key, value);
        /* A NULL value may be the sentinel of a list with a missing value: reading on would
         * be undefined behaviour, so the line ends here. */
        if (value == NULL)
            break;
    }
    va_end(arguments);

    if (line.truncated)
        log_line_put_reserved(&line, LOG_TAIL, sizeof(LOG_TAIL) - 1);
    else
        log_line_put_reserved(&line, "}\n", 2);
    log_write_stderr(line.text, line.length);
    errno = saved_errno;
}
