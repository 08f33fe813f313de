"""Patterns across messages: each sender's holds over time, and the concerns log.

Only admins and safeguarding leads see senders' histories; only leads see,
annotate and export the concerns log (see ``gateway.review.concerns``).
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.mail import Role, now_utc
from gateway.review.tuning import RELEASE_VERDICTS, copy_outcome
from gateway.store import User
from gateway.web.context import context, current_user, form_with_csrf, page, whole_number


def sees_senders(user: User) -> bool:
    return Role(user.role) is Role.ADMIN or user.lead


async def _lead(request: Request) -> User:
    user = await current_user(request)
    if not user.lead:
        raise HTTPException(403, "Only a safeguarding lead sees the concerns log.")
    return user


async def senders(request: Request) -> Response:
    user = await current_user(request)
    if not sees_senders(user):
        raise HTTPException(403, "Only admins and safeguarding leads see senders' histories.")
    store = context(request).store
    rows = await run_in_threadpool(store.senders_with_holds, now_utc() - timedelta(days=90))
    return page(request, "senders.html", {"rows": rows})


async def sender(request: Request) -> Response:
    user = await current_user(request)
    if not sees_senders(user):
        raise HTTPException(403, "Only admins and safeguarding leads see senders' histories.")
    store = context(request).store
    address = request.path_params["address"].lower()
    copies = await run_in_threadpool(store.sender_copies, address)
    concerns = [c for c in await run_in_threadpool(store.concerns) if c.sender == address]
    rows = [
        {
            "item": c,
            "categories": sorted({f.category for f in c.findings}),
            "rules": sorted({f.rule for f in c.findings}),
            "outcome": copy_outcome(c),
        }
        for c in reversed(copies)
    ]
    return page(
        request,
        "sender.html",
        {
            "address": address,
            "rows": rows,
            "concerns": concerns if user.lead else [],
            "verdicts": RELEASE_VERDICTS,
            "breaches": sum(1 for r in rows if r["outcome"] is True),
        },
    )


async def concerns(request: Request) -> Response:
    await _lead(request)
    store = context(request).store
    return page(request, "concerns.html", {"concerns": await run_in_threadpool(store.concerns)})


async def concerns_csv(request: Request) -> Response:
    user = await _lead(request)
    store = context(request).store
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "id",
            "sender",
            "opened_at",
            "status",
            "closed_by",
            "closed_at",
            "summary",
            "messages",
            "notes",
        ]
    )
    for c in await run_in_threadpool(store.concerns):
        w.writerow(
            [
                c.id,
                c.sender,
                c.opened_at.isoformat(),
                c.status,
                c.closed_by or "",
                c.closed_at.isoformat() if c.closed_at else "",
                c.summary,
                " ".join(c.messages),
                " | ".join(f"{at.isoformat()} {who}: {text}" for who, at, text in c.notes),
            ]
        )
    await run_in_threadpool(store.audit, user.name, "exported-concerns")
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="concerns.csv"'},
    )


async def note(request: Request) -> Response:
    user = await _lead(request)
    store = context(request).store
    form = await form_with_csrf(request)
    concern = whole_number(request.path_params["concern"])
    text = form.get("text", "").strip()
    if concern is None:
        raise HTTPException(404, "No such concern.")
    if not text:
        raise HTTPException(400, "Write the note: it is the record of what was done.")
    close = form.get("close") == "yes"
    done = await run_in_threadpool(
        lambda: store.concern_note(concern, actor=user.name, text=text, close=close)
    )
    if not done:
        raise HTTPException(404, "No such concern.")
    request.session["flash"] = f"concern {concern}: " + ("closed" if close else "note added")
    return RedirectResponse(f"/concerns#concern-{concern}", 303)
