//! Snapshot integrity: a truncated or altered snapshot is an error, never a silently
//! different engine; an intact one restores byte for byte.

mod common;

use common::{body_of, feed, refusal_with, restore_refusal};

use convstate::snapshot::{seal, unseal, Checksum, SNAPSHOT_VERSION};
use convstate::{Engine, Error};

/// A small engine with a bit of everything: a business, a number, a template, a
/// conversation with a live chat and a ticket, and a pending effect.
fn small_engine() -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    feed(
        &mut engine,
        &[
            r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"order_ready","language":"en","category":"utility","body":"Your order {{1}} is ready.","status":"approved","quality":"high"}"#,
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
        ],
    );
    engine
}

fn assert_refused(bytes: &[u8], what: &str) {
    match Engine::restore(bytes) {
        Ok(_) => panic!("{what}: restored instead of refusing"),
        Err(Error::CorruptSnapshot { .. } | Error::UnsupportedSnapshotVersion { .. }) => {}
        Err(other) => panic!("{what}: not a snapshot error: {other:?}"),
    }
}

#[test]
fn an_intact_snapshot_restores_byte_for_byte() {
    let bytes = small_engine().snapshot();
    let restored = Engine::restore(&bytes).expect("an intact snapshot restores");
    assert_eq!(restored.snapshot(), bytes);
    let text = std::str::from_utf8(&bytes).expect("snapshots are UTF-8 JSON");
    assert!(
        text.starts_with(&format!(
            r#"{{"format":"convstate-snapshot","version":{SNAPSHOT_VERSION},"checksum":""#
        )),
        "{text}"
    );
}

#[test]
fn a_location_restores_to_the_same_coordinates() {
    // A coordinate is written as the shortest decimal that reads back as the same double,
    // which holds only if it is read back correctly rounded: serde_json's default reading
    // is off by one unit in the last place for some 17-digit decimals, so a held location
    // restored a different place, the snapshot was no longer byte for byte the same, and
    // its content hash (§10's duplicates) changed.
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official","default_template":{"name":"follow_up","language":"en"}}"#,
            r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"follow_up","language":"en","category":"utility","body":"Hello, we have an update on your request.","status":"approved"}"#,
            r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000001"}"#,
            r#"{"type":"initiate","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"location","latitude":15.0191273828437827,"longitude":24.1306539125814590}}"#,
        ],
    );
    let bytes = engine.snapshot();
    assert!(
        String::from_utf8_lossy(&bytes).contains("15.019127382843783"),
        "the location is held"
    );
    let restored = Engine::restore(&bytes).expect("restores");
    assert_eq!(
        String::from_utf8(restored.snapshot()).unwrap(),
        String::from_utf8(bytes).unwrap()
    );
}

#[test]
fn every_truncation_at_every_97th_byte_is_refused() {
    let bytes = small_engine().snapshot();
    let mut cuts: Vec<usize> = (0..bytes.len()).step_by(97).collect();
    // The last byte too: the closing brace of the envelope.
    cuts.push(bytes.len() - 1);
    for cut in cuts {
        assert_refused(
            &bytes[..cut],
            &format!("truncated to {cut} of {} bytes", bytes.len()),
        );
    }
}

#[test]
fn whitespace_after_the_envelope_is_no_damage() {
    // A state saved again by an editor, or with `echo >>`, ends in a newline: it was
    // refused as truncated, where an export with one was read.
    let bytes = small_engine().snapshot();
    for tail in [&b"\n"[..], b"\r\n", b"  \n\n"] {
        let mut edited = bytes.clone();
        edited.extend_from_slice(tail);
        let restored = Engine::restore(&edited).expect("a snapshot with a trailing newline");
        assert!(
            restored.snapshot() == bytes,
            "{tail:?} changed what was restored"
        );
    }
}

#[test]
fn every_single_bit_flip_is_refused() {
    let bytes = small_engine().snapshot();
    assert!(
        bytes.len() < 8_000,
        "keep the snapshot small: {} bytes",
        bytes.len()
    );
    let mut flipped = bytes.clone();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            flipped[i] ^= 1 << bit;
            assert_refused(&flipped, &format!("bit {bit} of byte {i} flipped"));
            flipped[i] ^= 1 << bit;
        }
    }
    assert_eq!(flipped, bytes);
}

#[test]
fn a_checksum_mismatch_names_both_checksums() {
    let bytes = small_engine().snapshot();
    let body = unseal(&bytes).expect("intact").to_vec();
    // Change one digit of the body without breaking its JSON: a different state.
    let text = String::from_utf8(body.clone()).expect("UTF-8");
    let altered = text.replacen("2026", "2027", 1);
    assert_ne!(altered, text);
    let recorded = Checksum::CURRENT.hex(&body);
    let actual = Checksum::CURRENT.hex(altered.as_bytes());
    let forged = String::from_utf8(bytes.clone())
        .expect("UTF-8")
        .replacen(&text, &altered, 1);
    match Engine::restore(forged.as_bytes()) {
        Err(Error::CorruptSnapshot { problem }) => {
            assert!(problem.contains(&recorded), "{problem}");
            assert!(problem.contains(&actual), "{problem}");
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
    // The same edit, sealed again, is a valid snapshot of a different state: the checksum
    // detects accidents; it is not a signature.
    assert!(Engine::restore(&seal(altered.as_bytes())).is_ok());
}

#[test]
fn the_checksums_are_the_published_algorithms() {
    // The check values of the catalogue of parametrised CRC algorithms (CRC-32/ISO-HDLC) and
    // of FNV-1a's reference: a snapshot's checksum can be verified with any implementation.
    assert_eq!(Checksum::Crc32.of(b"123456789"), 0xcbf4_3926);
    assert_eq!(Checksum::Crc32.hex(b"123456789"), "cbf43926");
    assert_eq!(Checksum::Fnv1a64.of(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(Checksum::Fnv1a64.hex(b"a"), "af63dc4c8601ec8c");
    assert_eq!(Checksum::CURRENT, Checksum::Crc32);
}

#[test]
fn a_version_2_snapshot_still_restores() {
    // Version 2 differs only in its checksum (64-bit FNV-1a): a state file written before
    // the change restores, and is written back as the current version.
    let current = small_engine().snapshot();
    // Without the numbers of keys and inbound ids, which version 4 added.
    let body = String::from_utf8(unseal(&current).expect("intact").to_vec()).unwrap();
    let body = body
        .replacen(r#","idempotency_numbers":[]"#, "", 1)
        .replacen(r#","inbound_id_numbers":[]"#, "", 1);
    let body = body.as_bytes();
    let mut v2 = format!(
        r#"{{"format":"convstate-snapshot","version":2,"checksum":"{}","body":"#,
        Checksum::Fnv1a64.hex(body)
    )
    .into_bytes();
    v2.extend_from_slice(body);
    v2.push(b'}');
    let restored = Engine::restore(&v2).expect("a version 2 snapshot restores");
    assert_eq!(restored.snapshot(), current);
    // Its checksum is checked as version 2 writes it.
    let mut damaged = v2.clone();
    let digit = b"\"checksum\":\"".len()
        + String::from_utf8_lossy(&v2)
            .find(r#""checksum":""#)
            .unwrap();
    damaged[digit] = if damaged[digit] == b'0' { b'1' } else { b'0' };
    match Engine::restore(&damaged) {
        Err(Error::CorruptSnapshot { problem }) => {
            assert!(problem.starts_with("checksum mismatch"), "{problem}")
        }
        other => panic!("expected a checksum mismatch, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_version_1_snapshot_is_refused_as_unsupported() {
    let v1 = br#"{"format":"convstate-snapshot","version":1,"policy":{}}"#;
    assert_eq!(
        Engine::restore(v1).map(|_| ()),
        Err(Error::UnsupportedSnapshotVersion {
            found: 1,
            supported: SNAPSHOT_VERSION
        })
    );
}

#[test]
fn other_documents_are_corrupt_snapshots() {
    for (what, bytes) in [
        ("empty", &b""[..]),
        ("not JSON", b"\xff\xfe garbage"),
        (
            "JSON of another format",
            br#"{"format":"other","version":2}"#,
        ),
        ("an array", b"[1,2,3]"),
        (
            "the envelope with no body",
            br#"{"format":"convstate-snapshot","version":2,"checksum":"0000000000000000"}"#,
        ),
        (
            "a checksum in upper case",
            br#"{"format":"convstate-snapshot","version":2,"checksum":"CBF29CE484222325","body":}"#,
        ),
        (
            "the envelope of this version with no body",
            br#"{"format":"convstate-snapshot","version":3,"checksum":"00000000"}"#,
        ),
        (
            "a version 2 checksum (16 digits) in a version 3 envelope",
            br#"{"format":"convstate-snapshot","version":3,"checksum":"cbf29ce484222325","body":{}}"#,
        ),
    ] {
        match Engine::restore(bytes) {
            Err(Error::CorruptSnapshot { .. }) => {}
            other => panic!(
                "{what}: expected CorruptSnapshot, got {:?}",
                other.map(|_| ())
            ),
        }
    }
}

#[test]
fn a_conversation_ticket_with_id_0_is_refused() {
    // Ids start at 1; the packed conversation record uses 0 for "no ticket", so a sealed
    // snapshot claiming ticket 0 must not restore as a conversation without one.
    let body = body_of(&small_engine());
    let ticket = r#""ticket":{"id":1,"status":"open"}"#;
    assert!(body.contains(ticket), "{body}");
    let problem =
        restore_refusal(&body.replacen(ticket, r#""ticket":{"id":0,"status":"open"}"#, 1));
    assert!(problem.contains("ticket ids start at 1"), "{problem}");
}

#[test]
fn a_ticket_counter_that_could_wrap_is_refused() {
    // At u64::MAX the next ticket wrapped to 0, "no ticket", and a later live chat panicked.
    let engine = small_engine();
    let body = body_of(&engine);
    let counter = r#""next_ticket":2"#;
    assert!(body.contains(counter), "{body}");
    for next in [u64::MAX, 1 << 63] {
        let problem =
            restore_refusal(&body.replacen(counter, &format!(r#""next_ticket":{next}"#), 1));
        assert!(problem.contains("above the largest allowed"), "{problem}");
    }
    let next = i64::MAX as u64;
    let at_the_bound = body.replacen(counter, &format!(r#""next_ticket":{next}"#), 1);
    let mut restored = Engine::restore(&seal(at_the_bound.as_bytes())).expect("the bound restores");
    // At the largest counter, new tickets take it, and what is saved restores.
    let mut started = Vec::new();
    for contact in ["+79110000002", "+79110000003"] {
        let line = format!(
            r#"{{"type":"inbound","at":"2026-11-02T10:00:00Z","number":"+15550001111","contact":"{contact}","kind":"text"}}"#
        );
        let out = restored.handle_json(&line);
        started.extend(out.into_iter().filter(|l| l.contains("chat_started")));
    }
    assert_eq!(started.len(), 2, "{started:?}");
    for line in &started {
        assert!(line.contains(&format!(r#""ticket":{next},"#)), "{line}");
    }
    Engine::restore(&restored.snapshot()).expect("the state saved restores");
    // A business export carries the counter too: edited, and sealed again as documented
    // (the envelope's checksum is CRC-32 of the body).
    let export = String::from_utf8(engine.export_business("acme").expect("export")).expect("UTF-8");
    let (head, body) = export.split_once(r#","body":"#).expect("an envelope");
    let body = body.strip_suffix('}').expect("an envelope");
    assert!(body.contains(counter), "{body}");
    let body = body.replacen(counter, &format!(r#""next_ticket":{}"#, u64::MAX), 1);
    let (head, _) = head.rsplit_once(r#""checksum":""#).expect("a checksum");
    let forged = format!(
        r#"{head}"checksum":"{}","body":{body}}}"#,
        Checksum::CURRENT.hex(body.as_bytes())
    );
    let forged = forged.as_bytes();
    let err = Engine::with_preset("cloud-2025")
        .expect("a preset")
        .import_business(forged)
        .unwrap_err();
    assert!(
        err.to_string().contains("above the largest allowed"),
        "{err}"
    );
}

#[test]
fn ids_keys_and_content_records_later_than_the_clock_are_refused() {
    // Each sat after the entries recorded next, and the state saved then did not restore;
    // a content record far ahead stopped the pruning of every record behind it.
    let mut engine = small_engine();
    let send = r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hi"},"message_id":"out-1","idempotency_key":"key-1"}"#;
    let inbound = r#"{"type":"inbound","at":"2026-11-02T09:00:30Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":"in-1"}"#;
    feed(&mut engine, &[inbound, send]);
    let body = body_of(&engine);
    assert!(body.contains(r#""clock":"2026-11-02T09:01:00Z""#), "{body}");
    let later = "2026-11-02T09:02:00Z";
    for (entry, moved, problem) in [
        (
            r#"["out-1","2026-11-02T09:01:00Z""#,
            format!(r#"["out-1","{later}""#),
            "sent messages",
        ),
        (
            r#"["in-1","2026-11-02T09:00:30Z""#,
            format!(r#"["in-1","{later}""#),
            "inbound ids",
        ),
        (
            r#"["key-1","2026-11-02T09:01:00Z""#,
            format!(r#"["key-1","{later}""#),
            "idempotency keys",
        ),
        (
            r#"[["2026-11-03T09:01:00Z",0,"#,
            r#"[["2026-11-03T09:01:01Z",0,"#.to_owned(),
            "sent-content record",
        ),
    ] {
        assert!(body.contains(entry), "{entry} in {body}");
        let mut forged = body.replacen(entry, &moved, 1);
        if problem == "idempotency keys" {
            let order = r#"["2026-11-02T09:01:00Z","key-1"]"#;
            assert!(forged.contains(order), "{forged}");
            forged = forged.replacen(order, &format!(r#"["{later}","key-1"]"#), 1);
        }
        let message = restore_refusal(&forged);
        assert!(message.contains(problem), "{problem}: {message}");
    }
}

#[test]
fn a_counter_at_its_largest_value_stays_there() {
    // It wrapped to 0 (a panic in a debug build) on the next inbound.
    let body = body_of(&small_engine());
    let counter = r#""counters":{"inbound":1,"#;
    assert!(body.contains(counter), "{body}");
    let forged = body.replacen(
        counter,
        &format!(r#""counters":{{"inbound":{},"#, u64::MAX),
        1,
    );
    let mut engine = Engine::restore(&seal(forged.as_bytes())).expect("a counter may be any u64");
    let line = r#"{"type":"inbound","at":"2026-11-02T10:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#;
    assert_eq!(
        engine.handle_json(line)[0],
        r#"{"type":"ack","of":"inbound"}"#
    );
    let view = engine.number("+15550001111").expect("registered");
    assert_eq!(view.counters.inbound, u64::MAX);
    Engine::restore(&engine.snapshot()).expect("the state saved restores");
}

#[test]
fn a_contact_reached_after_the_clock_is_refused() {
    // Restored, it sat after the contacts the engine went on to reach, and the state saved
    // then did not restore.
    let body = body_of(&small_engine());
    let window = r#""window":[]"#;
    assert!(body.contains(window), "{body}");
    let reached_at =
        |at: &str| body.replacen(window, &format!(r#""window":[[79110000009,"{at}"]]"#), 1);
    // At the clock is fine; a second later is not.
    Engine::restore(&seal(reached_at("2026-11-02T09:00:00Z").as_bytes())).expect("at the clock");
    let problem = restore_refusal(&reached_at("2026-11-02T09:00:01Z"));
    assert!(
        problem.contains("reached after the state's clock"),
        "{problem}"
    );
}

/// `small_engine` after two sends with idempotency key `req-1`, the second a day later
/// (the key expired by the engine's clock and was given again), and its snapshot body.
fn engine_with_a_replaced_key() -> (Engine, String) {
    let mut engine = small_engine();
    for at in ["2026-11-02T09:01:00Z", "2026-11-03T09:02:00Z"] {
        // Keys expire by the engine's clock (a retry repeats the request's instant).
        engine.handle_json(&format!(r#"{{"type":"tick","at":"{at}"}}"#));
        let line = format!(
            r#"{{"type":"send","at":"{at}","number":"+15550001111","contact":"+79110000001","message":{{"kind":"text","text":"Hello {at}"}},"idempotency_key":"req-1"}}"#
        );
        let out = engine.handle_json(&line);
        assert!(out[0].contains(r#""type":"decision""#), "{out:?}");
    }
    let body =
        String::from_utf8(unseal(&engine.snapshot()).expect("intact").to_vec()).expect("UTF-8");
    (engine, body)
}

#[test]
fn idempotency_keys_restore_with_their_first_decision_and_expiry_order() {
    let (engine, body) = engine_with_a_replaced_key();
    // One key, in both lists, at the second send: the replaced one left nothing behind.
    let order = r#""idempotency_order":[["2026-11-03T09:02:00Z","req-1"]]"#;
    assert!(body.contains(order), "{body}");
    let restored = Engine::restore(&engine.snapshot()).expect("restores");
    assert_eq!(restored.snapshot(), engine.snapshot());

    // Engines before this release also kept the replaced key's order entry: still restored,
    // and written without it.
    let older = body.replacen(
        order,
        r#""idempotency_order":[["2026-11-02T09:01:00Z","req-1"],["2026-11-03T09:02:00Z","req-1"]]"#,
        1,
    );
    assert_ne!(older, body, "the older form applied");
    let restored = Engine::restore(&seal(older.as_bytes())).expect("an older snapshot restores");
    assert_eq!(restored.snapshot(), engine.snapshot());
}

#[test]
fn idempotency_keys_out_of_place_are_refused() {
    let (_, body) = engine_with_a_replaced_key();
    let order = r#""idempotency_order":[["2026-11-03T09:02:00Z","req-1"]]"#;
    for (forged, problem) in [
        (
            body.replacen(order, r#""idempotency_order":[]"#, 1),
            "has no place in the expiry order",
        ),
        (
            body.replacen(
                order,
                r#""idempotency_order":[["2026-11-02T09:01:00Z","req-1"]]"#,
                1,
            ),
            "has no place in the expiry order",
        ),
    ] {
        assert_ne!(forged, body, "the forgery applied");
        match Engine::restore(&seal(forged.as_bytes())) {
            Err(Error::CorruptSnapshot { problem: p }) => assert!(p.contains(problem), "{p}"),
            other => panic!("expected a corrupt snapshot, got {other:?}"),
        }
    }
    // The same key twice in the key list.
    let start = body.find(r#""idempotency":[["#).expect("a key") + r#""idempotency":["#.len();
    let end = body[start..]
        .find(r#"],"idempotency_order""#)
        .expect("the list ends")
        + start;
    let entry = &body[start..end];
    let mut twice = format!("{}{entry},{entry}{}", &body[..start], &body[end..]).replacen(
        r#""idempotency_numbers":[0]"#,
        r#""idempotency_numbers":[0,0]"#,
        1,
    );
    // Its request too, by position.
    let requests = twice
        .find(r#""idempotency_requests":["#)
        .expect("a request")
        + r#""idempotency_requests":["#.len();
    let request_end = twice[requests..].find(']').expect("the list ends") + requests;
    let request = twice[requests..request_end].to_owned();
    twice.replace_range(requests..request_end, &format!("{request},{request}"));
    match Engine::restore(&seal(twice.as_bytes())) {
        Err(Error::CorruptSnapshot { problem }) => {
            assert!(problem.contains("repeated"), "{problem}")
        }
        other => panic!("expected a corrupt snapshot, got {other:?}"),
    }
    // A request list that does not match the keys, by position.
    let start = body.find(r#""idempotency_requests":["#).expect("a request");
    let end = body[start..].find(']').expect("the list ends") + start + 1;
    let extra = format!(
        r#"{}"idempotency_requests":[1,2]{}"#,
        &body[..start],
        &body[end..]
    );
    match Engine::restore(&seal(extra.as_bytes())) {
        Err(Error::CorruptSnapshot { problem }) => {
            assert!(
                problem.contains("1 idempotency keys but 2 requests"),
                "{problem}"
            )
        }
        other => panic!("expected a corrupt snapshot, got {other:?}"),
    }
}

/// `small_engine` after an inbound with a provider message id and a send with an
/// idempotency key, both of number 0.
fn engine_with_a_key_and_an_inbound_id() -> Engine {
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":"wamid.in.1"}"#,
            r#"{"type":"send","at":"2026-11-02T09:06:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hello"},"idempotency_key":"req-9"}"#,
        ],
    );
    engine
}

const NUMBERS: [&str; 2] = [
    r#","idempotency_numbers":[0]"#,
    r#","inbound_id_numbers":[0]"#,
];

#[test]
fn a_version_3_snapshot_restores_its_keys_and_inbound_ids_without_numbers() {
    // Version 3 bodies did not record the number of each key and inbound id: they restore,
    // still answer retries and redeliveries here, but belong to no number (so they stay
    // behind when the business moves).
    let mut original = engine_with_a_key_and_an_inbound_id();
    let body = String::from_utf8(unseal(&original.snapshot()).unwrap().to_vec()).unwrap();
    let mut v3_body = body.clone();
    for numbers in NUMBERS {
        assert!(body.contains(numbers), "{numbers} in {body}");
        v3_body = v3_body.replacen(numbers, "", 1);
    }
    // Nor their senders, kept since.
    let senders = r#","inbound_id_senders":[79110000001]"#;
    assert!(body.contains(senders), "{senders} in {body}");
    v3_body = v3_body.replacen(senders, "", 1);
    let v3 = format!(
        r#"{{"format":"convstate-snapshot","version":3,"checksum":"{}","body":{v3_body}}}"#,
        Checksum::Crc32.hex(v3_body.as_bytes())
    );
    let mut restored = Engine::restore(v3.as_bytes()).expect("a version 3 snapshot restores");
    for retry in [
        r#"{"type":"inbound","at":"2026-11-02T09:30:00Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":"wamid.in.1"}"#,
        r#"{"type":"send","at":"2026-11-02T09:30:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hello"},"idempotency_key":"req-9"}"#,
    ] {
        let expected = original.handle_json(retry);
        assert_eq!(expected.len(), 1, "recognised: {expected:?}");
        assert_eq!(restored.handle_json(retry), expected);
    }
    let written = String::from_utf8(unseal(&restored.snapshot()).unwrap().to_vec()).unwrap();
    assert!(
        written.contains(r#""idempotency_numbers":[null]"#),
        "{written}"
    );
    assert!(
        written.contains(r#""inbound_id_numbers":[null]"#),
        "{written}"
    );
    let export = String::from_utf8(restored.export_business("acme").unwrap()).unwrap();
    assert!(
        export.contains(r#""idempotency":[],"inbound_ids":[]"#),
        "{export}"
    );
}

/// `body` sealed in an envelope of `version` (CRC-32, as versions 3 and 4 write it).
fn sealed_as(version: u32, body: &str) -> Vec<u8> {
    format!(
        r#"{{"format":"convstate-snapshot","version":{version},"checksum":"{}","body":{body}}}"#,
        Checksum::Crc32.hex(body.as_bytes())
    )
    .into_bytes()
}

#[test]
fn a_version_4_snapshot_relabelled_as_version_3_is_refused() {
    // The checksum covers the body, not the envelope's version, and versions 3 and 4 share
    // it: a version 4 snapshot whose version reads 3 (an edit, a tool that rewrote the
    // header) was restored under version 3's rules, every key's and inbound id's number
    // and sender dropped without a word, so they stayed behind when their business moved.
    // Version 4 bodies always list those numbers and version 3 bodies never did: a body
    // holding them is refused under version 3, while a real version 3 body restores.
    let engine = engine_with_a_key_and_an_inbound_id();
    let body = body_of(&engine);
    for problem in [
        match Engine::restore(&sealed_as(3, &body)) {
            Err(Error::CorruptSnapshot { problem }) => problem,
            other => panic!("expected corrupt, got {:?}", other.map(|_| ())),
        },
        // An engine with no keys and no ids lists the numbers of none, and is refused too.
        match Engine::restore(&sealed_as(3, &body_of(&small_engine()))) {
            Err(Error::CorruptSnapshot { problem }) => problem,
            other => panic!("expected corrupt, got {:?}", other.map(|_| ())),
        },
    ] {
        assert!(
            problem.contains("version 3") && problem.contains("idempotency_numbers"),
            "{problem}"
        );
    }
    // The senders alone (a version 3 body never listed them either).
    let mut senders_only = body.clone();
    for numbers in NUMBERS {
        senders_only = senders_only.replacen(numbers, "", 1);
    }
    assert!(
        senders_only.contains(r#""inbound_id_senders":["#),
        "{senders_only}"
    );
    match Engine::restore(&sealed_as(3, &senders_only)) {
        Err(Error::CorruptSnapshot { problem }) => {
            assert!(problem.contains("inbound_id_senders"), "{problem}")
        }
        other => panic!("expected corrupt, got {:?}", other.map(|_| ())),
    }
    // Relabelled as version 2, the checksum is not one version 2 writes.
    let v2 = String::from_utf8(sealed_as(2, &body)).unwrap();
    assert_refused(v2.as_bytes(), "a version 4 body under version 2");
}

#[test]
fn numbers_of_keys_and_inbound_ids_are_checked() {
    let body = String::from_utf8(
        unseal(&engine_with_a_key_and_an_inbound_id().snapshot())
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    for numbers in NUMBERS {
        for (forged, says) in [
            (numbers.replace("[0]", "[0,0]"), "but 2 numbers for them"),
            (numbers.replace("[0]", "[1]"), "names number 1 of 1"),
            // A version 4 body lists them, even where older ones did not.
            (String::new(), "but 0 numbers for them"),
        ] {
            let forged = seal(body.replacen(numbers, &forged, 1).as_bytes());
            match Engine::restore(&forged) {
                Err(Error::CorruptSnapshot { problem }) => {
                    assert!(problem.contains(says), "{problem}")
                }
                other => panic!("{forged:?}: expected corrupt, got {:?}", other.map(|_| ())),
            }
        }
    }
}

/// An engine under the classic profile with an entry in every keyed table of the body:
/// a live chat and its timer, a held message, a consent, a limit contact, a billing
/// record, monthly usage and a back-off.
fn engine_with_every_keyed_table() -> Engine {
    let mut engine = Engine::with_preset("classic").expect("a preset");
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official","default_template":{"name":"notice","language":"en"}}"#,
            r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}, see our offer.","status":"approved"}"#,
            r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"notice","language":"en","category":"utility","body":"We have an update on your request.","status":"approved"}"#,
            r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000001"}"#,
            r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000003"}"#,
            r#"{"type":"send","at":"2026-11-02T08:00:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"promo","language":"en","params":["x"]},"message_id":"wamid.6"}"#,
            r#"{"type":"message_status","at":"2026-11-02T08:01:00Z","number":"+15550001111","contact":"+79110000001","message_id":"wamid.6","status":"failed","errors":[131049,131056]}"#,
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000002","kind":"text"}"#,
            r#"{"type":"initiate","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000003","message":{"kind":"text","text":"Your refund was approved."}}"#,
        ],
    );
    engine
}

#[test]
fn an_entry_listed_twice_in_a_keyed_table_is_refused() {
    // Each was merged, the later copy kept, where repeated businesses, numbers and
    // conversations were refused: a host editing a body lost an entry without a word.
    let body: serde_json::Value =
        serde_json::from_str(&body_of(&engine_with_every_keyed_table())).expect("JSON");
    for (table, named) in [
        ("live_chats", "the live chat of conversation"),
        ("outbox", "the outbox of conversation"),
        ("consents", "a consent record of business 0"),
        ("timers", "timer"),
        ("limits", "the limit of owner 0"),
        ("billing", "the billing record of conversation"),
        ("usage", "the usage of number 0"),
        ("backoffs", "the back-off of conversation"),
    ] {
        let mut forged = body.clone();
        let entries = forged[table].as_array_mut().expect("a list");
        let first = entries
            .first()
            .unwrap_or_else(|| panic!("{table} is empty"))
            .clone();
        entries.push(first);
        let message = restore_refusal(&forged.to_string());
        assert!(message.contains(named), "{table}: {message}");
        assert!(message.ends_with("appears twice"), "{table}: {message}");
    }
}

/// A flagged number keeps the level its flag started from (the deadline lowers from it); a
/// level outside the policy's, or one kept without a flag, would silently change what the
/// deadline does.
#[test]
fn a_flag_level_must_be_a_level_of_a_flagged_number() {
    let mut engine = small_engine();
    // Unflagged numbers write no level: their snapshots are what they were before.
    assert!(!body_of(&engine).contains("limit_level_at_flag"));
    let out = engine.handle_json(
        r#"{"type":"number_quality","at":"2026-11-02T09:30:00Z","number":"+15550001111","quality":"low"}"#,
    );
    assert!(!out[0].contains(r#""type":"error""#), "{out:?}");
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
    assert_eq!(
        body["numbers"][0]["limit_level_at_flag"], 0,
        "{}",
        body["numbers"][0]
    );
    let mut forged = body.clone();
    forged["numbers"][0]["limit_level_at_flag"] = 9.into();
    let message = restore_refusal(&forged.to_string());
    assert!(
        message.contains("number 0 has limit_level_at_flag 9, not a level of the policy's 5"),
        "{message}"
    );
    let mut forged = body.clone();
    forged["numbers"][0]["flagged_until"] = serde_json::Value::Null;
    let message = restore_refusal(&forged.to_string());
    assert!(
        message.contains("number 0 has a limit_level_at_flag but is not flagged"),
        "{message}"
    );
}

/// A number's latest recovery and its expired flag are dated by inputs applied, no later
/// than the state's clock (one after it would stop every late rating before it from moving
/// a flag), and an expired flag's level is one of the policy's.
#[test]
fn a_numbers_recovery_and_expired_flag_are_not_after_the_clock() {
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"number_quality","at":"2026-11-02T09:30:00Z","number":"+15550001111","quality":"low"}"#,
            r#"{"type":"tick","at":"2026-11-09T10:00:00Z"}"#,
            r#"{"type":"number_quality","at":"2026-11-09T11:00:00Z","number":"+15550001111","quality":"high"}"#,
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
    let number = &body["numbers"][0];
    assert_eq!(number["recovered_at"], "2026-11-09T11:00:00Z", "{number}");
    assert_eq!(
        number["expired_flag"]["deadline"], "2026-11-09T09:30:00Z",
        "{number}"
    );
    let mut forged = body.clone();
    forged["numbers"][0]["recovered_at"] = "2026-12-01T00:00:00Z".into();
    let message = restore_refusal(&forged.to_string());
    assert!(
        message
            .contains("number 0 has a recovery at 2026-12-01T00:00:00Z, after the state's clock"),
        "{message}"
    );
    let mut forged = body.clone();
    forged["numbers"][0]["expired_flag"]["deadline"] = "2026-12-01T00:00:00Z".into();
    let message = restore_refusal(&forged.to_string());
    assert!(
        message.contains("has a flag that ran out at 2026-12-01T00:00:00Z"),
        "{message}"
    );
    let mut forged = body;
    forged["numbers"][0]["expired_flag"]["level_at_flag"] = 9.into();
    let message = restore_refusal(&forged.to_string());
    assert!(
        message.contains("has an expired flag from level Some(9), not a level of the policy's 5"),
        "{message}"
    );
}

/// Addresses a restore checks as an import does: a messaging limit's contacts name interned
/// ids the body has, and a number's packed address is a phone number. Restored, either
/// made an engine whose business export no engine imports.
#[test]
fn limit_contacts_and_number_addresses_are_checked_as_an_import_checks_them() {
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"opt_in","at":"2026-11-02T09:00:00Z","business":"acme","contact":"+79110000002"}"#,
            r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000002","message":{"kind":"template","name":"order_ready","language":"en","params":["x"]}}"#,
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
    // The contact reached counts in the window and in the upgrade's lookback.
    let reached = serde_json::json!([[79110000002u64, "2026-11-02T09:01:00Z"]]);
    assert_eq!(body["limits"][0]["window"], reached, "{}", body["limits"]);
    assert_eq!(body["limits"][0]["lookback"], reached, "{}", body["limits"]);
    Engine::restore(&seal(body.to_string().as_bytes())).expect("the body as saved restores");

    // No interned id at all (the body interns none), with both tag bits set or one.
    let opaque_0 = serde_json::json!(1u64 << 62);
    for (list, contact) in [
        ("window", serde_json::json!(u64::MAX)),
        ("window", opaque_0.clone()),
        ("lookback", serde_json::json!(u64::MAX)),
        ("lookback", opaque_0),
    ] {
        let mut forged = body.clone();
        forged["limits"][0][list][0][0] = contact.clone();
        let message = restore_refusal(&forged.to_string());
        assert_eq!(
            message,
            format!("a messaging limit's {list} contact refers to an unknown interned id"),
            "{list} contact {contact}"
        );
    }
    for (address, says) in [
        (0, "never starts with 0"),
        (1, "1 digits"),
        (1_234_567, "7 digits"),
        (1_000_000_000_000_000u64, "more than 15 digits"),
    ] {
        let mut forged = body.clone();
        forged["numbers"][0]["address"] = address.into();
        let message = restore_refusal(&forged.to_string());
        assert!(
            message.starts_with(&format!(
                "number 0's address: invalid phone number \"+{address}\""
            )) && message.contains(says),
            "{message}"
        );
    }
}

#[test]
fn interned_ids_are_checked_as_an_import_checks_them() {
    let mut engine = small_engine();
    let line = r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"team42","kind":"text"}"#;
    assert!(!engine.handle_json(line)[0].contains(r#""type":"error""#));
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
    assert_eq!(body["interned"], serde_json::json!(["team42"]));
    for (id, says) in [("", "0 characters"), ("a b", "whitespace")] {
        let mut forged = body.clone();
        forged["interned"][0] = id.into();
        let message = restore_refusal(&forged.to_string());
        assert!(
            message.starts_with("interned id: ") && message.contains(says),
            "{id:?}: {message}"
        );
    }
}

/// A snapshot written before chat response times were kept (at commit aad162a): a
/// number's counters without `responses`, a queued `chat_ended` without them, a live chat
/// answered once without its wait and count. It restores, with each chat that had a first
/// response counting that one response, and the answered chat carries on.
#[test]
fn a_snapshot_from_before_response_times_restores() {
    let bytes = include_bytes!("fixtures/snapshot-before-response-times.json");
    let mut engine = Engine::restore(bytes).expect("an older snapshot restores");
    let queued: Vec<String> = std::iter::from_fn(|| engine.poll_effect())
        .map(|e| serde_json::to_string(&e).expect("effects serialise"))
        .collect();
    let ended = queued
        .iter()
        .find(|e| e.contains(r#""effect":"chat_ended""#))
        .expect("the queued chat_ended");
    assert!(
        ended.contains(r#""first_response_after":"2m","responses":1,"response_total":"2m""#),
        "{ended}"
    );
    let number = engine.handle_json(
        r#"{"type":"query_number","at":"2026-11-02T09:04:00Z","number":"+15550001111"}"#,
    );
    assert!(
        number[0].contains(r#""first_response_total_ms":120000,"first_responses":1,"responses":1,"response_total_ms":120000"#),
        "{number:?}"
    );
    let chat = |engine: &mut Engine, at: &str| {
        engine.handle_json(&format!(
            r#"{{"type":"query_conversation","at":"{at}","number":"+15550001111","contact":"+79110000002"}}"#
        ))[0]
            .clone()
    };
    let view = chat(&mut engine, "2026-11-02T09:04:00Z");
    assert!(
        view.contains(r#""first_response_at":"2026-11-02T09:03:00Z","waiting_since":null,"responses":1,"response_total":"1m""#),
        "{view}"
    );
    feed(
        &mut engine,
        &[
            r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000002","kind":"text"}"#,
            r#"{"type":"send","at":"2026-11-02T09:06:00Z","number":"+15550001111","contact":"+79110000002","message":{"kind":"text","text":"On it."}}"#,
        ],
    );
    let view = chat(&mut engine, "2026-11-02T09:06:00Z");
    assert!(
        view.contains(r#""responses":2,"response_total":"2m""#),
        "{view}"
    );
}

/// `window.request_welcome_until` came after the fixture above: a saved state without it
/// restores with Meta's removal date, while one that says null (welcome requests never open
/// a window) restores null, not the date (the field's serde default fills only an absent
/// key), through a snapshot and a business export alike.
#[test]
fn request_welcome_until_restores_as_saved_and_as_the_removal_date_when_absent() {
    let bytes = include_bytes!("fixtures/snapshot-before-response-times.json");
    let body = String::from_utf8(unseal(bytes).expect("intact").to_vec()).expect("UTF-8");
    assert!(
        !body.contains("request_welcome_until"),
        "the fixture predates the field"
    );
    let older = Engine::restore(bytes).expect("an older snapshot restores");
    let until = older.policy().window.request_welcome_until;
    assert_eq!(
        until.map(|end| end.to_rfc3339()).as_deref(),
        Some("2026-03-27T00:00:00Z")
    );
    assert!(
        older.policy().overridden_fields().is_empty(),
        "the preset's own value"
    );

    let never = convstate::Policy::with_overrides(
        "cloud-2025",
        &serde_json::json!({"window": {"request_welcome_until": null}}),
    )
    .expect("null is a value of the field");
    let mut engine = Engine::new(never.clone());
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-03-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        ],
    );
    assert!(body_of(&engine).contains(r#""request_welcome_until":null"#));
    let restored = Engine::restore(&engine.snapshot()).expect("restores");
    assert_eq!(restored.policy(), &never);
    let export = engine.export_business("acme").expect("exports");
    let moved = Engine::from_business_export(&export).expect("a new node from the export");
    assert_eq!(moved.policy(), &never);
    let mut other = Engine::new(never.clone());
    other
        .import_business(&export)
        .expect("the same policy imports");
}

/// Found by the `snapshot_restore` fuzz target in CI: an older snapshot's live chat whose
/// first response came two thousand years after it started. Its response time, derived on
/// restore, was longer than any duration, so the engine's own snapshot of it was refused.
/// Durations stop at their maximum, and the saved state restores. (The fuzzer's chat was
/// answered after the state's clock too, which is now refused on its own: here the clock
/// has reached the answer.)
#[test]
fn a_chat_answered_millennia_after_it_started_saves_a_state_that_restores() {
    let bytes = include_bytes!("fixtures/snapshot-before-response-times.json");
    let body = String::from_utf8(unseal(bytes).expect("intact").to_vec()).expect("UTF-8");
    let chat = r#"{"started_at":"2026-11-02T09:02:00Z","last_activity_at":"2026-11-02T09:03:00Z","first_response_at":"2026-11-02T09:03:00Z"}"#;
    assert!(body.contains(chat), "the fixture's answered chat");
    let late = r#"{"started_at":"2026-11-02T09:02:00Z","last_activity_at":"4052-11-02T09:03:00Z","first_response_at":"4052-11-02T09:03:00Z"}"#;
    let clock = r#""clock":"2026-11-02T09:04:00Z""#;
    assert!(body.contains(clock), "the fixture's clock");
    let forged = body
        .replace(chat, late)
        .replace(clock, r#""clock":"4052-11-02T09:04:00Z""#);
    let engine =
        Engine::restore(&seal(forged.as_bytes())).expect("the forged older snapshot restores");
    let saved = engine.snapshot();
    let again = Engine::restore(&saved).expect("the engine's own snapshot restores");
    assert!(again.snapshot() == saved, "restore(snapshot(e)) is stable");
    assert!(
        body_of(&again).contains(r#""responses":1,"response_total":"36600d""#),
        "the response time stops at the longest duration: {}",
        body_of(&again)
    );
}

#[test]
fn a_quality_pause_restored_from_before_counted_pauses_is_not_struck_twice() {
    // A snapshot of before templates kept their counted pauses: the pause in progress is
    // counted on restore, so the provider's report of it, arriving after, adds no strike.
    let mut engine = small_engine();
    let low = r#"{"type":"template_quality","at":"2026-11-02T10:00:00Z","business":"acme","name":"order_ready","language":"en","quality":"low"}"#;
    assert!(engine.handle_json(low)[0].contains(r#""type":"ack""#));
    let body = body_of(&engine);
    let counted = r#""counted_pauses":[["2026-11-02T10:00:00Z","2026-11-02T13:00:00Z"]],"#;
    assert!(body.contains(counted), "{body}");
    let older = seal(body.replace(counted, "").as_bytes());
    for bytes in [engine.snapshot(), older] {
        let mut restored = Engine::restore(&bytes).expect("restores");
        let report = r#"{"type":"template_status","at":"2026-11-02T10:01:00Z","business":"acme","name":"order_ready","language":"en","status":"paused","until":"2026-11-02T13:01:00Z"}"#;
        assert!(restored.handle_json(report)[0].contains(r#""type":"ack""#));
        let view = restored.template("acme", "order_ready", "en").unwrap();
        assert_eq!(view.pause_strikes, 1);
    }
}

/// A contact sent two templates (`wamid.A` at 10:00, taking the slot, and `wamid.B` at
/// 10:10) under a policy whose failed sends give back their slot, and its snapshot body.
fn engine_with_two_live_sends() -> (Engine, String) {
    let mut policy = convstate::Policy::preset("cloud-2025").expect("a preset");
    policy.provider.release_failed_sends = true;
    let mut engine = Engine::new(policy);
    feed(
        &mut engine,
        &[
            r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"order_ready","language":"en","category":"utility","body":"Your order {{1}} is ready.","status":"approved","quality":"high"}"#,
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000002"}"#,
            r#"{"type":"send","at":"2026-11-02T10:00:00Z","number":"+15550001111","contact":"+79110000002","message":{"kind":"template","name":"order_ready","language":"en","params":["1"]},"message_id":"wamid.A"}"#,
            r#"{"type":"send","at":"2026-11-02T10:10:00Z","number":"+15550001111","contact":"+79110000002","message":{"kind":"template","name":"order_ready","language":"en","params":["2"]},"message_id":"wamid.B"}"#,
        ],
    );
    let body = body_of(&engine);
    (engine, body)
}

fn fail(engine: &mut Engine, message_id: &str, at: &str) {
    let line = format!(
        r#"{{"type":"message_status","at":"{at}","number":"+15550001111","contact":"+79110000002","message_id":"{message_id}","status":"failed","errors":[131026]}}"#
    );
    assert!(engine.handle_json(&line)[0].contains(r#""type":"ack""#));
}

fn used(engine: &Engine, at: &str) -> u32 {
    engine
        .limit(
            "+15550001111",
            convstate::Instant::parse_rfc3339(at).expect("an instant"),
        )
        .expect("a number")
        .used
}

#[test]
fn a_contact_s_live_sends_restore_and_older_snapshots_release_as_they_did() {
    let (engine, body) = engine_with_two_live_sends();
    // Both sends are live, the contact counted since the first.
    let live = r#","window_live":[["2026-11-02T10:00:00Z",2]],"lookback_live":[["2026-11-02T10:00:00Z",2]]"#;
    assert!(body.contains(live), "{body}");
    let mut restored = Engine::restore(&engine.snapshot()).expect("restores");
    fail(&mut restored, "wamid.A", "2026-11-02T10:20:00Z");
    assert_eq!(used(&restored, "2026-11-02T10:20:00Z"), 1, "wamid.B lives");
    fail(&mut restored, "wamid.B", "2026-11-02T10:30:00Z");
    assert_eq!(used(&restored, "2026-11-02T10:30:00Z"), 0, "none lives");

    // Saved before live sends were kept: each contact has one, from its latest instant,
    // and only a message that took a slot is released, so a failure frees the slot only if
    // it is of the send at that instant, as then: here neither does.
    let counted = r#","counted_by_limit":true"#;
    assert_eq!(body.matches(counted).count(), 2, "{body}");
    let older = body.replace(live, "").replace(counted, "");
    let mut restored = Engine::restore(&seal(older.as_bytes())).expect("restores");
    fail(&mut restored, "wamid.A", "2026-11-02T10:20:00Z");
    fail(&mut restored, "wamid.B", "2026-11-02T10:30:00Z");
    assert_eq!(used(&restored, "2026-11-02T10:30:00Z"), 1);
}

#[test]
fn live_sends_that_do_not_fit_their_entries_are_refused() {
    let (_, body) = engine_with_two_live_sends();
    let live = r#""window_live":[["2026-11-02T10:00:00Z",2]]"#;
    assert!(body.contains(live), "{body}");
    for bad in [
        r#""window_live":[["2026-11-02T10:00:00Z",0]]"#,
        r#""window_live":[["2026-11-02T10:10:01Z",1]]"#,
        r#""window_live":[["2026-11-02T10:00:00Z",1],["2026-11-02T10:00:00Z",1]]"#,
    ] {
        let problem = restore_refusal(&body.replace(live, bad));
        assert!(problem.contains("live sends wrong"), "{bad}: {problem}");
    }
}

#[test]
fn the_engine_s_own_limit_changes_restore_and_broken_ones_are_refused() {
    // A flag's deadline lowers the limit the provider had raised: the engine's own change,
    // kept so that a late provider report restating the level before it changes nothing.
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"messaging_limit","at":"2026-11-02T09:00:00Z","number":"+15550001111","limit":2000}"#,
            r#"{"type":"number_quality","at":"2026-11-02T09:00:00Z","number":"+15550001111","quality":"low"}"#,
            r#"{"type":"tick","at":"2026-11-09T10:00:00Z"}"#,
        ],
    );
    let body = body_of(&engine);
    let changes = r#""own_changes":[["2026-11-09T09:00:00Z",1]]"#;
    assert!(body.contains(changes), "{body}");
    let late = r#"{"type":"messaging_limit","at":"2026-11-05T09:00:00Z","number":"+15550001111","limit":2000}"#;
    let limit = |engine: &Engine| {
        engine
            .limit("+15550001111", engine.clock())
            .expect("a limit")
            .limit
    };
    let mut restored = Engine::restore(&engine.snapshot()).expect("restores");
    assert_eq!(restored.snapshot(), engine.snapshot(), "byte for byte");
    let before = limit(&restored);
    restored.handle_json(late);
    assert_eq!(
        limit(&restored),
        before,
        "the late restatement changes nothing"
    );

    for bad in [
        r#""own_changes":[["2026-11-09T09:00:00Z",9]]"#,
        r#""own_changes":[["2026-11-09T10:00:01Z",1]]"#,
        r#""own_changes":[["2026-11-09T09:00:00Z",1],["2026-11-08T09:00:00Z",1]]"#,
        // The last change is when the level was reached (`level_since`).
        r#""own_changes":[["2026-11-09T08:00:00Z",1]]"#,
    ] {
        let problem = restore_refusal(&body.replace(changes, bad));
        assert!(problem.contains("own level changes"), "{bad}: {problem}");
    }
}

#[test]
fn contact_links_restore_and_broken_ones_are_refused() {
    // An engine without links writes no `contact_links`, as before they existed.
    assert!(!body_of(&small_engine()).contains("contact_links"));
    let mut engine = small_engine();
    let out = engine.handle_json(
        r#"{"type":"inbound","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000002","user_id":"US.1000000000000000001","kind":"text"}"#,
    );
    assert!(out[0].contains(r#""type":"ack""#), "{out:?}");
    let bytes = engine.snapshot();
    let restored = Engine::restore(&bytes).expect("a snapshot with a link restores");
    assert_eq!(restored.snapshot(), bytes);
    let view = restored
        .conversation("+15550001111", "US.1000000000000000001", restored.clock())
        .unwrap();
    assert_eq!(view.contact, "+79110000002");

    let body = body_of(&engine);
    let mut json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let link = json["contact_links"][0].clone();
    let (user_id, phone) = (link[1].clone(), link[2].clone());
    assert_eq!(phone, 79110000002u64, "{link}");
    let mut with_links = |links: serde_json::Value| {
        json["contact_links"] = links;
        restore_refusal(&json.to_string())
    };
    for (links, problem) in [
        (
            serde_json::json!([[0, user_id, phone], [0, user_id, 79110000001u64]]),
            "is linked twice",
        ),
        (
            serde_json::json!([[0, user_id, phone], [0, phone, user_id]]),
            "leads to another link",
        ),
        (
            serde_json::json!([[0, phone, phone]]),
            "must join a user id to another name",
        ),
        (
            serde_json::json!([[0, 79110000009u64, phone]]),
            "must join a user id to another name",
        ),
        (
            serde_json::json!([[1, user_id, phone]]),
            "names business 1 of 1",
        ),
        (
            serde_json::json!([[0, 4611686018427387999u64, phone]]),
            "unknown interned id",
        ),
    ] {
        let refused = with_links(links.clone());
        assert!(refused.contains(problem), "{links}: {refused}");
    }
}

#[test]
fn a_template_disabled_at_its_flag_deadline_restores_and_a_stray_mark_is_refused() {
    let mut engine = Engine::with_preset("classic").expect("a preset");
    feed(
        &mut engine,
        &[
            r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}.","status":"approved"}"#,
            r#"{"type":"template_quality","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","quality":"low"}"#,
            r#"{"type":"tick","at":"2026-11-10T00:00:00Z"}"#,
        ],
    );
    let bytes = engine.snapshot();
    assert_eq!(Engine::restore(&bytes).unwrap().snapshot(), bytes);
    let body = body_of(&engine);
    let mark = r#""disabled_at_deadline":"2026-11-09T08:00:00Z""#;
    assert!(body.contains(mark), "{body}");
    let approved = body.replacen(r#""status":"disabled""#, r#""status":"approved""#, 1);
    assert_ne!(approved, body);
    let problem = restore_refusal(&approved);
    assert!(
        problem.contains("marked disabled at its flag deadline"),
        "{problem}"
    );
}

/// A provider's lock is kept: a locked template restores locked (its edits refused), a
/// state saved before locks were kept (no `locked`, no `lock_event`) restores its templates
/// unlocked, and a lock with no lock event behind it is refused.
#[test]
fn a_template_lock_restores_and_older_states_restore_unlocked() {
    let mut engine = small_engine();
    let unlocked_bytes = engine.snapshot();
    let before = body_of(&engine);
    assert!(
        !before.contains(r#""locked""#) && !before.contains(r#""lock_event""#),
        "an engine without locks writes what earlier builds read"
    );
    feed(
        &mut engine,
        &[
            r#"{"type":"template_status","at":"2026-11-02T09:10:00Z","business":"acme","name":"order_ready","language":"en","status":"locked"}"#,
        ],
    );
    let edit = r#"{"type":"edit_template","at":"2026-11-02T09:20:00Z","business":"acme","name":"order_ready","language":"en","body":"Order {{1}} is ready."}"#;
    let bytes = engine.snapshot();
    let mut restored = Engine::restore(&bytes).expect("restores");
    assert_eq!(restored.snapshot(), bytes);
    let refused = restored.handle_json(edit);
    assert!(
        refused[0].contains(r#""error":"template_not_editable""#) && refused[0].contains("locked"),
        "{refused:?}"
    );
    let body = body_of(&engine);
    let lock = r#","locked":true"#;
    assert!(body.contains(lock), "{body}");
    // A late unlock, older than the lock, changes nothing after a restore either.
    let late = r#"{"type":"template_status","at":"2026-11-02T09:05:00Z","business":"acme","name":"order_ready","language":"en","status":"unlocked"}"#;
    assert!(restored.handle_json(late)[0].contains(r#""type":"ack""#));
    assert!(restored.handle_json(edit)[0].contains("template_not_editable"));

    // It moves with its business.
    let export = engine.export_business("acme").expect("exports");
    let mut moved = Engine::from_business_export(&export).expect("imports");
    assert!(moved.handle_json(edit)[0].contains("template_not_editable"));

    // Saved before locks were kept: unlocked, edited as its status allows.
    let mut older = Engine::restore(&unlocked_bytes).expect("restores");
    assert!(older.handle_json(edit)[0].contains(r#""type":"ack""#));

    // A lock with no lock event behind it.
    let start = body.find(r#","lock_event":["#).expect("the lock event");
    let end = start + body[start..].find(']').unwrap() + 1;
    let stray = format!("{}{}", &body[..start], &body[end..]);
    let problem = restore_refusal(&stray);
    assert!(problem.contains("locked with no lock event"), "{problem}");
}

/// Inbound ids are kept with their senders as named. A state saved before that (no
/// `inbound_id_senders`) restores with its ids matching any sender while remembered, as
/// they did then; a sender that is not one of the state's names is refused.
#[test]
fn inbound_ids_restore_with_their_senders_or_without_as_before() {
    let mut engine = small_engine();
    let inbound = |contact: &str| {
        format!(
            r#"{{"type":"inbound","at":"2026-11-02T09:30:00Z","number":"+15550001111","contact":"{contact}","kind":"text","message_id":"m-1"}}"#
        )
    };
    assert!(engine.handle_json(&inbound("+79110000001"))[0].contains(r#""type":"ack""#));
    let body = body_of(&engine);
    let kept = r#","inbound_id_senders":[79110000001]"#;
    assert!(body.contains(kept), "{body}");

    let mut restored = Engine::restore(&seal(body.as_bytes())).expect("restores");
    assert_eq!(
        restored.handle_json(&inbound("+79110000001")).len(),
        1,
        "delivered again"
    );
    let other = restored.handle_json(&inbound("+79110000002"));
    assert!(
        other.len() > 1,
        "another sender's m-1 is its own: {other:?}"
    );

    let mut older = Engine::restore(&seal(body.replace(kept, "").as_bytes())).expect("restores");
    assert_eq!(older.handle_json(&inbound("+79110000001")).len(), 1);
    assert_eq!(
        older.handle_json(&inbound("+79110000002")).len(),
        1,
        "an id saved without its conversation matches any sender"
    );

    // A tagged key (an opaque id) with no interned string behind it.
    let unknown = format!(r#","inbound_id_senders":[{}]"#, 1u64 << 62 | 7);
    let problem = restore_refusal(&body.replace(kept, &unknown));
    assert!(problem.contains("unknown interned id"), "{problem}");
}

#[test]
fn a_field_this_build_does_not_know_is_refused_wherever_it_is() {
    // A state saved by a newer build, read by this one: a field it does not know would be
    // dropped, and whatever the newer build kept in it lost without a word. Refused instead,
    // in every record, as a field at the top is.
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"order_ready","language":"en","params":["1"]},"message_id":"wamid.1","idempotency_key":"k1"}"#,
            r#"{"type":"message_status","at":"2026-11-02T09:02:00Z","number":"+15550001111","contact":"+79110000002","message_id":"wamid.9","status":"failed","errors":[131056]}"#,
            r#"{"type":"number_restriction","at":"2026-11-02T09:03:00Z","number":"+15550001111","scope":"business_initiated","until":"2026-11-03T09:03:00Z"}"#,
            r#"{"type":"opt_in","at":"2026-11-02T09:03:00Z","business":"acme","contact":"+79110000001"}"#,
            r#"{"type":"end_chat","at":"2026-11-02T09:04:00Z","number":"+15550001111","contact":"+79110000001","by":"agent"}"#,
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).unwrap();
    let kept = common::objects_taking_unknown_fields(&body, 20, |changed| {
        Engine::restore(&seal(changed.to_string().as_bytes())).is_ok()
    });
    assert!(
        kept.is_empty(),
        "a field `zz_future` restored without a word in {kept:?}"
    );
}

#[test]
fn a_template_saved_before_a_registration_rule_was_added_still_restores() {
    // Registration refuses `{{01}}` and an empty header since they were found failing at
    // Meta; a state saved with such a template restores, and reads it as it did then.
    let engine = small_engine();
    let body = body_of(&engine);
    let older = body.replace("Your order {{1}} is ready.", "Your order {{01}} is ready.");
    assert_ne!(older, body);
    let mut restored = Engine::restore(&seal(older.as_bytes())).expect("restores");
    let send = r#"{"type":"check_send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"order_ready","language":"en","params":["1"]}}"#;
    assert!(
        restored.handle_json(send)[0].contains(r#""verdict":"allowed""#),
        "one variable, as before"
    );
}

#[test]
fn a_saved_record_registration_would_refuse_is_refused() {
    let body = body_of(&small_engine());
    for (from, to, problem) in [
        (
            r#""name":"acme""#,
            r#""name":"""#,
            r#"business name "" must be 1..=256"#,
        ),
        (
            r#""name":"order_ready""#,
            r#""name":"Order Ready""#,
            "is not 1..=512 lowercase",
        ),
        (
            r#""provider":"meta""#,
            r#""provider":"""#,
            "has a provider of 0 bytes",
        ),
    ] {
        assert!(body.contains(from), "{from} in {body}");
        let refusal = restore_refusal(&body.replacen(from, to, 1));
        assert!(refusal.contains(problem), "{to}: {refusal}");
    }
}

/// A limit's level is reached by an input or a deadline at or before the clock. One
/// forged as reached later restored, and the flag deadline's downgrade after it (at the
/// deadline, before that instant) saved own level changes that begin before the level they
/// change from: the state saved then did not restore.
#[test]
fn a_limit_level_reached_after_the_clock_is_refused() {
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"messaging_limit","at":"2026-11-02T09:00:00Z","number":"+15550001111","limit":2000}"#,
            r#"{"type":"number_quality","at":"2026-11-02T09:00:00Z","number":"+15550001111","quality":"low"}"#,
        ],
    );
    let body = body_of(&engine);
    let problem = refusal_with(
        &body,
        r#""level_since":"2026-11-02T09:00:00Z""#,
        r#""level_since":"2200-01-01T00:00:00Z""#,
    );
    assert!(
        problem.contains(
            "limit of owner 0: level_since 2200-01-01T00:00:00Z is after the state's clock 2026-11-02T09:00:00Z"
        ),
        "{problem}"
    );
    // At the clock it restores, and the deadline's downgrade saves a state that restores.
    let mut restored = Engine::restore(&engine.snapshot()).expect("restores");
    let tick = r#"{"type":"tick","at":"2026-11-10T00:00:00Z"}"#;
    assert!(restored.handle_json(tick)[0].contains(r#""type":"ack""#));
    Engine::restore(&restored.snapshot()).expect("the state after the downgrade restores");
}

/// A live chat's messages came at or before the clock. One forged whole after it restored,
/// and the contact's next message, judged at the clock, left the chat waiting since before
/// it started: the state saved then did not restore.
#[test]
fn a_live_chat_active_after_the_clock_is_refused() {
    let engine = small_engine();
    let body = body_of(&engine);
    let chat = r#""started_at":"2026-11-02T09:00:00Z","last_activity_at":"2026-11-02T09:00:00Z""#;
    assert!(body.contains(chat), "{body}");
    let later = body
        .replace(
            chat,
            r#""started_at":"2126-11-02T09:00:00Z","last_activity_at":"2126-11-02T09:00:00Z""#,
        )
        .replace(
            r#""waiting_since":"2026-11-02T09:00:00Z""#,
            r#""waiting_since":"2126-11-02T09:00:00Z""#,
        );
    assert!(later.contains(r#""waiting_since":"2126"#), "{later}");
    let problem = restore_refusal(&later);
    assert!(
        problem.contains(
            "live chat of conversation 0: last_activity_at 2126-11-02T09:00:00Z is after the state's clock 2026-11-02T09:00:00Z"
        ),
        "{problem}"
    );
    // Only the start moved later is out of order, as before.
    let started_later = body.replace(
        chat,
        r#""started_at":"2126-11-02T09:00:00Z","last_activity_at":"2026-11-02T09:00:00Z""#,
    );
    assert!(Engine::restore(&seal(started_later.as_bytes())).is_err());
}

/// Two messages held for one contact under the classic profile, the first at 09:00 and the
/// second at 10:00 (the clock), each for the profile's 7 days.
fn engine_with_two_held_messages() -> Engine {
    let mut engine = Engine::with_preset("classic").expect("a preset");
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official","default_template":{"name":"notice","language":"en"}}"#,
            r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"notice","language":"en","category":"utility","body":"We have an update on your request.","status":"approved"}"#,
            r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000003"}"#,
            r#"{"type":"initiate","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000003","message":{"kind":"text","text":"Your refund was approved."}}"#,
            r#"{"type":"initiate","at":"2026-11-02T10:00:00Z","number":"+15550001111","contact":"+79110000003","message":{"kind":"text","text":"It is on its way."}}"#,
        ],
    );
    engine
}

/// A message is held at the clock of the `initiate` that holds it. One forged as held later
/// restored: its duplicates were refused as held after the refusal, and the next message
/// held sat behind it, kept past its own expiry until the forged one's.
#[test]
fn a_message_held_after_the_clock_is_refused() {
    let engine = engine_with_two_held_messages();
    let body = body_of(&engine);
    let problem = refusal_with(
        &body,
        r#""held_at":"2026-11-02T10:00:00Z","expires_at":"2026-11-09T10:00:00Z""#,
        r#""held_at":"2126-11-02T10:00:00Z","expires_at":"2126-11-09T10:00:00Z""#,
    );
    assert!(
        problem.contains(
            "outbox of conversation 0: message 1 held_at 2126-11-02T10:00:00Z is after the state's clock 2026-11-02T10:00:00Z"
        ),
        "{problem}"
    );
    // Held at the clock, as the second one was, it restores.
    let bytes = engine.snapshot();
    assert_eq!(Engine::restore(&bytes).expect("restores").snapshot(), bytes);
}

/// A conversation's messages are held in the order they were held, which with one hold
/// period is the order they expire in, and they expire from the front. An outbox forged in
/// another order restored: a message whose hold ended behind one that ends later was kept
/// past its expiry, and reported expired after the later one, dated before it.
#[test]
fn held_messages_out_of_their_order_are_refused() {
    let engine = engine_with_two_held_messages();
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
    let order = "held messages are kept in the order they were held, which is the order they \
                 expire in";
    let mut swapped = body.clone();
    let held = swapped["outbox"][0][1]
        .as_array_mut()
        .expect("held messages");
    assert_eq!(held.len(), 2, "{held:?}");
    held.reverse();
    let problem = restore_refusal(&swapped.to_string());
    assert!(
        problem.contains(&format!(
            "outbox of conversation 0: message 1 (held_at 2026-11-02T09:00:00Z, expires_at \
             2026-11-09T09:00:00Z) comes after message 0 (held_at 2026-11-02T10:00:00Z, \
             expires_at 2026-11-09T10:00:00Z): {order}"
        )),
        "{problem}"
    );
    // Held in order, but the later one expiring first: held for less than the policy's one
    // hold period, which any other expiry than the hold's end is.
    let mut sooner = body.clone();
    sooner["outbox"][0][1][1]["expires_at"] = "2026-11-09T08:00:00Z".into();
    assert_eq!(
        restore_refusal(&sooner.to_string()),
        "outbox of conversation 0: message 1 (held_at 2026-11-02T10:00:00Z) expires_at \
         2026-11-09T08:00:00Z, not after the policy's hold of 7d"
    );
    // Held for longer, in order still.
    let mut longer = body.clone();
    longer["outbox"][0][1][0]["expires_at"] = "2026-11-09T09:00:00.001Z".into();
    assert_eq!(
        restore_refusal(&longer.to_string()),
        "outbox of conversation 0: message 0 (held_at 2026-11-02T09:00:00Z) expires_at \
         2026-11-09T09:00:00.001Z, not after the policy's hold of 7d"
    );
    // Two held at one instant, in either order, are in order.
    let mut together = body;
    let held = together["outbox"][0][1]
        .as_array_mut()
        .expect("held messages");
    held[0]["held_at"] = "2026-11-02T10:00:00Z".into();
    held[0]["expires_at"] = "2026-11-09T10:00:00Z".into();
    held.reverse();
    Engine::restore(&seal(together.to_string().as_bytes())).expect("restores");
}

/// A template's edits are dated at the clock of the `edit_template` that made each. One
/// forged later restored, and every edit was refused until a day after it (the least
/// interval between two edits), however long the template had not been edited.
#[test]
fn a_template_edit_after_the_clock_is_refused() {
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"edit_template","at":"2026-11-02T09:00:00Z","business":"acme","name":"order_ready","language":"en","body":"Your order {{1}} is ready for pickup."}"#,
        ],
    );
    let body = body_of(&engine);
    let problem = refusal_with(
        &body,
        r#""edits":["2026-11-02T09:00:00Z"]"#,
        r#""edits":["2126-11-02T09:00:00Z"]"#,
    );
    assert!(
        problem.contains(
            "template \"order_ready\": an edit at 2126-11-02T09:00:00Z is after the state's clock 2026-11-02T09:00:00Z"
        ),
        "{problem}"
    );
    // At the clock it restores, and the template is edited again a day later.
    let mut restored = Engine::restore(&engine.snapshot()).expect("restores");
    feed(
        &mut restored,
        &[
            r#"{"type":"template_status","at":"2026-11-02T10:00:00Z","business":"acme","name":"order_ready","language":"en","status":"approved"}"#,
            r#"{"type":"edit_template","at":"2026-11-03T09:00:00Z","business":"acme","name":"order_ready","language":"en","body":"Your order {{1}} is ready."}"#,
        ],
    );
    // Edits out of the order they were made in restored, and the edit limit, which counts
    // from the first as the oldest, was worked out from the wrong one.
    let body = body_of(&restored);
    assert_eq!(
        refusal_with(
            &body,
            r#""edits":["2026-11-02T09:00:00Z","2026-11-03T09:00:00Z"]"#,
            r#""edits":["2026-11-03T09:00:00Z","2026-11-02T09:00:00Z"]"#,
        ),
        "template \"order_ready\": an edit at 2026-11-02T09:00:00Z comes after one at \
         2026-11-03T09:00:00Z: edits are kept in the order they were made"
    );
}

/// A live chat and held messages are woken by their timers alone (the chat's idle end, the
/// messages' expiry). A state forged without one, or with one armed after the deadline,
/// restored, and the chat stayed live (or the messages held) forever, or ended late.
#[test]
fn a_live_chat_or_held_messages_without_their_timer_are_refused() {
    let mut engine = engine_with_two_held_messages();
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-11-02T10:00:00Z","business":"acme","number":"+15550002222","channel":"unofficial","idle_timeout":"15m"}"#,
            r#"{"type":"inbound","at":"2026-11-02T10:00:00Z","number":"+15550002222","contact":"+79110000004","kind":"text"}"#,
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
    let timers = body["timers"].as_array().expect("timers");
    let position = |kind: &str| {
        (timers.iter())
            .position(|t| t[0].get(kind).is_some())
            .unwrap_or_else(|| panic!("no {kind} timer in {timers:?}"))
    };
    let cases = [
        (
            "chat_idle",
            "live chat of conversation 1 has no idle timer armed by its end at 2026-11-02T10:15:00Z",
            "2026-11-02T10:15:00.001Z",
        ),
        (
            "outbox_expiry",
            "outbox of conversation 0 has no expiry timer armed by its first message's expiry at 2026-11-09T09:00:00Z",
            "2026-11-09T09:00:00.001Z",
        ),
    ];
    for (kind, problem, late) in cases {
        let at = position(kind);
        let mut dropped = body.clone();
        dropped["timers"].as_array_mut().unwrap().remove(at);
        assert_eq!(
            restore_refusal(&dropped.to_string()),
            problem,
            "{kind} dropped"
        );
        let mut later = body.clone();
        later["timers"][at][1] = late.into();
        assert_eq!(restore_refusal(&later.to_string()), problem, "{kind} late");
        // Armed earlier than the deadline it restores: the timer wakes, finds the chat or
        // message not due yet, and arms itself again.
        let mut sooner = body.clone();
        sooner["timers"][at][1] = "2026-11-02T10:05:00Z".into();
        let sealed = seal(sooner.to_string().as_bytes());
        Engine::restore(&sealed).unwrap_or_else(|e| panic!("{kind} sooner: {e}"));
    }
    let bytes = engine.snapshot();
    assert_eq!(Engine::restore(&bytes).expect("restores").snapshot(), bytes);
}

#[test]
fn an_address_of_no_kind_or_a_number_as_a_group_is_refused() {
    // An interned address is tagged an opaque id (bit 62) or a group (bit 63). A key with
    // both bits, or a number tagged a group, names an address no input resolves to: an
    // email number `support@acme.example` is found as an opaque id, so a copy under another
    // tag sat beside it unreachable, a second number (or conversation) of the same text
    // that a restore took without a word.
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"support@acme.example","channel":"email"}"#,
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"support@acme.example","contact":"jane@example.com","kind":"text"}"#,
        ],
    );
    let body = body_of(&engine);
    let opaque = |i: u64| (1u64 << 62 | i).to_string();
    let (number, contact) = (opaque(0), opaque(1));
    assert!(
        body.contains(&format!(r#""address":{number}"#)),
        "the number is interned first: {body}"
    );
    assert!(body.contains(&format!(r#""contact":{contact}"#)), "{body}");
    let both_tags = |i: u64| (3u64 << 62 | i).to_string();
    for (from, to) in [
        (
            format!(r#""contact":{contact}"#),
            format!(r#""contact":{}"#, both_tags(1)),
        ),
        (
            format!(r#""address":{number}"#),
            format!(r#""address":{}"#, both_tags(0)),
        ),
        (
            format!(r#""address":{number}"#),
            format!(r#""address":{}"#, 1u64 << 63),
        ),
    ] {
        let problem = refusal_with(&body, &from, &to);
        assert!(
            problem.contains("unknown interned id") || problem.contains("group"),
            "{to}: {problem}"
        );
    }
}

/// A number's run of repeated low ratings is dated in order, by the state's clock: one
/// after it, or out of order, would flag from an instant no rating had.
#[test]
fn a_numbers_repeated_lows_are_in_order_and_not_after_the_clock() {
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"number_quality","at":"2026-11-02T09:30:00Z","number":"+15550001111","quality":"low"}"#,
            r#"{"type":"tick","at":"2026-11-09T10:00:00Z"}"#,
            r#"{"type":"number_quality","at":"2026-11-09T11:00:00Z","number":"+15550001111","quality":"low"}"#,
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
    let repeated = &body["numbers"][0]["repeated_low"];
    assert_eq!(repeated["after"], "2026-11-02T09:30:00Z", "{repeated}");
    assert_eq!(repeated["first"], "2026-11-09T11:00:00Z", "{repeated}");
    assert_eq!(repeated["at"], "2026-11-09T11:00:00Z", "{repeated}");
    // It survives a restore whole.
    let restored = Engine::restore(&engine.snapshot()).expect("a sound snapshot");
    assert_eq!(restored.snapshot(), engine.snapshot());
    for (field, value) in [
        ("at", "2026-12-01T00:00:00Z"),
        ("after", "2026-11-09T11:00:00Z"),
        ("first", "2026-11-09T12:00:00Z"),
    ] {
        let mut forged = body.clone();
        forged["numbers"][0]["repeated_low"][field] = value.into();
        let message = restore_refusal(&forged.to_string());
        assert!(
            message.contains("number 0 has repeated low ratings from"),
            "{field}: {message}"
        );
    }
}

/// The recent ratings of a number and of a template, and a template's recent status
/// reports, are kept in order of their instants, none after the state's clock and no more
/// than the engine keeps: out of order, a late low would be judged by reports that were not
/// beside it.
#[test]
fn recent_reports_are_in_order_and_not_after_the_clock() {
    let number = r#""number":"+15550001111""#;
    let template = r#""business":"acme","name":"order_ready","language":"en""#;
    // What is kept, the reports kept (a later one then an earlier one, by their event and
    // the key they report by), and the refusal of a forged list.
    for (names, list, field, event, key, [later, earlier], refusal) in [
        (
            number,
            "numbers",
            "recent_ratings",
            "number_quality",
            "quality",
            ["medium", "high"],
            "number 0 has recent ratings not in order",
        ),
        (
            template,
            "templates",
            "recent_ratings",
            "template_quality",
            "quality",
            ["medium", "high"],
            "template \"order_ready\" has recent ratings not in order",
        ),
        (
            template,
            "templates",
            "recent_reports",
            "template_status",
            "status",
            ["unpaused", "paused"],
            "template \"order_ready\" has recent status reports not in order",
        ),
    ] {
        let mut engine = small_engine();
        let report = |at: &str, what: &str| {
            format!(r#"{{"type":"{event}","at":"{at}",{names},"{key}":"{what}"}}"#)
        };
        feed(
            &mut engine,
            &[
                &report("2026-11-04T09:30:00Z", later),
                &report("2026-11-02T09:30:00Z", earlier),
            ],
        );
        let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
        let kept = &body[list][0][field];
        assert_eq!(
            kept[0],
            serde_json::json!(["2026-11-02T09:30:00Z", earlier]),
            "{kept}"
        );
        assert_eq!(
            kept[1],
            serde_json::json!(["2026-11-04T09:30:00Z", later]),
            "{kept}"
        );
        let restored = Engine::restore(&engine.snapshot()).expect("a sound snapshot");
        assert_eq!(restored.snapshot(), engine.snapshot());
        let swapped = serde_json::json!([kept[1], kept[0]]);
        let late = serde_json::json!([kept[0], ["2026-12-01T00:00:00Z", earlier]]);
        let many = serde_json::json!(vec![kept[0].clone(); 9]);
        for forged_reports in [swapped, late, many] {
            let mut forged = body.clone();
            forged[list][0][field] = forged_reports.clone();
            let message = restore_refusal(&forged.to_string());
            assert!(
                message.contains(refusal),
                "{event} {forged_reports}: {message}"
            );
        }
    }
}

/// A phone number's latest change of hands is a phone number's, left by another name, no
/// later than the state's clock: otherwise a consent event naming the number would go to a
/// name that never owned it, or every one would go to the previous owner.
#[test]
fn a_change_of_hands_is_a_phone_numbers_by_the_clock() {
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","user_id":"US.5","kind":"text"}"#,
            r#"{"type":"inbound","at":"2026-11-03T09:00:00Z","number":"+15550001111","contact":"+79110000001","user_id":"US.9","kind":"text"}"#,
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
    let handover = &body["handovers"][0];
    assert_eq!(handover[2][0], "2026-11-03T09:00:00Z", "{handover}");
    let restored = Engine::restore(&engine.snapshot()).expect("a sound snapshot");
    assert_eq!(restored.snapshot(), engine.snapshot());
    let user_id = handover[2][1].clone();
    let mut late = handover.clone();
    late[2][0] = "2026-12-01T00:00:00Z".into();
    let mut of_a_user_id = handover.clone();
    of_a_user_id[1] = user_id.clone();
    let mut to_itself = handover.clone();
    to_itself[2][1] = handover[1].clone();
    for (forged_handover, problem) in [
        (late, "is after the state's clock"),
        (of_a_user_id, "must be a phone number's"),
        (to_itself, "must be a phone number's"),
    ] {
        let mut forged = body.clone();
        forged["handovers"][0] = forged_handover.clone();
        let message = restore_refusal(&forged.to_string());
        assert!(message.contains(problem), "{forged_handover}: {message}");
    }
}

/// Names of one user kept apart hold copies of one consent record, linked in a ring (see
/// `consent_groups.rs`): a group that is no ring, names two records, names an alias or a
/// business the state lacks would hold consent that differs by the name a send uses.
#[test]
fn a_consent_group_must_be_a_ring_of_one_record() {
    let mut engine = small_engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"US.5","kind":"text"}"#,
            r#"{"type":"opt_in","at":"2026-11-02T09:00:00Z","business":"acme","contact":"US.5"}"#,
            r#"{"type":"inbound","at":"2026-11-02T09:10:00Z","number":"+15550001111","contact":"+79110000001","user_id":"US.5","kind":"text"}"#,
        ],
    );
    let restored = Engine::restore(&engine.snapshot()).expect("an intact state");
    assert!(restored.snapshot() == engine.snapshot());
    let body: serde_json::Value = serde_json::from_str(&body_of(&engine)).expect("JSON");
    let groups = body["consent_groups"].as_array().expect("a group");
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_eq!(body["consents"].as_array().map(Vec::len), Some(2));

    let mut forged = body.clone();
    forged["consent_groups"].as_array_mut().unwrap().pop();
    let message = restore_refusal(&forged.to_string());
    assert!(message.contains("is not a ring"), "{message}");

    let mut forged = body.clone();
    forged["consents"][0][2]["opted_in_at"] = serde_json::Value::Null;
    let message = restore_refusal(&forged.to_string());
    assert!(message.contains("holds two records"), "{message}");

    let mut forged = body.clone();
    forged["consent_groups"][0][0] = 1.into();
    let message = restore_refusal(&forged.to_string());
    assert!(message.contains("names business 1 of 1"), "{message}");

    let mut forged = body.clone();
    let name = forged["consent_groups"][0][1].clone();
    forged["consent_groups"][0][2] = name;
    let message = restore_refusal(&forged.to_string());
    assert!(message.contains("must link two contact names"), "{message}");
}
