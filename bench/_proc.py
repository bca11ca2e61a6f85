"""CPU time of a process on this machine, for the benchmarks' CPU diagnostics (Linux ``/proc``; proc(5))."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int, comm: str | None = None) -> float | None:
    """User + system CPU seconds process ``pid`` has used so far (fields 14 and 15 of ``/proc/<pid>/stat``, in clock
    ticks). None when it cannot be read (not Linux, no such process here) or, given ``comm``, when the process has
    another name: a server on another machine whose backend pid happens to match a local process."""
    try:
        if comm is not None and Path(f"/proc/{pid}/comm").read_text().strip() != comm:
            return None
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
