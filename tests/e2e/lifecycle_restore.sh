#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_restore.sh - a phone restored from an older backup, through a
# real `ntm serve` over TLS on 127.0.0.1: the store is copied aside after a
# sync, the device writes and syncs more, the old copy comes back (without
# its WAL), and the officer records again - at seqs the server already
# holds under other entries. The next sync must find out, take the
# server's copy of the chain back, write the new work again on top of it
# (a new record id for a re-issued create, edits following it), push it,
# and tell the officer; the server and the device then hold everything,
# once, and both verify. The same with the device offline first (status
# never says 0 unpushed while work has not reached the server), a copy
# that lost only its WAL file, and one home copied onto two phones.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/lifecycle_lib.sh"

rec "r1"
rec "r2"
rec "r3"
R3=$ID
expect 0 "three records, synced" "$R" sync
cp "$R/ntm.db" "$T/backup.db"
rec "r4"
expect 0 "  ... r4 and an edit of r3, synced" "$R" edit "$R3" --set "title=r3 sửa"
run "$R" sync

# ------------------------------------------------ restored, then offline
cp "$T/backup.db" "$R/ntm.db"
rm -f "$R/ntm.db-wal" "$R/ntm.db-shm"
rec "r5 sau khôi phục"
R5=$ID
expect 0 "restored home: records again (offline work is never blocked)" \
    "$R" edit "$R5" --set "note=ghi chú"
run "$R" edit "$R3" --set "qty=2"
expect 0 "  ... status" "$R" --json status
check "  ... shows its 3 new entries as unpushed (not 0)" json_ok '.unpushed == 3'

expect 0 "sync after the restore" "$R" sync
check "  ... tells the officer what happened" err_has "restored from a backup"
check "  ... and that nothing is lost" err_has "nothing is lost"
expect 0 "  ... status" "$R" --json status
check "  ... 0 unpushed now" json_ok '.unpushed == 0'
check "the device holds every record once: r1 r2 r3 sửa r4 r5" \
    test "$(titles "$R")" = "r1,r2,r3 sửa,r4,r5 sau khôi phục"
run "$A" sync
check "the admin (through the server) holds the same" \
    test "$(titles "$A")" = "r1,r2,r3 sửa,r4,r5 sau khôi phục"
run "$A" --json list
NEW5=$(jq -r '.[] | select(.fields.title == "r5 sau khôi phục") | .id' "$T/out")
check "  ... r5 has the id its new seq gives (not the stranded one)" \
    test -n "$NEW5" -a "$NEW5" != "$R5"
check "  ... its edit followed it (note kept)" \
    json_ok ".[] | select(.id == \"$NEW5\") | .fields.note == \"ghi chú\""
check "  ... the edit of r3 made after the restore counts (qty 2)" \
    json_ok ".[] | select(.id == \"$R3\") | .fields.qty == \"2\""
expect 0 "device: verify passes" "$R" verify
check "  ... and lists what it set aside (3 entries, each written again)" \
    sh -c "\"$NTM\" --home \"$R\" --json verify | jq -e '(.stranded | length) == 3 and all(.stranded[]; .reissued_as | length == 64)' >/dev/null"
expect 0 "admin: verify passes" "$A" verify
check "  ... and shows the admin the 3 entries written again, each naming the one it replaces" \
    sh -c "\"$NTM\" --home \"$A\" --json verify | jq -e '(.reissued | length) == 3 and all(.reissued[]; .replaces | length == 64)' >/dev/null"
check "  ... in words too" sh -c "\"$NTM\" --home \"$A\" verify | grep -q 'restored from a backup, or copied): 3'"
run "$S" --json verify
# The entries set aside were shown to the server, which keeps them as fork
# evidence for admins (ntm admin forks): every entry it holds is valid.
check "server: every entry valid, the set-aside entries kept as fork evidence" \
    json_ok '(.forks | length) > 0 and .invalid == []'
check "server holds 9 entries: the enrollment, 5 before the restore, 3 re-issued (none twice)" \
    test "$(count_entries "$S")" -eq 9
expect 0 "a second sync changes nothing" "$R" sync
check "  ... says nothing of a restore" sh -c "! grep -q 'restored' '$T/err'"

# ------------------------------------------------ only the WAL lost
rec "r6"
run "$R" sync
cp "$R/ntm.db" "$T/nowal.db"
rec "r7 (chỉ trong WAL)"
run "$R" sync
# The WAL file held r7: a copy of the main file alone has the state before.
sqlite3 "$T/nowal.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null 2>&1
cp "$T/nowal.db" "$R/ntm.db"
rm -f "$R/ntm.db-wal" "$R/ntm.db-shm"
rec "r8"
expect 0 "lost WAL: sync" "$R" sync
check "  ... the device has r7 back and r8 re-issued" \
    sh -c "titles_ok=\$(\"$NTM\" --home \"$R\" --json list | jq -r '[.[].fields.title] | sort | join(\",\")'); [ \"\$titles_ok\" = 'r1,r2,r3 sửa,r4,r5 sau khôi phục,r6,r7 (chỉ trong WAL),r8' ]"
run "$A" sync
check "  ... and so does the admin" \
    test "$(titles "$A")" = "r1,r2,r3 sửa,r4,r5 sau khôi phục,r6,r7 (chỉ trong WAL),r8"
expect 0 "device: verify passes" "$R" verify

# ------------------------------------------------ a copied home
# The same home on two phones (one key): each writes at the same seqs. The
# copy (a home made in another place) is not a restored backup: writing its
# work again under the shared key would fork again at the next write of the
# other phone. Its work is set aside and waits for a new key (ntm init
# --rekey, lifecycle_rekey.sh); then both phones' work reaches the server,
# once.
C2=$T/copy
cp -a "$R" "$C2"
rec "r9 máy A"
run_c2() { run "$C2" "$@"; }
run_c2 --json record activity --task doan.rural_roads_km --unit "$COMMUNE" \
    --date 2017-03-05 --qty 1 --uom km --title "r9 máy B"
expect 0 "copied home: the first phone syncs" "$R" sync
expect 5 "  ... the copy syncs: told it was copied, its work kept back" "$C2" sync
check "  ... and to run ntm init --rekey" err_has "ntm init --rekey"
expect 0 "  ... the first phone writes again and syncs" "$R" edit "$R3" --set "note=A"
run "$R" sync
expect 5 "  ... the copy syncs again: still told" "$C2" sync
expect 0 "  ... the copy gets a new key" "$C2" init --rekey --no-passphrase
C2KEY=$(sed -n 's/^new author id: //p' "$T/out")
expect 0 "  ... the admin enrolls it" "$A" admin enroll "$C2KEY" --role recorder \
    --scope "$COMMUNE" --org doan --name "Máy B"
run "$A" sync
expect 0 "  ... the copy syncs" "$C2" sync
run "$A" sync
check "the admin holds both phones' r9 and the edit, once each" \
    sh -c "[ \"\$(\"$NTM\" --home \"$A\" --json list | jq -r '[.[].fields.title] | map(select(startswith(\"r9\"))) | sort | join(\",\")')\" = 'r9 máy A,r9 máy B' ]"
expect 0 "  ... the copy verifies" "$C2" verify
run "$S" --json verify
check "  ... the server: nothing invalid, the fork kept as evidence" \
    json_ok '(.forks | length) > 0 and .invalid == []'

stop_server TERM
finish
