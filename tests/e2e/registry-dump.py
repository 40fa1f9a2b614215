#!/usr/bin/env python3
#   registry-dump.py - the coordinator's LMDB as comparable text
#   Reads `mdb_dump -a` (hex) on stdin and prints every entry of every
#   table but those named with --skip, one line per entry: the key in
#   hex and the value. Values of the msgpack record tables (devices,
#   twins, operators) are decoded in full (bin as {"$bin": hex}, map
#   order kept); any other value, or a record that does not decode, is
#   printed as its bytes. The credential serial is masked (cert_serial
#   0) in both forms, as the serial counter is shared by calls the
#   comparison does not make. Nothing else is dropped: two dumps are
#   equal only if every other byte is.
import json
import re
import struct
import sys

RECORDS = {"devices", "twins", "operators"}


class Bad(Exception):
    pass


def unpack(data, pos):
    if pos >= len(data):
        raise Bad("truncated")
    tag = data[pos]
    pos += 1

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise Bad("truncated")
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    def seq(n, is_map):
        nonlocal pos
        items = []
        for _ in range(n):
            if is_map:
                key, pos = unpack(data, pos)
                value, pos = unpack(data, pos)
                items.append([key, value])
            else:
                value, pos = unpack(data, pos)
                items.append(value)
        return {"$map": items} if is_map else items

    if tag <= 0x7F:
        return tag, pos
    if tag >= 0xE0:
        return tag - 0x100, pos
    if tag & 0xF0 == 0x80:
        return seq(tag & 0x0F, True), pos
    if tag & 0xF0 == 0x90:
        return seq(tag & 0x0F, False), pos
    if tag & 0xE0 == 0xA0:
        return take(tag & 0x1F).decode("utf-8"), pos
    if tag == 0xC0:
        return None, pos
    if tag in (0xC2, 0xC3):
        return tag == 0xC3, pos
    if tag in (0xC4, 0xC5, 0xC6):
        n = int.from_bytes(take(1 << (tag - 0xC4)), "big")
        return {"$bin": take(n).hex()}, pos
    if tag in (0xD9, 0xDA, 0xDB):
        n = int.from_bytes(take(1 << (tag - 0xD9)), "big")
        return take(n).decode("utf-8"), pos
    if tag in (0xDC, 0xDD):
        return seq(int.from_bytes(take(2 if tag == 0xDC else 4), "big"), False), pos
    if tag in (0xDE, 0xDF):
        return seq(int.from_bytes(take(2 if tag == 0xDE else 4), "big"), True), pos
    if tag == 0xCA:
        return {"$f32": struct.unpack(">f", take(4))[0]}, pos
    if tag == 0xCB:
        return {"$f64": struct.unpack(">d", take(8))[0]}, pos
    if tag in (0xCC, 0xCD, 0xCE, 0xCF):
        return int.from_bytes(take(1 << (tag - 0xCC)), "big"), pos
    if tag in (0xD0, 0xD1, 0xD2, 0xD3):
        return int.from_bytes(take(1 << (tag - 0xD0)), "big", signed=True), pos
    raise Bad("type 0x%02x" % tag)


def mask(value):
    if isinstance(value, dict) and "$map" in value:
        for item in value["$map"]:
            if item[0] == "cert_serial" and isinstance(item[1], int):
                item[1] = 0
            else:
                mask(item[1])
    elif isinstance(value, list):
        for item in value:
            mask(item)


def show(table, raw):
    if table in RECORDS:
        try:
            value, end = unpack(raw, 0)
            if end != len(raw):
                raise Bad("trailing bytes")
            mask(value)
            return "record " + json.dumps(value, sort_keys=True)
        except (Bad, UnicodeDecodeError) as error:
            sys.stderr.write("registry-dump: %s: %s\n" % (table, error))
    text = raw.decode("latin-1")
    return "bytes " + json.dumps(re.sub(r"\"cert_serial\":[0-9]+", "\"cert_serial\":0", text))


def main():
    skip = set()
    args = sys.argv[1:]
    while args:
        if args[0] == "--skip" and len(args) > 1:
            skip.add(args[1])
            args = args[2:]
        else:
            sys.exit("usage: registry-dump.py [--skip TABLE]... < mdb_dump -a output")
    table = None
    in_data = False
    key = None
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line.startswith("database="):
            table = line.split("=", 1)[1]
            if table not in skip:
                print("database=" + table)
            continue
        if line == "HEADER=END":
            in_data = True
            key = None
            continue
        if line == "DATA=END":
            in_data = False
            continue
        if not in_data or not line.startswith(" "):
            continue
        raw = bytes.fromhex(line.strip())
        if key is None:
            key = raw
            continue
        if table not in skip:
            print(key.hex() + " " + show(table, raw))
        key = None


main()
