/* SPDX-License-Identifier: MIT */
/*
 * text.c - Unicode text for Vietnamese users, in one place for the store,
 * the plan and the tool: NFC normalisation (so that the same word typed on
 * two phones is the same string), folding for search and near-miss
 * suggestions (case and diacritics ignored: "tay ninh" finds "Tây Ninh"),
 * display width for aligned terminal tables, and edit distance.
 *
 * Depends on util/ and utf8proc; must not call any other ntm module.
 */
#include "ntm_text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

char *
ntm_text_nfc(const char *s)
{
    if (!s)
        return NULL;
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)s, 0, &out,
                     UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0)
        return NULL;
    char *r = ntm_strndup((const char *)out, (size_t)n);
    free(out); /* utf8proc's allocator */
    return r;
}

/* The folded bytes of one character run out of utf8proc, into b: the d
 * with stroke, which has no decomposition, folded by hand. */
static enum ntm_err
put_folded(struct ntm_buf *b, const unsigned char *out, size_t n)
{
    enum ntm_err rc = NTM_OK;
    for (size_t i = 0; rc == NTM_OK && i < n; i++) {
        if (out[i] == 0xc4 && i + 1 < n &&
            (out[i + 1] == 0x91 || out[i + 1] == 0x90)) {
            rc = ntm_buf_addch(b, 'd');
            i++;
        } else {
            rc = ntm_buf_addch(b, (char)out[i]);
        }
    }
    return rc;
}

/* s decomposed (with extra flags), marks stripped, case folded, and the
 * d with stroke folded by hand. Characters map one by one (no composition;
 * canonical reordering only moves marks among marks), so ASCII, which
 * folds to itself but A-Z, is folded here, and utf8proc sees each run of
 * other characters alone: the same text as utf8proc over the whole, in
 * a fraction of the work (records' search texts are mostly ASCII).
 * tests/test_util.c compares the two. NULL when s is not valid UTF-8. */
static char *
fold(const char *s, utf8proc_option_t extra)
{
    if (!s)
        return NULL;
    utf8proc_option_t opt =
        (utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                            UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD | extra);
    const unsigned char *p = (const unsigned char *)s;
    struct ntm_buf b = NTM_BUF_INIT;
    enum ntm_err rc = ntm_buf_grow(&b, strlen(s));
    while (rc == NTM_OK && *p) {
        if (*p < 0x80) {
            const unsigned char *q = p;
            while (*q && *q < 0x80)
                q++;
            if ((rc = ntm_buf_grow(&b, (size_t)(q - p))) != NTM_OK)
                break;
            for (; p < q; p++)
                b.buf[b.len++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
            b.buf[b.len] = '\0';
            continue;
        }
        const unsigned char *q = p;
        while (*q >= 0x80)
            q++;
        /* The run decomposed into a buffer on the stack when it fits,
         * then written as UTF-8 in place: what utf8proc_map does. */
        utf8proc_int32_t cps[128];
        utf8proc_ssize_t n =
            utf8proc_decompose(p, q - p, cps, sizeof(cps) / sizeof(*cps), opt);
        if (n >= 0 && (size_t)n <= sizeof(cps) / sizeof(*cps)) {
            n = utf8proc_reencode(cps, n, opt);
            if (n >= 0)
                rc = put_folded(&b, (const unsigned char *)cps, (size_t)n);
        } else if (n >= 0) {
            utf8proc_uint8_t *out = NULL;
            n = utf8proc_map(p, q - p, &out, opt);
            if (n >= 0)
                rc = put_folded(&b, out, (size_t)n);
            free(out); /* utf8proc's allocator */
        }
        if (n < 0) { /* not UTF-8 */
            ntm_buf_release(&b);
            return NULL;
        }
        p = q;
    }
    if (rc != NTM_OK) { /* out of memory: never a shortened string */
        ntm_buf_release(&b);
        return NULL;
    }
    return ntm_buf_detach(&b, NULL);
}

char *
ntm_text_fold(const char *s)
{
    return fold(s, 0);
}

char *
ntm_text_fold_compat(const char *s)
{
    return fold(s, UTF8PROC_COMPAT);
}

/* Whether cp is part of a word (ntm_text_words). */
static int
word_char(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_CO:
        return 1;
    default:
        return 0;
    }
}

char **
ntm_text_words(const char *s, size_t *n)
{
    *n = 0;
    char *f = ntm_text_fold(s);
    if (!f)
        return NULL;
    /* Two passes over the folded text: count, then copy. */
    size_t len = strlen(f), count = 0;
    char **words = NULL;
    for (int pass = 0; pass < 2; pass++) {
        char *out = words ? (char *)(words + count + 1) : NULL;
        size_t k = 0;
        int in = 0;
        const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)f;
        while (*p) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t m = utf8proc_iterate(p, -1, &cp);
            if (m <= 0) { /* not reached: fold gave valid UTF-8 */
                m = 1;
                cp = -1;
            }
            int w = cp >= 0 && word_char(cp);
            if (w && !in) {
                if (out)
                    words[k] = out;
                k++;
            } else if (!w && in && out) {
                *out++ = '\0';
            }
            if (w && out) {
                memcpy(out, p, (size_t)m);
                out += m;
            }
            in = w;
            p += m;
        }
        if (out) {
            if (in)
                *out = '\0';
            break;
        }
        count = k;
        /* the pointers, then at most len bytes and a NUL per word */
        words = ntm_malloc((count + 1) * sizeof(char *) + len + count + 1);
        if (!words) {
            ntm_free(f);
            return NULL;
        }
        words[count] = NULL;
    }
    ntm_free(f);
    *n = count;
    return words;
}

size_t
ntm_text_width(const char *s)
{
    size_t w = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (p && *p) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);
        if (n <= 0) { /* not UTF-8: one column for the byte */
            w++;
            p++;
            continue;
        }
        int cw = utf8proc_charwidth(cp);
        w += cw > 0 ? (size_t)cw : 0;
        p += n;
    }
    return w;
}

size_t
ntm_text_char_len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    if (!c)
        return 0;
    size_t n = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    for (size_t i = 1; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            return 1;
    return n;
}

int
ntm_text_distance(const char *a, const char *b, int cap)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    int *row, best, d;

    if (la > 256 || lb > 256)
        return cap + 1;
    if ((int)(la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    row = ntm_malloc((lb + 1) * sizeof(*row));
    if (!row)
        return cap + 1;
    for (j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        best = row[0];
        for (j = 1; j <= lb; j++) {
            int up = row[j];
            d = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < d)
                d = up + 1;
            if (row[j - 1] + 1 < d)
                d = row[j - 1] + 1;
            row[j] = d;
            diag = up;
            if (d < best)
                best = d;
        }
        if (best > cap) {
            ntm_free(row);
            return cap + 1;
        }
    }
    d = row[lb];
    ntm_free(row);
    return d > cap ? cap + 1 : d;
}

int
ntm_text_hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}
