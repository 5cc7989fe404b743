/* SPDX-License-Identifier: MIT */
/*
 * human.c - the human forms of dates and numbers, once for the tool's
 * tables and the library's printed reports: in Vietnamese a date reads
 * dd/mm/yyyy and a number 1.234,5 (digits grouped by '.', decimal ',');
 * in English both keep their ISO and plain forms. Machine output (JSON,
 * CSV) never goes through here. The other way, what a person types in
 * either form is read back to the machine form (ntm_human_parse_*), with
 * the input that reads two ways refused rather than guessed.
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
    /* a month period YYYY-MM reads MM/YYYY */
    if (vi(lang) && iso && strlen(iso) == 7 && iso[4] == '-' &&
        is_digits(iso, 4) && is_digits(iso + 5, 2)) {
        if (size)
            snprintf(out, size, "%.2s/%.4s", iso + 5, iso);
        return;
    }
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

/* ---- reading what a person typed ---- */

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Whether s[0..n) is digits grouped by sep: a first group of 1-3 digits
 * not starting with 0 (unless it is "0" alone... not grouped then), then
 * groups of exactly 3; appends the digits to out. */
static int
grouped(const char *s, size_t n, char sep, char *out, size_t *len, size_t size)
{
    size_t i = 0, g = 0;
    int groups = 0;
    while (i <= n) {
        if (i == n || s[i] == sep) {
            if ((groups == 0 && (g < 1 || g > 3)) || (groups > 0 && g != 3))
                return 0;
            groups++;
            g = 0;
            i++;
            continue;
        }
        if (!is_digit(s[i]) || *len + 1 >= size)
            return 0;
        if (groups == 0 && g == 0 && s[i] == '0' && n > 1)
            return 0;
        out[(*len)++] = s[i];
        g++;
        i++;
    }
    return 1;
}

/* Whether s[0..n) is only digits (at least one); appends them. */
static int
digits(const char *s, size_t n, char *out, size_t *len, size_t size)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]) || *len + 1 >= size)
            return 0;
        out[(*len)++] = s[i];
    }
    return 1;
}

enum ntm_human_parse
ntm_human_parse_decimal(const char *lang, const char *in, char *out,
                        size_t size)
{
    char buf[64];
    size_t n = 0, len = 0;
    if (!in || !out || size < 2)
        return NTM_HUMAN_BAD;
    out[0] = '\0';
    /* spaces (also U+00A0, U+202F) group digits like the marks do */
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (n + 1 >= sizeof(buf))
            return NTM_HUMAN_BAD;
        if (*p == ' ')
            buf[n++] = '_';
        else if (p[0] == 0xc2 && p[1] == 0xa0)
            buf[n++] = '_', p++;
        else if (p[0] == 0xe2 && p[1] == 0x80 && p[2] == 0xaf)
            buf[n++] = '_', p += 2;
        else
            buf[n++] = (char)*p;
    }
    buf[n] = '\0';
    const char *dot = strrchr(buf, '.'), *comma = strrchr(buf, ',');
    const char *under = strchr(buf, '_');
    int ndot = 0, ncomma = 0;
    for (size_t i = 0; i < n; i++) {
        ndot += buf[i] == '.';
        ncomma += buf[i] == ',';
    }
    const char *mark = NULL; /* the decimal mark, when there is one */
    char group = under ? '_' : 0;
    if (dot && comma) {
        mark = dot > comma ? dot : comma;
        if ((mark == dot ? ncomma : ndot) == 0 ||
            (mark == dot ? ndot : ncomma) != 1)
            return NTM_HUMAN_BAD;
        if (under)
            return NTM_HUMAN_BAD;
        group = mark == dot ? ',' : '.';
    } else if (dot || comma) {
        char sep = dot ? '.' : ',';
        int count = dot ? ndot : ncomma;
        const char *at = dot ? dot : comma;
        if (count > 1) {
            if (under)
                return NTM_HUMAN_BAD;
            group = sep; /* "1.234.567": grouping only */
        } else {
            size_t after = n - (size_t)(at - buf) - 1;
            size_t before = (size_t)(at - buf);
            /* "1.234" reads 1234 where '.' groups (Vietnamese) and 1.234
             * where it is the decimal mark: ambiguous in the language
             * whose grouping mark sep is. */
            int sep_groups = vi(lang) ? sep == '.' : sep == ',';
            if (!under && after == 3 && before >= 1 && before <= 3 &&
                buf[0] != '0' && strspn(buf, "0123456789.,") == n && sep_groups)
                return NTM_HUMAN_AMBIGUOUS;
            mark = at;
        }
    }
    size_t int_end = mark ? (size_t)(mark - buf) : n;
    int ok = group ? grouped(buf, int_end, group, out, &len, size)
                   : digits(buf, int_end, out, &len, size);
    if (!ok)
        return NTM_HUMAN_BAD;
    if (mark) {
        if (len + 1 >= size)
            return NTM_HUMAN_BAD;
        out[len++] = '.';
        if (!digits(mark + 1, n - int_end - 1, out, &len, size))
            return NTM_HUMAN_BAD;
    }
    out[len] = '\0';
    return NTM_HUMAN_OK;
}

/* A number of 1 or 2 digits (day, month) at s, up to a separator. */
static int
small(const char *s, size_t n, int *v)
{
    if (n < 1 || n > 2 || !is_digit(s[0]) || (n == 2 && !is_digit(s[1])))
        return 0;
    *v = n == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}

static int
year4(const char *s, size_t n)
{
    return n == 4 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) &&
           is_digit(s[3]);
}

enum ntm_human_parse
ntm_human_parse_date(const char *lang, const char *in, char out[11])
{
    size_t n = in ? strlen(in) : 0;
    out[0] = '\0';
    if (n == 10 && year4(in, 4) && in[4] == '-' && in[7] == '-') {
        memcpy(out, in, 11);
        return NTM_HUMAN_OK;
    }
    /* D/M/YYYY, the Vietnamese form (English prints and reads ISO): the
     * separators must be the same */
    if (!vi(lang))
        return NTM_HUMAN_BAD;
    const char *s1 = n ? strpbrk(in, "/.-") : NULL;
    const char *s2 = s1 ? strchr(s1 + 1, *s1) : NULL;
    int d, m;
    if (!s1 || !s2 || strchr(s2 + 1, *s1) || strpbrk(s1 + 1, "/.-") != s2 ||
        !small(in, (size_t)(s1 - in), &d) ||
        !small(s1 + 1, (size_t)(s2 - s1 - 1), &m) ||
        !year4(s2 + 1, strlen(s2 + 1)))
        return NTM_HUMAN_BAD;
    snprintf(out, 11, "%.4s-%02d-%02d", s2 + 1, m, d);
    return NTM_HUMAN_OK;
}

enum ntm_human_parse
ntm_human_parse_period(const char *lang, const char *in, char out[8])
{
    size_t n = in ? strlen(in) : 0;
    int m;
    out[0] = '\0';
    if ((n == 4 && year4(in, 4)) || (n == 7 && year4(in, 4) && in[4] == '-' &&
                                     is_digit(in[5]) && is_digit(in[6]))) {
        memcpy(out, in, n + 1);
        return NTM_HUMAN_OK;
    }
    const char *sl = n && vi(lang) ? strpbrk(in, "/.-") : NULL;
    if (!sl || !small(in, (size_t)(sl - in), &m) ||
        !year4(sl + 1, strlen(sl + 1)))
        return NTM_HUMAN_BAD;
    snprintf(out, 8, "%.4s-%02d", sl + 1, m);
    return NTM_HUMAN_OK;
}
