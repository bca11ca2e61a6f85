"""Report formats and the `stratt` command line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from tests.units_kit import FIXTURES, Tree, ci
from worker import ROOT
from worker.units import cli, report


@pytest.fixture
def failing(db_url, tmp_path):
    t = Tree(tmp_path / "units")
    t.edit("sol-1-boot", lambda d: d["composition"]["steps"].pop())
    t.edit("reviewer", lambda d: d.update(status="deprecated"))
    return ci(db_url, [t.root], council="council/pathfinder")


def test_text_reads_like_the_seed_card(failing):
    out = report.text(failing)
    lines = out.splitlines()
    assert "FM-01 ✓ fingerprints recomputed" in lines
    assert any(line.startswith("FM-04 ✗ blocking — ") and "BECK-02" in line for line in lines)
    assert any(line.startswith("FM-07 ⚠ warning — ") for line in lines)
    assert "UNIT.PROTECTED_AGENT_MISSING (FM-04, blocking)" in out and "sol-1-boot.yaml:" in out
    assert "runbook: docs/runbooks/failures/UNIT.PROTECTED_AGENT_MISSING.md" in out and "fix: " in out
    assert lines[-1] == "exit 1: blocking (FM-04)"


def test_json_matches_its_published_schema(failing):
    schema = json.loads((ROOT / "ssot/schemas/stratt_report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = json.loads(report.as_json(failing))
    jsonschema.validate(doc, schema)
    assert doc["exit_code"] == 1 and [c["alias"] for c in doc["checks"]][3] == "FM-04"


def test_sarif_is_valid_against_the_sarif_subset_schema(failing):
    """Validated against a SARIF 2.1.0 subset written from the spec (no package ships the official schema)."""
    schema = json.loads((FIXTURES / "schemas/sarif-2.1.0-subset.schema.json").read_text())
    doc = json.loads(report.sarif(failing))
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == ["UNIT.PROTECTED_AGENT_MISSING", "UNIT.DRAFT_ISOLATION"]
    assert all(r["helpUri"].endswith(f"docs/runbooks/failures/{r['id']}.md") for r in run["tool"]["driver"]["rules"])
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"UNIT.PROTECTED_AGENT_MISSING": "error", "UNIT.DRAFT_ISOLATION": "warning"}
    assert all(len(r["partialFingerprints"]["strattFinding/v1"]) == 64 for r in run["results"])
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in run["results"])


def test_sarif_help_uri_points_at_github_in_actions(failing, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/units")
    monkeypatch.setenv("GITHUB_SHA", "abc123")
    doc = json.loads(report.sarif(failing))
    assert doc["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] == \
        "https://github.com/acme/units/blob/abc123/docs/runbooks/failures/UNIT.PROTECTED_AGENT_MISSING.md"


def test_github_annotations_are_capped_with_the_rest_in_the_summary(db_url, tmp_path):
    t = Tree(tmp_path / "units")
    for i in range(12):
        t.edit("plan-boot", lambda d, i=i: d["imports"].append(f"strat://dev/role/ghost-{i:02d}@1.0.0"))
    out = report.github(ci(db_url, [t.root]))
    annotations = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(annotations) == report.GITHUB_ANNOTATION_CAP
    assert annotations[0].startswith("::error file=") and ",line=" in annotations[0]
    assert "2 more finding(s) not annotated" in out


def test_junit_and_markdown(failing):
    suite = ET.fromstring(report.junit(failing))
    assert suite.get("tests") == "8" and suite.get("failures") == "1"
    md = report.markdown(failing)
    assert "| FM-04 Protected agent missing | ✗ fail |" in md


def test_markdown_blast_radius_has_a_table_and_a_mermaid_graph(db_url, tmp_path):
    base, t = Tree(tmp_path / "base"), Tree(tmp_path / "units")
    t.edit("plan-boot", lambda d: (d.update(id="strat://dev/task/plan-boot@1.0.1", version="1.0.1"),
                                   d["contract"]["outputs"].pop()))
    t.edit("sol-1-boot", lambda d: d["composition"]["steps"][0].update(unit="strat://dev/task/plan-boot@1.0.1"))
    md = report.markdown(ci(db_url, [t.root], against=str(base.root)))
    assert "### Blast radius" in md and "```mermaid" in md and "strat://dev/chain/sol-1-boot@1.0.0" in md


# -- the command line ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["ci", "validate", "fingerprint", "publish", "verify", "impact", "deprecate"])
def test_every_command_has_help_with_exit_codes(command, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--help"])
    assert e.value.code == 0 and "exit codes" in capsys.readouterr().out


def test_usage_errors_exit_64(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["ci"])
    assert e.value.code == 64
    assert cli.main(["validate", "/nonexistent/path"]) == 64


def test_cli_ci_json_to_a_file(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "report.json"
    rc = cli.main(["ci", str(FIXTURES / "sol-1-boot-pr"), "--council", "council/pathfinder",
                   "--against", str(FIXTURES / "pathfinder"), "--format", "json", "--output", str(out)])
    assert rc == 1 and json.loads(out.read_text())["exit_code"] == 1


def test_cli_validate_and_fingerprint_verify(tmp_path, capsys):
    t = Tree(tmp_path / "units")
    assert cli.main(["validate", str(t.root)]) == 0
    assert cli.main(["fingerprint", "--verify", str(t.root)]) == 0
    t.edit("reviewer", lambda d: d.update(persona="changed"), fingerprint=False)
    assert cli.main(["fingerprint", "--verify", str(t.path("reviewer"))]) == 2
    assert "TAMPERED declared blake3:" in capsys.readouterr().out
    assert cli.main(["fingerprint", "--update", str(t.path("reviewer"))]) == 0
    assert cli.main(["fingerprint", "--verify", str(t.path("reviewer"))]) == 0
    t.edit("reviewer", lambda d: d.update(id="strat://dev/role/other@1.0.0"))
    assert cli.main(["validate", str(t.root)]) == 1
    assert "slug is 'reviewer' but the id says 'other'" in capsys.readouterr().out
