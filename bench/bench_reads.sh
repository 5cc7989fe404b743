#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_reads.sh - local reads on large stores: for stores of N records
# (default 10^4 and 10^5; --big adds 10^6), the time and the peak RSS of
# the real `ntm` process (/usr/bin/time -v) for `ntm report --year 2019`,
# `ntm list <words>` (also its median of 9 runs in ms) and `ntm list` of
# every record (table and --json) (to /dev/null), and the
# store's disk bytes per entry, with the tables and indexes that take them
# (SQLite's dbstat, when the sqlite3 tool has it). A benchmark, not a test.
#
# The records are written by the root admin through the library (one
# process, transactions of 1000): activities of summed targets (rural
# roads and canals, in km or m), of plain tasks (people, money), of a duty
# with a calendar, measures (poor youth households, yearly figures) and
# register entries (savings groups), over the province's 95 communes and
# the years 2016-2020, with Vietnamese titles.
#
# Usage: bench/bench_reads.sh [--build DIR] [--big] [N...]
#   (default: build, N = 10000 100000; --big adds 1000000)
# NTM_BENCH_KEEP=1 keeps the homes (printed).
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$SRC/build
NS=
while [ $# -gt 0 ]; do
    case $1 in
    --build) B=$2; shift 2 ;;
    --big) BIG=1; shift ;;
    -*) sed -n 's/^# \{0,1\}//; 18,20p' "$0" >&2; exit 2 ;;
    *) NS="$NS $1"; shift ;;
    esac
done
NS=${NS:-"10000 100000"}
[ -n "${BIG:-}" ] && NS="$NS 1000000"
NTM=$B/cli/ntm
[ -x "$NTM" ] || { echo "build first: ninja -C $B"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (Debian: time)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-bench-reads.XXXXXX")
[ -n "${NTM_BENCH_KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
export LANG=C.UTF-8
export NTM_CONFIG_DIR=${NTM_CONFIG_DIR:-$SRC/config}
unset NTM_PASSPHRASE NTM_HOME

awk -F, '$4=="commune" {print $1}' "$NTM_CONFIG_DIR/units.csv" >"$T/communes"

cat >"$T/gen.c" <<'C'
#include "ntm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static unsigned long long s = 0x9e3779b97f4a7c15ULL;
static unsigned rnd(unsigned n) {
    s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
    return (unsigned)((s * 2685821657736338717ULL) >> 33) % n;
}
static const char *const acts[] = {"Sửa chữa", "Làm mới", "Nâng cấp",
    "Vệ sinh", "Bê tông hóa", "Trồng cây", "Thăm hỏi", "Hỗ trợ"};
static const char *const things[] = {"đường đất", "cầu khỉ", "kênh mương",
    "nhà văn hóa", "trường học", "hộ nghèo", "cống thoát nước", "chợ"};
static const char *const places[] = {"Bến Đình", "Thạnh Hòa", "Bàu Đồn",
    "Rạch Sơn", "Cây Da", "Suối Cao", "Phước Hội", "An Thới"};
int main(int argc, char **argv) {
    struct ntm_error err = {0};
    struct ntm_store *st; struct ntm_key *key;
    char db[4096], kp[4096], com[128][32], line[64];
    int nc = 0;
    long n = atol(argv[2]);
    FILE *f = fopen(argv[3], "r");
    while (f && nc < 128 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        snprintf(com[nc++], sizeof com[0], "%s", line);
    }
    if (f) fclose(f);
    snprintf(db, sizeof db, "%s/ntm.db", argv[1]);
    snprintf(kp, sizeof kp, "%s/key", argv[1]);
    if (!nc || ntm_global_init() || ntm_store_open(&st, db, 0, &err) ||
        ntm_key_load(&key, kp, NULL, &err)) {
        fprintf(stderr, "gen: %s\n", err.msg); return 1; }
    for (long i = 0; i < n; i++) {
        char rid[NTM_RECORD_ID_LEN + 1], title[160], date[16], num[32];
        struct ntm_write_result res;
        const char *unit = com[rnd(nc)], *kind = "activity", *org = "doan";
        unsigned k = rnd(100), y = 2016 + rnd(5);
        json_t *fl;
        if (i % 1000 == 0 && ntm_store_begin(st, &err)) break;
        snprintf(date, sizeof date, "%u-%02u-%02u", y, 1 + rnd(12), 1 + rnd(28));
        snprintf(title, sizeof title, "%s %s ấp %s số %u", acts[rnd(8)],
                 things[rnd(8)], places[rnd(8)], rnd(500));
        if (k < 45) { /* summed targets: km, or m */
            int m = rnd(4) == 0;
            snprintf(num, sizeof num, m ? "%u" : "%u.%u", m ? 50 + rnd(900) : rnd(5), rnd(10));
            fl = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "task",
                           k < 30 ? "doan.rural_roads_km" : "doan.canals_km",
                           "date", date, "qty", num, "uom", m ? "m" : "km",
                           "title", title, "people", 5 + (int)rnd(60));
        } else if (k < 75) { /* plain tasks */
            snprintf(num, sizeof num, "%u", 1 + rnd(3));
            org = k < 60 ? "mttq" : "hnd";
            fl = k < 60
                     ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "task",
                                 "mttq.seminars", "date", date, "qty", num,
                                 "uom", "activity", "title", title, "people",
                                 10 + (int)rnd(90))
                     : json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                                 "hnd.for_the_poor_fund", "date", date, "qty",
                                 "2", "uom", "trieu_dong", "title", title);
        } else if (k < 85) { /* a duty with a calendar */
            org = "mttq";
            fl = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
                           "mttq.annual_review", "date", date, "qty", "1",
                           "uom", "activity", "title", title);
        } else if (k < 95) { /* measures: a yearly figure */
            char per[8];
            unsigned den = 50 + rnd(400);
            kind = "measure";
            snprintf(per, sizeof per, "%u", y);
            fl = json_pack("{s:s, s:s, s:i, s:i, s:s}", "task",
                           "doan.poor_youth_households", "period", per,
                           "num", (int)rnd(den / 10 + 1), "den", (int)den,
                           "title", title);
        } else { /* a register: one savings group each */
            char name[64];
            snprintf(name, sizeof name, "Tổ tiết kiệm %s %u", places[rnd(8)], rnd(2000));
            fl = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "task",
                           "doan.savings_groups", "date", date, "qty", "1",
                           "uom", "group", "name", name, "title", title);
        }
        if (ntm_record_create(st, key, kind, unit, org, fl, rid, &res, &err)) {
            fprintf(stderr, "gen: %s\n", err.msg); return 1; }
        json_decref(fl);
        if (i % 1000 == 999 || i == n - 1) if (ntm_store_commit(st, &err)) break;
    }
    if (err.code) { fprintf(stderr, "gen: %s\n", err.msg); return 1; }
    ntm_key_free(key); ntm_store_close(st); return 0;
}
C
# shellcheck disable=SC2046
cc -O2 -D_GNU_SOURCE -I"$SRC" -I"$SRC/util" -I"$SRC/crypto" -I"$SRC/store" \
    -I"$SRC/plan" -I"$SRC/sync" "$T/gen.c" "$B/libntm.a" -o "$T/gen" \
    $(pkg-config --libs libsodium sqlite3 jansson libcurl libmicrohttpd zlib libutf8proc) -lpthread

secs() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" |
    awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }'; }
rss() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }

# One command, timed: prints its row.
run() {
    local label=$1; shift
    /usr/bin/time -v "$NTM" --home "$H" "$@" >"$T/out" 2>"$T/time" ||
        { echo "  $label failed:"; tail -n 5 "$T/time"; return 0; }
    printf "  %-28s %8.2f s  peak RSS %7d kB  (%d lines)\n" "$label" \
        "$(secs "$T/time")" "$(rss "$T/time")" "$(wc -l <"$T/out")"
}

# One command run 9 times: the median wall time in ms (the search is
# tens of ms, below /usr/bin/time's 10 ms).
runms() {
    local label=$1 i t0 t1; shift
    for i in 1 2 3 4 5 6 7 8 9; do
        t0=$(date +%s%N)
        "$NTM" --home "$H" "$@" >/dev/null 2>&1 || { echo "  $label failed"; return 0; }
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | sed -n 5p |
        awk -v l="$label" '{ printf "  %-28s %8.1f ms (median of 9)\n", l, $1 / 1000 }'
}

echo "ntm local reads: $(nproc) CPUs, $(uname -sr), $("$NTM" --version 2>/dev/null | head -n 1)," \
    "commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
for N in $NS; do
    H=$T/h-$N
    "$NTM" --home "$H" init --root --no-passphrase >/dev/null 2>&1
    t0=$(date +%s.%N)
    "$T/gen" "$H" "$N" "$T/communes"
    t1=$(date +%s.%N)
    printf "N=%d  (store written in %.0f s)\n" "$N" "$(echo "$t1 - $t0" | bc -l)"
    # the first command after the writes may checkpoint the WAL: not timed
    "$NTM" --home "$H" status >/dev/null 2>&1 || true
    # the first report makes every record's facts and keeps them
    # (plan/rfact.c, store/digest.c); the next ones read them
    run "report, first (keeps facts)" report
    run "report --year 2019" report --year 2019
    run "report (all years)" report
    "$T/gen" "$H" 1000 "$T/communes"
    run "report, 1000 records later" report
    run "list 'sua duong ben dinh'" list "sua duong ben dinh"
    runms "list 'sua duong ben dinh'" list "sua duong ben dinh"
    run "list (all)" list
    run "list --json (all)" --json list
    ENTRIES=$(sqlite3 "$H/ntm.db" "SELECT count(*) FROM entries" 2>/dev/null || echo "$N")
    BYTES=$(stat -c %s "$H/ntm.db")
    [ -f "$H/ntm.db-wal" ] && BYTES=$((BYTES + $(stat -c %s "$H/ntm.db-wal")))
    printf "  disk: %d bytes for %d entries = %d bytes per entry\n" "$BYTES" "$ENTRIES" \
        $((BYTES / ENTRIES))
    if command -v sqlite3 >/dev/null &&
        sqlite3 "$H/ntm.db" "SELECT 1 FROM dbstat LIMIT 1" >/dev/null 2>&1; then
        sqlite3 -separator ' ' "$H/ntm.db" \
            "SELECT printf('    %-28s %6d B/entry', name, sum(pgsize) / $ENTRIES)
             FROM dbstat GROUP BY name HAVING sum(pgsize) / $ENTRIES >= 8
             ORDER BY sum(pgsize) DESC"
    fi
    [ -n "${NTM_BENCH_KEEP:-}" ] && echo "  kept: $H"
done
