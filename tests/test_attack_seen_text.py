"""Attacks on issue 12 (a text seen before is stored as sent): each test is a confirmed way a secret shape of
ssot/errors/redaction.yaml reaches a stored row, or a text sent twice is stored two ways.

The fast path stores a message equal to a classification-cache key as sent, on the claim that such a text is
what ops.redact returned under the current rules and that ops.redact returns its own output unchanged. These
tests show where redaction's output still holds a secret shape (so the fast path keeps it, as the first sight
did), where redact(redact(x)) differs from redact(x) (so what is stored for one text depends on what came before
it), and the columns redaction never looks at (phase, a code hint kept as evidence, event_key).

Every secret below is a made-up value of the shape a rule names; none is a real credential.
"""

from __future__ import annotations

import random

import psycopg
import pytest

INSERT = ("INSERT INTO ops.error_events (source, phase, message, top_frame, code, event_key) "
          "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, message, phase, context::text, event_key")
# A GitHub token shape (rule github_token): gh[pousr]_ and 20 or more letters or digits.
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
# A password that holds "<keyword>=" and a "/" before a ";" or ",": secret_assignment redacts only the part after
# the keyword, up to the ";", which removes the "/" that kept url_credentials / host_credentials from matching.
# The head before the keyword ("hunter2x9") is the credential those rules exist to hide.
HEAD = "hunter2x9"
NOT_IDEMPOTENT = [
    f"could not connect to postgres://app:{HEAD}password=a/b;@db.internal:5432/app",
    f'could not translate host name "{HEAD}password=a/b;@db.example.com" to address: Name or service not known',
    f"getaddrinfo ENOTFOUND {HEAD}token=x/y,@db.example.com",
]


def _insert(conn, source="supabase_fn", phase=None, message="boom", top_frame=None, code=None, event_key=None):
    return conn.execute(INSERT, (source, phase, message, top_frame, code, event_key)).fetchone()


@pytest.mark.parametrize("message", [
    # New in 352b388: a u/b prefix before the marker now stops the rule ({u'password': u'…'} is Python 2's repr).
    f"login failed: password=u[REDACTED]{HEAD} rejected",
    f"login failed: password=b[REDACTED:jwt]{HEAD} rejected",
    # Since the marker lookahead was added: a value that merely starts with "[REDACTED" is kept whole.
    f"login failed: password=[REDACTED]{HEAD} rejected",
    f'{{"password": "[REDACTED]{HEAD}"}}',
    # The rule's flags are gi, so its lookahead is case-blind too: any "[redacted" opener keeps the value.
    f"login failed: password=[redacted-by-proxy]{HEAD} rejected",
], ids=["u-prefixed", "b-prefixed", "bare", "json", "lower-case"])
def test_a_value_that_only_starts_like_a_marker_is_redacted(conn, message):
    """secret_assignment's lookahead (?![ub]?\\\\?["']?\\[REDACTED) keeps any value that begins with the marker's
    first characters, so "password=[REDACTED]hunter2x9" is stored with the password after the marker, on the first
    sight and (as a key) on every later one. Fix: look ahead for a whole marker followed by the end of the value,
    e.g. (?![ub]?\\\\?["']?\\[REDACTED(:[a-z_]+)?\\]([[:space:]"'&,;\\\\]|$))."""
    assert HEAD not in conn.execute("SELECT ops.redact(%s)", (message,)).fetchone()[0]
    first = _insert(conn, message=message)
    again = _insert(conn, message=message)
    assert HEAD not in first[1] and HEAD not in again[1]


@pytest.mark.parametrize("message", NOT_IDEMPOTENT, ids=["url_credentials", "host_credentials", "enotfound"])
def test_redact_is_idempotent_when_a_password_holds_a_keyword_and_a_slash(conn, message):
    """One pass of the rules in order is not a fixed point: secret_assignment (last rule) turns
    "hunter2x9password=a/b;@db" into "hunter2x9password=[REDACTED];@db", and only on a second pass does
    url_credentials / host_credentials (earlier rules) see an authority without "/" and redact the whole
    credential. Fix: run the rules until the text stops changing (bounded, e.g. 3 passes), or make
    secret_assignment's value stop at "/" and "@" when it sits inside a URL authority or a host name."""
    once = conn.execute("SELECT ops.redact(%s)", (message,)).fetchone()[0]
    twice = conn.execute("SELECT ops.redact(%s)", (once,)).fetchone()[0]
    assert HEAD not in once, f"redaction kept the credential's head: {once!r}"
    assert twice == once


def test_one_text_is_stored_the_same_whatever_was_sent_before(conn):
    """The fast path makes storage depend on history: y = redact(x) sent into an empty cache is redacted again
    (stored as redact(y)); sent after x it hits x's key and is stored as sent, credential head included. The same
    event, two stored messages (and two cache entries for one error)."""
    x = NOT_IDEMPOTENT[0]
    y = conn.execute("SELECT ops.redact(%s)", (x,)).fetchone()[0]
    assert y != x
    before = _insert(conn, message=y)[1]
    _insert(conn, message=x)
    after = _insert(conn, message=y)[1]
    assert before == after, f"stored {before!r} first and {after!r} once {x!r} was seen"
    stored = [r[0] for r in conn.execute("SELECT message FROM ops.error_events")]
    assert not [m for m in stored if HEAD in m], stored


def test_a_secret_in_the_phase_is_redacted_everywhere_it_is_stored(conn):
    """The trigger trims and cuts the phase but never redacts it: a token in a phase ("deploy ghp_…", a step name
    built from a command line) is stored in ops.error_events.phase, ops.agent_errors.phase and the escalation
    payload sent to a destination. Fix: redact the phase with the other fields (it is part of the cache key, so
    redact before computing it, and keep a phase over 200 characters on the slow path)."""
    conn.execute("INSERT INTO ops.error_events (source, phase, message) SELECT 'vercel', %s, "
                 "'FUNCTION_INVOCATION_TIMEOUT' FROM generate_series(1, 60)", (f"invoke {TOKEN}",))
    phases = [r[0] for r in conn.execute("SELECT DISTINCT phase FROM ops.error_events")]
    groups = [r[0] for r in conn.execute("SELECT phase FROM ops.agent_errors")]
    payloads = [r[0] for r in conn.execute("SELECT payload::text FROM ops.escalations")]
    assert payloads, "60 timeouts in one window escalate (the payload names the phase)"
    columns = (("error_events.phase", phases), ("agent_errors.phase", groups), ("escalations.payload", payloads))
    for where, values in columns:
        assert not [v for v in values if TOKEN in (v or "")], f"{where} holds the token: {values}"


def test_a_code_hint_that_is_not_honoured_is_redacted_in_the_context(conn):
    """A hint the taxonomy does not know is kept as evidence, context._claimed_code, added AFTER the context was
    redacted: a producer that puts a header value or a token where the code goes (a Problem Details ipai.code
    filled from the wrong field) has it stored in the clear. Fix: redact the claimed code before adding it (or
    keep it only when it has the shape of a code, ^[A-Z0-9_.]{1,200}$)."""
    row = _insert(conn, message="request failed", code=TOKEN)
    assert TOKEN not in row[3], row[3]
    conn.execute("SELECT ops.record_error(source => 'supabase_fn', message => 'request failed', "
                       "code_hint => %s)", (f"Bearer {TOKEN}",)).fetchone()
    contexts = [r[0] for r in conn.execute("SELECT context::text FROM ops.error_events")]
    assert not [c for c in contexts if TOKEN in c], contexts


def test_a_secret_shaped_event_key_is_refused_or_not_stored(conn):
    """event_key is checked for length and control characters only, then stored in ops.error_events.event_key and
    ops_private.event_keys as sent. A producer that keys events by a request's credential (or a URL with ?sig=)
    stores it. Redacting it would merge distinct keys, so the fix is to refuse a key any redaction rule changes
    (OP001, COLUMN event_key), or to store its SHA-256 instead."""
    try:
        _insert(conn, message="request failed", event_key=TOKEN)
    except psycopg.Error as refused:
        assert refused.sqlstate == "OP001", refused
        conn.rollback()
        return
    stored = conn.execute("SELECT (SELECT count(*) FROM ops.error_events WHERE event_key LIKE %s) "
                          "+ (SELECT count(*) FROM ops_private.event_keys WHERE event_key LIKE %s)",
                          (f"%{TOKEN}%", f"%{TOKEN}%")).fetchone()[0]
    assert stored == 0, "the token is stored as the event key"


def _pem(body: str) -> str:
    """A private-key block around a random body, its armour built from parts so that no key block stands in the source."""
    armour = "RSA " + "PRIVATE" + " KEY-----"
    return f"-----BEGIN {armour}\n{body}\n-----END {armour}"


def _base64ish(n: int, seed: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def test_a_message_over_32768_characters_keeps_no_part_of_a_secret_cut_by_its_slices(conn):
    """A message over 32768 characters is stored as left(redact(left(m, 24576 + 8192)), 24576) || marker ||
    right(redact(right(m, 8192 + 8192)), 8192). The 8192-character margin keeps a secret cut by a slice out of what
    is kept only while redaction does not shorten the slice: a private key (or any long secret) inside the slice
    shrinks to a 22-character marker, and what is kept then reaches back to the cut. Tail: the slice starts inside a
    first PEM key's body, which has no BEGIN line left, so no rule matches it, and a second key after it shrinks, so
    thousands of characters of the first key's body are stored. Head: a URL whose "@" lies past the slice keeps its
    password. Fix: redact first and cut after (ops.redact reads 65536 characters; slice only beyond that), or cut
    the redacted slice at the position of the original cut (drop what redaction moved inside the margin)."""
    body = _base64ish(12000, 1)
    tail_case = "deploy failed: " + "x " * 10000 + _pem(body) + " then " + _pem(_base64ish(8500, 2))
    head_pre = "boot: " + _pem(_base64ish(20000, 3)) + " retry: "
    password = "S3cretPassw0rdXYZ"
    url = f"could not connect to postgres://app:{password}"
    head_case = head_pre + "y" * (32768 - len(head_pre) - len(url)) + url + "@db.internal:5432/app " + "z " * 8000
    found = []
    for message in (tail_case, head_case):
        stored, truncated = conn.execute("INSERT INTO ops.error_events (source, message) VALUES ('supabase_fn', %s) "
                                         "RETURNING message, truncated", (message,)).fetchone()
        assert truncated and len(message) > 32768
        leaked = sum(64 for i in range(0, len(body) - 64, 64) if body[i:i + 64] in stored)
        if leaked:
            found.append(f"{leaked} characters of a private key's body")
        if password in stored:
            found.append("a URL's password")
    assert not found, f"stored: {found}"


def test_a_top_frame_over_4096_characters_keeps_no_part_of_a_secret_cut_by_its_slice(conn):
    """The same margin assumption for the top frame, left(redact(left(t, 4096 + 8192)), 4096) (and run id,
    correlation id and origin, 256 + 8192): a private key early in the frame shrinks to a marker, so what is kept
    reaches a URL whose "@" lies past the 12288-character slice, and its password is stored."""
    pem = _pem(_base64ish(11000, 5))
    prefix, url = f"at connect ({pem} ", "postgres://app:S3cretPassw0rdXYZ"
    top_frame = prefix + "y" * (4096 + 8192 - len(prefix) - len(url)) + url + "@db.internal:5432/app)"
    stored = conn.execute("INSERT INTO ops.error_events (source, message, top_frame) "
                          "VALUES ('supabase_fn', 'boom', %s) RETURNING top_frame", (top_frame,)).fetchone()[0]
    assert "S3cretPassw0rdXYZ" not in stored, stored[-80:]
