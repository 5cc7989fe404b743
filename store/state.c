/* SPDX-License-Identifier: MIT */
/*
 * state.c - the derived state of records and units, as a function of the
 * set of valid entries held (SPEC.md section 5).
 *
 * A record's entries form a graph through `base` (record.create is its
 * root). Per field, the candidates are the valid entries that set it and
 * are not dominated (reachable through base links) by another valid entry
 * that set it: one candidate gives the value, several a conflict that shows
 * the greatest in (ts, lc, author, seq) until someone resolves it. Clocks
 * only break ties between concurrent writes. Review state is the latest
 * valid review naming the record's only head.
 *
 * Each record is recomputed from its own entries alone, so applying k new
 * entries costs O(k * entries of the touched records), and the result does
 * not depend on arrival order. Ntm_state_all recomputes everything (used
 * by ntm_store_rebuild; tests check both paths give identical state).
 *
 * Depends on util/, store internals below it (jtext.c, text.c, rules.c,
 * db.c, effect.c, auth.c: see store_int.h), jansson, SQLite.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum node_kind { N_CREATE, N_UPDATE, N_DELETE, N_REVIEW, N_ATTACH, N_OTHER };

struct node {
    struct Ntm_entry e;
    char *bytes;  /* owned copy of the row's bytes */
    int borrowed; /* e belongs to the caller (Ntm_state_entry) */
    enum node_kind kind;
    enum ntm_err code;
    char msg[160];
    int valid;
    int *base; /* indices of base nodes */
    int nbase;
    int missing;        /* a base entry is not held */
    unsigned char *anc; /* reachable nodes (bitset), computed on demand */
    int anc_done;
};

struct rec {
    struct node *n;
    int count;
    int create; /* index of the effective create, -1 */
    int fresh;  /* its only entry is the one being taken, and none was held
                   before: it has no derived rows to replace yet */
};

static void
rec_release(struct rec *r)
{
    for (int i = 0; i < r->count; i++) {
        if (!r->n[i].borrowed)
            Ntm_entry_release(&r->n[i].e);
        ntm_free(r->n[i].bytes);
        ntm_free(r->n[i].base);
        ntm_free(r->n[i].anc);
    }
    ntm_free(r->n);
    r->n = NULL;
    r->count = 0;
}

static int
find(const struct rec *r, const char *id)
{
    for (int i = 0; i < r->count; i++)
        if (strcmp(r->n[i].e.id, id) == 0)
            return i;
    return -1;
}

static int
order_cmp(const struct node *a, const struct node *b)
{
    return Ntm_order_cmp(a->e.ts, a->e.lc, a->e.author, a->e.seq, b->e.ts,
                         b->e.lc, b->e.author, b->e.seq);
}

static enum node_kind
kind_of(const char *op)
{
    return strcmp(op, "record.create") == 0   ? N_CREATE
           : strcmp(op, "record.update") == 0 ? N_UPDATE
           : strcmp(op, "record.delete") == 0 ? N_DELETE
           : strcmp(op, "review") == 0        ? N_REVIEW
           : strcmp(op, "record.attach") == 0 ? N_ATTACH
                                              : N_OTHER;
}

static enum ntm_err
load(struct ntm_store *st, const char *record_id, struct rec *r,
     struct ntm_error *err)
{
    memset(r, 0, sizeof(*r));
    r->create = -1;
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT bytes, gseq FROM entries WHERE record=?1 ORDER BY gseq",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record_id, -1, SQLITE_STATIC);
    int cap = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (r->count == cap) {
            int nc = cap ? cap * 2 : 8;
            struct node *p = ntm_realloc(r->n, (size_t)nc * sizeof(*p));
            if (!p) {
                sqlite3_reset(s);
                return ntm_error_set(err, NTM_ENOMEM, "out of memory");
            }
            r->n = p;
            cap = nc;
        }
        struct node *nd = &r->n[r->count];
        memset(nd, 0, sizeof(*nd));
        size_t len = (size_t)sqlite3_column_bytes(s, 0);
        nd->bytes = ntm_strndup(sqlite3_column_blob(s, 0), len);
        if (!nd->bytes) {
            sqlite3_reset(s);
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
        r->count++;
        char msg[160];
        enum ntm_err v =
            Ntm_entry_parse(&nd->e, nd->bytes, len, msg, sizeof(msg));
        nd->e.gseq = sqlite3_column_int64(s, 1);
        if (v == NTM_ENOMEM) {
            sqlite3_reset(s);
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
        if (v != NTM_OK) {
            /* A damaged row: verify reports it; here it has no effect. */
            nd->kind = N_OTHER;
            nd->code = NTM_EBADENTRY;
            snprintf(nd->e.id, sizeof(nd->e.id), "?");
            continue;
        }
        nd->kind = kind_of(nd->e.op);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return Ntm_db_error(st, rc, err, "cannot read the record's entries");
    return NTM_OK;
}

/* Mark every node reachable from i through base links in i's bitset. */
static enum ntm_err
ancestors(struct rec *r, int i)
{
    struct node *nd = &r->n[i];
    if (nd->anc_done)
        return NTM_OK;
    size_t bytes = ((size_t)r->count + 7) / 8;
    nd->anc = ntm_calloc(1, bytes);
    if (!nd->anc)
        return NTM_ENOMEM;
    nd->anc_done = 1; /* set before recursing: base links cannot cycle
                         (ids are hashes), but never loop if they did */
    for (int k = 0; k < nd->nbase; k++) {
        int b = nd->base[k];
        nd->anc[b / 8] |= (unsigned char)(1u << (b % 8));
        if (ancestors(r, b) != NTM_OK)
            return NTM_ENOMEM;
        for (size_t x = 0; x < bytes; x++)
            nd->anc[x] |= r->n[b].anc[x];
    }
    return NTM_OK;
}

static int
dominates(const struct rec *r, int a, int b)
{
    return (r->n[a].anc[b / 8] >> (b % 8)) & 1;
}

static enum ntm_err
resolve_bases(struct rec *r, struct node *nd)
{
    json_t *base = NULL;
    if (nd->kind == N_UPDATE || nd->kind == N_DELETE)
        base = json_object_get(nd->e.body, "base");
    json_t *rev =
        nd->kind == N_REVIEW ? json_object_get(nd->e.body, "rev") : NULL;
    size_t n = base ? json_array_size(base) : rev ? 1 : 0;
    if (n == 0)
        return NTM_OK;
    nd->base = ntm_calloc(n, sizeof(int));
    if (!nd->base)
        return NTM_ENOMEM;
    for (size_t k = 0; k < n; k++) {
        json_t *x = base ? json_array_get(base, k) : rev;
        int idx = json_is_string(x) ? find(r, json_string_value(x)) : -1;
        /* A base names changes: a review or an attachment is none. */
        if (idx < 0 || r->n[idx].kind == N_REVIEW || r->n[idx].kind == N_ATTACH)
            nd->missing = 1;
        else
            nd->base[nd->nbase++] = idx;
    }
    return NTM_OK;
}

/* Validity of every node: body, create, authorization, bases. */
static enum ntm_err
judge(struct ntm_store *st, struct rec *r, struct ntm_error *err)
{
    enum ntm_err rc;
    /* Creates first: the record's unit governs the others. */
    for (int i = 0; i < r->count; i++) {
        struct node *nd = &r->n[i];
        if (nd->kind != N_CREATE || nd->code == NTM_EBADENTRY)
            continue;
        struct ntm_enrollment enr;
        if ((rc = Ntm_auth_lookup(st, nd->e.author, nd->e.seq, &enr, err)) !=
            NTM_OK)
            return rc;
        nd->code = Ntm_rules_check(st, &nd->e, &enr, NULL, NULL, nd->msg,
                                   sizeof(nd->msg), err);
        if (!Ntm_is_verdict(nd->code))
            return nd->code;
        if (nd->code == NTM_OK &&
            (r->create < 0 || order_cmp(nd, &r->n[r->create]) < 0))
            r->create = i;
    }
    for (int i = 0; i < r->count; i++) {
        struct node *nd = &r->n[i];
        if (nd->kind == N_CREATE && nd->code == NTM_OK && i != r->create) {
            nd->code = NTM_EBADBODY;
            snprintf(nd->msg, sizeof(nd->msg),
                     "another record.create already holds this record id");
        }
    }
    json_t *cbody = r->create >= 0 ? r->n[r->create].e.body : NULL;
    const char *unit = json_string_value(json_object_get(cbody, "unit"));
    const char *org = json_string_value(json_object_get(cbody, "org"));
    for (int i = 0; i < r->count; i++) {
        struct node *nd = &r->n[i];
        if (nd->kind == N_CREATE || nd->code == NTM_EBADENTRY)
            continue;
        if (nd->kind == N_OTHER) {
            nd->code = NTM_EBADBODY;
            snprintf(nd->msg, sizeof(nd->msg), "unknown record operation");
            continue;
        }
        if ((rc = resolve_bases(r, nd)) != NTM_OK)
            return ntm_error_set(err, rc, "out of memory");
        char msg[160];
        if (Ntm_rules_body(&nd->e, msg, sizeof(msg)) != NTM_OK) {
            nd->code = NTM_EBADBODY;
            snprintf(nd->msg, sizeof(nd->msg), "%s", msg);
            continue;
        }
        if (!unit) {
            nd->code = NTM_ENOENT;
            snprintf(nd->msg, sizeof(nd->msg),
                     "waits for the record's creation");
            continue;
        }
        struct ntm_enrollment enr;
        if ((rc = Ntm_auth_lookup(st, nd->e.author, nd->e.seq, &enr, err)) !=
            NTM_OK)
            return rc;
        nd->code = Ntm_rules_check(st, &nd->e, &enr, unit, org, nd->msg,
                                   sizeof(nd->msg), err);
        if (!Ntm_is_verdict(nd->code))
            return nd->code;
        if (nd->code == NTM_OK && nd->missing) {
            nd->code = NTM_ENOENT;
            snprintf(nd->msg, sizeof(nd->msg),
                     "waits for base entries not yet held");
        }
    }
    for (int i = 0; i < r->count; i++)
        r->n[i].valid = r->n[i].code == NTM_OK;
    return NTM_OK;
}

/* Fields a node sets (create: fields; update: set), or NULL. */
static json_t *
sets(const struct node *nd)
{
    if (!nd->valid)
        return NULL;
    if (nd->kind == N_CREATE)
        return json_object_get(nd->e.body, "fields");
    if (nd->kind == N_UPDATE)
        return json_object_get(nd->e.body, "set");
    return NULL;
}

static int
is_change(const struct node *nd)
{
    return nd->valid && (nd->kind == N_CREATE || nd->kind == N_UPDATE ||
                         nd->kind == N_DELETE);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * v as compact JSON with sorted keys into b, as json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) writes it. jansson's dump does not check every append
 * (a key's quote can go missing when memory runs out, as of 2.14), and
 * this text is stored: every append here is checked.
 */
static enum ntm_err
dump_json(json_t *v, struct ntm_buf *b)
{
    enum ntm_err rc = NTM_OK;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), k = 0;
        const char **keys = ntm_calloc(n + 1, sizeof(*keys));
        const char *key;
        json_t *x;
        if (!keys)
            return NTM_ENOMEM;
        json_object_foreach (v, key, x)
            keys[k++] = key;
        qsort(keys, n, sizeof(*keys), cmp_str);
        rc = ntm_buf_addch(b, '{');
        for (k = 0; rc == NTM_OK && k < n; k++) {
            if (k)
                rc = ntm_buf_addch(b, ',');
            if (rc == NTM_OK)
                rc = Ntm_jtext_put_string(b, keys[k], strlen(keys[k]));
            if (rc == NTM_OK)
                rc = ntm_buf_addch(b, ':');
            if (rc == NTM_OK)
                rc = dump_json(json_object_get(v, keys[k]), b);
        }
        ntm_free(keys);
        return rc == NTM_OK ? ntm_buf_addch(b, '}') : rc;
    }
    case JSON_ARRAY: {
        rc = ntm_buf_addch(b, '[');
        for (size_t i = 0; rc == NTM_OK && i < json_array_size(v); i++) {
            if (i)
                rc = ntm_buf_addch(b, ',');
            if (rc == NTM_OK)
                rc = dump_json(json_array_get(v, i), b);
        }
        return rc == NTM_OK ? ntm_buf_addch(b, ']') : rc;
    }
    case JSON_STRING:
        return Ntm_jtext_put_string(b, json_string_value(v),
                                    json_string_length(v));
    case JSON_INTEGER:
        return ntm_buf_addf(b, "%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        return ntm_buf_addf(b, "%.17g", json_real_value(v));
    case JSON_TRUE:
        return ntm_buf_adds(b, "true");
    case JSON_FALSE:
        return ntm_buf_adds(b, "false");
    case JSON_NULL:
        return ntm_buf_adds(b, "null");
    }
    return NTM_EINVAL;
}

/* new: v as dump_json writes it (free with ntm_free); NULL when out of
 * memory. */
static char *
dump_json_new(json_t *v)
{
    struct ntm_buf b = NTM_BUF_INIT;
    if (dump_json(v, &b) != NTM_OK) {
        ntm_buf_release(&b);
        return NULL;
    }
    return ntm_buf_detach(&b, NULL);
}

/* new (*folded): the record's search text, folded: title, note, task
 * (each may be NULL) and the unit code. Not the unit's name: a unit is
 * renamed, and its name may arrive after the record, while the derived
 * state is a function of the log alone; names are matched when searching
 * (search.c, the names the caller gives). */
static enum ntm_err
search_parts(struct ntm_store *st, const char *const parts[3], const char *unit,
             char **folded, struct ntm_error *err)
{
    struct ntm_buf search = NTM_BUF_INIT;
    enum ntm_err brc = NTM_OK;
    (void)st;
    *folded = NULL;
    for (int k = 0; k < 3; k++)
        if (parts[k] && brc == NTM_OK &&
            (brc = ntm_buf_adds(&search, parts[k])) == NTM_OK)
            brc = ntm_buf_addch(&search, '\n');
    if (brc == NTM_OK &&
        (brc = ntm_buf_adds(&search, unit ? unit : "(null)")) == NTM_OK)
        brc = ntm_buf_addch(&search, '\n');
    if (brc == NTM_OK)
        *folded = ntm_text_fold(ntm_buf_str(&search));
    ntm_buf_release(&search);
    if (!*folded)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    return NTM_OK;
}

static const char *const searchable[3] = {"title", "note", "task"};

/* The same from the fields as a value. */
static enum ntm_err
search_text(struct ntm_store *st, json_t *fields, const char *unit,
            char **folded, struct ntm_error *err)
{
    const char *parts[3];
    for (int k = 0; k < 3; k++)
        parts[k] = json_string_value(json_object_get(fields, searchable[k]));
    return search_parts(st, parts, unit, folded, err);
}

/* new (*out): the string member key of the fields text, or NULL when it
 * is missing or not a string; NTM_ENOMEM when memory ran out. */
static enum ntm_err
text_member(const char *fields, const char *key, char **out)
{
    const char *v, *vend;
    *out = NULL;
    int got = Ntm_jtext_get(fields, key, &v, &vend);
    if (got < 0)
        return NTM_ENOMEM;
    if (got == 0 || *v != '"')
        return NTM_OK;
    *out = Ntm_jtext_string(v, vend);
    return *out ? NTM_OK : NTM_ENOMEM;
}

/* Run sql (binding ?1 = record, ?2.. = the strings given, NULL ends). */
static enum ntm_err
rec_exec(struct ntm_store *st, const char *sql, const char *record,
         const char *a2, const char *a3, struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(st, sql, err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    if (a2)
        sqlite3_bind_text(s, 2, a2, -1, SQLITE_STATIC);
    if (a3)
        sqlite3_bind_text(s, 3, a3, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    sqlite3_reset(s);
    if (x != SQLITE_DONE)
        return Ntm_db_error(st, x, err, "cannot save the record's state");
    return NTM_OK;
}

/* The record's row in the word index (rsearch, reached through rdoc):
 * its folded search text and its unit code (as Ntm_search_units gives
 * it), written only when they changed (a review changes neither). The
 * write itself is deferred (Ntm_search_put): FTS5 writes a segment at
 * each savepoint otherwise. */
static enum ntm_err
index_row(struct ntm_store *st, const char *record, const char *units,
          const char *folded, int fresh, struct ntm_error *err)
{
    int64_t doc = 0;
    enum ntm_err rc = NTM_OK;
    sqlite3_stmt *s;
    int x;
    if (!fresh) { /* a fresh record has no row in rdoc */
        s = Ntm_prepare(st, "SELECT doc FROM rdoc WHERE record=?1", err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
        x = sqlite3_step(s);
        doc = x == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        rc = Ntm_step_ok(st, x, err, "cannot read the word index");
        if (rc != NTM_OK)
            return rc;
    }
    if (!doc) {
        rc = rec_exec(st, "INSERT INTO rdoc(record) VALUES(?1)", record, NULL,
                      NULL, err);
        if (rc != NTM_OK)
            return rc;
        return Ntm_search_put(st, sqlite3_last_insert_rowid(st->db), folded,
                              units, 0, err);
    }
    if (st->search_lazy) /* no index kept: rdoc only */
        return NTM_OK;
    const char *w = NULL, *u = NULL;
    if (!Ntm_search_pending(st, doc, &w, &u)) {
        s = Ntm_prepare(st, "SELECT words, units FROM rsearch WHERE rowid=?1",
                        err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_int64(s, 1, doc);
        x = sqlite3_step(s);
        int same = 0;
        if (x == SQLITE_ROW) {
            w = (const char *)sqlite3_column_text(s, 0);
            u = (const char *)sqlite3_column_text(s, 1);
            same = w && u && strcmp(w, folded) == 0 && strcmp(u, units) == 0;
        }
        sqlite3_reset(s);
        rc = Ntm_step_ok(st, x, err, "cannot read the word index");
        if (rc != NTM_OK || same)
            return rc;
    } else if (w && u && strcmp(w, folded) == 0 && strcmp(u, units) == 0) {
        return NTM_OK;
    }
    return Ntm_search_put(st, doc, folded, units, 1, err);
}

/* fresh: a record just created, which has no row in rdoc yet */
static enum ntm_err
index_record(struct ntm_store *st, const char *record, const char *unit,
             const char *folded, int fresh, struct ntm_error *err)
{
    char *units = Ntm_search_units(unit);
    if (!units)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = index_row(st, record, units, folded, fresh, err);
    ntm_free(units);
    return rc;
}

/* The record leaves the word index. */
static enum ntm_err
unindex_record(struct ntm_store *st, const char *record, struct ntm_error *err)
{
    sqlite3_stmt *s =
        Ntm_prepare(st, "SELECT doc FROM rdoc WHERE record=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    int64_t doc = x == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    enum ntm_err rc = Ntm_step_ok(st, x, err, "cannot read the word index");
    if (rc == NTM_OK && doc)
        rc = Ntm_search_put(st, doc, NULL, NULL, 1, err);
    if (rc == NTM_OK && doc)
        rc = rec_exec(st, "DELETE FROM rdoc WHERE record=?1", record, NULL,
                      NULL, err);
    return rc;
}

/* Forget the heads and field candidates of a record. */
static enum ntm_err
clear_rows(struct ntm_store *st, const char *record, struct ntm_error *err)
{
    enum ntm_err rc = rec_exec(st, "DELETE FROM rheads WHERE record=?1", record,
                               NULL, NULL, err);
    if (rc == NTM_OK)
        rc = rec_exec(st, "DELETE FROM rcands WHERE record=?1", record, NULL,
                      NULL, err);
    if (rc == NTM_OK)
        rc = rec_exec(st, "DELETE FROM rfields WHERE record=?1", record, NULL,
                      NULL, err);
    if (rc == NTM_OK)
        rc = rec_exec(st, "DELETE FROM rattach WHERE record=?1", record, NULL,
                      NULL, err);
    return rc;
}

/* The attachments of a record (docs/contract.md, attachments): its
 * record.attach entries that take effect, one row each. */
static enum ntm_err
put_attachments(struct ntm_store *st, const char *record, const struct rec *r,
                struct ntm_error *err)
{
    for (int i = 0; i < r->count; i++) {
        const struct node *nd = &r->n[i];
        if (!nd->valid || nd->kind != N_ATTACH)
            continue;
        json_t *b = nd->e.body;
        sqlite3_stmt *s = Ntm_prepare(
            st,
            "INSERT OR REPLACE INTO rattach(record, entry, hash, size, type, "
            "name, caption, author, seq, ts, lc) "
            "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
            err);
        if (!s)
            return err ? err->code : NTM_EDB;
        json_t *cap = json_object_get(b, "caption");
        sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, nd->e.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, json_string_value(json_object_get(b, "hash")),
                          -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4,
                           json_integer_value(json_object_get(b, "size")));
        sqlite3_bind_text(s, 5, json_string_value(json_object_get(b, "type")),
                          -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, json_string_value(json_object_get(b, "name")),
                          -1, SQLITE_STATIC);
        if (json_is_string(cap))
            sqlite3_bind_text(s, 7, json_string_value(cap), -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 7);
        sqlite3_bind_text(s, 8, nd->e.author, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 9, nd->e.seq);
        sqlite3_bind_int64(s, 10, nd->e.ts);
        sqlite3_bind_int64(s, 11, nd->e.lc);
        int x = sqlite3_step(s);
        sqlite3_reset(s);
        if (x != SQLITE_DONE)
            return Ntm_db_error(st, x, err, "cannot save the attachments");
    }
    return NTM_OK;
}

/* Entry e (a head when head) is a candidate of field with value. */
static enum ntm_err
put_cand(struct ntm_store *st, const char *record, const char *field,
         const struct Ntm_entry *e, json_t *value, int head,
         struct ntm_error *err)
{
    char *v = dump_json_new(value);
    if (!v)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    sqlite3_stmt *s =
        Ntm_prepare(st,
                    "INSERT OR REPLACE INTO rcands(record, field, entry, ts, "
                    "lc, author, seq, value, head) "
                    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                    err);
    if (!s) {
        ntm_free(v);
        return err ? err->code : NTM_EDB;
    }
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, field, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, e->ts);
    sqlite3_bind_int64(s, 5, e->lc);
    sqlite3_bind_text(s, 6, e->author, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, e->seq);
    sqlite3_bind_text(s, 8, v, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 9, head);
    int x = sqlite3_step(s);
    sqlite3_reset(s);
    ntm_free(v);
    if (x != SQLITE_DONE)
        return Ntm_db_error(st, x, err, "cannot save the record's state");
    return NTM_OK;
}

static enum ntm_err
put_field(struct ntm_store *st, const char *record, const char *field,
          int conflict, struct ntm_error *err)
{
    return rec_exec(st,
                    conflict ? "INSERT OR REPLACE INTO rfields(record, field, "
                               "conflict) VALUES(?1,?2,1)"
                             : "INSERT OR REPLACE INTO rfields(record, field, "
                               "conflict) VALUES(?1,?2,0)",
                    record, field, NULL, err);
}

/* The state of the record as JSON members, written to `records`. */
static enum ntm_err
compute(struct ntm_store *st, const char *record_id, struct rec *r,
        struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    json_t *fields = json_object(), *reviews = json_array();
    const char **names = NULL, **head_ids = NULL;
    int *cand = NULL, nconf = 0;
    char *folded = NULL, *fields_s = NULL, *reviews_s = NULL;
    if (!fields || !reviews) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < r->count; i++)
        if (is_change(&r->n[i]) && ancestors(r, i) != NTM_OK) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
    /* Heads: valid changes no other valid change dominates. */
    int deleted = 0;
    int64_t updated = 0;
    head_ids = ntm_calloc((size_t)r->count + 1, sizeof(char *));
    size_t nheads = 0;
    if (!head_ids) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < r->count; i++) {
        if (!is_change(&r->n[i]))
            continue;
        if (r->n[i].kind == N_DELETE)
            deleted = 1;
        if (r->n[i].e.ts > updated)
            updated = r->n[i].e.ts;
        int dominated = 0;
        for (int j = 0; j < r->count && !dominated; j++)
            if (j != i && is_change(&r->n[j]) && dominates(r, j, i))
                dominated = 1;
        if (!dominated)
            head_ids[nheads++] = r->n[i].e.id;
    }
    qsort(head_ids, nheads, sizeof(*head_ids), cmp_str);
    /* Linear: every two valid changes are ordered by base links (one line
     * of edits, each knowing the previous). Then the record has one head
     * and each field one candidate, the last change on the line that set
     * it, whose value is in `fields`: no rows in rheads, rcands, rfields
     * (records.head names the head when it is not the create). */
    int linear = 1;
    for (int i = 0; i < r->count && linear; i++)
        for (int j = i + 1; j < r->count && linear && is_change(&r->n[i]); j++)
            if (is_change(&r->n[j]) && !dominates(r, i, j) &&
                !dominates(r, j, i))
                linear = 0;
    if ((!r->fresh && (rc = clear_rows(st, record_id, err)) != NTM_OK) ||
        (rc = put_attachments(st, record_id, r, err)) != NTM_OK)
        goto out;
    for (size_t h = 0; h < nheads && !linear; h++)
        if ((rc =
                 rec_exec(st, "INSERT INTO rheads(record, entry) VALUES(?1,?2)",
                          record_id, head_ids[h], NULL, err)) != NTM_OK)
            goto out;
    /* A record whose only entry is its create (a new record, the usual
     * case): its fields are the create's, as the path below finds them
     * (one candidate per field, the create; no conflict). */
    json_t *only = r->count == 1 && r->create == 0 ? sets(&r->n[0]) : NULL;
    if (json_is_object(only)) {
        json_decref(fields);
        fields = json_incref(only);
        goto review;
    }
    /* Every field name any valid change sets, sorted. */
    size_t nnames = 0, capn = 0;
    for (int i = 0; i < r->count; i++) {
        json_t *set = sets(&r->n[i]);
        const char *k;
        json_t *v;
        json_object_foreach (set, k, v) {
            int seen = 0;
            for (size_t j = 0; j < nnames; j++)
                if (strcmp(names[j], k) == 0)
                    seen = 1;
            if (seen)
                continue;
            if (nnames == capn) {
                capn = capn ? capn * 2 : 16;
                const char **p = ntm_realloc(names, capn * sizeof(*names));
                if (!p) {
                    rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                    goto out;
                }
                names = p;
            }
            names[nnames++] = k;
        }
    }
    if (nnames)
        qsort(names, nnames, sizeof(*names), cmp_str);
    cand = ntm_calloc((size_t)r->count + 1, sizeof(int));
    if (!cand) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t f = 0; f < nnames; f++) {
        int nc = 0;
        for (int i = 0; i < r->count; i++) {
            json_t *set = sets(&r->n[i]);
            if (!json_object_get(set, names[f]))
                continue;
            int dominated = 0;
            for (int j = 0; j < r->count && !dominated; j++)
                if (j != i && json_object_get(sets(&r->n[j]), names[f]) &&
                    dominates(r, j, i))
                    dominated = 1;
            if (!dominated)
                cand[nc++] = i;
        }
        if (nc == 0)
            continue;
        int best = cand[0], same = 1;
        for (int c = 1; c < nc; c++) {
            if (order_cmp(&r->n[cand[c]], &r->n[best]) > 0)
                best = cand[c];
            if (!json_equal(json_object_get(sets(&r->n[cand[c]]), names[f]),
                            json_object_get(sets(&r->n[cand[0]]), names[f])))
                same = 0;
        }
        if (json_object_set(fields, names[f],
                            json_object_get(sets(&r->n[best]), names[f]))) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
        /* Every candidate, for conflicts and the next entry's state. */
        for (int c = 0; c < nc && !linear; c++) {
            struct node *nd = &r->n[cand[c]];
            const char *key = nd->e.id;
            int head = bsearch(&key, head_ids, nheads, sizeof(*head_ids),
                               cmp_str) != NULL;
            if ((rc = put_cand(st, record_id, names[f], &nd->e,
                               json_object_get(sets(nd), names[f]), head,
                               err)) != NTM_OK)
                goto out;
        }
        if (!linear &&
            (rc = put_field(st, record_id, names[f], !same, err)) != NTM_OK)
            goto out;
        nconf += !same;
    }
review:;
    /* Review state: the latest valid review of the only head. */
    const char *review = "submitted";
    if (nheads == 1) {
        int order[256], nrev = 0;
        for (int i = 0; i < r->count && nrev < 256; i++) {
            struct node *nd = &r->n[i];
            if (nd->valid && nd->kind == N_REVIEW &&
                strcmp(json_string_value(json_object_get(nd->e.body, "rev")),
                       head_ids[0]) == 0)
                order[nrev++] = i;
        }
        for (int a = 1; a < nrev; a++)
            for (int b = a;
                 b > 0 && order_cmp(&r->n[order[b - 1]], &r->n[order[b]]) > 0;
                 b--) {
                int t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        for (int k = 0; k < nrev; k++) {
            struct node *nd = &r->n[order[k]];
            struct ntm_enrollment enr;
            if ((rc = Ntm_auth_lookup(st, nd->e.author, nd->e.seq, &enr,
                                      err)) != NTM_OK)
                goto out;
            json_t *c = json_object_get(nd->e.body, "comment");
            if (json_array_append_new(
                    reviews,
                    json_pack("{s:s, s:s, s:O, s:s, s:s, s:O, s:I}", "entry",
                              nd->e.id, "author", nd->e.author, "state",
                              json_object_get(nd->e.body, "state"), "level",
                              Ntm_unit_level(enr.scope), "scope", enr.scope,
                              "comment", c ? c : json_null(), "ts",
                              (json_int_t)nd->e.ts))) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                goto out;
            }
            review = json_string_value(json_object_get(nd->e.body, "state"));
        }
    }
    struct node *cr = &r->n[r->create];
    json_t *cb = cr->e.body;
    const char *task = json_string_value(json_object_get(fields, "task"));
    const char *unit = json_string_value(json_object_get(cb, "unit"));
    if ((rc = search_text(st, fields, unit, &folded, err)) != NTM_OK)
        goto out;
    fields_s = dump_json_new(fields);
    reviews_s = dump_json_new(reviews);
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "INSERT OR REPLACE INTO records(id, kind, unit, org, task, author, "
        "c_ts, c_lc, c_seq, updated_ts, fields, deleted, "
        "conflict, nheads, review, reviews, waiting, linear, head) "
        "VALUES(?1,?2,?3,?4,?5,?6,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,"
        "?20,?21,?22)",
        err);
    if (!s || !fields_s || !reviews_s || !folded) {
        rc = s ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
               : (err ? err->code : NTM_EDB);
    } else {
        sqlite3_bind_text(s, 1, record_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, json_string_value(json_object_get(cb, "kind")),
                          -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, unit, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, json_string_value(json_object_get(cb, "org")),
                          -1, SQLITE_STATIC);
        if (task)
            sqlite3_bind_text(s, 5, task, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 6, cr->e.author, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 8, cr->e.ts);
        sqlite3_bind_int64(s, 9, cr->e.lc);
        sqlite3_bind_int64(s, 10, cr->e.seq);
        sqlite3_bind_int64(s, 11, updated);
        sqlite3_bind_text(s, 12, fields_s, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 13, deleted);
        sqlite3_bind_int(s, 14, nconf > 0);
        sqlite3_bind_int64(s, 15, (sqlite3_int64)nheads);
        sqlite3_bind_text(s, 16, review, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 17, reviews_s, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 21, linear);
        if (linear && nheads == 1 && strcmp(head_ids[0], cr->e.id) != 0)
            sqlite3_bind_text(s, 22, head_ids[0], -1, SQLITE_STATIC);
        int waiting = 0;
        for (int i = 0; i < r->count; i++)
            waiting += r->n[i].code == NTM_ENOENT;
        sqlite3_bind_int(s, 20, waiting);
        int x = sqlite3_step(s);
        sqlite3_reset(s);
        if (x != SQLITE_DONE)
            rc = Ntm_db_error(st, x, err, "cannot save the record's state");
        else
            rc = index_record(st, record_id, unit, folded, r->fresh, err);
    }
out:
    ntm_free(reviews_s);
    ntm_free(fields_s);
    ntm_free(folded);
    ntm_free(head_ids);
    ntm_free(cand);
    ntm_free(names);
    json_decref(fields);
    json_decref(reviews);
    return rc;
}

/* Judge the loaded record r, save its state and its entries' effects. */
static enum ntm_err
settle(struct ntm_store *st, const char *record_id, struct rec *r,
       struct ntm_error *err)
{
    enum ntm_err rc = judge(st, r, err);
    if (rc == NTM_OK) {
        if (r->create >= 0) {
            rc = compute(st, record_id, r, err);
        } else if (!r->fresh) {
            rc = rec_exec(st, "DELETE FROM records WHERE id=?1", record_id,
                          NULL, NULL, err);
            if (rc == NTM_OK)
                rc = clear_rows(st, record_id, err);
            if (rc == NTM_OK)
                rc = unindex_record(st, record_id, err);
        }
    }
    for (int i = 0; rc == NTM_OK && i < r->count; i++)
        if (r->n[i].code != NTM_EBADENTRY)
            rc = Ntm_effect_set(st, r->n[i].e.gseq, r->n[i].code, r->n[i].msg,
                                err);
    return rc;
}

enum ntm_err
Ntm_state_record(struct ntm_store *st, const char *record_id,
                 struct ntm_error *err)
{
    struct rec r;
    enum ntm_err rc = load(st, record_id, &r, err);
    if (rc == NTM_OK)
        rc = settle(st, record_id, &r, err);
    rec_release(&r);
    return rc;
}

/* new: a JSON text that dump_json wrote, parsed back (any value); NULL
 * when it is not one or memory ran out (jansson's loader can lose
 * characters then, as of 2.14: the text written back is compared). */
static json_t *
load_dumped(const char *text)
{
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    char *again = v ? dump_json_new(v) : NULL;
    if (!again || strcmp(again, text) != 0) {
        json_decref(v);
        v = NULL;
    }
    ntm_free(again);
    return v;
}

/* Whether the entry id is held as a valid change of record (not a review,
 * with effect): a base the general path would find and follow. */
static enum ntm_err
valid_change(struct ntm_store *st, const char *id, const char *record, int *yes,
             struct ntm_error *err)
{
    *yes = 0;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT e.record, e.op, coalesce(f.code, -1) FROM entries e LEFT JOIN "
        "effect f ON f.gseq=e.gseq WHERE e.id=?1",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    if (x == SQLITE_ROW) {
        const char *rec = (const char *)sqlite3_column_text(s, 0);
        const char *op = (const char *)sqlite3_column_text(s, 1);
        *yes = rec && strcmp(rec, record) == 0 && strcmp(op, "review") != 0 &&
               strcmp(op, "record.attach") != 0 &&
               sqlite3_column_int(s, 2) == 0;
    }
    sqlite3_reset(s);
    return Ntm_step_ok(st, x, err, "cannot read the log");
}

/* 1 when the query (binding ?1 record, ?2 a, ?3 b) yields a row. */
static enum ntm_err
rec_exists(struct ntm_store *st, const char *sql, const char *record,
           const char *a, const char *b, int *yes, struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(st, sql, err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    if (a)
        sqlite3_bind_text(s, 2, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(s, 3, b, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    sqlite3_reset(s);
    *yes = x == SQLITE_ROW;
    return Ntm_step_ok(st, x, err, "cannot read the record's state");
}

/* The shown value of field as JSON text (new, the candidate greatest in
 * total order) and whether its candidates differ. */
static enum ntm_err
field_state(struct ntm_store *st, const char *record, const char *field,
            char **value, int *conflict, struct ntm_error *err)
{
    /* The greatest in total order, then the smallest and the greatest
     * value (whether they differ): index look-ups, whatever the number of
     * candidates. */
    static const char *const q[3] = {
        "SELECT value FROM rcands WHERE record=?1 AND field=?2 ORDER BY ts "
        "DESC, lc DESC, author DESC, seq DESC LIMIT 1",
        "SELECT value FROM rcands WHERE record=?1 AND field=?2 ORDER BY "
        "value LIMIT 1",
        "SELECT value FROM rcands WHERE record=?1 AND field=?2 ORDER BY "
        "value DESC LIMIT 1",
    };
    char *got[3] = {NULL, NULL, NULL};
    enum ntm_err rc = NTM_OK;
    *value = NULL;
    *conflict = 0;
    for (int k = 0; k < 3 && rc == NTM_OK; k++) {
        sqlite3_stmt *s = Ntm_prepare(st, q[k], err);
        if (!s) {
            rc = err ? err->code : NTM_EDB;
            break;
        }
        sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, field, -1, SQLITE_STATIC);
        int x = sqlite3_step(s);
        if (x == SQLITE_ROW &&
            !(got[k] = ntm_strdup((const char *)sqlite3_column_text(s, 0))))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        sqlite3_reset(s);
        if (rc == NTM_OK)
            rc = Ntm_step_ok(st, x, err, "cannot read the record's state");
        if (rc == NTM_OK && !got[k])
            rc = ntm_error_set(err, NTM_EDB, "a field has no candidate");
    }
    if (rc == NTM_OK) {
        *value = got[0];
        got[0] = NULL;
        *conflict = strcmp(got[1], got[2]) != 0;
    }
    for (int k = 0; k < 3; k++)
        ntm_free(got[k]);
    return rc;
}

struct fast_rec {
    char unit[128];
    char org[64];
    char *fields; /* JSON text */
    int deleted, waiting;
    int64_t updated, nheads;
    int linear;                    /* records.linear */
    char head[NTM_HEX_ID_LEN + 1]; /* a linear record's only head */
};

/* The record row after e: fields, search text and counts. */
static enum ntm_err
save_fast(struct ntm_store *st, const struct Ntm_entry *e, struct fast_rec *fr,
          char *fields, struct ntm_error *err)
{
    char *parts[3] = {NULL, NULL, NULL}, *folded = NULL;
    int any = 0;
    enum ntm_err rc = NTM_OK;
    for (int k = 0; k < 3 && rc == NTM_OK; k++)
        if (text_member(fields, searchable[k], &parts[k]) != NTM_OK)
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (rc == NTM_OK)
        rc = search_parts(st, (const char *const *)parts, fr->unit, &folded,
                          err);
    if (rc == NTM_OK && !fr->linear)
        rc = rec_exists(st,
                        "SELECT 1 FROM rfields WHERE record=?1 AND "
                        "conflict=1 LIMIT 1",
                        e->record, NULL, NULL, &any, err);
    sqlite3_stmt *s =
        rc == NTM_OK
            ? Ntm_prepare(st,
                          "UPDATE records SET task=?2, updated_ts=?3, "
                          "fields=?4, deleted=?5, conflict=?6, "
                          "review='submitted', reviews='[]', nheads=?7, "
                          "head=?8 WHERE id=?1",
                          err)
            : NULL;
    if (rc == NTM_OK && !s)
        rc = err ? err->code : NTM_EDB;
    if (rc == NTM_OK) {
        sqlite3_bind_text(s, 1, e->record, -1, SQLITE_STATIC);
        if (parts[2])
            sqlite3_bind_text(s, 2, parts[2], -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, fr->updated);
        sqlite3_bind_text(s, 4, fields, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 5, fr->deleted);
        sqlite3_bind_int(s, 6, any);
        sqlite3_bind_int64(s, 7, fr->nheads);
        if (fr->linear)
            sqlite3_bind_text(s, 8, e->id, -1, SQLITE_STATIC);
        int x = sqlite3_step(s);
        sqlite3_reset(s);
        if (x != SQLITE_DONE)
            rc = Ntm_db_error(st, x, err, "cannot save the record's state");
        else
            rc = index_record(st, e->record, fr->unit, folded, 0, err);
    }
    for (int k = 0; k < 3; k++)
        ntm_free(parts[k]);
    ntm_free(folded);
    return rc;
}

/*
 * Apply e, a valid update or delete of the record whose bases are all held
 * valid changes: the heads it names stop being heads, it becomes one; for
 * each field it sets, the candidates it names go and it joins; the shown
 * value is the candidate greatest in total order, and the field conflicts
 * while its candidates differ. dominates: e names every head (so it is
 * the only head, and the only candidate of what it sets).
 */
static enum ntm_err
apply_fast(struct ntm_store *st, const struct Ntm_entry *e, struct fast_rec *fr,
           int dominates, struct ntm_error *err)
{
    const char *rid = e->record;
    json_t *base = json_object_get(e->body, "base");
    json_t *set = json_object_get(e->body, "set");
    size_t nset = json_object_size(set), i = 0;
    const char **keys = ntm_calloc(nset + 1, sizeof(*keys));
    char **vals = ntm_calloc(nset + 1, sizeof(*vals));
    char *fields = NULL;
    enum ntm_err rc =
        keys && vals ? NTM_OK : ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_t *b;
    if (fr->linear) {
        /* The line goes on (e names its only head): e is the head and the
         * only candidate of what it sets; nothing but the record's row. */
        fr->nheads = 0;
    } else if (rc == NTM_OK && dominates) {
        rc = rec_exec(st, "DELETE FROM rheads WHERE record=?1", rid, NULL, NULL,
                      err);
        if (rc == NTM_OK)
            rc = rec_exec(st,
                          "UPDATE rcands SET head=0 WHERE record=?1 AND head=1",
                          rid, NULL, NULL, err);
        fr->nheads = 0;
    } else if (rc == NTM_OK) {
        json_array_foreach (base, i, b) {
            int head = 0;
            if (rc == NTM_OK)
                rc = rec_exists(st,
                                "SELECT 1 FROM rheads WHERE record=?1 AND "
                                "entry=?2",
                                rid, json_string_value(b), NULL, &head, err);
            if (rc == NTM_OK && head) {
                rc = rec_exec(st,
                              "DELETE FROM rheads WHERE record=?1 AND entry=?2",
                              rid, json_string_value(b), NULL, err);
                if (rc == NTM_OK)
                    rc = rec_exec(st,
                                  "UPDATE rcands SET head=0 WHERE record=?1 "
                                  "AND entry=?2",
                                  rid, json_string_value(b), NULL, err);
                fr->nheads--;
            }
        }
    }
    if (rc == NTM_OK && !fr->linear)
        rc = rec_exec(st, "INSERT INTO rheads(record, entry) VALUES(?1,?2)",
                      rid, e->id, NULL, err);
    fr->nheads++;
    if (kind_of(e->op) == N_DELETE)
        fr->deleted = 1;
    const char *k;
    json_t *v;
    size_t n = 0;
    json_object_foreach (set, k, v) {
        if (rc != NTM_OK)
            break;
        if (fr->linear) {
            keys[n] = k;
            if (!(vals[n++] = dump_json_new(v)))
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            continue;
        }
        if (dominates) {
            rc = rec_exec(st, "DELETE FROM rcands WHERE record=?1 AND field=?2",
                          rid, k, NULL, err);
        } else {
            json_array_foreach (base, i, b)
                if (rc == NTM_OK)
                    rc = rec_exec(st,
                                  "DELETE FROM rcands WHERE record=?1 AND "
                                  "field=?2 AND entry=?3",
                                  rid, k, json_string_value(b), err);
        }
        if (rc == NTM_OK)
            rc = put_cand(st, rid, k, e, v, 1, err);
        int conflict = 0;
        keys[n] = k;
        if (rc == NTM_OK)
            rc = field_state(st, rid, k, &vals[n], &conflict, err);
        n++;
        if (rc == NTM_OK)
            rc = put_field(st, rid, k, conflict, err);
    }
    if (rc == NTM_OK && !(fields = Ntm_jtext_merge(
                              fr->fields, keys, (const char *const *)vals, n)))
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (rc == NTM_OK && e->ts > fr->updated)
        fr->updated = e->ts;
    if (rc == NTM_OK)
        rc = save_fast(st, e, fr, fields, err);
    if (rc == NTM_OK)
        rc = Ntm_effect_set(st, e->gseq, NTM_OK, NULL, err);
    for (size_t x = 0; vals && x < n; x++)
        ntm_free(vals[x]);
    ntm_free(vals);
    ntm_free(keys);
    ntm_free(fields);
    return rc;
}

/*
 * The common cases, in work independent of the record's history:
 *   - an update or delete written knowing the whole record (its base names
 *     every current head) dominates every valid change;
 *   - a concurrent one (its base names other valid changes) whose fields'
 *     candidates are all heads: it can dominate only what it names (a head
 *     is no valid change's ancestor);
 *   - an entry without effect changes nothing but its own verdict.
 * Taken only while nothing of the record waits for a missing entry (then
 * nobody names e as a base). *done 0: run the general path.
 */
static enum ntm_err
state_fast(struct ntm_store *st, const struct Ntm_entry *e, int *done,
           struct ntm_error *err)
{
    *done = 0;
    enum node_kind kind = kind_of(e->op);
    if (kind != N_UPDATE && kind != N_DELETE)
        return NTM_OK;
    struct fast_rec fr;
    memset(&fr, 0, sizeof(fr));
    fr.waiting = 1;
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT unit, fields, deleted, updated_ts, "
                                  "waiting, nheads, org, linear, "
                                  "coalesce(head, " NTM_CREATE_ID_SQL
                                  ") FROM records WHERE id=?1",
                                  err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, e->record, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    if (x == SQLITE_ROW) {
        snprintf(fr.unit, sizeof(fr.unit), "%s",
                 (const char *)sqlite3_column_text(s, 0));
        fr.fields = ntm_strdup((const char *)sqlite3_column_text(s, 1));
        fr.deleted = sqlite3_column_int(s, 2);
        fr.updated = sqlite3_column_int64(s, 3);
        fr.waiting = sqlite3_column_int(s, 4);
        fr.nheads = sqlite3_column_int64(s, 5);
        snprintf(fr.org, sizeof(fr.org), "%s",
                 (const char *)sqlite3_column_text(s, 6));
        fr.linear = sqlite3_column_int(s, 7);
        snprintf(fr.head, sizeof(fr.head), "%s",
                 (const char *)sqlite3_column_text(s, 8));
    }
    sqlite3_reset(s);
    enum ntm_err rc = Ntm_step_ok(st, x, err, "cannot read the record");
    if (rc != NTM_OK || x != SQLITE_ROW || fr.waiting || !fr.fields)
        goto out;
    /* A stored text that is not one object (a damaged row): the general
     * path recomputes the record from its log instead. */
    const char *fend = fr.fields[0] == '{' ? Ntm_jtext_skip(fr.fields) : NULL;
    if (!fend || *fend)
        goto out;
    char msg[160];
    if (Ntm_rules_body(e, msg, sizeof(msg)) != NTM_OK)
        goto out;
    struct ntm_enrollment enr;
    if ((rc = Ntm_auth_lookup(st, e->author, e->seq, &enr, err)) != NTM_OK)
        goto out;
    enum ntm_err code =
        Ntm_rules_check(st, e, &enr, fr.unit, fr.org, msg, sizeof(msg), err);
    if (!Ntm_is_verdict(code)) {
        rc = code;
        goto out;
    }
    if (code != NTM_OK) {
        if (code != NTM_ENOENT) {
            rc = Ntm_effect_set(st, e->gseq, code, msg, err);
            *done = rc == NTM_OK;
        }
        goto out;
    }
    /* Every base a valid change of this record; count the heads named. */
    json_t *base = json_object_get(e->body, "base");
    size_t i;
    json_t *b;
    int64_t named = 0;
    json_array_foreach (base, i, b) {
        int yes = 0, head = 0;
        for (size_t j = 0; j < i; j++)
            if (json_equal(json_array_get(base, j), b))
                goto out; /* named twice: the general path */
        if ((rc = valid_change(st, json_string_value(b), e->record, &yes,
                               err)) != NTM_OK ||
            !yes)
            goto out;
        if (fr.linear)
            head = strcmp(json_string_value(b), fr.head) == 0;
        else if ((rc = rec_exists(st,
                                  "SELECT 1 FROM rheads WHERE record=?1 AND "
                                  "entry=?2",
                                  e->record, json_string_value(b), NULL, &head,
                                  err)) != NTM_OK)
            goto out;
        named += head;
    }
    int dominates = named == fr.nheads;
    /* A linear record's line forks: the general path writes its rows. */
    if (fr.linear && !dominates)
        goto out;
    if (!dominates) {
        /* Each field it sets: no candidate that is not a head. */
        const char *k;
        json_t *v;
        json_object_foreach (json_object_get(e->body, "set"), k, v) {
            int other = 0;
            if ((rc = rec_exists(st,
                                 "SELECT 1 FROM rcands WHERE record=?1 AND "
                                 "field=?2 AND head=0 LIMIT 1",
                                 e->record, k, NULL, &other, err)) != NTM_OK ||
                other)
                goto out;
        }
    }
    rc = apply_fast(st, e, &fr, dominates, err);
    *done = rc == NTM_OK;
out:
    ntm_free(fr.fields);
    return rc;
}

enum ntm_err
Ntm_record_heads(struct ntm_store *st, const char *record, json_t **out,
                 struct ntm_error *err)
{
    *out = NULL;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT entry FROM rheads WHERE record=?1 UNION ALL SELECT "
        "coalesce(head, " NTM_CREATE_ID_SQL ") FROM records WHERE id=?1 AND "
        "linear=1 ORDER BY 1",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    return Ntm_collect(st, s, 0, out, err);
}

enum ntm_err
Ntm_record_conflicts(struct ntm_store *st, const char *record, json_t **out,
                     struct ntm_error *err)
{
    *out = json_object();
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT c.field, c.entry, c.author, c.value, c.ts, c.lc FROM rcands "
        "c JOIN rfields f ON f.record=c.record AND f.field=c.field WHERE "
        "c.record=?1 AND f.conflict=1 ORDER BY c.field, c.ts, c.lc, "
        "c.author, c.seq",
        err);
    if (!s || !*out) {
        json_decref(*out);
        *out = NULL;
        return s ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                 : (err ? err->code : NTM_EDB);
    }
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    int x = SQLITE_DONE, bad = 0;
    while (!bad && (x = sqlite3_step(s)) == SQLITE_ROW) {
        const char *field = (const char *)sqlite3_column_text(s, 0);
        json_t *list = json_object_get(*out, field);
        if (!list) {
            list = json_array();
            bad = !list || json_object_set_new(*out, field, list);
            if (bad)
                break;
        }
        json_t *v = load_dumped((const char *)sqlite3_column_text(s, 3));
        bad = !v ||
              json_array_append_new(
                  list,
                  json_pack("{s:s, s:s, s:o, s:I, s:I}", "entry",
                            (const char *)sqlite3_column_text(s, 1), "author",
                            (const char *)sqlite3_column_text(s, 2), "value", v,
                            "ts", (json_int_t)sqlite3_column_int64(s, 4), "lc",
                            (json_int_t)sqlite3_column_int64(s, 5)));
    }
    sqlite3_reset(s);
    enum ntm_err rc = bad ? ntm_error_set(err, NTM_ENOMEM, "out of memory")
                          : Ntm_step_ok(st, x, err, "cannot read the record");
    if (rc != NTM_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

enum ntm_err
Ntm_state_entry(struct ntm_store *st, const struct Ntm_entry *e,
                struct ntm_error *err)
{
    /* The usual case is a new record: its create is its only entry, and
     * it is parsed already; load() would read it back and parse it again.
     * The result is the same either way (a one-node graph). */
    if (!e->alone) {
        int done = 0;
        enum ntm_err frc = state_fast(st, e, &done, err);
        if (frc != NTM_OK || done)
            return frc;
        sqlite3_stmt *s = Ntm_prepare(
            st, "SELECT 1 FROM entries WHERE record=?1 AND id<>?2 LIMIT 1",
            err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, e->record, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, e->id, -1, SQLITE_STATIC);
        int x = sqlite3_step(s);
        sqlite3_reset(s);
        if (x == SQLITE_ROW)
            return Ntm_state_record(st, e->record, err);
        if (x != SQLITE_DONE)
            return Ntm_db_error(st, x, err, "cannot read the record's entries");
    }
    struct node nd;
    struct rec r = {&nd, 1, -1, e->alone};
    memset(&nd, 0, sizeof(nd));
    nd.e = *e;
    nd.borrowed = 1;
    nd.kind = kind_of(e->op);
    enum ntm_err rc = settle(st, e->record, &r, err);
    ntm_free(nd.base);
    ntm_free(nd.anc);
    return rc;
}

enum ntm_err
Ntm_state_authors(struct ntm_store *st, json_t *keys, struct ntm_error *err)
{
    size_t i;
    json_t *k;
    json_array_foreach (keys, i, k) {
        /* The units they named: each code settled again. */
        json_t *codes = NULL;
        sqlite3_stmt *u = Ntm_prepare(st,
                                      "SELECT DISTINCT unit FROM entries WHERE "
                                      "author=?1 AND op='unit.create' AND "
                                      "unit IS NOT NULL",
                                      err);
        if (!u)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(u, 1, json_string_value(k), -1, SQLITE_STATIC);
        enum ntm_err urc = Ntm_collect(st, u, 0, &codes, err);
        size_t c;
        json_t *code;
        json_array_foreach (codes, c, code) {
            if (urc == NTM_OK)
                urc = Ntm_state_unit(st, json_string_value(code), err);
        }
        json_decref(codes);
        if (urc != NTM_OK)
            return urc;
        /* Collect first: recomputing writes to tables we read. */
        json_t *ids = NULL;
        sqlite3_stmt *s = Ntm_prepare(
            st,
            "SELECT DISTINCT record FROM entries WHERE author=?1 AND record "
            "IS NOT NULL",
            err);
        if (!s)
            return err ? err->code : NTM_EDB;
        sqlite3_bind_text(s, 1, json_string_value(k), -1, SQLITE_STATIC);
        enum ntm_err rc = Ntm_collect(st, s, 0, &ids, err);
        if (rc != NTM_OK)
            return rc;
        size_t j;
        json_t *id;
        json_array_foreach (ids, j, id) {
            rc = Ntm_state_record(st, json_string_value(id), err);
            if (rc != NTM_OK) {
                json_decref(ids);
                return rc;
            }
        }
        json_decref(ids);
    }
    return NTM_OK;
}

static int
cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a),
                  json_string_value(*(json_t *const *)b));
}

/* Sort an array of strings in place. */
static void
json_array_sort_ids(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = ntm_calloc(n + 1, sizeof(*v));
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(*v), cmp_json_str);
    for (size_t i = 0; i < n; i++)
        json_array_set_new(arr, i, v[i]);
    ntm_free(v);
}

/* One unit.create of the code being settled. */
struct unode {
    struct Ntm_entry e;
    int valid;
    int level; /* of its author: 0 root, else its scope's depth */
    unsigned char *anc;
};

static int
unit_pick(const struct unode *a, const struct unode *b)
{
    /* The shown name of a conflict: the higher authority's, then the later
     * in total order (the conflict stays listed either way). */
    if (a->level != b->level)
        return a->level < b->level ? 1 : -1;
    return Ntm_order_cmp(a->e.ts, a->e.lc, a->e.author, a->e.seq, b->e.ts,
                         b->e.lc, b->e.author, b->e.seq);
}

/* The units row of code from its unit.create entries (SPEC 3, 5): the
 * candidates are the effective ones no other effective one names through
 * base; one, or several naming the same, give the name; several that
 * differ are a conflict for a coordinator, who resolves it with a
 * unit.create naming them all as base. */
static enum ntm_err
settle_unit(struct ntm_store *st, const char *code, struct ntm_error *err)
{
    sqlite3_stmt *s = Ntm_prepare(st,
                                  "SELECT gseq, bytes FROM entries WHERE "
                                  "op='unit.create' AND unit=?1 ORDER BY gseq",
                                  err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
    json_t *rows = NULL;
    enum ntm_err rc = Ntm_collect(st, s, 1, &rows, err);
    int x;
    size_t n = json_array_size(rows), k = 0;
    struct unode *u = rc == NTM_OK ? ntm_calloc(n + 1, sizeof(*u)) : NULL;
    json_t *heads = json_array(), *cands = json_array();
    char *heads_s = NULL, *cands_s = NULL, *name = NULL;
    if (rc == NTM_OK && (!u || !heads || !cands))
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    for (size_t i = 0; rc == NTM_OK && i < n; i++) {
        json_t *row = json_array_get(rows, i);
        json_t *b = json_array_get(row, 1);
        char msg[160];
        struct unode *nd = &u[k];
        enum ntm_err v =
            Ntm_entry_parse(&nd->e, json_string_value(b), json_string_length(b),
                            msg, sizeof(msg));
        nd->e.gseq = json_integer_value(json_array_get(row, 0));
        if (v != NTM_OK) {
            Ntm_entry_release(&nd->e);
            memset(nd, 0, sizeof(*nd));
            if (v == NTM_ENOMEM)
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            continue;
        }
        k++;
        struct ntm_enrollment enr;
        rc = Ntm_auth_lookup(st, nd->e.author, nd->e.seq, &enr, err);
        enum ntm_err code2 = rc == NTM_OK
                                 ? Ntm_rules_check(st, &nd->e, &enr, NULL, NULL,
                                                   msg, sizeof(msg), err)
                                 : rc;
        if (rc == NTM_OK && !Ntm_is_verdict(code2))
            rc = code2;
        if (rc == NTM_OK)
            rc = Ntm_effect_set(st, nd->e.gseq, code2, code2 ? msg : NULL, err);
        nd->valid = code2 == NTM_OK;
        nd->level = enr.is_root ? 0 : 1;
        for (const char *p = enr.scope; !enr.is_root && *p; p++)
            nd->level += *p == '.';
    }
    /* Dominance through base links (a handful of entries per code). */
    size_t bytes = (k + 7) / 8;
    for (size_t i = 0; rc == NTM_OK && i < k; i++)
        if (!(u[i].anc = ntm_calloc(1, bytes + 1)))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    for (int changed = 1; rc == NTM_OK && changed;) {
        changed = 0;
        for (size_t i = 0; i < k; i++) {
            json_t *base = json_object_get(u[i].e.body, "base");
            size_t bi;
            json_t *bx;
            json_array_foreach (base, bi, bx) {
                for (size_t j = 0; j < k; j++) {
                    if (j == i || !json_is_string(bx) ||
                        strcmp(u[j].e.id, json_string_value(bx)) != 0)
                        continue;
                    for (size_t w = 0; w < bytes; w++) {
                        unsigned char nw =
                            u[i].anc[w] | u[j].anc[w] |
                            (w == j / 8 ? (unsigned char)(1u << (j % 8)) : 0);
                        if (nw != u[i].anc[w]) {
                            u[i].anc[w] = nw;
                            changed = 1;
                        }
                    }
                }
            }
        }
    }
    int best = -1, same = 1, nc = 0;
    for (size_t i = 0; rc == NTM_OK && i < k; i++) {
        if (!u[i].valid)
            continue;
        int dominated = 0;
        for (size_t j = 0; j < k && !dominated; j++)
            dominated =
                j != i && u[j].valid && ((u[j].anc[i / 8] >> (i % 8)) & 1);
        if (dominated)
            continue;
        nc++;
        if (best >= 0 &&
            (!json_equal(json_object_get(u[i].e.body, "name"),
                         json_object_get(u[best].e.body, "name")) ||
             !json_equal(json_object_get(u[i].e.body, "level"),
                         json_object_get(u[best].e.body, "level"))))
            same = 0;
        if (best < 0 || unit_pick(&u[i], &u[best]) > 0)
            best = (int)i;
        if (json_array_append_new(heads, json_string(u[i].e.id)) ||
            json_array_append_new(
                cands,
                json_pack("{s:s, s:s, s:O, s:O, s:I, s:I}", "entry", u[i].e.id,
                          "author", u[i].e.author, "name",
                          json_object_get(u[i].e.body, "name"), "level",
                          json_object_get(u[i].e.body, "level"), "ts",
                          (json_int_t)u[i].e.ts, "lc", (json_int_t)u[i].e.lc)))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    if (rc == NTM_OK) {
        sqlite3_stmt *d =
            Ntm_prepare(st, "DELETE FROM units WHERE code=?1", err);
        if (!d)
            rc = err ? err->code : NTM_EDB;
        else {
            sqlite3_bind_text(d, 1, code, -1, SQLITE_STATIC);
            x = sqlite3_step(d);
            sqlite3_reset(d);
            rc = Ntm_step_ok(st, x, err, "cannot save a unit");
        }
    }
    if (rc == NTM_OK && best >= 0) {
        json_array_sort_ids(heads);
        const char *raw =
            json_string_value(json_object_get(u[best].e.body, "name"));
        name = ntm_text_nfc(raw);
        heads_s = dump_json_new(heads);
        cands_s = nc > 1 && !same ? dump_json_new(cands) : NULL;
        sqlite3_stmt *w = Ntm_prepare(
            st,
            "INSERT INTO units(code, name, level, entry, heads, conflicts) "
            "VALUES(?1,?2,?3,?4,?5,?6)",
            err);
        if (!name || !heads_s || (nc > 1 && !same && !cands_s))
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        else if (!w)
            rc = err ? err->code : NTM_EDB;
        else {
            sqlite3_bind_text(w, 1, code, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 2, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(
                w, 3,
                json_string_value(json_object_get(u[best].e.body, "level")), -1,
                SQLITE_STATIC);
            sqlite3_bind_text(w, 4, u[best].e.id, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 5, heads_s, -1, SQLITE_STATIC);
            if (cands_s)
                sqlite3_bind_text(w, 6, cands_s, -1, SQLITE_STATIC);
            x = sqlite3_step(w);
            sqlite3_reset(w);
            if (x != SQLITE_DONE)
                rc = Ntm_db_error(st, x, err, "cannot save a unit");
        }
    }
    for (size_t i = 0; i < k; i++) {
        Ntm_entry_release(&u[i].e);
        ntm_free(u[i].anc);
    }
    ntm_free(u);
    ntm_free(name);
    ntm_free(heads_s);
    ntm_free(cands_s);
    json_decref(heads);
    json_decref(cands);
    json_decref(rows);
    return rc;
}

enum ntm_err
Ntm_state_unit(struct ntm_store *st, const char *code, struct ntm_error *err)
{
    return settle_unit(st, code, err);
}

enum ntm_err
Ntm_state_units(struct ntm_store *st, struct ntm_error *err)
{
    enum ntm_err rc = Ntm_exec(st, "DELETE FROM units", err);
    if (rc != NTM_OK)
        return rc;
    json_t *codes = NULL;
    sqlite3_stmt *s = Ntm_prepare(
        st,
        "SELECT DISTINCT unit FROM entries WHERE op='unit.create' AND unit "
        "IS NOT NULL ORDER BY unit",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    rc = Ntm_collect(st, s, 0, &codes, err);
    size_t i;
    json_t *c;
    json_array_foreach (codes, i, c) {
        if (rc != NTM_OK)
            break;
        rc = settle_unit(st, json_string_value(c), err);
    }
    /* unit.create entries whose code is not a unit code: bad_body. */
    if (rc == NTM_OK)
        rc = Ntm_effect_set_many(st, NTM_EBADBODY,
                                 "'unit.create: ''code'' must be a unit code'",
                                 "op='unit.create' AND unit IS NULL", err);
    json_decref(codes);
    return rc;
}

/*
 * The word index of a store that kept none (a server's): each record's
 * row, made from its stored fields and unit as index_record makes it when
 * the record changes (verify recomputes and compares them). Then the
 * store keeps its index: meta "search" = "kept", which a server's next
 * open leaves as it is.
 */
enum ntm_err
Ntm_state_search_build(struct ntm_store *st, struct ntm_error *err)
{
    if (!st->search_lazy)
        return NTM_OK;
    if (st->flags & NTM_STORE_READONLY)
        return ntm_error_set(err, NTM_EREADONLY,
                             N_("this home keeps no word index yet (a "
                                "server's store builds it on its first "
                                "search) and is open read-only - search it "
                                "once where it can be written"));
    enum ntm_err rc = Ntm_sp_begin(st, err); /* reads the mode again */
    if (rc != NTM_OK)
        return rc;
    int lazy = st->search_lazy;
    st->search_lazy = 0;
    sqlite3_stmt *s = NULL;
    if (lazy) {
        int x = sqlite3_prepare_v2(st->db,
                                   "SELECT id, unit, fields FROM records "
                                   "ORDER BY c_ts, author, id",
                                   -1, &s, NULL);
        if (x != SQLITE_OK)
            rc = Ntm_db_error(st, x, err, "cannot build the word index");
        while (rc == NTM_OK && (x = sqlite3_step(s)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(s, 0);
            const char *unit = (const char *)sqlite3_column_text(s, 1);
            const char *ftext = (const char *)sqlite3_column_text(s, 2);
            json_error_t jerr;
            json_t *fields = ftext ? json_loads(ftext, 0, &jerr) : NULL;
            char *folded = NULL;
            if (!id || !unit || !ftext ||
                (!fields && json_error_code(&jerr) == json_error_out_of_memory))
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            else if (!fields) /* damaged: verify names it */
                rc = ntm_error_set(err, NTM_EDB,
                                   "record %.16s... has fields that do not "
                                   "read as JSON - run 'ntm verify'",
                                   id);
            if (rc == NTM_OK)
                rc = search_text(st, fields, unit, &folded, err);
            if (rc == NTM_OK)
                rc = index_record(st, id, unit, folded, 0, err);
            ntm_free(folded);
            json_decref(fields);
        }
        if (rc == NTM_OK && x != SQLITE_DONE)
            rc = Ntm_db_error(st, x, err, "cannot build the word index");
        sqlite3_finalize(s);
        if (rc == NTM_OK)
            rc = ntm_store_meta_set(st, "search", "kept", err);
    }
    enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
    if (rc == NTM_OK)
        rc = rc2;
    if (rc != NTM_OK)
        st->search_lazy = lazy;
    return rc;
}

enum ntm_err
Ntm_state_all(struct ntm_store *st, struct ntm_error *err)
{
    enum ntm_err rc = Ntm_state_units(st, err);
    if (rc == NTM_OK)
        rc = Ntm_search_flush(st, err);
    if (rc != NTM_OK)
        return rc;
    rc = Ntm_exec(st,
                  "DELETE FROM records; DELETE FROM rheads; DELETE FROM "
                  "rcands; DELETE FROM rfields; DELETE FROM rsearch; "
                  "DELETE FROM rdoc; DELETE FROM rattach;",
                  err);
    if (rc != NTM_OK)
        return rc;
    json_t *ids = NULL;
    sqlite3_stmt *s = Ntm_prepare(
        st, "SELECT DISTINCT record FROM entries WHERE record IS NOT NULL",
        err);
    if (!s)
        return err ? err->code : NTM_EDB;
    rc = Ntm_collect(st, s, 0, &ids, err);
    size_t i;
    json_t *id;
    json_array_foreach (ids, i, id) {
        if (rc != NTM_OK)
            break;
        rc = Ntm_state_record(st, json_string_value(id), err);
        if (rc != NTM_OK)
            break;
    }
    json_decref(ids);
    return rc;
}
