//! Frozen result objects built from the core's serde JSON, so that fields the core adds
//! later reach Python through `to_dict()` without a change here.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::Value;

use crate::convert::{enum_member, from_json};

fn field<'a>(json: &'a Value, key: &str) -> &'a Value {
    json.get(key).unwrap_or(&Value::Null)
}

fn text_member<'py>(
    py: Python<'py>,
    enum_name: &str,
    value: &Value,
) -> PyResult<Bound<'py, PyAny>> {
    match value.as_str() {
        Some(text) => enum_member(py, enum_name, text),
        None => Ok(py.None().into_bound(py)),
    }
}

/// The answer to "may I send this now?". Frozen; compares by value.
///
/// Enum-valued fields hold the raw string when the engine reports a value this version of
/// the package does not know.
#[pyclass(frozen, module = "convstate", name = "Decision")]
#[derive(Debug)]
pub struct PyDecision {
    /// The decision as the wire format has it, without the `"type"` key.
    json: Value,
}

impl PyDecision {
    pub fn new(mut json: Value) -> PyDecision {
        if let Some(object) = json.as_object_mut() {
            object.remove("type");
        }
        PyDecision { json }
    }

    fn denial(&self) -> Option<&serde_json::Map<String, Value>> {
        self.json.get("denial").and_then(Value::as_object)
    }
}

#[pymethods]
impl PyDecision {
    /// Whether the send may go ahead.
    #[getter]
    fn allowed(&self) -> bool {
        self.json.get("verdict").and_then(Value::as_str) == Some("allowed")
    }

    /// `Verdict.ALLOWED` or `Verdict.DENIED`.
    #[getter]
    fn verdict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        text_member(py, "Verdict", field(&self.json, "verdict"))
    }

    /// The denial reason, or None when allowed.
    #[getter]
    fn reason<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.denial() {
            Some(denial) => text_member(py, "Reason", field_of(denial, "reason")),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The numbers behind a denial (limits, sizes, instants); empty when allowed. The raw
    /// reason name is kept under `"reason"` only when `reason` is `Reason.OTHER`.
    #[getter]
    fn details<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let mut details = self.denial().cloned().unwrap_or_default();
        let reason = self.reason(py)?;
        let other = python_enum_value(&reason)?.as_deref() == Some("other");
        if !other {
            details.remove("reason");
        }
        from_json(py, &Value::Object(details))
    }

    /// What the send costs, or None when denied.
    #[getter]
    fn billing(&self, py: Python<'_>) -> PyResult<Option<Py<PyBilling>>> {
        match field(&self.json, "billing") {
            Value::Null => Ok(None),
            billing => Py::new(
                py,
                PyBilling {
                    json: billing.clone(),
                },
            )
            .map(Some),
        }
    }

    /// `Initiator.CUSTOMER` (a reply in the window) or `Initiator.BUSINESS`.
    #[getter]
    fn initiated_by<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        text_member(py, "Initiator", field(&self.json, "initiated_by"))
    }

    /// Whether the send took a messaging-limit slot.
    #[getter]
    fn consumed_limit_slot(&self) -> bool {
        field(&self.json, "consumed_limit_slot")
            .as_bool()
            .unwrap_or(false)
    }

    /// The suggested next step, e.g. `{"action": "send_template"}`, or None.
    #[getter]
    fn next_action<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        from_json(py, field(&self.json, "next_action"))
    }

    /// For `initiate`: the opening template and how many messages are held, or None.
    #[getter]
    fn initiation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        from_json(py, field(&self.json, "initiation"))
    }

    /// The decision as a dict of the wire format (instants as datetimes, durations as
    /// timedeltas, a price's amount as a Decimal).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        from_json(py, &self.json)
    }

    /// The decision as one JSON object, as the wire format writes it: the line
    /// `handle_json` returns for it, byte for byte.
    fn to_json(&self) -> PyResult<String> {
        let decision: convstate::Decision = serde_json::from_value(self.json.clone())
            .map_err(|e| PyRuntimeError::new_err(format!("decision does not read back: {e}")))?;
        Ok(convstate::wire::encode_output(&Ok(
            convstate::Output::Decision(decision),
        )))
    }

    /// Pickles (and copies) through its wire line: a decision is a value.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let from_json = slf.get_type().getattr("_from_json")?;
        Ok((from_json, (slf.get().to_json()?,)))
    }

    /// The decision of a wire line written by `to_json` (what unpickling calls).
    #[staticmethod]
    fn _from_json(line: &str) -> PyResult<PyDecision> {
        let not_one = |e: serde_json::Error| {
            pyo3::exceptions::PyValueError::new_err(format!("not a decision line: {e}"))
        };
        let json: Value = serde_json::from_str(line).map_err(not_one)?;
        if json.get("type").and_then(Value::as_str) != Some("decision") {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "not a decision line: its \"type\" is not \"decision\"",
            ));
        }
        let decision = PyDecision::new(json);
        serde_json::from_value::<convstate::Decision>(decision.json.clone()).map_err(not_one)?;
        Ok(decision)
    }

    fn __eq__<'py>(&self, other: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        let equal = other
            .cast::<PyDecision>()
            .map(|o| o.get().json == self.json);
        compared(other.py(), equal.ok())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.json.to_string().hash(&mut hasher);
        hasher.finish()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = vec![format!(
            "allowed={}",
            if self.allowed() { "True" } else { "False" }
        )];
        if !self.allowed() {
            parts.push(format!("reason={}", self.reason(py)?.repr()?));
            parts.push(format!("details={}", self.details(py)?.repr()?));
        }
        parts.push(format!("initiated_by={}", self.initiated_by(py)?.repr()?));
        if let Some(billing) = self.billing(py)? {
            parts.push(format!("billing={}", billing.bind(py).repr()?));
        }
        if self.consumed_limit_slot() {
            parts.push("consumed_limit_slot=True".to_owned());
        }
        let next_action = self.next_action(py)?;
        if !next_action.is_none() {
            parts.push(format!("next_action={}", next_action.repr()?));
        }
        Ok(format!("Decision({})", parts.join(", ")))
    }
}

/// What `__eq__` returns: the comparison, or `NotImplemented` for another type, so that
/// Python asks the other operand (`unittest.mock.ANY`, a subclass) instead of answering
/// False.
fn compared(py: Python<'_>, equal: Option<bool>) -> Bound<'_, PyAny> {
    match equal {
        Some(equal) => pyo3::types::PyBool::new(py, equal).to_owned().into_any(),
        None => py.NotImplemented().into_bound(py),
    }
}

fn field_of<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> &'a Value {
    object.get(key).unwrap_or(&Value::Null)
}

/// The `.value` of an enum member, or the string itself for a raw string.
fn python_enum_value(member: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if member.is_none() {
        return Ok(None);
    }
    if let Ok(text) = member.getattr("value") {
        return text.extract().map(Some);
    }
    Ok(member.cast::<PyString>().ok().map(|s| s.to_string()))
}

/// What an allowed send costs. Frozen; compares by value.
#[pyclass(frozen, module = "convstate", name = "Billing")]
#[derive(Debug)]
pub struct PyBilling {
    json: Value,
}

#[pymethods]
impl PyBilling {
    /// Whether the platform charges for the send.
    #[getter]
    fn charged(&self) -> bool {
        self.json.get("charge").and_then(Value::as_str) == Some("charged")
    }

    /// The price category of a charged send, or None when free.
    #[getter]
    fn category<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        text_member(py, "ChargeCategory", field(&self.json, "category"))
    }

    /// Why a free send is free, or None when charged.
    #[getter]
    fn free_reason<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        text_member(py, "FreeReason", field(&self.json, "why"))
    }

    /// The price of a charged send from the policy's rate card, exact, as a
    /// `decimal.Decimal` in `currency`; None when free or when the rate card has no price
    /// for the contact's market (or the policy none).
    #[getter]
    fn price<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let amount = self.json.get("price").and_then(|p| p.get("amount"));
        match amount.and_then(Value::as_str) {
            Some(amount) => {
                let decimal = py.import(pyo3::intern!(py, "decimal"))?;
                Ok(Some(decimal.getattr("Decimal")?.call1((amount,))?))
            }
            None => Ok(None),
        }
    }

    /// The currency of `price` (`"USD"`), or None when there is no price.
    #[getter]
    fn currency(&self) -> Option<String> {
        let currency = self.json.get("price").and_then(|p| p.get("currency"));
        currency.and_then(Value::as_str).map(str::to_owned)
    }

    /// The billing as a dict of the wire format (a price's amount as a Decimal).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        from_json(py, &self.json)
    }

    /// Pickles (and copies) through its JSON object, as `Decision` does: a billing is a
    /// value.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (String,))> {
        let from_json = slf.get_type().getattr("_from_json")?;
        Ok((from_json, (slf.get().json.to_string(),)))
    }

    /// The billing of a JSON object written by pickling.
    #[staticmethod]
    fn _from_json(object: &str) -> PyResult<PyBilling> {
        let json: Value = serde_json::from_str(object).map_err(|e| {
            pyo3::exceptions::PyValueError::new_err(format!("not a billing object: {e}"))
        })?;
        if serde_json::from_value::<convstate::decision::Billing>(json.clone()).is_err() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "not a billing object: it does not read as one",
            ));
        }
        Ok(PyBilling { json })
    }

    fn __eq__<'py>(&self, other: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        let equal = other.cast::<PyBilling>().map(|o| o.get().json == self.json);
        compared(other.py(), equal.ok())
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.json.to_string().hash(&mut hasher);
        hasher.finish()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(if self.charged() {
            // The price too: two charges of one category to two markets compare unequal,
            // and must not print alike.
            let price = match (self.price(py)?, self.currency()) {
                (Some(price), Some(currency)) => format!(
                    ", price={}, currency={}",
                    price.repr()?,
                    pyo3::types::PyString::new(py, &currency).repr()?
                ),
                _ => String::new(),
            };
            format!(
                "Billing(charged=True, category={}{price})",
                self.category(py)?.repr()?
            )
        } else {
            format!(
                "Billing(charged=False, free_reason={})",
                self.free_reason(py)?.repr()?
            )
        })
    }
}
