"""`ops fixbot report RUN ...`: a runner reports its own outcome (when GitHub's webhooks are not wired).

Each flag becomes one ops.agent_run_outcomes row through ops.record_run_outcome() (which rescores the
run), all in one transaction:

* ``--ci success|failure`` → kind ``report``, state the CI result; ``--target-fixed`` sets target_fixed
  (absent: not stated); ``--regressions N`` the checks that were green and are now red (absent with
  ``--ci success``: 0, since every required check passed; absent with failure: not stated).
* ``--pr-state merged|closed`` → kind ``pull_request``; ``--review approved|changes_requested`` → kind
  ``review``.
* ``--transcript FILE`` (``-`` for stdin): the run's chat transcript, a JSON array of messages
  ``{role, content, tool_calls?, tool_call_id?}``, stored redacted on the run
  (ops.set_agent_run_artifacts).

Output (``--json``): ``{"run_id": int, "outcomes": [{"kind", "state", "outcome_id"}], "transcript": bool}``.
Exit codes: the CLI contract's (worker/cli.py); an unknown run is 1, a malformed transcript 3.
"""

from __future__ import annotations

import argparse
import json
import sys

from psycopg.rows import dict_row

from worker import db
from worker.errors import EXIT_OK, BadInput, translate
from worker.output import emit_json
from worker.queries import execute

SOURCE = {"via": "ops fixbot report"}


def _transcript(path: str) -> str:
    """The transcript file's JSON text, checked to be a JSON array (the database checks each message)."""
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read --transcript: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"--transcript is not JSON: {exc}") from None
    if not isinstance(doc, list):
        raise BadInput("--transcript must be a JSON array of chat messages ({role, content, tool_calls?})")
    return text


def report(conn, run_id: int, *, ci: str, target_fixed: bool, regressions: int | None, pr_state: str | None,
           review: str | None, transcript: str | None) -> dict:
    """Store the report in one transaction; the JSON shape of the module docstring."""
    if regressions is None and ci == "success":
        regressions = 0
    wanted = [("report", ci, target_fixed or None, regressions)]
    if pr_state:
        wanted.append(("pull_request", pr_state, None, None))
    if review:
        wanted.append(("review", review, None, None))
    stored = []
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        if transcript is not None:
            execute(cur, "outcomes", "set_artifacts", {"id": run_id, "patch": None, "transcript": transcript})
        for kind, state, fixed, regs in wanted:
            row = execute(cur, "outcomes", "record_outcome", {
                "kind": kind, "state": state, "run_id": run_id, "check_name": None, "target_fixed": fixed,
                "regressions": regs, "detail": json.dumps(SOURCE)}).fetchone()
            stored.append({"kind": kind, "state": state, "outcome_id": row["outcome_id"]})
    return {"run_id": run_id, "outcomes": stored, "transcript": transcript is not None}


def cmd_report(args: argparse.Namespace) -> int:
    transcript = _transcript(args.transcript) if args.transcript else None
    with db.connect(autocommit=True) as conn, translate("fixbot report"):
        result = report(conn, args.run, ci=args.ci, target_fixed=args.target_fixed, regressions=args.regressions,
                        pr_state=args.pr_state, review=args.review, transcript=transcript)
    if args.json:
        emit_json(result)
    else:
        print(f"run {result['run_id']}: " + ", ".join(f"{o['kind']} {o['state']}" for o in result["outcomes"])
              + (" + transcript" if result["transcript"] else "") + " recorded")
    return EXIT_OK


def add_parser(sub, number) -> None:
    """`fixbot report` under the `fixbot` group (worker/cli.py passes its ``Number`` argument type)."""
    p = sub.add_parser("report", help="record a run's outcome as its runner saw it (CI result, PR state, review, "
                       "transcript); rescored at once")
    p.add_argument("run", type=number(int, 1), help="the ops.agent_runs id of the run reported on")
    p.add_argument("--ci", required=True, choices=["success", "failure"], help="the CI result on the run's branch")
    p.add_argument("--target-fixed", action="store_true", help="the check that failed (the run's target) is green")
    p.add_argument("--regressions", type=number(int, 0), metavar="N",
                   help="checks green before the run and red on its branch (default: 0 with --ci success)")
    p.add_argument("--pr-state", choices=["merged", "closed"], help="what became of the pull request")
    p.add_argument("--review", choices=["approved", "changes_requested"], help="the reviewer's verdict")
    p.add_argument("--transcript", metavar="FILE",
                   help="the run's chat transcript: a JSON array of {role, content, tool_calls?} ('-' for stdin)")
    p.add_argument("--json", action="store_true", help="print what was stored as JSON")
    p.set_defaults(func=cmd_report)
