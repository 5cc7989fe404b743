/* SPDX-License-Identifier: MIT */
/*
 * labels.c - the one table of the display labels of ntm's identifiers:
 * record kinds, review states, record marks, roles, record fields, entry
 * operations and statuses, target kinds and unit levels. The identifier
 * is what --json, CSV data, the log and the wire carry, and it never
 * changes; the label is what a person reads, from the catalogue (po/vi.po,
 * each set a msgctxt of its own). The English label is the identifier
 * itself, so English output reads as it always did.
 *
 * Units of measure have their labels in the plan files (config/, "uoms"),
 * not here: ntm_plan_uom_label.
 *
 * Input goes the other way: ntm_label_parse takes an identifier or its
 * label in either language, compared folded (case, diacritics, '-', '_'
 * and spaces ignored), so "--state đã-duyệt", "đã duyệt", "da duyet" and
 * "approved" all name approved.
 *
 * Depends on util/ (ntm_tr, ntm_text_fold) only.
 */
#include "ntm_text.h"

#include <stdio.h>
#include <string.h>

struct label {
    enum ntm_label_set set;
    const char *value; /* the identifier */
    const char *msgid; /* NC_(set context, identifier) */
};

/* Each entry a literal NC_(context, identifier), so that xgettext lists
 * it in po/ntm.pot; the context names the set for translators. */
static const struct label labels[] = {
    {NTM_LABEL_KIND, "activity", NC_("record kind", "activity")},
    {NTM_LABEL_KIND, "measure", NC_("record kind", "measure")},
    {NTM_LABEL_STATE, "submitted", NC_("review state", "submitted")},
    {NTM_LABEL_STATE, "approved", NC_("review state", "approved")},
    {NTM_LABEL_STATE, "rejected", NC_("review state", "rejected")},
    {NTM_LABEL_STATE, "has_issues", NC_("review state", "has_issues")},
    {NTM_LABEL_MARK, "conflict", NC_("record mark", "conflict")},
    {NTM_LABEL_MARK, "deleted", NC_("record mark", "deleted")},
    {NTM_LABEL_ROLE, "admin", NC_("role", "admin")},
    {NTM_LABEL_ROLE, "coordinator", NC_("role", "coordinator")},
    {NTM_LABEL_ROLE, "recorder", NC_("role", "recorder")},
    {NTM_LABEL_FIELD, "date", NC_("record field", "date")},
    {NTM_LABEL_FIELD, "period", NC_("record field", "period")},
    {NTM_LABEL_FIELD, "qty", NC_("record field", "qty")},
    {NTM_LABEL_FIELD, "uom", NC_("record field", "uom")},
    {NTM_LABEL_FIELD, "title", NC_("record field", "title")},
    {NTM_LABEL_FIELD, "note", NC_("record field", "note")},
    {NTM_LABEL_FIELD, "people", NC_("record field", "people")},
    {NTM_LABEL_FIELD, "labor_days", NC_("record field", "labor_days")},
    {NTM_LABEL_FIELD, "amount_vnd", NC_("record field", "amount_vnd")},
    {NTM_LABEL_FIELD, "num", NC_("record field", "num")},
    {NTM_LABEL_FIELD, "den", NC_("record field", "den")},
    {NTM_LABEL_FIELD, "task", NC_("record field", "task")},
    {NTM_LABEL_FIELD, "name", NC_("record field", "name")},
    {NTM_LABEL_FIELD, "dissolved", NC_("record field", "dissolved")},
    {NTM_LABEL_OP, "record.create", NC_("entry op", "record.create")},
    {NTM_LABEL_OP, "record.update", NC_("entry op", "record.update")},
    {NTM_LABEL_OP, "record.delete", NC_("entry op", "record.delete")},
    {NTM_LABEL_OP, "review", NC_("entry op", "review")},
    {NTM_LABEL_OP, "record.attach", NC_("entry op", "record.attach")},
    {NTM_LABEL_OP, "unit.create", NC_("entry op", "unit.create")},
    {NTM_LABEL_OP, "device.enroll", NC_("entry op", "device.enroll")},
    {NTM_LABEL_OP, "device.revoke", NC_("entry op", "device.revoke")},
    {NTM_LABEL_STATUS, "valid", NC_("entry status", "valid")},
    {NTM_LABEL_STATUS, "invalid", NC_("entry status", "invalid")},
    {NTM_LABEL_STATUS, "waiting", NC_("entry status", "waiting")},
    {NTM_LABEL_STATUS, "bad_entry", NC_("entry status", "bad_entry")},
    {NTM_LABEL_STATUS, "bad_signature", NC_("entry status", "bad_signature")},
    {NTM_LABEL_STATUS, "fork", NC_("entry status", "fork")},
    {NTM_LABEL_STATUS, "gap", NC_("entry status", "gap")},
    {NTM_LABEL_STATUS, "unknown_author", NC_("entry status", "unknown_author")},
    {NTM_LABEL_STATUS, "revoked", NC_("entry status", "revoked")},
    {NTM_LABEL_STATUS, "bad_body", NC_("entry status", "bad_body")},
    {NTM_LABEL_STATUS, "forbidden", NC_("entry status", "forbidden")},
    {NTM_LABEL_STATUS, "too_large", NC_("entry status", "too_large")},
    {NTM_LABEL_STATUS, "clock_skew", NC_("entry status", "clock_skew")},
    {NTM_LABEL_TARGET_KIND, "yearly", NC_("target kind", "yearly")},
    {NTM_LABEL_TARGET_KIND, "yearly_sum", NC_("target kind", "yearly_sum")},
    {NTM_LABEL_TARGET_KIND, "yearly_window",
     NC_("target kind", "yearly_window")},
    {NTM_LABEL_TARGET_KIND, "ratio_at_least",
     NC_("target kind", "ratio_at_least")},
    {NTM_LABEL_TARGET_KIND, "ratio_at_most",
     NC_("target kind", "ratio_at_most")},
    {NTM_LABEL_TARGET_KIND, "every_month", NC_("target kind", "every_month")},
    {NTM_LABEL_TARGET_KIND, "monthly_count",
     NC_("target kind", "monthly_count")},
    {NTM_LABEL_TARGET_KIND, "per_unit_count",
     NC_("target kind", "per_unit_count")},
    {NTM_LABEL_TARGET_KIND, "per_unit_yearly_count",
     NC_("target kind", "per_unit_yearly_count")},
    {NTM_LABEL_TARGET_KIND, "exists", NC_("target kind", "exists")},
    {NTM_LABEL_TARGET_KIND, "reach_zero_by_deadline",
     NC_("target kind", "reach_zero_by_deadline")},
    {NTM_LABEL_TARGET_KIND, "register_active",
     NC_("target kind", "register_active")},
    {NTM_LABEL_TARGET_KIND, "compare_reference",
     NC_("target kind", "compare_reference")},
    {NTM_LABEL_TARGET_KIND, "cumulative_by_deadline",
     NC_("target kind", "cumulative_by_deadline")},
    {NTM_LABEL_LEVEL, "province", NC_("unit level", "province")},
    {NTM_LABEL_LEVEL, "district", NC_("unit level", "district")},
    {NTM_LABEL_LEVEL, "commune", NC_("unit level", "commune")},
    {NTM_LABEL_LEVEL, "hamlet", NC_("unit level", "hamlet")},
};

#define NLABELS (sizeof(labels) / sizeof(labels[0]))

const char *
ntm_label(const char *lang, enum ntm_label_set set, const char *value)
{
    if (!value)
        return value;
    for (size_t i = 0; i < NLABELS; i++)
        if (labels[i].set == set && !strcmp(labels[i].value, value))
            return ntm_tr(lang, labels[i].msgid);
    return value;
}

/* s folded for comparison into out: ntm_text_fold, then '-', '_' and
 * spaces dropped. 0 on success. */
static int
squash(const char *s, char *out, size_t size)
{
    char *f = ntm_text_fold(s);
    size_t n = 0;
    if (!f)
        return -1;
    for (const char *p = f; *p; p++) {
        if (*p == '-' || *p == '_' || *p == ' ')
            continue;
        if (n + 1 >= size) {
            ntm_free(f);
            return -1;
        }
        out[n++] = *p;
    }
    out[n] = '\0';
    ntm_free(f);
    return 0;
}

const char *
ntm_label_parse(enum ntm_label_set set, const char *text)
{
    char want[128], have[128];
    if (!text)
        return NULL;
    for (size_t i = 0; i < NLABELS; i++)
        if (labels[i].set == set && !strcmp(labels[i].value, text))
            return labels[i].value;
    if (squash(text, want, sizeof(want)) != 0 || !*want)
        return NULL;
    for (size_t i = 0; i < NLABELS; i++) {
        if (labels[i].set != set)
            continue;
        const char *vi = ntm_tr("vi", labels[i].msgid);
        if ((squash(labels[i].value, have, sizeof(have)) == 0 &&
             !strcmp(want, have)) ||
            (squash(vi, have, sizeof(have)) == 0 && !strcmp(want, have)))
            return labels[i].value;
    }
    return NULL;
}

const char *
ntm_label_values(enum ntm_label_set set, const char *lang, char *out,
                 size_t size)
{
    size_t n = 0;
    if (!size)
        return out;
    out[0] = '\0';
    for (size_t i = 0; i < NLABELS; i++) {
        if (labels[i].set != set)
            continue;
        const char *l = ntm_tr(lang, labels[i].msgid);
        int w = snprintf(out + n, size - n, "%s%s", n ? ", " : "", l);
        if (w < 0 || (size_t)w >= size - n)
            break;
        n += (size_t)w;
    }
    return out;
}
