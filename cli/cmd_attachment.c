/* SPDX-License-Identifier: MIT */
/*
 * cmd_attachment.c - ntm attachment get <hash> --out <file>: write one
 * attachment out of the home, checked against its hash as it is copied
 * (a damaged file is never written out). When the home lacks it and a
 * server is set, it is fetched first (resumable, checked whole), as a
 * lazy pull does (docs/contract.md, attachments).
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm attachment - write out an attachment"),
    "ntm attachment get <hash> --out <file>",
    N_("Writes the attachment with this hash (or the first 8 or more of its\n"
       "hex digits, as 'ntm show' lists them) to <file>, checked against the\n"
       "hash: a file whose bytes differ is refused and nothing is written.\n"
       "When this home does not hold it yet and a server is set, it is\n"
       "fetched from the server first (needs the key)."),
    NULL, "ntm attachment get 9f2c41d7 --out duong.jpg"};

/* The full hash of an attachment held (given whole, or a unique prefix of
 * 8 or more hex digits) into full. EXIT_OK or an exit code, said. */
static int
find_hash(struct cli_ctx *ctx, const char *given, char full[NTM_HEX_ID_LEN + 1])
{
    size_t n = strlen(given);
    if (n < 8 || n > NTM_HEX_ID_LEN || !ntm_is_lower_hex(given, n))
        return cli_usage_error("attachment",
                               _("'%s' is not an attachment hash: give its "
                                 "64 hex digits, or 8 or more of them"),
                               given);
    json_t *all = NULL;
    struct ntm_error err = {0};
    if (ntm_store_attachment_hashes(ctx->store, NULL, &all, &err) != NTM_OK)
        return cli_fail(&err, _("cannot read the attachments"));
    int found = 0;
    size_t i;
    json_t *a;
    json_array_foreach (all, i, a) {
        const char *h = json_string_value(json_object_get(a, "hash"));
        if (strncmp(h, given, n) == 0) {
            found++;
            snprintf(full, NTM_HEX_ID_LEN + 1, "%s", h);
        }
    }
    json_decref(all);
    if (found == 1)
        return EXIT_OK;
    if (found > 1)
        return cli_usage_error("attachment",
                               _("'%s' names several attachments: give more "
                                 "of its digits"),
                               given);
    cli_error(_("no record held here has the attachment %s: check the hash "
                "with 'ntm show <id>'"),
              given);
    return EXIT_FAIL;
}

int
cmd_attachment(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *out = NULL;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "out", &out, "<file>", N_("where to write it")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("attachment", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs == 0 || strcmp(argv[0], "get") != 0)
        return cli_usage_error("attachment",
                               _("say 'get <hash> --out <file>'"));
    if (nargs != 2)
        return cli_usage_error("attachment",
                               _("give one attachment hash after 'get'"));
    if (!out)
        return cli_usage_error("attachment", _("--out <file> is required"));
    char hash[NTM_HEX_ID_LEN + 1];
    if ((code = find_hash(ctx, argv[1], hash)) != EXIT_OK)
        return code;
    char *dir = cli_home_path(ctx, "attachments");
    if (!dir) {
        cli_error(_("out of memory"));
        return EXIT_FAIL;
    }
    struct ntm_error err = {0};
    enum ntm_err rc = ntm_blob_copy_out(dir, hash, out, &err);
    if (rc == NTM_ENOENT && (code = cli_attach_fetch(ctx, hash)) != EXIT_OK) {
        ntm_free(dir);
        return code;
    }
    if (rc == NTM_ENOENT)
        rc = ntm_blob_copy_out(dir, hash, out, &err);
    ntm_free(dir);
    if (rc == NTM_ECORRUPT) {
        char text[NTM_ERROR_SIZE];
        cli_error(_("cannot write the attachment out: %s; nothing was "
                    "written - move the damaged file aside from '%s/"
                    "attachments' and fetch it again"),
                  cli_error_text(&err, text, sizeof(text)), ctx->home);
        return EXIT_VERIFY;
    }
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot write the attachment out"));
    if (ctx->json)
        return cli_print_json(
            json_pack("{s:s, s:s, s:b}", "hash", hash, "out", out, "ok", 1));
    cli_note(ctx, _("wrote %s (checked against its hash)"), out);
    return EXIT_OK;
}
