"""The literal guards of ops.normalize_message change nothing (issue 12, the regex cache).

Each step of the normalization runs only when a literal its regexes need is in the text (``IF … THEN  -- guard``).
The reference here is the same function, read back from the database, with every guard replaced by ``true``: every
step runs, as before the guards. Both run over every message of the real-world corpus (all sets and splits: this
compares two implementations, it tunes nothing), the synthetic corpus, the demo feed and generated texts made of
the pieces the steps replace; every output must be equal.
"""

from __future__ import annotations

import functools
import random
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
GUARD = re.compile(r"IF (.+?) THEN  -- guard")


def _corpus_texts() -> list[str]:
    """Every ``message`` string under tests/fixtures (real-world sets and the synthetic corpus), and pair texts; read
    once per process (the grouping version tests call this once per version)."""
    return list(_read_corpus_texts())


@functools.cache
def _read_corpus_texts() -> tuple[str, ...]:
    texts: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("message", "a", "b", "text") and isinstance(value, str):
                    texts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((ROOT / "tests" / "fixtures").rglob("*.yaml")):
        # libyaml's safe loader (PyYAML's C binding, installed with it): the pure-Python one takes seconds here.
        walk(yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader))
    return tuple(texts)


def _demo_texts(n: int = 300) -> list[str]:
    from worker.demo import events
    stream = events(random.Random(7))
    return [next(stream)["message"] for _ in range(n)]


def _unguarded(db_url: str, function: str, signature: str, copy: str):
    """Yield (connection, guards): the connection holds public.<copy>(<signature>), ops.<function> with every guard
    (``IF <cond> THEN  -- guard``) made true, and guards lists the conditions found; the copy is dropped afterwards."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        body = conn.execute("SELECT pg_get_functiondef(%s::regprocedure)", (f"ops.{function}({signature})",)).fetchone()[0]
        guards = GUARD.findall(body)
        unguarded = GUARD.sub("IF true THEN  -- guard", body).replace(
            f"FUNCTION ops.{function}(", f"FUNCTION public.{copy}(", 1).replace(
            f"{function}.", f"{copy}.")  # a body may name its parameters by the function's name
        conn.execute(unguarded)
        yield conn, guards
        conn.execute(f"DROP FUNCTION public.{copy}({signature})")


@pytest.fixture(scope="module")
def reference(module_db_url):
    """A connection with public.normalize_unguarded(text): ops.normalize_message with every guard true."""
    yield from _unguarded(module_db_url, "normalize_message", "text", "normalize_unguarded")


def _rows(conn, query: str, texts: list[str], shares: int = 1) -> list[tuple]:
    """query's rows (its one parameter: a text[]) over texts. With shares > 1 the texts are dealt into that many
    interleaved shares, each run on its own connection to conn's database at once (the corpus checks: two backends
    on two cores take about half the time of one)."""
    if shares == 1:
        return conn.execute(query, (texts,)).fetchall()

    def run(share: list[str]) -> list[tuple]:
        with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as other:
            return other.execute(query, (share,)).fetchall()

    with ThreadPoolExecutor(shares) as pool:
        return [row for rows in pool.map(run, [texts[i::shares] for i in range(shares)]) for row in rows]


def _differences(conn, texts: list[str], shares: int = 1) -> list[tuple[str, str, str]]:
    rows = _rows(conn, "SELECT t, ops.normalize_message(t), public.normalize_unguarded(t) FROM unnest(%s::text[]) t",
                 texts, shares)
    return [r for r in rows if r[1] != r[2]]


def test_the_function_has_guards(reference):
    _, guards = reference
    # The reference would equal the function trivially if the pattern found nothing to turn off.
    assert len(guards) >= 20, guards
    assert "has_digit" in guards


def test_guards_change_nothing_on_the_corpora(reference):
    conn, _ = reference
    # Each distinct text once (about a fifth of the corpus texts are pair sides that repeat a message): the unguarded
    # reference runs every regex on every text, so this is the suite's slowest check.
    texts = sorted(set(_corpus_texts() + _demo_texts()))
    assert len(texts) > 1500, len(texts)
    assert _differences(conn, texts, shares=2) == []


# Pieces each step of the normalization replaces or keeps, and the characters its guards look for.
PIECES = ["https://user:pa@ss@api.example.com:8443/v1/x?y=1#z", "wss://h.example.com/s", "a.b@example.org",
          "123e4567-e89b-12d3-a456-426614174000", "2026-11-30T07:35:22.123Z", "2026-11-30 07:35", "07:35:22,5",
          "de:ad:be:ef:00:11", "fe80::1ff:fe23:4567:890a", "req_011CSHoEeqs5C35K2UUqR7Fy", "toolu-01ABCDEFGH",
          "job_9f8e7d6c5b", "iad1::abcde-1700000000000-0123456789ab", "10.0.0.12:5432", "0xDEADbeef", "0X1F",
          "a1b2c3d", "1234567", "Zx9Qw8Er7Ty6Ui5Op4", "TypeError: ", "psycopg2.OperationalError: ",
          "(botocore.errorfactory.NoSuchBucket) ", "FetchFault ", "/usr/lib/x/y.py", "C:\\Users\\x\\a.txt",
          "exit code 137", "exited with exit code 1", "signal 9", "status 503", "HTTP 429", "responded with 502",
          "(404)", "500 Internal Server Error", "1.5s", "250 ms", "10,000", "1,000,000 tokens", "(15, 27, 31)",
          "[11, 9]", "Learn more: https://docs.example.com/x", "(Background on this error at: https://sqlalche.me/e/e3q8)",
          "function 'api/handler'", "##[error]", "[info] ", "│ ", "ERROR: ", " - https://www.rfc-editor.org/rfc/x#s",
          '"quoted", ', '\\"', "}", "\n", "\t", " ", "\u200b", "\uff11\uff12\uff13", "Ｅｒｒｏｒ", "МАС",
          "word", "Error", "0", "-", "_", ":", ".", "@", "/", ",", "(", ")", "more", "exit", "signal", "x",
          "[help.example.com](https://help.example.com/)", "](", "[", "]", "::1", "::", "2001:db8::7334", "std::io",
          '"404 ', '"', "raise ", "throw ",
          # version 8's steps: masked addresses, a versions list, a stack frame, a log record's fields, a trailing link
          "192.168.x.x", "x.x.x.x:53", "xxxx:xxxx:xxxx:xxxx", "x.", ".x", "x:x", "Available versions: 3.10.1 (x64)",
          "available versions:", "\n    at async f (ext:a/b.js:54:21)", "at ", ", error=", "err", "' }", "'", "=",
          " https://tools.ietf.org/html/rfc7208#s", " to https://api.example.com/v1", "/<path>",
          "worker boot error", "InvalidWorkerCreation: worker boot error: ",
          # version 9's steps: a JSON log's field name leading a line, a log record's level and logger between separators
          '"@message":"', '"summary": "', '":', " = ERROR = cmd_cron = ", "| WARNING | app.db | ", " = ", " | ", "|",
          "warning", "info ",
          # version 10's step: a shell's missing-command report
          "sh: next: not found", "sh: line 1: yq: command not found", "sh: 1: x: not found", "sh: ", "not found", "> sh: ",
          # version 11's step: a chain of exception classes leading a line
          "litellm.exceptions.APIConnectionError: litellm.APIConnectionError: OllamaException - ",
          "(botocore.errorfactory.NoSuchBucket) FetchError: ", "\"503 TypeError: ",
          # version 12's step: Terraform's resource address before "provider"
          "When applying changes to module.a[0].b, provider ", "when applying changes to ", "x, provider ", "provider ",
          # version 15's steps: npm's prefix, Node's getaddrinfo forms, curl's old wording, Python's closers, Ruby's class,
          # Node's Require stack
          "npm ERR! network ", "npm error ", "npm err", "getaddrinfo ENOTFOUND a.example.com a.example.com:443",
          "getaddrinfo EAI_AGAIN b.example.org:80", "getaddrinfo ", "Couldn't resolve host 'example.com'",
          "couldn't resolve ", "resolution')': /simple/pkg-a/", "'))", "')", " (SocketError)", " (Net::ReadTimeoutError)",
          "error)", "exception)", " Require stack: - /a/b.js", "require stack:",
          # version 16's steps: a workflow command, OpenUpgrade's migration-script wrapper, a severity word ending a line
          'x return "::error::', "::error::", "::warning file=a.py,line=3::", "::notice::", "::warning", "::notice",
          "PG::Error: ", "base: error in migration script base/migrations/1.0/pre.py: ", "error in migration script ",
          " FATAL:", " ERROR:\n", " panic: ", "warning:", "fatal:",
          # version 17's steps: apt's mirror in a temporary resolver failure, a setup action's requested version
          "W: Failed to fetch http://deb.example.org/debian/dists/x/InRelease  ", "Temporary failure resolving 'deb.example.org'",
          "temporary failure resolving '", "failed to fetch ", "The version '3.8' with architecture 'x64'",
          "Version 3.9.5 with arch x64 not found", "version pypy3.9 with arch", " with arch", "version '",
          # version 18's steps: Terraform's location in a resource, a correlation id after a code, LangChain's link and
          # LangGraph's task note
          "\n  on main.tf line 14, in resource \"hcloud_server\" \"server\":\n  14: resource \"hcloud_server\" \"server\" {",
          "  with module.k.hcloud_server.w[\"a-1\"],\n", " line 3, in ", " line <n>, in ", "in data \"x\" \"y\":",
          "(resource_unavailable, 5e12a9c07bd3f41)", ", <hex>)", ", 5e12a9c07bd3f41", "(code_x, req_abcdefgh12345678)",
          "For troubleshooting, visit: https://python.langchain.com/docs/x", "for troubleshooting", " visit:\n",
          "During task with name 'researcher' and id '3f0a2b7c-1d4e-8a96-5b2c-7e8f9a0b1c2d'", "during task with name ",
          # version 19's steps: the attribute after a provider's unexpected or invalid new value, Next.js's route
          "produced an unexpected new value: .webserver_url: was", "produced an invalid new value for .input[2].x:",
          "produced an ", " .a[\"b\"]:", "Failed to collect page data for /_sites/[site]/[slug]",
          "page data for /", "page data for ",
          # version 20's steps: botocore's operation wrapper, Odoo's uncaught-promise prefix, Terraform's graph vertex
          "An error occurred (AccessDeniedException) when calling the InvokeModel operation: ", " when calling the ",
          " operation (reached max retries: 4): ", "(ThrottlingException)", "Uncaught Promise > ", "UncaughtPromiseError > ",
          "Uncaught", " > ", 'vertex "aws_s3_bucket.a (expand)" error: ', 'vertex "', '" error: ',
          # ... a pictograph leading a line, Codex's retry note and url/cf-ray tail, backticks inside a line
          "🖐  ", "⚠️ ", "✖ ", "; retrying 1/5 in 193ms…", "retrying 2/5 in 1.7s...", " retrying ",
          ", url: https://chatgpt.com/backend-api/codex/responses, cf-ray: 3fa1c2d4e5b60718-SJC, request id: 5b2e",
          "cf-ray:", ", url: ", "The model `gpt-5.5` does", "`",
          # version 21's step: esbuild's "Build failed with <n> error(s):" summary line
          "> Build failed with 1 error:\n", "Build failed with 2 errors:", "build failed with ", " errors:", " error:",
          # version 22's steps: Odoo's worker process id, RabbitMQ's delivery acknowledgement timeout
          "WorkerHTTP (380) timeout after 120s", "WorkerCron (4194304)", "Worker (12) ", "worker", " (",
          "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 1800000 ms.",
          "delivery acknowledgment on channel 2 timed out", "delivery acknowledg", " on channel ", " timed out",
          # version 23's steps: an ACME challenge's name, a GitHub Actions step heading, redis-client's address
          "_acme-challenge.admin.example.co.uk.", "_acme-challenge.", "_acme-challenge", "Run softprops/action-gh-release@v2\n",
          "Run ", "run ", "@", "  \n", "(redis://redis:6379)", "(rediss://", "(redis", "(Redis::Error)",
          # version 24's step: the record type a DNS lookup asked for
          "looking up AAAA for ", "looking up ", "for question ", " in DS: ", "DS", "AAAA", "TXT", '"A IN ', " IN ",
          " udp ", " tcp ", "in ", "a ",
          # version 25's step: Node's "node:" scheme on a quoted core module
          "'node:fs/promises'", '"node:fs"', "node:", "'node:", "Node:",
          # version 26's steps: a syslog tag's pid, a deprecated action's major version, an EKS endpoint's shard
          "openarchiver[2872981]: ", "systemd-resolved[512]:", "]:", "[12345678]", "deprecated version of ",
          "`actions/cache: v3.2.6`", "actions/upload-artifact: v1", ".sk1.us-east-2.eks.amazonaws.com",
          "2A7D51C9E04B3F6A8C2D19E7B5F0A4C3", ".eks.amazonaws.com", ".gr7.",
          ' with provider["registry.terraform.io/kreuzwerker/docker"]', 'with provider["', "],\n",
          " on main.tf line 21, in provider \"snowflake\":", ', in provider "', "\n  21: provider \"snowflake\" {",
          # version 28's steps: a provider named before an inconsistent result, Go's nil last error, a dict's fields
          'provider "provider[\\"registry.terraform.io/hashicorp/azurerm\\"]"', 'provider\n"registry.terraform.io/a/b"',
          '" produced an unexpected new value: ', '" produced an invalid new value for ', '"]"', "provider[",
          "'ACTIVE'. last error: %!s(<nil>)", "last error: %!s(<nil>)", "%!s(<nil>)",
          "', 'code': 404}}", "', 'error': None}", "', '", "'data': null", ": true}", "}}",
          # version 29's step: a masked API key
          "Incorrect API key provided: gs***tF.", "api key provided: ", "sk-proj-****abcd", "***", "5f2e****e4f9",
          # version 30's step: a client's HTTP status before an API's error body
          "API Error: 500 {", "Error code: 400 - {'error'", "HTTP 400: <400> ", "Internal error: 400 <400> ", "http 403: [",
          "api error: ", "error code: ", "http ", "internal error: ", "API Error: 529\n  {", "<400>",
          # and Odoo's log record
          "2019-03-03 13:12:33,563 19125 ERROR erp_database OpenUpgrade: ", "4242 INFO ? odoo.sql_db: ", " critical ",
          " error ", " info ", " debug ", " warning ", "1 WARNING db odoo.modules.module: x",
          # version 31's step: Unbound's log record tag
          "[1687737600] libunbound[487866:0] fatal error: ", "unbound[1:0] info: ", "unbound[246:2] debug: x",
          "unbound[12345678:0] error: ", "unbound[7:0] query: ", ":0] ", "] ", ":<n>] ", "[1:0] info: ",
          # version 32's step: a JavaScript stack serialized in a JSON string
          '{"stack":"Error: x\\n    at f (/a/b.js:3:9)\\n    at g (https://h.example/c.js:1:2)"}',
          "\\n    at Object.<anonymous> (C:\\\\app\\\\d.js:4:1)", "\\n at new X (x.js:1)", "\\n at least", "\\n",
          '{"stack":"', '{ "stack": "', '"stack":', "at ",
          # version 33's steps: a Markdown code fence, a JSON object's class field, a hex exit status
          "```bash\n", "\n```", "```", "``", '{\n\t"name": "ValueError",\n\t"message": "x",',
          '{\n  "name": "a.b.KeyError",\n',
          '"name": "X",\n', '"message":', '"name":', "exit status 0xc0000409", "Exit code: 0XC000001D", "exited 0x1f",
          "exit status 0x", "0x", "EXIT",
          # version 34's steps: Docker Compose's service prefix, a date with a month's name before a time of day
          "keydb-1  | 1:27:S 03 Dec 2024 22:23:15.279 # x", "tile-server_1  |        at a.B.c(B.java:192)\n",
          "web-1  |\n", "a_1 | b", " | ", " |\n", "| x | y |", "Dec 20 15:00:45 ns1 pdns[5136]: x",
          "Dec  3 03:28:35 host-02 ", "Tue, 02 Jan 2024 10:00:00 GMT", "Jan 5, 2024 10:00:00", "Sept. 9 1:02:03",
          "may 3 12:00:00", "Dec 20", "20 Dec 2024", "<time>", "Dec 20 <time>",
          # version 35's step: Terraform's location in a resource flattened on the summary's line
          'Error: Unauthorized on .terraform/modules/eks/aws_auth.tf line 63, in resource "kubernetes_config_map" "x":',
          ' with module.a.b[0], on main.tf line 3, in data "t" "n": 3: data "t" "n" {', " failed on create on a.tf",
          ", in resource ", ' in module "m":']


# Text fields hold neither a NUL nor a lone surrogate (UTF-8 cannot encode one), so neither is generated.
TEXT_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(alphabet=TEXT_CHARACTERS, max_size=6)), max_size=14))
def test_guards_change_nothing_on_generated_texts(reference, parts):
    conn, _ = reference
    text = "".join(parts)
    assert _differences(conn, [text]) == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(max_codepoint=127, blacklist_characters="\x00"), max_size=60))
def test_ascii_text_is_its_own_fold(reference, text):
    """ops.fold_text returns ASCII text as it is; the full fold (forced by a zero-width space it deletes) agrees."""
    conn, _ = reference
    plain, full = conn.execute("SELECT ops.fold_text(%s), ops.fold_text(%s || U&'\\200B')", (text, text)).fetchone()
    assert plain == text
    assert full == text


# Version 21: ops.grouping_text has a guarded step of its own (CoreDNS's errors plugin line keeps the name asked for).
@pytest.fixture(scope="module")
def grouping_reference(module_db_url):
    """A connection with public.grouping_unguarded(text, text, text): ops.grouping_text with every guard true."""
    yield from _unguarded(module_db_url, "grouping_text", "text, text, text", "grouping_unguarded")


def _grouping_differences(conn, texts: list[str], shares: int = 1) -> list[tuple]:
    rows = _rows(conn, "SELECT t, ops.grouping_text(t, c.code, c.matched_pattern), "
                       "public.grouping_unguarded(t, c.code, c.matched_pattern) "
                       "FROM unnest(%s::text[]) t CROSS JOIN LATERAL ops.classify_error('dns', NULL, t) c",
                 texts, shares)
    return [r for r in rows if r[1] != r[2]]


def test_grouping_text_has_its_guard(grouping_reference):
    _, guards = grouping_reference
    assert guards == ["strpos(message, '[ERROR] ') > 0"], guards


def test_grouping_guard_changes_nothing_on_the_corpora(grouping_reference):
    conn, _ = grouping_reference
    # Texts that print an error level in any case (a superset of what the step's regex can match).
    texts = sorted({t for t in _corpus_texts() if "error" in t.lower()})
    assert len(texts) > 500, len(texts)
    assert _grouping_differences(conn, texts, shares=2) == []


GROUPING_PIECES = ["[ERROR] ", "plugin/errors: ", "2 ", "lcr.example.com. ", "A: ", "AAAA: ", "HINFO: ",
                   "read udp 10.0.0.1:6777->10.0.0.2:53: i/o timeout", "unreachable backend: ", "[ERROR]", "ERROR",
                   "\n", " ", ".", ":", "example.com", "1.2.3.4."]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(GROUPING_PIECES), st.text(alphabet=TEXT_CHARACTERS, max_size=4)), max_size=10))
def test_grouping_guard_changes_nothing_on_generated_texts(grouping_reference, parts):
    conn, _ = grouping_reference
    assert _grouping_differences(conn, ["".join(parts)]) == []
