#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# deep.sh - the deep tier of RELIABILITY.md's battery: every T-test at its
# deep-tier size, one after the other, and a figures table in Markdown
# (test, size, duration, invariant results, lost / duplicated / forged
# counts, crashes, RSS drift). Run by hand, never in CI.
#
# Usage: scripts/deep.sh [--scale S] [--out FILE] [--only T01,T05,...]
#                        [-C BUILD] [--san BUILD]
#   --scale S  multiply every deep-tier size by S (default 1: the deep tier;
#              0.01 ran the whole list in 68 minutes on the 2-core machine
#              shared with other builds, of which T18-asan (19 min: the
#              ASan build and every suite) and T19 (18 min: the coverage
#              build and every suite) do not scale with S; T06 6 min, T08
#              6 min, T05+T07 3.5 min, the rest under 2 min each).
#   --out      the Markdown file (default deep-figures.md); each test's
#              full output goes to deep-logs/<T>.log beside it.
#   --only     only these tests (ids as in the table).
#   -C         the plain build (default build); --san the AddressSanitizer
#              build for T18 (default build-san; made when missing).
# How long it takes at --scale 1, on the 2-core reference machine: T01-T03
# ~3 h (1,000/500/500 kill points), T04 23 min (5,000 snapshots x 3
# damages, measured), T05 ~2 h (every N, 500 entries), T06/T07/T17 ~2 h
# (every allocation, 100,000 flips), T08 8 h (2 h for each of 4 targets),
# T10 and T13 2.5 h (T10's 500-connection slowloris 31 min, measured),
# T12 ~2 h (128,000 record commands, then 64 clients pulling them all; 64
# x 100 took 8 min), T14 1 h (20 seeds x 3 min), T18 ~1 h, T19 20 min,
# T20 ~30 min (41 mutants): about 25 hours in all; run it over a weekend,
# or --only a part.
# A row's "invariants" column is the test's own "N passed, N failed" line;
# lost/duplicated/forged are the counts its invariant checks assert (a
# failing I1/I3/forgery check shows as "see log"); crashes counts ntm
# processes that died of a signal we did not send.
set -u
scale=1
out=deep-figures.md
only=
build=build
san=build-san
while [ $# -gt 0 ]; do
    case $1 in
    --scale) scale=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --only) only=",$2,"; shift 2 ;;
    -C) build=$2; shift 2 ;;
    --san) san=$2; shift 2 ;;
    *) sed -n '4,34p' "$0"; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
root=$PWD
[ -f "$build/build.ninja" ] || meson setup "$build" -Dwerror=true >/dev/null
ninja -C "$build" >/dev/null || { echo "deep: the build fails"; exit 2; }
case $out in /*) ;; *) out=$root/$out ;; esac
logs=$(dirname "$out")/deep-logs
mkdir -p "$logs"

full=$(awk -v s="$scale" 'BEGIN { print (s >= 1) }')
# sz DEEP [MIN]: DEEP x scale, at least MIN (default 1), an integer.
sz() { awk -v d="$1" -v s="$scale" -v m="${2:-1}" 'BEGIN { v = int(d * s + 0.5); print (v < m ? m : v) }'; }
export NTM_BIN=$root/$build/cli/ntm NTM_CONFIG_DIR=$root/config NTM_SRC=$root
export NTM_FAILIO_LIB=$root/$build/tests/libntm_failio.so MALLOC_PERTURB_=0
export CMOCKA_MESSAGE_OUTPUT=STDOUT LANGUAGE=en
E2E=$root/tests/e2e
UNIT=$root/$build/tests

rows=()
# row ID SIZE CMD...: run one test, its output in deep-logs/ID.log, and
# add its figures row.
row() {
    local id=$1 size=$2
    shift 2
    if [ -n "$only" ] && [[ "$only" != *",$id,"* ]]; then return; fi
    local log=$logs/$id.log t0 rc secs
    echo "== $id ($size): $*"
    t0=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - t0))
    # The sum of every "N passed, N failed" (or "N killed, N survived")
    # line of the row's scripts, and of cmocka's "[  PASSED  ] n test(s)."
    # and "[  FAILED  ] n test(s)" lines.
    local summary
    summary=$(grep -E '(^|: )[0-9]+ (passed|killed), [0-9]+ (failed|survived)' "$log" |
        sed -E 's/.*(^|: )([0-9]+) (passed|killed), ([0-9]+) (failed|survived).*/\2 \4 \3 \5/' |
        awk '{p += $1; f += $2; a = $3; b = $4} END { if (NR) printf "%d %s, %d %s", p, a, f, b }')
    local p f
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
    # A row that is a meson test run (T18-asan) counts meson's suites.
    if [ -z "$summary" ] && grep -qE '^Ok: +[0-9]+' "$log"; then
        local mo mf
        mo=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log" | awk '{s += $1} END {print s + 0}')
        mf=$(sed -nE 's/^(Fail|Timeout|Unexpected Pass): *([0-9]*).*/\2/p' "$log" | awk '{s += $1} END {print s + 0}')
        summary="$mo suites passed, $mf failed"
    elif [ -z "$summary" ]; then
        summary="$p passed, $f failed"
    elif [ "$p" -gt 0 ] || [ "$f" -gt 0 ]; then
        summary="$summary; unit: $p passed, $f failed"
    fi
    local lost=0 dup=0 forged=0 crashes=0 drift="–"
    # The tests that count them print totals lines; the others assert 0
    # in their invariant checks: a failing one is flagged below.
    local tl
    tl=$(grep -E '^(T05 totals|T13 figures):' "$log" | tail -1)
    if [ -n "$tl" ]; then
        lost=$(sed -n 's/.* \([0-9]*\) lost.*/\1/p; s/.*lost \([0-9]*\).*/\1/p' <<<"$tl" | head -1)
        dup=$(sed -n 's/.* \([0-9]*\) duplicated.*/\1/p; s/.*duplicated \([0-9]*\).*/\1/p' <<<"$tl" | head -1)
        crashes=$(sed -n 's/.* \([0-9]*\) crashes.*/\1/p; s/.*crashes \([0-9]*\).*/\1/p' <<<"$tl" | head -1)
        drift=$(sed -n 's/.*worst RSS drift in a lifetime \([-0-9.]*\) %.*/\1 %/p' <<<"$tl")
        [ -n "$drift" ] || drift="–"
    fi
    if grep -qE '^(FAIL|not ok).*(I1|lost|acknowledged)' "$log"; then lost="see log"; fi
    if grep -qE '^(FAIL|not ok).*(I3|twice|duplicat)' "$log"; then dup="see log"; fi
    if grep -qE '^(FAIL|not ok).*(forg|signature|bad_sig)' "$log"; then forged="see log"; fi
    local c
    c=$(grep -vE '^ok - ' "$log" | grep -cE 'AddressSanitizer|Segmentation fault|core dumped|crashed \(signal|died (of|from)')
    [ "$c" -gt 0 ] && crashes=$((${crashes:-0} + c))
    local verdict=ok
    [ "$rc" -eq 0 ] || verdict="**FAILED** (exit $rc)"
    [ "$rc" -eq 77 ] && verdict="skipped (a tool is missing)"
    rows+=("| $id | $size | ${secs} s | $summary | ${lost:-0} | ${dup:-0} | ${forged:-0} | ${crashes:-0} | $drift | $verdict |")
    echo "   $summary, ${secs} s, $verdict"
}

# The list: RELIABILITY.md's deep-tier sizes, times the scale.
n1=$(sz 1000) n2=$(sz 500) n3=$(sz 500)
row T01-T03 "kill -9: $n1 client mid-push, $n2 server mid-push, $n3 mid-pull" \
    env T01_ROUNDS="$n1" T02_ROUNDS="$n2" T03_ROUNDS="$n3" bash "$E2E/sync_faults.sh"
n=$(sz 5000)
row T04 "$n power-loss snapshots x 3 damages, FULL and NORMAL" \
    env NTM_POWERLOSS_SNAPSHOTS="$n" NTM_POWERLOSS_DAMAGES=3 "$UNIT/test_powerloss"
e=$(sz 500 20)
p=$(awk -v s="$scale" 'BEGIN { print (s >= 1 ? 0 : int(200 * s + 4)) }')
row T05 "I/O errors (EIO): push/record/pull/import/export of $e, N: $([ "$p" = 0 ] && echo every || echo "$p points")" \
    env NTM_T05_ENTRIES="$e" NTM_T05_POINTS="$p" NTM_T05_MAXN=100000 bash "$E2E/reliab_io.sh"
n=$(sz 100000 300)
st=$([ "$full" = 1 ] && echo 1 || echo 4)
row T06-T07-T17u "OOM every N (persistent stride $st), disk full, $n byte flips (unit)" \
    env NTM_OOM_STRIDE="$st" NTM_FLIPS="$n" "$UNIT/test_faults"
row T07 "disk full (ENOSPC) injected through push/record/pull of $e, N: $([ "$p" = 0 ] && echo every || echo "$p points")" \
    env NTM_FAILIO_ERRNO=ENOSPC NTM_T05_ENTRIES="$e" NTM_T05_POINTS="$p" NTM_T05_MAXN=100000 \
    NTM_T05_SCENARIOS="record pull push" bash "$E2E/reliab_io.sh"
n=$(sz 7200 10)
row T08 "fuzzing, $n s per target, saved crashers replayed" scripts/fuzz.sh "$n"
row T09 "threat table: authority, HTTP" \
    bash -c "for s in threat_authority threat_http; do bash '$E2E/'\$s.sh || exit 1; done"
n=$(sz 1800 14) c=$(sz 500 40)
row T10-T11 "slowloris / slow POST for $n s ($c connections), abusive sizes" \
    env SLOW_SECONDS="$n" SLOW_CONNS="$c" bash -c "bash '$E2E/threat_server.sh' && bash '$E2E/sync_abuse.sh'"
c=$(sz 64 8) per=$(sz 2000 100)
row T12 "load: $c clients x $per entries" env CLIENTS="$c" PER="$per" bash "$E2E/sync_load.sh"
n=$(sz 7200 60) r=$(sz 300 20)
row T13 "soak $n s, server restarted every $r s, flaky link" \
    env NTM_SOAK_SECONDS="$n" NTM_SOAK_RESTART="$r" bash "$E2E/reliab_soak.sh"
seeds=$(sz 20 1) dur=$(sz 180 30)
row T14 "convergence: $seeds seeds x $dur s, kill -9, toxics, clocks, fork" \
    bash -c "for i in \$(seq 1 $seeds); do DURATION=$dur CHAOS_DEEP=1 bash '$E2E/chaos_converge.sh' || exit 1; done"
row T15-T16-T21-T22 "TLS, key at rest, clock skew, Ed25519 vectors" \
    bash -c "bash '$E2E/threat_tls.sh' && bash '$E2E/threat_clock.sh' && bash '$E2E/lifecycle_keys.sh' && '$UNIT/test_crypto'"
row T17 "tamper drill: flips, swaps, rollback (e2e)" bash "$E2E/verify_drill.sh"
if [ "$full" = 1 ]; then
    row T18 "valgrind on every unit suite; TSan server 12 devices x 60 entries" \
        bash -c "scripts/valgrind.sh -C '$build' --all && scripts/tsan.sh -P '$build' --deep"
else
    row T18 "valgrind on the fast unit suites; TSan server 6 devices x 18 entries" \
        bash -c "scripts/valgrind.sh -C '$build' && scripts/tsan.sh -P '$build'"
fi
row T18-asan "ASan+UBSan build: unit and e2e suites" \
    bash -c "[ -f '$san/build.ninja' ] || meson setup '$san' -Dsanitize=true -Db_lundef=true -Dwerror=true >/dev/null; ninja -C '$san' >/dev/null && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0 meson test -C '$san' --num-processes 2 --timeout-multiplier 3 --no-suite soak"
row T19 "coverage" scripts/coverage.sh
if [ "$full" = 1 ]; then
    row T20 "mutation smoke: every mutant" scripts/mutation.sh
else
    m=$(sz 30 2)
    row T20 "mutation smoke: the first $m mutants" scripts/mutation.sh $(seq 1 "$m")
fi

{
    echo "# Deep-tier figures"
    echo
    echo "scripts/deep.sh --scale $scale on $(uname -n), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)."
    echo
    echo "| test | size | duration | invariants | lost | duplicated | forged | crashes | RSS drift | result |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$out"
cat "$out"
echo "figures in $out, logs in $logs/"
! printf '%s\n' "${rows[@]}" | grep -q FAILED
