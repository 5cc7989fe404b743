/* SPDX-License-Identifier: MIT */
/*
 * test_powerloss.c - simulated power loss (RELIABILITY.md T04, threats #23
 * and #26), after SQLite's test6.c.
 *
 * A VFS shim wraps "unix". For every database, WAL and journal file it keeps
 * an image of the contents as of the last xSync and the list of writes and
 * truncations since then (the real file gets them all; xSync itself is not
 * passed on, since durability is what the shim models). At a chosen
 * operation the power goes off: that write, sync or truncation and every
 * later one fails, the store is closed, and the files are rebuilt from
 * their synced images with a chosen damage to the unsynced operations:
 * all dropped, all kept, a random subset (a reordering cut short), torn
 * 512-byte sectors, or torn sectors with garbage. The store is then
 * reopened through the real "unix" VFS and checked.
 *
 * The scenario is a device writing one entry per transaction; after each
 * commit the entry counts as acknowledged (the server took it; the test
 * keeps the server's head in memory) and the device records that with
 * ntm_store_peer_head_set, as sync/client.c does after a push.
 *
 * After each crash:
 *   - the store opens, PRAGMA integrity_check is ok, ntm_store_verify finds
 *     nothing wrong, and the derived state equals a rebuild;
 *   - the log holds seqs 1..head with head <= attempted (nothing invented)
 *     and the local peer head <= head (the file is a prefix of the commits);
 *   - synchronous=FULL: head >= acknowledged (0 lost);
 *   - NTM_STORE_SYNC_NORMAL: entries may be lost; once the device learns
 *     the server's head (ntm_store_peer_head_set), ntm_store_write refuses
 *     with NTM_ESTALE and writes nothing, instead of reusing a seq. When
 *     nothing was lost the next write takes seq head + 1.
 *
 * The shim is the default VFS while the device writes (ntm_store_open
 * passes a plain path to sqlite3_open_v2) and "unix" is made the default
 * again before the checks.
 *
 * Environment: NTM_POWERLOSS_SNAPSHOTS (crashes per mode, default 200),
 * NTM_POWERLOSS_DAMAGES (damaged images checked per crash, default 1),
 * NTM_POWERLOSS_SEED (default: from the clock; printed to replay a run).
 */
#include "store_helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

#define COMMUNE     "72.710.25657" /* Xã Thạnh Đức, Gò Dầu */
#define PL_VFS_NAME "ntm_powerloss"
#define PL_WRITES   10 /* entries a device writes per snapshot at most */
#define PL_SECTOR   512

static struct ntm_key *root, *rec1;
static char root_hex[65], rec1_hex[65];
static char template_db[400]; /* enrolled replica, no entry of rec1 yet */
static uint64_t rng_state;

static uint64_t
rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static long
rnd_below(long n)
{
    return n > 0 ? (long)(rnd() % (uint64_t)n) : 0;
}

static long
env_long(const char *name, long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    return end && *end == '\0' && n > 0 ? n : dflt;
}

/* ------------------------------------------------------------------ */
/* Files as the disk would hold them */

enum pl_kind { PL_WRITE, PL_TRUNCATE };

struct pl_op {
    enum pl_kind kind;
    sqlite3_int64 off; /* write offset, or the new size */
    int len;
    unsigned char *data;
};

struct pl_track {
    char *path;
    unsigned char *img; /* contents as of the last xSync */
    size_t len, cap;
    struct pl_op *ops; /* unsynced operations, in order */
    size_t nops, capops;
    struct pl_track *next;
};

static struct {
    sqlite3_vfs *real;
    struct pl_track *files;
    long ops;      /* writes, syncs and truncations of tracked files */
    long crash_at; /* the operation that cuts the power; -1: never */
    int crashed;
    int autockpt; /* wal_autocheckpoint for new connections; 0: default */
} pl;

static void
img_reserve(struct pl_track *t, size_t n)
{
    if (n <= t->cap)
        return;
    size_t cap = t->cap ? t->cap : 65536;
    while (cap < n)
        cap *= 2;
    t->img = realloc(t->img, cap);
    assert_non_null(t->img);
    t->cap = cap;
}

static void
img_write(struct pl_track *t, sqlite3_int64 off, const unsigned char *p,
          size_t n)
{
    size_t end = (size_t)off + n;
    img_reserve(t, end);
    if ((size_t)off > t->len)
        memset(t->img + t->len, 0, (size_t)off - t->len);
    memcpy(t->img + off, p, n);
    if (end > t->len)
        t->len = end;
}

static void
img_truncate(struct pl_track *t, sqlite3_int64 size)
{
    img_reserve(t, (size_t)size);
    if ((size_t)size > t->len)
        memset(t->img + t->len, 0, (size_t)size - t->len);
    t->len = (size_t)size;
}

static void
ops_clear(struct pl_track *t)
{
    for (size_t i = 0; i < t->nops; i++)
        free(t->ops[i].data);
    t->nops = 0;
}

static void
track_free(struct pl_track *t)
{
    ops_clear(t);
    free(t->ops);
    free(t->img);
    free(t->path);
    free(t);
}

static void
tracks_reset(void)
{
    while (pl.files) {
        struct pl_track *t = pl.files;
        pl.files = t->next;
        track_free(t);
    }
}

static struct pl_track *
track_find(const char *path)
{
    for (struct pl_track *t = pl.files; t; t = t->next)
        if (strcmp(t->path, path) == 0)
            return t;
    return NULL;
}

/* A file seen for the first time is taken as durable as it is. */
static struct pl_track *
track_get(const char *path)
{
    struct pl_track *t = track_find(path);
    if (t)
        return t;
    t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->path = strdup(path);
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        unsigned char buf[65536];
        ssize_t n;
        sqlite3_int64 off = 0;
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            img_write(t, off, buf, (size_t)n);
            off += n;
        }
        close(fd);
    }
    t->next = pl.files;
    pl.files = t;
    return t;
}

static void
track_op(struct pl_track *t, enum pl_kind kind, sqlite3_int64 off,
         const void *data, int len)
{
    if (t->nops == t->capops) {
        t->capops = t->capops ? 2 * t->capops : 64;
        t->ops = realloc(t->ops, t->capops * sizeof(*t->ops));
        assert_non_null(t->ops);
    }
    struct pl_op *o = &t->ops[t->nops++];
    o->kind = kind;
    o->off = off;
    o->len = len;
    o->data = NULL;
    if (data) {
        o->data = malloc((size_t)len);
        assert_non_null(o->data);
        memcpy(o->data, data, (size_t)len);
    }
}

static void
track_sync(struct pl_track *t)
{
    for (size_t i = 0; i < t->nops; i++) {
        struct pl_op *o = &t->ops[i];
        if (o->kind == PL_WRITE)
            img_write(t, o->off, o->data, (size_t)o->len);
        else
            img_truncate(t, o->off);
    }
    ops_clear(t);
}

/* One more operation on a tracked file: 1 when the power is (now) off. */
static int
pl_tick(void)
{
    if (pl.crashed)
        return 1;
    pl.ops++;
    if (pl.crash_at > 0 && pl.ops >= pl.crash_at) {
        pl.crashed = 1;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The shim */

struct pl_file {
    sqlite3_file base;
    struct pl_track *t; /* NULL: not tracked (temporary files) */
    sqlite3_file *real; /* the unix file, right after this struct */
};

#define REAL(f)  (((struct pl_file *)(f))->real)
#define TRACK(f) (((struct pl_file *)(f))->t)

static int
pl_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int
pl_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int
pl_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (TRACK(f)) {
        if (pl_tick())
            return SQLITE_IOERR_WRITE;
        track_op(TRACK(f), PL_WRITE, off, buf, n);
    }
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int
pl_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (TRACK(f)) {
        if (pl_tick())
            return SQLITE_IOERR_TRUNCATE;
        track_op(TRACK(f), PL_TRUNCATE, size, NULL, 0);
    }
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
pl_sync(sqlite3_file *f, int flags)
{
    if (!TRACK(f))
        return REAL(f)->pMethods->xSync(REAL(f), flags);
    if (pl_tick())
        return SQLITE_IOERR_FSYNC;
    track_sync(TRACK(f));
    return SQLITE_OK;
}

static int
pl_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
pl_lock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int
pl_unlock(sqlite3_file *f, int lock)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int
pl_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
pl_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
pl_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
pl_device_chars(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

/* The wal-index (-shm) is shared memory, rebuilt from the WAL after a
 * crash: passed through untouched. */
static int
pl_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int
pl_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
pl_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
pl_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* No memory-mapped reads: every read goes through xRead. */
static int
pl_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    (void)f;
    (void)off;
    (void)n;
    *pp = NULL;
    return SQLITE_OK;
}

static int
pl_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    (void)f;
    (void)off;
    (void)p;
    return SQLITE_OK;
}

static const sqlite3_io_methods pl_io = {
    3,
    pl_close,
    pl_read,
    pl_write,
    pl_truncate,
    pl_sync,
    pl_file_size,
    pl_lock,
    pl_unlock,
    pl_check_reserved,
    pl_file_control,
    pl_sector_size,
    pl_device_chars,
    pl_shm_map,
    pl_shm_lock,
    pl_shm_barrier,
    pl_shm_unmap,
    pl_fetch,
    pl_unfetch,
};

static int
pl_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
        int *out_flags)
{
    (void)vfs;
    struct pl_file *p = (struct pl_file *)f;
    p->real = (sqlite3_file *)(p + 1);
    p->t = NULL;
    int rc = pl.real->xOpen(pl.real, name, p->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (p->real->pMethods)
            p->real->pMethods->xClose(p->real);
        p->base.pMethods = NULL;
        return rc;
    }
    if (name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL |
                          SQLITE_OPEN_MAIN_JOURNAL)))
        p->t = track_get(name);
    p->base.pMethods = &pl_io;
    return SQLITE_OK;
}

/* Unlinking is taken as durable at once (SQLite syncs the directory). */
static int
pl_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    struct pl_track *t = track_find(name);
    if (t) {
        if (pl.crashed)
            return SQLITE_IOERR_DELETE;
        struct pl_track **pp = &pl.files;
        while (*pp != t)
            pp = &(*pp)->next;
        *pp = t->next;
        track_free(t);
    }
    return pl.real->xDelete(pl.real, name, sync_dir);
}

static sqlite3_vfs pl_vfs;

/* Every new connection: a small wal_autocheckpoint when asked, so that
 * some snapshots also cut the power during checkpoints and WAL restarts. */
static int
pl_autoext(sqlite3 *db, char **msg, const struct sqlite3_api_routines *api)
{
    (void)msg;
    (void)api;
    if (pl.autockpt > 0)
        sqlite3_wal_autocheckpoint(db, pl.autockpt);
    return SQLITE_OK;
}

static void
pl_install(void)
{
    pl.real = sqlite3_vfs_find("unix");
    assert_non_null(pl.real);
    pl_vfs = *pl.real;
    pl_vfs.iVersion = pl.real->iVersion;
    pl_vfs.szOsFile = (int)sizeof(struct pl_file) + pl.real->szOsFile;
    pl_vfs.zName = PL_VFS_NAME;
    pl_vfs.pNext = NULL;
    pl_vfs.pAppData = pl.real;
    pl_vfs.xOpen = pl_open;
    pl_vfs.xDelete = pl_delete;
    assert_int_equal(sqlite3_vfs_register(&pl_vfs, 0), SQLITE_OK);
    assert_int_equal(sqlite3_auto_extension((void (*)(void))pl_autoext),
                     SQLITE_OK);
}

/* The shim the default VFS (1) or "unix" again (0). */
static void
pl_default(int on)
{
    assert_int_equal(sqlite3_vfs_register(on ? &pl_vfs : pl.real, 1),
                     SQLITE_OK);
}

/* ------------------------------------------------------------------ */
/* Rebuilding the files after the power cut */

enum pl_damage {
    DMG_DROP,    /* every unsynced operation lost */
    DMG_KEEP,    /* every one reached the disk (as after kill -9) */
    DMG_SUBSET,  /* each reached it or not: a reordering cut short */
    DMG_TORN,    /* each 512-byte sector of a write reached it or not */
    DMG_GARBAGE, /* torn, and a sector that did not may hold garbage */
    DMG_COUNT
};

static const char *const damage_names[] = {"drop", "keep", "subset", "torn",
                                           "garbage"};

struct pl_stats {
    long unsynced; /* unsynced operations at the crash */
    long dropped;  /* of those, not (wholly) applied */
    long per_dmg[DMG_COUNT];
};

static void
write_whole(const char *path, const unsigned char *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        assert_true(w > 0);
        done += (size_t)w;
    }
    assert_int_equal(close(fd), 0);
}

/* Write every tracked file, damaged, into dir (same base names). */
static void
materialize(const char *dir, enum pl_damage dmg, struct pl_stats *ps)
{
    for (struct pl_track *src = pl.files; src; src = src->next) {
        struct pl_track t = {0};
        img_reserve(&t, src->len ? src->len : 1);
        if (src->len)
            memcpy(t.img, src->img, src->len);
        t.len = src->len;
        for (size_t i = 0; i < src->nops; i++) {
            struct pl_op *o = &src->ops[i];
            ps->unsynced++;
            if (o->kind == PL_TRUNCATE) {
                if (dmg == DMG_KEEP || (dmg != DMG_DROP && rnd_below(2)))
                    img_truncate(&t, o->off);
                else
                    ps->dropped++;
                continue;
            }
            switch (dmg) {
            case DMG_DROP:
                ps->dropped++;
                break;
            case DMG_KEEP:
                img_write(&t, o->off, o->data, (size_t)o->len);
                break;
            case DMG_SUBSET:
                if (rnd_below(2))
                    img_write(&t, o->off, o->data, (size_t)o->len);
                else
                    ps->dropped++;
                break;
            default: {
                int torn = 0;
                for (int s = 0; s < o->len; s += PL_SECTOR) {
                    int n = o->len - s < PL_SECTOR ? o->len - s : PL_SECTOR;
                    if (rnd_below(2)) {
                        img_write(&t, o->off + s, o->data + s, (size_t)n);
                    } else {
                        torn = 1;
                        if (dmg == DMG_GARBAGE && rnd_below(4) == 0) {
                            unsigned char junk[PL_SECTOR];
                            for (int j = 0; j < n; j++)
                                junk[j] = (unsigned char)rnd();
                            img_write(&t, o->off + s, junk, (size_t)n);
                        }
                    }
                }
                ps->dropped += torn;
            }
            }
        }
        const char *base = strrchr(src->path, '/');
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", dir, base ? base + 1 : src->path);
        write_whole(path, t.img, t.len);
        free(t.img);
    }
    ps->per_dmg[dmg]++;
}

/* ------------------------------------------------------------------ */
/* The scenario */

struct pl_run {
    int normal;    /* NTM_STORE_SYNC_NORMAL */
    int attempted; /* highest seq a write was started for */
    int acked;     /* highest seq the server acknowledged */
    char acked_id[NTM_HEX_ID_LEN + 1];
    char ids[PL_WRITES + 1][NTM_RECORD_ID_LEN + 1]; /* record of seq i */
    int mid_write; /* the power went off inside a call */
};

static json_t *
activity_fields(const char *title)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "task", "doan.rural_roads_km",
                     "date", "2017-03-05", "qty", "2.4", "uom", "km", "title",
                     title);
}

static void
copy_file(const char *from, const char *to)
{
    struct pl_track t = {0};
    int fd = open(from, O_RDONLY);
    assert_true(fd >= 0);
    unsigned char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        img_write(&t, (sqlite3_int64)t.len, buf, (size_t)n);
    close(fd);
    write_whole(to, t.img, t.len);
    free(t.img);
}

/* The device writes up to PL_WRITES entries through the shim until the
 * power goes off at operation crash_at (-1: never; the power then goes off
 * once it is idle). Returns the operations the run took. */
static long
device_run(const char *db, int normal, long crash_at, struct pl_run *r)
{
    memset(r, 0, sizeof(*r));
    r->normal = normal;
    tracks_reset();
    pl.ops = 0;
    pl.crash_at = crash_at;
    pl.crashed = 0;
    pl_default(1);

    struct ntm_store *st = NULL;
    struct ntm_error err;
    enum ntm_err rc =
        ntm_store_open(&st, db, normal ? NTM_STORE_SYNC_NORMAL : 0, &err);
    if (rc != NTM_OK) {
        if (!pl.crashed)
            fail_msg("open through the shim: %s", ntm_error_text(&err));
        r->mid_write = 1;
    }
    for (int i = 1; st && i <= PL_WRITES; i++) {
        char title[64];
        struct ntm_write_result w;
        snprintf(title, sizeof(title), "Đường ấp %d", i);
        json_t *f = activity_fields(title);
        r->attempted = i;
        rc = ntm_record_create(st, rec1, "activity", COMMUNE, "doan", f,
                               r->ids[i], &w, &err);
        json_decref(f);
        if (rc != NTM_OK) {
            if (!pl.crashed)
                fail_msg("write %d: %s", i, ntm_error_text(&err));
            r->mid_write = 1;
            break;
        }
        assert_int_equal(w.seq, i);
        /* Pushed: the server holds it now. */
        r->acked = i;
        snprintf(r->acked_id, sizeof(r->acked_id), "%s", w.id);
        rc = ntm_store_peer_head_set(st, rec1_hex, w.seq, w.id, &err);
        if (rc != NTM_OK) {
            if (!pl.crashed)
                fail_msg("peer head %d: %s", i, ntm_error_text(&err));
            r->mid_write = 1;
            break;
        }
    }
    long ops = pl.ops;
    pl.crashed = 1; /* the power is off (if it was not already) */
    ntm_store_close(st);
    pl_default(0);
    return ops;
}

static void
verify_clean(struct ntm_store *st, int64_t expect_entries)
{
    json_t *rep = NULL;
    struct ntm_error err;
    if (ntm_store_verify(st, &rep, &err) != NTM_OK)
        fail_msg("verify: %s", ntm_error_text(&err));
    if (json_array_size(json_object_get(rep, "invalid")) != 0 ||
        json_array_size(json_object_get(rep, "forks")) != 0) {
        char *s = json_dumps(rep, JSON_COMPACT);
        fail_msg("verify is not clean: %.400s", s);
    }
    assert_int_equal(json_integer_value(json_object_get(rep, "entries")),
                     expect_entries);
    json_decref(rep);
}

static void
state_matches_rebuild(struct ntm_store *st)
{
    struct ntm_error err;
    char *before = th_dump(st);
    if (ntm_store_rebuild(st, &err) != NTM_OK)
        fail_msg("rebuild: %s", ntm_error_text(&err));
    char *after = th_dump(st);
    assert_string_equal(before, after);
    ntm_free(before);
    ntm_free(after);
}

static int64_t
head_of(struct ntm_store *st, const char *author)
{
    int64_t head = 0;
    enum ntm_err rc = ntm_store_head(st, author, &head, NULL);
    if (rc == NTM_ENOENT)
        return 0;
    if (rc != NTM_OK)
        fail_msg("cannot read the head: %d", rc);
    return head;
}

struct pl_totals {
    long snapshots, checks, mid_write, idle;
    long lost_checks, lost_entries, max_lost;
    long refused;     /* NTM_ESTALE once the server's head was known */
    long local_blind; /* local peer head rolled back below the ack too */
    long wrote_next;  /* nothing lost: the next write took head + 1 */
    long beyond_ack;  /* head > acked (committed, not yet acked) */
    struct pl_stats ps;
};

/* Reopen one damaged image with the real VFS and check it. */
static void
check_image(const char *dir, const struct pl_run *r, struct pl_totals *tot,
            const char *what)
{
    char db[600];
    snprintf(db, sizeof(db), "%s/d.db", dir);
    struct ntm_store *st = NULL;
    struct ntm_error err;
    unsigned flags = r->normal ? NTM_STORE_SYNC_NORMAL : 0;
    if (ntm_store_open(&st, db, flags, &err) != NTM_OK)
        fail_msg("%s: reopen after the crash: %s", what, ntm_error_text(&err));
    if (ntm_store_check(st, 1, &err) != NTM_OK)
        fail_msg("%s: %s", what, ntm_error_text(&err));

    int64_t head = head_of(st, rec1_hex);
    if (head > r->attempted)
        fail_msg("%s: head %lld but only %d writes were started", what,
                 (long long)head, r->attempted);
    /* root's enrollment of rec1 plus rec1's own entries */
    verify_clean(st, 1 + head);
    for (int64_t i = 1; i <= head; i++) {
        json_t *rec = th_record(st, r->ids[i]);
        if (!rec)
            fail_msg("%s: record of seq %lld missing below head %lld", what,
                     (long long)i, (long long)head);
        json_decref(rec);
    }
    state_matches_rebuild(st);

    int64_t local_peer = 0;
    assert_int_equal(ntm_store_peer_head_get(st, rec1_hex, &local_peer, &err),
                     NTM_OK);
    if (local_peer > head)
        fail_msg("%s: the peer head (%lld) is ahead of the log (%lld): the "
                 "file is not a prefix of the commits",
                 what, (long long)local_peer, (long long)head);

    int64_t lost = r->acked > head ? r->acked - head : 0;
    if (lost && !r->normal)
        fail_msg("%s: synchronous=FULL lost %lld acknowledged entries "
                 "(acked %d, head %lld)",
                 what, (long long)lost, r->acked, (long long)head);
    if (lost) {
        tot->lost_checks++;
        tot->lost_entries += lost;
        if (lost > tot->max_lost)
            tot->max_lost = lost;
        if (local_peer < r->acked)
            tot->local_blind++;
    }
    if (head > r->acked)
        tot->beyond_ack++;

    /* The device learns what the server holds (next sync), then writes. */
    if (r->acked > 0)
        assert_int_equal(
            ntm_store_peer_head_set(st, rec1_hex, r->acked, r->acked_id, &err),
            NTM_OK);
    json_t *f = activity_fields("sau khi mất điện");
    char rid[NTM_RECORD_ID_LEN + 1];
    struct ntm_write_result w;
    enum ntm_err rc = ntm_record_create(st, rec1, "activity", COMMUNE, "doan",
                                        f, rid, &w, &err);
    json_decref(f);
    if (lost) {
        if (rc != NTM_ESTALE)
            fail_msg("%s: %lld acknowledged entries lost and the write "
                     "answered %d (seq %lld), not NTM_ESTALE",
                     what, (long long)lost, rc, (long long)w.seq);
        assert_int_equal(head_of(st, rec1_hex), head);
        tot->refused++;
    } else {
        if (rc != NTM_OK)
            fail_msg("%s: write after the crash: %s", what,
                     ntm_error_text(&err));
        assert_int_equal(w.seq, head + 1);
        assert_true(w.seq > r->acked);
        tot->wrote_next++;
    }
    assert_int_equal(ntm_store_check(st, 1, &err), NTM_OK);
    ntm_store_close(st);
    tot->checks++;
}

static void
run_mode(int normal)
{
    const char *mode = normal ? "NORMAL" : "FULL";
    long snapshots = env_long("NTM_POWERLOSS_SNAPSHOTS", 200);
    long damages = env_long("NTM_POWERLOSS_DAMAGES", 1);
    struct pl_totals tot = {0};
    struct pl_run r;
    char dir[500], db[600], cmd[700];

    /* Calibration: how many operations a whole run takes. */
    snprintf(dir, sizeof(dir), "%s/%s-cal", th_dir, mode);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(db, sizeof(db), "%s/d.db", dir);
    copy_file(template_db, db);
    long total = device_run(db, normal, -1, &r);
    assert_int_equal(r.acked, PL_WRITES);
    assert_true(total > PL_WRITES);

    for (long k = 0; k < snapshots; k++) {
        snprintf(dir, sizeof(dir), "%s/%s-%ld", th_dir, mode, k);
        assert_int_equal(mkdir(dir, 0700), 0);
        snprintf(db, sizeof(db), "%s/d.db", dir);
        copy_file(template_db, db);
        /* A third of the runs checkpoint every few pages. */
        pl.autockpt = rnd_below(3) == 0 ? 4 : 0;
        long at = 1 + rnd_below(total + total / 8);
        device_run(db, normal, at, &r);
        pl.autockpt = 0;
        tot.snapshots++;
        if (r.mid_write)
            tot.mid_write++;
        else
            tot.idle++;
        for (long d = 0; d < damages; d++) {
            char img[600], what[200];
            snprintf(img, sizeof(img), "%s/img%ld", dir, d);
            assert_int_equal(mkdir(img, 0700), 0);
            enum pl_damage dmg =
                (enum pl_damage)((k * damages + d + rnd_below(2)) % DMG_COUNT);
            materialize(img, dmg, &tot.ps);
            snprintf(what, sizeof(what),
                     "%s snapshot %ld (op %ld of %ld, %s, ckpt %s, acked %d)",
                     mode, k, at, total, damage_names[dmg],
                     pl.autockpt ? "small" : "default", r.acked);
            check_image(img, &r, &tot, what);
        }
        tracks_reset();
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void)system(cmd);
    }
    printf("# %s: %ld snapshots (%ld mid-write, %ld idle), %ld images "
           "checked (drop %ld, keep %ld, subset %ld, torn %ld, garbage %ld); "
           "%ld unsynced operations at the crashes, %ld dropped or torn\n",
           mode, tot.snapshots, tot.mid_write, tot.idle, tot.checks,
           tot.ps.per_dmg[DMG_DROP], tot.ps.per_dmg[DMG_KEEP],
           tot.ps.per_dmg[DMG_SUBSET], tot.ps.per_dmg[DMG_TORN],
           tot.ps.per_dmg[DMG_GARBAGE], tot.ps.unsynced, tot.ps.dropped);
    printf("# %s: %ld images lost acknowledged entries (%ld entries, at most "
           "%ld at once); %ld refused with NTM_ESTALE once the server's head "
           "was known; %ld of them had rolled back the local record of the "
           "ack too; %ld wrote seq head+1; %ld held a commit not yet acked\n",
           mode, tot.lost_checks, tot.lost_entries, tot.max_lost, tot.refused,
           tot.local_blind, tot.wrote_next, tot.beyond_ack);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s-cal'", th_dir, mode);
    (void)system(cmd);

    /* The shim did damage something, or the checks prove nothing. */
    assert_true(tot.ps.dropped > 0);
    if (normal) {
        /* NORMAL must show the rollback it exists to demonstrate. */
        assert_true(tot.lost_checks > 0);
        assert_int_equal(tot.refused, tot.lost_checks);
    } else {
        assert_int_equal(tot.lost_checks, 0);
    }
}

static void
test_powerloss_full(void **state)
{
    (void)state;
    run_mode(0);
}

static void
test_powerloss_normal(void **state)
{
    (void)state;
    run_mode(1);
}

static int
setup(void **state)
{
    (void)state;
    assert_int_equal(ntm_global_init(), NTM_OK);
    pl_install();
    long seed = env_long("NTM_POWERLOSS_SEED", 0);
    if (!seed)
        seed = (long)time(NULL) ^ (long)getpid();
    printf("# NTM_POWERLOSS_SEED=%ld\n", seed);
    rng_state = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + 1;
    root = th_key();
    rec1 = th_key();
    th_author(root, root_hex);
    th_author(rec1, rec1_hex);

    /* The replica every snapshot starts from: root pinned, rec1 enrolled,
     * closed cleanly (checkpointed: one file). */
    th_tmpdir();
    snprintf(template_db, sizeof(template_db), "%s/template.db", th_dir);
    struct ntm_store *st = NULL;
    struct ntm_error err;
    struct ntm_write_result w;
    assert_int_equal(ntm_store_open(&st, template_db, NTM_STORE_CREATE, &err),
                     NTM_OK);
    assert_int_equal(ntm_store_set_root(st, root_hex, &err), NTM_OK);
    assert_int_equal(ntm_device_enroll(st, root, rec1_hex, "recorder", COMMUNE,
                                       "Ấp Bến Đình", "doan", 1, &w, &err),
                     NTM_OK);
    ntm_store_close(st);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    tracks_reset();
    ntm_key_free(root);
    ntm_key_free(rec1);
    th_rmdir();
    return 0;
}

int
main(void)
{
    if (getenv("NTM_TEST_FILTER"))
        cmocka_set_test_filter(getenv("NTM_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_powerloss_full),
        cmocka_unit_test(test_powerloss_normal),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
