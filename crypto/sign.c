/* SPDX-License-Identifier: MIT */
/*
 * sign.c - Ed25519 signing and verification, BLAKE2b-256 hashing, the
 * CSPRNG, constant-time helpers and guarded memory for secrets.
 *
 * Verification is libsodium's crypto_sign_verify_detached as is: it
 * rejects non-canonical S, small-order and non-canonical public keys and
 * small-order R (SPEC 2 step 2 relies on that strictness; do not replace
 * it by a more lenient check). Depends on util/ and libsodium only.
 */
#include "crypto_int.h"

#include <sodium.h>

_Static_assert(crypto_sign_BYTES == NTM_SIGNATURE_BYTES, "signature size");
_Static_assert(crypto_generichash_BYTES == NTM_HASH_BYTES, "hash size");

enum ntm_err
ntm_key_sign(const struct ntm_key *key, unsigned char sig[NTM_SIGNATURE_BYTES],
             const void *msg, size_t len)
{
    if (crypto_sign_detached(sig, NULL, msg, len, key->sk) != 0)
        return NTM_ECRYPTO;
    return NTM_OK;
}

enum ntm_err
ntm_sign_verify(const unsigned char sig[NTM_SIGNATURE_BYTES], const void *msg,
                size_t len, const unsigned char pk[NTM_PUBLICKEY_BYTES])
{
    if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
        return NTM_EBADSIG;
    return NTM_OK;
}

void
ntm_hash(unsigned char out[NTM_HASH_BYTES], const void *msg, size_t len)
{
    crypto_generichash(out, NTM_HASH_BYTES, msg, len, NULL, 0);
}

void
ntm_hash_hex(char out[NTM_HEX_ID_LEN + 1], const void *msg, size_t len)
{
    unsigned char h[NTM_HASH_BYTES];
    ntm_hash(h, msg, len);
    ntm_hex_encode(out, h, sizeof(h));
}

void
ntm_random(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}

int
ntm_memcmp_ct(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0 ? 0 : 1;
}

void
ntm_memzero(void *p, size_t n)
{
    sodium_memzero(p, n);
}

void *
ntm_secret_alloc(size_t n)
{
    return sodium_malloc(n);
}

void
ntm_secret_free(void *p)
{
    sodium_free(p); /* NULL-safe; wipes before unmapping */
}

_Static_assert(sizeof(crypto_generichash_state) <=
                   sizeof(((struct ntm_hash_stream *)0)->opaque),
               "struct ntm_hash_stream too small for libsodium's state");

void
ntm_hash_stream_init(struct ntm_hash_stream *h)
{
    crypto_generichash_init((crypto_generichash_state *)(void *)h->opaque, NULL,
                            0, NTM_HASH_BYTES);
}

void
ntm_hash_stream_update(struct ntm_hash_stream *h, const void *msg, size_t len)
{
    crypto_generichash_update((crypto_generichash_state *)(void *)h->opaque,
                              msg, len);
}

void
ntm_hash_stream_final_hex(struct ntm_hash_stream *h,
                          char out[NTM_HEX_ID_LEN + 1])
{
    unsigned char d[NTM_HASH_BYTES];
    crypto_generichash_final((crypto_generichash_state *)(void *)h->opaque, d,
                             NTM_HASH_BYTES);
    ntm_hex_encode(out, d, NTM_HASH_BYTES);
}
