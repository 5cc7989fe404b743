/* SPDX-License-Identifier: MIT */
/*
 * cmd_pull.c - ntm pull: fetch from the server, page by page from the
 * stored cursor, every entry meant for this device's scope, verify each one
 * locally and apply it. The work is ntm_client_pull (sync/client.c); this
 * file parses options and prints the result. Also used by cmd_sync.c.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm pull - fetch new entries from the server"), "ntm pull [--page <n>]",
    N_("Fetches, from where the last pull stopped, every entry the server\n"
       "holds for this device's scope (records of its unit and below, plus\n"
       "every enrollment and unit entry). Each entry's signature and\n"
       "authorization are verified here: the server is not trusted for\n"
       "content. Each page is applied together with the position it reached,\n"
       "so an interrupted pull applies no half page and loses nothing.\n"
       "A server that went backwards (restored from an old backup) is "
       "refused.\n"
       "A device restored from an old backup first takes its own entries "
       "back."),
    "0 done; 1 failure (for example a server that went backwards); 2 usage;\n"
    "4 server unreachable (nothing lost)",
    "ntm pull\nntm pull --json"};

int
cli_pull_run(struct cli_ctx *ctx, struct ntm_client_opts *co, json_t **out)
{
    struct ntm_error err = {0};
    struct ntm_pull_result res;
    char place[NTM_HEX_ID_LEN + 1];
    cli_sync_begin(ctx, co, place);
    enum ntm_err rc = ntm_client_pull(ctx->store, ctx->key, co, &res, &err);
    cli_sync_progress_end();
    if (rc != NTM_OK) {
        int code = cli_fail(&err, _("pull failed"));
        if (res.received > 0)
            cli_note(ctx,
                     ngettext("%lld entry was applied before the failure",
                              "%lld entries were applied before the failure",
                              (unsigned long)res.applied),
                     (long long)res.applied);
        return code;
    }
    if (res.invalid > 0)
        cli_warn(ctx,
                 ngettext("%lld entry from the server failed local "
                          "verification and was not applied - tell the "
                          "server's admin",
                          "%lld entries from the server failed local "
                          "verification and were not applied - tell the "
                          "server's admin",
                          (unsigned long)res.invalid),
                 (long long)res.invalid);
    cli_sync_heal(ctx, &res.heal);
    if (res.own_restored > 0 && res.heal.stranded == 0)
        cli_warn(ctx,
                 ngettext("took back %lld own entry of this device that "
                          "only the server held (was this home restored from "
                          "a backup?)",
                          "took back %lld own entries of this device that "
                          "only the server held (was this home restored from "
                          "a backup?)",
                          (unsigned long)res.own_restored),
                 (long long)res.own_restored);
    if (out)
        *out = json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:o}", "received",
            (json_int_t)res.received, "applied", (json_int_t)res.applied,
            "after", (json_int_t)res.after, "invalid", (json_int_t)res.invalid,
            "own_restored", (json_int_t)res.own_restored, "heal",
            cli_sync_heal_json(&res.heal));
    if (out && *out) {
        json_t *rk = cli_rekey_json(ctx);
        json_object_set_new(*out, "rekey", rk ? rk : json_null());
    } else
        cli_note(ctx,
                 ngettext("pulled %lld entry, %lld new (server position %lld)",
                          "pulled %lld entries, %lld new (server position "
                          "%lld)",
                          (unsigned long)res.received),
                 (long long)res.received, (long long)res.applied,
                 (long long)res.after);
    /* Attachments: all of them now on a home set to "eager". */
    return cli_attach_sync(ctx, co, 0, out ? *out : NULL);
}

int
cmd_pull(int argc, char **argv, struct cli_ctx *ctx)
{
    int64_t page = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_INT, "page", &page, "<n>",
         N_("entries per request (default 2000, at most 5000)")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("pull", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("pull", _("unexpected argument '%s'"), argv[0]);
    if (page < 0 || page > NTM_SYNC_MAX_PAGE)
        return cli_usage_error("pull", _("--page must be in 1..%d"),
                               NTM_SYNC_MAX_PAGE);
    struct ntm_client_opts co;
    memset(&co, 0, sizeof co);
    co.page = (unsigned)page;
    json_t *out = NULL;
    code = cli_pull_run(ctx, &co, ctx->json ? &out : NULL);
    if (out) {
        int pc = cli_print_json(out);
        if (code == EXIT_OK)
            code = pc;
    }
    return code;
}
