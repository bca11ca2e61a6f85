"""The destinations' HTTP client (worker/dispatch/http.py) against a real HTTP server on 127.0.0.1:
redirect policy, the outcome of each kind of failure, URLs in messages by scheme and host only, and
pools closed on shutdown. (Keep-alive under a real worker: tests/test_dispatch.py.)"""

from __future__ import annotations

import logging
import socket

import pytest

from tests.receiver import Receiver
from worker.dispatch import http
from worker.dispatch.outcomes import Permanent, Retry


@pytest.fixture(autouse=True)
def fresh_pools():
    http.close_all()
    yield
    http.close_all()


def test_redirects_are_followed_and_303_turns_into_get():
    with Receiver() as rx:
        rx.scripts["/moved"] = [(307, {"Location": "/kept"})]
        rx.scripts["/seeother"] = [(303, {"Location": "/got"})]
        status, _ = http.request("POST", rx.url("/moved"), b'{"a":1}', {"Content-Type": "application/json"},
                                 destination="t")
        assert status == 200
        kept = rx.hits("/kept")
        assert [(r["method"], r["body"]) for r in kept] == [("POST", b'{"a":1}')], "307 keeps the method and body"
        http.request("POST", rx.url("/seeother"), b'{"a":1}', destination="t")
        assert [(r["method"], r["body"]) for r in rx.hits("/got")] == [("GET", b"")], "303 turns into a GET"


def test_a_redirect_loop_is_permanent_and_names_no_path():
    with Receiver() as rx:
        rx.scripts["/secret-loop"] = [(302, {"Location": "/secret-loop"})] * (http.MAX_REDIRECTS + 5)
        with pytest.raises(Permanent) as err:
            http.request("POST", rx.url("/secret-loop"), b"{}", destination="t")
    assert f"more than {http.MAX_REDIRECTS} redirects" in str(err.value)
    assert "secret-loop" not in str(err.value)


@pytest.mark.parametrize("status, outcome", [(500, Retry), (503, Retry), (408, Retry), (429, Retry),
                                             (404, Permanent), (410, Permanent), (400, Permanent)])
def test_statuses_map_to_retry_or_permanent(status, outcome):
    with Receiver() as rx:
        rx.scripts["/s3cr3t-token"] = [(status, {"Retry-After": "7"})]
        with pytest.raises(outcome) as err:
            http.request("POST", rx.url("/s3cr3t-token"), b"{}", destination="t")
    assert f"POST http://127.0.0.1:{rx.server.server_port} returned {status}" in str(err.value)
    assert "s3cr3t-token" not in str(err.value)
    if outcome is Retry:
        assert err.value.after == 7.0, "Retry-After is honoured"


def test_a_refused_connection_is_retried_and_names_scheme_and_host_only():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Retry) as err:
        http.request("POST", f"http://127.0.0.1:{port}/hooks/T0K3N", b"{}", destination="t")
    assert str(err.value).startswith(f"POST http://127.0.0.1:{port} failed: ")
    assert "T0K3N" not in str(err.value) and "refused" in str(err.value).lower()


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http:///no-host", "not a url"])
def test_a_url_that_is_not_http_is_permanent(url):
    with pytest.raises(Permanent, match="not a valid http"):
        http.request("POST", url, b"{}", destination="t")


def test_a_read_timeout_is_retried(monkeypatch):
    monkeypatch.setattr(http, "TIMEOUT", 0.3)
    with Receiver(delay=1.0) as rx:
        with pytest.raises(Retry, match="timed out"):
            http.request("POST", rx.url("/slow"), b"{}", destination="slow")


def test_connections_are_reused_per_destination_and_closed_on_shutdown():
    with Receiver() as rx:
        for _ in range(10):
            http.request("POST", rx.url(), b"{}", destination="a")
        assert len({r["peer"] for r in rx.hits("/hook")}) == 1, "keep-alive: one connection for 10 requests"
        http.close_all()
        http.request("POST", rx.url(), b"{}", destination="a")
        assert len({r["peer"] for r in rx.hits("/hook")}) == 2, "after close_all a new connection is opened"


def test_urllib3_log_records_show_scheme_and_host_only(caplog):
    record = logging.getLogger("urllib3.connectionpool").makeRecord(
        "urllib3.connectionpool", logging.WARNING, __file__, 1, "Failed to parse headers (url=%s): %s",
        ("https://hooks.example.com/services/T0K3N?x=1", "bad"), None)
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        logging.getLogger("urllib3.connectionpool").handle(record)
    assert caplog.messages == ["Failed to parse headers (url=https://hooks.example.com): bad"]
