/* SPDX-License-Identifier: MIT */
/*
 * ingest.c - taking entries in (ntm_store_ingest: SPEC.md section 2,
 * steps 1-5 in order) and writing this device's own entries
 * (ntm_store_write: HLC, chain, step 5 before signing, signature). The top
 * of the write path: it calls the gate (steps 2-3), authorization (step 4),
 * the gate again to take the entry, and derive.c for its effect.
 *
 * Depends on util/, crypto/, every layer of store/ below it (see
 * store_int.h), jansson, SQLite.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

/* Steps 2-5 inside a savepoint opened by the caller. */
static enum ntm_err
ingest_parsed(struct ntm_store *st, struct Ntm_entry *e, const char *sig_b64,
              int sig_checked, enum ntm_source source,
              struct ntm_ingest_result *res, struct ntm_error *err)
{
    int partial = 0;
    enum ntm_err rc =
        Ntm_gate_check(st, e, sig_b64, sig_checked, source, res, &partial, err);
    if (rc != NTM_OK || res->verdict != NTM_OK || res->duplicate)
        return rc;
    /* Step 4: author. A device's own entries are kept even before an
     * enrollment covers them (offline-first); they wait. */
    struct ntm_enrollment enr;
    int looked = 0;
    if (source != NTM_SOURCE_LOCAL) {
        if ((rc = Ntm_auth_lookup(st, e->author, e->seq, &enr, err)) != NTM_OK)
            return rc;
        looked = 1;
        if (!enr.enrolled) {
            res->verdict = NTM_EUNKNOWNAUTHOR;
            snprintf(res->message, sizeof(res->message), "%s",
                     "author is not enrolled on this replica");
            return NTM_OK;
        }
        /* A revoked author's entry is kept, without effect, rather than
         * refused: another replica may already hold it (it was relayed
         * before the revocation reached us), and entries written with
         * knowledge of it must resolve their base the same way on every
         * replica. A revoked device cannot push for itself: the server
         * refuses its requests. */
    }
    /* The unit the entry concerns (scoped pulls); when not known yet, the
     * scope it waits in (and where a device.* entry without effect is
     * served): its author's, as enrolled at its seq ("" when none). */
    char unit[128], waits[128] = "";
    rc = Ntm_log_unit(st, e, unit, sizeof(unit), err);
    if (rc == NTM_OK && !unit[0] &&
        (e->record || strncmp(e->op, "device.", 7) == 0)) {
        if (!looked)
            rc = Ntm_auth_lookup(st, e->author, e->seq, &enr, err);
        if (rc == NTM_OK && enr.enrolled)
            snprintf(waits, sizeof(waits), "%s", enr.scope);
    }
    if (rc != NTM_OK)
        return rc;
    if ((rc = Ntm_gate_take(st, e, sig_b64, partial, unit, waits, res, err)) !=
        NTM_OK)
        return rc;
    /* Step 5: the entry's effect as derive.c writes it, without reading
     * the row back (read only when nothing wrote it). */
    Ntm_effect_watch(st, e->gseq);
    enum ntm_err code = NTM_OK;
    rc = Ntm_derive_entry(st, e, err);
    if (rc == NTM_OK)
        rc = Ntm_effect_get(st, e->gseq, &code, res->message,
                            sizeof(res->message), err);
    Ntm_effect_watch(st, 0);
    if (rc != NTM_OK)
        return rc;
    if (code == NTM_EBADBODY || code == NTM_EFORBIDDEN || code == NTM_EREVOKED)
        res->flag = code;
    else
        res->message[0] = '\0';
    return NTM_OK;
}

enum ntm_err
ntm_store_ingest(struct ntm_store *st, const char *entry, size_t len,
                 const char *sig_b64, enum ntm_source source,
                 struct ntm_ingest_result *res, struct ntm_error *err)
{
    memset(res, 0, sizeof(*res));
    res->seq = -1;
    struct Ntm_entry e;
    enum ntm_err v =
        Ntm_entry_parse(&e, entry, len, res->message, sizeof(res->message));
    if (e.author)
        Ntm_copy(res->author, sizeof(res->author), e.author);
    res->seq = e.seq;
    if (v == NTM_ENOMEM) {
        Ntm_entry_release(&e);
        return ntm_error_set(err, NTM_ENOMEM,
                             "out of memory while reading an entry");
    }
    if (v != NTM_OK) {
        res->verdict = v;
        Ntm_entry_release(&e);
        return NTM_OK;
    }
    Ntm_copy(res->id, sizeof(res->id), e.id);
    enum ntm_err rc = Ntm_sp_begin(st, err);
    if (rc == NTM_OK) {
        rc = ingest_parsed(st, &e, sig_b64, 0, source, res, err);
        enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
        if (rc == NTM_OK)
            rc = rc2;
    }
    Ntm_entry_release(&e);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Entries checked before the writer takes them */

/* Steps 1 and 2 depend only on the bytes and the author key they name:
 * they are judged here, on any thread, into an object that owns a copy of
 * the bytes and of the signature it judged. The writer takes only what the
 * object holds (ntm_store_ingest_checked compares it with what it is asked
 * to take), so a verdict never passes from one text to another. */
struct ntm_checked {
    char *bytes; /* owned copy, NUL-terminated */
    size_t len;
    char *sig; /* owned copy; NULL when none was given */
    struct Ntm_entry e;
    int nomem;                    /* memory ran out while checking */
    struct ntm_ingest_result res; /* the verdict of steps 1-2 */
};

void
ntm_checked_free(struct ntm_checked *c)
{
    if (!c)
        return;
    Ntm_entry_release(&c->e);
    ntm_free(c->bytes);
    ntm_free(c->sig);
    ntm_free(c);
}

enum ntm_err
ntm_entry_check(struct ntm_checked **out, const char *entry, size_t len,
                const char *sig_b64)
{
    *out = NULL;
    struct ntm_checked *c = ntm_calloc(1, sizeof(*c));
    if (!c)
        return NTM_ENOMEM;
    c->bytes = ntm_malloc(len + 1);
    c->sig = sig_b64 ? ntm_strdup(sig_b64) : NULL;
    if (!c->bytes || (sig_b64 && !c->sig)) {
        ntm_checked_free(c);
        return NTM_ENOMEM;
    }
    memcpy(c->bytes, entry, len);
    c->bytes[len] = '\0';
    c->len = len;
    /* What ntm_store_ingest says before it reads the store. */
    struct ntm_ingest_result *res = &c->res;
    res->seq = -1;
    enum ntm_err v = Ntm_entry_parse(&c->e, c->bytes, c->len, res->message,
                                     sizeof(res->message));
    if (c->e.author)
        snprintf(res->author, sizeof(res->author), "%s", c->e.author);
    res->seq = c->e.seq;
    if (v == NTM_ENOMEM) {
        c->nomem = 1;
    } else if (v != NTM_OK) {
        res->verdict = v;
    } else {
        snprintf(res->id, sizeof(res->id), "%s", c->e.id);
        Ntm_gate_sig(&c->e, c->sig, res);
    }
    *out = c;
    return NTM_OK;
}

const char *
ntm_checked_bytes(const struct ntm_checked *c, size_t *len, const char **sig)
{
    *len = c->len;
    *sig = c->sig;
    return c->bytes;
}

const struct ntm_ingest_result *
ntm_checked_result(const struct ntm_checked *c)
{
    return c && !c->nomem ? &c->res : NULL;
}

enum ntm_err
ntm_store_ingest_checked(struct ntm_store *st, const struct ntm_checked *c,
                         const char *entry, size_t len, const char *sig_b64,
                         enum ntm_source source, struct ntm_ingest_result *res,
                         struct ntm_error *err)
{
    /* Another text, or another signature, than the one checked: judged
     * in full, as if nothing had been checked. */
    if (!c || c->len != len || memcmp(c->bytes, entry, len) != 0 ||
        (c->sig == NULL) != (sig_b64 == NULL) ||
        (c->sig && strcmp(c->sig, sig_b64) != 0))
        return ntm_store_ingest(st, entry, len, sig_b64, source, res, err);
    *res = c->res;
    if (c->nomem)
        return ntm_error_set(err, NTM_ENOMEM,
                             "out of memory while reading an entry");
    if (res->verdict != NTM_OK)
        return NTM_OK;
    /* The parsed entry is the checked object's; the writer works on a
     * copy of its fields so that the object stays as it was checked. */
    struct Ntm_entry e = c->e;
    enum ntm_err rc = Ntm_sp_begin(st, err);
    if (rc == NTM_OK) {
        rc = ingest_parsed(st, &e, c->sig, 1, source, res, err);
        enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
        if (rc == NTM_OK)
            rc = rc2;
    }
    return rc;
}

static enum ntm_err
unit_of_record(struct ntm_store *st, const char *record, char *unit, size_t n,
               char *org, size_t norg, struct ntm_error *err)
{
    unit[0] = '\0';
    org[0] = '\0';
    sqlite3_stmt *s =
        Ntm_prepare(st, "SELECT unit, org FROM records WHERE id=?1", err);
    if (!s)
        return err ? err->code : NTM_EDB;
    sqlite3_bind_text(s, 1, record, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        snprintf(unit, n, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(org, norg, "%s", (const char *)sqlite3_column_text(s, 1));
    }
    sqlite3_reset(s);
    return Ntm_step_ok(st, r, err, "cannot read the record");
}

enum ntm_err
ntm_store_write(struct ntm_store *st, const struct ntm_key *key, const char *op,
                json_t *body, struct ntm_write_result *res,
                struct ntm_error *err)
{
    char author[NTM_HEX_ID_LEN + 1];
    char *text = NULL;
    json_t *obj = NULL;
    struct Ntm_entry e = {0};
    enum ntm_err rc;
    int sp = 0;

    memset(res, 0, sizeof(*res));
    ntm_key_author(key, author);
    if ((rc = Ntm_sp_begin(st, err)) != NTM_OK)
        return rc;
    sp = 1;

    int64_t head = 0, peer = 0;
    char head_id[NTM_HEX_ID_LEN + 1];
    rc = Ntm_log_head(st, author, &head, head_id, NULL, err);
    if (rc != NTM_OK && rc != NTM_ENOENT)
        goto out;
    if ((rc = ntm_store_peer_head_get(st, author, &peer, err)) != NTM_OK)
        goto out;
    if (peer > head) {
        rc = ntm_error_set(err, NTM_ESTALE,
                           "the server holds this device's entries up to seq "
                           "%lld but this replica only up to %lld (restored "
                           "from a backup?) - run 'ntm pull' first so that no "
                           "seq is used twice",
                           (long long)peer, (long long)head);
        goto out;
    }
    /* HLC: ts = max(now, last.ts); lc counts within one ts. */
    int64_t lts, llc;
    if ((rc = Ntm_hlc_get(st, &lts, &llc, err)) != NTM_OK)
        goto out;
    int64_t now = ntm_now_ms();
    int64_t ts = now > lts ? now : lts;
    int64_t lc = ts == lts ? llc + 1 : 0;
    if (lc > 65535) {
        ts++;
        lc = 0;
    }
    /* A record.create's id is bound to its author and seq (SPEC 3). */
    json_t *wbody = body;
    if (op && body && strcmp(op, "record.create") == 0) {
        ntm_record_id(res->record, author, head + 1);
        wbody = json_copy(body);
        if (!wbody ||
            json_object_set_new(wbody, "id", json_string(res->record))) {
            json_decref(wbody);
            rc = ntm_error_set(err, NTM_ENOMEM,
                               "out of memory while building the entry");
            goto out;
        }
    }
    obj = json_pack("{s:i, s:s, s:I, s:o, s:I, s:I, s:s, s:O}", "v", 1,
                    "author", author, "seq", (json_int_t)(head + 1), "prev",
                    head ? json_string(head_id) : json_null(), "ts",
                    (json_int_t)ts, "lc", (json_int_t)lc, "op", op, "body",
                    wbody);
    if (wbody != body)
        json_decref(wbody);
    if (!obj) {
        rc = op && body
                 ? ntm_error_set(err, NTM_ENOMEM,
                                 "out of memory while building the "
                                 "entry")
                 : ntm_error_set(err, NTM_EINVAL, "cannot build the entry");
        goto out;
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
        rc = ntm_error_set(err, NTM_ENOMEM, "cannot serialise the entry");
        goto out;
    }
    char msg[256];
    enum ntm_err v = Ntm_entry_parse(&e, text, strlen(text), msg, sizeof(msg));
    if (v == NTM_OK && !json_equal(e.json, obj)) {
        /* json_dumps can drop characters when memory runs out (jansson
         * 2.14 does not check every append): never sign such a text. */
        v = NTM_ENOMEM;
    }
    if (v != NTM_OK) {
        struct ntm_error why;
        ntm_error_set(&why, v, "%s", msg);
        rc = v == NTM_ENOMEM
                 ? ntm_error_set(err, v,
                                 "out of memory while "
                                 "building the entry")
                 : ntm_error_wrap(err, v, N_("entry refused: %s"), &why);
        goto out;
    }
    /* Step 5 before signing, when this device knows its enrollment. */
    struct ntm_enrollment enr;
    if ((rc = Ntm_auth_lookup(st, author, e.seq, &enr, err)) != NTM_OK)
        goto out;
    if (!enr.enrolled) {
        struct ntm_error why;
        enum ntm_err b = Ntm_rules_body_why(&e, &why);
        if (b != NTM_OK) {
            rc = ntm_error_wrap(err, b, N_("refused before signing: %s"), &why);
            goto out;
        }
        res->unenrolled = 1;
    } else {
        char unit[128] = "", org[64] = "";
        if (e.record && strcmp(op, "record.create") != 0 &&
            (rc = unit_of_record(st, e.record, unit, sizeof(unit), org,
                                 sizeof(org), err)) != NTM_OK)
            goto out;
        struct ntm_error why;
        enum ntm_err c =
            Ntm_rules_check_why(st, &e, &enr, unit[0] ? unit : NULL,
                                unit[0] ? org : NULL, &why, err);
        if (!Ntm_is_verdict(c)) {
            rc = c;
            goto out;
        }
        if (c == NTM_ENOENT) {
            rc = ntm_error_set(err, NTM_ENOENT,
                               N_("no record %s on this replica"),
                               e.record ? e.record : "?");
            goto out;
        }
        if (c != NTM_OK) {
            rc = ntm_error_wrap(err, c, N_("refused before signing: %s"), &why);
            goto out;
        }
    }
    unsigned char sig[NTM_SIGNATURE_BYTES];
    char sig_b64[NTM_SIG_B64_LEN + 1];
    if ((rc = ntm_key_sign(key, sig, text, strlen(text))) != NTM_OK) {
        ntm_error_set(err, rc, "cannot sign the entry");
        goto out;
    }
    ntm_b64_encode(sig_b64, sig, sizeof(sig));
    /* What ntm_store_ingest(NTM_SOURCE_LOCAL) does, on the entry parsed
     * above from the same bytes and inside this function's savepoint,
     * which undoes it all on failure: no second parse, no nested
     * savepoint. */
    struct ntm_ingest_result ir;
    memset(&ir, 0, sizeof(ir));
    snprintf(ir.id, sizeof(ir.id), "%s", e.id);
    snprintf(ir.author, sizeof(ir.author), "%s", e.author);
    ir.seq = e.seq;
    if ((rc = ingest_parsed(st, &e, sig_b64, 0, NTM_SOURCE_LOCAL, &ir, err)) !=
        NTM_OK)
        goto out;
    if (ir.verdict != NTM_OK) {
        rc =
            ntm_error_set(err, ir.verdict, "own entry refused: %s", ir.message);
        goto out;
    }
    /* What only the whole state can judge (authority over a device's
     * enrollments): the savepoint undoes the entry, which never leaves. */
    if (enr.enrolled && ir.flag != NTM_OK) {
        struct ntm_error why;
        ntm_error_set(&why, ir.flag, "%s", ir.message);
        rc = ntm_error_wrap(err, ir.flag, N_("refused before signing: %s"),
                            &why);
        goto out;
    }
    snprintf(res->id, sizeof(res->id), "%s", ir.id);
    res->seq = e.seq;
out:
    if (sp) {
        enum ntm_err rc2 = Ntm_sp_end(st, rc == NTM_OK, err);
        if (rc == NTM_OK)
            rc = rc2;
    }
    Ntm_entry_release(&e);
    Ntm_json_free(text);
    json_decref(obj);
    return rc;
}
