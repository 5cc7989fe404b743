#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# attach_sync.sh - attachment bytes over a real `ntm serve` on TLS
# (docs/contract.md, attachments): a 5 MB photo pushed through
# tests/e2e/faultproxy.py cutting every connection after 64 kB arrives
# whole; a coordinator fetches it lazily (attachment get) through cuts the
# other way, and an eager home at pull; bytes with one swapped byte are
# refused and discarded; bytes no entry references are refused; a device
# outside the record's scope gets 403; the per-device quota refuses; an
# upload killed -9 half way resumes where the server's bytes end.
#
# Env: NTM_BIN, NTM_SRC. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"
PROXY_PY=$(dirname "$0")/faultproxy.py
TOOLS=$(dirname "$0")/sync_tools.py
command -v python3 >/dev/null || { echo "python3 is needed"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed"; exit 77; }

make_cert
PORT=$(free_port)
PPORT=$(free_port)
URL=https://127.0.0.1:$PORT
PURL=https://127.0.0.1:$PPORT
A=$T/admin
S=$T/server
R=$T/rec   # recorder of Thạnh Đức
C=$T/coord # coordinator of Gò Dầu district (holds the commune)
O=$T/other # recorder of a commune of another district
COMMUNE=72.710.25657

photo() { # photo FILE BYTES SEED: JPEG magic, then random bytes
    python3 -c 'import random,sys; r=random.Random(int(sys.argv[3])); n=int(sys.argv[2]); sys.stdout.buffer.write(b"\xff\xd8\xff\xe0" + bytes(r.getrandbits(8) for _ in range(n - 4)))' "$1" "$2" "$3" >"$1"
}
b2() { b2sum -l 256 "$1" | cut -d' ' -f1; }

photo "$T/big.jpg" 5000000 1
photo "$T/small.jpg" 600000 2
photo "$T/quota.jpg" 2000000 3
photo "$T/kill.jpg" 3000000 4
HB=$(b2 "$T/big.jpg")

expect 0 "admin: init --root" "$A" init --root --no-passphrase
ADMIN=$(jq -r .author "$A/config.json")
expect 0 "server home" "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts (quota 10 MB a device)" start_server "$S" --attach-quota 10000000
expect 0 "admin: points at the server" "$A" init --server "$URL" --cacert "$T/cert.pem"
for h in "$R" "$C" "$O"; do
    run "$h" init --no-passphrase --server "$URL" --cacert "$T/cert.pem"
done
RK=$(jq -r .author "$R/config.json")
CK=$(jq -r .author "$C/config.json")
OK_=$(jq -r .author "$O/config.json")
expect 0 "admin enrolls the recorder" "$A" admin enroll "$RK" --role recorder --scope $COMMUNE --org doan
expect 0 "admin enrolls the coordinator" "$A" admin enroll "$CK" --role coordinator --scope 72.710 --org doan
expect 0 "admin enrolls another district's recorder" "$A" admin enroll "$OK_" --role recorder --scope 72.705 --org doan
expect 0 "admin pushes" "$A" push
for h in "$R" "$C" "$O"; do run "$h" pull; done

expect 0 "recorder: a record with a 5 MB photo" "$R" --json record activity \
    --task doan.rural_roads_km --unit $COMMUNE --date 2019-05-17 --qty 1.2 \
    --uom km --title "Bê tông đường" --attach "$T/big.jpg" --caption "sau" \
    --keep-metadata
ID=$(jq -r .id "$T/out")

# ------------------------------------------------ push through 64 kB cuts
CTL=$T/toxics
echo "limit_data:bytes=65536,dir=up" >"$CTL"
python3 "$PROXY_PY" --listen "127.0.0.1:$PPORT" --upstream "127.0.0.1:$PORT" \
    --control "$CTL" --seed 7 --log "$T/proxy.log" >"$T/proxy.out" 2>&1 &
PROXY_PID=$!
trap 'kill $PROXY_PID 2>/dev/null; cleanup' EXIT
wait_listening "$T/proxy.out" >/dev/null
export NTM_SYNC_ATTEMPTS=5
expect 0 "recorder: point at the proxy" "$R" init --server "$PURL" --cacert "$T/cert.pem"
t0=$(date +%s%N)
expect 0 "push of the photo through 64 kB cuts" "$R" --json push
t1=$(date +%s%N)
check "the server holds the photo whole" cmp -s "$T/big.jpg" "$S/attachments/$HB"
check "push --json: one attachment sent whole" json_ok '.attachments.done == 1'
REQ=$(jq -r .attachments.requests "$T/out")
BYTES=$(jq -r .attachments.bytes "$T/out")
CUTS=$(grep -c 'limit_data' "$T/proxy.log" 2>/dev/null)
echo "# 5 MB through 64 kB cuts: $BYTES bytes in $REQ requests, $CUTS connections cut, $(((t1 - t0) / 1000000)) ms"
check "the proxy did cut connections ($CUTS)" test "${CUTS:-0}" -gt 10

# ------------------------------------------------ fetch through cuts down
echo "limit_data:bytes=65536,dir=down" >"$CTL"
sleep 1.1 # the control file is read again when its mtime changes
expect 0 "coordinator: pull (lazy: no bytes)" "$C" pull
check "  ... the photo is not fetched yet" test ! -e "$C/attachments/$HB"
expect 0 "coordinator: point at the proxy" "$C" init --server "$PURL" --cacert "$T/cert.pem"
expect 0 "coordinator: attachment get through 64 kB cuts down" "$C" attachment get "${HB:0:12}" --out "$T/got.jpg"
check "  ... the file written out is the photo" cmp -s "$T/big.jpg" "$T/got.jpg"
check "  ... and the home keeps it" cmp -s "$T/big.jpg" "$C/attachments/$HB"
echo none >"$CTL"

jq '.attach_fetch = "eager"' "$A/config.json" >"$T/c" && cp "$T/c" "$A/config.json"
expect 0 "admin (eager): pull fetches the attachments" "$A" --json pull
check "  ... the photo arrived whole" cmp -s "$T/big.jpg" "$A/attachments/$HB"
check "  ... pull --json reports it" json_ok '.attachments.done == 1'

# ------------------------------------------------ outside the scope: 403
expect 0 "recorder exports a bundle" "$R" bundle export --out "$T/r.ntmb"
expect 0 "the other district's recorder imports it" "$O" bundle import "$T/r.ntmb"
# The bundle carried the photo too (bundles relay what the exporter
# holds): drop it, so that the server is asked.
check "  ... (it came with the bundle)" cmp -s "$T/big.jpg" "$O/attachments/$HB"
rm -f "$O/attachments/$HB"
run "$O" attachment get "$HB" --out "$T/no.jpg"
check "  ... attachment get from the server is refused (exit $rc)" test "$rc" -ne 0
check "  ... 403: outside its scope" err_has "outside this device's scope"
check "  ... nothing written" test ! -e "$T/no.jpg"

# ------------------------------------------------ a swapped byte
expect 0 "recorder: back to the server's own address" "$R" init --server "$URL" --cacert "$T/cert.pem"
expect 0 "recorder: attach a 600 kB photo" "$R" --json attach "$ID" "$T/small.jpg" --keep-metadata
HS=$(jq -r '.attachments[0].hash' "$T/out")
mv "$R/attachments/$HS" "$T/held-aside"
expect 0 "  ... push its entry alone (the bytes set aside here)" "$R" push
mv "$T/held-aside" "$R/attachments/$HS"
python3 - "$T/small.jpg" "$T/swapped.bin" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[300000] ^= 0xff
open(sys.argv[2], "wb").write(b)
PY
put() { # put HASH OFFSET FILE: a signed PUT as the recorder, status in $T/code
    local p="/v1/attachments/$1?offset=$2"
    local auth
    auth=$(python3 "$TOOLS" auth "$R/key" PUT "$p" "$3")
    curl -sk -o "$T/body" -w '%{http_code}' -X PUT --data-binary @"$3" \
        -H "Content-Type: application/octet-stream" -H "Authorization: $auth" \
        "$URL$p" >"$T/code"
}
put "$HS" 0 "$T/swapped.bin"
check "bytes with one swapped byte are refused (400)" test "$(cat "$T/code")" = 400
check "  ... saying they do not match" grep -q "do not match" "$T/body"
check "  ... and the server kept none of them" test ! -e "$S/attachments/$HS" -a ! -e "$S/attachments/$HS.part"
head -c 1000 /dev/urandom >"$T/junk.bin"
JH=$(b2 "$T/junk.bin")
put "$JH" 0 "$T/junk.bin"
check "bytes no entry references are refused (409)" test "$(cat "$T/code")" = 409
check "  ... nothing stored" test ! -e "$S/attachments/$JH.part"
expect 0 "the true bytes then go through" "$R" --json push
check "  ... whole on the server" cmp -s "$T/small.jpg" "$S/attachments/$HS"
USED=$(sqlite3 "$S/ntm.db" "SELECT coalesce(sum(size), 0) FROM blob_uploads WHERE hash='$HS'")
check "  ... the discarded bytes do not count against the quota ($USED = 600000)" test "$USED" = 600000

# ------------------------------------------------ kill -9 mid-upload
expect 0 "recorder: attach a 3 MB photo" "$R" --json attach "$ID" "$T/kill.jpg" --keep-metadata
HK=$(jq -r '.attachments[0].hash' "$T/out")
expect 0 "  ... push the entry" "$R" init --server "$PURL" --cacert "$T/cert.pem"
echo "bandwidth:rate=400,dir=up" >"$CTL"
sleep 1.1
NTM_ATTACH_CHUNK=65536 "$NTM" --home "$R" push >/dev/null 2>&1 &
PUSH=$!
for _ in $(seq 1 100); do
    [ -s "$S/attachments/$HK.part" ] &&
        [ "$(stat -c %s "$S/attachments/$HK.part")" -gt 1000000 ] && break
    sleep 0.1
done
kill -9 $PUSH 2>/dev/null
wait $PUSH 2>/dev/null
HELD=$(stat -c %s "$S/attachments/$HK.part" 2>/dev/null || echo 0)
check "killed -9 with part of the photo on the server ($HELD of 3000000)" test "$HELD" -gt 0 -a "$HELD" -lt 3000000
echo none >"$CTL"
sleep 1.1
expect 0 "push again" "$R" --json push
check "  ... resumed, not started over" json_ok '.attachments.resumed == 1'
SENT=$(jq -r .attachments.bytes "$T/out")
check "  ... sent only the rest ($SENT <= $((3000000 - HELD)))" test "$SENT" -le $((3000000 - HELD))
check "  ... whole on the server" cmp -s "$T/kill.jpg" "$S/attachments/$HK"

# ------------------------------------------------ quota
expect 0 "recorder: attach 2 MB more (past its 10 MB quota)" "$R" attach "$ID" "$T/quota.jpg" --keep-metadata
run "$R" push
check "push past the quota fails" test "$rc" -ne 0
check "  ... saying the quota is used up" err_has "quota"
expect 0 "the operator sees each device's use" "$S" --json serve --attach-usage --attach-quota 10000000
check "  ... the recorder's bytes, files and quota" json_ok "[.[] | select(.device == \"$RK\")][0] | .bytes >= 8600000 and .files >= 3 and .quota == 10000000"
expect 0 "the operator resets the recorder's count" "$S" serve --attach-usage-reset "$RK"
check "  ... saying how many bytes it forgot" out_has "$RK"
expect 0 "push goes through after the reset" "$R" --json push
check "  ... the 2 MB photo whole on the server" cmp -s "$T/quota.jpg" "$S/attachments/$(b2 "$T/quota.jpg")"

kill $PROXY_PID 2>/dev/null
finish
