/*
 * wechatpay_v2.h - the pure parts of WeChat Pay API v2 (the XML interface): its signature
 * (签名算法), and its flat <xml> messages, read and written.
 *
 * The signature, as WeChat Pay's "安全规范" page specifies it: stringA is every parameter
 * whose value is not empty, except "sign", sorted by name in ASCII order and written
 * "k1=v1&k2=v2"; stringSignTemp is stringA + "&key=" + the merchant's API key; the sign is
 * MD5(stringSignTemp), or HMAC-SHA256(stringSignTemp) keyed with the API key, in upper-case
 * hex. Values are signed exactly as they travel, with no URL encoding.
 *
 * Nothing here does I/O or keeps state: wechatpay_v2.c is the provider that uses it.
 */
#ifndef LEB_PAY_WECHATPAY_V2_H
#define LEB_PAY_WECHATPAY_V2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* A message holds at most this many fields (a payment notification has about 20). */
#define WECHATPAY_V2_FIELDS_MAX 64
/* The largest XML document read: a notification is under 2 KiB. */
#define WECHATPAY_V2_XML_MAX (64 * 1024)
/* Room for the longer sign (HMAC-SHA256: 64 hex digits) and its NUL. */
#define WECHATPAY_V2_SIGN_SIZE 65
/* The API key is 32 characters, letters and digits, as the merchant platform sets it. */
#define WECHATPAY_V2_API_KEY_LENGTH 32

enum wechatpay_v2_sign_type {
    WECHATPAY_V2_SIGN_MD5 = 0,     /* "MD5": the default when a message names none */
    WECHATPAY_V2_SIGN_HMAC_SHA256, /* "HMAC-SHA256" */
};

/* One parameter: borrowed name and value. A NULL or empty value is not signed. */
struct wechatpay_v2_field {
    const char *name;
    const char *value;
};

/* A parsed message: its fields in document order, pointing into "text" (owned). */
struct wechatpay_v2_message {
    struct wechatpay_v2_field fields[WECHATPAY_V2_FIELDS_MAX];
    size_t count;
    char *text;
};

/*
 * The sign of "fields" ("count" of them, in any order) under "api_key" with "type", in upper
 * case, into "out". Fields with a NULL or empty value and the field "sign" are left out.
 * LEB_E_INVALID_REQUEST if a name is NULL or empty, appears twice, or there are more than
 * WECHATPAY_V2_FIELDS_MAX fields.
 */
LEB_MUST_CHECK int wechatpay_v2_sign(char out[WECHATPAY_V2_SIGN_SIZE],
                                     const struct wechatpay_v2_field *fields, size_t count,
                                     const char *api_key, enum wechatpay_v2_sign_type type);

/*
 * The sign type that verifies a message whose "sign_type" field is "sign_type" (NULL or ""
 * when it has none) and whose sign is "sign". A named type is that type ("MD5" or
 * "HMAC-SHA256"; anything else is LEB_E_INVALID_SIGNATURE). With none named, the documented
 * default is MD5, but WeChat Pay signs the answers to, and the notifications of, an order
 * placed with HMAC-SHA256 in HMAC-SHA256 without saying so: the length of "sign" tells the
 * two apart (32 hex digits: MD5, 64: HMAC-SHA256). Both need the API key to forge.
 */
LEB_MUST_CHECK int wechatpay_v2_sign_type_of(enum wechatpay_v2_sign_type *out,
                                             const char *sign_type, const char *sign);

/*
 * Verifies the field "sign" of "fields" under "api_key", with the sign type
 * wechatpay_v2_sign_type_of() finds, comparing in constant time: 0, or
 * LEB_E_INVALID_SIGNATURE (no sign, a wrong one, or fields that cannot be signed).
 */
LEB_MUST_CHECK int wechatpay_v2_verify(const struct wechatpay_v2_field *fields, size_t count,
                                       const char *api_key);

/*
 * Parses a flat WeChat Pay v2 document, <xml><name>value</name>...</xml> (values as text or
 * CDATA), into "out" (free it with wechatpay_v2_message_free, also after a failure). Refused
 * with LEB_E_INVALID_REQUEST: anything that is not well-formed XML, a document type
 * declaration (and with it every entity but the five predefined ones: no XXE, no entity
 * expansion), another root, a nested element, text outside the fields, a field given twice,
 * more than WECHATPAY_V2_FIELDS_MAX fields, or more than WECHATPAY_V2_XML_MAX bytes.
 */
LEB_MUST_CHECK int wechatpay_v2_xml_parse(struct wechatpay_v2_message *out, const char *xml,
                                          size_t size);

/* The value of the field "name" of "message", or NULL when it has none. */
const char *wechatpay_v2_message_get(const struct wechatpay_v2_message *message, const char *name);

void wechatpay_v2_message_free(struct wechatpay_v2_message *message);

/* The document <xml><name>value</name>...</xml> of "fields" (those with a value), with the
 * XML special characters escaped: malloc'd, NUL-terminated; the caller frees it. */
char *wechatpay_v2_xml_build(const struct wechatpay_v2_field *fields, size_t count);

/* "unix_s" as WeChat Pay writes times: yyyyMMddHHmmss in Beijing time (UTC+8). */
void wechatpay_v2_time_format(char out[15], int64_t unix_s);
/* The reverse; LEB_E_INVALID_REQUEST for anything but 14 digits of a real time. */
LEB_MUST_CHECK int wechatpay_v2_time_parse(int64_t *out, const char *text);

/* WeChat Pay resends a notification for about 24 hours after the payment (15 s ... 6 h): a
 * payment signed as done longer ago than this is a replay, not a resend. */
#define WECHATPAY_V2_NOTIFY_AGE_MAX_S (26 * 3600)
#define WECHATPAY_V2_NOTIFY_SKEW_MAX_S 300

#endif
