#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# demo.sh - the whole story of ntm on one machine, over real HTTPS on
# 127.0.0.1, in under a minute:
#
#   * the provincial admin (Ban Thường trực Ủy ban MTTQ tỉnh Tây Ninh) makes
#     the root key, a throw-away self-signed certificate is made for
#     127.0.0.1 and `ntm serve` starts on a free port;
#   * a district coordinator (Huyện Gò Dầu, 72.710) and two hamlet recorders
#     (Xã Thạnh Đức 72.710.25657 and Xã Cẩm Giang 72.710.25660) set up their
#     devices; the admin creates a hamlet in each commune and enrolls them
#     for the commune's Front committee (mttq), which records the work of
#     every organization (a device enrolled for one organization records
#     only that organization's: docs/authority.md 2a);
#   * the recorders write real-looking campaign activities offline (rural
#     roads, in-field canals, a charity house, donated land, savings groups,
#     the share of poor veterans), then sync;
#   * the coordinator edits and approves records, and an edit made at the
#     same time as a recorder's becomes a conflict that the coordinator
#     resolves;
#   * every side shows what it holds (list, status, verify, the 2017 report),
#     the server's log is shown and the server is stopped with SIGTERM.
#
# Usage: scripts/demo.sh [WORK_DIR]        (default ./demo-run, wiped first)
# Env:   NTM_BUILD   build folder (default: build, relative to the source
#                    tree); set up with `meson setup` and built with `ninja`
#                    when it holds no ntm yet
#        NTM_BIN     use this ntm binary instead of building
# Needs: meson and ninja (to build), certtool (gnutls-bin), curl.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-./demo-run}
BUILD=${NTM_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$SRC/$BUILD ;; esac

export LANG=C.UTF-8
# The demo's narration is English; so are ntm's messages here (a new home
# would speak Vietnamese). Give LANGUAGE=vi to see the Vietnamese.
export LANGUAGE=${LANGUAGE:-en}
unset NTM_HOME NTM_PASSPHRASE
# The server is local: give up quickly if it is not there.
export NTM_SYNC_ATTEMPTS=${NTM_SYNC_ATTEMPTS:-3}
export NTM_SYNC_RETRY_MS=${NTM_SYNC_RETRY_MS:-100}

STEP="starting"
SERVER_PID=
SERVER_LOG=
STARTED=$(date +%s)

step() {
    STEP=$*
    echo
    echo "== $*"
}

fail() {
    echo "demo.sh: FAILED: $*" >&2
    exit 1
}

stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        local rc=0
        wait "$SERVER_PID" 2>/dev/null || rc=$?
        SERVER_PID=
        return "$rc"
    fi
}

on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        echo >&2
        echo "demo.sh: FAILED during step: $STEP (exit $rc)" >&2
        if [ -n "$SERVER_LOG" ] && [ -s "$SERVER_LOG" ]; then
            echo "demo.sh: last lines of the server log ($SERVER_LOG):" >&2
            tail -n 10 "$SERVER_LOG" | sed 's/^/    /' >&2
        fi
    fi
    if [ -n "$SERVER_PID" ]; then
        echo "demo.sh: stopping the server (pid $SERVER_PID) with SIGTERM" >&2
        stop_server || true
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ntm_at HOME ARGS...: run ntm in HOME, its output (and messages) indented.
ntm_at() {
    local home=$1
    shift
    "$NTM" --home "$home" "$@" 2>&1 | sed 's/^/    /'
}
# ntm_get HOME ARGS...: run ntm in HOME and capture its standard output;
# messages on stderr are indented on the terminal.
ntm_get() {
    local home=$1
    shift
    "$NTM" --home "$home" "$@" 2> >(sed 's/^/    /' >&2)
}

# show_report FILE: a table report, indented, keeping only the targets that
# have data and, of those, the header and the rows with data.
show_report() {
    awk '
        function flush() {
            if (n > 0 && hits > 0) { print ""; for (i = 1; i <= n; i++) print "    " buf[i] }
            n = 0; hits = 0
        }
        !body && /^$/ { body = 1; next }
        !body { print "    " $0; next }
        /^$/ { flush(); next }
        n < 2 { buf[++n] = $0; next }
        !/no data/ { buf[++n] = $0; hits++ }
        END { flush() }
    ' "$1"
}

# --------------------------------------------------------------- tools
step "Checking the tools the demo needs (certtool, curl)"
for tool in certtool curl; do
    command -v "$tool" >/dev/null ||
        fail "'$tool' is needed: apt-get install -y gnutls-bin curl"
done

if [ -n "${NTM_BIN:-}" ]; then
    NTM=$NTM_BIN
    step "Using the ntm program $NTM"
else
    NTM=$BUILD/cli/ntm
    # The build tree's ntm reads the plan from the source tree (an
    # installed one from <datadir>/ntm).
    export NTM_CONFIG_DIR=${NTM_CONFIG_DIR:-$SRC/config}
    step "Building ntm in $BUILD (meson setup + ninja; quick when up to date)"
    if ! command -v meson >/dev/null || ! command -v ninja >/dev/null; then
        fail "meson and ninja are needed to build: apt-get install -y meson ninja-build"
    fi
    blog=$(mktemp "${TMPDIR:-/tmp}/ntm-demo-build.XXXXXX")
    if [ ! -f "$BUILD/build.ninja" ]; then
        meson setup "$BUILD" "$SRC" >"$blog" 2>&1 ||
            { tail -n 30 "$blog" >&2; rm -f "$blog"; fail "meson setup $BUILD failed"; }
    fi
    ninja -C "$BUILD" >"$blog" 2>&1 ||
        { tail -n 30 "$blog" >&2; rm -f "$blog"; fail "ninja -C $BUILD failed"; }
    tail -n 1 "$blog" | sed 's/^/    /'
    rm -f "$blog"
fi
[ -x "$NTM" ] || fail "no ntm program at $NTM"
"$NTM" --version | sed 's/^/    /'

# --------------------------------------------------------------- work folder
step "Making a fresh work folder $WORK"
case "$WORK" in
"" | "/" | "." | "..") fail "refusing to use '$WORK' as the work folder" ;;
esac
if [ -e "$WORK" ]; then
    if [ -d "$WORK" ] && { [ -f "$WORK/.ntm-demo" ] || [ -z "$(ls -A "$WORK")" ]; }; then
        rm -rf "$WORK"
    else
        fail "'$WORK' exists and was not made by this demo: remove it or name another folder"
    fi
fi
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
touch "$WORK/.ntm-demo"
ADMIN_HOME=$WORK/admin-tinh        # provincial admin
SERVER_HOME=$WORK/server           # the central endpoint's store
COORD_HOME=$WORK/coord-godau       # Huyện Gò Dầu coordinator
REC1_HOME=$WORK/rec-thanhduc       # recorder of Xã Thạnh Đức
REC2_HOME=$WORK/rec-camgiang       # recorder of Xã Cẩm Giang
SERVER_LOG=$WORK/server.log
echo "    homes: $(basename "$ADMIN_HOME") $(basename "$SERVER_HOME") $(basename "$COORD_HOME") $(basename "$REC1_HOME") $(basename "$REC2_HOME")"

DISTRICT=72.710 # Huyện Gò Dầu
THANHDUC=72.710.25657 # Xã Thạnh Đức
CAMGIANG=72.710.25660 # Xã Cẩm Giang
BENDINH=$THANHDUC.1 # Ấp Bến Đình, created below
CAMBINH=$CAMGIANG.1 # Ấp Cẩm Bình, created below

# --------------------------------------------------------------- certificate
step "Making a throw-away self-signed TLS certificate for 127.0.0.1"
cat >"$WORK/cert.tpl" <<'TPL'
cn = "127.0.0.1"
ip_address = "127.0.0.1"
dns_name = "localhost"
expiration_days = 7
signing_key
encryption_key
tls_www_server
ca
TPL
certtool --generate-privkey --key-type ecdsa --outfile "$WORK/key.pem" \
    >"$WORK/certtool.log" 2>&1 || fail "certtool could not make a key (see $WORK/certtool.log)"
certtool --generate-self-signed --load-privkey "$WORK/key.pem" \
    --template "$WORK/cert.tpl" --outfile "$WORK/cert.pem" \
    >>"$WORK/certtool.log" 2>&1 || fail "certtool could not make the certificate (see $WORK/certtool.log)"
PIN="sha256//$(certtool --pubkey-info --load-privkey "$WORK/key.pem" 2>/dev/null |
    sed -n 's/.*pin-sha256:\(.*\)$/\1/p' | head -n 1)"
[ "$PIN" != "sha256//" ] || fail "certtool gave no public key pin"
echo "    cert.pem and key.pem; public key pin $PIN"

PORT=
for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        PORT=$p
        break
    fi
done
[ -n "$PORT" ] || fail "found no free port on 127.0.0.1"
URL=https://127.0.0.1:$PORT

# --------------------------------------------------------------- admin + server
step "The provincial admin (Ban Thường trực Ủy ban MTTQ tỉnh Tây Ninh) creates the root key"
echo "    (the server is not running yet: the warning below is expected)"
ntm_at "$ADMIN_HOME" init --root --no-passphrase --name "Ban Thường trực Ủy ban MTTQ tỉnh Tây Ninh" \
    --server "$URL" --cacert "$WORK/cert.pem"
ADMIN_KEY=$(ntm_get "$ADMIN_HOME" key export)

step "The server's home is created, pinned to the admin's root key"
ntm_at "$SERVER_HOME" init --no-passphrase --root-key "$ADMIN_KEY" --name "Máy chủ tỉnh Tây Ninh"

step "Starting 'ntm serve' over TLS on 127.0.0.1:$PORT (its log goes to server.log)"
"$NTM" --home "$SERVER_HOME" serve --listen "127.0.0.1:$PORT" \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" 2>>"$SERVER_LOG" &
SERVER_PID=$!
up=
for _ in $(seq 1 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        SERVER_PID=
        fail "the server stopped at start (see $SERVER_LOG)"
    fi
    if curl -s --cacert "$WORK/cert.pem" "$URL/healthz" 2>/dev/null | grep -q ok; then
        up=1
        break
    fi
    sleep 0.05
done
[ -n "$up" ] || fail "the server did not answer /healthz within 5 seconds (see $SERVER_LOG)"
grep 'listening on' "$SERVER_LOG" | sed 's/^/    /' || true
echo "    server pid $SERVER_PID; /healthz answers over HTTPS"
curl -s --cacert "$WORK/cert.pem" "$URL/v1/info" | sed 's/^/    \/v1\/info: /'
echo

# --------------------------------------------------------------- devices
step "The Gò Dầu district coordinator sets up a device (trusting the certificate file)"
ntm_at "$COORD_HOME" init --no-passphrase --name "Cán bộ MTTQ huyện Gò Dầu" \
    --server "$URL" --cacert "$WORK/cert.pem"
COORD_KEY=$(ntm_get "$COORD_HOME" key export)

step "The Xã Thạnh Đức recorder sets up a device (trusting the certificate file)"
ntm_at "$REC1_HOME" init --no-passphrase --name "Mặt trận xã Thạnh Đức" \
    --server "$URL" --cacert "$WORK/cert.pem"
REC1_KEY=$(ntm_get "$REC1_HOME" key export)

step "The Xã Cẩm Giang recorder sets up a device (pin-only mode, for a phone with a wrong clock)"
ntm_at "$REC2_HOME" init --no-passphrase --name "Mặt trận xã Cẩm Giang" \
    --server "$URL" --pin "$PIN"
REC2_KEY=$(ntm_get "$REC2_HOME" key export)

# --------------------------------------------------------------- admin work
step "The admin creates hamlet Ấp Bến Đình ($BENDINH) in Xã Thạnh Đức"
ntm_at "$ADMIN_HOME" admin unit "$BENDINH" --name "Ấp Bến Đình" --level hamlet

step "The admin creates hamlet Ấp Cẩm Bình ($CAMBINH) in Xã Cẩm Giang"
ntm_at "$ADMIN_HOME" admin unit "$CAMBINH" --name "Ấp Cẩm Bình" --level hamlet

step "The admin enrolls the Gò Dầu coordinator (scope $DISTRICT, Huyện Gò Dầu)"
ntm_at "$ADMIN_HOME" admin enroll "$COORD_KEY" --role coordinator --scope "$DISTRICT" \
    --org mttq --name "Cán bộ MTTQ huyện Gò Dầu"

step "The admin enrolls the Thạnh Đức recorder (scope $THANHDUC, Xã Thạnh Đức)"
ntm_at "$ADMIN_HOME" admin enroll "$REC1_KEY" --role recorder --scope "$THANHDUC" \
    --org mttq --name "Ban Công tác Mặt trận xã Thạnh Đức"

step "The admin enrolls the Cẩm Giang recorder (scope $CAMGIANG, Xã Cẩm Giang)"
ntm_at "$ADMIN_HOME" admin enroll "$REC2_KEY" --role recorder --scope "$CAMGIANG" \
    --org mttq --name "Ban Công tác Mặt trận xã Cẩm Giang"

step "The admin pushes the hamlets and enrollments to the server"
ntm_at "$ADMIN_HOME" push

step "The three devices pull their enrollment from the server"
for h in "$COORD_HOME" "$REC1_HOME" "$REC2_HOME"; do
    echo "    -- $(basename "$h"):"
    ntm_at "$h" pull
    ntm_at "$h" whoami | sed 's/^/  /'
done

# --------------------------------------------------------------- offline records
step "Thạnh Đức records offline: Đoàn Thanh niên repaired 2.4 km of road in Ấp Bến Đình (doan.rural_roads_km)"
ROAD1=$(ntm_get "$REC1_HOME" record activity --task doan.rural_roads_km --unit "$BENDINH" \
    --date 2017-03-05 --qty 2.4 --uom km --people 60 \
    --title "Sửa chữa đường đất ấp Bến Đình" \
    --note "Đoàn viên thanh niên xã Thạnh Đức, 35 ngày công")
echo "    record $ROAD1"

step "Thạnh Đức records offline: 1.5 km of in-field canal dredged (doan.canals_km)"
CANAL1=$(ntm_get "$REC1_HOME" record activity --task doan.canals_km --unit "$BENDINH" \
    --date 2017-04-16 --qty 1.5 --uom km --people 45 \
    --title "Nạo vét kênh nội đồng ấp Bến Đình")
echo "    record $CANAL1"

step "Thạnh Đức records offline: 3 youth savings-and-loan groups set up (doan.savings_groups)"
SAVE1=$(ntm_get "$REC1_HOME" record activity --task doan.savings_groups --unit "$THANHDUC" \
    --date 2017-05-20 --qty 3 --uom group --people 42 \
    --title "Thành lập 3 tổ tiết kiệm và vay vốn do thanh niên làm tổ trưởng")
echo "    record $SAVE1"

step "Thạnh Đức records offline a measure: 1 poor veteran member out of 248 in 2017 (hccb.poor_rate_pct)"
MEAS1=$(ntm_get "$REC1_HOME" record measure --task hccb.poor_rate_pct --unit "$THANHDUC" \
    --period 2017 --num 1 --den 248)
echo "    record $MEAS1"

step "Cẩm Giang records offline: a charity house (Mái ấm tình thương) worth 45,000,000 VND (hlhpn.charity_houses)"
HOUSE2=$(ntm_get "$REC2_HOME" record activity --task hlhpn.charity_houses --unit "$CAMBINH" \
    --date 2017-06-10 --qty 1 --uom house --amount-vnd 45000000 \
    --title "Bàn giao nhà Mái ấm tình thương cho chị Nguyễn Thị Lài, ấp Cẩm Bình" \
    --note "Hội Liên hiệp Phụ nữ xã Cẩm Giang vận động xây dựng")
echo "    record $HOUSE2"

step "Cẩm Giang records offline: farmers donated 1,200 m² of land for a road (hnd.land_donation)"
LAND2=$(ntm_get "$REC2_HOME" record activity --task hnd.land_donation --unit "$CAMBINH" \
    --date 2017-07-02 --qty 1200 --uom m2 --people 7 \
    --title "Nông dân ấp Cẩm Bình hiến 1.200 m² đất mở rộng đường liên ấp")
echo "    record $LAND2"

step "Cẩm Giang records offline: 3.1 km of inter-hamlet road concreted (doan.rural_roads_km)"
ROAD2=$(ntm_get "$REC2_HOME" record activity --task doan.rural_roads_km --unit "$CAMGIANG" \
    --date 2017-08-12 --qty 3.1 --uom km --people 80 --amount-vnd 620000000 \
    --title "Bê tông hóa đường liên ấp Cẩm Bình - Cẩm Thắng")
echo "    record $ROAD2"

step "Cẩm Giang records offline: 14 km of in-field canals for the year (doan.canals_km)"
CANAL2=$(ntm_get "$REC2_HOME" record activity --task doan.canals_km --unit "$CAMGIANG" \
    --date 2017-11-25 --qty 14 --uom km --people 120 \
    --title "Ra quân làm thủy lợi nội đồng mùa khô")
echo "    record $CANAL2"

step "Before syncing, the Thạnh Đức recorder's status shows entries waiting to go up"
ntm_at "$REC1_HOME" status

# --------------------------------------------------------------- sync
step "Both recorders reach coverage at the commune office and sync (push, then pull)"
echo "    -- Xã Thạnh Đức:"
ntm_at "$REC1_HOME" sync
echo "    -- Xã Cẩm Giang:"
ntm_at "$REC2_HOME" sync

step "The Gò Dầu coordinator pulls everything recorded in the district"
ntm_at "$COORD_HOME" pull
ntm_at "$COORD_HOME" list

# --------------------------------------------------------------- coordinator work
step "The Gò Dầu coordinator corrects the Bến Đình road record (2.4 km measured again: 2.6 km)"
ntm_at "$COORD_HOME" edit "$ROAD1" --set qty=2.6 --set "note=Đo lại ngày 10/3/2017: 2,6 km; 35 ngày công"

step "The Gò Dầu coordinator reviews the Bến Đình road record and approves it"
ntm_at "$COORD_HOME" review "$ROAD1" --approve --comment "Đã kiểm tra thực tế"

step "The Gò Dầu coordinator reviews the charity house and approves it"
ntm_at "$COORD_HOME" review "$HOUSE2" --approve --comment "Đủ hồ sơ bàn giao"

step "The Gò Dầu coordinator flags the savings groups record: the list of members is missing"
ntm_at "$COORD_HOME" review "$SAVE1" --issues --comment "Bổ sung danh sách tổ viên"

step "At the same time, offline: the coordinator sets the land donation to 1,000 m² ..."
ntm_at "$COORD_HOME" edit "$LAND2" --set qty=1000
step "... and the Cẩm Giang recorder, after measuring, sets it to 1,250 m²"
ntm_at "$REC2_HOME" edit "$LAND2" --set qty=1250 --set "title=Nông dân ấp Cẩm Bình hiến 1.250 m² đất mở rộng đường liên ấp"

step "Both push their edits; the server accepts both, as neither knew of the other"
echo "    -- Gò Dầu coordinator:"
ntm_at "$COORD_HOME" sync
echo "    -- Xã Cẩm Giang:"
ntm_at "$REC2_HOME" sync

step "The coordinator pulls and sees the conflict on the land donation's quantity"
ntm_at "$COORD_HOME" pull
ntm_at "$COORD_HOME" conflicts
ntm_at "$COORD_HOME" list --conflicts

step "The coordinator resolves it, keeping the recorder's measured 1,250 m², and approves the record"
ntm_at "$COORD_HOME" resolve "$LAND2" --set qty=1250
ntm_at "$COORD_HOME" review "$LAND2" --approve --comment "Theo số đo của xã"
ntm_at "$COORD_HOME" conflicts

step "The coordinator syncs the resolution and the reviews"
ntm_at "$COORD_HOME" sync

step "The Thạnh Đức recorder adds the missing member list to the savings groups record"
ntm_at "$REC1_HOME" pull
ntm_at "$REC1_HOME" edit "$SAVE1" --set "note=Danh sách 42 tổ viên, 3 tổ trưởng là đoàn viên"
ntm_at "$REC1_HOME" sync

step "Everyone (and the admin) pulls the latest state"
for h in "$REC1_HOME" "$REC2_HOME" "$COORD_HOME" "$ADMIN_HOME"; do
    echo "    -- $(basename "$h"):"
    ntm_at "$h" pull
done

# --------------------------------------------------------------- what each side sees
step "What the Thạnh Đức recorder sees (only its commune)"
ntm_at "$REC1_HOME" list
step "What the Cẩm Giang recorder sees (only its commune; the conflict is resolved and approved)"
ntm_at "$REC2_HOME" list
ntm_at "$REC2_HOME" show "$LAND2"
step "What the Gò Dầu coordinator sees (the whole district)"
ntm_at "$COORD_HOME" list
step "What the provincial admin sees, searching \"cam giang\" without diacritics"
ntm_at "$ADMIN_HOME" list "cam giang"

step "Status of every device: nothing left to push, no conflicts"
for h in "$REC1_HOME" "$REC2_HOME" "$COORD_HOME" "$ADMIN_HOME"; do
    echo "    -- $(basename "$h"):"
    ntm_at "$h" status
done

step "Every device re-verifies every signature, chain and authorization it holds"
for h in "$REC1_HOME" "$REC2_HOME" "$COORD_HOME" "$ADMIN_HOME"; do
    printf '    -- %s: ' "$(basename "$h")"
    "$NTM" --home "$h" verify 2>&1
done

step "The provincial admin's progress report for 2017 (ntm report --year 2017, table; full text in report-2017.txt)"
"$NTM" --home "$ADMIN_HOME" report --year 2017 --format table --out "$WORK/report-2017.txt"
show_report "$WORK/report-2017.txt"

step "The Gò Dầu coordinator's report counting only records approved at district level"
"$NTM" --home "$COORD_HOME" report --year 2017 --unit "$DISTRICT" --approved district \
    --format table --out "$WORK/report-2017-approved.txt"
show_report "$WORK/report-2017-approved.txt"

# --------------------------------------------------------------- server
step "The server's log: one line per request (last 15 lines of server.log)"
tail -n 15 "$SERVER_LOG" | sed 's/^/    /'
count() { grep -Ec "$1" "$SERVER_LOG" || true; }
echo "    in all: $(count '^[A-Z]+ /') requests, $(count '^POST /v1/entries 200') pushes of entries," \
    "$(count '^GET /v1/entries 200') pages pulled, $(count '^[A-Z]+ [^ ]+ [45][0-9][0-9] ') refused"

step "Stopping the server with SIGTERM"
pid=$SERVER_PID
lines=$(wc -l <"$SERVER_LOG")
rc=0
stop_server || rc=$?
tail -n +"$((lines + 1))" "$SERVER_LOG" | sed 's/^/    /'
[ "$rc" -eq 0 ] || fail "the server (pid $pid) exited with status $rc after SIGTERM"
echo "    server (pid $pid) stopped cleanly"

step "The server's own store, checked after it stopped"
printf '    '
"$NTM" --home "$SERVER_HOME" verify 2>&1

echo
echo "Demo finished in $(($(date +%s) - STARTED)) s. Everything is in $WORK"
