/* SPDX-License-Identifier: MIT */
/*
 * init.c - Ntm_sync_init(): libcurl's global set-up (curl_global_init),
 * once, for the client. The server (libmicrohttpd) needs none.
 */
#include "sync_int.h"

#include <curl/curl.h>
#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum ntm_err init_rc = NTM_OK;

static void
init_once(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        init_rc = NTM_ENET;
}

enum ntm_err
Ntm_sync_init(void)
{
    pthread_once(&once, init_once);
    return init_rc;
}
