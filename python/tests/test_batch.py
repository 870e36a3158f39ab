"""Engine.run_batch (typed columns) and Engine.process_bytes (wire lines as bytes).

The central check: a batch gives, row by row, the decision the one-by-one methods give on
the same events, and leaves the engine in the same state.
"""

from __future__ import annotations

import array
import ctypes
import json
import pickle
import random
import re
import struct
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import pytest

import convstate
from conftest import NUMBER, PANDAS_NA, Float64

T0 = 1_793_606_400_000  # 2026-11-02T08:00:00Z in unix milliseconds
HOUR = 3_600_000
OTHER_NUMBER = "+15550002222"
UNKNOWN_NUMBER = "+15559999999"


def new_engine() -> convstate.Engine:
    # One level of 3 unique contacts per 24 hours, so that the limit is reached in a test.
    engine = convstate.Engine(policy="cloud-2025", policy_overrides={"limits": {"levels": [3]}})
    for number in (NUMBER, OTHER_NUMBER):
        engine.register_number(number, business="acme", channel="official", at=T0)
    engine.register_template("acme", "order_ready", "en", category="utility",
                             body="Your order {{1}} is ready.", status="approved", at=T0)
    for i in range(8):
        engine.opt_in(contact(i), business="acme", at=T0)
    engine.effects()
    return engine


def contact(i: int) -> str:
    return f"+4915{i:09d}"


def random_rows(count: int, seed: int) -> dict[str, list[Any]]:
    """Inbound, text and template rows over two days, with some rows the engine refuses."""
    rng = random.Random(seed)
    rows: dict[str, list[Any]] = {k: [] for k in
                                  ("kinds", "at", "numbers", "contacts", "texts", "templates",
                                   "languages", "params")}
    for k in range(count):
        kind = rng.choice(["inbound", "inbound", "send", "send", "check_send"])
        number = rng.choice([NUMBER, NUMBER, OTHER_NUMBER])
        if rng.random() < 0.03:
            number = UNKNOWN_NUMBER
        at = T0 + HOUR + k * (48 * HOUR // count)
        if rng.random() < 0.02:
            at = -1  # before the epoch: refused
        template = kind != "inbound" and rng.random() < 0.4
        rows["kinds"].append(kind)
        rows["at"].append(at)
        rows["numbers"].append(number)
        rows["contacts"].append(contact(rng.randrange(10)))  # 8 and 9 never opted in
        # Repeated texts on purpose: sends then meet the duplicate rule.
        rows["texts"].append(None if kind == "inbound" else f"Reply {rng.randrange(5)}")
        rows["templates"].append("order_ready" if template else None)
        rows["languages"].append("en" if template else None)
        rows["params"].append([f"A-{rng.randrange(3)}"] if template else None)
    return rows


def one_by_one(engine: convstate.Engine, rows: dict[str, list[Any]]) -> list[str]:
    """The outcome name of each row through the typed methods."""
    names = []
    for i, kind in enumerate(rows["kinds"]):
        number, who, at = rows["numbers"][i], rows["contacts"][i], rows["at"][i]
        try:
            if kind == "inbound":
                engine.inbound(number, who, at=at)
                names.append("applied")
                continue
            call = engine.send if kind == "send" else engine.check_send
            if rows["templates"][i] is not None:
                message = {"kind": "template", "name": rows["templates"][i],
                           "language": rows["languages"][i], "params": rows["params"][i]}
                decision = call(number, who, at=at, message=message)
            else:
                decision = call(number, who, at=at, text=rows["texts"][i])
        except convstate.ConvstateError:
            names.append("error")
            continue
        names.append("allowed" if decision.allowed
                     else json.loads(decision.to_json())["denial"]["reason"])
    return names


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_decides_like_the_one_by_one_methods(seed: int) -> None:
    rows = random_rows(400, seed)
    batched, single = new_engine(), new_engine()
    result = batched.run_batch(rows["kinds"], rows["at"], rows["numbers"], rows["contacts"],
                               rows["texts"], templates=rows["templates"],
                               languages=rows["languages"], params=rows["params"],
                               keep_effects=True)
    expected = one_by_one(single, rows)
    assert result.names() == expected
    # The mix is rich enough for the comparison to mean something.
    assert {"applied", "allowed", "window_closed", "limit_reached", "duplicate", "no_opt_in",
            "error"} <= set(expected)
    assert len(result) == 400
    assert result.counts == dict(Counter(expected))
    assert result.errors == expected.count("error")
    assert result.effect_counts == {}
    assert result.effects_kept is True
    # Same state, same effects.
    assert batched.effects() == single.effects()
    assert batched.snapshot() == single.snapshot()


def test_dropped_effects_are_counted_by_type() -> None:
    rows = random_rows(300, 4)
    batched, single = new_engine(), new_engine()
    result = batched.run_batch(rows["kinds"], rows["at"], rows["numbers"], rows["contacts"],
                               rows["texts"], templates=rows["templates"],
                               languages=rows["languages"], params=rows["params"])
    one_by_one(single, rows)
    expected = Counter(effect["effect"] for effect in single.effects())
    assert expected, "the rows cause effects"
    assert result.effect_counts == dict(expected)
    assert batched.poll_effect() is None
    assert batched.snapshot() == single.snapshot()


def test_outcome_codes_are_stable_and_match_the_reason_names() -> None:
    names = convstate.BatchResult.OUTCOME_NAMES
    assert names[0] == "applied" and names[1] == "allowed"
    # Codes are never reused: "other" and "error" keep theirs, later reasons come after.
    assert names[19] == "other" and names[20] == "error" and names[21] == "invalid_content"
    assert len(set(names)) == len(names)
    known = {reason.value for reason in convstate.Reason}
    # Every denial the Python enum knows has a code of the same name.
    assert known <= set(names)
    engine = new_engine()
    engine.inbound(NUMBER, contact(0), at=T0 + HOUR)
    engine.effects()
    result = engine.run_batch(["check_send", "check_send"], [T0 + 2 * HOUR, T0 + 30 * HOUR],
                              [NUMBER, NUMBER], [contact(0), contact(0)], ["Hi", "Hi"])
    assert isinstance(result.outcomes, bytes)
    assert [names[code] for code in result.outcomes] == ["allowed", "window_closed"]
    assert result.outcomes == bytes([1, names.index("window_closed")])


def test_a_refused_row_does_not_stop_the_batch() -> None:
    engine = new_engine()
    result = engine.run_batch(
        ["inbound", "inbound", "check_send"], [T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR],
        [NUMBER, UNKNOWN_NUMBER, NUMBER], [contact(0), contact(1), contact(0)],
        [None, None, "Hi"])
    assert result.names() == ["applied", "error", "allowed"]
    assert result.errors == 1
    assert result.error_codes == {"unknown_number": 1}
    assert result.first_error is not None
    row, code, message = result.first_error
    assert (row, code) == (1, "unknown_number")
    assert UNKNOWN_NUMBER in message


def test_an_instant_out_of_range_is_an_error_row_whatever_its_type() -> None:
    from datetime import datetime, timezone

    early = [-5, datetime(1969, 1, 1, tzinfo=timezone.utc), "1960-01-01T00:00:00Z", -2**63]
    engine = new_engine()
    result = engine.run_batch(["inbound"] * (1 + len(early)), [T0 + HOUR, *early],
                              [NUMBER] * (1 + len(early)), [contact(0)] * (1 + len(early)))
    assert result.names() == ["applied"] + ["error"] * len(early)
    assert result.error_codes == {"instant_out_of_range": len(early)}


class Millis:
    """An integer of another class, as numpy's scalars are: read through `__index__`."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


class Interrupted(Exception):
    pass


class Interrupting:
    def __index__(self) -> int:
        raise Interrupted


def test_integers_of_other_classes_are_read_through_their_index() -> None:
    engine = new_engine()
    result = engine.run_batch([Millis(0), Millis(0)], [Millis(T0 + HOUR), Millis(2**64 - 1)],
                              [NUMBER, NUMBER], [contact(0), contact(0)])
    # Past 64 bits, an error row like an int's (a numpy uint64 raised for the whole batch).
    assert result.names() == ["applied", "error"]
    assert result.error_codes == {"invalid_instant": 1}
    with pytest.raises(convstate.InvalidInputError, match="outside the 64-bit range"):
        engine.inbound(NUMBER, contact(0), at=Millis(2**64 - 1))


def test_an_instant_beyond_64_bits_is_named_as_given() -> None:
    # The row's error named 9223372036854775807 (the value saturated), with another code
    # than the typed methods give for the same value.
    engine = new_engine()
    beyond = [2**64 - 1, -(2**63) - 1, 10**30]
    for column in (beyond, [Millis(v) for v in beyond]):
        result = engine.run_batch(["inbound"] * 4, [T0 + HOUR, *column],
                                  [NUMBER] * 4, [contact(0)] * 4)
        assert result.names() == ["applied", "error", "error", "error"]
        assert result.error_codes == {"invalid_instant": 3}
        assert result.first_error is not None
        row, code, message = result.first_error
        assert (row, code) == (1, "invalid_instant")
        assert "outside the 64-bit range" in message
        assert str(2**63 - 1) not in message
        if column is beyond:
            assert f'"{2**64 - 1}"' in message
        with pytest.raises(convstate.InvalidInputError) as typed:
            engine.inbound(NUMBER, contact(0), at=column[0])
        assert str(typed.value) == f"inbound: at: {message}", "the same words, the argument named"


class MissingTime(datetime):
    """Like pandas' NaT, the missing value of a tz-aware column: a datetime whose
    utcoffset() raises ValueError."""

    def utcoffset(self) -> Any:
        raise ValueError("NaTType does not support utcoffset")


def test_a_missing_time_is_named_with_its_column_and_row() -> None:
    # pandas' NaT raised a bare ValueError that named neither the column nor the row.
    engine = new_engine()
    before = engine.snapshot()
    missing = MissingTime(2026, 11, 2, 9)
    with pytest.raises(ValueError, match='column "at", row 1: .*utcoffset\\(\\) raised'):
        engine.run_batch(["inbound"] * 2, [T0 + HOUR, missing], [NUMBER] * 2, [contact(0)] * 2)
    with pytest.raises(convstate.InvalidInputError, match="a datetime without a time"):
        engine.inbound(NUMBER, contact(0), at=missing)
    assert engine.snapshot() == before


def test_an_exception_raised_by_index_propagates() -> None:
    # It was swallowed and reported as a bad instant or kind, even a KeyboardInterrupt.
    engine = new_engine()
    before = engine.snapshot()
    with pytest.raises(Interrupted):
        engine.inbound(NUMBER, contact(0), at=Interrupting())
    with pytest.raises(Interrupted):
        engine.run_batch(["inbound"], [Interrupting()], [NUMBER], [contact(0)])
    with pytest.raises(Interrupted):
        engine.run_batch([Interrupting()], [T0 + HOUR], [NUMBER], [contact(0)])
    assert engine.snapshot() == before


class LengthInterrupted:
    """A column whose __len__ raises (a lazy table interrupted while it counts its rows)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        raise Interrupted

    def __getitem__(self, index: int) -> Any:
        return self.items[index]


@pytest.mark.parametrize("column", ["kinds", "at", "numbers", "contacts", "texts"])
def test_an_exception_raised_by_a_columns_len_propagates(column: str) -> None:
    # It was swallowed and reported as "must be a sized sequence", even a KeyboardInterrupt.
    engine = new_engine()
    before = engine.snapshot()
    columns: dict[str, Any] = {"kinds": ["send"], "at": [T0 + HOUR], "numbers": [NUMBER],
                               "contacts": [contact(0)], "texts": ["Hi"]}
    columns[column] = LengthInterrupted(columns[column])
    with pytest.raises(Interrupted):
        engine.run_batch(**columns)
    with pytest.raises(Interrupted):
        convstate.ShardedEngine(shards=2).run_batch(**columns)
    assert engine.snapshot() == before
    # A column with no length at all is still the caller's TypeError, naming it.
    columns[column] = iter(["x"])
    with pytest.raises(TypeError, match=f'column "{column}" must be a sized sequence'):
        engine.run_batch(**columns)


def test_kinds_as_codes_and_instants_as_datetimes() -> None:
    from datetime import datetime, timezone

    at = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
    by_name, by_code = new_engine(), new_engine()
    columns: tuple[Any, ...] = ([at, at], [NUMBER, NUMBER], [contact(0), contact(0)],
                                [None, "Hi"])
    a = by_name.run_batch(["inbound", "send"], *columns)
    b = by_code.run_batch(bytes([0, 1]), *columns)
    assert a.names() == b.names() == ["applied", "allowed"]
    assert by_name.snapshot() == by_code.snapshot()


@pytest.mark.parametrize(("change", "error", "names"), [
    (lambda c: c.update(contacts=c["contacts"][:1]), ValueError, ['"contacts"', "1 rows"]),
    (lambda c: c.update(at=[T0, "soon"]), ValueError, ['"at"', "row 1"]),
    (lambda c: c.update(at=[T0, None]), TypeError, ['"at"', "row 1", "NoneType"]),
    (lambda c: c.update(numbers=[NUMBER, 5]), TypeError, ['"numbers"', "row 1"]),
    (lambda c: c.update(numbers=NUMBER), TypeError, ['"numbers"', "single str"]),
    (lambda c: c.update(kinds="inbound"), TypeError, ['"kinds"', "single str"]),
    (lambda c: c.update(kinds=["inbound", "reply"]), ValueError, ['"kinds"', "row 1", "reply"]),
    (lambda c: c.update(kinds=["inbound", 7]), ValueError, ['"kinds"', "row 1"]),
    (lambda c: c.update(kinds=["inbound", 1.5]), TypeError, ['"kinds"', "row 1"]),
    (lambda c: c.update(texts=[None, None]), TypeError, ['"texts"', "row 1"]),
    (lambda c: c.update(texts=None), TypeError, ['"texts"', "row 1"]),
    (lambda c: c.update(at=5), TypeError, ['"at"', "sequence"]),
    # Unordered (a dict's keys are a set): which row is which would change with the
    # process's hash seed. A dict's items are its keys: refused too.
    (lambda c: c.update(numbers={NUMBER, "+19999999999"}), TypeError, ['"numbers"', "set"]),
    (lambda c: c.update(contacts=dict.fromkeys([contact(0), contact(1)])), TypeError,
     ['"contacts"', "dict"]),
    (lambda c: c.update(kinds=frozenset(["inbound", "send"])), TypeError,
     ['"kinds"', "frozenset"]),
    (lambda c: c.update(texts={None: 1, "Hi": 2}.keys()), TypeError, ['"texts"', "dict_keys"]),
    # A bool is an int to Python, but no kind.
    (lambda c: c.update(kinds=["inbound", True]), TypeError, ['"kinds"', "row 1", "bool"]),
])
def test_a_malformed_column_raises_before_anything_is_applied(
        change: Any, error: type[Exception], names: list[str]) -> None:
    engine = new_engine()
    before = engine.snapshot()
    columns: dict[str, Any] = {"kinds": ["inbound", "send"], "at": [T0 + HOUR, T0 + HOUR],
                               "numbers": [NUMBER, NUMBER], "contacts": [contact(0), contact(0)],
                               "texts": [None, "Hi"]}
    change(columns)
    with pytest.raises(error) as raised:
        engine.run_batch(columns["kinds"], columns["at"], columns["numbers"],
                         columns["contacts"], columns["texts"])
    for name in names:
        assert name in str(raised.value)
    assert engine.snapshot() == before


def test_a_template_row_needs_its_language() -> None:
    engine = new_engine()
    with pytest.raises(TypeError, match='"languages", row 0'):
        engine.run_batch(["send"], [T0], [NUMBER], [contact(0)], templates=["order_ready"])


def test_queued_effects_are_never_dropped_unseen() -> None:
    engine = new_engine()
    engine.inbound(NUMBER, contact(0), at=T0 + HOUR)
    assert engine.poll_effect() is not None, "an inbound on a new conversation has effects"
    engine.inbound(NUMBER, contact(1), at=T0 + HOUR)
    with pytest.raises(ValueError, match="effects"):
        engine.run_batch(["inbound"], [T0 + 2 * HOUR], [NUMBER], [contact(2)])
    kept = engine.run_batch(["inbound"], [T0 + 2 * HOUR], [NUMBER], [contact(2)],
                            keep_effects=True)
    assert kept.names() == ["applied"]
    contacts = {effect.get("contact") for effect in engine.effects()}
    assert {contact(1), contact(2)} <= contacts


def test_an_empty_batch() -> None:
    result = new_engine().run_batch([], [], [], [])
    assert len(result) == 0 and result.outcomes == b"" and result.counts == {}
    assert result.first_error is None


def wire_lines(rows: dict[str, list[Any]]) -> list[str]:
    lines = []
    for i, kind in enumerate(rows["kinds"]):
        event: dict[str, Any] = {"type": kind, "at": rows["at"][i], "number": rows["numbers"][i],
                                 "contact": rows["contacts"][i]}
        if kind == "inbound":
            event["kind"] = "text"
        elif rows["templates"][i] is not None:
            event["message"] = {"kind": "template", "name": rows["templates"][i],
                                "language": rows["languages"][i], "params": rows["params"][i]}
        else:
            event["message"] = {"kind": "text", "text": rows["texts"][i]}
        lines.append(json.dumps(event))
    return lines


def test_process_bytes_gives_the_lines_process_gives() -> None:
    lines = wire_lines(random_rows(300, 5))
    lines.insert(7, "{not json")
    as_str, as_bytes = new_engine(), new_engine()
    expected = as_str.process(lines)
    data = ("\n".join(lines[:100]) + "\r\n\n" + "\n".join(lines[100:]) + "\n").encode()
    output = as_bytes.process_bytes(data)
    assert isinstance(output, bytes)
    assert output.endswith(b"\n")
    assert output.decode().split("\n")[:-1] == expected
    assert as_str.snapshot() == as_bytes.snapshot()


def test_process_bytes_answers_bad_lines_with_error_lines() -> None:
    engine = new_engine()
    output = engine.process_bytes(b'\xff\xfe\n{"type": "tick", "at": 1793610000000}\n')
    first, second = [json.loads(line) for line in output.decode().splitlines()]
    assert first["type"] == "error" and "UTF-8" in first["message"]
    assert second["type"] == "ack"
    assert engine.process_bytes(b"") == b""


def test_batch_result_repr_names_the_counts() -> None:
    engine = new_engine()
    result: Optional[convstate.BatchResult] = engine.run_batch(
        ["inbound"], [T0 + HOUR], [NUMBER], [contact(0)])
    assert result is not None
    assert repr(result) == "BatchResult(applied=1)"


def result_fields(result: convstate.BatchResult) -> tuple[Any, ...]:
    return (result.outcomes, result.names(), result.counts, result.effect_counts,
            result.effects_kept, result.errors, result.error_codes, result.first_error,
            len(result), repr(result))


@pytest.mark.parametrize("keep_effects", [False, True])
def test_batch_result_pickles_with_every_field(keep_effects: bool) -> None:
    # A batch run in a worker process (multiprocessing, concurrent.futures) comes back
    # through a pickle.
    engine = new_engine()
    result = engine.run_batch(
        ["inbound", "inbound", "send", "check_send"], [T0 + HOUR] * 3 + [T0 + 30 * HOUR],
        [NUMBER, UNKNOWN_NUMBER, NUMBER, NUMBER], [contact(0), contact(1), contact(0), contact(0)],
        [None, None, "Hi", "Hi again"], keep_effects=keep_effects)
    assert result.names() == ["applied", "error", "allowed", "window_closed"]
    assert bool(result.effect_counts) != keep_effects
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        clone = pickle.loads(pickle.dumps(result, protocol=protocol))
        assert type(clone) is convstate.BatchResult
        assert result_fields(clone) == result_fields(result)


def test_a_batch_result_pickle_with_an_unknown_outcome_code_is_refused() -> None:
    engine = new_engine()
    result = engine.run_batch(["inbound"], [T0 + HOUR], [NUMBER], [contact(0)])
    rebuild, state = result.__reduce__()
    largest = len(convstate.BatchResult.OUTCOME_NAMES) - 1
    with pytest.raises(ValueError, match=f"row 1 has outcome code 99, the largest is {largest}"):
        rebuild(bytes([0, 99]), *state[1:])


def columns_of(kinds: Any, at: Any) -> tuple[Any, ...]:
    return (kinds, at, [NUMBER, NUMBER, NUMBER], [contact(0), contact(0), contact(1)],
            [None, "Hi", "Hello"])


# Factories: an iterator is used up by the first test that reads it.
@pytest.mark.parametrize("kinds", [
    lambda: ["inbound", "send", "check_send"],
    lambda: ("inbound", "send", "check_send"),
    lambda: [0, 1, 2],
    lambda: bytes([0, 1, 2]),
    lambda: bytearray([0, 1, 2]),
    lambda: array.array("B", [0, 1, 2]),
    lambda: array.array("b", [0, 1, 2]),
    lambda: array.array("i", [0, 1, 2]),  # wider codes: read item by item
    lambda: memoryview(bytes([0, 1, 2])),
])
@pytest.mark.parametrize("at", [
    lambda: [T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR],
    lambda: (T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR),
    lambda: array.array("q", [T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR]),
    lambda: memoryview(array.array("q", [T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR])),
    # Every other item of a longer array: a strided view is read in order.
    lambda: memoryview(array.array("q", [T0 + HOUR, 0, T0 + HOUR, 0, T0 + 2 * HOUR]))[::2],
    # The other byte order, labelled as such by its format ('<q' or '>q').
    lambda: swapped_instants([T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR]),
    lambda: [T0 + HOUR, T0 + HOUR, "2026-11-02T10:00:00Z"],
])
def test_every_accepted_column_form_decides_alike(kinds: Any, at: Any) -> None:
    result = new_engine().run_batch(*columns_of(kinds(), at()))
    assert result.names() == ["applied", "allowed", "window_closed"]


def swapped_instants(values: list[int]) -> Any:
    """int64 items in the byte order opposite to the machine's, through ctypes' buffer."""
    import ctypes

    little = sys.byteorder == "little"
    item = ctypes.c_int64.__ctype_be__ if little else ctypes.c_int64.__ctype_le__
    swapped = (item * len(values))(*values)
    assert memoryview(swapped).format[0] in "<>!"
    return swapped


@pytest.mark.parametrize(("kinds", "at", "error", "names"), [
    (bytes([0, 1, 7]), None, ValueError, ['"kinds"', "row 2", "code 7"]),
    (array.array("b", [0, 1, -1]), None, ValueError, ['"kinds"', "row 2", "code -1"]),
    ([0, 1, 10**30], None, ValueError, ['"kinds"', "row 2", f"code {10**30}"]),
    (array.array("B", [0, 3, 1]), None, ValueError, ['"kinds"', "row 1", "code 3"]),
    (bytes([0, 1]), None, ValueError, ['"at"', "3 rows", "2"]),
    (None, array.array("d", [1.0, 2.0, 3.0]), TypeError, ['"at"', '"d"', "8-byte"]),
    (None, array.array("f", [1.0, 2.0, 3.0]), TypeError, ['"at"', '"f"']),
    (None, array.array("q", [T0, T0]), ValueError, ['"at"', "2 rows", "3"]),
    (None, memoryview(array.array("q", [T0] * 3)).cast("B").cast("q", (3, 1)), TypeError,
     ['"at"', "one-dimensional"]),
    (None, [T0, T0, True], TypeError, ['"at"', "row 2", "bool"]),
    (None, [T0, T0, 1.5], TypeError, ['"at"', "row 2", "float"]),
])
def test_a_malformed_buffer_column_raises_naming_it(
        kinds: Any, at: Any, error: type[Exception], names: list[str]) -> None:
    engine = new_engine()
    before = engine.snapshot()
    given_kinds = kinds if kinds is not None else [0, 1, 2]
    given_at = at if at is not None else [T0 + HOUR] * 3
    with pytest.raises(error) as raised:
        engine.run_batch(*columns_of(given_kinds, given_at))
    for name in names:
        assert name in str(raised.value), raised.value
    assert engine.snapshot() == before


def test_an_int_buffer_narrower_than_64_bits_is_read_item_by_item() -> None:
    # Values are read, not reinterpreted as int64: the rows decide as the same ints in a
    # list do (instants 1, 2, 3 ms after the epoch). No int32 instant comes after January
    # 1970: both are told to be likely unix seconds.
    with pytest.warns(convstate.UnixSecondsWarning):
        narrow = new_engine().run_batch(*columns_of([0, 1, 2], array.array("i", [1, 2, 3])))
    with pytest.warns(convstate.UnixSecondsWarning):
        listed = new_engine().run_batch(*columns_of([0, 1, 2], [1, 2, 3]))
    assert narrow.names() == listed.names() == ["applied", "window_closed", "window_closed"]


def test_an_object_buffer_of_instants_is_read_item_by_item() -> None:
    # A tz-aware pandas column's to_numpy() is an object array of datetimes (buffer format
    # "O", here a ctypes array of objects): read as the same items in a list, not refused.
    items = [T0 + HOUR, datetime.fromtimestamp((T0 + HOUR) / 1000, timezone.utc),
             "2026-11-02T09:00:00Z"]
    objects = (ctypes.py_object * 3)(*items)
    assert memoryview(objects).format.endswith("O")
    from_buffer = new_engine().run_batch(*columns_of([0, 1, 2], objects))
    listed = new_engine().run_batch(*columns_of([0, 1, 2], items))
    assert from_buffer.names() == listed.names() == ["applied", "allowed", "window_closed"]


@pytest.mark.parametrize(("params", "template_outcome"), [
    ([None, None, None], "template_params"),  # the body's {{1}} needs a value
    ((None, None, None), "template_params"),
    ([None, None, ["A-1"]], "allowed"),
    ([None, None, ("A-1",)], "allowed"),
])
def test_params_forms(params: Any, template_outcome: str) -> None:
    engine = new_engine()
    engine.inbound(NUMBER, contact(1), at=T0)
    engine.effects()
    result = engine.run_batch(
        [0, 1, 2], [T0 + HOUR] * 3, [NUMBER] * 3, [contact(0), contact(0), contact(1)],
        [None, "Hi", None], templates=[None, None, "order_ready"],
        languages=[None, None, "en"], params=params)
    assert result.names() == ["applied", "allowed", template_outcome]


@pytest.mark.parametrize(("params", "names"), [
    ([None, None, "A-1"], ['"params"', "row 2", "got str"]),
    ([None, None, 5], ['"params"', "row 2", "got int"]),
    ([None, None, ["A-1", 5]], ['"params"', "row 2", "got int"]),
    ([None, None, {"A-1"}], ['"params"', "row 2", "got set"]),
])
def test_malformed_params_raise_naming_the_row(params: Any, names: list[str]) -> None:
    engine = new_engine()
    with pytest.raises(TypeError) as raised:
        engine.run_batch(
            [0, 1, 2], [T0 + HOUR] * 3, [NUMBER] * 3, [contact(0), contact(0), contact(1)],
            [None, "Hi", None], templates=[None, None, "order_ready"],
            languages=[None, None, "en"], params=params)
    for name in names:
        assert name in str(raised.value), raised.value


def test_repeated_and_distinct_str_objects_read_alike() -> None:
    # Many distinct contacts, each repeated: the str cache must give each row its own text
    # whether the object is met again or only an equal str.
    rows = 5000
    who = [contact(i % 8) for i in range(rows)]  # distinct objects, equal texts
    shared = [contact(i) for i in range(8)]
    same = [shared[i % 8] for i in range(rows)]  # the same objects again and again
    at = [T0 + HOUR + i for i in range(rows)]
    a, b = new_engine(), new_engine()
    first = a.run_batch(["inbound"] * rows, at, [NUMBER] * rows, who)
    second = b.run_batch(["inbound"] * rows, at, [NUMBER] * rows, tuple(same))
    assert first.names() == second.names()
    assert a.snapshot() == b.snapshot()


def test_a_kinds_column_that_lies_about_its_length_is_read_not_trusted() -> None:
    # Its __len__ reserved room for that many rows first: 2**62 aborted the interpreter.
    class Liar:
        def __len__(self) -> int:
            return sys.maxsize

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(["inbound"])

    engine = new_engine()
    result = engine.run_batch(Liar(), [T0], [NUMBER], ["+79110000001"])  # type: ignore[arg-type]
    assert result.outcomes == bytes([0]), "its one row was applied"


def test_a_str_that_is_not_unicode_is_a_value_error_naming_its_column_and_row() -> None:
    engine = new_engine()
    with pytest.raises(ValueError, match='column "numbers", row 1') as raised:
        engine.run_batch(["inbound", "inbound"], [T0, T0], [NUMBER, "\ud800"], ["+79110000001"] * 2)
    assert isinstance(raised.value.__cause__, UnicodeEncodeError)
    with pytest.raises(ValueError, match='column "kinds", row 0'):
        engine.run_batch(["\ud800"], [T0], [NUMBER], ["+79110000001"])


def test_a_required_column_of_none_is_named() -> None:
    engine = new_engine()
    with pytest.raises(TypeError, match='column "numbers" is required, not None'):
        engine.run_batch(["inbound"], [T0], None, ["+79110000001"])  # type: ignore[arg-type]


MISSING = [None, float("nan"), Float64("nan"), PANDAS_NA]
MISSING_IDS = ["None", "NaN", "numpy float64 NaN", "pandas NA"]


@pytest.mark.parametrize("missing", MISSING, ids=MISSING_IDS)
def test_a_missing_value_in_an_optional_column_is_none_whatever_its_form(missing: Any) -> None:
    # A CSV read with pandas holds NaN (object and str columns) or pd.NA (StringDtype) for
    # an empty cell, where run_batch took only None: the batch raised TypeError.
    def run(gap: Any, wrap: Any = list) -> tuple[list[str], bytes]:
        engine = new_engine()
        engine.inbound(NUMBER, contact(1), at=T0)
        engine.effects()
        result = engine.run_batch(
            [0, 1, 2], [T0 + HOUR] * 3, [NUMBER] * 3, [contact(0), contact(0), contact(1)],
            wrap([gap, "Hi", gap]), templates=wrap([gap, gap, "order_ready"]),
            languages=wrap([gap, gap, "en"]), params=wrap([gap, gap, ["A-1"]]))
        return result.names(), engine.snapshot()

    expected = run(None)
    assert expected[0] == ["applied", "allowed", "allowed"]
    assert run(missing) == expected
    # As an object array (a column's to_numpy()), read item by item.
    assert run(missing, lambda items: (ctypes.py_object * 3)(*items)) == expected


@pytest.mark.parametrize("missing", MISSING[1:], ids=MISSING_IDS[1:])
def test_a_send_row_whose_text_is_missing_is_refused_as_with_none(missing: Any) -> None:
    engine = new_engine()
    with pytest.raises(TypeError, match='column "texts", row 1: a send or check_send row '
                                        "needs a text"):
        engine.run_batch([0, 1], [T0 + HOUR] * 2, [NUMBER] * 2, [contact(0)] * 2,
                         [None, missing])


def test_a_float_that_is_a_number_is_not_a_missing_text() -> None:
    engine = new_engine()
    with pytest.raises(TypeError, match='column "texts", row 1: expected a str, or None, NaN '
                                        "or pd.NA for a missing value, got float$"):
        engine.run_batch([0, 1], [T0 + HOUR] * 2, [NUMBER] * 2, [contact(0)] * 2, [None, 1.5])
    with pytest.raises(TypeError, match='column "params", row 1: expected None'):
        engine.run_batch([0, 1], [T0 + HOUR] * 2, [NUMBER] * 2, [contact(0)] * 2,
                         [None, "Hi"], params=[None, 1.5])


# numpy's byte-order mark in a dtype's str: its int64 view has the machine's order.
NATIVE = "<" if sys.byteorder == "little" else ">"


class datetime64:  # noqa: N801 - numpy's class name, by which the wheel knows its scalars
    """Stands for a numpy datetime64 scalar: `dtype.str` names its unit (`"<M8[ns]"`; `"<M8"`
    for NaT without a unit) and `view("<i8")` gives its count as an integer. numpy's
    scalar has neither `__index__` nor a buffer."""

    def __init__(self, count: int, unit: Optional[str]) -> None:
        self.count = count
        self.dtype = type("dtype", (), {"str": f"{NATIVE}M8" + (f"[{unit}]" if unit else "")})()

    def view(self, dtype: str) -> int:
        assert dtype == NATIVE + "i8", dtype
        return self.count


class Datetime64Array:
    """Stands for a numpy datetime64 array (`df["at"].to_numpy()` of a column without a
    time zone): numpy exports no buffer for it (`memoryview` raises ValueError), its
    `__array_interface__` names the type, `view("<i8")` gives the counts as an int64 array,
    and its items are datetime64 scalars."""

    def __init__(self, counts: list[int], unit: str) -> None:
        self.counts, self.unit = counts, unit

    @property
    def __array_interface__(self) -> dict[str, Any]:
        return {"typestr": f"{NATIVE}M8[{self.unit}]", "shape": (len(self.counts),),
                "version": 3}

    def __len__(self) -> int:
        return len(self.counts)

    def __iter__(self) -> Any:
        return (datetime64(count, self.unit) for count in self.counts)

    def __getitem__(self, index: int) -> datetime64:
        return datetime64(self.counts[index], self.unit)

    def view(self, dtype: str) -> array.array[int]:
        assert dtype == NATIVE + "i8", dtype
        return array.array("q", self.counts)


NOT_A_TIME = -(2**63)  # numpy's NaT in a datetime64's count
AT = [T0 + HOUR, T0 + HOUR, T0 + 2 * HOUR]
# Milliseconds in each unit's terms (`"10ms"`: a count of tens of milliseconds); the finer
# units get a fraction of a millisecond more, which is dropped. (Picoseconds and finer hold
# no instant of the engine's range in 64 bits.)
UNITS = [("h", None), ("m", None), ("s", None), ("10ms", None), ("ms", None),
         ("us", 999), ("ns", 999_999)]
PER_MS = {"h": (1, 3_600_000), "m": (1, 60_000), "s": (1, 1000), "10ms": (1, 10),
          "ms": (1, 1), "us": (1000, 1), "ns": (10**6, 1)}


def counts_in(unit: str, fraction: Optional[int], millis: list[int]) -> list[int]:
    per, div = PER_MS[unit]
    counts = []
    for ms in millis:
        assert ms % div == 0
        counts.append(ms * per // div + (fraction or 0))
    return counts


@pytest.mark.parametrize(("unit", "fraction"), UNITS, ids=[u for u, _ in UNITS])
@pytest.mark.parametrize("form", ["array", "list of scalars"])
def test_a_numpy_datetime64_column_is_read_in_its_unit(
        unit: str, fraction: Optional[int], form: str) -> None:
    # It was refused ("got datetime64"). A fraction of a millisecond is dropped (rounded
    # down), as a datetime's microseconds and an RFC 3339 string's further digits are.
    millis = AT  # whole hours: a count in every unit
    column = Datetime64Array(counts_in(unit, fraction, millis), unit)
    at: Any = column if form == "array" else list(column)
    engine, ints = new_engine(), new_engine()
    result = engine.run_batch(*columns_of([0, 1, 2], at))
    assert result.names() == ["applied", "allowed", "window_closed"]
    assert ints.run_batch(*columns_of([0, 1, 2], millis)).names() == result.names()
    assert engine.snapshot() == ints.snapshot()


@pytest.mark.parametrize("form", ["array", "list of scalars"])
def test_a_datetime64_beyond_64_bit_milliseconds_is_an_error_row(form: str) -> None:
    column = Datetime64Array([2**62, T0 // HOUR, T0 // HOUR], "h")
    at: Any = column if form == "array" else list(column)
    result = new_engine().run_batch(["inbound"] * 3, at, [NUMBER] * 3, [contact(0)] * 3)
    assert result.names() == ["error", "applied", "applied"]
    assert result.first_error is not None
    assert result.first_error[:2] == (0, "invalid_instant")
    assert "outside the 64-bit range" in result.first_error[2]


@pytest.mark.parametrize("form", ["array", "list of scalars", "NaT without a unit"])
def test_a_not_a_time_is_named_with_its_column_and_row(form: str) -> None:
    # numpy's missing time, as a missing datetime (pandas' NaT) is: every row needs one.
    column = Datetime64Array([T0 * 1000, T0 * 1000, NOT_A_TIME], "us")
    at: Any = {"array": column, "list of scalars": list(column),
               "NaT without a unit": [T0, T0, datetime64(NOT_A_TIME, None)]}[form]
    engine = new_engine()
    before = engine.snapshot()
    with pytest.raises(ValueError, match='column "at", row 2: NaT'):
        engine.run_batch(*columns_of([0, 1, 2], at))
    assert engine.snapshot() == before


@pytest.mark.parametrize("unit", ["D", "W", "M", "Y", "2D"])
@pytest.mark.parametrize("form", ["array", "list of scalars"])
def test_a_datetime64_of_dates_is_refused_as_a_date_is(unit: str, form: str) -> None:
    # A date is no instant: the typed methods refuse a `date`, and a count of days (or
    # months) is one.
    column = Datetime64Array([20_000, 20_000, 20_001], unit)
    at: Any = column if form == "array" else list(column)
    engine = new_engine()
    with pytest.raises(TypeError, match=rf'column "at".*datetime64\[{unit}\] holds dates, '
                                        r"not instants.*astype\(\"datetime64\[ms\]\"\)"):
        engine.run_batch(*columns_of([0, 1, 2], at))


class Timestamp(datetime):
    """Stands for pandas' Timestamp, a datetime subclass."""


def test_a_pandas_timestamp_is_read_as_the_datetime_it_is() -> None:
    # Aware, it is read; naive, it is refused as a naive datetime is (the typed methods'
    # InvalidInputError). A datetime64 count is not naive in that sense: numpy counts from
    # the unix epoch, and the wheel reads it as UTC as it reads int milliseconds.
    aware = Timestamp(2026, 11, 2, 9, tzinfo=timezone.utc)
    engine, ints = new_engine(), new_engine()
    result = engine.run_batch(*columns_of([0, 1, 2], [aware, aware, aware + timedelta(hours=1)]))
    assert result.names() == ints.run_batch(*columns_of([0, 1, 2], AT)).names()
    assert engine.snapshot() == ints.snapshot()
    naive = Timestamp(2026, 11, 2, 9)
    with pytest.raises(ValueError, match='column "at", row 2: .*naive datetime'):
        engine.run_batch(*columns_of([0, 1, 2], [T0 + HOUR, T0 + HOUR, naive]))
    with pytest.raises(convstate.InvalidInputError, match="naive datetime"):
        engine.inbound(NUMBER, contact(0), at=naive)


class bool_:  # noqa: N801 - numpy's class name (numpy 1), by which the wheel knows its bools
    """Stands for a numpy bool scalar, no `bool` subclass: what iterating a numpy bool
    array, or a list built from one, gives."""

    __module__ = "numpy"

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value


def automated_rows(automated: Any, engine: convstate.Engine) -> Any:
    """An inbound, an auto-acknowledgement, an agent's reply and a check, as a batch whose
    `automated` argument is given; the chat as it stands after them."""
    engine.run_batch(["inbound", "send", "send", "check_send"],
                     [T0 + HOUR, T0 + HOUR + 60_000, T0 + HOUR + 240_000, T0 + HOUR + 300_000],
                     [NUMBER] * 4, [contact(0)] * 4,
                     [None, "We got it", "Ana here", "Anything else?"], automated=automated)
    return engine.conversation(NUMBER, contact(0), at=T0 + HOUR + 300_000)["chat"]


@pytest.mark.parametrize("automated", [
    [False, True, False, True],
    (None, True, PANDAS_NA, True),
    [bool_(False), bool_(True), float("nan"), bool_(True)],
    memoryview(bytes([0, 1, 0, 1])).cast("?"),
], ids=["list", "tuple with gaps", "numpy bools and NaN", "bool buffer"])
def test_automated_rows_are_sent_as_send_automated_sends(automated: Any) -> None:
    # run_batch had no way to say a row was an auto-acknowledgement (RULES §3: no agent
    # response), so a batch of bot replies counted as the agents' answers.
    batched, single = new_engine(), new_engine()
    chat = automated_rows(automated, batched)
    single.inbound(NUMBER, contact(0), at=T0 + HOUR)
    single.send(NUMBER, contact(0), text="We got it", at=T0 + HOUR + 60_000, automated=True)
    single.send(NUMBER, contact(0), text="Ana here", at=T0 + HOUR + 240_000)
    single.check_send(NUMBER, contact(0), text="Anything else?", at=T0 + HOUR + 300_000,
                      automated=True)
    single.effects()  # the batch counted and dropped its own
    assert batched.snapshot() == single.snapshot()
    # The agent's reply three minutes after the acknowledgement is the first response.
    assert chat["responses"] == 1 and chat["waiting_since"] is None
    assert chat["response_total"] == timedelta(minutes=4)


def test_automated_as_one_bool_marks_every_send_row() -> None:
    chat = automated_rows(True, new_engine())
    assert chat["responses"] == 0
    assert chat["waiting_since"] == datetime.fromtimestamp((T0 + HOUR) / 1000, timezone.utc)
    for no in (False, None):
        assert automated_rows(no, new_engine())["responses"] == 1


@pytest.mark.parametrize(("automated", "error", "message"), [
    ([0, 1, 0, 1], TypeError, 'column "automated", row 0: expected a bool, or None, NaN or '
                              "pd.NA for not automated, got int"),
    (["yes"] * 4, TypeError, 'column "automated", row 0: expected a bool'),
    ("yes", TypeError, '"automated" must be a bool or a column of bools, not a str'),
    (1, TypeError, 'column "automated" must be a sized sequence'),
    ([True] * 3, ValueError, 'column "automated" has 3 rows, "kinds" has 4'),
    (memoryview(bytes([1, 0, 1])).cast("?"), ValueError, 'column "automated" has 3 rows'),
    # A buffer of ints is read item by item, as any column that is no bool buffer.
    (array.array("q", [1, 0, 1, 0]), TypeError, 'column "automated", row 0: expected a bool'),
])
def test_a_malformed_automated_argument_raises_before_anything_is_applied(
        automated: Any, error: type[Exception], message: str) -> None:
    engine = new_engine()
    before = engine.snapshot()
    with pytest.raises(error, match=re.escape(message)):
        automated_rows(automated, engine)
    assert engine.snapshot() == before
