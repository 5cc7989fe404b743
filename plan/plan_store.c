/* SPDX-License-Identifier: MIT */
/*
 * plan_store.c - the plan functions that read the store: hamlets created
 * by unit.create entries (ntm_store_units_created) and the records that
 * reports count (ntm_store_records). Everything else in plan/ works on
 * plain JSON so that it can be tested and used without a store.
 * Depends on util/, store/ and the rest of plan/.
 */
#include "plan_int.h"

static enum ntm_err
created_units(struct ntm_store *st, json_t **out, struct ntm_error *err)
{
    *out = NULL;
    if (!st)
        return NTM_OK;
    return ntm_store_units_created(st, out, err);
}

enum ntm_err
ntm_plan_check_unit(const struct ntm_plan *p, struct ntm_store *st,
                    const char *unit, const char *date, struct ntm_error *err)
{
    json_t *created = NULL;
    enum ntm_err rc;

    /* configured units need no store */
    if (unit && Ntm_unit_find(p, unit))
        return Ntm_plan_check_unit_in(p, NULL, unit, date, err);
    rc = created_units(st, &created, err);
    if (rc == NTM_OK)
        rc = Ntm_plan_check_unit_in(p, created, unit, date, err);
    json_decref(created);
    return rc;
}

enum ntm_err
ntm_plan_units(const struct ntm_plan *p, struct ntm_store *st, const char *text,
               const char *under, const char *date, json_t **out,
               struct ntm_error *err)
{
    json_t *created = NULL;
    enum ntm_err rc;

    *out = NULL;
    if (date && !ntm_date_valid(date))
        return ntm_error_set(err, NTM_EINVAL, "bad date '%s' - use YYYY-MM-DD",
                             date);
    rc = created_units(st, &created, err);
    if (rc)
        return rc;
    *out = Ntm_plan_units_json(p, created, text, under, date);
    json_decref(created);
    if (!*out)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    return NTM_OK;
}

/* The store's records, streamed without their heads and conflicts
 * (which reports do not read). */
static enum ntm_err
store_source(void *ud, ntm_record_cb cb, void *cb_ud, struct ntm_error *err)
{
    struct ntm_record_filter f = {0};
    return ntm_store_records_each(ud, &f, NTM_RECORDS_BRIEF, cb, cb_ud, err);
}

enum ntm_err
ntm_report_run(const struct ntm_plan *p, struct ntm_store *st,
               const struct ntm_report_opts *o, struct ntm_report **out,
               struct ntm_error *err)
{
    json_t *created = NULL;
    enum ntm_err rc;

    *out = NULL;
    rc = created_units(st, &created, err);
    if (rc == NTM_OK)
        rc = Ntm_report_run_from(p, store_source, st, created, o, out, err);
    json_decref(created);
    return rc;
}
