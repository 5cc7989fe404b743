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

/* --with-photos: the photos of the records the report covers (its unit
 * and below, its organization), each the stored, already shrunk file
 * checked against its hash, as a data: URI with the record's title, unit,
 * date and the caption. Photos the home lacks are left out (fetch them:
 * ntm attachment get, or pull with attach_fetch "eager"). */
struct photos {
    struct cli_ctx *ctx;
    const char *lang, *dir;
    struct ntm_buf *b;
    int64_t count, bytes;
    enum ntm_err rc;
};

static int
photos_of(void *ud, json_t *rec)
{
    struct photos *p = ud;
    json_t *att = NULL;
    struct ntm_error err = {0};
    const char *id = json_string_value(json_object_get(rec, "id"));
    if (!id || ntm_store_attachments(p->ctx->store, id, &att, &err) != NTM_OK)
        return 0;
    json_t *fields = json_object_get(rec, "fields");
    size_t i;
    json_t *a;
    json_array_foreach (att, i, a) {
        const char *hash = json_string_value(json_object_get(a, "hash"));
        const char *type = json_string_value(json_object_get(a, "type"));
        int64_t size = 0;
        if (!hash || !type ||
            (strcmp(type, "image/jpeg") && strcmp(type, "image/png")) ||
            ntm_blob_check(p->dir, hash, &size, NULL) != NTM_OK || size < 1 ||
            size > NTM_ATTACH_MAX_BYTES)
            continue;
        unsigned char *buf = ntm_malloc((size_t)size);
        char *b64 = ntm_malloc(ntm_b64_encoded_len((size_t)size));
        size_t got = 0;
        if (!buf || !b64 ||
            ntm_blob_read(p->dir, hash, 0, buf, (size_t)size, &got, NULL) !=
                NTM_OK ||
            got != (size_t)size ||
            strcmp(ntm_attach_sniff(buf, got) ? ntm_attach_sniff(buf, got) : "",
                   type)) {
            ntm_free(buf);
            ntm_free(b64);
            continue;
        }
        ntm_b64_encode(b64, buf, got);
        ntm_free(buf);
        const char *title = json_string_value(json_object_get(fields, "title"));
        const char *date = json_string_value(json_object_get(fields, "date"));
        const char *cap = json_string_value(json_object_get(a, "caption"));
        struct ntm_buf *b = p->b;
        enum ntm_err rc = ntm_buf_addf(
            b,
            "<figure data-record=\"%s\" data-hash=\"%s\"><img src=\"data:%s;"
            "base64,%s\" alt=\"",
            id, hash, type, b64);
        ntm_free(b64);
        if (!rc)
            rc = ntm_buf_add_html(
                b, json_string_value(json_object_get(a, "name")));
        if (!rc)
            rc = ntm_buf_adds(b, "\"><figcaption>");
        if (!rc && title)
            rc = ntm_buf_add_html(b, title);
        if (!rc)
            rc = ntm_buf_adds(b, " &middot; ");
        if (!rc)
            rc = ntm_buf_add_html(
                b, json_string_value(json_object_get(rec, "unit")));
        if (!rc && date) {
            rc = ntm_buf_adds(b, " &middot; ");
            if (!rc)
                rc = ntm_buf_add_html(b, date);
        }
        if (!rc && cap && *cap) {
            rc = ntm_buf_adds(b, "<br>");
            if (!rc)
                rc = ntm_buf_add_html(b, cap);
        }
        if (!rc)
            rc = ntm_buf_adds(b, "</figcaption></figure>\n");
        if (rc) {
            p->rc = rc;
            json_decref(att);
            return 1;
        }
        p->count++;
        p->bytes += size;
    }
    json_decref(att);
    return 0;
}

static enum ntm_err
photos_appendix(struct cli_ctx *ctx, const char *org, const char *unit,
                const char *lang, struct ntm_buf *b, struct ntm_error *err)
{
    char *dir = cli_home_path(ctx, "attachments");
    if (!dir)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    struct ntm_record_filter f;
    memset(&f, 0, sizeof f);
    f.unit = unit;
    f.org = org;
    const char *hl = lang && !strcmp(lang, "en") ? "en" : "vi";
    struct photos p = {ctx, hl, dir, b, 0, 0, NTM_OK};
    enum ntm_err rc =
        ntm_buf_addf(b, "<section class=\"photos\" id=\"photos\"><h2>%s</h2>\n",
                     ntm_tr(hl, N_("Photos of the records")));
    if (rc == NTM_OK)
        rc = ntm_store_records_each(ctx->store, &f, NTM_RECORDS_BRIEF,
                                    photos_of, &p, err);
    if (rc == NTM_OK && p.rc)
        rc = ntm_error_set(err, p.rc, "out of memory");
    if (rc == NTM_OK && p.count == 0)
        rc = ntm_buf_addf(b, "<p>%s</p>\n",
                          ntm_tr(hl, N_("No photo of these records is on "
                                        "this device.")));
    if (rc == NTM_OK)
        rc = ntm_buf_adds(b, "</section>\n");
    ntm_free(dir);
    return rc == NTM_ENOMEM ? ntm_error_set(err, rc, "out of memory") : rc;
}

int
cmd_report(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *org = NULL, *unit = NULL, *as_of = NULL, *format = NULL;
    const char *out = NULL, *lang = ctx->lang, *level = NULL;
    int64_t year = 0;
    int approved = 0, nargs = 0, code = EXIT_OK, n = 0, i, with_photos = 0;
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
        {CLI_OPT_FLAG, "with-photos", &with_photos, NULL,
         N_("html: embed the records' photos held on this device")},
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
    if (with_photos && fmt != NTM_REPORT_HTML) {
        cli_usage_error("report", "%s",
                        _("--with-photos goes with --format html"));
        goto done;
    }
    if (ntm_report_run(ctx->plan, ctx->store, &ro, &rep, &err) != NTM_OK) {
        char text[2 * NTM_ERROR_SIZE];
        code = err.code == NTM_EINVAL
                   ? cli_usage_error("report", "%s",
                                     cli_error_text(&err, text, sizeof(text)))
                   : cli_fail(&err, _("cannot compute the report"));
        goto done;
    }
    if (with_photos) {
        struct ntm_buf ph = NTM_BUF_INIT;
        enum ntm_err rc = photos_appendix(ctx, org, unit, lang, &ph, &err);
        if (rc == NTM_OK)
            rc = ntm_report_format_html(rep, lang, ntm_buf_str(&ph), 1, &b,
                                        &err);
        ntm_buf_release(&ph);
        if (rc != NTM_OK) {
            code = cli_fail(&err, _("cannot write the report"));
            goto done;
        }
    } else if (ntm_report_format(rep, fmt, lang, &b, &err) != NTM_OK) {
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
