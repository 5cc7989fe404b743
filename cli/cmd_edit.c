/* SPDX-License-Identifier: MIT */
/*
 * cmd_edit.c - ntm edit: change fields of a record (record.update with
 * base = the record's current heads on this replica, SPEC.md section 5).
 * Values are checked like 'ntm record' checks them before signing: each
 * one, then the record as it would stand against the plan's data
 * dictionary (ntm_plan_check_record).
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm edit - change fields of a record"),
    "ntm edit <id> --set <field>=<value>...",
    N_("Signs a record.update that sets the given fields. It names the\n"
       "record's current heads as its base, so it wins over every change this\n"
       "replica holds; a change made elsewhere at the same time to the same\n"
       "field becomes a conflict (see 'ntm conflicts'), one to another field\n"
       "simply merges. <id> may be the first 6 or more characters of the id.\n"
       "\n"
       "Fields: task, date, qty, uom, title, note, people, amount_vnd "
       "(activity);\n"
       "task, period, num, den (measure). Other names are kept as given."),
    NULL, "ntm edit 5d1c0e --set qty=2.5 --set note=\"đo lại\""};

int
cmd_edit(int argc, char **argv, struct cli_ctx *ctx)
{
    struct cli_list sets = {0};
    const struct cli_option opts[] = {
        {CLI_OPT_LIST, "set", &sets, "<field>=<value>", N_("the new value")},
        CLI_OPT_END_MARK};
    int nargs, code;
    json_t *set = NULL;
    if (cli_parse("edit", argc, argv, opts, &help, &nargs, &code) != 0)
        goto out;
    code = EXIT_USAGE;
    if (nargs != 1) {
        code = nargs ? cli_usage_error("edit", _("unexpected argument '%s'"),
                                       argv[1])
                     : cli_usage_error("edit", _("missing the record id"));
        goto out;
    }
    if (sets.count == 0) {
        code = cli_usage_error("edit", _("nothing to change: give --set "
                                         "FIELD=VALUE"));
        goto out;
    }
    set = cli_parse_set("edit", &sets);
    if (!set)
        goto out;
    struct ntm_error err = {0};
    const char *task = json_string_value(json_object_get(set, "task"));
    if (task &&
        ntm_plan_check_task(ctx->plan, task, NULL, NULL, &err) != NTM_OK) {
        cli_fail(&err, NULL);
        goto out;
    }
    char id[NTM_RECORD_ID_LEN + 1];
    json_t *rec = NULL;
    if ((code = cli_find_record(ctx, "edit", argv[0], id, &rec)) != EXIT_OK)
        goto out;
    /* the record as the edit leaves it, against the data dictionary */
    json_t *after = json_deep_copy(json_object_get(rec, "fields"));
    if (!after)
        after = json_object();
    if (!after || json_object_update(after, set)) {
        json_decref(after);
        json_decref(rec);
        code = cli_print_json(NULL);
        goto out;
    }
    enum ntm_err rc = ntm_plan_check_record(
        ctx->plan, json_string_value(json_object_get(rec, "kind")), after, NULL,
        NULL, &err);
    json_decref(after);
    json_decref(rec);
    if (rc != NTM_OK) {
        char text[2 * NTM_ERROR_SIZE];
        code = cli_usage_error("edit", "%s",
                               cli_error_text(&err, text, sizeof(text)));
        goto out;
    }
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_record_update(ctx->store, ctx->key, id, set, &res, &err) !=
        NTM_OK) {
        code = cli_fail(&err, _("cannot edit the record"));
        goto out;
    }
    cli_warn_record_time(ctx, json_string_value(json_object_get(set, "date")),
                         json_string_value(json_object_get(set, "period")));
    if (ctx->json) {
        code =
            cli_print_json(json_pack("{s:s, s:s}", "entry", res.id, "id", id));
    } else {
        printf(_("edited %s\nentry %s\n"), id, res.id);
        code = EXIT_OK;
    }
out:
    json_decref(set);
    cli_list_release(&sets);
    return code;
}
