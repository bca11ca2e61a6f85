"""The single source of truth: load, check and sync ssot/ into the database.

The YAML files are the truth; the ``ops`` taxonomy tables hold a synced copy. ``check`` reports
``file:line: message`` problems; ``sync`` calls ``ops.sync_ssot(doc)`` (idempotent, deletes what the
YAML deleted); ``diff`` runs the same sync inside a transaction it rolls back, so drift is exactly
what a sync would change.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml

try:  # Python's own regex parser: how the SSOT check reads a pattern's structure
    import re._constants as sre_constants
    import re._parser as sre_parse
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants
    import sre_parse

from worker import ROOT
from worker.learn import benchmark
from worker.queries import execute

TAXONOMY = Path("ssot/errors/failure_modes.yaml")
REDACTION = Path("ssot/errors/redaction.yaml")
DESTINATIONS = Path("ssot/destinations.yaml")
FIXBOT_POLICY = Path("ssot/agents/fixbot_policy.yaml")
VARIANTS = Path("ssot/agents/variants.yaml")
VARIANTS_SCHEMA = Path("ssot/schemas/variants.schema.json")
TAXONOMY_SCHEMA = Path("ssot/schemas/failure_modes.schema.json")
DESTINATIONS_SCHEMA = Path("ssot/schemas/destinations.schema.json")
FIXBOT_POLICY_SCHEMA = Path("ssot/schemas/fixbot_policy.schema.json")
DESTINATION_KINDS = {"webhook", "slack", "work_item", "github_issue", "fixbot"}
# Kinds that page a person, and so may carry a digest (a page budget per window).
DIGEST_KINDS = {"webhook", "slack", "github_issue"}
WITHIN_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# Regex syntax on which PostgreSQL ARE and Python re disagree (or that one of them lacks). A lazy quantifier
# (*?, +?, ??, {m,n}?) is one: PostgreSQL takes a whole regex's greediness from its first quantifier, Python each
# quantifier's from itself (a wrapper alone, without the others' alternation, would match differently). A group
# other than (?:, (?=, (?!, (?<= and (?<! is one (inline flags, named groups). A lookbehind is portable when its width
# is fixed (both engines then read it alike; Python refuses any other, and that refusal is reported as a compile error).
UNPORTABLE_REGEX = re.compile(r"\\[bByYmMAZ1-9]|\(\?(?!<[=!])[^:=!]|(?<!\\)[*+?}]\?")
# What a code's text says about merges, read against its ci_behavior (the merge gate reads only the field): a title
# that says "non-blocking", or a description that says it never blocks a merge.
NON_BLOCKING_TITLE = re.compile(r"non[- ]?blocking", re.IGNORECASE)
NON_BLOCKING_TEXT = re.compile(r"(never|not|n't) block(s|ing)? (a |the |any )?(merge|pull request|pr)\b", re.IGNORECASE)


# -- YAML with line numbers ------------------------------------------------------------------------

class LineDict(dict):
    """A mapping that remembers the line of itself and of each key (1-based)."""

    line = 0
    key_lines: dict


class LineList(list):
    line = 0
    item_lines: list


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and records line numbers."""

    def construct_mapping(self, node, deep=False):
        mapping = LineDict()
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(None, None, "merge keys (<<) are not allowed", key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            if key in mapping:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=True)
            mapping.key_lines[key] = key_node.start_mark.line + 1
        return mapping

    def construct_sequence(self, node, deep=False):
        seq = LineList(self.construct_object(child, deep=True) for child in node.value)
        seq.line = node.start_mark.line + 1
        seq.item_lines = [child.start_mark.line + 1 for child in node.value]
        return seq


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)


@dataclass(frozen=True)
class Diagnostic:
    """Something wrong in an SSOT file, at ``path:line`` (line 0: the whole file). Not an RFC 9457
    document (that is worker.problem.ProblemDocument)."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class SsotInvalid(Exception):
    def __init__(self, problems: list[Diagnostic]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def load_yaml(path: Path, root: Path = ROOT):
    full = root / path
    try:
        return yaml.load(full.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 (safe subclass)
    except FileNotFoundError:
        raise SsotInvalid([Diagnostic(path, 0, "file not found")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise SsotInvalid([Diagnostic(path, line, f"{exc.problem or exc.context}")]) from None


FRAGMENT = re.compile(r"\{\{([a-z][a-z0-9_]*)\}\}")


def load_taxonomy(root: Path = ROOT):
    """The taxonomy file (``load_yaml``) with each detect regex's ``{{name}}`` replaced by the text of ``fragments:
    name`` (a regex piece written once and read by several patterns, e.g. decision 1's list of well-known public
    hosts), so everything after the load, the database included, sees whole regexes. A ``{{name}}`` with no such
    fragment raises SsotInvalid at the pattern's line; an unused fragment is a finding of ``check``."""
    tax = load_yaml(TAXONOMY, root)
    if not isinstance(tax, dict):
        return tax  # the schema check names what is wrong
    fragments = tax.get("fragments") if isinstance(tax.get("fragments"), dict) else {}
    problems = []
    for i, fm in enumerate(tax.get("failure_modes") or []):
        patterns = (fm.get("detect") or {}).get("patterns") if isinstance(fm, dict) else None
        for j, p in enumerate(patterns or []):
            if not (isinstance(p, dict) and isinstance(p.get("regex"), str) and "{{" in p["regex"]):
                continue
            unknown = [name for name in FRAGMENT.findall(p["regex"]) if not isinstance(fragments.get(name), str)]
            if unknown:
                problems += [Diagnostic(TAXONOMY, line_of(tax, ["failure_modes", i, "detect", "patterns", j]),
                                        f"regex names fragment {{{{{name}}}}}, which fragments: does not define")
                             for name in unknown]
            else:
                p["regex"] = FRAGMENT.sub(lambda m: fragments[m[1]], p["regex"])
    if problems:
        raise SsotInvalid(problems)
    return tax


def line_of(data, path) -> int:
    """The line of the deepest node along a JSON path that carries one."""
    line = getattr(data, "line", 0)
    node = data
    for part in path:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
        elif isinstance(node, LineList) and isinstance(part, int) and part < len(node):
            line = node.item_lines[part]
        else:
            break
        node = node[part]
        line = getattr(node, "line", line) or line
    return line


_CONFUSABLES = str.maketrans("авекмнорстхуіјѕԁԛԝѵһαβεζηικμνορτυχ", "abekmhopctxyijsdqwvhabezhikmnoptyx")
_FOLDED = re.compile("[-_ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")


def pattern_option(fm: dict, index: int, key: str):
    """An optional key of a failure mode's pattern at ``index``, None when the pattern lacks it (a bare string pattern
    has none): `group` (docs/grouping.md, "Grouping by pattern": patterns of a code grouped by pattern that share a
    name are one group), `not_sources` (docs/classification.md: sources whose events the pattern never reads, no
    restriction on precedence step 3, unlike `sources`) or `grouping` (`pattern`: under a code grouped by message, the
    pattern groups by itself; docs/grouping.md, "One pattern grouped by itself")."""
    p = fm["detect"]["patterns"][index]
    return p.get(key) if isinstance(p, dict) else None


def canonical_text(text: str) -> str:
    """The canonical form classification matches on (the same as SQL ``ops.canonical_text``): NFKC,
    lower case, Cyrillic/Greek look-alikes folded to Latin, runs of ``_``, ``-`` and blanks to one
    space, CR LF and CR to LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _FOLDED.sub(" ", unicodedata.normalize("NFKC", text).lower().translate(_CONFUSABLES))


def spans_from_text_start(pattern: str) -> bool:
    r"""True for a regex anchored at the text's start (`^`) that, after any leading lookarounds, repeats a piece that
    can cross lines (`(.|\n)*`, `[\s\S]+`, `[^x]{m,n}`, and `.`, which crosses lines in PostgreSQL): its match, and so
    a message-grouped code's grouping text, would begin at the message's first line whatever line names the cause
    (round 85's NET.TIMEOUT regex and CI.RUNNER_LOST's listener regex had this shape)."""
    if not pattern.startswith("^"):
        return False
    i = 1
    while pattern.startswith(("(?!", "(?=", "(?<!", "(?<="), i):  # skip a leading lookaround, balancing parentheses
        depth = 0
        while i < len(pattern):
            c = pattern[i]
            i += 2 if c == "\\" else 1
            depth += (c == "(") - (c == ")")
            if depth == 0:
                break
    piece = r"(\(\.\|\\n\)|\(\\n\|\.\)|\[\\s\\S\]|\[\^(?![^\]]*\\n)[^\]]*\]|\.)"
    return re.match(piece + r"([*+]|\{\d+,\d*\})", pattern[i:]) is not None


def literal_characters(pattern: str) -> set[str]:
    """Every character a regex spells literally (outside bracket expressions)."""

    def walk(items):
        for op, arg in items:
            if op is sre_constants.LITERAL:
                yield chr(arg)
            elif op is sre_constants.SUBPATTERN:
                yield from walk(arg[-1])
            elif op is sre_constants.BRANCH:
                for alternative in arg[1]:
                    yield from walk(alternative)
            elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
                yield from walk(arg[2])

    return set(walk(sre_parse.parse(pattern).data))


# Words almost every error message holds: a literal that is only one of them lets the regex run on nearly every
# message, so a pattern's other literals are preferred (``(status|code|http|error)[^0-9]{0,12}429`` is filtered
# by "429", not by "error"). A choice of cost only: any set required_literals returns is sound.
COMMON_WORDS = frozenset({"error", "errors", "code", "status", "http", "https", "response", "returned", "fail",
                          "failed", "failure", "exception", "request", "invalid", "cannot", "could not",
                          "unable to", "not found"})


def _selectivity(literals: set[str]) -> int:
    """How rarely text holds one of ``literals`` (a guess, higher is rarer): the weakest literal's length, plus 3
    when it has a digit (a status or exit code), minus 3 when it is only a common word (COMMON_WORDS)."""

    def one(literal: str) -> int:
        score = len(literal)
        if any(c.isdigit() for c in literal):
            score += 3
        if literal.strip(" :.,;!?()[]'\"") in COMMON_WORDS:
            score -= 3
        return score

    return min(map(one, literals))


def required_literals(pattern: str, minimum: int = 2) -> list[str] | None:
    """Lower-cased literals of which every match of ``pattern`` contains at least one, if found.

    Read from Python's parse of the regex: a run of literals in a sequence, a group, a branch whose
    every alternative has such a set (their union), or a repeat of at least once. Where a sequence
    offers several such sets, the one text holds least often by ``_selectivity`` is kept. The answer is
    sound by construction. ops.classify_error runs a regex only when the message contains one of
    its literals: PostgreSQL caches just 32 compiled regexes, and the taxonomy has more.
    """

    def needed(items) -> set[str] | None:
        best: set[str] | None = None

        def consider(candidate):
            nonlocal best
            if candidate and min(map(len, candidate)) >= minimum and (
                    best is None or _selectivity(candidate) > _selectivity(best)):
                best = candidate

        run: list[str] = []
        for op, arg in list(items) + [(None, None)]:
            if op is sre_constants.LITERAL:
                run.append(chr(arg))
                continue
            if run:
                consider({"".join(run).lower()})
                run = []
            if op is sre_constants.SUBPATTERN:
                consider(needed(arg[-1]))
            elif op is sre_constants.BRANCH:
                alternatives = [needed(alt) for alt in arg[1]]
                if all(alternatives):
                    consider(set().union(*alternatives))
            elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] >= 1:
                consider(needed(arg[2]))
        return best

    found = needed(sre_parse.parse(pattern, re.IGNORECASE).data)
    return sorted(found) if found else None


def wrapper_literals(wrappers: list[str]) -> list[list[str] | None]:
    """Per wrapper regex (same order), its ``required_literals``: lower-cased literals of which every match
    contains one, or None when it has none. Classification builds the alternation of only the wrappers whose
    literals are in the text (a wrapper without any is always in it): the alternation of all of them took about
    2 ms to compile whenever PostgreSQL's 32-regex cache had dropped it, on most messages for nothing."""
    return [required_literals(wrapper) for wrapper in wrappers]


# -- the document ----------------------------------------------------------------------------------

@dataclass
class Ssot:
    root: Path
    taxonomy: dict
    redaction: dict
    destinations: dict
    policy: dict
    benchmark: dict

    @classmethod
    def load(cls, root: Path = ROOT) -> Ssot:
        problems, loaded = [], {}
        for name, path in (("taxonomy", TAXONOMY), ("redaction", REDACTION), ("destinations", DESTINATIONS),
                           ("policy", FIXBOT_POLICY), ("benchmark", benchmark.BENCHMARK)):
            try:
                loaded[name] = load_taxonomy(root) if path == TAXONOMY else load_yaml(path, root)
            except SsotInvalid as exc:
                problems += exc.problems
        if problems:
            raise SsotInvalid(problems)
        return cls(root=root, **loaded)

    def sha256(self, path: Path) -> str:
        return hashlib.sha256((self.root / path).read_bytes()).hexdigest()

    def patterns(self, fm: dict):
        """(index, kind, pattern, sources, phases, priority) for each pattern of a failure mode."""
        for i, p in enumerate(fm["detect"]["patterns"]):
            if isinstance(p, str):
                yield i, "substring", p, None, None, 0
            else:
                kind = "regex" if "regex" in p else "substring"
                yield i, kind, p[kind], p.get("sources"), p.get("phases"), p.get("priority", 0)

    def wrappers(self) -> list[str]:
        """The wrapper regexes over canonical lines (precedence step 2, ops_private.wrapper_regex): the taxonomy's
        `wrappers:` list, then each detect pattern marked `wrapper: true`, as its regex (a substring as its canonical
        text, escaped) followed by `.*`, so the rest of its line is blanked with it. Such a pattern is its code's fact
        and a wrapper at once (a supervisor's `CrashLoopBackOff` says that a process keeps exiting, not why): written
        once, it cannot drift from its twin in the wrapper list."""
        found = list(self.taxonomy.get("wrappers") or [])
        for fm in self.taxonomy["failure_modes"]:
            for p in fm["detect"]["patterns"]:
                if isinstance(p, dict) and p.get("wrapper"):
                    body = p["regex"] if "regex" in p else re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1",
                                                                  canonical_text(p["substring"]))
                    found.append(body + ".*")
        return found

    def document(self) -> dict:
        """The argument of ops.sync_ssot(): everything the database keeps of the SSOT."""
        modes = []
        for position, fm in enumerate(self.taxonomy["failure_modes"], start=1):
            esc = fm["escalate"]
            within = None
            if esc.get("within"):
                amount, unit = esc["within"][:-1], esc["within"][-1]
                within = f"{amount} {WITHIN_UNITS[unit]}"
            modes.append({
                "code": fm["code"], "position": position, "title": fm["title"], "category": fm["category"],
                "severity": fm["severity"], "retryable": fm["retryable"], "http_status": fm["http_status"],
                "ci_behavior": fm.get("ci_behavior"), "description": fm["description"].strip(),
                "sources": list(fm["detect"]["sources"]), "phases": fm["detect"].get("phases"),
                "runbook": fm["runbook"], "remediate_kind": fm["remediate"]["kind"],
                "escalate_after_count": esc["after_count"], "escalate_within": within,
                "escalate_destination": esc["destination"], "aliases": list(fm.get("aliases", [])),
                "grouping": fm.get("grouping", "message"),
                "patterns": [
                    {"position": i + 1, "kind": kind, "pattern": pattern, "sources": sources, "phases": phases,
                     "priority": priority, "required_literals": required_literals(pattern) if kind == "regex" else None,
                     "group": pattern_option(fm, i, "group"), "not_sources": pattern_option(fm, i, "not_sources"),
                     "grouping": pattern_option(fm, i, "grouping")}
                    for i, kind, pattern, sources, phases, priority in self.patterns(fm)
                ],
            })
        return {
            "sources": list(self.taxonomy["sources"]),
            "destinations": [
                {"name": name, "kind": d["kind"], "config": {k: v for k, v in d.items() if k != "kind"}}
                for name, d in self.destinations["destinations"].items()
            ],
            "failure_modes": modes,
            "redaction_rules": [
                {"name": r["name"], "position": i, "pattern": r["pattern"], "replacement": r["replacement"],
                 "flags": r.get("flags", "g"), "prefilter": r.get("prefilter")}
                for i, r in enumerate(self.redaction["rules"], start=1)
            ],
            "files": [
                # The wrapper-line regexes ride on the taxonomy file's sync record (ops.ssot_state.detail),
                # where ops_private.wrapper_regex(canon) reads them with the literals of each.
                {"name": "failure_modes", "path": str(TAXONOMY), "sha256": self.sha256(TAXONOMY),
                 "detail": {"wrappers": self.wrappers(), "wrapper_literals": wrapper_literals(self.wrappers())}},
                {"name": "redaction", "path": str(REDACTION), "sha256": self.sha256(REDACTION)},
                {"name": "destinations", "path": str(DESTINATIONS), "sha256": self.sha256(DESTINATIONS)},
                {"name": "fixbot_policy", "path": str(FIXBOT_POLICY), "sha256": self.sha256(FIXBOT_POLICY),
                 "detail": {"default_variant": self.policy.get("default_variant", "baseline")}},
                benchmark.file_record(self.root, self.benchmark),
            ],
        }


# -- check -----------------------------------------------------------------------------------------

def check(conn: psycopg.Connection | None, root: Path = ROOT) -> list[Diagnostic]:
    """Every problem in the SSOT, as file:line messages. Regexes are compiled in PostgreSQL when a
    connection is given (and always in Python)."""
    try:
        ssot = Ssot.load(root)
    except SsotInvalid as exc:
        return exc.problems
    problems: list[Diagnostic] = []
    tax = ssot.taxonomy

    def at(path, message, file=TAXONOMY, data=tax):
        problems.append(Diagnostic(file, line_of(data, path), message))

    schema = json.loads((root / TAXONOMY_SCHEMA).read_text())
    import jsonschema  # here, not at the top: with its format checkers it costs ~2 s, and every ops command imports this module

    for err in sorted(jsonschema.Draft202012Validator(schema).iter_errors(tax), key=lambda e: list(e.path)):
        where = "/".join(map(str, err.path)) or "(root)"
        at(list(err.path), f"{where}: {err.message}")
    policy_schema = json.loads((root / FIXBOT_POLICY_SCHEMA).read_text())
    for err in sorted(jsonschema.Draft202012Validator(policy_schema).iter_errors(ssot.policy), key=lambda e: list(e.path)):
        at(list(err.path), f"{'/'.join(map(str, err.path)) or '(root)'}: {err.message}", FIXBOT_POLICY, ssot.policy)
    if problems:
        return problems  # the checks below assume the shape is right

    raw = load_yaml(TAXONOMY, root)  # before fragments are put in: which names the regexes use
    used = {name for fm in raw["failure_modes"] for p in fm["detect"]["patterns"]
            if isinstance(p, dict) and isinstance(p.get("regex"), str) for name in FRAGMENT.findall(p["regex"])}
    for name in tax.get("fragments") or {}:
        if name not in used:
            at(["fragments", name], f"fragment {name!r} is used by no regex (write {{{{{name}}}}} in one, or drop it)")

    sources = set(tax["sources"])
    destinations = ssot.destinations.get("destinations") or {}
    for name, d in destinations.items():
        if not isinstance(d, dict) or d.get("kind") not in DESTINATION_KINDS:
            at(["destinations", name], f"destination {name!r}: kind must be one of {sorted(DESTINATION_KINDS)}",
               DESTINATIONS, ssot.destinations)
        elif any(not k.endswith("_env") and k not in ("kind", "runner", "timeout_seconds", "digest") for k in d):
            at(["destinations", name], f"destination {name!r}: only kind, runner, timeout_seconds, digest and *_env keys "
               "(names of environment variables) are allowed; secrets never go in this file", DESTINATIONS, ssot.destinations)
        elif "digest" in d:
            problems += _check_digest(root, ssot, name, d, {fm["code"] for fm in tax["failure_modes"]})

    seen: dict[str, int] = {}
    regexes: list[tuple[list, str]] = []
    for i, fm in enumerate(tax["failure_modes"]):
        code = fm["code"]
        if code in seen:
            at(["failure_modes", i, "code"], f"duplicate code {code} (first at failure_modes[{seen[code]}])")
        seen.setdefault(code, i)
        expected = f"docs/runbooks/failures/{code}.md"
        if fm["runbook"] != expected:
            at(["failure_modes", i, "runbook"], f"{code}: runbook must be {expected}")
        elif not (root / fm["runbook"]).is_file():
            at(["failure_modes", i, "runbook"], f"{code}: runbook {fm['runbook']} does not exist")
        for s in fm["detect"]["sources"]:
            if s not in sources:
                at(["failure_modes", i, "detect", "sources"], f"{code}: unknown source {s!r}")
        problems += _check_ci_behavior(fm, ["failure_modes", i], tax)
        dest = fm["escalate"]["destination"]
        if dest not in destinations:
            at(["failure_modes", i, "escalate", "destination"], f"{code}: unknown destination {dest!r}")
        own_rule: dict[tuple[str, str], tuple[int, str | None]] = {}  # ("group" | "text", name) -> (pattern, grouping)
        for j, kind, pattern, p_sources, _phases, _prio in ssot.patterns(fm):
            path = ["failure_modes", i, "detect", "patterns", j]
            grouping = pattern_option(fm, j, "grouping")
            if grouping is not None and fm.get("grouping", "message") != "message":
                at(path, f"{code}: pattern {j + 1}: `grouping: {grouping}` is for a pattern of a code grouped by message; "
                   f"the code groups by {fm['grouping']} (docs/grouping.md, \"One pattern grouped by itself\")")
            group = pattern_option(fm, j, "group")
            for key in (("group", group), ("text", pattern)) if group else (("text", pattern),):
                first, rule = own_rule.setdefault(key, (j, grouping))
                if rule != grouping:
                    what = f"group name {group!r}" if key[0] == "group" else "its text"
                    said = [f"`grouping: {g}`" if g else "no `grouping:`" for g in (grouping, rule)]
                    at(path, f"{code}: pattern {j + 1} has {said[0]} and pattern {first + 1} {said[1]}, but it "
                       f"shares {what}: one group has one rule")
            not_sources = pattern_option(fm, j, "not_sources")
            for s in (p_sources or []) + (not_sources or []):
                if s not in sources:
                    at(path, f"{code}: pattern {j + 1}: unknown source {s!r}")
            if p_sources and not_sources:
                at(path, f"{code}: pattern {j + 1}: has both sources and not_sources; keep one (sources lists the only "
                   "sources it reads, not_sources the ones it never reads)")
            if kind == "regex":
                regexes.append((path, pattern))
                bad = UNPORTABLE_REGEX.search(pattern)
                if bad:
                    at(path, f"{code}: regex {pattern!r} uses {bad.group(0)!r}, which PostgreSQL and Python "
                       "read differently (\\b is not a word boundary in PostgreSQL)")
                if (grouping or fm.get("grouping", "message")) == "message" and spans_from_text_start(pattern):
                    at(path, f"{code}: regex {pattern!r} starts at the text's start and crosses lines, so the grouping "
                       "text (the match's lines) would take every line before the cause: put the exclusion after the "
                       "match, or give the pattern `grouping: pattern` (docs/grouping.md, \"The grouping text\")")
                try:
                    if re.search(pattern, "", re.IGNORECASE):
                        at(path, f"{code}: regex {pattern!r} matches the empty string")
                    elif literal_characters(pattern) & set("_-"):
                        at(path, f"{code}: regex {pattern!r} spells '_' or '-' literally, but it is matched "
                           "against the canonical form, where runs of '_', '-' and blanks are one space: write ' '")
                except re.error as exc:
                    at(path, f"{code}: regex {pattern!r} does not compile in Python: {exc}")
    for k, wrapper in enumerate(tax.get("wrappers") or []):
        path = ["wrappers", k]
        regexes.append((path, wrapper))
        bad = UNPORTABLE_REGEX.search(wrapper)
        if bad:
            at(path, f"wrapper {wrapper!r} uses {bad.group(0)!r}, which PostgreSQL and Python read differently")
        try:
            if re.search(wrapper, "", re.IGNORECASE | re.MULTILINE):
                at(path, f"wrapper {wrapper!r} matches the empty string")
            elif literal_characters(wrapper) & set("_-"):
                at(path, f"wrapper {wrapper!r} spells '_' or '-' literally; lines are compared in canonical form: "
                   "write ' '")
        except re.error as exc:
            at(path, f"wrapper {wrapper!r} does not compile in Python: {exc}")
    for s in sorted(sources):
        if f"UNKNOWN.{s.upper()}" not in seen:
            at(["sources"], f"missing fallback code UNKNOWN.{s.upper()} for source {s!r}")

    rules = ssot.redaction.get("rules") or []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or not {"name", "pattern", "replacement"} <= rule.keys():
            at(["rules", i], "a redaction rule needs name, pattern and replacement", REDACTION, ssot.redaction)
        elif not rule.get("examples"):
            at(["rules", i], f"redaction rule {rule['name']!r} needs examples that prove it", REDACTION, ssot.redaction)
        elif rule.get("prefilter") is not None:
            if not rule["prefilter"] or any(f != f.lower() or not f for f in rule["prefilter"]):
                at(["rules", i], f"redaction rule {rule['name']!r}: prefilter is a list of lower-case substrings",
                   REDACTION, ssot.redaction)
            for example in rule["examples"]:
                if not any(f in example.lower() for f in rule["prefilter"]):
                    at(["rules", i], f"redaction rule {rule['name']!r}: example {example!r} contains none of the "
                       "prefilter substrings, so the rule would never run on it", REDACTION, ssot.redaction)

    for path, message in benchmark.problems(root, ssot.benchmark, set(seen)):
        problems.append(Diagnostic(benchmark.BENCHMARK, line_of(ssot.benchmark, path), message))
    if conn is not None:
        problems += _check_in_postgres(conn, ssot, regexes)
    return problems + check_variants(root)


def _check_ci_behavior(fm: dict, path: list, tax) -> list[Diagnostic]:
    """Contradictions between a code's ci_behavior and what the merge gate (ops.gate_findings) does with it:
    a title or description saying the code does not block while ci_behavior is blocking or not set (the gate
    blocks: the text misleads whoever reads it, or the field is wrong), and a guardrail code with
    non_blocking_until_fixed (the gate has no meaning for it; blocking or non_blocking)."""
    code, behavior = fm["code"], fm.get("ci_behavior")
    out = []
    where = [*path, "ci_behavior"] if behavior else path
    claim = NON_BLOCKING_TITLE.search(fm["title"]) or NON_BLOCKING_TEXT.search(" ".join(fm["description"].split()))
    if claim and behavior not in ("non_blocking", "non_blocking_until_fixed"):
        out.append(Diagnostic(TAXONOMY, line_of(tax, where),
                              f"{code}: its text says {claim.group(0)!r} but ci_behavior is "
                              f"{behavior or 'not set (blocking)'}: the merge gate would block on it; set "
                              "ci_behavior: non_blocking, or reword the title and description"))
    if fm["remediate"]["kind"] == "guardrail" and behavior == "non_blocking_until_fixed":
        out.append(Diagnostic(TAXONOMY, line_of(tax, where),
                              f"{code}: a guardrail code is blocking or non_blocking for the merge gate; "
                              "non_blocking_until_fixed has no meaning there"))
    return out


def _check_digest(root: Path, ssot: Ssot, name: str, d: dict, codes: set[str]) -> list[Diagnostic]:
    """A destination's digest (page budget): its shape (ssot/schemas/destinations.schema.json), a kind that
    pages a person, known codes, and a window for every budget."""
    out: list[Diagnostic] = []

    def at(path, message):
        out.append(Diagnostic(DESTINATIONS, line_of(ssot.destinations, ["destinations", name, "digest", *path]),
                           f"destination {name!r}: digest{''.join(f'.{p}' for p in path)}: {message}"))

    schema = json.loads((root / DESTINATIONS_SCHEMA).read_text())
    digest_schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/digest"}
    import jsonschema  # lazily, as above

    errors = sorted(jsonschema.Draft202012Validator(digest_schema).iter_errors(d["digest"]), key=lambda e: list(e.path))
    for err in errors:
        at(list(err.path), err.message)
    if errors:
        return out
    digest = d["digest"]
    if d["kind"] not in DIGEST_KINDS:
        at([], f"only destinations that page a person ({', '.join(sorted(DIGEST_KINDS))}) take a digest, "
               f"not kind {d['kind']!r}")
    if "window" not in digest and "codes" not in digest:
        at([], "needs a window (e.g. window: 10m), or per-code budgets under codes")
    for code, budget in (digest.get("codes") or {}).items():
        if code not in codes:
            at(["codes", code], f"unknown code {code}")
        elif "window" not in budget and "window" not in digest:
            at(["codes", code], "needs a window: neither this entry nor the digest has one")
    return out


def _check_in_postgres(conn: psycopg.Connection, ssot: Ssot, regexes) -> list[Diagnostic]:
    """Compile every taxonomy regex and redaction rule in PostgreSQL itself (in savepoints)."""
    problems = []
    with conn.transaction(force_rollback=True):
        for path, pattern in regexes:
            try:
                with conn.transaction():
                    if execute(conn, "ssot", "regex_matches_empty", {"pattern": pattern}).fetchone()[0]:
                        problems.append(Diagnostic(TAXONOMY, line_of(ssot.taxonomy, path),
                                                f"regex {pattern!r} matches the empty string in PostgreSQL"))
            except psycopg.Error as exc:
                problems.append(Diagnostic(TAXONOMY, line_of(ssot.taxonomy, path),
                                        f"regex {pattern!r} does not compile in PostgreSQL: {exc.diag.message_primary}"))
        for i, rule in enumerate(ssot.redaction.get("rules") or []):
            path = ["rules", i]
            try:
                with conn.transaction():
                    for example in rule.get("examples", []):
                        out = execute(conn, "ssot", "redact_example", {
                            "example": example, "pattern": rule["pattern"], "replacement": rule["replacement"],
                            "flags": rule.get("flags", "g")}).fetchone()[0]
                        if out == example:
                            problems.append(Diagnostic(REDACTION, line_of(ssot.redaction, path),
                                                    f"redaction rule {rule['name']!r} leaves its example unchanged: {example!r}"))
            except psycopg.Error as exc:
                problems.append(Diagnostic(REDACTION, line_of(ssot.redaction, path),
                                        f"redaction rule {rule['name']!r} does not compile in PostgreSQL: "
                                        f"{exc.diag.message_primary}"))
    return problems


# -- sync and diff ---------------------------------------------------------------------------------

def _document(conn: psycopg.Connection, root: Path) -> dict:
    """The SSOT as the one JSON document ops.sync_ssot() takes; refuses an invalid SSOT."""
    problems = check(conn, root)
    if problems:
        raise SsotInvalid(problems)
    return Ssot.load(root).document()


def sync(conn: psycopg.Connection, root: Path = ROOT) -> dict:
    """Make the database equal to the SSOT; return rows changed per kind."""
    doc = _document(conn, root)
    with conn.transaction():
        before = benchmark.synced_sha256(conn)
        (changes,) = execute(conn, "ssot", "sync_ssot", {"doc": json.dumps(doc)}).fetchone()
        changes |= sync_variants(conn, root)
        rescored = benchmark.rescore_if_changed(conn, before)
    return changes if rescored is None else {**changes, "runs_rescored": rescored}


@dataclass
class Drift:
    """What a sync would change: rows changed per kind (non-zero only) and one line per row."""

    counts: dict
    rows: list[str]


def _snapshot(conn: psycopg.Connection) -> dict[tuple[str, str], dict]:
    """Every synced row, by (table, key); the query (ssot.snapshot) names the tables and their keys."""
    return {(table, key): row for table, key, row in execute(conn, "ssot", "snapshot").fetchall()}


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def diff(conn: psycopg.Connection, root: Path = ROOT) -> Drift:
    """What a sync would change, row by row; nothing is written (the sync runs and is rolled back)."""
    doc = _document(conn, root)
    with conn.transaction(force_rollback=True):
        before = _snapshot(conn)
        (changes,) = execute(conn, "ssot", "sync_ssot", {"doc": json.dumps(doc)}).fetchone()
        changes |= sync_variants(conn, root)
        after = _snapshot(conn)
    rows = []
    for table, key in sorted(before.keys() | after.keys()):
        old, new = before.get((table, key)), after.get((table, key))
        if old is None:
            rows.append(f"+ {table} {key}")
        elif new is None:
            rows.append(f"- {table} {key}")
        elif old != new:
            fields = sorted(f for f in old.keys() | new.keys() if old.get(f) != new.get(f))
            rows.append(f"~ {table} {key}: " + "; ".join(
                f"{f} {_short(old.get(f))} -> {_short(new.get(f))}" for f in fields))
    return Drift({k: v for k, v in changes.items() if v}, rows)


# -- agent variants (ssot/agents/variants.yaml) ------------------------------------------------------

def check_variants(root: Path = ROOT) -> list[Diagnostic]:
    """Problems in ssot/agents/variants.yaml: its shape (ssot/schemas/variants.schema.json), unique ids, known
    parents of the same agent type, no cycles, and exactly one baseline per agent type."""
    try:
        data = load_yaml(VARIANTS, root)
    except SsotInvalid as exc:
        return exc.problems
    out: list[Diagnostic] = []

    def at(path, message):
        out.append(Diagnostic(VARIANTS, line_of(data, path), message))

    import jsonschema  # lazily, as in check()

    schema = json.loads((root / VARIANTS_SCHEMA).read_text())
    for err in sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path)):
        at(list(err.path), f"{'/'.join(map(str, err.path)) or '(root)'}: {err.message}")
    if out:
        return out
    variants = data["variants"]
    by_id: dict[str, int] = {}
    for i, v in enumerate(variants):
        if v["id"] in by_id:
            at(["variants", i, "id"], f"duplicate variant id {v['id']!r} (first at variants[{by_id[v['id']]}])")
        by_id.setdefault(v["id"], i)
    for i, v in enumerate(variants):
        parent = v.get("parent")
        if parent is None:
            continue
        if parent not in by_id:
            at(["variants", i, "parent"], f"variant {v['id']!r}: unknown parent {parent!r}")
        elif variants[by_id[parent]]["agent_type"] != v["agent_type"]:
            at(["variants", i, "parent"], f"variant {v['id']!r}: parent {parent!r} is a variant of another agent type")
        seen, cur = {v["id"]}, parent
        while cur in by_id and variants[by_id[cur]].get("parent"):
            if cur in seen:
                at(["variants", i, "parent"], f"variant {v['id']!r}: its parents form a cycle through {cur!r}")
                break
            seen.add(cur)
            cur = variants[by_id[cur]]["parent"]
    for agent_type in sorted({v["agent_type"] for v in variants}):
        baselines = [v["id"] for v in variants if v["agent_type"] == agent_type and v["status"] == "baseline"]
        if len(baselines) != 1:
            at(["variants"], f"agent type {agent_type!r} needs exactly one variant with status baseline, "
                             f"not {len(baselines)} ({', '.join(baselines) or 'none'})")
    return out


def variants_document(root: Path = ROOT) -> dict:
    """The argument of ops.sync_agent_variants(): {path, sha256, exploration_share, variants: [...]}."""
    data = load_yaml(VARIANTS, root)
    return {
        "path": str(VARIANTS), "sha256": hashlib.sha256((root / VARIANTS).read_bytes()).hexdigest(),
        "exploration_share": data["exploration_share"],
        "variants": [
            {"id": v["id"], "agent_type": v["agent_type"], "parent": v.get("parent"), "knob": v.get("knob"),
             "value": v.get("value"), "multi_knob": v.get("multi_knob"), "status": v["status"],
             "description": v.get("description"), "position": i}
            for i, v in enumerate(data["variants"], start=1)
        ],
    }


def sync_variants(conn: psycopg.Connection, root: Path = ROOT) -> dict:
    """Sync ssot/agents/variants.yaml alone (ops.sync_agent_variants); returns {agent_variants: rows changed}."""
    (changes,) = execute(conn, "ssot", "sync_agent_variants",
                         {"doc": json.dumps(variants_document(root))}).fetchone()
    return changes
