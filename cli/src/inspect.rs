//! `convstate inspect`: read-only views of a saved engine.

use std::collections::BTreeMap;

use convstate::time::{MAX_INSTANT_MS, MIN_INSTANT_MS};
use convstate::Instant;
use serde::Serialize;
use serde_json::Value;

use crate::error::CliError;
use crate::{state, InspectArgs};

/// What `inspect` shows without a filter.
#[derive(Serialize)]
struct Overview {
    policy: String,
    /// The fields the state's policy sets apart from its preset's, by path (a map key with a
    /// dot in it quoted), with the value in force (`{"chat.idle_timeout": "15m"}`): without
    /// them a state saved under `--policy-overrides` read as the bare preset. Absent when
    /// there are none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    policy_overrides: BTreeMap<String, Value>,
    clock: Instant,
    conversations: usize,
    live_chats: usize,
    next_timer_at: Option<Instant>,
}

pub fn run(args: &InspectArgs) -> Result<(), CliError> {
    // The overview counts what the state holds; no instant changes it.
    if args.at.is_some() && args.number.is_none() && args.template.is_none() {
        return Err(CliError::Usage(
            "--at needs a view: --number (with or without --contact) or --template".into(),
        ));
    }
    let asked_at = match args.at.as_deref() {
        Some(text) => Some((text, parse_at(text)?)),
        None => None,
    };
    let mut engine = state::load_existing(&args.state)?;
    let at = asked_at.map_or(engine.clock(), |(_, at)| at);
    // The core's refusals name the value, not the flag it came in: `refused(flag)` adds
    // the flag to a value that is no phone number or user id (a bad value, as clap's own
    // are: a usage error). One the state does not hold stays input it lacks, named with the
    // state file, as `business` names it: the value may well be in another state.
    let in_state = |problem: String| CliError::Data(format!("{}: {problem}", args.state.display()));
    let refused = |flag: &'static str| {
        move |e: convstate::Error| match (e, asked_at) {
            // The views refuse an instant before the clock: a state keeps no history.
            (convstate::Error::ViewBeforeClock { at, clock }, Some((text, _))) => {
                let given = match at.to_rfc3339() {
                    rfc3339 if rfc3339 == text => rfc3339,
                    rfc3339 => format!("{text} ({rfc3339})"),
                };
                CliError::Usage(format!(
                    "--at {given} is before the state's clock, {clock} (the latest instant of \
                     the events it has replayed): a state keeps no history, so it shows its \
                     clock or a later instant"
                ))
            }
            (
                mut e @ (convstate::Error::InvalidPhoneNumber { .. }
                | convstate::Error::InvalidUserId { .. }),
                _,
            ) => {
                // The flag names it here, where the core names the argument it reached.
                if let convstate::Error::InvalidPhoneNumber { field, .. }
                | convstate::Error::InvalidUserId { field, .. } = &mut e
                {
                    *field = None;
                }
                CliError::Usage(format!("{flag}: {e}"))
            }
            (other, _) => in_state(other.to_string()),
        }
    };
    let view = match (&args.contact, &args.number, &args.template) {
        (Some(contact), Some(number), _) => {
            // The number is looked up alone first: the conversation's refusal cannot say
            // which of the two it is about.
            engine.number_at(number, at).map_err(refused("--number"))?;
            let view = engine
                .conversation(number, contact, at)
                .map_err(refused("--contact"))?;
            // The core answers a contact it does not know with an empty conversation (a host
            // may ask before the contact writes); shown here, a mistyped contact read as a
            // real one with its window closed. One with a consent on record has no
            // conversation to show but that consent, which is shown.
            let known = view.opted_in
                || view.marketing_stopped
                || engine
                    .contacts(number)
                    .map_err(refused("--number"))?
                    .contains(&view.contact);
            if !known {
                return Err(in_state(format!(
                    "unknown contact {contact:?}: no conversation with {} and no opt-in or \
                     marketing stop on record",
                    view.number
                )));
            }
            to_json(&view)
        }
        (None, Some(number), _) => {
            to_json(&engine.number_at(number, at).map_err(refused("--number"))?)
        }
        (_, _, Some(template)) => {
            let business = args.business.as_deref().unwrap_or_default();
            to_json(
                &engine
                    .template_at(business, template, &args.language, at)
                    .map_err(refused("--template"))?,
            )
        }
        _ => to_json(&Overview {
            policy: engine.policy().name.clone(),
            policy_overrides: engine.policy().overridden_fields().into_iter().collect(),
            clock: engine.clock(),
            conversations: engine.conversation_count(),
            live_chats: engine.live_chat_count(),
            next_timer_at: engine.poll_timeout(),
        }),
    };
    crate::write_stdout(format!("{view}\n").as_bytes())
}

/// The instant of `--at`, in either of the wire format's spellings (RFC 3339 or integer unix
/// milliseconds), refused outside the range the engine accepts with that range in both.
fn parse_at(text: &str) -> Result<Instant, CliError> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let parsed = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // A number too long for i64 is out of range, not a malformed date.
        match text.parse::<i64>() {
            Ok(millis) => Instant::from_unix_millis(millis),
            Err(_) => return Err(out_of_range(text)),
        }
    } else {
        Instant::parse_rfc3339(text)
    };
    parsed.map_err(|e| match e {
        convstate::Error::InstantOutOfRange { .. } => out_of_range(text),
        other => CliError::Usage(format!("--at: {other}")),
    })
}

fn out_of_range(text: &str) -> CliError {
    let bound = |millis| {
        Instant::from_unix_millis(millis)
            .map_or_else(|_| format!("{millis} ms"), Instant::to_rfc3339)
    };
    let (min, max) = (bound(MIN_INSTANT_MS), bound(MAX_INSTANT_MS));
    CliError::Usage(format!(
        "--at {text}: outside the accepted range, {min} to {max} (unix milliseconds \
         {MIN_INSTANT_MS} to {MAX_INSTANT_MS})"
    ))
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("views serialise infallibly")
}
