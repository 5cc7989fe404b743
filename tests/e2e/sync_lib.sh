# SPDX-License-Identifier: MIT
#
# sync_lib.sh - shared by the sync_*.sh end-to-end tests: a throw-away
# self-signed certificate for 127.0.0.1 (certtool), a real `ntm serve` over
# TLS on a free loopback port, check helpers and the "N passed, N failed"
# summary. Source it; it sets T (a temporary folder removed at exit).

NTM=${NTM_BIN:?NTM_BIN must name the ntm binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/ntm-sync.XXXXXX")
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
unset NTM_PASSPHRASE NTM_HOME
export LANG=C.UTF-8
# Fail fast when the server is down: two attempts, 50 ms apart.
export NTM_SYNC_ATTEMPTS=${NTM_SYNC_ATTEMPTS:-2}
export NTM_SYNC_RETRY_MS=${NTM_SYNC_RETRY_MS:-50}

for tool in certtool jq curl; do
    if ! command -v $tool >/dev/null; then
        echo "$tool is needed (apt-get install -y gnutls-bin jq curl)"
        exit 77
    fi
done

# shellcheck source=check_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"

# A self-signed certificate for 127.0.0.1 and its public key pin.
make_cert() {
    cat >"$T/cert.tpl" <<TPL
cn = "127.0.0.1"
ip_address = "127.0.0.1"
dns_name = "localhost"
expiration_days = 30
signing_key
encryption_key
tls_www_server
ca
TPL
    certtool --generate-privkey --key-type ecdsa --outfile "$T/key.pem" \
        >/dev/null 2>&1 &&
        certtool --generate-self-signed --load-privkey "$T/key.pem" \
            --template "$T/cert.tpl" --outfile "$T/cert.pem" >/dev/null 2>&1
    PIN="sha256//$(certtool --pubkey-info --load-privkey "$T/key.pem" 2>/dev/null |
        sed -n 's/.*pin-sha256:\(.*\)$/\1/p' | head -1)"
    certtool --generate-privkey --key-type ecdsa --outfile "$T/other.pem" \
        >/dev/null 2>&1
    WRONG_PIN="sha256//$(certtool --pubkey-info --load-privkey "$T/other.pem" 2>/dev/null |
        sed -n 's/.*pin-sha256:\(.*\)$/\1/p' | head -1)"
}

free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 20000))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
            echo $p
            return
        fi
    done
    echo 28443
}

# start_server HOME [extra serve options]: serve on $PORT, wait for healthz.
start_server() {
    local home=$1
    shift
    "$NTM" --home "$home" serve --listen "127.0.0.1:$PORT" \
        --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" "$@" \
        2>>"$T/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        if curl -sk "https://127.0.0.1:$PORT/healthz" 2>/dev/null | grep -q ok; then
            return 0
        fi
        sleep 0.05
    done
    echo "server did not start:"
    cat "$T/server.log"
    return 1
}

stop_server() {
    local sig=${1:-TERM}
    if [ -n "$SERVER_PID" ]; then
        kill -s "$sig" "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
        SERVER_RC=$?
        SERVER_PID=
    fi
}

# count HOME: entries held in HOME/ntm.db (the log table, via ntm verify).
count_entries() {
    "$NTM" --home "$1" --json verify 2>/dev/null | jq -r .entries
}
