/* SPDX-License-Identifier: MIT */
/*
 * catalog.c - the message catalogue of libntm and the ntm tool: the
 * compiled po/<lang>.po (GNU .mo: a header, a table of the original
 * strings sorted by strcmp, a table of their translations at the same
 * positions; binary search), read once per language and never changed,
 * so that any thread translates with ntm_tr(lang, msgid) in the language
 * of its own request. No locale, no LANGUAGE, no gettext state: a server
 * answering two requests in two languages at once gets both right.
 *
 * Depends on util/ and pthreads only.
 */
#include "ntm_text.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NTM_CATALOG_DIR
#define NTM_CATALOG_DIR "/usr/local/share/locale"
#endif

#define MO_MAGIC   0x950412deu
#define MO_MAX     (16u << 20) /* a catalogue larger than this is refused */
#define MAX_LANGS  8
#define LANG_BYTES 16

struct catalog {
    char lang[LANG_BYTES];
    char *data; /* the file; NULL when missing or damaged */
    size_t size;
    uint32_t n, orig, trans; /* count and offsets of the two tables */
    int swap;                /* the file's byte order is not ours */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct catalog catalogs[MAX_LANGS];
static int ncatalogs;

const char *
ntm_catalog_dir(void)
{
    const char *env = getenv("NTM_LOCALEDIR");
    if (env && *env)
        return env;
#ifdef NTM_CATALOG_BUILD_DIR
    /* Run from the build tree: the catalogues compiled there. */
    if (access(NTM_CATALOG_BUILD_DIR "/vi/LC_MESSAGES/ntm.mo", R_OK) == 0)
        return NTM_CATALOG_BUILD_DIR;
#endif
    return NTM_CATALOG_DIR;
}

static uint32_t
word(const struct catalog *c, uint32_t off)
{
    uint32_t v;
    memcpy(&v, c->data + off, 4);
    if (c->swap)
        v = (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) |
            (v << 24);
    return v;
}

/* The string of entry i of the table at tab, or NULL when the file does
 * not hold it whole (length, then offset; NUL-terminated in the file). */
static const char *
entry(const struct catalog *c, uint32_t tab, uint32_t i, uint32_t *len)
{
    uint64_t at = (uint64_t)tab + (uint64_t)i * 8;
    if (at + 8 > c->size)
        return NULL;
    uint32_t l = word(c, (uint32_t)at), off = word(c, (uint32_t)at + 4);
    if ((uint64_t)off + l >= c->size || c->data[off + l] != '\0')
        return NULL;
    if (len)
        *len = l;
    return c->data + off;
}

static void
load(struct catalog *c)
{
    struct ntm_buf path = NTM_BUF_INIT, b = NTM_BUF_INIT;
    if (ntm_buf_addf(&path, "%s/%s/LC_MESSAGES/ntm.mo", ntm_catalog_dir(),
                     c->lang) != NTM_OK ||
        ntm_file_read(ntm_buf_str(&path), MO_MAX, &b, NULL) != NTM_OK ||
        b.len < 28) {
        ntm_buf_release(&path);
        ntm_buf_release(&b);
        return;
    }
    ntm_buf_release(&path);
    c->size = b.len;
    c->data = ntm_buf_detach(&b, NULL);
    if (!c->data)
        return;
    uint32_t magic;
    memcpy(&magic, c->data, 4);
    c->swap = magic != MO_MAGIC;
    if (word(c, 0) != MO_MAGIC || (word(c, 4) >> 16) != 0) {
        ntm_free(c->data); /* not a .mo file, or a major revision we
                              do not know */
        c->data = NULL;
        return;
    }
    c->n = word(c, 8);
    c->orig = word(c, 12);
    c->trans = word(c, 16);
    if ((uint64_t)c->orig + (uint64_t)c->n * 8 > c->size ||
        (uint64_t)c->trans + (uint64_t)c->n * 8 > c->size) {
        ntm_free(c->data);
        c->data = NULL;
    }
}

/* The catalogue of lang, loaded on first use; NULL for a language name
 * that is not one. */
static const struct catalog *
catalog(const char *lang)
{
    size_t n = strlen(lang);
    if (n == 0 || n >= LANG_BYTES ||
        strspn(lang, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "_-@") != n)
        return NULL;
    const struct catalog *found = NULL;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < ncatalogs && !found; i++)
        if (!strcmp(catalogs[i].lang, lang))
            found = &catalogs[i];
    if (!found && ncatalogs < MAX_LANGS) {
        struct catalog *c = &catalogs[ncatalogs];
        memcpy(c->lang, lang, n + 1);
        load(c);
        ncatalogs++; /* a missing catalogue is remembered too */
        found = c;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

const char *
ntm_tr_find(const char *lang, const char *msgid)
{
    if (!lang || !msgid || !*msgid || !strcmp(lang, "en") || !strcmp(lang, "C"))
        return NULL;
    const struct catalog *c = catalog(lang);
    if (!c || !c->data)
        return NULL;
    uint32_t lo = 0, hi = c->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const char *o = entry(c, c->orig, mid, NULL);
        if (!o)
            return NULL;
        int cmp = strcmp(msgid, o);
        if (cmp == 0) {
            uint32_t len = 0;
            const char *t = entry(c, c->trans, mid, &len);
            /* An empty translation is no translation; of a plural entry
             * the first form. */
            return t && len ? t : NULL;
        }
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *
ntm_tr(const char *lang, const char *msgid)
{
    const char *t = ntm_tr_find(lang, msgid);
    if (t)
        return t;
    t = msgid ? strchr(msgid, '\004') : NULL;
    return t ? t + 1 : msgid;
}
