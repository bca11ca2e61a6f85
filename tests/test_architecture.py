"""The shape of the Python package: SQL lives in SQL files, and no module imports itself in a circle.

* SQL text in ``worker/`` is allowed only in ``worker/queries/*.sql`` (named queries), the migration
  runner's own bookkeeping (``worker/migrations.py``), ``LISTEN`` and the ``SELECT 1`` connection probe.
* The import graph of ``worker/`` (every ``import``, also those inside functions) is acyclic.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from worker import ROOT

PACKAGE = ROOT / "worker"
SQL_ALLOWED_FILES = {Path("worker/migrations.py")}
SQL_ALLOWED_TEXT = {"LISTEN ops_outbox", "SELECT 1"}
# A string that starts like a statement, or that has the shape of one anywhere inside it.
SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|GRANT|REVOKE|TRUNCATE|COPY"
                       r"|NOTIFY|LISTEN|UNLISTEN|SET|RESET|DO|CALL|EXPLAIN|VACUUM|ANALYZE|LOCK|BEGIN|COMMIT)\b")
SQL_SHAPE = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM)\b", re.DOTALL)


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def sql_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal (f-strings with their placeholders as ``{}``) that looks
    like SQL; docstrings are prose and are skipped."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # its literal parts are read with it, not on their own
            skip |= {id(v) for v in node.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
        else:
            continue
        if SQL_START.match(text) or SQL_SHAPE.search(text):
            found.append((node.lineno, text))
    return sorted(found)


def python_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if ".venv" not in p.parts)


def test_the_sql_scan_finds_inline_sql():
    source = 'conn.execute("SELECT source FROM ops.sources")\nx = f"DELETE FROM ops.{t}"\n' \
             'conn.execute(\n    "select 1; UPDATE ops.x SET a = 1")\n' \
             'def f():\n    """A docstring that says SELECT x FROM y."""\n'
    assert [line for line, _ in sql_strings(source)] == [1, 2, 4]


def test_no_sql_text_in_python_outside_the_allowed_places():
    offenders = []
    for path in python_files():
        rel = path.relative_to(ROOT)
        if rel in SQL_ALLOWED_FILES:
            continue
        for line, text in sql_strings(path.read_text(encoding="utf-8")):
            if text.strip() not in SQL_ALLOWED_TEXT:
                offenders.append(f"{rel}:{line}: {text.strip()[:70]!r}")
    assert not offenders, "SQL belongs in worker/queries/*.sql (a named query) or an ops. function:\n" + \
        "\n".join(offenders)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """worker's modules and, for each, the worker modules it imports (anywhere in the file)."""
    files = {_module_name(p): p for p in python_files()}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[module] |= {a.name for a in node.names if a.name in files}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    if target in files:
                        graph[module].add(target)
                    elif base in files:
                        graph[module].add(base)
        graph[module].discard(module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_is_complete():
    graph = import_graph()
    assert "worker.units.yaml12" in graph["worker.units.canonical"]
    assert "worker.queries" in graph["worker.ssot"]


def test_no_import_cycle_in_worker():
    assert cycles(import_graph()) == []


def test_ops_startup_leaves_the_heavy_libraries_to_the_commands_that_use_them():
    """Every `ops` invocation imports worker.cli: SciPy, scikit-learn, pyarrow, Playwright and jsonschema cost
    up to a second per start and are imported by the commands that need them, not at start."""
    import subprocess
    import sys

    heavy = ["scipy", "sklearn", "pyarrow", "playwright", "jsonschema", "datasets", "skops", "torch"]
    code = f"import sys, worker.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"imported at start: {out}"
