/* SPDX-License-Identifier: MIT */
/*
 * bench_adversarial.c - what one entry costs the server at the start and at
 * the end of a long adversarial stream (issue 9). A benchmark, not a test:
 * it prints figures and ratios and fails only when the library does or when
 * the store gives an entry another verdict than the one the scenario means.
 *
 * Each kind runs on a fresh server store (NTM_STORE_SERVER|NTM_STORE_CREATE,
 * root key pinned) in a temporary folder. Entries are made by hand (compact
 * JSON, sorted keys, Ed25519 detached signature) so that author, seq, prev,
 * ts, op and body are exactly the scenario's, and taken through
 * ntm_store_ingest(NTM_SOURCE_PUSH) in transactions of 500 entries
 * (ntm_store_begin/commit), as the server takes a push batch. Building and
 * signing an entry is not timed; the ingest call is, and each transaction's
 * begin and commit are shared out evenly over its entries.
 *
 *   1 junk    a recorder of commune 72.710.25657 writes N device.enroll
 *             (random keys, role admin, scope its commune or another
 *             district): all forbidden, all kept in the log. Every 100 of
 *             them another recorder writes one legitimate record.create,
 *             timed on its own (row "1 legit": the first and the last 25
 *             of them, or a quarter when there are fewer than 100).
 *   2 chain   one record, then N record.update of it, each based on the
 *             previous one (a straight chain), setting qty and title.
 *   3 heads   one record, then N record.update by 10 recorders of the
 *             commune, every one based on the create (concurrent siblings)
 *             and setting qty: the record ends with N heads, all candidates
 *             of one conflict.
 *   4 enroll  a district admin enrolls N distinct recorder keys (all valid).
 *
 * For each kind it prints the mean wall and CPU (CLOCK_PROCESS_CPUTIME_ID)
 * time per entry over the first and the last W entries (W = 500, or N/4
 * when that is smaller) and the ratio last/first. The goal of issue 9 is a
 * wall-time ratio below 2 for every kind. A kind that runs longer than the
 * limit (120 s) is stopped; its ratio is then taken over what it did.
 *
 * Uses only the public API (ntm.h).
 * Usage: bench_adversarial [-n N] [--quick] [--kinds 1234] [--limit S]
 *                          [--dir D]
 * NTM_BENCH_QUICK=1 in the environment is --quick.
 */
#include "ntm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH        500 /* entries per transaction, the server's max_batch */
#define WINDOW       500 /* entries averaged at the start and at the end */
#define GOAL         2.0 /* last/first ratio to stay under */
#define LEGIT_GAP    100 /* kind 1: one legitimate entry per this many junk */
#define PROBE_WINDOW 25  /* kind 1: legitimate entries averaged */
#define SIBLINGS     10  /* kind 3: recorders writing the concurrent updates */
#define TS0          1700000000000LL /* ts of the first entry (ms) */

#define COMMUNE   "72.710.25657"
#define DISTRICT  "72.710"
#define ELSEWHERE "72.705"

static const char *const usage =
    "usage: bench_adversarial [-n <entries>] [--quick] [--kinds <digits>]\n"
    "                         [--limit <seconds>] [--dir <folder>]\n"
    "  -n, --n   adversarial entries per kind (default 10000)\n"
    "  --quick   smoke run: 1000 entries per kind, 30 s limit (also\n"
    "            NTM_BENCH_QUICK=1)\n"
    "  --kinds   which kinds to run, e.g. 13 (default 1234)\n"
    "  --limit   stop a kind after this many seconds (default 120)\n"
    "  --dir     folder for the temporary stores (default $TMPDIR or /tmp)\n";

static void
die(const char *what, const struct ntm_error *err)
{
    fprintf(stderr, "bench_adversarial: %s: %s\n", what,
            err ? ntm_error_text(err) : "failed");
    exit(1);
}

static double
clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Authors and their hand-made chains */

struct actor {
    struct ntm_key *key;
    char hex[NTM_HEX_ID_LEN + 1];
    int64_t seq; /* the last seq written (0: none) */
    char prev[NTM_HEX_ID_LEN + 1];
};

static void
actor_new(struct actor *a)
{
    struct ntm_error err = {0};
    memset(a, 0, sizeof(*a));
    if (ntm_key_generate(&a->key, &err) != NTM_OK)
        die("key", &err);
    ntm_key_author(a->key, a->hex);
}

static void
actor_free(struct actor *a)
{
    ntm_key_free(a->key);
    a->key = NULL;
}

/* The record id SPEC 3 binds to a record.create by author at seq: the
 * first 32 hex of BLAKE2b-256 of "<author>:<seq>". */
static void
record_id(char out[NTM_RECORD_ID_LEN + 1], const char *author, int64_t seq)
{
    char text[NTM_HEX_ID_LEN + 32], hex[NTM_HEX_ID_LEN + 1];
    int n = snprintf(text, sizeof(text), "%s:%lld", author, (long long)seq);
    ntm_hash_hex(hex, text, (size_t)n);
    memcpy(out, hex, NTM_RECORD_ID_LEN);
    out[NTM_RECORD_ID_LEN] = '\0';
}

static void
random_hex(char out[NTM_HEX_ID_LEN + 1])
{
    unsigned char raw[NTM_HEX_ID_LEN / 2];
    ntm_random(raw, sizeof(raw));
    ntm_hex_encode(out, raw, sizeof(raw));
}

/* ------------------------------------------------------------------ */
/* One kind's run: a store, the HLC, the open transaction and the timings */

enum cls { SETUP = -1, MAIN = 0, PROBE = 1 };

struct sample {
    double wall, cpu; /* seconds: the ingest call plus its share of the
                         transaction's begin and commit */
    int cls;
};

struct run {
    struct ntm_store *st;
    int64_t ts; /* ts of the next entry; lc stays 0 */
    /* the open transaction */
    int in_batch;
    long batch_first; /* first sample of the open transaction */
    double tx_wall, tx_cpu;
    /* timed entries */
    struct sample *s;
    long ns, cap;
};

static void
run_flush(struct run *r)
{
    struct ntm_error err = {0};
    if (r->in_batch == 0)
        return;
    double w0 = clock_s(CLOCK_MONOTONIC);
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (ntm_store_commit(r->st, &err) != NTM_OK)
        die("commit", &err);
    r->tx_wall += clock_s(CLOCK_MONOTONIC) - w0;
    r->tx_cpu += clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    for (long i = r->batch_first; i < r->ns; i++) {
        r->s[i].wall += r->tx_wall / r->in_batch;
        r->s[i].cpu += r->tx_cpu / r->in_batch;
    }
    r->in_batch = 0;
}

/* Make a's next entry (op, body taken), sign it and ingest it; the store
 * must take it with flag want (NTM_OK: it has effect). id (may be NULL)
 * receives the entry id. Samples it as cls unless SETUP. */
static void
put(struct run *r, struct actor *a, const char *op, json_t *body,
    enum ntm_err want, enum cls cls, char id[NTM_HEX_ID_LEN + 1])
{
    struct ntm_error err = {0};
    json_t *o =
        json_pack("{s:i, s:s, s:I, s:o, s:I, s:i, s:s, s:o}", "v", 1, "author",
                  a->hex, "seq", (json_int_t)(a->seq + 1), "prev",
                  a->seq ? json_string(a->prev) : json_null(), "ts",
                  (json_int_t)r->ts, "lc", 0, "op", op, "body", body);
    char *bytes = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!bytes)
        die("json", NULL);
    json_decref(o);
    size_t len = strlen(bytes);
    unsigned char sig[NTM_SIGNATURE_BYTES];
    char sig_b64[NTM_SIG_B64_LEN + 1], eid[NTM_HEX_ID_LEN + 1];
    if (ntm_key_sign(a->key, sig, bytes, len) != NTM_OK)
        die("sign", NULL);
    ntm_b64_encode(sig_b64, sig, sizeof(sig));
    ntm_hash_hex(eid, bytes, len);

    if (r->in_batch == 0) {
        double w0 = clock_s(CLOCK_MONOTONIC);
        double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (ntm_store_begin(r->st, &err) != NTM_OK)
            die("begin", &err);
        r->tx_wall = clock_s(CLOCK_MONOTONIC) - w0;
        r->tx_cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        r->batch_first = r->ns;
    }
    struct ntm_ingest_result res;
    double w0 = clock_s(CLOCK_MONOTONIC);
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (ntm_store_ingest(r->st, bytes, len, sig_b64, NTM_SOURCE_PUSH, &res,
                         &err) != NTM_OK)
        die("ingest", &err);
    double wall = clock_s(CLOCK_MONOTONIC) - w0;
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (res.verdict != NTM_OK || res.duplicate || res.flag != want) {
        fprintf(stderr,
                "bench_adversarial: %s seq %lld: verdict %s, flag %s "
                "(expected flag %s): %s\n",
                op, (long long)(a->seq + 1), ntm_strerror(res.verdict),
                ntm_strerror(res.flag), ntm_strerror(want), res.message);
        exit(1);
    }
    free(bytes);
    a->seq++;
    memcpy(a->prev, eid, sizeof(eid));
    if (id)
        memcpy(id, eid, sizeof(eid));
    r->ts++;

    if (cls != SETUP) {
        if (r->ns == r->cap) {
            long cap = r->cap ? 2 * r->cap : 4096;
            struct sample *s = realloc(r->s, (size_t)cap * sizeof(*s));
            if (!s)
                die("out of memory", NULL);
            r->s = s;
            r->cap = cap;
        }
        r->s[r->ns].wall = wall;
        r->s[r->ns].cpu = cpu;
        r->s[r->ns].cls = cls;
        r->ns++;
    }
    if (++r->in_batch == BATCH)
        run_flush(r);
}

static json_t *
enroll_body(const char *key, const char *role, const char *scope,
            const char *name)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "key", key, "role", role,
                     "scope", scope, "name", name, "org", "doan");
}

static json_t *
create_body(const char *rid, const char *title)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "id",
                     rid, "kind", "activity", "unit", COMMUNE, "org", "doan",
                     "fields", "task", "doan.rural_roads_km", "date",
                     "2017-03-05", "qty", "1.5", "uom", "km", "title", title);
}

/* record.update of rid based on the one entry base, setting qty (and
 * title when title is not NULL). */
static json_t *
update_body(const char *rid, const char *base, long i, const char *title)
{
    char qty[32];
    snprintf(qty, sizeof(qty), "%ld.5", i);
    json_t *set = title ? json_pack("{s:s, s:s}", "qty", qty, "title", title)
                        : json_pack("{s:s}", "qty", qty);
    return json_pack("{s:s, s:[s], s:o}", "id", rid, "base", base, "set", set);
}

/* Enroll a by root (setup, untimed). */
static void
enroll(struct run *r, struct actor *root, struct actor *a, const char *role,
       const char *scope)
{
    put(r, root, "device.enroll", enroll_body(a->hex, role, scope, "thiết bị"),
        NTM_OK, SETUP, NULL);
}

/* ------------------------------------------------------------------ */
/* The kinds */

struct opts {
    long n;
    double limit;
    const char *dir;
};

struct outcome {
    long want;   /* adversarial entries asked for */
    long done;   /* adversarial entries taken */
    int stopped; /* 1: stopped at the time limit */
    double seconds;
};

static int
over_limit(const struct opts *o, double t0)
{
    return clock_s(CLOCK_MONOTONIC) - t0 > o->limit;
}

static struct outcome
kind_junk(struct run *r, const struct opts *o, struct actor *root)
{
    struct outcome out = {0};
    struct actor junk, legit;
    actor_new(&junk);
    actor_new(&legit);
    enroll(r, root, &junk, "recorder", COMMUNE);
    enroll(r, root, &legit, "recorder", COMMUNE);
    run_flush(r);
    double t0 = clock_s(CLOCK_MONOTONIC);
    for (long i = 0; i < o->n; i++) {
        char key[NTM_HEX_ID_LEN + 1], name[64];
        random_hex(key);
        snprintf(name, sizeof(name), "rác %ld", i);
        put(r, &junk, "device.enroll",
            enroll_body(key, "admin", i % 2 ? ELSEWHERE : COMMUNE, name),
            NTM_EFORBIDDEN, MAIN, NULL);
        out.done++;
        if (i % LEGIT_GAP == LEGIT_GAP - 1) {
            char rid[NTM_RECORD_ID_LEN + 1], title[64];
            record_id(rid, legit.hex, legit.seq + 1);
            snprintf(title, sizeof(title), "Đường số %ld", i);
            put(r, &legit, "record.create", create_body(rid, title), NTM_OK,
                PROBE, NULL);
        }
        if (over_limit(o, t0)) {
            out.stopped = out.done < o->n;
            break;
        }
    }
    run_flush(r);
    out.seconds = clock_s(CLOCK_MONOTONIC) - t0;
    actor_free(&junk);
    actor_free(&legit);
    return out;
}

static struct outcome
kind_chain(struct run *r, const struct opts *o, struct actor *root)
{
    struct outcome out = {0};
    struct actor rec;
    char rid[NTM_RECORD_ID_LEN + 1], last[NTM_HEX_ID_LEN + 1];
    actor_new(&rec);
    enroll(r, root, &rec, "recorder", COMMUNE);
    record_id(rid, rec.hex, rec.seq + 1);
    put(r, &rec, "record.create", create_body(rid, "Đường liên ấp"), NTM_OK,
        SETUP, last);
    run_flush(r);
    double t0 = clock_s(CLOCK_MONOTONIC);
    for (long i = 0; i < o->n; i++) {
        char title[64];
        snprintf(title, sizeof(title), "Đường liên ấp, lần %ld", i);
        put(r, &rec, "record.update", update_body(rid, last, i, title), NTM_OK,
            MAIN, last);
        out.done++;
        if (over_limit(o, t0)) {
            out.stopped = out.done < o->n;
            break;
        }
    }
    run_flush(r);
    out.seconds = clock_s(CLOCK_MONOTONIC) - t0;
    actor_free(&rec);
    return out;
}

static struct outcome
kind_heads(struct run *r, const struct opts *o, struct actor *root)
{
    struct outcome out = {0};
    struct actor rec[SIBLINGS];
    char rid[NTM_RECORD_ID_LEN + 1], create[NTM_HEX_ID_LEN + 1];
    for (int k = 0; k < SIBLINGS; k++) {
        actor_new(&rec[k]);
        enroll(r, root, &rec[k], "recorder", COMMUNE);
    }
    record_id(rid, rec[0].hex, rec[0].seq + 1);
    put(r, &rec[0], "record.create", create_body(rid, "Nhà văn hoá ấp"), NTM_OK,
        SETUP, create);
    run_flush(r);
    double t0 = clock_s(CLOCK_MONOTONIC);
    for (long i = 0; i < o->n; i++) {
        put(r, &rec[i % SIBLINGS], "record.update",
            update_body(rid, create, i, NULL), NTM_OK, MAIN, NULL);
        out.done++;
        if (over_limit(o, t0)) {
            out.stopped = out.done < o->n;
            break;
        }
    }
    run_flush(r);
    out.seconds = clock_s(CLOCK_MONOTONIC) - t0;
    for (int k = 0; k < SIBLINGS; k++)
        actor_free(&rec[k]);
    return out;
}

static struct outcome
kind_enroll(struct run *r, const struct opts *o, struct actor *root)
{
    struct outcome out = {0};
    struct actor adm;
    actor_new(&adm);
    enroll(r, root, &adm, "admin", DISTRICT);
    run_flush(r);
    double t0 = clock_s(CLOCK_MONOTONIC);
    for (long i = 0; i < o->n; i++) {
        char key[NTM_HEX_ID_LEN + 1], name[64];
        random_hex(key);
        snprintf(name, sizeof(name), "máy %ld", i);
        put(r, &adm, "device.enroll",
            enroll_body(key, "recorder", COMMUNE, name), NTM_OK, MAIN, NULL);
        out.done++;
        if (over_limit(o, t0)) {
            out.stopped = out.done < o->n;
            break;
        }
    }
    run_flush(r);
    out.seconds = clock_s(CLOCK_MONOTONIC) - t0;
    actor_free(&adm);
    return out;
}

/* ------------------------------------------------------------------ */
/* Figures */

struct figures {
    long count, w; /* samples of the class, window */
    double first_wall, first_cpu, last_wall, last_cpu; /* us per entry */
};

/* Means over the first and the last w samples of class cls, w = window,
 * or count/4 when smaller (at least 1). */
static struct figures
figures_of(const struct run *r, enum cls cls, long window)
{
    struct figures f = {0};
    for (long i = 0; i < r->ns; i++)
        f.count += r->s[i].cls == cls;
    if (f.count == 0)
        return f;
    f.w = window < f.count / 4 ? window : f.count / 4;
    if (f.w < 1)
        f.w = 1;
    long k = 0;
    for (long i = 0; i < r->ns; i++) {
        if (r->s[i].cls != cls)
            continue;
        if (k < f.w) {
            f.first_wall += r->s[i].wall;
            f.first_cpu += r->s[i].cpu;
        }
        if (k >= f.count - f.w) {
            f.last_wall += r->s[i].wall;
            f.last_cpu += r->s[i].cpu;
        }
        k++;
    }
    f.first_wall *= 1e6 / (double)f.w;
    f.first_cpu *= 1e6 / (double)f.w;
    f.last_wall *= 1e6 / (double)f.w;
    f.last_cpu *= 1e6 / (double)f.w;
    return f;
}

struct row {
    const char *name;
    struct figures f;
    struct outcome out;
};

static void
print_row(const struct row *w)
{
    const struct figures *f = &w->f;
    char n[64];
    if (w->out.stopped)
        snprintf(n, sizeof(n), "%ld (stopped at %ld of %ld)", f->count,
                 w->out.done, w->out.want);
    else
        snprintf(n, sizeof(n), "%ld", f->count);
    double rw = f->first_wall > 0 ? f->last_wall / f->first_wall : 0;
    double rc = f->first_cpu > 0 ? f->last_cpu / f->first_cpu : 0;
    printf("%-9s %-30s %5ld %9.0f %7.0f %9.0f %7.0f %7.2f %6.2f  < %.0f  %s\n",
           w->name, n, f->w, f->first_wall, f->first_cpu, f->last_wall,
           f->last_cpu, rw, rc, GOAL, rw < GOAL ? "PASS" : "over");
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

typedef struct outcome (*kind_fn)(struct run *, const struct opts *,
                                  struct actor *);

int
main(int argc, char **argv)
{
    struct opts o = {10000, 120, NULL};
    const char *kinds = "1234";
    const char *q = getenv("NTM_BENCH_QUICK");
    int quick = q && *q && strcmp(q, "0") != 0, n_given = 0;
    o.dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        int64_t v;
        if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--n") == 0) &&
            i + 1 < argc &&
            ntm_parse_int64(argv[i + 1], 4, 100000000, &v) == NTM_OK) {
            o.n = (long)v;
            n_given = 1;
            i++;
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--kinds") == 0 && i + 1 < argc &&
                   argv[i + 1][0] &&
                   strspn(argv[i + 1], "1234") == strlen(argv[i + 1])) {
            kinds = argv[++i];
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc &&
                   ntm_parse_int64(argv[i + 1], 1, 86400, &v) == NTM_OK) {
            o.limit = (double)v;
            i++;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            o.dir = argv[++i];
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (quick) {
        if (!n_given)
            o.n = 1000;
        if (o.limit > 30)
            o.limit = 30;
    }
    if (ntm_global_init() != NTM_OK)
        die("cannot initialise the library", NULL);

    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/ntm-bench-adversarial.XXXXXX", o.dir);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_adversarial: cannot create a folder in %s: %s\n",
                o.dir, strerror(errno));
        return 1;
    }

    static const struct {
        char digit;
        const char *name, *what;
        kind_fn fn;
    } all[] = {
        {'1', "1 junk", "forbidden device.enroll by a recorder", kind_junk},
        {'2', "2 chain", "record.update chain of one record", kind_chain},
        {'3', "3 heads", "concurrent record.update of one record", kind_heads},
        {'4', "4 enroll", "device.enroll by a district admin", kind_enroll},
    };
    struct row rows[5];
    int nrows = 0;

    printf("ntm adversarial benchmark: N=%ld per kind%s, window %d, "
           "limit %.0f s per kind, %ld CPUs\n",
           o.n, quick ? " (quick)" : "", WINDOW, o.limit,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("server store (NTM_STORE_SERVER), ntm_store_ingest(NTM_SOURCE_PUSH)"
           ", transactions of %d entries (ntm_store_begin/commit, their "
           "time shared over their entries)\n",
           BATCH);
    fflush(stdout);

    for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
        if (!strchr(kinds, all[k].digit))
            continue;
        char path[4200];
        snprintf(path, sizeof(path), "%s/kind%c.db", dir, all[k].digit);
        struct ntm_error err = {0};
        struct run r = {0};
        struct actor root;
        actor_new(&root);
        if (ntm_store_open(&r.st, path, NTM_STORE_SERVER | NTM_STORE_CREATE,
                           &err) != NTM_OK)
            die(path, &err);
        if (ntm_store_set_root(r.st, root.hex, &err) != NTM_OK)
            die("set root", &err);
        r.ts = TS0;
        struct outcome out = all[k].fn(&r, &o, &root);
        out.want = o.n;
        printf("kind %s: %s: %ld entries in %.1f s%s\n", all[k].name,
               all[k].what, out.done, out.seconds,
               out.stopped ? " (stopped at the time limit)" : "");
        rows[nrows].name = all[k].name;
        rows[nrows].f = figures_of(&r, MAIN, WINDOW);
        rows[nrows].out = out;
        print_row(&rows[nrows]);
        nrows++;
        if (all[k].digit == '1') {
            /* the legitimate creates amid the junk (one per LEGIT_GAP):
             * the first and the last PROBE_WINDOW of them */
            rows[nrows].name = "1 legit";
            rows[nrows].f = figures_of(&r, PROBE, PROBE_WINDOW);
            rows[nrows].out = out;
            print_row(&rows[nrows]);
            nrows++;
        }
        fflush(stdout);
        ntm_store_close(r.st);
        free(r.s);
        actor_free(&root);
        remove_store(path);
    }
    rmdir(dir);

    printf("\nper-entry cost, us: mean over the first and the last W entries "
           "(wall, CPU); ratio = last/first; goal: wall ratio < %.0f\n",
           GOAL);
    printf("%-9s %-30s %5s %9s %7s %9s %7s %7s %6s  %-4s  %s\n", "kind", "N",
           "W", "first", "(cpu)", "last", "(cpu)", "ratio", "(cpu)", "goal",
           "");
    for (int i = 0; i < nrows; i++)
        print_row(&rows[i]);
    return 0;
}
