/* SPDX-License-Identifier: MIT */
/*
 * fields.c - what the record commands share: --set FIELD=VALUE parsed and
 * checked against the library's record field rules (ntm_field_valid: the
 * rule is the library's, the words of the usage error the tool's), and a
 * record found by its id or a unique prefix of it, and identifiers typed
 * as themselves or as their labels (util/labels.c).
 *
 * Uses only the public libntm headers and libc.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/*
 * The usage error for a value of field that the record field rules
 * (ntm_field_valid) refuse: the rule is the library's, the words are the
 * tool's (they say what to type).
 */
static void
field_usage_error(const char *cmd, const char *field, const json_t *value)
{
    const char *s = json_is_string(value) ? json_string_value(value) : "";
    if (!strcmp(field, "date"))
        cli_usage_error(cmd,
                        _("invalid date '%s': give a real calendar date "
                          "as YYYY-MM-DD, e.g. 2019-05-17"),
                        s);
    else if (!strcmp(field, "qty"))
        cli_usage_error(cmd,
                        _("invalid quantity '%s': give a decimal number "
                          "with up to 12 digits and 3 decimals, e.g. "
                          "1.25"),
                        s);
    else if (!strcmp(field, "period"))
        cli_usage_error(cmd,
                        _("invalid period '%s': give a year YYYY or a "
                          "month YYYY-MM"),
                        s);
    else if (!strcmp(field, "den") && json_is_integer(value))
        cli_usage_error(cmd,
                        _("invalid denominator %lld: it must be "
                          "greater than 0"),
                        (long long)json_integer_value(value));
    else if (json_is_integer(value))
        cli_usage_error(cmd, _("invalid %s %lld: it must not be negative"),
                        field, (long long)json_integer_value(value));
    else
        cli_usage_error(cmd, _("invalid --set %s='%s'"), field, s);
}

/* The FIELD of --set FIELD=VALUE: the syntax of the option (lower-case
 * letters, digits after the first, '_'), not a record rule. */
static int
valid_field_name(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || c == '_' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

json_t *
cli_parse_set(const char *cmd, const struct cli_list *sets)
{
    json_t *obj = json_object();
    if (!obj) {
        cli_error(_("cannot parse --set: out of memory"));
        return NULL;
    }
    for (int i = 0; i < sets->count; i++) {
        const char *item = sets->items[i];
        const char *eq = strchr(item, '=');
        if (!eq || !valid_field_name(item, (size_t)(eq - item))) {
            cli_usage_error(cmd,
                            _("invalid --set '%s': write FIELD=VALUE with a "
                              "lower-case field name, e.g. --set qty=2.5"),
                            item);
            goto fail;
        }
        char field[65];
        memcpy(field, item, (size_t)(eq - item));
        field[eq - item] = '\0';
        if (!strcmp(field, "deleted")) {
            cli_usage_error(cmd, _("the field 'deleted' cannot be set: use "
                                   "'ntm delete ID'"));
            goto fail;
        }
        if (json_object_get(obj, field)) {
            cli_usage_error(cmd, _("field '%s' is set twice"), field);
            goto fail;
        }
        json_t *v;
        if (ntm_field_is_int(field)) {
            int64_t n;
            if (ntm_parse_int64(eq + 1, -(INT64_C(1) << 53) + 1,
                                (INT64_C(1) << 53) - 1, &n) != NTM_OK) {
                cli_usage_error(cmd,
                                _("invalid --set %s='%s': %s takes a whole "
                                  "number"),
                                field, eq + 1, field);
                goto fail;
            }
            v = json_integer(n);
        } else if (!strcmp(field, "date") || !strcmp(field, "qty") ||
                   !strcmp(field, "period")) {
            /* as people type them: 17/05/2019, 2,5, 05/2019 */
            char form[64];
            if (!cli_input(cmd, field, eq + 1, form, sizeof(form)))
                goto fail;
            v = json_string(form);
        } else {
            v = json_string(eq + 1);
            if (!v) {
                cli_usage_error(cmd,
                                _("invalid --set %s: the value is not "
                                  "valid UTF-8 text"),
                                field);
                goto fail;
            }
        }
        if (!v || json_object_set_new(obj, field, v) != 0) {
            cli_error(_("cannot parse --set: out of memory"));
            goto fail;
        }
        if (!ntm_field_valid(field, v)) {
            field_usage_error(cmd, field, v);
            goto fail;
        }
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Records */

int
cli_find_record(struct cli_ctx *ctx, const char *cmd, const char *id,
                char full[NTM_RECORD_ID_LEN + 1], json_t **rec)
{
    struct ntm_error err = {0};
    json_t *r = NULL;
    if (rec)
        *rec = NULL;
    size_t n = strlen(id);
    if (n < 6 || n > NTM_RECORD_ID_LEN || !ntm_is_lower_hex(id, n))
        return cli_usage_error(cmd,
                               _("invalid record id '%s': give the id printed "
                                 "by 'ntm record' or 'ntm list' (at least its "
                                 "first 6 hex characters)"),
                               id);
    enum ntm_err rc = ntm_store_record(ctx->store, id, &r, &err);
    if (rc == NTM_ENOENT) {
        cli_error(_("no record '%s' in this home: check the id with 'ntm "
                    "list' (or import the bundle that holds it)"),
                  id);
        return EXIT_FAIL;
    }
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot read the record"));
    const char *fid = json_string_value(json_object_get(r, "id"));
    if (!fid || strlen(fid) != NTM_RECORD_ID_LEN) {
        json_decref(r);
        cli_error(_("cannot read the record '%s': the store gave no id"), id);
        return EXIT_FAIL;
    }
    memcpy(full, fid, NTM_RECORD_ID_LEN + 1);
    if (rec)
        *rec = r;
    else
        json_decref(r);
    return EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* Labels */

const char *
cli_parse_label(const char *cmd, enum ntm_label_set set, const char *opt,
                const char *text)
{
    const char *v = ntm_label_parse(set, text);
    if (v)
        return v;
    char list[256];
    /* the labels in the language of the messages (the identifiers in
     * English, their words in Vietnamese): both are accepted */
    ntm_label_values(set, cli_lang_vi() ? "vi" : "en", list, sizeof(list));
    cli_usage_error(cmd, _("%s does not take '%s': give one of %s"), opt, text,
                    list);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Dates, quantities and periods as people type them */

const char *
cli_input(const char *cmd, const char *field, const char *in, char *out,
          size_t size)
{
    const char *lang = cli_lang_vi() ? "vi" : "en";
    enum ntm_human_parse r;
    char d[11] = "", p[8] = "";
    if (!strcmp(field, "qty"))
        r = ntm_human_parse_decimal(lang, in, out, size);
    else if (!strcmp(field, "date"))
        r = ntm_human_parse_date(lang, in, d);
    else if (!strcmp(field, "period"))
        r = ntm_human_parse_period(lang, in, p);
    else
        r = NTM_HUMAN_BAD;
    if (r == NTM_HUMAN_OK) {
        if (!strcmp(field, "date"))
            snprintf(out, size, "%s", d);
        else if (!strcmp(field, "period"))
            snprintf(out, size, "%s", p);
        return out;
    }
    if (r == NTM_HUMAN_AMBIGUOUS && !strcmp(field, "qty")) {
        /* "1.234" (Vietnamese) or "1,234" (English): the whole number
         * without a mark, or the decimal in this language's form. */
        char whole[64], dec[64], human[64];
        size_t n = 0;
        for (const char *c = in; *c && n + 1 < sizeof(whole); c++)
            if (*c >= '0' && *c <= '9')
                whole[n++] = *c;
        whole[n] = '\0';
        snprintf(dec, sizeof(dec), "%.*s.%s", (int)(n - 3), whole,
                 whole + n - 3);
        cli_human_decimal(dec, human, sizeof(human));
        cli_usage_error(cmd,
                        _("the quantity '%s' reads two ways: write %s for the "
                          "whole number, or %s for the number with decimals"),
                        in, whole, human);
    } else if (!strcmp(field, "qty")) {
        cli_usage_error(cmd,
                        _("invalid quantity '%s': give a decimal number "
                          "with up to 12 digits and 3 decimals, e.g. 1.25"),
                        in);
    } else if (!strcmp(field, "date")) {
        cli_usage_error(cmd,
                        _("invalid date '%s': give a real calendar date as "
                          "YYYY-MM-DD, e.g. 2019-05-17"),
                        in);
    } else {
        cli_usage_error(cmd,
                        _("invalid period '%s': give a year YYYY or a "
                          "month YYYY-MM"),
                        in);
    }
    return NULL;
}

/* The names of every unit of the plan's tree and of the hamlets created
 * in the store, each name a unit has had, for word search: *names (new,
 * ended by a NULL code) points into *units (new). */
void
cli_unit_names(struct cli_ctx *ctx, json_t **units,
               struct ntm_unit_name **names)
{
    struct ntm_error err = {0};
    *units = NULL;
    *names = NULL;
    if (ntm_plan_units(ctx->plan, ctx->store, NULL, NULL, NULL, units, &err) !=
        NTM_OK)
        return;
    size_t n = 0, i, j;
    json_t *u, *v;
    json_array_foreach (*units, i, u)
        n += 1 + json_array_size(json_object_get(u, "names"));
    struct ntm_unit_name *a = ntm_calloc(n + 1, sizeof(*a));
    if (!a)
        return;
    n = 0;
    json_array_foreach (*units, i, u) {
        const char *code = json_string_value(json_object_get(u, "code"));
        if (!code)
            continue;
        a[n].code = code;
        a[n++].name = json_string_value(json_object_get(u, "name"));
        json_array_foreach (json_object_get(u, "names"), j, v) {
            a[n].code = code;
            a[n++].name = json_string_value(json_object_get(v, "name"));
        }
    }
    *names = a;
}
