"""Redaction on the Python side: the SSOT rules (``ssot/errors/redaction.yaml``) applied exactly as
ops.redact() applies them in the database (the reference), patterns translated by worker.pgregex."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from worker import ROOT, ssot
from worker.pgregex import portable_regex, replacement_parts


@dataclass(frozen=True)
class RedactionRule:
    name: str
    pattern: re.Pattern
    js_source: str
    ignore_case: bool
    replacement: tuple[int | str, ...]
    prefilter: tuple[str, ...] | None

    def _expand(self, m: re.Match) -> str:
        return "".join(p if isinstance(p, str) else (m.group(p) or "") if p <= (m.re.groups) else ""
                       for p in self.replacement)

    def apply(self, text: str) -> str:
        return self.pattern.sub(self._expand, text)


@cache
def rules(root: Path = ROOT) -> tuple[RedactionRule, ...]:
    """ssot/errors/redaction.yaml, compiled for Python (and translated for JavaScript)."""
    rules = []
    for rule in ssot.load_yaml(ssot.REDACTION, root).get("rules") or []:
        ignore_case = "i" in str(rule.get("flags", "g"))
        flags = re.ASCII | re.DOTALL | (re.IGNORECASE if ignore_case else 0)
        prefilter = rule.get("prefilter")
        rules.append(RedactionRule(
            name=rule["name"], pattern=re.compile(portable_regex(rule["pattern"], "py"), flags),
            js_source=portable_regex(rule["pattern"], "js"), ignore_case=ignore_case,
            replacement=tuple(replacement_parts(rule["replacement"])),
            prefilter=None if prefilter is None else tuple(prefilter)))
    return tuple(rules)


def pg_lower(text: str) -> str:
    """PostgreSQL's lower() for the prefilter test: one character to one (Python's 'İ'.lower() is two)."""
    return text.replace("\u0130", "i").lower()


PASSES = 4  # ops.redact's bound on passes over the rules (a text still changing after it is left as it is)


def redact(text: str) -> str:
    """Apply the SSOT redaction rules exactly as ops.redact() does: in order, each rule only when the text
    (lower-cased) contains one of its prefilter substrings, pass after pass until a pass changes nothing (at most
    PASSES): one rule's marker can complete another's match (a password holding `password=a/b` hides the URL
    credential until its value is a marker), and the result must be a text redaction leaves as it is."""
    for _ in range(PASSES):
        lowered, before = pg_lower(text), text
        for rule in rules():
            if rule.prefilter is None or any(f in lowered for f in rule.prefilter):
                text = rule.apply(text)
        if text == before:
            break
    return text
