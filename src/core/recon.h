/*
 * recon.h - reconciliation (对账) of a payment provider's statement against LEB's records: the
 * statement formats, and the rules that classify each of its rows.
 *
 * Two formats are read, both as UTF-8 text (src/app converts GBK before calling here):
 *
 *  - Alipay's business details (支付宝业务明细): '#' comment lines (the account, the period
 *    "#起始日期：[2026年11月25日 00:00:00]   终止日期：[2026年11月26日 00:00:00]"), a header row
 *    naming 支付宝交易号, 商户订单号, 业务类型, 完成时间, 订单金额（元）..., data rows whose
 *    fields Alipay pads with tabs, 业务类型 交易 (a payment) or 退款 (a refund, with a negative
 *    amount), then "#-----...业务明细列表结束-----" and the summary lines.
 *  - WeChat Pay's trade bill (交易账单, bill_type ALL, API v2 and v3 alike): a header row
 *    交易时间,公众账号ID,商户号,...,微信订单号,商户订单号,...,交易状态,...; every data field
 *    prefixed with a backtick; 交易状态 SUCCESS (a payment) or REFUND (a refund, its amount in
 *    退款金额); then the summary header 总交易单数,... and its line.
 *
 * Columns are found by their header names, so columns added by the providers (they add some
 * every few years) are ignored. Amounts are decimal yuan parsed exactly into fen; times are
 * Beijing time (UTC+8) turned into Unix seconds.
 *
 * This module is pure: no I/O, no clock, no allocation. The parser walks a buffer the caller
 * owns and fills one caller-given record at a time; the duplicate finder sorts an array of
 * pointers the caller gives. It never decides what to do about money beyond saying which rows
 * may be repaired: src/app does the repair, through the one path that credits payments.
 */
#ifndef LEB_CORE_RECON_H
#define LEB_CORE_RECON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/order.h"

#define RECON_ID_SIZE 65          /* trade numbers, order numbers, refund numbers, and a NUL */
#define RECON_ERROR_SIZE 160      /* a human message about one line */
#define RECON_FIELDS_MAX 64       /* the most columns a statement may have */
#define RECON_LINE_BYTES_MAX 8192 /* the longest line read */
#define RECON_ROWS_MAX 500000     /* the most data rows one statement may hold */
#define RECON_BEIJING_OFFSET_S (8 * 3600)

enum recon_format { RECON_FORMAT_ALIPAY = 0, RECON_FORMAT_WECHATPAY, RECON_FORMAT_COUNT };

/* "alipay", "wechatpay": the format's name in reports. */
const char *recon_format_name(enum recon_format format);

/* The statement format of a provider's name ("alipay"; "wechatpay" and "wechatpay_v2" share
 * one), or LEB_E_NOT_FOUND for a provider that publishes none LEB reads. */
LEB_MUST_CHECK int recon_format_of_provider(enum recon_format *out, const char *provider);

enum recon_kind { RECON_KIND_PAYMENT = 0, RECON_KIND_REFUND };

/* One data row of a statement. */
struct recon_record {
    size_t line; /* 1-based line number in the statement */
    enum recon_kind kind;
    char trade_no[RECON_ID_SIZE];  /* the provider's trade number (a refund's: the paid trade) */
    char order_no[RECON_ID_SIZE];  /* the merchant's order number: LEB's order_no */
    char refund_no[RECON_ID_SIZE]; /* a refund's own number at the provider; "" otherwise */
    int64_t amount;                /* minor units, never negative: what was paid or refunded */
    int64_t time;                  /* Unix seconds */
    char status[16];   /* the provider's word: "交易", "退款", "SUCCESS", "REFUND" */
    size_t raw_offset; /* the row's text in the statement: offset and size, */
    size_t raw_size;   /* without the line end */
};

/* Why a statement was refused: the line (0: the statement as a whole) and a message. */
struct recon_error {
    size_t line;
    char message[RECON_ERROR_SIZE];
};

/* A walk through one statement; every field is the parser's own. */
struct recon_parser {
    const char *text; /* borrowed: must outlive the parser */
    size_t size;
    size_t position;
    size_t line; /* of the next line to read */
    enum recon_format format;
    size_t header_fields;
    /* Field index of each column the parser reads; -1 when the statement has none. */
    int column_trade_no, column_order_no, column_type, column_time, column_time_fallback,
        column_amount, column_refund_amount, column_refund_no, column_refund_no_fallback;
    bool period_declared; /* Alipay's 起始日期 and 终止日期 */
    int64_t period_start;
    int64_t period_end;
    size_t rows;
    bool done;
};

/*
 * Starts reading a statement of "size" bytes of UTF-8 "text" (a byte order mark is skipped):
 * finds its format from its header row, and Alipay's declared period from the comments
 * before it. LEB_E_INVALID_REQUEST with "error" set when the text is no statement LEB reads.
 */
LEB_MUST_CHECK int recon_parser_init(struct recon_parser *parser, struct recon_error *error,
                                     const char *text, size_t size);

/*
 * Reads the next data row into "out": 1 for a row, 0 at the end of the data (the summary
 * lines after it are not read), LEB_E_INVALID_REQUEST for a malformed row, with "error"
 * naming its line. A parser that failed stays failed.
 */
LEB_MUST_CHECK int recon_parser_next(struct recon_parser *parser, struct recon_record *out,
                                     struct recon_error *error);

/*
 * Parses a statement amount: decimal yuan with at most two fraction digits ("12.3", "12.30",
 * "0.01"), exactly, into fen. A leading '-' is taken only when "allow_negative" (Alipay's
 * refunds carry one) and the result is then its absolute value, flagged in "*negative". No
 * '+', no spaces, no exponent, no third fraction digit. LEB_E_INVALID_AMOUNT otherwise,
 * LEB_E_OVERFLOW past int64.
 */
LEB_MUST_CHECK int recon_amount_parse(int64_t *out, bool *negative, const char *text,
                                      bool allow_negative);

/* Parses "YYYY-MM-DD HH:MM:SS" in Beijing time into Unix seconds; LEB_E_INVALID_REQUEST for
 * anything else, impossible dates included. */
LEB_MUST_CHECK int recon_time_parse(int64_t *out, const char *text);

/*
 * The period a statement speaks for: the one it declares (Alipay), else the whole Beijing
 * days from its first row's to its last row's ("first" and "last" the earliest and latest of
 * its "rows" row times). A statement without rows that declares nothing speaks for nothing:
 * both 0.
 */
void recon_period(int64_t *start, int64_t *end, const struct recon_parser *parser, size_t rows,
                  int64_t first, int64_t last);

/*
 * Finds the rows that repeat an earlier row of the same statement: a payment whose trade
 * number came before, a refund whose refund number (or, without one, trade number) did.
 * "sorted" (capacity "count") receives pointers to "records" ordered by (kind, key, line);
 * "duplicate[i]" is set for each records[i] that repeats an earlier line. "sorted" stays
 * usable for recon_find_payment().
 */
void recon_mark_duplicates(const struct recon_record **sorted, bool *duplicate,
                           const struct recon_record *records, size_t count);

/* True if the statement has a payment row for "trade_no"; "sorted" is what
 * recon_mark_duplicates() left. */
bool recon_find_payment(const struct recon_record *const *sorted, size_t count,
                        const char *trade_no);

/* ---- classification ---- */

enum recon_class {
    RECON_MATCHED = 0,            /* LEB has the trade, for the same order and amount */
    RECON_REPAIRED,               /* paid, LEB never heard: credited now (or refund-held) */
    RECON_MISSING_FROM_STATEMENT, /* LEB credited a trade of the period the statement lacks */
    RECON_AMOUNT_MISMATCH,        /* the statement's amount differs from LEB's */
    RECON_DUPLICATE,              /* the row repeats an earlier row of the statement */
    RECON_UNKNOWN_ORDER,          /* a trade for an order LEB never had */
    RECON_ORDER_MISMATCH,         /* LEB has the trade for another order, or the order is to
                                     be paid through another provider */
    RECON_DOUBLE_PAYMENT,         /* LEB lacks the trade but the order was paid otherwise (or
                                     waits for a human): money to give back, by a human */
    RECON_REFUND_MATCHED,         /* a refund LEB made (or is making), for the same amount */
    RECON_REFUND_UNKNOWN,         /* a refund of an order LEB never refunded */
    RECON_CLASS_COUNT
};

/* "matched", "repaired", ...: the names reports use. */
const char *recon_class_name(enum recon_class class_);

/* What LEB knows about one statement row, looked up by src/app. */
struct recon_facts {
    enum recon_kind kind;
    bool duplicate;
    int64_t statement_amount;
    /* The provider's trade as LEB recorded it (payments table). */
    bool trade_found;
    int64_t trade_amount;
    bool trade_order_same; /* recorded for the row's order_no */
    /* The row's order. */
    bool order_found;
    enum order_status order_status;
    int64_t order_pay_amount;
    bool order_provider_same; /* the order is paid through the statement's provider */
    int64_t refund_amount;    /* what LEB gives back for the order: its refund amount, or
                                 what it paid */
};

struct recon_verdict {
    enum recon_class class_;
    bool repair;           /* apply the row as a verified payment (it credits once) */
    bool leb_amount_known; /* false: LEB has no amount to compare with */
    int64_t leb_amount;    /* LEB's side of the comparison */
};

/*
 * Classifies one statement row. Payments: a repeated row is a duplicate; a trade LEB has is
 * matched, or an order or amount mismatch; a trade LEB lacks is an unknown order, an order
 * mismatch (another provider's order), a double payment (the order was paid otherwise, or
 * is in review or refunding), an amount mismatch (the order's price differs), and otherwise
 * repairable: the order waits for payment, expired or failed, and this trade pays it exactly.
 * Refunds: a repeated row is a duplicate; a refund of an order LEB refunds (refunding or
 * refunded) is matched when the amounts agree, an amount mismatch when not; any other refund
 * is unknown to LEB. Only repairable rows have "repair" set.
 */
void recon_classify(struct recon_verdict *out, const struct recon_facts *facts);

/* True for statuses in which an order still waits for its payment (pending, expired,
 * failed: a payment that arrives late is honoured). */
bool recon_order_awaits_payment(enum order_status status);

#endif
