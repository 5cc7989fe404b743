/* SPDX-License-Identifier: MIT */
/*
 * log.c - the rows of the signed, hash-chained log (the lowest layer
 * above db.c): appending an entry's row and indexing its unit, the
 * authors' heads, fork evidence, the replica's HLC, and reading the log
 * back (cursors by gseq or by author and seq, heads, counts, what the
 * server is known to hold).
 *
 * Row invariants (table `entries`, see store_int.h): id = BLAKE2b-256 of
 * bytes; the signature verifies for author; for a full chain, seq runs
 * 1..head with each prev naming the row before. Nothing here decides
 * whether an entry is taken: gate.c checks signature and chain before it
 * appends; a fork (same author and seq, other bytes) is never written to
 * `entries`: the refused entry goes to `forks` as evidence.
 *
 * Reads `effect` (the cursors report each entry's effect) but never writes
 * it: effect.c does.
 *
 * Depends on util/, crypto/ (hex checks), db.c, jansson, SQLite.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

/* Whether st->chain may be read or kept: inside a write scope opened
 * through db.c, whose end forgets it. */
static int
chain_scope(const struct ntm_store *st)
{
    return st->tx_depth > 0 || st->sp_serial > 0;
}

/* st->chain, when it holds author's row. */
static const struct Ntm_chain *
chain_of(const struct ntm_store *st, const char *author)
{
    if (!st->chain.valid || !chain_scope(st) ||
        strcmp(st->chain.author, author) != 0)
        return NULL;
    return &st->chain;
}

void
Ntm_log_chain_forget(struct ntm_store *st)
{
    st->chain.valid = 0;
}

enum ntm_err
Ntm_log_head(struct ntm_store *st, const char *author, int64_t *seq, char *id,
             int *partial, struct ntm_error *err)
{
    *seq = 0;
    if (id)
        id[0] = '\0';
    if (partial)
        *partial = 0;
    const struct Ntm_chain *c = chain_of(st, author);
    if (c) {
        if (!c->held)
            return NTM_ENOENT;
        *seq = c->head_seq;
        if (id)
            memcpy(id, c->head_id, sizeof(c->head_id));
        if (partial)
            *partial = c->partial;
        return NTM_OK;
    }
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT head_seq, head_id, partial FROM authors WHERE author=?1",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    struct Ntm_chain got;
    memset(&got, 0, sizeof(got));
    if (rc == SQLITE_ROW) {
        const char *hid = (const char *)sqlite3_column_text(s, 1);
        got.held = 1;
        got.head_seq = sqlite3_column_int64(s, 0);
        snprintf(got.head_id, sizeof(got.head_id), "%s", hid ? hid : "");
        got.partial = sqlite3_column_int(s, 2);
        *seq = got.head_seq;
        if (id)
            memcpy(id, got.head_id, sizeof(got.head_id));
        if (partial)
            *partial = got.partial;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return Ntm_db_error(st, rc, err, "cannot read the author's head");
    if (chain_scope(st) && strlen(author) == NTM_HEX_ID_LEN) {
        got.valid = 1;
        memcpy(got.author, author, sizeof(got.author));
        st->chain = got;
    }
    return rc == SQLITE_ROW ? NTM_OK : NTM_ENOENT;
}

enum ntm_err
ntm_store_head(struct ntm_store *st, const char *author, int64_t *seq,
               char id[NTM_HEX_ID_LEN + 1])
{
    return Ntm_log_head(st, author, seq, id, NULL, NULL);
}

enum ntm_err
Ntm_log_id_at(struct ntm_store *st, const char *author, int64_t seq, char *id,
              struct ntm_error *err)
{
    id[0] = '\0';
    /* Nothing is held above an author's head (its highest seq held). */
    const struct Ntm_chain *c = chain_of(st, author);
    if (c && (!c->held || seq > c->head_seq))
        return NTM_OK;
    if (c && seq == c->head_seq) {
        memcpy(id, c->head_id, sizeof(c->head_id));
        return NTM_OK;
    }
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT id FROM entries WHERE author=?1 AND seq=?2", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        snprintf(id, NTM_HEX_ID_LEN + 1, "%s",
                 (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return Ntm_db_error(st, rc, err, "cannot read the log");
    return NTM_OK;
}

enum ntm_err
Ntm_log_prev_at(struct ntm_store *st, const char *author, int64_t seq,
                char *prev, struct ntm_error *err)
{
    prev[0] = '\0';
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT prev FROM entries WHERE author=?1 AND seq=?2", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(prev, NTM_HEX_ID_LEN + 1, "%s",
                 (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return Ntm_step_ok(st, r, err, "cannot read the log");
}

enum ntm_err
Ntm_log_ts_at(struct ntm_store *st, const char *author, int64_t seq,
              int64_t *ts, int *found, struct ntm_error *err)
{
    *found = 0;
    *ts = 0;
    const struct Ntm_chain *c = chain_of(st, author);
    if (c && (!c->held || seq > c->head_seq))
        return NTM_OK;
    if (c && c->ts_known && seq == c->head_seq) {
        *found = 1;
        *ts = c->head_ts;
        return NTM_OK;
    }
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT ts FROM entries WHERE author=?1 AND seq=?2", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *found = 1;
        *ts = sqlite3_column_int64(s, 0);
    }
    sqlite3_reset(s);
    return Ntm_step_ok(st, r, err, "cannot read the log");
}

enum ntm_err
Ntm_log_fork(struct ntm_store *st, const struct Ntm_entry *e, const char *sig,
             struct ntm_error *err)
{
    sqlite3_stmt *s =
        Ntm_prepare(st,
                    "INSERT OR IGNORE INTO forks(id, author, seq, bytes, sig, "
                    "received_ms) VALUES(?1,?2,?3,?4,?5,?6)",
                    err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, e->author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, e->seq);
    sqlite3_bind_blob(s, 4, e->bytes, (int)e->len, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, sig, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, ntm_now_ms());
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return Ntm_db_error(st, rc, err, "cannot keep fork evidence");
    return NTM_OK;
}

/* Called inside a write transaction, so the copy kept in st stays true
 * until it ends. */
enum ntm_err
Ntm_hlc_get(struct ntm_store *st, int64_t *ts, int64_t *lc,
            struct ntm_error *err)
{
    if (!st->hlc_valid) {
        enum ntm_err rc =
            ntm_store_meta_get_int(st, "hlc.ts", 0, &st->hlc_ts, err);
        if (rc == NTM_OK)
            rc = ntm_store_meta_get_int(st, "hlc.lc", 0, &st->hlc_lc, err);
        if (rc != NTM_OK)
            return rc;
        st->hlc_valid = 1;
    }
    *ts = st->hlc_ts;
    *lc = st->hlc_lc;
    return NTM_OK;
}

enum ntm_err
Ntm_hlc_observe(struct ntm_store *st, int64_t ts, int64_t lc,
                struct ntm_error *err)
{
    int64_t lts, llc;
    enum ntm_err rc = Ntm_hlc_get(st, &lts, &llc, err);
    if (rc != NTM_OK)
        return rc;
    if (ts < lts || (ts == lts && lc <= llc))
        return NTM_OK;
    /* Written to meta when the transaction commits (db.c, hlc_flush);
     * a savepoint's rollback restores the value it opened with. */
    st->hlc_dirty = 1;
    st->hlc_ts = ts;
    st->hlc_lc = lc;
    st->hlc_valid = 1;
    return NTM_OK;
}

enum ntm_err
Ntm_log_unit(struct ntm_store *st, const struct Ntm_entry *e, char *unit,
             size_t n, struct ntm_error *err)
{
    unit[0] = '\0';
    if (strcmp(e->op, "record.create") == 0) {
        /* Only the create bound to its author and seq names the record's
         * unit; another (a hijack attempt) is indexed like any other entry
         * of the record it names: the true create's unit once held, else
         * not known. Either arrival order gives the same index. */
        json_t *u = json_object_get(e->body, "unit");
        if (!e->record)
            return NTM_OK;
        if (strcmp(e->bound, e->record) == 0) {
            if (json_is_string(u))
                snprintf(unit, n, "%s", json_string_value(u));
            return NTM_OK;
        }
    }
    if (strcmp(e->op, "unit.create") == 0) {
        json_t *u = json_object_get(e->body, "code");
        if (json_is_string(u))
            snprintf(unit, n, "%s", json_string_value(u));
        return NTM_OK;
    }
    if (!e->record)
        return NTM_OK;
    /* The record's create: the one bound to its author and seq, if held
     * (a create naming another author's id names nothing). */
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT unit FROM entries WHERE record=?1 AND op='record.create' AND "
        "unit IS NOT NULL",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, e->record, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        snprintf(unit, n, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return Ntm_step_ok(st, r, err, "cannot read the record's unit");
}

enum ntm_err
Ntm_log_waiting(struct ntm_store *st, const char *record, json_t **gseqs,
                struct ntm_error *err)
{
    *gseqs = json_array();
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT gseq FROM entries WHERE record=?1 "
                                  "AND unit IS NULL ORDER BY gseq",
                                  err);
    if (!s || !*gseqs) {
        json_decref(*gseqs);
        *gseqs = NULL;
        return s ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                 : (err ? err->code : NTM_EDB);
    }
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    int r = SQLITE_DONE, bad = 0;
    while (!bad && (r = sqlite3_step(s)) == SQLITE_ROW)
        bad = json_array_append_new(*gseqs,
                                    json_integer(sqlite3_column_int64(s, 0)));
    sqlite3_reset(s);
    enum ntm_err rc = bad ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                          : Ntm_step_ok(st, r, err, "cannot read the log");
    if (rc != NTM_OK) {
        json_decref(*gseqs);
        *gseqs = NULL;
    }
    return rc;
}

enum ntm_err
Ntm_log_renumber(struct ntm_store *st, int64_t gseq, int64_t *to,
                 struct ntm_error *err)
{
    static const char *const steps[3] = {
        "UPDATE sqlite_sequence SET seq=seq+1 WHERE name='entries'",
        "UPDATE entries SET gseq=(SELECT seq FROM sqlite_sequence WHERE "
        "name='entries') WHERE gseq=?1",
        "SELECT seq FROM sqlite_sequence WHERE name='entries'",
    };
    *to = 0;
    for (int m = 0; m < 3; m++) {
        sqlite3_stmt *s = Ntm_prepare(st, steps[m], err);
        if (!s)
            return err ? err->code : NTM_EDB;
        if (m == 1)
            sqlite3_bind_int64(s, 1, gseq);
        int r = sqlite3_step(s);
        if (m == 2 && r == SQLITE_ROW) {
            *to = sqlite3_column_int64(s, 0);
            r = SQLITE_DONE;
        }
        sqlite3_reset(s);
        if (r != SQLITE_DONE)
            return Ntm_db_error(st, r, err, "cannot index the entry");
    }
    return NTM_OK;
}

enum ntm_err
Ntm_log_append(struct ntm_store *st, struct Ntm_entry *e, const char *sig,
               int clock_ahead, const char *unit, const char *waits,
               int64_t now, struct ntm_error *err)
{
    sqlite3_stmt *s;
    e->alone = 0;
    if (e->record) {
        /* Whether the record has entries already: none is the usual
         * case, and then neither the index below nor the state needs to
         * look for them. */
        s = Ntm_prepare(st, "SELECT 1 FROM entries WHERE record=?1 LIMIT 1",
                        err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, e->record, -1, SQLITE_STATIC);
        int x = sqlite3_step(s);
        sqlite3_reset(s);
        if (x != SQLITE_ROW && x != SQLITE_DONE)
            return Ntm_db_error(st, x, err, "cannot read the record's entries");
        e->alone = x == SQLITE_DONE;
    }
    s = Ntm_prepare(
        st,
        "INSERT INTO entries(id, author, seq, prev, ts, lc, op, record, unit, "
        "bytes, sig, received_ms, clock_ahead, target, waits) "
        "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, e->author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, e->seq);
    if (e->prev)
        sqlite3_bind_text(s, 4, e->prev, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, e->ts);
    sqlite3_bind_int64(s, 6, e->lc);
    sqlite3_bind_text(s, 7, e->op, -1, SQLITE_STATIC);
    if (e->record)
        sqlite3_bind_text(s, 8, e->record, -1, SQLITE_STATIC);
    if (unit && unit[0])
        sqlite3_bind_text(s, 9, unit, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 10, e->bytes, (int)e->len, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, sig, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 12, now);
    sqlite3_bind_int(s, 13, clock_ahead);
    if (strncmp(e->op, "device.", 7) == 0) {
        json_t *k = json_object_get(e->body, "key");
        if (json_is_string(k) && json_string_length(k) == NTM_HEX_ID_LEN &&
            ntm_is_lower_hex(json_string_value(k), NTM_HEX_ID_LEN))
            sqlite3_bind_text(s, 14, json_string_value(k), -1, SQLITE_STATIC);
    }
    if (waits && waits[0])
        sqlite3_bind_text(s, 15, waits, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot store the entry");
    e->gseq = sqlite3_last_insert_rowid(st->db);
    return NTM_OK;
}

enum ntm_err
Ntm_log_index_unit(struct ntm_store *st, const char *record, const char *unit,
                   struct ntm_error *err)
{
    sqlite3_stmt *s =
        Ntm_prepare(st,
                    "UPDATE entries SET unit=?2, waits=NULL WHERE "
                    "record=?1 AND unit IS NULL",
                    err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, unit, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot index the entry");
    return NTM_OK;
}

enum ntm_err
Ntm_log_set_head(struct ntm_store *st, const struct Ntm_entry *e, int partial,
                 struct ntm_error *err)
{
    /* The row known to be held with a lower head: what the upsert below
     * would do to it, without first trying the insert. */
    const struct Ntm_chain *k = chain_of(st, e->author);
    int raise = k && k->held && e->seq > k->head_seq;
    sqlite3_stmt *s =
        raise ? Ntm_prepare(st,
                            "UPDATE authors SET head_seq=?2, head_id=?3, "
                            "partial=?4 WHERE author=?1",
                            err)
              : Ntm_prepare(st,
                            "INSERT INTO authors(author, head_seq, head_id, "
                            "partial) VALUES(?1,?2,?3,?4) ON CONFLICT(author) "
                            "DO UPDATE SET head_seq=CASE WHEN "
                            "excluded.head_seq>head_seq THEN excluded.head_seq "
                            "ELSE head_seq END, head_id=CASE WHEN "
                            "excluded.head_seq>head_seq THEN excluded.head_id "
                            "ELSE head_id END, "
                            "partial=max(partial, excluded.partial)",
                            err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, e->author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, e->seq);
    sqlite3_bind_text(s, 3, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4,
                     raise && k->partial > partial ? k->partial : partial);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        st->chain.valid = 0;
        return Ntm_db_error(st, r, err, "cannot update the author's head");
    }
    /* The row as the statement above left it, when it was known. */
    struct Ntm_chain *c = &st->chain;
    if (!chain_of(st, e->author)) {
        c->valid = 0;
    } else {
        if (!c->held || e->seq > c->head_seq) {
            c->head_seq = e->seq;
            memcpy(c->head_id, e->id, sizeof(c->head_id));
            c->ts_known = 1;
            c->head_ts = e->ts;
        }
        c->held = 1;
        if (partial > c->partial)
            c->partial = partial;
    }
    return NTM_OK;
}

/* Set author's entries from from_seq on aside (table stranded) and out of
 * the log; the head falls back to from_seq - 1. Fork evidence of author
 * from from_seq on goes too: the entries it holds are the other side of
 * this very divergence, which the log is about to take. */
enum ntm_err
Ntm_log_strand(struct ntm_store *st, const char *author, int64_t from_seq,
               int64_t *n, struct ntm_error *err)
{
    static const char *const sql[] = {
        "INSERT OR IGNORE INTO stranded(id, author, seq, bytes, sig,"
        " stranded_ms) SELECT id, author, seq, bytes, sig, ?3 FROM entries"
        " WHERE author=?1 AND seq>=?2",
        "DELETE FROM entries WHERE author=?1 AND seq>=?2",
        "DELETE FROM forks WHERE author=?1 AND seq>=?2",
        /* No entry left (the whole chain set aside): no head, rather
         * than a NULL one. */
        "DELETE FROM authors WHERE author=?1 AND NOT EXISTS (SELECT 1 FROM"
        " entries WHERE author=?1)",
        "UPDATE authors SET (head_seq, head_id) = (SELECT seq, id FROM"
        " entries WHERE author=?1 AND seq<?2 ORDER BY seq DESC LIMIT 1)"
        " WHERE author=?1",
    };
    *n = 0;
    st->chain.valid = 0;
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        sqlite3_stmt *s = Ntm_prepare(st, sql[i], err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, from_seq);
        if (i == 0)
            sqlite3_bind_int64(s, 3, ntm_now_ms());
        int r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE)
            return Ntm_db_error(st, r, err, "cannot set entries aside");
        if (i == 1)
            *n = sqlite3_changes(st->db);
    }
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* Reading the log */

enum ntm_err
ntm_store_entries(struct ntm_store *st, const struct ntm_entry_query *q,
                  ntm_entry_cb cb, void *ud, struct ntm_error *err)
{
    struct ntm_buf sql = NTM_BUF_INIT;
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    ntm_buf_adds(&sql, "SELECT e.gseq, e.id, e.author, e.seq, e.ts, e.lc, "
                       "e.op, e.bytes, e.sig, e.unit, coalesce(f.code, 0) "
                       "FROM entries e LEFT JOIN effect f ON f.gseq=e.gseq "
                       "WHERE e.gseq > ?1");
    if (q->author)
        ntm_buf_adds(&sql, " AND e.author=?2 AND e.seq > ?3");
    /* A scope sees the entries of its units, and every device.* and
     * unit.* entry that takes effect (authorization and unit names are
     * everyone's state). An entry without effect is nobody else's
     * business (a recorder's junk enrollments), and an entry whose record
     * is not known yet (no unit) waits within its author's scope (above
     * or below it, never beside it) until its record's create arrives and
     * names the unit. */
    if (q->scope && q->scope[0])
        ntm_buf_adds(&sql, " AND (((e.op LIKE 'device.%' OR e.op LIKE "
                           "'unit.%') AND coalesce(f.code, 0) = 0) OR "
                           "e.unit=?4 OR "
                           "substr(e.unit, 1, length(?4) + 1) = ?4 || '.' OR "
                           "(e.unit IS NULL AND (e.waits=?4 OR "
                           "substr(e.waits, 1, length(?4) + 1) = ?4 || '.' OR "
                           "substr(?4, 1, length(e.waits) + 1) = e.waits || "
                           "'.')))");
    ntm_buf_adds(&sql, q->by_author_seq ? " ORDER BY e.author, e.seq"
                                        : " ORDER BY e.gseq");
    if (q->limit > 0)
        ntm_buf_adds(&sql, " LIMIT ?5");
    if (!sql.buf)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    int r = sqlite3_prepare_v2(st->db, sql.buf, -1, &s, NULL);
    if (r != SQLITE_OK) {
        rc = Ntm_db_error(st, r, err, "cannot read the log");
        goto out;
    }
    sqlite3_bind_int64(s, 1, q->after_gseq);
    if (q->author) {
        sqlite3_bind_text(s, 2, q->author, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, q->after_seq);
    }
    if (q->scope && q->scope[0])
        sqlite3_bind_text(s, 4, q->scope, -1, SQLITE_STATIC);
    if (q->limit > 0)
        sqlite3_bind_int64(s, 5, q->limit);
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        struct ntm_entry_view v;
        v.gseq = sqlite3_column_int64(s, 0);
        v.id = (const char *)sqlite3_column_text(s, 1);
        v.author = (const char *)sqlite3_column_text(s, 2);
        v.seq = sqlite3_column_int64(s, 3);
        v.ts = sqlite3_column_int64(s, 4);
        v.lc = sqlite3_column_int64(s, 5);
        v.op = (const char *)sqlite3_column_text(s, 6);
        v.bytes = sqlite3_column_blob(s, 7);
        v.len = (size_t)sqlite3_column_bytes(s, 7);
        v.sig = (const char *)sqlite3_column_text(s, 8);
        v.unit = (const char *)sqlite3_column_text(s, 9);
        v.effect = (enum ntm_err)sqlite3_column_int(s, 10);
        if (cb(ud, &v))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = Ntm_db_error(st, r, err, "cannot read the log");
out:
    sqlite3_finalize(s);
    ntm_buf_release(&sql);
    return rc;
}

enum ntm_err
ntm_store_heads(struct ntm_store *st, const char *author, json_t **out,
                struct ntm_error *err)
{
    *out = json_object();
    if (!*out)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    sqlite3_stmt *s = Ntm_prepare(
        st,
        author
            ? "SELECT author, head_seq, head_id FROM authors WHERE author=?1"
            : "SELECT author, head_seq, head_id FROM authors ORDER BY author",
        err);
    if (!s) {
        json_decref(*out);
        *out = NULL;
        return err ? err->code : NTM_EDB;
    }
    if (author)
        sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    /* A head that could not be added (memory) fails the whole answer: a
     * map without it would read as "nothing held" for that author. */
    int r = SQLITE_DONE, bad = 0;
    while (!bad && (r = sqlite3_step(s)) == SQLITE_ROW)
        bad = json_object_set_new(
            *out, (const char *)sqlite3_column_text(s, 0),
            json_pack("{s:I, s:s}", "seq",
                      (json_int_t)sqlite3_column_int64(s, 1), "id",
                      (const char *)sqlite3_column_text(s, 2)));
    sqlite3_reset(s);
    if (bad || r != SQLITE_DONE) {
        json_decref(*out);
        *out = NULL;
        return bad ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                   : Ntm_db_error(st, r, err, "cannot read heads");
    }
    return NTM_OK;
}

enum ntm_err
ntm_store_stats(struct ntm_store *st, int64_t *entries, int64_t *last_gseq,
                struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT count(*), coalesce((SELECT seq FROM sqlite_sequence WHERE "
        "name='entries'), 0) FROM entries",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        if (entries)
            *entries = sqlite3_column_int64(s, 0);
        if (last_gseq)
            *last_gseq = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW)
        return Ntm_db_error(st, r, err, "cannot count entries");
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* Peer heads */

enum ntm_err
ntm_store_peer_head_set(struct ntm_store *st, const char *author, int64_t seq,
                        const char *id, struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "INSERT INTO peer_heads(author, seq, id) VALUES(?1,?2,?3) "
        "ON CONFLICT(author) DO UPDATE SET id=CASE WHEN excluded.seq>seq THEN "
        "excluded.id ELSE id END, seq=max(seq, excluded.seq)",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    if (id)
        sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot save the server's head");
    return NTM_OK;
}

enum ntm_err
ntm_store_peer_heads_clear(struct ntm_store *st, struct ntm_error *err)
{
    return Ntm_exec(st, "DELETE FROM peer_heads", err);
}

enum ntm_err
ntm_store_peer_head_get(struct ntm_store *st, const char *author, int64_t *seq,
                        struct ntm_error *err)
{
    *seq = 0;
    sqlite3_stmt *s =
        Ntm_prepare(st, "SELECT seq FROM peer_heads WHERE author=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        *seq = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return Ntm_step_ok(st, r, err, "cannot read the server's head");
}

enum ntm_err
ntm_store_unpushed(struct ntm_store *st, int64_t *count, struct ntm_error *err)
{
    sqlite3_stmt *s =
        Ntm_prepare(st,
                    "SELECT count(*) FROM entries e LEFT JOIN peer_heads p ON "
                    "p.author=e.author WHERE e.seq > coalesce(p.seq, 0)",
                    err);
    if (!s)
        return err ? err->code : NTM_EDB;
    *count = 0;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        *count = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return Ntm_step_ok(st, r, err, "cannot count entries");
}
