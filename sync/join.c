/* SPDX-License-Identifier: MIT */
/*
 * join.c - the join code read and checked (its format and the signer's
 * signature), for the tool and for the server alike, and the client side
 * of the admin endpoints around joining and forks (docs/contract.md "Join
 * codes", "Join requests", "Fork evidence for admins"):
 *
 *   POST /v1/join   a new device asks to be enrolled: the code it joined
 *                   with and its name, the request signed by its own key
 *   GET  /v1/join   an admin lists the requests for its codes
 *   GET  /v1/forks  an admin reads the server's fork evidence
 *
 * A join request that could not be sent at `ntm init --join` waits in the
 * device's store (meta "join.pending") and is sent again before the next
 * push or pull (ntm_client_join_resend). This device's own entries set
 * aside after a fork (store/strand.c) are shown to the server once
 * (ntm_client_report_stranded), so that the server keeps the fork's
 * evidence for admins. Depends on util/, crypto/, store/, transport.c.
 */
#include "ntm_sync.h"
#include "sync_int.h"

#include <stdio.h>
#include <string.h>

#define JOIN_PREFIX  "ntmjoin1."
#define JOIN_CONTEXT "ntm-join-v1\n"
#define JOIN_MAX     4096
#define JOIN_PENDING "join.pending"

/* Decode base64url without padding s[0..n) into out (capacity cap). */
static int
b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap,
              size_t *outlen)
{
    if (n % 4 == 1 || n > JOIN_MAX)
        return -1;
    char t[JOIN_MAX + 4];
    size_t i;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (c == '+' || c == '/' || c == '=')
            return -1;
        t[i] = c;
    }
    while (i % 4)
        t[i++] = '=';
    return ntm_b64_decode(out, cap, outlen, t, i) == NTM_OK ? 0 : -1;
}

static int
hex_member(json_t *o, const char *name, size_t len)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v && strlen(v) == len && ntm_is_lower_hex(v, len);
}

enum ntm_err
ntm_join_code_read(const char *code, json_t **payload, char **clean_out,
                   struct ntm_error *err)
{
    *payload = NULL;
    if (clean_out)
        *clean_out = NULL;
    /* Spaces and line breaks a message or a copy put in are ignored. */
    char clean[JOIN_MAX + 1];
    size_t n = 0;
    for (const char *p = code; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            continue;
        if (n == JOIN_MAX)
            return ntm_error_set(err, NTM_EINVAL, "the join code is too long");
        clean[n++] = *p;
    }
    clean[n] = '\0';
    const char *body = clean + strlen(JOIN_PREFIX);
    const char *dot = strchr(body, '.');
    if (strncmp(clean, JOIN_PREFIX, strlen(JOIN_PREFIX)) != 0 || !dot ||
        strchr(dot + 1, '.'))
        return ntm_error_set(err, NTM_EINVAL, "not a join code");
    unsigned char pl[JOIN_MAX], sig[NTM_SIGNATURE_BYTES + 3];
    size_t plen = 0, slen = 0;
    if (b64url_decode(body, (size_t)(dot - body), pl, sizeof(pl) - 1, &plen) !=
            0 ||
        b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig), &slen) != 0 ||
        slen != NTM_SIGNATURE_BYTES)
        return ntm_error_set(err, NTM_EINVAL,
                             "the join code is cut or damaged");
    pl[plen] = '\0';
    json_t *o =
        json_loadb((const char *)pl, plen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o) ||
        json_integer_value(json_object_get(o, "v")) != 1 ||
        !json_is_string(json_object_get(o, "server")) ||
        !json_is_string(json_object_get(o, "pin")) ||
        !json_is_string(json_object_get(o, "role")) ||
        !json_is_string(json_object_get(o, "scope")) ||
        !json_is_integer(json_object_get(o, "exp")) ||
        !hex_member(o, "root", NTM_HEX_ID_LEN) || !hex_member(o, "nonce", 16) ||
        (json_object_get(o, "signer") &&
         !hex_member(o, "signer", NTM_HEX_ID_LEN)) ||
        (json_object_get(o, "org") &&
         !json_is_string(json_object_get(o, "org"))) ||
        (json_object_get(o, "name") &&
         !json_is_string(json_object_get(o, "name")))) {
        json_decref(o);
        return ntm_error_set(err, NTM_EINVAL,
                             "the join code's content is not what a join "
                             "code holds");
    }
    const char *signer = json_string_value(json_object_get(o, "signer"));
    if (!signer)
        signer = json_string_value(json_object_get(o, "root"));
    unsigned char pk[NTM_PUBLICKEY_BYTES];
    struct ntm_buf msg = NTM_BUF_INIT;
    ntm_buf_adds(&msg, JOIN_CONTEXT);
    ntm_buf_add(&msg, pl, plen);
    int good =
        msg.buf &&
        ntm_hex_decode(pk, sizeof(pk), signer, NTM_HEX_ID_LEN) == NTM_OK &&
        ntm_sign_verify(sig, msg.buf, msg.len, pk) == NTM_OK;
    ntm_buf_release(&msg);
    if (!good) {
        json_decref(o);
        return ntm_error_set(err, NTM_EBADSIG,
                             "the join code's signature does not match");
    }
    if (clean_out && !(*clean_out = ntm_strdup(clean))) {
        json_decref(o);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    *payload = o;
    return NTM_OK;
}

/* ------------------------------------------------------------------ */
/* client */

/* One request of an open session; *out the JSON answer (new). */
static enum ntm_err
call(struct Ntm_session *s, const char *method, const char *path,
     const char *body, json_t **out, struct ntm_error *err)
{
    struct Ntm_http_resp r = {0};
    r.cap = s->o.max_response;
    enum ntm_err rc =
        Ntm_request(s, method, path, body, body ? strlen(body) : 0, &r, err);
    if (rc == NTM_OK)
        rc = Ntm_http_json(&r, path, out, err);
    ntm_buf_release(&r.body);
    return rc;
}

enum ntm_err
ntm_client_join_ask(struct ntm_store *st, const struct ntm_key *key,
                    const struct ntm_client_opts *o, const char *code,
                    const char *name, json_t **answer, struct ntm_error *err)
{
    struct Ntm_session s;
    json_t *v = NULL;
    *answer = NULL;
    json_t *b = json_pack("{s:s}", "code", code);
    if (b && name && *name)
        json_object_set_new(b, "name", json_string(name));
    char *body = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(b);
    if (!body)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = Ntm_session_open(&s, st, key, o, err);
    if (rc == NTM_OK) {
        rc = call(&s, "POST", "/v1/join", body, &v, err);
        Ntm_session_close(&s);
    }
    free(body); /* jansson's allocator */
    if (rc == NTM_OK)
        *answer = v;
    return rc;
}

enum ntm_err
ntm_client_join_pending_set(struct ntm_store *st, const char *code,
                            const char *name, struct ntm_error *err)
{
    json_t *b = json_pack("{s:s}", "code", code);
    if (b && name && *name)
        json_object_set_new(b, "name", json_string(name));
    char *text = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(b);
    if (!text)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = ntm_store_meta_set(st, JOIN_PENDING, text, err);
    free(text);
    return rc;
}

/* Whether a refusal of POST /v1/join can never turn into a yes by sending
 * the same request again. */
static int
refused_for_good(enum ntm_err rc, const struct ntm_error *err)
{
    if (rc == NTM_ENET || rc == NTM_ETIMEOUT || rc == NTM_EUNAVAIL ||
        rc == NTM_ETLS || rc == NTM_ECLOCKSKEW || rc == NTM_ENOMEM ||
        rc == NTM_ECONFIG)
        return 0;
    return err->http_status >= 400 && err->http_status < 500;
}

enum ntm_err
ntm_client_join_resend(struct ntm_store *st, const struct ntm_key *key,
                       const struct ntm_client_opts *o, int *state,
                       struct ntm_error *err)
{
    char *text = NULL;
    *state = 0;
    if (ntm_store_meta_get(st, JOIN_PENDING, &text, NULL) != NTM_OK || !text ||
        !*text) {
        ntm_free(text);
        return NTM_OK;
    }
    json_t *p = json_loads(text, 0, NULL);
    ntm_free(text);
    const char *code = json_string_value(json_object_get(p, "code"));
    const char *name = json_string_value(json_object_get(p, "name"));
    json_t *answer = NULL;
    enum ntm_err rc =
        code ? ntm_client_join_ask(st, key, o, code, name, &answer, err)
             : ntm_error_set(err, NTM_EINVAL,
                             "the waiting join request is "
                             "damaged");
    json_decref(answer);
    json_decref(p);
    if (rc == NTM_OK) {
        *state = 1;
        return ntm_store_meta_set(st, JOIN_PENDING, "", err);
    }
    if (rc == NTM_EINVAL || refused_for_good(rc, err)) {
        /* Sending it again would be refused again: dropped, and said. */
        *state = -1;
        ntm_store_meta_set(st, JOIN_PENDING, "", NULL);
    }
    return rc;
}

enum ntm_err
ntm_client_join_requests(struct ntm_store *st, const struct ntm_key *key,
                         const struct ntm_client_opts *o, const char *nonce,
                         json_t **requests, struct ntm_error *err)
{
    struct Ntm_session s;
    char path[64];
    json_t *v = NULL;
    *requests = NULL;
    if (nonce && (strlen(nonce) != 16 || !ntm_is_lower_hex(nonce, 16)))
        return ntm_error_set(err, NTM_EINVAL, "a code nonce is 16 hex digits");
    snprintf(path, sizeof path, "/v1/join%s%s", nonce ? "?nonce=" : "",
             nonce ? nonce : "");
    enum ntm_err rc = Ntm_session_open(&s, st, key, o, err);
    if (rc != NTM_OK)
        return rc;
    rc = call(&s, "GET", path, NULL, &v, err);
    Ntm_session_close(&s);
    if (rc == NTM_OK) {
        *requests = json_incref(json_object_get(v, "requests"));
        if (!json_is_array(*requests)) {
            json_decref(*requests);
            *requests = NULL;
            rc = ntm_error_set(err, NTM_EPROTO, "/v1/join lacks \"requests\"");
        }
    }
    json_decref(v);
    return rc;
}

enum ntm_err
ntm_client_forks(struct ntm_store *st, const struct ntm_key *key,
                 const struct ntm_client_opts *o, json_t **forks,
                 struct ntm_error *err)
{
    struct Ntm_session s;
    json_t *v = NULL;
    *forks = NULL;
    enum ntm_err rc = Ntm_session_open(&s, st, key, o, err);
    if (rc != NTM_OK)
        return rc;
    rc = call(&s, "GET", "/v1/forks", NULL, &v, err);
    Ntm_session_close(&s);
    if (rc == NTM_OK) {
        *forks = json_incref(json_object_get(v, "forks"));
        if (!json_is_array(*forks)) {
            json_decref(*forks);
            *forks = NULL;
            rc = ntm_error_set(err, NTM_EPROTO, "/v1/forks lacks \"forks\"");
        }
    }
    json_decref(v);
    return rc;
}

enum ntm_err
Ntm_report_stranded(struct Ntm_session *s, const char *me, int64_t *shown,
                    struct ntm_error *err)
{
    json_t *list = NULL, *x;
    size_t i;
    struct ntm_buf body = NTM_BUF_INIT;
    *shown = 0;
    enum ntm_err rc = ntm_store_stranded_unreported(s->st, me, &list, err);
    if (rc != NTM_OK || json_array_size(list) == 0) {
        json_decref(list);
        return rc;
    }
    json_array_foreach (list, i, x) {
        const char *e = json_string_value(json_object_get(x, "entry"));
        if (Ntm_line_add(&body, -1, e, strlen(e),
                         json_string_value(json_object_get(x, "sig"))) !=
            NTM_OK) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
    }
    /* The server refuses each of them (fork, or gap past the first) and
     * keeps the refused ones at seqs it holds as evidence: the answer's
     * verdicts are expected and not this device's concern. */
    json_t *v = NULL;
    if ((rc = call(s, "POST", "/v1/entries", body.buf, &v, err)) != NTM_OK)
        goto out;
    json_decref(v);
    int64_t now = ntm_now_ms();
    json_array_foreach (list, i, x) {
        if ((rc = ntm_store_stranded_mark_reported(
                 s->st, json_string_value(json_object_get(x, "id")), now,
                 err)) != NTM_OK)
            goto out;
        (*shown)++;
    }
out:
    ntm_buf_release(&body);
    json_decref(list);
    return rc;
}
