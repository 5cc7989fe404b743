/* SPDX-License-Identifier: MIT */
/*
 * cmd_bundle.c - ntm bundle export | import: the sneakernet file of
 * SPEC.md section 7. Export streams the entries this replica holds (each
 * author's in seq order) to FILE.tmp, renames it to FILE and signs it
 * with minisign (FILE.minisig). Import checks that signature against the
 * bundle's "by" key, then takes every line through the same validation as
 * a push (ntm_store_ingest), 500 lines per transaction.
 *
 * Lines rejected only because an earlier entry is missing (gap, unknown
 * author) are retried after the others, so a bundle whose authors come in
 * any order imports whole.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_LINES  500
#define MAX_LINE     (1u << 20) /* an escaped 64 KiB entry fits easily */
#define MAX_REPORTED 50         /* rejected lines listed in human output */

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
/* Import */

struct pending {
    int64_t line;
    char *text;
};

struct import_state {
    struct cli_ctx *ctx;
    int64_t accepted, duplicates;
    json_t *flagged;  /* [{"line","entry","author","seq","code","message"}] */
    json_t *rejected; /* same shape */
    struct pending *retry;
    size_t nretry, capretry;
};

/*
 * Read one line into b (reset first). 1: a line, 0: end of file, -1: a
 * read error or a line longer than MAX_LINE (errno EFBIG).
 */
static int
read_line(FILE *f, struct ntm_buf *b)
{
    char chunk[8192];
    ntm_buf_reset(b);
    int got = 0;
    while (fgets(chunk, sizeof(chunk), f)) {
        got = 1;
        size_t n = strlen(chunk);
        if (ntm_buf_add(b, chunk, n) != NTM_OK)
            return -1;
        if (b->len > MAX_LINE) {
            errno = EFBIG;
            return -1;
        }
        if (n && chunk[n - 1] == '\n') {
            b->buf[--b->len] = '\0';
            if (b->len && b->buf[b->len - 1] == '\r')
                b->buf[--b->len] = '\0';
            return 1;
        }
    }
    if (ferror(f))
        return -1;
    return got;
}

static void
add_report(json_t *list, int64_t line, const struct ntm_ingest_result *r,
           const char *code, const char *message)
{
    json_t *o = json_object();
    if (!o)
        return;
    json_object_set_new(o, "line", json_integer(line));
    json_object_set_new(o, "entry",
                        r && r->id[0] ? json_string(r->id) : json_null());
    json_object_set_new(
        o, "author", r && r->author[0] ? json_string(r->author) : json_null());
    json_object_set_new(o, "seq",
                        r && r->seq >= 0 ? json_integer(r->seq) : json_null());
    json_object_set_new(o, "code", json_string(code ? code : "bad_entry"));
    json_object_set_new(o, "message", json_string(message ? message : ""));
    json_array_append_new(list, o);
}

/*
 * Take one bundle line. final: a gap or unknown author is a rejection
 * (otherwise the line is kept for a retry). Returns NTM_OK or a failure of
 * the replica itself (err set).
 */
static enum ntm_err
take_line(struct import_state *s, int64_t lineno, const char *text, size_t len,
          int final, struct ntm_error *err)
{
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *entry = json_object_get(o, "entry");
    json_t *sig = json_object_get(o, "sig");
    if (!json_is_object(o) || !json_is_string(entry) || !json_is_string(sig)) {
        add_report(s->rejected, lineno, NULL, "bad_entry",
                   o ? "the line has no \"entry\" and \"sig\" strings"
                     : "the line is not JSON");
        json_decref(o);
        return NTM_OK;
    }
    struct ntm_ingest_result r;
    memset(&r, 0, sizeof(r));
    enum ntm_err rc = ntm_store_ingest(
        s->ctx->store, json_string_value(entry), json_string_length(entry),
        json_string_value(sig), NTM_SOURCE_BUNDLE, &r, err);
    json_decref(o);
    if (rc != NTM_OK)
        return rc;
    if (r.verdict == NTM_OK) {
        if (r.duplicate)
            s->duplicates++;
        else
            s->accepted++;
        if (r.flag != NTM_OK)
            add_report(s->flagged, lineno, &r, ntm_err_wire_code(r.flag),
                       r.message);
        return NTM_OK;
    }
    if (!final && (r.verdict == NTM_EGAP || r.verdict == NTM_EUNKNOWNAUTHOR)) {
        if (s->nretry == s->capretry) {
            size_t cap = s->capretry ? s->capretry * 2 : 64;
            struct pending *p = ntm_realloc(s->retry, cap * sizeof(*s->retry));
            if (!p)
                return ntm_error_set(err, NTM_ENOMEM,
                                     "out of memory keeping line %lld",
                                     (long long)lineno);
            s->retry = p;
            s->capretry = cap;
        }
        char *copy = ntm_strndup(text, len);
        if (!copy)
            return ntm_error_set(err, NTM_ENOMEM,
                                 "out of memory keeping line %lld",
                                 (long long)lineno);
        s->retry[s->nretry].line = lineno;
        s->retry[s->nretry].text = copy;
        s->nretry++;
        return NTM_OK;
    }
    const char *wire = ntm_err_wire_code(r.verdict);
    add_report(s->rejected, lineno, &r, wire ? wire : "bad_entry",
               r.message[0] ? r.message : ntm_strerror(r.verdict));
    return NTM_OK;
}

/* Build the minisign public key text of author id hex. */
static int
minisign_pubkey_of(const char *hex, struct ntm_buf *out)
{
    unsigned char blob[2 + 8 + NTM_PUBLICKEY_BYTES];
    if (strlen(hex) != NTM_HEX_ID_LEN ||
        ntm_hex_decode(blob + 10, NTM_PUBLICKEY_BYTES, hex, NTM_HEX_ID_LEN) !=
            NTM_OK)
        return -1;
    blob[0] = 'E';
    blob[1] = 'd';
    ntm_minisign_keyid(blob + 2, blob + 10);
    char b64[64];
    ntm_b64_encode(b64, blob, sizeof(blob));
    return ntm_buf_addf(out, "untrusted comment: ntm device %s\n%s\n", hex,
                        b64) == NTM_OK
               ? 0
               : -1;
}

static int
print_import(struct cli_ctx *ctx, struct import_state *s, const char *path,
             const char *signature)
{
    size_t nrej = json_array_size(s->rejected);
    if (ctx->json) {
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "accepted", json_integer(s->accepted));
            json_object_set_new(o, "duplicates", json_integer(s->duplicates));
            json_object_set(o, "flagged", s->flagged);
            json_object_set(o, "rejected", s->rejected);
            json_object_set_new(o, "signature", json_string(signature));
        }
        int code = cli_print_json(o);
        return code != EXIT_OK ? code : nrej ? EXIT_REJECTED : EXIT_OK;
    }
    printf(_("imported '%s': %lld accepted, %lld duplicates, %zu rejected, %zu "
             "flagged\n"),
           path, (long long)s->accepted, (long long)s->duplicates, nrej,
           json_array_size(s->flagged));
    size_t i;
    json_t *x;
    json_array_foreach (s->rejected, i, x) {
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
    json_array_foreach (s->flagged, i, x) {
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

static int
bundle_import(struct cli_ctx *ctx, const char *path)
{
    struct ntm_error err = {0};
    struct import_state s;
    memset(&s, 0, sizeof(s));
    s.ctx = ctx;
    s.flagged = json_array();
    s.rejected = json_array();
    struct ntm_buf line = NTM_BUF_INIT, sig_path = NTM_BUF_INIT,
                   pub = NTM_BUF_INIT;
    json_t *head = NULL;
    const char *signature = "missing";
    int code = EXIT_FAIL, in_tx = 0;
    int64_t lineno = 1, declared = -1;
    FILE *f = fopen(path, "re");
    if (!s.flagged || !s.rejected) {
        cli_error(_("cannot import: out of memory"));
        goto done;
    }
    if (!f) {
        cli_error(_("cannot open the bundle '%s': %s"), path, strerror(errno));
        goto done;
    }
    int rl = read_line(f, &line);
    json_error_t jerr;
    if (rl == 1)
        head = json_loadb(line.buf, line.len, 0, &jerr);
    const char *by = json_string_value(json_object_get(head, "by"));
    if (rl != 1 || !json_is_object(head) ||
        json_integer_value(json_object_get(head, "ntm_bundle")) != 1 || !by ||
        strlen(by) != NTM_HEX_ID_LEN || !ntm_is_lower_hex(by, NTM_HEX_ID_LEN)) {
        cli_error(_("'%s' is not an ntm bundle (its first line must be "
                    "{\"ntm_bundle\":1,\"by\":...}): check the file name"),
                  path);
        goto done;
    }
    if (json_is_integer(json_object_get(head, "count")))
        declared = json_integer_value(json_object_get(head, "count"));

    ntm_buf_addf(&sig_path, "%s.minisig", path);
    if (access(ntm_buf_str(&sig_path), F_OK) == 0) {
        if (minisign_pubkey_of(by, &pub) != 0) {
            cli_error(_("cannot check the signature of '%s': out of memory"),
                      path);
            goto done;
        }
        if (ntm_minisign_verify_file(ntm_buf_str(&pub), path,
                                     ntm_buf_str(&sig_path), &err) != NTM_OK) {
            char text[2 * NTM_ERROR_SIZE];
            cli_error(
                _("the signature '%s' does not verify against the key "
                  "%s named in the bundle: %s; the file was changed or "
                  "damaged on the way, so nothing was imported: export it "
                  "again"),
                ntm_buf_str(&sig_path), by,
                cli_error_text(&err, text, sizeof(text)));
            goto done;
        }
        signature = "verified";
        cli_note(ctx, _("signature verified: the bundle was made by %s"), by);
    } else {
        cli_warn(ctx,
                 _("'%s' has no signature file '%s': importing anyway "
                   "(every entry is still verified)"),
                 path, ntm_buf_str(&sig_path));
    }

    int64_t in_batch = 0, lines = 0;
    for (;;) {
        rl = read_line(f, &line);
        if (rl < 0) {
            cli_error(_("cannot read the bundle '%s' after line %lld: %s"),
                      path, (long long)lineno, strerror(errno));
            goto done;
        }
        if (rl == 0)
            break;
        lineno++;
        if (line.len == 0)
            continue;
        lines++;
        if (!in_tx) {
            if (ntm_store_begin(ctx->store, &err) != NTM_OK) {
                code = cli_fail(&err, _("cannot write to the store"));
                goto done;
            }
            in_tx = 1;
        }
        if (take_line(&s, lineno, line.buf, line.len, 0, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot import the bundle"));
            goto done;
        }
        if (++in_batch == BATCH_LINES) {
            if (cli_progress_enabled(ctx)) {
                char n1[32], n2[32], line_text[160];
                cli_human_int(lines, n1, sizeof(n1));
                cli_human_int(declared > lines ? declared : lines, n2,
                              sizeof(n2));
                char bar[40];
                cli_progress_bar(lines, declared > lines ? declared : lines, 30,
                                 bar, sizeof(bar));
                snprintf(line_text, sizeof(line_text),
                         _("%simporting: %s of %s entries"), bar, n1, n2);
                cli_progress_show(ctx, line_text);
            }
            if (ntm_store_commit(ctx->store, &err) != NTM_OK) {
                in_tx = 0;
                code = cli_fail(&err, _("cannot save the imported entries"));
                goto done;
            }
            in_tx = 0;
            in_batch = 0;
        }
    }
    cli_progress_done();
    if (in_tx) {
        in_tx = 0;
        if (ntm_store_commit(ctx->store, &err) != NTM_OK) {
            code = cli_fail(&err, _("cannot save the imported entries"));
            goto done;
        }
    }
    if (declared >= 0 && declared != lines)
        cli_warn(ctx,
                 _("'%s' declares %lld entries but holds %lld lines: the "
                   "file may be truncated"),
                 path, (long long)declared, (long long)lines);

    /* Retry what waited for an earlier entry, while that makes progress. */
    int final = 0;
    while (s.nretry > 0) {
        struct pending *batch = s.retry;
        size_t n = s.nretry;
        s.retry = NULL;
        s.nretry = s.capretry = 0;
        enum ntm_err rc = ntm_store_begin(ctx->store, &err);
        for (size_t i = 0; i < n; i++) {
            if (rc == NTM_OK)
                rc = take_line(&s, batch[i].line, batch[i].text,
                               strlen(batch[i].text), final, &err);
            ntm_free(batch[i].text);
        }
        ntm_free(batch);
        if (rc == NTM_OK)
            rc = ntm_store_commit(ctx->store, &err);
        else
            ntm_store_rollback(ctx->store);
        if (rc != NTM_OK) {
            code = cli_fail(&err, _("cannot import the bundle"));
            goto done;
        }
        if (s.nretry == n)
            final = 1; /* no progress: the next pass reports them */
    }
    code = print_import(ctx, &s, path, signature);
done:
    if (in_tx)
        ntm_store_rollback(ctx->store);
    for (size_t i = 0; i < s.nretry; i++)
        ntm_free(s.retry[i].text);
    ntm_free(s.retry);
    if (f)
        fclose(f);
    json_decref(head);
    json_decref(s.flagged);
    json_decref(s.rejected);
    ntm_buf_release(&line);
    ntm_buf_release(&sig_path);
    ntm_buf_release(&pub);
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
