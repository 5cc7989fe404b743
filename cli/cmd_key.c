/* SPDX-License-Identifier: MIT */
/*
 * cmd_key.c - ntm key export: this device's public key, as the hex author
 * id or as a minisign public key file (for 'minisign -V' on bundles).
 * Never prints or exports the secret key.
 */
#include "cli.h"

#include <string.h>

static const struct cli_help help = {
    N_("ntm key - export this device's public key"),
    "ntm key export [--minisign] [--out <file>]",
    N_("Prints the public key: the author id (64 hex digits) by default, or\n"
       "with --minisign a minisign public key file, with which anyone can\n"
       "check a bundle exported by this device:\n"
       "    minisign -V -p device.pub -m bundle.ntm\n"
       "The key goes to stdout unless --out names a file."),
    NULL,
    "ntm key export\n"
    "ntm key export --minisign --out device.pub"};

int
cmd_key(int argc, char **argv, struct cli_ctx *ctx)
{
    int minisign = 0;
    const char *out = NULL;
    const struct cli_option opts[] = {
        {CLI_OPT_FLAG, "minisign", &minisign, NULL,
         N_("a minisign public key file instead of the hex id")},
        {CLI_OPT_STRING, "out", &out, "<file>", N_("write to this file")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("key", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs < 1)
        return cli_usage_error("key",
                               _("missing sub-command: 'ntm key export'"));
    if (strcmp(argv[0], "export") != 0)
        return cli_usage_error("key",
                               _("unknown sub-command '%s': did you mean "
                                 "'export'?"),
                               argv[0]);
    if (nargs > 1)
        return cli_usage_error("key", _("unexpected argument '%s'"), argv[1]);

    struct ntm_error err = {0};
    struct ntm_buf b = NTM_BUF_INIT;
    char author[NTM_HEX_ID_LEN + 1];
    ntm_key_author(ctx->key, author);
    if (minisign) {
        if (ntm_minisign_pubkey(ctx->key, &b, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot export the minisign public key"));
            goto done;
        }
    } else if (ntm_buf_addf(&b, "%s\n", author) != NTM_OK) {
        cli_error(_("cannot export the key: out of memory"));
        code = EXIT_FAIL;
        goto done;
    }
    if (out) {
        if (ntm_file_write_atomic(out, b.buf, b.len, 0644, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot write the public key"));
            goto done;
        }
        if (ctx->json)
            code = cli_print_json(json_pack("{s:s, s:s, s:s}", "author", author,
                                            "out", out, "format",
                                            minisign ? "minisign" : "hex"));
        else
            cli_note(ctx, _("wrote the public key to '%s'"), out);
    } else if (ctx->json) {
        json_t *o = json_pack("{s:s}", "author", author);
        if (o && minisign)
            json_object_set_new(o, "minisign", json_string(ntm_buf_str(&b)));
        code = cli_print_json(o);
    } else {
        fputs(ntm_buf_str(&b), stdout);
    }
done:
    ntm_buf_release(&b);
    return code;
}
