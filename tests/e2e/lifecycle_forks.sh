#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_forks.sh - a fork is every admin's knowledge, with real ntm
# processes and a real server over TLS: one home copied onto two phones
# (one key), each records at the same seq, both sync. The copy sets its
# record aside and writes it again (nothing lost) and shows the server the
# entry it set aside, which the server keeps as fork evidence. `ntm admin
# forks` on the admin's device, which never saw the refused entry, lists
# the fork from the server: the device's name, role and scope, the seq,
# both entries with their times, which one the replicas follow, and what
# to do (re-key the device). A recorder is refused; with no fork the list
# is empty.
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
expect 0 "the copy syncs" "$C" sync
check "  ... its work is set aside and written again, nothing lost" err_has "nothing is lost"
expect 0 "admin: sync" "$A" sync
check "the admin holds both phones' records" \
    test "$(titles "$A")" = "r1,r2 máy A,r2 máy B"
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
check "the server's verify lists the fork" \
    json_ok ".forks == [{\"author\":\"$REC\",\"seq\":$SEQ,\"ids\":[\"$A_ENTRY\",\"$B_ENTRY\"]}]"
expect 0 "the copy syncs again" "$C" sync
run "$A" --json admin forks
check "  ... the evidence is shown once" json_ok 'length == 1 and (.[0].refused | length) == 1'

expect 1 "a recorder cannot read the forks" "$R" admin forks
check "  ... the server says only an admin may" err_has "only an admin may read fork evidence"

# Without a server: this replica's evidence only, for an admin only.
run "$S" --json admin forks
check "the server's own home (root pinned, no server set) is refused locally" \
    err_has "only an admin sees the fork evidence"

stop_server TERM
finish
