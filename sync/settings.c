/* SPDX-License-Identifier: MIT */
/*
 * settings.c - the sync settings and state a device store keeps under
 * its "sync." keys (ntm_sync.h): configuring a server without reaching
 * it, and reading where sync stands for `ntm status`. The keys are named
 * in sync_int.h; nothing outside sync/ reads or writes them.
 *
 * Depends on util/ and store/ (settings, unpushed count). No network.
 */
#include "sync_int.h"

#include <string.h>

enum ntm_err
Ntm_sync_settings_save(struct ntm_store *st, const char *server,
                       const char *cacert, const char *pin,
                       struct ntm_error *err)
{
    enum ntm_err rc;
    if ((rc = ntm_store_meta_set(st, NTM_SYNC_KEY_SERVER, server, err)) !=
            NTM_OK ||
        (rc = ntm_store_meta_set(st, NTM_SYNC_KEY_CACERT, cacert, err)) !=
            NTM_OK)
        return rc;
    return ntm_store_meta_set(st, NTM_SYNC_KEY_PIN, pin, err);
}

enum ntm_err
ntm_sync_configure(struct ntm_store *st, const char *server, const char *cacert,
                   const char *pin, struct ntm_error *err)
{
    if (!server)
        return ntm_error_set(err, NTM_EINVAL, "no server URL given");
    enum ntm_err rc = ntm_store_begin(st, err);
    if (rc != NTM_OK)
        return rc;
    if ((rc = Ntm_sync_settings_save(st, server, cacert, pin, err)) != NTM_OK ||
        (rc = ntm_store_commit(st, err)) != NTM_OK)
        ntm_store_rollback(st);
    return rc;
}

enum ntm_err
ntm_sync_status(struct ntm_store *st, struct ntm_sync_status *out,
                struct ntm_error *err)
{
    enum ntm_err rc;
    memset(out, 0, sizeof(*out));
    if ((rc = ntm_store_unpushed(st, &out->unpushed, err)) != NTM_OK ||
        (rc = ntm_store_meta_get_int(st, NTM_SYNC_KEY_LAST_PUSH, 0,
                                     &out->last_push_ms, err)) != NTM_OK ||
        (rc = ntm_store_meta_get_int(st, NTM_SYNC_KEY_LAST_PULL, 0,
                                     &out->last_pull_ms, err)) != NTM_OK ||
        (rc = ntm_store_meta_get_int(st, NTM_SYNC_KEY_CURSOR, 0, &out->cursor,
                                     err)) != NTM_OK ||
        (rc = ntm_store_meta_get_int(st, NTM_SYNC_KEY_SERVER_GSEQ, 0,
                                     &out->server_gseq, err)) != NTM_OK)
        return rc;
    /* Absent settings stay NULL. */
    ntm_store_meta_get(st, NTM_SYNC_KEY_SERVER, &out->server, NULL);
    ntm_store_meta_get(st, NTM_SYNC_KEY_CACERT, &out->cacert, NULL);
    ntm_store_meta_get(st, NTM_SYNC_KEY_PIN, &out->pin, NULL);
    return NTM_OK;
}

void
ntm_sync_status_release(struct ntm_sync_status *s)
{
    if (!s)
        return;
    ntm_free(s->server);
    ntm_free(s->cacert);
    ntm_free(s->pin);
    memset(s, 0, sizeof(*s));
}
