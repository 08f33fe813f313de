"""Detectors: pure functions from a message segment to candidate details.

A detector answers only "what contact detail, link, handle or phrase is here,
and where". It knows nothing of rules, actions or recipients; whether a
candidate is approved, belongs to a correspondent, or matters for this
recipient is the judge's business (``gateway.judge.policy``).

Each detector module declares itself (the way Presidio's recognisers do): it
calls :func:`register` with its find function and the :class:`Detector` names
that rules use in ``detector = "..."``, saying which kind of approved detail
clears its candidates and whether a reviewer may approve one from a held
copy. A module that finds a kind of detail the approved register holds also
registers how such a detail is written canonically (:class:`DetailType`).
Every module in this package is imported once, on first use of the
registry, so a new detector is one new module, a rule and a test.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import regex

from gateway.mail import DetailKind
from gateway.read.message import Segment, ZoneSpan


@dataclass(frozen=True, slots=True)
class Candidate:
    detector: str  # the Detector.name that found it ("phone", "profile", ...)
    value: str  # canonical (E.164, a lower-cased address, "platform:handle")
    segment: Segment
    start: int  # span in the segment's normalised text
    end: int
    personal: bool = True  # the detector's own judgement (e.g. an organisation's landline is not)
    note: str = ""  # why: "mobile", "landline with personal context", "wa.me link"...

    @property
    def zone(self) -> ZoneSpan:
        return self.segment.zone_at(self.start)

    @property
    def evidence(self) -> str:
        return self.segment.text.source_excerpt(self.start, self.end).strip()


@dataclass(frozen=True, slots=True)
class Context:
    """What a detector may know beyond the segment: the message's subject and
    the school's phone region (for numbers written without a country code)."""

    region: str = "GB"
    subject: str = ""


Find = Callable[[Segment, Context], Iterable[Candidate]]


@dataclass(frozen=True, slots=True)
class Detector:
    name: str  # what a rule's ``detector`` names
    approved_as: (
        DetailKind | None
    )  # register entries of this kind clear its candidates; None: nothing does
    reviewer_may_approve: bool = (
        True  # "release and approve" may turn a finding of it into an exception
    )
    # Its candidates are someone's contact details (a number, an address, a
    # profile): only the sender's own are disclosures (gateway.judge.owners).
    has_owner: bool = True


@dataclass(frozen=True, slots=True)
class DetailType:
    """How one kind of approved detail is written canonically and compared."""

    kind: DetailKind
    canonical: Callable[
        [str, str], str | None
    ]  # (as written, phone region) -> canonical, None: not one
    same: Callable[[str, str], bool]  # (approved, found) -> the same detail


_FINDERS: list[tuple[Find, tuple[Detector, ...]]] = []
_DETECTORS: dict[str, Detector] = {}
_DETAILS: dict[DetailKind, DetailType] = {}
_loaded = False


def register(find: Find, *detectors: Detector, details: tuple[DetailType, ...] = ()) -> None:
    """Declare a find function, the detectors whose candidates it yields, and
    the detail types they approve against. Called once, at module import."""
    for d in detectors:
        if d.name in _DETECTORS or d.name == "phrases":
            raise ValueError(f"detector name {d.name!r} is already taken")
        _DETECTORS[d.name] = d
    for t in details:
        _DETAILS[t.kind] = t
    _FINDERS.append((find, detectors))


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        importlib.import_module(f"{__name__}.{module}")


def detectors() -> dict[str, Detector]:
    """Every registered detector by name, in a stable order."""
    _load()
    return dict(_DETECTORS)


def finders() -> list[Find]:
    _load()
    return [find for find, _ in _FINDERS]


def detail_type(kind: DetailKind) -> DetailType:
    _load()
    return _DETAILS[kind]


def canonical_detail(kind: DetailKind | str, written: str, region: str = "GB") -> str | None:
    """The canonical form of an approved detail as a school or reviewer wrote it; None if it is not one."""
    return detail_type(DetailKind(kind)).canonical(written, region)


def span_around(
    text: str, start: int, end: int, breaks: regex.Pattern, reach: int
) -> tuple[int, int]:
    """The sentence (or paragraph) around ``[start, end)``: the nearest ``breaks``
    on either side, looking at most ``reach`` characters each way, so that
    finding the context of every match stays linear in the text."""
    lo = max(0, start - reach)
    a = lo
    for m in breaks.finditer(text, lo, start):
        a = m.end()
    hi = min(len(text), end + reach)
    after = breaks.search(text, end, hi)
    return a, (after.start() if after else hi)


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) spans in order, overlapping ones joined."""
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged
