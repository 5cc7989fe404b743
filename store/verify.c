/* SPDX-License-Identifier: MIT */
/*
 * verify.c - the audit: re-verify every entry held from its stored bytes
 * (id = hash of the bytes, signature, the eight members, chain links), list
 * entries without effect and fork evidence; and the full rebuild of the
 * derived state from the log.
 *
 * verify streams the log in (author, seq) order and keeps only the
 * previous row and the problems found, so its memory does not grow with
 * the number of entries.
 *
 * Depends on util/, crypto/, store internals, jansson, SQLite.
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

/*
 * The log in chain order. The index (author, seq) gives the order; each
 * row is then read from the table itself by gseq, so that the columns
 * compared with the bytes are the table's, not the index's copies (SQLite
 * reads indexed columns from the index when it can).
 */
static const char verify_sql[] =
    "SELECT e.id, e.author, e.seq, e.bytes, e.sig, coalesce(f.code, 0), "
    "f.message, e.clock_ahead, coalesce(a.partial, 0), i.author, i.seq, "
    "e.prev, e.ts, e.lc, e.op, e.record FROM entries i CROSS JOIN entries e "
    "ON e.gseq=i.gseq LEFT JOIN effect f ON f.gseq=e.gseq LEFT JOIN authors "
    "a ON "
    "a.author=e.author ORDER BY i.author, i.seq";

/* Check one row against its bytes: NULL when it holds, else the problem
 * code with a reason in msg. NTM_ENOMEM in *rc when memory ran out. */
static const char *
check_row(sqlite3_stmt *s, const char *prev_author, int64_t prev_seq,
          const char *prev_id, char *msg, size_t msglen, enum ntm_err *rc)
{
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
    unsigned char sig[NTM_SIGNATURE_BYTES + 2], pk[NTM_PUBLICKEY_BYTES];
    size_t siglen = 0;
    if (strcmp(e.author, author) != 0 || e.seq != seq ||
        strcmp(iauthor, author) != 0 || sqlite3_column_int64(s, 10) != seq ||
        !same_text(s, 11, e.prev) || sqlite3_column_int64(s, 12) != e.ts ||
        sqlite3_column_int64(s, 13) != e.lc || !same_text(s, 14, e.op) ||
        !same_text(s, 15, e.record)) {
        bad = "bad_entry";
        snprintf(msg, msglen,
                 "stored columns differ from the entry's bytes (altered)");
    } else if (ntm_b64_decode(sig, sizeof(sig), &siglen, sig_b64,
                              strlen(sig_b64)) != NTM_OK ||
               siglen != NTM_SIGNATURE_BYTES ||
               ntm_hex_decode(pk, sizeof(pk), e.author, NTM_HEX_ID_LEN) !=
                   NTM_OK ||
               ntm_sign_verify(sig, bytes, len, pk) != NTM_OK) {
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
out:
    Ntm_entry_release(&e);
    return bad;
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
                       json_pack("{s:s, s:I, s:o}", "author", author, "seq",
                                 (json_int_t)sqlite3_column_int64(s, 1), "ids",
                                 ids))) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
    }
    if (rc == NTM_OK)
        rc = Ntm_step_ok(st, r, err, "cannot read fork evidence");
    sqlite3_finalize(s);
    return rc;
}

enum ntm_err
ntm_store_verify(struct ntm_store *st, json_t **out, struct ntm_error *err)
{
    *out = NULL;
    json_t *invalid = json_array(), *flagged = json_array(),
           *forks = json_array();
    sqlite3_stmt *s = NULL;
    enum ntm_err rc = NTM_OK;
    int64_t total = 0, valid = 0;
    char prev_author[NTM_HEX_ID_LEN + 1] = "";
    char prev_id[NTM_HEX_ID_LEN + 1] = "";
    int64_t prev_seq = 0;
    int r;

    if (!invalid || !flagged || !forks) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    r = sqlite3_prepare_v2(st->db, verify_sql, -1, &s, NULL);
    if (r != SQLITE_OK) {
        rc = Ntm_db_error(st, r, err, "cannot read the log");
        goto out;
    }
    while (rc == NTM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        char msg[256] = "";
        enum ntm_err crc = NTM_OK;
        const char *bad = check_row(s, prev_author, prev_seq, prev_id, msg,
                                    sizeof(msg), &crc);
        if (crc != NTM_OK) {
            rc = ntm_error_set(err, crc, "out of memory");
            break;
        }
        int oom = 0;
        const char *id = row_text(s, 0, &oom);
        total++;
        if (bad) {
            rc = add_problem(invalid, id, bad, msg, err);
        } else {
            valid++;
            enum ntm_err code = (enum ntm_err)sqlite3_column_int(s, 5);
            const char *why = row_text(s, 6, &oom);
            if (oom) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            } else if (code != NTM_OK) {
                const char *w =
                    code == NTM_ENOENT ? "waiting" : ntm_err_wire_code(code);
                rc = add_problem(flagged, id, w ? w : "invalid", why, err);
            } else if (sqlite3_column_int(s, 7)) {
                rc = add_problem(flagged, id, "clock_ahead",
                                 "ts more than 24 hours ahead of this replica",
                                 err);
            }
        }
        snprintf(prev_author, sizeof(prev_author), "%s", row_text(s, 9, &oom));
        snprintf(prev_id, sizeof(prev_id), "%s", id);
        prev_seq = sqlite3_column_int64(s, 10);
    }
    if (rc != NTM_OK)
        goto out;
    if (r != SQLITE_DONE) {
        rc = Ntm_db_error(st, r, err, "cannot read the log");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    if ((rc = verify_forks(st, forks, err)) != NTM_OK)
        goto out;
    *out = json_pack("{s:I, s:I, s:O, s:O, s:O}", "entries", (json_int_t)total,
                     "valid", (json_int_t)valid, "invalid", invalid, "flagged",
                     flagged, "forks", forks);
    if (!*out)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
out:
    sqlite3_finalize(s);
    json_decref(invalid);
    json_decref(flagged);
    json_decref(forks);
    return rc;
}

enum ntm_err
ntm_store_rebuild(struct ntm_store *st, struct ntm_error *err)
{
    enum ntm_err rc = Ntm_sp_begin(st, err);
    if (rc != NTM_OK)
        return rc;
    rc = Ntm_exec(st,
                  "DELETE FROM effect; DELETE FROM enrollments; "
                  "DELETE FROM revocations; DELETE FROM units; "
                  "DELETE FROM records;",
                  err);
    if (rc == NTM_OK)
        rc = Ntm_auth_recompute(st, NULL, err);
    if (rc == NTM_OK)
        rc = Ntm_state_all(st, err);
    /* Entries of other ops (unknown ones) get their effect again. */
    if (rc == NTM_OK) {
        sqlite3_stmt *s = NULL;
        int r = sqlite3_prepare_v2(
            st->db,
            "SELECT bytes, gseq FROM entries WHERE record IS NULL AND op NOT "
            "IN "
            "('device.enroll','device.revoke','unit.create')",
            -1, &s, NULL);
        if (r != SQLITE_OK) {
            rc = Ntm_db_error(st, r, err, "cannot rebuild");
        } else {
            while (rc == NTM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
                struct Ntm_entry e;
                char msg[160];
                enum ntm_err v = Ntm_entry_parse(
                    &e, sqlite3_column_blob(s, 0),
                    (size_t)sqlite3_column_bytes(s, 0), msg, sizeof(msg));
                if (v == NTM_OK) {
                    enum ntm_err code = Ntm_rules_body(&e, msg, sizeof(msg));
                    rc = Ntm_effect_set(st, sqlite3_column_int64(s, 1), code,
                                        code == NTM_OK ? NULL : msg, err);
                } else if (v == NTM_ENOMEM) {
                    rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                }
                Ntm_entry_release(&e);
            }
            if (rc == NTM_OK)
                rc = Ntm_step_ok(st, r, err, "cannot rebuild");
            sqlite3_finalize(s);
        }
    }
    enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
    return rc != NTM_OK ? rc : rc2;
}
