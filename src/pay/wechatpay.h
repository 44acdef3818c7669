/*
 * wechatpay.h - the pure pieces of the WeChat Pay API v3 provider (wechatpay.c), exposed for
 * its unit tests: the texts WeChat Pay signs and the times it reads. The provider itself is
 * pay_wechatpay, behind pay.h.
 */
#ifndef LEB_PAY_WECHATPAY_H
#define LEB_PAY_WECHATPAY_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-25T22:00:00+08:00": RFC 3339 in Beijing time, as time_expire wants it. */
#define WECHATPAY_TIME_SIZE 26

/* Writes "unix_s" as Beijing time (UTC+8, which has no summer time) into "out". */
void wechatpay_time_format(char out[WECHATPAY_TIME_SIZE], int64_t unix_s);

/*
 * The text a signature covers: every one of the "count" parts followed by "\n", parts[i]
 * being sizes[i] bytes (a body may hold any byte). A request signs METHOD, URL, timestamp,
 * nonce and body; an answer or a notification signs timestamp, nonce and body. Malloc'd, its
 * size into "*size"; free it.
 */
char *wechatpay_signed_text(size_t *size, const char *const *parts, const size_t *sizes,
                            size_t count);

#endif
