"""Detectors: pure functions from a message segment to candidate details.

A detector answers only "what contact detail, link, handle or phrase is here,
and where". It knows nothing of rules, actions or recipients; whether a
candidate is approved, belongs to a correspondent, or matters for this
recipient is the policy's business (``gateway.judge.policy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import regex

from gateway.read.message import Segment, ZoneSpan


class Kind(Enum):
    PHONE = "phone"  # value: E.164
    EMAIL = "email"  # value: lower-cased address
    PROFILE = "profile"  # value: "platform:handle" (or "blog:host")
    CHANNEL = "channel"  # value: canonical link of an unapproved channel or invite


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: Kind
    value: str
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


def span_around(text: str, start: int, end: int, breaks: regex.Pattern, reach: int) -> tuple[int, int]:
    """The sentence (or paragraph) around ``[start, end)``: the nearest ``breaks``
    on either side, looking at most ``reach`` characters each way, so that
    finding the context of every match stays linear in the text."""
    lo = max(0, start - reach)
    a = lo
    for m in breaks.finditer(text, lo, start):
        a = m.end()
    hi = min(len(text), end + reach)
    m = breaks.search(text, end, hi)
    return a, (m.start() if m else hi)
