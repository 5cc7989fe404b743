/* SPDX-License-Identifier: MIT */
/*
 * ntm.h - the public API of libntm, in one include.
 *
 *   ntm_util.h    result codes, errors, buffers, allocation
 *   ntm_text.h    Unicode text: NFC, search folding, display width
 *   ntm_crypto.h  keys, signatures, hashes, encodings, minisign
 *   ntm_store.h   the local replica: change log, validation, state
 *   ntm_plan.h    the campaign plan, the unit tree, progress reports
 *   ntm_sync.h    the central endpoint (server) and its client
 *   ntm_bundle.h  importing bundle files (offline exchange)
 *
 * Call ntm_global_init() once before anything else.
 */
#ifndef NTM_H
#define NTM_H

#include "ntm_util.h"
#include "ntm_text.h"
#include "ntm_crypto.h"
#include "ntm_store.h"
#include "ntm_plan.h"
#include "ntm_sync.h"
#include "ntm_bundle.h"

/*
 * Library initialisation. Must run once before any other ntm_ call: it
 * sets up libsodium, SQLite (multi-threaded use) and libcurl, each through
 * the module that uses it. Thread-safe and idempotent.
 */
NTM_EXTERN enum ntm_err ntm_global_init(void);

#endif /* NTM_H */
