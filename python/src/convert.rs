//! Translation between Python values and the engine's JSON and instants.
//!
//! The binding stays thin by speaking the core's serde JSON in both directions: keyword
//! arguments and dicts become a JSON object that the core decodes into its own event types,
//! and every output is the core's serialised value turned into Python objects. Only
//! instants get special treatment: aware datetimes (or int milliseconds) in, aware UTC
//! datetimes out.

use std::borrow::Cow;

use convstate::pricing::Amount;
use convstate::{wire, Duration, Error, Instant};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PyMapping,
    PyMemoryView, PyModule, PySet, PyString, PyTuple, PyType,
};
use serde_json::Value;

use crate::errors::{self, BindingError, BindingResult};

/// Nested containers deeper than this are refused: it bounds recursion, so a list that
/// contains itself is an error instead of a stack overflow.
const MAX_NESTING: usize = 64;

static DATETIME_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
static UTC_EPOCH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static ONE_MILLISECOND: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn datetime_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    DATETIME_MODULE
        .get_or_try_init(py, || Ok::<_, PyErr>(py.import("datetime")?.unbind()))
        .map(|m| m.bind(py))
}

fn utc_epoch(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    UTC_EPOCH
        .get_or_try_init(py, || {
            let module = datetime_module(py)?;
            let utc = module.getattr("timezone")?.getattr("utc")?;
            let epoch = module
                .getattr("datetime")?
                .call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
            Ok::<_, PyErr>(epoch.unbind())
        })
        .map(|e| e.bind(py))
}

fn one_millisecond(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    ONE_MILLISECOND
        .get_or_try_init(py, || {
            let kwargs = PyDict::new(py);
            kwargs.set_item("milliseconds", 1)?;
            let ms = datetime_module(py)?
                .getattr("timedelta")?
                .call((), Some(&kwargs))?;
            Ok::<_, PyErr>(ms.unbind())
        })
        .map(|e| e.bind(py))
}

/// The name of `value`'s class, for error messages.
pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

pub(crate) fn repr(value: &Bound<'_, PyAny>) -> String {
    let text = value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| unprintable(value));
    // Errors quote their input; keep messages readable for huge values.
    text.chars().take(80).collect()
}

/// What an error quotes for a value whose `repr()` raised: an integer past
/// `sys.get_int_max_str_digits()` (4300 digits) by its size, anything else by its class.
fn unprintable(value: &Bound<'_, PyAny>) -> String {
    let bits = value
        .cast::<PyInt>()
        .ok()
        .and_then(|int| int.call_method0("bit_length").ok())
        .and_then(|bits| bits.extract::<u64>().ok());
    match bits {
        Some(bits) => format!("<{} of {bits} bits>", type_name(value)),
        None => format!("<{} whose repr() raised>", type_name(value)),
    }
}

/// The bytes of a raw-bytes argument (a snapshot, an export, wire lines), `name` of
/// `method`: any bytes-like object, that is one exporting a C-contiguous buffer (`bytes`,
/// `bytearray`, `memoryview`, `array.array`, a numpy array), read as its raw bytes. `bytes`
/// is read in place; any other buffer is copied, since a mutable one could change while the
/// GIL is released. Anything else is a `TypeError` naming the argument.
pub(crate) fn bytes_arg<'a>(
    value: &'a Bound<'_, PyAny>,
    method: &str,
    name: &str,
) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(bytes.as_bytes()));
    }
    if let Ok(array) = value.cast::<PyByteArray>() {
        return Ok(Cow::Owned(array.to_vec()));
    }
    let view = match PyMemoryView::from(value) {
        Ok(view) => view,
        // No buffer: the caller's mistake. Anything else the exporter raised propagates.
        Err(e) if e.is_instance_of::<PyTypeError>(value.py()) => {
            return Err(PyTypeError::new_err(format!(
                "{method}: {name} must be a bytes-like object (bytes, bytearray, memoryview), \
                 got {}",
                type_name(value)
            )));
        }
        Err(e) => return Err(e),
    };
    let contiguous: bool = view.getattr("c_contiguous")?.extract()?;
    let bytes = if contiguous {
        Some(view.call_method0("tobytes")?.cast_into::<PyBytes>()?)
    } else {
        None
    };
    view.call_method0("release")?;
    match bytes {
        Some(bytes) => Ok(Cow::Owned(bytes.as_bytes().to_vec())),
        None => Err(PyTypeError::new_err(format!(
            "{method}: {name} must be a C-contiguous bytes-like object, got a {} that is not \
             contiguous (copy it with bytes() first)",
            type_name(value)
        ))),
    }
}

/// Whether `value` is a datetime with a time: pandas' `NaT`, a `datetime` subclass without
/// one, is none here but a missing time, which `datetime64_scalar` reads as numpy's `NaT`.
fn is_datetime(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(
        value.is_instance(&datetime_module(value.py())?.getattr("datetime")?)?
            && !is_pandas_not_a_time(value),
    )
}

/// pandas' `NaT` (`pd.NaT`, the gap in a tz-aware column or any Timestamp column's
/// `tolist()`).
fn is_pandas_not_a_time(value: &Bound<'_, PyAny>) -> bool {
    is_pandas_class(value, "NaTType")
}

/// Whether `value`'s class is pandas' `class_name` (`NAType`, `NaTType`), by its name and
/// module (`pandas._libs...`, or `pandas.api.typing` as pandas 3 reports it), so that
/// pandas is never imported.
pub(crate) fn is_pandas_class(value: &Bound<'_, PyAny>, class_name: &str) -> bool {
    is_class(value, &[class_name], |module| module.starts_with("pandas"))
}

/// Whether `value`'s class is one of `names` in a module `module` accepts: a library's type
/// known by name, the library never imported.
fn is_class(value: &Bound<'_, PyAny>, names: &[&str], module: impl Fn(&str) -> bool) -> bool {
    let class = value.get_type();
    let named = class
        .name()
        .is_ok_and(|name| name.to_str().is_ok_and(|name| names.contains(&name)));
    named && class.module().is_ok_and(|m| m.to_str().is_ok_and(&module))
}

/// Whether `value` is numpy's bool scalar (`np.True_`; class `bool`, `bool_` before numpy
/// 2), by its class's name and module, so that numpy is never imported.
pub(crate) fn is_numpy_bool(value: &Bound<'_, PyAny>) -> bool {
    is_class(value, &["bool", "bool_"], |module| module == "numpy")
}

fn is_timedelta(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    value.is_instance(&datetime_module(value.py())?.getattr("timedelta")?)
}

/// Milliseconds since the unix epoch of an aware datetime, exactly (no float rounding).
fn datetime_millis(value: &Bound<'_, PyAny>) -> Result<i64, BindingError> {
    let py = value.py();
    let offset = match value.call_method0("utcoffset") {
        Ok(offset) => offset,
        // A datetime without a time (pandas' `NaT` is read as numpy's before this, but
        // another library's missing value may be one) has no offset: it is an invalid
        // instant like any other, which `run_batch` names with its column and row. Other
        // exceptions (an interrupt) propagate as raised.
        Err(e)
            if e.is_instance_of::<pyo3::exceptions::PyValueError>(py)
                || e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) =>
        {
            return Err(Error::InvalidInstant {
                input: repr(value),
                problem: format!("a datetime without a time (its utcoffset() raised: {e})"),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    if offset.is_none() {
        return Err(Error::InvalidInstant {
            input: repr(value),
            problem: "naive datetime: attach a timezone, e.g. tzinfo=timezone.utc".into(),
        }
        .into());
    }
    let millis = value.sub(utc_epoch(py)?)?.floor_div(one_millisecond(py)?)?;
    Ok(millis.extract::<i64>()?)
}

/// The `int` a value stands for: itself, or what `__index__` gives for an integer of another
/// class (numpy's integer scalars: a value read from a DataFrame is as good as an `int`).
/// `None` for a value that is not an integer, without `__index__` or refusing it with
/// `TypeError` (numpy's bool); any other exception `__index__` raises (a
/// `KeyboardInterrupt`) propagates. A `bool` is an `int` here: callers refuse it first.
pub(crate) fn python_int<'py>(value: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyInt>>> {
    if let Ok(int) = value.cast::<PyInt>() {
        return Ok(Some(int.clone()));
    }
    let py = value.py();
    if !value.hasattr(pyo3::intern!(py, "__index__"))? {
        return Ok(None);
    }
    match value.call_method0(pyo3::intern!(py, "__index__")) {
        Ok(index) => Ok(Some(index.cast_into::<PyInt>().map_err(PyErr::from)?)),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyTypeError>(py) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An instant argument `name` of `method`: an aware `datetime`, int unix milliseconds (an
/// `int` or any integer with `__index__`), an RFC 3339 string or a numpy `datetime64`
/// scalar (read in its unit as UTC, as `run_batch` reads one). A value of another type (a
/// float, a list, None) is a `TypeError` naming the argument, as is a `datetime64` of
/// dates; one of these types that is no instant (a naive datetime, a bad string, an int out
/// of range) the engine's error, and `NaT` (numpy's or pandas') an `invalid_instant` naming
/// the argument.
pub fn instant(value: &Bound<'_, PyAny>, method: &str, name: &str) -> BindingResult<Instant> {
    // A value of an instant's type that is no instant (a naive datetime, a bad string, an
    // int or datetime64 past 64 bits or before 1970, `NaT`): the engine's error, naming the
    // argument as a wrong type's does.
    let in_argument = |error: &Error| {
        BindingError::from(errors::with_context(error, &format!("{method}: {name}")))
    };
    match instant_value(value) {
        Ok(Some(at)) => {
            warn_if_unix_seconds(value, at, &format!("{method}: {name}"))?;
            return Ok(at);
        }
        Ok(None) => {}
        Err(BindingError::Core(error)) => return Err(in_argument(&error)),
        Err(other) => return Err(other),
    }
    let millis = match datetime64_scalar(value)? {
        Some(Datetime64::Instant(Ok(millis))) => millis,
        Some(Datetime64::Instant(Err(input))) => {
            return Err(in_argument(&instant_beyond_64_bits(input)))
        }
        Some(Datetime64::NotATime) => {
            let error = Error::InvalidInstant {
                input: repr(value),
                problem: NOT_A_TIME_PROBLEM.into(),
            };
            return Err(in_argument(&error));
        }
        Some(Datetime64::Refused(problem)) => {
            return Err(PyTypeError::new_err(format!("{method}: {name}: {problem}")).into())
        }
        None => {
            return Err(PyTypeError::new_err(format!(
                "{method}: {name} must be {}",
                instant_type_problem(value)
            ))
            .into())
        }
    };
    Instant::from_unix_millis(millis).map_err(|error| in_argument(&error))
}

/// Warns (`UnixSecondsWarning`) when `value`, read as the instant `at`, is an int that looks
/// like unix seconds: only an int written as such (an RFC 3339 text or a datetime in 1990
/// says what it means).
pub(crate) fn warn_if_unix_seconds(
    value: &Bound<'_, PyAny>,
    at: Instant,
    what: &str,
) -> PyResult<()> {
    if at.looks_like_unix_seconds() && python_int(value)?.is_some() {
        warn_unix_seconds(value.py(), what)?;
    }
    Ok(())
}

/// Warns (`UnixSecondsWarning`) that an int instant `what` (a method's argument, a
/// column) looks like unix seconds (see `Instant::looks_like_unix_seconds`). The text names
/// no value, so that Python tells it once per call site, not once per row of a loop.
pub(crate) fn warn_unix_seconds(py: Python<'_>, what: &str) -> PyResult<()> {
    let message = format!(
        "{what}: an int instant before 2001-09-09 (unix milliseconds of January 1970): unix \
         seconds? An int instant is unix milliseconds: multiply seconds by 1000"
    );
    let message = std::ffi::CString::new(message).unwrap_or_default();
    PyErr::warn(
        py,
        python_type(py, "UnixSecondsWarning")?.as_any(),
        &message,
        1,
    )
}

/// What an instant of the wrong type gets: the types that would do, and the one given.
pub(crate) fn instant_type_problem(value: &Bound<'_, PyAny>) -> String {
    format!(
        "an aware datetime, int unix milliseconds, an RFC 3339 str or a numpy datetime64, \
         got {}",
        type_name(value)
    )
}

/// The instant a value of an instant's type stands for (or the engine's error for it);
/// `None` for a value of another type. A `bool` is no int here.
pub(crate) fn instant_value(value: &Bound<'_, PyAny>) -> BindingResult<Option<Instant>> {
    let int_millis = |int: &Bound<'_, PyInt>| {
        int.extract::<i64>()
            .map_err(|_| instant_beyond_64_bits(repr(value)))
    };
    let millis = if value.is_instance_of::<PyBool>() {
        return Ok(None);
    } else if let Ok(int) = value.cast::<PyInt>() {
        int_millis(int)?
    } else if value.is_instance_of::<PyString>() {
        return Ok(Some(Instant::parse_rfc3339(&value.extract::<String>()?)?));
    } else if is_datetime(value)? {
        datetime_millis(value)?
    } else if let Some(int) = python_int(value)? {
        int_millis(&int)?
    } else {
        return Ok(None);
    };
    Ok(Some(Instant::from_unix_millis(millis)?))
}

/// An instant as unix milliseconds, or the `repr` of a value whose milliseconds do not fit
/// 64 bits (an `error` row in `run_batch`, an `invalid_instant` error elsewhere).
pub(crate) type Millis = Result<i64, String>;

/// numpy's `NaT` (not a time) in a `datetime64`'s int64 count.
pub(crate) const NOT_A_TIME: i64 = i64::MIN;

/// The unit of a numpy `datetime64` (`"[ns]"`, `"[10ms]"`) in milliseconds: a count in it
/// times `numerator / denominator`, rounded down, is unix milliseconds. numpy
/// counts from the unix epoch and has no time zone: its instants are read as UTC, as an int
/// column's milliseconds are.
#[derive(Clone, Debug)]
pub(crate) struct Datetime64Unit {
    /// As numpy writes it, for messages: `"ns"`, `"10ms"`.
    name: String,
    numerator: i128,
    denominator: i128,
}

impl Datetime64Unit {
    /// The unit of a `dtype.str` or array-interface `typestr` such as `"<M8[ns]"`; None for
    /// any other type (not a `datetime64`). A unit without a time of day (years, months,
    /// weeks, days) is refused, as a `date` is: it is no instant. Finer units than
    /// milliseconds round down, as a datetime's microseconds and an RFC 3339 string's
    /// digits past the third do.
    pub(crate) fn parse(typestr: &str) -> Option<Result<Datetime64Unit, String>> {
        let body = typestr
            .strip_prefix(['<', '>', '=', '|'])
            .unwrap_or(typestr);
        let unit = body.strip_prefix("M8")?;
        let refused = |why: &str| {
            Some(Err(format!(
                "a numpy datetime64{unit} {why}; convert it with .astype(\"datetime64[ms]\") \
                 or give int unix milliseconds"
            )))
        };
        let Some(unit) = unit.strip_prefix('[').and_then(|u| u.strip_suffix(']')) else {
            return refused("has no unit");
        };
        let digits = unit.bytes().take_while(u8::is_ascii_digit).count();
        let (count, base) = unit.split_at(digits);
        let count: i128 = if count.is_empty() {
            1
        } else {
            match count.parse() {
                Ok(count) => count,
                Err(_) => return refused("is not understood"),
            }
        };
        let (numerator, denominator): (i128, i128) = match base {
            "h" => (3_600_000, 1),
            "m" => (60_000, 1),
            "s" => (1000, 1),
            "ms" => (1, 1),
            "us" | "\u{3bc}s" => (1, 1000),
            "ns" => (1, 1_000_000),
            "ps" => (1, 1_000_000_000),
            "fs" => (1, 1_000_000_000_000),
            "as" => (1, 1_000_000_000_000_000),
            "Y" | "M" | "W" | "D" => return refused("holds dates, not instants"),
            _ => return refused("is not understood"),
        };
        Some(Ok(Datetime64Unit {
            name: unit.to_owned(),
            numerator: numerator * count,
            denominator,
        }))
    }

    /// The unix milliseconds of a count in this unit, or (as for an int past 64 bits) the
    /// value as given when they do not fit an `i64`. `NaT` is the caller's to refuse.
    pub(crate) fn millis(&self, count: i64) -> Millis {
        let millis = (i128::from(count) * self.numerator).div_euclid(self.denominator);
        i64::try_from(millis).map_err(|_| format!("numpy.datetime64({count}, {:?})", self.name))
    }
}

/// What a numpy `datetime64` scalar holds.
pub(crate) enum Datetime64 {
    /// Its instant in unix milliseconds (counted in its unit from the unix epoch, as UTC).
    Instant(Millis),
    /// `NaT`, numpy's missing time (or pandas' `NaT`, the same): the caller refuses it,
    /// naming where it was.
    NotATime,
    /// A unit that holds no instant (dates, none): why, as a sentence.
    Refused(String),
}

/// A numpy `datetime64` scalar, read without importing numpy: its class name, its
/// `dtype.str` naming the unit (`"<M8[ns]"`; `"<M8"` for a `NaT` without one) and an int64
/// `view` giving its count. The one reading of it, for `run_batch`'s items and for every
/// other instant argument or event field. pandas' `NaT` (a `datetime` subclass that
/// `is_datetime` leaves out) is `NotATime` too, so that both missing times give one error.
/// None for any other value.
pub(crate) fn datetime64_scalar(item: &Bound<'_, PyAny>) -> PyResult<Option<Datetime64>> {
    if is_pandas_not_a_time(item) {
        return Ok(Some(Datetime64::NotATime));
    }
    let py = item.py();
    if type_name(item) != "datetime64" || !item.hasattr(pyo3::intern!(py, "dtype"))? {
        return Ok(None);
    }
    let typestr = item
        .getattr(pyo3::intern!(py, "dtype"))?
        .getattr(pyo3::intern!(py, "str"))?;
    let Ok(typestr) = typestr.cast_into::<PyString>() else {
        return Ok(None);
    };
    let typestr = typestr.to_cow()?;
    let unit = match Datetime64Unit::parse(&typestr) {
        None => return Ok(None),
        Some(Ok(unit)) => Some(unit),
        Some(Err(problem)) => {
            // numpy's NaT has no unit of its own (`"<M8"`): it is missing, not refused.
            if typestr.ends_with("M8") {
                None
            } else {
                return Ok(Some(Datetime64::Refused(problem)));
            }
        }
    };
    let order = typestr.chars().next().filter(|c| "<>=".contains(*c));
    let counted = item.call_method1(
        pyo3::intern!(py, "view"),
        (format!("{}i8", order.unwrap_or('=')),),
    )?;
    let Some(count) = python_int(&counted)? else {
        return Ok(None);
    };
    let count: i64 = count.extract()?;
    if count == NOT_A_TIME {
        return Ok(Some(Datetime64::NotATime));
    }
    Ok(Some(match unit {
        Some(unit) => Datetime64::Instant(unit.millis(count)),
        None => Datetime64::Refused(
            "a numpy datetime64 without a unit; give it one, e.g. datetime64[ms]".into(),
        ),
    }))
}

/// Why `NaT` is refused where an instant belongs.
const NOT_A_TIME_PROBLEM: &str = "NaT (a missing time) is no instant";

/// An integer instant that does not fit 64 bits, named by its `repr`.
pub(crate) fn instant_beyond_64_bits(input: String) -> convstate::Error {
    Error::InvalidInstant {
        input,
        problem: "integer milliseconds outside the 64-bit range".into(),
    }
}

/// An aware UTC datetime for an instant.
pub fn datetime<'py>(py: Python<'py>, at: Instant) -> PyResult<Bound<'py, PyAny>> {
    let offset = one_millisecond(py)?.mul(at.unix_millis())?;
    utc_epoch(py)?.add(offset)
}

/// A Python value's JSON with every mapping's keys in the mapping's own order, where a
/// `serde_json::Value` would sort them: written out, it is the line a host would have
/// written for the same value, so a dict event is read (and its errors name the first field
/// at fault) exactly as its line is.
pub(crate) enum Json {
    /// Null, a bool, a number or a string.
    Scalar(Value),
    Array(Vec<Json>),
    /// The pairs in the mapping's order.
    Object(Vec<(String, Json)>),
}

impl serde::Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Scalar(value) => value.serialize(serializer),
            Json::Array(items) => serializer.collect_seq(items),
            Json::Object(pairs) => serializer.collect_map(pairs.iter().map(|(k, v)| (k, v))),
        }
    }
}

impl Json {
    /// As a `serde_json::Value` (keys sorted; of a key given twice, the last value).
    fn into_value(self) -> Value {
        match self {
            Json::Scalar(value) => value,
            Json::Array(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Object(pairs) => Value::Object(
                pairs
                    .into_iter()
                    .map(|(key, item)| (key, item.into_value()))
                    .collect(),
            ),
        }
    }
}

/// Where a value sits in what is being converted (`chat.idle_timeout`, `buttons[0]`), for
/// the errors that name it: a chain on the stack, written out only for an error.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<(&'a Path<'a>, Step<'a>)>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    const ROOT: Path<'static> = Path { parent: None };

    fn child(&'a self, step: Step<'a>) -> Path<'a> {
        Path {
            parent: Some((self, step)),
        }
    }

    /// `problem`, after the field it concerns as the core's errors name one
    /// (`field "chat.idle_timeout": ...`) unless this is the whole value.
    fn describe(&self, problem: impl std::fmt::Display) -> String {
        if self.parent.is_none() {
            return problem.to_string();
        }
        let mut text = String::new();
        self.write(&mut text);
        format!("field \"{text}\": {problem}")
    }

    /// Keys after a dot, positions (`[i]`) without, as the core writes paths.
    fn write(&self, text: &mut String) {
        if let Some((parent, step)) = self.parent {
            parent.write(text);
            match step {
                Step::Key(key) => {
                    if !text.is_empty() {
                        text.push('.');
                    }
                    text.push_str(key);
                }
                Step::Index(index) => text.push_str(&format!("[{index}]")),
            }
        }
    }
}

/// A Python value as JSON, for the wire format. Datetimes become int milliseconds (naive
/// ones are refused), as do numpy `datetime64` scalars (read as UTC in their unit; `NaT`,
/// numpy's or pandas', refused), timedeltas int milliseconds (refused unless whole), tuples arrays.
pub fn to_json(value: &Bound<'_, PyAny>) -> Result<Value, BindingError> {
    to_json_at(value, &Path::ROOT, 0).map(Json::into_value)
}

/// As `to_json`, for the value of the event field `field`, which its errors name.
pub fn field_json(value: &Bound<'_, PyAny>, field: &str) -> Result<Value, BindingError> {
    let path = Path::ROOT.child(Step::Key(field));
    to_json_at(value, &path, 0).map(Json::into_value)
}

/// A Python value (an event, a webhook payload) as a wire line, as `to_json` converts it,
/// with mappings' keys in their order.
pub fn to_json_line(value: &Bound<'_, PyAny>) -> Result<String, BindingError> {
    serde_json::to_string(&to_json_at(value, &Path::ROOT, 0)?)
        .map_err(|e| invalid_event(e.to_string()))
}

/// A timedelta's whole milliseconds, the unit of the engine's durations. One with a
/// fraction of a millisecond (999 µs) is refused: rounded, it became another duration (0,
/// then refused as not positive), silently.
fn timedelta_millis(value: &Bound<'_, PyAny>, path: &Path<'_>) -> Result<i64, BindingError> {
    let one_ms = one_millisecond(value.py())?;
    if value.rem(one_ms)?.is_truthy()? {
        return Err(invalid_event(path.describe(format_args!(
            "a timedelta must be a whole number of milliseconds, got {}",
            repr(value)
        ))));
    }
    Ok(value.floor_div(one_ms)?.extract::<i64>()?)
}

/// `value`'s JSON number, `int` its integer value, at `path` (which its error names).
fn int_json(
    value: &Bound<'_, PyAny>,
    int: &Bound<'_, PyInt>,
    path: &Path<'_>,
) -> Result<Json, BindingError> {
    if let Ok(n) = int.extract::<i64>() {
        Ok(Json::Scalar(Value::from(n)))
    } else if let Ok(n) = int.extract::<u64>() {
        Ok(Json::Scalar(Value::from(n)))
    } else {
        Err(invalid_event(path.describe(format_args!(
            "integer {} does not fit in 64 bits",
            repr(value)
        ))))
    }
}

fn to_json_at(
    value: &Bound<'_, PyAny>,
    path: &Path<'_>,
    depth: usize,
) -> Result<Json, BindingError> {
    if depth > MAX_NESTING {
        return Err(invalid_event(path.describe(format_args!(
            "values nested more than {MAX_NESTING} levels deep"
        ))));
    }
    if value.is_none() {
        Ok(Json::Scalar(Value::Null))
    } else if let Ok(flag) = value.cast::<PyBool>() {
        Ok(Json::Scalar(Value::Bool(flag.is_true())))
    } else if let Ok(int) = value.cast::<PyInt>() {
        int_json(value, int, path)
    } else if is_numpy_bool(value) {
        // A flag from a DataFrame's bool column (`df.to_dict("records")`), as the typed
        // calls' keyword arguments take it; numpy's ints and strs are read above and below.
        Ok(Json::Scalar(Value::Bool(value.is_truthy()?)))
    } else if value.is_instance_of::<PyFloat>() {
        let f: f64 = value.extract()?;
        serde_json::Number::from_f64(f)
            .map(|n| Json::Scalar(Value::Number(n)))
            .ok_or_else(|| invalid_event(path.describe(format_args!("{f} is not a finite number"))))
    } else if let Ok(text) = value.cast::<PyString>() {
        Ok(Json::Scalar(Value::String(utf8(text, path)?)))
    } else if let Ok(dict) = value.cast::<PyDict>() {
        object_json(dict.iter().map(Ok), path, depth)
    } else if let Ok(list) = value.cast::<PyList>() {
        array_json(list.iter().map(Ok), path, depth)
    } else if let Ok(tuple) = value.cast::<PyTuple>() {
        array_json(tuple.iter().map(Ok), path, depth)
    } else if is_datetime(value)? {
        Ok(Json::Scalar(Value::from(datetime_millis(value)?)))
    } else if is_timedelta(value)? {
        Ok(Json::Scalar(Value::from(timedelta_millis(value, path)?)))
    } else if let Some(int) = python_int(value)? {
        int_json(value, &int, path)
    } else if let Some(datetime64) = datetime64_scalar(value)? {
        // Int milliseconds, as a datetime's; refused as an instant argument's is, naming
        // the field.
        match datetime64 {
            Datetime64::Instant(Ok(millis)) => Ok(Json::Scalar(Value::from(millis))),
            Datetime64::Instant(Err(input)) => Err(Error::InvalidInstant {
                input,
                problem: path.describe("milliseconds outside the 64-bit range"),
            }
            .into()),
            Datetime64::NotATime => Err(Error::InvalidInstant {
                input: repr(value),
                problem: path.describe(NOT_A_TIME_PROBLEM),
            }
            .into()),
            Datetime64::Refused(problem) => Err(invalid_event(path.describe(problem))),
        }
    } else if is_class(value, &["Decimal"], |module| module == "decimal") {
        // An amount as the package hands one out (`Billing.price`): the wire format writes
        // amounts as decimal text (a rate card's prices), so a finite one is that text,
        // exactly (a float would round it, and is refused there).
        if !value
            .call_method0(pyo3::intern!(value.py(), "is_finite"))?
            .is_truthy()?
        {
            return Err(invalid_event(
                path.describe(format_args!("{} is not a finite number", repr(value))),
            ));
        }
        // A negative zero is zero: its text "-0" would read as a negative amount.
        let value = if value
            .call_method0(pyo3::intern!(value.py(), "is_zero"))?
            .is_truthy()?
        {
            value.call_method0(pyo3::intern!(value.py(), "copy_abs"))?
        } else {
            value.clone()
        };
        let text = value.call_method1(pyo3::intern!(value.py(), "__format__"), ("f",))?;
        Ok(Json::Scalar(Value::String(text.extract()?)))
    } else if let Ok(mapping) = value.cast::<PyMapping>() {
        // Any other `collections.abc.Mapping` (a `MappingProxyType`, a `UserDict`): the
        // stubs promise `Mapping`, not `dict`.
        let items = mapping.items()?;
        object_json(items.iter().map(|pair| pair.extract()), path, depth)
    } else if let Some(items) = ordered_iterable(value)? {
        array_json(items, path, depth)
    } else {
        Err(invalid_event(path.describe(format_args!(
            "{} of type {} has no JSON form",
            repr(value),
            type_name(value)
        ))))
    }
}

/// The pairs of a mapping of `str` to `str` (any `collections.abc.Mapping`), given as the
/// argument `name`, which its errors name.
pub fn string_pairs(value: &Bound<'_, PyAny>, name: &str) -> BindingResult<Vec<(String, String)>> {
    // A key that is no str (a WABA id read as an int) or a value with no JSON form names the
    // argument, as a value of another type does.
    let json = to_json(value).map_err(|e| match e {
        BindingError::Core(Error::InvalidEvent { problem }) => {
            invalid_event(format!("{name}: {problem}"))
        }
        other => other,
    })?;
    match json {
        // Only a mapping converts to an object.
        Value::Object(object) => object
            .into_iter()
            .map(|(key, item)| match item {
                Value::String(text) => Ok((key, text)),
                _ => Err(invalid_event(format!(
                    "{name}: the value of {key:?} must be a str, got {item}"
                ))),
            })
            .collect(),
        _ => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{name} must be a mapping of str to str, got {}",
            type_name(value)
        ))
        .into()),
    }
}

/// A JSON object of `(key, value)` pairs, in their order; keys must be `str`.
fn object_json<'py>(
    pairs: impl Iterator<Item = PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)>>,
    path: &Path<'_>,
    depth: usize,
) -> Result<Json, BindingError> {
    let mut object = Vec::new();
    for pair in pairs {
        let (key, item) = pair?;
        let key = key.cast::<PyString>().map_err(|_| {
            invalid_event(path.describe(format_args!("dict keys must be str, got {}", repr(&key))))
        })?;
        let key = utf8(key, path)?;
        let item = to_json_at(&item, &path.child(Step::Key(&key)), depth + 1)?;
        object.push((key, item));
    }
    Ok(Json::Object(object))
}

/// A str's UTF-8, or, for one holding a lone surrogate (which UTF-8 cannot carry: text
/// cut inside an emoji, `json.loads` of a `\ud83d` escape), an `invalid_event` naming the
/// field at `path`: Python's bare `UnicodeEncodeError` named neither the field nor the
/// event.
fn utf8(text: &Bound<'_, PyString>, path: &Path<'_>) -> Result<String, BindingError> {
    match text.to_cow() {
        Ok(text) => Ok(text.into_owned()),
        Err(_) => Err(invalid_event(path.describe(LONE_SURROGATE))),
    }
}

/// A wire line given as a str: its UTF-8, or the lone-surrogate `invalid_event`.
pub(crate) fn line_text(line: &Bound<'_, PyString>) -> Result<String, BindingError> {
    utf8(line, &Path::ROOT)
}

/// What a str with a lone surrogate gets.
pub(crate) const LONE_SURROGATE: &str = "a str holds a lone surrogate (text cut inside an \
     emoji?), which UTF-8 cannot carry: remove it, or replace it with U+FFFD";

/// A JSON array of items, in their order.
fn array_json<'py>(
    items: impl Iterator<Item = PyResult<Bound<'py, PyAny>>>,
    path: &Path<'_>,
    depth: usize,
) -> Result<Json, BindingError> {
    items
        .enumerate()
        .map(|(index, item)| to_json_at(&item?, &path.child(Step::Index(index)), depth + 1))
        .collect::<Result<Vec<_>, _>>()
        .map(Json::Array)
}

/// The items of an iterable that has an order (a generator, a `deque`, a `range`), as a JSON
/// array's items; `None` for what is not iterable, for `bytes` (a text, not a list of
/// numbers) and for a set, whose order changes with the interpreter's hash seed: the same
/// events must give the same outputs.
fn ordered_iterable<'py>(
    value: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, pyo3::types::PyIterator>>> {
    if value.is_instance_of::<PyBytes>()
        || value.is_instance_of::<PyByteArray>()
        || value.is_instance_of::<PySet>()
        || value.is_instance_of::<PyFrozenSet>()
    {
        return Ok(None);
    }
    // Only "not iterable" means no list: an `__iter__` that raises (a bug, or a
    // KeyboardInterrupt landing in it) propagates, as in `python_int`.
    match value.try_iter() {
        Ok(iterator) => Ok(Some(iterator)),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyTypeError>(value.py()) => Ok(None),
        Err(e) => Err(e),
    }
}

fn invalid_event(problem: String) -> BindingError {
    Error::InvalidEvent { problem }.into()
}

/// The core's JSON as Python values; RFC 3339 strings under instant keys become aware UTC
/// datetimes, durations under duration keys `timedelta`s, amounts of money (`cost`, a
/// price's `amount`) `decimal.Decimal`s.
pub fn from_json<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    from_json_keyed(py, value, None)
}

fn from_json_keyed<'py>(
    py: Python<'py>,
    value: &Value,
    key: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(flag) => PyBool::new(py, *flag).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(text) => match key {
            Some(k) if wire::is_instant_key(k) => match Instant::parse_rfc3339(text) {
                Ok(at) => datetime(py, at)?,
                Err(_) => PyString::new(py, text).into_any(),
            },
            Some(k) if wire::is_duration_key(k) => match Duration::parse(text) {
                Ok(length) => one_millisecond(py)?.mul(length.millis())?,
                Err(_) => PyString::new(py, text).into_any(),
            },
            // Money is exact decimal text on the wire: a `Decimal`, as `Billing.price` is.
            Some(k) if wire::is_money_key(k) && Amount::parse(text).is_ok() => {
                let decimal = py.import(pyo3::intern!(py, "decimal"))?;
                decimal.getattr("Decimal")?.call1((text.as_str(),))?
            }
            _ => PyString::new(py, text).into_any(),
        },
        Value::Array(items) => {
            // A list of durations (`pauses`) is read as its key says; other lists' items
            // stand alone.
            let item_key = key.filter(|k| wire::is_duration_key(k));
            let list = PyList::empty(py);
            for item in items {
                list.append(from_json_keyed(py, item, item_key)?)?;
            }
            list.into_any()
        }
        Value::Object(object) => {
            let dict = PyDict::new(py);
            for (k, item) in object {
                dict.set_item(k, from_json_keyed(py, item, Some(k))?)?;
            }
            dict.into_any()
        }
    })
}

static TYPES_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// A class of `convstate._types` (the pure-Python enums and exceptions).
pub fn python_type<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let module = TYPES_MODULE
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("convstate._types")?.unbind())
        })?
        .bind(py);
    Ok(module.getattr(name)?.cast_into::<PyType>()?)
}

/// A member of one of the package's str enums, or the raw string when this version of the
/// package does not know the value (the core may grow new ones).
pub fn enum_member<'py>(
    py: Python<'py>,
    enum_name: &str,
    value: &str,
) -> PyResult<Bound<'py, PyAny>> {
    match python_type(py, enum_name)?.call1((value,)) {
        Ok(member) => Ok(member),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyValueError>(py) => {
            Ok(PyString::new(py, value).into_any())
        }
        Err(e) => Err(e),
    }
}
