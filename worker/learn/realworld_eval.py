"""The v2 classifier measured on a blind real-world set, alone and as the fallback for what the rules leave UNKNOWN.

Training data (the tuning data only): the synthetic corpus (``tests/fixtures/classification_corpus.yaml``) and the
real-world messages of the splits patterns are tuned on (``realworld.TUNED_SPLITS``: ``dev`` and every tuned set's
``dev-…`` split); never ``test``, never a blind set, never database labels (they differ from one database to the
next). The model is trained the documented way, ``classifier.train_model`` with its defaults: target precision
``classifier.DEFAULT_TARGET_PRECISION`` for the abstention threshold (chosen on a held-out quarter of the training
data, seed 0), nothing tuned on a blind set.

Per message of the blind set, three answers are compared with the label:

* ``rules``: ``ops.classify_error`` (what ``scripts/realworld-report`` measures);
* ``top``: the classifier's most probable code, no threshold (the first code ``ops triage list`` shows);
* ``thresholded``: the same code, or ``UNKNOWN.<SOURCE>`` when its probability is below the threshold (v2's
  abstention, ``Trained.predict``).

Figures (``Counts``, one per source and one for the whole set): ``n``; ``rules_correct``; ``rules_unknown`` (the
rules gave ``UNKNOWN.*``) and ``rules_named_correct`` (right among the others); ``top_correct`` and
``thr_correct`` (the classifier alone); on the ``rules_unknown`` messages only (the fallback):
``rules_unknown_correct`` (the label was that UNKNOWN: the rules were right), ``fb_top_correct``,
``fb_top3_correct`` (the label among the three codes triage shows), ``fb_thr_correct``, ``fb_abstained`` and
``fb_thr_named_correct`` (right among those not abstained);
combined ("rules, then classifier for UNKNOWN"): ``combined_top = rules_named_correct + fb_top_correct`` and
``combined_thr = rules_named_correct + fb_thr_correct``; the other order ("classifier when it names a code, else the
rules", the override): ``override_correct``, the thresholded code when it is not the abstention code, the rules'
code otherwise, with ``override_named`` and ``override_named_correct`` (its named codes, and the right ones
among them: its precision, what on-call trusts); and where the two named different codes (``disagree``: both named, not equal), who was right
(``disagree_rules_right``, ``disagree_thr_right``). The override was first measured at the blind55 session on
blind51 ... blind55 at their measure commits (docs/realworld.md, "Rules first or classifier first").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from worker import realworld
from worker.learn import classifier

HEADING = "## The learned classifier on blind sets"
TOP_K = 3  # the codes `ops triage list` shows per group (classifier.suggest's default k)


def tuning_samples(corpus=classifier.CORPUS) -> list:
    """The training data: the synthetic corpus plus the real-world messages of realworld.TUNED_SPLITS, as
    classifier.Sample (origin synthetic | realworld)."""
    return classifier.corpus_samples(corpus) + [s for s in classifier.realworld_samples()
                                                if s.split in realworld.TUNED_SPLITS]


@dataclass
class Counts:
    """Counts of one slice of a blind set (the definitions are in the module docstring)."""

    n: int = 0
    rules_correct: int = 0
    rules_unknown: int = 0
    rules_named_correct: int = 0
    top_correct: int = 0
    thr_correct: int = 0
    fb_top_correct: int = 0
    fb_top3_correct: int = 0
    fb_thr_correct: int = 0
    fb_abstained: int = 0
    rules_unknown_correct: int = 0
    fb_thr_named_correct: int = 0
    override_correct: int = 0
    override_named: int = 0
    override_named_correct: int = 0
    disagree: int = 0
    disagree_rules_right: int = 0
    disagree_thr_right: int = 0

    @property
    def combined_top(self) -> int:
        return self.rules_named_correct + self.fb_top_correct

    @property
    def combined_thr(self) -> int:
        return self.rules_named_correct + self.fb_thr_correct


@dataclass
class Row:
    """One message's answers: the label, the rules' code, the classifier's top-k [(code, p)], its thresholded code."""

    source: str
    expected: str
    rules: str
    top: list
    thresholded: str

    @property
    def rules_unknown(self) -> bool:
        return self.rules.startswith("UNKNOWN.")


@dataclass
class BlindEval:
    """The evaluation of one set: the model's threshold and training size, per-message rows, totals, per source."""

    split: str
    threshold: float
    target_precision: float
    training_rows: int
    training: dict
    rows: list = field(default_factory=list)
    total: Counts = field(default_factory=Counts)
    per_source: dict = field(default_factory=lambda: defaultdict(Counts))

    def as_dict(self) -> dict:
        def counts(c: Counts) -> dict:
            return {**asdict(c), "combined_top": c.combined_top, "combined_thr": c.combined_thr}
        return {"split": self.split, "threshold": self.threshold, "target_precision": self.target_precision,
                "training_rows": self.training_rows, "training": self.training, "total": counts(self.total),
                "per_source": {s: counts(c) for s, c in sorted(self.per_source.items())}}


def _add(c: Counts, r: Row) -> None:
    ok_rules = r.rules == r.expected
    ok_top = r.top[0][0] == r.expected
    ok_thr = r.thresholded == r.expected
    c.n += 1
    c.rules_correct += ok_rules
    c.top_correct += ok_top
    c.thr_correct += ok_thr
    v2_named = r.thresholded != classifier.unknown_code(r.source)
    override = r.thresholded if v2_named else r.rules
    c.override_correct += override == r.expected
    c.override_named += not override.startswith("UNKNOWN.")
    c.override_named_correct += override == r.expected and not override.startswith("UNKNOWN.")
    if v2_named and not r.rules_unknown and r.thresholded != r.rules:
        c.disagree += 1
        c.disagree_rules_right += ok_rules
        c.disagree_thr_right += ok_thr
    if r.rules_unknown:
        c.rules_unknown += 1
        c.fb_top_correct += ok_top
        c.fb_top3_correct += any(code == r.expected for code, _ in r.top)
        c.fb_thr_correct += ok_thr
        abstained = r.thresholded == classifier.unknown_code(r.source)
        c.fb_abstained += abstained
        c.rules_unknown_correct += ok_rules
        c.fb_thr_named_correct += ok_thr and not abstained
    else:
        c.rules_named_correct += ok_rules


def count(split: str, rows: list[Row], *, threshold: float, target_precision: float, training_rows: int,
          training: dict) -> BlindEval:
    """The counts of ``rows``, overall and per source."""
    result = BlindEval(split, threshold, target_precision, training_rows, training, rows)
    for r in rows:
        _add(result.total, r)
        _add(result.per_source[r.source], r)
    return result


def evaluate(conn, split: str, messages: list, train: list, *, seed: int = 0,
             target_precision: float = classifier.DEFAULT_TARGET_PRECISION) -> BlindEval:
    """Train v2 on ``train`` (classifier.Sample list) with classifier.train_model, then answer every message of
    ``messages`` (realworld.Message list) by the rules (ops.classify_error) and by v2. Raises ValueError when
    ``messages`` is empty or ``train`` has fewer than two trainable codes."""
    if not messages:
        raise ValueError(f"{split}: no messages to evaluate")
    trained = classifier.train_model(conn, train, target_precision=target_precision, seed=seed)
    rules = realworld.classify(conn, messages)
    samples = [classifier.Sample(m.source, m.phase, m.text, m.expected, "realworld", m.split) for m in messages]
    X = classifier.features(conn, samples)
    tops = trained.top_k(X, TOP_K)
    thresholded = [p[0] for p in trained.predict(X)]
    rows = [Row(m.source, m.expected, r, t, th) for m, r, t, th in zip(messages, rules, tops, thresholded)]
    by_origin: dict[str, int] = defaultdict(int)
    for s in train:
        by_origin[s.origin if s.origin != "realworld" else s.split] += 1
    return count(split, rows, threshold=trained.threshold, target_precision=target_precision,
                 training_rows=trained.training_rows, training=dict(sorted(by_origin.items())))


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "-"


def text(e: BlindEval) -> str:
    """Plain-text figures: the totals, then one line per source."""
    t = e.total
    out = [f"{e.split}: n={t.n} threshold={e.threshold:.3f} (target precision {e.target_precision}) "
           f"training_rows={e.training_rows} training={e.training}",
           f"  rules alone:                    {t.rules_correct}/{t.n} = {_ratio(t.rules_correct, t.n)}",
           f"  classifier alone, top code:     {t.top_correct}/{t.n} = {_ratio(t.top_correct, t.n)}",
           f"  classifier alone, thresholded:  {t.thr_correct}/{t.n} = {_ratio(t.thr_correct, t.n)}",
           f"  fallback (rules UNKNOWN: {t.rules_unknown}): top {t.fb_top_correct} = {_ratio(t.fb_top_correct, t.rules_unknown)}, "
           f"in top {TOP_K} {t.fb_top3_correct} = {_ratio(t.fb_top3_correct, t.rules_unknown)}, thresholded "
           f"{t.fb_thr_correct} = {_ratio(t.fb_thr_correct, t.rules_unknown)} (abstained {t.fb_abstained}, right "
           f"when not {t.fb_thr_named_correct}/{t.rules_unknown - t.fb_abstained}); the rules' UNKNOWN was right on "
           f"{t.rules_unknown_correct}",
           f"  rules then classifier, top:     {t.combined_top}/{t.n} = {_ratio(t.combined_top, t.n)}",
           f"  rules then classifier, thr:     {t.combined_thr}/{t.n} = {_ratio(t.combined_thr, t.n)}",
           f"  classifier (thr) then rules:    {t.override_correct}/{t.n} = {_ratio(t.override_correct, t.n)} "
           f"(named {t.override_named}, right {t.override_named_correct}; both named and differ on {t.disagree}: rules right {t.disagree_rules_right}, classifier right "
           f"{t.disagree_thr_right})"]
    for s, c in sorted(e.per_source.items()):
        out.append(f"  {s:<16} n={c.n:<3} rules={_ratio(c.rules_correct, c.n)} top={_ratio(c.top_correct, c.n)} "
                   f"thr={_ratio(c.thr_correct, c.n)} unknown={c.rules_unknown} fb_top={c.fb_top_correct} "
                   f"fb_thr={c.fb_thr_correct} combined_top={_ratio(c.combined_top, c.n)} "
                   f"combined_thr={_ratio(c.combined_thr, c.n)}")
    out.append("  fallback answers (label -> rules | top code p | thresholded):")
    for r in e.rows:
        if r.rules_unknown:
            out.append(f"    {r.expected} -> {r.rules} | {r.top[0][0]} {r.top[0][1]:.2f} | {r.thresholded}")
    return "\n".join(out)


def markdown(e: BlindEval, measured_on: str) -> str:
    """The ``### Blind set <N>`` subsection of HEADING in docs/realworld.md for ``e``."""
    t = e.total
    training = ", ".join(f"{k} {v}" for k, v in e.training.items())
    lines = [f"### {realworld.blind_heading(e.split)[3:]}", "",
             f"Measured once on {measured_on} by `scripts/realworld-report --split {e.split} --classifier --write`: "
             f"trained on {e.training_rows} messages ({training}; codes with fewer than {classifier.MIN_EXAMPLES} "
             f"examples left out), threshold {e.threshold:.3f} (for precision {e.target_precision}).", "",
             "| answer | messages | right | accuracy |", "|---|---:|---:|---:|",
             f"| rules alone | {t.n} | {t.rules_correct} | {_ratio(t.rules_correct, t.n)} |",
             f"| classifier alone, top code | {t.n} | {t.top_correct} | {_ratio(t.top_correct, t.n)} |",
             f"| classifier alone, thresholded | {t.n} | {t.thr_correct} | {_ratio(t.thr_correct, t.n)} |",
             f"| fallback on rules-UNKNOWN, top code | {t.rules_unknown} | {t.fb_top_correct} | "
             f"{_ratio(t.fb_top_correct, t.rules_unknown)} |",
             f"| fallback on rules-UNKNOWN, label in top {TOP_K} | {t.rules_unknown} | {t.fb_top3_correct} | "
             f"{_ratio(t.fb_top3_correct, t.rules_unknown)} |",
             f"| fallback on rules-UNKNOWN, thresholded ({t.fb_abstained} abstained) | {t.rules_unknown} | "
             f"{t.fb_thr_correct} | {_ratio(t.fb_thr_correct, t.rules_unknown)} |",
             f"| fallback on rules-UNKNOWN, thresholded, not abstained | {t.rules_unknown - t.fb_abstained} | "
             f"{t.fb_thr_named_correct} | {_ratio(t.fb_thr_named_correct, t.rules_unknown - t.fb_abstained)} |",
             f"| rules-UNKNOWN that were right (labelled UNKNOWN) | {t.rules_unknown} | {t.rules_unknown_correct} | "
             f"{_ratio(t.rules_unknown_correct, t.rules_unknown)} |",
             f"| rules, then top code for UNKNOWN | {t.n} | {t.combined_top} | {_ratio(t.combined_top, t.n)} |",
             f"| rules, then thresholded code for UNKNOWN | {t.n} | {t.combined_thr} | {_ratio(t.combined_thr, t.n)} |",
             f"| thresholded code when named, else rules (override) | {t.n} | {t.override_correct} | "
             f"{_ratio(t.override_correct, t.n)} |",
             f"| the override's named codes (its precision) | {t.override_named} | {t.override_named_correct} | "
             f"{_ratio(t.override_named_correct, t.override_named)} |",
             f"| both named, codes differ: rules right / classifier right | {t.disagree} | "
             f"{t.disagree_rules_right} / {t.disagree_thr_right} | - |",
             "", "| source | n | rules | classifier top | classifier thr. | rules-UNKNOWN | fallback top right "
             "| fallback thr. right | rules + top | rules + thr. |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s, c in sorted(e.per_source.items()):
        lines.append(f"| {s} | {c.n} | {_ratio(c.rules_correct, c.n)} | {_ratio(c.top_correct, c.n)} | "
                     f"{_ratio(c.thr_correct, c.n)} | {c.rules_unknown} | {c.fb_top_correct} | {c.fb_thr_correct} | "
                     f"{_ratio(c.combined_top, c.n)} | {_ratio(c.combined_thr, c.n)} |")
    return "\n".join(lines) + "\n"


INTRO = ("How good is the v2 classifier (`worker/learn/classifier.py`) on real messages nobody tuned on, alone and "
         "as the fallback for what the rules leave `UNKNOWN.<source>` (the suggestion `ops triage list` shows)? "
         "`scripts/realworld-report --split blind<N> --classifier` trains it the documented way "
         "(`classifier.train_model`, default target precision, seed 0) on the tuning data only: the synthetic "
         "corpus (`tests/fixtures/classification_corpus.yaml`) and the real-world messages of "
         + ", ".join(f"`{split}`" for split in realworld.TUNED_SPLITS) + "; never `test`, a blind set or database labels (`worker/learn/realworld_eval.py`). "
         "\"Top code\" is the classifier's most probable code (the first `ops triage list` shows); \"thresholded\" "
         "is that code or `UNKNOWN.<source>` when its probability is below the threshold. The combined rows keep "
         "the rules' code when it is not UNKNOWN, so they equal the rules' right named codes plus the fallback's "
         "right codes.")


def with_subsection(document: str, section: str, split: str) -> str:
    """``document`` with the ``### Blind set <N>`` subsection of HEADING replaced by ``section``, or added at
    the end of HEADING's section (created with INTRO at the end of the document when missing). Other text of
    the section (a hand-written reading of the figures) is kept."""
    sub = f"### {realworld.blind_heading(split)[3:]}"
    current = realworld.sections(document, (HEADING,)) or HEADING + "\n\n" + INTRO + "\n"
    return realworld.with_section(document, realworld.with_section(current, section, sub), HEADING)
