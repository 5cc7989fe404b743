/* SPDX-License-Identifier: MIT */
/*
 * init.c - Ntm_crypto_init(): libsodium's global set-up (sodium_init),
 * once. Called by ntm_global_init and by the layers above that need
 * signatures before it may have run (ntm_store_open).
 */
#include "crypto_int.h"

#include <pthread.h>
#include <sodium.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum ntm_err init_rc = NTM_OK;

static void
init_once(void)
{
    if (sodium_init() < 0)
        init_rc = NTM_ECRYPTO;
}

enum ntm_err
Ntm_crypto_init(void)
{
    pthread_once(&once, init_once);
    return init_rc;
}
