/* SPDX-License-Identifier: MIT */
/*
 * cmd_bundle.c - ntm bundle export | import: the sneakernet file of
 * SPEC.md section 7. Export is ntm_bundle_export (sync/bundle.c): the
 * entries this replica holds, each author's in seq order, to FILE.tmp,
 * renamed to FILE and signed with minisign (FILE.minisig). Import is
 * ntm_bundle_import: the signature against the bundle's "by" key, then
 * every line through the same validation as a push, in author and seq
 * order whatever the order of the lines. This file parses the options,
 * shows progress and prints what was done.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPORTED 50 /* rejected lines listed in human output */

static const struct cli_help help = {
    N_("ntm bundle - export or import a bundle file (offline exchange)"),
    "ntm bundle export --out <file> [--author <id>] [--unsigned]\n"
    "ntm bundle import <file>",
    N_("export writes every entry this replica holds (or only those of\n"
       "--author) to <file>, one signed entry per line after a header line,\n"
       "and signs the whole file with this device's key into <file>.minisig.\n"
       "Anyone can check it with minisign and 'ntm key export --minisign':\n"
       "    minisign -V -p device.pub -m <file>\n"
       "\n"
       "import checks <file>.minisig when it is there (a bad signature stops\n"
       "the import), then validates every entry exactly as a push does:\n"
       "entries already held change nothing, invalid ones are rejected and\n"
       "listed with the reason. Carry bundles on USB sticks or SD cards to "
       "and\n"
       "from units with no connection."),
    N_("0  success\n"
       "1  failure (bad signature, unreadable file, full disk, ...)\n"
       "2  usage error\n"
       "5  some entries were rejected (listed; the others were imported)"),
    "ntm bundle export --out /media/usb/thanhduc-2019-06-01.ntm\n"
    "ntm bundle import /media/usb/thanhduc-2019-06-01.ntm"};

/* ------------------------------------------------------------------ */
/* Export and import: the format, the files and the validation live in
 * sync/bundle.c; this file shows progress and prints what was done. */

static void
show_progress(struct cli_ctx *ctx, int importing, int64_t done, int64_t total)
{
    if (!cli_progress_enabled(ctx))
        return;
    char n1[32], n2[32], bar[40], line_text[160];
    cli_human_int(done, n1, sizeof(n1));
    cli_human_int(total > done ? total : done, n2, sizeof(n2));
    cli_progress_bar(done, total > done ? total : done, 30, bar, sizeof(bar));
    if (importing)
        snprintf(line_text, sizeof(line_text),
                 _("%simporting: %s of %s entries"), bar, n1, n2);
    else
        snprintf(line_text, sizeof(line_text),
                 _("%sexporting: %s of %s entries"), bar, n1, n2);
    cli_progress_show(ctx, line_text);
}

static void
export_progress(void *ud, int64_t done, int64_t total)
{
    show_progress(ud, 0, done, total);
}

/* This device's author id without unsealing its key: from the key file's
 * public part, else config.json's. 0 when by holds it. */
static int
own_author(struct cli_ctx *ctx, char by[NTM_HEX_ID_LEN + 1])
{
    struct ntm_error err = {0};
    unsigned char pk[NTM_PUBLICKEY_BYTES];
    char *path = cli_home_path(ctx, "key");
    int ok = path && ntm_key_file_public(path, pk, &err) == NTM_OK;
    ntm_free(path);
    if (ok) {
        ntm_hex_encode(by, pk, NTM_PUBLICKEY_BYTES);
        return 0;
    }
    if (ctx->author[0]) {
        memcpy(by, ctx->author, NTM_HEX_ID_LEN + 1);
        return 0;
    }
    cli_error(_("cannot tell this device's author id: its key file cannot "
                "be read and config.json names none"));
    return -1;
}

static int
bundle_export(struct cli_ctx *ctx, const char *out, const char *author,
              int unsigned_)
{
    struct ntm_error err = {0};
    struct ntm_bundle_export_result res;
    char by[NTM_HEX_ID_LEN + 1];
    int code;
    enum ntm_err rc;
    /* The bundle carries the attachments its entries' records name
     * (docs/contract.md, attachments). */
    char *att = cli_home_path(ctx, "attachments");
    if (!att) {
        cli_error(_("out of memory"));
        return EXIT_FAIL;
    }
    if (unsigned_) {
        if (own_author(ctx, by) != 0) {
            ntm_free(att);
            return EXIT_FAIL;
        }
        rc = ntm_bundle_export_attach(ctx->store, NULL, by, out, author, att,
                                      export_progress, ctx, &res, &err);
    } else {
        if ((code = cli_need_key(ctx)) != EXIT_OK) {
            fprintf(stderr, "%s%s\n", _("hint: "),
                    _("the entries are signed already: 'ntm bundle export "
                      "--unsigned --out FILE' writes them without unlocking "
                      "the key (no .minisig beside the file)"));
            ntm_free(att);
            return code;
        }
        rc = ntm_bundle_export_attach(ctx->store, ctx->key, NULL, out, author,
                                      att, export_progress, ctx, &res, &err);
    }
    ntm_free(att);
    cli_progress_done();
    if (rc == NTM_ENOENT && author) {
        cli_error(_("no entries of author %s in this home: check the id with "
                    "'ntm whoami' on that device"),
                  author);
        return EXIT_FAIL;
    }
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot export the bundle"));
    if (ctx->json) {
        struct ntm_buf sig = NTM_BUF_INIT;
        ntm_buf_addf(&sig, "%s.minisig", out);
        json_t *o = json_pack("{s:s, s:I, s:s, s:I}", "out", out, "count",
                              (json_int_t)res.count, "by", res.by, "created_ms",
                              (json_int_t)res.created_ms);
        if (o) {
            json_object_set_new(o, "minisig",
                                unsigned_ ? json_null()
                                          : json_string(ntm_buf_str(&sig)));
            json_object_set_new(o, "attachments",
                                json_integer(res.attachments));
            json_object_set_new(o, "attachment_bytes",
                                json_integer(res.attachment_bytes));
        }
        code = cli_print_json(o);
        ntm_buf_release(&sig);
        return code;
    }
    if (res.attachments)
        cli_note(ctx, _("the bundle carries %lld attachments (%lld bytes)"),
                 (long long)res.attachments, (long long)res.attachment_bytes);
    if (unsigned_) {
        printf(_("wrote %lld entries to '%s', without a file signature\n"),
               (long long)res.count, out);
        cli_note(ctx,
                 _("each entry keeps its own signature, so an enrolled device "
                   "can import the file and push it; only the minisign "
                   "signature of the whole file is missing (import says so "
                   "and goes on)"));
        return EXIT_OK;
    }
    printf(_("wrote %lld entries to '%s' (signature '%s.minisig')\n"),
           (long long)res.count, out, out);
    return EXIT_OK;
}

static void
import_progress(void *ud, int64_t done, int64_t total)
{
    show_progress(ud, 1, done, total);
}

static int
print_import(struct cli_ctx *ctx, const struct ntm_bundle_import_result *res,
             const char *path)
{
    size_t nrej = json_array_size(res->rejected);
    const char *signature = res->signature ? "verified" : "missing";
    if (ctx->json) {
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "accepted", json_integer(res->accepted));
            json_object_set_new(o, "duplicates", json_integer(res->duplicates));
            json_object_set(o, "flagged", res->flagged);
            json_object_set(o, "rejected", res->rejected);
            json_object_set_new(o, "signature", json_string(signature));
            json_object_set_new(o, "attachments",
                                json_integer(res->attachments));
            json_object_set_new(o, "attachments_refused",
                                json_integer(res->attachments_refused));
        }
        int code = cli_print_json(o);
        return code != EXIT_OK ? code : nrej ? EXIT_REJECTED : EXIT_OK;
    }
    printf(_("imported '%s': %lld accepted, %lld duplicates, %zu rejected, %zu "
             "flagged\n"),
           path, (long long)res->accepted, (long long)res->duplicates, nrej,
           json_array_size(res->flagged));
    size_t i;
    json_t *x;
    json_array_foreach (res->rejected, i, x) {
        if (i == MAX_REPORTED) {
            printf(_("  ... and %zu more (see --json)\n"), nrej - i);
            break;
        }
        printf(_("  rejected line %lld: author %.12s seq %lld: %s: %s\n"),
               (long long)json_integer_value(json_object_get(x, "line")),
               json_string_value(json_object_get(x, "author"))
                   ? json_string_value(json_object_get(x, "author"))
                   : "?",
               (long long)json_integer_value(json_object_get(x, "seq")),
               json_string_value(json_object_get(x, "code")),
               json_string_value(json_object_get(x, "message")));
    }
    json_array_foreach (res->flagged, i, x) {
        if (i == MAX_REPORTED)
            break;
        printf(_("  flagged line %lld (kept without effect): %s: %s\n"),
               (long long)json_integer_value(json_object_get(x, "line")),
               json_string_value(json_object_get(x, "code")),
               json_string_value(json_object_get(x, "message")));
    }
    if (nrej) {
        cli_error(_("%zu entries of '%s' were rejected (listed above); the "
                    "others were imported"),
                  nrej, path);
        return EXIT_REJECTED;
    }
    return EXIT_OK;
}

/* Print why the import stopped; returns the exit code. */
static int
import_failed(const struct ntm_error *err,
              const struct ntm_bundle_import_result *res, const char *path,
              const char *sig_path)
{
    switch (err->code) {
    case NTM_ENOENT:
    case NTM_EIO:
        if (res->bad_line == 0 && err->sys_errno) {
            cli_error(_("cannot open the bundle '%s': %s"), path,
                      strerror(err->sys_errno));
            return EXIT_FAIL;
        }
        break;
    case NTM_EINVAL:
        if (res->bad_line == 1) {
            cli_error(_("'%s' is not an ntm bundle (its first line must be "
                        "{\"ntm_bundle\":1,\"by\":...}): check the file name"),
                      path);
            return EXIT_FAIL;
        }
        cli_error(_("cannot import '%s': more than %d lines are not bundle "
                    "lines (the last at line %lld): this is not an ntm "
                    "bundle, or a badly damaged one; nothing was imported"),
                  path, NTM_BUNDLE_MAX_BAD_LINES, (long long)res->bad_line);
        return EXIT_FAIL;
    case NTM_ETOOLARGE:
        cli_error(_("cannot import '%s': line %lld is longer than %u bytes: "
                    "this is not an ntm bundle, or a damaged one; nothing "
                    "was imported"),
                  path, (long long)res->bad_line,
                  (unsigned)NTM_BUNDLE_MAX_LINE);
        return EXIT_FAIL;
    case NTM_EBADSIG:
        /* err says the same ("changed or damaged"): not repeated */
        cli_error(_("the signature '%s' does not verify against the key "
                    "%s named in the bundle: the file was changed or "
                    "damaged on the way, so nothing was imported: export it "
                    "again"),
                  sig_path, res->by);
        return EXIT_FAIL;
    default:
        break;
    }
    return cli_fail(err, _("cannot import the bundle"));
}

static int
bundle_import(struct cli_ctx *ctx, const char *path)
{
    struct ntm_error err = {0};
    struct ntm_bundle_import_result res;
    struct ntm_buf sig_path = NTM_BUF_INIT;
    int code;
    memset(&res, 0, sizeof(res));
    ntm_buf_addf(&sig_path, "%s.minisig", path);
    char *att = cli_home_path(ctx, "attachments");
    enum ntm_err rc =
        att ? ntm_bundle_import_attach(ctx->store, path, att, import_progress,
                                       ctx, &res, &err)
            : ntm_error_set(&err, NTM_ENOMEM, "out of memory");
    ntm_free(att);
    cli_progress_done();
    if (rc != NTM_OK) {
        code = import_failed(&err, &res, path, ntm_buf_str(&sig_path));
        goto done;
    }
    if (res.signature)
        cli_note(ctx, _("signature verified: the bundle was made by %s"),
                 res.by);
    else
        cli_warn(ctx,
                 _("'%s' has no signature file '%s': importing anyway "
                   "(every entry is still verified)"),
                 path, ntm_buf_str(&sig_path));
    if (res.declared >= 0 && res.declared != res.lines)
        cli_warn(ctx,
                 _("'%s' declares %lld entries but holds %lld lines: the "
                   "file may be truncated"),
                 path, (long long)res.declared, (long long)res.lines);
    if (!ctx->json && (res.attachments || res.attachments_refused))
        cli_note(ctx,
                 _("attachments: %lld stored whole and checked, %lld "
                   "refused (no entry names them, or their bytes do not "
                   "match)"),
                 (long long)res.attachments,
                 (long long)res.attachments_refused);
    code = print_import(ctx, &res, path);
done:
    ntm_bundle_import_result_release(&res);
    ntm_buf_release(&sig_path);
    return code;
}

int
cmd_bundle(int argc, char **argv, struct cli_ctx *ctx)
{
    const char *out = NULL, *author = NULL;
    int unsigned_ = 0;
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "out", &out, "<file>",
         N_("export: the bundle to write")},
        {CLI_OPT_STRING, "author", &author, "<id>",
         N_("export: only this author's entries")},
        {CLI_OPT_FLAG, "unsigned", &unsigned_, NULL,
         N_("export: without unlocking the key (no .minisig; for a lost "
            "passphrase)")},
        CLI_OPT_END_MARK};
    int nargs, code;
    if (cli_parse("bundle", argc, argv, opts, &help, &nargs, &code) != 0)
        return code;
    if (nargs < 1)
        return cli_usage_error("bundle", _("missing sub-command: export or "
                                           "import"));
    if (!strcmp(argv[0], "export")) {
        if (nargs > 1)
            return cli_usage_error("bundle",
                                   _("unexpected argument '%s' (give "
                                     "the file with --out)"),
                                   argv[1]);
        if (!out || !*out)
            return cli_usage_error("bundle", _("export needs --out FILE"));
        if (author && (strlen(author) != NTM_HEX_ID_LEN ||
                       !ntm_is_lower_hex(author, NTM_HEX_ID_LEN)))
            return cli_usage_error("bundle",
                                   _("invalid author id '%s': give 64 "
                                     "lower-case hex digits"),
                                   author);
        return bundle_export(ctx, out, author, unsigned_);
    }
    if (!strcmp(argv[0], "import")) {
        if (out || author || unsigned_)
            return cli_usage_error("bundle", _("--out and --author are for "
                                               "'bundle export'"));
        if (nargs < 2)
            return cli_usage_error("bundle", _("import needs the bundle "
                                               "file"));
        if (nargs > 2)
            return cli_usage_error("bundle", _("unexpected argument '%s'"),
                                   argv[2]);
        return bundle_import(ctx, argv[1]);
    }
    return cli_usage_error(
        "bundle", _("unknown sub-command '%s': use export or import"), argv[0]);
}
