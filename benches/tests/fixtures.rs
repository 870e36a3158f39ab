//! The benches measure what they claim: these check the decisions their inputs get.

use convstate::{DenyReason, Engine};
use convstate_benches::*;

const N: u64 = 4_000;
const DAY_MS: i64 = 86_400_000;

#[test]
fn idle_fixture_has_n_conversations_without_chats() {
    let engine = with_conversations(unlimited_policy(), N, true);
    let view = engine
        .conversation(&number(number_of(7)), &contact(7), at(2 * 3_600_000))
        .unwrap();
    assert!(view.window_open && view.chat.is_none() && view.ticket.is_some());
    let total: usize = (0..NUMBERS)
        .map(|j| engine.contacts(&number(j)).unwrap().len())
        .sum();
    assert_eq!(total as u64, N);
}

#[test]
fn replies_in_open_windows_are_allowed_and_never_duplicates() {
    let mut engine = with_conversations(unlimited_policy(), N, true);
    let mut req = text_send(5, at(3_600_000));
    for k in 0..3 {
        set_counter(&mut req, k);
        let d = engine.send(&req).unwrap();
        assert!(d.is_allowed(), "{d:?}");
    }
}

#[test]
fn templates_after_the_window_are_allowed_when_unlimited_and_capped_when_limited() {
    let mut engine = with_conversations(unlimited_policy(), N, true);
    let mut limited = with_conversations(limited_policy(), N, true);
    let mut capped = 0;
    for i in 0..N {
        opt_in(&mut engine, i);
        opt_in(&mut limited, i);
        let mut req = template_send(i, at(2 * DAY_MS));
        set_counter(&mut req, i);
        let d = engine.send(&req).unwrap();
        assert!(d.is_allowed(), "{d:?}");
        let d = limited.send(&req).unwrap();
        if matches!(d.deny_reason(), Some(DenyReason::LimitReached { .. })) {
            capped += 1;
        }
    }
    // 250 new contacts a day per business, ten businesses.
    assert_eq!(capped, N - 250 * BUSINESSES);
}

#[test]
fn mixed_traffic_is_mostly_applied() {
    let mut engine = with_conversations(unlimited_policy(), N, true);
    let mut pool = mixed_pool(&mut engine, N, 1);
    let ok = (0..20_000u64)
        .filter(|&k| {
            apply(
                &mut engine,
                &mut pool[k as usize],
                at(3_600_000 + k as i64),
                k,
            )
        })
        .count();
    assert!(ok > 18_000, "{ok} of 20000 applied or allowed");
}

/// The `mixed_by_id` bench measures the same work as `mixed`: every input by conversation id
/// gets the answer, and makes the effects, it gets by name.
#[test]
fn mixed_traffic_by_conversation_id_is_decided_as_by_name() {
    let mut by_name = with_conversations(unlimited_policy(), N, true);
    let mut pool = mixed_pool(&mut by_name, N, 1);
    let mut by_id = by_name.clone();
    let mut id_pool = pool.clone();
    let ids = conversation_ids(&by_id, &id_pool);
    let sends = id_pool.iter().filter(|op| !matches!(op, Op::Inbound(_)));
    assert_eq!(
        ids.iter().flatten().count(),
        sends.count(),
        "every send and check has one"
    );
    let mut allowed = 0;
    for k in 0..5_000usize {
        let now = at(3_600_000 + k as i64);
        let expected = pool[k].run(&mut by_name, now, k as u64, |d| d);
        let mut target = ById {
            engine: &mut by_id,
            id: ids[k],
        };
        let got = id_pool[k].run(&mut target, now, k as u64, |d| d);
        allowed += usize::from(matches!(&got, Ok(Some(d)) if d.is_allowed()));
        assert_eq!(got, expected, "input {k}");
        let effects =
            |engine: &mut Engine| std::iter::from_fn(|| engine.poll_effect()).collect::<Vec<_>>();
        assert_eq!(effects(&mut by_id), effects(&mut by_name), "input {k}");
    }
    assert!(allowed > 2_000, "{allowed} allowed");
    assert!(by_id.snapshot() == by_name.snapshot());
}

/// The `sharded_mixed` bench measures the same work as `mixed`: every input gets the same
/// answer from the sharded engine as from one engine, and the same effects are made (as a
/// multiset: a shard fires only its own timers, and numbers its own tickets).
#[test]
fn the_sharded_engine_decides_mixed_traffic_as_one_engine_does() {
    let mut engine = with_conversations(unlimited_policy(), N, true);
    let sharded = sharded_with_conversations(unlimited_policy(), N, 2);
    let (mut single_effects, mut sharded_effects) = (Vec::new(), Vec::new());
    let mut pool = mixed_pool(&mut engine, N, 1);
    let mut sharded_pool = mixed_pool_with(N, 1, |i| {
        sharded
            .handle(opt_in_event(i), &mut sharded_effects)
            .unwrap();
    });
    single_effects.extend(std::iter::from_fn(|| engine.poll_effect()));
    let mut allowed = 0;
    let mut this_thread = Shared {
        engine: &sharded,
        effects: &mut sharded_effects,
    };
    for k in 0..5_000usize {
        let now = at(3_600_000 + k as i64);
        let single = pool[k].run(&mut engine, now, k as u64, |d| d);
        let shared = sharded_pool[k].run(&mut this_thread, now, k as u64, |d| d);
        single_effects.extend(std::iter::from_fn(|| engine.poll_effect()));
        allowed += usize::from(matches!(&single, Ok(Some(d)) if d.is_allowed()));
        assert_eq!(shared, single, "input {k}");
    }
    let end = at(3 * 86_400_000);
    engine.handle_timeout(end);
    single_effects.extend(std::iter::from_fn(|| engine.poll_effect()));
    sharded.handle_timeout(end, &mut sharded_effects);
    let canonical = |effects: &[convstate::Effect]| {
        let mut lines: Vec<String> = effects
            .iter()
            .map(|effect| {
                let mut value = serde_json::to_value(effect).unwrap();
                value.as_object_mut().unwrap().remove("ticket");
                value.to_string()
            })
            .collect();
        lines.sort();
        lines
    };
    assert!(allowed > 2_000, "{allowed} of 5000 allowed");
    assert!(single_effects.len() > 2_000, "{}", single_effects.len());
    assert_eq!(canonical(&sharded_effects), canonical(&single_effects));
}

#[test]
fn picker_is_deterministic_and_in_range() {
    let (mut a, mut b) = (Picker::new(3), Picker::new(3));
    for _ in 0..1000 {
        let x = a.pick(10);
        assert_eq!(x, b.pick(10));
        assert!(x < 10);
    }
}
