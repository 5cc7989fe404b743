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

/* NTM_OK when unit is a unit code known to the tree (config or created by
 * unit.create in st, which may be NULL) and in force on date (YYYY-MM-DD,
 * NULL: today). NTM_ENOENT with suggestions otherwise. */
NTM_EXTERN enum ntm_err ntm_plan_check_unit(const struct ntm_plan *p,
                                            struct ntm_store *st,
                                            const char *unit,
                                            const char *date,
                                            struct ntm_error *err);

/* borrowed: the display name of a unit code (today's name), or NULL. */
NTM_EXTERN const char *ntm_plan_unit_name(const struct ntm_plan *p,
                                          const char *unit);

#endif /* NTM_PLAN_H */
