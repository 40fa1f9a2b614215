#!/usr/bin/env python3
#   chunkstore-check.py - a node's chunk store (proto/chunkstore.h) and
#   wanted releases (node/core/fetch.h) agree with each other
#   Usage: chunkstore-check.py DB_DIR (the node stopped; reads it with
#   mdb_dump). Checks that every chunk held unpacks to its address and
#   size; that the totals are the sum of what is held; that every chunk
#   is either pinned or in the eviction order (once, at its last use),
#   never both; that every pin names a wanted release, and every chunk
#   of a wanted release is pinned by it. Prints "wanted N held M" and
#   exits 0, or says what disagrees and exits 1.
import hashlib
import struct
import subprocess
import sys
import zlib


def dump(db, table):
    out = subprocess.run(["mdb_dump", "-s", table, db], check=True, capture_output=True,
                         text=True).stdout
    lines = out.split("HEADER=END\n", 1)[1].split("\n")
    pairs = []
    for i in range(0, len(lines), 2):
        if lines[i].startswith("DATA=END"):
            break
        pairs.append((bytes.fromhex(lines[i].strip()), bytes.fromhex(lines[i + 1].strip())))
    return pairs


def manifest_chunks(manifest):
    """The (address, size) entries: the manifest's last field, a bin of 36-byte entries"""
    for length in range(36, len(manifest), 36):
        for head, form in ((1, ">B"), (2, ">H"), (4, ">I")):
            tag = {1: 0xc4, 2: 0xc5, 4: 0xc6}[head]
            at = len(manifest) - length - head - 1
            if at >= 0 and manifest[at] == tag \
                    and struct.unpack(form, manifest[at + 1:at + 1 + head])[0] == length:
                body = manifest[-length:]
                return [(body[i:i + 32], struct.unpack(">I", body[i + 32:i + 36])[0])
                        for i in range(0, length, 36)]
    raise SystemExit("a wanted manifest has no chunk list")


def main():
    db = sys.argv[1]
    bad = []
    held, lru, pins, meta = {}, [], set(), {}
    for key, value in dump(db, "chunks"):
        kind = key[:1]
        if kind == b"c":
            held[key[1:33]] = value
        elif kind == b"l":
            lru.append((struct.unpack(">Q", key[1:9])[0], key[9:41]))
        elif kind == b"p":
            pins.add((key[1:33], key[33:65]))
        elif kind == b"m":
            meta[key[1:].decode()] = struct.unpack(">Q", value)[0]
    wanted = {}
    for key, value in dump(db, "fetch"):
        wanted[key[-32:]] = value
    total = 0
    for address, value in held.items():
        last, size = struct.unpack(">QI", value[:12])
        packed = value[12:]
        total += len(packed)
        try:
            data = zlib.decompress(packed)
        except zlib.error:
            data = b""
        if len(data) != size or hashlib.blake2b(data, digest_size=32).digest() != address:
            bad.append(f"chunk {address.hex()[:16]} does not unpack to its address and size")
        if last > meta.get("tick", 0):
            bad.append(f"chunk {address.hex()[:16]} used after the last tick")
    if meta.get("bytes") != total or meta.get("count") != len(held):
        bad.append(f"totals {meta} for {len(held)} chunks of {total} bytes")
    pinned = {address for address, _ in pins}
    in_lru = {}
    for tick, address in lru:
        if address in in_lru:
            bad.append(f"chunk {address.hex()[:16]} twice in the eviction order")
        in_lru[address] = tick
        if address not in held:
            bad.append(f"chunk {address.hex()[:16]} in the eviction order, not held")
        elif address in pinned:
            bad.append(f"chunk {address.hex()[:16]} pinned and in the eviction order")
        elif struct.unpack(">Q", held[address][:8])[0] != tick:
            bad.append(f"chunk {address.hex()[:16]} in the eviction order at another use")
    for address in held:
        if address not in pinned and address not in in_lru:
            bad.append(f"chunk {address.hex()[:16]} neither pinned nor evictable")
    for address, manifest in pins:
        if manifest not in wanted:
            bad.append(f"chunk {address.hex()[:16]} pinned by {manifest.hex()[:16]}, not wanted")
    for manifest_hash, manifest in wanted.items():
        if hashlib.blake2b(manifest, digest_size=32).digest() != manifest_hash:
            bad.append(f"wanted {manifest_hash.hex()[:16]} is not its manifest")
            continue
        for address, _ in manifest_chunks(manifest):
            if (address, manifest_hash) not in pins:
                bad.append(f"chunk {address.hex()[:16]} of {manifest_hash.hex()[:16]} not pinned")
    if bad:
        print("\n".join(bad[:20]))
        sys.exit(1)
    print(f"wanted {len(wanted)} held {len(held)}")


main()
