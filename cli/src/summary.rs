//! The tally behind `--summary`: what the rules did to the traffic.
//!
//! Everything is counted from the engine's typed outputs by their wire names (denial
//! `reason`, billing `category`, `effect` type), so reasons, categories and effects that the
//! core adds later show up here without changes to the tool.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use convstate::{Billing, Decision, Duration, Effect, Engine, Error, Event, Instant, Output};
use serde::Serialize;
use serde_json::Value;

/// Counts of one kind of send decision.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct SendTally {
    /// Decisions that allowed the send.
    pub allowed: u64,
    /// Decisions that refused it.
    pub denied: u64,
    /// Refusals by `denial.reason`.
    pub denied_by_reason: BTreeMap<String, u64>,
    /// Allowed sends that were business-initiated (templates outside a window).
    pub business_initiated: u64,
    /// Retries with an idempotency key the engine remembered: answered with the first
    /// decision, changing nothing, so counted here and not as sends, charges or slots.
    pub repeated: u64,
}

/// Live chats.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct ChatTally {
    /// Chats started.
    pub started: u64,
    /// Chats ended, by reason (`agent`, `idle`, `rule`).
    pub ended_by_reason: BTreeMap<String, u64>,
    /// Chats ended by inactivity with no agent reply.
    pub missed: u64,
    /// Ended chats the agent answered, and their times to the first answer added up (ms).
    pub first_responses: u64,
    pub first_response_total_ms: u64,
    /// Agent replies in ended chats that answered a waiting contact (first ones included),
    /// and their response times added up (ms).
    pub responses: u64,
    pub response_total_ms: u64,
}

/// Tickets.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct TicketTally {
    /// Tickets opened.
    pub opened: u64,
    /// Status changes, keyed `from -> to`.
    pub status_changes: BTreeMap<String, u64>,
    /// Email tickets answered for the first time, and their times to the first answer
    /// added up (ms); counted as the replies are sent (`ticket_answered`). Email only, and
    /// named so: `opened` counts every channel's tickets, whose chats' responses are in
    /// `chats`.
    pub email_first_responses: u64,
    pub email_first_response_total_ms: u64,
    /// Email replies that answered a waiting contact (first ones included), and their
    /// response times added up (ms).
    pub email_responses: u64,
    pub email_response_total_ms: u64,
    /// Email tickets closed while the contact waited unanswered.
    pub email_closed_unanswered: u64,
}

/// One change of a template's status, or of its category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateChange {
    /// `business/name/language`.
    pub template: String,
    /// Old status (or category).
    pub from: String,
    /// New status (or category).
    pub to: String,
    /// When.
    pub at: String,
    /// A status change's end of the new status: a pause's end, or a flag's disable
    /// deadline (the effect's `until`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// A status change's flag deadline in force after it: a flagged template's, or the one a
    /// pause keeps (what a `paused -> paused` change is about).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flagged_until: Option<String>,
}

impl TemplateChange {
    /// The change of a template named by its business, name and language, from `from` to
    /// `to` (a status or a category, by its wire name).
    fn new(
        template: [&String; 3],
        from: &impl std::fmt::Display,
        to: &impl std::fmt::Display,
        at: &Instant,
    ) -> Self {
        TemplateChange {
            template: template.map(String::as_str).join("/"),
            from: from.to_string(),
            to: to.to_string(),
            at: at.to_rfc3339(),
            until: None,
            flagged_until: None,
        }
    }
}

impl std::fmt::Display for TemplateChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} -> {} at {}",
            self.template, self.from, self.to, self.at
        )?;
        // A flagged template's `until` is its flag's deadline: said once, as the flag's.
        let until = self
            .until
            .as_ref()
            .filter(|&u| Some(u) != self.flagged_until.as_ref());
        match (until, &self.flagged_until) {
            (Some(end), Some(deadline)) => write!(f, " (until {end}; flagged until {deadline})"),
            (Some(end), None) => write!(f, " (until {end})"),
            (None, Some(deadline)) => write!(f, " (flagged until {deadline})"),
            (None, None) => Ok(()),
        }
    }
}

/// What a replay did, as counted from the engine's outputs.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Events that decoded and were handed to the engine.
    pub events: u64,
    /// Those events by wire `type`.
    pub events_by_type: BTreeMap<String, u64>,
    /// Earliest instant among the events.
    pub first_event_at: Option<Instant>,
    /// Latest instant among the events.
    pub last_event_at: Option<Instant>,
    /// Lines that did not decode and were skipped (`--keep-going`).
    pub malformed_lines_skipped: u64,
    /// Sends, dry runs and initiations decided (not refused, nor answered as a retry)
    /// that were dated before the engine's clock when they came
    /// (before an earlier line's instant): each decided at the clock, not at its own
    /// instant. A provider's report may come late (the engine places it by its own
    /// instant), but a host decides a send at its now, which no earlier input passed: a
    /// late one is a log not sorted by time.
    pub late_sends: u64,
    /// The input line of the first of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_late_send_line: Option<u64>,
    /// Delivery statuses that matched no send recorded under their `message_id` (their
    /// ack says `unmatched`): no delivery, no confirmed pricing. Many are a host recording
    /// sends under ids the provider does not echo (Meta echoes the send's id given as
    /// `biz_opaque_callback_data`).
    pub statuses_unmatched: u64,
    /// Events the engine rejected (unknown number, no live chat...), by error code.
    pub rejected_by_error: BTreeMap<String, u64>,
    /// The input line of each error code's first rejection (a webhook's line for its items):
    /// where to start looking, since an `error` output line does not say which input it
    /// answers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub first_rejected_line: BTreeMap<String, u64>,
    /// `send` and `initiate` decisions.
    pub sends: SendTally,
    /// `check_send` decisions (dry runs: nothing recorded).
    pub dry_runs: SendTally,
    /// Allowed sends and initiations that are charged, by category, as decided at send time.
    pub charges_by_category: BTreeMap<String, u64>,
    /// Sent messages the provider reported failed afterwards (`message_failed`): counted above
    /// as decided, while the engine's usage (`query_usage`) gives their charge back.
    pub sends_failed_after: u64,
    /// Charged sends that a failed allowance message's free slot made free afterwards
    /// (`message_repriced`): counted above as charged, as decided, while usage counts them
    /// free.
    pub sends_repriced_after: u64,
    /// Allowed sends and initiations that are free, by reason.
    pub free_by_reason: BTreeMap<String, u64>,
    /// Messaging-limit slots taken, by sending number.
    pub limit_slots_by_number: BTreeMap<String, u64>,
    /// Limit changes (`limit_changed` effects), with the effect's own fields.
    pub limit_changes: Vec<Value>,
    /// Live chats.
    pub chats: ChatTally,
    /// Tickets.
    pub tickets: TicketTally,
    /// Template status changes, in order.
    pub template_status_changes: Vec<TemplateChange>,
    /// Template category changes (the provider recategorized them), in order.
    pub template_category_changes: Vec<TemplateChange>,
    /// Every effect, by wire `effect` type.
    pub effects_by_type: BTreeMap<String, u64>,
    /// Items of webhook payloads (`--format meta-webhook`) not applied: `unrecognized`
    /// (unknown fields, types, values) and `skipped` (known, changing no state: messages
    /// delivered again among them).
    pub webhook_items: WebhookTally,
}

/// Items of webhook payloads that were not applied; their lines say why.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct WebhookTally {
    /// Items the reader did not know.
    pub unrecognized: u64,
    /// Items it knew and left alone.
    pub skipped: u64,
    /// Of the skipped, messages the engine had already taken, delivered again (the provider
    /// got no timely answer the first time: a sign of a slow or failing endpoint).
    pub redelivered: u64,
}

/// What the summary needs to remember about an input until its decision comes back.
#[derive(Debug)]
pub struct InputInfo {
    kind: &'static str,
    number: Option<String>,
    /// A retry the engine answers from its idempotency memory.
    repeat: bool,
    /// Dated before the engine's clock: the input line (0: none).
    late_on_line: Option<u64>,
}

impl InputInfo {
    /// Whether a decision for this input was made at the clock though the input was dated
    /// before it (a retry answered from memory was not decided again).
    pub fn decided_late(&self) -> bool {
        self.late_on_line.is_some() && !self.repeat
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    // Most keys are counted before: no allocation for those.
    match map.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}

impl Summary {
    /// Counts an input read from input line `line` (0: no line) before the engine sees it,
    /// when its clock was `clock`; `engine` tells whether it is a retry of an idempotency key
    /// it remembers.
    pub fn record_input(
        &mut self,
        event: &Event,
        engine: &Engine,
        clock: Instant,
        line: u64,
    ) -> InputInfo {
        let kind = event.type_name();
        self.events += 1;
        bump(&mut self.events_by_type, kind);
        let at = event.at();
        self.first_event_at = Some(self.first_event_at.map_or(at, |t| t.min(at)));
        self.last_event_at = Some(self.last_event_at.map_or(at, |t| t.max(at)));
        let (number, key) = match event {
            Event::Send(r) | Event::CheckSend(r) => (Some(&r.number), r.idempotency_key.as_ref()),
            Event::Initiate(r) => (Some(&r.number), r.idempotency_key.as_ref()),
            _ => (None, None),
        };
        let repeat = number
            .zip(key)
            .is_some_and(|(number, key)| engine.repeats_key(number, key, at));
        // By the engine's name for the number: one number however the input spells it.
        let number = number.map(|n| engine.number(n).map_or_else(|_| n.clone(), |v| v.number));
        InputInfo {
            kind,
            number,
            repeat,
            late_on_line: (at < clock).then_some(line),
        }
    }

    /// Counts a send decision.
    pub fn record_decision(&mut self, input: &InputInfo, decision: &Decision) {
        let dry_run = input.kind == "check_send";
        let tally = if dry_run {
            &mut self.dry_runs
        } else {
            &mut self.sends
        };
        if input.repeat {
            tally.repeated += 1;
            return;
        }
        if input.decided_late() {
            self.late_sends += 1;
            if let Some(line) = input.late_on_line.filter(|&line| line > 0) {
                self.first_late_send_line.get_or_insert(line);
            }
        }
        if let Some(reason) = decision.deny_reason() {
            tally.denied += 1;
            bump(&mut tally.denied_by_reason, reason.name());
            return;
        }
        tally.allowed += 1;
        if decision.initiated_by == convstate::Initiator::Business {
            tally.business_initiated += 1;
        }
        if dry_run {
            return;
        }
        match &decision.billing {
            Some(Billing::Charged { category, .. }) => {
                bump(&mut self.charges_by_category, &category.to_string())
            }
            Some(Billing::Free { why }) => bump(&mut self.free_by_reason, &why.to_string()),
            None => {}
        }
        if decision.consumed_limit_slot {
            let number = input.number.as_deref().unwrap_or("-");
            bump(&mut self.limit_slots_by_number, number);
        }
    }

    /// Counts what an applied input's ack tells.
    pub fn record_ack(&mut self, output: &Output) {
        if let Output::Ack {
            unmatched: true, ..
        } = output
        {
            self.statuses_unmatched += 1;
        }
    }

    /// Counts an input the engine rejected, read from input line `line` (0: no line).
    pub fn record_rejection(&mut self, error: &Error, line: u64) {
        bump(&mut self.rejected_by_error, error.code());
        if line > 0 {
            (self.first_rejected_line)
                .entry(error.code().to_owned())
                .or_insert(line);
        }
    }

    /// Counts an effect; `line` is its wire line.
    pub fn record_effect(&mut self, effect: &Effect, line: &str) {
        // Effect lines start with the line's type and the effect's name: the name is read
        // there, so that kinds the core adds later are counted without changes here. (Were
        // the lines to start otherwise, every effect would count as "-": the example day's
        // test counts effects by name.)
        let name = line
            .strip_prefix(r#"{"type":"effect","effect":""#)
            .and_then(|rest| rest.split_once('"'))
            .map_or("-", |(name, _)| name);
        bump(&mut self.effects_by_type, name);
        match effect {
            Effect::ChatStarted { .. } => self.chats.started += 1,
            Effect::TicketOpened { .. } => self.tickets.opened += 1,
            Effect::ChatEnded {
                reason,
                missed,
                first_response_after,
                responses,
                response_total,
                ..
            } => {
                bump(&mut self.chats.ended_by_reason, &reason.to_string());
                self.chats.missed += u64::from(*missed);
                if let Some(first) = first_response_after {
                    self.chats.first_responses += 1;
                    self.chats.first_response_total_ms += first.millis() as u64;
                }
                self.chats.responses += responses;
                self.chats.response_total_ms += response_total.map_or(0, |t| t.millis() as u64);
            }
            Effect::TicketStatusChanged {
                from,
                to,
                unanswered_since,
                ..
            } => {
                bump(&mut self.tickets.status_changes, &format!("{from} -> {to}"));
                self.tickets.email_closed_unanswered += u64::from(unanswered_since.is_some());
            }
            Effect::TicketAnswered { waited, first, .. } => {
                let waited = waited.millis() as u64;
                if *first {
                    self.tickets.email_first_responses += 1;
                    self.tickets.email_first_response_total_ms += waited;
                }
                self.tickets.email_responses += 1;
                self.tickets.email_response_total_ms += waited;
            }
            Effect::TemplateStatusChanged {
                business,
                name,
                language,
                from,
                to,
                at,
                until,
                flagged_until,
                ..
            } => self.template_status_changes.push(TemplateChange {
                until: until.map(Instant::to_rfc3339),
                flagged_until: flagged_until.map(Instant::to_rfc3339),
                ..TemplateChange::new([business, name, language], from, to, at)
            }),
            Effect::TemplateCategoryChanged {
                business,
                name,
                language,
                from,
                to,
                at,
                ..
            } => self.template_category_changes.push(TemplateChange::new(
                [business, name, language],
                from,
                to,
                at,
            )),
            Effect::MessageFailed { .. } => self.sends_failed_after += 1,
            Effect::MessageRepriced { .. } => self.sends_repriced_after += 1,
            Effect::LimitChanged { .. } => {
                if let Ok(Value::Object(mut fields)) = serde_json::to_value(effect) {
                    fields.remove("effect");
                    self.limit_changes.push(Value::Object(fields));
                }
            }
            _ => {}
        }
    }

    /// The summary as a table for people.
    pub fn to_table(&self) -> String {
        let mut table = Table::default();
        let span = match (self.first_event_at, self.last_event_at) {
            (Some(first), Some(last)) => {
                format!(" ({} .. {})", first.to_rfc3339(), last.to_rfc3339())
            }
            _ => String::new(),
        };
        table.row("events", format!("{}{span}", self.events));
        table.detail(&self.events_by_type);
        if self.malformed_lines_skipped > 0 {
            table.row("skipped lines", self.malformed_lines_skipped.to_string());
        }
        if self.late_sends > 0 {
            let first = (self.first_late_send_line)
                .map(|line| format!("; first on line {line}"))
                .unwrap_or_default();
            table.row(
                "late sends",
                format!(
                    "{} (dated before an earlier line, decided at the clock{first})",
                    self.late_sends
                ),
            );
        }
        let items = &self.webhook_items;
        // The table is printed by `--summary`, which writes the output lines only with
        // `--out`: the row says where the lines it points to are.
        if items.unrecognized + items.skipped > 0 {
            table.row(
                "webhook items",
                format!(
                    "not applied: unrecognized {}, skipped {}{} (their output lines, which \
                     --out writes, say why)",
                    items.unrecognized,
                    items.skipped,
                    match items.redelivered {
                        0 => String::new(),
                        n => format!(", of them {n} messages delivered again"),
                    }
                ),
            );
        }
        if self.statuses_unmatched > 0 {
            table.row(
                "unmatched statuses",
                format!(
                    "{} (no send recorded under their message_id: no delivery, no confirmed \
                     pricing; record sends under the id the provider echoes, Meta's \
                     biz_opaque_callback_data)",
                    self.statuses_unmatched
                ),
            );
        }
        if !self.rejected_by_error.is_empty() {
            let rejected: u64 = self.rejected_by_error.values().sum();
            table.row("rejected events", rejected.to_string());
            table.detail_noting(&self.rejected_by_error, |code| {
                self.first_rejected_line
                    .get(code)
                    .map(|line| format!("  (first on line {line})"))
                    .unwrap_or_default()
            });
        }
        table.sends("sends", &self.sends);
        if self.dry_runs.allowed + self.dry_runs.denied + self.dry_runs.repeated > 0 {
            table.sends("dry runs", &self.dry_runs);
        }
        let charged: u64 = self.charges_by_category.values().sum();
        table.row("charged", charged.to_string());
        table.detail(&self.charges_by_category);
        let free: u64 = self.free_by_reason.values().sum();
        table.row("free", free.to_string());
        table.detail(&self.free_by_reason);
        // A row of its own, after both: a failed send may have been charged or free, and
        // listed under `charged` a free one read as a charge.
        if self.sends_failed_after > 0 {
            table.row("failed after send", self.sends_failed_after.to_string());
            table.line(
                "counted above as decided; usage (query_usage) gives back the charge of those \
                 charged"
                    .to_owned(),
            );
        }
        if self.sends_repriced_after > 0 {
            table.row("free after send", self.sends_repriced_after.to_string());
            table.line(
                "counted above as charged; a failed message's allowance slot went to them, and \
                 usage counts them free"
                    .to_owned(),
            );
        }
        let slots: u64 = self.limit_slots_by_number.values().sum();
        table.row("limit slots used", slots.to_string());
        table.detail(&self.limit_slots_by_number);
        table.row("limit changes", self.limit_changes.len().to_string());
        for change in &self.limit_changes {
            // As the template changes read: `shop1: 250 -> 2000 at ... (upgrade)`.
            let field = |key: &str| match &change[key] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            table.line(format!(
                "{}: {} -> {} at {} ({})",
                field("owner"),
                field("from"),
                field("to"),
                field("at"),
                field("reason")
            ));
        }
        let ended: u64 = self.chats.ended_by_reason.values().sum();
        table.row(
            "chats",
            format!(
                "started {}, ended {ended}, missed {}",
                self.chats.started, self.chats.missed
            ),
        );
        table.line(responses_line(
            (
                self.chats.first_responses,
                self.chats.first_response_total_ms,
            ),
            (self.chats.responses, self.chats.response_total_ms),
        ));
        table.detail(&self.chats.ended_by_reason);
        table.row("tickets opened", self.tickets.opened.to_string());
        // Email tickets only (a chat's responses are the chats' line): shown when there are
        // some, so a WhatsApp log's summary reads as before.
        if self.tickets.email_responses > 0 || self.tickets.email_closed_unanswered > 0 {
            let tickets = &self.tickets;
            table.line(format!(
                "email {}, closed unanswered {}",
                responses_line(
                    (
                        tickets.email_first_responses,
                        tickets.email_first_response_total_ms
                    ),
                    (tickets.email_responses, tickets.email_response_total_ms),
                ),
                tickets.email_closed_unanswered,
            ));
        }
        table.detail(&self.tickets.status_changes);
        table.row(
            "template changes",
            self.template_status_changes.len().to_string(),
        );
        for change in &self.template_status_changes {
            table.line(change.to_string());
        }
        if !self.template_category_changes.is_empty() {
            table.row(
                "templates recategorized",
                self.template_category_changes.len().to_string(),
            );
            for change in &self.template_category_changes {
                table.line(change.to_string());
            }
        }
        table.row(
            "effects",
            self.effects_by_type.values().sum::<u64>().to_string(),
        );
        table.detail(&self.effects_by_type);
        table.text
    }
}

/// A two-column text table: a label column, then values; detail lines indented under them.
#[derive(Default)]
struct Table {
    text: String,
}

const LABEL_WIDTH: usize = 18;

impl Table {
    /// A label as long as the column or longer (`templates recategorized`) gets one space
    /// before its value, which padding alone ran into it (`templates recategorized1`).
    fn row(&mut self, label: &str, value: String) {
        let width = LABEL_WIDTH.max(label.chars().count() + 1);
        let _ = writeln!(self.text, "{label:<width$}{value}");
    }

    fn line(&mut self, value: String) {
        let _ = writeln!(self.text, "{:<LABEL_WIDTH$}  {value}", "");
    }

    /// One indented line per key, largest count first so the main reasons lead.
    fn detail(&mut self, counts: &BTreeMap<String, u64>) {
        self.detail_noting(counts, |_| String::new());
    }

    /// [`Table::detail`], each line followed by `note` of its key.
    fn detail_noting(&mut self, counts: &BTreeMap<String, u64>, note: impl Fn(&str) -> String) {
        let mut rows: Vec<(&String, &u64)> = counts.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
        for (key, count) in rows {
            self.line(format!("{key:<width$}  {count:>7}{}", note(key)));
        }
    }

    fn sends(&mut self, label: &str, tally: &SendTally) {
        let repeated = match tally.repeated {
            0 => String::new(),
            n => format!("; {n} idempotent retries answered with their first decision"),
        };
        self.row(
            label,
            format!(
                "allowed {} (business-initiated {}), denied {}{repeated}",
                tally.allowed, tally.business_initiated, tally.denied
            ),
        );
        self.detail(&tally.denied_by_reason);
    }
}

/// `first responses N (mean M), responses N (mean M)` of (count, total ms) pairs: a chats'
/// or an email tickets' line.
fn responses_line(first: (u64, u64), all: (u64, u64)) -> String {
    format!(
        "first responses {} (mean {}), responses {} (mean {})",
        first.0,
        mean(first.1, first.0),
        all.0,
        mean(all.1, all.0)
    )
}

/// The mean of `count` durations adding up to `total_ms`, to the second from a second up,
/// in days, hours, minutes and seconds (`2m8s`; `-` for none). A duration's own display
/// names one exact unit, which turned a mean of 2 min 8 s into `128s` beside a `2m`.
fn mean(total_ms: u64, count: u64) -> String {
    let Some(ms) = total_ms.checked_div(count) else {
        return "-".to_owned();
    };
    if ms < 1000 {
        return Duration::from_millis(ms as i64).to_string();
    }
    let mut seconds = (ms + 500) / 1000;
    let mut text = String::new();
    for (unit, length) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if seconds >= length {
            let _ = write!(text, "{}{unit}", seconds / length);
            seconds %= length;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{mean, Table, LABEL_WIDTH};

    #[test]
    fn a_label_as_long_as_the_column_is_kept_apart_from_its_value() {
        let mut table = Table::default();
        table.row("sends", "3".to_owned());
        table.row("templates recategorized", "1".to_owned());
        table.row(&"x".repeat(LABEL_WIDTH), "2".to_owned());
        let expected = format!(
            "sends{}3\ntemplates recategorized 1\n{} 2\n",
            " ".repeat(LABEL_WIDTH - 5),
            "x".repeat(LABEL_WIDTH)
        );
        assert_eq!(table.text, expected);
    }

    #[test]
    fn means_are_to_the_second_from_a_second_up() {
        assert_eq!(mean(0, 0), "-");
        assert_eq!(mean(1_500, 2), "750ms");
        assert_eq!(mean(32 * 60_000, 15), "2m8s");
        assert_eq!(mean(2_499, 1), "2s");
        assert_eq!(mean(2_500, 1), "3s");
        assert_eq!(mean(24 * 60_000, 12), "2m");
        assert_eq!(mean(59_499, 1), "59s");
        assert_eq!(mean(59_500, 1), "1m");
        assert_eq!(mean(3_600_000 + 5_000, 1), "1h5s");
        assert_eq!(mean(2 * 86_400_000 + 3_600_000 + 60_000, 1), "2d1h1m");
    }
}
