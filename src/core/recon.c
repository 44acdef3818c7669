/*
 * recon.c - reading providers' statements and classifying their rows.
 *
 * This module owns the two statement formats LEB reads (see recon.h), the exact parsing of
 * their amounts and Beijing times, the finding of repeated rows, and the table of rules that
 * says, from what LEB knows about a row, what the row is and whether it may be repaired.
 *
 * It must never do I/O, read a clock or allocate: a statement of any size is walked one line
 * at a time in a bounded buffer on the stack, and every loop is bounded by the statement's
 * size or by RECON_FIELDS_MAX. It must never guess: a row it cannot read exactly (a third
 * fraction digit, a field too many, an unknown status) stops the import with its line number,
 * because a reconciliation that skipped a row would be wrong without saying so.
 */
#include "core/recon.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/money.h"
#include "core/timeutil.h"

static const char *const format_names[RECON_FORMAT_COUNT] = {
    [RECON_FORMAT_ALIPAY] = "alipay",
    [RECON_FORMAT_WECHATPAY] = "wechatpay",
};

static const char *const class_names[RECON_CLASS_COUNT] = {
    [RECON_MATCHED] = "matched",
    [RECON_REPAIRED] = "repaired",
    [RECON_MISSING_FROM_STATEMENT] = "missing_from_statement",
    [RECON_AMOUNT_MISMATCH] = "amount_mismatch",
    [RECON_DUPLICATE] = "duplicate",
    [RECON_UNKNOWN_ORDER] = "unknown_order",
    [RECON_ORDER_MISMATCH] = "order_mismatch",
    [RECON_DOUBLE_PAYMENT] = "double_payment",
    [RECON_REFUND_MATCHED] = "refund_matched",
    [RECON_REFUND_UNKNOWN] = "refund_unknown",
};

const char *recon_format_name(enum recon_format format)
{
    LEB_ASSERT((int)format >= 0 && format < RECON_FORMAT_COUNT);
    return format_names[format];
}

const char *recon_class_name(enum recon_class class_)
{
    LEB_ASSERT((int)class_ >= 0 && class_ < RECON_CLASS_COUNT);
    return class_names[class_];
}

int recon_format_of_provider(enum recon_format *out, const char *provider)
{
    LEB_ASSERT(out != NULL);
    if (provider == NULL)
        return LEB_E_NOT_FOUND;
    if (strcmp(provider, "alipay") == 0) {
        *out = RECON_FORMAT_ALIPAY;
        return 0;
    }
    /* API v2 and v3 merchants download the same trade bill. */
    if (strcmp(provider, "wechatpay") == 0 || strcmp(provider, "wechatpay_v2") == 0) {
        *out = RECON_FORMAT_WECHATPAY;
        return 0;
    }
    return LEB_E_NOT_FOUND;
}

/* ---------------------------------------------------------------------------------------------
 * Amounts and times
 * ------------------------------------------------------------------------------------------ */

int recon_amount_parse(int64_t *out, bool *negative, const char *text, bool allow_negative)
{
    LEB_ASSERT(out != NULL && negative != NULL);
    if (text == NULL)
        return LEB_E_INVALID_AMOUNT;
    bool minus = text[0] == '-';
    if (minus && !allow_negative)
        return LEB_E_INVALID_AMOUNT;
    int64_t amount = 0;
    /* money_parse_decimal takes digits and at most two fraction digits, nothing else: no
     * second sign, no blank, no exponent. */
    int rc = money_parse_decimal(&amount, minus ? text + 1 : text);
    if (rc < 0)
        return rc;
    LEB_ASSERT(amount >= 0);
    *out = amount;
    *negative = minus;
    return 0;
}

/* Reads exactly "digits" ASCII digits at "*text" into "*out", advancing "*text". */
static bool digits_take(int *out, const char **text, int digits)
{
    int value = 0;
    for (int i = 0; i < digits; i++) {
        char c = (*text)[i];
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + (c - '0');
    }
    *text += digits;
    *out = value;
    return true;
}

static bool literal_take(const char **text, const char *literal)
{
    size_t size = strlen(literal);
    if (strncmp(*text, literal, size) != 0)
        return false;
    *text += size;
    return true;
}

/* A Beijing civil time into Unix seconds; false for an impossible one. */
static bool beijing_to_unix(int64_t *out, int year, int month, int day, int hour, int minute,
                            int second)
{
    if (year < 1970 || month < 1 || month > 12 || day < 1 ||
        day > time_days_in_month(year, month) || hour > 23 || minute > 59 || second > 59)
        return false;
    int64_t days = time_days_from_civil(year, month, day);
    *out = days * 86400 + hour * 3600 + minute * 60 + second - RECON_BEIJING_OFFSET_S;
    return true;
}

/* "HH:MM:SS" at "*text". */
static bool clock_take(int *hour, int *minute, int *second, const char **text)
{
    return digits_take(hour, text, 2) && literal_take(text, ":") && digits_take(minute, text, 2) &&
           literal_take(text, ":") && digits_take(second, text, 2);
}

int recon_time_parse(int64_t *out, const char *text)
{
    LEB_ASSERT(out != NULL);
    if (text == NULL)
        return LEB_E_INVALID_REQUEST;
    int year, month, day, hour, minute, second;
    const char *cursor = text;
    if (!digits_take(&year, &cursor, 4) || !literal_take(&cursor, "-") ||
        !digits_take(&month, &cursor, 2) || !literal_take(&cursor, "-") ||
        !digits_take(&day, &cursor, 2) || !literal_take(&cursor, " ") ||
        !clock_take(&hour, &minute, &second, &cursor) || *cursor != '\0')
        return LEB_E_INVALID_REQUEST;
    int64_t unix_s;
    if (!beijing_to_unix(&unix_s, year, month, day, hour, minute, second))
        return LEB_E_INVALID_REQUEST;
    *out = unix_s;
    return 0;
}

/* Alipay's "2026年11月25日 00:00:00" at "*text", up to but not including what follows. */
static bool alipay_date_take(int64_t *out, const char **text)
{
    int year, month, day, hour, minute, second;
    const char *cursor = *text;
    if (!digits_take(&year, &cursor, 4) || !literal_take(&cursor, "年") ||
        !digits_take(&month, &cursor, 2) || !literal_take(&cursor, "月") ||
        !digits_take(&day, &cursor, 2) || !literal_take(&cursor, "日") ||
        !literal_take(&cursor, " ") || !clock_take(&hour, &minute, &second, &cursor))
        return false;
    if (!beijing_to_unix(out, year, month, day, hour, minute, second))
        return false;
    *text = cursor;
    return true;
}

void recon_period(int64_t *start, int64_t *end, const struct recon_parser *parser, size_t rows,
                  int64_t first, int64_t last)
{
    LEB_ASSERT(start != NULL && end != NULL && parser != NULL);
    if (parser->period_declared) {
        *start = parser->period_start;
        *end = parser->period_end;
        return;
    }
    if (rows == 0) {
        *start = *end = 0;
        return;
    }
    LEB_ASSERT(first <= last);
    /* Whole days in Beijing: a provider's daily statement runs from midnight to midnight
     * there. */
    int64_t first_beijing = first + RECON_BEIJING_OFFSET_S;
    int64_t last_beijing = last + RECON_BEIJING_OFFSET_S;
    *start = first_beijing - first_beijing % 86400 - RECON_BEIJING_OFFSET_S;
    *end = last_beijing - last_beijing % 86400 + 86400 - RECON_BEIJING_OFFSET_S;
    LEB_ASSERT(*start <= first && last < *end);
}

/* ---------------------------------------------------------------------------------------------
 * Lines and fields
 * ------------------------------------------------------------------------------------------ */

static void error_set(struct recon_error *error, size_t line, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Cuts "text" at its first byte that does not begin a whole UTF-8 character: a message cut
 * to its size (or a field quoted in it) may end in half a character, and a message
 * must stay valid UTF-8 to travel in JSON. */
static void utf8_cut_invalid(char *text)
{
    unsigned char *cursor = (unsigned char *)text;
    while (*cursor != 0) {
        size_t size = *cursor < 0x80             ? 1
                      : (*cursor & 0xE0) == 0xC0 ? 2
                      : (*cursor & 0xF0) == 0xE0 ? 3
                      : (*cursor & 0xF8) == 0xF0 ? 4
                                                 : 0;
        for (size_t i = 1; i < size; i++)
            if ((cursor[i] & 0xC0) != 0x80)
                size = 0;
        if (size == 0) {
            *cursor = 0;
            return;
        }
        cursor += size;
    }
}

static void error_set(struct recon_error *error, size_t line, const char *format, ...)
{
    error->line = line;
    int used = 0;
    if (line > 0)
        used = snprintf(error->message, sizeof(error->message), "line %zu: ", line);
    LEB_ASSERT(used >= 0 && (size_t)used < sizeof(error->message));
    va_list args;
    va_start(args, format);
    vsnprintf(error->message + used, sizeof(error->message) - (size_t)used, format, args);
    va_end(args);
    utf8_cut_invalid(error->message);
}

/* At most RECON_QUOTE_BYTES of "text" for a message, cut at a character boundary. */
#define RECON_QUOTE_BYTES 40
struct quote {
    char text[RECON_QUOTE_BYTES + 4];
};

static struct quote quote_of(const char *text)
{
    struct quote quote;
    size_t size = strnlen(text, RECON_QUOTE_BYTES + 1);
    if (size > RECON_QUOTE_BYTES) {
        size = RECON_QUOTE_BYTES;
        while (size > 0 && ((unsigned char)text[size] & 0xC0) == 0x80)
            size--; /* back to the start of the character that did not fit */
    }
    bool cut = text[size] != '\0';
    memcpy(quote.text, text, size);
    snprintf(quote.text + size, sizeof(quote.text) - size, "%s", cut ? "..." : "");
    return quote;
}

/* The next line of the statement: its start and size without the line end. False at the
 * end. */
static bool line_next(struct recon_parser *parser, const char **start, size_t *size, size_t *line)
{
    if (parser->position >= parser->size)
        return false;
    const char *begin = parser->text + parser->position;
    size_t left = parser->size - parser->position;
    const char *newline = memchr(begin, '\n', left);
    size_t length = newline ? (size_t)(newline - begin) : left;
    parser->position += newline ? length + 1 : length;
    *line = parser->line++;
    if (length > 0 && begin[length - 1] == '\r')
        length--;
    *start = begin;
    *size = length;
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool line_is_blank(const char *start, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (!is_blank(start[i]))
            return false;
    return true;
}

/* "text" without blanks (spaces and tabs) at either end, in place. */
static char *trim_blanks(char *text)
{
    while (is_blank(*text))
        text++;
    size_t size = strlen(text);
    while (size > 0 && is_blank(text[size - 1]))
        text[--size] = '\0';
    return text;
}

/* "text" without tabs at either end, in place: Alipay pads numbers with a tab so that
 * spreadsheets keep them as text. */
static char *trim_tabs(char *text)
{
    while (*text == '\t')
        text++;
    size_t size = strlen(text);
    while (size > 0 && text[size - 1] == '\t')
        text[--size] = '\0';
    return text;
}

/*
 * Splits "buffer" (a NUL-terminated copy of one line) into fields, in place. A WeChat Pay
 * data line (it starts with a backtick) is split at each ",`", so a comma inside a product
 * name stays in its field; anything else is one line of RFC 4180 CSV (quoted fields may hold
 * commas and doubled quotes). Returns the field count, or -1 for more than RECON_FIELDS_MAX
 * fields or an unterminated quote ("why" says which).
 */
static int fields_split(char *buffer, char **fields, const char **why)
{
    int count = 0;
    if (buffer[0] == '`') {
        char *cursor = buffer + 1;
        for (;;) {
            if (count == RECON_FIELDS_MAX) {
                *why = "more fields than a statement has";
                return -1;
            }
            fields[count++] = cursor;
            char *separator = strstr(cursor, ",`");
            if (separator == NULL)
                return count;
            *separator = '\0';
            cursor = separator + 2;
        }
    }
    char *cursor = buffer;
    for (;;) {
        if (count == RECON_FIELDS_MAX) {
            *why = "more fields than a statement has";
            return -1;
        }
        if (*cursor == '"') {
            char *out = cursor;
            char *in = cursor + 1;
            fields[count++] = out;
            for (;;) {
                if (*in == '\0') {
                    *why = "a quoted field is not closed";
                    return -1;
                }
                if (in[0] == '"' && in[1] == '"') {
                    *out++ = '"';
                    in += 2;
                    continue;
                }
                if (in[0] == '"')
                    break;
                *out++ = *in++;
            }
            in++; /* the closing quote */
            if (*in != ',' && *in != '\0') {
                *why = "text after a closing quote";
                return -1;
            }
            bool last = *in == '\0';
            *out = '\0';
            if (last)
                return count;
            cursor = in + 1;
            continue;
        }
        fields[count++] = cursor;
        char *comma = strchr(cursor, ',');
        if (comma == NULL)
            return count;
        *comma = '\0';
        cursor = comma + 1;
    }
}

/* Copies a line into "buffer" (RECON_LINE_BYTES_MAX + 1 bytes); false when it does not fit
 * or holds a NUL byte. */
static bool line_copy(char *buffer, const char *start, size_t size)
{
    if (size > RECON_LINE_BYTES_MAX || memchr(start, '\0', size) != NULL)
        return false;
    memcpy(buffer, start, size);
    buffer[size] = '\0';
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * The header
 * ------------------------------------------------------------------------------------------ */

/* The index of the first of "names" (NULL-ended) among the header's fields, or -1. */
static int column_find(char **fields, int count, const char *const *names)
{
    for (const char *const *name = names; *name != NULL; name++)
        for (int i = 0; i < count; i++)
            if (strcmp(fields[i], *name) == 0)
                return i;
    return -1;
}

static int header_read(struct recon_parser *parser, struct recon_error *error, char **fields,
                       int count, size_t line)
{
    for (int i = 0; i < count; i++) {
        fields[i] = trim_blanks(fields[i]);
        if (fields[i][0] == '`')
            fields[i]++;
    }
    static const char *const alipay_trade[] = {"支付宝交易号", NULL};
    static const char *const order[] = {"商户订单号", NULL};
    static const char *const wechat_time[] = {"交易时间", NULL};
    if (column_find(fields, count, alipay_trade) >= 0) {
        static const char *const type[] = {"业务类型", NULL};
        static const char *const done[] = {"完成时间", NULL};
        static const char *const created[] = {"创建时间", NULL};
        static const char *const amount[] = {"订单金额（元）", "订单金额(元)", "订单金额", NULL};
        static const char *const refund_no[] = {"退款批次号/请求号", NULL};
        parser->format = RECON_FORMAT_ALIPAY;
        parser->column_trade_no = column_find(fields, count, alipay_trade);
        parser->column_order_no = column_find(fields, count, order);
        parser->column_type = column_find(fields, count, type);
        parser->column_time = column_find(fields, count, done);
        parser->column_time_fallback = column_find(fields, count, created);
        parser->column_amount = column_find(fields, count, amount);
        parser->column_refund_amount = -1; /* a refund's amount is in 订单金额, negative */
        parser->column_refund_no = column_find(fields, count, refund_no);
        parser->column_refund_no_fallback = -1;
        const char *missing = parser->column_order_no < 0 ? "商户订单号"
                              : parser->column_type < 0   ? "业务类型"
                              : parser->column_amount < 0 ? "订单金额（元）"
                              : parser->column_time < 0 && parser->column_time_fallback < 0
                                  ? "完成时间"
                                  : NULL;
        if (missing != NULL) {
            error_set(error, line, "the Alipay header has no %s column", missing);
            return LEB_E_INVALID_REQUEST;
        }
    } else if (strcmp(fields[0], "交易时间") == 0) {
        static const char *const trade[] = {"微信订单号", NULL};
        static const char *const state[] = {"交易状态", NULL};
        /* 订单金额 is what the payer was asked for (total_fee): the amount LEB's
         * notifications carry. Older bills call it 总金额; 应结订单金额 is the last resort
         * (it differs only by coupons, which LEB never issues). */
        static const char *const amount[] = {"订单金额", "总金额", "应结订单金额", NULL};
        static const char *const refund_amount[] = {"退款金额", "申请退款金额", NULL};
        static const char *const refund_no[] = {"微信退款单号", NULL};
        static const char *const refund_no_merchant[] = {"商户退款单号", NULL};
        parser->format = RECON_FORMAT_WECHATPAY;
        parser->column_time = column_find(fields, count, wechat_time);
        parser->column_time_fallback = -1;
        parser->column_trade_no = column_find(fields, count, trade);
        parser->column_order_no = column_find(fields, count, order);
        parser->column_type = column_find(fields, count, state);
        parser->column_amount = column_find(fields, count, amount);
        parser->column_refund_amount = column_find(fields, count, refund_amount);
        parser->column_refund_no = column_find(fields, count, refund_no);
        parser->column_refund_no_fallback = column_find(fields, count, refund_no_merchant);
        const char *missing = parser->column_trade_no < 0        ? "微信订单号"
                              : parser->column_order_no < 0      ? "商户订单号"
                              : parser->column_type < 0          ? "交易状态"
                              : parser->column_amount < 0        ? "订单金额"
                              : parser->column_refund_amount < 0 ? "退款金额"
                                                                 : NULL;
        if (missing != NULL) {
            error_set(error, line, "the WeChat Pay header has no %s column", missing);
            return LEB_E_INVALID_REQUEST;
        }
    } else {
        error_set(error, line,
                  "not the header of a statement LEB reads: Alipay's names 支付宝交易号, "
                  "WeChat Pay's starts with 交易时间");
        return LEB_E_INVALID_REQUEST;
    }
    parser->header_fields = (size_t)count;
    return 0;
}

/* Alipay's "#起始日期：[...]   终止日期：[...]" comment, if "buffer" is one. */
static int period_read(struct recon_parser *parser, struct recon_error *error, const char *buffer,
                       size_t line)
{
    const char *start = strstr(buffer, "起始日期");
    const char *end = strstr(buffer, "终止日期");
    if (start == NULL && end == NULL)
        return 0;
    int64_t from = 0, to = 0;
    const char *cursor = start ? strchr(start, '[') : NULL;
    bool good = cursor != NULL;
    if (good) {
        cursor++;
        good = alipay_date_take(&from, &cursor) && *cursor == ']';
    }
    cursor = good && end != NULL ? strchr(end, '[') : NULL;
    good = good && cursor != NULL;
    if (good) {
        cursor++;
        good = alipay_date_take(&to, &cursor) && *cursor == ']';
    }
    if (!good || to <= from) {
        error_set(error, line,
                  "the period must read 起始日期：[YYYY年MM月DD日 HH:MM:SS] "
                  "终止日期：[YYYY年MM月DD日 HH:MM:SS], the end after the start");
        return LEB_E_INVALID_REQUEST;
    }
    parser->period_declared = true;
    parser->period_start = from;
    parser->period_end = to;
    return 0;
}

int recon_parser_init(struct recon_parser *parser, struct recon_error *error, const char *text,
                      size_t size)
{
    LEB_ASSERT(parser != NULL && error != NULL && (text != NULL || size == 0));
    memset(parser, 0, sizeof(*parser));
    memset(error, 0, sizeof(*error));
    parser->text = text;
    parser->size = size;
    parser->line = 1;
    if (size >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        parser->position = 3;
    char buffer[RECON_LINE_BYTES_MAX + 1];
    char *fields[RECON_FIELDS_MAX];
    const char *start;
    size_t length, line;
    while (line_next(parser, &start, &length, &line)) {
        if (line_is_blank(start, length))
            continue;
        if (!line_copy(buffer, start, length)) {
            error_set(error, line, "longer than %d bytes, or holds a NUL byte",
                      RECON_LINE_BYTES_MAX);
            parser->done = true;
            return LEB_E_INVALID_REQUEST;
        }
        int rc = 0;
        if (buffer[0] == '#') {
            rc = period_read(parser, error, buffer, line);
        } else {
            const char *why = NULL;
            int count = fields_split(buffer, fields, &why);
            if (count < 0) {
                error_set(error, line, "%s", why);
                rc = LEB_E_INVALID_REQUEST;
            } else {
                rc = header_read(parser, error, fields, count, line);
                if (rc == 0)
                    return 0;
            }
        }
        if (rc < 0) {
            parser->done = true;
            return rc;
        }
    }
    parser->done = true;
    error_set(error, 0, "no header row: not an Alipay or WeChat Pay statement");
    return LEB_E_INVALID_REQUEST;
}

/* ---------------------------------------------------------------------------------------------
 * Data rows
 * ------------------------------------------------------------------------------------------ */

/* An identifier: 1 to RECON_ID_SIZE - 1 printable ASCII characters without blanks. */
static bool identifier_copy(char out[RECON_ID_SIZE], const char *text)
{
    size_t size = strlen(text);
    if (size == 0 || size >= RECON_ID_SIZE)
        return false;
    for (size_t i = 0; i < size; i++)
        if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f)
            return false;
    memcpy(out, text, size + 1);
    return true;
}

/* The text of field "column" of a data row: tabs trimmed, and blanks too unless it is an
 * amount (a blank in an amount is a malformed amount, not padding). */
static char *field_of(char **fields, int column, bool amount)
{
    char *text = trim_tabs(fields[column]);
    return amount ? text : trim_blanks(text);
}

static int row_read(struct recon_parser *parser, struct recon_record *out,
                    struct recon_error *error, char **fields, size_t line)
{
    bool alipay = parser->format == RECON_FORMAT_ALIPAY;
    const char *type = field_of(fields, parser->column_type, false);
    if (alipay && strcmp(type, "交易") == 0) {
        out->kind = RECON_KIND_PAYMENT;
    } else if (alipay && strcmp(type, "退款") == 0) {
        out->kind = RECON_KIND_REFUND;
    } else if (!alipay && strcmp(type, "SUCCESS") == 0) {
        out->kind = RECON_KIND_PAYMENT;
    } else if (!alipay && strcmp(type, "REFUND") == 0) {
        out->kind = RECON_KIND_REFUND;
    } else {
        error_set(error, line, "%s '%s' is neither %s", alipay ? "业务类型" : "交易状态",
                  quote_of(type).text, alipay ? "交易 nor 退款" : "SUCCESS nor REFUND");
        return LEB_E_INVALID_REQUEST;
    }
    snprintf(out->status, sizeof(out->status), "%s", type);
    const char *trade_no = field_of(fields, parser->column_trade_no, false);
    if (!identifier_copy(out->trade_no, trade_no)) {
        error_set(error, line,
                  "the provider's trade number '%s' is empty, too long or not "
                  "printable ASCII",
                  quote_of(trade_no).text);
        return LEB_E_INVALID_REQUEST;
    }
    const char *order_no = field_of(fields, parser->column_order_no, false);
    if (!identifier_copy(out->order_no, order_no)) {
        error_set(error, line,
                  "the order number (商户订单号) '%s' is empty, too long or not "
                  "printable ASCII",
                  quote_of(order_no).text);
        return LEB_E_INVALID_REQUEST;
    }
    if (out->kind == RECON_KIND_REFUND) {
        const char *refund_no =
            parser->column_refund_no >= 0 ? field_of(fields, parser->column_refund_no, false) : "";
        if (refund_no[0] == '\0' && parser->column_refund_no_fallback >= 0)
            refund_no = field_of(fields, parser->column_refund_no_fallback, false);
        if (refund_no[0] != '\0' && !identifier_copy(out->refund_no, refund_no)) {
            error_set(error, line, "the refund number '%s' is too long or not printable ASCII",
                      quote_of(refund_no).text);
            return LEB_E_INVALID_REQUEST;
        }
    }
    int amount_column = out->kind == RECON_KIND_REFUND && parser->column_refund_amount >= 0
                            ? parser->column_refund_amount
                            : parser->column_amount;
    const char *amount = field_of(fields, amount_column, true);
    bool negative = false;
    /* Alipay writes refunds as negative amounts; WeChat Pay writes no signs at all. */
    int rc = recon_amount_parse(&out->amount, &negative, amount,
                                alipay && out->kind == RECON_KIND_REFUND);
    if (rc < 0) {
        error_set(
            error, line, "the amount '%s' must be yuan with at most two decimals, like 12.30%s",
            quote_of(amount).text, alipay && out->kind == RECON_KIND_REFUND ? " or -12.30" : "");
        return LEB_E_INVALID_REQUEST;
    }
    const char *time = "";
    if (parser->column_time >= 0)
        time = field_of(fields, parser->column_time, false);
    if (time[0] == '\0' && parser->column_time_fallback >= 0)
        time = field_of(fields, parser->column_time_fallback, false);
    if (recon_time_parse(&out->time, time) < 0) {
        error_set(error, line, "the time '%s' is not YYYY-MM-DD HH:MM:SS", quote_of(time).text);
        return LEB_E_INVALID_REQUEST;
    }
    return 0;
}

int recon_parser_next(struct recon_parser *parser, struct recon_record *out,
                      struct recon_error *error)
{
    LEB_ASSERT(parser != NULL && out != NULL && error != NULL);
    if (parser->done)
        return error->message[0] != '\0' ? LEB_E_INVALID_REQUEST : 0;
    char buffer[RECON_LINE_BYTES_MAX + 1];
    char *fields[RECON_FIELDS_MAX];
    const char *start;
    size_t length, line;
    while (line_next(parser, &start, &length, &line)) {
        if (line_is_blank(start, length))
            continue;
        /* Where the details end: Alipay's "#----...业务明细列表结束----" (any comment),
         * WeChat Pay's summary header. What follows is totals, not trades. */
        bool alipay = parser->format == RECON_FORMAT_ALIPAY;
        if ((alipay && start[0] == '#') ||
            (!alipay && length >= strlen("总交易单数") &&
             memcmp(start, "总交易单数", strlen("总交易单数")) == 0)) {
            parser->done = true;
            return 0;
        }
        int rc = 0;
        if (!line_copy(buffer, start, length)) {
            error_set(error, line, "longer than %d bytes, or holds a NUL byte",
                      RECON_LINE_BYTES_MAX);
            rc = LEB_E_INVALID_REQUEST;
        }
        const char *why = NULL;
        int count = rc == 0 ? fields_split(buffer, fields, &why) : 0;
        if (rc == 0 && count < 0) {
            error_set(error, line, "%s", why);
            rc = LEB_E_INVALID_REQUEST;
        }
        if (rc == 0 && (size_t)count != parser->header_fields) {
            error_set(error, line, "%d fields, but the header has %zu", count,
                      parser->header_fields);
            rc = LEB_E_INVALID_REQUEST;
        }
        if (rc == 0 && parser->rows == RECON_ROWS_MAX) {
            error_set(error, line, "more than %d rows: split the statement", RECON_ROWS_MAX);
            rc = LEB_E_INVALID_REQUEST;
        }
        if (rc == 0) {
            memset(out, 0, sizeof(*out));
            rc = row_read(parser, out, error, fields, line);
        }
        if (rc < 0) {
            parser->done = true;
            return rc;
        }
        out->line = line;
        out->raw_offset = (size_t)(start - parser->text);
        out->raw_size = length;
        parser->rows++;
        return 1;
    }
    parser->done = true;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Repeated rows
 * ------------------------------------------------------------------------------------------ */

/* What makes a row the same as another: a payment's trade, a refund's own number. */
static const char *record_key(const struct recon_record *record)
{
    if (record->kind == RECON_KIND_REFUND && record->refund_no[0] != '\0')
        return record->refund_no;
    return record->trade_no;
}

static int record_compare(const void *left, const void *right)
{
    const struct recon_record *a = *(const struct recon_record *const *)left;
    const struct recon_record *b = *(const struct recon_record *const *)right;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    int order = strcmp(record_key(a), record_key(b));
    if (order != 0)
        return order;
    return a->line < b->line ? -1 : a->line > b->line;
}

void recon_mark_duplicates(const struct recon_record **sorted, bool *duplicate,
                           const struct recon_record *records, size_t count)
{
    if (count == 0)
        return; /* qsort() must not be handed a NULL array, even of nothing */
    LEB_ASSERT(sorted != NULL && duplicate != NULL && records != NULL);
    for (size_t i = 0; i < count; i++) {
        sorted[i] = &records[i];
        duplicate[i] = false;
    }
    qsort(sorted, count, sizeof(*sorted), record_compare);
    for (size_t i = 1; i < count; i++) {
        const struct recon_record *previous = sorted[i - 1], *current = sorted[i];
        if (previous->kind == current->kind &&
            strcmp(record_key(previous), record_key(current)) == 0)
            duplicate[current - records] = true;
    }
}

bool recon_find_payment(const struct recon_record *const *sorted, size_t count,
                        const char *trade_no)
{
    LEB_ASSERT(trade_no != NULL);
    /* Payments sort first (RECON_KIND_PAYMENT is 0), by trade number. */
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        const struct recon_record *record = sorted[middle];
        int order = record->kind != RECON_KIND_PAYMENT ? 1 : strcmp(record->trade_no, trade_no);
        if (order == 0)
            return true;
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return false;
}

/* ---------------------------------------------------------------------------------------------
 * Classification
 * ------------------------------------------------------------------------------------------ */

bool recon_order_awaits_payment(enum order_status status)
{
    return status == ORDER_PENDING_PAYMENT || status == ORDER_EXPIRED || status == ORDER_FAILED;
}

static void verdict_set(struct recon_verdict *out, enum recon_class class_, bool known,
                        int64_t leb_amount)
{
    out->class_ = class_;
    out->repair = false;
    out->leb_amount_known = known;
    out->leb_amount = known ? leb_amount : 0;
}

static void classify_payment(struct recon_verdict *out, const struct recon_facts *facts)
{
    if (facts->duplicate) {
        verdict_set(out, RECON_DUPLICATE, facts->trade_found, facts->trade_amount);
        return;
    }
    if (facts->trade_found) {
        if (!facts->trade_order_same)
            verdict_set(out, RECON_ORDER_MISMATCH, true, facts->trade_amount);
        else if (facts->trade_amount != facts->statement_amount)
            verdict_set(out, RECON_AMOUNT_MISMATCH, true, facts->trade_amount);
        else
            verdict_set(out, RECON_MATCHED, true, facts->trade_amount);
        return;
    }
    /* The provider took money LEB never recorded. */
    if (!facts->order_found) {
        verdict_set(out, RECON_UNKNOWN_ORDER, false, 0);
        return;
    }
    if (!facts->order_provider_same) {
        verdict_set(out, RECON_ORDER_MISMATCH, true, facts->order_pay_amount);
        return;
    }
    /* An order that no longer waits for payment was paid by another trade (or waits for a
     * human): this money goes back, and a human decides how. */
    if (!recon_order_awaits_payment(facts->order_status)) {
        verdict_set(out, RECON_DOUBLE_PAYMENT, true, facts->order_pay_amount);
        return;
    }
    if (facts->order_pay_amount != facts->statement_amount) {
        verdict_set(out, RECON_AMOUNT_MISMATCH, true, facts->order_pay_amount);
        return;
    }
    verdict_set(out, RECON_REPAIRED, true, facts->order_pay_amount);
    out->repair = true;
}

static void classify_refund(struct recon_verdict *out, const struct recon_facts *facts)
{
    if (facts->duplicate) {
        verdict_set(out, RECON_DUPLICATE, false, 0);
        return;
    }
    bool refunded = facts->order_found && (facts->order_status == ORDER_REFUNDING ||
                                           facts->order_status == ORDER_REFUNDED);
    if (!refunded) {
        verdict_set(out, RECON_REFUND_UNKNOWN, false, 0);
        return;
    }
    verdict_set(out,
                facts->refund_amount == facts->statement_amount ? RECON_REFUND_MATCHED
                                                                : RECON_AMOUNT_MISMATCH,
                true, facts->refund_amount);
}

void recon_classify(struct recon_verdict *out, const struct recon_facts *facts)
{
    LEB_ASSERT(out != NULL && facts != NULL);
    LEB_ASSERT(facts->statement_amount >= 0);
    if (facts->kind == RECON_KIND_PAYMENT)
        classify_payment(out, facts);
    else
        classify_refund(out, facts);
    /* Only a payment LEB lacks, for an order that waits for exactly it, is ever applied. */
    LEB_ASSERT(!out->repair ||
               (facts->kind == RECON_KIND_PAYMENT && !facts->duplicate && !facts->trade_found &&
                facts->order_found && facts->order_pay_amount == facts->statement_amount));
}
