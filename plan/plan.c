/* SPDX-License-Identifier: MIT */
/*
 * plan.c - loading the campaign plan (config/plan-*.json, one file per
 * plan period) and checking organization, task and unit codes against it,
 * with near-miss suggestions that ignore case and diacritics.
 *
 * The plan is data: a later period is a new plan-*.json file beside the
 * old one, never new code (format: config/README.md). Depends on util/,
 * jansson and the unit tree (units.c); the store is reached only through
 * plan_store.c.
 */
#include "plan_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PLAN_MAX_BYTES (4u << 20)
#define PLAN_MAX_FILES 16
#define SUGGEST_MAX    4

static const struct {
    const char *name;
    enum Ntm_kind kind;
} kinds[] = {
    {"yearly_sum", NTM_KIND_YEARLY_SUM},
    {"cumulative_by_deadline", NTM_KIND_CUMULATIVE},
    {"monthly_count", NTM_KIND_MONTHLY},
    {"ratio_at_least", NTM_KIND_RATIO_MIN},
    {"ratio_at_most", NTM_KIND_RATIO_MAX},
    {"reach_zero_by_deadline", NTM_KIND_REACH_ZERO},
    {"exists", NTM_KIND_EXISTS},
    {"per_unit_yearly_count", NTM_KIND_PER_UNIT_YEARLY},
    {"per_unit_count", NTM_KIND_PER_UNIT},
    {"compare_reference", NTM_KIND_COMPARE},
    {"register_active", NTM_KIND_REGISTER},
};

static const char *
str_member(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

const struct Ntm_target *
Ntm_plan_target(const struct ntm_plan *p, const char *id)
{
    int i;
    for (i = 0; i < p->ntargets; i++)
        if (!strcmp(p->targets[i].id, id))
            return &p->targets[i];
    return NULL;
}

static const struct Ntm_task *
find_task(const struct ntm_plan *p, const char *id)
{
    return Ntm_plan_task(p, id);
}

static const struct Ntm_org *
find_org(const struct ntm_plan *p, const char *code)
{
    int i;
    for (i = 0; i < p->norgs; i++)
        if (!strcmp(p->orgs[i].code, code))
            return &p->orgs[i];
    return NULL;
}

const char *
Ntm_plan_uom_label(const struct ntm_plan *p, const char *uom, const char *lang)
{
    json_t *u = json_object_get(p->uoms, uom);
    const char *l = str_member(u, lang && !strcmp(lang, "en") ? "en" : "vi");
    return l ? l : uom;
}

const char *
ntm_plan_uom_label(const struct ntm_plan *p, const char *uom, const char *lang)
{
    if (!p || !uom || (lang && !strcmp(lang, "en")))
        return uom;
    return Ntm_plan_uom_label(p, uom, "vi");
}

/* Whether the folds of a and b are equal. */
static int
fold_eq(const char *a, const char *b)
{
    char *fa = a ? ntm_text_fold_compat(a) : NULL;
    char *fb = b ? ntm_text_fold_compat(b) : NULL;
    int eq = fa && fb && !strcmp(fa, fb);
    ntm_free(fa);
    ntm_free(fb);
    return eq;
}

const char *
ntm_plan_uom_parse(const struct ntm_plan *p, const char *text)
{
    const char *k;
    json_t *u;
    if (!p || !text)
        return NULL;
    json_object_foreach (p->uoms, k, u)
        if (!strcmp(k, text))
            return k;
    json_object_foreach (p->uoms, k, u)
        if (fold_eq(k, text) || fold_eq(str_member(u, "vi"), text) ||
            fold_eq(str_member(u, "en"), text))
            return k;
    return NULL;
}

static enum ntm_err
bad_plan(struct ntm_error *err, const char *file, const char *what,
         const char *id)
{
    return ntm_error_set(err, NTM_ECONFIG,
                         "plan file '%s': %s '%s' - fix the file (format in "
                         "config/README.md)",
                         file, what, id ? id : "");
}

static int
grow(void **arr, int n, int *cap, size_t size)
{
    void *na;
    if (n < *cap)
        return 0;
    *cap = *cap ? *cap * 2 : 32;
    na = ntm_realloc(*arr, (size_t)*cap * size);
    if (!na)
        return -1;
    *arr = na;
    return 0;
}

static enum ntm_err
parse_target(struct ntm_plan *p, json_t *o, const char *file,
             struct Ntm_target *t, struct ntm_error *err)
{
    json_t *years = json_object_get(o, "years"), *ap, *v;
    const char *kind = str_member(o, "kind"), *amount, *dl;
    size_t i;

    memset(t, 0, sizeof(*t));
    t->id = str_member(o, "id");
    t->org = str_member(o, "org");
    t->vi = str_member(o, "vi");
    t->en = str_member(o, "en");
    t->uom = str_member(o, "uom");
    if (!t->id || !t->org || !t->vi || !t->en || !t->uom)
        return bad_plan(err, file, "target lacks id, org, vi, en or uom",
                        t->id);
    if (!find_org(p, t->org))
        return bad_plan(err, file, "target of an unknown organization", t->id);
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kind && !strcmp(kind, kinds[i].name))
            break;
    if (i == sizeof(kinds) / sizeof(kinds[0]))
        return bad_plan(err, file, "unknown target kind in", t->id);
    t->kind = kinds[i].kind;
    t->kind_name = kinds[i].name;
    v = json_object_get(o, "value");
    if (!json_is_number(v))
        return bad_plan(err, file, "target without a numeric value", t->id);
    t->value = json_number_value(v);
    if (json_array_size(years) != 2 ||
        !json_is_integer(json_array_get(years, 0)) ||
        !json_is_integer(json_array_get(years, 1)))
        return bad_plan(err, file, "target without \"years\": [from, to]",
                        t->id);
    t->year_from = (int)json_integer_value(json_array_get(years, 0));
    t->year_to = (int)json_integer_value(json_array_get(years, 1));
    if (t->year_from < 1900 || t->year_to < t->year_from || t->year_to > 9999)
        return bad_plan(err, file, "target with bad years", t->id);
    dl = str_member(o, "deadline");
    if (dl) {
        if (!ntm_date_valid(dl))
            return bad_plan(err, file, "target with a bad deadline", t->id);
        memcpy(t->deadline, dl, PLAN_DATE_LEN);
    }
    if ((t->kind == NTM_KIND_CUMULATIVE || t->kind == NTM_KIND_PER_UNIT ||
         t->kind == NTM_KIND_REACH_ZERO || t->kind == NTM_KIND_EXISTS ||
         t->kind == NTM_KIND_REGISTER) &&
        !dl)
        return bad_plan(err, file, "target of this kind needs a deadline",
                        t->id);
    t->strict = json_is_true(json_object_get(o, "strict"));
    amount = str_member(o, "amount");
    t->amount_count = amount && !strcmp(amount, "count");
    ap = json_object_get(o, "applies_to");
    for (i = 0; i < json_array_size(ap) && i < 8; i++)
        if (json_string_value(json_array_get(ap, i)))
            t->applies[t->napplies++] =
                json_string_value(json_array_get(ap, i));
    if ((t->kind == NTM_KIND_PER_UNIT || t->kind == NTM_KIND_PER_UNIT_YEARLY) &&
        !t->napplies)
        return bad_plan(err, file, "per-unit target needs \"applies_to\"",
                        t->id);
    return NTM_OK;
}

static enum ntm_err
add_task(struct ntm_plan *p, int *cap, const char *id, const char *org,
         const char *vi, const char *en, int target, json_t *rec, json_t *cal,
         int min, const char *file, struct ntm_error *err)
{
    struct Ntm_task *t;
    struct Ntm_cal c;
    enum ntm_err rc = Ntm_dict_check_task(p, rec, file, id, err);
    if (rc || (rc = Ntm_cal_parse(cal, min, &c, file, id, err)))
        return rc;
    if (find_task(p, id)) {
        /* a target repeated by a later period's file is the same task */
        if (target >= 0)
            return NTM_OK;
        return bad_plan(err, file, "task id repeated", id);
    }
    if (grow((void **)&p->tasks, p->ntasks, cap, sizeof(*p->tasks)))
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    t = &p->tasks[p->ntasks++];
    t->id = id;
    t->org = org;
    t->vi = vi;
    t->en = en;
    t->target = target;
    t->record = rec;
    t->cal = c;
    return NTM_OK;
}

static enum ntm_err
parse_doc(struct ntm_plan *p, json_t *doc, const char *file, int *ocap,
          int *tcap, int *gcap, struct ntm_error *err)
{
    json_t *a, *o, *uoms;
    const char *k, *from = str_member(doc, "from"), *to = str_member(doc, "to");
    size_t i;
    enum ntm_err rc;

    if (!json_is_object(doc) ||
        !json_is_integer(json_object_get(doc, "format")) ||
        json_integer_value(json_object_get(doc, "format")) != 1)
        return bad_plan(err, file, "not a plan of format", "1");
    if (!from || !to || !ntm_date_valid(from) || !ntm_date_valid(to))
        return bad_plan(err, file, "bad or missing", "from/to");
    if (!p->id) {
        p->id = str_member(doc, "id");
        p->province = str_member(doc, "province");
        p->title_vi = str_member(json_object_get(doc, "title"), "vi");
        p->title_en = str_member(json_object_get(doc, "title"), "en");
    }
    if (!p->from[0] || strcmp(from, p->from) < 0)
        memcpy(p->from, from, PLAN_DATE_LEN);
    if (!p->to[0] || strcmp(to, p->to) > 0)
        memcpy(p->to, to, PLAN_DATE_LEN);
    uoms = json_object_get(doc, "uoms");
    json_object_foreach (uoms, k, o) {
        if (json_object_set(p->uoms, k, o))
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    /* the fields of each record kind: a later file's rule replaces an
     * earlier one's */
    json_object_foreach (json_object_get(doc, "fields"), k, o) {
        json_t *have = json_object_get(p->fields, k);
        if (!json_is_object(o))
            return bad_plan(err, file, "\"fields\" of a kind not an object", k);
        if (!have && json_object_set_new(p->fields, k, json_object()))
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        if (json_object_update(json_object_get(p->fields, k), o))
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    }
    a = json_object_get(doc, "organizations");
    json_array_foreach (a, i, o) {
        const char *code = str_member(o, "code");
        if (!code || !str_member(o, "vi") || !str_member(o, "en"))
            return bad_plan(err, file, "organization lacks code, vi or en",
                            code);
        if (find_org(p, code))
            continue;
        if (grow((void **)&p->orgs, p->norgs, ocap, sizeof(*p->orgs)))
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        p->orgs[p->norgs].code = code;
        p->orgs[p->norgs].vi = str_member(o, "vi");
        p->orgs[p->norgs].en = str_member(o, "en");
        p->norgs++;
    }
    a = json_object_get(doc, "tasks");
    json_array_foreach (a, i, o) {
        const char *id = str_member(o, "id"), *org = str_member(o, "org");
        if (!id || !org || !str_member(o, "vi") || !str_member(o, "en"))
            return bad_plan(err, file, "task lacks id, org, vi or en", id);
        if (!find_org(p, org))
            return bad_plan(err, file, "task of an unknown organization", id);
        rc = add_task(p, tcap, id, org, str_member(o, "vi"),
                      str_member(o, "en"), -1, json_object_get(o, "record"),
                      json_object_get(o, "calendar"), 1, file, err);
        if (rc)
            return rc;
    }
    a = json_object_get(doc, "targets");
    json_array_foreach (a, i, o) {
        struct Ntm_target t;
        int j;
        rc = parse_target(p, o, file, &t, err);
        if (rc)
            return rc;
        for (j = 0; j < p->ntargets; j++)
            if (!strcmp(p->targets[j].id, t.id) &&
                t.year_from <= p->targets[j].year_to &&
                p->targets[j].year_from <= t.year_to)
                return bad_plan(err, file,
                                "target repeated for overlapping years", t.id);
        if (grow((void **)&p->targets, p->ntargets, gcap, sizeof(*p->targets)))
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        p->targets[p->ntargets] = t;
        if (json_object_get(o, "calendar") && t.kind != NTM_KIND_MONTHLY &&
            !(t.kind == NTM_KIND_RATIO_MIN &&
              json_object_get(json_object_get(o, "calendar"), "list")))
            return bad_plan(err, file,
                            "\"calendar\" on a target other than "
                            "monthly_count (or a ratio_at_least with a "
                            "\"list\")",
                            t.id);
        rc = add_task(p, tcap, t.id, t.org, t.vi, t.en, p->ntargets,
                      json_object_get(o, "record"),
                      json_object_get(o, "calendar"),
                      t.value >= 1 ? (int)t.value : 1, file, err);
        if (rc)
            return rc;
        p->ntargets++;
    }
    return NTM_OK;
}

/* new: sorted names of dir's plan-*.json files */
static enum ntm_err
list_plan_files(const char *dir, char **names, int *n, struct ntm_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    *n = 0;
    if (!d)
        return ntm_error_set_errno(err, NTM_ECONFIG, errno,
                                   "cannot open the configuration folder "
                                   "'%s' - set NTM_CONFIG_DIR to the folder "
                                   "that holds plan-*.json and units.csv",
                                   dir);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "plan-", 5) || l < 10 ||
            strcmp(e->d_name + l - 5, ".json"))
            continue;
        if (*n == PLAN_MAX_FILES)
            break;
        names[*n] = ntm_strdup(e->d_name);
        if (!names[*n]) {
            closedir(d);
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
        (*n)++;
    }
    closedir(d);
    qsort(names, (size_t)*n, sizeof(*names), cmp_str);
    if (*n == 0)
        return ntm_error_set(err, NTM_ECONFIG,
                             "no plan file (plan-*.json) in '%s' - set "
                             "NTM_CONFIG_DIR to the folder that holds the "
                             "plan",
                             dir);
    return NTM_OK;
}

/* The installed plan folder; when this build was never installed, the
 * source tree's config/ it was built from (the build tree's ntm). */
static const char *
config_dir_default(void)
{
#ifdef NTM_CONFIG_SOURCE_DIR
    if (access(NTM_CONFIG_DIR_DEFAULT, F_OK) != 0 &&
        access(NTM_CONFIG_SOURCE_DIR, F_OK) == 0)
        return NTM_CONFIG_SOURCE_DIR;
#endif
    return NTM_CONFIG_DIR_DEFAULT;
}

enum ntm_err
ntm_plan_load(struct ntm_plan **out, const char *config_dir,
              struct ntm_error *err)
{
    struct ntm_plan *p;
    char *names[PLAN_MAX_FILES];
    int n = 0, i, ocap = 0, tcap = 0, gcap = 0;
    enum ntm_err rc;

    *out = NULL;
    if (!config_dir)
        config_dir = getenv("NTM_CONFIG_DIR");
    if (!config_dir || !*config_dir)
        config_dir = config_dir_default();
    p = ntm_calloc(1, sizeof(*p));
    if (!p)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    p->docs = json_array();
    p->uoms = json_object();
    p->fields = json_object();
    if (!p->docs || !p->uoms || !p->fields) {
        rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
        goto out;
    }
    rc = list_plan_files(config_dir, names, &n, err);
    for (i = 0; rc == NTM_OK && i < n; i++) {
        struct ntm_buf path = NTM_BUF_INIT, text = NTM_BUF_INIT;
        json_error_t jerr;
        json_t *doc;

        if (ntm_buf_addf(&path, "%s/%s", config_dir, names[i])) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            break;
        }
        rc = ntm_file_read(path.buf, PLAN_MAX_BYTES, &text, err);
        if (rc == NTM_OK) {
            doc = json_loadb(text.buf ? text.buf : "", text.len,
                             JSON_REJECT_DUPLICATES, &jerr);
            if (!doc)
                rc = ntm_error_set(err, NTM_ECONFIG,
                                   "plan file '%s' is not valid JSON: %s "
                                   "(line %d) - fix the file",
                                   path.buf, jerr.text, jerr.line);
            else if (json_array_append_new(p->docs, doc))
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            else
                rc = parse_doc(p, doc, path.buf, &ocap, &tcap, &gcap, err);
        }
        ntm_buf_release(&path);
        ntm_buf_release(&text);
    }
    for (i = 0; i < n; i++)
        ntm_free(names[i]);
    if (rc == NTM_OK)
        rc = Ntm_units_load(p, config_dir, err);
    if (rc == NTM_OK)
        rc = Ntm_lists_load(p, config_dir, err);
    if (rc == NTM_OK && (!p->province || !Ntm_unit_find(p, p->province)))
        rc = ntm_error_set(err, NTM_ECONFIG,
                           "the plan's province '%s' is not in units.csv - "
                           "fix the configuration in '%s'",
                           p->province ? p->province : "", config_dir);
out:
    if (rc) {
        ntm_plan_free(p);
        return rc;
    }
    *out = p;
    return NTM_OK;
}

void
ntm_plan_free(struct ntm_plan *p)
{
    if (!p)
        return;
    Ntm_lists_free(p);
    Ntm_units_free(p);
    ntm_free(p->orgs);
    ntm_free(p->tasks);
    ntm_free(p->targets);
    json_decref(p->uoms);
    json_decref(p->fields);
    json_decref(p->docs);
    ntm_free(p);
}

/* ------------------------------------------------------------------ */
/* Checks and suggestions */

enum ntm_err
ntm_plan_check_org(const struct ntm_plan *p, const char *org,
                   struct ntm_error *err)
{
    struct ntm_buf list = NTM_BUF_INIT;
    int i;

    if (org && find_org(p, org))
        return NTM_OK;
    for (i = 0; i < p->norgs; i++)
        ntm_buf_addf(&list, "%s%s", i ? ", " : "", p->orgs[i].code);
    ntm_error_set(err, NTM_ENOENT,
                  N_("unknown organization '%s' - use one of: %s"),
                  org ? org : "", ntm_buf_str(&list));
    ntm_buf_release(&list);
    return NTM_ENOENT;
}

/* Is candidate (code and label) a near miss of the folded query? */
static int
near_miss(const char *folded, const char *code, const char *label)
{
    char *fc = ntm_text_fold_compat(code),
         *fl = label ? ntm_text_fold_compat(label) : NULL;
    int hit = 0, cap;
    const char *tail;

    if (fc) {
        cap = strlen(folded) < 6 ? 1 : strlen(folded) < 12 ? 2 : 3;
        hit = ntm_text_distance(folded, fc, cap) <= cap;
        /* "rural_roads_km" for "doan.rural_roads_km" */
        tail = strchr(fc, '.');
        if (!hit && tail && strlen(folded) >= 4)
            hit = strstr(fc, folded) != NULL ||
                  ntm_text_distance(folded, tail + 1, cap) <= cap;
    }
    if (!hit && fl && strlen(folded) >= 3)
        hit = strstr(fl, folded) != NULL;
    ntm_free(fc);
    ntm_free(fl);
    return hit;
}

enum ntm_err
ntm_plan_check_task(const struct ntm_plan *p, const char *task, const char *org,
                    const char **task_org, struct ntm_error *err)
{
    const struct Ntm_task *t = task ? find_task(p, task) : NULL;
    struct ntm_buf sug = NTM_BUF_INIT;
    char *folded;
    int i, found = 0;

    if (task_org)
        *task_org = NULL;
    if (t && (!org || !strcmp(org, t->org))) {
        if (task_org)
            *task_org = t->org;
        return NTM_OK;
    }
    if (t)
        return ntm_error_set(err, NTM_ENOENT,
                             N_("task '%s' belongs to organization '%s', not "
                                "'%s' - check --org or the task (run 'ntm plan "
                                "--org %s')"),
                             task, t->org, org, org);
    folded = ntm_text_fold_compat(task ? task : "");
    for (i = 0; folded && i < p->ntasks && found < SUGGEST_MAX; i++) {
        const struct Ntm_task *c = &p->tasks[i];
        if (org && strcmp(org, c->org))
            continue;
        if (near_miss(folded, c->id, c->vi) || near_miss(folded, c->id, c->en))
            ntm_buf_addf(&sug, "%s'%s'", found++ ? ", " : "", c->id);
    }
    ntm_free(folded);
    if (found)
        ntm_error_set(err, NTM_ENOENT,
                      N_("unknown task '%s' - did you mean %s? run 'ntm plan' "
                         "for the list"),
                      task ? task : "", ntm_buf_str(&sug));
    else
        ntm_error_set(err, NTM_ENOENT,
                      N_("unknown task '%s' - run 'ntm plan%s%s' for the tasks "
                         "and targets of the plan"),
                      task ? task : "", org ? " --org " : "", org ? org : "");
    ntm_buf_release(&sug);
    return NTM_ENOENT;
}

enum ntm_err
Ntm_plan_check_unit_in(const struct ntm_plan *p, json_t *created,
                       const char *unit, const char *date,
                       struct ntm_error *err)
{
    struct Ntm_unit *all = NULL;
    struct ntm_buf sug = NTM_BUF_INIT;
    char today[PLAN_DATE_LEN], *folded = NULL;
    const struct Ntm_unit *u = NULL, *gone = NULL;
    enum ntm_err rc;
    int n = 0, i, d, found = 0;

    if (!date) {
        Ntm_plan_today(today);
        date = today;
    }
    if (!unit || !*unit)
        return ntm_error_set(err, NTM_ENOENT,
                             N_("no unit given - run 'ntm units TEXT' to find "
                                "its code"));
    rc = Ntm_units_with_created(p, created, &all, &n, err);
    if (rc)
        return rc;
    for (i = 0; i < n; i++)
        if (!strcmp(all[i].code, unit))
            u = &all[i];
    if (u) {
        /* the unit and every ancestor must be in force on date */
        for (i = 0; i < n; i++)
            if (Ntm_code_within(u->code, all[i].code) &&
                !Ntm_unit_in_force(&all[i], date))
                gone = &all[i];
        if (!gone)
            goto out;
        rc = NTM_ENOENT;
        if (gone->merged_into[0]) {
            const struct Ntm_unit *to = Ntm_unit_find(p, gone->merged_into);
            ntm_error_set(
                err, rc,
                N_("unit '%s' (%s) does not exist on %s: it was "
                   "merged into '%s' (%s) after %s - record under "
                   "that unit"),
                gone->code, gone->ver[0].name, date, gone->merged_into,
                to ? Ntm_unit_ver_at(to, date)->name : "", gone->valid_to);
        } else {
            ntm_error_set(err, rc,
                          N_("unit '%s' (%s) is not in force on %s (valid "
                             "%s to %s) - check the date or the unit"),
                          gone->code, gone->ver[0].name, date,
                          gone->valid_from[0] ? gone->valid_from : "...",
                          gone->valid_to[0] ? gone->valid_to : "...");
        }
        goto out;
    }
    rc = NTM_ENOENT;
    folded = ntm_text_fold_compat(unit);
    /* closest codes first, then names that contain the text */
    for (d = 0; folded && d <= 3 && found < SUGGEST_MAX; d++) {
        for (i = 0; i < n && found < SUGGEST_MAX; i++) {
            const struct Ntm_unit_ver *v = Ntm_unit_ver_at(&all[i], date);
            int cap = strlen(folded) < 6 ? 1 : 2, hit;
            if (!Ntm_unit_in_force(&all[i], date))
                continue;
            if (d <= cap)
                hit = ntm_text_distance(folded, all[i].code, cap) == d;
            else if (d == 3 && strlen(folded) >= 3) {
                /* "tan bien" finds "Huyện Tân Biên" */
                char *fn = ntm_text_fold_compat(v->name);
                hit = fn && strstr(fn, folded) != NULL;
                ntm_free(fn);
            } else
                hit = 0;
            if (hit)
                ntm_buf_addf(&sug, "%s'%s' (%s)", found++ ? ", " : "",
                             all[i].code, v->name);
        }
    }
    if (found)
        ntm_error_set(err, rc,
                      N_("unknown unit '%s' - did you mean %s? run 'ntm units "
                         "TEXT' to search the tree"),
                      unit, ntm_buf_str(&sug));
    else
        ntm_error_set(err, rc,
                      N_("unknown unit '%s' - unit codes are dotted GSO codes "
                         "such as 72.705.25486; run 'ntm units TEXT' to search "
                         "the tree"),
                      unit);
out:
    ntm_free(folded);
    ntm_buf_release(&sug);
    Ntm_units_array_free(all, n);
    return rc;
}

const char *
ntm_plan_unit_name(const struct ntm_plan *p, const char *unit)
{
    char today[PLAN_DATE_LEN];
    const struct Ntm_unit *u = Ntm_unit_find(p, unit);

    if (!u)
        return NULL;
    Ntm_plan_today(today);
    return Ntm_unit_ver_at(u, today)->name;
}

int
ntm_plan_unit_count(const struct ntm_plan *p, const char *level,
                    const char *date)
{
    int i, n = 0;
    for (i = 0; i < p->nunits; i++)
        if (!strcmp(p->units[i].level, level) &&
            Ntm_unit_in_force(&p->units[i], date))
            n++;
    return n;
}

char *
ntm_plan_unit_successor(const struct ntm_plan *p, const char *unit,
                        const char *date)
{
    char out[PLAN_CODE_LEN];
    if (!Ntm_unit_successor(p, unit, date, out))
        return ntm_strdup(unit);
    return ntm_strdup(out);
}

/* ------------------------------------------------------------------ */
/* Listings */

static json_t *
target_json(const struct Ntm_target *t)
{
    json_t *o = json_pack("{s:s, s:s, s:f, s:s, s:[i,i], s:s, s:s, s:s}", "id",
                          t->id, "kind", t->kind_name, "value", t->value, "uom",
                          t->uom, "years", t->year_from, t->year_to, "org",
                          t->org, "vi", t->vi, "en", t->en);
    int i;
    if (!o)
        return NULL;
    if (t->deadline[0])
        json_object_set_new(o, "deadline", json_string(t->deadline));
    if (t->strict)
        json_object_set_new(o, "strict", json_true());
    if (t->napplies) {
        json_t *a = json_array();
        for (i = 0; i < t->napplies; i++)
            json_array_append_new(a, json_string(t->applies[i]));
        json_object_set_new(o, "applies_to", a);
    }
    return o;
}

enum ntm_err
ntm_plan_describe(const struct ntm_plan *p, const char *org, json_t **out,
                  struct ntm_error *err)
{
    json_t *doc, *orgs;
    int i, j;

    *out = NULL;
    if (org && ntm_plan_check_org(p, org, err))
        return NTM_ENOENT;
    doc = json_pack("{s:s?, s:{s:s?, s:s?}, s:s, s:s, s:[]}", "id", p->id,
                    "title", "vi", p->title_vi, "en", p->title_en, "from",
                    p->from, "to", p->to, "organizations");
    if (!doc)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    orgs = json_object_get(doc, "organizations");
    for (i = 0; i < p->norgs; i++) {
        json_t *o, *tasks, *targets;
        if (org && strcmp(org, p->orgs[i].code))
            continue;
        o = json_pack("{s:s, s:s, s:s, s:[], s:[]}", "code", p->orgs[i].code,
                      "vi", p->orgs[i].vi, "en", p->orgs[i].en, "tasks",
                      "targets");
        if (!o || json_array_append_new(orgs, o))
            goto nomem;
        tasks = json_object_get(o, "tasks");
        targets = json_object_get(o, "targets");
        for (j = 0; j < p->ntasks; j++)
            if (!strcmp(p->tasks[j].org, p->orgs[i].code) &&
                p->tasks[j].target < 0 &&
                json_array_append_new(tasks, json_pack("{s:s, s:s, s:s}", "id",
                                                       p->tasks[j].id, "vi",
                                                       p->tasks[j].vi, "en",
                                                       p->tasks[j].en)))
                goto nomem;
        for (j = 0; j < p->ntargets; j++)
            if (!strcmp(p->targets[j].org, p->orgs[i].code) &&
                json_array_append_new(targets, target_json(&p->targets[j])))
                goto nomem;
    }
    *out = doc;
    return NTM_OK;
nomem:
    json_decref(doc);
    return ntm_error_set(err, NTM_ENOMEM, "out of memory");
}

static json_t *
unit_json(const struct Ntm_unit *u, const char *date)
{
    const struct Ntm_unit_ver *v = Ntm_unit_ver_at(u, date);
    json_t *o, *names;
    int i;

    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "code", u->code, "name",
                  v->name, "level", u->level, "type", v->type, "parent",
                  u->parent, "in_force", Ntm_unit_in_force(u, date));
    if (!o)
        return NULL;
    json_object_set_new(o, "gso_code",
                        u->gso[0] ? json_string(u->gso) : json_null());
    json_object_set_new(o, "valid_from",
                        u->valid_from[0] ? json_string(u->valid_from)
                                         : json_null());
    json_object_set_new(
        o, "valid_to", u->valid_to[0] ? json_string(u->valid_to) : json_null());
    json_object_set_new(o, "merged_into",
                        u->merged_into[0] ? json_string(u->merged_into)
                                          : json_null());
    json_object_set_new(o, "created", json_boolean(u->created));
    names = json_array();
    for (i = 0; i < u->nver; i++)
        json_array_append_new(
            names, json_pack("{s:s?, s:s, s:s}", "from",
                             u->ver[i].from[0] ? u->ver[i].from : NULL, "name",
                             u->ver[i].name, "type", u->ver[i].type));
    json_object_set_new(o, "names", names);
    return o;
}

static int
unit_matches(const struct Ntm_unit *u, const char *folded)
{
    int i, hit = 0;
    if (strstr(u->code, folded))
        return 1;
    for (i = 0; i < u->nver && !hit; i++) {
        char *f = ntm_text_fold_compat(u->ver[i].name);
        hit = f && strstr(f, folded);
        ntm_free(f);
    }
    return hit;
}

static void
emit_tree(json_t *arr, const struct Ntm_unit *all, int n, const char *parent,
          const char *folded, const char *under, const char *date, int depth)
{
    int i;
    if (depth > 8)
        return;
    for (i = 0; i < n; i++) {
        const struct Ntm_unit *u = &all[i];
        if (strcmp(u->parent, parent))
            continue;
        if ((!under || Ntm_code_within(u->code, under)) &&
            (!folded || unit_matches(u, folded)))
            json_array_append_new(arr, unit_json(u, date));
        emit_tree(arr, all, n, u->code, folded, under, date, depth + 1);
    }
}

json_t *
Ntm_plan_units_json(const struct ntm_plan *p, json_t *created, const char *text,
                    const char *under, const char *date)
{
    struct Ntm_unit *all = NULL;
    char today[PLAN_DATE_LEN], *folded = NULL;
    json_t *arr;
    int n = 0;

    if (!date) {
        Ntm_plan_today(today);
        date = today;
    }
    if (Ntm_units_with_created(p, created, &all, &n, NULL))
        return NULL;
    if (text && *text && !(folded = ntm_text_fold_compat(text))) {
        Ntm_units_array_free(all, n);
        return NULL;
    }
    arr = json_array();
    if (arr)
        emit_tree(arr, all, n, "", folded, under, date, 0);
    /* A created unit whose concurrent names conflict says so, with every
     * candidate (the store's units: docs/authority.md section 3). */
    json_t *by_code = json_object(), *c, *o;
    size_t i;
    json_array_foreach (created, i, c)
        if (json_is_true(json_object_get(c, "conflict")))
            json_object_set(by_code,
                            json_string_value(json_object_get(c, "code")), c);
    json_array_foreach (arr, i, o) {
        if (!json_is_true(json_object_get(o, "created")))
            continue;
        c = json_object_get(by_code,
                            json_string_value(json_object_get(o, "code")));
        json_object_set_new(o, "conflict", json_boolean(c != NULL));
        if (c)
            json_object_set(o, "candidates", json_object_get(c, "candidates"));
    }
    json_decref(by_code);
    ntm_free(folded);
    Ntm_units_array_free(all, n);
    return arr;
}
