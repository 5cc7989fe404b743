/* SPDX-License-Identifier: MIT */
/*
 * ops.c - the operations of SPEC.md section 3 as library calls: each
 * builds its body (text in NFC), fills in what the replica knows (the
 * record's current heads as base) and hands it to ntm_store_write, which
 * checks, signs and appends.
 *
 * Depends on util/, crypto/, store internals, jansson.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

/* new: a copy of v with every string in NFC; NULL on invalid UTF-8. */
static json_t *
nfc_copy(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        char *s = ntm_text_nfc(json_string_value(v));
        if (!s)
            return NULL;
        json_t *r = json_string(s);
        ntm_free(s);
        return r;
    }
    case JSON_OBJECT: {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach (v, k, x) {
            json_t *c = nfc_copy(x);
            if (!c || json_object_set_new(o, k, c) != 0) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) {
            json_t *c = nfc_copy(x);
            if (!c || json_array_append_new(a, c) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    default:
        return json_incref(v);
    }
}

/* Write op with body (taken: released on every path). */
static enum ntm_err
write_new(struct ntm_store *st, const struct ntm_key *key, const char *op,
          json_t *body, struct ntm_write_result *res, struct ntm_error *err)
{
    if (!body)
        return ntm_error_set(err, NTM_EINVAL,
                             "cannot build the %s entry (invalid text?)", op);
    enum ntm_err rc = ntm_store_write(st, key, op, body, res, err);
    json_decref(body);
    return rc;
}

/* new: the record's current heads (and its conflicts, left NULL when it
 * has none), or NTM_ENOENT. */
static enum ntm_err
record_heads(struct ntm_store *st, const char *id, json_t **heads,
             json_t **conflicts, struct ntm_error *err)
{
    *heads = NULL;
    if (conflicts)
        *conflicts = NULL;
    sqlite3_stmt *s =
        Ntm_prepare(st, "SELECT conflict FROM records WHERE id=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int x = sqlite3_step(s);
    int conflict = x == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_reset(s);
    enum ntm_err rc = Ntm_step_ok(st, x, err, "cannot read the record");
    if (rc != NTM_OK)
        return rc;
    if (x != SQLITE_ROW)
        return ntm_error_set(
            err, NTM_ENOENT,
            N_("no record %s on this replica - check the id with "
               "'ntm list'"),
            id);
    rc = Ntm_record_heads(st, id, heads, err);
    if (rc == NTM_OK && conflicts && conflict)
        rc = Ntm_record_conflicts(st, id, conflicts, err);
    if (rc != NTM_OK) {
        json_decref(*heads);
        *heads = NULL;
    }
    return rc;
}

enum ntm_err
ntm_record_create(struct ntm_store *st, const struct ntm_key *key,
                  const char *kind, const char *unit, const char *org,
                  json_t *fields, char record_id[NTM_RECORD_ID_LEN + 1],
                  struct ntm_write_result *res, struct ntm_error *err)
{
    /* The id is filled in by ntm_store_write, which knows the seq. */
    record_id[0] = '\0';
    res->record[0] = '\0';
    json_t *f = nfc_copy(fields);
    json_t *body = f ? json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", "", "kind",
                                 kind, "unit", unit, "org", org, "fields", f)
                     : NULL;
    enum ntm_err rc = write_new(st, key, "record.create", body, res, err);
    /* Also on failure: a write cut short by a crash may still have been
     * committed, and the caller then needs the id to find it. */
    memcpy(record_id, res->record, NTM_RECORD_ID_LEN + 1);
    return rc;
}

enum ntm_err
ntm_record_update(struct ntm_store *st, const struct ntm_key *key,
                  const char *record_id, json_t *set,
                  struct ntm_write_result *res, struct ntm_error *err)
{
    json_t *heads;
    enum ntm_err rc = record_heads(st, record_id, &heads, NULL, err);
    if (rc != NTM_OK)
        return rc;
    json_t *s = nfc_copy(set);
    json_t *body = s ? json_pack("{s:s, s:o, s:o}", "id", record_id, "base",
                                 heads, "set", s)
                     : (json_decref(heads), NULL);
    return write_new(st, key, "record.update", body, res, err);
}

enum ntm_err
ntm_record_delete(struct ntm_store *st, const struct ntm_key *key,
                  const char *record_id, struct ntm_write_result *res,
                  struct ntm_error *err)
{
    json_t *heads;
    enum ntm_err rc = record_heads(st, record_id, &heads, NULL, err);
    if (rc != NTM_OK)
        return rc;
    return write_new(st, key, "record.delete",
                     json_pack("{s:s, s:o}", "id", record_id, "base", heads),
                     res, err);
}

enum ntm_err
ntm_record_resolve(struct ntm_store *st, const struct ntm_key *key,
                   const char *record_id, const char *take_entry, json_t *set,
                   struct ntm_write_result *res, struct ntm_error *err)
{
    json_t *heads, *conflicts;
    enum ntm_err rc = record_heads(st, record_id, &heads, &conflicts, err);
    if (rc != NTM_OK)
        return rc;
    json_t *out = json_object();
    if (take_entry) {
        const char *field;
        json_t *cands;
        int found = 0;
        json_object_foreach (conflicts, field, cands) {
            size_t i;
            json_t *c;
            json_array_foreach (cands, i, c) {
                if (strcmp(json_string_value(json_object_get(c, "entry")),
                           take_entry) == 0 ||
                    (strlen(take_entry) >= 6 &&
                     strncmp(json_string_value(json_object_get(c, "entry")),
                             take_entry, strlen(take_entry)) == 0)) {
                    json_object_set(out, field, json_object_get(c, "value"));
                    found = 1;
                }
            }
        }
        if (!found) {
            rc = ntm_error_set(err, NTM_ECONFLICT,
                               N_("entry %s is not a candidate of any conflict "
                                  "of record %s - see 'ntm conflicts'"),
                               take_entry, record_id);
            goto out;
        }
    } else if (!conflicts && !set) {
        rc = ntm_error_set(err, NTM_ECONFLICT,
                           N_("record %s has no conflict to resolve"),
                           record_id);
        goto out;
    }
    if (set)
        json_object_update(out, set);
    if (json_object_size(out) == 0) {
        rc = ntm_error_set(err, NTM_EINVAL, N_("nothing to set"));
        goto out;
    }
    json_t *s = nfc_copy(out);
    rc = write_new(st, key, "record.update",
                   s ? json_pack("{s:s, s:O, s:o}", "id", record_id, "base",
                                 heads, "set", s)
                     : NULL,
                   res, err);
out:
    json_decref(out);
    json_decref(heads);
    json_decref(conflicts);
    return rc;
}

/* The record's task (new string, free with ntm_free), or NULL. */
static char *
record_task(struct ntm_store *st, const char *id)
{
    char *task = NULL;
    sqlite3_stmt *s =
        Ntm_prepare(st, "SELECT task FROM records WHERE id=?1", NULL);
    if (!s)
        return NULL;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        task = ntm_strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return task;
}

/*
 * Parallel updates of different fields leave several heads and no
 * conflict; a review must name one version, so merge them first with an
 * update written knowing every head (it sets the task to its own value).
 */
static enum ntm_err
merge_heads(struct ntm_store *st, const struct ntm_key *key,
            const char *record_id, struct ntm_error *err)
{
    char *task = record_task(st, record_id);
    if (!task)
        return ntm_error_set(err, NTM_ECONFLICT,
                             "record %s has several versions and no task to "
                             "merge them on - use 'ntm resolve %s --set "
                             "FIELD=VALUE' first",
                             record_id, record_id);
    json_t *set = json_pack("{s:s}", "task", task);
    ntm_free(task);
    struct ntm_write_result mres;
    enum ntm_err rc =
        set ? ntm_record_update(st, key, record_id, set, &mres, err)
            : ntm_error_set(err, NTM_ENOMEM, "out of memory");
    json_decref(set);
    return rc;
}

enum ntm_err
ntm_record_review(struct ntm_store *st, const struct ntm_key *key,
                  const char *record_id, const char *state, const char *comment,
                  struct ntm_write_result *res, struct ntm_error *err)
{
    json_t *heads = NULL, *conflicts = NULL;
    enum ntm_err rc = record_heads(st, record_id, &heads, &conflicts, err);
    if (rc != NTM_OK)
        return rc;
    size_t nheads = json_array_size(heads);
    size_t nconf = json_object_size(conflicts);
    json_decref(conflicts);
    if (nconf > 0) {
        json_decref(heads);
        return ntm_error_set(err, NTM_ECONFLICT,
                             "record %s has conflicting values in %zu "
                             "field(s) - see 'ntm conflicts' and resolve them "
                             "with 'ntm resolve' before reviewing it",
                             record_id, nconf);
    }
    if ((rc = Ntm_sp_begin(st, err)) != NTM_OK) {
        json_decref(heads);
        return rc;
    }
    if (nheads > 1) {
        json_decref(heads);
        heads = NULL;
        rc = merge_heads(st, key, record_id, err);
        if (rc == NTM_OK)
            rc = record_heads(st, record_id, &heads, NULL, err);
    }
    json_t *body = NULL;
    if (rc == NTM_OK) {
        body = json_pack("{s:s, s:O, s:s}", "id", record_id, "rev",
                         json_array_get(heads, 0), "state", state);
        if (body && comment) {
            char *c = ntm_text_nfc(comment);
            json_object_set_new(body, "comment", json_string(c ? c : ""));
            ntm_free(c);
        }
        rc = write_new(st, key, "review", body, res, err);
    }
    json_decref(heads);
    enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
    return rc != NTM_OK ? rc : rc2;
}

enum ntm_err
ntm_device_enroll(struct ntm_store *st, const struct ntm_key *key,
                  const char *device_key, const char *role, const char *scope,
                  const char *name, const char *org, int64_t from_seq,
                  struct ntm_write_result *res, struct ntm_error *err)
{
    char *n = ntm_text_nfc(name ? name : "");
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "key", device_key, "role",
                             role, "scope", scope, "name", n ? n : "");
    ntm_free(n);
    if (body && org && *org)
        json_object_set_new(body, "org", json_string(org));
    if (body && from_seq > 1)
        json_object_set_new(body, "from_seq", json_integer(from_seq));
    return write_new(st, key, "device.enroll", body, res, err);
}

enum ntm_err
ntm_device_revoke(struct ntm_store *st, const struct ntm_key *key,
                  const char *device_key, int64_t after_seq, const char *reason,
                  struct ntm_write_result *res, struct ntm_error *err)
{
    char *r = ntm_text_nfc(reason ? reason : "");
    json_t *body = json_pack("{s:s, s:I, s:s}", "key", device_key, "after_seq",
                             (json_int_t)after_seq, "reason", r ? r : "");
    ntm_free(r);
    return write_new(st, key, "device.revoke", body, res, err);
}

enum ntm_err
ntm_unit_create(struct ntm_store *st, const struct ntm_key *key,
                const char *code, const char *name, const char *level,
                struct ntm_write_result *res, struct ntm_error *err)
{
    char *n = ntm_text_nfc(name);
    json_t *body = n ? json_pack("{s:s, s:s, s:s}", "code", code, "name", n,
                                 "level", level)
                     : NULL;
    ntm_free(n);
    /* Written knowing the unit: its current versions are the base, so
     * this one supersedes them (and settles a conflict). */
    sqlite3_stmt *s =
        body ? Ntm_prepare(st, "SELECT heads FROM units WHERE code=?1", err)
             : NULL;
    if (s) {
        sqlite3_bind_text(s, 1, code, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW) {
            json_t *h =
                json_loads((const char *)sqlite3_column_text(s, 0), 0, NULL);
            if (json_array_size(h) > 0)
                json_object_set(body, "base", h);
            json_decref(h);
        }
        sqlite3_reset(s);
    }
    return write_new(st, key, "unit.create", body, res, err);
}
