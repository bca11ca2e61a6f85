"""Destinations, one module per kind. Each exposes ``deliver(job, destination, ctx) -> dict``:
it returns what the destination answered (stored as the escalation's result) or raises an outcome
from worker.dispatch.outcomes. Deliveries carry the id ``esc-<id>`` so receivers can deduplicate.
"""

from __future__ import annotations

from worker.dispatch.destinations.base import (Destination, budget_note, delivery_id, digest_headline, is_digest,
                                               one_line, runbook_url, summary)

__all__ = ["Destination", "budget_note", "delivery_id", "digest_headline", "handlers", "is_digest", "one_line",
           "runbook_url", "summary"]


def handlers():
    from worker.dispatch.destinations import fixbot, github_issue, slack, webhook, work_item

    return {"webhook": webhook.deliver, "slack": slack.deliver, "work_item": work_item.deliver,
            "github_issue": github_issue.deliver, "fixbot": fixbot.deliver}
