"""A statistical second opinion on intent: train it, and measure it against the rules.

  python bench/model.py train   [--sentences bench/model/sentences.tsv] [--out var/model/intent.json]
  python bench/model.py measure [--model var/model/intent.json] [--manifest ../shared/corpus/dev/manifest.jsonl]
  python bench/model.py cv      [--manifest ...]   # 5-fold on dev, for the report only

Needs the ``model`` extra (``pip install -e '.[model]'``: scikit-learn) to
train and to cross-validate; ``measure`` reads the model's JSON and scores in
plain Python, so what is measured is the file, not the library's object.

The model is a softmax (multinomial logistic) regression over word 1-2-grams
and character 2-5-grams of a sentence (TF-IDF, sublinear, each family L2
normalised), trained on ``bench/model/sentences.tsv``: sentences written from
the policy, not taken from any corpus, so dev is an honest test for it. A
message is held by the model when a sentence of its parent- or student-bound
text, in the school's own words (new text and signature, not quoted replies),
scores above the threshold for one of the categories. Every such finding
names the sentence and the features that weighed most. The figures and the
conclusion are in docs/model.md. Fixed seeds; the output is byte-for-byte
reproducible for the same scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import regex

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.config import Config, load_config  # noqa: E402
from gateway.dispose import caught  # noqa: E402
from gateway.judge.scan import Scanner  # noqa: E402
from gateway.mail import RecipientClass  # noqa: E402
from gateway.read.message import Owner, Zone, read_message  # noqa: E402

CATEGORIES = ("unapproved_channel", "info_request", "social_contact", "secrecy")
LABELS = ("none", *CATEGORIES)
SEED = 0
DEFAULT_SENTENCES = ROOT / "bench" / "model" / "sentences.tsv"
DEFAULT_MODEL = ROOT / "var" / "model" / "intent.json"
DEFAULT_MANIFEST = Path("../shared/corpus/dev/manifest.jsonl")  # from the main checkout
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)

_WORD = regex.compile(r"\w+(?:'\w+)?")
_PARAGRAPH_END = regex.compile(r"\n[ \t]*\n|\n(?=[ \t]*[-*\u2022])")
_SENTENCE_END = regex.compile(r"(?<=[.!?])\s+")
_POLICY_CLASSES = frozenset({RecipientClass.PARENT, RecipientClass.STUDENT})


def word_grams(text: str) -> list[str]:
    """Lower-cased words and word pairs: 'w:text me', 'w:me'."""
    words = [w.casefold() for w in _WORD.findall(text)]
    return [f"w:{w}" for w in words] + [
        f"w:{a} {b}" for a, b in zip(words, words[1:], strict=False)
    ]


def char_grams(text: str) -> list[str]:
    """Character 2- to 5-grams inside each word padded with spaces: 'c: wh', 'c:hats'."""
    out: list[str] = []
    for w in _WORD.findall(text):
        padded = f" {w.casefold()} "
        for n in range(2, 6):
            out.extend(f"c:{padded[i : i + n]}" for i in range(max(1, len(padded) - n + 1)))
    return out


FAMILIES = {"word": word_grams, "char": char_grams}


def sentences_of(text: str) -> list[str]:
    """Sentences of hard-wrapped mail text: paragraphs joined up, then cut at stops."""
    out = []
    for para in _PARAGRAPH_END.split(text):
        joined = " ".join(para.split())
        out.extend(s for s in _SENTENCE_END.split(joined) if len(_WORD.findall(s)) >= 2)
    return out


# ---------------------------------------------------------------- the model as data


@dataclass(frozen=True, slots=True)
class Evidence:
    category: str
    score: float
    sentence: str
    features: tuple[tuple[str, float], ...]  # the features that weighed most, with their weight


class IntentModel:
    """The JSON model, scored in plain Python (no pickle, no scikit-learn)."""

    def __init__(self, data: dict) -> None:
        self.labels: list[str] = data["labels"]
        self.families = {
            name: (fam["vocabulary"], fam["idf"]) for name, fam in data["families"].items()
        }
        self.coef: list[dict[int, float]] = [
            {int(k): v for k, v in row.items()} for row in data["coef"]
        ]
        self.intercept: list[float] = data["intercept"]
        self.offsets = data["offsets"]

    @classmethod
    def load(cls, path: Path) -> IntentModel:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def features(self, sentence: str) -> dict[int, float]:
        """The sentence's TF-IDF vector, as scikit-learn computes it (sublinear, L2 per family)."""
        x: dict[int, float] = {}
        for name, analyse in FAMILIES.items():
            vocab, idf = self.families[name]
            counts = Counter(i for g in analyse(sentence) if (i := vocab.get(g)) is not None)
            vec = {i: (1 + math.log(c)) * idf[i] for i, c in counts.items()}
            norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            x.update({self.offsets[name] + i: v / norm for i, v in vec.items()})
        return x

    def probabilities(self, x: dict[int, float]) -> list[float]:
        z = [
            b + sum(v * row.get(i, 0.0) for i, v in x.items())
            for row, b in zip(self.coef, self.intercept, strict=True)
        ]
        top = max(z)
        e = [math.exp(v - top) for v in z]
        return [v / sum(e) for v in e]

    def judge(self, sentence: str) -> list[Evidence]:
        """One piece of evidence per category, with its probability and its top features."""
        x = self.features(sentence)
        probs = self.probabilities(x)
        names = self.feature_names()
        out = []
        for k, label in enumerate(self.labels):
            if label == "none":
                continue
            weights = sorted(
                ((v * self.coef[k].get(i, 0.0), i) for i, v in x.items()), reverse=True
            )
            top = tuple((names[i], round(w, 3)) for w, i in weights[:5] if w > 0)
            out.append(Evidence(label, probs[k], sentence, top))
        return out

    def feature_names(self) -> dict[int, str]:
        if not hasattr(self, "_names"):
            self._names = {
                self.offsets[name] + i: g
                for name, (vocab, _) in self.families.items()
                for g, i in vocab.items()
            }
        return self._names


# ---------------------------------------------------------------- training (scikit-learn)


def read_sentences(path: Path) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in LABELS:
            raise SystemExit(f"{path}:{n}: want LABEL<TAB>sentence, LABEL one of {LABELS}")
        texts.append(text.strip())
        labels.append(label)
    return texts, labels


def _vectorizers():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return {
        name: TfidfVectorizer(analyzer=fn, sublinear_tf=True, min_df=2)
        for name, fn in FAMILIES.items()
    }


def fit(texts: list[str], labels: list[str], c: float = 10.0):
    """Fitted vectorizers and classifier; deterministic (lbfgs, fixed seed)."""
    import scipy.sparse
    from sklearn.linear_model import LogisticRegression

    vecs = _vectorizers()
    x = scipy.sparse.hstack([v.fit_transform(texts) for v in vecs.values()]).tocsr()
    clf = LogisticRegression(C=c, max_iter=5000, random_state=SEED, class_weight="balanced")
    clf.fit(x, labels)
    return vecs, clf


def export(vecs, clf) -> dict:
    families, offsets, offset = {}, {}, 0
    for name, v in vecs.items():
        vocab = {g: int(i) for g, i in sorted(v.vocabulary_.items())}
        families[name] = {"vocabulary": vocab, "idf": [round(float(f), 6) for f in v.idf_]}
        offsets[name] = offset
        offset += len(vocab)
    order = [list(clf.classes_).index(label) for label in LABELS]
    coef = [
        {str(i): round(float(w), 6) for i, w in enumerate(clf.coef_[k]) if abs(w) >= 1e-4}
        for k in order
    ]
    return {
        "what": "intent sentences: softmax regression over word 1-2-grams and char 2-5-grams (bench/model.py)",
        "labels": list(LABELS),
        "families": families,
        "offsets": offsets,
        "coef": coef,
        "intercept": [round(float(clf.intercept_[k]), 6) for k in order],
    }


def train(args: argparse.Namespace) -> int:
    texts, labels = read_sentences(Path(args.sentences))
    vecs, clf = fit(texts, labels)
    data = export(vecs, clf)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    # The plain-Python scorer must agree with scikit-learn on the training sentences.
    model = IntentModel(data)
    proba = clf.predict_proba(_matrix(vecs, texts))
    order = [list(clf.classes_).index(label) for label in LABELS]
    worst = max(
        abs(p - proba[n][order[k]])
        for n, t in enumerate(texts)
        for k, p in enumerate(model.probabilities(model.features(t)))
    )
    counts = Counter(labels)
    print(f"{len(texts)} sentences ({', '.join(f'{k} {counts[k]}' for k in LABELS)})")
    print(
        f"wrote {out} ({out.stat().st_size // 1024} KiB); JSON scorer vs scikit-learn: {worst:.1e}"
    )
    return 0


def _matrix(vecs, texts: list[str]):
    import scipy.sparse

    return scipy.sparse.hstack([v.transform(texts) for v in vecs.values()]).tocsr()


# ---------------------------------------------------------------- measuring on a manifest


@dataclass
class Case:
    id: str
    expect: bool
    categories: set[str]
    engine_held: bool
    engine_found: set[str]
    sentences: list[str]  # parent/student-bound text in the school's words; empty if none


def school_text(raw: bytes, config: Config) -> tuple[bool, list[str]]:
    """Whether a parent or student gets a copy, and the sentences the school wrote."""
    view = read_message(raw, config.directory.is_colleague)
    bound = any(config.directory.classify(r) in _POLICY_CLASSES for r in view.recipients)
    out: list[str] = []
    for seg in view.segments:
        if seg.is_link or seg.echo:
            continue
        text = seg.text.text
        for z in seg.zones:
            if z.owner is Owner.SCHOOL and z.zone in (Zone.NEW, Zone.SIGNATURE):
                out.extend(sentences_of(text[z.start : z.end]))
    return bound, list(dict.fromkeys(out))


def load_cases(manifest: Path, config: Config) -> list[Case]:
    scanner = Scanner(config)
    cases = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        c = json.loads(line)
        raw = (manifest.parent / c["file"]).read_bytes()
        result = scanner.scan(raw)
        bound, sentences = school_text(raw, config)
        cases.append(
            Case(
                c["id"],
                c["expect"] == "hold",
                set(c.get("categories", [])),
                caught(result.verdict),
                {f.category for f in result.findings if caught(f.action.verdict)},
                sentences if bound else [],
            )
        )
    return cases


def _r(a: int, b: int) -> str:
    return f"{a / b:.3f} ({a}/{b})" if b else "n/a"


def report(
    name: str, cases: list[Case], held: list[bool], found: list[set[str]], per_category: bool = True
) -> None:
    holds = [c for c in cases if c.expect]
    passes = [c for c in cases if not c.expect]
    tp = sum(h for c, h in zip(cases, held, strict=True) if c.expect)
    fp = sum(h for c, h in zip(cases, held, strict=True) if not c.expect)
    print(f"{name}\n  recall {_r(tp, len(holds))}   FPR {_r(fp, len(passes))}")
    for cat in CATEGORIES if per_category else ():
        lab = [(h, f) for c, h, f in zip(cases, held, found, strict=True) if cat in c.categories]
        on_pass = sum(cat in f for c, f in zip(cases, found, strict=True) if not c.expect)
        hit = sum(h and cat in f for h, f in lab)
        print(f"    {cat:<20} recall {_r(hit, len(lab)):<16} found on passes {on_pass}")


def _engine_eval(path: Path, cases: list[Case]) -> list[bool]:
    """Which messages another engine held, from its ``gateway eval`` output (missed, falsely held)."""
    lists = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for key in ("missed", "falsely held"):
            if line.startswith(key + " ("):
                lists[key] = set(line.partition(":")[2].split()) - {"-"}
    missed, false_holds = lists["missed"], lists["falsely held"]
    return [(c.id not in missed) if c.expect else (c.id in false_holds) for c in cases]


def measure(args: argparse.Namespace) -> int:
    model = IntentModel.load(Path(args.model))
    cases = load_cases(Path(args.manifest), load_config(Path(args.config)))
    # the highest score per category over each message's sentences, with its evidence
    best: list[dict[str, Evidence]] = []
    for c in cases:
        top: dict[str, Evidence] = {}
        for s in c.sentences:
            for e in model.judge(s):
                if e.category not in top or e.score > top[e.category].score:
                    top[e.category] = e
        best.append(top)
    engine_held = [c.engine_held for c in cases]
    engine_found = [c.engine_found for c in cases]
    report("(a) engine", cases, engine_held, engine_found)
    other = _engine_eval(Path(args.engine_eval), cases) if args.engine_eval else None
    if other is not None:
        report(f"(a') engine of {args.engine_eval}", cases, other, engine_found, False)
    for t in THRESHOLDS:
        found = [{k for k, e in b.items() if e.score > t} for b in best]
        report(f"(b) model alone, threshold {t}", cases, [bool(f) for f in found], found)
        report(
            f"(c) engine OR model, threshold {t}",
            cases,
            [e or bool(f) for e, f in zip(engine_held, found, strict=True)],
            [e | f for e, f in zip(engine_found, found, strict=True)],
        )
        if other is not None:
            report(
                f"(c') engine of {args.engine_eval} OR model, threshold {t}",
                cases,
                [e or bool(f) for e, f in zip(other, found, strict=True)],
                found,
                False,
            )
    t = args.show
    print(f"\nmodel findings above {t} on messages to pass (the false holds it would add):")
    for c, b in zip(cases, best, strict=True):
        for e in b.values():
            if e.score > t and not c.expect:
                feats = ", ".join(f"{g!r} {w}" for g, w in e.features)
                print(f"  {c.id} {e.category} {e.score:.2f}: {e.sentence[:90]!r} [{feats}]")
    print(f"\nmessages to hold the model misses at {t}:")
    print(
        " ",
        " ".join(
            c.id
            for c, b in zip(cases, best, strict=True)
            if c.expect and not any(e.score > t for e in b.values())
        ),
    )
    return 0


def cross_validate(args: argparse.Namespace) -> int:
    """5-fold on dev of a variant trained on dev messages: for the report, never shipped."""
    import numpy as np
    import scipy.sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    cases = load_cases(Path(args.manifest), load_config(Path(args.config)))
    docs = [" \n".join(c.sentences) for c in cases]
    y = np.array([c.expect for c in cases])
    scores = {cat: np.zeros(len(cases)) for cat in CATEGORIES}
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    for train_ix, test_ix in folds.split(docs, y):
        vecs = _vectorizers()
        xtr = scipy.sparse.hstack(
            [v.fit_transform([docs[i] for i in train_ix]) for v in vecs.values()]
        )
        xte = scipy.sparse.hstack([v.transform([docs[i] for i in test_ix]) for v in vecs.values()])
        for cat in CATEGORIES:
            target = np.array([cat in cases[i].categories for i in train_ix])
            clf = LogisticRegression(
                C=10.0, max_iter=5000, random_state=SEED, class_weight="balanced"
            )
            clf.fit(xtr, target)
            scores[cat][test_ix] = clf.predict_proba(xte)[:, 1]
    engine_held = [c.engine_held for c in cases]
    engine_found = [c.engine_found for c in cases]
    for t in THRESHOLDS:
        found = [
            {cat for cat in CATEGORIES if scores[cat][n] > t and cases[n].sentences}
            for n in range(len(cases))
        ]
        report(
            f"(cv) dev-trained variant alone, threshold {t}", cases, [bool(f) for f in found], found
        )
        report(
            f"(cv) engine OR dev-trained variant, threshold {t}",
            cases,
            [e or bool(f) for e, f in zip(engine_held, found, strict=True)],
            [e | f for e, f in zip(engine_found, found, strict=True)],
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(required=True)
    t = sub.add_parser("train", help="fit on the labelled sentences, write the JSON model")
    t.add_argument("--sentences", default=str(DEFAULT_SENTENCES))
    t.add_argument("--out", default=str(DEFAULT_MODEL))
    t.set_defaults(func=train)
    for name, func, text in (
        ("measure", measure, "the engine, the model and both on a manifest"),
        ("cv", cross_validate, "5-fold cross-validation of a dev-trained variant (report only)"),
    ):
        m = sub.add_parser(name, help=text)
        m.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
        m.add_argument("--config", default=str(ROOT / "config" / "gateway.toml"))
        m.add_argument("--model", default=str(DEFAULT_MODEL))
        m.add_argument(
            "--engine-eval",
            help="also combine with another engine, from its `gateway eval` output (measure only)",
        )
        m.add_argument(
            "--show", type=float, default=0.9, help="list the model's findings above this"
        )
        m.set_defaults(func=func)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
