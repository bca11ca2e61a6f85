"""Open an issue for an error through the GitHub REST API, or comment on the one already opened.

The API base is OPS_GITHUB_API_URL (default https://api.github.com), so tests point it at a local
server. Before opening, open issues labelled with the fingerprint are searched, so a crash between
opening and recording the link does not open a second issue.
"""

from __future__ import annotations

import json
import os

from worker.dispatch import http
from worker.dispatch.destinations import Destination, delivery_id, summary


def _api() -> str:
    return os.environ.get("OPS_GITHUB_API_URL", "https://api.github.com").rstrip("/")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28"}


def body(job: dict) -> str:
    p = job["payload"]
    return "\n".join([
        f"**{job['code']}** — {p.get('title')}", "",
        f"- reason: {job['reason']}, count {job['count_at']}",
        f"- first seen {p.get('first_seen_at')}, last seen {p.get('last_seen_at')}",
        f"- source: {p.get('source')} {p.get('phase') or ''}",
        f"- runbook: `{p.get('runbook')}`", "",
        "```", (p.get("sample_message") or "")[:2000], "```", "",
        f"<!-- ops-fingerprint:{job['fingerprint']} delivery:{delivery_id(job)} -->",
    ])


def deliver(job: dict, dest: Destination, ctx) -> dict:
    repo = dest.env("repo_env")
    token = dest.env("token_env")
    headers = {**_headers(token), "Content-Type": "application/json"}
    label = f"ops:{job['fingerprint'][:12]}"
    link = ctx.query_one("github_issue_link", {"fingerprint": job["fingerprint"], "repo": repo})
    number = link["issue_number"] if link else None
    if number is None:
        _, found = http.request("GET", f"{_api()}/repos/{repo}/issues?state=open&labels={label}", None, headers)
        existing = json.loads(found or b"[]")
        if existing:
            number = existing[0]["number"]
    if number is None:
        _, created = http.request("POST", f"{_api()}/repos/{repo}/issues", json.dumps(
            {"title": summary(job)[:250], "body": body(job), "labels": ["ops", label, job["code"]]}).encode(), headers)
        issue = json.loads(created)
        ctx.query_one("link_github_issue", {"fingerprint": job["fingerprint"], "repo": repo,
                                            "issue_number": issue["number"], "url": issue.get("html_url")})
        return {"issue": issue["number"], "action": "opened"}
    http.request("POST", f"{_api()}/repos/{repo}/issues/{number}/comments",
                 json.dumps({"body": body(job)}).encode(), headers)
    ctx.query_one("link_github_issue", {"fingerprint": job["fingerprint"], "repo": repo, "issue_number": number, "url": None})
    return {"issue": number, "action": "commented"}
