#!/usr/bin/env bash
# Install the Debian packages ntm needs to build, run and test, when missing.
# Usage: scripts/setup.sh [--tests]   (--tests adds what the test suite uses)
set -euo pipefail

pkgs=(meson ninja-build pkg-config gcc libc6-dev
      libsodium-dev libsqlite3-dev libjansson-dev libcurl4-openssl-dev
      libmicrohttpd-dev zlib1g-dev libutf8proc-dev libcmocka-dev libqrencode-dev
      libturbojpeg0-dev
      gnutls-bin sqlite3 minisign gettext curl jq time)
if [ "${1:-}" = "--tests" ]; then
    pkgs+=(clang-format chromium chromium-driver faketime openssl xxd python3 clang libclang-rt-14-dev)
    pkgs+=(valgrind) # T18 (scripts/valgrind.sh)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present"
