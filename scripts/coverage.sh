#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# coverage.sh - line and branch coverage of the test suites (RELIABILITY.md
# T19).
#
#   scripts/coverage.sh            build build-cov with -Db_coverage=true,
#                                  run the unit and e2e suites, report
#   scripts/coverage.sh --report   report on the counters already there
#
# The report (gcovr) is per file for store/, crypto/, sync/ and plan/:
# lines, then branches, then the T19 goals: >= 90 % lines and >= 80 %
# branches on the verify, chain, authorization and parse modules, >= 75 %
# lines over the four folders. Those modules are: parse, store/entry.c
# (step 1) and store/rules.c (step 5's rules); authorization,
# store/auth.c; the hash chain, store/log.c (the chained rows, heads,
# fork evidence) and store/gate.c (steps 2 and 3: signature and chain
# links); verify, store/verify.c. HTML with annotated sources goes to
# build-cov/coverage/index.html, the JSON summary to build-cov/coverage.json.
#
# A failing test does not stop the report (its counters still count); the
# exit status is 0 unless the build fails, or COV_GATE=1 and a goal is
# missed. Environment: COV_BUILD (default build-cov), COV_SUITES (default
# "unit e2e").
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${COV_BUILD:-build-cov}
SUITES=${COV_SUITES:-unit e2e}

if ! command -v gcovr >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y gcovr >/dev/null ||
            { echo "coverage: cannot install gcovr" >&2; exit 2; }
    else
        echo "coverage: gcovr is missing (apt-get install gcovr)" >&2
        exit 2
    fi
fi

if [ "${1:-}" != --report ]; then
    if [ ! -f "$B/build.ninja" ]; then
        meson setup "$B" -Db_coverage=true --buildtype=debug >/dev/null ||
            { echo "coverage: meson setup failed" >&2; exit 2; }
    fi
    ninja -C "$B" >/dev/null || { echo "coverage: build failed" >&2; exit 2; }
    # Counters of an earlier run would add up.
    find "$B" -name '*.gcda' -delete
    args=()
    for s in $SUITES; do args+=(--suite "$s"); done
    meson test -C "$B" "${args[@]}" --print-errorlogs >"$B/coverage-tests.log" 2>&1
    echo "# tests (exit $?):"
    grep -E '^ *[0-9]+/[0-9]+ ' "$B/coverage-tests.log" | sed 's/^/#   /'
fi

filters=(-f 'store/' -f 'crypto/' -f 'sync/' -f 'plan/')
common=(-r "$ROOT" "${filters[@]}" --exclude-unreachable-branches "$B")
echo
echo "## Lines"
gcovr "${common[@]}" --txt
echo
echo "## Branches"
gcovr "${common[@]}" --txt --branches
mkdir -p "$B/coverage"
gcovr "${common[@]}" --html-details "$B/coverage/index.html" \
    --json-summary-pretty --json-summary "$B/coverage.json" >/dev/null

python3 - "$B/coverage.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
files = {f["filename"]: f for f in s["files"]}
passed = failed = 0
def goal(ok, text):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print("%s - %s" % ("ok" if ok else "MISSED", text))
print()
print("## T19 goals")
for name in ("store/entry.c", "store/rules.c", "store/auth.c",
             "store/log.c", "store/gate.c", "store/verify.c"):
    f = files.get(name)
    if not f:
        goal(False, "%s: no coverage data" % name)
        continue
    goal(f["line_percent"] >= 90, "%s: lines %.1f %% (%d/%d), goal 90 %%"
         % (name, f["line_percent"], f["line_covered"], f["line_total"]))
    goal(f["branch_percent"] >= 80, "%s: branches %.1f %% (%d/%d), goal 80 %%"
         % (name, f["branch_percent"], f["branch_covered"], f["branch_total"]))
goal(s["line_percent"] >= 75, "store/ crypto/ sync/ plan/: lines %.1f %% "
     "(%d/%d), goal 75 %%" % (s["line_percent"], s["line_covered"],
                              s["line_total"]))
print("branches over the four folders: %.1f %% (%d/%d)"
      % (s["branch_percent"], s["branch_covered"], s["branch_total"]))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
goals=$?
echo "# HTML: $B/coverage/index.html"
if [ "${COV_GATE:-0}" = 1 ]; then
    exit $goals
fi
exit 0
