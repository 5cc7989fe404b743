#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_pushers.sh - push TOTAL signed entries into a fresh `ntm serve`
# over HTTPS on loopback from 1, 2 and 4 recorders at once (TOTAL/K each,
# each recorder its own chain), and print the server's entries/s, its CPU
# time over the wall time (cores used: more than 1 only when verification
# runs outside the write lock) and its CPU per entry; then the pushers'
# CPU per entry and how busy the machine was (server and pushers over the
# wall time and the CPUs): near 100 %, the machine is the limit, not the
# server. A benchmark, not a test; the pushing clients share the machine
# with the server.
#
# Usage: bench/bench_pushers.sh [BUILD_DIR] [TOTAL] [K...]
#        (default: build-bench-release 20000 "1 2 4")
# Needs: a built tree (with bench/bench_gen), certtool, curl, bc,
# /usr/bin/time.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$SRC/build-bench-release}
TOTAL=${2:-20000}
shift 2 || shift $#
KS=${*:-"1 2 4"}
NTM=$B/cli/ntm
[ -x "$NTM" ] || { echo "build first: ninja -C $B"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-bench-push.XXXXXX")
SRV=
trap '[ -n "$SRV" ] && kill -9 $SRV 2>/dev/null; rm -rf "$T"' EXIT
export LANG=C.UTF-8 LANGUAGE=en NTM_SYNC_ATTEMPTS=3
export NTM_CONFIG_DIR=${NTM_CONFIG_DIR:-$SRC/config}
unset NTM_PASSPHRASE NTM_HOME
COMMUNE=72.710.25657

# N records written by a home's own key, through the library (the
# commune's activities of bench_gen.c).
GEN=$B/bench/bench_gen
[ -x "$GEN" ] || { echo "build first: ninja -C $B (bench_gen)"; exit 1; }

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
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }

echo "ntm push scaling: $(nproc) CPUs, $TOTAL entries per run"
for K in $KS; do
    rm -rf "$T"/h-*
    PER=$((TOTAL / K))
    "$NTM" --home "$T/h-admin" init --root --no-passphrase --server "$URL" --cacert "$T/cert.pem" >/dev/null 2>&1
    ADMIN=$("$NTM" --home "$T/h-admin" key export)
    "$NTM" --home "$T/h-server" init --no-passphrase --root-key "$ADMIN" >/dev/null 2>&1
    "$NTM" --home "$T/h-server" serve --listen "127.0.0.1:$PORT" --tls-cert "$T/cert.pem" \
        --tls-key "$T/key.pem" 2>"$T/server.log" &
    SRV=$!
    until curl -sk "$URL/healthz" >/dev/null 2>&1; do sleep 0.05; done
    for i in $(seq 1 "$K"); do
        "$NTM" --home "$T/h-$i" init --no-passphrase --server "$URL" --cacert "$T/cert.pem" >/dev/null 2>&1
        "$NTM" --home "$T/h-admin" admin enroll "$("$NTM" --home "$T/h-$i" key export)" \
            --role recorder --scope "$COMMUNE" >/dev/null
    done
    "$NTM" --home "$T/h-admin" push >/dev/null
    for i in $(seq 1 "$K"); do
        "$NTM" --home "$T/h-$i" pull >/dev/null
        "$GEN" "$T/h-$i" "$PER"
    done
    c0=$(cpu_ticks $SRV)
    t0=$(now)
    pids=()
    for i in $(seq 1 "$K"); do
        /usr/bin/time -f "%U %S" -o "$T/push-$i.cpu" "$NTM" --home "$T/h-$i" push >"$T/push-$i.out" 2>&1 &
        pids+=($!)
    done
    wait "${pids[@]}"
    t1=$(now)
    c1=$(cpu_ticks $SRV)
    wall=$(echo "$t1 - $t0" | bc -l)
    cpu=$(echo "($c1 - $c0) / $TCK" | bc -l)
    ccpu=$(cat "$T"/push-*.cpu | awk '{s += $1 + $2} END {print s}')
    printf "pushers=%d  %.0f entries/s (%.1f s)  server CPU %.1f s = %.2f cores, %.0f us per entry;" \
        "$K" "$(echo "$PER * $K / $wall" | bc -l)" "$wall" "$cpu" \
        "$(echo "$cpu / $wall" | bc -l)" "$(echo "$cpu * 1000000 / ($PER * $K)" | bc -l)"
    printf "  pushers' CPU %.1f s, %.0f us per entry;  machine %.0f%% busy\n" \
        "$ccpu" "$(echo "$ccpu * 1000000 / ($PER * $K)" | bc -l)" \
        "$(echo "100 * ($cpu + $ccpu) / ($wall * $(nproc))" | bc -l)"
    kill -TERM $SRV; wait $SRV || true; SRV=
done
