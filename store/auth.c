/* SPDX-License-Identifier: MIT */
/*
 * auth.c - who may act: the effective enrollments and revocations, as a
 * function of the set of device.* entries held (SPEC.md sections 1-3).
 *
 * Authorization is part of the state: an enrollment takes effect when its
 * author is the root or an admin whose own enrollment covers that entry's
 * seq and is not revoked, with the new scope inside the admin's. A
 * revocation likewise. Because revocations can remove the authority of
 * other device.* entries, the effective set is computed by iterating from
 * nothing (only the root acts) until it stops changing: an enrollment that
 * nobody grounded in the root never takes effect, and every replica with
 * the same entries reaches the same sets whatever their arrival order.
 *
 * Known limit: each round is O(n^2) in the number of device.* entries
 * (thousands in a province); sort by key if that ever matters.
 *
 * Depends on util/, store internals, jansson, SQLite.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_ROUNDS 64

struct devop {
    char id[NTM_HEX_ID_LEN + 1];
    int64_t gseq;
    char author[NTM_HEX_ID_LEN + 1];
    int64_t seq, ts, lc;
    int enroll;  /* 1 enroll, 0 revoke */
    int body_ok; /* step 5 body shape */
    char key[NTM_HEX_ID_LEN + 1];
    char role[16];
    char scope[128];
    char name[128];
    char org[32];
    int64_t from_seq;
    int64_t after_seq;
    char reason[256];
    enum ntm_err code; /* effect in the current round */
    char msg[160];
};

static void
copy_str(char *dst, size_t n, json_t *v)
{
    snprintf(dst, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* Fill out (already cleared) when author is the root key: an admin whose
 * scope is the whole province, for every seq. Returns 1 then, else 0. */
static int
root_enrollment(const struct ntm_store *st, const char *author,
                struct ntm_enrollment *out)
{
    if (!st->root[0] || strcmp(author, st->root) != 0)
        return 0;
    out->enrolled = 1;
    out->is_root = 1;
    snprintf(out->role, sizeof(out->role), "admin");
    snprintf(out->scope, sizeof(out->scope), "%s", st->root_scope);
    out->from_seq = 1;
    return 1;
}

/* The enrollment of author at seq given the effective flags eff[]. */
static void
lookup(struct ntm_store *st, struct devop *ops, size_t n, const int *eff,
       const char *author, int64_t seq, struct ntm_enrollment *out)
{
    memset(out, 0, sizeof(*out));
    out->revoked_after = -1;
    if (root_enrollment(st, author, out))
        return;
    struct devop *best = NULL;
    for (size_t i = 0; i < n; i++) {
        struct devop *o = &ops[i];
        if (!eff[i] || strcmp(o->key, author) != 0)
            continue;
        if (o->enroll) {
            if (o->from_seq > seq)
                continue;
            if (!best || o->from_seq > best->from_seq ||
                (o->from_seq == best->from_seq &&
                 Ntm_order_cmp(o->ts, o->lc, o->author, o->seq, best->ts,
                               best->lc, best->author, best->seq) > 0))
                best = o;
        } else if (out->revoked_after < 0 ||
                   o->after_seq < out->revoked_after) {
            out->revoked_after = o->after_seq;
        }
    }
    if (out->revoked_after >= 0 && seq > out->revoked_after)
        out->revoked = 1;
    if (best) {
        out->enrolled = 1;
        snprintf(out->role, sizeof(out->role), "%s", best->role);
        snprintf(out->scope, sizeof(out->scope), "%s", best->scope);
        snprintf(out->name, sizeof(out->name), "%s", best->name);
        snprintf(out->org, sizeof(out->org), "%s", best->org);
        out->from_seq = best->from_seq;
    }
}

static enum ntm_err
evaluate(struct ntm_store *st, struct devop *ops, size_t n, const int *eff,
         struct devop *o)
{
    if (!o->body_ok)
        return NTM_EBADBODY;
    struct ntm_enrollment a;
    lookup(st, ops, n, eff, o->author, o->seq, &a);
    if (!a.enrolled) {
        snprintf(o->msg, sizeof(o->msg), "author is not enrolled");
        return NTM_EUNKNOWNAUTHOR;
    }
    if (a.revoked) {
        snprintf(o->msg, sizeof(o->msg), "author is revoked after seq %lld",
                 (long long)a.revoked_after);
        return NTM_EREVOKED;
    }
    if (strcmp(a.role, "admin") != 0) {
        snprintf(o->msg, sizeof(o->msg), "a %s may not %s devices", a.role,
                 o->enroll ? "enroll" : "revoke");
        return NTM_EFORBIDDEN;
    }
    if (o->enroll) {
        if (!Ntm_scope_covers(a.scope, o->scope)) {
            snprintf(o->msg, sizeof(o->msg), "scope %s is outside %s", o->scope,
                     a.scope);
            return NTM_EFORBIDDEN;
        }
        return NTM_OK;
    }
    if (st->root[0] && strcmp(o->key, st->root) == 0) {
        snprintf(o->msg, sizeof(o->msg), "the root key cannot be revoked");
        return NTM_EFORBIDDEN;
    }
    for (size_t i = 0; i < n; i++) {
        if (eff[i] && ops[i].enroll && strcmp(ops[i].key, o->key) == 0 &&
            !Ntm_scope_covers(a.scope, ops[i].scope)) {
            snprintf(o->msg, sizeof(o->msg),
                     "device is enrolled for %s, outside %s", ops[i].scope,
                     a.scope);
            return NTM_EFORBIDDEN;
        }
    }
    return NTM_OK;
}

static enum ntm_err
load_ops(struct ntm_store *st, struct devop **out, size_t *count,
         struct ntm_error *err)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT id, author, seq, ts, lc, op, bytes, gseq FROM entries WHERE "
        "op IN "
        "('device.enroll','device.revoke') ORDER BY id",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    size_t cap = 0, n = 0;
    struct devop *ops = NULL;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            struct devop *p = ntm_realloc(ops, nc * sizeof(*ops));
            if (!p) {
                sqlite3_reset(s);
                ntm_free(ops);
                return ntm_error_set(err, NTM_ENOMEM, "out of memory");
            }
            ops = p;
            cap = nc;
        }
        struct devop *o = &ops[n];
        memset(o, 0, sizeof(*o));
        struct Ntm_entry e;
        char msg[160];
        const char *bytes = sqlite3_column_blob(s, 6);
        size_t len = (size_t)sqlite3_column_bytes(s, 6);
        enum ntm_err v = Ntm_entry_parse(&e, bytes, len, msg, sizeof(msg));
        if (v == NTM_ENOMEM) {
            Ntm_entry_release(&e);
            sqlite3_reset(s);
            ntm_free(ops);
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
        if (v != NTM_OK) {
            /* Damaged row: verify reports it; it grants nothing. */
            Ntm_entry_release(&e);
            continue;
        }
        snprintf(o->id, sizeof(o->id), "%s",
                 (const char *)sqlite3_column_text(s, 0));
        snprintf(o->author, sizeof(o->author), "%s", e.author);
        o->gseq = sqlite3_column_int64(s, 7);
        o->seq = e.seq;
        o->ts = e.ts;
        o->lc = e.lc;
        o->enroll = strcmp(e.op, "device.enroll") == 0;
        o->body_ok = Ntm_rules_body(&e, o->msg, sizeof(o->msg)) == NTM_OK;
        if (o->body_ok) {
            json_t *b = e.body;
            copy_str(o->key, sizeof(o->key), json_object_get(b, "key"));
            if (o->enroll) {
                copy_str(o->role, sizeof(o->role), json_object_get(b, "role"));
                copy_str(o->scope, sizeof(o->scope),
                         json_object_get(b, "scope"));
                copy_str(o->name, sizeof(o->name), json_object_get(b, "name"));
                copy_str(o->org, sizeof(o->org), json_object_get(b, "org"));
                json_t *fs = json_object_get(b, "from_seq");
                o->from_seq = fs ? json_integer_value(fs) : 1;
            } else {
                o->after_seq =
                    json_integer_value(json_object_get(b, "after_seq"));
                copy_str(o->reason, sizeof(o->reason),
                         json_object_get(b, "reason"));
            }
        }
        Ntm_entry_release(&e);
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        ntm_free(ops);
        return Ntm_db_error(st, rc, err, "cannot read device entries");
    }
    *out = ops;
    *count = n;
    return NTM_OK;
}

/* Keys whose effective rows differ between the table and the new set. */
static enum ntm_err
collect_changes(struct ntm_store *st, struct devop *ops, size_t n,
                const int *eff, json_t *changed, struct ntm_error *err)
{
    static const char *const sqls[2] = {
        "SELECT entry, key FROM enrollments",
        "SELECT entry, key FROM revocations",
    };
    for (int t = 0; t < 2; t++) {
        sqlite3_stmt *s = Ntm_prepare(st, sqls[t], err);
        if (!s)
            return err ? err->code : NTM_EDB;
        int r, bad = 0;
        while (!bad && (r = sqlite3_step(s)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(s, 0);
            const char *key = (const char *)sqlite3_column_text(s, 1);
            int still = 0;
            for (size_t i = 0; i < n; i++)
                if (eff[i] && strcmp(ops[i].id, id) == 0)
                    still = 1;
            if (!still)
                bad = json_array_append_new(changed, json_string(key));
        }
        sqlite3_reset(s);
        if (bad)
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        enum ntm_err rc = Ntm_step_ok(st, r, err, "cannot read enrollments");
        if (rc != NTM_OK)
            return rc;
    }
    /* New effective rows not yet in the tables. */
    for (size_t i = 0; i < n; i++) {
        if (!eff[i])
            continue;
        sqlite3_stmt *s = Ntm_prepare(
            st,
            ops[i].enroll ? "SELECT 1 FROM enrollments WHERE entry=?1"
                          : "SELECT 1 FROM revocations WHERE entry=?1",
            err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, ops[i].id, -1, SQLITE_STATIC);
        int r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r == SQLITE_DONE &&
            json_array_append_new(changed, json_string(ops[i].key)))
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        enum ntm_err rc = Ntm_step_ok(st, r, err, "cannot read enrollments");
        if (rc != NTM_OK)
            return rc;
    }
    return NTM_OK;
}

static enum ntm_err
write_tables(struct ntm_store *st, struct devop *ops, size_t n, const int *eff,
             struct ntm_error *err)
{
    enum ntm_err rc =
        Ntm_exec(st, "DELETE FROM enrollments; DELETE FROM revocations;", err);
    if (rc != NTM_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct devop *o = &ops[i];
        rc = Ntm_effect_set(st, o->gseq, eff[i] ? NTM_OK : o->code,
                            eff[i] ? NULL : o->msg, err);
        if (rc != NTM_OK)
            return rc;
        if (!eff[i])
            continue;
        sqlite3_stmt *s;
        if (o->enroll) {
            s = Ntm_prepare(st,
                            "INSERT INTO enrollments(entry, key, role, scope, "
                            "name, org, from_seq, ts, lc, author, seq) "
                            "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                            err);
            if (!s)
                return err ? err->code : NTM_EDB;
            sqlite3_bind_text(s, 1, o->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, o->key, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, o->role, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, o->scope, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 5, o->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 6, o->org, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 7, o->from_seq);
            sqlite3_bind_int64(s, 8, o->ts);
            sqlite3_bind_int64(s, 9, o->lc);
            sqlite3_bind_text(s, 10, o->author, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 11, o->seq);
        } else {
            s = Ntm_prepare(st,
                            "INSERT INTO revocations(entry, key, after_seq, "
                            "reason, author) VALUES(?1,?2,?3,?4,?5)",
                            err);
            if (!s)
                return err ? err->code : NTM_EDB;
            sqlite3_bind_text(s, 1, o->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, o->key, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 3, o->after_seq);
            sqlite3_bind_text(s, 4, o->reason, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 5, o->author, -1, SQLITE_STATIC);
        }
        int r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE)
            return Ntm_db_error(st, r, err, "cannot save authorization");
    }
    return NTM_OK;
}

enum ntm_err
Ntm_auth_recompute(struct ntm_store *st, json_t **changed_keys,
                   struct ntm_error *err)
{
    struct devop *ops = NULL;
    size_t n = 0;
    int *eff = NULL, *next = NULL;
    json_t *changed = NULL;
    enum ntm_err rc = load_ops(st, &ops, &n, err);
    if (rc != NTM_OK)
        return rc;
    eff = ntm_calloc(n + 1, sizeof(int));
    next = ntm_calloc(n + 1, sizeof(int));
    changed = json_array();
    if (!eff || !next || !changed) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    /* Rounds: each evaluates every entry against the previous round's
     * effective set (order-independent by construction). */
    for (int round = 0; round < MAX_ROUNDS; round++) {
        int same = 1;
        for (size_t i = 0; i < n; i++) {
            ops[i].code = evaluate(st, ops, n, eff, &ops[i]);
            next[i] = ops[i].code == NTM_OK;
            if (next[i] != eff[i])
                same = 0;
        }
        memcpy(eff, next, n * sizeof(int));
        if (same)
            break;
    }
    rc = collect_changes(st, ops, n, eff, changed, err);
    if (rc == NTM_OK)
        rc = write_tables(st, ops, n, eff, err);
    if (rc == NTM_OK && changed_keys) {
        *changed_keys = changed;
        changed = NULL;
    }
out:
    json_decref(changed);
    ntm_free(eff);
    ntm_free(next);
    ntm_free(ops);
    return rc;
}

enum ntm_err
Ntm_auth_lookup(struct ntm_store *st, const char *author, int64_t seq,
                struct ntm_enrollment *out, struct ntm_error *err)
{
    memset(out, 0, sizeof(*out));
    out->revoked_after = -1;
    if (root_enrollment(st, author, out))
        return NTM_OK;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT role, scope, name, org, from_seq FROM enrollments WHERE "
        "key=?1 AND from_seq<=?2 ORDER BY from_seq DESC, ts DESC, lc DESC, "
        "author DESC, seq DESC LIMIT 1",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->enrolled = 1;
        snprintf(out->role, sizeof(out->role), "%s",
                 (const char *)sqlite3_column_text(s, 0));
        snprintf(out->scope, sizeof(out->scope), "%s",
                 (const char *)sqlite3_column_text(s, 1));
        snprintf(out->name, sizeof(out->name), "%s",
                 sqlite3_column_text(s, 2)
                     ? (const char *)sqlite3_column_text(s, 2)
                     : "");
        snprintf(out->org, sizeof(out->org), "%s",
                 sqlite3_column_text(s, 3)
                     ? (const char *)sqlite3_column_text(s, 3)
                     : "");
        out->from_seq = sqlite3_column_int64(s, 4);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return Ntm_db_error(st, rc, err, "cannot read enrollments");
    s = Ntm_prepare(st, "SELECT min(after_seq) FROM revocations WHERE key=?1",
                    err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        out->revoked_after = sqlite3_column_int64(s, 0);
        out->revoked = seq > out->revoked_after;
    }
    sqlite3_reset(s);
    return Ntm_step_ok(st, rc, err, "cannot read revocations");
}

enum ntm_err
ntm_store_enrollment(struct ntm_store *st, const char *author, int64_t seq,
                     struct ntm_enrollment *out, struct ntm_error *err)
{
    if (seq <= 0) {
        int64_t head = 0;
        ntm_store_head(st, author, &head, NULL);
        seq = head + 1;
    }
    return Ntm_auth_lookup(st, author, seq, out, err);
}
