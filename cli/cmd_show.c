/* SPDX-License-Identifier: MIT */
/*
 * cmd_show.c - ntm show: one record, its current fields, heads, reviews
 * and conflicts, and its history: every entry that touched it, with its
 * author, time and signature status (SPEC.md section 8).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct cli_help help = {
    N_("ntm show - show a record and its history"), "ntm show <id>",
    N_("Prints the record's fields as this replica sees them, its review "
       "state\n"
       "and heads, then its history in total order: each entry's id, author,\n"
       "seq, time, operation and status ('valid', or why it has no effect:\n"
       "revoked, forbidden, waiting for an enrollment or a base entry).\n"
       "<id> may be the first 6 or more characters of the id."),
    NULL, "ntm show 5d1c0e\nntm show 5d1c0e --json"};

static const char *
str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* The history table, its columns as wide as their heads (measured by
 * display width: the Vietnamese heads are wider) or their values. */
static void
print_history(json_t *history)
{
    enum { ENTRY, AUTHOR, SEQ, TIME, OP, STATUS, NCOL };
    /* The times are in the zone of the times shown: its abbreviation
     * ("+07" for Asia/Ho_Chi_Minh, "UTC") in the head. */
    char zone[16] = "", time_head[64];
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm) || !strftime(zone, sizeof(zone), "%Z", &tm))
        snprintf(zone, sizeof(zone), "?");
    snprintf(time_head, sizeof(time_head), _("TIME (%s)"), zone);
    const char *head[NCOL] = {_("ENTRY"), _("AUTHOR"), _("SEQ"),
                              time_head,  _("OP"),     _("STATUS")};
    /* The values: 12 hex digits, a seq, "dd/mm/yyyy hh:mm:ss", an op
     * (its label: "ghi danh thiết bị" is the widest). */
    size_t width[NCOL] = {12, 12, 5, 19, 17, 0};
    for (int c = 0; c < NCOL; c++)
        if (ntm_text_width(head[c]) > width[c])
            width[c] = ntm_text_width(head[c]);
    fputs("  ", stdout);
    for (int c = 0; c < STATUS; c++) {
        if (c == SEQ)
            fprintf(stdout, "%*s", (int)(width[c] - ntm_text_width(head[c])),
                    "");
        cli_put_padded(stdout, head[c], c == SEQ ? 0 : width[c]);
        fputs("  ", stdout);
    }
    printf("%s\n", head[STATUS]);
    size_t i;
    json_t *h;
    json_array_foreach (history, i, h) {
        char when[32] = "";
        cli_format_time(json_integer_value(json_object_get(h, "ts")), when);
        const char *status = str(h, "status");
        if (!*status)
            status =
                json_is_true(json_object_get(h, "valid")) ? "valid" : "invalid";
        status = cli_label(NTM_LABEL_STATUS, status);
        printf("  %-*.12s  %-*.12s  %*lld  ", (int)width[ENTRY],
               str(h, "entry"), (int)width[AUTHOR], str(h, "author"),
               (int)width[SEQ],
               (long long)json_integer_value(json_object_get(h, "seq")));
        cli_put_padded(stdout, when, width[TIME]);
        fputs("  ", stdout);
        cli_put_padded(stdout, cli_label(NTM_LABEL_OP, str(h, "op")),
                       width[OP]);
        printf("  %s\n", status);
    }
}

/* new: the record's attachments, each with "held" (whether this home has
 * its bytes, complete); NULL when they cannot be read (said). */
static json_t *
attachments(struct cli_ctx *ctx, const char *id)
{
    json_t *att = NULL;
    struct ntm_error err = {0};
    if (ntm_store_attachments(ctx->store, id, &att, &err) != NTM_OK) {
        cli_fail(&err, _("cannot read the record's attachments"));
        return NULL;
    }
    char *dir = cli_home_path(ctx, "attachments");
    size_t i;
    json_t *a;
    json_array_foreach (att, i, a) {
        int64_t held = 0;
        int complete = 0;
        if (dir)
            ntm_blob_held(dir, str(a, "hash"), &held, &complete, &err);
        json_object_set_new(a, "held", json_boolean(complete));
    }
    ntm_free(dir);
    return att;
}

int
cmd_show(int argc, char **argv, struct cli_ctx *ctx)
{
    const struct cli_option opts[] = {CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("show", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs == 0)
        return cli_usage_error("show", _("missing the record id"));
    if (nargs > 1)
        return cli_usage_error("show", _("unexpected argument '%s'"), argv[1]);
    char id[NTM_RECORD_ID_LEN + 1];
    json_t *rec = NULL;
    if ((code = cli_find_record(ctx, "show", argv[0], id, &rec)) != EXIT_OK)
        return code;
    json_t *att = attachments(ctx, id);
    if (ctx->json) {
        json_object_set_new(rec, "attachments", att ? att : json_array());
        return cli_print_json(rec);
    }

    const char *unit = str(rec, "unit");
    const char *uname = ntm_plan_unit_name(ctx->plan, unit);
    printf(_("record   %s\n"), id);
    printf(_("kind     %s\n"), cli_label(NTM_LABEL_KIND, str(rec, "kind")));
    printf(_("unit     %s%s%s%s\n"), unit, uname ? " (" : "",
           uname ? uname : "", uname ? ")" : "");
    printf(_("org      %s\n"), str(rec, "org"));
    int conflict = json_is_true(json_object_get(rec, "conflict"));
    int deleted = json_is_true(json_object_get(rec, "deleted"));
    struct ntm_buf marks = NTM_BUF_INIT;
    if (conflict)
        ntm_buf_addf(&marks, "  (%s)", cli_label(NTM_LABEL_MARK, "conflict"));
    if (deleted)
        ntm_buf_addf(&marks, "  (%s)", cli_label(NTM_LABEL_MARK, "deleted"));
    printf(_("review   %s%s\n"),
           cli_label(NTM_LABEL_STATE,
                     json_string_value(json_object_get(rec, "review"))
                         ? str(rec, "review")
                         : "submitted"),
           marks.len ? ntm_buf_str(&marks) : "");
    ntm_buf_release(&marks);
    const char *k;
    json_t *v;
    printf(_("fields\n"));
    size_t fw = 10; /* the widest field label, at least 10 */
    json_object_foreach (json_object_get(rec, "fields"), k, v)
        if (ntm_text_width(cli_label(NTM_LABEL_FIELD, k)) > fw)
            fw = ntm_text_width(cli_label(NTM_LABEL_FIELD, k));
    json_object_foreach (json_object_get(rec, "fields"), k, v) {
        char human[64];
        fputs("  ", stdout);
        cli_put_padded(stdout, cli_label(NTM_LABEL_FIELD, k), fw);
        fputs(" ", stdout);
        if (json_is_string(v) && (!strcmp(k, "date") || !strcmp(k, "qty"))) {
            if (!strcmp(k, "date"))
                cli_human_date(json_string_value(v), human, sizeof(human));
            else
                cli_human_decimal(json_string_value(v), human, sizeof(human));
            printf("%s\n", human);
        } else if (json_is_string(v) && !strcmp(k, "uom")) {
            printf("%s\n", ntm_plan_uom_label(ctx->plan, json_string_value(v),
                                              ctx->lang));
        } else if (json_is_string(v)) {
            printf("%s\n", json_string_value(v));
        } else if (json_is_integer(v)) {
            cli_human_int(json_integer_value(v), human, sizeof(human));
            printf("%s\n", human);
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            printf("%s\n", s ? s : "?");
            free(s); /* jansson's allocator */
        }
    }
    size_t i;
    json_t *h;
    printf(_("heads   "));
    json_array_foreach (json_object_get(rec, "heads"), i, h)
        printf(" %.12s", json_string_value(h) ? json_string_value(h) : "?");
    printf("\n");
    json_t *reviews = json_object_get(rec, "reviews");
    if (json_array_size(reviews)) {
        printf(_("reviews\n"));
        json_array_foreach (reviews, i, h) {
            char when[32] = "";
            cli_format_time(json_integer_value(json_object_get(h, "ts")), when);
            fputs("  ", stdout);
            cli_put_padded(stdout, cli_label(NTM_LABEL_STATE, str(h, "state")),
                           10);
            fputs(" ", stdout);
            cli_put_padded(stdout, cli_label(NTM_LABEL_LEVEL, str(h, "level")),
                           8);
            printf(_(" by %.12s  %s  %s\n"), str(h, "author"), when,
                   str(h, "comment"));
        }
    }
    if (json_array_size(att)) {
        printf(_("attachments\n"));
        size_t ai;
        json_t *a;
        json_array_foreach (att, ai, a) {
            const char *cap = str(a, "caption");
            printf("  %.12s  %s  %s  %lld B%s%s%s\n", str(a, "hash"),
                   str(a, "name"), str(a, "type"),
                   (long long)json_integer_value(json_object_get(a, "size")),
                   *cap ? "  \"" : "", cap, *cap ? "\"" : "");
            if (!json_is_true(json_object_get(a, "held")))
                printf(_("      not in this home: 'ntm attachment get %.12s "
                         "--out FILE' fetches it\n"),
                       str(a, "hash"));
        }
    }
    json_decref(att);
    printf(_("history\n"));
    print_history(json_object_get(rec, "history"));
    json_decref(rec);
    return EXIT_OK;
}
