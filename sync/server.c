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
 * access call (route, method, encodings, Content-Type, Content-Length cap,
 * load shedding, and the Authorization pre-check below), the upload calls
 * (body cap, budget, rate and deadline), the last call (authenticate,
 * inflate, run the handler, answer), and the completion callback (log
 * line, metrics, free).
 *
 * Authentication before memory. The signature covers the body's hash, so
 * it can only be verified once the whole body is in; but a key is public
 * (anyone may name the root key), so naming a good key proves nothing.
 * Before any body byte is read, a request to an authenticated endpoint
 * must carry a well-formed Authorization whose ts is within 15 minutes and
 * whose key may act (the root, or enrolled and never revoked); else it is
 * answered at once with Connection: close. Then every request may hold
 * BODY_FREE (64 KiB) of body for free (GET endpoints no more than that);
 * bytes past it are charged, as they arrive, to one server-wide budget
 * (body_budget, 2 x max_body): a request that would pass it stops keeping
 * its body, reads the rest into nothing and gets 503 with Retry-After; a
 * Content-Length the budget cannot cover right now gets that 503 before
 * the body. The charge is returned when the request ends. So bodies held
 * for requests whose signature is not yet verified stay below
 * connections x 64 KiB + body_budget, however many clients send junk
 * signatures, and a junk body costs its sender the bandwidth to fill the
 * budget for the time it takes to send. Gzip bodies are inflated only
 * after the signature verifies.
 * One route is signed but open to keys that may not act yet: POST /v1/join
 * (a new device asking to be enrolled). Its Authorization is checked for
 * form and ts before the body, its signature after, and its body, sent
 * or inflated, is held to NTM_JOIN_MAX_BODY (8 KiB): anyone can make a
 * key, so the signature proves only that the request speaks for the key
 * it names.
 *
 * Per-address limits count slow connections, not work. A connection is
 * "pending" from accept until its headers are complete, and again while
 * it idles between requests. When a new connection arrives from an
 * address that already has per_ip_limit pending ones, the oldest of those
 * is shut down (not the newcomer, nor one younger than PENDING_MIN_S), so
 * a slowloris from behind a NAT cannot lock out the devices behind it:
 * their requests finish their headers within milliseconds and stop
 * counting. Pending connections older than twice the idle timeout are
 * shut down at the next accept whatever their address, idle ones meet
 * libmicrohttpd's inactivity timeout, and a body still incomplete and
 * slower than RATE_MIN_BPS on average (after RATE_GRACE_S), or slower than
 * the request deadline, gets its connection closed. Authenticated work from one
 * address is bounded only by the global limits (connections, max_inflight, the
 * body budget).
 *
 * Everything a request says reaches the log through srv_log, which
 * escapes control bytes and bytes that are not valid UTF-8 as \xNN.
 */
#include "ntm_server.h"
#include "sync_int.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

#define BODY_FREE     (64u * 1024) /* body bytes any request may hold */
#define RATE_GRACE_S  8.0          /* before the minimum body rate applies */
#define RATE_MIN_BPS  1024.0       /* minimum average body rate, bytes/s */
#define PENDING_MIN_S 2.0          /* never evicted younger than this */

/* One open connection, for the per-address limit on slow ones. */
struct conn {
    struct conn *prev, *next;
    int fd;
    int family;             /* AF_INET, AF_INET6, or 0: not counted */
    unsigned char addr[16]; /* the client address */
    int pending;            /* headers not complete, or idle */
    int evicted;            /* shut down by us, closing */
    struct timespec since;  /* when it became pending */
};

struct ntm_server {
    struct MHD_Daemon *d;
    struct ntm_server_opts o;
    char *db_path;
    char root[NTM_HEX_ID_LEN + 1];
    char *cert_pem, *key_pem;
    char *attach_dir; /* owned: o.attach_dir, or beside the store */
    unsigned port;
    unsigned soft_conn_limit; /* past this many open connections, 503 */

    pthread_mutex_t pool_mu; /* guards the free store connections */
    struct ntm_store **pool;
    size_t npool, cappool;

    pthread_mutex_t write_mu; /* one push batch at a time */
    pthread_mutex_t log_mu;
    pthread_mutex_t conn_mu; /* guards conns */
    struct conn *conns;
    size_t body_budget;      /* body bytes past BODY_FREE, all requests */
    atomic_size_t body_held; /* charged against body_budget */
    atomic_int stopping;
    atomic_int inflight;
    struct Ntm_metrics m;

    /* The checkpointer: its own store connection copies the WAL back into
     * the file every CKPT_EVERY_MS, outside the write lock (ckpt_loop). */
    struct ntm_store *ckpt_st;
    pthread_t ckpt_thread;
    int ckpt_started;
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    int ckpt_stop; /* guarded by ckpt_mu */
};

struct request {
    char *uri; /* raw path?query as received */
    const struct Ntm_route *route;
    struct timespec start;
    struct ntm_buf body; /* as sent (maybe gzip) */
    int started, gzip_in, answered, counted, too_large;
    int over_budget;   /* body dropped: the budget was spent, 503 at end */
    size_t charged;    /* bytes charged to body_budget */
    int64_t body_seen; /* body bytes received (kept or not) */
    int64_t clen;      /* Content-Length, -1 when not given */
    int close;         /* answer with Connection: close (frees the slot) */
    int status;
    int64_t entries;
    char author[NTM_HEX_ID_LEN + 1];
    char method[8];
};

/* ------------------------------------------------------------------ */
/* small internals shared with handlers.c */

const char *
Ntm_server_attach_dir(const struct ntm_server *srv)
{
    return srv->attach_dir;
}

int64_t
Ntm_server_attach_quota(const struct ntm_server *srv)
{
    return srv->o.attach_quota;
}

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

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 when
 * there is none: overlong forms, surrogates and code points past U+10FFFF
 * are not valid, and neither are the C1 controls U+0080..U+009F (a
 * terminal may obey U+009B as CSI). */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
    uint32_t cp;
    size_t len;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1fu;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0fu;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp < 0xa0)
        return 0;
    return len;
}

/*
 * Copy in to out (outlen > 0, always terminated) with every control byte,
 * DEL, backslash and byte that does not start valid UTF-8 written as \xNN,
 * so that nothing a client sends can drive the terminal or forge a line of
 * the log. Cut at a character boundary when out is full.
 */
static void
log_escape(char *out, size_t outlen, const char *in)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, n = strlen(in);
    while (*p) {
        size_t l = *p < 0x80 ? 1 : utf8_len(p, n);
        if (l == 1 && *p >= 0x20 && *p != 0x7f && *p != '\\') {
            if (o + 1 >= outlen)
                break;
            out[o++] = (char)*p;
        } else if (l > 1) {
            if (o + l >= outlen)
                break;
            memcpy(out + o, p, l);
            o += l;
        } else {
            if (o + 4 >= outlen)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
            l = 1;
        }
        p += l;
        n -= l;
    }
    out[o] = '\0';
}

static void srv_log(struct ntm_server *srv, const char *fmt, ...)
    NTM_PRINTF(2, 3);

/* The one door to the log: whatever the line quotes from a request (path,
 * method, a libmicrohttpd message) is escaped here. */
static void
srv_log(struct ntm_server *srv, const char *fmt, ...)
{
    char raw[1024], line[4 * sizeof raw];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    log_escape(line, sizeof line, raw);
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
    int binary = ctype && !strcmp(ctype, "application/octet-stream");
    if (!binary && body->len > 256 && Ntm_accepts_gzip(ae) &&
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
/* slow connections per address */

static double
mono_diff(const struct timespec *t0, const struct timespec *t1)
{
    return (double)(t1->tv_sec - t0->tv_sec) +
           (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
}

/* The connection record of c (NULL when it has none). */
static struct conn *
conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Mark c's connection pending (waiting for headers, or idle) or busy. */
static void
conn_set_pending(struct ntm_server *srv, struct MHD_Connection *c, int pending)
{
    struct conn *k = conn_of(c);
    if (!k)
        return;
    pthread_mutex_lock(&srv->conn_mu);
    k->pending = pending;
    if (pending)
        clock_gettime(CLOCK_MONOTONIC, &k->since);
    pthread_mutex_unlock(&srv->conn_mu);
}

/* Shut a connection down from any thread: its own thread sees the end of
 * the stream and closes it (and then unlinks the record). Called with
 * conn_mu held, so the fd is still the connection's own. */
static void
conn_evict(struct ntm_server *srv, struct conn *k, const char *why)
{
    char a[INET6_ADDRSTRLEN] = "?";
    k->evicted = 1;
    shutdown(k->fd, SHUT_RDWR);
    inet_ntop(k->family, k->addr, a, sizeof a);
    srv_log(srv, "http: closing a slow connection from %s (%s)", a, why);
}

/*
 * A new connection k: close pending connections older than twice the idle
 * timeout (a header trickled a line at a time never meets it), then,
 * when k's address already has per_ip_limit pending connections, the
 * oldest of them that is at least PENDING_MIN_S old (a device still in its
 * TLS handshake on a busy server is not taken for a slow one; an address
 * may pass its limit by the connections it opened in the last
 * PENDING_MIN_S, which the global limit bounds). O(open connections) per
 * accept, under one mutex: fine for the default 512; a table by address would
 * be the next step.
 */
static void
conn_admit(struct ntm_server *srv, struct conn *k)
{
    struct conn *oldest = NULL;
    unsigned same = 0;
    double max_pending = 2.0 * srv->o.conn_timeout_s;
    pthread_mutex_lock(&srv->conn_mu);
    for (struct conn *o = srv->conns; o; o = o->next) {
        if (!o->pending || o->evicted)
            continue;
        if (mono_diff(&o->since, &k->since) > max_pending) {
            conn_evict(srv, o, "no complete request in time");
            continue;
        }
        if (!k->family || o->family != k->family ||
            memcmp(o->addr, k->addr, sizeof k->addr) != 0)
            continue;
        same++;
        if (mono_diff(&o->since, &k->since) >= PENDING_MIN_S &&
            (!oldest || mono_diff(&o->since, &oldest->since) < 0))
            oldest = o;
    }
    if (oldest && same >= srv->o.per_ip_limit)
        conn_evict(srv, oldest, "too many slow connections from its address");
    k->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = k;
    srv->conns = k;
    pthread_mutex_unlock(&srv->conn_mu);
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
              enum MHD_ConnectionNotificationCode toe)
{
    struct ntm_server *srv = cls;
    pthread_mutex_lock(&srv->m.mu);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        srv->m.open_connections++;
    else
        srv->m.open_connections--;
    pthread_mutex_unlock(&srv->m.mu);

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn *k = ntm_calloc(1, sizeof *k);
        if (!k)
            return; /* not counted: the limit is a defence, not a gate */
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ad =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        k->fd = fd ? fd->connect_fd : -1;
        if (ad && ad->client_addr && ad->client_addr->sa_family == AF_INET) {
            const struct sockaddr_in *in =
                (const struct sockaddr_in *)(const void *)ad->client_addr;
            k->family = AF_INET;
            memcpy(k->addr, &in->sin_addr, sizeof in->sin_addr);
        } else if (ad && ad->client_addr &&
                   ad->client_addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *in6 =
                (const struct sockaddr_in6 *)(const void *)ad->client_addr;
            k->family = AF_INET6;
            memcpy(k->addr, &in6->sin6_addr, sizeof in6->sin6_addr);
        }
        k->pending = 1;
        clock_gettime(CLOCK_MONOTONIC, &k->since);
        *socket_ctx = k;
        if (k->fd >= 0)
            conn_admit(srv, k);
        return;
    }
    struct conn *k = *socket_ctx;
    if (!k)
        return;
    if (k->fd >= 0) {
        pthread_mutex_lock(&srv->conn_mu);
        if (k->prev)
            k->prev->next = k->next;
        else
            srv->conns = k->next;
        if (k->next)
            k->next->prev = k->prev;
        pthread_mutex_unlock(&srv->conn_mu);
    }
    ntm_free(k);
    *socket_ctx = NULL;
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

/*
 * Whether key may act (SPEC 6): the root, or enrolled and never revoked.
 * A revocation shuts its device out whatever its after_seq (SPEC 2 step
 * 4: the revoked device can no longer authenticate); after_seq only says
 * which of its entries stay valid when others relay them. *enr gets the
 * enrollment governing the key's next entry; *is_root whether it is the
 * root key.
 */
static enum ntm_err
key_may_act(struct ntm_server *srv, struct ntm_store *st, const char *key,
            struct ntm_enrollment *enr, int *is_root, struct ntm_error *err)
{
    enum ntm_err rc = ntm_store_enrollment(st, key, 0, enr, err);
    *is_root = !strcmp(key, srv->root);
    if (rc == NTM_ENOENT && !*is_root)
        return ntm_error_set(err, NTM_EUNKNOWNAUTHOR,
                             "key %.16s... is not enrolled on this server - "
                             "ask an admin to enroll it and push the "
                             "enrollment",
                             key);
    if (rc != NTM_OK && rc != NTM_ENOENT)
        return rc;
    if (rc == NTM_ENOENT) {
        memset(enr, 0, sizeof *enr);
        enr->revoked_after = -1;
        ntm_error_clear(err);
    }
    if (enr->is_root)
        *is_root = 1;
    if (*is_root)
        return NTM_OK;
    if (enr->revoked || enr->revoked_after >= 0)
        return ntm_error_set(err, NTM_EREVOKED,
                             "key %.16s... is revoked - ask an admin", key);
    if (!enr->enrolled)
        return ntm_error_set(err, NTM_EUNKNOWNAUTHOR,
                             "key %.16s... is not enrolled on this server - "
                             "ask an admin to enroll it and push the "
                             "enrollment",
                             key);
    return NTM_OK;
}

/*
 * Before reading any body: a request to an authenticated endpoint must
 * carry a well-formed Authorization, with ts inside the window, naming a
 * key that may act. The signature covers the body, so it is checked in
 * on_complete; this keeps strangers, revoked keys and stale requests from
 * making the server read bodies at all.
 */
static enum ntm_err
early_auth(struct ntm_server *srv, struct MHD_Connection *c, int any_key,
           struct ntm_error *err)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    char key[NTM_HEX_ID_LEN + 1];
    enum ntm_err rc = Ntm_auth_precheck(h, ntm_now_ms(), key, err);
    if (rc != NTM_OK)
        return rc;
    if (any_key || !strcmp(key, srv->root))
        return NTM_OK;
    struct ntm_store *st = pool_get(srv, err);
    if (!st)
        return err->code == NTM_ENOMEM ? NTM_ENOMEM
                                       : (err->code = NTM_EUNAVAIL);
    struct ntm_enrollment enr;
    int is_root;
    rc = key_may_act(srv, st, key, &enr, &is_root, err);
    pool_put(srv, st);
    return rc;
}

/* The most body a route's request may send: a request whose key need not
 * be enrolled (auth 2) proves nothing before its signature, so it holds
 * no more than NTM_JOIN_MAX_BODY. */
static size_t
route_cap(const struct ntm_server *srv, const struct Ntm_route *route)
{
    if (route->auth == 2)
        return NTM_JOIN_MAX_BODY;
    if (!strcmp(route->method, "PUT"))
        return NTM_ATTACH_MAX_CHUNK;
    return strcmp(route->method, "POST") ? BODY_FREE : srv->o.max_body;
}

/* Whether a request's Content-Type names what a push carries, exactly:
 * application/x-ndjson (or application/json: one line is also JSON), the
 * media type compared without case, with at most a charset=utf-8
 * parameter (value in any case, quoted or not). */
static int
content_type_ok(const char *ct)
{
    static const char *const types[] = {"application/x-ndjson",
                                        "application/json"};
    const char *p = ct, *e = ct + strcspn(ct, ";");
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    const char *te = e;
    while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
        te--;
    int known = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if ((size_t)(te - p) == strlen(types[i]) &&
            !strncasecmp(p, types[i], strlen(types[i])))
            known = 1;
    if (!known)
        return 0;
    p = e;
    while (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "charset=", 8) != 0)
            return 0;
        p += 8;
        int quoted = *p == '"';
        p += quoted;
        if (strncasecmp(p, "utf-8", 5) != 0)
            return 0;
        p += 5;
        if (quoted && *p++ != '"')
            return 0;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    return *p == '\0';
}

/* First call: everything that can be refused before reading a body. */
static enum MHD_Result
on_first(struct ntm_server *srv, struct MHD_Connection *c, struct request *r,
         const char *method)
{
    char path[256];
    const char *q = strchr(r->uri, '?');
    size_t plen = q ? (size_t)(q - r->uri) : strlen(r->uri);
    snprintf(r->method, sizeof r->method, "%s", method);
    r->started = 1;
    /* Headers complete: this connection is doing work now, and no longer
     * counts against its address's slow connections. */
    conn_set_pending(srv, c, 0);
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

    const char *cl = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t n = -1;
    if (cl && ntm_parse_int64(cl, 0, INT64_MAX, &n) != NTM_OK)
        n = INT64_MAX;
    r->clen = n;
    int post = !strcmp(r->route->method, "POST");
    if (post) {
        const char *ce = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
        if (ce && !strcasecmp(ce, "gzip"))
            r->gzip_in = 1;
        else if (ce && strcasecmp(ce, "identity") != 0)
            return fail(c, r, 415, NTM_EPROTO,
                        "Content-Encoding must be gzip or identity");
        const char *ct = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (ct && !content_type_ok(ct))
            return fail(c, r, 415, NTM_EPROTO,
                        "Content-Type must be application/x-ndjson");
    }
    if (!strcmp(r->route->method, "PUT")) {
        /* Attachment bytes: as they are, never compressed. */
        const char *ce = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
        const char *ct = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (ce && strcasecmp(ce, "identity") != 0)
            return fail(c, r, 415, NTM_EPROTO,
                        "Content-Encoding must be identity");
        if (!ct || strcasecmp(ct, "application/octet-stream") != 0)
            return fail(c, r, 415, NTM_EPROTO,
                        "Content-Type must be application/octet-stream");
    }
    if (n > (int64_t)route_cap(srv, r->route)) {
        r->close = 1; /* do not read the body it may still send */
        return fail(c, r, 0, NTM_ETOOLARGE,
                    "request body passes the size limit - send smaller "
                    "batches");
    }
    if (r->route->auth) {
        struct ntm_error aerr;
        ntm_error_clear(&aerr);
        if (early_auth(srv, c, r->route->auth == 2, &aerr) != NTM_OK) {
            r->close = 1;
            return send_error(c, r, &aerr);
        }
    }
    /* A body the budget cannot hold right now: 503 before it is sent. */
    if (n > (int64_t)BODY_FREE &&
        atomic_load(&srv->body_held) + (size_t)n - BODY_FREE >
            srv->body_budget) {
        r->close = 1;
        return fail(c, r, 503, NTM_EUNAVAIL,
                    "server is receiving too many large requests - retry "
                    "after the indicated delay");
    }
    return MHD_YES;
}

/* Last call: authenticate, inflate, run the handler. */
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
    /* The path as requested: a prefix route (attachments) reads its
     * last part. */
    char rpath[256];
    size_t rplen = q ? (size_t)(q - r->uri) : strlen(r->uri);
    if (rplen >= sizeof rpath)
        rplen = sizeof rpath - 1;
    memcpy(rpath, r->uri, rplen);
    rpath[rplen] = '\0';
    rq.path = rpath;
    rq.body = r->body.buf ? r->body.buf : "";
    rq.body_len = r->body.len;

    rq.st = pool_get(srv, &err);
    if (!rq.st) {
        if (err.code != NTM_ENOMEM)
            err.code = NTM_EUNAVAIL;
        goto error;
    }

    /* The signature first: nothing of a body is looked at (not even
     * inflated) before it verifies. */
    if (r->route->auth) {
        const char *h = MHD_lookup_connection_value(
            c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (ntm_sync_auth_verify(h, r->method, r->uri, r->body.buf, r->body.len,
                                 ntm_now_ms(), rq.author, NULL, &err) != NTM_OK)
            goto error;
        memcpy(r->author, rq.author, sizeof r->author);
        if (r->route->auth == 1 && key_may_act(srv, rq.st, rq.author, &rq.enr,
                                               &rq.is_root, &err) != NTM_OK)
            goto error;
    }

    if (r->gzip_in) {
        if (Ntm_gunzip(r->body.buf, r->body.len,
                       r->route->auth == 2 ? NTM_JOIN_MAX_BODY
                                           : srv->o.max_body,
                       &inflated, &err) != NTM_OK) {
            if (err.code == NTM_EPROTO)
                err.code = NTM_EINVAL;
            goto error;
        }
        rq.body = inflated.buf ? inflated.buf : "";
        rq.body_len = inflated.len;
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

/* Give back what r charged to the body budget, and its buffer. */
static void
body_drop(struct ntm_server *srv, struct request *r)
{
    ntm_buf_release(&r->body);
    if (r->charged)
        atomic_fetch_sub(&srv->body_held, r->charged);
    r->charged = 0;
}

/* Keep n more body bytes, charging the budget past BODY_FREE. 0 when
 * the budget cannot take them (nothing kept, nothing charged). */
static int
body_charge(struct ntm_server *srv, struct request *r, size_t n)
{
    size_t want = r->body.len + n > BODY_FREE ? r->body.len + n - BODY_FREE : 0;
    if (want <= r->charged)
        return 1;
    size_t more = want - r->charged;
    size_t was = atomic_fetch_add(&srv->body_held, more);
    if (was + more > srv->body_budget) {
        atomic_fetch_sub(&srv->body_held, more);
        return 0;
    }
    r->charged = want;
    return 1;
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
        r->body_seen += (int64_t)n;
        /* libmicrohttpd cannot answer in the middle of a body: past the
         * cap or the budget, the rest is read and dropped (memory stays
         * flat) and 413 or 503 goes out at its end; a body slower than
         * the deadline or the minimum rate gets the connection closed. */
        double secs = elapsed_s(&r->start);
        if (secs > srv->o.request_deadline_s) {
            srv_log(srv, "%s %s: body took longer than %u s, closing",
                    r->method, r->uri, srv->o.request_deadline_s);
            return MHD_NO;
        }
        int done = r->clen >= 0 && r->body_seen >= r->clen;
        if (!done && secs > RATE_GRACE_S &&
            (double)r->body_seen / secs < RATE_MIN_BPS) {
            srv_log(srv, "%s %s: body slower than %.0f bytes/s, closing",
                    r->method, r->uri, RATE_MIN_BPS);
            return MHD_NO;
        }
        size_t cap = route_cap(srv, r->route);
        if (r->too_large || r->body.len + n > cap) {
            r->too_large = 1;
            body_drop(srv, r);
            return MHD_YES;
        }
        if (r->over_budget || !body_charge(srv, r, n)) {
            r->over_budget = 1;
            body_drop(srv, r);
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
    if (r->over_budget)
        return fail(c, r, 503, NTM_EUNAVAIL,
                    "server is receiving too many large requests - retry "
                    "after the indicated delay");
    return on_complete(srv, c, r);
}

static void
on_done(void *cls, struct MHD_Connection *c, void **con_cls,
        enum MHD_RequestTerminationCode toe)
{
    struct ntm_server *srv = cls;
    struct request *r = *con_cls;
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
    const char *uri = r->uri ? r->uri : "-"; /* NULL when out of memory */
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    if (plen >= sizeof path)
        plen = sizeof path - 1;
    memcpy(path, uri, plen);
    path[plen] = '\0';
    srv_log(srv, "%s %s %d entries=%lld ms=%.1f author=%.16s%s",
            r->method[0] ? r->method : "-", path, status, (long long)r->entries,
            secs * 1000.0, r->author[0] ? r->author : "-",
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
    body_drop(srv, r);
    ntm_free(r->uri);
    ntm_free(r);
    *con_cls = NULL;
    /* Idle until its next request: a slow connection again. */
    conn_set_pending(srv, c, 1);
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

/* ------------------------------------------------------------------ */
/* The checkpointer */

/*
 * A push's commit used to copy the WAL back into the database file and
 * sync it (SQLite's checkpoint at 1000 pages) while it held the write
 * lock: about a sixth of the server's CPU per entry, and its fsyncs,
 * inside the one section no two pushes share. Here a thread of the
 * server's own, with its own connection, checkpoints every CKPT_EVERY_MS
 * beside the pushes (PASSIVE: it waits for no reader and no writer), and
 * a commit checkpoints only past the backstop (store/db.c). The WAL
 * pages that several batches touched between two checkpoints are copied
 * once.
 */
#define CKPT_EVERY_MS 200

/* A failure is logged when it starts, and the recovery when it ends, not
 * every round (a full disk would fill the log). */
static void *
ckpt_loop(void *arg)
{
    struct ntm_server *srv = arg;
    int failing = 0;
    pthread_mutex_lock(&srv->ckpt_mu);
    while (!srv->ckpt_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += CKPT_EVERY_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&srv->ckpt_cv, &srv->ckpt_mu, &until);
        if (srv->ckpt_stop)
            break;
        pthread_mutex_unlock(&srv->ckpt_mu);
        struct ntm_error err;
        if (ntm_store_checkpoint(srv->ckpt_st, &err) != NTM_OK) {
            if (!failing)
                srv_log(srv,
                        "ntm serve: cannot copy the WAL back into the "
                        "store (%s) - pushes go on, the WAL grows until it "
                        "can",
                        err.msg);
            failing = 1;
        } else if (failing) {
            srv_log(srv, "ntm serve: the WAL is copied back into the store "
                         "again");
            failing = 0;
        }
        pthread_mutex_lock(&srv->ckpt_mu);
    }
    pthread_mutex_unlock(&srv->ckpt_mu);
    return NULL;
}

static enum ntm_err
ckpt_start(struct ntm_server *srv, struct ntm_error *err)
{
    enum ntm_err rc =
        ntm_store_open(&srv->ckpt_st, srv->db_path, NTM_STORE_SERVER, err);
    if (rc != NTM_OK)
        return rc;
    if (pthread_create(&srv->ckpt_thread, NULL, ckpt_loop, srv) != 0)
        return ntm_error_set(err, NTM_ENOMEM,
                             "cannot start the checkpoint thread");
    srv->ckpt_started = 1;
    return NTM_OK;
}

/* After the last push (server_free). What the WAL still holds is folded
 * back by SQLite when the last connection, a pool one, closes. */
static void
ckpt_stop(struct ntm_server *srv)
{
    if (srv->ckpt_started) {
        pthread_mutex_lock(&srv->ckpt_mu);
        srv->ckpt_stop = 1;
        pthread_cond_signal(&srv->ckpt_cv);
        pthread_mutex_unlock(&srv->ckpt_mu);
        pthread_join(srv->ckpt_thread, NULL);
        srv->ckpt_started = 0;
    }
    ntm_store_close(srv->ckpt_st);
    srv->ckpt_st = NULL;
}

static void
server_free(struct ntm_server *srv)
{
    if (!srv)
        return;
    ckpt_stop(srv);
    for (size_t i = 0; i < srv->npool; i++)
        ntm_store_close(srv->pool[i]);
    ntm_free(srv->pool);
    ntm_free(srv->db_path);
    ntm_free(srv->attach_dir);
    if (srv->key_pem) {
        ntm_memzero(srv->key_pem, strlen(srv->key_pem));
        ntm_free(srv->key_pem);
    }
    ntm_free(srv->cert_pem);
    pthread_mutex_destroy(&srv->pool_mu);
    pthread_mutex_destroy(&srv->write_mu);
    pthread_mutex_destroy(&srv->log_mu);
    pthread_mutex_destroy(&srv->conn_mu);
    pthread_mutex_destroy(&srv->m.mu);
    pthread_mutex_destroy(&srv->ckpt_mu);
    pthread_cond_destroy(&srv->ckpt_cv);
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

/* Install a root-signed reset statement (sync/reset.c) for GET /v1/info:
 * it must hold for this root and not go back on an earlier one. */
static enum ntm_err
install_reset(struct ntm_store *st, const char *root, const char *text,
              struct ntm_error *err)
{
    struct Ntm_reset r, had;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    enum ntm_err rc =
        v ? Ntm_reset_check(v, root, &r, err)
          : ntm_error_set(err, NTM_EINVAL, "the reset statement is not JSON");
    char *old = NULL;
    if (rc == NTM_OK) {
        rc = ntm_store_meta_get(st, NTM_SERVER_KEY_RESET, &old, err);
        if (rc == NTM_ENOENT)
            rc = NTM_OK;
    }
    if (rc == NTM_OK && old) {
        json_t *ov = json_loads(old, 0, NULL);
        if (ov && Ntm_reset_check(ov, root, &had, NULL) == NTM_OK &&
            had.epoch > r.epoch)
            rc = ntm_error_set(err, NTM_EINVAL,
                               "the reset statement has epoch %lld, below "
                               "the one this server holds (%lld)",
                               (long long)r.epoch, (long long)had.epoch);
        json_decref(ov);
    }
    int64_t n = 0, last = 0;
    if (rc == NTM_OK && (rc = ntm_store_stats(st, &n, &last, err)) == NTM_OK &&
        last < r.last_gseq)
        rc = ntm_error_set(err, NTM_EINVAL,
                           "the reset statement names gseq %lld, above what "
                           "this server holds (%lld): it was made for "
                           "another copy",
                           (long long)r.last_gseq, (long long)last);
    char *canon =
        rc == NTM_OK ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (rc == NTM_OK && !canon)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (rc == NTM_OK)
        rc = ntm_store_meta_set(st, NTM_SERVER_KEY_RESET, canon, err);
    free(canon);
    ntm_free(old);
    json_decref(v);
    return rc;
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
    pthread_mutex_init(&srv->conn_mu, NULL);
    pthread_mutex_init(&srv->m.mu, NULL);
    pthread_mutex_init(&srv->ckpt_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->ckpt_cv, &ca);
    pthread_condattr_destroy(&ca);
    srv->o = *o;
    if (!srv->o.attach_quota)
        srv->o.attach_quota = NTM_SYNC_DEFAULT_ATTACH_QUOTA;
    {
        struct ntm_buf ad = NTM_BUF_INIT;
        const char *slash = strrchr(o->db_path, '/');
        if (o->attach_dir)
            ntm_buf_adds(&ad, o->attach_dir);
        else if (slash)
            ntm_buf_addf(&ad, "%.*s/attachments", (int)(slash - o->db_path),
                         o->db_path);
        else
            ntm_buf_adds(&ad, "attachments");
        srv->attach_dir = ntm_buf_detach(&ad, NULL);
    }
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
    srv->body_budget = 2 * srv->o.max_body;
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

    /* The store: created only when missing (a file that is there but
     * empty, cut short or not ntm's is refused, never re-created: the
     * server would forget every entry it acknowledged), checked, root
     * pinned. */
    rc = ntm_store_open(
        &st, srv->db_path,
        (access(srv->db_path, F_OK) == 0 ? 0 : NTM_STORE_CREATE) |
            NTM_STORE_SERVER,
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
    if (o->reset &&
        (rc = install_reset(st, srv->root, o->reset, err)) != NTM_OK)
        goto fail;
    pool_put(srv, st);
    st = NULL;
    if ((rc = ckpt_start(srv, err)) != NTM_OK)
        goto fail;

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
