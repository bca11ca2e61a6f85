"""A real HTTP receiver on 127.0.0.1 for dispatch tests: verifies webhook signatures, counts delivery
ids, and answers per path with a script (e.g. 500, 500, 500, 200)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from worker import signing


class Receiver:
    def __init__(self, secret: bytes = b"test-secret", delay: float = 0.0) -> None:
        self.secret = secret
        self.delay = delay
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.scripts: dict[str, list] = defaultdict(list)  # path -> [(status, headers), ...] consumed in order
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._answer(b"")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._answer(body)

            def _answer(self, body: bytes):
                path = self.path.split("?")[0]
                ok = True
                if self.headers.get(signing.SIGNATURE):
                    try:
                        signing.verify(receiver.secret, body, self.headers)
                    except signing.SignatureInvalid:
                        ok = False
                with receiver.lock:
                    script = receiver.scripts[path]
                    status, headers = script.pop(0) if script else (200, {})
                    receiver.requests.append({"path": path, "method": self.command, "at": time.monotonic(),
                                              "wall": time.time(),  # the clock PostgreSQL's now() reads
                                              "delivery": self.headers.get(signing.DELIVERY), "body": body,
                                              "status": status, "signature_ok": ok,
                                              "peer": self.client_address})  # one per TCP connection
                    if not ok:
                        receiver.bad_signatures += 1
                if receiver.delay:  # recorded on arrival, answered after the delay
                    time.sleep(receiver.delay)
                reply = json.dumps(receiver.reply(path, body)).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reply(self, path: str, body: bytes):
        if path.endswith("/comments") and not body:  # a listing: the comments posted so far
            with self.lock:
                return [{"body": json.loads(r["body"])["body"]} for r in self.requests
                        if r["path"] == path and r["method"] == "POST"]
        if path.endswith("/issues") and body:
            return {"number": 7, "html_url": "http://127.0.0.1/issues/7"}
        if path.endswith("/issues"):  # a search: the issues opened so far (all number 7)
            with self.lock:
                return [{"number": 7, "html_url": "http://127.0.0.1/issues/7", "body": json.loads(r["body"])["body"]}
                        for r in self.requests if r["path"] == path and r["method"] == "POST"]
        return {"ok": True}

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def successes(self, path: str | None = None) -> Counter:
        with self.lock:
            return Counter(r["delivery"] for r in self.requests
                           if r["status"] < 300 and (path is None or r["path"] == path))

    def hits(self, path: str) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]
