#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_keys.sh - a device's key over its life, with real ntm
# processes in separate homes: `ntm key passwd` changes the passphrase (the
# old one unlocks, the new one is taken from NTM_NEW_PASSPHRASE), rewrites
# the file whole (no key.new left, mode 0600, the same author id) with the
# current Argon2id parameters (3 passes, 64 MiB, read from the file), and
# refuses without changing anything on a wrong old passphrase or with no
# new one to take; unlocking stays under 128 MB of memory. A forgotten
# passphrase strands nothing signed: push says to carry a bundle, `ntm
# bundle export --unsigned` writes one without unlocking the key (no
# .minisig), and an enrolled device imports it and pushes it to a real
# server over TLS.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"

A=$T/admin
md5() { md5sum <"$1"; }
# kdf FILE: "ops mem" recorded in a key file (offsets 17 and 25, LE64)
kdf() {
    python3 -c 'import struct,sys; b=open(sys.argv[1],"rb").read(); print(*struct.unpack_from("<QQ", b, 17))' "$1"
}

NTM_PASSPHRASE=one expect 0 "init with a passphrase" "$A" init --root --name admin
run "$A" --json whoami
ME=$(jq -r .author "$T/out")
check "  ... the key file records 3 passes over 64 MiB" test "$(kdf "$A/key")" = "3 67108864"
NTM_PASSPHRASE=one expect 0 "  ... the key unlocks (a unit written)" \
    "$A" admin unit 72.701 --name "Huyện Một" --level district

BEFORE=$(md5 "$A/key")
NTM_PASSPHRASE=wrong NTM_NEW_PASSPHRASE=two expect 1 \
    "key passwd with a wrong old passphrase is refused" "$A" key passwd
check "  ... says the passphrase is wrong" err_has "wrong passphrase"
check "  ... the key file is unchanged" test "$(md5 "$A/key")" = "$BEFORE"
NTM_PASSPHRASE=one setsid -w "$NTM" --home "$A" key passwd </dev/null >"$T/out" 2>"$T/err"
rc=$?
check "key passwd without a new passphrase nor a terminal: exit 1" test "$rc" -eq 1
check "  ... says to set NTM_NEW_PASSPHRASE" err_has "NTM_NEW_PASSPHRASE"
check "  ... the key file is unchanged" test "$(md5 "$A/key")" = "$BEFORE"
NTM_PASSPHRASE=one NTM_NEW_PASSPHRASE= expect 1 "an empty new passphrase is refused" \
    "$A" key passwd
check "  ... the key file is unchanged" test "$(md5 "$A/key")" = "$BEFORE"

NTM_PASSPHRASE=one NTM_NEW_PASSPHRASE="hai mật khẩu" expect 0 \
    "key passwd: old from NTM_PASSPHRASE, new from NTM_NEW_PASSPHRASE" "$A" key passwd
check "  ... says it changed, with the parameters" out_has "passphrase changed"
check "  ... (3 passes, 64 MiB)" out_has "3 passes, 64 MiB"
check "  ... the file was rewritten" test "$(md5 "$A/key")" != "$BEFORE"
check "  ... no key.new left" test ! -e "$A/key.new"
check "  ... mode 0600" test "$(stat -c %a "$A/key")" = 600
check "  ... 3 passes over 64 MiB recorded" test "$(kdf "$A/key")" = "3 67108864"
NTM_PASSPHRASE=one expect 1 "the old passphrase no longer unlocks" \
    "$A" admin unit 72.702 --name "Huyện Hai" --level district
NTM_PASSPHRASE="hai mật khẩu" expect 0 "the new one does" \
    "$A" admin unit 72.702 --name "Huyện Hai" --level district
NTM_PASSPHRASE="hai mật khẩu" run "$A" --json key export
check "  ... the same key (author id unchanged)" test "$(cat "$T/out" | jq -r .author)" = "$ME"
expect 0 "verify passes (entries signed before and after the change)" "$A" verify

# A stale key.new from an interrupted change is no obstacle.
echo half >"$A/key.new"
NTM_PASSPHRASE="hai mật khẩu" NTM_NEW_PASSPHRASE=ba expect 0 \
    "key passwd with a stale key.new beside the key" "$A" --json key passwd
check "  ... JSON names the parameters" json_ok '.sealed == true and .opslimit == 3 and .memlimit == 67108864'
check "  ... no key.new left" test ! -e "$A/key.new"
NTM_PASSPHRASE=ba expect 0 "key passwd --no-passphrase" "$A" key passwd --no-passphrase
check "  ... warns" err_has "without a passphrase"
check "  ... nothing recorded for the KDF" test "$(kdf "$A/key")" = "0 0"
expect 0 "  ... the key unlocks without a passphrase" "$A" key export
NTM_NEW_PASSPHRASE=bon expect 0 "  ... and can be sealed again" "$A" key passwd
NTM_PASSPHRASE=bon expect 0 "  ... with the new passphrase" "$A" key export
NTM_PASSPHRASE=bon run "$A" --lang vi key passwd --minisign
check "usage errors in Vietnamese" err_has "thuộc về 'ntm key export'"

if [ -x /usr/bin/time ]; then
    NTM_PASSPHRASE=bon /usr/bin/time -v "$NTM" --home "$A" key export \
        >/dev/null 2>"$T/time"
    RSS=$(awk -F: '/Maximum resident/ {print $2 + 0}' "$T/time")
    check "unlocking the key peaks under 128 MB (${RSS} kB)" test "${RSS:-999999}" -lt 131072
else
    skip "unlocking the key peaks under 128 MB (/usr/bin/time missing)"
fi

# ------------------------------------------------ a forgotten passphrase
# A recorder records offline, then forgets its passphrase: its entries,
# signed already, leave the device in an unsigned bundle carried to the
# admin, who imports and pushes them to a real server over TLS.
make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
S=$T/server
R=$T/rec
COMMUNE=72.710.25657
NTM_PASSPHRASE=bon run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
NTM_PASSPHRASE=bon run "$A" init --server "$URL" --cacert "$T/cert.pem"
NTM_PASSPHRASE=nho expect 0 "recorder: init with a passphrase" "$R" init \
    --root-key "$ADMIN" --server "$URL" --cacert "$T/cert.pem"
run "$R" --json whoami
REC=$(jq -r .author "$T/out")
NTM_PASSPHRASE=bon expect 0 "admin enrolls the recorder" "$A" admin enroll "$REC" \
    --role recorder --scope "$COMMUNE" --org doan --name "Xã Thạnh Đức"
NTM_PASSPHRASE=bon run "$A" sync
NTM_PASSPHRASE=nho run "$R" pull
for t in "đường 1" "đường 2"; do
    NTM_PASSPHRASE=nho run "$R" record activity --task doan.rural_roads_km \
        --unit "$COMMUNE" --date 2017-03-05 --qty 1 --uom km --title "$t"
done
run "$R" --json status
check "recorder: 2 entries unpushed" json_ok '.unpushed == 2'

NTM_PASSPHRASE=quen expect 1 "passphrase forgotten: push is refused" "$R" push
check "  ... says the passphrase is wrong" err_has "wrong passphrase"
check "  ... and to carry a bundle to an enrolled device" \
    err_has "bundle export --unsigned --out FILE', carry FILE to an enrolled device"
NTM_PASSPHRASE=quen expect 1 "  ... sync says the same" "$R" sync
check "  ... (the bundle hint)" err_has "bundle export --unsigned"
NTM_PASSPHRASE=quen expect 1 "a signed bundle export needs the key" "$R" bundle export --out "$T/rec.ntm"
check "  ... and points at --unsigned" err_has "bundle export --unsigned --out FILE' writes them"
echo stale >"$T/rec.ntm.minisig"
setsid -w "$NTM" --home "$R" bundle export --unsigned --out "$T/rec.ntm" \
    </dev/null >"$T/out" 2>"$T/err"
rc=$?
check "bundle export --unsigned: no passphrase, no terminal, exit 0" test "$rc" -eq 0
check "  ... says there is no file signature" out_has "without a file signature"
check "  ... and why the entries still count" err_has "each entry keeps its own signature"
check "  ... the stale .minisig is gone" test ! -e "$T/rec.ntm.minisig"
check "  ... the header names the recorder" \
    sh -c "head -n1 '$T/rec.ntm' | jq -e '.by == \"$REC\"' >/dev/null"
NTM_PASSPHRASE=bon expect 0 "the admin imports the unsigned bundle" "$A" bundle import "$T/rec.ntm"
check "  ... noting it has no signature file" err_has "no signature file"
NTM_PASSPHRASE=bon expect 0 "  ... and pushes (relays the recorder's entries)" "$A" push
run "$S" --json list
check "the server holds both records of the recorder" \
    json_ok '[.[].fields.title] | sort == ["đường 1","đường 2"]'
run "$S" --json verify
check "server: every entry valid" json_ok '.invalid == [] and .forks == []'
stop_server TERM

finish
