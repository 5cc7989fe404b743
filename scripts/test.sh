#!/usr/bin/env bash
# Build ntm twice - plain, and with AddressSanitizer + UndefinedBehaviorSanitizer -
# and run every test suite (cmocka unit suites, end-to-end suites over real TLS
# on 127.0.0.1, the lint check) in both, then a short fuzzing run.
# Installs missing Debian packages first.
# Usage: scripts/test.sh            (both builds)
#        NTM_TEST_BUILDS=plain scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests

builds=${NTM_TEST_BUILDS:-"plain sanitize"}
passed=0
failed=0
skipped=0
skipped_names=
status=0
for b in $builds; do
    dir=build-test-$b
    opts=(-Dwerror=true)
    [ "$b" = sanitize ] && opts+=(-Dsanitize=true -Db_lundef=true)
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "${opts[@]}" >/dev/null
    fi
    ninja -C "$dir" >/dev/null
    echo "== tests ($b build)"
    # verify_asan_link_order=0: the clock drills preload libfaketime.
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # The plain build's suites mostly wait (servers, sleeps, timeouts): the
    # TSan server and the fuzzing targets compile meanwhile, on one core at
    # low priority, so their build time is hidden (the flake runs show the
    # suites pass under heavier load than this).
    if [ "$b" = plain ]; then
        [ "${NTM_T18:-1}" = 0 ] ||
            nice -n 10 scripts/tsan.sh -C build-test-tsan --build >/dev/null 2>&1 &
        [ "${NTM_FUZZ_SECONDS:-5}" -gt 0 ] &&
            nice -n 10 env JOBS=1 scripts/fuzz.sh --build >/dev/null 2>&1 &
    fi
    # Suite plain_only runs in the plain build only: the soak (T13) judges
    # the server's RSS, which ASan's quarantine grows by design, and the
    # second chaos seed (the sanitizers watch the first).
    if ! meson test -C "$dir" --print-errorlogs --num-processes 2 \
            $([ "$b" = sanitize ] && echo --no-suite plain_only) \
            --timeout-multiplier "$([ "$b" = sanitize ] && echo 3 || echo 1)"; then
        status=1
    fi
    # Count results from meson's JSON log. A skipped suite (exit 77: a tool
    # missing, no permission) is neither passed nor failed: it is counted
    # and named.
    read -r p f s names < <(python3 - "$dir/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = 0
skipped = []
for line in open(sys.argv[1]):
    t = json.loads(line)
    r = t.get("result")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        skipped.append(t.get("name", "?"))
    else:
        f += 1
print(p, f, len(skipped), ",".join(skipped) or "-")
PY
)
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    if [ "$s" -gt 0 ]; then
        echo "== skipped ($b build): ${names//,/, }"
        skipped_names="$skipped_names $b:${names//,/ $b:}"
    fi
done
wait # the background builds (a failed one fails again below, and says why)
# T18: the fast unit suites under valgrind memcheck, and the server built
# with ThreadSanitizer under concurrent push and pull (plain build only).
# NTM_T18=0 skips both.
if [ "${NTM_T18:-1}" != 0 ] && [[ " $builds " == *" plain "* ]]; then
    for t in "valgrind.sh -C build-test-plain" "tsan.sh -C build-test-tsan -P build-test-plain"; do
        echo "== T18: scripts/$t"
        # shellcheck disable=SC2086
        if scripts/$t; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            status=1
        fi
    done
fi
# Fuzzing (T08): libFuzzer targets under ASan+UBSan, a short run each, and
# every saved crasher replayed. NTM_FUZZ_SECONDS=0 skips it.
fuzz_s=${NTM_FUZZ_SECONDS:-5}
if [ "$fuzz_s" -gt 0 ]; then
    echo "== fuzzing ($fuzz_s s per target)"
    if scripts/fuzz.sh "$fuzz_s"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        status=1
    fi
else
    echo "== fuzzing skipped (NTM_FUZZ_SECONDS=0)"
    skipped=$((skipped + 1))
    skipped_names="$skipped_names fuzzing"
fi
echo "suites: $passed passed, $failed failed, $skipped skipped${skipped_names:+ (}${skipped_names# }${skipped_names:+)}"
exit $status
