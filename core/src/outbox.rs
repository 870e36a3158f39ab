//! The pending outbox of `initiate` (RULES.md §4): free-form messages held until the contact
//! answers and the window opens, or until they expire.

use crate::effect::Effect;
use crate::engine::{Engine, HeldMessage};
use crate::message::OutboundMessage;
use crate::time::Instant;
use crate::timers::TimerKey;

impl Engine {
    /// Holds a message for `conv` until the contact answers.
    pub(crate) fn hold(&mut self, conv: u32, message: OutboundMessage, now: Instant) -> u32 {
        let expires_at = now.plus(self.policy.outbox.hold_for);
        let held = self.outbox.entry(conv).or_default();
        held.push(HeldMessage {
            message,
            held_at: now,
            expires_at,
        });
        let count = held.len() as u32;
        self.timers.arm(TimerKey::OutboxExpiry(conv), expires_at);
        count
    }

    /// The window opened: hand every held message back to the host.
    pub(crate) fn release_outbox(&mut self, conv: u32, now: Instant) {
        // Nearly always nothing is held, and a removal from an empty map still hashes.
        if self.outbox.is_empty() {
            return;
        }
        let Some(held) = self.outbox.remove(&conv) else {
            return;
        };
        self.timers.disarm(TimerKey::OutboxExpiry(conv));
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::OutboxReleased {
            number,
            contact,
            messages: held.into_iter().map(|h| h.message).collect(),
            at: now,
        });
    }

    pub(crate) fn outbox_timer(&mut self, conv: u32, now: Instant) {
        let Some(held) = self.outbox.get_mut(&conv) else {
            return;
        };
        // Held in arrival order with one hold period, so expiries are sorted. Expire the
        // messages due at the earliest expiry only, so each effect carries its exact instant;
        // later ones come from the re-armed timer.
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
            at,
        });
    }
}
