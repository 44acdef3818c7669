/*
 * portal.c - the cardholder's self-service: a one-time code by SMS opens a session on the
 * card registered to that phone number, and nothing else.
 *
 * A number that holds no card is treated exactly like one that does: it gets a challenge row,
 * the same limits and the same answers; only the SMS is not sent and no code can ever match.
 * So neither the answers nor their timing tell anyone which numbers are LEB's customers.
 * Codes are kept only as hashes; they live five minutes and allow five tries (src/core/portal.c).
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "app/app.h"
#include "core/cardno.h"
#include "util/log.h"

#define PURPOSE_LOGIN "portal_login"

/* The hash a code is kept as: bound to the number and the purpose, so that a hash copied to
 * another row opens nothing. */
static void code_hash(char out[TOKEN_HASH_SIZE], const char *msisdn, const char *code)
{
    crypto_hash_sha256_state state;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, (const unsigned char *)PURPOSE_LOGIN ":",
                              strlen(PURPOSE_LOGIN) + 1);
    crypto_hash_sha256_update(&state, (const unsigned char *)msisdn, strlen(msisdn));
    crypto_hash_sha256_update(&state, (const unsigned char *)":", 1);
    crypto_hash_sha256_update(&state, (const unsigned char *)code, strlen(code));
    crypto_hash_sha256_final(&state, digest);
    sodium_bin2hex(out, TOKEN_HASH_SIZE, digest, sizeof(digest));
}

/* The live card of a phone number; false if it has none (or it was recycled). */
static int live_card(struct app *app, struct card_row *out, const char *msisdn, bool *found)
{
    int rc = STORE_CALL(app->store, card_get_by_msisdn, out, msisdn);
    *found = rc == 0 && out->status != CARD_RECYCLED;
    return rc == LEB_E_CARD_NOT_FOUND ? 0 : rc;
}

struct send_job {
    char msisdn[MSISDN_SIZE];
    bool has_card;
    struct card_row card;
    int64_t now;
    int64_t retry_after_s;
};

static int send_in_tx(struct store_tx *tx, void *arg)
{
    struct send_job *job = arg;
    struct challenge_row row, current;
    int rc = STORE_TX(tx, tx_challenge_get, &current, job->msisdn, PURPOSE_LOGIN);
    if (rc < 0 && rc != LEB_E_NOT_FOUND)
        return rc;
    memset(&row, 0, sizeof(row));
    rc = portal_code_send(&row.life, rc == 0 ? &current.life : NULL, job->now, &job->retry_after_s);
    if (rc < 0)
        return rc;
    char code[PORTAL_CODE_SIZE];
    portal_code_format(code, randombytes_uniform(1000000));
    memcpy(row.msisdn, job->msisdn, sizeof(row.msisdn));
    snprintf(row.purpose, sizeof(row.purpose), PURPOSE_LOGIN);
    code_hash(row.secret_hash, job->msisdn, code);
    rc = STORE_TX(tx, tx_challenge_put, &row);
    if (rc == 0 && job->has_card)
        rc = app_outbox_sms(tx, &job->card, "login_code", json_pack("{s:s}", "code", code),
                            job->now);
    sodium_memzero(code, sizeof(code));
    return rc;
}

int app_portal_code_send(struct app *app, const char *number, int64_t *retry_after_s)
{
    struct send_job job = {.now = app_now(app)};
    *retry_after_s = 0;
    int rc = msisdn_normalize(job.msisdn, number);
    if (rc < 0)
        return rc;
    rc = live_card(app, &job.card, job.msisdn, &job.has_card);
    if (rc < 0)
        return rc;
    rc = store_write(app->store, send_in_tx, &job);
    *retry_after_s = job.retry_after_s;
    char masked[MSISDN_MASKED_SIZE];
    msisdn_mask(masked, job.msisdn);
    if (rc == 0)
        LOG_INFO("portal code asked for", "msisdn", masked); /* card or not: the logs tell nobody */
    return rc;
}

struct open_job {
    char msisdn[MSISDN_SIZE];
    const char *code;
    bool has_card;
    char card_no[CARDNO_SIZE];
    int64_t now;
    enum portal_verdict verdict;
    char token_hash[TOKEN_HASH_SIZE];
    struct token_row token;
};

static int open_in_tx(struct store_tx *tx, void *arg)
{
    struct open_job *job = arg;
    struct challenge_row current;
    int rc = STORE_TX(tx, tx_challenge_get, &current, job->msisdn, PURPOSE_LOGIN);
    if (rc < 0 && rc != LEB_E_NOT_FOUND)
        return rc;
    bool exists = rc == 0, matches = false;
    if (exists) {
        char hash[TOKEN_HASH_SIZE];
        code_hash(hash, job->msisdn, job->code);
        matches = sodium_memcmp(hash, current.secret_hash, TOKEN_HASH_SIZE) == 0 && job->has_card;
    }
    struct challenge_row next = current;
    job->verdict = portal_code_check(&next.life, exists ? &current.life : NULL, matches, job->now);
    if (job->verdict == PORTAL_ACCEPTED) {
        /* Used up, but kept: the row still counts the number's codes for its limits. */
        next.secret_hash[0] = '\0';
        next.life.expires_at = job->now;
        rc = STORE_TX(tx, tx_challenge_put, &next);
        if (rc == 0)
            rc = STORE_TX(tx, tx_token_insert, job->token_hash, &job->token, job->now);
        return rc;
    }
    /* A wrong answer is counted whatever the request's answer: this write must commit. */
    return exists ? STORE_TX(tx, tx_challenge_put, &next) : 0;
}

int app_portal_session_open(struct app *app, char out_token[APP_TOKEN_SIZE], int64_t *expires_at,
                            struct card_row *card, const char *number, const char *code)
{
    struct open_job job = {.now = app_now(app), .code = code};
    int rc = msisdn_normalize(job.msisdn, number);
    if (rc < 0)
        return rc;
    if (!portal_code_is_valid(code))
        return LEB_E_INVALID_REQUEST;
    rc = live_card(app, card, job.msisdn, &job.has_card);
    if (rc < 0)
        return rc;
    if (job.has_card)
        memcpy(job.token.card_no, card->card_no, CARDNO_SIZE);
    job.token.role = ROLE_PORTAL;
    app_token_new(out_token, &job.token_hash, &job.token, PORTAL_SESSION_TTL_S);
    rc = store_write(app->store, open_in_tx, &job);
    char masked[MSISDN_MASKED_SIZE];
    msisdn_mask(masked, job.msisdn);
    if (rc == 0 && job.verdict != PORTAL_ACCEPTED)
        LOG_INFO("portal code refused", "msisdn", masked, "verdict",
                 job.verdict == PORTAL_LOCKED ? "locked" : "wrong or expired");
    if (rc < 0)
        return rc;
    rc = portal_verdict_error(job.verdict);
    if (rc < 0) {
        sodium_memzero(out_token, APP_TOKEN_SIZE);
        return rc;
    }
    LOG_INFO("portal session opened", "msisdn", masked);
    *expires_at = job.token.expires_at;
    return 0;
}

struct language_job {
    const char *card_no;
    const char *language;
};

static int language_in_tx(struct store_tx *tx, void *arg)
{
    struct language_job *job = arg;
    return STORE_TX(tx, tx_card_update_language, job->card_no, job->language);
}

int app_card_language_set(struct app *app, const char *card_no, const char *language)
{
    if (strcmp(language, "zh") != 0 && strcmp(language, "en") != 0)
        return LEB_E_INVALID_REQUEST;
    struct language_job job = {.card_no = card_no, .language = language};
    return store_write(app->store, language_in_tx, &job);
}
