"""Page budgets (issue 11, item 11): one outage, one page and one digest, through the real parts.

The 200-host DNS outage goes in through `ops ingest`, is held to the destination's digest in the
escalation trigger, and is delivered by a real worker process to a real HTTP receiver. Concurrency
uses eight real connections; the window boundary waits for the database's clock to cross it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import psycopg
import pytest
from markdown_it import MarkdownIt

from tests.dispatch_kit import FAST, WorkerProcess, wait_until
from tests.receiver import Receiver
from worker import ROOT, ssot
from worker.dispatch.destinations import github_issue, slack
from worker.ssot import load_yaml

OPS = [sys.executable, "-m", "worker.cli"]
HOSTILE = "getaddrinfo ENOTFOUND evil.example.com <!channel> ``` @octocat <!-- ops-fingerprint:x --> <https://x.test|ok>"


def host(i: int) -> str:
    """A host name without digits (digits are normalized away; letters keep groups apart)."""
    return "svc-" + str(i).zfill(4).translate(str.maketrans("0123456789", "abcdefghij")) + ".example.com"


def dns_lines(first: int, last: int, hostile: bool = False) -> str:
    """JSON lines: two failures per host (DNS.RECORD_MISSING escalates at 2 within 1h)."""
    lines = []
    for i in range(first, last + 1):
        message = HOSTILE if hostile and i == last else f"getaddrinfo ENOTFOUND {host(i)}"
        lines += [json.dumps({"source": "dns", "message": message})] * 2
    return "\n".join(lines) + "\n"


@pytest.fixture
def tree(tmp_path) -> Path:
    for part in ("ssot", "docs/runbooks"):
        shutil.copytree(ROOT / part, tmp_path / part)
    return tmp_path


def set_digest(tree: Path, db_url: str, destination: str, digest: str) -> None:
    """Write a digest into a copy of ssot/destinations.yaml and sync it: the file is the setting."""
    path = tree / "ssot/destinations.yaml"
    lines = path.read_text().splitlines()
    out, inside = [], False
    for line in lines:
        if line.startswith("  ") and not line.startswith("    "):
            inside = line.strip() == f"{destination}:"
        if inside and line.strip().startswith("digest:"):
            continue
        out.append(line)
        if inside and line.strip() == f"{destination}:":
            out.append(f"    digest: {digest}")
    path.write_text("\n".join(out) + "\n")
    with psycopg.connect(db_url) as conn:
        ssot.sync(conn, tree)
        assert conn.execute("SELECT config -> 'digest' FROM ops.destinations WHERE name = %s",
                            (destination,)).fetchone()[0] is not None


def ingest(db_url: str, lines: str) -> None:
    """`ops ingest --file -`: the producers' path, one statement per batch of up to 500 lines."""
    env = {**os.environ, "DATABASE_URL": db_url}
    result = subprocess.run([*OPS, "ingest", "--file", "-", "--json"], input=lines, capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr


def rows(db_url: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchall()


# -- the example, end to end ---------------------------------------------------------------------

def test_200_host_outage_is_one_page_and_one_digest_in_slack(db_url, tree, tmp_path):
    set_digest(tree, db_url, "oncall", "{window: 3s, max_pages: 1}")
    with Receiver() as rx, WorkerProcess(db_url, tmp_path / "w.log", *FAST,
                                         env={"OPS_SLACK_WEBHOOK_URL": rx.url("/slack")}) as w:
        ingest(db_url, dns_lines(1, 200, hostile=True))
        wait_until(lambda: len(rx.hits("/slack")) >= 2, 30, 0.1, "the page and the digest")
        time.sleep(1.5)  # nothing else may arrive: two polls more
        assert w.stop() == 0
        messages = [json.loads(h["body"]) for h in rx.hits("/slack")]
    assert len(messages) == 2, "one page and one digest, not 200 pages"
    # Under load the window may close before the worker's first claim; both are then due and delivered
    # concurrently, in either order: tell them apart by what they say.
    digest, page = sorted(messages, key=lambda m: "similar groups" not in m["text"])
    assert page["text"].startswith("[DNS.RECORD_MISSING] DNS name does not resolve")
    assert "arrive as one digest" in json.dumps(page["blocks"]), "the page says the rest will come as a digest"
    assert digest["text"].startswith("[DNS.RECORD_MISSING] +199 similar groups (DNS.RECORD_MISSING)")
    assert digest["blocks"][0]["text"]["text"].startswith("+199 similar groups")
    listing = digest["blocks"][2]["text"]["text"]
    shown = listing.count("\n• ") + listing.startswith("• ")
    more = int(listing.rsplit("…and ", 1)[1].split()[0]) if "…and " in listing else 0
    assert shown >= 10 and shown + more == 199, "as many groups as fit are listed, and the rest counted"
    assert "×2" in listing and "dns" in listing

    esc = rows(db_url, """SELECT reason, state, count_at, payload, next_attempt_at, delivered_at FROM ops.escalations
                          WHERE code = 'DNS.RECORD_MISSING' ORDER BY id""")
    assert [(r[0], r[1]) for r in esc] == [("window", "delivered"), ("digest", "delivered")]
    payload = esc[1][3]
    assert esc[1][2] == 199 and payload["similar_groups"] == 199 and len(payload["groups"]) == 199
    assert esc[1][5] >= esc[1][4], "the digest went out after its window closed"
    paged = esc[0][3]["fingerprint"]
    listed = {g["fingerprint"] for g in payload["groups"]}
    (groups,) = rows(db_url, "SELECT array_agg(fingerprint) FROM ops.agent_errors WHERE code = 'DNS.RECORD_MISSING'")[0]
    assert len(groups) == 200 and listed | {paged} == set(groups) and paged not in listed, \
        "every group is the page or one line of the digest"
    assert "<!channel>" not in json.dumps(digest["blocks"]), "no producer text pings the channel from a digest"


def test_digest_to_a_signed_webhook_lists_every_group(db_url, tree, tmp_path):
    """per: destination with two pages: every code shares the budget; the webhook gets the whole list.
    DNS.RECORD_MISSING escalates at 2 within 1h, NET.DNS_TEMPORARY_FAILURE at 10."""
    set_digest(tree, db_url, "ops_webhook", "{window: 3s, max_pages: 2, per: destination}")
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE ops.failure_modes SET escalate_destination = 'ops_webhook' "
                     "WHERE code IN ('DNS.RECORD_MISSING', 'NET.DNS_TEMPORARY_FAILURE')")
    lines = dns_lines(1, 40) + "".join(
        json.dumps({"source": "dns", "message": f"getaddrinfo EAI_AGAIN {host(i)}"}) + "\n" for i in range(1, 11) for _ in range(10))
    env = {"OPS_WEBHOOK_URL": "", "OPS_WEBHOOK_SECRET": "test-secret"}
    with Receiver() as rx:
        env["OPS_WEBHOOK_URL"] = rx.url("/hook")
        with WorkerProcess(db_url, tmp_path / "w.log", *FAST, env=env) as w:
            ingest(db_url, lines)
            wait_until(lambda: len(rx.successes("/hook")) >= 3, 30, 0.1, "two pages and the digest")
            time.sleep(1.5)
            assert w.stop() == 0
        bodies = [json.loads(h["body"]) for h in rx.hits("/hook")]
        assert rx.bad_signatures == 0
    (windows,) = rows(db_url, "SELECT count(*) FROM ops.page_windows")[0]
    crossings = rows(db_url, "SELECT count(*) FROM ops.agent_errors WHERE code IN "
                             "('DNS.RECORD_MISSING', 'NET.DNS_TEMPORARY_FAILURE')")[0][0]
    pages = [b for b in bodies if b["reason"] != "digest"]
    digests = [b for b in bodies if b["reason"] == "digest"]
    assert windows == 1 and len(pages) == 2 and len(digests) == 1
    groups = digests[0]["payload"]["groups"]
    assert digests[0]["payload"]["similar_groups"] == len(groups) == crossings - 2
    assert {g["code"] for g in groups} == {"DNS.RECORD_MISSING", "NET.DNS_TEMPORARY_FAILURE"}, "one budget for all codes"
    assert {g["fingerprint"] for g in groups}.isdisjoint({p["fingerprint"] for p in pages})
    assert digests[0]["delivery_id"].startswith("esc-")


# -- exactly once under concurrency -------------------------------------------------------------

def test_eight_connections_crossing_at_once_page_exactly_max_pages(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""UPDATE ops.destinations SET config = config || '{"digest": {"window": "1h", "max_pages": 3}}'
                        WHERE name = 'oncall'""")
    n_conn, rounds, per_statement = 8, 6, 4
    barrier = threading.Barrier(n_conn)
    errors: list[BaseException] = []

    def producer(k: int) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as c:
                for r in range(rounds):
                    barrier.wait(30)
                    base = (k * rounds + r) * per_statement
                    c.execute("""INSERT INTO ops.error_events (source, message)
                                 SELECT 'dns', 'getaddrinfo ENOTFOUND ' || h FROM unnest(%s::text[]) h, generate_series(1, 2)""",
                              ([host(base + i) for i in range(per_statement)],))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=producer, args=(k,)) for k in range(n_conn)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    total = n_conn * rounds * per_statement
    windows = rows(db_url, "SELECT id, crossings, max_pages FROM ops.page_windows ORDER BY id")
    pages = rows(db_url, "SELECT fingerprint, payload -> 'page_window' ->> 'id' FROM ops.escalations "
                         "WHERE code = 'DNS.RECORD_MISSING' AND reason = 'window'")
    items = rows(db_url, "SELECT fingerprint, window_id FROM ops.page_window_items")
    digests = rows(db_url, "SELECT dedupe_key FROM ops.escalations WHERE reason = 'digest'")
    assert sum(w[1] for w in windows) == total, "every crossing was counted once"
    assert len(pages) == 3 * len(windows), "exactly max_pages pages per window (an hour boundary makes two windows)"
    for wid, crossings, _ in windows:
        assert sum(1 for p in pages if p[1] == str(wid)) == 3
        assert sum(1 for i in items if i[1] == wid) == crossings - 3
    assert len(pages) + len(items) == total and {p[0] for p in pages}.isdisjoint({i[0] for i in items}), \
        "each crossing is a page or a digest line, never both, never neither"
    assert sorted(d[0] for d in digests) == sorted(f"digest:{w[0]}" for w in windows), "one digest per window"


def test_sealing_waits_for_a_transaction_still_adding_to_the_digest(db_url):
    """No loss at the close: the worker's seal waits for an open transaction's crossing, and lists it."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""UPDATE ops.destinations SET config = config || '{"digest": {"window": "1h", "max_pages": 1}}'
                        WHERE name = 'oncall'""")
        conn.execute("INSERT INTO ops.error_events (source, message) SELECT 'dns', 'getaddrinfo ENOTFOUND ' || h "
                     "FROM unnest(%s::text[]) h, generate_series(1, 2)", ([host(1), host(2)],))
        conn.execute("UPDATE ops.escalations SET next_attempt_at = now() WHERE reason = 'digest'")
    late = psycopg.connect(db_url)
    late.execute("INSERT INTO ops.error_events (source, message) SELECT 'dns', 'getaddrinfo ENOTFOUND ' || %s "
                 "FROM generate_series(1, 2)", (host(3),))  # held back, not yet committed
    result: dict = {}

    def seal() -> None:
        with psycopg.connect(db_url, autocommit=True) as w:
            (esc,) = w.execute("SELECT id, claims FROM ops.claim_escalations('t', 10) WHERE reason = 'digest'").fetchall()
            result["payload"] = w.execute("SELECT ops.seal_page_digest(%s, %s)", esc).fetchone()[0]

    sealer = threading.Thread(target=seal)
    sealer.start()
    sealer.join(2)
    assert sealer.is_alive(), "the seal waits for the transaction still adding to the window"
    late.commit()
    late.close()
    sealer.join(30)
    assert result["payload"]["similar_groups"] == 2, "the late crossing is in the digest"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO ops.error_events (source, message) SELECT 'dns', 'getaddrinfo ENOTFOUND ' || %s "
                     "FROM generate_series(1, 2)", (host(4),))
        pages = conn.execute("SELECT count(*) FROM ops.escalations WHERE reason = 'window'").fetchone()[0]
        items = conn.execute("SELECT count(*) FROM ops.page_window_items").fetchone()[0]
    assert (pages, items) == (2, 2), "after the seal a crossing pages on its own instead of joining a sent digest"


# -- the window boundary ------------------------------------------------------------------------

def test_a_new_window_has_a_new_budget_and_its_own_digest(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""UPDATE ops.destinations SET config = config || '{"digest": {"window": "2s", "max_pages": 1}}'
                        WHERE name = 'oncall'""")
        insert = ("INSERT INTO ops.error_events (source, message) SELECT 'dns', 'getaddrinfo ENOTFOUND ' || h "
                  "FROM unnest(%s::text[]) h, generate_series(1, 2)")
        conn.execute(insert, ([host(i) for i in range(1, 4)],))
        (end,) = conn.execute("SELECT window_end FROM ops.page_windows").fetchone()
        wait_until(lambda: conn.execute("SELECT now() >= %s", (end,)).fetchone()[0], 10, 0.05, "the window to close")
        conn.execute(insert, ([host(i) for i in range(4, 7)],))
        windows = conn.execute("SELECT id, window_start, window_end, crossings FROM ops.page_windows ORDER BY id").fetchall()
        digests = conn.execute("SELECT dedupe_key, next_attempt_at FROM ops.escalations WHERE reason = 'digest' "
                               "ORDER BY id").fetchall()
        pages = conn.execute("SELECT payload -> 'page_window' ->> 'id' FROM ops.escalations WHERE reason = 'window' "
                             "ORDER BY id").fetchall()
        items = conn.execute("SELECT window_id, count(*) FROM ops.page_window_items GROUP BY 1 ORDER BY 1").fetchall()
    assert len(windows) == 2 and windows[1][1] == windows[0][2], "the second window starts where the first ended"
    assert [w[3] for w in windows] == [3, 3]
    assert [p[0] for p in pages] == [str(windows[0][0]), str(windows[1][0])], "each window pages once"
    assert items == [(windows[0][0], 2), (windows[1][0], 2)], "each window holds back its own crossings"
    assert [(d[0], d[1]) for d in digests] == [(f"digest:{w[0]}", w[2]) for w in windows], "one digest each, due at its end"


def test_an_ignored_error_takes_no_page_and_no_digest_line(db_url):
    """Two of three groups are ignored when their crossings come: the third takes the window's one page, nothing is
    held back, and no digest lists an ignored group. An ignore that has run out crosses again."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""UPDATE ops.destinations SET config = config || '{"digest": {"window": "1h", "max_pages": 1}}'
                        WHERE name = 'oncall'""")
        insert = "INSERT INTO ops.error_events (source, message) SELECT 'dns', 'getaddrinfo ENOTFOUND ' || h FROM unnest(%s::text[]) h"
        hosts = [host(i) for i in range(1, 4)]
        conn.execute(insert, (hosts,))  # one event each: DNS.RECORD_MISSING escalates at the second
        fps = dict(conn.execute("SELECT split_part(sample_message, ' ', 3), fingerprint FROM ops.agent_errors").fetchall())
        for h in hosts[:2]:
            conn.execute("SELECT ops.ignore_error(%s)", (fps[h],))
        conn.execute(insert, (hosts,))
        paged = conn.execute("SELECT fingerprint FROM ops.escalations WHERE reason = 'window'").fetchall()
        held = conn.execute("SELECT count(*) FROM ops.page_window_items").fetchone()[0]
        digests = conn.execute("SELECT count(*) FROM ops.escalations WHERE reason = 'digest'").fetchone()[0]
        crossings = conn.execute("SELECT crossings FROM ops.page_windows").fetchall()
        # The first group's ignore runs out: its next crossing (a new window of its rule) goes on like any other, here
        # into the digest, since the window's one page is taken.
        conn.execute("UPDATE ops.agent_errors SET ignored_until = now() - interval '1 second', "
                     "window_started_at = window_started_at - interval '2 hours' WHERE fingerprint = %s", (fps[hosts[0]],))
        conn.execute(insert, ([hosts[0]] * 2,))
        after = conn.execute("SELECT fingerprint FROM ops.page_window_items").fetchall()
    assert paged == [(fps[hosts[2]],)], "the one page goes to the group that is not ignored"
    assert held == 0 and digests == 0, "no ignored group is held back into a digest"
    assert crossings == [(1,)], "ignored groups take no place in the page budget"
    assert after == [(fps[hosts[0]],)], "an ignore that ran out crosses again"


# -- the setting ---------------------------------------------------------------------------------

def test_the_destinations_file_matches_its_schema():
    schema = json.loads((ROOT / ssot.DESTINATIONS_SCHEMA).read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(json.dumps(load_yaml(ssot.DESTINATIONS))))
    assert load_yaml(ssot.DESTINATIONS)["destinations"]["oncall"]["digest"] == {"window": "10m", "max_pages": 1}


@pytest.mark.parametrize("digest, expected", [
    ("{window: 10 minutes, max_pages: 1}", "digest.window: '10 minutes' does not match"),
    ("{window: 10m, max_pages: 0}", "digest.max_pages: 0 is less than the minimum of 1"),
    ("{window: 10m, per: host}", "digest.per: 'host' is not one of ['code', 'destination']"),
    ("{window: 10m, codes: {NOPE.NOT_A_CODE: {max_pages: 2}}}", "digest.codes.NOPE.NOT_A_CODE: unknown code"),
    ("{max_pages: 2, codes: {DNS.RECORD_MISSING: {max_pages: 2}}}", "neither this entry nor the digest has one"),
    ("{max_pages: 2}", "needs a window"),
    ("{window: 10m, url: https://hooks.example/x}", "Additional properties are not allowed ('url' was unexpected)"),
])
def test_a_bad_digest_is_refused_with_its_line(conn, tree, digest, expected):
    text = (tree / "ssot/destinations.yaml").read_text().replace("digest: {window: 10m, max_pages: 1}",
                                                                  f"digest: {digest}")
    (tree / "ssot/destinations.yaml").write_text(text)
    found = [p for p in ssot.check(conn, tree) if expected in p.message]
    assert found, [str(p) for p in ssot.check(conn, tree)]
    line = text.splitlines()[found[0].line - 1]
    assert "digest" in line and found[0].message.startswith("destination 'oncall': digest")


def test_only_destinations_that_page_take_a_digest(conn, tree):
    path = tree / "ssot/destinations.yaml"
    path.write_text(path.read_text().replace("  work_queue:\n    kind: work_item\n",
                                             "  work_queue:\n    kind: work_item\n    digest: {window: 10m}\n"))
    assert any("only destinations that page a person" in p.message and "'work_item'" in p.message
               for p in ssot.check(conn, tree))


# -- what a person sees, per medium ---------------------------------------------------------------

def _digest_job(groups: list[dict]) -> dict:
    return {"id": 42, "code": "DNS.RECORD_MISSING", "reason": "digest", "destination": "oncall",
            "fingerprint": "digest:7", "count_at": len(groups),
            "payload": {"title": "DNS name does not resolve", "code": "DNS.RECORD_MISSING", "similar_groups": len(groups),
                        "groups": groups, "window_start": "2026-11-29T10:00:00+00:00",
                        "window_end": "2026-11-29T10:10:00+00:00", "window_crossings": len(groups) + 1, "max_pages": 1}}


def test_hostile_samples_stay_text_in_slack_and_github():
    groups = [{"code": "DNS.RECORD_MISSING", "count": 2, "source": "dns", "fingerprint": "ab" * 32,
               "sample_message": HOSTILE + "\nsecond line"}]
    text = json.dumps(slack.message(_digest_job(groups)))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "<https://x.test" not in text
    listing = slack.message(_digest_job(groups))["blocks"][2]["text"]["text"]
    assert listing.count("`") % 2 == 0 and "```" not in listing, "the sample cannot close its code span"
    body = github_issue.body(_digest_job(groups))
    sample_line = next(line for line in body.splitlines() if "evil.example.com" in line)
    inline = MarkdownIt("commonmark").parseInline(sample_line)[0].children
    assert {t.type for t in inline} <= {"text", "code_inline"}, "no link, HTML or emphasis from the sample"
    assert [t.content for t in inline if "evil.example.com" in t.content and t.type == "code_inline"], \
        "the sample stays inside its own code span"
    assert body.count("<!-- ops-fingerprint:") == 1 + sample_line.count("<!-- ops-fingerprint:")
    assert body.rstrip().endswith("delivery:esc-42 -->"), "the real delivery marker is the last line"
    assert "⏎ second line" in sample_line, "a line break cannot start a new Markdown block"


def test_a_large_digest_fits_each_medium():
    groups = [{"code": "DNS.RECORD_MISSING", "count": 2, "source": "dns", "fingerprint": f"{i:064x}",
               "sample_message": "x" * 400} for i in range(2000)]
    blocks = slack.message(_digest_job(groups))["blocks"]
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert "…and " in blocks[2]["text"]["text"]
    body = github_issue.body(_digest_job(groups))
    assert len(body) <= 65536 and "…and " in body
