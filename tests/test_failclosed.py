"""Bad input is held with a reason, never passed unscanned."""

import dataclasses

import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.config import load_config
from gateway.judge.pool import ScanPool
from gateway.judge.rules import Rule, RuleSet
from gateway.judge.scan import Scanner
from tests.conftest import CONFIG, PARENT, mail


def test_deeply_nested_multipart_is_held(scanner):
    depth = 3000
    head = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)
    )
    raw = (
        f"From: t@heartofengland.example\nTo: {PARENT}\nSubject: x\nMIME-Version: 1.0\n"
        + head
        + "\nhello\n"
    ).encode()
    r = scanner.scan(raw)
    assert r.verdict == "quarantine" and r.error


def test_catastrophic_admin_pattern_fails_closed(config):
    bad = Rule(
        id="admin-redos",
        category="secrecy",
        description="",
        clause="x",
        detector="phrases",
        action="quarantine",
        applies_to=("parent", "student"),
        zones=("new",),
        patterns=(regex.compile(r"(a|aa)+$"),),
    )
    cfg = dataclasses.replace(
        config,
        rules=RuleSet(config.rules.rules + (bad,)),
        limits=dataclasses.replace(config.limits, pattern_timeout_seconds=0.2),
    )
    r = Scanner(cfg).scan(mail("a" * 40 + "b"))
    assert r.verdict == "quarantine"
    assert "admin-redos" in (r.error or "")


def test_pool_deadline_holds_a_slow_scan(config):
    cfg = dataclasses.replace(
        config, limits=dataclasses.replace(config.limits, deadline_seconds=0.001)
    )
    pool = ScanPool(cfg)
    try:
        r = pool.scan(mail("hello " * 20000))
    finally:
        pool.close()
    assert r.verdict == "quarantine" and "did not finish" in r.error


def test_unknown_charset_and_bad_base64_are_read(scanner):
    raw = (
        f"From: t@heartofengland.example\nTo: {PARENT}\nSubject: x\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=x-no-such-charset\nContent-Transfer-Encoding: base64\n\n"
        "VGV4dCBtZSBvbiAwNzkxMSAxMjM0NTY=!!!\n"
    ).encode()
    r = scanner.scan(raw)
    assert r.verdict == "quarantine" and not r.error


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_crash_or_pass_unscanned(scanner, data):
    raw = f"From: t@heartofengland.example\nTo: {PARENT}\n".encode() + data
    r = scanner.scan(raw)
    assert r.verdict in {"pass", "flag", "quarantine", "reject"}
    if r.error:
        assert r.recipients.get(PARENT, "quarantine") == "quarantine"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=400), st.sampled_from(["7bit", "quoted-printable", "base64"]))
def test_arbitrary_text_bodies_are_scanned(scanner, body, cte):
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"] = "t@heartofengland.example"
    m["To"] = PARENT
    m.set_content(
        body + "\ntext me on 07911 123456", cte=cte if cte != "7bit" or body.isascii() else "base64"
    )
    r = scanner.scan(bytes(m))
    assert r.recipients[PARENT] == "quarantine"


def test_config_loads():
    assert load_config(CONFIG).rules.rules


def test_scan_results_cross_from_workers_whole():
    """ScanResult and Finding pickle by constructor arguments: a field left out would be lost."""
    import dataclasses
    import pickle

    from gateway.judge.policy import Finding
    from gateway.judge.scan import ScanResult

    for cls in (Finding, ScanResult):
        values = {f.name: f"value-{k}" for k, f in enumerate(dataclasses.fields(cls))}
        original = cls(**values)
        assert pickle.loads(pickle.dumps(original, protocol=pickle.HIGHEST_PROTOCOL)) == original
