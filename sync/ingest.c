/* SPDX-License-Identifier: MIT */
/*
 * ingest.c - the one door through which entries from elsewhere enter a
 * store: the server's push handler, the client's pull and bundle import
 * all hand it entry lines. Each line is parsed once (the line's JSON; the
 * entry bytes go to ntm_store_ingest, which parses and verifies them) and
 * gets one verdict, counted by code and noted in one report shape. The
 * callers differ only by flags (sync_int.h): the per-author cascade of a
 * push batch, the strict lines and gseq order of a pull page, the retry of
 * lines waiting for an entry still to come in a bundle.
 *
 * Depends on util/, store/ (ntm_store_ingest, transactions) and wire.c
 * (the line format). Never prints; no network.
 */
#include "sync_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ntm_err
Ntm_ingest_init(struct Ntm_ingest *in, struct ntm_store *st,
                const struct Ntm_ingest_opts *o, struct ntm_error *err)
{
    memset(in, 0, sizeof(*in));
    in->st = st;
    in->o = *o;
    in->flagged = json_array();
    in->rejected = json_array();
    in->bad_authors = json_object();
    if (!in->flagged || !in->rejected || !in->bad_authors)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    return NTM_OK;
}

void
Ntm_ingest_release(struct Ntm_ingest *in)
{
    if (!in)
        return;
    if (in->in_tx)
        ntm_store_rollback(in->st);
    json_decref(in->flagged);
    json_decref(in->rejected);
    json_decref(in->bad_authors);
    ntm_free(in->retry);
    memset(in, 0, sizeof(*in));
}

/* ------------------------------------------------------------------ */
/* The report */

/* One note of list: {"line","entry","author","seq","code","message"}, or
 * in the push answer's form (NTM_INGEST_WIRE) without "entry" and with ""
 * for an unknown author. A detail that is not valid UTF-8 never drops the
 * line: it is replaced. */
static void
note(struct Ntm_ingest *in, json_t *list, int64_t line, enum ntm_err code,
     const char *id, const char *author, int64_t seq, const char *message)
{
    int wire = (in->o.flags & NTM_INGEST_WIRE) != 0;
    const char *wcode = ntm_err_wire_code(code);
    json_t *o = json_object();
    if (!o)
        return;
    if (!message || !message[0])
        message = ntm_strerror(code);
    json_t *a = author && author[0] ? json_string(author)
                : wire              ? json_string("")
                                    : json_null();
    json_t *m = json_string(message);
    if (!a || !m) {
        json_decref(a);
        json_decref(m);
        a = wire ? json_string("") : json_null();
        m = json_string("line refused (its detail is not valid UTF-8)");
    }
    json_object_set_new(o, "line", json_integer(line));
    if (!wire)
        json_object_set_new(o, "entry",
                            id && id[0] ? json_string(id) : json_null());
    json_object_set_new(o, "author", a);
    json_object_set_new(o, "seq", seq >= 0 ? json_integer(seq) : json_null());
    json_object_set_new(o, "code", json_string(wcode ? wcode : "bad_entry"));
    json_object_set_new(o, "message", m);
    json_array_append_new(list, o);
}

static void
count_rejected(struct Ntm_ingest *in, enum ntm_err code)
{
    in->invalid++;
    if (code < NTM_ERR_LAST)
        in->rejected_by[code]++;
}

void
Ntm_ingest_reject(struct Ntm_ingest *in, int64_t line, enum ntm_err code,
                  const char *message)
{
    note(in, in->rejected, line, code, NULL, NULL, -1, message);
    count_rejected(in, code);
}

/* Sort a report array by "line" (a line has one note per array). */
static int
note_cmp(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    json_int_t lx = json_integer_value(json_object_get(*x, "line"));
    json_int_t ly = json_integer_value(json_object_get(*y, "line"));
    return lx < ly ? -1 : lx > ly;
}

static void
sort_list(json_t *list)
{
    size_t n = json_array_size(list);
    if (n < 2)
        return;
    json_t **v = ntm_malloc(n * sizeof(*v));
    if (!v)
        return; /* stays in the order the entries were taken */
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(list, i));
    qsort(v, n, sizeof(*v), note_cmp);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, v[i]);
    ntm_free(v);
}

void
Ntm_ingest_sort_notes(struct Ntm_ingest *in)
{
    sort_list(in->rejected);
    sort_list(in->flagged);
}

/* ------------------------------------------------------------------ */
/* Batches */

static enum ntm_err
batch_open(struct Ntm_ingest *in, struct ntm_error *err)
{
    if (!in->o.batch || in->in_tx)
        return NTM_OK;
    enum ntm_err rc = ntm_store_begin(in->st, err);
    if (rc == NTM_OK)
        in->in_tx = 1;
    in->in_batch = 0;
    return rc;
}

enum ntm_err
Ntm_ingest_end(struct Ntm_ingest *in, struct ntm_error *err)
{
    if (!in->in_tx)
        return NTM_OK;
    in->in_tx = 0;
    in->in_batch = 0;
    enum ntm_err rc = ntm_store_commit(in->st, err);
    if (rc != NTM_OK) {
        ntm_store_rollback(in->st);
        return rc;
    }
    if (in->o.progress)
        in->o.progress(in->o.ud, in);
    return NTM_OK;
}

/* After a line: commit a full batch; on failure roll the batch back. */
static enum ntm_err
batch_step(struct Ntm_ingest *in, enum ntm_err rc, struct ntm_error *err)
{
    if (!in->in_tx)
        return rc;
    if (rc != NTM_OK) {
        ntm_store_rollback(in->st);
        in->in_tx = 0;
        return rc;
    }
    if (++in->in_batch >= in->o.batch)
        return Ntm_ingest_end(in, err);
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* One line */

static enum ntm_err
keep_for_retry(struct Ntm_ingest *in, int64_t line, int64_t token,
               struct ntm_error *err)
{
    if (in->nretry == in->capretry) {
        size_t cap = in->capretry ? in->capretry * 2 : 64;
        struct Ntm_retry_item *p = ntm_realloc(in->retry, cap * sizeof(*p));
        if (!p)
            return ntm_error_set(err, NTM_ENOMEM,
                                 "out of memory keeping line %lld",
                                 (long long)line);
        in->retry = p;
        in->capretry = cap;
    }
    in->retry[in->nretry].line = line;
    in->retry[in->nretry].token = token;
    in->nretry++;
    return NTM_OK;
}

/* The verdict of the store on a parsed line. final: a line that waits
 * (gap, unknown author) is rejected rather than kept. */
static enum ntm_err
judge(struct Ntm_ingest *in, int64_t line, int64_t token, const char *entry,
      size_t elen, const char *sig, const struct ntm_checked *chk, int final,
      struct ntm_error *err)
{
    unsigned fl = in->o.flags;
    /* Only after a rejection is there a cascade to check; then the entry's
     * author and seq are read ahead of the store. */
    if ((fl & NTM_INGEST_CASCADE) && json_object_size(in->bad_authors) > 0) {
        char author[NTM_HEX_ID_LEN + 1];
        int64_t seq;
        Ntm_entry_author_seq(entry, elen, author, &seq);
        if (author[0] && json_object_get(in->bad_authors, author)) {
            note(in, in->rejected, line, NTM_EGAP, NULL, author, seq,
                 "an earlier line of this author was rejected in this "
                 "batch");
            count_rejected(in, NTM_EGAP);
            return NTM_OK;
        }
    }
    struct ntm_ingest_result r;
    memset(&r, 0, sizeof(r));
    enum ntm_err rc = ntm_store_ingest_checked(in->st, chk, entry, elen, sig,
                                               in->o.source, &r, err);
    if (rc != NTM_OK)
        return rc;
    if (in->o.taken && (rc = in->o.taken(in->o.ud, &r, err)) != NTM_OK)
        return rc;
    if (r.verdict != NTM_OK) {
        if ((fl & NTM_INGEST_RETRY) && !final &&
            (r.verdict == NTM_EGAP || r.verdict == NTM_EUNKNOWNAUTHOR))
            return keep_for_retry(in, line, token, err);
        note(in, in->rejected, line, r.verdict, r.id, r.author, r.seq,
             r.message);
        count_rejected(in, r.verdict);
        if ((fl & NTM_INGEST_CASCADE) && r.author[0])
            json_object_set_new(in->bad_authors, r.author, json_true());
    } else if (r.duplicate) {
        in->duplicates++;
    } else {
        in->accepted++;
        if (r.flag != NTM_OK) {
            note(in, in->flagged, line, r.flag, r.id, r.author, r.seq,
                 r.message);
            if (r.flag < NTM_ERR_LAST)
                in->flagged_by[r.flag]++;
        }
    }
    return NTM_OK;
}

static enum ntm_err
take(struct Ntm_ingest *in, int64_t line, int64_t token, const char *text,
     size_t len, int final, struct ntm_error *err)
{
    struct ntm_error lerr;
    json_t *o = NULL;
    const char *entry, *sig;
    size_t elen;
    int64_t gseq;
    ntm_error_clear(&lerr);
    enum ntm_err rc =
        Ntm_line_read(text, len, &o, &entry, &elen, &sig, &gseq, &lerr);
    if (rc == NTM_ENOMEM)
        return ntm_error_set(err, rc, "out of memory");
    if (rc != NTM_OK) {
        if (in->o.flags & NTM_INGEST_STRICT) {
            in->fail_line = line;
            return ntm_error_set(err, NTM_EBADENTRY, "%s", lerr.msg);
        }
        Ntm_ingest_reject(in, line, NTM_EBADENTRY, lerr.msg);
        return NTM_OK;
    }
    if (in->o.flags & NTM_INGEST_GSEQ) {
        if (gseq <= in->last_gseq) {
            json_decref(o);
            in->fail_line = line;
            return ntm_error_set(err, NTM_EPROTO,
                                 "server sent gseq %lld after %lld - its "
                                 "order must strictly increase",
                                 (long long)gseq, (long long)in->last_gseq);
        }
        in->last_gseq = gseq;
    }
    rc = judge(in, line, token, entry, elen, sig, NULL, final, err);
    json_decref(o);
    if (rc != NTM_OK && !in->fail_line)
        in->fail_line = line;
    return rc;
}

/* take() of a line read and checked ahead (Ntm_prep_run). */
static enum ntm_err
take_prepared(struct Ntm_ingest *in, const struct Ntm_prep_item *it,
              struct ntm_error *err)
{
    if (it->rc == NTM_ENOMEM)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (it->rc != NTM_OK) {
        if (in->o.flags & NTM_INGEST_STRICT) {
            in->fail_line = it->line;
            return ntm_error_set(err, NTM_EBADENTRY, "%s", it->lerr.msg);
        }
        Ntm_ingest_reject(in, it->line, NTM_EBADENTRY, it->lerr.msg);
        return NTM_OK;
    }
    if (in->o.flags & NTM_INGEST_GSEQ) {
        if (it->gseq <= in->last_gseq) {
            in->fail_line = it->line;
            return ntm_error_set(err, NTM_EPROTO,
                                 "server sent gseq %lld after %lld - its "
                                 "order must strictly increase",
                                 (long long)it->gseq, (long long)in->last_gseq);
        }
        in->last_gseq = it->gseq;
    }
    size_t elen;
    const char *sig;
    const char *entry = ntm_checked_bytes(it->chk, &elen, &sig);
    enum ntm_err rc =
        judge(in, it->line, it->token, entry, elen, sig, it->chk, 0, err);
    if (rc != NTM_OK && !in->fail_line)
        in->fail_line = it->line;
    return rc;
}

enum ntm_err
Ntm_ingest_prepared(struct Ntm_ingest *in, struct Ntm_prep *p,
                    struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    for (size_t i = 0; i < p->n && rc == NTM_OK; i++) {
        if ((rc = batch_open(in, err)) != NTM_OK)
            break;
        in->lines++;
        rc = batch_step(in, take_prepared(in, &p->v[i], err), err);
        /* What was taken is not needed again: memory stays that of the
         * lines not yet taken. */
        ntm_checked_free(p->v[i].chk);
        p->v[i].chk = NULL;
    }
    return rc;
}

void
Ntm_prep_init(struct Ntm_prep *p)
{
    memset(p, 0, sizeof(*p));
}

void
Ntm_prep_release(struct Ntm_prep *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        ntm_checked_free(p->v[i].chk);
    ntm_free(p->v);
    memset(p, 0, sizeof(*p));
}

enum ntm_err
Ntm_prep_add(struct Ntm_prep *p, int64_t line, int64_t token, const char *text,
             size_t len)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct Ntm_prep_item *v = ntm_realloc(p->v, cap * sizeof(*v));
        if (!v)
            return NTM_ENOMEM;
        p->v = v;
        p->cap = cap;
    }
    struct Ntm_prep_item *it = &p->v[p->n++];
    memset(it, 0, sizeof(*it));
    it->line = line;
    it->token = token;
    it->text = text;
    it->len = len;
    it->gseq = -1;
    return NTM_OK;
}

static int
prep_one(void *ud, int n, const char *line, size_t len)
{
    return Ntm_prep_add(ud, n, n, line, len) != NTM_OK;
}

enum ntm_err
Ntm_prep_lines(struct Ntm_prep *p, const char *buf, size_t len)
{
    return Ntm_lines_foreach(buf ? buf : "", len, prep_one, p) ? NTM_ENOMEM
                                                               : NTM_OK;
}

static void
prep_run_one(void *ud, size_t i)
{
    struct Ntm_prep_item *it = &((struct Ntm_prep *)ud)->v[i];
    json_t *o = NULL;
    const char *entry, *sig;
    size_t elen;
    ntm_error_clear(&it->lerr);
    it->rc = Ntm_line_read(it->text, it->len, &o, &entry, &elen, &sig,
                           &it->gseq, &it->lerr);
    if (it->rc == NTM_OK &&
        ntm_entry_check(&it->chk, entry, elen, sig) != NTM_OK)
        it->rc = NTM_ENOMEM;
    json_decref(o);
}

void
Ntm_prep_run(struct Ntm_prep *p, unsigned threads)
{
    ntm_par_for(p->n, prep_run_one, p, threads);
}

enum ntm_err
Ntm_ingest_line(struct Ntm_ingest *in, int64_t line, int64_t token,
                const char *text, size_t len, struct ntm_error *err)
{
    enum ntm_err rc = batch_open(in, err);
    if (rc != NTM_OK)
        return rc;
    in->lines++;
    return batch_step(in, take(in, line, token, text, len, 0, err), err);
}

struct lines_ctx {
    struct Ntm_ingest *in;
    struct ntm_error *err;
    enum ntm_err rc;
};

static int
lines_one(void *ud, int n, const char *line, size_t len)
{
    struct lines_ctx *lc = ud;
    lc->rc = Ntm_ingest_line(lc->in, n, n, line, len, lc->err);
    return lc->rc != NTM_OK;
}

enum ntm_err
Ntm_ingest_lines(struct Ntm_ingest *in, const char *buf, size_t len,
                 struct ntm_error *err)
{
    struct Ntm_prep p;
    Ntm_prep_init(&p);
    if (Ntm_prep_lines(&p, buf, len) != NTM_OK) {
        /* Line by line, as read: no memory for checking ahead. */
        Ntm_prep_release(&p);
        struct lines_ctx lc = {in, err, NTM_OK};
        Ntm_lines_foreach(buf ? buf : "", len, lines_one, &lc);
        return lc.rc;
    }
    Ntm_prep_run(&p, 0);
    enum ntm_err rc = Ntm_ingest_prepared(in, &p, err);
    Ntm_prep_release(&p);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Lines that waited */

enum ntm_err
Ntm_ingest_retry(struct Ntm_ingest *in, Ntm_ingest_read_fn read, void *ud,
                 struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    int final = 0;
    while (rc == NTM_OK && in->nretry > 0) {
        struct Ntm_retry_item *items = in->retry;
        size_t n = in->nretry;
        in->retry = NULL;
        in->nretry = in->capretry = 0;
        for (size_t i = 0; i < n && rc == NTM_OK; i++) {
            const char *text;
            size_t len;
            if ((rc = batch_open(in, err)) != NTM_OK)
                break;
            rc = read(ud, items[i].token, &text, &len, err);
            if (rc == NTM_OK)
                rc = take(in, items[i].line, items[i].token, text, len, final,
                          err);
            rc = batch_step(in, rc, err);
        }
        if (rc == NTM_OK)
            rc = Ntm_ingest_end(in, err);
        ntm_free(items);
        if (in->nretry == n)
            final = 1; /* no progress: the next round reports them */
    }
    return rc;
}
