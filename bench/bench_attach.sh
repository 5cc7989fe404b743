#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench_attach.sh - attachment bytes over a real `ntm serve` on TLS
# (127.0.0.1): a recorder attaches N photos of a few MB to a record and
# pushes them; a coordinator whose home says "attach_fetch": "eager"
# pulls them. Both go through tests/e2e/faultproxy.py, first passing
# every byte (none), then cutting every connection after 64 kB (up for
# the push, down for the pull), with N new photos. Prints, per phase,
# throughput (MB/s of attachment bytes), pieces (PUT or GET requests) per
# attachment, and bytes on the wire per attachment (TLS bytes both ways
# through the proxy, the entries' few kB included) beside its size.
# A benchmark, not a test.
#
# Usage: bench/bench_attach.sh [--build DIR] [--n N] [--mb MB]
#   --build  a built tree (default: build); --n photos per phase (8);
#   --mb     megabytes per photo (3)
# Needs: certtool, python3, jq.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
B=$SRC/build
N=8
MB=3
while [ $# -gt 0 ]; do
    case $1 in
    --build) B=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --mb) MB=$2; shift 2 ;;
    *) sed -n 's/^# \{0,1\}//; 15,18p' "$0" >&2; exit 2 ;;
    esac
done
NTM=$B/cli/ntm
PROXY_PY=$SRC/tests/e2e/faultproxy.py
[ -x "$NTM" ] || { echo "build first: ninja -C $B"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-bench-attach.XXXXXX")
SRV=
PRX=
trap '[ -n "$SRV" ] && kill $SRV 2>/dev/null; [ -n "$PRX" ] && kill $PRX 2>/dev/null; rm -rf "$T"' EXIT
export LANG=C.UTF-8 NTM_SYNC_ATTEMPTS=5
export NTM_CONFIG_DIR=${NTM_CONFIG_DIR:-$SRC/config}
unset NTM_PASSPHRASE NTM_HOME

cat >"$T/tpl" <<TPL
cn = "127.0.0.1"
ip_address = "127.0.0.1"
expiration_days = 2
signing_key
encryption_key
tls_www_server
ca
TPL
certtool --generate-privkey --key-type ecdsa --outfile "$T/key.pem" >/dev/null 2>&1
certtool --generate-self-signed --load-privkey "$T/key.pem" --template "$T/tpl" \
    --outfile "$T/cert.pem" >/dev/null 2>&1
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(port)
PPORT=$(port)
URL=https://127.0.0.1:$PORT
PURL=https://127.0.0.1:$PPORT
now() { date +%s.%N; }
n() { "$NTM" --home "$@" 2>>"$T/client.err"; }

A=$T/admin S=$T/server R=$T/rec C=$T/coord
n "$A" init --root --no-passphrase >/dev/null
ADMIN=$(jq -r .author "$A/config.json")
n "$S" init --no-passphrase --root-key "$ADMIN" --name server >/dev/null
"$NTM" --home "$S" serve --listen "127.0.0.1:$PORT" --tls-cert "$T/cert.pem" \
    --tls-key "$T/key.pem" --attach-quota 100000000000 2>"$T/server.log" &
SRV=$!
for _ in $(seq 1 100); do
    curl -sk "$URL/healthz" 2>/dev/null | grep -q ok && break
    sleep 0.1
done
echo none >"$T/toxics"
python3 "$PROXY_PY" --listen "127.0.0.1:$PPORT" --upstream "127.0.0.1:$PORT" \
    --control "$T/toxics" --log "$T/proxy.log" >/dev/null 2>&1 &
PRX=$!
sleep 0.5
n "$A" init --server "$URL" --cacert "$T/cert.pem" >/dev/null
for h in "$R" "$C"; do
    n "$h" init --no-passphrase --server "$PURL" --cacert "$T/cert.pem" >/dev/null
done
n "$A" admin enroll "$(jq -r .author "$R/config.json")" --role recorder \
    --scope 72.710.25657 --org doan >/dev/null
n "$A" admin enroll "$(jq -r .author "$C/config.json")" --role coordinator \
    --scope 72.710 --org doan >/dev/null
n "$A" push >/dev/null
n "$R" pull >/dev/null
n "$C" pull >/dev/null
jq '.attach_fetch = "eager"' "$C/config.json" >"$T/c" && cp "$T/c" "$C/config.json"

BYTES=$((MB * 1000000))
echo "# $N photos of $MB MB ($BYTES bytes) per phase, through the fault proxy;"
echo "# $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), commit $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')"
printf '%-22s %-5s %9s %8s %9s %14s %11s %6s\n' phase way seconds "MB/s" "pieces/f" "wire B/f" "wire/size" conns

# wire SINCE: TLS bytes both ways and connections in proxy log lines after
# line SINCE.
wire() {
    awk -v from="$1" 'NR > from && / up=/ {
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^up=/) { sub("up=", "", $i); b += $i }
            if ($i ~ /^down=/) { sub("down=", "", $i); b += $i }
        }
        c++
    } END { printf "%d %d\n", b, c }' "$T/proxy.log"
}
row() { # row PHASE WAY SECONDS JSONFILE WIRE CONNS
    local req
    req=$(jq -r .attachments.requests "$4")
    awk -v p="$1" -v w="$2" -v s="$3" -v n="$N" -v sz="$BYTES" -v r="$req" \
        -v wb="$5" -v c="$6" 'BEGIN {
        printf "%-22s %-5s %9.2f %8.2f %9.1f %14.0f %11.3f %6d\n",
            p, w, s, n * sz / s / 1e6, r / n, wb / n, wb / n / sz, c }'
}

phase() { # phase NAME SEED UP_TOXIC DOWN_TOXIC
    local i files=() t0 t1 since w
    for i in $(seq 1 "$N"); do
        python3 -c 'import random,sys; r=random.Random(int(sys.argv[2])); n=int(sys.argv[3]); sys.stdout.buffer.write(b"\xff\xd8\xff\xe0" + r.randbytes(n - 4))' \
            "$T/p$2-$i.jpg" "$(($2 * 1000 + i))" "$BYTES" >"$T/p$2-$i.jpg"
        files+=("$T/p$2-$i.jpg")
    done
    n "$R" --json record activity --task doan.rural_roads_km --unit 72.710.25657 \
        --date 2019-05-17 --qty 1 --uom km --title "ảnh $1" >"$T/rec.json"
    n "$R" attach "$(jq -r .id "$T/rec.json")" "${files[@]}" --keep-metadata >/dev/null
    echo "$3" >"$T/toxics"
    sleep 1.1 # the control file is read again when its mtime changes
    since=$(wc -l <"$T/proxy.log")
    t0=$(now)
    n "$R" --json push >"$T/push.json"
    t1=$(now)
    w=$(wire "$since")
    row "$1" push "$(echo "$t1 - $t0" | bc)" "$T/push.json" $w
    echo "$4" >"$T/toxics"
    sleep 1.1
    since=$(wc -l <"$T/proxy.log")
    t0=$(now)
    n "$C" --json pull >"$T/pull.json"
    t1=$(now)
    w=$(wire "$since")
    row "$1" pull "$(echo "$t1 - $t0" | bc)" "$T/pull.json" $w
    for f in "${files[@]}"; do
        h=$(b2sum -l 256 "$f" | cut -d' ' -f1)
        cmp -s "$f" "$C/attachments/$h" || { echo "photo $h did not arrive whole"; exit 1; }
    done
}

phase "clean" 1 none none
phase "cut every 64 kB" 2 "limit_data:bytes=65536,dir=up" "limit_data:bytes=65536,dir=down"
echo "# every photo arrived whole at the coordinator, checked byte for byte"
