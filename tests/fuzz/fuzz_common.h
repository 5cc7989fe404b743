/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h - shared set-up of the libFuzzer targets (RELIABILITY.md
 * T08): the fixed test keys, the base log every target starts from, and
 * stores that hold it. Header-only, fuzz code only; built by
 * scripts/fuzz.sh, not by meson.
 *
 * The keys (fuzz_keys.h) and the base log (fuzz_base.h) are generated once
 * by gen_corpus.c (scripts/fuzz.sh --regen) and committed, so that the
 * seed corpus, whose entries name the base log's heads as their prev, stays
 * valid from run to run. Base log: the root enrolls units 72, 72.705 and
 * 72.705.25486 and the device as a recorder of 72.705; the device creates
 * and updates one record. The third key ("other") is never enrolled.
 */
#ifndef NTM_FUZZ_COMMON_H
#define NTM_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ntm.h"
#include "store_int.h"
#include "ntm_server.h"
#include "sync_int.h"

#include "fuzz_base.h"
#include "fuzz_keys.h"

enum { FZ_ROOT, FZ_DEVICE, FZ_OTHER, FZ_NKEYS };

static struct ntm_key *fz_keys[FZ_NKEYS];
static char fz_authors[FZ_NKEYS][NTM_HEX_ID_LEN + 1];

/* Report a broken invariant of the code under test: libFuzzer saves the
 * input that led here. */
#define FZ_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz invariant broken: %s\n  ", #cond);           \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Set-up failures are not findings: stop loudly. */
static inline void
fz_die(const char *what, const struct ntm_error *err)
{
    fprintf(stderr, "fuzz set-up: %s: %s\n", what,
            err ? ntm_error_text(err) : "failed");
    exit(1);
}

static inline struct ntm_key *
fz_key_from_bytes(const unsigned char *bytes, size_t len)
{
    char path[] = "/tmp/ntm-fuzz-key-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, bytes, len) != (ssize_t)len)
        fz_die("cannot write a temporary key file", NULL);
    close(fd);
    struct ntm_key *k = NULL;
    struct ntm_error err;
    if (ntm_key_load(&k, path, NULL, &err) != NTM_OK)
        fz_die("cannot load a fixed key", &err);
    unlink(path);
    return k;
}

/* Once per process: library init and the fixed keys. */
static inline void
fz_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    if (ntm_global_init() != NTM_OK)
        fz_die("ntm_global_init", NULL);
    fz_keys[FZ_ROOT] = fz_key_from_bytes(fz_key_root, sizeof fz_key_root);
    fz_keys[FZ_DEVICE] = fz_key_from_bytes(fz_key_device, sizeof fz_key_device);
    fz_keys[FZ_OTHER] = fz_key_from_bytes(fz_key_other, sizeof fz_key_other);
    for (int i = 0; i < FZ_NKEYS; i++)
        ntm_key_author(fz_keys[i], fz_authors[i]);
}

/* The fixed key whose author id the entry names, or -1. */
static inline int
fz_key_of_entry(const char *entry, size_t len)
{
    char a[NTM_HEX_ID_LEN + 1];
    Ntm_entry_author(entry, len, a);
    for (int i = 0; i < FZ_NKEYS; i++)
        if (a[0] && !strcmp(a, fz_authors[i]))
            return i;
    return -1;
}

/* Base64 signature of bytes by key k (k < 0: a well-formed signature that
 * verifies for nothing). */
static inline void
fz_sign(int k, const char *bytes, size_t len, char sig_b64[NTM_SIG_B64_LEN + 1])
{
    unsigned char sig[NTM_SIGNATURE_BYTES];
    if (k < 0)
        memset(sig, 0x5a, sizeof sig);
    else if (ntm_key_sign(fz_keys[k], sig, bytes, len) != NTM_OK)
        fz_die("ntm_key_sign", NULL);
    ntm_b64_encode(sig_b64, sig, sizeof sig);
}

/* new: an in-memory store (flags: NTM_STORE_SERVER or 0) trusting the
 * fixed root, holding the base log when with_base. */
static inline struct ntm_store *
fz_store(unsigned flags, int with_base)
{
    struct ntm_store *st = NULL;
    struct ntm_error err;
    if (ntm_store_open(&st, ":memory:", NTM_STORE_CREATE | flags, &err) !=
        NTM_OK)
        fz_die("ntm_store_open", &err);
    if (ntm_store_set_root(st, fz_authors[FZ_ROOT], &err) != NTM_OK)
        fz_die("ntm_store_set_root", &err);
    for (size_t i = 0; with_base && i < sizeof fz_base / sizeof fz_base[0];
         i++) {
        struct ntm_ingest_result r;
        if (ntm_store_ingest(st, fz_base[i].entry, strlen(fz_base[i].entry),
                             fz_base[i].sig, NTM_SOURCE_BUNDLE, &r,
                             &err) != NTM_OK)
            fz_die("ingest of the base log", &err);
        if (r.verdict != NTM_OK || r.flag != NTM_OK) {
            fprintf(stderr, "base entry %zu refused: %s\n", i, r.message);
            fz_die("base log (run scripts/fuzz.sh --regen?)", NULL);
        }
    }
    return st;
}

/* Copy the whole database of from into to (undo everything a target
 * committed). Both are open stores with no transaction. */
static inline void
fz_store_restore(struct ntm_store *to, struct ntm_store *from)
{
    sqlite3_backup *b = sqlite3_backup_init(to->db, "main", from->db, "main");
    if (!b || sqlite3_backup_step(b, -1) != SQLITE_DONE)
        fz_die("sqlite3_backup", NULL);
    sqlite3_backup_finish(b);
    to->hlc_valid = 0;
}

/* Entries held (for "a rejection writes nothing" checks). */
static inline int64_t
fz_entries(struct ntm_store *st)
{
    int64_t n = 0, last = 0;
    struct ntm_error err;
    if (ntm_store_stats(st, &n, &last, &err) != NTM_OK)
        fz_die("ntm_store_stats", &err);
    return n;
}

/* Turn NDJSON-ish input into sync lines: each input line is raw entry
 * bytes B, signed by the fixed key it names (a dummy signature when it
 * names none), wrapped as {"entry":B,"sig":..} (with "gseq" when gseq0 >=
 * 0: gseq0 + line number). Lines that cannot be wrapped (invalid UTF-8)
 * are passed through as they are. */
struct fz_wrap {
    struct ntm_buf *out;
    int64_t gseq0;
};

static inline int
fz_wrap_line(void *ud, int n, const char *line, size_t len)
{
    struct fz_wrap *w = ud;
    char sig[NTM_SIG_B64_LEN + 1];
    fz_sign(fz_key_of_entry(line, len), line, len, sig);
    if (Ntm_line_add(w->out, w->gseq0 >= 0 ? w->gseq0 + n : -1, line, len,
                     sig) != NTM_OK) {
        ntm_buf_add(w->out, line, len);
        ntm_buf_addch(w->out, '\n');
    }
    return 0;
}

static inline void
fz_wrap_lines(struct ntm_buf *out, const char *in, size_t len, int64_t gseq0)
{
    struct fz_wrap w = {out, gseq0};
    Ntm_lines_foreach(in, len, fz_wrap_line, &w);
}

#endif /* NTM_FUZZ_COMMON_H */
