"""Peer queues for the benchmarks, each in its own virtualenv under ``.bench-venvs/<name>/`` (git-ignored),
so a peer never enters the product's dependencies.

    from bench.peers import ensure_venv
    python = ensure_venv("pgqueuer", ["pgqueuer==0.x", "psycopg[binary]"]) / "bin" / "python"

``ensure_venv(name, requirements)`` creates the venv with the standard library's ``venv`` (pip included)
and installs ``requirements`` with that venv's pip; a stamp file records what was installed, so a second
call with the same requirements returns at once and a changed list reinstalls. Raises
``subprocess.CalledProcessError`` (pip's output attached) when an install fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".bench-venvs"

# The peers of issue 12 and what each needs; versions pinned so runs compare like with like.
PGQUEUER = ["pgqueuer==1.6.0", "psycopg[binary]>=3.2"]
PROCRASTINATE = ["procrastinate==3.10.0", "psycopg[binary]>=3.2"]


def ensure_venv(name: str, requirements: list[str]) -> Path:
    """The virtualenv ``.bench-venvs/<name>/`` with ``requirements`` installed; returns its directory
    (its interpreter is ``<dir>/bin/python``). ``name``: letters, digits, ``-`` and ``_``."""
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"venv name {name!r}: use letters, digits, '-' and '_' only")
    target = VENVS / name
    stamp = target / ".requirements.json"
    wanted = json.dumps(sorted(requirements))
    if stamp.exists() and stamp.read_text() == wanted and (target / "bin" / "python").exists():
        return target
    if not (target / "bin" / "python").exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
    if requirements:
        subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "-q", *requirements],
                       check=True, capture_output=True, text=True)
    stamp.write_text(wanted)
    return target


def run_in(name: str, requirements: list[str], script: Path, *args: str, timeout: float = 900) -> dict:
    """Run ``script`` with the peer venv's interpreter; it prints one JSON object on its last stdout line,
    which is returned. Raises RuntimeError with the script's stderr when it fails."""
    python = ensure_venv(name, requirements) / "bin" / "python"
    proc = subprocess.run([str(python), str(script), *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} in venv {name} exited {proc.returncode}: {proc.stderr[-2000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError(f"{script.name} in venv {name} printed nothing; stderr: {proc.stderr[-2000:]}")
    return json.loads(lines[-1])


if __name__ == "__main__":  # python bench/peers.py: create both peer venvs (prints how long each took)
    import time
    for venv_name, reqs in (("pgqueuer", PGQUEUER), ("procrastinate", PROCRASTINATE)):
        t = time.perf_counter()
        ensure_venv(venv_name, reqs)
        print(f"{venv_name}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
