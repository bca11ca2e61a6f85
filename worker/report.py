"""`ops report`: what happened in a period, from the analysts' views (ops.report_*, ops.dispatch_queue,
ops.top_errors), as a terminal summary, JSON, or one self-contained HTML page (worker/report_html.py).

The figures come from SQL (worker/queries/report.sql); this module only runs the queries, shapes the rows
and prints them. A period is ``--since``: a duration back from now (``30m``, ``24h``, ``7d``, ``2w``) or an
RFC 3339 date or time (``2026-11-23``, ``2026-11-23T08:00:00+00:00``). Day-grained figures (events per day,
top errors) start at the UTC day ``since`` falls on.
"""

from __future__ import annotations

from datetime import date, datetime

from psycopg.rows import dict_row

from worker import timeflags
from worker.output import fmt, table
from worker.queries import execute
from worker.render import terminal

TOP = 10  # top errors listed
FINDINGS = 50  # open findings listed

# Sections of the report, in the order the page and the JSON show them.
SECTIONS = ("events_per_day", "top_errors", "changes_per_day", "resolution_times", "escalation_outcomes",
            "agent_run_outcomes", "unit_check_pass_rates", "open_findings")


class Since:
    """``--since``: a duration (``7d``) or an RFC 3339 date/time. ``interval`` is PostgreSQL interval text,
    ``at`` an aware datetime; exactly one is set."""

    def __init__(self, text: str, interval: str | None = None, at: datetime | None = None) -> None:
        self.text, self.interval, self.at = text, interval, at

    def __repr__(self) -> str:
        return f"Since({self.text!r})"


def parse_since(text: str) -> Since:
    """An argparse type for ``--since`` (worker/timeflags.py): a duration counts back from the server's clock, a
    date or time (UTC without an offset) is absolute. Raises ArgumentTypeError naming the accepted forms."""
    if timeflags.DURATION.fullmatch(text.strip()):
        return Since(text, interval=f"{timeflags.duration_seconds(text)} seconds")
    return Since(text, at=timeflags.point_in_time(text))


def collect(conn, since: Since, *, top: int = TOP) -> dict:
    """Every figure of the report for the period ``since`` .. now, as plain data (lists of dicts):
    ``{"since", "until", "totals", <each of SECTIONS>}``. ``conn`` may be any login that reads the analysts'
    views (ops_analyst is enough)."""
    with conn.cursor(row_factory=dict_row) as cur:
        period = execute(cur, "report", "period", {"since_at": since.at, "since_interval": since.interval}).fetchone()
        p = {"since": period["since"], "limit": top}
        data = {"since": period["since"], "until": period["until"], "period": since.text,
                "totals": execute(cur, "report", "totals", p).fetchone()}
        for name in SECTIONS:
            params = {**p, "limit": FINDINGS} if name == "open_findings" else p
            data[name] = execute(cur, "report", name, params).fetchall()
    conn.rollback()
    return data


def is_empty(data: dict) -> bool:
    """Nothing happened in the period and nothing is open: the page says so instead of drawing empty charts."""
    return not any(data[name] for name in SECTIONS)


def duration(seconds: float | None) -> str:
    """Seconds as the largest unit that reads well: ``42s``, ``12m``, ``3.5h``, ``2.1d``."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _states(rows: list[dict], key: str, count: str) -> str:
    """``delivered 12, pending 3`` from rows of (key, count), summed per key."""
    totals: dict[str, int] = {}
    for r in rows:
        totals[r[key]] = totals.get(r[key], 0) + r[count]
    return ", ".join(f"{k} {v}" for k, v in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


KINDS = {"guardrail": "guardrail", "unit_ci": "unit CI"}  # open findings by kind (worker/queries/report.sql)


def findings_by_kind(totals: dict) -> str:
    """``guardrail 3, unit CI 1``: the open findings per kind, the kinds that have any."""
    counts = {"guardrail": totals["open_guardrail_findings"], "unit CI": totals["open_unit_ci_findings"]}
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v)


def terminal_summary(data: dict) -> str:
    """The report as text for a terminal: headline figures, then one small table per non-empty section.
    Stored text goes through render.terminal (via output.table)."""
    t = data["totals"]
    out = [f"ops report: {fmt(data['since'])} .. {fmt(data['until'])} (since {terminal(data['period'])})"]
    if is_empty(data):
        out.append("nothing in this period: no events, escalations, FixBot runs or unit-CI runs, and no open findings")
        return "\n".join(out)
    out += [
        f"events      {t['events']} in {t['errors']} errors ({t['codes']} codes)",
        f"errors      new {t['new']}, regressed {t['regressed']}, resolved {t['resolved']}",
        f"escalations {t['escalations']}" + (f": {_states(data['escalation_outcomes'], 'state', 'escalations')}"
                                              if data["escalation_outcomes"] else ""),
        f"FixBot runs {t['agent_runs']}" + (f": {_states(data['agent_run_outcomes'], 'status', 'runs')}"
                                             if data["agent_run_outcomes"] else ""),
        f"unit CI     {t['unit_ci_runs']} runs",
        f"findings    {t['open_findings']} open" + (f": {findings_by_kind(t)}" if t["open_findings"] else ""),
    ]
    if data["top_errors"]:
        rows = [{**r, "fingerprint": r["fingerprint"][:12]} for r in data["top_errors"]]
        out += ["", "top errors", table(rows, ["code", "events", "status", "source", "fingerprint", "sample_message"], 48)]
    if data["escalation_outcomes"]:
        out += ["", "escalations per destination", table(data["escalation_outcomes"], ["destination", "state", "escalations"])]
    if data["resolution_times"]:
        rows = [{"code": r["code"], "resolved": r["resolved"], "median": duration(r["median_seconds"]),
                 "p90": duration(r["p90_seconds"]), "longest": duration(r["max_seconds"])} for r in data["resolution_times"]]
        out += ["", "time to resolution per code", table(rows, ["code", "resolved", "median", "p90", "longest"])]
    if data["unit_check_pass_rates"]:
        rows = [{**r, "pass_rate": "" if r["pass_rate"] is None else f"{r['pass_rate']:.0%}"}
                for r in data["unit_check_pass_rates"]]
        out += ["", "unit-CI pass rate per check", table(rows, ["check_alias", "pass_rate", "pass", "warn", "fail", "not_judged"])]
    if data["open_findings"]:
        rows = [{**r, "kind": KINDS.get(r["kind"], r["kind"])} for r in data["open_findings"]]
        out += ["", "open findings", table(rows, ["kind", "alias", "severity", "code", "unit_address", "message"], 48)]
    return "\n".join(out)


def json_document(data: dict) -> dict:
    """The report as JSON-ready data (dates as ISO 8601 strings; output.emit_json prints datetimes as RFC 3339)."""
    def clean(v):
        if isinstance(v, date) and not isinstance(v, datetime):
            return v.isoformat()
        return v
    return {k: ([{c: clean(x) for c, x in r.items()} for r in v] if isinstance(v, list) else v) for k, v in data.items()}
