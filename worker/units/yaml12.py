"""A YAML 1.2 core-schema loader on top of PyYAML's composer, with line numbers.

PyYAML's stock loaders implement YAML 1.1: ``yes``/``no``/``on``/``off`` become booleans, unquoted
dates become ``datetime.date``, ``<<`` merges mappings and a repeated key silently wins. The
canonical fingerprint needs the 1.2 core schema instead, so we let libyaml (or the pure-Python
parser) build the node graph, resolve every plain scalar ourselves and construct plain Python
values: only ``true``/``false`` are booleans, only the core-schema number forms are numbers, and a
duplicate key or a merge key is an error that names its line.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from worker.units.ecmascript import MAX_SAFE, js_number

try:  # libyaml is an order of magnitude faster; both give the same nodes.
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader

PLAIN = "tag:stratt,2024:plain"
STR, INT, FLOAT, BOOL, NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))
SEQ, MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT8 = re.compile(r"^0o[0-7]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
_SPECIAL_START = frozenset("0123456789+-.~nNtTfF")


class YamlError(ValueError):
    """A document that is not valid stratt YAML; ``line`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


class _Loader(_Base):
    """Plain scalars get our own tag so that we can tell them from quoted and explicit ones."""

    def resolve(self, kind, value, implicit):  # noqa: D102 - PyYAML hook
        if kind is ScalarNode and implicit[0]:
            return PLAIN
        return super().resolve(kind, value, implicit)


# No implicit resolvers at all: nothing in PyYAML's YAML 1.1 table may fire.
_Loader.yaml_implicit_resolvers = {}


@dataclass
class Document:
    """A parsed document: its value and the 1-based line of every node, by path."""

    data: object
    lines: dict[tuple, int] = field(default_factory=dict)
    # True when every key and string is ASCII and every other scalar a boolean or an integer within
    # +-2**53: no null, no float, nothing to normalise. Then the canonical form (worker.units.canonical) is
    # the compact JSON of ``data`` with keys in plain sorted order, which the C encoder writes directly.
    # False says nothing (a Document built by hand, or one holding a null, a float or a non-ASCII text).
    plain: bool = False

    def line(self, *path) -> int:
        """The line of ``path`` or of its closest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def _scalar(node: ScalarNode):
    tag, value = node.tag, node.value
    if tag == STR:
        return value
    if tag == PLAIN:
        if value and value[0] not in _SPECIAL_START:
            return value  # most plain scalars are words: nothing in the core schema starts that way
        if _NULL.match(value):
            return None
        if value in _BOOL:
            return _BOOL[value]
        if _INT10.match(value):
            return int(value)
        if _INT8.match(value):
            return int(value[2:], 8)
        if _INT16.match(value):
            return int(value[2:], 16)
        if _FLOAT.match(value):
            return float(value)
        if _INF.match(value) or _NAN.match(value):
            raise YamlError(f"{value!r} is not a finite number (canonical JSON cannot hold it); quote it",
                            node.start_mark.line + 1)
        return value
    if tag == NULL:
        return None
    if tag == BOOL and value in _BOOL:
        return _BOOL[value]
    if tag == INT and (_INT10.match(value) or _INT8.match(value) or _INT16.match(value)):
        return _scalar(ScalarNode(PLAIN, value, node.start_mark))
    if tag == FLOAT and _FLOAT.match(value):
        return float(value)
    raise YamlError(f"unsupported tag {tag} for {value!r} (the YAML 1.2 core schema has str, int, float, bool, null)",
                    node.start_mark.line + 1)


def key_text(key) -> str:
    """A mapping key as JavaScript turns it into a property name."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return js_number(key)


def _is_plain(value) -> bool:
    """An ASCII string, a boolean or an integer within +-2**53 (see :attr:`Document.plain`)."""
    cls = value.__class__
    if cls is str:
        return value.isascii()
    return cls is bool or (cls is int and -MAX_SAFE <= value <= MAX_SAFE)


def _construct(node, path: tuple, lines: dict, depth: int = 0, odd: list | None = None):
    """The value of ``node``; records each path's line in ``lines`` and appends to ``odd`` (when given) every
    scalar or key that is not plain (:func:`_is_plain`), so that the caller learns :attr:`Document.plain`."""
    if depth > 200:
        raise YamlError("document nested deeper than 200 levels", node.start_mark.line + 1)
    lines[path] = node.start_mark.line + 1
    if isinstance(node, ScalarNode):
        value = _scalar(node)
        if odd is not None and not _is_plain(value):
            odd.append(value)
        return value
    if isinstance(node, SequenceNode):
        if node.tag not in (SEQ,):
            raise YamlError(f"unsupported tag {node.tag} on a sequence", node.start_mark.line + 1)
        return [_construct(child, path + (i,), lines, depth + 1, odd) for i, child in enumerate(node.value)]
    if isinstance(node, MappingNode):
        if node.tag != MAP:
            raise YamlError(f"unsupported tag {node.tag} on a mapping", node.start_mark.line + 1)
        result: dict = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                raise YamlError("a mapping key must be a scalar", line)
            if key_node.tag == PLAIN and key_node.value == "<<":
                raise YamlError("merge keys (<<) are not allowed; write the keys out", line)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError("merge keys (<<) are not allowed; write the keys out", line)
            key = key_text(_scalar(key_node))
            if key.isascii():
                normal = key
            else:
                normal = unicodedata.normalize("NFC", key)
                if odd is not None:
                    odd.append(key)
            if normal in seen:
                raise YamlError(f"duplicate key {key!r} (first at line {seen[normal]})", line)
            seen[normal] = line
            result[key] = _construct(value_node, path + (key,), lines, depth + 1, odd)
            lines[path + (key,)] = line
        return result
    raise YamlError(f"unsupported node {type(node).__name__}", node.start_mark.line + 1)  # pragma: no cover


def decode(raw: bytes | str) -> str:
    """Text of a document: UTF-8, one leading BOM stripped."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlError(f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    return raw[1:] if raw.startswith("\ufeff") else raw


def load(raw: bytes | str) -> Document:
    """Parse exactly one YAML document with the 1.2 core schema; the root must be a mapping."""
    text = decode(raw)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlError(f"{exc.problem or exc.context}", (mark.line + 1) if mark else 0) from exc
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).splitlines()[0]) from exc
    finally:
        loader.dispose()
    if node is None:
        raise YamlError("empty document: the root must be a mapping", 1)
    if not isinstance(node, MappingNode):
        raise YamlError("the root must be a mapping", node.start_mark.line + 1)
    lines: dict[tuple, int] = {}
    odd: list = []
    data = _construct(node, (), lines, 0, odd)
    return Document(data, lines, plain=not odd)


def is_finite(value: float) -> bool:
    return math.isfinite(value)
