/* SPDX-License-Identifier: MIT */
/*
 * ntm_bundle.h - exporting and importing a bundle file (SPEC.md section
 * 7): the sneakernet carrier of entries between replicas with no
 * connection.
 *
 * A bundle is a header line {"ntm_bundle":1,"by":"<author>",
 * "created_ms":...,"count":n} and one {"entry":...,"sig":...} line per
 * entry; FILE.minisig beside it, when present, is a minisign signature of
 * the whole file by "by". Every entry goes through ntm_store_ingest, the
 * same validation as a push.
 *
 * Depends on util/, crypto/ and store/. Never prints.
 */
#ifndef NTM_BUNDLE_H
#define NTM_BUNDLE_H

#include <jansson.h>

#include "ntm_store.h"

/* A bundle line holds one entry of at most NTM_MAX_ENTRY_BYTES escaped in
 * a JSON string (jansson at most doubles it: '"' and '\\'), plus its
 * signature. Four times the entry limit leaves room for other writers; a
 * longer line is refused and stops the import. */
#define NTM_BUNDLE_MAX_LINE (4 * NTM_MAX_ENTRY_BYTES + 1024)
/* Lines that are not bundle lines (not JSON, a NUL byte, no "entry" and
 * "sig") are rejected one by one; past this many the file is taken for
 * garbage and the import stops before anything is stored. */
#define NTM_BUNDLE_MAX_BAD_LINES 1000

struct ntm_bundle_import_result {
    char by[NTM_HEX_ID_LEN + 1]; /* the header's "by" ("" until read) */
    int64_t declared;            /* the header's "count", -1 when absent */
    int64_t lines;               /* entry lines read (empty lines left out) */
    int64_t accepted;            /* entries new to this replica */
    int64_t duplicates;          /* entries already held */
    int signature;               /* 1: FILE.minisig verified; 0: none */
    /* new (release with ntm_bundle_import_result_release): arrays of
     * {"line","entry","author","seq","code","message"}, in line order.
     * entry/author/seq are null when the line did not say. */
    json_t *flagged;  /* taken without effect (step 5, revoked) */
    json_t *rejected; /* refused (steps 1-4, or not a bundle line) */
    int64_t bad_line; /* on failure: the line that stopped it, else 0 */
    /* Attachments (ntm_bundle_import_attach): files now whole in the
     * folder, and files refused (no effective entry of the store names
     * them, a chunk missing, bytes that do not match the hash). */
    int64_t attachments, attachments_refused;
};

/* Called after each batch with the entries written (export) or taken
 * (import) so far and the number of entries (lines) in all. */
typedef void (*ntm_bundle_progress_fn)(void *ud, int64_t done, int64_t total);

struct ntm_bundle_export_result {
    char by[NTM_HEX_ID_LEN + 1]; /* the header's "by": key's author */
    int64_t count;               /* entry lines written */
    int64_t created_ms;          /* the header's "created_ms" */
    int64_t attachments;         /* files carried (ntm_bundle_export_attach) */
    int64_t attachment_bytes;    /* their bytes */
};

/*
 * Write every entry st holds, or only author's (when not NULL), to path as
 * a bundle by key's author: the header line, then one {"entry","sig"} line
 * per entry, each author's in seq order, all from one read snapshot. The
 * file is written as path.tmp, synced and renamed to path, then signed
 * with key into path.minisig (minisign, a trusted comment naming the
 * author, count and time). progress may be NULL.
 * Errors: NTM_ENOENT (author given and this replica holds none of its
 * entries; nothing written), NTM_EIO (cannot create, write or rename the
 * file, sys_errno; path.tmp is removed), NTM_ECRYPTO and minisign errors
 * when signing (path stays, without its signature), NTM_ENOMEM, store
 * errors.
 */
NTM_EXTERN enum ntm_err
ntm_bundle_export(struct ntm_store *st, const struct ntm_key *key,
                  const char *path, const char *author,
                  ntm_bundle_progress_fn progress, void *ud,
                  struct ntm_bundle_export_result *res, struct ntm_error *err);

/*
 * As ntm_bundle_export, without a key: for a device whose passphrase is
 * lost, the entries it holds are already signed one by one, so they can
 * still leave it. The header's "by" is by (this device's author id, read
 * from its key file without unsealing); no path.minisig is written, and
 * one left by an earlier export is removed (SPEC.md 7: the file signature
 * is beside the bundle; import takes a bundle without one, with a note).
 * Errors as ntm_bundle_export's, and NTM_EINVAL when by is not an author
 * id.
 */
NTM_EXTERN enum ntm_err ntm_bundle_export_unsigned(
    struct ntm_store *st, const char *by, const char *path, const char *author,
    ntm_bundle_progress_fn progress, void *ud,
    struct ntm_bundle_export_result *res, struct ntm_error *err);

/*
 * Import the bundle at path into st. The file is streamed twice and never
 * held in memory: a first pass checks the header (and FILE.minisig when it
 * exists) and indexes every line by (author, seq); the second takes the
 * entries in that order, 500 per transaction, so lines in any order cost
 * O(n log n). Entries that wait for another author's entry (unknown
 * author, gap) are retried while that makes progress. Re-importing a
 * bundle changes nothing (duplicates).
 *
 * res is filled in (release it with ntm_bundle_import_result_release, on
 * failure too); progress may be NULL.
 * Errors, before anything is stored:
 *   NTM_ENOENT, NTM_EIO   the file cannot be opened or read (sys_errno)
 *   NTM_EINVAL            not a bundle: bad header (bad_line 1), or more
 *                         than NTM_BUNDLE_MAX_BAD_LINES bad lines
 *   NTM_ETOOLARGE         a line longer than NTM_BUNDLE_MAX_LINE
 *   NTM_EBADSIG           FILE.minisig does not verify against "by"
 *   NTM_ENOMEM
 * and store failures (NTM_EFULL, NTM_EDB, ...), after which the batches
 * committed before stay (they are valid entries).
 */
NTM_EXTERN enum ntm_err
ntm_bundle_import(struct ntm_store *st, const char *path,
                  ntm_bundle_progress_fn progress, void *ud,
                  struct ntm_bundle_import_result *res, struct ntm_error *err);

/*
 * Attachments (docs/contract.md, attachments): the same export, which then
 * carries the attachments the exported entries' records name whose bytes
 * attach_dir holds (each checked against its hash first; one not held is
 * left out), as lines {"attachment","offset","size","data"} of at most
 * NTM_BUNDLE_ATTACH_CHUNK bytes each, after the entries and inside what
 * FILE.minisig signs; the header gains "attachments": the files carried.
 * key NULL: unsigned, by names the author (ntm_bundle_export_unsigned).
 */
#define NTM_BUNDLE_ATTACH_CHUNK 49152
NTM_EXTERN enum ntm_err ntm_bundle_export_attach(
    struct ntm_store *st, const struct ntm_key *key, const char *by,
    const char *path, const char *author, const char *attach_dir,
    ntm_bundle_progress_fn progress, void *ud,
    struct ntm_bundle_export_result *res, struct ntm_error *err);
/*
 * The same import, which then takes the attachment lines into attach_dir:
 * a file is stored only when an effective entry of the store (the bundle's
 * included) names its hash and size, and its chunks, in order, hash to its
 * name; else it is counted in attachments_refused. ntm_bundle_import
 * leaves attachment lines aside (they are not bad lines).
 */
NTM_EXTERN enum ntm_err ntm_bundle_import_attach(
    struct ntm_store *st, const char *path, const char *attach_dir,
    ntm_bundle_progress_fn progress, void *ud,
    struct ntm_bundle_import_result *res, struct ntm_error *err);

/* Release the arrays of res. NULL is a no-op. */
NTM_EXTERN void
ntm_bundle_import_result_release(struct ntm_bundle_import_result *res);

/* Append to out the minisign public key text of author id hex (64 lower
 * hex), for minisign -V. NTM_EINVAL for a bad id, NTM_ENOMEM. */
NTM_EXTERN enum ntm_err ntm_bundle_minisign_pubkey(const char *hex,
                                                   struct ntm_buf *out);

#endif /* NTM_BUNDLE_H */
