/* SPDX-License-Identifier: MIT */
/*
 * joincode.c - the one-time join code an admin hands a new device (ntm
 * admin join-code), read back by `ntm init --join` and `ntm admin enroll
 * --join` (docs/contract.md, "Join codes"). The code is
 *
 *     ntmjoin1.<base64url(payload)>.<base64url(signature)>
 *
 * where payload is a small JSON object (server URL, server TLS pin, root
 * key, intended role, scope, organization and name, expiry, a random
 * nonce, and the signer's author id when it is not the root) and the
 * signature is the admin's Ed25519 signature of "ntm-join-v1\n" followed
 * by the payload bytes. Only the public crypto API is used: no new crypto
 * here, and nothing of the terminal QR code (cmd_admin.c prints that).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define JOIN_PREFIX  "ntmjoin1."
#define JOIN_CONTEXT "ntm-join-v1\n"
#define JOIN_MAX     4096

/* base64url without padding of in[0..n) appended to b. */
static void
b64url_add(struct ntm_buf *b, const unsigned char *in, size_t n)
{
    size_t len = ntm_b64_encoded_len(n);
    char *t = ntm_malloc(len);
    if (!t)
        return;
    ntm_b64_encode(t, in, n);
    for (size_t i = 0; t[i]; i++) {
        if (t[i] == '+')
            t[i] = '-';
        else if (t[i] == '/')
            t[i] = '_';
        else if (t[i] == '=') {
            t[i] = '\0';
            break;
        }
    }
    ntm_buf_adds(b, t);
    ntm_free(t);
}

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

char *
cli_join_make(const struct ntm_key *key, const struct cli_join *j)
{
    char signer[NTM_HEX_ID_LEN + 1];
    unsigned char nonce[8];
    char nonce_hex[2 * sizeof(nonce) + 1];
    ntm_key_author(key, signer);
    ntm_random(nonce, sizeof(nonce));
    ntm_hex_encode(nonce_hex, nonce, sizeof(nonce));
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "v", 1,
                          "server", j->server, "pin", j->pin, "root", j->root,
                          "role", j->role, "scope", j->scope, "exp",
                          (json_int_t)j->expires, "nonce", nonce_hex);
    if (!o)
        return NULL;
    if (j->org)
        json_object_set_new(o, "org", json_string(j->org));
    if (j->name)
        json_object_set_new(o, "name", json_string(j->name));
    if (strcmp(signer, j->root) != 0)
        json_object_set_new(o, "signer", json_string(signer));
    char *payload = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!payload)
        return NULL;
    size_t plen = strlen(payload);
    struct ntm_buf msg = NTM_BUF_INIT, out = NTM_BUF_INIT;
    unsigned char sig[NTM_SIGNATURE_BYTES];
    ntm_buf_adds(&msg, JOIN_CONTEXT);
    ntm_buf_add(&msg, payload, plen);
    char *code = NULL;
    if (ntm_key_sign(key, sig, msg.buf, msg.len) == NTM_OK) {
        ntm_buf_adds(&out, JOIN_PREFIX);
        b64url_add(&out, (const unsigned char *)payload, plen);
        ntm_buf_adds(&out, ".");
        b64url_add(&out, sig, sizeof(sig));
        code = ntm_strdup(ntm_buf_str(&out));
    }
    ntm_buf_release(&msg);
    ntm_buf_release(&out);
    free(payload); /* jansson's allocator */
    return code;
}

static const char *
str_field(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

enum cli_join_status
cli_join_read(const char *code, int64_t now_ms, struct cli_join *out)
{
    memset(out, 0, sizeof(*out));
    /* Spaces and line breaks a message or a copy put in are ignored. */
    char clean[JOIN_MAX + 1];
    size_t n = 0;
    for (const char *p = code; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            continue;
        if (n == JOIN_MAX)
            return CLI_JOIN_BAD;
        clean[n++] = *p;
    }
    clean[n] = '\0';
    if (strncmp(clean, JOIN_PREFIX, strlen(JOIN_PREFIX)) != 0)
        return CLI_JOIN_BAD;
    const char *body = clean + strlen(JOIN_PREFIX);
    const char *dot = strchr(body, '.');
    if (!dot || strchr(dot + 1, '.'))
        return CLI_JOIN_BAD;
    unsigned char payload[JOIN_MAX], sig[NTM_SIGNATURE_BYTES + 3];
    size_t plen = 0, slen = 0;
    if (b64url_decode(body, (size_t)(dot - body), payload, sizeof(payload) - 1,
                      &plen) != 0 ||
        b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof(sig), &slen) != 0 ||
        slen != NTM_SIGNATURE_BYTES)
        return CLI_JOIN_BAD;
    payload[plen] = '\0';
    json_t *o =
        json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o) || json_integer_value(json_object_get(o, "v")) != 1)
        goto bad;
    out->server = str_field(o, "server");
    out->pin = str_field(o, "pin");
    out->root = str_field(o, "root");
    out->role = str_field(o, "role");
    out->scope = str_field(o, "scope");
    out->org = str_field(o, "org");
    out->name = str_field(o, "name");
    out->nonce = str_field(o, "nonce");
    out->signer = str_field(o, "signer");
    if (!out->signer)
        out->signer = out->root;
    json_t *exp = json_object_get(o, "exp");
    if (!out->server || !out->pin || !out->root || !out->role || !out->scope ||
        !out->nonce || !json_is_integer(exp) ||
        !ntm_is_lower_hex(out->root, NTM_HEX_ID_LEN) ||
        !ntm_is_lower_hex(out->signer, NTM_HEX_ID_LEN))
        goto bad;
    out->expires = json_integer_value(exp);
    unsigned char pk[NTM_PUBLICKEY_BYTES];
    struct ntm_buf msg = NTM_BUF_INIT;
    ntm_buf_adds(&msg, JOIN_CONTEXT);
    ntm_buf_add(&msg, payload, plen);
    int good =
        ntm_hex_decode(pk, sizeof(pk), out->signer, NTM_HEX_ID_LEN) == NTM_OK &&
        ntm_sign_verify(sig, msg.buf, msg.len, pk) == NTM_OK;
    ntm_buf_release(&msg);
    if (!good)
        goto bad;
    out->doc = o;
    return out->expires < now_ms ? CLI_JOIN_EXPIRED : CLI_JOIN_OK;
bad:
    json_decref(o);
    memset(out, 0, sizeof(*out));
    return CLI_JOIN_BAD;
}

void
cli_join_release(struct cli_join *j)
{
    if (j && j->doc)
        json_decref(j->doc);
    if (j)
        memset(j, 0, sizeof(*j));
}

void
cli_short_fingerprint(const char *hex, char out[40])
{
    size_t o = 0;
    for (size_t i = 0; i < 16 && hex[i]; i++) {
        if (i && i % 4 == 0)
            out[o++] = ' ';
        out[o++] = hex[i];
    }
    out[o] = '\0';
}
