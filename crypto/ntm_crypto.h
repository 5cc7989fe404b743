/* SPDX-License-Identifier: MIT */
/*
 * ntm_crypto.h - keys, signatures, hashes and encodings for ntm.
 *
 * A thin layer over libsodium with libsodium's shape (outputs first, fixed
 * sizes) that returns enum ntm_err. Nothing outside crypto/ includes
 * <sodium.h>. Depends on util/ only.
 *
 * Secrets (secret keys, passphrase-derived keys) live in sodium_malloc'd
 * memory inside struct ntm_key and are wiped when freed.
 *
 * Thread safety: every function is safe to call from several threads once
 * ntm_global_init() has returned; a struct ntm_key may be shared for
 * signing (read-only).
 */
#ifndef NTM_CRYPTO_H
#define NTM_CRYPTO_H

#include "ntm_util.h"

#define NTM_PUBLICKEY_BYTES 32
#define NTM_SECRETKEY_BYTES 64
#define NTM_SIGNATURE_BYTES 64
#define NTM_HASH_BYTES      32
#define NTM_HEX_ID_LEN      64 /* hex of a key or of a hash, without NUL */
#define NTM_SIG_B64_LEN     88 /* base64 of a signature, without NUL */

/* ------------------------------------------------------------------ */
/* Key pairs */

struct ntm_key; /* opaque; holds the secret key in guarded memory */

/*
 * new: a fresh Ed25519 key pair in *out (NULL on failure); free with
 * ntm_key_free. Errors: NTM_ENOMEM (guarded memory), NTM_ECRYPTO.
 */
NTM_EXTERN enum ntm_err ntm_key_generate(struct ntm_key **out,
                                         struct ntm_error *err);

/*
 * Write the key to path, created 0600 with O_EXCL|O_NOFOLLOW (never
 * overwrites, never follows a symlink) and fsync'd with its folder. With a
 * passphrase, the secret key is sealed with XChaCha20-Poly1305 under a key
 * derived by Argon2id (3 passes over 64 MiB, random salt; the parameters
 * are recorded in the file); passphrase NULL writes it unsealed (the CLI
 * warns). The format is self-describing: magic, version, algorithm tags,
 * key id, KDF parameters (layout in crypto/keys.c). The folder's mode is
 * the caller's business (the CLI makes the home 0700).
 *
 * Errors: NTM_EEXIST (path exists, left untouched), NTM_EINVAL (empty
 * passphrase), NTM_EIO / NTM_EFULL / NTM_EREADONLY (file system; a half
 * written file is removed), NTM_ENOMEM (guarded memory or Argon2id).
 */
NTM_EXTERN enum ntm_err ntm_key_save(const struct ntm_key *key,
                                     const char *path, const char *passphrase,
                                     struct ntm_error *err);

/*
 * Replace the key file at path with key sealed under passphrase (NULL:
 * unsealed), with this version's KDF parameters: a new file path.new is
 * written (0600, O_EXCL|O_NOFOLLOW, a stale path.new removed first) and
 * fsync'd, renamed over path, and the folder fsync'd. On any failure path
 * is left as it was and path.new removed. For changing a passphrase
 * (load with the old one, replace with the new one). Errors as
 * ntm_key_save's.
 */
NTM_EXTERN enum ntm_err ntm_key_replace(const struct ntm_key *key,
                                        const char *path,
                                        const char *passphrase,
                                        struct ntm_error *err);

/* The Argon2id parameters recorded in the key file at path (0 and 0 when
 * it is unsealed), read without the passphrase. Errors as
 * ntm_key_file_is_sealed's. */
NTM_EXTERN enum ntm_err ntm_key_file_kdf(const char *path, uint64_t *opslimit,
                                         uint64_t *memlimit,
                                         struct ntm_error *err);
/* The Argon2id parameters this version writes. */
NTM_EXTERN void ntm_key_kdf_current(uint64_t *opslimit, uint64_t *memlimit);

/*
 * new: the key read from path into *out (NULL on failure); free with
 * ntm_key_free. passphrase may be NULL for an unsealed key file (it is
 * ignored for one). Refuses symlinks and non-regular files, checks magic,
 * version, algorithm, key id, and that the secret key yields the public
 * key, so a damaged file never loads as a wrong key.
 *
 * Errors: NTM_EPASSPHRASE (sealed file with a wrong or missing passphrase,
 * or a damaged file: fails closed), NTM_ENOENT (no file), NTM_EINVAL (not
 * an ntm key file, or a newer format version), NTM_EIO (symlink, not a
 * regular file, read error), NTM_EPERMS (group or others may read or write
 * it: mode & 077), NTM_ENOMEM.
 */
NTM_EXTERN enum ntm_err ntm_key_load(struct ntm_key **out, const char *path,
                                     const char *passphrase,
                                     struct ntm_error *err);

/* Whether the key file at path is sealed with a passphrase (*sealed: 1
 * sealed, 0 not). Reads only the header: no passphrase, no Argon2 work.
 * Errors as ntm_key_load's file checks. */
NTM_EXTERN enum ntm_err ntm_key_file_is_sealed(const char *path, int *sealed,
                                               struct ntm_error *err);

/* The public key stored in the key file at path, without unsealing it (for
 * `whoami`-like uses that need no passphrase). The header checks of
 * ntm_key_load apply (magic, version, key id); the secret part is not
 * checked, so use ntm_key_load before trusting the file for signing. */
NTM_EXTERN enum ntm_err
ntm_key_file_public(const char *path, unsigned char pk[NTM_PUBLICKEY_BYTES],
                    struct ntm_error *err);

/* Wipes and frees the key (takes). NULL is a no-op. */
NTM_EXTERN void ntm_key_free(struct ntm_key *key);

/* borrowed: the 32-byte public key, valid while key lives. */
NTM_EXTERN const unsigned char *ntm_key_public(const struct ntm_key *key);

/* The author id (SPEC 1): lowercase hex of the public key, written to
 * out with its NUL. */
NTM_EXTERN void ntm_key_author(const struct ntm_key *key,
                               char out[NTM_HEX_ID_LEN + 1]);

/* Ed25519 detached signature (crypto_sign_detached) of msg[0..len) into
 * sig. Deterministic. Safe on a key shared by several threads. NTM_OK, or
 * NTM_ECRYPTO should libsodium ever fail. */
NTM_EXTERN enum ntm_err ntm_key_sign(const struct ntm_key *key,
                                     unsigned char sig[NTM_SIGNATURE_BYTES],
                                     const void *msg, size_t len);

/* ------------------------------------------------------------------ */
/* Verification and hashing */

/* NTM_OK when sig is a valid signature of msg by pk, else NTM_EBADSIG.
 * libsodium's strict checks apply (non-canonical S, small-order keys). */
NTM_EXTERN enum ntm_err
ntm_sign_verify(const unsigned char sig[NTM_SIGNATURE_BYTES], const void *msg,
                size_t len, const unsigned char pk[NTM_PUBLICKEY_BYTES]);

/* BLAKE2b-256 of msg, no key (entry ids, request body hashes). */
NTM_EXTERN void ntm_hash(unsigned char out[NTM_HASH_BYTES], const void *msg,
                         size_t len);

/* Lowercase hex of BLAKE2b-256 of msg (the entry id of SPEC 2), with
 * its NUL. */
NTM_EXTERN void ntm_hash_hex(char out[NTM_HEX_ID_LEN + 1], const void *msg,
                             size_t len);

/*
 * BLAKE2b-256 of a stream (attachment files, hashed as they are read or
 * received): init, update with each piece, final. Gives what ntm_hash
 * gives for the concatenation. The state is opaque (libsodium's
 * crypto_generichash_state, which needs 64-byte alignment).
 */
struct ntm_hash_stream {
    _Alignas(64) unsigned char opaque[384];
};
NTM_EXTERN void ntm_hash_stream_init(struct ntm_hash_stream *h);
NTM_EXTERN void ntm_hash_stream_update(struct ntm_hash_stream *h,
                                       const void *msg, size_t len);
/* The lowercase hex of the hash, with its NUL. h may not be updated after. */
NTM_EXTERN void ntm_hash_stream_final_hex(struct ntm_hash_stream *h,
                                          char out[NTM_HEX_ID_LEN + 1]);

/* Fill buf with n bytes from the CSPRNG (randombytes_buf). */
NTM_EXTERN void ntm_random(void *buf, size_t n);

/* Constant-time comparison (sodium_memcmp) for MACs, tokens and hashes of
 * secrets; 0 when equal, 1 otherwise (no ordering). */
NTM_EXTERN int ntm_memcmp_ct(const void *a, const void *b, size_t n);

/* Wipe n bytes at p so the compiler cannot drop the write. */
NTM_EXTERN void ntm_memzero(void *p, size_t n);

/*
 * new: n bytes of guarded memory (sodium_malloc: guard pages, canary, not
 * swapped out where the system allows) for secrets held outside crypto/,
 * such as a passphrase read by the CLI; NULL when out of memory. Free with
 * ntm_secret_free, which wipes it. Costs a few pages: not for bulk data.
 */
NTM_EXTERN void *ntm_secret_alloc(size_t n);

/* Wipes and frees memory from ntm_secret_alloc (takes). NULL is a no-op. */
NTM_EXTERN void ntm_secret_free(void *p);

/* ------------------------------------------------------------------ */
/* Encodings */

/* Lowercase hex of in[0..n); out must hold 2n+1 bytes. */
NTM_EXTERN void ntm_hex_encode(char *out, const unsigned char *in, size_t n);

/* Decode exactly outlen bytes from hex (which must be 2*outlen lowercase
 * or uppercase hex digits, nothing else). NTM_EINVAL otherwise. */
NTM_EXTERN enum ntm_err ntm_hex_decode(unsigned char *out, size_t outlen,
                                       const char *hex, size_t hexlen);

/* Whether the NUL-terminated string s is exactly n lowercase hex digits
 * (1) or not (0): shorter, longer, upper case or other characters give 0.
 * Reads at most s[0..n]. */
NTM_EXTERN int ntm_is_lower_hex(const char *s, size_t n);

/* Standard base64 with padding (RFC 4648 section 4). out must hold
 * ntm_b64_encoded_len(n) bytes (NUL included). */
NTM_EXTERN size_t ntm_b64_encoded_len(size_t n);
NTM_EXTERN void ntm_b64_encode(char *out, const unsigned char *in, size_t n);

/* Decode standard padded base64 b64[0..b64len) into out (capacity outcap;
 * NTM_ENOMEM only for a text past 512 bytes when memory runs out);
 * *outlen gets the decoded size (0 on failure). Strict: NTM_EINVAL for
 * characters outside the alphabet (white space included), missing or extra
 * padding, non-zero unused bits, or output larger than outcap. */
NTM_EXTERN enum ntm_err ntm_b64_decode(unsigned char *out, size_t outcap,
                                       size_t *outlen, const char *b64,
                                       size_t b64len);

/* As ntm_hex_decode and ntm_b64_decode (the same texts accepted, the same
 * bytes out), but not in constant time: for public values only
 * (signatures, public keys), never for secrets. */
NTM_EXTERN enum ntm_err ntm_hex_decode_public(unsigned char *out, size_t outlen,
                                              const char *hex, size_t hexlen);
NTM_EXTERN enum ntm_err ntm_b64_decode_public(unsigned char *out, size_t outcap,
                                              size_t *outlen, const char *b64,
                                              size_t b64len);

/* ------------------------------------------------------------------ */
/* minisign interoperability (minisign -V -p device.pub -m FILE) */

/* The minisign key id of a key: first 8 bytes of BLAKE2b-256(pk) (minisign
 * itself draws it at random; ntm derives it so that it follows from the
 * key). Also stored in the key file. */
NTM_EXTERN void ntm_minisign_keyid(unsigned char id[8],
                                   const unsigned char pk[NTM_PUBLICKEY_BYTES]);

/* Append to out the text of a minisign public key file for key
 * ("untrusted comment: minisign public key <KEYID>\n<base64 of
 * Ed|keyid|pk>\n", <KEYID> as minisign prints it). NTM_ENOMEM only. */
NTM_EXTERN enum ntm_err ntm_minisign_pubkey(const struct ntm_key *key,
                                            struct ntm_buf *out,
                                            struct ntm_error *err);

/*
 * Sign the file at path the minisign way (prehashed "ED": BLAKE2b-512 of
 * the file, streamed, then a global signature over signature || trusted
 * comment) and write path.minisig (or sig_path when not NULL) atomically,
 * mode 0644. trusted_comment NULL gives minisign's default
 * "timestamp:<unix time>\tfile:<base name>\thashed".
 *
 * Errors: NTM_EINVAL (comment with a line break or over 8000 bytes),
 * NTM_ENOENT / NTM_EIO (reading path or writing the signature), NTM_ENOMEM.
 *
 * Example: ntm_minisign_sign_file(key, "out.bundle", NULL, NULL, &err);
 * then `minisign -V -p device.pub -m out.bundle` accepts it.
 */
NTM_EXTERN enum ntm_err ntm_minisign_sign_file(const struct ntm_key *key,
                                               const char *path,
                                               const char *sig_path,
                                               const char *trusted_comment,
                                               struct ntm_error *err);

/*
 * Verify the minisign signature of the file at path, read from sig_path
 * (path.minisig when NULL), against pubkey_text: a minisign public key file's
 * text, or its base64 line alone. Both signature forms are accepted: legacy
 * "Ed" (the file is read into memory, up to 1 GiB as minisign) and
 * prehashed "ED" (streamed). The trusted comment's global signature is
 * checked too. The key id is compared first, so a signature by another key
 * says so.
 *
 * Errors: NTM_EBADSIG (another key, changed file or trusted comment, or a
 * signature file that is not one), NTM_EINVAL (pubkey_text is not a
 * minisign public key), NTM_ENOENT (file or signature missing), NTM_EIO,
 * NTM_ETOOLARGE (legacy form over 1 GiB), NTM_ENOMEM.
 */
NTM_EXTERN enum ntm_err ntm_minisign_verify_file(const char *pubkey_text,
                                                 const char *path,
                                                 const char *sig_path,
                                                 struct ntm_error *err);

#endif /* NTM_CRYPTO_H */
