/* SPDX-License-Identifier: MIT */
/*
 * par.c - a parallel for over an index range: a few threads started for
 * one call, taking the next index from a shared counter until none is
 * left. What it runs is CPU-bound and independent per index (verifying
 * the signatures of a page of entries), so there is no queue, no
 * persistent pool and nothing to shut down; starting a thread costs tens
 * of microseconds against the milliseconds of a page.
 *
 * ntm_ahead: one step (the next page of a pull, the next chunk of a
 * bundle: fetched or read, then verified) on a thread of its own while
 * the caller's single writer takes the one before.
 *
 * Depends on libc and POSIX threads only.
 */
#include "ntm_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define PAR_MAX 64

struct par {
    void (*fn)(void *ud, size_t i);
    void *ud;
    size_t n;
    atomic_size_t next;
};

static void *
par_run(void *arg)
{
    struct par *p = arg;
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->n)
            break;
        p->fn(p->ud, i);
    }
    return NULL;
}

unsigned
ntm_par_threads(void)
{
    int64_t v;
    const char *env = getenv("NTM_THREADS");
    if (env && ntm_parse_int64(env, 1, PAR_MAX, &v) == NTM_OK)
        return (unsigned)v;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 2)
        return 2;
    return cpus > 16 ? 16 : (unsigned)cpus;
}

void
ntm_par_for(size_t n, void (*fn)(void *ud, size_t i), void *ud,
            unsigned threads)
{
    struct par p = {fn, ud, n, 0};
    pthread_t tid[PAR_MAX];
    size_t started = 0;
    if (!threads)
        threads = ntm_par_threads();
    if (threads > PAR_MAX)
        threads = PAR_MAX;
    /* One thread per 16 indexes at most: none for a handful of them. */
    size_t want = threads;
    if (want > n / 16)
        want = n / 16 ? n / 16 : 1;
    atomic_init(&p.next, 0);
    for (size_t t = 1; t < want; t++) {
        if (pthread_create(&tid[started], NULL, par_run, &p) != 0)
            break;
        started++;
    }
    par_run(&p);
    for (size_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
}

/* The thread of an ntm_ahead: a heap pthread_t, so that the header needs
 * no pthread.h. */
static void *
ahead_run(void *arg)
{
    struct ntm_ahead *a = arg;
    a->fn(a->ud);
    return NULL;
}

void
ntm_ahead_start(struct ntm_ahead *a, void (*fn)(void *ud), void *ud)
{
    a->fn = fn;
    a->ud = ud;
    a->thread = ntm_malloc(sizeof(pthread_t));
    if (a->thread && pthread_create(a->thread, NULL, ahead_run, a) != 0) {
        ntm_free(a->thread);
        a->thread = NULL;
    }
}

void
ntm_ahead_wait(struct ntm_ahead *a)
{
    if (!a->fn)
        return;
    if (a->thread) {
        pthread_join(*(pthread_t *)a->thread, NULL);
        ntm_free(a->thread);
        a->thread = NULL;
    } else {
        a->fn(a->ud);
    }
    a->fn = NULL;
}
