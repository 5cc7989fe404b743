/* SPDX-License-Identifier: MIT */
/*
 * subjrnl.c - the statement journal kept in memory past SQLite's own
 * piece: a VFS that is the default VFS in all but one thing.
 *
 * Every entry taken runs in a savepoint, and SQLite copies each page a
 * savepoint changes into the statement journal first. SQLite keeps that
 * journal in one piece of memory up to SQLITE_CONFIG_STMTJRNL_SPILL bytes
 * (init.c: 120 KiB; SQLite writes the piece in one write when it spills,
 * and its unix VFS cannot write more than 128 KiB at once), then moves it
 * to a temporary file, where it stays until the transaction ends. One
 * entry in a batch of a thousand that touches more than 30 pages (a
 * B-tree split) was enough: every later savepoint of the batch wrote its
 * pages to that file, two writes per page, about thirty system calls per
 * entry (a third of ingest's time at 10^5 entries).
 *
 * Here that "file" is a buffer that grows by doubling and is rewritten
 * from its start by each savepoint, as SQLite rewrites the file: no system
 * call, no allocation once it has grown. Past SUBJ_MEM_MAX bytes (a
 * rebuild's DELETE of 10^5 rows of the word index in one statement) it
 * becomes a real temporary file of the default VFS, so memory stays
 * bounded whatever one statement touches.
 *
 * Every other file (the store, its WAL, temporary tables) and every other
 * method is the default VFS's, looked up at each call: a test that makes
 * its own VFS the default (test_powerloss.c) still sees every write.
 */
#include "store_int.h"

#include <pthread.h>
#include <string.h>

#define SUBJ_VFS_NAME "ntm-subjournal"
#define SUBJ_MEM_MAX  (16 << 20)
/* Room for the default VFS's own file object in ours (unix: about 120
 * bytes; a test's wrapper adds a few dozen). */
#define SUBJ_OSFILE 1024
/* What a spill to the real file writes at once (unix: at most 128 KiB). */
#define SUBJ_PIECE (64 << 10)

struct subj_file {
    sqlite3_file base;
    unsigned char *buf; /* the journal while in memory */
    sqlite3_int64 size; /* its length */
    sqlite3_int64 cap;  /* bytes allocated */
    sqlite3_file *real; /* the temporary file, once past SUBJ_MEM_MAX */
    int flags;
};

static sqlite3_vfs subj_vfs;

static sqlite3_vfs *
under(void)
{
    return sqlite3_vfs_find(NULL);
}

static int
subj_close(sqlite3_file *f)
{
    struct subj_file *p = (struct subj_file *)f;
    int rc = SQLITE_OK;
    if (p->real) {
        rc = p->real->pMethods ? p->real->pMethods->xClose(p->real) : SQLITE_OK;
        sqlite3_free(p->real);
        p->real = NULL;
    }
    sqlite3_free(p->buf);
    p->buf = NULL;
    p->size = p->cap = 0;
    return rc;
}

static int
subj_read(sqlite3_file *f, void *out, int n, sqlite3_int64 off)
{
    struct subj_file *p = (struct subj_file *)f;
    if (p->real)
        return p->real->pMethods->xRead(p->real, out, n, off);
    if (off >= p->size) {
        memset(out, 0, (size_t)n);
        return SQLITE_IOERR_SHORT_READ;
    }
    sqlite3_int64 have = p->size - off;
    if (have < n) {
        memcpy(out, p->buf + off, (size_t)have);
        memset((unsigned char *)out + have, 0, (size_t)(n - have));
        return SQLITE_IOERR_SHORT_READ;
    }
    memcpy(out, p->buf + off, (size_t)n);
    return SQLITE_OK;
}

/* The journal leaves memory: a temporary file of the default VFS takes
 * its bytes, and every later call. */
static int
subj_spill(struct subj_file *p)
{
    sqlite3_vfs *u = under();
    sqlite3_file *r = sqlite3_malloc(u->szOsFile);
    if (!r)
        return SQLITE_IOERR_NOMEM;
    memset(r, 0, (size_t)u->szOsFile);
    int rc = u->xOpen(u, NULL, r, p->flags, NULL);
    for (sqlite3_int64 off = 0; rc == SQLITE_OK && off < p->size;
         off += SUBJ_PIECE) {
        sqlite3_int64 n = p->size - off;
        rc = r->pMethods->xWrite(r, p->buf + off,
                                 (int)(n < SUBJ_PIECE ? n : SUBJ_PIECE), off);
    }
    if (rc != SQLITE_OK) {
        if (r->pMethods)
            r->pMethods->xClose(r);
        sqlite3_free(r);
        return rc;
    }
    sqlite3_free(p->buf);
    p->buf = NULL;
    p->size = p->cap = 0;
    p->real = r;
    return SQLITE_OK;
}

static int
subj_write(sqlite3_file *f, const void *in, int n, sqlite3_int64 off)
{
    struct subj_file *p = (struct subj_file *)f;
    if (p->real)
        return p->real->pMethods->xWrite(p->real, in, n, off);
    sqlite3_int64 end = off + n;
    if (end > SUBJ_MEM_MAX) {
        int rc = subj_spill(p);
        return rc != SQLITE_OK ? rc
                               : p->real->pMethods->xWrite(p->real, in, n, off);
    }
    if (end > p->cap) {
        sqlite3_int64 cap = p->cap ? p->cap : 256 << 10;
        while (cap < end)
            cap *= 2;
        if (cap > SUBJ_MEM_MAX)
            cap = SUBJ_MEM_MAX;
        unsigned char *b = sqlite3_realloc64(p->buf, (sqlite3_uint64)cap);
        if (!b)
            return SQLITE_IOERR_NOMEM;
        p->buf = b;
        p->cap = cap;
    }
    if (off > p->size) /* a hole reads back as zeros, as in a file */
        memset(p->buf + p->size, 0, (size_t)(off - p->size));
    memcpy(p->buf + off, in, (size_t)n);
    if (end > p->size)
        p->size = end;
    return SQLITE_OK;
}

static int
subj_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    struct subj_file *p = (struct subj_file *)f;
    if (p->real)
        return p->real->pMethods->xTruncate(p->real, size);
    if (size < p->size)
        p->size = size;
    return SQLITE_OK;
}

static int
subj_sync(sqlite3_file *f, int flags)
{
    struct subj_file *p = (struct subj_file *)f;
    return p->real ? p->real->pMethods->xSync(p->real, flags) : SQLITE_OK;
}

static int
subj_size(sqlite3_file *f, sqlite3_int64 *size)
{
    struct subj_file *p = (struct subj_file *)f;
    if (p->real)
        return p->real->pMethods->xFileSize(p->real, size);
    *size = p->size;
    return SQLITE_OK;
}

static int
subj_lock(sqlite3_file *f, int level)
{
    (void)f;
    (void)level;
    return SQLITE_OK;
}

static int
subj_check_lock(sqlite3_file *f, int *out)
{
    (void)f;
    *out = 0;
    return SQLITE_OK;
}

static int
subj_control(sqlite3_file *f, int op, void *arg)
{
    (void)f;
    (void)op;
    (void)arg;
    return SQLITE_NOTFOUND;
}

static int
subj_sector(sqlite3_file *f)
{
    (void)f;
    return 512;
}

static int
subj_caps(sqlite3_file *f)
{
    (void)f;
    return SQLITE_IOCAP_SAFE_APPEND | SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

static const sqlite3_io_methods subj_methods = {
    1,
    subj_close,
    subj_read,
    subj_write,
    subj_truncate,
    subj_sync,
    subj_size,
    subj_lock,
    subj_lock,
    subj_check_lock,
    subj_control,
    subj_sector,
    subj_caps,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
};

static int
vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
         int *out_flags)
{
    (void)vfs;
    sqlite3_vfs *u = under();
    if (!(flags & SQLITE_OPEN_SUBJOURNAL) || name) {
        if (u->szOsFile > subj_vfs.szOsFile)
            return SQLITE_CANTOPEN;
        return u->xOpen(u, name, f, flags, out_flags);
    }
    struct subj_file *p = (struct subj_file *)f;
    memset(p, 0, sizeof(*p));
    p->flags = flags;
    p->base.pMethods = &subj_methods;
    if (out_flags)
        *out_flags = flags;
    return SQLITE_OK;
}

static int
vfs_delete(sqlite3_vfs *vfs, const char *name, int dir_sync)
{
    (void)vfs;
    return under()->xDelete(under(), name, dir_sync);
}

static int
vfs_access(sqlite3_vfs *vfs, const char *name, int what, int *out)
{
    (void)vfs;
    return under()->xAccess(under(), name, what, out);
}

static int
vfs_full(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return under()->xFullPathname(under(), name, n, out);
}

static void *
vfs_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return under()->xDlOpen(under(), name);
}

static void
vfs_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    under()->xDlError(under(), n, out);
}

static void (*vfs_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return under()->xDlSym(under(), h, sym);
}

static void
vfs_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    under()->xDlClose(under(), h);
}

static int
vfs_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return under()->xRandomness(under(), n, out);
}

static int
vfs_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return under()->xSleep(under(), us);
}

static int
vfs_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return under()->xCurrentTime(under(), out);
}

static int
vfs_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return under()->xGetLastError(under(), n, out);
}

static int
vfs_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    sqlite3_vfs *u = under();
    if (u->iVersion >= 2 && u->xCurrentTimeInt64)
        return u->xCurrentTimeInt64(u, out);
    double d;
    int rc = u->xCurrentTime(u, &d);
    *out = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

/* Registers the VFS, never as the default; once, after init.c. */
static void
subj_register(void)
{
    sqlite3_vfs *u = under();
    if (!u)
        return;
    {
        subj_vfs.iVersion = 2;
        subj_vfs.szOsFile = SUBJ_OSFILE;
        subj_vfs.mxPathname = u->mxPathname;
        subj_vfs.zName = SUBJ_VFS_NAME;
        subj_vfs.xOpen = vfs_open;
        subj_vfs.xDelete = vfs_delete;
        subj_vfs.xAccess = vfs_access;
        subj_vfs.xFullPathname = vfs_full;
        subj_vfs.xDlOpen = vfs_dlopen;
        subj_vfs.xDlError = vfs_dlerror;
        subj_vfs.xDlSym = vfs_dlsym;
        subj_vfs.xDlClose = vfs_dlclose;
        subj_vfs.xRandomness = vfs_random;
        subj_vfs.xSleep = vfs_sleep;
        subj_vfs.xCurrentTime = vfs_time;
        subj_vfs.xGetLastError = vfs_last_error;
        subj_vfs.xCurrentTimeInt64 = vfs_time64;
        if ((int)sizeof(struct subj_file) > SUBJ_OSFILE ||
            u->szOsFile > SUBJ_OSFILE ||
            sqlite3_vfs_register(&subj_vfs, 0) != SQLITE_OK) {
            subj_vfs.zName = NULL;
        }
    }
}

/* The VFS name ntm_store_open passes to SQLite; NULL (the default VFS)
 * when it could not be registered. */
const char *
Ntm_subjournal_vfs(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, subj_register);
    return subj_vfs.zName;
}
