/* SPDX-License-Identifier: MIT */
/*
 * rfact.c - a record's facts: everything the report reads of one record
 * that does not depend on the report's options (its unit, kind, task,
 * dates, review, the data dictionary's verdict and quantity, the numbers
 * of its fields), made once from the record's JSON by the one function
 * below, and written as a few dozen bytes that the store keeps beside the
 * record (ntm_store_digests_each) until the record or the plan changes.
 * A report over a million records then reads those bytes instead of
 * parsing and checking a million JSON documents.
 *
 * What the report does with the facts (its options, the tree in force,
 * the sums) stays in report.c; a fact never says whether a record counts.
 * A record the dictionary refuses is read again, whole, when the report
 * lists it, for the dictionary's words (report.c, skip_refused).
 *
 * Bytes, version 3: the version byte, a 24-bit flag word (little endian),
 * the approval rank and the task's index (-1 none) as signed varints
 * (zigzag, 7 bits a byte), then the strings the flags name, each ending
 * in NUL, in the order unit, org, kind (unless activity or measure, which
 * a flag says), date (unless written back exactly from its number),
 * period, folded entity name, entity name, qty, uom, task (when the plan
 * has no such task); then the numbers the flags name: the date's
 * YYYYMMDD, people, money, num, den and dissolved as signed varints, qty
 * and days as little-endian doubles. The id is the store's (the key the
 * bytes are kept under), not written. The tag
 * (Ntm_rfact_tag) names the version and the plan's dictionary, so that
 * facts made under another plan are made again.
 *
 * Depends on util/, crypto/ (the tag's hash), jansson and the plan.
 */
#include "plan_int.h"
#include "ntm_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RFACT_VERSION 3

static const char *
field_str(json_t *f, const char *name)
{
    return json_string_value(json_object_get(f, name));
}

/* a whole number of a field: an integer, or its decimal text */
static int
field_int(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_string_value(v))
        return ntm_parse_int64(json_string_value(v), 0, INT64_C(1) << 53,
                               out) == NTM_OK;
    return 0;
}

static int
level_rank(const char *l)
{
    static const char *const names[] = {"hamlet", "commune", "district",
                                        "province"};
    for (int i = 0; l && i < 4; i++)
        if (!strcmp(l, names[i]))
            return i;
    return -1;
}

/* the highest level that approved the record, when its state is
 * "approved"; RFACT_NOT_APPROVED otherwise */
static int
approved_rank(json_t *rec)
{
    const char *state = json_string_value(json_object_get(rec, "review"));
    json_t *rv;
    size_t i;
    int best = RFACT_NOT_APPROVED;
    if (!state || strcmp(state, "approved"))
        return best;
    json_array_foreach (json_object_get(rec, "reviews"), i, rv) {
        const char *s = json_string_value(json_object_get(rv, "state"));
        int r = level_rank(json_string_value(json_object_get(rv, "level")));
        if (s && !strcmp(s, "approved") && r > best)
            best = r;
    }
    return best;
}

int
Ntm_level_rank(const char *level)
{
    return level_rank(level);
}

int
Ntm_ymd(const char *s)
{
    if (!s || !ntm_date_valid(s))
        return 0;
    return (int)(strtol(s, NULL, 10) * 10000 + strtol(s + 5, NULL, 10) * 100 +
                 strtol(s + 8, NULL, 10));
}

enum ntm_err
Ntm_rfact_make(const struct ntm_plan *p, json_t *rec, struct Ntm_rfact *x,
               struct ntm_buf *scratch)
{
    json_t *f = json_object_get(rec, "fields");
    const struct Ntm_task *t;
    const char *code, *at, *s;
    struct ntm_error why = {0};
    int64_t v;
    double d;

    memset(x, 0, sizeof(*x));
    x->id = json_string_value(json_object_get(rec, "id"));
    x->unit = json_string_value(json_object_get(rec, "unit"));
    x->org = json_string_value(json_object_get(rec, "org"));
    x->kind = json_string_value(json_object_get(rec, "kind"));
    x->date = field_str(f, "date");
    x->period = field_str(f, "period");
    x->deleted = json_is_true(json_object_get(rec, "deleted"));
    x->approved = approved_rank(rec);
    t = Ntm_plan_task(p, field_str(f, "task"));
    x->task = t ? (int)(t - p->tasks) : -1;
    if (!t)
        x->task_s = field_str(f, "task");
    x->qty_s = field_str(f, "qty");
    x->uom_s = field_str(f, "uom");
    x->numden_int = json_is_integer(json_object_get(f, "num")) &&
                    json_is_integer(json_object_get(f, "den"));
    x->dict_ok =
        Ntm_dict_check(p, x->kind, f, &x->qty, &code, &at, &why) == NTM_OK;
    x->has_qty = json_object_get(f, "qty") != NULL;
    x->has_people = field_int(json_object_get(f, "people"), &x->people);
    if (field_int(json_object_get(f, "amount_vnd"), &v)) {
        x->has_money = 1;
        x->money = v;
    }
    if ((d = Ntm_dict_decimal(json_object_get(f, "labor_days"))) >= 0) {
        x->has_days = 1;
        x->days = d;
    }
    x->has_num = field_int(json_object_get(f, "num"), &x->num);
    x->has_den = field_int(json_object_get(f, "den"), &x->den);
    x->date_ymd = Ntm_ymd(x->date);
    x->dissolved = Ntm_ymd(field_str(f, "dissolved"));
    /* the entity a register's record names: its name, else its title */
    s = field_str(f, "name");
    if (!s || !*s)
        s = field_str(f, "title");
    if (s && *s && t && json_is_true(json_object_get(t->record, "register"))) {
        char *folded = ntm_text_fold(s);
        x->ename = s;
        ntm_buf_reset(scratch);
        if (!folded || ntm_buf_adds(scratch, folded)) {
            ntm_free(folded);
            return NTM_ENOMEM;
        }
        ntm_free(folded);
        x->name = ntm_buf_str(scratch);
    }
    return NTM_OK;
}

/* ---- bytes ---- */

enum {
    F_DELETED = 1 << 10,
    F_DICT_OK = 1 << 11,
    F_HAS_QTY = 1 << 12,
    F_PEOPLE = 1 << 13,
    F_MONEY = 1 << 14,
    F_DAYS = 1 << 15,
    F_NUM = 1 << 16,
    F_DEN = 1 << 17,
    F_DISSOLVED = 1 << 18,
    F_NUMDEN_INT = 1 << 19,
    F_KIND_ACTIVITY = 1 << 20, /* kind "activity", not written */
    F_KIND_MEASURE = 1 << 21,  /* kind "measure", not written */
    F_DATE_YMD = 1 << 22       /* the date as its number, not its text */
};
#define RFACT_NSTR 10 /* strings, flags 1 << 0 to 1 << 9 */

static int
put_u64(struct ntm_buf *b, uint64_t v, int n)
{
    unsigned char o[8];
    for (int i = 0; i < n; i++)
        o[i] = (unsigned char)(v >> (8 * i));
    return ntm_buf_add(b, o, (size_t)n);
}

/* a signed number in 1 to 10 bytes: zigzag, 7 bits a byte */
static int
put_var(struct ntm_buf *b, int64_t s)
{
    uint64_t v = ((uint64_t)s << 1) ^ (uint64_t)(s >> 63);
    unsigned char o[10];
    int n = 0;
    do {
        o[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return ntm_buf_add(b, o, (size_t)n);
}

static int
put_f64(struct ntm_buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof(v));
    return put_u64(b, v, 8);
}

static int
put_str(struct ntm_buf *b, const char *s)
{
    return ntm_buf_add(b, s, strlen(s) + 1);
}

/* Is the date written as its number enough to write it back? */
static int
date_as_ymd(const struct Ntm_rfact *x)
{
    char back[PLAN_DATE_LEN];
    if (!x->date || !x->date_ymd)
        return 0;
    snprintf(back, sizeof(back), "%04d-%02d-%02d", x->date_ymd / 10000,
             x->date_ymd / 100 % 100, x->date_ymd % 100);
    return !strcmp(back, x->date);
}

enum ntm_err
Ntm_rfact_encode(const struct Ntm_rfact *x, struct ntm_buf *b)
{
    unsigned fl = 0;
    int e = 0, ymd_only = date_as_ymd(x);
    const char *kind = x->kind;
    if (kind && !strcmp(kind, "activity")) {
        fl |= F_KIND_ACTIVITY;
        kind = NULL;
    } else if (kind && !strcmp(kind, "measure")) {
        fl |= F_KIND_MEASURE;
        kind = NULL;
    }
    const char *strs[RFACT_NSTR] = {
        x->unit,   x->org,   kind,     ymd_only ? NULL : x->date,
        x->period, x->name,  x->ename, x->qty_s,
        x->uom_s,  x->task_s};
    for (int i = 0; i < RFACT_NSTR; i++)
        if (strs[i])
            fl |= 1u << i;
    fl |= (x->deleted ? F_DELETED : 0) | (x->dict_ok ? F_DICT_OK : 0) |
          (x->has_qty ? F_HAS_QTY : 0) | (x->has_people ? F_PEOPLE : 0) |
          (x->has_money ? F_MONEY : 0) | (x->has_days ? F_DAYS : 0) |
          (x->has_num ? F_NUM : 0) | (x->has_den ? F_DEN : 0) |
          (x->dissolved ? F_DISSOLVED : 0) |
          (x->numden_int ? F_NUMDEN_INT : 0) | (ymd_only ? F_DATE_YMD : 0);
    e |= put_u64(b, RFACT_VERSION, 1);
    e |= put_u64(b, fl, 3);
    e |= put_var(b, x->approved);
    e |= put_var(b, x->task);
    for (int i = 0; i < RFACT_NSTR; i++)
        if (strs[i])
            e |= put_str(b, strs[i]);
    if (ymd_only)
        e |= put_var(b, x->date_ymd);
    if (x->dict_ok)
        e |= put_f64(b, x->qty);
    if (x->has_people)
        e |= put_var(b, x->people);
    if (x->has_money)
        e |= put_var(b, x->money);
    if (x->has_days)
        e |= put_f64(b, x->days);
    if (x->has_num)
        e |= put_var(b, x->num);
    if (x->has_den)
        e |= put_var(b, x->den);
    if (x->dissolved)
        e |= put_var(b, x->dissolved);
    return e ? NTM_ENOMEM : NTM_OK;
}

struct rd {
    const unsigned char *p, *end;
    int bad;
};

static uint64_t
get_u64(struct rd *r, int n)
{
    uint64_t v = 0;
    if (r->end - r->p < n) {
        r->bad = 1;
        return 0;
    }
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return v;
}

static int64_t
get_var(struct rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) {
            r->bad = 1;
            return 0;
        }
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    }
    r->bad = 1;
    return 0;
}

static double
get_f64(struct rd *r)
{
    uint64_t v = get_u64(r, 8);
    double d;
    memcpy(&d, &v, sizeof(d));
    return d;
}

static const char *
get_str(struct rd *r)
{
    const unsigned char *z = memchr(r->p, 0, (size_t)(r->end - r->p));
    const char *s = (const char *)r->p;
    if (!z) {
        r->bad = 1;
        return NULL;
    }
    r->p = z + 1;
    return s;
}

enum ntm_err
Ntm_rfact_decode(const void *bytes, size_t n, const char *id,
                 struct Ntm_rfact *x)
{
    struct rd r = {bytes, (const unsigned char *)bytes + n, 0};
    const char **strs[RFACT_NSTR] = {
        &x->unit, &x->org,   &x->kind,  &x->date,  &x->period,
        &x->name, &x->ename, &x->qty_s, &x->uom_s, &x->task_s};
    unsigned fl;

    memset(x, 0, sizeof(*x));
    x->id = id;
    if (get_u64(&r, 1) != RFACT_VERSION)
        return NTM_ECORRUPT;
    fl = (unsigned)get_u64(&r, 3);
    x->approved = (int)get_var(&r);
    x->task = (int)get_var(&r);
    for (int i = 0; i < RFACT_NSTR; i++)
        if (fl & (1u << i))
            *strs[i] = get_str(&r);
    if (fl & F_KIND_ACTIVITY)
        x->kind = "activity";
    else if (fl & F_KIND_MEASURE)
        x->kind = "measure";
    if (fl & F_DATE_YMD) {
        x->date_ymd = (int)get_var(&r);
        snprintf(x->date_buf, sizeof(x->date_buf), "%04d-%02d-%02d",
                 x->date_ymd / 10000 % 10000, x->date_ymd / 100 % 100,
                 x->date_ymd % 100);
        x->date = x->date_buf;
    }
    x->deleted = !!(fl & F_DELETED);
    x->numden_int = !!(fl & F_NUMDEN_INT);
    if ((x->dict_ok = !!(fl & F_DICT_OK)))
        x->qty = get_f64(&r);
    x->has_qty = !!(fl & F_HAS_QTY);
    if ((x->has_people = !!(fl & F_PEOPLE)))
        x->people = get_var(&r);
    if ((x->has_money = !!(fl & F_MONEY)))
        x->money = get_var(&r);
    if ((x->has_days = !!(fl & F_DAYS)))
        x->days = get_f64(&r);
    if ((x->has_num = !!(fl & F_NUM)))
        x->num = get_var(&r);
    if ((x->has_den = !!(fl & F_DEN)))
        x->den = get_var(&r);
    if (fl & F_DISSOLVED)
        x->dissolved = (int)get_var(&r);
    if (!(fl & F_DATE_YMD))
        x->date_ymd = Ntm_ymd(x->date);
    return r.bad || r.p != r.end ? NTM_ECORRUPT : NTM_OK;
}

/* json_dumps of v into b, freed with jansson's allocator */
static int
add_json(struct ntm_buf *b, json_t *v)
{
    json_free_t fr = NULL;
    char *t = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    int e = ntm_buf_addf(b, "%s\n", t ? t : "null") != NTM_OK;
    json_get_alloc_funcs(NULL, &fr);
    if (t)
        (fr ? fr : free)(t);
    return e || (v && !t);
}

enum ntm_err
Ntm_rfact_tag(const struct ntm_plan *p, char out[NTM_HEX_ID_LEN + 1])
{
    struct ntm_buf b = NTM_BUF_INIT;
    unsigned char h[NTM_HASH_BYTES];
    int e = ntm_buf_addf(&b, "rfact %d\n", RFACT_VERSION) != NTM_OK;

    e |= add_json(&b, p->fields);
    for (int i = 0; i < p->ntasks && !e; i++) {
        e |= ntm_buf_addf(&b, "%d %s %s ", i, p->tasks[i].id,
                          p->tasks[i].org ? p->tasks[i].org : "") != NTM_OK;
        e |= add_json(&b, p->tasks[i].record);
    }
    if (!e)
        ntm_hash(h, b.buf, b.len);
    ntm_buf_release(&b);
    if (e)
        return NTM_ENOMEM;
    ntm_hex_encode(out, h, sizeof(h));
    return NTM_OK;
}
