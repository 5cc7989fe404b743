/* SPDX-License-Identifier: MIT */
/*
 * verify.c - the audit: PRAGMA integrity_check on the file; re-verify
 * every entry held from its stored bytes (id = hash of the bytes,
 * signature, the eight members, chain links); list entries without effect
 * and fork evidence; and compare the derived state (the tables of
 * derived_tables, the authors' heads, the entries' unit index) with what
 * the log gives (rebuilt by derive.c).
 *
 * The entry check streams the log in (author, seq) order and keeps only
 * the previous row and the problems found. The derived check rebuilds the
 * state inside a savepoint, next to a TEMP copy of what was stored, lists
 * the rows that differ and rolls the savepoint back (or keeps the rebuilt
 * state for --rebuild); its memory grows with the size of the derived
 * tables (the TEMP copy) and the number of differences, which is capped.
 * The signatures are verified ahead of the walk, a window of rows at a
 * time on several threads (struct ahead); the walk uses a result only for
 * the very bytes, signature and author it was computed for.
 *
 * Depends on util/, crypto/, derive.c and the layers below it (see
 * store_int.h), jansson, SQLite.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

/* Append {"entry","code"[,"message"]} to list; NTM_ENOMEM on failure
 * (a report that silently lost a problem would read as clean). */
static enum ntm_err
add_problem(json_t *list, const char *id, const char *code, const char *why,
            struct ntm_error *err)
{
    json_t *o = json_pack("{s:s, s:s}", "entry", id, "code", code);
    if (o && why && *why &&
        json_object_set_new(o, "message", json_string(why))) {
        json_decref(o);
        o = NULL;
    }
    if (json_array_append_new(list, o))
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    return NTM_OK;
}

/* Column i as text, "" when NULL; *oom set when SQLite could not make the
 * text for lack of memory. */
static const char *
row_text(sqlite3_stmt *s, int i, int *oom)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    if (!t && sqlite3_column_type(s, i) != SQLITE_NULL)
        *oom = 1;
    return t ? t : "";
}

/* Whether a stored column equals the member taken from the bytes. */
static int
same_text(sqlite3_stmt *s, int i, const char *want)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    if (!want)
        return sqlite3_column_type(s, i) == SQLITE_NULL;
    return t && strcmp(t, want) == 0;
}

/* The names of the stored columns of row s that differ from the members of
 * its bytes e ("" when none): the columns are indexes filled from the
 * bytes when the entry was taken. */
static const char *
changed_columns(sqlite3_stmt *s, const struct Ntm_entry *e, const char *author,
                const char *iauthor, int64_t seq, char *out, size_t outlen)
{
    static const char *const names[] = {"author", "seq", "prev",  "ts",
                                        "lc",     "op",  "record"};
    int differ[7] = {
        strcmp(e->author, author) != 0 || strcmp(iauthor, author) != 0,
        e->seq != seq || sqlite3_column_int64(s, 10) != seq,
        !same_text(s, 11, e->prev),
        sqlite3_column_int64(s, 12) != e->ts,
        sqlite3_column_int64(s, 13) != e->lc,
        !same_text(s, 14, e->op),
        !same_text(s, 15, e->record),
    };
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (differ[i])
            snprintf(out + strlen(out), outlen - strlen(out), "%s%s",
                     out[0] ? ", " : "", names[i]);
    return out;
}

/*
 * The unit column of entry e as taking it in writes it (log.c,
 * Ntm_log_unit): a record.create bound to its author and seq: its
 * body.unit; a unit.create: its body.code; nothing for a record.create
 * without a record id, nor for other entries without a record. Returns 1
 * with the unit in unit ("" for NULL); 2 for a record.create that is not bound
 * to its author and seq (a hijack attempt), indexed as an entry of the record
 * it names: the bound create's unit (bound_create_unit); 0 when it depends on
 * the record's create (checked by unit_sql).
 */
static int
expected_unit(const struct Ntm_entry *e, char *unit, size_t n)
{
    unit[0] = '\0';
    /* a create without a record id names no record: nothing indexed */
    if (strcmp(e->op, "record.create") == 0 && !e->record)
        return 1;
    if (strcmp(e->op, "record.create") == 0 && strcmp(e->bound, e->record) != 0)
        return 2;
    const char *member = strcmp(e->op, "record.create") == 0 ? "unit"
                         : strcmp(e->op, "unit.create") == 0 ? "code"
                                                             : NULL;
    if (member) {
        json_t *u = json_object_get(e->body, member);
        if (json_is_string(u))
            snprintf(unit, n, "%s", json_string_value(u));
        return 1;
    }
    return e->record == NULL;
}

/*
 * The log in chain order. The index (author, seq) gives the order; each
 * row is then read from the table itself by gseq, so that the columns
 * compared with the bytes are the table's, not the index's copies (SQLite
 * reads indexed columns from the index when it can).
 */
static const char verify_sql[] =
    "SELECT e.id, e.author, e.seq, e.bytes, e.sig, coalesce(f.code, 0), "
    "f.message, e.clock_ahead, coalesce(a.partial, 0), i.author, i.seq, "
    "e.prev, e.ts, e.lc, e.op, e.record, e.unit FROM entries i CROSS JOIN "
    "entries e "
    "ON e.gseq=i.gseq LEFT JOIN effect f ON f.gseq=e.gseq LEFT JOIN authors "
    "a ON "
    "a.author=e.author ORDER BY i.author, i.seq";

/* The same rows in the same order, for verifying their signatures ahead:
 * bytes, signature and author. */
static const char ahead_sql[] =
    "SELECT e.bytes, e.sig, e.author FROM entries i CROSS JOIN entries e "
    "ON e.gseq=i.gseq ORDER BY i.author, i.seq";

#define AHEAD_ROWS 512

struct ahead_row {
    char *bytes; /* owned copy */
    size_t len;
    char sig[NTM_SIG_B64_LEN + 8];
    char author[NTM_HEX_ID_LEN + 1];
    int ok; /* 1: sig is author's signature of bytes */
};

struct ahead {
    sqlite3_stmt *s; /* NULL: nothing ahead (checked in the walk) */
    struct ahead_row v[AHEAD_ROWS];
    size_t n, pos;
    int end; /* the statement gave its last row (or failed) */
};

static void
ahead_verify(void *ud, size_t i)
{
    struct ahead_row *a = &((struct ahead *)ud)->v[i];
    unsigned char sig[NTM_SIGNATURE_BYTES + 2], pk[NTM_PUBLICKEY_BYTES];
    size_t siglen = 0;
    a->ok =
        a->bytes &&
        ntm_b64_decode(sig, sizeof(sig), &siglen, a->sig, strlen(a->sig)) ==
            NTM_OK &&
        siglen == NTM_SIGNATURE_BYTES &&
        ntm_hex_decode(pk, sizeof(pk), a->author, NTM_HEX_ID_LEN) == NTM_OK &&
        ntm_sign_verify(sig, a->bytes, a->len, pk) == NTM_OK;
}

static void
ahead_clear(struct ahead *a)
{
    for (size_t i = 0; i < a->n; i++) {
        ntm_free(a->v[i].bytes);
        a->v[i].bytes = NULL;
    }
    a->n = a->pos = 0;
}

static void
ahead_close(struct ahead *a)
{
    ahead_clear(a);
    sqlite3_finalize(a->s);
    a->s = NULL;
}

/* The row the walk is at, read and verified ahead; NULL when the look-ahead
 * has stopped (end, or memory: the walk then verifies for itself). */
static const struct ahead_row *
ahead_next(struct ahead *a)
{
    if (!a->s)
        return NULL;
    if (a->pos == a->n) {
        ahead_clear(a);
        while (!a->end && a->n < AHEAD_ROWS) {
            if (sqlite3_step(a->s) != SQLITE_ROW) {
                a->end = 1;
                break;
            }
            struct ahead_row *r = &a->v[a->n];
            const void *b = sqlite3_column_blob(a->s, 0);
            const char *sig = (const char *)sqlite3_column_text(a->s, 1);
            const char *au = (const char *)sqlite3_column_text(a->s, 2);
            r->len = (size_t)sqlite3_column_bytes(a->s, 0);
            r->bytes = b ? ntm_malloc(r->len + 1) : NULL;
            if (b && !r->bytes) {
                a->end = 1;
                break;
            }
            if (b)
                memcpy(r->bytes, b, r->len);
            snprintf(r->sig, sizeof(r->sig), "%s", sig ? sig : "");
            snprintf(r->author, sizeof(r->author), "%s", au ? au : "");
            r->ok = 0;
            a->n++;
        }
        if (a->n == 0) {
            ahead_close(a);
            return NULL;
        }
        ntm_par_for(a->n, ahead_verify, a, 0);
    }
    return &a->v[a->pos++];
}

/* Whether sig_b64 is author's signature of bytes: from the row verified
 * ahead when it holds exactly these, else verified now. */
static int
sig_valid(const struct ahead_row *pre, const char *bytes, size_t len,
          const char *sig_b64, const char *author)
{
    if (pre && pre->bytes && pre->len == len &&
        memcmp(pre->bytes, bytes, len) == 0 && strcmp(pre->sig, sig_b64) == 0 &&
        strcmp(pre->author, author) == 0)
        return pre->ok;
    unsigned char sig[NTM_SIGNATURE_BYTES + 2], pk[NTM_PUBLICKEY_BYTES];
    size_t siglen = 0;
    return ntm_b64_decode(sig, sizeof(sig), &siglen, sig_b64,
                          strlen(sig_b64)) == NTM_OK &&
           siglen == NTM_SIGNATURE_BYTES &&
           ntm_hex_decode(pk, sizeof(pk), author, NTM_HEX_ID_LEN) == NTM_OK &&
           ntm_sign_verify(sig, bytes, len, pk) == NTM_OK;
}

/* Check one row against its bytes: NULL when it holds, else the problem
 * code with a reason in msg. NTM_ENOMEM in *rc when memory ran out. pre:
 * the row as verified ahead, or NULL. */
static const char *
check_row(sqlite3_stmt *s, const struct ahead_row *pre, const char *prev_author,
          int64_t prev_seq, const char *prev_id, char *msg, size_t msglen,
          char *unit, size_t unitlen, int *unit_known, enum ntm_err *rc)
{
    *unit_known = 0;
    int oom = 0;
    const char *id = row_text(s, 0, &oom);
    const char *author = row_text(s, 1, &oom);
    int64_t seq = sqlite3_column_int64(s, 2);
    const char *bytes = sqlite3_column_blob(s, 3);
    size_t len = (size_t)sqlite3_column_bytes(s, 3);
    const char *sig_b64 = row_text(s, 4, &oom);
    const char *iauthor = row_text(s, 9, &oom);
    int partial = sqlite3_column_int(s, 8);
    if (!bytes && sqlite3_column_type(s, 3) != SQLITE_NULL)
        oom = 1;
    if (oom) {
        *rc = NTM_ENOMEM;
        return NULL;
    }
    char hash[NTM_HEX_ID_LEN + 1];
    ntm_hash_hex(hash, bytes ? bytes : "", len);
    if (!bytes || strcmp(hash, id) != 0) {
        snprintf(msg, msglen,
                 "stored bytes do not hash to the entry id (altered)");
        return "bad_entry";
    }
    struct Ntm_entry e;
    const char *bad = NULL;
    enum ntm_err v = Ntm_entry_parse(&e, bytes, len, msg, msglen);
    if (v == NTM_ENOMEM) {
        *rc = NTM_ENOMEM;
        goto out;
    }
    if (v != NTM_OK) {
        bad = "bad_entry";
        goto out;
    }
    char colbuf[64];
    const char *cols =
        changed_columns(s, &e, author, iauthor, seq, colbuf, sizeof(colbuf));
    if (*cols) {
        bad = "bad_entry";
        snprintf(msg, msglen,
                 "stored columns (%s) differ from the entry's bytes "
                 "(altered)",
                 cols);
    } else if (!sig_valid(pre, bytes, len, sig_b64, e.author)) {
        bad = "bad_signature";
        snprintf(msg, msglen, "signature does not verify");
    } else if (strcmp(prev_author, author) == 0 && seq == prev_seq + 1) {
        if (!e.prev || strcmp(e.prev, prev_id) != 0) {
            bad = "fork";
            snprintf(msg, msglen, "prev does not name the entry at seq %lld",
                     (long long)prev_seq);
        }
    } else if (!partial &&
               ((strcmp(prev_author, author) != 0 && seq != 1) ||
                (strcmp(prev_author, author) == 0 && seq != prev_seq + 1))) {
        bad = "gap";
        snprintf(msg, msglen, "entries before seq %lld missing",
                 (long long)seq);
    }
    if (!bad)
        *unit_known = expected_unit(&e, unit, unitlen);
out:
    Ntm_entry_release(&e);
    return bad;
}

/* The unit of record's create bound to its author and seq, when held
 * ("" when none is): what a create naming record without being bound to
 * it is indexed under. */
static enum ntm_err
bound_create_unit(struct ntm_store *st, const char *record, char *unit,
                  size_t n, struct ntm_error *err)
{
    unit[0] = '\0';
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT author, seq, unit FROM entries WHERE "
                                  "record=?1 AND op='record.create'",
                                  err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record, -1, SQLITE_TRANSIENT);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        char bound[NTM_RECORD_ID_LEN + 1];
        const char *a = (const char *)sqlite3_column_text(s, 0);
        const char *u = (const char *)sqlite3_column_text(s, 2);
        ntm_record_id(bound, a ? a : "", sqlite3_column_int64(s, 1));
        if (strcmp(bound, record) == 0) {
            snprintf(unit, n, "%s", u ? u : "");
            break;
        }
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot read the record's create");
    return NTM_OK;
}

/* Entries that stand for an entry their author set aside (a home
 * restored from an older backup, or copied: store/strand.c), and what this
 * replica set aside itself. Not failures: what happened, for admins. */
static enum ntm_err
verify_reissued(struct ntm_store *st, json_t **reissued, json_t **stranded,
                struct ntm_error *err)
{
    static const char *const sql[] = {
        "SELECT id, author, seq, json_extract(CAST(bytes AS TEXT),"
        " '$.body.replaces') AS r FROM entries WHERE instr(bytes,"
        " '\"replaces\"') > 0 AND r IS NOT NULL ORDER BY author, seq",
        "SELECT id, author, seq, coalesce(reissued_as, ''),"
        " coalesce(reason, '') FROM stranded ORDER BY author, seq",
    };
    *reissued = json_array();
    *stranded = json_array();
    if (!*reissued || !*stranded)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *s = NULL;
        int r = sqlite3_prepare_v2(st->db, sql[k], -1, &s, NULL);
        if (r != SQLITE_OK)
            return Ntm_db_error(st, r, err, "cannot read the log");
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            json_t *o;
            const char *c0 = (const char *)sqlite3_column_text(s, 0);
            const char *c1 = (const char *)sqlite3_column_text(s, 1);
            const char *c3 = (const char *)sqlite3_column_text(s, 3);
            json_int_t seq = (json_int_t)sqlite3_column_int64(s, 2);
            if (k == 0)
                o = json_pack("{s:s?, s:s?, s:I, s:s?}", "entry", c0, "author",
                              c1, "seq", seq, "replaces", c3);
            else
                o = json_pack("{s:s?, s:s?, s:I, s:s?, s:s?}", "entry", c0,
                              "author", c1, "seq", seq, "reissued_as", c3,
                              "reason",
                              (const char *)sqlite3_column_text(s, 4));
            if (!o || json_array_append_new(k ? *stranded : *reissued, o)) {
                sqlite3_finalize(s);
                return ntm_error_set(err, NTM_ENOMEM, "out of memory");
            }
        }
        sqlite3_finalize(s);
        if (r != SQLITE_DONE)
            return Ntm_db_error(st, r, err, "cannot read the log");
    }
    return NTM_OK;
}

/* The fork evidence, grouped by (author, seq): the entry held first, then
 * every refused one. */
static enum ntm_err
verify_forks(struct ntm_store *st, json_t *forks, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    int r = sqlite3_prepare_v2(
        st->db,
        "SELECT author, seq, group_concat(id, ' '), (SELECT id FROM entries e "
        "WHERE e.author=g.author AND e.seq=g.seq) FROM (SELECT * FROM forks "
        "ORDER BY author, seq, id) g GROUP BY author, seq ORDER BY author, seq",
        -1, &s, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot read fork evidence");
    while (rc == NTM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        int oom = 0, bad = 0;
        json_t *ids = json_array();
        const char *held = row_text(s, 3, &oom);
        const char *p = row_text(s, 2, &oom);
        const char *author = row_text(s, 0, &oom);
        if (!ids || oom)
            bad = 1;
        if (!bad && sqlite3_column_type(s, 3) != SQLITE_NULL)
            bad = json_array_append_new(ids, json_string(held));
        while (!bad && *p) {
            const char *sp = strchr(p, ' ');
            size_t n = sp ? (size_t)(sp - p) : strlen(p);
            bad = json_array_append_new(ids, json_stringn(p, n));
            p += n + (sp ? 1 : 0);
        }
        if (bad) {
            json_decref(ids);
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        } else if (json_array_append_new(
                       forks,
                       json_pack("{s:s, s:I, s:o, s:s?, s:b}", "author", author,
                                 "seq", (json_int_t)sqlite3_column_int64(s, 1),
                                 "ids", ids, "held",
                                 sqlite3_column_type(s, 3) != SQLITE_NULL
                                     ? held
                                     : NULL,
                                 "resolved", 0))) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
    }
    if (rc == NTM_OK)
        rc = Ntm_step_ok(st, r, err, "cannot read fork evidence");
    sqlite3_finalize(s);
    return rc;
}

/*
 * A fork is resolved when every entry refused at its seq was written again
 * on the true chain: an entry of the log names it in "replaces" (a home
 * restored from a backup re-issues under its key, a copied or re-keyed
 * home under its new key: store/strand.c). The evidence stays listed;
 * only an unresolved fork fails verify. reissued: verify_reissued's list.
 */
static enum ntm_err
mark_resolved(json_t *forks, json_t *reissued, struct ntm_error *err)
{
    json_t *set = json_object(), *f, *x;
    size_t i, k;
    if (!set)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_array_foreach (reissued, i, x) {
        const char *r = json_string_value(json_object_get(x, "replaces"));
        if (r && json_object_set_new(set, r, json_true())) {
            json_decref(set);
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
    }
    json_array_foreach (forks, i, f) {
        const char *held = json_string_value(json_object_get(f, "held"));
        int resolved = 1;
        json_array_foreach (json_object_get(f, "ids"), k, x) {
            const char *id = json_string_value(x);
            if (id && (!held || strcmp(id, held)) && !json_object_get(set, id))
                resolved = 0;
        }
        json_object_set_new(f, "resolved", json_boolean(resolved));
    }
    json_decref(set);
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* The derived state against the log */

/*
 * The derived tables: each a function of the set of valid entries, and
 * rebuilt from it by rebuild_derived. verify compares every row and
 * column of each with a rebuild, whatever columns the table has; the key
 * shown is its primary key (a table without one is compared by whole
 * rows). A new derived table is one line here.
 */
static const char *const derived_tables[] = {
    "records",     "rheads",      "rcands", "rfields", "units",
    "enrollments", "revocations", "effect", "rattach",
};

#define NDERIVED ((int)(sizeof(derived_tables) / sizeof(derived_tables[0])))

/* The word index (rsearch through rdoc), compared by record: its rowids
 * are not a function of the log, what it holds per record is. A row of
 * either table without its pair shows with a null on the missing side. */
static const char search_sql[] =
    "SELECT d.record AS record, x.words AS words, x.units AS units FROM "
    "main.rdoc d LEFT JOIN main.rsearch x ON x.rowid=d.doc UNION ALL "
    "SELECT NULL, words, units FROM main.rsearch WHERE rowid NOT IN (SELECT "
    "doc FROM main.rdoc)";

/* At most this many differences are listed; all are counted. */
#define MAX_DIFFS 200

struct diffs {
    json_t *list;  /* [{"table","key","column","stored","expected"}] */
    json_t *units; /* [[entry id, unit or null]]: entries.unit repairs */
    int64_t total;
};

/* List one difference; stored and expected are taken (NULL: out of
 * memory). column NULL: the whole row is missing or extra. */
static enum ntm_err
add_diff(struct diffs *d, const char *table, const char *key,
         const char *column, json_t *stored, json_t *expected,
         struct ntm_error *err)
{
    json_t *o = NULL;
    int bad = !stored || !expected;
    d->total++;
    if (!bad && json_array_size(d->list) < MAX_DIFFS) {
        o = json_pack("{s:s, s:s, s:s?}", "table", table, "key", key, "column",
                      column);
        bad = !o || json_object_set(o, "stored", stored) ||
              json_object_set(o, "expected", expected) ||
              json_array_append(d->list, o);
    }
    json_decref(o);
    json_decref(stored);
    json_decref(expected);
    return bad ? ntm_error_set(err, NTM_ENOMEM, "out of memory") : NTM_OK;
}

/* Whether s[0..n) is well-formed UTF-8 (shortest forms, no surrogates). */
static int
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k = c < 0x80             ? 0
                   : (c & 0xe0) == 0xc0 ? 1
                   : (c & 0xf0) == 0xe0 ? 2
                   : (c & 0xf8) == 0xf0 ? 3
                                        : 4;
        if (k == 4 || i + k >= n + (k ? 0 : 1))
            return 0;
        unsigned cp = k == 0 ? c : c & (0x3f >> k);
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* Append a report line to list (0; -1 when memory ran out). A line may
 * quote a damaged file's text, or cut a character in two: its bytes that
 * are not UTF-8 are written \xNN, since jansson takes UTF-8 only, and a
 * line it refused read as running out of memory. */
static int
append_line(json_t *list, const char *line)
{
    size_t n = strlen(line);
    if (utf8_valid((const unsigned char *)line, n))
        return json_array_append_new(list, json_stringn(line, n));
    struct ntm_buf b = NTM_BUF_INIT;
    for (size_t i = 0; i < n;) {
        size_t k = ntm_text_char_len(line + i);
        if ((unsigned char)line[i] >= 0x80 &&
            (k < 2 || !utf8_valid((const unsigned char *)line + i, k)))
            k = 0; /* a byte that does not start a valid character */
        if (k) {
            ntm_buf_add(&b, line + i, k);
            i += k;
        } else {
            ntm_buf_addf(&b, "\\x%02x", (unsigned char)line[i]);
            i++;
        }
    }
    const char *t = ntm_buf_str(&b);
    int r = t ? json_array_append_new(list, json_string(t)) : -1;
    ntm_buf_release(&b);
    return r;
}

/* Column i of the current row as JSON (new; NULL when out of memory). */
static json_t *
col_json(sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(s, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(s, i));
    case SQLITE_NULL:
        return json_null();
    default: {
        const char *t = (const char *)sqlite3_column_text(s, i);
        if (!t)
            return NULL;
        size_t n = (size_t)sqlite3_column_bytes(s, i);
        if (!utf8_valid((const unsigned char *)t, n))
            return json_string("(not UTF-8 text)");
        return json_stringn(t, n);
    }
    }
}

/* The current row as {"column": value} (new; NULL: out of memory). */
static json_t *
row_json(sqlite3_stmt *s)
{
    json_t *o = json_object();
    for (int i = 0; o && i < sqlite3_column_count(s); i++) {
        const char *name = sqlite3_column_name(s, i);
        if (!name || json_object_set_new(o, name, col_json(s, i))) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

/* The key of row (an object) by the primary key columns pk, as
 * "col=value[, col=value]"; the whole row when pk is empty. */
static void
row_key(json_t *row, json_t *pk, char *out, size_t n)
{
    size_t i;
    json_t *c;
    out[0] = '\0';
    json_array_foreach (pk, i, c) {
        json_t *v = json_object_get(row, json_string_value(c));
        char val[160];
        if (json_is_string(v))
            snprintf(val, sizeof(val), "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(val, sizeof(val), "%lld",
                     (long long)json_integer_value(v));
        else
            snprintf(val, sizeof(val), "null");
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s=%s", i ? ", " : "",
                 json_string_value(c), val);
    }
    if (json_array_size(pk) == 0) {
        char *d = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, n, "%s", d ? d : "?");
        Ntm_json_free(d);
    }
}

/* The columns of one key that differ between the stored and the rebuilt
 * row. (A JSON column such as records.fields is one value here; the tool
 * shows which of its members differ.) */
static enum ntm_err
row_diffs(struct diffs *d, const char *table, const char *key, json_t *stored,
          json_t *expected, struct ntm_error *err)
{
    const char *col;
    json_t *ev;
    enum ntm_err rc = NTM_OK;
    int any = 0;
    json_object_foreach (expected, col, ev) {
        json_t *sv = json_object_get(stored, col);
        if (rc != NTM_OK || json_equal(sv, ev))
            continue;
        rc = add_diff(d, table, key, col, sv ? json_incref(sv) : json_null(),
                      json_incref(ev), err);
        any = 1;
    }
    if (rc == NTM_OK && !any) /* same as JSON, different in SQL */
        rc = add_diff(d, table, key, NULL, json_incref(stored),
                      json_incref(expected), err);
    return rc;
}

/* The primary key columns of table, in key order (new array). */
static enum ntm_err
table_pk(struct ntm_store *st, const char *table, json_t **pk,
         struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    *pk = json_array();
    if (!*pk)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    int r = sqlite3_prepare_v2(st->db,
                               "SELECT name FROM pragma_table_info(?1, 'main') "
                               "WHERE pk>0 ORDER BY pk",
                               -1, &s, NULL);
    enum ntm_err rc = NTM_OK;
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot read the table's columns");
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    while (rc == NTM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *v = col_json(s, 0);
        if (!v || json_array_append_new(*pk, v))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    if (rc == NTM_OK)
        rc = Ntm_step_ok(st, r, err, "cannot read the table's columns");
    sqlite3_finalize(s);
    return rc;
}

/* The rows of a SELECT as {key: row}, or, when pair is given, each row
 * compared with pair's row of the same key (removed from pair) or listed
 * as missing. */
static enum ntm_err
diff_rows(struct ntm_store *st, const char *table, const char *sql, json_t *pk,
          json_t *rows, json_t *pair, struct diffs *d, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    int r = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot compare the derived state");
    while (rc == NTM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *row = row_json(s);
        char key[256];
        if (!row) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            break;
        }
        row_key(row, pk, key, sizeof(key));
        if (!pair) {
            if (json_object_set_new(rows, key, row))
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            continue;
        }
        json_t *stored = json_object_get(pair, key);
        if (stored && json_array_size(pk)) {
            rc = row_diffs(d, table, key, stored, row, err);
            json_object_del(pair, key);
            json_decref(row);
        } else {
            rc = add_diff(d, table, key, NULL, json_null(), row, err);
        }
    }
    if (rc == NTM_OK)
        rc = Ntm_step_ok(st, r, err, "cannot compare the derived state");
    sqlite3_finalize(s);
    return rc;
}

/* Compare the rows of cur (a SELECT of the current rows, keyed by pk)
 * with the copy temp.ntm_v_<name> (what was stored before the rebuild),
 * both ways. */
static enum ntm_err
compare_rows(struct ntm_store *st, const char *name, const char *cur,
             json_t *pk, struct diffs *d, struct ntm_error *err)
{
    json_t *stored = json_object();
    struct ntm_buf sql = NTM_BUF_INIT;
    enum ntm_err rc =
        stored ? NTM_OK : ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (rc == NTM_OK) {
        if (ntm_buf_addf(&sql, "SELECT * FROM temp.\"ntm_v_%s\" EXCEPT %s",
                         name, cur) != NTM_OK)
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        else
            rc = diff_rows(st, name, sql.buf, pk, stored, NULL, d, err);
    }
    ntm_buf_reset(&sql);
    if (rc == NTM_OK) {
        if (ntm_buf_addf(&sql, "%s EXCEPT SELECT * FROM temp.\"ntm_v_%s\"", cur,
                         name) != NTM_OK)
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        else
            rc = diff_rows(st, name, sql.buf, pk, NULL, stored, d, err);
    }
    const char *key;
    json_t *row;
    json_object_foreach (stored, key, row) {
        if (rc != NTM_OK)
            break;
        rc = add_diff(d, name, key, NULL, json_incref(row), json_null(), err);
    }
    ntm_buf_release(&sql);
    json_decref(stored);
    return rc;
}

/* Compare one derived table with its copy temp.ntm_v_<table>. */
static enum ntm_err
compare_table(struct ntm_store *st, const char *table, struct diffs *d,
              struct ntm_error *err)
{
    json_t *pk = NULL;
    char cur[128];
    enum ntm_err rc = table_pk(st, table, &pk, err);
    snprintf(cur, sizeof(cur), "SELECT * FROM main.\"%s\"", table);
    if (rc == NTM_OK)
        rc = compare_rows(st, table, cur, pk, d, err);
    json_decref(pk);
    return rc;
}

/* Compare the word index with its copy temp.ntm_v_search. */
static enum ntm_err
compare_search(struct ntm_store *st, struct diffs *d, struct ntm_error *err)
{
    json_t *pk = json_pack("[s]", "record");
    enum ntm_err rc = pk ? compare_rows(st, "search", search_sql, pk, d, err)
                         : ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_decref(pk);
    return rc;
}

/*
 * Each author's head (authors.head_seq, head_id) is the entry with the
 * highest seq held; a row without entries, or an author without a row, is
 * wrong too. (partial is what scoped pulls said, not a function of the
 * log: not compared.)
 */
static const char heads_sql[] =
    "WITH h AS (SELECT author, max(seq) AS seq FROM entries GROUP BY author) "
    "SELECT h.author, a.author IS NOT NULL, a.head_seq, a.head_id, h.seq, "
    "(SELECT id FROM entries e WHERE e.author=h.author AND e.seq=h.seq) AS id "
    "FROM h LEFT JOIN authors a ON a.author=h.author "
    "WHERE a.head_seq IS NOT h.seq OR a.head_id IS NOT id "
    "UNION ALL SELECT a.author, 1, a.head_seq, a.head_id, NULL, NULL "
    "FROM authors a WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE "
    "e.author=a.author)";

static const char heads_fix_sql[] =
    "DELETE FROM authors WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE "
    "e.author=authors.author);"
    "INSERT INTO authors(author, head_seq, head_id, partial) "
    "SELECT e.author, e.seq, e.id, (SELECT count(*) FROM entries c WHERE "
    "c.author=e.author) < e.seq FROM entries e WHERE e.seq=(SELECT max(seq) "
    "FROM entries m WHERE m.author=e.author) "
    "ON CONFLICT(author) DO UPDATE SET head_seq=excluded.head_seq, "
    "head_id=excluded.head_id WHERE head_seq IS NOT excluded.head_seq OR "
    "head_id IS NOT excluded.head_id;";

static enum ntm_err
check_heads(struct ntm_store *st, int repair, struct diffs *d,
            struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    int64_t before = d->total;
    int r = sqlite3_prepare_v2(st->db, heads_sql, -1, &s, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot compare the authors' heads");
    while (rc == NTM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        char key[NTM_HEX_ID_LEN + 16];
        int oom = 0;
        snprintf(key, sizeof(key), "author=%s", row_text(s, 0, &oom));
        if (oom) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        } else if (!sqlite3_column_int(s, 1)) {
            rc = add_diff(d, "authors", key, NULL, json_null(),
                          json_pack("{s:o, s:o}", "head_seq", col_json(s, 4),
                                    "head_id", col_json(s, 5)),
                          err);
        } else if (sqlite3_column_type(s, 4) == SQLITE_NULL) {
            rc = add_diff(d, "authors", key, NULL,
                          json_pack("{s:o, s:o}", "head_seq", col_json(s, 2),
                                    "head_id", col_json(s, 3)),
                          json_null(), err);
        } else {
            for (int c = 0; rc == NTM_OK && c < 2; c++) {
                json_t *sv = col_json(s, 2 + c), *ev = col_json(s, 4 + c);
                if (sv && ev && json_equal(sv, ev)) {
                    json_decref(sv);
                    json_decref(ev);
                    continue;
                }
                rc = add_diff(d, "authors", key, c ? "head_id" : "head_seq", sv,
                              ev, err);
            }
        }
    }
    if (rc == NTM_OK)
        rc = Ntm_step_ok(st, r, err, "cannot compare the authors' heads");
    sqlite3_finalize(s);
    if (rc == NTM_OK && repair && d->total > before) {
        rc = Ntm_exec(st, heads_fix_sql, err);
        Ntm_log_chain_forget(st);
    }
    return rc;
}

/*
 * entries.unit of an entry of a record other than its create: the unit of
 * a create of the record held (the first in total order when it was
 * taken), NULL while none is held. The creates' own units are checked
 * against their bytes by the entry check.
 */
#define UNIT_WANT                                                              \
    "(SELECT c.unit FROM entries c WHERE c.record=e.record AND "               \
    "c.op='record.create' AND c.unit IS NOT NULL ORDER BY c.ts, c.lc, "        \
    "c.author, c.seq LIMIT 1)"
#define UNIT_WRONG                                                             \
    "e.record IS NOT NULL AND e.op<>'record.create' AND CASE WHEN e.unit IS "  \
    "NULL THEN " UNIT_WANT " IS NOT NULL ELSE NOT EXISTS (SELECT 1 FROM "      \
    "entries c WHERE c.record=e.record AND c.op='record.create' AND "          \
    "c.unit=e.unit) END"

static const char units_sql[] =
    "SELECT e.id, e.unit, " UNIT_WANT " FROM entries e WHERE " UNIT_WRONG;
static const char units_fix_sql[] =
    "UPDATE entries AS e SET unit=" UNIT_WANT " WHERE " UNIT_WRONG;

/* Set the creates' units found wrong by the entry check (d->units). */
static enum ntm_err
fix_create_units(struct ntm_store *st, json_t *units, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    size_t i;
    json_t *x;
    enum ntm_err rc = NTM_OK;
    if (!json_array_size(units))
        return NTM_OK;
    int r = sqlite3_prepare_v2(st->db, "UPDATE entries SET unit=?2 WHERE id=?1",
                               -1, &s, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot repair the unit index");
    json_array_foreach (units, i, x) {
        sqlite3_bind_text(s, 1, json_string_value(json_array_get(x, 0)), -1,
                          SQLITE_STATIC);
        const char *u = json_string_value(json_array_get(x, 1));
        if (u)
            sqlite3_bind_text(s, 2, u, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 2);
        r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE) {
            rc = Ntm_db_error(st, r, err, "cannot repair the unit index");
            break;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static enum ntm_err
check_units(struct ntm_store *st, int repair, struct diffs *d,
            struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    int64_t before = d->total;
    int r = sqlite3_prepare_v2(st->db, units_sql, -1, &s, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot check the unit index");
    while (rc == NTM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        char key[NTM_HEX_ID_LEN + 8];
        int oom = 0;
        snprintf(key, sizeof(key), "id=%s", row_text(s, 0, &oom));
        rc = oom ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                 : add_diff(d, "entries", key, "unit", col_json(s, 1),
                            col_json(s, 2), err);
    }
    if (rc == NTM_OK)
        rc = Ntm_step_ok(st, r, err, "cannot check the unit index");
    sqlite3_finalize(s);
    if (rc == NTM_OK && repair && d->total > before)
        rc = Ntm_exec(st, units_fix_sql, err);
    return rc;
}

/*
 * Compare the derived state with the log: inside a savepoint, copy each
 * derived table to TEMP, rebuild from the log, compare both ways with
 * EXCEPT, then roll the savepoint back (the store is left as it was) or,
 * with repair, keep the rebuilt state.
 */
static enum ntm_err
check_derived(struct ntm_store *st, int repair, struct diffs *d,
              struct ntm_error *err)
{
    char sql[256];
    enum ntm_err rc = Ntm_sp_begin(st, err);
    if (rc != NTM_OK)
        return rc;
    /* The creates' units first: the other entries' follow them. */
    rc = fix_create_units(st, d->units, err);
    if (rc == NTM_OK)
        rc = check_units(st, repair, d, err);
    if (rc == NTM_OK)
        rc = check_heads(st, repair, d, err);
    for (int i = 0; rc == NTM_OK && i < NDERIVED; i++) {
        snprintf(sql, sizeof(sql),
                 "DROP TABLE IF EXISTS temp.\"ntm_v_%s\"; CREATE TEMP TABLE "
                 "\"ntm_v_%s\" AS SELECT * FROM main.\"%s\"",
                 derived_tables[i], derived_tables[i], derived_tables[i]);
        rc = Ntm_exec(st, sql, err);
    }
    if (rc == NTM_OK)
        rc = Ntm_search_flush(st, err);
    if (rc == NTM_OK) {
        struct ntm_buf b = NTM_BUF_INIT;
        rc = ntm_buf_addf(&b,
                          "DROP TABLE IF EXISTS temp.ntm_v_search; CREATE TEMP "
                          "TABLE ntm_v_search AS %s",
                          search_sql) == NTM_OK
                 ? Ntm_exec(st, b.buf, err)
                 : ntm_error_set(err, NTM_ENOMEM, "out of memory");
        ntm_buf_release(&b);
    }
    if (rc == NTM_OK)
        rc = Ntm_rebuild_derived(st, err);
    for (int i = 0; rc == NTM_OK && i < NDERIVED; i++)
        rc = compare_table(st, derived_tables[i], d, err);
    if (rc == NTM_OK)
        rc = compare_search(st, d, err);
    for (int i = 0; rc == NTM_OK && repair && i < NDERIVED; i++) {
        snprintf(sql, sizeof(sql), "DROP TABLE temp.\"ntm_v_%s\"",
                 derived_tables[i]);
        rc = Ntm_exec(st, sql, err);
    }
    if (rc == NTM_OK && repair)
        rc = Ntm_exec(st, "DROP TABLE temp.ntm_v_search", err);
    enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK && repair, err);
    return rc != NTM_OK ? rc : rc2;
}

/* The bookkeeping in meta that the log cannot recompute must at least be
 * well formed: the clock (hlc.*) decimal, the pinned root key and the
 * home's place 64 lowercase hex. A damaged value is a line of list. */
static enum ntm_err
check_meta(struct ntm_store *st, json_t *list, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    int r = sqlite3_prepare_v2(
        st->db,
        "SELECT key FROM meta WHERE (key IN ('hlc.ts','hlc.lc') AND "
        "(value='' OR value GLOB '*[^0-9]*' OR length(value)>19)) OR (key "
        "IN ('root.key','home.place') AND (length(value)!=64 OR value GLOB "
        "'*[^0-9a-f]*')) ORDER BY key",
        -1, &s, NULL);
    while (r == SQLITE_OK && rc == NTM_OK &&
           (r = sqlite3_step(s)) == SQLITE_ROW) {
        char line[200];
        snprintf(line, sizeof(line), "meta '%s' is malformed",
                 (const char *)sqlite3_column_text(s, 0));
        if (append_line(list, line))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    sqlite3_finalize(s);
    if (rc != NTM_OK || r == SQLITE_DONE)
        return rc;
    if ((r & 0xff) == SQLITE_NOMEM)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    return NTM_OK; /* a file too damaged to read: integrity_check says it */
}

/* PRAGMA integrity_check: its lines other than "ok" go to list. A file
 * too damaged for the check to run is one line too. */
static enum ntm_err
check_integrity(struct ntm_store *st, json_t *list, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    int r =
        sqlite3_prepare_v2(st->db, "PRAGMA integrity_check(100)", -1, &s, NULL);
    while (r == SQLITE_OK && rc == NTM_OK &&
           (r = sqlite3_step(s)) == SQLITE_ROW) {
        int oom = 0;
        const char *t = row_text(s, 0, &oom);
        /* A page the check could not load for lack of memory is a line
         * of its report ("error code=7", SQLITE_NOMEM), not an error. */
        if (strstr(t, "error code=7") || strstr(t, "out of memory"))
            oom = 1;
        if (oom || (strcmp(t, "ok") != 0 && append_line(list, t)))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    if (r == SQLITE_ROW)
        r = SQLITE_DONE;
    sqlite3_finalize(s);
    if (rc == NTM_OK && (r == SQLITE_OK || r == SQLITE_DONE) &&
        (rc = check_meta(st, list, err)) != NTM_OK)
        return rc;
    if (rc == NTM_OK && (r == SQLITE_OK || r == SQLITE_DONE) &&
        !(st->flags & NTM_STORE_READONLY)) {
        /* integrity_check does not read inside the FTS5 word index: its
         * own check does (it writes nothing). After a failed write on this
         * handle, FTS5 first forgets what it cached (the failed write's
         * terms, its structure): the check would read that and call a
         * sound file malformed. */
        if ((rc = Ntm_search_flush(st, err)) != NTM_OK)
            return rc;
        Ntm_search_heal(st);
        r = sqlite3_exec(
            st->db, "INSERT INTO rsearch(rsearch) VALUES('integrity-check')",
            NULL, NULL, NULL);
        if ((r & 0xff) == SQLITE_NOMEM)
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        /* FTS5's check is an INSERT: on a read-only disk it cannot run,
         * as when the store is opened read-only. Not a damage. */
        if (r != SQLITE_OK && (r & 0xff) != SQLITE_READONLY) {
            char line[300];
            snprintf(line, sizeof(line), "the word index: %s",
                     sqlite3_errmsg(st->db));
            if (append_line(list, line))
                return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
        return NTM_OK;
    }
    if (rc != NTM_OK || r == SQLITE_OK || r == SQLITE_DONE)
        return rc;
    int prim = r & 0xff;
    if (prim != SQLITE_CORRUPT && prim != SQLITE_NOTADB && prim != SQLITE_IOERR)
        return Ntm_db_error(st, r, err, "cannot check the database");
    char line[300];
    snprintf(line, sizeof(line), "the check could not run: %s",
             sqlite3_errmsg(st->db));
    if (append_line(list, line))
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    return NTM_OK;
}

/*
 * The schema against the one this build makes: the text of each table and
 * index in sqlite_schema (integrity_check reads that text but cannot know
 * that a column type or an index's WHERE clause was changed). The
 * reference is a new in-memory store, so a migration added in db.c is
 * followed without a change here (with the digests' tables and triggers
 * when the home has them: made by a report, not by a migration).
 */
static const char schema_sql[] =
    "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM "
    "sqlite_schema ORDER BY type, name";

static enum ntm_err
check_schema(struct ntm_store *st, json_t *list, struct ntm_error *err)
{
    struct ntm_store *ref = NULL;
    sqlite3_stmt *a = NULL, *b = NULL;
    enum ntm_err rc = ntm_store_open(&ref, ":memory:", NTM_STORE_CREATE, err);
    if (rc != NTM_OK)
        return rc;
    /* a home that reports has the digests' tables and triggers too */
    sqlite3_stmt *q = NULL;
    int on = sqlite3_prepare_v2(st->db,
                                "SELECT 1 FROM sqlite_schema WHERE "
                                "name='rdigest'",
                                -1, &q, NULL) == SQLITE_OK &&
             sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    if (on && (rc = Ntm_db_digests_on(ref, err)) != NTM_OK) {
        ntm_store_close(ref);
        return rc;
    }
    int ra = sqlite3_prepare_v2(st->db, schema_sql, -1, &a, NULL);
    int rb = sqlite3_prepare_v2(ref->db, schema_sql, -1, &b, NULL);
    if (ra != SQLITE_OK || rb != SQLITE_OK) {
        rc = Ntm_db_error(ra != SQLITE_OK ? st : ref, ra != SQLITE_OK ? ra : rb,
                          err, "cannot read the schema");
        goto out;
    }
    for (;;) {
        ra = sqlite3_step(a);
        rb = sqlite3_step(b);
        if ((ra != SQLITE_ROW && ra != SQLITE_DONE) ||
            (rb != SQLITE_ROW && rb != SQLITE_DONE)) {
            rc = Ntm_db_error(ra != SQLITE_ROW && ra != SQLITE_DONE ? st : ref,
                              ra != SQLITE_ROW && ra != SQLITE_DONE ? ra : rb,
                              err, "cannot read the schema");
            break;
        }
        if (ra == SQLITE_DONE && rb == SQLITE_DONE)
            break;
        int oom = 0;
        const char *x = ra == SQLITE_ROW ? row_text(a, 0, &oom) : "(none)";
        const char *y = rb == SQLITE_ROW ? row_text(b, 0, &oom) : "(none)";
        if (oom) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            break;
        }
        if (strcmp(x, y) == 0)
            continue;
        char line[600];
        snprintf(line, sizeof(line),
                 "schema differs from this ntm's: %.250s (expected %.250s)", x,
                 y);
        if (append_line(list, line))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        break; /* one line says enough; the rest is out of step */
    }
out:
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    ntm_store_close(ref);
    return rc;
}

/* ------------------------------------------------------------------ */

/* The entries, one by one (see check_row), into the lists of rep. */
static enum ntm_err
verify_entries(struct ntm_store *st, json_t *invalid, json_t *flagged,
               struct diffs *d, int64_t *total, int64_t *valid,
               struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    char prev_author[NTM_HEX_ID_LEN + 1] = "";
    char prev_id[NTM_HEX_ID_LEN + 1] = "";
    int64_t prev_seq = 0;
    struct ahead *ah = ntm_calloc(1, sizeof(*ah));
    int r = sqlite3_prepare_v2(st->db, verify_sql, -1, &s, NULL);
    if (r != SQLITE_OK) {
        ntm_free(ah);
        return Ntm_db_error(st, r, err, "cannot read the log");
    }
    /* Without memory or a statement for the look-ahead, every signature
     * is verified in the walk. */
    if (ah &&
        sqlite3_prepare_v2(st->db, ahead_sql, -1, &ah->s, NULL) != SQLITE_OK) {
        sqlite3_finalize(ah->s);
        ah->s = NULL;
    }
    while (rc == NTM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        char msg[256] = "", unit[128];
        int unit_known = 0;
        enum ntm_err crc = NTM_OK;
        const struct ahead_row *pre = ah ? ahead_next(ah) : NULL;
        const char *bad =
            check_row(s, pre, prev_author, prev_seq, prev_id, msg, sizeof(msg),
                      unit, sizeof(unit), &unit_known, &crc);
        if (crc != NTM_OK) {
            rc = ntm_error_set(err, crc, "out of memory");
            break;
        }
        if (unit_known == 2) {
            int o2 = 0;
            const char *rec = row_text(s, 15, &o2);
            if (o2 || !rec) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                break;
            }
            if ((rc = bound_create_unit(st, rec, unit, sizeof(unit), err)) !=
                NTM_OK)
                break;
            unit_known = 1;
        }
        int oom = 0;
        const char *id = row_text(s, 0, &oom);
        ++*total;
        if (bad) {
            rc = add_problem(invalid, id, bad, msg, err);
        } else {
            ++*valid;
            enum ntm_err code = (enum ntm_err)sqlite3_column_int(s, 5);
            const char *why = row_text(s, 6, &oom);
            if (oom) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            } else if (code != NTM_OK) {
                const char *w =
                    code == NTM_ENOENT ? "waiting" : ntm_err_wire_code(code);
                rc = add_problem(flagged, id, w ? w : "invalid", why, err);
            } else if (sqlite3_column_int(s, 7)) {
                /* Clock flags (a bit set, store_int.h): each listed. */
                static const struct {
                    int bit;
                    const char *code, *why;
                } clk[] = {
                    {NTM_CLOCK_AHEAD, "clock_ahead",
                     "ts more than 24 hours ahead of this replica"},
                    {NTM_CLOCK_BACK, "clock_backwards",
                     "ts before the author's previous entry's"},
                    {NTM_CLOCK_EARLY, "clock_before_plan",
                     "ts before 2015, far before the plan period"},
                };
                int bits = sqlite3_column_int(s, 7);
                for (size_t c = 0; rc == NTM_OK && c < 3; c++)
                    if (bits & clk[c].bit)
                        rc = add_problem(flagged, id, clk[c].code, clk[c].why,
                                         err);
            }
            if (rc == NTM_OK && unit_known &&
                !same_text(s, 16, unit[0] ? unit : NULL)) {
                char key[NTM_HEX_ID_LEN + 8];
                snprintf(key, sizeof(key), "id=%s", id);
                json_t *want = unit[0] ? json_string(unit) : json_null();
                rc = add_diff(d, "entries", key, "unit", col_json(s, 16),
                              json_incref(want), err);
                if (rc == NTM_OK && json_array_append_new(
                                        d->units, json_pack("[s,O]", id, want)))
                    rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                json_decref(want);
            }
        }
        snprintf(prev_author, sizeof(prev_author), "%s", row_text(s, 9, &oom));
        snprintf(prev_id, sizeof(prev_id), "%s", id);
        prev_seq = sqlite3_column_int64(s, 10);
    }
    if (rc == NTM_OK && r != SQLITE_DONE)
        rc = Ntm_db_error(st, r, err, "cannot read the log");
    sqlite3_finalize(s);
    if (ah)
        ahead_close(ah);
    ntm_free(ah);
    return rc;
}

enum ntm_err
ntm_store_verify_ex(struct ntm_store *st, unsigned flags, json_t **out,
                    struct ntm_error *err)
{
    *out = NULL;
    json_t *invalid = json_array(), *flagged = json_array(),
           *forks = json_array(), *integrity = json_array();
    json_t *reissued = NULL, *stranded = NULL;
    struct diffs d = {json_array(), json_array(), 0};
    enum ntm_err rc = NTM_OK;
    int64_t total = 0, valid = 0;
    int derived_checked = 0, rebuilt = 0;

    if (!invalid || !flagged || !forks || !integrity || !d.list || !d.units) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = check_integrity(st, integrity, err)) != NTM_OK ||
        (!json_array_size(integrity) &&
         (rc = check_schema(st, integrity, err)) != NTM_OK))
        goto out;
    rc = verify_entries(st, invalid, flagged, &d, &total, &valid, err);
    if (rc == NTM_OK)
        rc = verify_forks(st, forks, err);
    if (rc != NTM_OK && rc != NTM_ENOMEM && json_array_size(integrity)) {
        /* a damaged file: what was found is the report */
        char line[NTM_ERROR_SIZE + 32];
        snprintf(line, sizeof(line), "the log could not be read: %s",
                 err ? err->msg : ntm_strerror(rc));
        rc = append_line(integrity, line)
                 ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                 : NTM_OK;
    } else if (rc == NTM_OK && !json_array_size(integrity) &&
               !(st->flags & NTM_STORE_READONLY)) {
        /* A damaged file or an altered log is not rebuilt from. */
        int repair = (flags & NTM_VERIFY_REBUILD) && !json_array_size(invalid);
        rc = check_derived(st, repair, &d, err);
        derived_checked = rc == NTM_OK;
        if (rc == NTM_EREADONLY) /* a read-only file or disk */
            rc = NTM_OK;
        rebuilt = derived_checked && repair;
    }
    if (rc != NTM_OK)
        goto out;
    if (!json_array_size(integrity))
        rc = verify_reissued(st, &reissued, &stranded, err);
    else if (!(reissued = json_array()) || !(stranded = json_array()))
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (rc == NTM_OK)
        rc = mark_resolved(forks, reissued, err);
    if (rc != NTM_OK)
        goto out;
    *out = json_pack(
        "{s:I, s:I, s:O, s:O, s:O, s:O, s:O, s:I, s:b, s:b, s:O, s:O}",
        "entries", (json_int_t)total, "valid", (json_int_t)valid, "invalid",
        invalid, "flagged", flagged, "forks", forks, "integrity", integrity,
        "derived", d.list, "derived_total", (json_int_t)d.total,
        "derived_checked", derived_checked, "rebuilt", rebuilt, "reissued",
        reissued, "stranded", stranded);
    if (!*out)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
out:
    json_decref(reissued);
    json_decref(stranded);
    json_decref(invalid);
    json_decref(flagged);
    json_decref(forks);
    json_decref(integrity);
    json_decref(d.list);
    json_decref(d.units);
    return rc;
}

enum ntm_err
ntm_store_verify(struct ntm_store *st, json_t **out, struct ntm_error *err)
{
    return ntm_store_verify_ex(st, 0, out, err);
}
