/* SPDX-License-Identifier: MIT */
/*
 * client.c - the device side of the sync protocol (SPEC.md section 6):
 * info, setup, push and pull, over the session of transport.c.
 *
 * Push and pull are built so that a process killed at any instant loses
 * nothing and duplicates nothing: push only records what the server
 * acknowledged (peer heads from each batch's answer), pull applies a page
 * and advances its cursor in one store transaction. The server is never
 * trusted for content: every pulled entry goes through the store's
 * validation (ingest.c). Depends on util/, crypto/, store/, and sync/'s
 * wire.c, ingest.c and transport.c; not on libcurl.
 */
#include "sync_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES_MAX (4u << 20) /* push body before gzip */

/* GET /v1/info and compare the root key with the pinned one. */
static enum ntm_err
get_info(struct Ntm_session *s, json_t **info, struct ntm_error *err)
{
    struct Ntm_http_resp r = {0};
    r.cap = s->o.max_response;
    const struct ntm_key *k = s->key;
    s->key = NULL; /* info is not authenticated */
    enum ntm_err rc = Ntm_request(s, "GET", "/v1/info", NULL, 0, &r, err);
    s->key = k;
    if (rc == NTM_OK)
        rc = Ntm_http_json(&r, "/v1/info", info, err);
    ntm_buf_release(&r.body);
    if (rc != NTM_OK)
        return rc;
    const char *root = json_string_value(json_object_get(*info, "root_key"));
    const char *name = json_string_value(json_object_get(*info, "server"));
    if (!name || strcmp(name, "ntm") != 0 || !root ||
        strlen(root) != NTM_HEX_ID_LEN ||
        !ntm_is_lower_hex(root, NTM_HEX_ID_LEN)) {
        json_decref(*info);
        *info = NULL;
        return ntm_error_set(err, NTM_EPROTO,
                             "%s does not answer like an ntm server", s->url);
    }
    return NTM_OK;
}

static enum ntm_err
check_root(struct Ntm_session *s, json_t *info, struct ntm_error *err)
{
    char pinned[NTM_HEX_ID_LEN + 1];
    const char *root = json_string_value(json_object_get(info, "root_key"));
    if (ntm_store_root(s->st, pinned) != NTM_OK)
        return ntm_store_set_root(s->st, root, err);
    if (strcmp(pinned, root) != 0)
        return ntm_error_set(err, NTM_EROOTKEY,
                             "server %s reports root key %.16s... but this "
                             "home pins %.16s... - refusing to sync with it",
                             s->url, root, pinned);
    return NTM_OK;
}

/* The server must never hold less than it acknowledged. */
static enum ntm_err
check_gseq(struct Ntm_session *s, json_t *info, struct ntm_error *err)
{
    int64_t seen = 0;
    json_t *lg = json_object_get(info, "last_gseq");
    if (!json_is_integer(lg))
        return NTM_OK;
    ntm_store_meta_get_int(s->st, NTM_SYNC_KEY_SERVER_GSEQ, 0, &seen, NULL);
    if (json_integer_value(lg) < seen)
        return ntm_error_set(err, NTM_EROLLBACK,
                             "server %s went backwards: it now holds %lld "
                             "entries in its order but already showed %lld - "
                             "it may have been restored from an old backup; "
                             "refusing to sync, tell its admin",
                             s->url, (long long)json_integer_value(lg),
                             (long long)seen);
    return NTM_OK;
}

/*
 * The server's announced reset (GET /v1/info "reset", sync/reset.c): when
 * it is signed by this store's root, about this root, with an epoch above
 * the last one accepted here and a last_gseq the server has not gone below
 * again, forget what the server acknowledged before (its gseq, its heads)
 * and pull from the start; the push that follows sends everything it
 * lacks. *epoch: the epoch accepted now, 0 when none.
 */
static enum ntm_err
accept_reset(struct Ntm_session *s, json_t *info, int64_t *epoch,
             struct ntm_error *err)
{
    char root[NTM_HEX_ID_LEN + 1];
    struct Ntm_reset r;
    int64_t had = 0;
    *epoch = 0;
    json_t *reset = json_object_get(info, "reset");
    json_t *lg = json_object_get(info, "last_gseq");
    if (!reset || !json_is_integer(lg))
        return NTM_OK;
    if (ntm_store_root(s->st, root) != NTM_OK || !root[0])
        return NTM_OK;
    ntm_store_meta_get_int(s->st, NTM_SYNC_KEY_RESET_EPOCH, 0, &had, NULL);
    struct ntm_error why;
    if (Ntm_reset_check(reset, root, &r, &why) != NTM_OK)
        return ntm_error_set(err, NTM_EROLLBACK,
                             "server %s hands out a reset statement that "
                             "does not hold (%s) - refusing to sync, tell "
                             "its admin",
                             s->url, why.msg);
    if (r.epoch <= had)
        return NTM_OK;
    if (json_integer_value(lg) < r.last_gseq)
        return ntm_error_set(err, NTM_EROLLBACK,
                             "server %s went back below its announced reset "
                             "(gseq %lld, announced %lld) - refusing to sync, "
                             "tell its admin",
                             s->url, (long long)json_integer_value(lg),
                             (long long)r.last_gseq);
    enum ntm_err rc = ntm_store_begin(s->st, err);
    if (rc != NTM_OK)
        return rc;
    if ((rc = ntm_store_peer_heads_clear(s->st, err)) == NTM_OK &&
        (rc = ntm_store_meta_set_int(s->st, NTM_SYNC_KEY_CURSOR, 0, err)) ==
            NTM_OK &&
        (rc = ntm_store_meta_set_int(s->st, NTM_SYNC_KEY_SERVER_GSEQ,
                                     json_integer_value(lg), err)) == NTM_OK &&
        (rc = ntm_store_meta_set_int(s->st, NTM_SYNC_KEY_RESET_EPOCH, r.epoch,
                                     err)) == NTM_OK)
        rc = ntm_store_commit(s->st, err);
    else
        ntm_store_rollback(s->st);
    if (rc == NTM_OK)
        *epoch = r.epoch;
    return rc;
}

static enum ntm_err
get_heads(struct Ntm_session *s, const char *author, json_t **heads,
          struct ntm_error *err)
{
    struct Ntm_http_resp r = {0};
    char path[128];
    json_t *v = NULL;
    r.cap = s->o.max_response;
    if (author)
        snprintf(path, sizeof path, "/v1/heads?author=%s", author);
    else
        snprintf(path, sizeof path, "/v1/heads");
    enum ntm_err rc = Ntm_request(s, "GET", path, NULL, 0, &r, err);
    if (rc == NTM_OK)
        rc = Ntm_http_json(&r, "/v1/heads", &v, err);
    ntm_buf_release(&r.body);
    if (rc != NTM_OK)
        return rc;
    *heads = json_incref(json_object_get(v, "heads"));
    json_decref(v);
    if (!json_is_object(*heads)) {
        json_decref(*heads);
        *heads = NULL;
        return ntm_error_set(err, NTM_EPROTO, "/v1/heads lacks \"heads\"");
    }
    return NTM_OK;
}

static int64_t
head_seq(json_t *heads, const char *author)
{
    json_t *s = json_object_get(json_object_get(heads, author), "seq");
    return json_is_integer(s) ? json_integer_value(s) : 0;
}

/* Compare the server's heads with what it acknowledged before, and learn
 * from them what it holds (peer heads). */
static enum ntm_err
check_heads(struct Ntm_session *s, json_t *server, json_t *local,
            struct ntm_error *err)
{
    const char *a;
    json_t *unused;
    json_object_foreach (local, a, unused) {
        int64_t peer = 0;
        ntm_store_peer_head_get(s->st, a, &peer, NULL);
        int64_t have = head_seq(server, a);
        if (have < peer)
            return ntm_error_set(err, NTM_EROLLBACK,
                                 "server %s went backwards: it holds author "
                                 "%.16s... up to seq %lld but acknowledged "
                                 "seq %lld before - refusing to sync, tell "
                                 "its admin",
                                 s->url, a, (long long)have, (long long)peer);
    }
    json_object_foreach (local, a, unused) {
        json_t *h = json_object_get(server, a);
        const char *id = json_string_value(json_object_get(h, "id"));
        int64_t seq = head_seq(server, a);
        if (id && seq > 0) {
            enum ntm_err rc = ntm_store_peer_head_set(s->st, a, seq, id, err);
            if (rc != NTM_OK)
                return rc;
        }
    }
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* public: info and setup */

enum ntm_err
ntm_client_info(const struct ntm_client_opts *o, json_t **info,
                struct ntm_error *err)
{
    struct Ntm_session s;
    *info = NULL;
    if (!o || !o->url)
        return ntm_error_set(err, NTM_EINVAL, "no server URL given");
    enum ntm_err rc = Ntm_session_open(&s, NULL, NULL, o, err);
    if (rc != NTM_OK)
        return rc;
    rc = get_info(&s, info, err);
    Ntm_session_close(&s);
    return rc;
}

enum ntm_err
ntm_client_setup(struct ntm_store *st, const struct ntm_client_opts *o,
                 char root[NTM_HEX_ID_LEN + 1], char fingerprint[40],
                 struct ntm_error *err)
{
    json_t *info = NULL;
    char pinned[NTM_HEX_ID_LEN + 1];
    enum ntm_err rc = ntm_client_info(o, &info, err);
    if (rc != NTM_OK)
        return rc;
    const char *r = json_string_value(json_object_get(info, "root_key"));
    memcpy(root, r, NTM_HEX_ID_LEN + 1);
    json_decref(info);
    int p = 0;
    for (int i = 0; i < 16; i++) {
        fingerprint[p++] = root[i];
        if (i % 4 == 3 && i != 15)
            fingerprint[p++] = ' ';
    }
    fingerprint[p] = '\0';
    /* A home that already pins a root (made with --root or --root-key, or
     * set up before) only follows a server of that same root. */
    if (ntm_store_root(st, pinned) == NTM_OK && strcmp(pinned, root) != 0)
        return ntm_error_set(err, NTM_EROOTKEY,
                             "server %s reports root key %.16s... but this "
                             "home pins %.16s... - it is another province's "
                             "server, or an impostor; settings unchanged",
                             o->url, root, pinned);
    /* The settings change together or not at all. */
    if ((rc = ntm_store_begin(st, err)) != NTM_OK)
        return rc;
    if ((rc = ntm_store_set_root(st, root, err)) != NTM_OK ||
        (rc = Ntm_sync_settings_save(st, o->url, o->cacert, o->pin, err)) !=
            NTM_OK ||
        (rc = ntm_store_commit(st, err)) != NTM_OK) {
        ntm_store_rollback(st);
        return rc;
    }
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* push */

void
ntm_push_result_release(struct ntm_push_result *r)
{
    if (!r)
        return;
    json_decref(r->flagged);
    json_decref(r->rejected);
    memset(r, 0, sizeof *r);
}

struct push_state {
    struct Ntm_session *s;
    struct ntm_push_result *res;
    json_t *known;    /* author -> seq the server holds or was sent */
    json_t *rejected; /* authors with a rejected entry: skip the rest */
    struct ntm_buf batch;
    int64_t lines;
    int64_t cursor; /* last local gseq looked at */
    unsigned max_batch;
    int64_t total;
};

static int
push_collect(void *ud, const struct ntm_entry_view *e)
{
    struct push_state *ps = ud;
    ps->cursor = e->gseq;
    if (json_object_get(ps->rejected, e->author))
        return 0;
    json_t *k = json_object_get(ps->known, e->author);
    int64_t known = json_is_integer(k) ? json_integer_value(k) : 0;
    if (e->seq <= known)
        return 0;
    if (Ntm_line_add(&ps->batch, -1, e->bytes, e->len, e->sig) != NTM_OK)
        return -1;
    json_object_set_new(ps->known, e->author, json_integer(e->seq));
    ps->lines++;
    return ps->lines >= ps->max_batch || ps->batch.len >= BATCH_BYTES_MAX;
}

static void
note_list(json_t *dst, json_t *src)
{
    size_t i;
    json_t *x;
    json_array_foreach (src, i, x) {
        json_t *o = json_object();
        json_object_set(o, "author", json_object_get(x, "author"));
        json_object_set(o, "seq", json_object_get(x, "seq"));
        json_object_set(o, "code", json_object_get(x, "code"));
        json_object_set(o, "message", json_object_get(x, "message"));
        json_array_append_new(dst, o);
    }
}

static enum ntm_err
push_flush(struct push_state *ps, struct ntm_error *err)
{
    struct Ntm_session *s = ps->s;
    struct Ntm_http_resp r = {0};
    json_t *v = NULL;
    r.cap = s->o.max_response;
    enum ntm_err rc = Ntm_request(s, "POST", "/v1/entries", ps->batch.buf,
                                  ps->batch.len, &r, err);
    if (rc == NTM_OK)
        rc = Ntm_http_json(&r, "POST /v1/entries", &v, err);
    ntm_buf_release(&r.body);
    if (rc != NTM_OK)
        return rc;
    ps->res->sent += ps->lines;
    ps->res->batches++;
    json_t *a = json_object_get(v, "accepted");
    json_t *d = json_object_get(v, "duplicates");
    ps->res->accepted += json_is_integer(a) ? json_integer_value(a) : 0;
    ps->res->duplicates += json_is_integer(d) ? json_integer_value(d) : 0;
    note_list(ps->res->flagged, json_object_get(v, "flagged"));
    note_list(ps->res->rejected, json_object_get(v, "rejected"));
    size_t i;
    json_t *x;
    json_array_foreach (json_object_get(v, "rejected"), i, x) {
        const char *au = json_string_value(json_object_get(x, "author"));
        if (au && *au)
            json_object_set_new(ps->rejected, au, json_true());
    }
    /* What the server acknowledged is durable there: remember it. */
    const char *au;
    json_t *h;
    json_object_foreach (json_object_get(v, "heads"), au, h) {
        const char *id = json_string_value(json_object_get(h, "id"));
        json_t *sq = json_object_get(h, "seq");
        if (id && json_is_integer(sq)) {
            rc = ntm_store_peer_head_set(s->st, au, json_integer_value(sq), id,
                                         err);
            if (rc != NTM_OK)
                break;
        }
    }
    json_decref(v);
    ntm_buf_reset(&ps->batch);
    ps->lines = 0;
    if (s->o.progress)
        s->o.progress(s->o.progress_ud, "sent", ps->res->sent, ps->total);
    return rc;
}

static enum ntm_err heal_own_chain(struct Ntm_session *s,
                                   const struct ntm_key *key, json_t *server,
                                   struct ntm_heal *h, struct ntm_error *err);

enum ntm_err
ntm_client_push(struct ntm_store *st, const struct ntm_key *key,
                const struct ntm_client_opts *o, struct ntm_push_result *res,
                struct ntm_error *err)
{
    struct ntm_error local_err;
    if (!err)
        err = &local_err;
    struct Ntm_session s;
    json_t *info = NULL, *server = NULL, *local = NULL;
    struct push_state ps;
    enum ntm_err rc;
    int64_t reset_epoch = 0;

    memset(res, 0, sizeof *res);
    memset(&ps, 0, sizeof ps);
    res->flagged = json_array();
    res->rejected = json_array();
    if ((rc = Ntm_session_open(&s, st, key, o, err)) != NTM_OK)
        return rc;
    if ((rc = get_info(&s, &info, err)) != NTM_OK ||
        (rc = check_root(&s, info, err)) != NTM_OK ||
        (rc = accept_reset(&s, info, &reset_epoch, err)) != NTM_OK ||
        (rc = check_gseq(&s, info, err)) != NTM_OK ||
        (rc = get_heads(&s, NULL, &server, err)) != NTM_OK ||
        (rc = ntm_store_heads(st, NULL, &local, err)) != NTM_OK ||
        (rc = check_heads(&s, server, local, err)) != NTM_OK ||
        (rc = heal_own_chain(&s, key, server, &res->heal, err)) != NTM_OK)
        goto out;
    res->heal.server_reset = reset_epoch;
    if (res->heal.restored || res->heal.stranded || res->heal.reissued) {
        json_decref(local);
        local = NULL;
        if ((rc = ntm_store_heads(st, NULL, &local, err)) != NTM_OK)
            goto out;
    }

    ps.s = &s;
    ps.res = res;
    ps.known = json_object();
    ps.rejected = json_object();
    /* A copied home's own entries wait for its new key. */
    if (res->heal.copied) {
        char me[NTM_HEX_ID_LEN + 1];
        ntm_key_author(key, me);
        json_object_set_new(ps.rejected, me, json_true());
    }
    json_t *mb = json_object_get(info, "max_batch");
    ps.max_batch = s.o.max_batch
                       ? s.o.max_batch
                       : (json_is_integer(mb) && json_integer_value(mb) > 0
                              ? (unsigned)json_integer_value(mb)
                              : NTM_SYNC_DEFAULT_MAX_BATCH);
    const char *a;
    json_t *h;
    json_object_foreach (local, a, h) {
        int64_t have = head_seq(server, a), mine = head_seq(local, a);
        json_object_set_new(ps.known, a, json_integer(have));
        if (mine > have)
            ps.total += mine - have;
    }

    /* Walk the log in local arrival order: each author's entries come in
     * seq order and an enrollment before the entries it covers. */
    for (;;) {
        struct ntm_entry_query q;
        memset(&q, 0, sizeof q);
        q.after_gseq = ps.cursor;
        q.limit = 2000;
        int64_t before = ps.cursor;
        rc = ntm_store_entries(st, &q, push_collect, &ps, err);
        if (rc != NTM_OK)
            goto out;
        if (ps.lines >= ps.max_batch || ps.batch.len >= BATCH_BYTES_MAX) {
            if ((rc = push_flush(&ps, err)) != NTM_OK)
                goto out;
        }
        if (ps.cursor == before)
            break;
    }
    if (ps.lines > 0 && (rc = push_flush(&ps, err)) != NTM_OK)
        goto out;
    ntm_store_meta_set_int(st, NTM_SYNC_KEY_LAST_PUSH, ntm_now_ms(), NULL);
    json_t *lg = json_object_get(info, "last_gseq");
    if (json_is_integer(lg)) {
        int64_t seen = 0;
        ntm_store_meta_get_int(st, NTM_SYNC_KEY_SERVER_GSEQ, 0, &seen, NULL);
        if (json_integer_value(lg) > seen)
            ntm_store_meta_set_int(st, NTM_SYNC_KEY_SERVER_GSEQ,
                                   json_integer_value(lg), NULL);
    }
out:
    ntm_buf_release(&ps.batch);
    json_decref(ps.known);
    json_decref(ps.rejected);
    json_decref(info);
    json_decref(server);
    json_decref(local);
    Ntm_session_close(&s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* pull */

struct pull_ctx {
    struct ntm_store *st;
    struct Ntm_pull_counts *c;
    /* The server's head of the author of the last lines held, saved
     * once that author's run of lines ends (a page is mostly runs of
     * one author's lines: one write per run, not per line). */
    char author[NTM_HEX_ID_LEN + 1];
    char id[NTM_HEX_ID_LEN + 1];
    int64_t seq;
};

static enum ntm_err
peer_head_flush(struct pull_ctx *p, struct ntm_error *err)
{
    if (!p->author[0])
        return NTM_OK;
    enum ntm_err rc =
        ntm_store_peer_head_set(p->st, p->author, p->seq, p->id, err);
    p->author[0] = '\0';
    return rc;
}

/* Each entry the store holds now (new or not) is one the server holds. A
 * line of this device's own chain refused as a fork marks where the
 * chains part. */
static enum ntm_err
pull_taken(void *ud, const struct ntm_ingest_result *r, struct ntm_error *err)
{
    struct pull_ctx *p = ud;
    if (r->verdict == NTM_EFORK && p->c->own && r->seq > 0 &&
        !strcmp(r->author, p->c->own) &&
        (p->c->own_fork_seq == 0 || r->seq < p->c->own_fork_seq))
        p->c->own_fork_seq = r->seq;
    if (r->verdict != NTM_OK)
        return NTM_OK;
    if (p->author[0] && strcmp(p->author, r->author) != 0) {
        enum ntm_err rc = peer_head_flush(p, err);
        if (rc != NTM_OK)
            return rc;
    }
    if (!p->author[0] || r->seq > p->seq) {
        memcpy(p->author, r->author, sizeof p->author);
        memcpy(p->id, r->id, sizeof p->id);
        p->seq = r->seq;
    }
    return NTM_OK;
}

/* Apply a page's lines (prep: read and checked ahead, or NULL to read
 * body line by line). */
static enum ntm_err
pull_apply(struct ntm_store *st, struct Ntm_prep *prep, const char *body,
           size_t len, int64_t after, struct Ntm_pull_counts *c,
           struct ntm_error *err)
{
    struct Ntm_ingest in;
    struct pull_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.st = st;
    ctx.c = c;
    struct Ntm_ingest_opts o = {NTM_SOURCE_PULL,
                                NTM_INGEST_STRICT | NTM_INGEST_GSEQ,
                                0,
                                pull_taken,
                                NULL,
                                &ctx};
    enum ntm_err rc = Ntm_ingest_init(&in, st, &o, err);
    in.last_gseq = after;
    if (rc == NTM_OK)
        rc = prep ? Ntm_ingest_prepared(&in, prep, err)
                  : Ntm_ingest_lines(&in, body, len, err);
    if (rc == NTM_OK)
        rc = peer_head_flush(&ctx, err);
    if (rc == NTM_EBADENTRY) {
        char why[NTM_ERROR_SIZE];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        rc = ntm_error_set(err, NTM_EPROTO,
                           "server sent a malformed entry line: %s", why);
    }
    c->last_gseq = in.last_gseq;
    c->received += in.lines;
    c->applied += in.accepted;
    c->invalid += in.invalid;
    Ntm_ingest_release(&in);
    return rc;
}

enum ntm_err
Ntm_pull_apply(struct ntm_store *st, const char *body, size_t len,
               int64_t after, struct Ntm_pull_counts *c, struct ntm_error *err)
{
    return pull_apply(st, NULL, body, len, after, c, err);
}

/*
 * A page of a pull, fetched and read ahead: its answer, its headers
 * checked, its lines parsed and their signatures verified (Ntm_prep),
 * nothing applied. The next page is fetched and checked on a thread of
 * its own while the store takes this one, so the network, the server and
 * the verification of page n+1 overlap the single writer of page n. The
 * fetch never touches the store (the session's store is set aside while
 * a fetch may run), and a page is still applied with its cursor in one
 * transaction, in order: a pull cut at any instant resumes as before.
 */
struct pull_fetch {
    struct Ntm_session *s;
    const char *author; /* NULL: every author */
    int64_t after;
    struct Ntm_http_resp r;
    struct Ntm_prep prep;
    int prepped; /* 0: no memory to read ahead, the body is read at apply */
    enum ntm_err rc;
    struct ntm_error err;
};

static void
fetch_release(struct pull_fetch *f)
{
    ntm_buf_release(&f->r.body);
    Ntm_prep_release(&f->prep);
}

static void
fetch_page(struct pull_fetch *f)
{
    struct Ntm_session *s = f->s;
    char path[192];
    memset(&f->r, 0, sizeof f->r);
    Ntm_prep_init(&f->prep);
    f->prepped = 0;
    ntm_error_clear(&f->err);
    f->r.cap = s->o.max_response;
    if (f->author)
        snprintf(path, sizeof path, "/v1/entries?after=%lld&limit=%u&author=%s",
                 (long long)f->after, s->o.page, f->author);
    else
        snprintf(path, sizeof path, "/v1/entries?after=%lld&limit=%u",
                 (long long)f->after, s->o.page);
    f->rc = Ntm_request(s, "GET", path, NULL, 0, &f->r, &f->err);
    if (f->rc != NTM_OK)
        return;
    if (f->r.next_after < 0 || f->r.more < 0) {
        f->rc = ntm_error_set(&f->err, NTM_EPROTO,
                              "server answer lacks Ntm-Next-After or Ntm-More");
        return;
    }
    if (f->r.next_after < f->after) {
        f->rc = ntm_error_set(&f->err, NTM_EROLLBACK,
                              "server %s went backwards: next position %lld "
                              "is before %lld - refusing to pull, tell its "
                              "admin",
                              s->url, (long long)f->r.next_after,
                              (long long)f->after);
        return;
    }
    if (Ntm_prep_lines(&f->prep, f->r.body.buf, f->r.body.len) != NTM_OK) {
        Ntm_prep_release(&f->prep);
        return;
    }
    Ntm_prep_run(&f->prep, 0);
    f->prepped = 1;
}

static void
fetch_ahead(void *arg)
{
    fetch_page(arg);
}

/* Apply a fetched page in one transaction with the cursor (when
 * cursor_key is not NULL). */
static enum ntm_err
apply_page(struct ntm_store *st, struct pull_fetch *f, const char *cursor_key,
           struct Ntm_pull_counts *pc, struct ntm_error *err)
{
    enum ntm_err rc = ntm_store_begin(st, err);
    if (rc != NTM_OK)
        return rc;
    rc = pull_apply(st, f->prepped ? &f->prep : NULL, f->r.body.buf,
                    f->r.body.len, f->after, pc, err);
    if (rc == NTM_OK && pc->last_gseq > f->r.next_after)
        rc = ntm_error_set(err, NTM_EPROTO,
                           "server's Ntm-Next-After is below its last line");
    if (rc == NTM_OK && cursor_key) {
        rc = ntm_store_meta_set_int(st, cursor_key, f->r.next_after, err);
        int64_t seen = 0;
        ntm_store_meta_get_int(st, NTM_SYNC_KEY_SERVER_GSEQ, 0, &seen, NULL);
        if (rc == NTM_OK && f->r.next_after > seen)
            rc = ntm_store_meta_set_int(st, NTM_SYNC_KEY_SERVER_GSEQ,
                                        f->r.next_after, err);
    }
    if (rc == NTM_OK)
        rc = ntm_store_commit(st, err);
    else
        ntm_store_rollback(st);
    return rc;
}

/*
 * Pull pages from *after until the server has no more (author: only that
 * author's chain; cursor_key: the meta key that keeps the position, or
 * NULL). Counts in pc; *after is the position of the last page applied,
 * also when a later one fails. progress: report "received" after each
 * page.
 */
static enum ntm_err
pull_pages(struct Ntm_session *s, const char *author, int64_t *after,
           const char *cursor_key, struct Ntm_pull_counts *pc, int progress,
           struct ntm_error *err)
{
    struct ntm_store *st = s->st;
    int64_t offset = s->clock_offset;
    struct pull_fetch f[2];
    int cur = 0;
    enum ntm_err rc;

    memset(f, 0, sizeof f);
    f[0].s = f[1].s = s;
    f[0].author = f[1].author = author;
    f[0].after = *after;
    s->st = NULL;
    fetch_page(&f[0]);
    for (;;) {
        struct pull_fetch *now = &f[cur], *ahead = &f[cur ^ 1];
        struct ntm_ahead next;
        memset(&next, 0, sizeof next);
        if ((rc = now->rc) != NTM_OK) {
            if (err)
                *err = now->err;
            break;
        }
        if (now->r.more) {
            ahead->after = now->r.next_after;
            ntm_ahead_start(&next, fetch_ahead, ahead);
        }
        /* The counts of a page count once it is committed. */
        struct Ntm_pull_counts page = *pc;
        rc = apply_page(st, now, cursor_key, &page, err);
        ntm_ahead_wait(&next);
        if (rc == NTM_OK) {
            *pc = page;
            *after = now->r.next_after;
            if (progress && s->o.progress)
                s->o.progress(s->o.progress_ud, "received", pc->received, 0);
        }
        int more = now->r.more;
        fetch_release(now);
        if (rc != NTM_OK || !more)
            break;
        cur ^= 1;
    }
    fetch_release(&f[0]);
    fetch_release(&f[1]);
    s->st = st;
    /* A clock offset learnt by a fetch is kept now, out of its thread. */
    if (st && s->clock_offset != offset)
        ntm_store_meta_set_int(st, NTM_SYNC_KEY_CLOCK_OFFSET, s->clock_offset,
                               NULL);
    return rc;
}

/* The id of the store's entry of author at seq ("" when none held). */
static int
own_id_at_cb(void *ud, const struct ntm_entry_view *e)
{
    snprintf(ud, NTM_HEX_ID_LEN + 1, "%s", e->id);
    return 1;
}

/* Pull author's own chain from the server (every page); counts in pc. */
static enum ntm_err
pull_own(struct Ntm_session *s, const char *me, struct Ntm_pull_counts *pc,
         struct ntm_error *err)
{
    int64_t after = 0;
    return pull_pages(s, me, &after, NULL, pc, 0, err);
}

/*
 * This device's own chain against the server's (struct ntm_heal in
 * ntm_sync.h). server: the server's heads (at least this device's).
 * Cheap when all is well: one look at the store's entry at the server's
 * head seq.
 */
static enum ntm_err
heal_own_chain(struct Ntm_session *s, const struct ntm_key *key, json_t *server,
               struct ntm_heal *h, struct ntm_error *err)
{
    char me[NTM_HEX_ID_LEN + 1], at[NTM_HEX_ID_LEN + 1] = "";
    int64_t local = 0, pending = 0, total = 0;
    enum ntm_err rc;

    memset(h, 0, sizeof *h);
    ntm_key_author(key, me);
    /* A copy of this home found before (a fork in another place), and
     * where this store was made. */
    char *needed = NULL, *was = NULL;
    ntm_store_meta_get(s->st, NTM_META_REKEY_NEEDED, &needed, NULL);
    int copied = needed && !strcmp(needed, me);
    ntm_free(needed);
    ntm_store_meta_get(s->st, NTM_META_HOME_PLACE, &was, NULL);
    int moved = was && s->o.place && strcmp(was, s->o.place) != 0;
    if (!was && s->o.place &&
        (rc = ntm_store_meta_set(s->st, NTM_META_HOME_PLACE, s->o.place,
                                 err)) != NTM_OK)
        return rc;
    ntm_free(was);
    int64_t S = head_seq(server, me);
    const char *sid =
        json_string_value(json_object_get(json_object_get(server, me), "id"));
    ntm_store_head(s->st, me, &local, NULL);
    int doubt = S > local;
    if (!doubt && S > 0) {
        struct ntm_entry_query q;
        memset(&q, 0, sizeof q);
        q.author = me;
        q.after_seq = S - 1;
        q.limit = 1;
        q.by_author_seq = 1;
        if ((rc = ntm_store_entries(s->st, &q, own_id_at_cb, at, err)) !=
            NTM_OK)
            return rc;
        doubt = !sid || strcmp(at, sid) != 0;
    }
    if (doubt) {
        struct Ntm_pull_counts pc;
        memset(&pc, 0, sizeof pc);
        pc.own = me;
        if ((rc = pull_own(s, me, &pc, err)) != NTM_OK)
            return rc;
        h->restored = pc.applied;
        if (pc.own_fork_seq > 0) {
            /* The chains part at own_fork_seq: this device's entries from
             * there on never reached the server. Set them aside, take the
             * true chain, write them again on top of it. */
            h->forked_at = pc.own_fork_seq;
            if ((rc = ntm_store_strand(s->st, me, pc.own_fork_seq, &h->stranded,
                                       err)) != NTM_OK)
                return rc;
            /* Made elsewhere: a copy of this home signs with this key
             * too. Writing the entries again under it would fork again;
             * they wait for a new key. */
            if (moved && !copied) {
                if ((rc = ntm_store_meta_set(s->st, NTM_META_REKEY_NEEDED, me,
                                             err)) != NTM_OK)
                    return rc;
                copied = 1;
            }
            memset(&pc, 0, sizeof pc);
            pc.own = me;
            if ((rc = pull_own(s, me, &pc, err)) != NTM_OK)
                return rc;
            h->restored = pc.applied;
            if (pc.own_fork_seq > 0)
                return ntm_error_set(err, NTM_EFORK,
                                     "this device's chain still differs "
                                     "from the server's at seq %lld after "
                                     "setting its own entries aside",
                                     (long long)pc.own_fork_seq);
        }
    }
    h->copied = copied;
    /* Set aside now or by an earlier run that was cut short. */
    if ((rc = ntm_store_stranded(s->st, me, &pending, &total, err)) != NTM_OK)
        return rc;
    if (pending > 0 && !copied) {
        struct ntm_reissue_result rr;
        if ((rc = ntm_store_reissue(s->st, key, &rr, err)) != NTM_OK)
            return rc;
        h->reissued = rr.reissued;
        h->failed = rr.failed;
    }
    /* The server is shown the entries set aside, once: it refuses them as
     * forks and keeps them as evidence for admins (ntm admin forks). Not
     * shown now (a lost link): shown at the next run. */
    int64_t shown = 0;
    struct ntm_error rerr;
    ntm_error_clear(&rerr);
    Ntm_report_stranded(s, me, &shown, &rerr);
    return NTM_OK;
}

enum ntm_err
ntm_client_pull(struct ntm_store *st, const struct ntm_key *key,
                const struct ntm_client_opts *o, struct ntm_pull_result *res,
                struct ntm_error *err)
{
    struct ntm_error local_err;
    if (!err)
        err = &local_err;
    struct Ntm_session s;
    json_t *info = NULL, *own = NULL, *local = NULL;
    struct Ntm_pull_counts pg;
    char me[NTM_HEX_ID_LEN + 1];
    enum ntm_err rc;
    int64_t cursor = 0, reset_epoch = 0;

    memset(res, 0, sizeof *res);
    memset(&pg, 0, sizeof pg);
    if ((rc = Ntm_session_open(&s, st, key, o, err)) != NTM_OK)
        return rc;
    ntm_key_author(key, me);
    if ((rc = get_info(&s, &info, err)) != NTM_OK ||
        (rc = check_root(&s, info, err)) != NTM_OK ||
        (rc = accept_reset(&s, info, &reset_epoch, err)) != NTM_OK ||
        (rc = check_gseq(&s, info, err)) != NTM_OK ||
        (rc = get_heads(&s, me, &own, err)) != NTM_OK ||
        (rc = ntm_store_heads(st, me, &local, err)) != NTM_OK ||
        (rc = check_heads(&s, own, local, err)) != NTM_OK ||
        (rc = heal_own_chain(&s, key, own, &res->heal, err)) != NTM_OK)
        goto out;
    res->own_restored = res->heal.restored;
    res->heal.server_reset = reset_epoch;
    json_decref(local);
    local = NULL;
    if ((rc = ntm_store_heads(st, me, &local, err)) != NTM_OK)
        goto out;

    /* A restored backup: take this device's own chain back first, so that
     * it never writes a second entry at a used seq. */
    if (head_seq(own, me) > head_seq(local, me)) {
        int64_t after = 0;
        struct Ntm_pull_counts op;
        memset(&op, 0, sizeof op);
        rc = pull_pages(&s, me, &after, NULL, &op, 0, err);
        res->own_restored += op.applied;
        if (rc != NTM_OK)
            goto out;
    }

    ntm_store_meta_get_int(st, NTM_SYNC_KEY_CURSOR, 0, &cursor, NULL);
    rc = pull_pages(&s, NULL, &cursor, NTM_SYNC_KEY_CURSOR, &pg, 1, err);
    res->after = cursor;
    res->received = pg.received;
    res->applied = pg.applied;
    res->invalid = pg.invalid;
    if (rc != NTM_OK)
        goto out;
    res->after = cursor;
    ntm_store_meta_set_int(st, NTM_SYNC_KEY_LAST_PULL, ntm_now_ms(), NULL);
out:
    if (res->after == 0)
        res->after = cursor;
    json_decref(info);
    json_decref(own);
    json_decref(local);
    Ntm_session_close(&s);
    return rc;
}

enum ntm_err
ntm_client_reset_statement(struct ntm_store *st, const struct ntm_key *root,
                           const struct ntm_client_opts *o, char **out,
                           int64_t *epoch, int64_t *last_gseq,
                           struct ntm_error *err)
{
    struct Ntm_session s;
    json_t *info = NULL;
    char me[NTM_HEX_ID_LEN + 1], pinned[NTM_HEX_ID_LEN + 1];
    struct Ntm_reset had;
    enum ntm_err rc;

    *out = NULL;
    *epoch = *last_gseq = 0;
    ntm_key_author(root, me);
    if (ntm_store_root(st, pinned) != NTM_OK || strcmp(me, pinned) != 0)
        return ntm_error_set(err, NTM_EFORBIDDEN,
                             "only the root key announces a server reset");
    if ((rc = Ntm_session_open(&s, st, root, o, err)) != NTM_OK)
        return rc;
    if ((rc = get_info(&s, &info, err)) != NTM_OK ||
        (rc = check_root(&s, info, err)) != NTM_OK)
        goto out;
    json_t *lg = json_object_get(info, "last_gseq");
    json_t *reset = json_object_get(info, "reset");
    *epoch = 1;
    if (reset && Ntm_reset_check(reset, me, &had, NULL) == NTM_OK)
        *epoch = had.epoch + 1;
    *last_gseq = json_is_integer(lg) ? json_integer_value(lg) : 0;
    rc = ntm_reset_statement(root, *epoch, *last_gseq, out, err);
out:
    json_decref(info);
    Ntm_session_close(&s);
    return rc;
}
