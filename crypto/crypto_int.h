/* SPDX-License-Identifier: MIT */
/*
 * crypto_int.h - declarations shared by the files of crypto/ only.
 *
 * The body of struct ntm_key lives here so that keys.c (creation, key
 * files), sign.c (signing) and minisign.c (minisign export and signing) can
 * reach it; nothing outside crypto/ includes this header.
 */
#ifndef NTM_CRYPTO_INT_H
#define NTM_CRYPTO_INT_H

#include "ntm_crypto.h"

/*
 * A key pair. pk is public and lives in ordinary memory; sk (64 bytes,
 * libsodium's seed || pk layout) lives in sodium_malloc'd guarded memory,
 * made read-only once filled so that a shared key cannot be changed by
 * accident, and is wiped by sodium_free in ntm_key_free.
 */
struct ntm_key {
    unsigned char pk[NTM_PUBLICKEY_BYTES];
    unsigned char *sk; /* sodium_malloc(NTM_SECRETKEY_BYTES) */
};

/* new: a key with sk allocated (writable, zeroed) and pk zeroed; NULL when
 * out of memory. Fill sk and pk, then call Ntm_key_seal_memory. */
struct ntm_key *Ntm_key_alloc(void);

/* Make key->sk read-only (sodium_mprotect_readonly). */
void Ntm_key_seal_memory(struct ntm_key *key);

/* Size of the minisign key id, in bytes. */
#define NTM_MINISIGN_KEYID_BYTES 8

/* init.c: sodium_init, once (ntm_global_init calls it first). */
enum ntm_err Ntm_crypto_init(void);

#endif /* NTM_CRYPTO_INT_H */
