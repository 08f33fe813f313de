"""Rule files: data an admin reads, edits, tests and reloads.

A rule names a category of the policy, quotes the clause it enforces, says
which recipient classes it applies to and what to do (``quarantine``, ``flag``,
``reject`` or ``monitor``), and uses either a built-in detector (``phone``,
``email``, ``profile``, ``channel-link``) or ``phrases``: patterns with context.

Patterns are ``regex``-module expressions, matched case-insensitively on the
normalised text, with two conveniences: ``{name}`` inserts a list from the
file's ``[lists]`` table, and ``~N`` stands for "up to N words". A space
matches any run of spaces or line breaks. Patterns are compiled once at load
and run under a time bound; a bound that is hit fails closed (the copy is held).

Any problem gives ``RuleError`` with ``file:line: what is wrong``; a running
gateway keeps its last good rules.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import regex

from gateway.detect import detectors
from gateway.judge.prefilter import CompiledFormulas, list_needs, needed_words
from gateway.mail import Action, RecipientClass

CATEGORIES = (
    "personal_phone",
    "personal_email",
    "social_profile",
    "unapproved_channel",
    "info_request",
    "social_contact",
    "secrecy",
)
ACTIONS = tuple(a.value for a in Action)
CLASSES = tuple(c.value for c in RecipientClass)
ZONES = ("new", "signature", "quoted")
# Lists a rule file may use without defining them: the school's facts from
# the configuration, so one fact is written in one place ("{approved_platforms}").
PROVIDED_LISTS = ("approved_platforms", "approved_accounts", "platform")


def detector_names() -> tuple[str, ...]:
    """Every detector a rule may name: the registered ones, and phrase patterns."""
    return (*detectors(), "phrases")


class RuleError(Exception):
    """A rule or configuration file is wrong; the message says where and how."""


class RulesUncovered(RuleError):
    """The rules leave a category the school requires without any rule."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: str
    description: str
    clause: str
    detector: str
    action: Action
    applies_to: tuple[RecipientClass, ...]
    zones: tuple[str, ...]
    patterns: tuple[LazyPattern, ...] = ()
    requires: tuple[LazyPattern, ...] = ()
    # An act's object: one of these must be in the same sentence as the match.
    with_: tuple[LazyPattern, ...] = ()
    unless: tuple[LazyPattern, ...] = ()
    unless_paragraph: tuple[LazyPattern, ...] = ()
    unless_message: tuple[LazyPattern, ...] = ()
    requires_finding: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()  # only these parts (e.g. "header:Reply-To"); empty: all
    source: str = ""  # file:line
    matcher: LazyPattern | None = None  # all patterns as one alternation: one pass per text
    # Per pattern, the words a message must contain for it to match (see
    # gateway/prefilter.py); the rule's regex runs only when one is satisfied.
    needs: tuple[object, ...] = ()
    prefilter: Callable[[frozenset[str]], bool] | None = None  # needs, compiled (CompiledFormulas)
    # The same for 'with' and 'requires': without one of their words, no match can count.
    context_prefilters: tuple[Callable[[frozenset[str]], bool], ...] = ()
    # Per 'with', 'requires' and 'unless' pattern (by its regex text): the words it
    # needs, so a text without them is not searched for it.
    context_needs: dict[str, Callable[[frozenset[str]], bool]] = field(default_factory=dict)
    # Per pattern (by its regex text) that cannot match without a word of some
    # lists: (those lists, whether the pattern is nothing but one list). The lexicon
    # index answers the latter, and narrows where the regex of the former runs.
    list_of: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)
    # The lists one of which every pattern of the rule needs, if each needs one.
    matcher_lists: tuple[str, ...] = ()
    # The same for its patterns, its 'with' and its 'requires' (where each of theirs
    # needs a list): a text with no word of one gate's lists has no match that counts.
    gates: tuple[tuple[str, ...], ...] = ()
    # Per pattern, its prefilter: whether a text's words allow it to match.
    pattern_checks: tuple[Callable[[frozenset[str]], bool], ...] = ()

    def could_match(self, words: frozenset[str]) -> bool:
        return (self.prefilter is None or self.prefilter(words)) and all(
            check(words) for check in self.context_prefilters
        )


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...]
    files: tuple[str, ...] = field(default=())
    # Ids the rule files say are gone on purpose (``retired = [...]``): a reload
    # that no longer has them is not a rule lost by accident.
    retired: tuple[str, ...] = field(default=())
    # Every file's [lists] and the configuration's, merged: the lexicons, which
    # the owner rules and the lexicon index (gateway/judge/lexicon.py) read too.
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def active(self) -> tuple[Rule, ...]:
        """The rules that run: all but those switched off (``action = "off"``)."""
        return tuple(r for r in self.rules if r.action is not Action.OFF)

    def lost_from(self, before: RuleSet) -> list[str]:
        """Ids of ``before`` that this set neither has nor lists as retired."""
        have = {r.id for r in self.rules} | set(self.retired)
        return [r.id for r in before.rules if r.id not in have]

    def by_id(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def classes(self) -> frozenset[RecipientClass]:
        """The recipient classes some rule applies to: the copies worth scanning,
        and the ones held when a scan fails."""
        return frozenset(c for r in self.active for c in r.applies_to)


def lexicon_pattern(words: Sequence[str]) -> regex.Pattern | None:
    """One lexicon list as a pattern: any of its words, whole, without regard to case,
    also as a possessive ("the author's Instagram" is the author's)."""
    if not words:
        return None
    alts = _trie(list(words)).replace(" ", r"\s+")
    return regex.compile(rf"(?<![\w'])(?:{alts})(?!\w|['\u2019](?!s\b))", regex.IGNORECASE)


# Rules share their lexicon patterns ("{frame_advice}" in a dozen rules), and a
# reload compiles the same texts again: each text is compiled and read once.
@functools.lru_cache(maxsize=4096)
def _pattern(text: str) -> regex.Pattern:
    return regex.compile(text, regex.IGNORECASE | regex.V0)


class LazyPattern:
    """A rule's pattern, compiled when first used.

    A pattern that is a bare lexicon list is answered by the lexicon index and
    is seldom compiled at all; compiling every one at load made starting (and
    reloading) the gateway take seconds. Its syntax is checked at load on a
    skeleton with each list as one word, so a mistake is still a load error.
    Pickles as its text.
    """

    __slots__ = ("pattern", "_compiled")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: regex.Pattern | None = None

    def _get(self) -> regex.Pattern:
        if self._compiled is None:
            self._compiled = _pattern(self.pattern)
        return self._compiled

    def finditer(self, *args, **kwargs):
        return self._get().finditer(*args, **kwargs)

    def search(self, *args, **kwargs):
        return self._get().search(*args, **kwargs)

    def match(self, *args, **kwargs):
        return self._get().match(*args, **kwargs)

    def __reduce__(self):
        return LazyPattern, (self.pattern,)


@functools.lru_cache(maxsize=4096)
def _needs_of(text: str) -> object:
    return needed_words(text)


def _needs(raw: str, lists: dict[str, list[str]]) -> object:
    """The words a raw pattern needs; a bare list's straight from its words."""
    found = required_list(raw)
    if found is not None and found[1]:
        return list_needs(tuple(lists[found[0][0]]))
    return _needs_of(expand_pattern(raw, lists))


_GAP = regex.compile(r"~(\d)")
_LIST_REF = regex.compile(r"\{([a-z_][a-z0-9_]*)\}")


@functools.lru_cache(maxsize=1024)
def _alternation(words: tuple[str, ...], factored: bool) -> str:
    """A list as a regex: a trie (``factored``), or the plain alternation the prefilter reads."""
    if not words:  # an empty list matches nothing (not the empty string)
        return "(?!)"
    if factored:
        return _trie(list(words))
    return "(?:" + "|".join(regex.escape(w).replace(r"\ ", " ") for w in words) + ")"


def _trie(words: list[str]) -> str:
    """The words as one alternation factored by their common starts ("come (?:round|over)").

    The same language as ``(?:w1|w2|...)`` with the longer word preferred, but
    the engine tries one branch per character instead of every word at every
    word start: a lexicon of hundreds of words costs about what one word does.
    """
    root: dict = {}
    for w in words:
        node = root
        for ch in w.lower():
            node = node.setdefault(ch, {})
        node[""] = {}  # the end of a word

    def emit(node: dict) -> str:
        ends = "" in node
        branches = [
            (" " if ch == " " else regex.escape(ch)) + emit(child)
            for ch, child in sorted(node.items(), key=lambda kv: kv[0])
            if ch != ""
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # Where a word may end here, the longer one is still tried first.
        return f"(?:{body})?" if ends else body

    return "(?:" + emit(root) + ")"


def expand_pattern(pattern: str, lists: dict[str, list[str]], *, factored: bool = False) -> str:
    """A rule's pattern as a regex: lists inserted, "~N" gaps, spaces as any
    whitespace. ``factored`` writes each list as a trie (the same language,
    faster to match); unfactored is what the prefilter reads."""

    def list_alt(m: regex.Match) -> str:
        name = m.group(1)
        if name not in lists:
            raise KeyError(name)
        return _alternation(tuple(sorted(lists[name], key=len, reverse=True)), factored)

    out = _LIST_REF.sub(list_alt, pattern)
    # "~N" swallows the spaces around it: "don't ~2 tell" matches "don't tell" too.
    out = _GAP.sub(lambda m: f"\x00{m.group(1)}\x00", out)
    out = regex.sub(
        r" *\x00(\d)\x00 *", lambda m: r"\s+(?:[\w'-]{1,30}[,;:]?\s+){0," + m.group(1) + "}", out
    )
    out = out.replace(" ", r"\s+")
    # A leading \b (rather than a look-behind) lets the engine skip ahead to
    # plausible first characters: phrase matching is the scanner's hot path.
    return r"\b(?:" + out + r")(?!\w|['\u2019](?!s\b))"


_LIST_CHOICE = regex.compile(
    r"\(\?:\s*\{([a-z_][a-z0-9_]*)\}(?:\s*\|\s*\{[a-z_][a-z0-9_]*\})*\s*\)"
)


def required_list(pattern: str) -> tuple[tuple[str, ...], bool] | None:
    """The lists a raw pattern cannot match without a word of (one list, or a group
    choosing between lists: "(?:{handle}|{detail})"), and whether the pattern is
    only that list ("{conceal}"); None when no list is required (an alternation
    at the top, or every list optional)."""
    if m := regex.fullmatch(r"\s*\{([a-z_][a-z0-9_]*)\}\s*", pattern):
        return (m.group(1),), True
    needed: tuple[str, ...] | None = None
    depth, escaped = 0, False
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "(":
            if (
                depth == 0
                and needed is None
                and (m := _LIST_CHOICE.match(pattern, i))
                and not _optional(pattern, m.end())
            ):
                needed = tuple(_LIST_REF.findall(m.group(0)))
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ch == "|":
            return None  # an alternation at the top: no one list is needed
        elif (
            depth == 0
            and needed is None
            and ch == "{"
            and (m := _LIST_REF.match(pattern, i))
            and not _optional(pattern, m.end())
        ):
            needed = (m.group(1),)
    return None if needed is None else (needed, False)


def _lists_needed(
    list_of: dict[str, tuple[tuple[str, ...], bool]], patterns: tuple[LazyPattern, ...]
) -> tuple[str, ...]:
    """The lists one of which a match of one of ``patterns`` needs; () if some
    pattern needs none."""
    needed = [list_of.get(p.pattern) for p in patterns]
    if not needed or not all(needed):
        return ()
    return tuple(dict.fromkeys(name for n in needed if n is not None for name in n[0]))


def _optional(pattern: str, at: int) -> bool:
    """Whether what ends at ``at`` is made optional by a quantifier after it."""
    return pattern[at : at + 3].startswith(("?", "*", "{0"))


def _line_of(text: str, needle: str, start_line: int = 1) -> int:
    lines = text.splitlines()
    for i in range(max(0, start_line - 1), len(lines)):
        if needle in lines[i]:
            return i + 1
    for i, line in enumerate(lines):
        if needle in line:
            return i + 1
    return 1


# "me (?:have )?~2 your", "(?:why )? ~1": an optional group that ends in a space, then
# a space or a gap (which begins with whitespace).
_SPACE_AFTER_OPTIONAL = regex.compile(r"\)[?*]\s*~\d| \)[?*] ")


def _compile(
    patterns: object, where: str, key: str, lists: dict[str, list[str]]
) -> tuple[LazyPattern, ...]:
    if patterns is None:
        return ()
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise RuleError(f"{where}: '{key}' must be a list of strings")
    out = []
    skeleton = {name: ["x"] for name in lists}
    for p in patterns:
        if _SPACE_AFTER_OPTIONAL.search(p):
            raise RuleError(
                f"{where}: {key} pattern {p!r} has an optional group ending in a space before"
                " another space or a ~N gap: spaces match whitespace, so when the group is"
                " absent two runs of whitespace are needed and the pattern never matches;"
                " put the group's words in the gap instead ('me ~3 your', not 'me (?:have )?~2 your')"
            )
        try:
            _pattern(expand_pattern(p, skeleton))  # the syntax, cheaply: lists as one word
            out.append(LazyPattern(expand_pattern(p, lists, factored=True)))
        except KeyError as exc:
            raise RuleError(
                f"{where}: {key} pattern {p!r} uses an unknown list {{{exc.args[0]}}}"
            ) from None
        except regex.error as exc:
            raise RuleError(f"{where}: {key} pattern {p!r} is not a valid pattern: {exc}") from None
    return tuple(out)


def load_rule_file(path: Path, provided: dict[str, list[str]] | None = None) -> list[Rule]:
    text, data = _parse(path)
    lists = {**dict.fromkeys(PROVIDED_LISTS, []), **(provided or {}), **_lists_of(path, text, data)}
    return _load_file(path, text, data, lists)[0]


def _parse(path: Path) -> tuple[str, dict]:
    text = path.read_text(encoding="utf-8")
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        raise RuleError(f"{path}:{line}: {exc}") from None


def _lists_of(path: Path, text: str, data: dict) -> dict[str, list[str]]:
    lists = data.get("lists", {})
    if not isinstance(lists, dict) or not all(
        isinstance(v, list) and all(isinstance(w, str) for w in v) for v in lists.values()
    ):
        raise RuleError(
            f"{path}:{_line_of(text, '[lists]')}: [lists] must map names to lists of words"
        )
    taken = sorted(set(lists) & set(PROVIDED_LISTS))
    if taken:
        raise RuleError(
            f"{path}:{_line_of(text, taken[0])}: list '{taken[0]}' comes from the configuration "
            "([approved] in gateway.toml); use it as {" + taken[0] + "} without defining it here"
        )
    return lists


def _load_file(
    path: Path, text: str, data: dict, lists: dict[str, list[str]]
) -> tuple[list[Rule], tuple[str, ...]]:
    """A file's rules, and the ids it lists as retired; ``lists`` are every file's."""
    unknown_top = set(data) - {"lists", "rule", "retired", "lexicon"}
    if unknown_top:
        key = sorted(unknown_top)[0]
        raise RuleError(
            f"{path}:{_line_of(text, key)}: unknown table or key '{key}' "
            "(expected lexicon, [lists], [[rule]] and retired)"
        )
    retired = data.get("retired", [])
    if not isinstance(retired, list) or not all(isinstance(r, str) for r in retired):
        raise RuleError(f"{path}:{_line_of(text, 'retired')}: retired must be a list of rule ids")
    lexicon = data.get("lexicon", False)
    if not isinstance(lexicon, bool):
        raise RuleError(f"{path}:{_line_of(text, 'lexicon')}: lexicon must be true or false")
    if not data.get("rule") and not retired and not (lexicon and data.get("lists")):
        # An emptied file (or one cut down to its [lists]) would switch its rules
        # off without a word; a file of lists alone says so with lexicon = true.
        raise RuleError(
            f"{path}:1: this rule file has no rules. To stop a rule, keep it with "
            'action = "off" or list its id in retired = [...]; to drop the file, delete it '
            "(a file of [lists] alone starts with lexicon = true)"
        )
    rules = []
    search_from = 1
    for entry in data.get("rule", []):
        rid = entry.get("id")
        line = (
            _line_of(text, f'"{rid}"', search_from)
            if isinstance(rid, str)
            else _line_of(text, "[[rule]]", search_from)
        )
        search_from = line + 1
        where = f"{path}:{line}"
        if not isinstance(rid, str) or not regex.fullmatch(r"[a-z0-9][a-z0-9._-]*", rid):
            raise RuleError(
                f"{where}: every rule needs an 'id' of lower-case letters, digits, '.', '_' or '-'"
            )
        allowed = {
            "id",
            "category",
            "description",
            "clause",
            "detector",
            "action",
            "applies_to",
            "zones",
            "patterns",
            "requires",
            "with",
            "unless",
            "unless_paragraph",
            "unless_message",
            "requires_finding",
            "parts",
        }
        extra = set(entry) - allowed
        if extra:
            raise RuleError(f"{where}: rule '{rid}' has unknown key '{sorted(extra)[0]}'")

        def choice(
            key: str,
            options: tuple[str, ...],
            default: str | None = None,
            *,
            _entry=entry,
            _where=where,
            _rid=rid,
        ) -> str:
            value = _entry.get(key, default)
            if value not in options:
                raise RuleError(
                    f"{_where}: rule '{_rid}': {key} must be one of {', '.join(options)} (got {value!r})"
                )
            return value

        def choices(
            key: str,
            options: tuple[str, ...],
            default: tuple[str, ...],
            *,
            _entry=entry,
            _where=where,
            _rid=rid,
        ) -> tuple[str, ...]:
            value = _entry.get(key, list(default))
            if not isinstance(value, list) or not value or any(v not in options for v in value):
                raise RuleError(
                    f"{_where}: rule '{_rid}': {key} must be a non-empty list drawn from {', '.join(options)}"
                )
            return tuple(value)

        detector = choice("detector", detector_names())
        rule = Rule(
            id=rid,
            category=choice("category", CATEGORIES),
            description=str(entry.get("description", "")),
            clause=str(entry.get("clause", "")),
            detector=detector,
            action=Action(choice("action", ACTIONS, Action.QUARANTINE)),
            applies_to=tuple(
                RecipientClass(c)
                for c in choices(
                    "applies_to", CLASSES, (RecipientClass.PARENT, RecipientClass.STUDENT)
                )
            ),
            zones=choices("zones", ZONES, ("new", "signature", "quoted")),
            patterns=_compile(entry.get("patterns"), where, "patterns", lists),
            requires=_compile(entry.get("requires"), where, "requires", lists),
            with_=_compile(entry.get("with"), where, "with", lists),
            unless=_compile(entry.get("unless"), where, "unless", lists),
            unless_paragraph=_compile(
                entry.get("unless_paragraph"), where, "unless_paragraph", lists
            ),
            unless_message=_compile(entry.get("unless_message"), where, "unless_message", lists),
            requires_finding=tuple(entry.get("requires_finding", [])),
            parts=tuple(entry.get("parts", [])),
            source=where,
        )
        if rule.patterns:
            combined = "|".join(f"(?:{p.pattern})" for p in rule.patterns)
            rule = dataclasses.replace(
                rule,
                matcher=LazyPattern(combined),
                needs=tuple(_needs(p, lists) for p in entry.get("patterns", [])),
            )
            rule = dataclasses.replace(
                rule,
                prefilter=CompiledFormulas(rule.needs),
                pattern_checks=tuple(CompiledFormulas((f,)) for f in rule.needs),
                context_prefilters=tuple(
                    CompiledFormulas(tuple(_needs(p, lists) for p in entry[key]))
                    for key in ("with", "requires")
                    if entry.get(key)
                ),
                list_of={
                    compiled.pattern: found
                    for key, patterns in (
                        ("patterns", rule.patterns),
                        ("with", rule.with_),
                        ("requires", rule.requires),
                        ("unless", rule.unless),
                        ("unless_paragraph", rule.unless_paragraph),
                    )
                    for raw, compiled in zip(entry.get(key, []), patterns, strict=True)
                    if (found := required_list(raw)) is not None
                },
                context_needs={
                    compiled.pattern: CompiledFormulas((_needs(raw, lists),))
                    for key, patterns in (("with", rule.with_), ("requires", rule.requires))
                    for raw, compiled in zip(entry.get(key, []), patterns, strict=True)
                },
            )

            rule = dataclasses.replace(
                rule,
                matcher_lists=_lists_needed(rule.list_of, rule.patterns),
                gates=tuple(
                    g
                    for ps in (rule.patterns, rule.with_, rule.requires)
                    if (g := _lists_needed(rule.list_of, ps))
                ),
            )
        if detector == "phrases" and not rule.patterns:
            raise RuleError(f"{where}: rule '{rid}' uses the phrases detector but has no patterns")
        if detector != "phrases" and rule.patterns:
            raise RuleError(f"{where}: rule '{rid}': patterns only apply to the phrases detector")
        bad = [c for c in rule.requires_finding if c not in CATEGORIES]
        if bad:
            raise RuleError(
                f"{where}: rule '{rid}': requires_finding has unknown category '{bad[0]}'"
            )
        if not rule.clause:
            raise RuleError(
                f"{where}: rule '{rid}' must quote the policy clause it enforces ('clause')"
            )
        rules.append(rule)
    return rules, tuple(retired)


def _line_from_message(message: str) -> int:
    m = regex.search(r"line (\d+)", message)
    return int(m.group(1)) if m else 1


# Dropping the apostrophe of these makes another word: "ill", "well", "its".
_OTHER_WORDS = frozenset(
    {
        "ill",
        "well",
        "shell",
        "hell",
        "wed",
        "were",
        "its",
        "lets",
        "id",
        "hed",
        "shed",
        "whos",
        "wont",
    }
)


def _as_typed(words: list[str]) -> list[str]:
    """A list's words, and as people type them in a hurry: without apostrophes
    ("dont tell", "i wont say anything", "ur mum"). A single word whose bare
    form is another word ("we'll", "it's") is left as written."""
    out, have = list(words), set(words)
    for word in words:
        bare = word.replace("'", "")
        if bare != word and bare not in have and (" " in bare or bare not in _OTHER_WORDS):
            out.append(bare)
            have.add(bare)
    return out


# A change to a word list of the rule files, in ``load_rules(changed=...)``: the key
# "list:NAME", its value {"words": [...]}.
LIST_CHANGE = "list:"
# What an admin may change of a rule in the web app (gateway.review.tuning).
CHANGEABLE = (
    "action",
    "patterns",
    "with",
    "requires",
    "unless",
    "unless_paragraph",
    "unless_message",
)


def load_rules(
    paths: list[Path],
    provided: dict[str, list[str]] | None = None,
    changed: dict[str, dict[str, object]] | None = None,
) -> RuleSet:
    """Every rule of the files (or folders of *.toml files) in ``paths``. ``provided``
    fills the lists of PROVIDED_LISTS from the configuration. ``changed`` replaces
    keys of rules (by id; of CHANGEABLE) and the words of lists (by LIST_CHANGE and
    name) as changes made in the app do, before the rules are checked: a changed rule
    is validated exactly as its file would be."""
    changed = changed or {}
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.glob("*.toml")))
        elif p.exists():
            files.append(p)
        else:
            raise RuleError(f"{p}:1: rules path does not exist")
    if not files:
        raise RuleError(f"{paths[0] if paths else 'rules'}:1: no rule files (*.toml) found")
    parsed = [(f, *_parse(f)) for f in files]
    # A lexicon is shared: any file may use a list another file defines.
    lists: dict[str, list[str]] = {}
    defined_in: dict[str, Path] = {}
    for f, text, data in parsed:
        for name, words in _lists_of(f, text, data).items():
            if name in lists:
                raise RuleError(
                    f"{f}:{_line_of(text, name)}: list '{name}' is already defined in {defined_in[name]}"
                )
            lists[name], defined_in[name] = words, f
    for key, change in changed.items():
        name = key.removeprefix(LIST_CHANGE)
        if key.startswith(LIST_CHANGE) and name in lists and "words" in change:
            given = change["words"]
            if not isinstance(given, list) or not all(isinstance(w, str) and w for w in given):
                raise RuleError(f"{defined_in[name]}:1: list '{name}' as changed: words are text")
            lists[name] = [str(w) for w in given]
    merged = {**dict.fromkeys(PROVIDED_LISTS, []), **(provided or {}), **lists}
    merged = {name: _as_typed(words) for name, words in merged.items()}
    rules: list[Rule] = []
    retired: list[str] = []
    seen: dict[str, str] = {}
    for f, text, data in parsed:
        for entry in data.get("rule", []) if changed else ():
            if isinstance(entry, dict) and entry.get("id") in changed:
                entry.update(changed[entry["id"]])
        in_file, gone = _load_file(f, text, data, merged)
        retired.extend(gone)
        for rule in in_file:
            if rule.id in seen:
                raise RuleError(
                    f"{rule.source}: rule id '{rule.id}' is already used at {seen[rule.id]}"
                )
            seen[rule.id] = rule.source
            rules.append(rule)
    return RuleSet(
        tuple(rules),
        tuple(str(f) for f in files),
        tuple(retired),
        {k: tuple(v) for k, v in merged.items()},
    )
