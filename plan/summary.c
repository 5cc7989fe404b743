/* SPDX-License-Identifier: MIT */
/*
 * summary.c - the work of every organization: for every task of the plan
 * (plain tasks as well as numeric targets), per unit and calendar year,
 * how many activities and measures were recorded, the quantity in the
 * task's canonical unit, the people taking part, the money and the
 * working days, where recorded (config/README.md, "The work of every
 * organization").
 *
 * report.c reads the records the data dictionary accepts one at a time
 * (struct Ntm_srec) and adds each, as it comes, to the sums of its task
 * and year (struct Ntm_sumgroup) of the report's unit and of the unit
 * directly below it that holds it (Ntm_summary_add), every unit's figure
 * rolling up what was recorded at or below it; this file turns the sums
 * into rows. Depends on util/ and plan_int.h.
 */
#include "plan_int.h"

#include <stdlib.h>
#include <string.h>

void
Ntm_summary_add(struct Ntm_sum *m, const struct Ntm_srec *s)
{
    if (s->measure)
        m->measures++;
    else
        m->activities++;
    if (s->has_qty) {
        m->has_qty = 1;
        m->qty += s->qty;
    }
    if (s->has_people) {
        m->has_people = 1;
        m->people += s->people;
    }
    if (s->has_money) {
        m->has_money = 1;
        m->money += s->money;
    }
    if (s->has_days) {
        m->has_days = 1;
        m->days += s->days;
    }
}

static double
thousandths(double v)
{
    return (double)Ntm_plan_round(v * 1000) / 1000.0;
}

static int
group_cmp(const void *a, const void *b)
{
    const struct Ntm_sumgroup *x = a, *y = b;
    if (x->task != y->task)
        return x->task < y->task ? -1 : 1;
    return x->year < y->year ? -1 : x->year > y->year;
}

enum ntm_err
Ntm_summary_build(struct ntm_report *r, struct Ntm_sumgroup *g, int ng,
                  const struct Ntm_unit *const *U, int nu)
{
    const struct ntm_plan *p = r->plan;
    int i, k, cap = 0;

    if (ng > 1)
        qsort(g, (size_t)ng, sizeof(*g), group_cmp);
    /* one group per task and year: its rows, the report's unit first */
    for (i = 0; i < ng; i++) {
        for (k = 0; k < nu; k++) {
            struct Ntm_sum *m, *acc = &g[i].acc[k];
            if (!acc->activities && !acc->measures)
                continue;
            if (r->nsums == cap) {
                int ncap = cap ? cap * 2 : 32;
                struct Ntm_sum *nn =
                    ntm_realloc(r->sums, (size_t)ncap * sizeof(*nn));
                if (!nn)
                    return NTM_ENOMEM;
                r->sums = nn;
                cap = ncap;
            }
            m = &r->sums[r->nsums];
            *m = *acc;
            m->task = &p->tasks[g[i].task];
            m->uom = ntm_plan_task_uom(p, m->task->id);
            memcpy(m->unit, U[k]->code, PLAN_CODE_LEN);
            memcpy(m->level, U[k]->level, sizeof(m->level));
            m->depth = k ? 1 : 0;
            m->year = g[i].year;
            m->qty = thousandths(m->qty);
            m->money = thousandths(m->money);
            m->days = thousandths(m->days);
            m->unit_name = ntm_strdup(Ntm_unit_ver_at(U[k], r->as_of)->name);
            if (!m->unit_name)
                return NTM_ENOMEM;
            r->nsums++;
        }
    }
    return NTM_OK;
}

void
Ntm_summary_free(struct ntm_report *r)
{
    int i;
    for (i = 0; i < r->nsums; i++)
        ntm_free(r->sums[i].unit_name);
    ntm_free(r->sums);
    r->sums = NULL;
    r->nsums = 0;
}
