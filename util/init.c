/* SPDX-License-Identifier: MIT */
/*
 * init.c - ntm_global_init(): the one place that sets up the global state
 * of the libraries ntm stands on (libsodium, SQLite, libcurl), once, before
 * any thread starts. It is the only file of util/ that touches them.
 */
#include "ntm_util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum ntm_err init_rc = NTM_OK;

static void
init_once(void)
{
    if (sodium_init() < 0) {
        init_rc = NTM_ECRYPTO;
        return;
    }
    /* Serialized mode: the server shares nothing across threads, but the
     * safest default costs little here. */
    sqlite3_config(SQLITE_CONFIG_SERIALIZED);
    if (sqlite3_initialize() != SQLITE_OK) {
        init_rc = NTM_EDB;
        return;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        init_rc = NTM_ENET;
}

enum ntm_err
ntm_global_init(void)
{
    pthread_once(&once, init_once);
    return init_rc;
}
