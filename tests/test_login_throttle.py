"""The SMTP AUTH lock-out, on its own clock."""

from __future__ import annotations

from gateway.receive.access import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_lock_a_name_out_for_a_minute_then_twice_as_long():
    clock = Clock()
    t = LoginThrottle(clock)
    for _ in range(4):
        t.failed("user:a", "client:1")
    assert not t.locked("user:a")
    t.failed("user:a", "client:1")
    assert t.locked("user:a") and t.locked("client:1") and not t.locked("user:b")
    clock.now += 61
    assert not t.locked("user:a")
    t.failed("user:a")
    clock.now += 61
    assert t.locked("user:a")  # the sixth failure locks for two minutes
    clock.now += 60
    assert not t.locked("user:a")


def test_a_good_login_clears_its_name_and_address():
    t = LoginThrottle(Clock())
    for _ in range(4):
        t.failed("user:a", "client:1")
    t.succeeded("user:a", "client:1")
    t.failed("user:a", "client:1")
    assert not t.locked("user:a", "client:1")
