/* SPDX-License-Identifier: MIT */
/*
 * cmd_verify.c - ntm verify: re-verify every entry this replica holds
 * (bytes against id, signature, chain, authorization) and report invalid
 * entries, flagged entries and forks. Exit 3 when any entry is invalid or
 * forked (SPEC.md section 8); flagged entries (without effect) are listed
 * but are not a failure. --rebuild recomputes the derived state first.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm verify - re-verify every entry, chain and authorization held"),
    "ntm verify [--rebuild]",
    N_("Checks every stored entry again: its bytes against its id, its\n"
       "signature, its link to the author's previous entry, and whether its\n"
       "author was enrolled and not revoked for it. Any changed byte in the\n"
       "database is found. Invalid entries and forks (two entries with the\n"
       "same author and seq) make it exit with 3; entries kept without effect\n"
       "(forbidden, bad body, revoked) are listed as flagged.\n"
       "\n"
       "--rebuild first drops the derived state (records, conflicts, reviews)\n"
       "and recomputes it from the log."),
    "0  every entry is valid (flagged entries may be listed)\n"
    "1  the check could not run (the message says why)\n"
    "2  usage error\n"
    "3  invalid entries or forks were found",
    "ntm verify\nntm verify --json | jq .invalid"};

static void
print_list(const char *title, json_t *list)
{
    size_t i;
    json_t *x;
    if (!json_array_size(list))
        return;
    printf("%s:\n", title);
    json_array_foreach (list, i, x) {
        const char *entry = json_string_value(json_object_get(x, "entry"));
        const char *codev = json_string_value(json_object_get(x, "code"));
        if (entry) {
            printf("  %s  %s\n", entry, codev ? codev : "");
            continue;
        }
        /* a fork: {"author","seq","ids":[...]} */
        printf(_("  author %s seq %lld:"),
               json_string_value(json_object_get(x, "author"))
                   ? json_string_value(json_object_get(x, "author"))
                   : "?",
               (long long)json_integer_value(json_object_get(x, "seq")));
        size_t k;
        json_t *id;
        json_array_foreach (json_object_get(x, "ids"), k, id)
            printf(" %s", json_string_value(id) ? json_string_value(id) : "?");
        printf("\n");
    }
}

int
cmd_verify(int argc, char **argv, struct cli_ctx *ctx)
{
    int rebuild = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_FLAG, "rebuild", &rebuild, NULL,
         N_("recompute the derived state from the log first")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("verify", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("verify", _("unexpected argument '%s'"),
                               argv[0]);
    struct ntm_error err = {0};
    if (rebuild) {
        cli_note(ctx, _("rebuilding the state from the log..."));
        if (ntm_store_rebuild(ctx->store, &err) != NTM_OK)
            return cli_fail(&err, _("cannot rebuild the state"));
    }
    json_t *rep = NULL;
    if (ntm_store_verify(ctx->store, &rep, &err) != NTM_OK)
        return cli_fail(&err, _("cannot verify the store"));
    size_t invalid = json_array_size(json_object_get(rep, "invalid"));
    size_t forks = json_array_size(json_object_get(rep, "forks"));
    size_t flagged = json_array_size(json_object_get(rep, "flagged"));
    int bad = invalid > 0 || forks > 0;
    if (ctx->json) {
        code = cli_print_json(rep);
        return code != EXIT_OK ? code : bad ? EXIT_VERIFY : EXIT_OK;
    }
    printf(_("%lld entries checked: %lld valid, %zu invalid, %zu flagged, %zu "
             "forks\n"),
           (long long)json_integer_value(json_object_get(rep, "entries")),
           (long long)json_integer_value(json_object_get(rep, "valid")),
           invalid, flagged, forks);
    print_list("invalid entries", json_object_get(rep, "invalid"));
    print_list("forks", json_object_get(rep, "forks"));
    print_list("flagged entries (kept without effect)",
               json_object_get(rep, "flagged"));
    json_decref(rep);
    if (bad) {
        cli_error(_("the store holds invalid or forked entries: keep a copy of "
                    "'%s/ntm.db' as evidence and tell your admin"),
                  ctx->home);
        return EXIT_VERIFY;
    }
    return EXIT_OK;
}
