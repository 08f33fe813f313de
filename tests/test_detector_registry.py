"""A new detector is its own module, a rule and a test: nothing else in the tree changes.

The example module below is what a contributor would add as
``gateway/detect/video_calls.py``. It is written to a folder of its own and
added to the detector package's search path, so the shipped tree stays as it
is; the registry finds it the way it finds every module of the package.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import ROOT, example_config, mail

EXAMPLE_DETECTOR = """
import regex

from gateway.detect import Candidate, Detector, register

_MEETING = regex.compile(r"(?:zoom\\.us/j|meet\\.google\\.com|teams\\.live\\.com/meet)/[\\w/?=-]+", regex.I)


def find_video_calls(segment, context):
    text = segment.text.text
    for m in _MEETING.finditer(text):
        yield Candidate("video-call", m.group(0).lower(), segment, m.start(), m.end(), True, "meeting link")


register(find_video_calls, Detector("video-call", approved_as=None, reviewer_may_approve=False))
"""

EXAMPLE_RULE = """
[[rule]]
id = "personal-video-call"
category = "unapproved_channel"
description = "A link to a video call outside the school's platforms"
clause = "Staff should not use personal channels to communicate with students or parents/carers."
detector = "video-call"
applies_to = ["parent", "student"]
"""

SCAN = """
import json, sys
import gateway.detect
gateway.detect.__path__.append(sys.argv[1])
from gateway.config import load_config
from gateway.judge.scan import Scanner
config = load_config(sys.argv[2])
result = Scanner(config).scan(open(sys.argv[3], "rb").read())
print(json.dumps(result.as_json()))
"""


def test_an_example_detector_module_and_rule_are_all_it_takes(tmp_path):
    (tmp_path / "detectors").mkdir()
    (tmp_path / "detectors" / "video_calls.py").write_text(EXAMPLE_DETECTOR)
    rules = tmp_path / "rules"
    rules.mkdir()
    for shipped in (ROOT / "rules").glob("*.toml"):
        (rules / shipped.name).write_text(shipped.read_text())
    (rules / "40-video.toml").write_text(EXAMPLE_RULE)
    config = example_config(tmp_path, rules=rules)
    message = tmp_path / "m.eml"

    def scan(body: str) -> dict:
        message.write_bytes(mail(body))
        done = subprocess.run(
            [sys.executable, "-c", SCAN, str(tmp_path / "detectors"), str(config), str(message)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    held = scan("Join me at zoom.us/j/81234567 tonight for extra help.")
    assert held["verdict"] == "quarantine"
    assert [f["rule"] for f in held["findings"]] == ["personal-video-call"]
    assert scan("See you at parents' evening in the main hall.")["verdict"] == "pass"
