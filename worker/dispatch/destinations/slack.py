"""A Slack incoming-webhook message a person can act on: what, how often, since when, what to do.

Every value is escaped for mrkdwn (worker/render.py): a phase or sample message cannot ping a channel,
disguise a link or close the code block it is shown in. Slack's limits hold after escaping (section
text 3,000 characters, a field 2,000, the header 150)."""

from __future__ import annotations

from worker.dispatch import http
from worker.dispatch.destinations.base import (Destination, budget_note, digest_headline, is_digest, one_line,
                                               runbook_url, summary)
from worker.render import slack_code_block, slack_link, slack_text, terminal

SAMPLE_CHARS = 500  # of the stored sample; the rendered block stays under Slack's 3,000

DIGEST_TEXT_LIMIT = 2900  # a section's mrkdwn text holds at most 3,000 characters


def escape(text: str) -> str:
    """Producer text for an inline code span: render.slack_text (no <!channel>, no disguised links,
    controls visible) with backticks replaced by a look-alike so the text cannot close its span."""
    return slack_text(text).replace("`", "\u02cb")


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
    url = runbook_url(p.get("runbook"))
    t = lambda v: slack_text(v, limit=300)  # noqa: E731 - a field's value
    fields = [
        f"*Code:* `{t(job['code'])}` ({t(p.get('severity'))})",
        f"*Count:* {t(job['count_at'])} ({t(job['reason'])})",
        f"*First seen:* {t(p.get('first_seen_at'))}",
        f"*Last seen:* {t(p.get('last_seen_at'))}",
        f"*Source:* {t(p.get('source'))}" + (f" / {t(p.get('phase'))}" if p.get("phase") else ""),
        f"*Runbook:* {slack_link(url, p.get('runbook'))}" if url else f"*Runbook:* `{t(p.get('runbook'))}`",
    ]
    return {
        "text": slack_text(summary(job), limit=3000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text",
                                        "text": terminal(f"{job['code']}: {p.get('title')}", limit=150)}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": slack_code_block((p.get("sample_message") or "")[:SAMPLE_CHARS],
                                                                  limit=3000)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"fingerprint `{t(job['fingerprint'][:16])}` · escalation {t(job['id'])}"
                                              + (f" · {t(budget_note(job))}" if budget_note(job) else "")}]},
        ],
    }


def deliver(job: dict, dest: Destination, ctx) -> dict:
    status, _ = http.post_json(dest.env("url_env"), message(job), destination=dest.name)
    return {"status": status}
