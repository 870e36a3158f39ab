//! Send decisions (RULES.md §1, §2, §4, §8–§10): `check_send` (pure), `send` (decide and
//! record atomically) and `initiate`.
//!
//! The checks run in a fixed order and the first that fails names the reason:
//!
//! | # | check                                  | denial                          |
//! |---|----------------------------------------|---------------------------------|
//! | 1 | group on a channel without groups      | `group_not_allowed`             |
//! | 2 | content (§8)                           | `invalid_content`, `too_long`, `file_too_large`, `too_many_buttons` |
//! | 3 | template parameters and status (§5)    | `template_params`, `template_not_sendable` |
//! | 4 | window (official) / prior contact       | `window_closed`, `within_safety_margin`, `no_prior_contact` |
//! | 5 | number restriction (§6)                | `restricted`                    |
//! | 6 | consent (§9); provider back-off        | `marketing_to_us_number`, `no_opt_in`, `marketing_stopped`, `contact_backoff` |
//! | 7 | duplicate content (§10)                | `duplicate`                     |
//! | 8 | messaging limit (§7), business-initiated templates only | `limit_reached` |
//!
//! An allowed send is then priced (§11, [`crate::pricing`]).

use crate::address::AddressKey;
use crate::conversation_id::ConversationId;
use crate::decision::{Billing, Decision, DenyReason, FreeReason, Initiation, Initiator, Verdict};
use crate::delivery::SentMessage;
use crate::engine::{check_id, ConsentRecord, Engine};
use crate::event::{DeliveryStatus, InitiateRequest, SendRequest};
use crate::hash::ContentHasher;
use crate::keys::{scoped_key, with_scoped_key};
use crate::message::{check_length, OutboundMessage, TemplateMessage};
use crate::nanp::is_us_number;
use crate::number::Channel;
use crate::outbox::Opener;
use crate::sent_content::Recipient;
use crate::tally::tally;
use crate::template::{TemplateCategory, TemplateStatus};
use crate::time::Instant;
use crate::Error;

/// A [`SendRequest`] with borrowed parts: what the engine reads of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SendRequestRef<'a> {
    /// When the send would happen.
    pub at: Instant,
    /// Sending number.
    pub number: &'a str,
    /// Recipient (phone or opaque id).
    pub contact: Option<&'a str>,
    /// Recipient group (unofficial channel only).
    pub group: Option<&'a str>,
    /// The message.
    pub message: &'a OutboundMessage,
    /// Hosts retry: a repeated key returns the first decision and changes nothing.
    pub idempotency_key: Option<&'a str>,
    /// Skip the duplicate-content check.
    pub force: bool,
    /// The provider's message id, for delivery statuses.
    pub message_id: Option<&'a str>,
    /// Sent by automation, not by an agent ([`SendRequest::automated`]).
    pub automated: bool,
}

/// A send to a conversation named by its [`ConversationId`] ([`Engine::send_to`],
/// [`Engine::check_send_to`]): a [`SendRequestRef`] without the names the id stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SendToRef<'a> {
    /// When the send would happen.
    pub at: Instant,
    /// The message.
    pub message: &'a OutboundMessage,
    /// Hosts retry: a repeated key returns the first decision and changes nothing.
    pub idempotency_key: Option<&'a str>,
    /// Skip the duplicate-content check.
    pub force: bool,
    /// The message's id, for delivery statuses.
    pub message_id: Option<&'a str>,
    /// Sent by automation, not by an agent ([`SendRequest::automated`]).
    pub automated: bool,
}

impl<'a> SendRequestRef<'a> {
    /// `message` from `number` to `contact` at `at`, every optional field unset: the
    /// borrowed form of [`SendRequest::new`].
    pub fn new(
        at: Instant,
        number: &'a str,
        contact: &'a str,
        message: &'a OutboundMessage,
    ) -> SendRequestRef<'a> {
        SendRequestRef {
            at,
            number,
            contact: Some(contact),
            group: None,
            message,
            idempotency_key: None,
            force: false,
            message_id: None,
            automated: false,
        }
    }

    /// What a send to a resolved conversation reads of this request.
    fn parts(&self) -> SendToRef<'a> {
        SendToRef {
            at: self.at,
            message: self.message,
            idempotency_key: self.idempotency_key,
            force: self.force,
            message_id: self.message_id,
            automated: self.automated,
        }
    }
}

impl SendRequest {
    /// This request with borrowed parts.
    pub fn borrowed(&self) -> SendRequestRef<'_> {
        SendRequestRef {
            at: self.at,
            number: &self.number,
            contact: self.contact.as_deref(),
            group: self.group.as_deref(),
            message: &self.message,
            idempotency_key: self.idempotency_key.as_deref(),
            force: self.force,
            message_id: self.message_id.as_deref(),
            automated: self.automated,
        }
    }
}

impl<'a> SendToRef<'a> {
    /// `message` at `at`, every optional field unset.
    pub fn new(at: Instant, message: &'a OutboundMessage) -> SendToRef<'a> {
        SendToRef {
            at,
            message,
            idempotency_key: None,
            force: false,
            message_id: None,
            automated: false,
        }
    }
}

/// An idempotency key's first decision, and the number it was decided for: the key moves
/// with the number's business ([`Engine::export_business`]).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Remembered {
    pub decision: Decision,
    /// `None` when restored from a snapshot older than version 4, which did not record it.
    pub number: Option<u32>,
    /// The request the key was first given for (`send_print`, `initiate_print`): the key given
    /// again for another is refused. `None` when saved before it was kept (any request).
    pub request: Option<u64>,
}

/// A message resolved against the registry, once per send.
#[derive(Clone, Copy, Debug)]
struct Outgoing<'m> {
    message: &'m OutboundMessage,
    /// Its template's index, for template messages.
    template: Option<u32>,
    /// Its [`OutboundMessage::content_hash`].
    content: u64,
}

/// A send resolved against the registry: which number, which recipient, which
/// conversation (looked up once: every check and the record read it).
#[derive(Clone, Copy, Debug)]
struct Target {
    number: u32,
    /// `None`: an opaque id the engine has never seen (so no state exists for it).
    recipient: Option<AddressKey>,
    is_group: bool,
    /// `None` until the number and recipient have exchanged a message.
    conv: Option<u32>,
}

impl Engine {
    /// Decides a send without recording anything. A send at a later instant (a scheduled
    /// send) is judged by the state at that instant.
    pub fn check_send(&self, req: &SendRequest) -> Result<Decision, Error> {
        self.check_send_borrowed(req.borrowed())
    }

    /// [`Engine::check_send`] over borrowed parts, for hosts that hold them (the C library).
    pub fn check_send_borrowed(&self, req: SendRequestRef<'_>) -> Result<Decision, Error> {
        let target = self.lookup_target(req.number, req.contact, req.group)?;
        self.check_send_resolved(target, req.parts(), req.contact.or(req.group))
    }

    /// [`Engine::check_send`] to the conversation `id` names ([`Engine::conversation_id`]):
    /// the decision the send to its number and contact by name gets, without finding them
    /// again. An id naming no conversation of this engine (its place holds another, as after
    /// a rebuild) is [`Error::UnknownConversation`].
    pub fn check_send_to(&self, id: ConversationId, req: SendToRef<'_>) -> Result<Decision, Error> {
        let target = self.target_of(id)?;
        self.check_send_resolved(target, req, None)
    }

    /// `given`: the recipient's name as the request gave it (`None` for a conversation id).
    #[inline(always)]
    fn check_send_resolved(
        &self,
        target: Target,
        req: SendToRef<'_>,
        given: Option<&str>,
    ) -> Result<Decision, Error> {
        check_request_ids(req.idempotency_key, req.message_id)?;
        if let Some(decision) = self.remembered_send(&target, &req, given)? {
            return Ok(decision);
        }
        let now = req.at.max(self.clock);
        let message = self.outgoing(target.number, req.message)?;
        self.decide(target, message, req.force, now)
    }

    /// Decides a send and, when allowed, records it atomically: duplicate record, agent
    /// reply in the live chat, counters. A repeated idempotency key returns the first
    /// decision and changes nothing.
    pub fn send(&mut self, req: &SendRequest) -> Result<Decision, Error> {
        self.send_borrowed(req.borrowed())
    }

    /// [`Engine::send`] over borrowed parts, for hosts that hold them (the C library).
    pub fn send_borrowed(&mut self, req: SendRequestRef<'_>) -> Result<Decision, Error> {
        let target = self.lookup_target(req.number, req.contact, req.group)?;
        self.send_resolved(target, req.parts(), (req.contact, req.group))
    }

    /// [`Engine::send`] to the conversation `id` names ([`Engine::conversation_id`]): what
    /// the send to its number and contact by name decides and records, without finding them
    /// again. An id naming no conversation of this engine (its place holds another, as after
    /// a rebuild) is [`Error::UnknownConversation`], and changes nothing.
    pub fn send_to(&mut self, id: ConversationId, req: SendToRef<'_>) -> Result<Decision, Error> {
        let target = self.target_of(id)?;
        self.send_resolved(target, req, (None, None))
    }

    /// `names`: the recipient's contact and group as the request gave them (none for a
    /// conversation id, whose recipient is known).
    // Inlined into both doors: a call between them cost a send by name about ten
    // instructions (the request's parts passed through memory).
    #[inline(always)]
    fn send_resolved(
        &mut self,
        target: Target,
        req: SendToRef<'_>,
        (contact, group): (Option<&str>, Option<&str>),
    ) -> Result<Decision, Error> {
        check_request_ids(req.idempotency_key, req.message_id)?;
        let given = contact.or(group);
        if let Some(decision) = self.remembered_send(&target, &req, given)? {
            return Ok(decision);
        }
        // Validate the template reference before anything changes.
        let message = self.outgoing(target.number, req.message)?;
        let target = self.interned(target, contact, group)?;
        self.handle_timeout(req.at);
        let now = self.clock;
        let decision = self.decide(target, message, req.force, now)?;
        self.record(
            target,
            message,
            &decision,
            now,
            req.message_id,
            req.automated,
        )?;
        let key = (req.idempotency_key)
            .map(|key| (key, self.send_print(&target, given, message.content)));
        self.remember(key, target.number, &decision, now);
        Ok(decision)
    }

    /// The conversation a send to `contact` or `group` of `number` by name reaches, if the
    /// engine holds it (what [`Engine::conversation_id`] names).
    pub(crate) fn conversation_named(
        &self,
        number: &str,
        contact: Option<&str>,
        group: Option<&str>,
    ) -> Result<Option<u32>, Error> {
        Ok(self.lookup_target(number, contact, group)?.conv)
    }

    /// The target of a conversation id: its number, its contact (or group), itself.
    fn target_of(&self, id: ConversationId) -> Result<Target, Error> {
        let conv = self.conversation_of(id)?;
        let c = &self.conversations[conv as usize];
        Ok(Target {
            number: c.number,
            recipient: Some(c.contact),
            is_group: c.contact.is_group(),
            conv: Some(conv),
        })
    }

    /// Starts a conversation (§4). Official channel with the window closed: sends the
    /// number's default template (or the one given) and holds `message` in the pending
    /// outbox until the contact answers. Otherwise the message is decided as a plain send.
    pub fn initiate(&mut self, req: &InitiateRequest) -> Result<Decision, Error> {
        let target = self.lookup_target(&req.number, Some(&req.contact), None)?;
        check_request_ids(req.idempotency_key.as_deref(), req.message_id.as_deref())?;
        if let Some(key) = req.idempotency_key.as_deref() {
            let content = || req.message.content_hash();
            let print = || self.initiate_print(&target, req, content());
            let named = || self.as_named(&target, Some(&req.contact));
            let as_named = || self.initiate_print(&named(), req, content());
            if let Some(decision) = self.remembered(target.number, key, req.at, print, as_named)? {
                return Ok(decision);
            }
        }
        let number = &self.numbers[target.number as usize];
        // The direct path (window open, another channel, a template) needs no opener. The
        // window is read at the instant the send is judged; no timer moves it.
        let direct = number.channel != Channel::Official
            || req.message.is_template()
            || self.free_form_allowed(target, req.at.max(self.clock));
        let opener: Option<TemplateMessage> = req.template.clone().or_else(|| {
            number
                .default_template
                .as_ref()
                .map(|(name, language)| TemplateMessage {
                    name: name.clone(),
                    language: language.clone(),
                    params: Default::default(),
                    header_params: Default::default(),
                })
        });
        // Checked before anything changes, and only when an opener may go out: a default
        // template not (yet) registered does not stop a message that needs none, nor one
        // that joins the messages held for an opener already out (still awaited once the
        // timers due by then have fired).
        let awaits_opener =
            (target.conv).is_some_and(|c| self.awaits_opener_at(c, req.at.max(self.clock)));
        if let Some(t) = opener.as_ref().filter(|_| !direct && !awaits_opener) {
            self.template_idx(number.business, &t.name, &t.language)?;
        }
        let message = self.outgoing(target.number, &req.message)?;
        if let Some(conv) = target.conv.filter(|_| !direct) {
            // Checked before anything changes (firing due timers moves the clock), so only
            // for an `initiate` that would hold its message: not one refused for its content
            // or as a duplicate, which keeps its denial, nor a retry of a message already
            // held, which holds nothing more. (One whose new opener would be denied is
            // refused here too: that is decided only after the timers fire.)
            let now = req.at.max(self.clock);
            let number = &self.numbers[target.number as usize];
            let would_hold = !self.retries_held(conv, message.content)
                && (req.message)
                    .check_content(&self.policy, number.channel, &number.provider)
                    .is_ok()
                && self.hold_duplicate(target, message.content, now).is_none()
                && (opener.is_some() || self.awaited_opener(conv).is_some());
            if would_hold {
                self.check_outbox_room(Some(conv), now)?;
            }
        }
        let target = self.interned(target, Some(&req.contact), None)?;
        let recipient = target.recipient.expect("interned above");
        self.handle_timeout(req.at);
        let now = self.clock;
        let number_state = &self.numbers[target.number as usize];
        let (channel, provider) = (number_state.channel, &number_state.provider);
        let decision = if direct {
            let mut decision = self.decide(target, message, false, now)?;
            self.record(
                target,
                message,
                &decision,
                now,
                req.message_id.as_deref(),
                req.automated,
            )?;
            if decision.is_allowed() {
                decision.initiation = Some(Initiation {
                    template: None,
                    language: None,
                    held: 0,
                });
            }
            decision
        } else if let Err(reason) = req.message.check_content(&self.policy, channel, provider) {
            self.count_denial(target.number);
            Decision::denied(reason, Initiator::Business)
        } else if let Some(reason) = self.hold_duplicate(target, message.content, now) {
            // §10 as on the direct path (`initiate` has no `force`): the same message held
            // twice would be released, and sent, twice.
            self.count_denial(target.number);
            Decision::denied(reason, Initiator::Business)
        } else if let Some((conv, opener)) = self
            .conversation_idx(target.number, recipient)
            .and_then(|c| Some((c, self.awaited_opener(c)?.clone())))
        {
            // An opening template already went out and the contact has not answered yet:
            // hold this message with the others rather than send the template again. An
            // opener the provider reported failed awaits nothing: a new one goes out below.
            let held = self.hold(conv, req.message.clone(), opener, now);
            Decision {
                verdict: Verdict::Allowed,
                initiated_by: Initiator::Business,
                billing: Some(Billing::Free {
                    why: FreeReason::Held,
                }),
                consumed_limit_slot: false,
                next_action: None,
                initiation: Some(Initiation {
                    template: None,
                    language: None,
                    held,
                }),
            }
        } else {
            match opener {
                None => {
                    self.count_denial(target.number);
                    Decision::denied(DenyReason::NoDefaultTemplate, Initiator::Business)
                }
                Some(template) => {
                    let opener = OutboundMessage::Template(template);
                    let opening = self.outgoing(target.number, &opener)?;
                    // A new opener is no duplicate of the failed one it replaces: that one
                    // never reached the contact.
                    let replaces_failed = target
                        .conv
                        .is_some_and(|c| self.sent_by_failed_opener(c, opening.content, now));
                    let mut decision = self.decide(target, opening, replaces_failed, now)?;
                    let id = req.message_id.as_deref();
                    self.record(target, opening, &decision, now, id, req.automated)?;
                    if decision.is_allowed() {
                        let conv = self.conversation_or_create(target.number, recipient)?;
                        let awaited = Opener {
                            message_id: req.message_id.clone(),
                            sent_at: Some(now),
                            // Its failure may have been reported before it was recorded.
                            failed: id.is_some_and(|id| self.sent_failed(target.number, id, now)),
                            answered: false,
                        };
                        // A retry of a message held under a failed opener: held once.
                        let held = if self.retries_held(conv, message.content) {
                            self.await_opener(conv, awaited)
                        } else {
                            self.hold(conv, req.message.clone(), awaited, now)
                        };
                        let t = opener.template().expect("opener is a template");
                        decision.initiation = Some(Initiation {
                            template: Some(t.name.clone()),
                            language: Some(t.language.clone()),
                            held,
                        });
                    }
                    decision
                }
            }
        };
        let key = (req.idempotency_key.as_deref())
            .map(|key| (key, self.initiate_print(&target, req, message.content)));
        self.remember(key, target.number, &decision, now);
        Ok(decision)
    }

    /// §10 for the message an `initiate` of `target` would hold: [`Engine::held_duplicate`],
    /// unless it retries a message held under a failed opener (no duplicate of itself).
    /// Checked also when the number has no conversation with the contact yet: a copy
    /// another number of the business sent reached the contact all the same.
    fn hold_duplicate(&self, target: Target, content: u64, now: Instant) -> Option<DenyReason> {
        if target.conv.is_some_and(|c| self.retries_held(c, content)) {
            return None;
        }
        let to = Recipient {
            business: self.numbers[target.number as usize].business,
            contact: target.recipient?,
        };
        self.held_duplicate(to, target.conv, content, now)
    }

    /// The first decision for a send's idempotency key, if it has one and it is remembered
    /// ([`Engine::remembered`]; `send` and `check_send` alike).
    fn remembered_send(
        &self,
        target: &Target,
        req: &SendToRef<'_>,
        given: Option<&str>,
    ) -> Result<Option<Decision>, Error> {
        let Some(key) = req.idempotency_key else {
            return Ok(None);
        };
        let content = || req.message.content_hash();
        let print = || self.send_print(target, given, content());
        let as_named = || self.send_print(&self.as_named(target, given), given, content());
        self.remembered(target.number, key, req.at, print, as_named)
    }

    /// The target with its recipient as the request names it, before any link: a retry
    /// naming the recipient by the very name its first request gave is that request, even
    /// when a link learned between them made the name another contact's alias (a user id
    /// sent to, then linked to a phone number by the contact's message).
    fn as_named(&self, target: &Target, given: Option<&str>) -> Target {
        let (contact, group) = match target.is_group {
            true => (None, given),
            false => (given, None),
        };
        let named = given.and_then(|_| self.find_recipient(contact, group).ok().flatten());
        Target {
            recipient: named.or(target.recipient),
            ..*target
        }
    }

    /// What an idempotency key of a send names: the recipient ([`Engine::recipient_into`])
    /// and the content (its hash).
    fn send_print(&self, target: &Target, given: Option<&str>, content: u64) -> u64 {
        let mut h = ContentHasher::default();
        h.part(b"send");
        self.recipient_into(&mut h, target, given);
        h.part(&content.to_le_bytes());
        h.finish()
    }

    /// What an idempotency key of an `initiate` names: the recipient, the message and the
    /// opener given (none: the number's default, whatever it is then).
    fn initiate_print(&self, target: &Target, req: &InitiateRequest, content: u64) -> u64 {
        let mut h = ContentHasher::default();
        h.part(b"initiate");
        self.recipient_into(&mut h, target, Some(&req.contact));
        h.part(&content.to_le_bytes());
        if let Some(opener) = &req.template {
            opener.hash_into(&mut h);
        }
        h.finish()
    }

    /// A recipient for a request's print: the contact its name resolves to, so that any
    /// spelling of a phone number (by its digits) and a user id linked to the contact are
    /// the same recipient, even when the link was learned between a send and its retry (the
    /// name with the history stays the key); a group told apart from a contact of the same
    /// text. A name never seen, as given (no earlier request named it).
    fn recipient_into(&self, h: &mut ContentHasher, target: &Target, given: Option<&str>) {
        h.part(if target.is_group {
            b"group"
        } else {
            b"contact"
        });
        match target.recipient.and_then(|key| key.phone_digits()) {
            Some(digits) => {
                h.part(b"phone");
                h.part(&digits.to_le_bytes());
            }
            None => {
                let id = target.recipient.and_then(|key| self.interner.id_text(key));
                h.part(b"id");
                h.part(id.or(given).unwrap_or_default().as_bytes());
            }
        }
    }

    fn lookup_target(
        &self,
        number: &str,
        contact: Option<&str>,
        group: Option<&str>,
    ) -> Result<Target, Error> {
        let number = self.number_idx(number)?;
        let recipient = self.find_recipient(contact, group)?;
        let is_group = group.is_some();
        // A recipient seen before may be another name of a contact; one the engine has not
        // interned yet is no one's alias.
        let recipient = recipient.map(|k| self.contact_of(number, k));
        Ok(Target {
            number,
            recipient,
            is_group,
            conv: recipient.and_then(|k| self.conversation_idx(number, k)),
        })
    }

    /// The target with its recipient interned (an opaque id seen for the first time gets its
    /// key now; a phone number already has one, so it is not parsed again).
    fn interned(
        &mut self,
        target: Target,
        contact: Option<&str>,
        group: Option<&str>,
    ) -> Result<Target, Error> {
        let recipient = match target.recipient {
            Some(key) => key,
            None => self.recipient(contact, group)?,
        };
        Ok(Target {
            recipient: Some(recipient),
            ..target
        })
    }

    /// The message resolved once for every check and the record: its template (an
    /// unknown one is an error, before anything changes) and its content hash.
    fn outgoing<'m>(
        &self,
        number: u32,
        message: &'m OutboundMessage,
    ) -> Result<Outgoing<'m>, Error> {
        let template = match message.template() {
            Some(t) => Some(self.template_idx(
                self.numbers[number as usize].business,
                &t.name,
                &t.language,
            )?),
            None => None,
        };
        Ok(Outgoing {
            message,
            template,
            content: message.content_hash(),
        })
    }

    /// Whether idempotency key `key` from `number` is remembered at `at`: a `send` or
    /// `initiate` with it answers with the first decision and changes nothing (§10), or is
    /// refused as another request, rather than be decided: for hosts that count decisions,
    /// such as a replay's summary, so that a retry is not counted as a second send. False
    /// for an unknown number.
    pub fn repeats_key(&self, number: &str, key: &str, at: Instant) -> bool {
        self.number_idx(number).is_ok_and(|n| {
            let business = self.numbers[n as usize].business;
            self.remembered_record(business, key, at).is_some()
        })
    }

    /// The first decision for `key` sent from `number`'s business, if it is still
    /// remembered at the request's instant (or the clock, if later): a retry past
    /// `dedup.idempotency_key_ttl` is decided afresh, whether or not another input moved the
    /// clock first. The same key from another business is another key; one restored without
    /// its number (a snapshot older than version 4) answers any business, as it did.
    ///
    /// The key given again for another request (another number, or `print`: another
    /// recipient, content or kind of input) is an `invalid_event` error: answering with the
    /// first decision would tell the host that a message the engine never recorded may go.
    /// `as_named`, the print with the recipient as named before any link, is the same
    /// request too: a verbatim retry after a link learned in between.
    // Out of line: sends without a key (the hot path) do not carry its large result.
    #[inline(never)]
    fn remembered(
        &self,
        number: u32,
        key: &str,
        at: Instant,
        print: impl FnOnce() -> u64,
        as_named: impl FnOnce() -> u64,
    ) -> Result<Option<Decision>, Error> {
        let business = self.numbers[number as usize].business;
        let Some(remembered) = self.remembered_record(business, key, at) else {
            return Ok(None);
        };
        let another_number = remembered.number.is_some_and(|first| first != number);
        let another_request =
            || remembered.request != Some(print()) && remembered.request != Some(as_named());
        if remembered.request.is_some() && (another_number || another_request()) {
            return Err(Error::InvalidEvent {
                problem: format!(
                    "idempotency key {:?} was given before for another request (another \
                     number, recipient, message or opener, or a send for an initiate): a key \
                     names one request, give this one its own",
                    crate::error::quoted(key)
                ),
            });
        }
        Ok(Some(remembered.decision.clone()))
    }

    /// The record of `key` of `business`, if still remembered at `at` (or the clock).
    fn remembered_record(&self, business: u32, key: &str, at: Instant) -> Option<&Remembered> {
        let now = at.max(self.clock);
        with_scoped_key(Some(business), key, |k| self.idempotency.get(k, now))
            .or_else(|| with_scoped_key(None, key, |k| self.idempotency.get(k, now)))
    }

    #[inline]
    /// Remembers `decision` under the request's key, with the request's print.
    fn remember(
        &mut self,
        key: Option<(&str, u64)>,
        number: u32,
        decision: &Decision,
        now: Instant,
    ) {
        match key {
            Some((key, print)) => {
                let remembered = Remembered {
                    decision: decision.clone(),
                    number: Some(number),
                    request: Some(print),
                };
                let business = self.numbers[number as usize].business;
                self.idempotency
                    .insert(scoped_key(Some(business), key), now, remembered)
            }
            // Sends without a key still age the keys out, as they always have.
            None => self.idempotency.prune(now),
        }
    }

    /// When `content` was last sent to `to` (from any number of its business), if that send
    /// still makes it a duplicate at `now` (§10: within `dedup.content_period`).
    #[inline]
    pub(crate) fn sent_within_period(
        &self,
        to: Recipient,
        content: u64,
        now: Instant,
    ) -> Option<Instant> {
        let expires_at = self.sent_content.expires_at(to, content)?;
        (now < expires_at).then(|| expires_at.minus(self.policy.dedup.content_period))
    }

    /// When the target's service window ends (or ended); `None` if it never opened.
    fn window_end(&self, target: Target) -> Option<Instant> {
        self.conversations[target.conv? as usize]
            .window
            .get()
            .ends_at(&self.policy.window)
    }

    /// Whether a free-form message may go out now: the window is open and not inside the
    /// host's safety margin. Off the official channel there is no window.
    fn free_form_allowed(&self, target: Target, now: Instant) -> bool {
        !self.numbers[target.number as usize]
            .channel
            .has_service_window()
            || self
                .window_end(target)
                .is_some_and(|end| self.policy.window.free_form_fits(end, now))
    }

    /// The decision for `outgoing` at `now`.
    fn decide(
        &self,
        target: Target,
        outgoing: Outgoing<'_>,
        force: bool,
        now: Instant,
    ) -> Result<Decision, Error> {
        let message = outgoing.message;
        let number = &self.numbers[target.number as usize];
        let channel = number.channel;
        let conv = target.conv.map(|c| (c, &self.conversations[c as usize]));
        // Who initiated depends on the window alone; the safety margin only restricts
        // free-form messages (§2), so a template in the margin is still a reply.
        let window_end = self.window_end(target);
        let window_open = window_end.is_some_and(|end| now < end);
        let reply_ok = !channel.has_service_window() || window_open;
        let initiator = if reply_ok {
            Initiator::Customer
        } else {
            Initiator::Business
        };
        let deny = |reason| Ok(Decision::denied(reason, initiator));

        if target.is_group && !channel.allows_groups() {
            return deny(DenyReason::GroupNotAllowed { channel });
        }
        if let Err(reason) = message.check_content(&self.policy, channel, &number.provider) {
            return deny(reason);
        }
        let mut category = None;
        // When the template's text last changed (the epoch, the earliest instant, if never):
        // an earlier send of it showed other words.
        let mut text_changed_at = Instant::EPOCH;
        if let (Some(tm), Some(index)) = (message.template(), outgoing.template) {
            let template = &self.templates[index as usize];
            let params = (template.variables.check_params(&tm.params))
                .and_then(|()| template.spec.check_header_params(&tm.header_params));
            if let Err(problem) = params {
                return deny(DenyReason::TemplateParams { problem });
            }
            // §5 at send: the header stays within its limit as the parameters fill it, and so
            // does the body of a template with more than a body (Meta's larger allowance for
            // parameters holds for body-only templates, facts §6), where the sizes bind.
            let content = self.policy.content_on(channel);
            if !tm.header_params.is_empty() {
                let filled = template.spec.filled_header_chars(&tm.header_params);
                let limit = content.template_header_max_chars;
                if let Err(reason) = check_length("template header", filled, limit) {
                    return deny(reason);
                }
            }
            let limit = content.template_body_max_chars;
            if let Some(filled) = template.spec.filled_body_over(&tm.params, limit) {
                if let Err(reason) = check_length("template body", filled, limit) {
                    return deny(reason);
                }
            }
            let (status, until) = template.status_at(now);
            if !status.is_sendable() {
                return deny(DenyReason::TemplateNotSendable {
                    name: tm.name.clone(),
                    language: tm.language.clone(),
                    status,
                    // A pause that ends at or after the flag's deadline ends disabled: no
                    // time to retry at.
                    until: until.filter(|&end| {
                        status == TemplateStatus::Paused
                            && template.flag_deadline.is_none_or(|deadline| end < deadline)
                    }),
                });
            }
            category = Some(template.spec.category);
            text_changed_at = template.text_changed_at.unwrap_or(Instant::EPOCH);
        }
        match channel {
            Channel::Official if !message.is_template() && !self.free_form_allowed(target, now) => {
                return deny(match window_end {
                    Some(end) if now < end => DenyReason::WithinSafetyMargin {
                        window_ends_at: end,
                        margin: self.policy.window.safety_margin,
                    },
                    _ => DenyReason::WindowClosed {
                        window_closed_at: window_end,
                    },
                });
            }
            _ if !channel.may_write_first() && !conv.is_some_and(|(_, c)| c.has_written) => {
                return deny(DenyReason::NoPriorContact { channel });
            }
            _ => {}
        }
        if let Some(r) = number.restrictions.barring(initiator, now) {
            return deny(DenyReason::Restricted {
                scope: r.scope,
                until: r.until,
            });
        }
        // Consent governs templates only: a free-form reply does not look it up (a cache
        // miss per reply at a million contacts).
        let consent = target
            .recipient
            .filter(|_| category.is_some())
            .and_then(|k| self.consents.get(&(number.business, k)))
            .copied()
            .unwrap_or_default();
        if let Some(reason) = self.consent_denial(category, initiator, target, consent, now) {
            return deny(reason);
        }
        if let Some(b) = conv.and_then(|(c, _)| self.backoff_at(c, now)) {
            if !b.marketing_only || category == Some(TemplateCategory::Marketing) {
                return deny(DenyReason::ContactBackoff {
                    code: b.code,
                    marketing_only: b.marketing_only,
                    until: b.until,
                });
            }
        }
        if !force {
            // From any number of the business: the same contact (§10), not the same
            // conversation.
            let previous = target
                .recipient
                .map(|contact| Recipient {
                    business: number.business,
                    contact,
                })
                .and_then(|to| self.sent_within_period(to, outgoing.content, now))
                .filter(|&previous_at| previous_at >= text_changed_at);
            if let Some(previous_at) = previous {
                return deny(DenyReason::Duplicate {
                    previous_at,
                    period: self.policy.dedup.content_period,
                });
            }
        }
        // Only business-initiated templates on the official channel count against limits.
        let mut consumed_limit_slot = false;
        if channel.has_service_window() && initiator == Initiator::Business && category.is_some() {
            match self.limit_check(target.number, target.recipient, now) {
                Ok(takes_slot) => consumed_limit_slot = takes_slot,
                Err(reason) => return deny(reason),
            }
        }
        let billing = self.classify(
            target.number,
            target.recipient,
            conv.map(|(c, _)| c),
            category,
            initiator,
            now,
        );
        Ok(Decision {
            verdict: Verdict::Allowed,
            initiated_by: initiator,
            billing: Some(billing),
            consumed_limit_slot,
            next_action: None,
            initiation: None,
        })
    }

    /// §9: opt-in for business-initiated templates; marketing stop and the US rule for any
    /// marketing template.
    fn consent_denial(
        &self,
        category: Option<TemplateCategory>,
        initiator: Initiator,
        target: Target,
        consent: ConsentRecord,
        now: Instant,
    ) -> Option<DenyReason> {
        let category = category?;
        // The US rule first: it refuses for good, so a refusal that names something to do
        // (an opt-in to record, a hold's `retry_at`) would send the host to do it for a send
        // that is refused again.
        if category == TemplateCategory::Marketing {
            let us = (target.recipient)
                .and_then(|k| self.contact_phone(target.number, k)?.phone_digits())
                .is_some_and(is_us_number);
            match self.policy.consent.us_marketing_blocked_from {
                Some(since) if us && now >= since => {
                    return Some(DenyReason::MarketingToUsNumber { since })
                }
                _ => {}
            }
        }
        if initiator == Initiator::Business
            && self.policy.consent.require_opt_in
            && consent.opted_in_at.is_none()
        {
            return Some(DenyReason::NoOptIn);
        }
        if category != TemplateCategory::Marketing {
            return None;
        }
        if let Some(since) = consent.marketing_barred_since() {
            return Some(DenyReason::MarketingStopped { since });
        }
        // The provider's hold on the user's marketing, from any of the business's numbers
        // (it outlasts a conversation's pair-rate pause, checked after).
        let until = consent
            .marketing_backoff_until
            .filter(|&until| now < until)?;
        Some(DenyReason::ContactBackoff {
            code: crate::delivery::codes::PER_USER_MARKETING_LIMIT,
            marketing_only: true,
            until,
        })
    }

    fn count_denial(&mut self, number: u32) {
        tally(&mut self.numbers[number as usize].counters.sends_denied, 1);
    }

    /// Records a decided send: counters always; for allowed sends the duplicate record,
    /// the reply in a live chat or on an email ticket (an agent's answers a waiting
    /// contact, an `automated` one does not), and the template count.
    fn record(
        &mut self,
        target: Target,
        outgoing: Outgoing<'_>,
        decision: &Decision,
        now: Instant,
        message_id: Option<&str>,
        automated: bool,
    ) -> Result<(), Error> {
        let message = outgoing.message;
        if !decision.is_allowed() {
            self.count_denial(target.number);
            return Ok(());
        }
        let recipient = target.recipient.expect("send paths intern the recipient");
        let conv = match target.conv {
            Some(conv) => conv,
            None => self.conversation_or_create(target.number, recipient)?,
        };
        let counters = &mut self.numbers[target.number as usize].counters;
        tally(&mut counters.sends_allowed, 1);
        tally(
            &mut counters.templates_sent,
            u64::from(message.is_template()),
        );
        let answers = !automated;
        self.chat_business_wrote(conv, now, answers);
        self.record_content(conv, outgoing.content, now);
        let channel = self.numbers[target.number as usize].channel;
        if !channel.has_chats() {
            self.email_outbound(conv, now, answers);
        }
        let counted_by_limit = channel.has_service_window()
            && decision.initiated_by == Initiator::Business
            && message.is_template();
        if counted_by_limit {
            self.limit_record(target.number, recipient, now);
        }
        if let Some(billing) = &decision.billing {
            self.record_billing(target.number, conv, billing, message.is_template(), now);
            if let Some(id) = message_id {
                let sent = SentMessage {
                    conv,
                    sent_at: now,
                    template: outgoing.template,
                    billing: billing.clone(),
                    consumed_slot: decision.consumed_limit_slot,
                    counted_by_limit,
                    status: DeliveryStatus::Accepted,
                    confirmed: false,
                    content: Some(outgoing.content),
                    failed_before_sent: None,
                };
                self.remember_sent(id, sent, now);
            }
        }
        Ok(())
    }

    fn record_content(&mut self, conv: u32, hash: u64, now: Instant) {
        let expires_at = now.plus(self.policy.dedup.content_period);
        let to = self.recipient_of(conv);
        self.sent_content.record(conv, to, hash, expires_at, now);
    }
}

/// A request's idempotency key and message id, each absent or 1..=`MAX_ID_BYTES` bytes.
#[inline]
fn check_request_ids(key: Option<&str>, message_id: Option<&str>) -> Result<(), Error> {
    check_id("idempotency_key", key)?;
    check_id("message_id", message_id)
}
