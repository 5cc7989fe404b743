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

#define UNSET CLI_UNSET

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

    if (activity && (period || num != UNSET || den != UNSET))
        return cli_usage_error("record", _("--period, --num and --den are for "
                                           "'record measure'"));
    if (!activity && (date || qty || uom || title || note || people != UNSET ||
                      amount != UNSET))
        return cli_usage_error("record",
                               _("--date, --qty, --uom, --title, --note, "
                                 "--people and --amount-vnd are for "
                                 "'record activity'"));
    /* the checks of the entry form too (cli/checks.c) */
    /* in the order of struct cli_record_in */
    const struct cli_record_in in = {kind,   task,   unit,  org,  date,
                                     qty,    uom,    title, note, people,
                                     amount, period, num,   den,  NULL};
    struct cli_record_out rec;
    struct cli_check c;
    if (cli_check_record(ctx, &in, &rec, &c) != 0) {
        code = cli_check_say("record", &c);
        goto out;
    }
    struct ntm_error err = {0};
    /* The files are checked before anything is signed. */
    if (attach.count && (code = cli_attach_check(ctx, "record", NULL, &attach,
                                                 keep, &att)) != EXIT_OK)
        goto out;
    char id[NTM_RECORD_ID_LEN + 1];
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_record_create(ctx->store, ctx->key, kind, unit, rec.org, rec.fields,
                          id, &res, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot record"));
        goto out;
    }
    cli_warn_record_time(ctx, activity ? rec.date : NULL,
                         activity ? NULL : rec.period);
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
    cli_record_out_release(&rec);
    cli_attach_free(att, attach.count);
    cli_list_release(&attach);
    return code;
}
