#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ui_browser.sh - `ntm ui` end to end: an admin's home filled through a
# real `ntm serve` over TLS (a recorder's records, one of them in
# conflict, one whose title carries <script>), then the security rules
# checked with curl (no token or cookie, a wrong Host, a POST without the
# CSRF token, a foreign Origin, the title shown inert), then headless
# Chromium driven over WebDriver (ui_webdriver.py) loads the overview,
# searches, approves a record, resolves the conflict, enrolls a device and
# syncs; `ntm show`, `ntm verify` and the enrolled device's own pull
# confirm the signed entries. Screenshots are kept in
# $MESON_BUILD_ROOT/meson-logs/ui-screenshots (or NTM_UI_ARTIFACTS).
#
# Env: NTM_BIN. Exit 77 only when chromium or chromedriver is missing.
set -u
. "$(dirname "$0")/sync_lib.sh"

for tool in chromium chromedriver python3; do
    if ! command -v $tool >/dev/null; then
        echo "$tool is needed (apt-get install -y chromium chromium-driver python3)"
        exit 77
    fi
done
ART=${NTM_UI_ARTIFACTS:-${MESON_BUILD_ROOT:-$T}/meson-logs/ui-screenshots}
mkdir -p "$ART" && rm -f "$ART"/*.png

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R=$T/rec
D=$T/newdev
COMMUNE=72.710.25657
HAMLET=72.710.25657.1

# ---------------------------------------------------------------- setup
expect 0 "admin: init --root" "$A" init --root --no-passphrase --name "MTTQ tỉnh"
run "$A" key export
ADMIN=$(cat "$T/out")
expect 0 "server home" "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
expect 0 "admin points at the server" "$A" init --server "$URL" --cacert "$T/cert.pem"
expect 0 "recorder: init" "$R" init --no-passphrase --server "$URL" --cacert "$T/cert.pem"
run "$R" key export
REC=$(cat "$T/out")
expect 0 "a new device: init" "$D" init --no-passphrase --server "$URL" --cacert "$T/cert.pem"
run "$D" key export
DEV=$(cat "$T/out")
expect 0 "admin enrolls the recorder" "$A" admin enroll "$REC" --role recorder \
    --scope "$COMMUNE" --name "Xã Thạnh Đức" --org doan
expect 0 "admin creates a hamlet" "$A" admin unit "$HAMLET" --name "Ấp Thạnh Hòa"
expect 0 "admin pushes" "$A" push
expect 0 "recorder pulls" "$R" pull
expect 0 "recorder records" "$R" --json record activity --task doan.rural_roads_km \
    --unit "$HAMLET" --date 2019-05-17 --qty 1.2 --uom km --people 40 \
    --title "Bê tông hóa đường ấp Thạnh Hòa"
ID1=$(jq -r .id "$T/out")
expect 0 "recorder records a title carrying <script>" "$R" --json record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-06-02 --qty 0.5 \
    --uom km --title '<script>alert(1)</script> đường liên ấp'
ID2=$(jq -r .id "$T/out")
expect 0 "recorder syncs" "$R" sync
expect 0 "admin pulls" "$A" pull
expect 0 "admin edits qty" "$A" edit "$ID1" --set qty=2.0
expect 0 "recorder edits qty at the same time" "$R" edit "$ID1" --set qty=1.5
expect 0 "recorder syncs" "$R" sync
expect 0 "admin syncs" "$A" sync
run "$A" --json conflicts
check "  ... one record in conflict" json_ok "length == 1 and .[0].id == \"$ID1\""

# ---------------------------------------------------------------- ui
# start_ui: ntm ui on the admin's home; LOGIN gets the address printed.
UI_PID=
start_ui() {
    "$NTM" --home "$A" ui --no-browser >"$T/ui.out" 2>"$T/ui.err" &
    UI_PID=$!
    wait_listening "$T/ui.out" || return 1
    LOGIN=$(grep -o 'http://127.0.0.1:[0-9]*/login?token=[0-9a-f]*' "$T/ui.out")
    UIP=$(echo "$LOGIN" | sed 's|http://127.0.0.1:\([0-9]*\)/.*|\1|')
    BASE=http://127.0.0.1:$UIP
    [ -n "$LOGIN" ]
}
stop_ui() {
    [ -n "$UI_PID" ] && kill "$UI_PID" 2>/dev/null && wait "$UI_PID" 2>/dev/null
    UI_PID=
}
trap 'stop_ui; cleanup' EXIT

check "ntm ui starts and prints an address with a token" start_ui
check "  ... on 127.0.0.1 only" sh -c "! ss -ltn 2>/dev/null | grep -q '0.0.0.0:$UIP\|\*:$UIP\|\[::\]:$UIP'"
code() { curl -s -o "$T/page" -w '%{http_code}' "$@"; }
check "no cookie: the overview is refused (403)" test "$(code "$BASE/")" = 403
check "no cookie: a POST is refused (403)" \
    test "$(code -d "state=approved&id=$ID2" "$BASE/review")" = 403
check "a wrong token is refused" \
    test "$(code "$BASE/login?token=$(printf '%064d' 0)")" = 403
check "a wrong Host is refused (421, DNS rebinding)" \
    test "$(code -H "Host: evil.example:$UIP" "$LOGIN")" = 421
check "the token gives a session cookie and a redirect" \
    test "$(code -c "$T/jar" -D "$T/hdr" "$LOGIN")" = 303
has "  ... HttpOnly, SameSite=Strict" "HttpOnly; SameSite=Strict" "$T/hdr"
has "  ... to the address without the token" "Location: /" "$T/hdr"
check "the token works once only" test "$(code "$LOGIN")" = 403
check "with the cookie: the overview (200)" test "$(code -b "$T/jar" -D "$T/hdr" "$BASE/")" = 200
has "  ... a strict Content-Security-Policy" "script-src 'none'" "$T/hdr"
has "  ... default-src 'self'" "default-src 'self'" "$T/hdr"
check "  ... no external resource in the page" sh -c "! grep -Eqi '(src|href)=\"(https?:)?//' '$T/page'"
check "with the cookie but a wrong Host: refused" \
    test "$(code -b "$T/jar" -H "Host: attacker.test" "$BASE/")" = 421
SID=$(awk '$6 == "ntm_ui" {print $7}' "$T/jar")
check "localhost:PORT is our Host too" \
    test "$(code -b "ntm_ui=$SID" -H "Host: localhost:$UIP" "$BASE/")" = 200
check "a POST without the CSRF token is refused (403)" \
    test "$(code -b "$T/jar" -d "state=approved&id=$ID2" "$BASE/review")" = 403
CSRF=$(code -b "$T/jar" "$BASE/review" >/dev/null; grep -o 'name="csrf" value="[0-9a-f]*"' "$T/page" | head -1 | sed 's/.*value="//; s/"//')
check "  ... the review page carries one" test ${#CSRF} -eq 64
check "a POST with a wrong CSRF token is refused" \
    test "$(code -b "$T/jar" -d "csrf=$(printf '%064d' 1)&state=approved&id=$ID2" "$BASE/review")" = 403
check "a POST with the token from another site (Origin) is refused" \
    test "$(code -b "$T/jar" -H "Origin: http://evil.example" -d "csrf=$CSRF&state=approved&id=$ID2" "$BASE/review")" = 403
run "$A" --json show "$ID2"
check "  ... nothing was reviewed by the refused POSTs" json_ok '(.reviews | length) == 0'
check "the <script> title is shown escaped" test "$(code -b "$T/jar" "$BASE/records")" = 200
has "  ... as text" "&lt;script&gt;alert(1)&lt;/script&gt;" "$T/page"
check "  ... never as a script" sh -c "! grep -qi '<script' '$T/page'"
code -b "$T/jar" "$BASE/record?id=$ID2" >/dev/null
check "  ... on the record's page too" sh -c "! grep -qi '<script' '$T/page'"
stop_ui

# ---------------------------------------------------------------- browser
check "ntm ui starts again for the browser" start_ui
python3 "$(dirname "$0")/ui_webdriver.py" "$LOGIN" "$ART" "$ID2" "$ID1" "$DEV" \
    "$HAMLET" >"$T/wd.out" 2>"$T/wd.err"
wd_rc=$?
while IFS= read -r line; do
    case $line in
    "ok - "*) ok "browser: ${line#ok - }" ;;
    "FAIL - "*) not_ok "browser: ${line#FAIL - }" ;;
    screenshot*) echo "  $line" ;;
    esac
done <"$T/wd.out"
check "the browser run ended well" test "$wd_rc" -eq 0
[ "$wd_rc" -eq 0 ] || sed 's/^/    /' "$T/wd.err" | tail -8
stop_ui

run "$A" --json show "$ID2"
check "ntm show: the record approved by this device" \
    json_ok ".review == \"approved\" and any(.reviews[]; .author == \"$ADMIN\" and .comment == \"Đã kiểm tra tại xã\")"
check "  ... its history holds the signed review" \
    json_ok 'any(.history[]; .op == "review" and .valid == true)'
run "$A" --json show "$ID1"
check "ntm show: the conflict resolved to 1.8 by this device" \
    json_ok '.conflict == false and .fields.qty == "1.8" and ([.history[] | select(.op == "record.update" and .author == "'"$ADMIN"'" and .valid)] | length) == 2'
expect 0 "ntm verify: every entry, chain and signature sound" "$A" verify
expect 0 "admin: nothing left to push" "$A" --json status
check "  ... 0 unpushed (the browser's sync sent them)" json_ok '.unpushed == 0'
expect 0 "the enrolled device pulls" "$D" pull
expect 0 "  ... whoami" "$D" --json whoami
check "  ... enrolled as recorder of the hamlet by the browser's entry" \
    json_ok ".enrolled == true and .scope == \"$HAMLET\" and .role == \"recorder\""
expect 0 "the recorder pulls the review and the resolve" "$R" pull
run "$R" --json show "$ID2"
check "  ... and sees the record approved" json_ok '.review == "approved"'
expect 0 "ntm verify on the recorder" "$R" verify
# ---------------------------------------------------------------- sealed key
# A key sealed with a passphrase: asked once in the page, then forgotten
# when idle (NTM_UI_IDLE_MS shortens the 15 minutes for the test).
P2=$T/sealed
NTM_PASSPHRASE=mat-khau-123 "$NTM" --home "$P2" init --root --name "Tỉnh" >/dev/null 2>&1
check "a sealed home for the unlock test" test -s "$P2/key"
NTM_UI_IDLE_MS=1500 "$NTM" --home "$P2" ui --no-browser >"$T/ui2.out" 2>"$T/ui2.err" &
UI2=$!
wait_listening "$T/ui2.out"
L2=$(grep -o 'http://127.0.0.1:[0-9]*/login?token=[0-9a-f]*' "$T/ui2.out")
B2=${L2%/login*}
code -c "$T/jar2" "$L2" >/dev/null
code -b "$T/jar2" "$B2/new" >/dev/null
C2=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$T/page" | head -1 | sed 's/.*value="//; s/"//')
newrec() {
    curl -s -o /dev/null -D "$T/hdr2" -b "$T/jar2" --data-urlencode "csrf=$C2" \
        --data-urlencode task=doan.rural_roads_km --data-urlencode kind=activity \
        --data-urlencode unit=72.710.25657 --data-urlencode date=2019-05-17 \
        --data-urlencode qty=1.5 --data-urlencode uom=km \
        --data-urlencode "title=$1" "$B2/new"
}
newrec "trước khi mở khóa"
has "locked: a signing form sends to the unlock page" "Location: /unlock?next=%2Fnew" "$T/hdr2"
curl -s -o /dev/null -D "$T/hdr2" -b "$T/jar2" -d "csrf=$C2&next=/new&passphrase=sai" "$B2/unlock"
has "a wrong passphrase: asked again" "Location: /unlock" "$T/hdr2"
curl -s -o /dev/null -D "$T/hdr2" -b "$T/jar2" -d "csrf=$C2&next=//evil.example/&passphrase=mat-khau-123" "$B2/unlock"
has "the right one unlocks; a foreign next= is not followed" "Location: /"$'\r' "$T/hdr2"
newrec "sau khi mở khóa"
has "  ... and the record is signed" "Location: /record?id=" "$T/hdr2"
sleep 2.5
code -b "$T/jar2" "$B2/" >/dev/null
has "after the idle time the key is forgotten" 'href="/unlock"' "$T/page"
kill "$UI2"; wait "$UI2" 2>/dev/null
run "$P2" --json list
check "  ... one record, written while unlocked" json_ok 'length == 1 and .[0].fields.title == "sau khi mở khóa"'

grep -q . "$T/ui.err" && sed 's/^/    ui stderr: /' "$T/ui.err" | head -5
echo "screenshots: $ART"
ls "$ART"
finish
