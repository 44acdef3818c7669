/*
 * timeutil.h - calendar arithmetic on Unix seconds (UTC), with no clock reads: "now" is
 * always a parameter.
 */
#ifndef LEB_CORE_TIMEUTIL_H
#define LEB_CORE_TIMEUTIL_H

#include <stdint.h>

#include "core/error.h"

#define RFC3339_SIZE 21 /* "2026-11-25T14:00:00Z" and a NUL */

/* "2026-11-25T14:00:00Z" for "unix_s"; years 1970..9999. */
void time_format_rfc3339(char out[RFC3339_SIZE], int64_t unix_s);

/* Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (also with a lower-case 't'/'z', or "+00:00");
 * LEB_E_INVALID_REQUEST for anything else, including impossible dates. */
LEB_MUST_CHECK int time_parse_rfc3339(int64_t *out, const char *text);

/* The same with any offset "+HH:MM" / "-HH:MM" (HH at most 23, MM at most 59), as providers
 * write their times ("2026-11-25T22:00:00+08:00"); the strict form above is LEB's own API's. */
LEB_MUST_CHECK int time_parse_rfc3339_offset(int64_t *out, const char *text);

/* Days since 1970-01-01 of a civil date, and back (Howard Hinnant's algorithms). */
int64_t time_days_from_civil(int64_t year, int month, int day);
void time_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

/* Days in "month" (1..12) of "year". */
int time_days_in_month(int64_t year, int month);

/*
 * The first billing instant strictly after "after" for a card activated at "activated_at":
 * the activation day of the month at 00:00:00 UTC, clamped to the month's last day (a card
 * activated on the 31st is billed on 30 April and 28 or 29 February).
 */
int64_t time_next_billing(int64_t activated_at, int64_t after);

/* The start (00:00:00 UTC) of the day holding "unix_s". */
int64_t time_day_start(int64_t unix_s);

#endif
