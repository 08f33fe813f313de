"""Logging in and out. Each attempt is reserved in the store, per name and per
client, before its password is checked, so the limit holds across web
processes and concurrent attempts.

Authentication is one function (``authenticate``) returning a store user;
single sign-on (OIDC) would add a route that ends in the same session set-up.
"""

from __future__ import annotations

import math
import secrets
from ipaddress import IPv4Network, IPv6Network, ip_address

import argon2
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.mail import now_utc
from gateway.review.logins import FAILURE_WINDOW, seconds_to_wait
from gateway.store import Store, User
from gateway.web.context import context, current_user, form_with_csrf, page

_hasher = argon2.PasswordHasher()
# Verifying against this keeps a login for an unknown name as slow as one for a known name.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class TooManyFailures(HTTPException):
    def __init__(self, seconds: float) -> None:
        wait = max(1, math.ceil(seconds))
        when = f"{wait} seconds" if wait < 120 else f"{math.ceil(wait / 60)} minutes"
        super().__init__(
            429,
            f"Too many failed logins. Try again in {when}.",
            headers={"retry-after": str(wait)},
        )


def client_address(request: Request, trusted_proxies: tuple[IPv4Network | IPv6Network, ...]) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the
    last address in X-Forwarded-For that is not one (the ones before it are
    whatever the client chose to send)."""
    peer = request.client.host if request.client else "?"

    def trusted(address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted_proxies)

    if not trusted(peer):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not trusted(hop):
            return hop
    return peer


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def authenticate(store: Store, name: str, password: str, client: str) -> User | None:
    now = now_utc()
    reserved = await run_in_threadpool(
        lambda: store.reserve_login(
            name, client, now - FAILURE_WINDOW, lambda h: seconds_to_wait(h, now), at=now
        )
    )
    if isinstance(reserved, float):
        raise TooManyFailures(reserved)
    user = await run_in_threadpool(store.user, name)
    ok = False
    try:
        ok = await run_in_threadpool(
            _hasher.verify,
            user.password_hash if user and user.password_hash else _DUMMY_HASH,
            password,
        )
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        return None  # the reserved attempt stays counted as a failure
    await run_in_threadpool(store.login_succeeded, reserved, name, client)
    return user


async def login(request: Request) -> Response:
    if request.method == "GET":
        request.session.setdefault("csrf", secrets.token_urlsafe(32))
        return page(request, "login.html", {"next": request.query_params.get("next", "/queue")})
    form = await form_with_csrf(request)
    client = client_address(request, context(request).config.web.trusted_proxies)
    store = context(request).store
    user = await authenticate(store, form.get("name", ""), form.get("password", ""), client)
    if user is None:
        return page(
            request,
            "login.html",
            {"error": "Wrong user name or password.", "next": form.get("next", "")},
            status=401,
        )
    request.session.clear()  # a fresh session and token: no fixation
    request.session.update(
        {
            "user": user.name,
            "generation": user.session_generation,
            "csrf": secrets.token_urlsafe(32),
        }
    )
    await run_in_threadpool(store.audit, user.name, "logged-in", detail={"client": client})
    target = form.get("next", "/queue")
    # Only a path on this site: "//host" and "/\\host" would send the browser elsewhere.
    local = target.startswith("/") and not target.startswith(("//", "/\\"))
    return RedirectResponse(target if local else "/queue", 303)


async def logout(request: Request) -> Response:
    user = await current_user(request)
    await form_with_csrf(request)
    # Ends the account's sessions on every device: a copied cookie stops working too.
    await run_in_threadpool(
        lambda: context(request).store.end_sessions(user.name, actor=user.name, why="logged out")
    )
    request.session.clear()
    return RedirectResponse("/login", 303)
