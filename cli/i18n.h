/* SPDX-License-Identifier: MIT */
/*
 * i18n.h - messages in the user's language (gettext, text domain "ntm")
 * and the human forms of dates and numbers.
 *
 * Mark a user-facing literal with _("...") where it is used, or with
 * N_("...") where it sits in a static table and is translated at print
 * time with cli_tr(). JSON keys, codes and CSV stay English and ISO: they
 * are an interface. The catalogs are po/<lang>.po; po/ntm.pot is made
 * by xgettext --keyword=_ --keyword=N_.
 */
#ifndef NTM_CLI_I18N_H
#define NTM_CLI_I18N_H

#include <libintl.h>
#include <stddef.h>
#include <stdint.h>

#include "ntm_text.h"

/* The text domain of the ntm tool. */
#define NTM_TEXT_DOMAIN "ntm"

/* gettext carries format_arg, so printf-style checks still apply. */
#define _(s)  gettext(s)
#define N_(s) s

/*
 * Choose the language of the messages: lang is "vi" or "en" (anything
 * else is English). Sets LANGUAGE, the locale (the user's, or C.UTF-8
 * when it is missing or "C", so that a machine without vi_VN still prints
 * Vietnamese in UTF-8), keeps LC_NUMERIC at "C" so that machine output
 * keeps its decimal point, and binds the "ntm" domain to the catalog
 * folder: NTM_LOCALEDIR when set, else the build tree's, else the
 * installed one. May be called again (after --lang) before or after
 * gettext was first used. Not thread-safe: call it from main only.
 */
void cli_i18n_init(const char *lang);

/* 1 when the messages are Vietnamese (cli_i18n_init("vi")), else 0. */
int cli_lang_vi(void);

/* gettext(s) for a string marked N_(): NULL and "" are returned as they
 * are (gettext("") would return the catalog header). Borrowed: static
 * or catalog storage. */
const char *cli_tr(const char *s);

/*
 * Human forms for terminal output (never JSON or CSV), in the language of
 * the messages: util/human.c's ntm_human_* (see ntm_text.h), the same
 * forms the library's printed reports use.
 */
static inline void
cli_human_date(const char *iso, char *out, size_t size)
{
    ntm_human_date(cli_lang_vi() ? "vi" : "en", iso, out, size);
}
/* A decimal string "[-]digits[.digits]". */
static inline void
cli_human_decimal(const char *dec, char *out, size_t size)
{
    ntm_human_decimal(cli_lang_vi() ? "vi" : "en", dec, out, size);
}
/* The label of an identifier (util/labels.c) in the language of the
 * messages: the identifier itself in English. */
static inline const char *
cli_label(enum ntm_label_set set, const char *value)
{
    return ntm_label(cli_lang_vi() ? "vi" : "en", set, value);
}
static inline void
cli_human_int(int64_t v, char *out, size_t size)
{
    ntm_human_int(cli_lang_vi() ? "vi" : "en", v, out, size);
}

#endif /* NTM_CLI_I18N_H */
