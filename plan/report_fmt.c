/* SPDX-License-Identifier: MIT */
/*
 * report_fmt.c - writing a computed report: JSON (SPEC.md section 8), an
 * aligned terminal table (Vietnamese text measured in display columns),
 * CSV per RFC 4180 in UTF-8 with a byte order mark (so that spreadsheet
 * programs show Vietnamese correctly; a text cell that would read as a
 * formula is neutralised, see csv_field), and one self-contained printable
 * HTML page with inline SVG charts and no external resources.
 *
 * Labels come from the plan in Vietnamese, or English with lang "en"; the
 * report's own words are English msgids of the catalogue (po/vi.po),
 * translated with ntm_tr. Depends on util/, jansson and report.c's rows.
 */
#include "plan_int.h"

#include <string.h>

static int
en(const char *lang)
{
    return lang && !strcmp(lang, "en");
}

static const char *
label(const struct Ntm_target *t, const char *lang)
{
    return en(lang) ? t->en : t->vi;
}

/* "80", "2.4", "85.71" */
static void
fmt_num(double v, char *out, size_t size)
{
    char *e;
    if (v == (double)Ntm_plan_round(v)) {
        snprintf(out, size, "%.0f", v);
        return;
    }
    snprintf(out, size, "%.3f", v);
    e = out + strlen(out) - 1;
    while (e > out && *e == '0')
        *e-- = '\0';
    if (*e == '.')
        *e = '\0';
}

/* The language of the human forms and labels: English with lang "en",
 * else Vietnamese. */
static const char *
hl(const char *lang)
{
    return en(lang) ? "en" : "vi";
}

/* Human figures of the table and HTML forms (never JSON or CSV). */
static void
human_nums(const char *lang, char *s, size_t size)
{
    ntm_human_figures(hl(lang), s, size);
}

/* The human form of a date YYYY-MM-DD into out. */
static const char *
human_date(const char *lang, const char *iso, char *out, size_t size)
{
    ntm_human_date(hl(lang), iso, out, size);
    return out;
}

static const char *
comparator(const struct Ntm_target *t)
{
    switch (t->kind) {
    case NTM_KIND_RATIO_MAX:
        return t->strict ? "<" : "≤";
    case NTM_KIND_COMPARE:
        return t->strict ? ">" : "≥";
    case NTM_KIND_REACH_ZERO:
        return "=";
    case NTM_KIND_YEARLY_SUM:
    case NTM_KIND_CUMULATIVE:
    case NTM_KIND_MONTHLY:
    case NTM_KIND_RATIO_MIN:
    case NTM_KIND_EXISTS:
    case NTM_KIND_PER_UNIT_YEARLY:
    case NTM_KIND_PER_UNIT:
    case NTM_KIND_REGISTER:
        break;
    }
    return "≥";
}

/* "≥ 80"; a pro-rata share of the plan's figure is marked "≥ 7.66*" */
static void
fmt_target(const struct Ntm_row *row, char *out, size_t size)
{
    char n[32];
    fmt_num(row->target, n, sizeof(n));
    snprintf(out, size, "%s %s%s", comparator(row->t), n,
             row->basis == NTM_BASIS_PRO_RATA ? "*" : "");
}

/* "63.6 %" of the province's achievement; "-" for a unit without data
 * in a province with some; "" when the row has no share */
static void
fmt_share(const struct Ntm_row *row, char *out, size_t size)
{
    char n[32];
    if (row->share < 0 || row->status == NTM_ST_NO_DATA) {
        snprintf(out, size, "%s", row->share < 0 ? "" : "-");
        return;
    }
    fmt_num((double)Ntm_plan_round(row->share * 10) / 10.0, n, sizeof(n));
    snprintf(out, size, "%s %%", n);
}

/*
 * The legend: how rows below the province are judged (config/README.md,
 * "Rows below the province"). Lines without a newline; %d is the number
 * of communes of the province.
 */
static const char *const legend_lines[] = {
    N_("Target: the plan's figure for the whole province (%d communes)."),
    N_("Below the province: per-unit targets (each ward/town, each "
       "district,"),
    N_("  each commune) are the plan's own; rates (%%) hold for every "
       "unit;"),
    N_("  * marks a pro-rata share: the plan's figure x the unit's "
       "communes"),
    N_("  / %d, apportioned by largest remainder (whole things counted,"),
    N_("  else 0.01): the shares of the units below a unit add up to its."),
    N_("Share: the unit's part of the province's achievement."),
    N_("Measures: a unit's own figure stands; without one, the sum of the"),
    N_("  units below it (\"Below\": their figure when both exist)."),
    NULL};

/* Legend line i in the report's language, NULL past the last. */
static const char *
legend(const char *lang, int i)
{
    return legend_lines[i] ? ntm_tr(hl(lang), legend_lines[i]) : NULL;
}

/* The column heads of the table and the HTML form ("Unit" is the unit's
 * code here, its name elsewhere: hence the context). */
static const char *const heads[] = {
    NC_("report column", "Unit"),     NC_("report column", "Name"),
    NC_("report column", "Period"),   NC_("report column", "Target"),
    NC_("report column", "Achieved"), NC_("report column", "UoM"),
    NC_("report column", "Share"),    NC_("report column", "Status"),
    NC_("report column", "Below")};

/* The translation of a label of this file in the report's language. */
static const char *
tr(const char *lang, const char *msgid)
{
    return ntm_tr(hl(lang), msgid);
}

/* one legend line with "%d" replaced by the number of communes and "%%"
 * by "%" (the lines are not format strings, so -Wformat stays strict) */
static void
legend_line(const struct ntm_report *r, const char *tpl, char *out, size_t size)
{
    size_t n = 0;
    char num[16];
    snprintf(num, sizeof(num), "%d", r->ncommunes);
    for (; *tpl && n + 1 < size; tpl++) {
        const char *ins = NULL;
        if (tpl[0] == '%' && tpl[1] == 'd')
            ins = num;
        else if (tpl[0] == '%' && tpl[1] == '%')
            ins = "%";
        if (!ins) {
            out[n++] = *tpl;
            continue;
        }
        for (; *ins && n + 1 < size; ins++)
            out[n++] = *ins;
        tpl++;
    }
    out[n] = '\0';
}

/* The task with a named list whose target's rows are the n-th such in
 * the report (plan order), or NULL. */
static const struct Ntm_task *
listed_task(const struct ntm_report *r, int n)
{
    const struct ntm_plan *p = r->plan;
    int k, i;
    for (k = 0; k < p->ntasks; k++) {
        const struct Ntm_task *t = &p->tasks[k];
        if (!t->cal.list_file || t->target < 0)
            continue;
        for (i = 0; i < r->nrows; i++)
            if (!strcmp(r->rows[i].t->id, t->id))
                break;
        if (i < r->nrows && n-- == 0)
            return t;
    }
    return NULL;
}

/* Legend line i (the fixed lines, then one per named list the report's
 * rows use) written to out; 0 past the last. */
static int
legend_at(const struct ntm_report *r, const char *lang, int i, char *out,
          size_t size)
{
    const struct Ntm_task *t;
    int n = 0;
    while (legend_lines[n])
        n++;
    if (i < n) {
        legend_line(r, legend(lang, i), out, size);
        return 1;
    }
    if (!(t = listed_task(r, i - n)))
        return 0;
    if (t->cal.nlist > 0)
        snprintf(
            out, size,
            ntm_tr(hl(lang), N_("%s: judged on the %d of %d units named in "
                                "%s; a unit counts when its own figure meets "
                                "the target, and a unit not named or without a "
                                "figure does not.")),
            t->id, t->cal.nlist, t->cal.expected, t->cal.list_file);
    else
        snprintf(out, size,
                 ntm_tr(hl(lang),
                        N_("%s: the list of its %d units (%s) names none "
                           "yet, so the target is judged on the measures "
                           "recorded; a provincial admin fills the list.")),
                 t->id, t->cal.expected, t->cal.list_file);
    return 1;
}

static const char *
uom_label(const struct ntm_report *r, const struct Ntm_row *row,
          const char *lang)
{
    return Ntm_plan_uom_label(r->plan, row->uom, lang);
}

/* ---- duties with a calendar and their completeness (duties.c) ---- */

/* the periods a duty's unit misses, joined by spaces */
static void
duty_missing(const struct Ntm_duty *d, char *out, size_t size)
{
    size_t len = 0;
    int p;
    out[0] = '\0';
    for (p = 1; p <= d->nper && len + 24 < size; p++) {
        char per[24];
        if (!(d->missing & (1u << (p - 1))))
            continue;
        Ntm_duty_period(&d->task->cal, d->year, p, per, sizeof(per));
        len += (size_t)snprintf(out + len, size - len, "%s%s", len ? " " : "",
                                per);
    }
}

/* reported / expected in percent, to one decimal; "" when nothing is due */
static void
compl_rate(const struct Ntm_compl *m, char *out, size_t size)
{
    out[0] = '\0';
    if (m->expected > 0)
        fmt_num((double)Ntm_plan_round(1000.0 * (double)m->reported /
                                       (double)m->expected) /
                    10.0,
                out, size);
}

static const char *
cal_name(const struct Ntm_cal *c)
{
    return c->kind == NTM_CAL_MONTH    ? "every_month"
           : c->kind == NTM_CAL_WINDOW ? "yearly_window"
                                       : "yearly";
}

json_t *
ntm_report_json(const struct ntm_report *r, const char *lang)
{
    json_t *doc, *rows;
    int i;

    doc = json_pack("{s:s, s:s, s:s, s:b, s:[]}", "as_of", r->as_of, "unit",
                    r->unit, "unit_name", r->unit_name, "approved", r->approved,
                    "rows");
    if (!doc)
        return NULL;
    if (r->approved_level[0])
        json_object_set_new(doc, "approved_level",
                            json_string(r->approved_level));
    rows = json_object_get(doc, "rows");
    for (i = 0; i < r->nrows; i++) {
        const struct Ntm_row *w = &r->rows[i];
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:s, s:s, s:s, s:s, "
            "s:I, s:i}",
            "task", w->t->id, "org", w->t->org, "unit", w->unit, "unit_name",
            w->unit_name, "level", w->level, "period", w->period, "target",
            w->target, "achieved", w->achieved, "unit_of_measure", w->uom,
            "status", Ntm_status_name(w->status), "label", label(w->t, lang),
            "kind", w->t->kind_name, "records", (json_int_t)w->records, "depth",
            w->depth);
        if (!o || json_array_append_new(rows, o)) {
            json_decref(doc);
            return NULL;
        }
        if (w->has_ratio && w->status != NTM_ST_NO_DATA) {
            json_object_set_new(o, "num", json_integer(w->num));
            json_object_set_new(o, "den", json_integer(w->den));
        }
        json_object_set_new(o, "plan_target", json_real(w->plan_target));
        json_object_set_new(o, "basis", json_string(Ntm_basis_name(w->basis)));
        json_object_set_new(o, "share",
                            w->share < 0 ? json_null() : json_real(w->share));
        json_object_set_new(o, "children",
                            w->has_children ? json_real(w->children)
                                            : json_null());
        if (w->has_children) {
            json_object_set_new(o, "children_num", json_integer(w->cnum));
            json_object_set_new(o, "children_den", json_integer(w->cden));
        }
    }
    {
        json_t *sm = json_array();
        json_object_set_new(doc, "summary", sm);
        for (i = 0; sm && i < r->nsums; i++) {
            const struct Ntm_sum *m = &r->sums[i];
            json_t *o = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:i}", "task",
                m->task->id, "org", m->task->org, "label",
                en(lang) ? m->task->en : m->task->vi, "unit", m->unit,
                "unit_name", m->unit_name, "level", m->level, "period", m->year,
                "activities", (json_int_t)m->activities, "measures",
                (json_int_t)m->measures, "depth", m->depth);
            if (!o || json_array_append_new(sm, o)) {
                json_decref(doc);
                return NULL;
            }
            json_object_set_new(o, "quantity",
                                m->has_qty ? json_real(m->qty) : json_null());
            json_object_set_new(o, "unit_of_measure",
                                json_string(m->uom ? m->uom : ""));
            json_object_set_new(o, "people",
                                m->has_people ? json_integer(m->people)
                                              : json_null());
            json_object_set_new(o, "amount_vnd",
                                m->has_money ? json_real(m->money)
                                             : json_null());
            json_object_set_new(o, "labor_days",
                                m->has_days ? json_real(m->days) : json_null());
        }
    }
    {
        json_t *du = json_array(), *co = json_array();
        json_object_set_new(doc, "duties", du);
        json_object_set_new(doc, "completeness", co);
        for (i = 0; du && i < r->nduties; i++) {
            const struct Ntm_duty *d = &r->duties[i];
            json_t *miss = json_array();
            int p;
            for (p = 1; miss && p <= d->nper; p++) {
                char per[24];
                if (!(d->missing & (1u << (p - 1))))
                    continue;
                Ntm_duty_period(&d->task->cal, d->year, p, per, sizeof(per));
                json_array_append_new(miss, json_string(per));
            }
            json_array_append_new(
                du,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, "
                          "s:i, s:i, s:i, s:I, s:o}",
                          "task", d->task->id, "org", d->task->org, "label",
                          en(lang) ? d->task->en : d->task->vi, "calendar",
                          cal_name(&d->task->cal), "level", d->task->cal.level,
                          "unit", d->unit, "unit_name", d->unit_name, "period",
                          d->year, "periods", d->nper, "due", d->due,
                          "reported", d->reported, "seen", d->seen, "records",
                          (json_int_t)d->records, "missing", miss));
        }
        for (i = 0; co && i < r->ncompl; i++) {
            const struct Ntm_compl *m = &r->compl [i];
            json_t *late = json_array();
            int k;
            for (k = 0; late && k < r->nduties; k++) {
                const struct Ntm_duty *d = &r->duties[k];
                if (d->task == m->task && d->year == m->year && d->missing &&
                    Ntm_code_within(d->unit, m->unit))
                    json_array_append_new(late, json_string(d->unit));
            }
            json_array_append_new(
                co,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, "
                          "s:I, s:I, s:o, s:o}",
                          "task", m->task->id, "org", m->task->org, "label",
                          en(lang) ? m->task->en : m->task->vi, "unit", m->unit,
                          "unit_name", m->unit_name, "level", m->level, "depth",
                          m->depth, "period", m->year, "units", m->units,
                          "units_complete", m->units_complete, "expected",
                          (json_int_t)m->expected, "reported",
                          (json_int_t)m->reported, "rate",
                          m->expected > 0
                              ? json_real((double)Ntm_plan_round(
                                              1000.0 * (double)m->reported /
                                              (double)m->expected) /
                                          10.0)
                              : json_null(),
                          "units_missing", late));
        }
    }
    {
        /* the named lists the rows are judged against */
        json_t *ls = json_array();
        const struct Ntm_task *t;
        json_object_set_new(doc, "lists", ls);
        for (i = 0; ls && (t = listed_task(r, i)); i++) {
            json_t *named = json_array();
            for (int k = 0; named && k < t->cal.nlist; k++)
                json_array_append_new(named, json_string(t->cal.list[k]));
            json_array_append_new(
                ls, json_pack("{s:s, s:s, s:s, s:i, s:o*}", "task", t->id,
                              "file", t->cal.list_file, "level", t->cal.level,
                              "expected", t->cal.expected, "named", named));
        }
    }
    {
        json_t *nc = json_array();
        json_object_set_new(doc, "not_counted", nc);
        for (i = 0; nc && i < r->nskips; i++) {
            const struct Ntm_skip *k = &r->skips[i];
            char why[2 * NTM_ERROR_SIZE];
            json_array_append_new(
                nc, json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, s:s, "
                              "s:s, s:s}",
                              "id", k->id, "unit", k->unit, "unit_name",
                              k->unit_name, "task", k->task, "org", k->org,
                              "kind", k->kind, "when", k->when, "qty", k->qty,
                              "uom", k->uom, "reason_code", k->code, "reason",
                              ntm_error_text_lang(&k->why, hl(lang), why,
                                                  sizeof(why))));
        }
    }
    {
        char line[256];
        struct ntm_buf t = NTM_BUF_INIT;
        for (i = 0; legend_at(r, lang, i, line, sizeof(line)); i++) {
            if (ntm_buf_addf(&t, "%s%s", i ? "\n" : "", line)) {
                ntm_buf_release(&t);
                json_decref(doc);
                return NULL;
            }
        }
        json_object_set_new(doc, "communes", json_integer(r->ncommunes));
        json_object_set_new(doc, "legend", json_string(ntm_buf_str(&t)));
        ntm_buf_release(&t);
    }
    return doc;
}

/* ------------------------------------------------------------------ */
/* Terminal table */

#define NCOLS 9

static enum ntm_err
pad(struct ntm_buf *b, const char *s, size_t width, int right)
{
    size_t w = ntm_text_width(s), i;
    enum ntm_err rc = NTM_OK;
    if (!right)
        rc = ntm_buf_adds(b, s);
    for (i = w; i < width && !rc; i++)
        rc = ntm_buf_addch(b, ' ');
    if (right && !rc)
        rc = ntm_buf_adds(b, s);
    return rc;
}

static void
row_cells(const struct ntm_report *r, const struct Ntm_row *w, const char *lang,
          char cells[NCOLS][160])
{
    char n[32];
    snprintf(cells[0], 160, "%s%s", w->depth ? "  " : "", w->unit);
    snprintf(cells[1], 160, "%s", w->unit_name);
    snprintf(cells[2], 160, "%s", w->period);
    fmt_target(w, cells[3], 160);
    if (w->status == NTM_ST_NO_DATA)
        snprintf(cells[4], 160, "-");
    else {
        fmt_num(w->achieved, n, sizeof(n));
        snprintf(cells[4], 160, "%s", n);
    }
    snprintf(cells[5], 160, "%s", uom_label(r, w, lang));
    fmt_share(w, cells[6], 160);
    snprintf(cells[7], 160, "%s", Ntm_status_label(w->status, lang));
    cells[8][0] = '\0';
    if (w->has_children)
        fmt_num(w->children, cells[8], 160);
    human_nums(lang, cells[8], 160);
    human_nums(lang, cells[3], 160);
    human_nums(lang, cells[4], 160);
    human_nums(lang, cells[6], 160);
}

/* ---- the work of every organization (summary.c's rows) ---- */

#define SCOLS 10

static const char *const sheads[SCOLS] = {
    NC_("report column", "Unit"),        NC_("report column", "Name"),
    NC_("report column", "Period"),      NC_("report column", "Activities"),
    NC_("report column", "Measures"),    NC_("report column", "Quantity"),
    NC_("report column", "UoM"),         NC_("report column", "People"),
    NC_("report column", "Money (VND)"), NC_("report column", "Working days")};

/* right-aligned columns of the summary */
static int
snum(int c)
{
    return c == 3 || c == 4 || c == 5 || c == 7 || c == 8 || c == 9;
}

static void
sum_cells(const struct ntm_report *r, const struct Ntm_sum *m, const char *lang,
          char cells[SCOLS][160])
{
    int c;
    snprintf(cells[0], 160, "%s%s", m->depth ? "  " : "", m->unit);
    snprintf(cells[1], 160, "%s", m->unit_name);
    snprintf(cells[2], 160, "%04d", m->year);
    snprintf(cells[3], 160, "%lld", (long long)m->activities);
    snprintf(cells[4], 160, "%lld", (long long)m->measures);
    snprintf(cells[5], 160, "-");
    if (m->has_qty)
        fmt_num(m->qty, cells[5], 160);
    snprintf(cells[6], 160, "%s",
             m->has_qty ? Ntm_plan_uom_label(r->plan, m->uom, lang) : "");
    snprintf(cells[7], 160, "-");
    if (m->has_people)
        snprintf(cells[7], 160, "%lld", (long long)m->people);
    snprintf(cells[8], 160, "-");
    if (m->has_money)
        fmt_num(m->money, cells[8], 160);
    snprintf(cells[9], 160, "-");
    if (m->has_days)
        fmt_num(m->days, cells[9], 160);
    for (c = 3; c < SCOLS; c++)
        if (c != 6)
            human_nums(lang, cells[c], 160);
}

static enum ntm_err
table_summary(const struct ntm_report *r, const char *lang, struct ntm_buf *b)
{
    char cells[SCOLS][160];
    size_t wid[SCOLS];
    const struct Ntm_task *cur = NULL;
    enum ntm_err rc;
    int i, c;

    rc = ntm_buf_addf(b, "\n%s\n",
                      tr(lang, N_("Work recorded: every task of the plan, "
                                  "per unit and year")));
    if (!rc && !r->nsums)
        rc = ntm_buf_addf(b, "%s\n",
                          tr(lang, N_("nothing recorded in this period")));
    for (c = 0; c < SCOLS; c++)
        wid[c] = ntm_text_width(tr(lang, sheads[c]));
    for (i = 0; i < r->nsums; i++) {
        sum_cells(r, &r->sums[i], lang, cells);
        for (c = 0; c < SCOLS; c++)
            if (ntm_text_width(cells[c]) > wid[c])
                wid[c] = ntm_text_width(cells[c]);
    }
    for (i = 0; i < r->nsums && !rc; i++) {
        const struct Ntm_sum *m = &r->sums[i];
        if (m->task != cur) {
            cur = m->task;
            rc = ntm_buf_addf(b, "\n%s  %s\n", cur->id,
                              en(lang) ? cur->en : cur->vi);
            for (c = 0; c < SCOLS && !rc; c++) {
                rc = pad(b, tr(lang, sheads[c]), c + 1 < SCOLS ? wid[c] : 0,
                         snum(c));
                if (!rc)
                    rc = ntm_buf_adds(b, c + 1 < SCOLS ? "  " : "\n");
            }
        }
        sum_cells(r, m, lang, cells);
        for (c = 0; c < SCOLS && !rc; c++) {
            rc = pad(b, cells[c], c + 1 < SCOLS ? wid[c] : 0, snum(c));
            if (!rc)
                rc = ntm_buf_adds(b, c + 1 < SCOLS ? "  " : "\n");
        }
    }
    return rc;
}

/* The duties with a calendar: per duty and year, the responsible units
 * that miss periods and which; then the completeness of each duty. */
static enum ntm_err
table_duties(const struct ntm_report *r, const char *lang, struct ntm_buf *b)
{
    enum ntm_err rc = NTM_OK;
    int i, j, k;

    if (!r->nduties)
        return NTM_OK;
    rc = ntm_buf_addf(b, "\n%s\n",
                      tr(lang, N_("Duties with a calendar: the periods each "
                                  "responsible unit misses")));
    for (i = 0; i < r->nduties && !rc; i = j) {
        const struct Ntm_duty *d0 = &r->duties[i];
        int nmiss = 0;
        for (j = i; j < r->nduties && r->duties[j].task == d0->task &&
                    r->duties[j].year == d0->year;
             j++)
            nmiss += r->duties[j].missing != 0;
        rc = ntm_buf_addf(b, "\n%s  %s  %04d  (%s: %d, %s: %d)\n", d0->task->id,
                          en(lang) ? d0->task->en : d0->task->vi, d0->year,
                          tr(lang, N_("responsible units")), j - i,
                          tr(lang, N_("with periods missing")), nmiss);
        for (k = i; k < j && !rc; k++) {
            const struct Ntm_duty *d = &r->duties[k];
            char miss[512];
            if (!d->missing)
                continue;
            duty_missing(d, miss, sizeof(miss));
            rc = ntm_buf_addf(b, "  %s  %s  %d/%d  %s: %s\n", d->unit,
                              d->unit_name, d->reported, d->due,
                              tr(lang, N_("missing")), miss);
        }
    }
    if (!rc)
        rc = ntm_buf_addf(b, "\n%s\n",
                          tr(lang, N_("Completeness: periods reported / "
                                      "periods due, per duty and unit")));
    for (i = 0; i < r->ncompl && !rc; i++) {
        const struct Ntm_compl *m = &r->compl [i];
        char rate[32];
        compl_rate(m, rate, sizeof(rate));
        rc = ntm_buf_addf(b, "%s%s  %s  %s  %04d  %lld/%lld  %s%s  %s %d/%d\n",
                          m->depth ? "  " : "", m->unit, m->unit_name,
                          m->task->id, m->year, (long long)m->reported,
                          (long long)m->expected, rate[0] ? rate : "-",
                          rate[0] ? " %" : "", tr(lang, N_("units complete")),
                          m->units_complete, m->units);
    }
    return rc;
}

static enum ntm_err
fmt_table(const struct ntm_report *r, const char *lang, struct ntm_buf *b)
{
    const char *head[NCOLS];
    char cells[NCOLS][160];
    size_t wid[NCOLS];
    int i, c;
    const struct Ntm_target *cur = NULL;
    enum ntm_err rc = NTM_OK;
    char day[16];

    for (c = 0; c < NCOLS; c++) {
        head[c] = tr(lang, heads[c]);
        wid[c] = ntm_text_width(head[c]);
    }
    for (i = 0; i < r->nrows; i++) {
        row_cells(r, &r->rows[i], lang, cells);
        for (c = 0; c < NCOLS; c++)
            if (ntm_text_width(cells[c]) > wid[c])
                wid[c] = ntm_text_width(cells[c]);
    }
    rc =
        ntm_buf_addf(b, "%s: %s (%s)  %s %s\n", tr(lang, N_("Progress report")),
                     r->unit_name, r->unit, tr(lang, N_("as of")),
                     human_date(lang, r->as_of, day, sizeof(day)));
    if (!rc && r->approved)
        rc = ntm_buf_addf(b, "%s%s%s\n", tr(lang, N_("approved records only")),
                          r->approved_level[0] ? ": " : "", r->approved_level);
    for (i = 0; !rc; i++) {
        char line[512];
        if (!legend_at(r, lang, i, line, sizeof(line)))
            break;
        rc = ntm_buf_addf(b, "%s\n", line);
    }
    for (i = 0; i < r->nrows && !rc; i++) {
        const struct Ntm_row *w = &r->rows[i];
        if (w->t != cur) {
            cur = w->t;
            rc = ntm_buf_addf(b, "\n%s  %s\n", cur->id, label(cur, lang));
            for (c = 0; c < NCOLS && !rc; c++) {
                rc = pad(b, head[c], c + 1 < NCOLS ? wid[c] : 0,
                         c == 3 || c == 4 || c == 6 || c == 8);
                if (!rc)
                    rc = ntm_buf_adds(b, c + 1 < NCOLS ? "  " : "\n");
            }
        }
        row_cells(r, w, lang, cells);
        for (c = 0; c < NCOLS && !rc; c++) {
            rc = pad(b, cells[c], c + 1 < NCOLS ? wid[c] : 0,
                     c == 3 || c == 4 || c == 6 || c == 8);
            if (!rc)
                rc = ntm_buf_adds(b, c + 1 < NCOLS ? "  " : "\n");
        }
    }
    if (!rc && r->nrows == 0)
        rc = ntm_buf_addf(b, "\n%s\n",
                          tr(lang, N_("no target falls in this period")));
    if (!rc)
        rc = table_summary(r, lang, b);
    if (!rc)
        rc = table_duties(r, lang, b);
    if (!rc && r->nskips)
        rc = ntm_buf_addf(b, "\n%s (%d)\n",
                          tr(lang, N_("Not counted: records the plan cannot "
                                      "count")),
                          r->nskips);
    for (i = 0; i < r->nskips && !rc; i++) {
        const struct Ntm_skip *k = &r->skips[i];
        char why[2 * NTM_ERROR_SIZE];
        rc = ntm_buf_addf(
            b, "%s  %s  %s  %s  %s %s  %.8s  %s\n", k->unit,
            k->unit_name ? k->unit_name : "", k->task, k->when, k->qty, k->uom,
            k->id, ntm_error_text_lang(&k->why, hl(lang), why, sizeof(why)));
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* CSV (RFC 4180) */

/*
 * One cell and its separator. A text cell (num 0) whose first character
 * is =, +, -, @, tab or CR would be evaluated as a formula by spreadsheet
 * programs (CSV injection, OWASP): it is written quoted with a single
 * quote in front, so "=HYPERLINK(...)" reads as the text it is. Unit names
 * come from unit.create entries, so any text may get here. num 1: a figure
 * this file formatted itself (fmt_num), written as it is.
 */
static enum ntm_err
csv_field(struct ntm_buf *b, const char *s, int num, int last)
{
    enum ntm_err rc = NTM_OK;
    const char *p;
    int formula = !num && s[0] && strchr("=+-@\t\r", s[0]);
    if (formula || strpbrk(s, ",\"\r\n")) {
        rc = ntm_buf_adds(b, formula ? "\"'" : "\"");
        for (p = s; *p && !rc; p++)
            rc = *p == '"' ? ntm_buf_adds(b, "\"\"") : ntm_buf_addch(b, *p);
        if (!rc)
            rc = ntm_buf_addch(b, '"');
    } else {
        rc = ntm_buf_adds(b, s);
    }
    if (!rc)
        rc = ntm_buf_adds(b, last ? "\r\n" : ",");
    return rc;
}

#define CSV_COLS 22

static enum ntm_err
fmt_csv(const struct ntm_report *r, const char *lang, struct ntm_buf *b)
{
    static const char *head[CSV_COLS] = {
        "task",      "label",        "org",
        "unit",      "unit_name",    "period",
        "target",    "achieved",     "unit_of_measure",
        "status",    "status_label", "plan_target",
        "basis",     "share",        "children",
        "record",    "reason",       "activities",
        "measures",  "people",       "amount_vnd",
        "labor_days"};
    /* The figures fmt_num wrote: target, achieved, plan_target, share,
     * children. */
    static const int num[CSV_COLS] = {0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0,
                                      1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1};
    enum ntm_err rc = ntm_buf_adds(b, "\xEF\xBB\xBF");
    size_t c;
    int i;

    for (c = 0; c < CSV_COLS && !rc; c++)
        rc = csv_field(b, head[c], 0, c + 1 == CSV_COLS);
    for (i = 0; i < r->nrows && !rc; i++) {
        const struct Ntm_row *w = &r->rows[i];
        char t[32], a[32], pt[32], sh[32] = "", ch[32] = "";
        fmt_num(w->target, t, sizeof(t));
        fmt_num(w->achieved, a, sizeof(a));
        fmt_num(w->plan_target, pt, sizeof(pt));
        if (w->share >= 0)
            fmt_num((double)Ntm_plan_round(w->share * 100) / 100.0, sh,
                    sizeof(sh));
        if (w->has_children)
            fmt_num(w->children, ch, sizeof(ch));
        const char *f[CSV_COLS] = {w->t->id,
                                   label(w->t, lang),
                                   w->t->org,
                                   w->unit,
                                   w->unit_name,
                                   w->period,
                                   t,
                                   w->status == NTM_ST_NO_DATA ? "" : a,
                                   w->uom,
                                   Ntm_status_name(w->status),
                                   Ntm_status_label(w->status, lang),
                                   pt,
                                   Ntm_basis_name(w->basis),
                                   sh,
                                   ch,
                                   "",
                                   "",
                                   "",
                                   "",
                                   "",
                                   "",
                                   ""};
        for (c = 0; c < CSV_COLS && !rc; c++)
            rc = csv_field(b, f[c], num[c], c + 1 == CSV_COLS);
    }
    /* records the plan cannot count: status not_counted, with the reason;
     * achieved and unit_of_measure as recorded */
    for (i = 0; i < r->nskips && !rc; i++) {
        const struct Ntm_skip *k = &r->skips[i];
        char why[2 * NTM_ERROR_SIZE];
        const char *f[CSV_COLS] = {
            k->task,
            "",
            k->org,
            k->unit,
            k->unit_name ? k->unit_name : "",
            k->when,
            "",
            k->qty,
            k->uom,
            "not_counted",
            tr(lang, N_("not counted")),
            "",
            "",
            "",
            "",
            k->id,
            ntm_error_text_lang(&k->why, hl(lang), why, sizeof(why)),
            "",
            "",
            "",
            "",
            ""};
        for (c = 0; c < CSV_COLS && !rc; c++)
            rc = csv_field(b, f[c], 0, c + 1 == CSV_COLS);
    }
    /* the work of every task: status summary, the quantity in achieved */
    for (i = 0; i < r->nsums && !rc; i++) {
        const struct Ntm_sum *m = &r->sums[i];
        char per[8], q[32] = "", na[24], nm[24], pe[24] = "", mo[32] = "",
                     dy[32] = "";
        snprintf(per, sizeof(per), "%04d", m->year);
        snprintf(na, sizeof(na), "%lld", (long long)m->activities);
        snprintf(nm, sizeof(nm), "%lld", (long long)m->measures);
        if (m->has_qty)
            fmt_num(m->qty, q, sizeof(q));
        if (m->has_people)
            snprintf(pe, sizeof(pe), "%lld", (long long)m->people);
        if (m->has_money)
            fmt_num(m->money, mo, sizeof(mo));
        if (m->has_days)
            fmt_num(m->days, dy, sizeof(dy));
        const char *f[CSV_COLS] = {m->task->id,
                                   en(lang) ? m->task->en : m->task->vi,
                                   m->task->org,
                                   m->unit,
                                   m->unit_name,
                                   per,
                                   "",
                                   q,
                                   m->has_qty && m->uom ? m->uom : "",
                                   "summary",
                                   tr(lang, N_("work recorded")),
                                   "",
                                   "",
                                   "",
                                   "",
                                   "",
                                   "",
                                   na,
                                   nm,
                                   pe,
                                   mo,
                                   dy};
        for (c = 0; c < CSV_COLS && !rc; c++)
            rc = csv_field(b, f[c], c == 7 || c >= 17, c + 1 == CSV_COLS);
    }
    /* duties with a calendar: status duty (target: periods due, achieved:
     * reported, reason: the periods missing); completeness: status
     * completeness (target: unit-periods due, achieved: reported, share:
     * the reporting rate) */
    for (i = 0; i < r->nduties && !rc; i++) {
        const struct Ntm_duty *d = &r->duties[i];
        char per[8], due[16], rep[16], miss[512];
        snprintf(per, sizeof(per), "%04d", d->year);
        snprintf(due, sizeof(due), "%d", d->due);
        snprintf(rep, sizeof(rep), "%d", d->reported);
        duty_missing(d, miss, sizeof(miss));
        const char *f[CSV_COLS] = {d->task->id,
                                   en(lang) ? d->task->en : d->task->vi,
                                   d->task->org,
                                   d->unit,
                                   d->unit_name,
                                   per,
                                   due,
                                   rep,
                                   "period",
                                   "duty",
                                   tr(lang, N_("duty")),
                                   "",
                                   "",
                                   "",
                                   "",
                                   "",
                                   miss,
                                   "",
                                   "",
                                   "",
                                   "",
                                   ""};
        for (c = 0; c < CSV_COLS && !rc; c++)
            rc = csv_field(b, f[c], c == 6 || c == 7, c + 1 == CSV_COLS);
    }
    for (i = 0; i < r->ncompl && !rc; i++) {
        const struct Ntm_compl *m = &r->compl [i];
        char per[8], ex[24], rep[24], rate[32];
        snprintf(per, sizeof(per), "%04d", m->year);
        snprintf(ex, sizeof(ex), "%lld", (long long)m->expected);
        snprintf(rep, sizeof(rep), "%lld", (long long)m->reported);
        compl_rate(m, rate, sizeof(rate));
        const char *f[CSV_COLS] = {m->task->id,
                                   en(lang) ? m->task->en : m->task->vi,
                                   m->task->org,
                                   m->unit,
                                   m->unit_name,
                                   per,
                                   ex,
                                   rep,
                                   "period",
                                   "completeness",
                                   tr(lang, N_("completeness")),
                                   "",
                                   "",
                                   rate,
                                   "",
                                   "",
                                   "",
                                   "",
                                   "",
                                   "",
                                   "",
                                   ""};
        for (c = 0; c < CSV_COLS && !rc; c++)
            rc = csv_field(b, f[c], c == 6 || c == 7 || c == 13,
                           c + 1 == CSV_COLS);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* HTML with inline SVG */

static enum ntm_err
html_esc(struct ntm_buf *b, const char *s)
{
    return ntm_buf_add_html(b, s);
}

/* One table cell holding text (escaped); a number is right-aligned. */
static enum ntm_err
html_td(struct ntm_buf *b, const char *text, int num)
{
    enum ntm_err rc = ntm_buf_adds(b, num ? "<td class=\"num\">" : "<td>");
    if (!rc)
        rc = html_esc(b, text);
    return rc ? rc : ntm_buf_adds(b, "</td>");
}

static const char *
status_color(enum Ntm_status s)
{
    switch (s) {
    case NTM_ST_MET:
        return "#2e7d32";
    case NTM_ST_ON_TRACK:
        return "#1565c0";
    case NTM_ST_BEHIND:
        return "#ef6c00";
    case NTM_ST_MISSED:
        return "#c62828";
    case NTM_ST_NO_DATA:
        return "#9e9e9e";
    }
    return "#9e9e9e";
}

/* share of the bar to fill, 0..1 */
static double
fill(const struct Ntm_row *w)
{
    double f;
    if (w->status == NTM_ST_NO_DATA)
        return 0;
    if (w->t->kind == NTM_KIND_RATIO_MAX || w->t->kind == NTM_KIND_REACH_ZERO)
        f = w->achieved <= 0 ? 1 : w->target / w->achieved;
    else
        f = w->target <= 0 ? 1 : w->achieved / w->target;
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

/* One horizontal bar chart of rows[from..to) with a label per bar. */
static enum ntm_err
svg_bars(struct ntm_buf *b, const struct ntm_report *r, const char *lang,
         const struct Ntm_row **rows, int n, const char *cls, const char *title,
         int by_unit)
{
    enum ntm_err rc;
    int i, h = 22 * n + 28;

    rc = ntm_buf_addf(b,
                      "<svg class=\"chart %s\" xmlns=\"http://www.w3.org/2000/"
                      "svg\" width=\"720\" height=\"%d\" viewBox=\"0 0 720 "
                      "%d\" role=\"img\"><title>",
                      cls, h, h);
    if (!rc)
        rc = html_esc(b, title);
    if (!rc)
        rc = ntm_buf_adds(b, "</title>");
    for (i = 0; i < n && !rc; i++) {
        const struct Ntm_row *w = rows[i];
        char a[32], t[48];
        int y = 20 + 22 * i, width = (int)(long)Ntm_plan_round(400 * fill(w));
        fmt_num(w->achieved, a, sizeof(a));
        fmt_target(w, t, sizeof(t));
        human_nums(lang, a, sizeof(a));
        human_nums(lang, t, sizeof(t));
        rc = ntm_buf_adds(b, "<text x=\"0\" y=\"");
        if (!rc)
            rc = ntm_buf_addf(b, "%d\" font-size=\"11\">", y + 12);
        if (!rc)
            rc = html_esc(b, by_unit ? w->unit_name : w->period);
        if (!rc)
            rc = ntm_buf_addf(
                b,
                "</text><rect x=\"180\" y=\"%d\" width=\"400\" height=\"16\" "
                "fill=\"#eeeeee\"/><rect class=\"bar\" data-unit=\"%s\" "
                "data-period=\"%s\" x=\"180\" y=\"%d\" width=\"%d\" "
                "height=\"16\" fill=\"%s\"/><text x=\"588\" y=\"%d\" "
                "font-size=\"11\">%s / %s ",
                y, w->unit, w->period, y, width, status_color(w->status),
                y + 12, w->status == NTM_ST_NO_DATA ? "-" : a, t);
        if (!rc)
            rc = html_esc(b, uom_label(r, w, lang));
        if (!rc)
            rc = ntm_buf_adds(b, "</text>");
    }
    if (!rc)
        rc = ntm_buf_adds(b, "</svg>\n");
    return rc;
}

static enum ntm_err
html_table(struct ntm_buf *b, const struct ntm_report *r, const char *lang,
           int from, int to)
{
    const char *head[NCOLS];
    char cells[NCOLS][160];
    enum ntm_err rc = ntm_buf_adds(b, "<table><thead><tr>");
    int i, c;

    for (c = 0; c < NCOLS && !rc; c++) {
        head[c] = tr(lang, heads[c]);
        rc = ntm_buf_addf(b, "<th>%s</th>", head[c]);
    }
    if (!rc)
        rc = ntm_buf_adds(b, "</tr></thead><tbody>\n");
    for (i = from; i < to && !rc; i++) {
        const struct Ntm_row *w = &r->rows[i];
        row_cells(r, w, lang, cells);
        rc = ntm_buf_addf(b, "<tr class=\"%s depth%d\" data-status=\"%s\">",
                          Ntm_status_name(w->status), w->depth,
                          Ntm_status_name(w->status));
        for (c = 0; c < NCOLS && !rc; c++)
            rc = html_td(b, cells[c], c == 3 || c == 4 || c == 6 || c == 8);
        if (!rc)
            rc = ntm_buf_adds(b, "</tr>\n");
    }
    if (!rc)
        rc = ntm_buf_adds(b, "</tbody></table>\n");
    return rc;
}

/* The work of every task: one table, a header row per task. */
static enum ntm_err
html_summary(const struct ntm_report *r, const char *lang, struct ntm_buf *b)
{
    char cells[SCOLS][160];
    const struct Ntm_task *cur = NULL;
    enum ntm_err rc;
    int i, c;

    rc = ntm_buf_addf(b,
                      "<section class=\"summary\" id=\"summary\"><h2>%s"
                      "</h2>\n",
                      tr(lang, N_("Work recorded: every task of the plan, "
                                  "per unit and year")));
    if (!rc && !r->nsums)
        rc = ntm_buf_addf(b, "<p>%s</p>\n",
                          tr(lang, N_("nothing recorded in this period")));
    if (!rc && r->nsums) {
        rc = ntm_buf_adds(b, "<table><thead><tr>");
        for (c = 0; c < SCOLS && !rc; c++)
            rc = ntm_buf_addf(b, "<th>%s</th>", tr(lang, sheads[c]));
        if (!rc)
            rc = ntm_buf_adds(b, "</tr></thead><tbody>\n");
    }
    for (i = 0; i < r->nsums && !rc; i++) {
        const struct Ntm_sum *m = &r->sums[i];
        if (m->task != cur) {
            cur = m->task;
            rc = ntm_buf_addf(b,
                              "<tr class=\"task\" data-task=\"%s\"><th "
                              "colspan=\"%d\">%s &middot; ",
                              cur->id, SCOLS, cur->id);
            if (!rc)
                rc = html_esc(b, en(lang) ? cur->en : cur->vi);
            if (!rc)
                rc = ntm_buf_adds(b, "</th></tr>\n");
        }
        sum_cells(r, m, lang, cells);
        if (!rc)
            rc = ntm_buf_addf(b,
                              "<tr class=\"summary depth%d\" "
                              "data-task=\"%s\" data-unit=\"%s\" "
                              "data-period=\"%04d\">",
                              m->depth, m->task->id, m->unit, m->year);
        for (c = 0; c < SCOLS && !rc; c++)
            rc = html_td(b, cells[c], snum(c));
        if (!rc)
            rc = ntm_buf_adds(b, "</tr>\n");
    }
    if (!rc && r->nsums)
        rc = ntm_buf_adds(b, "</tbody></table>");
    if (!rc)
        rc = ntm_buf_adds(b, "</section>\n");
    return rc;
}

static enum ntm_err
html_cells(struct ntm_buf *b, const char *cls, const char *const *cells, int n)
{
    enum ntm_err rc = ntm_buf_addf(b, "<tr class=\"%s\">", cls);
    int k;
    for (k = 0; k < n && !rc; k++)
        rc = html_td(b, cells[k], 0);
    return rc ? rc : ntm_buf_adds(b, "</tr>\n");
}

/* the duties with a calendar and their completeness */
static enum ntm_err
html_duties(const struct ntm_report *r, const char *lang, struct ntm_buf *b)
{
    enum ntm_err rc;
    int i;
    if (!r->nduties)
        return NTM_OK;
    rc = ntm_buf_addf(b,
                      "<section class=\"completeness\" id=\"completeness\">"
                      "<h2>%s</h2><table><thead><tr><th>%s</th><th>%s</th>"
                      "<th>%s</th><th>%s</th><th>%s</th><th>%s</th>"
                      "</tr></thead><tbody>\n",
                      tr(lang, N_("Completeness: periods reported / "
                                  "periods due, per duty and unit")),
                      tr(lang, heads[0]), tr(lang, heads[1]),
                      tr(lang, N_("Task")), tr(lang, heads[2]),
                      tr(lang, N_("reported / due")),
                      tr(lang, N_("units complete")));
    for (i = 0; i < r->ncompl && !rc; i++) {
        const struct Ntm_compl *m = &r->compl [i];
        char per[8], rd[96], uc[48], rate[32];
        const char *cells[6];
        compl_rate(m, rate, sizeof(rate));
        snprintf(per, sizeof(per), "%04d", m->year);
        snprintf(rd, sizeof(rd), "%lld/%lld (%s%s)", (long long)m->reported,
                 (long long)m->expected, rate[0] ? rate : "-",
                 rate[0] ? " %" : "");
        snprintf(uc, sizeof(uc), "%d/%d", m->units_complete, m->units);
        cells[0] = m->unit;
        cells[1] = m->unit_name;
        cells[2] = m->task->id;
        cells[3] = per;
        cells[4] = rd;
        cells[5] = uc;
        rc = html_cells(
            b, m->depth ? "completeness depth1" : "completeness depth0", cells,
            6);
    }
    if (!rc)
        rc = ntm_buf_addf(b,
                          "</tbody></table></section>\n<section "
                          "class=\"duties\" id=\"duties\"><h2>%s</h2>"
                          "<table><thead><tr><th>%s</th><th>%s</th>"
                          "<th>%s</th><th>%s</th><th>%s</th><th>%s</th>"
                          "</tr></thead><tbody>\n",
                          tr(lang, N_("Duties with a calendar: the periods "
                                      "each responsible unit misses")),
                          tr(lang, heads[0]), tr(lang, heads[1]),
                          tr(lang, N_("Task")), tr(lang, heads[2]),
                          tr(lang, N_("reported / due")),
                          tr(lang, N_("missing")));
    for (i = 0; i < r->nduties && !rc; i++) {
        const struct Ntm_duty *d = &r->duties[i];
        char per[8], rd[48], miss[512];
        const char *cells[6];
        if (!d->missing)
            continue;
        snprintf(per, sizeof(per), "%04d", d->year);
        snprintf(rd, sizeof(rd), "%d/%d", d->reported, d->due);
        duty_missing(d, miss, sizeof(miss));
        cells[0] = d->unit;
        cells[1] = d->unit_name;
        cells[2] = d->task->id;
        cells[3] = per;
        cells[4] = rd;
        cells[5] = miss;
        rc = html_cells(b, "duty", cells, 6);
    }
    if (!rc)
        rc = ntm_buf_adds(b, "</tbody></table></section>\n");
    return rc;
}

static enum ntm_err
fmt_html(const struct ntm_report *r, const char *lang, const char *appendix,
         int data_images, struct ntm_buf *b)
{
    const struct Ntm_row **sel;
    enum ntm_err rc;
    int i = 0, j, k, n;
    char day[16];

    sel = ntm_calloc((size_t)r->nrows + 1, sizeof(*sel));
    if (!sel)
        return NTM_ENOMEM;
    rc = ntm_buf_addf(
        b,
        "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
        "'none'; style-src 'unsafe-inline'%s\">"
        "<title>%s</title><style>"
        "body{font-family:sans-serif;margin:1.5em;color:#222}"
        "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}"
        "table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #bbb;padding:2px 6px;font-size:12px}"
        "td.num{text-align:right}tr.depth0{font-weight:bold}"
        "p.legend{font-size:12px;color:#555}"
        "section.target{page-break-inside:avoid}"
        ".met{color:#2e7d32}.missed{color:#c62828}.behind{color:#ef6c00}"
        "@media print{body{margin:0}}"
        "figure{display:inline-block;margin:.5em;vertical-align:top;"
        "max-width:22em}figure img{max-width:100%%;max-height:16em}"
        "figcaption{font-size:12px}"
        "</style></head><body>\n<h1>",
        hl(lang), data_images ? "; img-src data:" : "",
        tr(lang, N_("Progress report")));
    if (!rc)
        rc = html_esc(b, en(lang) ? r->plan->title_en : r->plan->title_vi);
    if (!rc)
        rc = ntm_buf_addf(
            b, "</h1>\n<p class=\"meta\">%s: ", tr(lang, N_("Unit")));
    if (!rc)
        rc = html_esc(b, r->unit_name);
    if (!rc)
        rc = ntm_buf_addf(b, " (%s) &middot; %s %s%s%s</p>\n", r->unit,
                          tr(lang, N_("as of")),
                          human_date(lang, r->as_of, day, sizeof(day)),
                          r->approved ? " &middot; " : "",
                          r->approved ? tr(lang, N_("approved only")) : "");
    if (!rc)
        rc = ntm_buf_adds(b, "<p class=\"legend\">");
    for (k = 0; !rc; k++) {
        char line[512];
        if (!legend_at(r, lang, k, line, sizeof(line)))
            break;
        rc = ntm_buf_adds(b, k ? "<br>" : "");
        if (!rc)
            rc = html_esc(b, line);
    }
    if (!rc)
        rc = ntm_buf_adds(b, "</p>\n");
    while (!rc && i < r->nrows) {
        const struct Ntm_target *t = r->rows[i].t;
        const char *last_period = NULL;
        for (j = i; j < r->nrows && r->rows[j].t == t; j++)
            last_period = r->rows[j].period;
        rc = ntm_buf_addf(b,
                          "<section class=\"target\" id=\"target-%s\" "
                          "data-target=\"%s\"><h2>",
                          t->id, t->id);
        if (!rc)
            rc = html_esc(b, label(t, lang));
        /* the target's id, and its kind as people read it (the
         * identifier stays in data-kind) */
        if (!rc)
            rc = ntm_buf_addf(b,
                              "</h2><p class=\"id\" data-kind=\"%s\">%s "
                              "&middot; ",
                              t->kind_name, t->id);
        if (!rc)
            rc = html_esc(
                b, ntm_label(hl(lang), NTM_LABEL_TARGET_KIND, t->kind_name));
        if (!rc)
            rc = ntm_buf_adds(b, "</p>\n");
        /* progress of the report's unit, period by period */
        for (k = i, n = 0; k < j; k++)
            if (r->rows[k].depth == 0)
                sel[n++] = &r->rows[k];
        if (!rc && n)
            rc = svg_bars(b, r, lang, sel, n, "progress",
                          tr(lang, N_("progress per period")), 0);
        /* the children side by side, latest period */
        for (k = i, n = 0; k < j; k++)
            if (r->rows[k].depth == 1 &&
                !strcmp(r->rows[k].period, last_period))
                sel[n++] = &r->rows[k];
        if (!rc && n)
            rc = svg_bars(b, r, lang, sel, n, "units",
                          tr(lang, N_("units side by side")), 1);
        if (!rc)
            rc = html_table(b, r, lang, i, j);
        if (!rc)
            rc = ntm_buf_adds(b, "</section>\n");
        i = j;
    }
    if (!rc)
        rc = html_summary(r, lang, b);
    if (!rc)
        rc = html_duties(r, lang, b);
    if (!rc && r->nskips) {
        rc = ntm_buf_addf(b,
                          "<section class=\"not-counted\" id=\"not-counted\">"
                          "<h2>%s (%d)</h2><table><thead><tr>",
                          tr(lang, N_("Not counted: records the plan cannot "
                                      "count")),
                          r->nskips);
        for (k = 0; k < NCOLS && !rc; k++)
            if (k == 0 || k == 1 || k == 2)
                rc = ntm_buf_addf(b, "<th>%s</th>", tr(lang, heads[k]));
        if (!rc)
            rc = ntm_buf_addf(b,
                              "<th>%s</th><th>%s</th><th>%s</th>"
                              "</tr></thead><tbody>\n",
                              tr(lang, N_("Task")), tr(lang, N_("Quantity")),
                              tr(lang, N_("Reason")));
        for (k = 0; k < r->nskips && !rc; k++) {
            const struct Ntm_skip *s = &r->skips[k];
            const char *cells[6];
            char q[96], why[2 * NTM_ERROR_SIZE];
            snprintf(q, sizeof(q), "%s %s", s->qty, s->uom);
            cells[0] = s->unit;
            cells[1] = s->unit_name ? s->unit_name : "";
            cells[2] = s->when;
            cells[3] = s->task;
            cells[4] = q;
            cells[5] = ntm_error_text_lang(&s->why, hl(lang), why, sizeof(why));
            rc = ntm_buf_addf(b,
                              "<tr class=\"not_counted\" data-record=\"%s\" "
                              "data-reason=\"%s\">",
                              s->id, s->code);
            for (j = 0; j < 6 && !rc; j++)
                rc = html_td(b, cells[j], 0);
            if (!rc)
                rc = ntm_buf_adds(b, "</tr>\n");
        }
        if (!rc)
            rc = ntm_buf_adds(b, "</tbody></table></section>\n");
    }
    if (!rc && appendix)
        rc = ntm_buf_adds(b, appendix);
    if (!rc)
        rc = ntm_buf_adds(b, "</body></html>\n");
    ntm_free(sel);
    return rc;
}

static int
dump_cb(const char *buf, size_t size, void *data)
{
    return ntm_buf_add(data, buf, size) == NTM_OK ? 0 : -1;
}

enum ntm_err
ntm_report_format(const struct ntm_report *r, enum ntm_report_format fmt,
                  const char *lang, struct ntm_buf *out, struct ntm_error *err)
{
    enum ntm_err rc = NTM_EINVAL;
    json_t *doc;

    switch (fmt) {
    case NTM_REPORT_TABLE:
        rc = fmt_table(r, lang, out);
        break;
    case NTM_REPORT_CSV:
        rc = fmt_csv(r, lang, out);
        break;
    case NTM_REPORT_JSON:
        doc = ntm_report_json(r, lang);
        rc = doc && !json_dump_callback(doc, dump_cb, out,
                                        JSON_INDENT(2) | JSON_PRESERVE_ORDER)
                 ? ntm_buf_addch(out, '\n')
                 : NTM_ENOMEM;
        json_decref(doc);
        break;
    case NTM_REPORT_HTML:
        rc = fmt_html(r, lang, NULL, 0, out);
        break;
    }
    if (rc == NTM_EINVAL)
        return ntm_error_set(err, rc, "unknown report format");
    if (rc)
        return ntm_error_set(err, rc, "out of memory writing the report");
    return NTM_OK;
}

enum ntm_err
ntm_report_format_html(const struct ntm_report *r, const char *lang,
                       const char *appendix, int data_images,
                       struct ntm_buf *out, struct ntm_error *err)
{
    enum ntm_err rc = fmt_html(r, lang, appendix, data_images, out);
    if (rc)
        return ntm_error_set(err, rc, "out of memory writing the report");
    return NTM_OK;
}
