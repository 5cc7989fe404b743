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

/* The report's facts from the store: kept as the records' digests
 * (ntm_store_digests_each), made by Ntm_rfact_make for the records
 * written since the last report, decoded as they are read. */
struct store_src {
    struct ntm_store *st;
    const struct ntm_plan *p;
    struct ntm_buf scratch;
    Ntm_rfact_cb cb;
    void *cb_ud;
    enum ntm_err rc;
};

static int
fact_make(void *ud, json_t *rec, struct ntm_buf *out)
{
    struct store_src *s = ud;
    struct Ntm_rfact x;
    return Ntm_rfact_make(s->p, rec, &x, &s->scratch) ||
           Ntm_rfact_encode(&x, out);
}

static int
fact_read(void *ud, const char *id, const void *bytes, size_t n)
{
    struct store_src *s = ud;
    struct Ntm_rfact x;
    if ((s->rc = Ntm_rfact_decode(bytes, n, id, &x)) != NTM_OK)
        return 1;
    return s->cb(s->cb_ud, &x);
}

static enum ntm_err
store_each(void *ud, Ntm_rfact_cb cb, void *cb_ud, struct ntm_error *err)
{
    struct store_src *s = ud;
    char tag[NTM_HEX_ID_LEN + 1];
    enum ntm_err rc = Ntm_rfact_tag(s->p, tag);
    if (rc != NTM_OK)
        return ntm_error_set(err, rc, "out of memory");
    s->cb = cb;
    s->cb_ud = cb_ud;
    rc = ntm_store_digests_each(s->st, tag, fact_make, s, fact_read, s, err);
    if (rc == NTM_OK && s->rc != NTM_OK)
        rc = ntm_error_set(err, s->rc,
                           N_("the facts this home keeps for reports are "
                              "damaged - run 'ntm verify' and then the "
                              "report again"));
    return rc;
}

static json_t *
store_load(void *ud, const char *id)
{
    struct store_src *s = ud;
    json_t *rec = NULL;
    if (ntm_store_record(s->st, id, &rec, NULL) != NTM_OK)
        return NULL;
    return rec;
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
    /* Kept facts that do not decode (damaged on disk) are not trusted:
     * they are dropped, made again from the records, and read again. */
    for (int round = 0; rc == NTM_OK && round < 2; round++) {
        struct store_src ss = {st, p, NTM_BUF_INIT, NULL, NULL, NTM_OK};
        struct Ntm_fact_source src = {store_each, store_load, &ss};
        rc = Ntm_report_run_from(p, &src, created, o, out, err);
        ntm_buf_release(&ss.scratch);
        if (ss.rc != NTM_ECORRUPT || round > 0 ||
            ntm_store_meta_set(st, "digest.tag", NULL, NULL) != NTM_OK)
            break;
        rc = NTM_OK;
    }
    json_decref(created);
    return rc;
}

enum ntm_err
ntm_report_check_facts(const struct ntm_plan *p, struct ntm_store *st, int drop,
                       json_t **out, struct ntm_error *err)
{
    struct store_src ss = {st, p, NTM_BUF_INIT, NULL, NULL, NTM_OK};
    char tag[NTM_HEX_ID_LEN + 1];
    enum ntm_err rc;

    *out = NULL;
    if ((rc = Ntm_rfact_tag(p, tag)) != NTM_OK)
        return ntm_error_set(err, rc, "out of memory");
    rc = ntm_store_digests_check(st, tag, fact_make, &ss, drop, out, err);
    ntm_buf_release(&ss.scratch);
    return rc;
}
