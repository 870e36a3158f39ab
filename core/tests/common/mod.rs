//! Helpers shared by the integration tests (each test file uses some of them).
#![allow(dead_code)]

use serde_json::Value;

/// An output line without its ticket ids. Tickets are numbered by one counter per engine,
/// so engines that open tickets in another order (the shards of a sharded engine, an engine
/// that lost a business) number the same tickets differently.
pub fn without_ticket_ids(line: &str) -> String {
    let mut value: Value = serde_json::from_str(line).expect("output lines are JSON");
    let object = value.as_object_mut().expect("output lines are objects");
    match object.get_mut("ticket") {
        // A conversation's ticket: its status stays.
        Some(Value::Object(ticket)) => {
            ticket.remove("id");
        }
        Some(_) => {
            object.remove("ticket");
        }
        None => {}
    }
    value.to_string()
}

/// Lines without their ticket ids, sorted: the same effects whatever order they came in.
pub fn canonical(lines: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut lines: Vec<String> = lines
        .into_iter()
        .map(|line| without_ticket_ids(&line))
        .collect();
    lines.sort();
    lines
}

/// The path (a JSON pointer) of every object in `value`, `path` being its own.
pub fn each_object(value: &Value, path: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            out.push(path.clone());
            for (k, v) in map {
                each_object(v, format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                each_object(v, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}
