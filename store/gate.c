/* SPDX-License-Identifier: MIT */
/*
 * gate.c - the ingest gate: whether an entry is taken into the log (SPEC.md
 * section 2, steps 2 and 3: signature, then chain), and taking it: the row,
 * its clock flags, its author's head, the HLC, and the index of entries
 * that waited for their record's create.
 *
 * Step 1 (shape) is entry.c's parser, run before; step 4 (is the author
 * enrolled?) is authorization, a layer above: ingest.c asks auth.c between
 * Ntm_gate_check and Ntm_gate_take. Step 5 never refuses: its verdict is
 * the entry's effect, derived after the take (derive.c).
 *
 * Depends on util/, crypto/ (signatures, base64, hex), log.c, effect.c,
 * db.c, jansson.
 */
#include "store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void reject(struct ntm_ingest_result *res, enum ntm_err code,
                   const char *fmt, ...) NTM_PRINTF(3, 4);

static void
reject(struct ntm_ingest_result *res, enum ntm_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    res->verdict = code;
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
}

int
Ntm_gate_sig(const struct Ntm_entry *e, const char *sig_b64,
             struct ntm_ingest_result *res)
{
    /* Step 2: signature. */
    unsigned char sig[NTM_SIGNATURE_BYTES + 2], pk[NTM_PUBLICKEY_BYTES];
    size_t siglen = 0;
    if (!sig_b64 ||
        ntm_b64_decode_public(sig, sizeof(sig), &siglen, sig_b64,
                              strlen(sig_b64)) != NTM_OK ||
        siglen != NTM_SIGNATURE_BYTES) {
        reject(res, NTM_EBADSIG, "signature is not 64 bytes of base64");
        return 0;
    }
    if (ntm_hex_decode_public(pk, sizeof(pk), e->author, NTM_HEX_ID_LEN) !=
            NTM_OK ||
        ntm_sign_verify(sig, e->bytes, e->len, pk) != NTM_OK) {
        reject(res, NTM_EBADSIG,
               "signature does not verify for this author and these bytes");
        return 0;
    }
    return 1;
}

enum ntm_err
Ntm_gate_check(struct ntm_store *st, const struct Ntm_entry *e,
               const char *sig_b64, int sig_checked, enum ntm_source source,
               struct ntm_ingest_result *res, int *partial_out,
               struct ntm_error *err)
{
    enum ntm_err rc;
    *partial_out = 0;
    if (!sig_checked && !Ntm_gate_sig(e, sig_b64, res))
        return NTM_OK;
    /* Already held: idempotent. */
    char held[NTM_HEX_ID_LEN + 1];
    if ((rc = Ntm_log_id_at(st, e->author, e->seq, held, err)) != NTM_OK)
        return rc;
    if (held[0] && strcmp(held, e->id) == 0) {
        res->duplicate = 1;
        return NTM_OK;
    }
    /* Step 3: chain. */
    if (held[0]) {
        reject(res, NTM_EFORK,
               "another entry is already held at seq %lld for this author",
               (long long)e->seq);
        return Ntm_log_fork(st, e, sig_b64, err);
    }
    int64_t head = 0;
    int partial = 0;
    char head_id[NTM_HEX_ID_LEN + 1];
    rc = Ntm_log_head(st, e->author, &head, head_id, &partial, err);
    if (rc != NTM_OK && rc != NTM_ENOENT)
        return rc;
    int strict = (st->flags & NTM_STORE_SERVER) ||
                 (source != NTM_SOURCE_PULL && !partial);
    int mark_partial = partial;
    if (strict) {
        if (e->seq > head + 1) {
            reject(res, NTM_EGAP,
                   "expected seq %lld: send the missing ones first",
                   (long long)(head + 1));
            return NTM_OK;
        }
        if (e->seq > 1 && strcmp(e->prev, head_id) != 0) {
            reject(res, NTM_EFORK,
                   "prev does not name the entry held at seq %lld",
                   (long long)head);
            return Ntm_log_fork(st, e, sig_b64, err);
        }
    } else {
        char other[NTM_HEX_ID_LEN + 1];
        if (e->seq > 1) {
            if ((rc = Ntm_log_id_at(st, e->author, e->seq - 1, other, err)) !=
                NTM_OK)
                return rc;
            if (other[0] && strcmp(other, e->prev) != 0) {
                reject(res, NTM_EFORK,
                       "prev does not name the entry held at seq %lld",
                       (long long)(e->seq - 1));
                return Ntm_log_fork(st, e, sig_b64, err);
            }
        }
        if ((rc = Ntm_log_id_at(st, e->author, e->seq + 1, other, err)) !=
            NTM_OK)
            return rc;
        if (other[0]) {
            /* The next entry held must name this one as its prev. */
            char next_prev[NTM_HEX_ID_LEN + 1];
            if ((rc = Ntm_log_prev_at(st, e->author, e->seq + 1, next_prev,
                                      err)) != NTM_OK)
                return rc;
            if (strcmp(next_prev, e->id) != 0) {
                reject(res, NTM_EFORK,
                       "the entry held at seq %lld names another prev",
                       (long long)(e->seq + 1));
                return Ntm_log_fork(st, e, sig_b64, err);
            }
        }
        if (e->seq != head + 1)
            mark_partial = 1;
    }
    *partial_out = mark_partial;
    return NTM_OK;
}

/*
 * On the server, entries of a record that arrived before its create were
 * served only near their author's scope (they wait). When the create names
 * the unit, they arrive again for everyone else: each takes the next gseq
 * (never one used before), so a device whose pull cursor passed them gets
 * them with the create, as SPEC 6 promises for anything committed later.
 */
static enum ntm_err
rearrive_orphans(struct ntm_store *st, const char *record,
                 struct ntm_error *err)
{
    json_t *old = NULL;
    enum ntm_err rc = Ntm_log_waiting(st, record, &old, err);
    size_t i;
    json_t *g;
    json_array_foreach (old, i, g) {
        if (rc != NTM_OK)
            break;
        int64_t to = 0;
        rc = Ntm_log_renumber(st, json_integer_value(g), &to, err);
        if (rc == NTM_OK)
            rc = Ntm_effect_move(st, json_integer_value(g), to, err);
    }
    json_decref(old);
    return rc;
}

enum ntm_err
Ntm_gate_take(struct ntm_store *st, struct Ntm_entry *e, const char *sig_b64,
              int partial, const char *unit, const char *waits,
              struct ntm_ingest_result *res, struct ntm_error *err)
{
    enum ntm_err rc;
    /* Taken. Clocks more than 24 h ahead are flagged and not followed;
     * a ts before the author's previous one, or before the plan period,
     * is flagged too (a device clock reset to 1970 or a back-dated
     * entry): nothing is claimed by a timestamp, but admins see it. */
    int64_t now = ntm_now_ms(); /* also the time it is received */
    int ahead = e->ts > now + NTM_DAY_MS;
    int clock = ahead ? NTM_CLOCK_AHEAD : 0;
    if (e->ts < NTM_EARLIEST_MS)
        clock |= NTM_CLOCK_EARLY;
    if (e->seq > 1) {
        int64_t before = 0;
        int found = 0;
        if ((rc = Ntm_log_ts_at(st, e->author, e->seq - 1, &before, &found,
                                err)) != NTM_OK)
            return rc;
        if (found && before > e->ts)
            clock |= NTM_CLOCK_BACK;
    }
    res->clock_ahead = ahead;
    res->clock = clock;
    if ((rc = Ntm_log_append(st, e, sig_b64, clock, unit, waits, now, err)) !=
        NTM_OK)
        return rc;
    if (!e->alone && strcmp(e->op, "record.create") == 0 && e->record &&
        unit[0]) {
        /* Entries of this record that came before their create. */
        if ((st->flags & NTM_STORE_SERVER) &&
            (rc = rearrive_orphans(st, e->record, err)) != NTM_OK)
            return rc;
        if ((rc = Ntm_log_index_unit(st, e->record, unit, err)) != NTM_OK)
            return rc;
    }
    if ((rc = Ntm_log_set_head(st, e, partial, err)) != NTM_OK)
        return rc;
    if (!ahead && (rc = Ntm_hlc_observe(st, e->ts, e->lc, err)) != NTM_OK)
        return rc;
    return NTM_OK;
}
