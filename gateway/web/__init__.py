"""The reviewer's web app: Starlette, server-rendered, every action works without JavaScript.

It reads the same store and calls the same decision service as the CLI, so
any number of web processes and gateway nodes can share one PostgreSQL.

Security, in the order a request meets it:

* every response carries a strict Content-Security-Policy (nothing loads but
  this app's own stylesheet; no script at all), nosniff and no framing;
* the session is a signed cookie (HttpOnly, SameSite=Strict, Secure when
  ``[web] https`` is set) holding only the user name and a CSRF token;
* every page but the login page needs a logged-in, enabled account, whose
  role is read from the store on each request (a role change takes effect
  at once); roles are checked on the server for every action;
* every POST must carry the session's CSRF token;
* failed logins are counted in the store, per name and per client, so the
  limit holds across web processes.

Authentication is one function (``_authenticate``) returning a store user;
single sign-on (OIDC) would add a route that ends in the same session set-up.
"""

from __future__ import annotations

import csv
import hmac
import io
import math
import secrets
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

import argon2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from gateway.config import Config
from gateway.review.decisions import DecisionError, approvable, reject, release, release_with_exception
from gateway.store import Store, User, now_utc
from gateway.review import show

HERE = Path(__file__).parent
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
PAGE_SIZE = 50
DECIDERS = ("reviewer", "admin")
AUDIT_READERS = ("admin", "auditor")

_hasher = argon2.PasswordHasher()
# Verifying against this keeps a login for an unknown name as slow as one for a known name.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class SecurityHeaders:
    """Pure ASGI middleware: headers on every response, errors included."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
                            (b"cache-control", b"no-store")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(config: Config, store: Store, *, secret: str, https: bool = False) -> Starlette:
    templates = Jinja2Templates(directory=str(HERE / "templates"))

    def page(request: Request, name: str, context: dict, status: int = 200) -> Response:
        context = {"user": request.state.user if hasattr(request.state, "user") else None,
                   "csrf": request.session.get("csrf", ""), "flash": request.session.pop("flash", None), **context}
        return templates.TemplateResponse(request, name, context, status_code=status)

    async def current_user(request: Request, roles: tuple[str, ...] = ()) -> User:
        name = request.session.get("user")
        user = await run_in_threadpool(store.user, name) if name else None
        if user is None or user.disabled:
            request.session.clear()
            raise HTTPException(303, headers={"location": "/login?" + urlencode({"next": request.url.path})})
        request.state.user = user
        if roles and user.role not in roles:
            raise HTTPException(403, f"Your role ({user.role}) cannot do this.")
        return user

    async def form_with_csrf(request: Request) -> dict:
        form = await request.form()
        expected = request.session.get("csrf", "")
        if not expected or not hmac.compare_digest(expected, str(form.get("csrf", ""))):
            raise HTTPException(403, "The form has expired or did not come from this site. Go back, reload, and try again.")
        return {k: str(v) for k, v in form.items()}

    # -- login --------------------------------------------------------------------
    async def _authenticate(name: str, password: str, client: str) -> User | None:
        since = now_utc() - FAILURE_WINDOW
        if await run_in_threadpool(store.recent_login_failures, name, client, since) >= MAX_FAILURES:
            raise HTTPException(429, "Too many failed logins. Try again in 15 minutes.")
        user = await run_in_threadpool(store.user, name)
        ok = False
        try:
            ok = await run_in_threadpool(_hasher.verify, user.password_hash if user and user.password_hash
                                         else _DUMMY_HASH, password)
        except argon2.exceptions.VerificationError:
            ok = False
        except argon2.exceptions.InvalidHashError:
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
        user = await _authenticate(form.get("name", ""), form.get("password", ""), client)
        if user is None:
            return page(request, "login.html", {"error": "Wrong user name or password.", "next": form.get("next", "")},
                        status=401)
        request.session.clear()  # a fresh session and token: no fixation
        request.session.update({"user": user.name, "csrf": secrets.token_urlsafe(32)})
        await run_in_threadpool(store.audit, user.name, "logged-in", detail={"client": client})
        target = form.get("next", "/queue")
        # Only a path on this site: "//host" and "/\\host" would send the browser elsewhere.
        local = target.startswith("/") and not target.startswith(("//", "/\\"))
        return RedirectResponse(target if local else "/queue", 303)

    async def logout(request: Request) -> Response:
        await current_user(request)
        await form_with_csrf(request)
        request.session.clear()
        return RedirectResponse("/login", 303)

    # -- the queue ----------------------------------------------------------------
    async def queue(request: Request) -> Response:
        await current_user(request)
        p = request.query_params
        status = p.get("status", "held")
        category, sender, recipient, q = (p.get(k, "").strip() for k in ("category", "sender", "recipient", "q"))
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
        number = min(max(1, int(p.get("page", "1") or 1)), pages)
        now = now_utc()
        expire = timedelta(seconds=config.relay.expire_seconds)
        rows = []
        for c in copies[(number - 1) * PAGE_SIZE: number * PAGE_SIZE]:
            age = now - c.created_at
            rows.append({"item": c, "categories": sorted({f.category for f in c.findings}),
                         "age": f"{age.days} d" if age.days else f"{age.seconds // 3600} h {age.seconds % 3600 // 60} min",
                         "expires_in_days": max(0, (expire - age).days) if c.status == "held" else None})

        def page_link(n: int) -> str:
            return "/queue?" + urlencode({**dict(p), "page": n})

        return page(request, "queue.html", {
            "rows": rows, "total": len(copies), "counts": sorted(counts.items()), "status": status,
            "statuses": ["held", "released", "rejected", "expired", "delivered", ""],
            "categories": sorted({r.category for r in config.rules.rules}), "category": category,
            "sender": sender, "recipient": recipient, "q": q, "sort": sort, "page": number, "pages": pages,
            "assigned": assigned, "day_from": day_from, "day_to": day_to,
            "page_link": page_link})

    # -- one copy -------------------------------------------------------------------
    async def load_copy(request: Request):
        copy = await run_in_threadpool(store.copy, int(request.path_params["copy_id"]))
        if copy is None or copy.kind != "mail":
            raise HTTPException(404, "No such held copy.")
        message = await run_in_threadpool(store.message, copy.message_id)
        return copy, message

    async def view_copy(request: Request) -> Response:
        user = await current_user(request)
        copy, message = await load_copy(request)
        await run_in_threadpool(store.audit, user.name, "viewed", message_id=copy.message_id, copy_id=copy.id)
        findings = []
        for f in copy.findings:
            try:
                clause = config.rules.by_id(f.rule).clause
            except StopIteration:
                clause = ""
            findings.append({**f.as_json(), "clause": clause, "note": f.note})
        others = [o for o in await run_in_threadpool(store.copies_of, copy.message_id) if o.id != copy.id]
        return page(request, "copy.html", {
            "copy": copy, "message": message, "findings": findings, "others": others,
            "segments": show.segments(message.raw, copy.findings, config.directory.is_colleague),
            "html_parts": show.html_parts(message.raw), "attachments": [a for a, _ in show.attachments(message.raw)],
            "can_decide": user.role in DECIDERS,
            "approvable": [{"index": i, "kind": kind, "value": value, "evidence": copy.findings[i].evidence}
                           for i, kind, value in approvable(config, copy)],
            "default_until": (now_utc() + timedelta(days=30)).date().isoformat(),
            "reviewers": [u.name for u in await run_in_threadpool(store.users)
                          if u.role in DECIDERS and not u.disabled],
            "own_mail": bool(user.email) and user.email.lower() == copy.mail_from.lower()})

    async def raw_source(request: Request) -> Response:
        user = await current_user(request)
        copy, message = await load_copy(request)
        await run_in_threadpool(store.audit, user.name, "viewed-raw", message_id=copy.message_id, copy_id=copy.id)
        return PlainTextResponse(message.raw.decode("utf-8", "replace"),
                                 headers={"content-disposition": f'inline; filename="{copy.message_id}.txt"'})

    async def attachment(request: Request) -> Response:
        user = await current_user(request)
        copy, message = await load_copy(request)
        index = int(request.path_params["index"])
        for a, payload in show.attachments(message.raw):
            if a.index == index:
                await run_in_threadpool(store.audit, user.name, "downloaded", message_id=copy.message_id,
                                        copy_id=copy.id, detail={"attachment": a.name})
                safe = "".join(ch for ch in a.name if ch.isalnum() or ch in "._- ")[:100] or "attachment"
                # Always a download, never rendered: an HTML or SVG attachment cannot run here.
                return Response(payload, media_type="application/octet-stream",
                                headers={"content-disposition": f'attachment; filename="{safe}"'})
        raise HTTPException(404, "No such attachment.")

    async def decide(request: Request) -> Response:
        user = await current_user(request, DECIDERS)
        form = await form_with_csrf(request)
        action = request.path_params["action"]
        if action not in ("release", "reject", "approve", "assign"):
            raise HTTPException(404, "No such action.")
        copy, _ = await load_copy(request)
        if action == "assign":
            to = form.get("to", "").strip() or None
            reviewers = {u.name for u in await run_in_threadpool(store.users) if u.role in DECIDERS and not u.disabled}
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
                results = await run_in_threadpool(lambda: release_with_exception(
                    config, store, copy.id, actor=user.name, reason=form.get("reason", ""), finding=index,
                    scope=form.get("approve_scope", "sender"), until=until, actor_email=user.email))
            elif action == "release":
                results = await run_in_threadpool(lambda: release(config, store, target, actor=user.name,
                                                                  reason=form.get("reason", ""), actor_email=user.email))
            else:
                results = await run_in_threadpool(lambda: reject(
                    config, store, target, actor=user.name, reason=form.get("reason", ""),
                    tell_sender=form.get("tell_sender", ""), actor_email=user.email))
        except DecisionError as exc:
            raise HTTPException(403 if "another reviewer" in str(exc) else 400, str(exc)) from None
        request.session["flash"] = "; ".join(r.describe() for r in results)
        return RedirectResponse(f"/copy/{copy.id}", 303)

    # -- audit --------------------------------------------------------------------
    async def audit_entries(request: Request):
        await current_user(request, AUDIT_READERS)
        p = request.query_params
        copy = p.get("copy", "").strip()
        return await run_in_threadpool(lambda: store.audit_log(int(copy) if copy.isdigit() else None, 5000,
                                                               actor=p.get("actor", "").strip() or None,
                                                               action=p.get("action", "").strip() or None,
                                                               newest_first=True))

    async def audit(request: Request) -> Response:
        entries = await audit_entries(request)
        p = request.query_params
        return page(request, "audit.html", {"entries": entries, "actor": p.get("actor", ""),
                                            "action": p.get("action", ""), "copy": p.get("copy", "")})

    async def audit_csv(request: Request) -> Response:
        entries = await audit_entries(request)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["at", "actor", "action", "message", "copy", "detail"])
        for e in entries:
            # A cell starting with = + - @ is a formula to a spreadsheet: quote it.
            cells = [e.at.isoformat(), e.actor, e.action, e.message_id or "", e.copy_id or "", str(e.detail)]
            writer.writerow(["'" + c if isinstance(c, str) and c[:1] in "=+-@" else c for c in cells])
        return Response(out.getvalue(), media_type="text/csv",
                        headers={"content-disposition": 'attachment; filename="chaperone-audit.csv"'})

    async def home(request: Request) -> Response:
        return RedirectResponse("/queue", 303)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code in (301, 302, 303) and exc.headers:
            return Response(status_code=exc.status_code, headers=exc.headers)
        return page(request, "error.html", {"status": exc.status_code, "message": exc.detail}, status=exc.status_code)

    routes = [
        Route("/", home),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/queue", queue),
        Route("/copy/{copy_id:int}", view_copy),
        Route("/copy/{copy_id:int}/raw", raw_source),
        Route("/copy/{copy_id:int}/attachment/{index:int}", attachment),
        Route("/copy/{copy_id:int}/{action:str}", decide, methods=["POST"]),
        Route("/audit", audit),
        Route("/audit.csv", audit_csv),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error}, middleware=[
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret, session_cookie="chaperone_session", same_site="strict",
                   https_only=https, max_age=8 * 3600),
    ])
    return app
