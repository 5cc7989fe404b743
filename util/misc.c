/* SPDX-License-Identifier: MIT */
/*
 * misc.c - small helpers every module shares: the clock, checked integer
 * parsing, the calendar date rule, whole-file reads, atomic file writes
 * and mkdir -p.
 *
 * Depends on libc only.
 */
#include "ntm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t
ntm_now_ms(void)
{
    int64_t now;
    const char *fixed = getenv("NTM_NOW_MS");
    if (!fixed || ntm_parse_int64(fixed, 0, INT64_MAX / 2, &now) != NTM_OK) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    const char *off = getenv("NTM_CLOCK_OFFSET_MS");
    int64_t delta;
    if (off &&
        ntm_parse_int64(off, -INT64_MAX / 4, INT64_MAX / 4, &delta) == NTM_OK)
        now += delta;
    return now;
}

enum ntm_err
ntm_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return NTM_EINVAL;
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return NTM_EINVAL;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return NTM_EINVAL;
    *out = v;
    return NTM_OK;
}

enum ntm_err
ntm_file_read(const char *path, size_t max, struct ntm_buf *b,
              struct ntm_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ntm_error_set_errno(err, errno == ENOENT ? NTM_ENOENT : NTM_EIO,
                                   errno, "cannot open '%s'", path);
    size_t total = 0;
    enum ntm_err rc = NTM_OK;
    for (;;) {
        if (ntm_buf_grow(b, 65536) != NTM_OK) {
            rc = ntm_error_set(err, NTM_ENOMEM, "out of memory reading '%s'",
                               path);
            break;
        }
        ssize_t n = read(fd, b->buf + b->len, b->alloc - b->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot read '%s'",
                                     path);
            break;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
        b->buf[b->len] = '\0';
        total += (size_t)n;
        if (total > max) {
            rc = ntm_error_set(err, NTM_ETOOLARGE,
                               "'%s' is larger than %zu bytes", path, max);
            break;
        }
    }
    close(fd);
    return rc;
}

static enum ntm_err
fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NTM_EIO;
    int r = fsync(fd);
    close(fd);
    return r == 0 ? NTM_OK : NTM_EIO;
}

enum ntm_err
ntm_file_write_atomic(const char *path, const void *data, size_t len, int mode,
                      struct ntm_error *err)
{
    struct ntm_buf tmp = NTM_BUF_INIT;
    enum ntm_err rc = NTM_OK;
    int fd = -1;

    if (ntm_buf_addf(&tmp, "%s.tmp.%ld", path, (long)getpid()) != NTM_OK)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
              mode);
    if (fd < 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot create '%s'",
                                 tmp.buf);
        goto out;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot write '%s'",
                                     tmp.buf);
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot sync '%s'",
                                 tmp.buf);
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp.buf, path) != 0) {
        rc = ntm_error_set_errno(err, NTM_EIO, errno, "cannot rename to '%s'",
                                 path);
        goto out;
    }
    fsync_dir_of(path);
out:
    if (fd >= 0)
        close(fd);
    if (rc != NTM_OK && tmp.buf)
        unlink(tmp.buf);
    ntm_buf_release(&tmp);
    return rc;
}

enum ntm_err
ntm_mkdir_p(const char *path, int mode, struct ntm_error *err)
{
    if (!*path) /* the loop below starts at path[1] */
        return ntm_error_set(err, NTM_EINVAL,
                             "cannot create a folder with an empty name");
    char *p = ntm_strdup(path);
    if (!p)
        return ntm_error_set(err, NTM_ENOMEM, "out of memory");
    enum ntm_err rc = NTM_OK;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
                rc = ntm_error_set_errno(err, NTM_EIO, errno,
                                         "cannot create folder '%s'", p);
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    ntm_free(p);
    return rc;
}

int
ntm_date_valid(const char *s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int i, y, m, d;

    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
        (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return 0;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 0;
    return 1;
}
