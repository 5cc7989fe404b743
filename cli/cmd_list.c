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
 *
 * A listing streams from the store (ntm_store_records_each): a table is
 * read twice (its columns' widths, then its rows), --json once, and no
 * more than one record is held at a time; a search holds its page.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
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

/* A listing as it streams: the table's column widths (a first pass),
 * then its rows (a second), or the JSON array's items; rows past limit
 * only tell that more match. */
struct lister {
    const struct cli_ctx *ctx;
    enum { MEASURE, PRINT, JSON } mode;
    size_t width[NCOLS];
    struct ntm_buf cells[NCOLS];
    size_t n, limit; /* rows seen; shown at most (0: all) */
    int more, bad;
};

static int
list_row(void *ud, json_t *rec)
{
    struct lister *l = ud;
    if (l->limit && l->n >= l->limit) {
        l->more = 1;
        return 1;
    }
    l->n++;
    if (l->mode == JSON) {
        /* an item of the array json_dumps would print, indented once */
        char *t = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (!t) {
            l->bad = 1;
            return 1;
        }
        fputs(l->n > 1 ? ",\n  " : "[\n  ", stdout);
        for (const char *c = t; *c; c++) {
            fputc(*c, stdout);
            if (*c == '\n')
                fputs("  ", stdout);
        }
        free(t); /* jansson's allocator */
        return ferror(stdout) ? (l->bad = 1) : 0;
    }
    row_cells(l->ctx, rec, l->cells);
    for (int c = 0; c < NCOLS; c++) {
        if (l->mode == MEASURE) {
            size_t w = ntm_text_width(ntm_buf_str(&l->cells[c]));
            if (w > l->width[c])
                l->width[c] = w;
        } else if (c < NCOLS - 1)
            print_cell(ntm_buf_str(&l->cells[c]), l->width[c]);
        else
            printf("%s\n", ntm_buf_str(&l->cells[c]));
        ntm_buf_reset(&l->cells[c]);
    }
    return 0;
}

static void
print_head(struct lister *l)
{
    static const char *const heads_en[NCOLS] = {
        N_("ID"),  N_("DATE"),  N_("UNIT"), N_("TASK"),
        N_("QTY"), N_("STATE"), N_("TITLE")};
    for (int c = 0; c < NCOLS - 1; c++)
        print_cell(_(heads_en[c]), l->width[c]);
    printf("%s\n", _(heads_en[NCOLS - 1]));
}

static void
lister_init(struct lister *l, const struct cli_ctx *ctx, size_t limit)
{
    static const char *const heads_en[NCOLS] = {
        N_("ID"),  N_("DATE"),  N_("UNIT"), N_("TASK"),
        N_("QTY"), N_("STATE"), N_("TITLE")};
    memset(l, 0, sizeof(*l));
    l->ctx = ctx;
    l->limit = limit;
    for (int c = 0; c < NCOLS; c++) {
        l->width[c] = ntm_text_width(_(heads_en[c]));
        ntm_buf_init(&l->cells[c]);
    }
}

static void
lister_release(struct lister *l)
{
    for (int c = 0; c < NCOLS; c++)
        ntm_buf_release(&l->cells[c]);
}

/* Feed the records of recs (may be NULL) to list_row. */
static void
list_array(struct lister *l, json_t *recs)
{
    size_t i;
    json_t *rec;
    json_array_foreach (recs, i, rec)
        if (list_row(l, rec))
            break;
}

/* One pass over the records: the store's (f; from a search, the page
 * already read in found) then the waiting ones. */
static enum ntm_err
list_pass(struct lister *l, struct cli_ctx *ctx,
          const struct ntm_record_filter *f, json_t *found, json_t *waiting,
          struct ntm_error *err)
{
    enum ntm_err rc = NTM_OK;
    size_t limit = l->limit;
    l->n = 0;
    l->more = 0;
    if (found)
        list_array(l, found);
    else
        rc = ntm_store_records_each(ctx->store, f, 0, list_row, l, err);
    /* the waiting records are shown beside the page, whatever its size */
    l->limit = 0;
    if (rc == NTM_OK && !l->bad)
        list_array(l, waiting);
    l->limit = limit;
    return rc;
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
    struct lister l;
    size_t nwaiting = 0;
    lister_init(&l, ctx, limit > 0 ? (size_t)limit : 0);
    /* A search's page is read once (it is bounded by --limit); a listing
     * streams from the store, twice for a table (its columns' widths,
     * then its rows), and is never held whole. */
    if (f.text && ntm_store_records(ctx->store, &f, &out, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot search the records"));
        goto done;
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
    }
    l.mode = ctx->json ? JSON : MEASURE;
    if (list_pass(&l, ctx, &f, out, waiting, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot list the records"));
        goto done;
    }
    if (ctx->json) {
        if (!l.bad)
            l.bad = fputs(l.n ? "\n]\n" : "[]\n", stdout) == EOF ||
                    fflush(stdout) != 0;
        if (l.bad) {
            cli_error(_("cannot write the output: %s"), strerror(errno));
            code = EXIT_FAIL;
            goto done;
        }
        code = EXIT_OK;
    } else if (l.n == 0) {
        cli_note(ctx, "%s",
                 f.text || f.unit || f.org || f.task || f.state ||
                         f.conflicts_only
                     ? _("no records match")
                     : _("no records yet"));
        code = EXIT_OK;
    } else {
        print_head(&l);
        l.mode = PRINT;
        if (list_pass(&l, ctx, &f, out, waiting, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot list the records"));
            goto done;
        }
        code = EXIT_OK;
    }
    if (code == EXIT_OK && nwaiting)
        cli_note(ctx,
                 _("%zu of these records wait for this device's enrollment: "
                   "they take effect once an admin enrolls its key %s"),
                 nwaiting, ctx->author);
    if (code == EXIT_OK && l.more)
        cli_note(ctx,
                 _("more records match: add more words, or give --offset "
                   "%lld for the next %lld"),
                 (long long)(offset + limit), (long long)limit);
done:
    lister_release(&l);
    json_decref(out);
    json_decref(waiting);
    json_decref(units);
    ntm_free(names);
    return code;
}
