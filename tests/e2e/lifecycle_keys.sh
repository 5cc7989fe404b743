#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_keys.sh - a device's key over its life, with real ntm
# processes in separate homes: `ntm key passwd` changes the passphrase (the
# old one unlocks, the new one is taken from NTM_NEW_PASSPHRASE), rewrites
# the file whole (no key.new left, mode 0600, the same author id) with the
# current Argon2id parameters (3 passes, 64 MiB, read from the file), and
# refuses without changing anything on a wrong old passphrase or with no
# new one to take; unlocking stays under 128 MB of memory.
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

finish
