"""Webhook signatures: the worker signs, receivers verify; Python and TypeScript agree byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from worker.signing import DELIVERY, SIGNATURE, TIMESTAMP, Delivery, ReplayCache, SignatureInvalid, sign, verify

SECRET = b"whsec_test"
NOW = 1_700_000_000
# The same vector is in supabase/functions/_shared/signing_test.ts.
VECTOR = "v1=af727a81414381b98b7a793c50fd32fa0769d3888c5848bc3370777da1f15c49"


def reason(body: bytes, headers, secret: bytes = SECRET, **kwargs) -> str:
    try:
        delivery = verify(secret, body, headers, **kwargs)
    except SignatureInvalid as exc:
        return exc.reason
    return "duplicate" if delivery.duplicate else "accepted"


def test_the_shared_vector():
    headers = sign(SECRET, b'{"id":1}', "d-1", NOW)
    assert headers == {TIMESTAMP: str(NOW), DELIVERY: "d-1", SIGNATURE: VECTOR}
    assert verify(SECRET, b'{"id":1}', headers, now=NOW + 10) == Delivery("d-1", NOW, duplicate=False)


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


def test_a_replay_is_refused_but_a_fresh_re_delivery_is_a_duplicate():
    seen = ReplayCache()
    first = sign(SECRET, b"x", "d-1", NOW)
    assert reason(b"x", first, now=NOW, seen=seen) == "accepted"
    assert reason(b"x", first, now=NOW + 5, seen=seen) == "replayed", "the same bytes again: a replay"
    again = sign(SECRET, b"x", "d-1", NOW + 30)  # the sender re-delivering after a crash, signed afresh
    assert reason(b"x", again, now=NOW + 30, seen=seen) == "duplicate"
    assert reason(b"x", again, now=NOW + 31, seen=seen) == "replayed"
    assert reason(b"x", first, now=NOW + 32, seen=seen) == "replayed", "an old attempt stays a replay"
    assert reason(b"x", sign(SECRET, b"x", "d-2", NOW), now=NOW, seen=seen) == "accepted", "ids are independent"
    # once the window has passed, the old timestamp is refused as expired, never accepted again
    assert reason(b"x", first, now=NOW + 301, seen=seen) == "expired"


def test_forgeries_never_enter_the_cache():
    headers = sign(SECRET, b"x", "d-1", NOW)
    forged = {**headers, SIGNATURE: "v1=" + "0" * 64}
    assert reason(b"x", forged, now=NOW, seen=ReplayCache()) == "bad_signature"
    fresh = ReplayCache()
    reason(b"x", sign(b"attacker", b"x", "d-9", NOW), now=NOW, seen=fresh)
    assert len(fresh) == 0
    assert reason(b"x", sign(SECRET, b"x", "d-9", NOW), now=NOW, seen=fresh) == "accepted"


def test_sign_never_gives_a_delivery_id_the_same_timestamp_twice():
    """A retry within the same second must reach the receiver as a re-delivery, not as a replay."""
    seen = ReplayCache()
    attempts = [sign(SECRET, b"x", "d-fast") for _ in range(3)]
    assert len({a[TIMESTAMP] for a in attempts}) == 3
    assert [reason(b"x", a, seen=seen) for a in attempts] == ["accepted", "duplicate", "duplicate"]


def test_the_replay_cache_is_bounded_and_forgets_expired_ids():
    cache = ReplayCache(max_entries=3)
    for i in range(10):
        assert cache.remember(f"d-{i}", NOW, NOW + 300, NOW) == ReplayCache.NEW
    assert len(cache) <= 3
    assert cache.remember("d-9", NOW, NOW + 300, NOW) == ReplayCache.REPLAYED
    assert cache.remember("d-9", NOW + 1, NOW + 301, NOW) == ReplayCache.DUPLICATE
    assert cache.remember("d-9", NOW, NOW + 300, NOW + 302) == ReplayCache.NEW, "expired ids are forgotten"


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
