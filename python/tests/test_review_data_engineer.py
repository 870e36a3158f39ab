"""Defects found replaying exported CRM events (a data engineer's use of the package)."""

from __future__ import annotations

from datetime import datetime

import pytest

import convstate
from conftest import CONTACT, NUMBER


@pytest.mark.parametrize("engine_class", [convstate.Engine, convstate.ShardedEngine])
def test_a_naive_datetime_override_raises_policy_error(engine_class: type) -> None:
    # The constructors promise PolicyError for overrides that do not fit (a NaN gets one,
    # naming the field): a naive datetime (read from a config file, say) raised
    # InvalidInputError, which `except convstate.PolicyError` does not catch.
    overrides = {"consent": {"us_marketing_blocked_from": datetime(2026, 1, 1)}}
    with pytest.raises(convstate.PolicyError, match="policy_overrides: .*naive datetime") as caught:
        engine_class(policy="cloud-2025", policy_overrides=overrides)
    assert caught.value.code == "invalid_policy"


@pytest.mark.parametrize("engine_class", [convstate.Engine, convstate.ShardedEngine])
@pytest.mark.parametrize(
    "bad",
    [float("nan"), datetime(2026, 11, 2, 9), {1, 2}],
    ids=["NaN (a missing value in DataFrame records)", "naive datetime", "set"],
)
def test_process_names_the_event_it_cannot_convert(engine_class: type, bad: object) -> None:
    # `engine.process(df.to_dict("records"))`: one missing text among thousands of rows
    # raised "field "message.text": NaN is not a finite number" without saying which
    # event, where an item of the wrong type names its index ("process: event 1 must be...").
    engine = engine_class(policy="cloud-2025")
    events: list[dict[str, object]] = [
        {"type": "register_number", "at": 0, "business": "acme", "number": NUMBER,
         "channel": "official"},
    ]
    events += [
        {"type": "check_send", "at": 1000 + i, "number": NUMBER, "contact": CONTACT,
         "message": {"kind": "text", "text": "hi"}}
        for i in range(100)
    ]
    events[57] = {**events[57], "message": {"kind": "text", "text": bad}}
    with pytest.raises(convstate.InvalidInputError, match=r"^process: event 57: ") as caught:
        engine.process(events)
    # The class and the engine's code are those of the error without the index.
    assert caught.value.code in {"invalid_event", "invalid_instant"}
    assert caught.value.message == str(caught.value)
