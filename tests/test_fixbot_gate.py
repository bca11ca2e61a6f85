"""The FixBot policy gate cannot be walked around: patches made by real git in real repositories,
read back by the gate as git reads them. The issue's example (a C-quoted non-ASCII path under a
forbidden folder) and one sibling per kind, then a property over generated patches."""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker import fixbot

POLICY = fixbot.Policy.load()
FORBIDDEN = POLICY.data["forbidden_paths"]
GIT_ENV = {"PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "LC_ALL": "C"}
BASE_FILES = {"sql/001_init.sql": "create table t ();\n", "src/app.py": "print('hi')\n", "docs/guide.md": "# guide\n",
              ".github/workflows/ci.yml": "on: push\n", "ssot/secrets/key.yaml": "key: x\n", "README.md": "readme\n"}


class Repo:
    """A scratch git repository at a base commit; patches are `git diff` of changes made on top of it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "core.quotepath", "true")  # git's default: non-ASCII bytes are C-quoted
        for rel, text in BASE_FILES.items():
            self.write(rel, text)
        self.git("add", "-A")
        self.git("commit", "-qm", "base")

    def git(self, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=self.path, env={**GIT_ENV, "HOME": str(self.path)}, input=input,
                              capture_output=True, check=check)

    def write(self, rel: str, text: str | bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode() if isinstance(text, str) else text)

    def patch(self, *diff_args: str) -> bytes:
        """The staged changes as a patch, then the tree back at the base commit."""
        self.git("add", "-A")
        patch = self.git("diff", "--cached", *diff_args, "HEAD").stdout
        self.reset()
        return patch

    def reset(self) -> None:
        self.git("reset", "-q", "--hard", "HEAD")
        self.git("clean", "-qfdx")

    def applies(self, patch: bytes) -> bool:
        return self.git("apply", "--check", "-", input=patch, check=False).returncode == 0


@pytest.fixture
def repo(tmp_path) -> Repo:
    return Repo(tmp_path / "repo")


def codes(verdict: dict) -> list[str]:
    return [r["code"] for r in verdict["reasons"]]


def test_the_issues_example_a_c_quoted_non_ascii_path_under_a_forbidden_folder_is_refused(repo):
    repo.write("sql/002_ünïcode.sql", "drop table t;\n")
    patch = repo.patch()
    assert b'"b/sql/002_\\303\\274n\\303\\257code.sql"' in patch, "git C-quotes the path"
    assert repo.applies(patch), "and git apply applies it"
    verdict = fixbot.verify(patch, POLICY, head="fixbot/1-x")
    assert not verdict["approved"] and codes(verdict) == ["AGENT.FORBIDDEN_PATH"]
    assert "sql/002_ünïcode.sql (sql/**)" in verdict["reasons"][0]["message"]


@pytest.mark.parametrize("make, diff_args, expected", [
    # a rename out of a forbidden folder touches it as much as an edit
    (lambda r: r.git("mv", "sql/001_init.sql", "src/init.sql"), ("-M",), "sql/001_init.sql"),
    (lambda r: r.git("mv", "src/app.py", ".github/workflows/app.py"), ("-M",), ".github/workflows/app.py"),
    # a copy of a secret into an allowed folder
    (lambda r: (r.write("src/key.yaml", "key: x\n"), r.write("ssot/secrets/key.yaml", "key: y\n")),
     ("-C", "-C"), "ssot/secrets/key.yaml"),
    # a mode change alone
    (lambda r: os.chmod(r.path / "sql/001_init.sql", 0o755), (), "sql/001_init.sql"),
    # a binary file
    (lambda r: r.write("sql/blob.bin", bytes(range(256))), ("--binary",), "sql/blob.bin"),
    # case folded: a case-insensitive checkout writes this into .github/workflows
    (lambda r: r.write(".GitHub/Workflows/deploy.yml", "on: push\n"), (), ".GitHub/Workflows/deploy.yml"),
    # spaces, quotes, backslashes and a tab in the name
    (lambda r: r.write('sql/a b "c" \\d.sql', "x\n"), (), 'sql/a b "c" \\d.sql (sql/**)'),
    (lambda r: r.write('src/a\tb.py', "x\n"), (), 'src/a\\tb.py (it contains a control character)'),
    # a symlink into a forbidden folder, and one to the folder itself
    (lambda r: os.symlink("../sql/001_init.sql", r.path / "docs/init.sql"), (), "symlink docs/init.sql points at forbidden path sql/001_init.sql"),
    (lambda r: os.symlink("..", r.path / "docs/up"), (), "symlink docs/up points at forbidden path ."),
    (lambda r: os.symlink("../.github", r.path / "docs/gh"), (), "symlink docs/gh points at forbidden path .github"),
    (lambda r: os.symlink("../../etc/passwd", r.path / "docs/pw"), (), "symlink docs/pw points outside the repository"),
])
def test_every_kind_of_path_git_writes_is_checked(repo, make, diff_args, expected):
    make(repo)
    patch = repo.patch(*diff_args)
    assert repo.applies(patch), patch
    verdict = fixbot.verify(patch, POLICY, head="fixbot/1-x")
    assert not verdict["approved"] and "AGENT.FORBIDDEN_PATH" in codes(verdict), verdict
    assert any(expected in r["message"] for r in verdict["reasons"]), verdict["reasons"]


def test_allowed_changes_pass_with_flags(repo):
    os.symlink("app.py", repo.path / "src/main.py")
    os.chmod(repo.path / "src/app.py", 0o755)
    repo.write("docs/logo.png", bytes(range(256)))
    repo.write("docs/é è.md", "accents\n")
    patch = repo.patch("--binary")
    assert repo.applies(patch)
    verdict = fixbot.verify(patch, POLICY, head="fixbot/7-docs")
    assert verdict["approved"], verdict
    assert set(verdict["flags"]) == {"symlink src/main.py -> app.py", "mode change src/app.py (100644 => 100755)",
                                     "binary file docs/logo.png"}
    assert "docs/é è.md" in verdict["files"] and verdict["changed_lines"] == 2


def test_a_changed_symlink_target_is_checked(repo):
    os.symlink("app.py", repo.path / "src/link")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "link")
    os.remove(repo.path / "src/link")
    os.symlink("../ssot/secrets/key.yaml", repo.path / "src/link")
    patch = repo.patch()
    assert b"index " in patch and b" 120000" in patch, "a modified symlink: its mode is only on the index line"
    verdict = fixbot.verify(patch, POLICY, head="fixbot/1")
    assert "symlink src/link points at forbidden path ssot/secrets/key.yaml" in verdict["reasons"][0]["message"]


@pytest.mark.parametrize("patch, problem", [
    ("diff --git a/src/../sql/x.sql b/src/../sql/x.sql\nnew file mode 100644\n--- /dev/null\n+++ b/src/../sql/x.sql\n"
     "@@ -0,0 +1 @@\n+x\n", "has a . or .. component"),
    ("diff --git a/src/./x b/src/./x\nnew file mode 100644\n--- /dev/null\n+++ b/src/./x\n@@ -0,0 +1 @@\n+x\n",
     "has a . or .. component"),
    ("diff --git a/.git/hooks/pre-commit b/.git/hooks/pre-commit\nnew file mode 100755\n--- /dev/null\n"
     "+++ b/.git/hooks/pre-commit\n@@ -0,0 +1 @@\n+x\n", "is inside .git"),
])
def test_dot_components_and_git_internals_are_refused(patch, problem):
    verdict = fixbot.verify(patch, POLICY, head="fixbot/1")
    assert not verdict["approved"] and problem in verdict["reasons"][0]["message"], verdict


@pytest.mark.parametrize("patch", [
    # a quoted header git cannot unquote
    'diff --git "a/sql/x\\q.sql" "b/sql/x\\q.sql"\nnew file mode 100644\n--- /dev/null\n+++ "b/sql/x\\q.sql"\n@@ -0,0 +1 @@\n+x\n',
    # a hunk that promises more than it holds
    "--- a/src/a.py\n+++ b/src/a.py\n@@ -1,5 +1,5 @@\n-a\n+b\n",
    # a git header with no file names git accepts
    "diff --git a/x\nnew file mode 100644\n@@ -0,0 +1 @@\n+x\n",
    # a symlink whose target is a binary patch
    "diff --git a/docs/l b/docs/l\nnew file mode 120000\nindex 0000000..e69de29\nGIT binary patch\nliteral 0\nHcmV?d00001\n\n"
    "literal 0\nHcmV?d00001\n\n",
    # a runner's JSON with a lone surrogate: no bytes at all
    "--- a/src/a.py\n+++ b/src/a.py\n@@ -1 +1 @@\n-a\n+\ud800\n",
])
def test_a_header_that_cannot_be_parsed_is_rejected_never_approved(patch):
    verdict = fixbot.verify(patch, POLICY, head="fixbot/1")
    assert not verdict["approved"], verdict
    assert set(codes(verdict)) & {"AGENT.PATCH_UNPARSEABLE", "AGENT.FORBIDDEN_PATH"}, verdict


@pytest.mark.parametrize("head, ok", [
    ("fixbot/12-ci-lint", True), ("refs/heads/fixbot/12", True), ("feature/x", False), ("main", False),
    ("refs/heads/main", False), ("FixBot/12", False), ("fixbot/../main", False), ("", False),
])
def test_the_head_branch_must_carry_the_policy_prefix(head, ok):
    verdict = fixbot.verify("--- a/src/a.py\n+++ b/src/a.py\n@@ -1 +1 @@\n-a\n+b\n", POLICY, head=head)
    assert verdict["approved"] is ok, verdict


# -- the property ------------------------------------------------------------------------------------

NAME = st.text(alphabet=st.sampled_from(list("abcXYZ019_-. \"'\\\tüé日ß")), min_size=1, max_size=8).filter(
    lambda n: n not in (".", "..") and not n.startswith("-") and n.strip() == n and n.casefold() != ".git")
DIRS = ["sql", "SQL", "src", "docs", ".github/workflows", ".GitHub/workflows", "ssot/secrets", "ssot/errors",
        "supabase/migrations", "apps/web", ""]
BASE = sorted(BASE_FILES)


def is_forbidden(path: str) -> bool:
    return bool(fixbot.matches(path, FORBIDDEN))


@st.composite
def operations(draw):
    ops = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["add", "add_binary", "modify", "delete", "rename", "chmod", "symlink"]))
        d = draw(st.sampled_from(DIRS))
        name = draw(NAME)
        ops.append((kind, posixpath.join(d, name) if d else name, draw(st.sampled_from(BASE)),
                    draw(st.sampled_from(BASE + DIRS[:-1] + ["../outside"]))))
    return ops


_SCRATCH: dict[str, Repo] = {}


def scratch() -> Repo:
    if "repo" not in _SCRATCH:
        _SCRATCH["repo"] = Repo(Path(tempfile.mkdtemp(prefix="fixbot-prop-")) / "repo")
    return _SCRATCH["repo"]


@pytest.fixture(scope="module", autouse=True)
def _cleanup_scratch():
    yield
    if "repo" in _SCRATCH:
        shutil.rmtree(_SCRATCH.pop("repo").path.parent, ignore_errors=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations())
def test_property_any_patch_git_applies_that_touches_a_forbidden_path_is_refused(ops):
    repo = scratch()
    repo.reset()
    touched: list[str] = []
    for kind, new, old, target in ops:
        new_path, old_path = repo.path / new, repo.path / old
        if new_path.exists() or new_path.is_symlink() or any(
                p.is_symlink() or p.is_file() for p in new_path.parents if repo.path in p.parents):
            continue
        if kind in ("modify", "delete", "rename", "chmod") and not old_path.is_file():
            continue
        if kind == "add":
            repo.write(new, "content\n")
            touched.append(new)
        elif kind == "add_binary":
            repo.write(new, bytes(range(256)))
            touched.append(new)
        elif kind == "modify":
            repo.write(old, "changed\n")
            touched.append(old)
        elif kind == "delete":
            old_path.unlink()
            touched.append(old)
        elif kind == "rename":
            new_path.parent.mkdir(parents=True, exist_ok=True)
            old_path.rename(new_path)
            touched += [old, new]
        elif kind == "chmod":
            os.chmod(old_path, 0o755)
            touched.append(old)
        elif kind == "symlink":
            new_path.parent.mkdir(parents=True, exist_ok=True)
            link_target = posixpath.relpath(target, posixpath.dirname(new) or ".")
            os.symlink(link_target, new_path)
            touched.append(new)
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(new), link_target))
            touched.append(resolved if not resolved.startswith("..") else "sql/outside-the-repository")
            touched.append(resolved + "/x")
    patch = repo.patch("--binary", "-M")
    if not patch or not repo.applies(patch):
        return
    verdict = fixbot.verify(patch, POLICY, head="fixbot/1-prop")
    if any(is_forbidden(p) for p in touched):
        assert not verdict["approved"], (ops, patch, verdict)
        assert set(codes(verdict)) & {"AGENT.FORBIDDEN_PATH", "AGENT.PATCH_UNPARSEABLE"}, verdict


def test_the_issues_example_through_ops_fixbot_verify(repo, tmp_path):
    repo.write("sql/données.sql", "drop table t;\n")
    patch_file = tmp_path / "p.diff"
    patch_file.write_bytes(repo.patch())
    env = {"PATH": os.environ["PATH"]}
    result = subprocess.run([sys.executable, "-m", "worker.cli", "fixbot", "verify", "--diff", str(patch_file),
                             "--head", "fixbot/3-x", "--json"], capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    assert out["files"] == ["sql/données.sql"] and out["reasons"][0]["code"] == "AGENT.FORBIDDEN_PATH"
    wrong_branch = subprocess.run([sys.executable, "-m", "worker.cli", "fixbot", "verify", "--diff", str(patch_file),
                                   "--head", "hotfix/3"], capture_output=True, text=True, env=env)
    assert wrong_branch.returncode == 1 and "branch_prefix fixbot/" in wrong_branch.stdout
