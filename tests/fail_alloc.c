/* SPDX-License-Identifier: MIT */
/*
 * fail_alloc.c - the failing allocator shared by the unit suites (see
 * fail_alloc.h). NTM_OOM_TRACE=1 prints a backtrace at each injected
 * failure (addr2line -e the test binary to read it).
 */
#include "fail_alloc.h"

#include <execinfo.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

#include "ntm_util.h"

long fa_calls;
long fa_failures;
long fa_live;

static long countdown = -1; /* fail when it reaches 0; -1: never */
static int persistent_mode; /* keep failing after the first failure */

static int
fa_fail(void)
{
    fa_calls++;
    if (countdown < 0)
        return 0;
    if (countdown > 0) {
        countdown--;
        return 0;
    }
    fa_failures++;
    if (!persistent_mode)
        countdown = -1;
    if (getenv("NTM_OOM_TRACE")) {
        void *pcs[32];
        fprintf(stderr, "# allocation failed at:\n");
        backtrace_symbols_fd(pcs, backtrace(pcs, 32), 2);
    }
    return 1;
}

static void *
fa_malloc(size_t n)
{
    if (fa_fail())
        return NULL;
    void *p = malloc(n);
    if (p)
        fa_live++;
    return p;
}

static void *
fa_realloc(void *p, size_t n)
{
    if (fa_fail())
        return NULL;
    void *q = realloc(p, n);
    if (q && !p)
        fa_live++;
    return q;
}

static void
fa_free(void *p)
{
    if (p)
        fa_live--;
    free(p);
}

void
fa_hook_ntm(void)
{
    ntm_set_alloc_funcs(fa_malloc, fa_realloc, fa_free);
}

void
fa_unhook_ntm(void)
{
    ntm_set_alloc_funcs(NULL, NULL, NULL);
}

static sqlite3_mem_methods sq_default;

static void *
sq_malloc(int n)
{
    return fa_fail() ? NULL : sq_default.xMalloc(n);
}

static void *
sq_realloc(void *p, int n)
{
    return fa_fail() ? NULL : sq_default.xRealloc(p, n);
}

void
fa_hook_all(void)
{
    sqlite3_mem_methods m;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sq_default) != SQLITE_OK) {
        fprintf(stderr, "cannot read SQLite's allocator\n");
        exit(1);
    }
    m = sq_default;
    m.xMalloc = sq_malloc;
    m.xRealloc = sq_realloc;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK) {
        fprintf(stderr, "cannot hook SQLite's allocator\n");
        exit(1);
    }
    json_set_alloc_funcs(fa_malloc, fa_free);
    fa_hook_ntm();
}

void
fa_arm(long n, int persistent)
{
    fa_calls = 0;
    fa_failures = 0;
    fa_live = 0;
    persistent_mode = persistent;
    countdown = n - 1;
}

void
fa_disarm(void)
{
    countdown = -1;
}

void
fa_inject_at(long n)
{
    fa_arm(n, 0);
    fa_hook_ntm();
}

void
fa_restore(void)
{
    fa_disarm();
    fa_unhook_ntm();
}
