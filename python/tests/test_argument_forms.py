"""Arguments in the forms Python code hands over: any bytes-like object where raw bytes are
taken, a byte-order mark where a whole input starts, timedeltas and instants refused with an
error naming the argument or field, and a dict event read as its line is."""

from __future__ import annotations

import array
import json
import pickle
from datetime import date, datetime, timedelta
from typing import Any, Callable

import pytest

import convstate
from conftest import CONTACT, NUMBER, utc

TICK = '{"type":"tick","at":"2026-11-02T09:06:00Z"}'
BOM = "\ufeff"


def busy_engine() -> convstate.Engine:
    engine = convstate.Engine(policy="cloud-2025")
    engine.register_number(NUMBER, business="acme", channel="official", at=utc(2026, 11, 2, 8))
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    engine.effects()
    return engine


def busy_sharded() -> convstate.ShardedEngine:
    engine = convstate.ShardedEngine(policy="cloud-2025", shards=2)
    engine.process([
        {"type": "register_number", "at": "2026-11-02T08:00:00Z", "number": NUMBER, "business": "acme",
         "channel": "official"},
        {"type": "inbound", "at": "2026-11-02T09:00:00Z", "number": NUMBER, "contact": CONTACT, "kind": "text"},
    ])
    return engine


# --- raw bytes arguments -----------------------------------------------------------------

BYTES_LIKE: list[Callable[[bytes], Any]] = [
    bytes,
    bytearray,
    memoryview,
    lambda data: memoryview(b"xx" + data)[2:],  # a contiguous slice
    lambda data: array.array("B", data),
]
BYTES_LIKE_IDS = ["bytes", "bytearray", "memoryview", "memoryview slice", "array('B')"]


@pytest.mark.parametrize("form", BYTES_LIKE, ids=BYTES_LIKE_IDS)
def test_raw_bytes_arguments_take_any_bytes_like_object(form: Callable[[bytes], Any]) -> None:
    engine = busy_engine()
    snapshot = engine.snapshot()
    assert convstate.Engine.restore(form(snapshot)).snapshot() == snapshot
    exported = engine.export_business("acme")
    assert (convstate.Engine.from_business_export(form(exported)).snapshot()
            == convstate.Engine.from_business_export(exported).snapshot())
    imported = convstate.Engine(policy="cloud-2025")
    imported.import_business(form(exported))
    assert imported.snapshot() == convstate.Engine.from_business_export(exported).snapshot()
    unpickled = pickle.loads(pickle.dumps(convstate.Engine()))
    unpickled.__setstate__(form(snapshot))
    assert unpickled.snapshot() == snapshot
    lines = (TICK + "\n").encode()
    assert engine.process_bytes(form(lines)) == busy_engine().process_bytes(lines)

    sharded = busy_sharded()
    sharded_snapshot = sharded.snapshot()
    assert convstate.ShardedEngine.restore(form(sharded_snapshot)).snapshot() == sharded_snapshot
    other = convstate.ShardedEngine(policy="cloud-2025", shards=2)
    other.import_business(form(sharded.export_business("acme")))
    assert other.export_business("acme") == sharded.export_business("acme")
    assert sharded.process_bytes(form(lines)) == busy_sharded().process_bytes(lines)


def _bytes_calls() -> list[Any]:
    engine = busy_engine()
    sharded = busy_sharded()
    calls: list[tuple[str, str, Callable[[Any], Any]]] = [
        ("Engine.restore", "snapshot", convstate.Engine.restore),
        ("Engine.from_business_export", "data", convstate.Engine.from_business_export),
        ("Engine.import_business", "data", engine.import_business),
        ("Engine.process_bytes", "data", engine.process_bytes),
        ("Engine.__setstate__", "state", engine.__setstate__),
        ("ShardedEngine.restore", "snapshot", convstate.ShardedEngine.restore),
        ("ShardedEngine.import_business", "data", sharded.import_business),
        ("ShardedEngine.process_bytes", "data", sharded.process_bytes),
    ]
    return [pytest.param(name, call, id=label) for label, name, call in calls]


@pytest.mark.parametrize(("name", "call"), _bytes_calls())
@pytest.mark.parametrize("value", ['{"format":"convstate-snapshot"}', None, [123, 34], 7],
                         ids=["str", "None", "list", "int"])
def test_raw_bytes_arguments_refuse_other_types_naming_the_argument(
        name: str, call: Callable[[Any], Any], value: Any) -> None:
    with pytest.raises(TypeError) as caught:
        call(value)
    assert not isinstance(caught.value, convstate.ConvstateError)
    message = str(caught.value)
    assert f"{name} must be a bytes-like object" in message, message
    assert type(value).__name__ in message, message


@pytest.mark.parametrize(("name", "call"), _bytes_calls())
def test_raw_bytes_arguments_refuse_a_buffer_that_is_not_contiguous(
        name: str, call: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError) as caught:
        call(memoryview(b"{}{}{}")[::2])
    message = str(caught.value)
    assert f"{name} must be" in message and "contiguous" in message, message


# --- byte-order mark ---------------------------------------------------------------------

@pytest.mark.parametrize("make", [busy_engine, busy_sharded], ids=["Engine", "ShardedEngine"])
def test_a_byte_order_mark_starting_the_input_is_skipped_by_process_as_by_process_bytes(
        make: Callable[[], Any]) -> None:
    by_lines = make().process([BOM + TICK, TICK])
    by_bytes = make().process_bytes((BOM + TICK + "\n" + TICK + "\n").encode())
    assert by_lines == by_bytes.decode().splitlines()
    assert [json.loads(line) for line in by_lines] == [{"type": "ack", "of": "tick"}] * 2


@pytest.mark.parametrize("make", [busy_engine, busy_sharded], ids=["Engine", "ShardedEngine"])
@pytest.mark.parametrize("lines", [[TICK, BOM + TICK], ["", BOM + TICK], ["// note", BOM + TICK]],
                         ids=["after an event", "after a blank line", "after a comment"])
def test_a_byte_order_mark_anywhere_else_is_an_error_line_in_both(
        make: Callable[[], Any], lines: list[str]) -> None:
    by_lines = make().process(lines)
    by_bytes = make().process_bytes("\n".join(lines).encode())
    assert by_lines == by_bytes.decode().splitlines()
    error = json.loads(by_lines[-1])
    assert error["type"] == "error" and "byte-order mark" in error["message"], error


def test_a_byte_order_mark_is_no_part_of_a_single_line() -> None:
    # handle_json and handle take one line, not an input: the mark is malformed there.
    [error] = busy_engine().handle_json(BOM + TICK)
    assert "byte-order mark" in json.loads(error)["message"]
    with pytest.raises(convstate.InvalidInputError, match="byte-order mark"):
        busy_engine().handle(BOM + TICK)


# --- timedeltas --------------------------------------------------------------------------

@pytest.mark.parametrize("duration", [timedelta(microseconds=999), timedelta(minutes=3, microseconds=1),
                                      timedelta(microseconds=-1)],
                         ids=["999 us", "3 min and 1 us", "-1 us"])
def test_a_timedelta_of_a_fraction_of_a_millisecond_is_refused_naming_its_field(duration: timedelta) -> None:
    engine = busy_engine()
    before = engine.snapshot()
    with pytest.raises(convstate.InvalidInputError) as typed:
        engine.register_number("+15550002222", business="acme", channel="official", idle_timeout=duration)
    assert typed.value.code == "invalid_event"
    assert str(typed.value).startswith('invalid event: field "idle_timeout": '), typed.value
    assert "whole number of milliseconds" in str(typed.value), typed.value
    with pytest.raises(convstate.InvalidInputError, match='field "idle_timeout": .*whole number of milliseconds'):
        engine.handle({"type": "register_number", "at": 0, "number": "+15550002222", "business": "acme",
                       "channel": "official", "idle_timeout": duration})
    with pytest.raises(convstate.PolicyError,
                       match='policy_overrides: field "chat.idle_timeout": .*whole number of milliseconds'):
        convstate.Engine(policy="classic", policy_overrides={"chat": {"idle_timeout": duration}})
    assert engine.snapshot() == before


def test_a_timedelta_of_whole_milliseconds_is_taken_exactly() -> None:
    engine = convstate.Engine(policy="classic",
                              policy_overrides={"chat": {"idle_timeout": timedelta(minutes=3, milliseconds=1)}})
    assert engine.policy["chat"]["idle_timeout"] == timedelta(minutes=3, milliseconds=1)


# --- dict events -------------------------------------------------------------------------

@pytest.mark.parametrize("first", ["size", "kind"])
def test_a_dict_event_names_the_same_bad_field_as_its_line(first: str) -> None:
    bad = {"size": -1, "kind": "txt"}
    event: dict[str, Any] = {"type": "inbound", "at": "2026-11-02T09:05:00Z", "number": NUMBER,
                             "contact": CONTACT}
    event[first] = bad[first]
    for key, value in bad.items():
        event.setdefault(key, value)
    engine = busy_engine()
    [line_error] = engine.handle_json(json.dumps(event))
    message = json.loads(line_error)["message"]
    if first == "kind":
        assert message.startswith('invalid event: field "kind"'), message
    # With "size" first the core's locator names "at" (a core defect, not the binding's):
    # whatever the line's error says, the dict's must say the same.
    with pytest.raises(convstate.InvalidInputError) as caught:
        engine.handle(event)
    assert str(caught.value) == message
    assert engine.process([event]) == [line_error]
    assert busy_sharded().process([event]) == [line_error]


# --- instants ----------------------------------------------------------------------------

WRONG_TYPES = [[1, 2], float("nan"), 1.5, True, date(2026, 11, 2), b"2026-11-02T09:00:00Z", object()]
WRONG_TYPE_IDS = ["list", "NaN", "float", "bool", "date", "bytes", "object"]


def _instant_calls() -> list[Any]:
    engine = busy_engine()
    sharded = busy_sharded()
    calls: list[tuple[str, str, Callable[[Any], Any]]] = [
        ("tick", "at", lambda at: engine.tick(at)),
        ("inbound", "at", lambda at: engine.inbound(NUMBER, CONTACT, at=at)),
        ("check_send", "at", lambda at: engine.check_send(NUMBER, CONTACT, at=at, text="hi")),
        ("register_number", "at", lambda at: engine.register_number(NUMBER, business="acme",
                                                                    channel="official", at=at)),
        ("conversation", "at", lambda at: engine.conversation(NUMBER, CONTACT, at=at)),
        ("handle_webhook", "received_at", lambda at: engine.handle_webhook(b"{}", received_at=at)),
        ("ShardedEngine.tick", "at", lambda at: sharded.tick(at)),
        ("ShardedEngine.handle_webhook", "received_at",
         lambda at: sharded.handle_webhook(b"{}", received_at=at)),
    ]
    return [pytest.param(name, call, id=label) for label, name, call in calls]


@pytest.mark.parametrize(("name", "call"), _instant_calls())
@pytest.mark.parametrize("value", WRONG_TYPES, ids=WRONG_TYPE_IDS)
def test_an_instant_of_a_wrong_type_is_a_type_error_naming_the_argument(
        name: str, call: Callable[[Any], Any], value: Any) -> None:
    with pytest.raises(TypeError) as caught:
        call(value)
    assert not isinstance(caught.value, (ValueError, convstate.ConvstateError))
    message = str(caught.value)
    assert f"{name} must be an aware datetime, int unix milliseconds, an RFC 3339 str or a numpy datetime64" in message, message
    assert f"got {type(value).__name__}" in message, message


def test_a_required_instant_given_as_none_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="at must be an aware datetime.*got NoneType"):
        busy_engine().tick(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "code"), [
    ("yesterday", "invalid_instant"),
    (datetime(2026, 11, 2, 9), "invalid_instant"),
    (-1, "instant_out_of_range"),
    (2**70, "invalid_instant"),
])
def test_an_instant_of_a_wrong_value_is_invalid_input(value: Any, code: str) -> None:
    with pytest.raises(convstate.InvalidInputError) as caught:
        busy_engine().tick(value)
    assert caught.value.code == code


@pytest.mark.parametrize("value", [True, 1.5, [1], None], ids=["bool", "float", "list", "None"])
def test_an_instant_of_a_wrong_type_in_a_batch_is_a_type_error_naming_column_and_row(value: Any) -> None:
    engine = busy_engine()
    before = engine.snapshot()
    at = 1_793_610_000_000
    with pytest.raises(TypeError) as caught:
        engine.run_batch(["inbound", "inbound"], [at, value], [NUMBER] * 2, [CONTACT] * 2)
    message = str(caught.value)
    assert 'column "at", row 1' in message and f"got {type(value).__name__}" in message, message
    assert engine.snapshot() == before


# Meta's webhook timestamps are unix seconds; an int instant is unix milliseconds. Seconds
# given as milliseconds are January 1970: accepted (a valid instant) and wrong, so the
# package warns, as the command-line tool does.
SECONDS = 1_793_610_000  # 2026-11-02T09:00:00Z in unix seconds


class IntOfAnotherClass:
    """An integer as numpy's scalars are: read through `__index__`."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


@pytest.mark.parametrize("call", [
    lambda e: e.inbound(NUMBER, CONTACT, at=SECONDS),
    lambda e: e.check_send(NUMBER, CONTACT, text="hi", at=SECONDS),
    lambda e: e.tick(SECONDS),
    lambda e: e.handle({"type": "tick", "at": SECONDS}),
    lambda e: e.process([{"type": "tick", "at": SECONDS}]),
    lambda e: e.process([{"type": "tick", "at": SECONDS * 1000}, {"type": "tick", "at": SECONDS}]),
    lambda e: e.run_batch(["inbound"], at=[SECONDS], numbers=[NUMBER], contacts=[CONTACT]),
    lambda e: e.run_batch(["inbound"], at=[IntOfAnotherClass(SECONDS)], numbers=[NUMBER], contacts=[CONTACT]),
    lambda e: e.run_batch(["inbound"], at=array.array("q", [SECONDS]), numbers=[NUMBER], contacts=[CONTACT]),
])
def test_an_int_instant_in_unix_seconds_is_warned_of(call: Callable[[convstate.Engine], Any]) -> None:
    engine = convstate.Engine(policy="cloud-2025")
    engine.register_number(NUMBER, business="acme", channel="official", at=0)
    with pytest.warns(convstate.UnixSecondsWarning, match="multiply seconds by 1000"):
        call(engine)


def test_a_sharded_engines_dict_events_in_unix_seconds_are_warned_of() -> None:
    # Records of a frame of Meta's timestamps given to process: the same slip as a typed `at`.
    sharded = convstate.ShardedEngine(policy="cloud-2025", shards=2)
    with pytest.warns(convstate.UnixSecondsWarning, match="process: event \"at\""):
        sharded.process([{"type": "tick", "at": SECONDS}])


@pytest.mark.parametrize("at", [0, SECONDS * 1000, utc(1990, 1, 1), "2026-11-02T09:00:00Z"])
def test_milliseconds_the_epoch_and_non_int_instants_are_not_warned_of(at: Any) -> None:
    engine = convstate.Engine(policy="cloud-2025")
    engine.register_number(NUMBER, business="acme", channel="official", at=0)
    # The tests run with warnings as errors: a warning fails the call.
    engine.inbound(NUMBER, CONTACT, at=at)
    engine.run_batch(["inbound"], at=[at], numbers=[NUMBER], contacts=[CONTACT], keep_effects=True)
    engine.handle({"type": "tick", "at": at})
    engine.process([{"type": "tick", "at": at}])


def test_an_instant_in_1970_written_as_such_or_in_a_line_is_not_warned_of() -> None:
    # Only an int is taken for seconds: a text or a datetime says what it means, and a wire
    # line is read as `process` reads it, as the C library does.
    engine = convstate.Engine(policy="cloud-2025")
    engine.handle({"type": "tick", "at": "1970-01-21T18:13:30Z"})
    engine.handle({"type": "tick", "at": utc(1990, 1, 2)})
    engine.handle(json.dumps({"type": "tick", "at": SECONDS}))
    engine.process([json.dumps({"type": "tick", "at": SECONDS})])
    engine.process([{"type": "tick", "at": "1970-01-21T18:13:30Z"}])


def test_the_warning_is_told_once_per_call_site_not_per_row() -> None:
    import warnings

    engine = convstate.Engine(policy="cloud-2025")
    engine.register_number(NUMBER, business="acme", channel="official", at=0)
    with warnings.catch_warnings(record=True) as told:
        warnings.simplefilter("default")
        for i in range(5):
            engine.inbound(NUMBER, CONTACT, at=SECONDS + i)
    assert [w.category for w in told] == [convstate.UnixSecondsWarning]
