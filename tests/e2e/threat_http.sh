#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# threat_http.sh - RELIABILITY.md T11 and T09 at the HTTP level, with curl
# against a real `ntm serve` over TLS on 127.0.0.1: oversized bodies (10
# MiB, chunked with no length, a 1 GB Content-Length claim), 70 KB of
# headers, JSON nested 10^5 deep, invalid UTF-8, NUL and lone surrogates,
# duplicate keys, entries relayed under another key's Authorization (exact
# bytes stored) and forged ones (bad_signature), a request too old or too
# far ahead (401 clock_skew with server_time_ms), a revoked and an unknown
# key (403). After each case: the SPEC status and error code came quickly,
# /healthz answers and the server still holds every earlier entry.
#
# Requests and entries are signed here with openssl (threat_lib.sh), so
# the bytes on the wire are exactly the ones the test means.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/threat_lib.sh"

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R1=$T/rec1
SDB=$S/ntm.db
COMMUNE=72.710.25657
OTHER=72.705

# ---------------------------------------------------------------- setup
run "$A" init --root --no-passphrase --name admin --server "$URL" --cacert "$T/cert.pem"
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
run "$R1" init --no-passphrase --server "$URL" --cacert "$T/cert.pem" --name rec1
run "$R1" key export
REC1=$(cat "$T/out")
K1=$(new_key k1) # recorder, signs by openssl
K2=$(new_key k2) # recorder, relays others' entries
K3=$(new_key k3) # recorder, revoked below
K4=$(new_key k4) # never enrolled
for k in "$REC1" "$K1" "$K2" "$K3"; do
    "$NTM" --home "$A" admin enroll "$k" --role recorder --scope "$COMMUNE" \
        --name "r-${k:0:6}" --org doan >/dev/null 2>&1
done
expect 0 "admin pushes 4 enrollments" "$A" --json push
check "  ... 4 accepted" json_ok '.accepted == 4'
for i in 1 2; do
    "$NTM" --home "$R1" record activity --task doan.rural_roads_km \
        --unit "$COMMUNE" --date 2019-05-1$i --title "Đường ấp $i" >/dev/null 2>&1
done
expect 0 "recorder 1 pushes 2 records" "$R1" --json push
HELD=$(db_count "$SDB")
check "server holds 6 entries" test "$HELD" = 6

# ---------------------------------------------------------------- helpers
CODE=000
TIME=99
# post KEYNAME AUTHOR BODYFILE [curl options]: POST /v1/entries with a
# correct Authorization by KEYNAME (TS overrides the time). Sets CODE and
# TIME; the answer is in $T/out.
post() {
    local pem=$T/$1.pem author=$2 body=$3 ts h
    shift 3
    ts=${TS:-$(now_ms)}
    h=$(auth_header "$pem" "$author" POST /v1/entries "$ts" "$body")
    curl -sk --max-time 20 -o "$T/out" -w '%{http_code} %{time_total}' \
        -X POST -H 'Content-Type: application/x-ndjson' -H "Authorization: $h" \
        --data-binary @"$body" "$@" "$URL/v1/entries" >"$T/code" 2>/dev/null
    read -r CODE TIME <"$T/code"
}
# get KEYNAME AUTHOR PATH_AND_QUERY: a signed GET.
get() {
    local ts h
    ts=${TS:-$(now_ms)}
    h=$(auth_header "$T/$1.pem" "$2" GET "$3" "$ts" /dev/null)
    curl -sk --max-time 20 -o "$T/out" -w '%{http_code} %{time_total}' \
        -H "Authorization: $h" "$URL$3" >"$T/code" 2>/dev/null
    read -r CODE TIME <"$T/code"
}
# still_fine DESC: the server answers /healthz and holds exactly $HELD.
still_fine() {
    check "  ... $1: server healthy" healthy "$URL"
    local n
    n=$(db_count "$SDB")
    check "  ... $1: still $HELD entries (found $n)" test "$n" = "$HELD"
}
status_is() { test "$CODE" = "$1"; }
err_code() { json_ok ".error.code == \"$1\" and (.error.message | length) > 0"; }
quick() { lt "$TIME" "${1:-2}"; }
rejected_as() { json_ok ".accepted == 0 and (.rejected | length) == 1 and .rejected[0].code == \"$1\""; }

# K1's chain, written here: next seq and prev.
K1_SEQ=1
K1_PREV=null
# k1_entry OUT [TITLE]: K1's next record.create entry in OUT (not sent).
k1_entry() {
    make_entry "$1" "$K1" "$K1_SEQ" "$K1_PREV" "$(now_ms)" record.create \
        "$(jq -cn --arg id "$(record_id "$K1" "$K1_SEQ")" --arg u "$COMMUNE" --arg t "${2:-Hoạt động}" \
            '{id:$id, kind:"activity", unit:$u, org:"doan",
              fields:{task:"doan.rural_roads_km", date:"2019-06-01", title:$t}}')"
}
k1_advance() {
    K1_PREV=$(hash_file "$1")
    K1_SEQ=$((K1_SEQ + 1))
    HELD=$((HELD + 1))
}

# ---------------------------------------------------------------- baseline
k1_entry "$T/e1"
entry_line "$T/e1" "$(sign_file "$T/k1.pem" "$T/e1")" >"$T/body"
post k1 "$K1" "$T/body"
check "an entry signed here by openssl is accepted (200)" status_is 200
check "  ... accepted 1, nothing rejected or flagged" \
    json_ok '.accepted == 1 and (.rejected | length) == 0 and (.flagged | length) == 0'
k1_advance "$T/e1"
still_fine "baseline"

# ---------------------------------------------------------------- sizes
SPID=$SERVER_PID
RSS0=$(rss_kb "$SPID")
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T/big"
post k1 "$K1" "$T/big"
check "10 MiB body with Content-Length: 413 (got $CODE)" status_is 413
check "  ... too_large" err_code too_large
check "  ... in under 2 s (${TIME}s)" quick 2
RSS1=$(rss_kb "$SPID")
[ -n "${NTM_SANITIZED:-}" ] || check "  ... server RSS grew < 5 MiB (${RSS0} -> ${RSS1} KiB)" \
    test $((RSS1 - RSS0)) -lt 5120
still_fine "10 MiB"

head -c $((9 * 1024 * 1024)) /dev/zero | tr '\0' 'b' >"$T/big9"
post k1 "$K1" "$T/big9" -H 'Transfer-Encoding: chunked'
check "9 MiB chunked body (no length, above the cap): 413 (got $CODE)" status_is 413
check "  ... too_large" err_code too_large
check "  ... in under 2 s (${TIME}s)" quick 2
RSS2=$(rss_kb "$SPID")
[ -n "${NTM_SANITIZED:-}" ] || check "  ... server RSS grew < 5 MiB (${RSS0} -> ${RSS2} KiB)" \
    test $((RSS2 - RSS0)) -lt 5120
still_fine "chunked"

k1_entry "$T/e2" "chunked"
entry_line "$T/e2" "$(sign_file "$T/k1.pem" "$T/e2")" >"$T/body"
post k1 "$K1" "$T/body" -H 'Transfer-Encoding: chunked'
check "a small valid chunked push is taken (200, got $CODE)" status_is 200
check "  ... accepted 1" json_ok '.accepted == 1'
k1_advance "$T/e2"
still_fine "small chunked"

curl -sk --max-time 10 -o "$T/out" -w '%{http_code} %{time_total}' -X POST \
    -H 'Content-Type: application/x-ndjson' -H 'Content-Length: 1000000000' \
    --data-binary 'x' "$URL/v1/entries" >"$T/code" 2>/dev/null
read -r CODE TIME <"$T/code"
check "a 'Content-Length: 1000000000' claim: 413 (got $CODE)" status_is 413
check "  ... too_large" err_code too_large
check "  ... at once, without waiting for the body (${TIME}s)" quick 1
still_fine "1 GB claim"

PAD=$(head -c 70000 /dev/zero | tr '\0' 'h')
curl -sk --max-time 10 -o "$T/out" -w '%{http_code} %{time_total}' \
    -H "X-Pad: $PAD" "$URL/v1/info" >"$T/code" 2>/dev/null
read -r CODE TIME <"$T/code"
check "70 KB of headers: 431/413/400 (got $CODE)" \
    sh -c "test '$CODE' = 431 || test '$CODE' = 413 || test '$CODE' = 400"
check "  ... in under 1 s (${TIME}s)" quick 1
still_fine "70 KB headers"

# Who may make the server hold a body? The Authorization header comes
# before the body: a request without one (or from an unknown key) can be
# refused at once. Here a 7 MiB body trickles at 256 KB/s: an early 401
# ends it in well under 3 s; a server that reads it first does not answer.
head -c $((7 * 1024 * 1024)) /dev/zero | tr '\0' 'c' >"$T/seven"
curl -sk --max-time 3 --limit-rate 256K -o "$T/out" -w '%{http_code} %{time_total}' -X POST \
    -H 'Content-Type: application/x-ndjson' --data-binary @"$T/seven" \
    "$URL/v1/entries" >"$T/code" 2>/dev/null
read -r CODE TIME <"$T/code"
check "a POST with no Authorization is refused before its body is read (got $CODE in ${TIME}s)" \
    status_is 401
still_fine "unauthenticated body"

# A gzip bomb: 10 KB on the wire, 20 MiB once inflated (the cap applies to
# both, ntm_sync.h max_body).
head -c $((20 * 1024 * 1024)) /dev/zero | gzip -9 >"$T/bomb.gz"
post k1 "$K1" "$T/bomb.gz" -H 'Content-Encoding: gzip'
check "a gzip body inflating to 20 MiB ($(wc -c <"$T/bomb.gz") bytes sent): 413 (got $CODE)" status_is 413
check "  ... too_large" err_code too_large
check "  ... in under 2 s (${TIME}s)" quick 2
RSS3=$(rss_kb "$SPID")
# Inflating up to the cap costs up to max_body (8 MiB) per server thread;
# that memory is kept for reuse. Bounded, and no leak: more bombs, no growth.
for _ in $(seq 1 12); do post k1 "$K1" "$T/bomb.gz" -H 'Content-Encoding: gzip'; done
RSS4=$(rss_kb "$SPID")
for _ in $(seq 1 6); do post k1 "$K1" "$T/bomb.gz" -H 'Content-Encoding: gzip'; done
RSS5=$(rss_kb "$SPID")
NTASK=$(find "/proc/$SPID/task" -mindepth 1 -maxdepth 1 | wc -l)
echo "# server RSS: ${RSS0} KiB before the size cases, ${RSS3} after a bomb, ${RSS4} after 13, ${RSS5} after 19 ($NTASK threads)"
check "  ... 18 more bombs: still 413" status_is 413
# Memory bounds mean nothing under AddressSanitizer (its quarantine keeps
# freed memory): checked in the plain build only.
if [ -z "${NTM_SANITIZED:-}" ]; then
    check "  ... RSS bounded by the threads' body caps (${RSS0} -> ${RSS4} KiB)" \
        test $((RSS4 - RSS0)) -lt $((NTASK * 9 * 1024))
    check "  ... and flat over the last 6 (${RSS4} -> ${RSS5} KiB)" \
        test $((RSS5 - RSS4)) -lt 2048
fi
still_fine "gzip bomb"
head -c 300 "$T/bomb.gz" >"$T/cut.gz"
post k1 "$K1" "$T/cut.gz" -H 'Content-Encoding: gzip'
check "a truncated gzip body: 400 bad_request (got $CODE)" \
    sh -c "test '$CODE' = 400 && jq -e '.error.code == \"bad_request\"' '$T/out' >/dev/null"
still_fine "truncated gzip"

# ---------------------------------------------------------------- depth
{
    head -c 100000 /dev/zero | tr '\0' '['
    head -c 100000 /dev/zero | tr '\0' ']'
    echo
} >"$T/deep"
post k1 "$K1" "$T/deep"
check "a push line nested 10^5 deep: 200 with the line rejected (got $CODE)" status_is 200
check "  ... bad_entry" rejected_as bad_entry
check "  ... in under 2 s (${TIME}s)" quick 2
still_fine "deep line"

# An entry whose body is nested 10^5 deep, correctly signed at K1's next seq.
k1_entry "$T/e3"
# with_x SRC OUT VALUE: SRC's entry with "x":VALUE after the title (bash
# builtins only: VALUE may be far longer than an argument list allows).
with_x() {
    local e
    e=$(cat "$1")
    printf '%s"title":"t","x":%s%s' "${e%%\"title\":*}" "$3" \
        "${e#*\"title\":\"Hoạt động\"}" >"$2"
}
DEEP=$(head -c 100000 /dev/zero | tr '\0' '[')$(head -c 100000 /dev/zero | tr '\0' ']')
with_x "$T/e3" "$T/e3d" "$DEEP"
check "  (the test entry holds the 10^5 brackets: $(wc -c <"$T/e3d") bytes)" \
    test "$(wc -c <"$T/e3d")" -gt 200000
entry_line "$T/e3d" "$(sign_file "$T/k1.pem" "$T/e3d")" >"$T/body"
post k1 "$K1" "$T/body"
check "a signed entry nested 10^5 deep: 200 with the line rejected (got $CODE)" status_is 200
check "  ... bad_entry" rejected_as bad_entry
check "  ... in under 2 s (${TIME}s)" quick 2
still_fine "deep entry"

# Just past SPEC's limit of 16: the whole entry nested 17 deep.
D17="[[[[[[[[[[[[[[1]]]]]]]]]]]]]]" # 14 arrays + body + fields = 17
with_x "$T/e3" "$T/e3d" "$D17"
entry_line "$T/e3d" "$(sign_file "$T/k1.pem" "$T/e3d")" >"$T/body"
post k1 "$K1" "$T/body"
check "a signed entry nested 17 deep (limit 16): line rejected bad_entry" rejected_as bad_entry
check "  ... saying it nests too deep" json_ok '.rejected[0].message | test("deep|nest|depth")'
still_fine "depth 17"

# ---------------------------------------------------------------- bytes
# send_raw_entry NAME DESC: sign $T/NAME as it is and send it as the only
# line, escaping only what JSON needs (the bytes themselves are kept).
send_raw_entry() {
    local sig
    sig=$(sign_file "$T/k1.pem" "$T/$1")
    {
        printf '{"entry":"'
        sed 's/\\/\\\\/g; s/"/\\"/g' "$T/$1" | tr -d '\n'
        printf '","sig":"%s"}\n' "$sig"
    } >"$T/body"
    post k1 "$K1" "$T/body"
    check "$2: 200 with the line rejected (got $CODE)" status_is 200
    check "  ... bad_entry" rejected_as bad_entry
    still_fine "$2"
}
k1_entry "$T/e4" "TITLE"
sed 's/TITLE/x\xc0\xafy/' "$T/e4" | tr -d '\n' >"$T/bad_utf8"
send_raw_entry bad_utf8 "an entry with an overlong UTF-8 sequence"
sed 's/TITLE/x\xed\xb2\x80y/' "$T/e4" | tr -d '\n' >"$T/bad_surr"
send_raw_entry bad_surr "an entry with an encoded lone surrogate (ED B2 80)"
sed 's/TITLE/x\xffy/' "$T/e4" | tr -d '\n' >"$T/bad_ff"
send_raw_entry bad_ff "an entry with a 0xFF byte"
# \u escapes inside the entry's own JSON (the line is plain ASCII).
sed 's/TITLE/x\\udc80y/' "$T/e4" | tr -d '\n' >"$T/bad_esc"
send_raw_entry bad_esc "an entry with a \\udc80 lone surrogate escape"
sed 's/TITLE/x\\u0000y/' "$T/e4" | tr -d '\n' >"$T/bad_nul"
send_raw_entry bad_nul "an entry with a \\u0000 escape"

# NUL inside the line's entry string: the entry bytes would hold a NUL.
k1_entry "$T/e5" "NULHERE"
printf '{"entry":%s,"sig":"%s"}\n' \
    "$(jq -Rs . <"$T/e5" | sed 's/NULHERE/a\\u0000b/')" \
    "$(sign_file "$T/k1.pem" "$T/e5")" >"$T/body"
post k1 "$K1" "$T/body"
check "a line whose entry string holds a NUL: line rejected (got $CODE)" \
    json_ok '.accepted == 0 and (.rejected | length) == 1'
still_fine "NUL in line"

# Duplicate keys, in the line and in the signed entry.
k1_entry "$T/e6" "dup"
S6=$(sign_file "$T/k1.pem" "$T/e6")
jq -Rs . <"$T/e6" >"$T/e6s"
printf '{"entry":%s,"entry":%s,"sig":"%s"}\n' "$(cat "$T/e6s")" \
    "$(sed "s/$COMMUNE/$OTHER/" "$T/e6s")" "$S6" >"$T/body"
post k1 "$K1" "$T/body"
check "a line with \"entry\" twice: 200 with the line rejected (got $CODE)" status_is 200
check "  ... bad_entry" rejected_as bad_entry
still_fine "duplicate key in line"
sed "s/\"unit\":\"$COMMUNE\"/\"unit\":\"$COMMUNE\",\"unit\":\"$OTHER\"/" "$T/e6" |
    tr -d '\n' >"$T/dupkey"
check "  (the test entry does hold \"unit\" twice)" \
    test "$(grep -o '"unit"' "$T/dupkey" | wc -l)" = 2
send_raw_entry dupkey "a signed entry with \"unit\" twice"
sed 's/"v":1/"v":1,"v":1/' "$T/e6" | tr -d '\n' >"$T/dupv"
send_raw_entry dupv "a signed entry with \"v\" twice, same value"

# After all that, K1's next seq still takes a valid entry: nothing moved.
entry_line "$T/e6" "$S6" >"$T/body"
post k1 "$K1" "$T/body"
check "K1's next entry is still taken at seq $K1_SEQ (nothing half-applied)" \
    json_ok ".accepted == 1 and .heads[\"$K1\"].seq == $K1_SEQ"
k1_advance "$T/e6"
still_fine "K1 continues"

# ---------------------------------------------------------------- relay
for i in 1 2; do
    "$NTM" --home "$R1" record activity --task doan.rural_roads_km \
        --unit "$COMMUNE" --date 2019-07-0$i --title "Offline $i" >/dev/null 2>&1
done
expect 0 "recorder 1 exports a bundle of its own entries" "$R1" bundle export \
    --out "$T/r1.bundle" --author "$REC1"
# lines 2.. are entries; the last two are the offline ones (seq 3 and 4).
sed -n '$p' "$T/r1.bundle" >"$T/line4"
tail -n 2 "$T/r1.bundle" | head -n 1 >"$T/body"
jq -j .entry "$T/body" >"$T/e_relay"
RELAY_ID=$(hash_file "$T/e_relay")
post k2 "$K2" "$T/body"
check "recorder 1's entry relayed under K2's Authorization: 200 (got $CODE)" status_is 200
check "  ... accepted 1 (SPEC 6: a device may relay others' entries)" \
    json_ok ".accepted == 1 and (.rejected | length) == 0 and .heads[\"$REC1\"].seq == 3"
HELD=$((HELD + 1))
STORED=$(sqlite3 -cmd '.timeout 3000' "$SDB" "SELECT hex(bytes) FROM entries WHERE id='$RELAY_ID'")
check "  ... stored byte for byte as signed" \
    test "$STORED" = "$(xxd -p -u "$T/e_relay" | tr -d '\n')"
STORED_AUTHOR=$(sqlite3 -cmd '.timeout 3000' "$SDB" "SELECT author FROM entries WHERE id='$RELAY_ID'")
check "  ... under recorder 1's author id, not the relay's" test "$STORED_AUTHOR" = "$REC1"
still_fine "relay"

post k2 "$K2" "$T/body"
check "the same relay again: 200, a duplicate, no new row" \
    json_ok '.accepted == 0 and .duplicates == 1'
still_fine "relay replay"

# A forged copy of recorder 1's seq 4: one byte of the title changed, sig kept.
jq -j .entry "$T/line4" | sed 's/Offline 2/Offline 3/' >"$T/e_forged"
entry_line "$T/e_forged" "$(jq -r .sig "$T/line4")" >"$T/body"
post k2 "$K2" "$T/body"
check "a forged entry (one byte changed after signing): 200, line rejected" status_is 200
check "  ... bad_signature" rejected_as bad_signature
still_fine "forged"
# An entry naming K2 as author but signed with K1's key.
make_entry "$T/e_k2" "$K2" 1 null "$(now_ms)" record.create \
    "$(jq -cn --arg id "$(record_id "$K2" 1)" --arg u "$COMMUNE" '{id:$id, kind:"activity", unit:$u, org:"doan", fields:{task:"doan.rural_roads_km", date:"2019-06-01", title:"x"}}')"
entry_line "$T/e_k2" "$(sign_file "$T/k1.pem" "$T/e_k2")" >"$T/body"
post k2 "$K2" "$T/body"
check "an entry naming K2 but signed by K1, sent by K2: bad_signature" rejected_as bad_signature
still_fine "wrong signer"
# A signature that is not even 64 bytes.
entry_line "$T/e_k2" "AAAA" >"$T/body"
post k2 "$K2" "$T/body"
check "a truncated signature: line rejected (bad_signature or bad_entry)" \
    json_ok '.accepted == 0 and (.rejected[0].code == "bad_signature" or .rejected[0].code == "bad_entry")'
still_fine "short sig"

expect 0 "recorder 1 pushes: the genuine seq 4 goes through" "$R1" --json push
check "  ... accepted 1, nothing rejected" json_ok '.accepted == 1 and (.rejected | length) == 0'
HELD=$((HELD + 1))
still_fine "recorder 1 push"

# ---------------------------------------------------------------- auth time
NOW=$(now_ms)
TS=$((NOW - 20 * 60 * 1000)) get k1 "$K1" /v1/heads
check "a request 20 minutes old: 401 (got $CODE)" status_is 401
check "  ... clock_skew" err_code clock_skew
check "  ... with server_time_ms near now" \
    json_ok ".error.server_time_ms > $((NOW - 60000)) and .error.server_time_ms < $((NOW + 60000))"
check "  ... quickly (${TIME}s)" quick 1
TS=$((NOW + 20 * 60 * 1000)) get k1 "$K1" /v1/heads
check "a request 20 minutes ahead: 401 clock_skew" \
    sh -c "test '$CODE' = 401 && jq -e '.error.code == \"clock_skew\" and (.error.server_time_ms | type) == \"number\"' '$T/out' >/dev/null"
k1_entry "$T/e7"
entry_line "$T/e7" "$(sign_file "$T/k1.pem" "$T/e7")" >"$T/body"
TS=$((NOW - 20 * 60 * 1000)) post k1 "$K1" "$T/body"
check "a push 20 minutes old: 401 clock_skew, entry not stored" \
    sh -c "test '$CODE' = 401 && jq -e '.error.code == \"clock_skew\"' '$T/out' >/dev/null"
still_fine "old push"
TS=$((NOW - 14 * 60 * 1000)) get k1 "$K1" /v1/heads
check "a request 14 minutes old is still inside the window (200)" status_is 200

# ---------------------------------------------------------------- keys
expect 0 "admin revokes K3 (--after-seq 0)" "$A" admin revoke "$K3" --after-seq 0 --reason "bị mất"
expect 0 "  ... and pushes the revocation" "$A" push
HELD=$((HELD + 1))
get k3 "$K3" /v1/heads
check "a revoked key's request: 403 (got $CODE)" status_is 403
check "  ... revoked" err_code revoked
make_entry "$T/e_k3" "$K3" 1 null "$(now_ms)" record.create \
    "$(jq -cn --arg id "$(record_id "$K3" 1)" --arg u "$COMMUNE" '{id:$id, kind:"activity", unit:$u, org:"doan", fields:{task:"doan.rural_roads_km", date:"2019-06-01", title:"x"}}')"
entry_line "$T/e_k3" "$(sign_file "$T/k3.pem" "$T/e_k3")" >"$T/body"
post k3 "$K3" "$T/body"
check "a revoked key's push: 403 revoked, nothing stored" \
    sh -c "test '$CODE' = 403 && jq -e '.error.code == \"revoked\"' '$T/out' >/dev/null"
still_fine "revoked"
get k4 "$K4" /v1/heads
check "an unknown key's request: 403 unknown_author (got $CODE)" \
    sh -c "test '$CODE' = 403 && jq -e '.error.code == \"unknown_author\"' '$T/out' >/dev/null"
still_fine "unknown key"

# ---------------------------------------------------------------- end
run "$A" --json pull
"$NTM" --home "$A" --json verify >"$T/out" 2>"$T/err"
check "admin's replica verifies clean after all that" \
    json_ok '(.invalid | length) == 0 and (.forks | length) == 0'
check "server log has no crash or internal error" \
    sh -c "! grep -Eq ' 500 |internal|assert|Sanitizer' '$T/server.log'"
stop_server TERM
check "server stops cleanly on SIGTERM" test "${SERVER_RC:-1}" -eq 0
check "server DB integrity_check ok" \
    test "$(sqlite3 "$SDB" 'PRAGMA integrity_check')" = ok
finish_threat
