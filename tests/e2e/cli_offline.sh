#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# cli_offline.sh - the ntm tool end to end, offline: separate homes on one
# machine (a root admin, a recorder, a coordinator) exchange entries only
# through bundle files. Covers init, enrollment, hamlet creation, records
# with Vietnamese text, bundle export/import with minisign, verify, list,
# search, show, bad input, JSON output, edit/conflict/resolve/review, and a
# tampered database.
#
# Env: NTM_BIN (the built ntm), NTM_CONFIG_DIR. Each check prints a line;
# the last line is "N passed, N failed"; exit status 1 on any failure.
set -u

NTM=${NTM_BIN:?NTM_BIN must name the ntm binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-cli-offline.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
unset NTM_PASSPHRASE NTM_HOME
export LANG=C.UTF-8

A=$T/admin      # root admin of the province
R=$T/recorder   # a commune's recorder (Thạnh Đức, Gò Dầu)
C=$T/coord      # the district's coordinator (Gò Dầu)
COMMUNE=72.710.25657
HAMLET=72.710.25657.1

# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"

if ! command -v jq >/dev/null; then
    echo "jq is needed (apt-get install -y jq)"
    exit 77
fi

# ---------------------------------------------------------------- homes
expect 0 "admin: init --root --no-passphrase" "$A" init --root --no-passphrase --name "MTTQ tỉnh"
check "admin: init prints the author id" out_has "author id"
check "admin: init warns about the missing passphrase" err_has "without a passphrase"
check "admin: home is private (0700)" test "$(stat -c %a "$A")" = 700
check "admin: key file is 0600" test "$(stat -c %a "$A/key")" = 600
expect 1 "init refuses to overwrite a home" "$A" init --root --no-passphrase
check "  ... and says to use --force" err_has "force"
run "$A" key export
ADMIN=$(cat "$T/out")
check "key export prints a 64-hex author id" test ${#ADMIN} -eq 64

expect 0 "recorder: init" "$R" init --no-passphrase --root-key "$ADMIN" --name "Xã Thạnh Đức"
run "$R" key export
REC=$(cat "$T/out")
expect 0 "coordinator: init" "$C" init --no-passphrase --root-key "$ADMIN" --name "Huyện Gò Dầu"
run "$C" key export
COORD=$(cat "$T/out")

expect 0 "whoami --json before enrollment" "$R" --json whoami
check "  ... parses and says not enrolled" json_ok ".author == \"$REC\" and .enrolled == false and .role == null"

expect 1 "a command in a home not initialised fails" "$T/nowhere" list
check "  ... and says to run 'ntm init'" err_has "ntm init"

# ---------------------------------------------------------------- admin
expect 0 "admin enrolls the recorder (scope Thạnh Đức)" "$A" admin enroll "$REC" --role recorder --scope "$COMMUNE" --name "Xã Thạnh Đức" --org mttq
expect 0 "admin enrolls the coordinator (scope Gò Dầu)" "$A" admin enroll "$COORD" --role coordinator --scope 72.710 --name "Huyện Gò Dầu"
expect 2 "enroll with an unknown role is a usage error" "$A" admin enroll "$REC" --role boss --scope "$COMMUNE"
expect 2 "enroll with a bad key is a usage error" "$A" admin enroll 1234 --role recorder --scope "$COMMUNE"
expect 0 "admin creates a hamlet" "$A" admin unit "$HAMLET" --name "Ấp Thạnh Hòa"
expect 2 "a hamlet under an unknown commune is refused" "$A" admin unit 72.710.99999.1 --name "Ấp Không Có"
expect 0 "admin: bundle export" "$A" bundle export --out "$T/admin.ntm"
expect 0 "recorder imports the admin's bundle" "$R" bundle import "$T/admin.ntm"
expect 0 "coordinator imports the admin's bundle" "$C" bundle import "$T/admin.ntm"
expect 0 "recorder: whoami --json" "$R" --json whoami
check "  ... enrolled as recorder of Thạnh Đức" json_ok ".enrolled == true and .role == \"recorder\" and .scope == \"$COMMUNE\""

# ---------------------------------------------------------------- records
expect 0 "record an activity in the hamlet" "$R" --json record activity \
    --task doan.rural_roads_km --unit "$HAMLET" --date 2019-05-17 \
    --qty 1.2 --uom km --people 40 --title "Bê tông hóa đường ấp Thạnh Hòa" \
    --note "Đoàn thanh niên xã làm ngày chủ nhật"
check "  ... prints {id, entry}" json_ok '(.id | length) == 32 and (.entry | length) == 64'
ID1=$(jq -r .id "$T/out")
expect 0 "record another activity in the commune" "$R" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-06-02 \
    --qty 0.5 --uom km --title "Sửa đường liên ấp" --note "Hội Nông dân"
ID2=$(cat "$T/out")
check "  ... prints the id" test ${#ID2} -eq 32
expect 0 "record a measure" "$R" record measure --task doan.strong_commune_unions_pct \
    --unit "$COMMUNE" --period 2019 --num 3 --den 4
expect 2 "a date that does not exist is refused" "$R" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-02-30
expect 2 "a malformed date is refused" "$R" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 17/05/2019
expect 2 "a quantity with 4 decimals is refused" "$R" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-05-17 --qty 1.2345 --uom km
expect 2 "a quantity without its unit is refused" "$R" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-05-17 --qty 3
expect 2 "a measure with den 0 is refused" "$R" record measure \
    --task doan.rural_roads_km --unit "$COMMUNE" --period 2019 --num 1 --den 0
expect 2 "a bad period is refused" "$R" record measure \
    --task doan.rural_roads_km --unit "$COMMUNE" --period 2019-13 --num 1 --den 2
run "$R" record activity --task doan.rural_road_km --unit "$COMMUNE" --date 2019-05-17
check "an unknown task is refused (exit 1 or 2)" test "$rc" -eq 2 -o "$rc" -eq 1
check "  ... with a suggestion" err_has "doan.rural_roads_km"
run "$R" record activity --task doan.rural_roads_km --unit 72.710.25658.77 --date 2019-05-17
check "an unknown unit is refused (exit 1 or 2)" test "$rc" -eq 2 -o "$rc" -eq 1
expect 2 "an unknown option is a usage error" "$R" record activity --colour red
check "  ... with a hint to run --help" err_has "ntm record --help"

# ---------------------------------------------------------------- bundles
expect 0 "recorder: bundle export" "$R" bundle export --out "$T/rec.ntm"
check "  ... writes the .minisig beside it" test -s "$T/rec.ntm.minisig"
check "  ... first line is the bundle header" \
    jq -e "select(.ntm_bundle == 1 and .by == \"$REC\")" <(head -1 "$T/rec.ntm") >/dev/null
run "$R" key export --minisign --out "$T/rec.pub"
if command -v minisign >/dev/null; then
    check "minisign -V accepts the bundle" \
        minisign -Vq -p <("$NTM" --home "$R" key export --minisign) -m "$T/rec.ntm"
fi
cp "$T/rec.ntm" "$T/bad.ntm"
cp "$T/rec.ntm.minisig" "$T/bad.ntm.minisig"
sed -i '2s/"sig":"./"sig":"A/' "$T/bad.ntm" 2>/dev/null
printf '\n' >>"$T/bad.ntm"
expect 1 "import refuses a bundle whose signature fails" "$A" bundle import "$T/bad.ntm"
check "  ... saying so" err_has "signature"
expect 0 "admin imports the recorder's bundle" "$A" --json bundle import "$T/rec.ntm"
# The recorder's bundle relays the admin's 3 entries too (SPEC.md 7).
check "  ... 3 new, 3 already held, none rejected" json_ok '.accepted == 3 and .duplicates == 3 and (.rejected | length) == 0 and .signature == "verified"'
expect 0 "importing it again changes nothing" "$A" --json bundle import "$T/rec.ntm"
check "  ... only duplicates" json_ok '.accepted == 0 and .duplicates == 6'
expect 0 "coordinator imports the recorder's bundle" "$C" bundle import "$T/rec.ntm"

expect 0 "verify passes on the recorder" "$R" verify
expect 0 "verify passes on the admin" "$A" verify
expect 0 "verify --json on the admin" "$A" --json verify
check "  ... parses, no invalid entries" json_ok '(.invalid | length) == 0 and (.forks | length) == 0 and .entries == 6'

# The facts a report keeps in the home are audited by verify: one
# altered on disk (another record's bytes) fails it and is named, even
# though the log and the records are sound; --rebuild drops them and the
# next report makes them again.
expect 0 "a report keeps its facts in the admin's home" "$A" report
cp "$T/out" "$T/report-before"
expect 0 "  ... verify compares them" "$A" verify
check "  ... and finds none differing" out_has "report facts checked: 0 differ"
sqlite3 "$A/ntm.db" "UPDATE rdigest SET d = (SELECT d FROM rdigest ORDER BY c_ts DESC, id DESC LIMIT 1) WHERE id = (SELECT id FROM rdigest ORDER BY c_ts, id LIMIT 1)"
FIRST=$(sqlite3 "$A/ntm.db" "SELECT lower(hex(id)) FROM rdigest ORDER BY c_ts, id LIMIT 1")
expect 3 "a kept fact altered on disk fails verify" "$A" verify
check "  ... naming its record" out_has "$FIRST"
check "  ... and saying what to do" err_has "verify --rebuild"
expect 0 "verify --rebuild drops the facts" "$A" verify --rebuild
expect 0 "  ... the next report" "$A" report
check "  ... says what it said before" cmp -s "$T/out" "$T/report-before"
expect 0 "  ... and verify passes again" "$A" verify

# ---------------------------------------------------------------- reading
expect 0 "admin: list" "$A" list
check "  ... shows the first record" out_has "${ID1:0:12}"
check "  ... shows the Vietnamese title" out_has "Bê tông hóa đường ấp Thạnh Hòa"
expect 0 "admin: list --json" "$A" --json list
check "  ... an array of 3 records with the SPEC members" \
    json_ok 'length == 3 and all(.[]; has("id") and has("kind") and has("unit") and has("org") and has("fields") and has("deleted") and has("conflict") and has("review") and has("heads"))'
expect 0 "search \"thanh duc\" (no diacritics)" "$A" --json list "thanh duc"
check "  ... finds the records of Thạnh Đức and its hamlet" json_ok 'length == 3'
expect 0 "search \"BÊ TÔNG\"" "$A" --json list "BÊ TÔNG"
check "  ... finds only the first record" json_ok "length == 1 and .[0].id == \"$ID1\""
expect 0 "search \"be tong\"" "$A" --json list "be tong"
check "  ... finds it too" json_ok 'length == 1'
expect 0 "list --unit the hamlet" "$A" --json list --unit "$HAMLET"
check "  ... only the hamlet's record" json_ok "length == 1"
expect 0 "admin: show" "$A" show "${ID1:0:8}"
check "  ... shows the history with the author" out_has "${REC:0:12}"
check "  ... and the record.create entry" out_has "record.create"
expect 0 "admin: show --json" "$A" --json show "$ID1"
check "  ... has a history with author, seq, ts, op, valid" \
    json_ok '(.history | length) == 1 and (.history[0] | has("entry") and has("author") and has("seq") and has("ts") and has("op") and has("valid"))'
expect 1 "show an unknown record fails" "$A" show 0123456789abcdef

# ---------------------------------------------------------------- merge
expect 0 "recorder edits qty" "$R" edit "$ID1" --set qty=1.5
expect 0 "coordinator edits qty at the same time" "$C" edit "$ID1" --set qty=2.0
expect 0 "recorder edits the note (another field)" "$R" edit "$ID2" --set "note=Hội Nông dân và Đoàn"
expect 0 "coordinator edits the title at the same time" "$C" edit "$ID2" --set "title=Sửa đường liên ấp 3"
expect 2 "edit with a bad date is refused" "$R" edit "$ID1" --set date=2019-02-29
expect 2 "edit with a malformed --set is refused" "$R" edit "$ID1" --set qty
run "$R" bundle export --out "$T/rec2.ntm"
expect 0 "coordinator imports the recorder's edits" "$C" bundle import "$T/rec2.ntm"
expect 0 "coordinator: conflicts --json" "$C" --json conflicts
check "  ... the same-field edits conflict, with both candidates" \
    json_ok "length == 1 and .[0].id == \"$ID1\" and (.[0].fields.qty | length) == 2"
check "  ... the different-field edits merged without conflict" \
    json_ok "all(.[]; .id != \"$ID2\")"
expect 0 "coordinator: list --conflicts" "$C" --json list --conflicts
check "  ... lists the conflicting record" json_ok "length == 1 and .[0].conflict == true"
expect 0 "coordinator: show the merged record" "$C" --json show "$ID2"
check "  ... has both the note and the title" \
    json_ok '.fields.note == "Hội Nông dân và Đoàn" and .fields.title == "Sửa đường liên ấp 3"'
expect 1 "review of a record in conflict is refused" "$C" review "$ID1" --approve
expect 2 "resolve with --take and --set is a usage error" "$C" resolve "$ID1" --take abcdef12 --set qty=1
expect 0 "coordinator resolves the conflict" "$C" resolve "$ID1" --set qty=1.8
expect 0 "coordinator: conflicts" "$C" --json conflicts
check "  ... none left" json_ok 'length == 0'
expect 0 "coordinator approves the record" "$C" review "$ID1" --approve --comment "đã kiểm tra"
expect 0 "coordinator: list --state approved" "$C" --json list --state approved
check "  ... holds the record" json_ok "length == 1 and .[0].id == \"$ID1\""

run "$R" --json whoami
SEQ_BEFORE=$(jq .seq "$T/out")
expect 1 "a recorder's review is refused" "$R" review "$ID2" --approve
check "  ... saying only coordinators and admins may review" err_has "coordinator"
run "$R" --json whoami
check "  ... and nothing was signed" test "$(jq .seq "$T/out")" = "$SEQ_BEFORE"

run "$C" bundle export --out "$T/coord.ntm"
expect 0 "recorder imports the coordinator's bundle" "$R" bundle import "$T/coord.ntm"
expect 0 "recorder: show the resolved record" "$R" --json show "$ID1"
check "  ... qty 1.8, approved, no conflict" \
    json_ok '.fields.qty == "1.8" and .review == "approved" and .conflict == false'
expect 0 "recorder edits after the review" "$R" edit "$ID1" --set qty=1.9
expect 0 "recorder: show" "$R" --json show "$ID1"
check "  ... the record is back to submitted" json_ok '.review == "submitted"'
expect 0 "recorder deletes the measure" "$R" delete "$(jq -r '.[] | select(.kind == "measure") | .id' < <("$NTM" --home "$R" --json list))"
expect 0 "recorder: list" "$R" --json list
check "  ... leaves the deleted record out" json_ok 'length == 2'
expect 0 "recorder: list --deleted" "$R" --json list --deleted
check "  ... shows it" json_ok 'length == 3 and any(.[]; .deleted == true)'
expect 0 "verify passes on the coordinator" "$C" verify
expect 0 "verify passes on the recorder" "$R" verify

# ---------------------------------------------------------------- sealed key
export NTM_PASSPHRASE="mật khẩu ấp"
expect 0 "init with a passphrase (NTM_PASSPHRASE)" "$T/sealed" init --root-key "$ADMIN"
expect 0 "a record before enrollment is kept" "$T/sealed" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-07-01 --qty 1 --uom km
check "  ... with a warning naming the key" err_has "not enrolled"
NTM_PASSPHRASE=wrong run "$T/sealed" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-07-01 --qty 1 --uom km
check "a wrong passphrase fails with exit 1" test "$rc" -eq 1
check "  ... saying so" err_has "passphrase"
unset NTM_PASSPHRASE

# ---------------------------------------------------------------- usage
expect 2 "an unknown command is a usage error" "$A" recrod
check "  ... with a suggestion" err_has "did you mean 'ntm record'"
for c in init whoami key admin record edit delete list show conflicts resolve review verify bundle; do
    run "$T/nowhere" "$c" --help
    if [ "$rc" -eq 0 ] && out_has SYNOPSIS && out_has "EXIT STATUS" && out_has EXAMPLE; then
        ok "ntm $c --help is a manual page"
    else
        not_ok "ntm $c --help is a manual page (exit $rc)"
    fi
done
expect 0 "ntm --version" "$A" --version

# ---------------------------------------------------------------- tamper
cp -a "$A" "$T/tampered"
# Flip one byte of one stored entry: the quantity 1.2 becomes 1.3.
sqlite3 "$T/tampered/ntm.db" "UPDATE entries SET bytes = CAST(replace(CAST(bytes AS TEXT), '\"qty\":\"1.2\"', '\"qty\":\"1.3\"') AS BLOB) WHERE op = 'record.create' AND CAST(bytes AS TEXT) LIKE '%\"qty\":\"1.2\"%';" 2>"$T/err"
check "one byte of one entry in the copy was changed with sqlite3" \
    test "$(sqlite3 "$T/tampered/ntm.db" "SELECT count(*) FROM entries WHERE CAST(bytes AS TEXT) LIKE '%\"qty\":\"1.3\"%';")" = 1
expect 3 "verify finds the changed entry (exit 3)" "$T/tampered" verify
check "  ... and names the entry" out_has "invalid entries:"
expect 3 "verify --json exits 3 too" "$T/tampered" --json verify
check "  ... listing exactly one invalid entry" json_ok '(.invalid | length) == 1'
expect 0 "the untouched admin home still verifies" "$A" verify
# The derived state changed with sqlite3 (issue 9): found, then repaired.
cp -a "$R" "$T/qty"
sqlite3 "$T/qty/ntm.db" "update records set fields=json_set(fields,'\$.qty','5000')"
expect 3 "verify finds a qty changed in the records table (exit 3)" "$T/qty" verify
check "  ... naming the column" out_has "fields.qty"
expect 0 "verify --rebuild repairs it" "$T/qty" verify --rebuild
run "$T/qty" --json show "$ID1"
check "  ... and show gives the signed qty again" json_ok '.fields.qty != "5000"'
expect 0 "verify passes after the rebuild" "$T/qty" verify

# ---------------------------------------------------------------- record-time warnings
# A date or period outside the plan's period (2016-01-01 to 2020-12-31), or
# after today by the device's clock, is warned about, never refused.
W=$T/warn
cp -a "$R" "$W"
no_warning() { ! grep -qi "warning" "$T/err"; }
expect 0 "a date inside the plan's period is recorded" "$W" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-05-17 --qty 1 --uom km
check "  ... without a warning" no_warning
expect 0 "a date after the plan's period is recorded" "$W" --json record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2021-03-01 --qty 1 --uom km
check "  ... with a warning naming the plan's period" \
    err_has "the date 2021-03-01 lies outside the plan's period, 2016-01-01 to 2020-12-31"
check "  ... and the record is made" json_ok '.id | length == 32'
WID=$(jq -r .id "$T/out")
expect 0 "a measure of a period before the plan is recorded" "$W" record measure \
    --task doan.strong_commune_unions_pct --unit "$COMMUNE" --period 2015 --num 1 --den 2
check "  ... with a warning" err_has "the period 2015 lies outside the plan's period"
expect 0 "a date in the future is recorded" "$W" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2199-01-01 --qty 1 --uom km
check "  ... with a warning naming today by the device's clock" \
    err_has "the date 2199-01-01 is in the future: today is $(date +%Y-%m-%d)"
expect 0 "edit moves a record's date before the plan" "$W" edit "$WID" --set date=2015-12-31
check "  ... with a warning" err_has "the date 2015-12-31 lies outside the plan's period"
expect 0 "edit of the title only" "$W" edit "$WID" --set title="Đường ấp"
check "  ... without a warning" no_warning
expect 0 "the warning in Vietnamese" "$W" --lang vi record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2021-03-01 --qty 1 --uom km
check "  ... 'nằm ngoài thời kỳ của kế hoạch'" \
    err_has "ngày 2021-03-01 nằm ngoài thời kỳ của kế hoạch, từ 2016-01-01 đến 2020-12-31"
expect 0 "--quiet keeps it quiet" "$W" --quiet record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2021-03-01 --qty 1 --uom km
check "  ... no warning" no_warning

# A measure of a target judged against a named list (the pilot communes)
# at a commune the list does not hold: kept, with a warning that the report
# will not count it; none at a listed commune.
cp -r "$NTM_CONFIG_DIR" "$T/cfg-list"
printf 'code,name\n72.710.25660,Xã Cẩm Giang\n' >"$T/cfg-list/pilot-communes.csv"
NTM_CONFIG_DIR="$T/cfg-list" expect 0 "a measure outside the pilot list is recorded" \
    "$W" record measure --task doan.pilot_communes_strong --unit "$COMMUNE" \
    --period 2019 --num 1 --den 1
check "  ... with a warning naming the list" \
    err_has "unit $COMMUNE is not on the list pilot-communes.csv"
printf 'code,name\n%s,Xã Thạnh Đức\n' "$COMMUNE" >"$T/cfg-list/pilot-communes.csv"
NTM_CONFIG_DIR="$T/cfg-list" expect 0 "a measure of a listed commune is recorded" \
    "$W" record measure --task doan.pilot_communes_strong --unit "$COMMUNE" \
    --period 2019 --num 1 --den 1
check "  ... without a warning" no_warning

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
