#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lifecycle_store.sh - a store that is empty, cut short, not SQLite, an
# SQLite file without ntm's tables, or missing, on a device synced with a
# real `ntm serve` over TLS on 127.0.0.1. Every command but init refuses
# it (exit 1, SPEC.md 8), says what happened and the two ways out, and
# leaves the file as it was: nothing is re-created silently. Putting back
# a backup brings the home back as it was. `ntm init` on such a home starts
# a new store and keeps the key: the damaged file is moved aside, and the
# next sync brings this device's entries back from the server, numbering
# going on from the server's head (no fork).
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/lifecycle_lib.sh"
# refused WHAT TEXT: status, record and verify each exit 1 naming TEXT,
# with the hint, and ntm.db is byte for byte what it was.
refused() {
    local what=$1 text=$2 before after
    before=$(md5sum <"$R/ntm.db" 2>/dev/null || echo missing)
    expect 1 "$what: status refuses (exit 1)" "$R" status
    check "  ... says what happened" err_has "$text"
    check "  ... says to restore a backup" err_has "from a backup of this home"
    check "  ... or to start again with 'ntm init', keeping the key" \
        err_has "start a new store with this device's key"
    expect 1 "  ... record refuses too" "$R" record activity \
        --task doan.rural_roads_km --unit "$COMMUNE" --date 2017-03-05 \
        --qty 1 --uom km --title x
    expect 1 "  ... verify refuses too (never passes on an empty store)" "$R" verify
    expect 1 "  ... sync refuses too" "$R" sync
    after=$(md5sum <"$R/ntm.db" 2>/dev/null || echo missing)
    check "  ... ntm.db left as it was (not re-created)" test "$before" = "$after"
    check "  ... no WAL made beside it" test ! -s "$R/ntm.db-wal"
}
# put FILE: FILE becomes the recorder's ntm.db (no WAL)
put() {
    cp "$1" "$R/ntm.db"
    rm -f "$R/ntm.db-wal" "$R/ntm.db-shm"
}

rec "r1"
rec "r2"
expect 0 "two records, synced" "$R" sync
rec "r3 (chưa gửi)"
# A consistent copy of the store, as a backup tool would make it.
sqlite3 "$R/ntm.db" ".backup '$T/good.db'"

: >"$T/empty.db"
put "$T/empty.db"
refused "0-byte ntm.db" "is an empty file (0 bytes)"
run "$R" --lang vi status
check "  ... in Vietnamese too" err_has "tệp rỗng (0 byte)"
check "  ... with the hint in Vietnamese" err_has "bản sao lưu"

SIZE=$(stat -c %s "$T/good.db")
head -c $((SIZE / 2)) "$T/good.db" >"$T/half.db"
put "$T/half.db"
refused "ntm.db cut in half" "is damaged or not an ntm store"
head -c 3000 "$T/good.db" >"$T/short.db"
put "$T/short.db"
refused "ntm.db cut to 3000 bytes" "is damaged or not an ntm store"
head -c 8192 /dev/urandom >"$T/noise.db"
put "$T/noise.db"
refused "ntm.db not SQLite" "is damaged or not an ntm store"
rm -f "$T/other.db"
sqlite3 "$T/other.db" "CREATE TABLE notes(x); INSERT INTO notes VALUES (1);"
put "$T/other.db"
refused "ntm.db an SQLite file of another program" "without ntm's tables"
rm -f "$R/ntm.db" "$R/ntm.db-wal" "$R/ntm.db-shm"
refused "ntm.db missing (key still there)" "is missing"

# ------------------------------------------------ a backup put back
put "$T/good.db"
expect 0 "backup put back: status works" "$R" --json status
check "  ... the unpushed record is there again (1 unpushed)" json_ok '.unpushed == 1'
check "  ... and the server settings" json_ok ".server == \"$URL\""
expect 0 "  ... verify passes" "$R" verify
sqlite3 "$R/ntm.db" ".backup '$T/good2.db'"

# ------------------------------------------------ start again with ntm init
put "$T/empty.db"
expect 1 "init --force is still needed to replace a sound home" "$A" init --root --no-passphrase
expect 0 "init on the home with an empty store: starts a new store" \
    "$R" init --server "$URL" --cacert "$T/cert.pem"
check "  ... says the key is kept" out_has "with this device's key"
check "  ... the empty file moved aside, not deleted" \
    sh -c "ls '$R'/ntm.db.bak-* >/dev/null 2>&1"
check "  ... config.json and key kept" test -s "$R/key" -a -s "$R/config.json"
run "$R" --json whoami
check "  ... same author id" json_ok ".author == \"$REC\""
expect 0 "  ... sync" "$R" sync
check "  ... the device's synced records came back from the server" \
    test "$(titles "$R")" = "r1,r2"
rec "r4 (sau khi làm lại)"
expect 0 "  ... a new record, synced" "$R" sync
run "$R" --json status
check "  ... 0 unpushed" json_ok '.unpushed == 0'
run "$A" sync
check "the admin holds r1 r2 r4 (r3 never left the lost store)" \
    test "$(titles "$A")" = "r1,r2,r4 (sau khi làm lại)"
expect 0 "device: verify passes" "$R" verify
run "$S" --json verify
check "server: every entry valid, no fork" json_ok '.forks == [] and .invalid == []'

# The lost r3 is still in the backup: put it back, the next sync heals.
put "$T/good2.db"
expect 0 "the older backup put back instead: sync" "$R" sync
check "  ... r3 reaches the admin too" sh -c "\"$NTM\" --home '$A' sync >/dev/null 2>&1; \"$NTM\" --home '$A' --json list | jq -e '[.[].fields.title] | index(\"r3 (chưa gửi)\")' >/dev/null"
expect 0 "device: verify passes" "$R" verify

stop_server TERM

# The server's own store, emptied: `ntm serve` refuses it instead of
# starting a new one that has forgotten every acknowledged entry.
cp "$S/ntm.db" "$T/server-good.db"
: >"$S/ntm.db"
rm -f "$S/ntm.db-wal" "$S/ntm.db-shm"
run_all timeout 20 "$NTM" --home "$S" serve --listen "127.0.0.1:$PORT" \
    --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
check "ntm serve refuses an emptied store (exit $rc, not a timeout)" \
    sh -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
check "  ... saying the store is an empty file" out_has "empty file"
check "  ... and leaves it as it was (0 bytes)" test ! -s "$S/ntm.db"
cp "$T/server-good.db" "$S/ntm.db"
check "  ... with the file put back it serves again" start_server "$S"
stop_server TERM
finish
