/* SPDX-License-Identifier: MIT */
/*
 * msgs.c - every message the ntm tool prints about itself goes through
 * here (curl tool_msgs.c): fixed prefixes, --quiet respected, the mapping
 * of library codes to the exit codes of SPEC.md section 8 with their
 * hints, and JSON output. Terminal output (tables, the progress line,
 * control characters made visible) is output.c; --set and record lookup
 * fields.c; the passphrase prompt prompt.c.
 *
 * Uses only the public libntm headers and libc; never sqlite3, libcurl or
 * libsodium directly.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The fixed prefixes, translated where they are printed ("ntm: lỗi: "
 * in Vietnamese). */
#define MSG_ERROR   N_("ntm: error: ")
#define MSG_WARNING N_("ntm: warning: ")
#define MSG_HINT    N_("hint: ")

/* One line on stderr: prefix (may be NULL), message, newline; a progress
 * line in the way is ended first. */
static void
vline(const char *prefix, const char *fmt, va_list ap)
{
    cli_progress_done();
    if (prefix)
        fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void
cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(_(MSG_ERROR), fmt, ap);
    va_end(ap);
}

void
cli_warn(const struct cli_ctx *ctx, const char *fmt, ...)
{
    if (ctx && ctx->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vline(_(MSG_WARNING), fmt, ap);
    va_end(ap);
}

void
cli_note(const struct cli_ctx *ctx, const char *fmt, ...)
{
    if (ctx && ctx->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vline(NULL, fmt, ap);
    va_end(ap);
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    cli_progress_done();
    va_start(ap, fmt);
    fputs(_(MSG_ERROR), stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fputs(_(MSG_HINT), stderr);
    if (cmd && *cmd)
        fprintf(stderr, _("run 'ntm %s --help'\n"), cmd);
    else
        fputs(_("run 'ntm --help'\n"), stderr);
    return EXIT_USAGE;
}

int
cli_exit_code(enum ntm_err code)
{
    switch (code) {
    case NTM_OK:
        return EXIT_OK;
    case NTM_EUSAGE:
        return EXIT_USAGE;
    case NTM_ENET:
    case NTM_ETIMEOUT:
    case NTM_EUNAVAIL:
        return EXIT_UNREACHABLE;
    case NTM_EBADENTRY:
    case NTM_EBADSIG:
    case NTM_EFORK:
    case NTM_EGAP:
    case NTM_EUNKNOWNAUTHOR:
    case NTM_EREVOKED:
        return EXIT_REJECTED;
    default:
        return EXIT_FAIL;
    }
}

/* What to do about a failure of this kind, or NULL. */
static const char *
hint_for(enum ntm_err code)
{
    switch (code) {
    case NTM_EBUSY:
        return _("another ntm process is using the store: wait for it to "
                 "finish and retry");
    case NTM_EFULL:
        return _("the disk is full: free some space and retry (nothing "
                 "stored was lost)");
    case NTM_EREADONLY:
        return _("the home is read-only: check its permissions or give "
                 "another --home");
    case NTM_EIO:
        return _("the disk or memory card reported an error: what was "
                 "stored before is kept; check the card and its free "
                 "space, then retry (if it keeps failing, copy the home "
                 "folder to another disk)");
    case NTM_ECORRUPT:
        return _("the database file is damaged: keep a copy of it, then "
                 "restore a backup or sync a fresh home from the server");
    case NTM_EPASSPHRASE:
        return _("check the passphrase (NTM_PASSPHRASE or the prompt)");
    case NTM_ENOMEM:
        return _("close other programs and retry");
    case NTM_ENET:
    case NTM_ETIMEOUT:
    case NTM_EUNAVAIL:
        return _("nothing was lost: retry later");
    case NTM_ECONFIG:
        return _("check the plan files in the configuration folder "
                 "(NTM_CONFIG_DIR)");
    case NTM_EFORBIDDEN:
        return _("'ntm whoami' shows this device's role and scope; ask an "
                 "admin whose scope holds the unit");
    case NTM_EUNKNOWNAUTHOR:
        return _("ask an admin to enroll this device ('ntm whoami' prints "
                 "its author id), then pull or import the enrollment");
    case NTM_ESTALE:
        return _("run 'ntm pull', then retry");
    case NTM_ECLOCKSKEW:
        return _("set this device's date and time, then retry");
    default:
        return NULL;
    }
}

const char *
cli_strerror(enum ntm_err code)
{
    /* The texts of ntm_strerror are msgids of the "ntm" domain (N_() in
     * util/err.c). */
    return dgettext(NTM_TEXT_DOMAIN, ntm_strerror(code));
}

/*
 * A library error in the language of the messages: the library keeps the
 * message id (the untranslated format) and its arguments with the error,
 * and ntm_error_text_lang looks the id up in the same catalogue as the
 * tool's own messages.
 */
const char *
cli_error_text(const struct ntm_error *err, char *out, size_t size)
{
    if (!err) {
        snprintf(out, size, "%s", _("unknown failure"));
        return out;
    }
    return ntm_error_text_lang(err, cli_lang_vi() ? "vi" : "en", out, size);
}

int
cli_fail(const struct ntm_error *err, const char *what)
{
    char text[2 * NTM_ERROR_SIZE];
    cli_error_text(err, text, sizeof(text));
    enum ntm_err code = err ? err->code : NTM_EINVAL;
    cli_progress_done();
    if (what && *what)
        fprintf(stderr, "%s%s: %s\n", _(MSG_ERROR), what, text);
    else
        fprintf(stderr, "%s%s\n", _(MSG_ERROR), text);
    const char *hint = hint_for(code);
    if (hint)
        fprintf(stderr, "%s%s\n", _(MSG_HINT), hint);
    return cli_exit_code(code);
}

int
cli_print_json(json_t *v)
{
    if (!v) {
        cli_error(_("cannot build the JSON output: out of memory"));
        return EXIT_FAIL;
    }
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(v);
    if (!s) {
        cli_error(_("cannot build the JSON output: out of memory"));
        return EXIT_FAIL;
    }
    int bad = fputs(s, stdout) == EOF || fputc('\n', stdout) == EOF;
    free(s); /* jansson's allocator */
    if (bad || fflush(stdout) != 0) {
        cli_error(_("cannot write the output: %s"), strerror(errno));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

char *
cli_home_path(const struct cli_ctx *ctx, const char *name)
{
    struct ntm_buf b = NTM_BUF_INIT;
    if (ntm_buf_addf(&b, "%s/%s", ctx->home, name) != NTM_OK) {
        ntm_buf_release(&b);
        return NULL;
    }
    return ntm_buf_detach(&b, NULL);
}
