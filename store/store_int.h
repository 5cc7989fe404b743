/* SPDX-License-Identifier: MIT */
/*
 * store_int.h - declarations shared by the files of store/, not part of
 * the public API (SQLite's btreeInt.h).
 *
 * On-disk layout (schema version 3, see db.c for the DDL):
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
 *   -- derived (a function of the set of valid entries; rebuildable):
 *   effect      per entry, keyed by its gseq: 0 (takes effect) or the
 *               code why not.
 *   enrollments effective device.enroll entries, with the level of
 *               their actor (0 root, else its scope's depth); revocations
 *               likewise.
 *   units       units created by effective unit.create entries.
 *   records     one row per record: current fields, conflict flag,
 *               review state, search text, heads count, entries waiting.
 *   rheads      per record, its heads (valid changes nobody dominates).
 *   rcands      per record and field, the candidates (SPEC 5): entry,
 *               order, value (JSON), whether it is a head.
 *   rfields     per record and field, whether its candidates conflict.
 */
#ifndef NTM_STORE_INT_H
#define NTM_STORE_INT_H

#include <sqlite3.h>

#include "ntm_store.h"

#define NTM_SCHEMA_VERSION 3
#define NTM_DAY_MS         (24LL * 3600 * 1000)

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
    /* The HLC (meta hlc.ts, hlc.lc) as last read or written, trusted only
     * while this connection holds the write transaction: cleared when a
     * transaction ends, a savepoint rolls back or meta_set touches it. */
    int hlc_valid;
    int64_t hlc_ts, hlc_lc;
    /* The effect of the entry being taken (fx_gseq, set by ingest around
     * applying it), as Ntm_effect_set last wrote it: saves reading the
     * row back. fx_seen is 0 until it is written. */
    int64_t fx_gseq;
    int fx_seen;
    enum ntm_err fx_code;
    char fx_msg[256];
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
};

/* Step 1: parse and check well-formedness of B. On failure returns
 * NTM_EBADENTRY with a reason in msg, or NTM_ENOMEM when memory ran out
 * (then nothing is known about B: callers must fail, not judge). e->json
 * must be released with Ntm_entry_release even on failure. */
enum ntm_err Ntm_entry_parse(struct Ntm_entry *e, const char *bytes, size_t len,
                             char *msg, size_t msglen);
void Ntm_entry_release(struct Ntm_entry *e);
/* Compare two entries in the total order (ts, lc, author, seq). */
int Ntm_order_cmp(int64_t ts1, int64_t lc1, const char *a1, int64_t s1,
                  int64_t ts2, int64_t lc2, const char *a2, int64_t s2);

/* db.c */
enum ntm_err Ntm_db_error(struct ntm_store *st, int rc, struct ntm_error *err,
                          const char *what);
enum ntm_err Ntm_exec(struct ntm_store *st, const char *sql,
                      struct ntm_error *err);
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
enum ntm_err Ntm_collect(struct ntm_store *st, sqlite3_stmt *s, int pairs,
                         json_t **out, struct ntm_error *err);
/* Free a string from json_dumps with jansson's own allocator. */
void Ntm_json_free(void *p);
/* Savepoints: nestable write scopes used by every write function. */
enum ntm_err Ntm_sp_begin(struct ntm_store *st, struct ntm_error *err);
enum ntm_err Ntm_sp_end(struct ntm_store *st, int ok, struct ntm_error *err);

/* scope.c: whether unit is equal to scope or below it. "" covers all. */
int Ntm_scope_covers(const char *scope, const char *unit);
/* Whether s is a well-formed unit code (digits separated by dots). */
int Ntm_unit_code_valid(const char *s);
/* Level name of a unit code by depth: province, district, commune, hamlet,
 * or "unit" below. */
const char *Ntm_unit_level(const char *code);

/* auth.c: enrollment governing (author, seq); root handled. */
enum ntm_err Ntm_auth_lookup(struct ntm_store *st, const char *author,
                             int64_t seq, struct ntm_enrollment *out,
                             struct ntm_error *err);
/* Recompute effective enrollments and revocations from the device.*
 * entries held. *changed_keys gets a new JSON array of keys whose
 * authorization changed (may be NULL). */
/* The same for e, a device.* entry just stored (gseq known): judges the
 * key it names and what follows from it. *changed_keys: a new array of
 * the keys whose authorization changed, or NULL when none could. */
enum ntm_err Ntm_auth_entry(struct ntm_store *st, const struct Ntm_entry *e,
                            json_t **changed_keys, struct ntm_error *err);
enum ntm_err Ntm_auth_recompute(struct ntm_store *st, json_t **changed_keys,
                                struct ntm_error *err);

/* rules.c: step 5 for one entry, given the enrollment that governs it and
 * the unit the entry concerns (the record's unit; NULL when unknown).
 * Returns a verdict (Ntm_is_verdict: NTM_OK, NTM_EBADBODY, NTM_EFORBIDDEN,
 * NTM_EUNKNOWNAUTHOR, NTM_EREVOKED or NTM_ENOENT) with a reason in msg, or
 * a failure of the replica (NTM_ENOMEM, NTM_EDB...) described in err. */
enum ntm_err Ntm_rules_check(struct ntm_store *st, const struct Ntm_entry *e,
                             const struct ntm_enrollment *enr, const char *unit,
                             char *msg, size_t msglen, struct ntm_error *err);
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

/* state.c: a record's heads (new: a JSON array, sorted) and conflicts
 * (new: a JSON object field -> candidates in total order, {} when none),
 * from rheads and rcands. */
enum ntm_err Ntm_record_heads(struct ntm_store *st, const char *record,
                              json_t **out, struct ntm_error *err);
enum ntm_err Ntm_record_conflicts(struct ntm_store *st, const char *record,
                                  json_t **out, struct ntm_error *err);

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
/* Whether a role may perform op. */
int Ntm_role_allows(const char *role, const char *op);

/* state.c */
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
/* The effect of the entry stored at gseq. */
enum ntm_err Ntm_effect_set(struct ntm_store *st, int64_t gseq,
                            enum ntm_err code, const char *msg,
                            struct ntm_error *err);

/* changelog.c */
enum ntm_err Ntm_hlc_observe(struct ntm_store *st, int64_t ts, int64_t lc,
                             struct ntm_error *err);

/* Recompute units and every record from the log (rebuild, root change). */
enum ntm_err Ntm_state_all(struct ntm_store *st, struct ntm_error *err);

/* init.c: crypto, then SQLite, set up once (ntm_global_init and
 * ntm_store_open call it). */
enum ntm_err Ntm_store_init(void);

#endif /* NTM_STORE_INT_H */
