/* SPDX-License-Identifier: MIT */
/*
 * query.c - reading the derived state: records (SPEC.md section 8 JSON
 * shapes), one record with its history, conflicts, devices, units made by
 * unit.create, and the canonical state dump used by convergence tests.
 *
 * Read-only. Depends on util/, store internals, jansson, SQLite.
 */
#include "store_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* heads (8) and conflicts (13) are filled in by record_row. */
#define RECORD_COLS                                                            \
    "r.id, r.kind, r.unit, r.org, r.fields, r.deleted, r.conflict, "           \
    "r.review, NULL, r.reviews, r.author, r.c_ts, r.updated_ts, NULL"

static json_t *
col_json(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    json_t *v = t ? json_loads(t, 0, NULL) : NULL;
    return v ? v : json_null();
}

static json_t *
record_cols(sqlite3_stmt *s)
{
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:s, s:o, s:o, s:s, s:I, s:I, "
        "s:o}",
        "id", (const char *)sqlite3_column_text(s, 0), "kind",
        (const char *)sqlite3_column_text(s, 1), "unit",
        (const char *)sqlite3_column_text(s, 2), "org",
        (const char *)sqlite3_column_text(s, 3), "fields", col_json(s, 4),
        "deleted", sqlite3_column_int(s, 5), "conflict",
        sqlite3_column_int(s, 6), "review",
        (const char *)sqlite3_column_text(s, 7), "heads", col_json(s, 8),
        "reviews", col_json(s, 9), "author",
        (const char *)sqlite3_column_text(s, 10), "created_ts",
        (json_int_t)sqlite3_column_int64(s, 11), "updated_ts",
        (json_int_t)sqlite3_column_int64(s, 12), "conflicts",
        sqlite3_column_type(s, 13) == SQLITE_NULL ? json_object()
                                                  : col_json(s, 13));
}

/* A record's JSON from a row of RECORD_COLS, with its heads and
 * conflicts; NULL when out of memory or the store failed. */
static json_t *
record_row(struct ntm_store *st, sqlite3_stmt *s)
{
    json_t *rec = record_cols(s);
    json_t *heads = NULL, *conflicts = NULL;
    const char *id = (const char *)sqlite3_column_text(s, 0);
    if (!rec || Ntm_record_heads(st, id, &heads, NULL) != NTM_OK ||
        Ntm_record_conflicts(st, id, &conflicts, NULL) != NTM_OK ||
        json_object_set_new(rec, "heads", heads) ||
        json_object_set_new(rec, "conflicts", conflicts)) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

/* Candidates ranked from the index alone for a page of `want` records,
 * the first round: those ranked as the want-th or better. Enough when the
 * only filters are those every record nearly always passes (deleted
 * records; the unit is part of the index's query); otherwise four times
 * more and 256, so that a second, larger round is rarely needed. */
static int64_t
first_candidates(const struct ntm_record_filter *f, size_t want)
{
    if (want > (size_t)INT64_MAX / 8)
        return -1;
    if (!f->org && !f->task && !f->kind && !f->state && !f->conflicts_only)
        return (int64_t)want;
    return (int64_t)want * 4 + 256;
}

/*
 * Ntm_search_parse with the unit names the caller gives (the plan's tree)
 * and those of the units created in this store (hamlets): a unit's name
 * is matched when searching, never kept in a record's search text, since
 * a unit is renamed and its name may arrive after its records (state.c).
 */
static enum ntm_err
search_parse(struct ntm_store *st, struct Ntm_search *q,
             const struct ntm_record_filter *f, struct ntm_error *err)
{
    size_t ncaller = 0, n = 0, k;
    json_t *rows = json_array();
    struct ntm_unit_name *all = NULL;
    enum ntm_err rc = NTM_OK;
    int r;
    sqlite3_stmt *s = Ntm_prepare(st, "SELECT code, name FROM units", err);
    if (!s) {
        json_decref(rows);
        return err ? err->code : NTM_EDB;
    }
    while (rows && (r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(s, 0);
        const char *nm = (const char *)sqlite3_column_text(s, 1);
        if (c && nm &&
            json_array_append_new(rows, json_pack("[ss]", c, nm)) != 0) {
            json_decref(rows);
            rows = NULL;
        }
    }
    if (!rows)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    else
        rc = Ntm_step_ok(st, r, err, "cannot read units");
    sqlite3_reset(s);
    while (rc == NTM_OK && f->text_names && f->text_names[ncaller].code)
        ncaller++;
    if (rc == NTM_OK &&
        !(all = ntm_calloc(ncaller + json_array_size(rows) + 1, sizeof(*all))))
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (rc == NTM_OK) {
        for (k = 0; k < ncaller; k++)
            all[n++] = f->text_names[k];
        for (k = 0; k < json_array_size(rows); k++) {
            json_t *row = json_array_get(rows, k);
            all[n].code = json_string_value(json_array_get(row, 0));
            all[n++].name = json_string_value(json_array_get(row, 1));
        }
        rc = Ntm_search_parse(q, f->text, all, err);
    }
    ntm_free(all);
    json_decref(rows);
    return rc;
}

/* A record's JSON from a row of RECORD_COLS; brief: without its heads
 * and conflicts (two look-ups fewer per record). */
static json_t *
record_any(struct ntm_store *st, sqlite3_stmt *s, int brief)
{
    if (!brief)
        return record_row(st, s);
    json_t *rec = record_cols(s);
    if (rec && json_object_set_new(rec, "heads", json_array())) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

enum ntm_err
ntm_store_records_each(struct ntm_store *st, const struct ntm_record_filter *f,
                       unsigned flags, ntm_record_cb cb, void *ud,
                       struct ntm_error *err)
{
    struct ntm_record_filter none = {0};
    if (!f)
        f = &none;
    struct ntm_buf sql = NTM_BUF_INIT;
    struct Ntm_search q = {0};
    char *match = NULL, *mask = NULL;
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    int brief = (flags & NTM_RECORDS_BRIEF) != 0;
    json_t *arr = NULL; /* a page of a search, held until it is full */
    size_t want = f->limit ? f->offset + f->limit : 0;
    if (want && want < f->limit) /* overflow: no bound */
        want = 0;

    int small = 0; /* the page cache made small for this search */
    if (f->text) {
        if ((rc = search_parse(st, &q, f, err)) != NTM_OK)
            goto out;
        if (q.n == 0) /* no word: nothing can match */
            goto out;
        /* a server's store builds its index on its first search */
        if ((rc = Ntm_state_search_build(st, err)) != NTM_OK)
            goto out;
        /* this transaction's own writes to the index, if any, first */
        if ((rc = Ntm_search_flush(st, err)) != NTM_OK)
            goto out;
        if (!(match = Ntm_search_fts(&q, f->unit, &mask)) ||
            !(arr = json_array())) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
        small = Ntm_cache_small(st, 1);
        /* Ranked from the index alone (bm25 over the words, the unit
         * column weighing nothing: rank.c): every match and its score,
         * kept aside. The candidates: those whose score is the
         * ?9-th best's or better, ties included (all when ?9 is -1 or
         * more than there are); only their records are read, filtered,
         * ordered by rank, then by date or period, newest first. No
         * record outside them can come before one of them, so when they
         * fill the page it is the page of the whole ordering. Column 14:
         * how many matches there are, to know whether a larger round can
         * add any. */
        ntm_buf_adds(&sql, "WITH c AS MATERIALIZED (SELECT rowid AS doc, "
                           "ntm_rank(rsearch, ?10) AS score FROM rsearch "
                           "WHERE rsearch MATCH ?6), t AS (SELECT (SELECT "
                           "score FROM c ORDER BY score LIMIT 1 OFFSET ?9 - "
                           "1) AS top) "
                           "SELECT " RECORD_COLS ", (SELECT count(*) FROM c) "
                           "FROM c JOIN t ON t.top IS NULL OR ?9 < 0 OR "
                           "c.score <= t.top JOIN rdoc d ON d.doc=c.doc JOIN "
                           "records r ON r.id=d.record WHERE 1");
    } else {
        /* In the order of the index records_order: rows stream as they
         * are read, without a sort of the whole table. */
        ntm_buf_adds(&sql, "SELECT " RECORD_COLS ", 0 FROM records r "
                           "INDEXED BY records_order WHERE 1");
    }
    if (!f->include_deleted)
        ntm_buf_adds(&sql, " AND r.deleted=0");
    if (f->unit)
        ntm_buf_adds(&sql, " AND (r.unit=?1 OR substr(r.unit, 1, "
                           "length(?1) + 1) = ?1 || '.')");
    if (f->org)
        ntm_buf_adds(&sql, " AND r.org=?2");
    if (f->task)
        ntm_buf_adds(&sql, " AND r.task=?3");
    if (f->kind)
        ntm_buf_adds(&sql, " AND r.kind=?4");
    if (f->state)
        ntm_buf_adds(&sql, " AND r.review=?5");
    if (f->conflicts_only)
        ntm_buf_adds(&sql, " AND r.conflict=1");
    if (f->text)
        ntm_buf_adds(&sql, " ORDER BY c.score, "
                           "coalesce(json_extract(r.fields, '$.date'), "
                           "json_extract(r.fields, '$.period'), '') DESC, "
                           "r.c_ts DESC, r.id");
    else
        ntm_buf_adds(&sql, " ORDER BY r.c_ts, r.author, r.id");
    ntm_buf_adds(&sql, " LIMIT ?7 OFFSET ?8");
    if (!sql.buf) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    int r = sqlite3_prepare_v2(st->db, sql.buf, -1, &s, NULL);
    if (r != SQLITE_OK) {
        rc = Ntm_db_error(st, r, err, "cannot list records");
        goto out;
    }
    if (f->unit)
        sqlite3_bind_text(s, 1, f->unit, -1, SQLITE_STATIC);
    if (f->org)
        sqlite3_bind_text(s, 2, f->org, -1, SQLITE_STATIC);
    if (f->task)
        sqlite3_bind_text(s, 3, f->task, -1, SQLITE_STATIC);
    if (f->kind)
        sqlite3_bind_text(s, 4, f->kind, -1, SQLITE_STATIC);
    if (f->state)
        sqlite3_bind_text(s, 5, f->state, -1, SQLITE_STATIC);
    if (match)
        sqlite3_bind_text(s, 6, match, -1, SQLITE_STATIC);
    if (mask)
        sqlite3_bind_text(s, 10, mask, -1, SQLITE_STATIC);
    sqlite3_bind_int64(
        s, 7, f->limit && f->limit < INT64_MAX ? (int64_t)f->limit : -1);
    sqlite3_bind_int64(s, 8,
                       f->offset < INT64_MAX ? (int64_t)f->offset : INT64_MAX);
    /* Rounds of candidates, 16 times more each, until the page is full
     * or every match was a candidate. A search's page is held (it is
     * bounded by the limit) and handed over once complete; a listing
     * streams. */
    for (int64_t k = want ? first_candidates(f, want) : -1;;) {
        int64_t ncand = 0;
        sqlite3_bind_int64(s, 9, k);
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            ncand = sqlite3_column_int64(s, 14);
            json_t *row = record_any(st, s, brief);
            if (!row || (arr && json_array_append_new(arr, row) != 0)) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                goto out;
            }
            if (!arr) {
                int stop = cb(ud, row);
                json_decref(row);
                if (stop)
                    goto out;
            }
        }
        if (r != SQLITE_DONE) {
            rc = Ntm_db_error(st, r, err, "cannot list records");
            goto out;
        }
        if (!f->text || k < 0 || json_array_size(arr) >= f->limit ||
            (json_array_size(arr) > 0 && ncand <= k))
            break;
        /* A short page: fewer filtered records than asked among the
         * candidates: 16 times more. None at all: the matches' count is
         * not known (no row said it), and the filters kept none of the
         * best: every match, once. */
        k = json_array_size(arr) == 0 || k > INT64_MAX / 16 ? -1 : k * 16;
        sqlite3_reset(s);
        json_array_clear(arr);
    }
    size_t i;
    json_t *row;
    json_array_foreach (arr, i, row)
        if (cb(ud, row))
            break;
out:
    sqlite3_finalize(s);
    if (small)
        Ntm_cache_small(st, 0);
    json_decref(arr);
    ntm_free(match);
    ntm_free(mask);
    Ntm_search_release(&q);
    ntm_buf_release(&sql);
    return rc;
}

struct append {
    json_t *arr;
    int nomem;
};

static int
append_cb(void *ud, json_t *rec)
{
    struct append *a = ud;
    return a->nomem = json_array_append(a->arr, rec) != 0;
}

enum ntm_err
ntm_store_records(struct ntm_store *st, const struct ntm_record_filter *f,
                  json_t **out, struct ntm_error *err)
{
    struct append a = {json_array(), 0};
    *out = NULL;
    if (!a.arr)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = ntm_store_records_each(st, f, 0, append_cb, &a, err);
    if (rc == NTM_OK && a.nomem)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (rc != NTM_OK) {
        json_decref(a.arr);
        return rc;
    }
    *out = a.arr;
    return NTM_OK;
}

/* Whether the waiting record rec passes f (text: q, parsed). */
static int
waiting_passes(const struct ntm_record_filter *f, const struct Ntm_search *q,
               json_t *rec)
{
    json_t *fields = json_object_get(rec, "fields");
    const char *unit = json_string_value(json_object_get(rec, "unit"));
    const char *org = json_string_value(json_object_get(rec, "org"));
    const char *kind = json_string_value(json_object_get(rec, "kind"));
    const char *task = json_string_value(json_object_get(fields, "task"));
    if (!unit || !org || !kind)
        return 0;
    if ((f->state && strcmp(f->state, "submitted") != 0) || f->conflicts_only)
        return 0;
    if (!f->include_deleted && json_is_true(json_object_get(rec, "deleted")))
        return 0;
    if (f->unit && !(strcmp(unit, f->unit) == 0 ||
                     (strncmp(unit, f->unit, strlen(f->unit)) == 0 &&
                      unit[strlen(f->unit)] == '.')))
        return 0;
    if ((f->org && strcmp(org, f->org) != 0) ||
        (f->kind && strcmp(kind, f->kind) != 0) ||
        (f->task && (!task || strcmp(task, f->task) != 0)))
        return 0;
    if (!f->text)
        return 1;
    /* The text the index would hold: title, note, task, unit code. */
    struct ntm_buf t = NTM_BUF_INIT;
    static const char *const parts[] = {"title", "note", "task"};
    for (size_t k = 0; k < 3; k++) {
        const char *v = json_string_value(json_object_get(fields, parts[k]));
        if (v)
            ntm_buf_addf(&t, "%s\n", v);
    }
    ntm_buf_addf(&t, "%s\n", unit);
    int hit = t.buf && Ntm_search_matches(q, t.buf, unit);
    ntm_buf_release(&t);
    return hit;
}

/* Apply the author's own later entry (bytes) of the waiting record rec. */
static void
waiting_apply(json_t *rec, const void *bytes, int n)
{
    json_t *e = json_loadb(bytes, (size_t)n, 0, NULL);
    const char *op = json_string_value(json_object_get(e, "op"));
    json_t *body = json_object_get(e, "body");
    json_t *ts = json_object_get(e, "ts");
    if (op && strcmp(op, "record.update") == 0)
        json_object_update(json_object_get(rec, "fields"),
                           json_object_get(body, "set"));
    else if (op && strcmp(op, "record.delete") == 0)
        json_object_set_new(rec, "deleted", json_true());
    if (op && strcmp(op, "review") != 0 && json_is_integer(ts))
        json_object_set(rec, "updated_ts", ts);
    json_decref(e);
}

enum ntm_err
ntm_store_records_waiting(struct ntm_store *st, const char *author,
                          const struct ntm_record_filter *f, json_t **out,
                          struct ntm_error *err)
{
    struct ntm_record_filter none = {0};
    struct Ntm_search q = {0};
    if (!f)
        f = &none;
    *out = NULL;
    enum ntm_err rc = NTM_OK;
    if (f->text && (rc = search_parse(st, &q, f, err)) != NTM_OK)
        return rc;
    json_t *creates = NULL, *arr = json_array();
    /* The author's creates without effect for want of an enrollment,
     * whose record has no state (no create of it took effect). */
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT e.gseq, e.bytes FROM entries e JOIN effect x ON "
        "x.gseq=e.gseq WHERE e.author=?1 AND e.op='record.create' AND "
        "x.code=?2 AND NOT EXISTS (SELECT 1 FROM records r WHERE "
        "r.id=e.record) ORDER BY e.seq",
        err);
    if (!s || !arr) {
        rc = s ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
               : (err ? err->code : NTM_EDB);
        goto out;
    }
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)NTM_EUNKNOWNAUTHOR);
    if ((rc = Ntm_collect(st, s, 1, &creates, err)) != NTM_OK)
        goto out;
    size_t i;
    json_t *pair;
    json_array_foreach (creates, i, pair) {
        const char *bytes = json_string_value(json_array_get(pair, 1));
        json_t *e = bytes ? json_loads(bytes, 0, NULL) : NULL;
        json_t *body = json_object_get(e, "body");
        json_t *fields = json_object_get(body, "fields");
        const char *id = json_string_value(json_object_get(body, "id"));
        json_t *rec =
            id && json_is_object(fields)
                ? json_pack("{s:s, s:O, s:O, s:O, s:o, s:b, s:b, s:s, s:[], "
                            "s:[], s:O, s:O, s:O, s:{}, s:b}",
                            "id", id, "kind", json_object_get(body, "kind"),
                            "unit", json_object_get(body, "unit"), "org",
                            json_object_get(body, "org"), "fields",
                            json_deep_copy(fields), "deleted", 0, "conflict", 0,
                            "review", "submitted", "heads", "reviews", "author",
                            json_object_get(e, "author"), "created_ts",
                            json_object_get(e, "ts"), "updated_ts",
                            json_object_get(e, "ts"), "conflicts", "waiting", 1)
                : NULL;
        json_decref(e);
        if (!rec)
            continue; /* not a create this store would judge: skip it */
        id = json_string_value(json_object_get(rec, "id")); /* e is gone */
        /* The author's own later edits, in its chain's order. */
        sqlite3_stmt *u = Ntm_prepare(
            st,
            "SELECT bytes FROM entries WHERE record=?1 AND author=?2 AND "
            "op<>'record.create' ORDER BY seq",
            err);
        if (!u) {
            json_decref(rec);
            rc = err ? err->code : NTM_EDB;
            goto out;
        }
        sqlite3_bind_text(u, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(u, 2, author, -1, SQLITE_STATIC);
        int x;
        while ((x = sqlite3_step(u)) == SQLITE_ROW)
            waiting_apply(rec, sqlite3_column_blob(u, 0),
                          sqlite3_column_bytes(u, 0));
        sqlite3_reset(u);
        if ((rc = Ntm_step_ok(st, x, err, "cannot read the log")) != NTM_OK) {
            json_decref(rec);
            goto out;
        }
        if (!waiting_passes(f, &q, rec)) {
            json_decref(rec);
            continue;
        }
        if (json_array_append_new(arr, rec)) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = arr;
    arr = NULL;
out:
    json_decref(arr);
    json_decref(creates);
    Ntm_search_release(&q);
    return rc;
}

static const char *
effect_name(enum ntm_err code)
{
    if (code == NTM_OK)
        return "valid";
    if (code == NTM_ENOENT)
        return "waiting";
    const char *w = ntm_err_wire_code(code);
    return w ? w : "invalid";
}

enum ntm_err
ntm_store_record(struct ntm_store *st, const char *id, json_t **out,
                 struct ntm_error *err)
{
    *out = NULL;
    if (!id || strlen(id) < 6 || strlen(id) > NTM_RECORD_ID_LEN)
        return ntm_error_set(err, NTM_EINVAL,
                             "record id '%s' must be 6 to 32 hex characters",
                             id ? id : "");
    /* a prefix of hex digits: the range [prefix, prefix "g") of the
     * index on id holds every id it starts */
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT " RECORD_COLS
                                  " FROM records r WHERE r.id >= ?1 AND "
                                  "r.id < ?1 || 'g' AND substr(r.id, 1, "
                                  "length(?1)) = ?1 LIMIT 2",
                                  err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    json_t *rec = NULL;
    int n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (n++ == 0)
            rec = record_row(st, s);
    }
    sqlite3_reset(s);
    if (n == 0)
        return ntm_error_set(err, NTM_ENOENT,
                             N_("no record %s on this replica - check the id "
                                "with 'ntm list'"),
                             id);
    if (n > 1) {
        json_decref(rec);
        return ntm_error_set(err, NTM_EINVAL,
                             "record id prefix '%s' is ambiguous - give more "
                             "characters",
                             id);
    }
    if (!rec)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_t *hist = json_array();
    s = Ntm_prepare(st,
                    "SELECT e.id, e.author, e.seq, e.ts, e.lc, e.op, "
                    "coalesce(f.code, 0), f.message, e.bytes, e.clock_ahead "
                    "FROM entries e LEFT JOIN effect f ON f.gseq=e.gseq WHERE "
                    "e.record=?1 ORDER BY e.ts, e.lc, e.author, e.seq",
                    err);
    if (!s || !hist) {
        json_decref(rec);
        json_decref(hist);
        return err ? err->code : NTM_EDB;
    }
    sqlite3_bind_text(s, 1, json_string_value(json_object_get(rec, "id")), -1,
                      SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        enum ntm_err code = (enum ntm_err)sqlite3_column_int(s, 6);
        json_t *body = NULL;
        json_t *e = json_loadb(sqlite3_column_blob(s, 8),
                               (size_t)sqlite3_column_bytes(s, 8), 0, NULL);
        if (e)
            body = json_incref(json_object_get(e, "body"));
        json_decref(e);
        json_t *h = json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:s, s:b, s:s, s:o, s:b}", "entry",
            (const char *)sqlite3_column_text(s, 0), "author",
            (const char *)sqlite3_column_text(s, 1), "seq",
            (json_int_t)sqlite3_column_int64(s, 2), "ts",
            (json_int_t)sqlite3_column_int64(s, 3), "lc",
            (json_int_t)sqlite3_column_int64(s, 4), "op",
            (const char *)sqlite3_column_text(s, 5), "valid", code == NTM_OK,
            "status", effect_name(code), "body", body ? body : json_null(),
            "clock_ahead", sqlite3_column_int(s, 9) & 1);
        int clock = sqlite3_column_int(s, 9);
        static const char *const clock_names[] = {"ahead", "backwards",
                                                  "before_plan"};
        json_t *cl = clock ? json_array() : NULL;
        for (int b = 0; cl && b < 3; b++)
            if (clock & (1 << b))
                json_array_append_new(cl, json_string(clock_names[b]));
        if (h && cl)
            json_object_set_new(h, "clock", cl);
        else
            json_decref(cl);
        if (h && sqlite3_column_text(s, 7))
            json_object_set_new(
                h, "reason",
                json_string((const char *)sqlite3_column_text(s, 7)));
        json_array_append_new(hist, h);
    }
    sqlite3_reset(s);
    json_object_set_new(rec, "history", hist);
    *out = rec;
    return NTM_OK;
}

enum ntm_err
ntm_store_conflicts(struct ntm_store *st, json_t **out, struct ntm_error *err)
{
    *out = NULL;
    json_t *arr = json_array();
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT id, unit FROM records WHERE conflict=1 AND deleted=0 ORDER "
        "BY c_ts, author, id",
        err);
    if (!s || !arr) {
        json_decref(arr);
        return err ? err->code : NTM_EDB;
    }
    /* Collect first: the conflicts are read through the same cache. */
    int x = SQLITE_DONE, bad = 0;
    while (!bad && (x = sqlite3_step(s)) == SQLITE_ROW)
        bad = json_array_append_new(
            arr, json_pack("{s:s, s:s}", "id",
                           (const char *)sqlite3_column_text(s, 0), "unit",
                           (const char *)sqlite3_column_text(s, 1)));
    sqlite3_reset(s);
    enum ntm_err rc = bad ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                          : Ntm_step_ok(st, x, err, "cannot list conflicts");
    size_t i;
    json_t *o;
    json_array_foreach (arr, i, o) {
        json_t *c = NULL;
        if (rc == NTM_OK)
            rc = Ntm_record_conflicts(
                st, json_string_value(json_object_get(o, "id")), &c, err);
        if (rc == NTM_OK && json_object_set_new(o, "fields", c))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    if (rc != NTM_OK) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return NTM_OK;
}

enum ntm_err
ntm_store_devices(struct ntm_store *st, json_t **out, struct ntm_error *err)
{
    *out = NULL;
    json_t *arr = json_array();
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT n.key, n.role, n.scope, n.name, n.org, n.from_seq, "
        "(SELECT min(after_seq) FROM revocations v WHERE v.key=n.key), "
        "coalesce((SELECT head_seq FROM authors a WHERE a.author=n.key), 0) "
        "FROM enrollments n ORDER BY n.key, n.from_seq",
        err);
    if (!s || !arr) {
        json_decref(arr);
        return err ? err->code : NTM_EDB;
    }
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:I}", "key",
                           (const char *)sqlite3_column_text(s, 0), "role",
                           (const char *)sqlite3_column_text(s, 1), "scope",
                           (const char *)sqlite3_column_text(s, 2), "name",
                           sqlite3_column_text(s, 3)
                               ? (const char *)sqlite3_column_text(s, 3)
                               : "",
                           "org",
                           sqlite3_column_text(s, 4)
                               ? (const char *)sqlite3_column_text(s, 4)
                               : "",
                           "from_seq", (json_int_t)sqlite3_column_int64(s, 5),
                           "revoked_after",
                           sqlite3_column_type(s, 6) == SQLITE_NULL
                               ? json_null()
                               : json_integer(sqlite3_column_int64(s, 6)),
                           "head_seq", (json_int_t)sqlite3_column_int64(s, 7)));
    sqlite3_reset(s);
    *out = arr;
    return NTM_OK;
}

enum ntm_err
ntm_store_units_created(struct ntm_store *st, json_t **out,
                        struct ntm_error *err)
{
    *out = NULL;
    json_t *arr = json_array();
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT code, name, level, entry, heads, "
                                  "conflicts FROM units ORDER BY code",
                                  err);
    if (!s || !arr) {
        json_decref(arr);
        return err ? err->code : NTM_EDB;
    }
    while (sqlite3_step(s) == SQLITE_ROW)
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:o}", "code",
                      (const char *)sqlite3_column_text(s, 0), "name",
                      (const char *)sqlite3_column_text(s, 1), "level",
                      (const char *)sqlite3_column_text(s, 2), "entry",
                      (const char *)sqlite3_column_text(s, 3), "heads",
                      col_json(s, 4), "conflict",
                      sqlite3_column_type(s, 5) != SQLITE_NULL, "candidates",
                      sqlite3_column_type(s, 5) == SQLITE_NULL
                          ? json_array()
                          : col_json(s, 5)));
    sqlite3_reset(s);
    *out = arr;
    return NTM_OK;
}

/* Append every row of a query as one line of tab-separated columns. */
static enum ntm_err
dump_query(struct ntm_store *st, const char *title, const char *sql,
           struct ntm_buf *out, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot dump the state");
    ntm_buf_addf(out, "[%s]\n", title);
    int ncol = sqlite3_column_count(s);
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        for (int i = 0; i < ncol; i++) {
            const char *t = (const char *)sqlite3_column_text(s, i);
            ntm_buf_addf(out, "%s%s", i ? "\t" : "", t ? t : "NULL");
        }
        ntm_buf_addch(out, '\n');
    }
    sqlite3_finalize(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot dump the state");
    return NTM_OK;
}

enum ntm_err
ntm_store_dump_state(struct ntm_store *st, struct ntm_buf *out,
                     struct ntm_error *err)
{
    static const char *const q[][2] = {
        {"records",
         "SELECT id, kind, unit, org, task, author, " NTM_CREATE_ID_SQL
         ", fields, "
         "deleted, conflict, review, reviews FROM records ORDER BY id"},
        {"record heads",
         "SELECT record, entry FROM rheads UNION ALL SELECT id, "
         "coalesce(head, " NTM_CREATE_ID_SQL ") FROM records WHERE linear=1 "
         "ORDER BY 1, 2"},
        {"record candidates",
         "SELECT record, field, entry, value, head FROM rcands ORDER BY "
         "record, field, entry"},
        {"record fields", "SELECT record, field, conflict FROM rfields ORDER "
                          "BY record, field"},
        /* Only entries with effect: a replica may hold, without effect,
         * entries another refused at the gate (a revoked device's entries
         * that reached it before the revocation). */
        {"valid entries",
         "SELECT e.id FROM entries e JOIN effect f ON e.gseq=f.gseq WHERE "
         "f.code=0 ORDER BY e.id"},
        {"enrollments",
         "SELECT entry, key, role, scope, name, org, from_seq FROM "
         "enrollments ORDER BY entry"},
        {"revocations",
         "SELECT entry, key, after_seq FROM revocations ORDER BY entry"},
        {"units", "SELECT code, name, level, entry, heads, conflicts FROM "
                  "units ORDER BY code"},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        enum ntm_err rc = dump_query(st, q[i][0], q[i][1], out, err);
        if (rc != NTM_OK)
            return rc;
    }
    return NTM_OK;
}
