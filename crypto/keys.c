/* SPDX-License-Identifier: MIT */
/*
 * keys.c - Ed25519 key pairs and the key file that holds one.
 *
 * A key file is small and binary (all integers little-endian):
 *
 *   offset size  field
 *        0    4  magic "NTMK"
 *        4    1  format version, 1
 *        5    2  signature algorithm "Ed" (Ed25519)
 *        7    8  key id: minisign key id, BLAKE2b-256(pk)[0..8)
 *       15    2  protection: "AX" sealed (Argon2id v1.3 via crypto_pwhash,
 *                then XChaCha20-Poly1305-IETF), "NO" unsealed
 *       17    8  Argon2id opslimit (0 when unsealed): the number of
 *                passes, as recorded when the file was written
 *       25    8  Argon2id memlimit in bytes (0 when unsealed), as
 *                recorded (files of ntm 0.1: 3 and 256 MiB, MODERATE;
 *                from 0.2: 3 and 64 MiB, KF_OPSLIMIT and KF_MEMLIMIT)
 *       33   16  Argon2id salt (zeros when unsealed)
 *       49   24  XChaCha20-Poly1305 nonce (zeros when unsealed)
 *       73   32  public key
 *      105   80  sealed: the 64-byte secret key encrypted + 16-byte tag,
 *                with bytes 0..105 as associated data (a changed header
 *                byte fails like a wrong passphrase);
 *            64  unsealed: the secret key as is.
 *
 * The KDF parameters are stored so that a later version can raise them
 * while still reading old files: loading uses the ones a file records
 * (within sanity bounds), writing uses this version's. A file is only
 * ever replaced whole (ntm_key_replace: a new file beside it, fsync,
 * rename, fsync of the folder), so a crash leaves the old file or the
 * new one, never half of either. Loading checks every header field, the
 * key id against the public key, and that the secret key yields the public
 * key, so a damaged file fails with an error, never with a wrong key.
 * Secrets stay in sodium_malloc'd memory; stack copies are wiped. This
 * file does not prompt for passphrases nor pick paths or folder modes:
 * cli/ does. Depends on util/ and libsodium only (STYLE rule 4).
 */
#include "crypto_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KF_MAGIC        "NTMK"
#define KF_VERSION      1
#define KF_ALG          "Ed"
#define KF_SEALED       "AX"
#define KF_UNSEALED     "NO"
#define KF_OFF_VERSION  4
#define KF_OFF_ALG      5
#define KF_OFF_KEYID    7
#define KF_OFF_PROT     15
#define KF_OFF_OPS      17
#define KF_OFF_MEM      25
#define KF_OFF_SALT     33
#define KF_OFF_NONCE    49
#define KF_OFF_PK       73
#define KF_HEADER_BYTES 105
#define KF_SALT_BYTES   16
#define KF_NONCE_BYTES  24
#define KF_TAG_BYTES    16
#define KF_SEALED_BYTES                                                        \
    (KF_HEADER_BYTES + NTM_SECRETKEY_BYTES + KF_TAG_BYTES)        /* 185 */
#define KF_UNSEALED_BYTES (KF_HEADER_BYTES + NTM_SECRETKEY_BYTES) /* 169 */

/* Accepted KDF parameters when loading: whatever a file records, within
 * bounds that only stop a damaged file from asking for absurd work or
 * memory. Files written before version 0.2 record libsodium's MODERATE
 * (opslimit 3, memlimit 256 MiB) and still open. */
#define KF_OPSLIMIT_MAX 64ULL
#define KF_MEMLIMIT_MAX (4ULL << 30)

/*
 * Parameters written by this version (ntm_key_save, ntm_key_replace):
 * Argon2id with 64 MiB and 3 passes. Officers' phones have 1-2 GB of
 * memory; MODERATE's 256 MiB (275 MB peak for the whole tool) was too
 * much. 3 passes over 64 MiB take 0.07 s on a 2020s x86-64 server core
 * with libsodium's AVX2 code, and about 0.5 s on a slow phone core
 * (Cortex-A53 class, portable code): a guess costs an attacker 64 MiB of
 * memory and as many passes. They are recorded in each file, so a later
 * version can raise them: 'ntm key passwd' rewrites a file with the
 * parameters of the version that runs it.
 */
#define KF_OPSLIMIT 3ULL
#define KF_MEMLIMIT (64ULL << 20)
_Static_assert(KF_OPSLIMIT >= crypto_pwhash_OPSLIMIT_MIN, "opslimit");
_Static_assert(KF_MEMLIMIT >= crypto_pwhash_MEMLIMIT_MIN, "memlimit");

_Static_assert(crypto_pwhash_SALTBYTES == KF_SALT_BYTES, "salt size");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == KF_NONCE_BYTES,
               "nonce size");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == KF_TAG_BYTES,
               "tag size");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32, "key size");
_Static_assert(crypto_sign_PUBLICKEYBYTES == NTM_PUBLICKEY_BYTES, "pk size");
_Static_assert(crypto_sign_SECRETKEYBYTES == NTM_SECRETKEY_BYTES, "sk size");

static void
store_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

struct ntm_key *
Ntm_key_alloc(void)
{
    struct ntm_key *key = ntm_calloc(1, sizeof(*key));
    if (!key)
        return NULL;
    key->sk = sodium_malloc(NTM_SECRETKEY_BYTES);
    if (!key->sk) {
        ntm_free(key);
        return NULL;
    }
    sodium_memzero(key->sk, NTM_SECRETKEY_BYTES);
    return key;
}

void
Ntm_key_seal_memory(struct ntm_key *key)
{
    sodium_mprotect_readonly(key->sk);
}

void
ntm_key_free(struct ntm_key *key)
{
    if (!key)
        return;
    sodium_free(key->sk); /* wipes before unmapping */
    sodium_memzero(key, sizeof(*key));
    ntm_free(key);
}

enum ntm_err
ntm_key_generate(struct ntm_key **out, struct ntm_error *err)
{
    *out = NULL;
    struct ntm_key *key = Ntm_key_alloc();
    if (!key)
        return ntm_error_set(err, NTM_ENOMEM,
                             "cannot allocate guarded memory for a new key");
    if (crypto_sign_keypair(key->pk, key->sk) != 0) {
        ntm_key_free(key);
        return ntm_error_set(err, NTM_ECRYPTO, "cannot generate a key pair");
    }
    Ntm_key_seal_memory(key);
    *out = key;
    return NTM_OK;
}

const unsigned char *
ntm_key_public(const struct ntm_key *key)
{
    return key->pk;
}

void
ntm_key_author(const struct ntm_key *key, char out[NTM_HEX_ID_LEN + 1])
{
    ntm_hex_encode(out, key->pk, NTM_PUBLICKEY_BYTES);
}

/* Fill the header fields that do not depend on sealing. */
static void
header_init(unsigned char *h, const unsigned char *pk, const char *prot)
{
    memset(h, 0, KF_HEADER_BYTES);
    memcpy(h, KF_MAGIC, 4);
    h[KF_OFF_VERSION] = KF_VERSION;
    memcpy(h + KF_OFF_ALG, KF_ALG, 2);
    ntm_minisign_keyid(h + KF_OFF_KEYID, pk);
    memcpy(h + KF_OFF_PROT, prot, 2);
    memcpy(h + KF_OFF_PK, pk, NTM_PUBLICKEY_BYTES);
}

/* Derive the 32-byte sealing key into dk (guarded memory) from passphrase
 * and the KDF fields of header h. */
static enum ntm_err
derive_key(unsigned char *dk, const char *passphrase, const unsigned char *h,
           const char *path, struct ntm_error *err)
{
    uint64_t ops = load_le64(h + KF_OFF_OPS);
    uint64_t mem = load_le64(h + KF_OFF_MEM);
    if (crypto_pwhash(dk, 32, passphrase, strlen(passphrase), h + KF_OFF_SALT,
                      (unsigned long long)ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return ntm_error_set(err, NTM_ENOMEM,
                             "cannot derive the key for key file '%s': out of "
                             "memory (Argon2id needs %llu MiB) - close other "
                             "programs and try again",
                             path, (unsigned long long)(mem >> 20));
    return NTM_OK;
}

static enum ntm_err
write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return NTM_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return NTM_OK;
}

static void
fsync_parent(const char *path)
{
    struct ntm_buf dir = NTM_BUF_INIT;
    const char *slash = strrchr(path, '/');
    enum ntm_err rc;
    if (!slash)
        rc = ntm_buf_adds(&dir, ".");
    else if (slash == path)
        rc = ntm_buf_adds(&dir, "/");
    else
        rc = ntm_buf_add(&dir, path, (size_t)(slash - path));
    if (rc == NTM_OK) {
        int fd = open(dir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fsync(fd);
            close(fd);
        }
    }
    ntm_buf_release(&dir);
}

/* Write the key file to path, created with O_EXCL (path must not exist);
 * on failure the file made is removed. shown is the path named in
 * messages (the final one when path is a temporary beside it). */
static enum ntm_err
write_key_file(const struct ntm_key *key, const char *path, const char *shown,
               const char *passphrase, struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    unsigned char *file = NULL; /* guarded: may hold the plain secret key */
    unsigned char *dk = NULL;
    size_t file_len = passphrase ? KF_SEALED_BYTES : KF_UNSEALED_BYTES;
    int fd = -1;
    int created = 0;

    if (passphrase && !*passphrase)
        return ntm_error_set(err, NTM_EINVAL,
                             "empty passphrase for key file '%s' - give a "
                             "passphrase or choose an unsealed key file",
                             shown);
    file = sodium_malloc(KF_SEALED_BYTES);
    dk = sodium_malloc(32);
    if (!file || !dk) {
        rc = ntm_error_set(err, NTM_ENOMEM,
                           "cannot allocate guarded memory to save key file "
                           "'%s'",
                           shown);
        goto out;
    }

    /* Create first: an existing file is refused before any slow work. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            rc = ntm_error_set(err, NTM_EEXIST,
                               "key file '%s' already exists - it is never "
                               "overwritten; move it away first",
                               shown);
        else
            rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                     "cannot create key file '%s'", shown);
        goto out;
    }
    created = 1;

    if (passphrase) {
        header_init(file, key->pk, KF_SEALED);
        store_le64(file + KF_OFF_OPS, KF_OPSLIMIT);
        store_le64(file + KF_OFF_MEM, KF_MEMLIMIT);
        randombytes_buf(file + KF_OFF_SALT, KF_SALT_BYTES);
        randombytes_buf(file + KF_OFF_NONCE, KF_NONCE_BYTES);
        rc = derive_key(dk, passphrase, file, shown, err);
        if (rc != NTM_OK)
            goto out;
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            file + KF_HEADER_BYTES, NULL, key->sk, NTM_SECRETKEY_BYTES, file,
            KF_HEADER_BYTES, NULL, file + KF_OFF_NONCE, dk);
    } else {
        header_init(file, key->pk, KF_UNSEALED);
        memcpy(file + KF_HEADER_BYTES, key->sk, NTM_SECRETKEY_BYTES);
    }

    if (write_all(fd, file, file_len) != NTM_OK || fsync(fd) != 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                 "cannot write key file '%s'", shown);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                 "cannot write key file '%s'", shown);
        goto out;
    }
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    /* The file was created by us (O_EXCL): never leave half a key. */
    if (rc != NTM_OK && created)
        (void)unlink(path);
    sodium_free(dk);
    sodium_free(file);
    return rc;
}

enum ntm_err
ntm_key_save(const struct ntm_key *key, const char *path,
             const char *passphrase, struct ntm_error *err)
{
    enum ntm_err rc = write_key_file(key, path, path, passphrase, err);
    if (rc == NTM_OK)
        fsync_parent(path);
    return rc;
}

enum ntm_err
ntm_key_replace(const struct ntm_key *key, const char *path,
                const char *passphrase, struct ntm_error *err)
{
    struct ntm_buf tmp = NTM_BUF_INIT;
    if (ntm_buf_addf(&tmp, "%s.new", path) != NTM_OK) {
        ntm_buf_release(&tmp);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    /* A .new left by a crash during an earlier change is ours: the old
     * file was never touched then. unlink removes a symlink itself. */
    (void)unlink(tmp.buf);
    enum ntm_err rc = write_key_file(key, tmp.buf, path, passphrase, err);
    if (rc == NTM_OK && rename(tmp.buf, path) != 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                 "cannot replace key file '%s' (the old file "
                                 "is unchanged)",
                                 path);
        (void)unlink(tmp.buf);
    }
    if (rc == NTM_OK)
        fsync_parent(path);
    ntm_buf_release(&tmp);
    return rc;
}

/*
 * Read the key file at path into buf (guarded, cap bytes) without
 * following symlinks; *len gets its size. Checks the size, magic, version,
 * algorithm, protection tag and key id.
 */
static enum ntm_err
read_key_file(unsigned char *buf, size_t cap, size_t *len, int *sealed,
              const char *path, struct ntm_error *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return ntm_error_set(err, NTM_EIO,
                                 "key file '%s' is a symbolic link - give "
                                 "the real file's path",
                                 path);
        return ntm_error_set_errno(err, e == ENOENT ? NTM_ENOENT : NTM_EIO, e,
                                   "cannot open key file '%s'", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ntm_error_set(err, NTM_EIO,
                             "key file '%s' is not a regular file", path);
    }
    /* A secret key others can read is no longer secret; one they can
     * write may be swapped for theirs (signify and ssh refuse both). */
    if (st.st_mode & 0077) {
        close(fd);
        return ntm_error_set(err, NTM_EPERMS,
                             "key file '%s' is open to other users (mode "
                             "%03o): run 'chmod 600 %s'",
                             path, (unsigned)(st.st_mode & 0777), path);
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return ntm_error_set_errno(err, NTM_EIO, e,
                                       "cannot read key file '%s'", path);
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == cap)
            break;
    }
    close(fd);
    *len = n;

    if (n < KF_HEADER_BYTES || memcmp(buf, KF_MAGIC, 4) != 0)
        return ntm_error_set(err, NTM_EINVAL,
                             "'%s' is not an ntm key file (bad magic or too "
                             "short)",
                             path);
    if (buf[KF_OFF_VERSION] != KF_VERSION)
        return ntm_error_set(err, NTM_EINVAL,
                             "key file '%s' has format version %u, this ntm "
                             "reads version %u - upgrade ntm",
                             path, (unsigned)buf[KF_OFF_VERSION], KF_VERSION);
    if (memcmp(buf + KF_OFF_ALG, KF_ALG, 2) != 0)
        return ntm_error_set(err, NTM_EINVAL,
                             "key file '%s' holds an unknown key algorithm",
                             path);
    if (memcmp(buf + KF_OFF_PROT, KF_SEALED, 2) == 0) {
        *sealed = 1;
        if (n != KF_SEALED_BYTES)
            goto damaged;
    } else if (memcmp(buf + KF_OFF_PROT, KF_UNSEALED, 2) == 0) {
        *sealed = 0;
        if (n != KF_UNSEALED_BYTES)
            goto damaged;
    } else {
        return ntm_error_set(err, NTM_EINVAL,
                             "key file '%s' uses an unknown protection - "
                             "upgrade ntm",
                             path);
    }
    unsigned char id[NTM_MINISIGN_KEYID_BYTES];
    ntm_minisign_keyid(id, buf + KF_OFF_PK);
    if (memcmp(id, buf + KF_OFF_KEYID, sizeof(id)) != 0)
        goto damaged;
    return NTM_OK;
damaged:
    return ntm_error_set(err, NTM_EPASSPHRASE,
                         "key file '%s' is damaged (size or key id does not "
                         "match) - restore it from a backup",
                         path);
}

/* Whether sk (64 bytes) is the secret key of pk. */
static int
sk_matches_pk(const unsigned char *sk, const unsigned char *pk)
{
    unsigned char *tmp = sodium_malloc(32 + 32 + 64);
    if (!tmp)
        return -1;
    unsigned char *seed = tmp, *pk2 = tmp + 32, *sk2 = tmp + 64;
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    crypto_sign_seed_keypair(pk2, sk2, seed);
    int ok = sodium_memcmp(pk2, pk, 32) == 0 && sodium_memcmp(sk2, sk, 64) == 0;
    sodium_free(tmp);
    return ok;
}

static int
all_zero(const unsigned char *p, size_t n)
{
    unsigned char acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

enum ntm_err
ntm_key_load(struct ntm_key **out, const char *path, const char *passphrase,
             struct ntm_error *err)
{
    enum ntm_err rc;
    unsigned char *file = NULL;
    unsigned char *dk = NULL;
    struct ntm_key *key = NULL;
    size_t len = 0;
    int sealed = 0;

    *out = NULL;
    file = sodium_malloc(KF_SEALED_BYTES + 1);
    dk = sodium_malloc(32);
    key = Ntm_key_alloc();
    if (!file || !dk || !key) {
        rc = ntm_error_set(err, NTM_ENOMEM,
                           "cannot allocate guarded memory to load key file "
                           "'%s'",
                           path);
        goto out;
    }
    rc = read_key_file(file, KF_SEALED_BYTES + 1, &len, &sealed, path, err);
    if (rc != NTM_OK)
        goto out;
    memcpy(key->pk, file + KF_OFF_PK, NTM_PUBLICKEY_BYTES);

    if (sealed) {
        uint64_t ops = load_le64(file + KF_OFF_OPS);
        uint64_t mem = load_le64(file + KF_OFF_MEM);
        if (!passphrase) {
            rc = ntm_error_set(err, NTM_EPASSPHRASE,
                               "key file '%s' is sealed with a passphrase - "
                               "give the passphrase (NTM_PASSPHRASE or the "
                               "prompt)",
                               path);
            goto out;
        }
        if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > KF_OPSLIMIT_MAX ||
            mem < crypto_pwhash_MEMLIMIT_MIN || mem > KF_MEMLIMIT_MAX ||
            mem > SIZE_MAX) {
            rc = ntm_error_set(err, NTM_EPASSPHRASE,
                               "key file '%s' is damaged (key derivation "
                               "parameters out of range) - restore it from a "
                               "backup",
                               path);
            goto out;
        }
        rc = derive_key(dk, passphrase, file, path, err);
        if (rc != NTM_OK)
            goto out;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(
                key->sk, NULL, NULL, file + KF_HEADER_BYTES,
                NTM_SECRETKEY_BYTES + KF_TAG_BYTES, file, KF_HEADER_BYTES,
                file + KF_OFF_NONCE, dk) != 0) {
            rc = ntm_error_set(err, NTM_EPASSPHRASE,
                               "cannot unseal key file '%s': wrong "
                               "passphrase, or the file is damaged",
                               path);
            goto out;
        }
    } else {
        if (!all_zero(file + KF_OFF_OPS, KF_OFF_PK - KF_OFF_OPS)) {
            rc = ntm_error_set(err, NTM_EPASSPHRASE,
                               "key file '%s' is damaged (unsealed file with "
                               "sealing parameters) - restore it from a "
                               "backup",
                               path);
            goto out;
        }
        memcpy(key->sk, file + KF_HEADER_BYTES, NTM_SECRETKEY_BYTES);
    }

    int match = sk_matches_pk(key->sk, key->pk);
    if (match < 0) {
        rc = ntm_error_set(err, NTM_ENOMEM,
                           "cannot allocate guarded memory to check key file "
                           "'%s'",
                           path);
        goto out;
    }
    if (!match) {
        rc = ntm_error_set(err, NTM_EPASSPHRASE,
                           "key file '%s' is damaged (secret key does not "
                           "match its public key) - restore it from a backup",
                           path);
        goto out;
    }
    Ntm_key_seal_memory(key);
    *out = key;
    key = NULL;
out:
    ntm_key_free(key);
    sodium_free(dk);
    sodium_free(file);
    return rc;
}

enum ntm_err
ntm_key_file_is_sealed(const char *path, int *sealed, struct ntm_error *err)
{
    unsigned char *file = sodium_malloc(KF_SEALED_BYTES + 1);
    if (!file)
        return ntm_error_set(err, NTM_ENOMEM,
                             "cannot allocate guarded memory to read key file "
                             "'%s'",
                             path);
    size_t len;
    int s = 0;
    enum ntm_err rc =
        read_key_file(file, KF_SEALED_BYTES + 1, &len, &s, path, err);
    if (rc == NTM_OK)
        *sealed = s;
    sodium_free(file);
    return rc;
}

enum ntm_err
ntm_key_file_kdf(const char *path, uint64_t *opslimit, uint64_t *memlimit,
                 struct ntm_error *err)
{
    unsigned char *file = sodium_malloc(KF_SEALED_BYTES + 1);
    if (!file)
        return ntm_error_set(err, NTM_ENOMEM,
                             "cannot allocate guarded memory to read key file "
                             "'%s'",
                             path);
    size_t len;
    int s = 0;
    enum ntm_err rc =
        read_key_file(file, KF_SEALED_BYTES + 1, &len, &s, path, err);
    if (rc == NTM_OK) {
        *opslimit = s ? load_le64(file + KF_OFF_OPS) : 0;
        *memlimit = s ? load_le64(file + KF_OFF_MEM) : 0;
    }
    sodium_free(file);
    return rc;
}

void
ntm_key_kdf_current(uint64_t *opslimit, uint64_t *memlimit)
{
    *opslimit = KF_OPSLIMIT;
    *memlimit = KF_MEMLIMIT;
}

enum ntm_err
ntm_key_file_public(const char *path, unsigned char pk[NTM_PUBLICKEY_BYTES],
                    struct ntm_error *err)
{
    unsigned char *file = sodium_malloc(KF_SEALED_BYTES + 1);
    if (!file)
        return ntm_error_set(err, NTM_ENOMEM,
                             "cannot allocate guarded memory to read key file "
                             "'%s'",
                             path);
    size_t len;
    int s = 0;
    enum ntm_err rc =
        read_key_file(file, KF_SEALED_BYTES + 1, &len, &s, path, err);
    if (rc == NTM_OK)
        memcpy(pk, file + KF_OFF_PK, NTM_PUBLICKEY_BYTES);
    sodium_free(file);
    return rc;
}
