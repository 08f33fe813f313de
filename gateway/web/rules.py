"""The rules page: every rule with its hits and its precision from reviewers' decisions,
and, for admins, changing a rule's action (see ``gateway.review.tuning``)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.config import Config
from gateway.judge.rules import Rule
from gateway.mail import Role, now_utc
from gateway.review import tuning
from gateway.web.context import context, current_user, form_with_csrf, page


def reads_rules(role: Role) -> bool:
    return role.reads_rules


def tunes_rules(role: Role) -> bool:
    return role.tunes_rules


def where(config: Config, rule: Rule) -> str:
    """The rule's file and line, relative to the installation (the configuration's parent)."""
    path, _, line = rule.source.rpartition(":")
    with contextlib.suppress(ValueError):  # a rule file outside it keeps its full path
        path = str(Path(path).relative_to(config.path.parent.parent))
    return f"{path}:{line}"


def copies_link(rule: Rule, **filters: str) -> str:
    """The queue, showing the copies behind one of a rule's figures."""
    return "/queue?" + urlencode({"status": "", "rule": rule.id, **filters})


async def rules(request: Request) -> Response:
    user = await current_user(request, reads_rules)
    config, store = context(request).config, context(request).store
    now = now_utc()
    figures = await run_in_threadpool(tuning.rule_figures, config, store, now)
    today = now.astimezone(config.timezone).date()
    return page(
        request,
        "rules.html",
        {
            "figures": figures,
            "can_tune": Role(user.role).tunes_rules,
            "actions": tuning.APP_ACTIONS,
            "link": copies_link,
            "where": lambda rule: where(config, rule),
            "since_7": (today - timedelta(days=6)).isoformat(),
            "since_30": (today - timedelta(days=29)).isoformat(),
        },
    )


async def rule_page(request: Request) -> Response:
    user = await current_user(request, reads_rules)
    config, store = context(request).config, context(request).store
    rule = config.rules.get(request.path_params["rule_id"])
    if rule is None:
        raise HTTPException(404, "No such rule is loaded.")
    figures = next(
        f
        for f in await run_in_threadpool(tuning.rule_figures, config, store, now_utc())
        if f.rule.id == rule.id
    )
    history = await run_in_threadpool(store.rule_changes, rule.id)
    return page(
        request,
        "rule.html",
        {
            "f": figures,
            "history": history,
            "undo": tuning.undoable(history),
            "can_tune": Role(user.role).tunes_rules,
            "actions": tuning.APP_ACTIONS,
            "link": copies_link,
            "where": where(config, rule),
        },
    )


async def change(request: Request) -> Response:
    user = await current_user(request, tunes_rules)
    config, store = context(request).config, context(request).store
    form = await form_with_csrf(request)
    rule_id, what = request.path_params["rule_id"], request.path_params["what"]
    try:
        if what == "action":
            await run_in_threadpool(
                lambda: tuning.set_action(
                    config,
                    store,
                    rule_id,
                    form.get("action", ""),
                    user=user,
                    reason=form.get("reason", ""),
                )
            )
            done = f"{rule_id}: now {form.get('action') or 'as its file says'}"
        elif what == "undo":
            await run_in_threadpool(
                lambda: tuning.undo(
                    config, store, rule_id, user=user, reason=form.get("reason", "")
                )
            )
            done = f"{rule_id}: the last change is undone"
        else:
            raise HTTPException(404, "No such action.")
    except tuning.TuningError as exc:
        raise HTTPException(400, str(exc)) from None
    request.session["flash"] = done + "; running gateways use it within seconds"
    return RedirectResponse(f"/rules/{rule_id}", 303)
