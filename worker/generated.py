"""The files generated for the Edge Functions (a deployed function bundle cannot read ``ssot/``):
``supabase/functions/_shared/redaction_rules.json`` (the redaction rules, translated for JavaScript)
and ``supabase/functions/_shared/problem.schema.json`` (a copy of the Problem Details schema).

``python -m worker.generated --write-generated [--check]`` writes them (or lists the stale ones and
exits 1); tests/test_edge_functions.py fails when one is stale.
"""

from __future__ import annotations

import json
from pathlib import Path

from worker import ROOT, redaction, ssot
from worker.problem import SCHEMA

REDACTION_JSON = Path("supabase/functions/_shared/redaction_rules.json")
SCHEMA_JSON = Path("supabase/functions/_shared/problem.schema.json")  # a generated copy of SCHEMA


def redaction_rules_json(root: Path = ROOT) -> str:
    """The content of supabase/functions/_shared/redaction_rules.json (the TypeScript copy)."""
    doc = {"_generated": f"from {ssot.REDACTION} by `python -m worker.generated --write-generated`; "
                         "do not edit (tests/test_edge_functions.py fails when it is stale)",
           "rules": [{"name": r.name, "source": r.js_source, "flags": "gis" if r.ignore_case else "gs",
                      "replacement": list(r.replacement),
                      "prefilter": None if r.prefilter is None else list(r.prefilter),
                      "examples": list(spec.get("examples") or [])}
                     for r, spec in zip(redaction.rules(root),
                                        ssot.load_yaml(ssot.REDACTION, root).get("rules") or [], strict=True)]}
    return json.dumps(doc, indent=2) + "\n"


def schema_json(root: Path = ROOT) -> str:
    """The content of supabase/functions/_shared/problem.schema.json: the one schema, copied where a
    deployed function can import it (a function bundle cannot reach ssot/)."""
    return json.dumps(json.loads((root / SCHEMA).read_text(encoding="utf-8")), indent=2, ensure_ascii=False) + "\n"


def write_generated(root: Path = ROOT, *, check: bool = False) -> list[Path]:
    """Write (or with ``check``, only list) the generated TypeScript-side files that are out of date."""
    stale = []
    for path, content in ((REDACTION_JSON, redaction_rules_json(root)), (SCHEMA_JSON, schema_json(root))):
        full = root / path
        if not full.exists() or full.read_text(encoding="utf-8") != content:
            stale.append(path)
            if not check:
                full.write_text(content, encoding="utf-8")
    return stale


if __name__ == "__main__":  # python -m worker.generated --write-generated [--check]
    import sys

    args = set(sys.argv[1:])
    if not args <= {"--write-generated", "--check"} or "--write-generated" not in args:
        sys.exit("usage: python -m worker.generated --write-generated [--check]")
    out_of_date = write_generated(check="--check" in args)
    for path in out_of_date:
        print(f"{path}: {'stale' if '--check' in args else 'written'}")
    sys.exit(1 if out_of_date and "--check" in args else 0)
