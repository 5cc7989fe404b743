/* SPDX-License-Identifier: MIT */
/*
 * ntm_sync.h - the client that pushes to and pulls from the central
 * endpoint (SPEC.md section 6), and the request authentication both sides
 * share. The endpoint itself (ntm serve) is ntm_server.h, a library of its
 * own: an application that only syncs never carries an HTTP server.
 *
 * Depends on util/, crypto/ and store/; libcurl. Never prints: the client
 * reports progress through a progress callback.
 *
 * Sync state lives in the device store's settings (ntm_store_meta_*), under
 * keys prefixed "sync.":
 *   sync.server        base URL, e.g. "https://10.0.0.2:8443"
 *   sync.cacert        path of a PEM CA bundle to trust (optional)
 *   sync.pin           "sha256//<b64>" public key pin (optional)
 *   sync.cursor        last server gseq applied by a pull
 *   sync.server_gseq   highest server gseq this device has seen (rollback
 *                      detection)
 *   sync.last_push_ms  sync.last_pull_ms   wall clock of the last success
 *   sync.clock_offset_ms  correction learnt from a 401 clock_skew answer
 *
 * TLS trust. A device trusts its server in one of three ways:
 *   - the system CA store (default);
 *   - --cacert F: only the CAs in F;
 *   - --pin sha256//B64 alone ("pin-only mode"): certificate chain and host
 *     name are NOT checked, but the server's public key MUST hash to the
 *     pin. This is the mode for rural devices whose clock is wrong: a
 *     certificate "not yet valid" or "expired" by the device's clock does
 *     not matter, while a man in the middle still cannot present the pinned
 *     key. With --cacert and --pin together, both are required.
 * Whatever the mode, entries are verified locally: the server (or a man in
 * the middle) can drop or delay entries, never forge them.
 */
#ifndef NTM_SYNC_H
#define NTM_SYNC_H

#include <jansson.h>

#include "ntm_store.h"

#define NTM_SYNC_DEFAULT_MAX_BATCH 500        /* entries per push batch */
#define NTM_SYNC_DEFAULT_MAX_BODY  (8u << 20) /* request body cap, bytes */
#define NTM_SYNC_DEFAULT_PAGE      2000       /* entries per pull page */
#define NTM_SYNC_MAX_PAGE          5000       /* largest page a server gives */
#define NTM_SYNC_CLOCK_SKEW_MS     (15 * 60 * 1000) /* SPEC 6: 15 minutes */

/* Bytes of attachments one device may upload to a server (its quota). */
#define NTM_SYNC_DEFAULT_ATTACH_QUOTA (1LL << 30)

/* ------------------------------------------------------------------ */
/* Request authentication (SPEC.md section 6) */

/*
 * Build the value of the Authorization header for a request:
 * "NTM-Ed25519 key=<author>,ts=<ts_ms>,sig=<b64>" where sig signs
 * "ntm-req-v1\n<METHOD>\n<path and query>\n<ts>\n<hex BLAKE2b-256 of body>".
 * body is the request body exactly as sent (after gzip), may be NULL when
 * len is 0. out is appended to.
 */
NTM_EXTERN enum ntm_err
ntm_sync_auth_header(struct ntm_buf *out, const struct ntm_key *key,
                     const char *method, const char *path_and_query,
                     int64_t ts_ms, const void *body, size_t len);

/*
 * Check an Authorization header value against a request. On NTM_OK,
 * author gets the key's author id and *ts_ms the signed time.
 * Errors: NTM_EAUTH (malformed, or bad signature), NTM_ECLOCKSKEW (ts more
 * than NTM_SYNC_CLOCK_SKEW_MS from now_ms; the signature was valid).
 */
NTM_EXTERN enum ntm_err
ntm_sync_auth_verify(const char *header, const char *method,
                     const char *path_and_query, const void *body, size_t len,
                     int64_t now_ms, char author[NTM_HEX_ID_LEN + 1],
                     int64_t *ts_ms, struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Sync settings and state of a device store */

/*
 * Point st at a server without asking it (it cannot be reached now):
 * save sync.server, sync.cacert and sync.pin (a NULL cacert or pin
 * removes the old setting) in one transaction. The server's root key is
 * checked, and pinned when st has none, at the first sync. The sync
 * position is kept. ntm_client_setup does the same after asking the
 * server. Errors: NTM_EINVAL (server NULL), store errors.
 */
NTM_EXTERN enum ntm_err ntm_sync_configure(struct ntm_store *st,
                                           const char *server,
                                           const char *cacert, const char *pin,
                                           struct ntm_error *err);

/* What ntm_sync_status reads: the settings and where sync stands. */
struct ntm_sync_status {
    char *server;   /* new (or NULL when not set); ntm_sync_status_release */
    char *cacert;   /* new or NULL */
    char *pin;      /* new or NULL */
    int64_t cursor; /* last server gseq applied by a pull */
    int64_t server_gseq;  /* highest server gseq seen */
    int64_t last_push_ms; /* wall clock of the last push; 0: never */
    int64_t last_pull_ms; /* of the last pull; 0: never */
    int64_t unpushed;     /* entries the server is not known to hold */
};

/* Read the sync settings and state of st, without network. On failure
 * nothing needs releasing. Errors: store errors. */
NTM_EXTERN enum ntm_err ntm_sync_status(struct ntm_store *st,
                                        struct ntm_sync_status *out,
                                        struct ntm_error *err);

/* Free the strings of s and zero it. NULL is a no-op. */
NTM_EXTERN void ntm_sync_status_release(struct ntm_sync_status *s);

/* ------------------------------------------------------------------ */
/* Client */

/* Progress: what is "entries sent" (push) or "entries received" (pull),
 * done so far and total (0 when unknown). */
typedef void (*ntm_progress_fn)(void *ud, const char *what, int64_t done,
                                int64_t total);

struct ntm_client_opts {
    const char *url;        /* base URL; NULL: the store's sync.server */
    const char *cacert;     /* NULL: the store's sync.cacert (if any) */
    const char *pin;        /* NULL: the store's sync.pin (if any) */
    int max_attempts;       /* per request, with backoff; 0: 5 (env
                               NTM_SYNC_ATTEMPTS overrides the default) */
    long retry_base_ms;     /* first backoff; 0: 500 (env NTM_SYNC_RETRY_MS) */
    long connect_timeout_s; /* 0: 15 */
    long low_speed_time_s;  /* abort below 100 B/s for this long; 0: 30 */
    size_t max_response;    /* response cap, bytes; 0: 64 MiB */
    unsigned max_batch;     /* push batch; 0: the server's max_batch */
    unsigned page;          /* pull page; 0: NTM_SYNC_DEFAULT_PAGE */
    ntm_progress_fn progress;
    void *progress_ud;
    const char *lang; /* sent as Accept-Language ("vi": the server's
                         error messages in Vietnamese); NULL: not sent */
    /* Where this home lives now (the tool's hash of the machine and the
     * folder, meta home.place); NULL: not checked. A store without a place
     * takes this one. When this device's own chain turns out forked and
     * the store was made in another place, the home was copied (two
     * devices sign as one key): its own entries from the fork on are set
     * aside and wait for a new key (ntm init --rekey, heal.copied) instead
     * of being re-issued under a key another device also signs with. */
    const char *place;
};

/*
 * GET /v1/info (no authentication). new: *info, the server's JSON answer
 * (json_decref). o->url is required here.
 * Errors: NTM_ENET, NTM_ETIMEOUT, NTM_ETLS (certificate or pin refused),
 * NTM_EHTTP, NTM_EPROTO (not an ntm server), NTM_EINVAL (bad URL).
 */
NTM_EXTERN enum ntm_err ntm_client_info(const struct ntm_client_opts *o,
                                        json_t **info, struct ntm_error *err);

/*
 * What `ntm init --server URL [--cacert F | --pin P]` does, on a new home
 * or to point an existing one at a (new) server: fetch /v1/info from
 * o->url with o's trust settings, pin the server's root key in st, and
 * save sync.server, sync.cacert and sync.pin in st (a NULL o->cacert or
 * o->pin removes the old setting), all in one transaction. The sync
 * position (cursor, server_gseq) is kept. root gets the root key (author
 * id hex) and fingerprint a short form to show the user ("ab12 cd34 ..."
 * groups of the first 16 hex digits).
 * Errors: as ntm_client_info; NTM_EROOTKEY when st already pins another
 * root key (nothing is changed); store errors.
 */
NTM_EXTERN enum ntm_err ntm_client_setup(struct ntm_store *st,
                                         const struct ntm_client_opts *o,
                                         char root[NTM_HEX_ID_LEN + 1],
                                         char fingerprint[40],
                                         struct ntm_error *err);

/*
 * What a push or pull found of this device's own chain before it started.
 * The server's head of this device's key is asked every time; when it is
 * ahead of the store or names another entry at its seq (a store restored
 * from an older backup, a lost WAL file), the server's copy of the chain
 * is taken back. Entries this device wrote at seqs the server holds under
 * other entries are set aside (ntm_store_strand) and written again on the
 * true head (ntm_store_reissue), then pushed: nothing is lost.
 */
struct ntm_heal {
    int64_t restored;     /* own entries taken back from the server */
    int64_t forked_at;    /* the first seq where the chains differed, or 0 */
    int64_t stranded;     /* own entries set aside at this run */
    int64_t reissued;     /* stranded entries written again on the true head */
    int64_t failed;       /* stranded entries refused when written again */
    int64_t server_reset; /* > 0: the server's announced reset (this epoch)
                             was accepted: what it acknowledged before is
                             forgotten and everything it lacks is pushed */
    int64_t copied;       /* 1: another device signs with this key (a copy
                             of this home, found now or before): this
                             device's own entries the server lacks are not
                             sent, and wait for a new key (rekey.needed) */
};

struct ntm_push_result {
    int64_t sent;       /* entry lines sent */
    int64_t accepted;   /* new entries the server took (flagged included) */
    int64_t duplicates; /* entries the server already held */
    int64_t batches;
    json_t *flagged;      /* new: [{"author","seq","code","message"}] */
    json_t *rejected;     /* new: [{"author","seq","code","message"}] */
    struct ntm_heal heal; /* this device's own chain checked first */
};

/* Free what a result holds and zero it. */
NTM_EXTERN void ntm_push_result_release(struct ntm_push_result *r);

/*
 * Push every entry the server lacks: compare GET /v1/heads with the local
 * heads, then POST the missing entries (own and relayed, in local arrival
 * order, so each author's in seq order and enrollments before what they
 * cover) in batches. Each batch's answer updates the peer heads, so a push
 * killed at any instant and run again sends only what is still missing;
 * the server treats re-sent entries as duplicates.
 * o may be NULL (all from the store). res is filled even on failure (what
 * was done before it).
 * Returns NTM_OK even when the server rejected lines (see res->rejected).
 * Errors: NTM_ENET / NTM_ETIMEOUT / NTM_EUNAVAIL after the retries (nothing
 * lost: try again later), NTM_ETLS, NTM_EROOTKEY (server reports another
 * root key), NTM_EROLLBACK (server holds less than it acknowledged),
 * NTM_EAUTH / NTM_EUNKNOWNAUTHOR / NTM_EREVOKED (refused request),
 * NTM_ECONFIG (no server configured), store errors.
 */
NTM_EXTERN enum ntm_err ntm_client_push(struct ntm_store *st,
                                        const struct ntm_key *key,
                                        const struct ntm_client_opts *o,
                                        struct ntm_push_result *res,
                                        struct ntm_error *err);

struct ntm_pull_result {
    int64_t received;     /* entry lines received */
    int64_t applied;      /* new in the log */
    int64_t invalid;      /* refused by local validation (not applied) */
    int64_t after;        /* the cursor after the pull */
    int64_t own_restored; /* own entries pulled back (restored backup) */
    struct ntm_heal heal; /* this device's own chain checked first */
};

/*
 * Pull from the stored cursor: page through GET /v1/entries; each page is
 * validated locally (NTM_SOURCE_PULL), applied and the cursor advanced in
 * ONE store transaction, so a pull killed at any instant loses nothing and
 * applies no half page. When the server holds more of this device's own
 * chain than the store (a restored backup), those entries are pulled back
 * first (GET /v1/entries?author=<own id>).
 * While the store takes a page, the next one is fetched and its
 * signatures verified on threads of the library's own; the store (st) is
 * used on the calling thread only, and progress is called there.
 * Errors: as ntm_client_push; NTM_EROLLBACK when the server's last gseq
 * or a head is lower than what it acknowledged before.
 */
NTM_EXTERN enum ntm_err ntm_client_pull(struct ntm_store *st,
                                        const struct ntm_key *key,
                                        const struct ntm_client_opts *o,
                                        struct ntm_pull_result *res,
                                        struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* A server restored from a backup (sync/reset.c) */

/*
 * The root's statement that the server's history was reset (restored from
 * a backup, moved to a host with an older copy): *out (new, free()) is
 * {"statement":"<B>","sig":"<b64>"}, B naming the root, the epoch (one
 * more than the server's current, 1 for the first) and the server's
 * last_gseq after the restore. The server serves it (ntm serve --reset
 * FILE; GET /v1/info "reset"); devices that see a newer epoch push what the
 * server lost instead of refusing it (docs/contract.md). key must be the
 * root key. Errors: NTM_EINVAL, NTM_ENOMEM, NTM_ECRYPTO.
 */
NTM_EXTERN enum ntm_err ntm_reset_statement(const struct ntm_key *root,
                                            int64_t epoch, int64_t last_gseq,
                                            char **out, struct ntm_error *err);

/*
 * The same, for the server st's settings point at (o as for a push; may
 * be NULL): asks it (GET /v1/info) for its last_gseq and the epoch of the
 * reset it holds, and signs the next one. key must be st's root key
 * (NTM_EFORBIDDEN otherwise). *epoch, *last_gseq: what was signed.
 */
NTM_EXTERN enum ntm_err
ntm_client_reset_statement(struct ntm_store *st, const struct ntm_key *root,
                           const struct ntm_client_opts *o, char **out,
                           int64_t *epoch, int64_t *last_gseq,
                           struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Joining and fork evidence (sync/join.c, docs/contract.md) */

/*
 * Read a join code ("ntmjoin1.<payload>.<sig>", spaces and line breaks
 * ignored) and check its form and its signer's signature (the expiry is
 * the caller's). *payload (new) is the code's JSON object, with "v",
 * "server", "pin", "root", "role", "scope", "exp" and "nonce" (16 hex)
 * checked; *clean (new, may be NULL) the code without white space.
 * NTM_EINVAL for what is not a join code (cut, damaged), NTM_EBADSIG for
 * a signature that does not match, NTM_ENOMEM.
 */
NTM_EXTERN enum ntm_err ntm_join_code_read(const char *code, json_t **payload,
                                           char **clean, struct ntm_error *err);

/*
 * POST /v1/join: ask the server to keep this device's request to be
 * enrolled with code (the whole join code) and its name (may be NULL).
 * The request is signed by key; the key need not be enrolled. *answer
 * (new): the server's {"nonce","author","added"}. Errors: as a push;
 * NTM_ECONFLICT (the code has its count of requests), NTM_EFULL,
 * NTM_EINVAL / NTM_EFORBIDDEN (a code the server refuses).
 */
NTM_EXTERN enum ntm_err
ntm_client_join_ask(struct ntm_store *st, const struct ntm_key *key,
                    const struct ntm_client_opts *o, const char *code,
                    const char *name, json_t **answer, struct ntm_error *err);

/* Keep a join request that could not be sent (meta "join.pending"), for
 * ntm_client_join_resend. */
NTM_EXTERN enum ntm_err ntm_client_join_pending_set(struct ntm_store *st,
                                                    const char *code,
                                                    const char *name,
                                                    struct ntm_error *err);

/*
 * Send the waiting join request, if any. *state: 0 none waited, 1 sent
 * (no longer waits), -1 refused for good (dropped; err says why); on a
 * failure that may pass (network, server busy) it keeps waiting and the
 * error is returned with *state 0.
 */
NTM_EXTERN enum ntm_err ntm_client_join_resend(struct ntm_store *st,
                                               const struct ntm_key *key,
                                               const struct ntm_client_opts *o,
                                               int *state,
                                               struct ntm_error *err);

/* GET /v1/join[?nonce=N] (an admin): *requests (new) is the array of the
 * server's pending requests for the caller's codes (docs/contract.md). */
NTM_EXTERN enum ntm_err
ntm_client_join_requests(struct ntm_store *st, const struct ntm_key *key,
                         const struct ntm_client_opts *o, const char *nonce,
                         json_t **requests, struct ntm_error *err);

/* GET /v1/forks (an admin): *forks (new) is the server's fork evidence in
 * the shape of ntm_store_forks, each with "name", "role", "scope" of the
 * author as the server knows it. */
NTM_EXTERN enum ntm_err ntm_client_forks(struct ntm_store *st,
                                         const struct ntm_key *key,
                                         const struct ntm_client_opts *o,
                                         json_t **forks, struct ntm_error *err);

/* ------------------------------------------------------------------ */
/* Attachment bytes (docs/contract.md, attachments; sync/attach_sync.c) */

struct ntm_attach_report {
    int64_t files;     /* attachments worked on */
    int64_t done;      /* of them, now whole on the other side */
    int64_t resumed;   /* of them, taken up where an earlier run stopped */
    int64_t refused;   /* the server would not take or give them (scope,
                          no entry there) */
    int64_t failed;    /* local bytes that do not match their hash: not sent */
    int64_t bytes;     /* attachment bytes moved */
    int64_t requests;  /* pieces sent or asked for */
    int64_t rechecked; /* push: held by the server before, asked again */
    int64_t held_back; /* push: refused before, not asked again yet */
};

/*
 * After a push of the entries: upload the bytes of every attachment the
 * store's records name, held whole in dir, that the server is not known
 * to hold, each from where the server's bytes end (resumable; pieces
 * shrink on a link that cuts them). Errors: as a push; an attachment the
 * server refuses (scope, its entry not there) is counted, not an error.
 * What the server held or refused is noted under the server's reset epoch
 * (forgotten when it announces a reset); a few held ones are asked about
 * again at each push, and a refused one again after a day.
 */
NTM_EXTERN enum ntm_err
ntm_attach_push(struct ntm_store *st, const struct ntm_key *key,
                const struct ntm_client_opts *o, const char *dir,
                struct ntm_attach_report *rep, struct ntm_error *err);
/*
 * Download the attachment hash (NULL: every one the store's records name
 * that dir lacks: an eager pull) into dir, from the end of its .part
 * file, checked against the hash when whole (NTM_ECORRUPT: discarded).
 * With hash given: NTM_ENOENT when the server does not hold it whole,
 * NTM_EFORBIDDEN outside this device's scope.
 */
NTM_EXTERN enum ntm_err ntm_attach_fetch(struct ntm_store *st,
                                         const struct ntm_key *key,
                                         const struct ntm_client_opts *o,
                                         const char *dir, const char *hash,
                                         struct ntm_attach_report *rep,
                                         struct ntm_error *err);

#endif /* NTM_SYNC_H */
