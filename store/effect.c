/* SPDX-License-Identifier: MIT */
/*
 * effect.c - the `effect` table: per entry held (keyed by its gseq), 0 when
 * it takes effect, else the code why not (SPEC.md section 2, step 5) and a
 * message. This file is its only writer: authorization (auth.c), the record
 * and unit state (state.c), the gate (gate.c) and the rebuild (derive.c)
 * call the functions below, never SQL on the table (only the schema
 * migrations of db.c rewrite it).
 *
 * The effect of the entry being taken is also kept in the store handle
 * (Ntm_effect_watch) so that ingest can report it without reading the row
 * back.
 *
 * Depends on util/, db.c, SQLite.
 */
#include "store_int.h"

#include <stdio.h>

enum ntm_err
Ntm_effect_set(struct ntm_store *st, int64_t gseq, enum ntm_err code,
               const char *msg, struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "INSERT OR REPLACE INTO effect(gseq, code, message) VALUES(?1,?2,?3)",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_int64(s, 1, gseq);
    sqlite3_bind_int(s, 2, (int)code);
    if (msg && *msg)
        sqlite3_bind_text(s, 3, msg, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot save an entry's effect");
    if (st->fx_gseq == gseq) {
        st->fx_seen = 1;
        st->fx_code = code;
        Ntm_copy(st->fx_msg, sizeof(st->fx_msg), msg ? msg : "");
    }
    return NTM_OK;
}

enum ntm_err
Ntm_effect_set_many(struct ntm_store *st, enum ntm_err code,
                    const char *msg_sql, const char *where_sql,
                    struct ntm_error *err)
{
    char sql[320];
    int n = snprintf(sql, sizeof(sql),
                     "INSERT OR REPLACE INTO effect(gseq, code, message) "
                     "SELECT gseq, %d, %s FROM entries WHERE %s",
                     (int)code, msg_sql, where_sql);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return ntm_error_set(err, NTM_EINVAL, "effect statement too long");
    return Ntm_exec(st, sql, err);
}

enum ntm_err
Ntm_effect_move(struct ntm_store *st, int64_t from, int64_t to,
                struct ntm_error *err)
{
    sqlite3_stmt *s =
        Ntm_prepare(st, "UPDATE effect SET gseq=?2 WHERE gseq=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_int64(s, 1, from);
    sqlite3_bind_int64(s, 2, to);
    int r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE)
        return Ntm_db_error(st, r, err, "cannot index the entry");
    return NTM_OK;
}

enum ntm_err
Ntm_effect_clear(struct ntm_store *st, struct ntm_error *err)
{
    return Ntm_exec(st, "DELETE FROM effect;", err);
}

void
Ntm_effect_watch(struct ntm_store *st, int64_t gseq)
{
    st->fx_gseq = gseq;
    st->fx_seen = 0;
}

enum ntm_err
Ntm_effect_get(struct ntm_store *st, int64_t gseq, enum ntm_err *code,
               char *msg, size_t msglen, struct ntm_error *err)
{
    if (gseq && st->fx_gseq == gseq && st->fx_seen) {
        *code = st->fx_code;
        snprintf(msg, msglen, "%s", st->fx_msg);
        return NTM_OK;
    }
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
