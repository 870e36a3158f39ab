//! Errors: input the engine cannot act on. Every error leaves the engine's state unchanged.
//!
//! A *denied send* is not an error: it is a [`crate::Decision`]. Errors are for input that is
//! malformed, refers to something unknown, or cannot be restored.

use crate::template::TemplateProblem;

/// Broad families of errors, for bindings that map them to exception classes or codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Malformed input: a phone number, an instant, a JSON line, a template.
    InvalidInput,
    /// A number, business, template or chat that the engine does not know.
    NotFound,
    /// A policy name or override that does not exist or does not fit.
    Policy,
    /// A snapshot that cannot be restored.
    Snapshot,
    /// An internal capacity was reached.
    Capacity,
}

/// Everything that can go wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A phone number that is not 8–15 digits with an optional `+` or `00`.
    #[error("invalid phone number {input:?}{}: {problem}", in_field(.field))]
    InvalidPhoneNumber {
        /// The input as given (its first 64 characters and `…` when longer).
        input: String,
        /// What is wrong.
        problem: String,
        /// The field or argument it came in (`number`, `contact`), by its wire name: an
        /// event names several addresses, and the value alone leaves the host to guess
        /// which was refused. `None` where no field gave it (a saved state,
        /// `address::normalize_phone` called alone).
        field: Option<&'static str>,
    },
    /// An opaque user or group id that is empty, too long or has whitespace.
    #[error("invalid user id {input:?}{}: {problem}", in_field(.field))]
    InvalidUserId {
        /// The input as given (its first 64 characters and `…` when longer).
        input: String,
        /// What is wrong.
        problem: String,
        /// The field or argument it came in (`number`, `contact`, `group`, `user_id`), by
        /// its wire name; `None` where no field gave it.
        field: Option<&'static str>,
    },
    /// An instant that is not RFC 3339.
    #[error("invalid instant {input:?}: {problem}")]
    InvalidInstant {
        /// The input (its first 64 characters and `…` when longer).
        input: String,
        /// What is wrong.
        problem: String,
    },
    /// An instant outside years 1970..=9999.
    #[error("instant {millis} ms is outside the accepted range {min}..={max} (years 1970..=9999)")]
    InstantOutOfRange {
        /// The value given.
        millis: i64,
        /// Earliest accepted.
        min: i64,
        /// Latest accepted.
        max: i64,
    },
    /// A wire-format line that does not decode, or a typed call's argument out of its range
    /// (a month key).
    #[error("invalid event: {problem}")]
    InvalidEvent {
        /// What is wrong, with the field and what was expected.
        problem: String,
    },
    /// A view asked for an instant before the engine's clock. The engine keeps no history:
    /// what it held before its clock is gone (a window's earlier end, a flag since
    /// cleared), so a view of then would mix then and now.
    #[error(
        "view at {at} is before the engine's clock, {clock}: the engine keeps no history, so \
         a view shows its clock or a later instant"
    )]
    ViewBeforeClock {
        /// The instant asked for.
        at: crate::Instant,
        /// The engine's clock (the latest instant it has seen).
        clock: crate::Instant,
    },
    /// A template that breaks the rules of §5.
    #[error("invalid template {name:?} ({language}): {problem}")]
    InvalidTemplate {
        /// Template name.
        name: String,
        /// Template language.
        language: String,
        /// What is wrong.
        problem: TemplateProblem,
    },
    /// A request that makes no sense for the number's channel.
    #[error("{what} is not possible on the {channel} channel")]
    NotOnChannel {
        /// What was asked.
        what: &'static str,
        /// The channel.
        channel: crate::Channel,
    },
    /// An unknown policy preset.
    #[error("unknown policy {name:?}; known presets: {known}")]
    UnknownPolicy {
        /// The name given.
        name: String,
        /// The presets.
        known: String,
    },
    /// A policy (or an override of one) that does not fit the policy's schema, or an import
    /// under a policy other than the engine's.
    #[error("invalid policy: {problem}")]
    InvalidPolicy {
        /// What is wrong.
        problem: String,
    },
    /// A number that was never registered.
    #[error("unknown number {number:?}: register it first")]
    UnknownNumber {
        /// The number.
        number: String,
    },
    /// A number already registered to another business.
    #[error("number {number:?} belongs to business {owner:?}, not {business:?}")]
    NumberOwnedByOther {
        /// The number.
        number: String,
        /// Its business.
        owner: String,
        /// The business named in the request.
        business: String,
    },
    /// A business that was never registered.
    #[error("unknown business {business:?}")]
    UnknownBusiness {
        /// The business.
        business: String,
    },
    /// A template that was never registered.
    #[error("unknown template {name:?} ({language}) of business {business:?}")]
    UnknownTemplate {
        /// Business.
        business: String,
        /// Name.
        name: String,
        /// Language.
        language: String,
    },
    /// Ending a chat that is not live.
    #[error("no live chat between {number} and {contact}")]
    NoLiveChat {
        /// The number.
        number: String,
        /// The contact.
        contact: String,
    },
    /// A conversation id that names no conversation of this engine: its place here holds
    /// another conversation or none (an id another engine gave, or one given before this
    /// engine was rebuilt or restored, may).
    #[error("conversation id {id} names no conversation of this engine (ids are an engine's own: resolve it again with conversation_id after a restore or a business removal)")]
    UnknownConversation {
        /// The id, as `ConversationId::to_u64` gives it.
        id: u64,
    },
    /// Changing a ticket that does not exist.
    #[error("no ticket between {number} and {contact}")]
    NoTicket {
        /// The number.
        number: String,
        /// The contact.
        contact: String,
    },
    /// Changing a ticket that is no longer the conversation's current one.
    #[error("ticket {ticket} is not the current ticket between {number} and {contact} (the current one is {current})")]
    TicketNotCurrent {
        /// The number.
        number: String,
        /// The contact.
        contact: String,
        /// The ticket named.
        ticket: u64,
        /// The conversation's current ticket.
        current: u64,
    },
    /// A template whose status forbids editing.
    #[error("template {name:?} is {status} and cannot be edited: {why}")]
    TemplateNotEditable {
        /// Name.
        name: String,
        /// Its status.
        status: crate::TemplateStatus,
        /// Which rule forbids it.
        why: String,
    },
    /// Too many edits of an approved template.
    #[error("template {name:?} reached its edit limit ({max_edits} per {period}, one per {min_interval}); next edit allowed at {next_edit_at}")]
    TemplateEditLimit {
        /// Name.
        name: String,
        /// Edits allowed per period.
        max_edits: u32,
        /// The period.
        period: crate::Duration,
        /// Least time between edits.
        min_interval: crate::Duration,
        /// When the next edit is allowed.
        next_edit_at: crate::Instant,
    },
    /// A snapshot written by a format version this build does not read.
    #[error(
        "snapshot format version {found} is not supported (the newest this build reads is {supported})"
    )]
    UnsupportedSnapshotVersion {
        /// Version in the snapshot.
        found: u32,
        /// The newest version this build reads (and writes); it may read some earlier ones.
        supported: u32,
    },
    /// A snapshot that does not decode or is inconsistent.
    #[error("corrupt snapshot: {problem}")]
    CorruptSnapshot {
        /// What is wrong.
        problem: String,
    },
    /// A table reached its capacity.
    #[error("capacity exceeded: more than {limit} {what}")]
    CapacityExceeded {
        /// What ran out.
        what: &'static str,
        /// The capacity.
        limit: u64,
    },
}

impl ErrorKind {
    /// A stable snake_case name, used on the wire and by bindings.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Policy => "policy",
            ErrorKind::Snapshot => "snapshot",
            ErrorKind::Capacity => "capacity",
        }
    }
}

/// How many characters of an input an error quotes: enough to recognise it, and a 10 MB
/// input does not make a 10 MB message in every binding's exception or log line.
pub(crate) const QUOTED_CHARS: usize = 64;

impl Error {
    /// [`Error::NumberOwnedByOther`], the names as errors quote them.
    pub(crate) fn number_owned_by_other(number: &str, owner: &str, business: &str) -> Error {
        Error::NumberOwnedByOther {
            number: quoted(number),
            owner: quoted(owner),
            business: quoted(business),
        }
    }
}

/// ` in field "contact"` after an address an error quotes, or nothing when no field gave it.
fn in_field(field: &Option<&'static str>) -> String {
    field.map_or_else(String::new, |field| format!(" in field \"{field}\""))
}

/// `input` as an error quotes it: whole, or its first [`QUOTED_CHARS`] characters and `…`.
pub(crate) fn quoted(input: &str) -> String {
    match input.char_indices().nth(QUOTED_CHARS) {
        None => input.to_owned(),
        Some((end, _)) => format!("{}…", &input[..end]),
    }
}

/// A message of the JSON decoder with each value it quotes (between backticks or double
/// quotes) kept to [`QUOTED_CHARS`] characters: serde quotes the value at fault whole (a 10
/// MB enum value, say), and the rest of its message, the field and what was expected, is
/// what says what to fix.
pub(crate) fn shortened_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4096));
    let mut open: Option<char> = None;
    let mut quoted_chars = 0;
    let mut escaped = false;
    for c in message.chars() {
        match open {
            None => {
                if c == '`' || c == '"' {
                    open = Some(c);
                    quoted_chars = 0;
                }
                out.push(c);
            }
            Some(close) => {
                let ends = c == close && !escaped;
                escaped = close == '"' && c == '\\' && !escaped;
                if ends {
                    open = None;
                    out.push(c);
                    continue;
                }
                quoted_chars += 1;
                if quoted_chars <= QUOTED_CHARS {
                    out.push(c);
                } else if quoted_chars == QUOTED_CHARS + 1 {
                    out.push('…');
                }
            }
        }
    }
    out
}

impl Error {
    /// This error, when it refuses an address (a phone number or user id) that names no
    /// field yet, with `field` named: the engine's lookups know only the text, the event
    /// handler which field it came in. Cold: the lookups' success path is every input's.
    #[cold]
    #[inline(never)]
    pub(crate) fn in_field(self, field: &'static str) -> Error {
        match self {
            Error::InvalidPhoneNumber {
                input,
                problem,
                field: None,
            } => Error::InvalidPhoneNumber {
                input,
                problem,
                field: Some(field),
            },
            Error::InvalidUserId {
                input,
                problem,
                field: None,
            } => Error::InvalidUserId {
                input,
                problem,
                field: Some(field),
            },
            other => other,
        }
    }

    /// An input names both a contact and a group.
    pub(crate) fn contact_and_group() -> Error {
        Error::InvalidEvent {
            problem: "give either \"contact\" or \"group\", not both".into(),
        }
    }

    /// An input names both a contact and a group (`both`), or neither. Cold: built only
    /// for a refusal, out of the lookups every input makes.
    #[cold]
    #[inline(never)]
    pub(crate) fn not_one_recipient(both: bool) -> Error {
        if both {
            return Error::contact_and_group();
        }
        Error::InvalidEvent {
            problem: "missing field \"contact\" (or \"group\")".into(),
        }
    }

    /// A consent names a business and a number of another business.
    pub(crate) fn not_a_number_of(number: &str, business: &str) -> Error {
        Error::InvalidEvent {
            problem: format!("number {number} is not a number of business {business:?}"),
        }
    }

    /// A number registered with a provider id (Meta `phone_number_id`) that another number
    /// of the engine holds.
    pub(crate) fn phone_number_id_taken(id: &str) -> Error {
        Error::InvalidEvent {
            problem: format!("phone_number_id {id:?} already belongs to another number"),
        }
    }

    /// An imported number's provider id is held by a number of the engine.
    pub(crate) fn phone_number_id_imported_twice(id: &str) -> Error {
        Error::InvalidEvent {
            problem: format!("phone_number_id {id:?} already belongs to a number of this engine"),
        }
    }

    /// The family of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidPhoneNumber { .. }
            | Error::InvalidUserId { .. }
            | Error::InvalidInstant { .. }
            | Error::InstantOutOfRange { .. }
            | Error::InvalidEvent { .. }
            | Error::ViewBeforeClock { .. }
            | Error::InvalidTemplate { .. }
            | Error::NotOnChannel { .. }
            | Error::NumberOwnedByOther { .. }
            | Error::TemplateNotEditable { .. }
            | Error::TemplateEditLimit { .. } => ErrorKind::InvalidInput,
            Error::UnknownNumber { .. }
            | Error::UnknownBusiness { .. }
            | Error::UnknownTemplate { .. }
            | Error::NoLiveChat { .. }
            | Error::UnknownConversation { .. }
            | Error::NoTicket { .. }
            | Error::TicketNotCurrent { .. } => ErrorKind::NotFound,
            Error::UnknownPolicy { .. } | Error::InvalidPolicy { .. } => ErrorKind::Policy,
            Error::UnsupportedSnapshotVersion { .. } | Error::CorruptSnapshot { .. } => {
                ErrorKind::Snapshot
            }
            Error::CapacityExceeded { .. } => ErrorKind::Capacity,
        }
    }

    /// A stable snake_case name of the variant, used on the wire.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidPhoneNumber { .. } => "invalid_phone_number",
            Error::InvalidUserId { .. } => "invalid_user_id",
            Error::InvalidInstant { .. } => "invalid_instant",
            Error::InstantOutOfRange { .. } => "instant_out_of_range",
            Error::InvalidEvent { .. } => "invalid_event",
            Error::ViewBeforeClock { .. } => "view_before_clock",
            Error::InvalidTemplate { .. } => "invalid_template",
            Error::NotOnChannel { .. } => "not_on_channel",
            Error::UnknownPolicy { .. } => "unknown_policy",
            Error::InvalidPolicy { .. } => "invalid_policy",
            Error::UnknownNumber { .. } => "unknown_number",
            Error::NumberOwnedByOther { .. } => "number_owned_by_other",
            Error::UnknownBusiness { .. } => "unknown_business",
            Error::UnknownTemplate { .. } => "unknown_template",
            Error::NoLiveChat { .. } => "no_live_chat",
            Error::UnknownConversation { .. } => "unknown_conversation",
            Error::NoTicket { .. } => "no_ticket",
            Error::TicketNotCurrent { .. } => "ticket_not_current",
            Error::TemplateNotEditable { .. } => "template_not_editable",
            Error::TemplateEditLimit { .. } => "template_edit_limit",
            Error::UnsupportedSnapshotVersion { .. } => "unsupported_snapshot_version",
            Error::CorruptSnapshot { .. } => "corrupt_snapshot",
            Error::CapacityExceeded { .. } => "capacity_exceeded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_input_is_quoted_by_its_first_characters() {
        assert_eq!(quoted("acme"), "acme");
        let exact = "é".repeat(QUOTED_CHARS);
        assert_eq!(quoted(&exact), exact);
        let long = format!("{exact}xyz");
        assert_eq!(quoted(&long), format!("{exact}…"), "cut at a character");
    }

    #[test]
    fn a_decoders_message_keeps_its_words_and_shortens_the_values_it_quotes() {
        let long = "x".repeat(1000);
        let message =
            format!("field \"kind\": unknown variant `{long}`, expected `text` or `image`");
        assert_eq!(
            shortened_message(&message),
            format!(
                "field \"kind\": unknown variant `{}…`, expected `text` or `image`",
                "x".repeat(QUOTED_CHARS)
            )
        );
        let escaped = format!(r#"invalid type: string "a\"{long}", expected a number"#);
        assert!(shortened_message(&escaped).ends_with("…\", expected a number"));
    }

    #[test]
    fn errors_about_huge_inputs_stay_short() {
        let huge = "9".repeat(10_000_000);
        let mut engine = crate::Engine::new(crate::Policy::preset("cloud-2025").unwrap());
        let messages = [
            crate::address::normalize_phone(&format!("+{huge}"))
                .unwrap_err()
                .to_string(),
            crate::Instant::parse_rfc3339(&huge)
                .unwrap_err()
                .to_string(),
            engine.export_business(&huge).unwrap_err().to_string(),
            engine
                .handle_json(&format!(r#"{{"type":"tick","at":"{huge}"}}"#))
                .concat(),
            engine
                .handle_json(&format!(
                    r#"{{"type":"register_number","at":0,"business":"b","number":"+15550001111","channel":"{huge}"}}"#
                ))
                .concat(),
            engine
                .handle_json(&format!(
                    r#"{{"type":"register_template","at":0,"business":"b","name":"t","language":"{huge}","category":"utility","body":"Hi"}}"#
                ))
                .concat(),
        ];
        for message in messages {
            assert!(message.len() < 600, "{} bytes", message.len());
            assert!(message.contains("99999…"), "{message}");
        }
    }
}
