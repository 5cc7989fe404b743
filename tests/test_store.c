/* SPDX-License-Identifier: MIT */
/*
 * test_store.c - the replica: every validation rule of SPEC.md section 2
 * with a rejected sample each, the chain (append, duplicate, gap, fork
 * evidence), authorization at the gate and as an effect, the writer's
 * check before signing, NFC and diacritic-insensitive search, tamper
 * detection by verify, the restored-backup guard, and rebuild = incremental.
 */
#include "store_helpers.h"
#include "store_int.h"

#include <sqlite3.h>
#include <sys/stat.h>

#define COMMUNE "72.710.25657" /* Xã Thạnh Đức, Gò Dầu */

static struct ntm_key *root, *rec1;
static char root_hex[65], rec1_hex[65];

static int
setup(void **state)
{
    (void)state;
    assert_int_equal(ntm_global_init(), NTM_OK);
    root = th_key();
    rec1 = th_key();
    th_author(root, root_hex);
    th_author(rec1, rec1_hex);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    ntm_key_free(root);
    ntm_key_free(rec1);
    th_rmdir();
    return 0;
}

/* A replica where root enrolled rec1 as recorder of COMMUNE. */
static struct ntm_store *
enrolled_store(void)
{
    struct ntm_store *st = th_store(root, 0);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Ấp Bến Đình", "doan", 1, &w, &err),
                     NTM_OK);
    return st;
}

static json_t *
activity_fields(const char *title)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "task", "doan.rural_roads_km",
                     "date", "2017-03-05", "qty", "2.4", "uom", "km", "title",
                     title);
}

static void
test_entry_rejects_malformed(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    char a[65];
    th_author(root, a);
    struct {
        const char *why;
        char *bytes;
    } cases[24];
    int n = 0;
    char buf[4096];
#define CASE(w, ...)                                                           \
    do {                                                                       \
        snprintf(buf, sizeof(buf), __VA_ARGS__);                               \
        cases[n].why = w;                                                      \
        cases[n].bytes = strdup(buf);                                          \
        n++;                                                                   \
    } while (0)
    const char *tail = "\"body\":{},\"lc\":0,\"op\":\"x.y\"";
    CASE("not json", "{\"v\":1,");
    CASE("duplicate key",
         "{\"author\":\"%s\",\"author\":\"%s\",%s,\"prev\":null,\"seq\":1,"
         "\"ts\":1,\"v\":1}",
         a, a, tail);
    CASE("real number",
         "{\"author\":\"%s\",%s,\"prev\":null,\"seq\":1,\"ts\":1.5,\"v\":1}", a,
         tail);
    CASE("2^53",
         "{\"author\":\"%s\",%s,\"prev\":null,\"seq\":1,"
         "\"ts\":9007199254740993,\"v\":1}",
         a, tail);
    CASE("extra member",
         "{\"author\":\"%s\",%s,\"prev\":null,\"seq\":1,\"ts\":1,\"v\":1,"
         "\"x\":1}",
         a, tail);
    CASE("missing member", "{\"author\":\"%s\",%s,\"seq\":1,\"ts\":1,\"v\":1}",
         a, tail);
    CASE("version 2",
         "{\"author\":\"%s\",%s,\"prev\":null,\"seq\":1,\"ts\":1,\"v\":2}", a,
         tail);
    CASE("seq 0",
         "{\"author\":\"%s\",%s,\"prev\":null,\"seq\":0,\"ts\":1,\"v\":1}", a,
         tail);
    CASE("seq 0 with a prev",
         "{\"author\":\"%s\",%s,\"prev\":\"%s\",\"seq\":0,\"ts\":1,\"v\":1}", a,
         tail, a);
    CASE("2^53 in the body",
         "{\"author\":\"%s\",\"body\":{\"n\":9007199254740992},\"lc\":0,"
         "\"op\":\"x\",\"prev\":null,\"seq\":1,\"ts\":1,\"v\":1}",
         a);
    CASE("-2^53 in the body",
         "{\"author\":\"%s\",\"body\":{\"n\":-9007199254740992},\"lc\":0,"
         "\"op\":\"x\",\"prev\":null,\"seq\":1,\"ts\":1,\"v\":1}",
         a);
    CASE("prev at seq 1",
         "{\"author\":\"%s\",%s,\"prev\":\"%s\",\"seq\":1,\"ts\":1,\"v\":1}", a,
         tail, a);
    CASE("null prev at seq 2",
         "{\"author\":\"%s\",%s,\"prev\":null,\"seq\":2,\"ts\":1,\"v\":1}", a,
         tail);
    CASE("lc too big",
         "{\"author\":\"%s\",\"body\":{},\"lc\":70000,\"op\":\"x\",\"prev\":"
         "null,\"seq\":1,\"ts\":1,\"v\":1}",
         a);
    CASE("body not object",
         "{\"author\":\"%s\",\"body\":[],\"lc\":0,\"op\":\"x\",\"prev\":null,"
         "\"seq\":1,\"ts\":1,\"v\":1}",
         a);
    CASE("NUL escape",
         "{\"author\":\"%s\",\"body\":{\"t\":\"a\\u0000b\"},\"lc\":0,\"op\":"
         "\"x\",\"prev\":null,\"seq\":1,\"ts\":1,\"v\":1}",
         a);
    CASE("invalid utf-8",
         "{\"author\":\"%s\",\"body\":{\"t\":\"\xc3\x28\"},\"lc\":0,\"op\":"
         "\"x\",\"prev\":null,\"seq\":1,\"ts\":1,\"v\":1}",
         a);
    CASE("minus zero",
         "{\"author\":\"%s\",\"body\":{\"n\":-0},\"lc\":0,\"op\":\"x\","
         "\"prev\":null,\"seq\":1,\"ts\":1,\"v\":1}",
         a);
    CASE("escape cut inside a UTF-8 character",
         "{\"author\":\"%s\",\"body\":{\"t\":\"\\\xc3\xa9\"},\"lc\":0,"
         "\"op\":\"x\",\"prev\":null,\"seq\":1,\"ts\":1,\"v\":1}",
         a);
    {
        /* depth 17 */
        struct ntm_buf d = NTM_BUF_INIT;
        ntm_buf_addf(&d, "{\"author\":\"%s\",\"body\":", a);
        for (int i = 0; i < 16; i++)
            ntm_buf_adds(&d, "{\"a\":");
        ntm_buf_adds(&d, "1");
        for (int i = 0; i < 16; i++)
            ntm_buf_adds(&d, "}");
        ntm_buf_adds(&d, ",\"lc\":0,\"op\":\"x\",\"prev\":null,\"seq\":1,"
                         "\"ts\":1,\"v\":1}");
        cases[n].why = "depth 17";
        cases[n].bytes = ntm_buf_detach(&d, NULL);
        n++;
    }
    {
        /* larger than 64 KiB */
        struct ntm_buf d = NTM_BUF_INIT;
        ntm_buf_addf(&d, "{\"author\":\"%s\",\"body\":{\"t\":\"", a);
        for (int i = 0; i < 66000; i++)
            ntm_buf_addch(&d, 'x');
        ntm_buf_adds(&d, "\"},\"lc\":0,\"op\":\"x\",\"prev\":null,\"seq\":1,"
                         "\"ts\":1,\"v\":1}");
        cases[n].why = "too large";
        cases[n].bytes = ntm_buf_detach(&d, NULL);
        n++;
    }
    for (int i = 0; i < n; i++) {
        struct ntm_ingest_result r;
        enum ntm_err v =
            th_ingest(st, root, cases[i].bytes, NTM_SOURCE_PUSH, &r);
        if (v != NTM_EBADENTRY)
            fail_msg("case '%s' gave %d, want bad_entry", cases[i].why, v);
        assert_true(r.message[0] != '\0');
        /* the reason must fit in a JSON answer: valid UTF-8 */
        json_t *m = json_string(r.message);
        assert_non_null(m);
        json_decref(m);
        free(cases[i].bytes);
    }
    int64_t count = -1;
    assert_int_equal(ntm_store_stats(st, &count, NULL, NULL), NTM_OK);
    assert_int_equal(count, 0);
    ntm_store_close(st);
}

/*
 * SPEC.md 2: B is compact JSON. The same entry with white space outside
 * its strings (a space after ':', a newline at the end, a tab, a CR) is
 * refused at step 1, not re-serialised; white space inside a string stays.
 */
static void
test_entry_refuses_white_space(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    char *good =
        th_entry(root, 1, NULL, 1000, "x.y",
                 json_pack("{s:s}", "t", "a title with spaces\tand a tab"));
    assert_non_null(good);
    size_t n = strlen(good);
    const char *where[] = {"{", ":", ",", "}"};
    const char *ws[] = {" ", "\n", "\t", "\r"};
    for (size_t w = 0; w < 4; w++)
        for (size_t k = 0; k < 4; k++) {
            /* Insert ws[k] after the first where[w] that is outside a
             * string: the first '{', the first ':' (after "author"),
             * the first ',' (after the author id), the last '}'. */
            const char *at =
                w == 3 ? strrchr(good, '}') : strstr(good, where[w]);
            assert_non_null(at);
            size_t off = (size_t)(at - good) + 1;
            char *bad = malloc(n + 2);
            assert_non_null(bad);
            memcpy(bad, good, off);
            bad[off] = ws[k][0];
            memcpy(bad + off + 1, good + off, n - off + 1);
            struct ntm_ingest_result r;
            enum ntm_err v = th_ingest(st, root, bad, NTM_SOURCE_PUSH, &r);
            if (v != NTM_EBADENTRY)
                fail_msg("white space 0x%02x after '%s' gave %d, want "
                         "bad_entry",
                         (unsigned char)ws[k][0], where[w], v);
            assert_non_null(strstr(r.message, "white space"));
            free(bad);
        }
    int64_t count = -1;
    assert_int_equal(ntm_store_stats(st, &count, NULL, NULL), NTM_OK);
    assert_int_equal(count, 0);
    /* The compact bytes themselves are taken. */
    assert_int_equal(th_ingest(st, root, good, NTM_SOURCE_PUSH, NULL), NTM_OK);
    free(good);
    ntm_store_close(st);
}

static void
test_signature_rejects(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    char *e = th_entry(root, 1, NULL, 1000, "unit.create",
                       json_pack("{s:s,s:s,s:s}", "code", COMMUNE ".1", "name",
                                 "Ấp 1", "level", "hamlet"));
    char sig[NTM_SIG_B64_LEN + 1];
    struct ntm_ingest_result r;
    struct ntm_error err;
    /* another key's signature */
    th_sign(rec1, e, sig);
    assert_int_equal(
        ntm_store_ingest(st, e, strlen(e), sig, NTM_SOURCE_PUSH, &r, &err),
        NTM_OK);
    assert_int_equal(r.verdict, NTM_EBADSIG);
    /* a byte changed after signing */
    th_sign(root, e, sig);
    char *t = strdup(e);
    char *p = strstr(t, "1000");
    p[0] = '2';
    assert_int_equal(
        ntm_store_ingest(st, t, strlen(t), sig, NTM_SOURCE_PUSH, &r, &err),
        NTM_OK);
    assert_int_equal(r.verdict, NTM_EBADSIG);
    /* not base64 */
    assert_int_equal(ntm_store_ingest(st, e, strlen(e), "%%%not-b64%%%",
                                      NTM_SOURCE_PUSH, &r, &err),
                     NTM_OK);
    assert_int_equal(r.verdict, NTM_EBADSIG);
    /* the real one */
    assert_int_equal(
        ntm_store_ingest(st, e, strlen(e), sig, NTM_SOURCE_PUSH, &r, &err),
        NTM_OK);
    assert_int_equal(r.verdict, NTM_OK);
    assert_int_equal(r.flag, NTM_OK);
    free(t);
    free(e);
    ntm_store_close(st);
}

static void
test_chain_append_duplicate_gap_fork(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, NTM_STORE_SERVER);
    json_t *b = json_pack("{s:s,s:s,s:s}", "code", COMMUNE ".1", "name", "A",
                          "level", "hamlet");
    char *e1 = th_entry(root, 1, NULL, 1000, "unit.create", json_deep_copy(b));
    char id1[65];
    ntm_hash_hex(id1, e1, strlen(e1));
    char *e2 = th_entry(root, 2, id1, 1001, "unit.create", json_deep_copy(b));
    char id2[65];
    ntm_hash_hex(id2, e2, strlen(e2));
    char *e3 = th_entry(root, 3, id2, 1002, "unit.create", json_deep_copy(b));
    char *e2b = th_entry(root, 2, id1, 5555, "unit.create", json_deep_copy(b));
    char *e2c = th_entry(root, 2, id2, 1001, "unit.create", json_deep_copy(b));
    json_decref(b);
    struct ntm_ingest_result r;

    assert_int_equal(th_ingest(st, root, e2, NTM_SOURCE_PUSH, &r), NTM_EGAP);
    assert_int_equal(th_ingest(st, root, e1, NTM_SOURCE_PUSH, &r), NTM_OK);
    assert_int_equal(r.duplicate, 0);
    assert_int_equal(th_ingest(st, root, e1, NTM_SOURCE_PUSH, &r), NTM_OK);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(th_ingest(st, root, e3, NTM_SOURCE_PUSH, &r), NTM_EGAP);
    assert_int_equal(th_ingest(st, root, e2, NTM_SOURCE_PUSH, &r), NTM_OK);
    assert_int_equal(th_ingest(st, root, e3, NTM_SOURCE_PUSH, &r), NTM_OK);
    /* same seq, other bytes: fork, kept as evidence */
    assert_int_equal(th_ingest(st, root, e2b, NTM_SOURCE_PUSH, &r), NTM_EFORK);
    /* wrong prev at the next seq */
    assert_int_equal(th_ingest(st, root, e2c, NTM_SOURCE_PUSH, &r), NTM_EFORK);

    int64_t count = 0, head = 0;
    assert_int_equal(ntm_store_stats(st, &count, NULL, NULL), NTM_OK);
    assert_int_equal(count, 3);
    assert_int_equal(ntm_store_head(st, root_hex, &head, NULL), NTM_OK);
    assert_int_equal(head, 3);
    json_t *rep = NULL;
    assert_int_equal(ntm_store_verify(st, &rep, NULL), NTM_OK);
    assert_int_equal(json_integer_value(json_object_get(rep, "valid")), 3);
    assert_int_equal(json_array_size(json_object_get(rep, "invalid")), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "forks")), 1);
    json_t *fk = json_array_get(json_object_get(rep, "forks"), 0);
    assert_int_equal(json_integer_value(json_object_get(fk, "seq")), 2);
    assert_int_equal(json_array_size(json_object_get(fk, "ids")), 3);
    json_decref(rep);
    free(e1);
    free(e2);
    free(e3);
    free(e2b);
    free(e2c);
    ntm_store_close(st);
}

/* The chain checks of entries taken in one transaction, where the author's
 * head is kept in the handle between entries: duplicate, gap, fork, the
 * clock going back, and a rolled-back batch forgotten (its entries are
 * new again, not duplicates, when the batch is sent again). */
static void
test_chain_checks_within_one_batch(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    json_t *b = json_pack("{s:s,s:s,s:s}", "code", COMMUNE ".1", "name", "A",
                          "level", "hamlet");
    char *e[7], id[7][65];
    for (int i = 1; i <= 6; i++) {
        e[i] = th_entry(root, i, i > 1 ? id[i - 1] : NULL,
                        i == 4 ? 1500000000000LL : 1500000000100LL + i,
                        "unit.create", json_deep_copy(b));
        ntm_hash_hex(id[i], e[i], strlen(e[i]));
    }
    char *e2b = th_entry(root, 2, id[1], 1500000009999LL, "unit.create",
                         json_deep_copy(b));
    char *e3b = th_entry(root, 3, id[1], 1500000000103LL, "unit.create",
                         json_deep_copy(b));
    json_decref(b);
    struct ntm_ingest_result r;
    struct ntm_error err;
    int64_t head = 0;

    assert_int_equal(ntm_store_begin(st, &err), NTM_OK);
    assert_int_equal(th_ingest(st, root, e[1], NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.duplicate, 0);
    assert_int_equal(th_ingest(st, root, e[1], NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(th_ingest(st, root, e[3], NTM_SOURCE_BUNDLE, &r),
                     NTM_EGAP);
    assert_int_equal(th_ingest(st, root, e[2], NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.duplicate, 0);
    /* the head itself again, then other bytes at the head's seq */
    assert_int_equal(th_ingest(st, root, e[2], NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.duplicate, 1);
    assert_int_equal(th_ingest(st, root, e2b, NTM_SOURCE_BUNDLE, &r),
                     NTM_EFORK);
    /* the next seq naming another prev */
    assert_int_equal(th_ingest(st, root, e3b, NTM_SOURCE_BUNDLE, &r),
                     NTM_EFORK);
    assert_int_equal(th_ingest(st, root, e[3], NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.clock, 0);
    /* e4's ts is before e3's: flagged */
    assert_int_equal(th_ingest(st, root, e[4], NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.clock, 2);
    assert_int_equal(th_ingest(st, root, e[5], NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.clock, 0);
    assert_int_equal(ntm_store_commit(st, &err), NTM_OK);
    assert_int_equal(ntm_store_head(st, root_hex, &head, NULL), NTM_OK);
    assert_int_equal(head, 5);

    /* A batch rolled back: e6 is not held, and comes again as new. */
    assert_int_equal(ntm_store_begin(st, &err), NTM_OK);
    assert_int_equal(th_ingest(st, root, e[6], NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.duplicate, 0);
    ntm_store_rollback(st);
    assert_int_equal(ntm_store_begin(st, &err), NTM_OK);
    assert_int_equal(th_ingest(st, root, e[6], NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.duplicate, 0);
    assert_int_equal(ntm_store_commit(st, &err), NTM_OK);
    assert_int_equal(ntm_store_head(st, root_hex, &head, NULL), NTM_OK);
    assert_int_equal(head, 6);
    assert_int_equal(th_count(st), 6);

    json_t *rep = NULL;
    assert_int_equal(ntm_store_verify(st, &rep, NULL), NTM_OK);
    assert_int_equal(json_integer_value(json_object_get(rep, "valid")), 6);
    assert_int_equal(json_array_size(json_object_get(rep, "forks")), 2);
    json_decref(rep);
    for (int i = 1; i <= 6; i++)
        free(e[i]);
    free(e2b);
    free(e3b);
    ntm_store_close(st);
}

/* store/entry.c's quick reader of entry texts (internal). */
json_t *Ntm_jparse_object(const char *text, size_t len);

/* The quick reader against jansson on one text: when it takes a text,
 * jansson takes it too and builds the same value, members in the same
 * order. Returns whether it took it. */
static int
jparse_same(const char *t, size_t n)
{
    json_error_t je;
    json_t *q = Ntm_jparse_object(t, n);
    json_t *j = json_loadb(t, n, JSON_REJECT_DUPLICATES, &je);
    if (q) {
        if (!j)
            fail_msg("quick reader took what jansson refuses (%s): %.*s",
                     je.text, (int)n, t);
        char *a = json_dumps(q, JSON_COMPACT | JSON_ENCODE_ANY);
        char *b = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!json_equal(q, j) || strcmp(a, b) != 0)
            fail_msg("quick reader built another value from %.*s: %s vs %s",
                     (int)n, t, a, b);
        free(a);
        free(b);
    }
    json_decref(q);
    json_decref(j);
    return q != NULL;
}

static void
test_quick_entry_reader_matches_jansson(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"author\":\"ab\",\"body\":{\"fields\":{\"qty\":\"1.5\",\"title\":"
        "\"B\xc3\xaa t\xc3\xb4ng h\xc3\xb3\x61 \xc4\x91\xc6\xb0\xe1\xbb\x9dng "
        "\xe1\xba\xa5p\"},\"id\":\"0123\",\"unit\":\"72.710\"},\"lc\":0,"
        "\"op\":\"record.create\",\"prev\":null,\"seq\":1,\"ts\":"
        "1500000000000,\"v\":1}",
        "{\"a\":[1,-2,[],{},[true,false,null]],\"b\":\"q\\\"\\\\\\/\\b\\f\\n"
        "\\r\\t\\u00e9\\u1EA5\\ud83d\\ude00x\",\"c\":{\"d\":{\"e\":[\"\"]}},"
        "\"\":-999999999999999,\"\\u0041\":0}",
        "{\"z\":\"\xf0\x9f\x98\x80\xe2\x82\xac\xc2\xa2\x7f\",\"y\":[\"a\","
        "\"\\u20ac\"],\"x\":123456789012345}",
        "{}",
    };
    /* Bytes an alteration puts in: grammar, digits, escapes, UTF-8 leads
     * and continuations, controls, NUL. */
    static const char subst[] = "{}[]\",:\\/-0123456789.eE+tfnu "
                                "aAzZ\x01\x1f\x7f\x80\xbf\xc0\xc1\xc2\xdf"
                                "\xe0\xed\xef\xf0\xf4\xf5\xff";
    static const char *const inserts[] = {"\\u0000",
                                          "\\ud800",
                                          "\\udc00",
                                          "\\ud83d\\u0041",
                                          "\\x",
                                          "00",
                                          "-0",
                                          "1.0",
                                          "1e3",
                                          "9999999999999999",
                                          "\xed\xa0\x80",
                                          "\xc0\x80",
                                          "\xf4\x90\x80\x80",
                                          "\xe0\x80\x80",
                                          ",",
                                          "\"a\":1,"};
    char buf[1024];
    for (size_t t = 0; t < sizeof(texts) / sizeof(*texts); t++) {
        const char *x = texts[t];
        size_t n = strlen(x);
        assert_true(jparse_same(x, n)); /* the plain texts are taken */
        for (size_t i = 0; i < n; i++) {
            for (size_t k = 0; k < sizeof(subst); k++) { /* NUL included */
                memcpy(buf, x, n);
                buf[i] = subst[k];
                jparse_same(buf, n);
            }
            /* a byte dropped, a byte doubled, the text cut */
            memcpy(buf, x, i);
            memcpy(buf + i, x + i + 1, n - i - 1);
            jparse_same(buf, n - 1);
            memcpy(buf, x, i + 1);
            memcpy(buf + i + 1, x + i, n - i);
            jparse_same(buf, n + 1);
            jparse_same(x, i);
            for (size_t k = 0; k < sizeof(inserts) / sizeof(*inserts); k++) {
                size_t m = strlen(inserts[k]);
                memcpy(buf, x, i);
                memcpy(buf + i, inserts[k], m);
                memcpy(buf + i + m, x + i, n - i);
                jparse_same(buf, n + m);
            }
        }
    }
    /* a duplicate key, at the top and nested */
    assert_false(jparse_same("{\"a\":1,\"a\":1}", 13));
    assert_false(jparse_same("{\"b\":{\"a\":1,\"\\u0061\":2}}", 24));
}

/* A record.create's id is the first 32 hex of BLAKE2b-256 of
 * "<author>:<seq>" (SPEC 3), whatever the seq. */
static void
test_record_id_is_bound_to_author_and_seq(void **state)
{
    (void)state;
    static const int64_t seqs[] = {1,         0,          -1,        9,
                                   10,        4294967296, INT64_MAX, INT64_MIN,
                                   123456789, -987654321};
    static const char *const authors[] = {root_hex, "", "ab"};
    for (size_t a = 0; a < 3; a++) {
        for (size_t i = 0; i < sizeof(seqs) / sizeof(*seqs); i++) {
            char text[128], hex[65], id[NTM_RECORD_ID_LEN + 1];
            int n = snprintf(text, sizeof(text), "%s:%lld", authors[a],
                             (long long)seqs[i]);
            ntm_hash_hex(hex, text, (size_t)n);
            ntm_record_id(id, authors[a], seqs[i]);
            assert_int_equal(strlen(id), NTM_RECORD_ID_LEN);
            assert_memory_equal(id, hex, NTM_RECORD_ID_LEN);
        }
    }
}

static void
test_author_unknown_and_revoked(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, NTM_STORE_SERVER);
    json_t *f = activity_fields("đường");
    char *e = th_entry(rec1, 1, NULL, 2000, "record.create",
                       json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", "", "kind",
                                 "activity", "unit", COMMUNE, "org", "doan",
                                 "fields", f));
    struct ntm_ingest_result r;
    assert_int_equal(th_ingest(st, rec1, e, NTM_SOURCE_PUSH, &r),
                     NTM_EUNKNOWNAUTHOR);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "phone", NULL, 1, &w, &err),
                     NTM_OK);
    assert_int_equal(
        ntm_device_revoke(st, root, rec1_hex, 0, "stolen", &w, &err), NTM_OK);
    /* kept as evidence, without effect */
    assert_int_equal(th_ingest(st, rec1, e, NTM_SOURCE_PUSH, &r), NTM_OK);
    assert_int_equal(r.flag, NTM_EREVOKED);
    json_t *list = NULL;
    assert_int_equal(ntm_store_records(st, NULL, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    json_decref(f);
    free(e);
    ntm_store_close(st);
}

static void
test_effect_flags_forbidden_and_bad_body(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    json_t *f = activity_fields("ngoài phạm vi");
    /* a record outside the recorder's scope, forced through */
    char *e1 = th_entry(rec1, 1, NULL, 2000, "record.create",
                        json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", "", "kind",
                                  "activity", "unit", "72.705.25486", "org",
                                  "doan", "fields", f));
    struct ntm_ingest_result r;
    assert_int_equal(th_ingest(st, rec1, e1, NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    char id1[65];
    ntm_hash_hex(id1, e1, strlen(e1));
    /* a qty that is not a decimal string */
    json_t *bad = json_deep_copy(f);
    json_object_set_new(bad, "qty", json_integer(3));
    char *e2 = th_entry(rec1, 2, id1, 2001, "record.create",
                        json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", "", "kind",
                                  "activity", "unit", COMMUNE, "org", "doan",
                                  "fields", bad));
    assert_int_equal(th_ingest(st, rec1, e2, NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.flag, NTM_EBADBODY);
    /* both in the log, neither in the state */
    json_t *list = NULL;
    assert_int_equal(ntm_store_records(st, NULL, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    json_t *rep = NULL;
    assert_int_equal(ntm_store_verify(st, &rep, NULL), NTM_OK);
    assert_int_equal(json_array_size(json_object_get(rep, "invalid")), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "flagged")), 2);
    json_decref(rep);
    json_decref(f);
    free(e1);
    free(e2);
    ntm_store_close(st);
}

static void
test_writer_checks_before_signing(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    /* rec1's own replica: it holds its enrollment */
    char rid[33];
    struct ntm_write_result w;
    struct ntm_error err;
    json_t *f = activity_fields("Sửa đường ấp Bến Đình");
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    assert_int_equal(w.unenrolled, 0);
    int64_t before = 0;
    ntm_store_stats(st, &before, NULL, NULL);
    assert_int_equal(
        ntm_record_review(st, rec1, rid, "approved", NULL, &w, &err),
        NTM_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "recorder"));
    assert_int_equal(ntm_record_create(st, rec1, "activity", "72.705.25486",
                                       "doan", f, rid, &w, &err),
                     NTM_EFORBIDDEN);
    int64_t after = 0;
    ntm_store_stats(st, &after, NULL, NULL);
    assert_int_equal(before, after);
    json_decref(f);
    ntm_store_close(st);
}

static void
test_unenrolled_device_records_offline(void **state)
{
    (void)state;
    struct ntm_store *mine = th_store(root, 0);
    char rid[33];
    struct ntm_write_result w;
    struct ntm_error err;
    json_t *f = activity_fields("trước khi đăng ký");
    assert_int_equal(ntm_record_create(mine, rec1, "activity", COMMUNE, "doan",
                                       f, rid, &w, &err),
                     NTM_OK);
    assert_int_equal(w.unenrolled, 1);
    /* The admin enrolls it; once both meet, the record takes effect. */
    struct ntm_store *adm = enrolled_store();
    assert_true(th_exchange(adm, mine) > 0);
    json_t *rec = th_record(mine, rid);
    assert_non_null(rec);
    json_decref(rec);
    assert_true(th_exchange(mine, adm) > 0);
    rec = th_record(adm, rid);
    assert_non_null(rec);
    assert_string_equal(th_field(rec, "title"), "trước khi đăng ký");
    json_decref(rec);
    json_decref(f);
    ntm_store_close(mine);
    ntm_store_close(adm);
}

static void
test_text_nfc_and_search(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    /* "Tây Ninh" typed decomposed (NFD): e + combining marks */
    const char *nfd = "Ta\xcc\x82y Ninh \xc4\x90u\xcc\x9bo\xcc\x9b\xcc\x80ng";
    char *nfc = ntm_text_nfc(nfd);
    assert_string_equal(nfc, "Tây Ninh Đường");
    char *fold = ntm_text_fold("Tây Ninh ĐƯỜNG");
    assert_string_equal(fold, "tay ninh duong");
    assert_int_equal(ntm_text_width("Tây Ninh"), 8);
    char rid[33];
    struct ntm_write_result w;
    struct ntm_error err;
    json_t *f = activity_fields(nfd);
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    json_t *rec = th_record(st, rid);
    assert_string_equal(th_field(rec, "title"), "Tây Ninh Đường");
    json_decref(rec);
    struct ntm_record_filter flt = {0};
    flt.text = "tay ninh duong";
    json_t *list = NULL;
    assert_int_equal(ntm_store_records(st, &flt, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    flt.text = "TÂY NINH";
    assert_int_equal(ntm_store_records(st, &flt, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    flt.text = "ha noi";
    assert_int_equal(ntm_store_records(st, &flt, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    ntm_free(nfc);
    ntm_free(fold);
    json_decref(f);
    ntm_store_close(st);
}

static void
test_verify_finds_tampered_bytes(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    char rid[33];
    struct ntm_write_result w;
    struct ntm_error err;
    json_t *f = activity_fields("2,4 km");
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    json_decref(f);
    json_t *rep = NULL;
    assert_int_equal(ntm_store_verify(st, &rep, NULL), NTM_OK);
    assert_int_equal(json_array_size(json_object_get(rep, "invalid")), 0);
    json_decref(rep);
    ntm_store_close(st);
    /* flip the qty in the stored bytes, as an insider with sqlite3 would */
    char path[400], cmd[800];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    snprintf(cmd, sizeof(cmd),
             "sqlite3 '%s' \"UPDATE entries SET bytes=CAST(replace(CAST(bytes "
             "AS TEXT), '2.4', '9.4') AS BLOB) WHERE op='record.create'\"",
             path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
    assert_int_equal(ntm_store_verify(st, &rep, NULL), NTM_OK);
    assert_int_equal(json_array_size(json_object_get(rep, "invalid")), 1);
    json_t *bad = json_array_get(json_object_get(rep, "invalid"), 0);
    assert_string_equal(json_string_value(json_object_get(bad, "entry")), w.id);
    json_decref(rep);
    ntm_store_close(st);
}

static void
test_restored_backup_refuses_used_seq(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    struct ntm_error err;
    /* The server is known to hold rec1's chain up to seq 5. */
    assert_int_equal(ntm_store_peer_head_set(st, rec1_hex, 5, NULL, &err),
                     NTM_OK);
    char rid[33];
    struct ntm_write_result w;
    json_t *f = activity_fields("x");
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_ESTALE);
    assert_non_null(strstr(err.msg, "pull"));
    json_decref(f);
    ntm_store_close(st);
}

static void
test_rebuild_equals_incremental(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    char rid[33];
    struct ntm_write_result w;
    struct ntm_error err;
    json_t *f = activity_fields("một");
    for (int i = 0; i < 5; i++)
        assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE,
                                           "doan", f, rid, &w, &err),
                         NTM_OK);
    json_t *set = json_pack("{s:s}", "qty", "3.5");
    assert_int_equal(ntm_record_update(st, rec1, rid, set, &w, &err), NTM_OK);
    assert_int_equal(
        ntm_record_review(st, root, rid, "approved", "tốt", &w, &err), NTM_OK);
    assert_int_equal(ntm_unit_create(st, root, COMMUNE ".3", "Ấp Bến Đình",
                                     "hamlet", &w, &err),
                     NTM_OK);
    char *before = th_dump(st);
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    char *after = th_dump(st);
    assert_string_equal(before, after);
    assert_non_null(strstr(after, "approved"));
    ntm_free(before);
    ntm_free(after);
    json_decref(set);
    json_decref(f);
    ntm_store_close(st);
}

/* Rows of the store's table (read through its own connection). */
static int
rows_of(struct ntm_store *st, const char *table)
{
    (void)st;
    char path[400], sql[128];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static void
assert_rebuild_same(struct ntm_store *st)
{
    struct ntm_error err;
    char *before = th_dump(st);
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    char *after = th_dump(st);
    assert_string_equal(before, after);
    ntm_free(before);
    ntm_free(after);
}

/* A record edited along one line (each edit knowing the one before, as
 * nearly every record is) keeps no rows of heads, candidates or fields:
 * its fields are in its row. Its line forks: the rows appear, the same on
 * both replicas and as a rebuild's; an edit over both heads keeps them. */
static void
test_linear_record_keeps_no_candidate_rows(void **state)
{
    (void)state;
    struct ntm_store *b = th_store(root, 0);
    struct ntm_store *a = enrolled_store();
    char rid[33];
    struct ntm_write_result w;
    struct ntm_error err;
    json_t *f = activity_fields("một");
    json_t *s1 = json_pack("{s:s}", "qty", "3.5");
    json_t *s2 = json_pack("{s:s, s:s}", "title", "hai", "uom", "m");
    assert_int_equal(ntm_record_create(a, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_record_update(a, rec1, rid, s1, &w, &err), NTM_OK);
    assert_int_equal(ntm_record_update(a, rec1, rid, s2, &w, &err), NTM_OK);
    assert_int_equal(rows_of(a, "rcands"), 0);
    assert_int_equal(rows_of(a, "rheads"), 0);
    assert_int_equal(rows_of(a, "rfields"), 0);
    json_t *rec = th_record(a, rid);
    assert_string_equal(th_field(rec, "qty"), "3.5");
    assert_string_equal(th_field(rec, "title"), "hai");
    assert_int_equal(json_array_size(json_object_get(rec, "heads")), 1);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(rec, "heads"), 0)),
        w.id);
    json_decref(rec);
    assert_rebuild_same(a);
    assert_int_equal(rows_of(a, "rcands"), 0);

    /* b takes the line, then each edits it without the other's edit */
    th_exchange(a, b);
    json_t *sa = json_pack("{s:s}", "qty", "5");
    json_t *sb = json_pack("{s:s}", "qty", "6");
    assert_int_equal(ntm_record_update(a, rec1, rid, sa, &w, &err), NTM_OK);
    assert_int_equal(ntm_record_update(b, root, rid, sb, &w, &err), NTM_OK);
    th_exchange(a, b);
    th_exchange(b, a);
    assert_true(rows_of(a, "rcands") > 0);
    assert_int_equal(rows_of(a, "rheads"), 2);
    char *da = th_dump(a), *db = th_dump(b);
    assert_string_equal(da, db);
    ntm_free(da);
    ntm_free(db);
    rec = th_record(a, rid);
    assert_int_equal(json_array_size(json_object_get(rec, "heads")), 2);
    json_decref(rec);
    assert_rebuild_same(a);
    assert_rebuild_same(b);

    /* an edit over both heads: one head again, still not one line */
    assert_int_equal(ntm_record_update(a, rec1, rid, s1, &w, &err), NTM_OK);
    th_exchange(a, b);
    assert_int_equal(rows_of(a, "rheads"), 1);
    da = th_dump(a);
    db = th_dump(b);
    assert_string_equal(da, db);
    ntm_free(da);
    ntm_free(db);
    assert_rebuild_same(a);
    assert_rebuild_same(b);
    json_decref(sa);
    json_decref(sb);
    json_decref(s1);
    json_decref(s2);
    json_decref(f);
    ntm_store_close(a);
    ntm_store_close(b);
}

/* Every entry's gseq and effect, as text (new, free with ntm_free). */
static int
effects_add(void *ud, const struct ntm_entry_view *v)
{
    ntm_buf_addf(ud, "%lld %s %d\n", (long long)v->gseq, v->id, (int)v->effect);
    return 0;
}

static char *
effects_dump(struct ntm_store *st)
{
    struct ntm_buf b = NTM_BUF_INIT;
    struct ntm_entry_query q = {0};
    assert_int_equal(ntm_store_entries(st, &q, effects_add, &b, NULL), NTM_OK);
    json_t *rep = NULL;
    assert_int_equal(ntm_store_verify(st, &rep, NULL), NTM_OK);
    char *r = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS);
    ntm_buf_adds(&b, r);
    free(r);
    json_decref(rep);
    return ntm_buf_detach(&b, NULL);
}

static void
exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int
user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* A store written by schema version 1 opens, is migrated to version 2 and
 * keeps its state and every entry's effect (flagged ones included). */
static void
test_schema_v1_is_migrated(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    char path[400];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    struct ntm_write_result w;
    struct ntm_error err;
    char rid[33];
    json_t *f = activity_fields("di chuyển");
    for (int i = 0; i < 3; i++)
        assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE,
                                           "doan", f, rid, &w, &err),
                         NTM_OK);
    json_t *set = json_pack("{s:s}", "qty", "4.5");
    assert_int_equal(ntm_record_update(st, rec1, rid, set, &w, &err), NTM_OK);
    assert_int_equal(ntm_unit_create(st, root, COMMUNE ".3", "Ấp Bến Đình",
                                     "hamlet", &w, &err),
                     NTM_OK);
    /* a flagged entry: outside the recorder's scope, forced through */
    int64_t head = 0;
    char prev[65];
    assert_int_equal(ntm_store_head(st, rec1_hex, &head, prev), NTM_OK);
    char *e1 = th_entry(rec1, head + 1, prev, 5000, "record.create",
                        json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", "", "kind",
                                  "activity", "unit", "72.705.25486", "org",
                                  "doan", "fields", f));
    struct ntm_ingest_result r;
    assert_int_equal(th_ingest(st, rec1, e1, NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    char *state_before = th_dump(st);
    char *effects_before = effects_dump(st);
    ntm_store_close(st);
    assert_int_equal(user_version(path), 10);

    /* Back to the layout of version 1, as an older ntm left it. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db,
             "BEGIN;"
             "DROP TABLE rsearch; DROP TABLE rdoc;"
             "DROP TABLE stranded;"
             "DROP TABLE join_requests;"
             "DROP INDEX entries_target;"
             "DROP INDEX entries_create;"
             "ALTER TABLE entries DROP COLUMN target;"
             "ALTER TABLE entries DROP COLUMN waits;"
             "ALTER TABLE records DROP COLUMN waiting;"
             "ALTER TABLE records DROP COLUMN nheads;"
             "ALTER TABLE records DROP COLUMN linear;"
             "ALTER TABLE records DROP COLUMN head;"
             "ALTER TABLE records ADD COLUMN create_entry TEXT;"
             "ALTER TABLE records ADD COLUMN search TEXT NOT NULL DEFAULT '';"
             "ALTER TABLE records ADD COLUMN heads TEXT NOT NULL DEFAULT '[]';"
             "ALTER TABLE records ADD COLUMN conflicts TEXT;"
             "DROP TABLE rheads; DROP TABLE rcands; DROP TABLE rfields;"
             "DROP INDEX entries_unit_code;"
             "ALTER TABLE units DROP COLUMN heads;"
             "ALTER TABLE units DROP COLUMN conflicts;"
             "ALTER TABLE enrollments DROP COLUMN level;"
             "CREATE TABLE effect1(id TEXT PRIMARY KEY, code INTEGER NOT NULL,"
             " message TEXT);"
             "INSERT INTO effect1 SELECT e.id, f.code, f.message FROM effect f"
             " JOIN entries e ON e.gseq=f.gseq;"
             "DROP TABLE effect;"
             "ALTER TABLE effect1 RENAME TO effect;"
             "DROP INDEX entries_device;"
             "DROP INDEX entries_unit_create;"
             "CREATE INDEX entries_op ON entries(op, gseq);"
             "CREATE INDEX entries_unit ON entries(unit, gseq);"
             "PRAGMA user_version=1;"
             "COMMIT;");
    sqlite3_close(db);
    assert_int_equal(user_version(path), 1);

    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
    assert_int_equal(user_version(path), 10);
    char *state_after = th_dump(st);
    char *effects_after = effects_dump(st);
    assert_string_equal(state_before, state_after);
    assert_string_equal(effects_before, effects_after);
    assert_non_null(strstr(effects_after, "\"flagged\":[{"));
    /* and it goes on taking entries, with the same state as a rebuild */
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    char *grown = th_dump(st);
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    char *rebuilt = th_dump(st);
    assert_string_equal(grown, rebuilt);
    ntm_free(grown);
    ntm_free(rebuilt);
    ntm_free(state_before);
    ntm_free(state_after);
    ntm_free(effects_before);
    ntm_free(effects_after);
    free(e1);
    json_decref(set);
    json_decref(f);
    ntm_store_close(st);
}

/* A damaged fields text in the record's row: the next edit recomputes the
 * record from its log (no false "out of memory", nothing refused). */
static void
test_edit_over_a_damaged_row_recomputes(void **state)
{
    (void)state;
    struct ntm_store *st = enrolled_store();
    char path[400], rid[33];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    struct ntm_write_result w;
    struct ntm_error err;
    json_t *f = activity_fields("trước");
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    ntm_store_close(st);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    exec_sql(db, "UPDATE records SET fields='{\"title\":\"hỏng'");
    sqlite3_close(db);
    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
    json_t *set = json_pack("{s:s}", "qty", "4.5");
    if (ntm_record_update(st, rec1, rid, set, &w, &err) != NTM_OK)
        fail_msg("edit over a damaged row: %s", ntm_error_text(&err));
    json_t *rec = th_record(st, rid);
    assert_string_equal(th_field(rec, "title"), "trước");
    assert_string_equal(th_field(rec, "qty"), "4.5");
    json_decref(rec);
    json_decref(set);
    json_decref(f);
    ntm_store_close(st);
}

/* An entry of root at seq 1 of exactly len bytes (new). */
static char *
entry_of_len(size_t len)
{
    char *e = th_entry(root, 1, NULL, 1000, "x.y", json_pack("{s:s}", "t", ""));
    size_t base = strlen(e);
    assert_true(len >= base);
    char *pad = malloc(len - base + 1);
    memset(pad, 'x', len - base);
    pad[len - base] = '\0';
    free(e);
    e = th_entry(root, 1, NULL, 1000, "x.y", json_pack("{s:s}", "t", pad));
    free(pad);
    assert_int_equal(strlen(e), len);
    return e;
}

/* The limits are inclusive: 65536 bytes and +-(2^53 - 1) are taken. */
static void
test_entry_limits_are_inclusive(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_ingest_result r;
    char *big = entry_of_len(NTM_MAX_ENTRY_BYTES + 1);
    assert_int_equal(th_ingest(st, root, big, NTM_SOURCE_BUNDLE, &r),
                     NTM_EBADENTRY);
    free(big);
    assert_int_equal(th_count(st), 0);
    char *max = entry_of_len(NTM_MAX_ENTRY_BYTES);
    assert_int_equal(th_ingest(st, root, max, NTM_SOURCE_BUNDLE, &r), NTM_OK);
    assert_int_equal(r.duplicate, 0);
    free(max);
    assert_int_equal(th_count(st), 1);

    struct th_chain c;
    th_chain_at(&c, st, root);
    assert_int_equal(c.seq, 1);
    assert_int_equal(
        th_next(st, &c, 1001, "x.y",
                json_pack("{s:I}", "n", (json_int_t)9007199254740992LL), &r,
                NULL),
        NTM_EBADENTRY);
    assert_int_equal(
        th_next(st, &c, 1001, "x.y",
                json_pack("{s:I}", "n", (json_int_t)9007199254740991LL), &r,
                NULL),
        NTM_OK);
    assert_int_equal(
        th_next(st, &c, 1002, "x.y",
                json_pack("{s:I}", "n", (json_int_t)-9007199254740991LL), &r,
                NULL),
        NTM_OK);
    assert_int_equal(th_count(st), 3);

    /* a raw NUL byte, after the object or between two members */
    char *e = th_entry(root, 4, c.prev, 1003, "x.y", json_object());
    size_t n = strlen(e);
    for (int where = 0; where < 2; where++) {
        char *b = malloc(n + 2);
        if (where == 0) {
            memcpy(b, e, n);
            b[n] = '\0';
        } else {
            b[0] = '{';
            b[1] = '\0';
            memcpy(b + 2, e + 1, n - 1);
        }
        unsigned char sig[NTM_SIGNATURE_BYTES];
        char sig64[NTM_SIG_B64_LEN + 1];
        assert_int_equal(ntm_key_sign(root, sig, b, n + 1), NTM_OK);
        ntm_b64_encode(sig64, sig, sizeof(sig));
        struct ntm_error err;
        assert_int_equal(
            ntm_store_ingest(st, b, n + 1, sig64, NTM_SOURCE_BUNDLE, &r, &err),
            NTM_OK);
        if (r.verdict != NTM_EBADENTRY)
            fail_msg("NUL byte (%d): verdict %d", where, r.verdict);
        /* said as such, not as a JSON syntax error at a false end */
        assert_non_null(strstr(r.message, "NUL"));
        free(b);
    }
    free(e);
    assert_int_equal(th_count(st), 3);
    ntm_store_close(st);
}

/* The chain rule: a wrong prev at seq 2 is a fork on every replica; a
 * scoped pull may skip seqs but its links to the entries held must hold;
 * a server applies the full rule even to pulled entries. */
static void
test_chain_prev_checks(void **state)
{
    (void)state;
    json_t *b = json_pack("{s:s,s:s,s:s}", "code", COMMUNE ".1", "name", "A",
                          "level", "hamlet");
    char *e[7];
    char id[7][65];
    for (int i = 1; i <= 6; i++) {
        e[i] = th_entry(root, i, i > 1 ? id[i - 1] : NULL, 1000 + i,
                        "unit.create", json_deep_copy(b));
        ntm_hash_hex(id[i], e[i], strlen(e[i]));
    }
    /* seq 2 naming seq 2's own prev wrongly (an id not held at seq 1) */
    char *bad2 =
        th_entry(root, 2, id[3], 1002, "unit.create", json_deep_copy(b));
    char *bad5 =
        th_entry(root, 5, id[3], 1005, "unit.create", json_deep_copy(b));
    struct ntm_ingest_result r;
    unsigned flags[2] = {0, NTM_STORE_SERVER};
    for (int f = 0; f < 2; f++) {
        struct ntm_store *st = th_store(root, flags[f]);
        assert_int_equal(th_ingest(st, root, e[1], NTM_SOURCE_BUNDLE, &r),
                         NTM_OK);
        assert_int_equal(th_ingest(st, root, bad2, NTM_SOURCE_BUNDLE, &r),
                         NTM_EFORK);
        assert_int_equal(th_ingest(st, root, bad2, NTM_SOURCE_PUSH, &r),
                         NTM_EFORK);
        assert_int_equal(th_ingest(st, root, e[2], NTM_SOURCE_BUNDLE, &r),
                         NTM_OK);
        assert_int_equal(th_count(st), 2);
        ntm_store_close(st);
    }
    /* A device pulling part of a chain: gaps are fine, wrong links not. */
    struct ntm_store *dev = th_store(root, 0);
    assert_int_equal(th_ingest(dev, root, e[3], NTM_SOURCE_PULL, &r), NTM_OK);
    assert_int_equal(th_ingest(dev, root, e[4], NTM_SOURCE_PULL, &r), NTM_OK);
    assert_int_equal(th_ingest(dev, root, bad5, NTM_SOURCE_PULL, &r),
                     NTM_EFORK);
    assert_int_equal(th_ingest(dev, root, e[5], NTM_SOURCE_PULL, &r), NTM_OK);
    assert_int_equal(th_ingest(dev, root, e[1], NTM_SOURCE_PULL, &r), NTM_OK);
    assert_int_equal(th_count(dev), 4);
    /* Into the hole at seq 2: its prev (seq 1) is right, but seq 3 held
     * names another entry as its prev: a fork, kept as evidence; the true
     * seq 2 then closes the hole. */
    char *other2 = th_entry(root, 2, id[1], 1002, "unit.create",
                            json_pack("{s:s,s:s,s:s}", "code", COMMUNE ".2",
                                      "name", "B", "level", "hamlet"));
    assert_int_equal(th_ingest(dev, root, other2, NTM_SOURCE_PULL, &r),
                     NTM_EFORK);
    assert_non_null(
        strstr(r.message, "the entry held at seq 3 names another prev"));
    assert_int_equal(th_count(dev), 4);
    json_t *rep = NULL;
    struct ntm_error err;
    assert_int_equal(ntm_store_verify_ex(dev, 0, &rep, &err), NTM_OK);
    json_t *fk = json_array_get(json_object_get(rep, "forks"), 0);
    assert_int_equal(json_integer_value(json_object_get(fk, "seq")), 2);
    assert_true(json_is_null(json_object_get(fk, "held"))); /* the hole */
    char oid[NTM_HEX_ID_LEN + 1];
    ntm_hash_hex(oid, other2, strlen(other2));
    json_t *ids = json_object_get(fk, "ids");
    assert_int_equal(json_array_size(ids), 1);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), oid);
    assert_false(json_is_true(json_object_get(fk, "resolved")));
    json_decref(rep);
    assert_int_equal(th_ingest(dev, root, e[2], NTM_SOURCE_PULL, &r), NTM_OK);
    assert_int_equal(th_count(dev), 5);
    free(other2);
    ntm_store_close(dev);
    /* The server: no gap even from a pull. */
    struct ntm_store *srv = th_store(root, NTM_STORE_SERVER);
    assert_int_equal(th_ingest(srv, root, e[3], NTM_SOURCE_PULL, &r), NTM_EGAP);
    assert_int_equal(th_ingest(srv, root, e[1], NTM_SOURCE_PULL, &r), NTM_OK);
    assert_int_equal(th_ingest(srv, root, e[3], NTM_SOURCE_PULL, &r), NTM_EGAP);
    assert_int_equal(th_count(srv), 1);
    ntm_store_close(srv);
    for (int i = 1; i <= 6; i++)
        free(e[i]);
    free(bad2);
    free(bad5);
    json_decref(b);
}

/* Clock ahead: flagged beyond 24 h exactly, not at 24 h. */
static void
test_clock_ahead_threshold(void **state)
{
    (void)state;
    const int64_t now = 1500000000000LL;
    setenv("NTM_NOW_MS", "1500000000000", 1);
    struct ntm_store *st = th_store(root, 0);
    struct th_chain c;
    th_chain_at(&c, st, root);
    struct ntm_ingest_result r;
    assert_int_equal(
        th_next(st, &c, now + 86400000LL, "x.y", json_object(), &r, NULL),
        NTM_OK);
    assert_int_equal(r.clock_ahead, 0);
    assert_int_equal(
        th_next(st, &c, now + 86400001LL, "x.y", json_object(), &r, NULL),
        NTM_OK);
    assert_int_equal(r.clock_ahead, 1);
    assert_int_equal(th_next(st, &c, now - 5, "x.y", json_object(), &r, NULL),
                     NTM_OK);
    assert_int_equal(r.clock_ahead, 0);
    /* went backwards within the chain (now - 5 after now + 1 day) */
    assert_int_equal(r.clock, 2);
    assert_int_equal(th_next(st, &c, now - 5, "x.y", json_object(), &r, NULL),
                     NTM_OK);
    assert_int_equal(r.clock, 0); /* equal is not backwards */
    /* far before the plan period: 1970, and the last ms of 2014 */
    assert_int_equal(th_next(st, &c, 1, "x.y", json_object(), &r, NULL),
                     NTM_OK);
    assert_int_equal(r.clock, 2 | 4);
    assert_int_equal(
        th_next(st, &c, 1420070399999LL, "x.y", json_object(), &r, NULL),
        NTM_OK);
    assert_int_equal(r.clock, 4);
    assert_int_equal(
        th_next(st, &c, 1420070400000LL, "x.y", json_object(), &r, NULL),
        NTM_OK);
    assert_int_equal(r.clock, 0);
    unsetenv("NTM_NOW_MS");
    ntm_store_close(st);
}

static json_t *
create_body(const char *rid, const char *unit, const char *title)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", rid, "kind", "activity",
                     "unit", unit, "org", "doan", "fields",
                     activity_fields(title));
}

static json_t *
enroll_body(const char *key, const char *role, const char *scope,
            int64_t from_seq)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "key", key, "role", role,
                     "scope", scope, "name", "máy", "org", "doan", "from_seq",
                     (json_int_t)from_seq);
}

static json_t *
revoke_body(const char *key, int64_t after_seq)
{
    return json_pack("{s:s,s:I,s:s}", "key", key, "after_seq",
                     (json_int_t)after_seq, "reason", "mất máy");
}

/* Scopes cover whole codes only: hamlet 72.710.25657.1 does not cover
 * 72.710.25657.10, commune 72.710.2565 does not cover 72.710.25657. */
static void
test_scope_is_a_code_prefix(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_key *rec2 = th_key();
    char rec2_hex[65];
    th_author(rec2, rec2_hex);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder",
                                       COMMUNE ".1", "ấp 1", "doan", 1, &w,
                                       &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, rec2_hex, "recorder",
                                       "72.710.2565", "xã khác", "doan", 1, &w,
                                       &err),
                     NTM_OK);
    /* the writer refuses before signing */
    char rid[33];
    json_t *f = activity_fields("ấp 10");
    int64_t before = th_count(st);
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE ".10",
                                       "doan", f, rid, &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(ntm_record_create(st, rec2, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(th_count(st), before);
    /* forced through: flagged */
    struct th_chain c1, c2;
    th_chain_at(&c1, st, rec1);
    th_chain_at(&c2, st, rec2);
    struct ntm_ingest_result r;
    assert_int_equal(th_next(st, &c1, 2000, "record.create",
                             create_body("", COMMUNE ".10", "ngoài"), &r, NULL),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    assert_int_equal(th_next(st, &c2, 2000, "record.create",
                             create_body("", COMMUNE, "ngoài"), &r, NULL),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    /* and inside: taken with effect */
    assert_int_equal(th_next(st, &c1, 2001, "record.create",
                             create_body("", COMMUNE ".1", "trong"), &r, NULL),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_OK);
    assert_int_equal(th_next(st, &c2, 2001, "record.create",
                             create_body("", "72.710.2565.3", "trong"), &r,
                             NULL),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_OK);
    json_t *list = NULL;
    assert_int_equal(ntm_store_records(st, NULL, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);
    json_decref(f);
    ntm_key_free(rec2);
    ntm_store_close(st);
}

/* Only admins enroll and revoke; nobody revokes the root key, nor itself;
 * a measure's den must be > 0. The writer refuses each before signing. */
static void
test_writer_refuses_what_rules_forbid(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_key *coord = th_key();
    char coord_hex[65];
    th_author(coord, coord_hex);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, coord_hex, "coordinator",
                                       "72.710", "huyện", "mttq", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "ấp", "doan", 1, &w, &err),
                     NTM_OK);
    /* an admin may not revoke or re-enroll itself, and is told so in
     * those words (not by the tree rule that would also refuse it) */
    struct ntm_key *adm = th_key();
    char adm_hex[65];
    th_author(adm, adm_hex);
    assert_int_equal(ntm_device_enroll(st, root, adm_hex, "admin", "72.710",
                                       "huyện", "mttq", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_revoke(st, adm, adm_hex, 0, "thử", &w, &err),
                     NTM_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "itself"));
    assert_int_equal(ntm_device_enroll(st, adm, adm_hex, "recorder", COMMUNE,
                                       "ấp", "doan", 1, &w, &err),
                     NTM_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "itself"));
    ntm_key_free(adm);
    int64_t before = th_count(st);
    assert_int_equal(ntm_device_enroll(st, coord, rec1_hex, "recorder", COMMUNE,
                                       "ấp", "doan", 1, &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(ntm_device_revoke(st, coord, rec1_hex, 0, "mất", &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(ntm_device_revoke(st, root, root_hex, 0, "thử", &w, &err),
                     NTM_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "root"));
    json_t *m = json_pack("{s:s,s:s,s:i,s:i}", "task", "doan.members", "period",
                          "2017", "num", 3, "den", 0);
    char rid[33];
    assert_int_equal(ntm_record_create(st, rec1, "measure", COMMUNE, "doan", m,
                                       rid, &w, &err),
                     NTM_EBADBODY);
    assert_non_null(strstr(err.msg, "den"));
    assert_int_equal(th_count(st), before);
    json_object_set_new(m, "den", json_integer(1));
    assert_int_equal(ntm_record_create(st, rec1, "measure", COMMUNE, "doan", m,
                                       rid, &w, &err),
                     NTM_OK);
    assert_int_equal(th_count(st), before + 1);

    /* forced through: a revocation of the root has no effect */
    struct th_chain c;
    th_chain_at(&c, st, root);
    struct ntm_ingest_result r;
    char rv[65];
    assert_int_equal(th_next(st, &c, 3000, "device.revoke",
                             revoke_body(root_hex, 0), &r, rv),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    assert_int_equal(th_effect(st, rv), NTM_EFORBIDDEN);
    json_t *devs = NULL;
    assert_int_equal(ntm_store_devices(st, &devs, &err), NTM_OK);
    size_t i;
    json_t *d;
    json_array_foreach (devs, i, d)
        assert_true(json_is_null(json_object_get(d, "revoked_after")));
    json_decref(devs);
    assert_int_equal(
        ntm_unit_create(st, root, COMMUNE ".5", "Ấp 5", "hamlet", &w, &err),
        NTM_OK);
    /* a forced den 0 is flagged */
    th_chain_at(&c, st, rec1);
    json_object_set_new(m, "den", json_integer(0));
    assert_int_equal(
        th_next(st, &c, 3001, "record.create",
                json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", "", "kind", "measure",
                          "unit", COMMUNE, "org", "doan", "fields", m),
                &r, NULL),
        NTM_OK);
    assert_int_equal(r.flag, NTM_EBADBODY);
    json_decref(m);
    ntm_key_free(coord);
    ntm_store_close(st);
}

/* An enrollment from_seq k governs seq k; a revocation after_seq k leaves
 * seq k valid and revokes k + 1; of two revocations the smaller after_seq
 * holds. Checked for an admin's device entries and for records. */
static void
test_enrollment_and_revocation_boundaries(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_key *adm = th_key(), *d[4];
    char adm_hex[65], dh[4][65];
    th_author(adm, adm_hex);
    for (int i = 0; i < 4; i++) {
        d[i] = th_key();
        th_author(d[i], dh[i]);
    }
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, adm_hex, "recorder", COMMUNE,
                                       "ấp", "doan", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, adm_hex, "admin", "72.710",
                                       "huyện", "doan", 3, &w, &err),
                     NTM_OK);
    struct th_chain c;
    th_chain_at(&c, st, adm);
    struct ntm_ingest_result r;
    char id[8][65];
    /* seq 1: a recorder's record */
    assert_int_equal(th_next(st, &c, 2001, "record.create",
                             create_body("", COMMUNE, "một"), &r, id[1]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_OK);
    /* seq 2: still a recorder - may not enroll */
    assert_int_equal(th_next(st, &c, 2002, "device.enroll",
                             enroll_body(dh[0], "recorder", COMMUNE, 1), &r,
                             id[2]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    /* seq 3: the admin enrollment governs it */
    assert_int_equal(th_next(st, &c, 2003, "device.enroll",
                             enroll_body(dh[1], "recorder", COMMUNE, 1), &r,
                             id[3]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_OK);
    struct ntm_enrollment enr;
    assert_int_equal(ntm_store_enrollment(st, adm_hex, 2, &enr, &err), NTM_OK);
    assert_string_equal(enr.role, "recorder");
    assert_int_equal(ntm_store_enrollment(st, adm_hex, 3, &enr, &err), NTM_OK);
    assert_string_equal(enr.role, "admin");
    assert_int_equal(enr.from_seq, 3);

    /* two revocations: after 6, then after 4 - the smaller holds */
    assert_int_equal(ntm_device_revoke(st, root, adm_hex, 6, "một", &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_revoke(st, root, adm_hex, 4, "hai", &w, &err),
                     NTM_OK);
    /* seq 4: the last valid one */
    assert_int_equal(th_next(st, &c, 2004, "device.enroll",
                             enroll_body(dh[2], "recorder", COMMUNE, 1), &r,
                             id[4]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_OK);
    /* seq 5: revoked, although the other revocation is after 6 */
    assert_int_equal(th_next(st, &c, 2005, "device.enroll",
                             enroll_body(dh[3], "recorder", COMMUNE, 1), &r,
                             id[5]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EREVOKED);
    assert_int_equal(th_next(st, &c, 2006, "record.create",
                             create_body("", COMMUNE, "sáu"), &r, id[6]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EREVOKED);

    assert_int_equal(ntm_store_enrollment(st, adm_hex, 4, &enr, &err), NTM_OK);
    assert_int_equal(enr.enrolled, 1);
    assert_int_equal(enr.revoked, 0);
    assert_int_equal(enr.revoked_after, 4);
    assert_int_equal(ntm_store_enrollment(st, adm_hex, 5, &enr, &err), NTM_OK);
    assert_int_equal(enr.revoked, 1);

    /* the final effects, after every device entry was weighed */
    assert_int_equal(th_effect(st, id[1]), NTM_OK);
    assert_int_equal(th_effect(st, id[2]), NTM_EFORBIDDEN);
    assert_int_equal(th_effect(st, id[3]), NTM_OK);
    assert_int_equal(th_effect(st, id[4]), NTM_OK);
    assert_int_equal(th_effect(st, id[5]), NTM_EREVOKED);
    assert_int_equal(th_effect(st, id[6]), NTM_EREVOKED);
    int want[4] = {0, 1, 1, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ntm_store_enrollment(st, dh[i], 1, &enr, &err),
                         NTM_OK);
        if (enr.enrolled != want[i])
            fail_msg("device %d: enrolled %d, want %d", i, enr.enrolled,
                     want[i]);
    }
    json_t *list = NULL;
    assert_int_equal(ntm_store_records(st, NULL, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);

    /* the same for a recorder's records: revoked after 2 */
    th_chain_at(&c, st, rec1);
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "ấp", "doan", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_revoke(st, root, rec1_hex, 3, "một", &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_revoke(st, root, rec1_hex, 2, "hai", &w, &err),
                     NTM_OK);
    char rids[3][NTM_RECORD_ID_LEN + 1];
    enum ntm_err flag[3] = {NTM_OK, NTM_OK, NTM_EREVOKED};
    for (int i = 0; i < 3; i++) {
        th_rid(rec1, c.seq + 1, rids[i]);
        assert_int_equal(th_next(st, &c, 4000 + i, "record.create",
                                 create_body("", COMMUNE, "ghi"), &r, NULL),
                         NTM_OK);
        assert_int_equal(r.flag, flag[i]);
        json_t *rec = th_record(st, rids[i]);
        json_t *ok = rec ? json_object_get(rec, "fields") : NULL;
        if ((ok != NULL && json_object_size(ok) > 0) != (flag[i] == NTM_OK))
            fail_msg("record of seq %d: effect wrong", i + 1);
        json_decref(rec);
    }
    assert_int_equal(ntm_store_enrollment(st, rec1_hex, 2, &enr, &err), NTM_OK);
    assert_int_equal(enr.revoked, 0);
    assert_int_equal(enr.revoked_after, 2);
    assert_int_equal(ntm_store_enrollment(st, rec1_hex, 3, &enr, &err), NTM_OK);
    assert_int_equal(enr.revoked, 1);

    char *inc = th_dump(st);
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    char *reb = th_dump(st);
    assert_string_equal(inc, reb);
    ntm_free(inc);
    ntm_free(reb);
    ntm_key_free(adm);
    for (int i = 0; i < 4; i++)
        ntm_key_free(d[i]);
    ntm_store_close(st);
}

/* Device entries by those who may not make them: a coordinator, an admin
 * outside its scope. A revoked admin's enrollments lose their effect, and
 * so do the entries of the devices it enrolled. */
/* The enrollment of key at seq on st: role and scope ("" when none). */
static void
assert_enrolled(struct ntm_store *st, const char *key, int64_t seq,
                const char *role, const char *scope)
{
    struct ntm_enrollment enr;
    struct ntm_error err;
    assert_int_equal(ntm_store_enrollment(st, key, seq, &enr, &err), NTM_OK);
    assert_int_equal(enr.revoked, 0);
    assert_string_equal(enr.role, role);
    assert_string_equal(enr.scope, scope);
}

/* Issue 9, finding 1 and the authority rules of docs/authority.md, each
 * written as the attack: authority is weighed against what an entry takes
 * away, admin over admin follows the tree, equals cannot take from each
 * other, and the result is the same rebuilt from the log. */
static void
test_authority_over_what_is_taken(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, NTM_STORE_SERVER);
    struct ntm_key *p = th_key(), *p2 = th_key(), *d = th_key(), *d2 = th_key(),
                   *c = th_key(), *r = th_key(), *k = th_key();
    char ph[65], p2h[65], dh[65], d2h[65], ch[65], rh[65], kh[65];
    th_author(p, ph);
    th_author(p2, p2h);
    th_author(d, dh);
    th_author(d2, d2h);
    th_author(c, ch);
    th_author(r, rh);
    th_author(k, kh);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, ph, "admin", "72", "tỉnh",
                                       "mttq", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, p2h, "admin", "72", "tỉnh 2",
                                       "mttq", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, dh, "admin", "72.705", "huyện",
                                       "mttq", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, d2h, "admin", "72.706",
                                       "huyện 2", "mttq", 1, &w, &err),
                     NTM_OK);
    struct th_chain cp, cp2, cd, cd2, cc;
    th_chain_at(&cp, st, p);
    th_chain_at(&cp2, st, p2);
    th_chain_at(&cd, st, d);
    th_chain_at(&cd2, st, d2);
    struct ntm_ingest_result res;
    /* P enrolls a recorder in district 72.705. */
    assert_int_equal(th_next(st, &cp, 2000, "device.enroll",
                             enroll_body(rh, "recorder", "72.705.25486", 1),
                             &res, NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_OK);
    /* The district admin demotes the provincial admin: forbidden. */
    assert_int_equal(th_next(st, &cd, 2001, "device.enroll",
                             enroll_body(ph, "recorder", "72.705.25486", 1),
                             &res, NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    assert_non_null(strstr(res.message, "admin of 72"));
    /* ... or with a later from_seq, or revokes it: forbidden. */
    assert_int_equal(th_next(st, &cd, 2002, "device.enroll",
                             enroll_body(ph, "recorder", "72.705", 50), &res,
                             NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    assert_int_equal(
        th_next(st, &cd, 2003, "device.revoke", revoke_body(ph, 0), &res, NULL),
        NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    /* An equal (another provincial admin) revokes it: forbidden. */
    assert_int_equal(th_next(st, &cp2, 2004, "device.revoke",
                             revoke_body(ph, 0), &res, NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    /* A district admin names an admin at its own level: forbidden; one
     * below: taken. Then the commune admin cannot revoke its district's,
     * the district's revokes it. */
    assert_int_equal(th_next(st, &cd, 2005, "device.enroll",
                             enroll_body(ch, "admin", "72.705", 1), &res, NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    assert_int_equal(th_next(st, &cd, 2006, "device.enroll",
                             enroll_body(ch, "admin", "72.705.25486", 1), &res,
                             NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_OK);
    th_chain_at(&cc, st, c);
    assert_int_equal(
        th_next(st, &cc, 2007, "device.revoke", revoke_body(dh, 0), &res, NULL),
        NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    /* Nobody enrolls itself. */
    assert_int_equal(th_next(st, &cc, 2008, "device.enroll",
                             enroll_body(ch, "recorder", "72.705.25486", 9),
                             &res, NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    assert_enrolled(st, ph, 1, "admin", "72");
    assert_enrolled(st, ph, 100, "admin", "72");
    assert_enrolled(st, dh, 100, "admin", "72.705");
    assert_enrolled(st, rh, 1, "recorder", "72.705.25486");
    /* Equals taking the same seqs of one key: both without effect... */
    assert_int_equal(th_next(st, &cd, 2009, "device.enroll",
                             enroll_body(kh, "recorder", "72.705.25486", 1),
                             &res, NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_OK);
    assert_int_equal(th_next(st, &cd2, 2010, "device.enroll",
                             enroll_body(kh, "recorder", "72.706.25519", 1),
                             &res, NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    struct ntm_enrollment enr;
    assert_int_equal(ntm_store_enrollment(st, kh, 1, &enr, &err), NTM_OK);
    assert_int_equal(enr.enrolled, 0);
    /* ... until a higher authority settles it (the district that covers
     * the province's choice keeps its own). */
    assert_int_equal(th_next(st, &cp, 2011, "device.enroll",
                             enroll_body(kh, "recorder", "72.705.25486", 1),
                             &res, NULL),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_OK);
    assert_enrolled(st, kh, 1, "recorder", "72.705.25486");
    /* The root revokes the provincial admin: its later enrollments go. */
    assert_int_equal(ntm_device_revoke(st, root, ph, 1, "máy mất", &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_store_enrollment(st, ph, 2, &enr, &err), NTM_OK);
    assert_int_equal(enr.revoked, 1);
    assert_int_equal(ntm_store_enrollment(st, rh, 1, &enr, &err), NTM_OK);
    assert_int_equal(enr.enrolled, 1); /* P's seq 1 is before after_seq */
    /* The same log, rebuilt or taken in another order, the same state. */
    char *inc = th_dump(st);
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    char *reb = th_dump(st);
    assert_string_equal(inc, reb);
    struct ntm_store *other = th_store(root, NTM_STORE_SERVER);
    th_exchange(st, other);
    char *oth = th_dump(other);
    assert_string_equal(inc, oth);
    ntm_free(inc);
    ntm_free(reb);
    ntm_free(oth);
    ntm_store_close(other);
    struct ntm_key *keys[] = {p, p2, d, d2, c, r, k};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        ntm_key_free(keys[i]);
    ntm_store_close(st);
}

struct seen {
    const char *id;
    int64_t gseq; /* 0: not served */
    int n;
};

static int
seen_cb(void *ud, const struct ntm_entry_view *e)
{
    struct seen *x = ud;
    x->n++;
    if (strcmp(e->id, x->id) == 0)
        x->gseq = e->gseq;
    return 0;
}

/* What a pull of scope after g serves of entry id (its gseq, 0 none). */
static int64_t
served(struct ntm_store *st, const char *scope, int64_t after, const char *id)
{
    struct ntm_entry_query q;
    memset(&q, 0, sizeof(q));
    q.scope = scope;
    q.after_gseq = after;
    struct seen x = {id, 0, 0};
    struct ntm_error err;
    assert_int_equal(ntm_store_entries(st, &q, seen_cb, &x, &err), NTM_OK);
    return x.gseq;
}

/* Issue 9, finding 5: an edit whose record the server does not hold yet
 * waits near its author; junk device.* entries stay near theirs; once the
 * create names the unit, the edit arrives again (a later gseq), so a device
 * whose cursor passed it still gets it. */
static void
test_scoped_pull_waits_for_the_record(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, NTM_STORE_SERVER);
    struct ntm_key *owner = th_key(), *late = th_key();
    char oh[65], lh[65], rid[33];
    th_author(owner, oh);
    th_author(late, lh);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, oh, "recorder", COMMUNE, "ấp",
                                       "doan", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "ấp", "doan", 1, &w, &err),
                     NTM_OK);
    /* The owner's create, held back; an edit of it by a device the server
     * does not know yet (relayed). */
    struct th_chain co, cl, cr;
    th_chain_at(&co, st, owner);
    th_chain_at(&cl, st, late);
    th_chain_at(&cr, st, rec1);
    th_rid(owner, 1, rid);
    char *create = th_entry(owner, 1, NULL, 3000, "record.create",
                            create_body("", COMMUNE, "của chủ"));
    char cid[65], uid[65], jid[65];
    ntm_hash_hex(cid, create, strlen(create));
    struct ntm_ingest_result res;
    /* the late device is enrolled, then edits */
    assert_int_equal(ntm_device_enroll(st, root, lh, "recorder", COMMUNE, "ấp",
                                       "doan", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(th_next(st, &cl, 3001, "record.update",
                             json_pack("{s:s,s:[s],s:{s:s}}", "id", rid, "base",
                                       cid, "set", "title", "sửa trước"),
                             &res, uid),
                     NTM_OK);
    /* junk: a recorder enrolls someone */
    assert_int_equal(th_next(st, &cr, 3002, "device.enroll",
                             enroll_body(oh, "admin", COMMUNE ".1", 1), &res,
                             jid),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    int64_t cursor = 0;
    assert_int_equal(ntm_store_stats(st, NULL, &cursor, &err), NTM_OK);
    /* another district sees neither; the author's commune sees both */
    assert_int_equal(served(st, "72.705", 0, uid), 0);
    assert_int_equal(served(st, "72.705", 0, jid), 0);
    assert_true(served(st, COMMUNE, 0, uid) > 0);
    assert_true(served(st, COMMUNE, 0, jid) > 0);
    /* The create arrives: the edit arrives again, after the cursor. */
    assert_int_equal(th_ingest(st, owner, create, NTM_SOURCE_PUSH, &res),
                     NTM_OK);
    int64_t again = served(st, COMMUNE, cursor, uid);
    assert_true(again > cursor);
    assert_true(served(st, "72.710", cursor, cid) < again);
    assert_int_equal(served(st, "72.705", 0, uid), 0);
    json_t *rec = th_record(st, rid);
    assert_string_equal(th_field(rec, "title"), "sửa trước");
    json_decref(rec);
    /* and the state is the one a rebuild gives */
    char *inc = th_dump(st);
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    char *reb = th_dump(st);
    assert_string_equal(inc, reb);
    ntm_free(inc);
    ntm_free(reb);
    free(create);
    ntm_key_free(owner);
    ntm_key_free(late);
    ntm_store_close(st);
}

static void
test_device_entries_need_an_admin_in_scope(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_key *adm = th_key(), *coord = th_key(), *x = th_key(),
                   *y = th_key(), *b = th_key();
    char adm_hex[65], coord_hex[65], xh[65], yh[65], bh[65];
    th_author(adm, adm_hex);
    th_author(coord, coord_hex);
    th_author(x, xh);
    th_author(y, yh);
    th_author(b, bh);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, adm_hex, "admin", "72.710",
                                       "huyện", "doan", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, coord_hex, "coordinator",
                                       "72.710", "huyện", "mttq", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, yh, "recorder", "72.705.25486",
                                       "xã khác", "doan", 1, &w, &err),
                     NTM_OK);
    struct th_chain ca, cc, cb;
    th_chain_at(&ca, st, adm);
    th_chain_at(&cc, st, coord);
    struct ntm_ingest_result r;
    char id[6][65];
    /* a coordinator enrolls and revokes: no effect */
    assert_int_equal(th_next(st, &cc, 2000, "device.enroll",
                             enroll_body(xh, "recorder", COMMUNE, 1), &r,
                             id[0]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    assert_int_equal(
        th_next(st, &cc, 2001, "device.revoke", revoke_body(yh, 0), &r, id[1]),
        NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    /* an admin outside its scope: no effect */
    assert_int_equal(th_next(st, &ca, 2002, "device.enroll",
                             enroll_body(xh, "recorder", "72.705.25486", 1), &r,
                             id[2]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    assert_int_equal(
        th_next(st, &ca, 2003, "device.revoke", revoke_body(yh, 0), &r, id[3]),
        NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    struct ntm_enrollment enr;
    assert_int_equal(ntm_store_enrollment(st, xh, 1, &enr, &err), NTM_OK);
    assert_int_equal(enr.enrolled, 0);
    assert_int_equal(ntm_store_enrollment(st, yh, 1, &enr, &err), NTM_OK);
    assert_int_equal(enr.enrolled, 1);
    assert_int_equal(enr.revoked, 0);
    /* the admin enrolls b in scope at seq 3; b records */
    assert_int_equal(th_next(st, &ca, 2004, "device.enroll",
                             enroll_body(bh, "recorder", COMMUNE, 1), &r,
                             id[4]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_OK);
    th_chain_at(&cb, st, b);
    assert_int_equal(th_next(st, &cb, 2005, "record.create",
                             create_body("", COMMUNE, "của b"), &r, id[5]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_OK);
    json_t *list = NULL;
    assert_int_equal(ntm_store_records(st, NULL, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    /* the admin is revoked after seq 2: b's enrollment (seq 3) goes, and
     * with it b's record */
    assert_int_equal(ntm_device_revoke(st, root, adm_hex, 2, "mất", &w, &err),
                     NTM_OK);
    assert_int_equal(th_effect(st, id[4]), NTM_EREVOKED);
    assert_int_not_equal(th_effect(st, id[5]), NTM_OK);
    assert_int_equal(ntm_store_enrollment(st, bh, 1, &enr, &err), NTM_OK);
    assert_int_equal(enr.enrolled, 0);
    assert_int_equal(ntm_store_records(st, NULL, &list, NULL), NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    for (int i = 0; i < 4; i++)
        assert_int_equal(th_effect(st, id[i]), NTM_EFORBIDDEN);
    char *inc = th_dump(st);
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    char *reb = th_dump(st);
    assert_string_equal(inc, reb);
    ntm_free(inc);
    ntm_free(reb);
    ntm_key_free(adm);
    ntm_key_free(coord);
    ntm_key_free(x);
    ntm_key_free(y);
    ntm_key_free(b);
    ntm_store_close(st);
}

static void
test_store_errors_are_clear(void **state)
{
    (void)state;
    struct ntm_store *st = NULL;
    struct ntm_error err;
    assert_int_equal(ntm_store_open(&st, "/nonexistent/dir/ntm.db", 0, &err),
                     NTM_ENOENT);
    th_tmpdir();
    char path[400];
    snprintf(path, sizeof(path), "%s/garbage.db", th_dir);
    FILE *fp = fopen(path, "w");
    fputs("this is not a database, just text that someone copied here....", fp);
    fclose(fp);
    assert_int_not_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
    assert_true(err.msg[0] != '\0');
    /* An empty file, or an SQLite file without ntm's tables, is refused
     * without NTM_STORE_CREATE and left as it was (never made a store). */
    snprintf(path, sizeof(path), "%s/empty.db", th_dir);
    fp = fopen(path, "w");
    fclose(fp);
    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_ECORRUPT);
    assert_non_null(strstr(err.msg, "empty file"));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    /* With NTM_STORE_CREATE (ntm init) it becomes a store. */
    assert_int_equal(ntm_store_open(&st, path, NTM_STORE_CREATE, &err), NTM_OK);
    ntm_store_close(st);
    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
    ntm_store_close(st);
    snprintf(path, sizeof(path), "%s/other.db", th_dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_ECORRUPT);
    assert_non_null(strstr(err.msg, "not an ntm store"));
    /* root key pinned once, never changed */
    st = th_store(root, 0);
    assert_int_equal(ntm_store_set_root(st, rec1_hex, &err), NTM_EROOTKEY);
    ntm_store_close(st);
}

/* Copy author's entries from one replica to another, in seq order. */
static void
copy_author(struct ntm_store *from, struct ntm_store *to, const char *author)
{
    struct th_copy c = {to, 0, 0};
    struct ntm_entry_query q = {0};
    q.author = author;
    q.by_author_seq = 1;
    assert_int_equal(ntm_store_entries(from, &q, th_copy_cb, &c, NULL), NTM_OK);
    assert_int_equal(c.rejected, 0);
}

static size_t
records_of_org(struct ntm_store *st, const char *org)
{
    json_t *list = NULL;
    assert_int_equal(ntm_store_records(st, NULL, &list, NULL), NTM_OK);
    size_t i, n = 0;
    json_t *x;
    json_array_foreach (list, i, x)
        n += strcmp(json_string_value(json_object_get(x, "org")), org) == 0;
    json_decref(list);
    return n;
}

/* Organization scoping (docs/authority.md section 2a): a device enrolled
 * for the Youth Union (doan) creates, edits, deletes and reviews only doan
 * records; enrollments of the Front (mttq) or of no organization act
 * across organizations; an admin of one organization enrolls and revokes
 * only devices of it. The writer refuses before signing; entries forced
 * through are flagged forbidden, with the same verdict in any arrival
 * order and after a rebuild, and a later enrollment can give them effect. */
static void
test_org_scope(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    /* rec1: doan recorder; h: hnd recorder; m: mttq recorder; n: recorder of
     * no organization; dc: doan coordinator; mc: mttq coordinator; da: doan
     * admin; all of COMMUNE or its district. */
    struct ntm_key *h = th_key(), *m = th_key(), *n = th_key(), *dc = th_key(),
                   *mc = th_key(), *da = th_key(), *x = th_key();
    char hh[65], mh[65], nh[65], dch[65], mch[65], dah[65], xh[65];
    th_author(h, hh);
    th_author(m, mh);
    th_author(n, nh);
    th_author(dc, dch);
    th_author(mc, mch);
    th_author(da, dah);
    th_author(x, xh);
    struct ntm_write_result w;
    struct ntm_error err;
    const struct {
        const char *key, *role, *scope, *org;
    } enr[] = {{rec1_hex, "recorder", COMMUNE, "doan"},
               {hh, "recorder", COMMUNE, "hnd"},
               {mh, "recorder", COMMUNE, "mttq"},
               {nh, "recorder", COMMUNE, NULL},
               {dch, "coordinator", "72.710", "doan"},
               {mch, "coordinator", "72.710", "mttq"},
               {dah, "admin", "72.710", "doan"}};
    for (size_t i = 0; i < sizeof(enr) / sizeof(enr[0]); i++)
        assert_int_equal(ntm_device_enroll(st, root, enr[i].key, enr[i].role,
                                           enr[i].scope, "máy", enr[i].org, 1,
                                           &w, &err),
                         NTM_OK);
    json_t *f = activity_fields("hiến đất làm đường");
    json_object_set_new(f, "task", json_string("hnd.land_donation"));

    /* The Farmers' Union's own record. */
    char hrid[33], hcreate[65];
    assert_int_equal(
        ntm_record_create(st, h, "activity", COMMUNE, "hnd", f, hrid, &w, &err),
        NTM_OK);
    snprintf(hcreate, sizeof(hcreate), "%s", w.id);

    /* The writer refuses before signing, naming both organizations. */
    int64_t before = th_count(st);
    char rid[33];
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "hnd", f,
                                       rid, &w, &err),
                     NTM_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "organization hnd"));
    assert_non_null(strstr(err.msg, "doan"));
    json_t *set = json_pack("{s:s}", "title", "sửa của đoàn");
    assert_int_equal(ntm_record_update(st, rec1, hrid, set, &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(ntm_record_delete(st, rec1, hrid, &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(
        ntm_record_review(st, dc, hrid, "approved", NULL, &w, &err),
        NTM_EFORBIDDEN);
    assert_int_equal(th_count(st), before);

    /* Forced through: taken without effect. */
    struct th_chain c;
    th_chain_at(&c, st, rec1);
    struct ntm_ingest_result r;
    char forced[4][65];
    assert_int_equal(
        th_next(st, &c, 2000, "record.create",
                json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", "", "kind", "activity",
                          "unit", COMMUNE, "org", "hnd", "fields", f),
                &r, forced[0]),
        NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    assert_int_equal(th_next(st, &c, 2001, "record.update",
                             json_pack("{s:s,s:[s],s:O}", "id", hrid, "base",
                                       hcreate, "set", set),
                             &r, forced[1]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    assert_int_equal(
        th_next(st, &c, 2002, "record.delete",
                json_pack("{s:s,s:[s]}", "id", hrid, "base", hcreate), &r,
                forced[2]),
        NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    struct th_chain cdc;
    th_chain_at(&cdc, st, dc);
    assert_int_equal(th_next(st, &cdc, 2003, "review",
                             json_pack("{s:s,s:s,s:s}", "id", hrid, "rev",
                                       hcreate, "state", "rejected"),
                             &r, forced[3]),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EFORBIDDEN);
    assert_int_equal(records_of_org(st, "hnd"), 1);
    json_t *rec = th_record(st, hrid);
    assert_non_null(rec);
    assert_string_equal(th_field(rec, "title"), "hiến đất làm đường");
    assert_string_equal(json_string_value(json_object_get(rec, "review")),
                        "submitted");
    assert_false(json_is_true(json_object_get(rec, "deleted")));
    json_decref(rec);

    /* The Front and a device of no organization act across them. */
    assert_int_equal(
        ntm_record_create(st, m, "activity", COMMUNE, "hnd", f, rid, &w, &err),
        NTM_OK);
    assert_int_equal(
        ntm_record_create(st, n, "activity", COMMUNE, "hnd", f, rid, &w, &err),
        NTM_OK);
    assert_int_equal(ntm_record_update(st, m, hrid, set, &w, &err), NTM_OK);
    assert_int_equal(
        ntm_record_review(st, mc, hrid, "approved", NULL, &w, &err), NTM_OK);
    assert_int_equal(records_of_org(st, "hnd"), 3);
    /* and the doan devices keep their own organization */
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_record_review(st, dc, rid, "approved", NULL, &w, &err),
                     NTM_OK);

    /* An admin of one organization enrolls and revokes within it only. */
    assert_int_equal(ntm_device_enroll(st, da, xh, "recorder", COMMUNE, "x",
                                       NULL, 1, &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(ntm_device_enroll(st, da, xh, "recorder", COMMUNE, "x",
                                       "mttq", 1, &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(ntm_device_enroll(st, da, xh, "recorder", COMMUNE, "x",
                                       "hnd", 1, &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(ntm_device_revoke(st, da, hh, 0, "mất", &w, &err),
                     NTM_EFORBIDDEN);
    assert_int_equal(ntm_device_enroll(st, da, xh, "recorder", COMMUNE, "x",
                                       "doan", 1, &w, &err),
                     NTM_OK);

    /* Same verdicts in another arrival order: the doan device's entries
     * before the hnd record they touch, the hnd author last. */
    struct ntm_store *st2 = th_store(root, 0);
    copy_author(st, st2, root_hex);
    copy_author(st, st2, dah);
    copy_author(st, st2, rec1_hex);
    copy_author(st, st2, dch);
    copy_author(st, st2, mh);
    copy_author(st, st2, nh);
    copy_author(st, st2, mch);
    copy_author(st, st2, hh);
    for (int i = 0; i < 4; i++)
        assert_int_equal(th_effect(st2, forced[i]), NTM_EFORBIDDEN);
    char *d1 = th_dump(st), *d2 = th_dump(st2);
    assert_string_equal(d1, d2);
    assert_int_equal(ntm_store_rebuild(st2, &err), NTM_OK);
    char *d3 = th_dump(st2);
    assert_string_equal(d1, d3);
    for (int i = 0; i < 4; i++)
        assert_int_equal(th_effect(st2, forced[i]), NTM_EFORBIDDEN);
    json_t *rep = NULL;
    assert_int_equal(ntm_store_verify(st2, &rep, NULL), NTM_OK);
    assert_int_equal(json_array_size(json_object_get(rep, "derived")), 0);
    json_decref(rep);

    /* A later enrollment for hnd covering those seqs gives them effect. */
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "máy", "hnd", 1, &w, &err),
                     NTM_OK);
    assert_int_equal(th_effect(st, forced[0]), NTM_OK);
    assert_int_equal(th_effect(st, forced[1]), NTM_OK);
    ntm_free(d1);
    ntm_free(d2);
    ntm_free(d3);
    json_decref(set);
    json_decref(f);
    ntm_key_free(h);
    ntm_key_free(m);
    ntm_key_free(n);
    ntm_key_free(dc);
    ntm_key_free(mc);
    ntm_key_free(da);
    ntm_key_free(x);
    ntm_store_close(st2);
    ntm_store_close(st);
}

/* The bytes of author's entry at seq on st ("" when none; new). */
struct entry_at {
    char *bytes;
};

static int
entry_at_cb(void *ud, const struct ntm_entry_view *e)
{
    struct entry_at *a = ud;
    a->bytes = strndup(e->bytes, e->len);
    return 1;
}

static char *
entry_bytes_at(struct ntm_store *st, const char *author, int64_t seq)
{
    struct entry_at a = {NULL};
    struct ntm_entry_query q;
    struct ntm_error err;
    memset(&q, 0, sizeof q);
    q.author = author;
    q.after_seq = seq - 1;
    q.limit = 1;
    q.by_author_seq = 1;
    assert_int_equal(ntm_store_entries(st, &q, entry_at_cb, &a, &err), NTM_OK);
    return a.bytes ? a.bytes : strdup("");
}

/*
 * A home restored from an older backup wrote seq 2 (create x) and 3 (edit
 * x) where the true chain already holds another seq 2: the two are set
 * aside, the true seq 2 is taken in, and they are written again at seq 3
 * and 4 - the create under the id seq 3 gives, the edit following it -
 * each naming the entry it replaces. Nothing is lost or applied twice;
 * the derived state is what a rebuild gives; running it again does nothing.
 */
/* Join requests a server keeps: one per (code, device), at most so many
 * per code and in all, gone with their code's expiry. */
static void
test_join_requests_are_bounded(void **state)
{
    (void)state;
    struct ntm_key *rk = th_key();
    struct ntm_store *st = th_store(rk, 0);
    struct ntm_error err;
    json_t *list = NULL;
    char author[NTM_HEX_ID_LEN + 1];
    int added = 0;
    struct ntm_join_request q = {
        "00112233aabbccdd", author, "Ap 1", "c0ffee", "recorder",
        "72.710.25657",     NULL,   2000,   1000};
    for (int i = 0; i < 3; i++) {
        snprintf(author, sizeof author, "%064d", i);
        assert_int_equal(ntm_store_join_put(st, &q, 3, 4, &added, &err),
                         NTM_OK);
        assert_int_equal(added, 1);
    }
    /* The same device again: held once. */
    assert_int_equal(ntm_store_join_put(st, &q, 3, 4, &added, &err), NTM_OK);
    assert_int_equal(added, 0);
    /* A fourth device with that code: refused. */
    snprintf(author, sizeof author, "%064d", 3);
    assert_int_equal(ntm_store_join_put(st, &q, 3, 4, &added, &err),
                     NTM_ECONFLICT);
    /* Another code: the fourth fits, the fifth passes the total. */
    q.nonce = "ffffffffffffffff";
    assert_int_equal(ntm_store_join_put(st, &q, 3, 4, &added, &err), NTM_OK);
    snprintf(author, sizeof author, "%064d", 4);
    assert_int_equal(ntm_store_join_put(st, &q, 3, 4, &added, &err), NTM_EFULL);
    assert_int_equal(
        ntm_store_join_list(st, NULL, "00112233aabbccdd", 1500, &list, &err),
        NTM_OK);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
    assert_int_equal(ntm_store_join_list(st, "other", NULL, 1500, &list, &err),
                     NTM_OK);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    /* Past the codes' expiry they are gone: a new one fits again. */
    q.received_ms = 3000;
    q.expires = 9000;
    assert_int_equal(ntm_store_join_put(st, &q, 3, 4, &added, &err), NTM_OK);
    assert_int_equal(ntm_store_join_list(st, NULL, NULL, 3000, &list, &err),
                     NTM_OK);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    ntm_store_close(st);
    ntm_key_free(rk);
}

static void
test_forked_own_chain_set_aside_and_reissued(void **state)
{
    (void)state;
    struct ntm_key *rk = th_key();
    char me[NTM_HEX_ID_LEN + 1];
    th_author(rk, me);
    struct ntm_store *st = th_store(rk, 0);
    struct ntm_error err;
    struct ntm_write_result wr;
    char r1[NTM_RECORD_ID_LEN + 1], x[NTM_RECORD_ID_LEN + 1];
    char e2[NTM_HEX_ID_LEN + 1], e3[NTM_HEX_ID_LEN + 1];
    json_t *f =
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "task", "doan.rural_roads_km",
                  "date", "2017-03-05", "qty", "1", "uom", "km", "title", "r1");
    assert_int_equal(ntm_record_create(st, rk, "activity", "72.710.25657",
                                       "doan", f, r1, &wr, &err),
                     NTM_OK);
    json_object_set_new(f, "title", json_string("x"));
    assert_int_equal(ntm_record_create(st, rk, "activity", "72.710.25657",
                                       "doan", f, x, &wr, &err),
                     NTM_OK);
    memcpy(e2, wr.id, sizeof e2);
    json_t *set = json_pack("{s:s}", "title", "x sửa");
    assert_int_equal(ntm_record_update(st, rk, x, set, &wr, &err), NTM_OK);
    memcpy(e3, wr.id, sizeof e3);
    json_decref(set);

    int64_t n = 0, pending = 0, total = 0, head = 0;
    assert_int_equal(ntm_store_strand(st, me, 2, &n, &err), NTM_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ntm_store_stranded(st, me, &pending, &total, &err),
                     NTM_OK);
    assert_int_equal(pending, 2);
    assert_int_equal(total, 2);
    char prev[NTM_HEX_ID_LEN + 1];
    assert_int_equal(ntm_store_head(st, me, &head, prev), NTM_OK);
    assert_int_equal(head, 1);
    json_t *gone = th_record(st, x);
    assert_null(gone);

    /* The true chain's seq 2, as the server holds it. */
    json_t *f2 = json_pack("{s:s,s:s,s:s,s:s,s:s}", "task",
                           "doan.rural_roads_km", "date", "2017-04-01", "qty",
                           "2", "uom", "km", "title", "từ bản kia");
    char *b = th_entry(rk, 2, prev, 6000, "record.create",
                       json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", "", "kind",
                                 "activity", "unit", "72.710.25657", "org",
                                 "doan", "fields", f2));
    struct ntm_ingest_result ir;
    assert_int_equal(th_ingest(st, rk, b, NTM_SOURCE_PULL, &ir), NTM_OK);
    assert_int_equal(ir.duplicate, 0);
    free(b);

    struct ntm_reissue_result rr;
    assert_int_equal(ntm_store_reissue(st, rk, &rr, &err), NTM_OK);
    assert_int_equal(rr.reissued, 2);
    assert_int_equal(rr.failed, 0);
    assert_int_equal(ntm_store_head(st, me, &head, NULL), NTM_OK);
    assert_int_equal(head, 4);

    /* x's work lives on under the id seq 3 binds, with its edit. */
    char nx[NTM_RECORD_ID_LEN + 1];
    ntm_record_id(nx, me, 3);
    json_t *rec = th_record(st, nx);
    assert_non_null(rec);
    assert_string_equal(th_field(rec, "title"), "x sửa");
    json_decref(rec);
    /* The id of seq 2 is the true chain's record now. */
    rec = th_record(st, x);
    assert_non_null(rec);
    assert_string_equal(th_field(rec, "title"), "từ bản kia");
    json_decref(rec);
    rec = th_record(st, r1);
    assert_non_null(rec);
    json_decref(rec);
    /* Each re-issued entry names the one it replaces. */
    char want[NTM_HEX_ID_LEN + 20];
    char *b3 = entry_bytes_at(st, me, 3), *b4 = entry_bytes_at(st, me, 4);
    snprintf(want, sizeof want, "\"replaces\":\"%s\"", e2);
    assert_non_null(strstr(b3, want));
    snprintf(want, sizeof want, "\"replaces\":\"%s\"", e3);
    assert_non_null(strstr(b4, want));
    assert_non_null(strstr(b4, nx));
    free(b3);
    free(b4);

    assert_int_equal(ntm_store_stranded(st, me, &pending, &total, &err),
                     NTM_OK);
    assert_int_equal(pending, 0);
    assert_int_equal(total, 2);
    assert_int_equal(ntm_store_reissue(st, rk, &rr, &err), NTM_OK);
    assert_int_equal(rr.reissued, 0);

    char *before = th_dump(st);
    assert_int_equal(ntm_store_rebuild(st, &err), NTM_OK);
    char *after = th_dump(st);
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_decref(f);
    json_decref(f2);
    ntm_store_close(st);
    ntm_key_free(rk);
}

/*
 * A home re-keyed (its passphrase lost, or the home copied to a second
 * phone): the old author's entries the server acknowledged (seq 1) stay;
 * the others (a create and two edits, one of a record the server holds)
 * are set aside and written again under the new key, which is not
 * enrolled yet: the create under the id the new key's seq binds, the edit
 * following it, each naming the entry it replaces. Once an admin enrolls
 * the new key, every replica shows the work once, the edit of the old
 * author's record takes effect (edits follow scope, not the creator), and
 * the old entries never leave. Running it again does nothing.
 */
static void
test_rekey_reissues_under_the_new_author(void **state)
{
    (void)state;
    struct ntm_store *adm = enrolled_store();
    struct ntm_store *dev = th_store(root, 0);
    assert_true(th_exchange(adm, dev) > 0);
    struct ntm_error err;
    struct ntm_write_result wr;
    char r1[NTM_RECORD_ID_LEN + 1], x[NTM_RECORD_ID_LEN + 1];
    char e1[NTM_HEX_ID_LEN + 1], e2[NTM_HEX_ID_LEN + 1];
    char e3[NTM_HEX_ID_LEN + 1], e4[NTM_HEX_ID_LEN + 1];
    json_t *f = activity_fields("r1");
    assert_int_equal(ntm_record_create(dev, rec1, "activity", COMMUNE, "doan",
                                       f, r1, &wr, &err),
                     NTM_OK);
    memcpy(e1, wr.id, sizeof e1);
    json_decref(f);
    f = activity_fields("x");
    assert_int_equal(ntm_record_create(dev, rec1, "activity", COMMUNE, "doan",
                                       f, x, &wr, &err),
                     NTM_OK);
    memcpy(e2, wr.id, sizeof e2);
    json_decref(f);
    json_t *set = json_pack("{s:s}", "title", "x sửa");
    assert_int_equal(ntm_record_update(dev, rec1, x, set, &wr, &err), NTM_OK);
    memcpy(e3, wr.id, sizeof e3);
    json_decref(set);
    set = json_pack("{s:s}", "title", "r1 sửa");
    assert_int_equal(ntm_record_update(dev, rec1, r1, set, &wr, &err), NTM_OK);
    memcpy(e4, wr.id, sizeof e4);
    json_decref(set);
    /* The server acknowledged seq 1 only: the admin holds it. */
    assert_int_equal(ntm_store_peer_head_set(dev, rec1_hex, 1, e1, &err),
                     NTM_OK);
    char *b1 = entry_bytes_at(dev, rec1_hex, 1);
    assert_int_equal(th_ingest(adm, rec1, b1, NTM_SOURCE_PULL, NULL), NTM_OK);
    free(b1);

    struct ntm_key *nk = th_key();
    char nk_hex[NTM_HEX_ID_LEN + 1];
    th_author(nk, nk_hex);
    struct ntm_rekey_result rr;
    assert_int_equal(ntm_store_rekey(dev, nk, nk_hex, &rr, &err), NTM_EINVAL);
    assert_int_equal(ntm_store_rekey(dev, nk, rec1_hex, &rr, &err), NTM_OK);
    assert_int_equal(rr.kept, 1);
    assert_int_equal(rr.stranded, 3);
    assert_int_equal(rr.reissued, 3);
    assert_int_equal(rr.failed, 0);
    int64_t head = 0, pending = 0, total = 0;
    assert_int_equal(ntm_store_head(dev, rec1_hex, &head, NULL), NTM_OK);
    assert_int_equal(head, 1);
    assert_int_equal(ntm_store_head(dev, nk_hex, &head, NULL), NTM_OK);
    assert_int_equal(head, 3);
    assert_int_equal(ntm_store_stranded(dev, rec1_hex, &pending, &total, &err),
                     NTM_OK);
    assert_int_equal(pending, 0);
    assert_int_equal(total, 3);
    char *v = NULL;
    assert_int_equal(ntm_store_meta_get(dev, NTM_META_REKEY_FROM, &v, &err),
                     NTM_OK);
    assert_string_equal(v, rec1_hex);
    ntm_free(v);
    /* Each re-issued entry names the one it replaces; the create got the
     * id the new key's seq 1 binds, and the edit of x follows it. */
    char nx[NTM_RECORD_ID_LEN + 1], want[NTM_HEX_ID_LEN + 20];
    ntm_record_id(nx, nk_hex, 1);
    const char *olds[3] = {e2, e3, e4};
    for (int i = 0; i < 3; i++) {
        char *b = entry_bytes_at(dev, nk_hex, i + 1);
        snprintf(want, sizeof want, "\"replaces\":\"%s\"", olds[i]);
        assert_non_null(strstr(b, want));
        if (i == 1) {
            assert_non_null(strstr(b, nx));
            assert_null(strstr(b, x));
        }
        if (i == 2)
            assert_non_null(strstr(b, r1));
        free(b);
    }
    /* Offline, before the enrollment: the officer records on. */
    char y[NTM_RECORD_ID_LEN + 1];
    f = activity_fields("y sau khi đổi khóa");
    assert_int_equal(ntm_record_create(dev, nk, "activity", COMMUNE, "doan", f,
                                       y, &wr, &err),
                     NTM_OK);
    assert_int_equal(wr.unenrolled, 1);
    json_decref(f);

    /* The admin enrolls the new key; both meet. */
    assert_int_equal(ntm_device_enroll(adm, root, nk_hex, "recorder", COMMUNE,
                                       "Ấp Bến Đình", "doan", 1, &wr, &err),
                     NTM_OK);
    assert_true(th_exchange(dev, adm) > 0);
    assert_true(th_exchange(adm, dev) > 0);
    struct ntm_store *both[2] = {adm, dev};
    for (int i = 0; i < 2; i++) {
        json_t *rec = th_record(both[i], r1);
        assert_non_null(rec);
        assert_string_equal(th_field(rec, "title"), "r1 sửa");
        json_decref(rec);
        rec = th_record(both[i], nx);
        assert_non_null(rec);
        assert_string_equal(th_field(rec, "title"), "x sửa");
        json_decref(rec);
        rec = th_record(both[i], y);
        assert_non_null(rec);
        json_decref(rec);
        assert_null(th_record(both[i], x));
        json_t *list = NULL;
        struct ntm_record_filter flt = {0};
        assert_int_equal(ntm_store_records(both[i], &flt, &list, NULL), NTM_OK);
        assert_int_equal(json_array_size(list), 3);
        json_decref(list);
    }
    /* The admin never got the old author's set-aside entries. */
    assert_int_equal(ntm_store_head(adm, rec1_hex, &head, NULL), NTM_OK);
    assert_int_equal(head, 1);

    /* Again: nothing more to do. */
    assert_int_equal(ntm_store_rekey(dev, nk, rec1_hex, &rr, &err), NTM_OK);
    assert_int_equal(rr.stranded, 0);
    assert_int_equal(rr.reissued, 0);
    char *before = th_dump(dev);
    assert_int_equal(ntm_store_rebuild(dev, &err), NTM_OK);
    char *after = th_dump(dev);
    assert_string_equal(before, after);
    free(before);
    free(after);
    ntm_key_free(nk);
    ntm_store_close(dev);
    ntm_store_close(adm);
}

/* A device that never reached the server (nothing acknowledged): its whole
 * chain is set aside and written again under the new key; the old author
 * is left without a head, not with a broken one. */
static void
test_rekey_of_a_chain_never_pushed(void **state)
{
    (void)state;
    struct ntm_store *dev = enrolled_store();
    struct ntm_error err;
    struct ntm_write_result wr;
    char r1[NTM_RECORD_ID_LEN + 1];
    json_t *f = activity_fields("chưa gửi");
    assert_int_equal(ntm_record_create(dev, rec1, "activity", COMMUNE, "doan",
                                       f, r1, &wr, &err),
                     NTM_OK);
    json_decref(f);
    struct ntm_key *nk = th_key();
    char nk_hex[NTM_HEX_ID_LEN + 1];
    th_author(nk, nk_hex);
    struct ntm_rekey_result rr;
    assert_int_equal(ntm_store_rekey(dev, nk, rec1_hex, &rr, &err), NTM_OK);
    assert_int_equal(rr.kept, 0);
    assert_int_equal(rr.stranded, 1);
    assert_int_equal(rr.reissued, 1);
    int64_t head = -1;
    ntm_store_head(dev, rec1_hex, &head, NULL);
    assert_int_equal(head, 0);
    assert_int_equal(ntm_store_head(dev, nk_hex, &head, NULL), NTM_OK);
    assert_int_equal(head, 1);
    char *before = th_dump(dev);
    assert_int_equal(ntm_store_rebuild(dev, &err), NTM_OK);
    char *after = th_dump(dev);
    assert_string_equal(before, after);
    free(before);
    free(after);
    ntm_key_free(nk);
    ntm_store_close(dev);
}

static int
count_cb(void *ud, const struct ntm_entry_view *e)
{
    (void)e;
    ++*(int64_t *)ud;
    return 0;
}

/* The entries a device of scope may pull (NULL: no scope filter). */
static int64_t
count_scope(struct ntm_store *st, const char *scope)
{
    struct ntm_entry_query q;
    struct ntm_error err;
    int64_t n = 0;
    memset(&q, 0, sizeof q);
    q.scope = scope;
    assert_int_equal(ntm_store_entries(st, &q, count_cb, &n, &err), NTM_OK);
    return n;
}

/* The root's empty scope is the whole country: it pulls every entry,
 * those without effect included, as a device without a scope filter
 * does; a commune's scope pulls less. */
static void
test_empty_scope_pulls_everything(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_write_result w;
    struct ntm_error err;
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Xã Thạnh Đức", "doan", 1, &w, &err),
                     NTM_OK);
    json_t *f = json_pack("{s:s, s:s}", "task", "t", "date", "2019-05-17");
    char rid[NTM_RECORD_ID_LEN + 1];
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    assert_int_equal(ntm_record_create(st, root, "activity", "72.711", "doan",
                                       f, rid, &w, &err),
                     NTM_OK);
    json_decref(f);
    /* a junk enrollment, taken without effect */
    struct th_chain c;
    struct ntm_ingest_result r;
    th_chain_at(&c, st, root);
    assert_int_equal(th_next(st, &c, 5, "device.enroll",
                             json_pack("{s:s, s:s, s:s}", "key", "ab", "role",
                                       "admin", "scope", "72"),
                             &r, NULL),
                     NTM_OK);
    assert_int_equal(r.flag, NTM_EBADBODY);
    int64_t all = th_count(st);
    assert_int_equal(all, 4);
    assert_int_equal(count_scope(st, ""), all);
    assert_int_equal(count_scope(st, NULL), all);
    /* the commune: not the other district's record (the enrollments,
     * the junk one included, are served in their author's scope: the
     * root's is everywhere) */
    assert_int_equal(count_scope(st, COMMUNE), all - 1);
    ntm_store_close(st);
}

/*
 * What the server is known to hold decides what is pushed. After the
 * server announced a reset (restored from a backup), the device forgets
 * it (sync/client.c): every entry counts as unpushed again, so nothing
 * the device wrote is assumed held by a server that lost it.
 */
static void
test_peer_heads_forgotten_after_a_server_reset(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_write_result w;
    struct ntm_error err;
    int64_t seq = -1, unpushed = -1;
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Xã Thạnh Đức", "doan", 1, &w, &err),
                     NTM_OK);
    /* nothing known of the server yet */
    assert_int_equal(ntm_store_peer_head_get(st, root_hex, &seq, &err), NTM_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(ntm_store_unpushed(st, &unpushed, &err), NTM_OK);
    assert_int_equal(unpushed, 1);
    assert_int_equal(ntm_store_peer_head_set(st, root_hex, 1, w.id, &err),
                     NTM_OK);
    assert_int_equal(ntm_store_unpushed(st, &unpushed, &err), NTM_OK);
    assert_int_equal(unpushed, 0);
    assert_int_equal(ntm_store_peer_heads_clear(st, &err), NTM_OK);
    assert_int_equal(ntm_store_peer_head_get(st, root_hex, &seq, &err), NTM_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(ntm_store_unpushed(st, &unpushed, &err), NTM_OK);
    assert_int_equal(unpushed, 1);
    ntm_store_close(st);
}

/* The statement journal (store/subjrnl.c). Every entry runs in a
 * savepoint; once a savepoint of a transaction had copied more than
 * SQLite's 120 KiB piece, every later one wrote its pages to a temporary
 * file, about thirty system calls per entry. The store's VFS keeps that
 * journal in memory up to 16 MiB and only then opens a file. A VFS made
 * the default below counts the journals opened as files; rollbacks must
 * give back the pages either way. */
static int subj_files;
static sqlite3_vfs count_vfs;

static int
count_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
           int *out)
{
    sqlite3_vfs *real = vfs->pAppData;
    if (flags & SQLITE_OPEN_SUBJOURNAL)
        subj_files++;
    return real->xOpen(real, name, f, flags, out);
}

static void
sql_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_free(msg);
}

static int64_t
sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void
test_statement_journal_in_memory(void **state)
{
    (void)state;
    th_tmpdir();
    char path[400];
    snprintf(path, sizeof(path), "%s/subj%d.db", th_dir, th_serial++);
    assert_int_equal(Ntm_store_init(), NTM_OK);
    const char *name = Ntm_subjournal_vfs();
    assert_non_null(name);
    sqlite3_vfs *unix_vfs = sqlite3_vfs_find(NULL);
    count_vfs = *unix_vfs;
    count_vfs.zName = "ntm-test-count";
    count_vfs.pAppData = unix_vfs;
    count_vfs.xOpen = count_open;
    assert_int_equal(sqlite3_vfs_register(&count_vfs, 1), SQLITE_OK);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db,
                                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     name),
                     SQLITE_OK);
    /* 6000 pages of 4 KiB (one row each): 24 MB */
    sql_ok(db, "PRAGMA journal_mode=WAL; PRAGMA cache_size=-64000;"
               "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB);"
               "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
               "FROM c WHERE i < 6000) INSERT INTO t SELECT i, "
               "randomblob(3000) FROM c;");
    int64_t sum = sql_int(db, "SELECT sum(unicode(hex(v))) FROM t");
    subj_files = 0;
    /* 200 pages, 800 KB: past SQLite's piece, in the VFS's memory */
    sql_ok(db, "BEGIN; SAVEPOINT a; UPDATE t SET v = zeroblob(3000) "
               "WHERE k <= 200; ROLLBACK TO a; RELEASE a;"
               "SAVEPOINT b; UPDATE t SET v = zeroblob(3000) WHERE k > 5990;"
               "ROLLBACK TO b; RELEASE b;");
    assert_int_equal(subj_files, 0);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM t WHERE v = "
                                 "zeroblob(3000)"),
                     0);
    /* every page, 24 MB: past 16 MiB the journal is a file */
    sql_ok(db, "SAVEPOINT c; UPDATE t SET v = zeroblob(3000);"
               "ROLLBACK TO c; RELEASE c; COMMIT;");
    assert_int_equal(subj_files, 1);
    assert_int_equal(sql_int(db, "SELECT count(*) FROM t WHERE v = "
                                 "zeroblob(3000)"),
                     0);
    assert_int_equal(sql_int(db, "SELECT sum(unicode(hex(v))) FROM t"), sum);
    /* a released savepoint keeps its writes */
    sql_ok(db, "BEGIN; SAVEPOINT d; UPDATE t SET v = zeroblob(3000) WHERE "
               "k <= 300; RELEASE d; COMMIT;");
    assert_int_equal(sql_int(db, "SELECT count(*) FROM t WHERE v = "
                                 "zeroblob(3000)"),
                     300);
    sqlite3_stmt *s = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    assert_int_equal(sqlite3_vfs_unregister(&count_vfs), SQLITE_OK);
    assert_int_equal(sqlite3_vfs_register(unix_vfs, 1), SQLITE_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_rejects_malformed),
        cmocka_unit_test(test_entry_refuses_white_space),
        cmocka_unit_test(test_signature_rejects),
        cmocka_unit_test(test_chain_append_duplicate_gap_fork),
        cmocka_unit_test(test_chain_checks_within_one_batch),
        cmocka_unit_test(test_quick_entry_reader_matches_jansson),
        cmocka_unit_test(test_record_id_is_bound_to_author_and_seq),
        cmocka_unit_test(test_author_unknown_and_revoked),
        cmocka_unit_test(test_effect_flags_forbidden_and_bad_body),
        cmocka_unit_test(test_writer_checks_before_signing),
        cmocka_unit_test(test_unenrolled_device_records_offline),
        cmocka_unit_test(test_text_nfc_and_search),
        cmocka_unit_test(test_verify_finds_tampered_bytes),
        cmocka_unit_test(test_restored_backup_refuses_used_seq),
        cmocka_unit_test(test_rebuild_equals_incremental),
        cmocka_unit_test(test_linear_record_keeps_no_candidate_rows),
        cmocka_unit_test(test_store_errors_are_clear),
        cmocka_unit_test(test_schema_v1_is_migrated),
        cmocka_unit_test(test_entry_limits_are_inclusive),
        cmocka_unit_test(test_chain_prev_checks),
        cmocka_unit_test(test_empty_scope_pulls_everything),
        cmocka_unit_test(test_peer_heads_forgotten_after_a_server_reset),
        cmocka_unit_test(test_clock_ahead_threshold),
        cmocka_unit_test(test_scope_is_a_code_prefix),
        cmocka_unit_test(test_writer_refuses_what_rules_forbid),
        cmocka_unit_test(test_enrollment_and_revocation_boundaries),
        cmocka_unit_test(test_device_entries_need_an_admin_in_scope),
        cmocka_unit_test(test_authority_over_what_is_taken),
        cmocka_unit_test(test_scoped_pull_waits_for_the_record),
        cmocka_unit_test(test_edit_over_a_damaged_row_recomputes),
        cmocka_unit_test(test_org_scope),
        cmocka_unit_test(test_forked_own_chain_set_aside_and_reissued),
        cmocka_unit_test(test_join_requests_are_bounded),
        cmocka_unit_test(test_rekey_reissues_under_the_new_author),
        cmocka_unit_test(test_rekey_of_a_chain_never_pushed),
        cmocka_unit_test(test_statement_journal_in_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
