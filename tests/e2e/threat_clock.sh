#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# threat_clock.sh - RELIABILITY.md T21 and threat #18 (clock skew) with a
# real `ntm serve` on 127.0.0.1 and devices whose clock is wrong (faketime
# on the client only; the server and the coordinator keep the right time):
#   - a device at +5 years records and pushes: its requests are accepted
#     after one 401 clock_skew and a corrected offset, its entries are
#     accepted and flagged clock_ahead by verify on the server and the
#     admin, and they do not drag the receivers' clocks along;
#   - a later correction by a coordinator with a right clock, written
#     knowing those entries, wins (show), whatever the timestamps;
#   - a device at 1970-01-02 likewise, and its own later edit written
#     knowing the correction wins over it in turn;
#   - -3 days and 2038-01-19 devices are accepted, ordered by seq;
#   - `admin revoke --after-seq N` invalidates the device's later entries
#     whatever their ts (ahead, or back-dated before the revocation).
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/threat_lib.sh"

if ! command -v faketime >/dev/null; then
    apt-get install -y faketime >/dev/null 2>&1 ||
        { echo "faketime is needed (apt-get install -y faketime)"; exit 77; }
fi
# The wrong clock is the wall clock only: timeouts keep working.
export DONT_FAKE_MONOTONIC=1

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
C=$T/coord  # coordinator of the district, right clock
F=$T/future # recorder, clock +5 years
P=$T/past   # recorder, clock 1970-01-02
COMMUNE=72.710.25657
DAY=86400000

# at CLOCK HOME ARGS...: run ntm with the device clock at CLOCK ("+5y",
# "-3d": offsets; "@YYYY-MM-DD hh:mm:ss": a start time), like run.
at() {
    local clock=$1 home=$2
    shift 2
    fake_clock "$clock" "$NTM" --home "$home" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
FUT=+5y
PAST='@1970-01-02 00:00:00'
# meta HOME KEY
meta() { sqlite3 "$1/ntm.db" "SELECT value FROM meta WHERE key='$2'"; }
# entry_ts HOME ENTRY_ID
entry_ts() { sqlite3 "$1/ntm.db" "SELECT ts FROM entries WHERE id='$2'"; }
# flagged_as HOME ENTRY CODE: verify --json lists ENTRY as flagged CODE.
flagged_as() {
    "$NTM" --home "$1" --json verify >"$T/verify" 2>/dev/null
    jq -e --arg e "$2" --arg c "$3" 'any(.flagged[]; .entry == $e and .code == $c)' \
        "$T/verify" >/dev/null
}
not_flagged() {
    "$NTM" --home "$1" --json verify >"$T/verify" 2>/dev/null
    jq -e --arg e "$2" 'all(.flagged[]; .entry != $e) and all(.invalid[]; .entry != $e)' \
        "$T/verify" >/dev/null
}
# invalidated HOME ENTRY: verify lists ENTRY as revoked (invalid or flagged).
invalidated() {
    "$NTM" --home "$1" --json verify >"$T/verify" 2>/dev/null
    jq -e --arg e "$2" 'any((.flagged + .invalid)[]; .entry == $e and .code == "revoked")' \
        "$T/verify" >/dev/null
}
# title_is HOME RECORD TITLE: show gives TITLE, with no conflict.
title_is() {
    "$NTM" --home "$1" --json show "$2" >"$T/show" 2>/dev/null &&
        jq -e --arg t "$3" '.fields.title == $t and (.conflict | not)' "$T/show" >/dev/null
}
# has_record HOME RECORD: list holds it.
has_record() {
    "$NTM" --home "$1" --json list >"$T/list" 2>/dev/null &&
        jq -e --arg id "$2" 'any(.[]; .id == $id)' "$T/list" >/dev/null
}
not() { ! "$@"; }
jq_ok() { jq -e "$2" "$1" >/dev/null 2>&1; }
skew_401s() { grep -c "^[A-Z]* /v1/[a-z]* 401 " "$T/server.log"; }

# ---------------------------------------------------------------- setup
run "$A" init --root --no-passphrase --name admin --server "$URL" --cacert "$T/cert.pem"
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
expect 0 "coordinator: init --cacert (right clock)" "$C" init --no-passphrase --server "$URL" --cacert "$T/cert.pem"
run "$C" key export
COORD=$(cat "$T/out")
# Devices with a wrong clock use pin-only mode (ntm_sync.h): their clock
# would make any certificate look expired or not yet valid.
at "$FUT" "$F" init --no-passphrase --server "$URL" --pin "$PIN"
check "+5y device: init --pin works with its wrong clock (exit $rc)" test "$rc" -eq 0
run "$F" key export
FKEY=$(cat "$T/out")
at "$PAST" "$P" init --no-passphrase --server "$URL" --pin "$PIN"
check "1970 device: init --pin works with its wrong clock (exit $rc)" test "$rc" -eq 0
run "$P" key export
PKEY=$(cat "$T/out")
"$NTM" --home "$A" admin enroll "$COORD" --role coordinator --scope 72.710 --org doan >/dev/null 2>&1
"$NTM" --home "$A" admin enroll "$FKEY" --role recorder --scope "$COMMUNE" --org doan >/dev/null 2>&1
"$NTM" --home "$A" admin enroll "$PKEY" --role recorder --scope "$COMMUNE" --org doan >/dev/null 2>&1
expect 0 "admin pushes 3 enrollments" "$A" --json push
check "  ... accepted 3" json_ok '.accepted == 3'
ENROLL_TS=$(sqlite3 "$A/ntm.db" "SELECT max(ts) FROM entries")

# ---------------------------------------------------------------- +5 years
N401=$(skew_401s)
at "$FUT" "$F" pull
check "+5y device pulls its enrollment (exit $rc)" test "$rc" -eq 0
check "  ... after exactly one 401 clock_skew answer" test "$(skew_401s)" -eq $((N401 + 1))
OFF=$(meta "$F" sync.clock_offset_ms)
check "  ... the device learnt an offset of about -5 years ($OFF ms)" \
    test "${OFF:-0}" -lt $((-4 * 365 * DAY))
at "$FUT" "$F" --json record activity --task doan.rural_roads_km --unit "$COMMUNE" \
    --date 2019-05-17 --qty 1 --uom km --title "Sai năm"
FREC=$(jq -r .id "$T/out")
FE1=$(jq -r .entry "$T/out")
check "+5y device records; its entry carries its clock (ts > now + 4 years)" \
    test "$(entry_ts "$F" "$FE1")" -gt $(($(now_ms) + 4 * 365 * DAY))
at "$FUT" "$F" --json edit "$FREC" --set "title=Sai lần hai"
FE2=$(jq -r .entry "$T/out")
N401=$(skew_401s)
at "$FUT" "$F" --json push
check "+5y device pushes (exit $rc)" test "$rc" -eq 0
check "  ... both entries accepted, none rejected" json_ok '.accepted == 2 and (.rejected | length) == 0'
check "  ... with no new 401: the learnt offset is kept" test "$(skew_401s)" -eq "$N401"
check "server: ntm verify flags the +5y entries clock_ahead" flagged_as "$S" "$FE1" clock_ahead
check "  ... both of them" flagged_as "$S" "$FE2" clock_ahead
expect 0 "admin pulls" "$A" pull
check "admin: verify flags them clock_ahead too" flagged_as "$A" "$FE1" clock_ahead
expect 0 "admin writes an entry after receiving them" "$A" --json admin unit "$COMMUNE.9" --name "Ấp Chín" --level hamlet
AE=$(jq -r .entry "$T/out")
check "  ... its clock was not dragged 5 years ahead" \
    test "$(entry_ts "$A" "$AE")" -lt $(($(now_ms) + DAY))
expect 0 "admin pushes" "$A" push

expect 0 "coordinator pulls" "$C" pull
check "coordinator sees the +5y device's title" title_is "$C" "$FREC" "Sai lần hai"
expect 0 "coordinator corrects it (knowing both entries)" "$C" --json edit "$FREC" --set "title=Đúng"
CE=$(jq -r .entry "$T/out")
check "  ... the correction's ts is years below the entries it corrects" \
    test "$(entry_ts "$C" "$CE")" -lt $(($(entry_ts "$C" "$FE2") - 4 * 365 * DAY))
check "  ... and it wins at the coordinator" title_is "$C" "$FREC" "Đúng"
expect 0 "coordinator pushes" "$C" push
expect 0 "admin pulls" "$A" pull
check "  ... the correction wins at the admin (no conflict)" title_is "$A" "$FREC" "Đúng"
at "$FUT" "$F" pull
check "+5y device pulls (exit $rc)" test "$rc" -eq 0
check "  ... the correction wins there too" title_is "$F" "$FREC" "Đúng"
"$NTM" --home "$A" --json show "$FREC" >"$T/show" 2>/dev/null
check "  ... show gives the 3 entries of its history" \
    jq_ok "$T/show" '(.history | length) == 3 and all(.history[]; .valid)'

# ---------------------------------------------------------------- 1970
# Records before pulling anything: an offline device with a dead clock.
at "$PAST" "$P" --json record activity --task doan.rural_roads_km --unit "$COMMUNE" \
    --date 2019-06-01 --qty 2 --uom km --title "Năm 1970"
PREC=$(jq -r .id "$T/out")
PE1=$(jq -r .entry "$T/out")
check "1970 device records offline; its entry carries its clock (ts < 1971)" \
    test "$(entry_ts "$P" "$PE1")" -lt $((365 * DAY))
N401=$(skew_401s)
at "$PAST" "$P" --json sync
check "1970 device syncs (exit $rc)" test "$rc" -eq 0
check "  ... its entry accepted" json_ok '.push.accepted == 1 and (.push.rejected | length) == 0'
check "  ... after a 401 clock_skew answer" test "$(skew_401s)" -gt "$N401"
check "server holds the 1970 entry" test "$(db_count "$S/ntm.db" "id='$PE1'")" = 1
check "server: verify shows it valid (no invalid entry)" \
    sh -c "'$NTM' --home '$S' --json verify | jq -e '(.invalid | length) == 0' >/dev/null"
# RELIABILITY.md #18: a ts far before the plan period is flagged (not
# rejected): clock_before_plan (docs/contract.md).
check "server: verify flags the 1970 entry (clock_before_plan, RELIABILITY #18)" \
    sh -c "'$NTM' --home '$S' --json verify | jq -e --arg e '$PE1' 'any(.flagged[]; .entry == \$e)' >/dev/null"
expect 0 "coordinator pulls" "$C" pull
expect 0 "coordinator corrects the 1970 record" "$C" --json edit "$PREC" --set "title=Năm 2019"
CE2=$(jq -r .entry "$T/out")
expect 0 "coordinator pushes" "$C" push
at "$PAST" "$P" pull
check "1970 device pulls the correction (exit $rc)" test "$rc" -eq 0
check "  ... it wins there" title_is "$P" "$PREC" "Năm 2019"
check "  ... received entries are flagged clock_ahead from 1970's view" \
    flagged_as "$P" "$CE2" clock_ahead
at "$PAST" "$P" --json edit "$PREC" --set "title=Năm 2019, đã xem"
PE2=$(jq -r .entry "$T/out")
check "1970 device edits again knowing the correction; its ts is still 1970" \
    test "$(entry_ts "$P" "$PE2")" -lt $((365 * DAY))
at "$PAST" "$P" push
check "  ... pushes (exit $rc)" test "$rc" -eq 0
expect 0 "admin pulls" "$A" pull
check "  ... that later edit wins at the admin despite its 1970 ts" \
    title_is "$A" "$PREC" "Năm 2019, đã xem"
check "  ... and the 1970 entry is not flagged clock_ahead at the admin" \
    sh -c "'$NTM' --home '$A' --json verify | jq -e --arg e '$PE2' 'all(.flagged[]; .entry != \$e or .code != \"clock_ahead\") and all(.invalid[]; .entry != \$e)' >/dev/null"
check "  ... but flagged clock_before_plan (RELIABILITY #18)" flagged_as "$A" "$PE2" clock_before_plan

# ---------------------------------------------------------------- -3d, 2038
for clock in -3d '@2038-01-19 03:14:10'; do
    D=$T/dev-${clock//[^0-9a-z]/}
    # Every step is checked on its own: a failure names the command that
    # failed and shows its stderr (the push check alone once hid 6 steps).
    at "$clock" "$D" init --no-passphrase --server "$URL" --pin "$PIN"
    check "device at $clock: init --pin (exit $rc)" test "$rc" -eq 0
    run "$D" key export
    DKEY=$(cat "$T/out")
    expect 0 "  ... admin enrolls it" "$A" admin enroll "$DKEY" --role recorder --scope "$COMMUNE" --org doan
    expect 0 "  ... and pushes the enrollment" "$A" push
    at "$clock" "$D" pull
    check "  ... the device pulls (exit $rc)" test "$rc" -eq 0
    recorded=0
    for i in 1 2 3; do
        at "$clock" "$D" record activity --task doan.rural_roads_km --unit "$COMMUNE" \
            --date 2019-07-0$i --title "$clock $i"
        [ "$rc" -eq 0 ] && recorded=$((recorded + 1))
    done
    check "  ... it records 3 activities (got $recorded)" test "$recorded" -eq 3
    at "$clock" "$D" --json push
    check "device at $clock: 3 entries accepted (exit $rc)" \
        sh -c "test $rc -eq 0 && jq -e '.accepted == 3' '$T/out' >/dev/null"
    SEQS=$(sqlite3 "$S/ntm.db" "SELECT group_concat(seq, ',') FROM (SELECT seq FROM entries WHERE author='$DKEY' ORDER BY gseq)")
    check "  ... stored in seq order 1,2,3 (got $SEQS)" test "$SEQS" = "1,2,3"
    LAST=$(sqlite3 "$S/ntm.db" "SELECT id FROM entries WHERE author='$DKEY' AND seq=3")
    if [ "$clock" = -3d ]; then
        check "  ... not flagged (3 days behind is fine)" not_flagged "$S" "$LAST"
    else
        check "  ... flagged clock_ahead (2038 is ahead of the server)" flagged_as "$S" "$LAST" clock_ahead
    fi
done

# ---------------------------------------------------------------- revocation
# Both wrong-clock devices are lost. The admin revokes each after seq 2
# (what it had pushed). The thieves go on writing: the +5y device's next
# entry is years after the revocation, the 1970 device's is back-dated
# decades before it (and before its own enrollment).
for pair in "$F|$FKEY" "$P|$PKEY"; do
    IFS='|' read -r d key <<<"$pair"
    check "$(basename "$d") device holds seq 1-2 of its own, all on the server" \
        test "$(sqlite3 "$d/ntm.db" "SELECT max(seq) FROM entries WHERE author='$key'")" = 2 -a \
        "$(db_count "$S/ntm.db" "author='$key'")" = 2
done
expect 0 "admin revokes the +5y device --after-seq 2" "$A" admin revoke "$FKEY" --after-seq 2 --reason "máy bị mất"
expect 0 "admin revokes the 1970 device --after-seq 2" "$A" admin revoke "$PKEY" --after-seq 2 --reason "máy bị mất"
expect 0 "  ... and pushes both revocations" "$A" push
REVOKE_TS=$(sqlite3 "$A/ntm.db" "SELECT max(ts) FROM entries WHERE op='device.revoke'")
at "$FUT" "$F" --json record activity --task doan.rural_roads_km --unit "$COMMUNE" \
    --date 2019-08-01 --title "Kẻ trộm, +5 năm"
TREC1=$(jq -r .id "$T/out")
TE1=$(jq -r .entry "$T/out")
at "$PAST" "$P" --json record activity --task doan.rural_roads_km --unit "$COMMUNE" \
    --date 2019-08-02 --title "Kẻ trộm, 1970"
TREC2=$(jq -r .id "$T/out")
TE2=$(jq -r .entry "$T/out")
check "the thieves' entries are seq 3, one ts ahead of the revocation, one behind" \
    test "$(sqlite3 "$F/ntm.db" "SELECT seq FROM entries WHERE id='$TE1' AND ts > $REVOKE_TS")" = 3 -a \
    "$(sqlite3 "$P/ntm.db" "SELECT seq FROM entries WHERE id='$TE2' AND ts < $ENROLL_TS")" = 3
for pair in "$FUT|$F|$FKEY" "$PAST|$P|$PKEY"; do
    IFS='|' read -r clock d key <<<"$pair"
    at "$clock" "$d" push
    check "revoked $(basename "$d") device's own push is refused (exit $rc, want 5)" test "$rc" -eq 5
    check "  ... saying it is revoked" err_has "revoked"
    check "  ... nothing more of it stored on the server" \
        test "$(db_count "$S/ntm.db" "author='$key'")" = 2
    # Relayed by another device (SPEC 6 allows relaying; a bundle carries them).
    at "$clock" "$d" bundle export --out "$T/thief.bundle" --author "$key"
    check "  ... it exports a bundle (exit $rc)" test "$rc" -eq 0
    run "$C" bundle import "$T/thief.bundle"
    run "$C" --json push
    check "  ... the coordinator relays it (push exit $rc)" test "$rc" -eq 0 -o "$rc" -eq 5
    check "  ... the server gives it no effect (line rejected or flagged revoked)" \
        json_ok '[(.rejected + .flagged)[] | select(.seq == 3)] | length == 1 and .[0].code == "revoked"'
    # SPEC 2 step 4: an entry whose seq falls after a device.revoke is kept
    # without effect, flagged revoked (refusing it would split replicas
    # whose entries already name it as base); the revoked device's own
    # requests get 403 revoked (checked above).
    check "  ... kept without effect: flagged revoked, not rejected (SPEC 2 step 4)" \
        json_ok '([.rejected[] | select(.seq == 3)] | length == 0) and any(.flagged[]; .seq == 3 and .code == "revoked")'
done
expect 0 "admin pulls" "$A" pull
expect 0 "coordinator pulls: the revocations arrive after the relayed entries" "$C" pull
# held_invalid HOME ENTRY: HOME does not hold ENTRY, or verify lists it revoked.
held_invalid() {
    test "$(db_count "$1/ntm.db" "id='$2'")" = 0 || invalidated "$1" "$2"
}
for pair in "$TE1|ts +5 years" "$TE2|ts back-dated to 1970"; do
    e=${pair%%|*}
    for h in "$A" "$S" "$C"; do
        check "revoked device's seq 3, ${pair#*|}: not valid at $(basename "$h")" held_invalid "$h" "$e"
    done
done
for r in "$TREC1" "$TREC2"; do
    check "  ... its record is not in the admin's list" not has_record "$A" "$r"
    check "  ... nor the coordinator's" not has_record "$C" "$r"
done
check "entries at or below seq 2 stay valid (the corrected records are there)" \
    sh -c "$(declare -f title_is); NTM='$NTM' T='$T'; title_is '$A' '$FREC' 'Đúng' && title_is '$A' '$PREC' 'Năm 2019, đã xem'"
"$NTM" --home "$A" --json show "$FREC" >"$T/show" 2>/dev/null
check "  ... their history all valid" jq_ok "$T/show" 'all(.history[]; .valid)'

# ---------------------------------------------------------------- end
for h in "$A" "$C"; do
    "$NTM" --home "$h" --json verify >"$T/out" 2>/dev/null
    check "$(basename "$h"): no invalid entry but the revoked ones, no fork" \
        json_ok "(.forks | length) == 0 and all(.invalid[]; .code == \"revoked\")"
done
stop_server TERM
check "server stops cleanly" test "${SERVER_RC:-1}" -eq 0
check "server DB integrity_check ok" test "$(sqlite3 "$S/ntm.db" 'PRAGMA integrity_check')" = ok
finish_threat
