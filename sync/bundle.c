/* SPDX-License-Identifier: MIT */
/*
 * bundle.c - bundle files (SPEC.md section 7, ntm_bundle.h): export and
 * import.
 *
 * Import makes two passes over the file, never the whole file in memory.
 * The first reads the lines with a bounded length (NTM_BUNDLE_MAX_LINE),
 * checks the header, rejects the lines that are not bundle lines (NUL
 * bytes, not JSON, no "entry"/"sig"; past NTM_BUNDLE_MAX_BAD_LINES the
 * file is garbage and nothing is stored), and keeps an index of (author,
 * seq, offset, length, line) per entry line. The index is sorted by
 * author, then seq, then line, and the second pass reads each line back
 * with pread and hands it to the ingest door (ingest.c) in that order, 500
 * per transaction; lines waiting for another author's entries (unknown
 * author, gap) are retried there while a round makes progress. So a
 * bundle whose lines come in any order imports in O(n log n).
 *
 * Export writes the header and one line per entry from one read
 * snapshot to FILE.tmp, then the attachments those entries' records name
 * (when asked: docs/contract.md, attachments), syncs and renames it, and
 * signs it (minisign). Import takes attachment lines in a third pass,
 * after the entries: their store says which hashes may be stored.
 *
 * Depends on util/, crypto/ (minisign), store/ and sync/ingest.c. Never
 * prints.
 */
#include "ntm_bundle.h"
#include "sync_int.h"

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
    struct ntm_bundle_import_result *res;
    struct Ntm_ingest in; /* the door the entries go through */
    ntm_bundle_progress_fn progress;
    void *ud;
    int fd;
    struct item *items;
    size_t nitems, cap;
    struct ntm_buf line;
    int64_t bad;
    /* attachment lines: (off, len, line) in file order */
    const char *att_dir;
    struct item *att;
    size_t natt, capatt;
};

/* The (author, seq) of an entry line, or the author left all 0xff when the
 * line does not say (its entry is rejected when it is taken). */
static void
index_key(struct item *it, json_t *entry)
{
    char a[NTM_HEX_ID_LEN + 1];
    int64_t seq;
    memset(it->author, 0xff, sizeof(it->author));
    it->seq = it->line;
    Ntm_entry_author_seq(json_string_value(entry), json_string_length(entry), a,
                         &seq);
    if (a[0] && ntm_is_lower_hex(a, NTM_HEX_ID_LEN) && seq >= 0 &&
        ntm_hex_decode(it->author, sizeof(it->author), a, NTM_HEX_ID_LEN) ==
            NTM_OK)
        it->seq = seq;
    else
        memset(it->author, 0xff, sizeof(it->author));
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
        else if (json_is_object(o) &&
                 json_is_string(json_object_get(o, "attachment"))) {
            /* An attachment chunk: taken after the entries. */
            json_decref(o);
            im->res->lines--;
            if (im->natt == im->capatt) {
                size_t cap = im->capatt ? im->capatt * 2 : 64;
                struct item *p = ntm_realloc(im->att, cap * sizeof(*p));
                if (!p)
                    return ntm_error_set(err, NTM_ENOMEM,
                                         "out of memory indexing line %lld",
                                         (long long)lineno);
                im->att = p;
                im->capatt = cap;
            }
            struct item *at = &im->att[im->natt++];
            at->off = off;
            at->len = im->line.len;
            at->line = lineno;
            return NTM_OK;
        } else if (!json_is_object(o) ||
                   !json_is_string(json_object_get(o, "entry")) ||
                   !json_is_string(json_object_get(o, "sig")))
            why = "the line has no \"entry\" and \"sig\" strings";
    }
    if (why) {
        json_decref(o);
        Ntm_ingest_reject(&im->in, lineno, NTM_EBADENTRY, why);
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

/* Read the line of items[token] back into im->line (Ntm_ingest_read_fn). */
static enum ntm_err
read_item(void *ud, int64_t token, const char **text, size_t *len,
          struct ntm_error *err)
{
    struct import *im = ud;
    const struct item *it = &im->items[token];
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
    *text = im->line.buf;
    *len = im->line.len;
    return NTM_OK;
}

static void
on_batch(void *ud, const struct Ntm_ingest *in)
{
    struct import *im = ud;
    if (im->progress)
        im->progress(im->ud, in->accepted + in->duplicates, im->res->lines);
}

/* A chunk of the lines to take: BATCH_LINES lines from i0, read back
 * and checked on several threads (parse, signature), then taken in order
 * by the one writer. The next chunk is read and checked ahead, on a
 * thread of its own, while the writer takes this one; only that thread
 * reads the bundle (read_item) meanwhile. */
struct chunk {
    struct import *im;
    size_t i0, n;
    struct ntm_buf texts;
    struct Ntm_prep p;
    enum ntm_err rc;
    struct ntm_error err;
};

static void
chunk_read(void *ud)
{
    struct chunk *c = ud;
    size_t *off = ntm_malloc((c->n + 1) * sizeof(*off));
    Ntm_prep_release(&c->p);
    ntm_buf_reset(&c->texts);
    ntm_error_clear(&c->err);
    c->rc = NTM_OK;
    if (!off) {
        c->rc = ntm_error_set(&c->err, NTM_ENOMEM, "out of memory");
        return;
    }
    for (size_t k = 0; k < c->n && c->rc == NTM_OK; k++) {
        const char *text;
        size_t len;
        off[k] = c->texts.len;
        c->rc = read_item(c->im, (int64_t)(c->i0 + k), &text, &len, &c->err);
        if (c->rc == NTM_OK && ntm_buf_add(&c->texts, text, len) != NTM_OK)
            c->rc = ntm_error_set(&c->err, NTM_ENOMEM, "out of memory");
    }
    off[c->n] = c->texts.len;
    for (size_t k = 0; k < c->n && c->rc == NTM_OK; k++)
        if (Ntm_prep_add(&c->p, c->im->items[c->i0 + k].line,
                         (int64_t)(c->i0 + k), c->texts.buf + off[k],
                         off[k + 1] - off[k]) != NTM_OK)
            c->rc = ntm_error_set(&c->err, NTM_ENOMEM, "out of memory");
    if (c->rc == NTM_OK)
        Ntm_prep_run(&c->p, 0);
    ntm_free(off);
}

static void
chunk_at(struct chunk *c, size_t i0, size_t nitems)
{
    c->i0 = i0;
    c->n = nitems - i0 < BATCH_LINES ? nitems - i0 : BATCH_LINES;
}

/* Take every indexed line in (author, seq) order, then those that waited
 * for another author's entry. A line that no longer reads as in pass 1
 * fails the import. */
static enum ntm_err
take_all(struct import *im, struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    struct chunk c[2];
    int cur = 0;
    memset(c, 0, sizeof c);
    for (int k = 0; k < 2; k++) {
        c[k].im = im;
        ntm_buf_init(&c[k].texts);
        Ntm_prep_init(&c[k].p);
    }
    if (im->nitems > 0) {
        chunk_at(&c[0], 0, im->nitems);
        chunk_read(&c[0]);
    }
    for (size_t i = 0; i < im->nitems; i += BATCH_LINES, cur ^= 1) {
        struct chunk *now = &c[cur], *ahead = &c[cur ^ 1];
        struct ntm_ahead next;
        memset(&next, 0, sizeof next);
        if ((rc = now->rc) != NTM_OK) {
            if (err)
                *err = now->err;
            break;
        }
        if (i + BATCH_LINES < im->nitems) {
            chunk_at(ahead, i + BATCH_LINES, im->nitems);
            ntm_ahead_start(&next, chunk_read, ahead);
        }
        rc = Ntm_ingest_prepared(&im->in, &now->p, err);
        ntm_ahead_wait(&next);
        Ntm_prep_release(&now->p);
        if (rc != NTM_OK)
            break;
    }
    for (int k = 0; k < 2; k++) {
        Ntm_prep_release(&c[k].p);
        ntm_buf_release(&c[k].texts);
    }
    if (rc == NTM_OK)
        rc = Ntm_ingest_end(&im->in, err);
    if (rc == NTM_OK)
        rc = Ntm_ingest_retry(&im->in, read_item, im, err);
    if (rc == NTM_EBADENTRY)
        rc = ntm_error_set(err, NTM_EIO,
                           "line %lld of the bundle changed during the "
                           "import",
                           (long long)im->in.fail_line);
    return rc;
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

/* One attachment line, read back: its chunk into the folder when the
 * store's entries name the file. done: hash -> "ok" | "refused". */
static enum ntm_err
take_attachment(struct import *im, const struct item *at, json_t *done,
                struct ntm_error *err)
{
    struct ntm_store *st = im->in.st;
    enum ntm_err rc = NTM_OK;
    unsigned char *data = NULL;
    json_t *o = NULL, *refs = NULL;
    int64_t *sizes = NULL;
    size_t nsizes = 0;
    if (ntm_buf_grow(&im->line, at->len + 1) != NTM_OK)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    ssize_t r = pread(im->fd, im->line.buf, at->len, (off_t)at->off);
    if (r != (ssize_t)at->len)
        return ntm_error_set_errno(err, NTM_EIO, errno,
                                   "cannot read line %lld of the bundle again",
                                   (long long)at->line);
    im->line.len = at->len;
    o = json_loadb(im->line.buf, at->len, JSON_REJECT_DUPLICATES, NULL);
    const char *hash = json_string_value(json_object_get(o, "attachment"));
    const char *b64 = json_string_value(json_object_get(o, "data"));
    json_t *jo = json_object_get(o, "offset"), *js = json_object_get(o, "size");
    if (!hash || !b64 || !json_is_integer(jo) || !json_is_integer(js) ||
        strlen(hash) != NTM_HEX_ID_LEN ||
        !ntm_is_lower_hex(hash, NTM_HEX_ID_LEN) || json_integer_value(jo) < 0 ||
        json_integer_value(js) < 1 ||
        json_integer_value(js) > NTM_ATTACH_MAX_BYTES ||
        json_string_length(json_object_get(o, "data")) >
            ntm_b64_encoded_len(NTM_BUNDLE_ATTACH_CHUNK)) {
        Ntm_ingest_reject(&im->in, at->line, NTM_EBADENTRY,
                          "not an attachment line");
        goto out;
    }
    const char *state = json_string_value(json_object_get(done, hash));
    if (state && strcmp(state, "part") != 0)
        goto out; /* whole already, or refused */
    int64_t size = json_integer_value(js), off = json_integer_value(jo);
    if ((rc = ntm_store_attachment_refs(st, hash, &refs, err)) != NTM_OK)
        goto out;
    int named = 0;
    size_t i;
    json_t *x;
    json_array_foreach (refs, i, x)
        named |= json_integer_value(json_object_get(x, "size")) == size;
    if (named && (rc = ntm_attach_sizes(refs, &sizes, &nsizes, err)) != NTM_OK)
        goto out;
    int64_t held;
    int complete;
    if (!named) {
        json_object_set_new(done, hash, json_string("refused"));
        im->res->attachments_refused++;
        goto out;
    }
    if ((rc = ntm_blob_held(im->att_dir, hash, &held, &complete, err)) !=
        NTM_OK)
        goto out;
    if (complete) {
        json_object_set_new(done, hash, json_string("ok"));
        goto out;
    }
    size_t cap = ntm_b64_encoded_len(NTM_BUNDLE_ATTACH_CHUNK), n = 0;
    if (!(data = ntm_malloc(cap))) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    if (ntm_b64_decode(data, cap, &n, b64, strlen(b64)) != NTM_OK ||
        off + (int64_t)n > size) {
        json_object_set_new(done, hash, json_string("refused"));
        im->res->attachments_refused++;
        goto out;
    }
    if (off + (int64_t)n <= held)
        goto out; /* these bytes are here already (an earlier import) */
    if (off > held) {
        /* A chunk is missing: the file cannot be whole from this bundle. */
        json_object_set_new(done, hash, json_string("refused"));
        im->res->attachments_refused++;
        goto out;
    }
    size_t skip = (size_t)(held - off);
    struct ntm_error e2;
    /* Every size claimed, not only this line's: a part begun by another
     * bundle goes on, and a wrong claim does not discard the true bytes. */
    enum ntm_err a = ntm_blob_append(im->att_dir, hash, sizes, nsizes, held,
                                     data + skip, n - skip, &complete, &e2);
    if (a == NTM_ECORRUPT || a == NTM_ECONFLICT || a == NTM_ETOOLARGE) {
        json_object_set_new(done, hash, json_string("refused"));
        im->res->attachments_refused++;
    } else if (a != NTM_OK) {
        rc = a;
        if (err)
            *err = e2;
    } else if (complete) {
        json_object_set_new(done, hash, json_string("ok"));
        im->res->attachments++;
    } else {
        json_object_set_new(done, hash, json_string("part"));
    }
out:
    ntm_free(sizes);
    ntm_free(data);
    json_decref(refs);
    json_decref(o);
    return rc;
}

enum ntm_err
ntm_bundle_import(struct ntm_store *st, const char *path,
                  ntm_bundle_progress_fn progress, void *ud,
                  struct ntm_bundle_import_result *res, struct ntm_error *err)
{
    return ntm_bundle_import_attach(st, path, NULL, progress, ud, res, err);
}

enum ntm_err
ntm_bundle_import_attach(struct ntm_store *st, const char *path,
                         const char *attach_dir,
                         ntm_bundle_progress_fn progress, void *ud,
                         struct ntm_bundle_import_result *res,
                         struct ntm_error *err)
{
    struct import im;
    struct reader *rd = NULL;
    enum ntm_err rc = NTM_OK;
    int64_t lineno = 0, off = 0;
    int got;
    struct Ntm_ingest_opts o = {
        NTM_SOURCE_BUNDLE, NTM_INGEST_STRICT | NTM_INGEST_RETRY,
        BATCH_LINES,       NULL,
        on_batch,          &im};
    memset(&im, 0, sizeof(im));
    memset(res, 0, sizeof(*res));
    res->declared = -1;
    im.res = res;
    im.progress = progress;
    im.ud = ud;
    im.fd = -1;
    im.att_dir = attach_dir;
    ntm_buf_init(&im.line);
    rc = Ntm_ingest_init(&im.in, st, &o, err);
    res->flagged = json_incref(im.in.flagged);
    res->rejected = json_incref(im.in.rejected);
    rd = ntm_calloc(1, sizeof(*rd));
    if (rc != NTM_OK || !rd) {
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
    rc = take_all(&im, err);
    /* Pass 3: the attachments, once their entries are in. */
    if (rc == NTM_OK && attach_dir && im.natt) {
        json_t *done = json_object();
        if (!done)
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        for (size_t i = 0; rc == NTM_OK && i < im.natt; i++)
            rc = take_attachment(&im, &im.att[i], done, err);
        /* A file whose chunks ended before its size stays a .part (a later
         * bundle or a pull goes on from it): refused here. */
        const char *h;
        json_t *v;
        json_object_foreach (done, h, v)
            if (!strcmp(json_string_value(v), "part"))
                im.res->attachments_refused++;
        json_decref(done);
    }
    Ntm_ingest_sort_notes(&im.in);
out:
    res->accepted = im.in.accepted;
    res->duplicates = im.in.duplicates;
    if (im.fd >= 0)
        close(im.fd);
    ntm_free(rd);
    Ntm_ingest_release(&im.in);
    ntm_free(im.items);
    ntm_free(im.att);
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

/* ------------------------------------------------------------------ */
/* The export */

#define EXPORT_PROGRESS 500 /* entries between progress calls */

struct export
{
    FILE *f;
    int64_t count, total;
    const char *att_dir;
    json_t *carry; /* [{"hash","size"}]: the attachments carried */
    int failed;    /* 1: out of memory or write error (errno) */
    ntm_bundle_progress_fn progress;
    void *ud;
};

static int
count_cb(void *ud, const struct ntm_entry_view *e)
{
    (void)e;
    ((struct export *)ud)->count++;
    return 0;
}

static int
write_cb(void *ud, const struct ntm_entry_view *e)
{
    struct export *ex = ud;
    struct ntm_buf line = NTM_BUF_INIT;
    if (Ntm_line_add(&line, -1, e->bytes, e->len, e->sig) != NTM_OK) {
        ntm_buf_release(&line);
        errno = ENOMEM;
        ex->failed = 1;
        return 1;
    }
    if (fwrite(line.buf, 1, line.len, ex->f) != line.len) {
        ntm_buf_release(&line);
        ex->failed = 1;
        return 1;
    }
    ntm_buf_release(&line);
    ex->count++;
    if (ex->progress && ex->count % EXPORT_PROGRESS == 0)
        ex->progress(ex->ud, ex->count, ex->total);
    return 0;
}

/* The attachment lines of ex->carry, after the entries. */
static enum ntm_err
write_attachments(struct export *ex, struct ntm_bundle_export_result *res,
                  struct ntm_error *err)
{
    unsigned char *buf = ntm_malloc(NTM_BUNDLE_ATTACH_CHUNK);
    char *b64 = ntm_malloc(ntm_b64_encoded_len(NTM_BUNDLE_ATTACH_CHUNK));
    enum ntm_err rc = NTM_OK;
    if (!buf || !b64)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    size_t i;
    json_t *a;
    json_array_foreach (ex->carry, i, a) {
        if (rc != NTM_OK)
            break;
        const char *hash = json_string_value(json_object_get(a, "hash"));
        int64_t size = json_integer_value(json_object_get(a, "size"));
        for (int64_t off = 0; rc == NTM_OK && off < size;) {
            size_t got = 0;
            rc = ntm_blob_read(ex->att_dir, hash, off, buf,
                               NTM_BUNDLE_ATTACH_CHUNK, &got, err);
            if (rc != NTM_OK)
                break;
            if (got == 0) {
                rc = ntm_error_set(err, NTM_EIO,
                                   "attachment %.16s... became shorter while "
                                   "exporting: export again",
                                   hash);
                break;
            }
            ntm_b64_encode(b64, buf, got);
            json_t *line = json_pack("{s:s, s:I, s:I, s:s}", "attachment", hash,
                                     "offset", (json_int_t)off, "size",
                                     (json_int_t)size, "data", b64);
            errno = ENOMEM;
            if (!line ||
                json_dumpf(line, ex->f, JSON_COMPACT | JSON_SORT_KEYS) != 0 ||
                fputc('\n', ex->f) == EOF)
                rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                         "cannot write the bundle (is the "
                                         "disk full?)");
            json_decref(line);
            off += (int64_t)got;
            res->attachment_bytes += (int64_t)got;
        }
        if (rc == NTM_OK)
            res->attachments++;
    }
    ntm_free(buf);
    ntm_free(b64);
    return rc;
}

/* Write the header and the entries of q to ex->f (in st's transaction). */
static enum ntm_err
export_write(struct ntm_store *st, const struct ntm_entry_query *q,
             struct export *ex, const struct ntm_bundle_export_result *res,
             const char *tmp, struct ntm_error *err)
{
    json_t *head = json_pack("{s:i, s:s, s:I, s:I}", "ntm_bundle", 1, "by",
                             res->by, "created_ms", (json_int_t)res->created_ms,
                             "count", (json_int_t)ex->total);
    if (head && json_array_size(ex->carry) &&
        json_object_set_new(
            head, "attachments",
            json_integer((json_int_t)json_array_size(ex->carry))) != 0) {
        json_decref(head);
        head = NULL;
    }
    errno = ENOMEM;
    if (!head || json_dumpf(head, ex->f, JSON_COMPACT) != 0 ||
        fputc('\n', ex->f) == EOF)
        ex->failed = 1;
    json_decref(head);
    if (!ex->failed) {
        enum ntm_err rc = ntm_store_entries(st, q, write_cb, ex, err);
        if (rc != NTM_OK)
            return rc;
    }
    if (!ex->failed && json_array_size(ex->carry)) {
        enum ntm_err rc =
            write_attachments(ex, (struct ntm_bundle_export_result *)res, err);
        if (rc != NTM_OK)
            return rc;
    }
    if (ex->failed || fflush(ex->f) != 0 || fsync(fileno(ex->f)) != 0)
        return ntm_error_set_errno(
            err, NTM_EIO, errno, "cannot write '%s' (is the disk full?)", tmp);
    if (ex->count != ex->total)
        return ntm_error_set(err, NTM_ECONFLICT,
                             "the store changed while exporting: export "
                             "again");
    return NTM_OK;
}

/* The export; key NULL writes no signature (by names the header's
 * author) and removes a path.minisig left by an earlier export, which
 * would not match the new file. */
static enum ntm_err
export_bundle(struct ntm_store *st, const struct ntm_key *key, const char *by,
              const char *path, const char *author, const char *att_dir,
              ntm_bundle_progress_fn progress, void *ud,
              struct ntm_bundle_export_result *res, struct ntm_error *err)
{
    struct export ex;
    struct ntm_buf tmp = NTM_BUF_INIT, comment = NTM_BUF_INIT;
    struct ntm_entry_query q;
    enum ntm_err rc;
    int in_tx = 0;
    memset(&ex, 0, sizeof(ex));
    memset(res, 0, sizeof(*res));
    memset(&q, 0, sizeof(q));
    if (key)
        ntm_key_author(key, res->by);
    else
        snprintf(res->by, sizeof(res->by), "%s", by);
    res->created_ms = ntm_now_ms();
    ex.progress = progress;
    ex.ud = ud;
    q.author = author;
    q.by_author_seq = 1;

    if (ntm_buf_addf(&tmp, "%s.tmp", path) != NTM_OK) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    /* One read snapshot for the count and the lines. */
    if ((rc = ntm_store_begin(st, err)) != NTM_OK)
        goto out;
    in_tx = 1;
    if ((rc = ntm_store_entries(st, &q, count_cb, &ex, err)) != NTM_OK)
        goto out;
    ex.total = ex.count;
    ex.count = 0;
    if (author && ex.total == 0) {
        rc = ntm_error_set(err, NTM_ENOENT,
                           "no entries of author %s in this home", author);
        goto out;
    }
    /* The attachments carried: those of the exported entries' records
     * whose bytes are here and sound. */
    if (att_dir) {
        json_t *all = NULL;
        size_t i;
        json_t *a;
        ex.att_dir = att_dir;
        if (!(ex.carry = json_array()) ||
            (rc = ntm_store_attachment_hashes(st, author, &all, err)) !=
                NTM_OK) {
            if (!ex.carry)
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
        json_array_foreach (all, i, a) {
            int64_t size = 0;
            int claimed = 0;
            size_t k;
            json_t *c;
            if (ntm_blob_check(att_dir,
                               json_string_value(json_object_get(a, "hash")),
                               &size, NULL) != NTM_OK)
                continue;
            /* The bytes' own length, when an entry claims it (entries
             * may disagree; the largest claim is not the true one). */
            json_array_foreach (json_object_get(a, "sizes"), k, c)
                claimed |= json_integer_value(c) == size;
            if (claimed &&
                json_array_append_new(
                    ex.carry,
                    json_pack("{s:O, s:I}", "hash", json_object_get(a, "hash"),
                              "size", (json_int_t)size)) != 0) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                json_decref(all);
                goto out;
            }
        }
        json_decref(all);
    }

    unlink(ntm_buf_str(&tmp));
    int fd =
        open(ntm_buf_str(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || !(ex.f = fdopen(fd, "w"))) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot create '%s'",
                                 ntm_buf_str(&tmp));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    rc = export_write(st, &q, &ex, res, ntm_buf_str(&tmp), err);
    if (rc != NTM_OK)
        goto out;
    ntm_store_rollback(st);
    in_tx = 0;
    FILE *f = ex.f;
    ex.f = NULL;
    if (fclose(f) != 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot write '%s'",
                                 ntm_buf_str(&tmp));
        unlink(ntm_buf_str(&tmp));
        goto out;
    }
    if (rename(ntm_buf_str(&tmp), path) != 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                 "cannot rename '%s' to '%s'",
                                 ntm_buf_str(&tmp), path);
        unlink(ntm_buf_str(&tmp));
        goto out;
    }
    res->count = ex.count;
    if (progress)
        progress(ud, ex.count, ex.total);
    if (ntm_buf_addf(&comment,
                     "ntm bundle by %s, %lld entries, created_ms %lld", res->by,
                     (long long)ex.count,
                     (long long)res->created_ms) != NTM_OK) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    if (key) {
        rc =
            ntm_minisign_sign_file(key, path, NULL, ntm_buf_str(&comment), err);
    } else {
        struct ntm_buf sig = NTM_BUF_INIT;
        if (ntm_buf_addf(&sig, "%s.minisig", path) != NTM_OK)
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        else if (unlink(ntm_buf_str(&sig)) != 0 && errno != ENOENT)
            rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                     "cannot remove the old signature '%s'",
                                     ntm_buf_str(&sig));
        ntm_buf_release(&sig);
    }
out:
    if (ex.f) {
        fclose(ex.f);
        unlink(ntm_buf_str(&tmp));
    }
    if (in_tx)
        ntm_store_rollback(st);
    json_decref(ex.carry);
    ntm_buf_release(&tmp);
    ntm_buf_release(&comment);
    return rc;
}

enum ntm_err
ntm_bundle_export(struct ntm_store *st, const struct ntm_key *key,
                  const char *path, const char *author,
                  ntm_bundle_progress_fn progress, void *ud,
                  struct ntm_bundle_export_result *res, struct ntm_error *err)
{
    return export_bundle(st, key, NULL, path, author, NULL, progress, ud, res,
                         err);
}

enum ntm_err
ntm_bundle_export_attach(struct ntm_store *st, const struct ntm_key *key,
                         const char *by, const char *path, const char *author,
                         const char *attach_dir,
                         ntm_bundle_progress_fn progress, void *ud,
                         struct ntm_bundle_export_result *res,
                         struct ntm_error *err)
{
    if (!key && (!by || strlen(by) != NTM_HEX_ID_LEN ||
                 !ntm_is_lower_hex(by, NTM_HEX_ID_LEN))) {
        memset(res, 0, sizeof(*res));
        return ntm_error_set(err, NTM_EINVAL,
                             "an unsigned bundle needs the author id of the "
                             "device that writes it");
    }
    return export_bundle(st, key, key ? NULL : by, path, author, attach_dir,
                         progress, ud, res, err);
}

enum ntm_err
ntm_bundle_export_unsigned(struct ntm_store *st, const char *by,
                           const char *path, const char *author,
                           ntm_bundle_progress_fn progress, void *ud,
                           struct ntm_bundle_export_result *res,
                           struct ntm_error *err)
{
    if (!by || strlen(by) != NTM_HEX_ID_LEN ||
        !ntm_is_lower_hex(by, NTM_HEX_ID_LEN)) {
        memset(res, 0, sizeof(*res));
        return ntm_error_set(err, NTM_EINVAL,
                             "an unsigned bundle needs the author id of the "
                             "device that writes it");
    }
    return export_bundle(st, NULL, by, path, author, NULL, progress, ud, res,
                         err);
}
