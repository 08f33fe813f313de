"""The dashboard: its figures from a real store, its charts as SVG that needs no script
or style, and who may see it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from gateway.mail import now_utc
from gateway.review.dashboard import dashboard
from gateway.store import Envelope, NewCopy, Store, StoredFinding
from gateway.web import charts, create_app

from .conftest import PARENT, PHONE, STAFF, mail
from .test_web import login, password_hash

SECRET = StoredFinding(
    "dont-tell", "secrecy", "quarantine", "our secret", "body", "new", False, "", ""
)


@pytest.fixture
def store(store_url):
    s = Store(store_url)
    for name, role, email, lead in (
        ("dsl", "reviewer", "dsl@heartofengland.example", False),
        ("lead", "reviewer", "lead@heartofengland.example", True),
        ("head", "admin", "head@heartofengland.example", False),
        ("governor", "auditor", "", False),
    ):
        s.put_user(name, role=role, email=email, password_hash=password_hash(), lead=lead)
    yield s
    s.close()


def _held(store: Store, subject: str, *findings, at) -> int:
    accepted = store.accept(
        Envelope(STAFF, (PARENT,)),
        mail("x", subject=subject),
        [NewCopy(PARENT, "parent", "held", "rules", findings)],
        subject=subject,
        at=at,
    )
    return accepted.copy_ids[PARENT]


def test_the_figures_count_holds_by_week_category_and_outcome_and_time_to_decision(config, store):
    now = now_utc()
    this_week, last_week = now - timedelta(hours=1), now - timedelta(days=7)
    rejected = _held(store, "a", PHONE, SECRET, at=last_week)
    store.decide(rejected, "rejected", actor="dsl", reason="x", at=last_week + timedelta(hours=2))
    released = _held(store, "b", PHONE, at=last_week)
    store.release(
        released,
        actor="dsl",
        reason="GP",
        verdict="other-person",
        at=last_week + timedelta(hours=6),
    )
    waiting = _held(store, "c", PHONE, at=this_week)
    _held(store, "old", PHONE, at=now - timedelta(days=200))  # before the charts begin

    d = dashboard(config, store, now)
    assert len(d.weeks) == 12
    assert d.by_category["personal_phone"][-2:] == [2, 1]
    assert d.by_category["secrecy"][-2:] == [1, 0]
    assert sum(d.by_category["personal_phone"]) == 3
    assert d.by_outcome["confirmed breach"][-2] == 1 and d.by_outcome["false hold"][-2] == 1
    assert d.by_outcome["waiting"][-1] == 1
    assert (
        sum(sum(v) for v in d.by_outcome.values()) == 3
    )  # a copy counts once, whatever its findings
    assert d.decision_hours["median"][-2] == 4.0  # 2 h and 6 h
    month = d.months.index(f"{last_week.astimezone(config.timezone):%Y-%m}")
    assert d.precision["personal-phone"][month] == 0.5 and d.precision["dont-tell"][month] == 1.0
    assert [c.id for c in d.oldest][-1] == waiting and len(d.oldest) == 2  # old and waiting


def test_charts_are_svg_with_no_script_no_style_and_escaped_labels():
    bars = charts.stacked_bars("Holds <per> week", ["a", "b"], {"x & y": [1, 2], "z": [0, 3]})
    line = charts.lines(
        "Precision", ["2026-11", "2026-12"], {"rule<1>": [0.5, None], "r2": [1.0, 0.25]}
    )
    for svg in (bars, line):
        root = ET.fromstring(str(svg))  # well-formed
        tags = {e.tag.split("}")[-1] for e in root.iter()}
        assert "script" not in tags and "style" not in tags and "title" in tags
        assert not any("style" in e.attrib for e in root.iter())
    assert "Holds &lt;per&gt; week" in bars and "x &amp; y" in bars and "rule&lt;1&gt;" in line
    assert str(bars).count("<rect") == 3 + 2  # three non-empty bars and two legend keys


def test_the_dashboard_is_for_admins_auditors_and_leads(config, store):
    _held(store, "a", PHONE, at=now_utc() - timedelta(hours=3))
    app = create_app(config, store, secret="test-secret")
    for name, status in (("dsl", 403), ("lead", 200), ("head", 200), ("governor", 200)):
        response = login(app, name).get("/dashboard")
        assert response.status_code == status, name
    page = login(app, "head").get("/dashboard")
    assert page.text.count("<svg") == 4 and 'id="oldest"' in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # nothing may run
