/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - the library's allocator hook (jansson json_set_alloc_funcs).
 *
 * Everything in libntm allocates through ntm_malloc/ntm_realloc/ntm_free so
 * that tests can fail the Nth allocation and check that every path returns
 * NTM_ENOMEM cleanly. Depends on libc only.
 */
#include "ntm_util.h"

#include <stdlib.h>
#include <string.h>

static ntm_malloc_fn do_malloc = malloc;
static ntm_realloc_fn do_realloc = realloc;
static ntm_free_fn do_free = free;

void
ntm_set_alloc_funcs(ntm_malloc_fn m, ntm_realloc_fn r, ntm_free_fn f)
{
    do_malloc = m ? m : malloc;
    do_realloc = r ? r : realloc;
    do_free = f ? f : free;
}

void *
ntm_malloc(size_t n)
{
    return do_malloc(n ? n : 1);
}

void *
ntm_calloc(size_t count, size_t n)
{
    if (n && count > SIZE_MAX / n)
        return NULL;
    void *p = ntm_malloc(count * n);
    if (p)
        memset(p, 0, (count * n) != 0 ? count * n : 1);
    return p;
}

void *
ntm_realloc(void *p, size_t n)
{
    return do_realloc(p, n ? n : 1);
}

void
ntm_free(void *p)
{
    if (p)
        do_free(p);
}

char *
ntm_strndup(const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = ntm_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
ntm_strdup(const char *s)
{
    return s ? ntm_strndup(s, strlen(s)) : NULL;
}
