/* SPDX-License-Identifier: MIT */
/*
 * attachments.c - the server's side of attachment bytes (docs/contract.md,
 * attachments): GET /v1/attachments/<hash>/status (how many bytes the
 * server holds), PUT /v1/attachments/<hash>?offset=<n> (the next bytes,
 * appended and fsync'd; the whole checked against the hash when its last
 * byte is in) and GET /v1/attachments/<hash>?offset=<n> (the bytes, at
 * most NTM_ATTACH_MAX_CHUNK from n).
 *
 * The rules: bytes are taken only for a hash that an entry the server
 * holds references with effect (the log says what may be stored, so
 * nobody fills the disk with bytes no record names), from a device whose
 * scope holds one such record, within its quota; they are served only to
 * devices whose scope holds one such record. Each chunk is verified by the
 * request's signature (it covers the body's BLAKE2b-256, server.c).
 *
 * Depends on util/, store/ (rattach, blob_uploads, blobs.c), sync_int.h.
 * Not on libmicrohttpd.
 */
#include "ntm_server.h"
#include "sync_int.h"

#include <stdio.h>
#include <string.h>

#define PREFIX "/v1/attachments/"

/* The hash in the path and whether it ends in /status. NTM_ENOENT for a
 * path that names none. */
static enum ntm_err
parse_path(const char *path, char hash[NTM_HEX_ID_LEN + 1], int *status,
           struct ntm_error *err)
{
    const char *p = path + strlen(PREFIX);
    size_t n = strlen(p);
    *status = 0;
    if (n == NTM_HEX_ID_LEN + 7 && !strcmp(p + NTM_HEX_ID_LEN, "/status"))
        *status = 1;
    else if (n != NTM_HEX_ID_LEN)
        return ntm_error_set(err, NTM_ENOENT, "no such endpoint");
    memcpy(hash, p, NTM_HEX_ID_LEN);
    hash[NTM_HEX_ID_LEN] = '\0';
    if (!ntm_is_lower_hex(hash, NTM_HEX_ID_LEN))
        return ntm_error_set(err, NTM_EINVAL,
                             "an attachment is named by 64 lowercase hex "
                             "digits");
    return NTM_OK;
}

static int
within(const char *unit, const char *scope)
{
    size_t n = strlen(scope);
    return !strncmp(unit, scope, n) && (unit[n] == '\0' || unit[n] == '.');
}

/* The records referencing hash: none is NTM_ECONFLICT (put: push the
 * entry first) or NTM_ENOENT (get); none in the caller's scope is
 * NTM_EFORBIDDEN. *size: the largest size the entries claim; *sizes
 * (ntm_free; may be NULL): every size claimed, in any order of arrival. */
static enum ntm_err
check_refs(struct Ntm_req *rq, const char *hash, int put, int64_t *size,
           int64_t **sizes, size_t *nsizes, struct ntm_error *err)
{
    json_t *refs = NULL;
    enum ntm_err rc = ntm_store_attachment_refs(rq->st, hash, &refs, err);
    if (rc != NTM_OK)
        return rc;
    size_t i;
    json_t *x;
    int allowed = 0;
    *size = 0;
    json_array_foreach (refs, i, x) {
        const char *unit = json_string_value(json_object_get(x, "unit"));
        if (rq->is_root || (unit && within(unit, rq->enr.scope)))
            allowed = 1;
        int64_t v = json_integer_value(json_object_get(x, "size"));
        if (v > *size)
            *size = v;
    }
    size_t n = json_array_size(refs);
    if (sizes && n && (rc = ntm_attach_sizes(refs, sizes, nsizes, err)))
        n = 0;
    json_decref(refs);
    if (rc != NTM_OK)
        return rc;
    if (n == 0)
        return put ? ntm_error_set(err, NTM_ECONFLICT,
                                   "no entry held here references attachment "
                                   "%.16s... - push the entry that attaches "
                                   "it first",
                                   hash)
                   : ntm_error_set(err, NTM_ENOENT,
                                   "no entry held here references attachment "
                                   "%.16s...",
                                   hash);
    if (!allowed)
        return ntm_error_set(err, NTM_EFORBIDDEN,
                             "attachment %.16s... belongs to records outside "
                             "this device's scope %s",
                             hash, rq->enr.scope);
    return NTM_OK;
}

static enum ntm_err
status_answer(struct Ntm_resp *rs, const char *hash, int64_t size, int64_t held,
              int complete, struct ntm_error *err)
{
    json_t *v = json_pack("{s:s, s:I, s:I, s:b}", "hash", hash, "size",
                          (json_int_t)size, "held", (json_int_t)held,
                          "complete", complete);
    if (!v)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = Ntm_json_add(&rs->body, v, JSON_SORT_KEYS);
    json_decref(v);
    if (rc == NTM_OK)
        rc = ntm_buf_addch(&rs->body, '\n');
    return rc == NTM_OK ? NTM_OK
                        : ntm_error_set(err, NTM_ENOMEM, "out of memory");
}

/* ?offset=<n>, 0 when absent. */
static enum ntm_err
offset_of(const char *query, int64_t *off, struct ntm_error *err)
{
    char v[24];
    int got = Ntm_query_get(query, "offset", v, sizeof v);
    *off = 0;
    if (got == 0)
        return NTM_OK;
    if (got < 0 || ntm_parse_int64(v, 0, NTM_ATTACH_MAX_BYTES, off) != NTM_OK)
        return ntm_error_set(err, NTM_EINVAL,
                             "offset must be an integer from 0 to the "
                             "attachment's size");
    return NTM_OK;
}

enum ntm_err
Ntm_h_attach_get(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    char hash[NTM_HEX_ID_LEN + 1];
    int status;
    int64_t size, held, off;
    int complete;
    const char *dir = Ntm_server_attach_dir(rq->srv);
    enum ntm_err rc = parse_path(rq->path, hash, &status, err);
    if (rc == NTM_OK)
        rc = check_refs(rq, hash, 0, &size, NULL, NULL, err);
    if (rc == NTM_OK)
        rc = ntm_blob_held(dir, hash, &held, &complete, err);
    if (rc != NTM_OK)
        return rc;
    if (complete)
        size = held; /* the claim the bytes proved */
    if (status)
        return status_answer(rs, hash, size, held, complete, err);
    if (!complete)
        return ntm_error_set(err, NTM_ENOENT,
                             "the server does not hold attachment %.16s... "
                             "whole yet (%lld of %lld bytes)",
                             hash, (long long)held, (long long)size);
    if ((rc = offset_of(rq->query, &off, err)) != NTM_OK)
        return rc;
    if (off > held)
        return ntm_error_set(err, NTM_EINVAL, "offset past the attachment");
    size_t want = (size_t)(held - off);
    char lv[24];
    int64_t len = NTM_ATTACH_MAX_CHUNK;
    int got_len = Ntm_query_get(rq->query, "len", lv, sizeof lv);
    if (got_len < 0 ||
        (got_len > 0 &&
         ntm_parse_int64(lv, 1, NTM_ATTACH_MAX_CHUNK, &len) != NTM_OK))
        return ntm_error_set(err, NTM_EINVAL,
                             "len must be an integer from 1 to %u",
                             NTM_ATTACH_MAX_CHUNK);
    if (want > (size_t)len)
        want = (size_t)len;
    if (ntm_buf_grow(&rs->body, want + 1) != NTM_OK)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    size_t got = 0;
    if ((rc = ntm_blob_read(dir, hash, off, rs->body.buf, want, &got, err)) !=
        NTM_OK)
        return rc;
    rs->body.len = got;
    rs->body.buf[got] = '\0';
    rs->content_type = "application/octet-stream";
    return NTM_OK;
}

enum ntm_err
Ntm_h_attach_put(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    char hash[NTM_HEX_ID_LEN + 1];
    int status, complete = 0;
    int64_t size, off, held, used, *sizes = NULL;
    size_t nsizes = 0;
    const char *dir = Ntm_server_attach_dir(rq->srv);
    enum ntm_err rc = parse_path(rq->path, hash, &status, err);
    if (rc == NTM_OK && status)
        rc = ntm_error_set(err, NTM_EINVAL,
                           "PUT the bytes to "
                           "/v1/attachments/<hash>");
    if (rc == NTM_OK)
        rc = offset_of(rq->query, &off, err);
    if (rc == NTM_OK)
        rc = check_refs(rq, hash, 1, &size, &sizes, &nsizes, err);
    if (rc != NTM_OK) {
        ntm_free(sizes);
        return rc;
    }
    /* One writer: two uploads of one hash must not interleave, and the
     * quota is read and charged together. */
    Ntm_server_write_lock(rq->srv);
    rc = ntm_blob_held(dir, hash, &held, &complete, err);
    if (rc == NTM_OK && !complete)
        rc = ntm_store_upload_total(rq->st, rq->author, &used, err);
    if (rc == NTM_OK && !complete &&
        used + (int64_t)rq->body_len > Ntm_server_attach_quota(rq->srv))
        rc = ntm_error_set(err, NTM_ETOOLARGE,
                           "this device's quota of %lld bytes of attachments "
                           "on the server is used up (%lld sent): ask the "
                           "server's operator",
                           (long long)Ntm_server_attach_quota(rq->srv),
                           (long long)used);
    if (rc == NTM_OK && !complete) {
        rc = ntm_blob_append(dir, hash, sizes, nsizes, off, rq->body,
                             rq->body_len, &complete, err);
        int discarded = rc == NTM_ECORRUPT;
        if (discarded)
            rc = ntm_error_set(err, NTM_EINVAL,
                               "the bytes do not match the hash %.16s...: "
                               "they were discarded, send them again from "
                               "offset 0",
                               hash);
        /* Bytes kept count against the quota; discarded ones, this
         * chunk's and those held before it, count against nobody's. */
        if (discarded) {
            struct ntm_error e2;
            ntm_store_upload_forget(rq->st, hash, &e2);
        }
        if (rc == NTM_OK && rq->body_len > 0) {
            struct ntm_error e2;
            enum ntm_err r2 =
                ntm_store_upload_add(rq->st, hash, rq->author,
                                     (int64_t)rq->body_len, ntm_now_ms(), &e2);
            if (rc == NTM_OK && r2 != NTM_OK) {
                rc = r2;
                if (err)
                    *err = e2;
            }
        }
    }
    if (rc == NTM_OK)
        rc = ntm_blob_held(dir, hash, &held, &complete, err);
    Ntm_server_write_unlock(rq->srv);
    ntm_free(sizes);
    if (rc != NTM_OK)
        return rc;
    if (complete)
        size = held; /* the claim the bytes proved */
    return status_answer(rs, hash, size, held, complete, err);
}
