"""Random event lists never raise anything but ConvstateError, whatever the door (or a
TypeError for an instant argument of no instant's type)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convstate

# These properties are about what is raised; random int instants of 1970 to 2001 also warn
# that they look like unix seconds (test_argument_forms.py tests that), which the tests'
# filter would raise.
pytestmark = pytest.mark.filterwarnings("ignore::convstate.UnixSecondsWarning")

EVENT_TYPES = ["register_number", "register_template", "inbound", "send", "check_send", "initiate",
               "end_chat", "set_ticket_status", "opt_in", "opt_out", "user_preference", "send_failed",
               "template_status", "template_category", "template_components", "tick", "query_conversation", "bogus"]
NUMBERS = ["+15550001111", "+15550002222", "+4930123456", "12", "", "not a number", "0049301234567"]

instants = st.one_of(
    st.integers(min_value=-(2**65), max_value=2**65),
    st.datetimes(timezones=st.just(timezone.utc)),
    st.datetimes(),  # naive: refused
    st.sampled_from(["2026-11-02T09:00:00Z", "2026-11-02T09:00:00+03:00", "nope", ""]),
    st.floats(allow_nan=True),
    st.none(),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(), st.text(max_size=20), st.sampled_from(NUMBERS),
                    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)

field_names = st.sampled_from(["number", "contact", "group", "business", "channel", "kind", "text",
                               "name", "language", "category", "body", "status", "by", "value", "code",
                               "size", "force", "idempotency_key", "template", "default_template", "idle_timeout"])
messages = st.one_of(
    st.fixed_dictionaries({"kind": st.just("text"), "text": st.text(max_size=50)}),
    st.fixed_dictionaries({"kind": st.just("template"), "name": st.sampled_from(["t", "x"]),
                           "language": st.just("en"), "params": st.lists(st.text(max_size=5), max_size=2)}),
    values,
)


@st.composite
def events(draw: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": draw(st.sampled_from(EVENT_TYPES)), "at": draw(instants)}
    event["number"] = draw(st.sampled_from(NUMBERS))
    event["contact"] = draw(st.sampled_from(NUMBERS))
    if draw(st.booleans()):
        event["message"] = draw(messages)
    if draw(st.booleans()):
        event["channel"] = draw(st.sampled_from(["official", "unofficial", "messenger", "email", "x"]))
        event["business"] = draw(st.sampled_from(["acme", "globex", ""]))
    for _ in range(draw(st.integers(0, 3))):
        event[draw(field_names)] = draw(values)
    return event


SETUP = {"type": "register_number", "at": 0, "business": "acme", "number": "+15550001111", "channel": "official"}


@settings(max_examples=150, deadline=None)
@given(st.lists(events(), max_size=12))
def test_random_events_raise_only_convstate_errors(batch: list[dict[str, Any]]) -> None:
    engine = convstate.Engine()
    engine.handle(SETUP)
    for event in batch:
        try:
            output = engine.handle(event)
        except convstate.ConvstateError as error:
            assert error.code and error.kind
            continue
        assert output is None or isinstance(output, (convstate.Decision, dict))
        if isinstance(output, convstate.Decision):
            repr(output), output.details, output.billing, output.next_action
    engine.effects()
    # The batch door too: it converts everything first and reports bad events as lines.
    try:
        lines = engine.process(batch)
    except convstate.ConvstateError:
        return
    assert len(lines) >= len(batch)
    restored = convstate.Engine.restore(engine.snapshot())
    assert restored.snapshot() == engine.snapshot()


@settings(max_examples=100, deadline=None)
@given(st.lists(instants, max_size=5), st.text(max_size=30))
def test_typed_methods_raise_only_convstate_errors_or_type_errors(ats: list[Any], text: str) -> None:
    engine = convstate.Engine()
    engine.register_number("+15550001111", business="acme", channel="official")
    for at in ats:
        for call in (
            lambda: engine.inbound("+15550001111", "+79110000001", at=at),
            lambda: engine.check_send("+15550001111", "+79110000001", text=text, at=at),
            lambda: engine.send("+15550001111", text, text=text, at=at),
            lambda: engine.tick(at),
        ):
            try:
                call()
            except convstate.ConvstateError:
                pass
            except TypeError:
                # A value of no instant's type (a float, None) is the caller's type error.
                assert at is None or isinstance(at, float), at
    assert isinstance(engine.clock, datetime)
