"""A Slack incoming-webhook message a person can act on: what, how often, since when, what to do.

Every value is escaped for mrkdwn (worker/render.py): a phase or sample message cannot ping a channel,
disguise a link or close the code block it is shown in. Slack's limits hold after escaping (section
text 3,000 characters, a field 2,000, the header 150)."""

from __future__ import annotations

from worker.dispatch import http
from worker.dispatch.destinations import Destination, runbook_url, summary
from worker.render import slack_code_block, slack_link, slack_text, terminal

SAMPLE_CHARS = 500  # of the stored sample; the rendered block stays under Slack's 3,000


def message(job: dict) -> dict:
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
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"fingerprint `{t(job['fingerprint'][:16])}` · escalation {t(job['id'])}"}]},
        ],
    }


def deliver(job: dict, dest: Destination, ctx) -> dict:
    status, _ = http.post_json(dest.env("url_env"), message(job))
    return {"status": status}
