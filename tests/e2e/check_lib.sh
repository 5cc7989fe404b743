# check_lib.sh - the check helpers every end-to-end script shares: ok and
# not_ok count results, run/expect drive ntm with stdout in $T/out, stderr
# in $T/err and the exit status in rc, finish prints "N passed, N failed".
# Needs NTM (the ntm binary) and T (a scratch folder) set before use.
passed=0
failed=0
ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}
not_ok() {
    echo "FAIL - $1"
    failed=$((failed + 1))
    if [ -s "$T/err" ]; then sed 's/^/    stderr: /' "$T/err" | head -5; fi
}

# run HOME ARGS...: run ntm, stdout in $T/out, stderr in $T/err, status in rc
rc=0
run() {
    local home=$1
    shift
    "$NTM" --home "$home" "$@" >"$T/out" 2>"$T/err"
    rc=$?
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
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
