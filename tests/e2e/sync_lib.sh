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
    local c
    for c in "${TMPDIR:-/tmp}"/ntm-test-ports/*/"$$"; do
        [ -e "$c" ] && rm -rf "${c%/*}"
    done
    return 0
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

# free_port: a loopback port for this test's server or proxy. Ports are
# taken below the kernel's ephemeral range (32768 and up on Linux), where
# no client connection of a parallel test can be holding one, and each is
# claimed with an atomic mkdir so two tests started together never pick the
# same; cleanup drops the test's claims (named by its pid). A claim older than a day is stale.
PORT_CLAIMS=${TMPDIR:-/tmp}/ntm-test-ports
free_port() {
    local p
    mkdir -p "$PORT_CLAIMS"
    find "$PORT_CLAIMS" -mindepth 1 -maxdepth 1 -mmin +1440 \
        -exec rm -rf {} + 2>/dev/null
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        mkdir "$PORT_CLAIMS/$p" 2>/dev/null || continue
        if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
            continue # someone else listens there: keep the claim, move on
        fi
        : >"$PORT_CLAIMS/$p/$$" # free_port runs in $(...): $$ is the test
        echo $p
        return
    done
    echo "free_port: no free loopback port in 20000-31999" >&2
    echo 28443
}

# wait_listening FILE: wait (up to 30 s, the machine may be loaded) until a
# helper's output FILE says it is listening; print FILE if it never does.
wait_listening() {
    for _ in $(seq 1 300); do
        grep -q listening "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "not listening after 30 s:"
    cat "$1"
    return 1
}

# start_server HOME [extra serve options]: serve on $PORT, wait for healthz.
start_server() {
    local home=$1
    shift
    "$NTM" --home "$home" serve --listen "127.0.0.1:$PORT" \
        --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" "$@" \
        2>>"$T/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        if curl -sk "https://127.0.0.1:$PORT/healthz" 2>/dev/null | grep -q ok; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
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
