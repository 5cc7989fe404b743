/* SPDX-License-Identifier: MIT */
/*
 * bench_gen.c - write N signed record.create entries into an existing
 * home, in one process, through the library (building, signing,
 * validating and storing each, as `ntm record` does), for the benchmarks
 * of bench/goals.sh. Not a test.
 *
 * The records are activities of the task doan.rural_roads_km in commune
 * 72.710.25657, titled "Hoạt động số <i>"; one in every 1000 is titled
 * "Sửa cầu Bến Đình <i>", so that `ntm list "ben dinh"` finds N/1000 of
 * them. The home's key must have no passphrase and be allowed to write
 * there (the root admin, or a device enrolled for that commune whose
 * enrollment the home has pulled). Transactions of 1000 entries.
 *
 * Usage: bench_gen <home> <n>
 */
#include "ntm.h"

#include <stdio.h>
#include <stdlib.h>

#define BATCH 1000

int
main(int argc, char **argv)
{
    struct ntm_error err = {0};
    struct ntm_store *st;
    struct ntm_key *key;
    char db[4096], kp[4096];
    int64_t n;
    long unenrolled = 0;
    if (argc != 3 || ntm_parse_int64(argv[2], 1, 100000000, &n) != NTM_OK) {
        fputs("usage: bench_gen <home> <entries>\n", stderr);
        return 2;
    }
    snprintf(db, sizeof(db), "%s/ntm.db", argv[1]);
    snprintf(kp, sizeof(kp), "%s/key", argv[1]);
    if (ntm_global_init() != NTM_OK || ntm_store_open(&st, db, 0, &err) ||
        ntm_key_load(&key, kp, NULL, &err)) {
        fprintf(stderr, "bench_gen: %s\n", ntm_error_text(&err));
        return 1;
    }
    for (int64_t i = 0; i < n && !err.code; i++) {
        char rid[NTM_RECORD_ID_LEN + 1], title[64];
        struct ntm_write_result res;
        if (i % BATCH == 0 && ntm_store_begin(st, &err) != NTM_OK)
            break;
        if (i % 1000 == 500)
            snprintf(title, sizeof(title), "Sửa cầu Bến Đình %lld",
                     (long long)i);
        else
            snprintf(title, sizeof(title), "Hoạt động số %lld", (long long)i);
        json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                              "doan.rural_roads_km", "date", "2019-05-17",
                              "qty", "1.5", "uom", "km", "title", title);
        if (!f || ntm_record_create(st, key, "activity", "72.710.25657", "doan",
                                    f, rid, &res, &err) != NTM_OK) {
            json_decref(f);
            break;
        }
        json_decref(f);
        unenrolled += res.unenrolled != 0;
        if (i % BATCH == BATCH - 1 || i == n - 1)
            ntm_store_commit(st, &err);
    }
    if (err.code) {
        fprintf(stderr, "bench_gen: %s\n", ntm_error_text(&err));
        return 1;
    }
    if (unenrolled)
        fprintf(stderr,
                "bench_gen: %ld entries written by a key this home "
                "does not know as enrolled\n",
                unenrolled);
    ntm_key_free(key);
    ntm_store_close(st);
    return 0;
}
