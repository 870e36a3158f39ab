//! A thread-safe engine for multi-threaded hosts: N [`Engine`] shards behind mutexes.
//!
//! Every business lives whole in one shard (chosen by a stable hash of its name), so
//! business-wide rules — a messaging limit of `business` scope, consent, usage — are decided
//! by one engine under one lock and stay exact however many threads send at once. Inputs
//! that name a number go to the shard its business is in, found through a routing table
//! filled at registration (read-locked on the hot path and while a snapshot is written,
//! write-locked only to register, import, remove or take a business, and to change the
//! policy).
//!
//! Each call returns the effects it caused, drained from the shard while its lock is held:
//! its input's, and those of the timers its instant fired in that shard (a chat of another
//! business in the shard ending, say). Effects never wait in a shard for someone to poll.
//!
//! Each shard keeps its own clock, and like one [`Engine`] expects its inputs in time order
//! (an input older than a shard's clock is applied at the clock). Fed so, the shards give
//! the same decisions, effects and counters as one engine fed every input in time order,
//! only the effects of different shards interleave differently and ticket ids are unique
//! per shard rather than engine-wide (and, after an import into a shard, per business only,
//! as in one engine: see [`crate::partition`]). A `tick` reaches every shard.
//!
//! Views that are "as of the engine's clock" (a number's counters) are as of their shard's
//! clock, which inputs to other shards do not move: one engine fed a later input of another
//! business has fired the number's due timers (a chat ended idle), its shard has not. The
//! decisions agree, since a shard fires its due timers before each of its inputs; for
//! counters as of an instant, `tick` at it first, in either engine.

use std::collections::HashMap;

use parking_lot::{Mutex, MutexGuard, RwLock};
use serde::Deserialize;

use crate::address::{AddressKey, Interner};
use crate::decision::Decision;
use crate::effect::Effect;
use crate::engine::{
    ConversationView, Engine, InboundOutcome, InboundRef, NumberView, Output, TemplateView,
    UsageView,
};
use crate::event::{Event, Inbound, RegisterNumber, SendRequest, UsageRef};
use crate::limits::LimitView;
use crate::number_index::NumberIndex;
use crate::policy::Policy;
use crate::pricing::MonthlyUsage;
use crate::send::SendRequestRef;
use crate::snapshot::{corrupt, Checksum};
use crate::time::Instant;
use crate::webhook::Directory;
use crate::wire::{decode_event_through_serde, encode_effect_into, encode_output_into, read_hot};
use crate::Error;

/// The most shards a [`ShardedEngine`] may have.
pub const MAX_SHARDS: usize = 4096;

/// Where a number's inputs go: phone numbers in a [`NumberIndex`] (so an input naming its
/// number in canonical `+digits` form is routed by comparing words, and every other
/// spelling of the number is parsed to the same address), other ids by text. Also where
/// each provider id (Meta `phone_number_id`, unique engine-wide) is registered, so that a
/// webhook naming only the id, and a registration checking it is free, ask one shard.
#[derive(Debug, Default)]
struct Routes {
    phones: NumberIndex,
    opaque: HashMap<String, u32>,
    provider_ids: HashMap<String, u32>,
}

/// A number as a routing key.
enum NumberKey<'a> {
    Phone(AddressKey),
    Opaque(&'a str),
    /// Not a valid number: any shard gives the same error.
    Invalid,
}

fn number_key(number: &str) -> NumberKey<'_> {
    // An empty interner knows no opaque ids: it only parses phone numbers.
    match Interner::default().find_address(number) {
        Ok(Some(key)) if key.phone_digits().is_some() => NumberKey::Phone(key),
        Ok(Some(_)) => NumberKey::Invalid,
        Ok(None) => NumberKey::Opaque(number),
        Err(_) => NumberKey::Invalid,
    }
}

impl Routes {
    fn get(&self, number: &str) -> Option<u32> {
        if let Some(shard) = self.phones.by_canonical_text(number) {
            return Some(shard);
        }
        self.get_parsed(number)
    }

    #[inline(never)]
    fn get_parsed(&self, number: &str) -> Option<u32> {
        match number_key(number) {
            NumberKey::Phone(key) => self.phones.get(&key).copied(),
            NumberKey::Opaque(text) => self.opaque.get(text).copied(),
            NumberKey::Invalid => None,
        }
    }

    /// Records that provider id `old` is gone and `new` is registered in `shard` (the two
    /// sides of a registration that gave a number another id).
    fn replace_provider_id(&mut self, old: Option<String>, new: Option<String>, shard: u32) {
        if old != new {
            if let Some(old) = old {
                self.provider_ids.remove(&old);
            }
        }
        if let Some(new) = new {
            self.provider_ids.insert(new, shard);
        }
    }

    /// Routes `number` nowhere any more.
    fn remove(&mut self, number: &str) {
        match number_key(number) {
            NumberKey::Phone(key) => {
                self.phones.remove(&key);
            }
            NumberKey::Opaque(text) => {
                self.opaque.remove(text);
            }
            NumberKey::Invalid => {}
        }
    }

    /// Routes `number` to `shard`; a number already routed keeps its shard (callers route a
    /// number only where [`Routes::get`] finds it, or nowhere yet).
    fn insert(&mut self, number: &str, shard: u32) {
        match number_key(number) {
            NumberKey::Phone(key) => {
                self.phones.insert(key, shard);
            }
            NumberKey::Opaque(text) => {
                self.opaque.entry(text.to_owned()).or_insert(shard);
            }
            NumberKey::Invalid => {}
        }
    }
}

/// Which shard(s) an input goes to.
enum Target<'a> {
    Number(&'a str),
    Business(&'a str),
    Register(&'a RegisterNumber),
    /// A consent naming both: the business's shard, which must also hold the number.
    Consent {
        business: &'a str,
        number: &'a str,
    },
    Every,
}

fn target(event: &Event) -> Target<'_> {
    match event {
        Event::RegisterNumber(e) => Target::Register(e),
        Event::RegisterTemplate(e) => Target::Business(&e.business),
        Event::TemplateStatus(e) => Target::Business(&e.business),
        Event::TemplateQuality(e) => Target::Business(&e.business),
        Event::TemplateCategory(e) => Target::Business(&e.business),
        Event::TemplateComponents(e) => Target::Business(&e.business),
        Event::EditTemplate(e) => Target::Business(&e.business),
        Event::QueryTemplate(e) => Target::Business(&e.business),
        Event::OptIn(e) | Event::OptOut(e) => match (&e.business, &e.number) {
            (Some(business), Some(number)) => Target::Consent { business, number },
            (Some(business), None) => Target::Business(business),
            (None, Some(number)) => Target::Number(number),
            // Invalid either way: any shard reports it.
            (None, None) => Target::Number(""),
        },
        Event::QueryUsage(e) => match (&e.business, &e.number) {
            (Some(business), None) => Target::Business(business),
            (_, Some(number)) => Target::Number(number),
            (None, None) => Target::Number(""),
        },
        Event::Inbound(e) => Target::Number(&e.number),
        Event::Send(e) | Event::CheckSend(e) => Target::Number(&e.number),
        Event::Initiate(e) => Target::Number(&e.number),
        Event::EndChat(e) => Target::Number(&e.number),
        Event::SetTicketStatus(e) => Target::Number(&e.number),
        Event::UserPreference(e) => Target::Number(&e.number),
        Event::SendFailed(e) => Target::Number(&e.number),
        Event::MessageStatus(e) => Target::Number(&e.number),
        Event::NumberQuality(e) => Target::Number(&e.number),
        Event::NumberRestriction(e) => Target::Number(&e.number),
        Event::RestrictionLifted(e) => Target::Number(&e.number),
        Event::MessagingLimit(e) => Target::Number(&e.number),
        Event::QueryConversation(e) => Target::Number(&e.number),
        Event::QueryNumber(e) | Event::QueryLimit(e) => Target::Number(&e.number),
        Event::Tick(_) | Event::ChangePolicy(_) => Target::Every,
    }
}

/// N engines behind mutexes, sharded by business. `Send + Sync`: share it by reference or
/// `Arc` between threads. See the module docs.
#[derive(Debug)]
pub struct ShardedEngine {
    shards: Box<[Mutex<Engine>]>,
    routes: RwLock<Routes>,
    /// The policy the shards were made with, readable without a lock: every section but
    /// `pricing` is every shard's (`change_policy` changes pricing alone), and the webhook
    /// reader reads no other. Each shard holds the policy it runs.
    policy: Policy,
}

impl ShardedEngine {
    /// `shards` engines under `policy` (1..=[`MAX_SHARDS`]; about one per thread that will
    /// call it is a good start). A policy [`Engine::try_new`] refuses (one that breaks an
    /// invariant the rules rely on, or sets a period of nothing that decides nothing:
    /// [`Policy::validate_new`]) is its error.
    pub fn new(policy: Policy, shards: usize) -> Result<ShardedEngine, Error> {
        policy.validate_new()?;
        ShardedEngine::with_valid_policy(policy, shards)
    }

    /// [`ShardedEngine::new`] under a policy already checked: a new one, or a saved one
    /// (held to [`Policy::validate`] alone, as [`Engine::restore`] holds it).
    fn with_valid_policy(policy: Policy, shards: usize) -> Result<ShardedEngine, Error> {
        if !(1..=MAX_SHARDS).contains(&shards) {
            return Err(Error::InvalidEvent {
                problem: format!("a sharded engine needs 1..={MAX_SHARDS} shards, got {shards}"),
            });
        }
        Ok(ShardedEngine {
            shards: (0..shards)
                .map(|_| Mutex::new(Engine::new(policy.clone())))
                .collect(),
            routes: RwLock::new(Routes::default()),
            policy,
        })
    }

    /// Like [`ShardedEngine::new`] under a preset.
    pub fn with_preset(name: &str, shards: usize) -> Result<ShardedEngine, Error> {
        ShardedEngine::new(Policy::preset(name)?, shards)
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The latest instant any shard has seen (each keeps its own clock: see the module
    /// docs); the epoch before any input.
    pub fn clock(&self) -> Instant {
        let clocks = self.shards.iter().map(|shard| shard.lock().clock());
        clocks.max().unwrap_or_default()
    }

    /// Whether a shard other than `home` has a number registered with provider id `id`
    /// (Meta `phone_number_id`), which is unique engine-wide. Called under the routing
    /// table's write lock, so no other thread registers or imports meanwhile.
    fn provider_id_elsewhere(routes: &Routes, id: &str, home: usize) -> bool {
        routes
            .provider_ids
            .get(id)
            .is_some_and(|&shard| shard as usize != home)
    }

    /// The shard a business lives in: a stable hash of its name, the same in every process
    /// with the same shard count.
    pub fn shard_of_business(&self, business: &str) -> usize {
        (crate::hash::content_hash(&[business.as_bytes()]) % self.shards.len() as u64) as usize
    }

    fn shard_of_number(&self, number: &str) -> usize {
        // An unknown number gives the same `unknown_number` error in any shard.
        self.routes.read().get(number).unwrap_or(0) as usize
    }

    /// The engine of `number`'s shard, locked.
    fn number_shard(&self, number: &str) -> MutexGuard<'_, Engine> {
        self.shards[self.shard_of_number(number)].lock()
    }

    /// The engine of `business`'s shard, locked.
    fn business_shard(&self, business: &str) -> MutexGuard<'_, Engine> {
        self.shards[self.shard_of_business(business)].lock()
    }

    fn drain(engine: &mut Engine, effects: &mut Vec<Effect>) {
        while let Some(effect) = engine.poll_effect() {
            effects.push(effect);
        }
    }

    /// Applies one input in the shard it belongs to; the effects it caused are appended to
    /// `effects`. A `tick` goes to every shard (its output is one `Ack`).
    pub fn handle(&self, event: Event, effects: &mut Vec<Effect>) -> Result<Output, Error> {
        let shard = match target(&event) {
            Target::Number(number) => self.shard_of_number(number),
            Target::Business(business) => self.shard_of_business(business),
            Target::Consent { business, number } => {
                let home = self.shard_of_business(business);
                let routed = self.routes.read().get(number);
                match routed {
                    // Routed elsewhere, the number is another business's: refused as one
                    // engine refuses it, once the home shard has checked the business.
                    Some(other) if other as usize != home => {
                        self.shards[home].lock().business_idx(business)?;
                        return Err(Error::not_a_number_of(number, business));
                    }
                    _ => home,
                }
            }
            Target::Register(e) => {
                // Routing and registering under one write lock, so that two threads cannot
                // register one number in two shards.
                let mut routes = self.routes.write();
                let shard = routes
                    .get(&e.number)
                    .map_or_else(|| self.shard_of_business(&e.business), |s| s as usize);
                let id_held_elsewhere = e
                    .phone_number_id
                    .as_deref()
                    .is_some_and(|id| Self::provider_id_elsewhere(&routes, id, shard));
                let mut engine = self.shards[shard].lock();
                let old_id = engine.provider_id_of(&e.number);
                let result = engine.register_number_in_shard(e, id_held_elsewhere);
                Self::drain(&mut engine, effects);
                if result.is_ok() {
                    routes.insert(&e.number, shard as u32);
                    let new_id = engine.provider_id_of(&e.number);
                    routes.replace_provider_id(old_id, new_id, shard as u32);
                }
                return result.map(|()| Output::ack(event.type_name()));
            }
            Target::Every => {
                // A policy change goes to every shard under the routing table's write lock,
                // which a snapshot holds (read) while it writes the shards: it sees the
                // change in all of them or none (a restore refuses shards of two policies).
                let _routes = matches!(event, Event::ChangePolicy(_)).then(|| self.routes.write());
                let mut result = Ok(Output::ack(event.type_name()));
                let start = effects.len();
                let mut run_ends = Vec::with_capacity(self.shards.len());
                for shard in self.shards.iter() {
                    let mut engine = shard.lock();
                    let r = engine.handle(event.clone());
                    Self::drain(&mut engine, effects);
                    run_ends.push(effects.len());
                    if r.is_err() {
                        result = r;
                    }
                }
                // A tick's effects are its timers', in time order across the shards as in
                // one engine. A policy change's own effects follow each shard's timers, so
                // they keep the shards' order (merged by instant, a shard's change would
                // come before another's timer of the same instant).
                if matches!(event, Event::Tick(_)) {
                    merge_in_time_order(effects, start, &run_ends);
                }
                return result;
            }
        };
        let mut engine = self.shards[shard].lock();
        let result = engine.handle(event);
        Self::drain(&mut engine, effects);
        result
    }

    /// [`Engine::inbound`] in the number's shard.
    pub fn inbound(&self, e: &Inbound, effects: &mut Vec<Effect>) -> Result<InboundOutcome, Error> {
        let mut engine = self.number_shard(&e.number);
        let result = engine.inbound(e);
        Self::drain(&mut engine, effects);
        result
    }

    /// [`Engine::send`] in the number's shard.
    pub fn send(&self, req: &SendRequest, effects: &mut Vec<Effect>) -> Result<Decision, Error> {
        let mut engine = self.number_shard(&req.number);
        let result = engine.send(req);
        Self::drain(&mut engine, effects);
        result
    }

    /// [`Engine::check_send`] in the number's shard (changes nothing).
    pub fn check_send(&self, req: &SendRequest) -> Result<Decision, Error> {
        self.number_shard(&req.number).check_send(req)
    }

    /// [`Engine::inbound_borrowed`] in the number's shard: the typed call over borrowed
    /// text, for hosts that hold the strings themselves (the C library, batches).
    pub fn inbound_borrowed(
        &self,
        e: InboundRef<'_>,
        effects: &mut Vec<Effect>,
    ) -> Result<InboundOutcome, Error> {
        let mut engine = self.number_shard(e.number);
        let result = engine.inbound_borrowed(e);
        Self::drain(&mut engine, effects);
        result
    }

    /// [`Engine::send_borrowed`] in the number's shard.
    pub fn send_borrowed(
        &self,
        req: SendRequestRef<'_>,
        effects: &mut Vec<Effect>,
    ) -> Result<Decision, Error> {
        let mut engine = self.number_shard(req.number);
        let result = engine.send_borrowed(req);
        Self::drain(&mut engine, effects);
        result
    }

    /// [`Engine::check_send_borrowed`] in the number's shard (changes nothing).
    pub fn check_send_borrowed(&self, req: SendRequestRef<'_>) -> Result<Decision, Error> {
        self.number_shard(req.number).check_send_borrowed(req)
    }

    /// The JSON-lines door, as [`Engine::handle_json`]: the result line, then one line per
    /// effect the input caused.
    pub fn handle_json(&self, line: &str) -> Vec<String> {
        let mut text = String::with_capacity(1024);
        self.handle_json_into(line, &mut text);
        // JSON escapes line breaks inside strings, so every `\n` ends a line.
        text.split_terminator('\n').map(str::to_owned).collect()
    }

    /// The JSON-lines door as [`Engine::handle_json_into`]: each output line, followed by
    /// `\n`, appended to `out`. The lines are written after the shard's lock is released.
    pub fn handle_json_into(&self, line: &str, out: &mut String) {
        let mut effects = Vec::new();
        let result = match read_hot(line) {
            Some(event) => {
                let mut engine = self.number_shard(event.number());
                let result = engine.handle_hot(&event);
                Self::drain(&mut engine, &mut effects);
                result
            }
            None => {
                decode_event_through_serde(line).and_then(|event| self.handle(event, &mut effects))
            }
        };
        encode_output_into(&result, out);
        out.push('\n');
        for effect in &effects {
            encode_effect_into(effect, out);
            out.push('\n');
        }
    }

    /// Fires due timers in every shard ([`Engine::handle_timeout`]).
    /// Their effects come in time order across the shards, as one engine's would at
    /// distinct instants; effects of one instant come shard by shard, the lower shard's
    /// first (one engine orders them by timer kind, then conversation).
    pub fn handle_timeout(&self, now: Instant, effects: &mut Vec<Effect>) {
        let start = effects.len();
        let mut run_ends = Vec::with_capacity(self.shards.len());
        for shard in self.shards.iter() {
            let mut engine = shard.lock();
            engine.handle_timeout(now);
            Self::drain(&mut engine, effects);
            run_ends.push(effects.len());
        }
        merge_in_time_order(effects, start, &run_ends);
    }

    /// [`Engine::conversation`] in the number's shard: the view at `at`, refused before
    /// that shard's clock. [`ShardedEngine::clock`], the latest of all, is not before it
    /// when read, but another thread may move the shard past it before this call: then ask
    /// again at a fresh clock.
    pub fn conversation(
        &self,
        number: &str,
        contact: &str,
        at: Instant,
    ) -> Result<ConversationView, Error> {
        self.number_shard(number).conversation(number, contact, at)
    }

    /// [`Engine::number`] in the number's shard: as of that shard's clock, read under its
    /// lock (never refused for being before it, as a view at [`ShardedEngine::clock`] may
    /// be once another thread moved the shard on).
    pub fn number(&self, number: &str) -> Result<NumberView, Error> {
        self.number_shard(number).number(number)
    }

    /// [`Engine::number_at`] in the number's shard.
    pub fn number_at(&self, number: &str, at: Instant) -> Result<NumberView, Error> {
        self.number_shard(number).number_at(number, at)
    }

    /// [`Engine::limit`] in the number's shard.
    pub fn limit(&self, number: &str, at: Instant) -> Result<LimitView, Error> {
        self.number_shard(number).limit(number, at)
    }

    /// [`Engine::template`] in the business's shard: as of that shard's clock, read under
    /// its lock.
    pub fn template(
        &self,
        business: &str,
        name: &str,
        language: &str,
    ) -> Result<TemplateView, Error> {
        self.business_shard(business)
            .template(business, name, language)
    }

    /// [`Engine::template_at`] in the business's shard.
    pub fn template_at(
        &self,
        business: &str,
        name: &str,
        language: &str,
        at: Instant,
    ) -> Result<TemplateView, Error> {
        self.business_shard(business)
            .template_at(business, name, language, at)
    }

    /// [`Engine::usage`] (a month's usage of a number, `YYYYMM`) in the number's shard.
    pub fn usage(&self, number: &str, month: u32) -> Result<MonthlyUsage, Error> {
        self.number_shard(number).usage(number, month)
    }

    /// [`Engine::business_usage`] in the business's shard.
    pub fn business_usage(&self, business: &str, month: u32) -> Result<MonthlyUsage, Error> {
        self.business_shard(business)
            .business_usage(business, month)
    }

    /// [`Engine::usage_view`] in the shard of the number or business it names (a query
    /// naming neither or both is refused there as in one engine).
    pub fn usage_view(&self, query: &UsageRef) -> Result<UsageView, Error> {
        let shard = match (&query.number, &query.business) {
            (Some(number), None) => self.shard_of_number(number),
            (None, Some(business)) => self.shard_of_business(business),
            _ => 0,
        };
        self.shards[shard].lock().usage_view(query)
    }

    /// The earliest instant any shard wants [`ShardedEngine::handle_timeout`] called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.shards
            .iter()
            .filter_map(|s| s.lock().poll_timeout())
            .min()
    }

    /// Runs `f` on the engine of one shard, under its lock (reads, views, snapshots of one
    /// shard). Do not register, import or remove through it, nor replace the engine: the
    /// routing table (numbers, provider ids) and the policy the shards share would not see
    /// it. Nor call this `ShardedEngine` from `f`: the shard's lock is not reentrant, so a
    /// call that needs the same shard (any call, when there is one shard) waits on the lock
    /// `f` holds, forever.
    pub fn with_shard<R>(&self, shard: usize, f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
        self.shards.get(shard).map(|s| f(&mut s.lock()))
    }

    /// [`Engine::export_business`] from the business's shard (under its lock only). To move
    /// the business out while other threads run, [`ShardedEngine::take_business`] exports
    /// and removes it in one step.
    pub fn export_business(&self, business: &str) -> Result<Vec<u8>, Error> {
        self.business_shard(business).export_business(business)
    }

    /// [`Engine::import_business`] into the business's shard, routing its numbers there; the
    /// effects it caused (timers of the shard or of the business that fell due between the
    /// two clocks, fired at their instants) are appended to `effects`. A number, or a
    /// `phone_number_id`, already held in another shard is refused, as a single engine
    /// would. An export with one fault gets one engine's error; with several, the one named
    /// may differ (the home shard's checks run first). Like a removal, it holds the routing
    /// table's write lock throughout, its checks included (they rebuild the business as an
    /// engine of its own): inputs routed by number wait until it returns.
    pub fn import_business(&self, bytes: &[u8], effects: &mut Vec<Effect>) -> Result<(), Error> {
        let export = crate::partition::read_export(bytes)?;
        let home = self.shard_of_business(export.business_name());
        // The routing table's write lock first, as everywhere; two shards are locked at once
        // only under it, so no other thread can hold the second while waiting for the first.
        let mut routes = self.routes.write();
        let mut engine = self.shards[home].lock();
        // The home shard's checks come first (the policy, the business already there, its own
        // numbers), so that a refusal reads as a single engine's.
        engine.check_import(&export)?;
        let numbers = export.numbers();
        // Then what only other shards know, number by number in one engine's order.
        for (number, id) in &numbers {
            if let Some(id) = id
                .as_deref()
                .filter(|id| Self::provider_id_elsewhere(&routes, id, home))
            {
                return Err(Error::phone_number_id_imported_twice(id));
            }
            if let Some(other) = routes.get(number).filter(|&s| s as usize != home) {
                let owner = self.shards[other as usize]
                    .lock()
                    .number(number)
                    .map(|view| view.business)
                    .unwrap_or_default();
                return Err(Error::number_owned_by_other(
                    number,
                    &owner,
                    export.business_name(),
                ));
            }
        }
        engine.apply_import(export)?;
        // Returned here, not left queued: taken away before the shard's next call, the
        // business would see its own later effects come out before these.
        Self::drain(&mut engine, effects);
        for (number, id) in numbers {
            routes.insert(&number, home as u32);
            routes.replace_provider_id(None, id, home as u32);
        }
        Ok(())
    }

    /// [`Engine::remove_business`] in the business's shard, and its numbers unrouted. Like
    /// an import, it holds the routing table's write lock throughout, so that no number is
    /// registered or routed while it and its shard disagree: inputs routed by number wait
    /// until it returns (about 0.13 s for a million conversations in the shard), the others
    /// (`tick`, inputs naming a business) go on in the other shards.
    ///
    /// Between an [`ShardedEngine::export_business`] and this call other threads may apply
    /// inputs to the business, which are then in neither the export nor the engine: to move
    /// a business while threads run, use [`ShardedEngine::take_business`].
    pub fn remove_business(&self, business: &str) -> Result<(), Error> {
        self.remove_with(business, |shard| shard.remove_business(business))
    }

    /// [`Engine::take_business`] in the business's shard, and its numbers unrouted: the
    /// export and the removal under one hold of the routing table's write lock and the
    /// shard's lock (taken as [`ShardedEngine::remove_business`] takes them), so that every
    /// input another thread applies to the business is either in the export or, applied
    /// after it, refused as an unknown number or business (a registration naming the
    /// business creates it anew, as for any business not held: route those to its new
    /// node). All or nothing: an error (an
    /// unknown business is [`Error::UnknownBusiness`], as for an export) changes nothing.
    /// Inputs routed by number wait while it runs, as for a removal.
    pub fn take_business(&self, business: &str) -> Result<Vec<u8>, Error> {
        self.remove_with(business, |shard| shard.take_business(business))
    }

    /// Runs `remove`, which drops `business` from its shard (or errs having changed
    /// nothing), under the routing table's write lock and then the shard's, and on success
    /// unroutes the business's numbers and provider ids.
    fn remove_with<R>(
        &self,
        business: &str,
        remove: impl FnOnce(&mut Engine) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut routes = self.routes.write();
        let mut shard = self.business_shard(business);
        let numbers: Vec<(String, Option<String>)> = shard
            .numbers()
            .filter(|view| view.business == business)
            .map(|view| {
                let id = shard.provider_id_of(&view.number);
                (view.number, id)
            })
            .collect();
        let removed = remove(&mut shard)?;
        for (number, id) in numbers {
            routes.remove(&number);
            if let Some(id) = id {
                routes.provider_ids.remove(&id);
            }
        }
        Ok(removed)
    }

    /// The whole state as bytes, for [`ShardedEngine::restore`]: a header line (format,
    /// version, shard count and a checksum of the rest), then each shard's
    /// [`Engine::snapshot`] on a line of its own, in shard order. Each shard is written under
    /// its own lock, one after the other, so under traffic the shards are taken at different
    /// moments (a `tick` may be in some and not yet in others): each business is whole and
    /// each shard consistent, which is all a restore needs since no rule spans two shards. A
    /// host replaying its log after a snapshot relies on each shard's own clock.
    ///
    /// Which shard holds each number and provider id does span shards (a restore refuses one
    /// held in two), so the routing table's read lock is held throughout: registrations,
    /// imports and removals wait until the snapshot is written, other inputs go on.
    pub fn snapshot(&self) -> Vec<u8> {
        // Held, a number taken out of a shard already written could not be registered in a
        // shard not written yet, and be written twice. Read-locked first, as everywhere, and
        // no thread waits for the routing table while it holds a shard.
        let _routes = self.routes.read();
        let mut lines = Vec::new();
        for (i, shard) in self.shards.iter().enumerate() {
            if i > 0 {
                lines.push(b'\n');
            }
            // A snapshot is compact JSON: it has no line break of its own.
            lines.extend_from_slice(&shard.lock().snapshot());
        }
        let mut out = format!(
            "{{\"format\":\"{SHARDED_SNAPSHOT_FORMAT}\",\"version\":{SHARDED_SNAPSHOT_VERSION},\"shards\":{},\"checksum\":\"{}\"}}\n",
            self.shards.len(),
            Checksum::CURRENT.hex(&lines)
        )
        .into_bytes();
        out.extend_from_slice(&lines);
        out.push(b'\n');
        out
    }

    /// Rebuilds a sharded engine from [`ShardedEngine::snapshot`] bytes, with as many shards
    /// as it had (a business's shard depends on the count). The header's checksum must match
    /// the shard lines (a line truncated, swapped or replaced is refused), each shard is
    /// checked as [`Engine::restore`] checks a snapshot, and together they must run one
    /// policy, keep each business in the shard its name hashes to, and register each number
    /// once. A shard's own version or policy error is returned as [`Engine::restore`] gives
    /// it; its other problems are named with the shard's index.
    pub fn restore(bytes: &[u8]) -> Result<ShardedEngine, Error> {
        let (header, shards) = match bytes.iter().position(|&b| b == b'\n') {
            Some(end) => (&bytes[..end], &bytes[end + 1..]),
            None => (bytes, &[][..]),
        };
        let shards = shards.strip_suffix(b"\n").unwrap_or(shards);
        let header: ShardedHeader = serde_json::from_slice(header)
            .map_err(|e| corrupt(format!("not a sharded engine snapshot: {e}")))?;
        if header.format != SHARDED_SNAPSHOT_FORMAT {
            let hint = match header.format.as_str() {
                crate::partition::EXPORT_FORMAT => {
                    "a business export imports into a running engine: \
                     ShardedEngine::import_business, C convstate_sharded_engine_import_business, \
                     Python ShardedEngine.import_business"
                }
                _ => {
                    "a single engine's snapshot restores as one engine: Engine::restore, C \
                     convstate_engine_restore, Python Engine.restore"
                }
            };
            return Err(corrupt(format!(
                "format is {:?}, expected {SHARDED_SNAPSHOT_FORMAT:?} ({hint})",
                header.format
            )));
        }
        let readable = READABLE_SHARDED_VERSIONS
            .iter()
            .find(|&&(v, _)| v == header.version);
        let Some(&(_, checksum)) = readable else {
            return Err(Error::UnsupportedSnapshotVersion {
                found: header.version,
                supported: SHARDED_SNAPSHOT_VERSION,
            });
        };
        if !(1..=MAX_SHARDS).contains(&header.shards) {
            return Err(corrupt(format!(
                "{} shards, not 1..={MAX_SHARDS}",
                header.shards
            )));
        }
        if !checksum.is_hex(&header.checksum) {
            return Err(corrupt(format!(
                "the header's checksum is not {} lowercase hex digits",
                checksum.digits()
            )));
        }
        let actual = checksum.hex(shards);
        if header.checksum != actual {
            return Err(corrupt(format!(
                "checksum mismatch: the header records {}, the shards hash to {actual} \
                 (truncated, reordered or altered)",
                header.checksum
            )));
        }
        let engines = shards
            .split(|b| *b == b'\n')
            .enumerate()
            .map(|(i, line)| {
                Engine::restore(line).map_err(|e| match e {
                    Error::CorruptSnapshot { problem } => corrupt(format!("shard {i}: {problem}")),
                    other => other,
                })
            })
            .collect::<Result<Vec<Engine>, Error>>()?;
        if engines.len() != header.shards {
            return Err(corrupt(format!(
                "the header promises {} shards, {} follow",
                header.shards,
                engines.len()
            )));
        }
        // The shards' policy passed `Engine::restore`'s check of a saved policy.
        let policy = engines[0].policy().clone();
        let mut sharded = ShardedEngine::with_valid_policy(policy, header.shards)?;
        let mut routes = Routes::default();
        for (i, engine) in engines.iter().enumerate() {
            if engine.policy() != engines[0].policy() {
                return Err(corrupt(format!(
                    "shard {i} runs another policy than shard 0"
                )));
            }
            for business in &engine.businesses {
                let home = sharded.shard_of_business(&business.name);
                if home != i {
                    return Err(corrupt(format!(
                        "business {:?} is in shard {i}, but its name belongs in shard {home}",
                        business.name
                    )));
                }
            }
            for view in engine.numbers() {
                if routes.get(&view.number).is_some() {
                    return Err(corrupt(format!(
                        "number {} is registered in two shards",
                        view.number
                    )));
                }
                routes.insert(&view.number, i as u32);
            }
            for id in engine.provider_number_ids.keys() {
                if let Some(first) = routes.provider_ids.insert(id.clone(), i as u32) {
                    return Err(corrupt(format!(
                        "phone_number_id {id:?} is registered in shards {first} and {i}"
                    )));
                }
            }
        }
        sharded.shards = engines.into_iter().map(Mutex::new).collect();
        sharded.routes = RwLock::new(routes);
        Ok(sharded)
    }
}

/// The webhook reader's lookups across shards: a number or a provider id through the
/// routing table, a business in the shard its name hashes to, the list of businesses in
/// each shard in turn. One lock at a time, never the routing table's and a shard's at once.
impl Directory for ShardedEngine {
    fn policy(&self) -> &Policy {
        &self.policy
    }

    fn number_by_provider_id(&self, id: &str) -> Option<String> {
        let shard = self.routes.read().provider_ids.get(id).copied()?;
        self.shards[shard as usize].lock().number_by_provider_id(id)
    }

    fn registered_number(&self, number: &str) -> Result<String, Error> {
        let shard = self.shard_of_number(number);
        Ok(self.shards[shard].lock().number(number)?.number)
    }

    fn has_business(&self, business: &str) -> bool {
        self.business_shard(business).business_idx(business).is_ok()
    }

    fn two_businesses(&self) -> Vec<String> {
        let mut found = Vec::new();
        for shard in self.shards.iter() {
            let engine = shard.lock();
            found.extend(engine.businesses().take(2 - found.len()).map(str::to_owned));
            if found.len() == 2 {
                break;
            }
        }
        found
    }

    fn numbers_of(&self, business: &str) -> Vec<String> {
        Directory::numbers_of(&*self.business_shard(business), business)
    }

    fn recorded_send(&self, number: &str, message_id: &str) -> bool {
        let shard = self.shard_of_number(number);
        self.shards[shard].lock().recorded_send(number, message_id)
    }
}

/// The `format` field of a sharded engine snapshot's header line.
pub const SHARDED_SNAPSHOT_FORMAT: &str = "convstate-sharded-snapshot";
/// The sharded snapshot version this build writes (the shards' own snapshots carry their
/// own version). Version 2 changed only the header's checksum, from FNV-1a to CRC-32 (see
/// [`Checksum`]); version 1 is still read.
pub const SHARDED_SNAPSHOT_VERSION: u32 = 2;

/// The sharded snapshot versions this build reads, each with its header's checksum.
const READABLE_SHARDED_VERSIONS: [(u32, Checksum); 2] = [
    (SHARDED_SNAPSHOT_VERSION, Checksum::CURRENT),
    (1, Checksum::Fnv1a64),
];

/// The header line of a sharded engine snapshot. Read leniently (other keys ignored, a
/// missing count is 0) so that the format and the version are what an error names first.
#[derive(Deserialize)]
struct ShardedHeader {
    format: String,
    version: u32,
    #[serde(default)]
    shards: usize,
    /// The checksum of the shard lines, joined by `\n`, as the version sums them ([`Checksum`]).
    #[serde(default)]
    checksum: String,
}

/// Merges the runs of `effects[start..]` (each shard's, ending at `run_ends`, each in the
/// order its shard made them) into one sequence by instant, as one engine holding every
/// business would have made them at distinct instants: the timers of several shards fire in
/// time order, not shard by shard. Each run keeps its own order; of effects at one instant
/// in two runs, the earlier shard's come first (one engine orders those by timer kind and
/// conversation, which firing the shards' timers one at a time in lockstep would give).
fn merge_in_time_order(effects: &mut Vec<Effect>, start: usize, run_ends: &[usize]) {
    // Each run as the range of it not yet merged: `next..end`.
    let mut runs: Vec<(usize, usize)> = Vec::with_capacity(run_ends.len());
    let mut from = start;
    for &end in run_ends {
        if from < end {
            runs.push((from, end));
        }
        from = end;
    }
    if runs.len() < 2 {
        return;
    }
    let mut order = Vec::with_capacity(effects.len() - start);
    // The run whose next effect is earliest; the first such run on a tie.
    while let Some(run) = (runs.iter_mut())
        .filter(|(next, end)| next < end)
        .min_by_key(|(next, _)| effects[*next].at())
    {
        order.push(run.0 - start);
        run.0 += 1;
    }
    let mut taken: Vec<Option<Effect>> = effects.drain(start..).map(Some).collect();
    effects.extend(order.into_iter().filter_map(|i| taken[i].take()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn a_new_sharded_engine_refuses_what_a_new_engine_refuses_and_a_saved_one_restores() {
        // `new` held a policy to `Policy::validate` alone, so a host's policy with a text
        // limit of 0 characters made a sharded engine denying every text, where
        // `Engine::try_new` refused it (review).
        let mut policy = Policy::preset("cloud-2025").unwrap();
        policy.content.text_max_chars = 0;
        let single = Engine::try_new(policy.clone()).unwrap_err();
        let sharded = ShardedEngine::new(policy.clone(), 2).unwrap_err();
        assert_eq!(sharded, single);
        assert!(
            sharded.to_string().contains("content.text_max_chars"),
            "{sharded}"
        );
        // A state saved under a setting refused since still restores, as a single
        // engine's does (`Engine::restore`).
        policy.content.text_max_chars = 1000;
        policy.pricing.free_entry_point = Some(Duration::ZERO);
        assert!(ShardedEngine::new(policy.clone(), 2).is_err());
        let saved = ShardedEngine::with_valid_policy(policy.clone(), 2).unwrap();
        let restored = ShardedEngine::restore(&saved.snapshot()).unwrap();
        assert_eq!(restored.policy(), &policy);
    }
}
