/* SPDX-License-Identifier: MIT */
/*
 * prompt.c - the passphrase prompt: read from /dev/tty (never stdin, which
 * may carry data) with echo off, the terminal restored afterwards, the
 * buffer wiped when nothing complete was read; and the same with echo on
 * for an answer that is not secret (a fingerprint to confirm, the
 * language of a new home).
 *
 * Uses only the public libntm headers and libc.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int
read_tty(const char *prompt, char *buf, size_t size, int echo)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct termios old, quiet;
    int have_tty = !echo && tcgetattr(fd, &old) == 0;
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
    if (!echo) {
        w = write(fd, "\n", 1);
        (void)w;
    }
    close(fd);
    if (rc != 0)
        ntm_memzero(buf, size);
    return rc;
}

int
cli_read_passphrase(const char *prompt, char *buf, size_t size)
{
    return read_tty(prompt, buf, size, 0);
}

int
cli_read_answer(const char *prompt, char *buf, size_t size)
{
    return read_tty(prompt, buf, size, 1);
}

int
cli_ask(const char *prompt, char *buf, size_t size)
{
    /* only when someone sits at the terminal */
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
        return -1;
    return read_tty(prompt, buf, size, 1);
}

int
cli_ask_new_passphrase(const char *prompt, const char *no_tty,
                       const char *differ, char *buf, size_t size)
{
    char again[1024];
    int rc = -1;
    if (cli_read_passphrase(prompt, buf, size) != 0) {
        cli_error("%s", no_tty);
        goto out;
    }
    if (!*buf) {
        cli_error(_("the passphrase is empty: type one, or use "
                    "--no-passphrase"));
        goto out;
    }
    if (cli_read_passphrase(_("the same passphrase again: "), again,
                            sizeof(again)) != 0 ||
        strcmp(buf, again) != 0) {
        cli_error("%s", differ);
        goto out;
    }
    rc = 0;
out:
    ntm_memzero(again, sizeof(again));
    return rc;
}
