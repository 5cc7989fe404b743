/* SPDX-License-Identifier: MIT */
/*
 * fail_alloc.h - the failing allocator of the unit suites (STYLE rule 39),
 * one for all: it fails the nth allocation after fa_arm (one-shot), or
 * that one and every later one (persistent), counts the allocations seen
 * and the failures injected, and the blocks of ntm's allocator still live
 * (so that a leak on a failure path shows).
 *
 * A sweep arms n = 1, 2, ... and runs the operation each time; it must see
 * at least one injected failure (fa_failures > 0 on some run) and end on a
 * run where no failure was injected and the operation succeeded, or it
 * proved nothing.
 */
#ifndef NTM_TEST_FAIL_ALLOC_H
#define NTM_TEST_FAIL_ALLOC_H

extern long fa_calls;    /* allocations through the hooks since fa_arm */
extern long fa_failures; /* failures injected since fa_arm */
extern long fa_live;     /* blocks allocated minus blocks freed through the
                            hooks since fa_arm (may be set by a test) */

/* ntm's allocator through the hooks (ntm_set_alloc_funcs), and back. */
void fa_hook_ntm(void);
void fa_unhook_ntm(void);

/* ntm's, jansson's and SQLite's allocators through the hooks, for good.
 * Call it before SQLite is initialised (before ntm_global_init). */
void fa_hook_all(void);

/* Fail the nth allocation from now (n >= 1); persistent: and every later
 * one until fa_disarm. Resets the counters. */
void fa_arm(long n, int persistent);
/* No more failures (the counters keep their values). */
void fa_disarm(void);

/* The small suites' pair: fa_hook_ntm + fa_arm(n, 0), and fa_disarm +
 * fa_unhook_ntm. */
void fa_inject_at(long n);
void fa_restore(void);

#endif /* NTM_TEST_FAIL_ALLOC_H */
