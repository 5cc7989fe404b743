/* SPDX-License-Identifier: MIT */
/*
 * init.c - Ntm_store_init(): the crypto module's set-up it stands on
 * (Ntm_crypto_init), then SQLite's global set-up (serialized threading
 * mode, sqlite3_initialize), once. It must run before SQLite is used; a
 * test may still change SQLite's allocator before it. ntm_store_open
 * calls it, so a store works even before ntm_global_init.
 */
#include "store_int.h"

#include "crypto_int.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum ntm_err init_rc = NTM_OK;

static void
init_once(void)
{
    init_rc = Ntm_crypto_init();
    if (init_rc != NTM_OK)
        return;
    /* Serialized mode: the server shares nothing across threads, but the
     * safest default costs little here. */
    sqlite3_config(SQLITE_CONFIG_SERIALIZED);
    if (sqlite3_initialize() != SQLITE_OK)
        init_rc = NTM_EDB;
}

enum ntm_err
Ntm_store_init(void)
{
    pthread_once(&once, init_once);
    return init_rc;
}
