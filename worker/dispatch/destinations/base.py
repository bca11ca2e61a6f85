"""What every destination module shares: the configured destination, the delivery id receivers
deduplicate on, runbook links and the one-line summary. The registry (this package's ``handlers``)
imports the modules; the modules import this, never the registry."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from worker.dispatch.outcomes import WaitForConfig


@dataclass(frozen=True)
class Destination:
    name: str
    kind: str
    config: dict = field(default_factory=dict)

    def env(self, key: str, *, required: bool = True) -> str | None:
        """The value of the environment variable this destination names under ``key`` (e.g. url_env)."""
        variable = self.config.get(key)
        if not variable:
            if required:
                raise WaitForConfig(f"<{key} in ssot/destinations.yaml>", self.name)
            return None
        value = os.environ.get(variable)
        if not value and required:
            raise WaitForConfig(variable, self.name)
        return value or None


def delivery_id(job: dict) -> str:
    return f"esc-{job['id']}"


def runbook_url(path: str | None) -> str | None:
    """The runbook as a link people can click: ``$OPS_RUNBOOK_BASE_URL`` + path (e.g. the repository's
    ``https://github.com/<org>/<repo>/blob/main/``), or None when that variable is unset."""
    base = os.environ.get("OPS_RUNBOOK_BASE_URL")
    return f"{base.rstrip('/')}/{path.lstrip('/')}" if base and path else None


def is_digest(job: dict) -> bool:
    """A digest: the crossings a destination's page budget held back in one window (payload.groups)."""
    return job.get("reason") == "digest"


def digest_headline(job: dict) -> str:
    """``+N similar groups`` and what they share: the code (or the destination) and the window."""
    p = job["payload"]
    n = p.get("similar_groups", len(p.get("groups") or []))
    what = p.get("code") or f"destination {job['destination']}"
    return (f"+{n} similar group{'s' if n != 1 else ''} ({what}) held back by the page budget, "
            f"window {p.get('window_start')} – {p.get('window_end')}")


def budget_note(job: dict) -> str | None:
    """On a page that used a budget: when later crossings of its window arrive (as one digest)."""
    window = job["payload"].get("page_window")
    if not window:
        return None
    return (f"Page budget: {window.get('max_pages')} per window; further similar errors until "
            f"{window.get('window_end')} arrive as one digest.")


def one_line(text: str | None, limit: int = 160) -> str:
    """A sample on one line, at most ``limit`` characters: line breaks shown as ⏎."""
    flat = " ⏎ ".join(part.strip() for part in (text or "").splitlines() if part.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def summary(job: dict) -> str:
    p = job["payload"]
    if is_digest(job):
        return f"[{job['code']}] {digest_headline(job)}"
    return (f"[{job['code']}] {p.get('title')} — {job['reason']}, count {job['count_at']}, "
            f"first seen {p.get('first_seen_at')}, last seen {p.get('last_seen_at')}")
