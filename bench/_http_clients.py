"""Micro-benchmark behind the destinations' HTTP client choice (docs/libraries.md, issue 12): CPU time
per signed webhook POST of httpx.Client and urllib3's PoolManager against the same receiver.

    .venv/bin/python bench/_http_clients.py [--posts 2000]

The receiver is bench/drain.py's (``--receive``: http.server, TCP_NODELAY) in its own process on 127.0.0.1;
the client side is one thread on one keep-alive connection, so the numbers are this process's CPU per
POST (``time.process_time``: user + system, µs), the wall time per POST, and the receiver's CPU per POST
(from /proc/<pid>/stat, µs). Each client sends ``--posts`` POSTs after 200 warm-up POSTs; the clients
alternate for 3 rounds and the median of each is printed. Not a module of `make bench` (the leading _).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _proc  # noqa: E402
from worker import signing  # noqa: E402

HERE = Path(__file__).resolve().parent
SECRET = b"bench-secret"


def bodies(n: int, start: int):
    for i in range(start, start + n):
        delivery = f"esc-{i}"
        body = json.dumps({"delivery_id": delivery, "escalation_id": i, "code": "DB.DEADLOCK", "reason": "manual",
                           "payload": {"title": "Deadlock detected", "severity": "high"}}).encode()
        yield body, {"Content-Type": "application/json", **signing.sign(SECRET, body, delivery)}


def with_httpx(url: str):
    import httpx
    client = httpx.Client(http1=True, timeout=httpx.Timeout(15.0), follow_redirects=True,
                          limits=httpx.Limits(max_connections=16, max_keepalive_connections=16, keepalive_expiry=30))

    def post(body, headers):
        r = client.request("POST", url, content=body, headers=headers)
        assert r.status_code == 200, r.status_code
        return r.content
    return post, client.close


def with_urllib3(url: str):
    import urllib3
    pool = urllib3.PoolManager(num_pools=4, maxsize=16, block=True, retries=False,
                               timeout=urllib3.Timeout(connect=15.0, read=15.0))

    def post(body, headers):
        r = pool.request("POST", url, body=body, headers=headers, redirect=False, preload_content=True)
        assert r.status == 200, r.status
        return r.data
    return post, pool.clear


def measure(make, url: str, posts: int, start: int, rx_pid: int) -> dict:
    post, close = make(url)
    for body, headers in bodies(200, start):
        post(body, headers)
    rx0, cpu0, wall0 = _proc.cpu_seconds(rx_pid), time.process_time(), time.perf_counter()
    for body, headers in bodies(posts, start + 200):
        post(body, headers)
    wall, cpu, rx = time.perf_counter() - wall0, time.process_time() - cpu0, _proc.cpu_seconds(rx_pid) - rx0
    close()
    return {"client_cpu_us": cpu / posts * 1e6, "wall_us": wall / posts * 1e6, "receiver_cpu_us": rx / posts * 1e6}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=2000)
    args = ap.parse_args(argv)
    rx = subprocess.Popen([sys.executable, str(HERE / "drain.py"), "--receive"], env={**os.environ},
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = rx.stdout.readline().strip() + "/webhook"
        results: dict[str, list[dict]] = {"httpx": [], "urllib3": []}
        start = 0
        for _ in range(3):
            for name, make in (("httpx", with_httpx), ("urllib3", with_urllib3)):
                results[name].append(measure(make, url, args.posts, start, rx.pid))
                start += args.posts + 200
        for name, runs in results.items():
            print(name, {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]})
    finally:
        rx.terminate()
        rx.communicate(timeout=60)  # it prints what it received on the way out
    return 0


if __name__ == "__main__":
    sys.exit(main())
