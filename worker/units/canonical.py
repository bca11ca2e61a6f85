"""stratt-canonical-v1: the canonical serialisation of a unit and its Blake3 fingerprint.

canonical(doc) = compact JSON, as ECMAScript ``JSON.stringify`` writes it, of the document with
the top-level ``fingerprint`` dropped, null-valued keys removed recursively (empty lists and maps
kept), every key and string NFC-normalised and keys sorted by UTF-16 code units. The fingerprint is
``blake3:`` + the lowercase hex Blake3-256 of its UTF-8 bytes (no BOM, no trailing newline).
"""

from __future__ import annotations

import json
import re
import unicodedata

import blake3

from worker.units import yaml12
from worker.units.ecmascript import MAX_SAFE, CanonicalError, js_number

VERSION = "stratt-canonical-v1"
FINGERPRINT = re.compile(r"^blake3:[0-9a-f]{64}$")
_encode_string = json.encoder.encode_basestring  # the C encoder; escapes exactly what JSON.stringify does
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False).encode
# For a plain document (yaml12.Document.plain): all keys ASCII, so code-point order is UTF-16 order.
_compact_sorted = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False,
                                   sort_keys=True).encode


def _utf16_key(text: str) -> bytes:
    # Big-endian UTF-16 bytes compare exactly as the code units do.
    return text.encode("utf-16-be", "surrogatepass")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text) if not text.isascii() else text


def normalize(value, top: bool = True, _numbers: list | None = None):
    """The document reduced to its canonical value (no nulls, NFC strings, keys in UTF-16 order).

    ``_numbers`` collects the numbers whose JavaScript form differs from Python's (floats, ints
    beyond 2**53), so that documents without any can be written by the C JSON encoder.
    """
    if isinstance(value, dict):
        items = {}
        for key, item in value.items():
            if top and key == "fingerprint":
                continue
            if item is None:
                continue
            key = _nfc(key)
            if key in items:
                raise CanonicalError(f"keys collide after NFC normalisation: {key!r}")
            items[key] = normalize(item, False, _numbers)
        return {k: items[k] for k in sorted(items, key=_utf16_key)}
    if isinstance(value, list):
        return [normalize(item, False, _numbers) for item in value]
    if isinstance(value, str):
        return _nfc(value)
    if _numbers is not None and (isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)
                                                              and not -MAX_SAFE <= value <= MAX_SAFE)):
        _numbers.append(value)
    return value


def _dump(value, out: list) -> None:
    if isinstance(value, str):
        out.append(_encode_string(value))
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif value is None:  # only inside lists: JSON.stringify keeps null array items
        out.append("null")
    elif isinstance(value, (int, float)):
        out.append(js_number(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(_encode_string(key))
            out.append(":")
            _dump(item, out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _dump(item, out)
        out.append("]")
    else:
        raise CanonicalError(f"cannot serialise {type(value).__name__}")


def canonical_json(doc: dict) -> str:
    """The canonical JSON text of a parsed document."""
    if not isinstance(doc, dict):
        raise CanonicalError("the root must be a mapping")
    numbers: list = []
    value = normalize(doc, True, numbers)
    if not numbers:
        # Strings, safe integers, booleans, lists and maps: the C encoder writes exactly what _dump would.
        return _compact(value)
    out: list[str] = []
    _dump(value, out)
    return "".join(out)


def canonical_bytes(doc: dict) -> bytes:
    try:
        return canonical_json(doc).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalError("the document holds a lone surrogate, which UTF-8 cannot encode") from exc


def fingerprint_of(doc: dict) -> str:
    return "blake3:" + blake3.blake3(canonical_bytes(doc)).hexdigest()


def document_bytes(document: yaml12.Document) -> bytes:
    """:func:`canonical_bytes` of a parsed document, without walking it when the parser found it plain
    (:attr:`yaml12.Document.plain`: ASCII keys and strings, no null, no float, no integer beyond 2**53).
    Such a document has nothing to drop but the top-level ``fingerprint``, nothing to NFC-normalise, and its
    keys sort the same by code point as by UTF-16 code unit, so the C encoder's ``sort_keys`` output is the
    canonical text (tests/test_units_canonical.py compares both paths). Raises CanonicalError as
    :func:`canonical_bytes` does."""
    data = document.data
    if document.plain and isinstance(data, dict):
        if "fingerprint" in data:
            data = {k: v for k, v in data.items() if k != "fingerprint"}
        return _compact_sorted(data).encode("ascii")
    return canonical_bytes(data)


def fingerprint_document(document: yaml12.Document) -> str:
    """:func:`fingerprint_of` the document's data (the same value), through :func:`document_bytes`."""
    return "blake3:" + blake3.blake3(document_bytes(document)).hexdigest()


def fingerprint_bytes(raw: bytes | str) -> str:
    """Parse YAML (1.2 core schema) and fingerprint it."""
    return fingerprint_document(yaml12.load(raw))
