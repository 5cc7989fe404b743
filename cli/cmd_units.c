/* SPDX-License-Identifier: MIT */
/*
 * cmd_units.c - ntm units: the administrative unit tree (province,
 * districts, communes from config/, hamlets created by unit.create),
 * searched ignoring case and diacritics. Runs without a home (then only
 * the configured units are shown).
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm units - show and search the unit tree"),
    "ntm units [<text>] [--under <unit>] [--date <date>] [--all]",
    N_("Shows the unit tree with its dotted codes (72, 72.705, 72.705.25486,\n"
       "and hamlets below their commune), indented by level, with the names\n"
       "in force on --date (default today). <text> keeps units whose name\n"
       "(today's or a former one) or code contains it, ignoring case and\n"
       "diacritics: \"tan bien\" finds \"Huyện Tân Biên\". --under keeps\n"
       "that unit and those below it. Units no longer in force (merged) are\n"
       "shown only with --all or when searched for."),
    NULL,
    "ntm units\n"
    "ntm units \"phuoc luu\"\n"
    "ntm units --under 72.712 --date 2019-12-31"};

static int
depth_of(const char *code)
{
    int d = 0;
    for (; *code; code++)
        d += *code == '.';
    return d;
}

int
cmd_units(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *under = NULL, *date = NULL;
    int all = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "under", &under, "<unit>",
         N_("only this unit and the units below it")},
        {CLI_OPT_STRING, "date", &date, "<date>",
         N_("names and validity on this day (YYYY-MM-DD, default today)")},
        {CLI_OPT_FLAG, "all", &all, NULL, N_("also units no longer in force")},
        CLI_OPT_END_MARK};
    struct ntm_error err = {0};
    const char *text = NULL;
    json_t *units = NULL, *u;
    int nargs = 0, code = EXIT_OK;
    size_t i;

    if (cli_parse("units", argc, argv, opts, &help, &nargs, &code))
        return code;
    if (nargs > 1)
        return cli_usage_error("units", _("give one search text, not %d"),
                               nargs);
    if (nargs == 1)
        text = argv[0];
    /* 31/12/2019 as well as 2019-12-31 */
    char date_in[16];
    if (date && ntm_human_parse_date(cli_lang_vi() ? "vi" : "en", date,
                                     date_in) == NTM_HUMAN_OK)
        date = date_in;
    if (ntm_plan_units(ctx->plan, ctx->store, text, under, date, &units,
                       &err) != NTM_OK)
        return cli_fail(&err, _("cannot list the units"));
    if (ctx->json)
        return cli_print_json(units);
    json_array_foreach (units, i, u) {
        const char *c = json_string_value(json_object_get(u, "code"));
        int in_force = json_is_true(json_object_get(u, "in_force"));
        const char *merged =
            json_string_value(json_object_get(u, "merged_into"));
        if (!in_force && !all && !text)
            continue;
        printf("%*s%-*s %s", 2 * depth_of(c), "", 24 - 2 * depth_of(c), c,
               json_string_value(json_object_get(u, "name")));
        if (!in_force && merged) {
            char until[16];
            cli_human_date(json_string_value(json_object_get(u, "valid_to")),
                           until, sizeof(until));
            /* TRANSLATORS: after a unit's code and name: the unit it was
               merged into and its last day in force. */
            printf(_("  (merged into %s after %s)"), merged, until);
        } else if (!in_force) {
            printf("  %s", _("(not in force)"));
        }
        if (json_is_true(json_object_get(u, "conflict"))) {
            /* TRANSLATORS: after a created unit's name: several names were
               given to it concurrently; followed by every one. */
            printf("  %s", _("(name in conflict:"));
            size_t k;
            json_t *cand;
            json_array_foreach (json_object_get(u, "candidates"), k, cand)
                printf(" \"%s\"",
                       json_string_value(json_object_get(cand, "name")));
            printf(" - %s)", _("resolve with 'ntm admin unit'"));
        }
        putchar('\n');
    }
    json_decref(units);
    if (fflush(stdout) != 0) {
        cli_error("%s", _("cannot write the units to standard output"));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
