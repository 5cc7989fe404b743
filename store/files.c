/* SPDX-License-Identifier: MIT */
/*
 * files.c - the names of a store's files on disk: the database and the
 * -wal and -shm files SQLite keeps beside it. Callers above the store
 * (ntm init moving a home aside, or cleaning up after a failed init) go
 * through ntm_store_files instead of knowing SQLite's naming.
 *
 * Depends on util/ only. Must not call sync/, plan/ or the CLI.
 */
#include "ntm_store.h"

#include <unistd.h>

int
ntm_store_files(const char *db_path, ntm_store_file_fn fn, void *ud)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        struct ntm_buf b = NTM_BUF_INIT;
        int r = 0;
        if (ntm_buf_addf(&b, "%s%s", db_path, suffix[i]) == NTM_OK &&
            access(ntm_buf_str(&b), F_OK) == 0)
            r = fn(ud, ntm_buf_str(&b));
        ntm_buf_release(&b);
        if (r)
            return r;
    }
    return 0;
}
