"""`ops classifier train | eval | suggest`: the v2 classifier's commands (worker/learn/classifier.py).

Exit codes follow `ops` (worker/cli.py): 0 done; 1 no model recorded, or the model file was refused (changed
since training, untrusted types); 2 usage; 3 refused input (a corpus file of the wrong shape, too few
labelled codes); 4 the database is unavailable.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from worker import db, known
from worker.errors import BadInput, Usage, translate
from worker.learn import classifier
from worker.output import emit_json, table


def register(sub, number) -> None:
    """Add the `classifier` command to the `ops` subparsers ``sub``; ``number`` is cli.Number (passed in so this
    module does not import the CLI)."""
    p = sub.add_parser("classifier", help="the v2 classifier: train, evaluate, suggest codes (v1 stays of record)",
                       description=__doc__ + "\n" + classifier.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    csub = p.add_subparsers(dest="action", required=True, parser_class=type(p))

    def data_flags(c):
        c.add_argument("--corpus", type=Path, default=classifier.CORPUS,
                       help="synthetic corpus YAML (list of {source, phase, message, expect}; default %(default)s)")
        c.add_argument("--no-corpus", action="store_true", help="leave the synthetic corpus out")
        c.add_argument("--no-realworld", action="store_true",
                       help="leave the real-world corpus out (its dev split trains, its test split evaluates)")
        c.add_argument("--target-precision", type=number(float, 0, 1, low_open=True),
                       default=classifier.DEFAULT_TARGET_PRECISION,
                       help="precision the abstention threshold is chosen for (default %(default)s)")
        c.add_argument("--confidence-bar", type=number(float, 0, 1), default=classifier.DEFAULT_CONFIDENCE_BAR,
                       help="database labels: v1 codes with at least this confidence (default %(default)s)")
        c.add_argument("--seed", type=number(int, 0), default=0, help="held-out split and model seed (default 0)")
        c.add_argument("--json", action="store_true")

    t = csub.add_parser("train", help="evaluate, fit on every trainable label, write the model file and record "
                                      "its sha256 in ops.classifier_models")
    data_flags(t)
    t.add_argument("--out", type=Path, default=Path(".ops/models"),
                   help="directory for the model file (default %(default)s)")
    t.add_argument("--skip-eval", action="store_true", help="record the model without the evaluation figures")
    t.set_defaults(func=cmd_classifier)

    e = csub.add_parser("eval", help="macro-F1, coverage at the threshold and confusion against v1 on the "
                                     "real-world test split (by report) and the newest database labels (by time)")
    data_flags(e)
    e.set_defaults(func=cmd_classifier)

    s = csub.add_parser("suggest", help="top-k codes with probabilities for fingerprints of ops.agent_errors, "
                                        "or for --text")
    s.add_argument("fingerprints", nargs="*", metavar="FINGERPRINT")
    s.add_argument("--text", help="a message to classify instead of fingerprints (needs --source)")
    s.add_argument("--source", help="--text: the source it came from")
    s.add_argument("--phase", help="--text: the phase, if any")
    s.add_argument("--top", type=number(int, 1, 50), default=3, metavar="K", help="codes per message (default 3)")
    s.add_argument("--model-id", type=number(int, 1), help="an ops.classifier_models id (default: the newest)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_classifier)


def _data(conn, args) -> classifier.Labelled:
    try:
        return classifier.gather(conn, corpus=None if args.no_corpus else args.corpus,
                                 use_realworld=not args.no_realworld, confidence_bar=args.confidence_bar)
    except (OSError, ValueError) as exc:
        raise BadInput(f"--corpus: {exc}") from exc


def _print_figures(name: str, f: dict) -> None:
    if not f.get("n"):
        print(f"{name}: no test messages" + (f" ({f['note']})" if f.get("note") else ""))
        return
    print(f"{name}: n={f['n']} threshold={f['threshold']:.3f} macro_f1={f['macro_f1']:.3f} "
          f"accuracy={f['accuracy']:.3f} coverage={f['coverage']:.3f} "
          f"precision_covered={f['precision_covered'] if f['precision_covered'] is None else round(f['precision_covered'], 3)} "
          f"| v1 accuracy={f['v1_accuracy']:.3f} macro_f1={f['v1_macro_f1']:.3f} agreement={f['agreement_with_v1']:.3f}")
    for pair in f["confusion_vs_v1"][:10]:
        print(f"  v1 {pair['v1']} -> v2 {pair['v2']}: {pair['n']} (v2 right: {pair['v2_right']})")


def cmd_classifier(args) -> int:
    with db.connect() as conn, translate(f"classifier {args.action}"):
        if args.action == "suggest":
            return _suggest(conn, args)
        data = _data(conn, args)
        try:
            metrics = {} if getattr(args, "skip_eval", False) else classifier.evaluate(
                conn, data, target_precision=args.target_precision, seed=args.seed)
            if args.action == "eval":
                if args.json:
                    emit_json(metrics)
                else:
                    print("sources: " + ", ".join(f"{k}={v}" for k, v in metrics["sources"].items()))
                    _print_figures("realworld test (by report)", metrics.get("realworld", {"n": 0}))
                    _print_figures("database (by time)", metrics["by_time"])
                return 0
            trained = classifier.train_model(conn, data.trainable, target_precision=args.target_precision,
                                             seed=args.seed)
        except ValueError as exc:
            raise BadInput(str(exc)) from exc
        if not metrics:
            metrics = {"sources": {"synthetic": len(data.corpus), "realworld_dev": len(data.realworld_dev),
                                   "database": len(data.database)}}
        row = classifier.save(conn, trained, args.out, metrics)
        conn.commit()
        if args.json:
            emit_json({**row, "classes": len(trained.classes), "training_rows": trained.training_rows,
                       "metrics": metrics, "held_out": trained.held_out, "too_few_examples": trained.too_few_examples})
        else:
            print(f"model {row['id']} sha256={row['sha256']} path={row['path']}")
            print(f"{trained.training_rows} labelled messages, {len(trained.classes)} codes, threshold "
                  f"{trained.threshold:.3f} for precision {trained.target_precision}")
            if "realworld" in metrics:
                _print_figures("realworld test (by report)", metrics["realworld"])
            if "by_time" in metrics:
                _print_figures("database (by time)", metrics["by_time"])
        return 0


def _suggest(conn, args) -> int:
    if args.text is not None and args.fingerprints:
        raise Usage("give FINGERPRINTs or --text, not both", field="--text")
    if args.text is None and not args.fingerprints:
        raise Usage("give one or more FINGERPRINTs, or --text with --source", field="FINGERPRINT")
    if args.text is not None and not args.source:
        raise Usage("--text needs --source (the source the message came from)", field="--source")
    if args.text is not None:
        known.check_source(conn, args.source)  # as `ops classify` refuses an unknown source
    trained, info = classifier.load(conn, args.model_id)
    if args.text is not None:
        top, abstained, unknown = classifier.suggest_text(conn, args.source, args.phase, args.text, args.top,
                                                           model=trained)
        results = {"--text": top}
        abstains = {"--text": (abstained, unknown)}
    else:
        results = classifier.suggest(conn, args.fingerprints, args.top, model=trained)
        missing = [fp for fp in args.fingerprints if fp not in results]
        if missing:
            raise BadInput(f"FINGERPRINT: not in ops.agent_errors: {', '.join(missing)}")
        abstains = {fp: (top[0][1] < trained.threshold, None) for fp, top in results.items()}
    if args.json:
        emit_json({"model_id": info["id"], "sha256": info["sha256"], "threshold": trained.threshold,
                   "suggestions": {key: {"abstained": abstains[key][0],
                                         "codes": [{"code": c, "p": p} for c, p in top]}
                                   for key, top in results.items()}})
    else:
        rows = [{"for": key[:16], "rank": i + 1, "code": c, "p": round(p, 4),
                 "note": "below threshold: v2 abstains" if abstains[key][0] and i == 0 else ""}
                for key, top in results.items() for i, (c, p) in enumerate(top)]
        print(f"model {info['id']} (threshold {trained.threshold:.3f})")
        print(table(rows, ["for", "rank", "code", "p", "note"]))
    return 0
