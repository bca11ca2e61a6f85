"""Helpers for the unit-CI tests (no tests here): small unit trees built from tests/fixtures/units."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import psycopg
import yaml

from worker import ROOT
from worker.units import checks, edit, yaml12

FIXTURES = ROOT / "tests" / "fixtures" / "units"


class Tree:
    """A copy of a fixture tree that tests edit: each edit re-fingerprints unless told not to."""

    def __init__(self, root: Path, fixture: str = "pathfinder") -> None:
        self.root = root
        shutil.copytree(FIXTURES / fixture, root)

    def path(self, name: str) -> Path:
        return self.root / f"{name}.yaml"

    def read(self, name: str) -> dict:
        return yaml12.load(self.path(name).read_bytes()).data

    def write(self, name: str, data: dict, *, fingerprint: bool = True) -> Path:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in data.items() if not (k == "fingerprint" and fingerprint)}
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        if fingerprint:
            edit.update_file(path)
        return path

    def edit(self, name: str, fn, *, fingerprint: bool = True) -> dict:
        data = copy.deepcopy(self.read(name))
        fn(data)
        self.write(name, data, fingerprint=fingerprint)
        return data

    def remove(self, name: str) -> None:
        self.path(name).unlink()

    def unit(self, name: str, *, type_: str = "task", version: str = "1.0.0", status: str = "stable",
             domain: str = "dev", **fields) -> dict:
        data = {"id": f"strat://{domain}/{type_}/{name}@{version}", "type": type_, "domain": domain, "slug": name,
                "version": version, "status": status, "meta": {"title": name}, "imports": []}
        if type_ == "role":
            data["persona"] = "someone"
        if type_ == "rule":
            data["rule"] = {"polarity": "must", "statement": "be kind", "scope": "all", "protected": False}
        if type_ in ("task", "chain"):
            data["council"] = "council/pathfinder"
            data["contract"] = {"inputs": [], "outputs": [], "failure_modes": []}
        if type_ == "task":
            data["prompt_body"] = "do it"
        if type_ == "chain":
            data["composition"] = {"steps": []}
        data.update(fields)
        return data


def ci(url: str, paths, **kwargs) -> checks.Report:
    with psycopg.connect(url) as conn:
        return checks.run_ci(conn, [str(p) for p in paths], **kwargs)


def aliases(report: checks.Report, outcome: str = "fail") -> list[str]:
    return sorted({f["alias"] for f in report.findings if f["outcome"] == outcome})


def check_outcomes(report: checks.Report) -> dict[str, str]:
    return {c["alias"]: c["outcome"] for c in report.checks}


def publish_rows(url: str, tree_root: Path, store_root: Path) -> None:
    """Publish a tree into the registry (file store) so that later runs have a prior version."""
    from worker.units import publish
    from worker.units.store import open_store

    with psycopg.connect(url) as conn:
        res = publish.publish(conn, [str(tree_root)], open_store(f"file://{store_root}"))
    assert res.exit_code == 0, res.messages
