"""Who reaches which admin page and action, over HTTP on a real store: reviewers reach
none, auditors read and change nothing, leads have the concerns log, admins the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.mail import now_utc
from gateway.review import register
from gateway.store import Store
from gateway.web import create_app

from .test_web import csrf_of, login, password_hash

ACCOUNTS = {
    "dsl": ("reviewer", False),
    "lead": ("reviewer", True),
    "head": ("admin", False),
    "governor": ("auditor", False),
}

# Every page, and who may read it.
PAGES = {
    "/rules": {"head", "governor"},
    "/rules/text-me": {"head", "governor"},
    "/lists": {"head", "governor"},
    "/lists/frame_advice": {"head", "governor"},
    "/approved": {"head", "governor", "lead"},
    "/dashboard": {"head", "governor", "lead"},
    "/senders": {"head", "lead"},
    "/senders/t.teacher@heartofengland.example": {"head", "lead"},
    "/concerns": {"lead"},
    "/concerns.csv": {"lead"},
}

# Every action, and who may take it (with a form that would succeed for them).
ACTIONS = {
    "/rules/text-me/action": ({"head"}, {"action": "monitor", "reason": "trial"}),
    "/rules/text-me/try": ({"head"}, {"patterns": "(?:text|txt) me"}),
    "/lists/frame_advice/try": ({"head"}, {"words": "the forms"}),
    "/approved/add": (
        {"head"},
        {
            "kind": "phone",
            "value": "07700 900456",
            "label": "trip",
            "reason": "trip",
            "until": "+20",
        },
    ),
    "/approved/1/edit": ({"head"}, {"label": "trip (York)", "reason": "renamed", "until": "+20"}),
    "/concerns/1/note": ({"lead"}, {"text": "noted"}),
}


@pytest.fixture
def app(config, store_url):
    store = Store(store_url)
    for name, (role, lead) in ACCOUNTS.items():
        email = "" if role == "auditor" else f"{name}@heartofengland.example"
        store.put_user(name, role=role, email=email, password_hash=password_hash(), lead=lead)
    until = (now_utc().astimezone(config.timezone).date() + timedelta(days=20)).isoformat()
    register.add(
        config,
        store,
        user=store.user("head"),
        kind="phone",
        value="07700 900457",
        label="coach driver",
        senders="",
        recipients="",
        until=until,
        reason="the away match",
    )
    yield create_app(config, store, secret="test-secret"), store, until
    store.close()


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_each_role_reaches_exactly_its_pages(app, name):
    web, _, _ = app
    client = login(web, name)
    for path, allowed in PAGES.items():
        status = client.get(path).status_code
        assert status == (200 if name in allowed else 403), (name, path, status)


@pytest.mark.parametrize("name", list(ACCOUNTS))
def test_each_role_takes_exactly_its_actions_and_a_refusal_changes_nothing(app, name):
    web, store, until = app
    store.open_concern(
        "t.teacher@heartofengland.example", threshold=0, since=now_utc(), summary=lambda b: "x"
    )
    client = login(web, name)
    token = csrf_of(client, "/queue")
    for path, (allowed, form) in ACTIONS.items():
        before = (store.rule_changes(), store.exceptions(), store.concerns())
        filled = {k: until if v == "+20" else v for k, v in form.items()}  # 20 days on
        status = client.post(path, data={"csrf": token, **filled}).status_code
        if name in allowed:
            assert status in (200, 303), (name, path, status)
        else:
            assert status == 403, (name, path, status)
            assert (store.rule_changes(), store.exceptions(), store.concerns()) == before
    if name == "head":
        [edited, added] = store.exceptions()
        assert edited["label"] == "trip (York)" and added["value"] == "+447700900456"
