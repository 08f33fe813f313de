"""Tuning the rules from reviewers' decisions: how often each rule was right, and changing it.

A rule is *right* on a copy it held when a reviewer confirms the breach: they
reject the copy, or release it saying it was "a breach, but allowed". It is
*wrong* (a false hold) when they release it for any other reason. Expired
copies and copies still waiting say nothing. A rule's precision from
decisions is right / (right + wrong).

An admin changes a rule in the web app: its action (quarantine, flag,
monitor, off) or its patterns and word lists (``CHANGEABLE``). A change is
tried first on the mail in the store (``trial``), checked exactly as the
loader checks a rule file, and saved as a row in the store
(``Store.change_rule``), in force on every node from its next reload (within
seconds, ``gateway.app.reload``), audited, and undone by another change. The
rule files stay the defaults: a rule with no change in the store does what
its file says.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gateway.config import Config, load_config, with_exceptions
from gateway.judge.rules import CHANGEABLE, LIST_CHANGE, Rule, RuleError
from gateway.judge.scan import Scanner
from gateway.mail import BREACH_VERDICTS, RELEASE_VERDICTS, Action, CopyStatus, Role, Verdict
from gateway.store import CopyRecord, RuleChange, RuleHit, Store, User

# What an admin may set a rule's action to in the app; "reject" stays a decision for the files.
APP_ACTIONS = (Action.QUARANTINE, Action.FLAG, Action.MONITOR, Action.OFF)
LIST_KEYS = tuple(k for k in CHANGEABLE if k != "action")  # lists of patterns


class TuningError(Exception):
    """The change cannot be made as asked; the message says why."""


def check_verdict(verdict: str | None) -> str | None:
    if verdict and verdict not in RELEASE_VERDICTS:
        raise TuningError(
            f"unknown release verdict {verdict!r}; one of {', '.join(RELEASE_VERDICTS)}"
        )
    return verdict or None


def confirms_breach(status: str, decided: bool, verdict: str | None) -> bool | None:
    """True: a reviewer confirmed the breach; False: a false hold; None: not decided."""
    if not decided:
        return None
    if status == CopyStatus.REJECTED:
        return True
    return verdict in BREACH_VERDICTS


def copy_outcome(copy: CopyRecord) -> bool | None:
    """``confirms_breach`` of a stored copy."""
    decided = copy.decided_at is not None and copy.status != CopyStatus.EXPIRED
    return confirms_breach(copy.status, decided, copy.decision_verdict)


# -- what is in force ------------------------------------------------------------


def app_changes(changes: Iterable[RuleChange]) -> dict[str, dict[str, Any]]:
    """Per rule, the keys the app's changes (oldest first) leave in force; a rule
    back to its file's own setting has none."""
    state: dict[str, dict[str, Any]] = {}
    for c in changes:
        mine = state.setdefault(c.rule, {})
        for key, value in c.changes.items():
            if value is None:
                mine.pop(key, None)
            else:
                mine[key] = value
    return {rule: keys for rule, keys in state.items() if keys}


def file_entry(rule: Rule) -> dict[str, Any]:
    """The rule as its file writes it (patterns as written, lists by name)."""
    path = Path(rule.source.rpartition(":")[0])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    return next((e for e in data.get("rule", []) if e.get("id") == rule.id), {})


def definition(rule: Rule, in_force: dict[str, Any]) -> dict[str, Any]:
    """Each changeable key of the rule as in force: the app's change, else its file's."""
    entry = file_entry(rule)
    out: dict[str, Any] = {"action": in_force.get("action", entry.get("action", rule.action))}
    for key in LIST_KEYS:
        out[key] = list(in_force.get(key, entry.get(key, [])))
    return out


@dataclass(frozen=True, slots=True)
class WordList:
    name: str
    source: str  # the file that defines it
    words: tuple[str, ...]  # as the file writes them
    used_by: tuple[str, ...]  # ids of the rules whose patterns name it


def word_lists(config: Config) -> dict[str, WordList]:
    """The [lists] of the rule files, as written, with the rules that use each."""
    found: dict[str, tuple[str, list[str]]] = {}
    uses: dict[str, set[str]] = {}
    for name in config.rules.files:
        try:
            data = tomllib.loads(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        for key, words in data.get("lists", {}).items():
            found[key] = (name, list(words))
        for entry in data.get("rule", []):
            text = " ".join(str(p) for k in LIST_KEYS for p in entry.get(k, []))
            for key in set(re.findall(r"\{(\w+)\}", text)):
                uses.setdefault(key, set()).add(str(entry.get("id")))
    return {
        key: WordList(key, source, tuple(words), tuple(sorted(uses.get(key, ()))))
        for key, (source, words) in sorted(found.items())
    }


def list_target(name: str) -> str:
    """The change target of a word list (rule ids have no colon)."""
    return LIST_CHANGE + name


def undoable(changes: list[RuleChange]) -> RuleChange | None:
    """The change an undo takes back: the newest that is neither an undo nor undone,
    so undoing again goes one step further back, to the rule file's own setting."""
    undone = {c.undoes for c in changes if c.undoes}
    left = [c for c in changes if c.undoes is None and c.id not in undone]
    return left[-1] if left else None


# -- figures -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleFigures:
    rule: Rule  # as its file says
    action: Action  # in force: the file's, or the app's
    changed: tuple[str, ...]  # keys the app changes
    change: RuleChange | None  # the newest change made in the app, if any
    hits_7: tuple[int, ...]  # copies held or refused, last 7 days
    hits_30: tuple[int, ...]
    right: tuple[int, ...]  # decided copies where the breach was confirmed
    wrong: tuple[int, ...]  # decided copies released as no breach (false holds)
    passed_7: int = 0  # copies it found something in that went through (monitor, flag)
    passed_30: int = 0

    @property
    def precision(self) -> float | None:
        return share(len(self.right), len(self.wrong))


def rule_figures(config: Config, store: Store, now: datetime) -> list[RuleFigures]:
    """Every rule of the files with what the app changed, its hits and its precision
    from decisions (over the last year)."""
    hits: dict[str, list[RuleHit]] = {}
    for h in store.rule_hits(now - timedelta(days=365)):
        hits.setdefault(h.rule, []).append(h)
    rows = store.rule_changes()
    changes = app_changes(rows)
    newest = {c.rule: c for c in rows}
    seen = store.sightings(now - timedelta(days=29))
    week_start = (now - timedelta(days=6)).astimezone(UTC).date().isoformat()
    out = []
    for rule in config.rules.rules:
        mine = hits.get(rule.id, [])
        outcome = [(h, confirms_breach(h.status, h.decided, h.verdict)) for h in mine]
        keys = changes.get(rule.id, {})
        out.append(
            RuleFigures(
                rule,
                Action(keys.get("action", rule.action)),
                tuple(keys),
                newest.get(rule.id),
                tuple(h.copy_id for h in mine if h.created_at >= now - timedelta(days=7)),
                tuple(h.copy_id for h in mine if h.created_at >= now - timedelta(days=30)),
                tuple(h.copy_id for h, right in outcome if right is True),
                tuple(h.copy_id for h, right in outcome if right is False),
                sum(n for day, n in seen.get(rule.id, {}).items() if day >= week_start),
                sum(seen.get(rule.id, {}).values()),
            )
        )
    return out


# -- changing a rule -------------------------------------------------------------


def _admin(user: User) -> None:
    if not Role(user.role).tunes_rules:
        raise TuningError(f"your role ({user.role}) cannot change rules")


def draft_config(
    config: Config, store: Store, rule_id: str, draft: dict[str, Any] | None = None
) -> Config:
    """The configuration the gateway would run with ``draft`` saved (None: as in force):
    the rule files read again with every change in the app, checked as a file is."""
    changes = app_changes(store.rule_changes())
    if draft:
        mine = {**changes.get(rule_id, {}), **draft}
        changes[rule_id] = {k: v for k, v in mine.items() if v is not None}
    try:
        loaded = load_config(config.path, rule_changes=changes)
    except RuleError as exc:
        raise TuningError(f"the draft of {rule_id} is not valid: {exc}") from None
    return with_exceptions(loaded, store.exceptions())


def parse_draft(form: dict[str, str]) -> dict[str, Any]:
    """A draft from the web form: the action, each pattern key one pattern per line,
    and a word list's words one per line."""
    draft: dict[str, Any] = {}
    if "action" in form:
        draft["action"] = form["action"]
    for key in (*LIST_KEYS, "words"):
        if key in form:
            draft[key] = [line.strip() for line in form[key].splitlines() if line.strip()]
    return draft


def what_changes(config: Config, store: Store, rule_id: str, draft: dict[str, Any]) -> dict:
    """The keys of ``draft`` that differ from what is in force (None: back to the file);
    ``rule_id`` is a rule's id, or a word list's ``list_target``."""
    in_force = app_changes(store.rule_changes(rule_id)).get(rule_id, {})
    if rule_id.startswith(LIST_CHANGE):
        wanted = word_lists(config).get(rule_id.removeprefix(LIST_CHANGE))
        if wanted is None:
            raise TuningError(
                f"no word list {rule_id.removeprefix(LIST_CHANGE)!r} in the rule files"
            )
        if set(draft) - {"words"}:
            raise TuningError("a word list has only its words to change")
        words = draft.get("words")
        if words is not None and (
            not isinstance(words, list) or not words or not all(isinstance(w, str) for w in words)
        ):
            raise TuningError("a word list is one or more words or phrases")
        if words is not None and [w for w in words if "{" in w or "}" in w]:
            raise TuningError("a word list holds words, not patterns or other lists")
        current = in_force.get("words", list(wanted.words))
        return {
            k: v
            for k, v in draft.items()
            if (v is None and k in in_force) or (v is not None and v != current)
        }
    rule = config.rules.get(rule_id)
    if rule is None:
        raise TuningError(f"no rule {rule_id!r} is loaded")
    unknown = sorted(set(draft) - set(CHANGEABLE))
    if unknown:
        raise TuningError(f"{unknown[0]} is not a key the app can change")
    action = draft.get("action")
    if action is not None and action not in APP_ACTIONS:
        raise TuningError(f"a rule's action is one of {', '.join(APP_ACTIONS)}")
    for key in LIST_KEYS:
        value = draft.get(key)
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(p, str) for p in value)
        ):
            raise TuningError(f"{key} is a list of patterns")
    now = definition(rule, in_force)
    return {
        key: value
        for key, value in draft.items()
        if (value is None and key in in_force) or (value is not None and value != now[key])
    }


def change(
    config: Config,
    store: Store,
    rule_id: str,
    draft: dict[str, Any],
    *,
    user: User,
    reason: str,
) -> int:
    """Save a change to a rule, once it is checked as its file would be; a key set to
    None goes back to what the file says."""
    _admin(user)
    changes = what_changes(config, store, rule_id, draft)
    if not reason.strip():
        raise TuningError("a reason is required: it goes in the audit log and the rule's history")
    if not changes:
        raise TuningError(f"nothing to change: {rule_id} already does that")
    draft_config(config, store, rule_id, changes)
    in_force = app_changes(store.rule_changes(rule_id)).get(rule_id, {})
    return store.change_rule(
        rule_id,
        changes,
        previous={k: in_force.get(k) for k in changes},
        actor=user.name,
        reason=reason,
    )


def set_action(
    config: Config, store: Store, rule_id: str, action: str | None, *, user: User, reason: str
) -> int:
    """Set a rule's action in the app (None or "": back to what its file says)."""
    return change(config, store, rule_id, {"action": action or None}, user=user, reason=reason)


def undo(config: Config, store: Store, rule_id: str, *, user: User, reason: str = "") -> int:
    """Undo the rule's last change: what was in force before it is again."""
    _admin(user)
    rows = store.rule_changes(rule_id)
    target = undoable(rows)
    if target is None:
        raise TuningError(f"{rule_id} has no change to undo: it does what its file says")
    in_force = app_changes(rows).get(rule_id, {})
    draft_config(config, store, rule_id, target.previous)  # the files may have moved on since
    return store.change_rule(
        rule_id,
        target.previous,
        previous={k: in_force.get(k) for k in target.previous},
        actor=user.name,
        reason=reason.strip() or f"undo of change {target.id}",
        undoes=target.id,
    )


def export_rules(config: Config, store: Store, folder: Path) -> list[Path]:
    """Write every rule file into ``folder`` with the changes in force in the app applied
    to its rules, comments and layout kept: the files to make those changes the defaults."""
    import tomlkit  # only the export needs it

    changes = app_changes(store.rule_changes())
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in config.rules.files:
        source = Path(name)
        document = tomlkit.parse(source.read_text(encoding="utf-8"))
        for entry in document.get("rule", []):
            for key, value in changes.get(str(entry.get("id")), {}).items():
                entry[key] = value
        lists = document.get("lists", {})
        for name in list(lists):
            words = changes.get(list_target(name), {}).get("words")
            if words is not None:
                lists[name] = words
        target = folder / source.name
        target.write_text(tomlkit.dumps(document), encoding="utf-8")
        written.append(target)
    return written


# -- trying a draft on past mail ---------------------------------------------------


def share(part: int, rest: int) -> float | None:
    """part / (part + rest); None when both are 0 (nothing to measure)."""
    return part / (part + rest) if part + rest else None


@dataclass(frozen=True, slots=True)
class Score:
    """Holds judged by reviewers' decisions: right (a confirmed breach held), wrong
    (a false hold), missed (a confirmed breach the rules would deliver)."""

    right: int = 0
    wrong: int = 0
    missed: int = 0

    @property
    def precision(self) -> float | None:
        return share(self.right, self.wrong)

    @property
    def recall(self) -> float | None:
        return share(self.right, self.missed)

    def add(self, holds: bool, outcome: bool | None) -> Score:
        if outcome is None:
            return self
        return Score(
            self.right + (holds and outcome),
            self.wrong + (holds and not outcome),
            self.missed + (not holds and outcome),
        )


@dataclass(frozen=True, slots=True)
class TrialCopy:
    copy: CopyRecord
    before: Verdict  # with the rules in force
    after: Verdict  # with the draft
    outcome: bool | None  # what the reviewers decided (confirms_breach)


@dataclass(frozen=True, slots=True)
class Trial:
    copies: int  # scanned
    changed: tuple[TrialCopy, ...]  # whose verdict the draft changes
    before: Score
    after: Score


def trial(
    config: Config, store: Store, rule_id: str, draft: dict[str, Any], *, limit: int = 500
) -> Trial:
    """Scan the newest ``limit`` copies in the store (held, decided, delivered after a
    deferral ...) with the rules in force and with the draft, each message once with
    each, as of when it arrived; list the copies whose verdict changes and score both."""
    changes = what_changes(config, store, rule_id, draft)
    before_scan = Scanner(draft_config(config, store, rule_id))
    after_scan = Scanner(draft_config(config, store, rule_id, changes))
    copies = store.copies(limit=limit, newest=True)
    by_message: dict[str, list[CopyRecord]] = {}
    for c in copies:
        by_message.setdefault(c.message_id, []).append(c)
    changed, before, after = [], Score(), Score()
    for message_id, mine in by_message.items():
        message = store.message(message_id)
        if message is None:
            continue
        rcpts = [c.recipient for c in mine]
        args = (message.raw, message.envelope.mail_from, rcpts, message.received_at)
        was, will = before_scan.scan(*args).recipients, after_scan.scan(*args).recipients
        for c in mine:
            old, new = Verdict(was.get(c.recipient, "pass")), Verdict(will.get(c.recipient, "pass"))
            outcome = copy_outcome(c)
            before, after = before.add(old.holds, outcome), after.add(new.holds, outcome)
            if old != new:
                changed.append(TrialCopy(c, old, new, outcome))
    return Trial(len(copies), tuple(changed), before, after)
