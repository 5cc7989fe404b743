/* SPDX-License-Identifier: MIT */
/*
 * buf.c - struct ntm_buf, the one growable byte buffer of the library
 * (git's strbuf). Used for HTTP bodies, SQL, paths and JSON text instead of
 * snprintf into fixed arrays. Depends on alloc.c only.
 */
#include "ntm_util.h"

#include <stdio.h>
#include <string.h>

static char empty_string[1];

void
ntm_buf_init(struct ntm_buf *b)
{
    b->buf = NULL;
    b->len = 0;
    b->alloc = 0;
}

void
ntm_buf_release(struct ntm_buf *b)
{
    ntm_free(b->buf);
    ntm_buf_init(b);
}

enum ntm_err
ntm_buf_grow(struct ntm_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        return NTM_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return NTM_OK;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    char *p = ntm_realloc(b->buf, n);
    if (!p)
        return NTM_ENOMEM;
    if (!b->buf)
        p[0] = '\0';
    b->buf = p;
    b->alloc = n;
    return NTM_OK;
}

enum ntm_err
ntm_buf_add(struct ntm_buf *b, const void *data, size_t len)
{
    if (ntm_buf_grow(b, len) != NTM_OK)
        return NTM_ENOMEM;
    if (len)
        memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = '\0';
    return NTM_OK;
}

enum ntm_err
ntm_buf_adds(struct ntm_buf *b, const char *s)
{
    return ntm_buf_add(b, s, strlen(s));
}

enum ntm_err
ntm_buf_addch(struct ntm_buf *b, char c)
{
    return ntm_buf_add(b, &c, 1);
}

enum ntm_err
ntm_buf_add_html(struct ntm_buf *b, const char *s)
{
    enum ntm_err rc = NTM_OK;
    for (; s && *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            rc = ntm_buf_adds(b, "&amp;");
            break;
        case '<':
            rc = ntm_buf_adds(b, "&lt;");
            break;
        case '>':
            rc = ntm_buf_adds(b, "&gt;");
            break;
        case '"':
            rc = ntm_buf_adds(b, "&quot;");
            break;
        case '\'':
            rc = ntm_buf_adds(b, "&#39;");
            break;
        default:
            if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                rc = ntm_buf_addf(b, "\\x%02x", c);
            else
                rc = ntm_buf_addch(b, (char)c);
        }
    }
    return rc;
}

enum ntm_err
ntm_buf_vaddf(struct ntm_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    if (ntm_buf_grow(b, 64) != NTM_OK) {
        va_end(cp);
        return NTM_ENOMEM;
    }
    int n = vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, ap);
    if (n < 0) {
        va_end(cp);
        b->buf[b->len] = '\0';
        return NTM_EINVAL;
    }
    if ((size_t)n >= b->alloc - b->len) {
        if (ntm_buf_grow(b, (size_t)n) != NTM_OK) {
            va_end(cp);
            b->buf[b->len] = '\0';
            return NTM_ENOMEM;
        }
        vsnprintf(b->buf + b->len, b->alloc - b->len, fmt, cp);
    }
    va_end(cp);
    b->len += (size_t)n;
    return NTM_OK;
}

enum ntm_err
ntm_buf_addf(struct ntm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum ntm_err rc = ntm_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void
ntm_buf_reset(struct ntm_buf *b)
{
    b->len = 0;
    if (b->buf)
        b->buf[0] = '\0';
}

char *
ntm_buf_detach(struct ntm_buf *b, size_t *len)
{
    char *s = b->buf;
    if (len)
        *len = b->len;
    if (!s)
        s = ntm_strdup("");
    ntm_buf_init(b);
    return s;
}

const char *
ntm_buf_str(const struct ntm_buf *b)
{
    return b->buf ? b->buf : empty_string;
}
