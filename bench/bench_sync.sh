#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_sync.sh - push and pull N signed entries through a real `ntm serve`
# over HTTPS on loopback, and print entries/s for each and the peak memory
# (VmHWM) of the client and of the server. A benchmark, not a test.
#
# Usage: bench/bench_sync.sh [BUILD_DIR] [N...]   (default: build 10000 100000)
# Needs: a built tree (ninja -C BUILD_DIR), certtool, curl, cc, pkg-config.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$SRC/build}
shift || true
NS=${*:-"10000 100000"}
NTM=$B/cli/ntm
[ -x "$NTM" ] || { echo "build first: ninja -C $B"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-bench.XXXXXX")
SRV=
trap '[ -n "$SRV" ] && kill -9 $SRV 2>/dev/null; rm -rf "$T"' EXIT
export LANG=C.UTF-8 NTM_SYNC_ATTEMPTS=3
export NTM_CONFIG_DIR=${NTM_CONFIG_DIR:-$SRC/config} # the build tree's plan
unset NTM_PASSPHRASE NTM_HOME

# A small generator: N records written by the root admin in one process,
# through the library (signing and validation included, as `ntm record`).
cat >"$T/gen.c" <<'C'
#include "ntm.h"
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    struct ntm_error err = {0};
    struct ntm_store *st; struct ntm_key *key;
    char db[4096], kp[4096];
    long n = atol(argv[2]);
    snprintf(db, sizeof db, "%s/ntm.db", argv[1]);
    snprintf(kp, sizeof kp, "%s/key", argv[1]);
    if (ntm_global_init() || ntm_store_open(&st, db, 0, &err) ||
        ntm_key_load(&key, kp, NULL, &err)) {
        fprintf(stderr, "gen: %s\n", err.msg); return 1; }
    for (long i = 0; i < n; i++) {
        if (i % 1000 == 0 && ntm_store_begin(st, &err)) break;
        char rid[NTM_RECORD_ID_LEN + 1], title[64];
        struct ntm_write_result res;
        snprintf(title, sizeof title, "Hoạt động số %ld", i);
        json_t *f = json_pack("{s:s, s:s, s:s, s:s, s:s}", "task",
            "doan.rural_roads_km", "date", "2019-05-17", "qty", "1.5",
            "uom", "km", "title", title);
        if (ntm_record_create(st, key, "activity", "72.710.25657", "doan", f,
                              rid, &res, &err)) { fprintf(stderr, "gen: %s\n", err.msg); return 1; }
        json_decref(f);
        if (i % 1000 == 999 || i == n - 1) if (ntm_store_commit(st, &err)) break;
    }
    if (err.code) { fprintf(stderr, "gen: %s\n", err.msg); return 1; }
    ntm_key_free(key); ntm_store_close(st); return 0;
}
C
cc -O2 -D_GNU_SOURCE -I"$SRC" -I"$SRC/util" -I"$SRC/crypto" -I"$SRC/store" \
    -I"$SRC/plan" -I"$SRC/sync" "$T/gen.c" "$B/libntm.a" -o "$T/gen" \
    $(pkg-config --libs libsodium sqlite3 jansson libcurl libmicrohttpd zlib libutf8proc) -lpthread

cat >"$T/tpl" <<TPL
cn = "127.0.0.1"
ip_address = "127.0.0.1"
expiration_days = 2
signing_key
encryption_key
tls_www_server
ca
TPL
certtool --generate-privkey --key-type ecdsa --outfile "$T/key.pem" >/dev/null 2>&1
certtool --generate-self-signed --load-privkey "$T/key.pem" --template "$T/tpl" \
    --outfile "$T/cert.pem" >/dev/null 2>&1
PORT=$((30000 + RANDOM % 20000))
URL=https://127.0.0.1:$PORT

hwm() { awk '/VmHWM/ {print $2 " kB"}' "/proc/$1/status"; }
rss_of() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
now() { date +%s.%N; }

echo "ntm sync benchmark: $(nproc) CPUs, $(uname -sr)"
for N in $NS; do
    rm -rf "$T"/h-*
    "$NTM" --home "$T/h-admin" init --root --no-passphrase --server "$URL" --cacert "$T/cert.pem" >/dev/null 2>&1
    ADMIN=$("$NTM" --home "$T/h-admin" key export)
    "$NTM" --home "$T/h-server" init --no-passphrase --root-key "$ADMIN" >/dev/null 2>&1
    "$NTM" --home "$T/h-server" serve --listen "127.0.0.1:$PORT" --tls-cert "$T/cert.pem" \
        --tls-key "$T/key.pem" 2>"$T/server.log" &
    SRV=$!
    until curl -sk "$URL/healthz" >/dev/null 2>&1; do sleep 0.05; done
    "$NTM" --home "$T/h-pull" init --no-passphrase --server "$URL" --cacert "$T/cert.pem" >/dev/null 2>&1
    PULLER=$("$NTM" --home "$T/h-pull" key export)
    "$NTM" --home "$T/h-admin" admin enroll "$PULLER" --role coordinator --scope 72 >/dev/null
    t0=$(now); "$T/gen" "$T/h-admin" "$N"; t1=$(now)
    printf "N=%d  generate+sign: %.0f entries/s\n" "$N" "$(echo "$N / ($t1 - $t0)" | bc -l)"
    t0=$(now)
    /usr/bin/time -v "$NTM" --home "$T/h-admin" push >/dev/null 2>"$T/push.time"
    t1=$(now)
    printf "N=%d  push: %.0f entries/s (%.1f s), client peak RSS %s kB\n" "$N" \
        "$(echo "$N / ($t1 - $t0)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "$(rss_of "$T/push.time")"
    t0=$(now)
    /usr/bin/time -v "$NTM" --home "$T/h-pull" pull >/dev/null 2>"$T/pull.time"
    t1=$(now)
    printf "N=%d  pull: %.0f entries/s (%.1f s), client peak RSS %s kB\n" "$N" \
        "$(echo "$N / ($t1 - $t0)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "$(rss_of "$T/pull.time")"
    printf "N=%d  server peak RSS %s\n" "$N" "$(hwm $SRV)"
    kill -TERM $SRV; wait $SRV || true; SRV=
done
