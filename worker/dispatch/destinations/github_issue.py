"""Open an issue for an error through the GitHub REST API, or comment on the one already opened.

The API base is OPS_GITHUB_API_URL (default https://api.github.com), so tests point it at a local
server. Before opening, open issues labelled with the fingerprint are searched, so a crash between
opening and recording the link does not open a second issue; before commenting, the issue's comments
since the escalation was created are searched for its delivery id, so a retried delivery does not
comment twice.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta, timezone

from worker.dispatch import http
from worker.dispatch.destinations.base import Destination, delivery_id, runbook_url, summary


def _api() -> str:
    return os.environ.get("OPS_GITHUB_API_URL", "https://api.github.com").rstrip("/")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28"}


def body(job: dict) -> str:
    p = job["payload"]
    url = runbook_url(p.get("runbook"))
    return "\n".join([
        f"**{job['code']}** — {p.get('title')}", "",
        f"- reason: {job['reason']}, count {job['count_at']}",
        f"- first seen {p.get('first_seen_at')}, last seen {p.get('last_seen_at')}",
        f"- source: {p.get('source')} {p.get('phase') or ''}",
        f"- runbook: [{p.get('runbook')}]({url})" if url else f"- runbook: `{p.get('runbook')}`", "",
        "```", (p.get("sample_message") or "")[:2000], "```", "",
        f"<!-- ops-fingerprint:{job['fingerprint']} delivery:{delivery_id(job)} -->",
    ])


def _list(raw: bytes | None) -> list[dict]:
    value = json.loads(raw or b"[]")
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


def deliver(job: dict, dest: Destination, ctx) -> dict:
    repo = dest.env("repo_env")
    token = dest.env("token_env")
    headers = {**_headers(token), "Content-Type": "application/json"}
    label = f"ops:{job['fingerprint'][:12]}"
    link = ctx.query_one("github_issue_link", {"fingerprint": job["fingerprint"], "repo": repo})
    number = link["issue_number"] if link else None
    if number is None:
        _, found = http.request("GET", f"{_api()}/repos/{repo}/issues?state=open&labels={label}", None, headers,
                                   destination=dest.name)
        existing = _list(found)
        if existing:
            number = existing[0]["number"]
            if f"delivery:{delivery_id(job)} -->" in (existing[0].get("body") or ""):
                # this very delivery opened it, then the worker died before recording the link
                ctx.query_one("link_github_issue", {"fingerprint": job["fingerprint"], "repo": repo,
                                                    "issue_number": number, "url": existing[0].get("html_url")})
                return {"issue": number, "action": "opened"}
    if number is None:
        _, created = http.request("POST", f"{_api()}/repos/{repo}/issues", json.dumps(
            {"title": summary(job)[:250], "body": body(job), "labels": ["ops", label, job["code"]]}).encode(), headers,
            destination=dest.name)
        issue = json.loads(created)
        ctx.query_one("link_github_issue", {"fingerprint": job["fingerprint"], "repo": repo,
                                            "issue_number": issue["number"], "url": issue.get("html_url")})
        return {"issue": issue["number"], "action": "opened"}
    comments = f"{_api()}/repos/{repo}/issues/{number}/comments"
    since = (job["created_at"] - timedelta(minutes=5)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, listed = http.request("GET", f"{comments}?since={since}&per_page=100", None, headers, destination=dest.name)
    marker = f"delivery:{delivery_id(job)} -->"
    if any(marker in (c.get("body") or "") for c in _list(listed)):
        return {"issue": number, "action": "already commented"}
    http.request("POST", comments, json.dumps({"body": body(job)}).encode(), headers, destination=dest.name)
    ctx.query_one("link_github_issue", {"fingerprint": job["fingerprint"], "repo": repo, "issue_number": number, "url": None})
    return {"issue": number, "action": "commented"}
