/* SPDX-License-Identifier: MIT */
/*
 * test_checked.c - entries checked before the writer: ntm_entry_check and
 * ntm_store_ingest_checked give the verdicts ntm_store_ingest gives, and a
 * check cannot be passed to other bytes or another signature; lines read
 * and verified ahead on several threads (Ntm_prep_run, then
 * Ntm_ingest_prepared) give the push answer line by line taking gives:
 * the same acceptances, the same rejections with the same codes at the
 * same lines, the same log.
 */
#include "store_helpers.h"

#include "sync_int.h"

#define COMMUNE "72.710.25657"

static struct ntm_key *root, *stranger;

static int
setup(void **state)
{
    (void)state;
    assert_int_equal(ntm_global_init(), NTM_OK);
    root = th_key();
    stranger = th_key();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    ntm_key_free(root);
    ntm_key_free(stranger);
    th_rmdir();
    return 0;
}

/* root's chain of unit.create entries, seq 1..n (new; free with
 * free_chain). */
static char **
chain(const struct ntm_key *k, int n)
{
    char **v = calloc((size_t)n + 1, sizeof(*v));
    char prev[NTM_HEX_ID_LEN + 1] = "";
    for (int i = 1; i <= n; i++) {
        char code[64], name[64];
        snprintf(code, sizeof code, COMMUNE ".%d", i);
        snprintf(name, sizeof name, "Ấp %d", i);
        v[i] = th_entry(k, i, i > 1 ? prev : NULL, 1700000000000LL + i,
                        "unit.create",
                        json_pack("{s:s,s:s,s:s}", "code", code, "name", name,
                                  "level", "hamlet"));
        ntm_hash_hex(prev, v[i], strlen(v[i]));
    }
    return v;
}

static void
free_chain(char **v, int n)
{
    for (int i = 0; i <= n; i++)
        free(v[i]);
    free(v);
}

/* A copy of bytes with the first digit after "ts": changed (signed
 * before: the signature no longer holds). new. */
static char *
forged(const char *bytes)
{
    char *t = strdup(bytes);
    char *p = strstr(t, "\"ts\":") + 5;
    *p = *p == '1' ? '2' : '1';
    return t;
}

/* Append the line of bytes signed by k. */
static void
add_line(struct ntm_buf *b, const struct ntm_key *k, const char *bytes)
{
    char sig[NTM_SIG_B64_LEN + 1];
    th_sign(k, bytes, sig);
    assert_int_equal(Ntm_line_add(b, -1, bytes, strlen(bytes), sig), NTM_OK);
}

struct answer {
    int64_t lines, accepted, duplicates, invalid;
    json_t *rejected, *flagged;
};

/* A push batch into st as h_push takes it: one transaction, the cascade,
 * the wire's notes; ahead: read and verified first, on 4 threads. */
static void
push(struct ntm_store *st, const struct ntm_buf *b, int ahead, struct answer *a)
{
    struct Ntm_ingest in;
    struct ntm_error err;
    struct Ntm_ingest_opts o = {NTM_SOURCE_PUSH,
                                NTM_INGEST_CASCADE | NTM_INGEST_WIRE,
                                0,
                                NULL,
                                NULL,
                                NULL};
    assert_int_equal(Ntm_ingest_init(&in, st, &o, &err), NTM_OK);
    assert_int_equal(ntm_store_begin(st, &err), NTM_OK);
    if (ahead) {
        struct Ntm_prep p;
        Ntm_prep_init(&p);
        assert_int_equal(Ntm_prep_lines(&p, b->buf, b->len), NTM_OK);
        Ntm_prep_run(&p, 4);
        assert_int_equal(Ntm_ingest_prepared(&in, &p, &err), NTM_OK);
        Ntm_prep_release(&p);
    } else {
        struct ntm_buf copy = NTM_BUF_INIT;
        ntm_buf_add(&copy, b->buf, b->len);
        int n = 0;
        /* Line by line, as the door took them before checking ahead. */
        const char *s = copy.buf, *end = copy.buf + copy.len;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
            n++;
            if (len)
                assert_int_equal(Ntm_ingest_line(&in, n, n, s, len, &err),
                                 NTM_OK);
            s += len + 1;
        }
        ntm_buf_release(&copy);
    }
    assert_int_equal(ntm_store_commit(st, &err), NTM_OK);
    a->lines = in.lines;
    a->accepted = in.accepted;
    a->duplicates = in.duplicates;
    a->invalid = in.invalid;
    a->rejected = json_incref(in.rejected);
    a->flagged = json_incref(in.flagged);
    Ntm_ingest_release(&in);
}

static void
same_answer(struct answer *x, struct answer *y)
{
    char *rx = json_dumps(x->rejected, JSON_COMPACT);
    char *ry = json_dumps(y->rejected, JSON_COMPACT);
    assert_string_equal(rx, ry);
    assert_true(json_equal(x->flagged, y->flagged));
    assert_int_equal(x->lines, y->lines);
    assert_int_equal(x->accepted, y->accepted);
    assert_int_equal(x->duplicates, y->duplicates);
    assert_int_equal(x->invalid, y->invalid);
    free(rx);
    free(ry);
    json_decref(x->rejected);
    json_decref(x->flagged);
    json_decref(y->rejected);
    json_decref(y->flagged);
}

/* The code and line of rejection i of an answer. */
static void
rejected_at(const struct answer *a, size_t i, int64_t line, const char *code)
{
    json_t *r = json_array_get(a->rejected, i);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "line")), line);
    assert_string_equal(json_string_value(json_object_get(r, "code")), code);
}

static void
test_ahead_gives_the_same_answers(void **state)
{
    (void)state;
    struct ntm_store *serial = th_store(root, NTM_STORE_SERVER);
    struct ntm_store *par = th_store(root, NTM_STORE_SERVER);
    char **c = chain(root, 120);
    struct ntm_buf b = NTM_BUF_INIT;
    struct answer x, y;

    /* 1: seq 1..40, a line that is not JSON (20), a duplicate (25), an
     * unknown author (42). */
    for (int i = 1; i <= 40; i++) {
        if (i == 20)
            ntm_buf_adds(&b, "{not json\n");
        if (i == 25)
            add_line(&b, root, c[3]);
        add_line(&b, root, c[i]);
    }
    char *s1 = th_entry(stranger, 1, NULL, 1700000000000LL, "unit.create",
                        json_pack("{s:s,s:s,s:s}", "code", COMMUNE ".99",
                                  "name", "X", "level", "hamlet"));
    add_line(&b, stranger, s1);
    push(serial, &b, 0, &x);
    push(par, &b, 1, &y);
    assert_int_equal(y.accepted, 40);
    assert_int_equal(y.duplicates, 1);
    rejected_at(&y, 0, 20, "bad_entry");
    rejected_at(&y, 1, 43, "unknown_author");
    same_answer(&x, &y);

    /* 2: seq 41..49, then 50 forged inside the batch (line 10): refused as
     * bad_signature, and the author's later lines as gap. */
    ntm_buf_reset(&b);
    for (int i = 41; i <= 80; i++) {
        if (i == 50) {
            char *f = forged(c[i]);
            char sig[NTM_SIG_B64_LEN + 1];
            th_sign(root, c[i], sig);
            Ntm_line_add(&b, -1, f, strlen(f), sig);
            free(f);
        } else {
            add_line(&b, root, c[i]);
        }
    }
    push(serial, &b, 0, &x);
    push(par, &b, 1, &y);
    assert_int_equal(y.accepted, 9);
    rejected_at(&y, 0, 10, "bad_signature");
    rejected_at(&y, 1, 11, "gap");
    rejected_at(&y, 30, 40, "gap");
    same_answer(&x, &y);

    /* 3: a gap first (seq 52 when 50 is next), then a fork (other bytes at
     * held seq 45), each in its own batch, and a line signed by another
     * key. */
    ntm_buf_reset(&b);
    add_line(&b, root, c[52]);
    add_line(&b, root, c[53]);
    push(serial, &b, 0, &x);
    push(par, &b, 1, &y);
    rejected_at(&y, 0, 1, "gap");
    same_answer(&x, &y);
    ntm_buf_reset(&b);
    add_line(&b, stranger, c[50]); /* root's bytes, another key's signature */
    push(serial, &b, 0, &x);
    push(par, &b, 1, &y);
    rejected_at(&y, 0, 1, "bad_signature");
    same_answer(&x, &y);
    ntm_buf_reset(&b);
    char id44[NTM_HEX_ID_LEN + 1];
    ntm_hash_hex(id44, c[44], strlen(c[44]));
    char *fork = th_entry(root, 45, id44, 1700000000045LL, "unit.create",
                          json_pack("{s:s,s:s,s:s}", "code", COMMUNE ".45",
                                    "name", "Fork", "level", "hamlet"));
    add_line(&b, root, fork);
    for (int i = 50; i <= 120; i++)
        add_line(&b, root, c[i]);
    push(serial, &b, 0, &x);
    push(par, &b, 1, &y);
    rejected_at(&y, 0, 1, "fork");
    assert_int_equal(y.accepted, 0);
    same_answer(&x, &y);

    /* The same log, the same state, the same fork evidence. */
    char *dx = th_dump(serial), *dy = th_dump(par);
    assert_string_equal(dx, dy);
    json_t *vx = NULL, *vy = NULL;
    assert_int_equal(ntm_store_verify(serial, &vx, NULL), NTM_OK);
    assert_int_equal(ntm_store_verify(par, &vy, NULL), NTM_OK);
    assert_true(json_equal(vx, vy));
    assert_int_equal(json_integer_value(json_object_get(vy, "valid")), 49);
    assert_int_equal(json_array_size(json_object_get(vy, "forks")), 1);
    json_decref(vx);
    json_decref(vy);
    free(dx);
    free(dy);
    free(fork);
    free(s1);
    ntm_buf_release(&b);
    free_chain(c, 120);
    ntm_store_close(serial);
    ntm_store_close(par);
}

static enum ntm_err
ingest_checked(struct ntm_store *st, const struct ntm_checked *c,
               const char *bytes, const char *sig, struct ntm_ingest_result *r)
{
    struct ntm_error err;
    assert_int_equal(ntm_store_ingest_checked(st, c, bytes, strlen(bytes), sig,
                                              NTM_SOURCE_PUSH, r, &err),
                     NTM_OK);
    return r->verdict;
}

static void
test_check_is_bound_to_its_bytes(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, NTM_STORE_SERVER);
    char **c = chain(root, 2);
    char *f = forged(c[1]);
    char sig[NTM_SIG_B64_LEN + 1], other[NTM_SIG_B64_LEN + 1];
    th_sign(root, c[1], sig);
    th_sign(stranger, c[1], other);
    struct ntm_checked *good = NULL, *bad = NULL;
    struct ntm_ingest_result r;
    assert_int_equal(ntm_entry_check(&good, c[1], strlen(c[1]), sig), NTM_OK);
    assert_int_equal(ntm_checked_result(good)->verdict, NTM_OK);
    assert_int_equal(ntm_entry_check(&bad, f, strlen(f), sig), NTM_OK);
    assert_int_equal(ntm_checked_result(bad)->verdict, NTM_EBADSIG);

    /* A good check does not carry over to other bytes, nor to another
     * signature of the same bytes. */
    assert_int_equal(ingest_checked(st, good, f, sig, &r), NTM_EBADSIG);
    assert_int_equal(ingest_checked(st, good, c[1], other, &r), NTM_EBADSIG);
    assert_int_equal(ingest_checked(st, good, c[1], "", &r), NTM_EBADSIG);
    assert_int_equal(th_count(st), 0);
    /* A refusal does not carry over either: the right bytes are judged. */
    assert_int_equal(ingest_checked(st, bad, c[1], sig, &r), NTM_OK);
    assert_int_equal(r.duplicate, 0);
    assert_int_equal(th_count(st), 1);
    /* The check is not used up or changed by taking it. */
    assert_int_equal(ingest_checked(st, good, c[1], sig, &r), NTM_OK);
    assert_int_equal(r.duplicate, 1);
    /* Its verdicts equal ntm_store_ingest's, field by field. */
    struct ntm_ingest_result full;
    struct ntm_error err;
    assert_int_equal(
        ntm_store_ingest(st, f, strlen(f), sig, NTM_SOURCE_PUSH, &full, &err),
        NTM_OK);
    assert_int_equal(ingest_checked(st, bad, f, sig, &r), NTM_EBADSIG);
    assert_string_equal(r.message, full.message);
    assert_string_equal(r.id, full.id);
    assert_string_equal(r.author, full.author);
    assert_int_equal(r.seq, full.seq);
    /* Not an entry: the same refusal, with or without a check. */
    struct ntm_checked *junk = NULL;
    assert_int_equal(ntm_entry_check(&junk, "{\"v\":1}", 7, sig), NTM_OK);
    assert_int_equal(ingest_checked(st, junk, "{\"v\":1}", sig, &r),
                     NTM_EBADENTRY);
    assert_int_equal(
        ntm_store_ingest(st, "{\"v\":1}", 7, sig, NTM_SOURCE_PUSH, &full, &err),
        NTM_OK);
    assert_string_equal(r.message, full.message);
    ntm_checked_free(junk);
    ntm_checked_free(good);
    ntm_checked_free(bad);
    free(f);
    free_chain(c, 2);
    ntm_store_close(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ahead_gives_the_same_answers),
        cmocka_unit_test(test_check_is_bound_to_its_bytes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
