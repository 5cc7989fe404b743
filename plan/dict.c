/* SPDX-License-Identifier: MIT */
/*
 * dict.c - the plan's data dictionary (config/README.md, "The data
 * dictionary"): which record kinds a task takes, its fields (required or
 * not, type, range), its canonical unit of measure and the units it
 * accepts with their factors, and whether a measure's numerator may
 * exceed its denominator. ntm_plan_check_record is the one place these
 * rules are applied: the tool before signing, the report before counting.
 *
 * The store never consults it: the log and the merged state stay
 * independent of the plan files, so replicas with different plan versions
 * converge; a record this dictionary refuses is listed by the report as
 * not counted. Depends on util/, jansson and plan.c's tables.
 */
#include "plan_int.h"

#include <stdlib.h>
#include <string.h>

static const char *
str_member(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

const struct Ntm_task *
Ntm_plan_task(const struct ntm_plan *p, const char *id)
{
    int i;
    for (i = 0; id && i < p->ntasks; i++)
        if (!strcmp(p->tasks[i].id, id))
            return &p->tasks[i];
    return NULL;
}

enum ntm_err
Ntm_dict_check_task(const struct ntm_plan *p, json_t *rec, const char *file,
                    const char *id, struct ntm_error *err)
{
    json_t *kinds = json_object_get(rec, "kinds"), *k, *acc, *v;
    const char *uom = str_member(rec, "uom"), *u;
    size_t i;

    if (!json_is_object(rec) || !json_array_size(kinds) || !uom ||
        !json_object_get(p->uoms, uom))
        goto bad;
    json_array_foreach (kinds, i, k) {
        const char *s = json_string_value(k);
        if (!s || (strcmp(s, "activity") && strcmp(s, "measure")))
            goto bad;
    }
    acc = json_object_get(rec, "accepts");
    if (acc && !json_is_object(acc))
        goto bad;
    json_object_foreach (acc, u, v)
        if (!json_is_number(v) || json_number_value(v) <= 0 ||
            !json_object_get(p->uoms, u))
            goto bad;
    if (json_object_get(rec, "fields") &&
        !json_is_object(json_object_get(rec, "fields")))
        goto bad;
    return NTM_OK;
bad:
    return ntm_error_set(err, NTM_ECONFIG,
                         "plan file '%s': task '%s' has no valid \"record\" "
                         "(kinds, uom, accepts, fields) - fix the file "
                         "(format in config/README.md)",
                         file, id ? id : "");
}

/* "12.5" -> 12.5 for a decimal of SPEC.md section 3 (or a JSON number);
 * -1 when it is none */
double
Ntm_dict_decimal(json_t *v)
{
    const char *s = json_string_value(v);
    if (json_is_number(v))
        return json_number_value(v) >= 0 ? json_number_value(v) : -1;
    if (!s || !ntm_field_qty_valid(s))
        return -1;
    return strtod(s, NULL);
}

/* attribute attr of a field's rule: the task's override, else the kind's */
static json_t *
rule(json_t *base, json_t *over, const char *attr)
{
    json_t *v = json_object_get(over, attr);
    return v ? v : json_object_get(base, attr);
}

/* "km, m (1 m = 0.001 km)" */
static void
accepted_units(json_t *rec, struct ntm_buf *b)
{
    json_t *acc = json_object_get(rec, "accepts"), *v;
    const char *uom = str_member(rec, "uom"), *u;
    int n = 0;
    if (!json_object_size(acc)) {
        ntm_buf_adds(b, uom);
        return;
    }
    json_object_foreach (acc, u, v) {
        if (json_number_value(v) == 1)
            ntm_buf_addf(b, "%s%s", n++ ? ", " : "", u);
        else
            ntm_buf_addf(b, "%s%s (1 %s = %.10g %s)", n++ ? ", " : "", u, u,
                         json_number_value(v), uom);
    }
}

/* the factor of uom to the task's canonical unit, 0 when not accepted */
static double
factor_of(json_t *rec, const char *uom)
{
    json_t *acc = json_object_get(rec, "accepts");
    if (!json_object_size(acc))
        return strcmp(uom, str_member(rec, "uom")) ? 0 : 1;
    return json_number_value(json_object_get(acc, uom));
}

/* One field against its rule: type, then range. */
static enum ntm_err
check_field(const char *task, const char *name, json_t *v, json_t *base,
            json_t *over, const char **code, struct ntm_error *err)
{
    const char *type = json_string_value(rule(base, over, "type"));
    json_t *min = rule(base, over, "min"), *max = rule(base, over, "max");
    double x = 0;
    int have = 0;
    char a[48], b[48];

    *code = "bad_field";
    if (!type)
        return NTM_OK;
    if (!strcmp(type, "date")) {
        if (!json_is_string(v) || !ntm_field_date_valid(json_string_value(v)))
            return ntm_error_set(err, NTM_EINVAL,
                                 N_("field '%s' of task '%s' must be a real "
                                    "date YYYY-MM-DD"),
                                 name, task);
    } else if (!strcmp(type, "period")) {
        if (!json_is_string(v) || !ntm_field_period_valid(json_string_value(v)))
            return ntm_error_set(err, NTM_EINVAL,
                                 N_("field '%s' of task '%s' must be a period "
                                    "YYYY or YYYY-MM"),
                                 name, task);
    } else if (!strcmp(type, "decimal")) {
        if ((x = Ntm_dict_decimal(v)) < 0)
            return ntm_error_set(err, NTM_EINVAL,
                                 N_("field '%s' of task '%s' must be a decimal "
                                    "number with up to 12 digits and 3 "
                                    "decimals"),
                                 name, task);
        have = 1;
    } else if (!strcmp(type, "int")) {
        if (!json_is_integer(v))
            return ntm_error_set(err, NTM_EINVAL,
                                 N_("field '%s' of task '%s' must be a whole "
                                    "number"),
                                 name, task);
        x = (double)json_integer_value(v);
        have = 1;
    } else if (!strcmp(type, "text") || !strcmp(type, "uom")) {
        if (!json_is_string(v))
            return ntm_error_set(err, NTM_EINVAL,
                                 N_("field '%s' of task '%s' must be text"),
                                 name, task);
        if (json_is_number(max) && (double)ntm_text_char_len(json_string_value(
                                       v)) > json_number_value(max)) {
            snprintf(a, sizeof(a), "%.0f", json_number_value(max));
            return ntm_error_set(err, NTM_EINVAL,
                                 N_("field '%s' of task '%s' is longer than "
                                    "%s characters"),
                                 name, task, a);
        }
    }
    if (!have)
        return NTM_OK;
    snprintf(a, sizeof(a), "%.10g", x);
    if (json_is_number(min) && x < json_number_value(min)) {
        snprintf(b, sizeof(b), "%.10g", json_number_value(min));
        return ntm_error_set(err, NTM_EINVAL,
                             N_("field '%s' of task '%s' is %s, less than "
                                "%s"),
                             name, task, a, b);
    }
    if (json_is_number(max) && x > json_number_value(max)) {
        snprintf(b, sizeof(b), "%.10g", json_number_value(max));
        return ntm_error_set(err, NTM_EINVAL,
                             N_("field '%s' of task '%s' is %s, more than "
                                "%s"),
                             name, task, a, b);
    }
    return NTM_OK;
}

enum ntm_err
Ntm_dict_check(const struct ntm_plan *p, const char *kind, json_t *fields,
               double *qty_out, const char **code, const char **field,
               struct ntm_error *err)
{
    const char *task = str_member(fields, "task");
    const struct Ntm_task *t = Ntm_plan_task(p, task);
    json_t *rec, *base, *over, *k, *v, *spec;
    const char *name;
    int activity = kind && !strcmp(kind, "activity");
    size_t i;
    enum ntm_err rc;
    struct ntm_buf units = NTM_BUF_INIT;

    if (qty_out)
        *qty_out = 0;
    *code = "unknown_task";
    *field = "task";
    if (!t)
        return ntm_plan_check_task(p, task, NULL, NULL, err);
    rec = t->record;
    *code = "wrong_kind";
    *field = "kind";
    json_array_foreach (json_object_get(rec, "kinds"), i, k)
        if (kind && !strcmp(kind, json_string_value(k)))
            break;
    if (i == json_array_size(json_object_get(rec, "kinds")))
        return ntm_error_set(
            err, NTM_EINVAL,
            N_("task '%s' takes %s records, not %s - record "
               "it as 'ntm record %s'"),
            task,
            json_string_value(json_array_get(json_object_get(rec, "kinds"), 0)),
            kind ? kind : "",
            json_string_value(
                json_array_get(json_object_get(rec, "kinds"), 0)));
    if (!activity) {
        json_t *num = json_object_get(fields, "num"),
               *den = json_object_get(fields, "den");
        if (json_is_integer(den) && json_integer_value(den) <= 0) {
            *code = "den_not_positive";
            *field = "den";
            return ntm_error_set(err, NTM_EINVAL,
                                 N_("the denominator %lld of task '%s' must be "
                                    "greater than 0"),
                                 (long long)json_integer_value(den), task);
        }
        if (json_is_true(json_object_get(rec, "num_le_den")) &&
            json_is_integer(num) && json_is_integer(den) &&
            json_integer_value(num) > json_integer_value(den)) {
            *code = "num_above_den";
            *field = "num";
            return ntm_error_set(
                err, NTM_EINVAL,
                N_("the numerator %lld is above the denominator %lld: task "
                   "'%s' counts a part of a whole (num <= den)"),
                (long long)json_integer_value(num),
                (long long)json_integer_value(den), task);
        }
    }
    base = json_object_get(p->fields, kind);
    over = json_object_get(rec, "fields");
    /* required fields and types, the kind's fields then the task's own */
    json_object_foreach (base, name, spec) {
        json_t *o = json_object_get(over, name);
        v = json_object_get(fields, name);
        if (!v && json_is_true(rule(spec, o, "required"))) {
            *code = "missing_field";
            *field = name;
            return ntm_error_set(err, NTM_EINVAL,
                                 N_("task '%s' needs the field '%s'"), task,
                                 name);
        }
        *field = name;
        if (v && (rc = check_field(task, name, v, spec, o, code, err)))
            return rc;
    }
    json_object_foreach (over, name, spec) {
        if (json_object_get(base, name))
            continue;
        v = json_object_get(fields, name);
        if (!v && json_is_true(json_object_get(spec, "required"))) {
            *code = "missing_field";
            *field = name;
            return ntm_error_set(err, NTM_EINVAL,
                                 N_("task '%s' needs the field '%s'"), task,
                                 name);
        }
        *field = name;
        if (v && (rc = check_field(task, name, v, NULL, spec, code, err)))
            return rc;
    }
    *field = NULL;
    if (!activity) {
        *code = NULL;
        return NTM_OK;
    }
    v = json_object_get(fields, "qty");
    {
        const char *uom = str_member(fields, "uom");
        double f;
        if (!v && !uom) {
            *code = NULL;
            return NTM_OK;
        }
        accepted_units(rec, &units);
        if (!v) {
            *code = "no_qty";
            *field = "qty";
            rc = ntm_error_set(err, NTM_EINVAL,
                               N_("unit of measure '%s' without a quantity "
                                  "(task '%s')"),
                               uom, task);
        } else if (!uom || !*uom) {
            *code = "no_uom";
            *field = "uom";
            rc = ntm_error_set(err, NTM_EINVAL,
                               N_("a quantity needs its unit of measure: task "
                                  "'%s' accepts %s"),
                               task, ntm_buf_str(&units));
        } else if ((f = factor_of(rec, uom)) <= 0) {
            *code = "uom_not_accepted";
            *field = "uom";
            rc = ntm_error_set(err, NTM_EINVAL,
                               N_("unit %s not accepted for %s (task '%s'): "
                                  "use %s"),
                               uom, str_member(rec, "uom"), task,
                               ntm_buf_str(&units));
        } else {
            if (qty_out)
                *qty_out = Ntm_dict_decimal(v) * f;
            *code = NULL;
            rc = NTM_OK;
        }
    }
    ntm_buf_release(&units);
    return rc;
}

enum ntm_err
ntm_plan_check_record(const struct ntm_plan *p, const char *kind,
                      json_t *fields, double *qty, const char **field,
                      struct ntm_error *err)
{
    const char *code;
    const char *at = NULL;
    enum ntm_err rc = Ntm_dict_check(p, kind, fields, qty, &code, &at, err);
    if (field)
        *field = rc == NTM_OK ? NULL : at;
    return rc;
}

json_t *
ntm_plan_task_dict(const struct ntm_plan *p, const char *task)
{
    const struct Ntm_task *t = Ntm_plan_task(p, task);
    json_t *rec, *kinds, *over, *acc, *k, *spec, *d, *fields;
    const char *name;
    size_t i;
    if (!t)
        return NULL;
    rec = t->record;
    kinds = json_object_get(rec, "kinds");
    over = json_object_get(rec, "fields");
    acc = json_object_get(rec, "accepts");
    d = json_pack(
        "{s:O, s:s, s:o, s:b, s:o}", "kinds", kinds, "uom",
        str_member(rec, "uom"), "accepts",
        json_object_size(acc) ? json_deep_copy(acc)
                              : json_pack("{s:i}", str_member(rec, "uom"), 1),
        "num_le_den", json_is_true(json_object_get(rec, "num_le_den")),
        "fields", json_object());
    if (!d)
        return NULL;
    fields = json_object_get(d, "fields");
    json_array_foreach (kinds, i, k) {
        json_t *base = json_object_get(p->fields, json_string_value(k));
        json_t *m = json_object();
        /* the kind's rules, each attribute the task sets replacing its */
        json_object_foreach (base, name, spec) {
            json_t *f = json_deep_copy(spec);
            json_object_update(f, json_object_get(over, name));
            json_object_set_new(m, name, f);
        }
        json_object_foreach (over, name, spec)
            if (!json_object_get(base, name))
                json_object_set_new(m, name, json_deep_copy(spec));
        json_object_set_new(fields, json_string_value(k), m);
    }
    return d;
}

const char *
ntm_plan_task_uom(const struct ntm_plan *p, const char *task)
{
    const struct Ntm_task *t = Ntm_plan_task(p, task);
    return t ? str_member(t->record, "uom") : NULL;
}

int
ntm_plan_unit_listed(const struct ntm_plan *p, const char *task,
                     const char *unit, const char **file)
{
    const struct Ntm_task *t = Ntm_plan_task(p, task);
    if (!t || !unit || t->cal.nlist <= 0)
        return -1;
    if (file)
        *file = t->cal.list_file;
    return Ntm_cal_listed(&t->cal, unit);
}
