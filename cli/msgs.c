/* SPDX-License-Identifier: MIT */
/*
 * msgs.c - every message the ntm tool prints about itself goes through
 * here (curl tool_msgs.c): fixed prefixes, --quiet respected, the mapping
 * of library codes to the exit codes of SPEC.md section 8, JSON output,
 * and small helpers the commands share (--set parsing, record lookup,
 * passphrase prompt). The record field rules are the library's
 * (ntm_field_valid and its parts).
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
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

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

int
cli_progress_enabled(const struct cli_ctx *ctx)
{
    return !ctx->quiet && isatty(STDERR_FILENO);
}

void
cli_put_padded(FILE *out, const char *s, size_t width)
{
    fputs(s, out);
    for (size_t w = ntm_text_width(s); w < width; w++)
        fputc(' ', out);
}

static void err_raw(const char *s);

/* The display width of the progress line shown last (0: none). */
static size_t progress_shown;

void
cli_progress_show(const struct cli_ctx *ctx, const char *text)
{
    if (!ctx || !cli_progress_enabled(ctx) || !text)
        return;
    struct winsize ws;
    size_t cols = 80;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
        cols = ws.ws_col;
    /* Keep the last column free: writing it wraps on some terminals. */
    size_t room = cols - 1, used = 0, bytes = 0;
    while (text[bytes]) {
        size_t n = ntm_text_char_len(text + bytes);
        char ch[5] = {0};
        memcpy(ch, text + bytes, n);
        size_t w = ntm_text_width(ch);
        if (used + w > room)
            break;
        used += w;
        bytes += n;
    }
    err_raw("\r");
    fwrite(text, 1, bytes, stderr);
    /* Blank what is left of a longer line shown before. */
    for (size_t w = used; w < progress_shown && w < room; w++)
        fputc(' ', stderr);
    fflush(stderr);
    progress_shown = used ? used : 1;
}

void
cli_progress_done(void)
{
    if (progress_shown)
        fputc('\n', stderr);
    progress_shown = 0;
}

void
cli_progress_bar(int64_t done, int64_t total, int width, char *out, size_t size)
{
    if (size == 0)
        return;
    if (width < 1 || (size_t)width + 4 > size) {
        out[0] = '\0';
        return;
    }
    int64_t d = done < 0 ? 0 : done > total ? total : done;
    int fill = total > 0 ? (int)(width * d / total) : 0;
    size_t o = 0;
    out[o++] = '[';
    for (int i = 0; i < width; i++)
        out[o++] = i < fill ? '=' : ' ';
    out[o++] = ']';
    out[o++] = ' ';
    out[o] = '\0';
}

/* ------------------------------------------------------------------ */
/* Text output: control characters made visible */

size_t
cli_escape_text(struct ntm_buf *out, const char *s, size_t n, int final)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n' || (c >= 0x20 && c < 0x7f)) {
            ntm_buf_addch(out, (char)c);
            i++;
            continue;
        }
        if (c < 0x80) { /* C0 and DEL */
            if (c == '\t')
                ntm_buf_adds(out, "\\t");
            else if (c == '\r')
                ntm_buf_adds(out, "\\r");
            else
                ntm_buf_addf(out, "\\x%02x", c);
            i++;
            continue;
        }
        size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        size_t k = 1;
        while (len && k < len && i + k < n &&
               ((unsigned char)s[i + k] & 0xc0) == 0x80)
            k++;
        if (len && k < len && i + k == n && !final)
            return i;          /* the rest of the character comes later */
        if (!len || k < len) { /* not UTF-8: a raw C1 byte, a stray byte */
            ntm_buf_addf(out, "\\x%02x", c);
            i++;
            continue;
        }
        if (c == 0xc2 && (unsigned char)s[i + 1] < 0xa0) /* U+0080-U+009F */
            ntm_buf_addf(out, "\\u%04x", (unsigned char)s[i + 1]);
        else
            ntm_buf_add(out, s + i, len);
        i += len;
    }
    return i;
}

/* A stdio stream (fopencookie) over fd that escapes what it is given. */
struct esc_stream {
    int fd;
    int raw;      /* 1: bytes pass through (cli_output_raw) */
    char pend[4]; /* the start of a UTF-8 character cut in two */
    size_t npend;
    FILE *installed; /* the stream, once installed */
};

static struct esc_stream esc_out = {STDOUT_FILENO, 0, {0}, 0, NULL};
static struct esc_stream esc_err = {STDERR_FILENO, 0, {0}, 0, NULL};

static int
write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t
esc_write(void *cookie, const char *buf, size_t n)
{
    struct esc_stream *es = cookie;
    if (es->raw)
        return write_all(es->fd, buf, n) == 0 ? (ssize_t)n : -1;
    struct ntm_buf in = NTM_BUF_INIT, out = NTM_BUF_INIT;
    ntm_buf_add(&in, es->pend, es->npend);
    ntm_buf_add(&in, buf, n);
    size_t used = cli_escape_text(&out, in.buf, in.len, 0);
    es->npend = in.len - used;
    memcpy(es->pend, in.buf + used, es->npend);
    int rc = write_all(es->fd, out.buf ? out.buf : "", out.len);
    ntm_buf_release(&in);
    ntm_buf_release(&out);
    return rc == 0 ? (ssize_t)n : -1;
}

static FILE *
esc_open(struct esc_stream *es, FILE *old, int mode)
{
    cookie_io_functions_t io = {NULL, esc_write, NULL, NULL};
    fflush(old);
    FILE *f = fopencookie(es, "w", io);
    if (f)
        setvbuf(f, NULL, mode, BUFSIZ);
    return f;
}

void
cli_output_init(int escape_stdout)
{
    if (!esc_err.installed &&
        (esc_err.installed = esc_open(&esc_err, stderr, _IONBF)) != NULL)
        stderr = esc_err.installed;
    if (escape_stdout && !esc_out.installed &&
        (esc_out.installed =
             esc_open(&esc_out, stdout,
                      isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF)) != NULL)
        stdout = esc_out.installed;
}

void
cli_output_raw(void)
{
    fflush(stdout);
    esc_out.raw = 1;
}

/* Write a control character itself on stderr (the progress line's \r). */
static void
err_raw(const char *s)
{
    fflush(stderr);
    esc_err.raw = 1;
    fputs(s, stderr);
    fflush(stderr);
    esc_err.raw = 0;
}

/* ------------------------------------------------------------------ */
/* Field checks */

/*
 * The usage error for a value of field that the record field rules
 * (ntm_field_valid) refuse: the rule is the library's, the words are the
 * tool's (they say what to type).
 */
static void
field_usage_error(const char *cmd, const char *field, const json_t *value)
{
    const char *s = json_is_string(value) ? json_string_value(value) : "";
    if (!strcmp(field, "date"))
        cli_usage_error(cmd,
                        _("invalid date '%s': give a real calendar date "
                          "as YYYY-MM-DD, e.g. 2019-05-17"),
                        s);
    else if (!strcmp(field, "qty"))
        cli_usage_error(cmd,
                        _("invalid quantity '%s': give a decimal number "
                          "with up to 12 digits and 3 decimals, e.g. "
                          "1.25"),
                        s);
    else if (!strcmp(field, "period"))
        cli_usage_error(cmd,
                        _("invalid period '%s': give a year YYYY or a "
                          "month YYYY-MM"),
                        s);
    else if (!strcmp(field, "den") && json_is_integer(value))
        cli_usage_error(cmd,
                        _("invalid denominator %lld: it must be "
                          "greater than 0"),
                        (long long)json_integer_value(value));
    else if (json_is_integer(value))
        cli_usage_error(cmd, _("invalid %s %lld: it must not be negative"),
                        field, (long long)json_integer_value(value));
    else
        cli_usage_error(cmd, _("invalid --set %s='%s'"), field, s);
}

/* The FIELD of --set FIELD=VALUE: the syntax of the option (lower-case
 * letters, digits after the first, '_'), not a record rule. */
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
        if (ntm_field_is_int(field)) {
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
        if (!ntm_field_valid(field, v)) {
            field_usage_error(cmd, field, v);
            goto fail;
        }
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
