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


SEVERITY_RANK = {"critical": 0, "blocking": 1, "infrastructure": 2, "warning": 3}


def _check_line(report: Report, c: dict) -> str:
    """One line per check. Its outcome and severity come from the database (worst finding not waived);
    the message shown is that of the first finding with that severity."""
    mine = [f for f in report.findings if f["alias"] == c["alias"] and f["outcome"] != "waived"]
    if c["outcome"] in ("pass", "skipped") or not mine:
        return f"{c['alias']} {SYMBOL.get(c['outcome'], '?')} {c['reason']}"
    worst = min(mine, key=lambda f: SEVERITY_RANK.get(f["severity"], 9))
    more = f" (+{len(mine) - 1} more)" if len(mine) > 1 else ""
    return f"{c['alias']} {SYMBOL[c['outcome']]} {c['severity'] or worst['severity']} — {worst['message']}{more}"


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


def _location(report: Report, f: dict) -> tuple[str, int]:
    """Where a SARIF result points (GitHub code scanning rejects results without a location).

    Every check finding has the file and line of the unit that must change (FM-03: the first reference of the
    cycle made by a scanned file; FM-02/FM-07: the importer's reference to the registry unit); WAIVERS
    findings point at the waiver in the waivers file. A finding without a file (a waiver handed over without
    one through the API) points at the first scanned path, line 1.
    """
    if f.get("file"):
        return f["file"], max(1, int(f.get("line") or 1))
    return (report.paths[0] if report.paths else "."), 1


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
        file, line = _location(report, f)
        result["locations"] = [{"physicalLocation": {
            "artifactLocation": {"uri": Path(file).as_posix(), "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": line}}}]
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


def github_step_summary(report: Report) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the verdict, the check table and every finding the annotations left out."""
    if report.error:
        return markdown(report)
    actionable = [f for f in report.findings if f["outcome"] in ("fail", "warn")]
    rest = actionable[GITHUB_ANNOTATION_CAP:]
    n = report.counts
    tally = (f"{n['units']} unit(s), {n['councils']} council(s); {n.get('findings', 0)} finding(s): "
             f"{n.get('critical', 0)} critical, {n.get('blocking', 0)} blocking, {n.get('warnings', 0)} warning(s), "
             f"{n.get('waived', 0)} waived; {min(len(actionable), GITHUB_ANNOTATION_CAP)} annotated. Run {report.run_id}.")
    out = [f"## stratt ci — exit {report.exit_code} ({report.status})", "", tally, "",
           "| check | result | detail |", "|---|---|---|"]
    out += [f"| {c['alias']} {TITLES.get(c['alias'], '')} | {SYMBOL.get(c['outcome'], '?')} {c['outcome']} | {_md(c['reason'])} |"
            for c in report.checks]
    if rest:
        out += ["", f"### {len(rest)} finding(s) beyond the {GITHUB_ANNOTATION_CAP} annotations", "",
                "| where | code | severity | message | fix |", "|---|---|---|---|---|"]
        out += [f"| `{_md(_where(f))}` | {f['code']} ({f['alias']}) | {f['severity']} | {_md(f['message'])} | {_md(f['fix'])} |"
                for f in rest]
    return "\n".join(out) + "\n"


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
    out += _blast_radius(report)
    return "\n".join(out) + "\n"


BLAST_ALIASES = ("FM-04", "FM-05", "FM-06")


def _blast_radius(report: Report) -> list[str]:
    """Tables and a Mermaid graph of what depends on the units FM-04/05/06 found, with the real references."""
    hits = [f for f in report.findings if f["alias"] in BLAST_ALIASES and f["details"].get("blast_radius") is not None]
    if not hits:
        return []
    out = ["", "### Blast radius", "",
           "| finding | unit | direct | transitive | gate-bearing | protected |", "|---|---|---|---|---|---|"]
    for f in hits:
        b = f["details"]["blast_radius"]
        out.append(f"| {f['alias']} | `{f['unit']}` | {b['direct']} | {b['transitive']} | {b['gate_bearing']} | {b['protected']} |")
    units = list(dict.fromkeys(f["unit"] for f in hits))
    radius = {f["unit"]: f["details"]["blast_radius"] for f in hits}
    rows = [(u, d) for u in units for d in radius[u]["dependents"]]
    if rows:
        cut = [f"{radius[u]['listed']} nearest of {radius[u]['transitive']} dependents of `{u}`" for u in units
               if radius[u].get("listed", radius[u]["transitive"]) < radius[u]["transitive"]]
        if cut:
            out += ["", "Listed and drawn: the " + "; the ".join(cut) + "."]
        out += ["", "| dependent | of | depth | gate-bearing | protected |", "|---|---|---|---|---|"]
        out += [f"| `{d['address']}` | `{u}` | {d['depth']} | {'yes' if d['gate_bearing'] else ''} | "
                f"{'yes' if d['protected'] else ''} |" for u, d in rows]
    ids: dict[str, str] = {}

    def node(address: str) -> str:
        if address not in ids:
            ids[address] = f"n{len(ids)}"
        return ids[address]

    for u in units:
        node(u)
    edges = []
    for u in units:
        for e in radius[u]["edges"]:
            line = f"    {node(e['from'])} -->|{_mermaid_label(e['step'] or e['kind'])}| {node(e['to'])}"
            if line not in edges:
                edges.append(line)
    for f in hits:  # a removed gate: the reference that is gone, dashed
        step = f["details"].get("step") if f["alias"] == "FM-05" else None
        if step and f["details"].get("removed") and step.get("unit"):
            edges.append(f"    {node(f['unit'])} -.->|{_mermaid_label(step.get('id', 'step'))} gate removed| {node(step['unit'])}")
        elif step:
            edges.append(f"    {node(f['unit'])} -.->|{_mermaid_label(step.get('id', 'step'))} no longer a gate| {node(step['unit'])}")
    flags = {d["address"]: d for u in units for d in radius[u]["dependents"]}
    out += ["", "```mermaid", "flowchart LR"]
    out += [f'    {i}["{address.replace(chr(34), "")}"]' for address, i in ids.items()]
    out += edges
    out += ["    classDef changed fill:#fecaca,stroke:#b91c1c", "    classDef gate stroke:#b45309,stroke-width:3px",
            "    classDef protected fill:#fef3c7"]
    out.append("    class " + ",".join(node(u) for u in units) + " changed")
    gates = [ids[a] for a, d in flags.items() if d["gate_bearing"] and a in ids and a not in units]
    protected = [ids[a] for a, d in flags.items() if d["protected"] and a in ids and a not in units]
    if gates:
        out.append("    class " + ",".join(gates) + " gate")
    if protected:
        out.append("    class " + ",".join(protected) + " protected")
    out.append("```")
    return out


def _mermaid_label(text: str) -> str:
    return "".join(c for c in str(text) if c.isalnum() or c in " -_.@/")
