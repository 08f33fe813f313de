"""What every page handler reads: the configuration, the store, the templates, and who is asking."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from gateway.config import Config
from gateway.mail import Role
from gateway.store import Store, User

HERE = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class WebContext:
    config: Config
    store: Store
    templates: Jinja2Templates


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.chaperone
    return ctx


def page(request: Request, name: str, values: dict, status: int = 200) -> Response:
    values = {
        "user": getattr(request.state, "user", None),
        "csrf": request.session.get("csrf", ""),
        "flash": request.session.pop("flash", None),
        **values,
    }
    return context(request).templates.TemplateResponse(request, name, values, status_code=status)


async def current_user(request: Request, allowed: Callable[[Role], bool] | None = None) -> User:
    """The logged-in, enabled account (read from the store on every request), or a redirect to log in."""
    name = request.session.get("user")
    store = context(request).store
    user = await run_in_threadpool(store.user, name) if name else None
    # A session issued before the account's last logout, password, role or
    # disabled change is over, however long its signed cookie would last.
    if (
        user is None
        or user.disabled
        or request.session.get("generation") != user.session_generation
    ):
        request.session.clear()
        raise HTTPException(
            303, headers={"location": "/login?" + urlencode({"next": request.url.path})}
        )
    request.state.user = user
    if allowed is not None and not allowed(Role(user.role)):
        raise HTTPException(403, f"Your role ({user.role}) cannot do this.")
    return user


# Ids are 64-bit signed in both databases: a larger number is no row, not a store error.
MAX_ID = 2**63 - 1


def whole_number(text: str) -> int | None:
    """A positive whole number written in ASCII digits that a database id can hold, else None.

    ``str.isdigit`` and ``int`` also accept digits such as "²" and "١", and
    ``int`` any length: both used to end in a 500.
    """
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def oversees(user: User) -> bool:
    """Reads the pages about the gateway as a whole (the approved register, the
    dashboard): admins, auditors and safeguarding leads."""
    return Role(user.role).reads_rules or user.lead


def decides(role: Role) -> bool:
    return role.decides


def reads_audit(role: Role) -> bool:
    return role.reads_audit


async def form_with_csrf(request: Request) -> dict[str, str]:
    form = await request.form()
    expected = request.session.get("csrf", "")
    if not expected or not hmac.compare_digest(expected, str(form.get("csrf", ""))):
        raise HTTPException(
            403,
            "The form has expired or did not come from this site. Go back, reload, and try again.",
        )
    return {k: str(v) for k, v in form.items()}
