/*
 * pay_crypto.h - the cryptography of the providers' wire formats, over OpenSSL: RSA
 * SHA256withRSA signatures (Alipay RSA2, WeChat Pay API v3), AEAD_AES_256_GCM (WeChat Pay
 * API v3 resources), HMAC-SHA256 and MD5 (WeChat Pay API v2, the card gateway).
 */
#ifndef LEB_PAY_PAY_CRYPTO_H
#define LEB_PAY_PAY_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "core/error.h"

#define PAY_KEYS_MAX 4

/* Public keys to verify with: a provider's current key and, during a rotation, the next. */
struct pay_keys {
    EVP_PKEY *keys[PAY_KEYS_MAX];
    size_t count;
};

/* Appends every public key of "pem" (PEM "PUBLIC KEY" blocks, or certificates, in any number
 * up to PAY_KEYS_MAX in all); LEB_E_INVALID_REQUEST if "pem" holds none or a bad one. */
LEB_MUST_CHECK int pay_public_keys_add(struct pay_keys *keys, const char *pem);
void pay_keys_free(struct pay_keys *keys);

/* A private key from PEM ("PRIVATE KEY" or "RSA PRIVATE KEY"); NULL if there is none. */
EVP_PKEY *pay_private_key_load(const char *pem);

/* SHA256withRSA (PKCS #1 v1.5) of "data": the base64 signature, malloc'd (free it); NULL on
 * failure. */
char *pay_rsa_sign_base64(EVP_PKEY *key, const void *data, size_t size);

/* True if "signature_base64" is a SHA256withRSA signature of "data" under one of "keys". */
bool pay_rsa_verify_base64(const struct pay_keys *keys, const void *data, size_t size,
                           const char *signature_base64);

/*
 * AEAD_AES_256_GCM: decrypts "ciphertext_base64" (the ciphertext followed by its 16-byte tag)
 * under the 32-byte "key" with "nonce" and "associated_data" (may be ""). The plaintext,
 * NUL-terminated and malloc'd, into "*out" (its length into "*out_size"); LEB_E_INVALID_SIGNATURE
 * if it does not authenticate, LEB_E_INVALID_REQUEST for bad input.
 */
LEB_MUST_CHECK int pay_aes256gcm_decrypt(char **out, size_t *out_size, const char *key,
                                         const char *nonce, const char *associated_data,
                                         const char *ciphertext_base64);

/* Lower-case hex HMAC-SHA256 of "data" under "key". */
void pay_hmac_sha256_hex(char out[65], const void *key, size_t key_size, const void *data,
                         size_t size);
/* Lower-case hex MD5 of "data". */
void pay_md5_hex(char out[33], const void *data, size_t size);
/* Upper-cases the hex digits of "text" in place (WeChat Pay v2 signs in upper case). */
void pay_hex_upper(char *text);
/* "bytes" random bytes as lower-case hex into "out" (2 * bytes + 1). */
void pay_random_hex(char *out, size_t bytes);
/* Compares two NUL-terminated texts in time that depends on their length only. */
bool pay_text_equal(const char *a, const char *b);

#endif
