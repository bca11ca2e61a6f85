"""Write a unit's fingerprint into its file, touching nothing else (line endings and BOM kept)."""

from __future__ import annotations

import re
from pathlib import Path

from worker.units import canonical, yaml12

_TOP_KEY = re.compile(r"^(fingerprint|version|id)\s*:", re.MULTILINE)


def with_fingerprint(raw: bytes) -> tuple[bytes, str]:
    """The file's bytes with ``fingerprint:`` set to the computed value, and that value."""
    doc = yaml12.load(raw)
    fp = canonical.fingerprint_of(doc.data)
    text = raw.decode("utf-8")
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    newline = "\r\n" if "\r\n" in body else "\n"
    lines = body.split(newline)
    if "fingerprint" in doc.data:
        i = doc.lines[("fingerprint",)] - 1
        if not lines[i].startswith("fingerprint"):
            raise yaml12.YamlError("the fingerprint key must start its line at column 0 to be rewritten", i + 1)
        lines[i] = f"fingerprint: {fp}"
    else:
        after = max(doc.lines.get(("version",), 0), doc.lines.get(("id",), 0))
        if after and lines[after - 1].startswith(("version", "id")):
            lines.insert(after, f"fingerprint: {fp}")
        else:
            lines.insert(0, f"fingerprint: {fp}")
    out = (bom + newline.join(lines)).encode("utf-8")
    assert canonical.fingerprint_bytes(out) == fp  # the rewrite changed nothing but the fingerprint
    return out, fp


def update_file(path: Path) -> tuple[bool, str]:
    """Rewrite ``path`` with its computed fingerprint; (whether it changed, the fingerprint)."""
    raw = path.read_bytes()
    new, fp = with_fingerprint(raw)
    if new != raw:
        path.write_bytes(new)
        return True, fp
    return False, fp
