/* SPDX-License-Identifier: MIT */
/*
 * ntm_plan.h - the campaign plan (organizations, tasks, numeric targets),
 * the administrative unit tree, and progress reports against the plan.
 *
 * Loaded from data files in config/ (never C literals). Depends on util/
 * and store/ (hamlets created by unit.create, records for reports).
 */
#ifndef NTM_PLAN_H
#define NTM_PLAN_H

#include "ntm_store.h"

struct ntm_plan;

/* new: the plan and unit tree from config_dir (NULL: $NTM_CONFIG_DIR, then
 * the built-in default). Free with ntm_plan_free. */
NTM_EXTERN enum ntm_err ntm_plan_load(struct ntm_plan **out,
                                      const char *config_dir,
                                      struct ntm_error *err);
NTM_EXTERN void ntm_plan_free(struct ntm_plan *p);

/* NTM_OK when org is an organization code of the plan; NTM_ENOENT with a
 * message listing the valid codes otherwise. */
NTM_EXTERN enum ntm_err ntm_plan_check_org(const struct ntm_plan *p,
                                           const char *org,
                                           struct ntm_error *err);

/* NTM_OK when task is a task or target id of the plan (and belongs to org
 * when org is not NULL); *task_org (may be NULL) gets its organization,
 * borrowed from p. NTM_ENOENT with near-miss suggestions otherwise. */
NTM_EXTERN enum ntm_err ntm_plan_check_task(const struct ntm_plan *p,
                                            const char *task, const char *org,
                                            const char **task_org,
                                            struct ntm_error *err);

/*
 * The plan's data dictionary (config/README.md): NTM_OK when a record of
 * kind ("activity" or "measure") with these fields (those of record.create:
 * task, date or period, qty and uom, num and den, people, ...) is one the
 * plan can count: a kind its task takes, its required fields present, each
 * field of its type and range, a quantity in a unit the task accepts, a
 * denominator above 0 and, where the task says so, num <= den. *qty (may
 * be NULL) gets the quantity in the task's canonical unit (0 without
 * one). Otherwise NTM_EINVAL (NTM_ENOENT for an unknown task) with a
 * message saying why and naming the accepted units, and *field (may be
 * NULL; static or borrowed from p) the field at fault: "task", "kind",
 * "qty", "uom", "num", "den" or the dictionary's field. The store never calls
 * it: the log stays independent of the plan files.
 */
NTM_EXTERN enum ntm_err ntm_plan_check_record(const struct ntm_plan *p,
                                              const char *kind, json_t *fields,
                                              double *qty, const char **field,
                                              struct ntm_error *err);

/*
 * new: a task's data dictionary as a form needs it, or NULL for an
 * unknown task: {"kinds": [...], "uom": canonical unit, "accepts": {uom:
 * factor} (only uom: 1 when the task lists none), "num_le_den": bool,
 * "fields": {kind: {field: {type, required?, min?, max?}}}} for each kind
 * the task takes, the task's own rules merged over the kind's: the rules
 * ntm_plan_check_record applies.
 */
NTM_EXTERN json_t *ntm_plan_task_dict(const struct ntm_plan *p,
                                      const char *task);

/* borrowed: the canonical unit of measure of a task's records, or NULL
 * for an unknown task. */
NTM_EXTERN const char *ntm_plan_task_uom(const struct ntm_plan *p,
                                         const char *task);

/* Whether a task is judged against a named list (config/README.md, "Named
 * lists") that holds unit (or a unit above it): 1 listed, 0 not listed
 * (*file, borrowed, names the list), -1 when the task has no list or the
 * list names no unit yet. */
NTM_EXTERN int ntm_plan_unit_listed(const struct ntm_plan *p, const char *task,
                                    const char *unit, const char **file);

/* NTM_OK when unit is a unit code known to the tree (config or created by
 * unit.create in st, which may be NULL) and in force on date (YYYY-MM-DD,
 * NULL: today). NTM_ENOENT with suggestions otherwise. */
NTM_EXTERN enum ntm_err ntm_plan_check_unit(const struct ntm_plan *p,
                                            struct ntm_store *st,
                                            const char *unit, const char *date,
                                            struct ntm_error *err);

/* borrowed: the label people read for a unit of measure in lang, from
 * the plan's "uoms" (config/): "hộ" for household in Vietnamese; in
 * English ("en") the identifier itself, as --json and CSV carry it. uom
 * itself when the plan does not know it. */
NTM_EXTERN const char *ntm_plan_uom_label(const struct ntm_plan *p,
                                          const char *uom, const char *lang);
/* borrowed: the uom that text names: the identifier, or the Vietnamese or
 * English label of one ("hộ", "households"), compared ignoring case and
 * diacritics; NULL when it names none. */
NTM_EXTERN const char *ntm_plan_uom_parse(const struct ntm_plan *p,
                                          const char *text);

/* borrowed: the display name of a unit code (today's name), or NULL. */
NTM_EXTERN const char *ntm_plan_unit_name(const struct ntm_plan *p,
                                          const char *unit);

/* ------------------------------------------------------------------ */
/* Plan and unit queries */

/*
 * new: the plan as JSON for listings: {"id","title":{"vi","en"},"from",
 * "to","organizations":[{"code","vi","en","tasks":[{"id","vi","en"}],
 * "targets":[{"id","kind","value","uom","years":[from,to],"deadline",
 * "vi","en",...}]}]}. org (may be NULL) keeps one organization;
 * NTM_ENOENT when it is not a code of the plan.
 */
NTM_EXTERN enum ntm_err ntm_plan_describe(const struct ntm_plan *p,
                                          const char *org, json_t **out,
                                          struct ntm_error *err);

/*
 * new: array of units in tree order: {"code","gso_code","name","level",
 * "type","parent","valid_from","valid_to","merged_into","in_force",
 * "names":[{"from","name","type"}]}. name and type are those in force on
 * date (YYYY-MM-DD, NULL: today); retired units are listed with
 * in_force false. text (may be NULL) keeps units whose name or code
 * contains it, ignoring case and diacritics; under (may be NULL) keeps
 * that unit and the units below it. Hamlets created by unit.create come
 * from st (may be NULL).
 */
NTM_EXTERN enum ntm_err ntm_plan_units(const struct ntm_plan *p,
                                       struct ntm_store *st, const char *text,
                                       const char *under, const char *date,
                                       json_t **out, struct ntm_error *err);

/* Number of configured units of level ("province", "district",
 * "commune") in force on date (YYYY-MM-DD). */
NTM_EXTERN int ntm_plan_unit_count(const struct ntm_plan *p, const char *level,
                                   const char *date);

/*
 * The code that carries unit's records on date: unit itself, or, when
 * unit (or one of its ancestors) was merged into another unit before or on
 * date, the same path under the absorbing unit ("72.712.25726.3" becomes
 * "72.712.25729.3" from 2020-02-01). new: free with ntm_free; NULL when
 * out of memory.
 */
NTM_EXTERN char *ntm_plan_unit_successor(const struct ntm_plan *p,
                                         const char *unit, const char *date);

/* ------------------------------------------------------------------ */
/* Progress reports */

struct ntm_report;

struct ntm_report_opts {
    const char *org;            /* only this organization's targets, or NULL */
    const char *unit;           /* report on this unit and its children; NULL:
                                   the province */
    int year;                   /* only this year's periods (0: all) */
    const char *as_of;          /* YYYY-MM-DD, NULL: end of year, else today */
    int approved;               /* count only approved records */
    const char *approved_level; /* with approved: lowest reviewer level
                                   that counts ("hamlet", "commune",
                                   "district", "province"); NULL: any */
};

/*
 * The facts st keeps for reports (plan/rfact.c, store/digest.c) against
 * the facts its records give now, for ntm verify: *out (new) is
 * {"kept": bool, "checked": n, "differ": [record ids], "differ_total": n,
 * "dropped": bool}; "kept" false when st keeps none under p (nothing to
 * compare: the next report makes them). A kept fact that differs would
 * make a report say what the records do not; drop makes every fact go
 * (the next report makes them again from the records).
 */
NTM_EXTERN enum ntm_err ntm_report_check_facts(const struct ntm_plan *p,
                                               struct ntm_store *st, int drop,
                                               json_t **out,
                                               struct ntm_error *err);

/*
 * new: the report computed from the records of st (ntm_store_records:
 * deleted records and revoked devices' entries are already left out) and
 * the hamlets created in st. Free with ntm_report_free.
 * Errors: NTM_EINVAL (bad option, with a message), NTM_ENOENT (unknown
 * org or unit), store errors.
 */
NTM_EXTERN enum ntm_err ntm_report_run(const struct ntm_plan *p,
                                       struct ntm_store *st,
                                       const struct ntm_report_opts *o,
                                       struct ntm_report **out,
                                       struct ntm_error *err);

/*
 * As ntm_report_run, from records (borrowed, the JSON array shape of
 * ntm_store_records) and created_units (borrowed, the shape of
 * ntm_store_units_created; may be NULL).
 */
NTM_EXTERN enum ntm_err
ntm_report_run_records(const struct ntm_plan *p, json_t *records,
                       json_t *created_units, const struct ntm_report_opts *o,
                       struct ntm_report **out, struct ntm_error *err);

NTM_EXTERN void ntm_report_free(struct ntm_report *r);

/* new: {"as_of","communes","legend","rows":[{"task","org","unit",
 * "unit_name","period","target","achieved","unit_of_measure","status",
 * "label","level","kind","plan_target","basis","share",...}]} (SPEC.md
 * section 8). Below the province "target" is the row's own target
 * ("basis": per_unit, rate or pro_rata, config/README.md) and "share" the
 * row's percent of the province's achievement (null when none). lang
 * "en" gives English labels, anything else Vietnamese. */
NTM_EXTERN json_t *ntm_report_json(const struct ntm_report *r,
                                   const char *lang);

enum ntm_report_format {
    NTM_REPORT_TABLE, /* aligned terminal table */
    NTM_REPORT_CSV,   /* RFC 4180, UTF-8 with a byte order mark */
    NTM_REPORT_JSON,  /* ntm_report_json, indented */
    NTM_REPORT_HTML   /* one printable file, inline SVG charts */
};

/* Append the report in format fmt and language lang ("vi" or "en") to
 * out. NTM_EINVAL for an unknown format, NTM_ENOMEM. */
NTM_EXTERN enum ntm_err ntm_report_format(const struct ntm_report *r,
                                          enum ntm_report_format fmt,
                                          const char *lang, struct ntm_buf *out,
                                          struct ntm_error *err);

/* The HTML report with appendix (HTML, written by the caller, escaped
 * already; NULL: none) before its end: `ntm report --with-photos` adds the
 * records' photos there. Its Content-Security-Policy allows no resource
 * but its own styles, and data: images when data_images is set (only
 * then). */
NTM_EXTERN enum ntm_err
ntm_report_format_html(const struct ntm_report *r, const char *lang,
                       const char *appendix, int data_images,
                       struct ntm_buf *out, struct ntm_error *err);

#endif /* NTM_PLAN_H */
