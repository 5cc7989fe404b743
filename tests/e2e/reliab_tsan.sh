#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# reliab_tsan.sh - RELIABILITY.md T18, deep part: the server's thread pool
# under concurrent push and pull, run by scripts/tsan.sh with the server
# built with ThreadSanitizer (NTM_SERVER_BIN; the devices use the plain
# NTM_BIN). 4 worker threads; DEVICES devices each record ENTRIES entries,
# then in each of ROUNDS rounds all of them push at once while as many
# readers pull, ask /v1/heads and /metrics at the same time. Then:
#   - every push and pull succeeded, the server holds every entry once;
#   - the server stops cleanly; integrity_check and ntm verify pass;
#   - ThreadSanitizer reported nothing (its reports are printed).
# Env: NTM_BIN, NTM_SERVER_BIN (default NTM_BIN), TSAN_LOG (the
# log_path prefix scripts/tsan.sh gave TSAN_OPTIONS), NTM_TSAN_DEVICES
# (default 6), NTM_TSAN_ENTRIES (default 20), NTM_TSAN_ROUNDS (default 3).
# Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/threat_lib.sh"

SRV_BIN=${NTM_SERVER_BIN:-$NTM}
DEVICES=${NTM_TSAN_DEVICES:-6}
ENTRIES=${NTM_TSAN_ENTRIES:-20}
ROUNDS=${NTM_TSAN_ROUNDS:-3}
COMMUNE=72.710.25657
# The devices wait for a server slowed down by ThreadSanitizer.
export NTM_SYNC_ATTEMPTS=6 NTM_SYNC_RETRY_MS=200

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server

run "$A" init --root --no-passphrase --name admin
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
NTM_SAVED=$NTM
NTM=$SRV_BIN
check "server (${SRV_BIN##*/build}) starts with 4 threads" start_server "$S" --threads 4
NTM=$NTM_SAVED
run "$A" init --server "$URL" --cacert "$T/cert.pem"
for ((d = 1; d <= DEVICES; d++)); do
    for role in w r; do
        h=$T/$role$d
        run "$h" init --no-passphrase --root-key "$ADMIN" --server "$URL" --cacert "$T/cert.pem"
        run "$h" key export
        run "$A" admin enroll "$(cat "$T/out")" --role recorder --scope "$COMMUNE" --org doan
    done
done
expect 0 "admin pushes $((2 * DEVICES)) enrollments" "$A" push
fails=0
for ((d = 1; d <= DEVICES; d++)); do
    "$NTM" --home "$T/w$d" pull >/dev/null 2>&1 || fails=$((fails + 1))
    "$NTM" --home "$T/r$d" pull >/dev/null 2>&1 || fails=$((fails + 1))
done
check "every device pulled its enrollment ($fails failed)" test "$fails" -eq 0

per_round=$(((ENTRIES + ROUNDS - 1) / ROUNDS))
for ((r = 1; r <= ROUNDS; r++)); do
    for ((d = 1; d <= DEVICES; d++)); do
        for ((i = 1; i <= per_round; i++)); do
            "$NTM" --home "$T/w$d" record activity --task doan.rural_roads_km \
                --unit "$COMMUNE" --date 2019-07-01 --qty 1 --uom km \
                --title "w$d r$r $i" >/dev/null 2>&1
        done
    done
    pids=()
    for ((d = 1; d <= DEVICES; d++)); do
        "$NTM" --home "$T/w$d" push >"$T/push$d" 2>&1 &
        pids+=($!)
        "$NTM" --home "$T/r$d" pull >"$T/pull$d" 2>&1 &
        pids+=($!)
        curl -sk --max-time 30 "$URL/healthz" >/dev/null 2>&1 &
        pids+=($!)
    done
    bad=0
    for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
    check "round $r: $DEVICES pushes, $DEVICES pulls and $DEVICES health checks at once, all succeed ($bad failed)" \
        test "$bad" -eq 0
done
total=$((DEVICES * ROUNDS * per_round))
got=$(db_count "$S/ntm.db" "op='record.create'")
check "the server holds the $total entries pushed (got $got)" test "$got" = "$total"
check "  ... each once" test "$(sqlite3 "$S/ntm.db" "SELECT count(*) FROM (SELECT author, seq FROM entries GROUP BY author, seq HAVING count(*) > 1)")" = 0
for ((d = 1; d <= DEVICES; d++)); do "$NTM" --home "$T/r$d" pull >/dev/null 2>&1; done
got=$(db_count "$T/r1/ntm.db" "op='record.create'")
check "a reader pulled them all after the last round (got $got)" test "$got" = "$total"
# The pull fetches and verifies page n+1 on a thread while the store takes
# page n: a reader's home copied without its store pulls everything again
# with the server's build (ThreadSanitizer in scripts/tsan.sh), in pages
# of 7, while the writers push once more (a new store for a kept key: the
# home's ntm.db made anew by init).
mkdir "$T/rt" && cp "$T/r1/key" "$T/rt/"
run "$T/rt" init --root-key "$ADMIN" --server "$URL" --cacert "$T/cert.pem"
pids=()
for ((d = 1; d <= DEVICES; d++)); do
    "$NTM" --home "$T/w$d" record activity --task doan.rural_roads_km \
        --unit "$COMMUNE" --date 2019-07-01 --qty 1 --uom km --title "w$d last" >/dev/null 2>&1
    "$NTM" --home "$T/w$d" push >/dev/null 2>&1 &
    pids+=($!)
done
"$SRV_BIN" --home "$T/rt" pull --page 7 >"$T/pullt" 2>&1
check "a reader's new store pulls them all in pages of 7 with ${SRV_BIN##*/build}'s pull (exit $?)" \
    test "$(db_count "$T/rt/ntm.db" "op='record.create'")" -ge "$total"
wait "${pids[@]}"
stop_server TERM
check "server stops cleanly (exit ${SERVER_RC:-?})" test "${SERVER_RC:-1}" -eq 0
check "server: integrity_check ok" test "$(sqlite3 "$S/ntm.db" 'PRAGMA integrity_check')" = ok
expect 0 "server: ntm verify passes" "$S" verify
if [ -n "${TSAN_LOG:-}" ]; then
    reports=$(cat "$TSAN_LOG".* 2>/dev/null | grep -c '^WARNING: ThreadSanitizer' || true)
    if [ "${reports:-0}" -gt 0 ]; then
        cat "$TSAN_LOG".* | head -120
    fi
    check "ThreadSanitizer: no report from the server or the pulling reader ($reports)" test "${reports:-0}" -eq 0
else
    skip "ThreadSanitizer: not a TSan run (scripts/tsan.sh sets TSAN_LOG)"
fi
finish
