/* SPDX-License-Identifier: MIT */
/*
 * ntm_sync.h - the central endpoint (ntm serve) and the client that pushes
 * and pulls through it (SPEC.md section 6).
 *
 * Depends on util/, crypto/ and store/; libmicrohttpd for the server,
 * libcurl for the client.
 */
#ifndef NTM_SYNC_H
#define NTM_SYNC_H

#include "ntm_store.h"

#endif /* NTM_SYNC_H */
