"""FixBot governance: check a produced patch against ssot/agents/fixbot_policy.yaml.

The patch is read by git itself (``git apply --numstat -z``, forwards and reversed), so the paths checked
are exactly the paths ``git apply`` would write: C-quoted names, renames and copies (both sides), mode
changes, symlinks and binary patches are understood as git understands them. A patch git cannot parse
is rejected (AGENT.PATCH_UNPARSEABLE), never approved.

Rules, in the order a verdict lists them:

* PR-only: the head branch must start with the policy's ``branch_prefix`` and may never be the default
  branch or the base (AGENT.DEFAULT_BRANCH_WRITE).
* Every path is normalised before matching: a ``.`` or ``..`` component, an empty component, an
  absolute path or a ``.git`` component is refused outright; matching folds case (a checkout on a
  case-insensitive file system writes ``.GitHub/Workflows/x`` into ``.github/workflows/``). A path
  matching a forbidden glob is AGENT.FORBIDDEN_PATH; sensitive paths are flagged but allowed.
* A symlink the patch creates or changes is resolved against its folder: a target that lies in (or
  contains) a forbidden path, or leaves the repository, is AGENT.FORBIDDEN_PATH; any other symlink is
  flagged. Mode changes, binary files and submodules are flagged.
* More files or changed lines (added + removed, as git counts the hunks) than the limits is
  AGENT.PATCH_DIFF_TOO_LARGE; a patch that changes nothing is AGENT.PLAN_EMPTY.

Globs: ``*`` within a path segment, ``**`` across segments, ``?`` one character.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from worker import ROOT

POLICY = Path("ssot/agents/fixbot_policy.yaml")
GIT_TIMEOUT = 30  # seconds; git reads a patch of megabytes in milliseconds


@cache
def _glob(pattern: str) -> re.Pattern:
    out, i = [], 0
    pattern = pattern.casefold()
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
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def matches(path: str, patterns) -> list[str]:
    """The patterns a path matches, case folded on both sides."""
    folded = path.casefold()
    return [p for p in patterns if _glob(p).match(folded)]


def _contains_match(folder: str, patterns) -> list[str]:
    """Patterns that match the folder, something inside it, or a folder inside it (a symlink to a
    folder exposes all of that)."""
    folded = folder.casefold().rstrip("/")
    hits = []
    for p in patterns:
        literal = re.split(r"[*?]", p.casefold(), maxsplit=1)[0]
        if (_glob(p).match(folded) or _glob(p).match(folded + "/\x00") or folded == ""
                or literal.startswith(folded + "/")):
            hits.append(p)
    return hits


@dataclass
class FileChange:
    """One file as git reads it from the patch: its path(s) before and after, and what the header says."""

    paths: list[str]
    added: int | None  # None for a binary patch
    removed: int | None
    modes: list[int] = field(default_factory=list)  # every mode the header names (old and new)
    new_mode: int | None = None
    symlink_target: str | None = None
    symlink_unreadable: bool = False


@dataclass
class Diff:
    files: list[str] = field(default_factory=list)  # every path touched, both sides of renames and copies
    changes: list[FileChange] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    error: str | None = None  # git could not parse the patch: the verdict rejects it
    empty: bool = False

    @property
    def changed_lines(self) -> int:
        return self.added + self.removed


def _git_numstat(patch: bytes, *, reverse: bool = False) -> tuple[list[tuple[str, str, str]], str | None]:
    """git's own reading of a patch: (added, removed, path) per file, or the error git gave."""
    with tempfile.TemporaryDirectory(prefix="fixbot-") as tmp:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_CEILING_DIRECTORIES": tmp, "LC_ALL": "C"}
        args = ["git", "apply", "--numstat", "-z"] + (["-R"] if reverse else []) + ["-"]
        try:
            proc = subprocess.run(args, input=patch, capture_output=True, cwd=tmp, env=env, timeout=GIT_TIMEOUT)
        except FileNotFoundError:
            raise RuntimeError("git is not installed: the FixBot gate reads patches with `git apply`") from None
        except subprocess.TimeoutExpired:
            return [], f"git apply took longer than {GIT_TIMEOUT}s to read the patch"
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return [], "; ".join(message[:3]) or f"git apply exited {proc.returncode}"
    out, fields = [], proc.stdout.split(b"\0")
    for entry in fields[:-1]:
        added, removed, path = entry.split(b"\t", 2)
        out.append((added.decode(), removed.decode(), path.decode("utf-8", "surrogateescape")))
    return out, None


# The header lines git's parser knows (apply.c, parse_git_header); the first other line ends the header.
_HEADER_LINES = (b"--- ", b"+++ ", b"old mode ", b"new mode ", b"deleted file mode ", b"new file mode ",
                 b"copy from ", b"copy to ", b"rename old ", b"rename new ", b"rename from ", b"rename to ",
                 b"similarity index ", b"dissimilarity index ", b"index ")
_MODE_LINE = re.compile(rb"^(old mode |new mode |deleted file mode |new file mode |index [^ ]*)(.*)$", re.DOTALL)


def _lines(data: bytes) -> list[bytes]:
    """Lines as git splits them: on LF only."""
    return data.split(b"\n")


def _strtoul8(text: bytes) -> int | None:
    """A mode as git's header parser reads it (strtoul base 8: leading space, optional sign)."""
    m = re.match(rb"[ \t\n\v\f\r]*[+-]?([0-7]+)", text)
    return int(m.group(1), 8) if m else None


def _chunks(patch: bytes) -> list[bytes]:
    """The patch split where git starts a new file (a ``diff --git`` line), preamble first."""
    parts, current = [], []
    for line in patch.split(b"\n"):
        if line.startswith(b"diff --git ") and current:
            parts.append(b"\n".join(current) + b"\n")
            current = []
        current.append(line)
    if current:
        parts.append(b"\n".join(current))
    return parts


def _header_modes(chunk: bytes) -> tuple[list[int], int | None]:
    """Every mode a ``diff --git`` header names, and the mode the file has afterwards (None: unchanged
    or deleted). Read as git reads them, so a mode git sees is never missed."""
    modes, new_mode = [], None
    if not chunk.startswith(b"diff --git "):
        return modes, new_mode
    for line in _lines(chunk)[1:]:
        if line.startswith(b"@@ -") or not line.startswith(_HEADER_LINES):
            break
        m = _MODE_LINE.match(line)
        if not m:
            continue
        rest = m.group(2)
        if m.group(1).startswith(b"index "):
            if not rest.startswith(b" "):
                continue
            rest = rest[1:]
        mode = _strtoul8(rest)
        if mode is None:
            continue
        modes.append(mode)
        if not m.group(1).startswith((b"old mode", b"deleted file mode")):
            new_mode = mode
    return modes, new_mode


def _added_text(chunk: bytes) -> bytes | None:
    """The + lines of a chunk's single text hunk (a symlink's new target), None when there is no such hunk."""
    lines = _lines(chunk)
    if any(line.startswith((b"GIT binary patch", b"Binary files ")) for line in lines):
        return None
    hunks = [i for i, line in enumerate(lines) if line.startswith(b"@@ ")]
    if len(hunks) != 1:
        return None
    added = [line[1:] for line in lines[hunks[0] + 1:] if line.startswith(b"+")]
    return b"\n".join(added) if added else None


def parse_diff(text: str | bytes) -> Diff:
    """Files and changed lines of a patch, as ``git apply`` reads it.

    ``files`` holds every path the patch touches (new and old names of renames and copies) in git's
    order; ``added``/``removed`` are git's counts (binary files count no lines). ``error`` is set when
    git cannot parse the patch, or when a file's header cannot be matched to exactly one file git read.
    """
    diff = Diff()
    try:
        patch = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    except UnicodeEncodeError as exc:  # a lone surrogate from JSON: no bytes git could read
        diff.error = f"the patch is not text git can read ({exc.reason} at character {exc.start})"
        return diff
    if not patch.strip():
        diff.empty = True
        return diff
    forward, error = _git_numstat(patch)
    if error and "No valid patches in input" in error:
        diff.empty = True
        return diff
    if error:
        diff.error = error
        return diff
    backward, error = _git_numstat(patch, reverse=True)
    if error or len(backward) != len(forward):
        diff.error = error or "git reads a different number of files backwards"
        return diff
    seen: set[str] = set()
    for added, removed, path in forward + backward:
        if path not in seen:
            seen.add(path)
            diff.files.append(path)
    for added, removed, path in forward:
        binary = added == "-"
        change = FileChange([path], None if binary else int(added), None if binary else int(removed))
        diff.changes.append(change)
        if not binary:
            diff.added += int(added)
            diff.removed += int(removed)
    # Modes live in git's extended headers; read them file by file, each file's path confirmed by git.
    chunks = _chunks(patch)
    if any(_header_modes(c)[0] for c in chunks):
        _read_modes(diff, chunks)
    return diff


def _read_modes(diff: Diff, chunks: list[bytes]) -> None:
    by_path: dict[str, list[FileChange]] = {}
    for c in diff.changes:
        by_path.setdefault(c.paths[0], []).append(c)
    for chunk in chunks:
        modes, new_mode = _header_modes(chunk)
        if not modes:
            continue
        files, error = _git_numstat(chunk)
        back, _ = _git_numstat(chunk, reverse=True)
        if error or len(files) != 1 or not by_path.get(files[0][2]):
            diff.error = error or "a file header with modes that git does not read as exactly one file of the patch"
            return
        change = by_path[files[0][2]].pop(0)
        change.modes = modes
        change.new_mode = new_mode
        change.paths = sorted({files[0][2], *(b[2] for b in back)})
        if new_mode is not None and new_mode & 0o170000 == 0o120000:
            target = _added_text(chunk)
            if target is None:
                change.symlink_unreadable = True
            else:
                change.symlink_target = target.decode("utf-8", "surrogateescape")


def path_problem(path: str) -> str | None:
    """Why a path is refused before any glob is consulted, or None."""
    if path.startswith("/"):
        return "is absolute"
    parts = path.split("/")
    if any(p in (".", "..") for p in parts):
        return "has a . or .. component"
    if any(p == "" for p in parts):
        return "has an empty component"
    if any(p.casefold() == ".git" for p in parts):
        return "is inside .git"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return "contains a control character"
    return None


def show(path: str) -> str:
    """A path as a message may carry it: printable paths unchanged; otherwise every non-printable
    character (and any byte that is not UTF-8) escaped, so a path cannot act in a terminal or a log."""
    if path.isprintable():
        return path
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for ch in path)


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

    @property
    def branch_prefix(self) -> str:
        return self.data.get("branch_prefix", "fixbot/")


def _branch_reasons(policy: Policy, head: str | None, base: str | None) -> list[dict]:
    default, prefix = policy.default_branch, policy.branch_prefix
    code = "AGENT.DEFAULT_BRANCH_WRITE"
    if head is None or head.strip() == "":
        return [{"code": code, "message": "no head branch given: FixBot works on a branch"}]
    name = head[len("refs/heads/"):] if head.startswith("refs/heads/") else head
    if name == default or (base is not None and name == base):
        return [{"code": code, "message": f"head branch {head} is the default branch: FixBot opens pull requests only"}]
    if prefix and not name.startswith(prefix):
        return [{"code": code, "message": f"head branch {head} does not start with the policy's branch_prefix "
                                          f"{prefix}: FixBot opens pull requests from its own branches only"}]
    if path_problem(name) or name.endswith("/"):
        return [{"code": code, "message": f"head branch {show(head)} is not a valid branch name"}]
    return []


def verify(diff_text: str | bytes, policy: Policy, *, head: str | None, base: str | None = None) -> dict:
    """The verdict: {approved, reasons: [{code, message}], flags, files, changed_lines, policy_sha256}."""
    diff = parse_diff(diff_text)
    reasons = _branch_reasons(policy, head, base)
    flags: list[str] = []
    forbidden = policy.data.get("forbidden_paths", [])
    sensitive = policy.data.get("sensitive_paths", [])
    if diff.error:
        reasons.append({"code": "AGENT.PATCH_UNPARSEABLE",
                        "message": f"patch cannot be parsed as git would apply it: {diff.error}"})
    for path in diff.files:
        problem = path_problem(path)
        hit = matches(path, forbidden)
        if problem:
            reasons.append({"code": "AGENT.FORBIDDEN_PATH", "message": f"patch touches forbidden path {show(path)} (it {problem})"})
        elif hit:
            reasons.append({"code": "AGENT.FORBIDDEN_PATH", "message": f"patch touches forbidden path {show(path)} ({hit[0]})"})
        elif matches(path, sensitive):
            flags.append(f"sensitive path {show(path)}")
    for change in diff.changes:
        _change_checks(change, forbidden, reasons, flags)
    limits = policy.data.get("limits", {})
    if len(diff.changes) > limits.get("max_files", 10**9):
        reasons.append({"code": "AGENT.PATCH_DIFF_TOO_LARGE",
                        "message": f"files_changed {len(diff.changes)} exceeds limit {limits['max_files']}"})
    if diff.changed_lines > limits.get("max_changed_lines", 10**9):
        reasons.append({"code": "AGENT.PATCH_DIFF_TOO_LARGE",
                        "message": f"changed_lines {diff.changed_lines} exceeds limit {limits['max_changed_lines']}"})
    if diff.empty:
        reasons.append({"code": "AGENT.PLAN_EMPTY", "message": "the patch changes no file"})
    return {"approved": not reasons, "reasons": reasons, "flags": flags, "files": [show(f) for f in diff.files],
            "changed_lines": diff.changed_lines, "head": head, "base": base or policy.default_branch,
            "policy": policy.path, "policy_sha256": policy.sha256}


def _change_checks(change: FileChange, forbidden, reasons: list[dict], flags: list[str]) -> None:
    where = show(change.paths[-1])
    if change.added is None:
        flags.append(f"binary file {where}")
    kinds = {m & 0o170000 for m in change.modes}
    if 0o160000 in kinds:
        flags.append(f"submodule {where}")
    if len({m for m in change.modes if m & 0o170000 == 0o100000}) > 1:
        flags.append(f"mode change {where} ({' => '.join(oct(m)[2:] for m in change.modes)})")
    if change.new_mode is None or change.new_mode & 0o170000 != 0o120000:
        return
    if change.symlink_unreadable or change.symlink_target is None:
        reasons.append({"code": "AGENT.FORBIDDEN_PATH",
                        "message": f"symlink {where}: its target cannot be read from the patch, so it cannot be checked"})
        return
    raw = change.symlink_target
    link_dir = posixpath.dirname(change.paths[-1])
    resolved = posixpath.normpath(posixpath.join(link_dir, raw)) if not raw.startswith("/") else raw
    if raw.startswith("/") or resolved == ".." or resolved.startswith("../") or "\n" in raw or "\0" in raw:
        reasons.append({"code": "AGENT.FORBIDDEN_PATH",
                        "message": f"symlink {where} points outside the repository ({show(raw)})"})
        return
    resolved = "" if resolved == "." else resolved
    hit = _contains_match(resolved, forbidden)
    if hit or any(p.casefold() == ".git" for p in resolved.split("/")):
        reasons.append({"code": "AGENT.FORBIDDEN_PATH",
                        "message": f"symlink {where} points at forbidden path {show(resolved or '.')} "
                                   f"({hit[0] if hit else '.git'})"})
    else:
        flags.append(f"symlink {where} -> {show(raw)}")
