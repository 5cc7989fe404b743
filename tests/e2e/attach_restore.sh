#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# attach_restore.sh - attachment bytes a server lost come back
# (docs/contract.md, attachments: "What push remembers"): the server's
# home is restored from a copy taken before a photo was pushed, the root
# announces the reset, and the next push sends the bytes again; the
# server's attachments folder alone is lost (no rollback to announce), and
# a push or two finds it out by status and sends them again; a hash the
# server refused (outside the device's scope) is not asked about again at
# every push, and the reason is kept.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R=$T/rec   # recorder of Thạnh Đức
O=$T/other # recorder of a commune of another district
COMMUNE=72.710.25657

photo() { # photo FILE BYTES SEED: JPEG magic, then random bytes
    python3 -c 'import random,sys; r=random.Random(int(sys.argv[3])); n=int(sys.argv[2]); sys.stdout.buffer.write(b"\xff\xd8\xff\xe0" + bytes(r.getrandbits(8) for _ in range(n - 4)))' "$1" "$2" "$3" >"$1"
}
b2() { b2sum -l 256 "$1" | cut -d' ' -f1; }
photo "$T/p1.jpg" 300000 1
photo "$T/p2.jpg" 200000 2
H1=$(b2 "$T/p1.jpg")
H2=$(b2 "$T/p2.jpg")

run "$A" init --root --no-passphrase --name admin
ADMIN=$(jq -r .author "$A/config.json")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts" start_server "$S"
run "$A" init --server "$URL" --cacert "$T/cert.pem"
for h in "$R" "$O"; do
    run "$h" init --no-passphrase --server "$URL" --cacert "$T/cert.pem"
done
RK=$(jq -r .author "$R/config.json")
OK_=$(jq -r .author "$O/config.json")
run "$A" admin enroll "$RK" --role recorder --scope $COMMUNE --org doan
run "$A" admin enroll "$OK_" --role recorder --scope 72.705 --org doan
expect 0 "admin enrolls two recorders and pushes" "$A" push
for h in "$R" "$O"; do run "$h" pull; done

stop_server TERM
cp -a "$S" "$T/server-copy"
check "the operator copies the server's home (before any photo)" test -d "$T/server-copy"
check "server starts again" start_server "$S"

expect 0 "recorder: a record with a photo" "$R" --json record activity \
    --task doan.rural_roads_km --unit $COMMUNE --date 2019-05-17 --qty 1 \
    --uom km --title "Bê tông" --attach "$T/p1.jpg" --keep-metadata
ID=$(jq -r .id "$T/out")
expect 0 "recorder: push" "$R" --json push
check "  ... the server holds the photo" cmp -s "$T/p1.jpg" "$S/attachments/$H1"

# ------------------------------------------------ the home restored
stop_server TERM
rm -rf "$S"
cp -a "$T/server-copy" "$S"
check "the server restarts from the copy taken before" start_server "$S"
check "  ... it lacks the photo" test ! -e "$S/attachments/$H1"
expect 1 "recorder: push refuses the server that went backwards" "$R" push
expect 0 "the root admin signs the reset statement" "$A" admin server-reset --out "$T/reset.json"
stop_server TERM
check "the operator restarts the server with it" start_server "$S" --reset "$T/reset.json"
expect 0 "recorder: push again" "$R" --json push
check "  ... the photo is sent again" json_ok '.attachments.done == 1'
check "  ... the server holds it again" cmp -s "$T/p1.jpg" "$S/attachments/$H1"

# ------------------------------------------------ the bytes alone lost
expect 0 "recorder: a second photo" "$R" attach "$ID" "$T/p2.jpg" --keep-metadata
expect 0 "recorder: push" "$R" push
check "  ... the server holds it" cmp -s "$T/p2.jpg" "$S/attachments/$H2"
rm -f "$S/attachments/$H1" "$S/attachments/$H2"
expect 0 "the server's attachments are lost (no rollback): push" "$R" --json push
check "  ... finds it out by status and sends them again" json_ok '.attachments.done == 2'
check "  ... the server holds the first again" cmp -s "$T/p1.jpg" "$S/attachments/$H1"
check "  ... and the second" cmp -s "$T/p2.jpg" "$S/attachments/$H2"
expect 0 "push once more" "$R" --json push
check "  ... asks about nothing already proven" json_ok '.attachments.files == 0'

# ------------------------------------------------ refused: not forever
expect 0 "recorder exports a bundle" "$R" bundle export --out "$T/r.ntmb"
expect 0 "the other district's recorder imports it" "$O" bundle import "$T/r.ntmb"
expect 0 "  ... and pushes" "$O" --json push
check "  ... the server refuses its photos (outside its scope)" json_ok '.attachments.refused == 2'
expect 0 "  ... pushes again" "$O" --json push
check "  ... the refused photos are not asked about again" json_ok '.attachments.files == 0 and .attachments.refused == 0 and .attachments.held_back == 2'
check "  ... the reason is kept" sh -c "sqlite3 '$O/ntm.db' \"SELECT value FROM meta WHERE key='sync.attach.$H1'\" | grep -q forbidden"

stop_server TERM
finish
