/* SPDX-License-Identifier: MIT */
/*
 * search.c - word search over records, as pure functions: the words a
 * user typed, folded and cut (ntm_text_words), with for each word the
 * units whose names hold it; the SQLite FTS5 query that finds them in the
 * index (table rsearch, kept by state.c), built from those words alone so
 * that what a user types (quotes, *, -, :, parentheses, NEAR, OR) is never
 * query syntax; and the same test on a record's text in memory, for the
 * records that are not in the index (a device's own records waiting for
 * its enrollment).
 *
 * The index holds per record two columns: `words`, the record's folded
 * search text (title, note, task, unit code; see state.c), and
 * `units`, its unit code and those of the units above it, one token each
 * with x for the dots ("72.710.3" is 72 72x710 72x710x3,
 * Ntm_search_units), so that "in or below 72.710" is the one token
 * 72x710. (It was the phrase "72 710" at the column's start: every record
 * of a province holds "72", so that phrase read a posting list of the
 * whole store.) The column has as many tokens as the code has parts, as
 * before, so a record's length in tokens, and so its bm25 rank, is the
 * same. Each word must be in `words` (the last as a prefix) or, when the
 * word is in the name of units (the plan's tree, given by the caller, and
 * the units created in the store),
 * the record's unit in or below one of them.
 *
 * Depends on util/ and jansson; no SQLite call (layer 0).
 */
#include "store_int.h"

#include <string.h>

/* At most this many units per word (those found first, ancestors before
 * the units below them): a word in the names of more adds no more. */
#define MAX_UNITS_PER_WORD 256

/* Whether word w matches the name word nw: equal, or its start when w is
 * the last word typed (prefix). */
static int
word_match(const char *w, const char *nw, int prefix)
{
    return prefix ? strncmp(nw, w, strlen(w)) == 0 : strcmp(nw, w) == 0;
}

/* Whether code is unit or below it. */
static int
code_within(const char *code, const char *unit)
{
    size_t n = strlen(unit);
    return strncmp(code, unit, n) == 0 && (code[n] == '\0' || code[n] == '.');
}

/* Whether s is digits separated by single dots. */
static int
code_ok(const char *s)
{
    int digit = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            digit = 1;
        else if (*s == '.' && digit)
            digit = 0;
        else
            return 0;
    }
    return digit;
}

/* Add code to the word's list unless it or an ancestor is there; drop
 * the units below it. */
static int
add_code(json_t *list, const char *code)
{
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c)
        if (code_within(code, json_string_value(c)))
            return 0;
    for (i = json_array_size(list); i-- > 0;)
        if (code_within(json_string_value(json_array_get(list, i)), code))
            json_array_remove(list, i);
    if (json_array_size(list) >= MAX_UNITS_PER_WORD)
        return 0;
    return json_array_append_new(list, json_string(code));
}

enum ntm_err
Ntm_search_parse(struct Ntm_search *q, const char *text,
                 const struct ntm_unit_name *names, struct ntm_error *err)
{
    memset(q, 0, sizeof(*q));
    q->words = ntm_text_words(text, &q->n);
    if (!q->words)
        return ntm_error_set(err, NTM_EINVAL,
                             "the search text is not valid UTF-8");
    q->codes = json_array();
    for (size_t i = 0; q->codes && i < q->n; i++)
        if (json_array_append_new(q->codes, json_array())) {
            json_decref(q->codes);
            q->codes = NULL;
        }
    if (!q->codes) {
        Ntm_search_release(q);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    for (size_t k = 0; q->n && names && names[k].code; k++) {
        if (!names[k].name || !code_ok(names[k].code))
            continue;
        size_t nn = 0;
        char **nw = ntm_text_words(names[k].name, &nn);
        if (!nw)
            continue; /* a name that is not UTF-8 holds no word */
        int bad = 0;
        for (size_t i = 0; i < q->n && !bad; i++)
            for (size_t j = 0; j < nn; j++)
                if (word_match(q->words[i], nw[j], i + 1 == q->n)) {
                    bad = add_code(json_array_get(q->codes, i),
                                   names[k].code) != 0;
                    break;
                }
        ntm_free(nw);
        if (bad) {
            Ntm_search_release(q);
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
    }
    return NTM_OK;
}

void
Ntm_search_release(struct Ntm_search *q)
{
    ntm_free(q->words);
    json_decref(q->codes);
    memset(q, 0, sizeof(*q));
}

/* Append s as an FTS5 string (double quotes, a quote doubled); 1 when
 * memory ran out. */
static int
put_string(struct ntm_buf *b, const char *s)
{
    int bad = ntm_buf_addch(b, '"') != NTM_OK;
    for (; *s; s++) {
        if (*s == '"')
            bad |= ntm_buf_addch(b, '"') != NTM_OK;
        bad |= ntm_buf_addch(b, *s) != NTM_OK;
    }
    return bad | (ntm_buf_addch(b, '"') != NTM_OK);
}

/* Append the index token of the unit code (digits and dots): the dots
 * become x. 1 when memory ran out. */
static int
put_code(struct ntm_buf *b, const char *code)
{
    int bad = 0;
    for (; *code; code++)
        bad |= ntm_buf_addch(b, *code == '.' ? 'x' : *code) != NTM_OK;
    return bad;
}

char *
Ntm_search_units(const char *unit)
{
    if (!unit)
        unit = "";
    if (!code_ok(unit))
        return ntm_strdup(unit);
    struct ntm_buf b = NTM_BUF_INIT, code = NTM_BUF_INIT;
    int bad = 0;
    for (const char *p = unit;; p++) {
        if (*p == '.' || !*p) {
            bad |= b.buf && ntm_buf_addch(&b, ' ') != NTM_OK;
            bad |= put_code(&b, ntm_buf_str(&code));
        }
        if (!*p)
            break;
        bad |= ntm_buf_addch(&code, *p) != NTM_OK;
    }
    ntm_buf_release(&code);
    if (bad || !b.buf) {
        ntm_buf_release(&b);
        return NULL;
    }
    return ntm_buf_detach(&b, NULL);
}

char *
Ntm_search_fts(const struct Ntm_search *q, const char *unit, char **mask)
{
    struct ntm_buf b = NTM_BUF_INIT, m = NTM_BUF_INIT;
    int bad = 0;
    *mask = NULL;
    if (unit && code_ok(unit)) {
        /* in or below unit: its token (Ntm_search_units); the column
         * weighs nothing in the rank, so ranks do not change */
        bad |= ntm_buf_adds(&b, "units : \"") != NTM_OK;
        bad |= put_code(&b, unit);
        bad |= ntm_buf_adds(&b, "\" AND ") != NTM_OK;
        bad |= ntm_buf_addch(&m, '0') != NTM_OK;
    }
    for (size_t i = 0; i < q->n; i++) {
        json_t *codes = json_array_get(q->codes, i);
        size_t nc = json_array_size(codes);
        if (i)
            bad |= ntm_buf_adds(&b, " AND ") != NTM_OK;
        if (nc)
            bad |= ntm_buf_addch(&b, '(') != NTM_OK;
        bad |= ntm_buf_adds(&b, "words : ") != NTM_OK;
        bad |= put_string(&b, q->words[i]);
        bad |= ntm_buf_addch(&m, '1') != NTM_OK;
        if (i + 1 == q->n)
            bad |= ntm_buf_adds(&b, " *") != NTM_OK;
        size_t k;
        json_t *c;
        json_array_foreach (codes, k, c) {
            /* "72.710" is the token 72x710, which the unit and every
             * unit below it hold (Ntm_search_units). */
            bad |= ntm_buf_adds(&b, " OR units : \"") != NTM_OK;
            bad |= put_code(&b, json_string_value(c));
            bad |= ntm_buf_addch(&b, '"') != NTM_OK;
            bad |= ntm_buf_addch(&m, '0') != NTM_OK;
        }
        if (nc)
            bad |= ntm_buf_addch(&b, ')') != NTM_OK;
    }
    if (bad || !b.buf || !m.buf) {
        ntm_buf_release(&b);
        ntm_buf_release(&m);
        return NULL;
    }
    *mask = ntm_buf_detach(&m, NULL);
    return ntm_buf_detach(&b, NULL);
}

int
Ntm_search_matches(const struct Ntm_search *q, const char *text,
                   const char *unit)
{
    size_t nw = 0;
    char **w = ntm_text_words(text ? text : "", &nw);
    int all = w != NULL && q->n > 0;
    for (size_t i = 0; all && i < q->n; i++) {
        int hit = 0;
        for (size_t j = 0; j < nw && !hit; j++)
            hit = word_match(q->words[i], w[j], i + 1 == q->n);
        size_t k;
        json_t *c;
        json_array_foreach (json_array_get(q->codes, i), k, c)
            if (!hit && unit && code_within(unit, json_string_value(c)))
                hit = 1;
        all = hit;
    }
    ntm_free(w);
    return all;
}
