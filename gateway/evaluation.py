"""Scoring rules on a labelled corpus: how admins tune them.

Manifest format: one JSON object a line with ``id``, ``file`` (relative to the
manifest), ``expect`` (``hold`` | ``pass``), ``categories`` and optionally
``held_recipients``. A message counts as held when at least one copy is
kept from its recipient (quarantined or refused: ``gateway.dispose.caught``);
a flagged copy is delivered, so it is not caught.
"""

from __future__ import annotations

import json
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from gateway.config import Config
from gateway.dispose import caught
from gateway.judge.pool import ScanJob
from gateway.judge.rules import CATEGORIES
from gateway.judge.scan import Scanner, ScanResult
from gateway.mail import RecipientClass
from gateway.review import tuning
from gateway.review.tuning import share
from gateway.store import Store

# Without held_recipients, a message to hold should be held for these copies.
_POLICY_CLASSES = frozenset({RecipientClass.PARENT, RecipientClass.STUDENT})


@dataclass
class EvalReport:
    total: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    missed: list[str] = field(default_factory=list)
    false_holds: list[str] = field(default_factory=list)
    recipient_errors: list[str] = field(default_factory=list)
    recipient_cases: int = 0
    category_hit: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    category_total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    category_found_on_pass: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    category_found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rule_fired: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rule_correct: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rule_on_pass: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    # Every recipient copy of every message: held when it should be, delivered when not.
    copies: int = 0
    copies_right: int = 0
    # difficulty -> [held as expected, missed, falsely held, passed as expected]
    by_difficulty: dict[str, list[int]] = field(default_factory=dict)
    held: dict[str, bool] = field(default_factory=dict)  # each case: was it held
    cases: dict[str, dict] = field(default_factory=dict)  # each case's manifest line

    @property
    def precision(self) -> float | None:
        return share(self.tp, self.fp)

    @property
    def recall(self) -> float | None:
        return share(self.tp, self.fn)

    @property
    def false_positive_rate(self) -> float | None:
        return share(self.fp, self.tn)


class Scans(Protocol):
    def scan_many(self, jobs: Iterable[ScanJob]) -> Iterator[ScanResult]: ...


class InProcess:
    """Scans one after another in this process (``ScanPool`` uses worker processes)."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner

    def scan_many(self, jobs: Iterable[ScanJob]) -> Iterator[ScanResult]:
        for job in jobs:
            yield self.scanner.scan(job.raw, job.mail_from, job.rcpts, job.at)


class CorpusError(Exception):
    """An uploaded corpus cannot be read; the message says why."""


MAX_CORPUS_BYTES = 200 * 1024 * 1024  # unpacked
MAX_CORPUS_FILES = 20_000


def unpack(archive: Path, folder: Path) -> Path:
    """A corpus uploaded as a zip of manifest.jsonl and its messages, unpacked into
    ``folder``: the manifest's path. Names that would land outside ``folder``
    (absolute, ``..``), links, and archives too big or too many files unpacked
    are refused before anything is written."""
    try:
        with zipfile.ZipFile(archive) as z:
            members = [m for m in z.infolist() if not m.is_dir()]
            if len(members) > MAX_CORPUS_FILES:
                raise CorpusError(f"more than {MAX_CORPUS_FILES} files")
            if sum(m.file_size for m in members) > MAX_CORPUS_BYTES:
                raise CorpusError(f"more than {MAX_CORPUS_BYTES // 2**20} MB unpacked")
            for m in members:
                name = PurePosixPath(m.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in m.filename:
                    raise CorpusError(f"{m.filename!r} would be written outside the corpus")
                if (m.external_attr >> 16) & 0o170000 == 0o120000:
                    raise CorpusError(f"{m.filename!r} is a link")
            manifests = [m for m in members if PurePosixPath(m.filename).name == "manifest.jsonl"]
            if not manifests:
                raise CorpusError("no manifest.jsonl in the archive")
            for m in members:
                target = folder / m.filename
                target.parent.mkdir(parents=True, exist_ok=True)
                with z.open(m) as src:
                    target.write_bytes(src.read(m.file_size + 1)[: m.file_size])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorpusError(f"not a zip archive that can be read ({exc})") from None
    shallowest = min(manifests, key=lambda m: len(PurePosixPath(m.filename).parts))
    return folder / shallowest.filename


def evaluate(
    pool: Scans, manifest: Path, at: datetime | None, *, confined: bool = False
) -> EvalReport:
    """Score the rules on a labelled corpus; ``confined``: a case's file must be inside
    the manifest's folder (an uploaded corpus names no other file on the server)."""
    report = EvalReport()
    base = manifest.parent
    cases: list[tuple[dict, bytes]] = []
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            case = json.loads(line)
            if not isinstance(case, dict) or not {"id", "file", "expect"} <= set(case):
                raise ValueError("a case needs id, file and expect")
        except ValueError as exc:
            report.errors.append(f"{manifest}:{n}: {exc}")
            continue
        report.total += 1
        path = base / str(case["file"])
        if confined and not path.resolve().is_relative_to(base.resolve()):
            report.errors.append(f"{manifest}:{n}: {case['id']}: the file is outside the corpus")
            continue
        try:
            cases.append((case, path.read_bytes()))
        except OSError as exc:
            report.errors.append(f"{manifest}:{n}: {case.get('id')}: {exc}")
    results = pool.scan_many(ScanJob(raw, at=at) for _, raw in cases)
    for (case, _), result in zip(cases, results, strict=True):
        held = caught(result.verdict)
        expect = case["expect"] == "hold"
        cid = str(case["id"])
        report.held[cid], report.cases[cid] = held, case
        if expect and held:
            report.tp += 1
        elif expect:
            report.fn += 1
            report.missed.append(cid)
        elif held:
            report.fp += 1
            report.false_holds.append(cid)
        else:
            report.tn += 1
        tally = report.by_difficulty.setdefault(
            str(case.get("difficulty", "unrated")), [0, 0, 0, 0]
        )
        tally[(0 if held else 1) if expect else (2 if held else 3)] += 1
        if "held_recipients" in case:
            want_held = {a.lower() for a in case["held_recipients"]}
        elif expect:
            want_held = {r for r, c in result.classes.items() if c in _POLICY_CLASSES}
        else:
            want_held = set()
        for rcpt, verdict in result.recipients.items():
            report.copies += 1
            report.copies_right += caught(verdict) == (rcpt.lower() in want_held)
        if result.error:
            report.errors.append(f"{cid}: {result.error}")
        found = {f.category for f in result.findings if caught(f.action.verdict)}
        for cat in case.get("categories", []):
            report.category_total[cat] += 1
            if cat in found and held:
                report.category_hit[cat] += 1
        for cat in found:
            report.category_found[cat] += 1
            if cat not in case.get("categories", []):
                report.category_found_on_pass[cat] += 1
        for rule in {f.rule for f in result.findings}:
            report.rule_fired[rule] += 1
            if expect:
                report.rule_correct[rule] += 1
            else:
                report.rule_on_pass[rule] += 1
        if "held_recipients" in case:
            report.recipient_cases += 1
            want = {a.lower() for a in case["held_recipients"]}
            got = {r for r, v in result.recipients.items() if caught(v)}
            if want != got:
                report.recipient_errors.append(
                    f"{cid}: expected held {sorted(want)}, got {sorted(got)}"
                )
    return report


_LEVELS = {"easy": 0, "medium": 1, "hard": 2}


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "n/a"


def format_report(r: EvalReport) -> str:
    holds = r.tp + r.fn
    passes = r.tn + r.fp
    out = [
        f"messages: {r.total} ({holds} to hold, {passes} to pass)",
        f"precision: {_ratio(r.tp, r.tp + r.fp)}   recall: {_ratio(r.tp, holds)}   false-positive rate: {_ratio(r.fp, passes)}",
        "",
        "per category (recall: labelled messages where the category was found; precision: findings on messages labelled with it)",
    ]
    for cat in CATEGORIES:
        out.append(
            f"  {cat:<20} recall {_ratio(r.category_hit[cat], r.category_total[cat])} "
            f"({r.category_hit[cat]}/{r.category_total[cat]})   precision "
            f"{_ratio(r.category_found[cat] - r.category_found_on_pass[cat], r.category_found[cat])}"
        )
    out.append("")
    out.append(
        f"recipient copies right: {_ratio(r.copies_right, r.copies)} ({r.copies_right}/{r.copies}; "
        "held exactly where held_recipients says, else every parent and student copy of a message to hold)"
    )
    out.append("")
    out.append("by difficulty")
    for level in sorted(r.by_difficulty, key=lambda d: (_LEVELS.get(d, 9), d)):
        tp, fn, fp, tn = r.by_difficulty[level]
        out.append(
            f"  {level:<8} {tp + fn + fp + tn:>4} messages   recall {_ratio(tp, tp + fn)} ({tp}/{tp + fn})"
            f"   false-positive rate {_ratio(fp, fp + tn)} ({fp}/{fp + tn})"
        )
    out.append("")
    out.append("per rule (messages fired on; on messages expected to pass)")
    for rule in sorted(r.rule_fired):
        out.append(f"  {rule:<36} {r.rule_fired[rule]:>4}   on passes: {r.rule_on_pass[rule]}")
    out.append("")
    out.append(
        f"held_recipients cases: {r.recipient_cases - len(r.recipient_errors)}/{r.recipient_cases} right"
    )
    for e in r.recipient_errors:
        out.append(f"  wrong copies: {e}")
    if r.errors:
        out.append("scan errors (held, fail closed):")
        out.extend(f"  {e}" for e in r.errors)
    out.append(f"missed ({len(r.missed)}): {' '.join(r.missed) or '-'}")
    out.append(f"falsely held ({len(r.false_holds)}): {' '.join(r.false_holds) or '-'}")
    return "\n".join(out)


@dataclass(frozen=True, slots=True)
class CorpusTrial:
    before: EvalReport  # the rules in force, on the corpus
    after: EvalReport  # the draft
    changed: tuple[tuple[str, dict, bool], ...]  # (case id, its manifest line, held with the draft)


def corpus_trial(
    config: Config, store: Store, rule_id: str, draft: dict[str, Any], manifest: Path
) -> CorpusTrial:
    """Score the rules in force and the draft on a labelled corpus (``gateway eval``'s
    format), each message as of its own Date, and list the messages whose fate changes."""
    changes = tuning.what_changes(config, store, rule_id, draft)
    before = evaluate(
        InProcess(Scanner(tuning.draft_config(config, store, rule_id))),
        manifest,
        None,
        confined=True,
    )
    after = evaluate(
        InProcess(Scanner(tuning.draft_config(config, store, rule_id, changes))),
        manifest,
        None,
        confined=True,
    )
    changed = tuple(
        (cid, before.cases[cid], held)
        for cid, held in after.held.items()
        if before.held.get(cid) is not None and before.held[cid] != held
    )
    return CorpusTrial(before, after, changed)
