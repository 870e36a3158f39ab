//! Runs the cross-language conformance suite `tests/scenarios/*.jsonl` through the engine's
//! JSON door and compares every `expect` / `expect_effects` annotation.
//!
//! The runner contract (shared by the C and Python runners) is in `tests/scenarios/README.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use convstate::{Engine, Policy};
use serde_json::Value;

/// `expected` matches `actual` when every key of an expected object is present in the actual
/// object with a matching value (an empty expected object matches only an empty one); arrays
/// match element-wise with equal length; scalars are equal.
fn subset_matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) if e.is_empty() => a.is_empty(),
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| subset_matches(v, av))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(ev, av)| subset_matches(ev, av))
        }
        (e, a) => e == a,
    }
}

fn engine_for(header: &Value, file: &Path) -> Engine {
    let policy = header["policy"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: header needs \"policy\"", file.display()));
    let overrides = header
        .get("policy_overrides")
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    Engine::new(
        Policy::with_overrides(policy, &overrides)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display())),
    )
}

fn run_scenario(file: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("empty scenario")?;
    let header: Value = serde_json::from_str(header).map_err(|e| format!("header: {e}"))?;
    if header.get("scenario").is_none() {
        return Err("the first line must be a {\"scenario\": ...} header".into());
    }
    let mut engine = engine_for(&header, file);
    let mut checks = 0;
    for (index, line) in lines {
        let line_no = index + 1;
        let input: Value =
            serde_json::from_str(line).map_err(|e| format!("line {line_no}: not JSON: {e}"))?;
        let outputs = engine.handle_json(line);
        let parsed: Vec<Value> = outputs
            .iter()
            .map(|o| serde_json::from_str(o).expect("engine output is JSON"))
            .collect();
        if let Some(expected) = input.get("expect") {
            checks += 1;
            if !subset_matches(expected, &parsed[0]) {
                return Err(format!(
                    "line {line_no}: expected {expected}\n  got {}",
                    outputs[0]
                ));
            }
        }
        if let Some(expected) = input.get("expect_effects") {
            checks += 1;
            let actual = Value::Array(parsed[1..].to_vec());
            if !subset_matches(expected, &actual) {
                return Err(format!(
                    "line {line_no}: expected effects {expected}\n  got {}",
                    outputs[1..].join("\n      ")
                ));
            }
        }
    }
    if checks == 0 {
        return Err("scenario has no expect annotation".into());
    }
    Ok(checks)
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

#[test]
fn conformance_scenarios() {
    let files = scenario_files();
    assert!(!files.is_empty(), "no scenarios found");
    let mut failures = Vec::new();
    let mut checks = 0;
    for file in &files {
        match run_scenario(file) {
            Ok(n) => checks += n,
            Err(e) => failures.push(format!(
                "{}: {e}",
                file.file_name().unwrap().to_string_lossy()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    eprintln!("{} scenarios, {checks} checks passed", files.len());
}

#[test]
fn subset_matching_is_strict_where_it_must_be() {
    let actual: Value = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2]});
    assert!(subset_matches(&serde_json::json!({"b": {"c": 2}}), &actual));
    assert!(!subset_matches(
        &serde_json::json!({"b": {"c": 3}}),
        &actual
    ));
    assert!(!subset_matches(&serde_json::json!({"z": null}), &actual));
    assert!(!subset_matches(&serde_json::json!({"e": [1]}), &actual));
    // `{}` checks that a map is empty; naming no key, it would check nothing.
    assert!(!subset_matches(&serde_json::json!({"b": {}}), &actual));
    assert!(subset_matches(
        &serde_json::json!({"f": {}}),
        &serde_json::json!({"f": {}})
    ));
    assert!(subset_matches(
        &serde_json::json!([]),
        &serde_json::json!([])
    ));
    assert!(!subset_matches(
        &serde_json::json!([]),
        &serde_json::json!([{"effect": "x"}])
    ));
}

/// A host may snapshot and restore between any two inputs (a restart, a move): every
/// scenario, its engine restored from its own snapshot before each line, gives every output
/// line the uninterrupted run gives, and each restored engine snapshots to the same bytes.
#[test]
fn every_scenario_runs_the_same_restored_before_every_line() {
    let mut lines_checked = 0;
    for file in scenario_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).expect("a scenario file");
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Value = serde_json::from_str(lines.next().expect("a header")).unwrap();
        let mut straight = engine_for(&header, &file);
        let mut restarted = engine_for(&header, &file);
        for (n, line) in lines.enumerate() {
            let bytes = restarted.snapshot();
            restarted = Engine::restore(&bytes)
                .unwrap_or_else(|e| panic!("{name}: before input {}: {e}", n + 1));
            assert!(
                restarted.snapshot() == bytes,
                "{name}: before input {}: the restored engine snapshots to other bytes",
                n + 1
            );
            let expected = straight.handle_json(line);
            let actual = restarted.handle_json(line);
            assert_eq!(
                actual,
                expected,
                "{name}: input {} gives other outputs after a restore: {line}",
                n + 1
            );
            lines_checked += 1;
        }
    }
    eprintln!("{lines_checked} inputs replayed after a restore");
}

/// The fields the scenarios' outputs hold at one place (an output kind and a path in it):
/// every field seen there, and the fields seen in every object there.
#[derive(Default)]
struct FieldsSeen {
    any: BTreeSet<String>,
    every: Option<BTreeSet<String>>,
}

/// What an output line is, for comparing its fields: its type, and an effect's name or a
/// decision's verdict (a denial has fields an allowed send has not); the webhook door's
/// lines, which name the item they came from (`path`), apart.
fn output_kind(line: &Value) -> Option<String> {
    let kind = line.get("type")?.as_str()?;
    if line.get("path").is_some() {
        return Some(format!("webhook/{kind}"));
    }
    let detail = match kind {
        "effect" => line.get("effect"),
        "decision" => line.get("verdict"),
        _ => None,
    };
    Some(match detail.and_then(Value::as_str) {
        Some(detail) => format!("{kind}/{detail}"),
        None => kind.to_owned(),
    })
}

/// The place of a field's value in an output, for comparing fields: its path, with the
/// variant an object value names itself by (a denial's `reason`, a billing's `charge`, a
/// next action's `action`), since each variant has fields of its own. (An output line's own
/// variant is in its kind.)
fn child(path: &str, key: &str, value: &Value) -> String {
    let variant = value.as_object().and_then(|map| {
        ["reason", "charge", "action"]
            .iter()
            .find_map(|name| Some((name, map.get(*name)?.as_str()?)))
    });
    match variant {
        Some((name, variant)) => format!("{path}.{key}({name}={variant})"),
        None => format!("{path}.{key}"),
    }
}

fn record_fields(seen: &mut BTreeMap<String, FieldsSeen>, path: &str, value: &Value) {
    match value {
        Value::Object(map) => {
            let keys: BTreeSet<String> = map.keys().cloned().collect();
            let fields = seen.entry(path.to_owned()).or_default();
            fields.any.extend(keys.iter().cloned());
            fields.every = Some(match fields.every.take() {
                Some(every) => every.intersection(&keys).cloned().collect(),
                None => keys,
            });
            for (key, item) in map {
                record_fields(seen, &child(path, key, item), item);
            }
        }
        Value::Array(items) => {
            for item in items {
                record_fields(seen, &format!("{path}[]"), item);
            }
        }
        _ => {}
    }
}

/// Where an example's fields differ from those the engine writes at the same place, or
/// where no scenario writes such an object to compare with.
fn field_differences(
    seen: &BTreeMap<String, FieldsSeen>,
    path: &str,
    value: &Value,
    differences: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            let Some(fields) = seen.get(path) else {
                differences.push(format!("at {path}: no scenario writes one to compare with"));
                return;
            };
            let keys: BTreeSet<String> = map.keys().cloned().collect();
            let unknown: Vec<_> = keys.difference(&fields.any).collect();
            let every = fields.every.as_ref().expect("set with any");
            let missing: Vec<_> = every.difference(&keys).collect();
            if !unknown.is_empty() || !missing.is_empty() {
                differences.push(format!(
                    "at {path}: never written {unknown:?}, always written but missing {missing:?}"
                ));
            }
            for (key, item) in map {
                field_differences(seen, &child(path, key, item), item, differences);
            }
        }
        Value::Array(items) => {
            for item in items {
                field_differences(seen, &format!("{path}[]"), item, differences);
            }
        }
        _ => {}
    }
}

/// docs/events.md says every output line it shows is the engine's real output. Its output
/// examples are checked against the outputs of every scenario of the same kind (a view, an
/// effect, a decision of a verdict) and, within them, of the same variant (a denial of a
/// reason, a billing of a charge): no field the engine never writes there, none it always
/// writes missing (a field added to a view and not to its example, as `last_reply_at` once
/// was, fails here), and no example of a kind no scenario writes. A line of a `json` block
/// that is no JSON fails too, unless the page elides part of it (`...`); the webhook door's
/// lines, which no scenario goes through, are not compared.
#[test]
fn the_wire_references_output_examples_have_the_fields_the_engine_writes() {
    let mut seen = BTreeMap::new();
    for file in scenario_files() {
        let text = std::fs::read_to_string(&file).expect("scenario");
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Value = serde_json::from_str(lines.next().expect("header")).expect("JSON");
        let mut engine = engine_for(&header, &file);
        for line in lines {
            for output in engine.handle_json(line) {
                let output: Value = serde_json::from_str(&output).expect("engine output is JSON");
                if let Some(kind) = output_kind(&output) {
                    record_fields(&mut seen, &kind, &output);
                }
            }
        }
    }
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md");
    let reference = std::fs::read_to_string(&reference).expect("docs/events.md");
    let mut in_json_block = false;
    let (mut checked, mut differences) = (0, Vec::new());
    for (index, line) in reference.lines().enumerate() {
        if line.starts_with("```") {
            in_json_block = line == "```json";
            continue;
        }
        if !(in_json_block && line.starts_with('{')) {
            continue;
        }
        let example = match serde_json::from_str::<Value>(line) {
            Ok(example) => example,
            // A line the page elides (`"event":{"type":"inbound",...}`) is no JSON.
            Err(_) if line.contains("...") => continue,
            Err(e) => {
                differences.push(format!("line {}: not JSON: {e}", index + 1));
                continue;
            }
        };
        let Some(kind) = output_kind(&example) else {
            continue;
        };
        let of_type = |kind: &str| kind.split('/').next().unwrap_or_default().to_owned();
        if !seen.contains_key(&kind) {
            // An input line, or a line of the webhook door, which no scenario goes through;
            // an output of a type the scenarios write (an effect, a decision) must be among
            // theirs to be compared.
            if seen.keys().any(|seen| of_type(seen) == of_type(&kind)) {
                let line_no = index + 1;
                differences.push(format!("line {line_no}: no scenario writes a {kind}"));
            }
            continue;
        }
        checked += 1;
        let mut found = Vec::new();
        field_differences(&seen, &kind, &example, &mut found);
        let line_no = index + 1;
        differences.extend(found.iter().map(|d| format!("line {line_no}: {d}")));
    }
    assert!(
        differences.is_empty(),
        "docs/events.md:\n{}",
        differences.join("\n")
    );
    // The views, decisions, effects, acks and errors the page shows (51).
    assert!(checked >= 50, "only {checked} output examples checked");
}
