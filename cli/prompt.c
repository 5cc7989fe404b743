/* SPDX-License-Identifier: MIT */
/*
 * prompt.c - the prompts: read from /dev/tty (never stdin, which may carry
 * data); the passphrase with echo off, the terminal restored afterwards,
 * the buffer wiped when nothing complete was read; a plain answer (the
 * language of a new home) with echo on.
 *
 * Uses only the public libntm headers and libc.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

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

int
cli_ask(const char *prompt, char *buf, size_t size)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
        return -1;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
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
    close(fd);
    return rc;
}
