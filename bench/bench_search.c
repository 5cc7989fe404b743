/* SPDX-License-Identifier: MIT */
/*
 * bench_search.c - how fast word search answers on a large store. A
 * benchmark, not a test: it prints figures and fails only when the library
 * does.
 *
 * Builds a throw-away store of N records (default 10^6; --n 100000 when
 * time is short: the figure printed says which) through ntm_record_create
 * by the root key, in ntm_store_begin/commit batches of 1000, with
 * Vietnamese titles drawn from a small vocabulary (one record in 1000 is
 * "Sửa chữa đường đất ấp Bến Đình"), spread over hamlets created by
 * unit.create. Then it closes the store, opens it again and runs each of
 * several word searches (as `ntm list <text>` does: ntm_store_records with
 * the text, the first page of 100) R times, printing for each the median
 * and the slowest time in ms and the records returned; and the process's
 * RSS (VmRSS, and the peak VmHWM) after the searches.
 *
 * Uses only the public API (ntm.h). Usage: bench_search [--n N] [--runs R]
 * [--dir D]
 */
#include "bench_util.h"
#include "ntm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH   1000
#define HAMLETS 20
#define COMMUNE "72.710.25657"

static const char *const usage =
    "usage: bench_search [--n <records>] [--runs <r>] [--dir <folder>]\n"
    "  --n     records in the store (default 1000000)\n"
    "  --runs  times each search is run (default 9; the median is shown)\n"
    "  --dir   folder for the temporary store (default $TMPDIR or /tmp)\n";

static void
die(const char *what, const struct ntm_error *err)
{
    fprintf(stderr, "bench_search: %s: %s\n", what,
            err ? ntm_error_text(err) : "failed");
    exit(1);
}

static double
now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* xorshift64*: the same store on every run. */
static uint64_t seed = 0x9e3779b97f4a7c15ULL;
static unsigned
next(unsigned n)
{
    seed ^= seed >> 12;
    seed ^= seed << 25;
    seed ^= seed >> 27;
    return (unsigned)((seed * 2685821657736338717ULL) >> 33) % n;
}

static const char *const acts[] = {
    "Sửa chữa",  "Làm mới",  "Nâng cấp", "Vệ sinh",  "Bê tông hóa",
    "Trồng cây", "Thăm hỏi", "Hỗ trợ",   "Xây dựng", "Nạo vét",
};
static const char *const things[] = {
    "đường đất",
    "cầu khỉ",
    "kênh mương",
    "nhà văn hóa",
    "trường học",
    "hộ nghèo",
    "đường giao thông nông thôn",
    "cống thoát nước",
    "chợ",
    "đèn đường",
};
static const char *const hamlet_names[HAMLETS] = {
    "Bến Đình",   "Thạnh Hòa", "Bàu Đồn",   "Rạch Sơn",  "Cây Da",
    "Suối Cao",   "Phước Hội", "An Thới",   "Bình Hòa",  "Trà Võ",
    "Hiệp Thạnh", "Cẩm An",    "Thạnh Bắc", "Bến Kéo",   "Long Châu",
    "Xóm Mới",    "Bàu Sen",   "Phước Đức", "Lộc Trung", "Tân Lập",
};

static void
build(struct ntm_store *st, struct ntm_key *root, long n)
{
    struct ntm_error err;
    struct ntm_write_result w;
    char code[64], name[96], title[256], note[128], rid[NTM_RECORD_ID_LEN + 1];
    for (int h = 0; h < HAMLETS; h++) {
        snprintf(code, sizeof(code), "%s.%d", COMMUNE, h + 1);
        snprintf(name, sizeof(name), "Ấp %s", hamlet_names[h]);
        if (ntm_unit_create(st, root, code, name, "hamlet", &w, &err) != NTM_OK)
            die("unit create", &err);
    }
    double t0 = now_ms();
    for (long i = 0; i < n; i++) {
        if (i % BATCH == 0 && ntm_store_begin(st, &err) != NTM_OK)
            die("begin", &err);
        unsigned h = next(HAMLETS);
        snprintf(code, sizeof(code), "%s.%u", COMMUNE, h + 1);
        if (i % 1000 == 7)
            snprintf(title, sizeof(title), "Sửa chữa đường đất ấp Bến Đình");
        else
            snprintf(title, sizeof(title), "%s %s ấp %s số %u", acts[next(10)],
                     things[next(10)], hamlet_names[next(20)], next(500));
        snprintf(note, sizeof(note), "Đợt %u, %u người tham gia", next(12) + 1,
                 next(80) + 5);
        json_t *f =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "task",
                      "doan.rural_roads_km", "date", "2019-05-17", "qty", "1.5",
                      "uom", "km", "title", title, "note", note);
        if (ntm_record_create(st, root, "activity", code, "doan", f, rid, &w,
                              &err) != NTM_OK)
            die("record create", &err);
        json_decref(f);
        if ((i + 1) % BATCH == 0 || i + 1 == n) {
            if (ntm_store_commit(st, &err) != NTM_OK)
                die("commit", &err);
        }
        if ((i + 1) % 100000 == 0)
            fprintf(stderr, "  %ld records, %.0f s\n", i + 1,
                    (now_ms() - t0) / 1e3);
    }
    printf("built %ld records in %.1f s (%.0f records/s)\n", n,
           (now_ms() - t0) / 1e3, (double)n / ((now_ms() - t0) / 1e3));
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    long n = 1000000;
    int runs = 9;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            n = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (n < 1 || runs < 1 || runs > 1000) {
        fputs(usage, stderr);
        return 2;
    }
    if (ntm_global_init() != NTM_OK)
        die("init", NULL);
    char tmp[512], path[600];
    snprintf(tmp, sizeof(tmp), "%s/ntm-bench-search-XXXXXX", dir);
    if (!mkdtemp(tmp))
        die("mkdtemp", NULL);
    snprintf(path, sizeof(path), "%s/search.db", tmp);

    struct ntm_error err;
    struct ntm_key *root = NULL;
    struct ntm_store *st = NULL;
    char root_hex[NTM_HEX_ID_LEN + 1];
    if (ntm_key_generate(&root, &err) != NTM_OK)
        die("key", &err);
    ntm_key_author(root, root_hex);
    if (ntm_store_open(&st, path, NTM_STORE_CREATE, &err) != NTM_OK)
        die("open", &err);
    if (ntm_store_set_root(st, root_hex, &err) != NTM_OK)
        die("set root", &err);
    printf("store of %ld records (%s)\n", n,
           n >= 1000000 ? "10^6 or more"
                        : "fewer than 10^6: give --n 1000000 for the full "
                          "figure");
    build(st, root, n);
    ntm_store_close(st);
    if (ntm_store_open(&st, path, 0, &err) != NTM_OK)
        die("reopen", &err);

    static const char *const queries[] = {
        "sua duong ben dinh",
        "dinh ben",
        "ap ben dinh sua chua",
        "ben d",
        "nha van hoa thanh hoa",
        "cau khi",
        "sua",
        "khong co tu nay",
    };
    double *t = calloc((size_t)runs, sizeof(double));
    printf("%-24s %10s %10s %8s\n", "search", "median ms", "max ms",
           "returned");
    for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]); q++) {
        size_t got = 0;
        for (int r = 0; r < runs; r++) {
            struct ntm_record_filter f = {0};
            f.text = queries[q];
            f.limit = 101; /* a page of 100 and whether more match */
            json_t *out = NULL;
            double t0 = now_ms();
            if (ntm_store_records(st, &f, &out, &err) != NTM_OK)
                die("search", &err);
            t[r] = now_ms() - t0;
            got = json_array_size(out);
            json_decref(out);
        }
        qsort(t, (size_t)runs, sizeof(*t), cmp_double);
        printf("%-24s %10.2f %10.2f %8zu\n", queries[q], t[runs / 2],
               t[runs - 1], got);
    }
    printf("RSS %ld kB (peak %ld kB)\n", proc_status_kb("VmRSS"),
           proc_status_kb("VmHWM"));
    FILE *fp = fopen(path, "rb");
    if (fp) {
        fseek(fp, 0, SEEK_END);
        printf("store file %.1f MB\n", (double)ftell(fp) / 1e6);
        fclose(fp);
    }
    free(t);
    ntm_store_close(st);
    ntm_key_free(root);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    if (getenv("NTM_BENCH_KEEP"))
        printf("kept %s\n", path);
    else if (system(cmd) != 0)
        fprintf(stderr, "bench_search: could not remove %s\n", tmp);
    return 0;
}
