/* SPDX-License-Identifier: MIT */
/*
 * transport.c - the device side's one libcurl session: HTTPS only (plain
 * HTTP to a loopback address), no redirects, CA file or public key pin,
 * timeouts, a response cap, gzip both ways, signed requests, bounded
 * retries with backoff and jitter, and one clock-skew correction. It knows
 * HTTP and the error body of SPEC.md section 6, not what the endpoints
 * mean: info, setup, push and pull are client.c's.
 *
 * Depends on util/, crypto/ (request signatures), store/ (the server
 * settings and the learnt clock offset), sync/wire.c and libcurl.
 */
#include "sync_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GZIP_MIN 1024 /* gzip request bodies above this */

static size_t
on_write(char *p, size_t size, size_t n, void *ud)
{
    struct Ntm_http_resp *r = ud;
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
    struct Ntm_http_resp *r = ud;
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
resp_reset(struct Ntm_http_resp *r)
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

/*
 * A transport failure in ntm's own words (catalogue messages, translated
 * for the user), with libcurl's English text added to the English message
 * only (ntm_error_detail): a Vietnamese user reads what happened and what
 * to do, `--lang en` and the library's callers still see libcurl's words.
 */
static enum ntm_err
curl_fail(CURLcode cc, const char *ebuf, const struct Ntm_session *s,
          int overflow, int *retry, struct ntm_error *err)
{
    const char *detail = ebuf[0] ? ebuf : curl_easy_strerror(cc);
    enum ntm_err rc;
    *retry = 0;
    switch (cc) {
    case CURLE_WRITE_ERROR:
        if (overflow)
            return ntm_error_set(err, NTM_ETOOLARGE,
                                 N_("server answer from %s passes the %zu-byte "
                                    "cap - nothing was applied"),
                                 s->url, s->o.max_response);
        *retry = 1;
        rc = ntm_error_set(err, NTM_ENET, N_("the connection to %s broke off"),
                           s->url);
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        *retry = 1;
        rc = ntm_error_set(err, NTM_ENET, N_("the connection to %s broke off"),
                           s->url);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        *retry = 1;
        rc = ntm_error_set(err, NTM_ETIMEOUT,
                           N_("%s did not answer in time - the network is "
                              "slow or the server is busy"),
                           s->url);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        *retry = 1;
        rc = ntm_error_set(err, NTM_ENET,
                           N_("cannot find the server %s: check its address "
                              "and that this device is on the network"),
                           s->url);
        break;
    case CURLE_COULDNT_CONNECT:
        *retry = 1;
        rc = ntm_error_set(err, NTM_ENET,
                           N_("cannot connect to %s: the server is not "
                              "running there, or the network blocks it"),
                           s->url);
        break;
    case CURLE_SSL_CONNECT_ERROR:
        /* A handshake cut short (reset, dropped link, a server down behind
         * a proxy) says nothing about who the server is: certificate and
         * pin mismatches have codes of their own below. Retry, then exit 4. */
        *retry = 1;
        rc = ntm_error_set(err, NTM_ENET,
                           N_("secure connection to %s was cut during the "
                              "handshake"),
                           s->url);
        break;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        rc =
            ntm_error_set(err, NTM_EINVAL,
                          N_("refusing server URL '%s': use https://"), s->url);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS: {
        char today[16];
        time_t now = time(NULL);
        struct tm tm;
        if (!gmtime_r(&now, &tm) ||
            !strftime(today, sizeof(today), "%Y-%m-%d", &tm))
            snprintf(today, sizeof(today), "?");
        if (strstr(detail, "not yet valid"))
            /* The certificate starts later than this device's date: the
             * device's clock is behind (a phone reset to 2000, a dead
             * clock battery). The pin does not depend on the clock. */
            rc = ntm_error_set(err, NTM_ETLS,
                               N_("the certificate of %s is not valid yet "
                                  "on this device's date, %s (UTC): this "
                                  "device's clock is most likely wrong. Set "
                                  "its date and time, or trust the server by "
                                  "its key instead, which does not depend on "
                                  "the clock: 'ntm init --server URL --pin "
                                  "sha256//...' with the pin your admin "
                                  "gives (nothing was sent or applied)"),
                               s->url, today);
        else if (strstr(detail, "expired"))
            rc = ntm_error_set(err, NTM_ETLS,
                               N_("the certificate of %s has expired on this "
                                  "device's date, %s (UTC): either this "
                                  "device's clock is ahead (set its date and "
                                  "time, or trust the server by its key: "
                                  "'ntm init --server URL --pin sha256//...') "
                                  "or the server needs a new certificate "
                                  "(tell your admin); nothing was sent or "
                                  "applied"),
                               s->url, today);
        else
            rc = ntm_error_set(err, NTM_ETLS,
                               N_("TLS check of %s failed - is this your "
                                  "server? check --cacert/--pin (nothing was "
                                  "sent or applied)"),
                               s->url);
        break;
    }
    default:
        *retry = 1;
        rc = ntm_error_set(err, NTM_ENET, N_("cannot reach %s"), s->url);
        break;
    }
    ntm_error_detail(err, detail);
    return rc;
}

/* Map an error answer {"error":{"code","message"}} to a code. */
static enum ntm_err
http_fail(const struct Ntm_http_resp *r, const char *what, int64_t *server_time,
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
        else if (!strcmp(code, "conflict"))
            c = NTM_ECONFLICT;
    }
    ntm_error_set(err, c, "server refused %s (HTTP %ld %s): %s", what,
                  r->status, code ? code : "error",
                  msg ? msg : "no explanation given");
    err->http_status = (int)r->status;
    json_decref(v);
    return c;
}

/* One request with retries. body may be NULL. */
enum ntm_err
Ntm_request(struct Ntm_session *s, const char *method, const char *path,
            const char *body, size_t len, struct Ntm_http_resp *r,
            struct ntm_error *err)
{
    struct ntm_buf url = NTM_BUF_INIT, auth = NTM_BUF_INIT, gz = NTM_BUF_INIT;
    char ebuf[CURL_ERROR_SIZE];
    enum ntm_err rc = NTM_OK;
    int skew_retried = 0;
    const char *send = body;
    size_t send_len = len;

    /* A PUT carries attachment bytes (photos, PDFs): already compressed,
     * sent as they are. */
    int put = !strcmp(method, "PUT");
    if (!put && body && len > GZIP_MIN && Ntm_gzip(body, len, &gz) == NTM_OK) {
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
        curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, NULL);
        if (put) {
            curl_easy_setopt(s->h, CURLOPT_POST, 1L);
            curl_easy_setopt(s->h, CURLOPT_CUSTOMREQUEST, "PUT");
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, send ? send : "");
            curl_easy_setopt(s->h, CURLOPT_POSTFIELDSIZE_LARGE,
                             (curl_off_t)send_len);
            hdrs = curl_slist_append(hdrs,
                                     "Content-Type: application/octet-stream");
            hdrs = curl_slist_append(hdrs, "Expect:");
        } else if (!strcmp(method, "POST")) {
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
                    ntm_store_meta_set_int(s->st, NTM_SYNC_KEY_CLOCK_OFFSET,
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
        /* How hard it tried, in the English text; the message itself stays
         * translatable, and the tool's hint says that nothing was lost. */
        char m[64];
        snprintf(m, sizeof m, "after %d attempts", s->o.max_attempts);
        ntm_error_detail(err, m);
    }
    ntm_buf_release(&url);
    ntm_buf_release(&auth);
    ntm_buf_release(&gz);
    return rc;
}

void
Ntm_session_close(struct Ntm_session *s)
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

enum ntm_err
Ntm_session_open(struct Ntm_session *s, struct ntm_store *st,
                 const struct ntm_key *key, const struct ntm_client_opts *o,
                 struct ntm_error *err)
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
    s->url = opt_or_meta(st, o ? o->url : NULL, NTM_SYNC_KEY_SERVER);
    s->cacert = opt_or_meta(st, o ? o->cacert : NULL, NTM_SYNC_KEY_CACERT);
    s->pin = opt_or_meta(st, o ? o->pin : NULL, NTM_SYNC_KEY_PIN);
    if (!s->url) {
        Ntm_session_close(s);
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
        Ntm_session_close(s);
        return rc;
    }
    if (st)
        ntm_store_meta_get_int(st, NTM_SYNC_KEY_CLOCK_OFFSET, 0,
                               &s->clock_offset, NULL);
    s->h = curl_easy_init();
    if (!s->h) {
        Ntm_session_close(s);
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

enum ntm_err
Ntm_http_json(const struct Ntm_http_resp *r, const char *what, json_t **out,
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
