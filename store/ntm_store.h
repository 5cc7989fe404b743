/* SPDX-License-Identifier: MIT */
/*
 * ntm_store.h - the local replica: one SQLite file holding the signed
 * change log of every author this replica knows, and the state derived
 * from it (devices, units, records, conflicts, reviews).
 *
 * The log is the truth; everything else is a function of the set of valid
 * entries it holds (SPEC.md sections 2, 3 and 5), computed incrementally
 * per touched record and checked against a full rebuild in the tests.
 *
 * Depends on util/ and crypto/ (entries are verified where they are
 * stored) and on jansson for JSON values in and out. Must not call sync/,
 * plan/ or the CLI.
 *
 * Thread safety: a struct ntm_store is one SQLite connection; use it from
 * one thread at a time. Open one store per thread (the server does).
 *
 * JSON values: functions that return json_t ** give a new reference the
 * caller releases with json_decref. json_t * arguments are borrowed.
 */
#ifndef NTM_STORE_H
#define NTM_STORE_H

#include <jansson.h>

#include "ntm_crypto.h"
#include "ntm_text.h"
#include "ntm_util.h"

#define NTM_MAX_ENTRY_BYTES 65536
#define NTM_MAX_JSON_DEPTH  16
#define NTM_RECORD_ID_LEN   32 /* hex chars of a record id */

/* ------------------------------------------------------------------ */
/* Lifecycle */

struct ntm_store;

#define NTM_STORE_CREATE   (1u << 0) /* create the file when missing */
#define NTM_STORE_READONLY (1u << 1) /* open read-only */
#define NTM_STORE_SERVER   (1u << 2) /* central endpoint: full chains */
#define NTM_STORE_SYNC_NORMAL                                                  \
    (1u << 3) /* synchronous=NORMAL: only for power-loss drills */

/*
 * new: the store at path, migrated to the current schema (WAL,
 * synchronous=FULL, foreign keys on). Close with ntm_store_close.
 * Errors: NTM_ENOENT (missing and no NTM_STORE_CREATE), NTM_EBUSY,
 * NTM_ECORRUPT (quick_check failed), NTM_EREADONLY, NTM_EFULL, NTM_EDB.
 */
NTM_EXTERN enum ntm_err ntm_store_open(struct ntm_store **out, const char *path,
                                       unsigned flags, struct ntm_error *err);

/* Close; rolls back an open transaction. NULL is a no-op. */
NTM_EXTERN void ntm_store_close(struct ntm_store *st);

/*
 * Copy what the WAL holds back into the database file, as far as readers
 * allow, without waiting for them or for a writer (SQLite's PASSIVE
 * checkpoint). A store opened with NTM_STORE_SERVER checkpoints at commit
 * only past a backstop (64 MiB of WAL): its server calls this from a
 * thread of its own, so that a push's commit does not copy and sync the
 * file while it holds the write lock. Durability is the commit's
 * (synchronous=FULL), not this. Errors: NTM_EDB, NTM_EIO, NTM_EFULL;
 * NTM_OK when another checkpoint runs (SQLITE_BUSY).
 */
NTM_EXTERN enum ntm_err ntm_store_checkpoint(struct ntm_store *st,
                                             struct ntm_error *err);

/*
 * The files of the store at db_path: the database and, beside it, the
 * -wal and -shm files SQLite keeps. Calls fn with the path of each one
 * that exists, in that order; stops when fn returns nonzero and returns
 * that value, else 0. For tools that check for, move aside or remove the
 * files of a closed store without knowing SQLite's names.
 */
typedef int (*ntm_store_file_fn)(void *ud, const char *path);
NTM_EXTERN int ntm_store_files(const char *db_path, ntm_store_file_fn fn,
                               void *ud);

/* Run PRAGMA quick_check (full: integrity_check). NTM_ECORRUPT when not
 * "ok", with SQLite's first complaint in err. */
NTM_EXTERN enum ntm_err ntm_store_check(struct ntm_store *st, int full,
                                        struct ntm_error *err);

/*
 * Transactions. begin takes the write lock (BEGIN IMMEDIATE). Every write
 * function below also works outside a transaction (it then commits on its
 * own); inside one, nothing is durable before ntm_store_commit returns.
 */
NTM_EXTERN enum ntm_err ntm_store_begin(struct ntm_store *st,
                                        struct ntm_error *err);
NTM_EXTERN enum ntm_err ntm_store_commit(struct ntm_store *st,
                                         struct ntm_error *err);
NTM_EXTERN void ntm_store_rollback(struct ntm_store *st);

/* ------------------------------------------------------------------ */
/* Settings (small key/value pairs: root key, sync cursor, server URL) */

/* new: *val (free with ntm_free); NTM_ENOENT when the key is not set. */
NTM_EXTERN enum ntm_err ntm_store_meta_get(struct ntm_store *st,
                                           const char *key, char **val,
                                           struct ntm_error *err);
/* val NULL removes the key. */
NTM_EXTERN enum ntm_err ntm_store_meta_set(struct ntm_store *st,
                                           const char *key, const char *val,
                                           struct ntm_error *err);
NTM_EXTERN enum ntm_err ntm_store_meta_get_int(struct ntm_store *st,
                                               const char *key, int64_t dflt,
                                               int64_t *val,
                                               struct ntm_error *err);
NTM_EXTERN enum ntm_err ntm_store_meta_set_int(struct ntm_store *st,
                                               const char *key, int64_t val,
                                               struct ntm_error *err);

/* The root key (author id hex). NTM_ENOENT when none is pinned. */
NTM_EXTERN enum ntm_err ntm_store_root(struct ntm_store *st,
                                       char out[NTM_HEX_ID_LEN + 1]);
/* Pin the root key; NTM_EROOTKEY if another one is pinned already. */
NTM_EXTERN enum ntm_err ntm_store_set_root(struct ntm_store *st,
                                           const char *root_hex,
                                           struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Taking entries into the log (SPEC.md section 2, validation order) */

enum ntm_source {
    NTM_SOURCE_LOCAL,  /* written on this replica */
    NTM_SOURCE_PUSH,   /* received by the server from a client */
    NTM_SOURCE_BUNDLE, /* imported from a bundle file */
    NTM_SOURCE_PULL    /* pulled from the server (may be a partial chain) */
};

struct ntm_ingest_result {
    /* NTM_OK: in the log (new or duplicate). Otherwise the rejection:
     * NTM_EBADENTRY, NTM_EBADSIG, NTM_EFORK, NTM_EGAP, NTM_EUNKNOWNAUTHOR.
     * Nothing is written for a rejection except fork evidence. An entry of
     * a revoked author is kept without effect (flag NTM_EREVOKED) so that
     * replicas that saw it before the revocation and those that did not
     * converge. */
    enum ntm_err verdict;
    int duplicate;     /* 1: already held; nothing changed */
    enum ntm_err flag; /* NTM_OK, or NTM_EBADBODY / NTM_EFORBIDDEN (step
                          5), or NTM_EREVOKED (author revoked for this
                          seq): in the log without effect */
    int clock_ahead;   /* ts more than 24 h ahead of this replica's clock */
    int clock;         /* clock flags, a bit set: 1 ahead (as clock_ahead),
                          2 ts before the author's previous entry's, 4 ts
                          before 2015 (far before the plan period) */
    char id[NTM_HEX_ID_LEN + 1];     /* entry id ("" if not parseable) */
    char author[NTM_HEX_ID_LEN + 1]; /* "" if not parseable */
    int64_t seq;                     /* -1 if not parseable */
    char message[256];               /* why it was rejected or flagged */
};

/*
 * Validate one entry (bytes exactly as received, signature as base64) and
 * take it into the log when steps 1-4 hold. Returns NTM_OK when a verdict
 * was reached (see res); any other code is a failure of the replica itself
 * (NTM_EFULL, NTM_EDB, ...) and nothing was written.
 * A server store (NTM_STORE_SERVER) always applies the chain rule; a device
 * skips it for authors whose chain it holds only in part (scoped pulls).
 */
NTM_EXTERN enum ntm_err
ntm_store_ingest(struct ntm_store *st, const char *entry, size_t len,
                 const char *sig_b64, enum ntm_source source,
                 struct ntm_ingest_result *res, struct ntm_error *err);

/*
 * Steps 1 (shape) and 2 (signature) depend only on an entry's bytes and
 * the author key named in it: ntm_entry_check judges them without a store,
 * on any thread, so that many entries are verified in parallel before the
 * one writer takes them. The result owns a copy of the bytes and of the
 * signature it judged. NTM_ENOMEM only (a refusal is a verdict inside).
 */
struct ntm_checked;
NTM_EXTERN enum ntm_err ntm_entry_check(struct ntm_checked **out,
                                        const char *entry, size_t len,
                                        const char *sig_b64);
NTM_EXTERN void ntm_checked_free(struct ntm_checked *c);
/* The bytes and the signature c judged (owned by c). */
NTM_EXTERN const char *ntm_checked_bytes(const struct ntm_checked *c,
                                         size_t *len, const char **sig);
/* What steps 1-2 said (verdict, message, id, author, seq; NTM_OK when
 * both passed); NULL when memory ran out while checking. */
NTM_EXTERN const struct ntm_ingest_result *
ntm_checked_result(const struct ntm_checked *c);

/*
 * ntm_store_ingest of entry/sig_b64, with steps 1-2 taken from c when c
 * judged exactly these bytes and this signature (else, or when c is NULL,
 * everything is judged again): the same results, the same rows. c is not
 * changed and may be freed after.
 */
NTM_EXTERN enum ntm_err
ntm_store_ingest_checked(struct ntm_store *st, const struct ntm_checked *c,
                         const char *entry, size_t len, const char *sig_b64,
                         enum ntm_source source, struct ntm_ingest_result *res,
                         struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Writing this device's own entries */

struct ntm_write_result {
    char id[NTM_HEX_ID_LEN + 1]; /* entry id */
    int64_t seq;
    int unenrolled; /* 1: no enrollment covers it yet; it waits locally */
    char record[NTM_RECORD_ID_LEN + 1]; /* record.create: the record id */
};

/*
 * The record id SPEC.md section 3 binds to the record.create written by
 * author at seq: the first 32 hex chars of BLAKE2b-256 of the ASCII text
 * "<author>:<seq>". Nobody can write a valid create for another author's
 * record, whatever its clock says.
 */
NTM_EXTERN void ntm_record_id(char out[NTM_RECORD_ID_LEN + 1],
                              const char *author, int64_t seq);

/*
 * Build, check, sign and append an entry of key's author with this op and
 * body (borrowed). The HLC and chain fields are filled in, and so is the
 * body's "id" of a record.create (ntm_record_id of its author and seq; in
 * res->record). Step 5 is
 * checked before signing when the author's enrollment is known: a refusal
 * is NTM_EFORBIDDEN or NTM_EBADBODY with a message saying why, and nothing
 * is written. NTM_ESTALE when the server is known to hold more of this
 * author's chain than the replica (restored backup: pull first).
 */
NTM_EXTERN enum ntm_err ntm_store_write(struct ntm_store *st,
                                        const struct ntm_key *key,
                                        const char *op, json_t *body,
                                        struct ntm_write_result *res,
                                        struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Operations (SPEC.md section 3), built on ntm_store_write */

/* fields is borrowed; *record_id receives the new 32-hex id (bound to
 * this author and seq, see ntm_record_id; "" when the write failed before
 * the seq was known, and the would-be id on later failures). Text fields
 * are NFC-normalised before signing. */
NTM_EXTERN enum ntm_err
ntm_record_create(struct ntm_store *st, const struct ntm_key *key,
                  const char *kind, const char *unit, const char *org,
                  json_t *fields, char record_id[NTM_RECORD_ID_LEN + 1],
                  struct ntm_write_result *res, struct ntm_error *err);
/* set: the fields to change (borrowed). base = the record's current heads
 * on this replica. */
NTM_EXTERN enum ntm_err ntm_record_update(struct ntm_store *st,
                                          const struct ntm_key *key,
                                          const char *record_id, json_t *set,
                                          struct ntm_write_result *res,
                                          struct ntm_error *err);
NTM_EXTERN enum ntm_err ntm_record_delete(struct ntm_store *st,
                                          const struct ntm_key *key,
                                          const char *record_id,
                                          struct ntm_write_result *res,
                                          struct ntm_error *err);
/* Resolve the record's conflicts: take every conflicting field's value
 * from entry take_entry (may be NULL) and then apply set (may be NULL). */
NTM_EXTERN enum ntm_err
ntm_record_resolve(struct ntm_store *st, const struct ntm_key *key,
                   const char *record_id, const char *take_entry, json_t *set,
                   struct ntm_write_result *res, struct ntm_error *err);
/* state: "approved", "rejected" or "has_issues"; comment may be NULL. The
 * review names the record's only head; NTM_ECONFLICT when it has several
 * (resolve first). */
NTM_EXTERN enum ntm_err
ntm_record_review(struct ntm_store *st, const struct ntm_key *key,
                  const char *record_id, const char *state, const char *comment,
                  struct ntm_write_result *res, struct ntm_error *err);
NTM_EXTERN enum ntm_err
ntm_device_enroll(struct ntm_store *st, const struct ntm_key *key,
                  const char *device_key, const char *role, const char *scope,
                  const char *name, const char *org, int64_t from_seq,
                  struct ntm_write_result *res, struct ntm_error *err);
NTM_EXTERN enum ntm_err
ntm_device_revoke(struct ntm_store *st, const struct ntm_key *key,
                  const char *device_key, int64_t after_seq, const char *reason,
                  struct ntm_write_result *res, struct ntm_error *err);
NTM_EXTERN enum ntm_err
ntm_unit_create(struct ntm_store *st, const struct ntm_key *key,
                const char *code, const char *name, const char *level,
                struct ntm_write_result *res, struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Reading the log */

struct ntm_entry_view {
    int64_t gseq;       /* arrival order on this replica (server: wire
                           gseq); strictly increasing, never reused */
    const char *id;     /* entry id hex */
    const char *author; /* author id hex */
    int64_t seq, ts, lc;
    const char *op;
    const char *bytes; /* exact entry bytes B */
    size_t len;
    const char *sig;  /* base64 signature */
    const char *unit; /* unit the entry concerns, or NULL */
    /* Effect on the state: NTM_OK, NTM_EBADBODY, NTM_EFORBIDDEN,
     * NTM_EUNKNOWNAUTHOR (waits for an enrollment), NTM_EREVOKED, or
     * NTM_ENOENT (waits for a base entry). */
    enum ntm_err effect;
};
/* All pointers are borrowed, valid during the callback only. Return
 * nonzero to stop the iteration (ntm_store_entries then returns NTM_OK). */
typedef int (*ntm_entry_cb)(void *ud, const struct ntm_entry_view *e);

struct ntm_entry_query {
    const char *author; /* only this author, or NULL */
    int64_t after_seq;  /* with author: only seq > after_seq */
    int64_t after_gseq; /* only gseq > after_gseq */
    const char *scope;  /* only entries a device of this scope may pull:
                           those of units in scope, plus every device.*
                           and unit.* entry that takes effect; an entry
                           whose record is not known yet waits; NULL: all */
    int64_t limit;      /* at most this many; 0: no limit */
    int by_author_seq;  /* 1: order by author then seq; 0: by gseq */
};

NTM_EXTERN enum ntm_err ntm_store_entries(struct ntm_store *st,
                                          const struct ntm_entry_query *q,
                                          ntm_entry_cb cb, void *ud,
                                          struct ntm_error *err);

/* The author's head (highest seq held) and its entry id. NTM_ENOENT when
 * none is held. id may be NULL. */
NTM_EXTERN enum ntm_err ntm_store_head(struct ntm_store *st, const char *author,
                                       int64_t *seq,
                                       char id[NTM_HEX_ID_LEN + 1]);

/* new: {"<author>":{"seq":n,"id":"<entry id>"},...}; only author when not
 * NULL. */
NTM_EXTERN enum ntm_err ntm_store_heads(struct ntm_store *st,
                                        const char *author, json_t **out,
                                        struct ntm_error *err);

/* Counts of entries held and the highest gseq. */
NTM_EXTERN enum ntm_err ntm_store_stats(struct ntm_store *st, int64_t *entries,
                                        int64_t *last_gseq,
                                        struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* What a peer (the server) is known to hold, for push and status */

/* Remember that the peer holds author's chain up to seq (never lowers). */
NTM_EXTERN enum ntm_err ntm_store_peer_head_set(struct ntm_store *st,
                                                const char *author, int64_t seq,
                                                const char *id,
                                                struct ntm_error *err);
/* Forget everything the peer acknowledged (its history was reset and
 * announced by the root: sync/reset.c). */
NTM_EXTERN enum ntm_err ntm_store_peer_heads_clear(struct ntm_store *st,
                                                   struct ntm_error *err);
/* *seq = 0 when unknown. */
NTM_EXTERN enum ntm_err ntm_store_peer_head_get(struct ntm_store *st,
                                                const char *author,
                                                int64_t *seq,
                                                struct ntm_error *err);
/* Entries held here beyond what the peer is known to hold. */
NTM_EXTERN enum ntm_err ntm_store_unpushed(struct ntm_store *st, int64_t *count,
                                           struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Devices and enrollment */

struct ntm_enrollment {
    int enrolled;          /* an enrollment covers the seq */
    int revoked;           /* revoked for the seq */
    int is_root;           /* the root key */
    char role[16];         /* "recorder", "coordinator", "admin" or "" */
    char scope[128];       /* unit code or "" */
    char name[128];        /* device name or "" */
    char org[32];          /* organization code or "" */
    int64_t from_seq;      /* first seq governed by this enrollment */
    int64_t revoked_after; /* -1 when not revoked */
};

/* The enrollment governing author's entry at seq (seq <= 0: the next seq
 * the author would write). */
NTM_EXTERN enum ntm_err ntm_store_enrollment(struct ntm_store *st,
                                             const char *author, int64_t seq,
                                             struct ntm_enrollment *out,
                                             struct ntm_error *err);

/* new: array of {"key","role","scope","name","org","from_seq",
 * "revoked_after","head_seq"} for every known device. */
NTM_EXTERN enum ntm_err ntm_store_devices(struct ntm_store *st, json_t **out,
                                          struct ntm_error *err);

/* new: array of {"code","name","level","entry"} for units created by
 * unit.create entries with effect. */
NTM_EXTERN enum ntm_err ntm_store_units_created(struct ntm_store *st,
                                                json_t **out,
                                                struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Records (SPEC.md section 8 JSON shapes) */

/* A unit's name known outside the store (the plan's tree), for word
 * search: a word found in the name matches the records in and below the
 * unit. A unit may appear once per name it has had. */
struct ntm_unit_name {
    const char *code;
    const char *name;
};

struct ntm_record_filter {
    /* Word search (NULL: all): every word of text must be found, in any
     * order, ignoring case and diacritics (d-stroke is d), the last one
     * as the start of a word, in the title, note, task, unit code or the
     * name of the record's unit, or in the name of one of text_names that
     * holds the record's unit. Results are ranked by relevance (SQLite
     * FTS5's bm25), then by date, newest first. Characters other than
     * letters and digits only separate words: a text without a word
     * matches nothing. */
    const char *text;
    const struct ntm_unit_name *text_names; /* ended by a NULL code; may be
                                               NULL */
    const char *unit;                       /* the unit or below it */
    const char *org;
    const char *task;
    const char *kind;    /* "activity" or "measure" */
    const char *state;   /* review state: submitted, approved, ... */
    int conflicts_only;  /* only records with a conflict */
    int include_deleted; /* also deleted records */
    size_t offset;       /* skip this many records */
    size_t limit;        /* at most this many records (0: no limit) */
};

/*
 * new: array of {"id","kind","unit","org","fields":{...},"deleted",
 * "conflict","review","heads":[...],"reviews":[...],"author","created_ts",
 * "updated_ts"} sorted by creation (ts, lc, author, seq), or by relevance
 * when f->text is given. Memory is bounded by f->limit, not by the store.
 * "reviews" lists the reviews of the current head: {"entry","author",
 * "state","level","comment","ts"}; level is the reviewer's scope level
 * ("province", "district", "commune", "hamlet").
 */
NTM_EXTERN enum ntm_err ntm_store_records(struct ntm_store *st,
                                          const struct ntm_record_filter *f,
                                          json_t **out, struct ntm_error *err);

/*
 * The records ntm_store_records would return, one at a time, in the same
 * order: cb gets each (borrowed, valid during the call; return nonzero to
 * stop, ntm_store_records_each then returns NTM_OK). Memory is bounded by
 * one record (a search: by its page, f->limit), not by the store.
 * NTM_RECORDS_BRIEF leaves each record's "heads" empty and "conflicts"
 * {} (two look-ups fewer per record: for reports).
 */
#define NTM_RECORDS_BRIEF (1u << 0)
typedef int (*ntm_record_cb)(void *ud, json_t *rec);
NTM_EXTERN enum ntm_err
ntm_store_records_each(struct ntm_store *st, const struct ntm_record_filter *f,
                       unsigned flags, ntm_record_cb cb, void *ud,
                       struct ntm_error *err);

/*
 * Every record's digest, in the order of ntm_store_records (deleted
 * records left out): bytes that make (0, or nonzero when out of memory)
 * appends to out from the record's brief JSON (NTM_RECORDS_BRIEF). The
 * store keeps them under tag (the caller names its format, and whatever
 * else the bytes depend on, in it: another tag makes every digest again)
 * and makes them again only for the records written since the last call,
 * by any process. cb gets each record's id and digest (valid during the
 * call; nonzero stops). A home that cannot be written gets them made as they
 * are read, none kept. Not inside a transaction. The report's facts
 * (plan/rfact.c) are such digests.
 */
typedef int (*ntm_digest_make_fn)(void *ud, json_t *rec, struct ntm_buf *out);
typedef int (*ntm_digest_cb)(void *ud, const char *id, const void *bytes,
                             size_t n);
NTM_EXTERN enum ntm_err
ntm_store_digests_each(struct ntm_store *st, const char *tag,
                       ntm_digest_make_fn make, void *make_ud, ntm_digest_cb cb,
                       void *cb_ud, struct ntm_error *err);
/*
 * The kept digests against what make makes of each record now (records
 * written since the last ntm_store_digests_each are not compared: they
 * are made again then). *out (new): {"kept": bool (digests kept under
 * tag), "checked": records compared, "differ": [ids, at most 200],
 * "differ_total": n (differing, missing or kept for no record),
 * "dropped": bool}. drop: when any differs, every digest goes (the next
 * ntm_store_digests_each makes them all again).
 */
NTM_EXTERN enum ntm_err
ntm_store_digests_check(struct ntm_store *st, const char *tag,
                        ntm_digest_make_fn make, void *make_ud, int drop,
                        json_t **out, struct ntm_error *err);

/*
 * new: the records author (a key in hex) wrote that wait for its
 * enrollment: its record.create entries held without effect because no
 * enrollment covers them yet (a device writes before it is enrolled),
 * each with the author's own later edits and deletes of it applied in
 * its chain's order. Shaped as ntm_store_records' items, with
 * "waiting": true, review "submitted", no heads, reviews nor conflicts;
 * oldest first. f (may be NULL) filters as for ntm_store_records (text,
 * unit, org, task, kind, include_deleted; a state other than submitted
 * and conflicts_only leave none); its paging is not applied. Reads the
 * author's entries: meant for a device not enrolled yet.
 */
NTM_EXTERN enum ntm_err
ntm_store_records_waiting(struct ntm_store *st, const char *author,
                          const struct ntm_record_filter *f, json_t **out,
                          struct ntm_error *err);

/* new: one record as above plus "history": [{"entry","author","seq","ts",
 * "lc","op","valid","status","body"}] in total order. NTM_ENOENT if the
 * record is not known. id may be a unique prefix of at least 6 chars. */
NTM_EXTERN enum ntm_err ntm_store_record(struct ntm_store *st, const char *id,
                                         json_t **out, struct ntm_error *err);

/* new: array of {"id","fields":{"<field>":[{"entry","author","value",
 * "ts"}...]}} for every record with a conflict. */
NTM_EXTERN enum ntm_err ntm_store_conflicts(struct ntm_store *st, json_t **out,
                                            struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Audit */

/*
 * The audit. Checks, in order:
 *   1. the file: PRAGMA integrity_check; its complaints in "integrity"
 *      (then 3 is skipped: a damaged file is not rebuilt from);
 *   2. every entry held: its bytes against its id, its signature, the
 *      stored columns (author, seq, prev, ts, lc, op, record) against its
 *      bytes, its chain links; and its effect (flagged when none). Streams
 *      over the log;
 *   3. the derived state against the log: the tables records, units,
 *      enrollments, revocations and effect are rebuilt inside a savepoint
 *      and compared row by row with what was stored, as are the authors'
 *      heads and the entries' unit index; then the savepoint is rolled
 *      back, so the store is left as it was. Not done on a store opened
 *      read-only ("derived_checked" false).
 * new: {"entries","valid","invalid":[{"entry","code"[,"message"]}],
 * "flagged":[{"entry","code"}],"forks":[{"author","seq","ids":[...]}],
 * "integrity":["..."],"derived":[{"table","key","column","stored",
 * "expected"}],"derived_total","derived_checked","rebuilt"}. "derived"
 * lists at most 200 differences ("derived_total" counts them all);
 * "column" is null for a missing or extra row (then "stored" or
 * "expected" is the row, the other null). Returns NTM_OK even when it finds
 * problems; the caller reads the report.
 */
NTM_EXTERN enum ntm_err ntm_store_verify(struct ntm_store *st, json_t **out,
                                         struct ntm_error *err);

#define NTM_VERIFY_REBUILD (1u << 0) /* keep the rebuilt derived state */

/* ntm_store_verify with flags. NTM_VERIFY_REBUILD keeps the rebuilt
 * derived state (and repairs the heads and unit index) when the file and
 * every entry are sound; "derived" then lists what it changed and
 * "rebuilt" is true. */
NTM_EXTERN enum ntm_err ntm_store_verify_ex(struct ntm_store *st,
                                            unsigned flags, json_t **out,
                                            struct ntm_error *err);

/* Drop all derived state and recompute it from the log. */
NTM_EXTERN enum ntm_err ntm_store_rebuild(struct ntm_store *st,
                                          struct ntm_error *err);

/* new: a canonical text dump of the derived state (records, conflicts,
 * reviews, devices, units), byte-identical on replicas that hold the same
 * valid entries. For convergence tests. */
NTM_EXTERN enum ntm_err ntm_store_dump_state(struct ntm_store *st,
                                             struct ntm_buf *out,
                                             struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Record field rules (SPEC.md section 3), as the store applies them to
 * every entry; a tool checks its input with the same functions. */

/* date: a real calendar date YYYY-MM-DD, years 1900 to 2200 */
NTM_EXTERN int ntm_field_date_valid(const char *s);
/* period: YYYY or YYYY-MM */
NTM_EXTERN int ntm_field_period_valid(const char *s);
/* qty: a decimal string ^[0-9]{1,12}(\.[0-9]{1,3})?$ */
NTM_EXTERN int ntm_field_qty_valid(const char *s);
/* 1 for the fields whose values are integers (people, amount_vnd, num,
 * den) */
NTM_EXTERN int ntm_field_is_int(const char *name);
/* 1 when value is valid for the field name (every rule of section 3 for
 * one field: types, ranges, forms; 'deleted' is never valid). Unknown
 * fields are valid whatever they hold. */
NTM_EXTERN int ntm_field_valid(const char *name, const json_t *value);

/* The text helpers (ntm_text_nfc, ntm_text_fold, ntm_text_width) are
 * util/ntm_text.h's, included above. */

/* ------------------------------------------------------------------ */
/* A device's own chain forked from the server's (store/strand.c) */

/*
 * Set author's entries from from_seq on aside (kept for ever in the store,
 * never sent) and out of the log, and derive the state again: the seqs are
 * free for the true chain, which the caller then takes in (a pull of the
 * author's entries). Used when this device's own chain turned out to
 * differ from the one the server holds at from_seq (a store restored from
 * an older backup that wrote again). *n: entries set aside (may be NULL).
 */
NTM_EXTERN enum ntm_err ntm_store_strand(struct ntm_store *st,
                                         const char *author, int64_t from_seq,
                                         int64_t *n, struct ntm_error *err);

struct ntm_reissue_result {
    int64_t reissued; /* stranded entries written again on the true head */
    int64_t failed;   /* refused as they stand now: kept, with the reason */
};

/*
 * Write each of key's stranded entries not re-issued yet again, in seq
 * order, on the true head: the same op and body, with every id of a
 * stranded entry or of a record one of them created replaced by its
 * re-issued counterpart, and a "replaces" member naming the stranded
 * entry (docs/contract.md). All or nothing; safe to run again.
 */
NTM_EXTERN enum ntm_err ntm_store_reissue(struct ntm_store *st,
                                          const struct ntm_key *key,
                                          struct ntm_reissue_result *res,
                                          struct ntm_error *err);

/* As ntm_store_reissue, for the stranded entries of author (NULL:
 * key's own), written again under key: a home with a new key pair
 * (ntm_store_rekey). */
NTM_EXTERN enum ntm_err ntm_store_reissue_from(struct ntm_store *st,
                                               const struct ntm_key *key,
                                               const char *author,
                                               struct ntm_reissue_result *res,
                                               struct ntm_error *err);

/* Meta keys of a home that got a new key pair (docs/contract.md). */
#define NTM_META_REKEY_FROM "rekey.from" /* the old author id */
#define NTM_META_REKEY_TO   "rekey.to"   /* the new author id */
#define NTM_META_REKEY_MS   "rekey.ms"   /* when */
/* Where the home was made (a hash of the machine and the folder, the
 * tool's: docs/contract.md): a home found elsewhere was copied. */
#define NTM_META_HOME_PLACE "home.place"
/* Set by a sync that found this home's chain forked by a copy of the home
 * (the author id it found copied): its own entries wait for a new key. */
#define NTM_META_REKEY_NEEDED "rekey.needed"

struct ntm_rekey_result {
    int64_t kept;     /* the old chain's seqs the server acknowledged */
    int64_t stranded; /* the old author's entries set aside now */
    int64_t reissued; /* set-aside entries written again under the new key */
    int64_t failed;   /* refused as they stand now: kept, with the reason */
};

/*
 * A new key pair for this home (ntm init --rekey): in one transaction, set
 * the old author's entries beyond the server's acknowledged head aside
 * (ntm_store_strand), write every set-aside entry of the old author not
 * re-issued yet again under key (ntm_store_reissue_from: fresh record ids,
 * "replaces" naming each), and note the change in meta (rekey.*; clears
 * rekey.needed). The new key need not be enrolled yet: its entries wait
 * for the enrollment like a new device's.
 * Errors: NTM_EINVAL (no old author, or the same key), store errors.
 */
NTM_EXTERN enum ntm_err ntm_store_rekey(struct ntm_store *st,
                                        const struct ntm_key *key,
                                        const char *old,
                                        struct ntm_rekey_result *res,
                                        struct ntm_error *err);

/* How many entries of author (NULL: any) were set aside, and how many of
 * them still wait to be re-issued. */
NTM_EXTERN enum ntm_err ntm_store_stranded(struct ntm_store *st,
                                           const char *author, int64_t *pending,
                                           int64_t *total,
                                           struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* What a server keeps for its admins (store/admin.c) */

/* A device's request to be enrolled (POST /v1/join): the code it names
 * (nonce, signer, the role, scope and org it means) and the device. */
struct ntm_join_request {
    const char *nonce, *author, *name, *signer, *role, *scope, *org;
    int64_t expires, received_ms;
};

/*
 * Keep q, in the caller's transaction, after dropping every request whose
 * code expired before q->received_ms. The same (nonce, author) again is
 * kept once (*added 0). NTM_ECONFLICT when the code already has
 * max_per_code requests; NTM_EFULL when the server holds max_total.
 */
NTM_EXTERN enum ntm_err ntm_store_join_put(struct ntm_store *st,
                                           const struct ntm_join_request *q,
                                           int64_t max_per_code,
                                           int64_t max_total, int *added,
                                           struct ntm_error *err);

/* new: the requests not expired at now_ms, of codes signer made (NULL:
 * any) and of nonce (NULL: any), oldest first: [{"nonce","author","name",
 * "signer","role","scope","org","expires","received_ms"}]. */
NTM_EXTERN enum ntm_err
ntm_store_join_list(struct ntm_store *st, const char *signer, const char *nonce,
                    int64_t now_ms, json_t **out, struct ntm_error *err);

/* new: the fork evidence by (author, seq): [{"author","seq","held":{"id",
 * "ts","received_ms"} or null,"refused":[{"id","ts","received_ms"}]}]. */
NTM_EXTERN enum ntm_err ntm_store_forks(struct ntm_store *st, json_t **out,
                                        struct ntm_error *err);

/* new: author's stranded entries the server was not told of yet (at most
 * 1000, by seq): [{"id","seq","entry","sig"}]. */
NTM_EXTERN enum ntm_err ntm_store_stranded_unreported(struct ntm_store *st,
                                                      const char *author,
                                                      json_t **out,
                                                      struct ntm_error *err);
/* Note that the server was told of the stranded entry id. */
NTM_EXTERN enum ntm_err ntm_store_stranded_mark_reported(struct ntm_store *st,
                                                         const char *id,
                                                         int64_t now_ms,
                                                         struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Attachments (docs/contract.md "attachments"): photos and documents
 * bound to a record by a signed record.attach {id, hash, size, type,
 * name, caption?}; the bytes live apart, content-addressed. */

#define NTM_ATTACH_MAX_BYTES   67108864LL /* 64 MiB: the protocol's bound */
#define NTM_ATTACH_MAX_CAPTION 1000       /* bytes of a caption */

/* Whether type is a media type record.attach takes (image/jpeg,
 * image/png, application/pdf). */
NTM_EXTERN int ntm_attach_type_valid(const char *type);
/* The media type the first n bytes of a file show (their magic number):
 * one of those above, or NULL. Static. */
NTM_EXTERN const char *ntm_attach_sniff(const void *head, size_t n);

/*
 * The bytes (blobs.c): a folder of files named by the hex BLAKE2b-256 of
 * their bytes (a home's `attachments/`, the server's). Every write goes
 * to a temporary file, fsync'd, renamed, the folder fsync'd; a partial
 * file being received is `<hash>.part`. The folder is made (0700) when
 * missing. Errors: NTM_EIO (errno in err), NTM_ENOMEM, and as said.
 */
/* Store the file at src (at most max bytes, else NTM_ETOOLARGE and
 * nothing stored): hash (65 bytes) and *size get its hash and length.
 * Streams: never the whole file in memory. */
NTM_EXTERN enum ntm_err ntm_blob_put_file(const char *dir, const char *src,
                                          int64_t max, char *hash,
                                          int64_t *size, struct ntm_error *err);
/* The same for bytes in memory. */
NTM_EXTERN enum ntm_err ntm_blob_put_mem(const char *dir, const void *data,
                                         size_t len, char *hash,
                                         struct ntm_error *err);
/* Check the stored file of hash against it: NTM_OK (*size its length,
 * may be NULL), NTM_ENOENT when the folder lacks it, NTM_ECORRUPT when
 * its bytes differ. */
NTM_EXTERN enum ntm_err ntm_blob_check(const char *dir, const char *hash,
                                       int64_t *size, struct ntm_error *err);
/* Write the file of hash to path (path.tmp, fsync, rename), checked as
 * it is copied: NTM_ECORRUPT (and nothing at path) when it differs. */
NTM_EXTERN enum ntm_err ntm_blob_copy_out(const char *dir, const char *hash,
                                          const char *path,
                                          struct ntm_error *err);
/* How many bytes of hash the folder holds: the whole file's length
 * (*complete 1), else its .part's (0 when none). */
NTM_EXTERN enum ntm_err ntm_blob_held(const char *dir, const char *hash,
                                      int64_t *held, int *complete,
                                      struct ntm_error *err);
/*
 * Receive the bytes [offset, offset + len) of hash, a file whose length is
 * one of the nsizes sizes that entries claim for it (entries may disagree:
 * a wrong claim must not block the true bytes): offset must be what
 * ntm_blob_held says (else NTM_ECONFLICT), offset + len at most the
 * largest size (else NTM_ETOOLARGE). Appended to the .part file and
 * fsync'd. When the part reaches a claimed size it is hashed: equal, it
 * becomes the file (*complete 1); unequal at the largest size, it is
 * removed and NTM_ECORRUPT returned (at a smaller one it is kept: more
 * bytes may follow). A hash already complete is NTM_OK with *complete 1
 * and nothing written.
 */
NTM_EXTERN enum ntm_err ntm_blob_append(const char *dir, const char *hash,
                                        const int64_t *sizes, size_t nsizes,
                                        int64_t offset, const void *data,
                                        size_t len, int *complete,
                                        struct ntm_error *err);
/* Read up to len bytes of the complete file of hash from offset into buf
 * (*got: how many; 0 at its end). Not checked: readers of a piece check
 * the whole when it is in. */
NTM_EXTERN enum ntm_err ntm_blob_read(const char *dir, const char *hash,
                                      int64_t offset, void *buf, size_t len,
                                      size_t *got, struct ntm_error *err);
/* Call fn with the hash of every complete file of the folder (sorted);
 * stops when fn returns nonzero. A missing folder has none. */
typedef int (*ntm_blob_fn)(void *ud, const char *hash);
NTM_EXTERN enum ntm_err ntm_blob_each(const char *dir, ntm_blob_fn fn, void *ud,
                                      struct ntm_error *err);

/*
 * Photos for weak links (photo.c, libjpeg-turbo): the JPEG in[0..len)
 * made ready to attach. Longer side above max_side (64 or more): decoded
 * at the largest n/8 scale that fits and encoded again at quality (30 to
 * 95; else 80). Else rewritten losslessly. Either way every marker but the
 * image's is dropped: EXIF (camera, time, GPS location), comments, XMP.
 * *out (new, ntm_free) and *outlen get the new file. NTM_EINVAL when the
 * bytes cannot be read as a JPEG (the message says to keep the file as it
 * is with --keep-metadata), NTM_ENOMEM.
 */
struct ntm_photo_info {
    int width, height;         /* the photo given */
    int out_width, out_height; /* the photo made */
    int reencoded;             /* 1: scaled and encoded again */
};
#define NTM_PHOTO_MAX_SIDE 1600 /* default longest side, pixels */
#define NTM_PHOTO_QUALITY  80   /* default JPEG quality */
NTM_EXTERN enum ntm_err ntm_photo_prepare(const unsigned char *in, size_t len,
                                          int max_side, int quality,
                                          unsigned char **out, size_t *outlen,
                                          struct ntm_photo_info *info,
                                          struct ntm_error *err);

/*
 * The entry and the derived state (attach.c). Sign a record.attach of
 * record_id for a file already stored (hash, size, type; name and caption
 * are NFC-normalised; caption may be NULL). Step 5 is checked before
 * signing, as for an edit (scope and organization of the record).
 */
NTM_EXTERN enum ntm_err
ntm_record_attach(struct ntm_store *st, const struct ntm_key *key,
                  const char *record_id, const char *hash, int64_t size,
                  const char *type, const char *name, const char *caption,
                  struct ntm_write_result *res, struct ntm_error *err);
/* new: the attachments of a record (its record.attach entries that take
 * effect), in total order: [{"entry","hash","size","type","name",
 * "caption","author","ts"}] (caption null when none). */
NTM_EXTERN enum ntm_err ntm_store_attachments(struct ntm_store *st,
                                              const char *record_id,
                                              json_t **out,
                                              struct ntm_error *err);
/* new: the records (and their units) whose attachments name hash:
 * [{"record","unit","size","type"}]; [] when none. */
NTM_EXTERN enum ntm_err ntm_store_attachment_refs(struct ntm_store *st,
                                                  const char *hash,
                                                  json_t **out,
                                                  struct ntm_error *err);
/* new: every hash the attachments of the records this replica holds name,
 * once, sorted: [{"hash","size","sizes"}] ("size" the largest claimed,
 * "sizes" every size an entry claims); with author not NULL, only those
 * its own entries name. */
NTM_EXTERN enum ntm_err ntm_store_attachment_hashes(struct ntm_store *st,
                                                    const char *author,
                                                    json_t **out,
                                                    struct ntm_error *err);
/* new (ntm_free): the distinct sizes of list, an array of integers or of
 * objects with "size" (ntm_store_attachment_refs' answer), for
 * ntm_blob_append. */
NTM_EXTERN enum ntm_err ntm_attach_sizes(const json_t *list, int64_t **out,
                                         size_t *n, struct ntm_error *err);
/* A server's quota bookkeeping (table blob_uploads): device sent n more
 * bytes of hash (at now_ms); *total: all the bytes device ever sent. */
NTM_EXTERN enum ntm_err
ntm_store_upload_add(struct ntm_store *st, const char *hash, const char *device,
                     int64_t n, int64_t now_ms, struct ntm_error *err);
NTM_EXTERN enum ntm_err ntm_store_upload_total(struct ntm_store *st,
                                               const char *device,
                                               int64_t *total,
                                               struct ntm_error *err);
/* The bytes of hash the server discarded (they did not match it): they
 * count against nobody's quota any more (every device's count of hash
 * goes). */
NTM_EXTERN enum ntm_err ntm_store_upload_forget(struct ntm_store *st,
                                                const char *hash,
                                                struct ntm_error *err);
/* new: each device's count, [{"device","bytes","files","last_ms"}], the
 * largest first (for the operator: ntm serve --attach-usage). */
NTM_EXTERN enum ntm_err ntm_store_upload_usage(struct ntm_store *st,
                                               json_t **out,
                                               struct ntm_error *err);
/* Forget device's count (its quota starts again; the files stay):
 * *bytes how many bytes were counted. */
NTM_EXTERN enum ntm_err ntm_store_upload_reset(struct ntm_store *st,
                                               const char *device,
                                               int64_t *bytes,
                                               struct ntm_error *err);
/* new: the stored files of dir against the attachments held:
 * {"checked": n, "ok": n, "bad": [hash...], "missing": [hash...],
 * "unreferenced": n}. A bad file is one whose bytes differ from its hash;
 * a missing one is named by an attachment and absent (not an error of the
 * log). */
NTM_EXTERN enum ntm_err ntm_attach_verify(struct ntm_store *st, const char *dir,
                                          json_t **out, struct ntm_error *err);

#endif /* NTM_STORE_H */
