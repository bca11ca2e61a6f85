"""A JSON Schema (2020-12 subset) compiled into Python closures: a fast yes/no for the hot path.

`jsonschema` costs ~0.2 ms per unit, which dominates `stratt ci` on large trees. The unit and
council schemas use a small set of keywords; this module compiles exactly those into closures
(~20x faster) and refuses any other keyword at compile time, so it can never silently ignore a
rule. It only answers valid/invalid: for an invalid document the caller asks `jsonschema` for the
messages. tests/test_units_schema.py checks that both agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Check = Callable[[object], bool]
_IGNORED = {"$schema", "$id", "$comment", "title", "description", "$defs", "default", "examples"}
_TYPES: dict[str, Callable[[object], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def _same(a, b) -> bool:
    """JSON equality: true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def compile_schema(schema: dict) -> Check:
    defs = schema.get("$defs", {})
    cache: dict[str, Check] = {}

    def ref(name: str) -> Check:
        if name not in cache:
            cache[name] = lambda v: compiled[name](v)  # late binding allows recursion
            compiled[name] = build(defs[name])
        return cache[name]

    compiled: dict[str, Check] = {}

    def build(node) -> Check:
        if node is True or node == {}:
            return lambda v: True
        if node is False:
            return lambda v: False
        checks: list[Check] = []
        for key, arg in node.items():
            if key in _IGNORED:
                continue
            if key == "$ref":
                if not arg.startswith("#/$defs/"):
                    raise ValueError(f"unsupported $ref {arg}")
                checks.append(ref(arg.split("/")[-1]))
            elif key == "type":
                tests = [_TYPES[t] for t in ([arg] if isinstance(arg, str) else arg)]
                checks.append(lambda v, tests=tests: any(t(v) for t in tests))
            elif key == "enum":
                checks.append(lambda v, arg=arg: any(_same(v, x) for x in arg))
            elif key == "const":
                checks.append(lambda v, arg=arg: _same(v, arg))
            elif key == "pattern":
                rx = re.compile(arg)
                checks.append(lambda v, rx=rx: not isinstance(v, str) or rx.search(v) is not None)
            elif key == "minLength":
                checks.append(lambda v, n=arg: not isinstance(v, str) or len(v) >= n)
            elif key == "maxLength":
                checks.append(lambda v, n=arg: not isinstance(v, str) or len(v) <= n)
            elif key == "minimum":
                checks.append(lambda v, n=arg: not _TYPES["number"](v) or v >= n)
            elif key == "required":
                checks.append(lambda v, arg=tuple(arg): not isinstance(v, dict) or all(k in v for k in arg))
            elif key == "properties":
                props = {k: build(s) for k, s in arg.items()}
                checks.append(lambda v, props=props: not isinstance(v, dict)
                              or all(p(v[k]) for k, p in props.items() if k in v))
            elif key == "additionalProperties":
                sub = build(arg)
                known = set(node.get("properties", {}))
                checks.append(lambda v, sub=sub, known=known: not isinstance(v, dict)
                              or all(sub(x) for k, x in v.items() if k not in known))
            elif key == "propertyNames":
                sub = build(arg)
                checks.append(lambda v, sub=sub: not isinstance(v, dict) or all(sub(k) for k in v))
            elif key == "items":
                sub = build(arg)
                checks.append(lambda v, sub=sub: not isinstance(v, list) or all(sub(x) for x in v))
            elif key == "allOf":
                subs = [build(s) for s in arg]
                checks.append(lambda v, subs=subs: all(s(v) for s in subs))
            elif key == "anyOf":
                subs = [build(s) for s in arg]
                checks.append(lambda v, subs=subs: any(s(v) for s in subs))
            elif key == "oneOf":
                subs = [build(s) for s in arg]
                checks.append(lambda v, subs=subs: sum(1 for s in subs if s(v)) == 1)
            elif key == "if":
                cond, then, other = build(arg), build(node.get("then", True)), build(node.get("else", True))
                checks.append(lambda v, c=cond, t=then, o=other: t(v) if c(v) else o(v))
            elif key in ("then", "else"):
                continue  # handled with "if"
            else:
                raise ValueError(f"fastschema does not implement {key!r}; use jsonschema")
        if len(checks) == 1:
            return checks[0]
        return lambda v, checks=tuple(checks): all(c(v) for c in checks)

    return build(schema)
