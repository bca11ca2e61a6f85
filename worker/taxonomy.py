"""The failure taxonomy as the Python side reads it: the failure modes (``ssot/errors/failure_modes.yaml``,
or the synced copy ``ops.failure_modes``) and the Problem Details settings (``ssot/problem.yaml``).

Each :class:`FailureMode` gives a code's title, HTTP status (None: the configured ``default_status``)
and whether a retry can help.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from worker import ROOT, ssot
from worker.queries import execute

CONFIG = Path("ssot/problem.yaml")


@dataclass(frozen=True)
class Config:
    extension_member: str = "ipai"
    type_prefix: str = "urn:ipai:failure:"
    default_status: int = 500


@dataclass(frozen=True)
class FailureMode:
    code: str
    title: str
    http_status: int | None
    retryable: bool


@cache
def config(root: Path = ROOT) -> Config:
    doc = ssot.load_yaml(CONFIG, root)
    return Config(extension_member=str(doc.get("extension_member") or "ipai"),
                  type_prefix=str(doc.get("type_prefix") or "urn:ipai:failure:"),
                  default_status=int(doc.get("default_status") or 500))


@cache
def taxonomy(root: Path = ROOT) -> dict[str, FailureMode]:
    """The failure modes from the YAML (the database copy is ``ops.failure_modes``)."""
    doc = ssot.load_yaml(ssot.TAXONOMY, root)
    return {m["code"]: FailureMode(m["code"], m["title"], m.get("http_status"), bool(m.get("retryable")))
            for m in doc["failure_modes"]}


def taxonomy_from_db(conn) -> dict[str, FailureMode]:
    """The same, read from the synced copy in the database."""
    rows = execute(conn, "errors", "failure_modes").fetchall()
    return {r[0]: FailureMode(r[0], r[1], r[2], bool(r[3])) for r in rows}


def status_for(mode: FailureMode) -> int:
    """The failure mode's HTTP status, or ``default_status`` (500) where the taxonomy has none."""
    return mode.http_status if mode.http_status is not None else config().default_status
