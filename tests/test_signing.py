"""Webhook signatures: the worker signs, receivers verify; Python and TypeScript agree byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.signing import DELIVERY, SIGNATURE, TIMESTAMP, ReplayCache, SignatureInvalid, sign, verify

SECRET = b"whsec_test"
NOW = 1_700_000_000
# The same vector is in supabase/functions/_shared/signing_test.ts.
VECTOR = "v1=af727a81414381b98b7a793c50fd32fa0769d3888c5848bc3370777da1f15c49"


def reason(body: bytes, headers, secret: bytes = SECRET, **kwargs) -> str:
    try:
        verify(secret, body, headers, **kwargs)
    except SignatureInvalid as exc:
        return exc.reason
    return "accepted"


def test_the_shared_vector():
    headers = sign(SECRET, b'{"id":1}', "d-1", NOW)
    assert headers == {TIMESTAMP: str(NOW), DELIVERY: "d-1", SIGNATURE: VECTOR}
    assert reason(b'{"id":1}', headers, now=NOW + 10) == "accepted"


def test_header_names_are_case_insensitive():
    headers = {k.lower(): v for k, v in sign(SECRET, b"x", "d-1", NOW).items()}
    assert reason(b"x", headers, now=NOW) == "accepted"


@pytest.mark.parametrize(("change", "expected"), [
    (lambda h, b: (h, b + b" "), "bad_signature"),
    (lambda h, b: ({**h, SIGNATURE: h[SIGNATURE].upper()}, b), "bad_signature"),
    (lambda h, b: ({**h, SIGNATURE: "v0=" + h[SIGNATURE][3:]}, b), "bad_signature"),
    (lambda h, b: ({**h, TIMESTAMP: str(NOW + 1)}, b), "bad_signature"),
    (lambda h, b: ({**h, DELIVERY: "d-2"}, b), "bad_signature"),
    (lambda h, b: ({**h, DELIVERY: "d.1"}, b), "bad_delivery_id"),
    (lambda h, b: ({**h, TIMESTAMP: "1e9"}, b), "bad_timestamp"),
    (lambda h, b: ({**h, TIMESTAMP: str(NOW - 301)}, b), "expired"),
    (lambda h, b: ({k: v for k, v in h.items() if k != SIGNATURE}, b), "missing_header"),
    (lambda h, b: ({k: v for k, v in h.items() if k != DELIVERY}, b), "missing_header"),
])
def test_tampered_or_stale_deliveries_are_refused(change, expected):
    headers, body = change(sign(SECRET, b'{"a":1}', "d-1", NOW), b'{"a":1}')
    assert reason(body, headers, now=NOW) == expected


def test_timestamps_are_checked_both_ways():
    headers = sign(SECRET, b"x", "d-1", NOW)
    assert reason(b"x", headers, now=NOW + 300) == "accepted"
    assert reason(b"x", headers, now=NOW + 301) == "expired"
    assert reason(b"x", headers, now=NOW - 301) == "expired", "a timestamp from the future is refused too"
    assert reason(b"x", headers, now=NOW + 1000, tolerance=1000) == "accepted"


def test_the_wrong_secret_is_refused():
    assert reason(b"x", sign(b"other", b"x", "d-1", NOW), now=NOW) == "bad_signature"


def test_replays_are_refused_within_the_window_only():
    seen = ReplayCache()
    headers = sign(SECRET, b"x", "d-1", NOW)
    assert reason(b"x", headers, now=NOW, seen=seen) == "accepted"
    assert reason(b"x", headers, now=NOW + 5, seen=seen) == "replayed"
    forged = {**headers, SIGNATURE: "v1=" + "0" * 64}
    assert reason(b"x", forged, now=NOW, seen=ReplayCache()) == "bad_signature"
    # a forged request never enters the cache, so it cannot block the genuine delivery
    fresh = ReplayCache()
    reason(b"x", sign(b"attacker", b"x", "d-9", NOW), now=NOW, seen=fresh)
    assert reason(b"x", sign(SECRET, b"x", "d-9", NOW), now=NOW, seen=fresh) == "accepted"


def test_the_replay_cache_is_bounded_and_forgets_expired_ids():
    cache = ReplayCache(max_entries=3)
    for i in range(10):
        assert cache.check_and_add(f"d-{i}", NOW + 300, NOW)
    assert len(cache) <= 3
    assert cache.check_and_add("d-9", NOW + 300, NOW) is False
    assert cache.check_and_add("d-9", NOW + 900, NOW + 301), "expired ids are forgotten"


def test_rotation_accepts_any_listed_signature():
    old, new = sign(b"old", b"x", "d-1", NOW), sign(b"new", b"x", "d-1", NOW)
    headers = {**new, SIGNATURE: f"{old[SIGNATURE]}, {new[SIGNATURE]}"}
    assert reason(b"x", headers, secret=b"old", now=NOW) == "accepted"
    assert reason(b"x", headers, secret=b"new", now=NOW) == "accepted"
    assert reason(b"x", headers, secret=b"none", now=NOW) == "bad_signature"


def test_senders_cannot_make_ambiguous_signatures():
    with pytest.raises(ValueError):
        sign(SECRET, b"x", "a.b", NOW)
    with pytest.raises(ValueError):
        sign(b"", b"x", "d-1", NOW)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=2048), delivery=st.from_regex(r"[A-Za-z0-9_-]{1,128}", fullmatch=True),
       secret=st.binary(min_size=1, max_size=64), flip=st.integers(min_value=0, max_value=2047))
def test_any_body_round_trips_and_any_change_breaks_it(body, delivery, secret, flip):
    headers = sign(secret, body, delivery, NOW)
    assert reason(body, headers, secret=secret, now=NOW) == "accepted"
    if body:
        i = flip % len(body)
        changed = body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]
        assert reason(changed, headers, secret=secret, now=NOW) == "bad_signature"
