//! The one mapping from engine errors to Python exceptions.

use convstate::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::python_type;

/// What a binding call can fail with: an engine error (mapped to a `ConvstateError`
/// subclass) or a Python error raised while reading the arguments.
#[derive(Debug)]
pub enum BindingError {
    /// The engine refused the input.
    Core(Error),
    /// Python raised while converting arguments or results.
    Python(PyErr),
}

impl From<Error> for BindingError {
    fn from(e: Error) -> Self {
        BindingError::Core(e)
    }
}

impl From<PyErr> for BindingError {
    fn from(e: PyErr) -> Self {
        BindingError::Python(e)
    }
}

/// The exception class of `convstate._types` for an error family. New families map to the
/// base class until this table learns them.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::Policy => "PolicyError",
        ErrorKind::Snapshot => "SnapshotError",
        ErrorKind::Capacity => "CapacityError",
        _ => "ConvstateError",
    }
}

impl From<BindingError> for PyErr {
    fn from(e: BindingError) -> PyErr {
        match e {
            BindingError::Python(e) => e,
            BindingError::Core(e) => exception(&e, e.to_string()),
        }
    }
}

/// The exception of an engine error, with `message` as its text.
fn exception(e: &Error, message: String) -> PyErr {
    Python::attach(|py| {
        let raised = python_type(py, class_name(e.kind()))
            .and_then(|class| class.call1((message, e.code())));
        match raised {
            Ok(exception) => PyErr::from_value(exception),
            // Only when `convstate._types` cannot be imported: report that.
            Err(import_failure) => import_failure,
        }
    })
}

/// The exception of an engine error, its message after `context` (which input of a batch
/// it concerns): the same class and code.
pub fn with_context(e: &Error, context: &str) -> PyErr {
    exception(e, format!("{context}: {e}"))
}

/// `e` raised with `effects` (a list) as the exception's `effects`: what a refused input of a
/// `ShardedEngine` caused before it was refused (the timers its instant fired), which that
/// engine has no queue to keep. Only a `ConvstateError` gets them: Python's own errors (an
/// argument of the wrong type) are left as they are.
pub fn with_effects(e: BindingError, effects: &Bound<'_, PyList>) -> BindingError {
    let py = effects.py();
    let raised = PyErr::from(e);
    let engine_error =
        python_type(py, "ConvstateError").and_then(|class| raised.value(py).is_instance(&class));
    let attached = match engine_error {
        Ok(true) => raised.value(py).setattr("effects", effects),
        Ok(false) => Ok(()),
        Err(failure) => Err(failure),
    };
    BindingError::Python(attached.err().unwrap_or(raised))
}

/// `e` raised as [`with_effects`] raises it, for an input refused before the engine saw it
/// (one that does not decode): the exception has `effects`, an empty list.
pub fn without_effects(e: BindingError) -> BindingError {
    Python::attach(|py| with_effects(e, &PyList::empty(py)))
}

/// Result of a binding call.
pub type BindingResult<T> = Result<T, BindingError>;
