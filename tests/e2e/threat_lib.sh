# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# threat_lib.sh - shared by the threat_*.sh end-to-end tests (RELIABILITY.md
# T09, T11, T15, T21). Builds on sync_lib.sh (certificate, server, check
# helpers, summary) and adds:
#   - Ed25519 keys made with openssl, so a test can sign requests
#     (SPEC 6 Authorization) and entries (SPEC 2) byte by byte, including
#     wrong ones, without going through ntm;
#   - known_bug: a check that documents a bug found in ntm. It is run,
#     printed ("KNOWN BUG" while the bug reproduces) and counted as failed
#     like any check: a known bug fails the suite until it is fixed.
# Source it; it sources sync_lib.sh (which sets T and removes it at exit).

. "$(dirname "${BASH_SOURCE[0]}")/sync_lib.sh"

for tool in openssl b2sum xxd sqlite3; do
    if ! command -v $tool >/dev/null; then
        echo "$tool is needed (apt-get install -y openssl coreutils xxd sqlite3)"
        exit 77
    fi
done

# NTM_KEEP_TMP=1 keeps the temporary folder for a post-mortem.
if [ -n "${NTM_KEEP_TMP:-}" ]; then
    trap '[ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null; echo "kept $T"' EXIT
fi

known=0
known_bug() {
    local desc=$1
    shift
    if "$@"; then
        ok "$desc (known bug fixed: drop the known_bug marker)"
    else
        echo "KNOWN BUG - $desc"
        known=$((known + 1))
        failed=$((failed + 1))
    fi
}

# The summary, with the known bugs listed apart.
finish_threat() {
    if [ "$known" -gt 0 ]; then
        echo "$known known bug(s) reproduced (counted as failed)"
    fi
    finish
}

now_ms() { date +%s%3N; }

# fake_clock CLOCK CMD...: run CMD with its wall clock at CLOCK (libfaketime:
# "+5y", "-3d" offsets, "@YYYY-MM-DD hh:mm:ss" a start time), by preloading
# the library. Not the faketime wrapper: it keeps a named semaphore per
# process that outlives a killed process, and a later process given the
# same pid then fails with "sem_open: File exists".
fake_clock() {
    local lib= f
    for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
        /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
        [ -e "$f" ] && lib=$f && break
    done
    [ -n "$lib" ] || { echo "libfaketime is needed (apt-get install -y faketime)" >&2; return 127; }
    local clock=$1
    shift
    # FAKETIME_SHARED (set by the wrapper) would make libfaketime open the
    # wrapper's semaphore: never inherit it.
    env -u FAKETIME_SHARED LD_PRELOAD="$lib" FAKETIME="$clock" DONT_FAKE_MONOTONIC=1 "$@"
}

# new_key NAME: an Ed25519 key in $T/NAME.pem; prints its author id (hex of
# the 32-byte public key, SPEC 1).
new_key() {
    openssl genpkey -algorithm ed25519 -out "$T/$1.pem" 2>/dev/null &&
        openssl pkey -in "$T/$1.pem" -pubout -outform DER 2>/dev/null |
        tail -c 32 | xxd -p -c 64
}

# sign_file KEY.pem FILE: b64 Ed25519 signature of FILE's exact bytes.
sign_file() {
    openssl pkeyutl -sign -inkey "$1" -rawin -in "$2" 2>/dev/null | base64 -w0
}

# hash_file FILE: hex BLAKE2b-256 (the entry id of SPEC 2).
hash_file() { b2sum -l 256 "$1" | cut -d' ' -f1; }

# auth_header KEY.pem AUTHOR METHOD PATH_AND_QUERY TS BODYFILE: the value
# of the Authorization header (SPEC 6) for a request whose body is exactly
# BODYFILE's bytes (use /dev/null for none).
auth_header() {
    local f=$T/.authmsg
    printf 'ntm-req-v1\n%s\n%s\n%s\n%s' "$3" "$4" "$5" "$(hash_file "$6")" >"$f"
    printf 'NTM-Ed25519 key=%s,ts=%s,sig=%s' "$2" "$5" "$(sign_file "$1" "$f")"
}

# make_entry OUT AUTHOR SEQ PREV|null TS OP BODY_JSON: writes the entry bytes
# B (compact, sorted keys, no trailing newline) to OUT.
make_entry() {
    local prev
    if [ "$4" = null ]; then prev=null; else prev="\"$4\""; fi
    jq -cjnS --arg a "$2" --argjson s "$3" --argjson p "$prev" \
        --argjson ts "$5" --arg op "$6" --argjson body "$7" \
        '{v:1, author:$a, seq:$s, prev:$p, ts:$ts, lc:0, op:$op, body:$body}' >"$1"
}

# entry_line ENTRYFILE SIG: one push line {"entry":...,"sig":...}.
entry_line() {
    jq -cn --rawfile e "$1" --arg s "$2" '{entry:$e, sig:$s}'
}

# rand_id: a 32-hex record id (not bound to anyone: a create naming it is
# bad_body).
rand_id() { head -c 16 /dev/urandom | xxd -p -c 32; }
# record_id AUTHOR SEQ: the record id SPEC 3 binds to AUTHOR's record.create
# at SEQ: the first 32 hex of BLAKE2b-256 of "<author>:<seq>".
record_id() { printf '%s:%s' "$1" "$2" | b2sum -l 256 | cut -c1-32; }

# db_count DB [WHERE]: rows in DB's entries table (readable while a server
# holds the file: SQLite readers do not block the writer in WAL mode).
db_count() {
    sqlite3 -cmd '.timeout 3000' "$1" \
        "SELECT count(*) FROM entries ${2:+WHERE $2}" 2>/dev/null
}

# healthy URL: /healthz answers ok.
healthy() { curl -sk --max-time 5 "$1/healthz" 2>/dev/null | grep -q '^ok'; }

# rss_kb PID: resident set size in KiB.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# lt A B: A < B for decimal numbers (curl's %{time_total}).
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
