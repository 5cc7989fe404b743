/* SPDX-License-Identifier: MIT */
/*
 * derive.c - the derived state as a whole, in one place: what one new
 * entry changes (Ntm_derive_entry, called by ingest.c once the gate took
 * it), recomputing everything when the root key is set, and rebuilding
 * from the log (ntm_store_rebuild, the audit's comparison in verify.c,
 * and ntm_store_open when a migration asked for it).
 *
 * Each derived table keeps its own rules: auth.c the enrollments and
 * revocations, state.c the units and records, effect.c the effects; this
 * file only says when each is recomputed and in which order
 * (authorization first: the state depends on it).
 *
 * Depends on util/, db.c, effect.c, auth.c, state.c, rules.c, entry.c,
 * jansson, SQLite.
 */
#include "store_int.h"

#include <string.h>

enum ntm_err
Ntm_derive_entry(struct ntm_store *st, const struct Ntm_entry *e,
                 struct ntm_error *err)
{
    if (strncmp(e->op, "device.", 7) == 0) {
        json_t *changed = NULL;
        enum ntm_err rc = Ntm_auth_entry(st, e, &changed, err);
        if (rc == NTM_OK && json_array_size(changed) > 0)
            rc = Ntm_state_authors(st, changed, err);
        json_decref(changed);
        return rc;
    }
    if (strcmp(e->op, "unit.create") == 0) {
        json_t *c = json_object_get(e->body, "code");
        if (json_is_string(c) && Ntm_unit_code_valid(json_string_value(c)))
            return Ntm_state_unit(st, json_string_value(c), err);
        char msg[160];
        enum ntm_err code = Ntm_rules_body(e, msg, sizeof(msg));
        return Ntm_effect_set(st, e->gseq, code ? code : NTM_EBADBODY,
                              code ? msg
                                   : "unit.create: 'code' must be a "
                                     "unit code",
                              err);
    }
    if (e->record)
        return Ntm_state_entry(st, e, err);
    char msg[160];
    enum ntm_err code = Ntm_rules_body(e, msg, sizeof(msg));
    return Ntm_effect_set(st, e->gseq, code, code == NTM_OK ? NULL : msg, err);
}

enum ntm_err
Ntm_rebuild_derived(struct ntm_store *st, struct ntm_error *err)
{
    enum ntm_err rc = Ntm_effect_clear(st, err);
    if (rc == NTM_OK)
        rc = Ntm_search_flush(st, err);
    if (rc == NTM_OK)
        rc = Ntm_exec(st,
                      "DELETE FROM enrollments; DELETE FROM revocations; "
                      "DELETE FROM units; DELETE FROM records; "
                      "DELETE FROM rheads; DELETE FROM rcands; "
                      "DELETE FROM rfields; DELETE FROM rsearch; "
                      "DELETE FROM rdoc; DELETE FROM rattach;",
                      err);
    if (rc == NTM_OK)
        rc = Ntm_auth_recompute(st, NULL, err);
    if (rc == NTM_OK)
        rc = Ntm_state_all(st, err);
    if (rc == NTM_OK)
        rc = Ntm_search_flush(st, err);
    if (rc != NTM_OK)
        return rc;
    /* Entries of other ops (unknown ones) get their effect again. */
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(
        st->db,
        "SELECT bytes, gseq FROM entries WHERE record IS NULL AND op NOT IN "
        "('device.enroll','device.revoke','unit.create')",
        -1, &s, NULL);
    if (r != SQLITE_OK)
        return Ntm_db_error(st, r, err, "cannot rebuild");
    while (rc == NTM_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        struct Ntm_entry e;
        char msg[160];
        enum ntm_err v = Ntm_entry_parse(&e, sqlite3_column_blob(s, 0),
                                         (size_t)sqlite3_column_bytes(s, 0),
                                         msg, sizeof(msg));
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
    return rc;
}

enum ntm_err
ntm_store_rebuild(struct ntm_store *st, struct ntm_error *err)
{
    enum ntm_err rc = Ntm_sp_begin(st, err);
    if (rc != NTM_OK)
        return rc;
    rc = Ntm_rebuild_derived(st, err);
    enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
    return rc != NTM_OK ? rc : rc2;
}

enum ntm_err
ntm_store_open(struct ntm_store **out, const char *path, unsigned flags,
               struct ntm_error *err)
{
    struct ntm_store *st = NULL;
    int rebuild = 0;
    enum ntm_err rc = Ntm_db_open(&st, path, flags, &rebuild, err);
    *out = NULL;
    if (rc != NTM_OK)
        return rc;
    /* A migration that changed the rules asks for the derived state to be
     * rebuilt from the log. */
    if (rebuild) {
        if ((rc = ntm_store_begin(st, err)) != NTM_OK)
            goto fail;
        rc = ntm_store_rebuild(st, err);
        if (rc == NTM_OK)
            rc = ntm_store_meta_set(st, "rebuild", NULL, err);
        if (rc == NTM_OK)
            rc = ntm_store_commit(st, err);
        if (rc != NTM_OK) {
            ntm_store_rollback(st);
            goto fail;
        }
    }
    *out = st;
    return NTM_OK;
fail:
    ntm_store_close(st);
    return rc;
}

enum ntm_err
ntm_store_set_root(struct ntm_store *st, const char *root_hex,
                   struct ntm_error *err)
{
    if (!root_hex || !ntm_is_lower_hex(root_hex, NTM_HEX_ID_LEN))
        return ntm_error_set(err, NTM_EINVAL,
                             "root key must be 64 lowercase hex characters");
    char cur[NTM_HEX_ID_LEN + 1];
    if (ntm_store_root(st, cur) == NTM_OK) {
        if (strcmp(cur, root_hex) == 0)
            return NTM_OK;
        return ntm_error_set(err, NTM_EROOTKEY,
                             "this replica already trusts root key %.16s..., "
                             "not %.16s... - refusing to change it",
                             cur, root_hex);
    }
    enum ntm_err rc = Ntm_sp_begin(st, err);
    if (rc != NTM_OK)
        return rc;
    rc = ntm_store_meta_set(st, "root.key", root_hex, err);
    if (rc == NTM_OK) {
        memcpy(st->root, root_hex, NTM_HEX_ID_LEN + 1);
        /* Entries already held may take effect now. */
        rc = Ntm_auth_recompute(st, NULL, err);
        if (rc == NTM_OK)
            rc = Ntm_state_all(st, err);
    }
    enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
    if (rc != NTM_OK)
        st->root[0] = '\0';
    return rc != NTM_OK ? rc : rc2;
}
