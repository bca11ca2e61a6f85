"""The v2 classifier: a calibrated linear model over character n-grams that suggests failure-mode codes.

v1 (the SQL patterns, ``ops.classify_error``) stays the classifier of record; v2 only suggests, and its
agreement with v1 is reported with every evaluation.

Model. Features are character n-grams (2..5, within word boundaries, sublinear TF-IDF, the MAX_FEATURES most
frequent) of the message as
``ops.normalize_message(ops.redact(message))`` gives it, plus one-hot ``source`` and ``phase``; the model
is a linear SVM (scikit-learn ``LinearSVC``) whose scores are calibrated into probabilities by
``CalibratedClassifierCV(method="temperature")`` (temperature scaling, Guo et al. 2017, "On Calibration of
Modern Neural Networks": one parameter for all classes, so it stays well posed with a hundred codes and a
few examples each), fitted on the cross-validated scores of FOLDS folds (``ensemble=False``: one SVM in the file). A code needs ``MIN_EXAMPLES`` labelled messages (the calibration's folds); codes with
fewer are left out of training and listed in the metrics under ``too_few_examples``.

Abstention. v2 suggests ``UNKNOWN.<SOURCE>`` when its best probability is below a threshold. The threshold
is chosen on a held-out quarter of the training data (seeded): the lowest probability at which the
accepted predictions reach ``target_precision`` (scikit-learn's ``precision_recall_curve`` over "was the
top code right" scored by the top probability), so coverage is as high as that precision allows. The final
model is then refitted on all training data with that threshold.

Data. Labelled messages come from: the synthetic corpus (``tests/fixtures/classification_corpus.yaml``),
the ``dev`` split of the real-world corpus (its ``test`` split is never trained on), and the database
(v1 codes with confidence at or above a bar, never UNKNOWN; triage promotions, ``ops.error_aliases``
reason ``promote``). Evaluation: the real-world ``test`` split (split by report, fixed in the files) and
the newest fifth of the database labels (split by time), each with macro-F1, coverage at the threshold,
precision on what is covered, accuracy against v1 and the confusion pairs v1 -> v2.

Artifact. The fitted pipeline is written with skops (``skops.io``), which stores the object tree without
pickle and loads only types on an explicit trust list (``TRUSTED``); the file's SHA-256 is recorded in
``ops.classifier_models`` and checked on every load, so a file changed after training is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import psycopg
import yaml

from worker import ROOT, realworld
from worker.errors import NotFound, OpsError
from worker.queries import execute

CORPUS = ROOT / "tests" / "fixtures" / "classification_corpus.yaml"
MIN_EXAMPLES = 3  # calibration folds: a code needs one example in each
MAX_FEATURES = 20000  # the most frequent character n-grams kept (bounds the file: codes x features weights)
FOLDS = 3
DEFAULT_TARGET_PRECISION = 0.9
DEFAULT_CONFIDENCE_BAR = 0.5
HELD_OUT_SHARE = 0.25
TIME_TEST_SHARE = 0.2
MIN_TIME_TEST = 5  # fewer newest database labels than this: no by-time evaluation

# The types a model file may contain beyond skops' built-in safe list (numpy, scipy and the listed scikit-learn
# estimators are trusted by skops itself); anything else in a file is refused before it is loaded.
TRUSTED = ["sklearn.calibration._CalibratedClassifier", "sklearn.calibration._TemperatureScaling",
           "sklearn.model_selection._split.StratifiedKFold"]


class ModelRefused(OpsError):
    """A model file that does not match its database row (changed bytes) or holds types we do not trust."""


@dataclass(frozen=True)
class Sample:
    """One labelled message. ``origin``: synthetic | realworld | v1 | promote; ``split``: train | dev | test;
    ``seen_at``: when the database first saw it (None for the corpora)."""

    source: str
    phase: str | None
    message: str
    code: str
    origin: str
    split: str = "train"
    seen_at: datetime | None = None


def unknown_code(source: str) -> str:
    """The abstention code of a source: ``UNKNOWN.<SOURCE>`` (the taxonomy's fallback, upper case)."""
    return f"UNKNOWN.{source.upper()}"


# -- data --------------------------------------------------------------------------------------------

def corpus_samples(path: Path = CORPUS) -> list[Sample]:
    """The synthetic corpus (a YAML list of {source, phase, message, expect}). Raises ValueError naming an entry
    without one of source, message or expect."""
    entries = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of {{source, phase, message, expect}} entries")
    out = []
    for i, e in enumerate(entries, 1):
        missing = [k for k in ("source", "message", "expect") if not (isinstance(e, dict) and e.get(k))]
        if missing:
            raise ValueError(f"{path}: entry {i} has no {', '.join(missing)}")
        out.append(Sample(e["source"], e.get("phase"), e["message"], e["expect"], "synthetic"))
    return out


def realworld_samples(root: Path = ROOT) -> list[Sample]:
    """The real-world messages with their split: the corpus (dev | test, by report) and every blind set measured
    once and tuned on since (dev-holdout1, dev-blind2, …; realworld.load_tuned). A blind set not yet measured is
    never read."""
    return [Sample(m.source, m.phase, m.text, m.expected, "realworld", m.split) for m in realworld.load_tuned(root)]


def database_samples(conn: psycopg.Connection, confidence_bar: float = DEFAULT_CONFIDENCE_BAR) -> list[Sample]:
    """Labels from ops.agent_errors (v1 codes with confidence >= ``confidence_bar``) and triage promotions,
    oldest first."""
    rows = execute(conn, "learn", "labelled_errors", {"confidence_bar": confidence_bar}).fetchall()
    samples = [Sample(r[1], r[2], r[3], r[4], r[6], "train", r[5]) for r in rows]
    return sorted(samples, key=lambda s: s.seen_at)


def normalized(conn: psycopg.Connection, messages: list[str]) -> list[str]:
    """``ops.normalize_message(ops.redact(m))`` for each message, in one round trip."""
    if not messages:
        return []
    rows = execute(conn, "learn", "normalize_batch", {"messages": json.dumps(messages)}).fetchall()
    return [r[0] or "" for r in rows]


def features(conn: psycopg.Connection, samples) -> np.ndarray:
    """The model's input: an object array with columns (normalized message, source, phase or '')."""
    texts = normalized(conn, [s.message for s in samples])
    return np.array([[t, s.source, s.phase or ""] for t, s in zip(texts, samples)], dtype=object).reshape(-1, 3)


def v1_codes(conn: psycopg.Connection, samples) -> list[str]:
    """What v1 (ops.classify_error) says for each sample, in one round trip."""
    if not samples:
        return []
    docs = [{"source": s.source, "phase": s.phase, "message": s.message} for s in samples]
    return [r[0] for r in execute(conn, "learn", "classify_batch_v1", {"events": json.dumps(docs)}).fetchall()]


# -- the model ---------------------------------------------------------------------------------------

def _pipeline(seed: int):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.svm import LinearSVC

    columns = ColumnTransformer([
        ("text", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=False,
                                 max_features=MAX_FEATURES), 0),
        ("source_phase", OneHotEncoder(handle_unknown="ignore"), [1, 2]),
    ])
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    # ensemble=False: one SVM fitted on everything, its temperature fitted on the folds' predictions, so the file
    # holds one weight matrix instead of one per fold.
    model = CalibratedClassifierCV(LinearSVC(C=1.0, random_state=seed), method="temperature", cv=folds, ensemble=False)
    return Pipeline([("features", columns), ("model", model)])


def trainable(samples) -> tuple[list, dict[str, int]]:
    """The samples whose code has at least MIN_EXAMPLES examples, and the codes left out with their counts."""
    counts = Counter(s.code for s in samples)
    return [s for s in samples if counts[s.code] >= MIN_EXAMPLES], \
        {c: n for c, n in sorted(counts.items()) if n < MIN_EXAMPLES}


def fit(X: np.ndarray, y: list[str], seed: int = 0):
    """Fit the pipeline. Raises ValueError when fewer than two codes have MIN_EXAMPLES examples."""
    if len(set(y)) < 2:
        raise ValueError(f"need at least two codes with {MIN_EXAMPLES}+ labelled messages each, got {len(set(y))}")
    pipeline = _pipeline(seed).fit(X, y)
    vectorizer = pipeline.named_steps["features"].named_transformers_["text"]
    if hasattr(vectorizer, "stop_words_"):  # the n-grams max_features dropped: introspection only, and most of the file
        del vectorizer.stop_words_
    return pipeline


def choose_threshold(correct: np.ndarray, confidence: np.ndarray, target_precision: float) -> float:
    """The lowest confidence at which the predictions kept (confidence >= it) are at least ``target_precision``
    right; 1.0 when no threshold reaches it (v2 then abstains on everything it is not certain of)."""
    from sklearn.metrics import precision_recall_curve

    if len(correct) == 0:
        return 1.0
    if correct.all():
        return float(confidence.min())
    if not correct.any():
        return 1.0
    precision, _, thresholds = precision_recall_curve(correct.astype(int), confidence)
    ok = np.nonzero(precision[:-1] >= target_precision)[0]
    return float(thresholds[ok[0]]) if len(ok) else 1.0


def _split_held_out(samples, seed: int):
    """A seeded held-out share per code (every code keeps MIN_EXAMPLES in training)."""
    rng = np.random.default_rng(seed)
    by_code: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        by_code.setdefault(s.code, []).append(i)
    held = set()
    for idx in by_code.values():
        n = min(int(round(len(idx) * HELD_OUT_SHARE)), len(idx) - MIN_EXAMPLES)
        if n > 0:
            held.update(rng.choice(idx, size=n, replace=False).tolist())
    return [s for i, s in enumerate(samples) if i not in held], [s for i, s in enumerate(samples) if i in held]


@dataclass
class Trained:
    """A fitted pipeline with its abstention threshold and what it was trained on."""

    pipeline: object
    threshold: float
    target_precision: float
    training_rows: int
    held_out: dict = field(default_factory=dict)
    too_few_examples: dict = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]

    def predict(self, X: np.ndarray) -> list[tuple[str, float, bool]]:
        """(code, probability, abstained) per row: the abstention code when the best probability is below
        the threshold (probability is then still the best code's)."""
        proba = self.pipeline.predict_proba(X)
        best = proba.argmax(axis=1)
        out = []
        for row, b, p in zip(X, best, proba[np.arange(len(best)), best]):
            abstain = p < self.threshold
            out.append((unknown_code(row[1]) if abstain else str(self.pipeline.classes_[b]), float(p), bool(abstain)))
        return out

    def top_k(self, X: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """The k most probable codes per row, most probable first, with calibrated probabilities."""
        proba = self.pipeline.predict_proba(X)
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return [[(str(self.pipeline.classes_[j]), float(proba[i, j])) for j in order[i]] for i in range(len(X))]


def train_model(conn: psycopg.Connection, samples, *, target_precision: float = DEFAULT_TARGET_PRECISION,
                seed: int = 0) -> Trained:
    """Choose the threshold on a held-out share, then refit on every sample. Raises ValueError when the
    samples have fewer than two trainable codes."""
    kept, left_out = trainable(samples)
    fit_part, held = _split_held_out(kept, seed)
    probe = fit(features(conn, fit_part), [s.code for s in fit_part], seed)
    probe_t = Trained(probe, 0.0, target_precision, len(fit_part))
    if held:
        predicted = probe_t.predict(features(conn, held))
        correct = np.array([p[0] == s.code for p, s in zip(predicted, held)])
        confidence = np.array([p[1] for p in predicted])
        threshold = choose_threshold(correct, confidence, target_precision)
        kept_mask = confidence >= threshold
        held_figures = {"n": len(held), "coverage": float(kept_mask.mean()),
                        "precision_covered": float(correct[kept_mask].mean()) if kept_mask.any() else None}
    else:
        threshold, held_figures = 1.0, {"n": 0}
    final = fit(features(conn, kept), [s.code for s in kept], seed)
    return Trained(final, threshold, target_precision, len(kept), held_figures, left_out)


def figures(truth: list[str], v2: list[tuple[str, float, bool]], v1: list[str]) -> dict:
    """Evaluation figures of one test set: n, macro-F1 (over the codes present in the truth; scikit-learn's
    f1_score), accuracy, coverage (share not abstained), precision on the covered ones, v1's accuracy and
    macro-F1 on the same messages, v2's agreement with v1 and the most frequent (v1, v2) disagreements."""
    from sklearn.metrics import f1_score

    n = len(truth)
    if n == 0:
        return {"n": 0}
    got = [p[0] for p in v2]
    covered = [not p[2] for p in v2]
    labels = sorted(set(truth))
    pairs = Counter((a, b) for a, b in zip(v1, got) if a != b)
    right_when = Counter((a, b) for a, b, t in zip(v1, got, truth) if a != b and b == t)
    return {
        "n": n,
        "macro_f1": float(f1_score(truth, got, labels=labels, average="macro", zero_division=0)),
        "accuracy": sum(g == t for g, t in zip(got, truth)) / n,
        "coverage": sum(covered) / n,
        "precision_covered": (sum(g == t for g, t, c in zip(got, truth, covered) if c) / sum(covered))
        if any(covered) else None,
        "v1_accuracy": sum(a == t for a, t in zip(v1, truth)) / n,
        "v1_macro_f1": float(f1_score(truth, v1, labels=labels, average="macro", zero_division=0)),
        "agreement_with_v1": sum(a == b for a, b in zip(v1, got)) / n,
        "confusion_vs_v1": [{"v1": a, "v2": b, "n": c, "v2_right": right_when[(a, b)]}
                            for (a, b), c in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:15]],
    }


def evaluate_on(conn, trained: Trained, test) -> dict:
    X = features(conn, test)
    return figures([s.code for s in test], trained.predict(X), v1_codes(conn, test))


@dataclass
class Labelled:
    """Every labelled sample, by where it may be used."""

    corpus: list
    realworld_dev: list
    realworld_test: list
    database: list

    @property
    def trainable(self) -> list:
        """What a final model may be trained on: never the real-world test split."""
        return self.corpus + self.realworld_dev + self.database


def gather(conn, *, corpus: Path | None = CORPUS, use_realworld: bool = True,
           confidence_bar: float = DEFAULT_CONFIDENCE_BAR) -> Labelled:
    """Load the labelled data (``corpus=None`` leaves the synthetic corpus out)."""
    rw = realworld_samples() if use_realworld else []
    return Labelled(corpus_samples(corpus) if corpus else [], [s for s in rw if s.split in realworld.TUNED_SPLITS],
                    [s for s in rw if s.split == "test"], database_samples(conn, confidence_bar))


def evaluate(conn, data: Labelled, *, target_precision: float = DEFAULT_TARGET_PRECISION, seed: int = 0) -> dict:
    """The evaluation protocol: (1) by report: train on the corpus, real-world dev and every database label,
    test on the real-world test split; (2) by time: train on the corpus, real-world dev and the older 80 % of
    the database labels, test on the newest 20 % (only with at least MIN_TIME_TEST of them)."""
    result: dict = {"target_precision": target_precision, "seed": seed,
                    "sources": {"synthetic": len(data.corpus), "realworld_dev": len(data.realworld_dev),
                                "realworld_test": len(data.realworld_test), "database": len(data.database)}}
    if data.realworld_test:
        trained = train_model(conn, data.trainable, target_precision=target_precision, seed=seed)
        result["realworld"] = {"threshold": trained.threshold, **evaluate_on(conn, trained, data.realworld_test)}
    n_test = int(len(data.database) * TIME_TEST_SHARE)
    if n_test >= MIN_TIME_TEST:
        older, newer = data.database[:-n_test], data.database[-n_test:]
        trained = train_model(conn, data.corpus + data.realworld_dev + older, target_precision=target_precision,
                              seed=seed)
        result["by_time"] = {"cutoff": newer[0].seen_at.isoformat(), "threshold": trained.threshold,
                             **evaluate_on(conn, trained, newer)}
    else:
        result["by_time"] = {"n": 0, "note": f"fewer than {MIN_TIME_TEST} newest database labels "
                                             f"({len(data.database)} labelled rows in all)"}
    return result


# -- the artifact ------------------------------------------------------------------------------------

def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _versions() -> dict:
    import sklearn
    import skops

    return {"scikit-learn": sklearn.__version__, "skops": skops.__version__, "numpy": np.__version__}


def save(conn: psycopg.Connection, trained: Trained, out_dir: Path, metrics: dict) -> dict:
    """Write the model file (skops) under ``out_dir`` as ``classifier-<sha256[:16]>.skops`` and record it in
    ops.classifier_models. Returns the row (id, sha256, path, trained_at, threshold)."""
    import skops.io as sio

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    data = sio.dumps(trained.pipeline)
    digest = hashlib.sha256(data).hexdigest()
    path = out_dir / f"classifier-{digest[:16]}.skops"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".classifier-", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    full = {**metrics, "held_out": trained.held_out, "too_few_examples": trained.too_few_examples}
    row = execute(conn, "learn", "record_classifier_model", {
        "sha256": digest, "path": str(path), "threshold": trained.threshold,
        "target_precision": trained.target_precision, "classes": trained.classes,
        "training_rows": trained.training_rows, "metrics": json.dumps(full), "library_versions": json.dumps(_versions()),
    }).fetchone()
    return {"id": row[0], "sha256": row[1], "path": row[2], "trained_at": row[3], "threshold": row[4]}


def load(conn: psycopg.Connection, model_id: int | None = None) -> tuple[Trained, dict]:
    """The recorded model (the newest, or ``model_id``) and its row. Raises NotFound when there is none, and
    ModelRefused when the file is missing, its SHA-256 differs from the recorded one, or it holds a type
    outside skops' safe list and TRUSTED."""
    row = execute(conn, "learn", "classifier_model", {"id": model_id}).fetchone()
    if row is None:
        raise NotFound("no classifier model recorded" + (f" with id {model_id}" if model_id else "") +
                       ": run `ops classifier train`")
    keys = ["id", "sha256", "path", "format", "trained_at", "threshold", "target_precision", "classes",
            "training_rows", "metrics"]
    info = dict(zip(keys, row))
    path = Path(info["path"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelRefused(f"classifier model {info['id']}: cannot read {path}: {exc.strerror}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != info["sha256"]:
        raise ModelRefused(f"classifier model {info['id']}: {path} has sha256 {digest}, but {info['sha256']} was "
                           "recorded when it was trained: the file changed, refusing to load it (retrain with "
                           "`ops classifier train`)")
    import skops.io as sio  # imported only for a file that passed the hash check

    untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in TRUSTED]
    if untrusted:
        raise ModelRefused(f"classifier model {info['id']}: {path} holds types outside the trust list: "
                           f"{', '.join(untrusted)}")
    pipeline = sio.loads(data, trusted=TRUSTED)
    trained = Trained(pipeline, float(info["threshold"]), float(info["target_precision"]), info["training_rows"])
    if trained.classes != list(info["classes"]):
        raise ModelRefused(f"classifier model {info['id']}: the file's codes differ from the recorded ones")
    return trained, info


def suggest(conn: psycopg.Connection, fingerprints, k: int = 3, *, model=None) -> dict[str, list[tuple[str, float]]]:
    """Top-``k`` codes v2 suggests for each fingerprint of ops.agent_errors: ``{fingerprint: [(code, p), ...]}``,
    most probable first, p a calibrated probability in [0, 1]. When the first p is below the model's threshold
    (``ops.classifier_models.threshold``), v2 abstains: it would say ``UNKNOWN.<SOURCE>``. Fingerprints not in
    ops.agent_errors are absent from the result. ``model`` (a :class:`Trained`) skips loading the newest
    recorded one. Raises NotFound / ModelRefused as :func:`load`."""
    fingerprints = list(dict.fromkeys(fingerprints))
    if not fingerprints:
        return {}
    trained = model or load(conn)[0]
    rows = execute(conn, "learn", "errors_by_fingerprint", {"fingerprints": fingerprints}).fetchall()
    if not rows:
        return {}
    samples = [Sample(r[1], r[2], r[3], r[4], "v1") for r in rows]
    ranked = trained.top_k(features(conn, samples), k)
    by_fp = {r[0]: top for r, top in zip(rows, ranked)}
    return {fp: by_fp[fp] for fp in fingerprints if fp in by_fp}


def suggest_text(conn, source: str, phase: str | None, message: str, k: int = 3, *, model=None):
    """(top-k [(code, p)], abstained, the abstention code) for one message not stored anywhere."""
    trained = model or load(conn)[0]
    X = features(conn, [Sample(source, phase, message, "", "text")])
    top = trained.top_k(X, k)[0]
    return top, top[0][1] < trained.threshold, unknown_code(source)
