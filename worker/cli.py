"""The `ops` command line. Every command has --help; machine-read output has --json.

Exit codes: 0 success; 1 a check failed, drift was found, something was not found or permission was
denied; 2 usage error (a bad flag, a malformed DATABASE_URL, an unmigrated or unsynced database: the
message names the flag or says what to run); 3 the input was refused (the message names the field);
4 the database or another dependency is unavailable; 70 internal error; 130 interrupted; 141 stdout
closed early (`ops errors | head -1`: quiet, as cat or grep). `stratt` uses other codes: see its --help.

Errors go to stderr as one line, `ops: <reason>`; refused input as `refused: [line N: ]<reason>`.
With --json, stdout also carries one JSON object for any error:
  {"error": "usage"|"refused"|"failed"|"unavailable"|"internal", "code": "<SQLSTATE or name>",
   "field": "<flag or field, or null>", "reason": "<text>", "exit_code": N}
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from collections.abc import Sequence

import psycopg
from psycopg.rows import dict_row

from worker import ROOT, cluster, db, demo, errors, ingest, known, migrations, oncall, ssot
from worker.learn import ablation
from worker.errors import (
    EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, BadInput, OpsError, from_psycopg,
    require_synced, translate)
from worker.learn import classifier_cli, export_cli, scorecard
from worker.learn import fixbot_report
from worker.logsafe import mask_password
from worker.output import emit_json, fmt, table
from worker.queries import execute, q
from worker.render import terminal


EXIT_PIPE = 141  # stdout closed by the reader (128 + SIGPIPE)


# -- argument helpers --------------------------------------------------------------------------------

class Number:
    """An argparse type: an int (or float) within [low, high] (``low_open``: strictly above low).
    Anything else is a usage error naming the range; argparse adds the flag's name."""

    def __init__(self, kind: type = int, low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, unit: str = "") -> None:
        self.kind, self.low, self.high, self.low_open, self.unit = kind, low, high, low_open, unit
        self.__name__ = kind.__name__

    def describe(self) -> str:
        noun = "an integer" if self.kind is int else "a number"
        unit = f" {self.unit}" if self.unit else ""
        if self.low is not None and self.high is not None:
            return f"{noun} from {self.low} to {self.high}{unit}" if not self.low_open else \
                f"{noun} above {self.low} and at most {self.high}{unit}"
        if self.low is not None:
            return f"{noun} above {self.low}{unit}" if self.low_open else f"{noun}, at least {self.low}{unit}"
        return noun + unit

    def __call__(self, text: str):
        try:
            value = self.kind(text)
            if value != value or value in (float("inf"), float("-inf")):  # nan, inf
                raise ValueError(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, not {text!r}") from None
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        if below or (self.high is not None and value > self.high):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, not {text}")
        return value


_positive = Number(int, 1)
SECONDS = dict(low=0, low_open=True, unit="seconds")


_non_negative = Number(int, 0)


def _since(text: str):
    from worker.report import parse_since

    return parse_since(text)


_since.__name__ = "since"


# -- db ----------------------------------------------------------------------------------------------

def cmd_db(args) -> int:
    if args.action == "up":
        url = db.database_url()
        with db.connect(url) as conn:
            applied = migrations.migrate(conn)
        where = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded"
        if args.json:
            emit_json({"database": where, "applied": applied})
        else:
            print(f"database ready ({where}); {len(applied)} migration(s) applied")
    elif args.action == "down":
        if os.environ.get("DATABASE_URL"):
            raise OpsError("DATABASE_URL is set: `ops db down` only stops the embedded cluster", exit_code=EXIT_USAGE)
        embedded = cluster.Cluster.default()
        was_running = embedded.running()
        embedded.stop()
        if args.json:
            emit_json({"stopped": "embedded", "was_running": was_running})
        else:
            print("embedded cluster stopped" if was_running else "embedded cluster was not running")
    elif args.action == "migrate":
        with db.connect() as conn, translate(_command_name(args)):
            applied = migrations.migrate(conn)
        if args.json:
            emit_json({"applied": applied})
        else:
            print(f"{len(applied)} migration(s) applied" + (f": {', '.join(applied)}" if applied else ""))
    elif args.action == "status":
        with db.connect() as conn:
            rows = migrations.status(conn)
        if args.json:
            emit_json(rows)
        else:
            print(table(rows, ["version", "name", "state"]))
        return EXIT_FAILED if any(r["state"] != "applied" for r in rows) else EXIT_OK
    elif args.action == "url":
        url = db.database_url()
        shown = url if args.show_password else mask_password(url)
        if args.json:
            emit_json({"url": shown})
        else:
            print(shown)
    elif args.action == "maintain":
        return _maintain(args)
    return EXIT_OK


def _maintain(args) -> int:
    """Partitions ahead, then retention. A typo destroys nothing: --retention-days below 0 is a usage
    error, 0 needs --yes, today's and future partitions never go (SQL enforces all three again), and
    --dry-run lists what would go without changing anything."""
    days = args.retention_days
    if days is not None and days < 0:
        raise OpsError(f"--retention-days must be 0 or more (days of events to keep), not {days}", exit_code=EXIT_USAGE)
    if days == 0 and not (args.yes or args.dry_run):
        raise OpsError("--retention-days 0 drops every partition before today: add --yes to mean it "
                       "(or --dry-run to see what would go)", exit_code=EXIT_USAGE)
    if args.days_ahead < 0:
        raise OpsError(f"--days-ahead must be 0 or more, not {args.days_ahead}", exit_code=EXIT_USAGE)
    with db.connect() as conn, translate(_command_name(args)), conn.cursor(row_factory=dict_row) as cur:
        created = cache_pruned = None
        if not args.dry_run:
            created = cur.execute(q("maintenance", "ensure_partitions"), {"days_ahead": args.days_ahead}).fetchone()["created"]
            cache_pruned = cur.execute(q("maintenance", "prune_classification_cache"), {}).fetchone()["pruned"]
        parts = []
        pruned = None
        if days is not None:
            parts = cur.execute(q("maintenance", "drop_partitions"), {
                "retention_days": days, "confirm_zero": bool(args.yes or args.dry_run), "dry_run": bool(args.dry_run)}).fetchall()
            if not args.dry_run:
                pruned = cur.execute(q("maintenance", "prune_event_keys"), {}).fetchone()["pruned"]
        if args.dry_run:
            conn.rollback()
        else:
            conn.commit()
    if args.json:
        emit_json({"dry_run": bool(args.dry_run), "partitions_created": created, "event_keys_pruned": pruned,
                   "classification_cache_pruned": cache_pruned,
                   "partitions": [{"partition": p["partition_name"], "day": p["day"].isoformat(), "rows": p["row_count"],
                                   "dropped": p["dropped"]} for p in parts]})
        return EXIT_OK
    verb = "would drop" if args.dry_run else "dropped"
    for p in parts:
        print(f"{verb} {p['partition_name']} ({p['day']}, {p['row_count']} rows)")
    rows = sum(p["row_count"] for p in parts)
    if args.dry_run:
        print(f"dry run: {len(parts)} partition(s) ({rows} rows) would be dropped; nothing changed")
    else:
        print(f"partitions created: {created}, dropped: {len(parts)} ({rows} rows)"
              + (f", idempotency keys pruned: {pruned}" if pruned is not None else "")
              + f", classification cache entries pruned (older than 7 days): {cache_pruned}")
    return EXIT_OK


# -- ssot --------------------------------------------------------------------------------------------

def cmd_ssot(args) -> int:
    with db.connect() as conn, translate(_command_name(args)):
        if args.action == "check":
            problems = ssot.check(conn)
            for p in problems:
                print(terminal(p, newlines=True), file=sys.stderr)
            if args.json:
                emit_json({"ok": not problems, "problems": [str(p) for p in problems]})
            elif not problems:
                print("ssot ok")
            return EXIT_FAILED if problems else EXIT_OK
        try:
            result = ssot.sync(conn) if args.action == "sync" else ssot.diff(conn)
        except ssot.SsotInvalid as exc:
            for p in exc.problems:
                print(terminal(p, newlines=True), file=sys.stderr)
            if args.json:
                _emit_error("failed", "ssot_invalid", "; ".join(str(p) for p in exc.problems), EXIT_FAILED)
            return EXIT_FAILED
    if args.action == "sync":
        total = sum(result.values())
        if args.json:
            emit_json(result)
        else:
            print(f"ssot synced: {total} change(s)" + ("" if not total else " — " + ", ".join(
                f"{k} {v}" for k, v in result.items() if v)))
        return EXIT_OK
    if args.json:
        emit_json({"counts": result.counts, "rows": result.rows})
    elif not result.counts:
        print("no drift")
    else:
        print("drift: " + ", ".join(f"{k} {v}" for k, v in result.counts.items()))
        for row in result.rows:
            print(f"  {row}")
    return EXIT_FAILED if result.counts else EXIT_OK


# -- ingest and classify -------------------------------------------------------------------------------

def _inputs(args):
    """Events from flags or from a JSON-lines file ('-' for stdin): (line, event | Refused)."""
    if args.file:
        try:
            stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
        except OSError as exc:
            raise OpsError(f"cannot read --file: {exc.strerror}: {args.file}", exit_code=EXIT_BAD_INPUT) from None
        with stream:
            yield from ingest.parse_lines(stream, key_field=getattr(args, "key_field", None),
                                          start_after=getattr(args, "resume_from", None) or 0)
        return
    if args.message is None or args.source is None:
        raise OpsError("give --source and --message, or --file (JSON lines; '-' for stdin)", exit_code=2)
    context = None
    if args.context:
        try:
            context = json.loads(args.context)
        except json.JSONDecodeError as exc:
            raise OpsError(f"--context is not valid JSON: {exc}", exit_code=EXIT_BAD_INPUT) from None
        except RecursionError:
            raise OpsError("--context is nested too deeply to parse", exit_code=EXIT_BAD_INPUT) from None
    yield 0, ingest.event({"source": args.source, "message": args.message, "phase": args.phase,
                           "top_frame": args.top_frame, "run_id": args.run_id,
                           "correlation_id": args.correlation_id, "origin": args.origin, "context": context,
                           "event_key": getattr(args, "event_key", None)})


def _split(items):
    good, bad = [], []
    for number, item in items:
        (bad if isinstance(item, ingest.Refused) else good).append((number, item))
    return good, [item for _, item in bad]


class _Interrupted(Exception):
    """SIGTERM during `ops ingest`: stop, report how far the run got."""


def _progress_printer():
    """Progress on stderr, only when it is a terminal, at most twice a second."""
    if not sys.stderr.isatty():
        return None, lambda: None
    last = [0.0]

    def show(summary: ingest.Summary) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5:
            last[0] = now
            print(f"\ringest: line {summary.last_committed_line} committed; {len(summary.stored)} stored, "
                  f"{len(summary.duplicates)} duplicates, {len(summary.refused)} refused",
                  end="", file=sys.stderr, flush=True)

    def done() -> None:
        if last[0]:
            print(file=sys.stderr)
    return show, done


def cmd_ingest(args) -> int:
    import signal

    def on_term(signum, frame):
        raise _Interrupted()

    if not args.file and (args.message is None or args.source is None):
        raise OpsError("give --source and --message, or --file (JSON lines; '-' for stdin)", exit_code=2)
    if args.file and args.file != "-" and not os.access(args.file, os.R_OK):
        raise OpsError(f"cannot read --file: {os.strerror(2 if not os.path.exists(args.file) else 13)}: "
                       f"{args.file}", exit_code=EXIT_BAD_INPUT)
    show, done = _progress_printer()
    previous = signal.signal(signal.SIGTERM, on_term)
    summary = ingest.Summary()
    interrupted = False
    try:
        with db.connect() as conn:
            summary = ingest.ingest(conn, _inputs(args), progress=show, batch_size=args.batch_size, into=summary)
    except (_Interrupted, KeyboardInterrupt):
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        done()
    totals = summary.as_json()
    if args.json:
        emit_json({"stored": summary.stored, "duplicates": summary.duplicates,
                   "refused": [r.__dict__ for r in summary.refused], "summary": totals})
    else:
        for row in summary.stored if len(summary.stored) <= 20 else []:
            print(f"event {row['event_id']}: {row['code']} (count {row['count']}, fingerprint {row['fingerprint'][:12]})")
        by_code = ", ".join(f"{k} {v}" for k, v in totals["refused_by_code"].items())
        print(f"{totals['stored']} stored, {totals['duplicates']} duplicates, {totals['refused']} refused"
              + (f" ({by_code})" if by_code else "")
              + (f"; committed through line {totals['last_committed_line']}" if args.file else ""))
    for r in summary.refused:
        where = f"line {r.line}: " if r.line else ""
        print(f"refused: {where}{terminal(r.reason)}", file=sys.stderr)
    if interrupted:
        print(f"interrupted: committed through line {summary.last_committed_line}; resume with "
              f"--resume-from {summary.last_committed_line} (events with keys may simply be sent again)",
              file=sys.stderr)
        return 130
    return EXIT_BAD_INPUT if summary.refused else EXIT_OK


def _refused(line: int, reason: str, **fields):
    """An ingest.Refused, with field and code when this version of it carries them."""
    try:
        return ingest.Refused(line, reason, **fields)
    except TypeError:
        r = ingest.Refused(line, reason)
        r.__dict__.update(fields)
        return r


def _refusal(r) -> dict:
    """A refused line as JSON: {line, field, code, reason} (line null for flags)."""
    d = dict(r.__dict__)
    return {"line": d.pop("line", None) or None, "field": d.pop("field", None), "code": d.pop("code", None),
            "reason": d.pop("reason", ""), **d}


def _known_sources(conn) -> list[str] | None:
    """The sources ingest accepts, in the taxonomy's order, or None for a role that may not list them."""
    try:
        with conn.transaction():
            return [r[0] for r in execute(conn, "errors", "known_sources")]
    except psycopg.errors.InsufficientPrivilege:
        return None


# The classification rule, in the order ops.classify_candidates() applies it (docs/classification.md).
CLASSIFY_RULE = (
    "1 source: a code that lists the event's source beats one that does not",
    "2 cause: a match outside wrapper text (e.g. 'Process completed with exit code 1') beats one only inside it",
    "3 restricted: a pattern restricted by phase (2) and/or source (1) beats an unrestricted one",
    "4 scope: a code scoped to the source (lists at most half of all sources) beats a cross-source family",
    "5 specificity: more literal text that every match contains",
    "6 priority: the pattern's explicit priority",
    "7 order: YAML order of the code, then of the pattern",
)
SCOPE_NAMES = {2: "scoped to the source", 1: "cross-source family", 0: "does not list the source"}


def _print_explanation(r: dict) -> None:
    prefix = f"line {r['line']}: " if r.get("line") else ""
    print(f"{prefix}{r['code']}\t{r['confidence']:.2f}\t{r['matched_pattern'] or '-'}")
    if not r["candidates"]:
        print("  no pattern matched (a code that names one other source is no candidate): UNKNOWN.<SOURCE> "
              "(triage it: a new phrasing of a code, or a new code)")
        return
    print("  rule (first difference decides):")
    for step in CLASSIFY_RULE:
        print(f"    {step}")
    print(f"  {len(r['candidates'])} candidate(s):")
    for c in r["candidates"]:
        where = f"line {c['line_number']}: {c['line'].strip()[:100]!r}" if c["line_number"] else "across lines"
        restricted = {0: "no", 1: "source", 2: "phase", 3: "phase+source"}[c["restriction"]]
        print(f"  #{c['rank']} {c['code']}  {c['kind']} {c['pattern']!r}")
        print(f"      matched {where}")
        print(f"      source listed {'yes' if c['scope'] else 'no'} · cause {'yes' if c['on_cause'] else 'no (wrapper only)'} · "
              f"restricted {restricted} · scope {SCOPE_NAMES[c['scope']]} · specificity {c['specificity']} · "
              f"priority {c['priority']} · order {c['code_position']}.{c['pattern_position']}")
        print(f"      {'WINNER' if c['rank'] == 1 else 'lost on ' + c['decided_by']}")


def cmd_classify(args) -> int:
    good, refused = _split(_inputs(args))
    results = []
    with db.connect() as conn, translate(_command_name(args)), conn.cursor(row_factory=dict_row) as cur:
        sources = _known_sources(conn)
        require_synced(sources)
        for number, ev in good:
            if sources is not None and ev["source"] not in sources:  # the same refusal as ingest (OP002)
                refused.append(_refused(number, f'unknown source "{ev["source"]}" (known sources: {", ".join(sources)})',
                                        field="source", code="OP002"))
                continue
            row = cur.execute(q("errors", "classify_error"), ev).fetchone()
            # "line" locates a --file line; an event given by flags has none, so its JSON has no such key.
            result = {"line": number or None, **row} if args.file else dict(row)
            if args.explain:
                result["rule"] = list(CLASSIFY_RULE)
                result["candidates"] = cur.execute(q("errors", "classify_candidates"), ev).fetchall()
            results.append(result)
    if args.json:
        if args.file:  # the shape of `ops ingest --file --json`: results, and the refused lines
            emit_json({"results": results, "refused": [_refusal(r) for r in refused]})
        elif results:
            emit_json(results[0])
        else:  # the one event was refused: the JSON error object, with the refusal's fields
            emit_json({"error": "refused", "exit_code": EXIT_BAD_INPUT, **_refusal(refused[0])})
    else:
        for r in results:
            if args.explain:
                _print_explanation(r)
                continue
            prefix = f"line {r['line']}: " if r.get("line") else ""
            print(f"{prefix}{terminal(r['code'])}\t{r['confidence']:.2f}\t{terminal(r['matched_pattern'] or '-')}")
    for r in refused:
        print(f"refused: {f'line {r.line}: ' if r.line else ''}{terminal(r.reason)}", file=sys.stderr)
    return EXIT_BAD_INPUT if refused else EXIT_OK


def cmd_errors(args) -> int:
    if getattr(args, "action", None) == "regroup":
        return cmd_errors_regroup(args)
    with db.connect() as conn, translate(_command_name(args)), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(q("errors", "top_errors"), {"code": args.code, "limit": args.limit}).fetchall()
        if not rows:  # a typo in --code is refused, not shown as an empty table
            known.check_code(conn, args.code)
    if args.json:
        emit_json(rows)
    else:
        for r in rows:
            r["fingerprint"] = r["fingerprint"][:12]
        print(table(rows, ["code", "count", "status", "source", "last_seen_at", "fingerprint", "sample_message"], 50))
    return EXIT_OK


def cmd_errors_regroup(args) -> int:
    """`ops errors regroup [--apply]`: groups written under an older fingerprint version, moved under the
    current one (ops.regroup_errors). A dry run by default; counts and history are kept."""
    with db.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(q("errors", "regroup_errors"), {"apply": args.apply}).fetchall()
        conn.commit()
    if args.json:
        emit_json({"applied": args.apply, "moves": rows})
        return EXIT_OK
    if not rows:
        print("nothing to regroup: every group has the current fingerprint version")
        return EXIT_OK
    for r in rows:
        r["old_fingerprint"], r["new_fingerprint"] = r["old_fingerprint"][:12], r["new_fingerprint"][:12]
    print(table(rows, ["old_fingerprint", "new_fingerprint", "code", "events", "count_moved"], 40))
    old, new = len({r["old_fingerprint"] for r in rows}), len({r["new_fingerprint"] for r in rows})
    verb = "moved" if args.apply else "would move"
    print(f"{verb} {old} group(s) into {new} group(s), {sum(r['count_moved'] for r in rows)} occurrence(s)"
          + ("" if args.apply else "; run again with --apply to do it"))
    return EXIT_OK


# -- triage and gate (worker/triage.py, worker/gate.py) -------------------------------------------------

def cmd_triage(args) -> int:
    from worker import triage

    if args.action == "list":
        with db.connect() as conn, translate(_command_name(args)), conn.cursor(row_factory=dict_row) as cur:
            rows = triage.queue(cur, source=args.source, limit=args.limit, suggestions=args.suggestions)
            if not rows:
                known.check_source(conn, args.source)
        if args.json:
            emit_json(rows)
            return EXIT_OK
        if not rows:
            print("the triage queue is empty" + (f" for source {args.source}" if args.source else ""))
            return EXIT_OK
        for r in rows:
            hints = [f"{s['code']} {s['similarity']:.2f}" for s in r["suggested"]]
            hints += [f"{s['code']} p={s['probability']:.2f} (v2)" for s in r["classifier"]]
            print(f"{r['fingerprint'][:12]}  {r['code']}  count {r['count']}  last {fmt(r['last_seen_at'])}")
            print(f"    sample: {terminal(r['sample_message'], limit=160)}")
            print(f"    suggested: {terminal(', '.join(hints)) if hints else 'none (no similar classified error)'}")
        print(f"{len(rows)} group(s); promote one with `ops triage promote FINGERPRINT CODE [--pattern TEXT]`")
        return EXIT_OK

    with db.connect() as conn, translate(_command_name(args)), conn.cursor(row_factory=dict_row) as cur:
        fingerprint = triage.resolve_fingerprint(cur, args.fingerprint)
        known.check_promotion_code(conn, args.code)  # a bad code is named before --yes is asked for
        if not args.yes:
            if not sys.stdin.isatty():
                raise OpsError("promotion is never automatic: pass --yes to confirm when stdin is not a terminal",
                               exit_code=EXIT_USAGE)
            plan = f"promote {fingerprint[:12]} to {args.code}" + (
                f" and add the {'regex' if args.regex else 'substring'} pattern {args.pattern!r} to {ssot.TAXONOMY}"
                if args.pattern is not None else "")
            if input(f"{plan}? [y/N] ").strip().lower() not in ("y", "yes"):
                print("nothing changed")
                return EXIT_FAILED
        with db.connect() as check_conn:
            done = triage.promote(cur, check_conn, fingerprint, args.code, pattern=args.pattern,
                                  kind="regex" if args.regex else "substring", force=args.force,
                                  root=args.root.resolve() if args.root else ROOT)
        conn.commit()
    result = dict(done.result, pattern=args.pattern, diff=done.diff or None,
                  also_classifies=len(done.conflicts.classifies))
    if args.json:
        emit_json(result)
        return EXIT_OK
    print(f"promoted {result['old_fingerprint'][:12]} ({result['old_code']}) to {result['new_code']}: "
          f"group {result['new_fingerprint'][:12]}, count {result['count']}, {result['events_moved']} stored event(s) moved")
    if done.diff:
        print(done.diff, end="")
        print(f"the pattern also classifies {result['also_classifies']} other stored or corpus message(s); "
              "`ops ssot sync` puts it to work")
    return EXIT_OK


def cmd_gate(args) -> int:
    from worker import gate

    with db.connect() as conn, translate(_command_name(args)), conn.cursor(row_factory=dict_row) as cur:
        rows = gate.findings(cur, args.target)
    for line in gate.report_to_github(rows, args.target):
        print(line)
    blocking, non_blocking = gate.split(rows)
    if args.json:
        emit_json({"blocked": bool(blocking), "target": args.target, "findings": blocking,
                   "non_blocking": non_blocking})
    else:
        print(gate.text(rows, args.target))
    return EXIT_FAILED if blocking else EXIT_OK


# -- demo: the main job of `make run` ------------------------------------------------------------------

def cmd_demo(args) -> int:
    from pathlib import Path

    summary = demo.run(seed=args.seed, total=args.events, seconds=args.seconds, delay=args.delay, quiet=args.quiet,
                       report_path=Path(args.report) if args.report else None, as_json=args.json)
    if args.json:
        emit_json(summary)
    return EXIT_OK


# -- report ------------------------------------------------------------------------------------------

def cmd_report(args) -> int:
    """`ops report`: the period's figures from the analysts' views (worker/report.py); --html writes the page."""
    from pathlib import Path

    from worker import report

    with db.connect() as conn, translate(_command_name(args)):
        data = report.collect(conn, args.since, top=args.top)
    if args.html:
        from worker import report_html

        try:
            path = report_html.write(data, Path(args.html))
        except OSError as exc:
            raise OpsError(f"cannot write --html {args.html}: {exc.strerror or exc}", exit_code=EXIT_BAD_INPUT) from None
        if args.json:
            emit_json({"html": str(path), "empty": report.is_empty(data)})
        else:
            print(f"report written: {path}")
        return EXIT_OK
    if args.json:
        emit_json(report.json_document(data))
    else:
        print(report.terminal_summary(data))
    return EXIT_OK


# -- worker, dispatch, fixbot --------------------------------------------------------------------------

def cmd_worker(args) -> int:
    from worker.dispatch.worker import Settings, Worker

    settings = Settings(concurrency=args.concurrency, batch=args.batch, lease=args.lease, poll=args.poll,
                        backoff_base=args.backoff_base, backoff_cap=args.backoff_cap,
                        shutdown_timeout=args.shutdown_timeout, metrics_port=args.metrics_port,
                        metrics_host=args.metrics_host, once=args.once)
    if args.listen_url:
        db.check_url(args.listen_url, "--listen-url")
    url = db.database_url()
    return Worker(url, settings, name=args.name, listen_url=args.listen_url).run()


def cmd_dispatch(args) -> int:
    with db.connect() as conn, translate(_command_name(args)), conn.cursor(row_factory=dict_row) as cur:
        if args.action == "list":
            rows = cur.execute(q("dispatch", "queue"), {"state": args.state, "limit": args.limit}).fetchall()
            if args.json:
                emit_json(rows)
            else:
                print(table(rows, ["id", "code", "destination", "state", "attempts", "next_attempt_at", "last_error"], 60))
            return EXIT_OK
        if args.id is None:
            raise OpsError("requeue needs an escalation id (see `ops dispatch list --state dead`)", exit_code=EXIT_USAGE)
        if args.id < 1:
            raise OpsError(f"the escalation id must be a positive integer, not {args.id}", exit_code=EXIT_USAGE)
        if args.dry_run:
            row = cur.execute(q("dispatch", "escalation"), {"id": args.id}).fetchone()
            if row is None:
                raise OpsError(f"no escalation {args.id} (see `ops dispatch list`)")
            if row["state"] != "dead":
                raise OpsError(f"escalation {args.id} is {row['state']}, not dead: only dead escalations can be requeued")
            print(f"would requeue escalation {row['id']} ({row['code']} to {row['destination']}, "
                  f"{row['attempts']} attempts so far); nothing changed")
            return EXIT_OK
        row = cur.execute(q("dispatch", "requeue"), {"id": args.id}).fetchone()
        conn.commit()
    print(f"escalation {row['id']} ({row['code']} to {row['destination']}) requeued "
          f"({row['attempts']} attempts so far, up to {row['max_attempts']})")
    return EXIT_OK


def cmd_fixbot(args) -> int:
    from worker import fixbot
    from worker.dispatch.destinations.fixbot import record_verdict

    try:
        # Bytes, as git reads them: a path that is not UTF-8 must not be changed before it is checked.
        if args.diff == "-":
            diff_text = sys.stdin.buffer.read()
        else:
            with open(args.diff, "rb") as f:
                diff_text = f.read()
    except OSError as exc:
        raise OpsError(f"cannot read --diff: {exc}", exit_code=EXIT_BAD_INPUT) from None
    if not args.head:
        raise OpsError("--head is needed: the branch the change is on (it may never be the default branch)",
                       exit_code=EXIT_USAGE)
    policy = fixbot.Policy.load()
    verdict = fixbot.verify(diff_text, policy, head=args.head, base=args.base)
    if args.run is not None:
        with db.connect(autocommit=True) as conn, translate(_command_name(args)), conn.cursor(row_factory=dict_row) as cur:
            run = cur.execute(q("dispatch", "agent_run"), {"id": args.run}).fetchone()
            if run is None:
                raise OpsError(f"no agent run {args.run}")
            if run["branch"] and run["branch"] != args.head:
                verdict["flags"].append(f"head {args.head} is not the branch the run was dispatched with ({run['branch']})")
            record_verdict(_Ctx(cur), run, verdict, {"branch": args.head, "pr_url": args.pr_url, "diff": diff_text})
    if args.json:
        emit_json(verdict)
    else:
        print("approved" if verdict["approved"] else "rejected")
        for r in verdict["reasons"]:
            print(f"  {r['code']}: {terminal(r['message'])}")
        for f in verdict["flags"]:
            print(f"  flag: {terminal(f)}")
    return EXIT_OK if verdict["approved"] else EXIT_FAILED


class _Ctx:
    """The destinations' query interface over one cursor (for commands that reuse their code)."""

    def __init__(self, cur) -> None:
        self.cur = cur

    def query_one(self, name: str, params: dict):
        return execute(self.cur, "dispatch", name, params).fetchone()


# -- parser ------------------------------------------------------------------------------------------

def _event_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", help="producer (one of the SSOT sources, e.g. github_actions)")
    p.add_argument("--message", help="the raw error text")
    p.add_argument("--phase", help="phase of the producer, e.g. test, migrate, project-automation")
    p.add_argument("--top-frame", help="top stack frame, if any")
    p.add_argument("--run-id")
    p.add_argument("--correlation-id")
    p.add_argument("--origin", help="where it came from (host, workflow, function)")
    p.add_argument("--context", help="JSON object with more detail")
    p.add_argument("--file", help="JSON lines, one event per line ('-' for stdin)")
    p.add_argument("--json", action="store_true", help="print JSON")


class _Parser(argparse.ArgumentParser):
    """argparse with the contract: a usage error is exit 2 naming the flag, and with --json anywhere on the
    command line it is also printed as the JSON error object on stdout."""

    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        if "--json" in sys.argv[1:] or "--json" in (_ARGV or []):
            field = re.match(r"argument ([^:]+):", message)
            _emit_error("usage", "usage", message, EXIT_USAGE, field.group(1).split("/")[0] if field else None)
        sys.exit(EXIT_USAGE)


_ARGV: list[str] | None = None
DISTRIBUTION = "ops-reliability"  # pyproject.toml's [project] name


def _version() -> str:
    """The installed distribution's version (importlib.metadata), or "unknown" when run from a tree not installed."""
    from importlib import metadata

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"ops {_version()}",
                     help="print the installed version (package metadata) and exit")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("db", help="manage the database (embedded unless DATABASE_URL is set)")
    p.add_argument("action", choices=["up", "down", "migrate", "status", "url", "maintain"],
                   help="up: start (embedded) and migrate; down: stop the embedded cluster; migrate; status; "
                        "url: print the URI in use; maintain: create partitions ahead, apply retention")
    p.add_argument("--days-ahead", type=Number(int, 0, 3650), default=7, help="maintain: partitions to create ahead")
    p.add_argument("--retention-days", type=Number(int),
                   help="maintain: keep this many days of events (0 or more; 0 keeps only today and needs --yes); "
                        "older daily partitions are dropped")
    p.add_argument("--dry-run", action="store_true", help="maintain: list what would be dropped, change nothing")
    p.add_argument("--yes", action="store_true", help="maintain: confirm --retention-days 0")
    p.add_argument("--show-password", action="store_true",
                   help="url: print the password too (masked as *** by default)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("ssot", help="check, sync or diff the SSOT (ssot/) against the database")
    p.add_argument("action", choices=["check", "sync", "diff"],
                   help="check: file:line problems (exit 1); sync: write to the database; diff: exit 1 on drift")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ssot)

    p = sub.add_parser("ingest", help="record errors through the pipeline")
    _event_flags(p)
    p.add_argument("--event-key", help="idempotency key of the event given by flags (1..200 characters)")
    p.add_argument("--key-field", metavar="NAME",
                   help="--file: the member holding each line's idempotency key (default: event_key, event_id "
                        "or idempotency_key when present); a line without it is refused")
    p.add_argument("--resume-from", type=_non_negative, metavar="N",
                   help="--file: skip lines 1..N (the line an interrupted run reported as committed)")
    p.add_argument("--batch-size", type=_positive, default=ingest.BATCH, metavar="N",
                   help="--file: events per statement and transaction (default %(default)s)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("classify", help="classify without storing (code, confidence, matched pattern)")
    _event_flags(p)
    p.add_argument("--explain", action="store_true",
                   help="also list every candidate pattern that matched and the rule step that chose the winner")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("errors", help="top grouped errors; `show` one error, `list` with filters; `regroup` moves "
                       "groups of an older fingerprint version")
    p.add_argument("--code", help="only this code")
    p.add_argument("--limit", type=_positive, default=20, help="at most this many groups, most frequent first (default 20)")
    p.add_argument("--json", action="store_true", help="print the groups as a JSON array")
    p.set_defaults(func=cmd_errors)
    errors_sub = p.add_subparsers(dest="action", metavar="{show,list,regroup}", parser_class=_Parser)
    r = errors_sub.add_parser("regroup", help="move groups of older fingerprint versions under the current one "
                              "(dry run unless --apply); counts, history and escalations are kept")
    r.add_argument("--apply", action="store_true", help="do it (default: show what would move)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_errors)
    oncall.add_parsers(sub, errors_sub, Number)  # errors show / list; resolve, ignore, reopen

    p = sub.add_parser("triage", help="the UNKNOWN queue with suggested codes; promote an error to a code")
    triage_sub = p.add_subparsers(dest="action", required=True, metavar="{list,promote}", parser_class=_Parser)
    t = triage_sub.add_parser("list", help="UNKNOWN errors by count, with samples and suggested codes (nearest "
                              "classified errors by trigram similarity; the v2 classifier's, once a model exists)")
    t.add_argument("--source", help="only this source")
    t.add_argument("--limit", type=Number(int, 1, 1000), default=20, help="at most this many groups (default 20)")
    t.add_argument("--suggestions", type=Number(int, 0, 20), default=3, help="suggested codes per group (default 3)")
    t.add_argument("--json", action="store_true", help="print the queue as a JSON array")
    t.set_defaults(func=cmd_triage)
    t = triage_sub.add_parser("promote", help="re-code an error keeping its history (late events follow it); with "
                              "--pattern also add the pattern to ssot/errors/failure_modes.yaml",
                              description="Exit 0 promoted; 1 refused (the pattern steals another code's messages, "
                              "the error is classified and --force is missing, ssot check failed, not found); 2 "
                              "usage (no --yes without a terminal); 3 refused input (unknown or UNKNOWN.* code).")
    t.add_argument("fingerprint", metavar="FINGERPRINT", help="the error (64 hex characters, or a unique prefix of "
                   "at least 6 among the triage queue)")
    t.add_argument("code", metavar="CODE", help="the taxonomy code to give it (never UNKNOWN.*)")
    t.add_argument("--pattern", metavar="TEXT", help="add this pattern to CODE in the SSOT (refused when it would "
                   "steal messages another code classifies today); `ops ssot sync` applies it")
    t.add_argument("--regex", action="store_true", help="--pattern is a regex (the syntax PostgreSQL and Python "
                   "share), not a substring")
    t.add_argument("--force", action="store_true", help="re-code an error a pattern classified (not UNKNOWN)")
    t.add_argument("--yes", action="store_true", help="do it without asking (needed when stdin is not a terminal)")
    t.add_argument("--root", type=Path, help="the checkout whose ssot/ is edited (default: this one)")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_triage)

    p = sub.add_parser("gate", help="merge gate: exit 1 while blocking findings are open (guardrails, unit CI)")
    gate_sub = p.add_subparsers(dest="action", required=True, metavar="{check}", parser_class=_Parser)
    g = gate_sub.add_parser("check", help="print what blocks, since when and the runbook; exit 0 clear, 1 blocked",
                            description="Exit 0 when no blocking finding is open for the target, 1 while one is "
                            "(4: database unavailable). A finding of a code with ci_behavior: non_blocking is listed "
                            "as not blocking and never fails the gate. Under GitHub Actions (GITHUB_ACTIONS=true) also "
                            "writes ::error (blocking) and ::warning (non-blocking) annotations and appends to "
                            "$GITHUB_STEP_SUMMARY. See docs/gate.md.")
    g.add_argument("--target", help="only findings for this target (e.g. acme/api@main: context.target, "
                   "repository@branch, origin or source:<source> of the error; unit CI: the run's scope)")
    g.add_argument("--json", action="store_true", help="print {blocked, target, findings (the blocking ones), "
                   "non_blocking}")
    g.set_defaults(func=cmd_gate)

    p = sub.add_parser("demo", help="the whole loop in about a minute: a feed of realistic errors, a worker delivering "
                       "the escalations to a local receiver, FixBot held to its policy, one error resolved, the HTML report")
    p.add_argument("--events", type=Number(int, 1), default=300, help="events in the feed (default 300)")
    p.add_argument("--seconds", type=Number(float, **SECONDS), default=45, help="at most this long for the feed")
    p.add_argument("--delay", type=Number(float, 0, unit="seconds"), default=0.02, help="seconds between events")
    p.add_argument("--seed", type=Number(int), default=7)
    p.add_argument("--report", metavar="FILE", help="where to write the HTML report (default $OPS_HOME/demo/report.html)")
    p.add_argument("--quiet", action="store_true", help="no progress bar; the summaries only")
    p.add_argument("--json", action="store_true", help="print only the summary, as JSON")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("report", help="what happened in a period: a terminal summary, --json, or one offline HTML page")
    p.add_argument("--since", type=_since, default=_since("7d"), metavar="WHEN",
                   help="start of the period: a duration back from now (30m, 24h, 7d, 2w) or an RFC 3339 date or "
                        "time (2026-11-23); default 7d. Per-day figures start at that UTC day")
    p.add_argument("--top", type=Number(int, 1, 100), default=10, help="top errors listed (default 10)")
    p.add_argument("--html", metavar="FILE", help="write one self-contained HTML page with the charts (opens offline)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON (with --html: the page's path)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("worker", help="run the dispatch worker (LISTEN/NOTIFY + polling; SIGTERM stops it gracefully)")
    p.add_argument("--name", help="worker name in claims and logs (default host:pid)")
    p.add_argument("--concurrency", type=Number(int, 1, 256), default=4, help="deliveries in parallel")
    p.add_argument("--batch", type=Number(int, 1, 1000), default=10, help="escalations claimed per round trip")
    p.add_argument("--lease", type=Number(float, **SECONDS), default=30.0,
                   help="seconds a claim lasts without a heartbeat (above 0: a lease of 0 would let another worker deliver it again)")
    p.add_argument("--poll", type=Number(float, **SECONDS), default=5.0, help="seconds between polls when no notification comes")
    p.add_argument("--backoff-base", type=Number(float, **SECONDS), default=1.0, help="first retry delay ceiling, seconds")
    p.add_argument("--backoff-cap", type=Number(float, **SECONDS), default=300.0, help="largest retry delay, seconds")
    p.add_argument("--shutdown-timeout", type=Number(float, 0, unit="seconds"), default=20.0, help="seconds in-flight work may finish after SIGTERM; the rest is given back and the worker exits")
    p.add_argument("--metrics-port", type=Number(int, 1, 65535), help="serve Prometheus metrics on --metrics-host:PORT")
    p.add_argument("--metrics-host", default="127.0.0.1",
                   help="address to serve metrics on (default 127.0.0.1; 0.0.0.0 for a scraper on another host)")
    p.add_argument("--listen-url", default=os.environ.get("OPS_LISTEN_DATABASE_URL"),
                   help="a direct (not pooled) connection URI for LISTEN, when DATABASE_URL goes through a "
                        "transaction-mode pooler (default $OPS_LISTEN_DATABASE_URL, else DATABASE_URL)")
    p.add_argument("--once", action="store_true", help="drain what is due and exit")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("dispatch", help="the escalation queue: list it, requeue a dead escalation")
    p.add_argument("action", choices=["list", "requeue"])
    p.add_argument("id", nargs="?", type=Number(int, 1), help="requeue: the escalation id")
    p.add_argument("--dry-run", action="store_true", help="requeue: show what would be requeued, change nothing")
    p.add_argument("--state", choices=["pending", "claimed", "delivered", "dead"])
    p.add_argument("--limit", type=_positive, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_dispatch)

    p = sub.add_parser("fixbot", help="FixBot governance")
    fsub = p.add_subparsers(dest="fixbot_command", required=True, parser_class=_Parser)
    v = fsub.add_parser("verify", help="check a patch against ssot/agents/fixbot_policy.yaml (exit 0 approved, 1 rejected)")
    v.add_argument("--run", type=Number(int, 1), help="record the verdict on this ops.agent_runs row")
    v.add_argument("--diff", required=True, help="unified diff file ('-' for stdin)")
    v.add_argument("--head", help="the branch the change is on; never the default branch (required)")
    v.add_argument("--base", help="the branch the pull request targets (default: the policy's default_branch)")
    v.add_argument("--pr-url", help="the pull request, when already opened")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=cmd_fixbot)
    fixbot_report.add_parser(fsub, Number)

    p = sub.add_parser("bench", help="the agent benchmark (ssot/agents/benchmark.yaml): scorecards, comparisons, promotion")
    bsub = p.add_subparsers(dest="bench_command", required=True, parser_class=_Parser)
    scorecard.add_parser(bsub, Number)
    b = bsub.add_parser("compare", help="paired comparison of variants on shared tasks: better, worse or inconclusive",
                        description=ablation.__doc__.split("\n\n")[0] + " Statistics: worker/learn/compare.py.")
    b.add_argument("--baseline", required=True, help="the variant compared against (usually the promoted baseline)")
    b.add_argument("--variant", required=True, action="append",
                   help="a variant to compare; repeat for several (Holm-corrected together)")
    b.add_argument("--metric", choices=("resolved", "score"), default="resolved",
                   help="resolved: exact McNemar on pass/fail per task (default); score: Wilcoxon on 0-100 scores")
    b.add_argument("--seed", type=Number(int, 0), default=0, help="seed of the bootstrap interval (default 0)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=ablation.cmd_compare)
    b = bsub.add_parser("promote", help="make a challenger the baseline, only if the comparison says better "
                        "and benchmark.yaml's promotion rules hold (exit 1 when refused)")
    b.add_argument("variant", metavar="VARIANT", help="the challenger to promote")
    b.add_argument("--yes", action="store_true", help="write ssot/agents/variants.yaml and sync (default: show only)")
    b.add_argument("--seed", type=Number(int, 0), default=0, help="seed of the bootstrap interval (default 0)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=ablation.cmd_promote)

    classifier_cli.register(sub, Number)
    export_cli.register(sub)
    return top


def _emit_error(kind: str, code: str | None, reason: str, exit_code: int, field: str | None = None) -> None:
    """The one JSON error shape of every command (module docstring): printed on stdout under --json."""
    emit_json({"error": kind, "code": code, "field": field, "reason": reason, "exit_code": exit_code})


_KINDS = {EXIT_USAGE: "usage", EXIT_BAD_INPUT: "refused", EXIT_UNAVAILABLE: "unavailable", EXIT_INTERNAL: "internal"}


def _fail(args, exc: OpsError) -> int:
    """Report an expected failure: one line on stderr (`refused: …` for refused input, else `ops: …`), and
    the JSON error object on stdout under --json."""
    reason = terminal(exc, newlines=True)
    if isinstance(exc, BadInput) or exc.exit_code == EXIT_BAD_INPUT:  # exit 3 is always "refused: …"
        print(f"refused: {reason}", file=sys.stderr)
    else:
        print(f"ops: {reason}", file=sys.stderr)
    if getattr(args, "json", False):
        cause = exc.__cause__
        code = getattr(exc, "code", None) or (getattr(cause, "sqlstate", None) if cause is not None else None)
        _emit_error(_KINDS.get(exc.exit_code, "failed"), code or _KINDS.get(exc.exit_code, "failed"), str(exc),
                    exc.exit_code, getattr(exc, "field", None))
    return exc.exit_code


def _command_name(args) -> str:
    """"errors regroup", "dispatch requeue", "fixbot verify" or the command alone."""
    sub = getattr(args, "action", None) or getattr(args, "fixbot_command", None) or getattr(args, "bench_command", None)
    name = f"{args.command} {sub}" if isinstance(sub, str) else args.command
    return name if name in errors.COMMAND_ROLES else args.command


def _run(args) -> int:
    try:
        return args.func(args)
    except ssot.SsotInvalid as exc:
        print(exc, file=sys.stderr)
        if getattr(args, "json", False):
            _emit_error("failed", "ssot_invalid", str(exc), EXIT_FAILED)
        return EXIT_FAILED
    except OpsError as exc:
        return _fail(args, exc)
    except psycopg.Error as exc:  # one mapping for every command (worker.errors.from_psycopg)
        mapped = from_psycopg(exc, _command_name(args))
        if mapped is None:
            raise
        mapped.__cause__ = exc
        return _fail(args, mapped)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `ops`; returns the exit code (module docstring). A closed stdout (`ops errors | head -1`) ends
    quietly with 141, as cat or grep do under SIGPIPE."""
    global _ARGV
    _ARGV = list(argv) if argv is not None else None
    try:
        args = parser().parse_args(argv)
        errors.CURRENT_COMMAND = _command_name(args)
        try:
            code = _run(args)
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence prints one line, not a trace
            print(f"ops: internal error: {type(exc).__name__}: {terminal(exc, newlines=True)}", file=sys.stderr)
            if getattr(args, "json", False):
                _emit_error("internal", type(exc).__name__, str(exc), EXIT_INTERNAL)
            if os.environ.get("OPS_DEBUG"):
                raise
            return EXIT_INTERNAL
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except BrokenPipeError:
        # Python ignores SIGPIPE, so the reader going away is an exception: point stdout at /dev/null so
        # the interpreter's final flush cannot fail again, and exit as a SIGPIPE'd tool would (128 + 13).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_PIPE


if __name__ == "__main__":
    sys.exit(main())
