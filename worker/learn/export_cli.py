"""`ops export sft|preferences|kto --out DIR|s3://bucket/prefix [--since T]`: training data for TRL
(worker/learn/export.py).

Exit codes follow `ops` (worker/cli.py): 0 written; 2 usage (a bad --since); 3 refused input (an s3 URL without a
bucket); 4 the database or the object store is unavailable.
"""

from __future__ import annotations

import argparse
import os
import sys

from worker import db, timeflags
from worker.errors import translate
from worker.learn import export
from worker.output import emit_json


# Why an export of each kind can have no row (worker/learn/export.py has the whole rule).
EMPTY_BECAUSE = {
    "sft": "no good run: resolved and accepted, i.e. PR merged or review approved",
    "preferences": "no task has both a good and a failed run",
    "kto": "no good or failed run",
}


def register(sub) -> None:
    """Add the `export` command to the `ops` subparsers ``sub``."""
    p = sub.add_parser("export", help="training data from scored FixBot runs (TRL formats: Parquet + JSON Lines)",
                       description=__doc__ + "\n" + export.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=export.KINDS,
                   help="sft: messages; preferences: prompt/chosen/rejected; kto: prompt/completion/label")
    p.add_argument("--out", required=True, metavar="DIR|s3://bucket/prefix",
                   help="a directory, or an S3/R2 prefix (credentials from the AWS_* variables)")
    p.add_argument("--since", type=timeflags.since, help="only runs created since then: a duration back from now (7d) or an RFC 3339 date or time (UTC if no offset)")
    p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                   help="S3-compatible endpoint (R2: https://<account>.r2.cloudflarestorage.com; default "
                        "$AWS_ENDPOINT_URL)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    with db.connect() as conn, translate("export"):
        result = export.export(conn, args.kind, args.out, since=args.since, endpoint_url=args.endpoint_url)
        conn.commit()
    if not result["rows"]:
        # An empty dataset is no error (exit 0), but a loader given only the card fails: say why nothing qualified.
        print(f"ops export: no run qualifies for {result['kind']} yet ({EMPTY_BECAUSE[result['kind']]}); only the "
              "dataset card was written", file=sys.stderr)
    if args.json:
        emit_json(result)
    else:
        print(f"{result['kind']}: {result['rows']} rows -> {result['destination']} (snapshot {result['snapshot_id']})")
        for rel, f in result["files"].items():
            print(f"  {rel}  {f['bytes']} bytes  sha256 {f['sha256']}")
    return 0
