/*
 * recon.h - reconciliation (对账): a provider's statement imported, every row classified
 * against LEB's records, the payments LEB never heard of credited (exactly once), and the
 * report kept for ever with an audit row.
 *
 * The rules are src/core/recon.h's; this service looks up what LEB knows about each row,
 * repairs through app_payment_apply (the one path that credits a payment, idempotent on
 * (provider, trade_no)), and stores the report.
 */
#ifndef LEB_APP_RECON_H
#define LEB_APP_RECON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "app/app.h"
#include "core/recon.h"

#define APP_RECON_STATEMENT_BYTES_MAX (16u * 1024u * 1024u)

struct recon_import_request {
    const char *actor;     /* the operator's user name, for the audit row */
    const char *provider;  /* "alipay", "wechatpay", "wechatpay_v2" */
    const char *statement; /* the file as uploaded (UTF-8 with or without BOM, or GBK); borrowed */
    size_t statement_size;
};

/*
 * Imports a statement. The same provider's statement with the same bytes (SHA-256) imported
 * before changes nothing: "*report_id" is the earlier report's and "*replayed" true.
 * Otherwise every row is classified (see recon_classify), each repairable row is applied as a
 * verified payment (credited, or held for refund when the card is gone), the payments LEB
 * recorded in the statement's period that the statement lacks are listed, and the report is
 * stored with its audit row; "*report_id" is the new report's.
 *
 * LEB_E_PAYMENT_METHOD_UNAVAILABLE for a provider without a statement format;
 * LEB_E_INVALID_REQUEST for a statement that cannot be read, with "error" naming the first bad
 * line (or line 0 for the statement as a whole): nothing is repaired then.
 */
LEB_MUST_CHECK int app_recon_import(struct app *app, int64_t *report_id, bool *replayed,
                                    struct recon_error *error,
                                    const struct recon_import_request *request);

/*
 * The report "id" as JSON ("*out" is the caller's; json_decref it): {id, provider, format,
 * statement_hash, period_start, period_end, rows, imported_at, currency, summary: {class:
 * count}, items: [{line, class, order_no, trade_no, refund_no?, statement_amount, leb_amount,
 * repaired, outcome?}]}. LEB_E_NOT_FOUND for an unknown id.
 */
LEB_MUST_CHECK int app_recon_report(struct app *app, json_t **out, int64_t id);

#endif
