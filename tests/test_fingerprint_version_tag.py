"""The fingerprint's hashed string, spelled out once more in Python, against the functions that compute it.

Since sql/20261211008000_fingerprint_version_tag.sql the version is written only in ops.current_fingerprint_version():
ops.error_fingerprint, ops.code_group_fingerprint (a code's one group) and ops.pattern_group_fingerprint (one pattern's group under grouping: pattern), which ops_private.regroup_stale compares
with) build the tag "fp<n>|" from it. KNOWN holds fingerprints computed by version 23's definitions, whose tag was
the literal 'fp23|' (sql/20261211007000_grouping_v23.sql): the formula below reproduces them, so it is that layout,
and the database agrees with the formula at whatever version it is now.
"""

from __future__ import annotations

import hashlib

import psycopg
import pytest


def field(value: str | None) -> str:
    """ops.fingerprint_field: "<length in characters>:<value>", "~" for NULL."""
    return "~" if value is None else f"{len(value)}:{value}"


def fingerprint(version: int, source, phase, code, texts: tuple[str | None, str | None] | None,
                pattern: str | None = None) -> str:
    """The hashed string of a fingerprint; texts None is a code's one group ("=" for the text fields), or, given a
    pattern, that pattern's group under grouping: pattern ("=" and the pattern as one field)."""
    tail = (f"={field(pattern)}" if pattern is not None else "=") if texts is None else f"{field(texts[0])}|{field(texts[1])}"
    raw = f"fp{version}|{field(source)}|{field(phase)}|{field(code)}|{tail}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


# (source, phase, code, (message, top frame) as ops.fingerprint_text gives them or None for rule `code`, version 23's
# fingerprint, computed by the definitions of sql/20261211007000_grouping_v23.sql with 'fp23|' written in them).
KNOWN = [
    ("agent_runner", "run", "AGENT.CONTEXT_LIMIT", None,
     "56a4e405c0dee4279de8aa03efa549969261529b3603fa1d914ffe7515f89f0a"),
    ("github_actions", None, "INFRA.RATE_LIMITED", None,
     "b5a93745059b39901372e336f075069bb374980660f4fa2aa2c48ac4460beafa"),
    ("agent_runner", "run", "X.Y", ("connection refused", None),
     "90537b7e7310f82523a2c54f59ea4b3ac15cb19fd15071b434b669afd1479153"),
    ("vercel", "build", "UNKNOWN.VERCEL", ("módulo não encontrado: ☃ u", "at render (<path>)"),
     "a18debfc2323dca8c8eb779163c68ec9e13c70c40d89cdfb793803d36799690d"),
    (None, None, None, (None, None), "4f712e6335e8950026184edc3b3dee05b4f23ac0dea64ef7cf98f3a058802fc8"),
]

# (source, phase, code, message, top frame) through the database: rule `code` codes, rule `message`, NULLs,
# characters longer than one byte (lengths count characters).
CASES = [
    ("agent_runner", "run", "AGENT.CONTEXT_LIMIT", "prompt is too long: 210000 tokens", None),
    ("agent_runner", "run", "AGENT.CONTEXT_LIMIT", None, "at main (run.js:1:1)"),
    ("ops", "connect", "DB.CONNECTION_LIMIT", "too many clients already", None),
    ("github_actions", None, "INFRA.RATE_LIMITED", "secondary rate limit", None),
    ("github_actions", None, "INFRA.RATE_LIMITED", None, None),
    ("agent_runner", "run", "X.Y", "connection refused", None),
    ("vercel", "build", "UNKNOWN.VERCEL", "módulo não encontrado: ☃ 𝔘", "at render (/app/page.js:3:9)"),
    ("odoo", None, "UNKNOWN.ODOO", "psycopg2.OperationalError: FATAL:  sorry, too many clients already", "x | y"),
    (None, None, None, None, None),
]


@pytest.mark.parametrize("source, phase, code, texts, expected", KNOWN)
def test_the_formula_is_version_23s_layout(source, phase, code, texts, expected):
    assert fingerprint(23, source, phase, code, texts) == expected


def test_the_functions_hash_the_formula_with_the_current_version(module_db_url):
    with psycopg.connect(module_db_url) as conn:
        version = conn.execute("SELECT ops.current_fingerprint_version()").fetchone()[0]
        for source, phase, code, message, top_frame in CASES:
            rule, m, t, got, one_group = conn.execute(
                "SELECT ops.grouping_rule(%(c)s), ops.fingerprint_text(%(m)s), ops.fingerprint_text(%(t)s), "
                "       ops.error_fingerprint(%(s)s, %(p)s, %(c)s, %(m)s, %(t)s), "
                "       ops.code_group_fingerprint(%(s)s, %(p)s, %(c)s)",
                {"s": source, "p": phase, "c": code, "m": message, "t": top_frame}).fetchone()
            assert one_group == fingerprint(version, source, phase, code, None)
            # Under grouping: pattern the text passed is the pattern (ops.grouping_text); none is the code's one group.
            expected = (one_group if rule == "code" or (rule == "pattern" and message is None)
                        else fingerprint(version, source, phase, code, None, message) if rule == "pattern"
                        else fingerprint(version, source, phase, code, (m, t)))
            assert got == expected, (source, phase, code, message, rule)


def test_regroup_stale_compares_with_the_fingerprint_the_rule_gives(module_db_url):
    with psycopg.connect(module_db_url) as conn:
        stale = conn.execute(
            "SELECT ops_private.regroup_stale(jsonb_populate_record(NULL::ops.agent_errors, jsonb_build_object("
            "           'fingerprint', v.fp, 'fingerprint_version', ops.current_fingerprint_version(), 'code', v.c, "
            "           'source', 'agent_runner', 'phase', 'run', 'matched_pattern', v.p))) "
            "FROM (VALUES (1, 'INFRA.RATE_LIMITED', NULL, ops.code_group_fingerprint('agent_runner', 'run', 'INFRA.RATE_LIMITED')), "
            "             (2, 'INFRA.RATE_LIMITED', NULL, repeat('0', 64)), "
            "             (3, 'X.Y', NULL, ops.code_group_fingerprint('agent_runner', 'run', 'X.Y')), "
            "             (4, 'X.Y', NULL, repeat('0', 64)), "
            "             (5, 'X.Y', 'p', ops.pattern_group_fingerprint('agent_runner', 'run', 'X.Y', 'p')), "
            "             (6, 'AGENT.CONTEXT_LIMIT', 'p', ops.pattern_group_fingerprint('agent_runner', 'run', 'AGENT.CONTEXT_LIMIT', 'p')), "
            "             (7, 'AGENT.CONTEXT_LIMIT', 'q', ops.pattern_group_fingerprint('agent_runner', 'run', 'AGENT.CONTEXT_LIMIT', 'p')), "
            "             (8, 'AGENT.CONTEXT_LIMIT', 'p', ops.code_group_fingerprint('agent_runner', 'run', 'AGENT.CONTEXT_LIMIT')), "
            "             (9, 'AGENT.CONTEXT_LIMIT', NULL, ops.code_group_fingerprint('agent_runner', 'run', 'AGENT.CONTEXT_LIMIT'))"
            "     ) v (n, c, p, fp) ORDER BY v.n").fetchall()
        assert [r[0] for r in stale] == [False, True, True, False, True, False, True, True, False], (
            "rule code: the code's one group stays, another moves; rule message: the one group and a pattern's group "
            "move, another stays; rule pattern: the group of the row's pattern stays, another group moves, and the "
            "code's one group stays only for a row no pattern read")
        conn.rollback()
