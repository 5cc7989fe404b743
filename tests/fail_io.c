/* SPDX-License-Identifier: MIT */
/*
 * fail_io.c - an LD_PRELOAD shim that fails the N-th file system call of
 * one kind (RELIABILITY.md T05, the I/O-error sweep), for the real ntm
 * binary: the tool, or the server. It wraps what SQLite and ntm call
 * through the dynamic linker: open/open64/openat/openat64/fopen/fopen64
 * ("open"), pwrite/pwrite64 ("pwrite"), write ("write"), fsync,
 * fdatasync, ftruncate/ftruncate64 ("ftruncate") and rename/renameat/
 * renameat2 ("rename"). Calls glibc makes inside itself (fopen's open,
 * fwrite's write) are not seen, as with libfiu's posix preload.
 *
 * Environment (read once, at the first wrapped call):
 *   NTM_FAILIO_OP     the kind to fail (one of the names above); unset: the
 *                     shim only counts.
 *   NTM_FAILIO_N      fail the N-th call of that kind (1-based).
 *   NTM_FAILIO_MODE   "once" (default: only the N-th fails) or "persist"
 *                     (the N-th and every later one fail).
 *   NTM_FAILIO_ERRNO  EIO (default), ENOSPC, EDQUOT, EROFS or a number.
 *   NTM_FAILIO_PATH   count only calls on files whose absolute path starts
 *                     with this (a descriptor's path is read from
 *                     /proc/self/fd); unset: every file.
 *   NTM_FAILIO_ARM    count nothing until this file exists (a server is
 *                     armed after it started, so the sweep's N counts the
 *                     operation only).
 *   NTM_FAILIO_LOG    a file the shim appends to: "inject OP N PATH" at the
 *                     first injected failure, and at exit "calls OP COUNT
 *                     injected K" (no exit line after kill -9 or _exit).
 * A sweep runs the operation with N = 1, 2, ... until a run logs no
 * "inject" line: then the operation completed with every call before it
 * failed once (or from there on).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum fi_op {
    OP_NONE = -1,
    OP_OPEN,
    OP_PWRITE,
    OP_WRITE,
    OP_FSYNC,
    OP_FDATASYNC,
    OP_FTRUNCATE,
    OP_RENAME,
    OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "open", "pwrite", "write", "fsync", "fdatasync", "ftruncate", "rename"};

static int cfg_state; /* 0 not read, 1 read */
static int cfg_op = OP_NONE;
static long cfg_n;
static int cfg_persist;
static int cfg_errno = EIO;
static char cfg_path[PATH_MAX];
static size_t cfg_path_len;
static char cfg_arm[PATH_MAX];
static char cfg_log[PATH_MAX];
static int armed;
static long calls;    /* matching calls counted */
static long injected; /* failures injected */

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static FILE *(*real_fopen)(const char *, const char *);
static FILE *(*real_fopen64)(const char *, const char *);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned);

#define REAL(f)                                                                \
    do {                                                                       \
        if (!real_##f)                                                         \
            *(void **)&real_##f = dlsym(RTLD_NEXT, #f);                        \
    } while (0)

static void
copy_env(char *dst, size_t cap, const char *name)
{
    const char *v = getenv(name);
    dst[0] = '\0';
    if (v && strlen(v) < cap)
        memcpy(dst, v, strlen(v) + 1);
}

static void
config(void)
{
    if (__atomic_load_n(&cfg_state, __ATOMIC_ACQUIRE))
        return;
    const char *op = getenv("NTM_FAILIO_OP");
    if (op)
        for (int i = 0; i < OP_COUNT; i++)
            if (!strcmp(op, op_names[i]))
                cfg_op = i;
    const char *n = getenv("NTM_FAILIO_N");
    cfg_n = n ? strtol(n, NULL, 10) : 0;
    const char *m = getenv("NTM_FAILIO_MODE");
    cfg_persist = m && !strcmp(m, "persist");
    const char *e = getenv("NTM_FAILIO_ERRNO");
    if (e) {
        if (!strcmp(e, "ENOSPC"))
            cfg_errno = ENOSPC;
        else if (!strcmp(e, "EDQUOT"))
            cfg_errno = EDQUOT;
        else if (!strcmp(e, "EROFS"))
            cfg_errno = EROFS;
        else if (strcmp(e, "EIO") != 0 && strtol(e, NULL, 10) > 0)
            cfg_errno = (int)strtol(e, NULL, 10);
    }
    copy_env(cfg_path, sizeof cfg_path, "NTM_FAILIO_PATH");
    cfg_path_len = strlen(cfg_path);
    copy_env(cfg_arm, sizeof cfg_arm, "NTM_FAILIO_ARM");
    copy_env(cfg_log, sizeof cfg_log, "NTM_FAILIO_LOG");
    armed = cfg_arm[0] == '\0';
    __atomic_store_n(&cfg_state, 1, __ATOMIC_RELEASE);
}

/* Append one line to the log, with the real calls (never counted). */
static void
log_line(const char *fmt, ...)
{
    if (!cfg_log[0])
        return;
    char line[PATH_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof line)
        len = (int)sizeof line - 1;
    REAL(open);
    REAL(write);
    int saved = errno;
    int fd =
        real_open(cfg_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)real_write(fd, line, (size_t)len);
        close(fd);
    }
    errno = saved;
}

__attribute__((destructor)) static void
at_exit_log(void)
{
    if (cfg_state && cfg_op != OP_NONE)
        log_line("calls %s %ld injected %ld\n", op_names[cfg_op],
                 __atomic_load_n(&calls, __ATOMIC_RELAXED),
                 __atomic_load_n(&injected, __ATOMIC_RELAXED));
}

static int
path_matches(const char *path)
{
    if (!cfg_path_len)
        return 1;
    if (!path)
        return 0;
    if (path[0] == '/')
        return !strncmp(path, cfg_path, cfg_path_len);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return 0;
    size_t cl = strlen(cwd);
    if (cl >= cfg_path_len)
        return !strncmp(cwd, cfg_path, cfg_path_len);
    /* cwd is a prefix of the wanted path: compare the rest */
    if (strncmp(cwd, cfg_path, cl) != 0 || cfg_path[cl] != '/')
        return 0;
    return !strncmp(path, cfg_path + cl + 1, cfg_path_len - cl - 1);
}

static int
fd_path(int fd, char *buf, size_t cap)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, cap - 1);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* Whether this call of kind op on path (or fd when path is NULL) fails. */
static int
should_fail(int op, const char *path, int fd)
{
    int saved = errno;
    config();
    if (cfg_op != op || cfg_n <= 0) {
        errno = saved;
        return 0;
    }
    char buf[PATH_MAX];
    if (!path && fd >= 0) {
        if (fd_path(fd, buf, sizeof buf) != 0) {
            errno = saved;
            return 0;
        }
        path = buf;
    }
    if (!path_matches(path)) {
        errno = saved;
        return 0;
    }
    if (!__atomic_load_n(&armed, __ATOMIC_ACQUIRE)) {
        if (access(cfg_arm, F_OK) != 0) {
            errno = saved;
            return 0;
        }
        __atomic_store_n(&armed, 1, __ATOMIC_RELEASE);
    }
    long k = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
    if (k == cfg_n || (cfg_persist && k > cfg_n)) {
        if (__atomic_add_fetch(&injected, 1, __ATOMIC_RELAXED) == 1)
            log_line("inject %s %ld %s\n", op_names[op], k, path);
        errno = cfg_errno;
        return 1;
    }
    errno = saved;
    return 0;
}

static mode_t
mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE
               ? (mode_t)va_arg(ap, int)
               : 0;
}

int
open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    REAL(open);
    if (should_fail(OP_OPEN, path, -1))
        return -1;
    return real_open(path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    REAL(open64);
    if (should_fail(OP_OPEN, path, -1))
        return -1;
    return real_open64(path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    REAL(openat);
    if ((dirfd == AT_FDCWD || path[0] == '/') && should_fail(OP_OPEN, path, -1))
        return -1;
    return real_openat(dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    REAL(openat64);
    if ((dirfd == AT_FDCWD || path[0] == '/') && should_fail(OP_OPEN, path, -1))
        return -1;
    return real_openat64(dirfd, path, flags, mode);
}

FILE *
fopen(const char *path, const char *mode)
{
    REAL(fopen);
    if (should_fail(OP_OPEN, path, -1))
        return NULL;
    return real_fopen(path, mode);
}

FILE *
fopen64(const char *path, const char *mode)
{
    REAL(fopen64);
    if (should_fail(OP_OPEN, path, -1))
        return NULL;
    return real_fopen64(path, mode);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite);
    if (should_fail(OP_PWRITE, NULL, fd))
        return -1;
    return real_pwrite(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite64);
    if (should_fail(OP_PWRITE, NULL, fd))
        return -1;
    return real_pwrite64(fd, buf, n, off);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
    REAL(write);
    config();
    /* Only regular files: the terminal, pipes and sockets are not disk. */
    struct stat sb;
    if (cfg_op == OP_WRITE && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        should_fail(OP_WRITE, NULL, fd))
        return -1;
    return real_write(fd, buf, n);
}

int
fsync(int fd)
{
    REAL(fsync);
    if (should_fail(OP_FSYNC, NULL, fd))
        return -1;
    return real_fsync(fd);
}

int
fdatasync(int fd)
{
    REAL(fdatasync);
    if (should_fail(OP_FDATASYNC, NULL, fd))
        return -1;
    return real_fdatasync(fd);
}

int
ftruncate(int fd, off_t len)
{
    REAL(ftruncate);
    if (should_fail(OP_FTRUNCATE, NULL, fd))
        return -1;
    return real_ftruncate(fd, len);
}

int
ftruncate64(int fd, off_t len)
{
    REAL(ftruncate64);
    if (should_fail(OP_FTRUNCATE, NULL, fd))
        return -1;
    return real_ftruncate64(fd, len);
}

int
rename(const char *from, const char *to)
{
    REAL(rename);
    if (should_fail(OP_RENAME, to, -1))
        return -1;
    return real_rename(from, to);
}

int
renameat(int fd1, const char *from, int fd2, const char *to)
{
    REAL(renameat);
    if ((fd2 == AT_FDCWD || to[0] == '/') && should_fail(OP_RENAME, to, -1))
        return -1;
    return real_renameat(fd1, from, fd2, to);
}

int
renameat2(int fd1, const char *from, int fd2, const char *to, unsigned fl)
{
    REAL(renameat2);
    if ((fd2 == AT_FDCWD || to[0] == '/') && should_fail(OP_RENAME, to, -1))
        return -1;
    return real_renameat2(fd1, from, fd2, to, fl);
}
