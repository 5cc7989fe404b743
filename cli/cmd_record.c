/* SPDX-License-Identifier: MIT */
/*
 * cmd_record.c - ntm record activity | measure: a new record, made and
 * signed offline. Every input is checked before anything is signed: a real
 * calendar date, a decimal quantity with its unit of measure, a period,
 * the task and unit against the plan and the unit tree (with suggestions
 * for near misses), and the record against the plan's data dictionary
 * (ntm_plan_check_record: kind, fields, accepted units, num <= den). The
 * organization defaults to the task's.
 */
#include "cli.h"

#include <stdint.h>
#include <string.h>

/* An integer option not given. */
#define UNSET INT64_MIN

static const struct cli_help help = {
    N_("ntm record - record an activity or a measure"),
    "ntm record activity --task <task> --unit <unit> --date <yyyy-mm-dd>\n"
    "                    [--qty <q> --uom <uom>] [--title <text>]\n"
    "                    [--note <text>] [--people <n>] [--amount-vnd <n>]\n"
    "                    [--org <org>]\n"
    "ntm record measure --task <task> --unit <unit> --period <yyyy[-mm]>\n"
    "                   --num <n> --den <n> [--org <org>]",
    N_("Makes a new record, signs it with this device's key and keeps it in\n"
       "the local store; push, sync or a bundle carries it further. Prints "
       "the\n"
       "new record's id.\n"
       "\n"
       "An activity is something done on a date: --qty is a decimal number\n"
       "(up to 12 digits and 3 decimals) in the unit of measure --uom (km, "
       "m2,\n"
       "household, person, vnd, labor_day, item, ...). A measure gives a "
       "share\n"
       "num/den for a period (a year or a month), for ratio targets.\n"
       "\n"
       "--task is a task or target id of the plan (see 'ntm plan'), --unit a\n"
       "unit code (see 'ntm units'). The organization is the task's unless\n"
       "--org says otherwise. A device not yet enrolled may record: the\n"
       "records wait here until an admin enrolls it."),
    NULL,
    "ntm record activity --task doan.rural_roads_km --unit 72.710.25657 \\\n"
    "    --date 2019-05-17 --qty 1.2 --uom km --people 40 \\\n"
    "    --title \"Bê tông hóa đường ấp Thạnh Hòa\"\n"
    "ntm record measure --task mttq.cultural_households --unit 72.710 \\\n"
    "    --period 2019 --num 9500 --den 10000"};

static int
set_str(json_t *o, const char *k, const char *v)
{
    if (!v)
        return 0;
    json_t *s = json_string(v);
    if (!s)
        return cli_usage_error("record", _("--%s is not valid UTF-8 text"), k);
    json_object_set_new(o, k, s);
    return 0;
}

int
cmd_record(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *task = NULL, *unit = NULL, *date = NULL, *qty = NULL;
    const char *uom = NULL, *title = NULL, *note = NULL, *org = NULL;
    const char *period = NULL;
    int64_t people = UNSET, amount = UNSET, num = UNSET, den = UNSET;
    struct cli_list attach = {0};
    struct cli_attach_file *att = NULL;
    const char *caption = NULL;
    int keep = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "task", &task, "<task>",
         N_("task or target id of the plan, e.g. doan.rural_roads_km")},
        {CLI_OPT_STRING, "unit", &unit, "<unit>",
         N_("unit code, e.g. 72.710.25657 (see 'ntm units')")},
        {CLI_OPT_STRING, "date", &date, "<yyyy-mm-dd>",
         N_("activity: the day it was done (YYYY-MM-DD or DD/MM/YYYY)")},
        {CLI_OPT_STRING, "qty", &qty, "<q>",
         N_("activity: quantity, a decimal like 1.25 (or 1,25)")},
        {CLI_OPT_STRING, "uom", &uom, "<uom>",
         N_("activity: unit of measure of --qty (km, household, ...)")},
        {CLI_OPT_STRING, "title", &title, "<text>",
         N_("activity: short title")},
        {CLI_OPT_STRING, "note", &note, "<text>", N_("activity: free note")},
        {CLI_OPT_INT, "people", &people, "<n>",
         N_("activity: people who took part")},
        {CLI_OPT_INT, "amount-vnd", &amount, "<n>",
         N_("activity: money spent or raised, in dong")},
        {CLI_OPT_STRING, "period", &period, "<yyyy[-mm]>",
         N_("measure: the year or month measured (YYYY, YYYY-MM or "
            "MM/YYYY)")},
        {CLI_OPT_INT, "num", &num, "<n>", N_("measure: numerator")},
        {CLI_OPT_INT, "den", &den, "<n>", N_("measure: denominator (> 0)")},
        {CLI_OPT_STRING, "org", &org, "<org>",
         N_("organization (default: the task's)")},
        {CLI_OPT_LIST, "attach", &attach, "<file>",
         N_("a photo or document to attach (repeatable; see 'ntm attach')")},
        {CLI_OPT_STRING, "caption", &caption, "<text>",
         N_("the caption of the files of --attach")},
        {CLI_OPT_FLAG, "keep-metadata", &keep, NULL,
         N_("attach JPEG photos as they are: full size, with their camera "
            "data and location")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("record", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs < 1)
        return cli_usage_error("record",
                               _("missing kind: 'ntm record activity' "
                                 "or 'ntm record measure'"));
    const char *kind = argv[0];
    int activity = !strcmp(kind, "activity");
    if (!activity && strcmp(kind, "measure"))
        return cli_usage_error(
            "record", _("unknown kind '%s': use activity or measure"), kind);
    if (nargs > 1)
        return cli_usage_error("record", _("unexpected argument '%s'"),
                               argv[1]);
    if (!task || !unit)
        return cli_usage_error("record", _("record %s needs --task and --unit"),
                               kind);

    json_t *fields = json_object();
    if (!fields)
        return cli_print_json(NULL);
    const char *check_date = NULL;
    char first_day[11], date_in[16], qty_in[64], period_in[16];
    code = EXIT_USAGE;
    if (activity) {
        if (period || num != UNSET || den != UNSET) {
            cli_usage_error("record", _("--period, --num and --den are for "
                                        "'record measure'"));
            goto out;
        }
        if (!date) {
            cli_usage_error("record", _("record activity needs --date "
                                        "YYYY-MM-DD"));
            goto out;
        }
        if (!(date =
                  cli_input("record", "date", date, date_in, sizeof(date_in))))
            goto out;
        if (qty &&
            !(qty = cli_input("record", "qty", qty, qty_in, sizeof(qty_in))))
            goto out;
        if (!ntm_field_date_valid(date)) {
            cli_usage_error("record",
                            _("invalid date '%s': give a real calendar date as "
                              "YYYY-MM-DD, e.g. 2019-05-17"),
                            date);
            goto out;
        }
        if (qty && !ntm_field_qty_valid(qty)) {
            cli_usage_error("record",
                            _("invalid quantity '%s': give a decimal number "
                              "with up to 12 digits and 3 decimals, e.g. 1.25"),
                            qty);
            goto out;
        }
        /* the uom's identifier, or its label in either language ("hộ") */
        if (uom && ntm_plan_uom_parse(ctx->plan, uom))
            uom = ntm_plan_uom_parse(ctx->plan, uom);
        if (qty && (!uom || !*uom)) {
            cli_usage_error("record",
                            _("--qty needs --uom, the unit of "
                              "measure (km, household, person, ...)"));
            goto out;
        }
        if (uom && !qty) {
            cli_usage_error("record", _("--uom needs --qty"));
            goto out;
        }
        if ((people != UNSET && people < 0) ||
            (amount != UNSET && amount < 0)) {
            cli_usage_error("record", _("--people and --amount-vnd must not be "
                                        "negative"));
            goto out;
        }
        check_date = date;
        if (set_str(fields, "task", task) || set_str(fields, "date", date) ||
            set_str(fields, "qty", qty) || set_str(fields, "uom", uom) ||
            set_str(fields, "title", title) || set_str(fields, "note", note))
            goto out;
        if (people != UNSET)
            json_object_set_new(fields, "people", json_integer(people));
        if (amount != UNSET)
            json_object_set_new(fields, "amount_vnd", json_integer(amount));
    } else {
        if (date || qty || uom || title || note || people != UNSET ||
            amount != UNSET) {
            cli_usage_error("record",
                            _("--date, --qty, --uom, --title, --note, "
                              "--people and --amount-vnd are for "
                              "'record activity'"));
            goto out;
        }
        if (!period || num == UNSET || den == UNSET) {
            cli_usage_error("record", _("record measure needs --period, --num "
                                        "and --den"));
            goto out;
        }
        if (!(period = cli_input("record", "period", period, period_in,
                                 sizeof(period_in))))
            goto out;
        if (!ntm_field_period_valid(period)) {
            cli_usage_error("record",
                            _("invalid period '%s': give a year YYYY or a "
                              "month YYYY-MM"),
                            period);
            goto out;
        }
        if (num < 0 || den <= 0) {
            cli_usage_error("record",
                            _("invalid share %lld/%lld: --num must "
                              "not be negative and --den must be "
                              "greater than 0"),
                            (long long)num, (long long)den);
            goto out;
        }
        snprintf(first_day, sizeof(first_day), "%.4s-%.2s-01", period,
                 strlen(period) == 7 ? period + 5 : "01");
        check_date = first_day;
        if (set_str(fields, "task", task) || set_str(fields, "period", period))
            goto out;
        json_object_set_new(fields, "num", json_integer(num));
        json_object_set_new(fields, "den", json_integer(den));
    }

    struct ntm_error err = {0};
    const char *task_org = NULL;
    if (org && ntm_plan_check_org(ctx->plan, org, &err) != NTM_OK) {
        cli_fail(&err, NULL);
        goto out;
    }
    if (ntm_plan_check_task(ctx->plan, task, NULL, &task_org, &err) != NTM_OK) {
        cli_fail(&err, NULL);
        goto out;
    }
    if (ntm_plan_check_unit(ctx->plan, ctx->store, unit, check_date, &err) !=
        NTM_OK) {
        cli_fail(&err, NULL);
        goto out;
    }
    /* the plan's data dictionary: kind, fields, units, num <= den */
    if (ntm_plan_check_record(ctx->plan, kind, fields, NULL, &err) != NTM_OK) {
        char text[2 * NTM_ERROR_SIZE];
        cli_usage_error("record", "%s",
                        cli_error_text(&err, text, sizeof(text)));
        goto out;
    }
    if (!org)
        org = task_org;
    if (!org || !*org) {
        cli_usage_error("record",
                        _("the task '%s' has no organization: give "
                          "--org"),
                        task);
        goto out;
    }

    /* The files are checked before anything is signed. */
    if (attach.count && (code = cli_attach_check(ctx, "record", NULL, &attach,
                                                 keep, &att)) != EXIT_OK)
        goto out;
    code = EXIT_FAIL;
    char id[NTM_RECORD_ID_LEN + 1];
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_record_create(ctx->store, ctx->key, kind, unit, org, fields, id,
                          &res, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot record"));
        goto out;
    }
    cli_warn_record_time(ctx, activity ? date : NULL, activity ? NULL : period);
    if (!activity)
        cli_warn_record_listed(ctx, task, unit);
    if (res.unenrolled)
        cli_warn(ctx,
                 _("this device (key %s) is not enrolled yet: the record is "
                   "kept here and takes effect once an admin enrolls the key"),
                 ctx->author);
    if (!ctx->json)
        printf("%s\n", id);
    json_t *done = json_array();
    code = EXIT_OK;
    if (attach.count)
        code = cli_attach_write(ctx, id, att, attach.count, caption, done);
    if (ctx->json && code == EXIT_OK)
        code = cli_print_json(json_pack("{s:s, s:s, s:b, s:O}", "id", id,
                                        "entry", res.id, "enrolled",
                                        !res.unenrolled, "attachments", done));
    json_decref(done);
out:
    cli_attach_free(att, attach.count);
    cli_list_release(&attach);
    json_decref(fields);
    return code;
}
