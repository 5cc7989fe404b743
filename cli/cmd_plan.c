/* SPDX-License-Identifier: MIT */
/*
 * cmd_plan.c - ntm plan: the organizations of the campaign plan, their
 * tasks (kinds of activity to record) and their numeric targets, as read
 * from config/plan-*.json. Runs without a home.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm plan - list the plan's organizations, tasks and targets"),
    "ntm plan [--org <org>]",
    N_("Lists the organizations of the campaign plan, the tasks activities "
       "are\n"
       "recorded against, and every numeric target with its kind, value, "
       "unit\n"
       "of measure, years and deadline. Task and target ids are what\n"
       "'ntm record --task' takes. Labels follow --lang (given before the\n"
       "command), else LANG: Vietnamese when it starts with vi, English\n"
       "otherwise. With --json, the plan as one JSON document."),
    NULL,
    "ntm plan\n"
    "ntm plan --org doan\n"
    "ntm --lang en --json plan --org hccb"};

/* A target's line and its label; value and deadline in the human forms
 * (0,5 and 31/12/2020 in Vietnamese). */
static void
print_target(const struct ntm_plan *plan, json_t *t, int en)
{
    const char *kind = json_string_value(json_object_get(t, "kind"));
    const char *dl = json_string_value(json_object_get(t, "deadline"));
    json_t *years = json_object_get(t, "years");
    double v = json_number_value(json_object_get(t, "value"));
    char num[32], value[48], when[16];

    snprintf(num, sizeof(num), "%g", v);
    cli_human_decimal(num, value, sizeof(value));
    printf("  %-34s ", json_string_value(json_object_get(t, "id")));
    cli_put_padded(stdout, cli_label(NTM_LABEL_TARGET_KIND, kind), 24);
    printf(" %s %s  %d-%d", value,
           ntm_plan_uom_label(plan,
                              json_string_value(json_object_get(t, "uom")),
                              en ? "en" : "vi"),
           (int)json_integer_value(json_array_get(years, 0)),
           (int)json_integer_value(json_array_get(years, 1)));
    if (dl) {
        cli_human_date(dl, when, sizeof(when));
        /* TRANSLATORS: after a target's years, "  deadline 31/12/2020". */
        printf(_("  deadline %s"), when);
    }
    printf("\n      %s\n",
           json_string_value(json_object_get(t, en ? "en" : "vi")));
}

int
cmd_plan(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *org = NULL;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "org", &org, "<org>",
         N_("only this organization (mttq, ldld, hnd, doan, hlhpn, hccb)")},
        CLI_OPT_END_MARK};
    struct ntm_error err = {0};
    json_t *doc = NULL, *o, *x;
    int nargs = 0, code = EXIT_OK, en = ctx->lang && !strcmp(ctx->lang, "en");
    size_t i, j;

    if (cli_parse("plan", argc, argv, opts, &help, &nargs, &code))
        return code;
    if (nargs > 0)
        return cli_usage_error("plan", _("unexpected argument '%s'"), argv[0]);
    if (ntm_plan_describe(ctx->plan, org, &doc, &err) != NTM_OK)
        return cli_fail(&err, _("cannot list the plan"));
    if (ctx->json)
        return cli_print_json(doc);
    char from[16], to[16];
    cli_human_date(json_string_value(json_object_get(doc, "from")), from,
                   sizeof(from));
    cli_human_date(json_string_value(json_object_get(doc, "to")), to,
                   sizeof(to));
    printf("%s\n%s - %s\n",
           json_string_value(json_object_get(json_object_get(doc, "title"),
                                             en ? "en" : "vi")),
           from, to);
    json_array_foreach (json_object_get(doc, "organizations"), i, o) {
        printf("\n%s  %s\n", json_string_value(json_object_get(o, "code")),
               json_string_value(json_object_get(o, en ? "en" : "vi")));
        if (json_array_size(json_object_get(o, "targets")))
            printf(" %s\n", _("targets:"));
        json_array_foreach (json_object_get(o, "targets"), j, x)
            print_target(ctx->plan, x, en);
        if (json_array_size(json_object_get(o, "tasks")))
            printf(" %s\n", _("tasks:"));
        json_array_foreach (json_object_get(o, "tasks"), j, x)
            printf("  %-34s %s\n", json_string_value(json_object_get(x, "id")),
                   json_string_value(json_object_get(x, en ? "en" : "vi")));
    }
    json_decref(doc);
    if (fflush(stdout) != 0) {
        cli_error("%s", _("cannot write the plan to standard output"));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
