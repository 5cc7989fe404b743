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
    /* No memory statistics (nothing reads them): with them every SQLite
     * allocation takes a global mutex. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* The statement journal (the pages a savepoint touches, copied before
     * they change; every entry taken runs in one) in memory up to 120 KiB
     * (30 pages), in one piece: kept in memory (PRAGMA temp_store=MEMORY)
     * it was grown by 1 KiB pieces, each allocated, copied into and freed
     * at every savepoint's end. Past that it goes to a temporary file. Not
     * 1 MiB: with that piece, SQLite (3.40) failed every statement whose
     * journal spilled, in WAL mode, as "database or disk is full" (a
     * rebuild's or a migration's DELETE of the word index past about
     * 10^4 records; tests/test_search.c); 128 KiB and below do not. */
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 120 << 10);
    if (sqlite3_initialize() != SQLITE_OK)
        init_rc = NTM_EDB;
}

enum ntm_err
Ntm_store_init(void)
{
    pthread_once(&once, init_once);
    return init_rc;
}
