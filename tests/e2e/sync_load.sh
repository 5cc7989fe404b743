#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# sync_load.sh - 8 concurrent clients against one `ntm serve` over TLS on
# 127.0.0.1 (RELIABILITY.md T12, CI-lite): separate homes, recorders of the
# same commune, each with 200 unique entries, all syncing at once (push in
# batches of 20, then pull, twice). Per client: every exit 0, 200 accepted,
# nothing rejected, the server holds its 200 (same ids), and after a last
# pull every client holds exactly what the server holds. The server logs
# no answer other than 200 and verifies clean.
#
# Env: NTM_BIN; CLIENTS (default 8) and PER (default 200; 100 under the
# sanitizers, NTM_SANITIZED: the same 8 clients at once, half the entries)
# for bigger runs.
# Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed (apt-get install -y sqlite3)"
    exit 77
}
CLIENTS=${CLIENTS:-8}
if [ -n "${NTM_SANITIZED:-}" ]; then PER=${PER:-100}; else PER=${PER:-200}; fi
# A loaded 2-core machine can be slow to answer: let clients retry.
export NTM_SYNC_ATTEMPTS=5
export NTM_SYNC_RETRY_MS=200

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
COMMUNE=72.710.25657
q() { sqlite3 -batch -noheader "$1" "$2" 2>/dev/null; }
file_ok() { jq -e "$1" "$2" >/dev/null 2>&1; }

run "$A" init --root --no-passphrase --server "$URL" --cacert "$T/cert.pem"
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"

declare -a KEY
setup_fail=0
for i in $(seq 1 "$CLIENTS"); do
    H=$T/c$i
    "$NTM" --home "$H" init --no-passphrase --server "$URL" \
        --cacert "$T/cert.pem" >/dev/null 2>&1 || setup_fail=1
    KEY[$i]=$("$NTM" --home "$H" key export 2>/dev/null)
    "$NTM" --home "$A" admin enroll "${KEY[$i]}" --role recorder \
        --scope "$COMMUNE" --name "Người ghi $i" >/dev/null 2>&1 || setup_fail=1
done
check "$CLIENTS homes made and enrolled" test "$setup_fail" -eq 0
expect 0 "admin pushes the enrollments" "$A" push
for i in $(seq 1 "$CLIENTS"); do
    "$NTM" --home "$T/c$i" pull >/dev/null 2>&1 || setup_fail=1
done
check "every client pulls its enrollment" test "$setup_fail" -eq 0

# Offline work, all homes at once (each home is one chain, so one writer).
record_n() {
    local h=$1 i
    for i in $(seq 1 "$PER"); do
        "$NTM" --home "$h" record activity --task doan.rural_roads_km \
            --unit "$COMMUNE" --date "$(printf "2019-06-%02d" $((i % 28 + 1)))" \
            --people $((i % 50 + 1)) --title "Việc $i của $(basename "$h")" \
            >/dev/null 2>&1 || return 1
    done
}
for i in $(seq 1 "$CLIENTS"); do record_n "$T/c$i" & done
rec_fail=0
for job in $(jobs -p); do
    [ "$job" = "$SERVER_PID" ] && continue
    wait "$job" || rec_fail=$((rec_fail + 1))
done
check "each client records $PER entries offline" test "$rec_fail" -eq 0

# The load: every client pushes then pulls, twice, all at the same time.
client() {
    local i=$1 H=$T/c$1 r
    for r in 1 2; do
        "$NTM" --home "$H" --json push --batch 20 >"$T/push$i.$r" 2>"$T/perr$i.$r" ||
            echo "push $r exit $?" >>"$T/fail$i"
        "$NTM" --home "$H" --json pull --page 100 >"$T/pull$i.$r" 2>"$T/lerr$i.$r" ||
            echo "pull $r exit $?" >>"$T/fail$i"
    done
}
t0=$(date +%s%3N)
pids=
for i in $(seq 1 "$CLIENTS"); do
    client "$i" &
    pids="$pids $!"
done
for p in $pids; do wait "$p"; done
ms=$(($(date +%s%3N) - t0))
echo "# $CLIENTS clients synced $((CLIENTS * PER)) entries in $ms ms"

SERVER_TOTAL=$(q "$S/ntm.db" "SELECT count(*) FROM entries")
for i in $(seq 1 "$CLIENTS"); do
    H=$T/c$i
    k=${KEY[$i]}
    check "client $i: no command failed" test ! -s "$T/fail$i"
    [ -s "$T/fail$i" ] && sed 's/^/#   /' "$T/fail$i" && cat "$T"/[pl]err"$i".* | grep -m2 . | sed 's/^/#   /'
    # A batch the client timed out on and sent again is "already there"
    # (duplicates) the second time: acknowledged all the same.
    check "client $i:   ... first push: $PER sent, each accepted or already there, none rejected" \
        file_ok ".sent == $PER and .accepted + .duplicates == $PER and (.rejected | length) == 0" "$T/push$i.1"
    file_ok '.duplicates > 0' "$T/push$i.1" &&
        echo "# client $i: $(jq .duplicates "$T/push$i.1") acknowledged on a retry"
    check "client $i:   ... second push sends nothing" file_ok '.sent == 0' "$T/push$i.2"
    sids=$(q "$S/ntm.db" "SELECT id FROM entries WHERE author='$k' ORDER BY id" | md5sum)
    lids=$(q "$H/ntm.db" "SELECT id FROM entries WHERE author='$k' ORDER BY id" | md5sum)
    n=$(q "$S/ntm.db" "SELECT count(*) FROM entries WHERE author='$k'")
    check "client $i:   ... the server holds its $PER (same ids)" test "$n" -eq "$PER" -a "$sids" = "$lids"
    "$NTM" --home "$H" --json pull >"$T/out" 2>"$T/err"
    check "client $i:   ... a last pull makes it hold all $SERVER_TOTAL server entries" \
        test "$(q "$H/ntm.db" 'SELECT count(*) FROM entries')" -eq "$SERVER_TOTAL"
    run "$H" --json status
    check "client $i:   ... nothing unpushed" json_ok '.unpushed == 0'
done
check "the server holds $((CLIENTS * PER)) records plus the enrollments, no duplicate" \
    test "$SERVER_TOTAL" -eq $((CLIENTS * PER + CLIENTS)) -a \
    "$(q "$S/ntm.db" 'SELECT count(DISTINCT id) FROM entries')" -eq "$SERVER_TOTAL"
check "the server answered every request with 200" \
    test "$(grep -E '^(GET|POST) ' "$T/server.log" | grep -cvE '^(GET|POST) [^ ]+ 200 ')" -eq 0
run "$S" --json verify
check "the server's log verifies clean" json_ok '(.invalid | length) == 0 and (.forks | length) == 0'
check "integrity_check ok on the server" test "$(q "$S/ntm.db" 'PRAGMA integrity_check')" = ok
stop_server TERM
check "the server stops cleanly" test "${SERVER_RC:-1}" -eq 0
finish
