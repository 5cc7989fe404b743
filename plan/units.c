/* SPDX-License-Identifier: MIT */
/*
 * units.c - the administrative unit tree: province, districts and
 * communes from config/units.csv, their history from
 * config/unit_changes.csv (renames, type changes, merges), and hamlets
 * created by unit.create entries (passed in as JSON by the caller).
 *
 * A unit keeps its code through renames and type changes; a merged unit
 * gets valid_to and merged_into, and its records are carried by the
 * absorbing unit from the merge on (Ntm_unit_successor). Formats:
 * config/README.md. Depends on util/ and jansson only.
 */
#include "plan_int.h"

#include <string.h>

#define UNITS_MAX_BYTES (4u << 20)
#define CSV_MAX_FIELDS  16

/* One parsed CSV line: fields point into a private copy. */
struct csv_line {
    char *f[CSV_MAX_FIELDS];
    int n;
};

/*
 * Parse the next RFC 4180 line of *pos (quoted fields, doubled quotes,
 * CRLF or LF). The text is rewritten in place. Returns 0 at the end.
 */
static int
csv_next(char **pos, struct csv_line *l)
{
    char *r = *pos, *w;

    if (!*r)
        return 0;
    l->n = 0;
    for (;;) {
        char *start = w = r;
        if (*r == '"') {
            r++;
            for (;;) {
                if (!*r)
                    break;
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
        }
        while (*r && *r != ',' && *r != '\n' && *r != '\r')
            *w++ = *r++;
        if (l->n < CSV_MAX_FIELDS)
            l->f[l->n++] = start;
        if (*r == ',') {
            *w = '\0';
            r++;
            continue;
        }
        if (*r == '\r')
            *r++ = '\0';
        if (*r == '\n')
            *r++ = '\0';
        *w = '\0';
        break;
    }
    *pos = r;
    return 1;
}

static int
copy_field(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static enum ntm_err
read_csv(const char *dir, const char *name, struct ntm_buf *b,
         struct ntm_error *err)
{
    struct ntm_buf path = NTM_BUF_INIT;
    enum ntm_err rc;

    if (ntm_buf_addf(&path, "%s/%s", dir, name))
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    rc = ntm_file_read(path.buf, UNITS_MAX_BYTES, b, err);
    if (rc == NTM_OK && b->len == 0)
        rc = ntm_error_set(err, NTM_ECONFIG, "unit file '%s' is empty",
                           path.buf);
    ntm_buf_release(&path);
    return rc;
}

const struct Ntm_unit *
Ntm_unit_find(const struct ntm_plan *p, const char *code)
{
    int i;
    if (!code)
        return NULL;
    for (i = 0; i < p->nunits; i++)
        if (!strcmp(p->units[i].code, code))
            return &p->units[i];
    return NULL;
}

const struct Ntm_unit_ver *
Ntm_unit_ver_at(const struct Ntm_unit *u, const char *date)
{
    int i;
    for (i = u->nver - 1; i > 0; i--)
        if (strcmp(u->ver[i].from, date) <= 0)
            return &u->ver[i];
    return &u->ver[0];
}

int
Ntm_unit_in_force(const struct Ntm_unit *u, const char *date)
{
    if (u->valid_from[0] && strcmp(date, u->valid_from) < 0)
        return 0;
    if (u->valid_to[0] && strcmp(date, u->valid_to) > 0)
        return 0;
    return 1;
}

int
Ntm_code_within(const char *code, const char *scope)
{
    size_t n = strlen(scope);
    return !strncmp(code, scope, n) && (code[n] == '\0' || code[n] == '.');
}

int
Ntm_unit_successor(const struct ntm_plan *p, const char *code, const char *date,
                   char out[PLAN_CODE_LEN])
{
    int i, changed, rounds = 0;

    if (copy_field(out, PLAN_CODE_LEN, code))
        return 0;
    do {
        changed = 0;
        for (i = 0; i < p->nunits; i++) {
            const struct Ntm_unit *u = &p->units[i];
            char tmp[PLAN_CODE_LEN];
            size_t n = strlen(u->code);
            if (!u->merged_into[0] || !u->valid_to[0] ||
                strcmp(date, u->valid_to) <= 0 ||
                !Ntm_code_within(out, u->code))
                continue;
            if (strlen(u->merged_into) + strlen(out + n) >= PLAN_CODE_LEN)
                return 0;
            memcpy(tmp, u->merged_into, strlen(u->merged_into) + 1);
            memcpy(tmp + strlen(tmp), out + n, strlen(out + n) + 1);
            memcpy(out, tmp, strlen(tmp) + 1);
            changed = 1;
        }
    } while (changed && ++rounds < 8);
    return 1;
}

static const char *
type_of_name(const char *name, const char *level)
{
    static const struct {
        const char *prefix, *type;
    } map[] = {{"Tỉnh ", "tinh"},
               {"Thành phố ", "thanh_pho"},
               {"Thị xã ", "thi_xa"},
               {"Huyện ", "huyen"},
               {"Thị trấn ", "thi_tran"},
               {"Phường ", "phuong"},
               {"Xã ", "xa"},
               {"Ấp ", "ap"},
               {"Khu phố ", "khu_pho"}};
    size_t i;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strncmp(name, map[i].prefix, strlen(map[i].prefix)))
            return map[i].type;
    return level;
}

static int
valid_level(const char *l)
{
    return !strcmp(l, "province") || !strcmp(l, "district") ||
           !strcmp(l, "commune") || !strcmp(l, "hamlet");
}

static enum ntm_err
load_units_csv(struct ntm_plan *p, const char *dir, struct ntm_error *err)
{
    struct ntm_buf b = NTM_BUF_INIT;
    struct csv_line l;
    char *pos;
    enum ntm_err rc;
    int line = 1, cap = 0;

    rc = read_csv(dir, "units.csv", &b, err);
    if (rc)
        return rc;
    pos = b.buf;
    if (!csv_next(&pos, &l) || l.n < 8 || strcmp(l.f[0], "code") ||
        strcmp(l.f[2], "name") || strcmp(l.f[3], "level")) {
        rc = ntm_error_set(err, NTM_ECONFIG,
                           "units.csv in '%s' lacks the header line "
                           "'code,gso_code,name,level,type,parent,valid_from,"
                           "valid_to' - see config/README.md",
                           dir);
        goto out;
    }
    while (csv_next(&pos, &l)) {
        struct Ntm_unit *u;
        line++;
        if (l.n == 1 && !l.f[0][0])
            continue;
        if (l.n < 8) {
            rc = ntm_error_set(err, NTM_ECONFIG,
                               "units.csv line %d has %d fields, 8 expected",
                               line, l.n);
            goto out;
        }
        if (p->nunits == cap) {
            int ncap = cap ? cap * 2 : 128;
            struct Ntm_unit *nu =
                ntm_realloc(p->units, (size_t)ncap * sizeof(*nu));
            if (!nu) {
                rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
                goto out;
            }
            p->units = nu;
            cap = ncap;
        }
        u = &p->units[p->nunits];
        memset(u, 0, sizeof(*u));
        if (copy_field(u->code, sizeof(u->code), l.f[0]) ||
            copy_field(u->gso, sizeof(u->gso), l.f[1]) ||
            copy_field(u->level, sizeof(u->level), l.f[3]) ||
            copy_field(u->ver[0].type, sizeof(u->ver[0].type), l.f[4]) ||
            copy_field(u->parent, sizeof(u->parent), l.f[5]) ||
            copy_field(u->valid_from, sizeof(u->valid_from), l.f[6]) ||
            copy_field(u->valid_to, sizeof(u->valid_to), l.f[7]) ||
            !l.f[0][0] || !l.f[2][0] || !valid_level(u->level) ||
            (u->valid_from[0] && !ntm_date_valid(u->valid_from)) ||
            (u->valid_to[0] && !ntm_date_valid(u->valid_to))) {
            rc = ntm_error_set(err, NTM_ECONFIG,
                               "units.csv line %d is not a valid unit "
                               "(code '%s') - see config/README.md",
                               line, l.f[0]);
            goto out;
        }
        if (Ntm_unit_find(p, u->code)) {
            rc = ntm_error_set(err, NTM_ECONFIG,
                               "units.csv line %d repeats unit code '%s'", line,
                               u->code);
            goto out;
        }
        if (u->parent[0] && !Ntm_unit_find(p, u->parent)) {
            rc = ntm_error_set(err, NTM_ECONFIG,
                               "units.csv line %d: parent '%s' of '%s' is "
                               "not listed before it",
                               line, u->parent, u->code);
            goto out;
        }
        u->ver[0].name = ntm_strdup(l.f[2]);
        if (!u->ver[0].name) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
        u->nver = 1;
        p->nunits++;
    }
out:
    ntm_buf_release(&b);
    return rc;
}

static enum ntm_err
load_changes_csv(struct ntm_plan *p, const char *dir, struct ntm_error *err)
{
    struct ntm_buf b = NTM_BUF_INIT;
    struct csv_line l;
    char *pos;
    enum ntm_err rc;
    int line = 1;

    rc = read_csv(dir, "unit_changes.csv", &b, err);
    if (rc == NTM_ENOENT || (rc == NTM_EIO && err && err->sys_errno == 2)) {
        ntm_error_clear(err);
        return NTM_OK; /* no changes in this plan period */
    }
    if (rc)
        return rc;
    pos = b.buf;
    if (!csv_next(&pos, &l) || l.n < 5 || strcmp(l.f[0], "code") ||
        strcmp(l.f[1], "effective")) {
        rc = ntm_error_set(err, NTM_ECONFIG,
                           "unit_changes.csv in '%s' lacks the header line "
                           "'code,effective,name,type,merged_into,note'",
                           dir);
        goto out;
    }
    while (csv_next(&pos, &l)) {
        struct Ntm_unit *u;
        line++;
        if (l.n == 1 && !l.f[0][0])
            continue;
        u = l.n >= 5 ? (struct Ntm_unit *)Ntm_unit_find(p, l.f[0]) : NULL;
        if (!u || !ntm_date_valid(l.f[1])) {
            rc = ntm_error_set(err, NTM_ECONFIG,
                               "unit_changes.csv line %d names unknown unit "
                               "'%s' or a bad date - list the unit in "
                               "units.csv first",
                               line, l.n ? l.f[0] : "");
            goto out;
        }
        if (l.f[4][0]) { /* merged into another unit */
            if (!Ntm_unit_find(p, l.f[4]) ||
                copy_field(u->merged_into, sizeof(u->merged_into), l.f[4])) {
                rc = ntm_error_set(err, NTM_ECONFIG,
                                   "unit_changes.csv line %d merges '%s' into "
                                   "unknown unit '%s'",
                                   line, u->code, l.f[4]);
                goto out;
            }
            Ntm_plan_date(Ntm_plan_days(l.f[1]) - 1, u->valid_to);
            continue;
        }
        if (u->nver == PLAN_MAX_VER || !l.f[2][0] ||
            copy_field(u->ver[u->nver].type, sizeof(u->ver[0].type),
                       l.f[3][0] ? l.f[3] : type_of_name(l.f[2], u->level))) {
            rc = ntm_error_set(err, NTM_ECONFIG,
                               "unit_changes.csv line %d: too many changes "
                               "or no new name for '%s'",
                               line, u->code);
            goto out;
        }
        memcpy(u->ver[u->nver].from, l.f[1], PLAN_DATE_LEN);
        u->ver[u->nver].name = ntm_strdup(l.f[2]);
        if (!u->ver[u->nver].name) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory");
            goto out;
        }
        u->nver++;
    }
out:
    ntm_buf_release(&b);
    return rc;
}

enum ntm_err
Ntm_units_load(struct ntm_plan *p, const char *dir, struct ntm_error *err)
{
    enum ntm_err rc = load_units_csv(p, dir, err);
    if (rc == NTM_OK)
        rc = load_changes_csv(p, dir, err);
    return rc;
}

void
Ntm_units_array_free(struct Ntm_unit *u, int n)
{
    int i, j;
    if (!u)
        return;
    for (i = 0; i < n; i++)
        for (j = 0; j < u[i].nver; j++)
            ntm_free(u[i].ver[j].name);
    ntm_free(u);
}

void
Ntm_units_free(struct ntm_plan *p)
{
    Ntm_units_array_free(p->units, p->nunits);
    p->units = NULL;
    p->nunits = 0;
}

enum ntm_err
Ntm_units_with_created(const struct ntm_plan *p, json_t *created,
                       struct Ntm_unit **out, int *n, struct ntm_error *err)
{
    size_t extra = json_is_array(created) ? json_array_size(created) : 0;
    struct Ntm_unit *u;
    size_t i;
    int k = 0, j;

    u = ntm_calloc((size_t)p->nunits + extra + 1, sizeof(*u));
    if (!u)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    for (; k < p->nunits; k++) {
        u[k] = p->units[k];
        for (j = 0; j < u[k].nver; j++)
            u[k].ver[j].name = NULL;
        for (j = 0; j < u[k].nver; j++) {
            u[k].ver[j].name = ntm_strdup(p->units[k].ver[j].name);
            if (!u[k].ver[j].name) {
                Ntm_units_array_free(u, k + 1);
                return ntm_error_set(err, NTM_ENOMEM, "out of memory");
            }
        }
    }
    for (i = 0; i < extra; i++) {
        json_t *c = json_array_get(created, i);
        const char *code = json_string_value(json_object_get(c, "code"));
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *level = json_string_value(json_object_get(c, "level"));
        const char *dot;
        struct Ntm_unit *h = &u[k];
        int dup = 0;

        if (!code || !name || strlen(code) >= PLAN_CODE_LEN)
            continue;
        for (j = 0; j < k; j++)
            if (!strcmp(u[j].code, code))
                dup = 1;
        dot = strrchr(code, '.');
        if (dup || !dot || (size_t)(dot - code) >= PLAN_CODE_LEN)
            continue;
        memset(h, 0, sizeof(*h));
        memcpy(h->code, code, strlen(code) + 1);
        memcpy(h->parent, code, (size_t)(dot - code));
        copy_field(h->level, sizeof(h->level),
                   level && valid_level(level) ? level : "hamlet");
        copy_field(h->ver[0].type, sizeof(h->ver[0].type),
                   type_of_name(name, h->level));
        h->created = 1;
        h->ver[0].name = ntm_strdup(name);
        if (!h->ver[0].name) {
            Ntm_units_array_free(u, k);
            return ntm_error_set(err, NTM_ENOMEM, "out of memory");
        }
        h->nver = 1;
        k++;
    }
    *out = u;
    *n = k;
    return NTM_OK;
}
