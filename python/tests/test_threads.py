"""One engine called from several threads: calls are serialised, nothing is lost."""

from __future__ import annotations

import json

import convstate
from conftest import NUMBER, in_threads, utc

THREADS = 8
CONTACTS_PER_THREAD = 50


def test_one_engine_many_threads(engine: convstate.Engine) -> None:
    def worker(index: int) -> None:
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

    in_threads(THREADS, worker)
    view = engine.number(NUMBER)
    assert engine.conversation(NUMBER, f"+7911{THREADS - 1:03d}{CONTACTS_PER_THREAD - 1:04d}",
                               at=utc(2026, 11, 2, 10))["window_open"] is True
    assert view["business"] == "acme"
    restored = convstate.Engine.restore(engine.snapshot())
    assert repr(restored).endswith(f"conversations={THREADS * CONTACTS_PER_THREAD})")
