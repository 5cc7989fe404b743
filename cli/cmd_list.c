/* SPDX-License-Identifier: MIT */
/*
 * cmd_list.c - ntm list: the records of this replica, filtered, as a
 * table aligned by display width (Vietnamese text is wider in bytes than
 * on screen) or as the JSON array of SPEC.md section 8.
 *
 * TEXT matches titles, notes, the unit code and the names of the unit and
 * of every unit above it, ignoring case and Vietnamese diacritics, so
 * "thanh duc" finds the records of every hamlet of Thạnh Đức.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm list - list and search records"),
    "ntm list [<text>] [--unit <unit>] [--org <org>] [--task <task>]\n"
    "         [--state <state>] [--kind <kind>] [--conflicts] [--deleted]",
    N_("Lists the records this replica holds, oldest first. <text> searches\n"
       "titles, notes and unit names (the unit's and those above it), "
       "ignoring\n"
       "case and diacritics: \"thanh duc\" finds \"Thạnh Đức\". --unit keeps "
       "the\n"
       "records of that unit and below. --state is a review state: submitted,\n"
       "approved, rejected or has_issues. Deleted records are left out unless\n"
       "--deleted is given.\n"
       "\n"
       "Columns: the id's first 12 characters, the date or period, the unit,\n"
       "the task, the quantity, the review state (with 'conflict' and\n"
       "'deleted' marks) and the title."),
    NULL,
    "ntm list \"thanh duc\"\n"
    "ntm list --unit 72.710 --state submitted\n"
    "ntm list --conflicts --json"};

/* The names of hamlets and other units created by unit.create. */
static json_t *
created_names(struct cli_ctx *ctx)
{
    json_t *units = NULL, *names = json_object();
    struct ntm_error err = {0};
    if (!names || ntm_store_units_created(ctx->store, &units, &err) != NTM_OK)
        return names;
    size_t i;
    json_t *u;
    json_array_foreach (units, i, u) {
        const char *code = json_string_value(json_object_get(u, "code"));
        json_t *name = json_object_get(u, "name");
        if (code && json_is_string(name))
            json_object_set(names, code, name);
    }
    json_decref(units);
    return names;
}

static const char *
unit_name(struct cli_ctx *ctx, json_t *created, const char *code)
{
    const char *n = ntm_plan_unit_name(ctx->plan, code);
    if (!n)
        n = json_string_value(json_object_get(created, code));
    return n;
}

/* Whether folded text occurs in the fold of s. */
static int
fold_has(const char *s, const char *needle)
{
    if (!s)
        return 0;
    char *f = ntm_text_fold(s);
    int hit = f && strstr(f, needle) != NULL;
    ntm_free(f);
    return hit;
}

static int
text_matches(struct cli_ctx *ctx, json_t *created, json_t *rec,
             const char *needle)
{
    json_t *fields = json_object_get(rec, "fields");
    if (fold_has(json_string_value(json_object_get(fields, "title")), needle) ||
        fold_has(json_string_value(json_object_get(fields, "note")), needle) ||
        fold_has(json_string_value(json_object_get(fields, "task")), needle))
        return 1;
    const char *unit = json_string_value(json_object_get(rec, "unit"));
    if (!unit)
        return 0;
    if (fold_has(unit, needle))
        return 1;
    char prefix[128];
    size_t n = strlen(unit);
    if (n >= sizeof(prefix))
        return 0;
    for (size_t i = 1; i <= n; i++) {
        if (i < n && unit[i] != '.')
            continue;
        memcpy(prefix, unit, i);
        prefix[i] = '\0';
        if (fold_has(unit_name(ctx, created, prefix), needle))
            return 1;
    }
    return 0;
}

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
    char *needle = NULL;
    if (nargs == 1 && *argv[0]) {
        needle = ntm_text_fold(argv[0]);
        if (!needle)
            return cli_usage_error("list", _("the search text is not valid "
                                             "UTF-8"));
    }
    struct ntm_error err = {0};
    json_t *all = NULL, *created = NULL, *out = NULL;
    if (ntm_store_records(ctx->store, &f, &all, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot list the records"));
        goto done;
    }
    if (needle) {
        created = created_names(ctx);
        out = json_array();
        size_t i;
        json_t *rec;
        json_array_foreach (all, i, rec) {
            if (text_matches(ctx, created, rec, needle))
                json_array_append(out, rec);
        }
    } else {
        out = json_incref(all);
    }
    if (ctx->json) {
        code = cli_print_json(json_incref(out));
    } else if (json_array_size(out) == 0) {
        cli_note(ctx, "%s",
                 needle || f.unit || f.org || f.task || f.state ||
                         f.conflicts_only
                     ? _("no records match")
                     : _("no records yet"));
        code = EXIT_OK;
    } else {
        print_table(ctx, out);
        code = EXIT_OK;
    }
done:
    json_decref(out);
    json_decref(all);
    json_decref(created);
    ntm_free(needle);
    return code;
}
