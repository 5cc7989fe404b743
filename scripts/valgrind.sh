#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# valgrind.sh - RELIABILITY.md T18: the unit suites under valgrind memcheck
# (every invalid read or write, use of uninitialised memory and leak fails
# the suite; tests/valgrind.supp holds only explained suppressions). The CI
# tier (scripts/test.sh) runs the fast suites; --all adds the slow ones
# (crypto's Argon2, the fault and power-loss sweeps: tens of minutes; and
# verify, whose damaged-home cases take 47 s under memcheck: the CI tier
# runs it under ASan).
# --origins: also where each uninitialised value came from (valgrind's
# --track-origins, a third slower; the same errors are found without it).
# Usage: scripts/valgrind.sh [-C BUILD] [--all] [--origins]
# Prints meson's table and "N passed, N failed".
set -u
build=build
all=0
setup=valgrind
while [ $# -gt 0 ]; do
    case $1 in
    -C) build=$2; shift 2 ;;
    --all) all=1; shift ;;
    --origins) setup=valgrind_origins; shift ;;
    *) sed -n '4,14p' "$0"; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install -y valgrind)"; exit 77; }
[ -f "$build/build.ninja" ] || { echo "valgrind: no build in $build"; exit 2; }
# Fast: about 2 minutes together on 2 cores.
suites="util plan cli sync search rules report store"
[ "$all" = 1 ] && suites="$suites verify bundle crypto merge powerloss faults"
# Only the suites that exist in this build (a branch may have fewer).
have=$(meson test -C "$build" --list 2>/dev/null | sed -n 's/^ntm:unit \/ //p')
run=
for s in $suites; do
    grep -qx "$s" <<<"$have" && run="$run $s"
done
# MALLOC_PERTURB_ would only slow memcheck down; it finds the same.
MALLOC_PERTURB_=0 meson test -C "$build" --setup "$setup" --print-errorlogs \
    --num-processes 2 $run
status=$?
[ "$status" = 0 ] || [ "$setup" != valgrind ] ||
    echo "valgrind: for where an uninitialised value came from: scripts/valgrind.sh -C $build --origins"
python3 - "$build/meson-logs/testlog-$setup.json" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t.get("result") in ("OK", "EXPECTEDFAIL"):
        p += 1
    else:
        f += 1
print(f"valgrind (T18): {p} passed, {f} failed")
PY
exit $status
