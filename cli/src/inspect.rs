//! `convstate inspect`: read-only views of a saved engine.

use convstate::Instant;
use serde::Serialize;

use crate::error::CliError;
use crate::{state, InspectArgs};

/// What `inspect` shows without a filter.
#[derive(Serialize)]
struct Overview {
    policy: String,
    clock: Instant,
    conversations: usize,
    live_chats: usize,
    next_timer_at: Option<Instant>,
}

pub fn run(args: &InspectArgs) -> Result<(), CliError> {
    let mut engine = state::load_existing(&args.state)?;
    let at = match &args.at {
        // The wire format's two spellings of an instant, as the error message names them.
        Some(text) => match text.parse::<i64>() {
            Ok(millis) => Instant::from_unix_millis(millis),
            Err(_) => Instant::parse_rfc3339(text),
        }
        .map_err(|e| CliError::Usage(format!("--at: {e}")))?,
        None => engine.clock(),
    };
    let not_found = |e: convstate::Error| CliError::Data(e.to_string());
    let view = match (&args.contact, &args.number, &args.template) {
        (Some(contact), Some(number), _) => to_json(
            &engine
                .conversation(number, contact, at)
                .map_err(not_found)?,
        ),
        (None, Some(number), _) => to_json(&engine.number_at(number, at).map_err(not_found)?),
        (_, _, Some(template)) => {
            let business = args.business.as_deref().unwrap_or_default();
            to_json(
                &engine
                    .template_at(business, template, &args.language, at)
                    .map_err(not_found)?,
            )
        }
        // The overview counts what the state holds; no instant changes it.
        _ if args.at.is_some() => {
            return Err(CliError::Usage(
                "--at needs a view: --number (with or without --contact) or --template".into(),
            ))
        }
        _ => to_json(&Overview {
            policy: engine.policy().name.clone(),
            clock: engine.clock(),
            conversations: engine.conversation_count(),
            live_chats: engine.live_chat_count(),
            next_timer_at: engine.poll_timeout(),
        }),
    };
    crate::write_stdout(format!("{view}\n").as_bytes())
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("views serialise infallibly")
}
