#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_join.sh - a new device joins without anyone typing hex, with
# real ntm processes and a real server over TLS: the admin makes a one-time
# join code (text and QR code) holding the server, its pin, the root key
# and the role, scope, organization and name; the device runs `ntm init
# --join CODE` and shows its author id and fingerprint; the admin runs
# `ntm admin enroll <author id> --join CODE`, which takes the grant from
# the code and prints the same fingerprint; the device records and syncs
# and the admin sees the record. An altered code, an expired one, a code
# used for a second device and a code made by another admin are refused.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
D=$T/device
COMMUNE=72.710.25657

run "$A" init --root --no-passphrase --name admin
run "$A" --json whoami
ADMIN=$(jq -r .author "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
expect 0 "admin: points its home at the server with a pin" \
    "$A" init --server "$URL" --pin "$PIN"

expect 0 "admin: join-code for a recorder" "$A" admin join-code --role recorder \
    --scope "$COMMUNE" --org doan --name "Xã Thạnh Đức" --expires 2d
check "  ... prints the code" out_has "^ntmjoin1\."
check "  ... and a QR code" grep -q "█" "$T/out"
CODE=$(grep '^ntmjoin1\.' "$T/out")
check "  ... tells the next two commands" out_has "ntm init --join CODE"
run "$A" --json admin join-code --role recorder --scope "$COMMUNE"
check "  ... --json gives the code" json_ok '.code | startswith("ntmjoin1.")'
OTHER=$(jq -r .code "$T/out")
expect 2 "join-code with an unknown scope is refused" "$A" admin join-code \
    --role recorder --scope 99.999
expect 2 "join-code with a bad --expires is refused" "$A" admin join-code \
    --role recorder --scope "$COMMUNE" --expires soon

# An altered code: one character of the payload changed.
BAD=$(python3 -c 'import sys; c=sys.argv[1]; i=40; print(c[:i] + ("A" if c[i] != "A" else "B") + c[i+1:])' "$CODE")
expect 1 "an altered code is refused" "$T/bad" init --no-passphrase --join "$BAD"
check "  ... says it is damaged or altered" err_has "damaged or was altered"
check "  ... and makes no home" test ! -e "$T/bad/key"
expect 1 "a cut code is refused" "$T/bad" init --no-passphrase --join "${CODE%??????????}"
check "  ... says it is damaged or altered" err_has "damaged or was altered"
NTM_CLOCK_OFFSET_MS=$((3 * 86400000)) expect 1 "an expired code is refused" \
    "$T/late" init --no-passphrase --join "$CODE"
check "  ... says it expired and to ask for a new one" err_has "join code expired on"
check "  ... and makes no home" test ! -e "$T/late/key"
expect 2 "--join with --server is a usage error" "$T/bad" init --join "$CODE" \
    --server "$URL"

NTM_PASSPHRASE=nho expect 0 "device: init --join (no hex typed)" "$D" init --join "$CODE"
cp "$T/out" "$T/init.out"
check "  ... pins the root from the code" out_has "root key:  $ADMIN"
check "  ... says the code's root is trusted as given" out_has "trusted as given"
check "  ... shows its fingerprint" out_has "this device's fingerprint: "
check "  ... and what the admin runs" out_has "ntm admin enroll --join CODE"
run "$D" --json whoami
DEV=$(jq -r .author "$T/out")
FP=$(echo "$DEV" | cut -c1-16 | sed 's/\(....\)/\1 /g; s/ $//')
check "  ... the fingerprint is the author id's first 16 hex digits" \
    grep -q "fingerprint: $FP" "$T/init.out"
run "$D" --json status
check "  ... the server is set from the code" json_ok ".server == \"$URL\""
check "  ... with the pin" json_ok ".pin == \"$PIN\""
check "  ... the name comes from the code" \
    sh -c "jq -e '.name == \"Xã Thạnh Đức\"' '$D/config.json' >/dev/null"

run "$T/other" init --no-passphrase --root-key "$ADMIN" --name other
expect 1 "enroll --join with a code another device made is refused" \
    "$T/other" admin enroll "$DEV" --join "$CODE"
check "  ... says who enrolls with it" err_has "made by another device"
expect 2 "enroll --join with --role is a usage error" "$A" admin enroll "$DEV" \
    --join "$CODE" --role admin
expect 1 "enroll --join with an altered code is refused" "$A" admin enroll "$DEV" \
    --join "$BAD"
check "  ... says it is damaged or altered" err_has "damaged or was altered"
expect 0 "admin: enroll <author id> --join CODE" "$A" admin enroll "$DEV" --join "$CODE"
check "  ... prints the device's fingerprint" out_has "device fingerprint: $FP"
check "  ... enrolls as the code says" out_has "as recorder of $COMMUNE"
expect 1 "the same code for a second device is refused" "$A" admin enroll \
    "$ADMIN" --join "$CODE"
check "  ... says it was used already" err_has "used already"
expect 0 "admin: sync" "$A" sync

NTM_PASSPHRASE=nho expect 0 "device: sync (gets its enrollment)" "$D" sync
run "$D" --json whoami
check "  ... it is a recorder of the commune, organization doan" \
    json_ok ".role == \"recorder\" and .scope == \"$COMMUNE\""
NTM_PASSPHRASE=nho expect 0 "device: records" "$D" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2017-03-05 --qty 1 \
    --uom km --title "đường nhập mã"
NTM_PASSPHRASE=nho expect 0 "device: sync" "$D" sync
expect 0 "admin: sync" "$A" sync
run "$A" --json list
check "the admin sees the device's record" \
    json_ok '[.[].fields.title] | index("đường nhập mã") != null'
run "$A" --json verify
check "admin: every entry valid" json_ok '.invalid == [] and .forks == []'

run "$A" --lang vi admin join-code --role recorder --scope "$COMMUNE" --expires 0d
check "usage errors in Vietnamese" err_has "--expires .0d. không hợp lệ"
stop_server TERM
finish
