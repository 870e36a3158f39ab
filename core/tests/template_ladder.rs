//! The pause ladder's state travels: what a rating decided, and the strikes it counted,
//! survive a snapshot and a business's export, so a late provider report is judged the same
//! after a restart or a move as before it.

use convstate::Engine;

const SETUP: [&str; 3] = [
    r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
    r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}, see our offer.","status":"approved"}"#,
    r#"{"type":"template_quality","at":"2026-11-02T10:00:00Z","business":"acme","name":"promo","language":"en","quality":"low"}"#,
];

const LATE_APPROVAL: &str = r#"{"type":"template_status","at":"2026-11-02T09:00:00Z","business":"acme","name":"promo","language":"en","status":"approved"}"#;

const QUERY: &str = r#"{"type":"query_template","at":"2026-11-02T10:30:00Z","business":"acme","name":"promo","language":"en"}"#;

/// A cloud-2025 engine that applied `lines`, each without an error.
fn applied(lines: &[&str]) -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    for line in lines {
        let out = engine.handle_json(line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
    }
    engine
}

fn paused_by_a_rating() -> Engine {
    applied(&SETUP)
}

/// The late approval changes nothing: the template stays paused until the rating's end.
fn assert_late_approval_ignored(engine: &mut Engine, what: &str) {
    let out = engine.handle_json(LATE_APPROVAL);
    assert_eq!(out.len(), 1, "{what}: the late approval emitted {out:?}");
    let view = engine.handle_json(QUERY);
    assert!(
        view[0].contains(r#""status":"paused""#)
            && view[0].contains(r#""until":"2026-11-02T13:00:00Z""#),
        "{what}: {view:?}"
    );
}

/// `engine` restored from its snapshot (which saves again byte for byte), and its business
/// imported into a new engine: the two places a ladder's state must travel to, named.
fn restored_and_moved(engine: &Engine) -> [(Engine, &'static str); 2] {
    let bytes = engine.snapshot();
    let restored = Engine::restore(&bytes).expect("restores");
    assert_eq!(restored.snapshot(), bytes);
    let export = engine.export_business("acme").expect("exports");
    let mut moved = Engine::with_preset("cloud-2025").expect("a preset");
    moved.import_business(&export).expect("imports");
    [(restored, "restored"), (moved, "imported")]
}

#[test]
fn a_rating_decision_survives_a_snapshot_and_a_move() {
    for (mut copy, what) in restored_and_moved(&paused_by_a_rating()) {
        assert_late_approval_ignored(&mut copy, what);
    }
}

/// A template that went back to review at 10:00, after a status in which a rating pauses.
fn back_in_review() -> Engine {
    applied(&[
        SETUP[0],
        SETUP[1],
        r#"{"type":"template_status","at":"2026-11-02T10:00:00Z","business":"acme","name":"promo","language":"en","status":"pending"}"#,
    ])
}

/// A low rating from 09:00, when the template was approved, delivered now: a strike.
fn assert_late_rating_strikes(engine: &mut Engine, what: &str) {
    engine.handle_json(r#"{"type":"template_quality","at":"2026-11-02T09:00:00Z","business":"acme","name":"promo","language":"en","quality":"low"}"#);
    let view = engine.handle_json(QUERY);
    assert!(
        view[0].contains(r#""status":"pending""#) && view[0].contains(r#""pause_strikes":1"#),
        "{what}: {view:?}"
    );
}

#[test]
fn the_status_history_a_late_rating_is_judged_by_survives_a_snapshot_and_a_move() {
    for (mut copy, what) in restored_and_moved(&back_in_review()) {
        assert_late_rating_strikes(&mut copy, what);
    }
}
