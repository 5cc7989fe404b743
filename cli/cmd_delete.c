/* SPDX-License-Identifier: MIT */
/*
 * cmd_delete.c - ntm delete: mark a record deleted (record.delete with
 * base = its current heads). The record and its history stay in the log;
 * 'ntm list --deleted' still shows it.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm delete - delete a record"), "ntm delete <id>",
    N_("Signs a record.delete for the record. Nothing leaves the log: the\n"
       "record disappears from lists and reports, 'ntm list --deleted' and\n"
       "'ntm show' still show it, and a later edit made without knowledge of\n"
       "the delete conflicts with it."),
    NULL, "ntm delete 5d1c0e"};

int
cmd_delete(int argc, char **argv, struct cli_ctx *ctx)
{
    const struct cli_option opts[] = {CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("delete", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs == 0)
        return cli_usage_error("delete", _("missing the record id"));
    if (nargs > 1)
        return cli_usage_error("delete", _("unexpected argument '%s'"),
                               argv[1]);
    char id[NTM_RECORD_ID_LEN + 1];
    if ((code = cli_find_record(ctx, "delete", argv[0], id, NULL)) != EXIT_OK)
        return code;
    struct ntm_error err = {0};
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    if (ntm_record_delete(ctx->store, ctx->key, id, &res, &err) != NTM_OK)
        return cli_fail(&err, _("cannot delete the record"));
    if (ctx->json)
        return cli_print_json(
            json_pack("{s:s, s:s}", "entry", res.id, "id", id));
    printf(_("deleted %s\nentry %s\n"), id, res.id);
    return EXIT_OK;
}
