//! Helpers shared by the integration tests (each test file uses some of them).
#![allow(dead_code)]

use convstate::snapshot::{seal, unseal};
use convstate::{Engine, Error};
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

/// The objects of a saved state or export (`value`) that take a field this build does not
/// know: each is given `zz_future`, one at a time, and `reads` says whether the changed
/// value was read. `at_least`: how many objects `value` must have, so that a state too
/// small to say anything fails. Left out, as not records: maps keyed by provider name (any
/// key is one), and a decision remembered under its idempotency key, the public `Decision`,
/// whose verdict is flattened into it (serde cannot refuse unknown fields beside it).
pub fn objects_taking_unknown_fields(
    value: &Value,
    at_least: usize,
    reads: impl Fn(&Value) -> bool,
) -> Vec<String> {
    let mut paths = Vec::new();
    each_object(value, String::new(), &mut paths);
    assert!(paths.len() >= at_least, "{paths:?}");
    let map_or_decision = |path: &str| {
        path.ends_with("/outbound_file_max_bytes_by_provider")
            || (path.starts_with("/idempotency/") && path.ends_with("/2"))
    };
    paths
        .into_iter()
        .filter(|path| !map_or_decision(path))
        .filter(|path| {
            let mut changed = value.clone();
            let object = changed.pointer_mut(path).unwrap().as_object_mut().unwrap();
            object.insert("zz_future".into(), 1.into());
            reads(&changed)
        })
        .collect()
}

/// The path (a JSON pointer) of every object in `value`, `path` being its own.
fn each_object(value: &Value, path: String, out: &mut Vec<String>) {
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

/// The `template_status` events that set a status (not the lock's), by wire name.
pub const TEMPLATE_EVENTS: [&str; 14] = [
    "approved",
    "rejected",
    "pending",
    "flagged",
    "paused",
    "unpaused",
    "disabled",
    "reinstated",
    "in_appeal",
    "pending_deletion",
    "deleted",
    "limit_exceeded",
    "archived",
    "unarchived",
];

/// Feeds `lines` to `engine`, each of which must be taken (no `error` line).
pub fn feed(engine: &mut Engine, lines: &[&str]) {
    for line in lines {
        let out = engine.handle_json(line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
    }
}

/// `engine`'s snapshot body, as text to edit and seal again.
pub fn body_of(engine: &Engine) -> String {
    String::from_utf8(unseal(&engine.snapshot()).expect("intact").to_vec()).expect("UTF-8")
}

/// The problem named in refusing `body`, sealed again, as a corrupt snapshot.
pub fn restore_refusal(body: &str) -> String {
    match Engine::restore(&seal(body.as_bytes())) {
        Err(Error::CorruptSnapshot { problem }) => problem,
        other => panic!("expected a corrupt snapshot, got {other:?}"),
    }
}

/// The problem named in refusing `body` with `from`, which it must hold, replaced by `to`.
pub fn refusal_with(body: &str, from: &str, to: &str) -> String {
    assert!(body.contains(from), "{from} in {body}");
    restore_refusal(&body.replace(from, to))
}

/// An hour, in milliseconds (the property tests' unit of time).
pub const HOUR_MS: i64 = 3_600_000;
/// 2026-11-02T00:00:00Z, where the property tests' timelines start.
pub const BASE_MS: i64 = 1_793_577_600_000;

/// `ms` since the epoch as a wire instant, to the millisecond.
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("in range")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Up to three quality ratings an hour to ten days apart from `base_ms`, the first within
/// the first day (before and after what a template sent at its start earns), each
/// differing from the one before as Meta reports a quality when it changes (some more than
/// a classic flag's seven days apart), with the order they are delivered in: in order of
/// time but for one low, delivered last (a webhook that came late). As (ratings in order of
/// time, the order of delivery as indexes into them).
pub fn ratings_with_one_late_low(
    base_ms: i64,
) -> impl proptest::strategy::Strategy<Value = (Vec<(i64, &'static str)>, Vec<usize>)> {
    use proptest::prelude::*;
    const QUALITIES: [&str; 3] = ["low", "medium", "high"];
    prop::collection::vec((0..QUALITIES.len(), 0i64..10, 0i64..12), 1..4)
        .prop_filter("consecutive ratings differ, one of them low", |picks| {
            picks.windows(2).all(|w| w[0].0 != w[1].0) && picks.iter().any(|p| p.0 == 0)
        })
        .prop_flat_map(move |picks| {
            let mut at = base_ms;
            let ratings: Vec<(i64, &str)> = (picks.iter())
                .map(|&(q, days, hour)| {
                    at += (days * 24 + hour + 1) * HOUR_MS;
                    (at, QUALITIES[q])
                })
                .collect();
            let lows: Vec<usize> = (0..ratings.len())
                .filter(|&i| ratings[i].1 == "low")
                .collect();
            (Just(ratings), prop::sample::select(lows)).prop_map(|(ratings, late)| {
                let mut order: Vec<usize> = (0..ratings.len()).filter(|&i| i != late).collect();
                order.push(late);
                (ratings, order)
            })
        })
}
