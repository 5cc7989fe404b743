#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# reliab_soak.sh - RELIABILITY.md T13 (threat #27): a soak under a flaky
# link. A recorder records and pushes, a reader pulls, in a loop, through
# tests/e2e/faultproxy.py (each connection gets a toxic: latency, slicer,
# bandwidth, a cut mid-response, a reset, a stall), and the server is
# restarted every RESTART seconds. Every SAMPLE seconds the server's RSS
# (VmRSS) and open file descriptors (/proc/PID/fd) are sampled. Checks:
#   - resources flat: in each server lifetime, the RSS after the first
#     quarter (warm) to the last sample grows < 10 % (or < 2 MiB: a floor
#     for the small CI figures), the lowest fd count of the last quarter
#     is at most the second quarter's lowest + 4 (a sample also counts
#     the client connections open at that instant: a leak raises the
#     floor, a busy instant does not; and at the lifetime's end, with no
#     client running, the count is also read again once the connections
#     of the moment closed, up to the idle timeout: the lower of the
#     two is judged); and across lifetimes the last RSS
#     is < 10 % (or 2 MiB) above the first lifetime's;
#   - I1-I3: after healing (no toxics) and <= 3 sync rounds, the server
#     holds every entry the recorder had acknowledged and attempted, each
#     once, and the reader pulled them all (I6);
#   - I4/I5: ntm verify and integrity_check pass on all three homes;
#   - no crash: every server lifetime ends with exit 0 on SIGTERM.
# Env: NTM_BIN; NTM_SOAK_SECONDS (default 45; the deep tier: 7200),
# NTM_SOAK_RESTART (default 20; deep: 300), NTM_SOAK_SAMPLE (default 2).
# Under AddressSanitizer (NTM_SANITIZED) RSS grows with its quarantine by
# design: the RSS figures are printed but only the fds are judged.
# Prints the samples' summary per lifetime, the figures line
# "T13 figures: ..." and "N passed, N failed".
set -u
. "$(dirname "$0")/threat_lib.sh"

DURATION=${NTM_SOAK_SECONDS:-45}
RESTART=${NTM_SOAK_RESTART:-20}
SAMPLE=${NTM_SOAK_SAMPLE:-2}
COMMUNE=72.710.25657
PROXY_PY=$(dirname "$0")/faultproxy.py
command -v python3 >/dev/null || { echo "python3 is needed"; exit 77; }

make_cert
PORT=$(free_port)
PPORT=$(free_port)
URL=https://127.0.0.1:$PORT
PURL=https://127.0.0.1:$PPORT
A=$T/admin
S=$T/server
W=$T/writer
R=$T/reader

run "$A" init --root --no-passphrase --name admin
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
run "$A" init --server "$URL" --cacert "$T/cert.pem"
for h in "$W" "$R"; do
    run "$h" init --no-passphrase --root-key "$ADMIN" --server "$PURL" --cacert "$T/cert.pem"
    run "$h" key export
    run "$A" admin enroll "$(cat "$T/out")" --role recorder --scope "$COMMUNE" --org doan
done
WKEY=$(cd "$W" && "$NTM" --home "$W" key export 2>/dev/null)
expect 0 "admin pushes the enrollments (direct)" "$A" push

CTL=$T/toxics
echo none >"$CTL"
python3 "$PROXY_PY" --listen "127.0.0.1:$PPORT" --upstream "127.0.0.1:$PORT" \
    --control "$CTL" --seed "${SEED:-$RANDOM}" --log "$T/proxy.log" >"$T/proxy.out" 2>&1 &
PROXY_PID=$!
trap '[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null; cleanup' EXIT
check "fault proxy listens on 127.0.0.1:$PPORT" wait_listening "$T/proxy.out"
expect 0 "the recorder pulls through the proxy" "$W" pull
expect 0 "the reader pulls through the proxy" "$R" pull
echo "none@3;latency:ms=60,jitter=40;slicer:size=200,var=100,us=200;bandwidth:rate=64;limit_data:bytes=1500;limit_data:bytes=900,dir=up;reset_peer:ms=30;timeout:ms=1500" >"$CTL"

# sample FILE: append "elapsed rss_kb fds" of the current server.
sample() {
    local rss fds
    rss=$(rss_kb "$SERVER_PID")
    fds=$(ls "/proc/$SERVER_PID/fd" 2>/dev/null | wc -l)
    [ -n "$rss" ] && echo "$(($(date +%s) - T0)) $rss $fds" >>"$1"
}
# settle FILE: at the end of a lifetime, with no client running, the
# server's fds come back to the lifetime's warm floor (+4) once the
# connections of the moment close: a stalled one through the proxy lives
# until the server's idle timeout (15 s), so under load the last samples
# count several. Waits for that, up to 17 s, only when the count is
# above; writes "FDS WAITED_MS" to FILE.settle.
settle() {
    local n q warm fds waited=0
    n=$(wc -l <"$1")
    q=$(((n + 3) / 4))
    warm=$(sed -n "${q},$((2 * q))p" "$1" | awk 'NR == 1 || $3 < m { m = $3 } END { print m }')
    fds=$(ls "/proc/$SERVER_PID/fd" 2>/dev/null | wc -l)
    while [ -n "$warm" ] && [ "$fds" -gt $((warm + 4)) ] && [ "$waited" -lt 17000 ]; do
        sleep 0.5
        waited=$((waited + 500))
        fds=$(ls "/proc/$SERVER_PID/fd" 2>/dev/null | wc -l)
    done
    echo "$fds $waited" >"$1.settle"
}
export NTM_SYNC_ATTEMPTS=3 NTM_SYNC_RETRY_MS=100
T0=$(date +%s)
END=$((T0 + DURATION))
life=1
life_start=$T0
next_sample=$T0
ops=0
push_ok=0
pull_ok=0
odd=0
recorded=0
restarts=0
crashes=0
while [ "$(date +%s)" -lt "$END" ]; do
    now=$(date +%s)
    if [ "$now" -ge "$next_sample" ]; then
        sample "$T/life.$life"
        next_sample=$((now + SAMPLE))
    fi
    if [ $((now - life_start)) -ge "$RESTART" ] && [ $((END - now)) -gt $((RESTART / 2)) ]; then
        sample "$T/life.$life"
        settle "$T/life.$life"
        stop_server TERM
        [ "${SERVER_RC:-1}" -eq 0 ] || crashes=$((crashes + 1))
        start_server "$S" >/dev/null || { crashes=$((crashes + 1)); break; }
        restarts=$((restarts + 1))
        life=$((life + 1))
        life_start=$(date +%s)
        sample "$T/life.$life"
    fi
    "$NTM" --home "$W" record activity --task doan.rural_roads_km --unit "$COMMUNE" \
        --date 2019-07-01 --qty 1 --uom km --title "soak $ops" >/dev/null 2>&1 &&
        recorded=$((recorded + 1))
    "$NTM" --home "$W" push >/dev/null 2>"$T/err"
    rc=$?
    [ "$rc" -eq 0 ] && push_ok=$((push_ok + 1))
    [ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || { odd=$((odd + 1)); sed 's/^/# push: /' "$T/err" | head -2; }
    "$NTM" --home "$R" pull >/dev/null 2>"$T/err"
    rc=$?
    [ "$rc" -eq 0 ] && pull_ok=$((pull_ok + 1))
    [ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || { odd=$((odd + 1)); sed 's/^/# pull: /' "$T/err" | head -2; }
    ops=$((ops + 2))
done
sample "$T/life.$life"
settle "$T/life.$life"
echo "# $ops pushes and pulls in $(($(date +%s) - T0)) s: $push_ok pushes and $pull_ok pulls got through, $restarts restarts, $recorded records"
toxic=$(grep -cE ' (limit_data|reset_peer|slicer|latency|bandwidth|timeout)' "$T/proxy.log")
echo "# the proxy applied a toxic to $toxic of $(wc -l <"$T/proxy.log") connections"
check "the link was flaky ($toxic connections hit) and syncs still got through" \
    test "$toxic" -ge 10 -a "$push_ok" -gt 0 -a "$pull_ok" -gt 0
check "push and pull exit 0 or 4 (could not reach) through the faults ($odd others)" test "$odd" -eq 0
check "the server restarted $restarts times, never crashed ($crashes)" test "$crashes" -eq 0 -a "$restarts" -ge 1

# ---------------------------------------------------------------- resources
# flat FILE: the lifetime in FILE is flat; prints its figures.
rss_first=
rss_last=
pct() { awk -v d="$1" 'BEGIN { printf "%.1f", d / 10 }'; }
worst_drift=0
flat() {
    local n warm_rss warm_fd end_rss end_fd
    n=$(wc -l <"$1")
    [ "$n" -ge 3 ] || { echo "# ${1##*/}: $n samples (too short to judge)"; return 0; }
    read -r _ warm_rss _ < <(sed -n "$(((n + 3) / 4))p" "$1")
    read -r _ end_rss _ < <(tail -1 "$1")
    # fds: the floor of each part, since a sample also counts the client
    # connections open at that instant (a push, a pull, a retry through
    # the proxy), which come and go; a leak raises the floor. Warm: the
    # second quarter's lowest count; end: the last quarter's.
    local q=$(((n + 3) / 4))
    warm_fd=$(sed -n "${q},$((2 * q))p" "$1" | awk 'NR == 1 || $3 < m { m = $3 } END { print m }')
    end_fd=$(tail -n "$q" "$1" | awk 'NR == 1 || $3 < m { m = $3 } END { print m }')
    local max_rss max_fd settled=- waited=0
    max_rss=$(awk '{ if ($2 > m) m = $2 } END { print m }' "$1")
    max_fd=$(awk '{ if ($3 > m) m = $3 } END { print m }' "$1")
    # the count once the connections of the last instant closed (settle)
    [ -f "$1.settle" ] && read -r settled waited <"$1.settle"
    [ "$settled" != - ] && [ "$settled" -lt "$end_fd" ] && end_fd=$settled
    local drift=$(((end_rss - warm_rss) * 1000 / warm_rss))
    [ "$drift" -gt "$worst_drift" ] && worst_drift=$drift
    echo "# ${1##*/}: $n samples; RSS warm $warm_rss KiB -> end $end_rss KiB (max $max_rss, drift $(pct "$drift") %); fds floor warm $warm_fd -> end $end_fd (max $max_fd; settled to $settled after $waited ms; every sample: $(awk '{ printf "%s ", $3 }' "$1"))"
    [ -z "$rss_first" ] && rss_first=$warm_rss
    rss_last=$end_rss
    [ -n "${NTM_SANITIZED:-}" ] ||
        [ "$end_rss" -le $((warm_rss * 110 / 100)) ] || [ "$end_rss" -le $((warm_rss + 2048)) ] || return 1
    [ "$end_fd" -le $((warm_fd + 4)) ] || return 1
}
for f in $(ls "$T"/life.* | grep -v '\.settle$' | sort -t. -k2 -n); do
    check "server lifetime ${f##*.}: RSS and fds flat (RSS +10 % or 2 MiB at most, the fds' floor +4)" flat "$f"
done
check "across restarts: the last RSS ($rss_last KiB) within 10 % or 2 MiB of the first ($rss_first KiB)${NTM_SANITIZED:+ (not judged under ASan)}" \
    test -n "${NTM_SANITIZED:-}" -o "$rss_last" -le $((rss_first * 110 / 100)) -o "$rss_last" -le $((rss_first + 2048))

# ---------------------------------------------------------------- heal
echo none >"$CTL"
healed=0
for round in 1 2 3; do
    "$NTM" --home "$W" push >/dev/null 2>&1 && "$NTM" --home "$R" pull >/dev/null 2>&1 &&
        [ "$(sqlite3 "$W/ntm.db" "SELECT count(*) FROM entries WHERE author='$WKEY'")" = \
            "$(db_count "$S/ntm.db" "author='$WKEY'")" ] && { healed=$round; break; }
done
check "healed in $healed of at most 3 sync rounds" test "$healed" -ge 1
attempted=$(sqlite3 "$W/ntm.db" "SELECT count(*) FROM entries WHERE author='$WKEY'")
acked=$(sqlite3 "$W/ntm.db" "SELECT coalesce(max(seq), 0) FROM peer_heads WHERE author='$WKEY'")
server=$(db_count "$S/ntm.db" "author='$WKEY'")
reader=$(db_count "$R/ntm.db" "author='$WKEY'")
dups=$(sqlite3 "$S/ntm.db" "SELECT count(*) - count(DISTINCT seq) FROM entries WHERE author='$WKEY'")
lost=$((acked > server ? acked - server : 0))
unexpected=$((server > attempted ? server - attempted : 0))
check "I1: 0 lost (acknowledged $acked, server $server)" test "$lost" -eq 0
check "I2: 0 unexpected (attempted $attempted, server $server)" test "$unexpected" -eq 0
check "I3: 0 duplicated on the server ($dups)" test "$dups" -eq 0
check "I6: the reader holds all $server (got $reader)" test "$reader" = "$server"
for h in "$W" "$R"; do
    expect 0 "I4: ntm verify passes at $(basename "$h")" "$h" verify
    check "I5: integrity_check ok at $(basename "$h")" test "$(sqlite3 "$h/ntm.db" 'PRAGMA integrity_check')" = ok
done
stop_server TERM
check "server stops cleanly" test "${SERVER_RC:-1}" -eq 0
expect 0 "I4: ntm verify passes at the server" "$S" verify
check "I5: integrity_check ok at the server" test "$(sqlite3 "$S/ntm.db" 'PRAGMA integrity_check')" = ok
echo "T13 figures: ${DURATION}s, $restarts restarts, $ops syncs, lost $lost, duplicated $dups, unexpected $unexpected, crashes $crashes, worst RSS drift in a lifetime $(pct "$worst_drift") %, RSS first $rss_first KiB last $rss_last KiB"
finish
