#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# threat_server.sh - the server's own defences, attacked from outside with
# curl, openssl and raw sockets against a real `ntm serve` over TLS on
# 127.0.0.1 (RELIABILITY.md #6, #7, #11, #17; SPEC.md 2 step 4 and 6):
#   - revocation: a key revoked with --after-seq above its head gets 403
#     revoked on every authenticated endpoint, and the revoked device's own
#     `ntm pull` and `ntm push` fail;
#   - authentication before memory: 40 parallel 8 MiB bodies whose
#     Authorization names the root key with a junk signature leave the
#     server's memory nearly flat (plain build only) and store nothing;
#   - a slowloris from 127.0.0.2 does not lock out the signed requests of
#     devices behind the same address (one NAT);
#   - Content-Type is matched exactly (415 for look-alikes);
#   - the server log never carries the request's control bytes.
#
# Env: NTM_BIN; SLOW_SECONDS (default 14). Prints one line per check and
# "N passed, N failed".
set -u
. "$(dirname "$0")/threat_lib.sh"
TOOLS=$(dirname "$0")/sync_tools.py
SLOW_SECONDS=${SLOW_SECONDS:-14}

make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R2=$T/rec2
SDB=$S/ntm.db
COMMUNE=72.710.25657

# ---------------------------------------------------------------- setup
run "$A" init --root --no-passphrase --name admin --server "$URL" --cacert "$T/cert.pem"
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
run "$R2" init --no-passphrase --server "$URL" --cacert "$T/cert.pem" --name rec2
run "$R2" key export
REC2=$(cat "$T/out")
K1=$(new_key k1) # recorder in good standing
K5=$(new_key k5) # recorder, revoked below with --after-seq 100
for k in "$REC2" "$K1" "$K5"; do
    "$NTM" --home "$A" admin enroll "$k" --role recorder --scope "$COMMUNE" \
        --name "r-${k:0:6}" --org doan >/dev/null 2>&1
done
expect 0 "admin pushes 3 enrollments" "$A" --json push
"$NTM" --home "$R2" record activity --task doan.rural_roads_km --unit "$COMMUNE" \
    --date 2019-05-01 --title "Đường ấp 1" >/dev/null 2>&1
expect 0 "recorder 2 pushes a record" "$R2" push
expect 0 "recorder 2 pulls" "$R2" pull

CODE=000
TIME=99
# req KEYNAME AUTHOR METHOD PATH_AND_QUERY BODYFILE [curl options]: a
# request signed by KEYNAME (TS overrides the time). Sets CODE and TIME;
# the answer is in $T/out.
req() {
    local pem=$T/$1.pem author=$2 method=$3 path=$4 body=$5 ts h
    shift 5
    ts=${TS:-$(now_ms)}
    h=$(auth_header "$pem" "$author" "$method" "$path" "$ts" "$body")
    if [ "$method" = POST ]; then
        set -- -X POST --data-binary @"$body" "$@"
    fi
    curl -sk --max-time 20 -o "$T/out" -w '%{http_code} %{time_total}' \
        -H "Authorization: $h" "$@" "$URL$path" >"$T/code" 2>/dev/null
    read -r CODE TIME <"$T/code"
}
status_is() { test "$CODE" = "$1"; }
err_code() { json_ok ".error.code == \"$1\""; }
HELD=$(db_count "$SDB")

# K1's first entry, as a push line: sent again, it is a duplicate (200).
make_entry "$T/e1" "$K1" 1 null "$(now_ms)" record.create \
    "$(jq -cn --arg id "$(rand_id)" --arg u "$COMMUNE" '{id:$id, kind:"activity",
        unit:$u, org:"doan", fields:{task:"doan.rural_roads_km",
        date:"2019-06-01", title:"x"}}')"
entry_line "$T/e1" "$(sign_file "$T/k1.pem" "$T/e1")" >"$T/line1"
req k1 "$K1" POST /v1/entries "$T/line1" -H 'Content-Type: application/x-ndjson'
check "K1's first entry is accepted (200, got $CODE)" status_is 200
HELD=$((HELD + 1))

# ---------------------------------------------------------------- revoked
# SPEC 2 step 4: a revoked device can no longer authenticate - whatever
# after_seq says about its entries, and whatever its head on the server.
expect 0 "admin revokes recorder 2 with --after-seq 100 (its head is 1)" \
    "$A" admin revoke "$REC2" --after-seq 100 --reason "máy bị mất"
expect 0 "admin revokes K5 with --after-seq 100 (it has no entry)" \
    "$A" admin revoke "$K5" --after-seq 100 --reason "máy bị mất"
expect 0 "  ... and pushes both revocations" "$A" push
HELD=$((HELD + 2))
run "$R2" pull
check "the revoked recorder's pull fails (exit $rc)" test "$rc" -ne 0
check "  ... saying it is revoked" err_has revoked
"$NTM" --home "$R2" record activity --task doan.rural_roads_km --unit "$COMMUNE" \
    --date 2019-05-02 --title "Sau khi bị thu hồi" >/dev/null 2>&1
run "$R2" push
check "the revoked recorder's push fails (exit $rc)" test "$rc" -ne 0
check "  ... saying it is revoked" err_has revoked
for ep in "GET /v1/heads" "GET /v1/heads?author=$K5" "GET /v1/entries?after=0" \
    "GET /metrics" "POST /v1/entries"; do
    set -- $ep
    req k5 "$K5" "$1" "$2" /dev/null -H 'Content-Type: application/x-ndjson'
    check "revoked K5 (head 0, after_seq 100): $ep gives 403 (got $CODE)" status_is 403
    check "  ... revoked" err_code revoked
done
req k1 "$K1" GET /v1/heads /dev/null
check "K1, in good standing, is still served (200, got $CODE)" status_is 200
check "server holds $HELD entries" test "$(db_count "$SDB")" = "$HELD"

# ---------------------------------------------------------------- Content-Type
# ct_is WANT VALUE: a push of a duplicate line with Content-Type: VALUE.
ct_is() {
    req k1 "$K1" POST /v1/entries "$T/line1" -H "Content-Type: $2"
    check "Content-Type '$2': $1 (got $CODE)" status_is "$1"
}
ct_is 200 'application/x-ndjson'
ct_is 200 'Application/X-NDJSON'
ct_is 200 'application/x-ndjson; charset=utf-8'
ct_is 200 'application/x-ndjson;charset="UTF-8"'
ct_is 415 'application/x-ndjsonx'
ct_is 415 'application/x-ndjson-evil'
ct_is 415 'application/jsonp'
ct_is 415 'application/x-ndjson; charset=latin1'
ct_is 415 'application/x-ndjson; boundary=x'
ct_is 415 'application/x-ndjson x'
ct_is 415 'text/plain'

# ---------------------------------------------------------------- log
# Control bytes from the request (raw in the request line, or as %1b)
# must reach the log escaped, never as bytes a terminal would obey.
raw_request() {
    printf '%b' "$1" | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$PORT" \
        >"$T/raw.out" 2>/dev/null
}
raw_request 'GET /v1/\x1b[31mRED\x1b]0;owned\x07\x9b2J HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: \x1b[5m\r\nConnection: close\r\n\r\n'
raw_request 'GET /v1/%1b[31mENC HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
curl -sk --max-time 5 -o /dev/null "$URL/v1/%1b%5b31mCURL%07" 2>/dev/null
sleep 0.5
check "the raw ESC request was logged (escaped)" grep -qF '[31mRED' "$T/server.log"
check "the server log holds no ESC, BEL or C1 byte" \
    sh -c "! LC_ALL=C grep -q \$(printf '[\\033\\007\\233]') '$T/server.log'"
check "  ... and shows them as \\x1b" grep -qF '\x1b[31mRED' "$T/server.log"
check "the %1b request was logged as sent" grep -qF '%1b[31mENC' "$T/server.log"

# ---------------------------------------------------------------- memory
# What can be checked before a body is read, is: a 7 MiB body trickling
# at 256 KB/s is refused at once (an answer in well under 3 s) when its
# Authorization is stale, malformed or names a revoked key - even when it
# names the root key.
head -c $((7 * 1024 * 1024)) /dev/zero | tr '\0' 's' >"$T/seven"
JUNKSIG=$(head -c 64 /dev/urandom | base64 -w0)
# early DESC WANT_STATUS WANT_CODE AUTHORIZATION
early() {
    curl -sk --max-time 3 --limit-rate 256K -o "$T/out" -w '%{http_code} %{time_total}' \
        -X POST -H 'Content-Type: application/x-ndjson' -H "Authorization: $4" \
        --data-binary @"$T/seven" "$URL/v1/entries" >"$T/code" 2>/dev/null
    read -r CODE TIME <"$T/code"
    check "$1: $2 $3 before the body (got $CODE in ${TIME}s)" \
        sh -c "test '$CODE' = $2 && jq -e '.error.code == \"$3\"' '$T/out' >/dev/null"
}
early "root key, junk signature, ts 20 minutes old" 401 clock_skew \
    "NTM-Ed25519 key=$ADMIN,ts=$(($(now_ms) - 1200000)),sig=$JUNKSIG"
early "root key, a 3-byte signature" 401 bad_auth \
    "NTM-Ed25519 key=$ADMIN,ts=$(now_ms),sig=AAAA"
early "revoked K5, junk signature" 403 revoked \
    "NTM-Ed25519 key=$K5,ts=$(now_ms),sig=$JUNKSIG"

# 40 clients at once each send 8 MiB naming the root key (public) with a
# junk signature. The signature can only be checked at the end of a body;
# what the server holds meanwhile must stay small.
head -c $((8 * 1024 * 1024)) /dev/zero | tr '\0' 'j' >"$T/junk"
SPID=$SERVER_PID
RSS0=$(rss_kb "$SPID")
(
    peak=0
    while [ ! -e "$T/rss.stop" ]; do
        r=$(rss_kb "$SPID")
        [ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$T/rss.peak"
        sleep 0.02
    done
) &
SAMPLER=$!
t0=$(now_ms)
PIDS=()
for i in $(seq 1 40); do
    curl -sSk --max-time 60 -o "$T/junk.$i.out" -w '%{http_code}\n' -X POST \
        -H 'Content-Type: application/x-ndjson' \
        -H "Authorization: NTM-Ed25519 key=$ADMIN,ts=$(now_ms),sig=$JUNKSIG" \
        --data-binary @"$T/junk" "$URL/v1/entries" >"$T/junk.$i.code" 2>"$T/junk.$i.err" &
    PIDS+=($!)
done
wait "${PIDS[@]}"
ms=$(($(now_ms) - t0))
touch "$T/rss.stop"
wait "$SAMPLER"
PEAK=$(cat "$T/rss.peak" 2>/dev/null || echo "$RSS0")
cat "$T"/junk.*.err | sort | uniq -c | sed "s/^/# curl: /"
CODES=$(cat "$T"/junk.*.code | sort | uniq -c | tr -s ' \n' ' ')
echo "# 40 x 8 MiB junk-signed bodies in $ms ms: answers $CODES; server RSS ${RSS0} -> peak ${PEAK} KiB"
check "40 junk-signed 8 MiB bodies naming the root key: none taken" \
    sh -c "! grep -qv '^\(401\|503\)$' $T/junk.*.code"
check "  ... some refused 401 bad_auth after their body" \
    sh -c "grep -l '^401$' $T/junk.*.code | head -1 | sed 's/code$/out/' | xargs jq -e '.error.code == \"bad_auth\"' >/dev/null"
if [ -z "${NTM_SANITIZED:-}" ]; then
    check "  ... server RSS grew < 64 MiB (${RSS0} -> peak ${PEAK} KiB)" \
        test $((PEAK - RSS0)) -lt $((64 * 1024))
fi
check "  ... server healthy" healthy "$URL"
check "  ... still $HELD entries" test "$(db_count "$SDB")" = "$HELD"
req k1 "$K1" POST /v1/entries "$T/line1" -H 'Content-Type: application/x-ndjson'
check "  ... and a genuine push is served right after (200, got $CODE)" status_is 200

# ---------------------------------------------------------------- NAT
# held FILE: wait (30 s at most) until the slow client writing FILE has
# made its first round of connections ("connected=N"), then a moment for
# the server to read what they sent. A fixed sleep is not enough on a
# loaded machine: python and the TLS handshakes can take longer.
held() {
    local _
    for _ in $(seq 1 300); do
        grep -q '^connected=' "$1" 2>/dev/null && { sleep 0.3; return 0; }
        sleep 0.1
    done
    return 1
}
# Devices behind one NAT share an address with whoever attacks from it: a
# slowloris from 127.0.0.2 must not lock out the signed requests from
# 127.0.0.2 (Linux routes all of 127.0.0.0/8 to lo).
if command -v python3 >/dev/null &&
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null; then
    python3 "$TOOLS" slowloris 127.0.0.1 "$PORT" 127.0.0.2 48 "$SLOW_SECONDS" >"$T/slow.out" 2>&1 &
    SLOW=$!
    held "$T/slow.out"
    good=0
    bad=0
    worst=0
    for i in $(seq 1 8); do
        req k1 "$K1" GET /v1/heads /dev/null --interface 127.0.0.2
        if status_is 200; then good=$((good + 1)); else
            bad=$((bad + 1))
            echo "# GET /v1/heads from 127.0.0.2: $CODE after ${TIME}s"
        fi
        req k1 "$K1" POST /v1/entries "$T/line1" --interface 127.0.0.2 \
            -H 'Content-Type: application/x-ndjson'
        if status_is 200; then good=$((good + 1)); else
            bad=$((bad + 1))
            echo "# POST /v1/entries from 127.0.0.2: $CODE after ${TIME}s"
        fi
        lt "$TIME" "$worst" || worst=$TIME
        sleep 0.5
    done
    NFD=$(find "/proc/$SPID/fd" -mindepth 1 -maxdepth 1 | wc -l)
    wait "$SLOW"
    echo "# slowloris: $(grep opened "$T/slow.out"); server fds $NFD"
    check "slowloris from 127.0.0.2: all 16 signed requests from 127.0.0.2 served ($good ok, $bad failed)" \
        test "$bad" -eq 0
    check "  ... the slowest in under 3 s (${worst}s)" lt "$worst" 3
    check "  ... the attacker's extra connections were closed" \
        grep -Eq 'opened=(49|[5-9][0-9]|[0-9]{3,})' "$T/slow.out"
    check "  ... server fds stayed bounded ($NFD <= 32 + 48)" test "$NFD" -le 80
else
    echo "# python3 or 127.0.0.2 unavailable: NAT case skipped"
fi

# ---------------------------------------------------------------- end
check "server log has no crash or internal error" \
    sh -c "! grep -Eq ' 500 |internal|assert|Sanitizer' '$T/server.log'"
stop_server TERM
check "server stops cleanly on SIGTERM" test "${SERVER_RC:-1}" -eq 0
check "server DB integrity_check ok" \
    test "$(sqlite3 "$SDB" 'PRAGMA integrity_check')" = ok
finish_threat
