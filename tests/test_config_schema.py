"""A configuration value of the wrong shape is a clear error at its line, never a crash,
and a running gateway keeps its last good configuration and goes on watching."""

from __future__ import annotations

import subprocess
import time

import pytest

from gateway.config import load_config
from gateway.judge.rules import RuleError

from .conftest import CONFIG, PARENT, STAFF, example_config, mail
from .relay_env import GATEWAY, GatewayProcess, Sink

GOOD = CONFIG.read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


BROKEN = [
    # (what the school wrote instead, the line's marker, words the error must say)
    (
        ('{ platform = "x", handle = "HoESchool" }', '{ platform = "x" }'),
        '{ platform = "x" }',
        "'handle' is required",
    ),
    (
        ("deadline_seconds = 10.0", 'deadline_seconds = "10s"'),
        "deadline_seconds",
        "must be a number",
    ),
    (
        ('unknown_external = "parent"', 'unknown_external = ["parent"]'),
        "unknown_external",
        "must be a string",
    ),
    (
        ('unknown_external = "parent"', 'unknown_external = "parents"'),
        "unknown_external",
        "must be one of",
    ),
    (("max_parts = 2000", "max_parts = 0"), "max_parts", "at least 1"),
    (
        ('two_person_release = ["secrecy"]', 'two_person_release = ["secret"]'),
        "two_person_release",
        "one of",
    ),
    (("https = false", 'https = "no"'), "https", "true or false"),
    (('kind = "phone"', 'kind = "mobile"'), 'kind = "mobile"', "must be one of"),
    (('value = "07700 900123"', 'value = "call me"'), 'value = "call me"', "is not a phone number"),
    (("until = 2026-12-20", 'until = "next week"'), "until =", "a date"),
]


@pytest.mark.parametrize(("change", "marker", "says"), BROKEN, ids=[b[2] for b in BROKEN])
def test_a_value_of_the_wrong_shape_is_an_error_at_its_line(tmp_path, change, marker, says):
    text = GOOD.replace(*change)
    assert text != GOOD
    path = example_config(tmp_path, text)
    with pytest.raises(RuleError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}:{line_of(text, marker)}:"), message
    assert says in message


def test_an_unknown_key_is_a_warning_with_its_line_not_an_error(tmp_path):
    text = GOOD.replace("[scanner]\n", "[scanner]\ndeadline_secs = 5\n")
    config = load_config(example_config(tmp_path, text))
    assert len(config.warnings) == 1
    assert (
        f":{line_of(text, 'deadline_secs')}: scanner.deadline_secs: unknown key"
        in config.warnings[0]
    )


def test_rules_check_names_the_line_and_prints_no_traceback(tmp_path):
    path = example_config(
        tmp_path, GOOD.replace('{ platform = "x", handle = "HoESchool" }', '{ platform = "x" }')
    )
    done = subprocess.run(
        [str(GATEWAY), "rules", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"{path}:" in done.stderr and "'handle' is required" in done.stderr


def test_a_running_gateway_keeps_its_configuration_through_a_bad_value_and_goes_on_reloading(
    tmp_path,
):
    sink = Sink().start()
    g = GatewayProcess(tmp_path, sink).start()
    try:
        good = g.config_path.read_text()
        g.config_path.write_text(
            good.replace("deadline_seconds = 10.0", 'deadline_seconds = "10s"')
        )
        deadline = time.monotonic() + 15
        while "reload failed" not in g.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "must be a number" in g.log()
        with g.smtp() as client:  # the last good rules still hold
            client.sendmail(STAFF, [PARENT], mail("Text me on 07911 123456.", subject="during"))
        # The watcher is alive: a fix, with an exception approving that number, takes effect.
        time.sleep(1.1)  # a new mtime
        g.config_path.write_text(
            good.replace(
                "[rules]",
                '[[exceptions]]\nkind = "phone"\nvalue = "07911 123456"\nlabel = "trip"\n\n[rules]',
            )
        )
        while '"msg": "reloaded"' not in g.log() and time.monotonic() < deadline + 15:
            time.sleep(0.1)
        with g.smtp() as client:
            client.sendmail(STAFF, [PARENT], mail("My number is 07911 123456.", subject="after"))
        assert sink.wait_for_text(PARENT, b"Subject: after")
        assert [c["subject"] for c in g.copies("held")] == ["during"]
    finally:
        g.stop()
        sink.stop()
