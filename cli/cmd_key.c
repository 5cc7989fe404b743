/* SPDX-License-Identifier: MIT */
/*
 * cmd_key.c - ntm key export: this device's public key, as the hex author
 * id or as a minisign public key file (for 'minisign -V' on bundles).
 * Never prints or exports the secret key. ntm key passwd: change the
 * passphrase that seals the key file (the old one unlocks the key, which
 * the dispatcher loads; the new one is asked twice, or taken from
 * NTM_NEW_PASSPHRASE), rewriting the file whole with the current Argon2id
 * parameters (ntm_key_replace: a new file, fsync, rename).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const struct cli_help help = {
    N_("ntm key - export this device's public key, change its passphrase"),
    "ntm key export [--minisign] [--out <file>]\n"
    "ntm key passwd [--no-passphrase]",
    N_("export prints the public key: the author id (64 hex digits) by\n"
       "default, or with --minisign a minisign public key file, with which\n"
       "anyone can check a bundle exported by this device:\n"
       "    minisign -V -p device.pub -m bundle.ntm\n"
       "The key goes to stdout unless --out names a file.\n"
       "\n"
       "passwd changes the passphrase of the key file: the old one is asked\n"
       "(or NTM_PASSPHRASE), the new one twice (or NTM_NEW_PASSPHRASE). The\n"
       "file is rewritten whole with the current key derivation parameters\n"
       "(Argon2id, 64 MiB): a new file is written beside it, flushed to disk\n"
       "and renamed over it, so a crash leaves the old file or the new one.\n"
       "--no-passphrase stores the key without one (not recommended). The\n"
       "key itself, and so the author id, does not change."),
    NULL,
    "ntm key export\n"
    "ntm key export --minisign --out device.pub\n"
    "ntm key passwd"};

/* The new passphrase: NTM_NEW_PASSPHRASE, or asked twice; 0 when buf
 * holds it, else the error said. */
static int
new_passphrase(char *buf, size_t size)
{
    const char *env = getenv("NTM_NEW_PASSPHRASE");
    if (env) {
        if (!*env) {
            cli_error(_("NTM_NEW_PASSPHRASE is empty: set a passphrase or "
                        "use --no-passphrase"));
            return -1;
        }
        if (strlen(env) >= size) {
            cli_error(_("the new passphrase is too long (at most %zu "
                        "bytes)"),
                      size - 1);
            return -1;
        }
        memcpy(buf, env, strlen(env) + 1);
        return 0;
    }
    return cli_ask_new_passphrase(
        _("new passphrase for the ntm key: "),
        _("cannot ask for the new passphrase: there is no terminal; set "
          "NTM_NEW_PASSPHRASE"),
        _("the two passphrases differ: nothing was changed; run 'ntm key "
          "passwd' again"),
        buf, size);
}

static int
key_passwd(struct cli_ctx *ctx, int no_pass)
{
    struct ntm_error err = {0};
    char pass[1024];
    int code = EXIT_FAIL;
    char *path = cli_home_path(ctx, "key");
    memset(pass, 0, sizeof(pass));
    if (!path) {
        cli_error(_("cannot change the passphrase: out of memory"));
        return EXIT_FAIL;
    }
    if (no_pass)
        cli_warn(ctx,
                 _("the key is stored without a passphrase: anyone who "
                   "copies '%s' can sign as this device"),
                 path);
    else if (new_passphrase(pass, sizeof(pass)) != 0)
        goto out;
    if (!no_pass)
        cli_note(ctx, _("sealing the key with the new passphrase..."));
    if (ntm_key_replace(ctx->key, path, no_pass ? NULL : pass, &err) !=
        NTM_OK) {
        code = cli_fail(&err, _("cannot change the passphrase (the key "
                                "file is unchanged)"));
        goto out;
    }
    uint64_t ops = 0, mem = 0;
    ntm_key_kdf_current(&ops, &mem);
    if (no_pass)
        ops = mem = 0;
    if (ctx->json) {
        json_t *o =
            json_pack("{s:s, s:b, s:I, s:I}", "key", path, "sealed", !no_pass,
                      "opslimit", (json_int_t)ops, "memlimit", (json_int_t)mem);
        code = cli_print_json(o);
    } else {
        if (no_pass)
            printf(_("the key '%s' is now stored without a passphrase\n"),
                   path);
        else
            printf(_("passphrase changed; the key '%s' is sealed with "
                     "Argon2id (%llu passes, %llu MiB)\n"),
                   path, (unsigned long long)ops,
                   (unsigned long long)(mem >> 20));
        code = EXIT_OK;
    }
out:
    ntm_memzero(pass, sizeof(pass));
    ntm_free(path);
    return code;
}

int
cmd_key(int argc, char **argv, struct cli_ctx *ctx)
{
    int minisign = 0, no_pass = 0;
    const char *out = NULL;
    const struct cli_option opts[] = {
        {CLI_OPT_FLAG, "minisign", &minisign, NULL,
         N_("a minisign public key file instead of the hex id")},
        {CLI_OPT_STRING, "out", &out, "<file>", N_("write to this file")},
        {CLI_OPT_FLAG, "no-passphrase", &no_pass, NULL,
         N_("passwd: store the key without a passphrase (not recommended)")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("key", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs < 1)
        return cli_usage_error("key", _("missing sub-command: 'ntm key "
                                        "export' or 'ntm key passwd'"));
    if (nargs > 1)
        return cli_usage_error("key", _("unexpected argument '%s'"), argv[1]);
    if (strcmp(argv[0], "passwd") == 0) {
        if (minisign || out)
            return cli_usage_error("key", _("--minisign and --out belong to "
                                            "'ntm key export'"));
        return key_passwd(ctx, no_pass);
    }
    if (strcmp(argv[0], "export") != 0)
        return cli_usage_error("key",
                               _("unknown sub-command '%s': did you mean "
                                 "'export' or 'passwd'?"),
                               argv[0]);
    if (no_pass)
        return cli_usage_error("key", _("--no-passphrase belongs to 'ntm key "
                                        "passwd'"));

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
