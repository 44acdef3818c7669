/*
 * qrsvg.c - QR codes as SVG, drawn from libqrencode's module matrix.
 */
#include "util/qrsvg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "core/error.h"

#define QR_QUIET_ZONE 4

struct svg_buffer {
    char *data;
    size_t size;
    size_t capacity;
};

__attribute__((format(printf, 2, 3))) static void svg_append(struct svg_buffer *buffer,
                                                             const char *format, ...)
{
    for (;;) {
        va_list args;
        va_start(args, format);
        int n =
            vsnprintf(buffer->data + buffer->size, buffer->capacity - buffer->size, format, args);
        va_end(args);
        LEB_ASSERT(n >= 0);
        if ((size_t)n < buffer->capacity - buffer->size) {
            buffer->size += (size_t)n;
            return;
        }
        buffer->capacity = buffer->capacity * 2 + (size_t)n;
        buffer->data = realloc(buffer->data, buffer->capacity);
        LEB_ASSERT(buffer->data != NULL);
    }
}

char *qr_svg(const char *text, size_t *size)
{
    if (text == NULL || text[0] == '\0')
        return NULL;
    QRcode *code =
        QRcode_encodeData((int)strlen(text), (const unsigned char *)text, 0, QR_ECLEVEL_M);
    if (code == NULL)
        return NULL;
    int side = code->width + 2 * QR_QUIET_ZONE;
    struct svg_buffer buffer = {.capacity = 4096};
    buffer.data = malloc(buffer.capacity);
    LEB_ASSERT(buffer.data != NULL);
    buffer.data[0] = '\0';
    svg_append(&buffer,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
               "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
               "<g fill=\"#000\">",
               side, side, side, side);
    for (int y = 0; y < code->width; y++)
        for (int x = 0; x < code->width; x++)
            if (code->data[y * code->width + x] & 1) /* bit 0: the module is dark */
                svg_append(&buffer, "<rect x=\"%d\" y=\"%d\" width=\"1\" height=\"1\"/>",
                           x + QR_QUIET_ZONE, y + QR_QUIET_ZONE);
    svg_append(&buffer, "</g></svg>\n");
    QRcode_free(code);
    *size = buffer.size;
    return buffer.data;
}
