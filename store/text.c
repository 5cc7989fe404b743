/* SPDX-License-Identifier: MIT */
/*
 * text.c - Unicode text for Vietnamese users: NFC normalisation (so the
 * same word typed on two phones is the same string), search folding
 * (case and diacritics ignored: "tay ninh" finds "Tây Ninh"), and display
 * width for aligned terminal tables.
 *
 * Depends on util/ and utf8proc.
 */
#include "store_int.h"

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

char *
ntm_text_fold(const char *s)
{
    if (!s)
        return NULL;
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)s, 0, &out,
                     UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                         UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    if (n < 0)
        return NULL;
    /* The d with stroke has no decomposition: fold it by hand. */
    struct ntm_buf b = NTM_BUF_INIT;
    enum ntm_err rc = ntm_buf_grow(&b, (size_t)n);
    for (utf8proc_ssize_t i = 0; rc == NTM_OK && i < n; i++) {
        if (out[i] == 0xc4 && i + 1 < n &&
            (out[i + 1] == 0x91 || out[i + 1] == 0x90)) {
            rc = ntm_buf_addch(&b, 'd');
            i++;
        } else {
            rc = ntm_buf_addch(&b, (char)out[i]);
        }
    }
    free(out);
    if (rc != NTM_OK) { /* out of memory: never a shortened string */
        ntm_buf_release(&b);
        return NULL;
    }
    return ntm_buf_detach(&b, NULL);
}

size_t
ntm_text_width(const char *s)
{
    size_t w = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (p && *p) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);
        if (n <= 0) {
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
