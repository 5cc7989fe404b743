#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# verify_drill.sh - ntm verify against an insider and against bit rot: the
# derived state altered with sqlite3 (a quantity in records.fields) is
# found (exit 3), repaired by verify --rebuild (exit 0), and the list shows
# the signed quantity again; then the byte-flip drill (verify_flips.py):
# 16 single-byte flips at random live offsets of a checkpointed copy of a
# populated ntm.db, each must make verify exit non-zero; at least 15 of 16
# are required (the seed is printed; NTM_FLIP_SEED replays a run).
#
# Env: NTM_BIN (the built ntm), NTM_CONFIG_DIR, NTM_SRC. Each check prints
# a line; the last is "N passed, N failed"; exit status 1 on any failure.
set -u

NTM=${NTM_BIN:?NTM_BIN must name the ntm binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-verify-drill.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
unset NTM_PASSPHRASE NTM_HOME
export LANG=C.UTF-8
A=$T/admin
COMMUNE=72.710.25657

# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"

for tool in jq sqlite3 python3; do
    if ! command -v $tool >/dev/null; then
        echo "$tool is needed"
        exit 77
    fi
done

expect 0 "admin: init --root" "$A" init --root --no-passphrase --name "MTTQ tỉnh"
expect 0 "admin creates a hamlet" "$A" admin unit "$COMMUNE.1" --name "Ấp Thạnh Hòa"
for i in $(seq 1 24); do
    "$NTM" --home "$A" record activity --task doan.rural_roads_km \
        --unit "$COMMUNE" --date 2019-05-17 --qty "1.$i" --uom km \
        --title "Đường ấp số $i" >"$T/id.$i" 2>"$T/err" || not_ok "record $i"
done
for i in 1 2 3; do
    "$NTM" --home "$A" edit "$(cat "$T/id.$i")" --set qty=2.5 >/dev/null 2>"$T/err" ||
        not_ok "edit $i"
done
expect 0 "a populated home verifies" "$A" --json verify
check "  ... with no derived difference" json_ok '.derived_total == 0 and .derived_checked == true and (.integrity | length) == 0'

# ---------------------------------------------------------------- insider
cp -a "$A" "$T/qty"
ID=$(cat "$T/id.7")
run "$T/qty" --json show "$ID"
QTY=$(jq -r .fields.qty "$T/out")
check "the record holds qty 1.7" test "$QTY" = "1.7"
sqlite3 "$T/qty/ntm.db" "update records set fields=json_set(fields,'\$.qty','5000')"
run "$T/qty" --json show "$ID"
check "sqlite3 changed the stored qty to 5000" json_ok '.fields.qty == "5000"'
expect 3 "verify finds the changed qty (exit 3)" "$T/qty" verify
check "  ... naming table, column, stored and recomputed value" out_has "records  id=$ID  fields.qty: \"5000\", \"1.7\""
expect 3 "verify --json exits 3 too" "$T/qty" --json verify
check "  ... with every record in .derived" json_ok '(.derived | length) == 24 and all(.derived[]; .table == "records" and .column == "fields" and (.stored | fromjson | .qty) == "5000") and (.invalid | length) == 0'
expect 3 "verify changed nothing: it still finds it" "$T/qty" verify
expect 0 "verify --rebuild repairs the state (exit 0)" "$T/qty" verify --rebuild
check "  ... and lists what it changed" out_has "repaired"
expect 0 "verify passes after the rebuild" "$T/qty" --json verify
check "  ... with no difference left" json_ok '.derived_total == 0'
run "$T/qty" --json show "$ID"
check "show gives the signed qty 1.7 again" json_ok '.fields.qty == "1.7"'
run "$T/qty" --json list
check "list shows no qty 5000" json_ok 'all(.[]; .fields.qty != "5000")'

# an entry's stored column altered: the log is not sound, nothing rebuilt
cp -a "$A" "$T/ts"
sqlite3 "$T/ts/ntm.db" "update entries set ts=ts+1 where seq=5"
expect 3 "verify finds an entry's ts column changed" "$T/ts" verify
check "  ... naming the column" out_has "invalid entries:"
expect 3 "verify --rebuild refuses to rebuild from it" "$T/ts" verify --rebuild
check "  ... saying why" err_has "not rebuilt"

# ---------------------------------------------------------------- flips
sqlite3 "$A/ntm.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
SEED=${NTM_FLIP_SEED:-$RANDOM$RANDOM}
echo "# byte-flip drill, seed $SEED (NTM_FLIP_SEED=$SEED replays it)"
python3 "$(dirname "$0")/verify_flips.py" "$NTM" "$A" "$SEED" 16 >"$T/flips" 2>&1
cat "$T/flips"
D=$(sed -n 's/^detected \([0-9]*\) of 16$/\1/p' "$T/flips")
check "byte flips detected: ${D:-?} of 16 (at least 15 required)" test "${D:-0}" -ge 15

finish
