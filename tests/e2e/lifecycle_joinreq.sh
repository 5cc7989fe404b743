#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_joinreq.sh - joining with nothing copied by hand either way,
# with real ntm processes and a real server over TLS: `ntm init --join
# CODE` asks the server to enroll the device (POST /v1/join, signed by the
# device's own key); the admin lists the requests (`ntm admin requests`)
# and runs `ntm admin enroll --join CODE`, which takes the device from its
# request once the admin confirms the fingerprint the device shows. A
# device that cannot reach the server at init sends its request at its
# next sync. And the attacks: a wrong fingerprint, several devices asking
# with one code, a flood of requests with one code, a replayed request, a
# request in another device's name, codes the server never signed off on
# (made by a non-admin, for another root, expired, altered), a body past
# the limit, and a non-admin reading the requests. Each enrolls nothing.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"
TOOLS="$(dirname "$0")/sync_tools.py"

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
run "$A" init --server "$URL" --pin "$PIN"

code() { # code [join-code options]: a recorder's code in $CODE
    run "$A" --json admin join-code --role recorder --scope "$COMMUNE" \
        --org doan "$@"
    CODE=$(jq -r .code "$T/out")
    NONCE=$(echo "$CODE" | cut -d. -f2 | tr '_-' '/+' |
        { read -r p; while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done; echo "$p"; } |
        base64 -d | jq -r .nonce)
}
fp() { "$NTM" --home "$1" --json whoami | jq -r .author | cut -c1-16; }
# ------------------------------------------------ the story
code --name "Ấp Thạnh Hòa"
expect 0 "device: init --join asks the server to enroll it" "$D" init \
    --no-passphrase --join "$CODE"
check "  ... says it asked" err_has "asked the server to enroll this device"
check "  ... shows its fingerprint" out_has "this device's fingerprint: "
check "  ... and what the admin runs (no author id to copy)" \
    out_has "ntm admin enroll --join CODE"
FP=$(fp "$D")
expect 0 "admin: requests lists the device" "$A" admin requests
check "  ... by name and fingerprint" out_has "Ấp Thạnh Hòa"
check "  ... with its fingerprint" out_has "$(echo "$FP" | sed 's/\(....\)/\1 /g; s/ $//')"
run "$A" --json admin requests
check "  ... --json: one request, its author, nonce, role, scope, not enrolled" \
    json_ok "length == 1 and .[0].author == \"$("$NTM" --home "$D" --json whoami | jq -r .author)\" and .[0].nonce == \"$NONCE\" and .[0].role == \"recorder\" and .[0].scope == \"$COMMUNE\" and .[0].enrolled == false and (.[0].fingerprint | length) == 19"

N0=$(count_entries "$A")
expect 1 "a wrong fingerprint enrolls nothing" "$A" admin enroll --join "$CODE" \
    --fingerprint "0000 0000 0000 0000"
check "  ... and says so" err_has "nothing was enrolled"
check "  ... the admin wrote no entry" test "$(count_entries "$A")" -eq "$N0"
expect 1 "no fingerprint and no terminal: refused" "$A" admin enroll --join "$CODE" </dev/null
check "  ... asks for --fingerprint" err_has "give --fingerprint"
expect 0 "admin: enroll --join CODE with the device's fingerprint" "$A" admin \
    enroll --join "$CODE" --fingerprint "$FP"
check "  ... shows the device's name and author id" out_has "device asking to be enrolled: \"Ấp Thạnh Hòa\""
check "  ... and enrolls it as the code says" out_has "as recorder of $COMMUNE"
expect 0 "admin: sync" "$A" sync
expect 0 "device: sync (enrolled)" "$D" sync
run "$D" --json whoami
check "  ... it is a recorder of the commune" \
    json_ok ".role == \"recorder\" and .scope == \"$COMMUNE\""
run "$A" --json admin requests
check "  ... the request now shows enrolled" json_ok 'length == 1 and .[0].enrolled == true'

# ------------------------------------------------ server unreachable at init
code --name "Ấp Bàu Sen"
stop_server TERM
expect 0 "server down: init --join still sets the device up" "$T/off" init \
    --no-passphrase --join "$CODE"
check "  ... says the request is kept for the next sync" err_has "sent by the next 'ntm sync'"
run "$T/off" --json whoami
check "start the server again" start_server "$S"
run "$A" --json admin requests --join "$CODE"
check "  ... the server has no request yet" json_ok 'length == 0'
run "$T/off" sync
check "device: the next sync sends the request" err_has "sent the request to enroll this device"
run "$A" --json admin requests --join "$CODE"
check "  ... the admin sees it" json_ok 'length == 1 and .[0].name == "Ấp Bàu Sen"'
run "$T/off" sync
check "  ... sent once only" sh -c "! grep -q 'sent the request' '$T/err'"
expect 0 "  ... and it is enrolled as usual" "$A" admin enroll --join "$CODE" \
    --fingerprint "$(fp "$T/off")"

# ------------------------------------------------ one code, several devices
code
N0=$(count_entries "$A")
expect 0 "device 1 joins with a code" "$T/m1" init --no-passphrase --join "$CODE"
expect 0 "device 2 joins with the same code (it leaked)" "$T/m2" init \
    --no-passphrase --join "$CODE"
expect 1 "admin: enroll --join refuses: two devices asked" "$A" admin enroll \
    --join "$CODE" --fingerprint "$(fp "$T/m1")"
check "  ... says someone else may have used it" err_has "someone else may have used it"
check "  ... lists both" sh -c "grep -c 'fingerprint' '$T/err' | grep -qx 3"
check "  ... nothing enrolled" test "$(count_entries "$A")" -eq "$N0"
expect 0 "  ... the admin can still pick the one whose fingerprint it was told" \
    "$A" admin enroll "$("$NTM" --home "$T/m1" --json whoami | jq -r .author)" \
    --join "$CODE" --fingerprint "$(fp "$T/m1")"
expect 1 "  ... and a fingerprint that is not that device's is refused" "$A" admin \
    enroll "$("$NTM" --home "$T/m2" --json whoami | jq -r .author)" --join "$CODE" \
    --fingerprint "$(fp "$T/m1")"

# ------------------------------------------------ flood: one code
code
for i in 1 2 3 4 5; do
    run "$T/f$i" init --no-passphrase --join "$CODE"
done
expect 0 "flood: a 6th device with one code still sets up" "$T/f6" init \
    --no-passphrase --join "$CODE"
check "  ... but the server refused its request (5 per code)" err_has "refused the request"
check "  ... saying what to do" err_has "author id below to the admin"
run "$A" --json admin requests --join "$CODE"
check "  ... the server keeps 5" json_ok 'length == 5'

# ------------------------------------------------ raw requests
code
KEYF=$T/f6/key
printf '{"code":"%s","name":"raw"}' "$CODE" >"$T/body"
AUTH=$(python3 "$TOOLS" auth "$KEYF" POST /v1/join "$T/body")
post() { # post AUTH BODYFILE: HTTP status in $T/status, body in $T/resp
    curl -sk -o "$T/resp" -w '%{http_code}' -H "Authorization: $1" \
        -H 'Content-Type: application/x-ndjson' --data-binary "@$2" \
        "$URL/v1/join" >"$T/status"
}
post "$AUTH" "$T/body"
check "raw: a signed request is taken" grep -qx 200 "$T/status"
post "$AUTH" "$T/body"
check "replay: the same request again is answered" grep -qx 200 "$T/status"
check "  ... but kept once" sh -c "jq -e '.added == false' '$T/resp' >/dev/null"
run "$A" --json admin requests --join "$CODE"
check "  ... one request" json_ok 'length == 1'

# In another device's name: its key named, signed with the attacker's.
VICTIM=$("$NTM" --home "$T/m2" --json whoami | jq -r .author)
FORGED=$(echo "$AUTH" | sed "s/key=[0-9a-f]*/key=$VICTIM/")
post "$FORGED" "$T/body"
check "another device's key named: 401" grep -qx 401 "$T/status"
check "  ... bad_auth" sh -c "jq -e '.error.code == \"bad_auth\"' '$T/resp' >/dev/null"
run "$A" --json admin requests --join "$CODE"
check "  ... nothing kept for the victim" json_ok "length == 1 and all(.[]; .author != \"$VICTIM\")"

# A code whose signer is not an admin of this server: the server checks it.
EXP=$(( ($(date +%s) + 86400) * 1000 ))
MALLORY=$("$NTM" --home "$T/m2" --json whoami | jq -r .author)
PAY="{\"exp\":$EXP,\"nonce\":\"00112233aabbccdd\",\"pin\":\"$PIN\",\"role\":\"admin\",\"root\":\"$ADMIN\",\"scope\":\"72\",\"server\":\"$URL\",\"signer\":\"$MALLORY\",\"v\":1}"
MADE=$(python3 "$TOOLS" join-code "$T/m2/key" "$PAY")
expect 0 "a code made by a device that is no admin: init takes it" "$T/g1" init \
    --no-passphrase --join "$MADE"
check "  ... but the server refuses the request" err_has "refused the request"
check "  ... saying the signer is no admin it knows" err_has "not an admin this server knows"
# A nonce the server never saw, signed by nobody it knows: refused alike.
PAY2="{\"exp\":$EXP,\"nonce\":\"ffffffffffffffff\",\"pin\":\"$PIN\",\"role\":\"recorder\",\"root\":\"$MALLORY\",\"scope\":\"72\",\"server\":\"$URL\",\"v\":1}"
MADE2=$(python3 "$TOOLS" join-code "$T/m2/key" "$PAY2")
printf '{"code":"%s"}' "$MADE2" >"$T/body2"
post "$(python3 "$TOOLS" auth "$KEYF" POST /v1/join "$T/body2")" "$T/body2"
check "a code for another root: 403" grep -qx 403 "$T/status"
printf '{"code":"ntmjoin1.eyJ2IjoxfQ.AAAA"}' >"$T/body3"
post "$(python3 "$TOOLS" auth "$KEYF" POST /v1/join "$T/body3")" "$T/body3"
check "a made-up code: 400" grep -qx 400 "$T/status"
code --expires 1m
printf '{"code":"%s"}' "$CODE" >"$T/body4"
AUTH4=$(python3 "$TOOLS" auth "$KEYF" POST /v1/join "$T/body4")
stop_server TERM
NTM_CLOCK_OFFSET_MS=120000 start_server "$S" >/dev/null
post "$AUTH4" "$T/body4"
check "an expired code: 400 (the server's clock)" grep -qx 400 "$T/status"
check "  ... says it expired" sh -c "grep -q 'expired' '$T/resp'"
stop_server TERM
check "server back" start_server "$S"
head -c 9000 /dev/zero | tr '\0' 'x' >"$T/big"
post "$(python3 "$TOOLS" auth "$KEYF" POST /v1/join "$T/big")" "$T/big"
check "a body past 8 KiB: 413" grep -qx 413 "$T/status"
printf '{"code":"%s","name":"a\\u0007b"}' "$CODE" >"$T/body5"
post "$(python3 "$TOOLS" auth "$KEYF" POST /v1/join "$T/body5")" "$T/body5"
check "a name with a control character: 400" grep -qx 400 "$T/status"

# ------------------------------------------------ who reads requests
expect 1 "a recorder cannot read the requests" "$D" admin requests
check "  ... the server says only an admin may" err_has "only an admin may read join requests"
expect 5 "a device that is not enrolled cannot either (unknown author)" "$T/f6" admin requests

stop_server TERM
finish
