"""`ops bench compare` and `ops bench promote`: variants compared on shared tasks, and a challenger made the
baseline only on evidence.

A variant's knobs are read from ops.variant_lineage: two variants differ in the knobs on their paths from the
common root that the two paths do not share. A comparison across more than one knob is reported as such (its
effect cannot be attributed to one change). Promotion edits ssot/agents/variants.yaml with a round-trip YAML
library (ruamel.yaml: comments, order and layout are kept), shows the diff, and syncs the database.
"""

from __future__ import annotations

import difflib
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

from worker import ROOT, ssot
from worker.errors import BadInput, OpsError
from worker.known import closest
from worker.learn import compare
from worker.queries import execute


@dataclass(frozen=True)
class Variant:
    id: str
    agent_type: str
    parent: str | None
    status: str
    knobs_from_root: tuple[str, ...]
    root: str


def variants(conn: psycopg.Connection) -> dict[str, Variant]:
    """Every synced variant by id (ops.variant_lineage)."""
    rows = execute(conn, "learn", "variant_lineage").fetchall()
    return {r["id"]: Variant(r["id"], r["agent_type"], r["parent"], r["status"], tuple(r["knobs_from_root"]),
                             r["root"]) for r in rows}


def knobs_between(a: Variant, b: Variant, known: dict[str, Variant]) -> list[str]:
    """The knobs two variants differ in: the steps on either path from their nearest common ancestor."""
    def path(v: Variant) -> list[str]:
        out, cur = [v.id], v
        while cur.parent and cur.parent in known:
            cur = known[cur.parent]
            out.append(cur.id)
        return out

    pa, pb = path(a), path(b)
    common = next((x for x in pa if x in pb), None)
    steps = pa[:pa.index(common)] + pb[:pb.index(common)] if common else pa + pb
    knobs: list[str] = []
    for vid in steps:
        v = known[vid]
        i = len(v.knobs_from_root) - len(known[v.parent].knobs_from_root) if v.parent in known else 0
        knobs += list(v.knobs_from_root[:i])
    return knobs


def _bad(message: str, field: str) -> BadInput:
    err = BadInput(message)
    err.field = field  # the CLI's JSON error object names it
    return err


def _require(known: dict[str, Variant], vid: str, flag: str) -> Variant:
    if vid not in known:
        names = ", ".join(sorted(known)) or "none synced: run `ops ssot sync`"
        close = closest(vid, sorted(known))
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise _bad(f"unknown variant {vid!r} ({hint}ssot/agents/variants.yaml has: {names})", flag)
    return known[vid]


def pairs(conn: psycopg.Connection, baseline: str, variant: str) -> list[compare.Pair]:
    rows = execute(conn, "learn", "variant_pairs", {"baseline": baseline, "variant": variant}).fetchall()
    return [compare.Pair(r["task_id"], r["baseline_resolved"], r["variant_resolved"], float(r["baseline_score"] or 0),
                         float(r["variant_score"] or 0), r["baseline_runs"], r["variant_runs"]) for r in rows]


def run_compare(conn: psycopg.Connection, baseline: str, variant_ids: list[str], metric: str = "resolved", *,
                seed: int = 0) -> list[compare.Comparison]:
    """Compare each variant with the baseline on shared tasks (Holm-corrected when several). Raises BadInput
    naming the flag for an unknown variant, a variant of another agent type, or a variant compared with itself."""
    known = variants(conn)
    base = _require(known, baseline, "--baseline")
    chosen = []
    for vid in variant_ids:
        v = _require(known, vid, "--variant")
        if v.id == base.id:
            raise _bad(f"variant {vid!r} is the baseline itself", "--variant")
        if v.agent_type != base.agent_type:
            raise _bad(f"variant {vid!r} is a {v.agent_type} variant, the baseline a {base.agent_type} one",
                           field="--variant")
        chosen.append(v)
    results = compare.compare_family(baseline, {v.id: pairs(conn, baseline, v.id) for v in chosen}, metric, seed=seed)
    for v, r in zip(chosen, results):
        knobs = knobs_between(base, v, known)
        r.details["knobs"] = knobs
        if len(knobs) > 1:
            r.notes.append(f"differs from {baseline} in {len(knobs)} knobs ({', '.join(knobs)}): the effect cannot be "
                           "attributed to one of them")
    return results


# -- promotion ---------------------------------------------------------------------------------------

class PromotionRefused(OpsError):
    """The evidence does not support promoting the variant (exit 1, like a failed check)."""


def _rt_yaml():
    from ruamel.yaml import YAML

    y = YAML()  # round-trip: comments, key order and flow style survive
    y.preserve_quotes = True
    y.width = 120
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def promoted_text(text: str, variant: str, old_baseline: str) -> str:
    """variants.yaml with ``variant`` as the baseline and the old baseline retired; everything else as it was."""
    y = _rt_yaml()
    doc = y.load(text)
    for v in doc["variants"]:
        if v["id"] == variant:
            v["status"] = "baseline"
        elif v["id"] == old_baseline:
            v["status"] = "retired"
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def promote(conn: psycopg.Connection, variant_id: str, *, rules: dict, apply: bool, root: Path = ROOT,
            seed: int = 0) -> dict:
    """Check the evidence for promoting a challenger and, with ``apply``, write variants.yaml and sync.

    ``rules``: the promotion rules of ssot/agents/benchmark.yaml as synced ({min_tier, min_runs, metric}). Returns {variant,
    baseline, comparison, checks: [{rule, ok, detail}], diff, applied}. Raises PromotionRefused listing the failed
    checks, BadInput for an unknown or non-challenger variant."""
    known = variants(conn)
    v = _require(known, variant_id, "VARIANT")
    if v.status != "challenger":
        raise _bad(f"variant {variant_id!r} is {v.status}: only a challenger can be promoted", "VARIANT")
    base = next(x for x in known.values() if x.agent_type == v.agent_type and x.status == "baseline")
    (result,) = run_compare(conn, base.id, [v.id], rules.get("metric", "resolved"), seed=seed)
    stats = execute(conn, "learn", "variant_record", {"variant": v.id}).fetchone()
    checks = [
        {"rule": "compare", "ok": result.verdict == "better", "detail": compare.describe(result)},
        {"rule": "min_runs", "ok": stats["runs"] >= rules["min_runs"],
         "detail": f"{stats['runs']} scored runs (at least {rules['min_runs']})"},
        {"rule": "min_tier", "ok": stats["tier"] is not None and _tier_rank(stats["tier"]) <= _tier_rank(rules["min_tier"]),
         "detail": (f"tier of the mean score {round(float(stats['mean_score']), 1)}: {stats['tier'] or 'none'}"
                    if stats["mean_score"] is not None else "no scored runs, so no tier")
                   + f" (at least {rules['min_tier']})"},
    ]
    path = root / ssot.VARIANTS
    before = path.read_text(encoding="utf-8")
    after = promoted_text(before, v.id, base.id)
    diff = "".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                        f"a/{ssot.VARIANTS}", f"b/{ssot.VARIANTS}"))
    report = {"variant": v.id, "baseline": base.id, "comparison": result.as_dict(), "checks": checks, "diff": diff,
              "applied": False}
    failed = [c for c in checks if not c["ok"]]
    if failed:
        # One sentence per failed rule (a detail may hold sentences of its own): "…first. min_runs: …".
        err = PromotionRefused(f"{v.id} is not promoted: "
                               + " ".join(f"{c['rule']}: {c['detail'].rstrip('.')}." for c in failed))
        err.report = report
        raise err
    if apply:
        path.write_text(after, encoding="utf-8")
        problems = ssot.check_variants(root)
        if problems:  # never leave a broken file behind
            path.write_text(before, encoding="utf-8")
            raise OpsError("promotion would make ssot/agents/variants.yaml invalid: " + "; ".join(map(str, problems)))
        with conn.transaction():
            ssot.sync_variants(conn, root)
        report["applied"] = True
    return report


def _tier_rank(tier: str) -> int:
    return "ABCF".index(tier) if tier in ("A", "B", "C", "F") else 99


# -- commands ----------------------------------------------------------------------------------------

def cmd_compare(args) -> int:
    """`ops bench compare --baseline A --variant B [--variant C ...] [--metric resolved|score] [--seed N] [--json]`."""
    from psycopg.rows import dict_row

    from worker import db
    from worker.output import emit_json

    with db.connect() as conn:
        conn.row_factory = dict_row
        results = run_compare(conn, args.baseline, args.variant, args.metric, seed=args.seed)
    if args.json:
        emit_json({"baseline": args.baseline, "metric": args.metric, "seed": args.seed, "alpha": compare.ALPHA,
                   "comparisons": [r.as_dict() for r in results]})
        return 0
    for r in results:
        print(compare.describe(r))
        for note in r.notes:
            print(f"  note: {note}")
    return 0


def cmd_promote(args) -> int:
    """`ops bench promote VARIANT [--yes] [--json]`: exit 0 promoted (or, without --yes, would be), 1 refused."""
    from psycopg.rows import dict_row

    from worker import db
    from worker.output import emit_json

    with db.connect() as conn:
        conn.row_factory = dict_row
        conn.autocommit = True
        row = execute(conn, "learn", "promotion_rules").fetchone()
        if row is None or not row["rules"]:
            raise OpsError("no synced benchmark (ssot/agents/benchmark.yaml): run `ops ssot sync`")
        rules = row["rules"]
        try:
            report = promote(conn, args.variant, rules=rules, apply=args.yes, seed=args.seed)
        except PromotionRefused as exc:
            if args.json:
                emit_json({**exc.report, "error": "failed", "reason": str(exc), "exit_code": 1})
            else:
                _print_checks(exc.report)
                print(f"ops: {exc}", file=sys.stderr)
            return 1
    if args.json:
        emit_json(report)
        return 0
    _print_checks(report)
    print(report["diff"], end="")
    print(f"promoted {report['variant']} to baseline ({report['baseline']} retired); synced" if report["applied"]
          else f"{report['variant']} may be promoted: run again with --yes to write ssot/agents/variants.yaml and sync")
    return 0


def _print_checks(report: dict) -> None:
    for c in report["checks"]:
        print(f"{'ok  ' if c['ok'] else 'FAIL'} {c['rule']}: {c['detail']}")
