"""A Slack incoming-webhook message a person can act on: what, how often, since when, what to do."""

from __future__ import annotations

from worker.dispatch import http
from worker.dispatch.destinations.base import (Destination, budget_note, digest_headline, is_digest, one_line,
                                               runbook_url, summary)

DIGEST_TEXT_LIMIT = 2900  # a section's mrkdwn text holds at most 3,000 characters


def escape(text: str) -> str:
    """Producer text as literal mrkdwn: Slack's three control characters escaped (no <!channel>, no
    disguised links) and backticks replaced by a look-alike so the text cannot close its code span."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "\u02cb")


def digest_message(job: dict) -> dict:
    """One message for a digest: +N similar groups, then one line per group (highest count first) while
    they fit in a section, and how many more the webhook payload / ops.page_window_items hold."""
    p = job["payload"]
    groups = p.get("groups") or []
    lines, shown = [], 0
    for g in groups:
        line = (f"• `{escape(g.get('code') or '')}` ×{g.get('count')} · {escape(g.get('source') or '')}"
                f" · `{escape((g.get('fingerprint') or '')[:12])}` — `{escape(one_line(g.get('sample_message'), 120))}`")
        if sum(len(x) + 1 for x in lines) + len(line) > DIGEST_TEXT_LIMIT:
            break
        lines.append(line)
        shown += 1
    if shown < len(groups):
        lines.append(f"…and {len(groups) - shown} more (the full list is in the escalation's payload: "
                     f"`ops dispatch list`, escalation {job['id']})")
    return {
        "text": summary(job),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"+{len(groups)} similar groups: {p.get('title')}"[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": escape(digest_headline(job))}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines) or "(none)"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"digest · escalation {job['id']} · "
                                              f"{p.get('window_crossings')} crossings in the window, "
                                              f"{(p.get('window_crossings') or 0) - len(groups)} paged"}]},
        ],
    }


def message(job: dict) -> dict:
    if is_digest(job):
        return digest_message(job)
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
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"fingerprint `{job['fingerprint'][:16]}` · escalation {job['id']}"
                                              + (f" · {budget_note(job)}" if budget_note(job) else "")}]},
        ],
    }


def deliver(job: dict, dest: Destination, ctx) -> dict:
    status, _ = http.post_json(dest.env("url_env"), message(job), destination=dest.name)
    return {"status": status}
