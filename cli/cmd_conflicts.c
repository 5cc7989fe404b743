/* SPDX-License-Identifier: MIT */
/*
 * cmd_conflicts.c - ntm conflicts: every record field changed
 * concurrently by several writers, with each candidate's value, author and
 * time (SPEC.md section 5), so that a coordinator can resolve it.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const struct cli_help help = {
    N_("ntm conflicts - list conflicting fields of records"), "ntm conflicts",
    N_("Lists every record with a field that was changed at the same time "
       "on\n"
       "two devices (neither knew of the other's change). Each candidate is\n"
       "shown with its entry, author, time and value. Until resolved, the\n"
       "record shows the most recent candidate. Resolve with 'ntm resolve'."),
    NULL, "ntm conflicts\nntm resolve 5d1c0e --take 9a81f2c4"};

int
cmd_conflicts(int argc, char **argv, struct cli_ctx *ctx)
{
    const struct cli_option opts[] = {CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("conflicts", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs > 0)
        return cli_usage_error("conflicts", _("unexpected argument '%s'"),
                               argv[0]);
    struct ntm_error err = {0};
    json_t *all = NULL;
    if (ntm_store_conflicts(ctx->store, &all, &err) != NTM_OK)
        return cli_fail(&err, _("cannot list the conflicts"));
    if (ctx->json)
        return cli_print_json(all);
    size_t i;
    json_t *rec;
    json_array_foreach (all, i, rec) {
        const char *id = json_string_value(json_object_get(rec, "id"));
        printf(_("record %s\n"), id ? id : "?");
        const char *field;
        json_t *cands;
        json_object_foreach (json_object_get(rec, "fields"), field, cands) {
            printf("  %s:\n", field);
            size_t k;
            json_t *c;
            json_array_foreach (cands, k, c) {
                const char *entry =
                    json_string_value(json_object_get(c, "entry"));
                const char *author =
                    json_string_value(json_object_get(c, "author"));
                json_t *v = json_object_get(c, "value");
                char *vs = json_is_string(v)
                               ? NULL
                               : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                char when[32] = "";
                if (json_is_integer(json_object_get(c, "ts")))
                    cli_format_time(
                        json_integer_value(json_object_get(c, "ts")), when);
                /* TRANSLATORS: entry, author, time and value of one
                   candidate. */
                printf(_("    %.12s  by %.12s  %s  %s\n"), entry ? entry : "?",
                       author ? author : "?", when,
                       json_is_string(v) ? json_string_value(v)
                                         : (vs ? vs : "null"));
                free(vs); /* jansson's allocator */
            }
        }
    }
    if (json_array_size(all) == 0)
        printf(_("no conflicts\n"));
    else
        cli_note(ctx, _("resolve with 'ntm resolve ID --take ENTRY' or 'ntm "
                        "resolve ID --set FIELD=VALUE'"));
    json_decref(all);
    return EXIT_OK;
}
