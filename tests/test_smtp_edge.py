"""The SMTP edge in-process, where a fault has to be injected: internal errors answer 451."""

from __future__ import annotations

import aiosmtplib
import pytest

from gateway.app import Gateway
from gateway.store import Store

from .conftest import PARENT, STAFF, mail
from .relay_env import Sink, free_port


async def test_internal_error_answers_451_without_leaking_and_the_session_goes_on(config, tmp_path):
    sink = Sink().start()
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    import dataclasses

    from gateway.config import HostPort

    relay = dataclasses.replace(
        config.relay, next_hop=HostPort("127.0.0.1", sink.port), scan_workers=1
    )
    gateway = Gateway(dataclasses.replace(config, relay=relay), store)
    port = free_port()
    await gateway.start("127.0.0.1", port)
    calls = 0

    original = gateway.process

    async def failing_once(env, raw):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("secret internal detail /var/lib/db")
        return await original(env, raw)

    gateway.process = failing_once
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        with pytest.raises(aiosmtplib.SMTPDataError) as failed:
            await client.sendmail(STAFF, [PARENT], mail("Hello."))
        assert failed.value.code == 451 and failed.value.message.startswith("4.3.0")
        assert "secret" not in failed.value.message
        errors, reply = await client.sendmail(STAFF, [PARENT], mail("Hello again."))  # same session
        assert errors == {} and reply.startswith("2.0.0")
        await client.quit()
    finally:
        await gateway.stop(grace=5)
        sink.stop()
