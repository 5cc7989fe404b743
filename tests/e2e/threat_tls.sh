#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# threat_tls.sh - RELIABILITY.md T15 (threats #18, #19) against a real
# `ntm serve` on 127.0.0.1:
#   - the server refuses TLS 1.0 and 1.1 (and 3DES) and speaks 1.2 and 1.3
#     (gnutls-cli; a gnutls-serv control shows this gnutls-cli can speak 1.1);
#   - the client refuses http:// to a non-loopback host and follows no
#     redirect (a small redirecting server, python3 stdlib);
#   - a man in the middle (a copy of the server with another key on the
#     same port), a wrong pin and a wrong CA file make push, pull and sync
#     fail with nothing marked pushed (unpushed count, peer heads, cursor
#     and times unchanged) and nothing pulled applied;
#   - pin-only mode works with an expired and a not-yet-valid certificate,
#     and with the device clock in 2000 and 2040 (faketime), while --cacert
#     mode refuses them.
#
# Env: NTM_BIN. Prints one line per check and "N passed, N failed".
set -u
. "$(dirname "$0")/threat_lib.sh"

command -v gnutls-cli >/dev/null || { echo "gnutls-cli is needed (apt-get install -y gnutls-bin)"; exit 77; }

make_cert # $T/key.pem, $T/cert.pem (served), $T/other.pem (another key), PIN, WRONG_PIN
cp "$T/cert.pem" "$T/real-cert.pem"
cp "$T/key.pem" "$T/real-key.pem"
cp "$T/cert.pem" "$T/ca.pem" # what --cacert homes trust
PORT=$(free_port)
URL=https://127.0.0.1:$PORT
A=$T/admin
S=$T/server
R1=$T/rec1 # --cacert mode
R2=$T/rec2 # pin-only mode
COMMUNE=72.710.25657

# cert_from KEY OUT [template lines...]: a self-signed certificate for
# 127.0.0.1 with KEY and the extra template lines (dates).
cert_from() {
    local key=$1 out=$2
    shift 2
    {
        printf 'cn = "127.0.0.1"\nip_address = "127.0.0.1"\ndns_name = "localhost"\n'
        printf 'signing_key\nencryption_key\ntls_www_server\nca\n'
        printf '%s\n' "$@"
    } >"$T/tpl"
    certtool --generate-self-signed --load-privkey "$key" --template "$T/tpl" \
        --outfile "$out" >/dev/null 2>&1
}
# serve_with CERT [KEY]: restart the server at $PORT presenting CERT and
# KEY (default: the real key), on home ${SHOME:-$S}.
serve_with() {
    stop_server TERM
    cp "$1" "$T/cert.pem"
    cp "${2:-$T/real-key.pem}" "$T/key.pem"
    start_server "${SHOME:-$S}"
}
set_meta() {
    sqlite3 "$1/ntm.db" "INSERT OR REPLACE INTO meta(key, value) VALUES('$2', '$3')"
}
# snap HOME: what a failed exchange must leave unchanged.
snap() {
    "$NTM" --home "$1" --json status 2>/dev/null | jq -c '{unpushed, last_push_ms, last_pull_ms}'
    sqlite3 "$1/ntm.db" "SELECT author, seq, id FROM peer_heads ORDER BY author;
        SELECT count(*) FROM entries; SELECT count(*) FROM records;
        SELECT key, value FROM meta WHERE key IN ('sync.cursor', 'sync.server_gseq',
        'sync.last_push_ms', 'sync.last_pull_ms') ORDER BY key"
}
# refused DESC HOME: push, pull and sync all fail, and HOME is unchanged.
refused() {
    local desc=$1 home=$2 before cmd
    before=$(snap "$home")
    for cmd in push pull sync; do
        run "$home" "$cmd"
        check "$desc: $cmd fails (exit $rc)" test "$rc" -ne 0
        check "  ... saying why (TLS, certificate or pin)" err_has "tls\|certif\|pin\|ssl"
    done
    check "  ... nothing marked pushed, nothing pulled applied" \
        test "$before" = "$(snap "$home")"
}
# wait_port PORT: until something listens on 127.0.0.1:PORT (5 s at most).
wait_port() {
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
unpushed() { "$NTM" --home "$1" --json status 2>/dev/null | jq -r .unpushed; }
record() {
    "$NTM" --home "$1" record activity --task doan.rural_roads_km --unit "$COMMUNE" \
        --date 2019-05-17 --title "$2" >/dev/null 2>&1
}

# ---------------------------------------------------------------- setup
run "$A" init --root --no-passphrase --name admin --server "$URL" --cacert "$T/ca.pem"
run "$A" key export
ADMIN=$(cat "$T/out")
run "$S" init --no-passphrase --root-key "$ADMIN" --name server
check "server starts over TLS" start_server "$S"
expect 0 "recorder 1: init --cacert" "$R1" init --no-passphrase --server "$URL" --cacert "$T/ca.pem"
run "$R1" key export
REC1=$(cat "$T/out")
expect 0 "recorder 2: init --pin (pin-only)" "$R2" init --no-passphrase --server "$URL" --pin "$PIN"
run "$R2" key export
REC2=$(cat "$T/out")
for k in "$REC1" "$REC2"; do
    "$NTM" --home "$A" admin enroll "$k" --role recorder --scope "$COMMUNE" --org doan >/dev/null 2>&1
done
expect 0 "admin pushes the enrollments" "$A" push
record "$R1" "r1 a"
record "$R2" "r2 a"
expect 0 "recorder 1 syncs" "$R1" sync
expect 0 "recorder 2 syncs" "$R2" sync
expect 0 "recorder 1 pulls recorder 2's record" "$R1" pull
# Pending both ways: unpushed entries, and a server entry not yet pulled.
record "$R1" "r1 b"
record "$R1" "r1 c"
record "$R2" "r2 b"
"$NTM" --home "$A" admin unit "$COMMUNE.7" --name "Ấp Bảy" --level hamlet >/dev/null 2>&1
expect 0 "admin pushes a new hamlet (not yet pulled by the recorders)" "$A" push
check "recorder 1 has 2 unpushed" test "$(unpushed "$R1")" = 2
check "recorder 2 has 1 unpushed" test "$(unpushed "$R2")" = 1

# ---------------------------------------------------------------- versions
gtls() { # gtls PRIORITY: handshake with the server; 0 when it completed
    timeout 10 gnutls-cli --priority "$1" --insecure -p "$2" 127.0.0.1 \
        </dev/null >"$T/gtls.out" 2>&1 && grep -q "Handshake was completed" "$T/gtls.out"
}
no_gtls() { ! gtls "$@"; }
for v in 1.2 1.3; do
    check "TLS $v handshake succeeds" gtls "NORMAL:-VERS-ALL:+VERS-TLS$v" "$PORT"
done
# Control: this gnutls-cli can speak 1.0 and 1.1 to a server that allows them.
CPORT=$(free_port)
gnutls-serv --priority 'NORMAL:+VERS-TLS1.1:+VERS-TLS1.0' --x509certfile "$T/cert.pem" \
    --x509keyfile "$T/key.pem" -p "$CPORT" >"$T/gserv.log" 2>&1 &
GSERV=$!
wait_port "$CPORT"
for v in 1.0 1.1; do
    if gtls "NORMAL:-VERS-ALL:+VERS-TLS$v" "$CPORT"; then
        check "TLS $v is refused by the server" no_gtls "NORMAL:-VERS-ALL:+VERS-TLS$v" "$PORT"
    else
        echo "skip - TLS $v: this gnutls-cli cannot speak it even to gnutls-serv"
    fi
done
kill "$GSERV" 2>/dev/null
wait "$GSERV" 2>/dev/null
check "a 3DES-only TLS 1.2 client is refused" \
    no_gtls "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+3DES-CBC" "$PORT"
check "the server is still healthy" healthy "$URL"

# ---------------------------------------------------------------- http://
run "$T/plain" init --no-passphrase --server "http://192.0.2.7:8080"
check "init with http:// to a non-loopback host is refused" test "$rc" -ne 0
check "  ... asking for https" err_has "https"
cp -r "$R1" "$T/r1plain"
set_meta "$T/r1plain" sync.server "http://192.0.2.7:8080"
BEFORE=$(snap "$T/r1plain")
run "$T/r1plain" push
check "push to an http:// non-loopback server stored in the home is refused" test "$rc" -ne 0
check "  ... before any connection (asks for https)" err_has "https"
check "  ... nothing changed" test "$BEFORE" = "$(snap "$T/r1plain")"
# A host name that merely starts with "127." is not a loopback address. Run
# in an empty network namespace, so a client that tries it reaches nothing.
if unshare -n true 2>/dev/null; then
    for host in 127.0.0.1.example.invalid 127.evil.invalid; do
        set_meta "$T/r1plain" sync.server "http://$host:8080"
        unshare -n "$NTM" --home "$T/r1plain" push >"$T/out" 2>"$T/err"
        rc=$?
        check "http://$host is refused before connecting (exit $rc)" \
            err_has "refusing server URL\|only https"
        unshare -n "$NTM" --home "$T/init-$host" init --no-passphrase \
            --server "http://$host:8080" >"$T/out" 2>"$T/err"
        rc=$?
        check "init --server http://$host is refused (exit $rc)" \
            sh -c "test $rc -ne 0 && grep -qi https '$T/err'"
    done
else
    echo "skip - unshare -n not available: the 127.<name> checks need it"
fi

# ---------------------------------------------------------------- redirect
if command -v python3 >/dev/null; then
    cat >"$T/redir.py" <<'PY'
import http.server, ssl, sys
mode, port, target, cert, key, log = sys.argv[1:7]
class H(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        with open(log, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
        if mode == "redirect":
            self.send_response(307)
            self.send_header("Location", target + self.path)
            body = b""
        else:
            self.send_response(200)
            body = b'{"heads":{}}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_HEAD = handle_any
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", int(port)), H)
if mode == "redirect":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
    RPORT=$(free_port)
    SINK=$(free_port)
    python3 "$T/redir.py" sink "$SINK" - - - "$T/sink.log" 2>/dev/null &
    SINK_PID=$!
    for target in "$URL" "http://127.0.0.1:$SINK"; do
        python3 "$T/redir.py" redirect "$RPORT" "$target" "$T/cert.pem" "$T/key.pem" \
            "$T/redir.log" 2>/dev/null &
        REDIR_PID=$!
        wait_port "$RPORT"
        : >"$T/sink.log"
        LOG0=$(grep -c ' /v1/' "$T/server.log")
        run "$T/redir-init-$RPORT" init --no-passphrase --server "https://127.0.0.1:$RPORT" --cacert "$T/ca.pem"
        check "init against a server redirecting to $target fails" test "$rc" -ne 0
        cp -r "$R1" "$T/r1redir"
        set_meta "$T/r1redir" sync.server "https://127.0.0.1:$RPORT"
        BEFORE=$(snap "$T/r1redir")
        run "$T/r1redir" push
        check "  ... push through it fails (exit $rc)" test "$rc" -ne 0
        run "$T/r1redir" pull
        check "  ... pull through it fails (exit $rc)" test "$rc" -ne 0
        check "  ... nothing marked pushed or pulled" test "$BEFORE" = "$(snap "$T/r1redir")"
        check "  ... the redirect was asked for" grep -q '/v1/' "$T/redir.log"
        check "  ... and not followed (target saw no request)" \
            sh -c "test ! -s '$T/sink.log' && test \$(grep -c ' /v1/' '$T/server.log') = $LOG0"
        kill "$REDIR_PID" 2>/dev/null
        wait "$REDIR_PID" 2>/dev/null
        rm -rf "$T/r1redir"
        RPORT=$(free_port)
    done
    kill "$SINK_PID" 2>/dev/null
    wait "$SINK_PID" 2>/dev/null
else
    echo "skip - python3 not found: no redirect checks"
fi

# ---------------------------------------------------------------- MITM
stop_server TERM
cp -r "$S" "$T/rogue" # the worst case: the rogue holds all the data
cert_from "$T/other.pem" "$T/rogue-cert.pem" "expiration_days = 30"
: >"$T/server.log"
SHOME=$T/rogue serve_with "$T/rogue-cert.pem" "$T/other.pem"
check "a rogue server (another key, same data) listens on the same port" healthy "$URL"
refused "MITM, --cacert device" "$R1"
refused "MITM, pin-only device" "$R2"
check "  ... the rogue saw no request at all (handshake or pin stopped it)" \
    sh -c "! grep -q ' /v1/' '$T/server.log'"
serve_with "$T/real-cert.pem"
check "the real server is back" healthy "$URL"

cp -r "$R2" "$T/r2wrong"
set_meta "$T/r2wrong" sync.pin "$WRONG_PIN"
refused "wrong pin" "$T/r2wrong"
cp -r "$R1" "$T/r1wrong"
set_meta "$T/r1wrong" sync.cacert "$T/rogue-cert.pem"
refused "wrong CA file" "$T/r1wrong"
cp -r "$R1" "$T/r1both"
set_meta "$T/r1both" sync.pin "$WRONG_PIN"
refused "right CA file but a wrong pin (both required)" "$T/r1both"

expect 0 "recorder 1 then syncs with the real server" "$R1" --json sync
check "  ... its 2 entries accepted" json_ok '.push.accepted == 2 and (.push.rejected | length) == 0'
expect 0 "recorder 2 then syncs with the real server" "$R2" --json sync
check "  ... its entry accepted, the hamlet and recorder 1's pulled" \
    json_ok '.push.accepted == 1 and .pull.applied >= 3'

# ---------------------------------------------------------------- dates
cert_from "$T/key.pem" "$T/expired.pem" 'activation_date = "2000-01-01 00:00:00"' \
    'expiration_date = "2001-01-01 00:00:00"'
cert_from "$T/key.pem" "$T/future.pem" 'activation_date = "2040-01-01 00:00:00"' \
    'expiration_date = "2041-01-01 00:00:00"'
check "certtool made the expired certificate" \
    sh -c "certtool -i --infile '$T/expired.pem' | grep -q 'Not After: .*2001'"
check "certtool made the not-yet-valid certificate" \
    sh -c "certtool -i --infile '$T/future.pem' | grep -q 'Not Before: .*2040'"
for kind in expired future; do
    serve_with "$T/$kind.pem"
    check "server presents the $kind certificate (same key)" healthy "$URL"
    record "$R2" "r2 $kind"
    expect 0 "pin-only device: sync works with the $kind certificate" "$R2" --json sync
    check "  ... its entry accepted" json_ok '.push.accepted == 1'
    record "$R1" "r1 $kind"
    refused "--cacert device, $kind certificate" "$R1"
    cp -r "$R1" "$T/r1-$kind"
    set_meta "$T/r1-$kind" sync.cacert "$T/$kind.pem"
    refused "--cacert device trusting exactly the $kind certificate" "$T/r1-$kind"
done
serve_with "$T/real-cert.pem"
expect 0 "recorder 1 syncs again once the server has a valid certificate" "$R1" --json sync
check "  ... its 2 held entries accepted" json_ok '.push.accepted == 2'

# ---------------------------------------------------------------- device clock
if command -v faketime >/dev/null; then
    for when in '2000-01-01 12:00:00' '2040-01-01 12:00:00'; do
        record "$R2" "r2 before $when"
        fake_clock "@$when" "$NTM" --home "$R2" --json sync >"$T/out" 2>"$T/err"
        rc=$?
        check "pin-only device with its clock at $when: sync works (exit $rc)" test "$rc" -eq 0
        check "  ... its entry accepted (request time corrected after clock_skew)" \
            json_ok '.push.accepted == 1'
        record "$R1" "r1 before $when"
        BEFORE=$(snap "$R1")
        fake_clock "@$when" "$NTM" --home "$R1" push >"$T/out" 2>"$T/err"
        rc=$?
        check "--cacert device with its clock at $when: push refused (exit $rc)" test "$rc" -ne 0
        check "  ... a certificate error" err_has "certif\|tls\|ssl"
        check "  ... naming this device's clock as the likely cause" err_has "clock"
        check "  ... and the pin as the way that does not depend on it" err_has "\-\-pin sha256"
        check "  ... nothing marked pushed" test "$BEFORE" = "$(snap "$R1")"
    done
    expect 0 "recorder 1 with a right clock pushes what it held" "$R1" --json push
    check "  ... 2 accepted" json_ok '.accepted == 2'
else
    echo "skip - faketime not found (apt-get install -y faketime): no device clock checks"
fi

# ---------------------------------------------------------------- end
"$NTM" --home "$A" pull >/dev/null 2>&1
run "$A" --json verify
check "admin's replica verifies clean" json_ok '(.invalid | length) == 0 and (.forks | length) == 0'
stop_server TERM
check "server stops cleanly" test "${SERVER_RC:-1}" -eq 0
finish_threat
