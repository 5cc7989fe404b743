/* SPDX-License-Identifier: MIT */
/*
 * test_plan.c - the shipped plan and unit tree: every organization and
 * numeric target of PLAN.md with its value, the tree's counts before and
 * after the 2020 reorganisation, the merge mapping, and the messages of
 * the code checks (near misses with diacritics ignored), and the data
 * dictionary (every task described; records checked and converted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ntm.h"
#include "plan_int.h"

static int
setup(void **state)
{
    struct ntm_plan *p = NULL;
    struct ntm_error err = {0};
    assert_int_equal(ntm_global_init(), NTM_OK);
    if (ntm_plan_load(&p, NULL, &err) != NTM_OK)
        fail_msg("plan did not load: %s", err.msg);
    *state = p;
    return 0;
}

static int
teardown(void **state)
{
    ntm_plan_free(*state);
    return 0;
}

static void
test_plan_orgs(void **state)
{
    struct ntm_plan *p = *state;
    const char *orgs[] = {"mttq", "ldld", "hnd", "doan", "hlhpn", "hccb"};
    struct ntm_error err = {0};
    size_t i;
    for (i = 0; i < 6; i++)
        assert_int_equal(ntm_plan_check_org(p, orgs[i], &err), NTM_OK);
    assert_int_equal(ntm_plan_check_org(p, "hpn", &err), NTM_ENOENT);
    assert_non_null(strstr(err.msg, "hlhpn"));
}

static void
test_plan_every_target(void **state)
{
    struct ntm_plan *p = *state;
    static const struct {
        const char *id, *kind, *uom;
        double value;
        const char *deadline;
    } want[] = {
        {"doan.poor_youth_households", "reach_zero_by_deadline", "household", 0,
         "2020-12-31"},
        {"doan.rural_roads_km", "yearly_sum", "km", 80, ""},
        {"doan.canals_km", "yearly_sum", "km", 30, ""},
        {"doan.youth_econ_clubs", "register_active", "club", 95, "2017-12-31"},
        {"doan.savings_groups", "register_active", "group", 300, "2017-12-31"},
        {"doan.strong_commune_unions_pct", "ratio_at_least", "%", 85, ""},
        {"doan.pilot_communes_strong", "ratio_at_least", "%", 100, ""},
        {"doan.env_activities", "monthly_count", "month", 1, ""},
        {"doan.traffic_shock_team", "exists", "team", 1, "2020-12-31"},
        {"doan.self_managed_road", "exists", "road", 1, "2020-12-31"},
        {"doan.reintegrated_youth", "per_unit_yearly_count", "person", 1, ""},
        {"doan.children_support", "monthly_count", "month", 1, ""},
        {"hccb.dilapidated_houses", "reach_zero_by_deadline", "house", 0,
         "2017-12-31"},
        {"hccb.green_houses", "yearly_sum", "house", 1, ""},
        {"hccb.income_above_avg", "compare_reference", "%", 100, "2018-12-31"},
        {"hccb.poor_rate_pct", "ratio_at_most", "%", 0.5, "2020-12-31"},
        {"hccb.coop_per_commune", "per_unit_count", "cooperative", 1,
         "2020-12-31"},
        {"hccb.coop_per_district", "per_unit_count", "cooperative", 1,
         "2020-12-31"},
        {"hccb.no_illiteracy_pct", "ratio_at_least", "%", 100, ""},
        {"hccb.children_continue_pct", "ratio_at_least", "%", 100, ""},
        {"hccb.cadre_education_pct", "ratio_at_least", "%", 100, ""},
        {"hccb.cultural_families_pct", "ratio_at_least", "%", 100, ""},
        {"hccb.health_insurance_pct", "ratio_at_least", "%", 90, ""},
    };
    size_t i;
    assert_int_equal(p->ntargets, sizeof(want) / sizeof(want[0]));
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct Ntm_target *t = Ntm_plan_target(p, want[i].id);
        if (!t)
            fail_msg("target %s missing", want[i].id);
        assert_string_equal(t->kind_name, want[i].kind);
        assert_string_equal(t->uom, want[i].uom);
        assert_true(t->value == want[i].value);
        assert_string_equal(t->deadline, want[i].deadline);
        assert_true(t->vi && *t->vi && t->en && *t->en);
        assert_int_equal(ntm_plan_check_task(p, want[i].id, NULL, NULL, NULL),
                         NTM_OK);
    }
    assert_true(Ntm_plan_target(p, "hccb.poor_rate_pct")->strict);
    assert_int_equal(Ntm_plan_target(p, "doan.rural_roads_km")->year_from,
                     2016);
    assert_int_equal(Ntm_plan_target(p, "hccb.green_houses")->year_from, 2017);
}

static void
test_plan_tasks(void **state)
{
    struct ntm_plan *p = *state;
    const char *org = NULL;
    const char *tasks[] = {
        "ldld.labor_law_supervision", "hnd.land_donation",
        "mttq.cultural_families",     "hlhpn.charity_houses",
        "doan.migrant_teams",         "hccb.mediation",
        "hnd.for_the_poor_fund",      "hccb.environment_day"};
    size_t i;
    for (i = 0; i < sizeof(tasks) / sizeof(tasks[0]); i++)
        assert_int_equal(ntm_plan_check_task(p, tasks[i], NULL, &org, NULL),
                         NTM_OK);
    assert_int_equal(
        ntm_plan_check_task(p, "hnd.land_donation", "hnd", &org, NULL), NTM_OK);
    assert_string_equal(org, "hnd");
}

static void
test_plan_task_errors(void **state)
{
    struct ntm_plan *p = *state;
    struct ntm_error err = {0};
    assert_int_equal(
        ntm_plan_check_task(p, "doan.rural_road_km", NULL, NULL, &err),
        NTM_ENOENT);
    assert_non_null(strstr(err.msg, "did you mean 'doan.rural_roads_km'"));
    /* a label word without diacritics finds the task */
    assert_int_equal(ntm_plan_check_task(p, "mái ấm", NULL, NULL, &err),
                     NTM_ENOENT);
    assert_non_null(strstr(err.msg, "hlhpn.charity_houses"));
    assert_int_equal(
        ntm_plan_check_task(p, "mai am tinh thuong", NULL, NULL, &err),
        NTM_ENOENT);
    assert_non_null(strstr(err.msg, "hlhpn.charity_houses"));
    /* right task, wrong organization */
    assert_int_equal(
        ntm_plan_check_task(p, "hnd.land_donation", "doan", NULL, &err),
        NTM_ENOENT);
    assert_non_null(strstr(err.msg, "belongs to organization 'hnd'"));
    assert_int_equal(ntm_plan_check_task(p, "zzzzzzzz", NULL, NULL, &err),
                     NTM_ENOENT);
    assert_non_null(strstr(err.msg, "ntm plan"));
}

/* A record's fields from "k=v" pairs; num and den are integers. */
static json_t *
rec(const char *task, ...)
{
    json_t *f = json_pack("{s:s}", "task", task);
    va_list ap;
    const char *k;
    va_start(ap, task);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (!strcmp(k, "num") || !strcmp(k, "den") || !strcmp(k, "people"))
            json_object_set_new(f, k, json_integer(atoll(v)));
        else
            json_object_set_new(f, k, json_string(v));
    }
    va_end(ap);
    return f;
}

static enum ntm_err
check(struct ntm_plan *p, const char *kind, json_t *f, double *qty,
      struct ntm_error *err)
{
    const char *at = NULL;
    enum ntm_err rc = ntm_plan_check_record(p, kind, f, qty, &at, err);
    /* a refusal names the field at fault; an acceptance none */
    assert_true(rc == NTM_OK ? at == NULL : at != NULL);
    json_decref(f);
    return rc;
}

static void
test_dictionary(void **state)
{
    struct ntm_plan *p = *state;
    struct ntm_error err = {0};
    double q = -1;
    int i;
    /* every task says what it takes */
    for (i = 0; i < p->ntasks; i++) {
        assert_non_null(p->tasks[i].record);
        assert_non_null(ntm_plan_task_uom(p, p->tasks[i].id));
    }
    assert_string_equal(ntm_plan_task_uom(p, "doan.canals_km"), "km");
    assert_string_equal(ntm_plan_task_uom(p, "hnd.land_donation"), "m2");
    /* 300 m = 300 x 0.001 = 0.3 km; 2.4 km = 2.4 km */
    assert_int_equal(check(p, "activity",
                           rec("doan.canals_km", "date", "2017-03-01", "qty",
                               "300", "uom", "m", NULL),
                           &q, &err),
                     NTM_OK);
    assert_true(q > 0.2999 && q < 0.3001);
    assert_int_equal(check(p, "activity",
                           rec("doan.canals_km", "date", "2017-03-01", "qty",
                               "2.4", "uom", "km", NULL),
                           &q, &err),
                     NTM_OK);
    assert_true(q > 2.3999 && q < 2.4001);
    /* 2 ha = 2 x 10000 = 20000 m2; 1.5 trieu dong = 1500000 VND */
    assert_int_equal(check(p, "activity",
                           rec("hnd.land_donation", "date", "2017-03-01", "qty",
                               "2", "uom", "ha", NULL),
                           &q, &err),
                     NTM_OK);
    assert_true(q > 19999.9 && q < 20000.1);
    assert_int_equal(check(p, "activity",
                           rec("hnd.for_the_poor_fund", "date", "2017-03-01",
                               "qty", "1.5", "uom", "trieu_dong", NULL),
                           &q, &err),
                     NTM_OK);
    assert_true(q > 1499999.9 && q < 1500000.1);
    /* m2 is no length: refused, naming the accepted units */
    assert_int_equal(check(p, "activity",
                           rec("doan.canals_km", "date", "2017-03-01", "qty",
                               "500", "uom", "m2", NULL),
                           &q, &err),
                     NTM_EINVAL);
    assert_non_null(strstr(err.msg, "unit m2 not accepted for km"));
    assert_non_null(strstr(err.msg, "km, m (1 m = 0.001 km)"));
    /* a quantity without its unit, an activity without its date */
    assert_int_equal(
        check(p, "activity",
              rec("doan.canals_km", "date", "2017-03-01", "qty", "5", NULL), &q,
              &err),
        NTM_EINVAL);
    assert_non_null(strstr(err.msg, "accepts km, m"));
    assert_int_equal(check(p, "activity",
                           rec("doan.canals_km", "qty", "1", "uom", "km", NULL),
                           &q, &err),
                     NTM_EINVAL);
    assert_non_null(strstr(err.msg, "needs the field 'date'"));
    /* a count target without a quantity counts one: allowed */
    assert_int_equal(
        check(p, "activity",
              rec("doan.savings_groups", "date", "2017-03-01", NULL), &q, &err),
        NTM_OK);
    /* wrong kind either way */
    assert_int_equal(check(p, "measure",
                           rec("doan.canals_km", "period", "2017", "num", "1",
                               "den", "2", NULL),
                           &q, &err),
                     NTM_EINVAL);
    assert_non_null(strstr(err.msg, "takes activity records, not measure"));
    assert_int_equal(
        check(p, "activity",
              rec("hccb.health_insurance_pct", "date", "2017-03-01", NULL), &q,
              &err),
        NTM_EINVAL);
    /* num <= den where the task counts a part of a whole: 300/200 no */
    assert_int_equal(check(p, "measure",
                           rec("hccb.poor_rate_pct", "period", "2017", "num",
                               "300", "den", "200", NULL),
                           &q, &err),
                     NTM_EINVAL);
    assert_non_null(strstr(err.msg, "above the denominator"));
    assert_int_equal(check(p, "measure",
                           rec("hccb.poor_rate_pct", "period", "2017", "num",
                               "1", "den", "200", NULL),
                           &q, &err),
                     NTM_OK);
    /* above the average: num = the members' figure, may exceed den */
    assert_int_equal(check(p, "measure",
                           rec("hccb.income_above_avg", "period", "2018", "num",
                               "55", "den", "50", NULL),
                           &q, &err),
                     NTM_OK);
    assert_int_equal(check(p, "measure",
                           rec("hccb.income_above_avg", "period", "2018", "num",
                               "55", "den", "0", NULL),
                           &q, &err),
                     NTM_EINVAL);
    assert_non_null(strstr(err.msg, "greater than 0"));
    /* field types and ranges; unknown fields are kept, unchecked */
    assert_int_equal(check(p, "measure",
                           rec("hccb.poor_rate_pct", "period", "2017-13", "num",
                               "1", "den", "2", NULL),
                           &q, &err),
                     NTM_EINVAL);
    assert_non_null(strstr(err.msg, "period YYYY or YYYY-MM"));
    assert_int_equal(
        check(p, "activity",
              rec("mttq.launch", "date", "2017-03-01", "colour", "red", NULL),
              &q, &err),
        NTM_OK);
    assert_int_equal(check(p, "activity",
                           rec("nope.task", "date", "2017-03-01", NULL), &q,
                           &err),
                     NTM_ENOENT);
}

static void
test_units_counts(void **state)
{
    struct ntm_plan *p = *state;
    assert_int_equal(ntm_plan_unit_count(p, "province", "2019-06-01"), 1);
    assert_int_equal(ntm_plan_unit_count(p, "district", "2019-06-01"), 9);
    assert_int_equal(ntm_plan_unit_count(p, "commune", "2016-01-01"), 95);
    assert_int_equal(ntm_plan_unit_count(p, "commune", "2020-01-31"), 95);
    assert_int_equal(ntm_plan_unit_count(p, "commune", "2020-02-01"), 94);
    assert_int_equal(ntm_plan_unit_count(p, "district", "2020-02-01"), 9);
}

static int
count_type(json_t *units, const char *type)
{
    size_t i;
    json_t *u;
    int n = 0;
    json_array_foreach (units, i, u)
        if (json_is_true(json_object_get(u, "in_force")) &&
            !strcmp(json_string_value(json_object_get(u, "type")), type))
            n++;
    return n;
}

static void
test_units_types_and_names(void **state)
{
    struct ntm_plan *p = *state;
    json_t *u = NULL;
    assert_int_equal(
        ntm_plan_units(p, NULL, NULL, NULL, "2019-12-31", &u, NULL), NTM_OK);
    assert_int_equal(count_type(u, "xa"), 80);
    assert_int_equal(count_type(u, "phuong"), 7);
    assert_int_equal(count_type(u, "thi_tran"), 8);
    json_decref(u);
    assert_int_equal(
        ntm_plan_units(p, NULL, NULL, NULL, "2020-02-01", &u, NULL), NTM_OK);
    assert_int_equal(count_type(u, "xa"), 71);
    assert_int_equal(count_type(u, "phuong"), 17);
    assert_int_equal(count_type(u, "thi_tran"), 6);
    assert_int_equal(count_type(u, "thi_xa"), 2);
    json_decref(u);
    /* today's names; search ignores diacritics and finds former names */
    assert_string_equal(ntm_plan_unit_name(p, "72.712.25729"), "Xã Phước Bình");
    assert_string_equal(ntm_plan_unit_name(p, "72.709"), "Thị xã Hòa Thành");
    assert_int_equal(
        ntm_plan_units(p, NULL, "binh thanh", "72.712", NULL, &u, NULL),
        NTM_OK);
    assert_int_equal(json_array_size(u), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(u, 0), "code")),
        "72.712.25729");
    json_decref(u);
    assert_int_equal(ntm_plan_units(p, NULL, "TAN BIEN", NULL, NULL, &u, NULL),
                     NTM_OK);
    assert_int_equal(json_array_size(u), 2); /* district and its town */
    json_decref(u);
}

static void
test_units_merge(void **state)
{
    struct ntm_plan *p = *state;
    char *s;
    s = ntm_plan_unit_successor(p, "72.712.25726", "2020-02-01");
    assert_string_equal(s, "72.712.25729");
    ntm_free(s);
    s = ntm_plan_unit_successor(p, "72.712.25726.3", "2021-05-01");
    assert_string_equal(s, "72.712.25729.3");
    ntm_free(s);
    s = ntm_plan_unit_successor(p, "72.712.25726", "2020-01-31");
    assert_string_equal(s, "72.712.25726");
    ntm_free(s);
    s = ntm_plan_unit_successor(p, "72.712.25729", "2021-01-01");
    assert_string_equal(s, "72.712.25729");
    ntm_free(s);
}

static void
test_check_unit(void **state)
{
    struct ntm_plan *p = *state;
    struct ntm_error err = {0};
    json_t *created = json_pack("[{s:s, s:s, s:s}]", "code", "72.705.25486.3",
                                "name", "Ấp Thạnh Phú", "level", "hamlet");
    assert_int_equal(ntm_plan_check_unit(p, NULL, "72.705", NULL, &err),
                     NTM_OK);
    assert_int_equal(
        ntm_plan_check_unit(p, NULL, "72.712.25726", "2019-05-01", &err),
        NTM_OK);
    assert_int_equal(
        ntm_plan_check_unit(p, NULL, "72.712.25726", "2020-03-01", &err),
        NTM_ENOENT);
    assert_non_null(strstr(err.msg, "merged into '72.712.25729'"));
    assert_int_equal(ntm_plan_check_unit(p, NULL, "72.705.2548", NULL, &err),
                     NTM_ENOENT);
    assert_non_null(strstr(err.msg, "did you mean '72.705.25486'"));
    assert_int_equal(ntm_plan_check_unit(p, NULL, "tan bien", NULL, &err),
                     NTM_ENOENT);
    assert_non_null(strstr(err.msg, "Huyện Tân Biên"));
    /* hamlets exist only once created */
    assert_int_equal(ntm_plan_check_unit(p, NULL, "72.705.25486.3", NULL, &err),
                     NTM_ENOENT);
    assert_int_equal(
        Ntm_plan_check_unit_in(p, created, "72.705.25486.3", NULL, &err),
        NTM_OK);
    json_decref(created);
}

static void
test_load_errors(void **state)
{
    struct ntm_plan *p = NULL;
    struct ntm_error err = {0};
    (void)state;
    assert_int_not_equal(ntm_plan_load(&p, "/nonexistent-ntm-config", &err),
                         NTM_OK);
    assert_null(p);
    assert_non_null(strstr(err.msg, "NTM_CONFIG_DIR"));
}

static void
test_fold_and_width(void **state)
{
    char *f = ntm_text_fold_compat("Đoàn Thanh niên TÂY NINH");
    (void)state;
    assert_string_equal(f, "doan thanh nien tay ninh");
    ntm_free(f);
    assert_int_equal(ntm_text_width("Phường Hiệp Ninh"), 16);
    assert_int_equal(ntm_text_distance("kitten", "sitting", 5), 3);
}

/* A task's data dictionary as a form needs it: the kinds it takes, each
 * kind's fields with the task's own rules merged over the kind's, the
 * units a quantity may be given in. */
static void
test_task_dict(void **state)
{
    struct ntm_plan *p = *state;
    json_t *d = ntm_plan_task_dict(p, "doan.canals_km");
    assert_non_null(d);
    assert_int_equal(json_array_size(json_object_get(d, "kinds")), 1);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(d, "kinds"), 0)),
        "activity");
    assert_string_equal(json_string_value(json_object_get(d, "uom")), "km");
    json_t *acc = json_object_get(d, "accepts");
    assert_true(json_number_value(json_object_get(acc, "m")) == 0.001);
    assert_true(json_number_value(json_object_get(acc, "km")) == 1);
    json_t *f = json_object_get(json_object_get(d, "fields"), "activity");
    assert_true(
        json_is_true(json_object_get(json_object_get(f, "date"), "required")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f, "qty"), "type")),
        "decimal");
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(f, "people"), "max")),
                     10000000);
    assert_null(json_object_get(json_object_get(d, "fields"), "measure"));
    json_decref(d);
    /* a register adds the entity's name and the day it was dissolved */
    d = ntm_plan_task_dict(p, "doan.migrant_teams");
    f = json_object_get(json_object_get(d, "fields"), "activity");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(f, "name"), "max")),
        200);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(f, "dissolved"), "type")),
                        "date");
    assert_true(
        json_is_true(json_object_get(json_object_get(f, "date"), "required")));
    json_decref(d);
    /* a measure: period, num and den, all required; den from 1 */
    d = ntm_plan_task_dict(p, "doan.poor_youth_households");
    f = json_object_get(json_object_get(d, "fields"), "measure");
    assert_non_null(f);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(f, "den"), "min")),
        1);
    json_decref(d);
    assert_null(ntm_plan_task_dict(p, "doan.no_such_task"));
    assert_null(ntm_plan_task_dict(p, NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_orgs),
        cmocka_unit_test(test_plan_every_target),
        cmocka_unit_test(test_plan_tasks),
        cmocka_unit_test(test_plan_task_errors),
        cmocka_unit_test(test_dictionary),
        cmocka_unit_test(test_task_dict),
        cmocka_unit_test(test_units_counts),
        cmocka_unit_test(test_units_types_and_names),
        cmocka_unit_test(test_units_merge),
        cmocka_unit_test(test_check_unit),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_fold_and_width),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
