/*
 * wechatpay_v2.c - the WeChat Pay API v2 provider ("wechatpay_v2"): Native payments (a QR code
 * the payer scans), their notifications, order queries and refunds, over WeChat Pay's XML
 * interface signed with the merchant's API key.
 *
 * Wire format, as pay.weixin.qq.com documents it (统一下单, 支付结果通知, 查询订单, 申请退款):
 * every request is an <xml> document POSTed to base_url + the API's path, carrying appid,
 * mch_id, a fresh nonce_str, sign_type HMAC-SHA256 and the sign of every other field (see
 * wechatpay_v2.h). Every answer carries return_code, the transport's verdict: FAIL answers are
 * not signed and say nothing of the business; SUCCESS answers are signed and carry
 * result_code, the business's verdict. A notification is the same kind of signed document,
 * POSTed by WeChat Pay to the notify_url given with the order, and answered with an <xml>
 * return_code of its own: SUCCESS stops WeChat Pay from sending it again.
 *
 * This module owns the provider's settings (read once, at start-up) and the translation of
 * those documents to and from src/app's payment structures. It must never: act on a message
 * whose sign it has not verified, read XML other than through libxml2 with document type
 * declarations refused (no external entities, no entity expansion), or write the API key
 * anywhere (logs, errors, answers).
 *
 * The real /secapi/pay/refund asks for the merchant's client certificate (mutual TLS):
 * [wechatpay_v2] cert_file and key_file, sent from memory with that call only. Without them a
 * refund against WeChat Pay itself fails in the TLS handshake, a transport failure: the refund
 * stays due and is retried, never marked done. The tests' simulator speaks plain HTTP.
 */
#include "pay/wechatpay_v2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <sodium.h>

#include "core/timeutil.h"
#include "pay/pay.h"
#include "util/text.h"
#include "pay/pay_crypto.h"
#include "util/http_client.h"
#include "util/log.h"

#define WXV2_ID_MAX 32              /* appid and mch_id: String(32) */
#define WXV2_BASE_URL_SIZE 200      /* leaves room for the API's path in a URL */
#define WXV2_AMOUNT_DIGITS_MAX 15   /* below 2^53, as every amount LEB accepts */
#define WXV2_BEIJING_OFFSET_S 28800 /* UTC+8: WeChat Pay's times are Beijing time */
#define WXV2_SIGN_TYPE "HMAC-SHA256"
/* What the payer reads in WeChat as the purchase: "LEB - prepaid recharge". */
#define WXV2_BODY "LEB-话费充值"

/* ---------------------------------------------------------------------------------------------
 * The signature
 * ------------------------------------------------------------------------------------------ */

static int field_order(const void *a, const void *b)
{
    const struct wechatpay_v2_field *const *left = a;
    const struct wechatpay_v2_field *const *right = b;
    return strcmp((*left)->name, (*right)->name); /* strcmp compares as unsigned char: ASCII */
}

int wechatpay_v2_sign(char out[WECHATPAY_V2_SIGN_SIZE], const struct wechatpay_v2_field *fields,
                      size_t count, const char *api_key, enum wechatpay_v2_sign_type type)
{
    LEB_ASSERT(api_key != NULL);
    LEB_ASSERT(type == WECHATPAY_V2_SIGN_MD5 || type == WECHATPAY_V2_SIGN_HMAC_SHA256);
    out[0] = '\0';
    if (count > WECHATPAY_V2_FIELDS_MAX)
        return LEB_E_INVALID_REQUEST;
    const struct wechatpay_v2_field *kept[WECHATPAY_V2_FIELDS_MAX];
    size_t kept_count = 0, size = 0;
    for (size_t i = 0; i < count; i++) {
        if (fields[i].name == NULL || fields[i].name[0] == '\0')
            return LEB_E_INVALID_REQUEST;
        /* A name given twice would make the signed text ambiguous: which value counts? */
        for (size_t j = 0; j < i; j++)
            if (strcmp(fields[i].name, fields[j].name) == 0)
                return LEB_E_INVALID_REQUEST;
        if (fields[i].value == NULL || fields[i].value[0] == '\0' ||
            strcmp(fields[i].name, "sign") == 0)
            continue;
        kept[kept_count++] = &fields[i];
        size += strlen(fields[i].name) + 1 + strlen(fields[i].value) + 1; /* "k=v&" */
    }
    qsort(kept, kept_count, sizeof(kept[0]), field_order);

    size_t key_size = strlen(api_key);
    size += sizeof("key=") - 1 + key_size + 1;
    char *text = malloc(size);
    LEB_ASSERT(text != NULL);
    size_t at = 0;
    for (size_t i = 0; i < kept_count; i++) {
        size_t name_size = strlen(kept[i]->name), value_size = strlen(kept[i]->value);
        memcpy(text + at, kept[i]->name, name_size);
        at += name_size;
        text[at++] = '=';
        memcpy(text + at, kept[i]->value, value_size);
        at += value_size;
        text[at++] = '&';
    }
    memcpy(text + at, "key=", 4);
    at += 4;
    memcpy(text + at, api_key, key_size);
    at += key_size;
    LEB_ASSERT(at + 1 == size);
    text[at] = '\0';

    if (type == WECHATPAY_V2_SIGN_MD5)
        pay_md5_hex(out, text, at);
    else
        pay_hmac_sha256_hex(out, api_key, key_size, text, at);
    pay_hex_upper(out);
    sodium_memzero(text, size); /* it holds the API key */
    free(text);
    LEB_ASSERT(strlen(out) == (type == WECHATPAY_V2_SIGN_MD5 ? 32u : 64u));
    return 0;
}

int wechatpay_v2_sign_type_of(enum wechatpay_v2_sign_type *out, const char *sign_type,
                              const char *sign)
{
    if (sign_type != NULL && sign_type[0] != '\0') {
        if (strcmp(sign_type, "MD5") == 0)
            *out = WECHATPAY_V2_SIGN_MD5;
        else if (strcmp(sign_type, "HMAC-SHA256") == 0)
            *out = WECHATPAY_V2_SIGN_HMAC_SHA256;
        else
            return LEB_E_INVALID_SIGNATURE;
        return 0;
    }
    size_t length = sign ? strlen(sign) : 0;
    if (length == 32)
        *out = WECHATPAY_V2_SIGN_MD5;
    else if (length == 64)
        *out = WECHATPAY_V2_SIGN_HMAC_SHA256;
    else
        return LEB_E_INVALID_SIGNATURE;
    return 0;
}

int wechatpay_v2_verify(const struct wechatpay_v2_field *fields, size_t count, const char *api_key)
{
    const char *sign = NULL, *sign_type = NULL;
    for (size_t i = 0; i < count; i++) {
        if (fields[i].name != NULL && strcmp(fields[i].name, "sign") == 0)
            sign = fields[i].value;
        else if (fields[i].name != NULL && strcmp(fields[i].name, "sign_type") == 0)
            sign_type = fields[i].value;
    }
    if (sign == NULL || sign[0] == '\0')
        return LEB_E_INVALID_SIGNATURE;
    enum wechatpay_v2_sign_type type;
    if (wechatpay_v2_sign_type_of(&type, sign_type, sign) < 0)
        return LEB_E_INVALID_SIGNATURE;
    char expected[WECHATPAY_V2_SIGN_SIZE];
    if (wechatpay_v2_sign(expected, fields, count, api_key, type) < 0)
        return LEB_E_INVALID_SIGNATURE;
    return pay_text_equal(expected, sign) ? 0 : LEB_E_INVALID_SIGNATURE;
}

/* ---------------------------------------------------------------------------------------------
 * The XML documents
 * ------------------------------------------------------------------------------------------ */

/* SAX hook for <!DOCTYPE: a WeChat Pay document has none, and a document type is where
 * entities (external ones: XXE; nested ones: "billion laughs") are declared. The parse stops
 * right there, before any declaration inside it is read. */
static void xml_refuse_doctype(void *context, const xmlChar *name, const xmlChar *external_id,
                               const xmlChar *system_id)
{
    xmlParserCtxtPtr parser = context;
    bool *refused = parser->_private;
    *refused = true;
    xmlStopParser(parser);
}

/* True if "node" (an element) holds text or CDATA only, and has no attributes. */
static bool xml_is_leaf(const xmlNode *node)
{
    if (node->properties != NULL)
        return false;
    for (const xmlNode *child = node->children; child != NULL; child = child->next)
        if (child->type != XML_TEXT_NODE && child->type != XML_CDATA_SECTION_NODE)
            return false;
    return true;
}

static int xml_fields_read(struct wechatpay_v2_message *out, xmlNode *root)
{
    if (root == NULL || root->type != XML_ELEMENT_NODE ||
        xmlStrcmp(root->name, BAD_CAST "xml") != 0 || root->properties != NULL)
        return LEB_E_INVALID_REQUEST;
    const xmlChar *names[WECHATPAY_V2_FIELDS_MAX];
    xmlChar *values[WECHATPAY_V2_FIELDS_MAX];
    size_t count = 0, size = 0;
    int rc = 0;
    for (xmlNode *node = root->children; node != NULL; node = node->next) {
        if (node->type == XML_COMMENT_NODE || node->type == XML_PI_NODE)
            continue;
        if (node->type == XML_TEXT_NODE && xmlIsBlankNode(node))
            continue; /* the indentation between fields */
        if (node->type != XML_ELEMENT_NODE || count == WECHATPAY_V2_FIELDS_MAX ||
            !xml_is_leaf(node)) {
            rc = LEB_E_INVALID_REQUEST;
            break;
        }
        for (size_t i = 0; i < count && rc == 0; i++)
            if (xmlStrcmp(names[i], node->name) == 0)
                rc = LEB_E_INVALID_REQUEST; /* a field twice: which one was signed? */
        if (rc < 0)
            break;
        xmlChar *value = xmlNodeGetContent(node);
        values[count] = value != NULL ? value : xmlStrdup(BAD_CAST "");
        LEB_ASSERT(values[count] != NULL);
        names[count] = node->name;
        size += (size_t)xmlStrlen(node->name) + 1 + (size_t)xmlStrlen(values[count]) + 1;
        count++;
    }
    if (rc == 0) {
        out->text = malloc(size > 0 ? size : 1);
        LEB_ASSERT(out->text != NULL);
        size_t at = 0;
        for (size_t i = 0; i < count; i++) {
            size_t name_size = (size_t)xmlStrlen(names[i]) + 1;
            size_t value_size = (size_t)xmlStrlen(values[i]) + 1;
            memcpy(out->text + at, names[i], name_size);
            out->fields[i].name = out->text + at;
            at += name_size;
            memcpy(out->text + at, values[i], value_size);
            out->fields[i].value = out->text + at;
            at += value_size;
        }
        LEB_ASSERT(at == size);
        out->count = count;
    }
    for (size_t i = 0; i < count; i++)
        xmlFree(values[i]);
    return rc;
}

int wechatpay_v2_xml_parse(struct wechatpay_v2_message *out, const char *xml, size_t size)
{
    memset(out, 0, sizeof(*out));
    if (xml == NULL || size == 0 || size > WECHATPAY_V2_XML_MAX)
        return LEB_E_INVALID_REQUEST;
    xmlInitParser(); /* a no-op once init ran it, at start-up, before any thread */
    xmlParserCtxtPtr parser = xmlCreateMemoryParserCtxt(xml, (int)size);
    LEB_ASSERT(parser != NULL && parser->sax != NULL);
    bool refused = false;
    parser->_private = &refused;
    parser->sax->internalSubset = xml_refuse_doctype;
    parser->sax->externalSubset = xml_refuse_doctype;
    /* No XML_PARSE_NOENT (entities are never substituted), no XML_PARSE_DTDLOAD or DTDATTR
     * (nothing is fetched), XML_PARSE_NONET (no network, whatever else happens); errors are
     * not printed: a bad document is an answer, not a log line of libxml2's. */
    (void)xmlCtxtUseOptions(parser, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    (void)xmlParseDocument(parser);
    xmlDocPtr document = parser->myDoc;
    bool well_formed = parser->wellFormed && !refused;
    parser->myDoc = NULL;
    xmlFreeParserCtxt(parser);

    int rc = LEB_E_INVALID_REQUEST;
    if (well_formed && document != NULL && document->intSubset == NULL &&
        document->extSubset == NULL)
        rc = xml_fields_read(out, xmlDocGetRootElement(document));
    xmlFreeDoc(document);
    return rc;
}

const char *wechatpay_v2_message_get(const struct wechatpay_v2_message *message, const char *name)
{
    for (size_t i = 0; i < message->count; i++)
        if (strcmp(message->fields[i].name, name) == 0)
            return message->fields[i].value;
    return NULL;
}

void wechatpay_v2_message_free(struct wechatpay_v2_message *message)
{
    if (message == NULL)
        return;
    free(message->text);
    memset(message, 0, sizeof(*message));
}

static size_t xml_escape(char *out, const char *text)
{
    size_t at = 0;
    for (; *text; text++) {
        const char *entity = *text == '&'   ? "&amp;"
                             : *text == '<' ? "&lt;"
                             : *text == '>' ? "&gt;"
                                            : NULL;
        if (entity != NULL) {
            memcpy(out + at, entity, strlen(entity));
            at += strlen(entity);
        } else {
            out[at++] = *text;
        }
    }
    return at;
}

char *wechatpay_v2_xml_build(const struct wechatpay_v2_field *fields, size_t count)
{
    size_t size = sizeof("<xml></xml>");
    for (size_t i = 0; i < count; i++)
        if (fields[i].value != NULL && fields[i].value[0] != '\0')
            size += 2 * strlen(fields[i].name) + 5 + 5 * strlen(fields[i].value);
    char *xml = malloc(size);
    LEB_ASSERT(xml != NULL);
    size_t at = 0;
    memcpy(xml, "<xml>", 5);
    at += 5;
    for (size_t i = 0; i < count; i++) {
        if (fields[i].value == NULL || fields[i].value[0] == '\0')
            continue;
        at += (size_t)sprintf(xml + at, "<%s>", fields[i].name);
        at += xml_escape(xml + at, fields[i].value);
        at += (size_t)sprintf(xml + at, "</%s>", fields[i].name);
    }
    memcpy(xml + at, "</xml>", 7);
    LEB_ASSERT(at + 7 <= size);
    return xml;
}

void wechatpay_v2_time_format(char out[15], int64_t unix_s)
{
    char stamp[RFC3339_SIZE];
    time_format_rfc3339(stamp, unix_s + WXV2_BEIJING_OFFSET_S);
    snprintf(out, 15, "%.4s%.2s%.2s%.2s%.2s%.2s", stamp, stamp + 5, stamp + 8, stamp + 11,
             stamp + 14, stamp + 17);
}

int wechatpay_v2_time_parse(int64_t *out, const char *text)
{
    if (text == NULL || strlen(text) != 14 || strspn(text, "0123456789") != 14)
        return LEB_E_INVALID_REQUEST;
    int parts[6];
    const int widths[6] = {4, 2, 2, 2, 2, 2};
    for (size_t i = 0, at = 0; i < 6; at += (size_t)widths[i], i++) {
        parts[i] = 0;
        for (int d = 0; d < widths[i]; d++)
            parts[i] = parts[i] * 10 + (text[at + (size_t)d] - '0');
    }
    if (parts[1] < 1 || parts[1] > 12 || parts[2] < 1 ||
        parts[2] > time_days_in_month(parts[0], parts[1]) || parts[3] > 23 || parts[4] > 59 ||
        parts[5] > 59)
        return LEB_E_INVALID_REQUEST;
    *out = time_days_from_civil(parts[0], parts[1], parts[2]) * 86400 + parts[3] * 3600 +
           parts[4] * 60 + parts[5] - WXV2_BEIJING_OFFSET_S;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The provider
 * ------------------------------------------------------------------------------------------ */

/* Written once by init, at start-up, before any thread reads it; wiped by shutdown. */
static struct {
    char appid[WXV2_ID_MAX + 1];
    char mch_id[WXV2_ID_MAX + 1];
    char api_key[WECHATPAY_V2_API_KEY_LENGTH + 1];
    char base_url[WXV2_BASE_URL_SIZE];
    const char *cert_pem; /* the configuration's, which outlives the provider; may be NULL */
    const char *key_pem;
} wxv2;

static bool text_is(const char *text, const char *expected)
{
    return text != NULL && strcmp(text, expected) == 0;
}

static bool text_has(const char *text)
{
    return text != NULL && text[0] != '\0';
}

/* total_fee: fen, decimal digits only, no sign, no leading zero, positive. */
static int amount_parse(int64_t *out, const char *text)
{
    size_t length = text ? strlen(text) : 0;
    if (length == 0 || length > WXV2_AMOUNT_DIGITS_MAX || text[0] == '0')
        return LEB_E_INVALID_AMOUNT;
    int64_t value = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return LEB_E_INVALID_AMOUNT;
        value = value * 10 + (text[i] - '0');
    }
    LEB_ASSERT(value > 0);
    *out = value;
    return 0;
}

static bool char_is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* True if "text" is 1 to "max" characters: digits only, or letters, digits, '_' and '-'. */
static bool text_shaped(const char *text, size_t max, bool digits_only)
{
    size_t length = strlen(text);
    if (length == 0 || length > max)
        return false;
    for (size_t i = 0; i < length; i++) {
        if (digits_only ? (text[i] < '0' || text[i] > '9')
                        : !(char_is_alnum(text[i]) || text[i] == '_' || text[i] == '-'))
            return false;
    }
    return true;
}

static int wechatpay_v2_init(const struct config *config, char error[PAY_ERROR_SIZE])
{
    static const struct {
        const char *key, *variable;
    } keys[] = {
        {"appid", "LEB_WECHATPAY_V2_APPID"},
        {"mch_id", "LEB_WECHATPAY_V2_MCH_ID"},
        {"api_key_file", "LEB_WECHATPAY_V2_API_KEY_FILE"},
        {"base_url", "LEB_WECHATPAY_V2_BASE_URL"},
    };
    const char *values[] = {config->wechatpay_v2_appid, config->wechatpay_v2_mch_id,
                            config->wechatpay_v2_api_key, config->wechatpay_v2_base_url};
    size_t set = 0;
    for (size_t i = 0; i < 4; i++)
        set += values[i] != NULL;
    if (set == 0)
        return LEB_E_NOT_FOUND;
    for (size_t i = 0; i < 4; i++) {
        if (values[i] == NULL) {
            snprintf(error, PAY_ERROR_SIZE,
                     "[wechatpay_v2] %s is not set (or %s): the wechatpay_v2 provider needs "
                     "appid, mch_id, api_key_file and base_url",
                     keys[i].key, keys[i].variable);
            return LEB_E_INVALID_REQUEST;
        }
    }
    const char *appid = values[0], *mch_id = values[1], *api_key = values[2];
    const char *base_url = values[3];
    if (!text_shaped(appid, WXV2_ID_MAX, false)) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay_v2] appid must be 1 to %d letters, digits, '_' or '-'", WXV2_ID_MAX);
        return LEB_E_INVALID_REQUEST;
    }
    if (!text_shaped(mch_id, WXV2_ID_MAX, true)) {
        snprintf(error, PAY_ERROR_SIZE, "[wechatpay_v2] mch_id must be 1 to %d digits",
                 WXV2_ID_MAX);
        return LEB_E_INVALID_REQUEST;
    }
    /* Checked without a word of what the file holds: its length and alphabet only. */
    bool key_ok = strlen(api_key) == WECHATPAY_V2_API_KEY_LENGTH;
    for (size_t i = 0; key_ok && i < WECHATPAY_V2_API_KEY_LENGTH; i++)
        key_ok = char_is_alnum(api_key[i]);
    if (!key_ok) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay_v2] api_key_file must hold the %d-character API key (letters and "
                 "digits) set on the merchant platform",
                 WECHATPAY_V2_API_KEY_LENGTH);
        return LEB_E_INVALID_REQUEST;
    }
    size_t url_length = strlen(base_url);
    while (url_length > 0 && base_url[url_length - 1] == '/')
        url_length--;
    if (url_length == 0 || url_length >= sizeof(wxv2.base_url)) {
        snprintf(error, PAY_ERROR_SIZE, "[wechatpay_v2] base_url must be a URL of at most %d bytes",
                 WXV2_BASE_URL_SIZE - 1);
        return LEB_E_INVALID_REQUEST;
    }
    snprintf(wxv2.appid, sizeof(wxv2.appid), "%s", appid);
    snprintf(wxv2.mch_id, sizeof(wxv2.mch_id), "%s", mch_id);
    memcpy(wxv2.api_key, api_key, WECHATPAY_V2_API_KEY_LENGTH + 1);
    snprintf(wxv2.base_url, sizeof(wxv2.base_url), "%.*s", (int)url_length, base_url);
    if ((config->wechatpay_v2_cert == NULL) != (config->wechatpay_v2_key == NULL)) {
        snprintf(error, PAY_ERROR_SIZE,
                 "[wechatpay_v2] cert_file and key_file go together (the refund's client "
                 "certificate)");
        return LEB_E_INVALID_REQUEST;
    }
    wxv2.cert_pem = config->wechatpay_v2_cert;
    wxv2.key_pem = config->wechatpay_v2_key;
    /* libxml2 is thread-safe once initialised, which must happen on one thread: this one. */
    xmlInitParser();
    return 0;
}

static void wechatpay_v2_shutdown(void)
{
    sodium_memzero(&wxv2, sizeof(wxv2));
}

/* A verified answer of WeChat Pay, and its raw body (malloc'd). */
struct wxv2_answer {
    struct wechatpay_v2_message message;
    char *raw;
    size_t raw_size;
};

static void wxv2_answer_free(struct wxv2_answer *answer)
{
    wechatpay_v2_message_free(&answer->message);
    free(answer->raw);
    answer->raw = NULL;
}

/*
 * Signs "fields" (whose last one is "sign", filled here) with HMAC-SHA256, POSTs them to the
 * API "path" ("step" names it in the logs, with "order_no") and reads the answer. 0 when the
 * answer is a signed SUCCESS for our merchant and application ("answer" then holds it; free it
 * with wxv2_answer_free); LEB_E_UNAVAILABLE when WeChat Pay could not be reached or answered
 * anything else; LEB_E_INVALID_SIGNATURE when its sign is wrong. result_code is the caller's.
 */
static int wxv2_call(struct app *app, const char *step, const char *path, const char *order_no,
                     struct wechatpay_v2_field *fields, size_t count, struct wxv2_answer *answer)
{
    memset(answer, 0, sizeof(*answer));
    LEB_ASSERT(count >= 1 && strcmp(fields[count - 1].name, "sign") == 0);
    char sign[WECHATPAY_V2_SIGN_SIZE];
    int rc = wechatpay_v2_sign(sign, fields, count, wxv2.api_key, WECHATPAY_V2_SIGN_HMAC_SHA256);
    LEB_ASSERT(rc == 0); /* our own fields, each named once */
    fields[count - 1].value = sign;
    char *body = wechatpay_v2_xml_build(fields, count);
    char url[WXV2_BASE_URL_SIZE + 64];
    snprintf(url, sizeof(url), "%s%s", wxv2.base_url, path);
    static const char *const headers[] = {"Content-Type: text/xml; charset=utf-8",
                                          "Accept: text/xml", "Expect:", NULL};
    struct http_call call = {.method = "POST",
                             .url = url,
                             .headers = headers,
                             .body = body,
                             .body_size = strlen(body),
                             .timeout_ms = PAY_CALL_TIMEOUT_MS,
                             .cancel = &app->stopping};
    if (strncmp(path, "/secapi/", 8) == 0) {
        call.client_cert_pem = wxv2.cert_pem;
        call.client_key_pem = wxv2.key_pem;
    }
    struct http_result result;
    const char *reason = NULL, *detail = "";
    rc = LEB_E_UNAVAILABLE;
    if (http_client_call(&call, &result) < 0) {
        reason = "not reached";
        detail = result.error;
        goto out;
    }
    if (result.status != 200) {
        reason = "an HTTP status other than 200";
        goto out;
    }
    if (wechatpay_v2_xml_parse(&answer->message, result.body, result.body_size) < 0) {
        reason = "an answer that is not a WeChat Pay document";
        goto out;
    }
    const struct wechatpay_v2_message *message = &answer->message;
    if (!text_is(wechatpay_v2_message_get(message, "return_code"), "SUCCESS")) {
        reason = "return_code FAIL";
        const char *return_msg = wechatpay_v2_message_get(message, "return_msg");
        detail = return_msg ? return_msg : "";
        goto out;
    }
    if (wechatpay_v2_verify(message->fields, message->count, wxv2.api_key) < 0) {
        reason = "an answer whose sign is wrong";
        rc = LEB_E_INVALID_SIGNATURE;
        goto out;
    }
    if (!text_is(wechatpay_v2_message_get(message, "appid"), wxv2.appid) ||
        !text_is(wechatpay_v2_message_get(message, "mch_id"), wxv2.mch_id)) {
        reason = "an answer for another appid or mch_id";
        goto out;
    }
    answer->raw = result.body;
    answer->raw_size = result.body_size;
    result.body = NULL;
    rc = 0;
out:
    if (rc < 0) {
        char status[24];
        snprintf(status, sizeof(status), LOG_RAW_PREFIX "%ld", result.status);
        LOG_WARN("wechatpay_v2 call failed", "step", step, "order_no", order_no, "reason", reason,
                 "status", status, "detail", detail);
        wxv2_answer_free(answer);
    }
    http_result_free(&result);
    free(body);
    fields[count - 1].value = NULL; /* "sign" was this function's own buffer */
    return rc;
}

/* The err_code and err_code_des of a FAIL answer, for the logs. */
static void log_refusal(const char *step, const char *order_no,
                        const struct wechatpay_v2_message *message)
{
    const char *code = wechatpay_v2_message_get(message, "err_code");
    const char *description = wechatpay_v2_message_get(message, "err_code_des");
    LOG_WARN("wechatpay_v2 refused", "step", step, "order_no", order_no, "err_code",
             code ? code : "", "err_code_des", description ? description : "");
}

/* 统一下单 with trade_type NATIVE: the code_url is what the payer's QR code encodes. */
static int wechatpay_v2_prepare(struct app *app, const struct order_row *order,
                                struct order_payment_row *out)
{
    LEB_ASSERT(order->quote.pay_amount > 0);
    if (strcmp(order->quote.currency, "CNY") != 0) {
        LOG_WARN("wechatpay_v2 takes CNY only", "order_no", order->order_no, "currency",
                 order->quote.currency);
        return LEB_E_UNAVAILABLE;
    }
    char nonce[33], total_fee[24], time_expire[15], notify_url[PAY_URL_SIZE];
    pay_random_hex(nonce, 16);
    snprintf(total_fee, sizeof(total_fee), "%lld", (long long)order->quote.pay_amount);
    wechatpay_v2_time_format(time_expire, order->expires_at);
    size_t public_length = strlen(app->public_url);
    while (public_length > 0 && app->public_url[public_length - 1] == '/')
        public_length--;
    snprintf(notify_url, sizeof(notify_url), "%.*s/api/v1/payments/wechatpay_v2/notify",
             (int)public_length, app->public_url);
    struct wechatpay_v2_field fields[] = {
        {"appid", wxv2.appid},
        {"mch_id", wxv2.mch_id},
        {"nonce_str", nonce},
        {"sign_type", WXV2_SIGN_TYPE},
        {"body", WXV2_BODY},
        {"out_trade_no", order->order_no},
        {"total_fee", total_fee},
        {"spbill_create_ip", "127.0.0.1"}, /* Native: the IP of the machine that calls */
        {"time_expire", time_expire},
        {"notify_url", notify_url},
        {"trade_type", "NATIVE"},
        {"product_id", order->order_no}, /* required with NATIVE */
        {"sign", NULL},
    };
    struct wxv2_answer answer;
    int rc = wxv2_call(app, "unifiedorder", "/pay/unifiedorder", order->order_no, fields,
                       sizeof(fields) / sizeof(fields[0]), &answer);
    if (rc < 0)
        return LEB_E_UNAVAILABLE;
    const char *code_url = wechatpay_v2_message_get(&answer.message, "code_url");
    const char *prepay_id = wechatpay_v2_message_get(&answer.message, "prepay_id");
    rc = LEB_E_UNAVAILABLE;
    if (!text_is(wechatpay_v2_message_get(&answer.message, "result_code"), "SUCCESS")) {
        log_refusal("unifiedorder", order->order_no, &answer.message);
    } else if (!text_has(code_url) || strlen(code_url) >= sizeof(out->pay_url)) {
        LOG_WARN("wechatpay_v2 call failed", "step", "unifiedorder", "order_no", order->order_no,
                 "reason", "no usable code_url");
    } else {
        snprintf(out->pay_url, sizeof(out->pay_url), "%s", code_url);
        snprintf(out->qr_text, sizeof(out->qr_text), "%s", code_url);
        if (prepay_id != NULL && strlen(prepay_id) < sizeof(out->provider_ref))
            snprintf(out->provider_ref, sizeof(out->provider_ref), "%s", prepay_id);
        rc = 0;
    }
    wxv2_answer_free(&answer);
    return rc;
}

/* What a parsed notification owns: the message its notice points into. */
struct wxv2_notice {
    struct wechatpay_v2_message message;
    char trade_no[TRADE_NO_SIZE];
};

static void wxv2_notice_free(void *owner)
{
    struct wxv2_notice *notice = owner;
    if (notice == NULL)
        return;
    wechatpay_v2_message_free(&notice->message);
    free(notice);
}

/* 支付结果通知: verified over every field it carries, known or not, before anything is read. */
static int wechatpay_v2_notify_parse(const struct app *app, const struct pay_notify_input *input,
                                     struct pay_notify_parsed *out)
{
    memset(out, 0, sizeof(*out));
    struct wxv2_notice *owner = calloc(1, sizeof(*owner));
    LEB_ASSERT(owner != NULL);
    const struct wechatpay_v2_message *message = &owner->message;
    int rc = wechatpay_v2_xml_parse(&owner->message, input->body, input->body_size);
    if (rc < 0)
        goto out;
    /* A return_code FAIL is not signed: there is nothing in it to believe. */
    rc = LEB_E_INVALID_REQUEST;
    if (!text_is(wechatpay_v2_message_get(message, "return_code"), "SUCCESS"))
        goto out;
    rc = wechatpay_v2_verify(message->fields, message->count, wxv2.api_key);
    if (rc < 0)
        goto out;

    rc = LEB_E_INVALID_REQUEST;
    const char *result_code = wechatpay_v2_message_get(message, "result_code");
    const char *order_no = wechatpay_v2_message_get(message, "out_trade_no");
    const char *transaction_id = wechatpay_v2_message_get(message, "transaction_id");
    const char *total_fee = wechatpay_v2_message_get(message, "total_fee");
    const char *fee_type = wechatpay_v2_message_get(message, "fee_type");
    bool success = text_is(result_code, "SUCCESS");
    if (!success && !text_is(result_code, "FAIL"))
        goto out;
    if (!text_has(order_no) || strlen(order_no) >= ORDER_NO_SIZE)
        goto out;
    bool has_transaction = text_has(transaction_id) && strlen(transaction_id) < TRADE_NO_SIZE;
    if (success && !has_transaction)
        goto out;
    /* A payment signed as done more than a day ago is a replay: WeChat Pay's own resends stop
     * within a day, and what it never told is found by querying. Real time: WeChat's clock. */
    int64_t paid_at = 0, now = (int64_t)time(NULL);
    if (success &&
        (wechatpay_v2_time_parse(&paid_at, wechatpay_v2_message_get(message, "time_end")) < 0 ||
         paid_at < now - WECHATPAY_V2_NOTIFY_AGE_MAX_S ||
         paid_at > now + WECHATPAY_V2_NOTIFY_SKEW_MAX_S)) {
        rc = LEB_E_INVALID_SIGNATURE;
        goto out;
    }
    int64_t amount = 0;
    if (success || text_has(total_fee)) {
        rc = amount_parse(&amount, total_fee);
        if (rc < 0)
            goto out;
    }
    /* A failure may come without a transaction: it is recorded under a number of its own. */
    if (has_transaction)
        snprintf(owner->trade_no, sizeof(owner->trade_no), "%s", transaction_id);
    else
        snprintf(owner->trade_no, sizeof(owner->trade_no), "FAIL-%s", order_no);
    /* Another application, merchant or currency: signed with our key, but not the payment the
     * order asked for. */
    bool mismatch = !text_is(wechatpay_v2_message_get(message, "appid"), wxv2.appid) ||
                    !text_is(wechatpay_v2_message_get(message, "mch_id"), wxv2.mch_id) ||
                    (text_has(fee_type) && strcmp(fee_type, "CNY") != 0);
    out->notice = (struct payment_notice){.provider = pay_wechatpay_v2.name,
                                          .order_no = order_no,
                                          .trade_no = owner->trade_no,
                                          .amount = amount,
                                          .success = success,
                                          .status_word = result_code,
                                          .raw = input->body,
                                          .raw_size = input->body_size,
                                          .merchant_mismatch = mismatch,
                                          .paid_at = paid_at};
    out->owner = owner;
    out->owner_free = wxv2_notice_free;
    return 0;
out:
    wxv2_notice_free(owner);
    return rc;
}

static void wechatpay_v2_notify_reply(enum pay_verdict verdict, struct pay_reply *out)
{
    const char *code = "FAIL", *text = "签名失败或参数格式校验错误"; /* signature or format */
    if (verdict == PAY_VERDICT_ACCEPTED) {
        code = "SUCCESS";
        text = "OK";
    } else if (verdict == PAY_VERDICT_RETRY) {
        text = "系统繁忙,请稍后重试"; /* busy: send it again later */
    }
    out->status = 200;
    out->content_type = "text/xml; charset=utf-8";
    snprintf(out->body, sizeof(out->body),
             "<xml><return_code><![CDATA[%s]]></return_code><return_msg><![CDATA[%s]]></"
             "return_msg></xml>",
             code, text);
}

/* 查询订单: what WeChat Pay knows of the order, for a notification that never came. */
static int wechatpay_v2_query(struct app *app, const struct order_row *order,
                              const struct order_payment_row *payment, struct payment_query *out)
{
    memset(out, 0, sizeof(*out));
    char nonce[33];
    pay_random_hex(nonce, 16);
    struct wechatpay_v2_field fields[] = {
        {"appid", wxv2.appid}, {"mch_id", wxv2.mch_id},       {"out_trade_no", order->order_no},
        {"nonce_str", nonce},  {"sign_type", WXV2_SIGN_TYPE}, {"sign", NULL},
    };
    struct wxv2_answer answer;
    int rc = wxv2_call(app, "orderquery", "/pay/orderquery", order->order_no, fields,
                       sizeof(fields) / sizeof(fields[0]), &answer);
    if (rc < 0)
        return rc;
    const struct wechatpay_v2_message *message = &answer.message;
    const char *trade_state = wechatpay_v2_message_get(message, "trade_state");
    const char *transaction_id = wechatpay_v2_message_get(message, "transaction_id");
    const char *fee_type = wechatpay_v2_message_get(message, "fee_type");
    rc = LEB_E_UNAVAILABLE;
    if (!text_is(wechatpay_v2_message_get(message, "result_code"), "SUCCESS")) {
        /* Not paid, not even scanned: WeChat Pay has no such order yet. */
        if (text_is(wechatpay_v2_message_get(message, "err_code"), "ORDERNOTEXIST")) {
            out->state = PAYMENT_QUERY_WAITING;
            snprintf(out->status_word, sizeof(out->status_word), "ORDERNOTEXIST");
            rc = 0;
        } else {
            log_refusal("orderquery", order->order_no, message);
        }
    } else if (!text_is(wechatpay_v2_message_get(message, "out_trade_no"), order->order_no) ||
               !text_has(trade_state)) {
        LOG_WARN("wechatpay_v2 call failed", "step", "orderquery", "order_no", order->order_no,
                 "reason", "an answer about another order, or without trade_state");
    } else {
        text_copy_utf8(out->status_word, sizeof(out->status_word), trade_state,
                       sizeof(out->status_word) - 1);
        rc = 0;
        if (strcmp(trade_state, "SUCCESS") == 0) {
            if (text_has(transaction_id) && strlen(transaction_id) < sizeof(out->trade_no) &&
                amount_parse(&out->amount, wechatpay_v2_message_get(message, "total_fee")) == 0) {
                out->state = PAYMENT_QUERY_PAID;
                snprintf(out->trade_no, sizeof(out->trade_no), "%s", transaction_id);
                if (wechatpay_v2_time_parse(&out->paid_at,
                                            wechatpay_v2_message_get(message, "time_end")) < 0)
                    out->paid_at = 0;
                /* Paid in another currency: its fen are not the order's; review it. */
                out->merchant_mismatch = text_has(fee_type) && strcmp(fee_type, "CNY") != 0;
            } else {
                LOG_WARN("wechatpay_v2 call failed", "step", "orderquery", "order_no",
                         order->order_no, "reason", "SUCCESS without transaction_id or total_fee");
                rc = LEB_E_UNAVAILABLE;
            }
        } else if (strcmp(trade_state, "CLOSED") == 0 || strcmp(trade_state, "REVOKED") == 0 ||
                   strcmp(trade_state, "PAYERROR") == 0) {
            out->state = PAYMENT_QUERY_CLOSED;
        } else {
            /* NOTPAY, USERPAYING, ACCEPT: not yet. REFUND (paid, then refunded outside LEB) or
             * a state not documented: neither credit nor close; an operator looks. */
            out->state = PAYMENT_QUERY_WAITING;
            if (strcmp(trade_state, "NOTPAY") != 0 && strcmp(trade_state, "USERPAYING") != 0 &&
                strcmp(trade_state, "ACCEPT") != 0)
                LOG_WARN("wechatpay_v2 order in a state LEB does not act on", "order_no",
                         order->order_no, "trade_state", out->status_word);
        }
    }
    if (rc == 0) {
        out->raw = answer.raw;
        out->raw_size = answer.raw_size;
        answer.raw = NULL;
    }
    wxv2_answer_free(&answer);
    return rc;
}

/* err_codes after which the same refund (same out_refund_no) is to be asked again. */
static bool refund_retryable(const char *err_code)
{
    static const char *const codes[] = {"SYSTEMERROR", "BIZERR_NEED_RETRY", "FREQUENCY_LIMITED",
                                        "INVALID_REQ_TOO_MUCH"};
    for (size_t i = 0; err_code != NULL && i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(err_code, codes[i]) == 0)
            return true;
    return false;
}

/* 申请退款 of everything the order's trade paid, under "refund_no" (out_refund_no): WeChat Pay
 * refunds one out_refund_no once, however often it is asked. */
static int wechatpay_v2_refund(struct app *app, const struct order_row *order,
                               const struct order_payment_row *payment, const char *refund_no,
                               struct payment_refund *out)
{
    memset(out, 0, sizeof(*out));
    int64_t amount = payment->refund_amount > 0 ? payment->refund_amount : order->quote.pay_amount;
    LEB_ASSERT(amount > 0);
    char nonce[33], fee[24];
    pay_random_hex(nonce, 16);
    snprintf(fee, sizeof(fee), "%lld", (long long)amount);
    /* LEB gives back the whole trade: total_fee (what the trade paid) is the refund_fee. */
    struct wechatpay_v2_field fields[] = {
        {"appid", wxv2.appid},
        {"mch_id", wxv2.mch_id},
        {"nonce_str", nonce},
        {"sign_type", WXV2_SIGN_TYPE},
        {"out_trade_no", order->order_no},
        {"out_refund_no", refund_no},
        {"total_fee", fee},
        {"refund_fee", fee},
        {"sign", NULL},
    };
    struct wxv2_answer answer;
    int rc = wxv2_call(app, "refund", "/secapi/pay/refund", order->order_no, fields,
                       sizeof(fields) / sizeof(fields[0]), &answer);
    if (rc < 0)
        return rc;
    const struct wechatpay_v2_message *message = &answer.message;
    const char *refund_id = wechatpay_v2_message_get(message, "refund_id");
    const char *err_code = wechatpay_v2_message_get(message, "err_code");
    const char *description = wechatpay_v2_message_get(message, "err_code_des");
    /* 100 bytes: provider.c keeps "refund: " and 110 bytes of it; a whole character is kept. */
    char error[101] = "";
    if (text_has(description))
        text_copy_utf8(error, sizeof(error), description, sizeof(error) - 1);
    else if (text_has(err_code))
        text_copy_utf8(error, sizeof(error), err_code, sizeof(error) - 1);
    if (text_is(wechatpay_v2_message_get(message, "result_code"), "SUCCESS")) {
        const char *answered_no = wechatpay_v2_message_get(message, "out_refund_no");
        if (text_has(refund_id) && strlen(refund_id) < sizeof(out->refund_id) &&
            (answered_no == NULL || strcmp(answered_no, refund_no) == 0)) {
            out->state = PAYMENT_REFUND_DONE;
            snprintf(out->refund_id, sizeof(out->refund_id), "%s", refund_id);
        } else {
            out->state = PAYMENT_REFUND_PENDING;
            snprintf(out->error, sizeof(out->error), "an answer without this refund's refund_id");
        }
    } else {
        log_refusal("refund", order->order_no, message);
        out->state = refund_retryable(err_code) ? PAYMENT_REFUND_PENDING : PAYMENT_REFUND_FAILED;
        snprintf(out->error, sizeof(out->error), "%s", error[0] ? error : "refused");
    }
    wxv2_answer_free(&answer);
    return 0;
}

const struct pay_provider pay_wechatpay_v2 = {
    .name = "wechatpay_v2",
    .method = PAYMENT_WECHATPAY_V2,
    .init = wechatpay_v2_init,
    .shutdown = wechatpay_v2_shutdown,
    .prepare = wechatpay_v2_prepare,
    .notify_parse = wechatpay_v2_notify_parse,
    .notify_reply = wechatpay_v2_notify_reply,
    .query = wechatpay_v2_query,
    .refund = wechatpay_v2_refund,
};
