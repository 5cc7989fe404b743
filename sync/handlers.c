/* SPDX-License-Identifier: MIT */
/*
 * handlers.c - the endpoints of SPEC.md section 6, as a table of
 * {method, path, handler}. A handler gets a parsed, authenticated request
 * and a store connection, and returns an ntm_err plus a body; it never
 * picks an HTTP status (Ntm_http_status does, for every handler).
 *
 * Storage stays behind the store API (ntm_store.h), so another engine can
 * serve a larger deployment without touching this file. Depends on util/,
 * crypto/, store/, jansson; not on libmicrohttpd (server.c owns HTTP).
 */
#include "ntm_server.h"
#include "sync_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#ifndef NTM_VERSION
#define NTM_VERSION "0"
#endif

/* ------------------------------------------------------------------ */
/* helpers */

int
Ntm_query_get(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
            size_t vl = l - nlen - 1;
            if (vl + 1 > outlen)
                return -1;
            memcpy(out, p + nlen + 1, vl);
            out[vl] = '\0';
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static enum ntm_err
query_int(const char *query, const char *name, int64_t dflt, int64_t min,
          int64_t max, int64_t *out, struct ntm_error *err)
{
    char v[24];
    int r = Ntm_query_get(query, name, v, sizeof v);
    if (r == 0) {
        *out = dflt;
        return NTM_OK;
    }
    if (r < 0 || ntm_parse_int64(v, min, max, out) != NTM_OK)
        return ntm_error_set(err, NTM_EINVAL,
                             "query parameter '%s' must be an integer in "
                             "[%lld, %lld]",
                             name, (long long)min, (long long)max);
    return NTM_OK;
}

static enum ntm_err
query_author(const char *query, char author[NTM_HEX_ID_LEN + 1], int *given,
             struct ntm_error *err)
{
    int r = Ntm_query_get(query, "author", author, NTM_HEX_ID_LEN + 1);
    *given = r > 0;
    if (r < 0 || (r > 0 && (strlen(author) != NTM_HEX_ID_LEN ||
                            !ntm_is_lower_hex(author, NTM_HEX_ID_LEN))))
        return ntm_error_set(err, NTM_EINVAL,
                             "query parameter 'author' must be 64 lowercase "
                             "hex digits");
    return NTM_OK;
}

static enum ntm_err
json_answer(struct Ntm_resp *rs, json_t *v, struct ntm_error *err)
{
    if (!v)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = Ntm_json_add(&rs->body, v, JSON_SORT_KEYS);
    json_decref(v);
    if (rc != NTM_OK)
        return ntm_error_set(err, rc, "out of memory");
    return ntm_buf_addch(&rs->body, '\n');
}

/* ------------------------------------------------------------------ */
/* GET /v1/info, GET /healthz */

static enum ntm_err
h_info(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    int64_t n = 0, last = 0;
    enum ntm_err rc = ntm_store_stats(rq->st, &n, &last, err);
    if (rc != NTM_OK)
        return rc;
    json_t *v = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "server", "ntm", "version",
        NTM_VERSION, "root_key", Ntm_server_root(rq->srv), "server_time_ms",
        (json_int_t)ntm_now_ms(), "max_batch",
        (json_int_t)Ntm_server_max_batch(rq->srv), "max_entry_bytes",
        (json_int_t)NTM_MAX_ENTRY_BYTES, "last_gseq", (json_int_t)last);
    if (v)
        json_object_set_new(v, "max_chunk", json_integer(NTM_ATTACH_MAX_CHUNK));
    /* The root's statement that this server's history was reset, when one
     * was installed (sync/reset.c). */
    char *reset = NULL;
    if (v &&
        ntm_store_meta_get(rq->st, NTM_SERVER_KEY_RESET, &reset, NULL) ==
            NTM_OK &&
        reset) {
        json_t *r = json_loads(reset, 0, NULL);
        if (r)
            json_object_set_new(v, "reset", r);
        ntm_free(reset);
    }
    return json_answer(rs, v, err);
}

static enum ntm_err
h_healthz(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    int64_t n, last;
    enum ntm_err rc = ntm_store_stats(rq->st, &n, &last, err);
    if (rc != NTM_OK)
        return ntm_error_set(err, NTM_EUNAVAIL, "store does not answer: %s",
                             ntm_error_text(err));
    rs->content_type = "text/plain; charset=utf-8";
    return ntm_buf_adds(&rs->body, "ok\n");
}

/* ------------------------------------------------------------------ */
/* GET /v1/heads[?author=<id>] */

static enum ntm_err
h_heads(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    char author[NTM_HEX_ID_LEN + 1];
    int given;
    json_t *heads = NULL;
    enum ntm_err rc = query_author(rq->query, author, &given, err);
    if (rc != NTM_OK)
        return rc;
    rc = ntm_store_heads(rq->st, given ? author : NULL, &heads, err);
    if (rc != NTM_OK)
        return rc;
    rs->entries = (int64_t)json_object_size(heads);
    return json_answer(rs, json_pack("{s:o}", "heads", heads), err);
}

/* ------------------------------------------------------------------ */
/* POST /v1/entries */

/* Every author a line touched, for the heads of the answer. */
static enum ntm_err
push_touched(void *ud, const struct ntm_ingest_result *r, struct ntm_error *err)
{
    if (r->author[0] && json_object_set_new(ud, r->author, json_true()) != 0)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    return NTM_OK;
}

static int
count_lines(void *ud, int n, const char *line, size_t len)
{
    (void)n;
    (void)line;
    (void)len;
    (*(int64_t *)ud)++;
    return 0;
}

/* Pushes checking their lines now, over the whole process. */
static atomic_uint pushes_checking;

static enum ntm_err
h_push(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    int64_t nlines = 0;
    Ntm_lines_foreach(rq->body, rq->body_len, count_lines, &nlines);
    if (nlines > (int64_t)Ntm_server_max_batch(rq->srv))
        return ntm_error_set(err, NTM_ETOOLARGE,
                             "batch of %lld lines passes the limit of %u - "
                             "send at most max_batch lines (see /v1/info)",
                             (long long)nlines, Ntm_server_max_batch(rq->srv));

    struct Ntm_ingest in;
    struct Ntm_prep prep;
    Ntm_prep_init(&prep);
    json_t *touched = json_object();
    json_t *heads = json_object();
    struct Ntm_ingest_opts o = {NTM_SOURCE_PUSH,
                                NTM_INGEST_CASCADE | NTM_INGEST_WIRE,
                                0,
                                push_touched,
                                NULL,
                                touched};
    enum ntm_err rc = Ntm_ingest_init(&in, rq->st, &o, err);
    if (rc == NTM_OK && (!touched || !heads))
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (rc != NTM_OK)
        goto out;

    /* Steps 1-2 of every line (parse, signature), which need no store,
     * before the write lock: concurrent pushes verify on every core while
     * one writer chains, authorizes and stores. A push alone on the
     * server checks on several threads; concurrent ones on their own. */
    if (Ntm_prep_lines(&prep, rq->body, rq->body_len) != NTM_OK) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    unsigned busy = atomic_fetch_add(&pushes_checking, 1);
    Ntm_prep_run(&prep, busy == 0 ? 0 : 1);
    atomic_fetch_sub(&pushes_checking, 1);

    /* One transaction per batch; the answer leaves only after commit. */
    Ntm_server_write_lock(rq->srv);
    rc = ntm_store_begin(rq->st, err);
    if (rc == NTM_OK) {
        rc = Ntm_ingest_prepared(&in, &prep, err);
        if (rc != NTM_OK)
            ntm_store_rollback(rq->st);
        else
            rc = ntm_store_commit(rq->st, err);
    }
    Ntm_server_write_unlock(rq->srv);
    if (rc != NTM_OK)
        goto out;

    const char *a;
    json_t *unused;
    json_object_foreach (touched, a, unused) {
        int64_t seq;
        char id[NTM_HEX_ID_LEN + 1];
        if (ntm_store_head(rq->st, a, &seq, id) == NTM_OK)
            json_object_set_new(
                heads, a,
                json_pack("{s:I, s:s}", "seq", (json_int_t)seq, "id", id));
    }

    struct Ntm_metrics *m = Ntm_server_metrics(rq->srv);
    pthread_mutex_lock(&m->mu);
    m->accepted += in.accepted;
    m->duplicates += in.duplicates;
    for (int i = 0; i < NTM_ERR_LAST; i++) {
        m->rejected[i] += in.rejected_by[i];
        m->flagged[i] += in.flagged_by[i];
    }
    pthread_mutex_unlock(&m->mu);

    rs->entries = in.lines;
    json_t *v = json_pack("{s:I, s:I, s:O, s:O, s:O}", "accepted",
                          (json_int_t)in.accepted, "duplicates",
                          (json_int_t)in.duplicates, "flagged", in.flagged,
                          "rejected", in.rejected, "heads", heads);
    rc = json_answer(rs, v, err);
out:
    Ntm_prep_release(&prep);
    Ntm_ingest_release(&in);
    json_decref(touched);
    json_decref(heads);
    return rc;
}

/* ------------------------------------------------------------------ */
/* GET /v1/entries?after=<g>&limit=<n>[&author=<id>] */

struct pull_ctx {
    struct ntm_buf *out;
    int64_t limit, count, last;
    int more;
    enum ntm_err fail;
};

static int
pull_entry(void *ud, const struct ntm_entry_view *e)
{
    struct pull_ctx *pc = ud;
    if (pc->count == pc->limit) {
        pc->more = 1;
        return 1;
    }
    if (Ntm_line_add(pc->out, e->gseq, e->bytes, e->len, e->sig) != NTM_OK) {
        pc->fail = NTM_ENOMEM;
        return 1;
    }
    pc->count++;
    pc->last = e->gseq;
    return 0;
}

static enum ntm_err
h_pull(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    int64_t after, limit;
    char author[NTM_HEX_ID_LEN + 1];
    int given;
    enum ntm_err rc;
    if ((rc = query_int(rq->query, "after", 0, 0, INT64_MAX / 2, &after,
                        err)) != NTM_OK ||
        (rc = query_int(rq->query, "limit", NTM_SYNC_DEFAULT_PAGE, 1,
                        NTM_SYNC_MAX_PAGE, &limit, err)) != NTM_OK ||
        (rc = query_author(rq->query, author, &given, err)) != NTM_OK)
        return rc;

    struct ntm_entry_query q;
    memset(&q, 0, sizeof q);
    q.after_gseq = after;
    q.limit = limit + 1;
    if (given) {
        /* A device may always fetch its own chain back (restored
         * backup); the root key may fetch any author's. */
        if (strcmp(author, rq->author) != 0 && !rq->is_root)
            return ntm_error_set(err, NTM_EFORBIDDEN,
                                 "only the root key may pull another "
                                 "author's chain");
        q.author = author;
    } else if (!rq->is_root) {
        q.scope = rq->enr.scope;
    }
    struct pull_ctx pc = {&rs->body, limit, 0, after, 0, NTM_OK};
    rc = ntm_store_entries(rq->st, &q, pull_entry, &pc, err);
    if (rc == NTM_OK && pc.fail != NTM_OK)
        rc = ntm_error_set(err, pc.fail, "out of memory");
    if (rc != NTM_OK)
        return rc;
    rs->content_type = "application/x-ndjson";
    rs->next_after = pc.last;
    rs->more = pc.more;
    rs->entries = pc.count;
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* GET /metrics (Prometheus text format) */

static const char *const ep_names[NTM_EP_COUNT] = {
    "info",    "healthz", "heads", "push",        "pull",
    "metrics", "join",    "forks", "attachments", "other"};
static const double lat_bounds[NTM_LAT_BUCKETS] = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

static enum ntm_err
h_metrics(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    struct Ntm_metrics *m = Ntm_server_metrics(rq->srv);
    struct ntm_buf *b = &rs->body;
    pthread_mutex_lock(&m->mu);
    ntm_buf_adds(b, "# HELP ntm_requests_total HTTP requests by endpoint "
                    "and status.\n# TYPE ntm_requests_total counter\n");
    for (int e = 0; e < NTM_EP_COUNT; e++)
        for (int s = 100; s < 600; s++)
            if (m->requests[e][s])
                ntm_buf_addf(b,
                             "ntm_requests_total{endpoint=\"%s\",status=\"%d\"}"
                             " %lld\n",
                             ep_names[e], s, (long long)m->requests[e][s]);
    ntm_buf_adds(b, "# HELP ntm_request_seconds Request latency.\n"
                    "# TYPE ntm_request_seconds histogram\n");
    for (int e = 0; e < NTM_EP_COUNT; e++) {
        if (!m->lat_count[e])
            continue;
        int64_t cum = 0;
        for (int i = 0; i < NTM_LAT_BUCKETS; i++) {
            cum += m->lat_bucket[e][i];
            ntm_buf_addf(b,
                         "ntm_request_seconds_bucket{endpoint=\"%s\","
                         "le=\"%g\"} %lld\n",
                         ep_names[e], lat_bounds[i], (long long)cum);
        }
        cum += m->lat_bucket[e][NTM_LAT_BUCKETS];
        ntm_buf_addf(b,
                     "ntm_request_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"}"
                     " %lld\n"
                     "ntm_request_seconds_sum{endpoint=\"%s\"} %.6f\n"
                     "ntm_request_seconds_count{endpoint=\"%s\"} %lld\n",
                     ep_names[e], (long long)cum, ep_names[e], m->lat_sum[e],
                     ep_names[e], (long long)m->lat_count[e]);
    }
    ntm_buf_addf(b,
                 "# HELP ntm_entries_total Pushed entries by outcome.\n"
                 "# TYPE ntm_entries_total counter\n"
                 "ntm_entries_total{outcome=\"accepted\"} %lld\n"
                 "ntm_entries_total{outcome=\"duplicate\"} %lld\n",
                 (long long)m->accepted, (long long)m->duplicates);
    for (int i = 0; i < NTM_ERR_LAST; i++) {
        const char *w = ntm_err_wire_code((enum ntm_err)i);
        if (m->rejected[i])
            ntm_buf_addf(b,
                         "ntm_entries_total{outcome=\"rejected\",code=\"%s\"}"
                         " %lld\n",
                         w ? w : "other", (long long)m->rejected[i]);
        if (m->flagged[i])
            ntm_buf_addf(b,
                         "ntm_entries_total{outcome=\"flagged\",code=\"%s\"}"
                         " %lld\n",
                         w ? w : "other", (long long)m->flagged[i]);
    }
    ntm_buf_addf(b,
                 "# HELP ntm_open_connections Open client connections.\n"
                 "# TYPE ntm_open_connections gauge\n"
                 "ntm_open_connections %lld\n",
                 (long long)m->open_connections);
    pthread_mutex_unlock(&m->mu);
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (!b->buf)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* POST /v1/join, GET /v1/join[?nonce=N], GET /v1/forks */

#define JOIN_PER_CODE 5    /* requests kept per join code */
#define JOIN_TOTAL    1000 /* requests kept by the server */
#define JOIN_NAME_MAX 128  /* bytes of a device's name */

/* Whether unit is scope or below it (SPEC 4). */
static int
within(const char *unit, const char *scope)
{
    size_t n = strlen(scope);
    return !strncmp(unit, scope, n) && (unit[n] == '\0' || unit[n] == '.');
}

/* A device asks to be enrolled: the request is signed by its own key
 * (which need not be enrolled: server.c checks only the signature for
 * this route); the body names the join code, which must be signed by
 * this server's root or an admin it knows, and not expired. Nothing is
 * granted: the request waits for an admin (docs/contract.md). */
static enum ntm_err
h_join_post(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    json_t *b =
        json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *code_v = json_object_get(b, "code"),
           *name_v = json_object_get(b, "name");
    json_t *pl = NULL;
    enum ntm_err rc = NTM_OK;
    if (!json_is_object(b) || !json_is_string(code_v) ||
        (name_v && !json_is_string(name_v)) ||
        json_object_size(b) != (name_v ? 2u : 1u)) {
        rc = ntm_error_set(err, NTM_EINVAL,
                           "the body must be {\"code\": \"<join code>\", "
                           "\"name\": \"<device name>\"}");
        goto out;
    }
    const char *name = name_v ? json_string_value(name_v) : NULL;
    if (name) {
        size_t n = strlen(name);
        int ctl = 0;
        for (size_t i = 0; i < n; i++)
            ctl |= (unsigned char)name[i] < 0x20 || name[i] == 0x7f;
        if (n > JOIN_NAME_MAX || ctl || n != json_string_length(name_v)) {
            rc = ntm_error_set(err, NTM_EINVAL,
                               "the device name must be at most %d bytes, "
                               "without control characters",
                               JOIN_NAME_MAX);
            goto out;
        }
    }
    struct ntm_error cerr;
    ntm_error_clear(&cerr);
    if (ntm_join_code_read(json_string_value(code_v), &pl, NULL, &cerr) !=
        NTM_OK) {
        rc = ntm_error_set(err, NTM_EINVAL, "%s - ask the admin for a new one",
                           cerr.msg);
        goto out;
    }
    const char *root = json_string_value(json_object_get(pl, "root"));
    const char *signer = json_string_value(json_object_get(pl, "signer"));
    int64_t exp = json_integer_value(json_object_get(pl, "exp"));
    int64_t now = ntm_now_ms();
    if (!signer)
        signer = root;
    if (strcmp(root, Ntm_server_root(rq->srv)) != 0) {
        rc = ntm_error_set(err, NTM_EFORBIDDEN,
                           "this join code was made for another root key "
                           "than this server's - it is not for this server");
        goto out;
    }
    if (exp < now) {
        rc = ntm_error_set(err, NTM_EINVAL,
                           "this join code has expired - ask the admin for "
                           "a new one");
        goto out;
    }
    struct ntm_enrollment se;
    if (strcmp(signer, root) != 0 &&
        (ntm_store_enrollment(rq->st, signer, 0, &se, NULL) != NTM_OK ||
         !se.enrolled || se.revoked || se.revoked_after >= 0 ||
         strcmp(se.role, "admin") != 0)) {
        rc = ntm_error_set(err, NTM_EFORBIDDEN,
                           "the admin who made this join code (%.16s...) is "
                           "not an admin this server knows",
                           signer);
        goto out;
    }
    if (!name) {
        name = json_string_value(json_object_get(pl, "name"));
        if (name && strlen(name) > JOIN_NAME_MAX)
            name = NULL;
    }
    struct ntm_enrollment me;
    int enrolled =
        !strcmp(rq->author, root) ||
        (ntm_store_enrollment(rq->st, rq->author, 0, &me, NULL) == NTM_OK &&
         me.enrolled);
    if (enrolled && (me.revoked || me.revoked_after >= 0) &&
        strcmp(rq->author, root) != 0) {
        rc = ntm_error_set(err, NTM_EREVOKED,
                           "key %.16s... is revoked - a revoked key cannot "
                           "join again: make a new home",
                           rq->author);
        goto out;
    }
    int added = 0;
    if (!enrolled) {
        struct ntm_join_request q = {
            json_string_value(json_object_get(pl, "nonce")),
            rq->author,
            name,
            signer,
            json_string_value(json_object_get(pl, "role")),
            json_string_value(json_object_get(pl, "scope")),
            json_string_value(json_object_get(pl, "org")),
            exp,
            now};
        Ntm_server_write_lock(rq->srv);
        rc = ntm_store_begin(rq->st, err);
        if (rc == NTM_OK) {
            rc = ntm_store_join_put(rq->st, &q, JOIN_PER_CODE, JOIN_TOTAL,
                                    &added, err);
            if (rc != NTM_OK)
                ntm_store_rollback(rq->st);
            else
                rc = ntm_store_commit(rq->st, err);
        }
        Ntm_server_write_unlock(rq->srv);
        if (rc != NTM_OK)
            goto out;
    }
    rc = json_answer(rs,
                     json_pack("{s:s, s:s, s:b, s:b, s:I}", "nonce",
                               json_string_value(json_object_get(pl, "nonce")),
                               "author", rq->author, "added", added, "enrolled",
                               enrolled, "expires", (json_int_t)exp),
                     err);
out:
    json_decref(pl);
    json_decref(b);
    return rc;
}

/* Only the root and admins read what admins read. */
static enum ntm_err
admin_only(struct Ntm_req *rq, const char *what, struct ntm_error *err)
{
    if (rq->is_root || !strcmp(rq->enr.role, "admin"))
        return NTM_OK;
    return ntm_error_set(err, NTM_EFORBIDDEN, "only an admin may read %s",
                         what);
}

static enum ntm_err
h_join_list(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    char nonce[17];
    json_t *list = NULL, *x;
    size_t i;
    enum ntm_err rc = admin_only(rq, "join requests", err);
    if (rc != NTM_OK)
        return rc;
    int r = Ntm_query_get(rq->query, "nonce", nonce, sizeof nonce);
    if (r < 0 ||
        (r > 0 && (strlen(nonce) != 16 || !ntm_is_lower_hex(nonce, 16))))
        return ntm_error_set(err, NTM_EINVAL,
                             "query parameter 'nonce' must be 16 lowercase "
                             "hex digits");
    /* An admin sees the requests for the codes it made; the root all. */
    rc = ntm_store_join_list(rq->st, rq->is_root ? NULL : rq->author,
                             r > 0 ? nonce : NULL, ntm_now_ms(), &list, err);
    if (rc != NTM_OK)
        return rc;
    json_array_foreach (list, i, x) {
        struct ntm_enrollment e;
        const char *a = json_string_value(json_object_get(x, "author"));
        int en = ntm_store_enrollment(rq->st, a, 0, &e, NULL) == NTM_OK &&
                 e.enrolled;
        json_object_set_new(x, "enrolled", json_boolean(en));
    }
    rs->entries = (int64_t)json_array_size(list);
    return json_answer(rs, json_pack("{s:o}", "requests", list), err);
}

static enum ntm_err
h_forks(struct Ntm_req *rq, struct Ntm_resp *rs, struct ntm_error *err)
{
    json_t *all = NULL, *out = json_array(), *x;
    size_t i;
    enum ntm_err rc = admin_only(rq, "fork evidence", err);
    if (rc != NTM_OK || (rc = ntm_store_forks(rq->st, &all, err)) != NTM_OK) {
        json_decref(out);
        return rc;
    }
    json_array_foreach (all, i, x) {
        struct ntm_enrollment e;
        const char *a = json_string_value(json_object_get(x, "author"));
        int64_t seq = json_integer_value(json_object_get(x, "seq"));
        if (ntm_store_enrollment(rq->st, a, seq, &e, NULL) != NTM_OK) {
            memset(&e, 0, sizeof e);
            e.revoked_after = -1;
        }
        /* An admin sees the forks of the devices in its scope. */
        if (!rq->is_root && !(e.enrolled && within(e.scope, rq->enr.scope)))
            continue;
        json_object_set_new(x, "name", json_string(e.name));
        json_object_set_new(x, "role", json_string(e.role));
        json_object_set_new(x, "scope", json_string(e.scope));
        json_array_append(out, x);
    }
    json_decref(all);
    rs->entries = (int64_t)json_array_size(out);
    return json_answer(rs, json_pack("{s:o}", "forks", out), err);
}

/* ------------------------------------------------------------------ */
/* the table */

static const struct Ntm_route routes[] = {
    {"GET", "/v1/info", 0, NTM_EP_INFO, h_info},
    {"GET", "/healthz", 0, NTM_EP_HEALTHZ, h_healthz},
    {"GET", "/v1/heads", 1, NTM_EP_HEADS, h_heads},
    {"POST", "/v1/entries", 1, NTM_EP_PUSH, h_push},
    {"GET", "/v1/entries", 1, NTM_EP_PULL, h_pull},
    {"GET", "/metrics", 1, NTM_EP_METRICS, h_metrics},
    /* auth 2: signed by the key it names, which need not be enrolled */
    {"POST", "/v1/join", 2, NTM_EP_JOIN, h_join_post},
    {"GET", "/v1/join", 1, NTM_EP_JOIN, h_join_list},
    {"GET", "/v1/forks", 1, NTM_EP_FORKS, h_forks},
    /* a path ending in '/' is a prefix: /v1/attachments/<hash>[/status] */
    {"GET", "/v1/attachments/", 1, NTM_EP_ATTACH, Ntm_h_attach_get},
    {"PUT", "/v1/attachments/", 1, NTM_EP_ATTACH, Ntm_h_attach_put},
};

const struct Ntm_route *
Ntm_route_find(const char *method, const char *path, int *path_known)
{
    *path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t rl = strlen(routes[i].path);
        if (routes[i].path[rl - 1] == '/'
                ? strncmp(routes[i].path, path, rl) != 0 || !path[rl]
                : strcmp(routes[i].path, path) != 0)
            continue;
        *path_known = 1;
        if (!strcmp(routes[i].method, method))
            return &routes[i];
        if (!strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET"))
            return &routes[i];
    }
    return NULL;
}

int
Ntm_http_status(const struct ntm_error *err, const char **code)
{
    if (err->http_status) {
        switch (err->http_status) {
        case 404:
            *code = "not_found";
            break;
        case 405:
            *code = "method_not_allowed";
            break;
        case 411:
            *code = "too_large";
            break;
        case 415:
            *code = "unsupported_media_type";
            break;
        case 429:
            *code = "too_many_requests";
            break;
        default:
            *code = "bad_request";
            break;
        }
        return err->http_status;
    }
    switch (err->code) {
    case NTM_EINVAL:
    case NTM_EPROTO:
    case NTM_EBADENTRY:
    case NTM_EUSAGE:
        *code = "bad_request";
        return 400;
    case NTM_EAUTH:
    case NTM_EBADSIG:
        *code = "bad_auth";
        return 401;
    case NTM_ECLOCKSKEW:
        *code = "clock_skew";
        return 401;
    case NTM_EUNKNOWNAUTHOR:
        *code = "unknown_author";
        return 403;
    case NTM_EREVOKED:
        *code = "revoked";
        return 403;
    case NTM_EFORBIDDEN:
        *code = "forbidden";
        return 403;
    case NTM_ENOENT:
        *code = "not_found";
        return 404;
    case NTM_ETOOLARGE:
        *code = "too_large";
        return 413;
    case NTM_ECONFLICT:
        *code = "conflict";
        return 409;
    case NTM_EBUSY:
    case NTM_EFULL:
    case NTM_EIO: /* the server's disk failed: nothing taken, retry later */
    case NTM_EUNAVAIL:
        *code = "unavailable";
        return 503;
    default:
        *code = "internal";
        return 500;
    }
}
