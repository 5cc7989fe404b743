/* SPDX-License-Identifier: MIT */
/*
 * query.c - reading the derived state: records (SPEC.md section 8 JSON
 * shapes), one record with its history, conflicts, devices, units made by
 * unit.create, and the canonical state dump used by convergence tests.
 *
 * Read-only. Depends on util/, store internals, jansson, SQLite.
 */
#include "store_int.h"

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

enum ntm_err
ntm_store_records(struct ntm_store *st, const struct ntm_record_filter *f,
                  json_t **out, struct ntm_error *err)
{
    struct ntm_record_filter none = {0};
    if (!f)
        f = &none;
    *out = NULL;
    struct ntm_buf sql = NTM_BUF_INIT;
    char *folded = NULL;
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    json_t *arr = json_array();

    ntm_buf_adds(&sql, "SELECT " RECORD_COLS " FROM records r WHERE 1");
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
    if (f->text) {
        folded = ntm_text_fold(f->text);
        if (!folded) {
            rc = ntm_error_set(err, NTM_EINVAL,
                               "search text is not valid UTF-8");
            goto out;
        }
        ntm_buf_adds(&sql, " AND (instr(r.search, ?6) > 0");
        for (int i = 0; f->text_units && f->text_units[i]; i++)
            ntm_buf_addf(&sql,
                         " OR r.unit=?%d OR substr(r.unit, 1, length(?%d) + "
                         "1) = ?%d || '.'",
                         7 + i, 7 + i, 7 + i);
        ntm_buf_adds(&sql, ")");
    }
    ntm_buf_adds(&sql, " ORDER BY r.c_ts, r.author, r.id");
    if (!arr || !sql.buf) {
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
    if (f->text) {
        sqlite3_bind_text(s, 6, folded, -1, SQLITE_STATIC);
        for (int i = 0; f->text_units && f->text_units[i]; i++)
            sqlite3_bind_text(s, 7 + i, f->text_units[i], -1, SQLITE_STATIC);
    }
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        json_t *row = record_row(st, s);
        if (!row || json_array_append_new(arr, row) != 0) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (r != SQLITE_DONE) {
        rc = Ntm_db_error(st, r, err, "cannot list records");
        goto out;
    }
    *out = arr;
    arr = NULL;
out:
    sqlite3_finalize(s);
    json_decref(arr);
    ntm_free(folded);
    ntm_buf_release(&sql);
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
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT " RECORD_COLS
                                  " FROM records r WHERE substr(r.id, 1, "
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
         "SELECT id, kind, unit, org, task, author, create_entry, fields, "
         "deleted, conflict, review, reviews FROM records ORDER BY id"},
        {"record heads", "SELECT record, entry FROM rheads ORDER BY record, "
                         "entry"},
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
