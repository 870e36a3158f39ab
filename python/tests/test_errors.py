"""Every error path maps to the right exception class with the engine's code."""

from __future__ import annotations

import pickle
from datetime import datetime
from typing import Any, Callable

import pytest

import convstate
from conftest import CONTACT, NUMBER, utc

CASES: list[tuple[str, type[convstate.ConvstateError], str, Callable[[convstate.Engine], Any]]] = [
    ("bad phone", convstate.InvalidInputError, "invalid_phone_number",
     lambda e: e.register_number("12", business="acme", channel="official")),
    ("naive datetime", convstate.InvalidInputError, "invalid_instant",
     lambda e: e.tick(datetime(2026, 1, 1))),
    ("bad rfc3339", convstate.InvalidInputError, "invalid_instant", lambda e: e.tick("yesterday")),
    ("before 1970", convstate.InvalidInputError, "instant_out_of_range", lambda e: e.tick(-1)),
    ("huge int", convstate.InvalidInputError, "invalid_instant", lambda e: e.tick(2**70)),
    ("unknown channel", convstate.InvalidInputError, "invalid_event",
     lambda e: e.register_number("+15550002222", business="acme", channel="pigeon")),
    ("unknown event type", convstate.InvalidInputError, "invalid_event", lambda e: e.handle({"type": "warp"})),
    ("not json", convstate.InvalidInputError, "invalid_event", lambda e: e.handle("{")),
    ("unconvertible value", convstate.InvalidInputError, "invalid_event",
     lambda e: e.handle({"type": "tick", "at": 0, "x": {1, 2}})),
    ("non-str key", convstate.InvalidInputError, "invalid_event", lambda e: e.handle({1: 2})),
    ("nan", convstate.InvalidInputError, "invalid_event", lambda e: e.handle({"type": "tick", "at": float("nan")})),
    ("owned by other", convstate.InvalidInputError, "number_owned_by_other",
     lambda e: e.register_number(NUMBER, business="globex", channel="official")),
    ("bad template", convstate.InvalidInputError, "invalid_template",
     lambda e: e.register_template("acme", "x", "en", category="utility", body="{{1}}")),
    ("unknown number", convstate.NotFoundError, "unknown_number",
     lambda e: e.inbound("+15559999999", CONTACT, at=0)),
    ("unknown business", convstate.NotFoundError, "unknown_business",
     lambda e: e.template("globex", "x", "en")),
    ("unknown template", convstate.NotFoundError, "unknown_template",
     lambda e: e.template("acme", "x", "en")),
    ("no live chat", convstate.NotFoundError, "no_live_chat",
     lambda e: e.end_chat(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))),
    ("no ticket", convstate.NotFoundError, "no_ticket",
     lambda e: e.set_ticket_status(NUMBER, CONTACT, "closed", at=utc(2026, 11, 2, 9))),
    ("corrupt snapshot", convstate.SnapshotError, "corrupt_snapshot", lambda e: convstate.Engine.restore(b"nope")),
    ("future snapshot", convstate.SnapshotError, "unsupported_snapshot_version",
     lambda e: convstate.Engine.restore(b'{"format":"convstate-snapshot","version":99}')),
    ("unknown policy", convstate.PolicyError, "unknown_policy", lambda e: convstate.Engine(policy="nope")),
    ("bad override", convstate.PolicyError, "invalid_policy",
     lambda e: convstate.Engine(policy="classic", policy_overrides={"window": {"length": "soon"}})),
]


@pytest.mark.parametrize(("cls", "code", "call"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_maps_to_class_and_code(engine: convstate.Engine, cls: type, code: str, call: Callable[[convstate.Engine], Any]) -> None:
    before = engine.snapshot()
    with pytest.raises(cls) as caught:
        call(engine)
    error = caught.value
    assert type(error) is cls
    assert isinstance(error, convstate.ConvstateError)
    assert error.code == code
    assert error.kind == cls.kind
    assert str(error)
    assert engine.snapshot() == before, "errors change nothing"


def test_hierarchy() -> None:
    classes = [convstate.InvalidInputError, convstate.NotFoundError, convstate.PolicyError,
               convstate.SnapshotError, convstate.CapacityError]
    assert len({c.kind for c in classes}) == len(classes)
    for cls in classes:
        assert issubclass(cls, convstate.ConvstateError)
    assert issubclass(convstate.InvalidInputError, ValueError)
    assert issubclass(convstate.NotFoundError, LookupError)


def test_errors_pickle() -> None:
    error = convstate.NotFoundError("unknown number", "unknown_number")
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is convstate.NotFoundError and clone.code == "unknown_number" and str(clone) == "unknown number"


def test_setstate_refuses_garbage(engine: convstate.Engine) -> None:
    with pytest.raises(convstate.SnapshotError):
        engine.__setstate__(b"garbage")
