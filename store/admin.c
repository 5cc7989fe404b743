/* SPDX-License-Identifier: MIT */
/*
 * admin.c - what a server keeps for its admins beside the log: the join
 * requests new devices send (POST /v1/join, docs/contract.md "Join
 * requests"), bounded and dropped with their code's expiry, and the fork
 * evidence read back for `ntm admin forks` (the entry held and the ones
 * refused at the same author and seq, with their times). Neither grants
 * anything: a join request is a note for an admin to confirm; the
 * enrollment it leads to is an entry the admin signs.
 *
 * Layer 10: calls db.c only.
 */
#include "store_int.h"

#include <string.h>

static const char *
col_text(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? t : "";
}

/* Bind a text that may be NULL. */
static void
bind_opt(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

/* Ntm_collect_rows on a statement of its own, finalized after. */
static enum ntm_err
collect_rows(struct ntm_store *st, sqlite3_stmt *s,
             json_t *(*build)(sqlite3_stmt *), json_t **out,
             struct ntm_error *err, const char *what)
{
    enum ntm_err rc = Ntm_collect_rows(st, s, build, out, err, what);
    sqlite3_finalize(s);
    return rc;
}

static enum ntm_err
count_rows(struct ntm_store *st, const char *sql, const char *arg, int64_t *n,
           struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(st, sql, err);
    if (!s)
        return err ? err->code : NTM_EDB;
    if (arg)
        sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    *n = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return Ntm_step_ok(st, r, err, "cannot count join requests");
}

enum ntm_err
ntm_store_join_put(struct ntm_store *st, const struct ntm_join_request *q,
                   int64_t max_per_code, int64_t max_total, int *added,
                   struct ntm_error *err)
{
    *added = 0;
    sqlite3_stmt *s =
        Ntm_prepare(st, "DELETE FROM join_requests WHERE expires < ?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_int64(s, 1, q->received_ms);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot drop expired join requests");
    int64_t n = 0;
    enum ntm_err rc;
    s = Ntm_prepare(
        st, "SELECT 1 FROM join_requests WHERE nonce=?1 AND author=?2", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, q->nonce, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, q->author, -1, SQLITE_STATIC);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r == SQLITE_ROW)
        return NTM_OK; /* sent again: held once */
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot read join requests");
    if ((rc =
             count_rows(st, "SELECT count(*) FROM join_requests WHERE nonce=?1",
                        q->nonce, &n, err)) != NTM_OK)
        return rc;
    if (n >= max_per_code)
        return ntm_error_set(err, NTM_ECONFLICT,
                             "this join code already has %lld requests from "
                             "other devices - ask the admin for a new code",
                             (long long)n);
    if ((rc = count_rows(st, "SELECT count(*) FROM join_requests", NULL, &n,
                         err)) != NTM_OK)
        return rc;
    if (n >= max_total)
        return ntm_error_set(err, NTM_EFULL,
                             "the server holds %lld join requests waiting "
                             "for an admin - try again later",
                             (long long)n);
    s = Ntm_prepare(st,
                    "INSERT INTO join_requests(nonce, author, name, signer, "
                    "role, scope, org, expires, received_ms) "
                    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                    err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, q->nonce, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, q->author, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, q->name ? q->name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, q->signer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, q->role, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, q->scope, -1, SQLITE_STATIC);
    bind_opt(s, 7, q->org);
    sqlite3_bind_int64(s, 8, q->expires);
    sqlite3_bind_int64(s, 9, q->received_ms);
    r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot keep the join request");
    *added = 1;
    return NTM_OK;
}

static json_t *
join_row(sqlite3_stmt *s)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "nonce",
                          col_text(s, 0), "author", col_text(s, 1), "name",
                          col_text(s, 2), "signer", col_text(s, 3), "role",
                          col_text(s, 4), "scope", col_text(s, 5), "expires",
                          (json_int_t)sqlite3_column_int64(s, 7), "received_ms",
                          (json_int_t)sqlite3_column_int64(s, 8));
    if (o)
        json_object_set_new(o, "org",
                            sqlite3_column_type(s, 6) == SQLITE_NULL
                                ? json_null()
                                : json_string(col_text(s, 6)));
    return o;
}

enum ntm_err
ntm_store_join_list(struct ntm_store *st, const char *signer, const char *nonce,
                    int64_t now_ms, json_t **out, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    *out = NULL;
    int r = sqlite3_prepare_v2(
        st->db,
        "SELECT nonce, author, name, signer, role, scope, org, expires, "
        "received_ms FROM join_requests WHERE expires >= ?1 AND (?2 IS NULL "
        "OR signer=?2) AND (?3 IS NULL OR nonce=?3) ORDER BY received_ms, "
        "author",
        -1, &s, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot read join requests");
    sqlite3_bind_int64(s, 1, now_ms);
    bind_opt(s, 2, signer);
    bind_opt(s, 3, nonce);
    return collect_rows(st, s, join_row, out, err, "cannot read join requests");
}

/* {"id","ts","received_ms"} of one entry of a fork: ts read from its
 * bytes (they were refused, so only their text is known). */
static json_t *
fork_side(sqlite3_stmt *s, int col)
{
    json_t *o =
        json_pack("{s:s, s:I, s:I}", "id", col_text(s, col), "ts",
                  (json_int_t)sqlite3_column_int64(s, col + 1), "received_ms",
                  (json_int_t)sqlite3_column_int64(s, col + 2));
    return o;
}

enum ntm_err
ntm_store_forks(struct ntm_store *st, json_t **out, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    json_t *cur = NULL;
    *out = json_array();
    if (!*out)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    /* One row per refused entry, its (author, seq) group's held entry
     * beside it (NULL when the log holds none at that seq). */
    int r = sqlite3_prepare_v2(
        st->db,
        "SELECT f.author, f.seq, f.id, "
        " json_extract(CAST(f.bytes AS TEXT), '$.ts'), f.received_ms, "
        " e.id, e.ts, e.received_ms "
        "FROM forks f LEFT JOIN entries e ON e.author=f.author AND "
        "e.seq=f.seq ORDER BY f.author, f.seq, f.received_ms, f.id",
        -1, &s, NULL);
    if (r != SQLITE_OK)
        goto fail;
    int64_t pseq = -1;
    char pauthor[NTM_HEX_ID_LEN + 1] = "";
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *author = col_text(s, 0);
        int64_t seq = sqlite3_column_int64(s, 1);
        if (!cur || strcmp(author, pauthor) != 0 || seq != pseq) {
            cur = json_pack("{s:s, s:I, s:o, s:[]}", "author", author, "seq",
                            (json_int_t)seq, "held",
                            sqlite3_column_type(s, 5) == SQLITE_NULL
                                ? json_null()
                                : fork_side(s, 5),
                            "refused");
            if (json_array_append_new(*out, cur) != 0)
                goto oom;
            snprintf(pauthor, sizeof pauthor, "%s", author);
            pseq = seq;
        }
        if (json_array_append_new(json_object_get(cur, "refused"),
                                  fork_side(s, 2)) != 0)
            goto oom;
    }
    if (r != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(s);
    return NTM_OK;
oom:
    sqlite3_finalize(s);
    json_decref(*out);
    *out = NULL;
    return ntm_error_set(err, NTM_ENOMEM, "out of memory");
fail:;
    enum ntm_err rc = Ntm_db_error(st, r, err, "cannot read fork evidence");
    sqlite3_finalize(s);
    json_decref(*out);
    *out = NULL;
    return rc;
}

static json_t *
stranded_row(sqlite3_stmt *s)
{
    return json_pack("{s:s, s:I, s:s, s:s}", "id", col_text(s, 0), "seq",
                     (json_int_t)sqlite3_column_int64(s, 1), "entry",
                     col_text(s, 2), "sig", col_text(s, 3));
}

enum ntm_err
ntm_store_stranded_unreported(struct ntm_store *st, const char *author,
                              json_t **out, struct ntm_error *err)
{
    sqlite3_stmt *s = NULL;
    *out = NULL;
    int r = sqlite3_prepare_v2(st->db,
                               "SELECT id, seq, CAST(bytes AS TEXT), sig FROM "
                               "stranded WHERE author=?1 AND reported_ms IS "
                               "NULL ORDER BY seq LIMIT 1000",
                               -1, &s, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot read stranded entries");
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    return collect_rows(st, s, stranded_row, out, err,
                        "cannot read stranded entries");
}

enum ntm_err
ntm_store_stranded_mark_reported(struct ntm_store *st, const char *id,
                                 int64_t now_ms, struct ntm_error *err)
{
    sqlite3_stmt *s =
        Ntm_prepare(st, "UPDATE stranded SET reported_ms=?2 WHERE id=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_ms);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    return r == SQLITE_DONE
               ? NTM_OK
               : Ntm_db_error(st, r, err, "cannot mark a stranded entry");
}
