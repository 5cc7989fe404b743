#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""sync_tools.py - hand tools for the sync end-to-end tests (Python 3
standard library only; every socket is on 127.0.0.0/8).

  auth KEYFILE METHOD PATH_AND_QUERY [BODYFILE]
      Print the Authorization header value of SPEC.md section 6 for a
      request, signed with the unsealed key file of an ntm home (made with
      `ntm init --no-passphrase`). BODYFILE holds the body exactly as sent
      (gzip bytes for a gzip body). Ed25519 is RFC 8032's reference
      algorithm in pure Python: slow, fine for a few requests.
  gzip-bomb OUT PREFIX_FILE MIB
      Write to OUT a gzip stream of PREFIX_FILE followed by MIB MiB of
      newlines (a few kilobytes that inflate past any sane cap).
  fake-server PORT CERT KEY ROOT MODE LINES_FILE SECONDS
      A TLS HTTP server that looks like ntm serve (/v1/info with ROOT as
      root key, /v1/heads empty) but answers GET /v1/entries with the lines
      of LINES_FILE and then, MODE "endless", padding that never ends, or,
      MODE "bomb", a gzip body inflating to 100 MiB. Stops after SECONDS.
  slowloris ADDR PORT SRC N SECONDS
      Keep N TLS connections from source address SRC trickling one header
      line per second and never ending their headers, for SECONDS; reopen
      the ones the server closes. Prints "opened=N refused=N".
  join-code KEYFILE PAYLOAD
      Print a join code (docs/contract.md "Join codes") for the JSON text
      PAYLOAD, exactly as given, signed with the unsealed key file KEYFILE:
      to make codes ntm would not make (a signer who is not an admin).
  slowpost ADDR PORT SRC N SECONDS [KEY]
      N TLS connections that send complete POST /v1/entries headers with a
      large Content-Length (and an Authorization naming KEY), then one body
      byte per second, for SECONDS.
"""
import hashlib
import http.server
import json
import socket
import socketserver
import ssl
import sys
import threading
import time
import zlib
import base64

# ---------------------------------------------------------------- Ed25519
P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x = (a[1] - a[0]) * (b[1] - b[0]) % P
    y = (a[1] + a[0]) * (b[1] + b[0]) % P
    c = 2 * a[3] * b[3] * D % P
    d = 2 * a[2] * b[2] % P
    e, f, g, h = y - x, d - c, d + c, y + x
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, pt):
    acc = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            acc = _add(acc, pt)
        pt = _add(pt, pt)
        s >>= 1
    return acc


def _recover_x(y, sign):
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x & 1) != sign:
        x = P - x
    return x


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)


def _compress(pt):
    zi = pow(pt[2], P - 2, P)
    x, y = pt[0] * zi % P, pt[1] * zi % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _h(b):
    return int.from_bytes(hashlib.sha512(b).digest(), "little")


def ed25519_sign(seed, msg):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    pub = _compress(_mul(a, G))
    r = _h(h[32:] + msg) % Q
    big_r = _compress(_mul(r, G))
    s = (r + _h(big_r + pub + msg) * a) % Q
    return pub, big_r + int.to_bytes(s, 32, "little")


def load_key(path):
    """(seed, public key) of an unsealed key file (crypto/keys.c)."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] != b"NTMK" or b[15:17] != b"NO":
        sys.exit("%s: not an unsealed ntm key file" % path)
    return b[105:137], b[73:105]


def cmd_auth(keyfile, method, pathq, bodyfile=None):
    seed, pub = load_key(keyfile)
    body = b""
    if bodyfile:
        with open(bodyfile, "rb") as f:
            body = f.read()
    ts = int(time.time() * 1000)
    msg = "ntm-req-v1\n%s\n%s\n%d\n%s" % (
        method, pathq, ts, hashlib.blake2b(body, digest_size=32).hexdigest())
    derived, sig = ed25519_sign(seed, msg.encode())
    if derived != pub:
        sys.exit("%s: the secret key does not give its public key" % keyfile)
    print("NTM-Ed25519 key=%s,ts=%d,sig=%s" %
          (pub.hex(), ts, base64.b64encode(sig).decode()))


def cmd_join_code(keyfile, payload):
    seed, pub = load_key(keyfile)
    _, sig = ed25519_sign(seed, b"ntm-join-v1\n" + payload.encode())

    def b64u(b):
        return base64.urlsafe_b64encode(b).decode().rstrip("=")
    print("ntmjoin1.%s.%s" % (b64u(payload.encode()), b64u(sig)))


def cmd_gzip_bomb(out, prefix_file, mib):
    with open(prefix_file, "rb") as f:
        prefix = f.read()
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [z.compress(prefix)]
    chunk = b"\n" * (1 << 20)
    for _ in range(int(mib)):
        parts.append(z.compress(chunk))
    parts.append(z.flush())
    with open(out, "wb") as f:
        f.write(b"".join(parts))


# ---------------------------------------------------------------- servers
def tls_context_server(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def cmd_fake_server(port, cert, key, root, mode, lines_file, seconds):
    seconds = float(seconds)
    with open(lines_file, "rb") as f:
        lines = f.read()
    if mode == "bomb":
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        parts = [z.compress(lines)]
        chunk = b"\n" * (1 << 20)
        for _ in range(100):
            parts.append(z.compress(chunk))
        parts.append(z.flush())
        bomb = b"".join(parts)
    stats = {"sent": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):
            sys.stderr.write("fake: " + (fmt % args) + "\n")

        def _json(self, obj):
            b = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/v1/info":
                self._json({"server": "ntm", "version": "0.1.0",
                            "root_key": root,
                            "server_time_ms": int(time.time() * 1000),
                            "max_batch": 500, "max_entry_bytes": 65536})
            elif path == "/v1/heads":
                self._json({"heads": {}})
            elif path == "/v1/entries":
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Ntm-Next-After", "1000000")
                self.send_header("Ntm-More", "false")
                if mode == "bomb":
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(bomb)))
                    self.end_headers()
                    self.wfile.write(bomb)
                    stats["sent"] += len(bomb)
                    return
                self.end_headers()
                self.wfile.write(lines)
                pad = b"\n" * 65536  # empty lines: skipped by a parser
                deadline = time.time() + seconds
                try:
                    while time.time() < deadline:
                        self.wfile.write(pad)
                        stats["sent"] += len(pad)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError,
                        OSError):
                    pass
            else:
                self.send_error(404)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", int(port)), Handler)
    ctx = tls_context_server(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    timer = threading.Timer(float(seconds), srv.shutdown)
    timer.daemon = True
    timer.start()
    print("ready", flush=True)
    srv.serve_forever(poll_interval=0.1)
    print("fake server sent %d bytes" % stats["sent"], file=sys.stderr)


def _tls_connect(addr, port, src):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((addr, int(port)), timeout=3,
                                   source_address=(src, 0))
    try:
        s = ctx.wrap_socket(raw, server_hostname=addr)
        # A refused connection is accepted, then closed before or right
        # after the handshake: probe it.
        s.settimeout(0.05)
        try:
            if s.recv(1) == b"":
                raise ConnectionError("closed by the server")
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        s.settimeout(3)
        return s
    except Exception:
        raw.close()
        raise


def _slow(addr, port, src, n, seconds, first, each):
    n, seconds = int(n), float(seconds)
    socks = [None] * n
    opened = refused = 0
    # The attack lasts SECONDS from the end of the first round of
    # connections, which "connected=N" announces (a loaded machine can take
    # seconds to make them).
    end = None
    while end is None or time.time() < end:
        t0 = time.time()
        for i in range(n):
            try:
                if socks[i] is None:
                    socks[i] = _tls_connect(addr, port, src)
                    socks[i].sendall(first)
                    opened += 1
                else:
                    socks[i].sendall(each)
            except Exception:
                if socks[i] is None:
                    refused += 1
                else:
                    socks[i].close()
                    socks[i] = None
        if end is None:
            end = time.time() + seconds
            print("connected=%d" % sum(s is not None for s in socks),
                  flush=True)
        time.sleep(max(0.0, 1.0 - (time.time() - t0)))
    for s in socks:
        if s is not None:
            s.close()
    print("opened=%d refused=%d" % (opened, refused))


def cmd_slowloris(addr, port, src, n, seconds):
    _slow(addr, port, src, n, seconds,
          b"GET /v1/info HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: 1\r\n")


def cmd_slowpost(addr, port, src, n, seconds, key=None):
    # The server refuses a body before reading it unless its Authorization
    # is well formed, current and names a key that may act; a slow upload
    # that holds a request slot names an enrolled key (its signature, over
    # a body never finished, is never checked).
    auth = b""
    if key:
        auth = (b"Authorization: NTM-Ed25519 key=" + key.encode() +
                b",ts=" + str(int(time.time() * 1000)).encode() +
                b",sig=" + base64.b64encode(bytes(64)) + b"\r\n")
    _slow(addr, port, src, n, seconds,
          b"POST /v1/entries HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
          b"Content-Type: application/x-ndjson\r\n"
          b"Content-Length: 100000\r\n\r\n", b"x")


def main():
    cmds = {"auth": cmd_auth, "gzip-bomb": cmd_gzip_bomb,
            "fake-server": cmd_fake_server, "slowloris": cmd_slowloris,
            "slowpost": cmd_slowpost, "join-code": cmd_join_code}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
