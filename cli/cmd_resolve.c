/* SPDX-License-Identifier: MIT */
/*
 * cmd_resolve.c - ntm resolve: a coordinator's merge of a record's
 * conflicts (a record.update whose base names every current head and
 * that sets every conflicting field, SPEC.md section 5).
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm resolve - resolve a record's conflicts"),
    "ntm resolve <id> (--take <entry> | --set <field>=<value>...)",
    N_("Ends the conflicts of a record. --take keeps, for every conflicting\n"
       "field, the value written by that entry (an entry id from 'ntm\n"
       "conflicts', or its first characters); --set gives the values\n"
       "yourself. The change names all current heads, so it wins over every\n"
       "candidate on every replica."),
    NULL,
    "ntm conflicts\n"
    "ntm resolve 5d1c0e --take 9a81f2c4\n"
    "ntm resolve 5d1c0e --set qty=2.5"};

int
cmd_resolve(int argc, char **argv, struct cli_ctx *ctx)
{
    struct cli_list sets = {0};
    const char *take = NULL;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "take", &take, "<entry>",
         N_("keep the values of this candidate entry")},
        {CLI_OPT_LIST, "set", &sets, "<field>=<value>",
         N_("set the field to this value")},
        CLI_OPT_END_MARK};
    int nargs, code;
    json_t *set = NULL;
    if (cli_parse("resolve", argc, argv, opts, &help, &nargs, &code) != 0)
        goto out;
    code = EXIT_USAGE;
    if (nargs != 1) {
        code = nargs ? cli_usage_error("resolve", _("unexpected argument '%s'"),
                                       argv[1])
                     : cli_usage_error("resolve", _("missing the record id"));
        goto out;
    }
    if (!take && sets.count == 0) {
        code = cli_usage_error("resolve", _("say how: --take ENTRY or --set "
                                            "FIELD=VALUE"));
        goto out;
    }
    if (take && sets.count) {
        code = cli_usage_error("resolve", _("--take and --set cannot be used "
                                            "together"));
        goto out;
    }
    if (take && (strlen(take) < 6 || strlen(take) > NTM_HEX_ID_LEN ||
                 !ntm_is_lower_hex(take, strlen(take)))) {
        code = cli_usage_error("resolve",
                               _("invalid entry id '%s': give an entry id "
                                 "from 'ntm conflicts'"),
                               take);
        goto out;
    }
    struct ntm_error err = {0};
    if (sets.count) {
        if (!(set = cli_parse_set("resolve", &sets)))
            goto out;
        const char *task = json_string_value(json_object_get(set, "task"));
        if (task &&
            ntm_plan_check_task(ctx->plan, task, NULL, NULL, &err) != NTM_OK) {
            cli_fail(&err, NULL);
            goto out;
        }
    }
    char id[NTM_RECORD_ID_LEN + 1];
    if ((code = cli_find_record(ctx, "resolve", argv[0], id, NULL)) != EXIT_OK)
        goto out;
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    enum ntm_err rc =
        ntm_record_resolve(ctx->store, ctx->key, id, take, set, &res, &err);
    if (rc == NTM_ECONFLICT) {
        char text[2 * NTM_ERROR_SIZE];
        cli_error(_("cannot resolve %s: %s"), id,
                  cli_error_text(&err, text, sizeof(text)));
        code = EXIT_FAIL;
        goto out;
    }
    if (rc != NTM_OK) {
        code = cli_fail(&err, _("cannot resolve the record"));
        goto out;
    }
    if (ctx->json) {
        code =
            cli_print_json(json_pack("{s:s, s:s}", "entry", res.id, "id", id));
    } else {
        printf(_("resolved %s\nentry %s\n"), id, res.id);
        code = EXIT_OK;
    }
out:
    json_decref(set);
    cli_list_release(&sets);
    return code;
}
