#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# flake.sh - run the end-to-end suites again and again under load and count
# the runs that fail: the flake count. Each suite runs as meson would run it
# (command, environment and timeout from `meson introspect --tests`), in
# LANES parallel lanes, so every suite runs while another suite loads the
# machine. Lane i starts its list rotated by i/LANES of its length, so the
# pairs that overlap change from lane to lane; one suite never runs in two
# lanes at once (a lock per suite: examples installs into the build dir).
#
# Usage: scripts/flake.sh [-C BUILD] [-l LANES] [-s SUITE_REGEX] [PASSES]
#   PASSES  passes over the e2e suites in all (default 20), shared by the
#           lanes (so PASSES=20, LANES=2: each lane makes 10 passes).
#   -C      the build directory (default build).
#   -l      lanes run at once (default 2).
#   -s      only suites whose name matches this extended regex.
# A failed run's output is kept in BUILD/flake-logs/. Prints one line per
# failed run, a per-suite table of failures and, last:
#   "flakes: N of M runs (P passes x S suites)" and "N passed, N failed".
# Exit 0 when no run failed. A skipped run (exit 77) counts as neither.
set -u
build=build
lanes=2
only=.
while getopts C:l:s: o; do
    case $o in
    C) build=$OPTARG ;;
    l) lanes=$OPTARG ;;
    s) only=$OPTARG ;;
    *) sed -n '4,22p' "$0"; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
passes=${1:-20}
cd "$(dirname "$0")/.."
[ -f "$build/build.ninja" ] || { echo "flake: no build in $build (meson setup $build)"; exit 2; }
ninja -C "$build" >/dev/null || exit 2

logs=$build/flake-logs
rm -rf "$logs"
mkdir -p "$logs/locks"
# One line per e2e suite: name TAB timeout TAB env (k=v\0...) as base64
# TAB cmd (\0-separated) as base64.
meson introspect "$build" --tests | python3 -c '
import base64, json, re, sys
only = re.compile(sys.argv[1])
for t in json.load(sys.stdin):
    if not any(s.endswith(":e2e") or s == "e2e" for s in t["suite"]):
        continue
    if not only.search(t["name"]):
        continue
    env = "\0".join(k + "=" + v for k, v in t["env"].items())
    cmd = "\0".join(t["cmd"])
    print(t["name"], t["timeout"] or 900,
          base64.b64encode(env.encode()).decode(),
          base64.b64encode(cmd.encode()).decode(), sep="\t")
' "$only" >"$logs/suites.tsv"
mapfile -t suites <"$logs/suites.tsv"
n=${#suites[@]}
[ "$n" -gt 0 ] || { echo "flake: no e2e suite matches '$only'"; exit 2; }

# run_one LANE PASS INDEX: one run of suite INDEX; appends "name rc secs"
# to the lane's results.
run_one() {
    local lane=$1 pass=$2 line=${suites[$3]}
    local name timeout envb cmdb
    IFS=$'\t' read -r name timeout envb cmdb <<<"$line"
    local -a envs cmd
    mapfile -d '' -t envs < <(printf '%s' "$envb" | base64 -d)
    mapfile -d '' -t cmd < <(printf '%s' "$cmdb" | base64 -d)
    local out=$logs/$name.lane$lane.pass$pass.log t0 rc
    t0=$(date +%s)
    (
        flock 9
        env "${envs[@]}" MESON_TEST_ITERATION=1 \
            timeout -s KILL "$timeout" "${cmd[@]}" >"$out" 2>&1 </dev/null
    ) 9>"$logs/locks/$name"
    rc=$?
    echo "$name $rc $(($(date +%s) - t0))" >>"$logs/lane$lane.results"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
        echo "FLAKE - $name (lane $lane, pass $pass, exit $rc): $out"
        grep -E '^(FAIL|not ok|KNOWN BUG)' "$out" | head -5 | sed 's/^/    /'
    else
        rm -f "$out"
    fi
}

lane() {
    local l=$1 p i k start=$((l * n / lanes))
    for ((p = l; p < passes; p += lanes)); do
        for ((k = 0; k < n; k++)); do
            i=$(((start + k) % n))
            run_one "$l" "$p" "$i"
        done
    done
}

echo "flake: $passes passes over $n e2e suites in $lanes lanes ($build)"
t0=$(date +%s)
pids=()
for ((l = 0; l < lanes; l++)); do
    lane "$l" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

cat "$logs"/lane*.results 2>/dev/null | python3 -c '
import sys
runs = {}
for line in sys.stdin:
    name, rc, secs = line.split()
    r = runs.setdefault(name, [0, 0, 0, 0])
    rc = int(rc)
    r[0] += 1
    r[1] += rc not in (0, 77)
    r[2] += rc == 77
    r[3] = max(r[3], int(secs))
total = sum(r[0] for r in runs.values())
bad = sum(r[1] for r in runs.values())
print("| suite | runs | failed | skipped | longest (s) |")
print("|---|---|---|---|---|")
for name in sorted(runs):
    r = runs[name]
    print(f"| {name} | {r[0]} | {r[1]} | {r[2]} | {r[3]} |")
print(f"flakes: {bad} of {total} runs", end="")
' | tee "$logs/summary.md"
flakes=$(cat "$logs"/lane*.results 2>/dev/null | awk '$2 != 0 && $2 != 77' | wc -l)
total=$(cat "$logs"/lane*.results 2>/dev/null | wc -l)
echo " ($passes passes x $n suites, $(($(date +%s) - t0)) s)"
echo "$((total - flakes)) passed, $flakes failed"
[ "$flakes" -eq 0 ]
