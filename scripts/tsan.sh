#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tsan.sh - RELIABILITY.md T18: ntm serve built with ThreadSanitizer
# (meson -Dtsan=true, in BUILD, default build-tsan; the library and the
# tool only) and driven by tests/e2e/reliab_tsan.sh: 4 worker threads under
# concurrent push, pull and health checks from plain-built devices (the
# plain build in -P, default build). Any ThreadSanitizer report fails it;
# tests/tsan.supp holds only explained suppressions.
# Usage: scripts/tsan.sh [-C BUILD] [-P PLAIN_BUILD] [--deep] [--build]
#   --deep: 12 devices x 60 entries in 6 rounds (CI: 6 x 18 in 3).
#   --build: only build the server (on one core), no drill.
# Prints the drill's checks and "N passed, N failed".
set -u
build=build-tsan
plain=build
deep=0
build_only=0
while [ $# -gt 0 ]; do
    case $1 in
    -C) build=$2; shift 2 ;;
    -P) plain=$2; shift 2 ;;
    --deep) deep=1; shift ;;
    --build) build_only=1; shift ;;
    *) sed -n '4,13p' "$0"; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
root=$PWD
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dtsan=true -Dtests=false -Dwerror=true >/dev/null || exit 1
fi
# --build: only build the server, on one core (scripts/test.sh does it
# in the background while the plain build's suites run).
if [ "$build_only" = 1 ]; then
    exec ninja -j1 -C "$build" cli/ntm >/dev/null
fi
ninja -C "$build" cli/ntm >/dev/null || exit 1
ninja -C "$plain" cli/ntm >/dev/null || exit 1
logdir=$(mktemp -d "${TMPDIR:-/tmp}/ntm-tsan.XXXXXX")
trap 'rm -rf "$logdir"' EXIT
export TSAN_LOG=$logdir/tsan
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 log_path=$TSAN_LOG suppressions=$root/tests/tsan.supp"
export NTM_BIN=$root/$plain/cli/ntm NTM_SERVER_BIN=$root/$build/cli/ntm
export NTM_CONFIG_DIR=$root/config NTM_SRC=$root
if [ "$deep" = 1 ]; then
    export NTM_TSAN_DEVICES=12 NTM_TSAN_ENTRIES=60 NTM_TSAN_ROUNDS=6
else
    export NTM_TSAN_DEVICES=${NTM_TSAN_DEVICES:-6} NTM_TSAN_ENTRIES=${NTM_TSAN_ENTRIES:-18} NTM_TSAN_ROUNDS=${NTM_TSAN_ROUNDS:-3}
fi
echo "== T18 ThreadSanitizer: server $NTM_SERVER_BIN, $NTM_TSAN_DEVICES devices x $NTM_TSAN_ENTRIES entries, $NTM_TSAN_ROUNDS rounds"
bash tests/e2e/reliab_tsan.sh
