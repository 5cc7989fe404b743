/* SPDX-License-Identifier: MIT */
/*
 * client.c - the device side of sync: one libcurl transport (HTTPS only,
 * no redirects, CA file or public key pin, timeouts, response cap, gzip
 * both ways, signed requests, bounded retries with backoff and jitter, one
 * clock-skew correction) and on top of it info, setup, push and pull.
 *
 * Push and pull are built so that a process killed at any instant loses
 * nothing and duplicates nothing: push only records what the server
 * acknowledged (peer heads from each batch's answer), pull applies a page
 * and advances its cursor in one store transaction. The server is never
 * trusted for content: every pulled entry goes through the store's
 * validation. Depends on util/, crypto/, store/, sync/wire.c and libcurl.
 */
#include "sync_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_BYTES_MAX (4u << 20) /* push body before gzip */
#define GZIP_MIN        1024       /* gzip request bodies above this */

struct session {
    CURL *h;
    char *url, *cacert, *pin; /* owned */
    struct ntm_client_opts o;
    const struct ntm_key *key; /* borrowed, may be NULL */
    struct ntm_store *st;      /* borrowed, may be NULL */
    int64_t clock_offset;
};

struct http_resp {
    long status;
    struct ntm_buf body;
    size_t cap;
    int overflow;
    int64_t next_after; /* -1 when absent */
    int more;           /* -1 when absent */
    long retry_after;   /* seconds, 0 when absent */
};

/* ------------------------------------------------------------------ */
/* transport */

static size_t
on_write(char *p, size_t size, size_t n, void *ud)
{
    struct http_resp *r = ud;
    size_t len = size * n;
    if (r->body.len + len > r->cap) {
        r->overflow = 1;
        return 0; /* aborts the transfer: nothing partial is applied */
    }
    if (ntm_buf_add(&r->body, p, len) != NTM_OK)
        return 0;
    return len;
}

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
    struct http_resp *r = ud;
    size_t len = size * n;
    char line[256];
    if (len >= sizeof line)
        return len;
    memcpy(line, p, len);
    line[len] = '\0';
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    char *colon = strchr(line, ':');
    if (!colon)
        return size * n;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ')
        v++;
    int64_t x;
    if (!strcasecmp(line, "Ntm-Next-After") &&
        ntm_parse_int64(v, 0, INT64_MAX / 2, &x) == NTM_OK)
        r->next_after = x;
    else if (!strcasecmp(line, "Ntm-More"))
        r->more = !strcasecmp(v, "true");
    else if (!strcasecmp(line, "Retry-After") &&
             ntm_parse_int64(v, 0, 3600, &x) == NTM_OK)
        r->retry_after = (long)x;
    return size * n;
}

static void
resp_reset(struct http_resp *r)
{
    ntm_buf_reset(&r->body);
    r->status = 0;
    r->overflow = 0;
    r->next_after = -1;
    r->more = -1;
    r->retry_after = 0;
}

static long
env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    int64_t x;
    if (v && ntm_parse_int64(v, 0, 1000000, &x) == NTM_OK)
        return (long)x;
    return dflt;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static enum ntm_err
curl_fail(CURLcode cc, const char *ebuf, const struct session *s, int overflow,
          int *retry, struct ntm_error *err)
{
    const char *detail = ebuf[0] ? ebuf : curl_easy_strerror(cc);
    *retry = 0;
    switch (cc) {
    case CURLE_WRITE_ERROR:
        if (overflow)
            return ntm_error_set(err, NTM_ETOOLARGE,
                                 "server answer from %s passes the %zu-byte "
                                 "cap - nothing was applied",
                                 s->url, s->o.max_response);
        *retry = 1;
        return ntm_error_set(err, NTM_ENET, "cannot read answer from %s: %s",
                             s->url, detail);
    case CURLE_OPERATION_TIMEDOUT:
        *retry = 1;
        return ntm_error_set(err, NTM_ETIMEOUT, "%s timed out: %s", s->url,
                             detail);
    case CURLE_SSL_CONNECT_ERROR:
        /* A handshake cut short (reset, dropped link, a server down behind
         * a proxy) says nothing about who the server is: certificate and
         * pin mismatches have codes of their own above. Retry, then exit 4. */
        *retry = 1;
        return ntm_error_set(err, NTM_ENET,
                             "secure connection to %s was cut during the "
                             "handshake: %s - nothing lost, try again later",
                             s->url, detail);
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return ntm_error_set(err, NTM_EINVAL,
                             "refusing server URL '%s': %s - use https://",
                             s->url, detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return ntm_error_set(err, NTM_ETLS,
                             "TLS check of %s failed: %s - is this your "
                             "server? check --cacert/--pin (nothing was sent "
                             "or applied)",
                             s->url, detail);
    default:
        *retry = 1;
        return ntm_error_set(err, NTM_ENET, "cannot reach %s: %s", s->url,
                             detail);
    }
}

/* Map an error answer {"error":{"code","message"}} to a code. */
static enum ntm_err
http_fail(const struct http_resp *r, const char *what, int64_t *server_time,
          struct ntm_error *err)
{
    json_t *v =
        json_loadb(r->body.buf ? r->body.buf : "", r->body.len, 0, NULL);
    json_t *e = json_object_get(v, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    json_t *st = json_object_get(e, "server_time_ms");
    if (server_time)
        *server_time = json_is_integer(st) ? json_integer_value(st) : -1;
    enum ntm_err c = NTM_EHTTP;
    if (code) {
        if (!strcmp(code, "bad_auth"))
            c = NTM_EAUTH;
        else if (!strcmp(code, "clock_skew"))
            c = NTM_ECLOCKSKEW;
        else if (!strcmp(code, "unknown_author"))
            c = NTM_EUNKNOWNAUTHOR;
        else if (!strcmp(code, "revoked"))
            c = NTM_EREVOKED;
        else if (!strcmp(code, "too_large"))
            c = NTM_ETOOLARGE;
        else if (!strcmp(code, "unavailable") ||
                 !strcmp(code, "too_many_requests"))
            c = NTM_EUNAVAIL;
        else if (!strcmp(code, "forbidden"))
            c = NTM_EFORBIDDEN;
    }
    ntm_error_set(err, c, "server refused %s (HTTP %ld %s): %s", what,
                  r->status, code ? code : "error",
                  msg ? msg : "no explanation given");
    err->http_status = (int)r->status;
    json_decref(v);
    return c;
}

/* One request with retries. body may be NULL. */
static enum ntm_err
request(struct session *s, const char *method, const char *path,
        const char *body, size_t len, struct http_resp *r,
        struct ntm_error *err)
{
    struct ntm_buf url = NTM_BUF_INIT, auth = NTM_BUF_INIT, gz = NTM_BUF_INIT;
    char ebuf[CURL_ERROR_SIZE];
    enum ntm_err rc = NTM_OK;
    int skew_retried = 0;
    const char *send = body;
    size_t send_len = len;

    if (body && len > GZIP_MIN && Ntm_gzip(body, len, &gz) == NTM_OK) {
        send = gz.buf;
        send_len = gz.len;
    }
    if (ntm_buf_addf(&url, "%s%s", s->url, path) != NTM_OK) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    for (int attempt = 1;; attempt++) {
        struct curl_slist *hdrs = NULL;
        resp_reset(r);
        ebuf[0] = '\0';
        curl_easy_setopt(s->h, CURLOPT_URL, url.buf);
        curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, ebuf);
        curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(s->h, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(s->h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(s->h, CURLOPT_HEADERDATA, r);
        if (!strcmp(method, "POST")) {
            curl_easy_setopt(s->h, CURLOPT_POST, 1L);
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, send ? send : "");
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)send_len);
            hdrs =
                curl_slist_append(hdrs, "Content-Type: application/x-ndjson");
            if (send == gz.buf && gz.buf)
                hdrs = curl_slist_append(hdrs, "Content-Encoding: gzip");
            hdrs = curl_slist_append(hdrs, "Expect:");
        } else {
            curl_easy_setopt(s->h, CURLOPT_HTTPGET, 1L);
        }
        char al[48];
        if (s->o.lang && s->o.lang[0] &&
            strcspn(s->o.lang, "\r\n") == strlen(s->o.lang) &&
            (size_t)snprintf(al, sizeof al, "Accept-Language: %s", s->o.lang) <
                sizeof al)
            hdrs = curl_slist_append(hdrs, al);
        if (s->key) {
            ntm_buf_reset(&auth);
            ntm_buf_adds(&auth, "Authorization: ");
            if (ntm_sync_auth_header(&auth, s->key, method, path,
                                     ntm_now_ms() + s->clock_offset, send,
                                     send_len) != NTM_OK) {
                curl_slist_free_all(hdrs);
                rc = ntm_error_set(err, NTM_ECRYPTO, "cannot sign the request");
                goto out;
            }
            hdrs = curl_slist_append(hdrs, auth.buf);
        }
        curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, hdrs);
        CURLcode cc = curl_easy_perform(s->h);
        curl_slist_free_all(hdrs);
        int retry = 0;
        if (cc != CURLE_OK) {
            rc = curl_fail(cc, ebuf, s, r->overflow, &retry, err);
        } else {
            curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &r->status);
            if (r->status == 200) {
                rc = NTM_OK;
                goto out;
            }
            int64_t server_time = -1;
            rc = http_fail(r, path, &server_time, err);
            if (rc == NTM_ECLOCKSKEW && !skew_retried && server_time > 0) {
                /* Correct the offset once and retry at once. */
                skew_retried = 1;
                s->clock_offset = server_time - ntm_now_ms();
                if (s->st)
                    ntm_store_meta_set_int(s->st, "sync.clock_offset_ms",
                                           s->clock_offset, NULL);
                attempt--;
                continue;
            }
            retry = r->status >= 500 || r->status == 429;
            if (retry && rc == NTM_EHTTP)
                rc = NTM_EUNAVAIL;
        }
        if (!retry || attempt >= s->o.max_attempts)
            goto out;
        long wait = s->o.retry_base_ms << (attempt - 1 > 10 ? 10 : attempt - 1);
        if (wait > 30000)
            wait = 30000;
        uint32_t j;
        ntm_random(&j, sizeof j);
        wait += (long)(j % (uint32_t)(wait / 2 + 1));
        if (r->retry_after > 0 && r->retry_after * 1000 > wait)
            wait = (r->retry_after > 60 ? 60 : r->retry_after) * 1000;
        sleep_ms(wait);
    }
out:
    if (rc != NTM_OK &&
        (rc == NTM_ENET || rc == NTM_ETIMEOUT || rc == NTM_EUNAVAIL)) {
        char m[NTM_ERROR_SIZE];
        snprintf(m, sizeof m,
                 "%.400s (after %d attempts) - nothing lost, try "
                 "again later",
                 err ? err->msg : "", s->o.max_attempts);
        ntm_error_set(err, rc, "%s", m);
    }
    ntm_buf_release(&url);
    ntm_buf_release(&auth);
    ntm_buf_release(&gz);
    return rc;
}

static void
session_close(struct session *s)
{
    if (s->h)
        curl_easy_cleanup(s->h);
    ntm_free(s->url);
    ntm_free(s->cacert);
    ntm_free(s->pin);
    memset(s, 0, sizeof *s);
}

static char *
opt_or_meta(struct ntm_store *st, const char *given, const char *key)
{
    char *v = NULL;
    if (given)
        return *given ? ntm_strdup(given) : NULL;
    if (st && ntm_store_meta_get(st, key, &v, NULL) == NTM_OK && v && !*v) {
        ntm_free(v);
        v = NULL;
    }
    return v;
}

static enum ntm_err
session_open(struct session *s, struct ntm_store *st, const struct ntm_key *key,
             const struct ntm_client_opts *o, struct ntm_error *err)
{
    static const struct ntm_client_opts dflt;
    memset(s, 0, sizeof *s);
    s->o = o ? *o : dflt;
    s->st = st;
    s->key = key;
    if (!s->o.max_attempts)
        s->o.max_attempts = (int)env_long("NTM_SYNC_ATTEMPTS", 5);
    if (s->o.max_attempts < 1)
        s->o.max_attempts = 1;
    if (!s->o.retry_base_ms)
        s->o.retry_base_ms = env_long("NTM_SYNC_RETRY_MS", 500);
    if (!s->o.connect_timeout_s)
        s->o.connect_timeout_s = 15;
    if (!s->o.low_speed_time_s)
        s->o.low_speed_time_s = 30;
    if (!s->o.max_response)
        s->o.max_response = 64u << 20;
    if (!s->o.page)
        s->o.page = NTM_SYNC_DEFAULT_PAGE;
    s->url = opt_or_meta(st, o ? o->url : NULL, "sync.server");
    s->cacert = opt_or_meta(st, o ? o->cacert : NULL, "sync.cacert");
    s->pin = opt_or_meta(st, o ? o->pin : NULL, "sync.pin");
    if (!s->url) {
        session_close(s);
        return ntm_error_set(err, NTM_ECONFIG,
                             "no server configured for this home - run "
                             "'ntm init --server URL' first");
    }
    size_t ul = strlen(s->url);
    while (ul > 0 && s->url[ul - 1] == '/')
        s->url[--ul] = '\0';
    if (strncmp(s->url, "https://", 8) != 0 &&
        !(strncmp(s->url, "http://", 7) == 0 && Ntm_url_is_loopback(s->url))) {
        enum ntm_err rc = ntm_error_set(
            err, NTM_EINVAL,
            "refusing server URL '%s' - only https:// (plain http only to a "
            "loopback address)",
            s->url);
        session_close(s);
        return rc;
    }
    if (st)
        ntm_store_meta_get_int(st, "sync.clock_offset_ms", 0, &s->clock_offset,
                               NULL);
    s->h = curl_easy_init();
    if (!s->h) {
        session_close(s);
        return ntm_error_set(err, NTM_ENOMEM, "cannot start libcurl");
    }
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                     Ntm_url_is_loopback(s->url) ? "https,http" : "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s->o.connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 100L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->o.low_speed_time_s);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ntm/" NTM_VERSION);
    if (s->cacert)
        curl_easy_setopt(h, CURLOPT_CAINFO, s->cacert);
    if (s->pin) {
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, s->pin);
        if (!s->cacert) {
            /* Pin-only mode: the pin replaces chain and name checks, so
             * a device with a wrong clock still connects safely. */
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }
    return NTM_OK;
}

static enum ntm_err
parse_json(const struct http_resp *r, const char *what, json_t **out,
           struct ntm_error *err)
{
    json_error_t je;
    *out = json_loadb(r->body.buf ? r->body.buf : "", r->body.len,
                      JSON_REJECT_DUPLICATES, &je);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return ntm_error_set(err, NTM_EPROTO,
                             "answer to %s is not a JSON object: %s", what,
                             je.text);
    }
    return NTM_OK;
}

/* GET /v1/info and compare the root key with the pinned one. */
static enum ntm_err
get_info(struct session *s, json_t **info, struct ntm_error *err)
{
    struct http_resp r = {0};
    r.cap = s->o.max_response;
    const struct ntm_key *k = s->key;
    s->key = NULL; /* info is not authenticated */
    enum ntm_err rc = request(s, "GET", "/v1/info", NULL, 0, &r, err);
    s->key = k;
    if (rc == NTM_OK)
        rc = parse_json(&r, "/v1/info", info, err);
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
check_root(struct session *s, json_t *info, struct ntm_error *err)
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
check_gseq(struct session *s, json_t *info, struct ntm_error *err)
{
    int64_t seen = 0;
    json_t *lg = json_object_get(info, "last_gseq");
    if (!json_is_integer(lg))
        return NTM_OK;
    ntm_store_meta_get_int(s->st, "sync.server_gseq", 0, &seen, NULL);
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

static enum ntm_err
get_heads(struct session *s, const char *author, json_t **heads,
          struct ntm_error *err)
{
    struct http_resp r = {0};
    char path[128];
    json_t *v = NULL;
    r.cap = s->o.max_response;
    if (author)
        snprintf(path, sizeof path, "/v1/heads?author=%s", author);
    else
        snprintf(path, sizeof path, "/v1/heads");
    enum ntm_err rc = request(s, "GET", path, NULL, 0, &r, err);
    if (rc == NTM_OK)
        rc = parse_json(&r, "/v1/heads", &v, err);
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
check_heads(struct session *s, json_t *server, json_t *local,
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
    struct session s;
    *info = NULL;
    if (!o || !o->url)
        return ntm_error_set(err, NTM_EINVAL, "no server URL given");
    enum ntm_err rc = session_open(&s, NULL, NULL, o, err);
    if (rc != NTM_OK)
        return rc;
    rc = get_info(&s, info, err);
    session_close(&s);
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
        (rc = ntm_store_meta_set(st, "sync.server", o->url, err)) != NTM_OK ||
        (rc = ntm_store_meta_set(st, "sync.cacert", o->cacert, err)) !=
            NTM_OK ||
        (rc = ntm_store_meta_set(st, "sync.pin", o->pin, err)) != NTM_OK ||
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
    struct session *s;
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
    struct session *s = ps->s;
    struct http_resp r = {0};
    json_t *v = NULL;
    r.cap = s->o.max_response;
    enum ntm_err rc = request(s, "POST", "/v1/entries", ps->batch.buf,
                              ps->batch.len, &r, err);
    if (rc == NTM_OK)
        rc = parse_json(&r, "POST /v1/entries", &v, err);
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

enum ntm_err
ntm_client_push(struct ntm_store *st, const struct ntm_key *key,
                const struct ntm_client_opts *o, struct ntm_push_result *res,
                struct ntm_error *err)
{
    struct ntm_error local_err;
    if (!err)
        err = &local_err;
    struct session s;
    json_t *info = NULL, *server = NULL, *local = NULL;
    struct push_state ps;
    enum ntm_err rc;

    memset(res, 0, sizeof *res);
    memset(&ps, 0, sizeof ps);
    res->flagged = json_array();
    res->rejected = json_array();
    if ((rc = session_open(&s, st, key, o, err)) != NTM_OK)
        return rc;
    if ((rc = get_info(&s, &info, err)) != NTM_OK ||
        (rc = check_root(&s, info, err)) != NTM_OK ||
        (rc = check_gseq(&s, info, err)) != NTM_OK ||
        (rc = get_heads(&s, NULL, &server, err)) != NTM_OK ||
        (rc = ntm_store_heads(st, NULL, &local, err)) != NTM_OK ||
        (rc = check_heads(&s, server, local, err)) != NTM_OK)
        goto out;

    ps.s = &s;
    ps.res = res;
    ps.known = json_object();
    ps.rejected = json_object();
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
    ntm_store_meta_set_int(st, "sync.last_push_ms", ntm_now_ms(), NULL);
    json_t *lg = json_object_get(info, "last_gseq");
    if (json_is_integer(lg)) {
        int64_t seen = 0;
        ntm_store_meta_get_int(st, "sync.server_gseq", 0, &seen, NULL);
        if (json_integer_value(lg) > seen)
            ntm_store_meta_set_int(st, "sync.server_gseq",
                                   json_integer_value(lg), NULL);
    }
out:
    ntm_buf_release(&ps.batch);
    json_decref(ps.known);
    json_decref(ps.rejected);
    json_decref(info);
    json_decref(server);
    json_decref(local);
    session_close(&s);
    return rc;
}

/* ------------------------------------------------------------------ */
/* pull */

/* Each entry the store holds now (new or not) is one the server holds. */
static enum ntm_err
pull_taken(void *ud, const struct ntm_ingest_result *r, struct ntm_error *err)
{
    if (r->verdict != NTM_OK)
        return NTM_OK;
    return ntm_store_peer_head_set(ud, r->author, r->seq, r->id, err);
}

enum ntm_err
Ntm_pull_apply(struct ntm_store *st, const char *body, size_t len,
               int64_t after, struct Ntm_pull_counts *c, struct ntm_error *err)
{
    struct Ntm_ingest in;
    struct Ntm_ingest_opts o = {NTM_SOURCE_PULL,
                                NTM_INGEST_STRICT | NTM_INGEST_GSEQ,
                                0,
                                pull_taken,
                                NULL,
                                st};
    enum ntm_err rc = Ntm_ingest_init(&in, st, &o, err);
    in.last_gseq = after;
    if (rc == NTM_OK)
        rc = Ntm_ingest_lines(&in, body, len, err);
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

/* Fetch one page and apply it in one transaction with the cursor (when
 * cursor_key is not NULL). */
static enum ntm_err
pull_page(struct session *s, const char *author, int64_t after,
          const char *cursor_key, struct Ntm_pull_counts *pc, int64_t *next,
          int *more, struct ntm_error *err)
{
    char path[192];
    struct http_resp r = {0};
    r.cap = s->o.max_response;
    if (author)
        snprintf(path, sizeof path, "/v1/entries?after=%lld&limit=%u&author=%s",
                 (long long)after, s->o.page, author);
    else
        snprintf(path, sizeof path, "/v1/entries?after=%lld&limit=%u",
                 (long long)after, s->o.page);
    enum ntm_err rc = request(s, "GET", path, NULL, 0, &r, err);
    if (rc != NTM_OK)
        goto out;
    if (r.next_after < 0 || r.more < 0) {
        rc = ntm_error_set(err, NTM_EPROTO,
                           "server answer lacks Ntm-Next-After or Ntm-More");
        goto out;
    }
    if (r.next_after < after) {
        rc = ntm_error_set(err, NTM_EROLLBACK,
                           "server %s went backwards: next position %lld is "
                           "before %lld - refusing to pull, tell its admin",
                           s->url, (long long)r.next_after, (long long)after);
        goto out;
    }
    if ((rc = ntm_store_begin(s->st, err)) != NTM_OK)
        goto out;
    rc = Ntm_pull_apply(s->st, r.body.buf, r.body.len, after, pc, err);
    if (rc == NTM_OK && pc->last_gseq > r.next_after)
        rc = ntm_error_set(err, NTM_EPROTO,
                           "server's Ntm-Next-After is below its last line");
    if (rc == NTM_OK && cursor_key) {
        rc = ntm_store_meta_set_int(s->st, cursor_key, r.next_after, err);
        int64_t seen = 0;
        ntm_store_meta_get_int(s->st, "sync.server_gseq", 0, &seen, NULL);
        if (rc == NTM_OK && r.next_after > seen)
            rc = ntm_store_meta_set_int(s->st, "sync.server_gseq", r.next_after,
                                        err);
    }
    if (rc == NTM_OK)
        rc = ntm_store_commit(s->st, err);
    else
        ntm_store_rollback(s->st);
    *next = r.next_after;
    *more = r.more;
out:
    ntm_buf_release(&r.body);
    return rc;
}

enum ntm_err
ntm_client_pull(struct ntm_store *st, const struct ntm_key *key,
                const struct ntm_client_opts *o, struct ntm_pull_result *res,
                struct ntm_error *err)
{
    struct ntm_error local_err;
    if (!err)
        err = &local_err;
    struct session s;
    json_t *info = NULL, *own = NULL, *local = NULL;
    struct Ntm_pull_counts pg;
    char me[NTM_HEX_ID_LEN + 1];
    enum ntm_err rc;
    int64_t cursor = 0, next = 0;
    int more = 0;

    memset(res, 0, sizeof *res);
    memset(&pg, 0, sizeof pg);
    if ((rc = session_open(&s, st, key, o, err)) != NTM_OK)
        return rc;
    ntm_key_author(key, me);
    if ((rc = get_info(&s, &info, err)) != NTM_OK ||
        (rc = check_root(&s, info, err)) != NTM_OK ||
        (rc = check_gseq(&s, info, err)) != NTM_OK ||
        (rc = get_heads(&s, me, &own, err)) != NTM_OK ||
        (rc = ntm_store_heads(st, me, &local, err)) != NTM_OK ||
        (rc = check_heads(&s, own, local, err)) != NTM_OK)
        goto out;

    /* A restored backup: take this device's own chain back first, so that
     * it never writes a second entry at a used seq. */
    if (head_seq(own, me) > head_seq(local, me)) {
        int64_t after = 0;
        do {
            struct Ntm_pull_counts op;
            memset(&op, 0, sizeof op);
            rc = pull_page(&s, me, after, NULL, &op, &next, &more, err);
            if (rc != NTM_OK)
                goto out;
            res->own_restored += op.applied;
            after = next;
        } while (more);
    }

    ntm_store_meta_get_int(st, "sync.cursor", 0, &cursor, NULL);
    do {
        rc = pull_page(&s, NULL, cursor, "sync.cursor", &pg, &next, &more, err);
        if (rc != NTM_OK)
            goto out;
        cursor = next;
        res->after = cursor;
        res->received = pg.received;
        res->applied = pg.applied;
        res->invalid = pg.invalid;
        if (s.o.progress)
            s.o.progress(s.o.progress_ud, "received", pg.received, 0);
    } while (more);
    res->after = cursor;
    ntm_store_meta_set_int(st, "sync.last_pull_ms", ntm_now_ms(), NULL);
out:
    if (res->after == 0)
        res->after = cursor;
    json_decref(info);
    json_decref(own);
    json_decref(local);
    session_close(&s);
    return rc;
}
