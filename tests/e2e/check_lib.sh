# check_lib.sh - the check helpers every end-to-end script shares: ok and
# not_ok count results, skip counts a check that cannot run here, run/expect
# drive ntm with stdout in $T/out, stderr in $T/err and the exit status in
# rc (run_all: any command, both streams in $T/out), has looks for a fixed
# text in a file, finish prints "N passed, N failed" (", N skipped") and
# exits 1 on a failure, else 77 (meson's skip) when a check was skipped,
# else 0: a skipped check never counts as passed.
# Needs NTM (the ntm binary) and T (a scratch folder) set before use.
#
# The suites read ntm's English messages, and a new home speaks Vietnamese
# unless told otherwise: LANGUAGE=en says English for every ntm run (and
# changes no locale, unlike LC_MESSAGES). i18n_vi.sh and i18n_leaks.sh
# choose their language themselves.
export LANGUAGE=en
# Times shown to people are in the home's zone (Asia/Ho_Chi_Minh unless
# set); TZ=UTC keeps the suites' times and "today" those of date(1) here.
export TZ=UTC
passed=0
failed=0
skipped=0
ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}
not_ok() {
    echo "FAIL - $1"
    failed=$((failed + 1))
    if [ -s "$T/err" ]; then sed 's/^/    stderr: /' "$T/err" | head -5; fi
}
# skip DESCRIPTION: a check that cannot run here (a tool is missing)
skip() {
    echo "skip - $1"
    skipped=$((skipped + 1))
}

# run HOME ARGS...: run ntm, stdout in $T/out, stderr in $T/err, status in rc
rc=0
run() {
    local home=$1
    shift
    "$NTM" --home "$home" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
# run_all COMMAND...: any command, stdout and stderr together in $T/out
# ($T/err emptied), status in rc
run_all() {
    "$@" >"$T/out" 2>&1
    rc=$?
    : >"$T/err"
}
# expect CODE DESCRIPTION HOME ARGS...
expect() {
    local want=$1 desc=$2
    shift 2
    run "$@"
    if [ "$rc" -eq "$want" ]; then ok "$desc"; else
        not_ok "$desc (exit $rc, wanted $want)"
    fi
}
# check DESCRIPTION COMMAND...: a shell test
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
json_ok() { [ -s "$T/out" ] && jq -e "$1" "$T/out" >/dev/null 2>&1; }
out_has() { grep -qi -- "$1" "$T/out"; }
err_has() { grep -qi -- "$1" "$T/err"; }
# has DESCRIPTION TEXT FILE: FILE holds TEXT (a fixed string); the start
# of FILE is shown when it does not
has() {
    if grep -qF -- "$2" "$3"; then ok "$1"; else
        not_ok "$1 (no '$2')"
        sed 's/^/    out: /' "$3" 2>/dev/null | head -5
    fi
}
finish() {
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
    [ "$failed" -eq 0 ] || exit 1
    [ "$skipped" -eq 0 ] || exit 77
    exit 0
}
