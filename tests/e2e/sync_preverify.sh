#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# sync_preverify.sh - the server verifies push batches before its write
# lock, on every core, and still refuses exactly as before. Four recorders
# post crafted batches at the same time, over TLS, signed per SPEC.md 6:
#   c1: an entry changed after signing (forged) at line 10 of 40;
#   c2: another line's signature at line 7 (bad signature);
#   c3: a line left out (gap at line 5 of 39);
#   c4: its honest chain of 30, then (again all at once) a copy of its
#       home that wrote seq 21-30 differently: a fork at line 21.
# Each answer must name the same line with the same code (and the later
# lines of that author as gap), accept what comes before, and the same
# batches sent again concurrently get the same rejections with the good
# lines as duplicates. The server verifies clean and holds exactly the
# accepted entries.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/sync_lib.sh"
TOOLS=$(dirname "$0")/sync_tools.py
tool() { python3 "$TOOLS" "$@"; }
make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
COMMUNE=72.710.25657
CURL=(curl -s --cacert "$T/cert.pem" --max-time 60)
json_ok() { jq -e "$1" "$2" >/dev/null 2>&1; }

run "$A" init --root --no-passphrase --server "$URL" --cacert "$T/cert.pem"
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"

setup_fail=0
declare -a KEY
for i in 1 2 3 4; do
    H=$T/c$i
    "$NTM" --home "$H" init --no-passphrase --server "$URL" \
        --cacert "$T/cert.pem" >/dev/null 2>&1 || setup_fail=1
    KEY[$i]=$("$NTM" --home "$H" key export 2>/dev/null)
    "$NTM" --home "$A" admin enroll "${KEY[$i]}" --role recorder \
        --scope "$COMMUNE" --name "Người ghi $i" >/dev/null 2>&1 || setup_fail=1
done
"$NTM" --home "$A" push >/dev/null 2>&1 || setup_fail=1
for i in 1 2 3 4; do
    "$NTM" --home "$T/c$i" pull >/dev/null 2>&1 || setup_fail=1
done
check "four recorders enrolled" test "$setup_fail" -eq 0

# record HOME FROM TO: activities numbered FROM..TO, offline.
record() {
    local k
    for k in $(seq "$2" "$3"); do
        "$NTM" --home "$1" record activity --task doan.rural_roads_km \
            --unit "$COMMUNE" --date 2019-05-17 --qty 1 --uom km \
            --title "Hoạt động $k của $(basename "$1")" >/dev/null 2>&1 ||
            touch "$T/record.failed"
    done
}
# lines HOME N: the last N entry lines of HOME's own chain, in seq order.
lines() {
    "$NTM" --home "$1" bundle export --out "$T/x.bundle" \
        --author "$("$NTM" --home "$1" key export)" >/dev/null 2>&1 ||
        setup_fail=1
    tail -n "$2" "$T/x.bundle"
}
# both CMD...: run the commands at once, wait for them (not for the
# server, a background job too).
both() {
    local pids=() c
    for c in "$@"; do
        eval "$c" &
        pids+=($!)
    done
    wait "${pids[@]}"
}
both 'record "$T/c1" 1 40' 'record "$T/c2" 1 40'
both 'record "$T/c3" 1 40' 'record "$T/c4" 1 20'
cp -a "$T/c4" "$T/c4b"
both 'record "$T/c4" 21 30' 'record "$T/c4b" 121 130'
lines "$T/c1" 40 >"$T/c1.lines"
lines "$T/c2" 40 >"$T/c2.lines"
lines "$T/c3" 40 >"$T/c3.lines"
lines "$T/c4" 30 >"$T/c4.lines"
lines "$T/c4b" 30 >"$T/c4b.lines"
check "entries written offline" test "$setup_fail" -eq 0 -a ! -e "$T/record.failed"

# The crafted batches.
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
def rd(n):
    return open(f"{t}/{n}.lines", encoding="utf-8").read().splitlines()
def wr(n, ls):
    open(f"{t}/{n}.body", "w", encoding="utf-8").write("\n".join(ls) + "\n")
c1 = rd("c1")
o = json.loads(c1[9])
e = o["entry"]
k = e.index('"ts":') + 5
o["entry"] = e[:k] + ("2" if e[k] == "1" else "1") + e[k + 1:]
c1[9] = json.dumps(o, ensure_ascii=False, separators=(",", ":"))
wr("c1", c1)
c2 = rd("c2")
o = json.loads(c2[6])
o["sig"] = json.loads(c2[7])["sig"]
c2[6] = json.dumps(o, ensure_ascii=False, separators=(",", ":"))
wr("c2", c2)
c3 = rd("c3")
wr("c3", c3[:4] + c3[5:])
wr("c4", rd("c4"))
wr("c4b", rd("c4b"))
PY

# post NAME HOME: POST NAME.body signed by HOME's key; answer in NAME.ans.
post() {
    local auth
    auth=$(tool auth "$2/key" POST /v1/entries "$T/$1.body")
    "${CURL[@]}" -o "$T/$1.ans" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/x-ndjson' -H "Authorization: $auth" \
        --data-binary @"$T/$1.body" "$URL/v1/entries" >"$T/$1.code" 2>/dev/null
}
# answer NAME ACCEPTED DUPLICATES LINE CODE LAST: the answer to NAME.body
# took ACCEPTED new, DUPLICATES held, refused LINE with CODE and every
# later line up to LAST with gap.
answer() {
    local n=$1 acc=$2 dup=$3 line=$4 code=$5 last=$6
    check "$n: 200" test "$(cat "$T/$n.code")" = 200
    check "$n: $acc accepted, $dup duplicates" \
        json_ok ".accepted == $acc and .duplicates == $dup" "$T/$n.ans"
    check "$n: line $line refused as $code" json_ok \
        ".rejected[0].line == $line and .rejected[0].code == \"$code\"" \
        "$T/$n.ans"
    check "$n: lines $((line + 1))-$last refused as gap" json_ok \
        "[.rejected[1:][] | .code] == [range($((last - line))) | \"gap\"] and
         [.rejected[1:][] | .line] == [range($((line + 1)); $((last + 1)))]" \
        "$T/$n.ans"
}

# Round 1: all four at once.
both 'post c1 "$T/c1"' 'post c2 "$T/c2"' 'post c3 "$T/c3"' 'post c4 "$T/c4"'
answer c1 9 0 10 bad_signature 40
answer c2 6 0 7 bad_signature 40
answer c3 4 0 5 gap 39
check "c4: 30 accepted, none refused" \
    json_ok '.accepted == 30 and (.rejected | length) == 0' "$T/c4.ans"
check "c1's forged line says why" json_ok \
    '.rejected[0].message | test("signature does not verify")' "$T/c1.ans"

# Round 2: the same batches again and the fork, all at once.
for n in c1 c2 c3; do cp "$T/$n.ans" "$T/$n.ans1"; done
both 'post c1 "$T/c1"' 'post c2 "$T/c2"' 'post c3 "$T/c3"' \
    'post c4b "$T/c4b"'
answer c1 0 9 10 bad_signature 40
answer c2 0 6 7 bad_signature 40
answer c3 0 4 5 gap 39
answer c4b 0 20 21 fork 30
for n in c1 c2 c3; do
    check "$n: the same rejections as the first time" \
        test "$(jq -c .rejected "$T/$n.ans")" = "$(jq -c .rejected "$T/$n.ans1")"
done

stop_server
# The enrollments (4) and the 9 + 6 + 4 + 30 accepted.
check "server holds the 4 enrollments and 49 accepted entries" \
    test "$(count_entries "$S")" = 53
run "$S" --json verify
check "server verifies clean, the fork kept as evidence" \
    json_ok '(.invalid | length) == 0 and (.forks | length) == 1' "$T/out"
finish
