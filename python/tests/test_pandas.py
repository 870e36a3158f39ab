"""run_batch and the other entry points against real pandas and numpy objects.

The package imports neither library: it knows their values by duck typing (a float NaN,
pandas' NA by its class, a numpy datetime64 by its array interface), which the other test
modules check with stand-in classes. Here the real objects go through, so that a pandas or
numpy release that changes one of those shapes shows up. Every table is compared with the
same events given as plain Python values: the same outcomes, the same engine state.
``scripts/test-python.sh`` installs pinned numpy and pandas into the test venv.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

import convstate
from conftest import NUMBER

T0 = 1_793_606_400_000  # 2026-11-02T08:00:00Z in unix milliseconds
HOUR = 3_600_000
OTHER_NUMBER = "+15550002222"


def contact(i: int) -> str:
    return f"+4915{i:09d}"


SETUP: list[dict[str, Any]] = [
    *({"type": "register_number", "at": T0, "business": "acme", "number": number,
       "channel": "official"} for number in (NUMBER, OTHER_NUMBER)),
    {"type": "register_template", "at": T0, "business": "acme", "name": "order_ready",
     "language": "en", "category": "utility", "body": "Your order {{1}} is ready.",
     "status": "approved"},
    *({"type": "opt_in", "at": T0, "business": "acme", "contact": contact(i)}
      for i in range(4)),
]


def new_engine(engine_class: Callable[..., Any] = convstate.Engine) -> Any:
    engine = engine_class(policy="cloud-2025")
    engine.process(SETUP)
    return engine


# One table, as plain Python values: inbound, text and template rows, some missing cells,
# one row past the window (24 hours after the contact's last message).
ROWS: dict[str, list[Any]] = {
    "kinds": ["inbound", "send", "check_send", "inbound", "send", "send", "send"],
    "at": [T0 + HOUR, T0 + HOUR + 1000, T0 + 2 * HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR,
           T0 + 27 * HOUR, T0 + 27 * HOUR + 1000],
    "numbers": [NUMBER, NUMBER, NUMBER, OTHER_NUMBER, OTHER_NUMBER, NUMBER, NUMBER],
    "contacts": [contact(0), contact(0), contact(0), contact(1), contact(1), contact(0),
                 contact(0)],
    "texts": [None, "Hi", "Hello", None, "Hey", "Late", None],
    "templates": [None, None, None, None, None, None, "order_ready"],
    "languages": [None, None, None, None, None, None, "en"],
    "params": [None, None, None, None, None, None, ["A-1"]],
}
NAMES = ["applied", "allowed", "allowed", "applied", "allowed", "window_closed", "allowed"]


def plain_result(engine_class: Callable[..., Any] = convstate.Engine) -> tuple[list[str], bytes]:
    """The outcomes and the snapshot of ROWS given as plain Python lists."""
    engine = new_engine(engine_class)
    result = engine.run_batch(ROWS["kinds"], ROWS["at"], ROWS["numbers"], ROWS["contacts"],
                              ROWS["texts"], templates=ROWS["templates"],
                              languages=ROWS["languages"], params=ROWS["params"])
    assert result.names() == NAMES
    return result.names(), engine.snapshot()


def frame(at: Any = None, **dtypes: Any) -> pd.DataFrame:
    """ROWS as a DataFrame: `at` replaces the int milliseconds, `dtypes` casts columns."""
    df = pd.DataFrame(ROWS)
    if at is not None:
        df["at"] = at
    return df.astype(dtypes) if dtypes else df


def run_frame(df: pd.DataFrame, column: Callable[[pd.Series], Any] = lambda s: s,
              engine_class: Callable[..., Any] = convstate.Engine) -> tuple[list[str], bytes]:
    """Runs a DataFrame's columns (each passed through `column`: the Series itself, its
    `to_numpy()`...) and returns the outcomes and the snapshot."""
    engine = new_engine(engine_class)
    result = engine.run_batch(column(df["kinds"]), column(df["at"]), column(df["numbers"]),
                              column(df["contacts"]), column(df["texts"]),
                              templates=column(df["templates"]),
                              languages=column(df["languages"]), params=column(df["params"]))
    return result.names(), engine.snapshot()


SERIES_FORMS: dict[str, Callable[[pd.Series], Any]] = {
    "Series": lambda s: s,
    "to_numpy": lambda s: s.to_numpy(),
    "list": lambda s: s.tolist(),
}


@pytest.mark.parametrize("form", ["Series", "to_numpy"])
def test_object_columns_with_nan_are_missing_values(form: str) -> None:
    # pandas fills an object column's gaps with NaN (a float64 NaN through to_numpy()).
    df = frame()
    assert df["texts"].dtype == object or str(df["texts"].dtype) == "str"
    assert df["texts"].isna().sum() == 3
    assert run_frame(df, SERIES_FORMS[form]) == plain_result()


@pytest.mark.parametrize("dtype", ["object", "string", "str"])
@pytest.mark.parametrize("form", ["Series", "to_numpy", "list"])
def test_string_dtypes_and_their_missing_values(dtype: Any, form: str) -> None:
    # pandas' string dtype ("string") holds pd.NA for a gap, pandas 3's default str dtype a
    # NaN; both mean missing, and the texts are read as str.
    df = frame(**{name: dtype for name in ("numbers", "contacts", "texts", "templates",
                                           "languages")})
    missing = df["texts"].to_numpy()[0]
    if str(dtype).startswith("string"):
        assert missing is pd.NA
    assert run_frame(df, SERIES_FORMS[form]) == plain_result()


def test_a_csv_read_with_pandas_runs_as_its_rows() -> None:
    # The README's recipe: phone numbers read as str (as ints they lose their "+"), empty
    # cells NaN.
    csv = io.StringIO()
    frame().drop(columns="params").to_csv(csv, index=False)
    csv.seek(0)
    df = pd.read_csv(csv, dtype={"numbers": str, "contacts": str})
    df["params"] = ROWS["params"]
    assert df["at"].dtype == np.int64
    assert df["texts"].isna().sum() == 3
    assert run_frame(df) == plain_result()
    assert run_frame(df, lambda s: s.to_numpy()) == plain_result()


@pytest.mark.parametrize(("at_dtype", "kinds_dtype"), [
    (np.int64, np.int64), (np.uint64, np.int32), ("Int64", np.uint8), (np.int64, "Int8")])
@pytest.mark.parametrize("form", ["Series", "to_numpy", "list"])
def test_int_columns_of_milliseconds_and_kind_codes(
        at_dtype: Any, kinds_dtype: Any, form: str) -> None:
    # An int64 array is read in one go from its buffer; the other int types item by item
    # (numpy's integer scalars through __index__, pandas' nullable Int64 as ints).
    df = frame()
    df["at"] = df["at"].astype(at_dtype)
    codes = df["kinds"].map({"inbound": 0, "send": 1, "check_send": 2})
    df["kinds"] = codes.astype(kinds_dtype)
    assert run_frame(df, SERIES_FORMS[form]) == plain_result()


def test_a_uint8_array_of_kind_codes_is_read_in_one_go() -> None:
    df = frame()
    codes = df["kinds"].map({"inbound": 0, "send": 1, "check_send": 2}).to_numpy(np.uint8)
    engine = new_engine()
    result = engine.run_batch(codes, np.asarray(ROWS["at"], dtype=np.int64), df["numbers"],
                              df["contacts"], df["texts"], templates=df["templates"],
                              languages=df["languages"], params=df["params"])
    assert (result.names(), engine.snapshot()) == plain_result()
    assert list(np.frombuffer(result.outcomes, dtype=np.uint8)) == [
        convstate.BatchResult.OUTCOME_NAMES.index(name) for name in NAMES]


@pytest.mark.parametrize("unit", ["ns", "us", "ms", "s"])
def test_a_datetime64_array_is_read_in_its_unit_as_utc(unit: str) -> None:
    # df["at"].to_numpy() of a column without a time zone: a datetime64 array, counted from
    # the unix epoch and read as UTC. ROWS' instants are whole seconds, exact in each unit.
    at = pd.to_datetime(pd.Series(ROWS["at"]), unit="ms").astype(f"datetime64[{unit}]")
    df = frame(at)
    assert df["at"].to_numpy().dtype == np.dtype(f"datetime64[{unit}]")
    assert run_frame(df, lambda s: s.to_numpy() if s.name == "at" else s) == plain_result()
    # A list of numpy datetime64 scalars (list(array)) reads the same.
    assert run_frame(df, lambda s: list(s.to_numpy()) if s.name == "at" else s) == \
        plain_result()


def test_a_fraction_of_a_millisecond_is_dropped() -> None:
    at = pd.to_datetime(pd.Series(ROWS["at"]), unit="ms") + pd.Timedelta(microseconds=999)
    df = frame(at.astype("datetime64[ns]"))
    assert run_frame(df, lambda s: s.to_numpy() if s.name == "at" else s) == plain_result()


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("form", ["Series", "to_numpy", "list"])
def test_tz_aware_timestamps_are_read_as_their_instant(tz: str, form: str) -> None:
    # A tz-aware column holds pandas Timestamps (aware datetimes); to_numpy() gives an object
    # array of them. Whatever the zone, the instant is the same.
    at = pd.to_datetime(pd.Series(ROWS["at"]), unit="ms", utc=True).dt.tz_convert(tz)
    df = frame(at)
    assert str(df["at"].dtype).endswith(f", {tz}]")
    assert run_frame(df, SERIES_FORMS[form]) == plain_result()


@pytest.mark.parametrize("form", ["tz-aware Series", "tz-aware to_numpy", "tz-aware tolist",
                                  "datetime64 array", "datetime64 scalars"])
def test_a_not_a_time_raises_naming_its_row(form: str) -> None:
    # The same error whichever NaT it is: a tz-aware column's gap is pandas' NaT (a datetime
    # subclass), refused before as a datetime whose "utcoffset() raised".
    at = pd.to_datetime(pd.Series(ROWS["at"]), unit="ms")
    at[4] = pd.NaT
    column: Any = {
        "tz-aware Series": at.dt.tz_localize("UTC"),
        "tz-aware to_numpy": at.dt.tz_localize("UTC").to_numpy(),
        "tz-aware tolist": at.dt.tz_localize("UTC").tolist(),
        "datetime64 array": at.to_numpy(),
        "datetime64 scalars": list(at.to_numpy()),
    }[form]
    engine = new_engine()
    before = engine.snapshot()
    with pytest.raises(ValueError, match=r'^run_batch: column "at", row 4: NaT \(a missing '
                                         r"time\): every row needs an instant$"):
        engine.run_batch(ROWS["kinds"], column, ROWS["numbers"], ROWS["contacts"],
                         ROWS["texts"])
    assert engine.snapshot() == before


NUMPY_NANS = [np.float64("nan"), np.float32("nan"), np.float16("nan"), np.longdouble("nan")]


@pytest.mark.parametrize("nan", NUMPY_NANS, ids=lambda nan: type(nan).__name__)
@pytest.mark.parametrize("form", ["Series", "to_numpy", "list"])
def test_a_nan_of_any_numpy_float_type_is_a_missing_value(nan: Any, form: str) -> None:
    # A float32 column's gap (np.float32("nan"), no float subclass) was refused as "got
    # float32" where a float64 NaN meant missing.
    df = frame()
    for column in ("texts", "templates", "languages", "params"):
        df[column] = [nan if cell is None else cell for cell in ROWS[column]]
    assert run_frame(df, SERIES_FORMS[form]) == plain_result()


@pytest.mark.parametrize("nan", NUMPY_NANS, ids=lambda nan: type(nan).__name__)
def test_a_numpy_nan_in_a_column_every_row_needs_is_named_as_missing(nan: Any) -> None:
    numbers = np.array(ROWS["numbers"], dtype=object)
    numbers[2] = nan
    with pytest.raises(TypeError, match=rf'column "numbers", row 2: .*{type(nan).__name__}: '
                                        r"NaN, a missing value"):
        new_engine().run_batch(ROWS["kinds"], ROWS["at"], numbers, ROWS["contacts"],
                               ROWS["texts"])


def test_a_float32_number_is_no_missing_value() -> None:
    # Only a NaN is missing: another float in a text column is refused as before.
    texts = list(ROWS["texts"])
    texts[0] = np.float32(1.5)
    with pytest.raises(TypeError, match=r'column "texts", row 0: expected a str, or None, NaN '
                                        r"or pd.NA for a missing value, got float32$"):
        new_engine().run_batch(ROWS["kinds"], ROWS["at"], ROWS["numbers"], ROWS["contacts"],
                               texts)


@pytest.mark.parametrize("column", ["kinds", "at", "numbers", "contacts"])
def test_a_gap_in_a_column_every_row_needs_names_it(column: str) -> None:
    df = frame()
    df[column] = df[column].astype(object)
    df.loc[2, column] = np.nan
    with pytest.raises(TypeError, match=rf'column "{column}", row 2: .*a missing value'):
        run_frame(df)


def test_a_date_unit_is_refused() -> None:
    days = np.array(["2026-11-02"] * len(ROWS["at"]), dtype="datetime64[D]")
    with pytest.raises(TypeError, match=r'column "at".*datetime64\[D\] holds dates'):
        new_engine().run_batch(ROWS["kinds"], days, ROWS["numbers"], ROWS["contacts"],
                               ROWS["texts"])


@pytest.mark.parametrize("form", ["Series", "to_numpy", "list"])
def test_params_cells_nan_or_sequences(form: str) -> None:
    # A params cell is a sequence of str, or NaN for none.
    df = frame()
    df["params"] = [np.nan] * (len(df) - 1) + [("A-1",)]
    assert run_frame(df, SERIES_FORMS[form]) == plain_result()


def test_a_sharded_engine_reads_the_same_columns() -> None:
    at = pd.to_datetime(pd.Series(ROWS["at"]), unit="ms", utc=True)
    df = frame(at, texts="string")
    sharded = run_frame(df, engine_class=convstate.ShardedEngine)
    assert sharded == plain_result(convstate.ShardedEngine)


@pytest.mark.parametrize("engine_class", [convstate.Engine, convstate.ShardedEngine])
def test_process_refuses_a_dataframe_pointing_to_run_batch(engine_class: Any) -> None:
    df = pd.DataFrame([{"type": "tick", "at": T0 + HOUR}])
    engine = new_engine(engine_class)
    before = engine.snapshot()
    with pytest.raises(TypeError, match=r"process: a DataFrame is not a sequence of events.*"
                                        r"run_batch"):
        engine.process(df)
    assert engine.snapshot() == before
    # Its records are events.
    engine.process(df.to_dict("records"))


def inbound_events(at: list[Any]) -> list[dict[str, Any]]:
    return [{"type": "inbound", "at": instant, "number": NUMBER, "contact": contact(0),
             "kind": "image"} for instant in at]


def test_records_of_a_dataframe_go_through_process_and_handle() -> None:
    # to_dict("records") gives pandas Timestamps and numpy ints: read as the datetimes and
    # ints they stand for.
    millis = [T0 + HOUR, T0 + 2 * HOUR]
    df = pd.DataFrame(inbound_events(millis))
    df["at"] = pd.to_datetime(df["at"], unit="ms", utc=True)
    df["size"] = np.array([10, 20], dtype=np.int64)
    plain = [dict(event, size=size) for event, size in zip(inbound_events(millis), [10, 20])]
    expected = new_engine().process(plain)
    assert new_engine().process(df.to_dict("records")) == expected
    engine, reference = new_engine(), new_engine()
    for record, event in zip(df.to_dict("records"), plain):
        assert engine.handle(record) == reference.handle(event)
    assert engine.snapshot() == reference.snapshot()


@pytest.mark.parametrize("value", [
    pd.Timestamp(T0 + HOUR, unit="ms", tz="UTC"),
    pd.Timestamp(T0 + HOUR, unit="ms", tz="UTC").tz_convert("Asia/Tokyo"),
    np.int64(T0 + HOUR),
    np.uint64(T0 + HOUR),
], ids=["Timestamp UTC", "Timestamp Tokyo", "int64", "uint64"])
def test_typed_methods_take_pandas_and_numpy_instants(value: Any) -> None:
    engine, reference = new_engine(), new_engine()
    engine.inbound(NUMBER, contact(0), at=value)
    reference.inbound(NUMBER, contact(0), at=T0 + HOUR)
    decision = engine.check_send(NUMBER, contact(0), text="Hi", at=value)
    assert decision == reference.check_send(NUMBER, contact(0), text="Hi", at=T0 + HOUR)
    engine.tick(value)
    reference.tick(T0 + HOUR)
    assert engine.snapshot() == reference.snapshot()


def test_a_naive_pandas_timestamp_is_refused_as_a_naive_datetime_is() -> None:
    with pytest.raises(convstate.InvalidInputError, match="naive datetime"):
        new_engine().inbound(NUMBER, contact(0), at=pd.Timestamp(T0 + HOUR, unit="ms"))
    with pytest.raises(convstate.InvalidInputError, match="invalid instant"):
        new_engine().inbound(NUMBER, contact(0), at=pd.NaT)


def test_the_package_imports_neither_pandas_nor_numpy() -> None:
    # Duck typing only: a user without pandas or numpy installs and imports the package
    # without them, and one with them pays no import for them. Checked in a fresh
    # interpreter, where this module's imports are not loaded.
    code = (
        "import sys, array\n"
        "import convstate\n"
        "e = convstate.Engine(policy='cloud-2025')\n"
        f"e.register_number('{NUMBER}', business='acme', channel='official', at={T0})\n"
        f"r = e.run_batch(bytes([0, 1]), array.array('q', [{T0 + HOUR}] * 2), ['{NUMBER}'] * 2,"
        f" ['{contact(0)}'] * 2, [float('nan'), 'Hi'])\n"
        "assert r.names() == ['applied', 'allowed'], r.names()\n"
        f"e.inbound('{NUMBER}', '{contact(0)}', at={T0 + 2 * HOUR})\n"
        "e.process([])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


DATETIME64_UNITS = ["ns", "us", "ms", "s"]


@pytest.mark.parametrize("unit", DATETIME64_UNITS)
def test_typed_methods_take_a_numpy_datetime64_as_run_batch_does(unit: str) -> None:
    # An item of df["at"].to_numpy() was read by run_batch but refused by inbound, send,
    # check_send, tick, conversation and handle_webhook ("got datetime64"). It is read the
    # same way: in its unit, as UTC, a fraction of a millisecond dropped.
    at = np.datetime64(T0 + HOUR, "ms").astype(f"datetime64[{unit}]")
    if unit in ("us", "ns"):
        at += np.timedelta64(999, "us")
    engine, reference = new_engine(), new_engine()
    engine.inbound(NUMBER, contact(0), at=at)
    reference.inbound(NUMBER, contact(0), at=T0 + HOUR)
    assert engine.check_send(NUMBER, contact(0), text="Hi", at=at) == \
        reference.check_send(NUMBER, contact(0), text="Hi", at=T0 + HOUR)
    assert engine.send(NUMBER, contact(0), text="Hi", at=at) == \
        reference.send(NUMBER, contact(0), text="Hi", at=T0 + HOUR)
    assert engine.conversation(NUMBER, contact(0), at=at) == \
        reference.conversation(NUMBER, contact(0), at=T0 + HOUR)
    engine.tick(at)
    reference.tick(T0 + HOUR)
    assert engine.effects() == reference.effects()
    assert engine.snapshot() == reference.snapshot()
    sharded, sharded_reference = (new_engine(convstate.ShardedEngine) for _ in range(2))
    assert sharded.tick(at) == sharded_reference.tick(T0 + HOUR)
    assert sharded.snapshot() == sharded_reference.snapshot()


@pytest.mark.parametrize("unit", DATETIME64_UNITS)
def test_events_given_as_dicts_take_a_numpy_datetime64(unit: str) -> None:
    # handle() and process() with dicts (df.to_dict("records") of a to_numpy() column, or an
    # event built from one): "has no JSON form" before.
    millis = [T0 + HOUR, T0 + 2 * HOUR]
    at = [np.datetime64(m, "ms").astype(f"datetime64[{unit}]") for m in millis]
    expected = new_engine().process(inbound_events(millis))
    assert new_engine().process(inbound_events(at)) == expected
    engine, reference = new_engine(), new_engine()
    for event, plain in zip(inbound_events(at), inbound_events(millis)):
        assert engine.handle(event) == reference.handle(plain)
    assert engine.snapshot() == reference.snapshot()
    sharded = new_engine(convstate.ShardedEngine)
    assert sharded.process(inbound_events(at)) == \
        new_engine(convstate.ShardedEngine).process(inbound_events(millis))


def test_a_numpy_not_a_time_is_refused_naming_the_argument() -> None:
    engine = new_engine()
    before = engine.snapshot()
    for nat in (np.datetime64("NaT"), np.datetime64("NaT", "ns")):
        with pytest.raises(convstate.InvalidInputError, match=r"^inbound: at: invalid instant "
                                                              r".*NaT.*no instant") as caught:
            engine.inbound(NUMBER, contact(0), at=nat)
        assert caught.value.code == "invalid_instant"
        with pytest.raises(convstate.InvalidInputError, match=r"^tick: at: .*NaT"):
            engine.tick(nat)
        with pytest.raises(convstate.InvalidInputError, match=r"^check_send: at: .*NaT"):
            engine.check_send(NUMBER, contact(0), text="Hi", at=nat)
        with pytest.raises(convstate.InvalidInputError,
                           match=r'invalid instant .*NaT.*field "at": NaT'):
            engine.handle(inbound_events([nat])[0])
        with pytest.raises(convstate.InvalidInputError,
                           match=r'^process: event 1: invalid instant .*field "at": NaT'):
            engine.process(inbound_events([T0 + HOUR, nat]))
    assert engine.snapshot() == before


def test_a_numpy_datetime64_of_dates_is_refused_as_a_date_is() -> None:
    engine = new_engine()
    day = np.datetime64("2026-11-02", "D")
    with pytest.raises(TypeError, match=r"^inbound: at: a numpy datetime64\[D\] holds dates"):
        engine.inbound(NUMBER, contact(0), at=day)
    with pytest.raises(convstate.InvalidInputError,
                       match=r'field "at": a numpy datetime64\[D\] holds dates'):
        engine.handle(inbound_events([day])[0])
    with pytest.raises(TypeError, match=r"^inbound: at must be an aware datetime.*got date$"):
        engine.inbound(NUMBER, contact(0), at=day.item())


def test_a_numpy_datetime64_out_of_range_is_the_engines_error() -> None:
    # As an int of the same milliseconds is.
    far = np.datetime64(2**62, "ms")
    with pytest.raises(convstate.InvalidInputError) as caught:
        new_engine().inbound(NUMBER, contact(0), at=far)
    with pytest.raises(convstate.InvalidInputError) as as_int:
        new_engine().inbound(NUMBER, contact(0), at=2**62)
    assert caught.value.code == as_int.value.code
    # Named by method and argument, as the same int and a wrong type are.
    assert str(caught.value).startswith("inbound: at: ") and str(as_int.value).startswith("inbound: at: ")
    beyond = np.datetime64(2**62, "h")  # its milliseconds do not fit 64 bits
    with pytest.raises(convstate.InvalidInputError, match="^inbound: at: .*outside the 64-bit range"):
        new_engine().inbound(NUMBER, contact(0), at=beyond)
    with pytest.raises(convstate.InvalidInputError, match="^check_send: at: ") as early:
        new_engine().check_send(NUMBER, contact(0), text="hi", at=np.datetime64("1960-01-01", "ms"))
    assert early.value.code == "instant_out_of_range"
    with pytest.raises(TypeError, match="or a numpy datetime64, got float"):
        new_engine().tick(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("unit", DATETIME64_UNITS)
def test_a_series_of_datetime64_without_a_time_zone_is_read_as_its_array(unit: str) -> None:
    # df["at"] of a naive datetime column: its to_numpy() (a datetime64 array) was read as UTC
    # while the Series itself was refused, its items being naive Timestamps ("naive
    # datetime"). The Series is read as its array: counted from the unix epoch as UTC.
    at = pd.to_datetime(pd.Series(ROWS["at"]), unit="ms").astype(f"datetime64[{unit}]")
    df = frame(at)
    assert df["at"].dtype == np.dtype(f"datetime64[{unit}]")
    assert run_frame(df) == plain_result()
    assert run_frame(df, engine_class=convstate.ShardedEngine) == \
        plain_result(convstate.ShardedEngine)


def test_a_csv_with_parsed_dates_runs_as_its_rows() -> None:
    # read_csv(parse_dates=...) of RFC 3339 times with a Z gives a tz-aware column, without
    # one a naive datetime64 column: both run as the int milliseconds.
    df = frame()
    df["at"] = pd.to_datetime(df["at"], unit="ms", utc=True)
    for with_zone in (True, False):
        csv = io.StringIO()
        written = df if with_zone else df.assign(at=df["at"].dt.tz_localize(None))
        written.drop(columns="params").to_csv(csv, index=False)
        csv.seek(0)
        read = pd.read_csv(csv, dtype={"numbers": str, "contacts": str}, parse_dates=["at"])
        assert (read["at"].dt.tz is not None) == with_zone
        read["params"] = ROWS["params"]
        assert run_frame(read) == plain_result()


def test_a_not_a_time_in_a_datetime64_series_names_its_row() -> None:
    at = pd.to_datetime(pd.Series(ROWS["at"]), unit="ms")
    at[3] = pd.NaT
    engine = new_engine()
    before = engine.snapshot()
    with pytest.raises(ValueError, match=r'run_batch: column "at", row 3: NaT'):
        engine.run_batch(ROWS["kinds"], at, ROWS["numbers"], ROWS["contacts"], ROWS["texts"])
    assert engine.snapshot() == before


def test_naive_datetimes_outside_a_datetime64_column_are_still_refused() -> None:
    # Only numpy's datetime64 data is read as UTC: naive datetime objects (an object Series
    # of them, its tolist(), a naive Timestamp) stay refused, as in the typed methods.
    at = pd.to_datetime(pd.Series(ROWS["at"]), unit="ms")
    for column in (at.astype(object), at.tolist(), [*ROWS["at"][:-1], at.iloc[-1]]):
        with pytest.raises(ValueError, match=r'column "at", row \d+: .*naive datetime'):
            new_engine().run_batch(ROWS["kinds"], column, ROWS["numbers"], ROWS["contacts"],
                                   ROWS["texts"])


def array_cells(make: Callable[[list[str]], Any]) -> list[Any]:
    """ROWS' params with every list made an array by `make`."""
    return [None if cell is None else make(cell) for cell in ROWS["params"]]


PARAMS_ARRAYS: dict[str, Callable[[list[str]], Any]] = {
    # What pd.read_parquet gives a list<string> column's cells (pyarrow's to_pandas: a 1-D
    # object array of str per row), and what .apply(np.array) gives (a unicode array).
    "object": lambda cell: np.array(cell, dtype=object),
    "unicode": np.array,
}


@pytest.mark.parametrize("array", PARAMS_ARRAYS)
@pytest.mark.parametrize("form", ["Series", "to_numpy", "list"])
def test_params_cells_may_be_numpy_arrays(array: str, form: str) -> None:
    # A numpy array is no Sequence: such a cell was refused ("got ndarray"). It is read as
    # its tolist().
    df = frame()
    df["params"] = array_cells(PARAMS_ARRAYS[array])
    assert isinstance(df["params"].iloc[-1], np.ndarray)
    assert run_frame(df, SERIES_FORMS[form]) == plain_result()
    # df["params"].apply(np.array) of a column of lists, as the pandas idiom writes it.
    df = frame()
    df["params"] = df["params"].apply(lambda cell: cell if cell is None else np.array(cell))
    assert run_frame(df, SERIES_FORMS[form]) == plain_result()


@pytest.mark.parametrize(("cell", "problem"), [
    (np.array(["A-1", 5], dtype=object), "expected a str parameter, got int"),
    (np.array(["A-1", None], dtype=object), "expected a str parameter, got NoneType"),
    (np.array([1]), "expected a str parameter, got int"),
    (np.array([b"A-1"]), "expected a str parameter, got bytes"),
    (np.array("A-1"), "expected a one-dimensional array of str parameters, got a "
                      "0-dimensional ndarray"),
    (np.array(np.nan), "expected a one-dimensional array of str parameters, got a "
                       "0-dimensional ndarray"),
    (np.array([["A-1"]]), "expected a one-dimensional array of str parameters, got a "
                          "2-dimensional ndarray"),
], ids=["object with int", "object with None", "int", "bytes", "0-d", "0-d NaN", "2-d"])
def test_a_params_array_of_anything_but_str_is_refused_naming_its_row(
        cell: Any, problem: str) -> None:
    # An array's items are checked as its list's are; a 0-d array holds no list and a 2-D
    # one's items would be rows: both refused, not read as missing or as parameters.
    params = [*ROWS["params"][:-1], cell]
    engine = new_engine()
    before = engine.snapshot()
    with pytest.raises(TypeError, match=rf'^run_batch: column "params", row 6: {problem}$'):
        engine.run_batch(ROWS["kinds"], ROWS["at"], ROWS["numbers"], ROWS["contacts"],
                         ROWS["texts"], templates=ROWS["templates"],
                         languages=ROWS["languages"], params=params)
    assert engine.snapshot() == before


NOT_A_TIMES = [pd.NaT, np.datetime64("NaT"), np.datetime64("NaT", "ns")]


@pytest.mark.parametrize("nat", NOT_A_TIMES, ids=["pd.NaT", "np generic", "np ns"])
def test_pandas_and_numpy_not_a_time_are_refused_alike(nat: Any) -> None:
    # pd.NaT is a datetime subclass whose utcoffset() raises: it was refused as "a datetime
    # without a time (its utcoffset() raised: ...)", without the argument's name in a typed
    # call. It is now refused as numpy's NaT is, naming the argument or the field.
    nat_repr = repr(nat) if isinstance(nat, np.datetime64) else "NaT"
    no_instant = rf'invalid instant "{re.escape(nat_repr)}": '
    missing = r"NaT \(a missing time\) is no instant$"
    engine, sharded = new_engine(), new_engine(convstate.ShardedEngine)
    before, sharded_before = engine.snapshot(), sharded.snapshot()
    event = inbound_events([nat])[0]
    calls: list[tuple[Callable[[], Any], str]] = [
        (lambda: engine.inbound(NUMBER, contact(0), at=nat), "^inbound: at: "),
        (lambda: engine.send(NUMBER, contact(0), text="Hi", at=nat), "^send: at: "),
        (lambda: engine.check_send(NUMBER, contact(0), text="Hi", at=nat), "^check_send: at: "),
        (lambda: engine.conversation(NUMBER, contact(0), at=nat), "^conversation: at: "),
        (lambda: engine.tick(nat), "^tick: at: "),
        (lambda: engine.handle_webhook({}, received_at=nat), "^handle_webhook: received_at: "),
        (lambda: sharded.tick(nat), "^tick: at: "),
        (lambda: sharded.handle_webhook({}, received_at=nat), "^handle_webhook: received_at: "),
    ]
    for call, prefix in calls:
        with pytest.raises(convstate.InvalidInputError,
                           match=prefix + no_instant + missing) as caught:
            call()
        assert caught.value.code == "invalid_instant"
    field = r'field "at": '
    for call, prefix in [
        (lambda: engine.handle(event), "^"),
        (lambda: engine.process([inbound_events([T0 + HOUR])[0], event]), "^process: event 1: "),
        (lambda: sharded.process([event]), "^process: event 0: "),
    ]:
        with pytest.raises(convstate.InvalidInputError,
                           match=prefix + no_instant + field + missing) as caught:
            call()
        assert caught.value.code == "invalid_instant"
    for column in ([*ROWS["at"][:2], nat, *ROWS["at"][3:]],
                   np.array([*ROWS["at"][:2], nat, *ROWS["at"][3:]], dtype=object)):
        for target in (engine, sharded):
            with pytest.raises(ValueError, match=r'^run_batch: column "at", row 2: NaT \(a '
                                                 r"missing time\): every row needs an instant$"):
                target.run_batch(ROWS["kinds"], column, ROWS["numbers"], ROWS["contacts"],
                                 ROWS["texts"])
    assert engine.snapshot() == before
    assert sharded.snapshot() == sharded_before


def test_a_numpy_bool_in_a_dict_event_is_a_bool() -> None:
    # An item of a bool column's `to_numpy()` (or a row read by `iloc`) is a numpy bool:
    # refused ("np.True_ of type bool has no JSON form") while numpy ints and strs went
    # through.
    frame = pd.DataFrame({"type": ["inbound"], "at": [T0 + HOUR], "number": [NUMBER],
                          "contact": [contact(0)], "kind": ["text"], "referral": [True]})
    event = {column: frame[column].to_numpy()[0] for column in frame.columns}
    assert isinstance(event["referral"], np.bool_)
    engine, reference = new_engine(), new_engine()
    assert engine.handle(event) == reference.handle({**event, "referral": True})
    assert engine.snapshot() == reference.snapshot()
    plain = {**event, "referral": False, "at": T0 + 2 * HOUR}
    assert engine.handle({**plain, "referral": np.bool_(False)}) == reference.handle(plain)
    assert engine.snapshot() == reference.snapshot()


def test_phone_numbers_from_a_float_column_are_refused() -> None:
    # A phone column with one empty cell is read as float64; `astype(str)` then gives
    # "79110000001.0", whose dot read as punctuation made it +791100000010: another contact,
    # silently.
    frame = pd.read_csv(io.StringIO("contact\n79110000001\n\n"), skip_blank_lines=False)
    texts = frame["contact"].astype(str).tolist()
    assert texts[0] == "79110000001.0"
    engine = new_engine()
    result = engine.run_batch(["inbound"], [T0 + HOUR], [NUMBER], [texts[0]])
    assert result.counts == {"error": 1}
    row, code, message = result.first_error
    assert (row, code) == (0, "invalid_phone_number") and "dtype=str" in message, message
    with pytest.raises(convstate.InvalidInputError, match="ends in a decimal fraction of zeros"):
        engine.inbound(NUMBER, texts[0], at=T0 + HOUR)
    with pytest.raises(convstate.InvalidInputError, match="scientific notation"):
        engine.inbound(NUMBER, "7.9110000001e+10", at=T0 + HOUR)


# Which send rows of ROWS an automation sent (the check_send row included), as a column.
AUTOMATED = [False, True, True, False, False, False, True]


@pytest.mark.parametrize("engine_class", [convstate.Engine, convstate.ShardedEngine])
@pytest.mark.parametrize("form", ["bool Series", "to_numpy", "list", "boolean Series",
                                  "object array"])
def test_an_automated_column_is_read_in_every_form(engine_class: Any, form: str) -> None:
    def run(automated: Any) -> bytes:
        engine = new_engine(engine_class)
        engine.run_batch(ROWS["kinds"], ROWS["at"], ROWS["numbers"], ROWS["contacts"],
                         ROWS["texts"], templates=ROWS["templates"],
                         languages=ROWS["languages"], params=ROWS["params"],
                         automated=automated)
        return bytes(engine.snapshot())

    column = pd.Series(AUTOMATED)
    given = {
        "bool Series": column,
        "to_numpy": column.to_numpy(),  # a bool buffer, read in one go
        "list": column.tolist(),
        # A nullable column's gaps (pd.NA) mean not automated.
        "boolean Series": pd.Series([None, True, True, None, False, None, True],
                                    dtype="boolean"),
        "object array": np.array([np.False_, np.True_, True, None, np.nan, False, np.True_],
                                 dtype=object),
    }[form]
    assert run(given) == run(AUTOMATED)
    # The reply at row 1 was the automation's: the contact still waits, unanswered.
    assert run(AUTOMATED) != run(None)
