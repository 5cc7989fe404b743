#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# cli_hygiene.sh - the ntm tool against hostile files and text: bundles
# with lines in reverse order, a NUL byte, an endless line (/dev/zero), a
# 10 MiB line; record titles carrying terminal escape sequences; homes and
# key files open to other users.
#
# Env: NTM_BIN (the built ntm), NTM_CONFIG_DIR, NTM_SANITIZED=1 to skip the
# timing checks. The last line is "N passed, N failed".
set -u

NTM=${NTM_BIN:?NTM_BIN must name the ntm binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-cli-hygiene.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$T"' EXIT
unset NTM_PASSPHRASE NTM_HOME
export LANG=C.UTF-8

# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"

if ! command -v jq >/dev/null; then
    echo "jq is needed (apt-get install -y jq)"
    exit 77
fi

A=$T/admin
N=300
COMMUNE=72.710.25657
expect 0 "admin: init" "$A" init --root --no-passphrase
for i in $(seq "$N"); do
    "$NTM" --home "$A" record activity --task doan.rural_roads_km \
        --unit "$COMMUNE" --date 2019-05-17 --title "Đường $i" >/dev/null 2>&1
done
expect 0 "admin: bundle export of $N records" "$A" bundle export --out "$T/all.ntm"

# ---------------------------------------------------------------- bundles
# The same bundle with its entry lines reversed (no .minisig: it changed).
{ head -1 "$T/all.ntm"; tail -n +2 "$T/all.ntm" | tac; } >"$T/rev.ntm"
cp "$T/all.ntm" "$T/fwd.ntm"
now() { date +%s.%N; }
ROOT=$(jq -r .by <(head -1 "$T/all.ntm"))
run "$T/h1" init --no-passphrase --root-key "$ROOT"
t0=$(now)
expect 0 "the in-order bundle imports" "$T/h1" --json bundle import "$T/fwd.ntm"
t1=$(now)
check "  ... all $N taken" json_ok ".accepted == $N"
run "$T/h2" init --no-passphrase --root-key "$ROOT"
t2=$(now)
expect 0 "the reversed bundle imports" "$T/h2" --json bundle import "$T/rev.ntm"
t3=$(now)
check "  ... all $N taken, none rejected" json_ok ".accepted == $N and (.rejected | length) == 0"
if [ "${NTM_SANITIZED:-0}" != 1 ]; then
    fwd=$(awk "BEGIN { print $t1 - $t0 }")
    rev=$(awk "BEGIN { print $t3 - $t2 }")
    echo "# in order ${fwd}s, reversed ${rev}s"
    check "  ... quickly: reversed < 5 x in order + 0.5 s" \
        awk "BEGIN { exit !($rev < 5 * $fwd + 0.5) }"
fi

# A NUL byte in line 3: that line is rejected, line 4 is read normally.
{
    head -2 "$T/all.ntm"
    printf '{"entry":"x\0y","sig":"z"}\n'
    sed -n 3,4p "$T/all.ntm"
} >"$T/nul.ntm"
run "$T/h3" init --no-passphrase --root-key "$ROOT"
run "$T/h3" --json bundle import "$T/nul.ntm"
check "a NUL line in a bundle is rejected (exit 5)" test "$rc" -eq 5
check "  ... the line after it is taken (3 entries)" json_ok '.accepted == 3'
check "  ... line 3 is named with NUL" json_ok '(.rejected | length) == 1 and .rejected[0].line == 3 and (.rejected[0].message | test("NUL"))'

start=$(now)
timeout 20 "$NTM" --home "$T/h3" --lang en bundle import /dev/zero >"$T/out" 2>"$T/err"
rc=$?
check "bundle import /dev/zero fails (exit 1, not a timeout)" test "$rc" -eq 1
check "  ... saying the line is too long" err_has "line 1 is longer than"

head -c $((10 << 20)) /dev/zero | tr '\0' a >"$T/big"
{ head -2 "$T/all.ntm"; cat "$T/big"; echo; } >"$T/big.ntm"
timeout 20 "$NTM" --home "$T/h3" --lang en bundle import "$T/big.ntm" >"$T/out" 2>"$T/err"
rc=$?
check "a 10 MiB line fails (exit 1, not a timeout)" test "$rc" -eq 1
check "  ... naming line 3" err_has "line 3 is longer than"

# ---------------------------------------------------------------- text
expect 0 "a record whose title and note hold escape sequences" "$A" record activity \
    --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-05-18 \
    --title "$(printf 'Xoá màn hình\033[2J\rĐè dòng')" --note "$(printf 'n\033]0;x\007\302\233')"
EID=$(cat "$T/out")
has_ctl() { LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177]')" "$1"; }
expect 0 "list" "$A" list
check "  ... shows the title" out_has 'Xoá màn hình'
check "  ... without an ESC or CR byte" eval '! has_ctl "$T/out"'
check "  ... the ESC made visible" out_has 'x1b\[2J'
expect 0 "show" "$A" show "$EID"
check "  ... without control bytes" eval '! has_ctl "$T/out"'
check "  ... nor a C1 CSI (U+009B)" eval '! grep -q "$(printf "\302\233")" "$T/out"'
expect 2 "a usage error quoting an id with ESC" "$A" show "$(printf 'abc\033[2Jdef')"
check "  ... prints no ESC on stderr" eval '! has_ctl "$T/err"'
expect 0 "list --json still carries the exact title" "$A" --json list
check "  ... escaped by JSON" json_ok 'any(.[]; .fields.title == "Xoá màn hình\u001b[2J\rĐè dòng")'

# ---------------------------------------------------------------- permissions
check "init makes the home 0700" test "$(stat -c %a "$A")" = 700
check "  ... and the key 0600" test "$(stat -c %a "$A/key")" = 600
chmod 666 "$A/key"
SEQ=$(sqlite3 "$A/ntm.db" 'SELECT count(*) FROM entries;' 2>/dev/null)
expect 1 "a key file others can read and write is refused" "$A" --lang en \
    record activity --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-05-19
check "  ... saying what to run" err_has "chmod 600 $A/key"
check "  ... and nothing was signed" test "$(sqlite3 "$A/ntm.db" 'SELECT count(*) FROM entries;' 2>/dev/null)" = "$SEQ"
chmod 640 "$A/key"
expect 1 "a key file the group can read is refused too" "$A" --lang en \
    record activity --task doan.rural_roads_km --unit "$COMMUNE" --date 2019-05-19
chmod 600 "$A/key"
chmod 777 "$A"
expect 0 "a home open to everyone still works" "$A" --lang en list
check "  ... with a warning on stderr" err_has "chmod 700 $A"
chmod 700 "$A"
chmod 666 "$A/config.json"
expect 0 "config.json writable by others" "$A" --lang en list
check "  ... warns" err_has "chmod 600 $A/config.json"
chmod 600 "$A/config.json"
expect 0 "a private home" "$A" --lang en list
check "  ... gives no warning" eval '! err_has warning'

finish
