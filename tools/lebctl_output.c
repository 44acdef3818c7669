/*
 * lebctl_output.c - everything lebctl prints: error lines, "key: value" blocks, aligned
 * tables, and the JSON documents of --json.
 *
 * People read the human output, so amounts are shown in major units with their currency
 * ("100.00 CNY"), formatted by core/money (never through floating point), and columns are
 * aligned by display width (a Chinese plan name takes two cells per character). Scripts read
 * --json, which is the server's document unchanged. Text that came from the server or from a
 * file goes through out_text, which replaces control characters: what lebctl prints must
 * never be able to drive the operator's terminal.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/money.h"
#include "lebctl.h"

#define OUT_MESSAGE_MAX 2048
#define OUT_TABLE_COLUMNS_MAX 32

/* ---------------------------------------------------------------------------------------------
 * Text
 * ------------------------------------------------------------------------------------------ */

void out_text(FILE *stream, const char *text)
{
    const unsigned char *cursor = (const unsigned char *)text;
    while (*cursor != '\0') {
        unsigned char byte = *cursor;
        /* C0 controls, DEL, and C1 controls encoded in UTF-8 (U+0080..U+009F: 0xC2 0x80..0x9F),
         * which some terminals obey like ESC sequences. */
        if (byte < 0x20 || byte == 0x7f) {
            fputc('?', stream);
            cursor++;
        } else if (byte == 0xc2 && cursor[1] >= 0x80 && cursor[1] <= 0x9f) {
            fputc('?', stream);
            cursor += 2;
        } else {
            fputc(byte, stream);
            cursor++;
        }
    }
}

/* Whether the cursor sits at the end of a progress line on stderr. */
static bool out_progress_active;

void out_progress(const char *line)
{
    fputc('\r', stderr);
    out_text(stderr, line);
    fflush(stderr);
    out_progress_active = true;
}

void out_progress_done(void)
{
    if (out_progress_active) {
        fputc('\n', stderr);
        out_progress_active = false;
    }
}

static void out_vline(const char *code, const char *format, va_list arguments)
{
    char message[OUT_MESSAGE_MAX];
    out_progress_done();
    vsnprintf(message, sizeof message, format, arguments);
    fputs("lebctl: ", stderr);
    out_text(stderr, message);
    if (code != NULL) {
        fputs(" (", stderr);
        out_text(stderr, code);
        fputc(')', stderr);
    }
    fputc('\n', stderr);
}

void out_error(const char *code, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    out_vline(code, format, arguments);
    va_end(arguments);
}

void out_note(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    out_vline(NULL, format, arguments);
    va_end(arguments);
}

/* True for code points a terminal draws two cells wide (East Asian Wide and Fullwidth). */
static bool codepoint_is_wide(uint32_t codepoint)
{
    return (codepoint >= 0x1100 && codepoint <= 0x115f) ||
           (codepoint >= 0x2e80 && codepoint <= 0x303e) ||
           (codepoint >= 0x3041 && codepoint <= 0x33ff) ||
           (codepoint >= 0x3400 && codepoint <= 0x4dbf) ||
           (codepoint >= 0x4e00 && codepoint <= 0x9fff) ||
           (codepoint >= 0xa000 && codepoint <= 0xa4cf) ||
           (codepoint >= 0xac00 && codepoint <= 0xd7a3) ||
           (codepoint >= 0xf900 && codepoint <= 0xfaff) ||
           (codepoint >= 0xfe30 && codepoint <= 0xfe4f) ||
           (codepoint >= 0xff00 && codepoint <= 0xff60) ||
           (codepoint >= 0xffe0 && codepoint <= 0xffe6) ||
           (codepoint >= 0x1f300 && codepoint <= 0x1f64f) ||
           (codepoint >= 0x20000 && codepoint <= 0x3fffd);
}

size_t out_text_width(const char *text)
{
    const unsigned char *cursor = (const unsigned char *)text;
    size_t width = 0;
    while (*cursor != '\0') {
        unsigned char byte = *cursor;
        size_t length = 1;
        uint32_t codepoint = byte;
        if (byte >= 0xf0 && byte <= 0xf4) {
            length = 4;
            codepoint = byte & 0x07u;
        } else if (byte >= 0xe0) {
            length = 3;
            codepoint = byte & 0x0fu;
        } else if (byte >= 0xc2 && byte <= 0xdf) {
            length = 2;
            codepoint = byte & 0x1fu;
        }
        size_t index = 1;
        for (; index < length; index++) {
            if ((cursor[index] & 0xc0u) != 0x80u) {
                break;
            }
            codepoint = (codepoint << 6) | (cursor[index] & 0x3fu);
        }
        if (index < length) {
            /* Not valid UTF-8: count the byte as one cell, as out_text prints it. */
            length = 1;
            codepoint = '?';
        }
        width += codepoint_is_wide(codepoint) ? 2 : 1;
        cursor += length;
    }
    return width;
}

static void out_padding(FILE *stream, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        fputc(' ', stream);
    }
}

/* ---------------------------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------------------------ */

void out_json_raw(const struct http_response *response)
{
    if (response->body_length > 0) {
        fwrite(response->body, 1, response->body_length, stdout);
    }
    if (response->body_length == 0 || response->body[response->body_length - 1] != '\n') {
        fputc('\n', stdout);
    }
}

void out_json(const json_t *document)
{
    json_dumpf(document, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

/* ---------------------------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------------------------ */

static bool ends_with(const char *text, const char *suffix)
{
    size_t text_length = strlen(text);
    size_t suffix_length = strlen(suffix);
    return text_length >= suffix_length && strcmp(text + text_length - suffix_length, suffix) == 0;
}

bool out_is_money_key(const char *key)
{
    static const char *const exact[] = {
        "balance",  "amount", "monthly_fee", "denominations", "daily_limit", "sum",
        "expected", "actual", "difference",  "delta",         "entries_sum", NULL,
    };
    for (size_t index = 0; exact[index] != NULL; index++) {
        if (strcmp(key, exact[index]) == 0) {
            return true;
        }
    }
    return ends_with(key, "_amount") || ends_with(key, "_balance") || ends_with(key, "_fee") ||
           ends_with(key, "_sum");
}

/* A growing string, for joining array elements. */
struct out_buffer {
    char *data;
    size_t length;
    size_t capacity;
};

static void out_buffer_append(struct out_buffer *buffer, const char *text)
{
    size_t length = strlen(text);
    if (buffer->length + length + 1 > buffer->capacity) {
        size_t capacity = buffer->capacity == 0 ? 64 : buffer->capacity;
        while (buffer->length + length + 1 > capacity) {
            capacity *= 2;
        }
        buffer->data = xrealloc(buffer->data, capacity);
        buffer->capacity = capacity;
    }
    memcpy(buffer->data + buffer->length, text, length + 1);
    buffer->length += length;
}

/* A scalar formatted without a currency; arrays and objects are handled by the caller. */
static char *out_format_scalar(const json_t *value, bool money)
{
    char text[64];
    if (value == NULL || json_is_null(value)) {
        return xstrdup("-");
    }
    if (json_is_string(value)) {
        return xstrdup(json_string_value(value));
    }
    if (json_is_true(value)) {
        return xstrdup("yes");
    }
    if (json_is_false(value)) {
        return xstrdup("no");
    }
    if (json_is_integer(value)) {
        if (money) {
            char formatted[MONEY_FORMAT_MAX];
            money_format(formatted, (int64_t)json_integer_value(value));
            return xstrdup(formatted);
        }
        snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        return xstrdup(text);
    }
    if (json_is_real(value)) {
        snprintf(text, sizeof text, "%g", json_real_value(value));
        return xstrdup(text);
    }
    /* An object: a plan is shown by its code and name; anything else as compact JSON. */
    const json_t *code = json_object_get(value, "code");
    const json_t *name = json_object_get(value, "name");
    if (json_is_string(code) && json_is_string(name)) {
        size_t size = json_string_length(code) + json_string_length(name) + 4;
        char *labelled = xrealloc(NULL, size);
        snprintf(labelled, size, "%s (%s)", json_string_value(code), json_string_value(name));
        return labelled;
    }
    if (json_is_string(code)) {
        return xstrdup(json_string_value(code));
    }
    char *dumped = json_dumps(value, JSON_COMPACT);
    return dumped != NULL ? dumped : xstrdup("?");
}

char *out_format_value(const json_t *value, bool money, const char *currency)
{
    char *text;
    bool is_number =
        json_is_integer(value) || (json_is_array(value) && json_array_size(value) > 0 &&
                                   json_is_integer(json_array_get(value, 0)));
    if (json_is_array(value)) {
        struct out_buffer buffer = {0};
        out_buffer_append(&buffer, "");
        size_t index;
        const json_t *element;
        json_array_foreach(value, index, element)
        {
            char *part = out_format_scalar(element, money);
            if (index > 0) {
                out_buffer_append(&buffer, ",");
            }
            out_buffer_append(&buffer, part);
            free(part);
        }
        text = buffer.data;
    } else {
        text = out_format_scalar(value, money);
    }
    if (money && is_number && currency != NULL && currency[0] != '\0') {
        size_t size = strlen(text) + strlen(currency) + 2;
        char *with_currency = xrealloc(NULL, size);
        snprintf(with_currency, size, "%s %s", text, currency);
        free(text);
        text = with_currency;
    }
    return text;
}

static bool key_in_list(const char *key, const char *const *list)
{
    if (list == NULL) {
        return false;
    }
    for (size_t index = 0; list[index] != NULL; index++) {
        if (strcmp(key, list[index]) == 0) {
            return true;
        }
    }
    return false;
}

/* The currency of an object: its own "currency", else its plan's. Borrowed; may be NULL. */
static const char *object_currency(const json_t *object)
{
    const json_t *currency = json_object_get(object, "currency");
    if (json_is_string(currency)) {
        return json_string_value(currency);
    }
    currency = json_object_get(json_object_get(object, "plan"), "currency");
    return json_is_string(currency) ? json_string_value(currency) : NULL;
}

void out_object(FILE *stream, const json_t *object, const char *const *keys,
                const char *const *hidden)
{
    const char *order[128];
    size_t count = 0;
    for (size_t index = 0; keys != NULL && keys[index] != NULL && count < 128; index++) {
        if (json_object_get(object, keys[index]) != NULL) {
            order[count++] = keys[index];
        }
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)object, key, value)
    {
        if (count < 128 && !key_in_list(key, keys) && !key_in_list(key, hidden)) {
            order[count++] = key;
        }
    }
    size_t key_width = 0;
    for (size_t index = 0; index < count; index++) {
        size_t width = out_text_width(order[index]);
        key_width = width > key_width ? width : key_width;
    }
    const char *currency = object_currency(object);
    for (size_t index = 0; index < count; index++) {
        char *text = out_format_value(json_object_get(object, order[index]),
                                      out_is_money_key(order[index]), currency);
        out_text(stream, order[index]);
        fputc(':', stream);
        out_padding(stream, key_width - out_text_width(order[index]) + 2);
        out_text(stream, text);
        fputc('\n', stream);
        free(text);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Tables
 * ------------------------------------------------------------------------------------------ */

struct out_table {
    size_t column_count;
    char *headers[OUT_TABLE_COLUMNS_MAX];
    bool right[OUT_TABLE_COLUMNS_MAX];
    char **cells; /* row-major, rows * column_count */
    size_t rows;
    size_t rows_capacity;
};

struct out_table *out_table_new(size_t column_count, const char *const *headers)
{
    LEB_ASSERT(column_count > 0 && column_count <= OUT_TABLE_COLUMNS_MAX);
    struct out_table *table = xrealloc(NULL, sizeof *table);
    memset(table, 0, sizeof *table);
    table->column_count = column_count;
    for (size_t column = 0; column < column_count; column++) {
        table->headers[column] = xstrdup(headers[column]);
    }
    return table;
}

void out_table_align_right(struct out_table *table, size_t column)
{
    LEB_ASSERT(column < table->column_count);
    table->right[column] = true;
}

void out_table_add_row_owned(struct out_table *table, char **cells)
{
    if (table->rows == table->rows_capacity) {
        size_t capacity = table->rows_capacity == 0 ? 16 : table->rows_capacity * 2;
        table->cells =
            xrealloc(table->cells, capacity * table->column_count * sizeof *table->cells);
        table->rows_capacity = capacity;
    }
    for (size_t column = 0; column < table->column_count; column++) {
        table->cells[table->rows * table->column_count + column] =
            cells[column] != NULL ? cells[column] : xstrdup("-");
    }
    table->rows++;
}

void out_table_add_row(struct out_table *table, const char *const *cells)
{
    char *copies[OUT_TABLE_COLUMNS_MAX];
    for (size_t column = 0; column < table->column_count; column++) {
        copies[column] = xstrdup(cells[column] != NULL ? cells[column] : "-");
    }
    out_table_add_row_owned(table, copies);
}

static void out_table_print_row(const struct out_table *table, FILE *stream, char *const *cells,
                                const size_t *widths)
{
    for (size_t column = 0; column < table->column_count; column++) {
        size_t padding = widths[column] - out_text_width(cells[column]);
        bool last = column + 1 == table->column_count;
        if (table->right[column]) {
            out_padding(stream, padding);
        }
        out_text(stream, cells[column]);
        if (!last && !table->right[column]) {
            out_padding(stream, padding);
        }
        if (!last) {
            out_padding(stream, 2);
        }
    }
    fputc('\n', stream);
}

void out_table_print(const struct out_table *table, FILE *stream)
{
    size_t widths[OUT_TABLE_COLUMNS_MAX];
    for (size_t column = 0; column < table->column_count; column++) {
        widths[column] = out_text_width(table->headers[column]);
        for (size_t row = 0; row < table->rows; row++) {
            size_t width = out_text_width(table->cells[row * table->column_count + column]);
            widths[column] = width > widths[column] ? width : widths[column];
        }
    }
    out_table_print_row(table, stream, table->headers, widths);
    for (size_t row = 0; row < table->rows; row++) {
        out_table_print_row(table, stream, table->cells + row * table->column_count, widths);
    }
}

void out_table_free(struct out_table *table)
{
    if (table == NULL) {
        return;
    }
    for (size_t column = 0; column < table->column_count; column++) {
        free(table->headers[column]);
    }
    for (size_t cell = 0; cell < table->rows * table->column_count; cell++) {
        free(table->cells[cell]);
    }
    free(table->cells);
    free(table);
}

int api_show(struct lebctl *ctx, const char *method, const char *path, const json_t *body,
             const char *heading, const char *const *keys, const char *const *hidden)
{
    struct http_response response;
    int result = api_call(ctx, &response, method, path, body);
    if (result == 0) {
        if (ctx->json) {
            out_json_raw(&response);
        } else {
            if (heading != NULL) {
                out_text(stdout, heading);
                fputc('\n', stdout);
            }
            out_object(stdout, response.json, keys, hidden);
        }
    }
    http_response_free(&response);
    return result;
}
