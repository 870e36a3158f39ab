//! Feeding wire-format lines through the engine, line by line, with the outputs the core's
//! JSON door gives and a tally for the summary.

use convstate::webhook::{outcome_lines, WebhookOutcome, WebhookReader};
use convstate::{wire, Engine, Error, Event, Output};

use crate::oddities::Oddities;
use crate::summary::Summary;

/// An engine plus the tally of everything it answered.
#[derive(Debug)]
pub struct Replayer {
    /// The engine being fed.
    pub engine: Engine,
    /// What happened so far.
    pub summary: Summary,
    /// What the log did that live traffic never would, to be told.
    pub oddities: Oddities,
    /// The number of the input line being fed (from 1; 0 when the inputs are no lines), so
    /// that the summary can say where a rejection was.
    pub line: u64,
}

/// A line that does not decode: the engine was not touched.
#[derive(Debug)]
pub struct Malformed {
    /// The core's error, for the output's `error` line (boxed: it is large, and rare).
    pub error: Box<Error>,
    /// Which field is wrong and what was expected, for people.
    pub problem: String,
}

impl From<Error> for Malformed {
    fn from(error: Error) -> Malformed {
        Malformed {
            // The core's problem names the field at fault, without the error's prefix.
            problem: match &error {
                Error::InvalidEvent { problem } => problem.clone(),
                other => other.to_string(),
            },
            error: Box::new(error),
        }
    }
}

impl Replayer {
    /// A replayer around `engine`.
    pub fn new(engine: Engine) -> Replayer {
        Replayer {
            engine,
            summary: Summary::default(),
            oddities: Oddities::default(),
            line: 0,
        }
    }

    /// Applies one line and appends its output lines (the result line, then one line per
    /// effect) to `out`: exactly what [`Engine::handle_json`] returns for it.
    pub fn feed(&mut self, line: &str, out: &mut Vec<String>) -> Result<(), Malformed> {
        let event = wire::decode_event(line)?;
        self.apply(event, out);
        Ok(())
    }

    /// Applies a decoded event; see [`Replayer::feed`].
    pub fn apply(&mut self, event: Event, out: &mut Vec<String>) {
        let clock = self.engine.clock();
        let input = (self.summary).record_input(&event, &self.engine, clock, self.line);
        self.oddities.observe(&event, clock, self.line);
        let result = self.engine.handle(event);
        out.push(wire::encode_output(&result));
        match &result {
            Ok(Output::Decision(decision)) => {
                self.summary.record_decision(&input, decision);
                if input.decided_late() {
                    self.oddities.late_send();
                }
            }
            Ok(output) => self.summary.record_ack(output),
            Err(error) => self.summary.record_rejection(error, self.line),
        }
        while let Some(effect) = self.engine.poll_effect() {
            // The summary reads effects by their wire names, so that effect kinds the core
            // adds later are counted without changes here.
            let line = wire::encode_effect(&effect);
            self.summary.record_effect(&effect, &line);
            out.push(line);
        }
    }

    /// Applies one line of a `--format meta-webhook` log and appends its output lines: a
    /// Meta webhook body gives one line per item (see [`convstate::webhook::outcome_lines`]);
    /// a line that is a wire event (an object with a `type` key: registrations, sends) is fed
    /// as in [`Replayer::feed`]. Items without a timestamp of their own take the engine's
    /// clock.
    pub fn feed_webhook(
        &mut self,
        line: &str,
        reader: &WebhookReader,
        out: &mut Vec<String>,
    ) -> Result<(), Malformed> {
        if is_wire_event(line) {
            return self.feed(line, out);
        }
        let received_at = self.engine.clock();
        // As a wire line's: the problem (`webhook $.entry: ...`) without the `invalid event:`
        // prefix, which the error line keeps.
        let outcomes = reader
            .handle(&mut self.engine, line.as_bytes(), received_at)
            .map_err(Malformed::from)?;
        for outcome in &outcomes {
            match outcome {
                WebhookOutcome::Applied {
                    event,
                    output,
                    effects,
                    ..
                } => {
                    (self.summary).record_input(event, &self.engine, received_at, self.line);
                    self.summary.record_ack(output);
                    self.oddities.observe(event, received_at, self.line);
                    for effect in effects {
                        self.summary
                            .record_effect(effect, &wire::encode_effect(effect));
                    }
                }
                WebhookOutcome::Failed { error, event, .. } => {
                    // An item whose event the engine refused counts among the events, as a
                    // wire line the engine refuses does.
                    if let Some(event) = event {
                        (self.summary).record_input(event, &self.engine, received_at, self.line);
                        self.oddities.observe(event, received_at, self.line);
                    }
                    self.summary.record_rejection(error, self.line)
                }
                WebhookOutcome::Unrecognized { .. } => self.summary.webhook_items.unrecognized += 1,
                WebhookOutcome::Skipped { event, .. } => {
                    // A message delivered again is an event read, as the same inbound on a
                    // wire line is; and its instant is the first sign of a log replayed into
                    // the state that holds it already (all its messages come again).
                    if let Some(event) = event {
                        (self.summary).record_input(event, &self.engine, received_at, self.line);
                        self.oddities.observe(event, received_at, self.line);
                        self.summary.webhook_items.redelivered += 1;
                    }
                    self.summary.webhook_items.skipped += 1
                }
            }
        }
        out.extend(outcome_lines(&outcomes));
        Ok(())
    }

    /// Counts a malformed line that was skipped (`--keep-going`) and returns its output line.
    pub fn skip_malformed(&mut self, malformed: &Malformed) -> String {
        self.summary.malformed_lines_skipped += 1;
        wire::encode_error(&malformed.error)
    }
}

/// Whether a line of a `--format meta-webhook` log is a wire event: an object with a `type`
/// key (a webhook body has none), whatever else it holds. Only the keys are read, so that
/// what the wire decoder refuses is refused there, with its own message: a byte-order mark
/// starting the line, a field the event does not have (an `object` key made the line a body
/// and dropped the event as `unrecognized`), a lone surrogate in a comment (any of these
/// made the line a body, "webhook object: missing").
fn is_wire_event(line: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Keys {
        #[serde(rename = "type")]
        kind: Option<serde::de::IgnoredAny>,
    }
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    // An object: a derived struct reads an array too, by position.
    line.trim_start().starts_with('{')
        && serde_json::from_str::<Keys>(line).is_ok_and(|keys| keys.kind.is_some())
}
