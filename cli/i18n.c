/* SPDX-License-Identifier: MIT */
/*
 * i18n.c - the language of the ntm tool's messages (gettext) (see
 * i18n.h).
 *
 * Vietnamese must work on machines that have no vi_VN locale installed
 * (most officers' laptops have only C.UTF-8): glibc honours LANGUAGE
 * whenever the LC_MESSAGES locale is not "C", and C.UTF-8 counts as not
 * "C" (checked on Debian 12, glibc 2.36). So the language is chosen with
 * LANGUAGE, and the locale falls back to C.UTF-8.
 *
 * The tool's messages stay with glibc's gettext, bound to the very
 * catalogue the library reads with ntm_tr (ntm_catalog_dir, the same
 * compiled po/vi.po): the tool has one language for its whole run, and
 * gettext brings ngettext's plural forms and the format_arg checks of
 * every _() the commands use. The library, which must answer each server
 * request in its own language from any thread, reads the catalogue
 * itself (util/catalog.c) and never touches the locale.
 *
 * Uses libc (gettext is part of glibc) and util/'s catalogue folder.
 */
#include "i18n.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

static int lang_vi;

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
    bindtextdomain(NTM_TEXT_DOMAIN, ntm_catalog_dir());
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
