/* SPDX-License-Identifier: MIT */
/*
 * sync_int.h - declarations shared by the files of sync/ (wire.c,
 * server.c, handlers.c, client.c) and its test suite. Not installed.
 */
#ifndef NTM_SYNC_INT_H
#define NTM_SYNC_INT_H

#include <sys/socket.h>

#include "ntm_sync.h"

/* ------------------------------------------------------------------ */
/* wire.c: encodings shared by both sides */

/* gzip in[0..len) into out (appended). */
enum ntm_err Ntm_gzip(const void *in, size_t len, struct ntm_buf *out);

/* Inflate a gzip stream into out (appended). NTM_ETOOLARGE as soon as the
 * output would pass max bytes (no zip bombs), NTM_EPROTO when in is not a
 * complete gzip stream. */
enum ntm_err Ntm_gunzip(const void *in, size_t len, size_t max,
                        struct ntm_buf *out, struct ntm_error *err);

/* What can be checked of an Authorization header (SPEC 6) before the
 * body it signs has arrived: well formed (scheme, 64-hex key, ts, a 64-byte
 * b64 sig) and ts within NTM_SYNC_CLOCK_SKEW_MS of now_ms. author gets the
 * key. NTM_EAUTH or NTM_ECLOCKSKEW otherwise. The signature itself is
 * checked by ntm_sync_auth_verify once the body is complete. */
enum ntm_err Ntm_auth_precheck(const char *header, int64_t now_ms,
                               char author[NTM_HEX_ID_LEN + 1],
                               struct ntm_error *err);

/* Whether an Accept-Encoding value accepts gzip (and not with q=0). */
int Ntm_accepts_gzip(const char *accept_encoding);

/* Parse "ADDR:PORT" or "[ADDR6]:PORT" into ss; *loopback says whether
 * ADDR is 127.0.0.0/8 or ::1. */
enum ntm_err Ntm_listen_parse(const char *listen, struct sockaddr_storage *ss,
                              socklen_t *sslen, int *loopback,
                              struct ntm_error *err);

/* Whether the host of an http(s) URL is a loopback address or
 * "localhost". */
int Ntm_url_is_loopback(const char *url);

/* One push line {"entry":"<B>","sig":"<b64>"} (or a pull line, which also
 * has "gseq"). On NTM_OK *entry is new (ntm_free), *sig is new, *gseq is
 * the line's gseq or -1 when absent. NTM_EBADENTRY with a message
 * otherwise. */
enum ntm_err Ntm_line_parse(const char *line, size_t len, char **entry,
                            size_t *entry_len, char **sig, int64_t *gseq,
                            struct ntm_error *err);

/* Append one push line for (entry, sig) and a newline to out. With gseq >=
 * 0 the line also carries "gseq" first (pull lines). */
enum ntm_err Ntm_line_add(struct ntm_buf *out, int64_t gseq, const char *entry,
                          size_t len, const char *sig);

/* Read the author id out of entry bytes without validating anything else
 * (used to apply the "later lines of a rejected author get gap" rule).
 * author gets "" when not found. */
void Ntm_entry_author(const char *entry, size_t len,
                      char author[NTM_HEX_ID_LEN + 1]);

/* The error body {"error":{"code","message"[,"server_time_ms"]}}, with
 * server_time_ms only when >= 0. */
enum ntm_err Ntm_error_body(struct ntm_buf *out, const char *code,
                            const char *message, int64_t server_time_ms);

/* Whether an Accept-Language value asks for Vietnamese: its first
 * language tag is "vi" or starts with "vi-" / "vi_" (any case). */
int Ntm_accepts_vi(const char *accept_language);

/* The Vietnamese message for a wire error code of the server (what failed
 * and what to do), or NULL when there is none. Static. */
const char *Ntm_error_message_vi(const char *code);

/* Append the compact JSON text of v to out (jansson flags added). */
enum ntm_err Ntm_json_add(struct ntm_buf *out, const json_t *v, size_t flags);

/* Call fn for each non-empty line of buf[0..len) (lines end with \n; a
 * trailing \r is dropped). n is the 1-based line number. Stops when fn
 * returns nonzero and returns that value. */
typedef int (*Ntm_line_fn)(void *ud, int n, const char *line, size_t len);
int Ntm_lines_foreach(const char *buf, size_t len, Ntm_line_fn fn, void *ud);

/* ------------------------------------------------------------------ */
/* server.c and handlers.c */

#include <pthread.h>

/* Endpoints, for metrics (handlers.c keeps the table in this order). */
enum Ntm_endpoint {
    NTM_EP_INFO,
    NTM_EP_HEALTHZ,
    NTM_EP_HEADS,
    NTM_EP_PUSH,
    NTM_EP_PULL,
    NTM_EP_METRICS,
    NTM_EP_OTHER,
    NTM_EP_COUNT
};

#define NTM_LAT_BUCKETS 10 /* latency histogram buckets (plus +Inf) */

/* Counters for /metrics, guarded by mu. */
struct Ntm_metrics {
    pthread_mutex_t mu;
    int64_t requests[NTM_EP_COUNT][600]; /* by endpoint and status */
    int64_t lat_bucket[NTM_EP_COUNT][NTM_LAT_BUCKETS + 1];
    double lat_sum[NTM_EP_COUNT];
    int64_t lat_count[NTM_EP_COUNT];
    int64_t accepted, duplicates;
    int64_t rejected[NTM_ERR_LAST]; /* by code */
    int64_t flagged[NTM_ERR_LAST];
    int64_t open_connections;
};

/* A request as handlers see it. All pointers are borrowed for the
 * duration of the handler call. */
struct Ntm_req {
    struct ntm_server *srv;
    struct ntm_store *st; /* this request's store connection */
    const char *method;
    const char *path;  /* path without the query */
    const char *query; /* raw query after '?', or "" */
    const char *body;  /* inflated body */
    size_t body_len;
    char author[NTM_HEX_ID_LEN + 1]; /* authenticated caller ("" if none) */
    struct ntm_enrollment enr;       /* the caller's enrollment */
    int is_root;                     /* the caller is the root key */
};

/* What a handler answers with on NTM_OK (on failure: err). */
struct Ntm_resp {
    struct ntm_buf body;
    const char *content_type; /* NULL: application/json */
    int64_t next_after;       /* >= 0: header Ntm-Next-After */
    int more;                 /* -1: no header; else Ntm-More */
    int64_t entries;          /* entries handled, for the log line */
};

typedef enum ntm_err (*Ntm_handler_fn)(struct Ntm_req *rq, struct Ntm_resp *rs,
                                       struct ntm_error *err);

struct Ntm_route {
    const char *method;
    const char *path;
    int auth; /* 1: request authentication required */
    enum Ntm_endpoint ep;
    Ntm_handler_fn fn;
};

/* Find the route for (method, path). NULL and *path_known = 1 when the
 * path exists with another method (405). */
const struct Ntm_route *Ntm_route_find(const char *method, const char *path,
                                       int *path_known);

/* Server internals the handlers use. */
const char *Ntm_server_root(const struct ntm_server *srv);
unsigned Ntm_server_max_batch(const struct ntm_server *srv);
struct Ntm_metrics *Ntm_server_metrics(struct ntm_server *srv);
/* Serialise store writes (one push batch at a time). */
void Ntm_server_write_lock(struct ntm_server *srv);
void Ntm_server_write_unlock(struct ntm_server *srv);

/* Value of a query parameter (raw, not decoded) copied into out; 0 when
 * absent, -1 when too long. */
int Ntm_query_get(const char *query, const char *name, char *out,
                  size_t outlen);

/* HTTP status and SPEC wire code for a failure. */
int Ntm_http_status(const struct ntm_error *err, const char **code);

/* init.c: curl_global_init, once (ntm_global_init). */
enum ntm_err Ntm_sync_init(void);

#endif /* NTM_SYNC_INT_H */
