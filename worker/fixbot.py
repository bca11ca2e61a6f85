"""FixBot governance: check a produced patch against ssot/agents/fixbot_policy.yaml.

PR-only: the head branch may never be the default branch. A path matching a forbidden glob is
AGENT.FORBIDDEN_PATH; more files or changed lines than the limits is AGENT.PATCH_DIFF_TOO_LARGE;
sensitive paths are flagged for review but allowed. Globs: ``*`` within a path segment, ``**``
across segments, ``?`` one character.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from worker import ROOT

POLICY = Path("ssot/agents/fixbot_policy.yaml")


@cache
def _glob(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(path: str, patterns) -> list[str]:
    return [p for p in patterns if _glob(p).match(path)]


@dataclass
class Diff:
    files: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    malformed: bool = False  # hunk headers that do not match their content

    @property
    def changed_lines(self) -> int:
        return self.added + self.removed


HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def parse_diff(text: str) -> Diff:
    """Files and changed lines of a unified diff (git or plain).

    Inside a hunk, lines are counted by the hunk header's lengths, so a removed line reading ``-- x``
    or an added ``++ y`` is content, not a file header. A diff whose hunk headers do not match their
    content cannot hide anything: a header that understates its hunk leaves the rest counted as
    changed lines; one that overstates it ends at the next line that cannot be hunk content (a
    ``diff --git``, ``@@`` or ``--- ``/``+++ `` file header), which is then read as a header; either
    way ``malformed`` is set.
    """
    diff = Diff()
    seen: set[str] = set()

    def add(path: str) -> None:
        if path and path != "/dev/null" and path not in seen:
            seen.add(path)
            diff.files.append(path)

    lines = text.splitlines()
    old, old_left, new_left = None, 0, 0
    for i, line in enumerate(lines):
        if old_left > 0 or new_left > 0:  # inside a hunk
            if _ends_hunk(line, lines[i + 1:i + 3]):
                diff.malformed = True
                old_left = new_left = 0
            else:
                tag = line[:1]
                if tag == "-":
                    diff.removed += 1
                    old_left -= 1
                elif tag == "+":
                    diff.added += 1
                    new_left -= 1
                elif tag in (" ", ""):
                    old_left, new_left = old_left - 1, new_left - 1
                # "\ No newline at end of file" takes no line of either side
                continue
        hunk = HUNK.match(line)
        if hunk:
            old_left = int(hunk.group(1)) if hunk.group(1) is not None else 1
            new_left = int(hunk.group(2)) if hunk.group(2) is not None else 1
        elif line.startswith("diff --git "):
            m = re.match(r"diff --git a/(.*) b/(.*)$", line)
            if m:
                add(m.group(1))
                add(m.group(2))
        elif line.startswith("--- "):
            old = line[4:].split("\t")[0]
            old = old[2:] if old.startswith("a/") else old
        elif line.startswith("+++ "):
            new = line[4:].split("\t")[0]
            new = new[2:] if new.startswith("b/") else new
            add(old if new == "/dev/null" else new)
            if new != "/dev/null" and old and old != "/dev/null":
                add(old)
        elif line.startswith("rename from ") or line.startswith("rename to "):
            add(line.split(" ", 2)[2])
        elif line.startswith("+"):  # outside any hunk: a malformed diff still counts against the limit
            diff.added += 1
            diff.malformed = True
        elif line.startswith("-"):
            diff.removed += 1
            diff.malformed = True
    if old_left > 0 or new_left > 0:
        diff.malformed = True
    return diff


def _ends_hunk(line: str, following: list[str]) -> bool:
    """Whether a line met while a hunk still expects lines cannot be part of it."""
    if line[:1] not in ("+", "-", " ", "\\", ""):
        return True  # "diff --git", "@@", "index ...", "rename ...": a header
    # "--- a/x" + "+++ b/x" + "@@": the next file's header, after a hunk that overstated its length
    return (line.startswith("--- ") and len(following) == 2 and following[0].startswith("+++ ")
            and following[1].startswith("@@"))


@dataclass
class Policy:
    data: dict
    sha256: str
    path: str = str(POLICY)

    @classmethod
    def load(cls, root: Path = ROOT) -> Policy:
        raw = (root / POLICY).read_bytes()
        return cls(yaml.safe_load(raw), hashlib.sha256(raw).hexdigest())

    @property
    def default_branch(self) -> str:
        return self.data.get("default_branch", "main")


def verify(diff_text: str, policy: Policy, *, head: str | None, base: str | None = None) -> dict:
    """The verdict: {approved, reasons: [{code, message}], flags, files, changed_lines, policy_sha256}."""
    diff = parse_diff(diff_text)
    reasons, flags = [], []
    default = policy.default_branch
    if head is None or head.strip() == "":
        reasons.append({"code": "AGENT.DEFAULT_BRANCH_WRITE", "message": "no head branch given: FixBot works on a branch"})
    elif head in (default, f"refs/heads/{default}") or (base is not None and head == base):
        reasons.append({"code": "AGENT.DEFAULT_BRANCH_WRITE",
                        "message": f"head branch {head} is the default branch: FixBot opens pull requests only"})
    for path in diff.files:
        hit = matches(path, policy.data.get("forbidden_paths", []))
        if hit:
            reasons.append({"code": "AGENT.FORBIDDEN_PATH", "message": f"patch touches forbidden path {path} ({hit[0]})"})
        elif matches(path, policy.data.get("sensitive_paths", [])):
            flags.append(f"sensitive path {path}")
    limits = policy.data.get("limits", {})
    if len(diff.files) > limits.get("max_files", 10**9):
        reasons.append({"code": "AGENT.PATCH_DIFF_TOO_LARGE",
                        "message": f"files_changed {len(diff.files)} exceeds limit {limits['max_files']}"})
    if diff.changed_lines > limits.get("max_changed_lines", 10**9):
        reasons.append({"code": "AGENT.PATCH_DIFF_TOO_LARGE",
                        "message": f"changed_lines {diff.changed_lines} exceeds limit {limits['max_changed_lines']}"})
    if diff.malformed:
        flags.append("hunk headers do not match their content (git apply would refuse this patch)")
    if not diff.files:
        reasons.append({"code": "AGENT.PLAN_EMPTY", "message": "the patch changes no file"})
    return {"approved": not reasons, "reasons": reasons, "flags": flags, "files": diff.files,
            "changed_lines": diff.changed_lines, "head": head, "base": base or default,
            "policy": policy.path, "policy_sha256": policy.sha256}
