#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fuzz.sh - build the libFuzzer targets of tests/fuzz/ and run them
# (RELIABILITY.md T08, CI tier).
#
#   scripts/fuzz.sh [SECONDS]     build, replay tests/fuzz/crashers/, then
#                                 run each target for SECONDS (default 30)
#   scripts/fuzz.sh --build       build only
#   scripts/fuzz.sh --regen       build, then rewrite the generated seeds
#                                 (fuzz_keys.h, fuzz_base.h, corpus/*/y_*)
#
# Not meson: the library sources named in */meson.build (*_sources) are
# compiled straight with clang into build-fuzz/ with
# -fsanitize=fuzzer-no-link,address,undefined, and each target is linked
# with -fsanitize=fuzzer,address,undefined. A target passes when libFuzzer
# exits 0 (no crash, leak, timeout, out-of-memory or UBSan report).
# Environment: CC (default clang-14, else clang), JOBS (parallel compiles),
# FUZZ_TARGETS (space-separated subset), FUZZ_ARGS (extra libFuzzer flags).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build-fuzz
FZ=$ROOT/tests/fuzz
TARGETS=${FUZZ_TARGETS:-"fuzz_entry fuzz_push fuzz_pull_parse fuzz_json_depth"}

mode=run
secs=30
case "${1:-}" in
--build) mode=build ;;
--regen) mode=regen ;;
'') ;;
*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS | --build | --regen]" >&2
    exit 2 ;;
*) secs=$1 ;;
esac

# ---------------------------------------------------------------- toolchain
need_pkgs=()
command -v clang-14 >/dev/null 2>&1 || command -v clang >/dev/null 2>&1 ||
    need_pkgs+=(clang)
ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
    >/dev/null 2>&1 || need_pkgs+=(libclang-rt-14-dev)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "fuzz: installing ${need_pkgs[*]}"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq >/dev/null &&
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
            "${need_pkgs[@]}" >/dev/null ||
        { echo "fuzz: cannot install ${need_pkgs[*]}" >&2; exit 1; }
fi
CC=${CC:-$(command -v clang-14 || command -v clang)}
PKGS="libsodium sqlite3 jansson libcurl libmicrohttpd zlib libutf8proc libturbojpeg"
PKG_CFLAGS=$(pkg-config --cflags $PKGS) || exit 1
PKG_LIBS=$(pkg-config --libs $PKGS) || exit 1

# ---------------------------------------------------------------- build
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -DNTM_VERSION=\"fuzz\"
 -DNTM_CONFIG_DIR_DEFAULT=\"$ROOT/config\" -fno-omit-frame-pointer
 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
 -Iutil -Icrypto -Istore -Iplan -Isync -I. $PKG_CFLAGS -w"
LDFLAGS="-fsanitize=fuzzer,address,undefined"

# The library's sources (and the server's), as listed by each module's
# meson.build (<module>_sources, server_sources), and the top's init.c.
lib_sources() {
    for m in util crypto store plan sync; do
        awk '/_sources \+?= .*files\(/{f=1} f{print} f&&/\)/{f=0}' \
            "$m/meson.build" | grep -o "'[^']*\.c'" | tr -d "'" |
            sed "s|^|$m/|"
    done | sort -u
    echo init.c
}

mkdir -p "$OUT/obj"
objs=()
pids=()
jobs_max=${JOBS:-$(nproc)}
build_fail=0
compile() { # src obj
    if [ ! -f "$2" ] || [ "$1" -nt "$2" ] || [ "$0" -nt "$2" ] ||
        [ -n "$(find util crypto store plan sync -name '*.h' -newer "$2" \
            2>/dev/null | head -1)" ]; then
        $CC $CFLAGS -DNTM_BUILDING_LIBRARY -c "$1" -o "$2" || return 1
    fi
}
for src in $(lib_sources); do
    obj=$OUT/obj/$(echo "${src%.c}" | tr / _).o
    objs+=("$obj")
    compile "$src" "$obj" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs_max" ]; then
        wait "${pids[0]}" || build_fail=1
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p" || build_fail=1; done
[ $build_fail = 0 ] || { echo "fuzz: library build failed" >&2; exit 1; }

if [ $mode = regen ]; then
    # The generator writes the headers the targets include: build it first.
    $CC $CFLAGS -fno-sanitize=fuzzer-no-link -I"$FZ" -c "$FZ/gen_corpus.c" \
        -o "$OUT/obj/gen_corpus.o" &&
        $CC -fsanitize=address,undefined -fsanitize=fuzzer-no-link \
            -o "$OUT/gen_corpus" "$OUT/obj/gen_corpus.o" "${objs[@]}" \
            $PKG_LIBS -lpthread &&
        "$OUT/gen_corpus" "$FZ" || exit 1
fi

# Targets that #include a library .c to reach its static functions link
# every object but that one (see the top of the target's source).
link_target() { # name
    local t=$1 skip use=()
    skip=$(sed -n 's|^/\* fuzz-replaces: \(.*\.c\) \*/$|\1|p' "$FZ/$t.c")
    for o in "${objs[@]}"; do
        if [ -n "$skip" ] &&
            [ "$o" = "$OUT/obj/$(echo "${skip%.c}" | tr / _).o" ]; then
            continue
        fi
        use+=("$o")
    done
    $CC $CFLAGS -I"$FZ" -c "$FZ/$t.c" -o "$OUT/obj/$t.o" &&
        $CC $LDFLAGS -o "$OUT/$t" "$OUT/obj/$t.o" "${use[@]}" $PKG_LIBS \
            -lpthread
}
for t in $TARGETS; do
    link_target "$t" || { echo "fuzz: cannot build $t" >&2; exit 1; }
done
echo "fuzz: built $TARGETS into build-fuzz/"
[ $mode = run ] || exit 0


# ---------------------------------------------------------------- replay
passed=0
failed=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
shopt -s nullglob
crashers=("$FZ"/crashers/*/*)
if [ ${#crashers[@]} -gt 0 ]; then
    for t in $TARGETS; do
        files=("$FZ/crashers/$t"/*)
        [ ${#files[@]} -gt 0 ] || continue
        log=$OUT/replay-$t.log
        if "$OUT/$t" -runs=1 -timeout=2 -rss_limit_mb=512 "${files[@]}" \
            >"$log" 2>&1; then
            echo "replay $t: ${#files[@]} saved inputs: ok"
            passed=$((passed + 1))
        else
            echo "replay $t: FAILED (see build-fuzz/replay-$t.log)"
            grep -m3 -E 'ERROR|runtime error|SUMMARY' "$log" | sed 's/^/    /'
            failed=$((failed + 1))
        fi
    done
fi

# ---------------------------------------------------------------- fuzz
for t in $TARGETS; do
    work=$OUT/corpus/$t
    mkdir -p "$work" "$OUT/artifacts/$t"
    log=$OUT/$t.log
    dict=()
    [ -f "$FZ/$t.dict" ] && dict=(-dict="$FZ/$t.dict")
    # New inputs go to build-fuzz/corpus/<t>; the committed seeds are read.
    "$OUT/$t" -max_total_time="$secs" -timeout=2 -rss_limit_mb=512 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" \
        "${dict[@]}" ${FUZZ_ARGS:-} "$work" "$FZ/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ $rc = 0 ]; then
        echo "$t: ok: ${execs:-?} execs (${rate:-?}/s), ${cov:-cov: ?}"
        passed=$((passed + 1))
    else
        echo "$t: FAILED (exit $rc): ${execs:-?} execs; log build-fuzz/$t.log"
        grep -m3 -E '^==[0-9]+==ERROR|runtime error|^SUMMARY|Test unit written' \
            "$log" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
