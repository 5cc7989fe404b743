/* SPDX-License-Identifier: MIT */
/*
 * bundle.c - importing a bundle file (SPEC.md section 7, ntm_bundle.h).
 *
 * Two passes over the file, never the whole file in memory. The first
 * reads the lines with a bounded length (NTM_BUNDLE_MAX_LINE), checks the
 * header, rejects the lines that are not bundle lines (NUL bytes, not
 * JSON, no "entry"/"sig"; past NTM_BUNDLE_MAX_BAD_LINES the file is
 * garbage and nothing is stored), and keeps an index of (author, seq,
 * offset, length, line) per entry line. The index is sorted by author,
 * then seq, then line, and the second pass reads each line back with
 * pread and hands it to ntm_store_ingest in that order, 500 per
 * transaction. So a bundle whose lines come in any order imports in
 * O(n log n); before, an out-of-order line waited for a retry pass of its
 * own (1,000 reversed lines: 1,000 passes). Lines still waiting for
 * another author's entries (unknown author, gap) are retried while a pass
 * makes progress.
 *
 * Depends on util/, crypto/ (minisign) and store/ (ingest). Never prints.
 */
#include "ntm_bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_LINES 500
#define READ_CHUNK  65536

/* ------------------------------------------------------------------ */
/* Bounded line reader */

struct reader {
    int fd;
    char chunk[READ_CHUNK];
    size_t pos, len;
    int eof;
    int64_t offset; /* file offset of chunk[pos] */
};

/*
 * The next line into b (reset first; no '\n', no trailing '\r'), its file
 * offset in *off. 1: a line, 0: end of file, -1: read error (errno),
 * -2: longer than NTM_BUNDLE_MAX_LINE (reading stops there).
 */
static int
read_line(struct reader *r, struct ntm_buf *b, int64_t *off)
{
    int got = 0;
    ntm_buf_reset(b);
    *off = r->offset;
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof)
                break;
            ssize_t n = read(r->fd, r->chunk, sizeof(r->chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return -1;
            if (n == 0) {
                r->eof = 1;
                break;
            }
            r->pos = 0;
            r->len = (size_t)n;
        }
        got = 1;
        const char *p = r->chunk + r->pos;
        const char *nl = memchr(p, '\n', r->len - r->pos);
        size_t take = nl ? (size_t)(nl - p) : r->len - r->pos;
        if (b->len + take > NTM_BUNDLE_MAX_LINE)
            return -2;
        if (ntm_buf_add(b, p, take) != NTM_OK) {
            errno = ENOMEM;
            return -1;
        }
        r->pos += take + (nl ? 1 : 0);
        r->offset += (int64_t)(take + (nl ? 1 : 0));
        if (nl)
            break;
    }
    if (!got)
        return 0;
    if (b->len && b->buf[b->len - 1] == '\r')
        b->buf[--b->len] = '\0';
    return 1;
}

/* ------------------------------------------------------------------ */
/* The index */

struct item {
    unsigned char author[NTM_PUBLICKEY_BYTES]; /* all 0xff: not known */
    int64_t seq;
    int64_t off, line;
    size_t len;
};

static int
item_cmp(const void *a, const void *b)
{
    const struct item *x = a, *y = b;
    int c = memcmp(x->author, y->author, sizeof(x->author));
    if (c)
        return c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

struct import {
    struct ntm_store *st;
    struct ntm_bundle_import_result *res;
    int fd;
    struct item *items;
    size_t nitems, cap;
    size_t *retry; /* indexes into items */
    size_t nretry, capretry;
    struct ntm_buf line;
    int64_t bad;
};

static void
add_report(json_t *list, int64_t line, const struct ntm_ingest_result *r,
           const char *code, const char *message)
{
    json_t *o = json_object();
    if (!o)
        return;
    json_object_set_new(o, "line", json_integer(line));
    json_object_set_new(o, "entry",
                        r && r->id[0] ? json_string(r->id) : json_null());
    json_object_set_new(
        o, "author", r && r->author[0] ? json_string(r->author) : json_null());
    json_object_set_new(o, "seq",
                        r && r->seq >= 0 ? json_integer(r->seq) : json_null());
    json_object_set_new(o, "code", json_string(code ? code : "bad_entry"));
    json_object_set_new(o, "message", json_string(message ? message : ""));
    json_array_append_new(list, o);
}

/* The (author, seq) of an entry line, or the author left all 0xff when the
 * line does not say (its entry is rejected when it is taken). */
static void
index_key(struct item *it, json_t *entry)
{
    memset(it->author, 0xff, sizeof(it->author));
    it->seq = it->line;
    json_error_t jerr;
    json_t *e = json_loadb(json_string_value(entry), json_string_length(entry),
                           0, &jerr);
    const char *a = json_string_value(json_object_get(e, "author"));
    json_t *seq = json_object_get(e, "seq");
    if (a && strlen(a) == NTM_HEX_ID_LEN &&
        ntm_is_lower_hex(a, NTM_HEX_ID_LEN) && json_is_integer(seq) &&
        ntm_hex_decode(it->author, sizeof(it->author), a, NTM_HEX_ID_LEN) ==
            NTM_OK)
        it->seq = json_integer_value(seq);
    else
        memset(it->author, 0xff, sizeof(it->author));
    json_decref(e);
}

/*
 * Pass 1 on one line: reject it when it is not a bundle line, else index
 * it. NTM_EINVAL once there are too many bad lines.
 */
static enum ntm_err
scan_line(struct import *im, int64_t lineno, int64_t off, struct ntm_error *err)
{
    const char *why = NULL;
    json_t *o = NULL;
    if (memchr(im->line.buf, '\0', im->line.len)) {
        why = "the line holds a NUL byte: the file is damaged";
    } else {
        json_error_t jerr;
        o = json_loadb(im->line.buf, im->line.len, JSON_REJECT_DUPLICATES,
                       &jerr);
        if (!o)
            why = "the line is not JSON";
        else if (!json_is_object(o) ||
                 !json_is_string(json_object_get(o, "entry")) ||
                 !json_is_string(json_object_get(o, "sig")))
            why = "the line has no \"entry\" and \"sig\" strings";
    }
    if (why) {
        json_decref(o);
        add_report(im->res->rejected, lineno, NULL, "bad_entry", why);
        if (++im->bad > NTM_BUNDLE_MAX_BAD_LINES) {
            im->res->bad_line = lineno;
            return ntm_error_set(err, NTM_EINVAL,
                                 "more than %d lines are not bundle lines "
                                 "(the last at line %lld): this is not an ntm "
                                 "bundle, or a badly damaged one",
                                 NTM_BUNDLE_MAX_BAD_LINES, (long long)lineno);
        }
        return NTM_OK;
    }
    if (im->nitems == im->cap) {
        size_t cap = im->cap ? im->cap * 2 : 256;
        struct item *p = ntm_realloc(im->items, cap * sizeof(*p));
        if (!p) {
            json_decref(o);
            return ntm_error_set(err, NTM_ENOMEM,
                                 "out of memory indexing line %lld",
                                 (long long)lineno);
        }
        im->items = p;
        im->cap = cap;
    }
    struct item *it = &im->items[im->nitems++];
    it->off = off;
    it->len = im->line.len;
    it->line = lineno;
    index_key(it, json_object_get(o, "entry"));
    json_decref(o);
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* Pass 2: taking the entries */

static enum ntm_err
keep_for_retry(struct import *im, size_t i, struct ntm_error *err)
{
    if (im->nretry == im->capretry) {
        size_t cap = im->capretry ? im->capretry * 2 : 64;
        size_t *p = ntm_realloc(im->retry, cap * sizeof(*p));
        if (!p)
            return ntm_error_set(err, NTM_ENOMEM,
                                 "out of memory keeping line %lld",
                                 (long long)im->items[i].line);
        im->retry = p;
        im->capretry = cap;
    }
    im->retry[im->nretry++] = i;
    return NTM_OK;
}

/*
 * Take the entry of items[i]. final: a gap or unknown author is a
 * rejection (otherwise the line is kept for a retry). Returns NTM_OK or a
 * failure of the replica itself.
 */
static enum ntm_err
take_item(struct import *im, size_t i, int final, struct ntm_error *err)
{
    const struct item *it = &im->items[i];
    ntm_buf_reset(&im->line);
    if (ntm_buf_grow(&im->line, it->len + 1) != NTM_OK)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory reading line %lld",
                             (long long)it->line);
    size_t got = 0;
    while (got < it->len) {
        ssize_t n = pread(im->fd, im->line.buf + got, it->len - got,
                          (off_t)(it->off + (int64_t)got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ntm_error_set_errno(err, NTM_EIO, n < 0 ? errno : EIO,
                                       "cannot read line %lld of the bundle "
                                       "again (was it changed?)",
                                       (long long)it->line);
        got += (size_t)n;
    }
    im->line.len = it->len;
    im->line.buf[it->len] = '\0';

    json_error_t jerr;
    json_t *o =
        json_loadb(im->line.buf, im->line.len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *entry = json_object_get(o, "entry");
    json_t *sig = json_object_get(o, "sig");
    if (!json_is_string(entry) || !json_is_string(sig)) {
        json_decref(o);
        return ntm_error_set(err, NTM_EIO,
                             "line %lld of the bundle changed during the "
                             "import",
                             (long long)it->line);
    }
    struct ntm_ingest_result r;
    memset(&r, 0, sizeof(r));
    enum ntm_err rc = ntm_store_ingest(
        im->st, json_string_value(entry), json_string_length(entry),
        json_string_value(sig), NTM_SOURCE_BUNDLE, &r, err);
    json_decref(o);
    if (rc != NTM_OK)
        return rc;
    if (r.verdict == NTM_OK) {
        if (r.duplicate)
            im->res->duplicates++;
        else
            im->res->accepted++;
        if (r.flag != NTM_OK)
            add_report(im->res->flagged, it->line, &r,
                       ntm_err_wire_code(r.flag), r.message);
        return NTM_OK;
    }
    if (!final && (r.verdict == NTM_EGAP || r.verdict == NTM_EUNKNOWNAUTHOR))
        return keep_for_retry(im, i, err);
    const char *wire = ntm_err_wire_code(r.verdict);
    add_report(im->res->rejected, it->line, &r, wire ? wire : "bad_entry",
               r.message[0] ? r.message : ntm_strerror(r.verdict));
    return NTM_OK;
}

/* Take the items listed in order (n of them), BATCH_LINES per
 * transaction. */
static enum ntm_err
take_all(struct import *im, const size_t *order, size_t n, int final,
         ntm_bundle_progress_fn progress, void *ud, struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    for (size_t i = 0; i < n && rc == NTM_OK; i += BATCH_LINES) {
        size_t end = i + BATCH_LINES < n ? i + BATCH_LINES : n;
        rc = ntm_store_begin(im->st, err);
        for (size_t j = i; j < end && rc == NTM_OK; j++)
            rc = take_item(im, order ? order[j] : j, final, err);
        if (rc == NTM_OK)
            rc = ntm_store_commit(im->st, err);
        else
            ntm_store_rollback(im->st);
        if (rc == NTM_OK && progress)
            progress(ud, im->res->accepted + im->res->duplicates,
                     im->res->lines);
    }
    return rc;
}

/* Sort a report array by "line" (stable: insertion order within a line). */
static int
report_cmp(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    json_int_t lx = json_integer_value(json_object_get(*x, "line"));
    json_int_t ly = json_integer_value(json_object_get(*y, "line"));
    return lx < ly ? -1 : lx > ly;
}

static void
sort_report(json_t *list)
{
    size_t n = json_array_size(list);
    if (n < 2)
        return;
    json_t **v = ntm_malloc(n * sizeof(*v));
    if (!v)
        return; /* stays in the order the entries were taken */
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(list, i));
    qsort(v, n, sizeof(*v), report_cmp);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, v[i]);
    ntm_free(v);
}

/* ------------------------------------------------------------------ */
/* Header and signature */

enum ntm_err
ntm_bundle_minisign_pubkey(const char *hex, struct ntm_buf *out)
{
    unsigned char blob[2 + 8 + NTM_PUBLICKEY_BYTES];
    if (!hex || strlen(hex) != NTM_HEX_ID_LEN ||
        ntm_hex_decode(blob + 10, NTM_PUBLICKEY_BYTES, hex, NTM_HEX_ID_LEN) !=
            NTM_OK)
        return NTM_EINVAL;
    blob[0] = 'E';
    blob[1] = 'd';
    ntm_minisign_keyid(blob + 2, blob + 10);
    char b64[64];
    ntm_b64_encode(b64, blob, sizeof(blob));
    return ntm_buf_addf(out, "untrusted comment: ntm device %s\n%s\n", hex,
                        b64);
}

static enum ntm_err
check_header(struct import *im, const char *path, struct ntm_error *err)
{
    json_error_t jerr;
    json_t *head = NULL;
    if (!memchr(im->line.buf, '\0', im->line.len))
        head = json_loadb(im->line.buf, im->line.len, 0, &jerr);
    const char *by = json_string_value(json_object_get(head, "by"));
    if (!json_is_object(head) ||
        json_integer_value(json_object_get(head, "ntm_bundle")) != 1 || !by ||
        strlen(by) != NTM_HEX_ID_LEN || !ntm_is_lower_hex(by, NTM_HEX_ID_LEN)) {
        json_decref(head);
        im->res->bad_line = 1;
        return ntm_error_set(err, NTM_EINVAL,
                             "'%s' is not an ntm bundle (its first line must "
                             "be {\"ntm_bundle\":1,\"by\":...})",
                             path);
    }
    memcpy(im->res->by, by, NTM_HEX_ID_LEN + 1);
    if (json_is_integer(json_object_get(head, "count")))
        im->res->declared = json_integer_value(json_object_get(head, "count"));
    json_decref(head);
    return NTM_OK;
}

static enum ntm_err
check_signature(struct import *im, const char *path, struct ntm_error *err)
{
    struct ntm_buf sig = NTM_BUF_INIT, pub = NTM_BUF_INIT;
    enum ntm_err rc = ntm_buf_addf(&sig, "%s.minisig", path);
    if (rc == NTM_OK && access(ntm_buf_str(&sig), F_OK) != 0)
        goto out; /* no signature: every entry is still verified */
    if (rc == NTM_OK)
        rc = ntm_bundle_minisign_pubkey(im->res->by, &pub);
    if (rc != NTM_OK) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    rc = ntm_minisign_verify_file(ntm_buf_str(&pub), path, ntm_buf_str(&sig),
                                  err);
    if (rc == NTM_OK)
        im->res->signature = 1;
out:
    ntm_buf_release(&sig);
    ntm_buf_release(&pub);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The import */

enum ntm_err
ntm_bundle_import(struct ntm_store *st, const char *path,
                  ntm_bundle_progress_fn progress, void *ud,
                  struct ntm_bundle_import_result *res, struct ntm_error *err)
{
    struct import im;
    struct reader *rd = NULL;
    enum ntm_err rc = NTM_OK;
    int64_t lineno = 0, off = 0;
    int got;
    memset(&im, 0, sizeof(im));
    memset(res, 0, sizeof(*res));
    res->declared = -1;
    im.st = st;
    im.res = res;
    im.fd = -1;
    ntm_buf_init(&im.line);
    res->flagged = json_array();
    res->rejected = json_array();
    rd = ntm_calloc(1, sizeof(*rd));
    if (!res->flagged || !res->rejected || !rd) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    im.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (im.fd < 0) {
        rc = ntm_error_set_errno(err, errno == ENOENT ? NTM_ENOENT : NTM_EIO,
                                 errno, "cannot open the bundle '%s'", path);
        goto out;
    }
    rd->fd = im.fd;

    /* Pass 1: header, signature, index. */
    for (;;) {
        got = read_line(rd, &im.line, &off);
        if (got == 1)
            lineno++;
        if (got == -2) {
            res->bad_line = lineno + 1;
            rc = ntm_error_set(err, NTM_ETOOLARGE,
                               "line %lld of '%s' is longer than %u bytes: "
                               "this is not an ntm bundle, or a damaged one",
                               (long long)(lineno + 1), path,
                               (unsigned)NTM_BUNDLE_MAX_LINE);
            goto out;
        }
        if (got < 0) {
            res->bad_line = lineno + 1;
            rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                     "cannot read the bundle '%s' after "
                                     "line %lld",
                                     path, (long long)lineno);
            goto out;
        }
        if (lineno == 1 && got == 1) {
            if ((rc = check_header(&im, path, err)) != NTM_OK ||
                (rc = check_signature(&im, path, err)) != NTM_OK)
                goto out;
            continue;
        }
        if (got == 0)
            break;
        if (im.line.len == 0)
            continue;
        res->lines++;
        if ((rc = scan_line(&im, lineno, off, err)) != NTM_OK)
            goto out;
    }
    if (lineno == 0) {
        res->bad_line = 1;
        rc = ntm_error_set(err, NTM_EINVAL,
                           "'%s' is empty: it is not an ntm bundle", path);
        goto out;
    }
    ntm_free(rd);
    rd = NULL;

    /* Pass 2: each author's entries in seq order. */
    if (im.nitems > 1)
        qsort(im.items, im.nitems, sizeof(*im.items), item_cmp);
    rc = take_all(&im, NULL, im.nitems, 0, progress, ud, err);
    /* Retry what waited for an earlier entry, while that makes progress. */
    int final = 0;
    while (rc == NTM_OK && im.nretry > 0) {
        size_t *order = im.retry, n = im.nretry;
        im.retry = NULL;
        im.nretry = im.capretry = 0;
        rc = take_all(&im, order, n, final, NULL, NULL, err);
        ntm_free(order);
        if (im.nretry == n)
            final = 1; /* no progress: the next pass reports them */
    }
    sort_report(res->rejected);
    sort_report(res->flagged);
out:
    if (im.fd >= 0)
        close(im.fd);
    ntm_free(rd);
    ntm_free(im.items);
    ntm_free(im.retry);
    ntm_buf_release(&im.line);
    return rc;
}

void
ntm_bundle_import_result_release(struct ntm_bundle_import_result *res)
{
    if (!res)
        return;
    json_decref(res->flagged);
    json_decref(res->rejected);
    res->flagged = res->rejected = NULL;
}
