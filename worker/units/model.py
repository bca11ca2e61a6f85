"""Addresses, versions, units and councils: the shapes the checks work on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import semver

from worker.units.yaml12 import Document

DOMAINS = ("dev", "neuro", "finance", "nutrition", "legal", "film", "artist", "core", "shared")
TYPES = ("role", "rule", "task", "chain", "fragment")
STATUSES = ("draft", "review", "stable", "deprecated", "tampered", "tombstoned")
ADDRESS = re.compile(
    rf"^strat://({'|'.join(DOMAINS)})/({'|'.join(TYPES)})/([a-z0-9-]{{1,64}})@([^@\s]+)$")
COUNCIL_ID = re.compile(r"^council/[a-z0-9-]{1,64}$")


@lru_cache(maxsize=1024)
def _semver(text: str) -> semver.Version | None:
    """``text`` parsed by semver, or None when it is not a semantic version. Cached: a tree's units share a
    handful of versions, and each unit's is parsed three times (its id twice, its version once)."""
    try:
        return semver.Version.parse(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Version:
    """A unit's semantic version (semver.org 2.0.0, parsed by the ``semver`` package; build metadata is
    accepted and dropped). Ordered by semver precedence: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0."""

    major: int
    minor: int
    patch: int
    prerelease: str | None = None

    @classmethod
    def parse(cls, text: str) -> Version:
        """Raises ValueError naming the text when it is not a semantic version."""
        v = _semver(text) if isinstance(text, str) else None
        if v is None:
            raise ValueError(f"not a semantic version: {text!r}")
        return cls(v.major, v.minor, v.patch, v.prerelease)

    def _semver(self) -> semver.Version:
        return semver.Version(self.major, self.minor, self.patch, self.prerelease)

    def __lt__(self, other: Version) -> bool:
        return self._semver() < other._semver()

    def __le__(self, other: Version) -> bool:
        return self._semver() <= other._semver()

    def __gt__(self, other: Version) -> bool:
        return self._semver() > other._semver()

    def __ge__(self, other: Version) -> bool:
        return self._semver() >= other._semver()

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}" + (f"-{self.prerelease}" if self.prerelease else "")


@dataclass(frozen=True)
class Address:
    domain: str
    type: str
    slug: str
    version: str

    @classmethod
    def parse(cls, text: str) -> Address:
        m = ADDRESS.match(text or "") if isinstance(text, str) else None
        if not m or _semver(m[4]) is None:
            raise ValueError(f"not a unit address (strat://domain/type/slug@semver): {text!r}")
        return cls(m[1], m[2], m[3], m[4])

    @property
    def name(self) -> str:
        """The address without its version: every version of one unit shares it."""
        return f"strat://{self.domain}/{self.type}/{self.slug}"

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"


@dataclass
class Unit:
    path: Path
    doc: Document
    address: Address
    file: str | None = None  # the path as reports show it (worker.units.load.display_path), when known

    @property
    def data(self) -> dict:
        return self.doc.data

    @property
    def version(self) -> Version:
        return Version.parse(self.address.version)


@dataclass
class Council:
    path: Path
    doc: Document

    @property
    def id(self) -> str:
        return self.doc.data["id"]


@dataclass
class Diagnostic:
    """A unit file that could not be used, at ``file:line``: parse error, schema violation, inconsistent
    address. Not an RFC 9457 document (that is worker.problem.ProblemDocument)."""

    file: str
    line: int
    message: str
    address: str | None = None
    details: dict = field(default_factory=dict)


def consistency_problems(data: dict) -> list[tuple[tuple, str]]:
    """Where the ``id`` disagrees with the fields (beyond what the JSON Schema can say)."""
    out = []
    try:
        addr = Address.parse(data.get("id"))
    except ValueError as exc:
        return [(("id",), str(exc))]
    for key in ("domain", "type", "slug", "version"):
        if data.get(key) != getattr(addr, key):
            out.append(((key,), f"{key} is {data.get(key)!r} but the id says {getattr(addr, key)!r}"))
    if data.get("type") == "chain":
        steps = (data.get("composition") or {}).get("steps") or []
        ids = [s.get("id") for s in steps if isinstance(s, dict)]
        for i, s in enumerate(steps):
            if not isinstance(s, dict):
                continue
            if ids.count(s.get("id")) > 1:
                out.append((("composition", "steps", i, "id"), f"step id {s.get('id')} is used twice"))
            for dep in s.get("depends_on") or []:
                if dep not in ids:
                    out.append((("composition", "steps", i, "depends_on"), f"depends_on names unknown step {dep}"))
    return out
