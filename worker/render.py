"""Stored text made inert for the medium it is shown in: Slack mrkdwn, GitHub Markdown, a terminal.

Everything a producer wrote (a phase, a sample message, an origin) and everything stored from
elsewhere (a remote's error answer) passes through one of these functions before it is shown, so
no text can act where it lands:

* Slack (mrkdwn): ``&``, ``<``, ``>`` escaped as ``&amp;``/``&lt;``/``&gt;``, so no ``<!channel>``,
  ``<!here>``, ``<@U123>`` or ``<http://evil|click>`` survives; in a code block a zero-width space
  separates every backtick from its neighbours, so content can never write the closing fence.
* GitHub (CommonMark + GFM): every ASCII punctuation character backslash-escaped outside code (no
  link, image, HTML, heading or list can start), ``@`` followed by a zero-width space (no mention),
  a code fence longer than any backtick run inside; in both, ``<!--`` and ``-->`` are broken up, so
  no content can forge the HTML comment that marks the worker's own delivery.
* Terminal: C0/C1 control characters (ESC, so ANSI colours and OSC-8 links; CR; BEL; ...) shown as
  ``\\x1b``-style escapes, format characters (bidi overrides and isolates, zero-width characters) as
  ``<U+202E>``, so what is printed is what is stored, visibly.

Control characters other than newline and tab, and format characters other than the zero-width joiner
(bidi controls, zero-width spaces), are shown visibly (``\\x1b``, ``<U+202E>``) in Slack and GitHub too. Each function takes ``limit``: the rendered text is cut to at
most that many characters, never inside an escape, and ends with ``…`` when cut.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterable

ZWSP = "\u200b"
ZWJ = "\u200d"  # joins emoji sequences; shown as is
ELLIPSIS = "…"
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SLACK = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MD_PUNCT = frozenset(string.punctuation) - {"@"}
# What ends an HTML comment or starts one, after the characters around it were rendered.
_COMMENT = re.compile(r"<!--|-->")


def _control(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _codepoint(c: str) -> str:
    return f"<U+{ord(c):04X}>"


def _visible(c: str, *, newlines: bool) -> str:
    """One character as it should appear in Slack or GitHub: controls (but tab, and newline when
    ``newlines``) as ``\\x1b``, format characters (bidi controls, zero-width ones; not the joiner
    emoji sequences need) and line/paragraph separators as ``<U+202E>``."""
    if c == "\n" and newlines or c == "\t" or c == ZWJ:
        return c
    category = unicodedata.category(c)
    if category == "Cc":
        return _control(c)
    if category in ("Cf", "Zl", "Zp") or c in BIDI:
        return _codepoint(c)
    return c


def _fit(pieces: Iterable[str], limit: int | None) -> str:
    """Join rendered pieces, stopping before the one that would pass ``limit`` (then ending with …)."""
    if limit is None:
        return "".join(pieces)
    out, used = [], 0
    budget = limit - len(ELLIPSIS)
    pieces = list(pieces)
    total = sum(map(len, pieces))
    if total <= limit:
        return "".join(pieces)
    for piece in pieces:
        if used + len(piece) > budget:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + ELLIPSIS


def _no_comment_markers(text: str) -> str:
    """``<!--`` and ``-->`` broken by a zero-width space. Until none is left: in ``<!-->`` they overlap,
    and a replacement never makes a new one, so this ends."""
    while _COMMENT.search(text):
        text = _COMMENT.sub(lambda m: "<!" + ZWSP + "--" if m.group() == "<!--" else "--" + ZWSP + ">", text)
    return text


# -- Slack ----------------------------------------------------------------------------------------------

def _slack_escape(text: str) -> str:
    return "".join(_SLACK.get(c, c) for c in text)


def slack_text(text: object, *, limit: int | None = None) -> str:
    """``text`` for a Slack mrkdwn field: one line, ``&<>`` escaped, controls visible. Cut to ``limit``."""
    return _fit((_slack_escape(_visible(c, newlines=False)) for c in str(text)), limit)


def slack_code_block(text: object, *, limit: int | None = None) -> str:
    """``text`` as a Slack code block (```...```) its content cannot close: ``&<>`` escaped and every
    backtick set apart from its neighbours by zero-width spaces. The whole block is at most ``limit``."""
    pieces = ((ZWSP + c + ZWSP) if c == "`" else _slack_escape(_visible(c, newlines=True)) for c in str(text))
    inner = _fit(pieces, None if limit is None else max(0, limit - 6))
    return f"```{inner}```"


def slack_link(url: str, label: object) -> str:
    """A Slack link ``<url|label>`` whose URL and label cannot break out (``|`` in the URL encoded)."""
    return f"<{slack_text(url).replace('|', '%7C')}|{slack_text(label)}>"


# -- GitHub ---------------------------------------------------------------------------------------------

def _github_escape(c: str) -> str:
    if c == "@":
        return "@" + ZWSP
    return "\\" + c if c in _MD_PUNCT else c


def _github_char(c: str) -> str:
    if c in "\r\n":
        return " "
    return "".join(_github_escape(x) for x in _visible(c, newlines=False))


def github_markdown_text(text: object, *, limit: int | None = None) -> str:
    """``text`` as inert GitHub Markdown inline text: one line, every ASCII punctuation character
    backslash-escaped (so no link, image, HTML, emphasis or comment marker), ``@`` followed by a
    zero-width space (no mention), controls and bidi controls visible. Cut to ``limit``."""
    return _fit((_github_char(c) for c in str(text)), limit)


def github_inline_code(text: object, *, limit: int | None = None) -> str:
    """``text`` as a GitHub inline code span (one line): delimited by a backtick run longer than any
    inside, ``<!--``/``-->`` broken up, controls and bidi controls visible. Cut to ``limit``."""
    inner = _no_comment_markers(_fit((_visible(c, newlines=False) for c in str(text)), limit))
    longest = max((len(run) for run in re.findall(r"`+", inner)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if inner.startswith("`") or inner.endswith("`") or not inner.strip() else ""
    return f"{tick}{pad}{inner}{pad}{tick}"


def github_code_block(text: object, *, limit: int | None = None) -> str:
    """``text`` as a GitHub fenced code block: a backtick fence longer than any backtick run inside (at
    least 3), so the content cannot close it; ``<!--`` and ``-->`` broken up; controls and bidi
    controls visible. Starts and ends with a newline-free fence line; the content is cut to ``limit``."""
    pieces = [_visible(c, newlines=True) for c in str(text).replace("\r\n", "\n")]
    inner = _no_comment_markers(_fit(pieces, limit))
    longest = max((len(run) for run in re.findall(r"`+", inner)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{inner}\n{fence}"


# -- terminal -------------------------------------------------------------------------------------------

def _terminal_char(c: str, newlines: bool) -> str:
    if c == "\n" and newlines:
        return c
    category = unicodedata.category(c)
    if category == "Cc":
        return _control(c)
    if category in ("Cf", "Zl", "Zp") or c in BIDI:
        return _codepoint(c)
    return c


def terminal(text: object, *, newlines: bool = False, limit: int | None = None) -> str:
    """``text`` safe to print: every control character (ESC of ANSI and OSC-8 sequences, CR, BEL, tab,
    and newline unless ``newlines``) shown as ``\\x1b``-style escapes, format characters (bidi
    overrides, zero-width characters) and line/paragraph separators as ``<U+202E>``. Cut to ``limit``."""
    if text is None:
        return ""
    return _fit((_terminal_char(c, newlines) for c in str(text)), limit)


# -- HTML (the report page) -----------------------------------------------------------------------------

_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}
# In a <script type="application/json"> block: what could end the element (</script>, <!--) or be read
# as a line terminator by an older JavaScript parser, written as JSON's own \uXXXX escapes.
_SCRIPT_JSON = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def html_text(text: object, *, limit: int | None = None) -> str:
    """``text`` as HTML text or a quoted attribute value: ``& < > " '`` as character references (the five
    of the HTML standard's escaping), controls and bidi/zero-width characters visible (``\\x1b``,
    ``<U+202E>``), one line. Cut to ``limit`` characters before escaping. Also right for Plotly labels,
    whose text is a small HTML subset that decodes these references and nothing else acts."""
    if text is None:
        return ""
    visible = _fit((_visible(c, newlines=False) for c in str(text)), limit)
    return "".join(_HTML.get(c, c) for c in visible)


def script_json(text: str) -> str:
    """JSON text (from json.dumps or plotly.io.to_json) made safe inside ``<script type="application/json">``:
    ``<``, ``>``, ``&``, U+2028 and U+2029 written as ``\\u`` escapes, so no string in it can close the
    element (``</script>``) or open a comment; JSON.parse reads the same value."""
    return "".join(_SCRIPT_JSON.get(c, c) for c in text)
