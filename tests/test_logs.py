"""The JSON log formatter, on records as libraries make them."""

from __future__ import annotations

import json
import logging

from gateway.app.logs import LIBRARY_MESSAGE_CHARS, JsonLines


def _record(name: str, msg: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)


def test_a_library_message_is_cut_short_and_names_its_logger():
    out = json.loads(JsonLines().format(_record("somelib", "bytes\n" * 5000)))
    assert out["logger"] == "somelib"
    assert len(out["msg"]) <= LIBRARY_MESSAGE_CHARS + 3


def test_the_gateways_own_message_is_kept_whole():
    out = json.loads(JsonLines().format(_record("chaperone", "y" * 5000)))
    assert out["msg"] == "y" * 5000 and "logger" not in out
