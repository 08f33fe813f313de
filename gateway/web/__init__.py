"""The reviewer's web app: Starlette, server-rendered, every action works without JavaScript.

It reads the same store and calls the same decision service as the CLI, so
any number of web processes and gateway nodes can share one PostgreSQL.

Security, in the order a request meets it:

* every response, errors and 500s included, carries a strict
  Content-Security-Policy (nothing loads but this app's own stylesheet; no
  script at all), nosniff and no framing, and HSTS with ``[web] https``;
* the session is a signed cookie (HttpOnly, SameSite=Strict, Secure when
  ``[web] https`` is set) holding only the user name, the account's session
  generation and a CSRF token; logging out, a new password, a role change or
  disabling the account raises the generation, which ends every session;
* every page but the login page needs a logged-in, enabled account, whose
  role is read from the store on each request (a role change takes effect
  at once); roles are checked on the server for every action;
* every POST must carry the session's CSRF token;
* each login attempt is reserved in the store, per name and per client,
  before its password is checked, so the limit holds across web processes
  and concurrent attempts (``login``).

One module per page: ``login``, ``queue``, ``copy`` (one held copy and the
decisions on it), ``rules`` (each rule's figures, and changing it), ``approved``
(the approved register), ``dashboard``, ``people``
(senders' histories and the concerns log), ``audit``; ``context`` holds what they share and
``markup`` what makes a held message safe to show.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from gateway.config import Config
from gateway.store import Store
from gateway.web import approved, audit, copy, dashboard, login, people, queue, rules
from gateway.web.context import HERE, WebContext, page
from gateway.web.login import hash_password

__all__ = ["create_app", "hash_password"]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


# Two years, as the HSTS preload list asks; only ever sent when [web] https is set,
# since a browser that saw it would refuse plain HTTP to this host from then on.
HSTS = "max-age=63072000; includeSubDomains"


class SecurityHeaders:
    """Pure ASGI middleware: headers on every response, errors included."""

    def __init__(self, app, *, https: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cache-control", b"no-store"),
        ] + ([(b"strict-transport-security", HSTS.encode())] if https else [])

    async def __call__(self, scope, receive, send) -> None:
        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


class ReviewApp(Starlette):
    """Starlette with the security headers outside its error handling, so a
    500 from an unexpected exception carries them as well."""

    https = False

    def build_middleware_stack(self):
        return SecurityHeaders(super().build_middleware_stack(), https=self.https)


async def home(request: Request) -> Response:
    return RedirectResponse("/queue", 303)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (301, 302, 303) and exc.headers:
        return Response(status_code=exc.status_code, headers=exc.headers)
    response = page(
        request,
        "error.html",
        {"status": exc.status_code, "message": exc.detail},
        status=exc.status_code,
    )
    response.headers.update(exc.headers or {})  # such as a 429's Retry-After
    return response


def create_app(config: Config, store: Store, *, secret: str, https: bool = False) -> Starlette:
    routes = [
        Route("/", home),
        Route("/login", login.login, methods=["GET", "POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/queue", queue.queue),
        Route("/copy/{copy_id:int}", copy.view_copy),
        Route("/copy/{copy_id:int}/raw", copy.raw_source),
        Route("/copy/{copy_id:int}/attachment/{index:int}", copy.attachment),
        Route("/copy/{copy_id:int}/{action:str}", copy.decide, methods=["POST"]),
        Route("/rules", rules.rules),
        Route("/rules/{rule_id:str}", rules.rule_page),
        Route("/rules/{rule_id:str}/{what:str}", rules.change, methods=["POST"]),
        Route("/lists", rules.word_lists),
        Route("/lists/{name:str}", rules.word_list),
        Route("/lists/{name:str}/{what:str}", rules.change, methods=["POST"]),
        Route("/dashboard", dashboard.dashboard),
        Route("/approved", approved.approved),
        Route("/approved/add", approved.change, methods=["POST"]),
        Route("/approved/{exception:str}/{what:str}", approved.change, methods=["POST"]),
        Route("/senders", people.senders),
        Route("/senders/{address:str}", people.sender),
        Route("/concerns", people.concerns),
        Route("/concerns.csv", people.concerns_csv),
        Route("/concerns/{concern:str}/note", people.note, methods=["POST"]),
        Route("/audit", audit.audit),
        Route("/audit.csv", audit.audit_csv),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = ReviewApp(
        routes=routes,
        exception_handlers={HTTPException: http_error},
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie="chaperone_session",
                same_site="strict",
                https_only=https,
                max_age=8 * 3600,
            ),
        ],
    )
    app.https = https
    app.state.chaperone = WebContext(
        config, store, Jinja2Templates(directory=str(HERE / "templates"))
    )
    return app
