#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# reliab_io.sh - RELIABILITY.md T05, the I/O-error sweep. The real ntm
# binary runs with tests/fail_io.c preloaded (NTM_FAILIO_LIB), which fails
# the N-th open, pwrite, ftruncate, fdatasync, fsync or rename on the files
# of one home, once or from there on (persistent), with EIO. For each kind
# and mode, N = 1, 2, ... until the operation completes with no failure
# injected (every call it makes has then been failed once), for:
#   record  a device records one activity;
#   pull    a device ingests 20 entries of another device from the server;
#   import  a device imports a bundle of those 20 entries;
#   export  a device writes a bundle of its 20 entries (fsync, rename);
#   push    the server (armed once it listens) takes a device's push of 20.
# After every run, without the shim:
#   - no crash (no signal; the server still answers /healthz);
#   - a failed command said why and what to do (an error line and a hint:
#     line on stderr; exit 1, 4 or 5);
#   - I1: nothing acknowledged is lost (record: exit 0 => the record is
#     there; pull/import: exit 0 => the 20 entries are there; push: every
#     seq the device holds as acknowledged is on the server);
#   - all or nothing: a record, a pulled batch, an imported bundle is there
#     whole or not at all (no half-applied batch);
#   - I3: nothing twice (one row per author and seq);
#   - I4/I5: the store opens, `ntm verify` passes, integrity_check is ok;
#   - it heals: the same operation run again without faults completes, and
#     the result is complete with nothing twice.
# Env: NTM_BIN, NTM_FAILIO_LIB; NTM_T05_ENTRIES (default 20),
# NTM_T05_OPS (default "open pwrite ftruncate fdatasync fsync rename"),
# NTM_T05_SCENARIOS (default "record pull import export push"; "record
# push" in a sanitized build), NTM_T05_POINTS
# (default 12, 4 in a sanitized build: N at most that many points evenly
# spread over the calls counted, always N=1 and the last; 0: every N, the
# deep tier), NTM_T05_MAXN
# (default 400: a sweep that has not completed by then fails).
# Prints one line per scenario, kind and mode, the totals, and
# "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"

LIB=${NTM_FAILIO_LIB:-}
if [ -z "$LIB" ] || [ ! -f "$LIB" ]; then
    echo "NTM_FAILIO_LIB must name the fail_io shim (built as tests/libntm_failio.so)"
    exit 77
fi
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed"; exit 77; }
ENTRIES=${NTM_T05_ENTRIES:-20}
OPS=${NTM_T05_OPS:-open pwrite ftruncate fdatasync fsync rename}
# Under the sanitizers (NTM_SANITIZED) record and push only: the device's
# own write and the server's ingest; pull and import take the same ingest
# and export the same fsync and rename, swept in the plain build.
if [ -n "${NTM_SANITIZED:-}" ]; then
    SCENARIOS=${NTM_T05_SCENARIOS:-record push}
else
    SCENARIOS=${NTM_T05_SCENARIOS:-record pull import export push}
fi
MAXN=${NTM_T05_MAXN:-400}
COMMUNE=72.710.25657

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server

# q DB SQL: one value from a store (waits if a server is writing).
q() { sqlite3 -cmd '.timeout 5000' "$1" "$2" 2>/dev/null; }
# integrity HOME: PRAGMA integrity_check of HOME's store is ok.
integrity() { test "$(q "$1/ntm.db" 'PRAGMA integrity_check')" = ok; }
# verifies HOME: ntm verify passes (every chain and signature).
verifies() { "$NTM" --home "$1" verify >/dev/null 2>&1; }
# of HOME AUTHOR: rows of AUTHOR, and rows with a (author, seq) seen twice.
rows_of() { q "$1/ntm.db" "SELECT count(*) FROM entries WHERE author='$2'"; }
dups_of() {
    q "$1/ntm.db" "SELECT count(*) - count(DISTINCT seq) FROM entries WHERE author='$2'"
}
# contiguous HOME AUTHOR: AUTHOR's seqs are exactly 1..count.
contiguous() {
    test "$(q "$1/ntm.db" "SELECT count(*) = coalesce(max(seq), 0) AND coalesce(min(seq), 1) = 1 FROM entries WHERE author='$2'")" = 1
}

# ---------------------------------------------------------------- setup
run "$A" init --root --no-passphrase --name admin
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
run "$A" init --server "$URL" --cacert "$T/cert.pem"
for d in rec pul src; do
    run "$T/$d" init --no-passphrase --root-key "$ADMIN" --server "$URL" --cacert "$T/cert.pem"
    run "$T/$d" key export
    printf -v "KEY_$d" '%s' "$(cat "$T/out")"
    run "$A" admin enroll "$(cat "$T/out")" --role recorder --scope "$COMMUNE" --org doan
done
expect 0 "admin pushes 3 enrollments" "$A" push
for d in rec pul src; do run "$T/$d" pull; done
check "3 devices pulled their enrollments" test "$rc" -eq 0

# rec_n HOME N TAG: HOME records N activities (titles TAG i).
rec_n() {
    local i
    for ((i = 1; i <= $2; i++)); do
        "$NTM" --home "$1" record activity --task doan.rural_roads_km --unit "$COMMUNE" \
            --date 2019-07-01 --qty 1 --uom km --title "$3 $i" >/dev/null 2>&1 || return 1
    done
}
# Templates, copied for every run: rec (enrolled, nothing of its own),
# rec20 (the same with ENTRIES records, none pushed), pul (enrolled, none
# of src's entries yet). The server's home is copied with the server
# stopped: S0 holds the enrollments only.
stop_server TERM
cp -a "$S" "$T/S0"
cp -a "$T/rec" "$T/rec20"
check "template: a device with $ENTRIES records, none pushed" rec_n "$T/rec20" "$ENTRIES" "T05"
start_server "$S" >/dev/null
check "the source device records $ENTRIES and pushes them" \
    bash -c "$(declare -f rec_n); NTM='$NTM' COMMUNE='$COMMUNE'; rec_n '$T/src' $ENTRIES src &&
           '$NTM' --home '$T/src' push >/dev/null 2>&1"
expect 0 "  ... and exports them as a bundle" "$T/src" bundle export --out "$T/src.bundle" --author "$KEY_src"
SRC=$KEY_src
REC=$KEY_rec

# ---------------------------------------------------------------- runner
# with_faults HOME OP N MODE CMD...: run CMD under the shim, failing the
# N-th OP on HOME's files; stdout/stderr/rc as run; the shim's log in
# $T/fi.log ("inject ..." when a failure was injected).
with_faults() {
    local home=$1 op=$2 n=$3 mode=$4
    shift 4
    : >"$T/fi.log"
    env LD_PRELOAD="$LIB" NTM_FAILIO_OP="$op" NTM_FAILIO_N="$n" NTM_FAILIO_MODE="$mode" \
        NTM_FAILIO_PATH="$home/" NTM_FAILIO_LOG="$T/fi.log" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
injected() { grep -q '^inject' "$T/fi.log"; }

# bad WHY: one invariant broken in this run (printed, counted).
bad() {
    echo "    broken at $scen/$op/$mode N=$n (exit $rc): $1"
    sed 's/^/      stderr: /' "$T/err" 2>/dev/null | head -3
    broken=$((broken + 1))
}
# common_after HOME: checks every scenario shares, after the faulty run.
common_after() {
    if [ "$rc" -ge 128 ]; then
        bad "crashed (signal $((rc - 128)))"
        crashes=$((crashes + 1))
    elif [ "$rc" -ne 0 ]; then
        case $rc in 1 | 4 | 5) ;; *) bad "unexpected exit status" ;; esac
        [ -s "$T/err" ] || bad "failed without a word on stderr"
        grep -q '^hint: ' "$T/err" || bad "the message does not say what to do (no hint: line)"
        said=$((said + 1))
        # The message without the paths of this run, for the totals.
        head -1 "$T/err" | sed "s|$FAST/[a-z]*|HOME|g; s|'[^']*'|'…'|g" >>"$T/msgs"
    else
        withstood=$((withstood + 1))
    fi
    integrity "$1" || bad "integrity_check is not ok"
    verifies "$1" || bad "ntm verify fails"
}

# One run of each scenario at (op, n, mode). W is the working home, on a
# tmpfs when there is one: the shim injects the failures, and real fsyncs
# would only make the sweep slower.
FAST=$T
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    FAST=$(mktemp -d /dev/shm/ntm-t05.XXXXXX) || FAST=$T
fi
W=$FAST/w
run_record() {
    rm -rf "$W" && cp -a "$T/rec" "$W"
    with_faults "$W" "$op" "$n" "$mode" "$NTM" --home "$W" record activity \
        --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-07-01 --qty 1 --uom km --title "T05"
    injected || return 1
    common_after "$W"
    local got
    got=$(rows_of "$W" "$REC")
    case $got in 0 | 1) ;; *) bad "$got entries after one record" ;; esac
    [ "$rc" -ne 0 ] || [ "$got" = 1 ] || { bad "record said ok but is not there"; lost=$((lost + 1)); }
    "$NTM" --home "$W" record activity --task doan.rural_roads_km --unit "$COMMUNE" \
        --date 2019-07-01 --qty 1 --uom km --title "T05 again" >/dev/null 2>"$T/err" ||
        bad "a record after the fault fails: $(head -1 "$T/err")"
    [ "$(rows_of "$W" "$REC")" = $((got + 1)) ] || bad "the next record did not add one entry"
    contiguous "$W" "$REC" || { bad "seqs not 1..n after the next record"; dup=$((dup + 1)); }
    verifies "$W" || bad "ntm verify fails after the next record"
    return 0
}
# all_or_nothing: src's entries in W are 0 or ENTRIES (a batch is whole).
ingest_after() {
    common_after "$W"
    local got
    got=$(rows_of "$W" "$SRC")
    [ "$got" = 0 ] || [ "$got" = "$ENTRIES" ] || bad "half a batch applied: $got of $ENTRIES"
    [ "$rc" -ne 0 ] || [ "$got" = "$ENTRIES" ] || { bad "said ok with $got of $ENTRIES"; lost=$((lost + 1)); }
    [ "$(dups_of "$W" "$SRC")" = 0 ] || { bad "an entry held twice"; dup=$((dup + 1)); }
}
heal_check() {
    [ "$(rows_of "$W" "$SRC")" = "$ENTRIES" ] || { bad "after healing: $(rows_of "$W" "$SRC") of $ENTRIES"; lost=$((lost + 1)); }
    [ "$(dups_of "$W" "$SRC")" = 0 ] || { bad "after healing: an entry held twice"; dup=$((dup + 1)); }
    verifies "$W" || bad "ntm verify fails after healing"
}
run_pull() {
    rm -rf "$W" && cp -a "$T/pul" "$W"
    with_faults "$W" "$op" "$n" "$mode" "$NTM" --home "$W" pull
    injected || return 1
    ingest_after
    "$NTM" --home "$W" pull >/dev/null 2>"$T/err" || bad "pull after the fault fails: $(head -1 "$T/err")"
    heal_check
    return 0
}
run_import() {
    rm -rf "$W" && cp -a "$T/pul" "$W"
    with_faults "$W" "$op" "$n" "$mode" "$NTM" --home "$W" bundle import "$T/src.bundle"
    injected || return 1
    ingest_after
    "$NTM" --home "$W" bundle import "$T/src.bundle" >/dev/null 2>"$T/err" ||
        bad "import after the fault fails: $(head -1 "$T/err")"
    heal_check
    return 0
}

# export: a device writes a bundle of its 20 entries (FILE.tmp, fsync,
# rename, then FILE.minisig). A failed export leaves no partial bundle
# under the final name; a finished one holds every entry.
run_export() {
    rm -rf "$W" && cp -a "$T/rec20" "$W"
    with_faults "$W" "$op" "$n" "$mode" "$NTM" --home "$W" bundle export --out "$W/out.bundle"
    injected || return 1
    common_after "$W"
    local lines=0
    [ -f "$W/out.bundle" ] && lines=$(grep -c . "$W/out.bundle")
    if [ "$rc" -eq 0 ]; then
        [ "$lines" -gt "$ENTRIES" ] || { bad "export said ok, the bundle holds $lines lines"; lost=$((lost + 1)); }
        [ -s "$W/out.bundle.minisig" ] || bad "export said ok with no .minisig"
    else
        [ "$lines" = 0 ] || [ "$lines" -gt "$ENTRIES" ] || bad "a partial bundle ($lines lines) left under the final name"
    fi
    "$NTM" --home "$W" bundle export --out "$W/out.bundle" >/dev/null 2>"$T/err" ||
        bad "export after the fault fails: $(head -1 "$T/err")"
    [ "$(grep -c . "$W/out.bundle" 2>/dev/null)" -gt "$ENTRIES" ] || bad "after healing the bundle is short"
    return 0
}

# The push sweep has its own server on PORT2, home SW (a copy of S0 per
# run), started under the shim and armed once it answers /healthz.
PORT2=$(free_port)
URL2=https://127.0.0.1:$PORT2
SW=$FAST/sw
SW_PID=
sw_start() { # [shim args: op n mode]
    local pre=()
    if [ $# -gt 0 ]; then
        rm -f "$T/arm"
        : >"$T/fi.log"
        pre=(env LD_PRELOAD="$LIB" NTM_FAILIO_OP="$1" NTM_FAILIO_N="$2"
            NTM_FAILIO_MODE="$3" NTM_FAILIO_PATH="$SW/" NTM_FAILIO_LOG="$T/fi.log"
            NTM_FAILIO_ARM="$T/arm")
    fi
    "${pre[@]}" "$NTM" --home "$SW" serve --listen "127.0.0.1:$PORT2" \
        --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" 2>>"$T/sw.log" &
    SW_PID=$!
    for _ in $(seq 1 300); do
        curl -sk --max-time 2 "$URL2/healthz" 2>/dev/null | grep -q ok && { : >"$T/arm"; return 0; }
        kill -0 "$SW_PID" 2>/dev/null || break
        sleep 0.05
    done
    return 1
}
sw_stop() {
    [ -n "$SW_PID" ] || return 0
    kill -TERM "$SW_PID" 2>/dev/null
    wait "$SW_PID" 2>/dev/null
    SW_RC=$?
    SW_PID=
}
trap 'sw_stop; [ "$FAST" != "$T" ] && rm -rf "$FAST"; cleanup' EXIT
run_push() {
    rm -rf "$SW" "$W" && cp -a "$T/S0" "$SW" && cp -a "$T/rec20p" "$W"
    if ! sw_start "$op" "$n" "$mode"; then
        bad "the server under the shim did not start"
        return 0
    fi
    # Two attempts: the client's retry through the server's 503 is
    # exercised, without waiting out Retry-After four times per run.
    NTM_SYNC_ATTEMPTS=${NTM_SYNC_ATTEMPTS:-2} "$NTM" --home "$W" push >"$T/out" 2>"$T/err"
    rc=$?
    local alive=1
    curl -sk --max-time 5 "$URL2/healthz" 2>/dev/null | grep -q ok || alive=0
    sw_stop
    injected || return 1
    if [ "$alive" = 0 ] || [ "$SW_RC" -ge 128 ]; then
        bad "the server died (healthz $alive, exit $SW_RC)"
        crashes=$((crashes + 1))
    fi
    rc_server=$SW_RC
    common_after "$W"
    integrity "$SW" || bad "server: integrity_check is not ok"
    verifies "$SW" || bad "server: ntm verify fails"
    local acked got
    acked=$(q "$W/ntm.db" "SELECT coalesce(max(seq), 0) FROM peer_heads WHERE author='$REC'")
    got=$(rows_of "$SW" "$REC")
    [ "$got" -ge "${acked:-0}" ] || { bad "server holds $got, the device had $acked acknowledged"; lost=$((lost + 1)); }
    [ "$got" -le "$ENTRIES" ] || bad "server holds $got of $ENTRIES attempted (I2)"
    contiguous "$SW" "$REC" || { bad "server: seqs not 1..n"; dup=$((dup + 1)); }
    [ "$rc" -ne 0 ] || [ "$got" = "$ENTRIES" ] || { bad "push said ok, the server holds $got"; lost=$((lost + 1)); }
    # Heal: the server restarted without faults, the device pushes again.
    if sw_start; then
        "$NTM" --home "$W" push >/dev/null 2>"$T/err" || bad "push after restart fails: $(head -1 "$T/err")"
        sw_stop
        [ "$(rows_of "$SW" "$REC")" = "$ENTRIES" ] || { bad "after healing the server holds $(rows_of "$SW" "$REC")"; lost=$((lost + 1)); }
        contiguous "$SW" "$REC" || { bad "after healing: seqs not 1..n"; dup=$((dup + 1)); }
        [ "$(q "$W/ntm.db" "SELECT seq FROM peer_heads WHERE author='$REC'")" = "$ENTRIES" ] ||
            bad "after healing the device does not hold all $ENTRIES acknowledged"
        verifies "$SW" || bad "server: ntm verify fails after healing"
    else
        bad "the server does not restart on its home"
    fi
    return 0
}
# rec20p: rec20 pointed at the sweep's server.
rm -rf "$SW" && cp -a "$T/S0" "$SW"
if sw_start; then
    cp -a "$T/rec20" "$T/rec20p"
    run "$T/rec20p" init --server "$URL2" --cacert "$T/cert.pem"
    check "push template: the device points at the sweep's server" test "$rc" -eq 0
    sw_stop
else
    check "the sweep's server starts" false
fi

# ---------------------------------------------------------------- sweeps
# For each scenario and kind, a first run counts the calls (C) the
# operation makes; then, in each mode, N runs over 1..C (every N when C <=
# POINTS, else POINTS points evenly spread, always with 1 and C) and on to
# C+1, where the operation must complete with nothing injected.
# CI tier: 12 points (4 in a sanitized build, 3 times slower); deep: 0.
if [ -n "${NTM_SANITIZED:-}" ]; then
    POINTS=${NTM_T05_POINTS:-4}
else
    POINTS=${NTM_T05_POINTS:-12}
fi
total_runs=0
said=0
withstood=0
: >"$T/msgs"
crashes=0
lost=0
dup=0
t_start=$(date +%s)
for scen in $SCENARIOS; do
    for op in $OPS; do
        mode=once n=1000000000 broken=0
        "run_$scen" && bad "the counting run injected a failure"
        calls=$(sed -n 's/^calls [a-z]* \([0-9]*\) .*/\1/p' "$T/fi.log" | tail -1)
        calls=${calls:-0}
        if [ "$POINTS" -gt 0 ] && [ "$calls" -gt "$POINTS" ]; then
            stride=$(((calls + POINTS - 1) / POINTS))
        else
            stride=1
        fi
        for mode in once persist; do
            broken=0
            done_at=
            tried=0
            t0=$(date +%s)
            n=1
            while [ "$n" -le "$MAXN" ]; do
                if ! "run_$scen"; then
                    done_at=$n
                    break
                fi
                total_runs=$((total_runs + 1))
                tried=$((tried + 1))
                if [ "$n" -lt "$calls" ] && [ $((n + stride)) -gt "$calls" ]; then
                    n=$calls
                elif [ "$n" -lt "$calls" ]; then
                    n=$((n + stride))
                else
                    n=$((n + 1))
                fi
            done
            secs=$(($(date +%s) - t0))
            what="$scen/$op/$mode: $calls calls, $tried failed in turn"
            [ "$stride" -gt 1 ] && what="$what (every ${stride}th N, and N=$calls)"
            if [ -z "$done_at" ]; then
                not_ok "$what: not complete at N=$MAXN"
            elif [ "$broken" -gt 0 ]; then
                not_ok "$what: $broken invariant(s) broken (${secs}s)"
            else
                ok "$what, completes at N=$done_at; no crash, error said, nothing lost or twice, stores verify, heals (${secs}s)"
            fi
        done
    done
done
stop_server TERM
echo "T05 totals: $total_runs faulty runs ($said failed with a message, $withstood completed despite the fault), $crashes crashes, $lost lost, $dup duplicated ($(($(date +%s) - t_start)) s)"
echo "T05 messages given (count, first line):"
sort "$T/msgs" | uniq -c | sort -rn | head -12 | sed 's/^/    /'
check "T05: some faults made the operation fail (the shim bites)" test "$said" -gt 0
check "T05: 0 crashes" test "$crashes" -eq 0
check "T05: 0 acknowledged entries lost" test "$lost" -eq 0
check "T05: 0 entries held twice" test "$dup" -eq 0
finish
