#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""verify_flips.py - the byte-flip drill of verify_drill.sh.

Usage: verify_flips.py NTM HOME SEED N

HOME is a populated ntm home whose ntm.db was checkpointed (no WAL). The
drill flips one byte at a time in a copy of ntm.db, N times, and counts
how often `ntm verify` notices (exit status not 0: 3 for what verify finds,
1 when the store cannot even be opened, with a corruption message).

Offsets are drawn at random among the file's *live* bytes. A SQLite page
also holds bytes that mean nothing: the gap between a b-tree page's cell
pointer array and its cell content, the inside of freeblocks, and the
pages of the freelist. A changed byte there changes nothing, so no check
can (or should) report it. The drill measures how many of N purely random
offsets in the whole file land in such unused space, and prints both
figures. Prints "detected D of N" last.
"""
import os
import random
import shutil
import subprocess
import sys


def page_map(data):
    """List of (start, end) ranges of unused bytes in the file."""
    psize = int.from_bytes(data[16:18], "big")
    if psize == 1:
        psize = 65536
    npages = len(data) // psize
    unused = []
    free_pages = set()
    trunk = int.from_bytes(data[32:36], "big")
    while 0 < trunk <= npages:
        t = (trunk - 1) * psize
        nleaf = int.from_bytes(data[t + 4:t + 8], "big")
        for i in range(nleaf):
            o = t + 8 + 4 * i
            free_pages.add(int.from_bytes(data[o:o + 4], "big"))
        unused.append((t + 8 + 4 * nleaf, t + psize))
        trunk = int.from_bytes(data[t:t + 4], "big")
    for p in range(1, npages + 1):
        base = (p - 1) * psize
        if p in free_pages:
            unused.append((base, base + psize))
            continue
        h = base + (100 if p == 1 else 0)
        kind = data[h]
        if kind not in (2, 5, 10, 13):
            continue  # overflow page and the like: counted as live
        hsize = 8 if kind in (10, 13) else 12
        ncells = int.from_bytes(data[h + 3:h + 5], "big")
        start = int.from_bytes(data[h + 5:h + 7], "big") or 65536
        unused.append((h + hsize + 2 * ncells, base + start))
        fb = int.from_bytes(data[h + 1:h + 3], "big")
        while fb:
            size = int.from_bytes(data[base + fb + 2:base + fb + 4], "big")
            unused.append((base + fb + 4, base + fb + size))
            fb = int.from_bytes(data[base + fb:base + fb + 2], "big")
    return unused


def in_ranges(off, ranges):
    return any(a <= off < b for a, b in ranges)


def main():
    ntm, home, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    src = os.path.join(home, "ntm.db")
    with open(src, "rb") as f:
        data = f.read()
    unused = page_map(data)
    free_bytes = sum(b - a for a, b in unused)
    print(f"# file {len(data)} bytes, {free_bytes} of them unused space "
          f"({100.0 * free_bytes / len(data):.1f}%)")
    anywhere = sum(in_ranges(rng.randrange(len(data)), unused) for _ in range(n))
    print(f"# of {n} random offsets in the whole file, {anywhere} land in "
          f"unused space (not counted below)")
    # the live bytes as a sorted list of ranges
    unused.sort()
    live = []
    pos = 0
    for a, b in unused:
        if a > pos:
            live.append((pos, a))
        pos = max(pos, b)
    if pos < len(data):
        live.append((pos, len(data)))
    total_live = sum(b - a for a, b in live)
    work = os.path.join(os.path.dirname(home.rstrip("/")), "flip-home")
    detected = 0
    for i in range(n):
        k = rng.randrange(total_live)
        for a, b in live:
            if k < b - a:
                off = a + k
                break
            k -= b - a
        flip = 1 << rng.randrange(8)
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(home, work)
        for ext in ("-wal", "-shm"):
            try:
                os.remove(os.path.join(work, "ntm.db" + ext))
            except FileNotFoundError:
                pass
        buf = bytearray(data)
        buf[off] ^= flip
        with open(os.path.join(work, "ntm.db"), "wb") as f:
            f.write(buf)
        r = subprocess.run([ntm, "--home", work, "verify"], capture_output=True,
                           text=True, timeout=120)
        found = r.stdout.strip().splitlines()[1:2] if r.returncode == 3 else []
        lines = found or r.stderr.strip().splitlines()
        why = lines[0].strip()[:100] if lines else ""
        if r.returncode == 1 and not any(
                w in r.stderr.lower() for w in ("corrupt", "damaged", "malformed",
                                                "not a database", "schema")):
            print(f"# flip {i + 1}: offset {off} bit {flip:#04x}: exit 1 "
                  f"without a corruption message: {why}")
            ok = False
        else:
            ok = r.returncode != 0
        detected += ok
        page = off // int.from_bytes(data[16:18], "big") + 1
        print(f"# flip {i + 1}: offset {off} (page {page}) bit {flip:#04x}: "
              f"exit {r.returncode} {'detected' if ok else 'MISSED'}"
              f"{': ' + why if why and ok else ''}"
              f"{'' if ok else f' (byte {data[off]:#04x} -> {buf[off]:#04x} {bytes([data[off]])!r} -> {bytes([buf[off]])!r})'}")
    shutil.rmtree(work, ignore_errors=True)
    print(f"detected {detected} of {n}")


if __name__ == "__main__":
    main()
