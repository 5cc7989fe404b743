#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# search_words.sh - `ntm list <text>` searches by words through the real
# tool: every word in any order, the last as a prefix, case and diacritics
# (d-stroke too) ignored, over titles, notes and unit names (the hamlet
# created in the store, the commune and district of the plan); what must
# not match; what users type that is FTS5 syntax; --limit/--offset paging;
# an edit's new words; and a device not yet enrolled listing its own
# records marked as waiting (table, JSON, Vietnamese).
#
# Env: NTM_BIN (the built ntm), NTM_CONFIG_DIR. Each check prints a line;
# the last line is "N passed, N failed"; exit status 1 on any failure.
set -u

NTM=${NTM_BIN:?NTM_BIN must name the ntm binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-search.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
unset NTM_PASSPHRASE NTM_HOME LANGUAGE LC_ALL LC_MESSAGES
export LANG=C.UTF-8

A=$T/admin
D=$T/device
COMMUNE=72.710.25657 # Xã Thạnh Đức, huyện Gò Dầu
HAMLET=$COMMUNE.3

# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"

if ! command -v jq >/dev/null; then
    echo "jq is needed (apt-get install -y jq)"
    exit 77
fi

record() { # HOME UNIT TITLE [NOTE]
    local home=$1 unit=$2 title=$3 note=${4:-}
    run "$home" --json record activity --task doan.rural_roads_km \
        --unit "$unit" --date 2019-05-17 --qty 1.2 --uom km --people 4 \
        --title "$title" ${note:+--note "$note"}
    jq -r .id "$T/out" 2>/dev/null
}
# ids HOME TEXT [ARGS]: the ids `list --json TEXT` finds, space-separated
ids() {
    local home=$1 text=$2
    shift 2
    run "$home" --json list "$text" "$@"
    jq -r '[.[].id] | join(" ")' "$T/out" 2>/dev/null
}

expect 0 "admin: init --root" "$A" init --root --no-passphrase --name "MTTQ tỉnh"
expect 0 "admin creates the hamlet Ấp Bến Đình" "$A" admin unit "$HAMLET" --name "Ấp Bến Đình"
R1=$(record "$A" "$COMMUNE" "Sửa chữa đường đất ấp Bến Đình")
R2=$(record "$A" "$COMMUNE" "Sửa cầu khỉ" "Gỗ tạp, dài 12 mét")
check "two records written" test ${#R1} -eq 32 -a ${#R2} -eq 32

for q in "sua duong ben dinh" "dinh ben" "ap ben dinh sua chua" "ben d" \
    "SUA CHUA" "Sửa Chữa ĐƯỜNG" '"ben" dinh*' "sua -chua"; do
    check "list '$q' finds the record" test "$(ids "$A" "$q")" = "$R1"
done
check "list 'sua cau' finds only the bridge" test "$(ids "$A" "sua cau")" = "$R2"
check "list 'cau duong' finds nothing (every word must match)" test -z "$(ids "$A" "cau duong")"
check "list 'go tap 12' searches the note" test "$(ids "$A" "go tap 12")" = "$R2"
for q in '"' '*' '-' ':' '()' 'NEAR(' '"*-:()^' 'ben OR cau'; do
    expect 0 "list '$q' is no error" "$A" list "$q"
    check "  ... and matches nothing" err_has "no records match"
done

# unit names: the hamlet's (the store), the commune's and district's (plan)
R3=$(record "$A" "$HAMLET" "Họp dân")
check "list 'hop dan ben dinh' finds the hamlet's record by its name" \
    test "$(ids "$A" "hop dan ben dinh")" = "$R3"
check "list 'thanh duc cau' finds the commune's record by the plan's name" \
    test "$(ids "$A" "thanh duc cau")" = "$R2"
check "list 'go dau hop' finds the hamlet's record by its district" \
    test "$(ids "$A" "go dau hop")" = "$R3"

# paging
expect 0 "list 'sua' --limit 1" "$A" list sua --limit 1
check "  ... shows one record" test "$(grep -c 'Sửa' "$T/out")" -eq 1
check "  ... and says how to see the next" err_has "--offset 1"
check "list 'sua' --limit 1 --offset 1 shows the other" \
    test "$(ids "$A" sua --limit 1 --offset 1)" != "$(ids "$A" sua --limit 1)"
expect 2 "list --limit 0 is a usage error" "$A" list sua --limit 0

# an edit: the new words find it, the old ones no longer do
expect 0 "edit the title" "$A" edit "$R1" --set "title=Nạo vét kênh Tư Hai"
check "list 'kenh tu hai' finds the edited record" test "$(ids "$A" "kenh tu hai")" = "$R1"
check "list 'duong dat' no longer does" test -z "$(ids "$A" "duong dat")"
expect 0 "verify after edits" "$A" verify

# a device not enrolled: its own records are listed, marked waiting
run "$A" key export
ADMIN=$(cat "$T/out")
expect 0 "device: init (not enrolled)" "$D" init --no-passphrase --root-key "$ADMIN" --name "Ấp Bến Đình"
W1=$(record "$D" "$COMMUNE" "Dọn vệ sinh đường làng")
check "the device wrote a record" test ${#W1} -eq 32
expect 0 "device: list" "$D" list
check "  ... shows its waiting record" out_has "Dọn vệ sinh đường làng"
check "  ... marked waiting" out_has "waiting"
check "  ... and says it waits for the enrollment" err_has "wait for this device's enrollment"
expect 0 "device: list --json" "$D" --json list
check "  ... has \"waiting\": true" json_ok ".[0].id == \"$W1\" and .[0].waiting == true"
check "device: list 'don ve sinh lang' finds it" test "$(ids "$D" "don ve sinh lang")" = "$W1"
check "device: list 'cau' does not" test -z "$(ids "$D" "cau")"
expect 0 "device: list --lang vi" "$D" --lang vi list
check "  ... marks it 'chờ ghi danh'" out_has "chờ ghi danh"
check "  ... and says so in Vietnamese" err_has "đang chờ thiết bị này được ghi danh"

finish
