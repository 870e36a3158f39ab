//! `convstate._convstate`: the native module of the `convstate` Python package.
//!
//! The binding only translates. Every call becomes a core [`convstate::Event`] (built by the
//! core's own serde decoder from the arguments, so errors read the same as on the wire),
//! goes through [`convstate::Engine::handle`], and the core's serialised output comes back
//! as Python values. The engine sits behind a mutex so one `Engine` can be shared by
//! threads; the lock is only ever held around pure Rust work (never while Python code can
//! run), so a thread waiting for it cannot deadlock against the GIL, and a thread that finds
//! it busy waits with the GIL released (`PyEngine::locked`), so other threads run meanwhile.

use convstate::{wire, Event, InboundOutcome, Output, Policy, StatusOutcome};
use parking_lot::{Mutex, MutexGuard};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMapping, PyMemoryView, PyString};
use serde_json::{Map, Value};

mod batch;
mod convert;
mod errors;
mod results;
mod sharded;
mod wire_names;

use batch::{Columns, PyBatchResult};
use convert::{
    bytes_arg, datetime, field_json, from_json, instant, python_type, string_pairs, to_json,
    to_json_line, type_name,
};
use errors::{BindingError, BindingResult};
use results::{PyBilling, PyDecision};

/// The conversation-state engine: feed it what happened, ask it what may be sent.
///
/// It never reads a clock: every call carries its instant (an aware datetime, int unix
/// milliseconds, an RFC 3339 str or a numpy ``datetime64`` read as UTC, as ``run_batch``
/// reads one, in an argument or a dict event alike; a value of another type, a float or
/// None, raises ``TypeError`` naming the argument, and ``InvalidInputError`` naming the field
/// in a dict event, as its line would; a bad value ``InvalidInputError``). Inputs are
/// decided at the later of their instant and the clock: feed them in time order (sort a
/// frame by ``at``), as a send dated before an input already given is decided at the
/// clock, not at its own instant. Dicts it returns
/// mirror the JSON wire format, with instants (keys ``at``, ``since``, ``until``,
/// ``deadline`` and ``*_at``, ``*_since``, ``*_until``, ``*_deadline``, ``*_by``,
/// ``*_from``) as aware UTC datetimes, durations (policy lengths, response
/// times, a denial's ``margin``) as ``timedelta`` and money (a usage's ``cost``, a
/// price's ``amount``) as ``decimal.Decimal``. One engine may be shared
/// by threads: calls are serialised by an internal lock. Picklable (through a snapshot).
/// Arguments of raw bytes (``restore``, ``from_business_export``, ``import_business``,
/// ``process_bytes``) take any bytes-like object: ``bytes``, ``bytearray``, a C-contiguous
/// ``memoryview``, ``array.array``; anything else raises ``TypeError`` naming the argument.
#[pyclass(frozen, module = "convstate", name = "Engine")]
#[derive(Debug)]
struct PyEngine {
    engine: Mutex<convstate::Engine>,
}

/// Keyword arguments of a typed method on their way to a wire-format event.
pub(crate) struct EventFields {
    /// The event type, the name of the method building it, which its errors name.
    method: &'static str,
    object: Map<String, Value>,
}

impl EventFields {
    /// The event the fields make, decoded as the wire decodes it.
    pub(crate) fn into_event(self) -> Result<Event, convstate::Error> {
        decode(Value::Object(self.object))
    }

    fn new(type_name: &'static str) -> EventFields {
        let mut object = Map::new();
        object.insert("type".into(), Value::from(type_name));
        EventFields {
            method: type_name,
            object,
        }
    }

    fn text(mut self, key: &str, value: Option<&str>) -> EventFields {
        if let Some(text) = value {
            self.object.insert(key.into(), Value::from(text));
        }
        self
    }

    /// A flag of the wire format, written only when set (its default is `false`).
    fn flag(mut self, key: &str, set: bool) -> EventFields {
        if set {
            self.object.insert(key.into(), Value::Bool(true));
        }
        self
    }

    fn value(mut self, key: &str, value: Option<&Bound<'_, PyAny>>) -> BindingResult<EventFields> {
        if let Some(value) = value.filter(|v| !v.is_none()) {
            self.object.insert(key.into(), field_json(value, key)?);
        }
        Ok(self)
    }

    /// A required instant: `None` is refused like any other non-instant.
    fn required_at(mut self, at: &Bound<'_, PyAny>) -> BindingResult<EventFields> {
        self.object.insert(
            "at".into(),
            Value::from(instant(at, self.method, "at")?.unix_millis()),
        );
        Ok(self)
    }

    fn at(mut self, at: Option<&Bound<'_, PyAny>>) -> BindingResult<EventFields> {
        if let Some(at) = at.filter(|v| !v.is_none()) {
            self.object.insert(
                "at".into(),
                Value::from(instant(at, self.method, "at")?.unix_millis()),
            );
        }
        Ok(self)
    }

    /// `text="..."` is short for `message={"kind": "text", "text": "..."}`.
    fn message(
        mut self,
        text: Option<&str>,
        message: Option<&Bound<'_, PyAny>>,
    ) -> BindingResult<EventFields> {
        let message = match (text, message.filter(|m| !m.is_none())) {
            (Some(text), None) => serde_json::json!({"kind": "text", "text": text}),
            (None, Some(message)) => field_json(message, "message")?,
            (Some(_), Some(_)) => return Err(invalid("give either text= or message=, not both")),
            (None, None) => return Err(invalid("missing the message: give text= or message=")),
        };
        self.object.insert("message".into(), message);
        Ok(self)
    }
}

fn invalid(problem: &str) -> BindingError {
    convstate::Error::InvalidEvent {
        problem: problem.to_owned(),
    }
    .into()
}

/// Decodes an event the way the wire does. One that does not decode is decoded again as a
/// line, so that its error is the JSON door's, naming the field at fault.
fn decode(object: Value) -> Result<Event, convstate::Error> {
    use serde::Deserialize;
    match Event::deserialize(&object) {
        Ok(event) => Ok(event),
        Err(e) => match wire::decode_event(&object.to_string()) {
            Err(error) => Err(error),
            // Not expected (the two readers agree); keep the first answer rather than lose it.
            Ok(_) => Err(convstate::Error::InvalidEvent {
                problem: e.to_string(),
            }),
        },
    }
}

/// A core output as Python: an acknowledgement's outcome ([`ack_outcome`], else None), a
/// `Decision`, or a dict.
pub(crate) fn output_to_python<'py>(
    py: Python<'py>,
    output: &Output,
) -> PyResult<Bound<'py, PyAny>> {
    if let Output::Ack {
        of,
        redelivered,
        unmatched,
        ..
    } = output
    {
        let outcome = ack_outcome(py, of, *redelivered, *unmatched)?;
        return Ok(outcome.unwrap_or_else(|| py.None().into_bound(py)));
    }
    let json = serde_json::to_value(output).map_err(|e| {
        pyo3::exceptions::PyRuntimeError::new_err(format!("output does not serialise: {e}"))
    })?;
    match json.get("type").and_then(Value::as_str) {
        Some("ack") => Ok(py.None().into_bound(py)),
        Some("decision") => Ok(Bound::new(py, PyDecision::new(json))?.into_any()),
        _ => {
            let mut json = json;
            if let Some(object) = json.as_object_mut() {
                object.remove("type");
            }
            from_json(py, &json)
        }
    }
}

/// What `__reduce__` returns for an engine: its class's `restore`, and the snapshot.
type Reduced<'py> = (Bound<'py, PyAny>, (Bound<'py, PyBytes>,));

/// What an ack tells beyond "applied", as the Rust typed calls return it: an inbound's
/// `InboundOutcome`, a message status's `StatusOutcome`, as a member of the package's str
/// enum of that name (its value the core enum's wire name); `None` for other inputs.
fn ack_outcome<'py>(
    py: Python<'py>,
    of: &str,
    redelivered: bool,
    unmatched: bool,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let slot = match of {
        "inbound" if redelivered => 1,
        "inbound" => 0,
        "message_status" if unmatched => 3,
        "message_status" => 2,
        _ => return Ok(None),
    };
    Ok(Some(outcome_members(py)?[slot].bind(py).clone()))
}

/// The four outcome members, in the slots [`ack_outcome`] picks, looked up once: every
/// inbound and status answers with one, and a lookup by value per call cost about 3% of a
/// Python `inbound`.
fn outcome_members(py: Python<'_>) -> PyResult<&[Py<PyAny>; 4]> {
    static MEMBERS: PyOnceLock<[Py<PyAny>; 4]> = PyOnceLock::new();
    MEMBERS.get_or_try_init(py, || {
        let member = |class: &str, value: String| -> PyResult<Py<PyAny>> {
            Ok(python_type(py, class)?.call1((value,))?.unbind())
        };
        Ok([
            member("InboundOutcome", InboundOutcome::Taken.to_string())?,
            member("InboundOutcome", InboundOutcome::Redelivered.to_string())?,
            member("StatusOutcome", StatusOutcome::Matched.to_string())?,
            member("StatusOutcome", StatusOutcome::Unmatched.to_string())?,
        ])
    })
}

/// `__reduce__` of an engine class (`Engine`, `ShardedEngine`): pickling and copying go
/// through `snapshot()` and the class's own `restore()`.
fn reduce_through_restore<'py>(
    slf: &Bound<'py, PyAny>,
    snapshot: Bound<'py, PyBytes>,
) -> PyResult<Reduced<'py>> {
    Ok((slf.get_type().getattr("restore")?, (snapshot,)))
}

/// A preset with optional overrides (a dict) merged over it.
fn policy_of(preset: &str, overrides: Option<&Bound<'_, PyAny>>) -> BindingResult<Policy> {
    Ok(match overrides_json(overrides)? {
        Some(json) => Policy::with_overrides(preset, &json)?,
        None => Policy::preset(preset)?,
    })
}

/// `policy_overrides` (None when absent) as JSON, for `Engine(...)`, `ShardedEngine(...)`
/// and `change_policy` alike: a value with no JSON form (NaN, a set, a `Decimal`) or no
/// instant (a naive datetime) is a bad override like any other (`PolicyError`), and
/// anything but a mapping a `TypeError`.
fn overrides_json(overrides: Option<&Bound<'_, PyAny>>) -> BindingResult<Option<Value>> {
    let Some(overrides) = overrides.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let json = to_json(overrides).map_err(|e| match e {
        BindingError::Core(convstate::Error::InvalidEvent { problem }) => {
            convstate::Error::InvalidPolicy {
                problem: format!("policy_overrides: {problem}"),
            }
            .into()
        }
        BindingError::Core(error) => convstate::Error::InvalidPolicy {
            problem: format!("policy_overrides: {error}"),
        }
        .into(),
        other => other,
    })?;
    // Only a mapping converts to an object.
    if !json.is_object() {
        return Err(PyTypeError::new_err(format!(
            "policy_overrides must be a mapping, got {}",
            type_name(overrides)
        ))
        .into());
    }
    Ok(Some(json))
}

/// Applies each wire-format line of `data` with `apply`, which appends its output lines,
/// reading lines as the command-line replay does: `\r\n` accepted, a byte-order mark
/// starting the data skipped, blank and `//` lines skipped, a line that is not UTF-8
/// answered with an error line.
fn apply_lines(data: &[u8], mut apply: impl FnMut(&str, &mut String)) -> String {
    // Output lines are a little longer than input lines on average.
    let mut output = String::with_capacity(data.len() * 2);
    let data = wire::strip_byte_order_mark(data);
    for line in data.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match wire::line_text(line) {
            Ok(line) if wire::is_skippable(line) => {}
            Ok(line) => apply(line, &mut output),
            Err(error) => {
                wire::encode_output_into(&Err(error), &mut output);
                output.push('\n');
            }
        }
    }
    output
}

/// Every item of `events` (lines or dicts of the wire format) as a line, blank and `//`
/// lines, and a byte-order mark starting the first line, left out as `process_bytes` leaves
/// them: a whole batch is converted before any of it is applied. A single `str`, `bytes`,
/// `bytearray` or `memoryview` is refused: iterating it would apply one "line" per
/// character or byte.
fn event_lines(method: &str, events: &Bound<'_, PyAny>) -> BindingResult<Vec<String>> {
    if events.is_instance_of::<PyString>()
        || events.is_instance_of::<PyBytes>()
        || events.is_instance_of::<PyByteArray>()
        || events.is_instance_of::<PyMemoryView>()
    {
        return Err(PyTypeError::new_err(format!(
            "{method}: events must be an iterable of lines or dicts, not a single {}; \
             give the text of many lines to process_bytes (as bytes: bytes(buffer))",
            type_name(events)
        ))
        .into());
    }
    // A dict (or set) is iterable too, by its keys (in hash order, for a set): each key
    // would be read as a line.
    if batch::is_set_or_mapping(events)? {
        return Err(PyTypeError::new_err(format!(
            "{method}: events must be a list (or another ordered iterable) of lines or dicts, \
             not a {}; give one event as [event]",
            type_name(events)
        ))
        .into());
    }
    // A table (pandas' or polars' DataFrame, known by its class name so that neither is
    // imported) iterates its column names: each was read as a line, and every one gave an
    // error line.
    if !events.is_instance_of::<PyList>() && type_name(events) == "DataFrame" {
        return Err(PyTypeError::new_err(format!(
            "{method}: a DataFrame is not a sequence of events (iterating one gives its \
             column names); give its columns to run_batch(kinds, at, numbers, contacts, \
             texts), or its rows as dicts: {method}(df.to_dict(\"records\"))"
        ))
        .into());
    }
    let mut lines = Vec::new();
    for (index, item) in events.try_iter()?.enumerate() {
        let mut line = event_line(method, index, &item?)?;
        // The lines of a file opened as text without `encoding="utf-8-sig"` start with the
        // mark: it is skipped where the input starts, as `process_bytes` and `convstate
        // replay` skip it, and malformed anywhere else.
        if index == 0 {
            let marked = line.len() - wire::strip_byte_order_mark(line.as_bytes()).len();
            line.drain(..marked);
        }
        if !wire::is_skippable(&line) {
            lines.push(line);
        }
    }
    Ok(lines)
}

/// A line or a mapping of the wire format, as a line. Anything else (a None from a data
/// pipeline, the bytes of a file opened in binary mode) is the caller's type error, raised
/// before anything is applied: as JSON it became an error line, and the batch went on.
fn event_line(method: &str, index: usize, item: &Bound<'_, PyAny>) -> BindingResult<String> {
    let line = if let Ok(line) = item.cast::<PyString>() {
        convert::line_text(line)
    } else if item.is_instance_of::<PyDict>() || item.cast::<PyMapping>().is_ok() {
        warn_of_unix_seconds_at(method, item)?;
        to_json_line(item)
    } else {
        return Err(PyTypeError::new_err(format!(
            "{method}: event {index} must be a str (a wire line) or a mapping (an event), got {}",
            type_name(item)
        ))
        .into());
    };
    // A value without a JSON form (a NaN from a DataFrame's records) or a str UTF-8 cannot
    // carry is named by its event's index, as an item of the wrong type is: the batch may
    // be long.
    line.map_err(|e| match e {
        BindingError::Core(error) => {
            errors::with_context(&error, &format!("{method}: event {index}")).into()
        }
        other => other,
    })
}

impl PyEngine {
    /// The engine, locked. A call that finds it busy (a batch another thread runs with the
    /// GIL released) waits with the GIL released too, so that the other Python threads run
    /// meanwhile; the guard itself is taken with the GIL held, as Python objects are read
    /// under it.
    fn locked(&self, py: Python<'_>) -> MutexGuard<'_, convstate::Engine> {
        loop {
            if let Some(engine) = self.engine.try_lock() {
                return engine;
            }
            py.detach(|| drop(self.engine.lock()));
        }
    }

    /// Applies an event given as a JSON object; `at` defaults to the engine's clock.
    fn apply(&self, py: Python<'_>, mut fields: EventFields) -> BindingResult<Output> {
        let mut engine = self.locked(py);
        fields
            .object
            .entry("at")
            .or_insert_with(|| Value::from(engine.clock().unix_millis()));
        let event = decode(Value::Object(fields.object))?;
        Ok(engine.handle(event)?)
    }

    fn decide(&self, py: Python<'_>, fields: EventFields) -> BindingResult<Py<PyDecision>> {
        let output = self.apply(py, fields)?;
        decision_to_python(py, &output)
    }
}

/// The `Decision` of a send's output.
pub(crate) fn decision_to_python(py: Python<'_>, output: &Output) -> BindingResult<Py<PyDecision>> {
    let decision = output_to_python(py, output)?;
    Ok(decision
        .cast_into::<PyDecision>()
        .map_err(PyErr::from)?
        .unbind())
}

#[pymethods]
impl PyEngine {
    /// A new engine under a policy preset, with optional overrides merged over it.
    #[new]
    #[pyo3(signature = (policy = "cloud-2025", policy_overrides = None))]
    fn new(policy: &str, policy_overrides: Option<&Bound<'_, PyAny>>) -> BindingResult<PyEngine> {
        Ok(PyEngine {
            engine: Mutex::new(convstate::Engine::new(policy_of(policy, policy_overrides)?)),
        })
    }

    /// The engine's clock: the largest instant it has seen.
    #[getter]
    fn clock<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let clock = self.locked(py).clock();
        datetime(py, clock)
    }

    /// The policy in force, as a dict.
    #[getter]
    fn policy<'py>(&self, py: Python<'py>) -> BindingResult<Bound<'py, PyAny>> {
        // Converted after the lock is let go: building the dict may run the garbage
        // collector, and a finalizer that calls this engine would wait for it for ever.
        let policy = self.locked(py).policy().clone();
        to_python(py, &policy)
    }

    /// Registers (or updates) a number of a business.
    #[pyo3(signature = (number, *, business, channel, at = None, provider = None, idle_timeout = None, default_template = None, phone_number_id = None, timezone = None))]
    #[allow(clippy::too_many_arguments)]
    fn register_number(
        &self,
        py: Python<'_>,
        number: &str,
        business: &str,
        channel: &str,
        at: Option<&Bound<'_, PyAny>>,
        provider: Option<&str>,
        idle_timeout: Option<&Bound<'_, PyAny>>,
        default_template: Option<&Bound<'_, PyAny>>,
        phone_number_id: Option<&str>,
        timezone: Option<&str>,
    ) -> BindingResult<()> {
        let fields = EventFields::new("register_number")
            .text("number", Some(number))
            .text("business", Some(business))
            .text("channel", Some(channel))
            .text("provider", provider)
            .text("phone_number_id", phone_number_id)
            .text("timezone", timezone)
            .at(at)?
            .value("idle_timeout", idle_timeout)?
            .value("default_template", default_template)?;
        self.apply(py, fields).map(drop)
    }

    /// Registers a template of a business.
    #[pyo3(signature = (business, name, language, *, category, body, at = None, status = None, quality = None, header = None, footer = None, buttons = None))]
    #[allow(clippy::too_many_arguments)]
    fn register_template(
        &self,
        py: Python<'_>,
        business: &str,
        name: &str,
        language: &str,
        category: &str,
        body: &str,
        at: Option<&Bound<'_, PyAny>>,
        status: Option<&str>,
        quality: Option<&str>,
        header: Option<&str>,
        footer: Option<&str>,
        buttons: Option<&Bound<'_, PyAny>>,
    ) -> BindingResult<()> {
        let fields = EventFields::new("register_template")
            .text("business", Some(business))
            .text("name", Some(name))
            .text("language", Some(language))
            .text("category", Some(category))
            .text("body", Some(body))
            .text("status", status)
            .text("quality", quality)
            .text("header", header)
            .text("footer", footer)
            .at(at)?
            .value("buttons", buttons)?;
        self.apply(py, fields).map(drop)
    }

    /// A message (or call) from a contact, or in a group: `InboundOutcome.TAKEN`, or
    /// `REDELIVERED` for a message the provider delivered again (it changed nothing).
    #[pyo3(signature = (number, contact = None, *, at, kind = "text", group = None, size = None, message_id = None, referral = false, user_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn inbound<'py>(
        &self,
        py: Python<'py>,
        number: &str,
        contact: Option<&str>,
        at: &Bound<'_, PyAny>,
        kind: &str,
        group: Option<&str>,
        size: Option<&Bound<'_, PyAny>>,
        message_id: Option<&str>,
        referral: bool,
        user_id: Option<&str>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let fields = inbound_fields(
            number, contact, at, kind, group, size, message_id, referral, user_id,
        )?;
        let output = self.apply(py, fields)?;
        Ok(output_to_python(py, &output)?)
    }

    /// A delivery status of a message sent with a `message_id`: `StatusOutcome.MATCHED`, or
    /// `UNMATCHED` when no send recorded under that id is remembered (it changed nothing).
    #[pyo3(signature = (number, contact, *, at, message_id, status, errors = None, pricing = None, user_id = None))]
    #[allow(clippy::too_many_arguments)]
    fn message_status<'py>(
        &self,
        py: Python<'py>,
        number: &str,
        contact: &str,
        at: &Bound<'_, PyAny>,
        message_id: &str,
        status: &str,
        errors: Option<&Bound<'_, PyAny>>,
        pricing: Option<&Bound<'_, PyAny>>,
        user_id: Option<&str>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let fields = message_status_fields(
            number, contact, at, message_id, status, errors, pricing, user_id,
        )?;
        let output = self.apply(py, fields)?;
        Ok(output_to_python(py, &output)?)
    }

    /// Decides a send without recording anything.
    #[pyo3(signature = (number, contact = None, *, at, text = None, message = None, group = None, idempotency_key = None, force = false, automated = false))]
    #[allow(clippy::too_many_arguments)]
    fn check_send(
        &self,
        py: Python<'_>,
        number: &str,
        contact: Option<&str>,
        at: &Bound<'_, PyAny>,
        text: Option<&str>,
        message: Option<&Bound<'_, PyAny>>,
        group: Option<&str>,
        idempotency_key: Option<&str>,
        force: bool,
        automated: bool,
    ) -> BindingResult<Py<PyDecision>> {
        let fields = send_fields(
            "check_send",
            number,
            contact,
            at,
            text,
            message,
            group,
            idempotency_key,
            force,
        )?
        .flag("automated", automated);
        self.decide(py, fields)
    }

    /// Decides a send and records it (counters, duplicates, limit slot) atomically;
    /// `automated`: sent by automation, no agent response (RULES §3).
    #[pyo3(signature = (number, contact = None, *, at, text = None, message = None, group = None, idempotency_key = None, force = false, message_id = None, automated = false))]
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        py: Python<'_>,
        number: &str,
        contact: Option<&str>,
        at: &Bound<'_, PyAny>,
        text: Option<&str>,
        message: Option<&Bound<'_, PyAny>>,
        group: Option<&str>,
        idempotency_key: Option<&str>,
        force: bool,
        message_id: Option<&str>,
        automated: bool,
    ) -> BindingResult<Py<PyDecision>> {
        let fields = send_fields(
            "send",
            number,
            contact,
            at,
            text,
            message,
            group,
            idempotency_key,
            force,
        )?
        .text("message_id", message_id)
        .flag("automated", automated);
        self.decide(py, fields)
    }

    /// Starts a conversation: a template now, the message once the contact answers;
    /// `automated`: started by automation, no agent response (RULES §3), as for `send`.
    #[pyo3(signature = (number, contact, *, at, text = None, message = None, template = None, idempotency_key = None, message_id = None, automated = false))]
    #[allow(clippy::too_many_arguments)]
    fn initiate(
        &self,
        py: Python<'_>,
        number: &str,
        contact: &str,
        at: &Bound<'_, PyAny>,
        text: Option<&str>,
        message: Option<&Bound<'_, PyAny>>,
        template: Option<&Bound<'_, PyAny>>,
        idempotency_key: Option<&str>,
        message_id: Option<&str>,
        automated: bool,
    ) -> BindingResult<Py<PyDecision>> {
        let fields = EventFields::new("initiate")
            .text("number", Some(number))
            .text("contact", Some(contact))
            .text("idempotency_key", idempotency_key)
            .text("message_id", message_id)
            .required_at(at)?
            .message(text, message)?
            .value("template", template)?
            .flag("automated", automated);
        self.decide(py, fields)
    }

    /// An agent (or a rule) ends a live chat.
    #[pyo3(signature = (number, contact, *, at, by = "agent", status = None))]
    fn end_chat(
        &self,
        py: Python<'_>,
        number: &str,
        contact: &str,
        at: &Bound<'_, PyAny>,
        by: &str,
        status: Option<&str>,
    ) -> BindingResult<()> {
        let fields = EventFields::new("end_chat")
            .text("number", Some(number))
            .text("contact", Some(contact))
            .text("by", Some(by))
            .text("status", status)
            .required_at(at)?;
        self.apply(py, fields).map(drop)
    }

    /// Changes a ticket's status; `ticket` names the ticket meant.
    #[pyo3(signature = (number, contact, status, *, at, ticket = None))]
    fn set_ticket_status(
        &self,
        py: Python<'_>,
        number: &str,
        contact: &str,
        status: &str,
        at: &Bound<'_, PyAny>,
        ticket: Option<&Bound<'_, PyAny>>,
    ) -> BindingResult<()> {
        let fields = EventFields::new("set_ticket_status")
            .text("number", Some(number))
            .text("contact", Some(contact))
            .text("status", Some(status))
            .value("ticket", ticket)?
            .required_at(at)?;
        self.apply(py, fields).map(drop)
    }

    /// Records a contact's opt-in with a business (give `business` or one of its numbers).
    #[pyo3(signature = (contact, *, at, business = None, number = None))]
    fn opt_in(
        &self,
        py: Python<'_>,
        contact: &str,
        at: &Bound<'_, PyAny>,
        business: Option<&str>,
        number: Option<&str>,
    ) -> BindingResult<()> {
        self.apply(py, consent_fields("opt_in", contact, at, business, number)?)
            .map(drop)
    }

    /// Records that a contact withdrew their opt-in.
    #[pyo3(signature = (contact, *, at, business = None, number = None))]
    fn opt_out(
        &self,
        py: Python<'_>,
        contact: &str,
        at: &Bound<'_, PyAny>,
        business: Option<&str>,
        number: Option<&str>,
    ) -> BindingResult<()> {
        self.apply(
            py,
            consent_fields("opt_out", contact, at, business, number)?,
        )
        .map(drop)
    }

    /// Goes on under another policy that differs in pricing alone (the 2026-10-01 era, a new
    /// rate card); `at` defaults to the clock, which it moves as any input does (give it in
    /// time order with the events around it).
    #[pyo3(signature = (policy, *, at = None, policy_overrides = None))]
    fn change_policy(
        &self,
        py: Python<'_>,
        policy: &str,
        at: Option<&Bound<'_, PyAny>>,
        policy_overrides: Option<&Bound<'_, PyAny>>,
    ) -> BindingResult<()> {
        let mut fields = EventFields::new("change_policy")
            .text("policy", Some(policy))
            .at(at)?;
        if let Some(overrides) = overrides_json(policy_overrides)? {
            fields.object.insert("policy_overrides".into(), overrides);
        }
        self.apply(py, fields).map(drop)
    }

    /// Time passed: fires every timer due at or before `at`; effects queue up.
    fn tick(&self, py: Python<'_>, at: &Bound<'_, PyAny>) -> BindingResult<()> {
        self.apply(py, EventFields::new("tick").required_at(at)?)
            .map(drop)
    }

    /// When `tick` should be called next, or None when no timer is set. Never later than
    /// the next change a timer makes, and sometimes earlier: a wake-up for a chat's idle
    /// deadline that later activity moved finds nothing due and arms the real one.
    fn poll_timeout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let deadline = self.locked(py).poll_timeout();
        deadline.map(|at| datetime(py, at)).transpose()
    }

    /// The state of one conversation at `at` (changes nothing), as a dict. `at` is the
    /// engine's clock or later: the view refuses an earlier one (`view_before_clock`), where
    /// a `query_conversation` given to `handle` reads at the clock, as every late line does.
    #[pyo3(signature = (number, contact, *, at))]
    fn conversation<'py>(
        &self,
        py: Python<'py>,
        number: &str,
        contact: &str,
        at: &Bound<'_, PyAny>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let at = instant(at, "conversation", "at")?;
        let view = self.locked(py).conversation(number, contact, at)?;
        to_python(py, &view)
    }

    /// A number's registration, quality, flag, restrictions and counters, as a dict: at
    /// `at` (the engine's clock or later; the flag and restrictions as they stand then),
    /// or at the clock when `at` is None.
    #[pyo3(signature = (number, *, at = None))]
    fn number<'py>(
        &self,
        py: Python<'py>,
        number: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let at = at.map(|at| instant(at, "number", "at")).transpose()?;
        let engine = self.locked(py);
        let view = match at {
            Some(at) => engine.number_at(number, at)?,
            None => engine.number(number)?,
        };
        to_python(py, &view)
    }

    /// The messaging limit `number` sends under at `at` (the engine's clock or later), as a
    /// dict: its level, the contacts counted and when a slot frees (as `query_limit`).
    #[pyo3(signature = (number, *, at))]
    fn limit<'py>(
        &self,
        py: Python<'py>,
        number: &str,
        at: &Bound<'_, PyAny>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let at = instant(at, "limit", "at")?;
        let view = self.locked(py).limit(number, at)?;
        to_python(py, &view)
    }

    /// A month's usage and charges of one number or of a whole business (give exactly one),
    /// as a dict, as `query_usage` answers it: `month` `"YYYY-MM"`, or by default the month
    /// of `at` where the business counts its months.
    #[pyo3(signature = (*, at, number = None, business = None, month = None))]
    fn usage<'py>(
        &self,
        py: Python<'py>,
        at: &Bound<'_, PyAny>,
        number: Option<String>,
        business: Option<String>,
        month: Option<String>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let query = usage_query(at, number, business, month)?;
        let view = self.locked(py).usage_view(&query)?;
        to_python(py, &view)
    }

    /// A template's status and quality, as a dict: at `at` (the engine's clock or later;
    /// the status in force then), or at the clock when `at` is None.
    #[pyo3(signature = (business, name, language, *, at = None))]
    fn template<'py>(
        &self,
        py: Python<'py>,
        business: &str,
        name: &str,
        language: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let at = at.map(|at| instant(at, "template", "at")).transpose()?;
        let engine = self.locked(py);
        let view = match at {
            Some(at) => engine.template_at(business, name, language, at)?,
            None => engine.template(business, name, language)?,
        };
        to_python(py, &view)
    }

    /// Applies one event given as a dict of the wire format (any event type). Returns a
    /// `Decision`, a dict for a view, an `InboundOutcome` for an inbound, a `StatusOutcome`
    /// for a message status, or None for another acknowledgement. Effects queue up for
    /// `poll_effect`. Raises a `ConvstateError` subclass on bad input, a `TypeError` for an
    /// event that is neither a mapping nor a str.
    fn handle<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'_, PyAny>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let event = event_arg(event)?;
        let output = self.locked(py).handle(event)?;
        Ok(output_to_python(py, &output)?)
    }

    /// Applies one wire-format line; returns the result line followed by one line per
    /// effect, exactly as every other binding does: the effects it caused, after any that
    /// earlier typed calls left queued (poll those first to keep each effect with its
    /// input). Never raises for bad input: an error becomes an error line (a str with no
    /// UTF-8 form raises `UnicodeEncodeError` before the engine sees it).
    fn handle_json(&self, py: Python<'_>, line: &str) -> Vec<String> {
        self.locked(py).handle_json(line)
    }

    /// Applies a Meta Cloud API webhook body (bytes or str as received, or the parsed dict)
    /// and returns one wire line per item of the payload, each followed by its effect lines:
    /// `ack` (with `path` and the `event` applied), `error` (with `path`), `unrecognized` and
    /// `skipped` (with `path` and `reason`, and the `event` of a message already taken,
    /// which the provider delivered again). A body that is not a webhook gives one error
    /// line; only a parsed payload without a JSON form (a NaN, a set) raises, as any argument
    /// without one does. `received_at` (default: the engine's clock) is used only for items
    /// without their own timestamp. `waba_businesses` maps WABA ids (the `entry` ids of
    /// template and account webhooks) to business names.
    #[pyo3(signature = (payload, received_at = None, waba_businesses = None))]
    fn handle_webhook(
        &self,
        py: Python<'_>,
        payload: &Bound<'_, PyAny>,
        received_at: Option<&Bound<'_, PyAny>>,
        waba_businesses: Option<&Bound<'_, PyAny>>,
    ) -> BindingResult<Vec<String>> {
        let body = webhook_body(payload)?;
        let received_at = received_at
            .map(|at| instant(at, "handle_webhook", "received_at"))
            .transpose()?;
        let reader = webhook_reader(waba_businesses)?;
        Ok(py.detach(|| {
            let mut engine = self.engine.lock();
            let at = received_at.unwrap_or_else(|| engine.clock());
            reader.handle_json(&mut engine, &body, at)
        }))
    }

    /// Applies a batch of events (lines or dicts of the wire format) with the GIL released
    /// and returns every output line (each input's result line, then its effect lines), as
    /// strings in the wire format. Blank and `//` lines, and a byte-order mark starting the
    /// first line, are skipped, as `process_bytes` skips them. A dict's int `at` that looks
    /// like unix seconds warns, as `handle` warns of one. The whole batch is converted first: an item that cannot be converted
    /// raises and nothing is applied (one neither a `str` nor a mapping with `TypeError`);
    /// a single `str`, `bytes`, `bytearray` or `memoryview` raises `TypeError`.
    fn process<'py>(
        &self,
        py: Python<'py>,
        events: &Bound<'py, PyAny>,
    ) -> BindingResult<Bound<'py, PyList>> {
        let lines = event_lines("process", events)?;
        let outputs = py.detach(|| {
            let mut engine = self.engine.lock();
            let mut outputs = Vec::with_capacity(lines.len() * 2);
            for line in &lines {
                outputs.extend(engine.handle_json(line));
            }
            outputs
        });
        Ok(PyList::new(py, outputs)?)
    }

    /// Applies a table of events given as columns (one row per event) and returns one
    /// outcome code per row in a `BatchResult`. Rows are `inbound` (a text message from the
    /// contact), `send` (decide and record) or `check_send` (decide only); a send row carries
    /// a text, or a template (name, language, optional positional params; a row with both
    /// sends the template, its text unread); `automated` (a bool for every row, or a column
    /// of them) marks send rows by automation, as `send`'s argument does. Every column is
    /// read and checked first (a malformed column raises TypeError/ValueError naming it, and
    /// nothing is applied); then the rows run in order with the GIL released, exactly as the
    /// one-by-one methods would run them. A row the engine refuses gets the `error` outcome
    /// and changes nothing; the batch goes on. Effects are counted and dropped unless
    /// `keep_effects`, in which case they stay queued for `poll_effect`. `kinds` as bytes of
    /// codes and `at` as an `array('q')`/numpy int64 of milliseconds are read in one go.
    #[pyo3(signature = (kinds, at, numbers, contacts, texts = None, *, templates = None, languages = None, params = None, automated = None, keep_effects = false))]
    #[allow(clippy::too_many_arguments)]
    fn run_batch(
        &self,
        py: Python<'_>,
        kinds: &Bound<'_, PyAny>,
        at: &Bound<'_, PyAny>,
        numbers: &Bound<'_, PyAny>,
        contacts: &Bound<'_, PyAny>,
        texts: Option<&Bound<'_, PyAny>>,
        templates: Option<&Bound<'_, PyAny>>,
        languages: Option<&Bound<'_, PyAny>>,
        params: Option<&Bound<'_, PyAny>>,
        automated: Option<&Bound<'_, PyAny>>,
        keep_effects: bool,
    ) -> PyResult<PyBatchResult> {
        let columns = Columns::read(
            kinds, at, numbers, contacts, texts, templates, languages, params, automated,
        )?;
        let outcome = py.detach(|| {
            let mut engine = self.engine.lock();
            // Dropping effects queued by earlier calls would lose them silently.
            if !keep_effects && engine.peek_effect().is_some() {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "run_batch: effects from earlier calls are still queued; drain them with \
                     effects() first, or pass keep_effects=True",
                ));
            }
            Ok(batch::run(&mut *engine, &columns, keep_effects))
        })?;
        Ok(PyBatchResult::new(py, outcome, keep_effects))
    }

    /// Applies wire-format lines (UTF-8, one event per line; blank and `//` lines, and a
    /// byte-order mark starting the data, are skipped as `convstate replay` skips them) with the
    /// GIL released and returns every output line, each ending in a newline, as one bytes
    /// object: for each event its result line, then its effect lines. Never raises for bad
    /// input: a line that does not decode (or is not UTF-8) gives an error line.
    fn process_bytes<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let data = bytes_arg(data, "process_bytes", "data")?;
        let output = py.detach(|| {
            let mut engine = self.engine.lock();
            apply_lines(&data, |line, output| engine.handle_json_into(line, output))
        });
        Ok(PyBytes::new(py, output.as_bytes()))
    }

    /// The next effect (what changed), oldest first, as a dict; None when there is none.
    fn poll_effect<'py>(&self, py: Python<'py>) -> BindingResult<Option<Bound<'py, PyAny>>> {
        let effect = self.locked(py).poll_effect();
        effect.map(|e| to_python(py, &e)).transpose()
    }

    /// Drains every queued effect, oldest first.
    fn effects<'py>(&self, py: Python<'py>) -> BindingResult<Vec<Bound<'py, PyAny>>> {
        let drained: Vec<convstate::Effect> = {
            let mut engine = self.locked(py);
            std::iter::from_fn(|| engine.poll_effect()).collect()
        };
        drained.iter().map(|e| to_python(py, e)).collect()
    }

    /// A business's whole state as bytes, to move it to another engine or node with
    /// `import_business`. This engine is not changed.
    fn export_business<'py>(
        &self,
        py: Python<'py>,
        business: &str,
    ) -> BindingResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.engine.lock().export_business(business))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Adds a business exported by `export_business`. The engines must run the same policy,
    /// and the business and its numbers must not be here yet; its idempotency keys and
    /// message ids are its own (a business here may use the same ones). A refused
    /// import changes nothing. Timers that fell due between the two engines' clocks fire
    /// at their own instants: their effects queue up for `poll_effect`.
    fn import_business(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> BindingResult<()> {
        let data = bytes_arg(data, "import_business", "data")?;
        py.detach(|| self.engine.lock().import_business(&data))?;
        Ok(())
    }

    /// Drops a business and everything it owns: the last step of moving it (export here,
    /// import there, remove here). The other businesses decide exactly as before.
    fn remove_business(&self, py: Python<'_>, business: &str) -> BindingResult<()> {
        py.detach(|| self.engine.lock().remove_business(business))?;
        Ok(())
    }

    /// `export_business` and `remove_business` in one step: the business's export (the bytes
    /// `export_business` gives), and the business gone from this engine. All or nothing: a
    /// refused take (an unknown business) changes nothing.
    fn take_business<'py>(
        &self,
        py: Python<'py>,
        business: &str,
    ) -> BindingResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.engine.lock().take_business(business))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A new engine holding only the business of `export_business` bytes, under the
    /// export's policy: the first business of a new node.
    #[staticmethod]
    fn from_business_export(py: Python<'_>, data: &Bound<'_, PyAny>) -> BindingResult<PyEngine> {
        let data = bytes_arg(data, "from_business_export", "data")?;
        let engine = py.detach(|| convstate::Engine::from_business_export(&data))?;
        Ok(PyEngine {
            engine: Mutex::new(engine),
        })
    }

    /// The whole engine as bytes, restored exactly by `Engine.restore`: the effects still
    /// queued too (drain `effects()` first, or a restored copy hands them out again).
    fn snapshot<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let bytes = py.detach(|| self.engine.lock().snapshot());
        PyBytes::new(py, &bytes)
    }

    /// An engine from `snapshot()` bytes.
    #[staticmethod]
    fn restore(py: Python<'_>, snapshot: &Bound<'_, PyAny>) -> BindingResult<PyEngine> {
        let snapshot = bytes_arg(snapshot, "restore", "snapshot")?;
        Ok(PyEngine {
            engine: Mutex::new(py.detach(|| convstate::Engine::restore(&snapshot))?),
        })
    }

    /// Pickles (and copies) through `snapshot()` and `restore()`, with every protocol.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Reduced<'py>> {
        reduce_through_restore(slf.as_any(), slf.get().snapshot(slf.py()))
    }

    fn __getstate__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.snapshot(py)
    }

    /// Reads pickles written before `__reduce__` (protocol 2 and later).
    fn __setstate__(&self, py: Python<'_>, state: &Bound<'_, PyAny>) -> BindingResult<()> {
        let state = bytes_arg(state, "__setstate__", "state")?;
        let restored = py.detach(|| convstate::Engine::restore(&state))?;
        *self.locked(py) = restored;
        Ok(())
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let engine = self.locked(py);
        format!(
            "Engine(policy={:?}, clock={}, conversations={})",
            engine.policy().name,
            engine.clock(),
            engine.conversation_count()
        )
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn send_fields(
    type_name: &'static str,
    number: &str,
    contact: Option<&str>,
    at: &Bound<'_, PyAny>,
    text: Option<&str>,
    message: Option<&Bound<'_, PyAny>>,
    group: Option<&str>,
    idempotency_key: Option<&str>,
    force: bool,
) -> BindingResult<EventFields> {
    let fields = EventFields::new(type_name)
        .text("number", Some(number))
        .text("contact", contact)
        .text("group", group)
        .text("idempotency_key", idempotency_key)
        .required_at(at)?
        .message(text, message)?
        .flag("force", force);
    Ok(fields)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn inbound_fields(
    number: &str,
    contact: Option<&str>,
    at: &Bound<'_, PyAny>,
    kind: &str,
    group: Option<&str>,
    size: Option<&Bound<'_, PyAny>>,
    message_id: Option<&str>,
    referral: bool,
    user_id: Option<&str>,
) -> BindingResult<EventFields> {
    EventFields::new("inbound")
        .text("number", Some(number))
        .text("contact", contact)
        .text("group", group)
        .text("kind", Some(kind))
        .text("message_id", message_id)
        .text("user_id", user_id)
        .flag("referral", referral)
        .required_at(at)?
        .value("size", size)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn message_status_fields(
    number: &str,
    contact: &str,
    at: &Bound<'_, PyAny>,
    message_id: &str,
    status: &str,
    errors: Option<&Bound<'_, PyAny>>,
    pricing: Option<&Bound<'_, PyAny>>,
    user_id: Option<&str>,
) -> BindingResult<EventFields> {
    EventFields::new("message_status")
        .text("number", Some(number))
        .text("contact", Some(contact))
        .text("message_id", Some(message_id))
        .text("status", Some(status))
        .text("user_id", user_id)
        .required_at(at)?
        .value("errors", errors)?
        .value("pricing", pricing)
}

/// The event of `handle`'s argument: a wire line, or a dict of the wire format.
pub(crate) fn event_arg(event: &Bound<'_, PyAny>) -> BindingResult<Event> {
    let decoded = match event.cast::<PyString>() {
        Ok(line) => wire::decode_event(&line.to_cow()?)?,
        // Read as the line it would be, with the keys in the dict's order: an error names
        // the field the line's error names.
        Err(_) if event.is_instance_of::<PyDict>() || event.cast::<PyMapping>().is_ok() => {
            let decoded = wire::decode_event(&to_json_line(event)?)?;
            warn_of_unix_seconds_at("handle", event)?;
            decoded
        }
        // A pandas row (a Series) or a whole table read as a JSON array said "invalid type:
        // sequence", which named neither the argument nor the way out.
        Err(_) => {
            return Err(PyTypeError::new_err(format!(
                "handle: the event must be a str (a wire line) or a mapping (an event), got \
                 {}{}",
                type_name(event),
                match type_name(event).as_str() {
                    "Series" => "; a pandas row is handle(row.to_dict())",
                    "DataFrame" => "; give its rows to process(df.to_dict(\"records\"))",
                    _ => "",
                }
            ))
            .into())
        }
    };
    Ok(decoded)
}

/// Warns (`UnixSecondsWarning`) when an event given as a mapping has an `at` that looks like
/// unix seconds, as the typed calls warn of their `at` (the same check): a frame of Meta's
/// timestamps given as records would be decided in January 1970. A line's text is read as
/// the C library reads it. An `at` that is no instant is left to the event's own error.
fn warn_of_unix_seconds_at(method: &str, event: &Bound<'_, PyAny>) -> BindingResult<()> {
    let Ok(at) = event.get_item("at") else {
        return Ok(());
    };
    if let Ok(Some(instant)) = convert::instant_value(&at) {
        convert::warn_if_unix_seconds(&at, instant, &format!("{method}: event \"at\""))?;
    }
    Ok(())
}

fn consent_fields(
    type_name: &'static str,
    contact: &str,
    at: &Bound<'_, PyAny>,
    business: Option<&str>,
    number: Option<&str>,
) -> BindingResult<EventFields> {
    EventFields::new(type_name)
        .text("contact", Some(contact))
        .text("business", business)
        .text("number", number)
        .required_at(at)
}

/// A core value (an effect, a view, the policy) as the dict of its wire form.
/// A `query_usage` of the typed `usage` calls' arguments.
pub(crate) fn usage_query(
    at: &Bound<'_, PyAny>,
    number: Option<String>,
    business: Option<String>,
    month: Option<String>,
) -> BindingResult<convstate::event::UsageRef> {
    let at = instant(at, "usage", "at")?;
    Ok(convstate::event::UsageRef {
        at,
        number,
        business,
        month,
    })
}

pub(crate) fn to_python<'py>(
    py: Python<'py>,
    value: &impl serde::Serialize,
) -> BindingResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(value).map_err(|e| invalid(&e.to_string()))?;
    Ok(from_json(py, &json)?)
}

/// Version of the wire schema this build speaks.
#[pyfunction]
fn wire_version() -> u32 {
    wire::WIRE_VERSION
}

/// The wire names of the core's enums, by the Python enum that must hold them (for the
/// package's own tests; see `wire_names.rs`).
#[pyfunction]
fn _wire_names() -> std::collections::BTreeMap<&'static str, Vec<&'static str>> {
    wire_names::wire_names()
}

#[pymodule]
fn _convstate(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<PyEngine>()?;
    module.add_class::<PyDecision>()?;
    module.add_class::<PyBilling>()?;
    module.add_class::<PyBatchResult>()?;
    module.add_class::<sharded::PyShardedEngine>()?;
    module.add_function(wrap_pyfunction!(wire_version, module)?)?;
    module.add_function(wrap_pyfunction!(_wire_names, module)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add("build_commit", convstate::BUILD_COMMIT)?;
    Ok(())
}

/// A webhook body as `handle_webhook` takes it: the bytes as received (of any buffer a web
/// framework hands over, or text), or the JSON object already decoded; anything else is the
/// caller's mistake (`TypeError`).
pub(crate) fn webhook_body(payload: &Bound<'_, PyAny>) -> BindingResult<Vec<u8>> {
    Ok(if let Ok(bytes) = payload.cast::<PyBytes>() {
        bytes.as_bytes().to_vec()
    } else if let Ok(bytes) = payload.cast::<PyByteArray>() {
        bytes.to_vec()
    } else if payload.is_instance_of::<PyMemoryView>() {
        payload.call_method0("tobytes")?.extract::<Vec<u8>>()?
    } else if payload.is_instance_of::<PyString>() {
        payload.extract::<String>()?.into_bytes()
    } else if payload.is_instance_of::<PyDict>() || payload.cast::<PyMapping>().is_ok() {
        match to_json_line(payload) {
            Ok(line) => line.into_bytes(),
            // A text cut inside an emoji: `json.loads` of the body kept the half pair as a
            // lone surrogate, which has no UTF-8 form. Written back as the body had it (an
            // escape), it is read as the body would be: U+FFFD and an `unrecognized` line,
            // the other items applied.
            // (`to_json_line` refuses such a str with the `LONE_SURROGATE` problem, naming
            // its field, where an event given as a dict is the caller's to mend.)
            Err(BindingError::Core(convstate::Error::InvalidEvent { problem }))
                if problem.ends_with(convert::LONE_SURROGATE) =>
            {
                let dumps = payload.py().import("json")?.getattr("dumps")?;
                let kwargs = PyDict::new(payload.py());
                kwargs.set_item("allow_nan", false)?;
                dumps
                    .call((payload,), Some(&kwargs))?
                    .extract::<String>()?
                    .into_bytes()
            }
            Err(e) => return Err(e),
        }
    } else {
        return Err(PyTypeError::new_err(format!(
            "handle_webhook: payload must be the body (bytes, bytearray, memoryview or str) \
             or its decoded JSON object (a mapping), got {}",
            payload.get_type().name()?
        ))
        .into());
    })
}

/// The reader `handle_webhook` reads with: `waba_businesses` maps WABA ids (the `entry` ids
/// of template and account webhooks) to business names.
pub(crate) fn webhook_reader(
    waba_businesses: Option<&Bound<'_, PyAny>>,
) -> BindingResult<convstate::webhook::WebhookReader> {
    let mut reader = convstate::webhook::WebhookReader::new();
    for (waba, business) in waba_businesses
        .map(|pairs| string_pairs(pairs, "waba_businesses"))
        .transpose()?
        .unwrap_or_default()
    {
        reader
            .map_business(&waba, &business)
            .map_err(|e| crate::errors::with_context(&e, "waba_businesses"))?;
    }
    Ok(reader)
}
