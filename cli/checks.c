/* SPDX-License-Identifier: MIT */
/*
 * checks.c - the checks made on typed input before signing, shared by
 * the commands (ntm record, review, admin enroll) and the pages of `ntm
 * ui` (cli/ui/actions.c), so that a rule has one home: the CLI prints a
 * refusal, the page shows it beside its field. The rules themselves are
 * the library's (ntm_field_*, ntm_plan_check_*, ntm_store_enrollment);
 * this file orders them and says their refusals in the user's language.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int refuse(struct cli_check *c, const char *field, int code,
                  const char *fmt, ...) NTM_PRINTF(4, 5);

static int
refuse(struct cli_check *c, const char *field, int code, const char *fmt, ...)
{
    va_list ap;
    c->field = field;
    c->code = code;
    c->lib = 0;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* The library refused what was typed (c->err set): its text; a usage
 * error, as the commands always said it. */
static int
refuse_lib(struct cli_check *c, const char *field, const char *what)
{
    c->field = field;
    c->lib = 1;
    c->what = what;
    c->code = EXIT_USAGE;
    cli_error_text(&c->err, c->msg, sizeof(c->msg));
    return -1;
}

int
cli_check_say(const char *cmd, const struct cli_check *c)
{
    if (c->lib) {
        cli_fail(&c->err, c->what);
        return c->code;
    }
    if (c->code == EXIT_USAGE)
        return cli_usage_error(cmd, "%s", c->msg);
    cli_error("%s", c->msg);
    return c->code;
}

static int
set_str(json_t *o, const char *k, const char *v, struct cli_check *c)
{
    if (!v)
        return 0;
    json_t *s = json_string(v);
    if (!s)
        return refuse(c, k, EXIT_USAGE, _("%s is not valid UTF-8 text"),
                      cli_label(NTM_LABEL_FIELD, k));
    json_object_set_new(o, k, s);
    return 0;
}

static int
set_int(json_t *o, const char *k, int64_t v, struct cli_check *c)
{
    if (v == CLI_UNSET)
        return 0;
    if (v < 0)
        return refuse(c, k, EXIT_USAGE,
                      _("%s must be a whole number, 0 or more."),
                      cli_label(NTM_LABEL_FIELD, k));
    json_object_set_new(o, k, json_integer(v));
    return 0;
}

/* A date, quantity or period as typed, in the record's form (cli_input). */
static const char *
typed(struct cli_check *c, const char *field, const char *in, char *out,
      size_t size)
{
    const char *v =
        cli_input_check(field, in, out, size, c->msg, sizeof(c->msg));
    if (!v) {
        c->field = field;
        c->code = EXIT_USAGE;
    }
    return v;
}

/* The other fields of the task's dictionary, each read by its type: a
 * date, decimal or period as people type them, a whole number, text. */
static int
more_fields(struct cli_ctx *ctx, const struct cli_record_in *in,
            struct cli_record_out *out, struct cli_check *c)
{
    json_t *dict = ntm_plan_task_dict(ctx->plan, in->task), *v;
    json_t *rules = json_object_get(json_object_get(dict, "fields"), in->kind);
    const char *name;
    int rc = 0;
    json_object_foreach (in->more, name, v) {
        const char *text = json_string_value(v);
        const char *type = json_string_value(
            json_object_get(json_object_get(rules, name), "type"));
        char buf[64];
        int64_t n;
        if (!text || !*text)
            continue;
        if (type && (!strcmp(type, "date") || !strcmp(type, "period") ||
                     !strcmp(type, "decimal"))) {
            if (!typed(c, !strcmp(type, "decimal") ? "qty" : type, text, buf,
                       sizeof(buf))) {
                c->field = name;
                rc = -1;
                break;
            }
            text = buf;
        } else if (type && !strcmp(type, "int")) {
            if (ntm_parse_int64(text, INT64_MIN + 1, INT64_MAX, &n) != NTM_OK) {
                rc = refuse(c, name, EXIT_USAGE, _("%s must be a whole number"),
                            cli_label(NTM_LABEL_FIELD, name));
                break;
            }
            json_object_set_new(out->fields, name, json_integer(n));
            continue;
        }
        if ((rc = set_str(out->fields, name, text, c)) != 0)
            break;
    }
    json_decref(dict);
    return rc;
}

int
cli_check_record(struct cli_ctx *ctx, const struct cli_record_in *in,
                 struct cli_record_out *out, struct cli_check *c)
{
    const char *check_date = NULL, *date = in->date, *qty = in->qty;
    const char *uom = in->uom, *period = in->period;
    char first_day[11];
    memset(out, 0, sizeof(*out));
    memset(c, 0, sizeof(*c));
    int activity = in->kind && !strcmp(in->kind, "activity");
    if (!activity && !(in->kind && !strcmp(in->kind, "measure")))
        return refuse(c, "kind", EXIT_USAGE,
                      _("unknown kind '%s': use activity or measure"),
                      in->kind ? in->kind : "");
    if (!in->task)
        return refuse(c, "task", EXIT_USAGE,
                      _("choose the task (see 'ntm plan')"));
    if (!in->unit)
        return refuse(c, "unit", EXIT_USAGE,
                      _("give the unit code (see 'ntm units')"));
    if (!(out->fields = json_object()))
        return refuse(c, NULL, EXIT_FAIL, "%s", cli_strerror(NTM_ENOMEM));
    if (set_str(out->fields, "task", in->task, c))
        goto bad;
    if (activity) {
        if (!date) {
            refuse(c, "date", EXIT_USAGE,
                   _("an activity needs its date, e.g. 2019-05-17 or "
                     "17/05/2019"));
            goto bad;
        }
        if (!(date = typed(c, "date", date, out->date, sizeof(out->date))) ||
            (qty && !(qty = typed(c, "qty", qty, out->qty, sizeof(out->qty)))))
            goto bad;
        /* the uom's identifier, or its label in either language ("hộ") */
        if (uom && ntm_plan_uom_parse(ctx->plan, uom))
            uom = ntm_plan_uom_parse(ctx->plan, uom);
        if (qty && (!uom || !*uom)) {
            refuse(c, "uom", EXIT_USAGE,
                   _("a quantity needs its unit of measure (km, household, "
                     "person, ...)"));
            goto bad;
        }
        if (uom && !qty) {
            refuse(c, "qty", EXIT_USAGE,
                   _("a unit of measure needs its quantity"));
            goto bad;
        }
        check_date = date;
        if (set_str(out->fields, "date", date, c) ||
            set_str(out->fields, "qty", qty, c) ||
            set_str(out->fields, "uom", uom, c) ||
            set_str(out->fields, "title", in->title, c) ||
            set_str(out->fields, "note", in->note, c) ||
            set_int(out->fields, "people", in->people, c) ||
            set_int(out->fields, "amount_vnd", in->amount_vnd, c))
            goto bad;
    } else {
        if (!period || in->num == CLI_UNSET || in->den == CLI_UNSET) {
            refuse(c,
                   !period                ? "period"
                   : in->num == CLI_UNSET ? "num"
                                          : "den",
                   EXIT_USAGE,
                   _("a measure needs its period, numerator and "
                     "denominator"));
            goto bad;
        }
        if (!(period =
                  typed(c, "period", period, out->period, sizeof(out->period))))
            goto bad;
        if (in->num < 0 || in->den <= 0) {
            refuse(c, in->num < 0 ? "num" : "den", EXIT_USAGE,
                   _("invalid share %lld/%lld: the numerator must not be "
                     "negative and the denominator must be greater than 0"),
                   (long long)in->num, (long long)in->den);
            goto bad;
        }
        snprintf(first_day, sizeof(first_day), "%.4s-%.2s-01", period,
                 strlen(period) == 7 ? period + 5 : "01");
        check_date = first_day;
        if (set_str(out->fields, "period", period, c) ||
            set_int(out->fields, "num", in->num, c) ||
            set_int(out->fields, "den", in->den, c))
            goto bad;
    }

    if (in->more && more_fields(ctx, in, out, c) != 0)
        goto bad;

    const char *task_org = NULL;
    if (in->org && ntm_plan_check_org(ctx->plan, in->org, &c->err) != NTM_OK) {
        refuse_lib(c, "org", NULL);
        goto bad;
    }
    if (ntm_plan_check_task(ctx->plan, in->task, NULL, &task_org, &c->err) !=
        NTM_OK) {
        refuse_lib(c, "task", NULL);
        goto bad;
    }
    if (ntm_plan_check_unit(ctx->plan, ctx->store, in->unit, check_date,
                            &c->err) != NTM_OK) {
        refuse_lib(c, "unit", NULL);
        goto bad;
    }
    /* the plan's data dictionary: kind, fields, units, num <= den */
    const char *at = NULL;
    if (ntm_plan_check_record(ctx->plan, in->kind, out->fields, NULL, &at,
                              &c->err) != NTM_OK) {
        /* the form chooses the kind with the task */
        refuse_lib(c, !at || !strcmp(at, "kind") ? "task" : at, NULL);
        c->lib = 0; /* the input breaks the plan's rules: a usage error */
        c->code = EXIT_USAGE;
        goto bad;
    }
    out->org = in->org ? in->org : task_org;
    if (!out->org || !*out->org) {
        refuse(c, "org", EXIT_USAGE,
               _("the task '%s' has no organization: give one"), in->task);
        goto bad;
    }
    return 0;
bad:
    cli_record_out_release(out);
    return -1;
}

void
cli_record_out_release(struct cli_record_out *out)
{
    json_decref(out->fields);
    out->fields = NULL;
}

int
cli_check_may_review(struct cli_ctx *ctx, struct cli_check *c)
{
    struct ntm_enrollment e;
    memset(&e, 0, sizeof(e));
    memset(c, 0, sizeof(*c));
    if (ntm_store_enrollment(ctx->store, ctx->author, 0, &e, &c->err) !=
        NTM_OK) {
        refuse_lib(c, NULL, _("cannot read this device's enrollment"));
        c->code = cli_exit_code(c->err.code);
        return -1;
    }
    if (e.revoked)
        return refuse(c, NULL, EXIT_FAIL,
                      _("this device (key %s) is revoked: it cannot review"),
                      ctx->author);
    if (!e.is_root && !e.enrolled)
        return refuse(c, NULL, EXIT_FAIL,
                      _("this device (key %s) is not enrolled as a "
                        "coordinator or admin: reviews need one (pull or "
                        "import its enrollment first if it exists)"),
                      ctx->author);
    if (!e.is_root && strcmp(e.role, "coordinator") && strcmp(e.role, "admin"))
        return refuse(c, NULL, EXIT_FAIL,
                      _("this device is enrolled as a %s: only coordinators "
                        "and admins may review records"),
                      e.role[0] ? cli_label(NTM_LABEL_ROLE, e.role)
                                : "device without a role");
    return 0;
}

int
cli_check_device_key(const char *key, char out[NTM_HEX_ID_LEN + 1],
                     struct cli_check *c)
{
    memset(c, 0, sizeof(*c));
    size_t n = key ? strspn(key, " \t\r\n") : 0, len = key ? strlen(key) : 0;
    while (len > n && strchr(" \t\r\n", key[len - 1]))
        len--;
    if (!key || len - n != NTM_HEX_ID_LEN)
        goto bad;
    for (size_t i = 0; i < NTM_HEX_ID_LEN; i++) {
        char ch = key[n + i];
        out[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[NTM_HEX_ID_LEN] = '\0';
    if (ntm_is_lower_hex(out, NTM_HEX_ID_LEN))
        return 0;
bad:
    return refuse(c, "key", EXIT_USAGE,
                  _("invalid device key '%s': give the 64 hex digits that "
                    "'ntm whoami' prints on that device"),
                  key ? key : "");
}

int
cli_check_grant(struct cli_ctx *ctx, const char **role, const char *scope,
                const char *org, struct cli_check *c)
{
    memset(c, 0, sizeof(*c));
    /* The role's identifier or its label ("điều phối"). */
    const char *id = *role ? ntm_label_parse(NTM_LABEL_ROLE, *role) : NULL;
    if (!id) {
        char list[256];
        ntm_label_values(NTM_LABEL_ROLE, cli_lang_vi() ? "vi" : "en", list,
                         sizeof(list));
        return refuse(c, "role", EXIT_USAGE,
                      _("%s does not take '%s': give one of %s"), "--role",
                      *role ? *role : "", list);
    }
    *role = id;
    if (!scope)
        return refuse(c, "scope", EXIT_USAGE,
                      _("give the scope: the unit code of the device's "
                        "area"));
    if (ntm_plan_check_unit(ctx->plan, ctx->store, scope, NULL, &c->err) !=
        NTM_OK)
        return refuse_lib(c, "scope", "--scope");
    if (org && ntm_plan_check_org(ctx->plan, org, &c->err) != NTM_OK)
        return refuse_lib(c, "org", NULL);
    return 0;
}

int
cli_check_join_signer(struct cli_ctx *ctx, const char *signer,
                      struct cli_check *c)
{
    memset(c, 0, sizeof(*c));
    if (signer && !strcmp(signer, ctx->author))
        return 0;
    return refuse(c, NULL, EXIT_FAIL,
                  _("this join code was made by another device (%.16s...): "
                    "the admin who made it enrolls with it"),
                  signer ? signer : "");
}

#define JOIN_USED_KEY "join.used."

int
cli_check_join_unused(struct cli_ctx *ctx, const char *nonce, const char *hex,
                      struct cli_check *c)
{
    struct ntm_buf used = NTM_BUF_INIT;
    char *prev = NULL;
    int rc = 0;
    memset(c, 0, sizeof(*c));
    ntm_buf_addf(&used, "%s%s", JOIN_USED_KEY, nonce);
    if (ntm_store_meta_get(ctx->store, ntm_buf_str(&used), &prev, NULL) ==
            NTM_OK &&
        prev && strcmp(prev, hex) != 0)
        rc = refuse(c, NULL, EXIT_FAIL,
                    _("this join code was used already, for the device "
                      "%.16s...: make a new one for each device"),
                    prev);
    ntm_free(prev);
    ntm_buf_release(&used);
    return rc;
}

void
cli_join_mark_used(struct cli_ctx *ctx, const char *nonce, const char *hex)
{
    struct ntm_buf used = NTM_BUF_INIT;
    ntm_buf_addf(&used, "%s%s", JOIN_USED_KEY, nonce);
    ntm_store_meta_set(ctx->store, ntm_buf_str(&used), hex, NULL);
    ntm_buf_release(&used);
}

int
cli_check_fingerprint(const char *hex, const char *given, struct cli_check *c)
{
    char fp[40];
    memset(c, 0, sizeof(*c));
    if (given && cli_fingerprint_matches(hex, given))
        return 0;
    cli_short_fingerprint(hex, fp);
    return refuse(c, "fingerprint", EXIT_FAIL,
                  _("the fingerprint '%s' is not the one of the device that "
                    "asked (%s): nothing was enrolled. If the device shows "
                    "another fingerprint, someone else used this code: make "
                    "a new code"),
                  given ? given : "", fp);
}
