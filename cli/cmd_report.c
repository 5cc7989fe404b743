/* SPDX-License-Identifier: MIT */
/*
 * cmd_report.c - ntm report: progress against every numeric target of
 * the plan for a unit and its children, rolled up from everything
 * recorded below them, as a terminal table, CSV, JSON or a printable HTML
 * page. The computation and formats live in plan/ (ntm_report_*).
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm report - progress against the plan's targets"),
    "ntm report [--org <org>] [--unit <unit>] [--year <year> | --as-of "
    "<date>]\n"
    "           [--approved [<level>]] [--format (table | csv | json | "
    "html)]\n"
    "           [--out <file>] [--lang (vi | en)]",
    N_("One row per target, unit and period: the target, what was achieved,\n"
       "the unit of measure and a status (met, on_track, behind, missed,\n"
       "no_data) judged against the deadline and the as-of date. Rows are\n"
       "given for --unit (default the province) and each unit directly below\n"
       "it; each figure adds up everything recorded at or below that unit\n"
       "(sums add, ratios add numerators and denominators, per-unit targets\n"
       "count the units that meet them).\n"
       "\n"
       "The province is judged against the plan's figures. A unit below it\n"
       "is judged against the plan's own per-unit figure (each ward/town,\n"
       "each district, each commune), against the plan's rate for ratios,\n"
       "and otherwise against its pro-rata share of the plan's figure by\n"
       "number of communes (marked *); every such row also shows its share\n"
       "of the province's achievement. The legend at the top of the report\n"
       "says so.\n"
       "\n"
       "The report uses the tree in force on the as-of date: records of a\n"
       "merged unit count under the unit that absorbed it, under today's\n"
       "names. Deleted records and entries of revoked devices never count.\n"
       "\n"
       "--year keeps one year's periods and judges them at the year's end;\n"
       "--as-of judges everything on that day (default today). --approved\n"
       "counts only records whose review is 'approved', by a reviewer at\n"
       "<level> (hamlet, commune, district, province) or above. CSV is UTF-8\n"
       "with a byte order mark, for spreadsheets. HTML is one self-contained\n"
       "file with charts, to print or send. --json is --format json. Labels\n"
       "follow --lang (given to the command or to ntm), else LANG:\n"
       "Vietnamese when it starts with vi, English otherwise."),
    NULL,
    "ntm report --year 2018\n"
    "ntm report --org doan --unit 72.710 --format csv --out doan.csv\n"
    "ntm report --approved district --format html --out report.html"};

static int
is_level(const char *s)
{
    return !strcmp(s, "hamlet") || !strcmp(s, "commune") ||
           !strcmp(s, "district") || !strcmp(s, "province");
}

int
cmd_report(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *org = NULL, *unit = NULL, *as_of = NULL, *format = NULL;
    const char *out = NULL, *lang = ctx->lang, *level = NULL;
    int64_t year = 0;
    int approved = 0, nargs = 0, code = EXIT_OK, n = 0, i;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "org", &org, "<org>", N_("only this organization")},
        {CLI_OPT_STRING, "unit", &unit, "<unit>",
         N_("this unit and its children (default the province)")},
        {CLI_OPT_INT, "year", &year, "<year>", N_("only this year's periods")},
        {CLI_OPT_STRING, "as-of", &as_of, "<date>",
         N_("judge on this day (YYYY-MM-DD, default today)")},
        {CLI_OPT_FLAG, "approved", &approved, "[<level>]",
         N_("only approved records (at <level> or above)")},
        {CLI_OPT_STRING, "format", &format, "<format>",
         N_("table, csv, json or html (default table)")},
        {CLI_OPT_STRING, "out", &out, "<file>",
         N_("write to this file instead of standard output")},
        {CLI_OPT_STRING, "lang", &lang, "<lang>", N_("vi or en labels")},
        CLI_OPT_END_MARK};
    struct ntm_report_opts ro = {0};
    enum ntm_report_format fmt = NTM_REPORT_TABLE;
    struct ntm_report *rep = NULL;
    struct ntm_buf b = NTM_BUF_INIT;
    struct ntm_error err = {0};
    char **args;

    /* --approved takes an optional level, which cli_parse cannot say */
    args = ntm_calloc((size_t)argc + 1, sizeof(*args));
    if (!args) {
        cli_error("%s", _("out of memory"));
        return EXIT_FAIL;
    }
    for (i = 0; i < argc; i++) {
        if (i > 0 && !strncmp(argv[i], "--approved=", 11)) {
            approved = 1;
            level = argv[i] + 11;
        } else if (i > 0 && !strcmp(argv[i], "--approved")) {
            approved = 1;
            if (i + 1 < argc && is_level(argv[i + 1]))
                level = argv[++i];
        } else {
            args[n++] = argv[i];
        }
    }
    if (cli_parse("report", n, args, opts, &help, &nargs, &code))
        goto done;
    code = EXIT_USAGE;
    if (nargs > 0) {
        cli_usage_error("report", _("unexpected argument '%s'"), args[0]);
        goto done;
    }
    if (year && as_of) {
        cli_usage_error("report", "%s",
                        _("--year and --as-of cannot be combined"));
        goto done;
    }
    if (level && !is_level(level)) {
        cli_usage_error("report",
                        _("unknown review level '%s': use hamlet, commune, "
                          "district or province"),
                        level);
        goto done;
    }
    if (lang && strcmp(lang, "vi") && strcmp(lang, "en")) {
        cli_usage_error("report", _("unknown language '%s': use vi or en"),
                        lang);
        goto done;
    }
    if (year && (year < 1900 || year > 9999)) {
        cli_usage_error("report", _("bad year %lld: use a year such as 2018"),
                        (long long)year);
        goto done;
    }
    /* 31/12/2018 as well as 2018-12-31; a form that reads two ways is
     * refused by cli_input, anything else by the check below */
    char as_of_in[16];
    enum ntm_human_parse pr =
        as_of
            ? ntm_human_parse_date(cli_lang_vi() ? "vi" : "en", as_of, as_of_in)
            : NTM_HUMAN_BAD;
    if (pr == NTM_HUMAN_AMBIGUOUS) {
        cli_input("report", "date", as_of, as_of_in, sizeof(as_of_in));
        goto done;
    }
    if (pr == NTM_HUMAN_OK)
        as_of = as_of_in;
    if (as_of && !ntm_date_valid(as_of)) {
        cli_usage_error("report",
                        _("invalid --as-of date '%s': give a real calendar "
                          "date as YYYY-MM-DD, e.g. 2018-12-31"),
                        as_of);
        goto done;
    }
    if (ctx->json && !format)
        format = "json";
    if (!format || !strcmp(format, "table"))
        fmt = NTM_REPORT_TABLE;
    else if (!strcmp(format, "csv"))
        fmt = NTM_REPORT_CSV;
    else if (!strcmp(format, "json"))
        fmt = NTM_REPORT_JSON;
    else if (!strcmp(format, "html"))
        fmt = NTM_REPORT_HTML;
    else {
        cli_usage_error("report",
                        _("unknown format '%s': use table, csv, json or html"),
                        format);
        goto done;
    }
    ro.org = org;
    ro.unit = unit;
    ro.year = (int)year;
    ro.as_of = as_of;
    ro.approved = approved;
    ro.approved_level = level;
    if (ntm_report_run(ctx->plan, ctx->store, &ro, &rep, &err) != NTM_OK) {
        char text[2 * NTM_ERROR_SIZE];
        code = err.code == NTM_EINVAL
                   ? cli_usage_error("report", "%s",
                                     cli_error_text(&err, text, sizeof(text)))
                   : cli_fail(&err, _("cannot compute the report"));
        goto done;
    }
    if (ntm_report_format(rep, fmt, lang, &b, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot write the report"));
        goto done;
    }
    code = EXIT_OK;
    if (out) {
        if (ntm_file_write_atomic(out, b.buf ? b.buf : "", b.len, 0644, &err) !=
            NTM_OK)
            code = cli_fail(&err, _("cannot write the report file"));
    } else {
        /* CSV, JSON and HTML are bytes for a program: escaped already
         * (JSON, HTML) or quoted cells with CRLF lines (CSV). The table
         * goes through the text filter like every other output. */
        if (fmt != NTM_REPORT_TABLE)
            cli_output_raw();
    }
    if (code == EXIT_OK && !out &&
        (fwrite(b.buf ? b.buf : "", 1, b.len, stdout) != b.len ||
         fflush(stdout) != 0)) {
        cli_error("%s", _("cannot write the report to standard output"));
        code = EXIT_FAIL;
    }
done:
    ntm_buf_release(&b);
    ntm_report_free(rep);
    ntm_free(args);
    return code;
}
