/*
 * log.h - one JSON object per line on stderr.
 *
 * The level is checked before any argument is formatted (LOG_INFO is a macro), every line
 * carries a time stamp and, where there is one, a request id. Card numbers and phone numbers
 * are masked by the caller with cardno_mask() / msisdn_mask() before they reach a log call,
 * and log_fields() masks again anything that looks like one (a run of 11 or more digits), as
 * a last line of defence. Secrets are never logged.
 */
#ifndef LEB_UTIL_LOG_H
#define LEB_UTIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* A line is at most this long, newline included: at most PIPE_BUF, so one write(2) to a pipe
 * is atomic and lines from several threads never interleave. Longer lines are cut, stay
 * valid JSON and end with "truncated":true. */
#define LOG_LINE_MAX 4096

/* Parses "debug", "info", "warn" or "error" into "out"; false (and "out" untouched) for
 * anything else. Used by the configuration to validate log.level without side effects. */
bool log_level_parse(const char *name, enum log_level *out);

/* Sets the lowest level written; the default is info. Returns false for an unknown name. */
bool log_set_level_name(const char *name);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/*
 * Writes one line: {"ts":"...","level":"info","msg":"<msg>", <fields>}. "fields" is a list of
 * key/value string pairs ending with NULL: log_fields(LOG_LEVEL_INFO, "listening", "url",
 * url, NULL). Values are JSON-escaped; a value given as LOG_RAW("123") is written unquoted
 * (numbers, booleans). The line is written with one write(2) so lines never interleave.
 */
void log_fields(enum log_level level, const char *msg, ...) __attribute__((sentinel));

/* Marks a value to be written as raw JSON (a number or a boolean), not as a string. */
#define LOG_RAW_PREFIX "\x01"
#define LOG_RAW(s) LOG_RAW_PREFIX s

#define LOG_DEBUG(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_DEBUG))                                                          \
            log_fields(LOG_LEVEL_DEBUG, __VA_ARGS__, (char *)NULL);                                \
    } while (0)
#define LOG_INFO(...)                                                                              \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_INFO))                                                           \
            log_fields(LOG_LEVEL_INFO, __VA_ARGS__, (char *)NULL);                                 \
    } while (0)
#define LOG_WARN(...)                                                                              \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_WARN))                                                           \
            log_fields(LOG_LEVEL_WARN, __VA_ARGS__, (char *)NULL);                                 \
    } while (0)
#define LOG_ERROR(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_ERROR))                                                          \
            log_fields(LOG_LEVEL_ERROR, __VA_ARGS__, (char *)NULL);                                \
    } while (0)

#endif
