/* SPDX-License-Identifier: MIT */
/*
 * attach.c - attachments in the log (docs/contract.md, attachments): the
 * record.attach operation, the attachments a record has (table rattach,
 * derived state that state.c keeps with the record), the hashes they
 * name, and the audit of a folder of stored bytes against them.
 *
 * The rules (body, scope, organization) are rules.c's, judged with the
 * record like an edit; the bytes are blobs.c's. What this file adds is
 * how the rest of ntm asks about them. A server's quota bookkeeping
 * (blob_uploads) is here too: who sent how many bytes of what.
 *
 * Depends on util/, crypto/, store internals (layer 10), jansson, SQLite.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

static json_t *
attachment_row(sqlite3_stmt *s)
{
    const char *cap = (const char *)sqlite3_column_text(s, 5);
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:s, s:s, s:s?, s:s, s:I}", "entry",
                  (const char *)sqlite3_column_text(s, 0), "hash",
                  (const char *)sqlite3_column_text(s, 1), "size",
                  (json_int_t)sqlite3_column_int64(s, 2), "type",
                  (const char *)sqlite3_column_text(s, 3), "name",
                  (const char *)sqlite3_column_text(s, 4), "caption", cap,
                  "author", (const char *)sqlite3_column_text(s, 6), "ts",
                  (json_int_t)sqlite3_column_int64(s, 7));
    if (o && !cap)
        json_object_set_new(o, "caption", json_null());
    return o;
}

enum ntm_err
ntm_record_attach(struct ntm_store *st, const struct ntm_key *key,
                  const char *record_id, const char *hash, int64_t size,
                  const char *type, const char *name, const char *caption,
                  struct ntm_write_result *res, struct ntm_error *err)
{
    char *nname = ntm_text_nfc(name);
    char *ncap = caption ? ntm_text_nfc(caption) : NULL;
    json_t *body = NULL;
    enum ntm_err rc;
    if (!nname || (caption && !ncap)) {
        rc = ntm_error_set(err, NTM_EINVAL,
                           "the file name or caption is not UTF-8 text");
        goto out;
    }
    body = json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", record_id, "hash", hash,
                     "size", (json_int_t)size, "type", type, "name", nname);
    if (body && ncap && *ncap &&
        json_object_set_new(body, "caption", json_string(ncap)) != 0) {
        json_decref(body);
        body = NULL;
    }
    if (!body) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    /* The record must be one this replica knows: an attachment of a record
     * nobody here holds would wait unseen. */
    sqlite3_stmt *s = Ntm_prepare(st, "SELECT 1 FROM records WHERE id=?1", err);
    if (!s) {
        rc = err ? err->code : NTM_EDB;
        goto out;
    }
    sqlite3_bind_text(s, 1, record_id, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    sqlite3_reset(s);
    if ((rc = Ntm_step_ok(st, x, err, "cannot read the record")) != NTM_OK)
        goto out;
    if (x != SQLITE_ROW) {
        rc = ntm_error_set(
            err, NTM_ENOENT,
            N_("no record %s on this replica - check the id with 'ntm list'"),
            record_id);
        goto out;
    }
    rc = ntm_store_write(st, key, "record.attach", body, res, err);
out:
    json_decref(body);
    ntm_free(nname);
    ntm_free(ncap);
    return rc;
}

static json_t *
ref_row(sqlite3_stmt *s)
{
    return json_pack("{s:s, s:s, s:I, s:s}", "record",
                     (const char *)sqlite3_column_text(s, 0), "unit",
                     (const char *)sqlite3_column_text(s, 1), "size",
                     (json_int_t)sqlite3_column_int64(s, 2), "type",
                     (const char *)sqlite3_column_text(s, 3));
}

enum ntm_err
ntm_store_attachments(struct ntm_store *st, const char *record_id, json_t **out,
                      struct ntm_error *err)
{
    *out = NULL;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT entry, hash, size, type, name, caption, author, ts FROM "
        "rattach WHERE record=?1 ORDER BY ts, lc, author, seq",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record_id, -1, SQLITE_STATIC);
    return Ntm_collect_rows(st, s, attachment_row, out, err,
                            "cannot read the attachments");
}

static json_t *
hash_row(sqlite3_stmt *s)
{
    json_t *o = json_pack("{s:s, s:I, s:[]}", "hash",
                          (const char *)sqlite3_column_text(s, 0), "size",
                          (json_int_t)sqlite3_column_int64(s, 1), "sizes");
    /* Every size claimed: entries may disagree (a wrong one must not hide
     * the true one). */
    const char *l = (const char *)sqlite3_column_text(s, 2);
    json_t *sz = o ? json_object_get(o, "sizes") : NULL;
    while (sz && l && *l) {
        char *end;
        long long v = strtoll(l, &end, 10);
        if (end == l || json_array_append_new(sz, json_integer(v)) != 0)
            sz = NULL;
        else
            l = *end == ',' ? end + 1 : end;
    }
    if (!sz) {
        json_decref(o);
        return NULL;
    }
    return o;
}

enum ntm_err
ntm_store_attachment_refs(struct ntm_store *st, const char *hash, json_t **out,
                          struct ntm_error *err)
{
    *out = NULL;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT a.record, r.unit, a.size, a.type FROM rattach a JOIN records "
        "r ON "
        "r.id=a.record WHERE a.hash=?1 ORDER BY a.record",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    return Ntm_collect_rows(st, s, ref_row, out, err,
                            "cannot read the attachments");
}

enum ntm_err
ntm_store_attachment_hashes(struct ntm_store *st, const char *author,
                            json_t **out, struct ntm_error *err)
{
    *out = NULL;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        author ? "SELECT hash, max(size), group_concat(DISTINCT size) FROM "
                 "rattach WHERE author=?1 GROUP BY hash ORDER BY hash"
               : "SELECT hash, max(size), group_concat(DISTINCT size) FROM "
                 "rattach GROUP BY hash ORDER BY hash",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    if (author)
        sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    return Ntm_collect_rows(st, s, hash_row, out, err,
                            "cannot read the attachments");
}

struct audit {
    const char *dir;
    json_t *named; /* hash -> true: the hashes attachments name */
    json_t *bad;
    int64_t checked, ok, unreferenced;
    enum ntm_err rc;
    struct ntm_error *err;
};

static int
audit_one(void *ud, const char *hash)
{
    struct audit *a = ud;
    struct ntm_error e;
    a->checked++;
    if (!json_object_get(a->named, hash))
        a->unreferenced++;
    enum ntm_err rc = ntm_blob_check(a->dir, hash, NULL, &e);
    if (rc == NTM_OK) {
        a->ok++;
    } else if (rc == NTM_ECORRUPT) {
        if (json_array_append_new(a->bad, json_string(hash)) != 0) {
            a->rc = ntm_error_set(a->err, NTM_ENOMEM, "out of memory");
            return 1;
        }
    } else {
        a->rc = rc;
        if (a->err)
            *a->err = e;
        return 1;
    }
    return 0;
}

enum ntm_err
ntm_attach_verify(struct ntm_store *st, const char *dir, json_t **out,
                  struct ntm_error *err)
{
    *out = NULL;
    json_t *hashes = NULL;
    struct audit a = {dir, json_object(), json_array(), 0, 0, 0, NTM_OK, err};
    json_t *missing = json_array();
    enum ntm_err rc = NTM_OK;
    if (!a.named || !a.bad || !missing) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = ntm_store_attachment_hashes(st, NULL, &hashes, err)) != NTM_OK)
        goto out;
    size_t i;
    json_t *h;
    json_array_foreach (hashes, i, h) {
        const char *hx = json_string_value(json_object_get(h, "hash"));
        if (json_object_set_new(a.named, hx, json_true()) != 0) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
    }
    if ((rc = ntm_blob_each(dir, audit_one, &a, err)) != NTM_OK ||
        (rc = a.rc) != NTM_OK)
        goto out;
    json_array_foreach (hashes, i, h) {
        const char *hx = json_string_value(json_object_get(h, "hash"));
        int64_t held;
        int complete;
        if ((rc = ntm_blob_held(dir, hx, &held, &complete, err)) != NTM_OK)
            goto out;
        if (!complete && json_array_append_new(missing, json_string(hx))) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out =
        json_pack("{s:I, s:I, s:O, s:O, s:I}", "checked", (json_int_t)a.checked,
                  "ok", (json_int_t)a.ok, "bad", a.bad, "missing", missing,
                  "unreferenced", (json_int_t)a.unreferenced);
    if (!*out)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
out:
    json_decref(hashes);
    json_decref(a.named);
    json_decref(a.bad);
    json_decref(missing);
    return rc;
}

enum ntm_err
ntm_store_upload_add(struct ntm_store *st, const char *hash, const char *device,
                     int64_t n, int64_t now_ms, struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "INSERT INTO blob_uploads(hash, device, size, received_ms) "
        "VALUES(?1,?2,?3,?4) ON CONFLICT(hash, device) DO UPDATE SET "
        "size=size+excluded.size, received_ms=excluded.received_ms",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, n);
    sqlite3_bind_int64(s, 4, now_ms);
    int x = sqlite3_step(s);
    sqlite3_reset(s);
    if (x != SQLITE_DONE)
        return Ntm_db_error(st, x, err, "cannot note the upload");
    return NTM_OK;
}

enum ntm_err
ntm_store_upload_total(struct ntm_store *st, const char *device, int64_t *total,
                       struct ntm_error *err)
{
    *total = 0;
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT coalesce(sum(size), 0) FROM blob_uploads WHERE device=?1",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    if (x == SQLITE_ROW)
        *total = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return Ntm_step_ok(st, x, err, "cannot read the uploads");
}

enum ntm_err
ntm_attach_sizes(const json_t *list, int64_t **out, size_t *n,
                 struct ntm_error *err)
{
    *out = NULL;
    *n = 0;
    size_t cap = json_array_size(list), i;
    if (cap == 0)
        return NTM_OK;
    int64_t *v = ntm_malloc(cap * sizeof(*v));
    if (!v)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_t *x;
    json_array_foreach (list, i, x) {
        int64_t sz = json_integer_value(
            json_is_object(x) ? json_object_get(x, "size") : x);
        size_t k = 0;
        while (k < *n && v[k] != sz)
            k++;
        if (k == *n)
            v[(*n)++] = sz;
    }
    *out = v;
    return NTM_OK;
}

static json_t *
usage_row(sqlite3_stmt *s)
{
    return json_pack("{s:s, s:I, s:I, s:I}", "device",
                     (const char *)sqlite3_column_text(s, 0), "bytes",
                     (json_int_t)sqlite3_column_int64(s, 1), "files",
                     (json_int_t)sqlite3_column_int64(s, 2), "last_ms",
                     (json_int_t)sqlite3_column_int64(s, 3));
}

enum ntm_err
ntm_store_upload_forget(struct ntm_store *st, const char *hash,
                        struct ntm_error *err)
{
    sqlite3_stmt *s =
        Ntm_prepare(st, "DELETE FROM blob_uploads WHERE hash=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    sqlite3_reset(s);
    if (x != SQLITE_DONE)
        return Ntm_db_error(st, x, err, "cannot forget the upload");
    return NTM_OK;
}

enum ntm_err
ntm_store_upload_usage(struct ntm_store *st, json_t **out,
                       struct ntm_error *err)
{
    *out = NULL;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT device, sum(size), count(*), max(received_ms) FROM "
        "blob_uploads GROUP BY device ORDER BY sum(size) DESC, device",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;

    return Ntm_collect_rows(st, s, usage_row, out, err,
                            "cannot read the uploads");
}

enum ntm_err
ntm_store_upload_reset(struct ntm_store *st, const char *device, int64_t *bytes,
                       struct ntm_error *err)
{
    enum ntm_err rc = ntm_store_upload_total(st, device, bytes, err);
    if (rc != NTM_OK)
        return rc;
    sqlite3_stmt *s =
        Ntm_prepare(st, "DELETE FROM blob_uploads WHERE device=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    sqlite3_reset(s);
    if (x != SQLITE_DONE)
        return Ntm_db_error(st, x, err, "cannot reset the uploads");
    return NTM_OK;
}
