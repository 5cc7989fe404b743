#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# readme_tour.sh - the README's tours (English "A short tour" and
# Vietnamese "Hướng dẫn nhanh") run exactly as written: every ```sh block
# of each section, in order, as one bash script with -e, in a fresh
# folder, with `ntm` on the PATH. The only change is the server's port
# (8443 in the README, a free loopback port here). Then the results the
# tour promises are checked: the server holds the records, the review is
# signed, verify is clean, the reports and the bundle are written.
# Env: NTM_BIN, NTM_CONFIG_DIR, NTM_SRC (the source tree, for README.md).

# shellcheck source=sync_lib.sh
. "$(dirname "$0")/sync_lib.sh"

# A newcomer's machine names no language (the homes' own, chosen at init,
# then rule) and no time zone.
unset LANGUAGE LC_ALL LC_MESSAGES TZ
export LANG=C.UTF-8

README=${NTM_SRC:?NTM_SRC must name the source tree}/README.md
mkdir -p "$T/bin"
ln -s "$(cd "$(dirname "$NTM")" && pwd)/$(basename "$NTM")" "$T/bin/ntm"

# blocks SECTION: the ```sh blocks of the README section whose heading
# starts with SECTION, concatenated
blocks() {
    awk -v sec="## $1" '
        /^## / { inside = (index($0, sec) == 1) }
        inside && /^```sh$/ { code = 1; next }
        inside && code && /^```$/ { code = 0; print ""; next }
        inside && code { print }
    ' "$README"
}

# tour NAME SECTION: run the section's blocks in $T/NAME; rc, output in
# $T/NAME.log
tour() {
    local name=$1 section=$2 port
    port=$(free_port)
    mkdir -p "$T/$name"
    blocks "$section" | sed "s/8443/$port/g" >"$T/$name.sh"
    if [ "$(grep -c '^ntm \|^[A-Z]*=\$(ntm ' "$T/$name.sh")" -lt 10 ]; then
        not_ok "$name: the README section '$section' has its command blocks"
        return
    fi
    ok "$name: $(grep -c . "$T/$name.sh") lines of commands from '$section'"
    (
        cd "$T/$name" || exit 1
        PATH="$T/bin:$PATH" timeout 300 bash -e -x "$T/$name.sh"
    ) >"$T/$name.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then ok "$name: every command ran (exit 0)"; else
        not_ok "$name: the tour stopped (exit $rc); its last lines:"
        tail -15 "$T/$name.log" | sed 's/^/    /'
    fi
    # the server the tour started is stopped by the tour itself (SIGTERM:
    # it finishes what it serves first)
    for _ in $(seq 1 50); do
        pgrep -f "listen 127.0.0.1:$port" >/dev/null || break
        sleep 0.1
    done
    if pgrep -f "listen 127.0.0.1:$port" >/dev/null; then
        not_ok "$name: the tour's server still runs"
        pkill -9 -f "listen 127.0.0.1:$port"
    fi
}

export NTM_SYNC_ATTEMPTS=5 NTM_SYNC_RETRY_MS=200

# ------------------------------------------------------------ English
tour en "A short tour"
D=$T/en
run "$D/server" verify
check "en: the server's store verifies clean" test "$rc" -eq 0
run "$D/server" --json list
check "en: the server holds both records" json_ok 'length == 2'
check "  ... the road, approved by the admin" \
    json_ok '[.[] | select(.fields.title == "Sửa đường ấp Bến Đình" and .review == "approved")] | length == 1'
check "en: the hamlet reached the phone (the record is at it)" \
    json_ok '[.[] | select(.unit == "72.710.25657.1")] | length == 1'
check "en: the HTML report is written" test -s "$D/report-2017.html"
check "en: the bundle and its signature are written" test -s "$D/ap.ntmb" -a -s "$D/ap.ntmb.minisig"
has "en: the district's report shows the 2.4 km" "2.4" "$T/en.log"
has "en: search by words found the record" "Sửa đường ấp Bến Đình" "$T/en.log"

# ------------------------------------------------------------ Vietnamese
tour vi "Hướng dẫn nhanh"
D=$T/vi
run "$D/maychu" verify
check "vi: the server's store verifies clean" test "$rc" -eq 0
run "$D/maychu" --json list
check "vi: the server holds the record, approved" \
    json_ok '[.[] | select(.fields.title == "Sửa đường ấp Bến Đình" and .review == "approved")] | length == 1'
check "vi: the HTML report is written" test -s "$D/baocao-2017.html"
# what the Vietnamese tour printed (not the commands traced by -x): none of
# the English the same steps print in English
grep -v '^+' "$T/vi.log" | grep -E "pushed [0-9]|pulled [0-9]|entries checked|Progress report|nothing to push|initialised|author id|approved [0-9a-f]|wrote [0-9]+ entries|enrolled [0-9a-f]|created hamlet|error:|warning:" >"$T/vi-english"
check "vi: the tour printed no English sentence" test ! -s "$T/vi-english"
sed 's/^/    english: /' "$T/vi-english"
# and the English tour did print them (the check above can fail)
check "en: the English tour printed its sentences" grep -q "entries checked" "$T/en.log"
has "vi: the report is in Vietnamese" "Báo cáo" "$D/baocao-2017.html"

finish
