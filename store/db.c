/* SPDX-License-Identifier: MIT */
/*
 * db.c - opening the replica's SQLite file, the schema and its
 * migrations, transactions and savepoints, settings (meta), and the
 * mapping of SQLite errors to enum ntm_err.
 *
 * The log must never roll back once an entry may have left the device, so
 * the file runs in WAL mode with synchronous=FULL (NTM_STORE_SYNC_NORMAL
 * exists only for power-loss drills). Schema changes are numbered
 * migrations recorded in PRAGMA user_version; a newer file than this build
 * knows is refused rather than guessed at.
 *
 * The bottom layer of store/: it calls no other file of store/. What a
 * migration asks of the layers above (a rebuild of the derived state) is
 * a flag Ntm_db_open returns; ntm_store_open (derive.c) acts on it.
 *
 * Depends on util/ and SQLite. The table layout is described in
 * store_int.h.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STMT_CACHE 192

/* Transaction statements, prepared when the store opens: a rollback must
 * not need memory, or a failure under memory pressure would leave the
 * connection inside a transaction that nothing ever commits. */
static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";
static const char sql_savepoint[] = "SAVEPOINT ntm_sp";
static const char sql_release[] = "RELEASE ntm_sp";
static const char sql_rollback_to[] = "ROLLBACK TO ntm_sp";

struct stmt_slot {
    const char *sql;
    sqlite3_stmt *stmt;
};

/* Statements are cached per connection; the cache lives beside the store
 * (a static table per store would leak across stores). */
struct store_full {
    struct ntm_store st;
    struct stmt_slot cache[STMT_CACHE];
    int ncache;
};

static const char *const migrations[] = {
    /* 1: the log, sync bookkeeping and derived state */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE entries("
    " gseq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " author TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " prev TEXT,"
    " ts INTEGER NOT NULL,"
    " lc INTEGER NOT NULL,"
    " op TEXT NOT NULL,"
    " record TEXT,"
    " unit TEXT,"
    " bytes BLOB NOT NULL,"
    " sig TEXT NOT NULL,"
    " received_ms INTEGER NOT NULL,"
    " clock_ahead INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE(author, seq));"
    "CREATE INDEX entries_record ON entries(record) WHERE record IS NOT NULL;"
    "CREATE INDEX entries_op ON entries(op, gseq);"
    "CREATE INDEX entries_unit ON entries(unit, gseq);"
    "CREATE TABLE forks("
    " id TEXT PRIMARY KEY, author TEXT NOT NULL, seq INTEGER NOT NULL,"
    " bytes BLOB NOT NULL, sig TEXT NOT NULL, received_ms INTEGER NOT NULL);"
    "CREATE TABLE authors("
    " author TEXT PRIMARY KEY, head_seq INTEGER NOT NULL,"
    " head_id TEXT NOT NULL, partial INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE peer_heads("
    " author TEXT PRIMARY KEY, seq INTEGER NOT NULL, id TEXT);"
    "CREATE TABLE effect("
    " id TEXT PRIMARY KEY, code INTEGER NOT NULL, message TEXT);"
    "CREATE TABLE enrollments("
    " entry TEXT PRIMARY KEY, key TEXT NOT NULL, role TEXT NOT NULL,"
    " scope TEXT NOT NULL, name TEXT, org TEXT, from_seq INTEGER NOT NULL,"
    " ts INTEGER NOT NULL, lc INTEGER NOT NULL, author TEXT NOT NULL,"
    " seq INTEGER NOT NULL);"
    "CREATE INDEX enrollments_key ON enrollments(key, from_seq);"
    "CREATE TABLE revocations("
    " entry TEXT PRIMARY KEY, key TEXT NOT NULL, after_seq INTEGER NOT NULL,"
    " reason TEXT, author TEXT NOT NULL);"
    "CREATE INDEX revocations_key ON revocations(key, after_seq);"
    "CREATE TABLE units("
    " code TEXT PRIMARY KEY, name TEXT NOT NULL, level TEXT NOT NULL,"
    " entry TEXT NOT NULL);"
    "CREATE TABLE records("
    " id TEXT PRIMARY KEY, kind TEXT NOT NULL, unit TEXT NOT NULL,"
    " org TEXT NOT NULL, task TEXT, author TEXT NOT NULL,"
    " create_entry TEXT NOT NULL, c_ts INTEGER NOT NULL,"
    " c_lc INTEGER NOT NULL, c_seq INTEGER NOT NULL,"
    " updated_ts INTEGER NOT NULL, fields TEXT NOT NULL,"
    " deleted INTEGER NOT NULL, conflict INTEGER NOT NULL,"
    " conflicts TEXT, review TEXT NOT NULL, reviews TEXT NOT NULL,"
    " heads TEXT NOT NULL, search TEXT NOT NULL);"
    "CREATE INDEX records_unit ON records(unit);"
    "CREATE INDEX records_order ON records(c_ts, c_lc, author, c_seq);",
    /* 2: cheaper to take an entry in. The effect table is keyed by the
     * entry's gseq (one B-tree, written in arrival order) instead of a
     * rowid table plus a unique index on the random 64-hex id. The indexes
     * on (op, gseq) and (unit, gseq) took a write per entry; no query used
     * the second, and the first served only the scans of device.* and
     * unit.create entries, which partial indexes holding those entries
     * alone serve (in the order of id those scans want). */
    "CREATE TABLE effect2(gseq INTEGER PRIMARY KEY, code INTEGER NOT NULL,"
    " message TEXT);"
    "INSERT INTO effect2(gseq, code, message) SELECT e.gseq, f.code,"
    " f.message FROM effect f JOIN entries e ON e.id=f.id;"
    "DROP TABLE effect;"
    "ALTER TABLE effect2 RENAME TO effect;"
    "DROP INDEX entries_op;"
    "DROP INDEX entries_unit;"
    "CREATE INDEX entries_device ON entries(id)"
    " WHERE op IN ('device.enroll','device.revoke');"
    "CREATE INDEX entries_unit_create ON entries(id) WHERE op='unit.create';",
    /* 3: authority kept key by key (auth.c). A device.* entry's target key
     * is indexed, and an enrollment remembers its actor's level. An entry
     * whose record is not known yet keeps its author's scope in `waits`
     * (pulls serve it only there until the record's create arrives).
     * Concurrent unit.create of one code are a conflict (units.heads,
     * units.conflicts), never settled by clocks. A record's heads and the
     * candidates of each field are rows (rheads, rcands, rfields), so that
     * a record with thousands of concurrent versions takes one more in
     * bounded work. The
     * derived state is rebuilt after this step (rules changed). */
    "ALTER TABLE entries ADD COLUMN target TEXT;"
    "ALTER TABLE entries ADD COLUMN waits TEXT;"
    "UPDATE entries SET target=json_extract(CAST(bytes AS TEXT),'$.body.key')"
    " WHERE op IN ('device.enroll','device.revoke')"
    " AND json_valid(CAST(bytes AS TEXT))"
    " AND json_type(CAST(bytes AS TEXT),'$.body.key')='text'"
    " AND length(json_extract(CAST(bytes AS TEXT),'$.body.key'))=64;"
    "CREATE INDEX entries_target ON entries(target) WHERE target IS NOT NULL;"
    "CREATE INDEX entries_create ON entries(record)"
    " WHERE op='record.create' AND unit IS NOT NULL;"
    "ALTER TABLE enrollments ADD COLUMN level INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE records ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE records DROP COLUMN heads;"
    "ALTER TABLE records DROP COLUMN conflicts;"
    "ALTER TABLE records ADD COLUMN nheads INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE rheads(record TEXT NOT NULL, entry TEXT NOT NULL,"
    " PRIMARY KEY(record, entry));"
    "CREATE TABLE rcands(record TEXT NOT NULL, field TEXT NOT NULL,"
    " entry TEXT NOT NULL, ts INTEGER NOT NULL, lc INTEGER NOT NULL,"
    " author TEXT NOT NULL, seq INTEGER NOT NULL, value TEXT NOT NULL,"
    " head INTEGER NOT NULL, PRIMARY KEY(record, field, entry));"
    "CREATE INDEX rcands_order ON rcands(record, field, ts, lc, author, seq);"
    "CREATE INDEX rcands_value ON rcands(record, field, value);"
    "CREATE INDEX rcands_entry ON rcands(record, entry);"
    "CREATE INDEX rcands_head ON rcands(record, field, head);"
    "CREATE TABLE rfields(record TEXT NOT NULL, field TEXT NOT NULL,"
    " conflict INTEGER NOT NULL, PRIMARY KEY(record, field));"
    "ALTER TABLE units ADD COLUMN heads TEXT NOT NULL DEFAULT '[]';"
    "ALTER TABLE units ADD COLUMN conflicts TEXT;"
    "CREATE INDEX entries_unit_code ON entries(unit) WHERE op='unit.create';"
    "INSERT OR REPLACE INTO meta(key, value) SELECT 'rebuild', '1' WHERE"
    " EXISTS (SELECT 1 FROM entries);",
    /* 4: this device's own entries set aside when its chain turned out to
     * have forked from the one the server holds (a store restored from an
     * older backup wrote again at seqs already used): kept here for ever,
     * each with the entry that re-issued it on the true head. */
    "CREATE TABLE stranded("
    " id TEXT PRIMARY KEY, author TEXT NOT NULL, seq INTEGER NOT NULL,"
    " bytes BLOB NOT NULL, sig TEXT NOT NULL, stranded_ms INTEGER NOT NULL,"
    " reissued_as TEXT, reason TEXT);"
    "CREATE INDEX stranded_author ON stranded(author, seq);",
    /* 5: the join requests a server keeps for its admins (admin.c): one
     * per (code nonce, device key), dropped with the code's expiry. And
     * when this device told the server of an entry it set aside
     * (stranded.reported_ms), so that the server holds the fork's
     * evidence for admins. */
    "CREATE TABLE join_requests("
    " nonce TEXT NOT NULL, author TEXT NOT NULL, name TEXT NOT NULL,"
    " signer TEXT NOT NULL, role TEXT NOT NULL, scope TEXT NOT NULL,"
    " org TEXT, expires INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
    " PRIMARY KEY(nonce, author));"
    "ALTER TABLE stranded ADD COLUMN reported_ms INTEGER;",
    /* 6: word search (search.c). An FTS5 index of each record's search
     * text (records.search, folded by ntm_text_fold, which folds d-stroke
     * too; the tokenizer removes what diacritics remain) and of its unit
     * code, whose parts are tokens. rdoc gives each record a stable rowid
     * in the index (records' own rowid is not: REPLACE and VACUUM change
     * it). Derived state, kept by state.c. A record's search text no
     * longer holds its unit's name (matched when searching instead, since
     * a unit is renamed): the derived state is rebuilt once, which fills
     * the index too. */
    "CREATE TABLE rdoc(doc INTEGER PRIMARY KEY, record TEXT NOT NULL UNIQUE);"
    "CREATE VIRTUAL TABLE rsearch USING fts5(words, units,"
    " tokenize='unicode61 remove_diacritics 2', prefix='1 2 3');"
    "INSERT INTO rdoc(record) SELECT id FROM records ORDER BY c_ts, id;"
    "INSERT INTO rsearch(rowid, words, units) SELECT d.doc, r.search, r.unit"
    " FROM rdoc d JOIN records r ON r.id=d.record;"
    "INSERT OR REPLACE INTO meta(key, value) SELECT 'rebuild', '1' WHERE"
    " EXISTS (SELECT 1 FROM records);",
    /* 7: reads that stream and a smaller file. records_order follows the
     * order records are listed in (creation time, author, id), so that a
     * listing or a report reads the rows in order instead of sorting the
     * table in memory; nothing read records in (c_ts, c_lc, author, c_seq)
     * order. rcands_head indexed every candidate of every field for the
     * one question "has this field a candidate that is not a head?": a
     * partial index of those candidates alone answers it. rheads and
     * rfields are their primary keys: stored as such (WITHOUT ROWID) they
     * are one B-tree each instead of a table and an index holding the
     * same columns. */
    "DROP INDEX IF EXISTS records_order;"
    "CREATE INDEX records_order ON records(c_ts, author, id);"
    "DROP INDEX IF EXISTS rcands_head;"
    "DROP INDEX IF EXISTS rcands_old;"
    "CREATE INDEX rcands_old ON rcands(record, field) WHERE head=0;"
    "DROP TABLE IF EXISTS rheads7;"
    "CREATE TABLE rheads7(record TEXT NOT NULL, entry TEXT NOT NULL,"
    " PRIMARY KEY(record, entry)) WITHOUT ROWID;"
    "INSERT INTO rheads7(record, entry) SELECT record, entry FROM rheads;"
    "DROP TABLE rheads;"
    "ALTER TABLE rheads7 RENAME TO rheads;"
    "DROP TABLE IF EXISTS rfields7;"
    "CREATE TABLE rfields7(record TEXT NOT NULL, field TEXT NOT NULL,"
    " conflict INTEGER NOT NULL, PRIMARY KEY(record, field)) WITHOUT ROWID;"
    "INSERT INTO rfields7(record, field, conflict) SELECT record, field,"
    " conflict FROM rfields;"
    "DROP TABLE rfields;"
    "ALTER TABLE rfields7 RENAME TO rfields;",
    /* 8: attachments (docs/contract.md, attachments). rattach is derived
     * state, kept by state.c with the record: one row per record.attach
     * that takes effect, found by record (show) and by hash (the server's
     * checks of an upload or a download, verify). The entries held before
     * have none (the op is new), so nothing is rebuilt. The bytes
     * themselves are files (blobs.c); what a server received from which
     * device, for its quota, is `blob_uploads` (attach.c). */
    "CREATE TABLE IF NOT EXISTS rattach(record TEXT NOT NULL, entry TEXT NOT "
    "NULL,"
    " hash TEXT NOT NULL, size INTEGER NOT NULL, type TEXT NOT NULL,"
    " name TEXT NOT NULL, caption TEXT, author TEXT NOT NULL,"
    " seq INTEGER NOT NULL, ts INTEGER NOT NULL, lc INTEGER NOT NULL,"
    " PRIMARY KEY(record, entry)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS rattach_hash ON rattach(hash);"
    "CREATE TABLE IF NOT EXISTS blob_uploads(hash TEXT NOT NULL, device TEXT "
    "NOT NULL,"
    " size INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
    " PRIMARY KEY(hash, device)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS blob_uploads_device ON blob_uploads(device);",
    /* 9: a smaller file. A record whose valid changes form one line (each
     * knows the one before: nearly every record) has one head and one
     * candidate per field, the last change that set it, whose value is in
     * records.fields: it keeps no rows in rheads, rcands and rfields
     * (records.linear; records.head names its head when that is not the
     * create). Those rows took about 4 kB per record (the record and
     * entry ids and the author repeated in each row of each index). The
     * folded search text is kept once, in the word index (records.search
     * was written and never read), and the create's id once, in the log
     * (the entry at the record's author and c_seq). The derived state is
     * rebuilt. */
    "ALTER TABLE records ADD COLUMN linear INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE records ADD COLUMN head TEXT;"
    "ALTER TABLE records DROP COLUMN search;"
    "ALTER TABLE records DROP COLUMN create_entry;"
    "INSERT OR REPLACE INTO meta(key, value) SELECT 'rebuild', '1' WHERE"
    " EXISTS (SELECT 1 FROM entries);",
    /* 10: a search by unit reads one token. The word index's units column
     * holds the code of each unit from the top down to the record's
     * ("72 72x710 72x710x3", Ntm_search_units, through the SQL function
     * ntm_search_units) instead of the code's parts ("72 710 3"), so that
     * "in or below 72.710" is the token 72x710 rather than a phrase whose
     * first token every record holds. As many tokens as before: ranks do
     * not change. The rows are rewritten in place (not the derived state:
     * about 17 s at 10^6 records) and the index merged into one segment
     * (about 6 s more), as a rebuild leaves it. */
    "UPDATE rsearch SET units=ntm_search_units(units)"
    " WHERE units IS NOT ntm_search_units(units);"
    "INSERT INTO rsearch(rsearch) VALUES('optimize');",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The tables and triggers of the records' digests (digest.c), made on a
 * home's first report only, not by a migration: rdigest, the digests by
 * the records' order; rdirty, the keys of the records written since,
 * filled by triggers on records whatever process writes them. */
static const char digests_ddl[] =
    "CREATE TABLE IF NOT EXISTS rdigest(c_ts INTEGER NOT NULL,"
    " author BLOB NOT NULL, id BLOB NOT NULL, d BLOB NOT NULL,"
    " PRIMARY KEY(c_ts, author, id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS rdirty(id TEXT NOT NULL,"
    " c_ts INTEGER NOT NULL, author TEXT NOT NULL,"
    " PRIMARY KEY(id, c_ts, author)) WITHOUT ROWID;"
    /* INSERT OR REPLACE deletes the old row without a delete trigger:
     * its key is taken before */
    "CREATE TRIGGER IF NOT EXISTS rdirty_old BEFORE INSERT ON records BEGIN"
    " INSERT OR IGNORE INTO rdirty SELECT id, c_ts, author FROM records"
    " WHERE id=new.id; END;"
    "CREATE TRIGGER IF NOT EXISTS rdirty_new AFTER INSERT ON records BEGIN"
    " INSERT OR IGNORE INTO rdirty VALUES(new.id, new.c_ts, new.author);"
    " END;"
    "CREATE TRIGGER IF NOT EXISTS rdirty_upd AFTER UPDATE ON records BEGIN"
    " INSERT OR IGNORE INTO rdirty VALUES(old.id, old.c_ts, old.author),"
    " (new.id, new.c_ts, new.author); END;"
    "CREATE TRIGGER IF NOT EXISTS rdirty_del AFTER DELETE ON records BEGIN"
    " INSERT OR IGNORE INTO rdirty VALUES(old.id, old.c_ts, old.author);"
    " END;";

enum ntm_err
Ntm_db_digests_on(struct ntm_store *st, struct ntm_error *err)
{
    return Ntm_exec(st, digests_ddl, err);
}

enum ntm_err
Ntm_db_error(struct ntm_store *st, int rc, struct ntm_error *err,
             const char *what)
{
    enum ntm_err code;
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        code = NTM_ENOMEM;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = NTM_EBUSY;
        break;
    case SQLITE_FULL:
        code = NTM_EFULL;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        code = NTM_ECORRUPT;
        break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        code = NTM_EREADONLY;
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        code = NTM_EIO;
        break;
    default:
        code = NTM_EDB;
    }
    const char *m = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    const char *hint = "";
    if (code == NTM_EFULL)
        hint = " - free some disk space and run the command again; nothing "
               "already stored is lost";
    else if (code == NTM_EBUSY)
        hint = " - another ntm process is using this home; wait and retry";
    else if (code == NTM_ECORRUPT)
        hint = " - the database file is damaged; restore it from a backup or "
               "pull everything again into a new home";
    else if (code == NTM_EREADONLY)
        hint = " - the home folder or its disk is read-only";
    return ntm_error_set(err, code, "%s: %s%s", what, m, hint);
}

enum ntm_err
Ntm_step_ok(struct ntm_store *st, int rc, struct ntm_error *err,
            const char *what)
{
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return NTM_OK;
    return Ntm_db_error(st, rc, err, what);
}

void
Ntm_json_free(void *p)
{
    json_free_t f = NULL;
    json_get_alloc_funcs(NULL, &f);
    if (p)
        (f ? f : free)(p);
}

enum ntm_err
Ntm_exec(struct ntm_store *st, const char *sql, struct ntm_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        enum ntm_err e = Ntm_db_error(st, rc, err, "database statement failed");
        sqlite3_free(msg);
        return e;
    }
    return NTM_OK;
}

enum ntm_err
ntm_store_checkpoint(struct ntm_store *st, struct ntm_error *err)
{
    int r = sqlite3_wal_checkpoint_v2(st->db, "main", SQLITE_CHECKPOINT_PASSIVE,
                                      NULL, NULL);
    if (r == SQLITE_OK || r == SQLITE_BUSY)
        return NTM_OK;
    return Ntm_db_error(st, r, err, "cannot checkpoint the store's WAL");
}

sqlite3_stmt *
Ntm_prepare(struct ntm_store *st, const char *sql, struct ntm_error *err)
{
    struct store_full *f = (struct store_full *)st;
    for (int i = 0; i < f->ncache; i++) {
        if (f->cache[i].sql == sql) {
            sqlite3_stmt *s = f->cache[i].stmt;
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            return s;
        }
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
                                NULL);
    if (rc != SQLITE_OK) {
        Ntm_db_error(st, rc, err, "cannot prepare a database statement");
        return NULL;
    }
    if (f->ncache < STMT_CACHE) {
        f->cache[f->ncache].sql = sql;
        f->cache[f->ncache].stmt = s;
        f->ncache++;
    } else {
        /* Cache full: a programming error (too many distinct statements);
         * evict the oldest one not running (a caller may be stepping
         * through it) so that behaviour stays correct. */
        int v = 0;
        while (v < STMT_CACHE - 1 && sqlite3_stmt_busy(f->cache[v].stmt))
            v++;
        sqlite3_finalize(f->cache[v].stmt);
        memmove(&f->cache[v], &f->cache[v + 1],
                sizeof(f->cache[0]) * (size_t)(STMT_CACHE - 1 - v));
        f->cache[STMT_CACHE - 1].sql = sql;
        f->cache[STMT_CACHE - 1].stmt = s;
    }
    return s;
}

enum ntm_err
Ntm_collect(struct ntm_store *st, sqlite3_stmt *s, int pairs, json_t **out,
            struct ntm_error *err)
{
    *out = json_array();
    int x = SQLITE_DONE, bad = !*out;
    while (!bad && (x = sqlite3_step(s)) == SQLITE_ROW)
        bad = json_array_append_new(
            *out,
            pairs ? json_pack("[I,s%]", (json_int_t)sqlite3_column_int64(s, 0),
                              sqlite3_column_blob(s, 1),
                              (size_t)sqlite3_column_bytes(s, 1))
                  : json_string((const char *)sqlite3_column_text(s, 0)));
    sqlite3_reset(s);
    enum ntm_err rc = bad ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                          : Ntm_step_ok(st, x, err, "cannot read the store");
    if (rc != NTM_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

enum ntm_err
Ntm_collect_rows(struct ntm_store *st, sqlite3_stmt *s,
                 json_t *(*build)(sqlite3_stmt *), json_t **out,
                 struct ntm_error *err, const char *what)
{
    int x = SQLITE_DONE;
    *out = json_array();
    while (*out && (x = sqlite3_step(s)) == SQLITE_ROW)
        if (json_array_append_new(*out, build(s)) != 0) {
            json_decref(*out);
            *out = NULL;
        }
    sqlite3_reset(s);
    if (!*out)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = Ntm_step_ok(st, x, err, what);
    if (rc != NTM_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static enum ntm_err exec_cached(struct ntm_store *st, const char *sql,
                                struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Deferred writes to the word index */

static void
spend_free(struct ntm_store *st, struct Ntm_spend *p)
{
    if (p->depth >= 0)
        st->nwritten--;
    ntm_free(p->words);
    ntm_free(p->units);
}

/* Set p's depth, keeping the count of those written. */
static void
spend_depth(struct ntm_store *st, struct Ntm_spend *p, int depth)
{
    if (p->depth < 0 && depth >= 0)
        st->nwritten++;
    else if (p->depth >= 0 && depth < 0)
        st->nwritten--;
    p->depth = depth;
}

/* Forget every deferred write from index from on. */
static void
spend_truncate(struct ntm_store *st, size_t from)
{
    for (size_t i = from; i < st->nspend; i++)
        spend_free(st, &st->spend[i]);
    if (from < st->nspend)
        st->nspend = from;
}

/* Drop the writes already written at the current depth that belong to
 * it (past the innermost savepoint's mark): the transaction or that
 * savepoint now holds them. Those before the mark stay: a rollback of the
 * savepoint undoes them, and they are written again. */
static void
spend_compact(struct ntm_store *st)
{
    if (!st->nwritten)
        return; /* nothing to drop */
    size_t from = st->nsmarks ? st->smarks[st->nsmarks - 1].nspend : 0;
    size_t to = from;
    for (size_t i = from; i < st->nspend; i++) {
        if (st->spend[i].depth >= 0)
            spend_free(st, &st->spend[i]);
        else
            st->spend[to++] = st->spend[i];
    }
    st->nspend = to;
}

/* The transaction ended (committed or rolled back). */
static void
spend_reset(struct ntm_store *st)
{
    spend_truncate(st, 0);
    st->nsmarks = 0;
    st->hlc_valid = 0;
    st->hlc_dirty = 0;
    st->chain.valid = 0;
}

/* The HLC observed in this transaction, to meta (before it commits). */
static enum ntm_err
hlc_flush(struct ntm_store *st, struct ntm_error *err)
{
    if (!st->hlc_dirty || sqlite3_get_autocommit(st->db))
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
    snprintf(t, sizeof(t), "%lld", (long long)st->hlc_ts);
    snprintf(l, sizeof(l), "%lld", (long long)st->hlc_lc);
    sqlite3_bind_text(s, 1, t, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, l, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot save a setting");
    st->hlc_dirty = 0;
    return NTM_OK;
}

enum ntm_err
Ntm_search_put(struct ntm_store *st, int64_t doc, const char *words,
               const char *units, int had, struct ntm_error *err)
{
    if (st->search_lazy)
        return NTM_OK;
    if (st->nspend == st->capspend) {
        size_t nc = st->capspend ? st->capspend * 2 : 64;
        struct Ntm_spend *p = ntm_realloc(st->spend, nc * sizeof(*p));
        if (!p)
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        st->spend = p;
        st->capspend = nc;
    }
    struct Ntm_spend *p = &st->spend[st->nspend];
    memset(p, 0, sizeof(*p));
    p->doc = doc;
    p->had = had;
    p->depth = -1;
    if (words && (!(p->words = ntm_strdup(words)) ||
                  !(p->units = ntm_strdup(units ? units : "")))) {
        spend_free(st, p);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    st->nspend++;
    /* Counted every 64 writes: a count per write cost more than the
     * write. */
    if (st->nspend % 64)
        return NTM_OK;
    size_t waiting = 0;
    for (size_t i = 0; i < st->nspend; i++)
        waiting += st->spend[i].depth < 0;
    return waiting >= NTM_SEARCH_BATCH ? Ntm_search_flush(st, err) : NTM_OK;
}

int
Ntm_search_pending(struct ntm_store *st, int64_t doc, const char **words,
                   const char **units)
{
    /* Those written already are in the index itself. */
    for (size_t i = st->nspend; i > 0; i--)
        if (st->spend[i - 1].depth < 0 && st->spend[i - 1].doc == doc) {
            *words = st->spend[i - 1].words;
            *units = st->spend[i - 1].units;
            return 1;
        }
    return 0;
}

enum ntm_err
Ntm_search_flush(struct ntm_store *st, struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    /* No transaction (SQLite rolled it back after an error): what was
     * deferred went with it. */
    if (st->nspend && sqlite3_get_autocommit(st->db)) {
        spend_reset(st);
        return NTM_OK;
    }
    for (size_t i = 0; i < st->nspend && rc == NTM_OK; i++) {
        struct Ntm_spend *p = &st->spend[i];
        if (p->depth >= 0)
            continue;
        sqlite3_stmt *s = NULL;
        int x = SQLITE_DONE;
        if (p->had) {
            s = Ntm_prepare(st, "DELETE FROM rsearch WHERE rowid=?1", err);
            if (!s)
                return err ? err->code : NTM_EDB;
            sqlite3_bind_int64(s, 1, p->doc);
            x = sqlite3_step(s);
            sqlite3_reset(s);
        }
        if (x == SQLITE_DONE && p->words) {
            s = Ntm_prepare(
                st, "INSERT INTO rsearch(rowid, words, units) VALUES(?1,?2,?3)",
                err);
            if (!s)
                return err ? err->code : NTM_EDB;
            sqlite3_bind_int64(s, 1, p->doc);
            sqlite3_bind_text(s, 2, p->words, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, p->units, -1, SQLITE_STATIC);
            x = sqlite3_step(s);
            sqlite3_reset(s);
        }
        if (x != SQLITE_DONE) {
            st->search_heal = 1;
            rc = Ntm_db_error(st, x, err, "cannot save the word index");
        } else {
            spend_depth(st, p, st->nsmarks);
        }
    }
    spend_compact(st);
    return rc;
}

/* Roll the whole transaction back, whatever happened before. */
static void
rollback_all(struct ntm_store *st)
{
    spend_reset(st);
    if (sqlite3_get_autocommit(st->db))
        return;
    if (exec_cached(st, sql_rollback, NULL) != NTM_OK)
        sqlite3_exec(st->db, sql_rollback, NULL, NULL, NULL);
}

enum ntm_err
Ntm_search_mode_load(struct ntm_store *st, struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT value='lazy' FROM meta WHERE key='search'", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    int x = sqlite3_step(s);
    st->search_lazy = x == SQLITE_ROW && sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    return Ntm_step_ok(st, x, err, "cannot read the store's settings");
}

/* At open: a server never searches by words, so a new server's store
 * (no setting yet, no record) keeps no word index until something
 * searches it. Read first: only that first open writes, and a server's
 * pool handles opening under load never wait for the write lock. */
static enum ntm_err
search_mode_open(struct ntm_store *st, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    int fresh = 0;
    if ((st->flags & (NTM_STORE_SERVER | NTM_STORE_READONLY)) ==
        NTM_STORE_SERVER) {
        s = Ntm_prepare(st,
                        "SELECT NOT EXISTS (SELECT 1 FROM meta WHERE "
                        "key='search') AND NOT EXISTS (SELECT 1 FROM rdoc)",
                        err);
        if (!s)
            return err ? err->code : NTM_EDB;
        int x = sqlite3_step(s);
        fresh = x == SQLITE_ROW && sqlite3_column_int(s, 0);
        sqlite3_reset(s);
        enum ntm_err rc =
            Ntm_step_ok(st, x, err, "cannot read the store's settings");
        if (rc == NTM_OK && fresh)
            rc = Ntm_exec(st,
                          "INSERT INTO meta(key, value) SELECT 'search', "
                          "'lazy' WHERE NOT EXISTS (SELECT 1 FROM meta WHERE "
                          "key='search') AND NOT EXISTS (SELECT 1 FROM rdoc)",
                          err);
        if (rc != NTM_OK)
            return rc;
    }
    return Ntm_search_mode_load(st, err);
}

/*
 * After a failed write, make the word index (FTS5) forget what it holds
 * in memory. When SQLite rolls a whole transaction back by itself (out of
 * memory inside the index's own write), FTS5 can keep the terms of the
 * failed row in its per-connection buffer and write them with the next
 * transaction: the index would then name rows that do not exist ("database
 * disk image is malformed" on the next rebuild). A transaction that opens
 * the index and is rolled back makes FTS5 drop that buffer and its cached
 * structure. Done before the next transaction and before verify reads
 * the index, best effort (kept pending while it fails).
 */
void
Ntm_search_heal(struct ntm_store *st)
{
    if (!st->search_heal || !sqlite3_get_autocommit(st->db))
        return;
    if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return;
    int rc = sqlite3_exec(st->db, "DELETE FROM rsearch WHERE rowid=0", NULL,
                          NULL, NULL);
    if (sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK &&
        rc == SQLITE_OK)
        st->search_heal = 0;
}

/* The page cache: the store's (db_open), or SQLite's default of 2 MB
 * for a read that touches each page once or twice (Ntm_cache_small). */
#define CACHE_STORE "PRAGMA cache_size=-32000"
#define CACHE_SMALL "PRAGMA cache_size=-2000"

/* WAL pages past which a server's commit checkpoints itself (64 MiB of
 * 4 KiB pages); below, its checkpointer thread does (sync/server.c). */
#define SERVER_CKPT_BACKSTOP 16384

int
Ntm_cache_small(struct ntm_store *st, int small)
{
    if (small && !sqlite3_get_autocommit(st->db))
        return 0;
    return sqlite3_exec(st->db, small ? CACHE_SMALL : CACHE_STORE, NULL, NULL,
                        NULL) == SQLITE_OK &&
           small;
}

/* SQL ntm_search_units(text): Ntm_search_units, for migration 10. */
static void
search_units_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *unit = (const char *)sqlite3_value_text(argv[0]);
    if (!unit) {
        sqlite3_result_null(ctx);
        return;
    }
    char *units = Ntm_search_units(unit);
    if (!units)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_text(ctx, units, -1, ntm_free);
}

static enum ntm_err
migrate(struct ntm_store *st, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) !=
        SQLITE_OK)
        return Ntm_db_error(st, sqlite3_errcode(st->db), err,
                            "cannot read the schema version");
    if (sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version > NMIGRATIONS)
        return ntm_error_set(err, NTM_EDB,
                             "database schema version %d is newer than this "
                             "ntm understands (%d) - upgrade ntm",
                             version, NMIGRATIONS);
    if (version == NMIGRATIONS)
        return NTM_OK;
    if (st->flags & NTM_STORE_READONLY)
        return ntm_error_set(err, NTM_EREADONLY,
                             "database needs an upgrade but is read-only");
    int r = sqlite3_create_function(st->db, "ntm_search_units", 1,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC |
                                        SQLITE_DIRECTONLY,
                                    NULL, search_units_fn, NULL, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot upgrade the database");
    enum ntm_err rc = Ntm_exec(st, "BEGIN IMMEDIATE", err);
    if (rc != NTM_OK)
        return rc;
    for (int v = version; v < NMIGRATIONS; v++) {
        rc = Ntm_exec(st, migrations[v], err);
        if (rc != NTM_OK)
            goto fail;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", NMIGRATIONS);
    if ((rc = Ntm_exec(st, sql, err)) != NTM_OK)
        goto fail;
    if ((rc = Ntm_exec(st, "COMMIT", err)) != NTM_OK)
        return rc;
    /* The steps rewrote whole tables: fold the WAL back into the file
     * now rather than let it grow on a small disk. Best effort. */
    sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    return NTM_OK;
fail:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/*
 * Without NTM_STORE_CREATE the file must already be an ntm store: an empty
 * file (a lost write, a failed copy), a file that is not SQLite, a
 * truncated one, or an SQLite file without ntm's schema is refused
 * before anything is written to it (no WAL switch, no migration), so that
 * a damaged store is never silently re-created empty: that would forget
 * the pinned root key, the server settings and the record of pushed
 * entries, and restart numbering at 1.
 */
static enum ntm_err
check_is_store(struct ntm_store *st, const char *path, struct ntm_error *err)
{
    struct stat sb;
    if (strcmp(path, ":memory:") == 0)
        return NTM_OK;
    if (stat(path, &sb) == 0 && sb.st_size == 0) {
        /* An empty file with a WAL beside it may be a store never
         * checkpointed: SQLite reads it from the WAL; the version tells. */
        struct ntm_buf wal = NTM_BUF_INIT;
        struct stat wb;
        int has_wal = ntm_buf_addf(&wal, "%s-wal", path) == NTM_OK &&
                      stat(ntm_buf_str(&wal), &wb) == 0 && wb.st_size > 0;
        ntm_buf_release(&wal);
        if (!has_wal)
            return ntm_error_set(err, NTM_ECORRUPT,
                                 N_("the store '%s' is an empty file (0 "
                                    "bytes): it holds nothing of ntm's any "
                                    "more"),
                                 path);
    }
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);
    int version = -1;
    if (r == SQLITE_OK && (r = sqlite3_step(s)) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version < 0) {
        int code = r & 0xff;
        if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
            return ntm_error_set(err, NTM_ECORRUPT,
                                 N_("the store '%s' is damaged or not an "
                                    "ntm store (%s)"),
                                 path, sqlite3_errstr(r));
        return Ntm_db_error(st, r, err, "cannot read the store");
    }
    if (version == 0)
        return ntm_error_set(err, NTM_ECORRUPT,
                             N_("'%s' is an SQLite file without ntm's "
                                "tables: it is not an ntm store"),
                             path);
    /* A file cut short keeps its header; SQLite finds the pages missing
     * when it reads them. Reading every page of the schema and of meta
     * finds a cut in the part every command needs. */
    r = sqlite3_exec(st->db,
                     "SELECT count(*) FROM sqlite_schema; "
                     "SELECT count(*) FROM meta;",
                     NULL, NULL, NULL);
    if (r != SQLITE_OK) {
        int code = r & 0xff;
        if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT ||
            code == SQLITE_ERROR)
            return ntm_error_set(err, NTM_ECORRUPT,
                                 N_("the store '%s' is damaged or not an "
                                    "ntm store (%s)"),
                                 path, sqlite3_errstr(r));
        return Ntm_db_error(st, r, err, "cannot read the store");
    }
    return NTM_OK;
}

enum ntm_err
Ntm_db_open(struct ntm_store **out, const char *path, unsigned flags,
            int *rebuild, struct ntm_error *err)
{
    *out = NULL;
    *rebuild = 0;
    enum ntm_err rc = Ntm_store_init();
    if (rc != NTM_OK)
        return ntm_error_set(err, rc, "cannot initialise the library");
    if (!(flags & NTM_STORE_CREATE) && access(path, F_OK) != 0)
        return ntm_error_set_errno(err, NTM_ENOENT, errno,
                                   "cannot open store '%s'", path);
    struct store_full *f = ntm_calloc(1, sizeof(*f));
    if (!f)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    struct ntm_store *st = &f->st;
    st->flags = flags;
    snprintf(st->root_scope, sizeof(st->root_scope), "72");

    int oflags =
        (flags & NTM_STORE_READONLY)
            ? SQLITE_OPEN_READONLY
            : SQLITE_OPEN_READWRITE |
                  ((flags & NTM_STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
    oflags |= SQLITE_OPEN_NOMUTEX;
    int src = sqlite3_open_v2(path, &st->db, oflags, Ntm_subjournal_vfs());
    if (src != SQLITE_OK) {
        struct ntm_buf what = NTM_BUF_INIT;
        ntm_buf_addf(&what, "cannot open store '%s'", path);
        rc = Ntm_db_error(st, src, err, ntm_buf_str(&what));
        ntm_buf_release(&what);
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 10000);
    /* the rank of a word search (query.c) */
    if ((src = Ntm_rank_register(st->db)) != SQLITE_OK) {
        rc = Ntm_db_error(st, src, err, "cannot set up the word search");
        goto fail;
    }
    if (!(flags & NTM_STORE_CREATE) &&
        (rc = check_is_store(st, path, err)) != NTM_OK)
        goto fail;
    if (!(flags & NTM_STORE_READONLY)) {
        if ((rc = Ntm_exec(st, "PRAGMA journal_mode=WAL", err)) != NTM_OK)
            goto fail;
    }
    rc = Ntm_exec(st,
                  (flags & NTM_STORE_SYNC_NORMAL)
                      ? "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                      : "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                  err);
    if (rc != NTM_OK)
        goto fail;
    /* Every write runs in a savepoint (Ntm_sp_begin), and SQLite copies
     * each page a savepoint touches into a statement journal first: it is
     * kept in memory up to 120 KiB, in one piece (init.c,
     * SQLITE_CONFIG_STMTJRNL_SPILL), and truncated when the last savepoint
     * is released. Temporary tables and sorts go to files. */
    /* A 32 MB page cache (default 2 MB). Each entry taken writes to
     * random-keyed B-trees (entry id, record id, effect id); once they
     * outgrow the cache every ingest reads cold pages back from the file.
     * 32 MB holds them for about 10^5 entries; it is a ceiling, not an
     * allocation, and a phone home with a few thousand entries never
     * reaches it. */
    if ((rc = Ntm_exec(st, CACHE_STORE, err)) != NTM_OK)
        goto fail;
    /* A server's commits leave the checkpoint to its checkpointer thread
     * (ntm_store_checkpoint); past the backstop a commit checkpoints as
     * SQLite's default does at 1000 pages, so the WAL stays bounded when
     * that thread falls behind. */
    if ((flags & NTM_STORE_SERVER) && !(flags & NTM_STORE_READONLY))
        sqlite3_wal_autocheckpoint(st->db, SERVER_CKPT_BACKSTOP);
    if ((rc = migrate(st, err)) != NTM_OK)
        goto fail;
    if (!(flags & NTM_STORE_READONLY)) {
        static const char *const tx[] = {sql_begin,    sql_commit,
                                         sql_rollback, sql_savepoint,
                                         sql_release,  sql_rollback_to};
        for (size_t i = 0; i < sizeof(tx) / sizeof(tx[0]); i++)
            if (!Ntm_prepare(st, tx[i], err)) {
                rc = err ? err->code : NTM_EDB;
                goto fail;
            }
    }
    if ((rc = search_mode_open(st, err)) != NTM_OK)
        goto fail;
    char root[NTM_HEX_ID_LEN + 1];
    if (ntm_store_root(st, root) == NTM_OK)
        memcpy(st->root, root, sizeof(root));
    char *scope = NULL;
    if (ntm_store_meta_get(st, "root.scope", &scope, NULL) == NTM_OK) {
        snprintf(st->root_scope, sizeof(st->root_scope), "%s", scope);
        ntm_free(scope);
    }
    /* A migration that changed the rules asks for the derived state to be
     * rebuilt from the log: the layer above does it (derive.c). */
    char *pending = NULL;
    if (!(flags & NTM_STORE_READONLY) &&
        ntm_store_meta_get(st, "rebuild", &pending, NULL) == NTM_OK) {
        ntm_free(pending);
        *rebuild = 1;
    }
    *out = st;
    return NTM_OK;
fail:
    ntm_store_close(st);
    return rc;
}

void
ntm_store_close(struct ntm_store *st)
{
    if (!st)
        return;
    struct store_full *f = (struct store_full *)st;
    for (int i = 0; i < f->ncache; i++)
        sqlite3_finalize(f->cache[i].stmt);
    if (st->db) {
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close_v2(st->db);
    }
    spend_reset(st);
    ntm_free(st->spend);
    ntm_free(st->smarks);
    ntm_free(f);
}

enum ntm_err
ntm_store_check(struct ntm_store *st, int full, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    const char *sql = full ? "PRAGMA integrity_check" : "PRAGMA quick_check";
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return Ntm_db_error(st, rc, err, "cannot check the database");
    enum ntm_err out = NTM_OK;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (!r || strcmp(r, "ok") != 0)
            out = ntm_error_set(err, NTM_ECORRUPT,
                                "database check failed: %s - restore the "
                                "file from a backup",
                                r ? r : "?");
    } else {
        out = Ntm_db_error(st, rc, err, "database check failed");
    }
    sqlite3_finalize(s);
    return out;
}

enum ntm_err
ntm_store_begin(struct ntm_store *st, struct ntm_error *err)
{
    if (st->tx_depth > 0)
        return ntm_error_set(err, NTM_EINVAL, "transaction already open");
    st->hlc_valid = 0;
    rollback_all(st); /* a transaction a failed rollback left open */
    Ntm_search_heal(st);
    enum ntm_err rc = exec_cached(st, sql_begin, err);
    if (rc == NTM_OK && (rc = Ntm_search_mode_load(st, err)) != NTM_OK)
        rollback_all(st);
    if (rc == NTM_OK)
        st->tx_depth = 1;
    return rc;
}

enum ntm_err
ntm_store_commit(struct ntm_store *st, struct ntm_error *err)
{
    if (st->tx_depth == 0)
        return ntm_error_set(err, NTM_EINVAL, "no transaction open");
    enum ntm_err rc = Ntm_search_flush(st, err);
    if (rc == NTM_OK)
        rc = hlc_flush(st, err);
    if (rc == NTM_OK)
        rc = exec_cached(st, sql_commit, err);
    if (rc != NTM_OK)
        rollback_all(st);
    spend_reset(st);
    st->tx_depth = 0;
    st->hlc_valid = 0;
    return rc;
}

void
ntm_store_rollback(struct ntm_store *st)
{
    if (st->tx_depth == 0)
        return;
    rollback_all(st);
    st->tx_depth = 0;
    st->hlc_valid = 0;
    st->search_heal = 1;
}

/* Run one cached statement that returns no rows. Savepoints open and
 * close once per entry written: sqlite3_exec would parse them each time. */
static enum ntm_err
exec_cached(struct ntm_store *st, const char *sql, struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(st, sql, err);
    if (!s)
        return err ? err->code : NTM_EDB;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return Ntm_db_error(st, rc, err, "database statement failed");
    return NTM_OK;
}

/*
 * Every write function runs inside a savepoint: on its own it is its own
 * transaction; inside ntm_store_begin it nests, and a failure undoes only
 * its own writes.
 */
enum ntm_err
Ntm_sp_begin(struct ntm_store *st, struct ntm_error *err)
{
    /* Outside ntm_store_begin, sp_serial counts the open scopes and the
     * first one owns the transaction; inside, every scope is a savepoint.
     * Scopes nest (a review that first merges heads writes twice). */
    if (st->tx_depth == 0 && st->sp_serial == 0) {
        /* Take the write lock up front: a deferred transaction that reads
         * first could fail later with SQLITE_BUSY_SNAPSHOT. */
        rollback_all(st); /* a transaction a failed rollback left open */
        Ntm_search_heal(st);
        enum ntm_err rc = exec_cached(st, sql_begin, err);
        if (rc == NTM_OK && (rc = Ntm_search_mode_load(st, err)) != NTM_OK)
            rollback_all(st);
        if (rc != NTM_OK)
            return rc;
        st->sp_serial = 1;
        return NTM_OK;
    }
    if (sqlite3_get_autocommit(st->db)) {
        /* SQLite rolls a transaction back by itself after some errors
         * (out of memory, disk full, I/O error): the caller's batch is
         * gone, and a savepoint now would quietly start a new one. */
        spend_reset(st);
        return ntm_error_set(err, NTM_EDB,
                             "the transaction was rolled back after an "
                             "earlier error - start the batch again");
    }
    if (st->nsmarks == st->capsmarks) {
        int nc = st->capsmarks ? st->capsmarks * 2 : 8;
        struct Ntm_smark *p = ntm_realloc(st->smarks, (size_t)nc * sizeof(*p));
        if (!p)
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        st->smarks = p;
        st->capsmarks = nc;
    }
    enum ntm_err rc = exec_cached(st, sql_savepoint, err);
    if (rc == NTM_OK) {
        st->sp_serial++;
        struct Ntm_smark *m = &st->smarks[st->nsmarks++];
        m->nspend = st->nspend;
        m->hlc_valid = st->hlc_valid;
        m->hlc_dirty = st->hlc_dirty;
        m->hlc_ts = st->hlc_ts;
        m->hlc_lc = st->hlc_lc;
    }
    return rc;
}

/* The savepoint at depth (its mark m) rolled back: what it deferred is
 * forgotten, what outer scopes deferred and it wrote is written again
 * later, and the HLC is as it was when it opened. */
static void
sp_undone(struct ntm_store *st, int depth, const struct Ntm_smark *m)
{
    spend_truncate(st, m->nspend);
    for (size_t i = 0; i < st->nspend; i++)
        if (st->spend[i].depth >= depth)
            spend_depth(st, &st->spend[i], -1);
    st->hlc_valid = m->hlc_valid;
    st->hlc_dirty = m->hlc_dirty;
    st->hlc_ts = m->hlc_ts;
    st->hlc_lc = m->hlc_lc;
    st->chain.valid = 0; /* log.c's copy of an authors row */
}

enum ntm_err
Ntm_sp_end(struct ntm_store *st, int ok, struct ntm_error *err)
{
    int outer = st->tx_depth == 0 && st->sp_serial == 1;
    if (!ok)
        st->search_heal = 1;
    if (st->sp_serial > 0)
        st->sp_serial--;
    if (outer) {
        if (ok) {
            enum ntm_err rc = Ntm_search_flush(st, err);
            if (rc == NTM_OK)
                rc = hlc_flush(st, err);
            if (rc == NTM_OK)
                rc = exec_cached(st, sql_commit, err);
            if (rc != NTM_OK)
                rollback_all(st);
            spend_reset(st);
            return rc;
        }
        rollback_all(st);
        return NTM_OK;
    }
    /* The savepoint's deferred writes: kept by its parent on release,
     * forgotten on rollback (and those of outer scopes it wrote are
     * written again later). */
    int depth = st->nsmarks;
    struct Ntm_smark m = {0, 0, 0, 0, 0};
    if (depth)
        m = st->smarks[--st->nsmarks];
    if (ok) {
        enum ntm_err rc = exec_cached(st, sql_release, err);
        if (rc == NTM_OK) {
            /* Only writes made while it was open can be at its depth. */
            for (size_t i = 0; st->nwritten && i < st->nspend; i++)
                if (st->spend[i].depth >= depth)
                    spend_depth(st, &st->spend[i], depth - 1);
            spend_compact(st);
            return NTM_OK;
        }
        /* the savepoint stays: undo it */
        if (exec_cached(st, sql_rollback_to, NULL) == NTM_OK)
            exec_cached(st, sql_release, NULL);
        sp_undone(st, depth, &m);
        return rc;
    }
    if (exec_cached(st, sql_rollback_to, NULL) == NTM_OK)
        exec_cached(st, sql_release, NULL);
    sp_undone(st, depth, &m);
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* meta */

enum ntm_err
ntm_store_meta_get(struct ntm_store *st, const char *key, char **val,
                   struct ntm_error *err)
{
    *val = NULL;
    sqlite3_stmt *s =
        Ntm_prepare(st, "SELECT value FROM meta WHERE key=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *val = ntm_strdup((const char *)sqlite3_column_text(s, 0));
        sqlite3_reset(s);
        return *val ? NTM_OK : ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return NTM_ENOENT;
    return Ntm_db_error(st, rc, err, "cannot read a setting");
}

enum ntm_err
ntm_store_meta_set(struct ntm_store *st, const char *key, const char *val,
                   struct ntm_error *err)
{
    if (strncmp(key, "hlc.", 4) == 0)
        st->hlc_valid = st->hlc_dirty = 0;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        val ? "INSERT INTO meta(key,value) VALUES(?1,?2) ON CONFLICT(key) DO "
              "UPDATE SET value=excluded.value"
            : "DELETE FROM meta WHERE key=?1",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (val)
        sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return Ntm_db_error(st, rc, err, "cannot save a setting");
    return NTM_OK;
}

enum ntm_err
ntm_store_meta_get_int(struct ntm_store *st, const char *key, int64_t dflt,
                       int64_t *val, struct ntm_error *err)
{
    char *s = NULL;
    enum ntm_err rc = ntm_store_meta_get(st, key, &s, err);
    *val = dflt;
    if (rc == NTM_ENOENT)
        return NTM_OK;
    if (rc != NTM_OK)
        return rc;
    if (ntm_parse_int64(s, INT64_MIN, INT64_MAX, val) != NTM_OK)
        *val = dflt;
    ntm_free(s);
    return NTM_OK;
}

enum ntm_err
ntm_store_meta_set_int(struct ntm_store *st, const char *key, int64_t val,
                       struct ntm_error *err)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)val);
    return ntm_store_meta_set(st, key, buf, err);
}

enum ntm_err
ntm_store_root(struct ntm_store *st, char out[NTM_HEX_ID_LEN + 1])
{
    char *v = NULL;
    enum ntm_err rc = ntm_store_meta_get(st, "root.key", &v, NULL);
    if (rc != NTM_OK)
        return rc == NTM_ENOENT ? NTM_ENOENT : rc;
    snprintf(out, NTM_HEX_ID_LEN + 1, "%s", v);
    ntm_free(v);
    return NTM_OK;
}
