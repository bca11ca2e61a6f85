"""The nine checks, one test per rule of the table, on small unit trees (tests/fixtures/units)."""

from __future__ import annotations

import pytest

from tests.units_kit import FIXTURES, Tree, aliases, check_outcomes, ci, publish_rows

ORDER = ["FM-01", "FM-02", "FM-03", "FM-04", "FM-05", "FM-06", "FM-07", "FM-09"]


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path / "units")


def findings(report, alias):
    return [f for f in report.findings if f["alias"] == alias]


# -- the baseline and the seed card ------------------------------------------------------------------

def test_the_fixture_tree_passes_every_check_in_order(db_url):
    r = ci(db_url, [FIXTURES / "pathfinder"], council="council/pathfinder")
    assert [c["alias"] for c in r.checks] == ORDER
    assert set(check_outcomes(r).values()) == {"pass"} and r.exit_code == 0 and r.findings == []


def test_seed_card_example_removing_beck02_reviewer_gate_fires_fm04_and_fm05(db_url):
    """The PR drops BECK-02's reviewer step from dev/chain/sol-1-boot and edits one task body."""
    r = ci(db_url, [FIXTURES / "sol-1-boot-pr"], council="council/pathfinder", against=str(FIXTURES / "pathfinder"))
    outcomes = check_outcomes(r)
    assert outcomes["FM-01"] == outcomes["FM-02"] == outcomes["FM-03"] == "pass"
    assert outcomes["FM-04"] == outcomes["FM-05"] == "fail"
    assert r.exit_code == 1
    fm04 = findings(r, "FM-04")[0]
    assert "BECK-02" in fm04["message"] and fm04["code"] == "UNIT.PROTECTED_AGENT_MISSING"
    assert fm04["file"].endswith("sol-1-boot-pr/sol-1-boot.yaml") and fm04["line"] > 1
    assert fm04["runbook"] == "docs/runbooks/failures/UNIT.PROTECTED_AGENT_MISSING.md"
    assert "2.0.0" in findings(r, "FM-05")[0]["fix"]


def test_seed_card_example_against_the_registry(db_url, tmp_path):
    publish_rows(db_url, FIXTURES / "pathfinder", tmp_path / "objects")
    r = ci(db_url, [FIXTURES / "sol-1-boot-pr"], council="council/pathfinder")
    assert aliases(r) == ["FM-04", "FM-05"] and r.exit_code == 1


def test_fm04_without_a_gate_fires_alone(db_url, tree, tmp_path):
    base = Tree(tmp_path / "base")
    base.edit("sol-1-boot", lambda d: d["composition"]["steps"][2].update(gate=False))
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"].pop())
    r = ci(db_url, [tree.root], against=str(base.root))
    assert aliases(r) == ["FM-04"] and r.exit_code == 1


# -- FM-01 --------------------------------------------------------------------------------------------

def test_fm01_declared_fingerprint_differs_prints_both_and_exits_2(db_url, tree):
    data = tree.read("plan-boot")
    declared = data["fingerprint"]
    tree.edit("plan-boot", lambda d: d.update(prompt_body="changed after fingerprinting"), fingerprint=False)
    r = ci(db_url, [tree.root])
    f = findings(r, "FM-01")[0]
    assert r.exit_code == 2 and f["severity"] == "critical"
    assert declared in f["message"] and f["details"]["computed"] in f["message"] and f["details"]["computed"] != declared


def test_fm01_stable_unit_without_fingerprint(db_url, tree):
    tree.edit("reviewer", lambda d: d.pop("fingerprint"), fingerprint=False)
    r = ci(db_url, [tree.root])
    assert r.exit_code == 2 and "no fingerprint" in findings(r, "FM-01")[0]["message"]


def test_fm01_draft_without_fingerprint_is_fine(db_url, tree):
    tree.write("scratch", tree.unit("scratch", status="draft", version="0.1.0"), fingerprint=False)
    assert ci(db_url, [tree.root]).exit_code == 0


def test_fm01_import_of_a_tampered_unit(db_url, tree):
    tree.write("bad", tree.unit("bad", type_="fragment", status="tampered"))
    tree.edit("plan-boot", lambda d: d["imports"].append("strat://dev/fragment/bad@1.0.0"))
    r = ci(db_url, [tree.root])
    assert r.exit_code == 2 and "tampered" in findings(r, "FM-01")[0]["message"]


# -- FM-02 --------------------------------------------------------------------------------------------

def test_fm02_import_resolving_to_nothing_exits_3(db_url, tree):
    tree.edit("plan-boot", lambda d: d["imports"].append("strat://dev/role/ghost@1.0.0"))
    r = ci(db_url, [tree.root])
    assert r.exit_code == 3 and aliases(r) == ["FM-02"]
    assert "strat://dev/role/ghost@1.0.0" in findings(r, "FM-02")[0]["message"]


def test_fm02_exact_version_and_available_versions_named(db_url, tree):
    tree.edit("review-boot", lambda d: d.update(imports=["strat://dev/role/reviewer@1.2.0"]))
    f = findings(ci(db_url, [tree.root]), "FM-02")[0]
    assert f["details"]["available"] == ["1.0.0"] and "1.0.0" in f["fix"]


def test_fm02_step_unit_that_does_not_resolve(db_url, tree):
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"][0].update(unit="strat://dev/task/plan-boot@9.9.9"))
    r = ci(db_url, [tree.root])
    assert r.exit_code == 3 and "step-01" in findings(r, "FM-02")[0]["message"]


def test_fm02_tombstoned_target(db_url, tree):
    tree.edit("reviewer", lambda d: d.update(status="tombstoned"))
    r = ci(db_url, [tree.root])
    assert r.exit_code == 3 and "tombstoned" in findings(r, "FM-02")[0]["message"]


def test_fm02_resolves_through_the_registry(db_url, tree, tmp_path):
    other = tmp_path / "registry-only"
    other.mkdir()
    (other / "reviewer.yaml").write_bytes(tree.path("reviewer").read_bytes())
    publish_rows(db_url, other, tmp_path / "objects")
    tree.remove("reviewer")
    assert ci(db_url, [tree.root]).exit_code == 0


# -- FM-03 --------------------------------------------------------------------------------------------

def test_fm03_self_import_is_a_cycle(db_url, tree):
    tree.edit("reviewer", lambda d: d["imports"].append("strat://dev/role/reviewer@1.0.0"))
    r = ci(db_url, [tree.root])
    f = findings(r, "FM-03")[0]
    assert r.exit_code == 1 and f["details"]["cycle"] == ["strat://dev/role/reviewer@1.0.0"] * 2


def test_fm03_reports_each_component_as_a_closed_path_deterministically(db_url, tree):
    for name, nxt in (("a", "b"), ("b", "c"), ("c", "a"), ("x", "y"), ("y", "x")):
        tree.write(name, tree.unit(name, type_="fragment", imports=[f"strat://dev/fragment/{nxt}@1.0.0"]))
    tree.write("z", tree.unit("z", type_="fragment", imports=["strat://dev/fragment/a@1.0.0"]))
    r1, r2 = ci(db_url, [tree.root]), ci(db_url, [tree.root])
    cycles = [f["details"]["cycle"] for f in findings(r1, "FM-03")]
    a, b, c = (f"strat://dev/fragment/{n}@1.0.0" for n in "abc")
    x, y = (f"strat://dev/fragment/{n}@1.0.0" for n in "xy")
    assert cycles == [[a, b, c, a], [x, y, x]]
    assert cycles == [f["details"]["cycle"] for f in findings(r2, "FM-03")]
    assert findings(r1, "FM-03")[0]["details"]["blocked"] == []  # z imports the cycle, it is not blocked by it
    assert r1.exit_code == 1


def test_fm03_leftover_behind_a_cycle_is_explained(db_url, tree):
    tree.write("a", tree.unit("a", type_="fragment", imports=["strat://dev/fragment/b@1.0.0"]))
    tree.write("b", tree.unit("b", type_="fragment", imports=["strat://dev/fragment/a@1.0.0",
                                                              "strat://dev/fragment/leaf@1.0.0"]))
    tree.write("leaf", tree.unit("leaf", type_="fragment"))
    f = findings(ci(db_url, [tree.root]), "FM-03")[0]
    assert f["details"]["blocked"] == ["strat://dev/fragment/leaf@1.0.0"] and f["details"]["unordered"] == 3


def test_fm03_step_references_count(db_url, tree):
    tree.edit("plan-boot", lambda d: d["imports"].append("strat://dev/chain/sol-1-boot@1.0.0"))
    assert "FM-03" in aliases(ci(db_url, [tree.root]))


# -- FM-04 --------------------------------------------------------------------------------------------

def test_fm04_override_by_gate_authority_is_a_warning(db_url, tree):
    def pr(d):
        d["composition"]["steps"].pop()
        d["overrides"] = [{"check": "FM-04", "agent": "BECK-02", "reason": "review by pairing", "approved_by": "SOL-01"}]
    tree.edit("sol-1-boot", pr)
    r = ci(db_url, [tree.root], council="council/pathfinder")
    assert check_outcomes(r)["FM-04"] == "warn" and r.exit_code == 0
    assert "override approved by SOL-01" in findings(r, "FM-04")[0]["message"]


def test_fm04_override_without_gate_authority_still_blocks(db_url, tree):
    def pr(d):
        d["composition"]["steps"].pop()
        d["overrides"] = [{"check": "FM-04", "agent": "BECK-02", "reason": "trust me", "approved_by": "ADA-03"}]
    tree.edit("sol-1-boot", pr)
    r = ci(db_url, [tree.root])
    assert r.exit_code == 1 and "no gate authority" in findings(r, "FM-04")[0]["message"]


def test_fm04_checks_composition_whatever_the_step_status(db_url, tree):
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"][2].update(status="deprecated"))
    assert "FM-04" not in aliases(ci(db_url, [tree.root]))


def test_fm04_only_chains_of_the_named_council(db_url, tree):
    other = tree.read("council")
    other.update(id="council/other")
    tree.write("council-other", other)
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"].pop())
    assert "FM-04" not in aliases(ci(db_url, [tree.root], council="council/other"))


# -- FM-05 --------------------------------------------------------------------------------------------

@pytest.fixture
def base(tmp_path):
    return Tree(tmp_path / "base")


def _bump(version):
    def fn(d):
        d["id"] = d["id"].split("@")[0] + "@" + version
        d["version"] = version
    return fn


def test_fm05_gate_no_longer_a_gate_without_major(db_url, tree, base):
    tree.edit("sol-1-boot", lambda d: (_bump("1.1.0")(d), d["composition"]["steps"][2].update(gate=False)))
    r = ci(db_url, [tree.root], against=str(base.root))
    assert aliases(r) == ["FM-05"] and "no longer a gate" in findings(r, "FM-05")[0]["message"]


def test_fm05_major_bump_allows_removing_a_gate(db_url, tree, base):
    tree.edit("sol-1-boot", lambda d: (_bump("2.0.0")(d), d["composition"]["steps"][2].update(gate=False)))
    assert ci(db_url, [tree.root], against=str(base.root)).exit_code == 0


def test_fm05_at_0x_a_minor_bump_counts_as_major(db_url, tree, base):
    base.edit("sol-1-boot", _bump("0.3.0"))
    tree.edit("sol-1-boot", lambda d: (_bump("0.4.0")(d), d["composition"]["steps"][2].update(gate=False)))
    assert "FM-05" not in aliases(ci(db_url, [tree.root], against=str(base.root)))
    tree.edit("sol-1-boot", _bump("0.3.1"))
    assert "FM-05" in aliases(ci(db_url, [tree.root], against=str(base.root)))


def test_fm05_baseline_is_the_highest_published_version_below(db_url, tree, tmp_path):
    publish_rows(db_url, tree.root, tmp_path / "objects")
    tree.edit("sol-1-boot", lambda d: (_bump("1.0.1")(d), d["composition"]["steps"][2].update(gate=False)))
    r = ci(db_url, [tree.root])
    assert "strat://dev/chain/sol-1-boot@1.0.0" in findings(r, "FM-05")[0]["message"]


def _renumber_with_a_new_step_before_the_gate(d):
    steps = d["composition"]["steps"]
    gate = steps.pop()
    steps.append({"id": "step-03", "unit": "strat://dev/task/plan-boot@1.0.0", "agent": "SOL-01", "gate": False,
                  "depends_on": ["step-02"]})
    steps.append({**gate, "id": "step-04", "depends_on": ["step-03"]})


def test_fm05_a_renumbered_gate_is_the_same_gate(db_url, tree, base):
    """step-03 (BECK-02 reviews) becomes step-04 after a new step-03: no gate was removed."""
    tree.edit("sol-1-boot", lambda d: (_bump("1.1.0")(d), _renumber_with_a_new_step_before_the_gate(d)))
    r = ci(db_url, [tree.root], against=str(base.root))
    assert "FM-05" not in aliases(r) and r.exit_code == 0


def test_fm05_removing_one_of_two_identical_gates_is_a_removal(db_url, tree, base):
    """Gates match one to one: the remaining step-03 cannot also stand in for the removed step-04."""
    def two_gates(d):
        d["composition"]["steps"].append({**d["composition"]["steps"][2], "id": "step-04", "depends_on": ["step-03"]})
    base.edit("sol-1-boot", two_gates)
    tree.edit("sol-1-boot", _bump("1.1.0"))  # the tree's chain has only step-03
    r = ci(db_url, [tree.root], against=str(base.root))
    f = findings(r, "FM-05")
    assert [x["details"]["step"]["id"] for x in f] == ["step-04"] and "is gone" in f[0]["message"]
    assert "restore step-04 (BECK-02 runs strat://dev/task/review-boot@1.0.0, gate: true)" in f[0]["fix"]


def test_fm05_baseline_is_chosen_among_several_published_versions(db_url, tree, tmp_path):
    """Published: 1.2.0, 1.9.0 (gate), 1.10.0 (no gate). 1.9.5 compares with 1.9.0; 1.11.0 with 1.10.0, not 1.9.0."""
    def release(version, gate):
        t = Tree(tmp_path / f"v{version}")
        t.edit("sol-1-boot", lambda d: (_bump(version)(d), d["composition"]["steps"][2].update(gate=gate)))
        for name in ("plan-boot", "write-code", "review-boot", "reviewer"):
            t.remove(name)
        publish_rows(db_url, t.root, tmp_path / "objects")

    for version, gate in (("1.2.0", True), ("1.9.0", True), ("1.10.0", False)):
        release(version, gate)
    tree.edit("sol-1-boot", lambda d: (_bump("1.9.5")(d), d["composition"]["steps"][2].update(gate=False)))
    f = findings(ci(db_url, [tree.root]), "FM-05")
    assert len(f) == 1 and f[0]["details"]["baseline"] == "strat://dev/chain/sol-1-boot@1.9.0"
    assert f[0]["details"]["required_version"] == "2.0.0"
    tree.edit("sol-1-boot", _bump("1.11.0"))
    assert "FM-05" not in aliases(ci(db_url, [tree.root]))  # 1.10.0 (numeric order, not text) had no gate


# -- FM-06 --------------------------------------------------------------------------------------------

def _contract(fn, version):
    def edit(d):
        _bump(version)(d)
        fn(d["contract"])
    return edit


MAJOR_CHANGES = {
    "input removed": lambda c: c["inputs"].pop(0),
    "optional input made required": lambda c: c["inputs"][1].update(required=True) or c["inputs"][1].pop("default"),
    "optional input made required, default kept": lambda c: c["inputs"][1].update(required=True),
    "new required input without default": lambda c: c["inputs"].append({"name": "token", "type": "string", "required": True}),
    "input type changed": lambda c: c["inputs"][0].update(type="url"),
    "output type changed": lambda c: c["outputs"][0].update(type="json"),
    "output removed": lambda c: c["outputs"].pop(),
}
MINOR_CHANGES = {
    "new optional input": lambda c: c["inputs"].append({"name": "verbose", "type": "boolean", "required": False}),
    "new output": lambda c: c["outputs"].append({"name": "diff", "type": "string"}),
    "new failure mode": lambda c: c["failure_modes"].append({"condition": "timeout", "handler": "retry", "message": "slow"}),
}


@pytest.mark.parametrize("change", MAJOR_CHANGES, ids=str)
def test_fm06_major_change_with_minor_bump_blocks_and_names_2_0_0(db_url, tree, base, change):
    tree.edit("plan-boot", _contract(MAJOR_CHANGES[change], "1.1.0"))
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"][0].update(unit="strat://dev/task/plan-boot@1.1.0"))
    r = ci(db_url, [tree.root], against=str(base.root))
    f = [f for f in findings(r, "FM-06") if "plan-boot" in f["unit"]][0]
    assert r.exit_code == 1 and f["details"]["required_version"] == "2.0.0" and "2.0.0" in f["fix"]
    assert f["details"]["needed"] == "major"


@pytest.mark.parametrize("change", MINOR_CHANGES, ids=str)
def test_fm06_minor_change_with_patch_bump_blocks_and_names_1_1_0(db_url, tree, base, change):
    tree.edit("plan-boot", _contract(MINOR_CHANGES[change], "1.0.1"))
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"][0].update(unit="strat://dev/task/plan-boot@1.0.1"))
    f = [f for f in findings(ci(db_url, [tree.root], against=str(base.root)), "FM-06") if "plan-boot" in f["unit"]][0]
    assert f["details"]["required_version"] == "1.1.0"


@pytest.mark.parametrize("change", MINOR_CHANGES, ids=str)
def test_fm06_minor_change_with_minor_bump_passes(db_url, tree, base, change):
    tree.edit("plan-boot", _contract(MINOR_CHANGES[change], "1.1.0"))
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"][0].update(unit="strat://dev/task/plan-boot@1.1.0"))
    assert "FM-06" not in aliases(ci(db_url, [tree.root], against=str(base.root)))


def test_fm06_blast_radius_counts_direct_transitive_gate_and_protected(db_url, tree, base):
    tree.edit("reviewer", lambda d: (_bump("1.0.1")(d), d.update(contract={"inputs": [], "outputs": []})))
    base.edit("reviewer", lambda d: d.update(contract={"inputs": [{"name": "x", "type": "string"}], "outputs": []}))
    tree.edit("review-boot", lambda d: d.update(imports=["strat://dev/role/reviewer@1.0.1"]))
    f = findings(ci(db_url, [tree.root], against=str(base.root)), "FM-06")[0]
    radius = f["details"]["blast_radius"]
    assert (radius["direct"], radius["transitive"], radius["gate_bearing"], radius["protected"]) == (1, 2, 1, 1)
    assert "1 direct, 2 transitive, 1 gate-bearing, 1 protected" in f["message"]


# -- FM-07 --------------------------------------------------------------------------------------------

def test_fm07_stable_importing_draft_is_a_warning_exit_0(db_url, tree):
    tree.write("helper", tree.unit("helper", type_="fragment", status="draft"))
    tree.edit("plan-boot", lambda d: d["imports"].append("strat://dev/fragment/helper@1.0.0"))
    r = ci(db_url, [tree.root])
    assert r.exit_code == 0 and check_outcomes(r)["FM-07"] == "warn" and r.status == "warned"


def test_fm07_non_draft_1x_importing_0x(db_url, tree):
    tree.write("helper", tree.unit("helper", type_="fragment", version="0.9.0", status="stable"))
    tree.edit("plan-boot", lambda d: (d.update(status="review"), d["imports"].append("strat://dev/fragment/helper@0.9.0")))
    assert "pre-1.0" in findings(ci(db_url, [tree.root]), "FM-07")[0]["message"]


def test_fm07_deprecated_import_has_its_own_message(db_url, tree):
    tree.edit("reviewer", lambda d: d.update(status="deprecated"))
    f = findings(ci(db_url, [tree.root]), "FM-07")[0]
    assert "deprecated" in f["message"] and f["severity"] == "warning"


def test_fm07_draft_importer_is_not_flagged(db_url, tree):
    tree.write("helper", tree.unit("helper", type_="fragment", status="draft"))
    tree.write("user", tree.unit("user", type_="fragment", status="draft", version="0.1.0",
                                 imports=["strat://dev/fragment/helper@1.0.0"]))
    assert "FM-07" not in aliases(ci(db_url, [tree.root]), "warn")


def test_fm07_stable_importing_a_review_unit(db_url, tree):
    tree.write("helper", tree.unit("helper", type_="fragment", version="1.2.0", status="review"))
    tree.edit("plan-boot", lambda d: d["imports"].append("strat://dev/fragment/helper@1.2.0"))
    f = findings(ci(db_url, [tree.root]), "FM-07")
    assert len(f) == 1 and f[0]["message"].endswith("which is review") and f[0]["details"]["target_status"] == "review"


def test_fm07_a_pre_release_of_1_0_0_is_below_1_0_0(db_url, tree):
    """Semver precedence: 1.0.0-alpha < 1.0.0. As a target it is pre-1.0; as an importer it is not 1.0.0 or later."""
    tree.write("helper", tree.unit("helper", type_="fragment", version="1.0.0-alpha", status="stable"))
    tree.edit("plan-boot", lambda d: d["imports"].append("strat://dev/fragment/helper@1.0.0-alpha"))
    f = findings(ci(db_url, [tree.root]), "FM-07")
    assert len(f) == 1 and "which is pre-1.0" in f[0]["message"]
    assert "no stable 1.0.0+ version of strat://dev/fragment/helper exists: release it as 1.0.0" in f[0]["fix"]
    tree.edit("plan-boot", lambda d: d["imports"].pop())
    tree.write("user", tree.unit("user", type_="fragment", version="1.0.0-rc.1", status="review",
                                 imports=["strat://dev/fragment/young@0.3.0"]))
    tree.write("young", tree.unit("young", type_="fragment", version="0.3.0", status="review"))
    assert "FM-07" not in aliases(ci(db_url, [tree.root]), "warn")  # a review 1.0.0-rc.1 is not yet 1.0.0
    tree.edit("user", lambda d: (d.update(id="strat://dev/fragment/user@1.0.1-rc.1", version="1.0.1-rc.1")))
    assert "FM-07" in aliases(ci(db_url, [tree.root]), "warn")  # 1.0.1-rc.1 is above 1.0.0


def test_fm07_names_the_stable_version_to_import_instead(db_url, tree):
    tree.write("helper-old", {**tree.unit("helper", type_="fragment", version="1.1.0", status="stable")})
    tree.write("helper-new", {**tree.unit("helper", type_="fragment", version="2.0.0", status="draft")})
    tree.edit("plan-boot", lambda d: d["imports"].append("strat://dev/fragment/helper@2.0.0"))
    f = findings(ci(db_url, [tree.root]), "FM-07")[0]
    assert f["fix"].startswith("reference strat://dev/fragment/helper@1.1.0 (the highest stable version")
    assert f["details"]["use_instead"] == "strat://dev/fragment/helper@1.1.0"


def test_fm07_deprecated_importers_at_1x_are_in_scope_draft_importers_are_not(db_url, tree):
    """One importer scope for both messages, as the issue words it: stable, or 1.0.0+ and not draft."""
    tree.write("helper", tree.unit("helper", type_="fragment", status="draft"))
    tree.write("old", tree.unit("old", type_="fragment", status="deprecated", imports=["strat://dev/fragment/helper@1.0.0"]))
    tree.write("scratch", tree.unit("scratch", type_="fragment", status="draft", imports=["strat://dev/fragment/old@1.0.0"]))
    f = findings(ci(db_url, [tree.root]), "FM-07")
    assert [(x["unit"], x["details"]["target"]) for x in f] == [
        ("strat://dev/fragment/old@1.0.0", "strat://dev/fragment/helper@1.0.0")]


# -- FM-09 --------------------------------------------------------------------------------------------

def test_fm09_step_agent_not_in_council(db_url, tree):
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"][1].update(agent="ZED-09"))
    r = ci(db_url, [tree.root])
    assert aliases(r) == ["FM-09"] and "ZED-09 is not in council/pathfinder" in findings(r, "FM-09")[0]["message"]


def test_fm09_agent_lacks_the_task_capability(db_url, tree):
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"][1].update(agent="BECK-02"))
    f = findings(ci(db_url, [tree.root]), "FM-09")[0]
    assert f["details"]["missing"] == ["code"] and "ADA-03" in f["fix"]


def test_fm09_step_requires_are_added_to_the_task_requirements(db_url, tree):
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"][1].update(requires=["deploy"]))
    f = findings(ci(db_url, [tree.root]), "FM-09")[0]
    assert f["details"]["required"] == ["code", "deploy"] and f["details"]["missing"] == ["deploy"]


# -- exit codes, errors, schema -----------------------------------------------------------------------

def test_exit_precedence_tamper_over_broken_over_blocking(db_url, tree):
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"].pop())  # FM-04
    tree.edit("plan-boot", lambda d: d["imports"].append("strat://dev/role/ghost@1.0.0"))  # FM-02
    assert ci(db_url, [tree.root]).exit_code == 3
    tree.edit("reviewer", lambda d: d.update(persona="edited"), fingerprint=False)  # FM-01
    r = ci(db_url, [tree.root])
    assert r.exit_code == 2 and aliases(r) == ["FM-01", "FM-02", "FM-04"]


def test_zero_units_is_an_error_never_green(db_url, tmp_path):
    r = ci(db_url, [tmp_path])
    assert r.exit_code == 64 and r.status == "error" and "no units" in r.error


def test_unknown_council_is_an_error(db_url):
    r = ci(db_url, [FIXTURES / "pathfinder"], council="council/nope")
    assert r.exit_code == 64 and "council/nope" in r.error


def test_schema_invalid_units_exit_1_before_the_fm_checks(db_url, tree):
    tree.edit("plan-boot", lambda d: d.update(slug="other-slug"))
    tree.write("broken", {"id": "strat://dev/task/broken@1.0", "type": "task"}, fingerprint=False)
    r = ci(db_url, [tree.root])
    assert r.exit_code == 1 and set(check_outcomes(r).values()) == {"fail", "skipped"}
    assert check_outcomes(r)["SCHEMA"] == "fail" and all(check_outcomes(r)[a] == "skipped" for a in ORDER)
    messages = " ".join(f["message"] for f in findings(r, "SCHEMA"))
    assert "slug is 'other-slug' but the id says 'plan-boot'" in messages and "broken.yaml" in " ".join(
        f["file"] for f in findings(r, "SCHEMA"))


def test_duplicate_keys_are_reported_with_their_line(db_url, tree):
    tree.path("dup").write_text("id: strat://dev/role/dup@1.0.0\ntype: role\ntype: role\n")
    f = findings(ci(db_url, [tree.root]), "SCHEMA")[0]
    assert f["line"] == 3 and "duplicate key" in f["message"]


# -- every fix in version terms -----------------------------------------------------------------------

def test_fix_fm01_missing_fingerprint_names_the_fingerprint_and_the_version(db_url, tree, tmp_path):
    tree.edit("reviewer", lambda d: d.pop("fingerprint"), fingerprint=False)
    f = findings(ci(db_url, [tree.root]), "FM-01")[0]
    assert f["details"]["computed"] in f["fix"] and "keep version 1.0.0, which is not published yet" in f["fix"]
    released = Tree(tmp_path / "released")
    released.edit("reviewer", lambda d: d.update(persona="the released persona"))
    publish_rows(db_url, released.root, tmp_path / "objects")
    f = findings(ci(db_url, [tree.root]), "FM-01")[0]
    assert "is published as blake3:" in f["fix"] and "set version 1.0.1" in f["fix"]


def test_fix_fm01_mismatch_on_a_released_version_names_the_next_free_patch(db_url, tree, tmp_path):
    publish_rows(db_url, tree.root, tmp_path / "objects")
    tree.edit("plan-boot", lambda d: d.update(prompt_body="edited"), fingerprint=False)
    f = findings(ci(db_url, [tree.root]), "FM-01")[0]
    assert "set version 1.0.1 and run `stratt fingerprint --update" in f["fix"] and f["details"]["release_as"] == "1.0.1"


def test_fix_fm04_names_the_step_to_restore_and_the_version(db_url, tree, tmp_path):
    publish_rows(db_url, tree.root, tmp_path / "objects")
    tree.edit("sol-1-boot", _drop_last_step)
    f = findings(ci(db_url, [tree.root]), "FM-04")[0]
    assert f["fix"].startswith("restore step-03 (BECK-02 runs strat://dev/task/review-boot@1.0.0, as in "
                               "strat://dev/chain/sol-1-boot@1.0.0) and release it as 1.0.1 (1.0.0 is already released)")
    assert "approved_by: one of BECK-02, SOL-01" in f["fix"]


def _drop_last_step(d):
    d["composition"]["steps"].pop()


def test_fix_fm09_names_the_agents_and_the_council_version(db_url, tree):
    tree.edit("sol-1-boot", lambda d: d["composition"]["steps"][1].update(agent="BECK-02"))
    f = findings(ci(db_url, [tree.root]), "FM-09")[0]
    assert f["fix"] == ("assign step-02 to ADA-03 or SOL-01 (has code) and keep version 1.0.0 (it is not released yet); "
                        "or grant code to BECK-02 in council/pathfinder and release the council as 1.1.0")


def test_fix_fm09_missing_council_says_what_to_pass(db_url, tree):
    tree.remove("council")
    f = [x for x in findings(ci(db_url, [tree.root]), "FM-09") if "not in the paths" in x["message"]][0]
    assert "pass the directory that holds council/pathfinder to `stratt ci`" in f["fix"]


def test_fix_fm07_deprecated_names_the_successor_version(db_url, tree):
    tree.write("reviewer-2", {**tree.unit("reviewer", type_="role", version="2.0.0")})
    tree.edit("reviewer", lambda d: d.update(status="deprecated"))
    f = findings(ci(db_url, [tree.root]), "FM-07")[0]
    assert f["fix"].startswith("reference strat://dev/role/reviewer@2.0.0 instead of strat://dev/role/reviewer@1.0.0 "
                               "(the newest version that is not deprecated)")
    tree.edit("reviewer", lambda d: d.update(deprecation={"successor": "strat://dev/role/critic@1.0.0"}))
    assert "reference strat://dev/role/critic@1.0.0 instead" in findings(ci(db_url, [tree.root]), "FM-07")[0]["fix"]


def test_fix_schema_names_the_schema_and_the_version(db_url, tree):
    tree.edit("plan-boot", lambda d: d.update(slug="other-slug"))
    f = findings(ci(db_url, [tree.root]), "SCHEMA")[0]
    assert "ssot/schemas/unit.schema.json" in f["fix"] and f["fix"].endswith("keep version 1.0.0 (it is not released yet)")
    assert f["runbook"] == "docs/runbooks/failures/UNIT.SCHEMA_INVALID.md"


def test_the_snapshot_payload_is_the_same_json_value_whichever_encoder_writes_it():
    """Issue 12: orjson writes each row and the payload; what it refuses (beyond 64 bits, a lone surrogate) falls
    back to json.dumps, and both give the value jsonb reads, also as a row (a Fragment) inside the payload."""
    import json as _json

    import orjson

    from worker.units.load import dumps

    for value in ([{"doc": {"n": 2**70}}], [{"doc": {"s": "\ud800"}}], [{"doc": {"f": 1e16, "t": "café", "b": True}}]):
        assert _json.loads(dumps(value)) == value
        assert _json.loads(orjson.dumps([orjson.Fragment(dumps(value[0]))])) == value


def test_baselines_carry_only_what_the_comparison_reads(tmp_path):
    from worker.units.checks import BASELINE_KEYS, baseline_rows

    (tmp_path / "t.yaml").write_text(
        "id: strat://dev/task/t@1.0.0\ntype: task\ndomain: dev\nslug: t\nversion: 1.0.0\nstatus: stable\n"
        "meta: {title: t, description: d, tags: [x], author: a, created: '2025-01-01', modified: '2025-01-01'}\n"
        "imports: []\ncouncil: council/x\nprompt_body: do\nrequires: {capabilities: [code]}\n"
        "contract: {inputs: [], outputs: [], failure_modes: []}\n")
    import json as _json

    import orjson

    rows = _json.loads(orjson.dumps(baseline_rows(str(tmp_path))))
    assert [r["address"] for r in rows] == ["strat://dev/task/t@1.0.0"], rows
    assert rows[0]["doc"] == {"contract": {"inputs": [], "outputs": [], "failure_modes": []}}
    assert set(BASELINE_KEYS) == {"composition", "contract"}


def test_snapshot_rows_carry_every_key_the_checks_read(tmp_path):
    """The snapshot's documents keep load.SNAPSHOT_KEYS only; every top-level key the unit-CI SQL reads of a unit's
    document (`doc -> 'k'`, `doc ->> 'k'`, `doc ? 'k'`, in supabase/schemas/) must be among them, or a check
    would silently read nothing."""
    import json as _json
    import re

    from worker import ROOT
    from worker.units import load

    sql = "\n".join((ROOT / "supabase" / "schemas" / name).read_text()
                    for name in ("09_unit_ci_helpers.sql", "10_unit_ci_checks.sql", "11_unit_ci_run.sql"))
    read = set(re.findall(r"\b(?:\w+\.)?(?:doc|u_doc|document)\s*(?:->>?|\?)\s*'(\w+)'", sql))
    council_keys = {"agents", "protectedAgents"}  # read of a council's document, which is sent whole
    assert {"composition", "contract", "imports", "deprecation"} <= read  # the pattern finds what it should
    assert read - council_keys <= set(load.SNAPSHOT_KEYS), read - council_keys - set(load.SNAPSHOT_KEYS)

    (tmp_path / "t.yaml").write_text(
        "id: strat://dev/task/t@1.0.0\ntype: task\ndomain: dev\nslug: t\nversion: 1.0.0\nstatus: stable\n"
        "meta: {title: t, description: d, tags: [x], author: a, created: '2025-01-01', modified: '2025-01-01'}\n"
        "imports: [strat://dev/task/u@1.0.0]\ncouncil: council/x\nprompt_body: do\nrequires: {capabilities: [code]}\n"
        "contract: {inputs: [], outputs: [], failure_modes: []}\n")
    with load.Loader(workers=1) as loader:
        snap = loader.submit([tmp_path], form="row")()
    import orjson

    [row] = _json.loads(orjson.dumps(snap.rows))
    assert row["doc"] == {"imports": ["strat://dev/task/u@1.0.0"], "council": "council/x",
                          "requires": {"capabilities": ["code"]},
                          "contract": {"inputs": [], "outputs": [], "failure_modes": []}}
    assert (row["address"], row["status"], row["lines"]["imports"]) == ("strat://dev/task/t@1.0.0", "stable", [8])


def test_display_path_is_relpath_of_the_file(tmp_path, monkeypatch):
    """display_path (string operations on a Path, relpath once per folder) gives os.path.relpath of the file."""
    import os
    from pathlib import Path

    from worker.units import load

    monkeypatch.chdir(tmp_path)
    cases = ["a.yaml", "./a.yaml", "x/y/a.yaml", "x//y/./a.yaml", "../z/a.yaml", "/a.yaml", str(tmp_path / "w" / "a.yml"),
             "x/../a.yaml"]
    for case in cases:
        for given in (case, Path(case)):
            assert load.display_path(given) == os.path.relpath(Path(case)), given
