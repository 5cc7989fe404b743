/* SPDX-License-Identifier: MIT */
/*
 * ntm_text.h - text for Vietnamese users, once for the whole library and
 * the tool: Unicode normalisation and search folding, display width and
 * edit distance (text.c); the human forms of dates and numbers
 * (human.c); and the message catalogue, read per call in the language
 * asked for, so that a server thread answers each request in its own
 * language (catalog.c).
 *
 * Part of util/: depends on libc and utf8proc only, and on nothing above
 * util/ (store/, plan/ and the tool all use it).
 */
#ifndef NTM_TEXT_H
#define NTM_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "ntm_util.h"

/* ------------------------------------------------------------------ */
/* Unicode (text.c) */

/* new: s in Unicode NFC (free with ntm_free); NULL for invalid UTF-8. */
NTM_EXTERN char *ntm_text_nfc(const char *s);
/*
 * new: s folded for record search: canonical decomposition, lower case,
 * Vietnamese diacritics removed (d-stroke becomes d). The store keeps
 * this form of each record's text, so it must not change. NULL for
 * invalid UTF-8 or out of memory.
 */
NTM_EXTERN char *ntm_text_fold(const char *s);

/* The four hex digits at p (either case) as *out: 1, or 0 when one is not
 * a hex digit (a JSON \uXXXX escape; reads p[0..3]). */
NTM_EXTERN int ntm_text_hex4(const char *p, unsigned *out);
/*
 * new: as ntm_text_fold, and compatibility forms folded too (full-width
 * letters, ligatures, superscripts: NFKD). For matching the plan's codes,
 * labels and unit names against what a user typed.
 */
NTM_EXTERN char *ntm_text_fold_compat(const char *s);
/*
 * new: the words of s for word search: s folded as ntm_text_fold does,
 * cut at every character that is not a letter or a digit (Unicode
 * categories L, N and Co, where SQLite's unicode61 tokenizer cuts too).
 * *n words, in order, in one allocation: free the array with ntm_free.
 * NULL for invalid UTF-8 or out of memory; a text without a word gives an
 * array with *n 0.
 */
NTM_EXTERN char **ntm_text_words(const char *s, size_t *n);
/* Display width of UTF-8 s in terminal columns (0 for NULL); a byte that
 * is not UTF-8 counts as one column. */
NTM_EXTERN size_t ntm_text_width(const char *s);
/* Bytes of the UTF-8 character that starts at s: 1 for a stray byte or
 * a character cut short, 0 at the terminating NUL. */
NTM_EXTERN size_t ntm_text_char_len(const char *s);
/* Levenshtein distance between a and b on bytes, capped: any distance
 * above cap (or texts over 256 bytes) gives cap + 1. */
NTM_EXTERN int ntm_text_distance(const char *a, const char *b, int cap);

/* ------------------------------------------------------------------ */
/* Human forms of dates and numbers (human.c) */

/*
 * For terminal tables and printed reports, never JSON or CSV. In
 * Vietnamese ("vi") a date YYYY-MM-DD reads dd/mm/yyyy and a number
 * 1234.5 reads 1.234,5; in any other language (or lang NULL) both stay
 * as given. out always gets a terminated string; input that is not of
 * the expected form is copied unchanged (truncated to size).
 */
/* A date "YYYY-MM-DD", or "YYYY-MM-DD HH:MM:SS" (the time follows), or a
 * month "YYYY-MM" (MM/YYYY in Vietnamese). */
NTM_EXTERN void ntm_human_date(const char *lang, const char *iso, char *out,
                               size_t size);
/* A whole decimal string "[-]digits[.digits]". */
NTM_EXTERN void ntm_human_decimal(const char *lang, const char *dec, char *out,
                                  size_t size);
NTM_EXTERN void ntm_human_int(const char *lang, int64_t v, char *out,
                              size_t size);
/* Every number inside a text ("≥ 1234.5*", "63.6 %"), in place. */
NTM_EXTERN void ntm_human_figures(const char *lang, char *s, size_t size);

/*
 * The other way: what a person typed, in either form, to the machine form
 * the record rules take (ISO dates, "1234.5"). The language says which
 * reading wins where the two forms disagree; input that reads two ways in
 * it is NTM_HUMAN_AMBIGUOUS, never guessed.
 *
 * A number: "1234.5", "2,4", "1.234,5", "1,234.5", "1 234,5",
 * "1.234.567". With both separators the last one is the decimal mark;
 * groups of three digits after a first group of 1-3 (not starting with
 * 0). A single separator followed by exactly three digits after a group
 * reads two ways in the language whose grouping mark it is: "1.234" in
 * Vietnamese (1234, or 1.234), "1,234" in English: ambiguous. Otherwise a
 * single ',' or '.' is the decimal mark. out gets digits, at most one '.'.
 *
 * A date: "YYYY-MM-DD", and in Vietnamese "DD/MM/YYYY" ('/', '.' or '-'
 * between, day and month of one or two digits; English prints and reads
 * ISO only, where 05/04/2017 would read two ways). Not checked against
 * the calendar here: ntm_field_date_valid does that.
 *
 * A period: "YYYY", "YYYY-MM", and in Vietnamese "MM/YYYY" or "M/YYYY".
 */
enum ntm_human_parse {
    NTM_HUMAN_OK = 0,
    NTM_HUMAN_BAD,      /* not of any form */
    NTM_HUMAN_AMBIGUOUS /* reads two ways in this language */
};
NTM_EXTERN enum ntm_human_parse ntm_human_parse_decimal(const char *lang,
                                                        const char *in,
                                                        char *out, size_t size);
NTM_EXTERN enum ntm_human_parse
ntm_human_parse_date(const char *lang, const char *in, char out[11]);
NTM_EXTERN enum ntm_human_parse
ntm_human_parse_period(const char *lang, const char *in, char out[8]);

/* ------------------------------------------------------------------ */
/* Message catalogue (catalog.c) */

/*
 * The translation of msgid in language lang ("vi"), from the compiled
 * catalogue <dir>/<lang>/LC_MESSAGES/ntm.mo made from po/<lang>.po, where
 * dir is ntm_catalog_dir(). msgid itself when lang is NULL or "en", when
 * the catalogue is missing or has no entry for it; NULL and "" are
 * returned as they are; for an NC_() literal without a translation, its
 * text after the context. Borrowed: static or catalogue storage, valid
 * until the process ends. Thread-safe: a catalogue is loaded once and
 * never changed; no locale or environment is consulted per call.
 */
NTM_EXTERN const char *ntm_tr(const char *lang, const char *msgid)
    __attribute__((format_arg(2)));

/* As ntm_tr, but NULL when there is no translation (lang "en" included). */
NTM_EXTERN const char *ntm_tr_find(const char *lang, const char *msgid);

/* The folder of the compiled catalogues: NTM_LOCALEDIR when set, else the
 * build tree's (when it holds a catalogue), else the installed one.
 * Borrowed. */
NTM_EXTERN const char *ntm_catalog_dir(void);

/*
 * The message of err in language lang: err->msgid translated, with the
 * arguments recorded by ntm_error_set put back (a nested message, see
 * ntm_error_wrap, translated in turn). When lang is "en" or NULL, or
 * there is no translation, the English message, prefixed in another
 * language by the translated text of the code ("<code text> - <English>").
 * Into out (always terminated); returns out.
 */
NTM_EXTERN const char *ntm_error_text_lang(const struct ntm_error *err,
                                           const char *lang, char *out,
                                           size_t size);

/* ------------------------------------------------------------------ */
/* Display labels of identifiers (labels.c) */

enum ntm_label_set {
    NTM_LABEL_KIND,        /* record kinds: activity, measure */
    NTM_LABEL_STATE,       /* review states: submitted, approved, ... */
    NTM_LABEL_MARK,        /* record marks: conflict, deleted */
    NTM_LABEL_ROLE,        /* roles: admin, coordinator, recorder */
    NTM_LABEL_FIELD,       /* record fields: date, qty, title, ... */
    NTM_LABEL_OP,          /* entry operations: record.create, ... */
    NTM_LABEL_STATUS,      /* entry statuses: valid, waiting, revoked, ... */
    NTM_LABEL_TARGET_KIND, /* target kinds: yearly_sum, ... */
    NTM_LABEL_LEVEL        /* unit levels: province ... hamlet */
};
/*
 * The label people read for identifier value of set, in lang ("en" gives
 * the identifier itself); value itself when the table does not know it.
 * Borrowed: static or catalogue storage.
 */
NTM_EXTERN const char *ntm_label(const char *lang, enum ntm_label_set set,
                                 const char *value);
/*
 * The identifier that text names in set: the identifier, or its
 * Vietnamese label, compared with case, diacritics, '-', '_' and spaces
 * ignored ("đã-duyệt", "Đã duyệt", "da duyet", "approved"). NULL when
 * text names none. Borrowed (static).
 */
NTM_EXTERN const char *ntm_label_parse(enum ntm_label_set set,
                                       const char *text);
/* The labels of set in lang, joined by ", ", into out; returns out. */
NTM_EXTERN const char *ntm_label_values(enum ntm_label_set set,
                                        const char *lang, char *out,
                                        size_t size);

/* Marks a literal for the catalogue (xgettext --keyword=N_) where it is
 * translated later, at the place that knows the language. */
#ifndef N_
#define N_(s) s
#endif
/* A literal with a context, for the same English that reads differently
 * in two places (xgettext --keyword=NC_:1c,2; msgctxt in the .po):
 * ntm_tr looks up "context\004text" and gives the text when it has no
 * translation. */
#define NC_(ctx, s) ctx "\004" s

#endif /* NTM_TEXT_H */
