/* SPDX-License-Identifier: MIT */
/*
 * i18n.c - the language of the ntm tool's messages (gettext) and the
 * human forms of dates and numbers (see i18n.h).
 *
 * Vietnamese must work on machines that have no vi_VN locale installed
 * (most officers' laptops have only C.UTF-8): glibc honours LANGUAGE
 * whenever the LC_MESSAGES locale is not "C", and C.UTF-8 counts as not
 * "C" (checked on Debian 12, glibc 2.36). So the language is chosen with
 * LANGUAGE, and the locale falls back to C.UTF-8.
 *
 * Uses libc only (gettext is part of glibc).
 */
#include "i18n.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NTM_LOCALEDIR
#define NTM_LOCALEDIR "/usr/local/share/locale"
#endif

static int lang_vi;

/* Where the catalogs are; borrowed (environment or static). */
static const char *
locale_dir(void)
{
    const char *env = getenv("NTM_LOCALEDIR");
    if (env && *env)
        return env;
#ifdef NTM_BUILD_LOCALEDIR
    /* Run from the build tree: the catalogs compiled next to the tool. */
    if (access(NTM_BUILD_LOCALEDIR "/vi/LC_MESSAGES/" NTM_TEXT_DOMAIN ".mo",
               R_OK) == 0)
        return NTM_BUILD_LOCALEDIR;
#endif
    return NTM_LOCALEDIR;
}

void
cli_i18n_init(const char *lang)
{
    lang_vi = lang && !strcmp(lang, "vi");
    /* LANGUAGE outranks LC_ALL, LC_MESSAGES and LANG in gettext, so the
     * --lang choice wins over the environment in both directions. */
    setenv("LANGUAGE", lang_vi ? "vi" : "en", 1);
    const char *loc = setlocale(LC_ALL, "");
    if (!loc || !strcmp(loc, "C") || !strcmp(loc, "POSIX"))
        setlocale(LC_ALL, "C.UTF-8");
    /* printf("%f") in CSV, JSON and server logs keeps its '.'. */
    setlocale(LC_NUMERIC, "C");
    bindtextdomain(NTM_TEXT_DOMAIN, locale_dir());
    bind_textdomain_codeset(NTM_TEXT_DOMAIN, "UTF-8");
    /* textdomain() also drops gettext's cache, so a second call after
     * --lang takes effect. */
    textdomain(NTM_TEXT_DOMAIN);
}

int
cli_lang_vi(void)
{
    return lang_vi;
}

const char *
cli_tr(const char *s)
{
    if (!s || !*s)
        return s;
    return gettext(s);
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
cli_human_date(const char *iso, char *out, size_t size)
{
    /* Also "YYYY-MM-DD HH:MM:SS" (cli_format_time): the time follows. */
    if (!lang_vi || !iso || strlen(iso) < 10 || iso[4] != '-' ||
        iso[7] != '-' || !is_digits(iso, 4) || !is_digits(iso + 5, 2) ||
        !is_digits(iso + 8, 2) || (iso[10] && iso[10] != ' ')) {
        copy_str(iso, out, size);
        return;
    }
    snprintf(out, size, "%.2s/%.2s/%.4s%s", iso + 8, iso + 5, iso, iso + 10);
}

void
cli_human_decimal(const char *dec, char *out, size_t size)
{
    if (size == 0)
        return;
    const char *s = dec ? dec : "";
    const char *digits = s + (*s == '-');
    size_t ni = strspn(digits, "0123456789");
    const char *rest = digits + ni;
    size_t nf = *rest == '.' ? strspn(rest + 1, "0123456789") : 0;
    if (!lang_vi || ni == 0 ||
        (*rest && (*rest != '.' || nf == 0 || rest[1 + nf] != '\0'))) {
        copy_str(s, out, size);
        return;
    }
    size_t o = 0;
#define PUT(c)                                                                 \
    do {                                                                       \
        if (o + 1 < size)                                                      \
            out[o++] = (c);                                                    \
    } while (0)
    if (*s == '-')
        PUT('-');
    for (size_t i = 0; i < ni; i++) {
        if (i > 0 && (ni - i) % 3 == 0)
            PUT('.');
        PUT(digits[i]);
    }
    if (nf) {
        PUT(',');
        for (size_t i = 0; i < nf; i++)
            PUT(rest[1 + i]);
    }
#undef PUT
    out[o] = '\0';
}

void
cli_human_int(int64_t v, char *out, size_t size)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    cli_human_decimal(buf, out, size);
}
