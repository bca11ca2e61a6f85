"""Agent reliability system: the thin Python side of a Postgres-native error pipeline."""

from pathlib import Path

__version__ = "0.1.0"

#: The repository root (where sql/, ssot/ and docs/ live). Overridable for installed copies.
ROOT = Path(__file__).resolve().parent.parent
