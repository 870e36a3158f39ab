//! A contact named by a phone number and a business-scoped user id (facts §1.3), against a
//! model written from the rule in `contact_links.rs`: a payload naming both makes the name
//! the business has no history under an alias of the other (the user id first); two
//! histories stay apart. Every name of a contact then reaches the same conversation, at
//! every number of the business, and the links survive a snapshot and a business move.
//! Names kept apart hold one consent from the first time they are named together: an opt-in
//! or opt-out under any of them is every one's. Two user ids are never one contact: a phone
//! number an inbound names with another user id than its contact's has changed hands.

use std::collections::{HashMap, HashSet};

use convstate::time::Instant;
use convstate::Engine;
use proptest::prelude::*;

const NUMBERS: [&str; 2] = ["+15550001111", "+15550002222"];
const PHONES: [&str; 3] = ["+79110000001", "+79110000002", "+79110000003"];
const USER_IDS: [&str; 3] = [
    "US.1000000000000000001",
    "US.2000000000000000002",
    "US.3000000000000000003",
];
/// 2026-11-02T09:00:00Z.
const T0: i64 = 1_793_610_000_000;
const HOUR: i64 = 3_600_000;

#[derive(Clone, Debug)]
enum Step {
    /// A message at a number from a phone number, with or without a user id beside it.
    ByPhone {
        number: usize,
        phone: usize,
        user_id: Option<usize>,
    },
    /// A message from a user id alone (a user with a username).
    ByUserId { number: usize, user_id: usize },
    /// An opt-in (or, when `out`, an opt-out) recorded under a name: a history without a
    /// conversation.
    OptIn { name: usize, out: bool },
    /// A status naming both names of a send the engine never recorded: it links them
    /// without giving either a history, and never moves a user id.
    Status { phone: usize, user_id: usize },
}

/// Every name: the phone numbers, then the user ids.
fn name(i: usize) -> &'static str {
    PHONES
        .get(i)
        .copied()
        .unwrap_or_else(|| USER_IDS[i - PHONES.len()])
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..2usize, 0..PHONES.len(), prop::option::weighted(0.6, 0..USER_IDS.len()))
            .prop_map(|(number, phone, user_id)| Step::ByPhone { number, phone, user_id }),
        2 => (0..2usize, 0..USER_IDS.len()).prop_map(|(number, user_id)| Step::ByUserId { number, user_id }),
        1 => (0..PHONES.len() + USER_IDS.len(), any::<bool>()).prop_map(|(name, out)| Step::OptIn { name, out }),
        1 => (0..PHONES.len(), 0..USER_IDS.len()).prop_map(|(phone, user_id)| Step::Status { phone, user_id }),
    ]
}

/// The rule, from the spec: which name keys each contact, and the windows.
#[derive(Default)]
struct Model {
    /// Alias → the name keying its contact.
    alias_of: HashMap<&'static str, &'static str>,
    /// Names the business has had a conversation under.
    history: HashSet<&'static str>,
    /// Contact keys kept apart that hold one consent → their group's number.
    group: HashMap<&'static str, usize>,
    /// Groups made so far (the next group's number).
    groups: usize,
    /// Contact key → its latest consent event: when, and whether it opted in.
    consent: HashMap<&'static str, (i64, bool)>,
    /// (number, contact key) → the end of its window.
    windows: HashMap<(usize, &'static str), i64>,
}

impl Model {
    fn key(&self, name: &'static str) -> &'static str {
        self.alias_of.get(name).copied().unwrap_or(name)
    }

    /// The phone number of the contact keyed by `key`: the key, or the greatest phone
    /// number that is its alias.
    fn phone_of(&self, key: &'static str) -> Option<&'static str> {
        if key.starts_with('+') {
            return Some(key);
        }
        (self.alias_of.iter())
            .filter(|&(alias, to)| alias.starts_with('+') && *to == key)
            .map(|(alias, _)| *alias)
            .max()
    }

    /// Whether the business has anything under `name` itself: a history, or another name
    /// linked to it (which keeps it from becoming an alias: links never chain).
    fn knows(&self, name: &'static str) -> bool {
        self.history.contains(name)
            || self.group.contains_key(name)
            || self.consent.contains_key(name)
            || self.alias_of.values().any(|&key| key == name)
    }

    /// Links the pair; what it announces: a `contact_unlinked` for each user id the phone
    /// number leaves when it changes hands, then a `contact_linked` if it makes or moves a
    /// link. `moves`: an inbound, which moves a user id another contact has.
    fn link(&mut self, phone: &'static str, user_id: &'static str, moves: bool) -> Vec<Announced> {
        let mut announced = Vec::new();
        let linked = self.link_pair(phone, user_id, moves, &mut announced);
        announced
            .extend(linked.map(|(phone, user_id, left)| Announced::Linked(phone, user_id, left)));
        announced
    }

    /// [`Model::link`]'s pair: the `contact_unlinked` go to `announced`; the `contact_linked`
    /// is returned, as (phone, user id, the phone number of the contact the user id left).
    fn link_pair(
        &mut self,
        phone: &'static str,
        user_id: &'static str,
        moves: bool,
        announced: &mut Vec<Announced>,
    ) -> Option<Linked> {
        let (mut by_phone, by_user_id) = (self.key(phone), self.key(user_id));
        // A phone number linked to another user id (its contact's key or other name), or
        // holding consent with names none of which is this user's, has changed hands: an
        // inbound makes it a name of its own again; a status learns nothing.
        let members = self.members(phone);
        let another_users = by_phone != by_user_id
            && (by_phone != phone
                || self.owned(phone)
                || (members.len() > 1
                    && !members.iter().any(|&n| n == user_id || n == by_user_id)));
        if another_users {
            if !moves {
                return None;
            }
            if by_phone != phone {
                self.alias_of.remove(phone);
                announced.push(Announced::Unlinked(phone, by_phone));
                by_phone = phone;
            } else {
                // Its user ids become names of their own, taking its consent; the number
                // starts afresh.
                let mut left: Vec<_> = (self.alias_of.iter())
                    .filter(|&(alias, to)| !alias.starts_with('+') && *to == phone)
                    .map(|(alias, _)| *alias)
                    .collect();
                left.sort_unstable();
                for user_id in left {
                    self.alias_of.remove(user_id);
                    self.join(phone, user_id);
                    announced.push(Announced::Unlinked(phone, user_id));
                }
                self.leave(phone);
                self.consent.remove(phone);
                // The windows the former owner opened are forgotten.
                self.windows.retain(|&(_, key), _| key != phone);
            }
        }
        if by_phone == by_user_id {
            return None;
        }
        let user_id_is_alias = by_user_id != user_id;
        if user_id_is_alias && !moves {
            // Not moved: one consent.
            self.join(by_phone, by_user_id);
            return None;
        }
        if user_id_is_alias || !self.knows(user_id) {
            let left = user_id_is_alias
                .then(|| self.phone_of(by_user_id))
                .flatten();
            self.alias_of.insert(user_id, by_phone);
            // The contact the user id left and its new one hold one consent.
            if user_id_is_alias && !self.owned(by_user_id) {
                self.join(by_user_id, by_phone);
            }
            Some((phone, user_id, left))
        } else if by_phone == phone && !self.knows(phone) {
            self.alias_of.insert(phone, user_id);
            Some((phone, user_id, None))
        } else if by_phone == phone
            && !self.history.contains(user_id)
            && !self.alias_of.values().any(|&key| key == user_id)
        {
            // A user id known only by consent becomes the number's other name, its consent
            // carried onto the number.
            self.join(phone, user_id);
            self.leave(user_id);
            self.consent.remove(user_id);
            self.alias_of.insert(user_id, phone);
            Some((phone, user_id, None))
        } else {
            // Two histories: two contacts, one consent.
            self.join(by_phone, by_user_id);
            None
        }
    }

    /// Takes `key` out of its group (a group left with one name is none).
    fn leave(&mut self, key: &'static str) {
        let Some(id) = self.group.remove(key) else {
            return;
        };
        let rest: Vec<_> = (self.group.iter())
            .filter(|&(_, g)| *g == id)
            .map(|(name, _)| *name)
            .collect();
        if let [alone] = rest[..] {
            self.group.remove(alone);
        }
    }

    /// The contacts keyed by `a` and `b` hold one consent from now on: the latest event of
    /// either.
    fn join(&mut self, a: &'static str, b: &'static str) {
        let joined = [a, b]
            .map(|key| self.consent.get(key).copied())
            .into_iter()
            .max()
            .flatten();
        let members: Vec<_> = (self.members(a).into_iter())
            .chain(self.members(b))
            .collect();
        self.groups += 1;
        let id = self.groups;
        for &member in &members {
            self.group.insert(member, id);
        }
        if let Some(joined) = joined {
            self.set_consent(a, joined);
        }
    }

    /// Whether the contact keyed by `key` is a user id's: a user id, or a phone number a
    /// user id is an alias of.
    fn owned(&self, key: &'static str) -> bool {
        !key.starts_with('+')
            || (self.alias_of.iter()).any(|(alias, to)| !alias.starts_with('+') && *to == key)
    }

    /// The contact keys holding `key`'s consent: its group, or `key` alone.
    fn members(&self, key: &'static str) -> Vec<&'static str> {
        match self.group.get(key) {
            Some(id) => (self.group.iter())
                .filter(|&(_, g)| g == id)
                .map(|(name, _)| *name)
                .collect(),
            None => vec![key],
        }
    }

    /// Sets the consent of `key`'s group.
    fn set_consent(&mut self, key: &'static str, consent: (i64, bool)) {
        for member in self.members(key) {
            self.consent.insert(member, consent);
        }
    }

    fn message(&mut self, number: usize, from: &'static str, at: i64) {
        let key = self.key(from);
        self.history.insert(key);
        self.windows.insert((number, key), at + 24 * HOUR);
    }
}

/// A `contact_linked` effect's phone, user id and previous phone.
type Linked = (&'static str, &'static str, Option<&'static str>);

/// An effect about links: a `contact_unlinked` (phone, user id) or a `contact_linked`.
#[derive(Clone, Debug, PartialEq)]
enum Announced<S = &'static str> {
    Unlinked(S, S),
    Linked(S, S, Option<S>),
}

impl Announced {
    fn owned(self) -> Announced<String> {
        match self {
            Announced::Unlinked(phone, user_id) => {
                Announced::Unlinked(phone.into(), user_id.into())
            }
            Announced::Linked(phone, user_id, left) => {
                Announced::Linked(phone.into(), user_id.into(), left.map(str::to_owned))
            }
        }
    }
}

fn line(engine: &mut Engine, text: String) {
    let out = engine.handle_json(&text);
    assert!(out[0].contains(r#""type":"ack""#), "{text}: {out:?}");
}

/// An input at `at`, acknowledged: its `contact_unlinked` and `contact_linked` effects, in
/// order, each dated `at` and placed after the effects of the timers the input fired (dated
/// before it) and before the input's own (dated `at`).
fn linked(engine: &mut Engine, text: String, at: i64) -> Vec<Announced<String>> {
    let out = engine.handle_json(&text);
    assert!(out[0].contains(r#""type":"ack""#), "{text}: {out:?}");
    let effects: Vec<serde_json::Value> = (out[1..].iter())
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let millis = |e: &serde_json::Value| {
        Instant::parse_rfc3339(e["at"].as_str().unwrap())
            .unwrap()
            .unix_millis()
    };
    let mut found = Vec::new();
    for (k, effect) in effects.iter().enumerate() {
        let kind = effect["effect"].as_str().unwrap();
        if kind != "contact_linked" && kind != "contact_unlinked" {
            continue;
        }
        assert_eq!(millis(effect), at, "{text}: {out:?}");
        assert!(
            effects[..k].iter().all(|e| millis(e) <= at),
            "{text}: {out:?}"
        );
        assert!(
            effects[k + 1..].iter().all(|e| millis(e) == at),
            "{text}: {out:?}"
        );
        let text = |key: &str| effect[key].as_str().map(str::to_owned);
        let (phone, user_id) = (text("phone").unwrap(), text("user_id").unwrap());
        found.push(match kind {
            "contact_unlinked" => Announced::Unlinked(phone, user_id),
            _ => Announced::Linked(phone, user_id, text("previous_phone")),
        });
    }
    found
}

/// Every name's view at every number agrees with the model: the contact it reaches, that
/// contact's window and its consent.
fn check(engine: &Engine, model: &Model, what: &str) -> Result<(), TestCaseError> {
    let at = engine.clock();
    for (number, number_text) in NUMBERS.iter().enumerate() {
        for i in 0..PHONES.len() + USER_IDS.len() {
            let view = engine.conversation(number_text, name(i), at).unwrap();
            let key = model.key(name(i));
            prop_assert_eq!(
                &view.contact,
                key,
                "{}: {} at {}",
                what,
                name(i),
                number_text
            );
            prop_assert_eq!(
                view.opted_in,
                model
                    .consent
                    .get(key)
                    .is_some_and(|&(_, opted_in)| opted_in),
                "{}: {}'s consent",
                what,
                name(i)
            );
            let ends = model.windows.get(&(number, key)).copied();
            prop_assert_eq!(
                view.window_ends_at.map(Instant::unix_millis),
                ends,
                "{}: {} at {}",
                what,
                name(i),
                number_text
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn every_name_of_a_contact_reaches_its_conversation(steps in prop::collection::vec(step(), 1..30)) {
        let mut engine = Engine::with_preset("cloud-2025").unwrap();
        for number in NUMBERS {
            line(&mut engine, format!(
                r#"{{"type":"register_number","at":{T0},"business":"acme","number":"{number}","channel":"official"}}"#
            ));
        }
        let mut model = Model::default();
        for (k, step) in steps.iter().enumerate() {
            let at = T0 + k as i64 * HOUR;
            match *step {
                Step::ByPhone { number, phone, user_id } => {
                    let beside = user_id
                        .map(|u| format!(r#","user_id":"{}""#, USER_IDS[u]))
                        .unwrap_or_default();
                    let got = linked(&mut engine, format!(
                        r#"{{"type":"inbound","at":{at},"number":"{}","contact":"{}"{beside},"kind":"text"}}"#,
                        NUMBERS[number], PHONES[phone]
                    ), at);
                    let expected: Vec<_> = (user_id.map(|u| model.link(PHONES[phone], USER_IDS[u], true)).into_iter().flatten())
                        .map(Announced::owned)
                        .collect();
                    prop_assert_eq!(got, expected, "links announced by {:?}", step);
                    model.message(number, PHONES[phone], at);
                }
                Step::ByUserId { number, user_id } => {
                    line(&mut engine, format!(
                        r#"{{"type":"inbound","at":{at},"number":"{}","contact":"{}","kind":"text"}}"#,
                        NUMBERS[number], USER_IDS[user_id]
                    ));
                    model.message(number, USER_IDS[user_id], at);
                }
                Step::Status { phone, user_id } => {
                    let got = linked(&mut engine, format!(
                        r#"{{"type":"message_status","at":{at},"number":"{}","contact":"{}","user_id":"{}","message_id":"wamid.none","status":"delivered"}}"#,
                        NUMBERS[0], PHONES[phone], USER_IDS[user_id]
                    ), at);
                    let expected: Vec<_> = (model.link(PHONES[phone], USER_IDS[user_id], false).into_iter())
                        .map(Announced::owned)
                        .collect();
                    prop_assert_eq!(got, expected, "links announced by {:?}", step);
                }
                Step::OptIn { name: i, out } => {
                    let kind = if out { "opt_out" } else { "opt_in" };
                    line(&mut engine, format!(
                        r#"{{"type":"{kind}","at":{at},"business":"acme","contact":"{}"}}"#,
                        name(i)
                    ));
                    // A consent record is a history while it lasts (`knows`): a number
                    // changing hands starts afresh.
                    model.set_consent(model.key(name(i)), (at, !out));
                }
            }
            check(&engine, &model, &format!("after {step:?}"))?;
        }
        let restored = Engine::restore(&engine.snapshot()).unwrap();
        check(&restored, &model, "restored")?;
        let moved = Engine::from_business_export(&engine.export_business("acme").unwrap()).unwrap();
        check(&moved, &model, "moved")?;
    }
}

/// A redelivered message changes nothing (RULES.md §10), a user id beside it included: it
/// is neither linked nor even remembered as text.
#[test]
fn a_redelivered_message_naming_a_user_id_changes_nothing() {
    let mut engine = Engine::with_preset("cloud-2025").unwrap();
    line(
        &mut engine,
        format!(
            r#"{{"type":"register_number","at":{T0},"business":"acme","number":"{}","channel":"official"}}"#,
            NUMBERS[0]
        ),
    );
    let inbound = |beside: &str| {
        format!(
            r#"{{"type":"inbound","at":{T0},"number":"{}","contact":"{}"{beside},"kind":"text","message_id":"wamid.1"}}"#,
            NUMBERS[0], PHONES[0]
        )
    };
    line(&mut engine, inbound(""));
    let before = engine.snapshot();
    line(
        &mut engine,
        inbound(&format!(r#","user_id":"{}""#, USER_IDS[0])),
    );
    assert!(
        engine.snapshot() == before,
        "the redelivery changed the state"
    );
    let view = engine
        .conversation(NUMBERS[0], USER_IDS[0], engine.clock())
        .unwrap();
    assert_eq!(view.contact, USER_IDS[0]);
    assert_eq!(view.window_ends_at, None);
}
