/* SPDX-License-Identifier: MIT */
/*
 * rules.c - step 5 of SPEC.md section 2: is an entry's op/body valid, and
 * do its author's role and scope allow it? Also unit codes and scopes
 * (SPEC.md section 4) and the record field rules of section 3.
 *
 * These rules run in three places and must agree: when a writer checks its
 * own entry before signing, when an entry is taken, and when the state is
 * rebuilt. They never look at clocks or arrival order.
 *
 * Depends on util/, crypto/ (hex checks) and jansson.
 */
#include "store_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
Ntm_unit_code_valid(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    int digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (++digits > 9)
                return 0;
        } else if (*p == '.' && digits > 0) {
            digits = 0;
        } else {
            return 0;
        }
    }
    return digits > 0;
}

int
Ntm_scope_covers(const char *scope, const char *unit)
{
    if (!scope || !unit)
        return 0;
    size_t n = strlen(scope);
    if (n == 0)
        return 1;
    return strncmp(scope, unit, n) == 0 && (unit[n] == '\0' || unit[n] == '.');
}

const char *
Ntm_unit_level(const char *code)
{
    int depth = 1;
    for (const char *p = code; p && *p; p++)
        if (*p == '.')
            depth++;
    switch (depth) {
    case 1:
        return "province";
    case 2:
        return "district";
    case 3:
        return "commune";
    case 4:
        return "hamlet";
    default:
        return "unit";
    }
}

/* The Front (Mặt trận Tổ quốc) follows every organization. */
#define NTM_ORG_FRONT "mttq"

int
Ntm_org_covers(const char *enr_org, const char *org)
{
    if (!enr_org || !*enr_org || strcmp(enr_org, NTM_ORG_FRONT) == 0)
        return 1;
    return org && strcmp(enr_org, org) == 0;
}

int
Ntm_role_allows(const char *role, const char *op)
{
    int rank = strcmp(role, "admin") == 0         ? 3
               : strcmp(role, "coordinator") == 0 ? 2
               : strcmp(role, "recorder") == 0    ? 1
                                                  : 0;
    if (strncmp(op, "record.", 7) == 0)
        return rank >= 1;
    if (strcmp(op, "review") == 0 || strcmp(op, "unit.create") == 0)
        return rank >= 2;
    if (strncmp(op, "device.", 7) == 0)
        return rank >= 3;
    return 0;
}

/* Record the reason in why, with its message id (the format); 0 (not
 * valid) for "return fail()". */
#define fail(why, ...) (ntm_error_set((why), NTM_EBADBODY, __VA_ARGS__), 0)

static int
is_str(json_t *o, const char *k, int required)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return !required;
    return json_is_string(v);
}

static int
is_hex(json_t *v, size_t n)
{
    return json_is_string(v) && json_string_length(v) == n &&
           ntm_is_lower_hex(json_string_value(v), n);
}

/* One field's value by the rules of SPEC.md section 3. Unknown fields are
 * kept whatever they hold. */
static int
field_valid(const char *k, const json_t *v, struct ntm_error *why)
{
    if (strcmp(k, "date") == 0) {
        if (!json_is_string(v) || !ntm_field_date_valid(json_string_value(v)))
            return fail(why, N_("field 'date' must be a date YYYY-MM-DD"));
    } else if (strcmp(k, "qty") == 0) {
        if (!json_is_string(v) || !ntm_field_qty_valid(json_string_value(v)))
            return fail(why,
                        "field 'qty' must be a decimal string like \"2.5\" "
                        "(up to 12 digits, 3 decimals)");
    } else if (strcmp(k, "period") == 0) {
        if (!json_is_string(v) || !ntm_field_period_valid(json_string_value(v)))
            return fail(why, N_("field 'period' must be YYYY or YYYY-MM"));
    } else if (ntm_field_is_int(k) && strcmp(k, "den") != 0) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return fail(why, N_("field '%s' must be an integer >= 0"), k);
    } else if (strcmp(k, "den") == 0) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0)
            return fail(why, N_("field 'den' must be an integer > 0"));
    } else if (strcmp(k, "task") == 0 || strcmp(k, "uom") == 0 ||
               strcmp(k, "title") == 0 || strcmp(k, "note") == 0) {
        if (!json_is_string(v))
            return fail(why, N_("field '%s' must be a string"), k);
        if (strcmp(k, "task") == 0 && json_string_length(v) == 0)
            return fail(why, N_("field 'task' must not be empty"));
    } else if (strcmp(k, "deleted") == 0) {
        return fail(why, N_("field 'deleted' is hidden: use record.delete"));
    }
    return 1;
}

/* The record field rules of SPEC.md section 3, one function per rule,
 * public so that a tool checks what it is given by the same rule. */

int
ntm_field_date_valid(const char *s)
{
    /* A real calendar date, and not after 2200. */
    return ntm_date_valid(s) && strncmp(s, "2200", 4) <= 0;
}

int
ntm_field_period_valid(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n != 4 && n != 7)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 4) {
            if (s[i] != '-')
                return 0;
        } else if (!isdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    if (n == 7) {
        int m = (s[5] - '0') * 10 + (s[6] - '0');
        if (m < 1 || m > 12)
            return 0;
    }
    return 1;
}

/* ^[0-9]{1,12}(\.[0-9]{1,3})?$ */
int
ntm_field_qty_valid(const char *s)
{
    size_t i = 0, ip = 0, fp = 0;
    if (!s)
        return 0;
    while (isdigit((unsigned char)s[i]))
        i++, ip++;
    if (ip < 1 || ip > 12)
        return 0;
    if (s[i] == '.') {
        i++;
        while (isdigit((unsigned char)s[i]))
            i++, fp++;
        if (fp < 1 || fp > 3)
            return 0;
    }
    return s[i] == '\0';
}

int
ntm_field_is_int(const char *name)
{
    return name &&
           (strcmp(name, "people") == 0 || strcmp(name, "amount_vnd") == 0 ||
            strcmp(name, "num") == 0 || strcmp(name, "den") == 0);
}

int
ntm_field_valid(const char *name, const json_t *value)
{
    struct ntm_error why;
    return field_valid(name, value, &why);
}

static int
fields_valid(json_t *fields, const char *kind, int create,
             struct ntm_error *why)
{
    const char *k;
    json_t *v;
    json_object_foreach (fields, k, v) {
        if (!field_valid(k, v, why))
            return 0;
    }
    if (!create)
        return 1;
    static const char *const need_activity[] = {"task", "date", NULL};
    static const char *const need_measure[] = {"task", "period", "num", "den",
                                               NULL};
    const char *const *need =
        strcmp(kind, "activity") == 0 ? need_activity : need_measure;
    for (int i = 0; need[i]; i++)
        if (!json_object_get(fields, need[i]))
            return fail(why, N_("field '%s' is required"), need[i]);
    return 1;
}

static int
base_valid(json_t *base)
{
    if (!json_is_array(base) || json_array_size(base) == 0 ||
        json_array_size(base) > 256)
        return 0;
    size_t i;
    json_t *x;
    json_array_foreach (base, i, x)
        if (!is_hex(x, NTM_HEX_ID_LEN))
            return 0;
    return 1;
}

/* A file name as record.attach carries it: 1-255 bytes, no path
 * separator, no control character (the UTF-8 itself is step 1's). */
static int
attach_name_valid(const char *s, size_t n)
{
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            return 0;
    }
    return 1;
}

int
ntm_attach_type_valid(const char *type)
{
    return type &&
           (strcmp(type, "image/jpeg") == 0 || strcmp(type, "image/png") == 0 ||
            strcmp(type, "application/pdf") == 0);
}

/* record.attach: {id, hash, size, type, name, caption?}
 * (docs/contract.md, attachments). */
static int
attach_valid(const struct Ntm_entry *e, struct ntm_error *why)
{
    json_t *b = e->body;
    json_t *size = json_object_get(b, "size");
    json_t *name = json_object_get(b, "name");
    json_t *cap = json_object_get(b, "caption");
    if (!e->record)
        return fail(why, "record.attach: 'id' must be 32 hex");
    if (!is_hex(json_object_get(b, "hash"), NTM_HEX_ID_LEN))
        return fail(why, "record.attach: 'hash' must be 64 hex (BLAKE2b-256 "
                         "of the file)");
    if (!json_is_integer(size) || json_integer_value(size) < 1 ||
        json_integer_value(size) > NTM_ATTACH_MAX_BYTES)
        return fail(why, "record.attach: 'size' must be an integer from 1 to "
                         "67108864");
    if (!ntm_attach_type_valid(json_string_value(json_object_get(b, "type"))))
        return fail(why, "record.attach: 'type' must be image/jpeg, image/png "
                         "or application/pdf");
    if (!json_is_string(name) ||
        !attach_name_valid(json_string_value(name), json_string_length(name)))
        return fail(why, "record.attach: 'name' must be a file name of 1-255 "
                         "bytes without '/', '\\' or control characters");
    if (cap && (!json_is_string(cap) ||
                json_string_length(cap) > NTM_ATTACH_MAX_CAPTION))
        return fail(why, "record.attach: 'caption' must be a text of at most "
                         "1000 bytes");
    return 1;
}

enum ntm_err
Ntm_rules_body_why(const struct Ntm_entry *e, struct ntm_error *why)
{
    json_t *b = e->body;
    const char *op = e->op;
    int ok = 1;
    ntm_error_clear(why);
    if (strcmp(op, "device.enroll") == 0) {
        json_t *role = json_object_get(b, "role");
        json_t *fs = json_object_get(b, "from_seq");
        if (!is_hex(json_object_get(b, "key"), NTM_HEX_ID_LEN))
            ok = fail(why, "device.enroll: 'key' must be 64 hex");
        else if (!json_is_string(role) ||
                 (strcmp(json_string_value(role), "recorder") &&
                  strcmp(json_string_value(role), "coordinator") &&
                  strcmp(json_string_value(role), "admin")))
            ok =
                fail(why, "device.enroll: 'role' must be recorder, coordinator "
                          "or admin");
        else if (!json_is_string(json_object_get(b, "scope")) ||
                 !Ntm_unit_code_valid(
                     json_string_value(json_object_get(b, "scope"))))
            ok = fail(why, "device.enroll: 'scope' must be a unit code");
        else if (!is_str(b, "name", 0) || !is_str(b, "org", 0))
            ok = fail(why, "device.enroll: 'name' and 'org' must be strings");
        else if (fs && (!json_is_integer(fs) || json_integer_value(fs) < 1))
            ok = fail(why, "device.enroll: 'from_seq' must be an integer >= 1");
    } else if (strcmp(op, "device.revoke") == 0) {
        json_t *as = json_object_get(b, "after_seq");
        if (!is_hex(json_object_get(b, "key"), NTM_HEX_ID_LEN))
            ok = fail(why, "device.revoke: 'key' must be 64 hex");
        else if (!json_is_integer(as) || json_integer_value(as) < 0)
            ok =
                fail(why, "device.revoke: 'after_seq' must be an integer >= 0");
        else if (!is_str(b, "reason", 1))
            ok = fail(why, "device.revoke: 'reason' must be a string");
    } else if (strcmp(op, "unit.create") == 0) {
        json_t *lv = json_object_get(b, "level");
        if (!json_is_string(json_object_get(b, "code")) ||
            !Ntm_unit_code_valid(json_string_value(json_object_get(b, "code"))))
            ok = fail(why, "unit.create: 'code' must be a unit code");
        else if (!json_is_string(json_object_get(b, "name")) ||
                 json_string_length(json_object_get(b, "name")) == 0)
            ok = fail(why, "unit.create: 'name' must be a string");
        else if (!json_is_string(lv) ||
                 (strcmp(json_string_value(lv), "province") &&
                  strcmp(json_string_value(lv), "district") &&
                  strcmp(json_string_value(lv), "commune") &&
                  strcmp(json_string_value(lv), "hamlet")))
            ok = fail(why, "unit.create: 'level' must be province, district, "
                           "commune or hamlet");
        else if (json_object_get(b, "base") &&
                 !base_valid(json_object_get(b, "base")))
            ok = fail(why, "unit.create: 'base' must be a non-empty array of "
                           "entry ids");
    } else if (strcmp(op, "record.create") == 0) {
        json_t *kind = json_object_get(b, "kind");
        json_t *fields = json_object_get(b, "fields");
        if (!e->record)
            ok = fail(why, "record.create: 'id' must be 32 hex");
        else if (strcmp(e->record, e->bound) != 0)
            ok = fail(why,
                      "record.create: 'id' must be %s, the id bound to this "
                      "author and seq (SPEC 3)",
                      e->bound);
        else if (!json_is_string(kind) ||
                 (strcmp(json_string_value(kind), "activity") &&
                  strcmp(json_string_value(kind), "measure")))
            ok = fail(why, "record.create: 'kind' must be activity or measure");
        else if (!json_is_string(json_object_get(b, "unit")) ||
                 !Ntm_unit_code_valid(
                     json_string_value(json_object_get(b, "unit"))))
            ok = fail(why, "record.create: 'unit' must be a unit code");
        else if (!json_is_string(json_object_get(b, "org")) ||
                 json_string_length(json_object_get(b, "org")) == 0)
            ok = fail(why, "record.create: 'org' must be a string");
        else if (!json_is_object(fields))
            ok = fail(why, "record.create: 'fields' must be an object");
        else
            ok = fields_valid(fields, json_string_value(kind), 1, why);
    } else if (strcmp(op, "record.update") == 0) {
        json_t *set = json_object_get(b, "set");
        if (!e->record)
            ok = fail(why, "record.update: 'id' must be 32 hex");
        else if (!base_valid(json_object_get(b, "base")))
            ok = fail(why, "record.update: 'base' must be a non-empty array of "
                           "entry ids");
        else if (!json_is_object(set) || json_object_size(set) == 0)
            ok = fail(why, "record.update: 'set' must be a non-empty object");
        else
            ok = fields_valid(set, "activity", 0, why);
    } else if (strcmp(op, "record.delete") == 0) {
        if (!e->record)
            ok = fail(why, "record.delete: 'id' must be 32 hex");
        else if (!base_valid(json_object_get(b, "base")))
            ok = fail(why, "record.delete: 'base' must be a non-empty array of "
                           "entry ids");
    } else if (strcmp(op, "review") == 0) {
        json_t *state = json_object_get(b, "state");
        if (!e->record)
            ok = fail(why, "review: 'id' must be 32 hex");
        else if (!is_hex(json_object_get(b, "rev"), NTM_HEX_ID_LEN))
            ok = fail(why, "review: 'rev' must be an entry id");
        else if (!json_is_string(state) ||
                 (strcmp(json_string_value(state), "approved") &&
                  strcmp(json_string_value(state), "rejected") &&
                  strcmp(json_string_value(state), "has_issues")))
            ok = fail(why, "review: 'state' must be approved, rejected or "
                           "has_issues");
        else if (!is_str(b, "comment", 0))
            ok = fail(why, "review: 'comment' must be a string");
    } else if (strcmp(op, "record.attach") == 0) {
        ok = attach_valid(e, why);
    } else {
        ok = fail(why, "unknown operation '%s'", op);
    }
    return ok ? NTM_OK : NTM_EBADBODY;
}

enum ntm_err
Ntm_rules_body(const struct Ntm_entry *e, char *msg, size_t msglen)
{
    struct ntm_error why;
    enum ntm_err rc = Ntm_rules_body_why(e, &why);
    snprintf(msg, msglen, "%s", why.msg);
    return rc;
}

enum ntm_err
Ntm_rules_check(struct ntm_store *st, const struct Ntm_entry *e,
                const struct ntm_enrollment *enr, const char *unit,
                const char *org, char *msg, size_t msglen,
                struct ntm_error *err)
{
    struct ntm_error why;
    enum ntm_err rc = Ntm_rules_check_why(st, e, enr, unit, org, &why, err);
    snprintf(msg, msglen, "%s", why.msg);
    return rc;
}

enum ntm_err
Ntm_rules_check_why(struct ntm_store *st, const struct Ntm_entry *e,
                    const struct ntm_enrollment *enr, const char *unit,
                    const char *org, struct ntm_error *why,
                    struct ntm_error *err)
{
    enum ntm_err rc = Ntm_rules_body_why(e, why);
    if (rc != NTM_OK)
        return rc;
    if (!enr->enrolled) {
        return ntm_error_set(why, NTM_EUNKNOWNAUTHOR,
                             N_("author %.16s... is not enrolled"), e->author);
    }
    if (enr->revoked) {
        return ntm_error_set(why, NTM_EREVOKED,
                             N_("author %.16s... is revoked after seq %lld"),
                             e->author, (long long)enr->revoked_after);
    }
    if (!Ntm_role_allows(enr->role, e->op)) {
        return ntm_error_set(why, NTM_EFORBIDDEN, N_("a %s may not perform %s"),
                             enr->role, e->op);
    }
    const char *target = unit;
    if (strcmp(e->op, "device.enroll") == 0)
        target = json_string_value(json_object_get(e->body, "scope"));
    else if (strcmp(e->op, "unit.create") == 0)
        target = json_string_value(json_object_get(e->body, "code"));
    else if (strcmp(e->op, "record.create") == 0) {
        target = json_string_value(json_object_get(e->body, "unit"));
        org = json_string_value(json_object_get(e->body, "org"));
    } else if (strcmp(e->op, "device.revoke") == 0)
        return NTM_OK; /* authority over the device: auth.c */
    if (!target) {
        return ntm_error_set(why, NTM_ENOENT,
                             N_("the record this entry changes is not known"));
    }
    if (!Ntm_scope_covers(enr->scope, target)) {
        return ntm_error_set(why, NTM_EFORBIDDEN,
                             N_("unit %s is outside the author's scope %s"),
                             target, enr->scope);
    }
    /* Organization scoping (docs/authority.md section 2a): records and
     * reviews only; the record's org is its create's, which no update
     * changes, so every replica judges it alike. */
    if ((strncmp(e->op, "record.", 7) == 0 || strcmp(e->op, "review") == 0) &&
        !Ntm_org_covers(enr->org, org)) {
        return ntm_error_set(why, NTM_EFORBIDDEN,
                             N_("organization %s is outside the author's "
                                "organization %s (only the Front, mttq, acts "
                                "across organizations)"),
                             org ? org : "?", enr->org);
    }
    return NTM_OK;
}
