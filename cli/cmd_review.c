/* SPDX-License-Identifier: MIT */
/*
 * cmd_review.c - ntm review: a coordinator's or admin's verdict on a
 * record's current version (the review op of SPEC.md section 3). A device
 * whose known enrollment does not allow reviews is refused here, before
 * anything is signed.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm review - approve, reject or flag a record"),
    "ntm review <id> (--approve | --reject | --issues) [--comment <text>]",
    N_("Signs a review of the record's current version. Reviews at several\n"
       "levels (commune, district, province) are all kept; reports can count\n"
       "only records approved at a level. An edit after the review returns\n"
       "the record to 'submitted'. A record with a conflict must be resolved\n"
       "first. Only coordinators and admins whose scope holds the record's\n"
       "unit may review."),
    NULL,
    "ntm review 5d1c0e --approve\n"
    "ntm review 5d1c0e --issues --comment \"thiếu số hộ\""};

int
cmd_review(int argc, char **argv, struct cli_ctx *ctx)
{
    int approve = 0, reject = 0, issues = 0;
    const char *comment = NULL;
    const struct cli_option opts[] = {
        {CLI_OPT_FLAG, "approve", &approve, NULL, N_("approve the record")},
        {CLI_OPT_FLAG, "reject", &reject, NULL, N_("reject the record")},
        {CLI_OPT_FLAG, "issues", &issues, NULL,
         N_("the record has issues to fix")},
        {CLI_OPT_STRING, "comment", &comment, "<text>",
         N_("a comment for the recorder")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("review", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs == 0)
        return cli_usage_error("review", _("missing the record id"));
    if (nargs > 1)
        return cli_usage_error("review", _("unexpected argument '%s'"),
                               argv[1]);
    if (approve + reject + issues != 1)
        return cli_usage_error("review", _("give exactly one of --approve, "
                                           "--reject and --issues"));
    const char *state = approve  ? "approved"
                        : reject ? "rejected"
                                 : "has_issues";

    /* who may review: the review queue's rule too (cli/checks.c) */
    struct cli_check c;
    if (cli_check_may_review(ctx, &c) != 0)
        return cli_check_say("review", &c);
    struct ntm_error err = {0};
    char id[NTM_RECORD_ID_LEN + 1];
    if ((code = cli_find_record(ctx, "review", argv[0], id, NULL)) != EXIT_OK)
        return code;
    struct ntm_write_result res;
    memset(&res, 0, sizeof(res));
    enum ntm_err rc =
        ntm_record_review(ctx->store, ctx->key, id, state, comment, &res, &err);
    if (rc == NTM_ECONFLICT) {
        char text[2 * NTM_ERROR_SIZE];
        cli_error(_("cannot review %s: %s"), id,
                  cli_error_text(&err, text, sizeof(text)));
        fprintf(stderr,
                _("hint: resolve it first ('ntm conflicts', 'ntm "
                  "resolve %s ...')\n"),
                id);
        return EXIT_FAIL;
    }
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot review the record"));
    if (ctx->json)
        return cli_print_json(json_pack("{s:s, s:s, s:s}", "entry", res.id,
                                        "id", id, "state", state));
    printf(_("%s %s\nentry %s\n"), cli_label(NTM_LABEL_STATE, state), id,
           res.id);
    return EXIT_OK;
}
