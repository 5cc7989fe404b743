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
. "$(dirname "$0")/attach_lib.sh"

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
sample_jpeg "$T/duong.jpg"
sample_pdf "$T/bienban.pdf"
expect 0 "recorder attaches a photo and a PDF" "$R" --json attach "$ID1" \
    "$T/duong.jpg" "$T/bienban.pdf" --caption "sau khi làm"
HJ=$(jq -r '.attachments[0].hash' "$T/out")
HP=$(jq -r '.attachments[1].hash' "$T/out")
expect 0 "recorder syncs" "$R" sync
expect 0 "admin pulls" "$A" pull
expect 0 "admin fetches the photo" "$A" attachment get "$HJ" --out "$T/got.jpg"
expect 0 "admin fetches the PDF" "$A" attachment get "$HP" --out "$T/got.pdf"
expect 0 "admin edits qty" "$A" edit "$ID1" --set qty=2.0
expect 0 "recorder edits qty at the same time" "$R" edit "$ID1" --set qty=1.5
expect 0 "recorder syncs" "$R" sync
expect 0 "admin syncs" "$A" sync
run "$A" --json conflicts
check "  ... one record in conflict" json_ok "length == 1 and .[0].id == \"$ID1\""
# a device that asks to be enrolled with a join code (the devices page
# lists it; the admin types its fingerprint there)
J=$T/joiner
run "$A" --json admin join-code --role recorder --scope "$HAMLET" --org doan \
    --name "Ấp Thạnh Hòa (máy 2)" --pin "$PIN"
JCODE=$(jq -r .code "$T/out")
expect 0 "a device asks to be enrolled with a join code" "$J" init \
    --no-passphrase --join "$JCODE"
JDEV=$("$NTM" --home "$J" --json whoami | jq -r .author)
JFP=$(echo "$JDEV" | cut -c1-16 | sed 's/\(....\)/\1 /g; s/ $//')
# and one whose name carries markup, with a code of its own
run "$A" --json admin join-code --role recorder --scope "$HAMLET" --pin "$PIN"
K=$T/hostile
expect 0 "a device asks to be enrolled under a name with <script>" "$K" init \
    --no-passphrase --join "$(jq -r .code "$T/out")" \
    --name '<script>alert(2)</script> máy lạ'

# ---------------------------------------------------------------- ui
# start_ui: ntm ui on the admin's home; LOGIN gets the address printed.
UI_PID=
start_ui() {
    rm -f "$T/ui.out" # the last run's "listening" is not this one's
    "$NTM" --home "$A" ui --no-browser >"$T/ui.out" 2>"$T/ui.err" &
    UI_PID=$!
    wait_listening "$T/ui.out" || return 1
    LOGIN=$(grep -o 'http://127.0.0.1:[0-9]*/login?token=[0-9a-f]*' "$T/ui.out")
    UIP=$(echo "$LOGIN" | sed 's|http://127.0.0.1:\([0-9]*\)/.*|\1|')
    BASE=http://127.0.0.1:$UIP
    [ -n "$LOGIN" ] || { sed 's/^/    ui: /' "$T/ui.out" "$T/ui.err"; return 1; }
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
has "  ... progress charts drawn in the page (inline SVG)" '<svg class="bar"' "$T/page"
check "  ... with no style attribute (the CSP allows none)" sh -c "! grep -qi 'style=' '$T/page'"
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
# attachments: listed on the record's page, served from the home's store
code -b "$T/jar" -D "$T/hdr" "$BASE/record?id=$ID1" >/dev/null
has "the record's page shows the photo as a thumbnail" "<img src=\"/attachments/$HJ\"" "$T/page"
has "  ... and links the PDF" "href=\"/attachments/$HP\"" "$T/page"
has "  ... its caption" "sau khi làm" "$T/page"
has "  ... the CSP allows images from the page's own address only" "img-src 'self'" "$T/hdr"
check "the photo is served with the cookie (200)" \
    test "$(code -b "$T/jar" -D "$T/hdr" "$BASE/attachments/$HJ")" = 200
check "  ... the bytes of the home's store" cmp -s "$T/page" "$A/attachments/$HJ"
has "  ... as the stored type" "Content-Type: image/jpeg" "$T/hdr"
has "  ... not to be sniffed" "X-Content-Type-Options: nosniff" "$T/hdr"
check "the PDF is served (200)" test "$(code -b "$T/jar" -D "$T/hdr" "$BASE/attachments/$HP")" = 200
has "  ... as a PDF" "Content-Type: application/pdf" "$T/hdr"
has "  ... to download, not to open in the page's origin" "Content-Disposition: attachment" "$T/hdr"
check "the photo without the cookie: refused (403)" test "$(code "$BASE/attachments/$HJ")" = 403
check "the photo under a wrong Host: refused (421)" \
    test "$(code -b "$T/jar" -H "Host: evil.example:$UIP" "$BASE/attachments/$HJ")" = 421
check "a hash no record names: not found (404)" \
    test "$(code -b "$T/jar" "$BASE/attachments/$(printf '%064d' 7)")" = 404
check "a path that is no hash: not found (404)" \
    test "$(code -b "$T/jar" "$BASE/attachments/..%2Fkey")" = 404
code -b "$T/jar" "$BASE/devices" >/dev/null
has "a join request's name with <script> is listed as text" \
    "&lt;script&gt;alert(2)&lt;/script&gt; máy lạ" "$T/page"
check "  ... never as a script" sh -c "! grep -qi '<script' '$T/page'"
# the new forms keep the rules: cookie, CSRF token, Origin, Host
EJ="nonce=0123456789abcdef&author=$JDEV&fingerprint=$JFP"
N0=$(count_entries "$A")
check "enroll-join without a cookie: refused (403)" \
    test "$(code -d "csrf=$CSRF&$EJ" "$BASE/enroll-join")" = 403
check "enroll-join without the CSRF token: refused (403)" \
    test "$(code -b "$T/jar" -d "$EJ" "$BASE/enroll-join")" = 403
check "enroll-join from another site (Origin): refused (403)" \
    test "$(code -b "$T/jar" -H "Origin: http://evil.example" -d "csrf=$CSRF&$EJ" "$BASE/enroll-join")" = 403
check "enroll-join under a wrong Host: refused (421)" \
    test "$(code -b "$T/jar" -H "Host: evil.example:$UIP" -d "csrf=$CSRF&$EJ" "$BASE/enroll-join")" = 421
check "sync without the CSRF token: refused (403)" \
    test "$(code -b "$T/jar" -X POST "$BASE/sync")" = 403
check "the entry form under a wrong Host: refused (421)" \
    test "$(code -b "$T/jar" -H "Host: evil.example" "$BASE/new?task=doan.rural_roads_km")" = 421
check "  ... the admin signed nothing for them" test "$(count_entries "$A")" -eq "$N0"

# Sync on a worker thread: with the server frozen (SIGSTOP) the pages
# still answer; the sync page follows it and refreshes itself.
wait_sync() { # the sync page until the worker is done
    for _ in $(seq 1 300); do
        code -b "$1" "$BASE/sync" >/dev/null
        grep -q 'id="sync-running"' "$T/page" || return 0
        sleep 0.1
    done
    return 1
}
kill -STOP "$SERVER_PID"
check "sync with the server frozen: started (303)" \
    test "$(code -b "$T/jar" -d "csrf=$CSRF" "$BASE/sync")" = 303
check "  ... the sync page answers while it runs" \
    test "$(code -m 5 -b "$T/jar" "$BASE/sync")" = 200
has "  ... and says it is sending" 'id="sync-running"' "$T/page"
has "  ... refreshing itself (a meta refresh, no script)" \
    '<meta http-equiv="refresh" content="1">' "$T/page"
check "  ... the overview answers meanwhile" \
    test "$(code -m 5 -b "$T/jar" "$BASE/")" = 200
code -b "$T/jar" -D "$T/hdr" -d "csrf=$CSRF" "$BASE/sync" >/dev/null
code -b "$T/jar" "$BASE/sync" >/dev/null
has "  ... a second one is not started" 'running already' "$T/page"
kill -CONT "$SERVER_PID"
check "  ... it ends once the server answers" wait_sync "$T/jar"
has "  ... done, with the entries counted" 'id="sync-done"' "$T/page"
has "  ... sent and received" 'id="sync-received"' "$T/page"
stop_ui

# ---------------------------------------------------------------- browser
check "ntm ui starts again for the browser" start_ui
python3 "$(dirname "$0")/ui_webdriver.py" "$LOGIN" "$ART" "$ID2" "$ID1" "$DEV" \
    "$HAMLET" "$JDEV" "$JFP" >"$T/wd.out" 2>"$T/wd.err"
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
run "$A" --json list --task doan.rural_roads_km
check "ntm list: the record entered in the browser, signed by this device" \
    json_ok "any(.[]; .fields.qty == \"300\" and .fields.uom == \"m\" and .fields.people == 12 and .fields.title == \"Đường ấp Thạnh Hòa, đoạn 2\" and .unit == \"$HAMLET\")"
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
expect 0 "the device that asked with a join code pulls" "$J" pull
expect 0 "  ... whoami" "$J" --json whoami
check "  ... enrolled as the code says, by the browser's entry" \
    json_ok ".enrolled == true and .scope == \"$HAMLET\" and .role == \"recorder\" and .org == \"doan\""
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
# a server that is not there (this root is not the running server's)
NTM_PASSPHRASE=mat-khau-123 "$NTM" --home "$P2" init \
    --server "https://127.0.0.1:$(free_port)" --cacert "$T/cert.pem" >/dev/null 2>&1
NTM_UI_IDLE_MS=1500 "$NTM" --home "$P2" ui --no-browser >"$T/ui2.out" 2>"$T/ui2.err" &
UI2=$!
wait_listening "$T/ui2.out"
L2=$(grep -o 'http://127.0.0.1:[0-9]*/login?token=[0-9a-f]*' "$T/ui2.out")
B2=${L2%/login*}
code -c "$T/jar2" "$L2" >/dev/null
code -b "$T/jar2" "$B2/new?task=doan.rural_roads_km" >/dev/null
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
code -b "$T/jar2" "$B2/sync" >/dev/null
has "  ... the sync page says the passphrase is needed" 'id="sync-locked"' "$T/page"
curl -s -o /dev/null -D "$T/hdr2" -b "$T/jar2" -d "csrf=$C2" "$B2/sync"
has "  ... and a sync asks for it first" "Location: /unlock?next=%2Fsync" "$T/hdr2"
kill "$UI2"; wait "$UI2" 2>/dev/null
run "$P2" --json list
check "  ... one record, written while unlocked" json_ok 'length == 1 and .[0].fields.title == "sau khi mở khóa"'

# ---------------------------------------------------------------- offline
# The server down: the pages keep working and say so in plain words.
stop_server
export NTM_SYNC_ATTEMPTS=1 # no backoff to wait for
check "ntm ui starts with the server down" start_ui
code -c "$T/jar3" "$LOGIN" >/dev/null
check "devices page with the server down: still shown (200)" \
    test "$(code -b "$T/jar3" "$BASE/devices")" = 200
has "  ... says in plain words that the requests cannot be listed" \
    'id="requests-offline"' "$T/page"
has "  ... and still lists the enrolled devices" "$JDEV" "$T/page"
C3=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$T/page" | head -1 | sed 's/.*value="//; s/"//')
check "sync with the server down: started" \
    test "$(code -b "$T/jar3" -d "csrf=$C3" "$BASE/sync")" = 303
check "  ... ends" wait_sync "$T/jar3"
has "  ... in plain words: the server cannot be reached, nothing is lost" \
    'id="sync-offline"' "$T/page"
has "  ... (the words)" "Nothing is lost" "$T/page"
stop_ui
# Vietnamese first: the entry form's refusal beside its field
start_ui_lang() {
    rm -f "$T/ui.out"
    "$NTM" --home "$A" --lang vi ui --no-browser >"$T/ui.out" 2>"$T/ui.err" &
    UI_PID=$!
    for _ in $(seq 1 300); do # the address, said in Vietnamese
        grep -q 'token=' "$T/ui.out" 2>/dev/null && break
        sleep 0.1
    done
    LOGIN=$(grep -o 'http://127.0.0.1:[0-9]*/login?token=[0-9a-f]*' "$T/ui.out")
    BASE=${LOGIN%/login*}
    [ -n "$LOGIN" ]
}
check "ntm ui --lang vi starts" start_ui_lang
code -c "$T/jar4" "$LOGIN" >/dev/null
code -b "$T/jar4" "$BASE/new?task=doan.rural_roads_km" >/dev/null
has "entry form in Vietnamese: the fields' labels" '<label for="f-date">' "$T/page"
C4=$(grep -o 'name="csrf" value="[0-9a-f]*"' "$T/page" | head -1 | sed 's/.*value="//; s/"//')
check "a form without its CSRF token is refused (403)" \
    test "$(code -b "$T/jar4" --data-urlencode task=doan.rural_roads_km \
        --data-urlencode kind=activity "$BASE/new")" = 403
check "entry refused: the form again (422)" \
    test "$(code -b "$T/jar4" --data-urlencode "csrf=$C4" \
        --data-urlencode task=doan.rural_roads_km --data-urlencode kind=activity \
        --data-urlencode unit="$HAMLET" --data-urlencode date=20/06/2019 \
        --data-urlencode qty=1,2,3 --data-urlencode uom=km "$BASE/new")" = 422
has "  ... the refusal beside the quantity, in Vietnamese" \
    "không hợp lệ" "$T/page"
has "  ... in its place" 'id="e-qty"' "$T/page"
has "  ... the date typed kept" 'value="20/06/2019"' "$T/page"
check "  ... no script in the page" sh -c "! grep -qi '<script' '$T/page'"
stop_ui

grep -q . "$T/ui.err" && sed 's/^/    ui stderr: /' "$T/ui.err" | head -5
echo "screenshots: $ART"
ls "$ART"
finish
