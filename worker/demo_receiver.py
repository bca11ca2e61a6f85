"""The demo's local receiver (`ops demo`): one HTTP server on 127.0.0.1 standing in for the places
escalations go, so a newcomer sees real deliveries without any account:

* ``POST /webhook`` — the signed webhook: every request is checked with worker/signing.py (HMAC over
  timestamp, delivery id and body; tolerance; replays refused with 401, re-deliveries acknowledged);
* ``POST /slack`` — a Slack incoming webhook (answers ``ok``);
* ``/github/...`` — the few GitHub REST calls the github_issue destination makes (list open issues by
  label, open one, list and add comments), kept in memory.

Each request is kept in :attr:`Receiver.received` (kind, path, delivery id, code, whether the signature
held) for the demo's summary. Threaded; :meth:`stop` shuts it down. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from worker import signing

_ISSUES = re.compile(r"^/github/repos/([^/]+/[^/]+)/issues$")
_COMMENTS = re.compile(r"^/github/repos/([^/]+/[^/]+)/issues/(\d+)/comments$")


class Receiver:
    """Start with :meth:`start`; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.replays = signing.ReplayCache()
        self.lock = threading.Lock()
        self.received: list[dict] = []
        self.issues: list[dict] = []
        self.comments: dict[int, list[dict]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # the demo prints its own summary
                pass

            def do_GET(self) -> None:
                receiver._handle(self, b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver._handle(self, self.rfile.read(length))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="demo-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> dict[str, int]:
        """Deliveries accepted per kind (webhook, slack, github_issue, github_comment); refused ones under
        ``refused``."""
        out: dict[str, int] = {}
        with self.lock:
            for r in self.received:
                key = r["kind"] if r["status"] < 300 else "refused"
                if r["kind"] in ("github_list",):
                    continue
                out[key] = out.get(key, 0) + 1
        return out

    # -- one request -------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        path, _, query = h.path.partition("?")
        record = {"path": path, "method": h.command, "delivery": h.headers.get(signing.DELIVERY), "code": None,
                  "signature_ok": None}
        status, reply = 404, {"message": "not found"}
        if h.command == "POST" and path == "/webhook":
            try:
                delivery = signing.verify(self.secret, body, h.headers, seen=self.replays)
                record["signature_ok"] = True
                record["code"] = json.loads(body).get("code")
                status, reply = 200, {"received": delivery.delivery_id, "duplicate": delivery.duplicate}
            except signing.SignatureInvalid as exc:
                record["signature_ok"] = False
                status, reply = 401, {"error": exc.reason}
            record["kind"] = "webhook"
        elif h.command == "POST" and path == "/slack":
            record["kind"] = "slack"
            status, reply = 200, "ok"
        elif path.startswith("/github/"):
            status, reply, record["kind"] = self._github(h.command, path, query, body)
        else:
            record["kind"] = "unknown"
        record["status"] = status
        with self.lock:
            self.received.append(record)
        data = json.dumps(reply).encode() if not isinstance(reply, str) else reply.encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json" if not isinstance(reply, str) else "text/plain")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _github(self, method: str, path: str, query: str, body: bytes):
        """The github_issue destination's calls, against issues kept in memory."""
        issues, comments = _ISSUES.match(path), _COMMENTS.match(path)
        with self.lock:
            if issues and method == "GET":
                label = dict(p.partition("=")[::2] for p in query.split("&") if p).get("labels")
                return 200, [i for i in self.issues if label in i["labels"]], "github_list"
            if issues and method == "POST":
                doc = json.loads(body)
                number = len(self.issues) + 1
                issue = {"number": number, "html_url": f"{self.url}/github/{issues.group(1)}/issues/{number}",
                         "title": doc.get("title"), "body": doc.get("body"), "labels": doc.get("labels") or []}
                self.issues.append(issue)
                return 201, issue, "github_issue"
            if comments and method == "GET":
                return 200, self.comments.get(int(comments.group(2)), []), "github_list"
            if comments and method == "POST":
                comment = {"body": json.loads(body).get("body")}
                self.comments.setdefault(int(comments.group(2)), []).append(comment)
                return 201, comment, "github_comment"
        return 404, {"message": "not found"}, "unknown"
