#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# sync_basic.sh - push, pull and sync between several homes through a real
# `ntm serve` over real TLS on 127.0.0.1: setup with --cacert and with a
# pin, scope filtering, idempotent re-push, paging, auth failures (unknown
# key, revoked key, bad signature, clock skew), oversized bodies, wrong pin
# and CA refused with nothing marked pushed, a client killed mid-push, the
# server killed with -9 and restarted, and a server rollback detected.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R1=$T/rec1  # recorder, Thạnh Đức commune (Gò Dầu district)
R2=$T/rec2  # recorder, a commune of another district
C=$T/coord  # coordinator of Gò Dầu district
COMMUNE=72.710.25657
HAMLET=72.710.25657.1
OTHER=$(awk -F, 'NR>1 && $1 ~ /^72\.705\.[0-9]+$/ {print $1; exit}' \
    "${NTM_SRC:-.}/config/units.csv" 2>/dev/null)
[ -n "$OTHER" ] || OTHER=72.705

# ---------------------------------------------------------------- setup
run "$T/early" init --root --no-passphrase --server "$URL" --cacert "$T/cert.pem"
check "init --root --server with the server not yet running" test "$rc" -eq 0
check "  ... warns that the root key is checked at the first sync" err_has "first sync"
# The admin is made before the server exists, and pointed at it later.
expect 0 "admin: init --root, no server yet" "$A" init --root --no-passphrase --name "MTTQ tỉnh"
run "$A" key export
ADMIN=$(cat "$T/out")
expect 0 "server home: init --root-key" "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
check "server logs its start" grep -q "listening on 127.0.0.1:$PORT" "$T/server.log"
check "  ... without libmicrohttpd warnings" sh -c "! grep -q '^http: ' '$T/server.log'"

expect 0 "admin: init --server on the existing home points it at the server" \
    "$A" --json init --server "$URL" --pin "$PIN"
check "  ... root key checked and kept" json_ok ".updated == true and .reached == true and .root_key == \"$ADMIN\""
expect 0 "  ... again with --cacert (replaces the pin)" "$A" init --server "$URL" --cacert "$T/cert.pem"
check "  ... prints the root fingerprint" grep -q "${ADMIN:0:4} ${ADMIN:4:4}" "$T/out"
expect 0 "  ... status shows the server" "$A" --json status
check "  ... $URL" json_ok ".server == \"$URL\""
check "  ... the pin is gone" test -z "$(sqlite3 "$A/ntm.db" "SELECT value FROM meta WHERE key='sync.pin'" 2>/dev/null)"
expect 0 "another province's admin home" "$T/other" init --root --no-passphrase
expect 1 "  ... init --server to our server is refused (another root key)" \
    "$T/other" init --server "$URL" --cacert "$T/cert.pem"
check "  ... saying which root it pins" err_has "pins"
expect 0 "  ... and its settings are unchanged" "$T/other" --json status
check "  ... no server" json_ok '.server == null'
expect 2 "init --server --root on an existing home is a usage error" \
    "$A" init --server "$URL" --root
expect 0 "init --server to an unreachable server on an existing home" \
    "$T/other" init --server "https://127.0.0.1:1"
check "  ... warns and saves it" err_has "first sync"

expect 0 "recorder 1: init --server --cacert" "$R1" init --no-passphrase --server "$URL" --cacert "$T/cert.pem" --name "Xã Thạnh Đức"
check "  ... shows the root fingerprint" grep -q "${ADMIN:0:4} ${ADMIN:4:4}" "$T/out"
run "$R1" key export
REC1=$(cat "$T/out")
expect 0 "recorder 2: init --server --pin (pin-only)" "$R2" init --no-passphrase --server "$URL" --pin "$PIN" --name "Xã khác"
run "$R2" key export
REC2=$(cat "$T/out")
expect 0 "coordinator: init --server --cacert" "$C" init --no-passphrase --server "$URL" --cacert "$T/cert.pem" --name "Huyện Gò Dầu"
run "$C" key export
COORD=$(cat "$T/out")

run "$T/wrongpin" init --no-passphrase --server "$URL" --pin "$WRONG_PIN"
check "a wrong pin is refused at init" test "$rc" -ne 0
check "  ... with a TLS message" err_has "tls\|pin"
run "$T/wrongca" init --no-passphrase --server "$URL" --cacert "$T/other.pem"
check "a wrong CA file is refused at init" test "$rc" -ne 0
run "$T/plain" init --no-passphrase --server "http://10.9.9.9:80"
check "plain http to a non-loopback server is refused" err_has "https"

# ---------------------------------------------------------------- enroll
expect 0 "admin enrolls recorder 1" "$A" admin enroll "$REC1" --role recorder --scope "$COMMUNE" --name "Xã Thạnh Đức" --org doan
expect 0 "admin enrolls recorder 2" "$A" admin enroll "$REC2" --role recorder --scope "$OTHER" --name "Xã khác"
expect 0 "admin enrolls the coordinator" "$A" admin enroll "$COORD" --role coordinator --scope 72.710 --name "Huyện Gò Dầu"
expect 0 "admin creates a hamlet" "$A" admin unit "$HAMLET" --name "Ấp Thạnh Hòa" --level hamlet
expect 0 "admin: push --json" "$A" --json push
check "  ... 4 accepted, nothing rejected" json_ok '.accepted == 4 and .sent == 4 and (.rejected | length) == 0'
expect 0 "admin: push again sends nothing (idempotent)" "$A" --json push
check "  ... sent 0" json_ok '.sent == 0'

expect 0 "recorder 1: pull --json" "$R1" --json pull
check "  ... received the admin's 4 entries" json_ok '.received == 4 and .applied == 4 and .after >= 4'
expect 0 "recorder 1: whoami says enrolled" "$R1" --json whoami
check "  ... as recorder of $COMMUNE" json_ok ".enrolled == true and .scope == \"$COMMUNE\""

# ---------------------------------------------------------------- records
expect 0 "recorder 1 records in the hamlet" "$R1" --json record activity \
    --task doan.rural_roads_km --unit "$HAMLET" --date 2019-05-17 --qty 1.2 \
    --uom km --people 40 --title "Bê tông hóa đường ấp Thạnh Hòa"
ID1=$(jq -r .id "$T/out")
expect 0 "recorder 1 records in the commune" "$R1" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-06-02 --qty 0.5 \
    --uom km --title "Sửa đường liên ấp"
expect 0 "recorder 1: status before push" "$R1" --json status
check "  ... 2 unpushed, server set" json_ok ".unpushed == 2 and .server == \"$URL\" and .last_push_ms == null"
expect 0 "recorder 1: sync --json" "$R1" --json sync
check "  ... pushed 2, accepted 2" json_ok '.push.accepted == 2 and (.push.rejected | length) == 0 and .pull != null'
expect 0 "recorder 1: status after sync" "$R1" --json status
check "  ... nothing unpushed, times set" json_ok '.unpushed == 0 and .last_push_ms > 0 and .last_pull_ms > 0'

pull_then_list() {
    "$NTM" --home "$1" pull >/dev/null 2>"$T/err" &&
        "$NTM" --home "$1" --json list >"$T/out" 2>>"$T/err"
}
check "coordinator pulls" pull_then_list "$C"
check "  ... and sees recorder 1's records (in scope)" json_ok "length == 2 and any(.[]; .id == \"$ID1\")"
check "recorder 2 pulls" pull_then_list "$R2"
check "  ... and does not see them (out of scope)" json_ok 'length == 0'

# ---------------------------------------------------------------- paging
for i in $(seq 1 25); do
    "$NTM" --home "$R1" record activity --task doan.rural_roads_km \
        --unit "$HAMLET" --date 2019-07-0$((i % 9 + 1)) --qty "$i" --uom km \
        --title "Hoạt động số $i" >/dev/null 2>&1
done
expect 0 "recorder 1 pushes 25 more in batches of 7" "$R1" --json push --batch 7
check "  ... 4 batches, 25 accepted" json_ok '.accepted == 25 and .batches == 4'
expect 0 "coordinator pulls in pages of 6" "$C" --json pull --page 6
check "  ... receives the 25" json_ok '.received == 25 and .applied == 25'
run "$C" --json list
check "  ... and lists 27 records" json_ok 'length == 27'

# ---------------------------------------------------------------- auth
U=$T/unknown
expect 0 "a device never enrolled: init" "$U" init --no-passphrase --server "$URL" --cacert "$T/cert.pem"
expect 0 "  ... records offline" "$U" record activity --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-05-17
expect 5 "  ... its push is refused (unknown_author, exit 5)" "$U" push
check "  ... saying it is not enrolled" err_has "not enrolled"
expect 0 "  ... its entry is still there" "$U" --json status
check "  ... still 1 unpushed" json_ok '.unpushed == 1'

NTM_CLOCK_OFFSET_MS=3600000 "$NTM" --home "$R1" record activity --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-08-01 >/dev/null 2>&1
NTM_CLOCK_OFFSET_MS=3600000 "$NTM" --home "$R1" --json push >"$T/out" 2>"$T/err"
rc=$?
check "a clock one hour ahead: push corrects the offset and succeeds" test "$rc" -eq 0
check "  ... 1 accepted" json_ok '.accepted == 1'
check "  ... the server refused the first try with clock_skew" grep -q "/v1/heads 401" "$T/server.log"

B64ZERO=$(head -c 64 /dev/zero | base64 -w0)
curl -sk -o "$T/out" -w '%{http_code}' -H "Authorization: NTM-Ed25519 key=$REC1,ts=$(date +%s000),sig=$B64ZERO" \
    "$URL/v1/heads" >"$T/code"
check "a bad signature gives 401 bad_auth" test "$(cat "$T/code")" = 401
check "  ... with the SPEC error body" json_ok '.error.code == "bad_auth" and (.error.message | length) > 0'
curl -sk -o "$T/out" -w '%{http_code}' "$URL/v1/entries?after=0" >"$T/code"
check "no Authorization gives 401" test "$(cat "$T/code")" = 401
curl -sk -o "$T/out" -w '%{http_code}' -X POST -H 'Content-Type: application/x-ndjson' \
    -H 'Content-Length: 1073741824' --data-binary 'x' "$URL/v1/entries" >"$T/code" 2>/dev/null
check "a 1 GB Content-Length claim gives 413" test "$(cat "$T/code")" = 413
check "  ... too_large" json_ok '.error.code == "too_large"'
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big"
curl -sk -o "$T/out" -w '%{http_code}' -X POST -H 'Content-Type: application/x-ndjson' \
    -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" "$URL/v1/entries" >"$T/code" 2>/dev/null
# Without an Authorization naming a key that may act, the server refuses
# before reading the body (an enrolled key's chunked body gets 413: see
# threat_http.sh).
check "a 10 MiB chunked body with no Authorization: 401 before the body" \
    test "$(cat "$T/code")" = 401
curl -sk -o "$T/out" -w '%{http_code}' -X DELETE "$URL/v1/entries" >"$T/code"
check "a wrong method gives 405" test "$(cat "$T/code")" = 405
curl -sk -o "$T/out" -w '%{http_code}' "$URL/v1/nothing" >"$T/code"
check "an unknown path gives 404" test "$(cat "$T/code")" = 404
curl -sk -o "$T/out" "$URL/v1/info"
check "/v1/info has SPEC's members" json_ok ".server == \"ntm\" and .root_key == \"$ADMIN\" and .max_entry_bytes == 65536 and .max_batch > 0 and .server_time_ms > 0"
check "the server is still healthy" sh -c "curl -sk '$URL/healthz' | grep -q ok"

expect 0 "admin revokes recorder 2" "$A" admin revoke "$REC2" --reason "máy bị mất"
expect 0 "  ... and pushes the revocation" "$A" push
expect 5 "recorder 2's pull is refused (revoked, exit 5)" "$R2" pull
check "  ... saying it is revoked" err_has "revoked"

# ---------------------------------------------------------------- crashes
for i in $(seq 1 150); do
    "$NTM" --home "$R1" record activity --task doan.rural_roads_km \
        --unit "$HAMLET" --date 2019-09-0$((i % 9 + 1)) --title "Lần $i" >/dev/null 2>&1
done
LOCAL=$(count_entries "$R1")
cp -r "$S" "$T/server-backup"
"$NTM" --home "$R1" push --batch 5 >/dev/null 2>&1 &
PUSH=$!
sleep 0.3
kill -9 $PUSH 2>/dev/null
wait $PUSH 2>/dev/null
expect 0 "push killed with -9 mid-way, then run again" "$R1" --json push --batch 5
check "  ... nothing rejected" json_ok '(.rejected | length) == 0'
expect 0 "  ... status: nothing unpushed" "$R1" --json status
check "  ... 0 unpushed" json_ok '.unpushed == 0'

stop_server KILL
check "server killed with -9 restarts" start_server "$S"
C2=$T/coord2
cp -r "$C" "$C2"
"$NTM" --home "$C2" pull >/dev/null 2>&1
run "$C2" --json list --unit "$HAMLET"
N_HAMLET=$(jq length "$T/out")
check "every acknowledged entry is still on the server ($N_HAMLET hamlet records)" test "$N_HAMLET" -eq 176
run "$C2" --json verify
check "the coordinator's replica verifies clean" json_ok '(.invalid | length) == 0 and (.forks | length) == 0'
check "recorder 1 holds $LOCAL entries" test "$LOCAL" -gt 150

stop_server TERM
check "SIGTERM stops the server cleanly" test "${SERVER_RC:-1}" -eq 0
rm -rf "$S" && mv "$T/server-backup" "$S"
check "server restored from an older backup starts" start_server "$S"
expect 1 "recorder 1 refuses the server that went backwards" "$R1" push
check "  ... saying so" err_has "backwards"
expect 1 "  ... and pull refuses it too" "$R1" pull
stop_server TERM

check "one log line per request, with status and ms" grep -Eq '^POST /v1/entries 200 entries=[0-9]+ ms=' "$T/server.log"
finish
