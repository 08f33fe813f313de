"""Rules (data) + candidates + recipient classes -> findings and verdicts per copy.

Detectors find; rules name and explain; this module decides. A candidate
becomes a finding when it is in the sender's (or a colleague's) own words,
is not a detail of the message's correspondents, and is not approved for
this sender, recipient and moment. Each recipient copy gets the strictest
action of the findings whose rules apply to that recipient's class.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import regex

from gateway.detect import (
    Candidate,
    Context,
    detail_type,
    detectors,
    finders,
    merge_spans,
    span_around,
)
from gateway.detect.platforms import approved as platform_approved
from gateway.detect.platforms import registry
from gateway.judge.frames import (
    PARAGRAPH_END,
    SENTENCE_END,
    frame_set_aside,
    quoted_example,
    script_line,
    with_list_lead,
)
from gateway.judge.lexicon import Lexicon
from gateway.judge.owners import Holder, OwnerCues, Ownership, owner_of
from gateway.judge.rules import LazyPattern, Rule
from gateway.mail import Action, RecipientClass, Verdict, in_domains
from gateway.read.message import MessageView, Owner, Segment, Zone

if TYPE_CHECKING:
    from gateway.config import Config

_ZONE_NAME = {
    Zone.NEW: "new",
    Zone.SIGNATURE: "signature",
    Zone.QUOTED: "quoted",
    Zone.QUOTE_HEADER: "quoted",
}
# An address at the school's, its students' or a partner's domain belongs to that organisation.
_ORGANISATION_CLASSES = frozenset(
    {RecipientClass.STAFF, RecipientClass.STUDENT, RecipientClass.PARTNER}
)
# Whose details are disclosures: the sender's, and a colleague's given out by the sender.
_STAFF = frozenset({Holder.SENDER, Holder.COLLEAGUE})


class _Spans:
    """Where each context pattern matches in one text, found once and looked up by range.

    A rule's objects and frames are checked for every match of its act; with
    lexicons of hundreds of words, searching each sentence and paragraph anew
    made a long letter cost many passes. One pass per pattern per text, shared
    by every rule that uses the same pattern, and a bisect per question keeps
    the cost linear in the text.
    """

    def __init__(self, text: str, bound: float, words: frozenset[str], lexicon: Lexicon) -> None:
        self.text = text
        self.bound = bound
        self.words = words  # the text's words, for the patterns' word prefilters
        self._lexicon = lexicon
        self._looked = False
        self._words_at: dict[str, list[tuple[int, int]]] | None = None
        self._found: dict[str, tuple[list[int], list[int]]] = {}

    def list_hits(self) -> dict[str, list[tuple[int, int]]] | None:
        """Where each lexicon list's words are in the text (one pass for all lists)."""
        if not self._looked:
            self._words_at, self._looked = self._lexicon.find(self.text), True
        return self._words_at

    def paragraphs_with(self, names: tuple[str, ...]) -> list[tuple[int, int]] | None:
        """The paragraphs holding a word of one of the lists ``names``; None if unknown."""
        hits = self.list_hits()
        if hits is None:
            return None
        spans = sorted(span for name in names for span in hits.get(name, ()))
        return merge_spans(span_around(self.text, a, b, PARAGRAPH_END, 2000) for a, b in spans)

    def _scan(self, pattern: LazyPattern, rule: Rule) -> tuple[list[int], list[int]]:
        """All matches of ``pattern``: from the lexicon index for a bare list, else by
        its regex, only in the paragraphs holding a word of the list it needs."""
        windows: list[tuple[int, int]] | None = [(0, len(self.text))]
        listed = rule.list_of.get(pattern.pattern)
        if listed is not None and (hits := self.list_hits()) is not None:
            names, bare = listed
            if bare:
                spans = hits.get(names[0], [])
                return [a for a, _ in spans], [b for _, b in spans]
            windows = self.paragraphs_with(names)
        try:
            ms = [
                m
                for a, b in windows or ()
                for m in pattern.finditer(self.text, a, b, timeout=self.bound)
            ]
        except TimeoutError:
            raise PatternTimeout(rule.id) from None
        return [m.start() for m in ms], [m.end() for m in ms]

    def windows(
        self, patterns: tuple[LazyPattern, ...], breaks: regex.Pattern, rule: Rule
    ) -> list[tuple[int, int]]:
        """The sentences (or paragraphs, by ``breaks``) holding a match of one of ``patterns``."""
        spans = sorted(
            (a, b) for p in patterns for a, b in zip(*self._matches(p, rule), strict=True)
        )
        return merge_spans(span_around(self.text, a, b, breaks, 2000) for a, b in spans)

    def _matches(self, pattern: LazyPattern, rule: Rule) -> tuple[list[int], list[int]]:
        """Every match of ``pattern`` (starts, ends), found once per text."""
        found = self._found.get(pattern.pattern)
        if found is None:
            could = rule.context_needs.get(pattern.pattern, _any_words)(self.words)
            # A pattern that needs a word this text lacks has no match here.
            found = self._found[pattern.pattern] = self._scan(pattern, rule) if could else ([], [])
        return found

    def first(
        self, pattern: LazyPattern, a: int, b: int, rule: Rule, *, as_frame: bool = False
    ) -> str | None:
        """The first match of ``pattern`` lying within ``[a, b)``, or None. As a frame,
        a match the sentence turns away from ("less formal than school email") is none."""
        starts, ends = self._matches(pattern, rule)
        i = bisect.bisect_left(starts, a)
        while i < len(starts) and starts[i] < b:
            if ends[i] <= b and not (
                as_frame and frame_set_aside(self.text, starts[i], ends[i], a, b)
            ):
                return self.text[starts[i] : ends[i]]
            i += 1
        return None


def _any_words(words: frozenset[str]) -> bool:
    """The prefilter of a pattern with no formula: it may match any text."""
    return True


class PatternTimeout(Exception):
    """An admin pattern ran past its time bound: the message is held."""


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    category: str
    action: Action
    evidence: str
    part: str
    quoted: bool
    zone: str
    value: str
    note: str
    context: str  # a little text around the evidence, for reviewers
    copies: tuple[str, ...] = ()  # the recipient copies this finding applies to
    owner: str = ""  # whose detail it is, for a detail: "sender" or "colleague" when found
    owner_why: str = ""

    def __reduce__(self):  # see ScanResult.__reduce__
        return Finding, (
            self.rule,
            self.category,
            self.action,
            self.evidence,
            self.part,
            self.quoted,
            self.zone,
            self.value,
            self.note,
            self.context,
            self.copies,
            self.owner,
            self.owner_why,
        )

    def as_json(self) -> dict:
        out = {
            "rule": self.rule,
            "category": self.category,
            "evidence": self.evidence,
            "part": self.part,
            "quoted": self.quoted,
        }
        if self.owner:
            out["owner"] = self.owner
            out["owner_why"] = self.owner_why
        return out


@dataclass(frozen=True, slots=True)
class Considered:
    """One candidate or phrase match and what became of it (``gateway check --explain``)."""

    rule: str
    evidence: str
    part: str
    outcome: str  # "finding" or "cleared"
    why: str
    owner: str = ""


@dataclass(frozen=True, slots=True)
class _Hit:
    rule: Rule
    segment: Segment
    start: int
    end: int
    value: str
    note: str
    detector: str | None = None
    ownership: Ownership | None = None


def _context(seg: Segment, start: int, end: int) -> str:
    text = seg.text.text
    a, b = max(0, start - 60), min(len(text), end + 60)
    return " ".join(text[a:b].split())


class PolicyEngine:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.directory = config.directory
        self._detectors = detectors()
        self._finders = finders()
        self._owner_cues = OwnerCues.from_lists(config.rules.lists, config.directory.staff_names)
        # Platforms the school approves: their links and handles are no findings.
        self._approved_platforms = frozenset(
            p.name for p in registry() if platform_approved(p, config.official_platforms)
        )
        self._quoting = self._owner_cues.quoting  # what introduces a quoted example
        # The lists the rules' patterns need, indexed: the owner cues are looked up
        # beside each detail instead, and would only add hits here.
        used = {
            n for rule in config.rules.active for names, _ in rule.list_of.values() for n in names
        }
        self._lexicon = Lexicon({n: w for n, w in config.rules.lists.items() if n in used})

    # -- approvals --------------------------------------------------------
    def _approved(
        self, detector: str, value: str, at: datetime, sender: str, recipient: str
    ) -> bool:
        want = self._detectors[detector].approved_as
        if want is None:
            return False
        same = detail_type(want).same
        return any(
            a.kind == want and a.applies(at, sender, recipient) and same(a.value, value)
            for a in self.config.approved
        )

    def _organisation_email(self, address: str) -> bool:
        if (
            self.directory.classify(address) in _ORGANISATION_CLASSES
            and address not in self.directory.parents
        ):
            return True
        return bool(in_domains(address, self.config.organisation_domains))

    # -- detection --------------------------------------------------------
    def candidates(self, view: MessageView) -> list[Candidate]:
        context = Context(region=self.config.phone_region, subject=view.subject)
        out: list[Candidate] = []
        for seg in view.segments:
            if seg.echo:  # said already, word for word, in the text half
                continue
            for find in self._finders:
                out.extend(find(seg, context))
        return out

    def _counts(self, c: Candidate, rule: Rule) -> bool:
        z = c.zone
        if z.owner != Owner.SCHOOL or _ZONE_NAME[z.zone] not in rule.zones:
            return False
        if z.zone == Zone.QUOTE_HEADER:
            # Only the author's own address in an attribution line is theirs to disclose.
            return c.detector == "email" and z.author is not None and c.value == z.author.address
        return True

    def judge(
        self,
        view: MessageView,
        mail_from: str,
        rcpts: list[str],
        at: datetime,
        pattern_timeout: float,
        trace: list[Considered] | None = None,
    ) -> tuple[dict[str, Verdict], dict[str, RecipientClass], list[Finding]]:
        """Verdicts per copy, recipient classes and findings; ``trace``, when given,
        receives every candidate and phrase match with what became of it and why."""
        cands = self.candidates(view)
        sender = (mail_from or view.sender.address).lower()
        classes = {rcpt: self.directory.classify(rcpt) for rcpt in rcpts}
        # value -> why it is someone else's
        owned_by_others = {
            c.value: "in a correspondent's words"
            for c in cands
            if c.zone.owner == Owner.CORRESPONDENT
        }
        if not mail_from:
            # A report from the mail system (the null sender): the addresses it
            # reports on are the failed recipients', not a disclosure of its own.
            for address in view.reported:
                owned_by_others.setdefault(address, "the address a delivery report is about")
        # Whose each detail in the school's words is; a value some cue gives to someone
        # else is theirs wherever else it appears, unless the sender claims it.
        ownership = {
            id(c): owner_of(c, view.sender, self._owner_cues)
            for c in cands
            # Not for a detail that is no one's personal one (the switchboard, a landline).
            if c.personal and c.zone.owner == Owner.SCHOOL and self._detectors[c.detector].has_owner
        }
        claimed = {
            c.value
            for c in cands
            if (o := ownership.get(id(c))) and o.holder in _STAFF and not o.by_default
        }
        for c in cands:
            o = ownership.get(id(c))
            if o is not None and o.holder not in _STAFF and c.value not in claimed:
                owned_by_others.setdefault(
                    c.value, f"the {o.holder.value.replace('_', ' ')}'s: {o.why}"
                )
        for a in {a.address for a in (*view.to, *view.cc, *view.bcc)} | {r.lower() for r in rcpts}:
            owned_by_others.setdefault(a, "a recipient's own address")

        def copies(detector: str | None, value: str, rule: Rule) -> frozenset[str]:
            """The recipient copies a finding applies to: its rule's classes, less approvals."""
            return frozenset(
                r
                for r, cls in classes.items()
                if cls in rule.applies_to
                and not (detector is not None and self._approved(detector, value, at, sender, r))
            )

        hits: list[tuple[_Hit, frozenset[str]]] = []
        for rule in self.config.rules.active:
            if rule.detector == "phrases":
                continue
            kind = rule.detector
            for c in cands:
                if c.detector != kind or (rule.parts and c.segment.part not in rule.parts):
                    continue
                held = copies(kind, c.value, rule)
                why = self._cleared(c, rule, owned_by_others, held, at, sender, rcpts)
                if trace is not None:
                    o = ownership.get(id(c))
                    trace.append(
                        Considered(
                            rule.id,
                            c.evidence,
                            c.segment.part,
                            "cleared" if why else "finding",
                            why or (o.why if o else c.note),
                            o.holder.value if o else "",
                        )
                    )
                if why:
                    continue
                hits.append(
                    (
                        _Hit(
                            rule,
                            c.segment,
                            c.start,
                            c.end,
                            c.value,
                            c.note,
                            kind,
                            ownership.get(id(c)),
                        ),
                        held,
                    )
                )
        found_categories = {h.rule.category for h, _ in hits}

        @functools.cache
        def whole() -> str:  # the message's text, for rules that look at all of it
            return "\n".join(s.text.text for s in view.segments if not s.is_link)

        # The words of the whole are the words of its segments (joined by a non-word "\n").
        words = frozenset().union(*(s.words for s in view.segments if not s.is_link))
        # A rule whose patterns all need a word this message lacks cannot match.
        phrase_rules = [
            r for r in self.config.rules.active if r.detector == "phrases" and r.could_match(words)
        ]
        spans: dict[int, _Spans] = {}  # segment -> its context patterns' matches
        # Rules that need another finding run last, once the others are known.
        for rule in sorted(phrase_rules, key=lambda r: bool(r.requires_finding)):
            if rule.requires_finding and not (set(rule.requires_finding) & found_categories):
                continue
            if rule.unless_message and any(
                self._search(p, whole(), pattern_timeout, rule) for p in rule.unless_message
            ):
                continue
            new = self._phrase_hits(rule, view, pattern_timeout, spans, trace)
            held = copies(None, "", rule)
            hits.extend((h, held) for h in new)
            if new:
                found_categories.add(rule.category)

        recipients = dict.fromkeys(rcpts, Verdict.PASS)
        reported: list[Finding] = []
        for (hit, held), finding in self._dedupe(hits):
            verdict = hit.rule.action.verdict
            for r in held:
                if verdict.rank > recipients[r].rank:
                    recipients[r] = verdict
            # Report what holds, flags or is monitored for at least one copy.
            if held:
                reported.append(finding)
        return recipients, classes, reported

    def _cleared(
        self,
        c: Candidate,
        rule: Rule,
        owned_by_others: dict[str, str],
        held: frozenset[str],
        at: datetime,
        sender: str,
        rcpts: list[str],
    ) -> str | None:
        """Why candidate ``c`` is no finding of ``rule``, or None if it is one."""
        if not c.personal:
            return f"not a personal detail: {c.note}"
        platform = c.value.split(":", 1)[0].split("-", 1)[0] if c.detector != "phone" else ""
        if platform in self._approved_platforms:
            return f"on {platform}, which the school approves"
        if not self._counts(c, rule):
            z = c.zone
            if z.owner != Owner.SCHOOL:
                return "in a correspondent's words"
            return f"in the {_ZONE_NAME[z.zone]} zone, which this rule does not read"
        if c.detector == "email" and self._organisation_email(c.value):
            return "an address of the school, a partner or a listed organisation"
        if c.value in owned_by_others:
            return owned_by_others[c.value]
        # A detail approved for every copy is no finding at all (and so
        # cannot satisfy another rule's requires_finding).
        if not held and all(self._approved(c.detector, c.value, at, sender, r) for r in rcpts):
            return "approved for this sender and every recipient"
        return None

    @staticmethod
    def _search(pattern: LazyPattern, text: str, timeout: float, rule: Rule) -> bool:
        return PolicyEngine._first(pattern, text, timeout, rule) is not None

    @staticmethod
    def _first(pattern: LazyPattern, text: str, timeout: float, rule: Rule) -> str | None:
        """The first text ``pattern`` matches in ``text``, under the time bound."""
        try:
            m = pattern.search(text, timeout=timeout)
        except TimeoutError:
            raise PatternTimeout(rule.id) from None
        return None if m is None else m.group(0)

    def _phrase_hits(
        self,
        rule: Rule,
        view: MessageView,
        timeout: float,
        spans: dict[int, _Spans],
        trace: list[Considered] | None = None,
    ) -> list[_Hit]:
        out: list[_Hit] = []
        for seg in view.segments:
            if seg.is_link or seg.echo or (rule.parts and seg.part not in rule.parts):
                continue
            # Most segments lack the words of most acts and objects: such a
            # segment is passed over before any window or regex is looked at.
            if not rule.could_match(seg.words):
                continue
            text = seg.text.text
            # The bound is per 100,000 characters, so a long legitimate message is
            # scanned in full while a pattern that backtracks is still caught.
            bound = timeout * max(1.0, len(text) / 100_000)
            if id(seg) not in spans:
                spans[id(seg)] = _Spans(text, bound, seg.words, self._lexicon)
            here = spans[id(seg)]
            # The lexicon index knows the phrases, where the words only hint at them.
            if (
                rule.gates
                and (hits := here.list_hits()) is not None
                and not all(any(name in hits for name in gate) for gate in rule.gates)
            ):
                continue
            # An act counts only in a sentence with its object (or a paragraph with
            # what it requires), so the act is looked for only there: objects are
            # rarer than acts, and their matches are shared by the rules.
            windows: list[tuple[int, int]] | None = [(0, len(text))]
            if rule.with_:
                windows = here.windows(rule.with_, SENTENCE_END, rule)
            elif rule.requires:
                windows = here.windows(rule.requires, PARAGRAPH_END, rule)
            elif rule.matcher_lists and here.list_hits() is not None:
                # Every pattern needs a word of a list: only paragraphs with one.
                windows = here.paragraphs_with(rule.matcher_lists)
            if not windows:  # no sentence with its object, no paragraph with what it needs
                continue
            for start, end in self._act_matches(rule, here, windows):
                z = seg.zone_at(start)
                if (
                    z.owner != Owner.SCHOOL
                    or z.zone == Zone.QUOTE_HEADER
                    or _ZONE_NAME[z.zone] not in rule.zones
                ):
                    continue
                why = self._phrase_cleared(rule, here, start, end)
                if trace is not None:
                    trace.append(
                        Considered(
                            rule.id,
                            seg.text.source_excerpt(start, end).strip(),
                            seg.part,
                            "cleared" if why else "finding",
                            why or "an act with its object, and no frame that makes it safe",
                        )
                    )
                if why:
                    continue
                out.append(_Hit(rule, seg, start, end, text[start:end].lower(), "phrase"))
        return out

    @staticmethod
    def _act_matches(
        rule: Rule, here: _Spans, windows: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Where the rule's patterns match within ``windows``.

        Only the patterns whose words this text has are tried (a rule's patterns
        each need different words, and most texts have the words of few): a bare
        list from the lexicon index, any other by its regex. When every pattern
        could match, the rule's one alternation runs instead."""
        hits = here.list_hits()
        # A rule built without the loader has no per-pattern prefilters: try them all.
        checks = rule.pattern_checks or (_any_words,) * len(rule.patterns)
        active = [p for p, could in zip(rule.patterns, checks, strict=True) if could(here.words)]
        if not active:
            return []
        window_starts = [w_a for w_a, _ in windows]

        def inside(a: int, b: int) -> bool:
            i = bisect.bisect_right(window_starts, a) - 1  # the window starting at or before a
            return i >= 0 and b <= windows[i][1]

        found: list[tuple[int, int]] = []
        rest = []
        for p in active:
            listed = rule.list_of.get(p.pattern)
            if hits is not None and listed is not None and listed[1]:
                found.extend(span for span in hits.get(listed[0][0], ()) if inside(*span))
            else:
                rest.append(p)
        try:
            if rest and len(rest) == len(rule.patterns) and rule.matcher is not None:
                rest = [rule.matcher]
            for p in rest:
                found.extend(
                    (m.start(), m.end())
                    for a, b in windows
                    for m in p.finditer(here.text, a, b, timeout=here.bound)
                )
        except TimeoutError:
            raise PatternTimeout(rule.id) from None
        out, last_end = [], -1
        for a, b in sorted(found):  # non-overlapping, leftmost first, as one finditer would
            if a >= last_end:
                out.append((a, b))
                last_end = b
        return out

    def _phrase_cleared(self, rule: Rule, spans: _Spans, start: int, end: int) -> str | None:
        """Why a match of ``rule`` at ``[start, end)`` is no finding, or None if it is one."""
        text = spans.text
        if script_line(text, start):
            return "a character's line in a script"
        if (w := quoted_example(text, start, end, self._quoting)) is not None:
            return f"quoted as an example of what others say ({w!r})"

        def first_of(
            patterns: tuple[LazyPattern, ...], span: tuple[int, int], as_frame: bool = False
        ) -> str | None:
            return next(
                (
                    w
                    for p in patterns
                    if (w := spans.first(p, *span, rule, as_frame=as_frame)) is not None
                ),
                None,
            )

        sentence = with_list_lead(text, span_around(text, start, end, SENTENCE_END, 2000))
        if rule.with_ and first_of(rule.with_, sentence) is None:
            return "no object of the act in its sentence ('with')"
        if (w := first_of(rule.unless, sentence, as_frame=True)) is not None:
            return f"a frame in its sentence: {w.lower()!r}"
        if rule.requires or rule.unless_paragraph:
            paragraph = span_around(text, start, end, PARAGRAPH_END, 2000)
            if rule.requires and first_of(rule.requires, paragraph) is None:
                return "nothing it requires in its paragraph"
            if (w := first_of(rule.unless_paragraph, paragraph, as_frame=True)) is not None:
                return f"a frame in its paragraph: {w.lower()!r}"
        return None

    @staticmethod
    def _dedupe(
        hits: list[tuple[_Hit, frozenset[str]]],
    ) -> list[tuple[tuple[_Hit, frozenset[str]], Finding]]:
        seen: set[tuple[str, str]] = set()
        out = []
        for entry in hits:
            h = entry[0]
            key = (h.rule.id, h.value)
            if key in seen:
                continue
            seen.add(key)
            z = h.segment.zone_at(h.start)
            f = Finding(
                rule=h.rule.id,
                category=h.rule.category,
                action=h.rule.action,
                evidence=h.segment.text.source_excerpt(h.start, h.end).strip(),
                part=h.segment.part,
                quoted=z.zone in (Zone.QUOTED, Zone.QUOTE_HEADER),
                zone=_ZONE_NAME[z.zone],
                value=h.value,
                note=h.note,
                context=_context(h.segment, h.start, h.end),
                copies=tuple(sorted(entry[1])),
                owner=h.ownership.holder.value if h.ownership else "",
                owner_why=h.ownership.why if h.ownership else "",
            )
            out.append((entry, f))
        return out
