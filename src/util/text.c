/*
 * text.c - small text helpers every layer shares.
 */
#include "util/text.h"

#include <string.h>

#include "core/error.h"

void text_copy_utf8(char *out, size_t size, const char *text, size_t max)
{
    LEB_ASSERT(out != NULL && size >= 1 && text != NULL);
    size_t length = strlen(text);
    if (max > size - 1)
        max = size - 1;
    if (length > max) {
        length = max;
        /* Back to the first byte of the character that did not fit. */
        while (length > 0 && ((unsigned char)text[length] & 0xC0) == 0x80)
            length--;
    }
    memcpy(out, text, length);
    out[length] = '\0';
}
