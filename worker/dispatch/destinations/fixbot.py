"""Dispatch a queued FixBot run (ops.agent_runs) to its runner, then hold the result to the policy.

Runners:
- ``github_dispatch``: a ``repository_dispatch`` event (event_type ``fixbot``) whose client_payload
  carries the run; the workflow it starts reports back with ``ops fixbot verify``.
- ``command``: a local executable (from the environment variable named by ``command_env``) that
  reads the run as JSON on stdin and prints ``{"branch": ..., "diff": ..., "pr_url": ...,
  "transcript": [chat messages]?}`` on stdout; the diff and transcript are stored on the run (redacted). The worker verifies the diff against the policy before anything else happens: a rejected
  patch is recorded (AGENT.FORBIDDEN_PATH, ...) and nothing more is dispatched for it.
Nothing here writes to a default branch.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess

import psycopg

from worker import fixbot
from worker.dispatch import http
from worker.dispatch.destinations.base import Destination, delivery_id
from worker.dispatch.outcomes import Permanent, Retry

FINISHED = {"succeeded", "failed", "rejected", "dead", "cancelled"}


def run_document(run: dict, job: dict, policy: fixbot.Policy) -> dict:
    """What a runner receives. Ten top-level members at most: GitHub refuses a repository_dispatch
    client_payload with more (HTTP 422), so the policy's terms travel as one object."""
    prefix = policy.data.get("branch_prefix", "fixbot/")
    return {
        "run_id": run["id"], "code": run["code"], "fingerprint": run["fingerprint"],
        "branch": f"{prefix}{run['id']}-{run['code'].lower().replace('.', '-')}",
        "base": policy.default_branch,
        "policy": {"ref": run["policy_ref"], "sha256": run["policy_sha256"], "pr_only": True,
                   "required_checks": policy.data.get("required_checks", []),
                   "limits": policy.data.get("limits", {})},
        "runbook": job["payload"].get("runbook"), "evidence": run["evidence"],
        "variant_id": (run["metadata"] or {}).get("variant_id"), "delivery_id": delivery_id(job),
    }


def deliver(job: dict, dest: Destination, ctx) -> dict:
    """Dispatch the escalation's run. The run stays ``queued`` until it is really dispatched: the
    destination's configuration (environment variables, runner kind) is resolved first, so a missing
    variable (WaitForConfig) neither marks the run ``running`` nor spends one of its attempts; a
    dispatch that fails puts it back to ``queued`` with the error."""
    run = ctx.query_one("agent_run_for_escalation", {"escalation_id": job["id"]})
    if run is None:
        return {"skipped": "no FixBot run for this escalation (one is already active for the fingerprint)"}
    if run["status"] in FINISHED:
        return {"run": run["id"], "status": run["status"]}
    runner = dest.config.get("runner", "github_dispatch")
    if runner == "github_dispatch":
        repo, token = dest.env("repo_env"), dest.env("token_env")
    elif runner == "command":
        command = shlex.split(dest.env("command_env"))
    else:
        raise Permanent(f"destination {dest.name}: unknown FixBot runner {runner!r}")
    from worker.learn import variants  # here, not at the top: it loads NumPy (~12 MiB of every worker's RSS)

    run = variants.assign(ctx, run)  # the variant it runs with (ssot/agents/variants.yaml), recorded on the run
    policy = fixbot.Policy.load()
    doc = run_document(run, job, policy)
    if runner == "command":
        return _run_command(run, doc, command, dest, ctx, policy)
    api = os.environ.get("OPS_GITHUB_API_URL", "https://api.github.com").rstrip("/")
    _set_run(ctx, run, "running", branch=doc["branch"])
    try:
        http.post_json(f"{api}/repos/{repo}/dispatches", {"event_type": "fixbot", "client_payload": doc},
                       {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"},
                       destination=dest.name)
    except Exception as exc:
        _set_run(ctx, run, "queued", error=f"dispatch failed: {exc}")
        raise
    return {"run": run["id"], "status": "running", "runner": "github_dispatch"}


def _set_run(ctx, run: dict, status: str, *, verdict: str | None = None, branch: str | None = None,
             pr_url: str | None = None, error: str | None = None) -> None:
    """ops.update_agent_run with every parameter named: None leaves a field as the function decides."""
    ctx.query_one("update_agent_run", {"id": run["id"], "status": status, "verdict": verdict, "branch": branch,
                                       "pr_url": pr_url, "error": error})


def _run_command(run: dict, doc: dict, command: list[str], dest: Destination, ctx, policy: fixbot.Policy) -> dict:
    timeout = float(dest.config.get("timeout_seconds", 600))
    _set_run(ctx, run, "running", branch=doc["branch"])
    try:
        proc = subprocess.run(command, input=json.dumps(doc, default=str), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        _set_run(ctx, run, "queued", error=f"runner timed out after {timeout:.0f}s")
        raise Retry(f"FixBot runner timed out after {timeout:.0f}s") from None
    except OSError as exc:
        _set_run(ctx, run, "queued", error=f"runner cannot start: {exc}")
        raise Permanent(f"FixBot runner {command[0]!r} cannot start: {exc}") from None
    if proc.returncode != 0:
        _set_run(ctx, run, "queued", error=f"runner exited {proc.returncode}: {proc.stderr[-500:]}")
        raise Retry(f"FixBot runner exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        _set_run(ctx, run, "queued", error=f"runner printed no JSON: {exc}")
        raise Retry(f"FixBot runner printed no JSON result: {exc}") from None
    verdict = fixbot.verify(result.get("diff", ""), policy, head=result.get("branch"), base=doc["base"])
    return record_verdict(ctx, run, verdict, result)


def store_artifacts(ctx, run: dict, result: dict) -> list[str]:
    """Store the runner's patch (``diff``) and ``transcript`` on the run (ops.set_agent_run_artifacts redacts
    both). A transcript the database refuses (not a JSON array of chat messages) is left out and named in the
    returned flags; the patch is still stored."""
    patch = result.get("diff")
    if isinstance(patch, bytes):
        patch = patch.decode("utf-8", errors="replace")
    transcript = result.get("transcript")
    if not patch and transcript is None:
        return []
    flags = []
    if transcript is not None and not isinstance(transcript, list):
        flags.append("transcript ignored: not a JSON array of chat messages")
        transcript = None
    try:
        ctx.query_one("set_agent_run_artifacts", {"id": run["id"], "patch": patch or None,
                                                  "transcript": json.dumps(transcript) if transcript is not None else None})
    except psycopg.Error as exc:
        if transcript is None or exc.sqlstate != "OP001":
            raise
        flags.append(f"transcript ignored: {exc.diag.message_primary}")
        ctx.query_one("set_agent_run_artifacts", {"id": run["id"], "patch": patch or None, "transcript": None})
    return flags


def record_verdict(ctx, run: dict, verdict: dict, result: dict) -> dict:
    """Store the verdict, the patch and the transcript on the run; a rejection is also recorded through the
    error pipeline, with the run's id, before the verdict: moving the run to its final status rescores it
    (tg_agent_runs__score), and its failure_modes are the codes of the errors recorded with its id by then.
    A run already finished is refused (OP005) before anything is recorded, as ops.update_agent_run would."""
    if run["status"] in FINISHED:
        _set_run(ctx, run, run["status"])  # raises OP005 naming the run and its status
    verdict["flags"] += store_artifacts(ctx, run, result)
    status = "succeeded" if verdict["approved"] else "rejected"
    for reason in verdict["reasons"]:
        ctx.query_one("record_run_error", {"message": reason["message"], "code_hint": reason["code"],
                                           "run_id": str(run["id"]), "fingerprint": run["fingerprint"]})
    _set_run(ctx, run, status, verdict=json.dumps(verdict), branch=result.get("branch"),
             pr_url=result.get("pr_url") if verdict["approved"] else None)
    return {"run": run["id"], "status": status, "reasons": [r["code"] for r in verdict["reasons"]]}
