//! A template `disabled` delivered after later statuses holds through them unless a
//! reinstating report (`approved`, `reinstated`, `unpaused`) came after it (RULES.md §5,
//! §13; scenarios 467, 468), and such a report dated after it, delivered after it, takes it
//! back, as it takes back a disable's refusal of a later status (scenario 471). Engines
//! keep when they last saw such a report, and how to take a disable back; these tests check
//! that both survive a snapshot (and the second a move between engines), that a state saved
//! before the first was kept orders a late disable out as the builds that saved it did,
//! that nothing is taken back over a later change, and what a saved undo may hold.

mod common;

use common::{body_of, feed, restore_refusal};
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

/// Paused at 11:00 until 14:00, then a disable dated 09:00 delivered late: disabled.
fn disabled_late() -> Vec<String> {
    let pause = r#"{"type":"template_status","at":"2026-11-02T11:00:00Z","business":"acme","name":"t","language":"en","status":"paused","until":"2026-11-02T14:00:00Z"}"#;
    vec![pause.to_owned(), status("09:00", "disabled")]
}

#[test]
fn a_late_disable_is_taken_back_after_a_restore() {
    let mut engine = engine_with(&disabled_late());
    assert_eq!(status_of(&mut engine), "disabled");
    let mut restored = Engine::restore(&engine.snapshot()).expect("restores");
    feed(&mut restored, &[&status("10:00", "reinstated")]);
    assert_eq!(
        status_of(&mut restored),
        "paused",
        "in order the reinstatement came before the pause"
    );
}

#[test]
fn a_late_disable_is_taken_back_after_a_move_between_engines() {
    let engine = engine_with(&disabled_late());
    let export = engine.export_business("acme").expect("exports");
    // Another business first, so that the moved one has another index here.
    let mut target = Engine::with_preset("cloud-2025").expect("a preset");
    let other = r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"other","name":"t","language":"en","category":"utility","body":"Your order is ready.","status":"approved"}"#;
    feed(&mut target, &[other]);
    target.import_business(&export).expect("imports");
    feed(&mut target, &[&status("10:00", "reinstated")]);
    assert_eq!(status_of(&mut target), "paused");
}

#[test]
fn nothing_is_taken_back_over_a_change_since_the_late_disable() {
    // The lock came after the disable: taking the disable back would drop it.
    let mut lines = disabled_late();
    lines.push(status("11:30", "locked"));
    lines.push(status("10:00", "reinstated"));
    let mut engine = engine_with(&lines);
    assert_eq!(status_of(&mut engine), "disabled");
    let query = r#"{"type":"query_template","at":"2026-11-02T12:00:00Z","business":"acme","name":"t","language":"en"}"#;
    let view: serde_json::Value = serde_json::from_str(&engine.handle_json(query)[0]).unwrap();
    assert_eq!(view["locked"], true, "{view}");
}

#[test]
fn a_saved_undo_with_an_undo_of_its_own_is_corrupt() {
    let engine = engine_with(&disabled_late());
    let mut body: serde_json::Value = serde_json::from_str(&body_of(&engine)).unwrap();
    let undo = body["templates"][0]["disable_undo"].clone();
    assert!(undo.is_object(), "the late disable keeps its undo: {body}");
    body["templates"][0]["disable_undo"]["before"]["disable_undo"] = undo;
    let problem = restore_refusal(&body.to_string());
    assert!(problem.contains("an undo of its own"), "{problem}");
}

#[test]
fn a_refused_report_is_applied_again_after_a_restore() {
    let engine = engine_with(&[status("09:00", "disabled"), status("10:50", "flagged")]);
    let mut restored = Engine::restore(&engine.snapshot()).expect("restores");
    assert_eq!(status_of(&mut restored), "disabled");
    feed(&mut restored, &[&status("10:30", "unpaused")]);
    assert_eq!(
        status_of(&mut restored),
        "flagged",
        "in order the flag found the template revived"
    );
}

/// Disabled at 09:00, then `refused` flags at 10:01, 10:02, ..., then an unpause dated
/// 09:30: the status it leaves.
fn after_refused_flags(refused: usize) -> String {
    let mut lines = vec![status("09:00", "disabled")];
    lines.extend((1..=refused).map(|minute| status(&format!("10:{minute:02}"), "flagged")));
    lines.push(status("09:30", "unpaused"));
    status_of(&mut engine_with(&lines))
}

#[test]
fn refused_reports_are_kept_to_a_bound() {
    assert_eq!(after_refused_flags(8), "flagged");
    // One more than is kept: none is, and the late unpause is ordered out (a known gap).
    assert_eq!(after_refused_flags(9), "disabled");
}

#[test]
fn a_saved_report_no_undo_keeps_is_corrupt() {
    let engine = engine_with(&[status("09:00", "disabled"), status("10:50", "flagged")]);
    let mut body: serde_json::Value = serde_json::from_str(&body_of(&engine)).unwrap();
    let kept = &mut body["templates"][0]["disable_undo"]["reports"][0]["status"];
    assert_eq!(*kept, "flagged", "the refused flag is kept");
    *kept = "deleted".into();
    let problem = restore_refusal(&body.to_string());
    assert!(
        problem.contains(r#"keeps a status "deleted" no undo keeps"#),
        "{problem}"
    );
}

#[test]
fn a_saved_undo_state_of_another_template_or_one_no_engine_makes_is_corrupt() {
    let engine = engine_with(&disabled_late());
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).unwrap();
    let mut renamed = body.clone();
    renamed["templates"][0]["disable_undo"]["before"]["spec"]["name"] = "other".into();
    let problem = restore_refusal(&renamed.to_string());
    assert!(
        problem.contains("of another text or registration"),
        "{problem}"
    );
    let mut locked = body;
    locked["templates"][0]["disable_undo"]["before"]["locked"] = true.into();
    let problem = restore_refusal(&locked.to_string());
    assert!(problem.contains("locked with no lock event"), "{problem}");
}

#[test]
fn a_saved_undo_state_of_another_business_or_other_variables_is_corrupt() {
    let engine = engine_with(&disabled_late());
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).unwrap();
    let mut other_business = body.clone();
    other_business["templates"][0]["disable_undo"]["before"]["business"] = 7.into();
    let problem = restore_refusal(&other_business.to_string());
    assert!(problem.contains("names business 7"), "{problem}");
    let mut other_variables = body;
    other_variables["templates"][0]["disable_undo"]["after"]["variables"] =
        serde_json::json!({"positional": 3});
    let problem = restore_refusal(&other_variables.to_string());
    assert!(problem.contains("variables its body"), "{problem}");
}

#[test]
fn a_saved_undo_dated_after_the_clock_is_corrupt() {
    // Applied again, a report dated after the clock would move it.
    let engine = engine_with(&[status("09:00", "disabled"), status("10:50", "flagged")]);
    let mut body: serde_json::Value = serde_json::from_str(&body_of(&engine)).unwrap();
    body["templates"][0]["disable_undo"]["reports"][0]["at"] = "2030-01-01T00:00:00Z".into();
    let problem = restore_refusal(&body.to_string());
    assert!(
        problem.contains("is dated 2030-01-01T00:00:00Z, after the state's clock"),
        "{problem}"
    );
}
