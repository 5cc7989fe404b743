/* SPDX-License-Identifier: MIT */
/*
 * attach_sync.c - attachment bytes between a device and the server
 * (docs/contract.md, attachments): push uploads, after the entries, the
 * bytes of the attachments the store's records name that the server
 * lacks; fetch downloads one (lazy) or all missing ones (eager).
 *
 * Both ways are resumable and verified. An upload asks the server how
 * many bytes it holds and goes on from there; a download appends to the
 * home's <hash>.part and goes on from its length. Pieces shrink when the
 * link cuts them (halved on each failure, down to MIN_CHUNK) and grow
 * again after a run of successes, so a 2G link that drops every 64 kB
 * still moves a 5 MB photo, and a good link sends it in a few requests.
 * The server checks each upload's whole against the hash; a download is
 * checked by ntm_blob_append when its last byte is in.
 *
 * What the server answered is kept in meta ("sync.attach.<hash>"), so that
 * a push does not ask again about every attachment ever sent: "d<epoch>"
 * held whole, "r<epoch> <ms> <reason>" refused. A note counts only under
 * the server's current reset epoch (a server restored from a backup and
 * announced forgets them all), a held one is proven again now and then
 * (RECHECK a push, in turn: a server that lost its attachments folder
 * without a rollback to announce), a refused one is asked again after
 * REFUSED_RETRY_MS (its entry may arrive, the scope may change).
 *
 * Depends on util/, store/ (attachments, blobs.c), transport.c.
 */
#include "ntm_sync.h"
#include "sync_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_CHUNK        (8u << 10)
#define FIRST_CHUNK      (256u << 10)
#define MAX_FAILS        40 /* failed pieces in a row before giving up */
#define RECHECK          8  /* held notes proven again at each push */
#define REFUSED_RETRY_MS (24LL * 3600 * 1000)
#define RECHECK_KEY      "sync.attach_recheck"

static void
nap_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* The first piece size: NTM_ATTACH_CHUNK (bytes) when set, for tests and
 * for links known to be poor. */
static size_t
first_chunk(void)
{
    const char *e = getenv("NTM_ATTACH_CHUNK");
    int64_t v;
    if (e && ntm_parse_int64(e, MIN_CHUNK, NTM_ATTACH_MAX_CHUNK, &v) == NTM_OK)
        return (size_t)v;
    return FIRST_CHUNK;
}

static int
transient(enum ntm_err rc)
{
    return rc == NTM_ENET || rc == NTM_ETIMEOUT || rc == NTM_EUNAVAIL ||
           rc == NTM_EPROTO;
}

/* GET .../status: *held and *complete as the server says. */
static enum ntm_err
status_once(struct Ntm_session *s, const char *hash, int64_t *held,
            int *complete, struct ntm_error *err)
{
    struct Ntm_http_resp r = {0};
    char path[128];
    json_t *v = NULL;
    r.cap = 4096;
    snprintf(path, sizeof path, "/v1/attachments/%s/status", hash);
    enum ntm_err rc = Ntm_request(s, "GET", path, NULL, 0, &r, err);
    if (rc == NTM_OK)
        rc = Ntm_http_json(&r, "/v1/attachments", &v, err);
    ntm_buf_release(&r.body);
    if (rc != NTM_OK)
        return rc;
    *held = json_integer_value(json_object_get(v, "held"));
    *complete = json_is_true(json_object_get(v, "complete"));
    json_decref(v);
    return NTM_OK;
}

/* The same, tried again a few times on a link that cuts. */
static enum ntm_err
server_status(struct Ntm_session *s, const char *hash, int64_t *held,
              int *complete, struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    for (int i = 0; i < 8; i++) {
        rc = status_once(s, hash, held, complete, err);
        if (!transient(rc))
            break;
        nap_ms(100L * (i + 1));
    }
    return rc;
}

/* Upload hash (size bytes, held whole in dir) from where the server's
 * bytes end. */
static enum ntm_err
upload_one(struct Ntm_session *s, const char *dir, const char *hash,
           int64_t size, struct ntm_attach_report *rep, struct ntm_error *err)
{
    int64_t held = 0;
    int complete = 0, fails = 0, wins = 0;
    size_t chunk = first_chunk();
    enum ntm_err rc = server_status(s, hash, &held, &complete, err);
    if (rc != NTM_OK)
        return rc;
    unsigned char *buf = ntm_malloc(NTM_ATTACH_MAX_CHUNK);
    if (!buf)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    if (held > 0 && !complete)
        rep->resumed++;
    while (!complete) {
        size_t n =
            (size_t)(size - held) < chunk ? (size_t)(size - held) : chunk;
        size_t got = 0;
        if ((rc = ntm_blob_read(dir, hash, held, buf, n, &got, err)) != NTM_OK)
            break;
        if (got != n) {
            rc = ntm_error_set(err, NTM_EIO,
                               "attachment %.16s... is shorter than its "
                               "entry says",
                               hash);
            break;
        }
        char path[160];
        snprintf(path, sizeof path, "/v1/attachments/%s?offset=%lld", hash,
                 (long long)held);
        struct Ntm_http_resp r = {0};
        json_t *v = NULL;
        r.cap = 4096;
        rep->requests++;
        rc = Ntm_request(s, "PUT", path, (const char *)buf, n, &r, err);
        if (rc == NTM_OK)
            rc = Ntm_http_json(&r, "/v1/attachments", &v, err);
        ntm_buf_release(&r.body);
        if (rc == NTM_OK) {
            rep->bytes += (int64_t)n;
            held = json_integer_value(json_object_get(v, "held"));
            complete = json_is_true(json_object_get(v, "complete"));
            json_decref(v);
            fails = 0;
            if (++wins >= 4 && chunk < NTM_ATTACH_MAX_CHUNK) {
                chunk *= 2;
                wins = 0;
            }
            continue;
        }
        /* The piece went in but its answer was lost, or another upload
         * of the same bytes moved on: ask where the server's bytes end. */
        if (rc == NTM_ECONFLICT) {
            rc = server_status(s, hash, &held, &complete, err);
            if (rc == NTM_OK)
                continue;
        }
        if (!transient(rc) || ++fails > MAX_FAILS)
            break;
        /* A cut link: smaller pieces, and a short pause. */
        wins = 0;
        if (chunk / 2 >= MIN_CHUNK)
            chunk /= 2;
        nap_ms(fails < 5 ? 100L * fails : 500L);
        int64_t h2;
        int c2;
        if (server_status(s, hash, &h2, &c2, NULL) == NTM_OK) {
            held = h2;
            complete = c2;
        }
        rc = NTM_OK;
    }
    ntm_free(buf);
    return rc;
}

static void
mark_key(char out[96], const char *hash)
{
    snprintf(out, 96, "sync.attach.%s", hash);
}

enum note { NOTE_NONE, NOTE_HELD, NOTE_REFUSED };

/* What the note of hash says under the reset epoch now. */
static enum note
note_of(struct ntm_store *st, const char *hash, int64_t epoch, int64_t now)
{
    char mk[96], *v = NULL;
    mark_key(mk, hash);
    if (ntm_store_meta_get(st, mk, &v, NULL) != NTM_OK || !v)
        return NOTE_NONE;
    enum note n = NOTE_NONE;
    long long e = -1, ms = 0;
    if (v[0] == 'd' && sscanf(v + 1, "%lld", &e) == 1 && e == epoch)
        n = NOTE_HELD;
    else if (v[0] == 'r' && sscanf(v + 1, "%lld %lld", &e, &ms) == 2 &&
             e == epoch && now - ms < REFUSED_RETRY_MS && now >= ms)
        n = NOTE_REFUSED;
    ntm_free(v);
    return n;
}

static enum ntm_err
note_set(struct ntm_store *st, const char *hash, int64_t epoch,
         const char *refused, struct ntm_error *err)
{
    char mk[96], v[96];
    mark_key(mk, hash);
    if (refused)
        snprintf(v, sizeof v, "r%lld %lld %s", (long long)epoch,
                 (long long)ntm_now_ms(), refused);
    else
        snprintf(v, sizeof v, "d%lld", (long long)epoch);
    return ntm_store_meta_set(st, mk, v, err);
}

/* The held hashes to prove again this push: RECHECK of them, in turn from
 * the one after the last proven (an object hash -> true). */
static json_t *
recheck_set(struct ntm_store *st, json_t *all, const signed char *notes)
{
    json_t *set = json_object();
    char *last = NULL;
    size_t n = json_array_size(all), start = 0, i, taken = 0;
    if (!set)
        return NULL;
    ntm_store_meta_get(st, RECHECK_KEY, &last, NULL);
    for (i = 0; last && i < n; i++)
        if (strcmp(json_string_value(
                       json_object_get(json_array_get(all, i), "hash")),
                   last) > 0)
            break;
    start = last ? i % (n ? n : 1) : 0;
    ntm_free(last);
    for (size_t k = 0; k < n && taken < RECHECK; k++) {
        size_t j = (start + k) % n;
        if (notes[j] != NOTE_HELD)
            continue;
        json_object_set_new(
            set,
            json_string_value(json_object_get(json_array_get(all, j), "hash")),
            json_true());
        taken++;
    }
    return set;
}

enum ntm_err
ntm_attach_push(struct ntm_store *st, const struct ntm_key *key,
                const struct ntm_client_opts *o, const char *dir,
                struct ntm_attach_report *rep, struct ntm_error *err)
{
    memset(rep, 0, sizeof *rep);
    json_t *all = NULL, *recheck = NULL;
    signed char *notes = NULL;
    struct Ntm_session s;
    int64_t epoch = 0, now = ntm_now_ms();
    enum ntm_err rc = ntm_store_attachment_hashes(st, NULL, &all, err);
    if (rc != NTM_OK)
        return rc;
    size_t count = json_array_size(all);
    if (count == 0) {
        json_decref(all);
        return NTM_OK;
    }
    ntm_store_meta_get_int(st, NTM_SYNC_KEY_RESET_EPOCH, 0, &epoch, NULL);
    if (!(notes = ntm_malloc(count))) {
        json_decref(all);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    size_t i;
    json_t *a;
    json_array_foreach (all, i, a)
        notes[i] = (signed char)note_of(
            st, json_string_value(json_object_get(a, "hash")), epoch, now);
    if (!(recheck = recheck_set(st, all, notes))) {
        ntm_free(notes);
        json_decref(all);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    if ((rc = Ntm_session_open(&s, st, key, o, err)) != NTM_OK) {
        ntm_free(notes);
        json_decref(recheck);
        json_decref(all);
        return rc;
    }
    /* Pieces are tried again here, smaller, not by the transport. */
    s.o.max_attempts = 1;
    const char *proven = NULL;
    json_array_foreach (all, i, a) {
        const char *hash = json_string_value(json_object_get(a, "hash"));
        if (notes[i] == NOTE_REFUSED) {
            rep->held_back++;
            continue;
        }
        int64_t have = 0;
        int complete = 0;
        if (ntm_blob_held(dir, hash, &have, &complete, NULL) != NTM_OK ||
            !complete)
            continue; /* not here: nothing to send */
        if (notes[i] == NOTE_HELD) {
            if (!json_object_get(recheck, hash))
                continue;
            /* Proven again: does the server still hold it whole? */
            int64_t sh = 0;
            int sc = 0;
            rc = server_status(&s, hash, &sh, &sc, err);
            if (rc == NTM_OK || rc == NTM_ECONFLICT || rc == NTM_EFORBIDDEN ||
                rc == NTM_ENOENT)
                proven = hash;
            if (rc == NTM_OK && sc) {
                rep->rechecked++;
                continue;
            }
            if (rc != NTM_OK && rc != NTM_ECONFLICT && rc != NTM_EFORBIDDEN &&
                rc != NTM_ENOENT)
                break;
            rc = NTM_OK;
        }
        /* Never send bytes that do not match: the server would refuse
         * them at the end, after the whole upload. */
        struct ntm_error ce;
        if (ntm_blob_check(dir, hash, NULL, &ce) != NTM_OK) {
            rep->failed++;
            continue;
        }
        rep->files++;
        /* The length of the bytes held, checked against their hash: the
         * entries' claims may disagree, the server takes any of them. */
        rc = upload_one(&s, dir, hash, have, rep, err);
        if (rc == NTM_EFORBIDDEN || rc == NTM_ECONFLICT) {
            /* Not this device's to send, or the entry did not reach the
             * server (rejected): counted, noted with the reason (not asked
             * again before a day), and the push goes on. */
            rep->refused++;
            rc = note_set(st, hash, epoch,
                          rc == NTM_EFORBIDDEN ? "forbidden" : "conflict", err);
            if (rc != NTM_OK)
                break;
            continue;
        }
        if (rc != NTM_OK)
            break;
        rep->done++;
        if ((rc = note_set(st, hash, epoch, NULL, err)) != NTM_OK)
            break;
    }
    if (proven)
        ntm_store_meta_set(st, RECHECK_KEY, proven, NULL);
    Ntm_session_close(&s);
    ntm_free(notes);
    json_decref(recheck);
    json_decref(all);
    return rc;
}

/* Download hash (one of sizes, at most size bytes) into dir, from the end
 * of its .part. */
static enum ntm_err
fetch_sized(struct Ntm_session *s, const char *dir, const char *hash,
            const int64_t *sizes, size_t nsizes, int64_t size,
            struct ntm_attach_report *rep, struct ntm_error *err)
{
    int64_t held = 0;
    int complete = 0, fails = 0, wins = 0;
    size_t chunk = first_chunk();
    enum ntm_err rc = ntm_blob_held(dir, hash, &held, &complete, err);
    if (rc != NTM_OK || complete)
        return rc;
    if (held > 0)
        rep->resumed++;
    while (!complete) {
        char path[192];
        snprintf(path, sizeof path, "/v1/attachments/%s?offset=%lld&len=%zu",
                 hash, (long long)held, chunk);
        struct Ntm_http_resp r = {0};
        r.cap = NTM_ATTACH_MAX_CHUNK + 1;
        rep->requests++;
        rc = Ntm_request(s, "GET", path, NULL, 0, &r, err);
        if (rc == NTM_OK && r.body.len == 0)
            rc = ntm_error_set(err, NTM_EPROTO,
                               "the server sent no bytes of attachment "
                               "%.16s...",
                               hash);
        if (rc == NTM_OK) {
            size_t n = r.body.len;
            if ((int64_t)n > size - held)
                n = (size_t)(size - held);
            rc = ntm_blob_append(dir, hash, sizes, nsizes, held, r.body.buf, n,
                                 &complete, err);
            ntm_buf_release(&r.body);
            if (rc != NTM_OK)
                break; /* bytes that do not match: discarded, said */
            rep->bytes += (int64_t)n;
            held += (int64_t)n;
            fails = 0;
            if (++wins >= 4 && chunk < NTM_ATTACH_MAX_CHUNK) {
                chunk *= 2;
                wins = 0;
            }
            continue;
        }
        ntm_buf_release(&r.body);
        if (!transient(rc) || ++fails > MAX_FAILS)
            break;
        wins = 0;
        if (chunk / 2 >= MIN_CHUNK)
            chunk /= 2;
        nap_ms(fails < 5 ? 100L * fails : 500L);
        rc = NTM_OK;
    }
    return rc;
}

/* Download hash, whose entries claim the sizes in claims. */
static enum ntm_err
fetch_one(struct Ntm_session *s, const char *dir, const char *hash,
          const json_t *claims, struct ntm_attach_report *rep,
          struct ntm_error *err)
{
    int64_t *sizes = NULL, size = 0;
    size_t nsizes = 0;
    enum ntm_err rc = ntm_attach_sizes(claims, &sizes, &nsizes, err);
    if (rc != NTM_OK)
        return rc;
    for (size_t i = 0; i < nsizes; i++)
        if (sizes[i] > size)
            size = sizes[i];
    rc = fetch_sized(s, dir, hash, sizes, nsizes, size, rep, err);
    ntm_free(sizes);
    return rc;
}

enum ntm_err
ntm_attach_fetch(struct ntm_store *st, const struct ntm_key *key,
                 const struct ntm_client_opts *o, const char *dir,
                 const char *hash, struct ntm_attach_report *rep,
                 struct ntm_error *err)
{
    memset(rep, 0, sizeof *rep);
    json_t *all = NULL;
    struct Ntm_session s;
    enum ntm_err rc = ntm_store_attachment_hashes(st, NULL, &all, err);
    if (rc != NTM_OK)
        return rc;
    if ((rc = Ntm_session_open(&s, st, key, o, err)) != NTM_OK) {
        json_decref(all);
        return rc;
    }
    /* Pieces are tried again here, smaller, not by the transport. */
    s.o.max_attempts = 1;
    size_t i;
    json_t *a;
    json_array_foreach (all, i, a) {
        const char *h = json_string_value(json_object_get(a, "hash"));
        if (hash && strcmp(h, hash) != 0)
            continue;
        int64_t have = 0;
        int complete = 0;
        if ((rc = ntm_blob_held(dir, h, &have, &complete, err)) != NTM_OK)
            break;
        if (complete)
            continue;
        rep->files++;
        rc = fetch_one(&s, dir, h, json_object_get(a, "sizes"), rep, err);
        if (rc != NTM_OK && !hash &&
            (rc == NTM_EFORBIDDEN || rc == NTM_ENOENT)) {
            /* eager: one the server lacks or keeps from us stays missing */
            rep->refused++;
            rc = NTM_OK;
            continue;
        }
        if (rc != NTM_OK)
            break;
        rep->done++;
    }
    Ntm_session_close(&s);
    json_decref(all);
    return rc;
}
