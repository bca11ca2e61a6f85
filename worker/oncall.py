"""On call: look at one error, list errors, resolve with a record, ignore, reopen.

`ops errors show FINGERPRINT`, `ops errors list`, `ops resolve`, `ops ignore`, `ops reopen`. A unique prefix
of a fingerprint is enough, as for git commits (``ops.find_error``: an ambiguous prefix is refused with the
candidates, exit 3; none is not found, exit 1). The SQL is ``ops.find_error``, the on-call views
(``ops.error_groups``, ``error_event_log``, ``error_escalation_log``, ``error_agent_run_log``,
``error_status_log``) and the state machine behind ``ops.resolve_error``, ``ops.ignore_error`` and
``ops.reopen_error`` (a refused transition is exit 1 with what to do instead).
"""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime, timezone
from pathlib import Path

from psycopg.rows import dict_row

from worker import db, known, resolutions, timeflags
from worker.errors import EXIT_OK, BadInput, Usage, translate
from worker.output import emit_json, fmt, table
from worker.queries import execute
from worker.render import terminal

STATUSES = ("open", "acknowledged", "resolved", "regressed", "ignored")
EVENTS_SHOWN = 10


# -- flag types -------------------------------------------------------------------------------------

def _text(name: str):
    def check(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{name} needs a visible character")
        return text
    return check


# -- commands ---------------------------------------------------------------------------------------

def _find(cur, prefix: str) -> str:
    return execute(cur, "oncall", "find_error", {"prefix": prefix}).fetchone()["fingerprint"]


def cmd_show(args) -> int:
    with db.connect() as conn, translate("errors"), conn.cursor(row_factory=dict_row) as cur:
        fp = _find(cur, args.fingerprint)
        p = {"fingerprint": fp}
        group = execute(cur, "oncall", "group", p).fetchone()
        events = execute(cur, "oncall", "recent_events", {**p, "limit": args.events}).fetchall()
        escalations = execute(cur, "oncall", "escalations", p).fetchall()
        runs = execute(cur, "oncall", "agent_runs", p).fetchall()
        history = execute(cur, "oncall", "history", p).fetchall()
    regressions = [h for h in history if h["to_status"] == "regressed"]
    if args.json:
        emit_json({"group": group, "events": events, "escalations": escalations, "agent_runs": runs,
                   "history": history, "regressions": regressions})
        return EXIT_OK
    g = group
    ignored = f" until {fmt(g['ignored_until'])}" if g["ignored_until"] else ""
    lines = [
        f"error {g['fingerprint']}",
        f"  code        {terminal(g['code'])} — {terminal(g['title'] or '(not in the taxonomy)')} ({g['severity'] or '?'})",
        f"  status      {g['status']}{ignored}",
        f"  count       {g['count']} (first seen {fmt(g['first_seen_at'])}, last seen {fmt(g['last_seen_at'])})",
        f"  source      {terminal(g['source'])}" + (f", phase {terminal(g['phase'])}" if g["phase"] else ""),
        f"  runbook     {terminal(g['runbook'] or '-')}",
        f"  regressions {g['regression_count']}",
    ]
    if g["resolution_ref"]:
        lines.append(f"  record      {terminal(g['resolution_ref'])} (sha256 {g['resolution_sha256'] or '-'}, "
                     f"resolved by {terminal(g['resolved_by'] or '-')} {fmt(g['resolved_at'])})")
    print("\n".join(lines))
    print(f"\nrecent events ({len(events)} newest, redacted):")
    print(table(events, ["event_id", "received_at", "run_id", "correlation_id", "message"], 60) if events else "  none stored")
    print("\nescalations:")
    print(table(escalations, ["escalation_id", "reason", "destination", "state", "attempts", "count_at", "created_at",
                              "delivered_at"]) if escalations else "  none")
    print("\nFixBot runs:")
    print(table(runs, ["run_id", "status", "approved", "pr_url", "pr_state", "outcome", "score", "created_at", "finished_at"])
          if runs else "  none")
    print("\nhistory (status changes; regressions are changes to regressed):")
    print(table(history, ["changed_at", "from_status", "to_status", "actor", "resolution_ref", "ignored_until"])
          if history else "  none")
    hint = {"resolved": "reopen it: ops reopen", "ignored": "reopen it: ops reopen"}.get(
        g["status"], "resolve it: ops resolve")
    print(f"\nnext: {hint} {g['fingerprint'][:12]}" + (" --summary '…'" if hint.endswith("resolve") else ""))
    return EXIT_OK


def cmd_list(args) -> int:
    with db.connect() as conn, translate("errors"), conn.cursor(row_factory=dict_row) as cur:
        rows = execute(cur, "oncall", "list_groups", {"code": args.code, "source": args.source, "status": args.status,
                                                      "since": args.since, "limit": args.limit}).fetchall()
        if not rows:  # a typo in a filter is refused, not shown as an empty table
            known.check_code(conn, args.code)
            known.check_source(conn, args.source)
    if args.json:
        emit_json(rows)
        return EXIT_OK
    if args.quiet:  # fingerprints only, one a line, for scripts: fp=$(ops errors list --code X -q --limit 1)
        for r in rows:
            print(r["fingerprint"])
        return EXIT_OK
    for r in rows:
        r["fingerprint"] = r["fingerprint"][:12]
    print(table(rows, ["fingerprint", "code", "status", "count", "last_seen_at", "source", "sample_message"], 50))
    return EXIT_OK


def _by(args) -> str:
    return args.by or getpass.getuser()


def _as_seen_from_cwd(path: Path) -> str:
    """``path`` as a person in the current directory would type it: relative when it lies below, else absolute
    (the record's path inside ``--root`` alone misleads when ``--root`` is elsewhere)."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def cmd_resolve(args) -> int:
    root = Path(args.root).resolve()
    if not root.is_dir():
        raise Usage(f"--root {args.root}: not a directory (the repository the record is written into)", field="--root")
    with db.connect() as conn, translate("resolve"):
        with conn.cursor(row_factory=dict_row) as cur:
            fp = _find(cur, args.fingerprint)
        conn.commit()
        out = resolutions.resolve(conn, root, fp, summary=args.summary, cause=args.cause, fix=args.fix,
                                  prevention=args.prevention, pr=args.pr, resolved_by=_by(args))
        conn.commit()
    if args.json:
        emit_json({"fingerprint": fp, "status": out["row"]["status"], "record": out["path"], "sha256": out["sha256"],
                   "resolved_by": out["row"]["resolved_by"]})
    else:
        print(f"resolved {fp[:12]}; record {_as_seen_from_cwd(root / out['path'])} (sha256 {out['sha256']})")
    return EXIT_OK


def cmd_ignore(args) -> int:
    if args.until is not None and args.until <= datetime.now(timezone.utc):  # ops.ignore_error refuses it too
        err = BadInput(f"--until must be in the future, not {timeflags.rfc3339_utc(args.until)}")
        err.field, err.code = "--until", "OP001"  # the code ops.ignore_error refuses it with
        raise err
    with db.connect() as conn, translate("ignore"), conn.cursor(row_factory=dict_row) as cur:
        fp = _find(cur, args.fingerprint)
        row = execute(cur, "oncall", "ignore_error", {"fingerprint": fp, "until": args.until}).fetchone()
        conn.commit()
    if args.json:
        emit_json(row)
    else:
        until = f" until {fmt(row['ignored_until'])}" if row["ignored_until"] else " until reopened (ops reopen)"
        print(f"ignored {fp[:12]}{until}: it still counts but does not escalate")
    return EXIT_OK


def cmd_reopen(args) -> int:
    with db.connect() as conn, translate("reopen"), conn.cursor(row_factory=dict_row) as cur:
        fp = _find(cur, args.fingerprint)
        row = execute(cur, "oncall", "reopen_error", {"fingerprint": fp}).fetchone()
        conn.commit()
    if args.json:
        emit_json(row)
    else:
        print(f"reopened {fp[:12]}: {row['status']}")
    return EXIT_OK


# -- parsers ----------------------------------------------------------------------------------------

FINGERPRINT_HELP = "the error's fingerprint, or a unique prefix of it (at least 4 hex digits)"


def add_parsers(sub, errors_sub, number) -> None:
    """Add `errors show`, `errors list` (to ``errors_sub``) and `resolve`, `ignore`, `reopen` (to ``sub``).
    ``number`` is the CLI's range-checked numeric type (worker.cli.Number)."""
    s = errors_sub.add_parser("show", help="one error: status, counts, runbook, recent events, escalations, "
                              "FixBot runs, history and regressions")
    s.add_argument("fingerprint", help=FINGERPRINT_HELP)
    s.add_argument("--events", type=number(int, 1, 1000), default=EVENTS_SHOWN, help="recent events shown (default 10)")
    s.add_argument("--json", action="store_true", help="print {group, events, escalations, agent_runs, history, regressions}")
    s.set_defaults(func=cmd_show)

    s = errors_sub.add_parser("list", help="errors filtered by code, source, status and time, latest first")
    s.add_argument("--code", help="only this code")
    s.add_argument("--source", help="only this source")
    s.add_argument("--status", choices=STATUSES, help="only this status (an ignore past its date is open)")
    s.add_argument("--since", type=timeflags.since, help="last seen within this long (30m, 24h, 7d, 2w) or since an RFC 3339 date or time (UTC without an offset)")
    s.add_argument("--limit", type=number(int, 1), default=50, help="at most this many (default 50)")
    s.add_argument("-q", "--quiet", action="store_true", help="print only the full fingerprints, one a line")
    s.add_argument("--json", action="store_true", help="print the errors as a JSON array")
    s.set_defaults(func=cmd_list)

    p = sub.add_parser("resolve", help="mark an error resolved and write its resolution record "
                       "(docs/resolutions/YYYY/MM/<date>_<CODE>_<slug>.md) from the database")
    p.add_argument("fingerprint", help=FINGERPRINT_HELP)
    p.add_argument("--summary", required=True, type=_text("--summary"), help="one line: what broke and how it was fixed")
    p.add_argument("--cause", help="the root cause")
    p.add_argument("--fix", help="what was changed (no secret values: name variables instead)")
    p.add_argument("--pr", metavar="URL", help="the pull request of the fix")
    p.add_argument("--prevention", help="what keeps it from coming back")
    p.add_argument("--by", help="who resolved it (default: the OS user)")
    p.add_argument("--root", default=".", help="the repository the record is written into (default: the current directory)")
    p.add_argument("--json", action="store_true", help="print {fingerprint, status, record, sha256, resolved_by}")
    p.set_defaults(func=cmd_resolve)

    p = sub.add_parser("ignore", help="ignore an error: it still counts but never escalates (until --until)")
    p.add_argument("fingerprint", help=FINGERPRINT_HELP)
    p.add_argument("--until", type=timeflags.until, help="end of the ignore: a duration from now (30m, 24h, 7d, 2w) or an RFC 3339 "
                   "time; without it, until `ops reopen`")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ignore)

    p = sub.add_parser("reopen", help="reopen a resolved or ignored error")
    p.add_argument("fingerprint", help=FINGERPRINT_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reopen)
