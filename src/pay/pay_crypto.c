/*
 * pay_crypto.c - RSA, AES-GCM, HMAC and MD5 for the providers, over OpenSSL's EVP interface.
 *
 * Every function here is stateless and safe from any thread; keys are loaded once at
 * start-up and only read afterwards.
 */
#include "pay/pay_crypto.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

int pay_public_keys_add(struct pay_keys *keys, const char *pem)
{
    if (pem == NULL)
        return LEB_E_INVALID_REQUEST;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    LEB_ASSERT(bio != NULL);
    size_t before = keys->count;
    int rc = 0;
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *data = NULL;
        long size = 0;
        if (PEM_read_bio(bio, &name, &header, &data, &size) != 1)
            break;
        const unsigned char *p = data;
        EVP_PKEY *key = NULL;
        if (strcmp(name, "PUBLIC KEY") == 0) {
            key = d2i_PUBKEY(NULL, &p, size);
        } else if (strcmp(name, "CERTIFICATE") == 0) {
            X509 *certificate = d2i_X509(NULL, &p, size);
            if (certificate != NULL)
                key = X509_get_pubkey(certificate);
            X509_free(certificate);
        } else if (strcmp(name, "RSA PUBLIC KEY") == 0) {
            key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, size);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        if (key == NULL || keys->count == PAY_KEYS_MAX) {
            EVP_PKEY_free(key);
            rc = LEB_E_INVALID_REQUEST;
            break;
        }
        keys->keys[keys->count++] = key;
    }
    BIO_free(bio);
    if (rc == 0 && keys->count == before)
        rc = LEB_E_INVALID_REQUEST;
    return rc;
}

void pay_keys_free(struct pay_keys *keys)
{
    for (size_t i = 0; i < keys->count; i++)
        EVP_PKEY_free(keys->keys[i]);
    memset(keys, 0, sizeof(*keys));
}

EVP_PKEY *pay_private_key_load(const char *pem)
{
    if (pem == NULL)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    LEB_ASSERT(bio != NULL);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return key;
}

char *pay_rsa_sign_base64(EVP_PKEY *key, const void *data, size_t size)
{
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    LEB_ASSERT(context != NULL);
    size_t signature_size = 0;
    unsigned char *signature = NULL;
    char *encoded = NULL;
    if (EVP_DigestSignInit(context, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(context, NULL, &signature_size, data, size) == 1) {
        signature = malloc(signature_size);
        LEB_ASSERT(signature != NULL);
        if (EVP_DigestSign(context, signature, &signature_size, data, size) == 1) {
            size_t encoded_size =
                sodium_base64_encoded_len(signature_size, sodium_base64_VARIANT_ORIGINAL);
            encoded = malloc(encoded_size);
            LEB_ASSERT(encoded != NULL);
            sodium_bin2base64(encoded, encoded_size, signature, signature_size,
                              sodium_base64_VARIANT_ORIGINAL);
        }
    }
    free(signature);
    EVP_MD_CTX_free(context);
    return encoded;
}

bool pay_rsa_verify_base64(const struct pay_keys *keys, const void *data, size_t size,
                           const char *signature_base64)
{
    if (signature_base64 == NULL)
        return false;
    size_t length = strlen(signature_base64), signature_size = 0;
    if (length == 0 || length > 4096)
        return false;
    unsigned char signature[3072];
    if (sodium_base642bin(signature, sizeof(signature), signature_base64, length, NULL,
                          &signature_size, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    bool verified = false;
    for (size_t i = 0; i < keys->count && !verified; i++) {
        EVP_MD_CTX *context = EVP_MD_CTX_new();
        LEB_ASSERT(context != NULL);
        verified = EVP_DigestVerifyInit(context, NULL, EVP_sha256(), NULL, keys->keys[i]) == 1 &&
                   EVP_DigestVerify(context, signature, signature_size, data, size) == 1;
        EVP_MD_CTX_free(context);
    }
    return verified;
}

int pay_aes256gcm_decrypt(char **out, size_t *out_size, const char *key, const char *nonce,
                          const char *associated_data, const char *ciphertext_base64)
{
    *out = NULL;
    *out_size = 0;
    if (key == NULL || strlen(key) != 32 || nonce == NULL || strlen(nonce) == 0 ||
        strlen(nonce) > 64 || ciphertext_base64 == NULL || associated_data == NULL)
        return LEB_E_INVALID_REQUEST;
    size_t length = strlen(ciphertext_base64), size = 0;
    unsigned char *ciphertext = malloc(length + 1);
    LEB_ASSERT(ciphertext != NULL);
    if (sodium_base642bin(ciphertext, length + 1, ciphertext_base64, length, NULL, &size, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        size < 16) {
        free(ciphertext);
        return LEB_E_INVALID_REQUEST;
    }
    size_t text_size = size - 16;
    unsigned char *plain = malloc(text_size + 1);
    LEB_ASSERT(plain != NULL);
    EVP_CIPHER_CTX *context = EVP_CIPHER_CTX_new();
    LEB_ASSERT(context != NULL);
    int n = 0, total = 0;
    bool ok = EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, (int)strlen(nonce), NULL) == 1 &&
              EVP_DecryptInit_ex(context, NULL, NULL, (const unsigned char *)key,
                                 (const unsigned char *)nonce) == 1 &&
              EVP_DecryptUpdate(context, NULL, &n, (const unsigned char *)associated_data,
                                (int)strlen(associated_data)) == 1 &&
              EVP_DecryptUpdate(context, plain, &n, ciphertext, (int)text_size) == 1;
    total = n;
    ok = ok &&
         EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, 16, ciphertext + text_size) == 1 &&
         EVP_DecryptFinal_ex(context, plain + total, &n) == 1;
    EVP_CIPHER_CTX_free(context);
    free(ciphertext);
    if (!ok) {
        free(plain);
        return LEB_E_INVALID_SIGNATURE;
    }
    total += n;
    plain[total] = '\0';
    *out = (char *)plain;
    *out_size = (size_t)total;
    return 0;
}

void pay_hmac_sha256_hex(char out[65], const void *key, size_t key_size, const void *data,
                         size_t size)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    LEB_ASSERT(HMAC(EVP_sha256(), key, (int)key_size, data, size, digest, &digest_size) != NULL);
    sodium_bin2hex(out, 65, digest, digest_size);
}

void pay_md5_hex(char out[33], const void *data, size_t size)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    LEB_ASSERT(EVP_Digest(data, size, digest, &digest_size, EVP_md5(), NULL) == 1);
    sodium_bin2hex(out, 33, digest, digest_size);
}

void pay_hex_upper(char *text)
{
    for (; *text; text++)
        if (*text >= 'a' && *text <= 'f')
            *text = (char)(*text - 'a' + 'A');
}

void pay_random_hex(char *out, size_t bytes)
{
    unsigned char random[64];
    LEB_ASSERT(bytes <= sizeof(random));
    randombytes_buf(random, bytes);
    sodium_bin2hex(out, 2 * bytes + 1, random, bytes);
}

bool pay_text_equal(const char *a, const char *b)
{
    size_t size = strlen(a);
    return size == strlen(b) && sodium_memcmp(a, b, size) == 0;
}
