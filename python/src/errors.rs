//! The one mapping from engine errors to Python exceptions.

use convstate::{Error, ErrorKind};
use pyo3::prelude::*;

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

/// Result of a binding call.
pub type BindingResult<T> = Result<T, BindingError>;
