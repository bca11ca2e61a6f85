"""`stratt`: unit CI for STRATT prompt units.

Exit codes (every command):
  0   pass (warnings allowed) / verified
  1   blocking finding, invalid unit, refused publish
  2   tampered (FM-01; verify: content does not match its fingerprint)
  3   broken import (FM-02; verify: not found)
  4   infrastructure: the object store (FM-08, retryable) or the database is unavailable
  64  usage: bad arguments, no units found, unknown council
  70  internal error
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

import psycopg

from worker import db
from worker.errors import OpsError, Unavailable, Usage, from_psycopg
from worker.queries import q
from worker.render import terminal
from worker.units import canonical, checks, edit, load, publish, report, yaml12
from worker.units.model import Address
from worker.units.store import DEFAULT_STORE, StoreError, open_store

EXIT_CODES = __doc__.split("Exit codes (every command):\n", 1)[1]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 64, not argparse's 2 (which means "tampered" here)
        self.print_usage(sys.stderr)
        self.exit(checks.EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _workers(text: str) -> int:
    """--workers: an integer, at least 1; anything else is a usage error worded as `ops`'s worker.cli.Number
    words it (not imported from there: worker.cli costs `stratt` 0.4 s of imports)."""
    try:
        n = int(text)
    except ValueError:
        n = None
    if n is None or n < 1:
        raise argparse.ArgumentTypeError(f"must be an integer, at least 1, not {text!r}")
    return n


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = _Parser(prog="stratt", description="Unit CI: fingerprints, the nine failure-mode checks, publishing.",
                epilog="exit codes:\n" + EXIT_CODES, formatter_class=fmt)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("ci", help="run FM-01..FM-09 over units and councils", formatter_class=fmt,
                       epilog="exit codes: 2 tampered > 3 broken import > 1 blocking; warnings alone exit 0; "
                              "64 no units / unknown council; 4 database unavailable")
    c.add_argument("paths", nargs="+", help="files or directories of unit and council YAML")
    c.add_argument("--council", help="only chains of this council (council/<slug>); must exist under PATHS")
    c.add_argument("--against", metavar="DIR", help="compare gates and contracts with the units in DIR "
                                                    "instead of the highest published version below")
    c.add_argument("--format", choices=report.FORMATS, default="text")
    c.add_argument("--waivers", metavar="FILE", help="YAML: waivers: [{fingerprint, reason, owner, expires}]")
    c.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    c.add_argument("--workers", type=_workers, metavar="N",
                   help="processes that load a tree of 1,000 files or more (default: one per CPU; 1: no pool)")

    v = sub.add_parser("validate", help="check schema and id/field agreement (no database)",
                       epilog="exit codes: 0 valid, 1 invalid, 64 no files")
    v.add_argument("paths", nargs="+")
    v.add_argument("--json", action="store_true")

    f = sub.add_parser("fingerprint", help="print, verify or write the stratt-canonical-v1 fingerprint",
                       epilog="exit codes: 0 ok, 2 a declared fingerprint differs (--verify), 1 unparsable file")
    f.add_argument("paths", nargs="+")
    mode = f.add_mutually_exclusive_group()
    mode.add_argument("--verify", action="store_true", help="compare with the declared fingerprint")
    mode.add_argument("--update", action="store_true", help="write the computed fingerprint into each file")
    f.add_argument("--canonical", action="store_true", help="print the canonical JSON instead")

    pub = sub.add_parser("publish", help="fingerprint, write to the object store, record in the registry",
                         epilog="exit codes: 0 published, 1 invalid or immutable version refused, "
                                "4 object store failed (FM-08: nothing published)")
    pub.add_argument("paths", nargs="+")
    pub.add_argument("--store", default=None, help=f"file://DIR or s3://bucket[/prefix] (default {DEFAULT_STORE}, "
                                                   "or $STRATT_STORE)")
    pub.add_argument("--endpoint-url", help="S3 endpoint (Cloudflare R2: https://<account>.r2.cloudflarestorage.com); "
                                            "or $STRATT_S3_ENDPOINT")

    ver = sub.add_parser("verify", help="fetch a published unit from its store and recompute its fingerprint",
                         epilog="exit codes: 0 verified, 2 tampered, 3 not found")
    ver.add_argument("address")
    ver.add_argument("--endpoint-url")

    imp = sub.add_parser("impact", help="print the blast radius of a unit (registry)",
                         epilog="exit codes: 0 printed, 64 bad address")
    imp.add_argument("address")
    imp.add_argument("--json", action="store_true")

    dep = sub.add_parser("deprecate", help="mark a published unit deprecated",
                         epilog="exit codes: 0 done, 1 not published")
    dep.add_argument("address")
    dep.add_argument("--reason", required=True)
    dep.add_argument("--successor")
    return p


def _out(text: str, path: str | None = None) -> None:
    if path:
        Path(path).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")


def cmd_ci(args) -> int:
    waivers = checks.load_waivers(args.waivers)
    with db.connect() as conn:
        rep = checks.run_ci(conn, args.paths, council=args.council, against=args.against, waivers=waivers,
                           workers=args.workers)
    _out(report.render(rep, args.format), args.output)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.format == "github" and summary:  # the findings beyond the annotation cap go to the job summary
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(report.github_step_summary(rep))
    if rep.error and args.format != "text":
        print(f"stratt ci: error: {rep.error}", file=sys.stderr)
    return rep.exit_code


def cmd_validate(args) -> int:
    snap = load.load(args.paths)
    if not snap.files:
        print("stratt validate: no YAML files found", file=sys.stderr)
        return checks.EXIT_USAGE
    if args.json:
        print(json.dumps({"valid": not snap.problems, "units": len(snap.units), "councils": len(snap.councils),
                          "problems": load.problem_rows(snap.problems)}, indent=2))
    else:
        for p in snap.problems:
            print(f"{p.file}:{p.line}: {p.message}")
        print(f"{len(snap.units)} unit(s), {len(snap.councils)} council(s) valid; {len(snap.problems)} problem(s)")
    return 1 if snap.problems else 0


def cmd_fingerprint(args) -> int:
    rc = 0
    for path in load.find_files(args.paths):
        name = load.display_path(path)
        try:
            if args.update:
                changed, fp = edit.update_file(path)
                print(f"{fp}  {name}" + ("  (updated)" if changed else ""))
                continue
            doc = yaml12.load(path.read_bytes())
            if args.canonical:
                print(canonical.canonical_json(doc.data))
                continue
            fp = canonical.fingerprint_of(doc.data)
        except (yaml12.YamlError, canonical.CanonicalError) as exc:
            print(f"{name}:{getattr(exc, 'line', 0) or 1}: {exc}", file=sys.stderr)
            rc = max(rc, 1)
            continue
        if args.verify:
            declared = doc.data.get("fingerprint")
            if declared != fp:
                print(f"{name}: TAMPERED declared {declared} computed {fp}")
                rc = 2
            else:
                print(f"{name}: ok {fp}")
        else:
            print(f"{fp}  {name}")
    return rc


def cmd_publish(args) -> int:
    store = open_store(args.store, endpoint_url=args.endpoint_url)
    with db.connect() as conn:
        res = publish.publish(conn, args.paths, store)
    for f in res.updated_files:
        print(f"fingerprint written: {f}")
    for a in res.published:
        print(f"published {a}")
    for a in res.unchanged:
        print(f"already published {a} (same fingerprint)")
    for m in res.messages:
        print(m, file=sys.stderr)
    return res.exit_code


def cmd_verify(args) -> int:
    with db.connect() as conn:
        res = publish.verify(conn, args.address, lambda url: open_store(url, endpoint_url=args.endpoint_url))
    print(res.message)
    return res.exit_code


def cmd_impact(args) -> int:
    try:
        Address.parse(args.address)
    except ValueError as exc:
        print(f"stratt impact: {exc}", file=sys.stderr)
        return checks.EXIT_USAGE
    with db.connect() as conn:
        rows = conn.execute(q("units", "blast_radius"), {"address": args.address}).fetchall()
    items = [{"address": a, "depth": d, "direct": di, "gate_bearing": g, "protected": p} for a, d, di, g, p in rows]
    summary = {"unit": args.address, "direct": sum(i["direct"] for i in items), "transitive": len(items),
               "gate_bearing": sum(i["gate_bearing"] for i in items), "protected": sum(i["protected"] for i in items),
               "dependents": items}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{args.address}: {summary['direct']} direct, {summary['transitive']} transitive, "
              f"{summary['gate_bearing']} gate-bearing, {summary['protected']} protected dependent(s)")
        for i in items:
            flags = ", ".join(k for k in ("gate_bearing", "protected") if i[k])
            print(f"  {'  ' * (i['depth'] - 1)}{terminal(i['address'])}" + (f"  [{flags}]" if flags else ""))
    return 0


def cmd_deprecate(args) -> int:
    with db.connect() as conn:
        try:
            conn.execute(q("units", "deprecate_unit"),
                         {"address": args.address, "reason": args.reason, "successor": args.successor})
        except psycopg.Error as exc:
            if exc.sqlstate == "OP004":
                print(f"stratt deprecate: {terminal(exc.diag.message_primary)}", file=sys.stderr)
                return 1
            raise
        conn.commit()
    print(f"deprecated {args.address}" + (f" (successor {args.successor})" if args.successor else ""))
    return 0


COMMANDS = {"ci": cmd_ci, "validate": cmd_validate, "fingerprint": cmd_fingerprint, "publish": cmd_publish,
            "verify": cmd_verify, "impact": cmd_impact, "deprecate": cmd_deprecate}


def _error(args, kind: str, code: int, exc, sqlstate: str | None = None) -> int:
    """One line on stderr, `stratt <command>: <reason>`; with --json or --format json also `ops`'s JSON
    error object on stdout ({error, code, field, reason, exit_code})."""
    print(f"stratt {args.command}: {exc}", file=sys.stderr)
    if getattr(args, "json", False) or getattr(args, "format", None) == "json":
        print(json.dumps({"error": kind, "code": sqlstate or kind, "field": getattr(exc, "field", None),
                          "reason": str(exc), "exit_code": code}))
    return code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        try:
            code = COMMANDS[args.command](args)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
            return code
        except psycopg.Error as exc:  # the mapping `ops` uses (unmigrated, unsynced, privilege)
            mapped = from_psycopg(exc, None)
            if mapped is None:
                raise
            raise mapped from exc
    except (checks.UsageError, FileNotFoundError, ValueError, Usage) as exc:
        # Usage (a malformed DATABASE_URL, an unmigrated database) is ops's exit 2; here 2 means tampered
        return _error(args, "usage", checks.EXIT_USAGE, exc, getattr(exc.__cause__, "sqlstate", None))
    except (Unavailable, StoreError, psycopg.OperationalError) as exc:
        return _error(args, "unavailable", checks.EXIT_INFRA, exc)
    except OpsError as exc:
        return _error(args, "failed", exc.exit_code, exc, getattr(exc.__cause__, "sqlstate", None))
    except BrokenPipeError:  # stdout closed by its reader: quiet, as `ops` (141)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception:  # noqa: BLE001 - the documented internal-error exit, with the trace for a bug report
        traceback.print_exc()
        return checks.EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
