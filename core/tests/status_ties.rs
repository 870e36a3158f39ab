//! Two provider statuses of one template at one instant (webhook timestamps are whole
//! seconds) cannot be ordered, so one of them stands whatever order they arrive in (RULES.md
//! §10, §13): the template ends where it ends for either order, and for either order
//! delivered again. Here a disable and any other status, from several earlier states. Other
//! pairs are left to the content fingerprint, under which a flag and a pause (or an
//! unpause) of one second still end apart by arrival order: ranking those too broke pairs
//! that stood (a review after an earlier flag or pause).

mod common;

use common::TEMPLATE_EVENTS;
use convstate::Engine;

/// Each event, and `paused` and `flagged` also with an end (`…+until`), four days later.
fn statuses() -> Vec<String> {
    let with_end = ["flagged+until", "paused+until"];
    (TEMPLATE_EVENTS.iter().chain(&with_end))
        .map(|s| s.to_string())
        .collect()
}

/// An earlier status (`early:…`, an hour before the pair), then the pair at 10:00.
fn line(event: &str) -> String {
    match event.strip_prefix("early:") {
        Some(event) => status(event).replace("T10:00:00Z", "T09:00:00Z"),
        None => status(event),
    }
}

/// A status line at 2026-11-03T10:00:00Z; `…+category` also names the template's category,
/// as Meta's webhooks do (the same category, another content: another fingerprint).
fn status(event: &str) -> String {
    let (event, category) = match event.strip_suffix("+category") {
        Some(event) => (event, r#","category":"marketing""#),
        None => (event, ""),
    };
    let (name, until) = match event.strip_suffix("+until") {
        Some(name) => (name, r#","until":"2026-11-07T10:00:00Z""#),
        None => (event, ""),
    };
    format!(
        r#"{{"type":"template_status","at":"2026-11-03T10:00:00Z","business":"acme","name":"promo","language":"en","status":"{name}"{until}{category}}}"#
    )
}

/// The template's view (status, its end, the flag's deadline) at several instants after the
/// statuses given were delivered in the order given.
fn views(preset: &str, delivered: &[String]) -> Vec<String> {
    let mut engine = Engine::with_preset(preset).expect("a preset");
    for line in [
        r#"{"type":"register_number","at":"2026-11-02T00:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"register_template","at":"2026-11-02T00:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}, see our offer.","status":"approved"}"#,
    ] {
        assert!(!engine.handle_json(line)[0].contains(r#""type":"error""#));
    }
    let pair_at = delivered
        .iter()
        .position(|e| !e.starts_with("early:"))
        .unwrap_or(0);
    for (i, name) in delivered.iter().enumerate() {
        let out = engine.handle_json(&line(name));
        assert!(!out[0].contains(r#""type":"error""#), "{out:?}");
        // Past the pair, each is a redelivery: acknowledged, and no effect is told again.
        if i >= pair_at + 2 {
            assert_eq!(out.len(), 1, "{delivered:?}: {out:?}");
        }
    }
    ["2026-11-03T10:00:00Z", "2026-11-05T00:00:00Z", "2026-11-08T00:00:00Z"]
        .iter()
        .map(|at| {
            let view = engine.handle_json(&format!(
                r#"{{"type":"query_template","at":"{at}","business":"acme","name":"promo","language":"en"}}"#
            ));
            let view: serde_json::Value = serde_json::from_str(&view[0]).unwrap();
            format!(
                "{at}: {} until {} flagged_until {}",
                view["status"], view["until"], view["flagged_until"]
            )
        })
        .collect()
}

#[test]
fn a_disable_and_another_status_at_one_instant_stand_alike_in_either_order() {
    let mut differ = Vec::new();
    // Each status plain and naming the category: the same event, another fingerprint, so
    // that the disable stands whichever fingerprint is the greater.
    let statuses = statuses();
    let with_category: Vec<String> = statuses.iter().map(|s| format!("{s}+category")).collect();
    let events: Vec<&str> = (statuses.iter().chain(&with_category))
        .map(String::as_str)
        .collect();
    let earlier: [&[&str]; 4] = [
        &[],
        &["early:paused"],
        &["early:flagged"],
        &["early:flagged+until"],
    ];
    for preset in ["classic", "cloud-2025"] {
        for prefix in earlier {
            for disabled in ["disabled", "disabled+category"] {
                for other in events.iter().filter(|e| !e.starts_with("disabled")) {
                    let delivered = |order: &[&str]| -> Vec<String> {
                        prefix.iter().chain(order).map(|e| e.to_string()).collect()
                    };
                    let one = views(preset, &delivered(&[disabled, other]));
                    let other_first = views(preset, &delivered(&[other, disabled]));
                    if one != other_first {
                        differ.push(format!(
                            "{preset} {prefix:?} {disabled}+{other}: {one:?} / {other_first:?}"
                        ));
                    }
                    // Delivered again, in any order, the pair changes nothing more.
                    let again = delivered(&[disabled, other, other, disabled]);

                    assert_eq!(views(preset, &again), one, "{preset} {again:?}");
                }
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} pairs:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
