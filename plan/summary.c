/* SPDX-License-Identifier: MIT */
/*
 * summary.c - the work of every organization: for every task of the plan
 * (plain tasks as well as numeric targets), per unit and calendar year,
 * how many activities and measures were recorded, the quantity in the
 * task's canonical unit, the people taking part, the money and the
 * working days, where recorded (config/README.md, "The work of every
 * organization").
 *
 * report.c collects the records the data dictionary accepts (struct
 * Ntm_srec); this file adds them up for the report's unit and each unit
 * directly below it, every unit's figure rolling up what was recorded at
 * or below it. Depends on util/ and plan_int.h.
 */
#include "plan_int.h"

#include <stdlib.h>
#include <string.h>

static int
srec_cmp(const void *a, const void *b)
{
    const struct Ntm_srec *x = a, *y = b;
    if (x->task != y->task)
        return x->task < y->task ? -1 : 1;
    return x->year < y->year ? -1 : x->year > y->year;
}

static void
add(struct Ntm_sum *m, const struct Ntm_srec *s)
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

enum ntm_err
Ntm_summary_build(struct ntm_report *r, struct Ntm_srec *s, int n,
                  const struct Ntm_unit *units, int nunits,
                  const struct Ntm_unit *top)
{
    const struct ntm_plan *p = r->plan;
    const struct Ntm_unit **U;
    struct Ntm_sum *acc;
    int nu = 0, i, j, k, cap = 0;

    if (n > 1)
        qsort(s, (size_t)n, sizeof(*s), srec_cmp);
    U = ntm_calloc((size_t)nunits + 1, sizeof(*U));
    acc = ntm_calloc((size_t)nunits + 1, sizeof(*acc));
    if (!U || !acc) {
        ntm_free(U);
        ntm_free(acc);
        return NTM_ENOMEM;
    }
    U[nu++] = top;
    for (i = 0; i < nunits; i++)
        if (!strcmp(units[i].parent, top->code))
            U[nu++] = &units[i];
    /* one run per task and year: every unit's sums, then its rows */
    for (i = 0; i < n; i = j) {
        for (j = i; j < n && s[j].task == s[i].task && s[j].year == s[i].year;
             j++)
            ;
        memset(acc, 0, (size_t)nu * sizeof(*acc));
        for (k = i; k < j; k++) {
            int u;
            for (u = 0; u < nu; u++)
                if (Ntm_code_within(s[k].unit, U[u]->code))
                    add(&acc[u], &s[k]);
        }
        for (k = 0; k < nu; k++) {
            struct Ntm_sum *m;
            if (!acc[k].activities && !acc[k].measures)
                continue;
            if (r->nsums == cap) {
                int ncap = cap ? cap * 2 : 32;
                struct Ntm_sum *nn =
                    ntm_realloc(r->sums, (size_t)ncap * sizeof(*nn));
                if (!nn)
                    goto nomem;
                r->sums = nn;
                cap = ncap;
            }
            m = &r->sums[r->nsums];
            *m = acc[k];
            m->task = &p->tasks[s[i].task];
            m->uom = ntm_plan_task_uom(p, m->task->id);
            memcpy(m->unit, U[k]->code, PLAN_CODE_LEN);
            memcpy(m->level, U[k]->level, sizeof(m->level));
            m->depth = k ? 1 : 0;
            m->year = s[i].year;
            m->qty = thousandths(m->qty);
            m->money = thousandths(m->money);
            m->days = thousandths(m->days);
            m->unit_name = ntm_strdup(Ntm_unit_ver_at(U[k], r->as_of)->name);
            if (!m->unit_name)
                goto nomem;
            r->nsums++;
        }
    }
    ntm_free(U);
    ntm_free(acc);
    return NTM_OK;
nomem:
    ntm_free(U);
    ntm_free(acc);
    return NTM_ENOMEM;
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
