"""`ops report --html FILE`: the report as one self-contained HTML page that opens offline.

Charts are drawn by Plotly (the `plotly` package builds the figures and ships plotly.js, which is embedded
in the page: no CDN, no network). Every stored text (codes, messages, sources, fingerprints) reaches the page
either as HTML text escaped by render.html_text or inside a figure's JSON in a ``<script
type="application/json">`` block escaped by render.script_json, so no producer text can close a script or
add markup; Plotly labels, which understand a little HTML, get render.html_text too. The only executable
script besides plotly.js is the constant loader at the end of the page.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from worker.output import fmt
from worker.render import html_text, script_json
from worker.report import KINDS, SECTIONS, duration, is_empty

CODES_SHOWN = 12  # events per day: the codes with most events get their own colour, the rest are "other"
LAYOUT = dict(template="plotly_white", height=360, margin=dict(l=60, r=20, t=30, b=60),
              legend=dict(orientation="h", y=-0.2), font=dict(size=12))
STATE_COLOURS = {"delivered": "#2ca02c", "pending": "#1f77b4", "claimed": "#9467bd", "dead": "#d62728",
                 "new": "#1f77b4", "regressed": "#d62728", "resolved": "#2ca02c",
                 "succeeded": "#2ca02c", "rejected": "#d62728", "failed": "#ff7f0e", "queued": "#7f7f7f",
                 "running": "#9467bd", "cancelled": "#bcbd22"}

LOADER = """
document.querySelectorAll('script[type="application/json"][data-chart]').forEach(function (block) {
  var figure = JSON.parse(block.textContent);
  Plotly.newPlot(block.getAttribute('data-chart'), figure.data, figure.layout, {displaylogo: false, responsive: true});
});
"""

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; }
.period { color: #666; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1.2rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem .9rem; min-width: 8rem; }
.card b { display: block; font-size: 1.4rem; }
.card span { color: #666; font-size: .85rem; }
.none, .empty { color: #666; font-style: italic; }
.empty { font-size: 1.1rem; border: 1px dashed #bbb; padding: 1.5rem; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; margin-top: .6rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #eee; vertical-align: top; }
td.msg { font-family: ui-monospace, monospace; word-break: break-all; }
"""


def _figure(traces: list, **layout) -> go.Figure:
    return go.Figure(traces, layout={**LAYOUT, **layout})


def _counts(title: str, values) -> dict:
    """A y axis of whole numbers: no 0.5 events; one tick per unit while the largest is small."""
    top = max(values, default=0)
    return dict(title=title, rangemode="tozero", tickformat="d", **({"dtick": 1} if top <= 8 else {}))


def _label(value, limit: int = 60) -> str:
    return html_text(value, limit=limit)


def events_per_day(rows: list[dict]) -> go.Figure:
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["code"]] = totals.get(r["code"], 0) + r["events"]
    shown = sorted(totals, key=lambda c: (-totals[c], c))[:CODES_SHOWN]
    days = sorted({r["day"].isoformat() for r in rows})
    series: dict[str, dict[str, int]] = {}
    for r in rows:
        name = r["code"] if r["code"] in shown else "other"
        per_day = series.setdefault(name, {})
        per_day[r["day"].isoformat()] = per_day.get(r["day"].isoformat(), 0) + r["events"]
    order = [c for c in shown if c in series] + (["other"] if "other" in series else [])
    traces = [go.Bar(name=_label(c), x=days, y=[series[c].get(d, 0) for d in days]) for c in order]
    return _figure(traces, barmode="stack", xaxis=dict(type="category", title="UTC day"), yaxis=dict(title="events"))


def top_errors(rows: list[dict]) -> go.Figure:
    rows = list(reversed(rows))  # the largest on top of a horizontal bar chart
    labels = [_label(f"{r['code']} · {r['fingerprint'][:8]}") for r in rows]
    hover = [_label(r["sample_message"], 160) for r in rows]
    return _figure([go.Bar(x=[r["events"] for r in rows], y=labels, orientation="h", hovertext=hover,
                           marker_color="#1f77b4")],
                   xaxis=_counts("events in the period", [r["events"] for r in rows]), margin=dict(l=320, r=20, t=30, b=50),
                   height=max(260, 40 * len(rows) + 80))


def changes_per_day(rows: list[dict]) -> go.Figure:
    days = sorted({r["day"].isoformat() for r in rows})
    traces = []
    for change in ("new", "regressed", "resolved"):
        per_day = {r["day"].isoformat(): r["errors"] for r in rows if r["change"] == change}
        traces.append(go.Bar(name=change, x=days, y=[per_day.get(d, 0) for d in days],
                             marker_color=STATE_COLOURS[change]))
    return _figure(traces, barmode="group", xaxis=dict(type="category", title="UTC day"),
                   yaxis=_counts("errors", [r["errors"] for r in rows]))


def resolution_times(rows: list[dict]) -> go.Figure:
    longest = max((r["p90_seconds"] or 0) for r in rows)
    unit, scale = ("hours", 3600) if longest >= 7200 else ("minutes", 60) if longest >= 120 else ("seconds", 1)
    rows = list(reversed(rows))
    labels = [_label(r["code"]) for r in rows]
    median = go.Bar(name="median", x=[r["median_seconds"] / scale for r in rows], y=labels, orientation="h",
                    marker_color="#1f77b4", text=[duration(r["median_seconds"]) for r in rows], textposition="outside", hovertext=[f"{r['resolved']} resolved; median {duration(r['median_seconds'])}"
                                                       for r in rows])
    p90 = go.Scatter(name="90th percentile", x=[r["p90_seconds"] / scale for r in rows], y=labels, mode="markers",
                     marker=dict(symbol="line-ns-open", size=18, color="#d62728"))
    return _figure([median, p90], xaxis=dict(title=f"time to resolution ({unit})"),
                   margin=dict(l=260, r=20, t=30, b=60), height=max(260, 40 * len(rows) + 100))


def escalation_outcomes(rows: list[dict]) -> go.Figure:
    destinations = sorted({r["destination"] for r in rows})
    states = sorted({r["state"] for r in rows}, key=lambda s: ["delivered", "pending", "claimed", "dead"].index(s)
                    if s in ("delivered", "pending", "claimed", "dead") else 9)
    traces = []
    for state in states:
        counts = {r["destination"]: r["escalations"] for r in rows if r["state"] == state}
        traces.append(go.Bar(name=_label(state), x=[_label(d) for d in destinations],
                             y=[counts.get(d, 0) for d in destinations], marker_color=STATE_COLOURS.get(state)))
    per_destination = [sum(r["escalations"] for r in rows if r["destination"] == d) for d in destinations]
    return _figure(traces, barmode="stack", xaxis=dict(type="category", title="destination"),
                   yaxis=_counts("escalations", per_destination))


def agent_run_outcomes(rows: list[dict]) -> go.Figure:
    return _figure([go.Bar(x=[_label(r["status"]) for r in rows], y=[r["runs"] for r in rows],
                           marker_color=[STATE_COLOURS.get(r["status"], "#7f7f7f") for r in rows])],
                   xaxis=dict(type="category", title="outcome"), yaxis=_counts("FixBot runs", [r["runs"] for r in rows]))


def unit_check_pass_rates(rows: list[dict]) -> go.Figure:
    judged = [r for r in rows if r["pass_rate"] is not None]
    return _figure([go.Bar(x=[_label(r["check_alias"]) for r in judged], y=[100 * r["pass_rate"] for r in judged],
                           text=[f"{r['pass_rate']:.0%}" for r in judged], textposition="outside",
                           hovertext=[f"pass {r['pass']}, warn {r['warn']}, fail {r['fail']}" for r in judged],
                           marker_color="#2ca02c")],
                   xaxis=dict(type="category", title="check"), yaxis=dict(title="pass rate (%)", range=[0, 110]))


CHARTS = {"events_per_day": events_per_day, "top_errors": top_errors, "changes_per_day": changes_per_day,
          "resolution_times": resolution_times, "escalation_outcomes": escalation_outcomes,
          "agent_run_outcomes": agent_run_outcomes, "unit_check_pass_rates": unit_check_pass_rates}
TITLES = {"events_per_day": "Events per day per code", "top_errors": "Top errors",
          "changes_per_day": "New vs regressed vs resolved", "resolution_times": "Time to resolution per code",
          "escalation_outcomes": "Escalation outcomes per destination", "agent_run_outcomes": "FixBot runs by outcome",
          "unit_check_pass_rates": "Unit-CI pass rate per check", "open_findings": "Open findings"}
NONE = {"events_per_day": "No events in this period.", "top_errors": "No errors in this period.",
        "changes_per_day": "No new, regressed or resolved errors in this period.",
        "resolution_times": "No error was resolved in this period.",
        "escalation_outcomes": "No escalations in this period.", "agent_run_outcomes": "No FixBot runs in this period.",
        "unit_check_pass_rates": "No unit-CI runs in this period.", "open_findings": "No open findings."}


def _table(rows: list[dict], columns: list[tuple[str, str]], *, limits: dict[str, int] | None = None) -> str:
    limits = limits or {}
    head = "".join(f"<th>{html_text(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=msg" if key == "sample_message" or key == "message" else ""}>'
                         f"{html_text(fmt(r.get(key)), limit=limits.get(key, 80))}</td>" for key, _ in columns) + "</tr>"
        for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cards(totals: dict) -> str:
    cards = [("events", totals["events"]), ("errors", totals["errors"]), ("new", totals["new"]),
             ("regressed", totals["regressed"]), ("resolved", totals["resolved"]),
             ("escalations", totals["escalations"]), ("delivered", totals["delivered"]), ("dead", totals["dead"]),
             ("FixBot runs", totals["agent_runs"]), ("unit-CI runs", totals["unit_ci_runs"]),
             ("open guardrail findings", totals["open_guardrail_findings"]),
             ("open unit-CI findings", totals["open_unit_ci_findings"])]
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{html_text(value)}</b><span>{html_text(name)}</span></div>' for name, value in cards) + "</div>"


def page(data: dict) -> str:
    """The whole page as one string: headline figures, one section per part of the report, each a chart
    (or a table) or a sentence saying there is nothing to show."""
    title = "ops report"
    period = f"{fmt(data['since'])} – {fmt(data['until'])} (since {data['period']})"
    parts = [f"<h1>{title}</h1>", f'<p class="period">{html_text(period)}</p>']
    scripts = []
    if is_empty(data):
        parts.append('<p class="empty" id="empty">Nothing to report: no events, escalations, FixBot runs or unit-CI runs '
                     'in this period, and no open findings. Record some errors (<code>ops ingest</code>, '
                     '<code>ops demo</code>) and run the report again.</p>')
    else:
        parts.append(_cards(data["totals"]))
        for n, name in enumerate(SECTIONS):
            parts.append(f'<h2 id="{name}">{html_text(TITLES[name])}</h2>')
            rows = data[name]
            if name == "unit_check_pass_rates":
                rows = [r for r in rows if r["pass_rate"] is not None]
            if not rows:
                parts.append(f'<p class="none">{html_text(NONE[name])}</p>')
                continue
            if name in CHARTS:
                chart = f"chart-{n}"
                parts.append(f'<div class="chart" id="{chart}"></div>')
                scripts.append(f'<script type="application/json" data-chart="{chart}">'
                               f"{script_json(pio.to_json(CHARTS[name](rows), validate=True))}</script>")
            if name == "top_errors":
                parts.append(_table(rows, [("code", "code"), ("events", "events in period"), ("status", "status"),
                                           ("source", "source"), ("count", "count ever"), ("last_seen_at", "last seen"),
                                           ("fingerprint", "fingerprint"), ("sample_message", "sample")],
                                    limits={"fingerprint": 12, "sample_message": 200}))
            if name == "open_findings":
                rows = [{**r, "kind": KINDS.get(r["kind"], r["kind"])} for r in rows]
                parts.append(_table(rows, [("kind", "kind"), ("alias", "check"), ("severity", "severity"), ("code", "code"),
                                           ("unit_address", "unit"), ("file", "file"), ("message", "message"),
                                           ("first_seen_at", "since"), ("occurrences", "runs")],
                                    limits={"message": 200}))
    js = ""
    if scripts:
        plotly_js = plotly.offline.get_plotlyjs()
        if "</script" in plotly_js.lower():  # would end the element early; never so in the versions we use
            raise RuntimeError("the bundled plotly.js contains </script> and cannot be inlined")
        js = f"<script>{plotly_js}</script>\n" + "\n".join(scripts) + f"\n<script>{LOADER}</script>"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(parts) + "\n" + js + "</body></html>\n")


def write(data: dict, path: Path) -> Path:
    """Write the page to ``path`` (parent folders must exist); returns the absolute path."""
    path = path.expanduser().resolve()
    path.write_text(page(data), encoding="utf-8")
    return path
