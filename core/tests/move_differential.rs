//! Differential: random traffic of several businesses in one engine, against the same
//! traffic with businesses moved between engines at random points (both sides ticked to the
//! same instant first), and against sharded engines of several shard counts. Per business,
//! the results and effects must be the same.

mod common;

use common::without_ticket_ids;
use convstate::policy::LimitLevel;
use convstate::sharded::ShardedEngine;
use convstate::{Engine, Policy};

const BUSINESSES: u32 = 4;
const START: i64 = 1_793_606_400_000; // 2026-11-02T08:00:00Z

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn number(b: u32, n: u32) -> String {
    format!("+15559{b:03}{n:03}")
}
fn contact(b: u32, c: u32) -> String {
    format!("+4916{b:03}{c:05}")
}

/// (business the input concerns, or none for a tick; the line).
fn setup() -> Vec<(Option<u32>, String)> {
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

fn traffic(rng: &mut Rng, steps: usize) -> Vec<(Option<u32>, String)> {
    let mut lines = Vec::new();
    let mut at = START + 1000;
    let mut msg = 0;
    let mut sends: Vec<(u32, String, String, String)> = Vec::new();
    for _ in 0..steps {
        at += match rng.below(50) {
            0..=14 => 0,
            15..=24 => 1000,
            25..=39 => 60_000,
            40..=45 => 600_000,
            46..=48 => 2 * 3_600_000,
            _ => 25 * 3_600_000,
        };
        let b = rng.below(BUSINESSES as u64) as u32;
        let ci = rng.below(7) as u32;
        // Mostly each contact at one number, now and then at the other.
        let n = number(b, (ci + u32::from(rng.chance(10))) % 2);
        let c = contact(b, ci);
        let key = if rng.chance(40) {
            format!(r#","idempotency_key":"k{}""#, rng.below(6))
        } else {
            String::new()
        };
        msg += 1;
        let mid = if rng.chance(70) {
            format!(r#","message_id":"m{}""#, msg)
        } else {
            String::new()
        };
        // A status names one of the business's latest sends with an id (its number, contact
        // and id), so that some find the send they report on; else a random id.
        let recent: Vec<&(u32, String, String, String)> =
            sends.iter().rev().filter(|s| s.0 == b).take(4).collect();
        let (sn, sc, old_mid) = match recent.get(rng.below(4) as usize) {
            Some((_, sn, sc, id)) => (sn.clone(), sc.clone(), id.clone()),
            None => (
                n.clone(),
                c.clone(),
                format!("m{}", rng.below(msg as u64 + 1)),
            ),
        };
        let line = match rng.below(24) {
            0..=3 => format!(
                r#"{{"type":"inbound","at":{at},"number":"{n}","contact":"{c}","kind":"text","message_id":"in{}"}}"#,
                rng.below(8)
            ),
            4..=6 => format!(
                r#"{{"type":"send","at":{at},"number":"{n}","contact":"{c}","message":{{"kind":"text","text":"On it"}}{key}{mid}}}"#
            ),
            7 | 8 => format!(
                r#"{{"type":"send","at":{at},"number":"{n}","contact":"{c}","message":{{"kind":"template","name":"{}","language":"en","params":["A"]}}{key}{mid}}}"#,
                if rng.chance(50) {
                    "promo"
                } else {
                    "order_ready"
                }
            ),
            9 => format!(
                r#"{{"type":"initiate","at":{at},"number":"{n}","contact":"{c}","message":{{"kind":"text","text":"Parcel"}},"template":{{"name":"order_ready","language":"en","params":["P"]}}{key}}}"#
            ),
            10 => format!(
                r#"{{"type":"message_status","at":{at},"number":"{sn}","contact":"{sc}","message_id":"{old_mid}","status":"{}"}}"#,
                ["delivered", "read", "sent"][rng.below(3) as usize]
            ),
            11 => format!(
                r#"{{"type":"message_status","at":{at},"number":"{sn}","contact":"{sc}","message_id":"{old_mid}","status":"failed","errors":[{}]}}"#,
                [131049, 131026, 132015, 131056][rng.below(4) as usize]
            ),
            12 => format!(
                r#"{{"type":"send_failed","at":{at},"number":"{n}","contact":"{c}","code":{}}}"#,
                [131047, 131026, 131049][rng.below(3) as usize]
            ),
            13 => format!(
                r#"{{"type":"number_quality","at":{at},"number":"{n}","quality":"{}"}}"#,
                ["low", "medium", "high"][rng.below(3) as usize]
            ),
            14 => format!(
                r#"{{"type":"messaging_limit","at":{at},"number":"{n}","limit":{}}}"#,
                ["2", "4", "8", "\"unlimited\""][rng.below(4) as usize]
            ),
            15 => format!(
                r#"{{"type":"template_quality","at":{at},"business":"biz{b}","name":"{}","language":"en","quality":"{}"}}"#,
                if rng.chance(50) {
                    "promo"
                } else {
                    "order_ready"
                },
                ["low", "medium", "high"][rng.below(3) as usize]
            ),
            16 => format!(
                r#"{{"type":"template_status","at":{at},"business":"biz{b}","name":"promo","language":"en","status":"{}"}}"#,
                ["flagged", "approved", "paused"][rng.below(3) as usize]
            ),
            17 | 21 | 22 => format!(
                r#"{{"type":"{}","at":{at},"business":"biz{b}","contact":"{c}"}}"#,
                if rng.chance(85) { "opt_in" } else { "opt_out" }
            ),
            18 => format!(
                r#"{{"type":"query_conversation","at":{at},"number":"{n}","contact":"{c}"}}"#
            ),
            19 => format!(r#"{{"type":"query_limit","at":{at},"number":"{n}"}}"#),
            20 => format!(r#"{{"type":"query_usage","at":{at},"business":"biz{b}"}}"#),
            _ if rng.chance(50) => {
                lines.push((None, format!(r#"{{"type":"tick","at":{at}}}"#)));
                continue;
            }
            // A campaign: one template to every contact of the business at once, which a
            // small limit stops part way (`limit_reached`).
            _ => {
                for c in 0..7 {
                    lines.push((Some(b), format!(
                        r#"{{"type":"send","at":{at},"number":"{n}","contact":"{}","message":{{"kind":"template","name":"order_ready","language":"en","params":["C"]}}}}"#,
                        contact(b, c)
                    )));
                }
                continue;
            }
        };
        if line.contains(r#""type":"send""#) && !mid.is_empty() {
            sends.push((b, n.clone(), c.clone(), format!("m{msg}")));
        }
        lines.push((Some(b), line));
    }
    lines.push((
        None,
        format!(r#"{{"type":"tick","at":{}}}"#, at + 40 * 86_400_000),
    ));
    lines
}

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
    fn record(&mut self, who: Option<u32>, out: &[String]) {
        self.record_input(who, "", out)
    }
    fn record_input(&mut self, who: Option<u32>, line: &str, out: &[String]) {
        if let Some(b) = who {
            self.0[(BUSINESSES + b) as usize]
                .push(format!("RESULT {} <- {line}", without_ticket_ids(&out[0])));
        }
        for effect in &out[1..] {
            let owners: Vec<u32> = (0..BUSINESSES).filter(|&b| concerns(effect, b)).collect();
            assert_eq!(owners.len(), 1, "{effect}");
            self.0[owners[0] as usize].push(without_ticket_ids(effect));
        }
    }
}

fn reference(lines: &[(Option<u32>, String)], ticks_at: &[usize]) -> Log {
    let mut e = Engine::new(policy());
    let mut log = Log::new();
    for (i, (who, line)) in lines.iter().enumerate() {
        if ticks_at.contains(&i) {
            let out = e.handle_json(&tick_before(lines, i));
            log.record(None, &out);
        }
        let out = e.handle_json(line);
        log.record_input(*who, line, &out);
    }
    log
}

thread_local! {
    static PRESET: std::cell::Cell<&'static str> = const { std::cell::Cell::new("cloud-2025") };
}

/// The preset with messaging limits small enough for a handful of contacts to reach (and
/// to earn upgrades).
fn policy() -> Policy {
    let mut p = Policy::preset(PRESET.with(|p| p.get())).unwrap();
    p.limits.levels = vec![
        LimitLevel::Contacts(2),
        LimitLevel::Contacts(4),
        LimitLevel::Contacts(8),
        LimitLevel::Unlimited,
    ];
    p.validate().unwrap();
    p
}

/// A tick at the instant of the input before `i`.
fn tick_before(lines: &[(Option<u32>, String)], i: usize) -> String {
    let v: serde_json::Value = serde_json::from_str(&lines[i.saturating_sub(1)].1).unwrap();
    format!(r#"{{"type":"tick","at":{}}}"#, v["at"])
}

fn diff(a: &Log, b: &Log, what: &str) {
    for biz in 0..2 * BUSINESSES as usize {
        let (x, y) = (&a.0[biz], &b.0[biz]);
        if x != y {
            let first = x
                .iter()
                .zip(y)
                .position(|(p, q)| p != q)
                .unwrap_or(x.len().min(y.len()));
            panic!(
                "{what}: biz{biz} differs at entry {first}:\n one engine: {:?}\n other:      {:?}\ncontext one: {:#?}\ncontext other: {:#?}",
                x.get(first),
                y.get(first),
                &x[first.saturating_sub(6)..(first + 2).min(x.len())],
                &y[first.saturating_sub(6)..(first + 4).min(y.len())]
            );
        }
    }
}

fn moved(lines: &[(Option<u32>, String)], moves: &[(usize, u32)], how: u8) -> Log {
    let mut engines = [Engine::new(policy()), Engine::new(policy())];
    let mut home = [0usize; BUSINESSES as usize];
    let mut log = Log::new();
    for (i, (who, line)) in lines.iter().enumerate() {
        for &(_, b) in moves.iter().filter(|(at, _)| *at == i) {
            let tick = tick_before(lines, i);
            for e in engines.iter_mut() {
                let out = e.handle_json(&tick);
                log.record(None, &out);
            }
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
            // Round trip through a snapshot as well, now and then.
            if how == 2 {
                engines[to] = Engine::restore(&engines[to].snapshot()).unwrap();
            }
            engines[to]
                .import_business(&bytes)
                .unwrap_or_else(|e| panic!("import of {name} at {i}: {e}"));
            home[b as usize] = to;
        }
        let out = match who {
            Some(b) => engines[home[*b as usize]].handle_json(line),
            None => {
                let a = engines[0].handle_json(line);
                let c = engines[1].handle_json(line);
                let mut out = a;
                out.extend(c.into_iter().skip(1));
                out
            }
        };
        log.record_input(*who, line, &out);
    }
    log
}

fn sharded(lines: &[(Option<u32>, String)], ticks_at: &[usize], shards: usize) -> Log {
    let e = ShardedEngine::new(policy(), shards).unwrap();
    let mut log = Log::new();
    for (i, (who, line)) in lines.iter().enumerate() {
        if ticks_at.contains(&i) {
            log.record(None, &e.handle_json(&tick_before(lines, i)));
        }
        log.record_input(*who, line, &e.handle_json(line));
    }
    log
}

/// What the reference run's output lines must contain somewhere across the seeds, so that
/// the comparison covers them: allowed sends, sends refused at the limit, held and released
/// initiates, chats ended,
/// duplicates, failures, limit changes, template and number reports, and errors.
const EXERCISED: [&str; 11] = [
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
    "error",
];

/// One seed's traffic under `preset`, compared; how often each of [`EXERCISED`] appeared.
fn run(seed: u64, preset: &'static str) -> Vec<(&'static str, usize)> {
    PRESET.with(|p| p.set(preset));
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1));
    let mut lines = setup();
    let first = lines.len();
    lines.extend(traffic(&mut rng, 300));
    let mut moves = Vec::new();
    for _ in 0..6 {
        let at = first + rng.below((lines.len() - first) as u64) as usize;
        moves.push((at, rng.below(BUSINESSES as u64) as u32));
    }
    // Moving a business twice at one point.
    let (at, b) = moves[0];
    moves.push((at, b));
    moves.sort();
    let ticks_at: Vec<usize> = moves.iter().map(|m| m.0).collect();
    let reference = reference(&lines, &ticks_at);
    let all: Vec<&String> = reference.0.iter().flatten().collect();
    let counts: Vec<(&'static str, usize)> = EXERCISED
        .iter()
        .map(|&word| (word, all.iter().filter(|l| l.contains(word)).count()))
        .collect();
    if std::env::var("MOVE_STATS").is_ok() {
        for (word, count) in &counts {
            eprintln!("{preset} {word}: {count}");
        }
    }
    for how in 0..3 {
        let got = moved(&lines, &moves, how);
        diff(
            &reference,
            &got,
            &format!("seed {seed} {preset} moves {moves:?} how {how}"),
        );
    }
    for shards in [1, 3, 16] {
        let got = sharded(&lines, &ticks_at, shards);
        diff(
            &reference,
            &got,
            &format!("seed {seed} {preset} {shards} shards"),
        );
    }
    counts
}

#[test]
fn moved_and_sharded_businesses_decide_as_in_one_engine() {
    let seeds: u64 = std::env::var("MOVE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut totals = std::collections::BTreeMap::new();
    for seed in 0..seeds {
        for preset in ["cloud-2025", "classic", "cloud-2026-10"] {
            for (word, count) in run(seed, preset) {
                *totals.entry(word).or_insert(0) += count;
            }
        }
    }
    // Over fewer seeds than the default (`MOVE_SEEDS`, for a quick look) a rare one may
    // be missing; the default and more must produce them all.
    for (word, total) in totals.into_iter().filter(|_| seeds >= 20) {
        assert!(
            total > 0,
            "the traffic never produced {word}: {seeds} seeds compare less than they claim"
        );
    }
}

/// A business at its messaging limit, moved (into an engine whose clock is behind, and
/// then back, so twice): the window's contacts travel and the limit holds.
#[test]
fn a_business_at_its_limit_stays_there_after_moves() {
    for preset in ["cloud-2025", "classic"] {
        PRESET.with(|p| p.set(preset));
        let mut lines = setup();
        for c in 0..5 {
            lines.push((Some(0), format!(
                r#"{{"type":"send","at":{},"number":"{}","contact":"{}","message":{{"kind":"template","name":"order_ready","language":"en","params":["A"]}},"idempotency_key":"k{c}","message_id":"m{c}"}}"#,
                START + 1000 + c as i64, number(0, 0), contact(0, c)
            )));
        }
        let mut one = Engine::new(policy());
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
        let mut other = Engine::new(policy());
        let bytes = one.take_business("biz0").unwrap();
        other.import_business(&bytes).unwrap();
        let back = other.take_business("biz0").unwrap();
        let mut third = Engine::new(policy());
        third.import_business(&back).unwrap();
        let mut reference = Engine::new(policy());
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
