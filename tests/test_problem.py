"""The Problem Details envelope: RFC 9457's examples, every taxonomy code, lenient parsing, recording."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker import pgregex, problem, redaction, ssot, taxonomy

# RFC 9457 section 3 (and its 3.1.1 / RFC 7807 validation example), verbatim.
OUT_OF_CREDIT = {
    "type": "https://example.com/probs/out-of-credit",
    "title": "You do not have enough credit.",
    "detail": "Your current balance is 30, but that costs 50.",
    "instance": "/account/12345/msgs/abc",
    "balance": 30,
    "accounts": ["/account/12345", "/account/67890"],
}
INVALID_PARAMS = {
    "type": "https://example.net/validation-error",
    "title": "Your request parameters didn't validate.",
    "invalid-params": [
        {"name": "age", "reason": "must be a positive integer"},
        {"name": "color", "reason": "must be 'green', 'red' or 'blue'"},
    ],
}
VALIDATION_ERRORS = {
    "type": "https://example.net/validation-error",
    "title": "Your request is not valid.",
    "errors": [
        {"detail": "must be a positive integer", "pointer": "#/age"},
        {"detail": "must be 'green', 'red' or 'blue'", "pointer": "#/profile/color"},
    ],
}
RFC_EXAMPLES = [OUT_OF_CREDIT, INVALID_PARAMS, VALIDATION_ERRORS]
CODES = sorted(problem.taxonomy())


def base_validator():
    schema = problem.schema()
    return jsonschema.Draft202012Validator({**schema, "allOf": [{"$ref": "#/$defs/problem_details"}]})


def test_the_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(problem.schema())


@pytest.mark.parametrize("doc", RFC_EXAMPLES, ids=["out-of-credit", "invalid-params", "errors"])
def test_rfc_examples_are_problem_details_but_not_our_envelope(doc):
    assert list(base_validator().iter_errors(doc)) == []
    errors = problem.validate(doc)
    assert errors and any("ipai" in e for e in errors), "our envelope requires the extension member"


def test_rfc_extensions_survive_parsing():
    p = problem.parse(json.dumps(OUT_OF_CREDIT))
    assert (p.type, p.title, p.status, p.instance) == (OUT_OF_CREDIT["type"], OUT_OF_CREDIT["title"], None,
                                                       OUT_OF_CREDIT["instance"])
    assert p.extensions == {"balance": 30, "accounts": ["/account/12345", "/account/67890"]}
    assert problem.parse(INVALID_PARAMS).extensions["invalid-params"][0]["name"] == "age"
    assert problem.parse({"title": "x"}).type == "about:blank", "RFC 9457 4.2.1: a missing type is about:blank"


@pytest.mark.parametrize("code", CODES)
def test_every_failure_mode_builds_a_valid_envelope(code):
    mode = problem.taxonomy()[code]
    doc = problem.build(code, "it broke", instance="/x", where="github_actions:ci", run_id="42")
    assert problem.validate(doc) == []
    assert doc["type"] == f"urn:ipai:failure:{code}"
    assert doc["status"] == (mode.http_status if mode.http_status is not None else 500)
    assert doc["ipai"] == {"code": code, "retryable": mode.retryable, "where": "github_actions:ci",
                           "correlation_id": None, "run_id": "42"}


def test_a_null_http_status_defaults_to_500():
    assert problem.config().default_status == 500
    nulls = [c for c, m in problem.taxonomy().items() if m.http_status is None]
    assert nulls and all(problem.build(c, "x")["status"] == 500 for c in nulls)


def test_the_database_copy_of_the_taxonomy_agrees(conn):
    assert taxonomy.taxonomy_from_db(conn) == problem.taxonomy()


@pytest.mark.parametrize(("code", "status", "retryable"), [
    ("HTTP.BAD_REQUEST", 400, False), ("HTTP.METHOD_NOT_ALLOWED", 405, False), ("HTTP.PAYLOAD_TOO_LARGE", 413, False),
    ("HTTP.UNSUPPORTED_MEDIA_TYPE", 415, False), ("DB.UNAVAILABLE", 503, True), ("DB.LOGIN_REJECTED", 503, False),
])
def test_request_level_problems_are_taxonomy_failures(code, status, retryable):
    doc = problem.build(code, "detail", instance="/x")
    assert problem.validate(doc) == []
    assert (doc["type"], doc["status"], doc["ipai"]["code"], doc["ipai"]["retryable"]) == (
        f"urn:ipai:failure:{code}", status, code, retryable)


@pytest.mark.parametrize("change", [
    lambda d: d.update(type="urn:ipai:problem:bad-request") or d["ipai"].update(code=None),
    lambda d: d["ipai"].update(code=None),
], ids=["second-type-family", "null-code"])
def test_every_envelope_names_a_code(change):
    doc = problem.build("HTTP.BAD_REQUEST", "x")
    change(doc)
    assert problem.validate(doc)


def test_foreign_documents_still_parse_leniently():
    p = problem.parse({"type": "urn:ipai:problem:bad-request", "title": "Bad request", "status": 400,
                       "ipai": {"code": None, "retryable": False}})
    assert (p.type, p.status, p.code, p.retryable) == ("urn:ipai:problem:bad-request", 400, None, False)


@pytest.mark.parametrize(("change", "needle"), [
    (lambda d: d.update(title="Something else"), "title"),
    (lambda d: d.update(status=418), "status"),
    (lambda d: d["ipai"].update(code="AUTH.INVALID_JWT"), "code"),
    (lambda d: d["ipai"].update(retryable=True), "retryable"),
    (lambda d: d.update(type="urn:ipai:failure:NOPE.NOT_A_CODE") or d["ipai"].update(code="NOPE.NOT_A_CODE"),
     "not in the taxonomy"),
    (lambda d: d.pop("ipai"), "ipai"),
    (lambda d: d["ipai"].pop("run_id"), "run_id"),
    (lambda d: d.update(type="https://example.com/x"), "type"),
])
def test_validate_catches_what_a_schema_alone_cannot(change, needle):
    doc = problem.build("ENV.KEY_MISSING", "X is not set", instance="/x")
    change(doc)
    errors = problem.validate(doc)
    assert errors and any(needle in e for e in errors), errors


def test_detail_is_redacted_and_storable():
    doc = problem.build("AUTH.INVALID_JWT", "token eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln and \x00 NUL",
                        run_id="ghp_" + "a" * 36)
    assert "eyJ" not in doc["detail"] and "[REDACTED" in doc["detail"] and "\u2400" in doc["detail"]
    assert "ghp_" not in doc["ipai"]["run_id"]


def test_python_redaction_changes_every_ssot_example():
    for rule in ssot.load_yaml(ssot.REDACTION)["rules"]:
        for example in rule["examples"]:
            assert problem.redact(example) != example, rule["name"]


# Pieces of secrets and of the characters on which regex engines disagree (values are fake).
FRAGMENTS = ["Bearer", "bearer", "TOKEN", "token", "basic", "password", "PASSWD", "api_key", "client-secret",
             "service_role_key", "=", ":", "'", '"', " ", "\t", "\n", "\r\n", "\u00a0", "\u2007", "\u3000",
             "\u2028", "\ufeff", "\u0085", "\u1680", "\u212a", "\u017f", "\u0130", "\U0001f600", "eyJhbGciOi",
             "eyJyb2xlIj", ".", "abcdefghijklmnop", "0123456789", "_-", "sk-", "sk-ant-", "ghp_", "github_pat_",
             "xoxb-", "sb_secret_", "sk_live_", "AKIA", "ABCDEFGHIJKLMNOP", "postgres://", "u:p", "@", "/",
             "hooks.slack.com/services/", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
             "$1", "$&", "\\1", "\\&", "\\", "&", ",", ";", "[REDACTED]"]


def storable(text: str) -> bool:
    """PostgreSQL text holds neither NUL nor lone surrogates (the functions replace both first)."""
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


nasty = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4).filter(storable), max_size=12).map("".join)


def postgres_redact(conn, texts: list[str]) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT ops.redact(t.x) FROM jsonb_array_elements_text(%s::jsonb) WITH ORDINALITY AS t (x, n) ORDER BY t.n",
        (json.dumps(texts),))]


def test_python_redaction_equals_postgres_on_every_example(conn):
    examples = [e for rule in ssot.load_yaml(ssot.REDACTION)["rules"] for e in rule["examples"]]
    assert [problem.redact(e) for e in examples] == postgres_redact(conn, examples)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(nasty, min_size=50, max_size=50))
def test_python_redaction_equals_postgres_on_nasty_strings(conn, texts):
    assert [problem.redact(t) for t in texts] == postgres_redact(conn, texts)


def test_the_space_class_is_the_servers_own(conn):
    """PostgreSQL's [[:space:]] (spelt out in pgregex.PG_SPACE for Python and TypeScript) in this server."""
    chars = [chr(i) for i in range(1, 0x10000) if not 0xD800 <= i < 0xE000]
    server = {r[0] for r in conn.execute("SELECT c FROM unnest(%s::text[]) c WHERE c ~ '^[[:space:]]$'", (chars,))}
    ours = {c for c in chars if re.fullmatch(f"[{pgregex.PG_SPACE}]", c)}
    assert server == ours


SPACE = pgregex.PG_SPACE


@pytest.mark.parametrize(("pattern", "python", "javascript"), [
    ("a[[:space:]]+b", f"a[{SPACE}]+b", f"a[{SPACE}]+b"),
    ("x\\s[^[:space:]@]$", f"x[{SPACE}][^{SPACE}@]\\Z", f"x[{SPACE}][^{SPACE}@]$"),
    ("[]a-]\\.(?:b|c)[[:digit:]]", "[\\]a-]\\.(?:b|c)[0-9]", "[\\]a-]\\.(?:b|c)[0-9]"),
    ("(?<=ab)c(?<![[:digit:]]x)", "(?<=ab)c(?<![0-9]x)", "(?<=ab)c(?<![0-9]x)"),   # a lookbehind of one width
])
def test_postgres_patterns_are_translated(pattern, python, javascript):
    assert (pgregex.portable_regex(pattern, "py"), pgregex.portable_regex(pattern, "js")) == (python, javascript)


@pytest.mark.parametrize("pattern", ["\\bword\\b", "\\yword", "(a)\\1", "\\w+", "[[:alpha:]]", "a*?b", "(?i)x",
                                     "(?<n>x)", "[[.a.]]", "[abc", "(?<=ab|c)x", "(?<!a+)x"])
def test_patterns_whose_meaning_would_differ_are_refused(pattern):
    with pytest.raises(pgregex.NotPortable):
        pgregex.portable_regex(pattern)


@pytest.mark.parametrize(("replacement", "parts"), [
    ("[REDACTED]", ["[REDACTED]"]), ("\\1[REDACTED]@", [1, "[REDACTED]@"]), ("\\1\\2x", [1, 2, "x"]),
    ("<\\&>", ["<", 0, ">"]), ("a\\\\b\\0\\x$1", ["a\\b\\0\\x$1"]), ("end\\", ["end\\"]),
])
def test_replacements_follow_postgres(replacement, parts, conn):
    assert pgregex.replacement_parts(replacement) == parts
    expected = conn.execute("SELECT regexp_replace('xaby', '(a)(b)', %s)", (replacement,)).fetchone()[0]
    rule = redaction.RedactionRule("t", re.compile("(a)(b)"), "", False, tuple(parts), None)
    assert rule.apply("xaby") == expected


@pytest.mark.parametrize(("value", "valid"), [
    ("/account/12345/msgs/abc", True), ("about:blank", True), ("https://example.com/probs/x?a=b#c", True),
    ("not a uri reference", False), ("http://[::1", False), ("%zz", False), ("<x>", False),
])
def test_format_uri_reference_is_checked(value, valid):
    assert "uri-reference" in problem.format_checker().checkers, "pip install 'jsonschema[format-nongpl]'"
    doc = problem.build("ENV.KEY_MISSING", "x", instance=value)
    assert (problem.validate(doc) == []) is valid
    checked = jsonschema.Draft202012Validator(base_validator().schema, format_checker=problem.format_checker())
    assert checked.is_valid({"type": value}) is valid, "the RFC 9457 base schema checks it too"


def test_the_extension_member_can_be_renamed():
    schema = problem.schema("acme")
    doc = problem.build("ENV.KEY_MISSING", "x")
    doc["acme"] = doc.pop("ipai")
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc)) == []
    assert problem.parse(doc, member="acme").code == "ENV.KEY_MISSING"


MALFORMED = [b"", b"{", b"\xff\xfe\x00", b"null", b"[]", b"42", b'"x"', b'{"status": "500"}',
             b'{"type": 7, "title": {}, "ipai": []}', b'{"status": true, "ipai": {"code": 5, "retryable": "no"}}',
             b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20)
problemish = st.fixed_dictionaries({}, optional={
    "type": json_values, "title": json_values, "status": json_values, "detail": json_values,
    "instance": json_values, "ipai": json_values | st.fixed_dictionaries({}, optional={
        k: json_values for k in problem.EXTENSION_FIELDS})})


@pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_documents_parse_without_raising(raw):
    p = problem.parse(raw)
    assert isinstance(p.type, str) and isinstance(p.summary, str)


@settings(max_examples=300, deadline=None)
@given(doc=json_values | problemish, as_bytes=st.booleans())
def test_parse_never_raises_and_keeps_only_well_typed_members(doc, as_bytes):
    p = problem.parse(json.dumps(doc).encode() if as_bytes else doc)
    assert isinstance(p.type, str)
    assert p.status is None or (isinstance(p.status, int) and 100 <= p.status <= 599)
    for value in (p.title, p.detail, p.instance, p.code, p.where, p.correlation_id, p.run_id):
        assert value is None or isinstance(value, str)
    assert p.retryable in (None, True, False)


def test_a_received_problem_is_recorded_with_its_code(conn):
    doc = problem.build("ENV.KEY_MISSING", "PLANE_WEBHOOK_SECRET is not set in this environment",
                        instance="/api/webhooks/plane", where="vercel:odooops-console", correlation_id="c-1")
    row = problem.record(conn, problem.dumps(doc), source="vercel", phase="runtime")
    assert row["code"] == "ENV.KEY_MISSING" and row["count"] == 1
    origin, correlation, context = conn.execute(
        "SELECT origin, correlation_id, context FROM ops.error_events WHERE id = %s", (row["event_id"],)).fetchone()
    assert (origin, correlation) == ("vercel:odooops-console", "c-1")
    assert context["problem"]["type"] == "urn:ipai:failure:ENV.KEY_MISSING"


def test_an_unknown_claimed_code_is_classified_and_kept_as_evidence(conn):
    foreign = dict(OUT_OF_CREDIT, ipai={"code": "BILLING.OUT_OF_CREDIT"})
    row = problem.record(conn, foreign, source="vercel")
    assert row["code"] != "BILLING.OUT_OF_CREDIT"
    claimed, context = conn.execute("SELECT context->>'_claimed_code', context FROM ops.error_events WHERE id = %s",
                                    (row["event_id"],)).fetchone()
    assert claimed == "BILLING.OUT_OF_CREDIT"
    assert context["problem"]["extensions"]["balance"] == 30


def test_a_malformed_document_is_still_recorded(conn):
    row = problem.record(conn, b"\xff not json \x00", source="ops")
    assert row["event_id"] and row["code"].startswith("UNKNOWN.")
