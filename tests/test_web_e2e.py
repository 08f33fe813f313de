"""End to end in a real headless Chromium (Debian's package, driven by Playwright).

The relay and the web app run as processes on one store; a real next hop
receives what is released.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.review.decisions import reject, release
from gateway.store import Store

from .conftest import PARENT
from .relay_env import ROOT, GatewayProcess, Sink, WebProcess
from .test_relay import DIRTY, mail, send
from .test_web import EVIL_HTML

playwright = pytest.importorskip("playwright.sync_api")

PASSWORD = "a long enough password"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _chromium() -> str:
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if path:
        return path
    if os.environ.get("CHAPERONE_REQUIRE_TOOLS"):
        pytest.fail("Debian's chromium is not installed (.ci/run installs it)")
    pytest.skip("Debian's chromium is not installed")


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def stack(tmp_path):
    sink = Sink().start()
    gateway = GatewayProcess(tmp_path, sink).start()
    web = WebProcess(gateway).start()
    web.add_user("dsl", "reviewer", PASSWORD, "dsl@heartofengland.example")
    yield sink, gateway, web
    web.stop()
    gateway.stop()
    sink.stop()


def _log_in(page, web: WebProcess, name: str = "dsl") -> None:
    page.goto(f"{web.url}/queue")
    assert "/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{web.url}/queue")


def _follow(page, selector: str) -> None:
    """Click a link or a form's button and wait for the page it leads to: a
    locator's ``count()`` or ``is_visible()`` does not wait, and would read the
    page that was there before."""
    with page.expect_navigation():
        page.click(selector)


def test_log_in_open_a_held_message_release_it_and_it_arrives(browser, stack):
    sink, gateway, web = stack
    send(
        gateway,
        mail(DIRTY + " See you at the match.", to=(PARENT,), subject="Match on Saturday"),
        [PARENT],
    )
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    _log_in(page, web)
    assert page.locator("text=Match on Saturday").count() >= 1
    if os.environ.get("CHAPERONE_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)
    _follow(page, "a:has-text('Match on Saturday')")
    assert page.locator(".segment mark", has_text="07700 900999").first.is_visible()
    assert page.locator(".clause").first.is_visible()
    if os.environ.get("CHAPERONE_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / "held-message.png"), full_page=True)
    page.select_option("form[action$='/release'] select[name=verdict]", "allowed")
    page.fill("form[action$='/release'] textarea[name=reason]", "Agreed with the head: trip mobile")
    _follow(page, "form[action$='/release'] button")
    assert page.locator(".flash").inner_text().endswith("released")
    [got] = sink.wait_for_text(PARENT, b"Match on Saturday")
    assert b"released after review" in got.data
    page.close()


def test_hostile_html_in_a_held_message_runs_nothing_and_loads_nothing(browser, stack):
    sink, gateway, web = stack
    send(gateway, mail("See the attached.", to=(PARENT,), subject="Evil", html=EVIL_HTML), [PARENT])
    [held] = gateway.copies("held")
    page = browser.new_page()
    _log_in(page, web)
    requests, dialogs, errors = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{web.url}/copy/{held['id']}")
    page.wait_for_load_state("networkidle")
    page.locator(".html-view").first.click()  # onclick handlers, had any survived, would fire now
    page.wait_for_timeout(500)
    assert dialogs == [] and errors == []
    assert all(url.startswith(web.url) for url in requests), requests  # only the app itself
    assert page.evaluate("document.scripts.length") == 0
    assert page.locator(".html-view img, .html-view form, .html-view style").count() == 0
    assert "Hello" in page.locator(".html-view").inner_text()
    page.close()


def _shot(page, name: str) -> None:
    if os.environ.get("CHAPERONE_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_an_admin_sees_a_rules_precision_sets_it_to_monitor_and_undoes_it(browser, stack):
    sink, gateway, web = stack
    web.add_user("head", "admin", PASSWORD, "head@heartofengland.example")
    number = "The number is 07700 900999."
    for subject in ("GP surgery", "My mobile"):
        send(gateway, mail(number, to=(PARENT,), subject=subject), [PARENT])
    held = {c["subject"]: c["id"] for c in gateway.copies("held")}
    config = load_config(gateway.config_path)
    store = Store(f"sqlite:///{gateway.data_dir / 'chaperone.db'}")
    try:
        release(
            config,
            store,
            str(held["GP surgery"]),
            actor="dsl",
            reason="the GP's line",
            verdict="other-person",
        )
        reject(config, store, str(held["My mobile"]), actor="dsl", reason="personal mobile")
    finally:
        store.close()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _log_in(page, web, "head")
    _follow(page, "header a:has-text('Rules')")
    row = page.locator("#rule-personal-phone")
    assert row.locator("td").nth(3).inner_text() == "2"  # hits, 7 days
    assert row.locator(".precision").inner_text() == "0.50"
    _shot(page, "rules.png")
    row.locator("td").nth(7).locator("a").click()  # the false holds behind the figure
    assert page.locator("a:has-text('GP surgery')").count() == 1
    assert page.locator("a:has-text('My mobile')").count() == 0

    page.goto(f"{web.url}/rules/personal-phone")
    page.select_option("form[action$='/action'] select[name=action]", "monitor")
    page.fill("form[action$='/action'] textarea[name=reason]", "Trial: GP numbers held too often")
    _follow(page, "form[action$='/action'] button")
    assert "now monitor" in page.locator(".flash").inner_text()
    assert page.locator(".action").inner_text().startswith("monitor")
    assert "Trial: GP numbers held too often" in page.locator(".history").inner_text()
    _shot(page, "rule.png")
    _wait_for_reloads(gateway, 1)
    send(gateway, mail(number, to=(PARENT,), subject="monitored now"), [PARENT])
    assert sink.wait_for_text(PARENT, b"monitored now")  # delivered: the rule only records

    page.goto(f"{web.url}/audit?action=rule-changed")
    assert "personal-phone" in page.locator("main").inner_text()
    page.goto(f"{web.url}/rules/personal-phone")
    _follow(page, "form[action$='/undo'] button")
    assert "undone" in page.locator(".flash").inner_text()
    assert page.locator(".action").inner_text().startswith("quarantine")
    _wait_for_reloads(gateway, 2)
    send(gateway, mail(number, to=(PARENT,), subject="held once more"), [PARENT])
    assert "held once more" in [c["subject"] for c in gateway.copies("held")]
    page.close()


def _wait_for_reloads(gateway: GatewayProcess, n: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while gateway.log().count("an admin changed a rule") < n and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gateway.log().count("an admin changed a rule") >= n


def test_an_admin_tries_a_draft_pattern_on_past_mail_then_saves_it_and_the_gateway_follows(
    browser, stack
):
    sink, gateway, web = stack
    web.add_user("head", "admin", PASSWORD, "head@heartofengland.example")
    for subject, body in (
        ("Forms", "Text me about the forms when you can."),
        ("Trip phone", "Pop me a text about the forms when you can."),
    ):
        send(gateway, mail(body, to=(PARENT,), subject=subject), [PARENT])
    held = {c["subject"]: c["id"] for c in gateway.copies("held")}
    config = load_config(gateway.config_path)
    store = Store(f"sqlite:///{gateway.data_dir / 'chaperone.db'}")
    try:
        reject(config, store, str(held["Forms"]), actor="dsl", reason="personal phone")
        release(
            config, store, str(held["Trip phone"]), actor="dsl", reason="trip", verdict="wording"
        )
    finally:
        store.close()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _log_in(page, web, "head")
    page.goto(f"{web.url}/rules/text-me")
    page.fill("form[action$='/try'] textarea[name=patterns]", "(?:text|txt|sms|imessage) me")
    _follow(page, "form[action$='/try'] button")
    changed = page.locator("table.changed")
    assert changed.locator("a", has_text=str(held["Trip phone"])).count() == 1
    assert changed.locator("a", has_text=str(held["Forms"])).count() == 0
    assert "no breach" in changed.inner_text()
    assert page.locator("table.scores tr").nth(2).locator("td").nth(3).inner_text() == "1.00"
    _shot(page, "trial.png")
    page.fill("form[action$='/save'] textarea[name=reason]", "Only 'text me' itself")
    _follow(page, "form[action$='/save'] button")
    assert "saved" in page.locator(".flash").inner_text()
    assert "Only 'text me' itself" in page.locator(".history").inner_text()
    _wait_for_reloads(gateway, 1)
    send(gateway, mail("Pop me a text when you land.", to=(PARENT,), subject="popped"), [PARENT])
    assert sink.wait_for_text(PARENT, b"popped")
    page.close()


def test_an_admin_approves_a_trip_mobile_in_the_register_and_ends_it(browser, stack):
    sink, gateway, web = stack
    web.add_user("head", "admin", PASSWORD, "head@heartofengland.example")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _log_in(page, web, "head")
    _follow(page, "header a:has-text('Approved')")
    form = "form[action='/approved/add']"
    page.fill(f"{form} input[name=value]", "07700 900456")
    page.fill(f"{form} input[name=label]", "Year 9 trip mobile")
    page.fill(f"{form} input[name=senders]", "t.teacher@heartofengland.example")
    soon = page.evaluate("new Date(Date.now() + 3 * 86400000).toISOString().slice(0, 10)")
    page.fill(f"{form} input[name=until]", soon)
    page.fill(f"{form} textarea[name=reason]", "The York trip, agreed with the head")
    _follow(page, f"{form} button")
    assert "added" in page.locator(".flash").inner_text()
    row = page.locator("tr.expiring")
    assert "+447700900456" in row.inner_text() and "expiring" in row.inner_text()
    _shot(page, "approved.png")
    page.click("tr.edit summary")
    page.fill("tr.edit form[action$='/end'] input[name=reason]", "The trip was cancelled")
    _follow(page, "tr.edit form[action$='/end'] button")
    assert "ended" in page.locator(".flash").inner_text()
    assert page.locator("tr.ended").count() == 1
    page.close()


def test_the_dashboard_draws_its_charts_with_nothing_blocked(browser, stack):
    import random
    from datetime import timedelta

    from gateway.mail import now_utc
    from gateway.store import Envelope, NewCopy, StoredFinding

    sink, gateway, web = stack
    web.add_user("head", "admin", PASSWORD, "head@heartofengland.example")
    store = Store(f"sqlite:///{gateway.data_dir / 'chaperone.db'}")
    rng = random.Random(7)
    kinds = [
        ("personal-phone", "personal_phone"),
        ("text-me", "unapproved_channel"),
        ("social-invitation", "social_contact"),
        ("dont-tell", "secrecy"),
    ]
    try:
        now = now_utc()
        for n in range(40):
            rule, category = rng.choice(kinds)
            at = now - timedelta(days=rng.uniform(0, 80))
            finding = StoredFinding(rule, category, "quarantine", "x", "body", "new", False, "", "")
            copy = store.accept(
                Envelope("t.teacher@heartofengland.example", (PARENT,)),
                mail(f"message {n}", to=(PARENT,), subject=f"message {n}"),
                [NewCopy(PARENT, "parent", "held", "rules", (finding,))],
                subject=f"message {n}",
                at=at,
            ).copy_ids[PARENT]
            decided = at + timedelta(hours=rng.uniform(1, 48))
            if decided < now and rng.random() < 0.8:
                if rng.random() < 0.6:
                    store.decide(copy, "rejected", actor="dsl", reason="x", at=decided)
                else:
                    store.release(copy, actor="dsl", reason="x", verdict="wording", at=decided)
    finally:
        store.close()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    refused = []  # what the Content-Security-Policy blocked, as the console reports it
    page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
    _log_in(page, web, "head")
    _follow(page, "header a:has-text('Dashboard')")
    assert page.locator(".chart svg").count() == 4
    assert page.locator(".chart svg rect").count() > 20
    assert page.locator(".chart svg polyline").count() >= 1
    assert refused == []
    _shot(page, "dashboard.png")
    page.close()
