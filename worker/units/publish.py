"""`stratt publish` and `stratt verify`: all-or-nothing writes to the object store, then one transaction.

The order matters: objects first, registry last, the files' fingerprint lines after both. If any
object write fails, the objects this batch wrote are removed and nothing is recorded as published (an
FM-08 event and an INFRA.R2.PUBLISH_FAILED error are recorded instead). If the registry transaction
fails, the objects are removed too. A published version is immutable: a different fingerprint for it
is refused before anything is written. Whenever a publish fails or is refused, the unit files are left
byte for byte as they were: the fingerprint commit rolls back with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from worker.queries import q
from worker.units import canonical, edit, load, yaml12
from worker.units.store import StoreError, object_key

EXIT_OK, EXIT_REFUSED, EXIT_TAMPERED, EXIT_NOT_FOUND, EXIT_INFRA, EXIT_USAGE = 0, 1, 2, 3, 4, 64


@dataclass
class PublishResult:
    exit_code: int
    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    updated_files: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    run_id: int | None = None


def publish(conn: psycopg.Connection, paths: list[str], store) -> PublishResult:
    result = PublishResult(EXIT_OK)
    snap = load.load(paths)
    if snap.problems:
        result.exit_code = EXIT_REFUSED
        result.messages += [f"{p.file}:{p.line}: {p.message}" for p in snap.problems]
        return result
    if not snap.units:
        result.exit_code = EXIT_USAGE
        result.messages.append(f"found no units under {', '.join(map(str, paths))}")
        return result

    # Fingerprint with --update semantics, in memory: the stored object carries its own fingerprint, and the
    # files get it only once the batch is published (a refused or failed publish leaves them as they were).
    batch, rewrites = [], []
    for unit in snap.units:
        raw = unit.path.read_bytes()
        data, fp = edit.with_fingerprint(raw)
        if data != raw:
            rewrites.append((unit.path, raw, data))
        row = load.unit_rows([unit], {str(unit.address): fp})[0]
        row["doc"] = yaml12.load(data).data
        row["object_key"] = object_key(unit.address.domain, unit.address.type, unit.address.slug, unit.address.version)
        batch.append((row, data))

    units = Jsonb([{"address": r["address"], "fingerprint": r["computed"]} for r, _ in batch])
    conflicts = conn.execute(q("units", "published_unit_conflicts"), {"units": units}).fetchall()
    conn.commit()
    if conflicts:
        result.exit_code = EXIT_REFUSED
        result.messages += [f"{a} is already published as {old}; this content is {new}: published versions are "
                            f"immutable, release it as a new version" for a, old, new in conflicts]
        return result
    existing = {r[0]: r[1] for r in (conn.execute(q("units", "published_unit"), {"address": row["address"]}).fetchone()
                                     for row, _ in batch) if r}
    conn.commit()
    todo = [(row, data) for row, data in batch if row["address"] not in existing]
    result.unchanged = [row["address"] for row, _ in batch if row["address"] in existing]
    if not todo:
        _write_fingerprints(rewrites, result)
        return result

    written: list[str] = []
    try:
        for row, data in todo:
            store.put(row["object_key"], data)
            written.append(row["object_key"])
    except StoreError as exc:
        _roll_back(store, written, result)
        message = f"publish to {store.url} failed after {len(written)} of {len(todo)} object(s): {exc}"
        result.run_id = conn.execute(q("units", "record_publish_failure"), {
            "paths": [str(p) for p in paths], "store": store.url, "message": message,
            "details": Jsonb({"written_then_removed": written, "failed": todo[len(written)][0]["address"],
                              "batch": [r["address"] for r, _ in todo]})}).fetchone()[0]
        conn.commit()
        result.exit_code = EXIT_INFRA
        result.messages.append(f"FM-08 INFRA.R2.PUBLISH_FAILED: {message}; nothing was published")
        return result

    try:
        with conn.transaction():
            result.run_id = conn.execute(q("units", "record_publish"), {
                "paths": [str(p) for p in paths], "store": store.url,
                "units": Jsonb([row for row, _ in todo])}).fetchone()[0]
    except psycopg.Error as exc:
        _roll_back(store, written, result)
        conn.rollback()
        result.exit_code = EXIT_REFUSED
        result.messages.append(f"the registry refused the batch ({exc.diag.message_primary or exc}); "
                               "the objects written were removed")
        return result
    result.published = [row["address"] for row, _ in todo]
    _write_fingerprints(rewrites, result)
    return result


def _write_fingerprints(rewrites: list, result: PublishResult) -> None:
    """Write the fingerprint line into the files of a published batch (what was published is what they hold)."""
    for path, raw, data in rewrites:
        if path.read_bytes() != raw:  # edited while we published: leave it to `stratt fingerprint --update`
            result.messages.append(f"{load.display_path(path)} changed during publish; fingerprint not written")
            continue
        path.write_bytes(data)
        result.updated_files.append(load.display_path(path))


def _roll_back(store, written: list[str], result: PublishResult) -> None:
    for key in reversed(written):
        try:
            store.delete(key)
        except StoreError as exc:  # pragma: no cover - the store failed twice; say so, loudly
            result.messages.append(f"could not remove {key} while rolling back: {exc}")


@dataclass
class VerifyResult:
    exit_code: int
    message: str


def verify(conn: psycopg.Connection, address: str, store_for) -> VerifyResult:
    row = conn.execute(q("units", "published_unit"), {"address": address}).fetchone()
    conn.commit()
    if not row:
        return VerifyResult(EXIT_NOT_FOUND, f"{address} is not published")
    _, recorded, status, store_url, key = row
    data = store_for(store_url).get(key)
    if data is None:
        return VerifyResult(EXIT_NOT_FOUND, f"{address}: object {key} is missing from {store_url}")
    try:
        doc = yaml12.load(data).data
        computed = canonical.fingerprint_of(doc)
    except (yaml12.YamlError, canonical.CanonicalError) as exc:
        return VerifyResult(EXIT_TAMPERED, f"{address}: the stored object no longer parses ({exc})")
    declared = doc.get("fingerprint")
    if computed != recorded or declared != recorded:
        return VerifyResult(EXIT_TAMPERED, f"{address} TAMPERED: registry {recorded}, object declares {declared}, "
                                           f"content hashes to {computed}")
    return VerifyResult(EXIT_OK, f"{address} verified: {computed} ({status}, {store_url}/{key})")

