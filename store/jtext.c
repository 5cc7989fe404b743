/* SPDX-License-Identifier: MIT */
/*
 * jtext.c - reading and merging the canonical JSON texts the store itself
 * writes (compact, object keys sorted: state.c's dump_json) without
 * building jansson values. The record state's fast path works on these
 * texts: its cost stays independent of a record's history, and it keeps
 * clear of jansson's paths for allocation failure (its object parser can
 * free a value twice then, as of 2.14).
 *
 * Every allocation goes through the library's allocator and is checked.
 *
 * Depends on util/.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
Ntm_jtext_skip(const char *p)
{
    int depth = 0;
    do {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && !*++p)
                    return NULL;
            if (!*p)
                return NULL;
            p++;
        } else if (*p == '{' || *p == '[') {
            depth++;
            p++;
        } else if (*p == '}' || *p == ']') {
            if (--depth < 0)
                return NULL;
            p++;
        } else if (*p == ',' || *p == ':') {
            if (depth == 0)
                return NULL;
            p++;
        } else if (*p) {
            while (*p && !strchr(",:{}[]\"", *p))
                p++;
        } else {
            return NULL;
        }
    } while (depth > 0);
    return p;
}

static int
put_utf8(struct ntm_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return ntm_buf_add(b, u, n) != NTM_OK;
}

char *
Ntm_jtext_string(const char *p, const char *end)
{
    if (end - p < 2 || *p != '"' || end[-1] != '"')
        return NULL;
    struct ntm_buf b = NTM_BUF_INIT;
    int bad = ntm_buf_grow(&b, (size_t)(end - p)) != NTM_OK;
    for (p++, end--; p < end && !bad; p++) {
        char c = *p;
        if (c == '\\') {
            if (++p >= end)
                goto invalid;
            unsigned cp;
            switch (*p) {
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u':
                if (end - p < 5 || !ntm_text_hex4(p + 1, &cp))
                    goto invalid;
                p += 4;
                if (cp >= 0xd800 && cp < 0xdc00) {
                    unsigned lo;
                    if (end - p < 7 || p[1] != '\\' || p[2] != 'u' ||
                        !ntm_text_hex4(p + 3, &lo) || lo < 0xdc00 ||
                        lo >= 0xe000)
                        goto invalid;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                } else if (cp >= 0xdc00 && cp < 0xe000) {
                    goto invalid;
                }
                bad = put_utf8(&b, cp);
                continue;
            default:
                c = *p;
            }
        }
        bad = ntm_buf_addch(&b, c) != NTM_OK;
    }
    if (bad)
        goto invalid;
    return ntm_buf_detach(&b, NULL);
invalid:
    ntm_buf_release(&b);
    return NULL;
}

int
Ntm_jtext_get(const char *obj, const char *key, const char **v,
              const char **vend)
{
    *v = *vend = NULL;
    if (!obj || *obj != '{')
        return 0;
    const char *p = obj + 1;
    while (*p && *p != '}') {
        const char *kend = *p == '"' ? Ntm_jtext_skip(p) : NULL;
        const char *e = kend && *kend == ':' ? Ntm_jtext_skip(kend + 1) : NULL;
        if (!e)
            return -1;
        char *k = Ntm_jtext_string(p, kend);
        if (!k)
            return -1;
        int hit = strcmp(k, key) == 0;
        ntm_free(k);
        if (hit) {
            *v = kend + 1;
            *vend = e;
            return 1;
        }
        p = *e == ',' ? e + 1 : e;
    }
    return 0;
}

enum ntm_err
Ntm_jtext_put_string(struct ntm_buf *b, const char *s, size_t n)
{
    enum ntm_err rc = ntm_buf_grow(b, n + 2);
    if (rc == NTM_OK)
        rc = ntm_buf_addch(b, '"');
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; rc == NTM_OK && i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)s[i] : 0;
        if (i < n && c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = ntm_buf_add(b, s + run, i - run);
        run = i + 1;
        if (rc != NTM_OK || i == n)
            break;
        switch (c) {
        case '"':
            rc = ntm_buf_adds(b, "\\\"");
            break;
        case '\\':
            rc = ntm_buf_adds(b, "\\\\");
            break;
        case '\b':
            rc = ntm_buf_adds(b, "\\b");
            break;
        case '\f':
            rc = ntm_buf_adds(b, "\\f");
            break;
        case '\n':
            rc = ntm_buf_adds(b, "\\n");
            break;
        case '\r':
            rc = ntm_buf_adds(b, "\\r");
            break;
        case '\t':
            rc = ntm_buf_adds(b, "\\t");
            break;
        default:
            rc = ntm_buf_addf(b, "\\u%04X", c);
        }
    }
    return rc == NTM_OK ? ntm_buf_addch(b, '"') : rc;
}

struct member {
    char *key; /* owned */
    const char *v, *vend;
};

static int
by_key(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->key,
                  ((const struct member *)b)->key);
}

char *
Ntm_jtext_merge(const char *obj, const char *const *keys,
                const char *const *vals, size_t n)
{
    if (!obj || *obj != '{')
        return NULL;
    /* Members of obj, then the new ones: counted first, allocated once. */
    size_t cap = n, cnt = 0;
    const char *p = obj + 1;
    while (*p && *p != '}') {
        const char *e = Ntm_jtext_skip(p);
        e = e && *e == ':' ? Ntm_jtext_skip(e + 1) : NULL;
        if (!e)
            return NULL;
        cap++;
        p = *e == ',' ? e + 1 : e;
    }
    struct member *m = ntm_calloc(cap + 1, sizeof(*m));
    char *out = NULL;
    if (!m)
        return NULL;
    for (p = obj + 1; *p && *p != '}';) {
        const char *kend = Ntm_jtext_skip(p);
        const char *e = Ntm_jtext_skip(kend + 1);
        if (!(m[cnt].key = Ntm_jtext_string(p, kend)))
            goto out;
        m[cnt].v = kend + 1;
        m[cnt].vend = e;
        cnt++;
        p = *e == ',' ? e + 1 : e;
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < cnt && strcmp(m[j].key, keys[i]) != 0)
            j++;
        if (j == cnt) {
            if (!(m[cnt].key = ntm_strdup(keys[i])))
                goto out;
            cnt++;
        }
        m[j].v = vals[i];
        m[j].vend = vals[i] + strlen(vals[i]);
    }
    qsort(m, cnt, sizeof(*m), by_key);
    struct ntm_buf b = NTM_BUF_INIT;
    int bad = ntm_buf_addch(&b, '{') != NTM_OK;
    for (size_t i = 0; i < cnt && !bad; i++) {
        if (i)
            bad = ntm_buf_addch(&b, ',') != NTM_OK;
        bad = bad || Ntm_jtext_put_string(&b, m[i].key, strlen(m[i].key)) ||
              ntm_buf_addch(&b, ':') ||
              ntm_buf_add(&b, m[i].v, (size_t)(m[i].vend - m[i].v));
    }
    bad = bad || ntm_buf_addch(&b, '}');
    if (bad)
        ntm_buf_release(&b);
    else
        out = ntm_buf_detach(&b, NULL);
out:
    for (size_t i = 0; i < cnt; i++)
        ntm_free(m[i].key);
    ntm_free(m);
    return out;
}
