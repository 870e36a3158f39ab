//! Naming the field at fault in a line that does not decode.
//!
//! The core's decoder reports what was expected but, because events are an internally
//! tagged enum, not always where: serde buffers the object before it knows the event type,
//! which loses the path. Lines are short and errors rare, so the tool finds the field by
//! experiment: a key whose removal changes the error is the one the error is about.

use convstate::{wire, Error};
use serde_json::{Map, Value};

/// A one-line description of why `line` does not decode: the field and what was expected.
pub fn describe(line: &str, error: &Error) -> String {
    let mut root: Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(e) => return format!("not valid JSON: {e}"),
    };
    let Some(object) = root.as_object_mut() else {
        return "expected a JSON object with a \"type\" field".to_owned();
    };
    for key in wire::ANNOTATION_KEYS {
        object.remove(key);
    }
    let message = match error {
        Error::InvalidEvent { problem } => problem.clone(),
        other => other.to_string(),
    };
    let message = strip_position(&message);
    match culprit(&root, &message) {
        Some(path) => format!("field \"{path}\": {message}"),
        None => message,
    }
}

/// serde_json appends ` at line 1 column 57`; the column counts in the object that serde
/// buffered, not in the line, so it would mislead.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The quoted name in a serde message such as ``unknown variant `x`, expected ...``.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split('`').next()
}

fn culprit(root: &Value, message: &str) -> Option<String> {
    if let Some(field) = quoted_after(message, "missing field ") {
        return Some(field.to_owned());
    }
    if let Some(field) = quoted_after(message, "unknown field ") {
        return find_path(root, "", &|key, _| key == field);
    }
    if let Some(variant) = quoted_after(message, "unknown variant ") {
        return find_path(root, "", &|_, value| value.as_str() == Some(variant));
    }
    implicated(root, root, &[], message)
}

/// The path of the first key (depth first) for which `matches` holds.
fn find_path(
    value: &Value,
    prefix: &str,
    matches: &dyn Fn(&str, &Value) -> bool,
) -> Option<String> {
    let map = value.as_object()?;
    for (key, child) in map {
        let path = join(prefix, key);
        if matches(key, child) {
            return Some(path);
        }
        if let Some(found) = find_path(child, &path, matches) {
            return Some(found);
        }
    }
    None
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The deepest key under `path` whose removal changes the decoding error.
fn implicated(root: &Value, here: &Value, path: &[&str], message: &str) -> Option<String> {
    let map = here.as_object()?;
    // Removing a tag (`type`, `kind`) changes every error, so tags are suspects only when no
    // other key is.
    let is_tag = |key: &&String| matches!(key.as_str(), "type" | "kind");
    let keys = map
        .keys()
        .filter(|k| !is_tag(k))
        .chain(map.keys().filter(is_tag));
    for key in keys {
        let mut trial = root.clone();
        if let Some(parent) = object_at(&mut trial, path) {
            parent.remove(key);
        }
        let changed = match wire::decode_event(&trial.to_string()) {
            Ok(_) => true,
            Err(Error::InvalidEvent { problem }) => strip_position(&problem) != message,
            Err(_) => true,
        };
        if changed {
            let mut deeper: Vec<&str> = path.to_vec();
            deeper.push(key);
            return implicated(root, &map[key], &deeper, message)
                .or_else(|| Some(deeper.join(".")));
        }
    }
    None
}

fn object_at<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut current = value;
    for key in path {
        current = current.as_object_mut()?.get_mut(*key)?;
    }
    current.as_object_mut()
}
