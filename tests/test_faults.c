/* SPDX-License-Identifier: MIT */
/*
 * test_faults.c - the replica under faults (RELIABILITY.md T06, T07, T17,
 * STYLE.md rule 39): a full disk, a read-only disk, every allocation
 * failing in turn during ingest and verify, and single flipped bytes in a
 * copy of the database file.
 *
 * After every fault the same invariants are checked: the call failed with
 * a clear error or succeeded completely, every entry written before is
 * still there, ntm_store_verify finds nothing wrong, PRAGMA
 * integrity_check is ok, and the derived state equals a rebuild from the
 * log.
 *
 * The disk tests mount a small tmpfs (the suite runs as root); without
 * that permission they are skipped with a message. SQLite's allocator is
 * hooked in main(), before ntm_global_init() initialises SQLite.
 */
#include "fail_alloc.h"
#include "store_helpers.h"

#include <errno.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define COMMUNE "72.710.25657" /* Xã Thạnh Đức, Gò Dầu */

static struct ntm_key *root, *rec1;
static char root_hex[65], rec1_hex[65];
static char mnt[300]; /* the small tmpfs of the disk tests, "" if none */

/* ------------------------------------------------------------------ */
/* Shared checks */

/* Per test: a tmpfs left mounted by a failed test is unmounted. */
static int
unmount_left(void **state)
{
    (void)state;
    if (mnt[0]) {
        umount2(mnt, MNT_DETACH);
        rmdir(mnt);
        mnt[0] = '\0';
    }
    return 0;
}

static int
setup(void **state)
{
    (void)state;
    assert_int_equal(ntm_global_init(), NTM_OK);
    root = th_key();
    rec1 = th_key();
    th_author(root, root_hex);
    th_author(rec1, rec1_hex);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    ntm_key_free(root);
    ntm_key_free(rec1);
    th_rmdir();
    return 0;
}

static json_t *
activity_fields(const char *title)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "task", "doan.rural_roads_km",
                     "date", "2017-03-05", "qty", "2.4", "uom", "km", "title",
                     title);
}

/* new: the verify report, which must list no invalid entry and no fork. */
static json_t *
verify_clean(struct ntm_store *st, int64_t expect_entries)
{
    json_t *rep = NULL;
    struct ntm_error err;
    if (ntm_store_verify(st, &rep, &err) != NTM_OK)
        fail_msg("verify: %s", ntm_error_text(&err));
    if (json_array_size(json_object_get(rep, "invalid")) != 0 ||
        json_array_size(json_object_get(rep, "forks")) != 0 ||
        json_array_size(json_object_get(rep, "derived")) != 0 ||
        json_array_size(json_object_get(rep, "integrity")) != 0) {
        char *s = json_dumps(rep, JSON_COMPACT);
        fail_msg("verify is not clean: %.400s", s);
    }
    if (expect_entries >= 0)
        assert_int_equal(json_integer_value(json_object_get(rep, "entries")),
                         expect_entries);
    return rep;
}

static void
integrity_ok(struct ntm_store *st)
{
    struct ntm_error err;
    if (ntm_store_check(st, 1, &err) != NTM_OK)
        fail_msg("integrity_check: %s", ntm_error_text(&err));
}

/* The derived state equals a rebuild from the log (nothing was half
 * applied). Rebuilding rewrites the same state, so this keeps the store
 * as it was; verify says after it what it said before (vb, its report on
 * the store as it is, taken by verify_clean; consumed). */
static void
state_matches_rebuild(struct ntm_store *st, json_t *vb)
{
    struct ntm_error err;
    char *before = th_dump(st);
    json_t *va = NULL;
    if (ntm_store_rebuild(st, &err) != NTM_OK)
        fail_msg("rebuild: %s", ntm_error_text(&err));
    char *after = th_dump(st);
    assert_int_equal(ntm_store_verify(st, &va, &err), NTM_OK);
    assert_string_equal(before, after);
    char *sb = json_dumps(vb, JSON_COMPACT | JSON_SORT_KEYS);
    char *sa = json_dumps(va, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(sb, sa);
    free(sb);
    free(sa);
    json_decref(vb);
    json_decref(va);
    ntm_free(before);
    ntm_free(after);
}

static int
has_entry(struct ntm_store *st, const char *author, int64_t seq)
{
    int64_t head = 0;
    enum ntm_err rc = ntm_store_head(st, author, &head, NULL);
    if (rc == NTM_ENOENT)
        return 0;
    if (rc != NTM_OK)
        fail_msg("cannot read the head after the fault: %d", rc);
    return head >= seq;
}

/* ------------------------------------------------------------------ */
/* T07: disk full */

/* Mount a tmpfs of size (e.g. "512k") on a new folder; 0 when not
 * permitted (the caller skips). */
static int
mount_small(const char *size)
{
    th_tmpdir();
    snprintf(mnt, sizeof(mnt), "%s/mnt%d", th_dir, th_serial++);
    assert_int_equal(mkdir(mnt, 0700), 0);
    char opts[64];
    snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
    if (mount("tmpfs", mnt, "tmpfs", 0, opts) != 0) {
        fprintf(stderr,
                "# skipped: cannot mount a tmpfs on %s (%s); run the suite "
                "as root to test a full or read-only disk\n",
                mnt, strerror(errno));
        rmdir(mnt);
        return 0;
    }
    return 1;
}

static void
unmount_small(void)
{
    if (umount2(mnt, MNT_DETACH) != 0)
        fprintf(stderr, "# cannot unmount %s: %s\n", mnt, strerror(errno));
    rmdir(mnt);
    mnt[0] = '\0';
}

static void
write_file(const char *path, size_t n)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    char buf[4096];
    memset(buf, 'x', sizeof(buf));
    for (size_t done = 0; done < n; done += sizeof(buf))
        assert_int_equal(fwrite(buf, 1, sizeof(buf), fp), sizeof(buf));
    assert_int_equal(fclose(fp), 0);
}

static void
test_disk_full_keeps_the_log_and_recovers(void **state)
{
    (void)state;
    if (!mount_small("2m"))
        skip();
    char path[400], filler[400];
    snprintf(filler, sizeof(filler), "%s/filler", mnt);
    snprintf(path, sizeof(path), "%s/ntm.db", mnt);
    /* Space to give back later, taken before the store grows. */
    write_file(filler, 512 * 1024);

    struct ntm_store *st = NULL;
    struct ntm_error err;
    struct ntm_write_result w;
    assert_int_equal(ntm_store_open(&st, path, NTM_STORE_CREATE, &err), NTM_OK);
    assert_int_equal(ntm_store_set_root(st, root_hex, &err), NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Ấp Bến Đình", "doan", 1, &w, &err),
                     NTM_OK);
    static char ids[4000][NTM_RECORD_ID_LEN + 1];
    int n = 0;
    enum ntm_err rc = NTM_OK;
    /* Titles of ~1 KiB; each commit also adds a dozen WAL frames. */
    char title[1100];
    memset(title, 'a', 1000);
    while (n < 4000) {
        snprintf(title + 1000, 100, " %d", n);
        json_t *f = activity_fields(title);
        rc = ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f, ids[n],
                               &w, &err);
        json_decref(f);
        if (rc != NTM_OK)
            break;
        n++;
    }
    if (rc != NTM_EFULL)
        fail_msg("after %d records: %d %s", n, rc, ntm_error_text(&err));
    printf("# the disk filled after %d records\n", n);
    assert_true(n >= 5);
    assert_non_null(strstr(err.msg, "free some disk space"));
    /* Everything written before is there, whole. */
    for (int i = 0; i < n; i++) {
        json_t *r = th_record(st, ids[i]);
        if (!r)
            fail_msg("record %d of %d lost after the disk filled", i, n);
        json_decref(r);
    }
    assert_true(has_entry(st, rec1_hex, n));
    assert_false(has_entry(st, rec1_hex, n + 1));
    json_decref(verify_clean(st, n + 1));
    integrity_ok(st);
    ntm_store_close(st);

    /* Reopened on the still full disk: the same. */
    assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
    json_decref(verify_clean(st, n + 1));
    integrity_ok(st);

    /* Free the space: writing works again. */
    assert_int_equal(unlink(filler), 0);
    json_t *f = activity_fields("sau khi dọn đĩa");
    char rid[NTM_RECORD_ID_LEN + 1];
    if (ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f, rid, &w,
                          &err) != NTM_OK)
        fail_msg("write after freeing space: %s", ntm_error_text(&err));
    json_decref(f);
    assert_int_equal(w.seq, n + 1);
    json_t *rep = verify_clean(st, n + 2);
    integrity_ok(st);
    state_matches_rebuild(st, rep);
    ntm_store_close(st);
    unmount_small();
}

/* A batch (ntm_store_begin .. commit) that meets a full disk keeps none of
 * its entries and leaves the store as it was. */
static void
test_disk_full_in_a_batch_keeps_nothing_half(void **state)
{
    (void)state;
    if (!mount_small("640k"))
        skip();
    char path[400];
    snprintf(path, sizeof(path), "%s/ntm.db", mnt);
    struct ntm_store *st = NULL;
    struct ntm_error err;
    struct ntm_write_result w;
    assert_int_equal(ntm_store_open(&st, path, NTM_STORE_CREATE, &err), NTM_OK);
    if (ntm_store_set_root(st, root_hex, &err) != NTM_OK)
        fail_msg("set_root: %s", ntm_error_text(&err));
    char title[1100];
    memset(title, 'b', 1000);
    title[1000] = '\0';
    int64_t before = 0;
    assert_int_equal(ntm_store_stats(st, &before, NULL, &err), NTM_OK);
    enum ntm_err rc = ntm_store_begin(st, &err);
    assert_int_equal(rc, NTM_OK);
    for (int i = 0; i < 4000 && rc == NTM_OK; i++) {
        char rid[NTM_RECORD_ID_LEN + 1];
        json_t *f = activity_fields(title);
        rc = ntm_record_create(st, root, "activity", COMMUNE, "doan", f, rid,
                               &w, &err);
        json_decref(f);
    }
    if (rc == NTM_OK)
        rc = ntm_store_commit(st, &err);
    else
        ntm_store_rollback(st);
    assert_int_equal(rc, NTM_EFULL);
    assert_non_null(strstr(err.msg, "free some disk space"));
    int64_t after = -1;
    assert_int_equal(ntm_store_stats(st, &after, NULL, &err), NTM_OK);
    assert_int_equal(after, before);
    json_decref(verify_clean(st, before));
    integrity_ok(st);
    ntm_store_close(st);
    unmount_small();
}

/* ------------------------------------------------------------------ */
/* Read-only */

static void
readonly_refuses_writes(struct ntm_store *st, const char *rid)
{
    struct ntm_error err;
    struct ntm_write_result w;
    json_t *f = activity_fields("không ghi được");
    char nrid[NTM_RECORD_ID_LEN + 1];
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       nrid, &w, &err),
                     NTM_EREADONLY);
    assert_non_null(strstr(err.msg, "read-only"));
    json_decref(f);
    /* reads work */
    json_t *r = th_record(st, rid);
    assert_non_null(r);
    assert_string_equal(th_field(r, "title"), "trước");
    json_decref(r);
    json_decref(verify_clean(st, 2));
}

static void
test_readonly_disk_refuses_writes_reads_work(void **state)
{
    (void)state;
    if (!mount_small("1m"))
        skip();
    char path[400];
    snprintf(path, sizeof(path), "%s/ntm.db", mnt);
    struct ntm_store *st = NULL;
    struct ntm_error err;
    struct ntm_write_result w;
    char rid[NTM_RECORD_ID_LEN + 1];
    assert_int_equal(ntm_store_open(&st, path, NTM_STORE_CREATE, &err), NTM_OK);
    assert_int_equal(ntm_store_set_root(st, root_hex, &err), NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Ấp Bến Đình", "doan", 1, &w, &err),
                     NTM_OK);
    json_t *f = activity_fields("trước");
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    json_decref(f);
    ntm_store_close(st);

    /* The flag. */
    assert_int_equal(ntm_store_open(&st, path, NTM_STORE_READONLY, &err),
                     NTM_OK);
    readonly_refuses_writes(st, rid);
    ntm_store_close(st);

    /* The disk. */
    if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT | MS_RDONLY, NULL) != 0)
        fail_msg("cannot remount %s read-only: %s", mnt, strerror(errno));
    st = NULL;
    if (ntm_store_open(&st, path, 0, &err) != NTM_OK)
        fail_msg("open on a read-only disk: %s", ntm_error_text(&err));
    readonly_refuses_writes(st, rid);
    ntm_store_close(st);
    assert_int_equal(ntm_store_open(&st, path, NTM_STORE_READONLY, &err),
                     NTM_OK);
    readonly_refuses_writes(st, rid);
    ntm_store_close(st);
    unmount_small();
}

/* ------------------------------------------------------------------ */
/* T06: allocation failures */

struct signed_entry {
    char *bytes; /* new (malloc) */
    size_t len;
    char sig[NTM_SIG_B64_LEN + 1];
};

struct grab {
    struct signed_entry *list;
    int count, cap;
};

static int
grab_cb(void *ud, const struct ntm_entry_view *e)
{
    struct grab *g = ud;
    assert_true(g->count < g->cap);
    struct signed_entry *x = &g->list[g->count++];
    x->bytes = malloc(e->len + 1);
    assert_non_null(x->bytes);
    memcpy(x->bytes, e->bytes, e->len);
    x->bytes[e->len] = '\0';
    x->len = e->len;
    snprintf(x->sig, sizeof(x->sig), "%s", e->sig);
    return 0;
}

/* Copy a closed store's file (no -wal left after a clean close). */
static void
copy_file(const char *from, const char *to)
{
    char side[450];
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    snprintf(side, sizeof(side), "%s-wal", to);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", to);
    unlink(side);
}

/*
 * The sweep's material. base: a closed replica where root enrolled rec1
 * and rec1 created a record. Then, written after base on another copy and
 * ingested in each run: [0] rec1's update of that record, [1] rec1's
 * review-free create of a second record, [2] root's enrollment of a third
 * key (recomputes authorization), [3] an entry of an unknown op (flagged).
 */
static char oom_base[400];
static struct signed_entry oom_new[4];
static int64_t oom_base_entries;

static void
oom_prepare(void)
{
    if (oom_base[0])
        return;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_error err;
    struct ntm_write_result w;
    char rid[NTM_RECORD_ID_LEN + 1], rid2[NTM_RECORD_ID_LEN + 1];
    snprintf(oom_base, sizeof(oom_base), "%s/r%d.db", th_dir, th_serial - 1);
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Ấp Bến Đình", "doan", 1, &w, &err),
                     NTM_OK);
    json_t *f = activity_fields("Đường bê tông ấp 3");
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid, &w, &err),
                     NTM_OK);
    json_decref(f);
    assert_int_equal(ntm_store_stats(st, &oom_base_entries, NULL, &err),
                     NTM_OK);
    ntm_store_close(st);
    char work[400];
    snprintf(work, sizeof(work), "%s/oom-src.db", th_dir);
    copy_file(oom_base, work);
    assert_int_equal(ntm_store_open(&st, work, 0, &err), NTM_OK);
    json_t *set = json_pack("{s:s, s:s}", "qty", "3.5", "note", "Đã đo lại");
    assert_int_equal(ntm_record_update(st, rec1, rid, set, &w, &err), NTM_OK);
    json_decref(set);
    f = activity_fields("Kênh mương nội đồng");
    assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                                       rid2, &w, &err),
                     NTM_OK);
    json_decref(f);
    struct ntm_key *k3 = th_key();
    char k3_hex[65];
    th_author(k3, k3_hex);
    assert_int_equal(ntm_device_enroll(st, root, k3_hex, "coordinator",
                                       "72.710", "Huyện Gò Dầu", "doan", 1, &w,
                                       &err),
                     NTM_OK);
    ntm_key_free(k3);
    struct grab g = {oom_new, 0, 3};
    struct ntm_entry_query q = {0};
    q.after_gseq = oom_base_entries;
    assert_int_equal(ntm_store_entries(st, &q, grab_cb, &g, &err), NTM_OK);
    assert_int_equal(g.count, 3);
    /* rec1 at seq 4 (after the update and the create): an unknown op */
    int64_t head = 0;
    char head_id[65];
    assert_int_equal(ntm_store_head(st, rec1_hex, &head, head_id), NTM_OK);
    char *b = th_entry(rec1, head + 1, head_id, 1700000000000, "x.unknown",
                       json_pack("{s:s}", "a", "b"));
    oom_new[3].bytes = b;
    oom_new[3].len = strlen(b);
    th_sign(rec1, b, oom_new[3].sig);
    ntm_store_close(st);
}

static void
oom_release(void)
{
    for (int i = 0; i < 4; i++) {
        free(oom_new[i].bytes);
        oom_new[i].bytes = NULL;
    }
    oom_base[0] = '\0';
}

/* Ingest oom_new[0..k) without faults. */
static void
ingest_upto(struct ntm_store *st, int k)
{
    for (int i = 0; i < k; i++) {
        struct ntm_ingest_result r;
        struct ntm_error err;
        assert_int_equal(ntm_store_ingest(st, oom_new[i].bytes, oom_new[i].len,
                                          oom_new[i].sig, NTM_SOURCE_BUNDLE, &r,
                                          &err),
                         NTM_OK);
        assert_int_equal(r.verdict, NTM_OK);
    }
}

static long
env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : dflt;
}

/*
 * Ingest oom_new[k] into a fresh copy of base (holding oom_new[0..k)),
 * failing the nth allocation (and every later one when persistent), for
 * n = 1 ... until a run meets no failure. Every run must end cleanly:
 * NTM_ENOMEM and nothing written, or the entry taken whole; then verify is
 * clean, the state equals a rebuild, and the same ingest without faults
 * takes the entry.
 */
static void
sweep_ingest(int k, int persistent)
{
    char work[400];
    snprintf(work, sizeof(work), "%s/oom-work.db", th_dir);
    const struct signed_entry *x = &oom_new[k];
    char author[65];
    int64_t seq;
    {
        json_t *o = json_loads(x->bytes, 0, NULL);
        assert_non_null(o);
        snprintf(author, sizeof(author), "%s",
                 json_string_value(json_object_get(o, "author")));
        seq = json_integer_value(json_object_get(o, "seq"));
        json_decref(o);
    }
    /* CI: every allocation in one-shot mode, every 4th when persistent
     * (each failure there also fails everything after it); NTM_OOM_STRIDE=1
     * for all. The sanitized build, ten times slower, strides the one-shot
     * sweep too (NTM_OOM_ONESHOT_STRIDE, tests/meson.build). */
    long stride = persistent ? env_long("NTM_OOM_STRIDE", 4)
                             : env_long("NTM_OOM_ONESHOT_STRIDE", 1);
    long n, max = env_long("NTM_OOM_MAX", 20000);
    long failed_runs = 0, injected_runs = 0, clean = 0;
    for (n = 1; n <= max; n += stride) {
        copy_file(oom_base, work);
        struct ntm_store *st = NULL;
        struct ntm_error err;
        assert_int_equal(ntm_store_open(&st, work, 0, &err), NTM_OK);
        ingest_upto(st, k);
        struct ntm_ingest_result r;
        memset(&err, 0, sizeof(err));
        fa_arm(n, persistent);
        enum ntm_err rc = ntm_store_ingest(st, x->bytes, x->len, x->sig,
                                           NTM_SOURCE_BUNDLE, &r, &err);
        fa_disarm();
        long failures = fa_failures;
        int present = has_entry(st, author, seq);
        if (rc == NTM_OK) {
            if (r.verdict != NTM_OK)
                fail_msg("n=%ld: a valid entry was refused under memory "
                         "pressure: %d %s",
                         n, r.verdict, r.message);
            if (!present)
                fail_msg("n=%ld: ingest said ok but the entry is absent", n);
        } else {
            failed_runs++;
            if (rc != NTM_ENOMEM)
                fail_msg("n=%ld: expected NTM_ENOMEM, got %d: %s", n, rc,
                         ntm_error_text(&err));
            if (!strstr(err.msg, "memory"))
                fail_msg("n=%ld: unclear message: %s", n, err.msg);
            if (present)
                fail_msg("n=%ld: ingest failed but the entry is there", n);
        }
        state_matches_rebuild(st,
                              verify_clean(st, oom_base_entries + k + present));
        if (!present) {
            assert_int_equal(ntm_store_ingest(st, x->bytes, x->len, x->sig,
                                              NTM_SOURCE_BUNDLE, &r, &err),
                             NTM_OK);
            assert_int_equal(r.verdict, NTM_OK);
            assert_int_equal(r.duplicate, 0);
        }
        ntm_store_close(st);
        if (failures == 0) {
            /* nothing left to fail: this run must have succeeded */
            assert_int_equal(rc, NTM_OK);
            clean = 1;
            break;
        }
        injected_runs++;
    }
    /* The sweep proved something: failures were injected, some surfaced
     * as NTM_ENOMEM, and it ended on a clean run. */
    assert_true(injected_runs > 0);
    assert_true(failed_runs > 0);
    assert_true(clean);
    printf("# ingest of entry %d (%s): %ld allocations swept, %ld runs "
           "failed cleanly\n",
           k, persistent ? "persistent" : "one-shot", n, failed_runs);
}

static void
test_oom_ingest_one_shot(void **state)
{
    (void)state;
    oom_prepare();
    for (int k = 0; k < 4; k++)
        sweep_ingest(k, 0);
}

static void
test_oom_ingest_persistent(void **state)
{
    (void)state;
    oom_prepare();
    for (int k = 0; k < 4; k++)
        sweep_ingest(k, 1);
}

/* verify under failing allocations: NTM_ENOMEM with no report, or the
 * whole report, identical to the one without faults. The store holds an
 * altered entry, a flagged one and fork evidence, so the report is not
 * empty. */
static void
sweep_verify(int persistent)
{
    oom_prepare();
    char work[400];
    snprintf(work, sizeof(work), "%s/oom-verify.db", th_dir);
    copy_file(oom_base, work);
    struct ntm_store *st = NULL;
    struct ntm_error err;
    assert_int_equal(ntm_store_open(&st, work, 0, &err), NTM_OK);
    ingest_upto(st, 4);
    /* a fork: another seq 1 of rec1 */
    char *fork =
        th_entry(rec1, 1, NULL, 1600000000000, "x.fork", json_object());
    struct ntm_ingest_result r;
    char sig[NTM_SIG_B64_LEN + 1];
    th_sign(rec1, fork, sig);
    assert_int_equal(ntm_store_ingest(st, fork, strlen(fork), sig,
                                      NTM_SOURCE_BUNDLE, &r, &err),
                     NTM_OK);
    assert_int_equal(r.verdict, NTM_EFORK);
    free(fork);
    ntm_store_close(st);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(work, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "UPDATE entries SET bytes=CAST(replace(CAST(bytes AS "
                     "TEXT), '3.5', '9.5') AS BLOB) WHERE op='record.update'",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(ntm_store_open(&st, work, 0, &err), NTM_OK);
    json_t *ref = NULL;
    assert_int_equal(ntm_store_verify(st, &ref, &err), NTM_OK);
    char *want = json_dumps(ref, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ref);
    assert_non_null(strstr(want, "bad_entry"));
    assert_non_null(strstr(want, "x.fork") ? want : strstr(want, "forks"));
    ntm_store_close(st);
    /* Every allocation of the first 4000 (NTM_OOM_VERIFY_DENSE), then a
     * growing stride (verify
     * recomputes the whole derived state: tens of thousands of
     * allocations, each a run). */
    long n, max = env_long("NTM_OOM_MAX", 400000), failed_runs = 0, runs = 0;
    long injected_runs = 0;
    int clean = 0;
    long dense = env_long("NTM_OOM_VERIFY_DENSE", 4000);
    for (n = 1; n <= max; n += n < dense ? 1 : 1 + n / 1000) {
        runs++;
        assert_int_equal(ntm_store_open(&st, work, 0, &err), NTM_OK);
        json_t *rep = NULL;
        memset(&err, 0, sizeof(err));
        fa_arm(n, persistent);
        enum ntm_err rc = ntm_store_verify(st, &rep, &err);
        fa_disarm();
        long failures = fa_failures;
        if (rc == NTM_OK) {
            char *got = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS);
            if (strcmp(got, want) != 0)
                fail_msg("n=%ld: verify under memory pressure reported\n%s\n"
                         "instead of\n%s",
                         n, got, want);
            free(got);
            json_decref(rep);
        } else {
            failed_runs++;
            assert_null(rep);
            if (rc != NTM_ENOMEM)
                fail_msg("n=%ld: expected NTM_ENOMEM, got %d: %s", n, rc,
                         ntm_error_text(&err));
        }
        ntm_store_close(st);
        if (failures == 0) {
            assert_int_equal(rc, NTM_OK);
            clean = 1;
            break;
        }
        injected_runs++;
    }
    assert_true(injected_runs > 0);
    assert_true(failed_runs > 0);
    assert_true(clean);
    free(want);
    printf("# verify (%s): %ld runs up to allocation %ld, %ld failed "
           "cleanly\n",
           persistent ? "persistent" : "one-shot", runs, n, failed_runs);
}

static void
test_oom_verify(void **state)
{
    (void)state;
    sweep_verify(0);
    sweep_verify(1);
    oom_release();
}

/* ------------------------------------------------------------------ */
/* The log's readers under failing allocations */

struct readers {
    enum ntm_err rc[7];
    int64_t peer, unpushed, entries, last_gseq, head, pulled;
    char head_id[NTM_HEX_ID_LEN + 1];
    json_t *heads, *heads1;
};

static int
count_entries_cb(void *ud, const struct ntm_entry_view *e)
{
    (void)e;
    ++*(int64_t *)ud;
    return 0;
}

/* What sync asks of the log before a push or a pull. */
static void
read_log(struct ntm_store *st, struct readers *r, struct ntm_error *err)
{
    struct ntm_entry_query q;
    memset(r, 0, sizeof(*r));
    memset(&q, 0, sizeof(q));
    q.scope = COMMUNE;
    r->rc[0] = ntm_store_peer_head_get(st, rec1_hex, &r->peer, err);
    r->rc[1] = ntm_store_unpushed(st, &r->unpushed, err);
    r->rc[2] = ntm_store_stats(st, &r->entries, &r->last_gseq, err);
    r->rc[3] = ntm_store_heads(st, NULL, &r->heads, err);
    r->rc[4] = ntm_store_heads(st, rec1_hex, &r->heads1, err);
    r->rc[5] = ntm_store_head(st, rec1_hex, &r->head, r->head_id);
    r->rc[6] = ntm_store_entries(st, &q, count_entries_cb, &r->pulled, err);
}

/*
 * The readers sync relies on (the server's known head, what is left to
 * push, the counts, the authors' heads, a scoped pull), each on a store
 * just opened so that every statement is prepared under the fault: one
 * allocation fails in turn, with an error report and without one (err
 * NULL, as callers that look only at the code pass). Each reader either
 * gives the true answer or fails with an error: none ever answers "the
 * server holds nothing", "nothing to push", "no heads" or "nothing to
 * pull" because memory ran out.
 */
static void
test_oom_log_readers(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    char path[400];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    struct ntm_error err;
    struct ntm_write_result w;
    char rid[NTM_RECORD_ID_LEN + 1];
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Ấp Bến Đình", "doan", 1, &w, &err),
                     NTM_OK);
    json_t *f = activity_fields("Đường bê tông ấp 3");
    for (int i = 0; i < 2; i++)
        assert_int_equal(ntm_record_create(st, rec1, "activity", COMMUNE,
                                           "doan", f, rid, &w, &err),
                         NTM_OK);
    json_decref(f);
    assert_int_equal(ntm_store_peer_head_set(st, rec1_hex, 1, NULL, &err),
                     NTM_OK);
    struct readers truth;
    read_log(st, &truth, &err);
    for (int i = 0; i < 7; i++)
        assert_int_equal(truth.rc[i], NTM_OK);
    assert_int_equal(truth.peer, 1);
    assert_int_equal(truth.unpushed, 2);
    assert_int_equal(truth.entries, 3);
    assert_int_equal(truth.head, 2);
    assert_int_equal(truth.pulled, 3);
    assert_int_equal(json_object_size(truth.heads), 2);
    ntm_store_close(st);

    long n, failed_runs = 0;
    int clean = 0;
    for (n = 1; n < 200000; n++) {
        struct readers r;
        assert_int_equal(ntm_store_open(&st, path, 0, &err), NTM_OK);
        memset(&err, 0, sizeof(err));
        fa_arm(n, 0);
        read_log(st, &r, n % 2 ? &err : NULL);
        fa_disarm();
        long failures = fa_failures;
        ntm_store_close(st);
        int failed = 0;
        for (int i = 0; i < 7; i++)
            failed |= r.rc[i] != NTM_OK;
        failed_runs += failed;
#define SAME(i, cond)                                                          \
    do {                                                                       \
        if (r.rc[i] == NTM_OK && !(cond))                                      \
            fail_msg("n=%ld: reader %d answered falsely under memory "         \
                     "pressure",                                               \
                     n, i);                                                    \
    } while (0)
        SAME(0, r.peer == truth.peer);
        SAME(1, r.unpushed == truth.unpushed);
        SAME(2, r.entries == truth.entries && r.last_gseq == truth.last_gseq);
        SAME(3, json_equal(r.heads, truth.heads));
        SAME(4, json_equal(r.heads1, truth.heads1));
        SAME(5, r.head == truth.head && !strcmp(r.head_id, truth.head_id));
        SAME(6, r.pulled == truth.pulled);
#undef SAME
        json_decref(r.heads);
        json_decref(r.heads1);
        if (failures == 0) {
            assert_false(failed);
            clean = 1;
            break;
        }
    }
    json_decref(truth.heads);
    json_decref(truth.heads1);
    assert_true(failed_runs > 0);
    assert_true(clean);
    printf("# log readers: %ld allocations swept, %ld runs failed cleanly\n", n,
           failed_runs);
}

/* ------------------------------------------------------------------ */
/* T17-lite: one flipped byte in a copy of the file */

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static unsigned char *
read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return b;
}

/* The signed content of every entry row (and the columns taken from its
 * bytes), read straight from the table, ordered by entry id; 0 when SQLite
 * cannot read it. gseq, the local arrival order, is not signed: a flip in
 * a rowid is not a change of content (and cannot be told from one). */
static int
entry_rows(const char *path, struct ntm_buf *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int ok = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto out;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, author, seq, prev, ts, lc, op, "
                           "record, bytes, sig FROM entries NOT INDEXED "
                           "ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        goto out;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        for (int c = 0; c < 10; c++) {
            ntm_buf_addf(out, "%d:", sqlite3_column_type(s, c));
            const void *p = sqlite3_column_blob(s, c);
            ntm_buf_add(out, p ? p : "", (size_t)sqlite3_column_bytes(s, c));
            ntm_buf_adds(out, "|");
        }
        ntm_buf_adds(out, "\n");
    }
    ok = r == SQLITE_DONE;
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return ok;
}

/* Whether ntm reports the copy at path as damaged. */
static int
reported(const char *path, int64_t entries)
{
    struct ntm_store *st = NULL;
    struct ntm_error err;
    int bad = 1;
    json_t *rep = NULL;
    if (ntm_store_open(&st, path, 0, &err) != NTM_OK)
        return 1;
    if (ntm_store_check(st, 0, &err) != NTM_OK)
        goto out;
    if (ntm_store_verify(st, &rep, &err) != NTM_OK)
        goto out;
    bad = json_array_size(json_object_get(rep, "invalid")) != 0 ||
          json_array_size(json_object_get(rep, "forks")) != 0 ||
          json_array_size(json_object_get(rep, "integrity")) != 0 ||
          json_integer_value(json_object_get(rep, "derived_total")) != 0 ||
          json_integer_value(json_object_get(rep, "entries")) != entries;
out:
    json_decref(rep);
    ntm_store_close(st);
    return bad;
}

static void
test_flipped_bytes_are_reported(void **state)
{
    (void)state;
    struct ntm_store *st = th_store(root, 0);
    struct ntm_error err;
    struct ntm_write_result w;
    char path[400], copy[400];
    snprintf(path, sizeof(path), "%s/r%d.db", th_dir, th_serial - 1);
    snprintf(copy, sizeof(copy), "%s/flip.db", th_dir);
    assert_int_equal(ntm_store_begin(st, &err), NTM_OK);
    for (int i = 0; i < 200; i++) {
        char rid[NTM_RECORD_ID_LEN + 1], title[64];
        snprintf(title, sizeof(title), "Hoạt động số %d", i);
        json_t *f = activity_fields(title);
        assert_int_equal(ntm_record_create(st, root, "activity", COMMUNE,
                                           "doan", f, rid, &w, &err),
                         NTM_OK);
        json_decref(f);
    }
    assert_int_equal(ntm_store_commit(st, &err), NTM_OK);
    ntm_store_close(st);
    size_t len = 0;
    unsigned char *orig = read_all(path, &len);
    struct ntm_buf want = NTM_BUF_INIT;
    assert_true(entry_rows(path, &want));

    rng_state = (uint64_t)env_long("NTM_FLIP_SEED", 20261128);
    long flips = env_long("NTM_FLIPS", 300), in_rows = 0, caught = 0;
    for (long i = 0; i < flips; i++) {
        size_t off = (size_t)(rng_next() % len);
        unsigned char x = (unsigned char)(1 + rng_next() % 255);
        orig[off] ^= x;
        FILE *fp = fopen(copy, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(orig, 1, len, fp), len);
        assert_int_equal(fclose(fp), 0);
        orig[off] ^= x;
        char cmd[1000];
        snprintf(cmd, sizeof(cmd), "rm -f '%s-wal' '%s-shm'", copy, copy);
        assert_int_equal(system(cmd), 0);
        struct ntm_buf got = NTM_BUF_INIT;
        int readable = entry_rows(copy, &got);
        int changed = !readable || got.len != want.len ||
                      memcmp(got.buf, want.buf, want.len) != 0;
        ntm_buf_release(&got);
        int rep = reported(copy, 200);
        if (changed) {
            in_rows++;
            caught += rep;
            if (!rep)
                fail_msg("flip %ld: byte %zu ^ 0x%02x changes an entry row "
                         "but neither open, quick_check nor verify report it",
                         i, off, x);
        }
    }
    printf("# %ld flips, %ld changed an entry row, %ld of those reported\n",
           flips, in_rows, caught);
    assert_true(in_rows > 0);
    ntm_buf_release(&want);
    free(orig);
}

int
main(void)
{
    fa_hook_all();
    if (getenv("NTM_TEST_FILTER")) /* e.g. "test_oom_*" */
        cmocka_set_test_filter(getenv("NTM_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_disk_full_keeps_the_log_and_recovers,
                                  unmount_left),
        cmocka_unit_test_teardown(test_disk_full_in_a_batch_keeps_nothing_half,
                                  unmount_left),
        cmocka_unit_test_teardown(test_readonly_disk_refuses_writes_reads_work,
                                  unmount_left),
        cmocka_unit_test(test_oom_ingest_one_shot),
        cmocka_unit_test(test_oom_ingest_persistent),
        cmocka_unit_test(test_oom_verify),
        cmocka_unit_test(test_oom_log_readers),
        cmocka_unit_test(test_flipped_bytes_are_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
