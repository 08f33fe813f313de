"""The school's approved platforms come from ``[approved] platforms`` and take effect in the rules."""

from __future__ import annotations

import dataclasses

from gateway.config import load_config
from gateway.judge.scan import Scanner

from .conftest import CONFIG, PARENT, categories, example_config, mail

GROUP_CHAT = "I've set up a group chat on {} for the trip, so we can share updates."


def test_a_group_chat_on_an_approved_platform_passes(scanner):
    for platform in ("ParentPay", "Microsoft Teams", "Class Charts"):
        r = scanner.scan(mail(GROUP_CHAT.format(platform)), rcpts=[PARENT])
        assert "unapproved_channel" not in categories(r), platform


def test_a_group_chat_elsewhere_is_held(scanner):
    r = scanner.scan(mail(GROUP_CHAT.format("WhatsApp")), rcpts=[PARENT])
    assert r.verdict == "quarantine" and "unapproved_channel" in categories(r)


def test_the_list_is_the_configurations_not_the_rule_files(tmp_path):
    text = CONFIG.read_text().replace('"ParentPay", ', "")
    path = example_config(tmp_path, text)
    config = load_config(path)
    assert "ParentPay" not in config.official_platforms
    r = Scanner(config).scan(mail(GROUP_CHAT.format("ParentPay")), rcpts=[PARENT])
    assert "unapproved_channel" in categories(r)
    # ...and with nothing listed at all, the rule still loads and holds.
    bare = Scanner(dataclasses.replace(load_config(path), official_platforms=()))
    assert bare.scan(mail(GROUP_CHAT.format("WhatsApp")), rcpts=[PARENT]).verdict == "quarantine"
