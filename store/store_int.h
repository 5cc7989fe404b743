/* SPDX-License-Identifier: MIT */
/*
 * store_int.h - declarations shared by the files of store/, not part of
 * the public API (SQLite's btreeInt.h).
 *
 * Layers, bottom up, as SQLite's pager below btree below vdbe. A file calls
 * only functions defined in a layer below its own, never beside or above
 * it, so the calls between the files of store/ have no cycle. tests/lint.sh
 * reads the table below (a layer number, then its files) and fails when a
 * call goes sideways or up; a new file of store/ must be listed here.
 *
 *   0  entry.c jtext.c         pure: the entry format (step 1), the total
 *                              order, record ids; canonical JSON texts
 *   0  files.c                 the names of the store's files on disk
 *   0  init.c                  SQLite's global set-up, once
 *   0  subjrnl.c               the statement journal in memory past
 *                              SQLite's own piece (a VFS)
 *   0  search.c                pure: word search, the words typed and the
 *                              FTS5 query built from them alone
 *   0  rank.c                  a word search's rank (bm25 without the
 *                              phrases that weigh nothing), an FTS5
 *                              function
 *   0  blobs.c                 attachment bytes: files named by their
 *                              hash in a folder (no SQLite)
 *   0  photo.c                 photos made fit for weak links
 *                              (libjpeg-turbo; no SQLite)
 *   1  rules.c                 pure: step 5 given the governing enrollment,
 *                              unit codes and scopes
 *   2  db.c                    the file: open, schema and migrations,
 *                              statement cache, transactions, meta. A
 *                              migration that needs the derived state
 *                              rebuilt says so in a flag (Ntm_db_open)
 *   3  log.c                   the log's rows: append, unit index, heads,
 *                              forks, HLC; cursors and readers
 *   4  effect.c                the effect table: its only writer
 *   5  gate.c                  the ingest gate: steps 2-3 (signature,
 *                              chain) decide whether an entry is taken;
 *                              taking it into the log
 *   6  auth.c                  authorization: enrollments, revocations,
 *                              step 4 (Ntm_auth_lookup)
 *   7  state.c                 the derived units and records (SPEC 5)
 *   8  derive.c                the derived state as a whole: one new
 *                              entry's effect, recompute on a root change,
 *                              rebuild (also on open when a migration asks)
 *   9  ingest.c                ntm_store_ingest, ntm_store_write: gate,
 *                              step 4, take, derive
 *  10  ops.c query.c verify.c  the operations, the queries, the audit
 *  10  strand.c                a forked own chain set aside and re-issued
 *  10  admin.c                 join requests; fork evidence read back
 *  10  attach.c                attachments: record.attach, the rattach
 *                              rows read back, a server's uploads, the
 *                              audit of stored bytes
 *  11  digest.c                digests of the records (the report's
 *                              facts) kept in rdigest, made again for
 *                              the records written since (rdirty)
 *
 * Tables and their writers: entries, forks, authors, peer_heads and the HLC
 * in meta: log.c; effect: effect.c; enrollments, revocations: auth.c;
 * units, records, rheads, rcands, rfields, rdoc, rsearch, rattach: state.c
 * (derive.c empties them before a rebuild; state.c's writes to rsearch
 * are deferred to db.c, Ntm_search_put, which writes them by the
 * transaction's end); meta and the schema migrations: db.c; rdigest and
 * rdirty: digest.c (rdirty also through its triggers on records). Any
 * layer may read any table.
 *
 * On-disk layout (schema version 10, see db.c for the DDL):
 *   entries     the log: one row per entry taken, with its exact bytes B
 *               and base64 signature; (author, seq) unique; gseq is the
 *               arrival order (AUTOINCREMENT: never reused). Append-only:
 *               rows are never deleted or rewritten, except the `unit`
 *               column, an index filled in when a record's create arrives.
 *   forks       evidence: entries refused as forks, kept for admins.
 *   authors     per author: head seq and id, and whether the chain is held
 *               only in part (scoped pulls).
 *   peer_heads  what the server is known to hold, per author.
 *   meta        settings (root key, HLC, sync cursor...).
 *   join_requests  (server) devices asking to be enrolled (admin.c).
 *   -- derived (a function of the set of valid entries; rebuildable):
 *   effect      per entry, keyed by its gseq: 0 (takes effect) or the
 *               code why not.
 *   enrollments effective device.enroll entries, with the level of
 *               their actor (0 root, else its scope's depth); revocations
 *               likewise.
 *   units       units created by effective unit.create entries.
 *   records     one row per record: current fields, conflict flag,
 *               review state, heads count, entries waiting; linear (its
 *               valid changes form one line) and then head, its only head
 *               when that is not the create (NULL otherwise). Its
 *               create's id is the entry at (author, c_seq).
 *   rheads      per record that is not linear, its heads (valid changes
 *               nobody dominates).
 *   rcands      per record that is not linear and field, the candidates
 *               (SPEC 5): entry, order, value (JSON), whether it is a head.
 *   rfields     per record that is not linear and field, whether its
 *               candidates conflict.
 *   rdoc        per record, the rowid of its row in rsearch (stable:
 *               an INTEGER PRIMARY KEY, unlike records' own rowid).
 *   rsearch     the word index (SQLite FTS5, tokenizer unicode61
 *               remove_diacritics 2): per record, records.search (text
 *               folded by ntm_text_fold, which also folds d-stroke) and
 *               its unit code with those above it, one token each
 *               (Ntm_search_units, search.c). Kept by state.c with the
 *               record's row, in the same transaction.
 *   rattach     per record, its attachments: the record.attach entries
 *               that take effect (hash, size, type, name, caption).
 *   blob_uploads  (server) bytes of attachments received, per device,
 *               for the quota (attach.c).
 *   -- kept for reads (made on a home's first report; digest.c):
 *   rdigest     per record not deleted, a caller's digest (the report's
 *               facts, plan/rfact.c) by (c_ts, author, id) as bytes,
 *               the order of records_order; meta digest.tag names what
 *               they were made under.
 *   rdirty      the keys of the records written since rdigest was last
 *               brought up to date, filled by triggers on records (so by
 *               any writer, any process); emptied by digest.c.
 */
#ifndef NTM_STORE_INT_H
#define NTM_STORE_INT_H

#include <sqlite3.h>
#include <string.h>

#include "ntm_store.h"

#define NTM_SCHEMA_VERSION 3

/* SQL: the id of the create of the records row in scope (the entry at its
 * author and c_seq; the records table keeps no copy). */
#define NTM_CREATE_ID_SQL                                                      \
    "(SELECT x.id FROM entries x WHERE x.author=records.author AND "           \
    "x.seq=records.c_seq)"
#define NTM_DAY_MS (24LL * 3600 * 1000)

/* Clock flags of an entry (entries.clock_ahead, a bit set; RELIABILITY
 * #18): flagged for admins, never refused, never used for ordering. */
#define NTM_CLOCK_AHEAD 1 /* ts > 24 h ahead of this replica's clock */
#define NTM_CLOCK_BACK  2 /* ts before its author's previous entry's */
#define NTM_CLOCK_EARLY 4 /* ts far before the plan period */
#define NTM_EARLIEST_MS 1420070400000LL /* 2015-01-01T00:00Z */

struct ntm_store {
    sqlite3 *db;
    unsigned flags;
    int tx_depth;  /* >0 inside ntm_store_begin */
    int sp_serial; /* savepoint name counter */
    char root[NTM_HEX_ID_LEN + 1];
    char root_scope[32];
    /* The HLC (meta hlc.ts, hlc.lc) as last read or observed, trusted only
     * while this connection holds the write transaction: cleared when a
     * transaction ends or meta_set touches it, restored when a savepoint
     * rolls back. */
    int hlc_valid;
    int64_t hlc_ts, hlc_lc;
    /* The effect of the entry being taken (fx_gseq, set by ingest around
     * applying it), as Ntm_effect_set last wrote it: saves reading the
     * row back. fx_seen is 0 until it is written. */
    int64_t fx_gseq;
    int fx_seen;
    enum ntm_err fx_code;
    char fx_msg[256];
    /* A write failed: the word index's in-memory state is dropped before
     * the next transaction (db.c, search_heal). */
    int search_heal;
    /* The store keeps no word index (meta "search" = "lazy", a server's
     * store): Ntm_search_put writes nothing, rdoc is kept, and the index
     * is built when a search first needs it (Ntm_state_search_build).
     * Read when the handle opens and when each transaction begins, so
     * that a handle follows another's build. */
    int search_lazy;
    /* Writes to the word index deferred (db.c, Ntm_search_put): FTS5
     * writes its pending terms out as a new segment at every savepoint
     * and release once it holds any, so a write per entry taken cost a
     * segment (and its merges) per entry. spend holds them in order;
     * smarks[k] is spend's length (and the HLC) when savepoint k+1
     * opened. */
    struct Ntm_spend *spend;
    size_t nspend, capspend;
    size_t nwritten; /* those of spend written already (depth >= 0) */
    struct Ntm_smark *smarks;
    int nsmarks, capsmarks;
    /* The HLC observed is written to meta when the transaction commits
     * (one write per batch instead of one per entry): hlc_dirty until
     * then. */
    int hlc_dirty;
    /* One author's row in `authors` as this write scope last read or
     * wrote it (log.c), and its head entry's ts when that entry was taken
     * here: the next entry of the same author (a bundle, a pull page and
     * a push hold runs of them) is checked and flagged without reading
     * back what was just written. Trusted only inside a write scope
     * (Ntm_sp_begin or ntm_store_begin) and forgotten when a savepoint
     * rolls back or the transaction ends (db.c) and when the authors'
     * rows are rewritten otherwise (Ntm_log_chain_forget). */
    struct Ntm_chain {
        int valid;
        char author[NTM_HEX_ID_LEN + 1];
        int held; /* the author has a row */
        int64_t head_seq;
        char head_id[NTM_HEX_ID_LEN + 1];
        int partial;
        int ts_known;
        int64_t head_ts;
    } chain;
};

/* What a rollback to a savepoint restores of the handle's state. */
struct Ntm_smark {
    size_t nspend;
    int hlc_valid, hlc_dirty;
    int64_t hlc_ts, hlc_lc;
};

/* One deferred write to the word index: the row of doc becomes (words,
 * units), or goes (words NULL); had: the index may hold a row of doc
 * before it. depth: -1 not written yet, else the savepoint depth it was
 * written at (undone if that savepoint rolls back). */
struct Ntm_spend {
    int64_t doc;
    char *words, *units;
    int had;
    int depth;
};

/* A parsed, well-formed entry (step 1 passed). Strings point into json. */
struct Ntm_entry {
    json_t *json; /* owned: the parsed object */
    const char *bytes;
    size_t len;
    char id[NTM_HEX_ID_LEN + 1];
    int64_t gseq; /* the row's gseq once stored (0 when not known) */
    int alone;    /* 1: known to be its record's only entry held */
    const char *author;
    int64_t seq;
    const char *prev; /* NULL for seq 1 */
    int64_t ts;
    int64_t lc;
    const char *op;
    json_t *body;       /* borrowed from json */
    const char *record; /* body.id for record.* and review, else NULL */
    /* record.create with a record: the id bound to its author and seq
     * (SPEC 3), which record must be; "" otherwise. */
    char bound[NTM_RECORD_ID_LEN + 1];
};

/* ==================================================================
 * Layer 0: entry.c, jtext.c - pure functions on bytes and texts.
 * ================================================================== */

/* entry.c - step 1: parse and check well-formedness of B. On failure
 * returns NTM_EBADENTRY with a reason in msg, or NTM_ENOMEM when memory ran
 * out (then nothing is known about B: callers must fail, not judge).
 * e->json must be released with Ntm_entry_release even on failure. */
enum ntm_err Ntm_entry_parse(struct Ntm_entry *e, const char *bytes, size_t len,
                             char *msg, size_t msglen);
void Ntm_entry_release(struct Ntm_entry *e);
/* src into dst (n > 0 bytes), cut as snprintf("%s") cuts it: for the
 * strings copied once or more per entry taken, where printf's parsing
 * costs more than the copy. */
static inline void
Ntm_copy(char *dst, size_t n, const char *src)
{
    size_t k = strlen(src);
    if (k >= n)
        k = n - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
}

/* Compare two entries in the total order (ts, lc, author, seq). */
int Ntm_order_cmp(int64_t ts1, int64_t lc1, const char *a1, int64_t s1,
                  int64_t ts2, int64_t lc2, const char *a2, int64_t s2);

/* new: the object the compact JSON text[0..len) holds, as
 * json_loadb(JSON_REJECT_DUPLICATES) builds it, members in the same order;
 * NULL when the quick reader does not take the text (anything but objects,
 * arrays, strings, integers of at most 15 digits and true, false, null
 * without white space; a duplicate key; \u0000; bytes not UTF-8; memory
 * running out): ask jansson then, whose verdict stands (entry.c). */
json_t *Ntm_jparse_object(const char *text, size_t len);

/* jtext.c: the canonical JSON texts the store writes (compact, keys
 * sorted), read and merged without jansson values. */
/* End of the JSON value at p, or NULL when the text is not one. */
const char *Ntm_jtext_skip(const char *p);
/* new: the JSON string literal [p, end) decoded; NULL when invalid or out
 * of memory. */
char *Ntm_jtext_string(const char *p, const char *end);
/* The value of key in the object text obj: 1 found ([*v, *vend)), 0 not,
 * -1 invalid text or out of memory. */
int Ntm_jtext_get(const char *obj, const char *key, const char **v,
                  const char **vend);
/* Append the JSON string literal of s[0..n) as the store writes it
 * (jansson's escapes, UTF-8 kept). */
enum ntm_err Ntm_jtext_put_string(struct ntm_buf *b, const char *s, size_t n);
/* new: obj with keys[i] set to the JSON texts vals[i], keys sorted; NULL
 * when invalid or out of memory. */
char *Ntm_jtext_merge(const char *obj, const char *const *keys,
                      const char *const *vals, size_t n);

/* search.c: word search (ntm_record_filter.text). */
struct Ntm_search {
    char **words;  /* the folded words typed (ntm_text_words) */
    size_t n;      /* how many; 0: the text has no word */
    json_t *codes; /* per word, the codes of units whose names hold it */
};
/* Parse text, with the names of units known outside the store (may be
 * NULL). NTM_EINVAL when text is not UTF-8. Release q even on failure. */
enum ntm_err Ntm_search_parse(struct Ntm_search *q, const char *text,
                              const struct ntm_unit_name *names,
                              struct ntm_error *err);
void Ntm_search_release(struct Ntm_search *q);
/* new: the FTS5 query of q (q->n > 0) over rsearch, and of records in or
 * below unit when it is a unit code (unit may be NULL; the caller still
 * filters by unit); NULL when out of memory. *mask (new): per phrase of
 * the query, in order, '1' for a phrase of the words column, '0' for one
 * of the units column (ntm_rank's mask). */
char *Ntm_search_fts(const struct Ntm_search *q, const char *unit, char **mask);

/* rank.c: register ntm_rank(rsearch, mask) on db, the rank of a word
 * search (bm25(rsearch, 1.0, 0.0), the phrases of mask '0' not counted):
 * an SQLite code. */
int Ntm_rank_register(sqlite3 *db);
/* new: the index's units column for a record of unit: for a code (digits
 * and dots) the code of each unit from the top down to it, the dots as x
 * ("72.710.3": "72 72x710 72x710x3"), as many tokens as the code has
 * parts; any other text as it is. NULL when out of memory. */
char *Ntm_search_units(const char *unit);
/* Whether a record with the search text text (unfolded or folded) and
 * unit matches q, as the index would answer. */
int Ntm_search_matches(const struct Ntm_search *q, const char *text,
                       const char *unit);

/* ==================================================================
 * Layer 1: rules.c - step 5 as pure functions of an entry and the
 * enrollment that governs it; unit codes and scopes.
 * ================================================================== */

/* Whether unit is equal to scope or below it. "" covers all. */
int Ntm_scope_covers(const char *scope, const char *unit);
/* Whether s is a well-formed unit code (digits separated by dots). */
int Ntm_unit_code_valid(const char *s);
/* Level name of a unit code by depth: province, district, commune, hamlet,
 * or "unit" below. */
const char *Ntm_unit_level(const char *code);
/* Whether an enrollment for enr_org may act on a record of org: the same
 * organization, or an enrollment of the Front ("mttq") or of no
 * organization (""), which act across organizations. */
int Ntm_org_covers(const char *enr_org, const char *org);
/* Step 5 for one entry, given the enrollment that governs it and the unit
 * and organization the entry concerns (the record's, from its effective
 * create; NULL when unknown; a record.create names its own). Returns a
 * verdict (Ntm_is_verdict: NTM_OK, NTM_EBADBODY, NTM_EFORBIDDEN,
 * NTM_EUNKNOWNAUTHOR, NTM_EREVOKED or NTM_ENOENT) with a reason in msg, or
 * a failure of the replica (NTM_ENOMEM, NTM_EDB...) described in err. */
enum ntm_err Ntm_rules_check(struct ntm_store *st, const struct Ntm_entry *e,
                             const struct ntm_enrollment *enr, const char *unit,
                             const char *org, char *msg, size_t msglen,
                             struct ntm_error *err);
/* As Ntm_rules_check, with the reason in why (its message id kept, so
 * that it can be translated). */
enum ntm_err Ntm_rules_check_why(struct ntm_store *st,
                                 const struct Ntm_entry *e,
                                 const struct ntm_enrollment *enr,
                                 const char *unit, const char *org,
                                 struct ntm_error *why, struct ntm_error *err);
/* Whether code is a verdict on an entry rather than a failure. */
static inline int
Ntm_is_verdict(enum ntm_err code)
{
    return code == NTM_OK || code == NTM_EBADBODY || code == NTM_EFORBIDDEN ||
           code == NTM_EUNKNOWNAUTHOR || code == NTM_EREVOKED ||
           code == NTM_ENOENT;
}
/* Body shape checks only (no authorization). */
enum ntm_err Ntm_rules_body(const struct Ntm_entry *e, char *msg,
                            size_t msglen);
enum ntm_err Ntm_rules_body_why(const struct Ntm_entry *e,
                                struct ntm_error *why);
/* Whether a role may perform op. */
int Ntm_role_allows(const char *role, const char *op);

/* ==================================================================
 * Layer 2: db.c - the SQLite file.
 * ================================================================== */

/* Open the file, set it up and run the migrations. *rebuild: 1 when a
 * migration asked for the derived state to be rebuilt (meta `rebuild`);
 * ntm_store_open acts on it. */
enum ntm_err Ntm_db_open(struct ntm_store **out, const char *path,
                         unsigned flags, int *rebuild, struct ntm_error *err);
enum ntm_err Ntm_db_error(struct ntm_store *st, int rc, struct ntm_error *err,
                          const char *what);
enum ntm_err Ntm_exec(struct ntm_store *st, const char *sql,
                      struct ntm_error *err);
/* Make the tables and triggers of the records' digests (rdigest, rdirty;
 * digest.c) if they are not there. */
enum ntm_err Ntm_db_digests_on(struct ntm_store *st, struct ntm_error *err);
/* small: the page cache down to SQLite's default (2 MB) for a read that
 * touches each page once or twice (a word search: posting lists, then a
 * page of records), which the store's 32 MB, set for the random writes of
 * ingest, would only hold as memory; outside a transaction only (a
 * transaction's own pages stay). 1 when it was made small, to be put
 * back by Ntm_cache_small(st, 0) after the read. Best effort. */
int Ntm_cache_small(struct ntm_store *st, int small);
/* Prepare (cached by SQLite's own statement cache is not enough: we keep
 * the statement in st; see db.c). */
sqlite3_stmt *Ntm_prepare(struct ntm_store *st, const char *sql,
                          struct ntm_error *err);
/* NTM_OK when rc (from sqlite3_step) is SQLITE_ROW or SQLITE_DONE; else
 * the mapped error, with what in the message. */
enum ntm_err Ntm_step_ok(struct ntm_store *st, int rc, struct ntm_error *err,
                         const char *what);
/* Step the bound statement s to its end and reset it: *out (new) is the
 * array of column 0's texts, or with pairs of [column 0 as an integer,
 * column 1's bytes as a string] (a gseq and an entry's bytes). Callers
 * collect first because what they then do reads through the statement
 * cache. */
/* Step s (prepared and bound, cached or not) to its end, appending
 * build(s) of each row (NULL: out of memory) to a new array in *out (NULL
 * on failure); s is reset. what names the read in an error. */
enum ntm_err Ntm_collect_rows(struct ntm_store *st, sqlite3_stmt *s,
                              json_t *(*build)(sqlite3_stmt *), json_t **out,
                              struct ntm_error *err, const char *what);
enum ntm_err Ntm_collect(struct ntm_store *st, sqlite3_stmt *s, int pairs,
                         json_t **out, struct ntm_error *err);
/* Free a string from json_dumps with jansson's own allocator. */
void Ntm_json_free(void *p);
/* Savepoints: nestable write scopes used by every write function. */
enum ntm_err Ntm_sp_begin(struct ntm_store *st, struct ntm_error *err);
enum ntm_err Ntm_sp_end(struct ntm_store *st, int ok, struct ntm_error *err);
/* The word index's row of doc becomes (words, units), or goes (words
 * NULL), when the deferred writes are written: at the latest when the
 * transaction commits (or after NTM_SEARCH_BATCH of them). had: a row of
 * doc may be held already. Inside the current write scope: undone with
 * it. Strings are copied. */
enum ntm_err Ntm_search_put(struct ntm_store *st, int64_t doc,
                            const char *words, const char *units, int had,
                            struct ntm_error *err);
/* 1 when a write of doc is deferred: its words (NULL: the row goes) and
 * units, the latest; 0 when the index itself says. */
int Ntm_search_pending(struct ntm_store *st, int64_t doc, const char **words,
                       const char **units);
/* Write the deferred writes to the word index now (before reading it, or
 * rebuilding it, inside a transaction). */
enum ntm_err Ntm_search_flush(struct ntm_store *st, struct ntm_error *err);
/* st->search_lazy from meta (inside the transaction that just began). */
enum ntm_err Ntm_search_mode_load(struct ntm_store *st, struct ntm_error *err);
/* After a failed write, outside a transaction: make FTS5 forget what it
 * cached on this handle (best effort; kept pending while it fails). */
void Ntm_search_heal(struct ntm_store *st);
#define NTM_SEARCH_BATCH 512

/* ==================================================================
 * Layer 3: log.c - the rows of the log.
 * ================================================================== */

/* An author's head: seq (0 when none), id ("" when none; may be NULL) and
 * whether its chain is held only in part (may be NULL). NTM_ENOENT when
 * nothing of the author is held. */
enum ntm_err Ntm_log_head(struct ntm_store *st, const char *author,
                          int64_t *seq, char *id, int *partial,
                          struct ntm_error *err);
/* id (NTM_HEX_ID_LEN + 1 bytes) of the entry held at (author, seq), ""
 * when none. */
enum ntm_err Ntm_log_id_at(struct ntm_store *st, const char *author,
                           int64_t seq, char *id, struct ntm_error *err);
/* prev (NTM_HEX_ID_LEN + 1 bytes) of the entry held at (author, seq), ""
 * when none. */
enum ntm_err Ntm_log_prev_at(struct ntm_store *st, const char *author,
                             int64_t seq, char *prev, struct ntm_error *err);
/* ts of the entry held at (author, seq); *found 0 when none. */
enum ntm_err Ntm_log_ts_at(struct ntm_store *st, const char *author,
                           int64_t seq, int64_t *ts, int *found,
                           struct ntm_error *err);
/* Keep e, refused as a fork, as evidence (table forks). */
enum ntm_err Ntm_log_fork(struct ntm_store *st, const struct Ntm_entry *e,
                          const char *sig, struct ntm_error *err);
/* The unit an entry concerns, for scoped pulls: the record's unit (from
 * its create, when held), a unit.create's code; "" when not known. */
enum ntm_err Ntm_log_unit(struct ntm_store *st, const struct Ntm_entry *e,
                          char *unit, size_t n, struct ntm_error *err);
/* Append e's row (unit and waits: "" or NULL for none), received at now
 * (ntm_now_ms); sets e->gseq and e->alone. */
enum ntm_err Ntm_log_append(struct ntm_store *st, struct Ntm_entry *e,
                            const char *sig, int clock_ahead, const char *unit,
                            const char *waits, int64_t now,
                            struct ntm_error *err);
/* *gseqs (new): the gseqs of record's entries whose unit is not known,
 * in arrival order. */
enum ntm_err Ntm_log_waiting(struct ntm_store *st, const char *record,
                             json_t **gseqs, struct ntm_error *err);
/* Give the entry at gseq the next gseq (never used before): *to. */
enum ntm_err Ntm_log_renumber(struct ntm_store *st, int64_t gseq, int64_t *to,
                              struct ntm_error *err);
/* Set unit on every entry of record whose unit was not known. */
enum ntm_err Ntm_log_index_unit(struct ntm_store *st, const char *record,
                                const char *unit, struct ntm_error *err);
/* Set author's entries from from_seq on aside (table stranded), out of the
 * log, with their fork evidence; the head falls back. *n: entries moved. */
enum ntm_err Ntm_log_strand(struct ntm_store *st, const char *author,
                            int64_t from_seq, int64_t *n,
                            struct ntm_error *err);
/* Forget the author's row kept in the handle (st->chain): called by
 * whatever rewrites `authors` other than Ntm_log_set_head. */
void Ntm_log_chain_forget(struct ntm_store *st);
/* Raise e's author's head to e (when above it), partial sticking. */
enum ntm_err Ntm_log_set_head(struct ntm_store *st, const struct Ntm_entry *e,
                              int partial, struct ntm_error *err);
/* The replica's HLC (0, 0 when never set), and raising it to (ts, lc). */
enum ntm_err Ntm_hlc_get(struct ntm_store *st, int64_t *ts, int64_t *lc,
                         struct ntm_error *err);
enum ntm_err Ntm_hlc_observe(struct ntm_store *st, int64_t ts, int64_t lc,
                             struct ntm_error *err);

/* ==================================================================
 * Layer 4: effect.c - the effect table, and its only writer.
 * ================================================================== */

/* The effect of the entry stored at gseq. */
enum ntm_err Ntm_effect_set(struct ntm_store *st, int64_t gseq,
                            enum ntm_err code, const char *msg,
                            struct ntm_error *err);
/* The same for every entry matching the SQL condition where_sql (over
 * table entries), the message being the SQL expression msg_sql. */
enum ntm_err Ntm_effect_set_many(struct ntm_store *st, enum ntm_err code,
                                 const char *msg_sql, const char *where_sql,
                                 struct ntm_error *err);
/* The effect of the entry renumbered from gseq `from` to `to`. */
enum ntm_err Ntm_effect_move(struct ntm_store *st, int64_t from, int64_t to,
                             struct ntm_error *err);
/* Forget every effect (a rebuild recomputes them all). */
enum ntm_err Ntm_effect_clear(struct ntm_store *st, struct ntm_error *err);
/* Remember the effect written next for gseq (0: stop), so that
 * Ntm_effect_get need not read it back. */
void Ntm_effect_watch(struct ntm_store *st, int64_t gseq);
/* The effect of the entry at gseq: NTM_OK and "" when none is stored. */
enum ntm_err Ntm_effect_get(struct ntm_store *st, int64_t gseq,
                            enum ntm_err *code, char *msg, size_t msglen,
                            struct ntm_error *err);

/* ==================================================================
 * Layer 5: gate.c - whether an entry is taken into the log, and taking it.
 * ================================================================== */

/* Steps 2 (signature) and 3 (chain) for e, parsed from the bytes
 * received: a refusal goes to res->verdict (and a fork to the evidence),
 * an entry already held sets res->duplicate. Else *partial: whether the
 * author's chain will be held only in part. sig_checked: step 2 was
 * already passed by these very bytes and this signature (Ntm_gate_sig,
 * through an ntm_checked that owns both), so it is not run again. */
enum ntm_err Ntm_gate_check(struct ntm_store *st, const struct Ntm_entry *e,
                            const char *sig_b64, int sig_checked,
                            enum ntm_source source,
                            struct ntm_ingest_result *res, int *partial,
                            struct ntm_error *err);
/* Step 2 alone, which needs no store: 1 when sig_b64 is e's author's
 * signature of e's bytes, else 0 with the refusal in res. Any thread. */
int Ntm_gate_sig(const struct Ntm_entry *e, const char *sig_b64,
                 struct ntm_ingest_result *res);
/* Take e, which passed Ntm_gate_check and step 4: its row (with its clock
 * flags, in res too), the unit index of entries that waited for it, its
 * author's head and the HLC. unit: Ntm_log_unit's; waits: the scope it
 * waits in when its unit is not known. */
enum ntm_err Ntm_gate_take(struct ntm_store *st, struct Ntm_entry *e,
                           const char *sig_b64, int partial, const char *unit,
                           const char *waits, struct ntm_ingest_result *res,
                           struct ntm_error *err);

/* ==================================================================
 * Layer 6: auth.c - who may act.
 * ================================================================== */

/* The enrollment governing (author, seq); root handled. */
enum ntm_err Ntm_auth_lookup(struct ntm_store *st, const char *author,
                             int64_t seq, struct ntm_enrollment *out,
                             struct ntm_error *err);
/* For e, a device.* entry just stored (gseq known): judges the key it
 * names and what follows from it. *changed_keys: a new array of the keys
 * whose authorization changed, or NULL when none could. */
enum ntm_err Ntm_auth_entry(struct ntm_store *st, const struct Ntm_entry *e,
                            json_t **changed_keys, struct ntm_error *err);
/* Recompute effective enrollments and revocations from the device.*
 * entries held. *changed_keys gets a new JSON array of keys whose
 * authorization changed (may be NULL). */
enum ntm_err Ntm_auth_recompute(struct ntm_store *st, json_t **changed_keys,
                                struct ntm_error *err);

/* ==================================================================
 * Layer 7: state.c - units and records.
 * ================================================================== */

enum ntm_err Ntm_state_record(struct ntm_store *st, const char *record_id,
                              struct ntm_error *err);
/* The same for the record of e, an entry just stored (e->record not
 * NULL; e borrowed): cheaper when e is the record's only entry. */
enum ntm_err Ntm_state_entry(struct ntm_store *st, const struct Ntm_entry *e,
                             struct ntm_error *err);
enum ntm_err Ntm_state_units(struct ntm_store *st, struct ntm_error *err);
/* The units row of one code, from its unit.create entries. */
enum ntm_err Ntm_state_unit(struct ntm_store *st, const char *code,
                            struct ntm_error *err);
/* Recompute every unit and record with an entry by one of these authors
 * (their authorization changed). */
enum ntm_err Ntm_state_authors(struct ntm_store *st, json_t *keys,
                               struct ntm_error *err);
/* Recompute units and every record from the log (rebuild, root change). */
enum ntm_err Ntm_state_all(struct ntm_store *st, struct ntm_error *err);
/* A store that keeps no word index (st->search_lazy) gets one, from its
 * records, and keeps it from then on; NTM_OK at once when it has one.
 * NTM_EREADONLY on a read-only handle. Its own transaction. */
enum ntm_err Ntm_state_search_build(struct ntm_store *st,
                                    struct ntm_error *err);
/* A record's heads (new: a JSON array, sorted) and conflicts (new: a JSON
 * object field -> candidates in total order, {} when none), from rheads
 * and rcands. */
enum ntm_err Ntm_record_heads(struct ntm_store *st, const char *record,
                              json_t **out, struct ntm_error *err);
enum ntm_err Ntm_record_conflicts(struct ntm_store *st, const char *record,
                                  json_t **out, struct ntm_error *err);

/* ==================================================================
 * Layer 8: derive.c - the derived state as a whole.
 * ================================================================== */

/* The derived state one new entry changes (e taken, e->gseq known): its
 * effect, and what follows (authorization, units, its record). */
enum ntm_err Ntm_derive_entry(struct ntm_store *st, const struct Ntm_entry *e,
                              struct ntm_error *err);
/* Drop the derived state and recompute it from the log (no savepoint). */
enum ntm_err Ntm_rebuild_derived(struct ntm_store *st, struct ntm_error *err);

/* Layer 9: ingest.c and layer 10: ops.c, query.c, verify.c implement the
 * public API only (ntm_store.h). */

/* init.c: crypto, then SQLite, set up once (ntm_global_init and
 * ntm_store_open call it). */
enum ntm_err Ntm_store_init(void);
/* subjrnl.c: the name of the VFS that keeps statement journals in memory
 * (up to 16 MiB), or NULL for the default VFS. */
const char *Ntm_subjournal_vfs(void);

#endif /* NTM_STORE_INT_H */
