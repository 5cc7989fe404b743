/* SPDX-License-Identifier: MIT */
/*
 * strand.c - a device's own chain that forked from the one the server
 * holds, healed without losing anything.
 *
 * A phone restored from an older backup (or one that lost its WAL file)
 * writes again at seqs the server already holds under other entries: its
 * chain forks from the true one. ntm_store_strand sets this device's own
 * entries from the first diverging seq on aside (table stranded, kept for
 * ever) and out of the log, so that the true chain can be taken back in;
 * ntm_store_reissue then writes each stranded entry again on the true head,
 * signed anew: the same op and body, every id of a stranded entry or of a
 * record it created replaced by its re-issued counterpart (a re-issued
 * record.create gets the id its new seq gives, SPEC 3), and a "replaces"
 * member naming the entry it stands for. Nothing the officer recorded is
 * lost, and nothing is applied twice: the stranded entries never reached
 * the server (it holds other entries at their seqs), and each is re-issued
 * once (stranded.reissued_as).
 *
 * ntm_store_rekey is the same under a new key: a home whose passphrase was
 * lost, or that was copied to a second phone (two devices cannot sign as
 * one), gets a new key pair; the old author's entries the server never
 * acknowledged are set aside and, with those set aside before, written
 * again under the new key (ntm_store_reissue_from). The old entries never
 * leave: they are out of the log.
 *
 * Layer 10: calls ingest.c (ntm_store_write), derive.c (rebuild), log.c
 * and db.c.
 */
#include "store_int.h"

#include <string.h>

enum ntm_err
ntm_store_strand(struct ntm_store *st, const char *author, int64_t from_seq,
                 int64_t *n, struct ntm_error *err)
{
    int64_t moved = 0;
    if (n)
        *n = 0;
    if (!author || from_seq < 1)
        return ntm_error_set(err, NTM_EINVAL, "no author or seq to set aside");
    enum ntm_err rc = Ntm_sp_begin(st, err);
    if (rc != NTM_OK)
        return rc;
    rc = Ntm_log_strand(st, author, from_seq, &moved, err);
    /* The derived state followed the entries that left: derive it again
     * from what the log holds now. */
    if (rc == NTM_OK && moved > 0)
        rc = Ntm_rebuild_derived(st, err);
    enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
    if (rc == NTM_OK && rc2 == NTM_OK && n)
        *n = moved;
    return rc != NTM_OK ? rc : rc2;
}

/* The new text map names for x when x is a string it holds, else NULL. */
static const char *
mapped(json_t *x, json_t *map)
{
    return json_is_string(x)
               ? json_string_value(json_object_get(map, json_string_value(x)))
               : NULL;
}

/* Replace, anywhere in v, a string that map names with its new text
 * (jansson refuses a NULL value: out of memory is reported). */
static enum ntm_err
remap(json_t *v, json_t *map)
{
    const char *k;
    size_t i;
    json_t *x;
    const char *to;
    int bad = 0;
    if (json_is_object(v)) {
        json_object_foreach (v, k, x)
            bad |= (to = mapped(x, map))
                       ? json_object_set_new(v, k, json_string(to))
                       : remap(x, map) != NTM_OK;
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, x)
            bad |= (to = mapped(x, map))
                       ? json_array_set_new(v, i, json_string(to))
                       : remap(x, map) != NTM_OK;
    }
    return bad ? NTM_ENOMEM : NTM_OK;
}

static enum ntm_err
mark(struct ntm_store *st, const char *id, const char *as, const char *reason,
     struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(
        st, "UPDATE stranded SET reissued_as=?2, reason=?3 WHERE id=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, as, -1, SQLITE_STATIC);
    if (reason)
        sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 3);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot note a re-issued entry");
    return NTM_OK;
}

/* Re-issue one stranded entry (bytes); map gains its ids. */
static enum ntm_err
reissue_one(struct ntm_store *st, const struct ntm_key *key, const char *id,
            const char *bytes, size_t len, json_t *map,
            struct ntm_reissue_result *res, struct ntm_error *err)
{
    struct Ntm_entry e;
    char msg[NTM_ERROR_SIZE];
    enum ntm_err rc = Ntm_entry_parse(&e, bytes, len, msg, sizeof msg);
    if (rc != NTM_OK) {
        Ntm_entry_release(&e);
        if (rc == NTM_ENOMEM)
            return ntm_error_set(err, rc, "out of memory");
        /* It was in the log: it cannot be malformed. Keep it noted. */
        res->failed++;
        return mark(st, id, "", msg, err);
    }
    json_t *body = json_deep_copy(e.body);
    const char *old_record =
        !strcmp(e.op, "record.create")
            ? json_string_value(json_object_get(e.body, "id"))
            : NULL;
    if (!body || remap(body, map) != NTM_OK ||
        json_object_set_new(body, "replaces", json_string(id))) {
        json_decref(body);
        Ntm_entry_release(&e);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    struct ntm_write_result wr;
    struct ntm_error why;
    ntm_error_clear(&why);
    memset(&wr, 0, sizeof wr);
    rc = ntm_store_write(st, key, e.op, body, &wr, &why);
    json_decref(body);
    if (rc == NTM_OK) {
        res->reissued++;
        if (json_object_set_new(map, id, json_string(wr.id)) ||
            (old_record && wr.record[0] &&
             json_object_set_new(map, old_record, json_string(wr.record))))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        else
            rc = mark(st, id, wr.id, NULL, err);
    } else if (rc == NTM_ENOMEM || rc == NTM_EDB || rc == NTM_EIO ||
               rc == NTM_EFULL || rc == NTM_EBUSY || rc == NTM_ECORRUPT ||
               rc == NTM_EREADONLY) {
        *err = why;
    } else {
        /* Refused as it stands now (the device lost the authority it had,
         * say): noted with the reason, never retried silently. */
        res->failed++;
        rc = mark(st, id, "", why.msg, err);
    }
    Ntm_entry_release(&e);
    return rc;
}

struct stranded_row {
    char id[NTM_HEX_ID_LEN + 1];
    char *bytes;
    size_t len;
};

enum ntm_err
ntm_store_reissue(struct ntm_store *st, const struct ntm_key *key,
                  struct ntm_reissue_result *res, struct ntm_error *err)
{
    return ntm_store_reissue_from(st, key, NULL, res, err);
}

enum ntm_err
ntm_store_reissue_from(struct ntm_store *st, const struct ntm_key *key,
                       const char *author, struct ntm_reissue_result *res,
                       struct ntm_error *err)
{
    char me[NTM_HEX_ID_LEN + 1];
    memset(res, 0, sizeof *res);
    if (author)
        snprintf(me, sizeof me, "%s", author);
    else
        ntm_key_author(key, me);
    /* In the order they were set aside, then by seq: a later set (a
     * re-keyed home's tail) never names an entry of an earlier one. */
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT id, bytes FROM stranded WHERE "
                                  "author=?1 AND reissued_as IS NULL "
                                  "ORDER BY stranded_ms, seq",
                                  err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, me, -1, SQLITE_TRANSIENT);
    struct stranded_row *rows = NULL;
    size_t n = 0, cap = 0;
    enum ntm_err rc = NTM_OK;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct stranded_row *nr = ntm_realloc(rows, nc * sizeof *rows);
            if (!nr) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                break;
            }
            rows = nr;
            cap = nc;
        }
        struct stranded_row *row = &rows[n];
        snprintf(row->id, sizeof row->id, "%s",
                 (const char *)sqlite3_column_text(s, 0));
        row->len = (size_t)sqlite3_column_bytes(s, 1);
        row->bytes = ntm_malloc(row->len + 1);
        if (!row->bytes) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            break;
        }
        memcpy(row->bytes, sqlite3_column_blob(s, 1), row->len);
        row->bytes[row->len] = '\0';
        n++;
    }
    sqlite3_reset(s);
    if (rc == NTM_OK && r != SQLITE_DONE)
        rc = Ntm_db_error(st, r, err, "cannot read the stranded entries");
    json_t *map = json_object();
    if (rc == NTM_OK && !map)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    /* The ids re-issued before (an earlier, interrupted run) map too. */
    if (rc == NTM_OK) {
        sqlite3_stmt *m = Ntm_prepare(
            st,
            "SELECT s.id, s.reissued_as, json_extract(CAST(s.bytes AS TEXT),"
            " '$.body.id'), json_extract(CAST(e.bytes AS TEXT), '$.body.id')"
            " FROM stranded s LEFT JOIN entries e ON e.id=s.reissued_as"
            " WHERE s.author=?1 AND s.reissued_as<>''",
            err);
        if (!m)
            rc = err ? err->code : NTM_EDB;
        else {
            sqlite3_bind_text(m, 1, me, -1, SQLITE_TRANSIENT);
            while (rc == NTM_OK && (r = sqlite3_step(m)) == SQLITE_ROW) {
                const char *from = (const char *)sqlite3_column_text(m, 0);
                const char *to = (const char *)sqlite3_column_text(m, 1);
                const char *rf = (const char *)sqlite3_column_text(m, 2);
                const char *rt = (const char *)sqlite3_column_text(m, 3);
                if (json_object_set_new(map, from, json_string(to)) ||
                    (rf && rt && strcmp(rf, rt) &&
                     json_object_set_new(map, rf, json_string(rt))))
                    rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            }
            sqlite3_reset(m);
        }
    }
    if (rc == NTM_OK && n > 0) {
        rc = Ntm_sp_begin(st, err);
        if (rc == NTM_OK) {
            for (size_t i = 0; rc == NTM_OK && i < n; i++)
                rc = reissue_one(st, key, rows[i].id, rows[i].bytes,
                                 rows[i].len, map, res, err);
            enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
            if (rc == NTM_OK)
                rc = rc2;
        }
        if (rc != NTM_OK)
            res->reissued = res->failed = 0;
    }
    json_decref(map);
    for (size_t i = 0; i < n; i++)
        ntm_free(rows[i].bytes);
    ntm_free(rows);
    return rc;
}

enum ntm_err
ntm_store_stranded(struct ntm_store *st, const char *author, int64_t *pending,
                   int64_t *total, struct ntm_error *err)
{
    *pending = *total = 0;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT count(*), coalesce(sum(reissued_as IS NULL), 0) FROM stranded"
        " WHERE ?1 IS NULL OR author=?1",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    if (author)
        sqlite3_bind_text(s, 1, author, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, 1);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        *total = sqlite3_column_int64(s, 0);
        *pending = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (r != SQLITE_ROW)
        return Ntm_db_error(st, r, err, "cannot count the stranded entries");
    return NTM_OK;
}

enum ntm_err
ntm_store_rekey(struct ntm_store *st, const struct ntm_key *key,
                const char *old, struct ntm_rekey_result *res,
                struct ntm_error *err)
{
    char to[NTM_HEX_ID_LEN + 1];
    int64_t peer = 0, n = 0;
    struct ntm_reissue_result rr;
    memset(res, 0, sizeof *res);
    ntm_key_author(key, to);
    if (!old || strlen(old) != NTM_HEX_ID_LEN || !strcmp(old, to))
        return ntm_error_set(err, NTM_EINVAL,
                             "a new key needs the old author id");
    enum ntm_err rc = Ntm_sp_begin(st, err);
    if (rc != NTM_OK)
        return rc;
    /* What the server acknowledged of the old chain stays; the rest
     * never leaves under the old key. */
    if ((rc = ntm_store_peer_head_get(st, old, &peer, err)) == NTM_OK)
        rc = ntm_store_strand(st, old, peer + 1, &n, err);
    if (rc == NTM_OK)
        rc = ntm_store_reissue_from(st, key, old, &rr, err);
    if (rc == NTM_OK) {
        res->stranded = n;
        res->reissued = rr.reissued;
        res->failed = rr.failed;
        res->kept = peer;
        if ((rc = ntm_store_meta_set(st, NTM_META_REKEY_FROM, old, err)) ==
                NTM_OK &&
            (rc = ntm_store_meta_set(st, NTM_META_REKEY_TO, to, err)) ==
                NTM_OK &&
            (rc = ntm_store_meta_set_int(st, NTM_META_REKEY_MS, ntm_now_ms(),
                                         err)) == NTM_OK)
            rc = ntm_store_meta_set(st, NTM_META_REKEY_NEEDED, NULL, err);
    }
    enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
    if (rc == NTM_OK)
        rc = rc2;
    if (rc != NTM_OK)
        memset(res, 0, sizeof *res);
    return rc;
}
