"""Logging in and out. Failed logins are counted in the store, per name and per client,
so the limit holds across web processes.

Authentication is one function (``authenticate``) returning a store user;
single sign-on (OIDC) would add a route that ends in the same session set-up.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import argon2
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.mail import now_utc
from gateway.store import Store, User
from gateway.web.context import context, current_user, form_with_csrf, page

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)

_hasher = argon2.PasswordHasher()
# Verifying against this keeps a login for an unknown name as slow as one for a known name.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def authenticate(store: Store, name: str, password: str, client: str) -> User | None:
    since = now_utc() - FAILURE_WINDOW
    if await run_in_threadpool(store.recent_login_failures, name, client, since) >= MAX_FAILURES:
        raise HTTPException(429, "Too many failed logins. Try again in 15 minutes.")
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
        await run_in_threadpool(store.login_failed, name, client)
        return None
    return user


async def login(request: Request) -> Response:
    if request.method == "GET":
        request.session.setdefault("csrf", secrets.token_urlsafe(32))
        return page(request, "login.html", {"next": request.query_params.get("next", "/queue")})
    form = await form_with_csrf(request)
    client = request.client.host if request.client else "?"
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
