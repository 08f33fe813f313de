"""One held copy: the reviewer's view of it, its raw source, its attachments, and the decisions on it."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from gateway.mail import Role, now_utc
from gateway.review.decisions import (
    DecisionError,
    NotYoursToDecide,
    approvable,
    is_own_mail,
    reject,
    release,
    release_with_exception,
)
from gateway.review.held import attachments, held_copy
from gateway.review.tuning import RELEASE_VERDICTS
from gateway.store import CopyRecord, MessageRecord
from gateway.web import markup
from gateway.web.context import MAX_ID, context, current_user, decides, form_with_csrf, page


def content_disposition(kind: str, name: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients and the real name as
    ``filename*=UTF-8''...`` (RFC 8187), so any name is a valid header, never a 500.

    Only letters, digits and ``._- `` survive, so a name cannot end the quoted
    string, add a parameter or a path."""
    kept = "".join(ch for ch in name if ch.isalnum() or ch in "._- ").strip()[:100]
    fallback = "".join(ch if ch.isascii() else "_" for ch in kept) or "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(kept or fallback, safe='')}"


async def load_copy(request: Request) -> tuple[CopyRecord, MessageRecord]:
    store = context(request).store
    copy_id = request.path_params["copy_id"]
    copy = await run_in_threadpool(store.copy, copy_id) if 0 < copy_id <= MAX_ID else None
    if copy is None or copy.kind != "mail":
        raise HTTPException(404, "No such held copy.")
    message = await run_in_threadpool(store.message, copy.message_id)
    if message is None:
        raise HTTPException(404, "No such held copy.")
    return copy, message


async def view_copy(request: Request) -> Response:
    user = await current_user(request)
    config, store = context(request).config, context(request).store
    copy, message = await load_copy(request)
    await run_in_threadpool(
        store.audit, user.name, "viewed", message_id=copy.message_id, copy_id=copy.id
    )
    held = held_copy(config, copy, message)
    findings = [
        {**s.finding.as_json(), "clause": s.clause, "note": s.finding.note} for s in held.findings
    ]
    others = [
        o for o in await run_in_threadpool(store.copies_of, copy.message_id) if o.id != copy.id
    ]
    return page(
        request,
        "copy.html",
        {
            "copy": copy,
            "message": message,
            "findings": findings,
            "others": others,
            "warnings": held.warnings,
            "segments": markup.segments(held),
            "html_parts": markup.sanitised_html_parts(message.raw),
            "attachments": list(held.attachments),
            "can_decide": Role(user.role).decides,
            "verdicts": RELEASE_VERDICTS,
            "approvable": [
                {"index": i, "kind": kind, "value": value, "evidence": copy.findings[i].evidence}
                for i, kind, value in approvable(config, copy)
            ],
            "default_until": (now_utc() + timedelta(days=30)).date().isoformat(),
            "reviewers": [
                u.name
                for u in await run_in_threadpool(store.users)
                if Role(u.role).decides and not u.disabled
            ],
            "approvals": await run_in_threadpool(store.release_approvals, copy.id)
            if copy.status == "held"
            else [],
            "proposed": await run_in_threadpool(store.proposed_exceptions, copy.id),
            "own_mail": bool(user.email)
            and await run_in_threadpool(is_own_mail, config, store, copy, user),
        },
    )


async def raw_source(request: Request) -> Response:
    user = await current_user(request)
    store = context(request).store
    copy, message = await load_copy(request)
    await run_in_threadpool(
        store.audit, user.name, "viewed-raw", message_id=copy.message_id, copy_id=copy.id
    )
    return PlainTextResponse(
        message.raw.decode("utf-8", "replace"),
        headers={"content-disposition": content_disposition("inline", f"{copy.message_id}.txt")},
    )


async def attachment(request: Request) -> Response:
    user = await current_user(request)
    store = context(request).store
    copy, message = await load_copy(request)
    index = int(request.path_params["index"])
    for a, payload in attachments(message.raw):
        if a.index == index:
            await run_in_threadpool(
                store.audit,
                user.name,
                "downloaded",
                message_id=copy.message_id,
                copy_id=copy.id,
                detail={"attachment": a.name},
            )
            # Always a download, never rendered: an HTML or SVG attachment cannot run here.
            return Response(
                payload,
                media_type="application/octet-stream",
                headers={"content-disposition": content_disposition("attachment", a.name)},
            )
    raise HTTPException(404, "No such attachment.")


async def decide(request: Request) -> Response:
    user = await current_user(request, decides)
    config, store = context(request).config, context(request).store
    form = await form_with_csrf(request)
    action = request.path_params["action"]
    if action not in ("release", "reject", "approve", "assign"):
        raise HTTPException(404, "No such action.")
    copy, _ = await load_copy(request)
    if action == "assign":
        to = form.get("to", "").strip() or None
        reviewers = {
            u.name
            for u in await run_in_threadpool(store.users)
            if Role(u.role).decides and not u.disabled
        }
        if to is not None and to not in reviewers:
            raise HTTPException(400, "Assign to a reviewer or admin account.")
        if not await run_in_threadpool(lambda: store.assign(copy.id, to, actor=user.name)):
            raise HTTPException(400, "Only a held copy can be assigned.")
        request.session["flash"] = f"copy {copy.id} assigned to {to or 'nobody'}"
        return RedirectResponse(f"/copy/{copy.id}", 303)
    target = copy.message_id if form.get("scope") == "message" else str(copy.id)
    try:
        if action == "approve":
            try:
                until = date.fromisoformat(form.get("until", ""))
                index = int(form.get("finding", ""))
            except ValueError:
                raise DecisionError("choose the detail to approve and an expiry date") from None
            results = await run_in_threadpool(
                lambda: release_with_exception(
                    config,
                    store,
                    copy.id,
                    actor=user.name,
                    reason=form.get("reason", ""),
                    finding=index,
                    scope=form.get("approve_scope", "sender"),
                    until=until,
                )
            )
        elif action == "release":
            results = await run_in_threadpool(
                lambda: release(
                    config,
                    store,
                    target,
                    actor=user.name,
                    reason=form.get("reason", ""),
                    verdict=form.get("verdict", "") or None,
                )
            )
        else:
            results = await run_in_threadpool(
                lambda: reject(
                    config,
                    store,
                    target,
                    actor=user.name,
                    reason=form.get("reason", ""),
                    tell_sender=form.get("tell_sender", ""),
                )
            )
    except NotYoursToDecide as exc:
        raise HTTPException(403, str(exc)) from None
    except DecisionError as exc:
        raise HTTPException(400, str(exc)) from None
    request.session["flash"] = "; ".join(r.describe() for r in results)
    return RedirectResponse(f"/copy/{copy.id}", 303)
