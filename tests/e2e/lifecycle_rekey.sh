#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_rekey.sh - `ntm init --rekey`, through a real `ntm serve` over
# TLS on 127.0.0.1 and real ntm processes in separate homes.
#
# Story 1, a lost passphrase: a device records offline (3 records and 2
# edits, one of a record the server already holds), forgets its
# passphrase, and runs `ntm init --rekey`: a new key (the old file kept
# aside), the store kept, the unsent entries written again under the new
# key. Status says plainly it waits for an enrollment and how many entries
# wait; recording goes on; the server refuses it until an admin enrolls
# the new id; then one sync sends everything: the server and the admin hold
# each record once, under the new author, each re-issued entry naming the
# one it replaces, and every replica verifies.
#
# Story 2, a home copied to a second phone: both record, both sync; the
# copy is told plainly that two phones sign as one and to run `ntm init
# --rekey`, and sends nothing of its own meanwhile (no endless re-issue
# under the shared key; the server keeps its set-aside work as fork
# evidence, and verify fails until it is resolved); after the rekey and the
# enrollment both phones' records are on the server, once each.
#
# Then the device of story 1 is re-keyed again with an admin's join code
# (`ntm init --rekey --join CODE`, `ntm admin enroll <id> --join CODE`).
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/lifecycle_lib.sh"

# count TITLE HOME: how many records HOME lists with that title
count() {
    "$NTM" --home "$2" --json list 2>/dev/null |
        jq --arg t "$1" '[.[] | select(.fields.title == $t)] | length'
}
record() { # HOME TITLE
    run "$1" --json record activity --task doan.rural_roads_km --unit "$COMMUNE" \
        --date 2017-03-05 --qty 1 --uom km --title "$2"
    ID=$(jq -r .id "$T/out" 2>/dev/null)
}

# ================================================ story 1: a lost passphrase
D=$T/dev
export NTM_PASSPHRASE="mật khẩu cũ"
expect 0 "device with a passphrase: init" "$D" init --root-key "$ADMIN" \
    --server "$URL" --cacert "$T/cert.pem" --name "Ấp Một"
run "$D" --json whoami
OLD=$(jq -r .author "$T/out")
expect 0 "admin enrolls it" "$A" admin enroll "$OLD" --role recorder \
    --scope "$COMMUNE" --org doan --name "Ấp Một"
run "$A" sync
record "$D" "d0"
D0=$ID
expect 0 "the device records d0 and syncs" "$D" sync

record "$D" "d1"
D1=$ID
record "$D" "d2"
record "$D" "d3"
expect 0 "offline: three records and two edits (one of d0, on the server)" \
    "$D" edit "$D1" --set "title=d1 sửa"
run "$D" edit "$D0" --set "note=sửa khi mất mạng"
expect 0 "  ... status" "$D" --json status
check "  ... 5 unpushed" json_ok '.unpushed == 5 and .rekey == null'

NTM_PASSPHRASE="quên rồi" expect 1 "the passphrase is forgotten: sync cannot unlock the key" "$D" sync
check "  ... and says a new key is the way out" err_has "init --rekey"

unset NTM_PASSPHRASE
NTM_NEW_PASSPHRASE="mật khẩu mới" expect 0 "ntm init --rekey (no old passphrase needed)" \
    "$D" init --rekey
cp "$T/out" "$T/rekey1.txt"
NEW=$(sed -n 's/^new author id: //p' "$T/rekey1.txt")
check "  ... prints the new author id" test "${#NEW}" -eq 64 -a "$NEW" != "$OLD"
has "  ... and its fingerprint" "fingerprint:" "$T/rekey1.txt"
has "  ... 1 entry of the old key stays on the server" "the server holds: 1" "$T/rekey1.txt"
has "  ... 5 written again under the new key" "under the new key: 5" "$T/rekey1.txt"
has "  ... the admin's command, with the old role and scope" \
    "ntm admin enroll $NEW --role recorder --scope $COMMUNE --org doan" "$T/rekey1.txt"
check "  ... the old key file is kept aside" sh -c "ls '$D'/key.old-* >/dev/null"
check "  ... no key.new left, the new key is 0600" \
    test ! -e "$D/key.new" -a "$(stat -c %a "$D/key")" = 600
run "$D" --json whoami
check "  ... whoami: the new author id" json_ok ".author == \"$NEW\""
NTM_PASSPHRASE="mật khẩu cũ" expect 1 "  ... the old passphrase no longer unlocks" "$D" sync

export NTM_PASSPHRASE="mật khẩu mới"
expect 0 "status" "$D" status
has "  ... says plainly the device waits for an enrollment" \
    "WAITS FOR AN ADMIN'S ENROLLMENT: 5 entries wait" "$T/out"
expect 0 "  ... (json)" "$D" --json status
check "  ... rekey object: from, to, not enrolled, 5 waiting, 5 unpushed" \
    json_ok ".rekey.from == \"$OLD\" and .rekey.to == \"$NEW\" and .rekey.enrolled == false and .rekey.waiting == 5 and .unpushed == 5"
check "the device still lists d0 (the server's copy stays)" \
    test "$(count d0 "$D")" -eq 1
record "$D" "d4"
check "recording goes on before the enrollment" test "$rc" -eq 0 -a -n "$ID"
run "$D" --json status
check "  ... 6 entries wait" json_ok '.rekey.waiting == 6 and .unpushed == 6'
expect 5 "sync before the enrollment: the server refuses the unknown key" "$D" sync
check "  ... and says to ask an admin to enroll it" err_has "enroll"

expect 0 "the admin enrolls the new id as the old one was" "$A" admin enroll "$NEW" \
    --role recorder --scope "$COMMUNE" --org doan --name "Ấp Một"
run "$A" sync
expect 0 "the device syncs: everything goes" "$D" --json sync
check "  ... 6 accepted, none rejected" json_ok '.push.accepted == 6 and (.push.rejected | length) == 0 and (.push.flagged | length) == 0'
check "  ... push JSON reports the new key, enrolled" \
    json_ok ".push.rekey.to == \"$NEW\" and .pull.rekey.enrolled == true and .pull.rekey.waiting == 0"
run "$D" status
has "  ... status: enrolled" "enrolled (the old key was" "$T/out"
run "$A" sync
for t in d1\ sửa d2 d3 d4; do
    check "the admin holds '$t' once" test "$(count "$t" "$A")" -eq 1
done
check "  ... d0 once, with the edit made offline under the old key" \
    sh -c "\"$NTM\" --home \"$A\" --json list | jq -e --arg id '$D0' '[.[] | select(.fields.title == \"d0\")] | length == 1 and .[0].id == \$id and .[0].fields.note == \"sửa khi mất mạng\"' >/dev/null"
check "  ... no record under d1's old id" sh -c "! \"$NTM\" --home \"$A\" --json show '$D1' >/dev/null 2>&1"
run "$A" --json verify
check "admin: verify clean, 5 entries re-issued by the new author, each naming the one it replaces" \
    json_ok "(.reissued | length) == 5 and all(.reissued[]; .author == \"$NEW\" and (.replaces | length) == 64) and .forks == [] and .invalid == []"
expect 0 "  ... exit 0" "$A" verify
run "$S" --json verify
check "server: verify clean, no fork, nothing invalid" json_ok '.forks == [] and .invalid == []'
check "  ... the old key's unsent entries never reached it: 5 re-issued, by the new author" \
    json_ok "(.reissued | length) == 5 and all(.reissued[]; .author == \"$NEW\")"
expect 0 "  ... exit 0" "$S" verify
expect 0 "device: verify" "$D" verify
expect 0 "a second sync sends nothing more" "$D" --json sync
check "  ... 0 sent" json_ok '.push.sent == 0'

# ================================================ story 2: a copied home
record "$R" "c0"
expect 0 "phone A records c0 and syncs" "$R" sync
C2=$T/copy
cp -a "$R" "$C2"
record "$R" "máy A"
record "$C2" "máy B"
check "the copy (phone B) records too" test "$rc" -eq 0
expect 0 "phone A syncs first" "$R" sync
expect 5 "phone B syncs: its chain forked (same key, other work)" "$C2" sync
check "  ... is told plainly the home was copied" err_has "copied from or to another device"
check "  ... and to run ntm init --rekey" err_has "ntm init --rekey"
check "  ... and that nothing is lost" err_has "nothing is lost"
expect 0 "  ... status" "$C2" status
has "  ... says a new key is needed" "NEEDED" "$T/out"
run "$C2" --json status
check "  ... (json) rekey.needed, 1 entry kept back, counted as unpushed" \
    json_ok '.rekey.needed == true and .rekey.waiting == 1 and .unpushed >= 1'
record "$C2" "máy B 2"
expect 5 "phone B records more, syncs again: still told, nothing of its own sent" "$C2" --json sync
check "  ... push: 0 own entries sent, heal.copied" json_ok '.push.heal.copied == true and .push.sent == 0'
check "  ... (no re-issue under the shared key)" json_ok '.push.heal.reissued == 0 and .pull.heal.reissued == 0'
record "$R" "máy A 2"
expect 0 "phone A goes on: records and syncs without trouble" "$R" sync
check "  ... (no fork for it)" sh -c "! grep -qi 'copied\|restored' '$T/err'"
run "$S" --json verify
check "the server holds phone B's set-aside work as fork evidence, not resolved yet" \
    json_ok '(.forks | length) >= 1 and all(.forks[]; .resolved == false) and .invalid == []'
expect 3 "  ... so the server's verify fails (exit 3)" "$S" verify

expect 0 "phone B: ntm init --rekey" "$C2" init --rekey --no-passphrase
cp "$T/out" "$T/rekey2.txt"
NEW2=$(sed -n 's/^new author id: //p' "$T/rekey2.txt")
check "  ... a new author id" test "${#NEW2}" -eq 64 -a "$NEW2" != "$REC"
has "  ... 2 written again under the new key" "under the new key: 2" "$T/rekey2.txt"
has "  ... says not to revoke the old key (phone A keeps it)" "do not revoke" "$T/rekey2.txt"
run "$C2" --json status
check "  ... status: waits for the enrollment, 2 entries" \
    json_ok '.rekey.needed == false and .rekey.enrolled == false and .rekey.waiting == 2'
expect 0 "the admin enrolls phone B's new id" "$A" admin enroll "$NEW2" \
    --role recorder --scope "$COMMUNE" --org doan --name "Máy B"
run "$A" sync
expect 0 "phone B syncs" "$C2" sync
expect 0 "phone A syncs" "$R" sync
expect 0 "phone B syncs again" "$C2" sync
run "$A" sync
for t in c0 "máy A" "máy A 2" "máy B" "máy B 2"; do
    check "the admin holds '$t' once" test "$(count "$t" "$A")" -eq 1
    check "  ... and so do both phones" \
        test "$(count "$t" "$R")" -eq 1 -a "$(count "$t" "$C2")" -eq 1
done
run "$S" --json verify
check "server: the fork evidence stays, resolved (written again under the new key); nothing invalid" \
    json_ok '(.forks | length) >= 1 and all(.forks[]; .resolved) and .invalid == []'
expect 0 "  ... verify exit 0" "$S" verify
expect 0 "phone A verifies" "$R" verify
expect 0 "phone B verifies" "$C2" verify
expect 0 "admin verifies" "$A" verify

# ================================================ with a join code
# The device of story 1 loses its new passphrase too; this time the admin
# hands over a join code, and confirms the new id with it.
record "$D" "d5"
expect 0 "the admin makes a join code" "$A" --json admin join-code --role recorder \
    --scope "$COMMUNE" --org doan --name "Ấp Một" --pin "$PIN"
JCODE=$(jq -r .code "$T/out")
unset NTM_PASSPHRASE
NTM_NEW_PASSPHRASE="lần ba" expect 0 "ntm init --rekey --join CODE" "$D" --json init --rekey --join "$JCODE"
NEW3=$(jq -r .author "$T/out")
FP3=$(jq -r .fingerprint "$T/out")
check "  ... 1 entry written again (d5), the old one is story 1's new key" \
    json_ok ".reissued == 1 and .old_author == \"$NEW\" and .author != \"$NEW\""
expect 0 "the admin enrolls it with the code" "$A" admin enroll "$NEW3" --join "$JCODE"
check "  ... showing the same fingerprint" out_has "$FP3"
run "$A" sync
NTM_PASSPHRASE="lần ba" expect 0 "the device syncs" "$D" sync
run "$A" sync
check "the admin holds d5 once" test "$(count d5 "$A")" -eq 1
expect 0 "  ... and verifies" "$A" verify
run "$S" --json verify
check "  ... so does the server (every fork resolved)" json_ok 'all(.forks[]; .resolved) and .invalid == []'
expect 1 "a damaged join code is refused" "$D" init --rekey \
    --no-passphrase --join "ntmjoin1.AAAA.BBBB"

# ================================================ misuse
expect 2 "--rekey with --server is a usage error" "$C2" init --rekey --server "$URL"
expect 1 "--rekey on the root's home is refused" "$A" init --rekey --no-passphrase
check "  ... saying why" err_has "root key"
expect 1 "--rekey where there is no home" "$T/nohome" init --rekey --no-passphrase
check "  ... says to run ntm init" err_has "ntm init"

stop_server TERM
finish
