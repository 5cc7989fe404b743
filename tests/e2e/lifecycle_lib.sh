# SPDX-License-Identifier: MIT
#
# lifecycle_lib.sh - shared by the lifecycle_*.sh end-to-end tests: on top
# of sync_lib.sh (certificate, ports, server, check helpers), a root admin
# home A, a server home S serving over TLS on 127.0.0.1, and a recorder
# home R of Xã Thạnh Đức (COMMUNE) enrolled for doan, both pointed at the
# server (URL); ADMIN and REC are their author ids. Also:
#   rec TITLE     R records a road activity; its record id in ID
#   titles HOME   the sorted titles HOME lists, comma-separated
# Source it; it sources sync_lib.sh.
. "$(dirname "${BASH_SOURCE[0]}")/sync_lib.sh"

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R=$T/rec
COMMUNE=72.710.25657

run "$A" init --root --no-passphrase --name admin
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
run "$A" init --server "$URL" --cacert "$T/cert.pem"
expect 0 "recorder: init" "$R" init --no-passphrase --root-key "$ADMIN" \
    --server "$URL" --cacert "$T/cert.pem"
run "$R" --json whoami
REC=$(jq -r .author "$T/out")
expect 0 "admin enrolls the recorder" "$A" admin enroll "$REC" --role recorder \
    --scope "$COMMUNE" --org doan --name "Xã Thạnh Đức"
run "$A" sync

rec() {
    run "$R" --json record activity --task doan.rural_roads_km --unit "$COMMUNE" \
        --date 2017-03-05 --qty 1 --uom km --title "$1"
    ID=$(jq -r .id "$T/out" 2>/dev/null)
}
titles() {
    "$NTM" --home "$1" --json list 2>/dev/null | jq -r '[.[].fields.title] | sort | join(",")'
}
