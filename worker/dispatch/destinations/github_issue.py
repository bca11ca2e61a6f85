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
from urllib.parse import quote

from worker.dispatch import http
from worker.dispatch.destinations.base import (Destination, budget_note, delivery_id, digest_headline, is_digest,
                                               one_line, runbook_url, summary)
from worker.render import github_code_block, github_inline_code, github_markdown_text, terminal

_URL_SAFE = "/:?#[]@!$&'()*+,;=%-._~"  # RFC 3986 reserved and unreserved: kept; spaces, <, >, ` encoded

BODY_LIMIT = 60_000  # GitHub refuses an issue or comment body over 65,536 characters


def code_span(text: str) -> str:
    """Producer text as an inline code span it cannot leave (render.github_inline_code)."""
    return github_inline_code(text or " ", limit=400)


def digest_body(job: dict) -> str:
    """A digest: +N similar groups, one list item per group (highest count first) while the body fits."""
    p = job["payload"]
    groups = p.get("groups") or []
    head = [f"**{github_markdown_text(digest_headline(job))}**", "",
            f"{p.get('window_crossings')} threshold crossings in the window: the first "
            f"{(p.get('window_crossings') or 0) - len(groups)} paged, these were held back.", ""]
    tail = ["", marker(job)]
    lines, size = [], sum(len(x) + 1 for x in head + tail)
    for i, g in enumerate(groups):
        line = (f"- {code_span(g.get('code') or '')} ×{g.get('count')} · {code_span(g.get('source') or '')}"
                f" · {code_span((g.get('fingerprint') or '')[:16])} — {code_span(one_line(g.get('sample_message'), 200))}")
        if size + len(line) + 1 > BODY_LIMIT - 100:
            lines.append(f"- …and {len(groups) - i} more (escalation {job['id']}'s payload has the full list)")
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(head + lines + tail)


def _api() -> str:
    return os.environ.get("OPS_GITHUB_API_URL", "https://api.github.com").rstrip("/")


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28"}


def marker(job: dict) -> str:
    """The HTML comment that marks this delivery in an issue or comment body: the last line of
    :func:`body`. Rendered content never contains ``<!--`` or ``-->`` (worker/render.py), so only the
    worker writes one."""
    return f"<!-- ops-fingerprint:{job['fingerprint']} delivery:{delivery_id(job)} -->"


def body(job: dict) -> str:
    """The issue or comment text (GitHub Markdown). Every stored value is rendered inert: no mention,
    link, HTML or comment marker from a producer; the sample in a fence it cannot close."""
    if is_digest(job):
        return digest_body(job)
    p = job["payload"]
    url = runbook_url(p.get("runbook"))
    note = budget_note(job)
    t = lambda v: github_markdown_text(v, limit=500)  # noqa: E731
    path = github_inline_code(p.get("runbook"), limit=500)
    runbook = f"- runbook: [{path}](<{quote(url, safe=_URL_SAFE)}>)" if url else f"- runbook: {path}"
    return "\n".join([
        f"**{t(job['code'])}** — {t(p.get('title'))}", "",
        f"- reason: {t(job['reason'])}, count {t(job['count_at'])}",
        f"- first seen {t(p.get('first_seen_at'))}, last seen {t(p.get('last_seen_at'))}",
        f"- source: {t(p.get('source'))} {t(p.get('phase') or '')}",
        runbook, "",
        github_code_block((p.get("sample_message") or "")[:2000]), "",
        *([f"_{t(note)}_", ""] if note else []),
        marker(job),
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
            if marker(job) in (existing[0].get("body") or ""):
                # this very delivery opened it, then the worker died before recording the link
                ctx.query_one("link_github_issue", {"fingerprint": job["fingerprint"], "repo": repo,
                                                    "issue_number": number, "url": existing[0].get("html_url")})
                return {"issue": number, "action": "opened"}
    if number is None:
        _, created = http.request("POST", f"{_api()}/repos/{repo}/issues", json.dumps(
            {"title": terminal(summary(job), limit=250), "body": body(job), "labels": ["ops", label, job["code"]]}).encode(),
            headers, destination=dest.name)
        issue = json.loads(created)
        ctx.query_one("link_github_issue", {"fingerprint": job["fingerprint"], "repo": repo,
                                            "issue_number": issue["number"], "url": issue.get("html_url")})
        return {"issue": issue["number"], "action": "opened"}
    comments = f"{_api()}/repos/{repo}/issues/{number}/comments"
    since = (job["created_at"] - timedelta(minutes=5)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, listed = http.request("GET", f"{comments}?since={since}&per_page=100", None, headers, destination=dest.name)
    if any(marker(job) in (c.get("body") or "") for c in _list(listed)):
        return {"issue": number, "action": "already commented"}
    http.request("POST", comments, json.dumps({"body": body(job)}).encode(), headers, destination=dest.name)
    ctx.query_one("link_github_issue", {"fingerprint": job["fingerprint"], "repo": repo, "issue_number": number, "url": None})
    return {"issue": number, "action": "commented"}
