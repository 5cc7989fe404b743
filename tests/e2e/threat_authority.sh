#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# threat_authority.sh - attacks on who may act and on what each device is
# sent (SPEC.md sections 1-6; RELIABILITY.md rows 6, 8, 10), against a real
# `ntm serve` over TLS on 127.0.0.1:
#   1. an admin re-enrolls or revokes a device it does not strictly cover
#      (a district admin demoting the provincial admin; two admins of equal
#      scope; a commune admin revoking the district admin who enrolled it),
#      and the outcome must not depend on arrival order;
#   2. a record hijacked by a back-dated record.create reusing another
#      author's record id, a hamlet renamed by a back-dated unit.create;
#   3. a recorder floods the log with forbidden device.enroll entries:
#      later pushes still work and the junk is not sent to other scopes;
#   4. edits and reviews of records the server does not hold yet must not be
#      served to every scope;
#   5. a device enrolled for one organization writes another's records
#      (docs/authority.md section 2a): taken but flagged forbidden, never in
#      the lists or the report; the Front acts across organizations.
#
# Honest actors are real ntm homes (the root admin, the provincial admin,
# recorders); attackers are Ed25519 keys made with openssl that sign their
# entries and requests byte by byte from SPEC alone (threat_lib.sh).
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/threat_lib.sh"

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/root     # root admin (ntm home)
S=$T/server   # the server's home
P=$T/prov     # provincial admin (ntm home)
R=$T/rec      # recorder enrolled by P (ntm home)
R1=$T/rec1    # recorder of commune X (ntm home)
SDB=$S/ntm.db

PROV=72
DIST=72.705           # Huyện Tân Biên
X=72.705.25486        # Thị trấn Tân Biên
Y=72.705.25489        # Xã Tân Lập, X's neighbour
Z=72.705.25492        # Xã Thạnh Bắc
W=72.706.25519        # Xã Tân Hà, another district
HAMLET=$X.1
TASK=doan.rural_roads_km

# ---------------------------------------------------------------- helpers
# Crafted chains: seq and prev per openssl key name.
declare -A KEY SEQ PREV
# mk NAME: a new openssl key, its author id in KEY[NAME].
mk() {
    KEY[$1]=$(new_key "$1")
    SEQ[$1]=1
    PREV[$1]=null
}
# craft NAME OP BODY [TS]: NAME's next entry, signed; its push line is
# appended to $T/NAME.lines and its bytes kept in $T/NAME.N; LAST_SEQ and
# LAST_ID name it.
craft() {
    local n=$1 s=${SEQ[$1]} f
    f=$T/$1.${SEQ[$1]}
    make_entry "$f" "${KEY[$n]}" "$s" "${PREV[$n]}" "${4:-$(now_ms)}" "$2" "$3"
    entry_line "$f" "$(sign_file "$T/$n.pem" "$f")" >>"$T/$n.lines"
    LAST_SEQ=$s
    LAST_ID=$(hash_file "$f")
    PREV[$n]=$LAST_ID
    SEQ[$n]=$((s + 1))
}
# last_line NAME: NAME's last crafted push line alone in $T/body.
last_line() { tail -n 1 "$T/$1.lines" >"$T/body"; }

CODE=000
# post NAME BODYFILE: POST /v1/entries signed by NAME; answer in $T/out.
post() {
    local ts h
    ts=$(now_ms)
    h=$(auth_header "$T/$1.pem" "${KEY[$1]}" POST /v1/entries "$ts" "$2")
    CODE=$(curl -sk --max-time 120 -o "$T/out" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/x-ndjson' -H "Authorization: $h" \
        --data-binary @"$2" "$URL/v1/entries" 2>/dev/null)
}
# get NAME PATH_AND_QUERY: a signed GET; body in $T/out, headers in $T/hdr.
get() {
    local ts h
    ts=$(now_ms)
    h=$(auth_header "$T/$1.pem" "${KEY[$1]}" GET "$2" "$ts" /dev/null)
    CODE=$(curl -sk --max-time 60 -o "$T/out" -D "$T/hdr" -w '%{http_code}' \
        -H "Authorization: $h" "$URL$2" 2>/dev/null)
}
# pull_all NAME OUT: every entry the server sends NAME, one entry (the
# decoded bytes B, as JSON) per line of OUT.
pull_all() {
    local after=0 more=true n=0
    : >"$2"
    while [ "$more" = true ] && [ $n -lt 50 ]; do
        get "$1" "/v1/entries?after=$after&limit=500"
        [ "$CODE" = 200 ] || break
        jq -c '.entry | fromjson' "$T/out" >>"$2"
        after=$(tr -d '\r' <"$T/hdr" | sed -n 's/^[Nn]tm-[Nn]ext-[Aa]fter: *//p')
        more=$(tr -d '\r' <"$T/hdr" | sed -n 's/^[Nn]tm-[Mm]ore: *//p')
        n=$((n + 1))
    done
    test "$CODE" = 200
}
# count_in FILE JQ_FILTER: lines of FILE (entries) matching the filter.
count_in() { jq -c "select($2)" "$1" | wc -l; }
# flagged_as AUTHOR SEQ CODE: the push answer in $T/out flags that line.
flagged_as() {
    json_ok ".flagged | map(select(.author == \"$1\" and .seq == $2 and .code == \"$3\")) | length == 1"
}
# clean_push: the push answer in $T/out took every line with effect.
clean_push() { json_ok '(.rejected | length) == 0 and (.flagged | length) == 0 and .accepted >= 1'; }
not_flagged() {
    json_ok "(.rejected | length) == 0 and (.flagged | map(select(.author == \"$1\" and .seq == $2)) | length) == 0"
}
# bound_id AUTHOR SEQ: the record id SPEC 3 binds to a record.create.
bound_id() { printf '%s:%s' "$1" "$2" | b2sum -l 256 | cut -c1-32; }
rec_body() { # ID UNIT QTY TITLE
    jq -cn --arg id "$1" --arg u "$2" --arg q "$3" --arg t "$4" --arg task "$TASK" \
        '{id:$id, kind:"activity", unit:$u, org:"doan",
          fields:{task:$task, date:"2019-05-10", qty:$q, uom:"km", title:$t}}'
}
enroll_body() { # KEY ROLE SCOPE NAME
    jq -cn --arg k "$1" --arg r "$2" --arg s "$3" --arg n "$4" \
        '{key:$k, role:$r, scope:$s, name:$n, org:"doan"}'
}
revoke_body() { # KEY AFTER_SEQ REASON
    jq -cn --arg k "$1" --argjson a "$2" --arg r "$3" '{key:$k, after_seq:$a, reason:$r}'
}
# ntm_key HOME: a home's author id.
ntm_key() { "$NTM" --home "$1" key export 2>/dev/null; }
# flag_of HOME ENTRY_ID: the code `ntm verify` flags the entry with, or "".
flag_of() {
    "$NTM" --home "$1" --json verify 2>/dev/null |
        jq -r --arg e "$2" '[.flagged[] | select(.entry == $e) | .code][0] // ""'
}
# holds HOME ENTRY_ID: HOME's log holds the entry.
holds() { test "$(sqlite3 -cmd '.timeout 3000' "$1/ntm.db" "SELECT count(*) FROM entries WHERE id='$2'")" = 1; }
# rec_field HOME ID JQ: a member of record ID in HOME's `ntm --json list`.
rec_field() {
    "$NTM" --home "$1" --json list 2>/dev/null |
        jq -r --arg id "$2" ".[] | select(.id == \$id) | $3"
}

# ---------------------------------------------------------------- setup
run "$A" init --root --no-passphrase --name root --server "$URL" --cacert "$T/cert.pem"
ROOT=$(ntm_key "$A")
run "$S" init --no-passphrase --root-key "$ROOT" --name server
check "server starts over TLS" start_server "$S"
for h in "$P" "$R" "$R1"; do
    run "$h" init --no-passphrase --server "$URL" --cacert "$T/cert.pem" --name "$(basename "$h")"
done
PKEY=$(ntm_key "$P")
RKEY=$(ntm_key "$R")
R1KEY=$(ntm_key "$R1")
mk d   # admin of the district DIST (the attacker of section 1)
mk p2  # a second admin of the province
mk c   # admin of commune Z, enrolled by d
mk n   # a recorder d enrolls after the revocations
mk r2  # recorder of Y (the hijacker of section 2)
mk k   # coordinator of DIST
mk j   # recorder of X (the flooder of section 3)
mk o   # recorder of W, another district (the eavesdropper)
mk l   # recorder of X (writes ahead of a record's creation in section 4)
mk r3  # recorder of X whose record is created late
enr() { "$NTM" --home "$A" admin enroll "$1" --role "$2" --scope "$3" --org doan --name "$4" >/dev/null 2>"$T/err" || echo "enroll $4 failed: $(cat "$T/err")"; }
enr "$PKEY" admin "$PROV" prov
enr "${KEY[d]}" admin "$DIST" district
enr "${KEY[p2]}" admin "$PROV" prov2
enr "$R1KEY" recorder "$X" rec1
enr "${KEY[r2]}" recorder "$Y" rec2
enr "${KEY[k]}" coordinator "$DIST" coord
enr "${KEY[j]}" recorder "$X" junk
enr "${KEY[o]}" recorder "$W" other
enr "${KEY[l]}" recorder "$X" early
enr "${KEY[r3]}" recorder "$X" late
expect 0 "root pushes 10 enrollments" "$A" --json push
check "  ... 10 accepted with effect" json_ok '.accepted == 10 and (.flagged | length) == 0'

# ============================================================ 1. authority
echo "# 1. enroll and revoke need authority over the device's current enrollment"
run "$P" pull
expect 0 "provincial admin P enrolls recorder R in $X" "$P" admin enroll "$RKEY" \
    --role recorder --scope "$X" --org doan --name rec
expect 0 "P records an activity in $W (another district)" "$P" --json record activity \
    --task "$TASK" --unit "$W" --date 2019-04-01 --qty 3 --uom km --title "Đường tỉnh"
PREC=$(jq -r .id "$T/out")
expect 0 "P pushes" "$P" --json push
check "  ... 2 accepted with effect" json_ok '.accepted == 2 and (.flagged | length) == 0'
run "$R" pull
expect 0 "R records and pushes" "$R" record activity --task doan.canals_km --unit "$X" \
    --date 2019-04-02 --qty 1 --uom km --title "Kênh 1"
expect 0 "  ... push" "$R" --json push
check "  ... accepted with effect" clean_push

# D (admin of DIST) re-enrolls P, the provincial admin, as a recorder of one
# of D's communes: the new scope is inside D's, but P's current enrollment
# (the whole province) is not.
craft d device.enroll "$(enroll_body "$PKEY" recorder "$X" demoted)"
D_DEMOTE=$LAST_ID
last_line d
post d "$T/body"
check "D's re-enrollment of P is taken in the log (200, got $CODE)" test "$CODE" = 200
check "D's re-enrollment of P (admin of $PROV) as recorder of $X: flagged forbidden" \
    flagged_as "${KEY[d]}" 1 forbidden
expect 0 "R records again after D's attack" "$R" record activity --task doan.canals_km \
    --unit "$X" --date 2019-04-03 --qty 2 --uom km --title "Kênh 2"
run "$R" --json push
check "R (enrolled by P) is still enrolled: its push is accepted with effect (exit $rc)" \
    sh -c "test $rc -eq 0 && jq -e '(.rejected | length) == 0 and (.flagged | length) == 0' '$T/out' >/dev/null"
run "$P" pull
run "$P" --json whoami
check "P is still admin of $PROV on its own replica (whoami: $(jq -c '[.role, .scope]' "$T/out" 2>/dev/null))" \
    json_ok ".role == \"admin\" and .scope == \"$PROV\""
run "$A" pull
run "$A" --json list --unit "$W"
check "root still sees P's record in $W" json_ok "map(select(.id == \"$PREC\")) | length == 1"
check "  ... D's entry is flagged forbidden on the root's replica too" \
    test "$(flag_of "$A" "$D_DEMOTE")" = forbidden

# D revokes P: P is not in D's scope.
craft d device.revoke "$(revoke_body "$PKEY" 0 "thu hồi")"
last_line d
post d "$T/body"
check "D's revocation of P (admin of $PROV): flagged forbidden" flagged_as "${KEY[d]}" 2 forbidden
# P2 has the same scope as P: equal authority, not enough to change P.
craft p2 device.revoke "$(revoke_body "$PKEY" 0 "ngang quyền")"
P2_REVOKE=$LAST_ID
last_line p2
post p2 "$T/body"
check "P2 (admin of $PROV) revokes P (admin of $PROV): flagged forbidden (equal authority)" \
    flagged_as "${KEY[p2]}" 1 forbidden
run "$P" --json pull
check "  ... P still authenticates and pulls (exit $rc)" test "$rc" -eq 0
expect 0 "R records again" "$R" record activity --task doan.canals_km --unit "$X" \
    --date 2019-04-04 --qty 1 --uom km --title "Kênh 3"
run "$R" --json push
check "  ... and R's push is still accepted with effect (exit $rc)" \
    sh -c "test $rc -eq 0 && jq -e '(.rejected | length) == 0 and (.flagged | length) == 0' '$T/out' >/dev/null"
# The root revokes P after its first two entries: allowed.
expect 0 "root revokes P after seq 2" "$A" admin revoke "$PKEY" --after-seq 2 --reason "chuyển công tác"
run "$A" --json push
check "  ... root's revocation of P is accepted with effect" \
    sh -c "test $rc -eq 0 && jq -e '.accepted == 1 and (.flagged | length) == 0' '$T/out' >/dev/null"
run "$P" pull
check "  ... P can no longer pull (revoked)" sh -c "test $rc -ne 0 && grep -qi revoked '$T/err'"
expect 0 "R records after P's revocation (P enrolled R at seq 1)" "$R" record activity \
    --task doan.canals_km --unit "$X" --date 2019-04-05 --qty 1 --uom km --title "Kênh 4"
run "$R" --json push
check "  ... R's push is still accepted with effect (exit $rc)" \
    sh -c "test $rc -eq 0 && jq -e '(.rejected | length) == 0 and (.flagged | length) == 0' '$T/out' >/dev/null"

# Mutual revocation: D (DIST) strictly covers C (commune Z), enrolled by D.
craft d device.enroll "$(enroll_body "${KEY[c]}" admin "$Z" commune-admin)"
last_line d
post d "$T/body"
check "D enrolls C as admin of $Z: accepted with effect" not_flagged "${KEY[d]}" 3
craft c device.revoke "$(revoke_body "${KEY[d]}" 0 "đảo chính")"
C_REVOKE=$LAST_ID
last_line c
post c "$T/body"
check "C (admin of $Z) revokes D (admin of $DIST): flagged forbidden" flagged_as "${KEY[c]}" 1 forbidden
craft d device.revoke "$(revoke_body "${KEY[c]}" 0 "vượt quyền")"
D_REVOKE=$LAST_ID
last_line d
post d "$T/body"
check "D revokes C: accepted with effect" not_flagged "${KEY[d]}" 4
craft d device.enroll "$(enroll_body "${KEY[n]}" recorder "$Y" new-rec)"
last_line d
post d "$T/body"
check "D still acts afterwards: its enrollment of N is taken with effect" not_flagged "${KEY[d]}" 5
get c /v1/heads
check "C's requests are refused 403 revoked (got $CODE)" \
    sh -c "test '$CODE' = 403 && jq -e '.error.code == \"revoked\"' '$T/out' >/dev/null"

# Same entries, other orders: two fresh replicas import them from bundles,
# one in the server's order, one by author in reverse order of first
# appearance (entries whose enroller is not held yet are rejected
# unknown_author and taken on the next import).
sqlite3 -cmd '.timeout 3000' "$SDB" \
    "SELECT author, hex(bytes), sig FROM entries ORDER BY gseq" >"$T/all.psv"
{
    while IFS='|' read -r _ hex sig; do
        printf '%s' "$hex" | xxd -r -p >"$T/b.tmp"
        entry_line "$T/b.tmp" "$sig"
    done <"$T/all.psv"
} >"$T/all.lines"
NALL=$(wc -l <"$T/all.lines")
bundle_head() { printf '{"ntm_bundle":1,"by":"%s","created_ms":%s,"count":%s}\n' "$ROOT" "$(now_ms)" "$NALL"; }
{ bundle_head; cat "$T/all.lines"; } >"$T/order1.bundle"
{
    bundle_head
    cut -d'|' -f1 "$T/all.psv" | awk '!seen[$0]++' | tac | while read -r au; do
        jq -c --arg a "$au" 'select((.entry | fromjson).author == $a)' "$T/all.lines"
    done
} >"$T/order2.bundle"
H1=$T/replica1
H2=$T/replica2
for h in "$H1" "$H2"; do run "$h" init --no-passphrase --root-key "$ROOT" --name replica; done
for _ in 1 2 3 4 5 6; do
    run "$H1" bundle import "$T/order1.bundle"
    [ "$rc" -eq 0 ] && break
done
check "replica 1 imports everything in the server's order (exit $rc)" test "$rc" -eq 0
for _ in 1 2 3 4 5 6; do
    run "$H2" bundle import "$T/order2.bundle"
    [ "$rc" -eq 0 ] && break
done
check "replica 2 imports everything in reverse author order (exit $rc)" test "$rc" -eq 0
check "  ... both hold the server's $NALL entries" \
    test "$(count_entries "$H1")/$(count_entries "$H2")" = "$NALL/$NALL"
for h in "$H1" "$H2"; do
    # C's revocation is forbidden, and C is revoked by D: either flag.
    f=$(flag_of "$h" "$C_REVOKE")
    check "  ... $(basename "$h"): C's revocation of D is without effect (flag: $f)" \
        sh -c "test '$f' = forbidden || test '$f' = revoked"
    f=$(holds "$h" "$D_REVOKE" && echo "held:$(flag_of "$h" "$D_REVOKE")")
    check "  ... $(basename "$h"): D's revocation of C is held and has effect ($f)" test "$f" = "held:"
    check "  ... $(basename "$h"): P2's revocation of P is forbidden" test "$(flag_of "$h" "$P2_REVOKE")" = forbidden
done
run "$A" pull
state_of() {
    {
        "$NTM" --home "$1" --json verify | jq -cS '[.flagged[] | {entry, code}] | sort_by(.entry)'
        "$NTM" --home "$1" --json list | jq -cS 'map({id, unit, fields, deleted, conflict}) | sort_by(.id)'
    } 2>/dev/null
}
state_of "$A" >"$T/stA"
state_of "$H1" >"$T/st1"
state_of "$H2" >"$T/st2"
check "the root, replica 1 and replica 2 compute the same flags and records" \
    sh -c "cmp -s '$T/stA' '$T/st1' && cmp -s '$T/st1' '$T/st2' && test -s '$T/stA'"

# ============================================================ 2. hijack
echo "# 2. record ids are bound to their creator; unit names are not won by back-dating"
run "$R1" pull
expect 0 "R1 records 5 km of road in $X" "$R1" --json record activity --task "$TASK" \
    --unit "$X" --date 2019-05-10 --qty 5 --uom km --title "Đường ấp Hòa Bình"
RID=$(jq -r .id "$T/out")
check "  ... its id is bound to R1's author:seq (SPEC 3; id $RID)" \
    test "$RID" = "$(bound_id "$R1KEY" 1)"
expect 0 "R1 pushes" "$R1" --json push
run "$A" pull
report_rows() {
    "$NTM" --home "$A" --json report --org doan --year 2019 2>/dev/null |
        jq -cS --arg t "$TASK" '[.rows[] | select(.task == $t)]'
}
report_rows >"$T/rep0"
check "  (the root's report has rows for $TASK)" test "$(jq length "$T/rep0")" -gt 0

craft r2 record.create "$(rec_body "$RID" "$Y" 999 "Chiếm")" 1
last_line r2
post r2 "$T/body"
check "R2's back-dated create reusing R1's record id is taken in the log (200, got $CODE)" \
    sh -c "test '$CODE' = 200 && jq -e '.accepted == 1' '$T/out' >/dev/null"
check "  ... flagged bad_body (the id is not bound to R2's author:seq)" \
    flagged_as "${KEY[r2]}" 1 bad_body
run "$A" pull
check "the record keeps unit $X (got $(rec_field "$A" "$RID" .unit))" \
    test "$(rec_field "$A" "$RID" .unit)" = "$X"
check "  ... and R1's qty 5 (got $(rec_field "$A" "$RID" .fields.qty))" \
    test "$(rec_field "$A" "$RID" .fields.qty)" = 5
report_rows >"$T/rep1"
check "  ... the root's report for $TASK is unchanged" \
    sh -c "test -s '$T/rep1' && cmp -s '$T/rep0' '$T/rep1'"
expect 0 "R1 corrects its record to 6 km" "$R1" edit "$RID" --set qty=6
run "$R1" --json push
check "  ... R1's edit is accepted with effect" \
    sh -c "test $rc -eq 0 && jq -e '(.rejected | length) == 0 and (.flagged | length) == 0' '$T/out' >/dev/null"
run "$A" pull
check "  ... the root sees qty 6 in $X" \
    test "$(rec_field "$A" "$RID" '"\(.unit) \(.fields.qty)"')" = "$X 6"

# An honest client written from SPEC: the id bound to its own author:seq.
OWN=$(bound_id "${KEY[r2]}" 2)
craft r2 record.create "$(rec_body "$OWN" "$Y" 2 "Đường Tân Lập")"
last_line r2
post r2 "$T/body"
check "R2's create with the id bound to its own author:seq 2 is taken with effect" \
    not_flagged "${KEY[r2]}" 2
run "$A" pull
check "  ... the root lists it in $Y with qty 2" \
    test "$(rec_field "$A" "$OWN" '"\(.unit) \(.fields.qty)"')" = "$Y 2"

# A hamlet created by the root, renamed by a back-dated unit.create.
expect 0 "root creates hamlet $HAMLET 'Ấp Hòa Bình'" "$A" admin unit "$HAMLET" --name "Ấp Hòa Bình" --level hamlet
expect 0 "  ... and pushes" "$A" push
craft k unit.create "$(jq -cn --arg c "$HAMLET" '{code:$c, name:"Ấp Chiếm Đoạt", level:"hamlet"}')" 1
last_line k
post k "$T/body"
check "the coordinator's back-dated unit.create of $HAMLET is taken in the log" \
    sh -c "test '$CODE' = 200 && jq -e '.accepted == 1' '$T/out' >/dev/null"
run "$A" pull
"$NTM" --home "$A" --json units --under "$HAMLET" >"$T/units.json" 2>/dev/null
hamlet_ok() {
    jq -e --arg c "$HAMLET" '
        [.[] | select(.code == $c)] | length == 1 and
        (.[0] | .name == "Ấp Hòa Bình" and .conflict == true and
                ([.candidates[].name] | sort == ["Ấp Chiếm Đoạt", "Ấp Hòa Bình"]))' \
        "$T/units.json" >/dev/null
}
check "the hamlet's name is not silently the back-dated one: a conflict listed with both names (got $(jq -c --arg c "$HAMLET" '[.[] | select(.code == $c) | .name]' "$T/units.json"))" hamlet_ok

expect 0 "the root settles it (its unit.create names both versions as base)" \
    "$A" admin unit "$HAMLET" --name "Ấp Hòa Bình" --level hamlet
"$NTM" --home "$A" --json units --under "$HAMLET" >"$T/units.json" 2>/dev/null
check "  ... no conflict left, the root's name" jq -e --arg c "$HAMLET" \
    '[.[] | select(.code == $c)] | length == 1 and .[0].name == "Ấp Hòa Bình" and .[0].conflict == false' \
    "$T/units.json"

# ============================================================ 3. flood
echo "# 3. a flood of forbidden device entries"
: >"$T/j.lines"
for i in $(seq 1 300); do
    craft j device.enroll "$(enroll_body "$(rand_id)$(rand_id)" admin "$PROV" "junk$i")"
done
get j /v1/info
MAXB=$(jq -r '.max_batch // 300' "$T/out" 2>/dev/null)
case "$MAXB" in '' | *[!0-9]* | 0) MAXB=100 ;; esac
split -l "$MAXB" -d "$T/j.lines" "$T/jpart."
acc=0
flg=0
for f in "$T"/jpart.*; do
    post j "$f"
    acc=$((acc + $(jq -r '.accepted // 0' "$T/out")))
    flg=$((flg + $(jq -r '[.flagged[]? | select(.code == "forbidden")] | length' "$T/out")))
done
check "a recorder's 300 device.enroll entries are all taken, all flagged forbidden ($acc, $flg)" \
    test "$acc/$flg" = 300/300
expect 0 "R1 records afterwards" "$R1" record activity --task "$TASK" --unit "$X" \
    --date 2019-06-01 --qty 1 --uom km --title "Sau lũ"
run "$R1" --json push
check "  ... and its push is accepted with effect (exit $rc)" \
    sh -c "test $rc -eq 0 && jq -e '.accepted == 1 and (.flagged | length) == 0' '$T/out' >/dev/null"
check "the recorder of $W pulls everything it is sent" pull_all o "$T/o.pull"
NJ=$(count_in "$T/o.pull" ".author == \"${KEY[j]}\" and (.op | startswith(\"device.\"))")
check "  ... none of the junk device.enroll entries ($NJ received)" \
    sh -c "test -s '$T/o.pull' && test '$NJ' -eq 0"
check "  ... but the root's enrollment of itself" \
    test "$(count_in "$T/o.pull" ".author == \"$ROOT\" and .op == \"device.enroll\" and .body.key == \"${KEY[o]}\"")" -eq 1
check "the recorder of $Y (same district) pulls" pull_all r2 "$T/r2.pull"
NJ=$(count_in "$T/r2.pull" ".author == \"${KEY[j]}\" and (.op | startswith(\"device.\"))")
check "  ... none of the junk device.enroll entries ($NJ received)" \
    sh -c "test -s '$T/r2.pull' && test '$NJ' -eq 0"

# ============================================================ 4. leaks
echo "# 4. entries of records the server does not hold yet"
R3ID=$(bound_id "${KEY[r3]}" 1)
craft r3 record.create "$(rec_body "$R3ID" "$X" 4 "Kế hoạch mật")" # kept back
craft l record.update "$(jq -cn --arg id "$R3ID" --arg b "$(hash_file "$T/r3.1")" \
    '{id:$id, base:[$b], set:{title:"bí mật: đường mới"}}')"
L_UPD=$LAST_SEQ
craft l record.update "$(jq -cn --arg id "$(rand_id)" --arg b "$(rand_id)$(rand_id)" \
    '{id:$id, base:[$b], set:{note:"không có bản ghi"}}')"
L_NOWHERE=$LAST_SEQ
post l "$T/l.lines"
check "L pushes an edit of R3's unpushed record and of a record that exists nowhere" \
    sh -c "test '$CODE' = 200 && jq -e '.accepted == 2' '$T/out' >/dev/null"
craft k review "$(jq -cn --arg id "$R3ID" --arg r "$(rand_id)$(rand_id)" \
    '{id:$id, rev:$r, state:"rejected", comment:"nhận xét nội bộ"}')"
K_REV=$LAST_SEQ
last_line k
post k "$T/body"
check "the coordinator of $DIST pushes a review of R3's unpushed record" \
    sh -c "test '$CODE' = 200 && jq -e '.accepted == 1' '$T/out' >/dev/null"
leaks() { # FILE: L's and K's entries about records not held, found in FILE
    count_in "$1" "(.author == \"${KEY[l]}\" and (.seq == $L_UPD or .seq == $L_NOWHERE)) or (.author == \"${KEY[k]}\" and .seq == $K_REV)"
}
check "the recorder of $W pulls" pull_all o "$T/o2.pull"
check "  ... none of those 3 entries ($(leaks "$T/o2.pull") received)" \
    sh -c "test -s '$T/o2.pull' && test '$(leaks "$T/o2.pull")' -eq 0"
check "  ... nor the content of R1's record in $X (sanity)" \
    test -s "$T/o2.pull" -a "$(count_in "$T/o2.pull" ".op == \"record.create\" and .body.unit == \"$X\"")" -eq 0
check "a recorder of $X (L's own scope) pulls" pull_all j "$T/j.pull"
check "  ... and does get L's 2 edits" \
    test "$(count_in "$T/j.pull" ".author == \"${KEY[l]}\" and .op == \"record.update\"")" -eq 2
sed -n 1p "$T/r3.lines" >"$T/body"
post r3 "$T/body"
check "R3 pushes its record's creation at last" \
    sh -c "test '$CODE' = 200 && jq -e '.accepted == 1' '$T/out' >/dev/null"
check "the recorder of $W pulls everything again" pull_all o "$T/o3.pull"
check "  ... still none of those 3 entries ($(leaks "$T/o3.pull") received)" \
    sh -c "test -s '$T/o3.pull' && test '$(leaks "$T/o3.pull")' -eq 0"
run "$A" pull
check "the root sees R3's record with L's edit applied" \
    test "$(rec_field "$A" "$R3ID" .fields.title)" = "bí mật: đường mới"

# ============================================================ 5. organizations
echo "# 5. a device enrolled for one organization writes only that organization's records"
mk fu  # recorder of X for the Farmers' Union (hnd)
mk yu  # recorder of X for the Youth Union (doan)
mk fr  # recorder of X for the Front (mttq)
run "$A" admin enroll "${KEY[fu]}" --role recorder --scope "$X" --org hnd --name farmers
run "$A" admin enroll "${KEY[yu]}" --role recorder --scope "$X" --org doan --name youth
run "$A" admin enroll "${KEY[fr]}" --role recorder --scope "$X" --org mttq --name front
expect 0 "root pushes 3 enrollments (hnd, doan, mttq recorders of $X)" "$A" --json push
check "  ... accepted with effect" json_ok '.accepted >= 3 and (.flagged | length) == 0 and (.rejected | length) == 0'
org_body() { # ID ORG TASK QTY UOM TITLE
    jq -cn --arg id "$1" --arg o "$2" --arg task "$3" --arg q "$4" --arg m "$5" \
        --arg t "$6" --arg u "$X" \
        '{id:$id, kind:"activity", unit:$u, org:$o,
          fields:{task:$task, date:"2019-07-01", qty:$q, uom:$m, title:$t}}'
}
run "$A" pull
report_rows >"$T/rep2"
# The Farmers' Union's own record: taken with effect.
FID=$(bound_id "${KEY[fu]}" 1)
craft fu record.create "$(org_body "$FID" hnd hnd.land_donation 300 m2 "Hiến đất ấp Hòa Bình")"
FCREATE=$LAST_ID
last_line fu
post fu "$T/body"
check "the hnd recorder's hnd record is taken with effect" not_flagged "${KEY[fu]}" 1
# The same device writes 999 km of the Youth Union's roads.
FBAD=$(bound_id "${KEY[fu]}" 2)
craft fu record.create "$(org_body "$FBAD" doan "$TASK" 999 km "Đường của đoàn")"
FBAD_ENTRY=$LAST_ID
last_line fu
post fu "$T/body"
check "the hnd recorder's doan record is taken in the log (200, got $CODE)" \
    sh -c "test '$CODE' = 200 && jq -e '.accepted == 1' '$T/out' >/dev/null"
check "  ... flagged forbidden (SPEC 2 step 5, SPEC 6 push answer)" \
    flagged_as "${KEY[fu]}" 2 forbidden
# A Youth Union device edits, deletes and reviews the Farmers' record.
craft yu record.update "$(jq -cn --arg id "$FID" --arg b "$FCREATE" \
    '{id:$id, base:[$b], set:{qty:"1", title:"sửa của đoàn"}}')"
craft yu record.delete "$(jq -cn --arg id "$FID" --arg b "$FCREATE" '{id:$id, base:[$b]}')"
post yu "$T/yu.lines"
check "the doan recorder's edit of the hnd record is flagged forbidden" \
    flagged_as "${KEY[yu]}" 1 forbidden
check "  ... and its delete too" flagged_as "${KEY[yu]}" 2 forbidden
craft k review "$(jq -cn --arg id "$FID" --arg r "$FCREATE" '{id:$id, rev:$r, state:"rejected"}')"
last_line k
post k "$T/body"
check "the doan coordinator's review of the hnd record is flagged forbidden" \
    flagged_as "${KEY[k]}" "$LAST_SEQ" forbidden
# The Front follows every organization.
craft fr record.update "$(jq -cn --arg id "$FID" --arg b "$FCREATE" \
    '{id:$id, base:[$b], set:{note:"Mặt trận đã kiểm tra"}}')"
last_line fr
post fr "$T/body"
check "the mttq recorder's edit of the hnd record is taken with effect" not_flagged "${KEY[fr]}" 1
run "$A" pull
check "the root lists the hnd record unchanged by the doan device, with the Front's note" \
    test "$(rec_field "$A" "$FID" '"\(.org) \(.fields.qty) \(.fields.title) \(.deleted) \(.review) \(.fields.note)"')" = \
    "hnd 300 Hiến đất ấp Hòa Bình false submitted Mặt trận đã kiểm tra"
check "  ... and never the hnd device's doan record" test -z "$(rec_field "$A" "$FBAD" .id)"
check "  ... flagged forbidden on the root's replica (verify)" test "$(flag_of "$A" "$FBAD_ENTRY")" = forbidden
report_rows >"$T/rep3"
check "  ... the root's doan report for $TASK is unchanged by the 999 km" \
    sh -c "test -s '$T/rep3' && cmp -s '$T/rep2' '$T/rep3'"
# Every attack above (the section-2 hijack create too) leaves the root's
# replica sound: verify finds nothing to repair, its unit index included.
expect 0 "  ... and verify on the root's replica passes (exit 0)" "$A" verify
run "$A" --json verify
check "  ... its state, heads, effects and unit index equal to a rebuild" \
    json_ok '(.invalid | length) == 0 and (.derived | length) == 0'
# The tool refuses before signing, in English and Vietnamese.
run "$R1" --json status
U0=$(jq -r '.unpushed // -1' "$T/out" 2>/dev/null)
expect 1 "R1 (doan) records a Farmers' Union task: refused" "$R1" --lang en record activity \
    --task hnd.land_donation --unit "$X" --date 2019-07-02 --qty 10 --uom m2
check "  ... saying the organization is outside its own" err_has "organization hnd is outside"
expect 1 "  ... and in Vietnamese" "$R1" --lang vi record activity \
    --task hnd.land_donation --unit "$X" --date 2019-07-02 --qty 10 --uom m2
check "  ... 'tổ chức hnd nằm ngoài'" err_has "tổ chức hnd nằm ngoài"
run "$R1" --json status
check "  ... nothing was signed (unpushed $U0 -> $(jq -r '.unpushed' "$T/out" 2>/dev/null))" \
    test "$(jq -r '.unpushed' "$T/out" 2>/dev/null)" = "$U0"

# ---------------------------------------------------------------- end
check "server log has no crash or internal error" \
    sh -c "! grep -Eq ' 500 |internal|assert|Sanitizer' '$T/server.log'"
stop_server TERM
check "server stops cleanly on SIGTERM" test "${SERVER_RC:-1}" -eq 0
check "server DB integrity_check ok" test "$(sqlite3 "$SDB" 'PRAGMA integrity_check')" = ok
finish_threat
