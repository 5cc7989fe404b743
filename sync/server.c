/* SPDX-License-Identifier: MIT */
/*
 * server.c - the HTTP side of `ntm serve`: a libmicrohttpd daemon (TLS
 * 1.2+ through GnuTLS, internal thread pool), request limits, request
 * authentication, gzip both ways, one log line per request, metrics, a pool
 * of store connections (one per thread at a time) and graceful shutdown.
 *
 * What it does not do: decide what an endpoint answers (handlers.c) or how
 * entries are validated and stored (store/). Depends on util/, crypto/,
 * store/, sync/wire.c and libmicrohttpd.
 *
 * A request goes through: the URI log callback (allocates the request and
 * keeps the raw path and query, which the signature covers), the first
 * access call (route, method, encodings, Content-Length cap, load
 * shedding), the upload calls (body cap and deadline), the last call
 * (inflate, authenticate, run the handler, answer), and the completion
 * callback (log line, metrics, free).
 */
#include "sync_int.h"

#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct ntm_server {
    struct MHD_Daemon *d;
    struct ntm_server_opts o;
    char *db_path;
    char root[NTM_HEX_ID_LEN + 1];
    char *cert_pem, *key_pem;
    unsigned port;
    unsigned soft_conn_limit; /* past this many open connections, 503 */

    pthread_mutex_t pool_mu; /* guards the free store connections */
    struct ntm_store **pool;
    size_t npool, cappool;

    pthread_mutex_t write_mu; /* one push batch at a time */
    pthread_mutex_t log_mu;
    atomic_int stopping;
    atomic_int inflight;
    struct Ntm_metrics m;
};

struct request {
    char *uri; /* raw path?query as received */
    const struct Ntm_route *route;
    struct timespec start;
    struct ntm_buf body; /* as sent (maybe gzip) */
    int started, gzip_in, answered, counted, too_large;
    int close; /* answer with Connection: close (frees the slot) */
    int status;
    int64_t entries;
    char author[NTM_HEX_ID_LEN + 1];
    char method[8];
};

/* ------------------------------------------------------------------ */
/* small internals shared with handlers.c */

const char *
Ntm_server_root(const struct ntm_server *srv)
{
    return srv->root;
}

unsigned
Ntm_server_max_batch(const struct ntm_server *srv)
{
    return srv->o.max_batch;
}

struct Ntm_metrics *
Ntm_server_metrics(struct ntm_server *srv)
{
    return &srv->m;
}

void
Ntm_server_write_lock(struct ntm_server *srv)
{
    pthread_mutex_lock(&srv->write_mu);
}

void
Ntm_server_write_unlock(struct ntm_server *srv)
{
    pthread_mutex_unlock(&srv->write_mu);
}

static void srv_log(struct ntm_server *srv, const char *fmt, ...)
    NTM_PRINTF(2, 3);

static void
srv_log(struct ntm_server *srv, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (srv->o.log) {
        srv->o.log(srv->o.log_ud, line);
        return;
    }
    pthread_mutex_lock(&srv->log_mu);
    fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&srv->log_mu);
}

static double
elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ------------------------------------------------------------------ */
/* store connection pool */

static struct ntm_store *
pool_get(struct ntm_server *srv, struct ntm_error *err)
{
    struct ntm_store *st = NULL;
    pthread_mutex_lock(&srv->pool_mu);
    if (srv->npool > 0)
        st = srv->pool[--srv->npool];
    pthread_mutex_unlock(&srv->pool_mu);
    if (st)
        return st;
    if (ntm_store_open(&st, srv->db_path, NTM_STORE_SERVER, err) != NTM_OK)
        return NULL;
    return st;
}

static void
pool_put(struct ntm_server *srv, struct ntm_store *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&srv->pool_mu);
    if (srv->npool == srv->cappool) {
        size_t cap = srv->cappool ? srv->cappool * 2 : 8;
        struct ntm_store **p = ntm_realloc(srv->pool, cap * sizeof *srv->pool);
        if (!p) {
            pthread_mutex_unlock(&srv->pool_mu);
            ntm_store_close(st);
            return;
        }
        srv->pool = p;
        srv->cappool = cap;
    }
    srv->pool[srv->npool++] = st;
    pthread_mutex_unlock(&srv->pool_mu);
}

/* ------------------------------------------------------------------ */
/* answers */

static void
free_cb(void *p)
{
    ntm_free(p);
}

static enum MHD_Result
send_body(struct MHD_Connection *c, struct request *r, int status,
          struct ntm_buf *body, const char *ctype, int64_t next_after, int more,
          int retry_after)
{
    struct ntm_buf z = NTM_BUF_INIT;
    int gz = 0;
    const char *ae = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (body->len > 256 && Ntm_accepts_gzip(ae) &&
        Ntm_gzip(body->buf, body->len, &z) == NTM_OK) {
        ntm_buf_release(body);
        *body = z;
        gz = 1;
    } else {
        ntm_buf_release(&z);
    }
    size_t len = body->len;
    char *data = ntm_buf_detach(body, NULL);
    struct MHD_Response *resp =
        data ? MHD_create_response_from_buffer_with_free_callback(len, data,
                                                                  free_cb)
             : NULL;
    if (!resp) {
        ntm_free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            ctype ? ctype : "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY,
                            "Accept-Encoding, Accept-Language");
    if (gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    char v[32];
    if (next_after >= 0) {
        snprintf(v, sizeof v, "%lld", (long long)next_after);
        MHD_add_response_header(resp, "Ntm-Next-After", v);
    }
    if (more >= 0)
        MHD_add_response_header(resp, "Ntm-More", more ? "true" : "false");
    if (retry_after > 0) {
        snprintf(v, sizeof v, "%d", retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = status;
    r->answered = 1;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The one place where a failure becomes an HTTP answer. */
static enum MHD_Result
send_error(struct MHD_Connection *c, struct request *r,
           const struct ntm_error *err)
{
    const char *code = "internal";
    int status = Ntm_http_status(err, &code);
    struct ntm_buf b = NTM_BUF_INIT, msg = NTM_BUF_INIT;
    const char *text = ntm_error_text(err);
    /* Accept-Language: vi - the Vietnamese of the code, then the English
     * detail; the code stays English (it is an interface). */
    const char *vi = Ntm_accepts_vi(MHD_lookup_connection_value(
                         c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE))
                         ? Ntm_error_message_vi(code)
                         : NULL;
    if (vi && ntm_buf_addf(&msg, "%s - %s", vi, text ? text : "") == NTM_OK)
        text = msg.buf;
    Ntm_error_body(
        &b, code, text,
        err->code == NTM_ECLOCKSKEW && !err->http_status ? ntm_now_ms() : -1);
    ntm_buf_release(&msg);
    ntm_buf_addch(&b, '\n');
    return send_body(c, r, status, &b, NULL, -1, -1,
                     status == 429 || status == 503 ? 2 : 0);
}

static enum MHD_Result
fail(struct MHD_Connection *c, struct request *r, int http_status,
     enum ntm_err code, const char *msg)
{
    struct ntm_error e;
    ntm_error_clear(&e);
    ntm_error_set(&e, code, "%s", msg);
    e.http_status = http_status;
    return send_error(c, r, &e);
}

/* ------------------------------------------------------------------ */
/* the request path */

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    struct request *r = ntm_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->uri = ntm_strdup(uri);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    return r;
}

/* First call: everything that can be refused before reading a body. */
/*
 * Before reading any body: a request to an authenticated endpoint must name
 * a key that may act (the root, or enrolled and not revoked). The signature
 * covers the body, so it is checked in on_complete; this only keeps
 * strangers and revoked keys from making the server buffer bodies.
 */
static enum ntm_err
early_auth(struct ntm_server *srv, struct MHD_Connection *c,
           struct ntm_error *err)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    const char *k = h ? strstr(h, "key=") : NULL;
    if (!h || strncmp(h, "NTM-Ed25519 ", 12) != 0 || !k)
        return ntm_error_set(err, NTM_EAUTH,
                             "missing or malformed Authorization header - "
                             "expected 'NTM-Ed25519 key=..,ts=..,sig=..'");
    char key[NTM_HEX_ID_LEN + 1];
    k += 4;
    size_t n = strcspn(k, ",");
    if (n != NTM_HEX_ID_LEN)
        return ntm_error_set(err, NTM_EAUTH,
                             "Authorization key is not 64 lowercase hex");
    memcpy(key, k, n);
    key[n] = '\0';
    if (!ntm_is_lower_hex(key, n))
        return ntm_error_set(err, NTM_EAUTH,
                             "Authorization key is not 64 lowercase hex");
    if (!strcmp(key, srv->root))
        return NTM_OK;
    struct ntm_store *st = pool_get(srv, err);
    if (!st)
        return err->code == NTM_ENOMEM ? NTM_ENOMEM
                                       : (err->code = NTM_EUNAVAIL);
    struct ntm_enrollment enr;
    enum ntm_err rc = ntm_store_enrollment(st, key, 0, &enr, err);
    pool_put(srv, st);
    if (rc != NTM_OK)
        return rc == NTM_ENOENT ? ntm_error_set(err, NTM_EUNKNOWNAUTHOR,
                                                "key %.16s... is not enrolled "
                                                "on this server",
                                                key)
                                : rc;
    if (enr.is_root)
        return NTM_OK;
    if (enr.revoked)
        return ntm_error_set(err, NTM_EREVOKED,
                             "key %.16s... is revoked - ask an admin", key);
    if (!enr.enrolled)
        return ntm_error_set(err, NTM_EUNKNOWNAUTHOR,
                             "key %.16s... is not enrolled on this server - "
                             "ask an admin to enroll it and push the "
                             "enrollment",
                             key);
    return NTM_OK;
}

static enum MHD_Result
on_first(struct ntm_server *srv, struct MHD_Connection *c, struct request *r,
         const char *method)
{
    char path[256];
    const char *q = strchr(r->uri, '?');
    size_t plen = q ? (size_t)(q - r->uri) : strlen(r->uri);
    snprintf(r->method, sizeof r->method, "%s", method);
    r->started = 1;
    if (atomic_load(&srv->stopping))
        return fail(c, r, 0, NTM_EUNAVAIL,
                    "server is shutting down - retry in a moment");
    /* Near the connection limit, answer 503 and close rather than let
     * libmicrohttpd drop new connections without a word: a client told
     * Retry-After backs off, one cut off retries at once. */
    pthread_mutex_lock(&srv->m.mu);
    int64_t open = srv->m.open_connections;
    pthread_mutex_unlock(&srv->m.mu);
    if (open > (int64_t)srv->soft_conn_limit) {
        r->close = 1;
        return fail(c, r, 503, NTM_EUNAVAIL,
                    "server has too many open connections - retry after the "
                    "indicated delay");
    }
    if (atomic_fetch_add(&srv->inflight, 1) >= (int)srv->o.max_inflight) {
        r->counted = 1;
        r->close = 1;
        return fail(c, r, 429, NTM_EUNAVAIL,
                    "server is busy - retry after the indicated delay");
    }
    r->counted = 1;
    if (plen >= sizeof path)
        return fail(c, r, 404, NTM_ENOENT, "no such endpoint");
    memcpy(path, r->uri, plen);
    path[plen] = '\0';
    int known;
    r->route = Ntm_route_find(method, path, &known);
    if (!r->route)
        return known ? fail(c, r, 405, NTM_EUSAGE,
                            "method not allowed on this endpoint")
                     : fail(c, r, 404, NTM_ENOENT, "no such endpoint");

    if (!strcmp(r->route->method, "POST")) {
        const char *ce = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
        if (ce && !strcasecmp(ce, "gzip"))
            r->gzip_in = 1;
        else if (ce && strcasecmp(ce, "identity") != 0)
            return fail(c, r, 415, NTM_EPROTO,
                        "Content-Encoding must be gzip or identity");
        const char *ct = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (ct && strncasecmp(ct, "application/x-ndjson", 20) != 0 &&
            strncasecmp(ct, "application/json", 16) != 0)
            return fail(c, r, 415, NTM_EPROTO,
                        "Content-Type must be application/x-ndjson");
        const char *cl = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        int64_t n;
        if (cl && (ntm_parse_int64(cl, 0, INT64_MAX, &n) != NTM_OK ||
                   (uint64_t)n > srv->o.max_body))
            return fail(c, r, 0, NTM_ETOOLARGE,
                        "request body passes the size limit - send smaller "
                        "batches");
    }
    if (r->route->auth && !strcmp(r->route->method, "POST")) {
        struct ntm_error aerr;
        ntm_error_clear(&aerr);
        if (early_auth(srv, c, &aerr) != NTM_OK) {
            r->close = 1; /* do not read the body it may still send */
            return send_error(c, r, &aerr);
        }
    }
    return MHD_YES;
}

/* Last call: inflate, authenticate, run the handler. */
static enum MHD_Result
on_complete(struct ntm_server *srv, struct MHD_Connection *c, struct request *r)
{
    struct ntm_error err;
    struct Ntm_req rq;
    struct Ntm_resp rs;
    struct ntm_buf inflated = NTM_BUF_INIT;
    enum MHD_Result ret;

    ntm_error_clear(&err);
    memset(&rq, 0, sizeof rq);
    memset(&rs, 0, sizeof rs);
    rs.next_after = -1;
    rs.more = -1;
    rq.srv = srv;
    rq.method = r->route->method;
    const char *q = strchr(r->uri, '?');
    rq.query = q ? q + 1 : "";
    rq.path = r->route->path;
    rq.body = r->body.buf ? r->body.buf : "";
    rq.body_len = r->body.len;
    if (r->gzip_in) {
        if (Ntm_gunzip(r->body.buf, r->body.len, srv->o.max_body, &inflated,
                       &err) != NTM_OK) {
            if (err.code == NTM_EPROTO)
                err.code = NTM_EINVAL;
            ret = send_error(c, r, &err);
            ntm_buf_release(&inflated);
            return ret;
        }
        rq.body = inflated.buf ? inflated.buf : "";
        rq.body_len = inflated.len;
    }

    rq.st = pool_get(srv, &err);
    if (!rq.st) {
        if (err.code != NTM_ENOMEM)
            err.code = NTM_EUNAVAIL;
        goto error;
    }

    if (r->route->auth) {
        const char *h = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (ntm_sync_auth_verify(h, r->method, r->uri, r->body.buf, r->body.len,
                                 ntm_now_ms(), rq.author, NULL, &err) != NTM_OK)
            goto error;
        memcpy(r->author, rq.author, sizeof r->author);
        rq.is_root = !strcmp(rq.author, srv->root);
        if (ntm_store_enrollment(rq.st, rq.author, 0, &rq.enr, &err) !=
            NTM_OK) {
            if (err.code == NTM_ENOENT && !rq.is_root) {
                ntm_error_set(&err, NTM_EUNKNOWNAUTHOR,
                              "key %.16s... is not enrolled on this server - "
                              "ask an admin to enroll it and push the "
                              "enrollment",
                              rq.author);
                goto error;
            }
            if (err.code != NTM_ENOENT)
                goto error;
            ntm_error_clear(&err);
        }
        if (rq.enr.is_root)
            rq.is_root = 1;
        if (!rq.is_root) {
            if (rq.enr.revoked) {
                ntm_error_set(&err, NTM_EREVOKED,
                              "key %.16s... is revoked - ask an admin",
                              rq.author);
                goto error;
            }
            if (!rq.enr.enrolled) {
                ntm_error_set(&err, NTM_EUNKNOWNAUTHOR,
                              "key %.16s... is not enrolled on this server - "
                              "ask an admin to enroll it and push the "
                              "enrollment",
                              rq.author);
                goto error;
            }
        }
    }

    if (r->route->fn(&rq, &rs, &err) != NTM_OK)
        goto error;
    pool_put(srv, rq.st);
    ntm_buf_release(&inflated);
    r->entries = rs.entries;
    if (!rs.body.buf)
        ntm_buf_adds(&rs.body, "");
    ret = send_body(c, r, 200, &rs.body, rs.content_type, rs.next_after,
                    rs.more, 0);
    ntm_buf_release(&rs.body);
    return ret;

error:
    pool_put(srv, rq.st);
    ntm_buf_release(&inflated);
    ntm_buf_release(&rs.body);
    if (err.code == NTM_OK)
        err.code = NTM_EIO;
    return send_error(c, r, &err);
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *c, const char *url,
          const char *method, const char *version, const char *upload_data,
          size_t *upload_size, void **con_cls)
{
    struct ntm_server *srv = cls;
    struct request *r = *con_cls;
    (void)url;
    (void)version;
    if (!r || !r->uri)
        return MHD_NO;
    if (!r->started)
        return on_first(srv, c, r, method);
    if (r->answered) {
        *upload_size = 0; /* an early answer: discard the rest */
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        /* libmicrohttpd cannot answer in the middle of a body: past the
         * cap, the rest is read and dropped (memory stays flat) and 413
         * goes out at its end; a body slower than the deadline gets the
         * connection closed. */
        if (elapsed_s(&r->start) > srv->o.request_deadline_s) {
            srv_log(srv, "%s %s: body took longer than %u s, closing",
                    r->method, r->uri, srv->o.request_deadline_s);
            return MHD_NO;
        }
        if (r->too_large || r->body.len + n > srv->o.max_body) {
            r->too_large = 1;
            ntm_buf_release(&r->body);
            return MHD_YES;
        }
        if (ntm_buf_add(&r->body, upload_data, n) != NTM_OK)
            return fail(c, r, 0, NTM_ENOMEM, "out of memory");
        return MHD_YES;
    }
    if (r->too_large)
        return fail(c, r, 0, NTM_ETOOLARGE,
                    "request body passes the size limit - send smaller "
                    "batches");
    return on_complete(srv, c, r);
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
        enum MHD_RequestTerminationCode toe)
{
    struct ntm_server *srv = cls;
    struct request *r = *con_cls;
    (void)c;
    if (!r)
        return;
    double secs = elapsed_s(&r->start);
    int ep = r->route ? (int)r->route->ep : NTM_EP_OTHER;
    int status = r->answered ? r->status : 0;
    pthread_mutex_lock(&srv->m.mu);
    if (status >= 100 && status < 600)
        srv->m.requests[ep][status]++;
    int b = 0;
    static const double bounds[NTM_LAT_BUCKETS] = {
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};
    while (b < NTM_LAT_BUCKETS && secs > bounds[b])
        b++;
    srv->m.lat_bucket[ep][b]++;
    srv->m.lat_sum[ep] += secs;
    srv->m.lat_count[ep]++;
    pthread_mutex_unlock(&srv->m.mu);
    if (r->counted)
        atomic_fetch_sub(&srv->inflight, 1);
    char path[96];
    const char *q = strchr(r->uri, '?');
    size_t plen = q ? (size_t)(q - r->uri) : strlen(r->uri);
    if (plen >= sizeof path)
        plen = sizeof path - 1;
    memcpy(path, r->uri, plen);
    path[plen] = '\0';
    srv_log(srv, "%s %s %d entries=%lld ms=%.1f author=%.16s%s",
            r->method[0] ? r->method : "-", path, status, (long long)r->entries,
            secs * 1000.0, r->author[0] ? r->author : "-",
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
    ntm_buf_release(&r->body);
    ntm_free(r->uri);
    ntm_free(r);
    *con_cls = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
              enum MHD_ConnectionNotificationCode toe)
{
    struct ntm_server *srv = cls;
    (void)c;
    (void)socket_ctx;
    pthread_mutex_lock(&srv->m.mu);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        srv->m.open_connections++;
    else
        srv->m.open_connections--;
    pthread_mutex_unlock(&srv->m.mu);
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct ntm_server *srv = cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    srv_log(srv, "http: %s", line);
}

/* ------------------------------------------------------------------ */
/* lifecycle */

static void
server_free(struct ntm_server *srv)
{
    if (!srv)
        return;
    for (size_t i = 0; i < srv->npool; i++)
        ntm_store_close(srv->pool[i]);
    ntm_free(srv->pool);
    ntm_free(srv->db_path);
    if (srv->key_pem) {
        ntm_memzero(srv->key_pem, strlen(srv->key_pem));
        ntm_free(srv->key_pem);
    }
    ntm_free(srv->cert_pem);
    pthread_mutex_destroy(&srv->pool_mu);
    pthread_mutex_destroy(&srv->write_mu);
    pthread_mutex_destroy(&srv->log_mu);
    pthread_mutex_destroy(&srv->m.mu);
    ntm_free(srv);
}

static enum ntm_err
read_pem(const char *path, char **out, struct ntm_error *err)
{
    struct ntm_buf b = NTM_BUF_INIT;
    enum ntm_err rc = ntm_file_read(path, 1 << 20, &b, err);
    if (rc != NTM_OK) {
        ntm_buf_release(&b);
        return ntm_error_set(err, NTM_EIO, "cannot read TLS file '%s': %s",
                             path, ntm_error_text(err));
    }
    *out = ntm_buf_detach(&b, NULL);
    return *out ? NTM_OK : ntm_error_set(err, NTM_ENOMEM, "out of memory");
}

enum ntm_err
ntm_server_start(struct ntm_server **out, const struct ntm_server_opts *o,
                 struct ntm_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int loopback;
    enum ntm_err rc;
    struct ntm_store *st = NULL;

    *out = NULL;
    if (!o || !o->db_path)
        return ntm_error_set(err, NTM_EINVAL, "no store path for the server");
    rc = Ntm_listen_parse(o->listen, &ss, &sslen, &loopback, err);
    if (rc != NTM_OK)
        return rc;
    if ((!o->tls_cert) != (!o->tls_key))
        return ntm_error_set(err, NTM_EINVAL,
                             "give both --tls-cert and --tls-key, or neither");
    if (!o->tls_cert && !loopback)
        return ntm_error_set(err, NTM_EINVAL,
                             "refusing plain HTTP on '%s' - give --tls-cert "
                             "and --tls-key, or listen on a loopback address "
                             "behind a TLS reverse proxy",
                             o->listen);

    struct ntm_server *srv = ntm_calloc(1, sizeof *srv);
    if (!srv)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    pthread_mutex_init(&srv->pool_mu, NULL);
    pthread_mutex_init(&srv->write_mu, NULL);
    pthread_mutex_init(&srv->log_mu, NULL);
    pthread_mutex_init(&srv->m.mu, NULL);
    srv->o = *o;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!srv->o.threads)
        srv->o.threads = ncpu > 0 ? (unsigned)ncpu : 2;
    if (!srv->o.conn_limit)
        srv->o.conn_limit = 512;
    if (!srv->o.per_ip_limit)
        srv->o.per_ip_limit = 32;
    if (!srv->o.conn_timeout_s)
        srv->o.conn_timeout_s = 15;
    if (!srv->o.request_deadline_s)
        srv->o.request_deadline_s = 60;
    if (!srv->o.max_body)
        srv->o.max_body = NTM_SYNC_DEFAULT_MAX_BODY;
    if (!srv->o.max_batch)
        srv->o.max_batch = NTM_SYNC_DEFAULT_MAX_BATCH;
    if (!srv->o.max_inflight)
        srv->o.max_inflight = 256;
    /* The last eighth of the connection slots (1 to 16 of them) is kept
     * for answering 503 instead of dropping connections. */
    unsigned reserve = srv->o.conn_limit / 8;
    reserve = reserve < 1 ? 1 : reserve > 16 ? 16 : reserve;
    srv->soft_conn_limit = srv->o.conn_limit > reserve
                               ? srv->o.conn_limit - reserve
                               : srv->o.conn_limit;
    srv->db_path = ntm_strdup(o->db_path);
    if (!srv->db_path) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto fail;
    }
    srv->o.db_path = srv->db_path;

    /* The store: created when missing, checked, root pinned. */
    rc = ntm_store_open(&st, srv->db_path, NTM_STORE_CREATE | NTM_STORE_SERVER,
                        err);
    if (rc != NTM_OK)
        goto fail;
    rc = ntm_store_check(st, 0, err);
    if (rc != NTM_OK)
        goto fail;
    if (o->root_key) {
        if (strlen(o->root_key) != NTM_HEX_ID_LEN ||
            !ntm_is_lower_hex(o->root_key, NTM_HEX_ID_LEN)) {
            rc = ntm_error_set(err, NTM_EINVAL,
                               "root key must be 64 lowercase hex digits");
            goto fail;
        }
        rc = ntm_store_set_root(st, o->root_key, err);
        if (rc != NTM_OK)
            goto fail;
    }
    if (ntm_store_root(st, srv->root) != NTM_OK) {
        rc = ntm_error_set(err, NTM_EINVAL,
                           "no root key for the server - give --root-key "
                           "HEX (the provincial admin's author id)");
        goto fail;
    }
    pool_put(srv, st);
    st = NULL;

    if (o->tls_cert) {
        if ((rc = read_pem(o->tls_cert, &srv->cert_pem, err)) != NTM_OK ||
            (rc = read_pem(o->tls_key, &srv->key_pem, err)) != NTM_OK)
            goto fail;
    }

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (srv->cert_pem)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls_opts[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES},
        {MHD_OPTION_END, 0, NULL}};
    struct MHD_OptionItem none[] = {{MHD_OPTION_END, 0, NULL}};
    /* MHD_OPTION_EXTERNAL_LOGGER comes first, and only once: libmicrohttpd
     * logs through whatever logger is set while it parses the rest, and
     * warns when the logger is given again later in the list. */
    srv->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->o.threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->o.conn_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)srv->o.per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->o.conn_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED,
        on_done, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_ARRAY, srv->cert_pem ? tls_opts : none, MHD_OPTION_END);
    if (!srv->d) {
        rc = ntm_error_set(err, NTM_ENET,
                           "cannot listen on '%s' - is the port in use, or "
                           "are the TLS files a matching PEM pair?",
                           o->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : 0;
    srv_log(srv,
            "ntm serve: listening on %s (port %u, %s, %u threads, root "
            "%.16s...)",
            o->listen, srv->port, srv->cert_pem ? "https" : "plain http",
            srv->o.threads, srv->root);
    *out = srv;
    return NTM_OK;
fail:
    ntm_store_close(st);
    server_free(srv);
    return rc;
}

unsigned
ntm_server_port(const struct ntm_server *srv)
{
    return srv ? srv->port : 0;
}

void
ntm_server_stop(struct ntm_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, 1);
    /* MHD_stop_daemon joins the worker threads: a push batch being
     * committed finishes and is answered before this returns. */
    if (srv->d)
        MHD_stop_daemon(srv->d);
    srv->d = NULL;
    srv_log(srv, "ntm serve: stopped");
    server_free(srv);
}

enum ntm_err
ntm_server_run(const struct ntm_server_opts *o, struct ntm_error *err)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    signal(SIGPIPE, SIG_IGN);
    struct ntm_server *srv;
    enum ntm_err rc = ntm_server_start(&srv, o, err);
    if (rc != NTM_OK) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc;
    }
    int sig = 0;
    sigwait(&set, &sig);
    srv_log(srv, "ntm serve: %s received, finishing requests in flight",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    ntm_server_stop(srv);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return NTM_OK;
}
