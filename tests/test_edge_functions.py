"""The Edge Functions (supabase/functions): deno check/lint/fmt, their own Deno tests against a real
PostgreSQL, and the running ingest and webhook functions driven over HTTP from Python."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_problem import nasty, postgres_redact
from worker import ROOT, generated, problem, signing, ssot

FUNCTIONS = ROOT / "supabase" / "functions"
SECRET = "edge-test-secret"
WEBHOOK_SECRET = "edge-test-webhook-secret"
MAX_BODY = 256 * 1024


def deno() -> str:
    beside = Path(sys.executable).parent / "deno"
    found = str(beside) if beside.exists() else shutil.which("deno")
    assert found, "deno is a test dependency (PyPI package `deno`): pip install -e '.[test]'"
    return found


def deno_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SUPABASE_DB_URL", "OPS_INGEST_SECRET")}
    env.update(DENO_DIR=str(ROOT / ".ops" / "deno"), NO_COLOR="1", DENO_NO_UPDATE_CHECK="1",
               OPS_PROBLEM_MEMBER=problem.config().extension_member)
    env.update(extra)
    return env


def run_deno(*args: str, timeout: int = 240, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([deno(), *args], cwd=FUNCTIONS, env=deno_env(**env), capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("command", [["check", "."], ["lint"], ["fmt", "--check"]], ids=["check", "lint", "fmt"])
def test_deno_static_checks(command):
    result = run_deno(*command)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deno_tests_against_postgres(db_url):
    result = run_deno("test", "-A", "--no-prompt", ".", SUPABASE_DB_URL=db_url)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert " 0 failed" in output and "ignored" not in output.split("ok |")[-1], output[-2000:]


# -- redaction: one set of rules, three engines ------------------------------------------------------

def test_the_generated_typescript_files_are_current():
    stale = generated.write_generated(check=True)
    assert stale == [], (f"{', '.join(map(str, stale))} is out of date with the SSOT: run "
                         "`.venv/bin/python -m worker.generated --write-generated` and commit the result")


DENO_REDACT = ('import { redact } from "./_shared/redaction.ts";'
               "const texts = JSON.parse(await new Response(Deno.stdin.readable).text());"
               "console.log(JSON.stringify(texts.map(redact)));")


def deno_redact(texts: list[str]) -> list[str]:
    result = subprocess.run([deno(), "eval", "--ext=ts", DENO_REDACT], check=False, cwd=FUNCTIONS, env=deno_env(),
                            input=json.dumps(texts), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(nasty, min_size=100, max_size=100))
def test_typescript_python_and_postgres_redact_alike(conn, texts):
    examples = [e for rule in ssot.load_yaml(ssot.REDACTION)["rules"] for e in rule["examples"]]
    texts = examples + texts
    in_postgres = postgres_redact(conn, texts)
    assert deno_redact(texts) == in_postgres
    assert [problem.redact(t) for t in texts] == in_postgres


DENO_VALIDATE = ('import { validate } from "./_shared/problem.ts";'
                 "const { docs, modes } = JSON.parse(await new Response(Deno.stdin.readable).text());"
                 "console.log(JSON.stringify(docs.map((d) => validate(d, modes))));")


def test_typescript_and_python_validate_alike():
    """The shared validate() of _shared/problem.ts and worker.problem.validate agree on what is valid."""
    modes = {c: {"code": m.code, "title": m.title, "http_status": m.http_status, "retryable": m.retryable}
             for c, m in problem.taxonomy().items()}
    good = [problem.build(c, "it broke", instance="/x", where="supabase_fn:t", run_id="1") for c in sorted(modes)]
    bad = []
    for change in (lambda d: d.update(title="Other"), lambda d: d.update(status=418),
                   lambda d: d["ipai"].update(code="AUTH.INVALID_JWT"), lambda d: d["ipai"].update(retryable=False),
                   lambda d: d["ipai"].update(code=None), lambda d: d.update(type="urn:ipai:problem:bad-request"),
                   lambda d: d.update(instance="not a uri"), lambda d: d.pop("detail"),
                   lambda d: d["ipai"].update(where="w" * 257), lambda d: d.update(status="503"),
                   lambda d: d.update(type="urn:ipai:failure:NOPE.NOT_A_CODE") or d["ipai"].update(code="NOPE.NOT_A_CODE")):
        doc = problem.build("DB.UNAVAILABLE", "x", instance="/x")
        change(doc)
        bad.append(doc)
    docs = good + bad + [{}, [], "x", None, {"type": "https://example.com/probs/out-of-credit", "title": "t"}]
    result = subprocess.run([deno(), "eval", "--ext=ts", DENO_VALIDATE], check=False, cwd=FUNCTIONS,
                            env=deno_env(), input=json.dumps({"docs": docs, "modes": modes}), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    in_typescript = [not errors for errors in json.loads(result.stdout)]
    in_python = [not problem.validate(d) for d in docs]
    assert in_typescript == in_python
    assert in_python == [True] * len(good) + [False] * (len(docs) - len(good))


# -- the running functions ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(function: str, permissions: tuple[str, ...] = ("-A",), **env: str):
    """`deno run` the function's index.ts on a free 127.0.0.1 port; yields the port."""
    port = free_port()
    proc = subprocess.Popen([deno(), "run", *permissions, "--no-prompt", f"{function}/index.ts"], cwd=FUNCTIONS,
                            env=deno_env(PORT=str(port), HOST="127.0.0.1", **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{function} did not start: {proc.stderr.read().decode(errors='replace')}")
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def request(port: int, body: bytes | None, *, method: str = "POST", path: str = "/ops-ingest-error",
            content_type: str | None = "application/json", token: str | None = SECRET,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    h = dict(headers or {})
    if content_type is not None:
        h["Content-Type"] = content_type
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=h)
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def assert_problem(status: int, headers: dict[str, str], body: bytes) -> dict:
    assert headers.get("content-type") == problem.MEDIA_TYPE, (status, body[:300])
    doc = json.loads(body)
    assert problem.validate(doc) == [], doc
    assert doc["status"] == status, "the status member equals the HTTP status"
    return doc


@pytest.fixture(scope="module")
def ingest(module_db_url):
    with serve("ops-ingest-error", SUPABASE_DB_URL=module_db_url, OPS_INGEST_SECRET=SECRET) as port:
        yield port


@pytest.fixture(scope="module")
def ingest_db(module_db_url):
    with psycopg.connect(module_db_url, autocommit=True) as c:
        yield c


def test_a_raw_error_is_stored(ingest, ingest_db):
    status, headers, body = request(ingest, json.dumps({
        "source": "supabase_fn", "phase": "handler", "message": "Error: connect ECONNREFUSED 10.0.0.5:5432",
        "top_frame": "at handler (index.ts:12:5)", "run_id": "r-1", "correlation_id": "c-1",
        "where": "supabase_fn:checkout", "context": {"attempt": 2}}).encode())
    assert status == 202, body
    doc = json.loads(body)
    assert set(doc) == {"event_id", "code", "fingerprint", "count", "duplicate"} and doc["duplicate"] is False
    row = ingest_db.execute("SELECT source, code, fingerprint, origin FROM ops.error_events WHERE id = %s",
                            (doc["event_id"],)).fetchone()
    assert row == ("supabase_fn", doc["code"], doc["fingerprint"], "supabase_fn:checkout")
    # The context arrives as a JSON object, not as a string holding JSON.
    assert ingest_db.execute("SELECT context FROM ops.error_events WHERE id = %s",
                             (doc["event_id"],)).fetchone() == ({"attempt": 2},)


def test_a_problem_document_is_stored_with_its_code(ingest, ingest_db):
    envelope = problem.build("AUTH.SUPABASE.TOKEN_STALE", "the access token expired", instance="/deploy",
                             where="github_actions:deploy", run_id="77")
    status, _, body = request(ingest, problem.dumps(envelope), content_type=problem.MEDIA_TYPE)
    assert status == 202, body
    doc = json.loads(body)
    assert doc["code"] == "AUTH.SUPABASE.TOKEN_STALE"
    assert ingest_db.execute("SELECT source, run_id FROM ops.error_events WHERE id = %s",
                             (doc["event_id"],)).fetchone() == ("github_actions", "77")


@pytest.mark.parametrize(("kwargs", "status", "code_or_type"), [
    ({"token": None}, 401, "urn:ipai:failure:AUTH.INVALID_JWT"),
    ({"token": "wrong"}, 401, "urn:ipai:failure:AUTH.INVALID_JWT"),
    ({"method": "GET", "body": None}, 405, "urn:ipai:failure:HTTP.METHOD_NOT_ALLOWED"),
    ({"method": "PUT"}, 405, "urn:ipai:failure:HTTP.METHOD_NOT_ALLOWED"),
    ({"content_type": "text/plain"}, 415, "urn:ipai:failure:HTTP.UNSUPPORTED_MEDIA_TYPE"),
    ({"body": b'{"message": "no source"}'}, 400, "urn:ipai:failure:HTTP.BAD_REQUEST"),
    ({"body": b"x" * (MAX_BODY + 1)}, 413, "urn:ipai:failure:HTTP.PAYLOAD_TOO_LARGE"),
])
def test_failures_are_problem_documents(ingest, kwargs, status, code_or_type):
    kwargs = {"body": b'{"source": "ops", "message": "x"}', **kwargs}
    got, headers, body = request(ingest, kwargs.pop("body"), **kwargs)
    assert got == status, body
    doc = assert_problem(got, headers, body)
    assert doc["type"] == code_or_type and doc["ipai"]["code"] == code_or_type.rsplit(":", 1)[1]


def test_the_missing_field_is_named(ingest):
    status, headers, body = request(ingest, b'{"source": "ops"}')
    doc = assert_problem(status, headers, body)
    assert status == 400 and doc["field"] == "message" and "message" in doc["detail"]


def test_database_down_is_503_retryable():
    with serve("ops-ingest-error", SUPABASE_DB_URL=f"postgresql://nobody:x@127.0.0.1:{free_port()}/none",
               OPS_INGEST_SECRET=SECRET) as port:
        status, headers, body = request(port, b'{"source": "ops", "message": "x"}')
    doc = assert_problem(status, headers, body)
    assert (status, doc["ipai"]["code"], doc["ipai"]["retryable"]) == (503, "DB.UNAVAILABLE", True)
    assert headers.get("retry-after") == "5"


@pytest.mark.parametrize("wrong", ["password", "dbname"])
def test_a_database_that_refuses_the_login_is_503_not_retryable(module_db_url, wrong):
    """A bad password or a database that does not exist: retrying cannot help, so no Retry-After."""
    info = psycopg.conninfo.conninfo_to_dict(module_db_url)
    info[wrong] = "not-the-" + wrong
    url = f"postgresql://{info['user']}:{info['password']}@{info['host']}:{info['port']}/{info['dbname']}"
    with serve("ops-ingest-error", SUPABASE_DB_URL=url, OPS_INGEST_SECRET=SECRET) as port:
        status, headers, body = request(port, b'{"source": "ops", "message": "x"}')
    doc = assert_problem(status, headers, body)
    assert (status, doc["ipai"]["code"], doc["ipai"]["retryable"]) == (503, "DB.LOGIN_REJECTED", False)
    assert "retry-after" not in headers
    assert ("28P01" if wrong == "password" else "3D000") in doc["detail"]


def test_missing_configuration_is_env_key_missing():
    with serve("ops-ingest-error") as port:
        status, headers, body = request(port, b'{"source": "ops", "message": "x"}')
    doc = assert_problem(status, headers, body)
    assert (status, doc["ipai"]["code"]) == (503, "ENV.KEY_MISSING")
    assert "SUPABASE_DB_URL" in doc["detail"]


def test_a_missing_ingest_secret_is_env_key_missing_and_recorded(module_db_url, ingest_db):
    before = own_failures(ingest_db, "ENV.KEY_MISSING")
    with serve("ops-ingest-error", SUPABASE_DB_URL=module_db_url) as port:
        status, headers, body = request(port, b'{"source": "ops", "message": "x"}')
    doc = assert_problem(status, headers, body)
    assert (status, doc["ipai"]["code"], doc["ipai"]["retryable"]) == (503, "ENV.KEY_MISSING", False)
    assert "OPS_INGEST_SECRET" in doc["detail"] and SECRET not in body.decode()
    assert own_failures(ingest_db, "ENV.KEY_MISSING") == before + 1


def own_failures(conn, code: str, origin: str = "supabase_fn:ops-ingest-error") -> int:
    return conn.execute("SELECT count(*) FROM ops.error_events WHERE code = %s AND origin = %s",
                        (code, origin)).fetchone()[0]


# -- bearer JWTs over real HTTP --------------------------------------------------------------------------

JWT_SECRET = "edge-test-jwt-secret-at-least-32-characters"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims: dict, secret: str = JWT_SECRET, header: dict | None = None) -> str:
    head = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


@pytest.fixture(scope="module")
def ingest_with_jwts(module_db_url):
    with serve("ops-ingest-error", SUPABASE_DB_URL=module_db_url, OPS_INGEST_SECRET=SECRET,
               SUPABASE_JWT_SECRET=JWT_SECRET) as port:
        yield port


def test_a_valid_service_role_jwt_is_accepted(ingest_with_jwts):
    token = jwt({"role": "service_role", "exp": int(time.time()) + 600})
    status, _, body = request(ingest_with_jwts, b'{"source": "vercel", "message": "jwt accepted"}', token=token)
    assert status == 202, body
    # ... as an external producer: the internal sources are reserved for the system's roles
    status, _, body = request(ingest_with_jwts, b'{"source": "ops", "message": "jwt forged"}', token=token)
    assert status == 400 and b"JWT role service_role may not write it" in body, body


@pytest.mark.parametrize(("token", "says"), [
    (lambda: jwt({"role": "service_role", "exp": int(time.time()) - 10}), "expired"),
    (lambda: jwt({"role": "service_role", "exp": int(time.time()) + 600}, secret="another-secret"), "signature"),
    (lambda: jwt({"role": "anon", "exp": int(time.time()) + 600}), "role"),
    (lambda: jwt({"role": "service_role"}), "expiry"),
    (lambda: jwt({"role": "service_role", "exp": int(time.time()) + 600}, header={"alg": "none"}), "HS256"),
    (lambda: jwt({"role": "service_role", "exp": int(time.time()) + 600})[:-3] + "A.B", "not"),
    (lambda: "eyJhbGciOiJIUzI1NiJ9.e30", "not valid"),
    (lambda: jwt({"role": "service_role", "exp": int(time.time()) + 600}).rsplit(".", 1)[0] + ".A", "base64url"),
], ids=["expired", "bad-signature", "anon-role", "no-expiry", "alg-none", "malformed", "two-parts", "odd-base64"])
def test_bad_and_expired_jwts_are_auth_invalid_jwt(ingest_with_jwts, ingest_db, token, says):
    before = own_failures(ingest_db, "AUTH.INVALID_JWT")
    status, headers, body = request(ingest_with_jwts, b'{"source": "ops", "message": "x"}', token=token())
    doc = assert_problem(status, headers, body)
    assert (status, doc["ipai"]["code"]) == (401, "AUTH.INVALID_JWT")
    assert headers.get("www-authenticate", "").startswith("Bearer")
    assert says in doc["detail"], doc["detail"]
    assert "eyJ" not in body.decode(), "the token never comes back"
    assert own_failures(ingest_db, "AUTH.INVALID_JWT") == before + 1


# -- the catch-all: an unexpected exception is a 500 UNKNOWN.SUPABASE_FN, and recorded -------------------

def test_an_unexpected_error_in_the_ingest_function_is_recorded(module_db_url, ingest_db):
    """Deno refuses the function access to SUPABASE_JWT_SECRET: Deno.env.get throws (NotCapable)."""
    before = own_failures(ingest_db, "UNKNOWN.SUPABASE_FN")
    with serve("ops-ingest-error", ("-A", "--deny-env=SUPABASE_JWT_SECRET"),
               SUPABASE_DB_URL=module_db_url, OPS_INGEST_SECRET=SECRET) as port:
        status, headers, body = request(port, b'{"source": "ops", "message": "x"}',
                                        headers={"X-Correlation-Id": "catch-all-1"})
    doc = assert_problem(status, headers, body)
    assert (status, doc["ipai"]["code"], doc["detail"]) == (500, "UNKNOWN.SUPABASE_FN", "unexpected error")
    assert "SUPABASE_JWT_SECRET" not in body.decode(), "no internals in the answer"
    assert own_failures(ingest_db, "UNKNOWN.SUPABASE_FN") == before + 1
    message, correlation = ingest_db.execute(
        "SELECT message, correlation_id FROM ops.error_events WHERE code = 'UNKNOWN.SUPABASE_FN' "
        "AND origin = 'supabase_fn:ops-ingest-error' ORDER BY id DESC LIMIT 1").fetchone()
    assert "SUPABASE_JWT_SECRET" in message and correlation == "catch-all-1"


def test_an_unexpected_error_in_the_webhook_function_is_recorded(module_db_url, ingest_db):
    """Deno refuses the function access to OPS_WEBHOOK_TOLERANCE, read after the body."""
    origin = "supabase_fn:ops-webhook"
    before = own_failures(ingest_db, "UNKNOWN.SUPABASE_FN", origin)
    with serve("ops-webhook", ("-A", "--deny-env=OPS_WEBHOOK_TOLERANCE"),
               SUPABASE_DB_URL=module_db_url, OPS_WEBHOOK_SECRET=WEBHOOK_SECRET) as port:
        body = b'{"escalation_id": 1}'
        status, headers, payload = request(port, body, path="/ops-webhook", token=None,
                                           headers=signing.sign(WEBHOOK_SECRET.encode(), body, "catch-all-2"))
    doc = assert_problem(status, headers, payload)
    assert (status, doc["ipai"]["code"]) == (500, "UNKNOWN.SUPABASE_FN")
    assert own_failures(ingest_db, "UNKNOWN.SUPABASE_FN", origin) == before + 1


def test_a_message_over_the_byte_limit_is_413_naming_message(ingest):
    limit = 64 * 1024
    ok = request(ingest, json.dumps({"source": "ops", "message": "m" * limit}).encode())
    assert ok[0] == 202, ok[2][:300]
    for message in ("m" * (limit + 1), "\u00e9" * (limit // 2 + 1)):  # bytes of UTF-8, not characters
        status, headers, body = request(ingest, json.dumps({"source": "ops", "message": message},
                                                           ensure_ascii=False).encode())
        doc = assert_problem(status, headers, body)
        assert (status, doc["ipai"]["code"], doc["field"]) == (413, "HTTP.PAYLOAD_TOO_LARGE", "message")


# -- the property: whatever arrives, the answer is a problem document or a stored 202 -----------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=5),
    max_leaves=25)
fields = st.sampled_from(["source", "message", "phase", "top_frame", "run_id", "correlation_id", "where",
                          "context", "code", "type", "title", "detail", "status", "ipai"])
raw_errors = st.fixed_dictionaries(
    {"source": st.sampled_from(["ops", "supabase_fn", "vercel", "nowhere", "", " OPS "]) | st.text(max_size=5),
     "message": st.text(min_size=0, max_size=300)},
    optional={"phase": st.text(max_size=20) | st.none(), "run_id": st.text(max_size=20) | st.integers(),
              "context": json_values, "where": st.text(max_size=30), "code": st.sampled_from(
                  ["ENV.KEY_MISSING", "NOPE.X", ""])})
deep = st.integers(min_value=1, max_value=5000).map(
    lambda n: ('{"source":"ops","message":"deep","context":' + '{"a":' * n + "1" + "}" * n + "}").encode())
huge = st.integers(min_value=MAX_BODY - 64, max_value=MAX_BODY * 3).map(
    lambda n: b'{"source":"ops","message":"' + b"y" * n + b'"}')
bodies = st.one_of(
    raw_errors.map(lambda d: json.dumps(d).encode()),
    st.dictionaries(fields, json_values, max_size=6).map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
    raw_errors.map(lambda d: json.dumps(d).encode().replace(b'"', b'"\xff\xc3', 1)),  # invalid UTF-8
    raw_errors.map(lambda d: json.dumps(d, ensure_ascii=False).encode() + b"\x00"),
    st.just(b'{"source":"ops","message":"nul \\u0000 and \\ud800 lone surrogate"}'),
    deep, huge)
content_types = st.sampled_from(["application/json", "application/problem+json", "application/json; charset=utf-8",
                                 "text/plain", "application/x-www-form-urlencoded", "", None, "application/vnd.x+json",
                                 "multipart/form-data; boundary=x"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                     HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=content_types)
def test_any_request_gets_a_problem_document_or_a_stored_202(ingest, ingest_db, body, content_type):
    status, headers, payload = request(ingest, body, content_type=content_type)
    assert status in (202, 400, 413, 415), (status, payload[:500])
    if status == 202:
        doc = json.loads(payload)
        assert ingest_db.execute("SELECT count(*) FROM ops.error_events WHERE id = %s AND fingerprint = %s",
                                 (doc["event_id"], doc["fingerprint"])).fetchone()[0] == 1
    else:
        assert_problem(status, headers, payload)


# -- the webhook receiver checks what worker/signing.py signs -------------------------------------------

def test_the_webhook_receiver_verifies_python_signatures():
    with serve("ops-webhook", OPS_WEBHOOK_SECRET=WEBHOOK_SECRET) as port:
        body = json.dumps({"escalation_id": 1, "code": "ENV.KEY_MISSING"}).encode()
        headers = signing.sign(WEBHOOK_SECRET.encode(), body, "delivery-1")
        ok = request(port, body, path="/ops-webhook", token=None, headers=headers)
        assert ok[0] == 204, ok
        # The same bytes again: a replay.
        status, h, payload = request(port, body, path="/ops-webhook", token=None, headers=headers)
        doc = assert_problem(status, h, payload)
        assert (status, doc["ipai"]["code"], doc["reason"]) == (401, "AUTH.WEBHOOK_SIGNATURE_INVALID", "replayed")
        # The worker re-delivering after a crash signs afresh: acknowledged, not processed twice.
        resigned = signing.sign(WEBHOOK_SECRET.encode(), body, "delivery-1")
        assert resigned[signing.TIMESTAMP] != headers[signing.TIMESTAMP]
        again = request(port, body, path="/ops-webhook", token=None, headers=resigned)
        assert (again[0], json.loads(again[2])) == (200, {"duplicate": True, "delivery_id": "delivery-1"})
        for attempt, expected in [(dict(body=body + b" ", headers=signing.sign(WEBHOOK_SECRET.encode(), body, "d-2")),
                                   "bad_signature"),
                                  (dict(body=body, headers=signing.sign(WEBHOOK_SECRET.encode(), body, "d-3",
                                                                        int(time.time()) - 3600)), "expired"),
                                  (dict(body=body, headers={}), "missing_header")]:
            status, h, payload = request(port, attempt["body"], path="/ops-webhook", token=None,
                                         headers=attempt["headers"])
            doc = assert_problem(status, h, payload)
            assert (status, doc["ipai"]["code"], doc["reason"]) == (401, "AUTH.WEBHOOK_SIGNATURE_INVALID", expected)


def test_the_webhook_receiver_without_its_secret_is_env_key_missing():
    with serve("ops-webhook") as port:
        status, headers, body = request(port, b"{}", path="/ops-webhook", token=None)
    assert (status, assert_problem(status, headers, body)["ipai"]["code"]) == (503, "ENV.KEY_MISSING")
