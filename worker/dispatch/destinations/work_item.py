"""A row in ops.work_items, idempotent per escalation."""

from __future__ import annotations

from worker.dispatch.destinations.base import Destination


def deliver(job: dict, dest: Destination, ctx) -> dict:
    item = ctx.query_one("create_work_item", {"escalation_id": job["id"]})
    return {"work_item_id": item["id"]}
