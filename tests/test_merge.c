/* SPDX-License-Identifier: MIT */
/*
 * test_merge.c - replicas that converge (SPEC.md section 5).
 *
 * Targeted cases: same-field conflict then resolve; parallel updates of
 * different fields; a clock five years ahead cannot bury a correction made
 * with knowledge of its write; an update whose base arrives later; revoke
 * after the fact; review then edit returns to submitted; a forced review by
 * a recorder stays without effect; a later enrollment gives a flagged entry
 * its effect.
 *
 * Property test: four replicas (root, coordinator, two recorders) run a
 * few hundred random operations, exchanging entries like bundles, in
 * random orders and subsets; once every replica holds every entry their
 * canonical state dumps must be byte-identical and equal to a full
 * rebuild. Seeds come from NTM_MERGE_SEEDS (default "1 2 3 4 5"); a failing
 * seed is printed so it can be replayed.
 */
#include "store_helpers.h"

#define DISTRICT "72.710"
#define COMMUNE  "72.710.25657"
#define OTHER    "72.710.25660"

static struct ntm_key *kroot, *kcoord, *kr1, *kr2;
static char hroot[65], hcoord[65], hr1[65], hr2[65];

static int
setup(void **state)
{
    (void)state;
    assert_int_equal(ntm_global_init(), NTM_OK);
    kroot = th_key();
    kcoord = th_key();
    kr1 = th_key();
    kr2 = th_key();
    th_author(kroot, hroot);
    th_author(kcoord, hcoord);
    th_author(kr1, hr1);
    th_author(kr2, hr2);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    ntm_key_free(kroot);
    ntm_key_free(kcoord);
    ntm_key_free(kr1);
    ntm_key_free(kr2);
    th_rmdir();
    unsetenv("NTM_NOW_MS");
    return 0;
}

struct world {
    struct ntm_store *root, *coord, *r1, *r2;
};

static void
world_open(struct world *w)
{
    struct ntm_write_result res;
    struct ntm_error err;
    w->root = th_store(kroot, 0);
    assert_int_equal(ntm_device_enroll(w->root, kroot, hcoord, "coordinator",
                                       DISTRICT, "Huyện Gò Dầu", "mttq", 1,
                                       &res, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(w->root, kroot, hr1, "recorder", COMMUNE,
                                       "Ấp Bến Đình", "doan", 1, &res, &err),
                     NTM_OK);
    assert_int_equal(ntm_device_enroll(w->root, kroot, hr2, "recorder", COMMUNE,
                                       "Ấp Bến Mương", "doan", 1, &res, &err),
                     NTM_OK);
    w->coord = th_store(kroot, 0);
    w->r1 = th_store(kroot, 0);
    w->r2 = th_store(kroot, 0);
    th_exchange(w->root, w->coord);
    th_exchange(w->root, w->r1);
    th_exchange(w->root, w->r2);
}

static void
world_close(struct world *w)
{
    ntm_store_close(w->root);
    ntm_store_close(w->coord);
    ntm_store_close(w->r1);
    ntm_store_close(w->r2);
}

static void
sync_all(struct world *w)
{
    struct ntm_store *all[4] = {w->root, w->coord, w->r1, w->r2};
    for (int round = 0; round < 4; round++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                if (a != b)
                    th_exchange(all[a], all[b]);
}

static void
assert_converged(struct world *w)
{
    struct ntm_store *all[4] = {w->root, w->coord, w->r1, w->r2};
    char *ref = th_dump(all[0]);
    for (int i = 0; i < 4; i++) {
        char *d = th_dump(all[i]);
        if (strcmp(ref, d) != 0) {
            char path[64];
            snprintf(path, sizeof(path), "/tmp/ntm-merge-replica%d.txt", i);
            FILE *fp = fopen(path, "w");
            if (fp) {
                fputs(d, fp);
                fclose(fp);
            }
            fp = fopen("/tmp/ntm-merge-replica0.txt", "w");
            if (fp) {
                fputs(ref, fp);
                fclose(fp);
            }
            fail_msg("replica %d differs from replica 0 (dumps in "
                     "/tmp/ntm-merge-replica*.txt)",
                     i);
        }
        struct ntm_error err;
        assert_int_equal(ntm_store_rebuild(all[i], &err), NTM_OK);
        char *r = th_dump(all[i]);
        if (strcmp(d, r) != 0)
            fail_msg("replica %d: rebuild differs from incremental state:\n"
                     "%s\n----\n%s",
                     i, d, r);
        ntm_free(d);
        ntm_free(r);
    }
    ntm_free(ref);
}

static void
create(struct ntm_store *st, struct ntm_key *k, const char *unit,
       const char *title, char rid[33])
{
    json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                          "doan.rural_roads_km", "date", "2017-03-05", "qty",
                          "2.4", "uom", "km", "title", title);
    struct ntm_write_result res;
    struct ntm_error err;
    enum ntm_err rc =
        ntm_record_create(st, k, "activity", unit, "doan", f, rid, &res, &err);
    if (rc != NTM_OK)
        fail_msg("create: %s", ntm_error_text(&err));
    json_decref(f);
}

static enum ntm_err
edit(struct ntm_store *st, struct ntm_key *k, const char *rid,
     const char *field, const char *value, char *entry)
{
    json_t *set = json_pack("{s:s}", field, value);
    struct ntm_write_result res;
    struct ntm_error err;
    enum ntm_err rc = ntm_record_update(st, k, rid, set, &res, &err);
    json_decref(set);
    if (rc == NTM_OK && entry)
        memcpy(entry, res.id, 65);
    return rc;
}

static void
test_same_field_conflict_then_resolve(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    char rid[33], e_r1[65], e_c[65];
    create(w.r1, kr1, COMMUNE, "Sửa đường", rid);
    sync_all(&w);
    assert_int_equal(edit(w.r1, kr1, rid, "title", "Sửa đường ấp 3", e_r1),
                     NTM_OK);
    assert_int_equal(edit(w.coord, kcoord, rid, "title", "Làm đường", e_c),
                     NTM_OK);
    sync_all(&w);
    assert_converged(&w);
    json_t *rec = th_record(w.root, rid);
    assert_true(json_is_true(json_object_get(rec, "conflict")));
    assert_int_equal(json_array_size(json_object_get(rec, "heads")), 2);
    json_decref(rec);
    json_t *cf = NULL;
    assert_int_equal(ntm_store_conflicts(w.coord, &cf, NULL), NTM_OK);
    assert_int_equal(json_array_size(cf), 1);
    json_t *cands = json_object_get(
        json_object_get(json_array_get(cf, 0), "fields"), "title");
    assert_int_equal(json_array_size(cands), 2);
    json_decref(cf);
    /* The coordinator takes the recorder's value. */
    struct ntm_write_result res;
    struct ntm_error err;
    assert_int_equal(
        ntm_record_resolve(w.coord, kcoord, rid, e_r1, NULL, &res, &err),
        NTM_OK);
    sync_all(&w);
    assert_converged(&w);
    rec = th_record(w.r2, rid);
    assert_false(json_is_true(json_object_get(rec, "conflict")));
    assert_string_equal(th_field(rec, "title"), "Sửa đường ấp 3");
    assert_int_equal(json_array_size(json_object_get(rec, "heads")), 1);
    json_decref(rec);
    world_close(&w);
}

static void
test_parallel_updates_merge(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    char rid[33];
    create(w.r1, kr1, COMMUNE, "Kênh nội đồng", rid);
    sync_all(&w);
    assert_int_equal(edit(w.r1, kr1, rid, "qty", "3.5", NULL), NTM_OK);
    assert_int_equal(edit(w.coord, kcoord, rid, "note", "đã kiểm tra", NULL),
                     NTM_OK);
    sync_all(&w);
    assert_converged(&w);
    json_t *rec = th_record(w.r1, rid);
    assert_false(json_is_true(json_object_get(rec, "conflict")));
    assert_string_equal(th_field(rec, "qty"), "3.5");
    assert_string_equal(th_field(rec, "note"), "đã kiểm tra");
    assert_int_equal(json_array_size(json_object_get(rec, "heads")), 2);
    json_decref(rec);
    /* Reviewing merges the two versions first, then names the merge. */
    struct ntm_write_result res;
    struct ntm_error err;
    assert_int_equal(
        ntm_record_review(w.coord, kcoord, rid, "approved", NULL, &res, &err),
        NTM_OK);
    sync_all(&w);
    assert_converged(&w);
    rec = th_record(w.r1, rid);
    assert_int_equal(json_array_size(json_object_get(rec, "heads")), 1);
    assert_string_equal(json_string_value(json_object_get(rec, "review")),
                        "approved");
    assert_string_equal(th_field(rec, "qty"), "3.5");
    assert_string_equal(th_field(rec, "note"), "đã kiểm tra");
    json_decref(rec);
    world_close(&w);
}

static void
test_clock_ahead_cannot_bury_correction(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    char rid[33], buf[32];
    create(w.r1, kr1, COMMUNE, "Đường", rid);
    sync_all(&w);
    /* The recorder's phone thinks it is five years later. */
    int64_t now = ntm_now_ms();
    snprintf(buf, sizeof(buf), "%lld",
             (long long)(now + 5LL * 365 * 24 * 3600 * 1000));
    setenv("NTM_NOW_MS", buf, 1);
    assert_int_equal(edit(w.r1, kr1, rid, "qty", "99", NULL), NTM_OK);
    unsetenv("NTM_NOW_MS");
    sync_all(&w);
    /* The coordinator saw it and corrects it with today's clock. */
    assert_int_equal(edit(w.coord, kcoord, rid, "qty", "2.5", NULL), NTM_OK);
    sync_all(&w);
    assert_converged(&w);
    json_t *rec = th_record(w.r2, rid);
    assert_string_equal(th_field(rec, "qty"), "2.5");
    assert_false(json_is_true(json_object_get(rec, "conflict")));
    json_decref(rec);
    /* The far-ahead entry is flagged for admins on the replicas it
     * reached. */
    json_t *rep = NULL;
    assert_int_equal(ntm_store_verify(w.root, &rep, NULL), NTM_OK);
    int ahead = 0;
    size_t i;
    json_t *f;
    json_array_foreach (json_object_get(rep, "flagged"), i, f)
        if (strcmp(json_string_value(json_object_get(f, "code")),
                   "clock_ahead") == 0)
            ahead++;
    assert_int_equal(ahead, 1);
    json_decref(rep);
    world_close(&w);
}

static void
test_update_before_its_base(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    char rid[33];
    create(w.r1, kr1, COMMUNE, "Nhà tình thương", rid);
    th_exchange(w.r1, w.coord);
    assert_int_equal(
        edit(w.coord, kcoord, rid, "amount_vnd_note", "45 triệu", NULL),
        NTM_OK);
    /* r2 hears from the coordinator first: the update waits. */
    th_exchange(w.coord, w.r2); /* carries r1's create too: filter it */
    struct ntm_store *fresh = th_store(kroot, 0);
    th_exchange(w.root, fresh);
    struct th_copy c = {fresh, 0, 0};
    struct ntm_entry_query q = {0};
    q.author = hcoord;
    q.by_author_seq = 1;
    assert_int_equal(ntm_store_entries(w.coord, &q, th_copy_cb, &c, NULL),
                     NTM_OK);
    assert_true(c.accepted >= 1);
    assert_null(th_record(fresh, rid));
    /* The create arrives: the update takes effect. */
    th_exchange(w.r1, fresh);
    json_t *rec = th_record(fresh, rid);
    assert_non_null(rec);
    assert_string_equal(th_field(rec, "amount_vnd_note"), "45 triệu");
    json_decref(rec);
    char *a = th_dump(fresh), *b = th_dump(w.coord);
    assert_string_equal(a, b);
    ntm_free(a);
    ntm_free(b);
    ntm_store_close(fresh);
    world_close(&w);
}

static void
test_revoke_after_the_fact(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    char r_ok[33], r_bad1[33], r_bad2[33];
    create(w.r2, kr2, COMMUNE, "trước khi mất máy", r_ok);
    create(w.r2, kr2, COMMUNE, "kẻ trộm 1", r_bad1);
    create(w.r2, kr2, COMMUNE, "kẻ trộm 2", r_bad2);
    int64_t seq_ok = 1;
    sync_all(&w);
    json_t *rec = th_record(w.coord, r_bad1);
    assert_non_null(rec);
    json_decref(rec);
    /* The coordinator edits a stolen record before the revocation. */
    assert_int_equal(edit(w.coord, kcoord, r_bad2, "note", "?", NULL), NTM_OK);
    struct ntm_write_result res;
    struct ntm_error err;
    assert_int_equal(
        ntm_device_revoke(w.root, kroot, hr2, seq_ok, "mất máy", &res, &err),
        NTM_OK);
    sync_all(&w);
    assert_converged(&w);
    struct ntm_store *all[4] = {w.root, w.coord, w.r1, w.r2};
    for (int i = 0; i < 4; i++) {
        rec = th_record(all[i], r_ok);
        assert_non_null(rec);
        json_decref(rec);
        assert_null(th_record(all[i], r_bad1));
        assert_null(th_record(all[i], r_bad2));
        json_t *rep = NULL;
        assert_int_equal(ntm_store_verify(all[i], &rep, NULL), NTM_OK);
        int revoked = 0;
        size_t k;
        json_t *f;
        json_array_foreach (json_object_get(rep, "flagged"), k, f)
            if (strcmp(json_string_value(json_object_get(f, "code")),
                       "revoked") == 0)
                revoked++;
        assert_int_equal(revoked, 2);
        json_decref(rep);
    }
    /* The revoked device cannot sign on: its replica refuses. */
    json_t *fl = json_pack("{s:s,s:s}", "task", "x", "date", "2017-01-01");
    char rid[33];
    assert_int_equal(ntm_record_create(w.r2, kr2, "activity", COMMUNE, "doan",
                                       fl, rid, &res, &err),
                     NTM_EREVOKED);
    json_decref(fl);
    world_close(&w);
}

static void
test_review_then_edit_returns_to_submitted(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    char rid[33];
    struct ntm_write_result res;
    struct ntm_error err;
    create(w.r1, kr1, COMMUNE, "Ngày môi trường 5/6", rid);
    sync_all(&w);
    assert_int_equal(
        ntm_record_review(w.coord, kcoord, rid, "approved", "đạt", &res, &err),
        NTM_OK);
    assert_int_equal(
        ntm_record_review(w.root, kroot, rid, "approved", NULL, &res, &err),
        NTM_OK);
    sync_all(&w);
    json_t *rec = th_record(w.r1, rid);
    assert_string_equal(json_string_value(json_object_get(rec, "review")),
                        "approved");
    json_t *revs = json_object_get(rec, "reviews");
    assert_int_equal(json_array_size(revs), 2);
    int district = 0, province = 0;
    size_t i;
    json_t *r;
    json_array_foreach (revs, i, r) {
        const char *lv = json_string_value(json_object_get(r, "level"));
        district += strcmp(lv, "district") == 0;
        province += strcmp(lv, "province") == 0;
    }
    assert_int_equal(district, 1);
    assert_int_equal(province, 1);
    json_decref(rec);
    assert_int_equal(edit(w.r1, kr1, rid, "qty", "1.2", NULL), NTM_OK);
    sync_all(&w);
    assert_converged(&w);
    rec = th_record(w.coord, rid);
    assert_string_equal(json_string_value(json_object_get(rec, "review")),
                        "submitted");
    json_decref(rec);
    world_close(&w);
}

static void
test_forced_review_by_recorder_has_no_effect(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    char rid[33];
    create(w.r1, kr1, COMMUNE, "Tổ tiết kiệm", rid);
    sync_all(&w);
    json_t *rec = th_record(w.r1, rid);
    const char *head =
        json_string_value(json_array_get(json_object_get(rec, "heads"), 0));
    int64_t seq = 0;
    char prev[65];
    assert_int_equal(ntm_store_head(w.r1, hr1, &seq, prev), NTM_OK);
    /* A faulty client signs a review the writer would have refused. */
    char *e = th_entry(kr1, seq + 1, prev, ntm_now_ms(), "review",
                       json_pack("{s:s, s:s, s:s}", "id", rid, "rev", head,
                                 "state", "approved"));
    json_decref(rec);
    struct ntm_ingest_result res;
    assert_int_equal(th_ingest(w.coord, kr1, e, NTM_SOURCE_BUNDLE, &res),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    rec = th_record(w.coord, rid);
    assert_string_equal(json_string_value(json_object_get(rec, "review")),
                        "submitted");
    json_decref(rec);
    free(e);
    world_close(&w);
}

static void
test_later_enrollment_gives_effect(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    /* r1 was moved to another commune while offline and recorded there. */
    char rid[33];
    int64_t seq = 0;
    char prev[65];
    if (ntm_store_head(w.r1, hr1, &seq, prev) != NTM_OK)
        seq = 0;
    json_t *f = json_pack("{s:s,s:s}", "task", "doan.env_activities", "date",
                          "2018-06-05");
    char *e = th_entry(
        kr1, seq + 1, seq ? prev : NULL, ntm_now_ms(), "record.create",
        json_pack("{s:s,s:s,s:s,s:s,s:O}", "id", "", "kind", "activity", "unit",
                  OTHER, "org", "doan", "fields", f));
    th_rid(kr1, seq + 1, rid);
    struct ntm_ingest_result res;
    assert_int_equal(th_ingest(w.root, kr1, e, NTM_SOURCE_BUNDLE, &res),
                     NTM_OK);
    assert_int_equal(res.flag, NTM_EFORBIDDEN);
    assert_null(th_record(w.root, rid));
    /* The admin's reassignment covers that seq: it takes effect. */
    struct ntm_write_result wr;
    struct ntm_error err;
    enum ntm_err rc = ntm_device_enroll(w.root, kroot, hr1, "recorder", OTHER,
                                        "Ấp mới", "doan", seq + 1, &wr, &err);
    if (rc != NTM_OK)
        fail_msg("enroll: %s", ntm_error_text(&err));
    json_t *rec = th_record(w.root, rid);
    assert_non_null(rec);
    json_decref(rec);
    sync_all(&w);
    assert_converged(&w);
    rec = th_record(w.coord, rid);
    assert_non_null(rec);
    json_decref(rec);
    json_decref(f);
    free(e);
    world_close(&w);
}

/* ------------------------------------------------------------------ */
/* Property test */

static unsigned long long rng;

static unsigned
rnd(unsigned n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((rng >> 33) % n);
}

struct shuffle_ctx {
    json_t *lines;
};

static int
collect_cb(void *ud, const struct ntm_entry_view *e)
{
    struct shuffle_ctx *c = ud;
    json_array_append_new(
        c->lines, json_pack("{s:s%, s:s}", "b", e->bytes, e->len, "s", e->sig));
    return 0;
}

/* A bundle from a to b: all entries or one author's, in random order,
 * retried until nothing more is taken. */
static void
random_bundle(struct ntm_store *a, struct ntm_store *b, const char *author)
{
    struct shuffle_ctx c = {json_array()};
    struct ntm_entry_query q = {0};
    q.author = author;
    assert_int_equal(ntm_store_entries(a, &q, collect_cb, &c, NULL), NTM_OK);
    size_t n = json_array_size(c.lines);
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd((unsigned)i);
        json_t *x = json_incref(json_array_get(c.lines, i - 1));
        json_array_set(c.lines, i - 1, json_array_get(c.lines, j));
        json_array_set_new(c.lines, j, x);
    }
    for (int pass = 0; pass < 50; pass++) {
        int taken = 0;
        size_t i;
        json_t *l;
        json_array_foreach (c.lines, i, l) {
            struct ntm_ingest_result r;
            struct ntm_error err;
            const char *bytes = json_string_value(json_object_get(l, "b"));
            assert_int_equal(
                ntm_store_ingest(b, bytes,
                                 json_string_length(json_object_get(l, "b")),
                                 json_string_value(json_object_get(l, "s")),
                                 NTM_SOURCE_BUNDLE, &r, &err),
                NTM_OK);
            if (r.verdict == NTM_OK && !r.duplicate)
                taken++;
            assert_true(r.verdict != NTM_EFORK && r.verdict != NTM_EBADSIG &&
                        r.verdict != NTM_EBADENTRY);
        }
        if (!taken)
            break;
    }
    json_decref(c.lines);
}

static const char *
random_record(struct ntm_store *st)
{
    static char id[33];
    json_t *list = NULL;
    struct ntm_record_filter f = {0};
    f.include_deleted = 1;
    assert_int_equal(ntm_store_records(st, &f, &list, NULL), NTM_OK);
    size_t n = json_array_size(list);
    const char *r = NULL;
    if (n) {
        snprintf(id, sizeof(id), "%s",
                 json_string_value(json_object_get(
                     json_array_get(list, rnd((unsigned)n)), "id")));
        r = id;
    }
    json_decref(list);
    return r;
}

static int
run_seed(unsigned long long seed, int ops, int *counts)
{
    rng = seed * 2654435761ULL + 1;
    struct world w;
    world_open(&w);
    struct ntm_store *st[4] = {w.root, w.coord, w.r1, w.r2};
    struct ntm_key *key[4] = {kroot, kcoord, kr1, kr2};
    const char *hex[4] = {hroot, hcoord, hr1, hr2};
    static const char *const titles[] = {"Sửa đường", "Đào kênh", "Nhà",
                                         "Quỹ Vì người nghèo", "Cây xanh"};
    static const char *const states[] = {"approved", "rejected", "has_issues"};
    int revoked = 0;
    int64_t base_ms = 1500000000000LL;
    for (int i = 0; i < ops; i++) {
        int d = (int)rnd(4);
        char buf[32];
        /* Each device has its own clock; r2's is years ahead. */
        int64_t skew = d == 3 ? 4LL * 365 * 86400000 : (int64_t)rnd(600000);
        snprintf(buf, sizeof(buf), "%lld",
                 (long long)(base_ms + i * 1000 + skew));
        setenv("NTM_NOW_MS", buf, 1);
        unsigned what = rnd(100);
        struct ntm_write_result res;
        struct ntm_error err;
        const char *rid = random_record(st[d]);
        if (what < 20 || !rid) {
            char id[33];
            json_t *f =
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                          "doan.rural_roads_km", "date", "2017-03-05", "qty",
                          "1.0", "uom", "km", "title", titles[rnd(5)]);
            if (ntm_record_create(st[d], key[d], "activity", COMMUNE, "doan", f,
                                  id, &res, &err) == NTM_OK)
                counts[0]++;
            json_decref(f);
        } else if (what < 45) {
            char v[16];
            snprintf(v, sizeof(v), "%u.%u", rnd(20), rnd(10));
            if (edit(st[d], key[d], rid, "qty", v, NULL) == NTM_OK)
                counts[1]++;
        } else if (what < 60) {
            if (edit(st[d], key[d], rid, rnd(2) ? "title" : "note",
                     titles[rnd(5)], NULL) == NTM_OK)
                counts[1]++;
        } else if (what < 64) {
            if (ntm_record_delete(st[d], key[d], rid, &res, &err) == NTM_OK)
                counts[2]++;
        } else if (what < 74) {
            json_t *rec = th_record(st[d], rid);
            json_t *conf = json_object_get(rec, "conflicts");
            const char *field;
            json_t *cands;
            json_object_foreach (conf, field, cands) {
                json_t *c = json_array_get(
                    cands, rnd((unsigned)json_array_size(cands)));
                if (ntm_record_resolve(
                        st[d], key[d], rid,
                        json_string_value(json_object_get(c, "entry")), NULL,
                        &res, &err) == NTM_OK)
                    counts[3]++;
                break;
            }
            json_decref(rec);
        } else if (what < 82) {
            if (ntm_record_review(st[d], key[d], rid, states[rnd(3)], NULL,
                                  &res, &err) == NTM_OK)
                counts[4]++;
        } else if (what < 83 && !revoked && i > ops / 2) {
            int64_t head = 0;
            ntm_store_head(w.root, hr2, &head, NULL);
            if (ntm_device_revoke(w.root, kroot, hr2, head / 2, "mất máy", &res,
                                  &err) == NTM_OK) {
                revoked = 1;
                counts[5]++;
            }
        } else {
            int a = (int)rnd(4), b = (int)rnd(4);
            if (a != b)
                random_bundle(st[a], st[b], rnd(3) ? NULL : hex[rnd(4)]);
            counts[6]++;
        }
    }
    unsetenv("NTM_NOW_MS");
    sync_all(&w);
    /* Replicas may differ only in entries refused at the gate (a revoked
     * device's later entries); the valid ones are compared in the dump. */
    int64_t n0 = 0;
    ntm_store_stats(w.root, &n0, NULL, NULL);
    counts[7] = (int)n0;
    assert_converged(&w);
    world_close(&w);
    return 0;
}

static void
test_property_replicas_converge(void **state)
{
    (void)state;
    const char *env = getenv("NTM_MERGE_SEEDS");
    const char *seeds = env ? env : "1 2 3 4 5";
    const char *ops_env = getenv("NTM_MERGE_OPS");
    int ops = ops_env ? atoi(ops_env) : 300;
    char *copy = strdup(seeds);
    for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
        unsigned long long seed = strtoull(tok, NULL, 10);
        int counts[8] = {0};
        print_message("merge property: seed %llu, %d operations (replay: "
                      "NTM_MERGE_SEEDS=%llu)\n",
                      seed, ops, seed);
        run_seed(seed, ops, counts);
        print_message("  seed %llu ok: %d creates, %d edits, %d deletes, %d "
                      "resolves, %d reviews, %d revocations, %d bundles, %d "
                      "entries on every replica\n",
                      seed, counts[0], counts[1], counts[2], counts[3],
                      counts[4], counts[5], counts[6], counts[7]);
    }
    free(copy);
}

/* ---------------------------------------------------------------- state */

/* The record c1 creates next (bound to its author and seq). */
static char RID[NTM_RECORD_ID_LEN + 1];

static json_t *
create_body(const char *rid, const char *title)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s}}", "id", rid, "kind",
                     "activity", "unit", COMMUNE, "org", "doan", "fields",
                     "task", "doan.rural_roads_km", "date", "2017-03-05",
                     "title", title);
}

static json_t *
update_body(const char *rid, const char *base, const char *field,
            const char *value)
{
    return json_pack("{s:s,s:[s],s:{s:s}}", "id", rid, "base", base, "set",
                     field, value);
}

static json_t *
review_body(const char *rid, const char *rev, const char *st)
{
    return json_pack("{s:s,s:s,s:s}", "id", rid, "rev", rev, "state", st);
}

/* Entry of chain c taken by st with effect; id receives its id. */
static void
take(struct ntm_store *st, struct th_chain *c, int64_t ts, const char *op,
     json_t *body, char id[65], enum ntm_err want)
{
    struct ntm_ingest_result r;
    assert_int_equal(th_next(st, c, ts, op, body, &r, id), NTM_OK);
    assert_int_equal(th_effect(st, id), want);
}

static void
assert_title(struct ntm_store *st, const char *rid, const char *want)
{
    json_t *rec = th_record(st, rid);
    assert_non_null(rec);
    assert_string_equal(th_field(rec, "title"), want);
    json_decref(rec);
}

/* Concurrent writes of one field: the greatest in (ts, lc, author, seq)
 * shows, whatever the arrival order; the others are listed as conflict. */
static void
test_concurrent_writes_latest_shows(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++) {
        struct world w;
        world_open(&w);
        struct th_chain c1, c2;
        th_chain_at(&c1, w.root, kr1);
        th_rid(kr1, c1.seq + 1, RID);
        th_chain_at(&c2, w.root, kr2);
        char cid[65], u1[65], u2[65];
        take(w.root, &c1, 1000, "record.create", create_body(RID, "gốc"), cid,
             NTM_OK);
        /* r1 writes later by ts (4000 vs 3000); ties on ts go by author */
        const char *hi = strcmp(hr1, hr2) > 0 ? "r1" : "r2";
        if (order == 0) {
            take(w.root, &c1, 4000, "record.update",
                 update_body(RID, cid, "title", "r1 muộn"), u1, NTM_OK);
            take(w.root, &c2, 3000, "record.update",
                 update_body(RID, cid, "title", "r2 sớm"), u2, NTM_OK);
            take(w.root, &c1, 5000, "record.update",
                 update_body(RID, u1, "note", "r1"), u1, NTM_OK);
            take(w.root, &c2, 5000, "record.update",
                 update_body(RID, u2, "note", "r2"), u2, NTM_OK);
        } else {
            take(w.root, &c2, 3000, "record.update",
                 update_body(RID, cid, "title", "r2 sớm"), u2, NTM_OK);
            take(w.root, &c1, 4000, "record.update",
                 update_body(RID, cid, "title", "r1 muộn"), u1, NTM_OK);
            take(w.root, &c2, 5000, "record.update",
                 update_body(RID, u2, "note", "r2"), u2, NTM_OK);
            take(w.root, &c1, 5000, "record.update",
                 update_body(RID, u1, "note", "r1"), u1, NTM_OK);
        }
        json_t *rec = th_record(w.root, RID);
        assert_non_null(rec);
        assert_string_equal(th_field(rec, "title"), "r1 muộn");
        assert_string_equal(th_field(rec, "note"), hi);
        assert_true(json_is_true(json_object_get(rec, "conflict")) ||
                    json_integer_value(json_object_get(rec, "conflict")) == 1);
        assert_int_equal(json_array_size(json_object_get(rec, "heads")), 2);
        json_decref(rec);
        world_close(&w);
    }
}

/* Two creates of one record id: only the one bound to its author and seq
 * (SPEC 3) holds it, even when the other is back-dated to ts 1 (the
 * hijack of a neighbour's record). */
static void
test_duplicate_create_bound_author_wins(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++) {
        struct world w;
        world_open(&w);
        struct th_chain c1, c2;
        th_chain_at(&c1, w.root, kr1);
        th_rid(kr1, c1.seq + 1, RID);
        th_chain_at(&c2, w.root, kr2);
        char a[65], b[65];
        struct ntm_ingest_result r;
        if (order == 0) {
            th_next(w.root, &c2, 1, "record.create",
                    create_body(RID, "thứ hai"), &r, b);
            th_next(w.root, &c1, 2000, "record.create",
                    create_body(RID, "thứ nhất"), &r, a);
        } else {
            th_next(w.root, &c1, 2000, "record.create",
                    create_body(RID, "thứ nhất"), &r, a);
            th_next(w.root, &c2, 1, "record.create",
                    create_body(RID, "thứ hai"), &r, b);
        }
        assert_title(w.root, RID, "thứ nhất");
        assert_int_equal(th_effect(w.root, a), NTM_OK);
        assert_int_equal(th_effect(w.root, b), NTM_EBADBODY);
        world_close(&w);
    }
}

/* The unit row of code on st (new), or NULL. */
static json_t *
unit_row(struct ntm_store *st, const char *code)
{
    json_t *all = NULL, *out = NULL;
    struct ntm_error err;
    assert_int_equal(ntm_store_units_created(st, &all, &err), NTM_OK);
    size_t i;
    json_t *u;
    json_array_foreach (all, i, u)
        if (strcmp(json_string_value(json_object_get(u, "code")), code) == 0)
            out = json_incref(u);
    json_decref(all);
    return out;
}

/* Concurrent unit.create of one code (SPEC 3): a conflict, whatever the
 * arrival order and however back-dated; the root's name shows (higher
 * authority), and a unit.create naming both as base settles it. */
static void
test_unit_create_conflict_not_settled_by_clocks(void **state)
{
    (void)state;
    const char *hamlet = COMMUNE ".9";
    for (int order = 0; order < 2; order++) {
        struct world w;
        world_open(&w);
        struct th_chain cr, cc;
        th_chain_at(&cr, w.root, kroot);
        th_chain_at(&cc, w.root, kcoord);
        char a[65], b[65];
        struct ntm_ingest_result r;
        json_t *ba = json_pack("{s:s,s:s,s:s}", "code", hamlet, "name",
                               "Ấp Hòa Bình", "level", "hamlet");
        json_t *bb = json_pack("{s:s,s:s,s:s}", "code", hamlet, "name",
                               "Ấp Chiếm Đoạt", "level", "hamlet");
        if (order == 0) {
            assert_int_equal(
                th_next(w.root, &cr, 5000, "unit.create", ba, &r, a), NTM_OK);
            assert_int_equal(th_next(w.root, &cc, 1, "unit.create", bb, &r, b),
                             NTM_OK);
        } else {
            assert_int_equal(th_next(w.root, &cc, 1, "unit.create", bb, &r, b),
                             NTM_OK);
            assert_int_equal(
                th_next(w.root, &cr, 5000, "unit.create", ba, &r, a), NTM_OK);
        }
        json_t *u = unit_row(w.root, hamlet);
        assert_non_null(u);
        assert_string_equal(json_string_value(json_object_get(u, "name")),
                            "Ấp Hòa Bình");
        assert_true(json_is_true(json_object_get(u, "conflict")));
        assert_int_equal(json_array_size(json_object_get(u, "candidates")), 2);
        json_decref(u);
        /* The coordinator settles it, knowing both. */
        sync_all(&w);
        struct ntm_write_result res;
        struct ntm_error err;
        assert_int_equal(ntm_unit_create(w.coord, kcoord, hamlet,
                                         "Ấp Hòa Bình 2", "hamlet", &res, &err),
                         NTM_OK);
        sync_all(&w);
        u = unit_row(w.r1, hamlet);
        assert_non_null(u);
        assert_string_equal(json_string_value(json_object_get(u, "name")),
                            "Ấp Hòa Bình 2");
        assert_false(json_is_true(json_object_get(u, "conflict")));
        json_decref(u);
        assert_converged(&w);
        world_close(&w);
    }
}

/* An update waits for every base: one not held yet, or a review (not a
 * change of the record) named as a base, keeps it without effect. */
static void
test_update_base_must_be_a_held_change(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    struct th_chain c1, cc;
    th_chain_at(&c1, w.root, kr1);
    th_rid(kr1, c1.seq + 1, RID);
    th_chain_at(&cc, w.root, kcoord);
    char cid[65], rv[65], u1[65], u2[65], u3[65];
    take(w.root, &c1, 1000, "record.create", create_body(RID, "gốc"), cid,
         NTM_OK);
    take(w.root, &cc, 1100, "review", review_body(RID, cid, "approved"), rv,
         NTM_OK);
    take(w.root, &c1, 1200, "record.update",
         update_body(RID,
                     "ab00000000000000000000000000000000000000000000000000"
                     "000000000000",
                     "title", "chờ"),
         u1, NTM_ENOENT);
    take(w.root, &c1, 1300, "record.update",
         update_body(RID, rv, "title", "qua duyệt"), u2, NTM_ENOENT);
    assert_title(w.root, RID, "gốc");
    json_t *rec = th_record(w.root, RID);
    assert_string_equal(json_string_value(json_object_get(rec, "review")),
                        "approved");
    json_decref(rec);
    take(w.root, &c1, 1400, "record.update",
         update_body(RID, cid, "title", "sửa"), u3, NTM_OK);
    assert_title(w.root, RID, "sửa");
    world_close(&w);
}

/* Several heads: the record is "submitted" even when every head has been
 * approved, until a change names them all. */
static void
test_review_state_with_several_heads(void **state)
{
    (void)state;
    struct world w;
    world_open(&w);
    struct th_chain c1, c2, cc;
    th_chain_at(&c1, w.root, kr1);
    th_rid(kr1, c1.seq + 1, RID);
    th_chain_at(&c2, w.root, kr2);
    th_chain_at(&cc, w.root, kcoord);
    char cid[65], u1[65], u2[65], r1[65], r2[65];
    take(w.root, &c1, 1000, "record.create", create_body(RID, "gốc"), cid,
         NTM_OK);
    take(w.root, &c1, 2000, "record.update",
         update_body(RID, cid, "title", "một"), u1, NTM_OK);
    take(w.root, &c2, 2000, "record.update",
         update_body(RID, cid, "note", "hai"), u2, NTM_OK);
    take(w.root, &cc, 3000, "review", review_body(RID, u1, "approved"), r1,
         NTM_OK);
    take(w.root, &cc, 3001, "review", review_body(RID, u2, "approved"), r2,
         NTM_OK);
    json_t *rec = th_record(w.root, RID);
    assert_int_equal(json_array_size(json_object_get(rec, "heads")), 2);
    assert_string_equal(json_string_value(json_object_get(rec, "review")),
                        "submitted");
    json_decref(rec);
    world_close(&w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_field_conflict_then_resolve),
        cmocka_unit_test(test_parallel_updates_merge),
        cmocka_unit_test(test_clock_ahead_cannot_bury_correction),
        cmocka_unit_test(test_update_before_its_base),
        cmocka_unit_test(test_revoke_after_the_fact),
        cmocka_unit_test(test_review_then_edit_returns_to_submitted),
        cmocka_unit_test(test_forced_review_by_recorder_has_no_effect),
        cmocka_unit_test(test_later_enrollment_gives_effect),
        cmocka_unit_test(test_concurrent_writes_latest_shows),
        cmocka_unit_test(test_duplicate_create_bound_author_wins),
        cmocka_unit_test(test_unit_create_conflict_not_settled_by_clocks),
        cmocka_unit_test(test_update_base_must_be_a_held_change),
        cmocka_unit_test(test_review_state_with_several_heads),
        cmocka_unit_test(test_property_replicas_converge),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
