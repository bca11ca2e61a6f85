"""Text that never acts (issue 11 item 5): worker/render.py for Slack, GitHub and the terminal, fed
hostile samples, each output parsed the way its medium would (as far as a test can)."""

from __future__ import annotations

import html
import re
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from worker import render
from worker.dispatch.destinations import github_issue, slack
from worker.render import BIDI, ZWSP

HOSTILE = [
    "`", "``", "```", "````````", "<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123>",
    "<http://x|y>", "<http://evil.example/|click here>", "@user", "@octocat/team", "user@example.com",
    "<!-- ops-delivery: esc-1 -->", "<!-->", "<!--->", "<!-- ops-fingerprint:abc delivery:esc-2 -->", "<!--", "-->", "--->",
    "\x1b[31m", "\x1b[2J", "\x1b]8;;http://evil.example\x1b\\", "\x1b]8;;http://e\x07", "\x9b31m", "\r",
    "\n", "\r\n", "\t", "\x00", "\x7f", "\u202e", "\u202d", "\u2066", "\u2069", "\u200f", "\u200b", "\u2028",
    "&", "&amp;", "&lt;", "&#64;", "*bold*", "_it_", "~s~", "[x](http://y)", "![i](http://y)",
    "<img src=x onerror=alert(1)>", "<details>", "# h", "\n---\n", "    ", "\\", "> quote", "1. ", "|", ">",
]
TEXT = st.lists(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6)), max_size=25).map("".join)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MD = MarkdownIt("commonmark")
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")


def _plain(text: str) -> bool:
    """No character Slack or GitHub output shows differently (controls, format characters, separators;
    tab and the emoji joiner are kept)."""
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text if c not in "\t\u200d")


# -- Slack ---------------------------------------------------------------------------------------------

def _slack_actions(mrkdwn: str) -> list[str]:
    """What Slack would act on in mrkdwn: <...> sequences (mentions, channel pings, links)."""
    return re.findall(r"<[^>]*>", mrkdwn)


@PROPERTY
@given(TEXT)
def test_slack_text_has_no_mention_link_or_ping(text):
    out = render.slack_text(text)
    assert "<" not in out and ">" not in out and _slack_actions(out) == []
    assert re.sub(r"&(amp|lt|gt);", "", out).count("&") == 0, "every & starts an entity Slack decodes"
    assert "\n" not in out and _plain(out.replace(ZWSP, ""))
    if _plain(text):
        assert html.unescape(out) == text, "what was stored is what is shown"


@PROPERTY
@given(TEXT)
def test_slack_code_block_cannot_be_closed_or_escaped(text):
    out = render.slack_code_block(text, limit=3000)
    assert out.startswith("```") and out.endswith("```") and len(out) <= 3000
    inner = out[3:-3]
    assert "``" not in inner and not inner.startswith("`") and not inner.endswith("`"), \
        "no run of backticks inside can meet the fence"
    assert _slack_actions(inner) == [] and "<" not in inner
    if _plain(text) and len(out) < 3000:
        assert html.unescape(inner.replace(ZWSP, "")) == text


def test_slack_code_block_stays_within_slacks_limit_for_the_worst_input():
    worst = "\u202e" * 500  # each becomes &lt;U+202E&gt; (14 characters)
    out = render.slack_code_block(worst, limit=3000)
    assert len(out) <= 3000 and out.endswith("…```") and "&lt;U+202E&gt;" in out


@PROPERTY
@given(TEXT, TEXT)
def test_slack_message_from_hostile_phase_and_sample(phase, sample):
    job = _job(phase=phase, sample=sample)
    msg = slack.message(job)
    texts = [msg["text"]] + [f["text"] for b in msg["blocks"] if b["type"] == "section" for f in b.get("fields", [])] \
        + [b["text"]["text"] for b in msg["blocks"] if b["type"] == "section" and "text" in b]
    for t in texts:
        assert _slack_actions(t) == [], t
    code = msg["blocks"][2]["text"]["text"]
    assert code.startswith("```") and code.endswith("```") and "``" not in code[3:-3] and len(code) <= 3000
    assert len(msg["blocks"][0]["text"]["text"]) <= 150


# -- GitHub --------------------------------------------------------------------------------------------

def _walk(tokens):
    for t in tokens:
        yield t
        yield from _walk(t.children or [])


ACTING = {"html_inline", "html_block", "link_open", "image", "autolink"}


@PROPERTY
@given(TEXT)
@example("\xa0")
@example("a\u2003")
def test_github_text_is_inline_text_only(text):
    out = render.github_markdown_text(text)
    tokens = list(_walk(MD.parse(f"- source: {out}")))
    assert [t.type for t in tokens if t.type in ACTING] == []
    inline = [t for t in tokens if t.type == "inline"]
    assert len(inline) == 1 and {c.type for c in inline[0].children} <= {"text"}, "no emphasis, code or break"
    shown = inline[0].content and "".join(c.content for c in inline[0].children)
    assert not MENTION.search(shown or ""), "no @mention"
    assert "<!--" not in out and "-->" not in out
    if _plain(text) and "\n" not in text and "\r" not in text:
        # Markdown trims white space around a paragraph line, Unicode white space (NBSP) included.
        assert (shown or "").replace("@" + ZWSP, "@").strip() == f"source: {text}".strip(), "shown as stored"


@PROPERTY
@given(TEXT)
def test_github_code_block_is_one_fence_holding_the_text(text):
    out = render.github_code_block(text)
    tokens = MD.parse(out)
    assert [t.type for t in tokens] == ["fence"], "the content never closes the fence"
    assert "<!--" not in out and "-->" not in out, "no forged delivery marker, even inside code"
    if _plain(text) and "\r" not in text:
        shown = tokens[0].content.replace("<!" + ZWSP + "--", "<!--").replace("--" + ZWSP + ">", "-->")
        assert shown == text + "\n", "shown as stored, but for the broken-up comment markers"


@PROPERTY
@given(TEXT)
def test_github_inline_code_is_one_code_span(text):
    out = render.github_inline_code(text)
    (inline,) = [t for t in MD.parse(f"x {out} y") if t.type == "inline"]
    assert [c.type for c in inline.children] == ["text", "code_inline", "text"]
    assert "<!--" not in out and "-->" not in out


def _job(*, phase: str = "test", sample: str = "boom", job_id: int = 41, fingerprint: str = "f" * 64) -> dict:
    from datetime import datetime, timezone
    return {"id": job_id, "code": "CI.TESTS_FAILED", "reason": "threshold", "count_at": 3, "fingerprint": fingerprint,
            "created_at": datetime.now(timezone.utc),
            "payload": {"title": "Tests failed", "severity": "high", "source": "github_actions", "phase": phase,
                        "sample_message": sample, "runbook": "docs/runbooks/failures/CI.TESTS_FAILED.md",
                        "first_seen_at": "2026-11-29T10:00:00Z", "last_seen_at": "2026-11-29T11:00:00Z"}}


@PROPERTY
@given(TEXT, TEXT)
def test_github_body_from_hostile_phase_and_sample(phase, sample):
    job = _job(phase=phase, sample=sample)
    body = github_issue.body(job)
    tokens = list(_walk(MD.parse(body)))
    assert [(t.type, t.content) for t in tokens if t.type in ACTING] == [("html_block", github_issue.marker(job))], \
        "no HTML, link or image from a producer: the only HTML is the worker's own marker"
    assert [t.type for t in tokens if t.type == "fence"] == ["fence"]
    shown = " ".join(t.content for t in tokens if t.type in ("text", "code_inline"))
    assert not MENTION.search(shown)
    assert body.count("<!--") == 1 and body.count("-->") == 1 and body.endswith(github_issue.marker(job)), \
        "the only comment marker is the worker's own, last"
    for other in (40, 42, 1):  # no delivery id but this job's can be found in the body
        assert github_issue.marker(_job(job_id=other)) not in body


def test_github_body_links_the_runbook_and_nothing_else(monkeypatch):
    monkeypatch.setenv("OPS_RUNBOOK_BASE_URL", "https://github.com/acme/ops/blob/main/")
    body = github_issue.body(_job(phase="[x](http://evil.example)", sample="<a href='http://evil.example'>x</a>"))
    links = [t.attrs["href"] for t in _walk(MD.parse(body)) if t.type == "link_open"]
    assert links == ["https://github.com/acme/ops/blob/main/docs/runbooks/failures/CI.TESTS_FAILED.md"]


# -- terminal ------------------------------------------------------------------------------------------

@PROPERTY
@given(TEXT | st.text())
def test_terminal_shows_every_control_and_bidi_character_visibly(text):
    out = render.terminal(text)
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") for c in out), repr(out)
    assert not set(out) & BIDI and "\x1b" not in out and "\r" not in out
    kept = render.terminal(text, newlines=True)
    assert all(c == "\n" or unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") for c in kept)
    if _plain(text) and "\t" not in text and "\u200d" not in text:
        assert out == text


def test_terminal_examples():
    assert render.terminal("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m"
    assert render.terminal("\x1b]8;;http://evil\x07click\x1b]8;;\x07") == "\\x1b]8;;http://evil\\x07click\\x1b]8;;\\x07"
    assert render.terminal("ok\rFAKE") == "ok\\x0dFAKE"
    assert render.terminal("abc\u202edcba") == "abc<U+202E>dcba"
    assert render.terminal("\x9b2J") == "\\x9b2J"
    assert render.terminal("é 漢字 🙂") == "é 漢字 🙂", "ordinary text is untouched"
    assert render.terminal("a" * 10, limit=5) == "aaaa…"
    assert render.terminal("\x1b" * 3, limit=9) == "\\x1b\\x1b…", "never cut inside an escape"
