"""Training data from ops: scored FixBot runs as Hugging Face TRL datasets (`ops export`).

Kinds (the column shapes are TRL's "conversational" dataset formats, docs: huggingface.co/docs/trl/dataset_formats):

* ``sft`` (language modeling): ``messages``, a list of ``{role, content, tool_calls, tool_call_id}``;
* ``preferences`` (preference, explicit prompt: DPO, reward models): ``prompt``, ``chosen``, ``rejected``;
* ``kto`` (unpaired preference): ``prompt``, ``completion``, ``label`` (bool).

Every row also carries ``task_id`` and run ids so a row can be traced to ops.agent_runs. ``tool_calls`` is a list
of ``{type: "function", function: {name, arguments}}`` with ``arguments`` a JSON-encoded string (the OpenAI wire
form: one Parquet schema whatever a tool takes); a run without a transcript becomes one assistant turn that calls
``apply_patch`` with its unified diff.

The rule (also written into the dataset card): a run is *good* when it is verified and accepted: resolved in the
SWE-bench sense (ops.agent_benchmark_results.resolved: the target check went green, nothing previously green
broke) and accepted by a person (a merged pull request or an approving review). A run is *failed* when it is not
resolved. A resolved run nobody accepted yet is neither and is left out. SFT takes good runs; a preference pair is
(good, failed) on the same task (task_id), so two failures are never paired; KTO labels good runs true and failed
ones false. The prompt is the task's (the failure's code, source, phase and redacted message), the same for every
run of a task, so chosen and rejected answer one prompt.

Splits: ``test`` holds the tasks whose ``sha256(task_id)`` read as an integer is 0 mod 10, ``train`` the rest (a
task never straddles splits). Files: ``data/<split>.parquet`` (pyarrow, explicit schema), the same rows in
``jsonl/<split>.jsonl`` (sorted keys, UTF-8), and a ``README.md`` card whose YAML ``configs:`` block (config
``<kind>``, the default) makes ``datasets.load_dataset(DIR)`` load every split of the Parquet files (datasets
chooses one builder per directory, so the JSON Lines copies load with ``load_dataset("json", data_files=...)``). The same database gives byte-identical files; the snapshot id is the SHA-256 over the sorted lines
``<sha256>  <path>`` of the data files, recorded in ops.dataset_exports. Text is redacted in SQL on the way out
(ops.redact, ops_private.redact_transcript) even though it is stored redacted.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import psycopg

from worker.errors import BadInput, Unavailable
from worker.queries import execute

KINDS = ("sft", "preferences", "kto")
SPLITS = ("train", "test")
SYSTEM_PROMPT = ("You are FixBot. You fix one failing check with the smallest patch that makes it pass, on a branch, "
                 "through a pull request; you never push to the default branch and never touch forbidden paths.")


# -- rows --------------------------------------------------------------------------------------------

def _message(role: str, content: str | None, tool_calls=None, tool_call_id: str | None = None) -> dict:
    return {"role": role, "content": content or "", "tool_calls": tool_calls, "tool_call_id": tool_call_id}


def _tool_calls(calls) -> list | None:
    if not calls:
        return None
    out = []
    for c in calls:
        fn = c.get("function") or {}
        args = fn.get("arguments")
        out.append({"type": c.get("type") or "function",
                    "function": {"name": fn.get("name") or "",
                                 "arguments": args if isinstance(args, str) else json.dumps(args, sort_keys=True)}})
    return out


def prompt(run: dict) -> list[dict]:
    """The task's prompt: a system turn and a user turn describing the failure (same for every run of a task)."""
    where = run["source"] or "an unknown source"
    if run["phase"]:
        where += f", phase {run['phase']}"
    user = (f"Failure {run['code']} from {where} (task {run['task_id']}).\n\n"
            f"Error message (redacted):\n{run['message'] or '(no message stored)'}\n\n"
            "Fix it with a minimal unified diff.")
    return [_message("system", SYSTEM_PROMPT), _message("user", user)]


def completion(run: dict) -> list[dict]:
    """What the run answered: its transcript from the first assistant turn on, or one apply_patch tool call."""
    transcript = run["transcript"] or []
    first = next((i for i, m in enumerate(transcript) if m.get("role") == "assistant"), None)
    if first is not None:
        return [_message(m.get("role"), m.get("content"), _tool_calls(m.get("tool_calls")), m.get("tool_call_id"))
                for m in transcript[first:]]
    call = {"type": "function", "function": {"name": "apply_patch",
                                             "arguments": json.dumps({"patch": run["patch"] or ""}, sort_keys=True)}}
    return [_message("assistant", "", [call])]


def is_good(run: dict) -> bool:
    return bool(run["resolved"]) and bool(run["accepted"])


def is_failed(run: dict) -> bool:
    return not run["resolved"]


def split_of(task_id: str) -> str:
    return "test" if int(hashlib.sha256(task_id.encode()).hexdigest(), 16) % 10 == 0 else "train"


def build(kind: str, runs: list[dict]) -> dict[str, list[dict]]:
    """Rows per split for ``kind`` from the runs (export_runs order: by task, then run id)."""
    rows: dict[str, list[dict]] = {s: [] for s in SPLITS}
    by_task: dict[str, list[dict]] = defaultdict(list)
    for r in runs:
        by_task[r["task_id"]].append(r)
    for task_id, task_runs in by_task.items():
        out = rows[split_of(task_id)]
        if kind == "sft":
            out += [{"messages": prompt(r) + completion(r), "task_id": task_id, "run_id": r["run_id"],
                     "code": r["code"], "variant_id": r["variant_id"], "score": float(r["score"])}
                    for r in task_runs if is_good(r)]
        elif kind == "preferences":
            goods = [r for r in task_runs if is_good(r)]
            fails = [r for r in task_runs if is_failed(r)]
            out += [{"prompt": prompt(g), "chosen": completion(g), "rejected": completion(f), "task_id": task_id,
                     "chosen_run_id": g["run_id"], "rejected_run_id": f["run_id"], "code": g["code"],
                     "score_margin": float(g["score"]) - float(f["score"])}
                    for g in goods for f in fails]
        else:
            out += [{"prompt": prompt(r), "completion": completion(r), "label": is_good(r), "task_id": task_id,
                     "run_id": r["run_id"], "code": r["code"], "variant_id": r["variant_id"]}
                    for r in task_runs if is_good(r) or is_failed(r)]
    return rows


# -- files -------------------------------------------------------------------------------------------

def _schema(kind: str):
    import pyarrow as pa

    call = pa.struct([("type", pa.string()), ("function", pa.struct([("name", pa.string()),
                                                                    ("arguments", pa.string())]))])
    message = pa.struct([("role", pa.string()), ("content", pa.string()), ("tool_calls", pa.list_(call)),
                         ("tool_call_id", pa.string())])
    chat = pa.list_(message)
    if kind == "sft":
        fields = [("messages", chat), ("task_id", pa.string()), ("run_id", pa.int64()), ("code", pa.string()),
                  ("variant_id", pa.string()), ("score", pa.float64())]
    elif kind == "preferences":
        fields = [("prompt", chat), ("chosen", chat), ("rejected", chat), ("task_id", pa.string()),
                  ("chosen_run_id", pa.int64()), ("rejected_run_id", pa.int64()), ("code", pa.string()),
                  ("score_margin", pa.float64())]
    else:
        fields = [("prompt", chat), ("completion", chat), ("label", pa.bool_()), ("task_id", pa.string()),
                  ("run_id", pa.int64()), ("code", pa.string()), ("variant_id", pa.string())]
    return pa.schema(fields)


def parquet_bytes(kind: str, rows: list[dict]) -> bytes:
    """One Parquet file (zstd, no wall-clock metadata, so the same rows give the same bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=_schema(kind))
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", store_schema=True)
    return sink.getvalue()


def jsonl_bytes(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(r, sort_keys=True, ensure_ascii=False).encode() + b"\n" for r in rows)


def snapshot_id(files: dict[str, bytes]) -> str:
    """SHA-256 over the sorted lines ``<sha256 of file>  <path>`` (sha256sum's format) of the data files."""
    lines = "".join(f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def card(kind: str, counts: dict[str, int], snapshot: str, since: datetime | None) -> bytes:
    """The dataset card: YAML front matter (configs, one per file format, with the splits that have rows) and the
    rule that made the rows."""
    splits = [s for s in SPLITS if counts[s]]
    # One config: datasets picks one builder for a directory, so the JSON Lines copies sit outside the configs.
    # The config is named after the snapshot: `datasets` caches a local directory's build under (directory name,
    # config name) without looking at the files, so a re-export to a folder of the same name would otherwise load
    # the previous export's rows from the cache.
    configs = [{"config_name": f"{kind}-{snapshot[:12]}", "data_files": [{"split": s, "path": f"data/{s}.parquet"} for s in splits],
                "default": True}]
    import yaml

    front = yaml.safe_dump({"configs": configs, "tags": ["trl", "ops-export", kind]}, sort_keys=False)
    columns = {"sft": "`messages` (system, user, then the run's assistant/tool turns)",
               "preferences": "`prompt`, `chosen`, `rejected` (explicit prompt; chosen and rejected are assistant/tool turns)",
               "kto": "`prompt`, `completion`, `label` (true: desirable)"}[kind]
    body = f"""# FixBot runs: {kind}

Exported by `ops export {kind}` from the ops database (snapshot `{snapshot}`{f", runs created since {since.isoformat()}" if since else ""}).
Rows: {", ".join(f"{s} {counts[s]}" for s in SPLITS)}. Format: TRL's conversational {columns}, plus `task_id` and run ids.
Tool calls are `{{type: "function", function: {{name, arguments}}}}` with `arguments` a JSON string.

## Which runs, and how they are paired

- **Good** = verified and accepted: resolved as SWE-bench counts it (the target check went green and no
  previously green check broke) and accepted by a person (pull request merged, or an approving review).
- **Failed** = not resolved. A resolved run that nobody has accepted yet is neither and is left out.
- `sft`: good runs only. `preferences`: every (good, failed) pair of runs on the same task (`task_id`); two
  failures are never paired, nor two good runs. `kto`: good runs labelled true, failed runs false.
- The prompt is the task's (code, source, phase, redacted error message), the same for every run of a task.
- Split by task: `test` when sha256(task_id) is 0 mod 10, else `train`; a task is never in both.
- All text was redacted (`ops.redact`) before it was stored and again on export.

Files: `data/<split>.parquet` (the `{kind}` config) and the same rows as JSON Lines in `jsonl/<split>.jsonl`.
Load: `datasets.load_dataset(DIR)` (Parquet), or
`datasets.load_dataset("json", data_files={{"train": "DIR/jsonl/train.jsonl", "test": "DIR/jsonl/test.jsonl"}})`.
"""
    return f"---\n{front}---\n\n{body}".encode()


def render(kind: str, runs: list[dict], since: datetime | None = None) -> tuple[dict[str, bytes], str, int]:
    """Every file of one export (relative path -> bytes), the snapshot id and the number of rows."""
    if kind not in KINDS:
        raise BadInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    rows = build(kind, runs)
    data: dict[str, bytes] = {}
    for split in SPLITS:
        if rows[split]:
            data[f"data/{split}.parquet"] = parquet_bytes(kind, rows[split])
            data[f"jsonl/{split}.jsonl"] = jsonl_bytes(rows[split])
    snap = snapshot_id(data)
    counts = {s: len(rows[s]) for s in SPLITS}
    return {**data, "README.md": card(kind, counts, snap, since)}, snap, sum(counts.values())


# -- destinations ------------------------------------------------------------------------------------

def _write_dir(out: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".export-") as f:
            f.write(data)
        Path(f.name).replace(path)


def _write_s3(url: str, files: dict[str, bytes], endpoint_url: str | None) -> None:
    """Upload with boto3 (credentials and region from the usual AWS variables; ``endpoint_url`` or
    AWS_ENDPOINT_URL for R2 and other S3-compatible stores)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    parsed = urlparse(url)
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    if not bucket:
        raise BadInput(f"--out: {url!r} has no bucket (s3://bucket/prefix)")
    types = {".parquet": "application/vnd.apache.parquet", ".jsonl": "application/jsonl", ".md": "text/markdown"}
    client = boto3.client("s3", endpoint_url=endpoint_url)
    try:
        for rel, data in files.items():
            key = f"{prefix}/{rel}" if prefix else rel
            client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=types[Path(rel).suffix],
                              ChecksumAlgorithm="SHA256")
    except (BotoCoreError, ClientError) as exc:
        raise Unavailable(f"--out {url}: upload failed: {exc}") from exc


def export(conn: psycopg.Connection, kind: str, out: str, *, since: datetime | None = None,
           endpoint_url: str | None = None) -> dict:
    """Write one export to a directory or ``s3://bucket/prefix`` and record it in ops.dataset_exports.
    Returns {id, snapshot_id, kind, destination, rows, files: {path: {sha256, bytes}}}. Raises BadInput for an
    unknown kind or a malformed s3 URL, Unavailable when the upload fails."""
    runs = [dict(zip([c.name for c in cur.description], row))
            for cur in [execute(conn, "learn", "export_runs", {"since": since})] for row in cur.fetchall()]
    files, snap, n = render(kind, runs, since)
    if out.startswith("s3://"):
        _write_s3(out, files, endpoint_url)
        destination = out
    else:
        path = Path(out).resolve()
        _write_dir(path, files)
        destination = str(path)
    manifest = {rel: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for rel, data in sorted(files.items())}
    row = execute(conn, "learn", "record_dataset_export", {
        "snapshot_id": snap, "kind": kind, "since": since, "destination": destination,
        "files": json.dumps(manifest), "rows": n}).fetchone()
    return {"id": row[0], "snapshot_id": snap, "kind": kind, "destination": destination, "rows": n,
            "files": manifest}
