/* SPDX-License-Identifier: MIT */
/*
 * init.c - ntm_global_init(): the top of libntm sets up, once and in
 * layer order, the global state of the libraries its modules stand on.
 * Each module owns its dependency: crypto/ libsodium (Ntm_crypto_init),
 * store/ SQLite (Ntm_store_init), sync/ libcurl (Ntm_sync_init). util/
 * needs nothing but libc.
 */
#include "ntm.h"

#include "crypto_int.h"
#include "store_int.h"
#include "sync_int.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum ntm_err init_rc = NTM_OK;

static void
init_once(void)
{
    init_rc = Ntm_crypto_init();
    if (init_rc == NTM_OK)
        init_rc = Ntm_store_init();
    if (init_rc == NTM_OK)
        init_rc = Ntm_sync_init();
}

enum ntm_err
ntm_global_init(void)
{
    pthread_once(&once, init_once);
    return init_rc;
}
