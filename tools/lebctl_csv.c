/*
 * lebctl_csv.c - an RFC 4180 CSV reader for `lebctl card import`.
 *
 * It reads records from a buffer the caller owns: fields separated by commas, records ended
 * by LF or CRLF (a lone CR too, as old spreadsheets write it), fields in double quotes that
 * may hold commas, line breaks and doubled quotes, and a UTF-8 byte order mark at the start,
 * which spreadsheet programs like to write. It tracks the physical line on which each record
 * starts, because an operator fixes a file by its line numbers. It knows nothing about cards:
 * it must never trim or reinterpret a field, only split the file. Malformed CSV is an error
 * with its line, never a guess; every field and record has a size bound.
 */
#include <stdlib.h>
#include <string.h>

#include "lebctl.h"

void csv_reader_init(struct csv_reader *reader, const char *data, size_t length)
{
    reader->data = data;
    reader->length = length;
    reader->position = 0;
    reader->line = 1;
    if (length >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        reader->position = 3;
    }
}

void csv_record_clear(struct csv_record *record)
{
    for (size_t index = 0; index < record->field_count; index++) {
        free(record->fields[index]);
        record->fields[index] = NULL;
    }
    record->field_count = 0;
}

/* Consumes a line break at the reader's position, if there is one: LF, CRLF or a lone CR. */
static bool csv_take_line_break(struct csv_reader *reader)
{
    if (reader->position >= reader->length) {
        return false;
    }
    char byte = reader->data[reader->position];
    if (byte == '\n') {
        reader->position++;
    } else if (byte == '\r') {
        reader->position++;
        if (reader->position < reader->length && reader->data[reader->position] == '\n') {
            reader->position++;
        }
    } else {
        return false;
    }
    reader->line++;
    return true;
}

/* A field being built: bounded by CSV_FIELD_BYTES_MAX. */
struct csv_field {
    char text[CSV_FIELD_BYTES_MAX + 1];
    size_t length;
};

static int csv_field_push(struct csv_field *field, char byte, char *error, size_t error_size)
{
    if (field->length == CSV_FIELD_BYTES_MAX) {
        snprintf(error, error_size, "a field longer than %d bytes", CSV_FIELD_BYTES_MAX);
        return -1;
    }
    if (byte == '\0') {
        snprintf(error, error_size, "a NUL byte (is this a CSV file?)");
        return -1;
    }
    field->text[field->length++] = byte;
    return 0;
}

static int csv_record_push(struct csv_record *record, struct csv_field *field, char *error,
                           size_t error_size)
{
    if (record->field_count == CSV_FIELDS_MAX) {
        snprintf(error, error_size, "more than %d fields", CSV_FIELDS_MAX);
        return -1;
    }
    field->text[field->length] = '\0';
    record->fields[record->field_count++] = xstrdup(field->text);
    field->length = 0;
    return 0;
}

/* Reads a quoted field whose opening quote is at the reader's position. */
static int csv_read_quoted(struct csv_reader *reader, struct csv_field *field, char *error,
                           size_t error_size)
{
    size_t start_line = reader->line;
    reader->position++; /* the opening quote */
    while (reader->position < reader->length) {
        char byte = reader->data[reader->position];
        if (byte == '"') {
            if (reader->position + 1 < reader->length &&
                reader->data[reader->position + 1] == '"') {
                reader->position += 2;
                if (csv_field_push(field, '"', error, error_size) != 0) {
                    return -1;
                }
                continue;
            }
            reader->position++; /* the closing quote */
            if (reader->position < reader->length) {
                char next = reader->data[reader->position];
                if (next != ',' && next != '\n' && next != '\r') {
                    snprintf(error, error_size,
                             "a closing quote followed by '%c' instead of a comma or the end of "
                             "the line",
                             next >= 0x20 && next < 0x7f ? next : '?');
                    return -1;
                }
            }
            return 0;
        }
        if (byte == '\n' || (byte == '\r' && !(reader->position + 1 < reader->length &&
                                               reader->data[reader->position + 1] == '\n'))) {
            reader->line++;
        }
        if (csv_field_push(field, byte, error, error_size) != 0) {
            return -1;
        }
        reader->position++;
    }
    snprintf(error, error_size, "a quote opened on line %zu is never closed", start_line);
    return -1;
}

int csv_read_record(struct csv_reader *reader, struct csv_record *record, char *error,
                    size_t error_size)
{
    static struct csv_field field; /* 4 KiB: kept off the stack; lebctl is single-threaded */
    csv_record_clear(record);
    /* Empty lines hold no record: skip them (a trailing newline at the end of the file is the
     * common case). */
    while (csv_take_line_break(reader)) {
    }
    record->line = reader->line;
    if (reader->position >= reader->length) {
        return 0;
    }
    field.length = 0;
    bool quoted_done = false; /* the current field was quoted and is complete */
    while (reader->position < reader->length) {
        char byte = reader->data[reader->position];
        if (byte == ',') {
            reader->position++;
            if (csv_record_push(record, &field, error, error_size) != 0) {
                goto fail;
            }
            quoted_done = false;
            continue;
        }
        if (byte == '\n' || byte == '\r') {
            break;
        }
        if (byte == '"') {
            if (field.length != 0 || quoted_done) {
                snprintf(error, error_size,
                         "a quote inside a field that does not start with one (write \"\" "
                         "inside a quoted field)");
                goto fail;
            }
            if (csv_read_quoted(reader, &field, error, error_size) != 0) {
                goto fail;
            }
            quoted_done = true;
            continue;
        }
        if (csv_field_push(&field, byte, error, error_size) != 0) {
            goto fail;
        }
        reader->position++;
    }
    if (csv_record_push(record, &field, error, error_size) != 0) {
        goto fail;
    }
    csv_take_line_break(reader);
    return 1;
fail:
    /* The line of the error is where the reader stopped, which an editor can jump to. */
    record->line = reader->line;
    csv_record_clear(record);
    return -1;
}
