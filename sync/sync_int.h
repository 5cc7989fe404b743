/* SPDX-License-Identifier: MIT */
/*
 * sync_int.h - declarations shared by the files of sync/ (wire.c,
 * ingest.c, settings.c, server.c, handlers.c, transport.c, client.c,
 * bundle.c) and its
 * test suite. Not installed.
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

/* As Ntm_line_parse, without copies: on NTM_OK *obj is the parsed line
 * (new, json_decref) and *entry / *sig point into it. */
enum ntm_err Ntm_line_read(const char *line, size_t len, json_t **obj,
                           const char **entry, size_t *entry_len,
                           const char **sig, int64_t *gseq,
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
/* The same, and *seq gets the entry's "seq" (-1 when not an integer). */
void Ntm_entry_author_seq(const char *entry, size_t len,
                          char author[NTM_HEX_ID_LEN + 1], int64_t *seq);

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
/* ingest.c: the one door for entries from elsewhere */

/*
 * A push batch (server), a pull page (client) and a bundle file all take
 * entry lines {"entry":"<B>","sig":"<b64>"[,"gseq":g]} into a store the
 * same way: each line is parsed once and its entry handed to
 * ntm_store_ingest; the verdicts are counted by code and noted in one
 * report shape; what differs between the callers is a set of flags.
 */
/* After a rejected line, the same author's later lines are rejected with
 * gap (SPEC 6: the push answer). */
#define NTM_INGEST_CASCADE (1u << 0)
/* A line that is not an entry line fails the stream (NTM_EBADENTRY, the
 * cause in err) instead of being rejected. */
#define NTM_INGEST_STRICT (1u << 1)
/* Lines carry "gseq", strictly increasing past last_gseq (pull pages);
 * else NTM_EPROTO. */
#define NTM_INGEST_GSEQ (1u << 2)
/* Lines refused for gap or unknown author wait for Ntm_ingest_retry
 * (they need an entry still to come). */
#define NTM_INGEST_RETRY (1u << 3)
/* Notes as the push answer has them: no "entry", author "" when not
 * known. */
#define NTM_INGEST_WIRE (1u << 4)

struct Ntm_ingest;

struct Ntm_ingest_opts {
    enum ntm_source source;
    unsigned flags; /* NTM_INGEST_* */
    unsigned batch; /* > 0: one store transaction per this many lines,
                       committed by the door (and by Ntm_ingest_end);
                       0: the caller's transaction */
    /* Called for each line the store gave a verdict (whatever it is);
     * a code other than NTM_OK fails the stream. May be NULL. */
    enum ntm_err (*taken)(void *ud, const struct ntm_ingest_result *r,
                          struct ntm_error *err);
    /* Called after each commit of a batch. May be NULL. */
    void (*progress)(void *ud, const struct Ntm_ingest *in);
    void *ud;
};

struct Ntm_retry_item {
    int64_t line, token;
};

struct Ntm_ingest {
    struct ntm_store *st;
    struct Ntm_ingest_opts o;
    int64_t lines;      /* lines handed in (retries not counted again) */
    int64_t accepted;   /* new in the log (flagged included) */
    int64_t duplicates; /* already held */
    int64_t invalid;    /* rejected lines */
    int64_t rejected_by[NTM_ERR_LAST], flagged_by[NTM_ERR_LAST];
    int64_t last_gseq; /* NTM_INGEST_GSEQ: the last gseq taken */
    int64_t fail_line; /* the line that failed the stream, else 0 */
    /* The report, in one shape: arrays of {"line","entry","author","seq",
     * "code","message"} (NTM_INGEST_WIRE: without "entry"). */
    json_t *flagged, *rejected;
    /* internal */
    json_t *bad_authors;
    struct Ntm_retry_item *retry;
    size_t nretry, capretry;
    unsigned in_batch;
    int in_tx;
};

/* Start a stream into st. NTM_ENOMEM. Release with Ntm_ingest_release
 * (on failure too). */
enum ntm_err Ntm_ingest_init(struct Ntm_ingest *in, struct ntm_store *st,
                             const struct Ntm_ingest_opts *o,
                             struct ntm_error *err);

/*
 * Take one line (line is its number in the stream, token the caller's
 * handle for reading it again in Ntm_ingest_retry). NTM_OK when the line
 * got a verdict (counted and noted); otherwise the stream failed: a
 * failure of the store (the open batch is rolled back), NTM_ENOMEM, or
 * with NTM_INGEST_STRICT / NTM_INGEST_GSEQ NTM_EBADENTRY / NTM_EPROTO.
 */
enum ntm_err Ntm_ingest_line(struct Ntm_ingest *in, int64_t line, int64_t token,
                             const char *text, size_t len,
                             struct ntm_error *err);

/* Ntm_ingest_line for each non-empty line of buf[0..len) (line and token:
 * the line number). Stops at the first failure. */
enum ntm_err Ntm_ingest_lines(struct Ntm_ingest *in, const char *buf,
                              size_t len, struct ntm_error *err);

/*
 * Lines read and checked ahead of the writer: each line's JSON and steps
 * 1-2 of its entry (shape, signature: ntm_entry_check) on several threads,
 * before the store is written (on the server, before its write lock is
 * taken). Then Ntm_ingest_prepared takes them in order, one writer, with
 * the verdicts Ntm_ingest_line would give.
 */
struct Ntm_prep_item {
    int64_t line, token;
    const char *text; /* borrowed from the caller until taken */
    size_t len;
    /* Ntm_prep_run's: */
    enum ntm_err rc;         /* of reading the line (Ntm_line_read) */
    struct ntm_error lerr;   /* why, when rc is not NTM_OK */
    int64_t gseq;            /* -1 when the line has none */
    struct ntm_checked *chk; /* NULL when rc is not NTM_OK */
};
struct Ntm_prep {
    struct Ntm_prep_item *v;
    size_t n, cap;
};
void Ntm_prep_init(struct Ntm_prep *p);
void Ntm_prep_release(struct Ntm_prep *p);
/* Add a line (text borrowed). NTM_ENOMEM. */
enum ntm_err Ntm_prep_add(struct Ntm_prep *p, int64_t line, int64_t token,
                          const char *text, size_t len);
/* Every non-empty line of buf[0..len), numbered as Ntm_ingest_lines
 * numbers them. NTM_ENOMEM. */
enum ntm_err Ntm_prep_lines(struct Ntm_prep *p, const char *buf, size_t len);
/* Read and check every line added, on up to threads threads (0: by the
 * CPU count; 1: this one). Never fails: memory running out is noted per
 * line and fails the stream at that line when taken. */
void Ntm_prep_run(struct Ntm_prep *p, unsigned threads);
/* Take the lines of p in order (as Ntm_ingest_line each). */
enum ntm_err Ntm_ingest_prepared(struct Ntm_ingest *in, struct Ntm_prep *p,
                                 struct ntm_error *err);

/* Note a line refused before it reached the door (code, message), as a
 * rejection. */
void Ntm_ingest_reject(struct Ntm_ingest *in, int64_t line, enum ntm_err code,
                       const char *message);

/* Read the line of token again: *text, *len stay valid until the next
 * call. */
typedef enum ntm_err (*Ntm_ingest_read_fn)(void *ud, int64_t token,
                                           const char **text, size_t *len,
                                           struct ntm_error *err);

/*
 * NTM_INGEST_RETRY: take the lines that waited again, while a round makes
 * progress; then one last round rejects what still waits. Each round
 * commits its own batches.
 */
enum ntm_err Ntm_ingest_retry(struct Ntm_ingest *in, Ntm_ingest_read_fn read,
                              void *ud, struct ntm_error *err);

/* With a batch size: commit the open batch. */
enum ntm_err Ntm_ingest_end(struct Ntm_ingest *in, struct ntm_error *err);

/* Sort the notes by line (a stream taken out of line order). */
void Ntm_ingest_sort_notes(struct Ntm_ingest *in);

/* Roll back an open batch and free what in holds (not the notes taken
 * with json_incref). */
void Ntm_ingest_release(struct Ntm_ingest *in);

/* ------------------------------------------------------------------ */
/* Settings of a device store (ntm_sync.h lists them); only sync/ reads
 * and writes these keys. */

#define NTM_SYNC_KEY_SERVER       "sync.server"
#define NTM_SYNC_KEY_CACERT       "sync.cacert"
#define NTM_SYNC_KEY_PIN          "sync.pin"
#define NTM_SYNC_KEY_CURSOR       "sync.cursor"
#define NTM_SYNC_KEY_SERVER_GSEQ  "sync.server_gseq"
#define NTM_SYNC_KEY_LAST_PUSH    "sync.last_push_ms"
#define NTM_SYNC_KEY_LAST_PULL    "sync.last_pull_ms"
#define NTM_SYNC_KEY_CLOCK_OFFSET "sync.clock_offset_ms"

/* settings.c: save the server settings in the caller's transaction (a
 * NULL cacert or pin removes it). */
enum ntm_err Ntm_sync_settings_save(struct ntm_store *st, const char *server,
                                    const char *cacert, const char *pin,
                                    struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* transport.c: one libcurl session to the server */

struct Ntm_session {
    void *h;                   /* CURL * */
    char *url, *cacert, *pin;  /* owned */
    struct ntm_client_opts o;  /* with the defaults filled in */
    const struct ntm_key *key; /* borrowed; NULL: requests not signed */
    struct ntm_store *st;      /* borrowed, may be NULL */
    int64_t clock_offset;
};

struct Ntm_http_resp {
    long status;
    struct ntm_buf body;
    size_t cap; /* the body is refused past this many bytes */
    int overflow;
    int64_t next_after; /* -1 when absent */
    int more;           /* -1 when absent */
    long retry_after;   /* seconds, 0 when absent */
};

/* Open a session: o's settings, or st's sync.* ones where o gives none
 * (o may be NULL). NTM_ECONFIG without a server URL, NTM_EINVAL for a URL
 * that is not https:// (or http:// to a loopback address), NTM_ENOMEM. */
enum ntm_err Ntm_session_open(struct Ntm_session *s, struct ntm_store *st,
                              const struct ntm_key *key,
                              const struct ntm_client_opts *o,
                              struct ntm_error *err);
void Ntm_session_close(struct Ntm_session *s);

/* One request (body may be NULL) with the retries; r->cap must be set.
 * NTM_OK for a 200 answer; else the failure (NTM_ENET, NTM_ETIMEOUT,
 * NTM_EUNAVAIL after the retries, NTM_ETLS, NTM_ETOOLARGE, or the code of
 * the server's error body). */
enum ntm_err Ntm_request(struct Ntm_session *s, const char *method,
                         const char *path, const char *body, size_t len,
                         struct Ntm_http_resp *r, struct ntm_error *err);

/* The answer's body as a JSON object (new); NTM_EPROTO otherwise. */
enum ntm_err Ntm_http_json(const struct Ntm_http_resp *r, const char *what,
                           json_t **out, struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* client.c */

/* What pull pages applied, summed over the pages. */
struct Ntm_pull_counts {
    int64_t received, applied, invalid;
    int64_t last_gseq;    /* the last gseq of the last page */
    const char *own;      /* set by the caller: this device's author id */
    int64_t own_fork_seq; /* lowest seq of own's lines refused as forks */
};

/* Apply the body of a GET /v1/entries answer (lines after gseq after) to
 * st, in the caller's transaction: every entry validated
 * (NTM_SOURCE_PULL), the peer head noted for each one the store holds.
 * NTM_EPROTO for a malformed line or a gseq out of order, store
 * failures. */
enum ntm_err Ntm_pull_apply(struct ntm_store *st, const char *body, size_t len,
                            int64_t after, struct Ntm_pull_counts *c,
                            struct ntm_error *err);

/* join.c: show the server this device's stranded entries it was not
 * shown yet (a push it refuses as forks and keeps as evidence). *shown:
 * how many. */
enum ntm_err Ntm_report_stranded(struct Ntm_session *s, const char *me,
                                 int64_t *shown, struct ntm_error *err);

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
    NTM_EP_JOIN,
    NTM_EP_FORKS,
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

/* reset.c: a root-signed reset statement, checked. */
struct Ntm_reset {
    int64_t epoch, last_gseq, ts;
};
/* Check reset ({"statement","sig"}) against root_hex: signed by it, about
 * it. NTM_OK with out filled; NTM_EBADSIG, NTM_EBADENTRY, NTM_EROOTKEY. */
enum ntm_err Ntm_reset_check(const json_t *reset, const char *root_hex,
                             struct Ntm_reset *out, struct ntm_error *err);
#define NTM_SYNC_KEY_RESET_EPOCH "sync.reset_epoch"
#define NTM_SERVER_KEY_RESET     "server.reset"

struct ntm_server; /* ntm_server.h: the server's own library */

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
    int auth; /* 1: request authentication required; 2: a signed request
                 whose key need not be enrolled (NTM_JOIN_MAX_BODY) */
    enum Ntm_endpoint ep;
    Ntm_handler_fn fn;
};

/* The body of a request whose key need not be enrolled (auth 2). */
#define NTM_JOIN_MAX_BODY 8192

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
