//! Feeding wire-format lines through the engine, line by line, with the outputs the core's
//! JSON door gives and a tally for the summary.

use convstate::{wire, Engine, Error, Event, Output};

use crate::locate;
use crate::summary::Summary;

/// An engine plus the tally of everything it answered.
#[derive(Debug)]
pub struct Replayer {
    /// The engine being fed.
    pub engine: Engine,
    /// What happened so far.
    pub summary: Summary,
}

/// A line that does not decode: the engine was not touched.
#[derive(Debug)]
pub struct Malformed {
    /// The core's error, for the output's `error` line.
    pub error: Error,
    /// Which field is wrong and what was expected, for people.
    pub problem: String,
}

/// Whether a line carries no event: blank lines and `//` comments are skipped, as the
/// core's replay example does, so hand-written logs can be annotated.
pub fn is_skippable(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with("//")
}

impl Replayer {
    /// A replayer around `engine`.
    pub fn new(engine: Engine) -> Replayer {
        Replayer {
            engine,
            summary: Summary::default(),
        }
    }

    /// Applies one line and appends its output lines (the result line, then one line per
    /// effect) to `out`: exactly what [`Engine::handle_json`] returns for it.
    pub fn feed(&mut self, line: &str, out: &mut Vec<String>) -> Result<(), Malformed> {
        let event = wire::decode_event(line).map_err(|error| Malformed {
            problem: locate::describe(line, &error),
            error,
        })?;
        self.apply(event, out);
        Ok(())
    }

    /// Applies a decoded event; see [`Replayer::feed`].
    pub fn apply(&mut self, event: Event, out: &mut Vec<String>) {
        let input = self.summary.record_input(&event);
        let result = self.engine.handle(event);
        out.push(wire::encode_output(&result));
        match &result {
            Ok(Output::Decision(decision)) => self.summary.record_decision(&input, decision),
            Ok(_) => {}
            Err(error) => self.summary.record_rejection(error),
        }
        while let Some(effect) = self.engine.poll_effect() {
            out.push(wire::encode_effect(&effect));
            // The summary reads effects by their wire names, so that effect kinds the core
            // adds later are counted without changes here.
            let value = serde_json::to_value(&effect).expect("effects serialise infallibly");
            self.summary.record_effect(&value);
        }
    }

    /// Counts a malformed line that was skipped (`--keep-going`) and returns its output line.
    pub fn skip_malformed(&mut self, malformed: &Malformed) -> String {
        self.summary.malformed_lines_skipped += 1;
        wire::encode_error(&malformed.error)
    }
}
