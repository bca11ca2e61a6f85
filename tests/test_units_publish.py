"""Publish against a real S3-compatible server (moto in server mode on 127.0.0.1), verify, impact, deprecate.

The fault is injected by a small HTTP proxy in front of moto that answers 500 to every PUT of one
object key: the store sees a real server failing, boto3 retries and gives up.
"""

from __future__ import annotations

import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import psycopg
import pytest
from moto.server import ThreadedMotoServer

from tests.units_kit import FIXTURES, Tree, aliases, ci
from worker.units import cli, publish
from worker.units.store import open_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(moto, monkeypatch, request):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = "units-" + request.node.name.lower().replace("_", "-")[:40]
    client = boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return client, bucket


class FaultProxy:
    """Forwards to moto; every PUT whose path contains ``fail_on`` gets a 500 InternalError."""

    def __init__(self, upstream: str, fail_on: str) -> None:
        self.host, self.port = upstream.removeprefix("http://").split(":")
        self.fail_on, self.puts = fail_on, []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "PUT":
                    proxy.puts.append(self.path)
                    if proxy.fail_on in self.path:
                        payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
                        self.send_response(500)
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                conn = http.client.HTTPConnection(proxy.host, int(proxy.port), timeout=10)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def _three_units(tmp_path):
    t = Tree(tmp_path / "units")
    for name in ("plan-boot", "write-code", "sol-1-boot", "review-boot"):
        t.remove(name)
    for name in ("alpha", "beta"):
        t.write(name, t.unit(name, type_="fragment"))
    return t  # reviewer, alpha, beta (+ the council, which is not published)


def _keys(client, bucket):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_publish_to_s3_writes_objects_then_records_them(db_url, s3, moto, tmp_path):
    client, bucket = s3
    t = _three_units(tmp_path)
    with psycopg.connect(db_url) as conn:
        res = publish.publish(conn, [str(t.root)], open_store(f"s3://{bucket}", endpoint_url=moto))
        assert res.exit_code == 0 and len(res.published) == 3
        rows = conn.execute("SELECT address, store, object_key FROM ops.published_units ORDER BY 1").fetchall()
    assert [r[0] for r in rows] == ["strat://dev/fragment/alpha@1.0.0", "strat://dev/fragment/beta@1.0.0",
                                    "strat://dev/role/reviewer@1.0.0"]
    assert _keys(client, bucket) == sorted(r[2] for r in rows)


def test_a_fault_on_the_second_of_three_writes_publishes_nothing_and_records_fm08(db_url, s3, moto, tmp_path,
                                                                                  monkeypatch, capsys):
    client, bucket = s3
    t = _three_units(tmp_path)
    t.edit("alpha", lambda d: d.pop("fingerprint"), fingerprint=False)  # publish would write it...
    t.edit("beta", lambda d: d.update(fingerprint="blake3:" + "0" * 64), fingerprint=False)  # ...and fix this one
    before = {p.name: p.read_bytes() for p in t.root.iterdir()}
    # Files are published in path order: alpha, beta, reviewer. Beta is the second write.
    proxy = FaultProxy(moto, fail_on="/units/dev/fragment/beta/")
    monkeypatch.setenv("DATABASE_URL", db_url)
    try:
        rc = cli.main(["publish", str(t.root), "--store", f"s3://{bucket}", "--endpoint-url", proxy.url])
    finally:
        proxy.close()
    assert rc == 4
    assert "FM-08 INFRA.R2.PUBLISH_FAILED" in capsys.readouterr().err
    assert any("/alpha/" in p for p in proxy.puts) and any("/beta/" in p for p in proxy.puts)
    assert not any("/reviewer/" in p for p in proxy.puts)  # the third write never happened
    assert _keys(client, bucket) == []  # alpha, written first, was removed again
    assert {p.name: p.read_bytes() for p in t.root.iterdir()} == before  # the fingerprint commit rolled back too
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM ops.published_units").fetchone()[0] == 0
        run = conn.execute("SELECT id, kind, status, exit_code FROM ops.maintenance_runs").fetchone()
        assert run[1:] == ("publish", "error", 4)
        event = conn.execute("SELECT check_alias, code, outcome, severity FROM ops.maintenance_run_events "
                             "WHERE run_id = %s", (run[0],)).fetchone()
        assert event == ("FM-08", "INFRA.R2.PUBLISH_FAILED", "fail", "infrastructure")
        err = conn.execute("SELECT code, source, phase FROM ops.agent_errors WHERE source = 'stratt'").fetchone()
        assert err == ("INFRA.R2.PUBLISH_FAILED", "stratt", "publish")


def test_a_published_version_is_immutable(db_url, tmp_path):
    t = _three_units(tmp_path)
    store = f"file://{tmp_path / 'objects'}"
    with psycopg.connect(db_url) as conn:
        assert publish.publish(conn, [str(t.root)], open_store(store)).exit_code == 0
        again = publish.publish(conn, [str(t.root)], open_store(store))
        assert again.exit_code == 0 and len(again.unchanged) == 3 and again.published == []
        t.edit("alpha", lambda d: d["meta"].update(title="changed"), fingerprint=False)  # stale fingerprint line
        t.edit("beta", lambda d: d.pop("fingerprint"), fingerprint=False)
        before = {p.name: p.read_bytes() for p in t.root.iterdir()}
        refused = publish.publish(conn, [str(t.root)], open_store(store))
    assert refused.exit_code == 1 and "immutable" in refused.messages[0]
    assert refused.updated_files == [] and {p.name: p.read_bytes() for p in t.root.iterdir()} == before


def test_publish_writes_the_fingerprint_into_the_file(db_url, tmp_path):
    t = _three_units(tmp_path)
    t.edit("alpha", lambda d: d.pop("fingerprint"), fingerprint=False)
    with psycopg.connect(db_url) as conn:
        res = publish.publish(conn, [str(t.root)], open_store(f"file://{tmp_path / 'objects'}"))
    assert res.exit_code == 0 and res.updated_files and "fingerprint" in t.read("alpha")


def test_verify_impact_and_deprecate(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    objects = tmp_path / "objects"
    assert cli.main(["publish", str(FIXTURES / "pathfinder"), "--store", f"file://{objects}"]) == 0
    capsys.readouterr()
    assert cli.main(["verify", "strat://dev/role/reviewer@1.0.0"]) == 0
    assert cli.main(["verify", "strat://dev/role/nobody@1.0.0"]) == 3
    stored = objects / "units/dev/role/reviewer/1.0.0.yaml"
    stored.write_text(stored.read_text().replace("You review", "You rubber-stamp"))
    assert cli.main(["verify", "strat://dev/role/reviewer@1.0.0"]) == 2
    assert "TAMPERED" in capsys.readouterr().out

    assert cli.main(["impact", "strat://dev/role/reviewer@1.0.0", "--json"]) == 0
    import json
    radius = json.loads(capsys.readouterr().out)
    assert (radius["direct"], radius["transitive"]) == (1, 2)
    assert [d["address"] for d in radius["dependents"]] == ["strat://dev/task/review-boot@1.0.0",
                                                            "strat://dev/chain/sol-1-boot@1.0.0"]
    assert radius["dependents"][1]["gate_bearing"]

    assert cli.main(["deprecate", "strat://dev/task/plan-boot@1.0.0", "--reason", "split in two"]) == 0
    assert cli.main(["deprecate", "strat://dev/task/nothing@1.0.0", "--reason", "x"]) == 1
    # A chain that runs the deprecated version from the registry gets the FM-07 deprecated warning.
    t = Tree(tmp_path / "units")
    t.remove("plan-boot")
    r = ci(db_url, [t.root])
    assert r.exit_code == 0 and aliases(r, "warn") == ["FM-07"]
    assert "deprecated" in [f for f in r.findings if f["alias"] == "FM-07"][0]["message"]
