"""scripts/realworld-collect: what a collector of a blind set runs (tests/fixtures/realworld/README.md, "Collecting
a blind set"). `codes` shows what each code means and never a pattern; `check` finds a stored report (another comment of
one too) and a stored text (inside a longer one too), and passes a new report with a new text."""

from __future__ import annotations

import subprocess
import sys

import yaml

from worker import ROOT

SCRIPT = str(ROOT / "scripts/realworld-collect")
STORED = ROOT / "tests/fixtures/realworld/blind56/ops.yaml"


def _run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120)


def _set(path, url, text, pair_text="a side no report has ever printed, 7f3a"):
    path.write_text(yaml.safe_dump({"source": "ops", "reports": [{
        "id": "ops-b99-new-1", "url": url, "split": "blind99",
        "messages": [{"phase": "runtime", "code": "UNKNOWN.OPS", "why": "test", "message": text}]}],
        "pairs": [{"id": "ops-b99pair-01", "url": url, "split": "blind99", "same": False, "why": "test",
                   "a": {"phase": "runtime", "message": text}, "b": {"phase": "runtime", "message": pair_text}}]}))
    return str(path)


def test_codes_shows_meanings_and_no_pattern():
    out = _run("codes", "DB.CONNECTION_LIMIT")
    assert out.returncode == 0
    assert out.stdout.startswith("DB.CONNECTION_LIMIT | Database connection limit reached | sources: ")
    taxonomy = yaml.safe_load((ROOT / "ssot/errors/failure_modes.yaml").read_text())["failure_modes"]
    mode = next(m for m in taxonomy if m["code"] == "DB.CONNECTION_LIMIT")
    patterns = [p.get("substring") or p.get("regex") for p in mode["detect"]["patterns"]]
    assert patterns and not any(p in out.stdout for p in patterns)
    assert len(_run("codes").stdout.splitlines()) == len(taxonomy)


def test_check_passes_a_new_report_and_finds_stored_ones(tmp_path):
    stored = yaml.safe_load(STORED.read_text())["reports"][0]
    stored_url, stored_text = stored["url"], stored["messages"][0]["message"]

    fresh = _run("check", _set(tmp_path / "fresh.yaml", "https://github.com/example/never-stored/issues/1",
                               "a failure no report has ever printed, 9c2e"))
    assert fresh.returncode == 0, fresh.stdout
    assert fresh.stdout.startswith("0 hit(s): 2 URL(s) and 3 text(s)")

    comment = _run("check", _set(tmp_path / "comment.yaml", stored_url + "#issuecomment-1", "new words, 4d1b"))
    assert comment.returncode == 1
    assert "URL stored: ops-b99-new-1" in comment.stdout and "URL stored: ops-b99pair-01" in comment.stdout

    longer = _run("check", _set(tmp_path / "longer.yaml", "https://github.com/example/never-stored/issues/2",
                                "  a wrapper line\n" + stored_text.upper() + "\nexit 1"))
    assert longer.returncode == 1
    assert "TEXT stored: ops-b99-new-1#0" in longer.stdout and "TEXT stored: ops-b99pair-01.a" in longer.stdout
    assert stored_text not in longer.stdout, "a stored text is never printed"


def test_check_reads_the_other_part_and_refuses_a_broken_file(tmp_path):
    other = _set(tmp_path / "other.yaml", "https://github.com/example/never-stored/issues/3", "the other part, 11aa")
    mine = _set(tmp_path / "mine.yaml", "https://github.com/example/never-stored/issues/3", "mine, 22bb")
    assert _run("check", mine).returncode == 0
    out = _run("check", mine, "--also", other)
    assert out.returncode == 1 and "URL stored: ops-b99-new-1" in out.stdout

    broken = tmp_path / "broken.yaml"
    broken.write_text("reports: [\n")
    out = _run("check", str(broken))
    assert out.returncode == 2 and "broken.yaml does not load" in out.stderr
