"""A Slack incoming-webhook message a person can act on: what, how often, since when, what to do."""

from __future__ import annotations

from worker.dispatch import http
from worker.dispatch.destinations.base import Destination, runbook_url, summary


def message(job: dict) -> dict:
    p = job["payload"]
    sample = (p.get("sample_message") or "")[:500]
    url = runbook_url(p.get("runbook"))
    fields = [
        f"*Code:* `{job['code']}` ({p.get('severity')})",
        f"*Count:* {job['count_at']} ({job['reason']})",
        f"*First seen:* {p.get('first_seen_at')}",
        f"*Last seen:* {p.get('last_seen_at')}",
        f"*Source:* {p.get('source')}" + (f" / {p.get('phase')}" if p.get("phase") else ""),
        f"*Runbook:* <{url}|{p.get('runbook')}>" if url else f"*Runbook:* `{p.get('runbook')}`",
    ]
    return {
        "text": summary(job),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"{job['code']}: {p.get('title')}"[:150]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{sample}```"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"fingerprint `{job['fingerprint'][:16]}` · escalation {job['id']}"}]},
        ],
    }


def deliver(job: dict, dest: Destination, ctx) -> dict:
    status, _ = http.post_json(dest.env("url_env"), message(job), destination=dest.name)
    return {"status": status}
