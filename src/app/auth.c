/*
 * auth.c - users, passwords and bearer tokens.
 *
 * Passwords are hashed with argon2id (libsodium's crypto_pwhash_str). Tokens are 32 random
 * bytes, handed out once and stored only as their SHA-256, so a copy of the database grants
 * nothing. A wrong user and a wrong password take the same time and give the same answer.
 *
 * Tokens live in real time, not on the business clock: moving that clock through a month of
 * billing must not log the operator out, and --clock must not stretch a token's life.
 */
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "app/app.h"

#define USERNAME_MAX 64
#define PASSWORD_MAX 1024

static int64_t wall_now(void)
{
    return (int64_t)time(NULL);
}

static void token_hash(char out[TOKEN_HASH_SIZE], const char *token)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, TOKEN_HASH_SIZE, digest, sizeof(digest));
}

struct user_job {
    struct user_row user;
    int64_t now;
};

static int user_in_tx(struct store_tx *tx, void *arg)
{
    struct user_job *job = arg;
    return STORE_TX(tx, tx_user_put, &job->user, job->now);
}

int app_user_set(struct app *app, const char *username, const char *password, enum role role)
{
    size_t username_size = strlen(username), password_size = strlen(password);
    if (username_size == 0 || username_size > USERNAME_MAX || password_size < 8 ||
        password_size > PASSWORD_MAX)
        return LEB_E_INVALID_REQUEST;
    struct user_job job = {.now = app_now(app)};
    memcpy(job.user.username, username, username_size + 1);
    job.user.role = role;
    if (crypto_pwhash_str(job.user.password_hash, password, password_size,
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return LEB_E_UNAVAILABLE; /* out of memory for the hash */
    return store_write(app->store, user_in_tx, &job);
}

struct token_job {
    char hash[TOKEN_HASH_SIZE];
    struct token_row token;
    int64_t now;
};

static int token_in_tx(struct store_tx *tx, void *arg)
{
    struct token_job *job = arg;
    return STORE_TX(tx, tx_token_insert, job->hash, &job->token, job->now);
}

int app_login(struct app *app, char out_token[APP_TOKEN_SIZE], enum role *role, int64_t *expires_at,
              const char *username, const char *password)
{
    size_t password_size = strlen(password);
    if (strlen(username) > USERNAME_MAX || password_size > PASSWORD_MAX)
        return LEB_E_INVALID_CREDENTIALS;
    struct user_row user;
    int rc = STORE_CALL(app->store, user_get, &user, username);
    if (rc < 0 && rc != LEB_E_NOT_FOUND)
        return rc;
    if (rc == LEB_E_NOT_FOUND) {
        /* Spend the same work on an unknown user as on a wrong password. */
        char dummy[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(dummy, password, password_size, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            return LEB_E_UNAVAILABLE;
        return LEB_E_INVALID_CREDENTIALS;
    }
    if (crypto_pwhash_str_verify(user.password_hash, password, password_size) != 0)
        return LEB_E_INVALID_CREDENTIALS;

    struct token_row token = {.user_id = user.id, .role = user.role};
    struct token_job job;
    app_token_new(out_token, &job.hash, &token, APP_TOKEN_TTL_S);
    job.token = token;
    job.now = wall_now();
    rc = store_write(app->store, token_in_tx, &job);
    if (rc < 0)
        return rc;
    *role = user.role;
    *expires_at = token.expires_at;
    return 0;
}

void app_token_new(char out_token[APP_TOKEN_SIZE], char (*out_hash)[TOKEN_HASH_SIZE],
                   struct token_row *token, int64_t ttl_s)
{
    unsigned char random[32];
    randombytes_buf(random, sizeof(random));
    sodium_bin2base64(out_token, APP_TOKEN_SIZE, random, sizeof(random),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    token_hash(*out_hash, out_token);
    token->expires_at = wall_now() + ttl_s;
}

struct prune_job {
    int64_t business_now;
    int64_t real_now;
    int64_t removed;
};

static int prune_in_tx(struct store_tx *tx, void *arg)
{
    struct prune_job *job = arg;
    return STORE_TX(tx, tx_prune, job->business_now, job->business_now - PORTAL_CODE_WINDOW_S,
                    job->real_now, &job->removed);
}

int app_sessions_prune(struct app *app, int64_t *removed)
{
    /* A challenge is kept while it counts for the hourly limit of its number: forgetting it
     * sooner would hand that number a fresh allowance. */
    struct prune_job job = {.business_now = app_now(app), .real_now = wall_now()};
    int rc = store_write(app->store, prune_in_tx, &job);
    *removed = job.removed;
    return rc;
}

static int token_delete_in_tx(struct store_tx *tx, void *arg)
{
    return STORE_TX(tx, tx_token_delete, arg);
}

int app_logout(struct app *app, const char *token)
{
    size_t size = strlen(token);
    if (size < 16 || size >= APP_TOKEN_SIZE)
        return LEB_E_UNAUTHORIZED;
    char hash[TOKEN_HASH_SIZE];
    token_hash(hash, token);
    int rc = store_write(app->store, token_delete_in_tx, hash);
    return rc == LEB_E_NOT_FOUND ? LEB_E_UNAUTHORIZED : rc;
}

int app_token_verify(struct app *app, struct token_row *out, const char *token)
{
    size_t size = strlen(token);
    if (size < 16 || size >= APP_TOKEN_SIZE)
        return LEB_E_UNAUTHORIZED;
    char hash[TOKEN_HASH_SIZE];
    token_hash(hash, token);
    int rc = STORE_CALL(app->store, token_get, out, hash);
    if (rc < 0)
        return rc;
    if (out->expires_at <= wall_now())
        return LEB_E_UNAUTHORIZED;
    return 0;
}
