/* SPDX-License-Identifier: MIT */
/*
 * reset.c - the root's statement that a server's history was reset (a
 * server restored from a backup, or moved to a new host that starts from
 * an older copy).
 *
 * Devices refuse a server that went backwards: its gseq or a head below
 * what it showed before, which is what a man in the middle or a careless
 * restore looks like. After a real restore, the root signs one statement
 *
 *   B = {"epoch":n,"kind":"ntm-server-reset","last_gseq":g,"root":"<hex>",
 *        "ts":ms}                  (compact, keys sorted)
 *   sig = Ed25519 by the root over "ntm-reset-v1\n" || B
 *
 * stored as {"statement":"<B>","sig":"<b64>"}; the server hands it out in
 * GET /v1/info ("reset"). A device that sees a valid statement with an
 * epoch above the last it accepted forgets what the server acknowledged
 * before, pulls from the start and pushes every entry the server lacks -
 * it holds them - so the devices heal the server. A rollback without a new
 * statement is still refused.
 *
 * Depends on util/, crypto/ and store/. Never prints.
 */
#include "sync_int.h"

#include <string.h>

#define RESET_DOMAIN "ntm-reset-v1\n"
#define RESET_KIND   "ntm-server-reset"

enum ntm_err
ntm_reset_statement(const struct ntm_key *root, int64_t epoch,
                    int64_t last_gseq, char **out, struct ntm_error *err)
{
    char hex[NTM_HEX_ID_LEN + 1];
    unsigned char sig[NTM_SIGNATURE_BYTES];
    char sig64[NTM_SIG_B64_LEN + 1];
    struct ntm_buf msg = NTM_BUF_INIT;
    enum ntm_err rc = NTM_OK;

    *out = NULL;
    if (epoch < 1 || last_gseq < 0)
        return ntm_error_set(err, NTM_EINVAL, "reset epoch must be 1 or more");
    ntm_key_author(root, hex);
    json_t *b =
        json_pack("{s:I, s:s, s:I, s:s, s:I}", "epoch", (json_int_t)epoch,
                  "kind", RESET_KIND, "last_gseq", (json_int_t)last_gseq,
                  "root", hex, "ts", (json_int_t)ntm_now_ms());
    char *bytes = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(b);
    if (!bytes || ntm_buf_add(&msg, RESET_DOMAIN, strlen(RESET_DOMAIN)) ||
        ntm_buf_add(&msg, bytes, strlen(bytes))) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = ntm_key_sign(root, sig, msg.buf, msg.len)) != NTM_OK) {
        rc = ntm_error_set(err, rc, "cannot sign the reset statement");
        goto out;
    }
    ntm_b64_encode(sig64, sig, sizeof sig);
    json_t *o = json_pack("{s:s, s:s}", "statement", bytes, "sig", sig64);
    *out = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!*out)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
out:
    free(bytes);
    ntm_buf_release(&msg);
    return rc;
}

enum ntm_err
Ntm_reset_check(const json_t *reset, const char *root_hex,
                struct Ntm_reset *out, struct ntm_error *err)
{
    unsigned char pk[NTM_PUBLICKEY_BYTES], sig[NTM_SIGNATURE_BYTES + 4];
    size_t siglen = 0;
    memset(out, 0, sizeof *out);
    const char *b = json_string_value(json_object_get(reset, "statement"));
    const char *s = json_string_value(json_object_get(reset, "sig"));
    if (!b || !s || strlen(b) > 1024)
        return ntm_error_set(err, NTM_EBADENTRY,
                             "reset statement lacks \"statement\" or \"sig\"");
    if (!root_hex || strlen(root_hex) != NTM_HEX_ID_LEN ||
        ntm_hex_decode(pk, sizeof pk, root_hex, NTM_HEX_ID_LEN) != NTM_OK)
        return ntm_error_set(err, NTM_EROOTKEY, "no root key to check it with");
    if (ntm_b64_decode(sig, sizeof sig, &siglen, s, strlen(s)) != NTM_OK ||
        siglen != NTM_SIGNATURE_BYTES)
        return ntm_error_set(err, NTM_EBADSIG,
                             "reset statement: bad signature");
    struct ntm_buf msg = NTM_BUF_INIT;
    if (ntm_buf_add(&msg, RESET_DOMAIN, strlen(RESET_DOMAIN)) ||
        ntm_buf_add(&msg, b, strlen(b))) {
        ntm_buf_release(&msg);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    enum ntm_err rc = ntm_sign_verify(sig, msg.buf, msg.len, pk);
    ntm_buf_release(&msg);
    if (rc != NTM_OK)
        return ntm_error_set(err, NTM_EBADSIG,
                             "reset statement is not signed by the root key");
    json_t *v = json_loads(b, JSON_REJECT_DUPLICATES, NULL);
    json_t *ep = json_object_get(v, "epoch"),
           *lg = json_object_get(v, "last_gseq");
    const char *kind = json_string_value(json_object_get(v, "kind"));
    const char *root = json_string_value(json_object_get(v, "root"));
    if (!v || !json_is_integer(ep) || json_integer_value(ep) < 1 ||
        !json_is_integer(lg) || json_integer_value(lg) < 0 || !kind ||
        strcmp(kind, RESET_KIND) || !root || strcmp(root, root_hex)) {
        json_decref(v);
        return ntm_error_set(err, NTM_EBADENTRY,
                             "reset statement is not one for this root");
    }
    out->epoch = json_integer_value(ep);
    out->last_gseq = json_integer_value(lg);
    json_t *ts = json_object_get(v, "ts");
    out->ts = json_is_integer(ts) ? json_integer_value(ts) : 0;
    json_decref(v);
    return NTM_OK;
}
