//! `convstate.ShardedEngine`: the core's thread-safe sharded engine, for Python hosts that
//! apply batches from several threads at once.
//!
//! Every call releases the GIL while the core works, and the core locks only the shard an
//! input belongs to, so threads feeding different businesses run in parallel. Effects come
//! back from the call that caused them (as output lines, or counted in a `BatchResult`):
//! its inputs' effects and those of the timers their instants fired in their shards, which
//! may belong to other businesses of a shard. There is no shared effect queue to poll.

use convstate::sharded::{ShardedEngine, MAX_SHARDS};
use convstate::{Effect, Event, Output};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyList};

use crate::batch::{self, Columns, PyBatchResult, ShardedRows};
use crate::convert::{bytes_arg, datetime, instant, python_int, repr, type_name};
use crate::errors::{self, BindingError, BindingResult};
use crate::results::PyDecision;
use crate::{
    apply_lines, decision_to_python, event_arg, event_lines, inbound_fields, message_status_fields,
    output_to_python, policy_of, reduce_through_restore, send_fields, to_python, usage_query,
    webhook_body, webhook_reader, Reduced,
};

/// N engines sharded by business, for hosts that apply inputs from several threads.
///
/// Each business lives whole in one shard (a stable hash of its name), so business-wide
/// rules (messaging limits, consent, usage) stay exact however many threads call at once.
/// Every call releases the GIL while the core works and locks only the shard its input
/// belongs to: threads feeding different businesses run in parallel. Each shard keeps its
/// own clock and, like one ``Engine``, expects its inputs in time order (an input older
/// than its shard's clock is applied at the clock): feed each shard's businesses from one
/// thread (``shard_of_business``). Effects come back from the call that caused them: its
/// inputs' effects and those of the timers their instants fired in their shards, which may
/// belong to other businesses of a shard. There is no effect queue to poll.
#[pyclass(frozen, module = "convstate", name = "ShardedEngine")]
#[derive(Debug)]
pub struct PyShardedEngine {
    engine: ShardedEngine,
}

/// The `shards` argument. An int, or any integer with `__index__` (a numpy `int64`, as every
/// other integer argument takes); anything else (a str, a float, a bool) is a `TypeError`
/// naming the argument, as Python's own calls give; an int out of range (negative, or huge)
/// gets the same error as 0, not an OverflowError from the conversion; the core checks the
/// upper bound.
fn shard_count(shards: &Bound<'_, PyAny>) -> PyResult<usize> {
    let int = match python_int(shards)? {
        Some(int) if !shards.is_instance_of::<PyBool>() => int,
        _ => {
            return Err(PyTypeError::new_err(format!(
                "shards must be an int, got {}",
                type_name(shards)
            )))
        }
    };
    let count = int.extract::<usize>().ok().filter(|&n| n >= 1);
    count.ok_or_else(|| {
        BindingError::Core(convstate::Error::InvalidEvent {
            // Its repr, not its Display: an int too long to print made Display write an
            // "Exception ignored" error to stderr.
            problem: format!(
                "a sharded engine needs 1..={MAX_SHARDS} shards, got {}",
                repr(shards)
            ),
        })
        .into()
    })
}

impl PyShardedEngine {
    /// Applies `event` in its shard with the GIL released: its output and the effects it
    /// caused. A refused input raises with the effects it caused before it was refused (the
    /// timers its instant fired) on the exception's `effects`, as this engine has no queue
    /// to keep them in.
    fn applied<'py>(
        &self,
        py: Python<'py>,
        event: Event,
    ) -> BindingResult<(Output, Bound<'py, PyList>)> {
        let (output, effects) = py.detach(|| {
            let mut effects = Vec::new();
            (self.engine.handle(event, &mut effects), effects)
        });
        let effects = effect_list(py, &effects)?;
        match output {
            Ok(output) => Ok((output, effects)),
            Err(e) => Err(errors::with_effects(e.into(), &effects)),
        }
    }
}

/// Effects as a list of the dicts of their wire form.
fn effect_list<'py>(py: Python<'py>, effects: &[Effect]) -> BindingResult<Bound<'py, PyList>> {
    let effects = effects
        .iter()
        .map(|effect| to_python(py, effect))
        .collect::<BindingResult<Vec<_>>>()?;
    Ok(PyList::new(py, effects)?)
}

#[pymethods]
impl PyShardedEngine {
    /// `shards` engines under a policy preset, with optional overrides merged over it.
    #[new]
    #[pyo3(signature = (policy = "cloud-2025", shards = 4, policy_overrides = None))]
    fn new(
        policy: &str,
        #[pyo3(from_py_with = shard_count)] shards: usize,
        policy_overrides: Option<&Bound<'_, PyAny>>,
    ) -> BindingResult<PyShardedEngine> {
        let policy = policy_of(policy, policy_overrides)?;
        Ok(PyShardedEngine {
            engine: ShardedEngine::new(policy, shards)?,
        })
    }

    /// How many shards there are.
    #[getter]
    fn shard_count(&self) -> usize {
        self.engine.shard_count()
    }

    /// The shard a business lives in (a stable hash of its name).
    fn shard_of_business(&self, business: &str) -> usize {
        self.engine.shard_of_business(business)
    }

    /// As `Engine.check_send`, in the number's shard: decides a send without recording
    /// anything, with the GIL released. It changes nothing, so it has no effects.
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
        let event = fields.into_event()?;
        // A check changes nothing: no effects to hand back.
        let output = py.detach(|| self.engine.handle(event, &mut Vec::new()))?;
        decision_to_python(py, &output)
    }

    /// As `Engine.handle`, in the input's shard with the GIL released: its result (as
    /// `Engine.handle` returns it) and the effects it caused.
    fn handle<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'_, PyAny>,
    ) -> BindingResult<(Bound<'py, PyAny>, Bound<'py, PyList>)> {
        let event = event_arg(event).map_err(errors::without_effects)?;
        let (output, effects) = self.applied(py, event)?;
        Ok((output_to_python(py, &output)?, effects))
    }

    /// As `Engine.inbound`, in the number's shard with the GIL released: an
    /// `InboundOutcome` (`TAKEN`, or `REDELIVERED` for a message the provider delivered
    /// again) and the effects it caused.
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
    ) -> BindingResult<(Bound<'py, PyAny>, Bound<'py, PyList>)> {
        let event = inbound_fields(
            number, contact, at, kind, group, size, message_id, referral, user_id,
        )
        .and_then(|fields| Ok(fields.into_event()?))
        .map_err(errors::without_effects)?;
        let (output, effects) = self.applied(py, event)?;
        Ok((output_to_python(py, &output)?, effects))
    }

    /// As `Engine.message_status`, in the number's shard with the GIL released: a
    /// `StatusOutcome` (`MATCHED`, or `UNMATCHED` when no remembered send has that id) and
    /// the effects it caused.
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
    ) -> BindingResult<(Bound<'py, PyAny>, Bound<'py, PyList>)> {
        let event = message_status_fields(
            number, contact, at, message_id, status, errors, pricing, user_id,
        )
        .and_then(|fields| Ok(fields.into_event()?))
        .map_err(errors::without_effects)?;
        let (output, effects) = self.applied(py, event)?;
        Ok((output_to_python(py, &output)?, effects))
    }

    /// As `Engine.send`, in the number's shard with the GIL released: the `Decision` and the
    /// effects the send caused.
    #[pyo3(signature = (number, contact = None, *, at, text = None, message = None, group = None, idempotency_key = None, force = false, message_id = None, automated = false))]
    #[allow(clippy::too_many_arguments)]
    fn send<'py>(
        &self,
        py: Python<'py>,
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
    ) -> BindingResult<(Py<PyDecision>, Bound<'py, PyList>)> {
        let event = send_fields(
            "send",
            number,
            contact,
            at,
            text,
            message,
            group,
            idempotency_key,
            force,
        )
        .and_then(|fields| {
            let fields = fields.text("message_id", message_id);
            Ok(fields.flag("automated", automated).into_event()?)
        })
        .map_err(errors::without_effects)?;
        let (output, effects) = self.applied(py, event)?;
        Ok((decision_to_python(py, &output)?, effects))
    }

    /// As `Engine.process`: applies events (lines or dicts of the wire format) with the GIL
    /// released and returns each one's result line, then its effect lines.
    fn process<'py>(
        &self,
        py: Python<'py>,
        events: &Bound<'py, PyAny>,
    ) -> BindingResult<Bound<'py, PyList>> {
        let lines = event_lines("process", events)?;
        let outputs = py.detach(|| {
            let mut outputs = Vec::with_capacity(lines.len() * 2);
            for line in &lines {
                outputs.extend(self.engine.handle_json(line));
            }
            outputs
        });
        Ok(PyList::new(py, outputs)?)
    }

    /// As `Engine.process_bytes`: wire-format lines in, every output line out, as bytes.
    fn process_bytes<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let data = bytes_arg(data, "process_bytes", "data")?;
        let output = py.detach(|| {
            apply_lines(&data, |line, output| {
                self.engine.handle_json_into(line, output)
            })
        });
        Ok(PyBytes::new(py, output.as_bytes()))
    }

    /// As `Engine.handle_webhook`, for threads sharing the engine: the payload is read
    /// against the shards (a number found by its `phone_number_id` in whichever shard holds
    /// it, a WABA's business as `Engine.handle_webhook` finds it, across the shards) and each
    /// item applied in its shard, its effect lines those it caused there. `received_at`
    /// defaults to the latest clock of the shards.
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
            let at = received_at.unwrap_or_else(|| self.engine.clock());
            reader.handle_json_sharded(&self.engine, &body, at)
        }))
    }

    /// As `Engine.run_batch`, each row in its number's shard. Effects are counted in the
    /// result (`effect_counts`) and dropped: use `process` to receive them.
    #[pyo3(signature = (kinds, at, numbers, contacts, texts = None, *, templates = None, languages = None, params = None, automated = None))]
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
    ) -> PyResult<PyBatchResult> {
        let columns = Columns::read(
            kinds, at, numbers, contacts, texts, templates, languages, params, automated,
        )?;
        let outcome = py.detach(|| {
            let mut rows = ShardedRows {
                engine: &self.engine,
                effects: Vec::new(),
            };
            batch::run(&mut rows, &columns, false)
        });
        Ok(PyBatchResult::new(py, outcome, false))
    }

    /// Time passed: fires every timer due at or before `at` in every shard and returns the
    /// effects they caused, as dicts.
    fn tick<'py>(
        &self,
        py: Python<'py>,
        at: &Bound<'py, PyAny>,
    ) -> BindingResult<Bound<'py, PyList>> {
        let at = instant(at, "tick", "at")?;
        let effects = py.detach(|| {
            let mut effects = Vec::new();
            self.engine.handle_timeout(at, &mut effects);
            effects
        });
        effect_list(py, &effects)
    }

    /// When `tick` should be called next (the earliest over the shards), or None.
    fn poll_timeout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let deadline = py.detach(|| self.engine.poll_timeout());
        deadline.map(|at| datetime(py, at)).transpose()
    }

    /// As `Engine.conversation`, in the number's shard: the state of one conversation at
    /// `at`, that shard's clock or a later instant (an earlier one raises
    /// `InvalidInputError`, code `view_before_clock`).
    #[pyo3(signature = (number, contact, *, at))]
    fn conversation<'py>(
        &self,
        py: Python<'py>,
        number: &str,
        contact: &str,
        at: &Bound<'_, PyAny>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let at = instant(at, "conversation", "at")?;
        let view = py.detach(|| self.engine.conversation(number, contact, at))?;
        to_python(py, &view)
    }

    /// As `Engine.number`, in the number's shard: at `at`, or as of that shard's clock when
    /// `at` is None (its counters are as of that clock either way).
    #[pyo3(signature = (number, *, at = None))]
    fn number<'py>(
        &self,
        py: Python<'py>,
        number: &str,
        at: Option<&Bound<'_, PyAny>>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let at = at.map(|at| instant(at, "number", "at")).transpose()?;
        let view = py.detach(|| match at {
            Some(at) => self.engine.number_at(number, at),
            None => self.engine.number(number),
        })?;
        to_python(py, &view)
    }

    /// As `Engine.limit`, in the number's shard.
    #[pyo3(signature = (number, *, at))]
    fn limit<'py>(
        &self,
        py: Python<'py>,
        number: &str,
        at: &Bound<'_, PyAny>,
    ) -> BindingResult<Bound<'py, PyAny>> {
        let at = instant(at, "limit", "at")?;
        let view = py.detach(|| self.engine.limit(number, at))?;
        to_python(py, &view)
    }

    /// As `Engine.usage`, in the shard of the number or business.
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
        let view = py.detach(|| self.engine.usage_view(&query))?;
        to_python(py, &view)
    }

    /// As `Engine.template`, in the business's shard: at `at`, or as of that shard's clock
    /// when `at` is None.
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
        let view = py.detach(|| match at {
            Some(at) => self.engine.template_at(business, name, language, at),
            None => self.engine.template(business, name, language),
        })?;
        to_python(py, &view)
    }

    /// A business's whole state as bytes (`Engine.export_business` in the core), to move it
    /// to another engine or node with `import_business`. This engine is not changed.
    fn export_business<'py>(
        &self,
        py: Python<'py>,
        business: &str,
    ) -> BindingResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.engine.export_business(business))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Adds a business exported by `export_business` to its shard here, and returns the
    /// effects it caused: timers of the shard or of the business that fell due between the
    /// two engines' clocks, fired at their own instants. The engines must run the same
    /// policy, and the business and its numbers must not be here yet; its idempotency keys
    /// and message ids are its own (a business here may use the same ones). A refused import
    /// changes nothing.
    fn import_business<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'_, PyAny>,
    ) -> BindingResult<Bound<'py, PyList>> {
        let data = bytes_arg(data, "import_business", "data")?;
        let mut effects = Vec::new();
        py.detach(|| self.engine.import_business(&data, &mut effects))?;
        effect_list(py, &effects)
    }

    /// Drops a business and everything it owns from its shard, and its numbers' routes: the
    /// last step of moving it. The other businesses decide exactly as before. While other
    /// threads call the engine, move a business out with `take_business` instead.
    fn remove_business(&self, py: Python<'_>, business: &str) -> BindingResult<()> {
        py.detach(|| self.engine.remove_business(business))?;
        Ok(())
    }

    /// `export_business` and `remove_business` in one step, under one hold of the routing
    /// table and the business's shard: every input another thread applies to the business
    /// is either in the export or, applied after it, refused as an unknown number or
    /// business (between a separate export and removal it would be in neither). All or
    /// nothing: a refused take (an unknown business) changes nothing.
    fn take_business<'py>(
        &self,
        py: Python<'py>,
        business: &str,
    ) -> BindingResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.engine.take_business(business))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Every shard's state as bytes (a header line, then one snapshot line per shard),
    /// each shard written under its own lock while other threads' inputs go on (their
    /// registrations, imports and removals wait for it: a number moved meanwhile would be
    /// written in two shards).
    fn snapshot<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let bytes = py.detach(|| self.engine.snapshot());
        PyBytes::new(py, &bytes)
    }

    /// A sharded engine from `snapshot()` bytes, with as many shards as it had.
    #[staticmethod]
    fn restore(py: Python<'_>, snapshot: &Bound<'_, PyAny>) -> BindingResult<PyShardedEngine> {
        let snapshot = bytes_arg(snapshot, "restore", "snapshot")?;
        let engine = py.detach(|| ShardedEngine::restore(&snapshot))?;
        Ok(PyShardedEngine { engine })
    }

    /// Pickles through `snapshot()` and `restore()`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Reduced<'py>> {
        reduce_through_restore(slf.as_any(), slf.get().snapshot(slf.py()))
    }

    fn __repr__(&self) -> String {
        format!("ShardedEngine(shards={})", self.engine.shard_count())
    }
}
