#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_forks.sh - a fork is every admin's knowledge, with real ntm
# processes and a real server over TLS: one home copied onto two phones
# (one key), each records at the same seq, both sync. The copy sets its
# record aside (nothing lost), is told to re-key, and shows the server the
# entry it set aside, which the server keeps as fork evidence. `ntm admin
# forks` on the admin's device, which never saw the refused entry, lists
# the fork from the server: the device's name, role and scope, the seq,
# both entries with their times, which one the replicas follow, and what
# to do (re-key the device). A recorder is refused; with no fork the list
# is empty. Once the copy is re-keyed and enrolled, its record reaches
# everyone under the new key, and the fork is resolved: still listed, it
# no longer fails the server's verify.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/lifecycle_lib.sh"

expect 0 "admin: forks with no fork" "$A" admin forks
check "  ... says there is none" err_has "no fork"
run "$A" --json admin forks
check "  ... --json: an empty array" json_ok 'length == 0'

rec "r1"
expect 0 "recorder: records and syncs" "$R" sync

# The same home on a second phone: the same key, the same head.
C=$T/copy
cp -a "$R" "$C"
rec "r2 máy A"
A_ENTRY=$("$NTM" --home "$R" --json show "$ID" | jq -r '.history[0].entry')
run "$C" --json record activity --task doan.rural_roads_km --unit "$COMMUNE" \
    --date 2017-03-05 --qty 1 --uom km --title "r2 máy B"
B_ID=$(jq -r .id "$T/out")
B_ENTRY=$("$NTM" --home "$C" --json show "$B_ID" | jq -r '.history[0].entry')
SEQ=$("$NTM" --home "$C" --json show "$B_ID" | jq -r '.history[0].seq')
expect 0 "phone A syncs" "$R" sync
expect 5 "the copy syncs: told it was copied" "$C" sync
check "  ... its work is kept, nothing lost" err_has "nothing is lost"
check "  ... and to re-key" err_has "ntm init --rekey"
expect 0 "admin: sync" "$A" sync
run "$A" --json verify
check "the admin's own replica holds no fork evidence" json_ok '.forks == []'

expect 0 "admin: forks" "$A" admin forks
check "  ... names the device, its role and scope" \
    out_has "device \"Xã Thạnh Đức\" (recorder of $COMMUNE), author $REC"
check "  ... the seq" out_has "seq $SEQ:"
check "  ... the entry the replicas follow (phone A's)" out_has "followed  $A_ENTRY"
check "  ... the refused one (the copy's)" out_has "refused   $B_ENTRY"
check "  ... and what to do: re-key" out_has "re-key it"
run "$A" --json admin forks
check "  ... --json: one fork of the recorder at that seq, both entries with times" \
    json_ok "length == 1 and .[0].author == \"$REC\" and .[0].seq == $SEQ and .[0].held.id == \"$A_ENTRY\" and (.[0].refused | map(.id)) == [\"$B_ENTRY\"] and .[0].held.ts > 0 and .[0].refused[0].ts > 0 and .[0].role == \"recorder\" and .[0].scope == \"$COMMUNE\" and .[0].advice == \"rekey\" and .[0].sources == [\"server\"]"
run "$S" --json verify
check "the server's verify lists the fork, not resolved" \
    json_ok ".forks == [{\"author\":\"$REC\",\"seq\":$SEQ,\"ids\":[\"$A_ENTRY\",\"$B_ENTRY\"],\"held\":\"$A_ENTRY\",\"resolved\":false}]"
expect 3 "  ... and fails (exit 3)" "$S" verify
expect 5 "the copy syncs again: still told to re-key" "$C" sync
run "$A" --json admin forks
check "  ... the evidence is shown once" json_ok 'length == 1 and (.[0].refused | length) == 1'

expect 1 "a recorder cannot read the forks" "$R" admin forks
check "  ... the server says only an admin may" err_has "only an admin may read fork evidence"

# Without a server: this replica's evidence only, for an admin only.
run "$S" --json admin forks
check "the server's own home (root pinned, no server set) is refused locally" \
    err_has "only an admin sees the fork evidence"

# The way out: the copy gets a new key, the admin enrolls it, the record
# reaches everyone once, and the fork is resolved.
expect 0 "the copy: ntm init --rekey" "$C" init --rekey --no-passphrase
NEW=$(sed -n 's/^new author id: //p' "$T/out")
expect 0 "the admin enrolls the new key" "$A" admin enroll "$NEW" \
    --role recorder --scope "$COMMUNE" --org doan --name "Máy B"
expect 0 "admin: sync" "$A" sync
expect 0 "the copy syncs under its new key" "$C" sync
expect 0 "admin: sync" "$A" sync
check "the admin holds both phones' records, once each" \
    test "$(titles "$A")" = "r1,r2 máy A,r2 máy B"
run "$S" --json verify
check "the server's verify: the fork still listed, resolved" \
    json_ok '(.forks | length) == 1 and .forks[0].resolved == true and .invalid == []'
expect 0 "  ... and exits 0" "$S" verify
check "  ... saying it was written again" out_has "resolved: written again"

stop_server TERM
finish
