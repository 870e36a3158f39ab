//! The pending outbox of `initiate` (RULES.md §4): free-form messages held until the contact
//! answers and the window opens, or until they expire.

use serde::{Deserialize, Serialize};

use crate::decision::{DenyReason, Initiator};
use crate::effect::{Effect, OutboxDrop};
use crate::engine::{Engine, HeldMessage};
use crate::message::OutboundMessage;
use crate::sent_content::Recipient;
use crate::time::{Duration, Instant};
use crate::timers::TimerKey;
use crate::Error;

/// How many messages one conversation's outbox holds at most. No rule bounds them (§4 holds
/// every `initiate` until the contact answers), but a host looping on `initiate` grew one
/// outbox without end, each `initiate` comparing its message with every one held (40,000
/// held took 8.5 s) and the contact's answer releasing them all in one effect. A hundred is
/// far beyond a conversation an agent follows.
pub(crate) const MAX_HELD_PER_CONVERSATION: usize = 100;

/// The opening template a held message awaits the contact's answer to (§4). A message that
/// joins the outbox while an opener is awaited shares that opener.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Opener {
    /// The provider's id it was sent with; `None` when sent without one, which no
    /// `message_status` can report failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// When it was sent (`None` when restored from a snapshot older than this record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Instant>,
    /// The provider reported it failed: it never reached the contact, so no answer is
    /// awaited and the next `initiate` sends a new opener.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
    /// The contact answered after it went out, but in a window already past (or inside
    /// the safety margin) when the answer arrived, so the held messages could not go out:
    /// they stay held, and the next `initiate` sends a new opener rather than wait for an
    /// answer that came.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub answered: bool,
}

impl Opener {
    /// Whether the contact's answer is still awaited.
    fn is_awaited(&self) -> bool {
        !self.failed && !self.answered
    }
}

impl Opener {
    /// Nothing known of it (as in snapshots older than this record): serialized as absent.
    pub(crate) fn is_unknown(&self) -> bool {
        *self == Opener::default()
    }
}

/// Checks a conversation's held messages as a snapshot saved them (`Err`: what is wrong, to
/// follow the conversation's name). A message is held at the clock of the `initiate` that
/// holds it, so none is dated after the state's clock: one that is would refuse its
/// duplicates as held after the refusal, and the next message held would sit behind it,
/// kept past its own expiry until the later one's. They are kept in the order they were
/// held, which with one hold period is the order they expire in, and the expiry timer
/// expires them from the front: one behind a later expiry was kept past its own, and
/// reported expired after the later one, dated before it.
pub(crate) fn check_saved(
    held: &[HeldMessage],
    clock: Instant,
    hold_for: Duration,
) -> Result<(), String> {
    if let Some((i, h)) = held.iter().enumerate().find(|(_, h)| h.held_at > clock) {
        return Err(format!(
            "message {i} held_at {} is after the state's clock {clock}",
            h.held_at
        ));
    }
    // Each is held for the policy's one hold period: another expiry would end its hold at
    // a time no policy gave it.
    if let Some((i, h)) =
        (held.iter().enumerate()).find(|(_, h)| h.expires_at != h.held_at.plus(hold_for))
    {
        return Err(format!(
            "message {i} (held_at {}) expires_at {}, not after the policy's hold of {hold_for}",
            h.held_at, h.expires_at
        ));
    }
    if let Some(i) = held.windows(2).position(|pair| {
        pair[1].held_at < pair[0].held_at || pair[1].expires_at < pair[0].expires_at
    }) {
        let (earlier, later) = (&held[i], &held[i + 1]);
        return Err(format!(
            "message {} (held_at {}, expires_at {}) comes after message {i} (held_at {}, \
             expires_at {}): held messages are kept in the order they were held, which is \
             the order they expire in",
            i + 1,
            later.held_at,
            later.expires_at,
            earlier.held_at,
            earlier.expires_at
        ));
    }
    Ok(())
}

impl Engine {
    /// Refuses an `initiate` that would hold one more message for `conv` when its outbox is
    /// full ([`MAX_HELD_PER_CONVERSATION`]; messages expired by `at` are not counted, as
    /// their timer removes them first), before anything changes.
    pub(crate) fn check_outbox_room(&self, conv: Option<u32>, at: Instant) -> Result<(), Error> {
        let held = conv
            .and_then(|c| self.outbox.get(&c))
            .map_or(0, |held| held.iter().filter(|h| at < h.expires_at).count());
        if held < MAX_HELD_PER_CONVERSATION {
            return Ok(());
        }
        Err(Error::CapacityExceeded {
            what: "messages held for one conversation (initiate's pending outbox: they go out \
                   when the contact answers, or expire)",
            limit: MAX_HELD_PER_CONVERSATION as u64,
        })
    }

    /// Holds a message for `conv` until the contact answers, awaiting `opener`.
    pub(crate) fn hold(
        &mut self,
        conv: u32,
        message: OutboundMessage,
        opener: Opener,
        now: Instant,
    ) -> u32 {
        let expires_at = now.plus(self.policy.outbox.hold_for);
        let held = self.outbox.entry(conv).or_default();
        held.push(HeldMessage {
            message,
            held_at: now,
            expires_at,
            opener,
        });
        let count = held.len() as u32;
        self.timers.arm(TimerKey::OutboxExpiry(conv), expires_at);
        count
    }

    /// Whether a restriction of number `n` in force at `now` bars replies (§6: every scope
    /// but `business_initiated`): messages released then could not go out.
    pub(crate) fn replies_barred(&self, n: u32, now: Instant) -> bool {
        let restrictions = &self.numbers[n as usize].restrictions;
        restrictions.barring(Initiator::Customer, now).is_some()
    }

    /// Restrictions of number `n` ended at `at`: once none bars replies, the messages its
    /// conversations held through an answer that came while one did are released, in a
    /// window still open (outside its safety margin) at `at`. A window that has closed
    /// since, or is in its margin, releases nothing, but the answer ended the wait, as one
    /// that arrived too late does: the next `initiate` sends a new opener. A rare input: a
    /// scan of the held messages' conversations, in id order.
    pub(crate) fn release_after_restriction(&mut self, n: u32, at: Instant) {
        if self.outbox.is_empty() || self.replies_barred(n, at) {
            return;
        }
        let mut held: Vec<u32> = (self.outbox.keys().copied())
            .filter(|&conv| self.conversations[conv as usize].number == n)
            .collect();
        held.sort_unstable();
        for conv in held {
            let window = self.conversations[conv as usize].window.get();
            let Some(end) = window.ends_at(&self.policy.window) else {
                continue;
            };
            if self.policy.window.free_form_fits(end, at) {
                self.release_outbox(conv, at);
            } else if let Some(answer) = window.last_inbound_at {
                self.openers_answered(conv, answer);
            }
        }
    }

    /// Whether the end of the restrictions barring replies on `conv`'s number, all ended by
    /// `at`, releases its held messages ([`Engine::release_after_restriction`]: the window
    /// open, outside its margin, at the last end), tick or no tick: a view at `at` shows
    /// them released, as it shows an ended chat ended.
    pub(crate) fn released_by_restriction_end(&self, conv: u32, at: Instant) -> bool {
        let c = &self.conversations[conv as usize];
        let Some(end) = self.reply_bar_ends(c.number, at).max() else {
            return false;
        };
        let open_then = (c.window.get().ends_at(&self.policy.window))
            .is_some_and(|close| self.policy.window.free_form_fits(close, end));
        open_then && !self.replies_barred(c.number, end)
    }

    /// The ends, at or before `by`, of number `n`'s restrictions that bar replies: what may
    /// release held messages by then, tick or no tick.
    fn reply_bar_ends(&self, n: u32, by: Instant) -> impl Iterator<Item = Instant> + '_ {
        (self.numbers[n as usize].restrictions.iter())
            .filter(|r| r.scope.bars(Initiator::Customer))
            .filter_map(move |r| r.until.filter(|&end| end <= by))
    }

    /// The window opened: hand every held message back to the host.
    pub(crate) fn release_outbox(&mut self, conv: u32, now: Instant) {
        // Nearly always nothing is held, and a removal from an empty map still hashes.
        if self.outbox.is_empty() {
            return;
        }
        let Some(messages) = self.take_held(conv) else {
            return;
        };
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::OutboxReleased {
            number,
            contact,
            messages,
            at: now,
        });
    }

    /// Drops every message `conv` holds, unsent, telling the host why (`outbox_expired`).
    pub(crate) fn drop_outbox(&mut self, conv: u32, reason: OutboxDrop) {
        let Some(messages) = self.take_held(conv) else {
            return;
        };
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::OutboxExpired {
            number,
            contact,
            messages,
            reason,
            at: self.clock,
        });
    }

    /// Takes every message `conv` holds out of the outbox, oldest first, and disarms its
    /// expiry.
    fn take_held(&mut self, conv: u32) -> Option<Vec<OutboundMessage>> {
        let held = self.outbox.remove(&conv)?;
        self.timers.disarm(TimerKey::OutboxExpiry(conv));
        Some(held.into_iter().map(|h| h.message).collect())
    }

    /// Whether an opener of `conv`'s held messages is surely still awaited at `now`, once
    /// the timers due by then have fired: the messages due have expired (the last held
    /// expires last), and no restriction barring replies that ends by then releases them or
    /// ends the wait ([`Engine::release_after_restriction`]: when the contact answered
    /// after the opener, or the window is open at the restriction's end). Read before the
    /// timers fire, by a request that must change nothing if refused.
    pub(crate) fn awaits_opener_at(&self, conv: u32, now: Instant) -> bool {
        let Some(last) = self.outbox.get(&conv).and_then(|held| held.last()) else {
            return false;
        };
        if !last.opener.is_awaited() || now >= last.expires_at {
            return false;
        }
        let c = &self.conversations[conv as usize];
        let Some(bar_end) = self.reply_bar_ends(c.number, now).min() else {
            return true;
        };
        let window = c.window.get();
        let answered = (window.last_inbound_at)
            .is_some_and(|answer| last.opener.sent_at.is_none_or(|sent| sent <= answer));
        let open_then = (window.ends_at(&self.policy.window)).is_some_and(|end| bar_end < end);
        !answered && !open_then
    }

    /// The opener an `initiate` for `conv` would hold its message under: the one still
    /// awaiting the contact's answer, if any. Messages are held in order and a new opener
    /// goes out only when none is awaited, so the newest held message names the current one.
    pub(crate) fn awaited_opener(&self, conv: u32) -> Option<&Opener> {
        let last = self.outbox.get(&conv)?.last()?;
        last.opener.is_awaited().then_some(&last.opener)
    }

    /// Whether `conv` holds a message of `content` whose opener failed and none is awaited
    /// since: an `initiate` of it again is the host's retry, which sends a new opener for
    /// it rather than holding it twice or refusing it as a duplicate of itself.
    pub(crate) fn retries_held(&self, conv: u32, content: u64) -> bool {
        self.awaited_opener(conv).is_none()
            && self
                .outbox
                .get(&conv)
                .is_some_and(|held| held.iter().any(|h| h.message.content_hash() == content))
    }

    /// The held messages of `conv` await `opener` (a new one, sent for a retry): the last
    /// held message's opener is the one awaited. Returns how many are held.
    pub(crate) fn await_opener(&mut self, conv: u32, opener: Opener) -> u32 {
        let held = self.outbox.get_mut(&conv).expect("a retry holds messages");
        if let Some(last) = held.last_mut() {
            last.opener = opener;
        }
        held.len() as u32
    }

    /// The messages `conv` holds, if any.
    fn held_mut(&mut self, conv: u32) -> Option<&mut Vec<HeldMessage>> {
        // Nearly always nothing is held, and a lookup in an empty map still hashes.
        if self.outbox.is_empty() {
            return None;
        }
        self.outbox.get_mut(&conv)
    }

    /// The contact wrote at `at` in a window that was past (or inside the safety margin)
    /// when the message arrived, so `conv`'s held messages stay held: the openers sent
    /// before `at` were answered and await nothing more.
    pub(crate) fn openers_answered(&mut self, conv: u32, at: Instant) {
        let Some(held) = self.held_mut(conv) else {
            return;
        };
        // An opener kept without its instant (older snapshots) was sent before any
        // answer the engine is now told of.
        for h in held
            .iter_mut()
            .filter(|h| h.opener.sent_at.is_none_or(|sent| sent <= at))
        {
            h.opener.answered = true;
        }
    }

    /// The provider reported the message `message_id` failed: if it opened `conv`'s held
    /// messages, they await no answer any more (they stay held until the contact answers
    /// or they expire).
    pub(crate) fn opener_failed(&mut self, conv: u32, message_id: &str) {
        let Some(held) = self.held_mut(conv) else {
            return;
        };
        for h in held
            .iter_mut()
            .filter(|h| h.opener.message_id.as_deref() == Some(message_id))
        {
            h.opener.failed = true;
        }
    }

    /// §10 for a message `initiate` would hold for `to` in `conv` (`None`: the number has no
    /// conversation with the contact yet): a duplicate if the same content was sent to the
    /// contact within `dedup.content_period` (from any number of the business, so also when
    /// this one never talked to the contact), or is still held for it in `conv` at any age
    /// (every held copy is released to be sent, however long ago it was held). Held
    /// messages are compared as they are, not recorded as sent: the host's `send` of a
    /// released message is no duplicate of itself.
    pub(crate) fn held_duplicate(
        &self,
        to: Recipient,
        conv: Option<u32>,
        content: u64,
        now: Instant,
    ) -> Option<DenyReason> {
        let content_period = self.policy.dedup.content_period;
        let sent = self
            .sent_within_period(to, content, now)
            .map(|sent_at| (sent_at, content_period));
        // A held copy refuses its duplicates for as long as it is held, so its period is its
        // hold: `retry_at` (`previous_at + period`) then names when it expires, where the
        // content period would name an instant at which a retry is refused again.
        let held = conv
            .and_then(|conv| self.outbox.get(&conv))
            .and_then(|held| {
                held.iter()
                    .filter(|h| now < h.expires_at && h.message.content_hash() == content)
                    .max_by_key(|h| h.expires_at)
                    .map(|h| (h.held_at, h.expires_at.since(h.held_at)))
            });
        // Name the copy that refuses longest, so that the suggested retry is not refused by
        // the other.
        let (previous_at, period) = [sent, held]
            .into_iter()
            .flatten()
            .max_by_key(|&(at, period)| at.plus(period))?;
        Some(DenyReason::Duplicate {
            previous_at,
            period,
        })
    }

    /// Whether the latest send of `content` to `conv`'s contact within the duplicate period
    /// (§10) was an opener of `conv`'s held messages that the provider reported failed. Told
    /// apart by its conversation (another number's copy reached the contact) and its
    /// instant: two sends of one content at one instant need `force`. (An opener the contact
    /// answered reached them: the same template again is a duplicate like any.)
    pub(crate) fn sent_by_failed_opener(&self, conv: u32, content: u64, now: Instant) -> bool {
        let latest = self.sent_content.latest(self.recipient_of(conv), content);
        let Some((expires_at, _)) = latest.filter(|&(at, sender)| now < at && sender == conv)
        else {
            return false;
        };
        let sent_at = expires_at.minus(self.policy.dedup.content_period);
        self.outbox.get(&conv).is_some_and(|held| {
            held.iter()
                .any(|h| h.opener.failed && h.opener.sent_at == Some(sent_at))
        })
    }

    pub(crate) fn outbox_timer(&mut self, conv: u32, now: Instant) {
        let Some(held) = self.outbox.get_mut(&conv) else {
            return;
        };
        // Held in arrival order with one hold period, so expiries are sorted (a restore
        // refuses any other order: `check_saved`). Expire the messages due at the earliest
        // expiry only, so each effect carries its exact instant; later ones come from the
        // re-armed timer.
        let Some(first_at) = held.first().map(|h| h.expires_at) else {
            return;
        };
        if first_at > now {
            self.timers.arm(TimerKey::OutboxExpiry(conv), first_at);
            return;
        }
        let expired_count = held.iter().take_while(|h| h.expires_at == first_at).count();
        let expired: Vec<HeldMessage> = held.drain(..expired_count).collect();
        let at = first_at;
        match held.first() {
            Some(next) => {
                let next_at = next.expires_at;
                self.timers.arm(TimerKey::OutboxExpiry(conv), next_at);
            }
            None => {
                self.outbox.remove(&conv);
            }
        }
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::OutboxExpired {
            number,
            contact,
            messages: expired.into_iter().map(|h| h.message).collect(),
            reason: OutboxDrop::HoldEnded,
            at,
        });
    }
}
