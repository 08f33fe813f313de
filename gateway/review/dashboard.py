"""The dashboard's figures: holds per week by category and by outcome, each rule's
precision from decisions month by month, the oldest waiting copies, and how long
reviewers take to decide. Plain numbers; the web app draws them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from gateway.config import Config
from gateway.mail import CopyStatus
from gateway.review.tuning import confirms_breach
from gateway.store import CopyRecord, RuleHit, Store

WEEKS = 12
MONTHS = 6
RULES_SHOWN = 5  # the rules with most decided copies get a precision line each
OUTCOMES = ("confirmed breach", "false hold", "waiting", "expired")


@dataclass(frozen=True, slots=True)
class Dashboard:
    weeks: list[str]  # "2026-11-30": each week's Monday
    by_category: dict[str, list[int]]  # copies held or refused, per week
    by_outcome: dict[str, list[int]]
    months: list[str]  # "2026-11"
    precision: dict[str, list[float | None]]  # per rule, per month (by when it was held)
    decision_hours: dict[str, list[float]]  # median and 90th percentile, per week decided
    oldest: list[CopyRecord]  # held longest, still waiting


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _outcome(h: RuleHit) -> str:
    breach = confirms_breach(h.status, h.decided, h.verdict)
    if breach is True:
        return "confirmed breach"
    if breach is False:
        return "false hold"
    return "expired" if h.status == CopyStatus.EXPIRED else "waiting"


def dashboard(config: Config, store: Store, now: datetime) -> Dashboard:
    tz = config.timezone
    today = now.astimezone(tz).date()
    mondays = [_monday(today) - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]
    first_month = date(today.year, today.month, 1)
    months: list[date] = []
    for _ in range(MONTHS):
        months.insert(0, first_month)
        first_month = (first_month - timedelta(days=1)).replace(day=1)
    since = datetime.combine(min(mondays[0], months[0]), datetime.min.time(), tz)
    hits = store.rule_hits(since)

    week_of = {m: i for i, m in enumerate(mondays)}
    categories = sorted({h.category for h in hits})
    by_category = {c: [0] * WEEKS for c in categories}
    by_outcome = {o: [0] * WEEKS for o in OUTCOMES}
    seen_category: set[tuple[int, str]] = set()
    seen_copy: set[int] = set()
    for h in hits:
        week = week_of.get(_monday(h.created_at.astimezone(tz).date()))
        if week is None:
            continue
        if (h.copy_id, h.category) not in seen_category:
            seen_category.add((h.copy_id, h.category))
            by_category[h.category][week] += 1
        if h.copy_id not in seen_copy:
            seen_copy.add(h.copy_id)
            by_outcome[_outcome(h)][week] += 1

    month_of = {(m.year, m.month): i for i, m in enumerate(months)}
    tallies: dict[str, list[list[int]]] = {}
    for h in hits:
        month = month_of.get((h.created_at.astimezone(tz).year, h.created_at.astimezone(tz).month))
        right = confirms_breach(h.status, h.decided, h.verdict)
        if month is None or right is None:
            continue
        tallies.setdefault(h.rule, [[0, 0] for _ in months])[month][0 if right else 1] += 1
    busiest = sorted(tallies, key=lambda r: -sum(a + b for a, b in tallies[r]))[:RULES_SHOWN]
    precision = {
        rule: [a / (a + b) if a + b else None for a, b in tallies[rule]] for rule in sorted(busiest)
    }

    waits: list[list[float]] = [[] for _ in mondays]
    for h in {h.copy_id: h for h in hits if h.decided and h.decided_at}.values():
        assert h.decided_at is not None
        week = week_of.get(_monday(h.decided_at.astimezone(tz).date()))
        if week is not None:
            waits[week].append((h.decided_at - h.created_at).total_seconds() / 3600)
    decision_hours = {
        "median": [round(statistics.median(w), 1) if w else 0.0 for w in waits],
        "90th percentile": [
            round(statistics.quantiles(w, n=10)[-1] if len(w) > 1 else (w[0] if w else 0.0), 1)
            for w in waits
        ],
    }
    oldest = store.copies(CopyStatus.HELD, limit=10)
    return Dashboard(
        [m.isoformat() for m in mondays],
        by_category,
        by_outcome,
        [f"{m:%Y-%m}" for m in months],
        precision,
        decision_hours,
        oldest,
    )
