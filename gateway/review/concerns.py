"""Patterns across messages: one personal number is a slip; the fifth hold for the same
member of staff in a month is a concern to record.

In English schools' statutory guidance ("Keeping children safe in education")
low-level concerns about staff are recorded and reviewed. When a sender's
confirmed breaches (copies rejected, or released as "a breach, but allowed")
in ``[concerns] days`` reach ``[concerns] breaches`` messages, an entry opens
in the concerns log (``Store.open_concern``: once, however many reviewers
decide at the same moment) and every safeguarding lead is told by mail. A
message counts towards one entry only, so the next entry needs new breaches.
Leads annotate and close entries, and export the log as CSV (the web app).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from gateway.config import Config
from gateway.mail import now_utc
from gateway.review.notices import build, one_line, render
from gateway.store import Breach, Store, StoreError

log = logging.getLogger("chaperone")

# The notice to leads, unless the school's templates folder has concern.txt.
CONCERN_TEMPLATE = """\
A concern has been opened in the concerns log for $sender.

$summary

Their holds and the decisions on them: $history_link
The concerns log: $log_link

You are told because your account is a safeguarding lead's. Add a note to the
entry, or close it, in the concerns log.
Reference: concern $concern
"""


def _summary(config: Config, breaches: list[Breach]) -> str:
    tz = config.timezone
    first, last = breaches[0].decided_at.astimezone(tz), breaches[-1].decided_at.astimezone(tz)
    return (
        f"{len(breaches)} messages confirmed as breaches by reviewers between "
        f"{first:%d %b %Y} and {last:%d %b %Y} (the threshold is {config.concerns.breaches} "
        f"in {config.concerns.days:g} days): " + ", ".join(b.message_id for b in breaches)
    )


def after_breach(config: Config, store: Store, sender: str) -> int | None:
    """After a reviewer confirmed a breach by ``sender``: open a concern if they crossed
    the threshold, and tell the leads. Its id, or None. A failure here is logged and
    never undoes the decision that called it."""
    settings = config.concerns
    if not settings.breaches or not sender:
        return None
    at = now_utc()
    try:
        concern = store.open_concern(
            sender,
            threshold=settings.breaches,
            since=at - timedelta(days=settings.days),
            summary=lambda breaches: _summary(config, breaches),
            at=at,
        )
        if concern is None:
            return None
        notify_leads(config, store, concern)
    except StoreError as exc:
        log.error("concerns log: store unavailable", extra={"json": {"error": str(exc)}})
        return None
    return concern


def notify_leads(config: Config, store: Store, concern_id: int) -> int:
    """A notice to every enabled lead with an address; how many were queued."""
    concern = next(c for c in store.concerns() if c.id == concern_id)
    base = config.notices.review_url.rstrip("/") if config.notices.review_url else ""
    values = {
        "sender": one_line(concern.sender, 200),
        "summary": concern.summary,
        "concern": str(concern.id),
        "history_link": f"{base}/senders/{concern.sender}" if base else "the web app, Senders",
        "log_link": f"{base}/concerns" if base else "the web app, Concerns",
    }
    text = render(config.notices.templates.get("concern", CONCERN_TEMPLATE), **values)
    sent = 0
    for lead in store.users():
        if not lead.lead or lead.disabled or not lead.email:
            continue
        notice = build(
            config.notices,
            to=lead.email,
            subject=f"[Chaperone] concern: {one_line(concern.sender, 100)}",
            body=text,
            at=now_utc(),
            hostname=config.relay.hostname,
            recipient_class=config.directory.classify(lead.email),
            reason="notice: concern",
        )
        store.accept(
            notice.envelope, notice.raw, notice.copies, subject=notice.subject, kind="notice"
        )
        sent += 1
    return sent
