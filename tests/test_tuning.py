"""Tuning rules from reviewers' decisions: precision per rule, and rule actions set in the app.

On a real store (SQLite and PostgreSQL), through the review service, the web
app over HTTP, and a running gateway that picks a change up within seconds.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.evaluation import corpus_trial
from gateway.judge.scan import Scanner
from gateway.mail import now_utc
from gateway.review import tuning
from gateway.review.decisions import DecisionError, reject, release
from gateway.store import Envelope, NewCopy, Store, StoredFinding
from gateway.web import create_app

from .conftest import CONFIG as CONFIG_PATH
from .conftest import PARENT, PHONE, STAFF, mail
from .relay_env import GatewayProcess, Sink
from .test_relay import send
from .test_web import csrf_of, login, password_hash

TEXT_ME = StoredFinding(
    "text-me", "unapproved_channel", "quarantine", "text me", "body", "new", False, "", ""
)


def _hold(
    store: Store, subject: str, *findings: StoredFinding, at=None, body="Ring me on 07700 900999."
) -> int:
    accepted = store.accept(
        Envelope(STAFF, (PARENT,)),
        mail(body, subject=subject),
        [NewCopy(PARENT, "parent", "held", "rules", findings)],
        subject=subject,
        at=at,
    )
    return accepted.copy_ids[PARENT]


@pytest.fixture
def store(store_url):
    s = Store(store_url)
    for name, role, email in (
        ("dsl", "reviewer", "dsl@heartofengland.example"),
        ("head", "admin", "head@heartofengland.example"),
        ("governor", "auditor", ""),
    ):
        s.put_user(name, role=role, email=email, password_hash=password_hash())
    yield s
    s.close()


def _figures(config, store) -> dict[str, tuning.RuleFigures]:
    return {f.rule.id: f for f in tuning.rule_figures(config, store, now_utc())}


def test_precision_counts_rejections_and_breach_releases_as_right_and_other_releases_as_wrong(
    config, store
):
    rejected = _hold(store, "a", PHONE)
    allowed = _hold(store, "b", PHONE, TEXT_ME)
    other_person = _hold(store, "c", PHONE)
    no_verdict = _hold(store, "d", PHONE)
    waiting = _hold(store, "e", PHONE)
    expired = _hold(store, "f", PHONE)
    old = _hold(store, "g", PHONE, at=now_utc() - timedelta(days=20))
    reject(config, store, str(rejected), actor="dsl", reason="personal mobile")
    release(config, store, str(allowed), actor="dsl", reason="emergency", verdict="allowed")
    release(config, store, str(other_person), actor="dsl", reason="GP", verdict="other-person")
    release(config, store, str(no_verdict), actor="dsl", reason="fine")
    store.decide(expired, "expired", actor="gateway", reason="nobody decided")

    phone = _figures(config, store)["personal-phone"]
    assert set(phone.right) == {rejected, allowed}
    assert set(phone.wrong) == {other_person, no_verdict}
    assert phone.precision == 0.5
    assert waiting not in phone.right + phone.wrong and expired not in phone.right + phone.wrong
    assert old in phone.hits_30 and old not in phone.hits_7 and len(phone.hits_7) == 6
    assert _figures(config, store)["text-me"].precision == 1.0
    assert _figures(config, store)["personal-email"].precision is None  # nothing decided
    assert store.copy(allowed).decision_verdict == "allowed"
    assert store.audit_log(allowed)[-1].detail["verdict"] == "allowed"


def test_an_unknown_release_verdict_is_refused_and_nothing_is_decided(config, store):
    copy = _hold(store, "a", PHONE)
    with pytest.raises(DecisionError, match="unknown release verdict"):
        release(config, store, str(copy), actor="dsl", reason="x", verdict="meh")
    assert store.copy(copy).status == "held"


def test_an_action_set_in_the_app_is_versioned_audited_and_undone(config, store):
    head, dsl = store.user("head"), store.user("dsl")
    assert tuning.app_changes(store.rule_changes()) == {}
    first = tuning.set_action(
        config, store, "personal-phone", "monitor", user=head, reason="too many GP numbers"
    )
    monitor = {"personal-phone": {"action": "monitor"}}
    assert tuning.app_changes(store.rule_changes()) == monitor
    tuning.set_action(config, store, "personal-phone", "flag", user=head, reason="flag instead")
    tuning.undo(config, store, "personal-phone", user=head)
    assert tuning.app_changes(store.rule_changes()) == monitor
    tuning.undo(config, store, "personal-phone", user=head)
    assert tuning.app_changes(store.rule_changes()) == {}  # back to what the file says
    history = store.rule_changes("personal-phone")
    assert [(c.previous["action"], c.changes["action"]) for c in history] == [
        (None, "monitor"),
        ("monitor", "flag"),
        ("flag", "monitor"),
        ("monitor", None),
    ]
    assert history[2].reason == f"undo of change {history[1].id}"
    assert [c.undoes for c in history] == [None, None, history[1].id, history[0].id]
    entries = [e for e in store.audit_log(action="rule-changed")]
    assert [e.detail["change"] for e in entries] == [c.id for c in history]
    assert entries[0].actor == "head" and entries[0].detail["reason"] == "too many GP numbers"
    assert first == history[0].id
    with pytest.raises(tuning.TuningError, match="no change to undo"):
        tuning.undo(config, store, "personal-phone", user=head)
    with pytest.raises(tuning.TuningError, match="cannot change rules"):
        tuning.set_action(config, store, "personal-phone", "off", user=dsl, reason="x")


@pytest.mark.parametrize(
    "rule,action,reason,message",
    [
        ("no-such-rule", "monitor", "x", "no rule 'no-such-rule'"),
        ("personal-phone", "reject", "x", "one of quarantine, flag, monitor, off"),
        ("personal-phone", "loud", "x", "one of quarantine, flag, monitor, off"),
        ("personal-phone", "monitor", "  ", "a reason is required"),
        ("personal-phone", "", "x", "nothing to change"),
        ("personal-phone", "quarantine", "x", "nothing to change"),
    ],
)
def test_a_bad_change_is_refused_with_what_is_wrong(config, store, rule, action, reason, message):
    with pytest.raises(tuning.TuningError, match=message):
        tuning.set_action(config, store, rule, action, user=store.user("head"), reason=reason)
    assert store.rule_changes() == []


NUMBER_ONLY = "The number is 07700 900999."


def test_a_rule_set_to_monitor_still_finds_but_no_longer_holds(config):
    raw = mail(NUMBER_ONLY)
    before = Scanner(config).scan(raw)
    assert before.recipients[PARENT] == "quarantine"
    monitored = load_config(config.path, rule_changes={"personal-phone": {"action": "monitor"}})
    after = Scanner(monitored).scan(raw)
    assert [f.action for f in after.findings] == ["monitor"]
    assert after.recipients[PARENT] == "pass"
    assert (
        config.rules.by_id("personal-phone").action == "quarantine"
    )  # the files' set is unchanged
    off = load_config(config.path, rule_changes={"personal-phone": {"action": "off"}})
    assert "personal-phone" not in {r.id for r in off.rules.active}


TEXT_ME_FIRST = "(?:text|txt|sms|imessage) me"


def _text_me_decided(config, store) -> tuple[int, int]:
    breach = _hold(store, "forms", TEXT_ME, body="Text me about the forms when you can.")
    fine = _hold(store, "pop", TEXT_ME, body="Pop me a text about the forms when you can.")
    reject(config, store, str(breach), actor="dsl", reason="personal phone")
    release(config, store, str(fine), actor="dsl", reason="trip phone", verdict="wording")
    return breach, fine


def test_a_draft_is_tried_on_the_mail_in_the_store_and_scored_by_the_decisions(config, store):
    breach, fine = _text_me_decided(config, store)
    waiting = _hold(store, "waiting", TEXT_ME, body="Pop me a text tonight.")
    result = tuning.trial(config, store, "text-me", {"patterns": [TEXT_ME_FIRST]})
    assert result.copies == 3
    assert [(t.copy.id, t.before, t.after, t.outcome) for t in result.changed] == [
        (fine, "quarantine", "pass", False),
        (waiting, "quarantine", "pass", None),
    ]
    assert (result.before.right, result.before.wrong, result.before.missed) == (1, 1, 0)
    assert (result.before.precision, result.before.recall) == (0.5, 1.0)
    assert (result.after.precision, result.after.recall) == (1.0, 1.0)
    # Dropping every pattern but one that never matches misses the breach too.
    none = tuning.trial(config, store, "text-me", {"patterns": ["zzz never said"]})
    assert (none.after.right, none.after.missed, none.after.recall) == (0, 1, 0.0)
    assert store.rule_changes() == []  # a trial saves nothing


def test_a_saved_draft_is_checked_as_a_rule_file_is_and_changes_what_the_rule_finds(config, store):
    head = store.user("head")
    with pytest.raises(tuning.TuningError, match=r"20-intent\.toml:\d+: .*not a valid pattern"):
        tuning.change(config, store, "text-me", {"patterns": ["(?:text"]}, user=head, reason="x")
    with pytest.raises(tuning.TuningError, match=r"unknown list"):
        tuning.change(
            config, store, "text-me", {"unless": ["{no_such_list}"]}, user=head, reason="x"
        )
    with pytest.raises(tuning.TuningError, match="not a key the app can change"):
        tuning.change(config, store, "text-me", {"category": "secrecy"}, user=head, reason="x")
    assert store.rule_changes() == []
    tuning.change(
        config, store, "text-me", {"patterns": [TEXT_ME_FIRST]}, user=head, reason="narrower"
    )
    [row] = store.rule_changes()
    assert row.changes == {"patterns": [TEXT_ME_FIRST]} and row.previous == {"patterns": None}
    in_force = tuning.draft_config(config, store, "text-me")
    assert Scanner(in_force).scan(mail("Pop me a text about it.")).recipients[PARENT] == "pass"
    assert Scanner(in_force).scan(mail("Text me about it.")).recipients[PARENT] == "quarantine"
    tuning.undo(config, store, "text-me", user=head)
    again = tuning.draft_config(config, store, "text-me")
    assert Scanner(again).scan(mail("Pop me a text about it.")).recipients[PARENT] == "quarantine"


# -- the web app --------------------------------------------------------------


@pytest.fixture
def app(config, store):
    return create_app(config, store, secret="test-secret")


def test_the_rules_page_is_for_admins_and_auditors_and_only_admins_change(app, store, config):
    assert login(app, "dsl").get("/rules").status_code == 403
    assert login(app, "dsl").get("/rules/personal-phone").status_code == 403
    auditor = login(app, "governor")
    page = auditor.get("/rules")
    assert page.status_code == 200 and "personal-phone" in page.text
    assert 'action="/rules/personal-phone/action"' not in auditor.get("/rules/personal-phone").text
    token = csrf_of(auditor, "/rules")
    refused = auditor.post(
        "/rules/personal-phone/action", data={"csrf": token, "action": "off", "reason": "x"}
    )
    assert refused.status_code == 403 and store.rule_changes() == []
    admin = login(app, "head")
    assert 'action="/rules/personal-phone/action"' in admin.get("/rules/personal-phone").text
    assert admin.get("/rules/nothing-like-it").status_code == 404


def test_an_admin_sees_precision_changes_a_rule_and_undoes_it(app, store, config):
    rejected, released = _hold(store, "a", PHONE), _hold(store, "b", PHONE)
    reject(config, store, str(rejected), actor="dsl", reason="personal mobile")
    release(config, store, str(released), actor="dsl", reason="GP", verdict="other-person")
    admin = login(app, "head")
    row = admin.get("/rules").text.split('id="rule-personal-phone"')[1].split("</tr>")[0]
    assert '<td class="precision">0.50</td>' in row
    breach = admin.get("/queue?status=&rule=personal-phone&outcome=breach").text
    assert f'href="/copy/{rejected}"' in breach and f'href="/copy/{released}"' not in breach
    false_hold = admin.get("/queue?status=&rule=personal-phone&outcome=false-hold").text
    assert f'href="/copy/{released}"' in false_hold and f'href="/copy/{rejected}"' not in false_hold
    assert admin.get("/queue?outcome=sideways").status_code == 400

    token = csrf_of(admin, "/rules/personal-phone")
    path = "/rules/personal-phone/action"
    assert admin.post(path, data={"action": "monitor", "reason": "x"}).status_code == 403  # no CSRF
    assert admin.post(path, data={"csrf": token, "action": "monitor"}).status_code == 400
    done = admin.post(path, data={"csrf": token, "action": "monitor", "reason": "GP numbers"})
    assert done.status_code == 303 and done.headers["location"] == "/rules/personal-phone"
    shown = admin.get("/rules/personal-phone").text
    assert (
        "now monitor" in shown and "GP numbers" in shown and "file (quarantine) → monitor" in shown
    )
    assert tuning.app_changes(store.rule_changes()) == {"personal-phone": {"action": "monitor"}}
    admin.post("/rules/personal-phone/undo", data={"csrf": token})
    assert tuning.app_changes(store.rule_changes()) == {}
    changes = [e.detail["changes"] for e in store.audit_log(action="rule-changed")]
    assert changes == [{"action": "monitor"}, {"action": None}]


def test_an_admin_tries_a_draft_in_the_browser_then_saves_it(app, store, config):
    breach, fine = _text_me_decided(config, store)
    admin = login(app, "head")
    token = csrf_of(admin, "/rules/text-me")
    tried = admin.post("/rules/text-me/try", data={"csrf": token, "patterns": TEXT_ME_FIRST + "\n"})
    assert tried.status_code == 200 and store.rule_changes() == []
    changed = tried.text.split('class="changed"')[1].split("</table>")[0]
    assert f'href="/copy/{fine}"' in changed and f'href="/copy/{breach}"' not in changed
    draft = re.search(r'name="draft" value="([^"]+)"', tried.text).group(1)
    bad = admin.post("/rules/text-me/try", data={"csrf": token, "patterns": "(?:text"})
    assert bad.status_code == 400 and "not a valid pattern" in bad.text
    broken = admin.post("/rules/text-me/save", data={"csrf": token, "draft": "{", "reason": "x"})
    assert broken.status_code == 400
    saved = admin.post(
        "/rules/text-me/save",
        data={"csrf": token, "draft": html.unescape(draft), "reason": "narrower"},
    )
    assert saved.status_code == 303
    assert tuning.app_changes(store.rule_changes()) == {"text-me": {"patterns": [TEXT_ME_FIRST]}}
    history = admin.get("/rules/text-me").text.split('class="history"')[1]
    assert "narrower" in history and "−" in history  # the patterns dropped, shown as a diff
    auditor = login(app, "governor")
    tried_by_auditor = auditor.post(
        "/rules/text-me/try", data={"csrf": csrf_of(auditor, "/rules"), "patterns": "x"}
    )
    assert tried_by_auditor.status_code == 403


def test_the_release_form_asks_whether_it_was_a_breach_and_keeps_the_answer(app, store):
    copy = _hold(store, "a", PHONE)
    client = login(app, "dsl")
    form = client.get(f"/copy/{copy}").text
    assert 'name="verdict" required' in form and "a breach, but allowed" in form
    token = csrf_of(client, f"/copy/{copy}")
    client.post(
        f"/copy/{copy}/release",
        data={"csrf": token, "reason": "school trip", "verdict": "wording", "scope": "copy"},
    )
    assert store.copy(copy).decision_verdict == "wording"
    assert "not a breach: the wording is fine" in client.get(f"/copy/{copy}").text


# -- a running gateway ----------------------------------------------------------


def test_a_running_gateway_follows_a_rule_change_within_seconds_and_its_undo(tmp_path, config):
    sink = Sink().start()
    g = GatewayProcess(tmp_path, sink).start()
    store = Store(f"sqlite:///{g.data_dir / 'chaperone.db'}")
    try:
        store.put_user("head", role="admin", email="head@heartofengland.example")
        head = store.user("head")
        tuning.set_action(config, store, "personal-phone", "monitor", user=head, reason="trial")

        def wait_for(n: int) -> None:
            deadline = time.monotonic() + 10
            while g.log().count("an admin changed a rule") < n and time.monotonic() < deadline:
                time.sleep(0.1)
            assert g.log().count("an admin changed a rule") >= n

        wait_for(1)
        send(g, mail(NUMBER_ONLY, to=(PARENT,), subject="monitored"), [PARENT])
        assert sink.wait_for_text(PARENT, b"monitored")  # delivered, not held
        deadline = time.monotonic() + 10
        while not store.sightings(now_utc()) and time.monotonic() < deadline:
            time.sleep(0.1)
        [phone] = [
            f
            for f in tuning.rule_figures(config, store, now_utc())
            if f.rule.id == "personal-phone"
        ]
        assert (phone.passed_7, phone.passed_30, phone.hits_7) == (1, 1, ())  # seen, went through
        tuning.undo(config, store, "personal-phone", user=head)
        wait_for(2)
        send(g, mail(NUMBER_ONLY, to=(PARENT,), subject="held again"), [PARENT])
        assert "held again" in [c["subject"] for c in g.copies("held")]
    finally:
        store.close()
        g.stop()
        sink.stop()


def test_the_changes_export_as_rule_files_that_load_to_the_rules_in_force(config, store, tmp_path):
    import shutil

    head = store.user("head")
    tuning.change(config, store, "text-me", {"patterns": [TEXT_ME_FIRST]}, user=head, reason="x")
    tuning.set_action(config, store, "personal-phone", "flag", user=head, reason="y")
    shutil.copytree(config.path.parent, tmp_path / "config")
    written = tuning.export_rules(config, store, tmp_path / "rules")
    assert sorted(p.name for p in written) == sorted(Path(f).name for f in config.rules.files)
    text = (tmp_path / "rules" / "20-intent.toml").read_text()
    original = (config.path.parent.parent / "rules" / "20-intent.toml").read_text()
    assert text.count("\n#") == original.count("\n#")  # every comment kept
    exported = load_config(tmp_path / "config" / "gateway.toml")
    in_force = tuning.draft_config(config, store, "text-me")
    for rule in in_force.rules.rules:
        twin = exported.rules.by_id(rule.id)
        assert (twin.action, [p.pattern for p in twin.patterns]) == (
            rule.action,
            [p.pattern for p in rule.patterns],
        ), rule.id
    assert exported.rules.by_id("personal-phone").action == "flag"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the store is incidental here
def test_gateway_rules_export_refuses_the_folder_in_use(store_url, config, tmp_path):
    import subprocess

    from .relay_env import GATEWAY

    args = [str(GATEWAY), "rules", "export", "--config", str(config.path), "--store-url", store_url]
    refused = subprocess.run(
        [*args, str(config.path.parent.parent / "rules")], capture_output=True, text=True
    )
    assert refused.returncode != 0 and "in use" in refused.stderr
    done = subprocess.run([*args, str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (
        "no rule is changed in the app" in done.stdout
        and (tmp_path / "out" / "20-intent.toml").exists()
    )


def test_a_word_list_is_changed_tried_saved_and_undone_like_a_rule(config, store):
    head = store.user("head")
    breach, fine = _text_me_decided(config, store)
    target = tuning.list_target("frame_advice")
    advice = tuning.word_lists(config)["frame_advice"]
    assert "text-me" in advice.used_by and advice.source.endswith("05-lexicon.toml")
    draft = {"words": [*advice.words, "the forms"]}
    result = tuning.trial(config, store, target, draft)
    assert {t.copy.id for t in result.changed} == {breach, fine}  # both say "the forms"
    assert (result.after.missed, result.after.recall) == (1, 0.0)
    with pytest.raises(tuning.TuningError, match="words, not patterns"):
        tuning.change(config, store, target, {"words": ["{frame_refusal}"]}, user=head, reason="x")
    with pytest.raises(tuning.TuningError, match="only its words"):
        tuning.change(config, store, target, {"patterns": ["x"]}, user=head, reason="x")
    with pytest.raises(tuning.TuningError, match="no word list"):
        tuning.change(config, store, tuning.list_target("nope"), draft, user=head, reason="x")
    tuning.change(config, store, target, draft, user=head, reason="forms are advice")
    in_force = tuning.draft_config(config, store, target)
    assert Scanner(in_force).scan(mail("Text me about the forms.")).recipients[PARENT] == "pass"
    tuning.undo(config, store, target, user=head)
    again = tuning.draft_config(config, store, target)
    assert Scanner(again).scan(mail("Text me about the forms.")).recipients[PARENT] == "quarantine"


def test_the_word_list_pages_show_try_and_save_by_role(app, store, config):
    _text_me_decided(config, store)
    auditor = login(app, "governor")
    assert "frame_advice" in auditor.get("/lists").text
    page = auditor.get("/lists/frame_advice").text
    assert 'action="/lists/frame_advice/try"' not in page and "<li>" in page
    assert login(app, "dsl").get("/lists").status_code == 403
    admin = login(app, "head")
    assert admin.get("/lists/nope").status_code == 404
    token = csrf_of(admin, "/lists/frame_advice")
    words = "\n".join([*tuning.word_lists(config)["frame_advice"].words, "the forms"])
    tried = admin.post("/lists/frame_advice/try", data={"csrf": token, "words": words})
    assert (
        tried.status_code == 200 and "word list" in tried.text and 'class="changed"' in tried.text
    )
    draft = re.search(r'name="draft" value="([^"]+)"', tried.text).group(1)
    saved = admin.post(
        "/lists/frame_advice/save",
        data={"csrf": token, "draft": html.unescape(draft), "reason": "forms"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/lists/frame_advice"
    shown = admin.get("/lists/frame_advice").text
    assert "changed in the app" in shown and "+ <code>the forms</code>" in shown
    assert admin.post("/lists/frame_advice/action", data={"csrf": token}).status_code == 404


def test_an_exported_word_list_carries_its_change(config, store, tmp_path):
    head = store.user("head")
    words = [*tuning.word_lists(config)["frame_advice"].words, "the forms"]
    tuning.change(
        config, store, tuning.list_target("frame_advice"), {"words": words}, user=head, reason="x"
    )
    tuning.export_rules(config, store, tmp_path)
    import tomllib

    exported = tomllib.loads((tmp_path / "05-lexicon.toml").read_text())
    assert exported["lists"]["frame_advice"] == words


# -- trying a draft on a labelled corpus ------------------------------------------


def _corpus(folder: Path) -> Path:
    """A labelled corpus written here (never the development corpus): one breach, one
    message the current text-me rule holds wrongly, one clean."""
    cases = [
        ("c1", "hold", "Text me about the forms when you can."),
        ("c2", "pass", "Pop me a text about the forms when you can."),
        ("c3", "pass", "The forms are due on Friday."),
    ]
    (folder / "messages").mkdir(parents=True)
    lines = []
    for cid, expect, body in cases:
        (folder / "messages" / f"{cid}.eml").write_bytes(mail(body, subject=cid))
        lines.append(
            json.dumps(
                {
                    "id": cid,
                    "file": f"messages/{cid}.eml",
                    "expect": expect,
                    "categories": [],
                    "note": body,
                }
            )
        )
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "manifest.jsonl"


def _zip(folder: Path, names: dict[str, bytes]) -> Path:
    archive = folder / "corpus.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in names.items():
            z.writestr(name, data)
    return archive


def test_a_draft_is_scored_on_a_labelled_corpus_against_the_rules_in_force(config, store, tmp_path):
    manifest = _corpus(tmp_path / "corpus")
    result = corpus_trial(config, store, "text-me", {"patterns": [TEXT_ME_FIRST]}, manifest)
    assert (result.before.tp, result.before.fp, result.before.fn) == (1, 1, 0)
    assert (result.after.tp, result.after.fp, result.after.fn) == (1, 0, 0)
    assert [(cid, case["expect"], held) for cid, case, held in result.changed] == [
        ("c2", "pass", False)
    ]
    assert store.rule_changes() == []


def test_an_uploaded_corpus_is_confined_to_its_folder(tmp_path):
    from gateway.evaluation import CorpusError, InProcess, evaluate, unpack

    for names, message in (
        ({"../evil.eml": b"x", "manifest.jsonl": b""}, "outside the corpus"),
        ({"/etc/evil": b"x", "manifest.jsonl": b""}, "outside the corpus"),
        ({"messages/a.eml": b"x"}, "no manifest.jsonl"),
    ):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        with pytest.raises(CorpusError, match=message):
            unpack(_zip(folder, names), folder / "out")
        assert not (folder / "out").exists() and not (tmp_path / "evil.eml").exists()
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(CorpusError, match="not a zip archive"):
        unpack(tmp_path / "bad.zip", tmp_path / "out")
    secret = tmp_path / "secret.eml"
    secret.write_bytes(mail("Text me."))
    line = json.dumps({"id": "s", "file": "../secret.eml", "expect": "pass"})
    folder = tmp_path / "z"
    folder.mkdir()
    manifest = unpack(_zip(folder, {"corpus/manifest.jsonl": line.encode()}), folder / "out")
    report = evaluate(InProcess(Scanner(load_config(CONFIG_PATH))), manifest, None, confined=True)
    assert report.held == {} and "outside the corpus" in report.errors[0]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the store is incidental here
def test_an_admin_uploads_a_corpus_or_names_one_to_try_a_draft(app, store, config, tmp_path):
    manifest = _corpus(tmp_path / "corpus")
    files = {
        str(p.relative_to(tmp_path / "corpus")): p.read_bytes()
        for p in (tmp_path / "corpus").rglob("*")
        if p.is_file()
    }
    archive = _zip(tmp_path, files)
    admin = login(app, "head")
    token = csrf_of(admin, "/rules/text-me")
    draft = json.dumps({"patterns": [TEXT_ME_FIRST]})
    path = "/rules/text-me/try-corpus"
    tried = admin.post(
        path,
        data={"csrf": token, "draft": draft},
        files={"archive": ("labelled.zip", archive.read_bytes(), "application/zip")},
    )
    assert tried.status_code == 200, tried.text
    changed = tried.text.split('class="changed"')[1].split("</table>")[0]
    assert "<td>c2</td>" in changed and "<td>c1</td>" not in changed
    assert "labelled.zip" in tried.text
    broken = admin.post(
        path,
        data={"csrf": token, "draft": draft},
        files={"archive": ("x.zip", b"nope", "application/zip")},
    )
    assert broken.status_code == 400 and "cannot be read" in broken.text
    assert admin.post(path, data={"csrf": token, "draft": draft}).status_code == 400
    named = create_app(
        dataclasses.replace(config, web=dataclasses.replace(config.web, corpora=(manifest,))),
        store,
        secret="test-secret",
    )
    admin = login(named, "head")
    token = csrf_of(admin, "/rules/text-me")
    assert (
        str(manifest)
        in admin.post("/rules/text-me/try", data={"csrf": token, "patterns": TEXT_ME_FIRST}).text
    )
    by_name = admin.post(path, data={"csrf": token, "draft": draft, "corpus": "1"})
    assert by_name.status_code == 200 and "<td>c2</td>" in by_name.text
    assert admin.post(path, data={"csrf": token, "draft": draft, "corpus": "2"}).status_code == 400
    auditor = login(app, "governor")
    assert (
        auditor.post(path, data={"csrf": csrf_of(auditor, "/rules"), "draft": draft}).status_code
        == 403
    )


def test_a_stored_change_the_files_no_longer_accept_leaves_the_files_in_force(
    config, store, caplog
):
    from gateway.app.reload import with_store

    # Saved when it was valid; since then the list it names has gone from the files.
    store.change_rule(
        "text-me",
        {"patterns": ["{a_list_since_removed}"]},
        previous={"patterns": None},
        actor="head",
        reason="x",
    )
    with caplog.at_level("ERROR", logger="chaperone"):
        running = with_store(config.path, store, config)
    assert [p.pattern for p in running.rules.by_id("text-me").patterns] == [
        p.pattern for p in config.rules.by_id("text-me").patterns
    ]
    assert "no longer fit the rule files" in caplog.text


def test_a_trial_reads_only_the_newest_copies(config, store):
    first = _hold(store, "first", TEXT_ME, body="Pop me a text about the forms.")
    later = [_hold(store, f"later {n}", TEXT_ME, body="Pop me a text today.") for n in range(3)]
    result = tuning.trial(config, store, "text-me", {"patterns": [TEXT_ME_FIRST]}, limit=3)
    assert result.copies == 3 and [t.copy.id for t in result.changed] == later
    assert first not in [t.copy.id for t in result.changed]
