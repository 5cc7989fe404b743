#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# faultproxy.py - a loopback TCP fault proxy for the chaos tests
# (RELIABILITY.md "Fault proxy"): toxiproxy's toxic set, with no
# third-party code. It forwards bytes untouched (TLS included: clients keep
# their --cacert/--pin for the real server) and, per connection, applies
# one toxic picked at random (seeded) from the configured set:
#
#   none                       forward as is
#   latency:ms=M,jitter=J      delay each chunk M +- J ms
#   bandwidth:rate=K           at most K KB/s
#   slow_close:delay=M         delay the close by M ms after EOF
#   timeout:ms=M               forward nothing; close both after M ms
#                              (0: hold the connection until the peer goes)
#   slicer:size=N,var=V,us=U   N +- V byte writes, U microseconds apart
#   limit_data:bytes=N         close both after N bytes (cut mid-response)
#   reset_peer:ms=M            after M ms, RST the client (SO_LINGER 0)
#
# Every toxic takes dir=down (server to client, the default), up or both,
# and a weight @W for the random pick, e.g.
#   "none@3;latency:ms=80,jitter=40;limit_data:bytes=900;reset_peer:ms=20"
# The set can be changed at run time by writing such a line to the
# --control file (read again when its mtime changes, at each accept).
#
# Binds only to 127.0.0.0/8. Log: one line per connection (toxic, bytes
# each way, how it ended). Runs until SIGTERM/SIGINT.
import argparse
import asyncio
import os
import random
import signal
import socket
import struct
import sys

CHUNK = 16384


def parse_spec(text):
    """'name:k=v,k=v@w;...' -> [(name, {k: v}, weight)]."""
    out = []
    for part in text.replace("\n", ";").split(";"):
        part = part.strip()
        if not part or part.startswith("#"):
            continue
        weight = 1.0
        if "@" in part:
            part, w = part.rsplit("@", 1)
            weight = float(w)
        name, _, args = part.partition(":")
        kv = {}
        for a in filter(None, args.split(",")):
            k, _, v = a.partition("=")
            kv[k.strip()] = v.strip()
        if name not in TOXICS:
            raise ValueError("unknown toxic %r" % name)
        out.append((name, kv, weight))
    return out or [("none", {}, 1.0)]


TOXICS = ("none", "latency", "bandwidth", "slow_close", "timeout", "slicer",
          "limit_data", "reset_peer")


class Proxy:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        self.spec = parse_spec(args.toxics)
        self.ctl_mtime = None
        self.n = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def note(self, line):
        if self.log:
            self.log.write(line + "\n")

    def reload(self):
        c = self.a.control
        if not c:
            return
        try:
            m = os.stat(c).st_mtime_ns
            if m == self.ctl_mtime:
                return
            with open(c) as f:
                spec = parse_spec(f.read())
            self.ctl_mtime = m
            self.spec = spec
            self.note("# control: %s" % ";".join(s[0] for s in spec))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            self.note("# control file ignored: %s" % e)

    def pick(self):
        self.reload()
        total = sum(w for _, _, w in self.spec)
        x = self.rng.uniform(0, total)
        for name, kv, w in self.spec:
            x -= w
            if x <= 0:
                return name, kv
        return self.spec[-1][:2]

    async def handle(self, cr, cw):
        self.n += 1
        cid = self.n
        name, kv = self.pick()
        rng = random.Random(self.rng.getrandbits(32))
        num = lambda k, d: float(kv.get(k, d))
        dirs = kv.get("dir", "down")
        stats = {"up": 0, "down": 0, "end": "eof"}
        try:
            sr, sw = await asyncio.wait_for(
                asyncio.open_connection(self.a.up_host, self.a.up_port), 5)
        except (OSError, asyncio.TimeoutError) as e:
            self.note("%d %s upstream-refused %s" % (cid, name, e))
            cw.close()
            return
        done = asyncio.Event()

        def rst(w):
            s = w.get_extra_info("socket")
            if s is not None:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                except OSError:
                    pass
            w.transport.abort()

        async def pump(r, w, d):
            toxic = name if dirs in (d, "both") else "none"
            left = num("bytes", 1 << 62)
            try:
                while not done.is_set():
                    data = await r.read(CHUNK)
                    if not data:
                        if toxic == "slow_close":
                            await asyncio.sleep(num("delay", 1000) / 1000)
                        break
                    if toxic == "timeout":
                        continue  # swallow: nothing goes through
                    if toxic == "latency":
                        ms = num("ms", 100) + rng.uniform(-1, 1) * num("jitter", 0)
                        await asyncio.sleep(max(ms, 0) / 1000)
                    if toxic == "limit_data":
                        data = data[:int(left)]
                        left -= len(data)
                    parts = [data]
                    if toxic == "slicer":
                        parts, i = [], 0
                        size, var = int(num("size", 64)), int(num("var", 0))
                        while i < len(data):
                            n = max(1, size + rng.randint(-var, var))
                            parts.append(data[i:i + n])
                            i += n
                    elif toxic == "bandwidth":
                        rate = max(num("rate", 32), 0.1) * 1024
                        step = max(1, int(rate / 20))
                        parts = [data[i:i + step] for i in range(0, len(data), step)]
                    for p in parts:
                        w.write(p)
                        await w.drain()
                        stats[d] += len(p)
                        if toxic == "slicer":
                            await asyncio.sleep(num("us", 1000) / 1e6)
                        elif toxic == "bandwidth":
                            await asyncio.sleep(len(p) / rate)
                    if toxic == "limit_data" and left <= 0:
                        stats["end"] = "limit"
                        break
            except (OSError, asyncio.IncompleteReadError):
                stats["end"] = "error"
            finally:
                done.set()

        tasks = [asyncio.ensure_future(pump(cr, sw, "up")),
                 asyncio.ensure_future(pump(sr, cw, "down"))]
        killer = None
        if name == "timeout" and num("ms", 0) > 0:
            async def close_later():
                await asyncio.sleep(num("ms", 0) / 1000)
                stats["end"] = "timeout"
                done.set()
            killer = asyncio.ensure_future(close_later())
        elif name == "reset_peer":
            async def reset_later():
                await asyncio.sleep(num("ms", 0) / 1000)
                stats["end"] = "reset"
                rst(cw)
                done.set()
            killer = asyncio.ensure_future(reset_later())
        waiter = asyncio.ensure_future(done.wait())
        # Both pumps run until one side ends (or the toxic ends it); a
        # half-close is not kept open: the sync client never needs one.
        await asyncio.wait(tasks + [waiter], return_when=asyncio.FIRST_COMPLETED)
        await done.wait()
        for t in tasks + [waiter] + ([killer] if killer else []):
            t.cancel()
        for w in (sw, cw):
            try:
                w.close()
            except OSError:
                pass
        self.note("%d %s%s up=%d down=%d %s" % (
            cid, name, "" if not kv else ":" + ",".join(
                "%s=%s" % i for i in sorted(kv.items())),
            stats["up"], stats["down"], stats["end"]))


def main():
    ap = argparse.ArgumentParser(description="loopback TCP fault proxy")
    ap.add_argument("--listen", required=True, help="127.0.0.1:PORT")
    ap.add_argument("--upstream", required=True, help="127.0.0.1:PORT")
    ap.add_argument("--toxics", default="none")
    ap.add_argument("--control", help="file holding the toxic set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    a.up_host, a.up_port = a.upstream.rsplit(":", 1)
    for h in (host, a.up_host):
        if not h.startswith("127."):
            sys.exit("faultproxy: loopback addresses only (127.0.0.0/8)")
    try:
        parse_spec(a.toxics)
    except ValueError as e:
        sys.exit("faultproxy: %s" % e)
    p = Proxy(a)

    async def run():
        srv = await asyncio.start_server(p.handle, host, int(port),
                                         reuse_address=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop.set)
        print("faultproxy listening on %s -> %s" % (a.listen, a.upstream),
              flush=True)
        await stop.wait()
        srv.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
