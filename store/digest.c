/* SPDX-License-Identifier: MIT */
/*
 * digest.c - digests of the records: bytes a caller makes from each
 * record (the report makes its facts, plan/rfact.c), kept in the store
 * in the records' creation order and made again only for the records
 * that changed since, so that reading every record's digest costs a scan
 * of small rows, not a JSON parse per record.
 *
 * Two tables, made the first time a caller asks (a server or a phone
 * that never reports pays nothing; their DDL is db.c's,
 * Ntm_db_digests_on): rdigest, the bytes by (c_ts, author,
 * id) as the index records_order orders the records, ids and authors as
 * their bytes; and rdirty, the keys of the records written since the
 * digests were last brought up to date. Triggers on records fill rdirty,
 * whichever process writes them (ingest, pull, a rebuild). The tag (meta
 * digest.tag) names what the bytes were made under (the caller's format
 * and plan); another tag makes them all again.
 *
 * A home that cannot be written (read-only, or another process holding
 * the write lock past the busy timeout) gets its digests made as they
 * are read, without keeping them: slower, the same bytes.
 *
 * Depends on db.c (layer 2) and query.c's readers (layer 10).
 */
#include "store_int.h"

#include <string.h>

/* hex (lowercase, exactly 2n digits) as n bytes; -1 for anything else,
 * whose order as text the bytes would not keep */
static int
unhex(unsigned char *out, size_t n, const char *hex)
{
    if (!hex || !ntm_is_lower_hex(hex, 2 * n))
        return -1;
    return ntm_hex_decode(out, n, hex, 2 * n) == NTM_OK ? 0 : -1;
}

/* Bind the key (c_ts, author, id) of a record to s's parameters 1-3. */
static int
bind_key(sqlite3_stmt *s, int64_t c_ts, const char *author, const char *id,
         unsigned char a[NTM_PUBLICKEY_BYTES],
         unsigned char r[NTM_RECORD_ID_LEN / 2])
{
    if (unhex(a, NTM_PUBLICKEY_BYTES, author) ||
        unhex(r, NTM_RECORD_ID_LEN / 2, id))
        return -1;
    sqlite3_bind_int64(s, 1, c_ts);
    sqlite3_bind_blob(s, 2, a, NTM_PUBLICKEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, r, NTM_RECORD_ID_LEN / 2, SQLITE_STATIC);
    return 0;
}

struct fill {
    struct ntm_store *st;
    ntm_digest_make_fn make;
    void *make_ud;
    struct ntm_buf b;
    enum ntm_err rc;
    struct ntm_error *err;
};

/* Make and keep the digest of rec (brief JSON, not deleted). */
static enum ntm_err
keep_one(struct fill *f, json_t *rec)
{
    unsigned char a[NTM_PUBLICKEY_BYTES], r[NTM_RECORD_ID_LEN / 2];
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *author = json_string_value(json_object_get(rec, "author"));
    int64_t c_ts = json_integer_value(json_object_get(rec, "created_ts"));
    sqlite3_stmt *s = Ntm_prepare(
        f->st, "INSERT OR REPLACE INTO rdigest VALUES(?1, ?2, ?3, ?4)", f->err);
    if (!s)
        return f->err ? f->err->code : NTM_EDB;
    if (bind_key(s, c_ts, author, id, a, r))
        return ntm_error_set(f->err, NTM_ECORRUPT,
                             "record %s has an id or author that is not hex",
                             id ? id : "?");
    ntm_buf_reset(&f->b);
    if (f->make(f->make_ud, rec, &f->b)) {
        sqlite3_reset(s);
        return ntm_error_set(f->err, NTM_ENOMEM, "out of memory");
    }
    sqlite3_bind_blob(s, 4, f->b.buf ? f->b.buf : "", (int)f->b.len,
                      SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return Ntm_step_ok(f->st, rc, f->err, "cannot keep a record's digest");
}

static int
fill_cb(void *ud, json_t *rec)
{
    struct fill *f = ud;
    f->rc = keep_one(f, rec);
    return f->rc != NTM_OK;
}

/* Every record's digest, made again (another tag, or the first time). */
static enum ntm_err
fill_all(struct fill *f)
{
    enum ntm_err rc =
        Ntm_exec(f->st, "DELETE FROM rdigest; DELETE FROM rdirty;", f->err);
    if (rc == NTM_OK)
        rc = ntm_store_records_each(f->st, NULL, NTM_RECORDS_BRIEF, fill_cb, f,
                                    f->err);
    return rc != NTM_OK ? rc : f->rc;
}

/* The digests of the records written since the last time. */
static enum ntm_err
fill_dirty(struct fill *f)
{
    struct ntm_store *st = f->st;
    json_t *ids = json_array(), *v;
    enum ntm_err rc = NTM_OK;
    sqlite3_stmt *q = NULL, *del = NULL;
    int r;
    size_t i;

    if (!ids)
        return ntm_error_set(f->err, NTM_ENOMEM, "out of memory");
    r = sqlite3_prepare_v2(st->db,
                           "SELECT id, c_ts, author FROM rdirty ORDER BY id",
                           -1, &q, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_prepare_v2(st->db,
                               "DELETE FROM rdigest WHERE c_ts=?1 AND "
                               "author=?2 AND id=?3",
                               -1, &del, NULL);
    if (r != SQLITE_OK) {
        rc = Ntm_db_error(st, r, f->err, "cannot read the changed records");
        goto out;
    }
    /* the keys the records had and have: their digests go */
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        unsigned char a[NTM_PUBLICKEY_BYTES], b[NTM_RECORD_ID_LEN / 2];
        const char *id = (const char *)sqlite3_column_text(q, 0);
        if (!bind_key(del, sqlite3_column_int64(q, 1),
                      (const char *)sqlite3_column_text(q, 2), id, a, b)) {
            r = sqlite3_step(del);
            sqlite3_reset(del);
            if ((rc = Ntm_step_ok(st, r, f->err, "cannot drop a digest")))
                goto out;
        }
        if (json_array_append_new(ids, json_string(id ? id : ""))) {
            rc = ntm_error_set(f->err, NTM_ENOMEM, "out of memory");
            goto out;
        }
    }
    if ((rc = Ntm_step_ok(st, r, f->err, "cannot read the changed records")))
        goto out;
    sqlite3_finalize(q);
    q = NULL;
    /* the records as they are now: made again */
    json_array_foreach (ids, i, v) {
        json_t *rec = NULL;
        const char *id = json_string_value(v);
        if (i > 0 && !strcmp(id, json_string_value(json_array_get(ids, i - 1))))
            continue; /* rdirty is ordered by id: one id, several keys */
        rc = ntm_store_record(st, id, &rec, NULL);
        if (rc == NTM_ENOENT ||
            (rc == NTM_OK &&
             (!rec || json_is_true(json_object_get(rec, "deleted"))))) {
            json_decref(rec);
            rc = NTM_OK;
            continue;
        }
        if (rc != NTM_OK) {
            rc = ntm_error_set(f->err, rc, "cannot read record %s", id);
            goto out;
        }
        rc = keep_one(f, rec);
        json_decref(rec);
        if (rc != NTM_OK)
            goto out;
    }
    rc = Ntm_exec(st, "DELETE FROM rdirty", f->err);
out:
    sqlite3_finalize(q);
    sqlite3_finalize(del);
    json_decref(ids);
    return rc;
}

/* More records changed than a pass over all of them costs? */
static int
many_dirty(struct ntm_store *st)
{
    sqlite3_stmt *s = NULL;
    int many = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT (SELECT count(*) FROM rdirty) > "
                           "(SELECT coalesce(max(rowid), 0) FROM records) / 4 "
                           "+ 1000",
                           -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        many = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return many;
}

/* Bring the kept digests up to date under tag, in one transaction. */
static enum ntm_err
refresh(struct fill *f, const char *tag)
{
    struct ntm_store *st = f->st;
    char *have = NULL;
    enum ntm_err rc = ntm_store_begin(st, f->err);
    if (rc != NTM_OK)
        return rc;
    rc = Ntm_db_digests_on(st, f->err);
    if (rc == NTM_OK) {
        rc = ntm_store_meta_get(st, "digest.tag", &have, f->err);
        if (rc == NTM_ENOENT)
            rc = NTM_OK;
    }
    /* many changed (a rebuild): all of them made again, in one pass */
    if (rc == NTM_OK && have && !strcmp(have, tag) && many_dirty(st)) {
        ntm_free(have);
        have = NULL;
    }
    if (rc == NTM_OK && (!have || strcmp(have, tag)))
        rc = fill_all(f);
    else if (rc == NTM_OK)
        rc = fill_dirty(f);
    if (rc == NTM_OK)
        rc = ntm_store_meta_set(st, "digest.tag", tag, f->err);
    ntm_free(have);
    if (rc == NTM_OK)
        return ntm_store_commit(st, f->err);
    ntm_store_rollback(st);
    return rc;
}

/* Digests made as records are read, none kept (a home not writable). */
struct pass {
    ntm_digest_make_fn make;
    void *make_ud;
    ntm_digest_cb cb;
    void *cb_ud;
    struct ntm_buf b;
    int nomem;
};

static int
pass_cb(void *ud, json_t *rec)
{
    struct pass *p = ud;
    ntm_buf_reset(&p->b);
    if (p->make(p->make_ud, rec, &p->b))
        return p->nomem = 1;
    return p->cb(p->cb_ud, json_string_value(json_object_get(rec, "id")),
                 p->b.buf ? p->b.buf : "", p->b.len);
}

enum ntm_err
ntm_store_digests_each(struct ntm_store *st, const char *tag,
                       ntm_digest_make_fn make, void *make_ud, ntm_digest_cb cb,
                       void *cb_ud, struct ntm_error *err)
{
    struct fill f = {st, make, make_ud, NTM_BUF_INIT, NTM_OK, err};
    struct ntm_error quiet = {0};
    sqlite3_stmt *s = NULL;
    enum ntm_err rc;
    int r;

    f.err = &quiet;
    /* inside the caller's transaction: nothing kept, made as read */
    rc = st->tx_depth > 0 ? NTM_EBUSY : refresh(&f, tag);
    ntm_buf_release(&f.b);
    /* not writable (read-only, busy, full): made as they are read */
    if (rc != NTM_OK && rc != NTM_ENOMEM) {
        struct pass p = {make, make_ud, cb, cb_ud, NTM_BUF_INIT, 0};
        rc = ntm_store_records_each(st, NULL, NTM_RECORDS_BRIEF, pass_cb, &p,
                                    err);
        ntm_buf_release(&p.b);
        if (rc == NTM_OK && p.nomem)
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        return rc;
    }
    if (rc != NTM_OK) {
        if (err)
            *err = quiet;
        return rc;
    }
    /* one pass in order: a few pages of cache are enough, and the
     * memory of a report does not grow with the store */
    int small = Ntm_cache_small(st, 1);
    r = sqlite3_prepare_v2(
        st->db, "SELECT d, id FROM rdigest ORDER BY c_ts, author, id", -1, &s,
        NULL);
    if (r == SQLITE_OK)
        while ((r = sqlite3_step(s)) == SQLITE_ROW) {
            const void *d = sqlite3_column_blob(s, 0);
            char id[NTM_RECORD_ID_LEN + 1] = "";
            if (sqlite3_column_bytes(s, 1) == NTM_RECORD_ID_LEN / 2)
                ntm_hex_encode(id, sqlite3_column_blob(s, 1),
                               NTM_RECORD_ID_LEN / 2);
            if (cb(cb_ud, id, d ? d : "", (size_t)sqlite3_column_bytes(s, 0))) {
                r = SQLITE_DONE;
                break;
            }
        }
    rc = r == SQLITE_DONE ? NTM_OK
                          : Ntm_db_error(st, r, err, "cannot read the digests");
    sqlite3_finalize(s);
    if (small)
        Ntm_cache_small(st, 0);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The audit: kept digests against the records */

struct check {
    struct ntm_store *st;
    ntm_digest_make_fn make;
    void *make_ud;
    sqlite3_stmt *dirty, *kept;
    struct ntm_buf b;
    json_t *differ;
    int64_t checked, total;
    enum ntm_err rc;
    struct ntm_error *err;
};

static int
note_differ(struct check *c, const char *id)
{
    c->total++;
    if (json_array_size(c->differ) < 200 &&
        json_array_append_new(c->differ, json_string(id ? id : ""))) {
        c->rc = ntm_error_set(c->err, NTM_ENOMEM, "out of memory");
        return 1;
    }
    return 0;
}

static int
check_cb(void *ud, json_t *rec)
{
    struct check *c = ud;
    unsigned char a[NTM_PUBLICKEY_BYTES], r[NTM_RECORD_ID_LEN / 2];
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *author = json_string_value(json_object_get(rec, "author"));
    int64_t c_ts = json_integer_value(json_object_get(rec, "created_ts"));
    int pending, same = 0, rc;

    /* written since the last report: made again at the next */
    sqlite3_bind_text(c->dirty, 1, id ? id : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(c->dirty);
    pending = rc == SQLITE_ROW;
    sqlite3_reset(c->dirty);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        c->rc = Ntm_db_error(c->st, rc, c->err, "cannot read the digests");
        return 1;
    }
    if (pending)
        return 0;
    c->checked++;
    if (bind_key(c->kept, c_ts, author, id, a, r))
        return note_differ(c, id);
    ntm_buf_reset(&c->b);
    if (c->make(c->make_ud, rec, &c->b)) {
        sqlite3_reset(c->kept);
        c->rc = ntm_error_set(c->err, NTM_ENOMEM, "out of memory");
        return 1;
    }
    rc = sqlite3_step(c->kept);
    if (rc == SQLITE_ROW)
        same = (size_t)sqlite3_column_bytes(c->kept, 0) == c->b.len &&
               (c->b.len == 0 ||
                !memcmp(sqlite3_column_blob(c->kept, 0), c->b.buf, c->b.len));
    sqlite3_reset(c->kept);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        c->rc = Ntm_db_error(c->st, rc, c->err, "cannot read the digests");
        return 1;
    }
    return same ? 0 : note_differ(c, id);
}

/* Digests kept for no record (deleted or never there) that no pending
 * write explains. */
static enum ntm_err
check_orphans(struct check *c)
{
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(
        c->st->db,
        "SELECT lower(hex(g.id)) FROM rdigest g WHERE NOT EXISTS (SELECT 1 "
        "FROM records x WHERE x.id=lower(hex(g.id)) AND x.c_ts=g.c_ts AND "
        "x.author=lower(hex(g.author)) AND x.deleted=0) AND NOT EXISTS "
        "(SELECT 1 FROM rdirty y WHERE y.id=lower(hex(g.id)))",
        -1, &s, NULL);
    if (r == SQLITE_OK)
        while ((r = sqlite3_step(s)) == SQLITE_ROW)
            if (note_differ(c, (const char *)sqlite3_column_text(s, 0)))
                break;
    enum ntm_err rc = c->rc;
    if (rc == NTM_OK && r != SQLITE_DONE)
        rc = Ntm_db_error(c->st, r, c->err, "cannot read the digests");
    sqlite3_finalize(s);
    return rc;
}

enum ntm_err
ntm_store_digests_check(struct ntm_store *st, const char *tag,
                        ntm_digest_make_fn make, void *make_ud, int drop,
                        json_t **out, struct ntm_error *err)
{
    struct check c = {st,   make, make_ud, NULL,   NULL, NTM_BUF_INIT,
                      NULL, 0,    0,       NTM_OK, err};
    char *have = NULL;
    enum ntm_err rc = NTM_OK;
    int kept = 0, dropped = 0;

    *out = NULL;
    if (ntm_store_meta_get(st, "digest.tag", &have, NULL) == NTM_OK &&
        !strcmp(have, tag)) {
        sqlite3_stmt *q = NULL;
        kept = sqlite3_prepare_v2(st->db,
                                  "SELECT 1 FROM sqlite_schema WHERE "
                                  "name='rdigest'",
                                  -1, &q, NULL) == SQLITE_OK &&
               sqlite3_step(q) == SQLITE_ROW;
        sqlite3_finalize(q);
    }
    ntm_free(have);
    if (!(c.differ = json_array()))
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (kept) {
        int r = sqlite3_prepare_v2(st->db,
                                   "SELECT 1 FROM rdirty WHERE id=?1 LIMIT 1",
                                   -1, &c.dirty, NULL);
        if (r == SQLITE_OK)
            r = sqlite3_prepare_v2(st->db,
                                   "SELECT d FROM rdigest WHERE c_ts=?1 AND "
                                   "author=?2 AND id=?3",
                                   -1, &c.kept, NULL);
        if (r != SQLITE_OK)
            rc = Ntm_db_error(st, r, err, "cannot read the digests");
        if (rc == NTM_OK)
            rc = ntm_store_records_each(st, NULL, NTM_RECORDS_BRIEF, check_cb,
                                        &c, err);
        if (rc == NTM_OK)
            rc = c.rc;
        if (rc == NTM_OK)
            rc = check_orphans(&c);
        if (rc == NTM_OK && drop && c.total > 0) {
            rc = ntm_store_meta_set(st, "digest.tag", NULL, err);
            dropped = rc == NTM_OK;
        }
    }
    sqlite3_finalize(c.dirty);
    sqlite3_finalize(c.kept);
    ntm_buf_release(&c.b);
    if (rc == NTM_OK &&
        !(*out = json_pack("{s:b, s:I, s:O, s:I, s:b}", "kept", kept, "checked",
                           (json_int_t)c.checked, "differ", c.differ,
                           "differ_total", (json_int_t)c.total, "dropped",
                           dropped)))
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_decref(c.differ);
    return rc;
}
