/* SPDX-License-Identifier: MIT */
/*
 * cmd_list.c - ntm list: the records of this replica, filtered, as a
 * table aligned by display width (Vietnamese text is wider in bytes than
 * on screen) or as the JSON array of SPEC.md section 8.
 *
 * TEXT is a word search through the store's index (ntm_store_records):
 * every word, in any order, in titles, notes, the unit code or the names
 * of the unit and of every unit above it (the plan's tree and the hamlets
 * created in the store), ignoring case and Vietnamese diacritics, the
 * last word as the start of a word; ranked by relevance, then date. So
 * "thanh duc" finds the records of every hamlet of Thạnh Đức and "ben d"
 * those of ấp Bến Đình. A device not yet enrolled also lists its own
 * records that wait for its enrollment, marked so.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm list - list and search records"),
    "ntm list [<text>] [--unit <unit>] [--org <org>] [--task <task>]\n"
    "         [--state <state>] [--kind <kind>] [--conflicts] [--deleted]",
    N_("Lists the records this replica holds, oldest first. <text> searches\n"
       "by words: every word, in any order, in titles, notes and unit names\n"
       "(the unit's and those above it), ignoring case and diacritics, the\n"
       "last word may be cut short: \"sua duong ben d\" finds \"Sửa chữa "
       "đường\n"
       "đất ấp Bến Đình\". Results are ranked, best first; a search shows "
       "100 at\n"
       "most unless --limit says otherwise, --offset skips the first ones.\n"
       "--unit keeps the records of that unit and below. --state is a review\n"
       "state: submitted, approved, rejected or has_issues. Deleted records\n"
       "are left out unless --deleted is given. On a device not enrolled yet,\n"
       "its own records that wait for the enrollment are listed too, marked\n"
       "'waiting' (\"waiting\": true in JSON).\n"
       "\n"
       "Columns: the id's first 12 characters, the date or period, the unit,\n"
       "the task, the quantity, the review state (with 'conflict',\n"
       "'deleted' and 'waiting' marks) and the title."),
    NULL,
    "ntm list \"thanh duc\"\n"
    "ntm list \"sua duong ben d\"\n"
    "ntm list --unit 72.710 --state submitted\n"
    "ntm list --conflicts --json"};

/* Results of a search when --limit is not given. */
#define SEARCH_LIMIT 100

static void
print_cell(const char *s, size_t width)
{
    fputs(s, stdout);
    size_t w = ntm_text_width(s);
    for (; w < width + 2; w++)
        fputc(' ', stdout);
}

#define NCOLS 7

static void
row_cells(const struct cli_ctx *ctx, json_t *rec, struct ntm_buf cells[NCOLS])
{
    json_t *f = json_object_get(rec, "fields");
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *date = json_string_value(json_object_get(f, "date"));
    if (!date)
        date = json_string_value(json_object_get(f, "period"));
    const char *qty = json_string_value(json_object_get(f, "qty"));
    const char *uom = json_string_value(json_object_get(f, "uom"));
    const char *review = json_string_value(json_object_get(rec, "review"));
    const char *title = json_string_value(json_object_get(f, "title"));
    ntm_buf_addf(&cells[0], "%.12s", id ? id : "?");
    char human[64];
    cli_human_date(date ? date : "-", human, sizeof(human));
    ntm_buf_adds(&cells[1], human);
    ntm_buf_adds(&cells[2],
                 json_string_value(json_object_get(rec, "unit"))
                     ? json_string_value(json_object_get(rec, "unit"))
                     : "?");
    ntm_buf_adds(&cells[3], json_string_value(json_object_get(f, "task"))
                                ? json_string_value(json_object_get(f, "task"))
                                : "-");
    if (qty) {
        cli_human_decimal(qty, human, sizeof(human));
        ntm_buf_addf(&cells[4], "%s %s", human,
                     uom ? ntm_plan_uom_label(ctx->plan, uom, ctx->lang) : "");
    } else if (json_is_integer(json_object_get(f, "num")))
        ntm_buf_addf(&cells[4], "%lld/%lld",
                     (long long)json_integer_value(json_object_get(f, "num")),
                     (long long)json_integer_value(json_object_get(f, "den")));
    else
        ntm_buf_adds(&cells[4], "-");
    ntm_buf_adds(&cells[5],
                 cli_label(NTM_LABEL_STATE, review ? review : "submitted"));
    if (json_is_true(json_object_get(rec, "conflict")))
        ntm_buf_addf(&cells[5], ",%s", cli_label(NTM_LABEL_MARK, "conflict"));
    if (json_is_true(json_object_get(rec, "deleted")))
        ntm_buf_addf(&cells[5], ",%s", cli_label(NTM_LABEL_MARK, "deleted"));
    if (json_is_true(json_object_get(rec, "waiting"))) {
        ntm_buf_adds(&cells[5], ",");
        ntm_buf_adds(&cells[5], _("waiting"));
    }
    ntm_buf_adds(&cells[6], title ? title : "");
}

static void
print_table(const struct cli_ctx *ctx, json_t *recs)
{
    static const char *const heads_en[NCOLS] = {
        N_("ID"),  N_("DATE"),  N_("UNIT"), N_("TASK"),
        N_("QTY"), N_("STATE"), N_("TITLE")};
    const char *heads[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        heads[c] = _(heads_en[c]);
    size_t width[NCOLS];
    struct ntm_buf cells[NCOLS];
    for (int c = 0; c < NCOLS; c++) {
        width[c] = ntm_text_width(heads[c]);
        ntm_buf_init(&cells[c]);
    }
    size_t i;
    json_t *rec;
    json_array_foreach (recs, i, rec) {
        row_cells(ctx, rec, cells);
        for (int c = 0; c < NCOLS; c++) {
            size_t w = ntm_text_width(ntm_buf_str(&cells[c]));
            if (w > width[c])
                width[c] = w;
            ntm_buf_reset(&cells[c]);
        }
    }
    for (int c = 0; c < NCOLS - 1; c++)
        print_cell(heads[c], width[c]);
    printf("%s\n", heads[NCOLS - 1]);
    json_array_foreach (recs, i, rec) {
        row_cells(ctx, rec, cells);
        for (int c = 0; c < NCOLS - 1; c++)
            print_cell(ntm_buf_str(&cells[c]), width[c]);
        printf("%s\n", ntm_buf_str(&cells[NCOLS - 1]));
        for (int c = 0; c < NCOLS; c++)
            ntm_buf_reset(&cells[c]);
    }
    for (int c = 0; c < NCOLS; c++)
        ntm_buf_release(&cells[c]);
}

int
cmd_list(int argc, char **argv, struct cli_ctx *ctx)
{
    struct ntm_record_filter f;
    memset(&f, 0, sizeof(f));
    int64_t limit = -1, offset = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "unit", &f.unit, "<unit>",
         N_("only records of this unit and below")},
        {CLI_OPT_STRING, "org", &f.org, "<org>",
         N_("only records of this organization")},
        {CLI_OPT_STRING, "task", &f.task, "<task>", N_("only this task")},
        {CLI_OPT_STRING, "state", &f.state, "<state>",
         N_("review state: submitted, approved, rejected, has_issues (or "
            "their labels: \"đã duyệt\", đã-duyệt)")},
        {CLI_OPT_STRING, "kind", &f.kind, "<kind>",
         N_("activity or measure (or their labels)")},
        {CLI_OPT_FLAG, "conflicts", &f.conflicts_only, NULL,
         N_("only records with a conflict")},
        {CLI_OPT_FLAG, "deleted", &f.include_deleted, NULL,
         N_("also deleted records")},
        {CLI_OPT_INT, "limit", &limit, "<n>",
         N_("at most n records (a search shows 100 unless told)")},
        {CLI_OPT_INT, "offset", &offset, "<n>",
         N_("skip the first n records (the next page)")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("list", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 1)
        return cli_usage_error("list",
                               _("give the search text as one argument "
                                 "(quote it): '%s %s'"),
                               argv[0], argv[1]);
    /* --state and --kind: the identifier or its label, either language. */
    if (f.state && !(f.state = cli_parse_label("list", NTM_LABEL_STATE,
                                               "--state", f.state)))
        return EXIT_USAGE;
    if (f.kind &&
        !(f.kind = cli_parse_label("list", NTM_LABEL_KIND, "--kind", f.kind)))
        return EXIT_USAGE;
    if ((limit != -1 && limit < 1) || offset < 0)
        return cli_usage_error("list", _("--limit takes a number of records "
                                         "from 1, --offset from 0"));
    json_t *units = NULL;
    struct ntm_unit_name *names = NULL;
    if (nargs == 1 && *argv[0]) {
        f.text = argv[0];
        cli_unit_names(ctx, &units, &names);
        f.text_names = names;
        if (limit == -1)
            limit = SEARCH_LIMIT;
    }
    /* One more than shown: whether a next page exists. */
    f.limit = limit > 0 ? (size_t)limit + 1 : 0;
    f.offset = (size_t)offset;
    struct ntm_error err = {0};
    json_t *out = NULL, *waiting = NULL;
    int more = 0;
    size_t nwaiting = 0;
    if (ntm_store_records(ctx->store, &f, &out, &err) != NTM_OK) {
        code = cli_fail(&err, f.text ? _("cannot search the records")
                                     : _("cannot list the records"));
        goto done;
    }
    if (limit > 0 && json_array_size(out) > (size_t)limit) {
        more = 1;
        json_array_remove(out, (size_t)limit);
    }
    /* This device's own records, written before its enrollment: they
     * have no effect yet, so the store's state does not hold them. */
    struct ntm_enrollment enr;
    if (offset == 0 && ctx->author[0] &&
        ntm_store_enrollment(ctx->store, ctx->author, 0, &enr, NULL) ==
            NTM_OK &&
        !enr.enrolled) {
        if (ntm_store_records_waiting(ctx->store, ctx->author, &f, &waiting,
                                      &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot list the records"));
            goto done;
        }
        nwaiting = json_array_size(waiting);
        json_array_extend(out, waiting);
    }
    if (ctx->json) {
        code = cli_print_json(json_incref(out));
    } else if (json_array_size(out) == 0) {
        cli_note(ctx, "%s",
                 f.text || f.unit || f.org || f.task || f.state ||
                         f.conflicts_only
                     ? _("no records match")
                     : _("no records yet"));
        code = EXIT_OK;
    } else {
        print_table(ctx, out);
        code = EXIT_OK;
    }
    if (code == EXIT_OK && nwaiting)
        cli_note(ctx,
                 _("%zu of these records wait for this device's enrollment: "
                   "they take effect once an admin enrolls its key %s"),
                 nwaiting, ctx->author);
    if (code == EXIT_OK && more)
        cli_note(ctx,
                 _("more records match: add more words, or give --offset "
                   "%lld for the next %lld"),
                 (long long)(offset + limit), (long long)limit);
done:
    json_decref(out);
    json_decref(waiting);
    json_decref(units);
    ntm_free(names);
    return code;
}
