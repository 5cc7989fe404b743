/* SPDX-License-Identifier: MIT */
/*
 * wire.c - what both ends of the sync protocol agree on (SPEC.md section
 * 6): the request signature of the Authorization header, NDJSON entry
 * lines, error bodies, gzip both ways, and address parsing.
 *
 * Pure functions: no sockets, no store, no libcurl or libmicrohttpd, so the
 * test suite checks them directly. Depends on util/, crypto/, jansson and
 * zlib. Entry bytes are never re-serialized here: a line carries B as a
 * JSON string and the exact bytes of that string are what gets verified.
 */
#include "sync_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define AUTH_SCHEME "NTM-Ed25519 "

/* The bytes a request signature covers. */
static enum ntm_err
auth_message(struct ntm_buf *msg, const char *method, const char *path,
             int64_t ts_ms, const void *body, size_t len)
{
    char hex[NTM_HEX_ID_LEN + 1];
    ntm_hash_hex(hex, body ? body : "", body ? len : 0);
    return ntm_buf_addf(msg, "ntm-req-v1\n%s\n%s\n%lld\n%s", method, path,
                        (long long)ts_ms, hex);
}

enum ntm_err
ntm_sync_auth_header(struct ntm_buf *out, const struct ntm_key *key,
                     const char *method, const char *path_and_query,
                     int64_t ts_ms, const void *body, size_t len)
{
    struct ntm_buf msg = NTM_BUF_INIT;
    unsigned char sig[NTM_SIGNATURE_BYTES];
    char b64[NTM_SIG_B64_LEN + 1];
    char author[NTM_HEX_ID_LEN + 1];
    enum ntm_err rc =
        auth_message(&msg, method, path_and_query, ts_ms, body, len);
    if (rc != NTM_OK)
        goto out;
    rc = ntm_key_sign(key, sig, msg.buf, msg.len);
    if (rc != NTM_OK)
        goto out;
    ntm_b64_encode(b64, sig, sizeof sig);
    ntm_key_author(key, author);
    rc = ntm_buf_addf(out, AUTH_SCHEME "key=%s,ts=%lld,sig=%s", author,
                      (long long)ts_ms, b64);
out:
    ntm_buf_release(&msg);
    return rc;
}

/* An Authorization header taken apart: the author id, its public key,
 * the time and the signature. */
struct auth_parts {
    char author[NTM_HEX_ID_LEN + 1];
    unsigned char pk[NTM_PUBLICKEY_BYTES];
    unsigned char sig[NTM_SIGNATURE_BYTES];
    int64_t ts_ms;
};

static enum ntm_err
auth_parse(const char *header, struct auth_parts *ap, struct ntm_error *err)
{
    const char *key = NULL, *ts = NULL, *sig = NULL;
    size_t keylen = 0, tslen = 0, siglen = 0;
    char tsbuf[24];
    size_t sigbinlen = 0;

    if (!header || strncmp(header, AUTH_SCHEME, strlen(AUTH_SCHEME)) != 0)
        return ntm_error_set(err, NTM_EAUTH,
                             "missing or malformed Authorization header - "
                             "expected 'NTM-Ed25519 key=..,ts=..,sig=..'");
    const char *p = header + strlen(AUTH_SCHEME);
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq)
            return ntm_error_set(err, NTM_EAUTH,
                                 "malformed Authorization parameter");
        size_t nlen = (size_t)(eq - p);
        const char **slot = NULL;
        size_t *slotlen = NULL;
        if (nlen == 3 && !memcmp(p, "key", 3)) {
            slot = &key;
            slotlen = &keylen;
        } else if (nlen == 2 && !memcmp(p, "ts", 2)) {
            slot = &ts;
            slotlen = &tslen;
        } else if (nlen == 3 && !memcmp(p, "sig", 3)) {
            slot = &sig;
            slotlen = &siglen;
        } else {
            return ntm_error_set(err, NTM_EAUTH,
                                 "unknown Authorization parameter");
        }
        if (*slot)
            return ntm_error_set(err, NTM_EAUTH,
                                 "repeated Authorization parameter");
        *slot = eq + 1;
        *slotlen = (size_t)(end - eq - 1);
        p = *end ? end + 1 : end;
    }
    if (!key || !ts || !sig)
        return ntm_error_set(err, NTM_EAUTH,
                             "Authorization lacks key, ts or sig");
    if (keylen == NTM_HEX_ID_LEN) {
        memcpy(ap->author, key, keylen);
        ap->author[keylen] = '\0';
    }
    if (keylen != NTM_HEX_ID_LEN || !ntm_is_lower_hex(ap->author, keylen) ||
        ntm_hex_decode(ap->pk, sizeof ap->pk, ap->author, keylen) != NTM_OK)
        return ntm_error_set(err, NTM_EAUTH,
                             "Authorization key is not 64 lowercase hex");
    if (tslen == 0 || tslen >= sizeof tsbuf)
        return ntm_error_set(err, NTM_EAUTH, "Authorization ts is malformed");
    memcpy(tsbuf, ts, tslen);
    tsbuf[tslen] = '\0';
    if (ntm_parse_int64(tsbuf, 0, (int64_t)1 << 53, &ap->ts_ms) != NTM_OK ||
        tsbuf[0] == '+')
        return ntm_error_set(err, NTM_EAUTH, "Authorization ts is malformed");
    if (ntm_b64_decode(ap->sig, sizeof ap->sig, &sigbinlen, sig, siglen) !=
            NTM_OK ||
        sigbinlen != sizeof ap->sig)
        return ntm_error_set(err, NTM_EAUTH,
                             "Authorization sig is not a base64 signature");
    return NTM_OK;
}

static enum ntm_err
auth_clock(int64_t ts_ms, int64_t now_ms, struct ntm_error *err)
{
    int64_t skew = ts_ms > now_ms ? ts_ms - now_ms : now_ms - ts_ms;
    if (skew > NTM_SYNC_CLOCK_SKEW_MS)
        return ntm_error_set(err, NTM_ECLOCKSKEW,
                             "request time is %lld s away from the server's "
                             "clock - correct the clock offset and retry",
                             (long long)(skew / 1000));
    return NTM_OK;
}

enum ntm_err
Ntm_auth_precheck(const char *header, int64_t now_ms,
                  char author[NTM_HEX_ID_LEN + 1], struct ntm_error *err)
{
    struct auth_parts ap;
    enum ntm_err rc = auth_parse(header, &ap, err);
    if (rc != NTM_OK)
        return rc;
    memcpy(author, ap.author, NTM_HEX_ID_LEN + 1);
    return auth_clock(ap.ts_ms, now_ms, err);
}

enum ntm_err
ntm_sync_auth_verify(const char *header, const char *method,
                     const char *path_and_query, const void *body, size_t len,
                     int64_t now_ms, char author[NTM_HEX_ID_LEN + 1],
                     int64_t *ts_ms, struct ntm_error *err)
{
    struct auth_parts ap;
    enum ntm_err rc = auth_parse(header, &ap, err);
    if (rc != NTM_OK)
        return rc;
    struct ntm_buf msg = NTM_BUF_INIT;
    rc = auth_message(&msg, method, path_and_query, ap.ts_ms, body, len);
    if (rc != NTM_OK) {
        ntm_buf_release(&msg);
        return ntm_error_set(err, rc, "out of memory");
    }
    rc = ntm_sign_verify(ap.sig, msg.buf, msg.len, ap.pk);
    ntm_buf_release(&msg);
    if (rc != NTM_OK)
        return ntm_error_set(err, NTM_EAUTH,
                             "request signature does not verify - was it "
                             "signed over this method, path and body?");
    if (author)
        memcpy(author, ap.author, NTM_HEX_ID_LEN + 1);
    if (ts_ms)
        *ts_ms = ap.ts_ms;
    return auth_clock(ap.ts_ms, now_ms, err);
}

/* ------------------------------------------------------------------ */
/* gzip */

enum ntm_err
Ntm_gzip(const void *in, size_t len, struct ntm_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return NTM_ENOMEM;
    enum ntm_err rc = NTM_OK;
    uLong bound = deflateBound(&zs, (uLong)len);
    if ((rc = ntm_buf_grow(out, bound + 64)) != NTM_OK)
        goto out;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out->buf + out->len;
    zs.avail_out = (uInt)(out->alloc - out->len - 1);
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        rc = NTM_ENOMEM;
        goto out;
    }
    out->len += zs.total_out;
    out->buf[out->len] = '\0';
out:
    deflateEnd(&zs);
    return rc;
}

enum ntm_err
Ntm_gunzip(const void *in, size_t len, size_t max, struct ntm_buf *out,
           struct ntm_error *err)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory inflating");
    enum ntm_err rc = NTM_OK;
    size_t start = out->len;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    for (;;) {
        size_t chunk = 65536;
        if ((rc = ntm_buf_grow(out, chunk)) != NTM_OK) {
            ntm_error_set(err, rc, "out of memory inflating");
            goto out;
        }
        zs.next_out = (Bytef *)out->buf + out->len;
        zs.avail_out = (uInt)chunk;
        int z = inflate(&zs, Z_NO_FLUSH);
        out->len += chunk - zs.avail_out;
        out->buf[out->len] = '\0';
        if (out->len - start > max) {
            rc = ntm_error_set(err, NTM_ETOOLARGE,
                               "inflated body passes the %zu-byte limit", max);
            goto out;
        }
        if (z == Z_STREAM_END) {
            if (zs.avail_in != 0)
                rc = ntm_error_set(err, NTM_EPROTO,
                                   "bytes after the end of the gzip stream");
            goto out;
        }
        if (z != Z_OK && !(z == Z_BUF_ERROR && zs.avail_out == 0)) {
            rc = ntm_error_set(err, NTM_EPROTO,
                               "body is not a valid gzip stream");
            goto out;
        }
        if (zs.avail_in == 0 && zs.avail_out != 0) {
            rc = ntm_error_set(err, NTM_EPROTO, "gzip stream is truncated");
            goto out;
        }
    }
out:
    inflateEnd(&zs);
    return rc;
}

int
Ntm_accepts_gzip(const char *ae)
{
    if (!ae)
        return 0;
    const char *p = ae;
    while ((p = strcasestr(p, "gzip")) != NULL) {
        const char *q = p + 4;
        while (*q == ' ')
            q++;
        if (*q == ';') {
            const char *qv = strstr(q, "q=");
            if (qv && qv[2] == '0' &&
                (qv[3] == '\0' || qv[3] == ',' ||
                 (qv[3] == '.' && strspn(qv + 4, "0") > 0 &&
                  (qv[4 + strspn(qv + 4, "0")] == '\0' ||
                   qv[4 + strspn(qv + 4, "0")] == ','))))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* addresses */

enum ntm_err
Ntm_listen_parse(const char *listen, struct sockaddr_storage *ss,
                 socklen_t *sslen, int *loopback, struct ntm_error *err)
{
    char host[128];
    const char *colon, *hs, *he;
    int64_t port;
    memset(ss, 0, sizeof *ss);
    if (!listen || !*listen)
        return ntm_error_set(err, NTM_EINVAL, "empty listen address");
    if (listen[0] == '[') {
        he = strchr(listen, ']');
        if (!he || he[1] != ':')
            return ntm_error_set(err, NTM_EINVAL,
                                 "bad listen address '%s' - use [ADDR6]:PORT",
                                 listen);
        hs = listen + 1;
        colon = he + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon)
            return ntm_error_set(err, NTM_EINVAL,
                                 "bad listen address '%s' - use ADDR:PORT",
                                 listen);
        hs = listen;
        he = colon;
    }
    if ((size_t)(he - hs) >= sizeof host ||
        ntm_parse_int64(colon + 1, 0, 65535, &port) != NTM_OK)
        return ntm_error_set(err, NTM_EINVAL,
                             "bad listen address '%s' - use ADDR:PORT", listen);
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (!strcmp(host, "localhost"))
        memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *sslen = sizeof *a4;
        *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *sslen = sizeof *a6;
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
    } else {
        return ntm_error_set(err, NTM_EINVAL,
                             "bad listen address '%s' - give a numeric IP",
                             listen);
    }
    return NTM_OK;
}

int
Ntm_url_is_loopback(const char *url)
{
    const char *p = strstr(url, "://");
    if (!p)
        return 0;
    p += 3;
    const char *at = strpbrk(p, "@/");
    if (at && *at == '@')
        p = at + 1;
    if (!strncmp(p, "localhost", 9) &&
        (p[9] == '\0' || p[9] == ':' || p[9] == '/'))
        return 1;
    if (!strncmp(p, "[::1]", 5))
        return p[5] == '\0' || p[5] == ':' || p[5] == '/';
    /* A literal IPv4 address in 127.0.0.0/8, and nothing else: a host
     * name such as "127.0.0.1.example.org" is not loopback. */
    char host[16];
    size_t n = strcspn(p, ":/");
    if (n == 0 || n >= sizeof(host))
        return 0;
    memcpy(host, p, n);
    host[n] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return 0;
    return (ntohl(a.s_addr) >> 24) == 127;
}

/* ------------------------------------------------------------------ */
/* NDJSON lines */

enum ntm_err
Ntm_line_read(const char *line, size_t len, json_t **obj, const char **entry,
              size_t *entry_len, const char **sig, int64_t *gseq,
              struct ntm_error *err)
{
    json_error_t jerr;
    *obj = NULL;
    *entry = *sig = NULL;
    *entry_len = 0;
    *gseq = -1;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return ntm_error_set(err, NTM_EBADENTRY,
                             "line is not a JSON object: %s",
                             o ? "wrong type" : jerr.text);
    }
    json_t *je = json_object_get(o, "entry");
    json_t *js = json_object_get(o, "sig");
    json_t *jg = json_object_get(o, "gseq");
    if (!json_is_string(je) || !json_is_string(js)) {
        json_decref(o);
        return ntm_error_set(err, NTM_EBADENTRY,
                             "line lacks \"entry\" or \"sig\" strings");
    }
    if (jg) {
        if (!json_is_integer(jg) || json_integer_value(jg) < 0) {
            json_decref(o);
            return ntm_error_set(err, NTM_EBADENTRY, "line has a bad \"gseq\"");
        }
        *gseq = json_integer_value(jg);
    }
    *obj = o;
    *entry = json_string_value(je);
    *entry_len = json_string_length(je);
    *sig = json_string_value(js);
    return NTM_OK;
}

enum ntm_err
Ntm_line_parse(const char *line, size_t len, char **entry, size_t *entry_len,
               char **sig, int64_t *gseq, struct ntm_error *err)
{
    json_t *o;
    const char *e, *s;
    *entry = NULL;
    *sig = NULL;
    enum ntm_err rc =
        Ntm_line_read(line, len, &o, &e, entry_len, &s, gseq, err);
    if (rc != NTM_OK)
        return rc;
    *entry = ntm_strndup(e, *entry_len);
    *sig = ntm_strdup(s);
    if (!*entry || !*sig) {
        ntm_free(*entry);
        ntm_free(*sig);
        *entry = *sig = NULL;
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    json_decref(o);
    return rc;
}

enum ntm_err
Ntm_line_add(struct ntm_buf *out, int64_t gseq, const char *entry, size_t len,
             const char *sig)
{
    json_t *o = json_object();
    json_t *e = json_stringn(entry, len);
    if (!o || !e) {
        json_decref(o);
        json_decref(e);
        return NTM_ENOMEM;
    }
    if (gseq >= 0)
        json_object_set_new(o, "gseq", json_integer(gseq));
    json_object_set_new(o, "entry", e);
    json_object_set_new(o, "sig", json_string(sig));
    enum ntm_err rc = Ntm_json_add(out, o, JSON_PRESERVE_ORDER);
    json_decref(o);
    if (rc == NTM_OK)
        rc = ntm_buf_addch(out, '\n');
    return rc;
}

void
Ntm_entry_author_seq(const char *entry, size_t len,
                     char author[NTM_HEX_ID_LEN + 1], int64_t *seq)
{
    author[0] = '\0';
    *seq = -1;
    json_t *o = json_loadb(entry, len, JSON_REJECT_DUPLICATES, NULL);
    const char *a = json_string_value(json_object_get(o, "author"));
    json_t *js = json_object_get(o, "seq");
    if (a && strlen(a) == NTM_HEX_ID_LEN) {
        memcpy(author, a, NTM_HEX_ID_LEN);
        author[NTM_HEX_ID_LEN] = '\0';
    }
    if (json_is_integer(js))
        *seq = json_integer_value(js);
    json_decref(o);
}

void
Ntm_entry_author(const char *entry, size_t len, char author[NTM_HEX_ID_LEN + 1])
{
    int64_t seq;
    Ntm_entry_author_seq(entry, len, author, &seq);
}

enum ntm_err
Ntm_error_body(struct ntm_buf *out, const char *code, const char *message,
               int64_t server_time_ms)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message",
                          message ? message : "");
    if (!e)
        return NTM_ENOMEM;
    if (server_time_ms >= 0)
        json_object_set_new(e, "server_time_ms", json_integer(server_time_ms));
    json_t *o = json_pack("{s:o}", "error", e);
    if (!o)
        return NTM_ENOMEM;
    enum ntm_err rc = Ntm_json_add(out, o, 0);
    json_decref(o);
    return rc;
}

int
Ntm_accepts_vi(const char *al)
{
    if (!al)
        return 0;
    while (*al == ' ' || *al == '\t')
        al++;
    return (al[0] == 'v' || al[0] == 'V') && (al[1] == 'i' || al[1] == 'I') &&
           (al[2] == '\0' || al[2] == '-' || al[2] == '_' || al[2] == ';' ||
            al[2] == ',' || al[2] == ' ' || al[2] == '\t');
}

/* The server answers in the language of each request, whatever the
 * server's own locale: what failed and what to do, by wire code. English
 * msgids of the catalogue (po/vi.po), translated per request with
 * ntm_tr_find, which reads no process-wide state. */
static const struct {
    const char *code, *text;
} error_text[] = {
    {"too_large", N_("The request is too large for the server - send smaller "
                     "batches (ntm push --batch)")},
    {"bad_auth",
     N_("The server could not authenticate the request (signature missing or "
        "wrong) - check this device's key (ntm whoami) and retry")},
    {"clock_skew", N_("The device's clock is too far from the server's - set "
                      "the phone's date and time, then retry")},
    {"unknown_author",
     N_("The device is not enrolled on the server - ask an admin to enroll it "
        "and push the enrollment to the server")},
    {"revoked", N_("The device's key was revoked; the server does not accept "
                   "it - contact an admin")},
    {"forbidden",
     N_("The device is not allowed to do this - contact an admin")},
    {"bad_request", N_("The server did not understand the request (invalid "
                       "request) - update ntm and retry")},
    {"not_found", N_("There is no such address on the server - check the "
                     "server address (ntm init --server)")},
    {"method_not_allowed", N_("This address does not accept the request method "
                              "used - check the request")},
    {"unsupported_media_type", N_("The server does not accept the type of data "
                                  "sent - send it with ntm push")},
    {"too_many_requests",
     N_("The server is busy - nothing lost, retry in a few minutes")},
    {"unavailable",
     N_("The server cannot serve for now - nothing lost, retry later")},
    {"internal", N_("The server had an internal error - nothing lost, retry "
                    "later and tell the server's admin")},
};

const char *
Ntm_error_message_vi(const char *code)
{
    for (size_t i = 0; code && i < sizeof error_text / sizeof error_text[0];
         i++)
        if (!strcmp(error_text[i].code, code))
            return ntm_tr_find("vi", error_text[i].text);
    return NULL;
}

enum ntm_err
Ntm_json_add(struct ntm_buf *out, const json_t *v, size_t flags)
{
    flags |= JSON_COMPACT | JSON_ENCODE_ANY;
    size_t need = json_dumpb(v, NULL, 0, flags);
    if (need == 0)
        return NTM_ENOMEM;
    enum ntm_err rc = ntm_buf_grow(out, need);
    if (rc != NTM_OK)
        return rc;
    if (json_dumpb(v, out->buf + out->len, need, flags) != need)
        return NTM_ENOMEM;
    out->len += need;
    out->buf[out->len] = '\0';
    return NTM_OK;
}

int
Ntm_lines_foreach(const char *buf, size_t len, Ntm_line_fn fn, void *ud)
{
    size_t i = 0;
    int n = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t l = end - i;
        n++;
        if (l > 0 && buf[i + l - 1] == '\r')
            l--;
        if (l > 0) {
            int r = fn(ud, n, buf + i, l);
            if (r)
                return r;
        }
        i = end + 1;
    }
    return 0;
}
