"""Output formats of `stratt ci`: text, json, sarif, junit, github, markdown."""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from worker import ROOT, __version__
from worker.units.checks import Report

FORMATS = ("text", "json", "sarif", "junit", "github", "markdown")
SYMBOL = {"pass": "✓", "fail": "✗", "warn": "⚠", "skipped": "–"}
TITLES = {
    "SCHEMA": "Schema-invalid unit or council", "WAIVERS": "Invalid waiver",
    "FM-01": "Fingerprint tamper", "FM-02": "Broken import", "FM-03": "DAG cycle",
    "FM-04": "Protected agent missing", "FM-05": "Gate removed without major bump",
    "FM-06": "Breaking contract change without the bump it needs", "FM-07": "Draft isolation",
    "FM-08": "Object store publish failed", "FM-09": "Capability missing",
}
GITHUB_ANNOTATION_CAP = 10


def render(report: Report, fmt: str) -> str:
    return {"text": text, "json": as_json, "sarif": sarif, "junit": junit, "github": github,
            "markdown": markdown}[fmt](report)


def _where(f: dict) -> str:
    if f.get("file"):
        return f"{f['file']}:{f['line'] or 1}"
    return f.get("unit") or "-"


def _check_line(report: Report, c: dict) -> str:
    mine = [f for f in report.findings if f["alias"] == c["alias"] and f["outcome"] != "waived"]
    if c["outcome"] in ("pass", "skipped") or not mine:
        return f"{c['alias']} {SYMBOL.get(c['outcome'], '?')} {c['reason']}"
    more = f" (+{len(mine) - 1} more)" if len(mine) > 1 else ""
    return f"{c['alias']} {SYMBOL[c['outcome']]} {c['severity'] or 'warning'} — {mine[0]['message']}{more}"


def text(report: Report) -> str:
    if report.error:
        return f"stratt ci: error: {report.error}\nexit {report.exit_code}"
    n = report.counts
    lines = [f"stratt ci: {n['units']} unit(s), {n['councils']} council(s)"
             + (f", council {report.council}" if report.council else "")
             + f" — run {report.run_id}, {report.duration_ms} ms"]
    lines += [_check_line(report, c) for c in report.checks]
    shown = [f for f in report.findings]
    if shown:
        lines.append("")
        for f in shown:
            tag = "waived" if f["outcome"] == "waived" else f["severity"]
            lines.append(f"{_where(f)}: {f['code']} ({f['alias']}, {tag}) {f['message']}")
            if f.get("fix"):
                lines.append(f"    fix: {f['fix']}")
            lines.append(f"    runbook: {f['runbook']}")
            lines.append(f"    finding: {f['fingerprint']}")
    failing = sorted({f["alias"] for f in report.findings if f["outcome"] == "fail"})
    verdict = {0: "pass" + (" with warnings" if n.get("warnings") else ""), 1: "blocking", 2: "tampered",
               3: "broken import"}.get(report.exit_code, "error")
    lines.append("")
    lines.append(f"exit {report.exit_code}: {verdict}" + (f" ({', '.join(failing)})" if failing else ""))
    return "\n".join(lines)


def as_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False, default=str)


def _help_uri(runbook: str) -> str:
    """An absolute URI for a runbook: the GitHub blob when running in Actions, else a file URI."""
    base = os.environ.get("STRATT_RUNBOOK_BASE")
    if not base and os.environ.get("GITHUB_REPOSITORY"):
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        base = f"{server}/{os.environ['GITHUB_REPOSITORY']}/blob/{os.environ.get('GITHUB_SHA', 'HEAD')}/"
    if base:
        return base.rstrip("/") + "/" + runbook.split("#")[0]
    return (ROOT / runbook.split("#")[0]).resolve().as_uri()


def sarif(report: Report) -> str:
    rules, index = [], {}
    for f in report.findings:
        if f["code"] in index:
            continue
        index[f["code"]] = len(rules)
        rules.append({
            "id": f["code"], "name": f["code"].split(".")[-1].title().replace("_", ""),
            "shortDescription": {"text": f"{f['alias']}: {TITLES.get(f['alias'], f['code'])}"},
            "fullDescription": {"text": f"{f['code']} ({f['alias']}). See the runbook for diagnosis and fixes."},
            "helpUri": _help_uri(f["runbook"]),
            "help": {"text": f"Runbook: {f['runbook']}"},
            "properties": {"alias": f["alias"], "tags": ["stratt", f["alias"]]},
            "defaultConfiguration": {"level": "warning" if f["severity"] == "warning" else "error"},
        })
    results = []
    for f in report.findings:
        result = {
            "ruleId": f["code"], "ruleIndex": index[f["code"]],
            "level": "warning" if f["severity"] == "warning" or f["outcome"] == "waived" else "error",
            "message": {"text": f"{f['alias']} {f['message']}. Fix: {f['fix']}"},
            "partialFingerprints": {"strattFinding/v1": f["fingerprint"]},
            "properties": {"alias": f["alias"], "severity": f["severity"], "unit": f["unit"]},
        }
        if f["outcome"] == "waived":
            result["suppressions"] = [{"kind": "external", "justification": f["details"].get("waiver", {}).get("reason", "")}]
        if f.get("file"):
            result["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": Path(f["file"]).as_posix(), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": max(1, int(f["line"] or 1))}}}]
        results.append(result)
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "stratt", "version": __version__, "semanticVersion": __version__,
                                "informationUri": _help_uri("docs/unit-ci.md"), "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().resolve().as_uri() + "/"}},
            "results": results,
            "invocations": [{"executionSuccessful": report.error is None and report.exit_code in (0, 1, 2, 3),
                             "exitCode": report.exit_code}],
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def junit(report: Report) -> str:
    cases = []
    for c in report.checks:
        mine = [f for f in report.findings if f["alias"] == c["alias"]]
        body = ""
        if c["outcome"] == "fail":
            detail = "\n".join(f"{_where(f)}: {f['message']} (fix: {f['fix']})" for f in mine if f["outcome"] == "fail")
            body = f"<failure message={quoteattr(c['reason'])} type={quoteattr(c['code'] or c['alias'])}>{escape(detail)}</failure>"
        elif c["outcome"] == "skipped":
            body = f"<skipped message={quoteattr(c['reason'])}/>"
        elif mine:
            body = "<system-out>" + escape("\n".join(f"{_where(f)}: {f['message']}" for f in mine)) + "</system-out>"
        cases.append(f'  <testcase classname="stratt.ci" name={quoteattr(c["alias"] + " " + TITLES.get(c["alias"], ""))}>'
                     f"{body}</testcase>")
    failures = sum(c["outcome"] == "fail" for c in report.checks)
    skipped = sum(c["outcome"] == "skipped" for c in report.checks)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="stratt ci" tests="{len(report.checks)}" failures="{failures}" errors="{int(bool(report.error))}" '
            f'skipped="{skipped}" time="{report.duration_ms / 1000:.3f}">\n' + "\n".join(cases) + "\n</testsuite>")


def _gh_escape(value: str, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def github(report: Report) -> str:
    lines = []
    actionable = [f for f in report.findings if f["outcome"] in ("fail", "warn")]
    for f in actionable[:GITHUB_ANNOTATION_CAP]:
        kind = "warning" if f["outcome"] == "warn" else "error"
        props = [f"title={_gh_escape(f['code'] + ' (' + f['alias'] + ')', True)}"]
        if f.get("file"):
            props = [f"file={_gh_escape(f['file'], True)}", f"line={f['line'] or 1}"] + props
        lines.append(f"::{kind} {','.join(props)}::{_gh_escape(f['message'] + ' — fix: ' + (f['fix'] or '') + ' — ' + f['runbook'])}")
    rest = actionable[GITHUB_ANNOTATION_CAP:]
    lines.append(text(report))
    if rest:
        lines.append(f"{len(rest)} more finding(s) not annotated (GitHub shows at most {GITHUB_ANNOTATION_CAP} per step):")
        lines += [f"  {_where(f)}: {f['code']} {f['message']}" for f in rest]
    return "\n".join(lines)


def _md(value) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    if report.error:
        return f"## stratt ci: error\n\n{_md(report.error)} (exit {report.exit_code})\n"
    out = [f"## stratt ci — exit {report.exit_code} ({report.status})", "",
           f"{report.counts['units']} unit(s), {report.counts['councils']} council(s); run {report.run_id}.", "",
           "| check | result | detail |", "|---|---|---|"]
    out += [f"| {c['alias']} {TITLES.get(c['alias'], '')} | {SYMBOL.get(c['outcome'], '?')} {c['outcome']} | {_md(c['reason'])} |"
            for c in report.checks]
    if report.findings:
        out += ["", "### Findings", "", "| where | code | severity | message | fix |", "|---|---|---|---|---|"]
        out += [f"| `{_md(_where(f))}` | [{f['code']}]({f['runbook']}) ({f['alias']}) | {f['severity']} | {_md(f['message'])} | {_md(f['fix'])} |"
                for f in report.findings]
    radius = [f for f in report.findings if f["details"].get("blast_radius")]
    if radius:
        out += ["", "### Blast radius", "", "| unit | direct | transitive | gate-bearing | protected |", "|---|---|---|---|---|"]
        for f in radius:
            b = f["details"]["blast_radius"]
            out.append(f"| `{f['unit']}` | {b['direct']} | {b['transitive']} | {b['gate_bearing']} | {b['protected']} |")
        out += ["", "```mermaid", "graph RL"]
        ids: dict[str, str] = {}

        def node(name: str) -> str:
            if name not in ids:
                ids[name] = f"n{len(ids)}"
            return ids[name]

        edges = []
        for f in radius:
            src = node(f["unit"])
            for dep in f["details"]["blast_radius"].get("dependents", []):
                edges.append(f"    {node(dep)} --> {src}")
        out += [f'    {i}["{name.replace(chr(34), "")}"]' for name, i in ids.items()]
        out += edges
        out += [f"    style {node(f['unit'])} fill:#fecaca" for f in radius]
        out.append("```")
    return "\n".join(out) + "\n"
