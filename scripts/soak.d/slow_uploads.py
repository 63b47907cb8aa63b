#!/usr/bin/env python3
"""Slow clients for the soak: a few connections that each send an upload body in small pieces
with pauses, as a phone on a bad network would, until the deadline. Bounded: SLOW_CLIENTS
connections, each upload ~SLOW_PIECES pieces of SLOW_PIECE_BYTES, SLOW_PAUSE seconds apart.
Prints one `soak-result slow <status> <count>` line per status at the end (0 = no answer)."""

import collections
import os
import socket
import sys
import threading
import time

host, port = sys.argv[1], int(sys.argv[2])
token = os.environ["SOAK_SLOW_TOKEN"]
deadline = time.monotonic() + float(os.environ.get("SOAK_SECONDS", "300"))
clients = int(os.environ.get("SLOW_CLIENTS", "4"))
pieces = int(os.environ.get("SLOW_PIECES", "20"))
piece = int(os.environ.get("SLOW_PIECE_BYTES", "512"))
pause = float(os.environ.get("SLOW_PAUSE", "0.5"))

BOUNDARY = "soak-slow-3b9d"
PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0"
BODY = (
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.png\"\r\n"
    "Content-Type: image/png\r\n\r\n"
).encode() + PNG + b"s" * (pieces * piece) + f"\r\n--{BOUNDARY}--\r\n".encode()

statuses = collections.Counter()
lock = threading.Lock()


def one_upload():
    head = (
        f"POST /api/uploads HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n"
    ).encode()
    status = 0
    try:
        with socket.create_connection((host, port), timeout=30) as s:
            s.sendall(head)
            for i in range(0, len(BODY), piece):
                s.sendall(BODY[i : i + piece])
                time.sleep(pause)
            answer = b""
            while b"\r\n" not in answer:
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            if answer.startswith(b"HTTP/1.1 "):
                status = int(answer[9:12])
    except OSError:
        status = 0
    with lock:
        statuses[status] += 1


def client():
    # Only starts an upload that can end before the deadline, so the run stays bounded.
    while time.monotonic() + (pieces + 2) * pause < deadline:
        one_upload()


threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for status, n in sorted(statuses.items()):
    print(f"soak-result slow {status} {n}")
