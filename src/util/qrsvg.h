/*
 * qrsvg.h - a QR code of a text as an SVG image (libqrencode), for the payer to scan: WeChat
 * Pay's Native code_url is a weixin:// link no browser opens, only a phone's camera.
 */
#ifndef LEB_UTIL_QRSVG_H
#define LEB_UTIL_QRSVG_H

#include <stddef.h>

/* The SVG of "text" (UTF-8, as it is: byte mode, error correction M), with a quiet zone of 4
 * modules; each dark module is one <rect> of 1 x 1 in the viewBox. malloc'd, NUL-terminated;
 * NULL if "text" cannot be encoded (empty, or too long for a QR code). */
char *qr_svg(const char *text, size_t *size);

#endif
