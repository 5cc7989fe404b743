/* SPDX-License-Identifier: MIT */
/*
 * plan_int.h - what the files of plan/ share: the loaded plan, the unit
 * tree with its name and type history, text folding, and the report rows.
 * Not installed; nothing outside plan/ (and its tests) includes it.
 */
#ifndef NTM_PLAN_INT_H
#define NTM_PLAN_INT_H

#include "ntm_plan.h"

#define PLAN_DATE_LEN 11 /* "YYYY-MM-DD" + NUL */
#define PLAN_CODE_LEN 64
#define PLAN_MAX_VER  4 /* name/type versions per unit */

enum Ntm_kind {
    NTM_KIND_YEARLY_SUM,      /* sum per calendar year >= value */
    NTM_KIND_CUMULATIVE,      /* sum from the start to the deadline */
    NTM_KIND_MONTHLY,         /* every month has >= value activities */
    NTM_KIND_RATIO_MIN,       /* 100*num/den >= value (measures) */
    NTM_KIND_RATIO_MAX,       /* 100*num/den <= value (< when strict) */
    NTM_KIND_REACH_ZERO,      /* sum of num reaches 0 by the deadline */
    NTM_KIND_EXISTS,          /* at least value over the plan */
    NTM_KIND_PER_UNIT_YEARLY, /* each applicable unit >= value a year */
    NTM_KIND_PER_UNIT,        /* each applicable unit >= value by deadline */
    NTM_KIND_COMPARE,         /* 100*num/reference > value */
    NTM_KIND_REGISTER         /* entities active at each year's end >= value
                                 from the deadline's year on */
};

struct Ntm_org {
    const char *code, *vi, *en; /* borrowed from the plan document */
};

/* A duty with a calendar (config/README.md, "Duties with a calendar"):
 * every responsible unit owes a record in every period. */
enum Ntm_cal_kind {
    NTM_CAL_NONE,
    NTM_CAL_MONTH,  /* every_month: 12 periods a year */
    NTM_CAL_WINDOW, /* yearly_window: from MM-DD to MM-DD each year */
    NTM_CAL_YEAR    /* yearly: the calendar year */
};

struct Ntm_cal {
    enum Ntm_cal_kind kind;
    char from[6], to[6];    /* yearly_window: "MM-DD" */
    char level[16];         /* the responsible units' level */
    const char *applies[8]; /* their types (empty: every type) */
    int napplies;
    int min; /* records a period needs (a target's value, else 1) */
    /* A named list of responsible units (config/README.md, "Named
     * lists"): the file (in the config folder) that names them, how many
     * the plan expects, and the codes it names (owned by the plan). The
     * duty is then each listed unit's yearly measure. */
    const char *list_file;
    int expected;
    char (*list)[PLAN_CODE_LEN];
    int nlist;
};

struct Ntm_task {
    const char *id, *org, *vi, *en;
    int target;     /* index in targets, or -1 for a plain task */
    json_t *record; /* borrowed: its "record" member (data dictionary) */
    struct Ntm_cal cal;
};

struct Ntm_target {
    const char *id, *org, *vi, *en, *uom, *kind_name;
    enum Ntm_kind kind;
    double value;
    int year_from, year_to;
    char deadline[PLAN_DATE_LEN]; /* "" when every year is judged */
    int strict;                   /* strict comparison (< or >) */
    int amount_count;             /* 1: a record counts qty or 1; 0: qty */
    const char *applies[8];       /* unit types, per-unit kinds */
    int napplies;
};

struct Ntm_unit_ver {
    char from[PLAN_DATE_LEN]; /* "" for the base version */
    char *name;
    char type[16];
};

struct Ntm_unit {
    char code[PLAN_CODE_LEN];
    char gso[16];
    char level[16]; /* province, district, commune, hamlet */
    char parent[PLAN_CODE_LEN];
    char valid_from[PLAN_DATE_LEN]; /* "" : before the plan */
    char valid_to[PLAN_DATE_LEN];   /* "" : still in force */
    char merged_into[PLAN_CODE_LEN];
    int created; /* 1: from a unit.create entry */
    int nver;
    struct Ntm_unit_ver ver[PLAN_MAX_VER];
};

struct ntm_plan {
    json_t *docs; /* array of the loaded plan documents */
    const char *id, *title_vi, *title_en, *province;
    char from[PLAN_DATE_LEN], to[PLAN_DATE_LEN];
    json_t *uoms;   /* owned: {"km":{"vi","en"},...} of all plan files */
    json_t *fields; /* owned: {"activity":{field:rule},"measure":{...}} */
    struct Ntm_org *orgs;
    int norgs;
    struct Ntm_task *tasks;
    int ntasks;
    struct Ntm_target *targets;
    int ntargets;
    struct Ntm_unit *units;
    int nunits;
};

/* ---- text (text.c) ---- */
/* today in local time, "YYYY-MM-DD" (NTM_NOW_MS honoured) */
void Ntm_plan_today(char out[PLAN_DATE_LEN]);
/* v rounded half away from zero (libm is not linked) */
int64_t Ntm_plan_round(double v);
/* days since 1970-01-01 of a valid date, and back */
int64_t Ntm_plan_days(const char *date);
void Ntm_plan_date(int64_t days, char out[PLAN_DATE_LEN]);

/* ---- units (units.c) ---- */
enum ntm_err Ntm_units_load(struct ntm_plan *p, const char *dir,
                            struct ntm_error *err);
void Ntm_units_free(struct ntm_plan *p);
/* borrowed: the configured unit with this code, or NULL */
const struct Ntm_unit *Ntm_unit_find(const struct ntm_plan *p,
                                     const char *code);
/* the version in force on date (the last one whose from <= date) */
const struct Ntm_unit_ver *Ntm_unit_ver_at(const struct Ntm_unit *u,
                                           const char *date);
int Ntm_unit_in_force(const struct Ntm_unit *u, const char *date);
/* new array of struct Ntm_unit: the configured units plus the created ones
 * (json array of {"code","name","level"}, may be NULL). Free with
 * Ntm_units_array_free. */
enum ntm_err Ntm_units_with_created(const struct ntm_plan *p, json_t *created,
                                    struct Ntm_unit **out, int *n,
                                    struct ntm_error *err);
void Ntm_units_array_free(struct Ntm_unit *u, int n);
/* the unit's code after merges effective on or before date, written to out
 * (size PLAN_CODE_LEN); 0 when it does not fit */
int Ntm_unit_successor(const struct ntm_plan *p, const char *code,
                       const char *date, char out[PLAN_CODE_LEN]);
/* 1 when code equals scope or lies below it */
int Ntm_code_within(const char *code, const char *scope);

/* ---- plan (plan.c) ---- */
const struct Ntm_target *Ntm_plan_target(const struct ntm_plan *p,
                                         const char *id);
/* borrowed label of a unit of measure in lang, never NULL */
const char *Ntm_plan_uom_label(const struct ntm_plan *p, const char *uom,
                               const char *lang);
enum ntm_err Ntm_plan_check_unit_in(const struct ntm_plan *p, json_t *created,
                                    const char *unit, const char *date,
                                    struct ntm_error *err);
json_t *Ntm_plan_units_json(const struct ntm_plan *p, json_t *created,
                            const char *text, const char *under,
                            const char *date);

/* ---- the data dictionary (dict.c) ---- */
const struct Ntm_task *Ntm_plan_task(const struct ntm_plan *p, const char *id);
/* NTM_ECONFIG when a task's "record" member is malformed */
enum ntm_err Ntm_dict_check_task(const struct ntm_plan *p, json_t *rec,
                                 const char *file, const char *id,
                                 struct ntm_error *err);
/* a decimal of SPEC.md section 3 (string) or a JSON number >= 0; -1 else */
double Ntm_dict_decimal(json_t *v);
/* ntm_plan_check_record, with *code (static) the reason's name when it
 * refuses (unknown_task, wrong_kind, missing_field, bad_field,
 * den_not_positive, num_above_den, no_qty, no_uom, uom_not_accepted) and
 * *field the field at fault */
enum ntm_err Ntm_dict_check(const struct ntm_plan *p, const char *kind,
                            json_t *fields, double *qty, const char **code,
                            const char **field, struct ntm_error *err);

/* ---- reports (report.c, report_fmt.c) ---- */
enum Ntm_status {
    NTM_ST_MET,
    NTM_ST_ON_TRACK,
    NTM_ST_BEHIND,
    NTM_ST_MISSED,
    NTM_ST_NO_DATA
};

/* What a row's target stands on (config/README.md, "Rows below the
 * province"). */
enum Ntm_basis {
    NTM_BASIS_PLAN,     /* the plan's figure (province rows) */
    NTM_BASIS_PER_UNIT, /* the plan's figure per unit (per-unit targets) */
    NTM_BASIS_RATE,     /* the plan's rate, which holds for every unit */
    NTM_BASIS_PRO_RATA, /* the unit's pro-rata share of the plan's figure */
    NTM_BASIS_LIST      /* the units of a named list (pilot communes) */
};

struct Ntm_row {
    const struct Ntm_target *t;
    char unit[PLAN_CODE_LEN];
    char *unit_name; /* owned */
    char level[16];
    int depth;       /* 0: the report's unit, 1: a child */
    char period[16]; /* "2017" or "2016-2017" */
    double target;
    double achieved;
    const char *uom; /* borrowed: t->uom or "unit" for per-unit roll-ups */
    enum Ntm_status status;
    int64_t records; /* records counted */
    int has_ratio;
    int64_t num, den; /* ratio kinds: the unit's figure (config/README.md) */
    int has_children; /* measures: the unit's own figure, and some below */
    double children;  /* the figure of the units below it */
    int64_t cnum, cden;
    enum Ntm_basis basis;
    double plan_target; /* the plan's figure as written */
    double share;       /* % of the province's achievement; < 0: none */
};

/* A record the plan cannot count (the data dictionary refused it). */
struct Ntm_skip {
    char id[40];
    char unit[PLAN_CODE_LEN]; /* carried by (after merges) */
    char *unit_name;          /* owned, may be NULL */
    char *task;               /* owned */
    char kind[12], org[16], when[12], qty[48], uom[32];
    const char *code; /* static: unknown_task, uom_not_accepted, ... */
    struct ntm_error why;
};

/* A record as the summary of its task counts it (every task of the plan,
 * config/README.md "The work of every organization"). */
struct Ntm_srec {
    int task;         /* index in plan->tasks */
    const char *unit; /* carried by (after merges); borrowed */
    int year;
    int measure; /* 1: a measure record */
    int has_qty, has_people, has_money, has_days;
    double qty; /* in the task's canonical unit */
    int64_t people;
    double money;             /* VND: amount_vnd, else a quantity in vnd */
    double days;              /* working days: labor_days */
    char date[PLAN_DATE_LEN]; /* an activity's date, "" for a measure */
    int64_t count; /* duties: the records this one stands for (1 or more
                      of the same task, unit, year, kind and date) */
};

/* One responsible unit's duty in a year (duties.c). */
struct Ntm_duty {
    const struct Ntm_task *task;
    char unit[PLAN_CODE_LEN];
    char *unit_name; /* owned */
    int year;
    int nper;         /* periods in the year: 12 or 1 */
    int due;          /* periods ended by the as-of date */
    int reported;     /* of those, periods with their records */
    int seen;         /* periods with their records, ended or not */
    int64_t records;  /* the task's activities of the unit in the year */
    unsigned missing; /* bit p-1: period p due and without its records */
};

/* Completeness of a duty in a year for the report's unit (depth 0) or a
 * unit directly below it (depth 1), as DHIS2's reporting rate. */
struct Ntm_compl {
    const struct Ntm_task *task;
    char unit[PLAN_CODE_LEN];
    char *unit_name; /* owned */
    char level[16];
    int depth;
    int year;
    int units;          /* responsible units at or below it */
    int units_complete; /* of those, with every due period reported */
    int64_t expected;   /* unit-periods due */
    int64_t reported;   /* of those, reported */
};

/* One summary row: a task's records at or below a unit in a year. */
struct Ntm_sum {
    const struct Ntm_task *task;
    char unit[PLAN_CODE_LEN];
    char *unit_name; /* owned */
    char level[16];
    int depth; /* 0: the report's unit, 1: a child */
    int year;
    const char *uom; /* borrowed: the task's canonical unit */
    int64_t activities, measures;
    int has_qty, has_people, has_money, has_days;
    double qty, money, days;
    int64_t people;
};

struct ntm_report {
    const struct ntm_plan *plan;
    char as_of[PLAN_DATE_LEN];
    char unit[PLAN_CODE_LEN];
    char *unit_name;
    int approved;
    char approved_level[16];
    struct Ntm_row *rows;
    int nrows, cap;
    int ncommunes; /* the province's communes, the base of pro-rata shares */
    struct Ntm_skip *skips; /* not counted, by unit, task, date */
    int nskips, skipcap;
    struct Ntm_sum *sums; /* by task (plan order), year, unit */
    int nsums;
    struct Ntm_duty *duties; /* by task (plan order), year, unit (tree) */
    int nduties;
    struct Ntm_compl * compl ; /* by task, year, unit (top, then children) */
    int ncompl;
};

/* The sums of one task (index in plan->tasks) and year: acc[0] at the
 * report's unit, acc[k] at the k-th unit directly below it. */
struct Ntm_sumgroup {
    int task, year;
    struct Ntm_sum *acc; /* owned by the caller */
};
/* Add the record s to the sums m (summary.c). */
void Ntm_summary_add(struct Ntm_sum *m, const struct Ntm_srec *s);
/* A record's facts (rfact.c): what the report reads of it that does not
 * depend on the report's options. Strings are borrowed (from the record's
 * JSON, or from the bytes they were decoded from); NULL when absent. */
#define RFACT_NOT_APPROVED (-128)
struct Ntm_rfact {
    const char *id, *unit, *org, *kind;
    const char *date, *period; /* fields.date, fields.period (strings) */
    const char *name;          /* a register's entity name, folded */
    const char *ename;         /* a register's entity name, as written */
    const char *qty_s, *uom_s; /* fields.qty, fields.uom (strings) */
    const char *task_s;        /* fields.task when the plan has no such task */
    int task;                  /* index in plan->tasks, -1 when unknown */
    int approved;         /* review "approved": the highest level that approved
                             it (Ntm_level_rank), else RFACT_NOT_APPROVED */
    unsigned deleted : 1; /* the record is deleted */
    unsigned dict_ok : 1; /* the data dictionary accepts it (qty valid) */
    unsigned has_qty : 1; /* fields.qty is present (valid or not) */
    unsigned numden_int : 1; /* fields.num and fields.den are integers */
    unsigned has_people : 1, has_money : 1, has_days : 1, has_num : 1,
        has_den : 1;
    double qty;                      /* in the task's canonical unit */
    int64_t people, money, num, den; /* whole numbers of those fields */
    double days;                     /* fields.labor_days */
    int date_ymd;  /* fields.date as YYYYMMDD, 0 when not a valid date */
    int dissolved; /* fields.dissolved as YYYYMMDD, 0 when none */
    char date_buf[PLAN_DATE_LEN]; /* date, when decoded from its number */
};
/* The facts of rec (ntm_store_records shape) under plan p; x's strings
 * borrow from rec and scratch. NTM_ENOMEM only. */
enum ntm_err Ntm_rfact_make(const struct ntm_plan *p, json_t *rec,
                            struct Ntm_rfact *x, struct ntm_buf *scratch);
/* x as bytes appended to b (the layout is at the top of rfact.c) */
enum ntm_err Ntm_rfact_encode(const struct Ntm_rfact *x, struct ntm_buf *b);
/* bytes back into x, the facts of record id (borrowed), whose strings
 * then point into bytes, id and x itself; NTM_ECORRUPT for bytes this
 * version did not write */
enum ntm_err Ntm_rfact_decode(const void *bytes, size_t n, const char *id,
                              struct Ntm_rfact *x);
/* The tag of facts made under p: the version of the bytes and the
 * dictionary they depend on, as 64 hex digits. NTM_ENOMEM only. */
enum ntm_err Ntm_rfact_tag(const struct ntm_plan *p,
                           char out[NTM_HEX_ID_LEN + 1]);
/* "hamlet" 0, "commune" 1, "district" 2, "province" 3, else -1 */
int Ntm_level_rank(const char *level);
/* a valid date "YYYY-MM-DD" as the number YYYYMMDD, which orders as the
 * text does; 0 for anything else */
int Ntm_ymd(const char *s);

/* A source of facts in creation order (the order of ntm_store_records):
 * calls cb with each until cb returns nonzero; load gives a record's
 * whole JSON by its id (a new reference, NULL when gone or out of
 * memory), for the records a report lists as not counted. */
typedef int (*Ntm_rfact_cb)(void *ud, const struct Ntm_rfact *x);
struct Ntm_fact_source {
    enum ntm_err (*each)(void *ud, Ntm_rfact_cb cb, void *cb_ud,
                         struct ntm_error *err);
    json_t *(*load)(void *ud, const char *id);
    void *ud;
};

/* ntm_report_run_records from any source of facts: read once, one
 * record at a time, none of them kept (report.c). */
enum ntm_err
Ntm_report_run_from(const struct ntm_plan *p, const struct Ntm_fact_source *src,
                    json_t *created_units, const struct ntm_report_opts *o,
                    struct ntm_report **out, struct ntm_error *err);

/* The summary rows of every task (summary.c) from its groups (sorted in
 * place by task, then year): U[0] the report's unit, U[1..nu) the units
 * directly below it. */
enum ntm_err Ntm_summary_build(struct ntm_report *r, struct Ntm_sumgroup *g,
                               int ng, const struct Ntm_unit *const *U, int nu);
void Ntm_summary_free(struct ntm_report *r);

/* The duties with a calendar (duties.c): every responsible unit at or
 * below top, per year, and the completeness of each. s: the records of
 * tasks with a calendar at or below top (any order), each standing for
 * s->count records; org (may be NULL) keeps one
 * organization's, year (0: all) one year's. */
enum ntm_err Ntm_duties_build(struct ntm_report *r, const struct Ntm_srec *s,
                              int n, const struct Ntm_unit *units, int nunits,
                              const struct Ntm_unit *top, const char *org,
                              int year);
void Ntm_duties_free(struct ntm_report *r);
/* the name of period p (1-based) of a calendar: "01".."12", "06-01..06-10",
 * the year */
void Ntm_duty_period(const struct Ntm_cal *cal, int year, int p, char *out,
                     size_t size);
/* read the named lists of the tasks' calendars from the config folder
 * dir (after the units); a missing file names no unit yet */
enum ntm_err Ntm_lists_load(struct ntm_plan *p, const char *dir,
                            struct ntm_error *err);
void Ntm_lists_free(struct ntm_plan *p);
/* 1 when code is a listed unit of cal's list or lies below one */
int Ntm_cal_listed(const struct Ntm_cal *cal, const char *code);
/* parse a task's "calendar" member (NULL: none) into cal; NTM_ECONFIG */
enum ntm_err Ntm_cal_parse(json_t *o, int min, struct Ntm_cal *cal,
                           const char *file, const char *id,
                           struct ntm_error *err);

const char *Ntm_status_name(enum Ntm_status s);
const char *Ntm_basis_name(enum Ntm_basis b);
const char *Ntm_status_label(enum Ntm_status s, const char *lang);

#endif /* NTM_PLAN_INT_H */
