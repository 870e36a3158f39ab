//! `convstate simulate`: realistic traffic from a seed, fed through the engine.
//!
//! The traffic of a help desk: customers write at human hours of their own time zone, in
//! short bursts; agents answer after a few minutes (sometimes not at all, which makes missed
//! chats) and sometimes end the chat; each business runs a daily marketing campaign to a
//! share of its contacts and sends utility templates (order updates) through the day; on the
//! second day one business's campaign template dips to low quality. Events are generated as
//! wire-format lines (the same bytes a host would log), one day at a time, and fed to the
//! engine in time order. ChaCha8 from `--seed` makes the stream identical on every run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;
use std::time::Instant as WallClock;

use convstate::{Engine, Instant, Policy};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

use crate::error::{report, CliError};
use crate::replay::Replayer;
use crate::{interactive, print_summary, SimulateArgs};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Monday 2026-11-02T00:00:00Z: the simulated traffic starts here.
const START_MS: i64 = 1_793_577_600_000;

/// Where contacts live: a phone prefix (with enough digits left for the index) and the UTC
/// offset their human hours follow.
const REGIONS: [(&str, i64); 5] = [
    ("+49152", 1), // Germany
    ("+5511", -3), // Brazil, São Paulo
    ("+91981", 5), // India (5:30, rounded: hours only matter for when people write)
    ("+1212", -5), // USA, New York: marketing templates are refused under cloud profiles
    ("+62812", 7), // Indonesia
];

const AGENT_REPLIES: [&str; 6] = [
    "Hi! Thanks for writing, let me check.",
    "Could you send me your order number?",
    "Thanks, I found it.",
    "It ships tomorrow morning.",
    "Anything else I can help with?",
    "You're welcome, have a nice day!",
];

struct Contact {
    address: String,
    business: u32,
    number: String,
    utc_offset_hours: i64,
    opted_in: bool,
}

/// `event`'s line with its `"type"` first, as the wire docs write events: a `Value`'s keys
/// come out sorted, and every reader of the wire is fastest with the type first.
fn type_first(mut event: serde_json::Value) -> String {
    let event_type = event
        .as_object_mut()
        .and_then(|fields| fields.remove("type"));
    let rest = event.to_string();
    match (event_type, rest.strip_prefix('{')) {
        (Some(event_type), Some("}")) => format!("{{\"type\":{event_type}}}"),
        (Some(event_type), Some(fields)) => format!("{{\"type\":{event_type},{fields}"),
        _ => rest,
    }
}

/// Events ordered by instant, then by generation order (so ties keep their causal order).
#[derive(Default)]
struct Timeline {
    heap: BinaryHeap<Reverse<(i64, u64, String)>>,
    generated: u64,
}

impl Timeline {
    fn push(&mut self, at_ms: i64, mut event: serde_json::Value) {
        let at = Instant::from_unix_millis(at_ms).expect("simulated instants are in range");
        event["at"] = json!(at.to_rfc3339());
        self.heap
            .push(Reverse((at_ms, self.generated, type_first(event))));
        self.generated += 1;
    }

    /// The next event before `until_ms`, earliest first.
    fn pop_before(&mut self, until_ms: i64) -> Option<String> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at < until_ms => {
                self.heap.pop().map(|Reverse((_, _, line))| line)
            }
            _ => None,
        }
    }
}

fn business_name(b: u32) -> String {
    format!("shop{b}")
}

fn business_number(b: u32, line: u32) -> String {
    // +1 555 01b bbbl: fictional North American numbers, unique per business and line.
    format!("+1555{:06}{line}", 100_000 + b)
}

struct Generator {
    rng: ChaCha8Rng,
    businesses: u32,
    contacts: Vec<Contact>,
}

impl Generator {
    fn new(args: &SimulateArgs) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
        let businesses = args.businesses;
        let contacts = (0..args.contacts)
            .map(|i| {
                let (prefix, utc_offset_hours) = REGIONS[rng.random_range(0..REGIONS.len())];
                let business = i % businesses;
                Contact {
                    address: format!("{prefix}{:07}", i),
                    business,
                    number: business_number(business, rng.random_range(1..=2)),
                    utc_offset_hours,
                    opted_in: rng.random_bool(0.7),
                }
            })
            .collect();
        Generator {
            rng,
            businesses,
            contacts,
        }
    }

    /// Numbers, templates and consent, before the first day.
    fn setup(&mut self, timeline: &mut Timeline) {
        let at = START_MS;
        for b in 0..self.businesses {
            let business = business_name(b);
            let templates = [
                (
                    "follow_up",
                    "utility",
                    "Hello, we have an update on your request.",
                ),
                ("order_update", "utility", "Your order {{1}} has shipped."),
                (
                    "weekly_offer",
                    "marketing",
                    "Hi {{1}}, this week only: {{2}} off everything.",
                ),
            ];
            for (name, category, body) in templates {
                timeline.push(at, json!({"type":"register_template","business":business,"name":name,"language":"en","category":category,"body":body,"status":"approved","quality":"high"}));
            }
            for line in 1..=2 {
                timeline.push(at, json!({"type":"register_number","business":business,"number":business_number(b, line),"channel":"official","provider":"meta","default_template":{"name":"follow_up","language":"en"}}));
            }
        }
        for contact in &self.contacts {
            if contact.opted_in {
                timeline.push(at, json!({"type":"opt_in","business":business_name(contact.business),"contact":contact.address}));
            }
        }
    }

    fn day(&mut self, day: u32, timeline: &mut Timeline) {
        let day_start = START_MS + i64::from(day) * DAY_MS;
        for hour in 0..24 {
            timeline.push(day_start + hour * HOUR_MS, json!({"type":"tick"}));
        }
        for index in 0..self.contacts.len() {
            if self.rng.random_bool(0.25) {
                self.customer_session(index, day_start, timeline);
            }
            if self.rng.random_bool(0.03) {
                self.order_update(index, day_start, timeline);
            }
            if self.rng.random_bool(0.005) {
                let contact = &self.contacts[index];
                let at = day_start + self.rng.random_range(8 * HOUR_MS..20 * HOUR_MS);
                timeline.push(at, json!({"type":"user_preference","number":contact.number,"contact":contact.address,"value":"stop"}));
            }
        }
        for b in 0..self.businesses {
            self.campaign(b, day_start, timeline);
        }
        // The campaign template of the first business dips to low quality on the second day
        // and recovers the day after.
        if day == 1 {
            let quality = |q: &str| json!({"type":"template_quality","business":business_name(0),"name":"weekly_offer","language":"en","quality":q});
            timeline.push(day_start + 15 * HOUR_MS, quality("low"));
            timeline.push(day_start + DAY_MS + 9 * HOUR_MS, quality("high"));
        }
    }

    /// A customer writes a few messages at a human hour; an agent answers, or not.
    fn customer_session(&mut self, index: usize, day_start: i64, timeline: &mut Timeline) {
        let local_hour = self.rng.random_range(8..22);
        let contact = &self.contacts[index];
        let mut at = day_start
            + (local_hour - contact.utc_offset_hours) * HOUR_MS
            + self.rng.random_range(0..HOUR_MS);
        let (number, address) = (contact.number.clone(), contact.address.clone());
        let agent_answers = self.rng.random_bool(0.85);
        let messages: usize = self.rng.random_range(1..=4);
        let mut last_reply_at = at;
        for message in 0..messages {
            let kind = if self.rng.random_bool(0.1) {
                "image"
            } else {
                "text"
            };
            let mut inbound =
                json!({"type":"inbound","number":number,"contact":address,"kind":kind});
            if kind == "image" {
                inbound["size"] = json!(self.rng.random_range(50_000..3_000_000));
            }
            timeline.push(at, inbound);
            if agent_answers {
                at += self.rng.random_range(MINUTE_MS..8 * MINUTE_MS);
                // Agents follow a script, so a contact who writes again the same day may get
                // the same line twice: the duplicate rule (§10) refuses it.
                let text = AGENT_REPLIES[message.min(AGENT_REPLIES.len() - 1)];
                timeline.push(at, json!({"type":"send","number":number,"contact":address,"message":{"kind":"text","text":text}}));
                last_reply_at = at;
            }
            at += self.rng.random_range(MINUTE_MS / 2..5 * MINUTE_MS);
        }
        if agent_answers && self.rng.random_bool(0.4) {
            // The agent closes the chat within a minute of the last reply: less than ten
            // minutes after the contact's last message even when that reply was refused as a
            // duplicate, so the chat is still live (ending one that already ended idle is
            // refused, and counted under "rejected events").
            let at = last_reply_at + self.rng.random_range(10_000..MINUTE_MS);
            let status = if self.rng.random_bool(0.5) {
                "closed"
            } else {
                "pending"
            };
            timeline.push(at, json!({"type":"end_chat","number":number,"contact":address,"by":"agent","status":status}));
        }
    }

    /// A utility template (order shipped) at a random business hour.
    fn order_update(&mut self, index: usize, day_start: i64, timeline: &mut Timeline) {
        let at = day_start + self.rng.random_range(8 * HOUR_MS..18 * HOUR_MS);
        let order = format!("A-{}", self.rng.random_range(1000..99_999));
        let contact = &self.contacts[index];
        timeline.push(at, json!({"type":"send","number":contact.number,"contact":contact.address,"message":{"kind":"template","name":"order_update","language":"en","params":[order]}}));
    }

    /// The daily marketing campaign: a share of the business's contacts, one send every
    /// 100 ms from 10:00 UTC, through the business's first number.
    fn campaign(&mut self, b: u32, day_start: i64, timeline: &mut Timeline) {
        let mut at = day_start + 10 * HOUR_MS;
        let discount = format!("{}%", self.rng.random_range(1..=6) * 5);
        // Contact `i` belongs to business `i % businesses`: stepping reads only this
        // business's contacts, in the order a filter over all of them gave (scanning them
        // all for every business made a day cost businesses × contacts).
        let own = (b as usize..self.contacts.len()).step_by(self.businesses as usize);
        for contact in own.map(|i| &self.contacts[i]) {
            debug_assert_eq!(contact.business, b);
            if !self.rng.random_bool(0.4) {
                continue;
            }
            timeline.push(at, json!({"type":"send","number":business_number(b, 1),"contact":contact.address,"message":{"kind":"template","name":"weekly_offer","language":"en","params":["there", discount]}}));
            at += 100;
        }
    }
}

/// The first line of a `--write-events` file: a comment, which `replay` skips, saying how
/// the events were made and the policy flags that replay them to the same answers (the
/// events alone do not say which rules they were decided under).
fn events_header(args: &SimulateArgs, policy: &Policy) -> String {
    let mut flags = format!("--policy {}", policy.name);
    let overrides = policy.overrides();
    if !overrides.is_empty() {
        // Quoted for a POSIX shell: a ' inside is closed, escaped and reopened.
        let json = serde_json::Value::Object(overrides).to_string();
        flags.push_str(&format!(
            " --policy-overrides '{}'",
            json.replace('\'', r"'\''")
        ));
    }
    format!(
        "// convstate simulate --businesses {} --contacts {} --days {} --seed {}: replay with \
         {flags} for the same answers",
        args.businesses, args.contacts, args.days, args.seed
    )
}

pub fn run(args: &SimulateArgs) -> Result<(), CliError> {
    let engine = Engine::new(args.policy.or_default()?);
    let mut replayer = Replayer::new(engine);
    let mut generator = Generator::new(args);
    let mut timeline = Timeline::default();
    if let Some(path) = &args.write_events {
        args.policy
            .refuse_writing_over_overrides("--write-events", path)?;
    }
    let events_error = |source| CliError::Io {
        what: "cannot write",
        path: args
            .write_events
            .as_deref()
            .map(|path| path.display().to_string())
            .unwrap_or_default(),
        source,
    };
    let mut events_out = match &args.write_events {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|source| CliError::Io {
                what: "cannot create",
                path: path.display().to_string(),
                source,
            })?,
        )),
        None => None,
    };
    if let Some(out) = events_out.as_mut() {
        let header = events_header(args, replayer.engine.policy());
        writeln!(out, "{header}").map_err(events_error)?;
    }
    let progress = if interactive() {
        ProgressBar::new(u64::from(args.days))
    } else {
        ProgressBar::with_draw_target(Some(u64::from(args.days)), ProgressDrawTarget::hidden())
    };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} day {pos}/{len} {msg} [{elapsed_precise}]")
            .expect("the progress template is valid"),
    );
    generator.setup(&mut timeline);
    let mut engine_time = std::time::Duration::ZERO;
    let mut outputs = Vec::new();
    for day in 0..=args.days {
        // Events of the last day spill past midnight UTC (time zones, late replies): the extra
        // round feeds what is left.
        let until_ms = if day < args.days {
            generator.day(day, &mut timeline);
            START_MS + i64::from(day + 1) * DAY_MS
        } else {
            i64::MAX
        };
        let mut batch = Vec::new();
        while let Some(line) = timeline.pop_before(until_ms) {
            batch.push(line);
        }
        if let Some(out) = events_out.as_mut() {
            for line in &batch {
                writeln!(out, "{line}").map_err(events_error)?;
            }
        }
        let started = WallClock::now();
        for line in &batch {
            outputs.clear();
            if let Err(malformed) = replayer.feed(line, &mut outputs) {
                // Generated lines are well-formed; those the core does not know yet (events of
                // a newer wire schema) are counted, as `replay --keep-going` does.
                replayer.skip_malformed(&malformed);
            }
        }
        engine_time += started.elapsed();
        if day < args.days {
            progress.inc(1);
            progress.set_message(format!("{} events", replayer.summary.events));
        }
    }
    progress.finish_and_clear();
    if let Some(mut out) = events_out {
        out.flush().map_err(events_error)?;
    }
    let fed = replayer.summary.events + replayer.summary.malformed_lines_skipped;
    let seconds = engine_time.as_secs_f64();
    // Timings vary from run to run; they go to standard error so that standard output (the
    // summary) is the same for the same seed.
    report(format_args!(
        "convstate: replayed {fed} events in {seconds:.3} s ({:.0} events/s)",
        fed as f64 / seconds.max(1e-9)
    ));
    print_summary(&replayer.summary, args.summary_format)
}
