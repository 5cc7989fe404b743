/* SPDX-License-Identifier: MIT */
/*
 * bench_store.c - how fast the local replica signs, appends, verifies and
 * ingests entries, beside the raw Ed25519 rate of the same machine. A
 * benchmark, not a test: it prints figures and fails only when the
 * library does.
 *
 * In one run, on throw-away stores in a temporary folder:
 *   raw     ntm_key_sign and ntm_sign_verify of typical ~400-byte entries
 *           (the crypto/ layer over libsodium, nothing else);
 *   append  N record.create entries through ntm_record_create by the root
 *           key (so they are authorized), in ntm_store_begin/commit batches
 *           of 1000: one durable commit (synchronous=FULL) per 1000;
 *   verify  ntm_store_verify over the N entries (the `ntm verify` audit);
 *   ingest  the same N entries taken by a second store through
 *           ntm_store_ingest (NTM_SOURCE_BUNDLE), pages of 1000 read from
 *           the first store, each page in one transaction - the path of
 *           every replica and of the server;
 *   limit   the machine's single-core limit L for ingest: per entry one
 *           Ed25519 verify, one BLAKE2b-256 of its bytes and one SQLite
 *           INSERT (a rowid table, WAL, synchronous=FULL, a commit per
 *           1000 entries, as ingest) - what any replica that verifies
 *           and stores every entry must at least do (issue 14).
 * Around ingest it counts the user-space instructions per entry with the
 * CPU's counter (perf_event_open) where the machine has one.
 * --phases runs a subset (ingest needs append); --kv adds key=value lines
 * for bench/goals.sh.
 * The goal (issue 2) is append/raw-sign, verify/raw-verify and
 * ingest/raw-verify of at least 0.7. It also prints the peak RSS of the
 * process and how much verify grows the RSS on a store of N/10 entries
 * and of N entries: that growth must not depend on N.
 *
 * Uses only the public API (ntm.h) and SQLite for L.
 * Usage: bench_store [--n N] [--dir D] [--phases LIST] [--kv]
 */
#include "bench_util.h"
#include "ntm.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <sqlite3.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define BATCH     1000 /* entries per transaction (append and ingest) */
#define RAW_RING  1000 /* distinct messages cycled through by the raw loop */
#define RAW_BYTES 400  /* size of a typical record.create entry */

static const char *const usage =
    "usage: bench_store [--n <entries>] [--dir <folder>] [--phases <list>] "
    "[--kv]\n"
    "  --n       entries to append, verify and ingest (default 100000)\n"
    "  --dir     folder for the temporary stores (default $TMPDIR or /tmp)\n"
    "  --phases  comma-separated subset of raw,limit,append,verify,ingest\n"
    "            (default all; ingest needs append)\n"
    "  --kv      also print the figures as key=value lines at the end\n";

static void
die(const char *what, const struct ntm_error *err)
{
    fprintf(stderr, "bench_store: %s: %s\n", what,
            err ? ntm_error_text(err) : "failed");
    exit(1);
}

static double
now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Peak RSS of the process in kB (getrusage: kilobytes on Linux). */
static long
peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* User and system CPU seconds of the process so far. */
static void
cpu_s(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Reset the peak RSS (VmHWM) to the current RSS; 0 when the kernel lets
 * us (Linux 4.0 and later), -1 otherwise. */
static int
reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* raw: the crypto/ layer alone */

struct raw_rates {
    double sign, verify; /* operations per second */
};

static void
raw_message(char *buf, size_t cap, const char *author, long i)
{
    /* Shaped like a record.create entry, padded to RAW_BYTES. */
    int n = snprintf(buf, cap,
                     "{\"author\":\"%s\",\"body\":{\"fields\":{\"date\":"
                     "\"2019-05-17\",\"qty\":\"1.5\",\"task\":\"doan.rural_"
                     "roads_km\",\"title\":\"Hoạt động số %ld\",\"uom\":"
                     "\"km\"},\"id\":\"%032lx\",\"kind\":\"activity\","
                     "\"org\":\"doan\",\"unit\":\"72.710.25657\"},\"lc\":0,"
                     "\"op\":\"record.create\",\"prev\":null,\"seq\":%ld,"
                     "\"ts\":1700000000000,\"v\":1}",
                     author, i, (unsigned long)i, i + 1);
    while (n > 0 && (size_t)n < RAW_BYTES && (size_t)n + 1 < cap)
        buf[n++] = ' ';
    buf[n] = '\0';
}

static struct raw_rates
bench_raw(const struct ntm_key *key, long n)
{
    struct raw_rates r;
    char author[NTM_HEX_ID_LEN + 1];
    char(*msg)[RAW_BYTES + 64] = ntm_malloc(RAW_RING * sizeof(*msg));
    unsigned char(*sig)[NTM_SIGNATURE_BYTES] =
        ntm_malloc(RAW_RING * sizeof(*sig));
    if (!msg || !sig)
        die("raw", NULL);
    ntm_key_author(key, author);
    for (long i = 0; i < RAW_RING; i++)
        raw_message(msg[i], sizeof(msg[i]), author, i);

    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        long k = i % RAW_RING;
        if (ntm_key_sign(key, sig[k], msg[k], strlen(msg[k])) != NTM_OK)
            die("raw sign", NULL);
    }
    double t1 = now_s();
    for (long i = 0; i < n; i++) {
        long k = i % RAW_RING;
        if (ntm_sign_verify(sig[k], msg[k], strlen(msg[k]),
                            ntm_key_public(key)) != NTM_OK)
            die("raw verify", NULL);
    }
    double t2 = now_s();
    r.sign = (double)n / (t1 - t0);
    r.verify = (double)n / (t2 - t1);
    ntm_free(msg);
    ntm_free(sig);
    return r;
}

/* ------------------------------------------------------------------ */
/* limit: verify + hash + one insert per entry, on one core */

static void
sql_or_die(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench_store: limit: %s: %s\n", sql,
                msg ? msg : "failed");
        exit(1);
    }
}

/* L: n entries (a ring of RAW_RING signed messages), each verified,
 * hashed (BLAKE2b-256, hex, as an entry id) and inserted with its id,
 * bytes and signature into a rowid table, a commit per BATCH, with the
 * store's durability (WAL, synchronous=FULL). Returns entries/s. */
static double
bench_limit(const char *path, const struct ntm_key *key, long n)
{
    char author[NTM_HEX_ID_LEN + 1];
    char(*msg)[RAW_BYTES + 64] = ntm_malloc(RAW_RING * sizeof(*msg));
    unsigned char(*sig)[NTM_SIGNATURE_BYTES] =
        ntm_malloc(RAW_RING * sizeof(*sig));
    sqlite3 *db;
    sqlite3_stmt *ins;
    if (!msg || !sig)
        die("limit", NULL);
    ntm_key_author(key, author);
    for (long i = 0; i < RAW_RING; i++) {
        raw_message(msg[i], sizeof(msg[i]), author, i);
        if (ntm_key_sign(key, sig[i], msg[i], strlen(msg[i])) != NTM_OK)
            die("limit sign", NULL);
    }
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("limit: cannot open the SQLite file", NULL);
    sql_or_die(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE e(gseq INTEGER PRIMARY KEY, id TEXT NOT "
                   "NULL, bytes BLOB NOT NULL, sig BLOB NOT NULL)");
    if (sqlite3_prepare_v2(db, "INSERT INTO e(id, bytes, sig) VALUES(?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK)
        die("limit: prepare", NULL);

    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        long k = i % RAW_RING;
        size_t len = strlen(msg[k]);
        char id[NTM_HEX_ID_LEN + 1];
        if (i % BATCH == 0)
            sql_or_die(db, "BEGIN");
        if (ntm_sign_verify(sig[k], msg[k], len, ntm_key_public(key)) != NTM_OK)
            die("limit verify", NULL);
        ntm_hash_hex(id, msg[k], len);
        sqlite3_bind_text(ins, 1, id, NTM_HEX_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 2, msg[k], (int)len, SQLITE_STATIC);
        sqlite3_bind_blob(ins, 3, sig[k], NTM_SIGNATURE_BYTES, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die("limit: insert", NULL);
        sqlite3_reset(ins);
        if (i % BATCH == BATCH - 1 || i == n - 1)
            sql_or_die(db, "COMMIT");
    }
    double t = now_s() - t0;
    sqlite3_finalize(ins);
    sqlite3_close(db);
    ntm_free(msg);
    ntm_free(sig);
    return (double)n / t;
}

/* ------------------------------------------------------------------ */
/* instructions: the CPU's counter, user space only */

/* A counter of retired user-space instructions of this thread, started
 * disabled; -1 where the machine has none (virtual machines often). */
static int
instr_open(void)
{
    struct perf_event_attr pe;
    memset(&pe, 0, sizeof(pe));
    pe.type = PERF_TYPE_HARDWARE;
    pe.size = sizeof(pe);
    pe.config = PERF_COUNT_HW_INSTRUCTIONS;
    pe.disabled = 1;
    pe.exclude_kernel = 1;
    pe.exclude_hv = 1;
    return (int)syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
}

static void
instr_ctl(int fd, unsigned long op)
{
    if (fd >= 0)
        ioctl(fd, op, 0);
}

/* ------------------------------------------------------------------ */
/* append, verify, ingest */

static struct ntm_store *
store_new(const char *path, const char *root)
{
    struct ntm_error err = {0};
    struct ntm_store *st;
    if (ntm_store_open(&st, path, NTM_STORE_CREATE, &err) != NTM_OK)
        die(path, &err);
    if (ntm_store_set_root(st, root, &err) != NTM_OK)
        die("set root", &err);
    return st;
}

/* Append entries [from, to) as record.create by key; returns seconds. */
static double
bench_append(struct ntm_store *st, const struct ntm_key *key, long from,
             long to)
{
    struct ntm_error err = {0};
    double t0 = now_s();
    for (long i = from; i < to; i++) {
        char rid[NTM_RECORD_ID_LEN + 1], title[64];
        struct ntm_write_result res;
        if ((i - from) % BATCH == 0 && ntm_store_begin(st, &err) != NTM_OK)
            die("begin", &err);
        snprintf(title, sizeof(title), "Hoạt động số %ld", i);
        json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                              "doan.rural_roads_km", "date", "2019-05-17",
                              "qty", "1.5", "uom", "km", "title", title);
        if (!f)
            die("json_pack", NULL);
        if (ntm_record_create(st, key, "activity", "72.710.25657", "doan", f,
                              rid, &res, &err) != NTM_OK)
            die("record create", &err);
        json_decref(f);
        if (res.unenrolled)
            die("append: the root key is not authorized", NULL);
        if (((i - from) % BATCH == BATCH - 1 || i == to - 1) &&
            ntm_store_commit(st, &err) != NTM_OK)
            die("commit", &err);
    }
    return now_s() - t0;
}

struct verify_run {
    double seconds;
    long rss_growth_kb; /* peak RSS during verify minus RSS before */
};

static struct verify_run
bench_verify(struct ntm_store *st, long expect)
{
    struct verify_run v;
    struct ntm_error err = {0};
    json_t *rep = NULL;
    int exact = reset_peak_rss() == 0;
    long before = exact ? proc_status_kb("VmRSS") : peak_rss_kb();
    double t0 = now_s();
    if (ntm_store_verify(st, &rep, &err) != NTM_OK)
        die("verify", &err);
    v.seconds = now_s() - t0;
    long after = exact ? proc_status_kb("VmHWM") : peak_rss_kb();
    v.rss_growth_kb = after - before;
    json_int_t valid = json_integer_value(json_object_get(rep, "valid"));
    if (valid != expect ||
        json_array_size(json_object_get(rep, "invalid")) != 0 ||
        json_array_size(json_object_get(rep, "flagged")) != 0) {
        char *s = json_dumps(rep, JSON_COMPACT);
        fprintf(stderr, "bench_store: verify: unexpected report %.300s\n",
                s ? s : "?");
        exit(1);
    }
    json_decref(rep);
    return v;
}

/* One page of entries read from the source store, ingested afterwards. */
struct page {
    struct ntm_buf bytes; /* the page's entries back to back */
    size_t off[BATCH], len[BATCH];
    char sig[BATCH][NTM_SIG_B64_LEN + 1];
    int count;
    int64_t last_gseq;
};

static int
page_add(void *ud, const struct ntm_entry_view *e)
{
    struct page *p = ud;
    p->off[p->count] = p->bytes.len;
    p->len[p->count] = e->len;
    if (ntm_buf_add(&p->bytes, e->bytes, e->len) != NTM_OK)
        die("out of memory", NULL);
    snprintf(p->sig[p->count], sizeof(p->sig[0]), "%s", e->sig);
    p->last_gseq = e->gseq;
    p->count++;
    return 0;
}

struct ingest_run {
    double seconds;       /* wall clock, reads of the source excluded */
    double user_s, sys_s; /* CPU time of the same stretches */
};

/* Ingest every entry of from into to, pages of BATCH, each page in one
 * transaction. */
static struct ingest_run
bench_ingest(struct ntm_store *from, struct ntm_store *to, long expect,
             int instr_fd)
{
    struct ntm_error err = {0};
    struct page *p = ntm_calloc(1, sizeof(*p));
    struct ingest_run run = {0};
    long taken = 0;
    if (!p)
        die("out of memory", NULL);
    for (;;) {
        struct ntm_entry_query q = {0};
        q.after_gseq = p->last_gseq;
        q.limit = BATCH;
        ntm_buf_reset(&p->bytes);
        p->count = 0;
        if (ntm_store_entries(from, &q, page_add, p, &err) != NTM_OK)
            die("read entries", &err);
        if (p->count == 0)
            break;
        double t0 = now_s(), u0, s0, u1, s1;
        cpu_s(&u0, &s0);
        instr_ctl(instr_fd, PERF_EVENT_IOC_ENABLE);
        if (ntm_store_begin(to, &err) != NTM_OK)
            die("begin", &err);
        for (int i = 0; i < p->count; i++) {
            struct ntm_ingest_result r;
            if (ntm_store_ingest(to, p->bytes.buf + p->off[i], p->len[i],
                                 p->sig[i], NTM_SOURCE_BUNDLE, &r,
                                 &err) != NTM_OK)
                die("ingest", &err);
            if (r.verdict != NTM_OK || r.duplicate || r.flag != NTM_OK) {
                fprintf(stderr, "bench_store: ingest refused %s: %s\n", r.id,
                        r.message);
                exit(1);
            }
            taken++;
        }
        if (ntm_store_commit(to, &err) != NTM_OK)
            die("commit", &err);
        instr_ctl(instr_fd, PERF_EVENT_IOC_DISABLE);
        run.seconds += now_s() - t0;
        cpu_s(&u1, &s1);
        run.user_s += u1 - u0;
        run.sys_s += s1 - s0;
    }
    if (taken != expect) {
        fprintf(stderr, "bench_store: ingested %ld of %ld entries\n", taken,
                expect);
        exit(1);
    }
    ntm_buf_release(&p->bytes);
    ntm_free(p);
    return run;
}

static void
remove_store(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm", NULL};
    for (int i = 0; sfx[i]; i++) {
        char p[4200];
        snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
        unlink(p);
    }
}

/* Whether the comma-separated list has this phase. */
static int
has_phase(const char *list, const char *phase)
{
    size_t n = strlen(phase);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, phase, n) == 0)
            return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

int
main(int argc, char **argv)
{
    long n = 100000;
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *phases = "raw,limit,append,verify,ingest";
    int kv = 0;
    for (int i = 1; i < argc; i++) {
        int64_t v;
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc &&
            ntm_parse_int64(argv[i + 1], BATCH, 100000000, &v) == NTM_OK) {
            n = (long)v;
            i++;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            base = argv[++i];
        } else if (strcmp(argv[i], "--phases") == 0 && i + 1 < argc) {
            phases = argv[++i];
        } else if (strcmp(argv[i], "--kv") == 0) {
            kv = 1;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    int do_raw = has_phase(phases, "raw"), do_lim = has_phase(phases, "limit");
    int do_app = has_phase(phases, "append");
    int do_ver = has_phase(phases, "verify");
    int do_ing = has_phase(phases, "ingest");
    if ((do_ver || do_ing) && !do_app) {
        fputs("bench_store: verify and ingest need the append phase\n", stderr);
        return 2;
    }
    if (ntm_global_init() != NTM_OK)
        die("cannot initialise the library", NULL);

    char dir[4096], pa[4200], pb[4200], pl[4200];
    snprintf(dir, sizeof(dir), "%s/ntm-bench-store.XXXXXX", base);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_store: cannot create a folder in %s: %s\n", base,
                strerror(errno));
        return 1;
    }
    snprintf(pa, sizeof(pa), "%s/append.db", dir);
    snprintf(pb, sizeof(pb), "%s/ingest.db", dir);
    snprintf(pl, sizeof(pl), "%s/limit.db", dir);

    struct ntm_error err = {0};
    struct ntm_key *key;
    char author[NTM_HEX_ID_LEN + 1];
    if (ntm_key_generate(&key, &err) != NTM_OK)
        die("key", &err);
    ntm_key_author(key, author);

    printf("ntm store benchmark: N=%ld, batches of %d, %ld CPUs\n", n, BATCH,
           sysconf(_SC_NPROCESSORS_ONLN));
    struct raw_rates raw = {0};
    double limit = 0, append = 0, verify = 0, ingest = 0, instr = -1;
    if (do_raw) {
        raw = bench_raw(key, n);
        printf("raw sign:    %8.0f entries/s  (ntm_key_sign, %d-byte "
               "entries)\n",
               raw.sign, RAW_BYTES);
        printf("raw verify:  %8.0f entries/s  (ntm_sign_verify)\n", raw.verify);
        fflush(stdout);
    }
    if (do_lim) {
        limit = bench_limit(pl, key, n);
        printf("limit L:     %8.0f entries/s  (verify + BLAKE2b + one SQLite "
               "insert per entry, one core)\n",
               limit);
        remove_store(pl);
        fflush(stdout);
    }

    struct ntm_store *a = NULL, *b = NULL;
    struct verify_run small = {0}, full = {0};
    long tenth = n / 10 / BATCH * BATCH;
    if (do_app) {
        /* Append in two legs so that verify's memory is also measured on a
         * store of N/10 entries (untimed), then on all N. */
        a = store_new(pa, author);
        double t_app = bench_append(a, key, 0, tenth);
        if (do_ver)
            small = bench_verify(a, tenth);
        t_app += bench_append(a, key, tenth, n);
        append = (double)n / t_app;
        printf("append:      %8.0f entries/s  (%.1f s", append, t_app);
        if (do_raw)
            printf("; ratio to raw sign %.2f, to raw sign+verify %.2f",
                   append / raw.sign, append * (1 / raw.sign + 1 / raw.verify));
        printf(")\n");
        fflush(stdout);
    }
    if (do_ver) {
        full = bench_verify(a, n);
        verify = (double)n / full.seconds;
        printf("verify:      %8.0f entries/s  (%.1f s", verify, full.seconds);
        if (do_raw)
            printf("; ratio to raw verify %.2f", verify / raw.verify);
        printf(")\n");
        fflush(stdout);
    }
    if (do_ing) {
        int fd = instr_open(), open_errno = errno;
        uint64_t count = 0;
        b = store_new(pb, author);
        if (fd >= 0)
            ioctl(fd, PERF_EVENT_IOC_RESET, 0);
        struct ingest_run ing = bench_ingest(a, b, n, fd);
        ingest = (double)n / ing.seconds;
        printf("ingest:      %8.0f entries/s  (%.1f s", ingest, ing.seconds);
        if (do_raw)
            printf("; ratio to raw verify %.2f", ingest / raw.verify);
        if (do_lim)
            printf("; ratio to L %.2f", ingest / limit);
        printf(")\n");
        printf("ingest CPU:  %.1f s user, %.1f s system (%.0f us per entry",
               ing.user_s, ing.sys_s,
               (ing.user_s + ing.sys_s) * 1e6 / (double)n);
        if (do_raw)
            printf("; raw verify %.0f us", 1e6 / raw.verify);
        printf(")\n");
        if (fd >= 0 && read(fd, &count, sizeof(count)) == sizeof(count)) {
            instr = (double)count / (double)n;
            printf("ingest instructions: %.0f per entry (CPU counter, user "
                   "space)\n",
                   instr);
        } else {
            printf("ingest instructions: not counted (no CPU counter here: "
                   "%s)\n",
                   fd < 0 ? strerror(open_errno) : "read failed");
        }
        if (fd >= 0)
            close(fd);
    }
    if (do_ver)
        printf("verify RSS growth: %ld kB at N=%ld, %ld kB at N=%ld\n",
               small.rss_growth_kb, tenth, full.rss_growth_kb, n);
    printf("peak RSS:    %ld kB (whole run, getrusage ru_maxrss)\n",
           peak_rss_kb());
    if (kv)
        printf("kv n=%ld raw_sign=%.0f raw_verify=%.0f limit=%.0f "
               "append=%.0f verify=%.0f ingest=%.0f ingest_instr=%.0f\n",
               n, raw.sign, raw.verify, limit, append, verify, ingest, instr);

    if (b)
        ntm_store_close(b);
    if (a)
        ntm_store_close(a);
    ntm_key_free(key);
    remove_store(pa);
    remove_store(pb);
    rmdir(dir);
    return 0;
}
