/*
 * text.h - small text helpers every layer shares.
 */
#ifndef LEB_UTIL_TEXT_H
#define LEB_UTIL_TEXT_H

#include <stddef.h>

/* Copies at most "max" bytes of "text" (and never more than "size" - 1) into "out", cut on a
 * UTF-8 character boundary: providers' messages are often Chinese, and half a character is no
 * text (nor valid JSON). "out" is always NUL-terminated; "size" must be at least 1. */
void text_copy_utf8(char *out, size_t size, const char *text, size_t max);

#endif
