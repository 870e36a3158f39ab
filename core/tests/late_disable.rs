//! A template `disabled` delivered after later statuses holds through them unless a
//! reinstating report (`approved`, `reinstated`, `unpaused`) came after it (RULES.md §5,
//! §13; scenarios 467, 468). Engines keep when they last saw such a report; these tests
//! check that the record survives a snapshot, and that a state saved before it was kept
//! orders a late disable out as the builds that saved it did.

mod common;

use common::{body_of, feed};
use convstate::snapshot::seal;
use convstate::Engine;

fn status(at: &str, status: &str) -> String {
    format!(
        r#"{{"type":"template_status","at":"2026-11-02T{at}:00Z","business":"acme","name":"t","language":"en","status":"{status}"}}"#
    )
}

fn engine_with(lines: &[String]) -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    let register = r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"t","language":"en","category":"utility","body":"Your order is ready.","status":"approved"}"#;
    feed(&mut engine, &[register]);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    feed(&mut engine, &lines);
    engine
}

fn status_of(engine: &mut Engine) -> String {
    let query = r#"{"type":"query_template","at":"2026-11-02T12:00:00Z","business":"acme","name":"t","language":"en"}"#;
    let view: serde_json::Value = serde_json::from_str(&engine.handle_json(query)[0]).unwrap();
    view["status"].as_str().expect("a status").to_owned()
}

#[test]
fn a_reinstatement_after_a_disable_survives_a_snapshot() {
    let engine = engine_with(&[status("09:00", "disabled"), status("10:00", "reinstated")]);
    let mut restored = Engine::restore(&engine.snapshot()).expect("restores");
    feed(&mut restored, &[&status("09:00", "disabled")]);
    assert_eq!(
        status_of(&mut restored),
        "approved",
        "the retried disable is old news"
    );
}

#[test]
fn a_state_without_reinstating_reports_still_takes_a_late_disable_after_a_restore() {
    // None seen is written as the epoch: read back, it is none, not a state of older builds.
    let engine = engine_with(&[status("10:00", "archived")]);
    let body = body_of(&engine);
    assert!(
        body.contains(r#""reinstating_report_at":"1970-01-01T00:00:00Z""#),
        "{body}"
    );
    let mut restored = Engine::restore(&engine.snapshot()).expect("restores");
    feed(
        &mut restored,
        &[&status("09:00", "disabled"), &status("11:00", "unarchived")],
    );
    assert_eq!(status_of(&mut restored), "disabled");
}

#[test]
fn a_state_saved_before_reinstating_reports_were_kept_orders_a_late_disable_out() {
    // Saved by an older build: no record, so the latest status applied stands for it, as
    // those builds ordered a late disable out (a reinstated template stays reinstated).
    let engine = engine_with(&[status("09:00", "disabled"), status("10:00", "reinstated")]);
    let body = body_of(&engine);
    let kept = r#","reinstating_report_at":"2026-11-02T10:00:00Z""#;
    assert!(body.contains(kept), "{body}");
    let older = body.replace(kept, "");
    let mut restored = Engine::restore(&seal(older.as_bytes())).expect("an older state reads");
    feed(&mut restored, &[&status("09:00", "disabled")]);
    assert_eq!(status_of(&mut restored), "approved");
}
