"""`ops gate check`: a merge gate over the open findings (ops.gate_findings).

Exit 0 when nothing blocks the target, 1 while a blocking finding is open: a guardrail finding (an escalated
error of a ``remediate.kind: guardrail`` code, closed when the error is resolved) or a blocking or critical
unit-CI finding. A finding of a code with ``ci_behavior: non_blocking`` never blocks: it is listed after the
verdict, marked as not blocking. It prints what blocks, since when, and the runbook to follow. Under GitHub
Actions (``GITHUB_ACTIONS=true``) it also writes one ``::error`` workflow command per blocking finding (a
``::warning`` per non-blocking one) and appends Markdown tables to ``$GITHUB_STEP_SUMMARY``. docs/gate.md has
the workflow that makes it a required check.
"""

from __future__ import annotations

import os
from pathlib import Path

from worker.output import fmt
from worker.queries import execute
from worker.render import github_inline_code, github_markdown_text, terminal

ANNOTATION_CAP = 10  # GitHub shows at most 10 error annotations per step; the summary lists the rest


def findings(conn, target: str | None) -> list[dict]:
    """Open findings from ops.gate_findings, oldest first; only ``target``'s when given. Each has ``blocking``."""
    return execute(conn, "gate", "findings", {"target": target}).fetchall()


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(blocking, non-blocking) findings, each in the order given."""
    return [f for f in rows if f["blocking"]], [f for f in rows if not f["blocking"]]


def workflow_escape(value: str, *, prop: bool = False) -> str:
    """``value`` escaped for a GitHub Actions workflow command (``::error title=…::message``): ``%``, CR and
    LF always (so text can never start a command line of its own), and ``:`` and ``,`` in a property value.
    These are the runner's own escapes (actions/toolkit, ``toCommandValue``/``escapeProperty``)."""
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace(":", "%3A").replace(",", "%2C") if prop else value


def _line(f: dict) -> str:
    verb = "blocks" if f.get("blocking", True) else "open on"
    return (f"{f['code']} ({f['severity']}) {verb} {f['target']} since {fmt(f['since'])}: {f['message']}"
            f" — runbook: {f['runbook'] or 'none'}")


def text(rows: list[dict], target: str | None) -> str:
    where = f" for {target}" if target else ""
    blocking, other = split(rows)
    if not blocking:
        lines = [f"gate: clear — no open blocking finding{where}"]
    else:
        lines = [f"gate: blocked — {len(blocking)} open blocking finding(s){where}"]
        lines += ["  " + terminal(_line(f)) for f in blocking]
        lines.append("resolve the error (`ops resolve` / ops.set_error_status(fingerprint, 'resolved')) or fix what "
                     "unit CI reports; the finding closes with it")
    if other:
        lines.append(f"not blocking — {len(other)} open finding(s) of a ci_behavior: non_blocking code (listed, "
                     "they never block a merge)")
        lines += ["  " + terminal(_line(f)) for f in other]
    return "\n".join(lines)


def annotations(rows: list[dict]) -> list[str]:
    """One ``::error`` workflow command per blocking finding (the first ANNOTATION_CAP), then one ``::warning``
    per non-blocking finding (GitHub caps each kind on its own)."""
    blocking, other = split([{"blocking": True, **f} for f in rows])
    out = []
    for command, group in (("error", blocking), ("warning", other)):
        for f in group[:ANNOTATION_CAP]:
            verb = "blocks" if command == "error" else "(non-blocking) on"
            title = workflow_escape(f"{f['code']} {verb} {f['target']}", prop=True)
            body = workflow_escape(f"{f['message']} (open since {fmt(f['since'])}; runbook: {f['runbook'] or 'none'})")
            props = f"title={title}"
            if f.get("file"):
                props = f"file={workflow_escape(f['file'], prop=True)},line={f.get('line') or 1}," + props
            out.append(f"::{command} {props}::{body}")
    return out


def _table(rows: list[dict]) -> list[str]:
    lines = ["| code | target | since | runbook | what |", "|---|---|---|---|---|"]
    for f in rows:
        cells = [github_inline_code(f["code"]), github_inline_code(f["target"], limit=200), fmt(f["since"]),
                 github_inline_code(f["runbook"]) if f["runbook"] else "", github_markdown_text(f["message"], limit=300)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") if c.startswith("`") else c for c in cells) + " |")
    return lines


def step_summary(rows: list[dict], target: str | None) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the verdict and one table row per blocking finding, then the
    non-blocking ones in a table of their own (producer text escaped)."""
    where = f" for {github_inline_code(target, limit=200)}" if target else ""
    blocking, other = split(rows)
    if not blocking:
        lines = [f"### ops gate: clear{where}", "", "No open blocking finding."]
    else:
        lines = [f"### ops gate: blocked{where}", "", *_table(blocking)]
    if other:
        lines += ["", f"Not blocking ({len(other)}, `ci_behavior: non_blocking`: listed, never blocks a merge):", "",
                  *_table(other)]
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
