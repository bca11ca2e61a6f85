"""`ops gate check`: a merge gate over the open blocking findings (ops.gate_findings).

Exit 0 when nothing blocks the target, 1 while a finding is open: a guardrail finding (an escalated error
of a ``remediate.kind: guardrail`` code, closed when the error is resolved) or a blocking or critical
unit-CI finding. It prints what blocks, since when, and the runbook to follow. Under GitHub Actions
(``GITHUB_ACTIONS=true``) it also writes one ``::error`` workflow command per finding and appends a
Markdown table to ``$GITHUB_STEP_SUMMARY``. docs/gate.md has the workflow that makes it a required check.
"""

from __future__ import annotations

import os
from pathlib import Path

from worker.output import fmt
from worker.queries import execute
from worker.render import github_inline_code, github_markdown_text, terminal

ANNOTATION_CAP = 10  # GitHub shows at most 10 error annotations per step; the summary lists the rest


def findings(conn, target: str | None) -> list[dict]:
    """Open findings from ops.gate_findings, oldest first; only ``target``'s when given."""
    return execute(conn, "gate", "findings", {"target": target}).fetchall()


def workflow_escape(value: str, *, prop: bool = False) -> str:
    """``value`` escaped for a GitHub Actions workflow command (``::error title=…::message``): ``%``, CR and
    LF always (so text can never start a command line of its own), and ``:`` and ``,`` in a property value.
    These are the runner's own escapes (actions/toolkit, ``toCommandValue``/``escapeProperty``)."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def _line(f: dict) -> str:
    return (f"{f['code']} ({f['severity']}) blocks {f['target']} since {fmt(f['since'])}: {f['message']}"
            f" — runbook: {f['runbook'] or 'none'}")


def text(rows: list[dict], target: str | None) -> str:
    where = f" for {target}" if target else ""
    if not rows:
        return f"gate: clear — no open blocking finding{where}"
    lines = [f"gate: blocked — {len(rows)} open blocking finding(s){where}"]
    lines += ["  " + terminal(_line(f)) for f in rows]
    lines.append("resolve the error (`ops resolve` / ops.set_error_status(fingerprint, 'resolved')) or fix what "
                 "unit CI reports; the finding closes with it")
    return "\n".join(lines)


def annotations(rows: list[dict]) -> list[str]:
    """One ``::error`` workflow command per finding (the first ANNOTATION_CAP)."""
    out = []
    for f in rows[:ANNOTATION_CAP]:
        title = workflow_escape(f"{f['code']} blocks {f['target']}", prop=True)
        body = workflow_escape(f"{f['message']} (open since {fmt(f['since'])}; runbook: {f['runbook'] or 'none'})")
        props = f"title={title}"
        if f.get("file"):
            props = f"file={workflow_escape(f['file'], prop=True)},line={f.get('line') or 1}," + props
        out.append(f"::error {props}::{body}")
    return out


def step_summary(rows: list[dict], target: str | None) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the verdict and one table row per finding (producer text escaped)."""
    where = f" for {github_inline_code(target, limit=200)}" if target else ""
    if not rows:
        return f"### ops gate: clear{where}\n\nNo open blocking finding.\n"
    lines = [f"### ops gate: blocked{where}", "", "| code | target | since | runbook | what |", "|---|---|---|---|---|"]
    for f in rows:
        cells = [github_inline_code(f["code"]), github_inline_code(f["target"], limit=200), fmt(f["since"]),
                 github_inline_code(f["runbook"]) if f["runbook"] else "", github_markdown_text(f["message"], limit=300)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") if c.startswith("`") else c for c in cells) + " |")
    return "\n".join(lines) + "\n"


def report_to_github(rows: list[dict], target: str | None, environ=os.environ) -> list[str]:
    """Under GitHub Actions: the annotation lines to print, and the summary appended to the step summary
    file. Returns [] (and writes nothing) elsewhere."""
    if environ.get("GITHUB_ACTIONS") != "true":
        return []
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with Path(summary).open("a", encoding="utf-8") as f:
            f.write(step_summary(rows, target))
    return annotations(rows)
