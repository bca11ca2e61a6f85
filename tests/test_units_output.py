"""Report formats and the `stratt` command line."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from tests.units_kit import FIXTURES, Tree, ci, publish_rows
from worker import ROOT
from worker.units import checks, cli, load, report


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


SARIF_SCHEMA = FIXTURES / "schemas" / "sarif-2.1.0-rtm.5.json"


def sarif_validator():
    """The official SARIF 2.1.0 schema, with the validator its own $schema names (draft-04)."""
    schema = json.loads(SARIF_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_the_vendored_sarif_schema_is_the_file_its_readme_names():
    readme = (SARIF_SCHEMA.parent / "README.md").read_text()
    assert hashlib.sha256(SARIF_SCHEMA.read_bytes()).hexdigest() in readme
    schema = json.loads(SARIF_SCHEMA.read_text())
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#" and "2.1.0-rtm.5" in schema["title"]
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft4Validator


def test_the_official_sarif_schema_rejects_what_github_would(failing):
    """The validator is not a rubber stamp: a wrong version, a result without a message, an unknown level fail."""
    validator = sarif_validator()
    for breakage in (lambda d: d.update(version="2.0.0"),
                     lambda d: d["runs"][0]["results"][0].pop("message"),
                     lambda d: d["runs"][0]["results"][0].update(level="fatal"),
                     lambda d: d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"].update(startLine=0)):
        doc = json.loads(report.sarif(failing))
        breakage(doc)
        assert not validator.is_valid(doc)


def test_sarif_is_valid_against_the_official_sarif_2_1_0_schema(failing):
    doc = json.loads(report.sarif(failing))
    sarif_validator().validate(doc)
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == ["UNIT.PROTECTED_AGENT_MISSING", "UNIT.DRAFT_ISOLATION"]
    assert all(r["helpUri"].endswith(f"docs/runbooks/failures/{r['id']}.md") for r in run["tool"]["driver"]["rules"])
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"UNIT.PROTECTED_AGENT_MISSING": "error", "UNIT.DRAFT_ISOLATION": "warning"}
    assert all(len(r["partialFingerprints"]["strattFinding/v1"]) == 64 for r in run["results"])
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in run["results"])


def test_every_sarif_result_has_a_location_waivers_and_cycles_included(db_url, tmp_path):
    """GitHub code scanning rejects results without a location: WAIVERS point at the waiver, FM-03 at a reference."""
    t = Tree(tmp_path / "units")
    t.write("a", t.unit("a", type_="fragment", imports=["strat://dev/fragment/b@1.0.0"]))
    t.write("b", t.unit("b", type_="fragment", imports=["strat://dev/fragment/a@1.0.0"]))
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(f"waivers:\n  - {{fingerprint: '{'0' * 64}', reason: r, owner: o, expires: 2999-01-01}}\n"
                       f"  - {{fingerprint: '{'1' * 64}', reason: r, owner: o, expires: 2020-01-01}}\n")
    r = ci(db_url, [t.root], waivers=checks.load_waivers(str(waivers)))
    doc = json.loads(report.sarif(r))
    sarif_validator().validate(doc)
    results = doc["runs"][0]["results"]
    assert {x["ruleId"] for x in results} == {"UNIT.DAG_CYCLE", "UNIT.WAIVER_INVALID"}
    assert all(x["locations"] for x in results)
    where = {(x["ruleId"], x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
              x["locations"][0]["physicalLocation"]["region"]["startLine"]) for x in results}
    waiver_file = Path(load.display_path(waivers)).as_posix()
    assert ("UNIT.WAIVER_INVALID", waiver_file, 2) in where and ("UNIT.WAIVER_INVALID", waiver_file, 3) in where
    fixes = {f["fingerprint"]: f["fix"] for f in r.findings if f["alias"] == "WAIVERS"}
    assert fixes["1" * 64].startswith(f"in {load.display_path(waivers)}:3, set expires after ")
    assert fixes["0" * 64].startswith(f"delete the waiver in {load.display_path(waivers)}:2: no finding of this run")
    cycle = [x for x in results if x["ruleId"] == "UNIT.DAG_CYCLE"][0]["locations"][0]["physicalLocation"]
    assert cycle["artifactLocation"]["uri"].endswith("/a.yaml") and cycle["region"]["startLine"] > 1


def test_a_cycle_through_the_registry_is_located_in_the_scanned_file(db_url, tmp_path):
    """The smallest member of the cycle lives only in the registry: the finding sits on the scanned unit's reference."""
    reg, t = Tree(tmp_path / "registry"), Tree(tmp_path / "units")
    for tree in (reg, t):
        for name in ("plan-boot", "write-code", "sol-1-boot", "review-boot", "reviewer"):
            tree.remove(name)
    reg.write("a", reg.unit("a", type_="fragment", imports=["strat://dev/fragment/z@1.0.0"]))
    publish_rows(db_url, reg.root, tmp_path / "objects")
    t.write("z", t.unit("z", type_="fragment", imports=["strat://dev/fragment/a@1.0.0"]))
    f = [f for f in ci(db_url, [t.root]).findings if f["alias"] == "FM-03"][0]
    assert f["details"]["cycle"][0] == "strat://dev/fragment/a@1.0.0"
    assert f["unit"] == "strat://dev/fragment/z@1.0.0" and f["file"].endswith("z.yaml") and f["line"] > 1
    assert f["fix"].startswith("remove the reference strat://dev/fragment/z@1.0.0 → strat://dev/fragment/a@1.0.0 (")
    assert f["fix"].endswith("and keep version 1.0.0 (it is not released yet)")


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


def test_github_step_summary_gets_the_findings_beyond_the_cap(db_url, tmp_path, monkeypatch, capsys):
    t = Tree(tmp_path / "units")
    for i in range(12):
        t.edit("plan-boot", lambda d, i=i: d["imports"].append(f"strat://dev/role/ghost-{i:02d}@1.0.0"))
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cli.main(["ci", str(t.root), "--format", "github"]) == 3
    annotated = [line for line in capsys.readouterr().out.splitlines() if line.startswith("::error ")]
    text = summary.read_text()
    assert text.startswith("earlier step\n## stratt ci — exit 3 (failed)")  # appended, not overwritten
    assert "12 finding(s): 12 critical, 0 blocking, 0 warning(s), 0 waived; 10 annotated" in text
    assert "| FM-02 Broken import | ✗ fail | 12 finding(s) |" in text
    assert "### 2 finding(s) beyond the 10 annotations" in text
    beyond = [line for line in text.splitlines() if line.startswith("| `") and "UNIT.BROKEN_IMPORT" in line]
    assert [("ghost-10" in b, "ghost-11" in b) for b in beyond] == [(True, False), (False, True)]
    assert not any("ghost-10" in a or "ghost-11" in a for a in annotated) and len(annotated) == 10


def test_junit_and_markdown(failing):
    suite = ET.fromstring(report.junit(failing))
    assert suite.get("tests") == "8" and suite.get("failures") == "1"
    md = report.markdown(failing)
    assert "| FM-04 Protected agent missing | ✗ fail |" in md


def _mermaid(md: str) -> list[str]:
    return md.split("```mermaid\n", 1)[1].split("```", 1)[0].splitlines()


def _edges(md: str) -> set[tuple[str, str, str]]:
    """The graph's edges as (from address, label, to address)."""
    lines = _mermaid(md)
    names = {line.split("[", 1)[0].strip(): line.split('"')[1] for line in lines if '["' in line}
    edges = [re.fullmatch(r"\s*(n\d+) -\.?->\|([^|]*)\| (n\d+)", line) for line in lines]
    return {(names[m[1]], m[2], names[m[3]]) for m in edges if m}


def test_markdown_blast_radius_draws_the_real_edges(db_url, tmp_path):
    """reviewer ← review-boot (import) ← sol-1-boot (step-03): the chain does not point at reviewer itself."""
    base, t = Tree(tmp_path / "base"), Tree(tmp_path / "units")
    base.edit("reviewer", lambda d: d.update(contract={"inputs": [{"name": "x", "type": "string"}], "outputs": []}))
    t.edit("reviewer", lambda d: d.update(id="strat://dev/role/reviewer@1.0.1", version="1.0.1",
                                          contract={"inputs": [], "outputs": []}))
    t.edit("review-boot", lambda d: d.update(imports=["strat://dev/role/reviewer@1.0.1"]))
    md = report.markdown(ci(db_url, [t.root], against=str(base.root)))
    assert "### Blast radius" in md
    assert "| FM-06 | `strat://dev/role/reviewer@1.0.1` | 1 | 2 | 1 | 1 |" in md
    assert "| `strat://dev/chain/sol-1-boot@1.0.0` | `strat://dev/role/reviewer@1.0.1` | 2 | yes | yes |" in md
    assert _edges(md) == {
        ("strat://dev/task/review-boot@1.0.0", "import", "strat://dev/role/reviewer@1.0.1"),
        ("strat://dev/chain/sol-1-boot@1.0.0", "step-03", "strat://dev/task/review-boot@1.0.0"),
    }
    assert any(line.strip().startswith("class ") and line.strip().endswith(" changed") for line in _mermaid(md))


def test_markdown_blast_radius_for_the_seed_card_pr_fm04_and_fm05(db_url):
    """A run with only FM-04/FM-05 findings still gets the report: the chain, its dependents, the removed gate."""
    r = ci(db_url, [FIXTURES / "sol-1-boot-pr"], council="council/pathfinder", against=str(FIXTURES / "pathfinder"))
    assert {f["alias"] for f in r.findings} == {"FM-04", "FM-05"}
    md = report.markdown(r)
    assert "| FM-04 | `strat://dev/chain/sol-1-boot@1.1.0` | 0 | 0 | 0 | 0 |" in md
    assert "| FM-05 | `strat://dev/chain/sol-1-boot@1.1.0` | 0 | 0 | 0 | 0 |" in md
    assert _edges(md) == {("strat://dev/chain/sol-1-boot@1.1.0", "step-03 gate removed",
                           "strat://dev/task/review-boot@1.0.0")}


def test_markdown_without_fm04_to_fm06_findings_has_no_blast_radius(db_url, tmp_path):
    t = Tree(tmp_path / "units")
    t.edit("reviewer", lambda d: d.update(status="deprecated"))
    assert "Blast radius" not in report.markdown(ci(db_url, [t.root]))


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


@pytest.mark.parametrize("value, message", [("0", "must be an integer, at least 1, not '0'"),
                                            ("two", "must be an integer, at least 1, not 'two'")])
def test_a_bad_workers_count_is_a_usage_error_naming_it(value, message, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["ci", ".", "--workers", value])
    assert e.value.code == 64 and f"--workers: {message}" in capsys.readouterr().err


def test_cli_ci_json_to_a_file(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "report.json"
    rc = cli.main(["ci", str(FIXTURES / "sol-1-boot-pr"), "--council", "council/pathfinder",
                   "--against", str(FIXTURES / "pathfinder"), "--format", "json", "--output", str(out),
                   "--workers", "1"])
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
