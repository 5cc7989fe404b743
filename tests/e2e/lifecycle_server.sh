#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_server.sh - a server restored from last night's backup, healed
# by its devices, through a real `ntm serve` over TLS on 127.0.0.1 (the
# operator's procedure of docs/operations.md):
#   back up the server with SQLite's online backup; devices write and sync
#   more; the server is restored from the backup; devices refuse it (it
#   went backwards); the root admin signs a reset statement (ntm admin
#   server-reset) and the operator restarts the server with it (--reset);
#   every device then sends what the server lost, and the server holds
#   everything again, once, and verifies. A later rollback nobody announced
#   is refused again; a statement not signed by the root is refused by the
#   server and by `ntm admin server-reset` on another key.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed: skipped"; exit 77; }

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R1=$T/rec1
R2=$T/rec2
C1=72.710.25657 # Xã Thạnh Đức (Gò Dầu)
C2=72.705.25489 # Xã Tân Lập (Tân Biên)

run "$A" init --root --no-passphrase --name admin
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
run "$A" init --server "$URL" --cacert "$T/cert.pem"
for h in "$R1" "$R2"; do
    run "$h" init --no-passphrase --root-key "$ADMIN" --server "$URL" --cacert "$T/cert.pem"
done
run "$R1" --json whoami
K1=$(jq -r .author "$T/out")
run "$R2" --json whoami
K2=$(jq -r .author "$T/out")
run "$A" admin enroll "$K1" --role recorder --scope "$C1" --org doan --name "Thạnh Đức"
run "$A" admin enroll "$K2" --role recorder --scope "$C2" --org doan --name "Tân Lập"
expect 0 "admin enrolls two recorders and syncs" "$A" sync

# rec HOME UNIT TITLE
rec() {
    run "$1" --json record activity --task doan.rural_roads_km --unit "$2" \
        --date 2018-06-01 --qty 1 --uom km --title "$3"
    ID=$(jq -r .id "$T/out" 2>/dev/null)
}
titles() {
    "$NTM" --home "$1" --json list 2>/dev/null | jq -r '[.[].fields.title] | sort | join(",")'
}

rec "$R1" "$C1" "a1"
rec "$R1" "$C1" "a2"
A2=$ID
rec "$R2" "$C2" "b1"
run "$R1" sync
run "$R2" sync
check "the operator backs the server up (SQLite online backup)" \
    sqlite3 "$S/ntm.db" ".backup '$T/backup.db'"
rec "$R1" "$C1" "a3"
run "$R1" edit "$A2" --set "title=a2 sửa"
rec "$R2" "$C2" "b2"
expect 0 "devices write and sync after the backup" "$R1" sync
run "$R2" sync
run "$A" sync
WANT="a1,a2 sửa,a3,b1,b2"
check "the admin holds $WANT" test "$(titles "$A")" = "$WANT"
BEFORE=$(count_entries "$S")

# ------------------------------------------------ restore, unannounced
stop_server TERM
cp "$T/backup.db" "$S/ntm.db"
rm -f "$S/ntm.db-wal" "$S/ntm.db-shm"
check "the server restarts from the backup" start_server "$S"
check "  ... and holds fewer entries ($(count_entries "$S") < $BEFORE)" \
    test "$(count_entries "$S")" -lt "$BEFORE"
expect 1 "a device refuses the server that went backwards" "$R1" sync
check "  ... saying so" err_has "went backwards"

# ------------------------------------------------ the root announces it
expect 1 "server-reset by a recorder's key is refused" "$R1" admin server-reset --out "$T/r1-reset.json"
check "  ... only the root key announces it" err_has "root key"
check "  ... and writes nothing" test ! -e "$T/r1-reset.json"
expect 0 "the root admin signs the reset statement" "$A" --json admin server-reset --out "$T/reset.json"
check "  ... reset #1 at the restored server's position" json_ok '.epoch == 1 and .last_gseq > 0'
# A statement altered on the way does not start the server.
sed 's/"epoch\\":1/"epoch\\":7/' "$T/reset.json" >"$T/forged.json"
stop_server TERM
"$NTM" --home "$S" serve --listen "127.0.0.1:$PORT" --tls-cert "$T/cert.pem" \
    --tls-key "$T/key.pem" --reset "$T/forged.json" >"$T/out" 2>"$T/err"
check "the server refuses an altered statement" test $? -ne 0
check "  ... not signed by the root key" err_has "not signed by the root"
check "the operator restarts the server with the statement" start_server "$S" --reset "$T/reset.json"
run_all curl -s --cacert "$T/cert.pem" "$URL/v1/info"
check "  ... GET /v1/info hands it out" sh -c "jq -e '.reset.statement | fromjson | .epoch == 1' '$T/out' >/dev/null"

expect 0 "recorder 1 syncs" "$R1" sync
check "  ... told the server was restored and is sent what it lost" err_has "restored from a backup"
expect 0 "recorder 2 syncs" "$R2" sync
expect 0 "the admin syncs" "$A" sync
check "the server holds every entry again ($BEFORE)" test "$(count_entries "$S")" -eq "$BEFORE"
run "$S" --json verify
check "  ... valid, no fork" json_ok '.forks == [] and .invalid == [] and .valid == .entries'
R3=$T/rec3
run "$R3" init --no-passphrase --root-key "$ADMIN" --server "$URL" --cacert "$T/cert.pem"
run "$A" admin enroll "$(jq -r .author <("$NTM" --home "$R3" --json whoami))" \
    --role coordinator --scope 72 --org mttq --name "tỉnh"
run "$A" sync
expect 0 "a new province-wide device pulls from the healed server" "$R3" sync
check "  ... and sees $WANT" test "$(titles "$R3")" = "$WANT"
expect 0 "a second sync of recorder 1 says nothing of a restore" "$R1" sync
check "  ... (no warning)" sh -c "! grep -q 'restored' '$T/err'"

# ------------------------------------------------ a later, silent rollback
stop_server TERM
cp "$T/backup.db" "$S/ntm.db"
rm -f "$S/ntm.db-wal" "$S/ntm.db-shm"
check "the server is rolled back again, with no new statement" start_server "$S"
expect 1 "  ... devices refuse it: reset #1 was already taken" "$R2" sync
check "  ... saying it went backwards" err_has "went backwards"

stop_server TERM
finish
