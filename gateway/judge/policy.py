"""Rules (data) + candidates + recipient classes -> findings and verdicts per copy.

Detectors find; rules name and explain; this module decides. A candidate
becomes a finding when it is in the sender's (or a colleague's) own words,
is not a detail of the message's correspondents, and is not approved for
this sender, recipient and moment. Each recipient copy gets the strictest
action of the findings whose rules apply to that recipient's class.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import regex

from gateway.config import Config
from gateway.detect import Candidate, Kind, span_around
from gateway.detect.emails import find_emails
from gateway.detect.links import find_links
from gateway.detect.phones import find_phones
from gateway.read.message import MessageView, Owner, Segment, Zone
from gateway.judge.rules import Rule

_RANK = {"monitor": 0, "pass": 0, "flag": 1, "quarantine": 2, "reject": 3}
_ZONE_NAME = {Zone.NEW: "new", Zone.SIGNATURE: "signature", Zone.QUOTED: "quoted", Zone.QUOTE_HEADER: "quoted"}
_DETECTOR_KIND = {"phone": Kind.PHONE, "email": Kind.EMAIL, "profile": Kind.PROFILE, "channel-link": Kind.CHANNEL}
_SENTENCE_END = regex.compile(r"[.!?]+(?=\s)|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
_PARAGRAPH_END = regex.compile(r"\n\s*\n")


class PatternTimeout(Exception):
    """An admin pattern ran past its time bound: the message is held."""


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    category: str
    action: str
    evidence: str
    part: str
    quoted: bool
    zone: str
    value: str
    note: str
    context: str  # a little text around the evidence, for reviewers
    copies: tuple[str, ...] = ()  # the recipient copies this finding applies to

    def __reduce__(self):  # see ScanResult.__reduce__
        return Finding, (self.rule, self.category, self.action, self.evidence, self.part, self.quoted, self.zone,
                         self.value, self.note, self.context, self.copies)

    def as_json(self) -> dict:
        return {"rule": self.rule, "category": self.category, "evidence": self.evidence,
                "part": self.part, "quoted": self.quoted}


@dataclass(frozen=True, slots=True)
class _Hit:
    rule: Rule
    segment: Segment
    start: int
    end: int
    value: str
    note: str
    kind: Kind | None = None


def _context(seg: Segment, start: int, end: int) -> str:
    text = seg.text.text
    a, b = max(0, start - 60), min(len(text), end + 60)
    return " ".join(text[a:b].split())


class PolicyEngine:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.directory = config.directory

    # -- approvals --------------------------------------------------------
    def _approved(self, kind: Kind, value: str, at: datetime, sender: str, recipient: str) -> bool:
        want = {Kind.PHONE: "phone", Kind.EMAIL: "email", Kind.PROFILE: "account", Kind.CHANNEL: "account"}[kind]
        for a in self.config.approved:
            if a.kind != want or not a.applies(at, sender, recipient):
                continue
            if a.value == value:
                return True
            # Official accounts usually share one handle across platforms; a
            # handle whose platform was guessed from a nearby word still matches.
            if want == "account" and value.split(":", 1)[-1] == a.value.split(":", 1)[-1]:
                return True
        return False

    def _organisation_email(self, address: str) -> bool:
        domain = address.rpartition("@")[2]
        if self.directory.classify(address) in {"staff", "student", "partner"} and address not in self.directory.parents:
            return True
        return any(domain == d or domain.endswith("." + d) for d in self.config.organisation_domains)

    # -- detection --------------------------------------------------------
    def candidates(self, view: MessageView) -> list[Candidate]:
        out: list[Candidate] = []
        for seg in view.segments:
            out.extend(find_phones(seg, self.config.phone_region))
            out.extend(find_emails(seg))
            out.extend(find_links(seg, view.subject))
        return out

    def _counts(self, c: Candidate, rule: Rule) -> bool:
        z = c.zone
        if z.owner != Owner.SCHOOL or _ZONE_NAME[z.zone] not in rule.zones:
            return False
        if z.zone == Zone.QUOTE_HEADER:
            # Only the author's own address in an attribution line is theirs to disclose.
            return c.kind == Kind.EMAIL and z.author is not None and c.value == z.author.address
        return True

    def judge(self, view: MessageView, mail_from: str, rcpts: list[str], at: datetime, pattern_timeout: float) -> tuple[dict[str, str], dict[str, str], list[Finding]]:
        cands = self.candidates(view)
        sender = (mail_from or view.sender.address).lower()
        classes = {rcpt: self.directory.classify(rcpt) for rcpt in rcpts}
        owned_by_others = {c.value for c in cands if c.zone.owner == Owner.CORRESPONDENT}
        owned_by_others |= {a.address for a in (*view.to, *view.cc, *view.bcc)} | {r.lower() for r in rcpts}

        def copies(kind: Kind | None, value: str, rule: Rule) -> frozenset[str]:
            """The recipient copies a finding applies to: its rule's classes, less approvals."""
            return frozenset(
                r for r, cls in classes.items()
                if cls in rule.applies_to and not (kind is not None and self._approved(kind, value, at, sender, r))
            )

        hits: list[tuple[_Hit, frozenset[str]]] = []
        for rule in self.config.rules.rules:
            if rule.detector == "phrases":
                continue
            kind = _DETECTOR_KIND[rule.detector]
            for c in cands:
                if c.kind != kind or not c.personal or not self._counts(c, rule) or c.value in owned_by_others:
                    continue
                if kind == Kind.EMAIL and self._organisation_email(c.value):
                    continue
                if rule.parts and c.segment.part not in rule.parts:
                    continue
                held = copies(kind, c.value, rule)
                # A detail approved for every copy is no finding at all (and so
                # cannot satisfy another rule's requires_finding).
                if not held and all(self._approved(kind, c.value, at, sender, r) for r in rcpts):
                    continue
                hits.append((_Hit(rule, c.segment, c.start, c.end, c.value, c.note, kind), held))
        found_categories = {h.rule.category for h, _ in hits}

        @functools.cache
        def whole() -> str:  # the message's text, for rules that look at all of it
            return "\n".join(s.text.text for s in view.segments if not s.is_link)

        # The words of the whole are the words of its segments (joined by a non-word "\n").
        words = frozenset().union(*(s.words for s in view.segments if not s.is_link))
        # A rule whose patterns all need a word this message lacks cannot match.
        phrase_rules = [r for r in self.config.rules.rules if r.detector == "phrases" and r.could_match(words)]
        # Rules that need another finding run last, once the others are known.
        for rule in sorted(phrase_rules, key=lambda r: bool(r.requires_finding)):
            if rule.requires_finding and not (set(rule.requires_finding) & found_categories):
                continue
            if rule.unless_message and any(self._search(p, whole(), pattern_timeout, rule) for p in rule.unless_message):
                continue
            new = self._phrase_hits(rule, view, pattern_timeout)
            held = copies(None, "", rule)
            hits.extend((h, held) for h in new)
            if new:
                found_categories.add(rule.category)

        recipients = dict.fromkeys(rcpts, "pass")
        reported: list[Finding] = []
        for (hit, held), finding in self._dedupe(hits):
            for r in held:
                if _RANK[hit.rule.action] > _RANK[recipients[r]]:
                    recipients[r] = hit.rule.action
            # Report what holds, flags or is monitored for at least one copy.
            if held:
                reported.append(finding)
        return recipients, classes, reported

    @staticmethod
    def _search(pattern: regex.Pattern, text: str, timeout: float, rule: Rule) -> bool:
        try:
            return pattern.search(text, timeout=timeout) is not None
        except TimeoutError:
            raise PatternTimeout(rule.id) from None

    def _phrase_hits(self, rule: Rule, view: MessageView, timeout: float) -> list[_Hit]:
        out: list[_Hit] = []
        for seg in view.segments:
            if seg.is_link or (rule.parts and seg.part not in rule.parts):
                continue
            text = seg.text.text
            # The bound is per 100,000 characters, so a long legitimate message is
            # scanned in full while a pattern that backtracks is still caught.
            bound = timeout * max(1.0, len(text) / 100_000)
            for pattern in (rule.matcher,) if rule.matcher is not None else rule.patterns:
                try:
                    matches = list(pattern.finditer(text, timeout=bound))
                except TimeoutError:
                    raise PatternTimeout(rule.id) from None
                for m in matches:
                    z = seg.zone_at(m.start())
                    if z.owner != Owner.SCHOOL or z.zone == Zone.QUOTE_HEADER or _ZONE_NAME[z.zone] not in rule.zones:
                        continue
                    s_a, s_b = span_around(text, m.start(), m.end(), _SENTENCE_END, 2000)
                    sentence = text[s_a:s_b]
                    if rule.unless and any(self._search(p, sentence, timeout, rule) for p in rule.unless):
                        continue
                    if rule.requires:
                        p_a, p_b = span_around(text, m.start(), m.end(), _PARAGRAPH_END, 2000)
                        para = text[p_a:p_b]
                        if not any(self._search(p, para, timeout, rule) for p in rule.requires):
                            continue
                    out.append(_Hit(rule, seg, m.start(), m.end(), m.group(0).lower(), "phrase"))
        return out

    @staticmethod
    def _dedupe(hits: list[tuple[_Hit, frozenset[str]]]) -> list[tuple[tuple[_Hit, frozenset[str]], Finding]]:
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
                rule=h.rule.id, category=h.rule.category, action=h.rule.action,
                evidence=h.segment.text.source_excerpt(h.start, h.end).strip(),
                part=h.segment.part, quoted=z.zone in (Zone.QUOTED, Zone.QUOTE_HEADER),
                zone=_ZONE_NAME[z.zone], value=h.value, note=h.note,
                context=_context(h.segment, h.start, h.end),
                copies=tuple(sorted(entry[1])),
            )
            out.append((entry, f))
        return out
