#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# example.sh - build examples/record_sync.c against an INSTALLED libntm,
# found with pkg-config alone, and run it against a real `ntm serve` over
# TLS on 127.0.0.1:
#   1. `meson install --destdir D` of a build (a fresh one with a temporary
#      prefix; or, as the e2e test "examples", the build under test);
#   2. cc record_sync.c $(pkg-config --cflags --libs libntm), with
#      PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR pointing into D (no
#      source or build folder on any path);
#   3. the installed ntm (from D) makes a root admin home and a server home
#      and serves; the example records an activity checked against the
#      installed plan (<datadir>/ntm in D) and pushes and pulls it; the
#      server must then hold it.
#
# Usage: scripts/example.sh                 (fresh build in a temporary folder)
# Env:   NTM_BUILD_ROOT  install this configured build instead (no rebuild)
#        NTM_SANITIZED   the build has ASan/UBSan: the example gets them too
# Needs: meson, ninja, cc, pkg-config, certtool (gnutls-bin), curl, jq.
# Each check prints a line; the last is "N passed, N failed"; exit 77 when a
# tool is missing.
set -u

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for tool in meson cc pkg-config certtool curl jq sqlite3; do
    command -v $tool >/dev/null || { echo "$tool is needed: skipped"; exit 77; }
done
# The installed ntm serves; sync_lib.sh (certificate, ports, server, check
# helpers) wants NTM set before it is sourced.
export NTM_BIN=${NTM_BIN:-/nonexistent}
# shellcheck source=../tests/e2e/sync_lib.sh
. "$SRC/tests/e2e/sync_lib.sh"
unset NTM_CONFIG_DIR

# ------------------------------------------------------------ 1. install
D=$T/destdir
if [ -n "${NTM_BUILD_ROOT:-}" ]; then
    B=$NTM_BUILD_ROOT
else
    B=$T/build
    command -v ninja >/dev/null || { echo "ninja is needed: skipped"; exit 77; }
    if ! meson setup "$B" "$SRC" --prefix "$T/prefix" -Dtests=false \
        >"$T/setup.log" 2>&1 || ! ninja -C "$B" >"$T/build.log" 2>&1; then
        cat "$T/setup.log" "$T/build.log" 2>/dev/null | tail -n 30
        not_ok "meson setup and build with prefix $T/prefix"
        finish
    fi
fi
if meson install -C "$B" --no-rebuild --destdir "$D" >"$T/install.log" 2>&1; then
    ok "meson install --destdir"
else
    tail -n 20 "$T/install.log"
    not_ok "meson install --destdir"
    finish
fi
pc=$(find "$D" -name libntm.pc | head -1)
check "libntm.pc installed" test -n "$pc"
[ -n "$pc" ] || finish
libdir=$(dirname "$(dirname "$pc")")
prefix=$(sed -n 's/^prefix=//p' "$pc")
check "the headers are installed under <includedir>/ntm" \
    test -f "$D$prefix/include/ntm/ntm.h" -a -f "$D$prefix/include/ntm/ntm_sync.h"
check "  ... and nothing internal" \
    test -z "$(find "$D" -name '*_int.h' -o -name 'cli.h' -o -name 'i18n.h')"
check "the plan and units are installed under <datadir>/ntm" \
    test -f "$D$prefix/share/ntm/units.csv" -a -n "$(ls "$D$prefix"/share/ntm/plan-*.json 2>/dev/null)"
so=$(ls "$libdir"/libntm.so.* 2>/dev/null | head -1)
check "libntm.so does not link libmicrohttpd" \
    sh -c "readelf -d '$so' | grep -q NEEDED && ! readelf -d '$so' | grep -q microhttpd"
check "libntm.so exports no internal Ntm_ symbol" \
    sh -c "nm -D --defined-only '$so' | grep -q ' ntm_global_init' && ! nm -D --defined-only '$so' | grep -q ' Ntm_'"

# ------------------------------------------------------------ 2. compile
export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_SYSROOT_DIR=$D
cflags=$(pkg-config --cflags libntm)
libs=$(pkg-config --libs libntm)
check "pkg-config --cflags libntm points into the install tree ($cflags)" \
    sh -c "echo '$cflags' | grep -q -- '-I$D$prefix/include/ntm'"
san=()
[ -n "${NTM_SANITIZED:-}" ] && san=(-fsanitize=address,undefined)
if cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$T/record_sync" \
    "$SRC/examples/record_sync.c" $cflags $libs >"$T/cc.log" 2>&1; then
    ok "examples/record_sync.c builds with pkg-config alone"
else
    cat "$T/cc.log"
    not_ok "examples/record_sync.c builds with pkg-config alone"
    finish
fi

# ------------------------------------------------------------ 3. run
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
NTM=$D$prefix/bin/ntm
check "the installed ntm runs with the installed libntm" \
    sh -c "'$NTM' --version >/dev/null && ldd '$NTM' | grep -q '$libdir/libntm.so'"
make_cert
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
expect 0 "admin home: ntm init --root" "$A" init --root --no-passphrase --name "MTTQ tỉnh"
run "$A" key export
ADMIN=$(cat "$T/out")
expect 0 "server home: ntm init --root-key" "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "ntm serve over TLS" start_server "$S"
expect 0 "admin home points at the server" "$A" init --server "$URL" --cacert "$T/cert.pem"

# The example, with the plan of the install tree (the compiled-in default
# is <prefix>/share/ntm, outside the destdir).
export NTM_CONFIG_DIR=$D$prefix/share/ntm
if "$T/record_sync" "$A" 72.710.25657 "Ví dụ: đường ấp" >"$T/out" 2>"$T/err"; then
    ok "record_sync records and syncs"
else
    not_ok "record_sync records and syncs (exit $?)"
    sed 's/^/    out: /' "$T/out"
fi
cat "$T/out"
rec=$(sed -n 's/^recorded \([0-9a-f]*\) .*/\1/p' "$T/out")
check "  ... it printed the record id" test -n "$rec"
check "  ... the server took it" \
    test "$(sqlite3 "$S/ntm.db" "SELECT count(*) FROM records WHERE id='$rec'" 2>/dev/null)" = 1
expect 0 "  ... ntm shows it in the admin's home" "$A" show "$rec"
check "  ... with its title" out_has "Ví dụ: đường ấp"
expect 0 "  ... and nothing is left to push" "$A" --json status
check "  ... (status: 0 unpushed, a last push)" json_ok '.unpushed == 0 and .last_push_ms != null'
"$T/record_sync" "$A" 72.710.99999 >"$T/out" 2>"$T/err"
rc=$?
check "an unknown unit is refused by the plan check (exit $rc)" test "$rc" -eq 1
check "  ... saying so" err_has "plan check"
stop_server
finish
