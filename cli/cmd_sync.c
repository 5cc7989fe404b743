/* SPDX-License-Identifier: MIT */
/*
 * cmd_sync.c - ntm sync: push, then pull (the one command a hamlet officer
 * runs when the phone finds coverage). Uses cmd_push.c and cmd_pull.c.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm sync - push new entries, then pull"), "ntm sync",
    N_("Runs 'ntm push' and then 'ntm pull'. The pull runs even when the\n"
       "server rejected some pushed entries, but not when the server could "
       "not\n"
       "be reached. Safe to interrupt and run again at any moment."),
    N_("0 done; 1 failure; 2 usage; 4 server unreachable (nothing lost);\n"
       "5 the server rejected some entries (kept here, listed)"),
    "ntm sync\nntm sync --json"};

int
cmd_sync(int argc, char **argv, struct cli_ctx *ctx)
{
    const struct cli_option opts[] = {CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("sync", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("sync", _("unexpected argument '%s'"), argv[0]);
    struct ntm_client_opts co;
    memset(&co, 0, sizeof co);
    json_t *push = NULL, *pull = NULL;
    int pcode = cli_push_run(ctx, &co, ctx->json ? &push : NULL);
    if (pcode != EXIT_OK && pcode != EXIT_REJECTED) {
        json_decref(push);
        return pcode;
    }
    memset(&co, 0, sizeof co);
    int lcode = cli_pull_run(ctx, &co, ctx->json ? &pull : NULL);
    if (ctx->json) {
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "push", push ? push : json_null());
            json_object_set_new(o, "pull", pull ? pull : json_null());
        }
        int jc = cli_print_json(o);
        if (jc != EXIT_OK && lcode == EXIT_OK)
            lcode = jc;
    }
    return lcode != EXIT_OK ? lcode : pcode;
}
