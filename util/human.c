/* SPDX-License-Identifier: MIT */
/*
 * human.c - the human forms of dates and numbers, once for the tool's
 * tables and the library's printed reports: in Vietnamese a date reads
 * dd/mm/yyyy and a number 1.234,5 (digits grouped by '.', decimal ',');
 * in English both keep their ISO and plain forms. Machine output (JSON,
 * CSV) never goes through here.
 *
 * Depends on libc only.
 */
#include "ntm_text.h"

#include <stdio.h>
#include <string.h>

static int
vi(const char *lang)
{
    return lang && !strcmp(lang, "vi");
}

static void
copy_str(const char *s, char *out, size_t size)
{
    if (size == 0)
        return;
    snprintf(out, size, "%s", s ? s : "");
}

static int
is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

void
ntm_human_date(const char *lang, const char *iso, char *out, size_t size)
{
    if (!vi(lang) || !iso || strlen(iso) < 10 || iso[4] != '-' ||
        iso[7] != '-' || !is_digits(iso, 4) || !is_digits(iso + 5, 2) ||
        !is_digits(iso + 8, 2) || (iso[10] && iso[10] != ' ')) {
        copy_str(iso, out, size);
        return;
    }
    if (size)
        snprintf(out, size, "%.2s/%.2s/%.4s%s", iso + 8, iso + 5, iso,
                 iso + 10);
}

/* Append the nd digits at d to out[*o], grouped by '.' in threes; out
 * has room for size bytes with the terminating NUL. */
static void
put_grouped(const char *d, size_t nd, char *out, size_t size, size_t *o)
{
    for (size_t k = 0; k < nd && *o + 1 < size; k++) {
        if (k && (nd - k) % 3 == 0) {
            out[(*o)++] = '.';
            if (*o + 1 >= size)
                break;
        }
        out[(*o)++] = d[k];
    }
}

void
ntm_human_decimal(const char *lang, const char *dec, char *out, size_t size)
{
    if (size == 0)
        return;
    const char *s = dec ? dec : "";
    const char *digits = s + (*s == '-');
    size_t ni = strspn(digits, "0123456789");
    const char *rest = digits + ni;
    size_t nf = *rest == '.' ? strspn(rest + 1, "0123456789") : 0;
    if (!vi(lang) || ni == 0 ||
        (*rest && (*rest != '.' || nf == 0 || rest[1 + nf] != '\0'))) {
        copy_str(s, out, size);
        return;
    }
    size_t o = 0;
    if (*s == '-' && o + 1 < size)
        out[o++] = '-';
    put_grouped(digits, ni, out, size, &o);
    if (nf && o + 1 < size) {
        out[o++] = ',';
        for (size_t i = 0; i < nf && o + 1 < size; i++)
            out[o++] = rest[1 + i];
    }
    out[o] = '\0';
}

void
ntm_human_int(const char *lang, int64_t v, char *out, size_t size)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    ntm_human_decimal(lang, buf, out, size);
}

void
ntm_human_figures(const char *lang, char *s, size_t size)
{
    char out[160];
    size_t o = 0, i = 0;
    if (!vi(lang) || size == 0)
        return;
    while (s[i] && o + 1 < sizeof(out)) {
        size_t d = 0;
        while (s[i + d] >= '0' && s[i + d] <= '9')
            d++;
        if (!d) {
            out[o++] = s[i++];
            continue;
        }
        put_grouped(s + i, d, out, sizeof(out) - 1, &o);
        i += d;
        if (s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9' &&
            o + 1 < sizeof(out)) {
            out[o++] = ',';
            for (i++; s[i] >= '0' && s[i] <= '9' && o + 1 < sizeof(out); i++)
                out[o++] = s[i];
        }
    }
    out[o] = '\0';
    snprintf(s, size, "%s", out);
}
