/* SPDX-License-Identifier: MIT */
/*
 * output.c - the tool's terminal output: padded table cells, the progress
 * line on stderr (only on a terminal, never with --quiet), times in the
 * tool's language, and the streams that make control characters visible
 * (\xNN), so that a text written by someone else (a record title, a unit
 * name from a bundle) can never move the cursor or rewrite the screen.
 *
 * Uses only the public libntm headers and libc.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

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

void
cli_format_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char iso[32];
    if (!localtime_r(&t, &tm) ||
        strftime(iso, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)ms);
    else
        cli_human_date(iso, out, 32);
}

int
cli_tz_valid(const char *tz)
{
    if (!tz || !*tz || strlen(tz) > 64 || strstr(tz, "..") || tz[0] == '/')
        return 0;
    if (!strcmp(tz, CLI_DEFAULT_TZ) || !strcmp(tz, "Asia/Saigon") ||
        !strcmp(tz, "UTC"))
        return 1;
    for (const char *p = tz; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (*p >= '0' && *p <= '9') || strchr("/_-+", *p)))
            return 0;
    char path[128];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
    return access(path, R_OK) == 0;
}

const char *
cli_tz_spec(const char *tz)
{
    char path[128];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
    if (access(path, R_OK) != 0 &&
        (!strcmp(tz, CLI_DEFAULT_TZ) || !strcmp(tz, "Asia/Saigon")))
        return "<+07>-7"; /* no zone database: Vietnam is UTC+7 all year */
    if (!strcmp(tz, "UTC") && access(path, R_OK) != 0)
        return "UTC0";
    return tz;
}
