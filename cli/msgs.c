/* SPDX-License-Identifier: MIT */
/*
 * msgs.c - every message the ntm tool prints about itself goes through
 * here (curl tool_msgs.c): fixed prefixes, --quiet respected, the mapping
 * of library codes to the exit codes of SPEC.md section 8, JSON output,
 * and small helpers the commands share (field checks, record lookup,
 * passphrase prompt).
 *
 * Uses only the public libntm headers and libc; never sqlite3, libcurl or
 * libsodium directly.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* The fixed prefixes, translated where they are printed ("ntm: lỗi: "
 * in Vietnamese). */
#define MSG_ERROR   N_("ntm: error: ")
#define MSG_WARNING N_("ntm: warning: ")
#define MSG_HINT    N_("hint: ")

void
cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(_(MSG_ERROR), stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void
cli_warn(const struct cli_ctx *ctx, const char *fmt, ...)
{
    if (ctx && ctx->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs(_(MSG_WARNING), stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void
cli_note(const struct cli_ctx *ctx, const char *fmt, ...)
{
    if (ctx && ctx->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
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
    default:
        return NULL;
    }
}

int
cli_fail(const struct ntm_error *err, const char *what)
{
    const char *text = err ? ntm_error_text(err) : _("unknown failure");
    enum ntm_err code = err ? err->code : NTM_EINVAL;
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

int
cli_progress_enabled(const struct cli_ctx *ctx)
{
    return !ctx->quiet && isatty(STDERR_FILENO);
}

/* ------------------------------------------------------------------ */
/* Field checks */

static int
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

int
cli_valid_date(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        !all_digits(s, 4) || !all_digits(s + 5, 2) || !all_digits(s + 8, 2))
        return 0;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
            (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int max = mdays[m - 1] + (m == 2 && leap);
    return d <= max;
}

int
cli_valid_qty(const char *s)
{
    if (!s)
        return 0;
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++;
    if (i < 1 || i > 12)
        return 0;
    if (!s[i])
        return 1;
    if (s[i] != '.')
        return 0;
    size_t j = i + 1, k = j;
    while (s[k] >= '0' && s[k] <= '9')
        k++;
    return k > j && k - j <= 3 && !s[k];
}

int
cli_valid_period(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 4)
        return all_digits(s, 4) && s[0] != '0';
    if (n != 7 || s[4] != '-' || !all_digits(s, 4) || !all_digits(s + 5, 2) ||
        s[0] == '0')
        return 0;
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    return m >= 1 && m <= 12;
}

int
cli_check_field(const char *cmd, const char *field, const json_t *value)
{
    const char *s = json_is_string(value) ? json_string_value(value) : NULL;
    if (!strcmp(field, "date") && !cli_valid_date(s))
        return cli_usage_error(cmd,
                               _("invalid date '%s': give a real calendar date "
                                 "as YYYY-MM-DD, e.g. 2019-05-17"),
                               s ? s : "") == 0;
    if (!strcmp(field, "qty") && !cli_valid_qty(s))
        return cli_usage_error(cmd,
                               _("invalid quantity '%s': give a decimal number "
                                 "with up to 12 digits and 3 decimals, e.g. "
                                 "1.25"),
                               s ? s : "") == 0;
    if (!strcmp(field, "period") && !cli_valid_period(s))
        return cli_usage_error(cmd,
                               _("invalid period '%s': give a year YYYY or a "
                                 "month YYYY-MM"),
                               s ? s : "") == 0;
    if (!strcmp(field, "den") && json_is_integer(value) &&
        json_integer_value(value) <= 0)
        return cli_usage_error(cmd,
                               _("invalid denominator %lld: it must be "
                                 "greater than 0"),
                               (long long)json_integer_value(value)) == 0;
    if ((!strcmp(field, "num") || !strcmp(field, "people") ||
         !strcmp(field, "amount_vnd")) &&
        json_is_integer(value) && json_integer_value(value) < 0)
        return cli_usage_error(
                   cmd, _("invalid %s %lld: it must not be negative"), field,
                   (long long)json_integer_value(value)) == 0;
    return 1;
}

/* Fields whose values are integers in entries (SPEC.md section 3). */
static int
is_int_field(const char *f)
{
    return !strcmp(f, "people") || !strcmp(f, "amount_vnd") ||
           !strcmp(f, "num") || !strcmp(f, "den");
}

static int
valid_field_name(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || c == '_' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

json_t *
cli_parse_set(const char *cmd, const struct cli_list *sets)
{
    json_t *obj = json_object();
    if (!obj) {
        cli_error(_("cannot parse --set: out of memory"));
        return NULL;
    }
    for (int i = 0; i < sets->count; i++) {
        const char *item = sets->items[i];
        const char *eq = strchr(item, '=');
        if (!eq || !valid_field_name(item, (size_t)(eq - item))) {
            cli_usage_error(cmd,
                            _("invalid --set '%s': write FIELD=VALUE with a "
                              "lower-case field name, e.g. --set qty=2.5"),
                            item);
            goto fail;
        }
        char field[65];
        memcpy(field, item, (size_t)(eq - item));
        field[eq - item] = '\0';
        if (!strcmp(field, "deleted")) {
            cli_usage_error(cmd, _("the field 'deleted' cannot be set: use "
                                   "'ntm delete ID'"));
            goto fail;
        }
        if (json_object_get(obj, field)) {
            cli_usage_error(cmd, _("field '%s' is set twice"), field);
            goto fail;
        }
        json_t *v;
        if (is_int_field(field)) {
            int64_t n;
            if (ntm_parse_int64(eq + 1, -(INT64_C(1) << 53) + 1,
                                (INT64_C(1) << 53) - 1, &n) != NTM_OK) {
                cli_usage_error(cmd,
                                _("invalid --set %s='%s': %s takes a whole "
                                  "number"),
                                field, eq + 1, field);
                goto fail;
            }
            v = json_integer(n);
        } else {
            v = json_string(eq + 1);
            if (!v) {
                cli_usage_error(cmd,
                                _("invalid --set %s: the value is not "
                                  "valid UTF-8 text"),
                                field);
                goto fail;
            }
        }
        if (!v || json_object_set_new(obj, field, v) != 0) {
            cli_error(_("cannot parse --set: out of memory"));
            goto fail;
        }
        if (!cli_check_field(cmd, field, v))
            goto fail;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Records, time, passphrases */

int
cli_find_record(struct cli_ctx *ctx, const char *cmd, const char *id,
                char full[NTM_RECORD_ID_LEN + 1], json_t **rec)
{
    struct ntm_error err = {0};
    json_t *r = NULL;
    if (rec)
        *rec = NULL;
    size_t n = strlen(id);
    if (n < 6 || n > NTM_RECORD_ID_LEN || !ntm_is_lower_hex(id, n))
        return cli_usage_error(cmd,
                               _("invalid record id '%s': give the id printed "
                                 "by 'ntm record' or 'ntm list' (at least its "
                                 "first 6 hex characters)"),
                               id);
    enum ntm_err rc = ntm_store_record(ctx->store, id, &r, &err);
    if (rc == NTM_ENOENT) {
        cli_error(_("no record '%s' in this home: check the id with 'ntm "
                    "list' (or import the bundle that holds it)"),
                  id);
        return EXIT_FAIL;
    }
    if (rc != NTM_OK)
        return cli_fail(&err, _("cannot read the record"));
    const char *fid = json_string_value(json_object_get(r, "id"));
    if (!fid || strlen(fid) != NTM_RECORD_ID_LEN) {
        json_decref(r);
        cli_error(_("cannot read the record '%s': the store gave no id"), id);
        return EXIT_FAIL;
    }
    memcpy(full, fid, NTM_RECORD_ID_LEN + 1);
    if (rec)
        *rec = r;
    else
        json_decref(r);
    return EXIT_OK;
}

void
cli_format_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char iso[32];
    if (!gmtime_r(&t, &tm) || strftime(iso, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)ms);
    else
        cli_human_date(iso, out, 32);
}

int
cli_read_passphrase(const char *prompt, char *buf, size_t size)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct termios old, quiet;
    int have_tty = tcgetattr(fd, &old) == 0;
    if (have_tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    ssize_t w = write(fd, prompt, strlen(prompt));
    (void)w;
    size_t n = 0;
    int rc = -1;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (c == '\n' || c == '\r') {
            rc = 0;
            break;
        }
        if (n + 1 < size)
            buf[n++] = c;
    }
    buf[n < size ? n : size - 1] = '\0';
    if (have_tty)
        tcsetattr(fd, TCSAFLUSH, &old);
    w = write(fd, "\n", 1);
    (void)w;
    close(fd);
    if (rc != 0)
        ntm_memzero(buf, size);
    return rc;
}
