"""The approved register: every approved detail and exception, for admins, auditors and
safeguarding leads to read, and for admins to add, edit and end exceptions (see
``gateway.review.register``). Reviewers approve details while releasing a copy."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.mail import DetailKind, Role, now_utc
from gateway.review import register
from gateway.web.context import context, current_user, form_with_csrf, oversees, page, whole_number


def until_text(until: datetime | None, tz: tzinfo) -> str:
    """An approval runs through a whole day (it ends at the next midnight): say that day."""
    if until is None:
        return "no end"
    local = until.astimezone(tz)
    if local.time() == time(0):
        return f"through {(local - timedelta(days=1)):%Y-%m-%d}"
    return f"{local:%Y-%m-%d %H:%M}"


async def approved(request: Request) -> Response:
    user = await current_user(request)
    if not oversees(user):
        raise HTTPException(
            403, "The approved register is for admins, auditors and safeguarding leads."
        )
    config, store = context(request).config, context(request).store
    now = now_utc()
    entries = await run_in_threadpool(register.entries, config, store)
    today = now.astimezone(config.timezone).date()
    return page(
        request,
        "approved.html",
        {
            "entries": [(e, e.state(now)) for e in entries],
            "can_change": Role(user.role).keeps_register,
            "kinds": list(DetailKind),
            "default_until": (today + timedelta(days=30)).isoformat(),
            "tz": config.timezone,
            "until_text": lambda until: until_text(until, config.timezone),
            "timedelta_day": timedelta(days=1),
        },
    )


async def change(request: Request) -> Response:
    user = await current_user(request, lambda role: role.keeps_register)
    config, store = context(request).config, context(request).store
    form = await form_with_csrf(request)
    what = request.path_params.get("what", "add")
    try:
        if what == "add":
            new = await run_in_threadpool(
                lambda: register.add(
                    config,
                    store,
                    user=user,
                    kind=form.get("kind", ""),
                    value=form.get("value", ""),
                    label=form.get("label", ""),
                    senders=form.get("senders", ""),
                    recipients=form.get("recipients", ""),
                    until=form.get("until", ""),
                    reason=form.get("reason", ""),
                )
            )
            done = f"exception {new} added"
        else:
            exception = whole_number(request.path_params["exception"])
            if exception is None:
                raise HTTPException(404, "No such exception.")
            if what == "edit":
                await run_in_threadpool(
                    lambda: register.edit(
                        config,
                        store,
                        exception,
                        user=user,
                        label=form.get("label", ""),
                        senders=form.get("senders", ""),
                        recipients=form.get("recipients", ""),
                        until=form.get("until", ""),
                        reason=form.get("reason", ""),
                    )
                )
                done = f"exception {exception} changed"
            elif what == "end":
                await run_in_threadpool(
                    lambda: register.end(store, exception, user=user, reason=form.get("reason", ""))
                )
                done = f"exception {exception} ended"
            else:
                raise HTTPException(404, "No such action.")
    except register.RegisterError as exc:
        raise HTTPException(400, str(exc)) from None
    request.session["flash"] = done + "; running gateways use it within seconds"
    return RedirectResponse("/approved", 303)
