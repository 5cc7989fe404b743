/* SPDX-License-Identifier: MIT */
/*
 * fuzz_push.c - libFuzzer target: bytes -> the POST /v1/entries handler
 * as a pure function (request -> ntm_err + body), the way server.c's
 * on_complete calls it after HTTP parsing and authentication.
 *
 * The handler is reached through the route table (Ntm_route_find). It
 * needs a struct ntm_server only for max_batch, the write lock and the
 * metrics, so one real server is started once on 127.0.0.1:0 (plain HTTP
 * on loopback; nothing connects to it). The handler's store connection is
 * an in-memory server store holding the base log, copied back from a
 * pristine one whenever a request changed it.
 *
 * Input: one mode byte, then the body.
 *   bit 0  each body line is raw entry bytes: sign it with the fixed key it
 *          names and wrap it as a push line (reaches steps 3-5)
 *   bit 1  the body is gzip: inflate it first (Ntm_gunzip, 1 MiB cap), as
 *          the server does for Content-Encoding: gzip
 *   bit 2  the caller is the enrolled device (else the root key)
 *   bit 3  the first line is an Authorization header, checked over the
 *          rest with ntm_sync_auth_verify before the handler runs
 *
 * Invariants: the handler answers NTM_OK or an error whose HTTP status is
 * 4xx (never 500 for input); an OK body is one JSON object whose counts add
 * up to the lines sent; a rejected line writes nothing.
 */
#include "fuzz_common.h"

#define FZ_MAX_BATCH 16

static struct ntm_server *srv;
static struct ntm_store *st, *pristine;
static char tmpdir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
count_line(void *ud, int n, const char *line, size_t len)
{
    (void)n;
    (void)line;
    (void)len;
    (*(int64_t *)ud)++;
    return 0;
}

static void
quiet_log(void *ud, const char *line)
{
    (void)ud;
    (void)line;
}

static void
setup(void)
{
    fz_init();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ntm-fuzz-push-XXXXXX");
    if (!mkdtemp(tmpdir))
        fz_die("mkdtemp", NULL);
    char db[128];
    snprintf(db, sizeof db, "%s/server.db", tmpdir);
    struct ntm_server_opts o;
    memset(&o, 0, sizeof o);
    o.db_path = db;
    o.listen = "127.0.0.1:0";
    o.root_key = fz_authors[FZ_ROOT];
    o.threads = 1;
    o.max_batch = FZ_MAX_BATCH;
    o.log = quiet_log;
    struct ntm_error err;
    if (ntm_server_start(&srv, &o, &err) != NTM_OK)
        fz_die("ntm_server_start", &err);
    st = fz_store(NTM_STORE_SERVER, 1);
    pristine = fz_store(NTM_STORE_SERVER, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!srv)
        setup();
    unsigned mode = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    struct ntm_error err;
    ntm_error_clear(&err);

    const char *auth = NULL;
    size_t auth_len = 0;
    if (mode & 8) {
        const char *nl = memchr(in, '\n', len);
        auth = in;
        auth_len = nl ? (size_t)(nl - in) : len;
        in += nl ? auth_len + 1 : len;
        len -= nl ? auth_len + 1 : len;
    }

    struct ntm_buf inflated = NTM_BUF_INIT, body = NTM_BUF_INIT;
    if (mode & 2) {
        if (Ntm_gunzip(in, len, 1u << 20, &inflated, &err) != NTM_OK) {
            FZ_CHECK(err.code == NTM_EPROTO || err.code == NTM_ETOOLARGE,
                     "gunzip failed with %s", ntm_strerror(err.code));
            goto out;
        }
        in = inflated.buf ? inflated.buf : "";
        len = inflated.len;
    }
    if (mode & 1)
        fz_wrap_lines(&body, in, len, -1);
    else
        ntm_buf_add(&body, in, len);

    struct Ntm_req rq;
    memset(&rq, 0, sizeof rq);
    rq.srv = srv;
    rq.st = st;
    rq.method = "POST";
    rq.path = "/v1/entries";
    rq.query = "";
    /* A copy the exact size of the body: ASan catches reads past it. */
    char *b = malloc(body.len ? body.len : 1);
    memcpy(b, body.buf ? body.buf : "", body.len);
    rq.body = b;
    rq.body_len = body.len;

    if (auth) {
        char *h = ntm_strndup(auth, auth_len);
        char author[NTM_HEX_ID_LEN + 1];
        int64_t ts = 0;
        enum ntm_err arc =
            ntm_sync_auth_verify(h, "POST", "/v1/entries", rq.body, rq.body_len,
                                 ntm_now_ms(), author, &ts, &err);
        ntm_free(h);
        FZ_CHECK(arc == NTM_OK || arc == NTM_EAUTH || arc == NTM_ECLOCKSKEW,
                 "auth verify returned %s", ntm_strerror(arc));
        if (arc == NTM_OK || arc == NTM_ECLOCKSKEW)
            FZ_CHECK(strlen(author) == NTM_HEX_ID_LEN &&
                         ntm_is_lower_hex(author, NTM_HEX_ID_LEN),
                     "verified author '%s' is not 64 hex", author);
        ntm_error_clear(&err);
    }

    int who = (mode & 4) ? FZ_DEVICE : FZ_ROOT;
    memcpy(rq.author, fz_authors[who], sizeof rq.author);
    rq.is_root = who == FZ_ROOT;
    if (ntm_store_enrollment(st, rq.author, 0, &rq.enr, &err) != NTM_OK &&
        err.code != NTM_ENOENT)
        fz_die("enrollment", &err);
    ntm_error_clear(&err);

    int known = 0;
    const struct Ntm_route *route =
        Ntm_route_find("POST", "/v1/entries", &known);
    FZ_CHECK(route && route->ep == NTM_EP_PUSH, "no push route");

    int64_t nlines = 0;
    Ntm_lines_foreach(rq.body, rq.body_len, count_line, &nlines);
    int64_t before = fz_entries(st);
    int changes = sqlite3_total_changes(st->db);

    struct Ntm_resp rs;
    memset(&rs, 0, sizeof rs);
    rs.next_after = -1;
    rs.more = -1;
    enum ntm_err rc = route->fn(&rq, &rs, &err);
    if (getenv("NTM_FUZZ_DEBUG"))
        fprintf(stderr, "fuzz_push: %s %.*s\n", ntm_strerror(rc),
                rc == NTM_OK ? (int)rs.body.len : (int)strlen(err.msg),
                rc == NTM_OK ? rs.body.buf : err.msg);
    if (rc == NTM_OK) {
        json_error_t je;
        json_t *v = json_loadb(rs.body.buf, rs.body.len, 0, &je);
        FZ_CHECK(json_is_object(v), "answer is not a JSON object: %s", je.text);
        int64_t acc = json_integer_value(json_object_get(v, "accepted"));
        int64_t dup = json_integer_value(json_object_get(v, "duplicates"));
        size_t rej = json_array_size(json_object_get(v, "rejected"));
        FZ_CHECK(json_is_object(json_object_get(v, "heads")), "no heads");
        FZ_CHECK(acc + dup + (int64_t)rej == nlines,
                 "accepted %lld + duplicates %lld + rejected %zu != %lld "
                 "lines",
                 (long long)acc, (long long)dup, rej, (long long)nlines);
        FZ_CHECK(fz_entries(st) == before + acc,
                 "%lld entries written for %lld accepted",
                 (long long)(fz_entries(st) - before), (long long)acc);
        json_decref(v);
    } else {
        const char *code = NULL;
        int status = Ntm_http_status(&err, &code);
        FZ_CHECK(status >= 400 && status < 500, "input led to HTTP %d (%s): %s",
                 status, code, ntm_error_text(&err));
        FZ_CHECK(fz_entries(st) == before, "failed request wrote entries");
    }
    ntm_buf_release(&rs.body);
    free(b);
    if (sqlite3_total_changes(st->db) != changes)
        fz_store_restore(st, pristine);
out:
    ntm_buf_release(&inflated);
    ntm_buf_release(&body);
    return 0;
}
