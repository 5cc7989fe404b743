/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pull_parse.c - libFuzzer target: bytes -> the client's handling of
 * a GET /v1/entries answer: the libcurl header and body callbacks
 * (on_header, on_write with the response cap) and the page parser
 * (Ntm_pull_apply: the lines through the ingest door with the gseq order
 * check and local validation of every entry), as pull_page runs them,
 * without the network.
 *
 * The callbacks are static in sync/transport.c, so this file includes it
 * and scripts/fuzz.sh links every library object but transport's:
 */
/* fuzz-replaces: sync/transport.c */
/*
 * Input: one mode byte, then response header lines, an empty line, and
 * the body.
 *   bit 0     each body line is raw entry bytes: sign it with the fixed key
 *             it names and wrap it as a pull line with gseq = line number
 *   bit 1     the device store holds the base log (else only the root pin)
 *   bits 2-3  body chunk size given to on_write: 1, 7, 512 bytes or all
 *   bit 4     a 4 KiB response cap (else 1 MiB)
 * Each page is applied in a transaction that is rolled back.
 *
 * Invariants: a page either fails with NTM_EPROTO (with its cause in the
 * message) or applies; entries written match those counted as applied;
 * nothing is applied from an overflowing answer.
 */
#include "../../sync/transport.c"

#include "fuzz_common.h"

static struct ntm_store *with_base, *empty;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fz_init();
    if (!with_base) {
        with_base = fz_store(0, 1);
        empty = fz_store(0, 0);
    }
    unsigned mode = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;

    /* Headers, one callback per line as libcurl gives them. */
    struct Ntm_http_resp r;
    memset(&r, 0, sizeof r);
    r.cap = (mode & 0x10) ? 4096 : (1u << 20);
    resp_reset(&r);
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(in + i, '\n', len - i);
        size_t l = nl ? (size_t)(nl - (in + i)) + 1 : len - i;
        char *line = malloc(l);
        memcpy(line, in + i, l);
        size_t got = on_header(line, 1, l, &r);
        free(line);
        FZ_CHECK(got == l, "on_header consumed %zu of %zu", got, l);
        i += l;
        if (l <= 2 && (l == 1 || in[i - 2] == '\r'))
            break; /* the empty line ending the headers */
    }

    /* Body, through on_write in chunks. */
    struct ntm_buf src = NTM_BUF_INIT;
    if (mode & 1)
        fz_wrap_lines(&src, in + i, len - i, 0);
    else
        ntm_buf_add(&src, in + i, len - i);
    static const size_t chunks[4] = {1, 7, 512, 0};
    size_t chunk = chunks[(mode >> 2) & 3];
    int aborted = 0;
    for (size_t off = 0; off < src.len;) {
        size_t n = chunk && src.len - off > chunk ? chunk : src.len - off;
        char *piece = malloc(n);
        memcpy(piece, src.buf + off, n);
        size_t got = on_write(piece, 1, n, &r);
        free(piece);
        if (got != n) {
            aborted = 1;
            break;
        }
        off += n;
    }
    FZ_CHECK(aborted == r.overflow, "on_write aborted=%d overflow=%d", aborted,
             r.overflow);
    FZ_CHECK(r.body.len <= r.cap, "body of %zu passes the cap %zu", r.body.len,
             r.cap);
    if (aborted)
        goto out; /* curl fails the request: nothing is applied */

    /* The page, as pull_page applies it. */
    struct ntm_store *st = (mode & 2) ? with_base : empty;
    struct ntm_error err;
    ntm_error_clear(&err);
    struct Ntm_pull_counts pg;
    memset(&pg, 0, sizeof pg);
    int64_t after = 0;
    if (ntm_store_begin(st, &err) != NTM_OK)
        fz_die("begin", &err);
    int64_t before = fz_entries(st);
    /* A copy of exactly the body's size: reads past it are caught. */
    char *body = malloc(r.body.len ? r.body.len : 1);
    memcpy(body, r.body.buf ? r.body.buf : "", r.body.len);
    enum ntm_err rc = Ntm_pull_apply(st, body, r.body.len, after, &pg, &err);
    free(body);
    if (getenv("NTM_FUZZ_DEBUG"))
        fprintf(stderr,
                "fuzz_pull_parse: %s next_after %lld more %d: received %lld "
                "applied %lld invalid %lld %s\n",
                ntm_strerror(rc), (long long)r.next_after, r.more,
                (long long)pg.received, (long long)pg.applied,
                (long long)pg.invalid, rc ? err.msg : "");
    FZ_CHECK(rc == NTM_OK || rc == NTM_EPROTO, "page failed with %s: %s",
             ntm_strerror(rc), ntm_error_text(&err));
    if (rc != NTM_OK) {
        /* The reason must survive: a message built from itself (err->msg
         * passed as an argument while err->msg is written) repeats its
         * prefix and loses the cause. */
        size_t k = strcspn(err.msg, ":");
        FZ_CHECK(k == strlen(err.msg) ||
                     !memmem(err.msg + k, strlen(err.msg + k), err.msg, k),
                 "error message lost its cause: '%s'", err.msg);
    }
    FZ_CHECK(pg.applied + pg.invalid <= pg.received,
             "applied %lld + invalid %lld > received %lld",
             (long long)pg.applied, (long long)pg.invalid,
             (long long)pg.received);
    FZ_CHECK(fz_entries(st) == before + pg.applied,
             "%lld entries written for %lld applied",
             (long long)(fz_entries(st) - before), (long long)pg.applied);
    if (rc == NTM_OK && r.next_after >= 0 && pg.last_gseq > r.next_after)
        rc = NTM_EPROTO; /* pull_page's Ntm-Next-After check */
    ntm_store_rollback(st);

    /* Other answers go through Ntm_http_json. */
    json_t *v = NULL;
    if (Ntm_http_json(&r, "fuzz", &v, &err) == NTM_OK)
        FZ_CHECK(json_is_object(v), "Ntm_http_json gave a non-object");
    json_decref(v);
out:
    ntm_buf_release(&r.body);
    ntm_buf_release(&src);
    return 0;
}
