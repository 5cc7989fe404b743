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
 * by the payload bytes. Reading and checking a code is the library's
 * (ntm_join_code_read, sync/join.c: the server checks codes too); this
 * file makes codes, and sends the device's join request at init or keeps
 * it for the next push or pull. Only the public API is used: no new
 * crypto here, and nothing of the terminal QR code (cmd_admin.c prints
 * that).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define JOIN_PREFIX  "ntmjoin1."
#define JOIN_CONTEXT "ntm-join-v1\n"

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
    json_t *o = NULL;
    char *clean = NULL;
    memset(out, 0, sizeof(*out));
    if (ntm_join_code_read(code, &o, &clean, NULL) != NTM_OK)
        return CLI_JOIN_BAD;
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
    out->expires = json_integer_value(json_object_get(o, "exp"));
    out->doc = o;
    out->text = clean;
    return out->expires < now_ms ? CLI_JOIN_EXPIRED : CLI_JOIN_OK;
}

void
cli_join_release(struct cli_join *j)
{
    if (j && j->doc)
        json_decref(j->doc);
    if (j)
        ntm_free(j->text);
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

int
cli_fingerprint_matches(const char *hex, const char *typed)
{
    size_t n = 0;
    for (const char *p = typed; *p; p++) {
        char c = *p;
        if (c == ' ' || c == '-' || c == '\t')
            continue;
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (n >= 16 || c != hex[n])
            return 0;
        n++;
    }
    return n == 16;
}

int
cli_join_ask(struct cli_ctx *ctx, struct ntm_store *st,
             const struct ntm_key *key, const struct cli_join *jc,
             const char *name)
{
    struct ntm_error err = {0};
    struct ntm_client_opts co;
    json_t *answer = NULL;
    char text[2 * NTM_ERROR_SIZE];
    memset(&co, 0, sizeof(co));
    co.max_attempts = 1;
    co.lang = ctx->lang;
    enum ntm_err rc =
        ntm_client_join_ask(st, key, &co, jc->text, name, &answer, &err);
    json_decref(answer);
    if (rc == NTM_OK) {
        cli_note(ctx, _("asked the server to enroll this device: the admin "
                        "who made the code confirms it with the "
                        "fingerprint below"));
        return 0;
    }
    if (err.http_status >= 400 && err.http_status < 500 &&
        rc != NTM_ECLOCKSKEW) {
        cli_warn(ctx,
                 _("the server refused the request to enroll this device "
                   "(%s): send the author id below to the admin instead"),
                 cli_error_text(&err, text, sizeof(text)));
        return -1;
    }
    ntm_error_clear(&err);
    if (ntm_client_join_pending_set(st, jc->text, name, &err) != NTM_OK) {
        cli_warn(ctx,
                 _("cannot keep the request to be enrolled (%s): send "
                   "the author id below to the admin instead"),
                 cli_error_text(&err, text, sizeof(text)));
        return -1;
    }
    cli_note(ctx, _("the server cannot be reached now: the request to enroll "
                    "this device is kept and sent by the next 'ntm sync' "
                    "(or push, or pull)"));
    return 1;
}

void
cli_join_resend(struct cli_ctx *ctx, struct ntm_client_opts *co)
{
    struct ntm_error err = {0};
    char text[2 * NTM_ERROR_SIZE];
    int state = 0;
    struct ntm_client_opts once = *co;
    once.max_attempts = 1; /* the push or pull after it retries */
    once.progress = NULL;
    enum ntm_err rc =
        ntm_client_join_resend(ctx->store, ctx->key, &once, &state, &err);
    if (state == 1)
        cli_note(ctx, _("sent the request to enroll this device: the admin "
                        "who made the join code confirms it with this "
                        "device's fingerprint"));
    else if (state == -1)
        cli_warn(ctx,
                 _("the server refused the request to enroll this device "
                   "(%s): send this device's author id ('ntm whoami') to "
                   "the admin instead"),
                 cli_error_text(&err, text, sizeof(text)));
    (void)rc; /* a request that could not be sent waits for the next run */
}
