/* SPDX-License-Identifier: MIT */
/*
 * record_sync.c - an application that embeds libntm: it opens an ntm home
 * (the folder `ntm init` makes: ntm.db and an unsealed key), checks an
 * activity against the plan, records it signed with the home's key, and
 * syncs (push, then pull) with the server the home points at.
 *
 * It uses the installed library only, through the public header and
 * pkg-config:
 *
 *     cc -o record_sync record_sync.c $(pkg-config --cflags --libs libntm)
 *     ./record_sync HOME [UNIT [TITLE]]
 *
 * HOME must have been made with `ntm init --no-passphrase --server URL
 * ...` by an author allowed to record in UNIT (default 72.710.25657, Xã
 * Thạnh Đức). The plan comes from the installed <datadir>/ntm, or from
 * $NTM_CONFIG_DIR. It prints the record id and what the sync did, and
 * exits 0 only when the record reached the server. scripts/example.sh
 * builds it against a `meson install --destdir` tree and runs it against
 * a real `ntm serve` on 127.0.0.1 (the e2e test "examples").
 */
#include <ntm.h>

#include <stdio.h>
#include <string.h>

static int
fail(const char *what, const struct ntm_error *err)
{
    fprintf(stderr, "record_sync: %s: %s\n", what, ntm_error_text(err));
    return 1;
}

int
main(int argc, char **argv)
{
    struct ntm_error err = {0};
    struct ntm_plan *plan = NULL;
    struct ntm_store *st = NULL;
    struct ntm_key *key = NULL;
    struct ntm_write_result wr;
    struct ntm_push_result push = {0};
    struct ntm_pull_result pull = {0};
    char path[4096], record[NTM_RECORD_ID_LEN + 1];
    const char *unit = argc > 2 ? argv[2] : "72.710.25657";
    const char *title = argc > 3 ? argv[3] : "Đường giao thông nông thôn";
    int rc = 1;

    if (argc < 2) {
        fprintf(stderr, "usage: record_sync HOME [UNIT [TITLE]]\n");
        return 2;
    }
    if (ntm_global_init() != NTM_OK) {
        fprintf(stderr, "record_sync: cannot initialise libntm\n");
        return 1;
    }
    if (ntm_plan_load(&plan, NULL, &err) != NTM_OK)
        return fail("plan", &err);

    snprintf(path, sizeof(path), "%s/ntm.db", argv[1]);
    if (ntm_store_open(&st, path, 0, &err) != NTM_OK) {
        fail("store", &err);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/key", argv[1]);
    if (ntm_key_load(&key, path, NULL, &err) != NTM_OK) {
        fail("key", &err);
        goto out;
    }

    /* What `ntm record activity` checks before signing. */
    if (ntm_plan_check_task(plan, "doan.rural_roads_km", "doan", NULL, &err) ||
        ntm_plan_check_unit(plan, st, unit, "2019-05-17", &err)) {
        fail("plan check", &err);
        goto out;
    }
    json_t *fields = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                               "doan.rural_roads_km", "date", "2019-05-17",
                               "qty", "1.5", "uom", "km", "title", title);
    if (!fields) {
        fprintf(stderr, "record_sync: out of memory\n");
        goto out;
    }
    enum ntm_err e = ntm_record_create(st, key, "activity", unit, "doan",
                                       fields, record, &wr, &err);
    json_decref(fields);
    if (e != NTM_OK) {
        fail("record", &err);
        goto out;
    }
    printf("recorded %s (entry %s, seq %lld)\n", record, wr.id,
           (long long)wr.seq);

    /* The server, CA file or pin saved in the home by `ntm init`. */
    if (ntm_client_push(st, key, NULL, &push, &err) != NTM_OK) {
        fail("push", &err);
        goto out;
    }
    printf("pushed: %lld sent, %lld accepted, %zu rejected\n",
           (long long)push.sent, (long long)push.accepted,
           json_array_size(push.rejected));
    if (ntm_client_pull(st, key, NULL, &pull, &err) != NTM_OK) {
        fail("pull", &err);
        goto out;
    }
    printf("pulled: %lld received, %lld applied\n", (long long)pull.received,
           (long long)pull.applied);
    rc = push.accepted > 0 && json_array_size(push.rejected) == 0 ? 0 : 1;
out:
    ntm_push_result_release(&push);
    ntm_key_free(key);
    ntm_store_close(st);
    ntm_plan_free(plan);
    return rc;
}
