"""Tuning the rules from reviewers' decisions: how often each rule was right, and changing it.

A rule is *right* on a copy it held when a reviewer confirms the breach: they
reject the copy, or release it saying it was "a breach, but allowed". It is
*wrong* (a false hold) when they release it for any other reason. Expired
copies and copies still waiting say nothing. A rule's precision from
decisions is right / (right + wrong).

An admin changes a rule's action (quarantine, flag, monitor, off) in the web
app; the change is a row in the store (``Store.change_rule``), in force on
every node from its next reload (within seconds, ``gateway.app.reload``),
audited, and undone by another change. The rule files stay the defaults: a
rule with no change in the store does what its file says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.config import Config
from gateway.judge.rules import Rule
from gateway.mail import Action, CopyStatus, Role
from gateway.store import CopyRecord, RuleChange, RuleHit, Store, User

# What a reviewer says when releasing a copy: was the hold a breach?
RELEASE_VERDICTS: dict[str, str] = {
    "other-person": "not a breach: another person's detail",
    "approved": "not a breach: an approved detail",
    "wording": "not a breach: the wording is fine",
    "allowed": "a breach, but allowed",
}
BREACH_VERDICTS = frozenset({"allowed"})

# What an admin may set a rule to in the app; "reject" stays a decision for the files.
APP_ACTIONS = (Action.QUARANTINE, Action.FLAG, Action.MONITOR, Action.OFF)
FROM_FILE = ""  # a change's value meaning "as the rule file says"


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


def in_force(changes: list[RuleChange]) -> dict[str, RuleChange]:
    """The newest change of each rule (the store's rows are oldest first)."""
    return {c.rule: c for c in changes}


def app_actions(changes: list[RuleChange]) -> dict[str, Action]:
    """The action each changed rule has in the app, for ``RuleSet.with_actions``."""
    return {
        rule: Action(c.value)
        for rule, c in in_force(changes).items()
        if c.field == "action" and c.value != FROM_FILE
    }


@dataclass(frozen=True, slots=True)
class RuleFigures:
    rule: Rule  # as its file says
    action: Action  # in force: the file's, or the change's
    change: RuleChange | None  # the change in force, if any
    hits_7: tuple[int, ...]  # copies held or refused, last 7 days
    hits_30: tuple[int, ...]
    right: tuple[int, ...]  # decided copies where the breach was confirmed
    wrong: tuple[int, ...]  # decided copies released as no breach (false holds)

    @property
    def precision(self) -> float | None:
        decided = len(self.right) + len(self.wrong)
        return len(self.right) / decided if decided else None


def rule_figures(config: Config, store: Store, now: datetime) -> list[RuleFigures]:
    """Every rule of the files with its action in force, its hits and its precision
    from decisions (over the last year)."""
    hits: dict[str, list[RuleHit]] = {}
    for h in store.rule_hits(now - timedelta(days=365)):
        hits.setdefault(h.rule, []).append(h)
    all_changes = store.rule_changes()
    changes, actions = in_force(all_changes), app_actions(all_changes)
    out = []
    for rule in config.rules.rules:
        mine = hits.get(rule.id, [])
        outcome = [(h, confirms_breach(h.status, h.decided, h.verdict)) for h in mine]
        out.append(
            RuleFigures(
                rule,
                actions.get(rule.id, rule.action),
                changes.get(rule.id),
                tuple(h.copy_id for h in mine if h.created_at >= now - timedelta(days=7)),
                tuple(h.copy_id for h in mine if h.created_at >= now - timedelta(days=30)),
                tuple(h.copy_id for h, right in outcome if right is True),
                tuple(h.copy_id for h, right in outcome if right is False),
            )
        )
    return out


def _admin(user: User) -> None:
    if not Role(user.role).tunes_rules:
        raise TuningError(f"your role ({user.role}) cannot change rules")


def set_action(
    config: Config,
    store: Store,
    rule_id: str,
    action: str,
    *,
    user: User,
    reason: str,
) -> int:
    """Set a rule's action in the app (``FROM_FILE``: back to what its file says)."""
    _admin(user)
    rule = config.rules.get(rule_id)
    if rule is None:
        raise TuningError(f"no rule {rule_id!r} is loaded")
    if action != FROM_FILE and action not in APP_ACTIONS:
        raise TuningError(f"a rule's action is one of {', '.join(APP_ACTIONS)}")
    if not reason.strip():
        raise TuningError("a reason is required: it goes in the audit log and the rule's history")
    current = in_force(store.rule_changes(rule_id)).get(rule_id)
    previous = current.value if current else FROM_FILE
    if action == previous:
        raise TuningError(f"{rule_id} is already set to {action or 'its file'}")
    return store.change_rule(
        rule_id, "action", action, previous=previous, actor=user.name, reason=reason
    )


def undoable(changes: list[RuleChange]) -> RuleChange | None:
    """The change an undo takes back: the newest that is neither an undo nor undone,
    so undoing again goes one step further back, to the rule file's own setting."""
    undone = {c.undoes for c in changes if c.undoes}
    left = [c for c in changes if c.undoes is None and c.id not in undone]
    return left[-1] if left else None


def undo(config: Config, store: Store, rule_id: str, *, user: User, reason: str = "") -> int:
    """Undo the rule's last change: what was in force before it is again."""
    _admin(user)
    changes = store.rule_changes(rule_id)
    target = undoable(changes)
    if target is None:
        raise TuningError(f"{rule_id} has no change to undo: it does what its file says")
    return store.change_rule(
        rule_id,
        target.field,
        target.previous,
        previous=changes[-1].value,
        actor=user.name,
        reason=reason.strip() or f"undo of change {target.id}",
        undoes=target.id,
    )
