//! Model-based properties of the account dynamics (RULES.md §5 templates, §6 number quality,
//! §7 messaging limits, §11 pricing, §12 profiles, snapshots).
//!
//! Each case is a random sequence of wire-format lines for one or two official numbers of a
//! business (sometimes a second business), three templates (marketing, utility,
//! authentication), 6–30 opted-in contacts (some with US `+1` numbers) and small limit
//! levels (a policy override) so that limits bind, under all three presets. Time moves by
//! seconds to days, and sometimes backwards. The engine is driven only through its JSON door
//! (`handle_json`), and every property compares what it says against a small independent
//! model built from the inputs and the effect lines.
//!
//! Every `send` and `check_send` is preceded by a `tick` at the same instant. That changes
//! nothing for the engine (a send fires the timers due at its instant first anyway), but it
//! puts the effects of those timers on the tick's line, so the effects on a send's line are
//! exactly the ones the send itself caused, after its decision. The models can then apply
//! effects in order without guessing which came before the decision.
//!
//! A failing case prints the whole sequence as a conformance scenario (header line plus
//! events) that can be pasted into `tests/scenarios/`. Each property runs 256 cases;
//! `PROPTEST_CASES=3000` hunts longer. Failing seeds are kept in
//! `core/tests/proptest-regressions/account_properties.txt` and replayed first.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::TEMPLATE_EVENTS;
use convstate::{Engine, Instant, Policy};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// The moving period of every limit and the length of every service window (presets: 24h).
const PERIOD_MS: i64 = DAY_MS;

const PRESETS: [&str; 3] = ["classic", "cloud-2025", "cloud-2026-10"];

/// Small limit levels so that a few dozen contacts reach them.
fn level_sets() -> [Value; 4] {
    [
        json!([2, 4, 8, "unlimited"]),
        json!([1, 3, "unlimited"]),
        json!([3, 5]),
        json!([2, 3, 4, 6, 9]),
    ]
}

/// (name, category, body, edited body)
const TEMPLATES: [(&str, &str, &str, &str); 3] = [
    (
        "promo",
        "marketing",
        "Hello {{1}}, see our offer.",
        "Hello {{1}}, see our new offer.",
    ),
    (
        "notice",
        "utility",
        "Your order {{1}} has shipped.",
        "Your parcel {{1}} has shipped.",
    ),
    (
        "otp",
        "authentication",
        "Your code is {{1}} for login.",
        "Your login code is {{1}} today.",
    ),
];

// ---- scenarios -------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Scenario {
    preset: &'static str,
    /// Index into [`level_sets`].
    levels: usize,
    /// `pricing.service_free_per_month` override (small, so 2026-10 charges service).
    service_free: u32,
    two_numbers: bool,
    second_business: bool,
    /// One entry per contact: whether it is a US number.
    us_contacts: Vec<bool>,
    /// Start, in hours after 2026-10-20T00:00:00Z (so some runs cross a month end).
    start_hours: i64,
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
struct Step {
    /// Seconds since the previous step's instant (negative: time going backwards).
    dt_secs: i64,
    /// Take a snapshot after this step (property 5).
    checkpoint: bool,
    action: Action,
}

/// Indices are taken modulo the number of numbers, contacts, businesses and templates.
#[derive(Clone, Debug)]
enum Action {
    Inbound {
        number: usize,
        contact: usize,
    },
    Send {
        number: usize,
        contact: usize,
        template: usize,
        /// `None`: a parameter unique to the step; `Some`: one that may repeat (duplicates).
        param: Option<u8>,
    },
    SendText {
        number: usize,
        contact: usize,
        text: Option<u8>,
    },
    CheckSend {
        number: usize,
        contact: usize,
        template: usize,
    },
    TemplateQuality {
        business: usize,
        template: usize,
        quality: &'static str,
    },
    TemplateCategory {
        business: usize,
        template: usize,
        category: usize,
    },
    TemplateComponents {
        business: usize,
        template: usize,
        edited: bool,
    },
    TemplateStatus {
        business: usize,
        template: usize,
        status: &'static str,
        until_secs: Option<i64>,
    },
    EditTemplate {
        business: usize,
        template: usize,
    },
    NumberQuality {
        number: usize,
        quality: &'static str,
    },
    NumberRestriction {
        number: usize,
        scope: &'static str,
        until_secs: Option<i64>,
    },
    RestrictionLifted {
        number: usize,
    },
    MessagingLimit {
        number: usize,
        /// Index into the policy's levels; past the end: a value that is not a level.
        level: usize,
    },
    Tick,
}

/// Picks from weighted choices by a number below the total weight; lower numbers shrink
/// towards the first choice.
fn weighted<T: Copy>(choices: &[(u32, T)], mut pick: u32) -> T {
    for (weight, value) in choices {
        if pick < *weight {
            return *value;
        }
        pick -= weight;
    }
    choices.last().expect("non-empty").1
}

fn total(choices: &[(u32, impl Copy)]) -> u32 {
    choices.iter().map(|(w, _)| w).sum()
}

/// Time steps in seconds as (weight, lowest, highest exclusive): seconds to days, sometimes
/// none, sometimes backwards, and sometimes exactly a rule's length (the 24h window and
/// limit period, the 3h and 6h pauses, the 7-day flags) so that half-open boundaries are hit.
const TIME_STEPS: [(u32, (i64, i64)); 10] = [
    (2, (0, 1)),
    (6, (1, 600)),
    (6, (600, 4 * 3600)),
    (4, (4 * 3600, 30 * 3600)),
    (1, (86_400, 8 * 86_400)),
    (2, (-6 * 3600, 0)),
    (2, (86_400, 86_401)),
    (1, (3 * 3600, 3 * 3600 + 1)),
    (1, (6 * 3600, 6 * 3600 + 1)),
    (1, (7 * 86_400, 7 * 86_400 + 1)),
];

const QUALITIES: [(u32, &str); 3] = [(2, "low"), (1, "medium"), (1, "high")];

#[derive(Clone, Copy)]
enum Kind {
    Inbound,
    Send,
    SendText,
    CheckSend,
    TemplateQuality,
    TemplateCategory,
    TemplateComponents,
    TemplateStatus,
    EditTemplate,
    NumberQuality,
    NumberRestriction,
    RestrictionLifted,
    MessagingLimit,
    Tick,
}

const KINDS: [(u32, Kind); 14] = [
    (5, Kind::Inbound),
    (9, Kind::Send),
    (2, Kind::SendText),
    (1, Kind::CheckSend),
    (3, Kind::TemplateQuality),
    (1, Kind::TemplateCategory),
    (1, Kind::TemplateComponents),
    (3, Kind::TemplateStatus),
    (1, Kind::EditTemplate),
    (2, Kind::NumberQuality),
    (1, Kind::NumberRestriction),
    (1, Kind::RestrictionLifted),
    (1, Kind::MessagingLimit),
    (2, Kind::Tick),
];

/// A step from flat random numbers: one flat tuple generates (and shrinks) much faster in a
/// debug build than nested unions of strategies.
fn step() -> impl Strategy<Value = Step> {
    (
        (
            0..total(&TIME_STEPS),
            any::<u32>(),
            prop::bool::weighted(0.03),
        ),
        (0..total(&KINDS), 0usize..64, 0usize..64, 0usize..64),
        (0usize..TEMPLATE_EVENTS.len(), 0..total(&QUALITIES)),
        // An optional `until`: none in a third of the cases, else -2h..+2d from now.
        (0u32..3, -2 * 3600i64..2 * 86_400),
        // A parameter that may repeat (duplicates) in a fifth of the sends.
        (0u32..5, 0u8..3),
    )
        .prop_map(
            |(
                (time_class, time_pick, checkpoint),
                (kind, a, b, c),
                (event, quality_pick),
                (until_class, until_secs),
                (repeat_class, repeat),
            )| {
                let (lo, hi) = weighted(&TIME_STEPS, time_class);
                let dt_secs = lo + i64::from(time_pick) % (hi - lo);
                let until_secs = (until_class > 0).then_some(until_secs);
                let quality = weighted(&QUALITIES, quality_pick);
                let repeated = (repeat_class == 0).then_some(repeat);
                let action = match weighted(&KINDS, kind) {
                    Kind::Inbound => Action::Inbound {
                        number: a,
                        contact: b,
                    },
                    Kind::Send => Action::Send {
                        number: a,
                        contact: b,
                        template: c,
                        param: repeated,
                    },
                    Kind::SendText => Action::SendText {
                        number: a,
                        contact: b,
                        text: repeated,
                    },
                    Kind::CheckSend => Action::CheckSend {
                        number: a,
                        contact: b,
                        template: c,
                    },
                    Kind::TemplateQuality => Action::TemplateQuality {
                        business: a,
                        template: c,
                        quality,
                    },
                    Kind::TemplateCategory => Action::TemplateCategory {
                        business: a,
                        template: c,
                        category: b,
                    },
                    Kind::TemplateComponents => Action::TemplateComponents {
                        business: a,
                        template: c,
                        edited: b % 2 == 0,
                    },
                    Kind::TemplateStatus => Action::TemplateStatus {
                        business: a,
                        template: c,
                        status: TEMPLATE_EVENTS[event],
                        until_secs,
                    },
                    Kind::EditTemplate => Action::EditTemplate {
                        business: a,
                        template: c,
                    },
                    Kind::NumberQuality => Action::NumberQuality { number: a, quality },
                    Kind::NumberRestriction => Action::NumberRestriction {
                        number: a,
                        scope: ["business_initiated", "all_messages", "account_disabled"][c % 3],
                        until_secs,
                    },
                    Kind::RestrictionLifted => Action::RestrictionLifted { number: a },
                    Kind::MessagingLimit => Action::MessagingLimit {
                        number: a,
                        level: b % 7,
                    },
                    Kind::Tick => Action::Tick,
                };
                Step {
                    dt_secs,
                    checkpoint,
                    action,
                }
            },
        )
}

fn scenario_with(preset: impl Strategy<Value = &'static str>) -> impl Strategy<Value = Scenario> {
    (
        preset,
        0usize..level_sets().len(),
        0u32..4,
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::collection::vec(prop::bool::weighted(0.3), 6..=30),
        0i64..40 * 24,
        prop::collection::vec(step(), 10..90),
    )
        .prop_map(
            |(
                preset,
                levels,
                service_free,
                two_numbers,
                second_business,
                us_contacts,
                start_hours,
                steps,
            )| Scenario {
                preset,
                levels,
                service_free,
                two_numbers,
                second_business,
                us_contacts,
                start_hours,
                steps,
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    scenario_with(prop::sample::select(&PRESETS[..]))
}

// ---- rendering to wire lines --------------------------------------------------------------

/// A scenario as wire-format lines.
struct Rendered {
    header: Value,
    lines: Vec<String>,
    /// Parallel to `lines`: snapshot after this line (property 5).
    checkpoints: Vec<bool>,
}

impl Rendered {
    /// The whole case as a conformance scenario, for failure messages.
    fn jsonl(&self) -> String {
        let mut out = self.header.to_string();
        for line in &self.lines {
            out.push('\n');
            out.push_str(line);
        }
        out
    }

    fn preset(&self) -> &str {
        self.header["policy"]
            .as_str()
            .expect("header names a preset")
    }

    fn policy(&self) -> Policy {
        Policy::with_overrides(self.preset(), &self.header["policy_overrides"])
            .expect("generated overrides are valid")
    }
}

fn instant(ms: i64) -> String {
    Instant::from_unix_millis(ms)
        .expect("generated instants are in range")
        .to_rfc3339()
}

fn month_text(key: u32) -> String {
    format!("{:04}-{:02}", key / 100, key % 100)
}

fn month_key(ms: i64) -> u32 {
    Instant::from_unix_millis(ms).expect("in range").month_key()
}

fn numbers_of(s: &Scenario) -> Vec<(&'static str, &'static str)> {
    let mut numbers = vec![("+15550001111", "acme")];
    if s.two_numbers {
        numbers.push(("+15550002222", "acme"));
    }
    if s.second_business {
        numbers.push(("+15550003333", "beta"));
    }
    numbers
}

fn businesses_of(s: &Scenario) -> Vec<&'static str> {
    if s.second_business {
        vec!["acme", "beta"]
    } else {
        vec!["acme"]
    }
}

fn contacts_of(s: &Scenario) -> Vec<String> {
    s.us_contacts
        .iter()
        .enumerate()
        .map(|(i, us)| {
            if *us {
                format!("+1212555{:04}", i) // New York: a US number
            } else {
                format!("+7911000{:04}", i)
            }
        })
        .collect()
}

fn template_message(template: usize, param: String) -> Value {
    json!({"kind": "template", "name": TEMPLATES[template].0, "language": "en", "params": [param]})
}

fn render(s: &Scenario, extra_overrides: Option<&Value>) -> Rendered {
    let levels = level_sets()[s.levels].clone();
    let level_count = levels.as_array().expect("array").len();
    let mut overrides = json!({
        "limits": {"levels": levels.clone()},
        "pricing": {"service_free_per_month": s.service_free},
    });
    if let Some(extra) = extra_overrides {
        merge(&mut overrides, extra);
    }
    let header = json!({
        "scenario": "account-property-counterexample",
        "policy": s.preset,
        "policy_overrides": overrides,
        "description": "generated by core/tests/account_properties.rs",
    });
    let numbers = numbers_of(s);
    let businesses = businesses_of(s);
    let contacts = contacts_of(s);
    let start = Instant::parse_rfc3339("2026-10-20T00:00:00Z")
        .expect("valid")
        .unix_millis()
        + s.start_hours * HOUR_MS;

    let mut lines = Vec::new();
    let mut checkpoints = Vec::new();
    let mut push = |line: Value, checkpoint: bool| {
        lines.push(line.to_string());
        checkpoints.push(checkpoint);
    };
    let at0 = instant(start);
    for (number, business) in &numbers {
        push(
            json!({"type": "register_number", "at": at0, "business": business, "number": number, "channel": "official"}),
            false,
        );
    }
    for business in &businesses {
        for (name, category, body, _) in TEMPLATES {
            push(
                json!({"type": "register_template", "at": at0, "business": business, "name": name, "language": "en", "category": category, "body": body, "status": "approved"}),
                false,
            );
        }
        for contact in &contacts {
            push(
                json!({"type": "opt_in", "at": at0, "business": business, "contact": contact}),
                false,
            );
        }
    }
    for (number, _) in &numbers {
        push(
            json!({"type": "query_limit", "at": at0, "number": number}),
            false,
        );
    }

    let mut t = start;
    let mut latest = start;
    for (i, step) in s.steps.iter().enumerate() {
        t = (t + step.dt_secs * 1000).max(start);
        latest = latest.max(t);
        let at = instant(t);
        let number = |n: usize| numbers[n % numbers.len()].0;
        let contact = |c: usize| contacts[c % contacts.len()].as_str();
        let business = |b: usize| businesses[b % businesses.len()];
        let until = |secs: Option<i64>| secs.map(|d| instant((t + d * 1000).max(0)));
        let line = match &step.action {
            Action::Inbound {
                number: n,
                contact: c,
            } => {
                json!({"type": "inbound", "at": at, "number": number(*n), "contact": contact(*c), "kind": "text"})
            }
            Action::Send {
                number: n,
                contact: c,
                template,
                param,
            } => {
                push(json!({"type": "tick", "at": at}), false);
                let param = param.map_or(format!("s{i}"), |p| format!("r{p}"));
                json!({"type": "send", "at": at, "number": number(*n), "contact": contact(*c), "message": template_message(template % TEMPLATES.len(), param)})
            }
            Action::SendText {
                number: n,
                contact: c,
                text,
            } => {
                push(json!({"type": "tick", "at": at}), false);
                let text = text.map_or(format!("Reply {i}"), |p| format!("Same reply {p}"));
                json!({"type": "send", "at": at, "number": number(*n), "contact": contact(*c), "message": {"kind": "text", "text": text}})
            }
            Action::CheckSend {
                number: n,
                contact: c,
                template,
            } => {
                push(json!({"type": "tick", "at": at}), false);
                json!({"type": "check_send", "at": at, "number": number(*n), "contact": contact(*c), "message": template_message(template % TEMPLATES.len(), format!("s{i}"))})
            }
            Action::TemplateQuality {
                business: b,
                template,
                quality,
            } => {
                json!({"type": "template_quality", "at": at, "business": business(*b), "name": TEMPLATES[template % TEMPLATES.len()].0, "language": "en", "quality": quality})
            }
            Action::TemplateCategory {
                business: b,
                template,
                category,
            } => {
                let category = ["marketing", "utility", "authentication"][category % 3];
                json!({"type": "template_category", "at": at, "business": business(*b), "name": TEMPLATES[template % TEMPLATES.len()].0, "language": "en", "category": category})
            }
            Action::TemplateComponents {
                business: b,
                template,
                edited,
            } => {
                let (name, _, body, edited_body) = TEMPLATES[template % TEMPLATES.len()];
                let body = if *edited { edited_body } else { body };
                json!({"type": "template_components", "at": at, "business": business(*b), "name": name, "language": "en", "body": body})
            }
            Action::TemplateStatus {
                business: b,
                template,
                status,
                until_secs,
            } => {
                let mut line = json!({"type": "template_status", "at": at, "business": business(*b), "name": TEMPLATES[template % TEMPLATES.len()].0, "language": "en", "status": status});
                if let Some(until) = until(*until_secs) {
                    line["until"] = json!(until);
                }
                line
            }
            Action::EditTemplate {
                business: b,
                template,
            } => {
                let (name, _, _, edited) = TEMPLATES[template % TEMPLATES.len()];
                json!({"type": "edit_template", "at": at, "business": business(*b), "name": name, "language": "en", "body": edited})
            }
            Action::NumberQuality { number: n, quality } => {
                json!({"type": "number_quality", "at": at, "number": number(*n), "quality": quality})
            }
            Action::NumberRestriction {
                number: n,
                scope,
                until_secs,
            } => {
                let mut line = json!({"type": "number_restriction", "at": at, "number": number(*n), "scope": scope});
                if let Some(until) = until(*until_secs) {
                    line["until"] = json!(until);
                }
                line
            }
            Action::RestrictionLifted { number: n } => {
                json!({"type": "restriction_lifted", "at": at, "number": number(*n)})
            }
            Action::MessagingLimit { number: n, level } => {
                let limit = if *level < level_count {
                    levels[*level].clone()
                } else {
                    json!(7777) // not a level: an error that changes nothing
                };
                json!({"type": "messaging_limit", "at": at, "number": number(*n), "limit": limit})
            }
            Action::Tick => json!({"type": "tick", "at": at}),
        };
        push(line, step.checkpoint);
    }

    // Usage of every month the run touched, per number and per business (property 4).
    let at_end = instant(latest);
    let mut months = vec![month_key(start)];
    while *months.last().expect("non-empty") < month_key(latest) {
        let m = *months.last().expect("non-empty");
        months.push(if m % 100 == 12 { m + 89 } else { m + 1 });
    }
    for month in months {
        for (number, _) in &numbers {
            push(
                json!({"type": "query_usage", "at": at_end, "number": number, "month": month_text(month)}),
                false,
            );
        }
        for business in &businesses {
            push(
                json!({"type": "query_usage", "at": at_end, "business": business, "month": month_text(month)}),
                false,
            );
        }
    }
    Rendered {
        header,
        lines,
        checkpoints,
    }
}

/// JSON merge, objects key by key (as the policy overrides are merged).
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                match base.get_mut(key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (slot, value) => *slot = value.clone(),
    }
}

// ---- running -------------------------------------------------------------------------------

/// One input line and what the engine answered.
struct Record {
    input: Value,
    /// The result line first, then one line per effect.
    out: Vec<Value>,
    /// The engine's clock after the line, in unix ms.
    clock_ms: i64,
}

impl Record {
    fn kind(&self) -> &str {
        self.input["type"].as_str().unwrap_or_default()
    }
    fn result(&self) -> &Value {
        &self.out[0]
    }
    fn effects(&self) -> &[Value] {
        &self.out[1..]
    }
    fn is_decision(&self) -> bool {
        matches!(self.kind(), "send" | "check_send") && self.result()["type"] == "decision"
    }
    fn allowed(&self) -> bool {
        self.result()["verdict"] == "allowed"
    }
    fn template_name(&self) -> Option<&str> {
        let message = &self.input["message"];
        (message["kind"] == "template").then(|| message["name"].as_str().unwrap_or_default())
    }
    fn str_field(&self, key: &str) -> String {
        self.input[key].as_str().unwrap_or_default().to_owned()
    }
}

fn parse_lines(lines: Vec<String>) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("engine output is JSON"))
        .collect()
}

fn run(r: &Rendered) -> Vec<Record> {
    let mut engine = Engine::new(r.policy());
    r.lines
        .iter()
        .map(|line| {
            let out = parse_lines(engine.handle_json(line));
            Record {
                input: serde_json::from_str(line).expect("rendered lines are JSON"),
                out,
                clock_ms: engine.clock().unix_millis(),
            }
        })
        .collect()
}

/// Number → business, from the `register_number` lines.
fn businesses_by_number(records: &[Record]) -> HashMap<String, String> {
    records
        .iter()
        .filter(|r| r.kind() == "register_number")
        .map(|r| (r.str_field("number"), r.str_field("business")))
        .collect()
}

fn fail(r: &Rendered, index: usize, records: &[Record], why: String) -> String {
    let rec = &records[index];
    format!(
        "{why}\n  at line {} (1-based, after the header): {}\n  engine said: {}\n--- the case as a scenario ---\n{}",
        index + 1,
        rec.input,
        rec.out
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n               "),
        r.jsonl()
    )
}

// ---- property 1: limits ----------------------------------------------------------------

/// `None` is unlimited.
fn limit_value(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn check_limits(r: &Rendered, records: &[Record]) -> Result<(), String> {
    // Limit owner of each number and the limit in force per owner, from the setup queries
    // and then `limit_changed` effects only.
    let mut owner_of: HashMap<String, String> = HashMap::new();
    let mut limit: HashMap<String, Option<u64>> = HashMap::new();
    // Owner → business-initiated allowed sends (contact, instant), in order.
    let mut sends: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for (i, rec) in records.iter().enumerate() {
        let err = |why: String| Err(fail(r, i, records, why));
        if rec.kind() == "query_limit" && !owner_of.contains_key(&rec.str_field("number")) {
            let owner = rec.result()["owner"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            owner_of.insert(rec.str_field("number"), owner.clone());
            limit
                .entry(owner)
                .or_insert_with(|| limit_value(&rec.result()["limit"]));
        }
        if rec.kind() == "send" && rec.is_decision() {
            let number = rec.str_field("number");
            let contact = rec.str_field("contact");
            let owner = owner_of[&number].clone();
            let now = rec.clock_ms;
            let owner_sends = sends.entry(owner.clone()).or_default();
            let in_period = |s: i64| s + PERIOD_MS > now;
            let counted: BTreeSet<String> = owner_sends
                .iter()
                .filter(|(_, s)| in_period(*s))
                .map(|(c, _)| c.clone())
                .collect();
            let already = counted.contains(&contact);
            let business = rec.result()["initiated_by"] == "business";
            let consumed = rec.result()["consumed_limit_slot"] == true;
            let in_force = limit[&owner];
            if rec.allowed() && business {
                if consumed == already {
                    return err(format!(
                        "consumed_limit_slot is {consumed} but the contact {} counted in the last 24h of owner {owner}",
                        if already { "is already" } else { "is not" }
                    ));
                }
                let used_after = counted.len() as u64 + u64::from(!already);
                if let (true, Some(max)) = (consumed, in_force) {
                    if used_after > max {
                        return err(format!(
                            "{used_after} unique business-initiated contacts of {owner} in (t-24h, t] but the limit in force is {max}"
                        ));
                    }
                }
                owner_sends.push((contact, now));
            }
            if let Some(denial) = rec.result().get("denial") {
                if denial["reason"] == "limit_reached" {
                    // A contact's latest send is what keeps it counted: the next slot frees
                    // when enough contacts have left the period for the count to fall below
                    // the limit (the one whose latest send is oldest, unless the limit was
                    // lowered below the count).
                    let mut latest: HashMap<&str, i64> = HashMap::new();
                    for (c, s) in owner_sends.iter().filter(|(_, s)| in_period(*s)) {
                        latest.insert(c, *s);
                    }
                    let mut leaving: Vec<i64> = latest.values().copied().collect();
                    leaving.sort_unstable();
                    // When the count falls below the limit `max` (`None`: unlimited).
                    let frees_under = |max: Option<u64>| {
                        let must_leave =
                            max.map_or(0, |max| (counted.len() as u64 + 1).saturating_sub(max));
                        leaving
                            .get(must_leave.saturating_sub(1) as usize)
                            .map(|s| s + PERIOD_MS)
                    };
                    let frees_at = frees_under(in_force).map(instant);
                    let expected = json!({
                        "limit": in_force,
                        "used": counted.len(),
                        "next_slot_at": frees_at,
                    });
                    let actual = json!({
                        "limit": denial["limit"],
                        "used": denial["used"],
                        "next_slot_at": denial["next_slot_at"],
                    });
                    // Or earlier: the upgrade the engine expects by then (§7), when the
                    // next level has room.
                    let by_upgrade = actual["next_slot_at"] != expected["next_slot_at"]
                        && actual["limit"] == expected["limit"]
                        && actual["used"] == expected["used"]
                        && upgrade_frees(
                            records,
                            i,
                            &owner,
                            &denial["next_slot_at"],
                            frees_at,
                            frees_under,
                        );
                    if already
                        || in_force.is_none_or(|max| (counted.len() as u64) < max)
                        || (expected != actual && !by_upgrade)
                    {
                        return err(format!(
                            "limit_reached does not match the model: expected {expected} (contact already counted: {already})"
                        ));
                    }
                }
            }
        }
        for effect in rec.effects() {
            if effect["effect"] == "limit_changed" {
                let owner = effect["owner"].as_str().unwrap_or_default().to_owned();
                let before = limit.get(&owner).copied();
                if before != Some(limit_value(&effect["from"])) {
                    return err(format!(
                        "limit_changed from {} but the model has {before:?} for {owner}",
                        effect["from"]
                    ));
                }
                limit.insert(owner, limit_value(&effect["to"]));
            }
        }
    }
    Ok(())
}

/// Whether a refusal's `next_slot_at` (`slot`) earlier than the contacts leaving (`by_count`)
/// is an upgrade the engine expects: the owner's next `limit_changed` is an upgrade dated
/// `slot`, or upgrades before `slot` to levels still full lead to one dated `slot` or to a
/// level the count falls below at `slot` (`frees_under`, by a level's limit), or before
/// `slot` an input comes that may call the upgrade off or move it (a number's quality, a
/// provider limit or block, a failed send given back, another level change), or the log
/// ends first.
fn upgrade_frees(
    records: &[Record],
    from: usize,
    owner: &str,
    slot: &Value,
    by_count: Option<String>,
    frees_under: impl Fn(Option<u64>) -> Option<i64>,
) -> bool {
    let ms = |text: &str| Instant::parse_rfc3339(text).ok().map(Instant::unix_millis);
    let Some(slot_ms) = slot.as_str().and_then(ms) else {
        return false;
    };
    let by_count_ms = by_count.as_deref().and_then(ms);
    if by_count_ms.is_some_and(|t| t <= slot_ms) || slot_ms <= records[from].clock_ms {
        return false;
    }
    for rec in &records[from + 1..] {
        let may_call_off = matches!(
            rec.kind(),
            "number_quality" | "messaging_limit" | "message_status" | "number_restriction"
        );
        if may_call_off && rec.input["at"].as_str() < slot.as_str() {
            return true;
        }
        for effect in rec.effects() {
            if effect["effect"] == "limit_changed" && effect["owner"] == owner {
                if effect["reason"] != "upgrade" {
                    return false;
                }
                let at = effect["at"].as_str().and_then(ms);
                if &effect["at"] == slot || frees_under(limit_value(&effect["to"])) == Some(slot_ms)
                {
                    return true;
                }
                if at.is_none_or(|at| at > slot_ms) {
                    return false;
                }
                // An upgrade before the slot to a level still full: followed.
            }
        }
        if rec.clock_ms >= slot_ms {
            return false; // the slot's instant passed with no upgrade
        }
    }
    true
}

// ---- property 2: template status ----------------------------------------------------------

#[derive(Clone, Debug)]
struct TemplateModel {
    status: String,
    /// Disabled, and no provider approval since.
    disabled: bool,
    deleted: bool,
}

fn sendable(status: &str) -> bool {
    matches!(status, "approved" | "flagged")
}

/// `disabled_is_final`: also require that a disabled template is sent again only after a
/// provider approval (`approved`, `reinstated`, `unpaused`); without it the check is the
/// consistency of sends, refusals and the effect stream.
fn check_templates(
    r: &Rendered,
    records: &[Record],
    disabled_is_final: bool,
) -> Result<(), String> {
    let business_of = businesses_by_number(records);
    let mut templates: HashMap<(String, String), TemplateModel> = HashMap::new();
    for (i, rec) in records.iter().enumerate() {
        let err = |why: String| Err(fail(r, i, records, why));
        if rec.kind() == "register_template" && rec.result()["type"] == "ack" {
            templates.insert(
                (rec.str_field("business"), rec.str_field("name")),
                TemplateModel {
                    status: rec.str_field("status"),
                    disabled: false,
                    deleted: false,
                },
            );
        }
        if rec.is_decision() {
            if let Some(name) = rec.template_name() {
                let key = (
                    business_of[&rec.str_field("number")].clone(),
                    name.to_owned(),
                );
                let model = &templates[&key];
                let denial = rec.result().get("denial");
                let not_sendable = denial.filter(|d| d["reason"] == "template_not_sendable");
                let revived = disabled_is_final && model.disabled;
                if rec.allowed() && (revived || model.deleted || !sendable(&model.status)) {
                    return err(format!(
                        "template {key:?} was sent but the model says {model:?}"
                    ));
                }
                match not_sendable {
                    Some(d) if d["status"] != model.status.as_str() || sendable(&model.status) => {
                        return err(format!(
                            "template {key:?} refused as {} but the effects say {model:?}",
                            d["status"]
                        ));
                    }
                    None if !sendable(&model.status) => {
                        return err(format!(
                            "template {key:?} is {} per the effects but the send was not refused for it",
                            model.status
                        ));
                    }
                    _ => {}
                }
            }
        }
        for effect in rec.effects() {
            if effect["effect"] != "template_status_changed" {
                continue;
            }
            let key = (
                effect["business"].as_str().unwrap_or_default().to_owned(),
                effect["name"].as_str().unwrap_or_default().to_owned(),
            );
            let Some(model) = templates.get_mut(&key) else {
                return err(format!("template_status_changed for unknown {key:?}"));
            };
            if effect["from"] != model.status.as_str() {
                return err(format!(
                    "template_status_changed from {} but the previous effects left {key:?} {}",
                    effect["from"], model.status
                ));
            }
            let to = effect["to"].as_str().unwrap_or_default();
            if model.deleted {
                return err(format!("a deleted template {key:?} changed to {to}"));
            }
            model.status = to.to_owned();
            match to {
                "disabled" => model.disabled = true,
                "deleted" => model.deleted = true,
                // `approved`, `reinstated` and `unpaused` provider events all mean approved.
                "approved" if effect["reason"] == "provider" => model.disabled = false,
                // Classic: a recovery rated before the flag deadline, delivered after the
                // engine disabled the template at it, takes that disable back (scenario 267).
                "approved" if effect["from"] == "disabled" && effect["reason"] == "quality" => {
                    model.disabled = false
                }
                _ => {}
            }
        }
    }
    Ok(())
}

// ---- property 3: windows and who initiated -------------------------------------------------

fn check_windows(r: &Rendered, records: &[Record]) -> Result<(), String> {
    let mut last_inbound: HashMap<(String, String), i64> = HashMap::new();
    for (i, rec) in records.iter().enumerate() {
        let err = |why: String| Err(fail(r, i, records, why));
        let key = (rec.str_field("number"), rec.str_field("contact"));
        if rec.kind() == "inbound" && rec.result()["type"] == "ack" {
            let at = Instant::parse_rfc3339(rec.input["at"].as_str().unwrap_or_default())
                .expect("rendered instants parse")
                .unix_millis();
            let slot = last_inbound.entry(key.clone()).or_insert(at);
            *slot = (*slot).max(at);
        }
        if !rec.is_decision() {
            continue;
        }
        let open = last_inbound
            .get(&key)
            .is_some_and(|t| rec.clock_ms < t + PERIOD_MS);
        let by = &rec.result()["initiated_by"];
        let expected = if open { "customer" } else { "business" };
        if *by != expected {
            return err(format!(
                "initiated_by {by} but the window is {} (latest inbound {:?})",
                if open { "open" } else { "closed" },
                last_inbound.get(&key).map(|t| instant(*t))
            ));
        }
        if rec.allowed() && *by == "customer" && rec.result()["consumed_limit_slot"] != false {
            return err("a reply inside the window consumed a limit slot".into());
        }
        if rec.allowed() && rec.template_name().is_none() && !open {
            return err("a free-form message was allowed outside the window".into());
        }
        if !rec.allowed() && !rec.result()["billing"].is_null() {
            return err("a denied send carries billing".into());
        }
    }
    Ok(())
}

// ---- property 4: pricing ----------------------------------------------------------------

fn check_usage(r: &Rendered, records: &[Record]) -> Result<(), String> {
    let model = match r.policy().pricing.model {
        convstate::policy::PricingModel::PerMessage2025 => 2025,
        convstate::policy::PricingModel::PerMessage2026 => 2026,
        _ => return Ok(()), // conversation models: not this property
    };
    let business_of = businesses_by_number(records);
    // (number or business, YYYY-MM) → category → charged decisions.
    let mut charged: HashMap<(String, String), BTreeMap<String, u64>> = HashMap::new();
    for (i, rec) in records.iter().enumerate() {
        let err = |why: String| Err(fail(r, i, records, why));
        if rec.kind() == "send" && rec.is_decision() && rec.allowed() {
            let billing = &rec.result()["billing"];
            if billing["charge"] == "charged" {
                let category = billing["category"].as_str().unwrap_or_default().to_owned();
                let is_template = rec.template_name().is_some();
                if is_template == (category == "service") {
                    return err(format!(
                        "a {} charged as {category}",
                        if is_template {
                            "template"
                        } else {
                            "free-form message"
                        }
                    ));
                }
                if model == 2025 && !is_template {
                    return err("per-message 2025 charged a free-form message".into());
                }
                let month = month_text(month_key(rec.clock_ms));
                let number = rec.str_field("number");
                for of in [number.clone(), business_of[&number].clone()] {
                    *charged
                        .entry((of, month.clone()))
                        .or_default()
                        .entry(category.clone())
                        .or_default() += 1;
                }
            }
        }
        if rec.kind() == "query_usage" {
            let of = rec.result()["of"].as_str().unwrap_or_default().to_owned();
            let month = rec.result()["month"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let expected = charged.remove(&(of, month)).unwrap_or_default();
            let actual: BTreeMap<String, u64> = rec.result()["charged"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(u64::MAX)))
                        .filter(|(_, v)| *v != 0)
                        .collect()
                })
                .unwrap_or_default();
            if expected != actual {
                return err(format!(
                    "usage charged {actual:?} but the charged decisions were {expected:?}"
                ));
            }
        }
    }
    if let Some(((of, month), counts)) = charged.into_iter().next() {
        return Err(format!(
            "charged decisions {counts:?} of {of} in {month} never showed in a usage query\n{}",
            r.jsonl()
        ));
    }
    Ok(())
}

// ---- property 5: snapshots ----------------------------------------------------------------

/// Whether a line's effects put a template or a number into a flagged or paused state.
/// Matched on the text: parsing every line would double the cost of this property.
fn entered_flag_or_pause(out: &[String]) -> bool {
    out[1..].iter().any(|e| {
        e.contains(r#""effect":"number_flagged""#)
            || (e.contains(r#""effect":"template_status_changed""#)
                && (e.contains(r#""to":"flagged""#) || e.contains(r#""to":"paused""#)))
    })
}

/// Runs the case twice in lock step: once straight through, once through an engine that is
/// snapshotted and restored at the checkpoints (and after every flag or pause). Every
/// snapshot must round-trip byte for byte and both must answer every line identically.
/// Along the way, every `check_send` must leave the snapshot unchanged.
fn check_restores(r: &Rendered) -> Result<usize, String> {
    let mut straight = Engine::new(r.policy());
    let mut restored = Engine::new(r.policy());
    let mut restores = 0;
    for (i, line) in r.lines.iter().enumerate() {
        // `check_send` decides without recording anything: the state must not move.
        let before = line
            .contains(r#""type":"check_send""#)
            .then(|| straight.snapshot());
        let expected = straight.handle_json(line);
        if before.is_some_and(|b| b != straight.snapshot()) {
            return Err(format!(
                "line {}: check_send changed the engine's state: {line}\n--- case ---\n{}",
                i + 1,
                r.jsonl()
            ));
        }
        let actual = restored.handle_json(line);
        if expected != actual {
            return Err(format!(
                "line {}: {line}\n  straight: {expected:?}\n  restored: {actual:?}\n--- case ---\n{}",
                i + 1,
                r.jsonl()
            ));
        }
        if r.checkpoints[i] || entered_flag_or_pause(&expected) {
            let bytes = restored.snapshot();
            let back = Engine::restore(&bytes).map_err(|e| {
                format!(
                    "restore after line {} failed: {e}\n--- case ---\n{}",
                    i + 1,
                    r.jsonl()
                )
            })?;
            if back.snapshot() != bytes {
                return Err(format!(
                    "snapshot after line {} does not round-trip byte for byte\n--- case ---\n{}",
                    i + 1,
                    r.jsonl()
                ));
            }
            if back.policy() != straight.policy() {
                return Err(format!("policy changed by restore\n{}", r.jsonl()));
            }
            restored = back;
            restores += 1;
        }
    }
    if straight.snapshot() != restored.snapshot() {
        return Err(format!(
            "the restored engine's final snapshot differs from the straight run's\n--- case ---\n{}",
            r.jsonl()
        ));
    }
    Ok(restores)
}

// ---- the properties ------------------------------------------------------------------------

fn config() -> ProptestConfig {
    ProptestConfig {
        // 256 unless PROPTEST_CASES asks for more (for a longer local hunt).
        cases: ProptestConfig::default().cases.max(256),
        // Relative to the package root, where cargo runs tests.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/account_properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// §7: a limit caps the unique contacts of business-initiated messages in any moving 24h
    /// period; a contact counted once costs nothing more; refusals name the model's numbers.
    #[test]
    fn limit_never_exceeded_in_any_moving_24h(s in scenario()) {
        let r = render(&s, None);
        let records = run(&r);
        check_limits(&r, &records).map_err(TestCaseError::fail)?;
    }

    /// §5: only approved and flagged templates are sent, deleted ones never, every refusal
    /// names the status the effects led to, and every `template_status_changed` starts from
    /// the status the previous effects left.
    #[test]
    fn template_sends_follow_the_status_history(s in scenario()) {
        let r = render(&s, None);
        let records = run(&r);
        check_templates(&r, &records, false).map_err(TestCaseError::fail)?;
    }

    /// §5: a disabled template is never sent again unless the provider approves it again
    /// (`approved`, `reinstated` or `unpaused` after the disable).
    #[test]
    fn disabled_template_is_sent_again_only_after_provider_approval(s in scenario()) {
        let r = render(&s, None);
        let records = run(&r);
        check_templates(&r, &records, true).map_err(TestCaseError::fail)?;
    }

    /// §2, §7: sends inside an open window are replies, and replies never take a limit slot.
    #[test]
    fn in_window_replies_never_consume_a_limit_slot(s in scenario()) {
        let r = render(&s, None);
        let records = run(&r);
        check_windows(&r, &records).map_err(TestCaseError::fail)?;
    }

    /// §11: under the per-message models the monthly usage counts exactly the charged
    /// decisions, by number, business, month and category.
    #[test]
    fn usage_counts_exactly_the_charged_decisions(
        s in scenario_with(prop::sample::select(&["cloud-2025", "cloud-2026-10"][..]))
    ) {
        let r = render(&s, None);
        let records = run(&r);
        check_usage(&r, &records).map_err(TestCaseError::fail)?;
    }

    /// Snapshots taken mid-flag, mid-pause and at random points restore to an engine that
    /// snapshots identically and answers the rest of the sequence identically.
    #[test]
    fn snapshots_round_trip_mid_flag_and_pause(s in scenario()) {
        let r = render(&s, None);
        check_restores(&r).map_err(TestCaseError::fail)?;
    }

    /// §12: a policy with overrides is part of the snapshot and comes back unchanged.
    #[test]
    fn restored_policy_keeps_its_overrides(
        s in scenario(),
        model in prop::sample::select(&["conversation", "conversation_categories", "per_message_2025", "per_message_2026"][..]),
        flag_days in 1u32..10,
        margin_mins in 0u32..30,
        cut in any::<prop::sample::Index>(),
    ) {
        let extra = json!({
            "pricing": {"model": model},
            "templates": {"flag_for": format!("{flag_days}d")},
            "window": {"safety_margin": format!("{margin_mins}m")},
        });
        let r = render(&s, Some(&extra));
        let expected = r.policy();
        prop_assert_eq!(&expected.limits.levels, &serde_json::from_value::<Vec<convstate::policy::LimitLevel>>(level_sets()[s.levels].clone()).unwrap());
        prop_assert_ne!(&expected, &Policy::preset(s.preset).unwrap(), "the overrides must change the preset");
        let mut engine = Engine::new(expected.clone());
        let stop = cut.index(r.lines.len() + 1);
        for line in &r.lines[..stop] {
            engine.handle_json(line);
        }
        let restored = Engine::restore(&engine.snapshot()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(restored.policy(), &expected);
        prop_assert_eq!(restored.policy(), engine.policy());
    }
}

/// The generator reaches the states the properties are about; a property over sequences
/// that never bind a limit or never pause a template could not fail.
#[test]
fn generated_cases_reach_limits_flags_pauses_and_charges() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen: BTreeMap<&str, u32> = BTreeMap::new();
    for _ in 0..200 {
        let s = scenario().new_tree(&mut runner).unwrap().current();
        let r = render(&s, None);
        let records = run(&r);
        for rec in &records {
            let denial = rec.result()["denial"]["reason"]
                .as_str()
                .unwrap_or_default();
            let mut note = |what| *seen.entry(what).or_default() += 1;
            if denial == "limit_reached" {
                note("limit_reached");
            }
            if rec.allowed() && rec.result()["consumed_limit_slot"] == true {
                note("slot_consumed");
            }
            if rec.allowed()
                && rec.result()["consumed_limit_slot"] == false
                && rec.result()["initiated_by"] == "business"
            {
                note("counted_contact_again");
            }
            if rec.result()["billing"]["charge"] == "charged" {
                note("charged");
            }
            for e in rec.effects() {
                match (e["effect"].as_str(), e["to"].as_str(), e["reason"].as_str()) {
                    (Some("template_status_changed"), Some("paused"), _) => note("paused"),
                    (Some("template_status_changed"), Some("flagged"), _) => note("flagged"),
                    (Some("template_status_changed"), Some("disabled"), _) => note("disabled"),
                    (Some("template_status_changed"), Some("deleted"), _) => note("deleted"),
                    (Some("limit_changed"), _, Some("upgrade")) => note("upgrade"),
                    (Some("limit_changed"), _, Some("downgrade")) => note("downgrade"),
                    (Some("number_flagged"), _, _) => note("number_flagged"),
                    _ => {}
                }
            }
        }
    }
    for what in [
        "limit_reached",
        "slot_consumed",
        "counted_contact_again",
        "charged",
        "paused",
        "flagged",
        "disabled",
        "deleted",
        "upgrade",
        "downgrade",
        "number_flagged",
    ] {
        assert!(
            seen.get(what).copied().unwrap_or(0) >= 5,
            "generated cases reached {what} only {:?} times: {seen:?}",
            seen.get(what)
        );
    }
}

// ---- regressions ---------------------------------------------------------------------------

/// Feeds lines to a fresh engine under `preset` and returns the last line's result.
fn last_result(preset: &str, lines: &[&str]) -> Value {
    let mut engine = Engine::with_preset(preset).expect("a preset");
    let mut last = Value::Null;
    for line in lines {
        let out = engine.handle_json(line);
        last = serde_json::from_str(&out[0]).expect("JSON");
        assert_ne!(last["type"], "error", "{line} -> {last}");
    }
    last
}

const SETUP: [&str; 3] = [
    r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
    r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"otp","language":"en","category":"authentication","body":"Your code is {{1}} for login.","status":"approved"}"#,
    r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000001"}"#,
];
const DISABLE: &str = r#"{"type":"template_status","at":"2026-11-02T08:00:00Z","business":"acme","name":"otp","language":"en","status":"disabled"}"#;
const SEND_OTP_0900: &str = r#"{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"otp","language":"en","params":["1"]}}"#;

fn assert_refused_as_disabled(result: &Value) {
    assert_eq!(result["verdict"], "denied", "{result}");
    assert_eq!(
        result["denial"]["reason"], "template_not_sendable",
        "{result}"
    );
    assert_eq!(result["denial"]["status"], "disabled", "{result}");
}

/// Control for the two regressions below: only a provider approval revives a disabled
/// template, and the model's notion of "revived" matches the engine's there.
#[test]
fn disabled_template_stays_refused_until_reinstated() {
    for preset in PRESETS {
        let mut lines = SETUP.to_vec();
        lines.push(DISABLE);
        lines.push(SEND_OTP_0900);
        assert_refused_as_disabled(&last_result(preset, &lines));
        lines.pop();
        lines.push(r#"{"type":"template_status","at":"2026-11-02T08:30:00Z","business":"acme","name":"otp","language":"en","status":"reinstated"}"#);
        lines.push(SEND_OTP_0900);
        assert_eq!(last_result(preset, &lines)["verdict"], "allowed");
    }
}

/// RULES.md §5: a disabled template can never be sent again unless an appeal reinstates it.
/// A provider `flagged` event on a disabled template makes it `flagged`, which is sendable.
#[test]
fn disabled_template_revived_by_provider_flag() {
    for preset in PRESETS {
        let mut lines = SETUP.to_vec();
        lines.push(DISABLE);
        lines.push(r#"{"type":"template_status","at":"2026-11-02T08:30:00Z","business":"acme","name":"otp","language":"en","status":"flagged"}"#);
        lines.push(SEND_OTP_0900);
        assert_refused_as_disabled(&last_result(preset, &lines));
    }
}

/// RULES.md §5: as above; a provider `paused` event with an end on a disabled template
/// becomes a timed pause, and the engine's own pause end then approves it.
#[test]
fn disabled_template_revived_by_provider_pause_ending() {
    for preset in PRESETS {
        let mut lines = SETUP.to_vec();
        lines.push(DISABLE);
        lines.push(r#"{"type":"template_status","at":"2026-11-02T08:00:00Z","business":"acme","name":"otp","language":"en","status":"paused","until":"2026-11-02T08:30:00Z"}"#);
        lines.push(SEND_OTP_0900);
        assert_refused_as_disabled(&last_result(preset, &lines));
    }
}
