"""POST the escalation as JSON, signed (worker/signing.py: HMAC-SHA256 over timestamp, delivery id, body)."""

from __future__ import annotations

import json

from worker import signing
from worker.dispatch import http
from worker.dispatch.destinations.base import Destination, delivery_id


def deliver(job: dict, dest: Destination, ctx) -> dict:
    url = dest.env("url_env")
    secret = dest.env("secret_env")
    body = json.dumps({
        "delivery_id": delivery_id(job), "escalation_id": job["id"], "code": job["code"], "reason": job["reason"],
        "fingerprint": job["fingerprint"], "count": job["count_at"], "payload": job["payload"],
    }, separators=(",", ":"), default=str).encode()
    headers = signing.sign(secret.encode(), body, delivery_id(job))
    status, _ = http.request("POST", url, body, {"Content-Type": "application/json", **headers}, destination=dest.name)
    return {"status": status, "delivery_id": delivery_id(job)}
