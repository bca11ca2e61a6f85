"""scripts/realworld-snapshot's diff: what a round's merge reads to see that no message broke and no pair was lost.

The snapshots here are written by hand in the script's documented shape, so the verdicts are known: one message
fixed, one broken, one moved between two wrong codes, one pair lost, one fixed, and a test message that changed,
which must be reported only as a count (the test split is never shown).
"""

from __future__ import annotations

import json
import subprocess
import sys

from worker import ROOT

SCRIPT = str(ROOT / "scripts/realworld-snapshot")


def _write(path, messages, pairs):
    path.write_text(json.dumps({"messages": messages, "pairs": pairs}))
    return str(path)


def _diff(old, new):
    return subprocess.run([sys.executable, SCRIPT, "diff", old, new], capture_output=True, text=True, timeout=60)


def test_diff_names_each_change_and_hides_the_test_split(tmp_path):
    old = _write(tmp_path / "old.json", {
        "a-1#0": ["dev-blind9", "NET.TIMEOUT", "UNKNOWN.OPS"],
        "a-2#0": ["dev", "DB.DEADLOCK", "DB.DEADLOCK"],
        "a-3#0": ["dev", "AUTH.FORBIDDEN", "UNKNOWN.OPS"],
        "a-4#1": ["dev", "CI.TESTS_FAILED", "CI.TESTS_FAILED"],
        "secret-test-report#0": ["test", "NET.TIMEOUT", "UNKNOWN.OPS"],
    }, {"p-1": ["dev", True, True], "p-2": ["dev-blind9", False, False], "t-1": ["test", True, False]})
    new = _write(tmp_path / "new.json", {
        "a-1#0": ["dev-blind9", "NET.TIMEOUT", "NET.TIMEOUT"],
        "a-2#0": ["dev", "DB.DEADLOCK", "NET.TIMEOUT"],
        "a-3#0": ["dev", "AUTH.FORBIDDEN", "AUTH.GITHUB.PERMISSION_DENIED"],
        "a-4#1": ["dev", "CI.TESTS_FAILED", "CI.TESTS_FAILED"],
        "secret-test-report#0": ["test", "NET.TIMEOUT", "NET.TIMEOUT"],
        "a-5#0": ["dev", "DB.DEADLOCK", "DB.DEADLOCK"],
    }, {"p-1": ["dev", True, False], "p-2": ["dev-blind9", False, True], "t-1": ["test", True, True]})
    run = _diff(old, new)
    assert run.returncode == 1, run.stderr  # something broke
    lines = run.stdout.splitlines()
    assert "FIXED a-1#0 (dev-blind9): UNKNOWN.OPS -> NET.TIMEOUT (labelled NET.TIMEOUT)" in lines
    assert "BROKE a-2#0 (dev): DB.DEADLOCK -> NET.TIMEOUT (labelled DB.DEADLOCK)" in lines
    assert "MOVED a-3#0 (dev): UNKNOWN.OPS -> AUTH.GITHUB.PERMISSION_DENIED (labelled AUTH.FORBIDDEN)" in lines
    assert "pair LOST p-1 (dev, same)" in lines
    assert "pair FIXED p-2 (dev-blind9, different)" in lines
    assert "messages added (in one snapshot only): 1" in lines
    assert "test: 1 FIXED" in lines and "test: 1 pair FIXED" in lines
    assert "secret-test-report" not in run.stdout and "t-1" not in run.stdout
    assert not any("a-4#1" in line for line in lines)  # unchanged messages are not listed
    # the totals: before 2 of 4 tuned messages right, after 3 of 5; one of two tuned pairs right both times
    assert "classification: tuned 2/4 = 0.500; test 0/1 = 0.000" in lines
    assert "classification: tuned 3/5 = 0.600; test 1/1 = 1.000" in lines
    assert lines.count("grouping: tuned 1/2 = 0.500, undisputed 1/2 = 0.500; test 0/1 = 0.000") == 1


def test_a_clean_diff_exits_zero(tmp_path):
    messages = {"a-1#0": ["dev", "NET.TIMEOUT", "UNKNOWN.OPS"]}
    old = _write(tmp_path / "old.json", messages, {"p-1": ["dev", True, False]})
    new = _write(tmp_path / "new.json", {"a-1#0": ["dev", "NET.TIMEOUT", "NET.TIMEOUT"]}, {"p-1": ["dev", True, True]})
    run = _diff(old, new)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FIXED a-1#0 (dev): UNKNOWN.OPS -> NET.TIMEOUT (labelled NET.TIMEOUT)" in run.stdout


def test_a_relabelled_message_is_shown_and_not_counted_as_broken(tmp_path):
    """A label changed on purpose (a labelling decision) is named with both labels and both codes; a message right
    under its old label and right under its new one is no BROKE, and a test message's relabel is only counted."""
    old = _write(tmp_path / "old.json", {"a-1#0": ["dev-blind9", "UNKNOWN.OPS", "UNKNOWN.OPS"],
                                         "hidden#0": ["test", "UNKNOWN.OPS", "UNKNOWN.OPS"]}, {})
    new = _write(tmp_path / "new.json", {"a-1#0": ["dev-blind9", "DB.DEADLOCK", "DB.DEADLOCK"],
                                         "hidden#0": ["test", "DB.DEADLOCK", "UNKNOWN.OPS"]}, {})
    run = _diff(old, new)
    assert run.returncode == 0, run.stdout + run.stderr
    assert ("RELABELLED a-1#0 (dev-blind9): UNKNOWN.OPS -> DB.DEADLOCK; code UNKNOWN.OPS -> DB.DEADLOCK, right now"
            in run.stdout.splitlines())
    assert "BROKE" not in run.stdout and "hidden" not in run.stdout
    assert "test: 1 RELABELLED" in run.stdout.splitlines()


def test_a_file_that_is_not_a_snapshot_is_named(tmp_path):
    good = _write(tmp_path / "good.json", {}, {})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"codes": {}}))
    run = _diff(good, str(bad))
    assert run.returncode == 2
    assert f"{bad}: not a snapshot (no 'messages' and 'pairs' objects)" in run.stderr
    run = _diff(str(tmp_path / "missing.json"), good)
    assert run.returncode == 2 and "missing.json: not a snapshot" in run.stderr
