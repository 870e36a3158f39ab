//! `Engine.run_batch`: a table of events given as columns, one outcome code per row.
//!
//! The call has two phases. First, with the GIL held, every column is read into plain Rust
//! buffers (one `String` of concatenated text per string column, plus spans); a column of the
//! wrong length or an item of the wrong type raises a `ValueError`/`TypeError` naming the
//! column and the row, before anything is applied. Then, with the GIL released and the
//! engine lock held once for the whole batch, each row goes through the core's typed API
//! over borrowed text (`Engine::inbound_borrowed`, `send_borrowed`, `check_send_borrowed`):
//! numbers and contacts are lent from the columns, and one message value per kind is
//! overwritten in place, so a row costs no allocation in the binding. A row the
//! engine refuses (an unknown number, an instant out of range...) gets the `error` code and
//! changes nothing, as errors never do in the core; the batch goes on.

use std::collections::HashMap;
use std::mem::{discriminant, Discriminant};

use convstate::decision::{DenyReasonKind, Verdict};
use convstate::event::InboundKind;
use convstate::message::{TemplateMessage, TemplateParams};
use convstate::sharded::ShardedEngine;
use convstate::{
    Decision, Effect, InboundOutcome, InboundRef, Instant, OutboundMessage, SendRequestRef,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PySequence, PyString, PyTuple,
};

use crate::convert::{self, type_name, Datetime64, Datetime64Unit, Millis, NOT_A_TIME};
use crate::errors::BindingError;

const APPLIED: u8 = 0;
const ALLOWED: u8 = 1;
/// A denial of a kind without a code here. The check below refuses to build while a kind
/// lacks one, so no row gets it; it keeps its code because codes are never reused.
const OTHER_DENIAL: u8 = 19;
const ERROR: u8 = 20;
/// How many outcome codes there are (0 to 21). A denial kind core adds gets the next code,
/// 22, in `denial_code`, and this grows by one.
const OUTCOME_COUNT: usize = 22;

/// The outcome code of a denial. Codes are part of the API (hosts store them): append only.
const fn denial_code(kind: DenyReasonKind) -> u8 {
    use DenyReasonKind as K;
    match kind {
        K::WindowClosed => 2,
        K::WithinSafetyMargin => 3,
        K::GroupNotAllowed => 4,
        K::NoPriorContact => 5,
        K::TooLong => 6,
        K::FileTooLarge => 7,
        K::TooManyButtons => 8,
        K::TemplateNotSendable => 9,
        K::TemplateParams => 10,
        K::NoOptIn => 11,
        K::MarketingStopped => 12,
        K::MarketingToUsNumber => 13,
        K::Duplicate => 14,
        K::NoDefaultTemplate => 15,
        K::LimitReached => 16,
        K::ContactBackoff => 17,
        K::Restricted => 18,
        K::InvalidContent => 21,
        _ => OTHER_DENIAL,
    }
}

/// Outcome names, indexed by the code `run_batch` writes per row; a denial's name is the
/// wire format's `reason`, as core names it.
pub const OUTCOME_NAMES: [&str; OUTCOME_COUNT] = {
    let mut names = [""; OUTCOME_COUNT];
    names[APPLIED as usize] = "applied"; // an inbound row was recorded
    names[ALLOWED as usize] = "allowed"; // a send or check_send row may go ahead
    names[OTHER_DENIAL as usize] = "other"; // a denial kind without a code (see above)
    names[ERROR as usize] = "error"; // the engine refused the row; it changed nothing
    let mut i = 0;
    while i < DenyReasonKind::ALL.len() {
        let kind = DenyReasonKind::ALL[i];
        let code = denial_code(kind);
        if code != OTHER_DENIAL {
            names[code as usize] = kind.name();
        }
        i += 1;
    }
    names
};

// Every kind core knows has a code of its own, so every slot of `OUTCOME_NAMES` is named:
// a reason added to core stops this build until it gets its code above.
const _: () = {
    let mut code = 0;
    while code < OUTCOME_NAMES.len() {
        assert!(
            !OUTCOME_NAMES[code].is_empty(),
            "an outcome code has no name"
        );
        code += 1;
    }
    let mut i = 0;
    while i < DenyReasonKind::ALL.len() {
        let code = denial_code(DenyReasonKind::ALL[i]);
        assert!(code != OTHER_DENIAL, "a denial kind has no outcome code");
        let mut j = 0;
        while j < i {
            assert!(
                denial_code(DenyReasonKind::ALL[j]) != code,
                "two kinds share a code"
            );
            j += 1;
        }
        i += 1;
    }
};

/// What a row asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    Inbound = 0,
    Send = 1,
    CheckSend = 2,
}

impl RowKind {
    fn from_name(name: &str) -> Option<RowKind> {
        match name {
            "inbound" => Some(RowKind::Inbound),
            "send" => Some(RowKind::Send),
            "check_send" => Some(RowKind::CheckSend),
            _ => None,
        }
    }

    fn from_code(code: i64) -> Option<RowKind> {
        match code {
            0 => Some(RowKind::Inbound),
            1 => Some(RowKind::Send),
            2 => Some(RowKind::CheckSend),
            _ => None,
        }
    }
}

/// A column of optional strings, concatenated into one buffer.
#[derive(Debug, Default)]
struct StrColumn {
    text: String,
    /// Byte range of each row in `text`; `None` for a missing value.
    spans: Vec<Option<Span>>,
}

impl StrColumn {
    fn row(&self, row: usize) -> Option<&str> {
        self.spans
            .get(row)
            .copied()
            .flatten()
            .map(|(start, end)| &self.text[start as usize..end as usize])
    }
}

fn column_error(column: &str, row: usize, problem: impl std::fmt::Display) -> PyErr {
    PyTypeError::new_err(format!(
        "run_batch: column {column:?}, row {row}: {problem}"
    ))
}

/// A value of the right type that means nothing (an unknown kind, a bad instant).
fn column_value_error(column: &str, row: usize, problem: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!(
        "run_batch: column {column:?}, row {row}: {problem}"
    ))
}

/// Which missing value an item is, if it is one: `None`, a float NaN (what pandas and numpy
/// put in an object or string column for an empty cell; any float that is not equal to
/// itself, `numpy.float64` included), a NaN of numpy's other float types (`float32`,
/// `float16`, `longdouble`: no `float` subclasses) or pandas' `NA` (a `StringDtype`
/// column's, recognised by its class so that pandas is never imported). Called only for an
/// item that is not a str, so the rows of text pay nothing for it.
fn missing_value(item: &Bound<'_, PyAny>) -> Option<&'static str> {
    if item.is_none() {
        return Some("None");
    }
    if let Ok(float) = item.cast::<PyFloat>() {
        // A float not equal to itself (`is_nan`), whichever NaN object it is.
        return float.value().is_nan().then_some("NaN");
    }
    if is_pandas_na(item) {
        return Some("pd.NA");
    }
    is_numpy_float_nan(item).then_some("NaN")
}

/// A NaN of a numpy float type that is no `float` subclass (`float32`, `float16`,
/// `longdouble`), known by its `dtype.kind` (`"f"`) without importing numpy: a `float64`
/// NaN meant missing and a `float32` one (a float32 column's gap) did not.
fn is_numpy_float_nan(item: &Bound<'_, PyAny>) -> bool {
    let py = item.py();
    let floating = item
        .getattr(pyo3::intern!(py, "dtype"))
        .and_then(|dtype| dtype.getattr(pyo3::intern!(py, "kind")))
        .is_ok_and(|kind| {
            kind.cast::<PyString>()
                .is_ok_and(|kind| kind.to_str().is_ok_and(|kind| kind == "f"))
        });
    floating
        && item
            .call_method0(pyo3::intern!(py, "__float__"))
            .and_then(|value| value.extract::<f64>())
            .is_ok_and(f64::is_nan)
}

/// pandas' `NA`.
fn is_pandas_na(item: &Bound<'_, PyAny>) -> bool {
    crate::convert::is_pandas_class(item, "NAType")
}

/// What an item of the wrong type in a column that needs a value in every row is said to
/// be: its class, and for a missing value, that it is one and where missing values may go.
fn got(item: &Bound<'_, PyAny>) -> String {
    match missing_value(item) {
        Some(missing) => format!(
            "{}: {missing}, a missing value (only texts, templates, languages and params may \
             hold None, NaN or pd.NA)",
            type_name(item)
        ),
        None => type_name(item),
    }
}

/// A str item that cannot be UTF-8 (a lone surrogate): a ValueError naming the column and
/// row, caused by Python's own `UnicodeEncodeError` (what the typed methods raise; a
/// ValueError too, so `except ValueError` catches both).
fn unencodable(column: &str, row: usize, e: PyErr) -> PyErr {
    Python::attach(|py| {
        let error = column_value_error(column, row, &e);
        error.set_cause(py, Some(e));
        error
    })
}

fn is_unicode_error(e: &PyErr) -> bool {
    Python::attach(|py| e.is_instance_of::<pyo3::exceptions::PyUnicodeError>(py))
}

/// Appends a Python str's UTF-8 to `buffer`, read in place (the abi3 API has
/// `PyUnicode_AsUTF8AndSize` from Python 3.10, which is why the wheel requires 3.10).
fn push_str(buffer: &mut String, item: &Bound<'_, PyString>) -> PyResult<()> {
    buffer.push_str(item.to_str()?);
    Ok(())
}

/// The most rows a column's reported length reserves room for before its items are read.
const PREALLOCATED_ROWS_MAX: usize = 1 << 20;

/// The length of a column argument, which must be a sized sequence. Sets (a dict's keys
/// among them) are refused: their order, and so which row is which, changes from one
/// process to the next with the hash seed. So are mappings, whose items are their keys.
/// Only a value without a length (its `TypeError`) is refused as such: any other exception
/// its `__len__` raises (a `KeyboardInterrupt`) propagates, as `__iter__`'s and
/// `__index__`'s do.
fn column_len(column: &str, value: &Bound<'_, PyAny>) -> PyResult<usize> {
    let refused = || {
        PyTypeError::new_err(format!(
            "run_batch: column {column:?} must be a sized sequence (list, tuple, array...), not {}",
            type_name(value)
        ))
    };
    if is_set_or_mapping(value)? {
        return Err(refused());
    }
    value.len().map_err(|e| {
        if e.is_instance_of::<PyTypeError>(value.py()) {
            refused()
        } else {
            e
        }
    })
}

static ABSTRACT_SET_AND_MAPPING: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();

/// Whether `value` is a set or a mapping, built in or registered with `collections.abc`.
pub(crate) fn is_set_or_mapping(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return Ok(false);
    }
    let py = value.py();
    let classes = ABSTRACT_SET_AND_MAPPING.get_or_try_init(py, || {
        let abc = py.import("collections.abc")?;
        let classes = [abc.getattr("Set")?, abc.getattr("Mapping")?];
        Ok::<_, PyErr>(PyTuple::new(py, classes)?.unbind())
    })?;
    value.is_instance(classes.bind(py))
}

/// How a column's items are reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// A list or a tuple, read by index: it holds every item for the whole read, and no
    /// Python code runs while a string column is read, so an item's address stays its own.
    Held,
    /// Anything else (arrays, generators, custom sequences), through iteration: items may be
    /// temporaries, freed once the next is produced.
    Iterated,
}

/// Calls `each(row, item)` for every item of a column and returns how many there were.
/// Lists and tuples are read by index, without an iterator object; anything else through
/// iteration. `each` is told which, as `Access`.
fn for_each_item<'py>(
    value: &Bound<'py, PyAny>,
    mut each: impl FnMut(usize, &Bound<'py, PyAny>, Access) -> PyResult<()>,
) -> PyResult<usize> {
    let mut rows = 0;
    if let Ok(list) = value.cast::<PyList>() {
        for item in list.iter() {
            each(rows, &item, Access::Held)?;
            rows += 1;
        }
    } else if let Ok(tuple) = value.cast::<PyTuple>() {
        for item in tuple.iter_borrowed() {
            each(rows, &item, Access::Held)?;
            rows += 1;
        }
    } else {
        for item in value.try_iter()? {
            each(rows, &item?, Access::Iterated)?;
            rows += 1;
        }
    }
    Ok(rows)
}

/// A row's text in a `StrColumn`: byte offsets into its buffer.
type Span = (u32, u32);

/// The slot of an object address in a direct-mapped cache of `slots` (a power of two)
/// entries. Objects of one size sit at a fixed stride, so masking the low address bits would
/// leave most slots unused: a multiply spreads them (Fibonacci hashing).
fn cache_slot(address: usize, slots: usize) -> usize {
    let bits = slots.trailing_zeros();
    if bits == 0 {
        return 0;
    }
    ((address as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

/// Reads str items into a `StrColumn`, decoding each str object once while it stays cached.
struct StrReader<'py> {
    column: &'static str,
    optional: bool,
    out: StrColumn,
    /// A direct-mapped cache from object address to span. Columns repeat str objects (a few
    /// numbers, one template name, each contact several times): a hit costs one probe and
    /// does not decode the object again. 2^18 slots (4 MiB) keep 100k distinct contacts
    /// mostly cached; 2^16 missed most of them and 2^20 cost more in page faults than it
    /// saved. Bounded, so a column of distinct texts costs no more than a missed probe a row.
    seen: Vec<(usize, Span)>,
    /// Items from an iterated column that are in `seen`: holding them keeps their address
    /// from being reused by another str during the read.
    kept: Vec<Bound<'py, PyAny>>,
}

impl<'py> StrReader<'py> {
    fn new(column: &'static str, optional: bool, rows: usize) -> StrReader<'py> {
        let slots = rows.next_power_of_two().clamp(1, 1 << 18);
        StrReader {
            column,
            optional,
            out: StrColumn {
                text: String::new(),
                spans: Vec::with_capacity(rows),
            },
            seen: vec![(0, (0, 0)); slots],
            kept: Vec::new(),
        }
    }

    fn push(&mut self, row: usize, item: &Bound<'py, PyAny>, access: Access) -> PyResult<()> {
        if self.optional && item.is_none() {
            self.out.spans.push(None);
            return Ok(());
        }
        let address = item.as_ptr() as usize;
        let slot = cache_slot(address, self.seen.len());
        let (cached, span) = self.seen[slot];
        if cached == address {
            self.out.spans.push(Some(span));
            return Ok(());
        }
        let Ok(text) = item.cast::<PyString>() else {
            // A NaN or pd.NA from a DataFrame means what None means.
            if self.optional && missing_value(item).is_some() {
                self.out.spans.push(None);
                return Ok(());
            }
            let wanted = if self.optional {
                "a str, or None, NaN or pd.NA for a missing value"
            } else {
                "a str"
            };
            return Err(column_error(
                self.column,
                row,
                format!("expected {wanted}, got {}", got(item)),
            ));
        };
        let start = self.out.text.len();
        push_str(&mut self.out.text, text).map_err(|e| unencodable(self.column, row, e))?;
        let span = match (u32::try_from(start), u32::try_from(self.out.text.len())) {
            (Ok(start), Ok(end)) => (start, end),
            _ => {
                return Err(column_value_error(
                    self.column,
                    row,
                    "the column holds more than 4 GiB of text; split the batch",
                ))
            }
        };
        self.out.spans.push(Some(span));
        self.seen[slot] = (address, span);
        if access == Access::Iterated {
            self.kept.push(item.clone());
        }
        Ok(())
    }
}

/// Reads a string column: each item a str, or None when `optional`. A bare `str` as the
/// whole column is refused (it would be read as one row per character).
fn read_strings(
    column: &'static str,
    value: &Bound<'_, PyAny>,
    rows: usize,
    optional: bool,
) -> PyResult<StrColumn> {
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "run_batch: column {column:?} must be a sequence of str, not a single str"
        )));
    }
    let mut reader = StrReader::new(column, optional, rows);
    let got = for_each_item(value, |row, item, access| reader.push(row, item, access))?;
    check_len(column, got, rows)?;
    Ok(reader.out)
}

fn check_len(column: &str, got: usize, rows: usize) -> PyResult<()> {
    if got == rows {
        Ok(())
    } else {
        Err(PyValueError::new_err(format!(
            "run_batch: column {column:?} has {got} rows, \"kinds\" has {rows}"
        )))
    }
}

/// A column that exports a buffer (`array.array`, a numpy array, `bytes`, a memoryview),
/// copied out in one call.
struct BufferItems<'py> {
    /// The `struct` format of one item, e.g. `"q"`, `"<q"`, `"B"`.
    format: String,
    item_size: usize,
    /// Every item, in order, C-contiguous (`memoryview.tobytes` copies strided views).
    bytes: Bound<'py, PyBytes>,
}

impl BufferItems<'_> {
    /// The item type without its byte-order prefix, and whether the items are in the
    /// machine's order.
    fn kind(&self) -> (&str, bool) {
        let (order, code) = match self.format.as_bytes().first() {
            Some(b'@' | b'=' | b'<' | b'>' | b'!') => self.format.split_at(1),
            _ => ("", self.format.as_str()),
        };
        // '<' and '>' (or '!') name an order; none, '@' and '=' the machine's.
        let native =
            matches!(order, "" | "@" | "=") || (order == "<") == cfg!(target_endian = "little");
        (code, native)
    }
}

/// The items of a column exporting a buffer; None for anything else (a list, a tuple, a
/// generator), which is read item by item.
fn buffer_items<'py>(
    column: &str,
    value: &Bound<'py, PyAny>,
) -> PyResult<Option<BufferItems<'py>>> {
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return Ok(None);
    }
    let Ok(view) = PyMemoryView::from(value) else {
        return Ok(None);
    };
    let dimensions: usize = view.getattr("ndim")?.extract()?;
    if dimensions != 1 {
        return Err(PyTypeError::new_err(format!(
            "run_batch: column {column:?} must be one-dimensional, got a buffer of \
             {dimensions} dimensions"
        )));
    }
    let items = BufferItems {
        format: view.getattr("format")?.extract()?,
        item_size: view.getattr("itemsize")?.extract()?,
        bytes: view.call_method0("tobytes")?.cast_into::<PyBytes>()?,
    };
    view.call_method0("release")?;
    Ok(Some(items))
}

/// A kind code read from a bytes-like column (signed for an `int8` one, so that -1 reads
/// as -1, not 255).
fn kind_from_byte(row: usize, code: i64) -> PyResult<RowKind> {
    RowKind::from_code(code).ok_or_else(|| {
        column_value_error(
            "kinds",
            row,
            format!("unknown kind code {code}: use 0 (inbound), 1 (send), 2 (check_send)"),
        )
    })
}

/// A kind given as an item: a name or an int code.
fn kind_from_item(row: usize, item: &Bound<'_, PyAny>) -> PyResult<RowKind> {
    if let Ok(name) = item.cast::<PyString>() {
        let name = name.to_cow().map_err(|e| unencodable("kinds", row, e))?;
        return RowKind::from_name(&name).ok_or_else(|| {
            column_value_error(
                "kinds",
                row,
                format!("unknown kind {name:?}: use \"inbound\", \"send\" or \"check_send\""),
            )
        });
    }
    // A bool is an int to Python, but True is no kind.
    if item.is_instance_of::<PyBool>() {
        return Err(column_error(
            "kinds",
            row,
            "a bool is not a kind: use \"inbound\", \"send\", \"check_send\" or 0, 1, 2",
        ));
    }
    let int = convert::python_int(item)?;
    if let Some(int) = int {
        // An int past 64 bits is an unknown code like any other, not an OverflowError.
        let kind = int.extract::<i64>().ok().and_then(RowKind::from_code);
        return kind.ok_or_else(|| {
            let code = convert::repr(item);
            column_value_error(
                "kinds",
                row,
                format!("unknown kind code {code}: use 0 (inbound), 1 (send), 2 (check_send)"),
            )
        });
    }
    Err(column_error(
        "kinds",
        row,
        format!("expected a str or an int, got {}", got(item)),
    ))
}

/// Kinds: names or int codes item by item, or a buffer of one-byte codes (`bytes`,
/// `bytearray`, `array('B')`, numpy uint8) read in one go.
fn read_kinds(value: &Bound<'_, PyAny>) -> PyResult<Vec<RowKind>> {
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "run_batch: column \"kinds\" must be a sequence, not a single str",
        ));
    }
    if let Some(items) = buffer_items("kinds", value)? {
        if items.item_size == 1 && matches!(items.kind().0, "B" | "b") {
            let signed = items.kind().0 == "b";
            let codes = items.bytes.as_bytes();
            return codes
                .iter()
                .enumerate()
                .map(|(row, &code)| {
                    let code = if signed {
                        i64::from(code as i8)
                    } else {
                        i64::from(code)
                    };
                    kind_from_byte(row, code)
                })
                .collect();
        }
        // Wider codes (array('i'), numpy int64) are read item by item below.
    }
    // The length is the column's word, not yet its rows: a `__len__` that lies (2**62)
    // would make the allocation fail and abort the interpreter. The other columns are
    // checked against the rows read here.
    let mut kinds = Vec::with_capacity(column_len("kinds", value)?.min(PREALLOCATED_ROWS_MAX));
    // A column repeats two or three objects (the names, or small ints): compare by
    // identity before decoding. The objects are held, so no other can take their address.
    let mut known: Vec<(Bound<'_, PyAny>, RowKind)> = Vec::with_capacity(4);
    for_each_item(value, |row, item, _| {
        if let Some((_, kind)) = known.iter().find(|(object, _)| object.is(item)) {
            kinds.push(*kind);
            return Ok(());
        }
        let kind = kind_from_item(row, item)?;
        if known.len() < 4 {
            known.push((item.clone(), kind));
        }
        kinds.push(kind);
        Ok(())
    })?;
    Ok(kinds)
}

/// Instants of an `at` buffer of 8-byte signed ints (`array('q')`, numpy int64), unix
/// milliseconds, read in one go. Float items are refused rather than reinterpreted; any
/// other buffer gives None and is read item by item, as any sequence is: narrower or
/// unsigned ints (`array('i')`), and numpy object or string arrays (a tz-aware pandas
/// column's `to_numpy()` holds datetimes).
fn instants_from_buffer(items: &BufferItems<'_>) -> PyResult<Option<Vec<i64>>> {
    let (code, native) = items.kind();
    if items.item_size != 8 || !matches!(code, "q" | "l" | "n") {
        if !matches!(code, "d" | "f" | "e") {
            return Ok(None);
        }
        return Err(PyTypeError::new_err(format!(
            "run_batch: column \"at\" as a buffer must hold ints (unix milliseconds, best as \
             8-byte array('q') or numpy int64); got format {:?} with {}-byte items",
            items.format, items.item_size
        )));
    }
    let decode = if native {
        i64::from_ne_bytes
    } else {
        |bytes: [u8; 8]| i64::from_ne_bytes(bytes).swap_bytes()
    };
    let mut out = Vec::with_capacity(items.bytes.as_bytes().len() / 8);
    for chunk in items.bytes.as_bytes().chunks_exact(8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        out.push(decode(bytes));
    }
    Ok(Some(out))
}

/// What a `NaT` in the "at" column raises: every row needs an instant.
fn not_a_time(row: usize) -> PyErr {
    column_value_error(
        "at",
        row,
        "NaT (a missing time): every row needs an instant",
    )
}

/// A numpy `datetime64` array (`df["at"].to_numpy()` of a datetime column without a time
/// zone): numpy exports no buffer for it, so its counts are read in one go through an
/// int64 `view` of the same bytes and converted from its unit. Found by its
/// `__array_interface__`, without importing numpy; None for any other column.
fn datetime64_column(value: &Bound<'_, PyAny>, rows: usize) -> PyResult<Option<Instants>> {
    let py = value.py();
    if value.is_instance_of::<PyList>()
        || value.is_instance_of::<PyTuple>()
        || !value.hasattr(pyo3::intern!(py, "__array_interface__"))?
    {
        return Ok(None);
    }
    let interface = value.getattr(pyo3::intern!(py, "__array_interface__"))?;
    let Ok(typestr) = interface.get_item("typestr") else {
        return Ok(None);
    };
    let Ok(typestr) = typestr.cast_into::<PyString>() else {
        return Ok(None);
    };
    let typestr = typestr.to_cow()?;
    let unit = match Datetime64Unit::parse(&typestr) {
        None => return Ok(None),
        Some(Ok(unit)) => unit,
        Some(Err(problem)) => {
            return Err(PyTypeError::new_err(format!(
                "run_batch: column \"at\": {problem}"
            )))
        }
    };
    // The same byte order as the array's, so that the buffer's format says which it is.
    let order = typestr.chars().next().filter(|c| "<>=".contains(*c));
    let int64 = format!("{}i8", order.unwrap_or('='));
    let counts = value.call_method1(pyo3::intern!(py, "view"), (int64,))?;
    let Some(items) = buffer_items("at", &counts)? else {
        return Ok(None);
    };
    let Some(counts) = instants_from_buffer(&items)? else {
        return Ok(None);
    };
    check_len("at", counts.len(), rows)?;
    let mut out = Instants {
        millis: Vec::with_capacity(rows),
        beyond_64_bits: Vec::new(),
    };
    for (row, count) in counts.into_iter().enumerate() {
        if count == NOT_A_TIME {
            return Err(not_a_time(row));
        }
        out.push(row, unit.millis(count));
    }
    Ok(Some(out))
}

/// A column of numpy `datetime64` data without an array interface of its own: a pandas
/// Series of a datetime dtype without a time zone (`df["at"]`), whose items are naive
/// Timestamps, refused one by one as naive datetimes are. The data is numpy's, so the
/// column is read as its `to_numpy()` is, as UTC: its numpy array (`__array__()`, a view
/// of the same data) goes through `datetime64_column`. Known by its `dtype`, one of numpy's
/// own classes naming a `datetime64` unit; a tz-aware Series (pandas' dtype class, whose
/// `str` is an `M8` too) is none and is read item by item, its aware Timestamps as
/// datetimes. None for any other column.
fn datetime64_series(value: &Bound<'_, PyAny>, rows: usize) -> PyResult<Option<Instants>> {
    let py = value.py();
    if value.is_instance_of::<PyList>()
        || value.is_instance_of::<PyTuple>()
        || !value.hasattr(pyo3::intern!(py, "__array__"))?
        || !value.hasattr(pyo3::intern!(py, "dtype"))?
    {
        return Ok(None);
    }
    let dtype = value.getattr(pyo3::intern!(py, "dtype"))?;
    let numpy_dtype = dtype.get_type().module().is_ok_and(|module| {
        module
            .to_str()
            .is_ok_and(|m| m == "numpy" || m.starts_with("numpy."))
    });
    if !numpy_dtype {
        return Ok(None);
    }
    let Ok(typestr) = dtype.getattr(pyo3::intern!(py, "str")) else {
        return Ok(None);
    };
    let Ok(typestr) = typestr.cast_into::<PyString>() else {
        return Ok(None);
    };
    if Datetime64Unit::parse(&typestr.to_cow()?).is_none() {
        return Ok(None);
    }
    let array = value.call_method0(pyo3::intern!(py, "__array__"))?;
    datetime64_column(&array, rows)
}

/// A numpy `datetime64` scalar (an item of an object array or a list), or pandas' `NaT`
/// (the gap in a tz-aware column), read by `convert::datetime64_scalar` as the typed
/// methods read one: either `NaT` raises `not_a_time`. None for any other item.
/// Only reached for an item of no type the column otherwise takes.
fn datetime64_item(row: usize, item: &Bound<'_, PyAny>) -> PyResult<Option<Millis>> {
    Ok(match convert::datetime64_scalar(item)? {
        None => None,
        Some(Datetime64::Instant(millis)) => Some(millis),
        Some(Datetime64::NotATime) => return Err(not_a_time(row)),
        Some(Datetime64::Refused(problem)) => return Err(column_error("at", row, problem)),
    })
}

/// The `at` column: unix milliseconds, and the rows whose integer does not fit 64 bits
/// (each becomes an `error` row naming the value as given, as the typed methods do).
#[derive(Debug, Default)]
struct Instants {
    millis: Vec<i64>,
    beyond_64_bits: Vec<(usize, String)>,
}

impl Instants {
    fn push(&mut self, row: usize, item: Millis) {
        match item {
            Ok(millis) => self.millis.push(millis),
            Err(repr) => {
                self.millis.push(0);
                self.beyond_64_bits.push((row, repr));
            }
        }
    }

    fn get(&self, row: usize) -> Result<Instant, convstate::Error> {
        if !self.beyond_64_bits.is_empty() {
            if let Ok(i) = self.beyond_64_bits.binary_search_by_key(&row, |(r, _)| *r) {
                return Err(convert::instant_beyond_64_bits(
                    self.beyond_64_bits[i].1.clone(),
                ));
            }
        }
        Instant::from_unix_millis(self.millis[row])
    }
}

/// An instant that is not an exact int: anything the typed methods accept. One outside
/// the engine's range, whatever its type, is kept to become the row's `error` outcome,
/// as an int column's is.
fn instant_from_item(row: usize, item: &Bound<'_, PyAny>) -> PyResult<Millis> {
    // A bool is an int to Python, but True is no instant.
    if item.is_instance_of::<PyBool>() {
        return Err(column_error("at", row, expected_instant(item)));
    }
    // Any integer (an int, a numpy scalar): an exception its `__index__` raises propagates.
    if let Some(int) = convert::python_int(item)? {
        return Ok(match int.extract::<i64>() {
            Ok(millis) => Ok(millis),
            Err(_) => Err(convert::repr(item)),
        });
    }
    match convert::instant_value(item) {
        Ok(Some(at)) => Ok(Ok(at.unix_millis())),
        Ok(None) => match datetime64_item(row, item)? {
            Some(millis) => Ok(millis),
            None => Err(column_error("at", row, expected_instant(item))),
        },
        Err(BindingError::Core(convstate::Error::InstantOutOfRange { millis, .. })) => {
            Ok(Ok(millis))
        }
        // A str that is not Unicode; any other Python error is the item's own (its
        // `utcoffset` raised something other than the ValueError or TypeError of a missing
        // value, which is an invalid instant) and propagates as raised.
        Err(BindingError::Python(e)) if is_unicode_error(&e) => Err(unencodable("at", row, e)),
        Err(BindingError::Python(e)) => Err(e),
        Err(BindingError::Core(e)) => Err(column_value_error("at", row, e)),
    }
}

/// Whether an int of the "at" column looks like unix seconds (see
/// `Instant::looks_like_unix_seconds`).
fn looks_like_unix_seconds(millis: i64) -> bool {
    Instant::from_unix_millis(millis).is_ok_and(Instant::looks_like_unix_seconds)
}

/// What an item of the wrong type in the "at" column gets.
fn expected_instant(item: &Bound<'_, PyAny>) -> String {
    match missing_value(item) {
        Some(_) => format!(
            "expected an instant (an aware datetime, int unix milliseconds or an RFC 3339 \
             str), got {}",
            got(item)
        ),
        None => format!("expected {}", convert::instant_type_problem(item)),
    }
}

/// Instants: ints are unix milliseconds (the fast path; an int64 buffer is read in one
/// go); anything else the typed methods accept (aware datetimes, RFC 3339 strings) is
/// converted the same way. A value out of the engine's range is kept as is and becomes an
/// `error` row.
fn read_instants(value: &Bound<'_, PyAny>, rows: usize) -> PyResult<Instants> {
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "run_batch: column \"at\" must be a sequence of instants, not a single str",
        ));
    }
    if let Some(items) = buffer_items("at", value)? {
        if let Some(millis) = instants_from_buffer(&items)? {
            check_len("at", millis.len(), rows)?;
            if millis.iter().any(|&m| looks_like_unix_seconds(m)) {
                convert::warn_unix_seconds(value.py(), "run_batch: column \"at\"")?;
            }
            return Ok(Instants {
                millis,
                beyond_64_bits: Vec::new(),
            });
        }
    }
    if let Some(instants) = datetime64_column(value, rows)? {
        return Ok(instants);
    }
    if let Some(instants) = datetime64_series(value, rows)? {
        return Ok(instants);
    }
    let mut out = Instants {
        millis: Vec::with_capacity(rows),
        beyond_64_bits: Vec::new(),
    };
    let mut seconds = false;
    for_each_item(value, |row, item, _| {
        // An exact int (not a bool, not a subclass) converts without a type check chain.
        let fast = item
            .is_exact_instance_of::<PyInt>()
            .then(|| item.extract::<i64>().ok())
            .flatten();
        let millis = match fast {
            Some(millis) => {
                seconds |= looks_like_unix_seconds(millis);
                Ok(millis)
            }
            None => {
                let millis = instant_from_item(row, item)?;
                // Another integer type (numpy's): told as an int is; a datetime is not.
                if matches!(millis, Ok(m) if looks_like_unix_seconds(m)) {
                    seconds |= convert::python_int(item)?.is_some();
                }
                millis
            }
        };
        out.push(row, millis);
        Ok(())
    })?;
    check_len("at", out.millis.len(), rows)?;
    if seconds {
        convert::warn_unix_seconds(value.py(), "run_batch: column \"at\"")?;
    }
    Ok(out)
}

/// Template parameters: per row None or a sequence (or 1-D numpy array) of str, concatenated
/// into one buffer.
#[derive(Debug, Default)]
struct ParamsColumn {
    text: String,
    /// Every parameter's text in `text`, row after row.
    params: Vec<Span>,
    /// Each row's range in `params`; `None` for a row without parameters.
    rows: Vec<Option<(u32, u32)>>,
}

impl ParamsColumn {
    fn row(&self, row: usize) -> impl ExactSizeIterator<Item = &str> {
        let (first, end) = self.rows.get(row).copied().flatten().unwrap_or((0, 0));
        self.params[first as usize..end as usize]
            .iter()
            .map(|(start, end)| &self.text[*start as usize..*end as usize])
    }

    /// Appends one row's parameters.
    fn push_row(&mut self, row: usize, item: &Bound<'_, PyAny>) -> PyResult<()> {
        let refused = || {
            column_error(
                "params",
                row,
                format!(
                    "expected None (or NaN, pd.NA) or a sequence or 1-D array of str, got {}",
                    type_name(item)
                ),
            )
        };
        // A str is a sequence of str, but one parameter per character is never meant.
        if item.is_instance_of::<PyString>() {
            return Err(refused());
        }
        let list;
        let item = if item.cast::<PySequence>().is_ok() {
            item
        } else if let Some(items) = array_params(row, item)? {
            list = items;
            &list
        } else if missing_value(item).is_some() {
            // A NaN or pd.NA from a DataFrame means what None means: no parameters.
            self.rows.push(None);
            return Ok(());
        } else {
            return Err(refused());
        };
        let first = u32_index(self.params.len(), row)?;
        for_each_item(item, |_, param, _| {
            let Ok(param) = param.cast::<PyString>() else {
                return Err(column_error(
                    "params",
                    row,
                    format!("expected a str parameter, got {}", type_name(param)),
                ));
            };
            let start = u32_index(self.text.len(), row)?;
            push_str(&mut self.text, param).map_err(|e| unencodable("params", row, e))?;
            self.params.push((start, u32_index(self.text.len(), row)?));
            Ok(())
        })?;
        self.rows
            .push(Some((first, u32_index(self.params.len(), row)?)));
        Ok(())
    }
}

/// A params cell that is a numpy array, as its `tolist()`: what a list column holds after
/// `pd.read_parquet` (pyarrow gives each row of a list column a 1-D object array of its
/// str) or `df["params"].apply(np.array)`. numpy registers no array as a `Sequence`,
/// so it is known by its `__array_interface__` and its `__len__` (a numpy scalar, such as
/// a `float32` NaN that means missing, has the one but not the other), without importing
/// numpy. Its items are then checked as a list's are. A 1-D array only: a 0-d one holds no
/// list, and a 2-D one's items would be rows. None for any other value.
fn array_params<'py>(row: usize, item: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = item.py();
    if !item.hasattr(pyo3::intern!(py, "__array_interface__"))?
        || !item.hasattr(pyo3::intern!(py, "__len__"))?
        || !item.hasattr(pyo3::intern!(py, "ndim"))?
    {
        return Ok(None);
    }
    let dimensions = item
        .getattr(pyo3::intern!(py, "ndim"))?
        .extract::<usize>()
        .ok();
    match dimensions {
        Some(1) => {
            let list = item.call_method0(pyo3::intern!(py, "tolist"))?;
            Ok(list.is_instance_of::<PyList>().then_some(list))
        }
        Some(dimensions) => Err(column_error(
            "params",
            row,
            format!(
                "expected a one-dimensional array of str parameters, got a \
                 {dimensions}-dimensional {}",
                type_name(item)
            ),
        )),
        None => Ok(None),
    }
}

/// An offset into a column's buffers, which are indexed with u32 to keep spans small.
fn u32_index(offset: usize, row: usize) -> PyResult<u32> {
    u32::try_from(offset).map_err(|_| {
        column_value_error(
            "params",
            row,
            "the column holds more than 4 GiB of text; split the batch",
        )
    })
}

fn read_params(value: &Bound<'_, PyAny>, rows: usize) -> PyResult<ParamsColumn> {
    let mut out = ParamsColumn {
        rows: Vec::with_capacity(rows),
        ..ParamsColumn::default()
    };
    for_each_item(value, |row, item, _| {
        if item.is_none() {
            out.rows.push(None);
            Ok(())
        } else {
            out.push_row(row, item)
        }
    })?;
    check_len("params", out.rows.len(), rows)?;
    Ok(out)
}

/// Which send rows were sent by automation (RULES §3: no agent response): one flag for
/// every row, or one per row.
#[derive(Debug)]
enum Automated {
    All(bool),
    Rows(Vec<bool>),
}

impl Automated {
    fn row(&self, row: usize) -> bool {
        match self {
            Automated::All(all) => *all,
            Automated::Rows(rows) => rows.get(row).copied().unwrap_or(false),
        }
    }
}

/// The `automated` argument: a bool for every row, a numpy bool array (a buffer of `?`
/// items) read in one go, or a column of bools (Python's or numpy's), where a missing
/// value (None, NaN, pd.NA: a nullable boolean column's gap) means not automated, as a
/// send without the field is. An int is refused, as in `kinds`: 0 and 1 are no flags.
fn read_automated(value: &Bound<'_, PyAny>, rows: usize) -> PyResult<Automated> {
    if let Ok(all) = value.cast::<PyBool>() {
        return Ok(Automated::All(all.is_true()));
    }
    if value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "run_batch: \"automated\" must be a bool or a column of bools, not a str",
        ));
    }
    // Any other buffer (a numpy object array, an array of ints) is read item by item.
    if let Some(items) = buffer_items("automated", value)?
        .filter(|items| items.item_size == 1 && items.kind().0 == "?")
    {
        let flags: Vec<bool> = items.bytes.as_bytes().iter().map(|&b| b != 0).collect();
        check_len("automated", flags.len(), rows)?;
        return Ok(Automated::Rows(flags));
    }
    check_len("automated", column_len("automated", value)?, rows)?;
    let mut flags = Vec::with_capacity(rows);
    for_each_item(value, |row, item, _| {
        let flag = if let Ok(flag) = item.cast::<PyBool>() {
            flag.is_true()
        } else if convert::is_numpy_bool(item) {
            item.is_truthy()?
        } else if missing_value(item).is_some() {
            false
        } else {
            return Err(column_error(
                "automated",
                row,
                format!(
                    "expected a bool, or None, NaN or pd.NA for not automated, got {}",
                    type_name(item)
                ),
            ));
        };
        flags.push(flag);
        Ok(())
    })?;
    check_len("automated", flags.len(), rows)?;
    Ok(Automated::Rows(flags))
}

/// An optional column: None (or absent) means not given.
fn given<'a, 'py>(column: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    column.filter(|c| !c.is_none())
}

/// The columns of one batch, read and checked.
#[derive(Debug)]
pub struct Columns {
    kinds: Vec<RowKind>,
    at: Instants,
    numbers: StrColumn,
    contacts: StrColumn,
    texts: Option<StrColumn>,
    templates: Option<StrColumn>,
    languages: Option<StrColumn>,
    params: Option<ParamsColumn>,
    automated: Automated,
}

impl Columns {
    #[allow(clippy::too_many_arguments)]
    pub fn read(
        kinds: &Bound<'_, PyAny>,
        at: &Bound<'_, PyAny>,
        numbers: &Bound<'_, PyAny>,
        contacts: &Bound<'_, PyAny>,
        texts: Option<&Bound<'_, PyAny>>,
        templates: Option<&Bound<'_, PyAny>>,
        languages: Option<&Bound<'_, PyAny>>,
        params: Option<&Bound<'_, PyAny>>,
        automated: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Columns> {
        let kinds = read_kinds(kinds)?;
        let rows = kinds.len();
        // A scalar where a column belongs: say which, before reading anything else.
        for (name, column) in [("at", at), ("numbers", numbers), ("contacts", contacts)] {
            if column.is_none() {
                return Err(PyTypeError::new_err(format!(
                    "run_batch: column {name:?} is required, not None"
                )));
            }
        }
        for (name, column) in [
            ("at", Some(at)),
            ("numbers", Some(numbers)),
            ("contacts", Some(contacts)),
            ("texts", texts),
            ("templates", templates),
            ("languages", languages),
            ("params", params),
        ] {
            if let Some(column) = column.filter(|c| !c.is_none()) {
                if column.is_instance_of::<PyString>() {
                    return Err(PyTypeError::new_err(format!(
                        "run_batch: column {name:?} must be a sequence, not a single str"
                    )));
                }
                check_len(name, column_len(name, column)?, rows)?;
            }
        }
        let columns = Columns {
            at: read_instants(at, rows)?,
            numbers: read_strings("numbers", numbers, rows, false)?,
            contacts: read_strings("contacts", contacts, rows, false)?,
            texts: given(texts)
                .map(|c| read_strings("texts", c, rows, true))
                .transpose()?,
            templates: given(templates)
                .map(|c| read_strings("templates", c, rows, true))
                .transpose()?,
            languages: given(languages)
                .map(|c| read_strings("languages", c, rows, true))
                .transpose()?,
            params: given(params).map(|c| read_params(c, rows)).transpose()?,
            automated: match given(automated) {
                Some(value) => read_automated(value, rows)?,
                None => Automated::All(false),
            },
            kinds,
        };
        columns.check_messages()?;
        Ok(columns)
    }

    /// Every send row needs a message: a template (with its language) or a text.
    fn check_messages(&self) -> PyResult<()> {
        for (row, kind) in self.kinds.iter().enumerate() {
            if *kind == RowKind::Inbound {
                continue;
            }
            let template = self.templates.as_ref().and_then(|c| c.row(row));
            if template.is_some() {
                if self.languages.as_ref().and_then(|c| c.row(row)).is_none() {
                    return Err(column_error(
                        "languages",
                        row,
                        "a template row needs its language",
                    ));
                }
            } else if self.texts.as_ref().and_then(|c| c.row(row)).is_none() {
                return Err(column_error(
                    "texts",
                    row,
                    "a send or check_send row needs a text (or a template in \"templates\")",
                ));
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.kinds.len()
    }
}

/// Counts effects by type without serialising each one: the name of a variant is looked up
/// (by serialising one instance) the first time it is seen.
#[derive(Default)]
struct EffectCounter {
    seen: Vec<(Discriminant<Effect>, String, u64)>,
}

impl EffectCounter {
    fn count(&mut self, effect: &Effect) {
        let key = discriminant(effect);
        if let Some(entry) = self.seen.iter_mut().find(|(k, _, _)| *k == key) {
            entry.2 += 1;
            return;
        }
        let name = serde_json::to_value(effect)
            .ok()
            .and_then(|v| v.get("effect").and_then(|n| n.as_str()).map(str::to_owned))
            .unwrap_or_else(|| "unknown".into());
        self.seen.push((key, name, 1));
    }
}

/// What a batch did.
#[derive(Debug)]
pub struct BatchOutcome {
    pub codes: Vec<u8>,
    pub effect_counts: Vec<(String, u64)>,
    pub first_error: Option<(usize, &'static str, String)>,
    pub error_codes: HashMap<&'static str, u64>,
}

/// Where a batch's rows go: one engine, whose effects wait in its queue, or a sharded
/// engine, whose calls hand each row's effects back.
pub trait RowTarget {
    fn inbound(&mut self, e: InboundRef<'_>) -> Result<InboundOutcome, convstate::Error>;
    fn send(&mut self, request: SendRequestRef<'_>) -> Result<Decision, convstate::Error>;
    fn check_send(&mut self, request: SendRequestRef<'_>) -> Result<Decision, convstate::Error>;
    /// Takes every effect caused since the last call, handing each to `f`.
    fn drain_effects(&mut self, f: impl FnMut(&Effect));
}

impl RowTarget for convstate::Engine {
    fn inbound(&mut self, e: InboundRef<'_>) -> Result<InboundOutcome, convstate::Error> {
        self.inbound_borrowed(e)
    }
    fn send(&mut self, request: SendRequestRef<'_>) -> Result<Decision, convstate::Error> {
        self.send_borrowed(request)
    }
    fn check_send(&mut self, request: SendRequestRef<'_>) -> Result<Decision, convstate::Error> {
        self.check_send_borrowed(request)
    }
    fn drain_effects(&mut self, mut f: impl FnMut(&Effect)) {
        while let Some(effect) = self.poll_effect() {
            f(&effect);
        }
    }
}

/// A sharded engine with the effects its calls handed back.
pub struct ShardedRows<'a> {
    pub engine: &'a ShardedEngine,
    pub effects: Vec<Effect>,
}

impl RowTarget for ShardedRows<'_> {
    fn inbound(&mut self, e: InboundRef<'_>) -> Result<InboundOutcome, convstate::Error> {
        self.engine.inbound_borrowed(e, &mut self.effects)
    }
    fn send(&mut self, request: SendRequestRef<'_>) -> Result<Decision, convstate::Error> {
        self.engine.send_borrowed(request, &mut self.effects)
    }
    fn check_send(&mut self, request: SendRequestRef<'_>) -> Result<Decision, convstate::Error> {
        self.engine.check_send_borrowed(request)
    }
    fn drain_effects(&mut self, mut f: impl FnMut(&Effect)) {
        for effect in self.effects.drain(..) {
            f(&effect);
        }
    }
}

/// Runs every row through `target`. Effects are counted and dropped unless `keep_effects`.
pub fn run(target: &mut impl RowTarget, columns: &Columns, keep_effects: bool) -> BatchOutcome {
    // One message value per kind, overwritten row by row; numbers and contacts are lent to
    // the core straight from the columns' text.
    let mut text = OutboundMessage::Text {
        text: String::new(),
    };
    let mut template = OutboundMessage::Template(TemplateMessage {
        name: String::new(),
        language: String::new(),
        params: TemplateParams::Positional(Vec::new()),
        header_params: TemplateParams::default(),
    });

    let mut outcome = BatchOutcome {
        codes: Vec::with_capacity(columns.len()),
        effect_counts: Vec::new(),
        first_error: None,
        error_codes: HashMap::new(),
    };
    let mut effects = EffectCounter::default();
    for (row, kind) in columns.kinds.iter().enumerate() {
        let result = columns.at.get(row).and_then(|at| {
            let number = columns.numbers.row(row).unwrap_or_default();
            let contact = columns.contacts.row(row).unwrap_or_default();
            if *kind == RowKind::Inbound {
                let inbound = InboundRef::new(at, number, contact, InboundKind::Text);
                return target.inbound(inbound).map(|_| APPLIED);
            }
            let message = match columns.templates.as_ref().and_then(|c| c.row(row)) {
                Some(name) => {
                    if let OutboundMessage::Template(t) = &mut template {
                        fill(&mut t.name, name);
                        let language = columns.languages.as_ref().and_then(|c| c.row(row));
                        fill(&mut t.language, language.unwrap_or_default());
                        if let TemplateParams::Positional(values) = &mut t.params {
                            match columns.params.as_ref() {
                                Some(params) => fill_all(values, params.row(row)),
                                None => values.clear(),
                            }
                        }
                    }
                    &template
                }
                None => {
                    if let OutboundMessage::Text { text } = &mut text {
                        let given = columns.texts.as_ref().and_then(|c| c.row(row));
                        fill(text, given.unwrap_or_default());
                    }
                    &text
                }
            };
            let mut request = SendRequestRef::new(at, number, contact, message);
            request.automated = columns.automated.row(row);
            let decision = if *kind == RowKind::Send {
                target.send(request)?
            } else {
                target.check_send(request)?
            };
            Ok(match &decision.verdict {
                Verdict::Allowed => ALLOWED,
                Verdict::Denied(reason) => denial_code(reason.kind()),
            })
        });
        let code = match result {
            Ok(code) => code,
            Err(e) => {
                *outcome.error_codes.entry(e.code()).or_default() += 1;
                if outcome.first_error.is_none() {
                    outcome.first_error = Some((row, e.code(), e.to_string()));
                }
                ERROR
            }
        };
        outcome.codes.push(code);
        if !keep_effects {
            target.drain_effects(|effect| effects.count(effect));
        }
    }
    outcome.effect_counts = effects
        .seen
        .into_iter()
        .map(|(_, name, n)| (name, n))
        .collect();
    outcome
}

/// Overwrites reused buffers with `given`, keeping their allocations: a template row with
/// parameters allocates only when it has more than any row before.
fn fill_all<'a>(values: &mut Vec<String>, given: impl ExactSizeIterator<Item = &'a str>) {
    values.truncate(given.len());
    for (i, value) in given.enumerate() {
        match values.get_mut(i) {
            Some(buffer) => fill(buffer, value),
            None => values.push(value.to_owned()),
        }
    }
}

/// Overwrites a reused buffer, keeping its allocation.
fn fill(buffer: &mut String, value: &str) {
    buffer.clear();
    buffer.push_str(value);
}

/// What ``Engine.run_batch`` did: one outcome code per row, and counts.
///
/// Codes are stable (new ones are only appended): ``0`` ``"applied"`` (an inbound row was
/// recorded), ``1`` ``"allowed"`` (a send row was recorded, or a check_send row may go
/// ahead), then one code per denial reason named as on the wire (``"window_closed"``,
/// ``"limit_reached"``, ...), ``"other"`` (19) for a denial reason newer than this table,
/// ``"error"`` (20) for a row the engine refused (it changed nothing), and from 21 the
/// reasons added since (``"invalid_content"``).
#[pyclass(frozen, module = "convstate", name = "BatchResult")]
#[derive(Debug)]
pub struct PyBatchResult {
    outcomes: Py<PyBytes>,
    counts: Vec<u64>,
    effect_counts: Vec<(String, u64)>,
    first_error: Option<(usize, String, String)>,
    error_codes: Vec<(String, u64)>,
    effects_kept: bool,
}

/// What a `BatchResult` pickles as: the outcome codes, the effect counts, the first error,
/// the error codes and whether effects were kept (the outcome counts follow from the codes).
type BatchResultState<'py> = (
    Bound<'py, PyBytes>,
    Vec<(String, u64)>,
    Option<(usize, String, String)>,
    Vec<(String, u64)>,
    bool,
);

impl PyBatchResult {
    pub fn new(py: Python<'_>, outcome: BatchOutcome, effects_kept: bool) -> PyBatchResult {
        let mut error_codes: Vec<_> = outcome
            .error_codes
            .into_iter()
            .map(|(code, n)| (code.to_owned(), n))
            .collect();
        error_codes.sort();
        PyBatchResult {
            counts: outcome_counts(&outcome.codes),
            outcomes: PyBytes::new(py, &outcome.codes).unbind(),
            effect_counts: outcome.effect_counts,
            first_error: outcome
                .first_error
                .map(|(row, code, message)| (row, code.to_owned(), message)),
            error_codes,
            effects_kept,
        }
    }
}

/// How many rows got each outcome code; every code must be one of [`OUTCOME_NAMES`].
fn outcome_counts(codes: &[u8]) -> Vec<u64> {
    let mut counts = vec![0u64; OUTCOME_NAMES.len()];
    for code in codes {
        counts[usize::from(*code)] += 1;
    }
    counts
}

#[pymethods]
impl PyBatchResult {
    /// One outcome code per row; `OUTCOME_NAMES[code]` names it.
    #[getter]
    fn outcomes(&self, py: Python<'_>) -> Py<PyBytes> {
        self.outcomes.clone_ref(py)
    }

    /// Outcome names indexed by code.
    #[classattr]
    #[allow(non_snake_case)]
    fn OUTCOME_NAMES<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, OUTCOME_NAMES)
    }

    /// How many rows got each outcome (outcomes no row got are left out).
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, count) in OUTCOME_NAMES.iter().zip(&self.counts) {
            if *count > 0 {
                dict.set_item(name, count)?;
            }
        }
        Ok(dict)
    }

    /// Effects the batch caused, counted by type and dropped; empty when they were kept
    /// (`keep_effects=True`), in which case `poll_effect` returns them.
    #[getter]
    fn effect_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, count) in &self.effect_counts {
            dict.set_item(name, count)?;
        }
        Ok(dict)
    }

    /// Whether the batch's effects were left queued for `poll_effect`.
    #[getter]
    fn effects_kept(&self) -> bool {
        self.effects_kept
    }

    /// How many rows the engine refused (outcome `error`).
    #[getter]
    fn errors(&self) -> u64 {
        self.counts[usize::from(ERROR)]
    }

    /// Refused rows by the engine's error code (`"unknown_number"`, ...).
    #[getter]
    fn error_codes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (code, count) in &self.error_codes {
            dict.set_item(code, count)?;
        }
        Ok(dict)
    }

    /// The first refused row as `(row, code, message)`, or None.
    #[getter]
    fn first_error(&self) -> Option<(usize, String, String)> {
        self.first_error.clone()
    }

    /// Pickles (and copies) as its parts: a result is a value, and a batch run in a worker
    /// process comes back through a pickle.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, BatchResultState<'py>)> {
        let py = slf.py();
        let result = slf.get();
        let state = (
            result.outcomes.bind(py).clone(),
            result.effect_counts.clone(),
            result.first_error.clone(),
            result.error_codes.clone(),
            result.effects_kept,
        );
        Ok((slf.get_type().getattr("_from_state")?, state))
    }

    /// The result `__reduce__` took apart (what unpickling calls). Outcome codes are
    /// checked: one no table has is a `ValueError`, never a wrong count.
    #[staticmethod]
    fn _from_state(
        outcomes: Bound<'_, PyBytes>,
        effect_counts: Vec<(String, u64)>,
        first_error: Option<(usize, String, String)>,
        error_codes: Vec<(String, u64)>,
        effects_kept: bool,
    ) -> PyResult<PyBatchResult> {
        let codes = outcomes.as_bytes();
        if let Some((row, code)) = codes
            .iter()
            .enumerate()
            .find(|(_, code)| usize::from(**code) >= OUTCOME_NAMES.len())
        {
            return Err(PyValueError::new_err(format!(
                "not a BatchResult: row {row} has outcome code {code}, the largest is {}",
                OUTCOME_NAMES.len() - 1
            )));
        }
        Ok(PyBatchResult {
            counts: outcome_counts(codes),
            outcomes: outcomes.unbind(),
            effect_counts,
            first_error,
            error_codes,
            effects_kept,
        })
    }

    /// The outcome name of every row, in order (a list of str: convenient, not compact).
    fn names<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyString>>> {
        let names: Vec<Bound<'py, PyString>> = OUTCOME_NAMES
            .iter()
            .map(|n| PyString::intern(py, n))
            .collect();
        Ok(self
            .outcomes
            .bind(py)
            .as_bytes()
            .iter()
            .map(|code| names[usize::from(*code)].clone())
            .collect())
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.outcomes.bind(py).as_bytes().len()
    }

    fn __repr__(&self) -> String {
        let counts: Vec<String> = OUTCOME_NAMES
            .iter()
            .zip(&self.counts)
            .filter(|(_, c)| **c > 0)
            .map(|(n, c)| format!("{n}={c}"))
            .collect();
        format!("BatchResult({})", counts.join(", "))
    }
}
