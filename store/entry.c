/* SPDX-License-Identifier: MIT */
/*
 * entry.c - step 1 of SPEC.md section 2: is a byte string a well-formed
 * entry? Parses B exactly as received (never re-serialised) and checks
 * size, nesting depth, UTF-8, duplicate keys, integers only, and the eight
 * members with their types. Also the total order of entries, and the id a
 * record.create is bound to.
 *
 * The depth is checked on the raw bytes before jansson sees them, so a
 * hostile "[[[[..." cannot make the parser recurse deeply. A quick reader
 * (below) builds jansson's value itself from the texts it takes, and hands
 * any other text to jansson.
 *
 * Depends on util/, crypto/ (hashing, hex checks) and jansson.
 */
#include "store_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 */

/*
 * One pass over the raw bytes, before any parser sees them: the nesting
 * depth (so "[[[[..." cannot make jansson recurse), white space outside
 * strings (SPEC.md 2: B is compact JSON; a reader verifies the exact
 * bytes, so it refuses them rather than re-serialise), and "-0", which some
 * JSON readers take for the float -0.0 and others for the integer 0 (a
 * parser differential in a signed field). Returns NULL when all are fine,
 * else the reason.
 */
static const char *
scan_raw(const char *p, size_t len, int max)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"')
            in_str = 1;
        else if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            return "entry holds white space outside strings: SPEC.md 2 "
                   "wants compact JSON";
        else if (c == '{' || c == '[') {
            if (++depth > max)
                return "entry nests deeper than 16 levels";
        } else if (c == '}' || c == ']')
            depth--;
        else if (c == '-' && i + 1 < len && p[i + 1] == '0' &&
                 (i + 2 == len ||
                  (p[i + 2] != '.' && p[i + 2] != 'e' && p[i + 2] != 'E')))
            return "entry holds -0: write 0";
    }
    return NULL;
}

/* Copy a parser's message, keeping ASCII only: jansson quotes the input
 * near the error and may cut a UTF-8 sequence in two, and a message that
 * is not valid UTF-8 cannot go into a JSON answer. */
static void
copy_ascii(char *dst, size_t n, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src[i] && j + 1 < n; i++)
        dst[j++] = (unsigned char)src[i] < 0x80 ? src[i] : '?';
    dst[j] = '\0';
}

/* Integers only, each within +-(2^53 - 1). */
static int
numbers_ok(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_REAL:
        return 0;
    case JSON_INTEGER: {
        json_int_t n = json_integer_value(v);
        return n <= MAX_SAFE_INT && n >= -MAX_SAFE_INT;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        json_object_foreach (v, k, x)
            if (!numbers_ok(x))
                return 0;
        return 1;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x)
            if (!numbers_ok(x))
                return 0;
        return 1;
    }
    default:
        return 1;
    }
}

static enum ntm_err
bad(char *msg, size_t msglen, const char *why)
{
    snprintf(msg, msglen, "%s", why);
    return NTM_EBADENTRY;
}

static const char *
hex_member(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_string(v) || json_string_length(v) != NTM_HEX_ID_LEN ||
        !ntm_is_lower_hex(json_string_value(v), NTM_HEX_ID_LEN))
        return NULL;
    return json_string_value(v);
}

/* ------------------------------------------------------------------ */
/*
 * The quick reader of entry texts: one JSON object of objects, arrays,
 * strings, integers, true, false and null, compact (no white space), as
 * every ntm writer signs them. It builds the same jansson value that
 * json_loadb(JSON_REJECT_DUPLICATES) builds from such a text (members in
 * the same order) in a fraction of the instructions: jansson reads a byte
 * at a time through a stream and copies each into a growing buffer.
 *
 * It never judges a text: whatever it does not take as it comes (a real
 * number, an integer past 15 digits, a duplicate key, \u0000, a byte
 * outside the grammar or not valid UTF-8, white space, memory running out)
 * it hands back, and jansson reads it, whose verdict and message stand. So
 * it takes only texts jansson takes, and builds from them what jansson
 * builds (tests/test_store.c compares the two on altered entries). It uses
 * jansson's constructors, so jansson's allocator.
 */

#define JP_MAX_DEPTH 64 /* entry.c refuses more than 16 levels before */

struct jp {
    const char *p, *end;
    int depth;
};

static json_t *jp_value(struct jp *j);

/* Length of the valid UTF-8 sequence (2 to 4 bytes) at p, 0 when it is
 * not one: overlong forms, surrogates and code points past U+10FFFF are
 * not (RFC 3629, as jansson's utf.c). */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (p[k] < 0x80 || p[k] > 0xbf)
            return 0;
    return n;
}

/* The string at j->p (after its opening quote), decoded into buf (cap
 * bytes) or, when it holds no escape, pointed to in place: *s, *n. 0 when
 * not taken. */
static int
jp_string(struct jp *j, char *buf, size_t cap, const char **s, size_t *n)
{
    const unsigned char *p = (const unsigned char *)j->p;
    const unsigned char *end = (const unsigned char *)j->end;
    const unsigned char *start = p;
    /* Plain run first: the usual string has no escape. */
    while (p < end && *p != '"' && *p != '\\') {
        if (*p < 0x20)
            return 0;
        if (*p < 0x80) {
            p++;
        } else {
            size_t k = utf8_len(p, end);
            if (!k)
                return 0;
            p += k;
        }
    }
    if (p >= end)
        return 0;
    if (*p == '"') {
        *s = (const char *)start;
        *n = (size_t)(p - start);
        j->p = (const char *)p + 1;
        return 1;
    }
    /* Escapes: decode into buf. */
    size_t o = (size_t)(p - start);
    if (o > cap)
        return 0;
    memcpy(buf, start, o);
    while (p < end && *p != '"') {
        if (o + 4 > cap)
            return 0;
        if (*p == '\\') {
            if (end - p < 2)
                return 0;
            unsigned cp;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
                buf[o++] = (char)p[1];
                p += 2;
                continue;
            case 'b':
                buf[o++] = '\b';
                p += 2;
                continue;
            case 'f':
                buf[o++] = '\f';
                p += 2;
                continue;
            case 'n':
                buf[o++] = '\n';
                p += 2;
                continue;
            case 'r':
                buf[o++] = '\r';
                p += 2;
                continue;
            case 't':
                buf[o++] = '\t';
                p += 2;
                continue;
            case 'u':
                if (end - p < 6 || !ntm_text_hex4((const char *)p + 2, &cp))
                    return 0;
                p += 6;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return 0; /* a low surrogate first */
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                        !ntm_text_hex4((const char *)p + 2, &lo) ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return 0;
                    p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0)
                    return 0; /* jansson refuses \u0000 */
                if (cp < 0x80) {
                    buf[o++] = (char)cp;
                } else if (cp < 0x800) {
                    buf[o++] = (char)(0xc0 | cp >> 6);
                    buf[o++] = (char)(0x80 | (cp & 0x3f));
                } else if (cp < 0x10000) {
                    buf[o++] = (char)(0xe0 | cp >> 12);
                    buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    buf[o++] = (char)(0x80 | (cp & 0x3f));
                } else {
                    buf[o++] = (char)(0xf0 | cp >> 18);
                    buf[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                    buf[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    buf[o++] = (char)(0x80 | (cp & 0x3f));
                }
                continue;
            default:
                return 0;
            }
        }
        if (*p < 0x20)
            return 0;
        if (*p < 0x80) {
            buf[o++] = (char)*p++;
        } else {
            size_t k = utf8_len(p, end);
            if (!k)
                return 0;
            memcpy(buf + o, p, k);
            o += k;
            p += k;
        }
    }
    if (p >= end)
        return 0;
    *s = buf;
    *n = o;
    j->p = (const char *)p + 1;
    return 1;
}

static json_t *
jp_object(struct jp *j)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return o;
    }
    char buf[256];
    for (;;) {
        const char *k;
        size_t kn;
        if (j->p >= j->end || *j->p != '"')
            goto fail;
        j->p++;
        if (!jp_string(j, buf, sizeof(buf), &k, &kn))
            goto fail;
        if (j->p >= j->end || *j->p != ':')
            goto fail;
        j->p++;
        /* k points into the text or into this frame's buf, which no
         * value below it uses. */
        json_t *v = jp_value(j);
        if (!v)
            goto fail;
        /* A duplicate key replaces a member instead of adding one:
         * jansson says then. */
        size_t had = json_object_size(o);
        if (json_object_setn_new_nocheck(o, k, kn, v) ||
            json_object_size(o) == had)
            goto fail; /* v is freed, or o holds it */
        if (j->p >= j->end)
            goto fail;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == '}') {
            j->p++;
            return o;
        }
        goto fail;
    }
fail:
    json_decref(o);
    return NULL;
}

static json_t *
jp_array(struct jp *j)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return a;
    }
    for (;;) {
        json_t *v = jp_value(j);
        if (!v || json_array_append_new(a, v))
            goto fail;
        if (j->p >= j->end)
            goto fail;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == ']') {
            j->p++;
            return a;
        }
        goto fail;
    }
fail:
    json_decref(a);
    return NULL;
}

static json_t *
jp_integer(struct jp *j)
{
    const char *p = j->p;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    const char *digits = p;
    json_int_t v = 0;
    /* past 15 digits jansson decides: v stops growing there (no
     * overflow), the digits are still counted */
    while (p < j->end && *p >= '0' && *p <= '9') {
        if (p - digits < 16)
            v = v * 10 + (*p - '0');
        p++;
    }
    size_t n = (size_t)(p - digits);
    /* No digit, a leading zero, past 15 digits, or a fraction or exponent
     * next: jansson says. */
    if (n == 0 || n > 15 || (n > 1 && *digits == '0'))
        return NULL;
    if (p < j->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return NULL;
    j->p = p;
    return json_integer(neg ? -v : v);
}

static json_t *
jp_literal(struct jp *j, const char *word, size_t n, json_t *v)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return NULL;
    j->p += n;
    return v;
}

static json_t *
jp_value(struct jp *j)
{
    if (j->p >= j->end)
        return NULL;
    char c = *j->p;
    json_t *v = NULL;
    switch (c) {
    case '{':
    case '[':
        if (++j->depth > JP_MAX_DEPTH)
            return NULL;
        j->p++;
        v = c == '{' ? jp_object(j) : jp_array(j);
        j->depth--;
        return v;
    case '"': {
        char buf[2048];
        const char *s;
        size_t n;
        j->p++;
        if (!jp_string(j, buf, sizeof(buf), &s, &n))
            return NULL;
        return json_stringn_nocheck(s, n);
    }
    case 't':
        return jp_literal(j, "true", 4, json_true());
    case 'f':
        return jp_literal(j, "false", 5, json_false());
    case 'n':
        return jp_literal(j, "null", 4, json_null());
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return jp_integer(j);
        return NULL;
    }
}

json_t *
Ntm_jparse_object(const char *text, size_t len)
{
    struct jp j = {text, text + len, 0};
    if (len == 0 || *text != '{')
        return NULL;
    json_t *v = jp_value(&j);
    if (v && j.p != j.end) {
        json_decref(v);
        return NULL;
    }
    return v;
}

/* One attempt; *parsed: 0 when refused before jansson saw the bytes, -1
 * when jansson said it ran out of memory, 1 otherwise. */
static enum ntm_err
parse_once(struct Ntm_entry *e, const char *bytes, size_t len, char *msg,
           size_t msglen, int *parsed)
{
    *parsed = 0;
    memset(e, 0, sizeof(*e));
    e->seq = -1;
    if (len > NTM_MAX_ENTRY_BYTES)
        return bad(msg, msglen, "entry is larger than 65536 bytes");
    if (len == 0)
        return bad(msg, msglen, "entry is empty");
    const char *why = scan_raw(bytes, len, NTM_MAX_JSON_DEPTH);
    if (why)
        return bad(msg, msglen, why);
    if (memchr(bytes, '\0', len))
        return bad(msg, msglen, "entry contains a NUL byte");
    json_error_t je;
    /* The quick reader builds what jansson would from the texts it takes
     * (integers within 15 digits among them); jansson reads, and judges,
     * the others. */
    int quick = 1;
    e->json = Ntm_jparse_object(bytes, len);
    if (!e->json) {
        quick = 0;
        e->json = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &je);
    }
    if (!e->json) {
        *parsed = json_error_code(&je) == json_error_out_of_memory ? -1 : 1;
        char text[sizeof(je.text)];
        copy_ascii(text, sizeof(text), je.text);
        snprintf(msg, msglen, "entry is not valid JSON: %s", text);
        return NTM_EBADENTRY;
    }
    *parsed = 1;
    e->bytes = bytes;
    e->len = len;
    if (!json_is_object(e->json))
        return bad(msg, msglen, "entry is not a JSON object");
    if (!quick && !numbers_ok(e->json))
        return bad(msg, msglen,
                   "entry holds a non-integer or out-of-range number");
    if (json_object_size(e->json) != 8)
        return bad(msg, msglen,
                   "entry must have exactly the members v, author, seq, "
                   "prev, ts, lc, op, body");
    json_t *v = json_object_get(e->json, "v");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return bad(msg, msglen, "entry version 'v' must be 1");
    e->author = hex_member(e->json, "author");
    if (!e->author)
        return bad(msg, msglen, "'author' must be 64 lowercase hex characters");
    json_t *seq = json_object_get(e->json, "seq");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1)
        return bad(msg, msglen, "'seq' must be an integer >= 1");
    e->seq = json_integer_value(seq);
    json_t *prev = json_object_get(e->json, "prev");
    if (e->seq == 1) {
        if (!json_is_null(prev))
            return bad(msg, msglen, "'prev' must be null when seq is 1");
        e->prev = NULL;
    } else {
        e->prev = hex_member(e->json, "prev");
        if (!e->prev)
            return bad(msg, msglen,
                       "'prev' must be the 64-hex id of the previous entry");
    }
    json_t *ts = json_object_get(e->json, "ts");
    if (!json_is_integer(ts) || json_integer_value(ts) < 0)
        return bad(msg, msglen, "'ts' must be an integer >= 0");
    e->ts = json_integer_value(ts);
    json_t *lc = json_object_get(e->json, "lc");
    if (!json_is_integer(lc) || json_integer_value(lc) < 0 ||
        json_integer_value(lc) > 65535)
        return bad(msg, msglen, "'lc' must be an integer in 0..65535");
    e->lc = json_integer_value(lc);
    json_t *op = json_object_get(e->json, "op");
    if (!json_is_string(op) || json_string_length(op) == 0 ||
        json_string_length(op) > 64)
        return bad(msg, msglen, "'op' must be a non-empty string");
    e->op = json_string_value(op);
    e->body = json_object_get(e->json, "body");
    if (!json_is_object(e->body))
        return bad(msg, msglen, "'body' must be an object");
    if (strncmp(e->op, "record.", 7) == 0 || strcmp(e->op, "review") == 0) {
        json_t *id = json_object_get(e->body, "id");
        if (json_is_string(id) && json_string_length(id) == NTM_RECORD_ID_LEN &&
            ntm_is_lower_hex(json_string_value(id), NTM_RECORD_ID_LEN))
            e->record = json_string_value(id);
    }
    if (e->record && strcmp(e->op, "record.create") == 0)
        ntm_record_id(e->bound, e->author, e->seq);
    ntm_hash_hex(e->id, bytes, len);
    return NTM_OK;
}

enum ntm_err
Ntm_entry_parse(struct Ntm_entry *e, const char *bytes, size_t len, char *msg,
                size_t msglen)
{
    int parsed;
    enum ntm_err rc = parse_once(e, bytes, len, msg, msglen, &parsed);
    if (rc == NTM_OK || parsed == 0)
        return rc;
    /*
     * A refusal is final for the sender, so it must not come from a lack
     * of memory. jansson does not always say when it ran out: a token
     * buffer that cannot grow drops characters silently (lex_save ignores
     * strbuffer_append_byte's result, as of 2.14), so a 64-hex author can
     * come out 63 characters long. Parse again, and when that fails the
     * same way, probe jansson's allocator before believing it.
     */
    Ntm_entry_release(e);
    if (parsed > 0)
        rc = parse_once(e, bytes, len, msg, msglen, &parsed);
    if (rc == NTM_OK)
        return rc;
    json_t *probe = parsed < 0 ? NULL : json_object();
    if (!probe) {
        snprintf(msg, msglen, "out of memory");
        return NTM_ENOMEM;
    }
    json_decref(probe);
    return rc;
}

void
Ntm_entry_release(struct Ntm_entry *e)
{
    if (e->json)
        json_decref(e->json);
    e->json = NULL;
    e->body = NULL;
}

int
Ntm_order_cmp(int64_t ts1, int64_t lc1, const char *a1, int64_t s1, int64_t ts2,
              int64_t lc2, const char *a2, int64_t s2)
{
    if (ts1 != ts2)
        return ts1 < ts2 ? -1 : 1;
    if (lc1 != lc2)
        return lc1 < lc2 ? -1 : 1;
    int c = strcmp(a1, a2);
    if (c)
        return c < 0 ? -1 : 1;
    if (s1 != s2)
        return s1 < s2 ? -1 : 1;
    return 0;
}

/* A record.create's id is bound to its author and seq (SPEC 3). */
void
ntm_record_id(char out[NTM_RECORD_ID_LEN + 1], const char *author, int64_t seq)
{
    /* "<author>:<seq>", as snprintf("%s:%lld") writes it */
    char text[NTM_HEX_ID_LEN + 32], hex[NTM_HEX_ID_LEN + 1], digits[24];
    size_t n = 0, a = author ? strlen(author) : 0, k = 0;
    if (a > NTM_HEX_ID_LEN)
        a = NTM_HEX_ID_LEN; /* ids are 64 hex; longer is none of them */
    memcpy(text, author ? author : "", a);
    n = a;
    text[n++] = ':';
    uint64_t v = seq < 0 ? 0 - (uint64_t)seq : (uint64_t)seq;
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (seq < 0)
        text[n++] = '-';
    while (k)
        text[n++] = digits[--k];
    ntm_hash_hex(hex, text, n);
    memcpy(out, hex, NTM_RECORD_ID_LEN);
    out[NTM_RECORD_ID_LEN] = '\0';
}
