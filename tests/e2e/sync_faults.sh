#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# sync_faults.sh - crash faults around sync, after RELIABILITY.md T01-T03
# (CI-lite sizes), against a real `ntm serve` over TLS on 127.0.0.1:
#
#   T01  a recorder home with 500 unpushed entries: the push is killed with
#        -9 at 20 random delays in [0, push time]; each round starts from
#        the same snapshot of both homes, reruns the push and checks that
#        the server holds exactly the 500 (same ids, no duplicate (author,
#        seq)), status shows 0 unpushed, integrity_check ok on both DBs.
#   T02  the server is killed with -9 at 10 random points during a push and
#        restarted: every entry the client had acknowledged is still there
#        (checked before the next push), and the next push completes.
#   T03  a pull of 1,000+ entries is killed at 10 random points: the
#        applied entries are exactly those up to the stored cursor (no half
#        page), and a rerun ends with the server's count, no duplicate and
#        the cursor at the server's last gseq.
#
# Env: NTM_BIN; SEED (default: random, printed) makes the delays repeat;
# T01_ROUNDS, T02_ROUNDS, T03_ROUNDS for the deep tier (CI: 20/10/10, and
# 8/4/4 under the sanitizers, NTM_SANITIZED: the plain build kills at the
# full count; the sanitized one checks the recovery paths for memory
# errors). Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"
command -v sqlite3 >/dev/null || {
    echo "sqlite3 is needed (apt-get install -y sqlite3)"
    exit 77
}

SEED=${SEED:-$((($$ + $(date +%s)) % 32768))}
RANDOM=$SEED
echo "# seed $SEED"
if [ -n "${NTM_SANITIZED:-}" ]; then
    T01_ROUNDS=${T01_ROUNDS:-8} T02_ROUNDS=${T02_ROUNDS:-4} T03_ROUNDS=${T03_ROUNDS:-4}
else
    T01_ROUNDS=${T01_ROUNDS:-20} T02_ROUNDS=${T02_ROUNDS:-10} T03_ROUNDS=${T03_ROUNDS:-10}
fi

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R=$T/rec
C=$T/coord
COMMUNE=72.710.25657

now_ms() { date +%s%3N; }
# sleep_ms N: sleep N milliseconds.
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }
# rand_upto N: a uniform integer in [0, N].
rand_upto() { echo $(((RANDOM * 32768 + RANDOM) % ($1 + 1))); }
# kill_delay ROUND ROUNDS SPAN MID: when to kill in round ROUND, in ms. The
# ROUNDS planned rounds split [0, SPAN] in equal strata and draw one point in
# each, so early and late kills both happen whatever the draw. SPAN is one
# undisturbed run, which may have been slower than the rounds (a cold cache):
# when no kill has landed mid-run (MID is 0) after them, up to four more
# rounds kill in the first eighth. Prints nothing when the test is done.
kill_delay() {
    if [ "$1" -le "$2" ]; then
        echo $(((($1 - 1) * $3 + $(rand_upto "$3")) / $2))
    elif [ "$4" -eq 0 ] && [ "$1" -le $(($2 + 4)) ]; then
        rand_upto $(($3 / 8))
    fi
}
q() { sqlite3 -batch -noheader "$1" "$2" 2>/dev/null; }
integrity_ok() { [ "$(q "$1/ntm.db" 'PRAGMA integrity_check')" = ok ]; }
# record_n HOME N TAG: N activities in HOME.
record_n() {
    local i
    for i in $(seq 1 "$2"); do
        "$NTM" --home "$1" record activity --task doan.rural_roads_km \
            --unit "$COMMUNE" --date "$(printf "2019-05-%02d" $((i % 28 + 1)))" \
            --title "$3 $i" >/dev/null 2>&1 || return 1
    done
}
restart_server() {
    stop_server "${1:-TERM}"
    start_server "$S"
}

# ---------------------------------------------------------------- setup
run "$A" init --root --no-passphrase --server "$URL" --cacert "$T/cert.pem"
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
run "$R" init --no-passphrase --server "$URL" --cacert "$T/cert.pem"
run "$R" key export
REC=$(cat "$T/out")
run "$C" init --no-passphrase --server "$URL" --cacert "$T/cert.pem"
run "$C" key export
COORD=$(cat "$T/out")
# A second recorder only adds volume for the T03 pull.
R2=$T/rec2
run "$R2" init --no-passphrase --server "$URL" --cacert "$T/cert.pem"
run "$R2" key export
REC2=$(cat "$T/out")
run "$A" admin enroll "$REC" --role recorder --scope "$COMMUNE" --name "Xã Thạnh Đức"
run "$A" admin enroll "$REC2" --role recorder --scope "$COMMUNE" --name "Xã Thạnh Đức 2"
run "$A" admin enroll "$COORD" --role coordinator --scope 72.710 --name "Huyện Gò Dầu"
expect 0 "admin pushes three enrollments" "$A" push
expect 0 "recorder pulls its enrollment" "$R" pull
expect 0 "second recorder pulls its enrollment" "$R2" pull
# Both chains at once (one writer per home); the second is pushed for T03.
record_n "$R2" 500 "Ghi thêm" &
R2_JOB=$!
check "recorder records 500 entries offline" record_n "$R" 500 "Hoạt động"
wait $R2_JOB
check "second recorder records 500 entries offline" test $? -eq 0

# server_ids / local_ids: the recorder's entry ids, sorted.
server_ids() { q "$S/ntm.db" "SELECT id FROM entries WHERE author='$REC' ORDER BY id"; }
local_ids() { q "$R/ntm.db" "SELECT id FROM entries WHERE author='$REC' ORDER BY id"; }
server_dups() {
    q "$S/ntm.db" "SELECT (SELECT count(*) FROM (SELECT 1 FROM entries
        GROUP BY author, seq HAVING count(*) > 1)) + (SELECT count(*) - count(DISTINCT id) FROM entries)"
}
unpushed() { "$NTM" --home "$R" --json status 2>/dev/null | jq -r .unpushed; }

# ---------------------------------------------------------------- T01
stop_server TERM
cp -a "$R" "$T/rec.snap"
cp -a "$S" "$T/server.snap"
start_server "$S"
t0=$(now_ms)
run "$R" push --batch 10
P=$(($(now_ms) - t0))
check "T01: an undisturbed push of 500 takes ${P} ms" test "$rc" -eq 0
check "T01:   ... and the server holds the 500" test "$(server_ids | wc -l)" -eq 500

t01_fail=0
mid=0
for round in $(seq 1 $((T01_ROUNDS + 4))); do
    d=$(kill_delay "$round" "$T01_ROUNDS" "$P" "$mid")
    [ -n "$d" ] || break
    ran=$round
    stop_server TERM
    rm -rf "$R" "$S"
    cp -a "$T/rec.snap" "$R"
    cp -a "$T/server.snap" "$S"
    start_server "$S" || { t01_fail=$((t01_fail + 1)); continue; }
    "$NTM" --home "$R" push --batch 10 >/dev/null 2>&1 &
    pid=$!
    sleep_ms "$d"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ $? -eq 137 ] && mid=$((mid + 1))
    why=
    integrity_ok "$R" || why="$why client-integrity"
    "$NTM" --home "$R" push --batch 10 >/dev/null 2>"$T/err" || why="$why rerun-failed"
    [ "$(server_ids | wc -l)" -eq 500 ] || why="$why server-count=$(server_ids | wc -l)"
    [ "$(server_ids | md5sum)" = "$(local_ids | md5sum)" ] || why="$why ids-differ"
    [ "$(server_dups)" = 0 ] || why="$why duplicates"
    [ "$(unpushed)" = 0 ] || why="$why unpushed=$(unpushed)"
    if [ -n "$why" ]; then
        t01_fail=$((t01_fail + 1))
        echo "# T01 round $round (kill at ${d} ms):$why"
    fi
done
check "T01: $ran kills of a 500-entry push ($mid mid-push): rerun gives exactly the 500, none unpushed" \
    test "$t01_fail" -eq 0
check "T01:   ... some kills landed mid-push" test "$mid" -ge 1
run "$R" --json verify
check "T01: recorder's verify ok" json_ok '.entries > 500 and (.invalid | length) == 0 and (.forks | length) == 0'
run "$S" --json verify
check "T01: server's verify ok" json_ok '.entries > 500 and (.invalid | length) == 0 and (.forks | length) == 0'
check "T01: integrity_check ok on the recorder" integrity_ok "$R"
check "T01: integrity_check ok on the server" integrity_ok "$S"
rm -rf "$T/rec.snap" "$T/server.snap"

# ---------------------------------------------------------------- T02
# Each round records 40 new entries, pushes them one per request and kills
# the server at a random point of that push. What the client holds as
# acknowledged (peer_heads) must be on the restarted server before the
# client pushes again.
PER=25
record_n "$R" "$PER" "Đo thời gian"
t0=$(now_ms)
run "$R" push --batch 1
P2=$(($(now_ms) - t0))
check "T02: an undisturbed push of $PER, one per request, takes ${P2} ms" test "$rc" -eq 0
t02_fail=0
mid=0
for round in $(seq 1 $((T02_ROUNDS + 4))); do
    d=$(kill_delay "$round" "$T02_ROUNDS" "$P2" "$mid")
    [ -n "$d" ] || break
    ran=$round
    record_n "$R" "$PER" "Vòng $round" || t02_fail=$((t02_fail + 1))
    "$NTM" --home "$R" push --batch 1 >/dev/null 2>&1 &
    pid=$!
    sleep_ms "$d"
    kill -9 "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
    wait $pid 2>/dev/null
    prc=$?
    [ $prc -ne 0 ] && mid=$((mid + 1))
    why=
    acked=$(q "$R/ntm.db" "SELECT coalesce(max(seq), 0) FROM peer_heads WHERE author='$REC'")
    start_server "$S" || why="$why restart"
    held=$(q "$S/ntm.db" "SELECT count(*) FROM entries WHERE author='$REC' AND seq <= ${acked:-0}")
    [ "$held" = "${acked:-x}" ] || why="$why acked=$acked held=$held"
    integrity_ok "$S" || why="$why server-integrity"
    "$NTM" --home "$R" push --batch 1 >/dev/null 2>"$T/err" || why="$why push-after-restart"
    [ "$(server_ids | md5sum)" = "$(local_ids | md5sum)" ] || why="$why ids-differ"
    if [ -n "$why" ]; then
        t02_fail=$((t02_fail + 1))
        echo "# T02 round $round (server killed at ${d} ms, push exit $prc):$why"
    fi
done
check "T02: $ran server kills during a push ($mid interrupted it): every acknowledged entry kept" \
    test "$t02_fail" -eq 0
check "T02:   ... some kills interrupted the push" test "$mid" -ge 1
check "T02: the server holds all $((500 + PER * (ran + 1))) entries, no duplicate" \
    test "$(server_ids | wc -l)" -eq $((500 + PER * (ran + 1))) -a "$(server_dups)" = 0
run "$S" --json verify
check "T02: server's verify ok" json_ok '(.invalid | length) == 0 and (.forks | length) == 0'

# ---------------------------------------------------------------- T03
expect 0 "T03: the second recorder pushes its 500" "$R2" push
# The coordinator (Gò Dầu district) sees everything the server holds: the
# recorder's commune is in its scope, enrollments go to everyone.
TOTAL=$(q "$S/ntm.db" "SELECT count(*) FROM entries")
LAST=$(q "$S/ntm.db" "SELECT max(gseq) FROM entries")
cp -a "$C" "$T/coord.snap"
t0=$(now_ms)
run "$C" --json pull --page 50
P3=$(($(now_ms) - t0))
check "T03: an undisturbed pull of $TOTAL entries takes ${P3} ms" json_ok ".received == $TOTAL and .applied == $TOTAL"
local_count() { q "$C/ntm.db" "SELECT count(*) FROM entries"; }
cursor() { q "$C/ntm.db" "SELECT coalesce((SELECT value FROM meta WHERE key='sync.cursor'), 0)"; }
t03_fail=0
mid=0
for round in $(seq 1 $((T03_ROUNDS + 4))); do
    d=$(kill_delay "$round" "$T03_ROUNDS" "$P3" "$mid")
    [ -n "$d" ] || break
    ran=$round
    rm -rf "$C"
    cp -a "$T/coord.snap" "$C"
    "$NTM" --home "$C" pull --page 50 >/dev/null 2>&1 &
    pid=$!
    sleep_ms "$d"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ $? -eq 137 ] && mid=$((mid + 1))
    why=
    cur=$(cursor)
    upto=$(q "$S/ntm.db" "SELECT count(*) FROM entries WHERE gseq <= $cur")
    [ "$(local_count)" = "$upto" ] || why="$why half-page(local=$(local_count),cursor=$cur,upto=$upto)"
    integrity_ok "$C" || why="$why integrity"
    "$NTM" --home "$C" pull --page 50 >/dev/null 2>"$T/err" || why="$why rerun-failed"
    [ "$(local_count)" = "$TOTAL" ] || why="$why count=$(local_count)"
    [ "$(cursor)" = "$LAST" ] || why="$why cursor=$(cursor)"
    [ "$(q "$C/ntm.db" 'SELECT count(*) - count(DISTINCT id) FROM entries')" = 0 ] || why="$why duplicates"
    if [ -n "$why" ]; then
        t03_fail=$((t03_fail + 1))
        echo "# T03 round $round (kill at ${d} ms, cursor was $cur):$why"
    fi
done
check "T03: $ran kills of a $TOTAL-entry pull ($mid mid-pull): no half page, rerun complete, cursor $LAST" \
    test "$t03_fail" -eq 0
check "T03:   ... some kills landed mid-pull" test "$mid" -ge 1
run "$C" --json verify
check "T03: coordinator's verify ok" json_ok ".entries == $TOTAL and (.invalid | length) == 0 and (.forks | length) == 0"
check "T03: integrity_check ok on the coordinator" integrity_ok "$C"

stop_server TERM
check "the server stops cleanly after all that" test "${SERVER_RC:-1}" -eq 0
finish
