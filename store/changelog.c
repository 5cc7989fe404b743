/* SPDX-License-Identifier: MIT */
/*
 * changelog.c - the signed, hash-chained log: taking entries in (SPEC.md
 * section 2, steps 1-4 in order), writing this device's own entries (HLC,
 * chain, signature), reading the log back, heads, and what the server is
 * known to hold.
 *
 * Row invariants (table `entries`, see store_int.h): id = BLAKE2b-256 of
 * bytes; the signature verifies for author; for a full chain, seq runs
 * 1..head with each prev naming the row before. A fork (same author and
 * seq, other bytes) is never written to `entries`: the refused entry goes
 * to `forks` as evidence. Step 5 never refuses: its verdict is the derived
 * `effect` of the entry, recomputed by state.c.
 *
 * Depends on util/, crypto/, store internals, jansson, SQLite.
 */
#include "store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum ntm_err
head_get(struct ntm_store *st, const char *author, int64_t *seq, char *id,
         int *partial, struct ntm_error *err)
{
    *seq = 0;
    if (id)
        id[0] = '\0';
    if (partial)
        *partial = 0;
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT head_seq, head_id, partial FROM authors WHERE author=?1",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(s, 0);
        if (id)
            snprintf(id, NTM_HEX_ID_LEN + 1, "%s",
                     (const char *)sqlite3_column_text(s, 1));
        if (partial)
            *partial = sqlite3_column_int(s, 2);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return Ntm_db_error(st, rc, err, "cannot read the author's head");
    return rc == SQLITE_ROW ? NTM_OK : NTM_ENOENT;
}

enum ntm_err
ntm_store_head(struct ntm_store *st, const char *author, int64_t *seq,
               char id[NTM_HEX_ID_LEN + 1])
{
    return head_get(st, author, seq, id, NULL, NULL);
}

/* id of the entry held at (author, seq), "" when none. */
static enum ntm_err
id_at(struct ntm_store *st, const char *author, int64_t seq, char *id,
      struct ntm_error *err)
{
    id[0] = '\0';
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

static enum ntm_err
save_fork(struct ntm_store *st, const struct Ntm_entry *e, const char *sig,
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

/* The replica's HLC (0, 0 when never set); called inside a write
 * transaction, so the copy kept in st stays true until it ends. */
static enum ntm_err
hlc_get(struct ntm_store *st, int64_t *ts, int64_t *lc, struct ntm_error *err)
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
    enum ntm_err rc = hlc_get(st, &lts, &llc, err);
    if (rc != NTM_OK)
        return rc;
    if (ts < lts || (ts == lts && lc <= llc))
        return NTM_OK;
    /* Both keys in one statement; stored as text like meta_set_int. */
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "INSERT INTO meta(key,value) VALUES('hlc.ts',?1),('hlc.lc',?2) "
        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    char t[32], l[32];
    snprintf(t, sizeof(t), "%lld", (long long)ts);
    snprintf(l, sizeof(l), "%lld", (long long)lc);
    sqlite3_bind_text(s, 1, t, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, l, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        st->hlc_valid = 0;
        return Ntm_db_error(st, r, err, "cannot save a setting");
    }
    st->hlc_ts = ts;
    st->hlc_lc = lc;
    st->hlc_valid = 1;
    return NTM_OK;
}

/* The unit an entry concerns, for scoped pulls: the record's unit. */
static enum ntm_err
entry_unit(struct ntm_store *st, const struct Ntm_entry *e, char *unit,
           size_t n, struct ntm_error *err)
{
    unit[0] = '\0';
    if (strcmp(e->op, "record.create") == 0) {
        /* Only the create bound to its author and seq names the record's
         * unit; another (a hijack attempt) is indexed like an entry whose
         * record is not known. */
        char bound[NTM_RECORD_ID_LEN + 1];
        json_t *u = json_object_get(e->body, "unit");
        if (e->record)
            ntm_record_id(bound, e->author, e->seq);
        if (e->record && strcmp(bound, e->record) == 0 && json_is_string(u))
            snprintf(unit, n, "%s", json_string_value(u));
        return NTM_OK;
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

/* The scope an entry whose record is not known yet waits in (and where a
 * device.* entry without effect is served): its author's, as enrolled at
 * its seq ("" when none). */
static enum ntm_err
entry_waits(struct ntm_store *st, const struct Ntm_entry *e, char *scope,
            size_t n, struct ntm_error *err)
{
    struct ntm_enrollment a;
    scope[0] = '\0';
    enum ntm_err rc = Ntm_auth_lookup(st, e->author, e->seq, &a, err);
    if (rc == NTM_OK && a.enrolled)
        snprintf(scope, n, "%s", a.scope);
    return rc;
}

/*
 * On the server, entries of a record that arrived before its create were
 * served only near their author's scope (they wait). When the create names
 * the unit, they arrive again for everyone else: each takes the next gseq
 * (never one used before), so a device whose pull cursor passed them gets
 * them with the create, as SPEC 6 promises for anything committed later.
 */
static enum ntm_err
rearrive_orphans(struct ntm_store *st, const char *record,
                 struct ntm_error *err)
{
    json_t *old = json_array();
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT gseq FROM entries WHERE record=?1 "
                                  "AND unit IS NULL ORDER BY gseq",
                                  err);
    if (!s || !old) {
        json_decref(old);
        return s ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                 : (err ? err->code : NTM_EDB);
    }
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    int r = SQLITE_DONE, bad = 0;
    while (!bad && (r = sqlite3_step(s)) == SQLITE_ROW)
        bad = json_array_append_new(old,
                                    json_integer(sqlite3_column_int64(s, 0)));
    sqlite3_reset(s);
    enum ntm_err rc = bad ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                          : Ntm_step_ok(st, r, err, "cannot read the log");
    static const char *const moves[3] = {
        "UPDATE sqlite_sequence SET seq=seq+1 WHERE name='entries'",
        "UPDATE entries SET gseq=(SELECT seq FROM sqlite_sequence WHERE "
        "name='entries') WHERE gseq=?1",
        "UPDATE effect SET gseq=(SELECT seq FROM sqlite_sequence WHERE "
        "name='entries') WHERE gseq=?1",
    };
    size_t i;
    json_t *g;
    json_array_foreach (old, i, g) {
        for (int m = 0; m < 3 && rc == NTM_OK; m++) {
            s = Ntm_prepare(st, moves[m], err);
            if (!s) {
                rc = err ? err->code : NTM_EDB;
                break;
            }
            if (m)
                sqlite3_bind_int64(s, 1, json_integer_value(g));
            r = sqlite3_step(s);
            sqlite3_reset(s);
            if (r != SQLITE_DONE)
                rc = Ntm_db_error(st, r, err, "cannot index the entry");
        }
    }
    json_decref(old);
    return rc;
}

static enum ntm_err
insert_entry(struct ntm_store *st, struct Ntm_entry *e, const char *sig,
             int clock_ahead, struct ntm_error *err)
{
    char unit[128], waits[128] = "";
    enum ntm_err rc = entry_unit(st, e, unit, sizeof(unit), err);
    if (rc == NTM_OK && !unit[0] &&
        (e->record || strncmp(e->op, "device.", 7) == 0))
        rc = entry_waits(st, e, waits, sizeof(waits), err);
    if (rc != NTM_OK)
        return rc;
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
    if (unit[0])
        sqlite3_bind_text(s, 9, unit, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 10, e->bytes, (int)e->len, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, sig, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 12, ntm_now_ms());
    sqlite3_bind_int(s, 13, clock_ahead);
    if (strncmp(e->op, "device.", 7) == 0) {
        json_t *k = json_object_get(e->body, "key");
        if (json_is_string(k) && json_string_length(k) == NTM_HEX_ID_LEN &&
            ntm_is_lower_hex(json_string_value(k), NTM_HEX_ID_LEN))
            sqlite3_bind_text(s, 14, json_string_value(k), -1, SQLITE_STATIC);
    }
    if (waits[0])
        sqlite3_bind_text(s, 15, waits, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot store the entry");
    e->gseq = sqlite3_last_insert_rowid(st->db);
    if (!e->alone && strcmp(e->op, "record.create") == 0 && e->record &&
        unit[0]) {
        /* Entries of this record that came before their create. */
        if ((st->flags & NTM_STORE_SERVER) &&
            (rc = rearrive_orphans(st, e->record, err)) != NTM_OK)
            return rc;
        s = Ntm_prepare(st,
                        "UPDATE entries SET unit=?2, waits=NULL WHERE "
                        "record=?1 AND unit IS NULL",
                        err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, e->record, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, unit, -1, SQLITE_STATIC);
        r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE)
            return Ntm_db_error(st, r, err, "cannot index the entry");
    }
    return NTM_OK;
}

static enum ntm_err
update_head(struct ntm_store *st, const struct Ntm_entry *e, int partial,
            struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "INSERT INTO authors(author, head_seq, head_id, partial) "
        "VALUES(?1,?2,?3,?4) ON CONFLICT(author) DO UPDATE SET "
        "head_seq=CASE WHEN excluded.head_seq>head_seq THEN excluded.head_seq "
        "ELSE head_seq END, "
        "head_id=CASE WHEN excluded.head_seq>head_seq THEN excluded.head_id "
        "ELSE head_id END, partial=max(partial, excluded.partial)",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, e->author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, e->seq);
    sqlite3_bind_text(s, 3, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, partial);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot update the author's head");
    return NTM_OK;
}

/* Derived state touched by one new entry. */
static enum ntm_err
apply_effect(struct ntm_store *st, const struct Ntm_entry *e,
             struct ntm_error *err)
{
    if (strncmp(e->op, "device.", 7) == 0) {
        json_t *changed = NULL;
        enum ntm_err rc = Ntm_auth_entry(st, e, &changed, err);
        if (rc == NTM_OK && json_array_size(changed) > 0)
            rc = Ntm_state_authors(st, changed, err);
        json_decref(changed);
        return rc;
    }
    if (strcmp(e->op, "unit.create") == 0) {
        json_t *c = json_object_get(e->body, "code");
        if (json_is_string(c) && Ntm_unit_code_valid(json_string_value(c)))
            return Ntm_state_unit(st, json_string_value(c), err);
        char msg[160];
        enum ntm_err code = Ntm_rules_body(e, msg, sizeof(msg));
        return Ntm_effect_set(st, e->gseq, code ? code : NTM_EBADBODY,
                              code ? msg
                                   : "unit.create: 'code' must be a "
                                     "unit code",
                              err);
    }
    if (e->record)
        return Ntm_state_entry(st, e, err);
    char msg[160];
    enum ntm_err code = Ntm_rules_body(e, msg, sizeof(msg));
    return Ntm_effect_set(st, e->gseq, code, code == NTM_OK ? NULL : msg, err);
}

static enum ntm_err
effect_get(struct ntm_store *st, int64_t gseq, enum ntm_err *code, char *msg,
           size_t msglen, struct ntm_error *err)
{
    *code = NTM_OK;
    msg[0] = '\0';
    sqlite3_stmt *s =
        Ntm_prepare(st, "SELECT code, message FROM effect WHERE gseq=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_int64(s, 1, gseq);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *code = (enum ntm_err)sqlite3_column_int(s, 0);
        if (sqlite3_column_text(s, 1))
            snprintf(msg, msglen, "%s",
                     (const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot read an entry's effect");
    return NTM_OK;
}

static void reject(struct ntm_ingest_result *res, enum ntm_err code,
                   const char *fmt, ...) NTM_PRINTF(3, 4);

static void
reject(struct ntm_ingest_result *res, enum ntm_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    res->verdict = code;
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
}

/* Steps 2-4 and the insert, inside a savepoint opened by the caller. */
static enum ntm_err
ingest_parsed(struct ntm_store *st, struct Ntm_entry *e, const char *sig_b64,
              enum ntm_source source, struct ntm_ingest_result *res,
              struct ntm_error *err)
{
    enum ntm_err rc;
    /* Step 2: signature. */
    unsigned char sig[NTM_SIGNATURE_BYTES + 2], pk[NTM_PUBLICKEY_BYTES];
    size_t siglen = 0;
    if (!sig_b64 ||
        ntm_b64_decode(sig, sizeof(sig), &siglen, sig_b64, strlen(sig_b64)) !=
            NTM_OK ||
        siglen != NTM_SIGNATURE_BYTES) {
        reject(res, NTM_EBADSIG, "signature is not 64 bytes of base64");
        return NTM_OK;
    }
    if (ntm_hex_decode(pk, sizeof(pk), e->author, NTM_HEX_ID_LEN) != NTM_OK ||
        ntm_sign_verify(sig, e->bytes, e->len, pk) != NTM_OK) {
        reject(res, NTM_EBADSIG,
               "signature does not verify for this author and these bytes");
        return NTM_OK;
    }
    /* Already held: idempotent. */
    char held[NTM_HEX_ID_LEN + 1];
    if ((rc = id_at(st, e->author, e->seq, held, err)) != NTM_OK)
        return rc;
    if (held[0] && strcmp(held, e->id) == 0) {
        res->duplicate = 1;
        return NTM_OK;
    }
    /* Step 3: chain. */
    if (held[0]) {
        reject(res, NTM_EFORK,
               "another entry is already held at seq %lld for this author",
               (long long)e->seq);
        return save_fork(st, e, sig_b64, err);
    }
    int64_t head = 0;
    int partial = 0;
    char head_id[NTM_HEX_ID_LEN + 1];
    rc = head_get(st, e->author, &head, head_id, &partial, err);
    if (rc != NTM_OK && rc != NTM_ENOENT)
        return rc;
    int strict = (st->flags & NTM_STORE_SERVER) ||
                 (source != NTM_SOURCE_PULL && !partial);
    int mark_partial = partial;
    if (strict) {
        if (e->seq > head + 1) {
            reject(res, NTM_EGAP,
                   "expected seq %lld: send the missing ones first",
                   (long long)(head + 1));
            return NTM_OK;
        }
        if (e->seq > 1 && strcmp(e->prev, head_id) != 0) {
            reject(res, NTM_EFORK,
                   "prev does not name the entry held at seq %lld",
                   (long long)head);
            return save_fork(st, e, sig_b64, err);
        }
    } else {
        char other[NTM_HEX_ID_LEN + 1];
        if (e->seq > 1) {
            if ((rc = id_at(st, e->author, e->seq - 1, other, err)) != NTM_OK)
                return rc;
            if (other[0] && strcmp(other, e->prev) != 0) {
                reject(res, NTM_EFORK,
                       "prev does not name the entry held at seq %lld",
                       (long long)(e->seq - 1));
                return save_fork(st, e, sig_b64, err);
            }
        }
        if ((rc = id_at(st, e->author, e->seq + 1, other, err)) != NTM_OK)
            return rc;
        if (other[0]) {
            /* The next entry held must name this one as its prev. */
            sqlite3_stmt *s = Ntm_prepare(
                st, "SELECT prev FROM entries WHERE author=?1 AND seq=?2", err);
            if (!s)
                return err ? err->code : NTM_EDB;
            sqlite3_bind_text(s, 1, e->author, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, e->seq + 1);
            int mismatch = 0;
            int r = sqlite3_step(s);
            if (r == SQLITE_ROW)
                mismatch =
                    strcmp((const char *)sqlite3_column_text(s, 0), e->id) != 0;
            sqlite3_reset(s);
            if ((rc = Ntm_step_ok(st, r, err, "cannot read the log")) != NTM_OK)
                return rc;
            if (mismatch) {
                reject(res, NTM_EFORK,
                       "the entry held at seq %lld names another prev",
                       (long long)(e->seq + 1));
                return save_fork(st, e, sig_b64, err);
            }
        }
        if (e->seq != head + 1)
            mark_partial = 1;
    }
    /* Step 4: author. A device's own entries are kept even before an
     * enrollment covers them (offline-first); they wait. */
    if (source != NTM_SOURCE_LOCAL) {
        struct ntm_enrollment enr;
        if ((rc = Ntm_auth_lookup(st, e->author, e->seq, &enr, err)) != NTM_OK)
            return rc;
        if (!enr.enrolled) {
            reject(res, NTM_EUNKNOWNAUTHOR,
                   "author is not enrolled on this replica");
            return NTM_OK;
        }
        /* A revoked author's entry is kept, without effect, rather than
         * refused: another replica may already hold it (it was relayed
         * before the revocation reached us), and entries written with
         * knowledge of it must resolve their base the same way on every
         * replica. A revoked device cannot push for itself: the server
         * refuses its requests. */
    }
    /* Taken. Clocks more than 24 h ahead are flagged and not followed;
     * a ts before the author's previous one, or before the plan period,
     * is flagged too (a device clock reset to 1970 or a back-dated
     * entry): nothing is claimed by a timestamp, but admins see it. */
    int ahead = e->ts > ntm_now_ms() + NTM_DAY_MS;
    int clock = ahead ? NTM_CLOCK_AHEAD : 0;
    if (e->ts < NTM_EARLIEST_MS)
        clock |= NTM_CLOCK_EARLY;
    if (e->seq > 1) {
        sqlite3_stmt *s = Ntm_prepare(
            st, "SELECT ts FROM entries WHERE author=?1 AND seq=?2", err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, e->author, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, e->seq - 1);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW && sqlite3_column_int64(s, 0) > e->ts)
            clock |= NTM_CLOCK_BACK;
        sqlite3_reset(s);
        if ((rc = Ntm_step_ok(st, r, err, "cannot read the log")) != NTM_OK)
            return rc;
    }
    res->clock_ahead = ahead;
    res->clock = clock;
    if ((rc = insert_entry(st, e, sig_b64, clock, err)) != NTM_OK)
        return rc;
    if ((rc = update_head(st, e, mark_partial, err)) != NTM_OK)
        return rc;
    if (!ahead && (rc = Ntm_hlc_observe(st, e->ts, e->lc, err)) != NTM_OK)
        return rc;
    /* The entry's effect as apply_effect writes it, without reading the
     * row back (read only when nothing wrote it). */
    st->fx_gseq = e->gseq;
    st->fx_seen = 0;
    rc = apply_effect(st, e, err);
    st->fx_gseq = 0;
    if (rc != NTM_OK)
        return rc;
    enum ntm_err code = st->fx_code;
    if (st->fx_seen)
        snprintf(res->message, sizeof(res->message), "%s", st->fx_msg);
    else if ((rc = effect_get(st, e->gseq, &code, res->message,
                              sizeof(res->message), err)) != NTM_OK)
        return rc;
    if (code == NTM_EBADBODY || code == NTM_EFORBIDDEN || code == NTM_EREVOKED)
        res->flag = code;
    else
        res->message[0] = '\0';
    return NTM_OK;
}

enum ntm_err
ntm_store_ingest(struct ntm_store *st, const char *entry, size_t len,
                 const char *sig_b64, enum ntm_source source,
                 struct ntm_ingest_result *res, struct ntm_error *err)
{
    memset(res, 0, sizeof(*res));
    res->seq = -1;
    struct Ntm_entry e;
    enum ntm_err v =
        Ntm_entry_parse(&e, entry, len, res->message, sizeof(res->message));
    if (e.author)
        snprintf(res->author, sizeof(res->author), "%s", e.author);
    res->seq = e.seq;
    if (v == NTM_ENOMEM) {
        Ntm_entry_release(&e);
        return ntm_error_set(err, NTM_ENOMEM,
                             "out of memory while reading an entry");
    }
    if (v != NTM_OK) {
        res->verdict = v;
        Ntm_entry_release(&e);
        return NTM_OK;
    }
    snprintf(res->id, sizeof(res->id), "%s", e.id);
    enum ntm_err rc = Ntm_sp_begin(st, err);
    if (rc == NTM_OK) {
        rc = ingest_parsed(st, &e, sig_b64, source, res, err);
        enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
        if (rc == NTM_OK)
            rc = rc2;
    }
    Ntm_entry_release(&e);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Writing own entries */

void
ntm_record_id(char out[NTM_RECORD_ID_LEN + 1], const char *author, int64_t seq)
{
    char text[NTM_HEX_ID_LEN + 32], hex[NTM_HEX_ID_LEN + 1];
    int n = snprintf(text, sizeof(text), "%s:%lld", author ? author : "",
                     (long long)seq);
    ntm_hash_hex(hex, text, n > 0 ? (size_t)n : 0);
    memcpy(out, hex, NTM_RECORD_ID_LEN);
    out[NTM_RECORD_ID_LEN] = '\0';
}

static enum ntm_err
unit_of_record(struct ntm_store *st, const char *record, char *unit, size_t n,
               struct ntm_error *err)
{
    unit[0] = '\0';
    sqlite3_stmt *s =
        Ntm_prepare(st, "SELECT unit FROM records WHERE id=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        snprintf(unit, n, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return Ntm_step_ok(st, r, err, "cannot read the record");
}

enum ntm_err
ntm_store_write(struct ntm_store *st, const struct ntm_key *key, const char *op,
                json_t *body, struct ntm_write_result *res,
                struct ntm_error *err)
{
    char author[NTM_HEX_ID_LEN + 1];
    char *text = NULL;
    json_t *obj = NULL;
    struct Ntm_entry e = {0};
    enum ntm_err rc;
    int sp = 0;

    memset(res, 0, sizeof(*res));
    ntm_key_author(key, author);
    if ((rc = Ntm_sp_begin(st, err)) != NTM_OK)
        return rc;
    sp = 1;

    int64_t head = 0, peer = 0;
    char head_id[NTM_HEX_ID_LEN + 1];
    rc = head_get(st, author, &head, head_id, NULL, err);
    if (rc != NTM_OK && rc != NTM_ENOENT)
        goto out;
    if ((rc = ntm_store_peer_head_get(st, author, &peer, err)) != NTM_OK)
        goto out;
    if (peer > head) {
        rc = ntm_error_set(err, NTM_ESTALE,
                           "the server holds this device's entries up to seq "
                           "%lld but this replica only up to %lld (restored "
                           "from a backup?) - run 'ntm pull' first so that no "
                           "seq is used twice",
                           (long long)peer, (long long)head);
        goto out;
    }
    /* HLC: ts = max(now, last.ts); lc counts within one ts. */
    int64_t lts, llc;
    if ((rc = hlc_get(st, &lts, &llc, err)) != NTM_OK)
        goto out;
    int64_t now = ntm_now_ms();
    int64_t ts = now > lts ? now : lts;
    int64_t lc = ts == lts ? llc + 1 : 0;
    if (lc > 65535) {
        ts++;
        lc = 0;
    }
    /* A record.create's id is bound to its author and seq (SPEC 3). */
    json_t *wbody = body;
    if (op && body && strcmp(op, "record.create") == 0) {
        ntm_record_id(res->record, author, head + 1);
        wbody = json_copy(body);
        if (!wbody ||
            json_object_set_new(wbody, "id", json_string(res->record))) {
            json_decref(wbody);
            rc = ntm_error_set(err, NTM_ENOMEM,
                               "out of memory while building the entry");
            goto out;
        }
    }
    obj = json_pack("{s:i, s:s, s:I, s:o, s:I, s:I, s:s, s:O}", "v", 1,
                    "author", author, "seq", (json_int_t)(head + 1), "prev",
                    head ? json_string(head_id) : json_null(), "ts",
                    (json_int_t)ts, "lc", (json_int_t)lc, "op", op, "body",
                    wbody);
    if (wbody != body)
        json_decref(wbody);
    if (!obj) {
        rc = op && body
                 ? ntm_error_set(err, NTM_ENOMEM,
                                 "out of memory while building the "
                                 "entry")
                 : ntm_error_set(err, NTM_EINVAL, "cannot build the entry");
        goto out;
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        rc = ntm_error_set(err, NTM_ENOMEM, "cannot serialise the entry");
        goto out;
    }
    char msg[256];
    enum ntm_err v = Ntm_entry_parse(&e, text, strlen(text), msg, sizeof(msg));
    if (v == NTM_OK && !json_equal(e.json, obj)) {
        /* json_dumps can drop characters when memory runs out (jansson
         * 2.14 does not check every append): never sign such a text. */
        v = NTM_ENOMEM;
    }
    if (v != NTM_OK) {
        struct ntm_error why;
        ntm_error_set(&why, v, "%s", msg);
        rc = v == NTM_ENOMEM
                 ? ntm_error_set(err, v,
                                 "out of memory while "
                                 "building the entry")
                 : ntm_error_wrap(err, v, N_("entry refused: %s"), &why);
        goto out;
    }
    /* Step 5 before signing, when this device knows its enrollment. */
    struct ntm_enrollment enr;
    if ((rc = Ntm_auth_lookup(st, author, e.seq, &enr, err)) != NTM_OK)
        goto out;
    if (!enr.enrolled) {
        struct ntm_error why;
        enum ntm_err b = Ntm_rules_body_why(&e, &why);
        if (b != NTM_OK) {
            rc = ntm_error_wrap(err, b, N_("refused before signing: %s"), &why);
            goto out;
        }
        res->unenrolled = 1;
    } else {
        char unit[128] = "";
        if (e.record && strcmp(op, "record.create") != 0 &&
            (rc = unit_of_record(st, e.record, unit, sizeof(unit), err)) !=
                NTM_OK)
            goto out;
        struct ntm_error why;
        enum ntm_err c =
            Ntm_rules_check_why(st, &e, &enr, unit[0] ? unit : NULL, &why, err);
        if (!Ntm_is_verdict(c)) {
            rc = c;
            goto out;
        }
        if (c == NTM_ENOENT) {
            rc = ntm_error_set(err, NTM_ENOENT,
                               N_("no record %s on this replica"),
                               e.record ? e.record : "?");
            goto out;
        }
        if (c != NTM_OK) {
            rc = ntm_error_wrap(err, c, N_("refused before signing: %s"), &why);
            goto out;
        }
    }
    unsigned char sig[NTM_SIGNATURE_BYTES];
    char sig_b64[NTM_SIG_B64_LEN + 1];
    if ((rc = ntm_key_sign(key, sig, text, strlen(text))) != NTM_OK) {
        ntm_error_set(err, rc, "cannot sign the entry");
        goto out;
    }
    ntm_b64_encode(sig_b64, sig, sizeof(sig));
    /* What ntm_store_ingest(NTM_SOURCE_LOCAL) does, on the entry parsed
     * above from the same bytes and inside this function's savepoint,
     * which undoes it all on failure: no second parse, no nested
     * savepoint. */
    struct ntm_ingest_result ir;
    memset(&ir, 0, sizeof(ir));
    snprintf(ir.id, sizeof(ir.id), "%s", e.id);
    snprintf(ir.author, sizeof(ir.author), "%s", e.author);
    ir.seq = e.seq;
    if ((rc = ingest_parsed(st, &e, sig_b64, NTM_SOURCE_LOCAL, &ir, err)) !=
        NTM_OK)
        goto out;
    if (ir.verdict != NTM_OK) {
        rc =
            ntm_error_set(err, ir.verdict, "own entry refused: %s", ir.message);
        goto out;
    }
    /* What only the whole state can judge (authority over a device's
     * enrollments): the savepoint undoes the entry, which never leaves. */
    if (enr.enrolled && ir.flag != NTM_OK) {
        struct ntm_error why;
        ntm_error_set(&why, ir.flag, "%s", ir.message);
        rc = ntm_error_wrap(err, ir.flag, N_("refused before signing: %s"),
                            &why);
        goto out;
    }
    snprintf(res->id, sizeof(res->id), "%s", ir.id);
    res->seq = e.seq;
out:
    if (sp) {
        enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
        if (rc == NTM_OK)
            rc = rc2;
    }
    Ntm_entry_release(&e);
    Ntm_json_free(text);
    json_decref(obj);
    return rc;
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
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW)
        json_object_set_new(*out, (const char *)sqlite3_column_text(s, 0),
                            json_pack("{s:I, s:s}", "seq",
                                      (json_int_t)sqlite3_column_int64(s, 1),
                                      "id",
                                      (const char *)sqlite3_column_text(s, 2)));
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
        json_decref(*out);
        *out = NULL;
        return Ntm_db_error(st, r, err, "cannot read heads");
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
