"""The held-mail queue: filter, sort and page the copies."""

from __future__ import annotations

import math
from datetime import date, timedelta
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.mail import CopyStatus, now_utc
from gateway.review.tuning import copy_outcome
from gateway.web.context import context, current_user, page, whole_number

PAGE_SIZE = 50
# What reviewers' decisions said of the holds (gateway.review.tuning.copy_outcome).
OUTCOMES = {"breach": True, "false-hold": False, "undecided": None}
SHOWN_STATUSES = (
    CopyStatus.HELD,
    CopyStatus.RELEASED,
    CopyStatus.REJECTED,
    CopyStatus.EXPIRED,
    CopyStatus.DELIVERED,
)


async def queue(request: Request) -> Response:
    await current_user(request)
    config, store = context(request).config, context(request).store
    p = request.query_params
    status = p.get("status", CopyStatus.HELD)
    category, sender, recipient, q = (
        p.get(k, "").strip() for k in ("category", "sender", "recipient", "q")
    )
    sort = p.get("sort", "oldest")
    copies = await run_in_threadpool(store.copies, status or None)
    counts: dict[str, int] = {}
    for c in copies:
        for cat in {f.category for f in c.findings} or {"unscanned"}:
            counts[cat] = counts.get(cat, 0) + 1
    if category:
        copies = [c for c in copies if category in {f.category for f in c.findings}]
    if sender:
        copies = [c for c in copies if sender.lower() in c.mail_from.lower()]
    if recipient:
        copies = [c for c in copies if recipient.lower() in c.recipient.lower()]
    if q:
        copies = [c for c in copies if q.lower() in c.subject.lower()]
    # The copies behind a figure of the rules page.
    rule, outcome = p.get("rule", "").strip(), p.get("outcome", "")
    if rule:
        copies = [c for c in copies if rule in {f.rule for f in c.findings}]
    if outcome:
        if outcome not in OUTCOMES:
            raise HTTPException(400, f"The outcome is one of {', '.join(OUTCOMES)}.")
        copies = [c for c in copies if copy_outcome(c) is OUTCOMES[outcome]]
    day_from, day_to = p.get("from", "").strip(), p.get("to", "").strip()
    try:
        if day_from:
            start = date.fromisoformat(day_from)
            copies = [c for c in copies if c.created_at.astimezone(config.timezone).date() >= start]
        if day_to:
            end = date.fromisoformat(day_to)
            copies = [c for c in copies if c.created_at.astimezone(config.timezone).date() <= end]
    except ValueError:
        raise HTTPException(400, "Dates are YYYY-MM-DD.") from None
    assigned = p.get("assigned", "")
    if assigned == "me":
        copies = [c for c in copies if c.assigned_to == request.state.user.name]
    elif assigned == "nobody":
        copies = [c for c in copies if not c.assigned_to]
    if sort == "newest":
        copies.reverse()
    pages = max(1, math.ceil(len(copies) / PAGE_SIZE))
    asked = whole_number(p.get("page", "1") or "1")
    if asked is None:
        raise HTTPException(400, "The page is a number: 1, 2, 3 ...")
    number = min(asked, pages)
    now = now_utc()
    expire = timedelta(seconds=config.relay.expire_seconds)
    rows = []
    for c in copies[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]:
        age = now - c.created_at
        rows.append(
            {
                "item": c,
                "categories": sorted({f.category for f in c.findings}),
                "age": f"{age.days} d"
                if age.days
                else f"{age.seconds // 3600} h {age.seconds % 3600 // 60} min",
                "expires_in_days": max(0, (expire - age).days)
                if c.status == CopyStatus.HELD
                else None,
            }
        )

    def page_link(n: int) -> str:
        return "/queue?" + urlencode({**dict(p), "page": n})

    return page(
        request,
        "queue.html",
        {
            "rows": rows,
            "total": len(copies),
            "counts": sorted(counts.items()),
            "status": status,
            "statuses": [*SHOWN_STATUSES, ""],
            "categories": sorted({r.category for r in config.rules.rules}),
            "category": category,
            "sender": sender,
            "recipient": recipient,
            "q": q,
            "sort": sort,
            "page": number,
            "pages": pages,
            "assigned": assigned,
            "rule": rule,
            "outcome": outcome,
            "day_from": day_from,
            "day_to": day_to,
            "page_link": page_link,
        },
    )
