/* SPDX-License-Identifier: MIT */
/*
 * test_sync.c - the sync module: request authentication (SPEC.md section
 * 6), NDJSON lines, gzip with its caps, address rules, and the HTTP status
 * mapping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ntm.h"
#include "ntm_server.h"
#include "sync_int.h"

static struct ntm_key *
new_key(void)
{
    struct ntm_key *k = NULL;
    assert_int_equal(ntm_key_generate(&k, NULL), NTM_OK);
    return k;
}

/* ------------------------------------------------------------------ */
/* request authentication */

static void
test_auth_roundtrip(void **state)
{
    (void)state;
    struct ntm_key *k = new_key();
    struct ntm_buf h = NTM_BUF_INIT;
    const char *body = "{\"entry\":\"x\",\"sig\":\"y\"}\n";
    int64_t now = 1700000000000;
    assert_int_equal(ntm_sync_auth_header(&h, k, "POST", "/v1/entries", now,
                                          body, strlen(body)),
                     NTM_OK);
    assert_true(strncmp(h.buf, "NTM-Ed25519 key=", 16) == 0);
    char author[NTM_HEX_ID_LEN + 1], mine[NTM_HEX_ID_LEN + 1];
    int64_t ts = 0;
    struct ntm_error err;
    assert_int_equal(ntm_sync_auth_verify(h.buf, "POST", "/v1/entries", body,
                                          strlen(body), now + 1000, author, &ts,
                                          &err),
                     NTM_OK);
    ntm_key_author(k, mine);
    assert_string_equal(author, mine);
    assert_int_equal(ts, now);
    ntm_buf_release(&h);
    ntm_key_free(k);
}

/* The signed bytes are exactly SPEC's: check against a signature made
 * by hand over "ntm-req-v1\nGET\n/v1/heads?author=..\n<ts>\n<hash>". */
static void
test_auth_signed_bytes(void **state)
{
    (void)state;
    struct ntm_key *k = new_key();
    char author[NTM_HEX_ID_LEN + 1], hash[NTM_HEX_ID_LEN + 1];
    ntm_key_author(k, author);
    ntm_hash_hex(hash, "", 0);
    char msg[512];
    snprintf(msg, sizeof msg, "ntm-req-v1\nGET\n/v1/heads?author=%s\n%lld\n%s",
             author, 1234567LL, hash);
    unsigned char sig[NTM_SIGNATURE_BYTES];
    assert_int_equal(ntm_key_sign(k, sig, msg, strlen(msg)), NTM_OK);
    char b64[NTM_SIG_B64_LEN + 1];
    ntm_b64_encode(b64, sig, sizeof sig);
    char hdr[512];
    snprintf(hdr, sizeof hdr, "NTM-Ed25519 key=%s,ts=1234567,sig=%s", author,
             b64);
    char path[200];
    snprintf(path, sizeof path, "/v1/heads?author=%s", author);
    assert_int_equal(ntm_sync_auth_verify(hdr, "GET", path, NULL, 0, 1234567,
                                          NULL, NULL, NULL),
                     NTM_OK);
    /* Parameter order does not matter. */
    snprintf(hdr, sizeof hdr, "NTM-Ed25519 sig=%s,ts=1234567,key=%s", b64,
             author);
    assert_int_equal(ntm_sync_auth_verify(hdr, "GET", path, NULL, 0, 1234567,
                                          NULL, NULL, NULL),
                     NTM_OK);
    ntm_key_free(k);
}

static void
test_auth_refusals(void **state)
{
    (void)state;
    struct ntm_key *k = new_key(), *other = new_key();
    struct ntm_buf h = NTM_BUF_INIT;
    struct ntm_error err;
    const char *body = "abc";
    int64_t now = 1700000000000;
    assert_int_equal(
        ntm_sync_auth_header(&h, k, "POST", "/v1/entries", now, body, 3),
        NTM_OK);
    /* another body, method, path: bad signature */
    assert_int_equal(ntm_sync_auth_verify(h.buf, "POST", "/v1/entries", "abd",
                                          3, now, NULL, NULL, &err),
                     NTM_EAUTH);
    assert_int_equal(ntm_sync_auth_verify(h.buf, "GET", "/v1/entries", body, 3,
                                          now, NULL, NULL, &err),
                     NTM_EAUTH);
    assert_int_equal(ntm_sync_auth_verify(h.buf, "POST", "/v1/entries?x=1",
                                          body, 3, now, NULL, NULL, &err),
                     NTM_EAUTH);
    /* clock skew: 15 minutes is fine, a bit more is not */
    assert_int_equal(ntm_sync_auth_verify(h.buf, "POST", "/v1/entries", body, 3,
                                          now + NTM_SYNC_CLOCK_SKEW_MS, NULL,
                                          NULL, &err),
                     NTM_OK);
    assert_int_equal(ntm_sync_auth_verify(h.buf, "POST", "/v1/entries", body, 3,
                                          now + NTM_SYNC_CLOCK_SKEW_MS + 1,
                                          NULL, NULL, &err),
                     NTM_ECLOCKSKEW);
    assert_int_equal(ntm_sync_auth_verify(h.buf, "POST", "/v1/entries", body, 3,
                                          now - NTM_SYNC_CLOCK_SKEW_MS - 1,
                                          NULL, NULL, &err),
                     NTM_ECLOCKSKEW);
    /* the key swapped for another one: signature no longer verifies */
    char a2[NTM_HEX_ID_LEN + 1];
    ntm_key_author(other, a2);
    char *swapped = ntm_strdup(h.buf);
    memcpy(strstr(swapped, "key=") + 4, a2, NTM_HEX_ID_LEN);
    assert_int_equal(ntm_sync_auth_verify(swapped, "POST", "/v1/entries", body,
                                          3, now, NULL, NULL, &err),
                     NTM_EAUTH);
    ntm_free(swapped);
    /* malformed headers */
    const char *bad[] = {
        NULL,
        "",
        "Bearer abc",
        "NTM-Ed25519 ",
        "NTM-Ed25519 key=00,ts=1,sig=AA==",
        "NTM-Ed25519 key=zz,ts=x,sig=!",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ntm_sync_auth_verify(bad[i], "GET", "/v1/heads", NULL,
                                              0, now, NULL, NULL, &err),
                         NTM_EAUTH);
    /* a repeated parameter */
    struct ntm_buf dup = NTM_BUF_INIT;
    ntm_buf_addf(&dup, "%s,ts=%lld", h.buf, (long long)now);
    assert_int_equal(ntm_sync_auth_verify(dup.buf, "POST", "/v1/entries", body,
                                          3, now, NULL, NULL, &err),
                     NTM_EAUTH);
    ntm_buf_release(&dup);
    ntm_buf_release(&h);
    ntm_key_free(k);
    ntm_key_free(other);
}

/* ------------------------------------------------------------------ */
/* lines */

static void
test_lines_roundtrip(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    /* entry bytes with quotes, a backslash, non-ASCII and a newline must
     * come back byte for byte */
    const char entry[] = "{\"a\":\"T\xc3\xa2y Ninh \\\"q\\\"\\n\"}";
    assert_int_equal(Ntm_line_add(&b, -1, entry, strlen(entry), "c2ln"),
                     NTM_OK);
    assert_int_equal(Ntm_line_add(&b, 42, entry, strlen(entry), "c2ln"),
                     NTM_OK);
    assert_int_equal(b.buf[b.len - 1], '\n');
    char *nl = memchr(b.buf, '\n', b.len);
    assert_non_null(nl);
    char *e = NULL, *s = NULL;
    size_t el;
    int64_t g;
    assert_int_equal(
        Ntm_line_parse(b.buf, (size_t)(nl - b.buf), &e, &el, &s, &g, NULL),
        NTM_OK);
    assert_int_equal(el, strlen(entry));
    assert_memory_equal(e, entry, el);
    assert_string_equal(s, "c2ln");
    assert_int_equal(g, -1);
    ntm_free(e);
    ntm_free(s);
    assert_int_equal(Ntm_line_parse(nl + 1, b.len - (size_t)(nl - b.buf) - 2,
                                    &e, &el, &s, &g, NULL),
                     NTM_OK);
    assert_int_equal(g, 42);
    ntm_free(e);
    ntm_free(s);
    ntm_buf_release(&b);
}

static void
test_lines_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "not json",
        "[1,2]",
        "{\"entry\":1,\"sig\":\"x\"}",
        "{\"entry\":\"x\"}",
        "{\"entry\":\"x\",\"sig\":\"y\",\"sig\":\"z\"}", /* duplicate key */
        "{\"entry\":\"x\",\"sig\":\"y\",\"gseq\":-1}",
        "{\"entry\":\"x\",\"sig\":\"y\",\"gseq\":1.5}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *e = NULL, *s = NULL;
        size_t el;
        int64_t g;
        struct ntm_error err;
        assert_int_equal(
            Ntm_line_parse(bad[i], strlen(bad[i]), &e, &el, &s, &g, &err),
            NTM_EBADENTRY);
        assert_null(e);
        assert_null(s);
    }
}

struct seen {
    int n[8];
    int count;
};

static int
collect(void *ud, int n, const char *line, size_t len)
{
    struct seen *s = ud;
    (void)line;
    (void)len;
    s->n[s->count++] = n;
    return 0;
}

static void
test_lines_numbering(void **state)
{
    (void)state;
    const char *buf = "a\r\n\nb\nc";
    struct seen s = {{0}, 0};
    Ntm_lines_foreach(buf, strlen(buf), collect, &s);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.n[0], 1);
    assert_int_equal(s.n[1], 3);
    assert_int_equal(s.n[2], 4);
}

static void
test_entry_author(void **state)
{
    (void)state;
    char a[NTM_HEX_ID_LEN + 1];
    char e[200];
    snprintf(e, sizeof e, "{\"author\":\"%064d\",\"seq\":1}", 7);
    Ntm_entry_author(e, strlen(e), a);
    assert_int_equal(strlen(a), 64);
    Ntm_entry_author("{}", 2, a);
    assert_string_equal(a, "");
    Ntm_entry_author("garbage", 7, a);
    assert_string_equal(a, "");
}

/* ------------------------------------------------------------------ */
/* gzip */

static void
test_gzip_roundtrip_and_caps(void **state)
{
    (void)state;
    struct ntm_buf in = NTM_BUF_INIT, z = NTM_BUF_INIT, out = NTM_BUF_INIT;
    for (int i = 0; i < 20000; i++)
        ntm_buf_addf(&in, "{\"entry\":\"line %d\",\"sig\":\"AA==\"}\n", i);
    assert_int_equal(Ntm_gzip(in.buf, in.len, &z), NTM_OK);
    assert_true(z.len < in.len / 5);
    assert_int_equal(Ntm_gunzip(z.buf, z.len, in.len, &out, NULL), NTM_OK);
    assert_int_equal(out.len, in.len);
    assert_memory_equal(out.buf, in.buf, in.len);
    /* a cap one byte short refuses: no zip bombs */
    ntm_buf_reset(&out);
    struct ntm_error err;
    assert_int_equal(Ntm_gunzip(z.buf, z.len, in.len - 1, &out, &err),
                     NTM_ETOOLARGE);
    /* a bomb: 64 MiB of zeros compressed, cap 1 MiB */
    size_t big = 64u << 20;
    char *zeros = calloc(1, big);
    assert_non_null(zeros);
    struct ntm_buf bomb = NTM_BUF_INIT;
    assert_int_equal(Ntm_gzip(zeros, big, &bomb), NTM_OK);
    free(zeros);
    ntm_buf_reset(&out);
    assert_int_equal(Ntm_gunzip(bomb.buf, bomb.len, 1u << 20, &out, &err),
                     NTM_ETOOLARGE);
    assert_true(out.len < (2u << 20));
    /* truncated and garbage streams */
    ntm_buf_reset(&out);
    assert_int_equal(Ntm_gunzip(z.buf, z.len / 2, in.len, &out, &err),
                     NTM_EPROTO);
    ntm_buf_reset(&out);
    assert_int_equal(Ntm_gunzip("hello world", 11, 100, &out, &err),
                     NTM_EPROTO);
    ntm_buf_release(&bomb);
    ntm_buf_release(&in);
    ntm_buf_release(&z);
    ntm_buf_release(&out);
}

static void
test_accepts_gzip(void **state)
{
    (void)state;
    assert_true(Ntm_accepts_gzip("gzip"));
    assert_true(Ntm_accepts_gzip("deflate, gzip;q=0.5"));
    assert_true(Ntm_accepts_gzip("GZIP"));
    assert_false(Ntm_accepts_gzip(NULL));
    assert_false(Ntm_accepts_gzip("identity"));
    assert_false(Ntm_accepts_gzip("gzip;q=0"));
    assert_false(Ntm_accepts_gzip("gzip;q=0.000"));
}

/* ------------------------------------------------------------------ */
/* addresses, errors */

static void
test_listen_and_urls(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    int lo = -1;
    assert_int_equal(Ntm_listen_parse("127.0.0.1:8443", &ss, &len, &lo, NULL),
                     NTM_OK);
    assert_int_equal(lo, 1);
    assert_int_equal(Ntm_listen_parse("0.0.0.0:443", &ss, &len, &lo, NULL),
                     NTM_OK);
    assert_int_equal(lo, 0);
    assert_int_equal(Ntm_listen_parse("[::1]:0", &ss, &len, &lo, NULL), NTM_OK);
    assert_int_equal(lo, 1);
    assert_int_equal(Ntm_listen_parse("10.1.2.3:80", &ss, &len, &lo, NULL),
                     NTM_OK);
    assert_int_equal(lo, 0);
    const char *bad[] = {
        "",         "8443", "127.0.0.1:", "127.0.0.1:70000", "host.example:1",
        "[::1]8443"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(Ntm_listen_parse(bad[i], &ss, &len, &lo, NULL),
                         NTM_EINVAL);
    assert_true(Ntm_url_is_loopback("http://127.0.0.1:8080"));
    assert_true(Ntm_url_is_loopback("https://localhost/"));
    assert_true(Ntm_url_is_loopback("http://[::1]:80"));
    assert_false(Ntm_url_is_loopback("http://localhost.evil.example"));
    assert_false(Ntm_url_is_loopback("https://10.0.0.1"));
    assert_false(Ntm_url_is_loopback("http://128.0.0.1"));
}

static void
test_error_body_and_status(void **state)
{
    (void)state;
    struct ntm_buf b = NTM_BUF_INIT;
    assert_int_equal(Ntm_error_body(&b, "clock_skew", "off by \"1h\"", 99),
                     NTM_OK);
    json_t *v = json_loads(b.buf, 0, NULL);
    assert_non_null(v);
    json_t *e = json_object_get(v, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")),
                        "clock_skew");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "off by \"1h\"");
    assert_int_equal(json_integer_value(json_object_get(e, "server_time_ms")),
                     99);
    json_decref(v);
    ntm_buf_release(&b);

    struct {
        enum ntm_err code;
        int status;
        const char *wire;
    } cases[] = {
        {NTM_EINVAL, 400, "bad_request"},
        {NTM_EAUTH, 401, "bad_auth"},
        {NTM_ECLOCKSKEW, 401, "clock_skew"},
        {NTM_EUNKNOWNAUTHOR, 403, "unknown_author"},
        {NTM_EREVOKED, 403, "revoked"},
        {NTM_ETOOLARGE, 413, "too_large"},
        {NTM_EUNAVAIL, 503, "unavailable"},
        /* the server's disk full or failing: nothing taken, retry later */
        {NTM_EFULL, 503, "unavailable"},
        {NTM_EIO, 503, "unavailable"},
        {NTM_EDB, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ntm_error err;
        ntm_error_clear(&err);
        err.code = cases[i].code;
        const char *w = NULL;
        assert_int_equal(Ntm_http_status(&err, &w), cases[i].status);
        assert_string_equal(w, cases[i].wire);
    }
    struct ntm_error e405;
    ntm_error_clear(&e405);
    e405.code = NTM_EUSAGE;
    e405.http_status = 405;
    const char *w = NULL;
    assert_int_equal(Ntm_http_status(&e405, &w), 405);
}

static void
test_routes_and_query(void **state)
{
    (void)state;
    int known;
    const struct Ntm_route *r = Ntm_route_find("POST", "/v1/entries", &known);
    assert_non_null(r);
    assert_int_equal(r->ep, NTM_EP_PUSH);
    assert_true(r->auth);
    r = Ntm_route_find("GET", "/v1/info", &known);
    assert_non_null(r);
    assert_false(r->auth);
    assert_null(Ntm_route_find("DELETE", "/v1/entries", &known));
    assert_int_equal(known, 1);
    assert_null(Ntm_route_find("GET", "/v2/nothing", &known));
    assert_int_equal(known, 0);
    char v[16];
    assert_int_equal(Ntm_query_get("after=5&limit=10", "limit", v, sizeof v),
                     1);
    assert_string_equal(v, "10");
    assert_int_equal(Ntm_query_get("after=5&xlimit=10", "limit", v, sizeof v),
                     0);
    assert_int_equal(
        Ntm_query_get("limit=12345678901234567890", "limit", v, sizeof v), -1);
}

/* ------------------------------------------------------------------ */
/* in-process server: plain HTTP on loopback (allowed there only) */

static void
quiet_log(void *ud, const char *line)
{
    (void)ud;
    (void)line;
}

/* An in-process server on a loopback port, over plain HTTP: its store
 * at sdb, its root root_hex; url receives its address, co the client
 * options for it (one attempt). */
static struct ntm_server *
loopback_server(const char *sdb, const char *root_hex, char url[64],
                struct ntm_client_opts *co)
{
    struct ntm_server_opts so;
    struct ntm_server *srv = NULL;
    struct ntm_error err;
    memset(&so, 0, sizeof so);
    so.db_path = sdb;
    so.listen = "127.0.0.1:0";
    so.root_key = root_hex;
    so.log = quiet_log;
    assert_int_equal(ntm_server_start(&srv, &so, &err), NTM_OK);
    assert_true(ntm_server_port(srv) > 0);
    snprintf(url, 64, "http://127.0.0.1:%u", ntm_server_port(srv));
    memset(co, 0, sizeof *co);
    co->url = url;
    co->max_attempts = 1;
    return srv;
}

static void
test_server_inprocess(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntm-test-sync.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sdb[256], rdb[256], r2db[256];
    snprintf(sdb, sizeof sdb, "%s/server.db", dir);
    snprintf(rdb, sizeof rdb, "%s/root.db", dir);
    snprintf(r2db, sizeof r2db, "%s/root2.db", dir);
    struct ntm_key *root = new_key();
    char root_hex[NTM_HEX_ID_LEN + 1];
    ntm_key_author(root, root_hex);
    struct ntm_error err;
    ntm_error_clear(&err);

    /* plain HTTP is refused off loopback */
    struct ntm_server_opts so;
    memset(&so, 0, sizeof so);
    so.db_path = sdb;
    so.listen = "0.0.0.0:0";
    so.root_key = root_hex;
    so.log = quiet_log;
    struct ntm_server *srv = NULL;
    assert_int_equal(ntm_server_start(&srv, &so, &err), NTM_EINVAL);
    char url[64];
    struct ntm_client_opts co;
    srv = loopback_server(sdb, root_hex, url, &co);
    json_t *info = NULL;
    assert_int_equal(ntm_client_info(&co, &info, &err), NTM_OK);
    assert_string_equal(json_string_value(json_object_get(info, "root_key")),
                        root_hex);
    assert_int_equal(
        json_integer_value(json_object_get(info, "max_entry_bytes")), 65536);
    json_decref(info);

    /* the root's replica writes, pushes; a second replica pulls */
    struct ntm_store *st = NULL, *st2 = NULL;
    assert_int_equal(ntm_store_open(&st, rdb, NTM_STORE_CREATE, &err), NTM_OK);
    char fp[40], got_root[NTM_HEX_ID_LEN + 1];
    assert_int_equal(ntm_client_setup(st, &co, got_root, fp, &err), NTM_OK);
    assert_string_equal(got_root, root_hex);
    struct ntm_write_result wr;
    assert_int_equal(ntm_unit_create(st, root, "72.710.25657.9",
                                     "\xe1\xba\xa4p M\xe1\xbb\x9bi", "hamlet",
                                     &wr, &err),
                     NTM_OK);
    struct ntm_push_result pr;
    assert_int_equal(ntm_client_push(st, root, NULL, &pr, &err), NTM_OK);
    assert_int_equal(pr.sent, 1);
    assert_int_equal(pr.accepted, 1);
    assert_int_equal(json_array_size(pr.rejected), 0);
    ntm_push_result_release(&pr);
    /* again: nothing to send */
    assert_int_equal(ntm_client_push(st, root, NULL, &pr, &err), NTM_OK);
    assert_int_equal(pr.sent, 0);
    ntm_push_result_release(&pr);
    int64_t unpushed = -1;
    assert_int_equal(ntm_store_unpushed(st, &unpushed, &err), NTM_OK);
    assert_int_equal(unpushed, 0);

    assert_int_equal(ntm_store_open(&st2, r2db, NTM_STORE_CREATE, &err),
                     NTM_OK);
    assert_int_equal(ntm_client_setup(st2, &co, got_root, fp, &err), NTM_OK);
    struct ntm_pull_result lr;
    /* st2 is a second replica of the same key, like a device restored
     * from an empty backup: its own chain comes back first */
    assert_int_equal(ntm_client_pull(st2, root, NULL, &lr, &err), NTM_OK);
    assert_int_equal(lr.own_restored, 1);
    assert_int_equal(lr.applied, 0);
    assert_int_equal(lr.received, 1);
    int64_t seq = 0;
    assert_int_equal(ntm_store_head(st2, root_hex, &seq, NULL), NTM_OK);
    assert_int_equal(seq, 1);
    /* a second pull starts from the cursor */
    assert_int_equal(ntm_client_pull(st2, root, NULL, &lr, &err), NTM_OK);
    assert_int_equal(lr.received, 0);

    /* where each replica stands, read without network */
    struct ntm_sync_status ss;
    assert_int_equal(ntm_sync_status(st, &ss, &err), NTM_OK);
    assert_string_equal(ss.server, url);
    assert_null(ss.cacert);
    assert_int_equal(ss.unpushed, 0);
    assert_true(ss.last_push_ms > 0);
    assert_int_equal(ss.last_pull_ms, 0);
    ntm_sync_status_release(&ss);
    assert_null(ss.server);
    assert_int_equal(ntm_sync_status(st2, &ss, &err), NTM_OK);
    assert_int_equal(ss.cursor, 1);
    assert_int_equal(ss.server_gseq, 1);
    assert_true(ss.last_pull_ms > 0);
    ntm_sync_status_release(&ss);
    /* pointed elsewhere without asking: settings change, the cursor stays;
     * a NULL cacert or pin removes the old one */
    assert_int_equal(ntm_sync_configure(st2, "https://127.0.0.1:1", "/ca.pem",
                                        "sha256//AAAA", &err),
                     NTM_OK);
    assert_int_equal(ntm_sync_configure(st2, "https://127.0.0.1:2", NULL,
                                        "sha256//BBBB", &err),
                     NTM_OK);
    assert_int_equal(ntm_sync_status(st2, &ss, &err), NTM_OK);
    assert_string_equal(ss.server, "https://127.0.0.1:2");
    assert_null(ss.cacert);
    assert_string_equal(ss.pin, "sha256//BBBB");
    assert_int_equal(ss.cursor, 1);
    ntm_sync_status_release(&ss);
    assert_int_equal(ntm_sync_configure(st2, NULL, NULL, NULL, &err),
                     NTM_EINVAL);
    assert_int_equal(ntm_sync_configure(st2, url, NULL, NULL, &err), NTM_OK);

    /* an unknown key is refused with 403 unknown_author */
    struct ntm_key *stranger = new_key();
    assert_int_equal(ntm_client_pull(st2, stranger, NULL, &lr, &err),
                     NTM_EUNKNOWNAUTHOR);
    assert_int_equal(err.http_status, 403);
    ntm_key_free(stranger);

    ntm_store_close(st);
    ntm_store_close(st2);
    ntm_server_stop(srv);
    /* a stopped server: the client gives up with NTM_ENET */
    assert_int_equal(ntm_client_info(&co, &info, &err), NTM_ENET);
    ntm_key_free(root);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A record of the root's (its title n characters) for the pull test. */
static void
pull_record(struct ntm_store *st, const struct ntm_key *root, size_t n)
{
    char id[NTM_RECORD_ID_LEN + 1];
    struct ntm_write_result wr;
    struct ntm_error err;
    char *title = malloc(n + 1);
    assert_non_null(title);
    /* not repeated text: the cap holds for the answer as decoded */
    for (size_t i = 0; i < n; i++)
        title[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i * 7 + i / 3) % 36];
    title[n] = '\0';
    json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                          "doan.rural_roads_km", "date", "2019-05-17", "qty",
                          "1.5", "uom", "km", "title", title);
    assert_int_equal(ntm_record_create(st, root, "activity", "72.710.25657",
                                       "doan", f, id, &wr, &err),
                     NTM_OK);
    json_decref(f);
    free(title);
}

/* A pull fetches and checks page n+1 on a thread while the store takes
 * page n. A page that cannot be fetched (here: past the response cap)
 * stops the pull only after the pages before it are applied, each with
 * its cursor; the next pull goes on from there, and nothing is applied
 * twice. */
static void
test_pull_pages_ahead(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntm-test-sync.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sdb[256], rdb[256], cdb[256];
    snprintf(sdb, sizeof sdb, "%s/server.db", dir);
    snprintf(rdb, sizeof rdb, "%s/root.db", dir);
    snprintf(cdb, sizeof cdb, "%s/coord.db", dir);
    struct ntm_key *root = new_key(), *coord = new_key();
    char root_hex[NTM_HEX_ID_LEN + 1], coord_hex[NTM_HEX_ID_LEN + 1];
    ntm_key_author(root, root_hex);
    ntm_key_author(coord, coord_hex);
    struct ntm_error err;
    ntm_error_clear(&err);
    char url[64];
    struct ntm_client_opts co;
    struct ntm_server *srv = loopback_server(sdb, root_hex, url, &co);

    /* gseq 1 the enrollment, 2-10 small records, 11 a big one, 12-13
     * small: pages of 4 are 1-4, 5-8, 9-12 (too big), 13 */
    struct ntm_store *st = NULL, *cst = NULL;
    char fp[40], got_root[NTM_HEX_ID_LEN + 1];
    struct ntm_write_result wr;
    assert_int_equal(ntm_store_open(&st, rdb, NTM_STORE_CREATE, &err), NTM_OK);
    assert_int_equal(ntm_client_setup(st, &co, got_root, fp, &err), NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, coord_hex, "coordinator", "72",
                                       "tinh", NULL, 1, &wr, &err),
                     NTM_OK);
    for (int i = 0; i < 9; i++)
        pull_record(st, root, 20);
    pull_record(st, root, 8000);
    pull_record(st, root, 20);
    pull_record(st, root, 20);
    struct ntm_push_result pr;
    assert_int_equal(ntm_client_push(st, root, NULL, &pr, &err), NTM_OK);
    assert_int_equal(pr.accepted, 13);
    ntm_push_result_release(&pr);

    assert_int_equal(ntm_store_open(&cst, cdb, NTM_STORE_CREATE, &err), NTM_OK);
    assert_int_equal(ntm_client_setup(cst, &co, got_root, fp, &err), NTM_OK);
    struct ntm_pull_result lr;
    struct ntm_sync_status ss;
    co.page = 4;
    co.max_response = 6000;
    assert_int_equal(ntm_client_pull(cst, coord, &co, &lr, &err),
                     NTM_ETOOLARGE);
    assert_int_equal(lr.received, 8);
    assert_int_equal(lr.applied, 8);
    assert_int_equal(lr.after, 8);
    assert_int_equal(ntm_sync_status(cst, &ss, &err), NTM_OK);
    assert_int_equal(ss.cursor, 8);
    ntm_sync_status_release(&ss);
    int64_t seq = 0;
    assert_int_equal(ntm_store_head(cst, root_hex, &seq, NULL), NTM_OK);
    assert_int_equal(seq, 8);
    /* again, with room: from gseq 8 on, each entry once */
    co.max_response = 0;
    assert_int_equal(ntm_client_pull(cst, coord, &co, &lr, &err), NTM_OK);
    assert_int_equal(lr.received, 5);
    assert_int_equal(lr.applied, 5);
    assert_int_equal(lr.after, 13);
    assert_int_equal(ntm_store_head(cst, root_hex, &seq, NULL), NTM_OK);
    assert_int_equal(seq, 13);
    /* the server's head of the root, as the last line held told it */
    assert_int_equal(ntm_store_peer_head_get(cst, root_hex, &seq, &err),
                     NTM_OK);
    assert_int_equal(seq, 13);

    ntm_store_close(st);
    ntm_store_close(cst);
    ntm_server_stop(srv);
    ntm_key_free(root);
    ntm_key_free(coord);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The server's checkpointer copies the WAL back into the store file
 * beside the pushes: a push's commit no longer does it (below the 64 MiB
 * backstop), so the file grows only when that thread runs; and at stop
 * the WAL is folded back whole. */
static void
test_server_checkpoints_beside_pushes(void **state)
{
    (void)state;
    char dir[] = "/tmp/ntm-test-sync.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sdb[256], rdb[256], wal[270];
    snprintf(sdb, sizeof sdb, "%s/server.db", dir);
    snprintf(rdb, sizeof rdb, "%s/root.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", sdb);
    struct ntm_key *root = new_key();
    char root_hex[NTM_HEX_ID_LEN + 1];
    ntm_key_author(root, root_hex);
    struct ntm_error err;
    ntm_error_clear(&err);
    char url[64];
    struct ntm_client_opts co;
    struct ntm_server *srv = loopback_server(sdb, root_hex, url, &co);
    struct stat sb;
    /* what start-up wrote is in the file once the checkpointer ran */
    for (int i = 0; i < 50; i++) {
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(stat(sdb, &sb), 0);
    off_t before = sb.st_size;

    struct ntm_store *st = NULL;
    char fp[40], got_root[NTM_HEX_ID_LEN + 1];
    assert_int_equal(ntm_store_open(&st, rdb, NTM_STORE_CREATE, &err), NTM_OK);
    assert_int_equal(ntm_client_setup(st, &co, got_root, fp, &err), NTM_OK);
    assert_int_equal(ntm_store_begin(st, &err), NTM_OK);
    for (int i = 0; i < 300; i++)
        pull_record(st, root, 200);
    assert_int_equal(ntm_store_commit(st, &err), NTM_OK);
    struct ntm_push_result pr;
    assert_int_equal(ntm_client_push(st, root, NULL, &pr, &err), NTM_OK);
    assert_int_equal(pr.accepted, 300);
    ntm_push_result_release(&pr);
    /* the pushes' pages reach the file within a few rounds (200 ms) */
    int grew = 0;
    for (int i = 0; i < 150 && !grew; i++) {
        struct timespec ts = {0, 20000000L};
        nanosleep(&ts, NULL);
        assert_int_equal(stat(sdb, &sb), 0);
        grew = sb.st_size > before + 100 * 1024;
    }
    assert_true(grew);
    ntm_server_stop(srv);
    /* stopped: nothing left in a WAL (the file is gone or empty) */
    assert_true(stat(wal, &sb) != 0 || sb.st_size == 0);
    struct ntm_store *chk = NULL;
    assert_int_equal(ntm_store_open(&chk, sdb, NTM_STORE_READONLY, &err),
                     NTM_OK);
    int64_t seq = 0;
    assert_int_equal(ntm_store_head(chk, root_hex, &seq, NULL), NTM_OK);
    assert_int_equal(seq, 300);
    ntm_store_close(chk);
    ntm_store_close(st);
    ntm_key_free(root);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The root's reset statement: it checks for its root only, and any change
 * to it, or another key's signature, is refused. */
static void
test_reset_statement(void **state)
{
    (void)state;
    struct ntm_key *root = new_key(), *other = new_key();
    char root_hex[NTM_HEX_ID_LEN + 1], other_hex[NTM_HEX_ID_LEN + 1];
    ntm_key_author(root, root_hex);
    ntm_key_author(other, other_hex);
    struct ntm_error err;
    char *text = NULL;
    assert_int_equal(ntm_reset_statement(root, 0, 5, &text, &err), NTM_EINVAL);
    assert_int_equal(ntm_reset_statement(root, 2, 41, &text, &err), NTM_OK);
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    struct Ntm_reset r;
    assert_int_equal(Ntm_reset_check(v, root_hex, &r, &err), NTM_OK);
    assert_int_equal(r.epoch, 2);
    assert_int_equal(r.last_gseq, 41);
    assert_true(r.ts > 0);
    /* checked against another root: refused */
    assert_int_equal(Ntm_reset_check(v, other_hex, &r, &err), NTM_EBADSIG);
    /* the statement altered (epoch 2 -> 9): refused */
    const char *b = json_string_value(json_object_get(v, "statement"));
    char *alt = strdup(b);
    char *p = strstr(alt, "\"epoch\":2");
    assert_non_null(p);
    p[8] = '9';
    json_t *w = json_pack("{s:s, s:O}", "statement", alt, "sig",
                          json_object_get(v, "sig"));
    assert_int_equal(Ntm_reset_check(w, root_hex, &r, &err), NTM_EBADSIG);
    json_decref(w);
    free(alt);
    /* signed by another key, naming our root: refused */
    char *t2 = NULL;
    assert_int_equal(ntm_reset_statement(other, 3, 1, &t2, &err), NTM_OK);
    json_t *v2 = json_loads(t2, 0, NULL);
    assert_int_equal(Ntm_reset_check(v2, root_hex, &r, &err), NTM_EBADSIG);
    /* well signed by other, but about other: not one for our root */
    assert_int_equal(Ntm_reset_check(v2, other_hex, &r, &err), NTM_OK);
    /* missing members */
    json_t *e = json_object();
    assert_int_equal(Ntm_reset_check(e, root_hex, &r, &err), NTM_EBADENTRY);
    json_decref(e);
    json_decref(v2);
    json_decref(v);
    free(t2);
    free(text);
    ntm_key_free(root);
    ntm_key_free(other);
}

int
main(void)
{
    ntm_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_roundtrip),
        cmocka_unit_test(test_auth_signed_bytes),
        cmocka_unit_test(test_auth_refusals),
        cmocka_unit_test(test_lines_roundtrip),
        cmocka_unit_test(test_lines_malformed),
        cmocka_unit_test(test_lines_numbering),
        cmocka_unit_test(test_entry_author),
        cmocka_unit_test(test_gzip_roundtrip_and_caps),
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_listen_and_urls),
        cmocka_unit_test(test_error_body_and_status),
        cmocka_unit_test(test_routes_and_query),
        cmocka_unit_test(test_server_inprocess),
        cmocka_unit_test(test_pull_pages_ahead),
        cmocka_unit_test(test_server_checkpoints_beside_pushes),
        cmocka_unit_test(test_reset_statement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
