"""The real-world corpus (tests/fixtures/realworld/*.yaml): loading and scoring, shared by its tests.

Each file holds one source's reports (messages labelled with the code an on-call engineer would pick)
and grouping pairs (two messages that should or should not be one group). The split (dev/test) is
fixed per report; see tests/fixtures/realworld/README.md.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

DIR = Path(__file__).parent / "fixtures" / "realworld"


@dataclass(frozen=True)
class Message:
    source: str
    report: str
    url: str
    split: str
    phase: str | None
    code: str
    text: str


@dataclass(frozen=True)
class Pair:
    source: str
    id: str
    split: str
    same: bool
    a: tuple[str | None, str]  # (phase, message)
    b: tuple[str | None, str]


@cache
def _files() -> tuple[dict, ...]:
    return tuple(yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(DIR.glob("*.yaml")))


def messages() -> list[Message]:
    return [Message(f["source"], r["id"], r["url"], r["split"], m.get("phase"), m["code"], m["message"])
            for f in _files() for r in f["reports"] for m in r["messages"]]


def pairs() -> list[Pair]:
    return [Pair(f["source"], p["id"], p["split"], bool(p["same"]),
                 (p["a"].get("phase"), p["a"]["message"]), (p["b"].get("phase"), p["b"]["message"]))
            for f in _files() for p in f.get("pairs", [])]


def accuracy_table(rows: list[tuple[str, str, bool]]) -> dict[str, dict[str, tuple[int, int]]]:
    """rows of (split, source, correct) -> {split: {source or 'all': (correct, n)}}."""
    out: dict[str, dict[str, list[int]]] = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0]))
    for split, source, ok in rows:
        for key in (source, "all"):
            out[split][key][0] += ok
            out[split][key][1] += 1
    return {s: {k: (v[0], v[1]) for k, v in d.items()} for s, d in out.items()}


def format_table(title: str, table: dict[str, dict[str, tuple[int, int]]]) -> str:
    lines = [title]
    for split in sorted(table):
        for key, (ok, n) in sorted(table[split].items(), key=lambda kv: (kv[0] == "all", kv[0])):
            lines.append(f"  {split:<4} {key:<15} {ok:>4}/{n:<4} {ok / n:6.1%}")
    return "\n".join(lines)
