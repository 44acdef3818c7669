/*
 * timeutil.c - calendar arithmetic on Unix seconds, UTC only.
 *
 * This module owns the conversions between Unix seconds, civil dates and RFC 3339 text, and
 * the billing calendar (which instant a card is billed next). Time zones, leap seconds and
 * locales do not exist here: LEB bills in UTC, and an RFC 3339 time it reads or writes is
 * always UTC.
 *
 * It must never read a clock: "now" is always a parameter, so that a month of billing can be
 * tested in a second. It must never loop without a bound or divide a negative number with C's
 * truncating '/' where a floor is meant.
 */
#include "core/timeutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TIME_SECONDS_PER_DAY 86400
/* 9999-12-31T23:59:59Z, the last instant RFC3339_SIZE can hold. */
#define TIME_UNIX_MAX INT64_C(253402300799)
#define TIME_YEAR_MIN 1970
#define TIME_YEAR_MAX 9999
/* Years whose day count cannot overflow days_from_civil's era * 146097. */
#define TIME_YEAR_ABS_MAX INT64_C(1000000000000000)

/* Division rounding towards negative infinity, for times before 1970. */
static int64_t time_floor_div(int64_t a, int64_t b)
{
    int64_t quotient = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        quotient -= 1;
    }
    return quotient;
}

static bool time_is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int time_days_in_month(int64_t year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    LEB_ASSERT(month >= 1 && month <= 12);
    if (month == 2 && time_is_leap_year(year)) {
        return 29;
    }
    return days[month - 1];
}

/*
 * Howard Hinnant's days_from_civil: the proleptic Gregorian calendar is cut into 400-year
 * eras of 146097 days, each starting on 1 March so that the leap day is the era-year's last.
 */
int64_t time_days_from_civil(int64_t year, int month, int day)
{
    int64_t era;
    int64_t year_of_era;
    int64_t day_of_year;
    int64_t day_of_era;

    LEB_ASSERT(year >= -TIME_YEAR_ABS_MAX && year <= TIME_YEAR_ABS_MAX);
    LEB_ASSERT(month >= 1 && month <= 12);
    LEB_ASSERT(day >= 1 && day <= time_days_in_month(year, month));

    year -= month <= 2;
    era = (year >= 0 ? year : year - 399) / 400;
    year_of_era = year - era * 400;
    day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    LEB_ASSERT(day_of_era >= 0 && day_of_era <= 146096);
    return era * 146097 + day_of_era - 719468;
}

/* Howard Hinnant's civil_from_days, the inverse of time_days_from_civil(). */
void time_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t era;
    int64_t day_of_era;
    int64_t year_of_era;
    int64_t day_of_year;
    int64_t month_from_march;

    LEB_ASSERT(year != NULL && month != NULL && day != NULL);
    LEB_ASSERT(days >= INT64_MIN / 2 && days <= INT64_MAX / 2);

    days += 719468;
    era = (days >= 0 ? days : days - 146096) / 146097;
    day_of_era = days - era * 146097;
    year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    month_from_march = (5 * day_of_year + 2) / 153;
    *day = (int)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    *month = (int)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    *year = year_of_era + era * 400 + (*month <= 2);
    LEB_ASSERT(*month >= 1 && *month <= 12 && *day >= 1 && *day <= 31);
}

int64_t time_day_start(int64_t unix_s)
{
    int64_t start;
    bool overflow;

    overflow = __builtin_mul_overflow(time_floor_div(unix_s, TIME_SECONDS_PER_DAY),
                                      TIME_SECONDS_PER_DAY, &start);
    LEB_ASSERT(!overflow);
    LEB_ASSERT(start <= unix_s && unix_s - start < TIME_SECONDS_PER_DAY);
    return start;
}

void time_format_rfc3339(char out[RFC3339_SIZE], int64_t unix_s)
{
    int64_t days;
    int64_t seconds_of_day;
    int64_t year;
    int month;
    int day;
    int written;

    LEB_ASSERT(out != NULL);
    LEB_ASSERT(unix_s >= 0 && unix_s <= TIME_UNIX_MAX);
    days = unix_s / TIME_SECONDS_PER_DAY;
    seconds_of_day = unix_s % TIME_SECONDS_PER_DAY;
    time_civil_from_days(days, &year, &month, &day);
    written = snprintf(out, RFC3339_SIZE, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)year, month, day,
                       (int)(seconds_of_day / 3600), (int)(seconds_of_day / 60 % 60),
                       (int)(seconds_of_day % 60));
    LEB_ASSERT(written == RFC3339_SIZE - 1);
}

/* The value of the "count" ASCII digits at "text", or -1 if any is not a digit. */
static int time_parse_digits(const char *text, int count)
{
    int value = 0;

    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return -1;
        }
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/*
 * Parses "YYYY-MM-DDTHH:MM:SSZ" (or 't', 'z', "+00:00") into Unix seconds. Only the
 * representation time_format_rfc3339() writes back is accepted (years 1970..9999, no
 * fractional seconds, no leap second, UTC only), so every accepted text round-trips. "-00:00"
 * is refused: RFC 3339 gives it the meaning "offset unknown", which is not UTC.
 */
int time_parse_rfc3339(int64_t *out, const char *text)
{
    size_t length;
    int year;
    int month;
    int day;
    int hour;
    int minute;
    int second;

    LEB_ASSERT(out != NULL);
    if (text == NULL) {
        return LEB_E_INVALID_REQUEST;
    }
    length = strnlen(text, 26);
    if (length == 20) {
        if (text[19] != 'Z' && text[19] != 'z') {
            return LEB_E_INVALID_REQUEST;
        }
    } else if (length == 25) {
        if (memcmp(text + 19, "+00:00", 6) != 0) {
            return LEB_E_INVALID_REQUEST;
        }
    } else {
        return LEB_E_INVALID_REQUEST;
    }
    if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
        text[13] != ':' || text[16] != ':') {
        return LEB_E_INVALID_REQUEST;
    }
    year = time_parse_digits(text, 4);
    month = time_parse_digits(text + 5, 2);
    day = time_parse_digits(text + 8, 2);
    hour = time_parse_digits(text + 11, 2);
    minute = time_parse_digits(text + 14, 2);
    second = time_parse_digits(text + 17, 2);
    if (year < TIME_YEAR_MIN || year > TIME_YEAR_MAX || month < 1 || month > 12 || day < 1 ||
        day > time_days_in_month(year, month) || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 59) {
        return LEB_E_INVALID_REQUEST;
    }
    *out = time_days_from_civil(year, month, day) * TIME_SECONDS_PER_DAY + hour * 3600 +
           minute * 60 + second;
    LEB_ASSERT(*out >= 0 && *out <= TIME_UNIX_MAX);
    return LEB_OK;
}

/*
 * The first billing instant strictly after "after" for a card activated at "activated_at".
 * A card is billed at 00:00:00 UTC on its activation day of each month, clamped to the
 * month's last day; the clamp applies to that month only, so a card activated on 31 January
 * is billed on 28 (or 29) February and then on 31 March again. No billing instant lies at or
 * before the activation itself, whatever "after" says. Both times lie in 1970..9999.
 */
int64_t time_next_billing(int64_t activated_at, int64_t after)
{
    int64_t base = after > activated_at ? after : activated_at;
    int64_t year;
    int month;
    int day_of_activation;
    int day_unused;

    LEB_ASSERT(activated_at >= 0 && activated_at <= TIME_UNIX_MAX);
    LEB_ASSERT(after >= 0 && after <= TIME_UNIX_MAX);

    time_civil_from_days(activated_at / TIME_SECONDS_PER_DAY, &year, &month, &day_of_activation);
    time_civil_from_days(base / TIME_SECONDS_PER_DAY, &year, &month, &day_unused);

    /* The billing instant of base's month is either after base or not; next month's is. */
    for (int attempt = 0; attempt < 2; attempt++) {
        int days_in_month = time_days_in_month(year, month);
        int day = day_of_activation < days_in_month ? day_of_activation : days_in_month;
        int64_t candidate = time_days_from_civil(year, month, day) * TIME_SECONDS_PER_DAY;

        if (candidate > base) {
            return candidate;
        }
        month += 1;
        if (month > 12) {
            month = 1;
            year += 1;
        }
    }
    LEB_ASSERT(false && "a billing instant lies within two months");
    return 0;
}

int time_parse_rfc3339_offset(int64_t *out, const char *text)
{
    char utc[21];
    int64_t at;
    int sign;
    int hours;
    int minutes;

    LEB_ASSERT(out != NULL);
    if (text == NULL || strnlen(text, 26) != 25 || (text[19] != '+' && text[19] != '-') ||
        text[22] != ':') {
        return time_parse_rfc3339(out, text);
    }
    sign = text[19] == '+' ? 1 : -1;
    hours = time_parse_digits(text + 20, 2);
    minutes = time_parse_digits(text + 23, 2);
    if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) {
        return LEB_E_INVALID_REQUEST;
    }
    memcpy(utc, text, 19);
    utc[19] = 'Z';
    utc[20] = '\0';
    if (time_parse_rfc3339(&at, utc) != LEB_OK) {
        return LEB_E_INVALID_REQUEST;
    }
    *out = at - sign * (int64_t)(hours * 3600 + minutes * 60);
    return LEB_OK;
}
