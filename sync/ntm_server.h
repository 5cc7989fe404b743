/* SPDX-License-Identifier: MIT */
/*
 * ntm_server.h - the central endpoint of SPEC.md section 6 (ntm serve):
 * HTTPS (GnuTLS through libmicrohttpd), a thread pool, one store.
 *
 * Built as its own library (ntm-server), the only code that links
 * libmicrohttpd, so that libntm - what a phone application embeds - holds
 * no HTTP server. The tool links both. Never prints: one line per request
 * goes through the log callback.
 */
#ifndef NTM_SERVER_H
#define NTM_SERVER_H

#include "ntm_sync.h"

/* Called with one line (no newline) per request and for start/stop
 * notices; ud is ntm_server_opts.log_ud. Called from server threads,
 * concurrently: the function must be thread-safe. */
typedef void (*ntm_log_fn)(void *ud, const char *line);

struct ntm_server_opts {
    const char *db_path;     /* the server's store; created when missing */
    const char *reset;       /* a root-signed reset statement (JSON text,
                                ntm_reset_statement) to keep and hand out
                                in GET /v1/info after a restore; NULL */
    const char *listen;      /* "ADDR:PORT", "[ADDR6]:PORT"; port 0 picks one */
    const char *tls_cert;    /* PEM certificate chain file, or NULL */
    const char *tls_key;     /* PEM private key file, or NULL; without both,
                                plain HTTP, refused unless ADDR is loopback */
    const char *root_key;    /* root author id hex; NULL: the store's pinned
                                root (a given one is pinned in the store) */
    unsigned threads;        /* thread pool size; 0: number of CPUs */
    unsigned conn_limit;     /* global connection limit; 0: 512. The last
                                eighth (1 to 16 slots) is a reserve: a
                                request arriving while it is in use gets
                                503 with Retry-After and Connection: close;
                                past the limit, connections are dropped */
    unsigned per_ip_limit;   /* slow connections (headers not complete,
                                or idle) per client IP; past it the
                                oldest is closed; 0: 32 */
    unsigned conn_timeout_s; /* idle connection timeout; 0: 15 */
    unsigned request_deadline_s; /* whole request (body upload); 0: 60 */
    size_t max_body;             /* request body cap (as sent and inflated);
                                    0: NTM_SYNC_DEFAULT_MAX_BODY */
    unsigned max_batch;    /* lines per push; 0: NTM_SYNC_DEFAULT_MAX_BATCH */
    unsigned max_inflight; /* requests served at once (from headers read to
                              answer sent, so slow uploads count) before
                              429 with Retry-After; 0: 256 */
    ntm_log_fn log;        /* request log; NULL: lines go to stderr */
    void *log_ud;
    const char *attach_dir; /* attachment bytes (docs/contract.md,
                               attachments); NULL: "attachments" beside
                               db_path */
    int64_t attach_quota;   /* bytes of attachments one device may upload;
                               0: NTM_SYNC_DEFAULT_ATTACH_QUOTA */
};

struct ntm_server; /* opaque */

/*
 * new: a running server (its own threads). Opens the store, runs PRAGMA
 * quick_check, pins root_key, loads the TLS files and starts listening.
 * Stop it with ntm_server_stop.
 * Errors: NTM_EINVAL (bad listen address, plain HTTP on a non-loopback
 * address, no root key), NTM_EIO (TLS files), NTM_ECORRUPT, NTM_EROOTKEY,
 * NTM_ENET (cannot bind), store errors.
 */
NTM_EXTERN enum ntm_err ntm_server_start(struct ntm_server **out,
                                         const struct ntm_server_opts *o,
                                         struct ntm_error *err);

/* The TCP port the server listens on (useful after port 0). */
NTM_EXTERN unsigned ntm_server_port(const struct ntm_server *srv);

/* Graceful stop: refuse new requests (503), let in-flight ones (a push
 * batch being committed) finish, close the stores and free srv. NULL is a
 * no-op. */
NTM_EXTERN void ntm_server_stop(struct ntm_server *srv);

/*
 * Start a server and serve until SIGTERM or SIGINT, then stop gracefully.
 * Blocks those signals in the calling thread (and so in the server's
 * threads). Returns NTM_OK after a clean stop.
 */
NTM_EXTERN enum ntm_err ntm_server_run(const struct ntm_server_opts *o,
                                       struct ntm_error *err);

#endif /* NTM_SERVER_H */
