/* SPDX-License-Identifier: MIT */
/*
 * store_helpers.h - small helpers shared by the store and merge suites:
 * temporary replicas, hand-made signed entries, and entry exchange between
 * replicas (what a bundle carries). Header-only, test code only.
 */
#ifndef NTM_TEST_STORE_HELPERS_H
#define NTM_TEST_STORE_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ntm.h"

/* Not every suite uses every helper. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

static char th_dir[256];
static int th_serial;

static void
th_tmpdir(void)
{
    if (th_dir[0])
        return;
    snprintf(th_dir, sizeof(th_dir), "/tmp/ntm-test-XXXXXX");
    assert_non_null(mkdtemp(th_dir));
}

static void
th_rmdir(void)
{
    if (!th_dir[0])
        return;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", th_dir);
    (void)system(cmd);
    th_dir[0] = '\0';
}

/* A new empty replica trusting root (may be NULL). */
static struct ntm_store *
th_store(const struct ntm_key *root, unsigned flags)
{
    th_tmpdir();
    char path[400];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial++);
    struct ntm_store *st = NULL;
    struct ntm_error err;
    enum ntm_err rc = ntm_store_open(&st, path, NTM_STORE_CREATE | flags, &err);
    if (rc != NTM_OK)
        fail_msg("store open: %s", ntm_error_text(&err));
    if (root) {
        char hex[NTM_HEX_ID_LEN + 1];
        ntm_key_author(root, hex);
        assert_int_equal(ntm_store_set_root(st, hex, &err), NTM_OK);
    }
    return st;
}

static struct ntm_key *
th_key(void)
{
    struct ntm_key *k = NULL;
    assert_int_equal(ntm_key_generate(&k, NULL), NTM_OK);
    return k;
}

static void
th_author(const struct ntm_key *k, char out[NTM_HEX_ID_LEN + 1])
{
    ntm_key_author(k, out);
}

/* Sign raw entry bytes with k: sig_b64 must hold NTM_SIG_B64_LEN + 1. */
static void
th_sign(const struct ntm_key *k, const char *bytes, char *sig_b64)
{
    unsigned char sig[NTM_SIGNATURE_BYTES];
    assert_int_equal(ntm_key_sign(k, sig, bytes, strlen(bytes)), NTM_OK);
    ntm_b64_encode(sig_b64, sig, sizeof(sig));
}

/* Ingest bytes signed by k; returns the verdict (res may be NULL). */
static enum ntm_err
th_ingest(struct ntm_store *st, const struct ntm_key *k, const char *bytes,
          enum ntm_source src, struct ntm_ingest_result *res)
{
    char sig[NTM_SIG_B64_LEN + 1];
    struct ntm_ingest_result r;
    struct ntm_error err;
    th_sign(k, bytes, sig);
    if (!res)
        res = &r;
    enum ntm_err rc =
        ntm_store_ingest(st, bytes, strlen(bytes), sig, src, res, &err);
    if (rc != NTM_OK)
        fail_msg("ingest failed: %s", ntm_error_text(&err));
    return res->verdict;
}

/* The record id bound to k's record.create at seq (SPEC 3). */
static void
th_rid(const struct ntm_key *k, int64_t seq, char out[NTM_RECORD_ID_LEN + 1])
{
    char a[NTM_HEX_ID_LEN + 1];
    ntm_key_author(k, a);
    ntm_record_id(out, a, seq);
}

/* Bytes of an entry by k at seq with prev, made by hand (compact, sorted).
 * A record.create whose body "id" is "" gets the id bound to k and seq.
 * new: free with free(). */
static char *
th_entry(const struct ntm_key *k, int64_t seq, const char *prev, int64_t ts,
         const char *op, json_t *body /* taken */)
{
    char a[NTM_HEX_ID_LEN + 1];
    ntm_key_author(k, a);
    json_t *rid = json_object_get(body, "id");
    if (strcmp(op, "record.create") == 0 && json_is_string(rid) &&
        json_string_length(rid) == 0) {
        char bound[NTM_RECORD_ID_LEN + 1];
        ntm_record_id(bound, a, seq);
        json_object_set_new(body, "id", json_string(bound));
    }
    json_t *o = json_pack("{s:i, s:s, s:I, s:o, s:I, s:i, s:s, s:o}", "v", 1,
                          "author", a, "seq", (json_int_t)seq, "prev",
                          prev ? json_string(prev) : json_null(), "ts",
                          (json_int_t)ts, "lc", 0, "op", op, "body", body);
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

struct th_copy {
    struct ntm_store *to;
    int accepted, rejected;
};

static int
th_copy_cb(void *ud, const struct ntm_entry_view *e)
{
    struct th_copy *c = ud;
    struct ntm_ingest_result r;
    struct ntm_error err;
    if (ntm_store_ingest(c->to, e->bytes, e->len, e->sig, NTM_SOURCE_BUNDLE, &r,
                         &err) != NTM_OK)
        fail_msg("copy ingest: %s", ntm_error_text(&err));
    if (r.verdict == NTM_OK && !r.duplicate)
        c->accepted++;
    else if (r.verdict != NTM_OK)
        c->rejected++;
    return 0;
}

/* Carry every entry of from into to, like a bundle, until nothing more is
 * taken (an entry whose enrollment comes later in the bundle is taken on a
 * later pass). Returns the entries taken. */
static int
th_exchange(struct ntm_store *from, struct ntm_store *to)
{
    int total = 0;
    for (int pass = 0; pass < 8; pass++) {
        struct th_copy c = {to, 0, 0};
        struct ntm_entry_query q = {0};
        q.by_author_seq = 1;
        struct ntm_error err;
        assert_int_equal(ntm_store_entries(from, &q, th_copy_cb, &c, &err),
                         NTM_OK);
        total += c.accepted;
        if (c.accepted == 0)
            break;
    }
    return total;
}

static char *
th_dump(struct ntm_store *st)
{
    struct ntm_buf b = NTM_BUF_INIT;
    struct ntm_error err;
    assert_int_equal(ntm_store_dump_state(st, &b, &err), NTM_OK);
    return ntm_buf_detach(&b, NULL);
}

/* The record's JSON (new). */
static json_t *
th_record(struct ntm_store *st, const char *id)
{
    json_t *r = NULL;
    struct ntm_error err;
    if (ntm_store_record(st, id, &r, &err) != NTM_OK)
        return NULL;
    return r;
}

static const char *
th_field(json_t *rec, const char *f)
{
    return json_string_value(
        json_object_get(json_object_get(rec, "fields"), f));
}

/* One author's chain of hand-made entries: the next seq and its prev. */
struct th_chain {
    const struct ntm_key *k;
    int64_t seq; /* the last seq taken (0: none) */
    char prev[NTM_HEX_ID_LEN + 1];
};

/* Start c after what st already holds of k's chain. */
static void
th_chain_at(struct th_chain *c, struct ntm_store *st, const struct ntm_key *k)
{
    char a[NTM_HEX_ID_LEN + 1];
    memset(c, 0, sizeof(*c));
    c->k = k;
    ntm_key_author(k, a);
    if (ntm_store_head(st, a, &c->seq, c->prev) != NTM_OK) {
        c->seq = 0;
        c->prev[0] = '\0';
    }
}

/* Ingest the next entry of c (op, body taken) as from a bundle; the chain
 * moves on when it is taken. id (may be NULL) receives the entry id.
 * Returns the verdict; res (may be NULL) the rest. */
static enum ntm_err
th_next(struct ntm_store *st, struct th_chain *c, int64_t ts, const char *op,
        json_t *body, struct ntm_ingest_result *res,
        char id[NTM_HEX_ID_LEN + 1])
{
    char *b = th_entry(c->k, c->seq + 1, c->seq ? c->prev : NULL, ts, op, body);
    char eid[NTM_HEX_ID_LEN + 1];
    ntm_hash_hex(eid, b, strlen(b));
    enum ntm_err v = th_ingest(st, c->k, b, NTM_SOURCE_BUNDLE, res);
    free(b);
    if (v == NTM_OK) {
        c->seq++;
        memcpy(c->prev, eid, sizeof(eid));
    }
    if (id)
        memcpy(id, eid, sizeof(eid));
    return v;
}

struct th_find {
    const char *id;
    int found;
    enum ntm_err effect;
};

static int
th_find_cb(void *ud, const struct ntm_entry_view *e)
{
    struct th_find *f = ud;
    if (strcmp(e->id, f->id) != 0)
        return 0;
    f->found = 1;
    f->effect = e->effect;
    return 1;
}

/* The effect of the entry id held by st; fails when it is not held. */
static enum ntm_err
th_effect(struct ntm_store *st, const char *id)
{
    struct th_find f = {id, 0, NTM_OK};
    struct ntm_entry_query q = {0};
    struct ntm_error err;
    assert_int_equal(ntm_store_entries(st, &q, th_find_cb, &f, &err), NTM_OK);
    if (!f.found)
        fail_msg("entry %.16s... is not held", id);
    return f.effect;
}

static int64_t
th_count(struct ntm_store *st)
{
    int64_t n = -1;
    assert_int_equal(ntm_store_stats(st, &n, NULL, NULL), NTM_OK);
    return n;
}

#pragma GCC diagnostic pop

#endif /* NTM_TEST_STORE_HELPERS_H */
