#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# chaos_converge.sh - RELIABILITY.md T14-lite, Jepsen style, against a real
# `ntm serve` over TLS on 127.0.0.1 reached through tests/e2e/faultproxy.py.
#
# Five devices work at once for DURATION seconds: the root admin, a
# district coordinator (Gò Dầu) and three recorders of two communes (two in
# Thạnh Đức, inside the coordinator's district, one in Tân Lập, outside
# it). Their clocks (faketime, client processes only) are a seeded
# permutation of {-3d, 0, +2h, +5y}. Each does random operations: record,
# edit the same or a different field of its own and others' records,
# delete, review, resolve conflicts, push, pull, sync.
# Nemesis, meanwhile: random toxics per connection (latency, bandwidth,
# slicer, slow_close, timeout), bursts of reset_peer/limit_data, a stall,
# kill -9 of a client mid-sync, and kill -9 of the server with a restart
# (once or twice). At each server kill, every entry some device holds as
# acknowledged must already be in the dead server's DB.
# Then heal (each home pointed at the server directly, no proxy) and at
# most 3 sync rounds for everyone. Checker:
#   (a) lost = 0: every entry any device saw acknowledged is on the server
#       (and nothing unpushed is left), no entry from an unknown author;
#   (b) no duplicate (author, seq) or id in any DB, no fork;
#   (c) `ntm verify` exits 0 on every home and on the server;
#   (d) each device's `ntm --json list --deleted`, restricted to its scope,
#       is byte-identical to the admin's and the server's for that scope
#       (fields, conflicts, heads, deleted, review states);
#   (e) PRAGMA integrity_check = ok on every DB;
#   and no ntm process died of anything but our own kill -9.
#
# Env: NTM_BIN; SEED (printed; replays the same choices, though not the
# same timings); DURATION (seconds of chaos, default 40); CHAOS_DEEP=1 for
# the deep tier (DURATION 180, 3 server kills). NTM_KEEP_TMP=1 keeps the
# folder. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/threat_lib.sh"
PROXY_PY=$(dirname "$0")/faultproxy.py
command -v python3 >/dev/null || { echo "python3 is needed"; exit 77; }
FAKELIB=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
    /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
    [ -e "$f" ] && FAKELIB=$f && break
done
[ -n "$FAKELIB" ] || { echo "libfaketime is needed (apt-get install -y faketime)"; exit 77; }

SEED=${SEED:-$((($$ + $(date +%s%N) / 1000) % 32768))}
RANDOM=$SEED
echo "# seed $SEED (replay with SEED=$SEED)"
if [ -n "${CHAOS_DEEP:-}" ]; then
    DURATION=${DURATION:-180}
    SERVER_KILLS=${SERVER_KILLS:-3}
else
    DURATION=${DURATION:-40}
    SERVER_KILLS=${SERVER_KILLS:-$((1 + RANDOM % 2))}
fi
OP_TIMEOUT=10 # seconds: any client op is killed -9 past this

make_cert
PORT=$(free_port)
PPORT=$(free_port)
DIRECT=https://127.0.0.1:$PORT
PROXIED=https://127.0.0.1:$PPORT
S=$T/server
CA=72.710.25657 # Xã Thạnh Đức, in Huyện Gò Dầu (72.710)
CB=72.705.25489 # Xã Tân Lập, in Huyện Tân Biên

# ---------------------------------------------------------------- devices
NAMES=(admin coord rec1 rec2 rec3)
ROLES=(admin coordinator recorder recorder recorder)
SCOPES=(72 72.710 "$CA" "$CA" "$CB")
CLOCKS=(0 -3d 0 +2h +5y)
# A seeded permutation of the four clocks for the four non-root devices.
for i in 4 3 2; do
    j=$((1 + RANDOM % i))
    tmp=${CLOCKS[$i]}
    CLOCKS[i]=${CLOCKS[$j]}
    CLOCKS[j]=$tmp
done
KEYS=()
home() { echo "$T/${NAMES[$1]}"; }
# dev I ARGS...: ntm as device I (its clock, its home), killed -9 after
# OP_TIMEOUT; output in $T/I.out and $T/I.err, exit code in rc.
dev() {
    local i=$1
    shift
    # The subshell (not exec'ed: it runs "exit" after) takes bash's
    # "Killed" notice when timeout kills -9 its own process group.
    if [ "${CLOCKS[$i]}" = 0 ]; then
        (timeout -s KILL $OP_TIMEOUT "$NTM" --home "$(home "$i")" "$@" \
            >"$T/$i.out" 2>"$T/$i.err"
        exit $?) 2>/dev/null
    else
        (timeout -s KILL $OP_TIMEOUT env LD_PRELOAD="$FAKELIB" FAKETIME="${CLOCKS[$i]}" \
            DONT_FAKE_MONOTONIC=1 "$NTM" --home "$(home "$i")" "$@" \
            >"$T/$i.out" 2>"$T/$i.err"
        exit $?) 2>/dev/null
    fi
    rc=$?
}
# tls_opts I: devices with a wrong clock use pin-only mode (ntm_sync.h).
tls_opts() {
    if [ "${CLOCKS[$1]}" = 0 ]; then echo "--cacert $T/cert.pem"; else echo "--pin $PIN"; fi
}
for i in 0 1 2 3 4; do
    echo "# ${NAMES[$i]}: ${ROLES[$i]} of ${SCOPES[$i]}, clock ${CLOCKS[$i]}"
done

# ---------------------------------------------------------------- proxy
CTL=$T/toxics
echo none >"$CTL"
PROXY_PID=
python3 "$PROXY_PY" --listen "127.0.0.1:$PPORT" --upstream "127.0.0.1:$PORT" \
    --control "$CTL" --seed "$SEED" --log "$T/proxy.log" >"$T/proxy.out" 2>&1 &
PROXY_PID=$!
WORKERS=()
chaos_cleanup() {
    local p
    for p in "${WORKERS[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
    if [ -n "${NTM_KEEP_TMP:-}" ]; then
        [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null
        echo "kept $T"
    else
        cleanup
    fi
}
trap chaos_cleanup EXIT
check "fault proxy listens on 127.0.0.1:$PPORT" wait_listening "$T/proxy.out"
# toxics SPEC: the proxy's toxic set from now on.
toxics() {
    echo "$1" >"$CTL.new" && mv "$CTL.new" "$CTL"
    echo "$(date +%s.%N | cut -c1-14) toxics $1" >>"$T/nemesis.log"
}
MILD="none@3;latency:ms=40,jitter=30;latency:ms=200,jitter=100,dir=both;bandwidth:rate=24;slicer:size=40,var=30,us=300;slow_close:delay=300"
ROUGH="$MILD;limit_data:bytes=1500;limit_data:bytes=6000,dir=both;reset_peer:ms=30;timeout:ms=1500,dir=both"
BURST="reset_peer:ms=0@2;reset_peer:ms=60;limit_data:bytes=400;limit_data:bytes=2500@2;limit_data:bytes=2000,dir=up;none@0.5"
STALL="timeout:ms=0,dir=both@2;timeout:ms=3000,dir=both;none"

# ---------------------------------------------------------------- setup
# The admin's home first (the server pins its key), then the server.
dev 0 init --root --no-passphrase --name admin
dev 0 key export
KEYS[0]=$(cat "$T/0.out")
run "$S" init --no-passphrase --root-key "${KEYS[0]}" --name server
check "server starts over TLS" start_server "$S"
setup_ok=1
# shellcheck disable=SC2046
dev 0 init --server "$PROXIED" $(tls_opts 0)
[ "$rc" -eq 0 ] || setup_ok=0
for i in 1 2 3 4; do
    # shellcheck disable=SC2046
    dev "$i" init --no-passphrase --name "${NAMES[$i]}" --server "$PROXIED" $(tls_opts "$i")
    [ "$rc" -eq 0 ] || setup_ok=0
    dev "$i" key export
    KEYS[i]=$(cat "$T/$i.out")
    dev 0 admin enroll "${KEYS[$i]}" --role "${ROLES[$i]}" --scope "${SCOPES[$i]}" \
        --name "${NAMES[$i]}"
    [ "$rc" -eq 0 ] || setup_ok=0
done
dev 0 push
[ "$rc" -eq 0 ] || setup_ok=0
for i in 1 2 3 4; do
    dev "$i" pull
    [ "$rc" -eq 0 ] || setup_ok=0
done
check "5 homes made, 4 devices enrolled, each pulled its enrollment" test "$setup_ok" = 1

# ---------------------------------------------------------------- workers
# One sequential worker per device; its own RANDOM stream from SEED. A
# file $T/kill.I asks worker I to kill -9 its next sync at a random point.
TITLES=("Làm đường" "Nạo vét kênh" "Sửa cầu" "Trồng cây" "Họp dân" "Đo đạc")
NOTES=("ghi chú" "đã kiểm tra" "thiếu số liệu" "bổ sung sau" "xong")
END=$(($(date +%s) + DURATION))
log_op() { echo "$(date +%s%3N) $1 $2 $3" >>"$T/hist.$W"; }
# errline: the error line of the last operation, else its first line of
# stderr (a failure that names no "error" must still show what it said).
errline() {
    { grep -m1 'error' "$T/$W.err" || grep -m1 . "$T/$W.err" || echo "(no stderr)"; } |
        cut -c1-300
}
# pick_record: a random record id of this device's list (or empty).
pick_record() {
    local n
    dev "$W" --json list
    n=$(jq length "$T/$W.out" 2>/dev/null || echo 0)
    [ "${n:-0}" -gt 0 ] || return 1
    REC=$(jq -r ".[$((RANDOM % n))].id" "$T/$W.out")
}
do_sync() {
    local op=$1 p d
    if [ -e "$T/kill.$W" ]; then
        rm -f "$T/kill.$W"
        d=$((RANDOM % 900))
        if [ "${CLOCKS[$W]}" = 0 ]; then
            "$NTM" --home "$(home "$W")" "$op" >/dev/null 2>&1 &
        else
            env LD_PRELOAD="$FAKELIB" FAKETIME="${CLOCKS[$W]}" DONT_FAKE_MONOTONIC=1 \
                "$NTM" --home "$(home "$W")" "$op" >/dev/null 2>&1 &
        fi
        p=$!
        sleep "0.$(printf %03d $d)"
        kill -9 $p 2>/dev/null
        wait $p 2>/dev/null
        rc=$?
        log_op "kill-$op" "$rc" "${d}ms"
        return
    fi
    dev "$W" "$op"
    log_op "$op" "$rc" "$(errline)"
}
record_one() {
    local unit=${SCOPES[$W]}
    case $unit in
    72) [ $((RANDOM % 2)) = 0 ] && unit=$CA || unit=$CB ;;
    72.710) unit=$CA ;;
    esac
    dev "$W" record activity --task doan.rural_roads_km --unit "$unit" \
        --date "2019-0$((1 + RANDOM % 9))-1$((RANDOM % 10))" --qty "$((1 + RANDOM % 20))" \
        --uom km --title "${TITLES[$((RANDOM % 6))]} ${NAMES[$W]}"
    log_op record "$rc" "$(errline)"
}
edit_one() {
    pick_record || return
    case $((RANDOM % 4)) in
    0 | 1) dev "$W" edit "$REC" --set "title=${TITLES[$((RANDOM % 6))]} (${NAMES[$W]} $RANDOM)" ;;
    2) dev "$W" edit "$REC" --set "note=${NOTES[$((RANDOM % 5))]} ${NAMES[$W]}" ;;
    3) dev "$W" edit "$REC" --set "qty=$((RANDOM % 50)).$((RANDOM % 10))" ;;
    esac
    log_op edit "$rc" "$(errline)"
}
review_one() {
    pick_record || return
    local st=(--approve --reject --issues)
    dev "$W" review "$REC" "${st[$((RANDOM % 3))]}" --comment "${NAMES[$W]}"
    log_op review "$rc" "$(errline)"
}
resolve_one() {
    local n id e
    dev "$W" --json conflicts
    n=$(jq length "$T/$W.out" 2>/dev/null || echo 0)
    [ "${n:-0}" -gt 0 ] || return
    id=$(jq -r ".[$((RANDOM % n))].id" "$T/$W.out")
    if [ $((RANDOM % 2)) = 0 ]; then
        e=$(jq -r --arg id "$id" '.[] | select(.id == $id) | .fields | to_entries[0].value[0].entry' "$T/$W.out")
        dev "$W" resolve "$id" --take "$e"
    else
        dev "$W" resolve "$id" --set "title=Đã thống nhất (${NAMES[$W]})"
    fi
    log_op resolve "$rc" "$(errline)"
}
delete_one() {
    pick_record || return
    dev "$W" delete "$REC"
    log_op delete "$rc" "$(errline)"
}
worker() {
    W=$1
    RANDOM=$((SEED * 5 + W * 7919))
    local ops=0 x
    while [ "$(date +%s)" -lt "$END" ] && [ $ops -lt 2000 ]; do
        ops=$((ops + 1))
        x=$((RANDOM % 100))
        case ${ROLES[$W]} in
        recorder)
            if [ $x -lt 35 ]; then record_one
            elif [ $x -lt 60 ]; then edit_one
            elif [ $x -lt 63 ]; then delete_one
            elif [ $x -lt 88 ]; then do_sync sync
            elif [ $x -lt 94 ]; then do_sync push
            else do_sync pull; fi ;;
        *)
            if [ $x -lt 8 ]; then record_one
            elif [ $x -lt 30 ]; then edit_one
            elif [ $x -lt 48 ]; then review_one
            elif [ $x -lt 62 ]; then resolve_one
            elif [ $x -lt 90 ]; then do_sync sync
            elif [ $x -lt 95 ]; then do_sync push
            else do_sync pull; fi ;;
        esac
    done
}

# acked: every (author, seq, id) some device holds as acknowledged by the
# server (peer_heads: what the server answered it holds), into $T/acked.
q() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$1" "$2" 2>/dev/null; }
snapshot_acked() {
    local i
    for i in 0 1 2 3 4; do
        q "$(home "$i")/ntm.db" "SELECT e.author || ' ' || e.seq || ' ' || e.id
            FROM entries e JOIN peer_heads p ON p.author = e.author AND e.seq <= p.seq"
    done | sort -u >"$T/acked.now"
    sort -u "$T/acked.now" "$T/acked" -o "$T/acked" 2>/dev/null || cp "$T/acked.now" "$T/acked"
}
server_set() { q "$S/ntm.db" "SELECT author || ' ' || seq || ' ' || id FROM entries" | sort -u; }
: >"$T/acked"

# ---------------------------------------------------------------- chaos
toxics "$MILD"
for i in 0 1 2 3 4; do
    worker "$i" &
    WORKERS+=($!)
done
# The nemesis plan: server kills at seeded times, other actions between.
KILL_AT=()
for k in $(seq 1 "$SERVER_KILLS"); do
    KILL_AT+=($((DURATION * k / (SERVER_KILLS + 1) + RANDOM % 5 - 2)))
done
START=$(date +%s)
kills_done=0
lost_at_crash=0
client_kills=0
while [ "$(date +%s)" -lt "$END" ]; do
    sleep "$((1 + RANDOM % 3)).$((RANDOM % 10))"
    el=$(($(date +%s) - START))
    if [ $kills_done -lt "$SERVER_KILLS" ] && [ "$el" -ge "${KILL_AT[$kills_done]}" ]; then
        kills_done=$((kills_done + 1))
        kill -9 "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=
        echo "$(date +%s.%N | cut -c1-14) server kill -9 #$kills_done" >>"$T/nemesis.log"
        # The server is dead: nothing more can be acknowledged. What was
        # must be in its DB already (read before any restart or re-push).
        snapshot_acked
        server_set >"$T/server.at-crash"
        n=$(comm -23 "$T/acked.now" "$T/server.at-crash" | wc -l)
        if [ "$n" -gt 0 ]; then
            lost_at_crash=$((lost_at_crash + n))
            comm -23 "$T/acked.now" "$T/server.at-crash" | head -3 | sed 's/^/# lost at crash: /'
        fi
        echo "# server kill -9 #$kills_done at ${el}s: $(wc -l <"$T/acked.now") acknowledged entries, $n missing from its DB"
        sleep "0.$((RANDOM % 10))"
        start_server "$S" || echo "# server restart failed"
        continue
    fi
    case $((RANDOM % 10)) in
    0 | 1 | 2) toxics "$MILD" ;;
    3 | 4) toxics "$ROUGH" ;;
    5 | 6)
        toxics "$BURST"
        sleep "1.$((RANDOM % 10))"
        toxics "$ROUGH"
        ;;
    7)
        toxics "$STALL"
        sleep 1
        toxics "$MILD"
        ;;
    8 | 9)
        v=$((RANDOM % 5))
        touch "$T/kill.$v"
        client_kills=$((client_kills + 1))
        echo "$(date +%s.%N | cut -c1-14) kill -9 next sync of ${NAMES[$v]}" >>"$T/nemesis.log"
        ;;
    esac
done
toxics none
for p in "${WORKERS[@]}"; do wait "$p"; done
WORKERS=()
[ -z "$SERVER_PID" ] && start_server "$S"
echo "# chaos over after $(($(date +%s) - START)) s; $(wc -l <"$T/proxy.log") proxied connections"
check "nemesis: $kills_done server kill(s) -9; every acknowledged entry was in the dead server's DB ($lost_at_crash missing)" \
    test "$kills_done" -ge 1 -a "$lost_at_crash" -eq 0
check "nemesis: toxics applied (reset, limit, timeout, latency) and $client_kills client kills asked" \
    sh -c "grep -q ' reset_peer' '$T/proxy.log' && grep -q ' limit_data' '$T/proxy.log' && grep -q ' latency' '$T/proxy.log'"

cat "$T"/hist.* >"$T/hist"
echo "# operations (op rc=count): $(awk '{ n[$2 ":" $3]++ } END { for (k in n) printf "%s=%d ", k, n[k] }' "$T/hist")"
check "$(wc -l <"$T/hist") operations ran; some syncs got through ($(grep -c '^[0-9]* sync 0 ' "$T/hist")), conflicts resolved ($(grep -c '^[0-9]* resolve 0 ' "$T/hist"))" \
    test "$(grep -c '^[0-9]* sync 0 ' "$T/hist")" -ge 3
crashes=$(awk '$3 >= 128 && $3 != 137' "$T/hist" | wc -l)
check "no ntm process died but by our kill -9 ($crashes)" test "$crashes" -eq 0
awk '$3 >= 128 && $3 != 137' "$T/hist" | head -3 | sed 's/^/# /'
# Local writes never fail; a review or resolve may (a conflict came in).
bad_local=$(awk '($2 == "record" || $2 == "edit" || $2 == "delete") && $3 != 0 && $3 != 137' "$T/hist" | wc -l)
check "record, edit and delete never failed ($bad_local)" test "$bad_local" -eq 0
awk '($2 == "record" || $2 == "edit" || $2 == "delete") && $3 != 0 && $3 != 137' "$T/hist" | head -3 | sed 's/^/# /'
# A sync that fails on the link must say "could not reach" (exit 4) or be
# refused (5); any other failure is listed. A reset or a cut in the TLS
# handshake counts as "could not reach" (4).
odd=$(awk '($2 == "sync" || $2 == "push" || $2 == "pull") && $3 != 0 && $3 != 4 && $3 != 137' "$T/hist" |
    wc -l)
tlsbug=$(awk '($2 == "sync" || $2 == "push" || $2 == "pull") && $3 == 1' "$T/hist" | grep -c "TLS check of" || true)
check "syncs through the faults exit 0, 4 or killed ($odd others)" test "$odd" -eq 0
awk '($2 == "sync" || $2 == "push" || $2 == "pull") && $3 != 0 && $3 != 4 && $3 != 137' "$T/hist" |
    grep -v "TLS check of" | head -5 | sed 's/^/# /'
check "a reset or cut TLS handshake gives exit 4 (could not reach), not 1 \"TLS check failed\" ($tlsbug syncs)" \
    test "$tlsbug" -eq 0

# ---------------------------------------------------------------- heal
snapshot_acked
heal_ok=1
for i in 0 1 2 3 4; do
    # shellcheck disable=SC2046
    dev "$i" init --server "$DIRECT" $(tls_opts "$i")
    [ "$rc" -eq 0 ] || { heal_ok=0; echo "# heal ${NAMES[$i]}: $(head -2 "$T/$i.err")"; }
done
check "heal: every home points at the server directly" test "$heal_ok" = 1
# The records of scope SCOPE in a list on stdin, sorted, one per line.
in_scope() {
    jq -S -c --arg s "$1" '[.[] | select(.unit == $s or (.unit | startswith($s + ".")))] | sort_by(.id) | .[]'
}
views_agree() {
    local i
    "$NTM" --home "$S" --json list --deleted 2>/dev/null >"$T/server.list" || return 1
    for i in 0 1 2 3 4; do
        dev "$i" --json list --deleted
        cp "$T/$i.out" "$T/$i.list"
    done
    for i in 0 1 2 3 4; do
        in_scope "${SCOPES[$i]}" <"$T/$i.list" >"$T/$i.view" || return 1
        in_scope "${SCOPES[$i]}" <"$T/0.list" >"$T/$i.admin-view"
        in_scope "${SCOPES[$i]}" <"$T/server.list" >"$T/$i.server-view"
        cmp -s "$T/$i.view" "$T/$i.server-view" || return 1
        cmp -s "$T/$i.admin-view" "$T/$i.server-view" || return 1
    done
}
rounds=0
while [ $rounds -lt 3 ]; do
    rounds=$((rounds + 1))
    round_ok=1
    for i in 0 1 2 3 4; do
        dev "$i" sync
        [ "$rc" -eq 0 ] || { round_ok=0; echo "# round $rounds ${NAMES[$i]} sync exit $rc: $(head -c 200 "$T/$i.err")"; }
    done
    [ $round_ok = 1 ] && [ $rounds -ge 2 ] && views_agree && break
done
check "heal: $rounds sync round(s), every sync exit 0 in the last" test "$round_ok" = 1
snapshot_acked

# ---------------------------------------------------------------- checker
server_set >"$T/server.set"
lost=$(comm -23 "$T/acked" "$T/server.set" | wc -l)
check "(a) lost = 0: all $(wc -l <"$T/acked") acknowledged entries are on the server ($lost missing)" \
    test "$lost" -eq 0
comm -23 "$T/acked" "$T/server.set" | head -3 | sed 's/^/# lost: /'
keys_re=$(printf '%s|' "${KEYS[@]}")
strangers=$(grep -cvE "^(${keys_re%|}) " "$T/server.set" || true)
check "(a) no entry on the server from an unknown author ($strangers)" test "$strangers" -eq 0
for i in 0 1 2 3 4; do
    dev "$i" --json status
    check "(a) ${NAMES[$i]}: nothing left unpushed" sh -c "jq -e '.unpushed == 0' '$T/$i.out' >/dev/null"
    own=$(q "$(home "$i")/ntm.db" "SELECT author || ' ' || seq || ' ' || id FROM entries WHERE author = '${KEYS[$i]}'" | sort)
    check "(a) ${NAMES[$i]}: its $(echo "$own" | grep -c .) own entries are all on the server" \
        test -z "$(comm -23 <(echo "$own") "$T/server.set")"
done
dups() {
    q "$1/ntm.db" "SELECT ((SELECT count(*) FROM (SELECT 1 FROM entries GROUP BY author, seq HAVING count(*) > 1))
        + (SELECT count(*) - count(DISTINCT id) FROM entries)) || ' ' || (SELECT count(*) FROM forks)"
}
for h in "$S" $(for i in 0 1 2 3 4; do home "$i"; done); do
    check "(b) $(basename "$h"): no duplicate (author, seq) or id, no fork ($(dups "$h"))" test "$(dups "$h")" = "0 0"
done
"$NTM" --home "$S" --json verify >"$T/out" 2>"$T/err"
rc=$?
check "(c) server: verify exit 0 ($rc), no invalid entry, no fork" \
    sh -c "test $rc -eq 0 && jq -e '(.invalid | length) == 0 and (.forks | length) == 0' '$T/out' >/dev/null"
for i in 0 1 2 3 4; do
    dev "$i" --json verify
    check "(c) ${NAMES[$i]} (clock ${CLOCKS[$i]}): verify exit 0 ($rc)" \
        sh -c "test $rc -eq 0 && jq -e '(.invalid | length) == 0 and (.forks | length) == 0' '$T/$i.out' >/dev/null"
done
views_agree
for i in 0 1 2 3 4; do
    n=$(wc -l <"$T/$i.view")
    c=$(grep -c '"conflict":true' "$T/$i.view" || true)
    check "(d) ${NAMES[$i]}: its view of ${SCOPES[$i]} ($n records, $c in conflict) = the server's" \
        cmp -s "$T/$i.view" "$T/$i.server-view"
    if ! cmp -s "$T/$i.view" "$T/$i.server-view"; then
        diff <(jq -c '{id, heads, review, conflict}' "$T/$i.view") \
            <(jq -c '{id, heads, review, conflict}' "$T/$i.server-view") | head -6 | sed 's/^/#   /'
    fi
    check "(d)   ... = the admin's view of ${SCOPES[$i]}" cmp -s "$T/$i.admin-view" "$T/$i.server-view"
done
check "(d) the server holds records of both communes, some edited, some reviewed" \
    jq -e "any(.[]; .unit == \"$CA\") and any(.[]; .unit == \"$CB\") and any(.[]; (.heads | length) >= 1 and .review != \"submitted\")" \
    "$T/server.list" >/dev/null
echo "# records: $(jq length "$T/server.list"); in conflict: $(jq '[.[] | select(.conflict)] | length' "$T/server.list"); deleted: $(jq '[.[] | select(.deleted)] | length' "$T/server.list"); reviewed: $(jq '[.[] | select(.review != "submitted")] | length' "$T/server.list"); entries: $(wc -l <"$T/server.set")"
for h in "$S" $(for i in 0 1 2 3 4; do home "$i"; done); do
    check "(e) $(basename "$h"): integrity_check ok" test "$(q "$h/ntm.db" 'PRAGMA integrity_check')" = ok
done
stop_server TERM
check "the server stops cleanly" test "${SERVER_RC:-1}" -eq 0
echo "# seed $SEED"
finish_threat
