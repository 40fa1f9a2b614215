#!/usr/bin/env python3
"""halfopen - hold N TCP connections to HOST:PORT that never finish the
ZMTP/CURVE handshake, for tests/e2e/53-enrol-half-open.sh.

Connections cycle through three stages at which they stall: silent (no
byte sent), a partial greeting (the 10-byte ZMTP signature), and a whole
ZMTP 3.0 greeting for CURVE without the HELLO that should follow. A
connection the server closes is counted and opened again, so N stay
pending. Every second the status file gets "open=N closed=M", where
closed counts connections the server closed. Runs until killed.

Usage: halfopen.py HOST PORT N STATUS_FILE
"""
import os
import resource
import selectors
import socket
import sys
import time

SIGNATURE = b"\xff" + b"\x00" * 8 + b"\x7f"
GREETING = SIGNATURE + b"\x03\x00" + b"CURVE".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
STAGES = [b"", SIGNATURE, GREETING]


def main():
    host, port, count, status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
    selector = selectors.DefaultSelector()
    opened = 0
    closed = 0

    def connect(index):
        nonlocal opened
        sock = socket.create_connection((host, port), timeout=5)
        sock.setblocking(False)
        stage = STAGES[index % len(STAGES)]
        if stage:
            sock.send(stage)
        selector.register(sock, selectors.EVENT_READ, index)
        opened += 1

    for index in range(count):
        connect(index)
    last = 0.0
    while True:
        for key, _ in selector.select(timeout=0.2):
            sock = key.fileobj
            try:
                data = sock.recv(4096)      # The server's greeting: ignored
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data == b"":
                selector.unregister(sock)
                sock.close()
                closed += 1
                connect(key.data)
        now = time.monotonic()
        if now - last >= 1.0:
            last = now
            tmp = status + ".tmp"
            with open(tmp, "w") as out:
                out.write("open=%d closed=%d\n" % (len(selector.get_map()), closed))
            os.replace(tmp, status)


if __name__ == "__main__":
    main()
