/* SPDX-License-Identifier: MIT */
/*
 * minisign.c - minisign-compatible public keys and file signatures, so that
 * anyone can check an exported bundle with the stock tool:
 *
 *   minisign -V -p device.pub -m FILE        (reads FILE.minisig)
 *
 * Formats, as minisign 0.11 reads and writes them (base64 is RFC 4648 with
 * padding; the key id is 8 bytes, printed by minisign as the hex of the
 * little-endian 64-bit number they form):
 *
 *   public key:  "untrusted comment: <text>\n" b64("Ed" || keyid || pk) "\n"
 *   signature:   "untrusted comment: <text>\n"
 *                b64(alg || keyid || sig) "\n"
 *                "trusted comment: <comment>\n"
 *                b64(global_sig) "\n"
 *
 * alg "ED" (written here): sig = Ed25519(BLAKE2b-512(file)), the file being
 * streamed so big files need no memory; alg "Ed" (legacy, read only): sig
 * = Ed25519(file). global_sig = Ed25519(sig || comment) authenticates the
 * trusted comment. Our key id is BLAKE2b-256(pk)[0..8) rather than
 * minisign's random one, so it follows from the key alone. minisign's own
 * secret key files are deliberately not read: ntm signs only with its key.
 * Depends on util/ and libsodium only.
 */
#include "crypto_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MS_ALG         "Ed"
#define MS_ALG_HASHED  "ED"
#define MS_COMMENT     "untrusted comment: "
#define MS_TRUSTED     "trusted comment: "
#define MS_PREHASH     64 /* BLAKE2b-512 */
#define MS_PK_BYTES    (2 + NTM_MINISIGN_KEYID_BYTES + NTM_PUBLICKEY_BYTES)
#define MS_SIG_BYTES   (2 + NTM_MINISIGN_KEYID_BYTES + NTM_SIGNATURE_BYTES)
#define MS_SIGFILE_MAX 16384        /* minisign's own lines are < 9 KiB */
#define MS_TRUSTED_MAX 8000         /* minisign: 8192 with the prefix */
#define MS_LEGACY_MAX  (1ULL << 30) /* "Ed" files are read into memory */
#define MS_READ_CHUNK  65536

void
ntm_minisign_keyid(unsigned char id[8],
                   const unsigned char pk[NTM_PUBLICKEY_BYTES])
{
    unsigned char h[NTM_HASH_BYTES];
    ntm_hash(h, pk, NTM_PUBLICKEY_BYTES);
    memcpy(id, h, NTM_MINISIGN_KEYID_BYTES);
}

/* The key id as minisign prints it: le64 of the bytes, upper-case hex. */
static void
keyid_text(char out[17], const unsigned char id[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | id[i];
    snprintf(out, 17, "%016" PRIX64, v);
}

enum ntm_err
ntm_minisign_pubkey(const struct ntm_key *key, struct ntm_buf *out,
                    struct ntm_error *err)
{
    unsigned char raw[MS_PK_BYTES];
    char idtxt[17];
    char b64[sodium_base64_ENCODED_LEN(MS_PK_BYTES,
                                       sodium_base64_VARIANT_ORIGINAL)];

    memcpy(raw, MS_ALG, 2);
    ntm_minisign_keyid(raw + 2, key->pk);
    memcpy(raw + 2 + NTM_MINISIGN_KEYID_BYTES, key->pk, NTM_PUBLICKEY_BYTES);
    keyid_text(idtxt, raw + 2);
    ntm_b64_encode(b64, raw, sizeof(raw));
    if (ntm_buf_addf(out, MS_COMMENT "minisign public key %s\n%s\n", idtxt,
                     b64) != NTM_OK)
        return ntm_error_set(err, NTM_ENOMEM,
                             "out of memory writing a minisign public key");
    return NTM_OK;
}

/* BLAKE2b-512 of the file at path, read in chunks. */
static enum ntm_err
hash_file(unsigned char out[MS_PREHASH], const char *path,
          struct ntm_error *err)
{
    crypto_generichash_state st;
    enum ntm_err rc = NTM_OK;
    unsigned char *chunk = ntm_malloc(MS_READ_CHUNK);
    if (!chunk)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory hashing '%s'",
                             path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        ntm_free(chunk);
        return ntm_error_set_errno(err, e == ENOENT ? NTM_ENOENT : NTM_EIO, e,
                                   "cannot open '%s'", path);
    }
    crypto_generichash_init(&st, NULL, 0, MS_PREHASH);
    for (;;) {
        ssize_t n = read(fd, chunk, MS_READ_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot read '%s'",
                                     path);
            break;
        }
        if (n == 0)
            break;
        crypto_generichash_update(&st, chunk, (unsigned long long)n);
    }
    close(fd);
    ntm_free(chunk);
    if (rc == NTM_OK)
        crypto_generichash_final(&st, out, MS_PREHASH);
    return rc;
}

/* Whether a trusted comment fits on one line of a signature file. */
static int
comment_ok(const char *s)
{
    return strlen(s) <= MS_TRUSTED_MAX && !strpbrk(s, "\r\n");
}

enum ntm_err
ntm_minisign_sign_file(const struct ntm_key *key, const char *path,
                       const char *sig_path, const char *trusted_comment,
                       struct ntm_error *err)
{
    unsigned char prehash[MS_PREHASH];
    unsigned char sigs[MS_SIG_BYTES];
    unsigned char global[NTM_SIGNATURE_BYTES];
    char b64_sig[sodium_base64_ENCODED_LEN(MS_SIG_BYTES,
                                           sodium_base64_VARIANT_ORIGINAL)];
    char b64_global[sodium_base64_ENCODED_LEN(NTM_SIGNATURE_BYTES,
                                              sodium_base64_VARIANT_ORIGINAL)];
    char idtxt[17];
    struct ntm_buf comment = NTM_BUF_INIT, signed_part = NTM_BUF_INIT;
    struct ntm_buf text = NTM_BUF_INIT, target = NTM_BUF_INIT;
    enum ntm_err rc;

    if (trusted_comment) {
        if (!comment_ok(trusted_comment))
            return ntm_error_set(err, NTM_EINVAL,
                                 "trusted comment for '%s' must be one line "
                                 "of at most %d bytes",
                                 path, MS_TRUSTED_MAX);
        rc = ntm_buf_adds(&comment, trusted_comment);
    } else {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        rc = ntm_buf_addf(&comment, "timestamp:%lld\tfile:%s\thashed",
                          (long long)time(NULL), base);
        if (rc == NTM_OK && !comment_ok(comment.buf)) {
            rc = ntm_error_set(err, NTM_EINVAL,
                               "file name '%s' cannot go in a minisign "
                               "trusted comment - rename the file",
                               base);
            goto out;
        }
    }
    if (rc != NTM_OK)
        goto oom;

    rc = hash_file(prehash, path, err);
    if (rc != NTM_OK)
        goto out;

    memcpy(sigs, MS_ALG_HASHED, 2);
    ntm_minisign_keyid(sigs + 2, key->pk);
    crypto_sign_detached(sigs + 2 + NTM_MINISIGN_KEYID_BYTES, NULL, prehash,
                         sizeof(prehash), key->sk);
    if (ntm_buf_add(&signed_part, sigs + 2 + NTM_MINISIGN_KEYID_BYTES,
                    NTM_SIGNATURE_BYTES) != NTM_OK ||
        ntm_buf_add(&signed_part, comment.buf, comment.len) != NTM_OK)
        goto oom;
    crypto_sign_detached(global, NULL, (const unsigned char *)signed_part.buf,
                         signed_part.len, key->sk);

    keyid_text(idtxt, sigs + 2);
    ntm_b64_encode(b64_sig, sigs, sizeof(sigs));
    ntm_b64_encode(b64_global, global, sizeof(global));
    if (ntm_buf_addf(&text,
                     MS_COMMENT "signature from ntm key %s\n%s\n" MS_TRUSTED
                                "%s\n%s\n",
                     idtxt, b64_sig, comment.buf, b64_global) != NTM_OK)
        goto oom;
    if (sig_path)
        rc = ntm_buf_adds(&target, sig_path);
    else
        rc = ntm_buf_addf(&target, "%s.minisig", path);
    if (rc != NTM_OK)
        goto oom;
    rc = ntm_file_write_atomic(target.buf, text.buf, text.len, 0644, err);
    goto out;
oom:
    rc = ntm_error_set(err, NTM_ENOMEM, "out of memory signing '%s'", path);
out:
    ntm_buf_release(&comment);
    ntm_buf_release(&signed_part);
    ntm_buf_release(&text);
    ntm_buf_release(&target);
    return rc;
}

/* Split the next line off *p (up to '\n', without its "\r\n"); NULL at
 * the end. The text is modified in place. */
static char *
next_line(char **p)
{
    char *s = *p;
    if (!s || !*s)
        return NULL;
    char *nl = strchr(s, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = s + strlen(s);
    }
    /* Only "\r" goes, as in minisign's trim(): the trusted comment is
     * signed byte for byte, trailing blanks included. */
    size_t n = strlen(s);
    while (n && s[n - 1] == '\r')
        s[--n] = '\0';
    return s;
}

static int
starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Parse a minisign public key (the file text, or its base64 line alone). */
static enum ntm_err
parse_pubkey(unsigned char id[8], unsigned char pk[NTM_PUBLICKEY_BYTES],
             const char *text, struct ntm_error *err)
{
    struct ntm_buf copy = NTM_BUF_INIT;
    unsigned char raw[MS_PK_BYTES + 1];
    size_t n = 0;
    enum ntm_err rc = NTM_OK;

    if (ntm_buf_adds(&copy, text) != NTM_OK)
        return ntm_error_set(err, NTM_ENOMEM,
                             "out of memory reading a public key");
    char *p = copy.buf;
    char *line = next_line(&p);
    if (line && starts_with(line, "untrusted comment:"))
        line = next_line(&p);
    if (!line ||
        ntm_b64_decode(raw, sizeof(raw), &n, line, strlen(line)) != NTM_OK ||
        n != MS_PK_BYTES || memcmp(raw, MS_ALG, 2) != 0) {
        rc = ntm_error_set(err, NTM_EINVAL,
                           "invalid minisign public key - was an actual "
                           "public key (ntm key export --minisign) given?");
    } else {
        memcpy(id, raw + 2, NTM_MINISIGN_KEYID_BYTES);
        memcpy(pk, raw + 2 + NTM_MINISIGN_KEYID_BYTES, NTM_PUBLICKEY_BYTES);
    }
    ntm_buf_release(&copy);
    return rc;
}

/* The contents of a signature file, parsed. */
struct ms_sig {
    unsigned char raw[MS_SIG_BYTES]; /* alg || keyid || sig */
    unsigned char global[NTM_SIGNATURE_BYTES];
    const char *comment; /* borrowed from the file text */
};

static enum ntm_err
parse_sig(struct ms_sig *s, char *text, const char *sig_path,
          struct ntm_error *err)
{
    char *p = text;
    char *l1 = next_line(&p);
    char *l2 = next_line(&p);
    char *l3 = next_line(&p);
    char *l4 = next_line(&p);
    unsigned char tmp[MS_SIG_BYTES + 1];
    size_t n = 0;

    if (!l1 || !starts_with(l1, MS_COMMENT))
        goto bad;
    if (!l2 || ntm_b64_decode(tmp, sizeof(tmp), &n, l2, strlen(l2)) != NTM_OK ||
        n != MS_SIG_BYTES)
        goto bad;
    memcpy(s->raw, tmp, MS_SIG_BYTES);
    if (memcmp(s->raw, MS_ALG, 2) != 0 && memcmp(s->raw, MS_ALG_HASHED, 2) != 0)
        return ntm_error_set(err, NTM_EBADSIG,
                             "signature file '%s' uses an unknown algorithm",
                             sig_path);
    if (!l3 || !starts_with(l3, MS_TRUSTED))
        goto bad;
    s->comment = l3 + strlen(MS_TRUSTED);
    if (!l4 || ntm_b64_decode(tmp, sizeof(tmp), &n, l4, strlen(l4)) != NTM_OK ||
        n != NTM_SIGNATURE_BYTES)
        goto bad;
    memcpy(s->global, tmp, NTM_SIGNATURE_BYTES);
    return NTM_OK;
bad:
    return ntm_error_set(err, NTM_EBADSIG,
                         "signature file '%s' is not a minisign signature - "
                         "was an actual signature given?",
                         sig_path);
}

enum ntm_err
ntm_minisign_verify_file(const char *pubkey_text, const char *path,
                         const char *sig_path, struct ntm_error *err)
{
    unsigned char id[NTM_MINISIGN_KEYID_BYTES];
    unsigned char pk[NTM_PUBLICKEY_BYTES];
    unsigned char prehash[MS_PREHASH];
    struct ntm_buf target = NTM_BUF_INIT, sigtext = NTM_BUF_INIT;
    struct ntm_buf data = NTM_BUF_INIT, global_msg = NTM_BUF_INIT;
    struct ms_sig s;
    const unsigned char *sig = s.raw + 2 + NTM_MINISIGN_KEYID_BYTES;
    enum ntm_err rc;

    rc = parse_pubkey(id, pk, pubkey_text, err);
    if (rc != NTM_OK)
        return rc;
    rc = sig_path ? ntm_buf_adds(&target, sig_path)
                  : ntm_buf_addf(&target, "%s.minisig", path);
    if (rc != NTM_OK)
        goto oom;
    rc = ntm_file_read(target.buf, MS_SIGFILE_MAX, &sigtext, err);
    if (rc == NTM_ETOOLARGE)
        rc = ntm_error_set(err, NTM_EBADSIG,
                           "signature file '%s' is too large to be a "
                           "minisign signature",
                           target.buf);
    if (rc != NTM_OK)
        goto out;
    if (memchr(sigtext.buf, '\0', sigtext.len)) {
        rc = ntm_error_set(err, NTM_EBADSIG,
                           "signature file '%s' is not a minisign signature "
                           "- was an actual signature given?",
                           target.buf);
        goto out;
    }
    rc = parse_sig(&s, sigtext.buf, target.buf, err);
    if (rc != NTM_OK)
        goto out;

    /* Key id first, so a mismatch says who rather than just "bad". */
    if (memcmp(s.raw + 2, id, sizeof(id)) != 0) {
        char want[17], got[17];
        keyid_text(want, id);
        keyid_text(got, s.raw + 2);
        rc = ntm_error_set(err, NTM_EBADSIG,
                           "'%s' was signed by a different key (key id %s, "
                           "expected %s)",
                           path, got, want);
        goto out;
    }

    if (memcmp(s.raw, MS_ALG_HASHED, 2) == 0) {
        rc = hash_file(prehash, path, err);
        if (rc != NTM_OK)
            goto out;
        if (crypto_sign_verify_detached(sig, prehash, sizeof(prehash), pk) != 0)
            goto badsig;
    } else {
        rc = ntm_file_read(path, MS_LEGACY_MAX, &data, err);
        if (rc != NTM_OK)
            goto out;
        if (crypto_sign_verify_detached(sig, (const unsigned char *)data.buf,
                                        data.len, pk) != 0)
            goto badsig;
    }

    if (ntm_buf_add(&global_msg, sig, NTM_SIGNATURE_BYTES) != NTM_OK ||
        ntm_buf_adds(&global_msg, s.comment) != NTM_OK)
        goto oom;
    if (crypto_sign_verify_detached(s.global,
                                    (const unsigned char *)global_msg.buf,
                                    global_msg.len, pk) != 0) {
        rc = ntm_error_set(err, NTM_EBADSIG,
                           "the trusted comment of '%s' was changed after "
                           "signing - do not trust this file",
                           target.buf);
        goto out;
    }
    rc = NTM_OK;
    goto out;
badsig:
    rc = ntm_error_set(err, NTM_EBADSIG,
                       "signature of '%s' does not match - the file was "
                       "changed or damaged; do not trust it",
                       path);
    goto out;
oom:
    rc = ntm_error_set(err, NTM_ENOMEM, "out of memory verifying '%s'", path);
out:
    ntm_buf_release(&target);
    ntm_buf_release(&sigtext);
    ntm_buf_release(&data);
    ntm_buf_release(&global_msg);
    return rc;
}
