//! Differential (proptest): random traffic of several businesses in one engine, against the
//! same traffic with businesses moved between engines at random points, mid-traffic with no
//! tick first (so the two nodes' clocks differ, and timers of either may be due: they must
//! fire at their own instants, as in one engine), three ways of moving, and between sharded
//! engines (taken and imported, with and without restoring both from snapshots). Per
//! business, the results and effects must be the same.
//!
//! Each case draws a policy preset, a shard count, a list of steps (rendered to input lines)
//! and the points at which businesses move; a failing case is shrunk to a short one and kept
//! in `core/tests/proptest-regressions/move_differential.txt`. 128 cases by default,
//! `PROPTEST_CASES=1000` for a longer hunt. Another test draws a fixed set of cases from
//! the same strategy and checks that their traffic produces every outcome the comparison is
//! meant to cover ([`EXERCISED`]).

mod common;

use common::without_ticket_ids;
use convstate::policy::LimitLevel;
use convstate::sharded::ShardedEngine;
use convstate::{wire, Engine, Policy};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;

const BUSINESSES: u32 = 4;
/// Contacts a step may name: five opted in at setup, two not.
const CONTACTS: u32 = 7;
const START: i64 = 1_793_606_400_000; // 2026-11-02T08:00:00Z
const HOUR_MS: i64 = 3_600_000;
const PRESETS: [&str; 3] = ["cloud-2025", "classic", "cloud-2026-10"];

fn number(b: u32, n: u32) -> String {
    format!("+15559{b:03}{n:03}")
}
fn contact(b: u32, c: u32) -> String {
    format!("+4916{b:03}{c:05}")
}
/// User ids per business, fewer than its contacts: each is paired with several phone numbers.
const USER_IDS: u8 = 3;
/// A business-scoped user id of business `b`.
fn user_id(b: u32, u: u8) -> String {
    format!("US.{b}{u}0917")
}

/// (business the input concerns, or none for a tick; the line).
type Lines = Vec<(Option<u32>, String)>;

fn setup() -> Lines {
    let mut lines = Vec::new();
    for b in 0..BUSINESSES {
        for (name, category) in [("order_ready", "utility"), ("promo", "marketing")] {
            lines.push((Some(b), format!(
                r#"{{"type":"register_template","at":{START},"business":"biz{b}","name":"{name}","language":"en","category":"{category}","body":"Hello {{{{1}}}}.","status":"approved","quality":"high"}}"#
            )));
        }
        for n in 0..2 {
            lines.push((Some(b), format!(
                r#"{{"type":"register_number","at":{START},"business":"biz{b}","number":"{}","channel":"official","phone_number_id":"pn{b}{n}","default_template":{{"name":"order_ready","language":"en"}}}}"#,
                number(b, n)
            )));
        }
        for c in 0..5 {
            lines.push((
                Some(b),
                format!(
                    r#"{{"type":"opt_in","at":{START},"business":"biz{b}","contact":"{}"}}"#,
                    contact(b, c)
                ),
            ));
        }
    }
    lines
}

// ---- the traffic ---------------------------------------------------------------------------

/// One input of a step, with the choices that shape its line.
#[derive(Clone, Debug)]
enum Input {
    Inbound {
        id: u8,
    },
    /// An inbound naming its sender by the contact's phone number and one of the business's
    /// few user ids beside it: a user id paired with one phone number and then another moves
    /// its link (`previous_phone`), and some pairs meet two names that both have a history.
    Linked {
        user: u8,
        id: u8,
    },
    /// An inbound from (`send` false) or a text send to one of the business's user ids alone.
    ByUserId {
        user: u8,
        send: bool,
    },
    Text,
    Template {
        promo: bool,
    },
    Initiate,
    Status(&'static str),
    StatusFailed(u32),
    SendFailed(u32),
    NumberQuality(&'static str),
    Limit(&'static str),
    TemplateQuality {
        promo: bool,
        quality: &'static str,
    },
    TemplateStatus(&'static str),
    Consent {
        opt_in: bool,
    },
    QueryConversation,
    QueryLimit,
    QueryUsage,
    QueryNumber,
    QueryTemplate {
        promo: bool,
    },
    Tick,
    /// One template to every contact of the business at once.
    Campaign,
    Restrict(&'static str),
    Lift,
    EndChat(&'static str),
    TicketStatus(&'static str),
    Preference(bool),
    TemplateCategory,
    ChangePolicy,
}

/// A step: how long after the previous one, whose, and what.
#[derive(Clone, Debug)]
struct Step {
    wait_ms: i64,
    business: u32,
    contact: u32,
    /// At the contact's other number (each contact mostly writes to one).
    other_number: bool,
    idempotency_key: Option<u8>,
    with_message_id: bool,
    /// For a status: which of the business's four latest sends with an id it names; past
    /// the ones there are, `stale` picks any id handed out so far.
    recent: usize,
    stale: Index,
    input: Input,
}

/// Mostly inputs at the same instant or seconds to minutes apart (so that they meet in one
/// window and one limit period), now and then hours, rarely a day (a window or chat expires,
/// the limit's 24 h period moves on).
fn wait_ms() -> impl Strategy<Value = i64> {
    prop_oneof![
        15 => Just(0),
        10 => Just(1000),
        15 => Just(60_000),
        6 => Just(600_000),
        3 => Just(2 * HOUR_MS),
        1 => Just(25 * HOUR_MS),
    ]
}

/// Every kind of input that a moved business must carry the consequences of: mostly
/// inbounds, sends and consent (windows, chats, limit slots), inbounds with a user id beside
/// the phone number and inbounds and sends by the user id alone (contact links made and
/// moved, which travel with the business), some of each provider report
/// (statuses with failures, quality, limits, template reviews), queries, ticks of the whole
/// engine, and campaigns large enough to hit a small limit (`limit_reached`). Simpler inputs
/// first: a failing case shrinks towards them.
fn input() -> impl Strategy<Value = Input> {
    let quality = || prop::sample::select(vec!["low", "medium", "high"]);
    prop_oneof![
        2 => Just(Input::QueryConversation),
        2 => Just(Input::QueryLimit),
        2 => Just(Input::QueryUsage),
        2 => Just(Input::QueryNumber),
        2 => any::<bool>().prop_map(|promo| Input::QueryTemplate { promo }),
        1 => Just(Input::Tick),
        8 => (0u8..8).prop_map(|id| Input::Inbound { id }),
        4 => (0..USER_IDS, 0u8..8).prop_map(|(user, id)| Input::Linked { user, id }),
        2 => (0..USER_IDS, any::<bool>()).prop_map(|(user, send)| Input::ByUserId { user, send }),
        6 => Just(Input::Text),
        4 => any::<bool>().prop_map(|promo| Input::Template { promo }),
        2 => Just(Input::Initiate),
        6 => prop::bool::weighted(0.85).prop_map(|opt_in| Input::Consent { opt_in }),
        2 => prop::sample::select(vec!["delivered", "read", "sent"]).prop_map(Input::Status),
        2 => prop::sample::select(vec![131049, 131026, 132015, 131056]).prop_map(Input::StatusFailed),
        2 => prop::sample::select(vec![131047, 131026, 131049]).prop_map(Input::SendFailed),
        2 => quality().prop_map(Input::NumberQuality),
        2 => prop::sample::select(vec!["2", "4", "8", "\"unlimited\""]).prop_map(Input::Limit),
        2 => (any::<bool>(), quality())
            .prop_map(|(promo, quality)| Input::TemplateQuality { promo, quality }),
        2 => prop::sample::select(vec!["flagged", "approved", "paused"]).prop_map(Input::TemplateStatus),
        1 => Just(Input::Campaign),
        2 => prop::sample::select(vec!["business_initiated", "all_messages"]).prop_map(Input::Restrict),
        1 => Just(Input::Lift),
        2 => prop::sample::select(vec!["open", "pending", "closed"]).prop_map(Input::EndChat),
        2 => prop::sample::select(vec!["open", "pending", "closed"]).prop_map(Input::TicketStatus),
        2 => any::<bool>().prop_map(Input::Preference),
        1 => Just(Input::TemplateCategory),
        1 => Just(Input::ChangePolicy),
    ]
}

prop_compose! {
    /// A step of any business, at any of its contacts (two of them never opted in), with an
    /// idempotency key from a pool small enough to repeat (`duplicate`) and usually a message
    /// id that later statuses can name.
    fn step()(
        wait_ms in wait_ms(),
        business in 0..BUSINESSES,
        contact in 0..CONTACTS,
        other_number in prop::bool::weighted(0.1),
        idempotency_key in prop::option::weighted(0.4, 0u8..6),
        with_message_id in prop::bool::weighted(0.7),
        recent in 0..4usize,
        stale in any::<Index>(),
        input in input(),
    ) -> Step {
        Step { wait_ms, business, contact, other_number, idempotency_key, with_message_id, recent, stale, input }
    }
}

/// The steps' lines, then a tick 40 days on (every timer fires).
fn traffic(steps: &[Step]) -> Lines {
    let mut lines = Vec::new();
    let mut at = START + 1000;
    let mut msg = 0;
    // The sends with an id so far: (business, number, contact, id).
    let mut sends: Vec<(u32, String, String, String)> = Vec::new();
    for step in steps {
        at += step.wait_ms;
        let b = step.business;
        let n = number(b, (step.contact + u32::from(step.other_number)) % 2);
        let c = contact(b, step.contact);
        let key = match step.idempotency_key {
            Some(k) => format!(r#","idempotency_key":"k{k}""#),
            None => String::new(),
        };
        msg += 1;
        let mid = if step.with_message_id {
            format!(r#","message_id":"m{msg}""#)
        } else {
            String::new()
        };
        // A status names one of the business's latest sends with an id (its number, contact
        // and id), so that some find the send they report on; else any id so far.
        let recent: Vec<&(u32, String, String, String)> =
            sends.iter().rev().filter(|s| s.0 == b).take(4).collect();
        let (sn, sc, old_mid) = match recent.get(step.recent) {
            Some((_, sn, sc, id)) => (sn.clone(), sc.clone(), id.clone()),
            None => (
                n.clone(),
                c.clone(),
                format!("m{}", step.stale.index(msg + 1)),
            ),
        };
        let line = match &step.input {
            Input::Inbound { id } => format!(
                r#"{{"type":"inbound","at":{at},"number":"{n}","contact":"{c}","kind":"text","message_id":"in{id}"}}"#
            ),
            Input::Linked { user, id } => format!(
                r#"{{"type":"inbound","at":{at},"number":"{n}","contact":"{c}","user_id":"{}","kind":"text","message_id":"in{id}"}}"#,
                user_id(b, *user)
            ),
            Input::ByUserId { user, send: false } => format!(
                r#"{{"type":"inbound","at":{at},"number":"{n}","contact":"{}","kind":"text"}}"#,
                user_id(b, *user)
            ),
            Input::ByUserId { user, send: true } => format!(
                r#"{{"type":"send","at":{at},"number":"{n}","contact":"{}","message":{{"kind":"text","text":"On it"}}{key}}}"#,
                user_id(b, *user)
            ),
            Input::Text => format!(
                r#"{{"type":"send","at":{at},"number":"{n}","contact":"{c}","message":{{"kind":"text","text":"On it"}}{key}{mid}}}"#
            ),
            Input::Template { promo } => format!(
                r#"{{"type":"send","at":{at},"number":"{n}","contact":"{c}","message":{{"kind":"template","name":"{}","language":"en","params":["A"]}}{key}{mid}}}"#,
                if *promo { "promo" } else { "order_ready" }
            ),
            Input::Initiate => format!(
                r#"{{"type":"initiate","at":{at},"number":"{n}","contact":"{c}","message":{{"kind":"text","text":"Parcel"}},"template":{{"name":"order_ready","language":"en","params":["P"]}}{key}}}"#
            ),
            Input::Status(status) => format!(
                r#"{{"type":"message_status","at":{at},"number":"{sn}","contact":"{sc}","message_id":"{old_mid}","status":"{status}"}}"#
            ),
            Input::StatusFailed(code) => format!(
                r#"{{"type":"message_status","at":{at},"number":"{sn}","contact":"{sc}","message_id":"{old_mid}","status":"failed","errors":[{code}]}}"#
            ),
            Input::SendFailed(code) => format!(
                r#"{{"type":"send_failed","at":{at},"number":"{n}","contact":"{c}","code":{code}}}"#
            ),
            Input::NumberQuality(quality) => format!(
                r#"{{"type":"number_quality","at":{at},"number":"{n}","quality":"{quality}"}}"#
            ),
            Input::Limit(limit) => {
                format!(r#"{{"type":"messaging_limit","at":{at},"number":"{n}","limit":{limit}}}"#)
            }
            Input::TemplateQuality { promo, quality } => format!(
                r#"{{"type":"template_quality","at":{at},"business":"biz{b}","name":"{}","language":"en","quality":"{quality}"}}"#,
                if *promo { "promo" } else { "order_ready" }
            ),
            Input::TemplateStatus(status) => format!(
                r#"{{"type":"template_status","at":{at},"business":"biz{b}","name":"promo","language":"en","status":"{status}"}}"#
            ),
            Input::Consent { opt_in } => format!(
                r#"{{"type":"{}","at":{at},"business":"biz{b}","contact":"{c}"}}"#,
                if *opt_in { "opt_in" } else { "opt_out" }
            ),
            Input::QueryConversation => format!(
                r#"{{"type":"query_conversation","at":{at},"number":"{n}","contact":"{c}"}}"#
            ),
            Input::QueryLimit => format!(r#"{{"type":"query_limit","at":{at},"number":"{n}"}}"#),
            // Its counters are as of the engine's clock (events.md), which other businesses'
            // traffic moves in one engine and not in another: a tick at the instant first, as
            // the docs tell a host wanting counters as of then.
            Input::QueryNumber => {
                lines.push((None, format!(r#"{{"type":"tick","at":{at}}}"#)));
                format!(r#"{{"type":"query_number","at":{at},"number":"{n}"}}"#)
            }
            Input::QueryTemplate { promo } => format!(
                r#"{{"type":"query_template","at":{at},"business":"biz{b}","name":"{}","language":"en"}}"#,
                if *promo { "promo" } else { "order_ready" }
            ),
            Input::QueryUsage => {
                format!(r#"{{"type":"query_usage","at":{at},"business":"biz{b}"}}"#)
            }
            Input::Tick => {
                lines.push((None, format!(r#"{{"type":"tick","at":{at}}}"#)));
                continue;
            }
            Input::Restrict(scope) => format!(
                r#"{{"type":"number_restriction","at":{at},"number":"{n}","scope":"{scope}","until":{}}}"#,
                at + 3 * HOUR_MS
            ),
            Input::Lift => format!(r#"{{"type":"restriction_lifted","at":{at},"number":"{n}"}}"#),
            Input::EndChat(status) => format!(
                r#"{{"type":"end_chat","at":{at},"number":"{n}","contact":"{c}","by":"agent","status":"{status}"}}"#
            ),
            Input::TicketStatus(status) => format!(
                r#"{{"type":"set_ticket_status","at":{at},"number":"{n}","contact":"{c}","status":"{status}"}}"#
            ),
            Input::Preference(stop) => format!(
                r#"{{"type":"user_preference","at":{at},"number":"{n}","contact":"{c}","value":"{}"}}"#,
                if *stop { "stop" } else { "resume" }
            ),
            Input::TemplateCategory => format!(
                r#"{{"type":"template_category","at":{at},"business":"biz{b}","name":"order_ready","language":"en","category":"marketing"}}"#
            ),
            Input::ChangePolicy => {
                lines.push((None, format!(
                    r#"{{"type":"change_policy","at":{at},"policy":"PRESET","policy_overrides":{{"limits":{{"levels":[2,4,8,"unlimited"]}},"window":{{"reminder_lead":"1h"}}}}}}"#
                )));
                continue;
            }
            // A small limit stops a campaign part way (`limit_reached`).
            Input::Campaign => {
                for c in 0..CONTACTS {
                    lines.push((Some(b), format!(
                        r#"{{"type":"send","at":{at},"number":"{n}","contact":"{}","message":{{"kind":"template","name":"order_ready","language":"en","params":["C"]}}}}"#,
                        contact(b, c)
                    )));
                }
                continue;
            }
        };
        if matches!(step.input, Input::Text | Input::Template { .. }) && step.with_message_id {
            sends.push((b, n.clone(), c.clone(), format!("m{msg}")));
        }
        lines.push((Some(b), line));
    }
    lines.push((
        None,
        format!(r#"{{"type":"tick","at":{}}}"#, at + 40 * 24 * HOUR_MS),
    ));
    lines
}

/// One case: a preset, a shard count, the traffic and where businesses move.
#[derive(Clone, Debug)]
struct Case {
    preset: &'static str,
    shards: usize,
    steps: Vec<Step>,
    /// (which line of the traffic, of any length, the move comes before; which business).
    moves: Vec<(Index, u32)>,
    /// The first move made twice at its point (the business leaves and comes back).
    twice: bool,
}

prop_compose! {
    /// Up to 300 steps (enough for limits to fill, statuses to find their sends and chats to
    /// end), up to eight moves anywhere in them, under every preset and at shard counts of
    /// one (a sharded engine that is one engine), a few (businesses share shards) and more
    /// shards than businesses.
    fn case()(
        preset in prop::sample::select(PRESETS.to_vec()),
        shards in prop::sample::select(vec![1usize, 3, 16]),
        steps in prop::collection::vec(step(), 1..=300),
        moves in prop::collection::vec((any::<Index>(), 0..BUSINESSES), 1..=8),
        twice in any::<bool>(),
    ) -> Case {
        Case { preset, shards, steps, moves, twice }
    }
}

/// The case's lines (setup, then traffic) and its moves as (line, business), in order.
fn render(case: &Case) -> (Lines, Vec<(usize, u32)>) {
    let mut lines = setup();
    let first = lines.len();
    lines.extend(traffic(&case.steps).into_iter().map(|(w, l)| {
        (
            w,
            l.replace(
                "PRESET",
                if case.preset == "cloud-2025" {
                    "cloud-2026-10"
                } else {
                    case.preset
                },
            ),
        )
    }));
    let mut moves: Vec<(usize, u32)> = case
        .moves
        .iter()
        .map(|(at, b)| (first + at.index(lines.len() - first), *b))
        .collect();
    if case.twice {
        moves.push(moves[0]);
    }
    moves.sort();
    (lines, moves)
}

// ---- the three ways ------------------------------------------------------------------------

fn concerns(line: &str, b: u32) -> bool {
    (0..2).any(|n| line.contains(&format!("\"{}\"", number(b, n))))
        || line.contains(&format!("\"biz{b}\""))
}

/// Per business: its results and effects, in order.
#[derive(Default, Debug, PartialEq)]
struct Log(Vec<Vec<String>>);
impl Log {
    fn new() -> Log {
        // Per business its effects, then per business its results: which input's output
        // carries an effect a timer fired depends on what else the engine holds.
        Log(vec![Vec::new(); 2 * BUSINESSES as usize])
    }
    fn record_input(&mut self, who: Option<u32>, line: &str, out: &[String]) {
        if let Some(b) = who {
            self.0[(BUSINESSES + b) as usize]
                .push(format!("RESULT {} <- {line}", without_ticket_ids(&out[0])));
        }
        self.record_effects(&out[1..]);
    }
    /// Effect lines no input's result came with (an import's timers).
    fn record_effects(&mut self, effects: &[String]) {
        for effect in effects {
            let owners: Vec<u32> = (0..BUSINESSES).filter(|&b| concerns(effect, b)).collect();
            assert_eq!(owners.len(), 1, "{effect}");
            self.0[owners[0] as usize].push(without_ticket_ids(effect));
        }
    }
}

/// The output of a line every node was given: the first node's result, and every node's
/// effects.
fn on_every_node(outputs: impl IntoIterator<Item = Vec<String>>) -> Vec<String> {
    let mut outputs = outputs.into_iter();
    let mut out = outputs.next().unwrap_or_default();
    for other in outputs {
        out.extend(other.into_iter().skip(1));
    }
    out
}

/// The preset with messaging limits small enough for a handful of contacts to reach (and
/// to earn upgrades), and window reminders (a timer every window arms).
fn policy(preset: &str) -> Policy {
    let mut p = Policy::preset(preset).unwrap();
    p.limits.levels = vec![
        LimitLevel::Contacts(2),
        LimitLevel::Contacts(4),
        LimitLevel::Contacts(8),
        LimitLevel::Unlimited,
    ];
    p.window.reminder_lead = Some(convstate::time::Duration::from_mins(60));
    p.validate().unwrap();
    p
}

/// One engine, never ticked except by the traffic's own ticks.
fn reference(preset: &str, lines: &Lines) -> Log {
    let mut e = Engine::new(policy(preset));
    let mut log = Log::new();
    for (who, line) in lines.iter() {
        let out = e.handle_json(line);
        log.record_input(*who, line, &out);
    }
    log
}

/// Two plain engines; at each move the business goes to the other engine WITHOUT a tick
/// first (mid-traffic, as a Kafka consumer would hand over a partition): taken (`how` 0),
/// exported and removed (1), or through a restored target (2).
fn moved(preset: &str, lines: &Lines, moves: &[(usize, u32)], how: u8) -> Log {
    let mut engines = [Engine::new(policy(preset)), Engine::new(policy(preset))];
    let mut home = [0usize; BUSINESSES as usize];
    let mut log = Log::new();
    for (i, (who, line)) in lines.iter().enumerate() {
        for &(_, b) in moves.iter().filter(|(at, _)| *at == i) {
            let from = home[b as usize];
            let to = 1 - from;
            let name = format!("biz{b}");
            let bytes = match how {
                0 => engines[from].take_business(&name).unwrap(),
                _ => {
                    let bytes = engines[from].export_business(&name).unwrap();
                    engines[from].remove_business(&name).unwrap();
                    bytes
                }
            };
            if how == 2 {
                engines[to] = Engine::restore(&engines[to].snapshot()).unwrap();
            }
            engines[to]
                .import_business(&bytes)
                .unwrap_or_else(|e| panic!("import of {name} at {i}: {e}"));
            // The timers the import fired, polled as a host polls after every call (left
            // queued, they would stay with this engine when a business moves on).
            let mut fired = String::new();
            engines[to].poll_effects_into(&mut fired);
            log.record_effects(&fired.lines().map(str::to_owned).collect::<Vec<_>>());
            home[b as usize] = to;
        }
        let out = match who {
            Some(b) => engines[home[*b as usize]].handle_json(line),
            None => on_every_node(engines.iter_mut().map(|e| e.handle_json(line))),
        };
        log.record_input(*who, line, &out);
    }
    log
}

/// Two sharded engines (node A with `shards` shards, node B with 2), businesses moved with
/// the sharded take/import, no tick first; with `restore`, node B is rebuilt from its
/// sharded snapshot at each move, and node A just after it.
fn sharded_moved(
    preset: &str,
    lines: &Lines,
    moves: &[(usize, u32)],
    shards: usize,
    restore: bool,
) -> Log {
    let mut nodes = [
        ShardedEngine::new(policy(preset), shards).unwrap(),
        ShardedEngine::new(policy(preset), 2).unwrap(),
    ];
    let mut home = [0usize; BUSINESSES as usize];
    let mut log = Log::new();
    for (i, (who, line)) in lines.iter().enumerate() {
        for &(_, b) in moves.iter().filter(|(at, _)| *at == i) {
            let from = home[b as usize];
            let to = 1 - from;
            let name = format!("biz{b}");
            let bytes = nodes[from].take_business(&name).unwrap();
            if restore {
                nodes[to] = ShardedEngine::restore(&nodes[to].snapshot()).unwrap();
            }
            let mut effects = Vec::new();
            nodes[to]
                .import_business(&bytes, &mut effects)
                .unwrap_or_else(|e| panic!("sharded import of {name} at {i}: {e}"));
            log.record_effects(&effects.iter().map(wire::encode_effect).collect::<Vec<_>>());
            if restore {
                nodes[from] = ShardedEngine::restore(&nodes[from].snapshot()).unwrap();
            }
            home[b as usize] = to;
        }
        let out = match who {
            Some(b) => nodes[home[*b as usize]].handle_json(line),
            None => on_every_node(nodes.iter().map(|n| n.handle_json(line))),
        };
        log.record_input(*who, line, &out);
    }
    log
}

fn same(a: &Log, b: &Log, what: &str) -> Result<(), TestCaseError> {
    for biz in 0..2 * BUSINESSES as usize {
        let (x, y) = (&a.0[biz], &b.0[biz]);
        if x != y {
            let first = x
                .iter()
                .zip(y)
                .position(|(p, q)| p != q)
                .unwrap_or(x.len().min(y.len()));
            return Err(TestCaseError::fail(format!(
                "{what}: log {biz} differs at entry {first}:\n one engine: {:?}\n other:      {:?}\ncontext one: {:#?}\ncontext other: {:#?}",
                x.get(first),
                y.get(first),
                &x[first.saturating_sub(6)..(first + 2).min(x.len())],
                &y[first.saturating_sub(6)..(first + 4).min(y.len())]
            )));
        }
    }
    Ok(())
}

fn compare(case: &Case) -> Result<(), TestCaseError> {
    let (lines, moves) = render(case);
    let reference = reference(case.preset, &lines);
    for how in 0..3 {
        let got = moved(case.preset, &lines, &moves, how);
        same(
            &reference,
            &got,
            &format!("{} moves {moves:?} how {how} (no tick)", case.preset),
        )?;
    }
    for restore in [false, true] {
        let got = sharded_moved(case.preset, &lines, &moves, case.shards, restore);
        same(
            &reference,
            &got,
            &format!(
                "{} sharded moves {moves:?} shards {} restore {restore}",
                case.preset, case.shards
            ),
        )?;
    }
    Ok(())
}

/// 128 cases by default; `PROPTEST_CASES=1000` for a longer hunt.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128);
    ProptestConfig {
        cases,
        // Enough to shrink 300 steps to the few that matter (by default proptest stops after
        // four times the case count).
        max_shrink_iters: 10_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/proptest-regressions/move_differential.txt"
        )))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Moving businesses between engines (each way, sharded or not, mid-traffic with no tick
    /// first) changes none of their results or effects.
    #[test]
    fn moved_and_sharded_businesses_decide_as_in_one_engine(case in case()) {
        compare(&case)?;
    }
}

// ---- what the traffic covers ---------------------------------------------------------------

/// What the reference run's output lines must contain somewhere across the drawn cases, so
/// that the comparison covers them: allowed sends, sends refused at the limit, held and
/// released initiates, chats ended, duplicates, failures, limit changes, template and number
/// reports, contact links made and moved (they travel with a business), errors, what
/// timers do (window reminders, restrictions' ends) or agents (ticket statuses), and the
/// number and template views.
const EXERCISED: [&str; 19] = [
    "\"allowed\"",
    "limit_reached",
    "held",
    "outbox_released",
    "chat_ended",
    "duplicate",
    "message_failed",
    "limit_changed",
    "template_status_changed",
    "number_flagged",
    "contact_linked",
    "previous_phone",
    "error",
    "window_closing_soon",
    "number_restricted",
    "ticket_status_changed",
    "template_category_changed",
    "\"type\":\"number\"",
    "\"type\":\"template\"",
];

/// Cases [`drawn_traffic_reaches_every_outcome_compared`] draws, and how often each word
/// must appear in them: once or twice would be luck, not traffic made to produce it (without
/// campaigns, `limit_reached` still came up twice).
const CASES_FOR_COVERAGE: usize = 24;
const AT_LEAST: usize = 10;

/// The strategy's traffic produces each of [`EXERCISED`]: a fixed set of cases (a
/// deterministic runner, so this does not depend on `PROPTEST_CASES` or luck) run in one
/// engine. A comparison over traffic that never reached a limit or failed a send could not
/// find a move that loses them.
#[test]
fn drawn_traffic_reaches_every_outcome_compared() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut totals: Vec<(&str, usize)> = EXERCISED.iter().map(|&word| (word, 0)).collect();
    for _ in 0..CASES_FOR_COVERAGE {
        let case = case().new_tree(&mut runner).unwrap().current();
        let (lines, _) = render(&case);
        let log = reference(case.preset, &lines);
        for entry in log.0.iter().flatten() {
            for (word, total) in totals.iter_mut() {
                *total += usize::from(entry.contains(*word));
            }
        }
    }
    eprintln!("{totals:?}");
    for (word, total) in &totals {
        assert!(
            *total >= AT_LEAST,
            "{CASES_FOR_COVERAGE} drawn cases produced {word} {total} times, fewer than {AT_LEAST}: the comparison covers less than it claims ({totals:?})"
        );
    }
}

/// A business at its messaging limit, moved (into an engine whose clock is behind, and
/// then back, so twice): the window's contacts travel and the limit holds.
#[test]
fn a_business_at_its_limit_stays_there_after_moves() {
    for preset in ["cloud-2025", "classic"] {
        let mut lines = setup();
        for c in 0..5 {
            lines.push((Some(0), format!(
                r#"{{"type":"send","at":{},"number":"{}","contact":"{}","message":{{"kind":"template","name":"order_ready","language":"en","params":["A"]}},"idempotency_key":"k{c}","message_id":"m{c}"}}"#,
                START + 1000 + c as i64, number(0, 0), contact(0, c)
            )));
        }
        let mut one = Engine::new(policy(preset));
        let results: Vec<String> = lines
            .iter()
            .map(|(_, l)| one.handle_json(l)[0].clone())
            .collect();
        assert!(
            results
                .iter()
                .any(|r| r.contains(r#""reason":"limit_reached""#)),
            "the business reached its limit before the moves: {results:?}"
        );
        let mut other = Engine::new(policy(preset));
        let bytes = one.take_business("biz0").unwrap();
        other.import_business(&bytes).unwrap();
        let back = other.take_business("biz0").unwrap();
        let mut third = Engine::new(policy(preset));
        third.import_business(&back).unwrap();
        let mut reference = Engine::new(policy(preset));
        for (_, l) in &lines {
            reference.handle_json(l);
        }
        for c in 0..7u32 {
            let retry = format!(
                r#"{{"type":"send","at":{},"number":"{}","contact":"{}","message":{{"kind":"template","name":"order_ready","language":"en","params":["A"]}},"idempotency_key":"k{c}"}}"#,
                START + 60_000,
                number(0, 1),
                contact(0, c)
            );
            assert_eq!(
                third.handle_json(&retry)[0],
                reference.handle_json(&retry)[0],
                "{preset} {retry}"
            );
        }
        assert_eq!(
            third.handle_json(&format!(
                r#"{{"type":"query_limit","at":{},"number":"{}"}}"#,
                START + 60_000,
                number(0, 0)
            )),
            reference.handle_json(&format!(
                r#"{{"type":"query_limit","at":{},"number":"{}"}}"#,
                START + 60_000,
                number(0, 0)
            )),
        );
    }
}
