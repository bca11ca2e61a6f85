"""`ops export sft|preferences|kto` (issue 10): a scored history of FixBot runs in a real database becomes TRL
datasets that `datasets.load_dataset` loads, pairs follow the rule (good vs failed on one task, never two failures),
the same database gives byte-identical files and one snapshot id recorded in ops.dataset_exports, a planted secret
never leaves, and S3 exports go to a real S3-compatible server (moto's server on 127.0.0.1) through boto3."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import boto3
import psycopg
import pytest

from tests.test_cli import ops
from worker.learn import export as E

SECRET_PATCH = "ghp_" + "a1B2" * 9  # a GitHub token shape the redaction rules know
SECRET_TRANSCRIPT = "AKIA" + "ABCDEFGHIJKLMNOP"  # an AWS access key id shape


def _tasks():
    """Task ids with a known split: three in train, one in test."""
    train = [t for t in (f"task-{i}" for i in range(200)) if E.split_of(t) == "train"][:3]
    test = [t for t in (f"task-{i}" for i in range(200)) if E.split_of(t) == "test"][:1]
    return train + test


TASKS = _tasks()
# Per task, its runs: good = resolved + merged; failed = CI red; pending = resolved, nobody accepted yet.
PLAN = {TASKS[0]: ["good", "failed", "failed", "pending"], TASKS[1]: ["good", "good", "failed"],
        TASKS[2]: ["failed", "failed"], TASKS[3]: ["good", "failed"]}
TRANSCRIPT = [
    {"role": "system", "content": "variant prompt"},
    {"role": "user", "content": "fix it"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "read_file", "arguments": "{\"path\": \"tests/test_x.py\"}"}}]},
    {"role": "tool", "content": "def test_x(): assert add(1, 1) == 2", "tool_call_id": "call_1"},
    {"role": "assistant", "content": f"patched; key {SECRET_TRANSCRIPT} was in the log"},
]


def make_history(conn) -> dict[int, tuple[str, str]]:
    """The planned runs, their outcomes and scores; returns run id -> (task, kind)."""
    fp = conn.execute("SELECT fingerprint FROM ops.record_error(source => 'github_actions', phase => 'test', "
                      "message => 'FAILED tests/test_x.py::test_add - assert 3 == 2')").fetchone()[0]
    runs = {}
    for task, kinds in PLAN.items():
        for i, kind in enumerate(kinds):
            patch = f"diff --git a/x.py b/x.py\n+return a + b  # {task} {i}\n" + (
                f"+TOKEN = '{SECRET_PATCH}'\n" if kind == "failed" else "")
            transcript = json.dumps(TRANSCRIPT) if (kind == "good" and i == 0) else None
            run_id = conn.execute(
                """INSERT INTO ops.agent_runs (fingerprint, code, policy_ref, status, patch, transcript, task_id, pr_url,
                                               verdict, created_at)
                   VALUES (%s, 'CI.TESTS_FAILED', 'ssot/agents/fixbot_policy.yaml', 'succeeded', %s, %s::jsonb, %s,
                           'https://github.com/acme/app/pull/' || %s, '{"approved": true, "changed_lines": 3}',
                           now() - interval '3 hours') RETURNING id""",
                (fp, patch, transcript, task, len(runs) + 1)).fetchone()[0]
            fixed = kind in ("good", "pending")
            conn.execute("INSERT INTO ops.agent_run_outcomes (run_id, kind, state, target_fixed, regressions, occurred_at) "
                         "VALUES (%s, 'ci', %s, %s, %s, now() - interval '2 hours')",
                         (run_id, "success" if fixed else "failure", fixed, 0 if fixed else None))
            if kind == "good":
                conn.execute("INSERT INTO ops.agent_run_outcomes (run_id, kind, state) VALUES (%s, 'pull_request', "
                             "'merged')", (run_id,))
            runs[run_id] = (task, kind)
    conn.execute("SELECT ops.score_agent_runs()")
    conn.commit()
    return runs


@pytest.fixture
def history(conn):
    return make_history(conn)


@pytest.fixture(scope="module")
def shared(module_db_url):
    """One history for the tests that only read it (exports add ops.dataset_exports rows, which they ignore)."""
    with psycopg.connect(module_db_url) as c:
        runs = make_history(c)
    with psycopg.connect(module_db_url) as c:
        yield c, runs


@pytest.fixture
def offline_hf(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_every_export_loads_with_datasets_and_follows_the_pairing_rule(shared, tmp_path, offline_hf):
    import datasets

    conn, history = shared
    resolved = dict(conn.execute("SELECT run_id, resolved FROM ops.agent_benchmark_results").fetchall())
    assert all(resolved[r] == (k in ("good", "pending")) for r, (_, k) in history.items()), "scored as planned"
    goods = {r for r, (_, k) in history.items() if k == "good"}
    failed = {r for r, (_, k) in history.items() if k == "failed"}
    expected_pairs = {(g, f) for g in goods for f in failed if history[g][0] == history[f][0]}
    results = {}
    for kind in E.KINDS:
        out = tmp_path / kind
        results[kind] = E.export(conn, kind, str(out))
        jsonl = {s: str(out / "jsonl" / f"{s}.jsonl") for s in E.SPLITS}
        for ds in (datasets.load_dataset(str(out)), datasets.load_dataset("json", data_files=jsonl)):
            assert set(ds) == {"train", "test"}, kind
            assert sum(len(ds[s]) for s in ds) == results[kind]["rows"]
            rows = [dict(r, split=s) for s in ds for r in ds[s]]
            assert all(r["split"] == E.split_of(r["task_id"]) for r in rows), "split by task"
            if kind == "sft":
                assert {r["run_id"] for r in rows} == goods
                for r in rows:
                    assert [m["role"] for m in r["messages"][:2]] == ["system", "user"]
                    assert r["messages"][-1]["role"] == "assistant"
            elif kind == "preferences":
                assert {(r["chosen_run_id"], r["rejected_run_id"]) for r in rows} == expected_pairs
                assert not any(r["task_id"] == TASKS[2] for r in rows), "two failures are never paired"
                for r in rows:
                    assert r["chosen"][0]["role"] == "assistant" and r["rejected"][0]["role"] == "assistant"
                    assert r["score_margin"] > 0
            else:
                assert {r["run_id"]: r["label"] for r in rows} == {**{g: True for g in goods}, **{f: False for f in failed}}
                assert {r["completion"][0]["role"] for r in rows} == {"assistant"}
    # Tool calls survive: the transcript's read_file call and tool reply, and apply_patch for runs without one.
    sft = [json.loads(line) for line in (tmp_path / "sft" / "jsonl" / "train.jsonl").read_text().splitlines()]
    calls = [c["function"]["name"] for r in sft for m in r["messages"] for c in (m["tool_calls"] or [])]
    assert "read_file" in calls and "apply_patch" in calls
    assert any(m["role"] == "tool" and m["tool_call_id"] == "call_1" for r in sft for m in r["messages"])
    card = (tmp_path / "preferences" / "README.md").read_text()
    assert "two\n  failures are never paired" in card and "config_name: preferences-" in card
    assert f"snapshot `{results['preferences']['snapshot_id']}`" in card


def test_same_database_same_bytes_same_snapshot_and_recorded(conn, history, tmp_path):
    first = E.export(conn, "preferences", str(tmp_path / "a"))
    second = E.export(conn, "preferences", str(tmp_path / "b"))
    files_a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    files_b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert files_a == files_b and len(files_a) == 5, "README.md, data/{train,test}.parquet, jsonl/{train,test}.jsonl: byte-identical"
    assert first["snapshot_id"] == second["snapshot_id"]
    lines = "".join(f"{hashlib.sha256(files_a[Path(p)]).hexdigest()}  {p}\n"
                    for p in sorted(str(k) for k in files_a if not str(k).endswith("README.md")))
    assert first["snapshot_id"] == hashlib.sha256(lines.encode()).hexdigest(), "the documented content hash"
    recorded = conn.execute("SELECT snapshot_id, kind, rows, files -> 'data/train.parquet' ->> 'sha256' "
                            "FROM ops.dataset_exports ORDER BY id").fetchall()
    assert recorded == [(first["snapshot_id"], "preferences", first["rows"],
                         hashlib.sha256(files_a[Path("data/train.parquet")]).hexdigest())] * 2
    # New data, new snapshot; --since leaves the older runs out.
    run = next(r for r, (t, k) in history.items() if k == "pending")
    conn.execute("INSERT INTO ops.agent_run_outcomes (run_id, kind, state) VALUES (%s, 'review', 'approved')", (run,))
    conn.execute("SELECT ops.score_agent_runs(ARRAY[%s]::bigint[])", (run,))
    third = E.export(conn, "preferences", str(tmp_path / "c"))
    assert third["snapshot_id"] != first["snapshot_id"] and third["rows"] > first["rows"], "an approved run pairs"
    since = E.export(conn, "kto", str(tmp_path / "d"), since=conn.execute("SELECT now()").fetchone()[0])
    assert since["rows"] == 0 and list(since["files"]) == ["README.md"]


def test_a_planted_secret_never_reaches_an_export(shared, tmp_path):
    conn, _ = shared
    stored = conn.execute("SELECT count(*) FROM ops.agent_runs WHERE patch LIKE %s OR transcript::text LIKE %s",
                          (f"%{SECRET_PATCH}%", f"%{SECRET_TRANSCRIPT}%")).fetchone()[0]
    assert stored > 0, "planted straight into the table, past the redacting API"
    for kind in E.KINDS:
        E.export(conn, kind, str(tmp_path / kind))
    everything = _all_bytes(tmp_path)
    assert SECRET_PATCH.encode() not in everything and SECRET_TRANSCRIPT.encode() not in everything
    jsonl = b"".join(p.read_bytes() for p in tmp_path.rglob("*.jsonl"))
    assert b"[REDACTED:" in jsonl, "redacted in place, the rest of the text kept"
    import pyarrow.parquet as pq
    for p in tmp_path.rglob("*.parquet"):
        text = json.dumps(pq.read_table(p).to_pylist())
        assert SECRET_PATCH not in text and SECRET_TRANSCRIPT not in text


@pytest.fixture
def s3_server(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    yield f"http://{host}:{port}"
    server.stop()


def test_ops_export_to_s3_matches_the_directory_export(db_url, tmp_path, s3_server, offline_hf):
    with psycopg.connect(db_url) as c:
        make_history(c)
    s3 = boto3.client("s3", endpoint_url=s3_server)
    s3.create_bucket(Bucket="training")
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    result = ops("export", "kto", "--out", "s3://training/fixbot/v1", "--endpoint-url", s3_server, "--json",
                 url=db_url, env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    local = ops("export", "kto", "--out", str(tmp_path / "local"), "--json", url=db_url, env=env)
    assert local.returncode == 0 and json.loads(local.stdout)["snapshot_id"] == doc["snapshot_id"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="training", Prefix="fixbot/v1/")["Contents"])
    assert keys == sorted(f"fixbot/v1/{rel}" for rel in doc["files"])
    download = tmp_path / "downloaded"
    for key in keys:
        body = s3.get_object(Bucket="training", Key=key)["Body"].read()
        rel = key.removeprefix("fixbot/v1/")
        assert body == (tmp_path / "local" / rel).read_bytes(), rel
        (download / rel).parent.mkdir(parents=True, exist_ok=True)
        (download / rel).write_bytes(body)
    import datasets
    assert sum(len(s) for s in datasets.load_dataset(str(download)).values()) == doc["rows"] > 0

    no_bucket = ops("export", "kto", "--out", "s3:///prefix", "--json", url=db_url, env=env)
    assert no_bucket.returncode == 3 and "has no bucket" in json.loads(no_bucket.stdout)["reason"]
    missing = ops("export", "kto", "--out", "s3://no-such-bucket/x", "--endpoint-url", s3_server, "--json",
                  url=db_url, env=env)
    assert missing.returncode == 4 and "NoSuchBucket" in json.loads(missing.stdout)["reason"]


@pytest.mark.parametrize("kind", ["sft", "preferences", "kto"])
def test_an_export_with_no_row_says_why_and_writes_only_the_card(db_url, tmp_path, kind):
    result = ops("export", kind, "--out", str(tmp_path / kind), url=db_url)
    assert result.returncode == 0, result.stderr
    assert f"{kind}: 0 rows" in result.stdout
    assert f"no run qualifies for {kind} yet" in result.stderr and "only the dataset card was written" in result.stderr
    assert sorted(p.name for p in (tmp_path / kind).iterdir()) == ["README.md"]


@pytest.mark.parametrize("command", [["export"], ["classifier"], ["classifier", "train"], ["classifier", "eval"],
                                     ["classifier", "suggest"]])
def test_the_learning_commands_have_help(command):
    result = ops(*command, "--help")
    assert result.returncode == 0 and f"usage: ops {' '.join(command)}" in result.stdout


def test_a_reexport_to_a_folder_of_the_same_name_loads_the_new_rows(conn, history, tmp_path):
    """`datasets` caches a local folder's build by folder and config name: the config is named after the snapshot,
    so the second export is not read back from the first one's cache."""
    import datasets

    def loaded(path):
        return sum(split.num_rows for split in datasets.load_dataset(str(path), cache_dir=str(tmp_path / "cache")).values())

    first = E.export(conn, "kto", str(tmp_path / "1" / "kto"))
    assert loaded(tmp_path / "1" / "kto") == first["rows"]
    run = next(r for r, (t, k) in history.items() if k == "pending")
    conn.execute("INSERT INTO ops.agent_run_outcomes (run_id, kind, state) VALUES (%s, 'review', 'approved')", (run,))
    conn.execute("SELECT ops.score_agent_runs(ARRAY[%s]::bigint[])", (run,))
    second = E.export(conn, "kto", str(tmp_path / "2" / "kto"))
    assert second["rows"] == first["rows"] + 1
    assert loaded(tmp_path / "2" / "kto") == second["rows"]
