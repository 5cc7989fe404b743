/* SPDX-License-Identifier: MIT */
/*
 * report.c - progress against every numeric target of the plan: one row
 * per target x unit x period, for the report's unit and its children,
 * each rolled up from everything recorded below it.
 *
 * Input is the record list of the store (ntm_store_records shape: deleted
 * records and revoked devices' entries are already left out) and the
 * hamlets created by unit.create. The report is seen from its as-of date:
 * the tree in force then, today's names, and records of a merged unit
 * counted under the unit that absorbed it. The arithmetic per kind and the
 * status rules are documented in config/README.md. Formatting lives in
 * report_fmt.c. Depends on util/, jansson and the plan (plan.c, units.c).
 */
#include "plan_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The leading decimal number of s (a year or month inside a date or
 * period that the store already validated); 0 when there is none. */
static int
leading_int(const char *s)
{
    long v = strtol(s, NULL, 10);
    return v > 0 && v < 100000 ? (int)v : 0;
}

/* An activity that counts for a target, reduced to what the sums need:
 * its units are interned codes (struct ctx's codes, numbered in the
 * order of the codes once every record is read). */
struct rec {
    int target;    /* index in plan->targets */
    int unit;      /* carried by (after merges) */
    int orig;      /* as recorded */
    int date;      /* activity date, YYYYMMDD */
    int dissolved; /* registers: YYYYMMDD, 0 while active */
    int order;     /* creation order */
    double value;  /* activity amount, in the canonical unit */
};

/* The figure of a recorded unit for a target and year that counts: a
 * YYYY figure beats monthly ones, then the later record. Only that one
 * is kept, as it comes. */
struct mrec {
    int target, unit, orig, order;
    int year;
    int per; /* YYYYMM, or YYYY99 for a yearly figure */
    int64_t num, den;
};

/* Open addressing of 64-bit keys to indexes (0 is never a key). */
struct imap {
    uint64_t *keys;
    int *vals;
    size_t cap, n;
};

static uint64_t
mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* the slot of key: its own, or the empty one where it goes */
static size_t
imap_slot(const struct imap *m, uint64_t key)
{
    size_t i = (size_t)mix64(key) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

/* *val of key, or -1 when absent */
static int
imap_get(const struct imap *m, uint64_t key)
{
    size_t i;
    if (!m->cap)
        return -1;
    i = imap_slot(m, key);
    return m->keys[i] ? m->vals[i] : -1;
}

static int
imap_put(struct imap *m, uint64_t key, int val)
{
    size_t i;
    if (2 * (m->n + 1) > m->cap) {
        struct imap g = {0};
        g.cap = m->cap ? m->cap * 2 : 64;
        g.keys = ntm_calloc(g.cap, sizeof(*g.keys));
        g.vals = ntm_calloc(g.cap, sizeof(*g.vals));
        if (!g.keys || !g.vals) {
            ntm_free(g.keys);
            ntm_free(g.vals);
            return -1;
        }
        for (i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = imap_slot(&g, m->keys[i]);
                g.keys[j] = m->keys[i];
                g.vals[j] = m->vals[i];
            }
        g.n = m->n;
        ntm_free(m->keys);
        ntm_free(m->vals);
        *m = g;
    }
    i = imap_slot(m, key);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

static void
imap_free(struct imap *m)
{
    ntm_free(m->keys);
    ntm_free(m->vals);
    memset(m, 0, sizeof(*m));
}

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h | 1; /* never 0 */
}

/* A record of a register (config/README.md, "Registers"), held until
 * every record of the register is seen: the first record naming an
 * entity counts, a later one naming the same entity in the same unit is
 * a duplicate. */
struct regrec {
    char *key;  /* owned: task, unit as recorded, folded name (or the id) */
    char *strs; /* owned: its facts' strings, those named in has, in the
                   order of REG_STRS, each ending in NUL */
    double qty, days;
    int64_t people, money, num, den;
    int order;
    int carrier; /* interned code of the unit that carries it */
    int task;    /* index in plan->tasks */
    int date_ymd, dissolved, approved;
    unsigned has : 9;
    unsigned dict_ok : 1, has_qty : 1, numden_int : 1, has_people : 1,
        has_money : 1, has_days : 1, has_num : 1, has_den : 1;
};

/* What collecting asks of a task (task_info_build). */
struct task_info {
    int sums_qty;    /* a target adds up its quantities */
    int reg;         /* a register */
    const char *uom; /* its canonical unit */
    int targets[8];  /* the targets named after it */
    int ntargets;
};

/* A unit code and the unit that carries its records on the as-of date. */
struct car {
    char unit[PLAN_CODE_LEN], carrier[PLAN_CODE_LEN];
    int ok;
};

struct ctx {
    const struct ntm_plan *p;
    const struct ntm_report_opts *o;
    struct ntm_report *r;
    struct Ntm_unit *units; /* the tree in force on as_of */
    int nunits;
    /* the unit codes records name, interned: codes[i] (owned); once every
     * record is read, numbered in the order of the codes */
    char **codes;
    int ncodes, codecap;
    struct imap codemap; /* hash of a code -> its number */
    struct rec *recs;    /* activities, sorted by rec_cmp once collected */
    int nrecs, reccap;
    int *tfirst;        /* per target: its activities are recs[tfirst[t]..) */
    struct mrec *mrecs; /* measures that count, sorted by mrec_cmp */
    int nmrecs, mreccap;
    int *mfirst;      /* per target: its measures are mrecs[mfirst[t]..) */
    struct imap mmap; /* (target, orig, year) -> its figure in mrecs */
    /* the summary: per task and year, sums at U[0] (the report's unit)
     * and U[1..nu) (the units directly below it) */
    const struct Ntm_unit **U;
    int nu;
    struct Ntm_sumgroup *groups;
    int ngroups, groupcap;
    struct imap groupmap;
    /* duties: records of tasks with a calendar, one per task, unit, year,
     * kind and date, with their count */
    struct Ntm_srec *srecs;
    int nsrecs, sreccap;
    struct imap srecmap;
    struct regrec *reg; /* registers' records, held */
    int nreg, regcap;
    int order;       /* records seen */
    int min_rank;    /* --approved LEVEL */
    int ncommunes;   /* communes of the province in force on as_of */
    const char *A;   /* as-of date */
    int Ai;          /* as-of date, YYYYMMDD */
    const char *top; /* the report's unit */
    enum ntm_err rc; /* the first failure while reading the records */
    const struct Ntm_fact_source *src;
    struct task_info *tinfo; /* per task of the plan */
    struct car *cars;        /* carriers of the unit codes seen */
    int ncars, carcap;
    struct imap carmap;
};

/* Grow an array of *cap elements of size sz to hold n + 1: by half its
 * size, so that the room unused is at most a third of the array (the
 * arrays of a report over a million records are tens of MB; realloc of
 * such blocks moves no bytes). */
static int
grow(void *arr, int *cap, int n, size_t sz)
{
    void **a = arr, *na;
    int ncap;
    if (n < *cap)
        return 0;
    if (*cap > INT_MAX / 3 * 2)
        return -1;
    ncap = *cap ? *cap + *cap / 2 : 256;
    if (!(na = ntm_realloc(*a, (size_t)ncap * sz)))
        return -1;
    *a = na;
    *cap = ncap;
    return 0;
}

/* The number of a unit code; -1 when out of memory. */
static int
intern(struct ctx *c, const char *code)
{
    uint64_t h = hash_str(code);
    char *dup;
    /* codes with the same hash: probe on with the next keys */
    for (;;) {
        int v = imap_get(&c->codemap, h);
        if (v < 0)
            break;
        if (!strcmp(c->codes[v], code))
            return v;
        if (!(h = h * 31 + 7))
            h = 1;
    }
    if (c->ncodes >= (1 << 24) ||
        grow(&c->codes, &c->codecap, c->ncodes, sizeof(*c->codes)) ||
        !(dup = ntm_strdup(code)))
        return -1;
    if (imap_put(&c->codemap, h, c->ncodes)) {
        ntm_free(dup);
        return -1;
    }
    c->codes[c->ncodes] = dup;
    return c->ncodes++;
}

const char *
Ntm_status_name(enum Ntm_status s)
{
    switch (s) {
    case NTM_ST_MET:
        return "met";
    case NTM_ST_ON_TRACK:
        return "on_track";
    case NTM_ST_BEHIND:
        return "behind";
    case NTM_ST_MISSED:
        return "missed";
    case NTM_ST_NO_DATA:
        return "no_data";
    }
    return "no_data";
}

const char *
Ntm_basis_name(enum Ntm_basis b)
{
    switch (b) {
    case NTM_BASIS_PLAN:
        return "plan";
    case NTM_BASIS_PER_UNIT:
        return "per_unit";
    case NTM_BASIS_RATE:
        return "rate";
    case NTM_BASIS_PRO_RATA:
        return "pro_rata";
    case NTM_BASIS_LIST:
        return "list";
    }
    return "plan";
}

const char *
Ntm_status_label(enum Ntm_status s, const char *lang)
{
    /* English msgids of the catalogue; Vietnamese unless lang is "en". */
    const char *l = lang && !strcmp(lang, "en") ? "en" : "vi";
    switch (s) {
    case NTM_ST_MET:
        return ntm_tr(l, N_("met"));
    case NTM_ST_ON_TRACK:
        return ntm_tr(l, N_("on track"));
    case NTM_ST_BEHIND:
        return ntm_tr(l, N_("behind"));
    case NTM_ST_MISSED:
        return ntm_tr(l, N_("missed"));
    case NTM_ST_NO_DATA:
        return ntm_tr(l, N_("no data"));
    }
    return "";
}

/* Does task (index in p->tasks) have a target that adds up its records'
 * quantities (a yearly or cumulative sum of qty, not a count of
 * records)? */
static int
sums_quantity(const struct ntm_plan *p, const char *task)
{
    for (int k = 0; task && k < p->ntargets; k++) {
        const struct Ntm_target *t = &p->targets[k];
        if (!strcmp(t->id, task) && !t->amount_count &&
            (t->kind == NTM_KIND_YEARLY_SUM || t->kind == NTM_KIND_CUMULATIVE))
            return 1;
    }
    return 0;
}

/* What the collection asks of a task, once per task and report: whether
 * a target sums its quantities, whether it is a register, and the
 * targets named after it (a later file may repeat a target for other
 * years). */
static enum ntm_err
task_info_build(struct ctx *c)
{
    const struct ntm_plan *p = c->p;
    if (!p->ntasks)
        return NTM_OK;
    if (!(c->tinfo = ntm_calloc((size_t)p->ntasks, sizeof(*c->tinfo))))
        return NTM_ENOMEM;
    for (int i = 0; i < p->ntasks; i++) {
        struct task_info *ti = &c->tinfo[i];
        const struct Ntm_task *t = &p->tasks[i];
        ti->sums_qty = sums_quantity(p, t->id);
        ti->reg = json_is_true(json_object_get(t->record, "register"));
        ti->uom = ntm_plan_task_uom(p, t->id);
        for (int k = 0; k < p->ntargets; k++)
            if (!strcmp(p->targets[k].id, t->id) && ti->ntargets < 8)
                ti->targets[ti->ntargets++] = k;
    }
    return NTM_OK;
}

/* The unit that carries records of unit on the as-of date (merges),
 * found once per unit code: NULL when none does. */
static const char *
carrier_of(struct ctx *c, const char *unit)
{
    uint64_t h = hash_str(unit);
    for (;;) {
        int v = imap_get(&c->carmap, h);
        if (v < 0)
            break;
        if (!strcmp(c->cars[v].unit, unit))
            return c->cars[v].ok ? c->cars[v].carrier : NULL;
        if (!(h = h * 31 + 7))
            h = 1;
    }
    if (grow(&c->cars, &c->carcap, c->ncars, sizeof(*c->cars)))
        return NULL;
    struct car *k = &c->cars[c->ncars];
    snprintf(k->unit, sizeof(k->unit), "%s", unit);
    k->ok = Ntm_unit_successor(c->p, unit, c->A, k->carrier) != 0;
    if (imap_put(&c->carmap, h, c->ncars))
        return NULL;
    c->ncars++;
    return k->ok ? k->carrier : NULL;
}

/* A record the plan cannot count, kept with the reason (in scope of the
 * report: its unit within the report's, its organization, its date or
 * period seen by the as-of date and within --year), as its facts name
 * it. */
static enum ntm_err
skip_record(struct ctx *c, const struct Ntm_rfact *x, const char *unit,
            const char *code, const struct ntm_error *why)
{
    struct ntm_report *r = c->r;
    const char *s;
    struct Ntm_skip *k;
    int i;

    if (r->nskips == r->skipcap) {
        int ncap = r->skipcap ? r->skipcap * 2 : 16;
        struct Ntm_skip *n = ntm_realloc(r->skips, (size_t)ncap * sizeof(*n));
        if (!n)
            return NTM_ENOMEM;
        r->skips = n;
        r->skipcap = ncap;
    }
    k = &r->skips[r->nskips];
    memset(k, 0, sizeof(*k));
    snprintf(k->unit, sizeof(k->unit), "%s", unit);
    snprintf(k->id, sizeof(k->id), "%s", x->id ? x->id : "");
    snprintf(k->kind, sizeof(k->kind), "%s", x->kind ? x->kind : "");
    snprintf(k->org, sizeof(k->org), "%s", x->org ? x->org : "");
    s = x->date ? x->date : x->period;
    snprintf(k->when, sizeof(k->when), "%s", s ? s : "");
    if (x->numden_int)
        snprintf(k->qty, sizeof(k->qty), "%lld/%lld", (long long)x->num,
                 (long long)x->den);
    else
        snprintf(k->qty, sizeof(k->qty), "%s", x->qty_s ? x->qty_s : "");
    snprintf(k->uom, sizeof(k->uom), "%s", x->uom_s ? x->uom_s : "");
    s = x->task >= 0 && x->task < c->p->ntasks ? c->p->tasks[x->task].id
                                               : x->task_s;
    k->task = ntm_strdup(s ? s : "");
    k->code = code ? code : "bad_field";
    k->why = *why;
    for (i = 0; i < c->nunits; i++)
        if (!strcmp(c->units[i].code, unit))
            k->unit_name =
                ntm_strdup(Ntm_unit_ver_at(&c->units[i], c->A)->name);
    if (!k->task)
        return NTM_ENOMEM;
    r->nskips++;
    return NTM_OK;
}

/* A record the dictionary refused, listed with the dictionary's words:
 * facts keep the verdict only, so the record is read again, whole. */
static enum ntm_err
skip_refused(struct ctx *c, const struct Ntm_rfact *x, const char *unit)
{
    json_t *rec = x->id ? c->src->load(c->src->ud, x->id) : NULL;
    struct ntm_error why = {0};
    const char *code = "bad_field", *at;
    enum ntm_err rc;
    double q;
    if (!rec || Ntm_dict_check(c->p, x->kind, json_object_get(rec, "fields"),
                               &q, &code, &at, &why) == NTM_OK)
        ntm_error_set(&why, NTM_EINVAL,
                      N_("the record changed while the report was read: "
                         "run the report again"));
    rc = skip_record(c, x, unit, code, &why);
    json_decref(rec);
    return rc;
}

static int
skip_cmp(const void *a, const void *b)
{
    const struct Ntm_skip *x = a, *y = b;
    int d;
    if ((d = strcmp(x->unit, y->unit)) || (d = strcmp(x->task, y->task)) ||
        (d = strcmp(x->when, y->when)))
        return d;
    return strcmp(x->id, y->id);
}

/* A record the dictionary accepted, for its task's summary: the
 * quantity in the canonical unit, people, money (amount_vnd, else a
 * quantity in vnd), working days (labor_days, else a quantity in
 * labor_day). Added at once to the sums of its task and year, and kept
 * (counted) for a task with a calendar. */
static enum ntm_err
summary_record(struct ctx *c, const struct Ntm_task *t, const char *kind,
               const struct Ntm_rfact *x, const char *carrier, int cid,
               const char *when, double qty)
{
    struct Ntm_srec sr, *s = &sr;
    const char *uom = c->tinfo[t - c->p->tasks].uom;
    int g, k;
    uint64_t key;

    memset(s, 0, sizeof(*s));
    if (!when || !(s->year = leading_int(when)))
        return NTM_OK;
    s->task = (int)(t - c->p->tasks);
    s->unit = c->codes[cid];
    s->measure = !strcmp(kind, "measure");
    s->count = 1;
    if (!s->measure && ntm_date_valid(when))
        memcpy(s->date, when, PLAN_DATE_LEN);
    if (!s->measure && x->has_qty) {
        s->has_qty = 1;
        s->qty = qty;
    }
    if (x->has_people) {
        s->has_people = 1;
        s->people = x->people;
    }
    if (x->has_money) {
        s->has_money = 1;
        s->money = (double)x->money;
    } else if (s->has_qty && uom && !strcmp(uom, "vnd")) {
        s->has_money = 1;
        s->money = qty;
    }
    if (x->has_days) {
        s->has_days = 1;
        s->days = x->days;
    } else if (s->has_qty && uom && !strcmp(uom, "labor_day")) {
        s->has_days = 1;
        s->days = qty;
    }
    /* the sums of its task and year */
    key = ((uint64_t)(unsigned)s->task << 32 | (uint32_t)s->year) + 1;
    if ((g = imap_get(&c->groupmap, key)) < 0) {
        struct Ntm_sumgroup *n;
        if (grow(&c->groups, &c->groupcap, c->ngroups, sizeof(*c->groups)))
            return NTM_ENOMEM;
        n = &c->groups[c->ngroups];
        n->task = s->task;
        n->year = s->year;
        if (!(n->acc = ntm_calloc((size_t)c->nu, sizeof(*n->acc))))
            return NTM_ENOMEM;
        if (imap_put(&c->groupmap, key, c->ngroups)) {
            ntm_free(n->acc);
            return NTM_ENOMEM;
        }
        g = c->ngroups++;
    }
    for (k = 0; k < c->nu; k++)
        if (Ntm_code_within(carrier, c->U[k]->code))
            Ntm_summary_add(&c->groups[g].acc[k], s);
    /* a duty's record: counted with the others of its task, unit, year,
     * kind and date */
    if (t->cal.kind == NTM_CAL_NONE)
        return NTM_OK;
    key = (uint64_t)(unsigned)s->task << 52 | (uint64_t)(unsigned)cid << 28 |
          (uint64_t)s->measure << 27 |
          (uint64_t)(s->date[0] ? Ntm_ymd(s->date) : s->year & 0x7ffffff);
    key += !key;
    if ((k = imap_get(&c->srecmap, key)) >= 0) {
        c->srecs[k].count++;
        return NTM_OK;
    }
    if (grow(&c->srecs, &c->sreccap, c->nsrecs, sizeof(*c->srecs)) ||
        imap_put(&c->srecmap, key, c->nsrecs))
        return NTM_ENOMEM;
    c->srecs[c->nsrecs++] = *s;
    return NTM_OK;
}

/* A record of a task the plan counts, for its summary and, for a target,
 * its figures. i: its place in the record list (creation order). */
static enum ntm_err
count_record(struct ctx *c, const struct Ntm_rfact *x, int i,
             const struct Ntm_task *task_def, const char *kind,
             const char *carrier, const char *unit, const char *when,
             double qty)
{
    const struct ntm_report_opts *o = c->o;
    const struct task_info *info = &c->tinfo[task_def - c->p->tasks];
    const struct Ntm_target *t;
    int ti = task_def->target, y, k, cid, oid;
    enum ntm_err rc;

    if ((cid = intern(c, carrier)) < 0 || (oid = intern(c, unit)) < 0)
        return NTM_ENOMEM;
    if (Ntm_code_within(carrier, c->top) &&
        (!o->year || (when && leading_int(when) == o->year)) &&
        (rc = summary_record(c, task_def, kind, x, carrier, cid, when, qty)))
        return rc;
    if (ti < 0)
        return NTM_OK;
    /* a target repeated by a later file: the one whose years hold the
     * record */
    y = when ? leading_int(when) : 0;
    for (int j = 0; j < info->ntargets; j++) {
        k = info->targets[j];
        if (y >= c->p->targets[k].year_from && y <= c->p->targets[k].year_to)
            ti = k;
    }
    t = &c->p->targets[ti];
    if (!strcmp(kind, "measure")) {
        const char *per = x->period;
        struct mrec m;
        uint64_t key;
        memset(&m, 0, sizeof(m));
        if (!per || (strlen(per) != 4 && strlen(per) != 7) || !x->has_num ||
            !x->has_den)
            return NTM_OK;
        m.num = x->num;
        m.den = x->den;
        m.target = ti;
        m.unit = cid;
        m.orig = oid;
        m.order = i;
        m.year = leading_int(per);
        m.per = m.year * 100 + (strlen(per) == 7 ? leading_int(per + 5) : 99);
        /* the figure that counts for the recorded unit and year */
        key = ((uint64_t)(unsigned)ti << 48 | (uint64_t)(unsigned)oid << 20 |
               (uint64_t)(m.year & 0xfffff)) +
              1;
        if ((k = imap_get(&c->mmap, key)) >= 0) {
            if (m.per >= c->mrecs[k].per) /* later in precedence */
                c->mrecs[k] = m;
            return NTM_OK;
        }
        if (grow(&c->mrecs, &c->mreccap, c->nmrecs, sizeof(*c->mrecs)) ||
            imap_put(&c->mmap, key, c->nmrecs))
            return NTM_ENOMEM;
        c->mrecs[c->nmrecs++] = m;
    } else {
        struct rec *r;
        if (!x->date_ymd)
            return NTM_OK;
        if (grow(&c->recs, &c->reccap, c->nrecs, sizeof(*c->recs)))
            return NTM_ENOMEM;
        r = &c->recs[c->nrecs++];
        r->target = ti;
        r->unit = cid;
        r->orig = oid;
        r->order = i;
        r->date = x->date_ymd;
        r->dissolved = x->dissolved;
        /* the quantity in the canonical unit; a counted thing without
         * one counts 1 */
        r->value = x->has_qty ? qty : t->amount_count ? 1 : 0;
    }
    return NTM_OK;
}

static int
regrec_cmp(const void *a, const void *b)
{
    const struct regrec *x = a, *y = b;
    int d;
    if ((d = strcmp(x->key, y->key)) ||
        (d = x->date_ymd < y->date_ymd ? -1 : x->date_ymd > y->date_ymd))
        return d;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* the strings of a fact a register's record keeps, in their order */
#define REG_STRS(x)                                                            \
    {                                                                          \
        &(x)->id, &(x)->unit, &(x)->org, &(x)->kind, &(x)->date, &(x)->period, \
            &(x)->ename, &(x)->qty_s, &(x)->uom_s                              \
    }
#define REG_NSTRS 9

/* Hold a register's record: its key (task, unit as recorded, the folded
 * entity name, or its id when it names none) and its facts, packed (a
 * register may hold tens of thousands of records). */
static enum ntm_err
hold_register(struct regrec *g, const struct Ntm_rfact *x, int i,
              const struct Ntm_task *t, int carrier)
{
    struct ntm_buf b = NTM_BUF_INIT;
    const char *const *strs[] = REG_STRS(x);

    memset(g, 0, sizeof(*g));
    if (ntm_buf_addf(&b, "%s\x1f%s\x1f%s%s", t->id, x->unit,
                     x->name ? "n:" : "id:",
                     x->name ? x->name
                     : x->id ? x->id
                             : "") ||
        !(g->key = ntm_strdup(ntm_buf_str(&b))))
        goto nomem;
    ntm_buf_reset(&b);
    for (int k = 0; k < REG_NSTRS; k++)
        if (*strs[k]) {
            g->has |= 1u << k;
            if (ntm_buf_add(&b, *strs[k], strlen(*strs[k]) + 1))
                goto nomem;
        }
    if (!(g->strs = ntm_malloc(b.len ? b.len : 1)))
        goto nomem;
    memcpy(g->strs, b.buf ? b.buf : "", b.len);
    ntm_buf_release(&b);
    g->qty = x->qty;
    g->days = x->days;
    g->people = x->people;
    g->money = x->money;
    g->num = x->num;
    g->den = x->den;
    g->order = i;
    g->carrier = carrier;
    g->task = x->task;
    g->date_ymd = x->date_ymd;
    g->dissolved = x->dissolved;
    g->approved = x->approved;
    g->dict_ok = x->dict_ok;
    g->has_qty = x->has_qty;
    g->numden_int = x->numden_int;
    g->has_people = x->has_people;
    g->has_money = x->has_money;
    g->has_days = x->has_days;
    g->has_num = x->has_num;
    g->has_den = x->has_den;
    return NTM_OK;
nomem:
    ntm_buf_release(&b);
    ntm_free(g->key);
    memset(g, 0, sizeof(*g));
    return NTM_ENOMEM;
}

/* The facts of a held register's record, its strings in g->strs. */
static void
register_facts(const struct ntm_plan *p, const struct regrec *g,
               struct Ntm_rfact *x)
{
    const char **strs[] = REG_STRS(x);
    const char *s = g->strs;
    memset(x, 0, sizeof(*x));
    for (int k = 0; k < REG_NSTRS; k++)
        if (g->has & (1u << k)) {
            *strs[k] = s;
            s += strlen(s) + 1;
        }
    x->task = g->task;
    x->approved = g->approved;
    x->qty = g->qty;
    x->days = g->days;
    x->people = g->people;
    x->money = g->money;
    x->num = g->num;
    x->den = g->den;
    x->date_ymd = g->date_ymd;
    x->dissolved = g->dissolved;
    x->dict_ok = g->dict_ok;
    x->has_qty = g->has_qty;
    x->numden_int = g->numden_int;
    x->has_people = g->has_people;
    x->has_money = g->has_money;
    x->has_days = g->has_days;
    x->has_num = g->has_num;
    x->has_den = g->has_den;
    (void)p;
}

/* One record's facts, in creation order: counted, held (registers) or
 * listed as not counted. */
static enum ntm_err
collect_one(struct ctx *c, const struct Ntm_rfact *x)
{
    const struct ntm_report_opts *o = c->o;
    const char *unit = x->unit, *kind = x->kind, *when = x->date;
    const struct Ntm_task *task_def;
    const struct task_info *info;
    const char *carrier;
    struct ntm_error why = {0};
    int i = c->order++;

    if (!unit || !kind || x->deleted)
        return NTM_OK;
    if (o->approved && x->approved < c->min_rank)
        return NTM_OK;
    task_def =
        x->task >= 0 && x->task < c->p->ntasks ? &c->p->tasks[x->task] : NULL;
    if (o->org && strcmp(o->org, task_def ? task_def->org
                                 : x->org ? x->org
                                          : ""))
        return NTM_OK;
    if (!when)
        when = x->period;
    if (when && strncmp(when, c->A, strlen(when) < 10 ? strlen(when) : 10) > 0)
        return NTM_OK; /* not yet seen on the as-of date */
    if (strlen(unit) >= PLAN_CODE_LEN || !(carrier = carrier_of(c, unit)))
        return NTM_OK;
    /* the data dictionary decides what the plan can count */
    if (!x->dict_ok || !task_def) {
        /* listed when in the report's unit and year */
        if (Ntm_code_within(carrier, c->top) &&
            (!o->year || (when && leading_int(when) == o->year)))
            return skip_refused(c, x, carrier);
        return NTM_OK;
    }
    info = &c->tinfo[task_def - c->p->tasks];
    /* An activity of a task whose target sums quantities counts only
     * with its quantity: without one it is listed, not added as 0. */
    if (!strcmp(kind, "activity") && !x->has_qty && info->sums_qty) {
        if (Ntm_code_within(carrier, c->top) &&
            (!o->year || (when && leading_int(when) == o->year))) {
            ntm_error_set(&why, NTM_EINVAL,
                          N_("no quantity: task '%s' adds up quantities "
                             "(%s), so this activity counts only once "
                             "its quantity is given (ntm edit --set "
                             "qty=...)"),
                          task_def->id, info->uom);
            return skip_record(c, x, carrier, "no_qty", &why);
        }
        return NTM_OK;
    }
    /* A target judged against a named list counts only the listed
     * units' measures (and those below them). */
    if (!strcmp(kind, "measure") && task_def->cal.nlist > 0 &&
        !Ntm_cal_listed(&task_def->cal, carrier) &&
        !Ntm_cal_listed(&task_def->cal, unit)) {
        if (Ntm_code_within(carrier, c->top) &&
            (!o->year || (when && leading_int(when) == o->year))) {
            ntm_error_set(&why, NTM_EINVAL,
                          N_("not on the list: task '%s' is judged on "
                             "the units named in %s, and this unit is "
                             "not one of them (a provincial admin adds "
                             "it there if it should be)"),
                          task_def->id, task_def->cal.list_file);
            return skip_record(c, x, carrier, "not_listed", &why);
        }
        return NTM_OK;
    }
    if (info->reg && !strcmp(kind, "activity")) {
        enum ntm_err rc;
        int cid = intern(c, carrier);
        if (cid < 0 || grow(&c->reg, &c->regcap, c->nreg, sizeof(*c->reg)))
            return NTM_ENOMEM;
        if ((rc = hold_register(&c->reg[c->nreg], x, i, task_def, cid)))
            return rc;
        c->nreg++;
        return NTM_OK;
    }
    return count_record(c, x, i, task_def, kind, carrier, unit, when, x->qty);
}

/* After every record: the registers' first records count, the others are
 * duplicates. */
static enum ntm_err
collect_end(struct ctx *c)
{
    const struct ntm_report_opts *o = c->o;
    struct regrec *reg = c->reg;
    int nreg = c->nreg, k, first = -1;
    enum ntm_err rc = NTM_OK;

    if (nreg > 1)
        qsort(reg, (size_t)nreg, sizeof(*reg), regrec_cmp);
    for (k = 0; k < nreg && !rc; k++) {
        struct regrec *g = &reg[k];
        const char *carrier = c->codes[g->carrier];
        struct Ntm_rfact x;
        register_facts(c->p, g, &x);
        if (k == 0 || strcmp(reg[k - 1].key, g->key)) {
            first = k;
            rc = count_record(c, &x, g->order, &c->p->tasks[g->task],
                              "activity", carrier, x.unit, x.date, x.qty);
            continue;
        }
        /* a duplicate of reg[first] */
        if (!Ntm_code_within(carrier, c->top) ||
            (o->year && !(x.date && leading_int(x.date) == o->year)))
            continue;
        struct Ntm_rfact fx;
        register_facts(c->p, &reg[first], &fx);
        struct ntm_error why = {0};
        ntm_error_set(&why, NTM_EINVAL,
                      N_("a second record of '%s' in the same unit: "
                         "counted once, as record %.8s"),
                      x.ename ? x.ename : "", fx.id ? fx.id : "");
        rc = skip_record(c, &x, carrier, "duplicate", &why);
    }
    if (!rc && c->r->nskips > 1)
        qsort(c->r->skips, (size_t)c->r->nskips, sizeof(*c->r->skips),
              skip_cmp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The index: activities and measures sorted by target, then by the unit
 * that carries them, so that the records within a unit are one
 * contiguous run found by binary search (a unit's code and the codes
 * below it share its prefix; codes are numbered in their order). */

static int
rec_cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->target != y->target)
        return x->target < y->target ? -1 : 1;
    if (x->unit != y->unit)
        return x->unit < y->unit ? -1 : 1;
    if (x->orig != y->orig)
        return x->orig < y->orig ? -1 : 1;
    if (x->date != y->date)
        return x->date < y->date ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int
mrec_cmp(const void *a, const void *b)
{
    const struct mrec *x = a, *y = b;
    if (x->target != y->target)
        return x->target < y->target ? -1 : 1;
    if (x->unit != y->unit)
        return x->unit < y->unit ? -1 : 1;
    if (x->orig != y->orig)
        return x->orig < y->orig ? -1 : 1;
    return x->year < y->year ? -1 : x->year > y->year;
}

/* a unit code and its number, sorted by code */
struct code_id {
    const char *code;
    int id;
};

static int
code_cmp(const void *a, const void *b)
{
    return strcmp(((const struct code_id *)a)->code,
                  ((const struct code_id *)b)->code);
}

/* first of each target's run in an array sorted by target */
static int *
target_firsts(const struct ctx *c, const void *base, size_t sz, int n)
{
    int *first = ntm_calloc((size_t)c->p->ntargets + 1, sizeof(*first));
    int t, i;
    if (!first)
        return NULL;
    for (t = 0, i = 0; t <= c->p->ntargets; t++) {
        while (i < n && *(const int *)((const char *)base + (size_t)i * sz) < t)
            i++;
        first[t] = i;
    }
    return first;
}

/* Move the n elements of r in place so that those of key k (0 <= k <
 * nkeys) come before those of key k + 1 (the American flag sort's
 * pass); start (nkeys + 1 ints) gets where each key's run starts, and
 * next (nkeys ints) is scratch. */
static void
partition_by(struct rec *r, int n, int nkeys, int (*key)(const struct rec *),
             int *start, int *next)
{
    struct rec tmp;
    int k;
    memset(start, 0, (size_t)(nkeys + 1) * sizeof(*start));
    for (int i = 0; i < n; i++)
        start[key(&r[i]) + 1]++;
    for (k = 0; k < nkeys; k++) {
        start[k + 1] += start[k];
        next[k] = start[k];
    }
    for (k = 0; k < nkeys; k++)
        while (next[k] < start[k + 1]) {
            int to = key(&r[next[k]]);
            if (to == k) {
                next[k]++;
                continue;
            }
            tmp = r[next[to]];
            r[next[to]++] = r[next[k]];
            r[next[k]] = tmp;
        }
}

static int
rec_target(const struct rec *r)
{
    return r->target;
}

static int
rec_unit(const struct rec *r)
{
    return r->unit;
}

/* recs in rec_cmp's order (target, unit, then the rest): glibc's qsort
 * copies the whole array into a buffer of its size (16 MB at 10^6
 * records); partitioned in place by target, then by unit, each run is
 * small and sorts in a small buffer. */
static void
sort_recs(struct ctx *c)
{
    int nt = c->p->ntargets, nu = c->ncodes, *ts = NULL, *us = NULL,
        *next = NULL;
    struct rec *r = c->recs;
    if (c->nrecs < 2)
        return;
    ts = ntm_calloc((size_t)nt + 1, sizeof(*ts));
    us = ntm_calloc((size_t)nu + 1, sizeof(*us));
    next = ntm_calloc((size_t)(nt > nu ? nt : nu) + 1, sizeof(*next));
    if (!ts || !us || !next) {
        qsort(r, (size_t)c->nrecs, sizeof(*r), rec_cmp);
        goto out;
    }
    partition_by(r, c->nrecs, nt, rec_target, ts, next);
    for (int t = 0; t < nt; t++) {
        struct rec *rt = r + ts[t];
        partition_by(rt, ts[t + 1] - ts[t], nu, rec_unit, us, next);
        for (int u = 0; u < nu; u++)
            if (us[u + 1] - us[u] > 1)
                qsort(rt + us[u], (size_t)(us[u + 1] - us[u]), sizeof(*r),
                      rec_cmp);
    }
out:
    ntm_free(ts);
    ntm_free(us);
    ntm_free(next);
}

static enum ntm_err
build_index(struct ctx *c, struct ntm_error *err)
{
    struct code_id *by = NULL;
    int *rank = NULL, i;
    char **codes = NULL;

    /* number the codes in their order */
    by = ntm_calloc((size_t)c->ncodes + 1, sizeof(*by));
    rank = ntm_calloc((size_t)c->ncodes + 1, sizeof(*rank));
    codes = ntm_calloc((size_t)c->ncodes + 1, sizeof(*codes));
    if (!by || !rank || !codes) {
        ntm_free(by);
        ntm_free(rank);
        ntm_free(codes);
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    for (i = 0; i < c->ncodes; i++) {
        by[i].code = c->codes[i];
        by[i].id = i;
    }
    if (c->ncodes > 1)
        qsort(by, (size_t)c->ncodes, sizeof(*by), code_cmp);
    for (i = 0; i < c->ncodes; i++) {
        rank[by[i].id] = i;
        codes[i] = c->codes[by[i].id];
    }
    ntm_free(c->codes);
    c->codes = codes;
    c->codecap = c->ncodes + 1;
    imap_free(&c->codemap); /* the numbers changed: no more interning */
    for (i = 0; i < c->nrecs; i++) {
        c->recs[i].unit = rank[c->recs[i].unit];
        c->recs[i].orig = rank[c->recs[i].orig];
    }
    for (i = 0; i < c->nmrecs; i++) {
        c->mrecs[i].unit = rank[c->mrecs[i].unit];
        c->mrecs[i].orig = rank[c->mrecs[i].orig];
    }
    ntm_free(by);
    ntm_free(rank);
    sort_recs(c);
    if (c->nmrecs > 1)
        qsort(c->mrecs, (size_t)c->nmrecs, sizeof(*c->mrecs), mrec_cmp);
    c->tfirst = target_firsts(c, c->recs, sizeof(*c->recs), c->nrecs);
    c->mfirst = target_firsts(c, c->mrecs, sizeof(*c->mrecs), c->nmrecs);
    if (!c->tfirst || !c->mfirst)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    return NTM_OK;
}

/* the code of an interned unit */
#define CODE(c, i) ((c)->codes[(i)])

/* first index in [lo, hi) whose unit is >= key: units are the int at
 * offset off of elements of size sz */
static int
lower_bound(const struct ctx *c, const void *base, size_t sz, size_t off,
            int lo, int hi, const char *key)
{
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int u = *(const int *)((const char *)base + (size_t)mid * sz + off);
        if (strcmp(CODE(c, u), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The records of target ti carried by unit or a unit below it lie in
 * [*lo, *hi) of the activities (measures: of the measures) (filter with
 * Ntm_code_within: the run may also hold codes that merely extend unit's
 * last segment with a character below '.', which no valid code has). */
static void
unit_run_of(const struct ctx *c, int measures, int ti, const char *unit,
            int *lo, int *hi)
{
    char end[PLAN_CODE_LEN + 1];
    size_t n = strlen(unit);
    const int *first = measures ? c->mfirst : c->tfirst;
    const void *base =
        measures ? (const void *)c->mrecs : (const void *)c->recs;
    size_t sz = measures ? sizeof(struct mrec) : sizeof(struct rec);
    size_t off =
        measures ? offsetof(struct mrec, unit) : offsetof(struct rec, unit);
    int a = first[ti], b = first[ti + 1];

    if (n >= PLAN_CODE_LEN) {
        *lo = *hi = a;
        return;
    }
    memcpy(end, unit, n);
    end[n] = '.' + 1; /* just after every "unit." prefix */
    end[n + 1] = '\0';
    *lo = lower_bound(c, base, sz, off, a, b, unit);
    *hi = lower_bound(c, base, sz, off, *lo, b, end);
}

static void
unit_run(const struct ctx *c, int ti, const char *unit, int *lo, int *hi)
{
    unit_run_of(c, 0, ti, unit, lo, hi);
}

/* ------------------------------------------------------------------ */
/* Figures */

struct mfig {
    int64_t num, den, count;    /* the unit's figure */
    int64_t cnum, cden, ccount; /* below it, when it has its own */
};

struct figure {
    double achieved, target;
    int64_t records;
    int64_t num, den;
    int has_children; /* measures: own figure, and figures below */
    double children;  /* the figure below it */
    int64_t cnum, cden;
    int has_data;
    int skip; /* no row: nothing applies here */
    const char *uom;
    enum Ntm_basis basis;
};

static int
applies(const struct Ntm_target *t, const char *type)
{
    int i;
    for (i = 0; i < t->napplies; i++)
        if (!strcmp(t->applies[i], type))
            return 1;
    return 0;
}

/* Sum of activity amounts of target ti within unit in [ps, pe], in the
 * canonical unit (the data dictionary converted them), to 3 decimals. */
static double
sum_within(const struct ctx *c, int ti, const char *unit, const char *ps,
           const char *pe, int64_t *count)
{
    double s = 0;
    int i, lo, hi, from = Ntm_ymd(ps), to = Ntm_ymd(pe);
    *count = 0;
    unit_run(c, ti, unit, &lo, &hi);
    for (i = lo; i < hi; i++) {
        const struct rec *r = &c->recs[i];
        if (r->target != ti || !Ntm_code_within(CODE(c, r->unit), unit) ||
            r->date < from || r->date > to)
            continue;
        s += r->value;
        (*count)++;
    }
    return (double)Ntm_plan_round(s * 1000) / 1000.0;
}

/* The entities of register target ti within unit active at the end of
 * day end: registered on or before it, not dissolved on or before it
 * (each counts its qty, or 1). *count: the records registered by end. */
static double
active_within(const struct ctx *c, int ti, const char *unit, const char *end,
              int64_t *count)
{
    double s = 0;
    int i, lo, hi, e = Ntm_ymd(end);
    *count = 0;
    unit_run(c, ti, unit, &lo, &hi);
    for (i = lo; i < hi; i++) {
        const struct rec *r = &c->recs[i];
        if (r->target != ti || !Ntm_code_within(CODE(c, r->unit), unit) ||
            r->date > e)
            continue;
        (*count)++;
        if (!r->dissolved || r->dissolved > e)
            s += r->value;
    }
    return (double)Ntm_plan_round(s * 1000) / 1000.0;
}

/*
 * The measures of target ti for unit in year (the latest figure of each
 * recorded unit: a YYYY figure beats monthly ones, then the later
 * record; only that one was kept). A unit's own figure is its figure;
 * when it has none, the sum over the units below it, each counted by its
 * own figure or, without one, by the units below it in turn: records are
 * sorted by code, so a recorded code is counted unless it lies below the
 * last counted one. Nothing is counted twice. children: the sum below a
 * unit that has its own figure, shown beside it.
 */
static int
measures_within(const struct ctx *c, int ti, const char *unit, int year,
                struct mfig *m)
{
    const char *top = NULL;
    int i, lo, hi;
    memset(m, 0, sizeof(*m));
    unit_run_of(c, 1, ti, unit, &lo, &hi);
    for (i = lo; i < hi; i++) {
        const struct mrec *r = &c->mrecs[i];
        const char *ru = CODE(c, r->unit);
        if (r->year != year || !Ntm_code_within(ru, unit))
            continue;
        if (!strcmp(ru, unit)) {
            m->num += r->num;
            m->den += r->den;
            m->count++;
            continue;
        }
        if (top && strcmp(ru, top) && Ntm_code_within(ru, top))
            continue; /* below a unit with its own figure */
        top = ru;
        m->cnum += r->num;
        m->cden += r->den;
        m->ccount++;
    }
    if (!m->count) {
        m->num = m->cnum;
        m->den = m->cden;
        m->count = m->ccount;
        m->ccount = 0;
    }
    return m->count > 0;
}

static double
state_value(const struct Ntm_target *t, int64_t num, int64_t den)
{
    if (t->kind == NTM_KIND_REACH_ZERO)
        return (double)num;
    return (double)Ntm_plan_round(10000.0 * (double)num / (double)den) / 100.0;
}

static int state_ok(const struct Ntm_target *t, double x);

/*
 * A target judged against a named list (config/README.md, "Named
 * lists"): of the listed units at or below unit, those whose own figure
 * for the year (their measure, else the sum below them) meets the
 * target's rate. num: those units; den: the listed units here, at the
 * province at least the number the plan expects (a unit not yet named
 * cannot meet it); count: the listed units with a figure. 0 when no
 * listed unit lies here.
 */
static int
list_figure(const struct ctx *c, int ti, const struct Ntm_cal *cal,
            const char *unit, int year, int lower, struct mfig *m)
{
    const struct Ntm_target *t = &c->p->targets[ti];
    struct mfig lm;
    int i;
    memset(m, 0, sizeof(*m));
    for (i = 0; i < cal->nlist; i++) {
        if (!Ntm_code_within(cal->list[i], unit))
            continue;
        m->den++;
        if (!measures_within(c, ti, cal->list[i], year, &lm) || lm.den <= 0)
            continue;
        m->count++;
        m->num += state_ok(t, state_value(t, lm.num, lm.den));
    }
    if (!m->den)
        return 0;
    if (!lower && m->den < cal->expected)
        m->den = cal->expected;
    return 1;
}

static int
state_ok(const struct Ntm_target *t, double x)
{
    switch (t->kind) {
    case NTM_KIND_RATIO_MIN:
        return x >= t->value;
    case NTM_KIND_RATIO_MAX:
        return t->strict ? x < t->value : x <= t->value;
    case NTM_KIND_COMPARE:
        return t->strict ? x > t->value : x >= t->value;
    case NTM_KIND_REACH_ZERO:
        return x <= 0;
    case NTM_KIND_YEARLY_SUM:
    case NTM_KIND_CUMULATIVE:
    case NTM_KIND_MONTHLY:
    case NTM_KIND_EXISTS:
    case NTM_KIND_PER_UNIT_YEARLY:
    case NTM_KIND_PER_UNIT:
    case NTM_KIND_REGISTER:
        break;
    }
    return x >= t->value;
}

/* Status of a figure that only grows within its period. */
static enum Ntm_status
judge_monotone(const struct figure *f, const char *ps, const char *pe,
               const char *A)
{
    double elapsed;
    if (!f->records)
        return NTM_ST_NO_DATA;
    if (f->achieved >= f->target)
        return NTM_ST_MET;
    if (strcmp(A, pe) >= 0)
        return NTM_ST_MISSED;
    elapsed = (double)(Ntm_plan_days(A) - Ntm_plan_days(ps) + 1) /
              (double)(Ntm_plan_days(pe) - Ntm_plan_days(ps) + 1);
    return f->achieved >= f->target * elapsed ? NTM_ST_ON_TRACK : NTM_ST_BEHIND;
}

/* The communes a unit stands for: 1 for a commune, the communes in force
 * below a district or the province, a commune's share split evenly among
 * its hamlets for a hamlet. */
static double
unit_weight(const struct ctx *c, const struct Ntm_unit *u)
{
    int i, n = 0;
    if (!strcmp(u->level, "commune"))
        return 1;
    if (!strcmp(u->level, "hamlet")) {
        for (i = 0; i < c->nunits; i++)
            if (!strcmp(c->units[i].parent, u->parent) &&
                !strcmp(c->units[i].level, "hamlet"))
                n++;
        return n ? 1.0 / n : 1;
    }
    for (i = 0; i < c->nunits; i++)
        if (!strcmp(c->units[i].level, "commune") &&
            Ntm_code_within(c->units[i].code, u->code))
            n++;
    return n;
}

static const struct Ntm_unit *
unit_by_code(const struct ctx *c, const char *code)
{
    int i;
    for (i = 0; i < c->nunits; i++)
        if (!strcmp(c->units[i].code, code))
            return &c->units[i];
    return NULL;
}

/* A unit's weight among its siblings: its communes (1 for a commune or a
 * hamlet, which splits its commune's share with the other hamlets). */
static int64_t
lr_weight(const struct ctx *c, const struct Ntm_unit *u)
{
    if (!strcmp(u->level, "hamlet"))
        return 1;
    return (int64_t)Ntm_plan_round(unit_weight(c, u));
}

/*
 * The pro-rata share of the plan's figure for unit u, in steps (1 for
 * things counted - records, months - else 0.01), apportioned by largest
 * remainder down the tree: the province's figure over its districts by
 * their communes, a district's share over its communes, a commune's over
 * its hamlets. Each step down gives every child the whole steps of its
 * exact part, then one more step to the children with the largest
 * remainders (ties: the larger weight, then the tree's order) until the
 * parent's share is used up; so the shares of the children add up
 * exactly to their parent's. Returns the share in steps.
 */
static int64_t
lr_steps(const struct ctx *c, const struct Ntm_unit *u, int64_t total,
         int depth)
{
    const struct Ntm_unit *parent;
    int64_t ptotal, w = 0, wsum = 0, give, mine, rem;
    int i, ahead = 0;

    if (depth > 8 || !strcmp(u->code, c->p->province) ||
        !(parent = unit_by_code(c, u->parent)))
        return total;
    ptotal = lr_steps(c, parent, total, depth + 1);
    for (i = 0; i < c->nunits; i++)
        if (!strcmp(c->units[i].parent, u->parent))
            wsum += lr_weight(c, &c->units[i]);
    w = lr_weight(c, u);
    if (wsum <= 0)
        return 0;
    mine = ptotal * w / wsum;
    rem = ptotal * w % wsum;
    give = ptotal;
    for (i = 0; i < c->nunits; i++) {
        const struct Ntm_unit *s = &c->units[i];
        int64_t sw, sr;
        if (strcmp(s->parent, u->parent))
            continue;
        sw = lr_weight(c, s);
        sr = ptotal * sw % wsum;
        give -= ptotal * sw / wsum;
        if (s != u &&
            (sr > rem || (sr == rem && (sw > w || (sw == w && s < u)))))
            ahead++;
    }
    /* give: the steps left after the whole parts, one each to the largest
     * remainders */
    return mine + (rem > 0 && ahead < give);
}

static double
pro_rata(const struct ctx *c, const struct Ntm_target *t, double v,
         const struct Ntm_unit *u)
{
    int whole = t->amount_count || t->kind == NTM_KIND_MONTHLY ||
                t->kind == NTM_KIND_EXISTS || t->kind == NTM_KIND_REGISTER;
    int64_t step = whole ? 1 : 100;
    if (c->ncommunes <= 0)
        return v;
    return (double)lr_steps(c, u, Ntm_plan_round(v * (double)step), 0) /
           (double)step;
}

/* What unit contributes to target ti in the period, for shares of the
 * province's achievement: the quantities of activities (thousandths),
 * the activities of monthly targets, the numerators of measures. 0 when
 * nothing is defined (comparisons with a reference). */
static int
part_within(const struct ctx *c, int ti, const char *unit, int year,
            const char *ps, const char *end, double *part)
{
    const struct Ntm_target *t = &c->p->targets[ti];
    struct mfig m;
    int64_t count;
    *part = 0;
    switch (t->kind) {
    case NTM_KIND_YEARLY_SUM:
    case NTM_KIND_CUMULATIVE:
    case NTM_KIND_EXISTS:
    case NTM_KIND_PER_UNIT_YEARLY:
    case NTM_KIND_PER_UNIT:
        *part = sum_within(c, ti, unit, ps, end, &count);
        return 1;
    case NTM_KIND_MONTHLY:
        sum_within(c, ti, unit, ps, end, &count);
        *part = (double)count;
        return 1;
    case NTM_KIND_RATIO_MIN:
    case NTM_KIND_RATIO_MAX:
    case NTM_KIND_REACH_ZERO:
        measures_within(c, ti, unit, year, &m);
        *part = (double)m.num;
        return 1;
    case NTM_KIND_REGISTER:
        *part = active_within(c, ti, unit, end, &count);
        return 1;
    case NTM_KIND_COMPARE:
        break;
    }
    return 0;
}

/*
 * The figure of unit u for target ti in the period [ps, pe] of year, and
 * its status. Rows of the province are judged against the plan's figure.
 * Below it (lower), the plan names a figure per unit only for per-unit
 * targets; rates (ratios, reach zero, comparisons) hold for every unit as
 * they stand; sums, counts, monthly and existence targets are judged
 * against the unit's pro-rata share of the plan's figure.
 */
static void
compute(const struct ctx *c, int ti, const struct Ntm_unit *u, int year,
        const char *ps, const char *pe, int lower, struct figure *f,
        enum Ntm_status *st)
{
    const struct Ntm_target *t = &c->p->targets[ti];
    const char *A = c->A;
    char end[PLAN_DATE_LEN];
    int i;

    memset(f, 0, sizeof(*f));
    f->uom = t->uom;
    f->target = t->value;
    f->basis = NTM_BASIS_PLAN;
    memcpy(end, strcmp(pe, A) < 0 ? pe : A, PLAN_DATE_LEN);
    switch (t->kind) {
    case NTM_KIND_YEARLY_SUM:
    case NTM_KIND_CUMULATIVE:
    case NTM_KIND_EXISTS:
        if (lower) {
            f->target = pro_rata(c, t, t->value, u);
            f->basis = NTM_BASIS_PRO_RATA;
        }
        f->achieved = sum_within(c, ti, u->code, ps, end, &f->records);
        *st = judge_monotone(f, ps, pe, A);
        return;
    case NTM_KIND_REGISTER: {
        /* built by the deadline, kept to the plan's end: the entities
         * active at the end of the period (or the as-of date) */
        char from[PLAN_DATE_LEN];
        if (lower) {
            f->target = pro_rata(c, t, t->value, u);
            f->basis = NTM_BASIS_PRO_RATA;
        }
        f->achieved = active_within(c, ti, u->code, end, &f->records);
        if (!f->records)
            *st = NTM_ST_NO_DATA;
        else if (strcmp(end, t->deadline) < 0) {
            /* still building: the elapsed share of the way to the
             * deadline, seen at the end of this period or the as-of
             * date */
            snprintf(from, sizeof(from), "%04d-01-01", t->year_from);
            *st = judge_monotone(f, from, t->deadline, end);
        } else if (strcmp(A, pe) >= 0)
            *st = f->achieved >= f->target ? NTM_ST_MET : NTM_ST_MISSED;
        else
            *st = f->achieved >= f->target ? NTM_ST_ON_TRACK : NTM_ST_BEHIND;
        return;
    }
    case NTM_KIND_MONTHLY: {
        int64_t per[13] = {0}, cnt, m, upto = 12, full;
        int lo, hi;
        const struct Ntm_task *task = Ntm_plan_task(c->p, t->id);
        if (task && task->cal.kind != NTM_CAL_NONE) {
            /* a duty of every responsible unit (duties.c): the
             * unit-periods with their records, of those in the year */
            int64_t due = 0, reported = 0;
            f->basis = NTM_BASIS_PER_UNIT;
            f->target = 0;
            for (i = 0; i < c->r->nduties; i++) {
                const struct Ntm_duty *d = &c->r->duties[i];
                if (d->task != task || d->year != year ||
                    !Ntm_code_within(d->unit, u->code))
                    continue;
                f->target += d->nper;
                f->achieved += d->seen;
                f->records += d->records;
                due += d->due;
                reported += d->reported;
            }
            if (f->target <= 0)
                f->skip = 1; /* no responsible unit here */
            else if (!f->records)
                *st = NTM_ST_NO_DATA;
            else if (f->achieved >= f->target)
                *st = NTM_ST_MET;
            else if (strcmp(A, pe) >= 0)
                *st = NTM_ST_MISSED;
            else
                *st = reported >= due ? NTM_ST_ON_TRACK : NTM_ST_BEHIND;
            return;
        }
        unit_run(c, ti, u->code, &lo, &hi);
        for (i = lo; i < hi; i++) {
            const struct rec *r = &c->recs[i];
            int month = r->date / 100 % 100;
            if (r->date / 10000 == year &&
                Ntm_code_within(CODE(c, r->unit), u->code) && month >= 1 &&
                month <= 12) {
                per[month]++;
                f->records++;
            }
        }
        if (leading_int(A) == year)
            upto = leading_int(A + 5);
        for (m = 1, cnt = 0; m <= upto; m++)
            cnt += per[m] >= (int64_t)t->value;
        f->achieved = (double)cnt;
        f->target = 12;
        if (lower) {
            /* a share of the months, each with its activities */
            f->target = pro_rata(c, t, 12, u);
            f->basis = NTM_BASIS_PRO_RATA;
            *st = judge_monotone(f, ps, pe, A);
        } else if (!f->records)
            *st = NTM_ST_NO_DATA;
        else if (strcmp(A, pe) >= 0)
            *st = cnt == 12 ? NTM_ST_MET : NTM_ST_MISSED;
        else {
            /* months wholly elapsed must each have their activities */
            full = upto - 1;
            *st = cnt >= full ? NTM_ST_ON_TRACK : NTM_ST_BEHIND;
        }
        return;
    }
    case NTM_KIND_RATIO_MIN:
    case NTM_KIND_RATIO_MAX:
    case NTM_KIND_COMPARE:
    case NTM_KIND_REACH_ZERO: {
        struct mfig m, pm;
        int judged, ok;
        double x;
        const struct Ntm_task *task = Ntm_plan_task(c->p, t->id);
        if (lower)
            f->basis = NTM_BASIS_RATE;
        if (task && task->cal.nlist > 0) {
            /* judged against the named list (pilot communes) */
            if (!list_figure(c, ti, &task->cal, u->code, year, lower, &m)) {
                f->skip = 1; /* no listed unit here */
                return;
            }
            f->basis = NTM_BASIS_LIST;
            if (!m.count) {
                *st = NTM_ST_NO_DATA;
                return;
            }
        } else if (!measures_within(c, ti, u->code, year, &m) ||
                   (t->kind != NTM_KIND_REACH_ZERO && m.den <= 0)) {
            *st = NTM_ST_NO_DATA;
            return;
        }
        f->num = m.num;
        f->den = m.den;
        f->records = m.count;
        if (m.ccount && (t->kind == NTM_KIND_REACH_ZERO || m.cden > 0)) {
            f->has_children = 1;
            f->cnum = m.cnum;
            f->cden = m.cden;
            f->children = state_value(t, m.cnum, m.cden);
        }
        x = f->achieved = state_value(t, f->num, f->den);
        ok = state_ok(t, x);
        judged = !t->deadline[0] || year >= leading_int(t->deadline);
        if (judged && strcmp(A, pe) >= 0)
            *st = ok ? NTM_ST_MET : NTM_ST_MISSED;
        else if (ok)
            *st = NTM_ST_ON_TRACK;
        else if (judged)
            *st = NTM_ST_BEHIND;
        else if (task && task->cal.nlist > 0
                     ? !list_figure(c, ti, &task->cal, u->code, year - 1, lower,
                                    &pm) ||
                           !pm.count
                     : !measures_within(c, ti, u->code, year - 1, &pm) ||
                           (t->kind != NTM_KIND_REACH_ZERO && pm.den <= 0))
            *st = NTM_ST_ON_TRACK; /* first figure: nothing to compare */
        else {
            double prev = state_value(t, pm.num, pm.den);
            int up =
                t->kind == NTM_KIND_RATIO_MIN || t->kind == NTM_KIND_COMPARE;
            *st = (up ? x > prev : x < prev) ? NTM_ST_ON_TRACK : NTM_ST_BEHIND;
        }
        return;
    }
    case NTM_KIND_PER_UNIT_YEARLY:
    case NTM_KIND_PER_UNIT: {
        const char *tdate = end;
        int leaf = 0, napp = 0, nmeet = 0;
        int64_t cnt, total = 0;
        f->basis = NTM_BASIS_PER_UNIT;
        /* the unit itself, or one above it, is a unit the target names */
        for (i = 0; i < c->nunits; i++)
            if (Ntm_code_within(u->code, c->units[i].code) &&
                applies(t, Ntm_unit_ver_at(&c->units[i], tdate)->type))
                leaf = 1;
        if (leaf) {
            f->achieved = sum_within(c, ti, u->code, ps, end, &f->records);
            *st = judge_monotone(f, ps, pe, A);
            return;
        }
        for (i = 0; i < c->nunits; i++) {
            const struct Ntm_unit *a = &c->units[i];
            if (!Ntm_code_within(a->code, u->code) ||
                !applies(t, Ntm_unit_ver_at(a, tdate)->type))
                continue;
            napp++;
            if (sum_within(c, ti, a->code, ps, end, &cnt) >= t->value)
                nmeet++;
        }
        if (!napp) {
            f->skip = 1;
            return;
        }
        sum_within(c, ti, u->code, ps, end, &total);
        f->records = total;
        f->achieved = nmeet;
        f->target = napp;
        f->uom = "unit";
        *st = judge_monotone(f, ps, pe, A);
        return;
    }
    }
}

static enum ntm_err
add_row(struct ctx *c, int ti, const struct Ntm_unit *u, int depth,
        const char *period, const struct figure *f, enum Ntm_status st,
        double share)
{
    struct ntm_report *r = c->r;
    struct Ntm_row *row;

    if (r->nrows == r->cap) {
        int ncap = r->cap ? r->cap * 2 : 64;
        struct Ntm_row *nr = ntm_realloc(r->rows, (size_t)ncap * sizeof(*nr));
        if (!nr)
            return NTM_ENOMEM;
        r->rows = nr;
        r->cap = ncap;
    }
    row = &r->rows[r->nrows];
    memset(row, 0, sizeof(*row));
    row->t = &c->p->targets[ti];
    memcpy(row->unit, u->code, sizeof(row->unit));
    memcpy(row->level, u->level, sizeof(row->level));
    row->unit_name = ntm_strdup(Ntm_unit_ver_at(u, c->A)->name);
    if (!row->unit_name)
        return NTM_ENOMEM;
    row->depth = depth;
    snprintf(row->period, sizeof(row->period), "%s", period);
    row->target = f->target;
    row->achieved = f->achieved;
    row->uom = f->uom;
    row->status = st;
    row->records = f->records;
    row->has_ratio = row->t->kind == NTM_KIND_RATIO_MIN ||
                     row->t->kind == NTM_KIND_RATIO_MAX ||
                     row->t->kind == NTM_KIND_COMPARE ||
                     row->t->kind == NTM_KIND_REACH_ZERO;
    row->num = f->num;
    row->den = f->den;
    row->has_children = f->has_children;
    row->children = f->children;
    row->cnum = f->cnum;
    row->cden = f->cden;
    row->basis = f->basis;
    row->plan_target = row->t->value;
    row->share = share;
    r->nrows++;
    return NTM_OK;
}

static enum ntm_err
rows_for_period(struct ctx *c, int ti, const struct Ntm_unit *top, int year,
                const char *ps, const char *pe, const char *period)
{
    const char *prov = c->p->province;
    struct figure f;
    enum Ntm_status st = NTM_ST_NO_DATA;
    enum ntm_err rc;
    char end[PLAN_DATE_LEN];
    double whole = 0, part;
    int has_whole, i;

    memcpy(end, strcmp(pe, c->A) < 0 ? pe : c->A, PLAN_DATE_LEN);
    /* the province's achievement, which lower rows show their share of
     * (none for a duty with a calendar: each unit owes its own) */
    has_whole = part_within(c, ti, prov, year, ps, end, &whole) && whole > 0;
    {
        const struct Ntm_task *task = Ntm_plan_task(c->p, c->p->targets[ti].id);
        if (task && task->cal.kind != NTM_CAL_NONE)
            has_whole = 0;
    }
    for (i = -1; i < c->nunits; i++) {
        const struct Ntm_unit *u = i < 0 ? top : &c->units[i];
        int lower = strcmp(u->code, prov) != 0;
        double share = -1;
        if (i >= 0 && strcmp(u->parent, top->code))
            continue;
        compute(c, ti, u, year, ps, pe, lower, &f, &st);
        if (f.skip)
            continue;
        if (lower && has_whole &&
            part_within(c, ti, u->code, year, ps, end, &part))
            share = 100.0 * part / whole;
        if ((rc = add_row(c, ti, u, i < 0 ? 0 : 1, period, &f, st, share)))
            return rc;
    }
    return NTM_OK;
}

static int
yearly_kind(enum Ntm_kind k)
{
    return k != NTM_KIND_CUMULATIVE && k != NTM_KIND_EXISTS &&
           k != NTM_KIND_PER_UNIT;
}

static enum ntm_err
build_rows(struct ctx *c, const struct Ntm_unit *top)
{
    enum ntm_err rc;
    int ti, y;

    for (ti = 0; ti < c->p->ntargets; ti++) {
        const struct Ntm_target *t = &c->p->targets[ti];
        char ps[PLAN_DATE_LEN], pe[PLAN_DATE_LEN], period[16];
        if (c->o->org && strcmp(c->o->org, t->org))
            continue;
        if (yearly_kind(t->kind)) {
            for (y = t->year_from; y <= t->year_to; y++) {
                if (c->o->year && y != c->o->year)
                    continue;
                snprintf(ps, sizeof(ps), "%04d-01-01", y);
                snprintf(pe, sizeof(pe), "%04d-12-31", y);
                snprintf(period, sizeof(period), "%04d", y);
                if (strcmp(ps, c->A) > 0)
                    continue;
                if ((rc = rows_for_period(c, ti, top, y, ps, pe, period)))
                    return rc;
            }
            continue;
        }
        y = leading_int(t->deadline);
        if (c->o->year && (c->o->year < t->year_from || c->o->year > y))
            continue;
        snprintf(ps, sizeof(ps), "%04d-01-01", t->year_from);
        memcpy(pe, t->deadline, PLAN_DATE_LEN);
        if (y == t->year_from)
            snprintf(period, sizeof(period), "%04d", y);
        else
            snprintf(period, sizeof(period), "%04d-%04d", t->year_from, y);
        if (strcmp(ps, c->A) > 0)
            continue;
        if ((rc = rows_for_period(c, ti, top, y, ps, pe, period)))
            return rc;
    }
    return NTM_OK;
}

void
ntm_report_free(struct ntm_report *r)
{
    int i;
    if (!r)
        return;
    for (i = 0; i < r->nrows; i++)
        ntm_free(r->rows[i].unit_name);
    for (i = 0; i < r->nskips; i++) {
        ntm_free(r->skips[i].task);
        ntm_free(r->skips[i].unit_name);
    }
    ntm_free(r->skips);
    Ntm_summary_free(r);
    Ntm_duties_free(r);
    ntm_free(r->rows);
    ntm_free(r->unit_name);
    ntm_free(r);
}

static int
collect_cb(void *ud, const struct Ntm_rfact *x)
{
    struct ctx *c = ud;
    c->rc = collect_one(c, x);
    return c->rc != NTM_OK;
}

static void
ctx_release(struct ctx *c)
{
    int i;
    for (i = 0; i < c->ncodes; i++)
        ntm_free(c->codes[i]);
    ntm_free(c->codes);
    imap_free(&c->codemap);
    ntm_free(c->recs);
    ntm_free(c->tfirst);
    ntm_free(c->mrecs);
    ntm_free(c->mfirst);
    imap_free(&c->mmap);
    for (i = 0; i < c->ngroups; i++)
        ntm_free(c->groups[i].acc);
    ntm_free(c->groups);
    imap_free(&c->groupmap);
    ntm_free(c->srecs);
    imap_free(&c->srecmap);
    for (i = 0; i < c->nreg; i++) {
        ntm_free(c->reg[i].key);
        ntm_free(c->reg[i].strs);
    }
    ntm_free(c->reg);
    ntm_free(c->U);
    ntm_free(c->tinfo);
    ntm_free(c->cars);
    imap_free(&c->carmap);
}

enum ntm_err
Ntm_report_run_from(const struct ntm_plan *p, const struct Ntm_fact_source *src,
                    json_t *created_units, const struct ntm_report_opts *o,
                    struct ntm_report **out, struct ntm_error *err)
{
    struct ntm_report_opts none = {0};
    struct ctx c;
    struct Ntm_unit *all = NULL;
    const struct Ntm_unit *top = NULL;
    char top_code[PLAN_CODE_LEN];
    enum ntm_err rc;
    int n = 0, i, j;

    *out = NULL;
    if (!o)
        o = &none;
    memset(&c, 0, sizeof(c));
    c.p = p;
    c.o = o;
    c.r = ntm_calloc(1, sizeof(*c.r));
    if (!c.r)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    c.r->plan = p;
    /* the as-of date: given, else the end of --year, never after today */
    Ntm_plan_today(c.r->as_of);
    if (o->as_of) {
        if (!ntm_date_valid(o->as_of)) {
            rc =
                ntm_error_set(err, NTM_EINVAL,
                              "bad as-of date '%s' - use YYYY-MM-DD", o->as_of);
            goto out;
        }
        memcpy(c.r->as_of, o->as_of, PLAN_DATE_LEN);
    } else if (o->year) {
        char end[PLAN_DATE_LEN];
        if (o->year < 1900 || o->year > 9999) {
            rc =
                ntm_error_set(err, NTM_EINVAL,
                              "bad year %d - use a year such as 2018", o->year);
            goto out;
        }
        snprintf(end, sizeof(end), "%04d-12-31", o->year);
        if (strcmp(end, c.r->as_of) < 0)
            memcpy(c.r->as_of, end, PLAN_DATE_LEN);
    }
    c.A = c.r->as_of;
    if (o->org && (rc = ntm_plan_check_org(p, o->org, err)))
        goto out;
    if (o->approved && o->approved_level &&
        Ntm_level_rank(o->approved_level) < 0) {
        rc = ntm_error_set(err, NTM_EINVAL,
                           "unknown review level '%s' - use hamlet, "
                           "commune, district or province",
                           o->approved_level);
        goto out;
    }
    c.r->approved = o->approved;
    snprintf(c.r->approved_level, sizeof(c.r->approved_level), "%s",
             o->approved && o->approved_level ? o->approved_level : "");
    /* the tree in force on the as-of date */
    if ((rc = Ntm_units_with_created(p, created_units, &all, &n, err)))
        goto out;
    for (i = j = 0; i < n; i++) {
        int k, ok = 1;
        for (k = 0; k < n; k++)
            if (Ntm_code_within(all[i].code, all[k].code) &&
                !Ntm_unit_in_force(&all[k], c.A))
                ok = 0;
        if (ok) {
            struct Ntm_unit tmp = all[j];
            all[j] = all[i];
            all[i] = tmp;
            j++;
        }
    }
    c.units = all;
    c.nunits = j;
    for (i = 0; i < c.nunits; i++)
        if (!strcmp(c.units[i].level, "commune") &&
            Ntm_code_within(c.units[i].code, p->province))
            c.ncommunes++;
    c.r->ncommunes = c.ncommunes;
    if (!Ntm_unit_successor(p, o->unit ? o->unit : p->province, c.A, top_code))
        top_code[0] = '\0';
    for (i = 0; i < c.nunits; i++)
        if (!strcmp(c.units[i].code, top_code))
            top = &c.units[i];
    if (!top) {
        rc = Ntm_plan_check_unit_in(p, created_units, o->unit, c.A, err);
        if (rc == NTM_OK)
            rc = ntm_error_set(err, NTM_ENOENT, "unit '%s' not found", o->unit);
        goto out;
    }
    memcpy(c.r->unit, top->code, sizeof(c.r->unit));
    c.r->unit_name = ntm_strdup(Ntm_unit_ver_at(top, c.A)->name);
    if (!c.r->unit_name) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    c.top = top->code;
    /* the summary's units: the report's, then those directly below it */
    if (!(c.U = ntm_calloc((size_t)c.nunits + 1, sizeof(*c.U)))) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    c.U[c.nu++] = top;
    for (i = 0; i < c.nunits; i++)
        if (!strcmp(c.units[i].parent, top->code))
            c.U[c.nu++] = &c.units[i];
    c.min_rank = o->approved_level ? Ntm_level_rank(o->approved_level) : 0;
    c.src = src;
    if (task_info_build(&c)) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    /* every record's facts, once, in creation order */
    rc = src->each(src->ud, collect_cb, &c, err);
    if (rc == NTM_OK && c.rc != NTM_OK)
        rc = ntm_error_set(err, c.rc, "out of memory");
    if (rc != NTM_OK)
        goto out;
    if ((rc = collect_end(&c))) {
        rc = ntm_error_set(err, rc, "out of memory");
        goto out;
    }
    if ((rc = build_index(&c, err)))
        goto out;
    if ((rc = Ntm_duties_build(c.r, c.srecs, c.nsrecs, c.units, c.nunits, top,
                               o->org, o->year)) ||
        (rc = build_rows(&c, top)) ||
        (rc = Ntm_summary_build(c.r, c.groups, c.ngroups, c.U, c.nu)))
        rc = ntm_error_set(err, rc, "out of memory");
out:
    ctx_release(&c);
    Ntm_units_array_free(all, n);
    if (rc) {
        ntm_report_free(c.r);
        return rc;
    }
    *out = c.r;
    return NTM_OK;
}

/* The facts of the records of a JSON array, in its order, made as they
 * are read. */
struct array_src {
    const struct ntm_plan *p;
    json_t *records;
};

static enum ntm_err
array_each(void *ud, Ntm_rfact_cb cb, void *cb_ud, struct ntm_error *err)
{
    struct array_src *a = ud;
    struct ntm_buf scratch = NTM_BUF_INIT;
    struct Ntm_rfact x;
    enum ntm_err rc = NTM_OK;
    json_t *rec;
    size_t i;
    json_array_foreach (a->records, i, rec) {
        if ((rc = Ntm_rfact_make(a->p, rec, &x, &scratch)) != NTM_OK) {
            rc = ntm_error_set(err, rc, "out of memory");
            break;
        }
        if (cb(cb_ud, &x))
            break;
    }
    ntm_buf_release(&scratch);
    return rc;
}

static json_t *
array_load(void *ud, const char *id)
{
    struct array_src *a = ud;
    json_t *rec;
    size_t i;
    json_array_foreach (a->records, i, rec) {
        const char *r = json_string_value(json_object_get(rec, "id"));
        if (r && !strcmp(r, id))
            return json_incref(rec);
    }
    return NULL;
}

enum ntm_err
ntm_report_run_records(const struct ntm_plan *p, json_t *records,
                       json_t *created_units, const struct ntm_report_opts *o,
                       struct ntm_report **out, struct ntm_error *err)
{
    struct array_src a = {p, records};
    struct Ntm_fact_source src = {array_each, array_load, &a};
    return Ntm_report_run_from(p, &src, created_units, o, out, err);
}
