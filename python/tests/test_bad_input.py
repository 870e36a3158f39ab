"""The bad-input catalogue, Python surface.

Each case asserts the exact exception class and engine error code (or, for a send that
cannot go out, the exact denial), and that the engine's snapshot is byte-identical
afterwards with no effect pending. The Rust and C parts: core/tests/bad_input.rs,
tests/c/bad_input.c; docs/ROBUSTNESS.md counts all three. (test_errors.py maps each error
class once; this file is the catalogue of what hosts actually send.)
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

import convstate
from conftest import CONTACT, NUMBER, PANDAS_NA, utc

T1 = utc(2026, 11, 2, 9, 5)


@pytest.fixture
def busy_engine() -> convstate.Engine:
    """An official number with a template and a contact whose chat is live."""
    engine = convstate.Engine(policy="cloud-2025")
    engine.register_template("acme", "order_ready", "en", category="utility",
                             body="Your order {{1}} is ready.", status="approved", at=utc(2026, 11, 2, 7))
    engine.register_number(NUMBER, business="acme", channel="official", at=utc(2026, 11, 2, 8))
    engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 9))
    engine.effects()
    return engine


Invalid = convstate.InvalidInputError
NotFound = convstate.NotFoundError
Snapshot = convstate.SnapshotError

CASES: list[tuple[str, type[convstate.ConvstateError], str, Callable[[convstate.Engine], Any]]] = [
    # naive and odd datetimes
    ("naive datetime to inbound", Invalid, "invalid_instant",
     lambda e: e.inbound(NUMBER, CONTACT, at=datetime(2026, 11, 2, 9, 5))),
    ("naive datetime to check_send", Invalid, "invalid_instant",
     lambda e: e.check_send(NUMBER, CONTACT, text="Hi", at=datetime(2026, 11, 2, 9, 5))),
    ("naive datetime to conversation", Invalid, "invalid_instant",
     lambda e: e.conversation(NUMBER, CONTACT, at=datetime(2026, 11, 2, 9, 5))),
    ("conversation before the clock", Invalid, "view_before_clock",
     lambda e: e.conversation(NUMBER, CONTACT, at=utc(2026, 11, 2, 8))),
    ("datetime before 1970", Invalid, "instant_out_of_range",
     lambda e: e.tick(datetime(1969, 12, 31, 23, 59, tzinfo=timezone.utc))),
    ("datetime with an offset before 1970 in UTC", Invalid, "instant_out_of_range",
     lambda e: e.tick(datetime(1970, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))))),
    ("int millis above year 9999", Invalid, "instant_out_of_range", lambda e: e.tick(253_402_300_800_000)),
    ("int millis i64::MIN", Invalid, "instant_out_of_range", lambda e: e.tick(-(2**63))),
    ("int millis past i64", Invalid, "invalid_instant", lambda e: e.tick(2**63)),
    ("string instant without zone", Invalid, "invalid_instant", lambda e: e.tick("2026-11-02T09:05:00")),
    # phone numbers and ids
    ("empty contact", Invalid, "invalid_user_id", lambda e: e.inbound(NUMBER, "", at=T1)),
    ("absurd phone number", Invalid, "invalid_phone_number",
     lambda e: e.inbound(NUMBER, "+" + "9" * 40, at=T1)),
    ("phone number of letters", Invalid, "invalid_phone_number", lambda e: e.inbound(NUMBER, "+1555CALLNOW", at=T1)),
    ("contact with a NUL byte", Invalid, "invalid_user_id", lambda e: e.inbound(NUMBER, "ann\x00bob", at=T1)),
    ("contact and group together", Invalid, "invalid_event",
     lambda e: e.inbound(NUMBER, CONTACT, group="1203@g.us", at=T1)),
    ("unknown number", NotFound, "unknown_number", lambda e: e.inbound("+15559999999", CONTACT, at=T1)),
    # templates
    ("template variable never closed", Invalid, "invalid_template",
     lambda e: e.register_template("acme", "x", "en", category="utility", body="Hi {{1")),
    ("template variable gap", Invalid, "invalid_template",
     lambda e: e.register_template("acme", "x", "en", category="utility", body="Hi {{1}} and {{3}}")),
    ("template body of 2000 characters", Invalid, "invalid_template",
     lambda e: e.register_template("acme", "x", "en", category="utility", body="b" * 2000)),
    ("template unknown category", Invalid, "invalid_event",
     lambda e: e.register_template("acme", "x", "en", category="spam", body="Hi")),
    ("send of an unknown template", NotFound, "unknown_template",
     lambda e: e.check_send(NUMBER, CONTACT, at=T1,
                            message={"kind": "template", "name": "nope", "language": "en", "params": []})),
    # dicts and lines through the JSON door
    ("dict with a wrong type", Invalid, "invalid_event", lambda e: e.handle({"type": "tick", "at": [1, 2]})),
    ("dict with an unknown enum value", Invalid, "invalid_event",
     lambda e: e.handle({"type": "inbound", "at": 0, "number": NUMBER, "contact": CONTACT, "kind": "smoke"})),
    ("dict with an unknown field", Invalid, "invalid_event", lambda e: e.handle({"type": "tick", "at": 0, "x": 1})),
    ("dict without a type", Invalid, "invalid_event", lambda e: e.handle({"at": 0})),
    ("message of a wrong kind", Invalid, "invalid_event",
     lambda e: e.check_send(NUMBER, CONTACT, at=T1, message={"kind": "fax"})),
    ("deeply nested dict", Invalid, "invalid_event", lambda e: e.handle(_nested(200))),
    ("line of 1 MB", Invalid, "invalid_event",
     lambda e: e.handle('{"type":"shout","at":0,"text":"' + "a" * (1 << 20) + '"}')),
    ("line with a lone surrogate escape", Invalid, "invalid_event",
     lambda e: e.handle('{"type":"inbound","at":0,"number":"\\ud800","contact":"+79110000001","kind":"text"}')),
    # snapshots
    ("empty snapshot", Snapshot, "corrupt_snapshot", lambda e: convstate.Engine.restore(b"")),
    ("snapshot truncated by one byte", Snapshot, "corrupt_snapshot",
     lambda e: convstate.Engine.restore(e.snapshot()[:-1])),
    ("snapshot with one bit flipped", Snapshot, "corrupt_snapshot",
     lambda e: convstate.Engine.restore(_flip(e.snapshot(), -20))),
    ("snapshot of version 1", Snapshot, "unsupported_snapshot_version",
     lambda e: convstate.Engine.restore(b'{"format":"convstate-snapshot","version":1}')),
]




def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "tick", "at": 0}
    for _ in range(depth):
        value = {"type": "tick", "at": value}
    return value


def _flip(data: bytes, index: int) -> bytes:
    flipped = bytearray(data)
    flipped[index] ^= 0x01
    return bytes(flipped)


@pytest.mark.parametrize(("cls", "code", "call"),
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_raises_and_changes_nothing(busy_engine: convstate.Engine, cls: type, code: str,
                                             call: Callable[[convstate.Engine], Any]) -> None:
    before = busy_engine.snapshot()
    with pytest.raises(cls) as caught:
        call(busy_engine)
    assert type(caught.value) is cls
    assert caught.value.code == code, str(caught.value)
    assert busy_engine.snapshot() == before
    assert busy_engine.poll_effect() is None


LINES: list[tuple[str, str, str]] = [
    ("empty line", "", "invalid_event"),
    ("not JSON", "hello", "invalid_event"),
    ("JSON array", "[1,2]", "invalid_event"),
    ("negative millis", '{"type":"tick","at":-1}', "invalid_event"),
    ("millis overflowing i64", '{"type":"tick","at":99999999999999999999}', "invalid_event"),
    ("unknown event type", '{"type":"warp","at":0}', "invalid_event"),
    ("unknown number", '{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15559999999",'
                       '"contact":"+79110000001","kind":"text"}', "unknown_number"),
]


@pytest.mark.parametrize(("line", "code"), [c[1:] for c in LINES], ids=[c[0] for c in LINES])
def test_bad_line_gives_one_error_line(busy_engine: convstate.Engine, line: str, code: str) -> None:
    before = busy_engine.snapshot()
    out = busy_engine.handle_json(line)
    assert len(out) == 1, out
    result = json.loads(out[0])
    assert (result["type"], result["error"]) == ("error", code)
    assert busy_engine.snapshot() == before


def test_a_bad_line_in_a_batch_is_an_error_line_and_the_rest_applies(busy_engine: convstate.Engine) -> None:
    out = busy_engine.process(["{", {"type": "tick", "at": "2026-11-02T09:06:00Z"}])
    assert json.loads(out[0])["error"] == "invalid_event"
    assert json.loads(out[1]) == {"type": "ack", "of": "tick"}


def test_too_many_parameters_is_a_denial_not_an_error(busy_engine: convstate.Engine) -> None:
    before = busy_engine.snapshot()
    decision = busy_engine.check_send(NUMBER, CONTACT, at=T1, message={
        "kind": "template", "name": "order_ready", "language": "en", "params": ["x"] * 100})
    assert not decision.allowed
    assert decision.reason == convstate.Reason.TEMPLATE_PARAMS
    assert decision.details["expected"] == 1 and decision.details["actual"] == 100
    assert busy_engine.snapshot() == before


def test_a_required_instant_given_as_none_is_refused(busy_engine: convstate.Engine) -> None:
    # Never taken as the engine's clock: None is no instant, a TypeError naming the argument.
    before = busy_engine.snapshot()
    with pytest.raises(TypeError, match="tick: at must be an aware datetime"):
        busy_engine.tick(None)  # type: ignore[arg-type]
    assert busy_engine.snapshot() == before
    assert busy_engine.poll_effect() is None


def test_time_going_backwards_is_applied_at_the_clock(busy_engine: convstate.Engine) -> None:
    clock = busy_engine.clock
    busy_engine.inbound(NUMBER, CONTACT, at=utc(2026, 11, 2, 8))
    assert busy_engine.clock == clock


def test_strings_that_are_not_utf8_cannot_reach_the_engine(busy_engine: convstate.Engine) -> None:
    # Python str is always valid Unicode; bytes are refused by type, surrogates by encoding.
    before = busy_engine.snapshot()
    with pytest.raises(TypeError):
        busy_engine.handle_json(b'{"type":"tick","at":0}')  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):
        busy_engine.inbound(NUMBER, "\udcff", at=T1)
    assert busy_engine.snapshot() == before


def test_a_bad_value_names_its_field_in_typed_calls_and_lines(busy_engine: convstate.Engine) -> None:
    before = busy_engine.snapshot()
    with pytest.raises(convstate.InvalidInputError) as typed:
        busy_engine.inbound(NUMBER, CONTACT, at=T1, kind="image", size=-1)
    assert typed.value.code == "invalid_event"
    assert str(typed.value).startswith('invalid event: field "size": invalid value: integer `-1`'), typed.value
    with pytest.raises(convstate.InvalidInputError) as message:
        busy_engine.send(NUMBER, CONTACT, at=T1, message={"kind": "txt", "text": "hi"})
    assert 'field "message.kind": unknown variant `txt`' in str(message.value), message.value
    line = json.dumps({"type": "inbound", "at": "2026-11-02T09:05:00Z", "number": NUMBER,
                       "contact": CONTACT, "kind": "txt"})
    [error] = busy_engine.handle_json(line)
    assert json.loads(error)["message"].startswith('invalid event: field "kind": unknown variant `txt`'), error
    assert busy_engine.snapshot() == before


def test_a_value_without_a_json_form_names_its_field(busy_engine: convstate.Engine) -> None:
    # A NaN, an integer beyond 64 bits, a set and a dict key that is not a str were refused
    # without saying where they sat in the event.
    before = busy_engine.snapshot()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"message": {"kind": "text", "text": "hi", "score": float("nan")}},
         'field "message.score": NaN is not a finite number'),
        ({"message": {"kind": "text", "text": "hi", "tags": [1, 2**70]}},
         f'field "message.tags[1]": integer {2**70} does not fit in 64 bits'),
        ({"message": {"kind": "text", "text": "hi", "tags": {"a"}}},
         "field \"message.tags\": {'a'} of type set has no JSON form"),
        ({"message": {"kind": "text", "text": "hi", "extra": {1: "x"}}},
         'field "message.extra": dict keys must be str, got 1'),
    ]
    for fields, says in cases:
        event = {"type": "send", "at": T1, "number": NUMBER, "contact": CONTACT, **fields}
        with pytest.raises(convstate.InvalidInputError) as raised:
            busy_engine.process([event])
        assert raised.value.code == "invalid_event"
        # process names the event too (its index in the batch).
        assert str(raised.value) == f"process: event 0: invalid event: {says}", raised.value
    assert busy_engine.snapshot() == before


def test_an_integer_too_long_to_print_is_described_not_named_by_its_type(
        busy_engine: convstate.Engine) -> None:
    # Past sys.get_int_max_str_digits() (4300 digits) an int has no repr: errors quoted its
    # type instead ('invalid instant "int"', 'integer int does not fit', 'unknown kind code
    # ?'), and ShardedEngine(shards=...) wrote an "Exception ignored" ValueError to stderr
    # (pytest's unraisable-exception check, an error here, fails the test on it).
    huge = 10**5000
    bits = huge.bit_length()
    before = busy_engine.snapshot()
    with pytest.raises(convstate.InvalidInputError) as instant:
        busy_engine.tick(huge)
    assert str(instant.value) == (
        f'tick: at: invalid instant "<int of {bits} bits>": integer milliseconds outside the 64-bit '
        'range')
    with pytest.raises(convstate.InvalidInputError) as size:
        busy_engine.inbound(NUMBER, CONTACT, at=T1, kind="image", size=huge)
    assert str(size.value) == (
        f'invalid event: field "size": integer <int of {bits} bits> does not fit in 64 bits')
    with pytest.raises(ValueError, match=f'column "kinds", row 0: unknown kind code <int of {bits} bits>'):
        busy_engine.run_batch([huge], [T1], [NUMBER], [CONTACT])
    result = busy_engine.run_batch(["inbound"], [huge], [NUMBER], [CONTACT])
    assert result.first_error == (0, "invalid_instant", f'invalid instant "<int of {bits} bits>": '
                                  "integer milliseconds outside the 64-bit range")
    assert busy_engine.snapshot() == before
    with pytest.raises(convstate.InvalidInputError) as shards:
        convstate.ShardedEngine(shards=huge)
    assert str(shards.value).endswith(f"1..=4096 shards, got <int of {bits} bits>"), shards.value


def test_change_policy_overrides_raise_as_the_constructors_do() -> None:
    # A value with no JSON form is a bad override (PolicyError), not a bad event; a
    # non-mapping is a TypeError, as `Engine(policy_overrides=...)` has them.
    engine = convstate.Engine()
    before = engine.snapshot()
    for overrides in ({"pricing": {"service_free_per_month": float("nan")}},
                      {"consent": {"us_marketing_blocked_from": datetime(2026, 1, 1)}}):
        with pytest.raises(convstate.PolicyError, match="policy_overrides: ") as caught:
            engine.change_policy("cloud-2026-10", at=0, policy_overrides=overrides)
        assert caught.value.code == "invalid_policy"
        with pytest.raises(convstate.PolicyError, match="policy_overrides: "):
            convstate.Engine(policy_overrides=overrides)
    with pytest.raises(TypeError, match="policy_overrides must be a mapping, got list"):
        engine.change_policy("cloud-2026-10", at=0, policy_overrides=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="policy_overrides must be a mapping, got list"):
        convstate.Engine(policy_overrides=[1])  # type: ignore[arg-type]
    assert engine.snapshot() == before


def test_handle_refuses_what_is_neither_a_line_nor_a_mapping_by_its_type() -> None:
    engine = convstate.Engine()
    for event, kind in [([{"type": "tick", "at": 0}], "list"), (None, "NoneType"), (5, "int")]:
        with pytest.raises(TypeError, match=f"must be a str .* or a mapping .*, got {kind}"):
            engine.handle(event)  # type: ignore[arg-type]
    import pandas as pd
    row = pd.DataFrame([{"type": "tick", "at": 0}]).iloc[0]
    with pytest.raises(TypeError, match=r"got Series; a pandas row is handle\(row.to_dict\(\)\)"):
        engine.handle(row)  # type: ignore[arg-type]
    assert engine.handle(row.to_dict()) is None


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
        {"type": "check_send", "at": 1_793_606_400_000 + i, "number": NUMBER, "contact": CONTACT,
         "message": {"kind": "text", "text": "hi"}}
        for i in range(100)
    ]
    events[57] = {**events[57], "message": {"kind": "text", "text": bad}}
    with pytest.raises(convstate.InvalidInputError, match=r"^process: event 57: ") as caught:
        engine.process(events)
    # The class and the engine's code are those of the error without the index.
    assert caught.value.code in {"invalid_event", "invalid_instant"}
    assert caught.value.message == str(caught.value)


@pytest.mark.parametrize("engine_class", [convstate.Engine, convstate.ShardedEngine])
def test_a_lone_surrogate_names_its_event_and_field(engine_class: type) -> None:
    # `json.loads` of a `\ud83d` escape (text cut inside an emoji, which Meta sends) gives
    # a str UTF-8 cannot carry: a bare UnicodeEncodeError named neither the event nor the
    # field, and was no ConvstateError.
    engine = engine_class(policy="cloud-2025")
    register = {"type": "register_number", "at": 0, "business": "acme", "number": NUMBER,
                "channel": "official"}
    cut = json.loads('"Hi \\ud83d"')
    send = {"type": "send", "at": 1_793_610_060_000, "number": NUMBER, "contact": CONTACT,
            "message": {"kind": "text", "text": cut}}
    before = engine.snapshot()
    with pytest.raises(convstate.InvalidInputError,
                       match=r'^process: event 1: .*field "message.text": a str holds a lone surrogate'):
        engine.process([register, send])
    with pytest.raises(convstate.InvalidInputError, match=r"^process: event 1: .*lone surrogate"):
        engine.process([json.dumps(register), f"{json.dumps(register)[:-1]}, \"x\": \"{cut}\"}}"])
    with pytest.raises(convstate.InvalidInputError, match='field "message.text": a str holds a lone'):
        engine.handle(send)
    assert engine.snapshot() == before, "nothing applied"


@pytest.mark.parametrize("column", ["kinds", "at", "numbers", "contacts"])
@pytest.mark.parametrize("missing", [float("nan"), PANDAS_NA, None], ids=["NaN", "pandas NA", "None"])
def test_a_missing_value_in_a_required_run_batch_column_names_it(
        busy_engine: convstate.Engine, column: str, missing: object) -> None:
    # Texts, templates, languages and params take NaN and pd.NA for a missing value, as
    # None; a column every row needs says which row is missing one and that it is a
    # missing value (it said only "got float", or "got NAType").
    before = busy_engine.snapshot()
    columns: dict[str, list[Any]] = {"kinds": ["inbound"] * 3, "at": [T1] * 3,
                                     "numbers": [NUMBER] * 3, "contacts": [CONTACT] * 3}
    columns[column][1] = missing
    with pytest.raises(TypeError, match=rf'column "{column}", row 1: .*a missing value'):
        busy_engine.run_batch(**columns)
    assert busy_engine.snapshot() == before


class DataFrame:
    """Stands for a pandas (or polars) DataFrame: iterating one gives its column names."""

    columns = ["type", "at", "number", "contact"]

    def __len__(self) -> int:
        return 2

    def __iter__(self) -> Any:
        return iter(self.columns)


@pytest.mark.parametrize("engine_class", [convstate.Engine, convstate.ShardedEngine])
def test_process_refuses_a_dataframe_pointing_to_run_batch(engine_class: type) -> None:
    # Each column name was read as a line: as many error lines as columns, and no word of
    # what went wrong.
    engine = engine_class(policy="cloud-2025")
    before = engine.snapshot()
    with pytest.raises(TypeError) as caught:
        engine.process(DataFrame())
    message = str(caught.value)
    assert message.startswith("process: a DataFrame is not a sequence of events"), message
    assert "run_batch" in message and 'df.to_dict("records")' in message
    assert engine.snapshot() == before
