"""One engine called from several threads: calls are serialised, nothing is lost."""

from __future__ import annotations

import json
import threading

import convstate
from conftest import NUMBER, utc

THREADS = 8
CONTACTS_PER_THREAD = 50


def test_one_engine_many_threads(engine: convstate.Engine) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            for n in range(CONTACTS_PER_THREAD):
                contact = f"+7911{index:03d}{n:04d}"
                engine.inbound(NUMBER, contact, at=utc(2026, 11, 2, 9))
                decision = engine.check_send(NUMBER, contact, text="Hi", at=utc(2026, 11, 2, 10))
                assert decision.allowed, decision
                engine.effects()
                # The batch door releases the GIL while the engine works.
                lines = engine.process([{"type": "check_send", "at": "2026-11-03T10:00:00Z", "number": NUMBER,
                                         "contact": contact, "message": {"kind": "text", "text": "Hi"}}])
                assert json.loads(lines[0])["denial"]["reason"] == "window_closed"
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    assert errors == []
    view = engine.number(NUMBER)
    assert engine.conversation(NUMBER, f"+7911{THREADS - 1:03d}{CONTACTS_PER_THREAD - 1:04d}",
                               at=utc(2026, 11, 2, 10))["window_open"] is True
    assert view["business"] == "acme"
    restored = convstate.Engine.restore(engine.snapshot())
    assert repr(restored).endswith(f"conversations={THREADS * CONTACTS_PER_THREAD})")
