/* SPDX-License-Identifier: MIT */
/*
 * cmd_bundle.c - ntm bundle export | import: the sneakernet file of
 * SPEC.md section 7. Export streams the entries this replica holds (each
 * author's in seq order) to FILE.tmp, renames it to FILE and signs it
 * with minisign (FILE.minisig). Import is ntm_bundle_import (sync/
 * bundle.c): the signature against the bundle's "by" key, then every line
 * through the same validation as a push, in author and seq order whatever
 * the order of the lines; this file only prints what it did.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REPORTED 50 /* rejected lines listed in human output */

static const struct cli_help help = {
    N_("ntm bundle - export or import a bundle file (offline exchange)"),
    "ntm bundle export --out <file> [--author <id>]\n"
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
    "0  success\n"
    "1  failure (bad signature, unreadable file, full disk, ...)\n"
    "2  usage error\n"
    "5  some entries were rejected (listed; the others were imported)",
    "ntm bundle export --out /media/usb/thanhduc-2019-06-01.ntm\n"
    "ntm bundle import /media/usb/thanhduc-2019-06-01.ntm"};

/* ------------------------------------------------------------------ */
/* Export */

struct export_state {
    FILE *f;
    int64_t count;
    int failed; /* 1: out of memory or write error */
};

static int
count_cb(void *ud, const struct ntm_entry_view *e)
{
    (void)e;
    ((struct export_state *)ud)->count++;
    return 0;
}

static int
write_cb(void *ud, const struct ntm_entry_view *e)
{
    struct export_state *s = ud;
    json_t *line = json_object();
    if (!line ||
        json_object_set_new(line, "entry", json_stringn(e->bytes, e->len)) !=
            0 ||
        json_object_set_new(line, "sig", json_string(e->sig)) != 0) {
        json_decref(line);
        s->failed = 1;
        return 1;
    }
    if (json_dumpf(line, s->f, JSON_COMPACT) != 0 || fputc('\n', s->f) == EOF) {
        json_decref(line);
        s->failed = 1;
        return 1;
    }
    json_decref(line);
    s->count++;
    return 0;
}

static int
bundle_export(struct cli_ctx *ctx, const char *out, const char *author)
{
    struct ntm_error err = {0};
    struct export_state s = {NULL, 0, 0};
    struct ntm_buf tmp = NTM_BUF_INIT, comment = NTM_BUF_INIT;
    json_t *head = NULL;
    int code = EXIT_FAIL, in_tx = 0, fd = -1;
    int64_t total = 0, now = ntm_now_ms();
    struct ntm_entry_query q;
    memset(&q, 0, sizeof(q));
    q.author = author;
    q.by_author_seq = 1;

    if ((code = cli_need_key(ctx)) != EXIT_OK)
        return code;
    code = EXIT_FAIL;
    if (ntm_buf_addf(&tmp, "%s.tmp", out) != NTM_OK) {
        cli_error(_("cannot export: out of memory"));
        goto done;
    }
    /* One read snapshot for the count and the lines. */
    if (ntm_store_begin(ctx->store, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot read the store"));
        goto done;
    }
    in_tx = 1;
    if (ntm_store_entries(ctx->store, &q, count_cb, &s, &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot read the entries"));
        goto done;
    }
    total = s.count;
    s.count = 0;
    if (author && total == 0) {
        cli_error(_("no entries of author %s in this home: check the id with "
                    "'ntm whoami' on that device"),
                  author);
        goto done;
    }

    unlink(ntm_buf_str(&tmp));
    fd = open(ntm_buf_str(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || !(s.f = fdopen(fd, "w"))) {
        cli_error(_("cannot create '%s': %s"), ntm_buf_str(&tmp),
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
        goto done;
    }
    fd = -1; /* owned by s.f now */
    head = json_object();
    if (!head ||
        json_object_set_new(head, "ntm_bundle", json_integer(1)) != 0 ||
        json_object_set_new(head, "by", json_string(ctx->author)) != 0 ||
        json_object_set_new(head, "created_ms", json_integer(now)) != 0 ||
        json_object_set_new(head, "count", json_integer(total)) != 0 ||
        json_dumpf(head, s.f, JSON_COMPACT) != 0 || fputc('\n', s.f) == EOF) {
        s.failed = 1;
    } else if (ntm_store_entries(ctx->store, &q, write_cb, &s, &err) !=
               NTM_OK) {
        code = cli_fail(&err, _("cannot read the entries"));
        goto done;
    }
    if (s.failed || fflush(s.f) != 0 || fsync(fileno(s.f)) != 0) {
        cli_error(_("cannot write '%s': %s (is the disk full?)"),
                  ntm_buf_str(&tmp), strerror(errno));
        goto done;
    }
    if (s.count != total) {
        cli_error(_("the store changed while exporting: run 'ntm bundle "
                    "export' again"));
        goto done;
    }
    ntm_store_rollback(ctx->store);
    in_tx = 0;
    FILE *f = s.f;
    s.f = NULL;
    if (fclose(f) != 0) {
        cli_error(_("cannot write '%s': %s"), ntm_buf_str(&tmp),
                  strerror(errno));
        goto done;
    }
    if (rename(ntm_buf_str(&tmp), out) != 0) {
        cli_error(_("cannot rename '%s' to '%s': %s"), ntm_buf_str(&tmp), out,
                  strerror(errno));
        goto done;
    }
    ntm_buf_addf(&comment, "ntm bundle by %s, %lld entries, created_ms %lld",
                 ctx->author, (long long)total, (long long)now);
    if (ntm_minisign_sign_file(ctx->key, out, NULL, ntm_buf_str(&comment),
                               &err) != NTM_OK) {
        code = cli_fail(&err, _("cannot sign the bundle"));
        goto done;
    }
    if (ctx->json) {
        struct ntm_buf sig = NTM_BUF_INIT;
        ntm_buf_addf(&sig, "%s.minisig", out);
        code = cli_print_json(json_pack("{s:s, s:s, s:I, s:s, s:I}", "out", out,
                                        "minisig", ntm_buf_str(&sig), "count",
                                        (json_int_t)total, "by", ctx->author,
                                        "created_ms", (json_int_t)now));
        ntm_buf_release(&sig);
    } else {
        printf(_("wrote %lld entries to '%s' (signature '%s.minisig')\n"),
               (long long)total, out, out);
        code = EXIT_OK;
    }
done:
    if (s.f) {
        fclose(s.f);
        unlink(ntm_buf_str(&tmp));
    }
    if (in_tx)
        ntm_store_rollback(ctx->store);
    json_decref(head);
    ntm_buf_release(&tmp);
    ntm_buf_release(&comment);
    return code;
}

/* ------------------------------------------------------------------ */
/* Import: the format and the validation live in sync/bundle.c. */

static void
import_progress(void *ud, int64_t done, int64_t total)
{
    struct cli_ctx *ctx = ud;
    if (!cli_progress_enabled(ctx))
        return;
    char n1[32], n2[32], bar[40], line_text[160];
    cli_human_int(done, n1, sizeof(n1));
    cli_human_int(total > done ? total : done, n2, sizeof(n2));
    cli_progress_bar(done, total > done ? total : done, 30, bar, sizeof(bar));
    snprintf(line_text, sizeof(line_text), _("%simporting: %s of %s entries"),
             bar, n1, n2);
    cli_progress_show(ctx, line_text);
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
    char text[2 * NTM_ERROR_SIZE];
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
        cli_error(_("the signature '%s' does not verify against the key "
                    "%s named in the bundle: %s; the file was changed or "
                    "damaged on the way, so nothing was imported: export it "
                    "again"),
                  sig_path, res->by, cli_error_text(err, text, sizeof(text)));
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
    ntm_buf_addf(&sig_path, "%s.minisig", path);
    enum ntm_err rc =
        ntm_bundle_import(ctx->store, path, import_progress, ctx, &res, &err);
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
    const struct cli_option opts[] = {
        {CLI_OPT_STRING, "out", &out, "<file>",
         N_("export: the bundle to write")},
        {CLI_OPT_STRING, "author", &author, "<id>",
         N_("export: only this author's entries")},
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
        return bundle_export(ctx, out, author);
    }
    if (!strcmp(argv[0], "import")) {
        if (out || author)
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
