#!/usr/bin/env python3
"""Upload clients for scripts/bench, stdlib only.

  uploads.py seed  PORT TOKENS PER_USER        every user in TOKENS uploads PER_USER small PNGs
  uploads.py burst PORT TOKENS N MIB [BURSTS]  N concurrent uploads of MIB MiB each, BURSTS times

`burst` prints one `BENCH ...` line per burst (ok count, MiB/s, p50/p99 seconds). With
BENCH_PID set it adds the server's VmRSS after each burst, and with BENCH_PURGE set (a data dir)
it removes the stored objects between bursts so ten bursts do not fill the disk.
"""
import http.client
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

BOUNDARY = "cutoverbench"
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def multipart(filename):
    head = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return head, tail


def upload(conn, token, body):
    """One POST /api/uploads on an open connection; the file is sent without being copied."""
    head, tail = multipart("p.png")
    conn.putrequest("POST", "/api/uploads")
    conn.putheader("Authorization", f"Bearer {token}")
    conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    conn.putheader("Content-Length", str(len(head) + len(body) + len(tail)))
    conn.endheaders()
    conn.send(head)
    conn.send(memoryview(body))
    conn.send(tail)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def tokens_from(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def seed(port, tokens, per_user):
    body = PNG_HEADER + os.urandom(4096)
    failures = []

    def one_user(token):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(per_user):
            status = upload(conn, token, body)
            if status != 201:
                failures.append(status)
        conn.close()

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(one_user, tokens))
    if failures:
        sys.exit(f"seeding: {len(failures)} uploads failed, e.g. HTTP {failures[0]}")


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def burst(port, tokens, n, mib, bursts):
    body = PNG_HEADER + os.urandom(mib * 1024 * 1024 - len(PNG_HEADER))
    pid, purge = os.environ.get("BENCH_PID"), os.environ.get("BENCH_PURGE")
    for b in range(bursts):
        durations, statuses = [], []
        lock = threading.Lock()
        start_line = threading.Barrier(n)

        def one(i):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            conn.connect()
            start_line.wait()
            t0 = time.monotonic()
            try:
                status = upload(conn, tokens[i % len(tokens)], body)
            except OSError as e:
                status = f"{type(e).__name__}"
            with lock:
                durations.append(time.monotonic() - t0)
                statuses.append(status)
            conn.close()

        t0 = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        durations.sort()
        ok = sum(1 for s in statuses if s == 201)
        line = (
            f"BENCH burst={b + 1} ok={ok} of={n} seconds={elapsed:.2f} "
            f"mib_per_s={ok * mib / elapsed:.1f} p50_s={durations[len(durations) // 2]:.2f} "
            f"p99_s={durations[min(len(durations) - 1, int(len(durations) * 0.99))]:.2f}"
        )
        if ok != n:
            line += f" failed_example={next(s for s in statuses if s != 201)}"
        if pid:
            time.sleep(1)  # let the last responses' buffers go before sampling
            line += f" rss_kib={vm_rss_kib(pid)}"
        print(line, flush=True)
        if purge:
            objects = os.path.join(purge, "objects")
            for name in os.listdir(objects):
                os.remove(os.path.join(objects, name))


def main():
    mode, port, tokens = sys.argv[1], int(sys.argv[2]), tokens_from(sys.argv[3])
    if mode == "seed":
        seed(port, tokens, int(sys.argv[4]))
    elif mode == "burst":
        bursts = int(sys.argv[6]) if len(sys.argv) > 6 else 1
        burst(port, tokens, int(sys.argv[4]), int(sys.argv[5]), bursts)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
