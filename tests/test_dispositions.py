"""What each action means for a copy, the same in the relay, ``gateway check`` and ``gateway eval``:
``flag`` delivers with a header, ``reject`` refuses with 5.7.1, and a rule for staff copies runs in the relay."""

from __future__ import annotations

import json
import smtplib
import subprocess

import pytest

from gateway.dispose import FLAG_HEADER, caught, dispose
from gateway.mail import Verdict

from .conftest import PARENT, STAFF, example_config, mail
from .relay_env import GATEWAY, ROOT, GatewayProcess, Sink

COLLEAGUE = "c.colleague@heartofengland.example"

RULES = """
[[rule]]
id = "mango-flag"
category = "secrecy"
description = "test: flags"
clause = "test"
detector = "phrases"
patterns = ["mango"]
applies_to = ["parent"]
action = "flag"

[[rule]]
id = "durian-reject"
category = "secrecy"
description = "test: refuses"
clause = "test"
detector = "phrases"
patterns = ["durian"]
applies_to = ["parent"]
action = "reject"

[[rule]]
id = "staff-phone"
category = "personal_phone"
description = "test: a rule for staff copies"
clause = "test"
detector = "phone"
applies_to = ["staff"]
action = "quarantine"
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    (folder / "10-test.toml").write_text(RULES)
    return folder


@pytest.fixture(scope="module")
def sink():
    s = Sink().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def gateway(sink, rules, tmp_path_factory):
    g = GatewayProcess(tmp_path_factory.mktemp("gw"), sink, rules=[rules]).start()
    yield g
    g.stop()


def test_dispose_gives_each_verdict_its_one_meaning():
    plan = dispose(
        ["a", "b", "c", "d"],
        {"a": Verdict.PASS, "b": Verdict.FLAG, "c": Verdict.QUARANTINE, "d": Verdict.REJECT},
    )
    assert (
        plan.forward == ("a",)
        and list(plan.flag) == ["b"]
        and plan.hold == ("c",)
        and plan.refuse == ("d",)
    )
    assert [caught(v) for v in Verdict] == [False, False, True, True]


def test_a_flagged_copy_is_delivered_with_a_header_naming_the_rule(gateway, sink):
    with gateway.smtp() as client:
        client.sendmail(
            STAFF,
            [PARENT, COLLEAGUE],
            mail("A mango for the class.", subject="flag-1", to=(PARENT, COLLEAGUE)),
        )
    to_parent = sink.wait_for_text(PARENT, b"flag-1")[0].data
    assert f"{FLAG_HEADER}: mango-flag\r\n".encode() in to_parent
    to_colleague = sink.wait_for_text(COLLEAGUE, b"flag-1")[0].data
    assert FLAG_HEADER.encode() not in to_colleague  # the rule applies to parents only
    assert not [c for c in gateway.copies() if c["subject"] == "flag-1"]  # nothing held
    line = [
        r for r in gateway.log_records() if r.get("event") == "message" and r["reply"] == "250"
    ][-1]
    assert {"class": "parent", "verdict": "flagged", "rules": ["mango-flag"]} in line["recipients"]


def test_a_copy_refused_for_every_recipient_gets_5_7_1_and_is_recorded(gateway, sink):
    with gateway.smtp() as client, pytest.raises(smtplib.SMTPDataError) as refused:
        client.sendmail(STAFF, [PARENT], mail("A durian for you.", subject="reject-1"))
    assert refused.value.smtp_code == 550 and refused.value.smtp_error.startswith(b"5.7.1")
    assert b"durian-reject" in refused.value.smtp_error
    assert not sink.to(PARENT) or not any(b"reject-1" in m.data for m in sink.to(PARENT))
    [copy] = [c for c in gateway.copies("rejected") if c["subject"] == "reject-1"]
    assert copy["findings"][0]["rule"] == "durian-reject"


def test_a_refused_copy_beside_a_delivered_one_reaches_the_sender_as_a_dsn(gateway, sink):
    with gateway.smtp() as client:
        client.sendmail(
            STAFF,
            [PARENT, COLLEAGUE],
            mail("A durian for you.", subject="reject-2", to=(PARENT, COLLEAGUE)),
        )
    assert sink.wait_for_text(COLLEAGUE, b"reject-2")
    assert not any(b"reject-2" in m.data for m in sink.to(PARENT))
    dsn = sink.wait_for_text(STAFF, b"reject-2")[0].data
    assert b"Status: 5.7.1" in dsn and b"communications policy" in dsn and b"durian-reject" in dsn
    assert [c["recipient"] for c in gateway.copies("rejected") if c["subject"] == "reject-2"] == [
        PARENT
    ]


def test_a_rule_for_staff_copies_runs_in_the_relay(gateway, sink):
    with gateway.smtp() as client:
        client.sendmail(
            STAFF,
            [COLLEAGUE],
            mail("My mobile is 07911 123456.", subject="staff-1", to=(COLLEAGUE,)),
        )
    [copy] = [c for c in gateway.copies("held") if c["subject"] == "staff-1"]
    assert copy["recipient"] == COLLEAGUE and copy["findings"][0]["rule"] == "staff-phone"
    assert not any(b"staff-1" in m.data for m in sink.to(COLLEAGUE))


def _manifest(tmp_path) -> str:
    (tmp_path / "m").mkdir()
    for name, body in (("flag", "A mango for the class."), ("reject", "A durian for you.")):
        (tmp_path / "m" / f"{name}.eml").write_bytes(mail(body))
    lines = [
        {"id": "flag", "file": "m/flag.eml", "expect": "pass", "categories": []},
        {"id": "reject", "file": "m/reject.eml", "expect": "hold", "categories": ["secrecy"]},
    ]
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return str(path)


def test_check_and_eval_count_a_flag_as_delivered_and_a_reject_as_caught(tmp_path, rules):
    config = example_config(tmp_path, rules=rules)
    (tmp_path / "flag.eml").write_bytes(mail("A mango for the class."))
    done = subprocess.run(
        [str(GATEWAY), "check", "--json", "--config", str(config), str(tmp_path / "flag.eml")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr  # delivered (with a header): nothing is held
    assert json.loads(done.stdout)["verdict"] == "flag"
    report = subprocess.run(
        [str(GATEWAY), "eval", "--config", str(config), _manifest(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert report.returncode == 0, report.stderr
    assert "precision: 1.000   recall: 1.000   false-positive rate: 0.000" in report.stdout
