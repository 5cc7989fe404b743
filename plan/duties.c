/* SPDX-License-Identifier: MIT */
/*
 * duties.c - duties with a calendar: "every month", "each year around 5
 * June", "a yearly review". Each responsible unit (a level of the tree,
 * optionally of some types) owes its records in every period; this file
 * judges each unit per year and period, lists the periods missing, and
 * gives the completeness of each duty for the report's unit and the units
 * directly below it (reported / expected unit-periods, as DHIS2's
 * reporting rate). The rules are written in config/README.md, "Duties
 * with a calendar".
 *
 * report.c gathers the records the data dictionary accepts (struct
 * Ntm_srec, one per task, unit, year and date with its count); the target rows
 * of a duty (report.c) add up these figures. Depends on util/ and plan_int.h.
 */
#include "plan_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
mmdd_valid(const char *s)
{
    char d[PLAN_DATE_LEN];
    if (!s || strlen(s) != 5)
        return 0;
    snprintf(d, sizeof(d), "2016-%s", s); /* a leap year: 02-29 is valid */
    return ntm_date_valid(d);
}

enum ntm_err
Ntm_cal_parse(json_t *o, int min, struct Ntm_cal *cal, const char *file,
              const char *id, struct ntm_error *err)
{
    const char *k = json_string_value(json_object_get(o, "kind"));
    const char *lv = json_string_value(json_object_get(o, "level"));
    const char *from = json_string_value(json_object_get(o, "from"));
    const char *to = json_string_value(json_object_get(o, "to"));
    const char *list = json_string_value(json_object_get(o, "list"));
    json_t *ap = json_object_get(o, "applies_to");
    json_t *ex = json_object_get(o, "expected");
    size_t i;

    memset(cal, 0, sizeof(*cal));
    if (!o)
        return NTM_OK;
    if (!k || !lv || strlen(lv) >= sizeof(cal->level) ||
        (strcmp(lv, "hamlet") && strcmp(lv, "commune") &&
         strcmp(lv, "district") && strcmp(lv, "province")))
        goto bad;
    if (!strcmp(k, "every_month"))
        cal->kind = NTM_CAL_MONTH;
    else if (!strcmp(k, "yearly"))
        cal->kind = NTM_CAL_YEAR;
    else if (!strcmp(k, "yearly_window")) {
        if (!mmdd_valid(from) || !mmdd_valid(to) || strcmp(from, to) > 0)
            goto bad;
        cal->kind = NTM_CAL_WINDOW;
        memcpy(cal->from, from, 6);
        memcpy(cal->to, to, 6);
    } else
        goto bad;
    memcpy(cal->level, lv, strlen(lv) + 1);
    for (i = 0; i < json_array_size(ap) && i < 8; i++)
        if (json_string_value(json_array_get(ap, i)))
            cal->applies[cal->napplies++] =
                json_string_value(json_array_get(ap, i));
    cal->min = min > 0 ? min : 1;
    if (list) {
        /* a plain file name of the config folder, with its expected
         * count; each listed unit owes one yearly measure */
        if (!*list || strchr(list, '/') || list[0] == '.' ||
            cal->kind != NTM_CAL_YEAR || !json_is_integer(ex) ||
            json_integer_value(ex) < 1 || json_integer_value(ex) > 100000)
            return ntm_error_set(err, NTM_ECONFIG,
                                 "plan file '%s': bad \"calendar\" of '%s': "
                                 "a \"list\" is a file name of the config "
                                 "folder, with kind yearly and \"expected\" "
                                 "> 0 - fix the file (config/README.md)",
                                 file, id ? id : "");
        cal->list_file = list;
        cal->expected = (int)json_integer_value(ex);
        cal->min = 1; /* one measure a year */
    }
    return NTM_OK;
bad:
    return ntm_error_set(err, NTM_ECONFIG,
                         "plan file '%s': bad \"calendar\" of '%s' (kind "
                         "every_month, yearly_window with from/to MM-DD or "
                         "yearly; level hamlet, commune, district or "
                         "province) - fix the file (format in "
                         "config/README.md)",
                         file, id ? id : "");
}

/* ---- named lists (config/README.md, "Named lists") ---- */

#define LIST_MAX_BYTES (1u << 20)

int
Ntm_cal_listed(const struct Ntm_cal *cal, const char *code)
{
    int i;
    for (i = 0; i < cal->nlist; i++)
        if (Ntm_code_within(code, cal->list[i]))
            return 1;
    return 0;
}

/* One list file: "#" comment lines, a header "code,name", then one unit
 * per line (the name only helps the admin who fills it; the code rules).
 * Each code is a unit of units.csv at the calendar's level, named once;
 * no more than the plan expects. */
static enum ntm_err
load_list(struct ntm_plan *p, struct Ntm_task *t, const char *dir,
          struct ntm_error *err)
{
    struct Ntm_cal *cal = &t->cal;
    struct ntm_buf path = NTM_BUF_INIT, b = NTM_BUF_INIT;
    enum ntm_err rc;
    char *line, *next;
    int lineno = 0, header = 0;

    if (ntm_buf_addf(&path, "%s/%s", dir, cal->list_file))
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    rc = ntm_file_read(path.buf, LIST_MAX_BYTES, &b, err);
    if (rc == NTM_ENOENT) {
        /* not named yet: the report says so */
        ntm_error_clear(err);
        ntm_buf_release(&path);
        return NTM_OK;
    }
    cal->list = rc ? NULL : ntm_calloc((size_t)cal->expected, PLAN_CODE_LEN);
    if (!rc && !cal->list)
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
    for (line = b.buf; !rc && line && *line; line = next) {
        char *comma, *end;
        const struct Ntm_unit *u;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if ((end = strchr(line, '\r')))
            *end = '\0';
        if (lineno == 1 && !strncmp(line, "\xEF\xBB\xBF", 3))
            line += 3;
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '#')
            continue;
        if (!header) {
            if (strncmp(line, "code,", 5) && strcmp(line, "code"))
                rc = ntm_error_set(err, NTM_ECONFIG,
                                   "list '%s' line %d: the first line is the "
                                   "header \"code,name\" - fix the file",
                                   path.buf, lineno);
            header = 1;
            continue;
        }
        if ((comma = strchr(line, ',')))
            *comma = '\0';
        for (end = line + strlen(line); end > line && end[-1] == ' ';)
            *--end = '\0';
        u = Ntm_unit_find(p, line);
        if (!u || strcmp(u->level, cal->level))
            rc = ntm_error_set(err, NTM_ECONFIG,
                               "list '%s' line %d: '%s' is not a %s of "
                               "units.csv - write the unit's code as "
                               "'ntm units' shows it",
                               path.buf, lineno, line, cal->level);
        else if (Ntm_cal_listed(cal, line))
            rc = ntm_error_set(err, NTM_ECONFIG,
                               "list '%s' line %d: '%s' is listed twice - "
                               "remove one line",
                               path.buf, lineno, line);
        else if (cal->nlist == cal->expected)
            rc = ntm_error_set(err, NTM_ECONFIG,
                               "list '%s' line %d: the plan names %d units "
                               "for task '%s', the list more - remove the "
                               "extra lines",
                               path.buf, lineno, cal->expected, t->id);
        else
            memcpy(cal->list[cal->nlist++], u->code, PLAN_CODE_LEN);
    }
    ntm_buf_release(&path);
    ntm_buf_release(&b);
    return rc;
}

enum ntm_err
Ntm_lists_load(struct ntm_plan *p, const char *dir, struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    int i;
    for (i = 0; i < p->ntasks && !rc; i++)
        if (p->tasks[i].cal.list_file)
            rc = load_list(p, &p->tasks[i], dir, err);
    return rc;
}

void
Ntm_lists_free(struct ntm_plan *p)
{
    int i;
    for (i = 0; i < p->ntasks; i++) {
        ntm_free(p->tasks[i].cal.list);
        p->tasks[i].cal.list = NULL;
        p->tasks[i].cal.nlist = 0;
    }
}

static int
nperiods(const struct Ntm_cal *cal)
{
    return cal->kind == NTM_CAL_MONTH ? 12 : 1;
}

/* the first and last day of period p (1-based) of year */
static void
period_bounds(const struct Ntm_cal *cal, int year, int p,
              char ps[PLAN_DATE_LEN], char pe[PLAN_DATE_LEN])
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100) || year % 400 == 0;
    switch (cal->kind) {
    case NTM_CAL_MONTH:
        snprintf(ps, PLAN_DATE_LEN, "%04d-%02d-01", year, p);
        snprintf(pe, PLAN_DATE_LEN, "%04d-%02d-%02d", year, p,
                 mdays[p - 1] + (p == 2 && leap));
        return;
    case NTM_CAL_WINDOW:
        snprintf(ps, PLAN_DATE_LEN, "%04d-%s", year, cal->from);
        snprintf(pe, PLAN_DATE_LEN, "%04d-%s", year, cal->to);
        if (!ntm_date_valid(pe)) /* 02-29 in a common year */
            snprintf(pe, PLAN_DATE_LEN, "%04d-02-28", year);
        return;
    case NTM_CAL_YEAR:
    case NTM_CAL_NONE:
        break;
    }
    snprintf(ps, PLAN_DATE_LEN, "%04d-01-01", year);
    snprintf(pe, PLAN_DATE_LEN, "%04d-12-31", year);
}

void
Ntm_duty_period(const struct Ntm_cal *cal, int year, int p, char *out,
                size_t size)
{
    if (cal->kind == NTM_CAL_MONTH)
        snprintf(out, size, "%04d-%02d", year, p);
    else if (cal->kind == NTM_CAL_WINDOW)
        snprintf(out, size, "%04d-%s..%s", year, cal->from, cal->to);
    else
        snprintf(out, size, "%04d", year);
}

static int
responsible(const struct Ntm_cal *cal, const struct Ntm_unit *u,
            const char *as_of)
{
    const char *type;
    int i;
    if (strcmp(u->level, cal->level))
        return 0;
    if (cal->list_file) {
        for (i = 0; i < cal->nlist; i++)
            if (!strcmp(cal->list[i], u->code))
                return 1;
        return 0;
    }
    if (!cal->napplies)
        return 1;
    type = Ntm_unit_ver_at(u, as_of)->type;
    for (i = 0; i < cal->napplies; i++)
        if (!strcmp(cal->applies[i], type))
            return 1;
    return 0;
}

/* The years a task's duty runs: its target's years, else the plan's. */
static void
task_years(const struct ntm_plan *p, const struct Ntm_task *t, int *from,
           int *to)
{
    int k;
    *from = (int)strtol(p->from, NULL, 10);
    *to = (int)strtol(p->to, NULL, 10);
    if (t->target < 0)
        return;
    *from = p->targets[t->target].year_from;
    *to = p->targets[t->target].year_to;
    for (k = 0; k < p->ntargets; k++) /* a target repeated by a later file */
        if (!strcmp(p->targets[k].id, t->id)) {
            if (p->targets[k].year_from < *from)
                *from = p->targets[k].year_from;
            if (p->targets[k].year_to > *to)
                *to = p->targets[k].year_to;
        }
}

static enum ntm_err
push_duty(struct ntm_report *r, int *cap, const struct Ntm_duty *d)
{
    if (r->nduties == *cap) {
        int ncap = *cap ? *cap * 2 : 64;
        struct Ntm_duty *nd =
            ntm_realloc(r->duties, (size_t)ncap * sizeof(*nd));
        if (!nd)
            return NTM_ENOMEM;
        r->duties = nd;
        *cap = ncap;
    }
    r->duties[r->nduties++] = *d;
    return NTM_OK;
}

/* one responsible unit's year: which periods have their records */
static void
judge(const struct Ntm_cal *cal, const struct Ntm_srec *s, int n, int task,
      const char *A, struct Ntm_duty *d)
{
    int64_t per[13] = {0};
    int i, p;
    char ps[PLAN_DATE_LEN], pe[PLAN_DATE_LEN];

    d->nper = nperiods(cal);
    for (i = 0; i < n; i++) {
        if (cal->list_file && s[i].task == task && s[i].measure &&
            s[i].year == d->year && Ntm_code_within(s[i].unit, d->unit)) {
            /* a listed unit's yearly measure (or one below it) */
            d->records += s[i].count;
            per[1] += s[i].count;
            continue;
        }
        if (s[i].task != task || s[i].measure || s[i].year != d->year ||
            !s[i].date[0] || !Ntm_code_within(s[i].unit, d->unit))
            continue;
        d->records += s[i].count;
        for (p = 1; p <= d->nper; p++) {
            period_bounds(cal, d->year, p, ps, pe);
            if (strcmp(s[i].date, ps) >= 0 && strcmp(s[i].date, pe) <= 0)
                per[p] += s[i].count;
        }
    }
    for (p = 1; p <= d->nper; p++) {
        int ok = per[p] >= cal->min;
        period_bounds(cal, d->year, p, ps, pe);
        d->seen += ok;
        if (strcmp(A, pe) < 0)
            continue; /* not over on the as-of date */
        d->due++;
        if (ok)
            d->reported++;
        else
            d->missing |= 1u << (p - 1);
    }
}

static enum ntm_err
completeness(struct ntm_report *r, int first, const struct Ntm_unit **U, int nu,
             int *cap)
{
    int k, i;
    for (k = 0; k < nu; k++) {
        struct Ntm_compl m;
        memset(&m, 0, sizeof(m));
        for (i = first; i < r->nduties; i++) {
            const struct Ntm_duty *d = &r->duties[i];
            if (!Ntm_code_within(d->unit, U[k]->code))
                continue;
            m.units++;
            m.units_complete += d->due > 0 && d->reported == d->due;
            m.expected += d->due;
            m.reported += d->reported;
        }
        if (!m.units)
            continue;
        if (r->ncompl == *cap) {
            int ncap = *cap ? *cap * 2 : 32;
            struct Ntm_compl *nc =
                ntm_realloc(r->compl, (size_t)ncap * sizeof(*nc));
            if (!nc)
                return NTM_ENOMEM;
            r->compl = nc;
            *cap = ncap;
        }
        m.task = r->duties[first].task;
        m.year = r->duties[first].year;
        memcpy(m.unit, U[k]->code, PLAN_CODE_LEN);
        memcpy(m.level, U[k]->level, sizeof(m.level));
        m.depth = k ? 1 : 0;
        m.unit_name = ntm_strdup(Ntm_unit_ver_at(U[k], r->as_of)->name);
        if (!m.unit_name)
            return NTM_ENOMEM;
        r->compl [r->ncompl++] = m;
    }
    return NTM_OK;
}

enum ntm_err
Ntm_duties_build(struct ntm_report *r, const struct Ntm_srec *s, int n,
                 const struct Ntm_unit *units, int nunits,
                 const struct Ntm_unit *top, const char *org, int year)
{
    const struct ntm_plan *p = r->plan;
    const struct Ntm_unit **U;
    const char *A = r->as_of;
    int ti, y, i, nu = 0, dcap = 0, ccap = 0, yfrom, yto;
    enum ntm_err rc = NTM_OK;

    U = ntm_calloc((size_t)nunits + 1, sizeof(*U));
    if (!U)
        return NTM_ENOMEM;
    U[nu++] = top;
    for (i = 0; i < nunits; i++)
        if (!strcmp(units[i].parent, top->code))
            U[nu++] = &units[i];
    for (ti = 0; ti < p->ntasks && !rc; ti++) {
        const struct Ntm_task *t = &p->tasks[ti];
        if (t->cal.kind == NTM_CAL_NONE || (org && strcmp(org, t->org)))
            continue;
        task_years(p, t, &yfrom, &yto);
        for (y = yfrom; y <= yto && !rc; y++) {
            char ys[PLAN_DATE_LEN];
            int first = r->nduties;
            snprintf(ys, sizeof(ys), "%04d-01-01", y);
            if ((year && y != year) || strcmp(ys, A) > 0)
                continue;
            for (i = 0; i < nunits && !rc; i++) {
                struct Ntm_duty d;
                if (!Ntm_code_within(units[i].code, top->code) ||
                    !responsible(&t->cal, &units[i], A))
                    continue;
                memset(&d, 0, sizeof(d));
                d.task = t;
                d.year = y;
                memcpy(d.unit, units[i].code, PLAN_CODE_LEN);
                judge(&t->cal, s, n, ti, A, &d);
                d.unit_name = ntm_strdup(Ntm_unit_ver_at(&units[i], A)->name);
                if (!d.unit_name || push_duty(r, &dcap, &d)) {
                    ntm_free(d.unit_name);
                    rc = NTM_ENOMEM;
                }
            }
            if (!rc && r->nduties > first)
                rc = completeness(r, first, U, nu, &ccap);
        }
    }
    ntm_free(U);
    return rc;
}

void
Ntm_duties_free(struct ntm_report *r)
{
    int i;
    for (i = 0; i < r->nduties; i++)
        ntm_free(r->duties[i].unit_name);
    for (i = 0; i < r->ncompl; i++)
        ntm_free(r->compl [i].unit_name);
    ntm_free(r->duties);
    ntm_free(r->compl );
    r->duties = NULL;
    r->compl = NULL;
    r->nduties = r->ncompl = 0;
}
