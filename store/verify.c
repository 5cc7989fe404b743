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

static void
add_problem(json_t *list, const char *id, const char *code, const char *why)
{
    json_t *o = json_pack("{s:s, s:s}", "entry", id, "code", code);
    if (o && why && *why)
        json_object_set_new(o, "message", json_string(why));
    json_array_append_new(list, o);
}

static const char *
row_text(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? t : "";
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

    if (!invalid || !flagged || !forks) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    int r = sqlite3_prepare_v2(
        st->db,
        "SELECT e.id, e.author, e.seq, e.bytes, e.sig, coalesce(f.code, 0), "
        "f.message, e.clock_ahead, coalesce(a.partial, 0) FROM entries e "
        "LEFT JOIN effect f ON f.id=e.id LEFT JOIN authors a ON "
        "a.author=e.author ORDER BY e.author, e.seq",
        -1, &s, NULL);
    if (r != SQLITE_OK) {
        rc = Ntm_db_error(st, r, err, "cannot read the log");
        goto out;
    }
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        total++;
        const char *id = row_text(s, 0);
        const char *author = row_text(s, 1);
        int64_t seq = sqlite3_column_int64(s, 2);
        const char *bytes = sqlite3_column_blob(s, 3);
        size_t len = (size_t)sqlite3_column_bytes(s, 3);
        const char *sig_b64 = row_text(s, 4);
        int partial = sqlite3_column_int(s, 8);
        char msg[256] = "";
        const char *bad = NULL;

        struct Ntm_entry e;
        char hash[NTM_HEX_ID_LEN + 1];
        ntm_hash_hex(hash, bytes ? bytes : "", len);
        if (!bytes || strcmp(hash, id) != 0) {
            bad = "bad_entry";
            snprintf(msg, sizeof(msg),
                     "stored bytes do not hash to the entry id (altered)");
        } else if (Ntm_entry_parse(&e, bytes, len, msg, sizeof(msg)) !=
                   NTM_OK) {
            bad = "bad_entry";
        } else {
            unsigned char sig[NTM_SIGNATURE_BYTES + 2], pk[NTM_PUBLICKEY_BYTES];
            size_t siglen = 0;
            if (strcmp(e.author, author) != 0 || e.seq != seq) {
                bad = "bad_entry";
                snprintf(msg, sizeof(msg),
                         "stored author/seq differ from the entry's bytes");
            } else if (ntm_b64_decode(sig, sizeof(sig), &siglen, sig_b64,
                                      strlen(sig_b64)) != NTM_OK ||
                       siglen != NTM_SIGNATURE_BYTES ||
                       ntm_hex_decode(pk, sizeof(pk), e.author,
                                      NTM_HEX_ID_LEN) != NTM_OK ||
                       ntm_sign_verify(sig, bytes, len, pk) != NTM_OK) {
                bad = "bad_signature";
                snprintf(msg, sizeof(msg), "signature does not verify");
            } else if (strcmp(prev_author, author) == 0 &&
                       seq == prev_seq + 1) {
                if (!e.prev || strcmp(e.prev, prev_id) != 0) {
                    bad = "fork";
                    snprintf(msg, sizeof(msg),
                             "prev does not name the entry at seq %lld",
                             (long long)prev_seq);
                }
            } else if (!partial &&
                       ((strcmp(prev_author, author) != 0 && seq != 1) ||
                        (strcmp(prev_author, author) == 0 &&
                         seq != prev_seq + 1))) {
                bad = "gap";
                snprintf(msg, sizeof(msg), "entries before seq %lld missing",
                         (long long)seq);
            }
        }
        if (!bad || strcmp(bad, "bad_entry") != 0 || msg[0] != 's')
            Ntm_entry_release(&e);
        if (bad) {
            add_problem(invalid, id, bad, msg);
        } else {
            valid++;
            enum ntm_err code = (enum ntm_err)sqlite3_column_int(s, 5);
            if (code != NTM_OK) {
                const char *w =
                    code == NTM_ENOENT ? "waiting" : ntm_err_wire_code(code);
                add_problem(flagged, id, w ? w : "invalid", row_text(s, 6));
            } else if (sqlite3_column_int(s, 7)) {
                add_problem(flagged, id, "clock_ahead",
                            "ts more than 24 hours ahead of this replica");
            }
        }
        snprintf(prev_author, sizeof(prev_author), "%s", author);
        snprintf(prev_id, sizeof(prev_id), "%s", id);
        prev_seq = seq;
    }
    if (r != SQLITE_DONE) {
        rc = Ntm_db_error(st, r, err, "cannot read the log");
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    r = sqlite3_prepare_v2(
        st->db,
        "SELECT author, seq, group_concat(id, ' '), (SELECT id FROM entries e "
        "WHERE e.author=g.author AND e.seq=g.seq) FROM (SELECT * FROM forks "
        "ORDER BY author, seq, id) g GROUP BY author, seq ORDER BY author, seq",
        -1, &s, NULL);
    if (r != SQLITE_OK) {
        rc = Ntm_db_error(st, r, err, "cannot read fork evidence");
        goto out;
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
        /* The entry held at that seq first, then every refused one. */
        json_t *ids = json_array();
        if (sqlite3_column_text(s, 3))
            json_array_append_new(ids, json_string(row_text(s, 3)));
        const char *p = row_text(s, 2);
        while (*p) {
            const char *sp = strchr(p, ' ');
            size_t n = sp ? (size_t)(sp - p) : strlen(p);
            json_array_append_new(ids, json_stringn(p, n));
            p += n + (sp ? 1 : 0);
        }
        json_array_append_new(
            forks,
            json_pack("{s:s, s:I, s:o}", "author", row_text(s, 0), "seq",
                      (json_int_t)sqlite3_column_int64(s, 1), "ids", ids));
    }
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
            "SELECT bytes FROM entries WHERE record IS NULL AND op NOT IN "
            "('device.enroll','device.revoke','unit.create')",
            -1, &s, NULL);
        if (r != SQLITE_OK) {
            rc = Ntm_db_error(st, r, err, "cannot rebuild");
        } else {
            while (rc == NTM_OK && sqlite3_step(s) == SQLITE_ROW) {
                struct Ntm_entry e;
                char msg[160];
                if (Ntm_entry_parse(&e, sqlite3_column_blob(s, 0),
                                    (size_t)sqlite3_column_bytes(s, 0), msg,
                                    sizeof(msg)) == NTM_OK) {
                    enum ntm_err code = Ntm_rules_body(&e, msg, sizeof(msg));
                    rc = Ntm_effect_set(st, e.id, code,
                                        code == NTM_OK ? NULL : msg, err);
                }
                Ntm_entry_release(&e);
            }
            sqlite3_finalize(s);
        }
    }
    enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
    return rc != NTM_OK ? rc : rc2;
}
