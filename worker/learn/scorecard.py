"""`ops bench scorecard`: the benchmark scorecard per agent type and variant.

Reads the views ops.agent_scorecard and ops.agent_failure_modes_hit (analysts' views over
ops.agent_benchmark_results, which ops.score_agent_runs() fills from the synced
ssot/agents/benchmark.yaml). Per agent type and variant: n (scored runs), the resolved rate with its
Wilson 95 % score interval (Wilson 1927; computed in the view, the formula is commented there), the
mean score (0-100), the tier distribution, the top failure modes the runs hit and the outcome funnel
(dispatched, no patch, policy-refused, awaiting CI, CI failed, resolved).

JSON shape (``--json``), one object per agent type and variant::

    {"agent_type": str, "variant_id": str, "n": int,
     "resolved": {"count": int, "rate": float, "ci95": [low, high], "method": "wilson"},
     "mean_score": float, "tiers": {"A": int, "B": int, "C": int, "F": int},
     "funnel": {"dispatched": int, "no_patch": int, "policy_refused": int, "awaiting_ci": int,
                "ci_failed": int, "resolved": int},
     "top_failure_modes": [{"code": str, "runs": int, "share": float}]}   # at most --top, most frequent first
"""

from __future__ import annotations

import argparse

from psycopg.rows import dict_row

from worker import db, known
from worker.errors import EXIT_OK, translate
from worker.output import emit_json, table
from worker.queries import execute

FUNNEL = ("dispatched", "no_patch", "policy_refused", "awaiting_ci", "ci_failed", "resolved")


def scorecards(conn, agent_type: str | None = None, top: int = 3) -> list[dict]:
    """The scorecards (module docstring's JSON shape), ordered by agent type and variant."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = execute(cur, "outcomes", "scorecard", {"agent_type": agent_type}).fetchall()
        hits = execute(cur, "outcomes", "failure_modes_hit", {"agent_type": agent_type}).fetchall()
    top_modes: dict[tuple[str, str], list[dict]] = {}
    for h in hits:
        modes = top_modes.setdefault((h["agent_type"], h["variant_id"]), [])
        if len(modes) < top:
            modes.append({"code": h["code"], "runs": h["runs"], "share": round(h["share"], 4)})
    return [{
        "agent_type": r["agent_type"], "variant_id": r["variant_id"], "n": r["n"],
        "resolved": {"count": r["resolved"], "rate": round(r["resolved_rate"], 4),
                     "ci95": [round(r["resolved_ci_low"], 4), round(r["resolved_ci_high"], 4)], "method": "wilson"},
        "mean_score": float(r["mean_score"]),
        "tiers": {t: r[f"tier_{t.lower()}"] for t in "ABCF"},
        "funnel": {stage: r[f"funnel_{stage}"] for stage in FUNNEL},
        "top_failure_modes": top_modes.get((r["agent_type"], r["variant_id"]), []),
    } for r in rows]


def _line(card: dict) -> dict:
    res = card["resolved"]
    low, high = res["ci95"]
    return {
        "agent_type": card["agent_type"], "variant": card["variant_id"], "n": card["n"],
        "resolved": f"{res['count']} ({res['rate']:.0%}, 95% CI {low:.0%}-{high:.0%})",
        "mean_score": f"{card['mean_score']:.1f}",
        "tiers A/B/C/F": "/".join(str(card["tiers"][t]) for t in "ABCF"),
        "funnel": " > ".join(f"{card['funnel'][s]}" for s in FUNNEL),
        "top failure modes": ", ".join(f"{m['code']} ({m['runs']})" for m in card["top_failure_modes"]) or "-",
    }


def cmd_scorecard(args: argparse.Namespace) -> int:
    with db.connect(autocommit=True) as conn, translate("bench scorecard"):
        cards = scorecards(conn, args.agent_type, args.top)
        if not cards:  # a typo in --agent-type is refused, not "no scored runs yet"
            known.check_agent_type(conn, args.agent_type)
    if args.json:
        emit_json(cards)
        return EXIT_OK
    if not cards:
        print("no scored runs yet (outcomes arrive through the github-webhook function or `ops fixbot report`)")
        return EXIT_OK
    lines = [_line(c) for c in cards]
    print(table(lines, list(lines[0]), 80))
    print("funnel: dispatched > no patch > policy-refused > awaiting CI > CI failed > resolved (runs per stage)")
    return EXIT_OK


def add_parser(sub, number) -> None:
    """`bench scorecard` under the `bench` group (worker/cli.py creates the group and passes its
    ``Number`` argument type)."""
    p = sub.add_parser("scorecard", help="benchmark scorecard per agent type and variant: resolved rate with a "
                       "Wilson 95%% interval, mean score, tiers, top failure modes, outcome funnel")
    p.add_argument("--agent-type", help="only this agent type (e.g. fixbot)")
    p.add_argument("--top", type=number(int, 1, 50), default=3, help="failure modes listed per variant (default 3)")
    p.add_argument("--json", action="store_true", help="print the scorecards as a JSON array (shape: module docstring)")
    p.set_defaults(func=cmd_scorecard)
