/* SPDX-License-Identifier: MIT */
/*
 * auth.c - who may act: the effective enrollments and revocations, as a
 * function of the set of device.* entries held (SPEC.md sections 1-3).
 *
 * Authority is checked against what an entry takes away, not only against
 * what it gives (docs/authority.md has the rules with examples):
 *
 *   1. The actor is the root, or an admin whose enrollment governs the
 *      entry's seq and who is not revoked at it. Its level is 0 for the
 *      root, else the depth of its scope (1 province, 2 district, ...).
 *      Nobody enrolls or revokes itself; nobody enrolls or revokes the
 *      root key (its authority comes from configuration).
 *   2. An enrollment's scope lies within the actor's; an admin enrollment
 *      strictly within it (only the root names an admin at its own level).
 *   3. Over the key's other enrollments: the actor must lie strictly above
 *      every admin enrollment of the key (admin-over-admin follows the
 *      tree), and must cover the enrollments it takes seqs from: those
 *      with the greatest from_seq not above its own (an enrollment governs
 *      from its from_seq to the next one's). A revocation after seq a takes
 *      the seqs after a: it must cover the enrollment governing a + 1 and
 *      every one with from_seq > a.
 *   4. Rule 3 weighs a key's enrollments by authority: those made by
 *      actors of a smaller level first (a higher authority always
 *      prevails, whatever the order or the clocks), then those of the same
 *      level all together - two equals who take the same seqs from each
 *      other both stay without effect until a higher admin settles it.
 *      Revocations are judged against the enrollments that hold.
 *
 * Because an admin can only act on keys strictly below it, authority flows
 * down the unit tree and never in a circle, so the result is one function
 * of the entries held, reached whatever their arrival order. It is kept
 * incrementally, key by key: an entry changes only the verdicts on the key
 * it names, and when that key's enrollments change, the keys it acted on
 * are judged again (a worklist). An entry whose author holds no authority
 * at its seq (a recorder's junk enrollments) is judged alone, in constant
 * work, and disturbs nothing.
 *
 * Depends on util/, store internals below it (rules.c, db.c, log.c,
 * effect.c: see store_int.h), jansson, SQLite.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One device.* entry naming the key being judged. */
struct devop {
    char id[NTM_HEX_ID_LEN + 1];
    int64_t gseq;
    char author[NTM_HEX_ID_LEN + 1];
    int64_t seq, ts, lc;
    int enroll; /* 1 enroll, 0 revoke */
    char role[16];
    char scope[128];
    char name[128];
    char org[32];
    int64_t from_seq;
    int64_t after_seq;
    char reason[256];
    /* the actor, as enrolled at seq */
    int root;
    int level;
    char ascope[128];
    char aorg[32];
    /* verdict */
    enum ntm_err code;
    char msg[200];
    int effective;
};

static void
copy_str(char *dst, size_t n, json_t *v)
{
    snprintf(dst, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int
depth(const char *scope)
{
    int d = 1;
    for (const char *p = scope; *p; p++)
        d += *p == '.';
    return d;
}

/* Whether a lies strictly above b in the unit tree. */
static int
strictly_above(const char *a, const char *b)
{
    return Ntm_scope_covers(a, b) && strcmp(a, b) != 0;
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

/* The key a device.* entry names, "" when its body has none. */
static void
target_of(const struct Ntm_entry *e, char key[NTM_HEX_ID_LEN + 1])
{
    json_t *k = json_object_get(e->body, "key");
    key[0] = '\0';
    if (json_is_string(k) && json_string_length(k) == NTM_HEX_ID_LEN &&
        ntm_is_lower_hex(json_string_value(k), NTM_HEX_ID_LEN))
        memcpy(key, json_string_value(k), NTM_HEX_ID_LEN + 1);
}

/* Rule 1 for the entry e (body already valid) naming key: the actor's
 * authority at e's seq, into o. Returns NTM_OK when the actor may act,
 * else the verdict with the reason in o->msg. */
static enum ntm_err
judge_actor(struct ntm_store *st, const struct Ntm_entry *e, const char *key,
            struct devop *o, struct ntm_error *err)
{
    if (st->root[0] && strcmp(key, st->root) == 0) {
        snprintf(o->msg, sizeof(o->msg),
                 "the root key cannot be enrolled or revoked: its authority "
                 "comes from the configuration");
        return NTM_EFORBIDDEN;
    }
    if (strcmp(e->author, key) == 0) {
        snprintf(o->msg, sizeof(o->msg),
                 "a device may not enroll or revoke itself");
        return NTM_EFORBIDDEN;
    }
    struct ntm_enrollment a;
    enum ntm_err rc = Ntm_auth_lookup(st, e->author, e->seq, &a, err);
    if (rc != NTM_OK)
        return rc;
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
                 strcmp(e->op, "device.enroll") == 0 ? "enroll" : "revoke");
        return NTM_EFORBIDDEN;
    }
    o->root = a.is_root;
    o->level = a.is_root ? 0 : depth(a.scope);
    snprintf(o->ascope, sizeof(o->ascope), "%s", a.scope);
    snprintf(o->aorg, sizeof(o->aorg), "%s", a.org);
    return NTM_OK;
}

/* Rule 2 for an enrollment whose actor is known. */
static enum ntm_err
judge_scope(struct devop *o)
{
    if (!Ntm_scope_covers(o->ascope, o->scope)) {
        snprintf(o->msg, sizeof(o->msg), "scope %s is outside %s", o->scope,
                 o->ascope);
        return NTM_EFORBIDDEN;
    }
    if (strcmp(o->role, "admin") == 0 && !o->root &&
        !strictly_above(o->ascope, o->scope)) {
        snprintf(o->msg, sizeof(o->msg),
                 "only an admin above %s may make an admin of it", o->scope);
        return NTM_EFORBIDDEN;
    }
    /* An admin of one organization enrolls devices of that organization
     * only: an enrollment of no organization, or of the Front, would act
     * across organizations. */
    if (o->aorg[0] && !Ntm_org_covers(o->aorg, o->org[0] ? o->org : NULL)) {
        snprintf(o->msg, sizeof(o->msg),
                 "an admin of organization %s enrolls only devices of %s",
                 o->aorg, o->aorg);
        return NTM_EFORBIDDEN;
    }
    return NTM_OK;
}

/* Rule 3: may o take what it takes from the enrollments set[0..n) (o
 * itself skipped)? 1 yes; 0 no, with the reason in o->msg. */
static int
respects(struct devop *o, struct devop **set, size_t n)
{
    /* Admin over admin follows the tree. */
    for (size_t i = 0; i < n; i++) {
        struct devop *y = set[i];
        if (y == o || strcmp(y->role, "admin") != 0 || o->root)
            continue;
        if (!strictly_above(o->ascope, y->scope)) {
            snprintf(o->msg, sizeof(o->msg),
                     "device is an admin of %s: only an admin above it may "
                     "change it",
                     y->scope);
            return 0;
        }
    }
    /* What it takes: the seqs from its from_seq (enroll) or after its
     * after_seq (revoke). */
    int64_t from = o->enroll ? o->from_seq : o->after_seq + 1;
    int64_t gov = 0; /* greatest from_seq <= from among the others */
    for (size_t i = 0; i < n; i++)
        if (set[i] != o && set[i]->from_seq <= from && set[i]->from_seq > gov)
            gov = set[i]->from_seq;
    for (size_t i = 0; i < n; i++) {
        struct devop *y = set[i];
        if (y == o)
            continue;
        int taken = y->from_seq == gov || (!o->enroll && y->from_seq > from);
        if (taken && !Ntm_scope_covers(o->ascope, y->scope)) {
            snprintf(o->msg, sizeof(o->msg),
                     "device is enrolled for %s from seq %lld, outside %s",
                     y->scope, (long long)y->from_seq, o->ascope);
            return 0;
        }
        if (taken && o->aorg[0] &&
            !Ntm_org_covers(o->aorg, y->org[0] ? y->org : NULL)) {
            snprintf(o->msg, sizeof(o->msg),
                     "device is enrolled for organization %s from seq %lld, "
                     "outside %s",
                     y->org[0] ? y->org : "(all)", (long long)y->from_seq,
                     o->aorg);
            return 0;
        }
    }
    return 1;
}

static int
by_level(const void *a, const void *b)
{
    const struct devop *x = *(struct devop *const *)a;
    const struct devop *y = *(struct devop *const *)b;
    if (x->level != y->level)
        return x->level < y->level ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Rules 3 and 4 over the candidates of one key (actor and scope passed). */
static enum ntm_err
settle(struct devop *ops, size_t n, struct ntm_error *err)
{
    struct devop **held = ntm_calloc(n + 1, sizeof(*held));
    struct devop **cand = ntm_calloc(n + 1, sizeof(*cand));
    int *standing = ntm_calloc(n + 1, sizeof(int));
    if (!held || !cand || !standing) {
        ntm_free(held);
        ntm_free(cand);
        ntm_free(standing);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    size_t nc = 0, nh = 0;
    for (size_t i = 0; i < n; i++)
        if (ops[i].code == NTM_OK && ops[i].enroll)
            cand[nc++] = &ops[i];
    qsort(cand, nc, sizeof(*cand), by_level);
    for (size_t g = 0; g < nc;) {
        size_t end = g;
        while (end < nc && cand[end]->level == cand[g]->level)
            end++;
        /* Standing: respects what higher authorities hold. */
        for (size_t i = g; i < end; i++)
            standing[i] = respects(cand[i], held, nh);
        /* Effective: also respects its standing equals. */
        size_t base = nh;
        for (size_t i = g; i < end; i++)
            if (standing[i])
                held[nh++] = cand[i];
        for (size_t i = g; i < end; i++) {
            struct devop *o = cand[i];
            if (!standing[i] || !respects(o, held, nh)) {
                o->code = NTM_EFORBIDDEN;
                continue;
            }
            o->effective = 1;
        }
        /* Keep only the effective ones of this level. */
        size_t k = base;
        for (size_t i = base; i < nh; i++)
            if (held[i]->effective)
                held[k++] = held[i];
        nh = k;
        g = end;
    }
    for (size_t i = 0; i < n; i++) {
        struct devop *o = &ops[i];
        if (o->code != NTM_OK || o->enroll)
            continue;
        if (respects(o, held, nh))
            o->effective = 1;
        else
            o->code = NTM_EFORBIDDEN;
    }
    ntm_free(held);
    ntm_free(cand);
    ntm_free(standing);
    return NTM_OK;
}

/* Read every device.* entry naming key into *out (judged for body and
 * actor; the relations are settled by settle()). */
static enum ntm_err
load_key(struct ntm_store *st, const char *key, struct devop **out,
         size_t *count, struct ntm_error *err)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT gseq, bytes FROM entries WHERE target=?1 ORDER BY gseq",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    json_t *rows = NULL;
    enum ntm_err rc = Ntm_collect(st, s, 1, &rows, err);
    size_t n = json_array_size(rows);
    struct devop *ops = rc == NTM_OK ? ntm_calloc(n + 1, sizeof(*ops)) : NULL;
    if (rc == NTM_OK && !ops)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; rc == NTM_OK && i < n; i++) {
        json_t *row = json_array_get(rows, i);
        json_t *b = json_array_get(row, 1);
        struct Ntm_entry e;
        char msg[160];
        enum ntm_err v = Ntm_entry_parse(
            &e, json_string_value(b), json_string_length(b), msg, sizeof(msg));
        if (v != NTM_OK) {
            Ntm_entry_release(&e);
            if (v == NTM_ENOMEM)
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            continue; /* a damaged row: verify reports it */
        }
        struct devop *o = &ops[k++];
        snprintf(o->id, sizeof(o->id), "%s", e.id);
        snprintf(o->author, sizeof(o->author), "%s", e.author);
        o->gseq = json_integer_value(json_array_get(row, 0));
        o->seq = e.seq;
        o->ts = e.ts;
        o->lc = e.lc;
        o->enroll = strcmp(e.op, "device.enroll") == 0;
        o->code = Ntm_rules_body(&e, o->msg, sizeof(o->msg));
        if (o->code == NTM_OK) {
            json_t *bd = e.body;
            if (o->enroll) {
                copy_str(o->role, sizeof(o->role), json_object_get(bd, "role"));
                copy_str(o->scope, sizeof(o->scope),
                         json_object_get(bd, "scope"));
                copy_str(o->name, sizeof(o->name), json_object_get(bd, "name"));
                copy_str(o->org, sizeof(o->org), json_object_get(bd, "org"));
                json_t *fs = json_object_get(bd, "from_seq");
                o->from_seq = fs ? json_integer_value(fs) : 1;
            } else {
                o->after_seq =
                    json_integer_value(json_object_get(bd, "after_seq"));
                copy_str(o->reason, sizeof(o->reason),
                         json_object_get(bd, "reason"));
            }
            enum ntm_err a = judge_actor(st, &e, key, o, err);
            if (!Ntm_is_verdict(a))
                rc = a;
            else
                o->code = a;
            if (rc == NTM_OK && o->code == NTM_OK && o->enroll)
                o->code = judge_scope(o);
        }
        Ntm_entry_release(&e);
    }
    json_decref(rows);
    if (rc != NTM_OK) {
        ntm_free(ops);
        return rc;
    }
    *out = ops;
    *count = k;
    return NTM_OK;
}

/* Whether the stored rows of key name exactly the effective ops. */
static enum ntm_err
rows_differ(struct ntm_store *st, const char *key, struct devop *ops, size_t n,
            int *differ, struct ntm_error *err)
{
    static const char *const sqls[2] = {
        "SELECT entry FROM enrollments WHERE key=?1",
        "SELECT entry FROM revocations WHERE key=?1",
    };
    size_t want = 0, have = 0;
    for (size_t i = 0; i < n; i++)
        want += ops[i].effective;
    *differ = 0;
    for (int t = 0; t < 2 && !*differ; t++) {
        sqlite3_stmt *s = Ntm_prepare(st, sqls[t], err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        int r = SQLITE_DONE;
        while (!*differ && (r = sqlite3_step(s)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(s, 0);
            int found = 0;
            for (size_t i = 0; i < n && !found; i++)
                found = ops[i].effective && ops[i].enroll == (t == 0) &&
                        strcmp(ops[i].id, id) == 0;
            have++;
            if (!found)
                *differ = 1;
        }
        sqlite3_reset(s);
        if (!*differ) {
            enum ntm_err rc =
                Ntm_step_ok(st, r, err, "cannot read enrollments");
            if (rc != NTM_OK)
                return rc;
        }
    }
    if (have != want)
        *differ = 1;
    return NTM_OK;
}

static enum ntm_err
write_key(struct ntm_store *st, const char *key, struct devop *ops, size_t n,
          struct ntm_error *err)
{
    static const char *const del[2] = {
        "DELETE FROM enrollments WHERE key=?1",
        "DELETE FROM revocations WHERE key=?1",
    };
    for (int t = 0; t < 2; t++) {
        sqlite3_stmt *s = Ntm_prepare(st, del[t], err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        int r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r != SQLITE_DONE)
            return Ntm_db_error(st, r, err, "cannot save authorization");
    }
    for (size_t i = 0; i < n; i++) {
        struct devop *o = &ops[i];
        enum ntm_err rc =
            Ntm_effect_set(st, o->gseq, o->code, o->code ? o->msg : NULL, err);
        if (rc != NTM_OK)
            return rc;
        if (!o->effective)
            continue;
        sqlite3_stmt *s;
        if (o->enroll) {
            s = Ntm_prepare(st,
                            "INSERT INTO enrollments(entry, key, role, scope, "
                            "name, org, from_seq, ts, lc, author, seq, level) "
                            "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
                            err);
            if (!s)
                return err ? err->code : NTM_EDB;
            sqlite3_bind_text(s, 1, o->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 3, o->role, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, o->scope, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 5, o->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 6, o->org, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 7, o->from_seq);
            sqlite3_bind_int64(s, 8, o->ts);
            sqlite3_bind_int64(s, 9, o->lc);
            sqlite3_bind_text(s, 10, o->author, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 11, o->seq);
            sqlite3_bind_int(s, 12, o->level);
        } else {
            s = Ntm_prepare(st,
                            "INSERT INTO revocations(entry, key, after_seq, "
                            "reason, author) VALUES(?1,?2,?3,?4,?5)",
                            err);
            if (!s)
                return err ? err->code : NTM_EDB;
            sqlite3_bind_text(s, 1, o->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
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

/* Judge every device.* entry naming key; *changed: its effective set of
 * enrollments and revocations changed. */
static enum ntm_err
judge_key(struct ntm_store *st, const char *key, int *changed,
          struct ntm_error *err)
{
    struct devop *ops = NULL;
    size_t n = 0;
    enum ntm_err rc = load_key(st, key, &ops, &n, err);
    if (rc == NTM_OK)
        rc = settle(ops, n, err);
    if (rc == NTM_OK)
        rc = rows_differ(st, key, ops, n, changed, err);
    if (rc == NTM_OK)
        rc = write_key(st, key, ops, n, err);
    ntm_free(ops);
    return rc;
}

/* Append to q the keys that author's device.* entries name. */
static enum ntm_err
push_targets(struct ntm_store *st, const char *author, json_t *q,
             struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT DISTINCT target FROM entries WHERE "
                                  "author=?1 AND target IS NOT NULL",
                                  err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, author, -1, SQLITE_STATIC);
    json_t *keys = NULL;
    enum ntm_err rc = Ntm_collect(st, s, 0, &keys, err);
    if (rc == NTM_OK && json_array_extend(q, keys))
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_decref(keys);
    return rc;
}

/* Judge the keys of q, and again the keys that a changed key acted on,
 * until nothing changes; changed keys are added to changed (once each). */
static enum ntm_err
run_worklist(struct ntm_store *st, json_t *q, json_t *changed,
             struct ntm_error *err)
{
    /* Authority flows strictly down the unit tree, so each key settles
     * after its actors have; the bound only guards against a bug looping. */
    size_t limit = 64 * (json_array_size(q) + 16) + 100000;
    for (size_t i = 0; i < json_array_size(q); i++) {
        if (i > limit)
            return ntm_error_set(err, NTM_EDB,
                                 "authorization does not settle - run 'ntm "
                                 "verify' and report this");
        const char *key = json_string_value(json_array_get(q, i));
        int ch = 0;
        enum ntm_err rc = judge_key(st, key, &ch, err);
        if (rc != NTM_OK)
            return rc;
        if (!ch)
            continue;
        int seen = 0;
        size_t j;
        json_t *x;
        json_array_foreach (changed, j, x)
            if (strcmp(json_string_value(x), key) == 0)
                seen = 1;
        if (!seen && json_array_append_new(changed, json_string(key)))
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        if ((rc = push_targets(st, key, q, err)) != NTM_OK)
            return rc;
    }
    return NTM_OK;
}

enum ntm_err
Ntm_auth_entry(struct ntm_store *st, const struct Ntm_entry *e,
               json_t **changed_keys, struct ntm_error *err)
{
    *changed_keys = NULL;
    char key[NTM_HEX_ID_LEN + 1];
    struct devop o;
    memset(&o, 0, sizeof(o));
    target_of(e, key);
    enum ntm_err v = Ntm_rules_body(e, o.msg, sizeof(o.msg));
    if (v == NTM_OK && !key[0]) {
        v = NTM_EBADBODY;
        snprintf(o.msg, sizeof(o.msg), "%s: 'key' must be 64 hex", e->op);
    }
    if (v == NTM_OK) {
        /* An author without authority at this seq changes nothing:
         * judged alone, in constant work. */
        v = judge_actor(st, e, key, &o, err);
        if (!Ntm_is_verdict(v))
            return v;
    }
    if (v != NTM_OK)
        return Ntm_effect_set(st, e->gseq, v, o.msg, err);
    json_t *q = json_pack("[s]", key);
    json_t *changed = json_array();
    enum ntm_err rc = q && changed
                          ? run_worklist(st, q, changed, err)
                          : ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_decref(q);
    if (rc != NTM_OK) {
        json_decref(changed);
        return rc;
    }
    *changed_keys = changed;
    return NTM_OK;
}

enum ntm_err
Ntm_auth_recompute(struct ntm_store *st, json_t **changed_keys,
                   struct ntm_error *err)
{
    if (changed_keys)
        *changed_keys = NULL;
    enum ntm_err rc =
        Ntm_exec(st, "DELETE FROM enrollments; DELETE FROM revocations;", err);
    if (rc != NTM_OK)
        return rc;
    json_t *q = json_array();
    json_t *changed = json_array();
    if (!q || !changed) {
        json_decref(q);
        json_decref(changed);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    /* Every key named, in a fixed order; entries naming none are
     * bad_body. */
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT DISTINCT target FROM entries WHERE target IS NOT NULL "
        "ORDER BY target",
        err);
    json_t *keys = NULL;
    rc = s ? Ntm_collect(st, s, 0, &keys, err) : (err ? err->code : NTM_EDB);
    if (rc == NTM_OK && json_array_extend(q, keys))
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_decref(keys);
    if (rc == NTM_OK)
        rc = Ntm_effect_set_many(
            st, NTM_EBADBODY, "op || ': ''key'' must be 64 hex'",
            "op IN ('device.enroll','device.revoke') AND target IS NULL", err);
    if (rc == NTM_OK)
        rc = run_worklist(st, q, changed, err);
    json_decref(q);
    if (rc == NTM_OK && changed_keys) {
        *changed_keys = changed;
        changed = NULL;
    }
    json_decref(changed);
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
    /* The greatest from_seq governs; ties: the higher authority, then
     * the later in total order. */
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT role, scope, name, org, from_seq FROM enrollments WHERE "
        "key=?1 AND from_seq<=?2 ORDER BY from_seq DESC, level ASC, ts DESC, "
        "lc DESC, author DESC, seq DESC LIMIT 1",
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
        Ntm_log_head(st, author, &head, NULL, NULL, NULL);
        seq = head + 1;
    }
    return Ntm_auth_lookup(st, author, seq, out, err);
}
