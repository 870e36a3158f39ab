//! Per-business export and import: moving one business between engines.
//!
//! A host that outgrows one machine partitions businesses across nodes (say one partition
//! per Kafka partition key) and moves a business by exporting it from one engine and
//! importing it into another. Everything a business owns travels: its numbers, templates,
//! conversations, live chats, held messages, consents, contact links, duplicate records,
//! billing, usage, messaging limits, armed timers and the messages sent in its
//! conversations that await delivery statuses (since export version 2). Indices are
//! remapped on both sides and interned addresses travel as text, so the two engines need not
//! share any numbering.
//!
//! Since export version 3 the idempotency keys of sends from the business's numbers and the
//! inbound message ids received at them travel too, so a send retried after a move gets
//! its first decision back and an inbound webhook redelivered to the new node is
//! recognised (keys and ids restored from a snapshot older than version 4 belong to no
//! number, so they stay behind). Of these tables that forget, only the entries still live
//! travel.
//!
//! Engine-wide state does not travel: queued effects (drain them before exporting) and the
//! ticket counter. The importing engine continues from the larger of the two counters, and
//! the business keeps its tickets' ids: ids stay increasing and unique within a business
//! (and a conversation), but after an import two businesses of one engine may hold the
//! same id, so a host keys tickets by business (or by number and contact) as well. The
//! export is a copy: the source keeps the business until the host removes it with
//! [`Engine::remove_business`], which completes the move (and stops the source's timers for
//! the business, which would otherwise fire on both nodes). [`Engine::take_business`] does
//! both in one step: on a [`crate::sharded::ShardedEngine`] that threads share, an input
//! applied between a separate export and removal would be in neither, and a take holds the
//! locks throughout, so each input is in the export or refused after it as unknown (a
//! `register_number` or `register_template` naming the business creates it anew, as for any
//! business the engine does not hold: route registrations to its new node).
//!
//! One engine has one clock, and an import leaves it at the later of the two engines'
//! clocks. Whichever side was behind first runs its timers up to the other's clock, each at
//! its own instant (a chat that fell idle in between ends when it did, a window's reminder
//! comes before the window's end), as one engine holding both would have; their effects
//! are the import's (queued for [`Engine::poll_effect`]; a sharded import returns them).
//! Inputs dated before the clock are judged at it, so if the two nodes' clocks differ, the
//! businesses of the node that was behind are judged from then on at the other's time: a
//! reply a second before a window's end on the lagging node may find it closed. Move a
//! business when the streams feeding the two nodes have reached the same instant (pause
//! both partitions there), and a move changes no decision, even where a node's clock is
//! behind that instant because its last input was older (a quiet node).
//!
//! The bytes are versioned JSON built from the same serde types as [`crate::snapshot`].

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::address::{AddressKey, Interner};
use crate::chat::LiveChat;
use crate::conversation::Conversation;
use crate::decision::Decision;
use crate::delivery::SentMessage;
use crate::effect::Effect;
use crate::engine::{Business, ConsentRecord, Engine, HeldMessage, Template};
use crate::keys::{host_key, inbound_key, inbound_key_parts, scoped_key};
use crate::limits::StoredLimit;
use crate::number::NumberState;
use crate::policy::{LimitScope, Policy};
use crate::pricing::{ConversationBilling, MonthlyUsage};
use crate::send::Remembered;
use crate::sent_content::SentContent;
use crate::snapshot::{
    check_by_position, corrupt, json_text, seal_as, unseal_as, Checksum, SnapshotBody,
    StoredTemplate,
};
use crate::template::parse_variables;
use crate::time::Instant;
use crate::timers::{TimerKey, TimerTargets};
use crate::Error;

/// The `format` field of every business export.
pub const EXPORT_FORMAT: &str = "convstate-business";
/// The export format version this build writes. Version 2 added the business's sent
/// messages, version 3 its idempotency keys and inbound message ids; version 4 wraps the
/// export in the snapshots' checksummed envelope, so that damage in transit is refused
/// rather than imported. Older exports (without them) are still read.
pub const EXPORT_VERSION: u32 = 4;

/// The first version written inside the checksummed envelope.
const FIRST_SEALED_VERSION: u32 = 4;

/// One business, with indices local to the export (numbers, templates and conversations
/// numbered from 0 in the source's order) and non-phone addresses as indices into
/// `interned`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BusinessExport {
    format: String,
    version: u32,
    policy: Policy,
    clock: Instant,
    next_ticket: u64,
    interned: Vec<String>,
    business: Business,
    numbers: Vec<NumberState>,
    templates: Vec<Template>,
    conversations: Vec<Conversation>,
    live_chats: Vec<(u32, LiveChat)>,
    outbox: Vec<(u32, Vec<HeldMessage>)>,
    consents: Vec<(AddressKey, ConsentRecord)>,
    sent_content: Vec<(Instant, u32, u64)>,
    timers: Vec<(TimerKey, Instant)>,
    limits: Vec<StoredLimit>,
    billing: Vec<(u32, ConversationBilling)>,
    usage: Vec<((u32, u32), MonthlyUsage)>,
    backoffs: Vec<(u32, crate::delivery::Backoff)>,
    /// Messages sent in the business's conversations, awaiting delivery statuses (the
    /// conversation and template as local indices). Since version 2.
    #[serde(default)]
    sent_messages: Vec<(String, Instant, SentMessage)>,
    /// Idempotency keys of sends from the business's numbers: when given, the first
    /// decision and the number (a local index). Since version 3.
    #[serde(default)]
    idempotency: Vec<(String, Instant, Decision, u32)>,
    /// The request each of `idempotency` was first given for, by position (`null`: any);
    /// absent from exports written before it was kept: any, for every key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    idempotency_requests: Vec<Option<u64>>,
    /// Inbound message ids received at the business's numbers: when, and the number (a
    /// local index). Since version 3.
    #[serde(default)]
    inbound_ids: Vec<(String, Instant, u32)>,
    /// The sender of each of `inbound_ids` as the provider named it (a key into `interned`
    /// like the contacts'), by position; `None`, as for all when absent (exports written
    /// before it was kept), when not known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    inbound_id_senders: Vec<Option<AddressKey>>,
    /// Other names of the business's contacts, as (alias, contact key). Absent when there
    /// are none, so that such an export reads as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    contact_links: Vec<(AddressKey, AddressKey)>,
    /// Names of one user kept apart that hold one consent, as (name, next name of its
    /// group). Absent when there are none, so that such an export reads as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    consent_groups: Vec<(AddressKey, AddressKey)>,
    /// The latest instant an inbound named each phone number and user id of the business's
    /// contacts in a pair that stands, as (name, instant). Absent when there are none, so
    /// that such an export reads as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    link_dates: Vec<(AddressKey, Instant)>,
    /// The latest change of hands of each of the business's phone numbers that changed
    /// hands, as (phone, (instant, another name of the previous owner)). Absent when there are
    /// none, so that such an export reads as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    handovers: Vec<(AddressKey, (Instant, AddressKey))>,
    /// Email tickets' response times, by local conversation. Absent when there are none,
    /// so that such an export reads as before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ticket_responses: Vec<(u32, crate::TicketResponses)>,
}

const TAG_MASK: u64 = 3 << 62;

/// Old → new index of a dense subset (`u32::MAX`: not in the subset).
struct Remap(Vec<u32>);

impl Remap {
    fn new(len: usize) -> Remap {
        Remap(vec![u32::MAX; len])
    }
    fn get(&self, old: u32) -> Option<u32> {
        self.0.get(old as usize).copied().filter(|&i| i != u32::MAX)
    }

    /// The items `port` keeps (rewritten), in their order, and the map from their old
    /// positions to their new ones.
    fn retain<T>(items: Vec<T>, mut port: impl FnMut(T) -> Option<T>) -> (Vec<T>, Remap) {
        let mut map = Remap::new(items.len());
        let mut kept = Vec::with_capacity(items.len());
        for (old, item) in items.into_iter().enumerate() {
            if let Some(item) = port(item) {
                map.0[old] = kept.len() as u32;
                kept.push(item);
            }
        }
        (kept, map)
    }
}

/// Rewrites `index` through `map`; whether it is kept (`map` gives a new one).
fn rewrite<T: Copy>(index: &mut T, map: impl Fn(T) -> Option<T>) -> bool {
    map(*index).map(|new| *index = new).is_some()
}

/// The export in `bytes`, after checking its format, version and (since version 4)
/// checksum.
pub(crate) fn read_export(bytes: &[u8]) -> Result<BusinessExport, Error> {
    serde_json::from_str(export_object(bytes)?).map_err(|e| corrupt(e.to_string()))
}

/// The JSON object of an export: the body of its checksummed envelope (version 4 on), or
/// the whole text (versions 1 to 3), after checking the format and version. Whitespace
/// after it (the line break a file or pipe adds) is ignored.
fn export_object(bytes: &[u8]) -> Result<&str, Error> {
    #[derive(Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let bytes = bytes.trim_ascii_end();
    let (object, sealed) = match unseal_as(EXPORT_FORMAT, EXPORT_VERSION, Checksum::CURRENT, bytes)
    {
        Some(body) => (body?, true),
        None => (bytes, false),
    };
    let text = json_text(object)?;
    let header: Header = serde_json::from_str(text).map_err(|e| {
        // A sharded snapshot is a header line and a line per shard: named by its first line.
        #[derive(Deserialize)]
        struct Format {
            format: String,
        }
        let first_line = text.split('\n').next().unwrap_or_default();
        match serde_json::from_str::<Format>(first_line) {
            Ok(Format { format }) if format != EXPORT_FORMAT => wrong_format(&format),
            _ => not_an_export(e),
        }
    })?;
    if header.format != EXPORT_FORMAT {
        return Err(wrong_format(&header.format));
    }
    if !(1..=EXPORT_VERSION).contains(&header.version) {
        return Err(Error::UnsupportedSnapshotVersion {
            found: header.version,
            supported: EXPORT_VERSION,
        });
    }
    if !sealed && header.version >= FIRST_SEALED_VERSION {
        return Err(corrupt(format!(
            "a version {} export comes in a checksummed envelope, and this one has none \
             (altered, or not written by export_business)",
            header.version
        )));
    }
    Ok(text)
}

/// Checks an export's ids or keys (`what`, each with when it was given): each is listed
/// once and `clashes` with no live entry of the importing engine.
fn check_new<'a>(
    entries: impl Iterator<Item = (&'a str, Instant)>,
    what: &str,
    business: &str,
    clashes: impl Fn(&str, Instant) -> bool,
) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for (key, at) in entries {
        if !seen.insert(key) {
            return Err(corrupt(format!("{what} {key:?} is listed twice")));
        }
        if clashes(key, at) {
            return Err(Error::InvalidEvent {
                problem: format!(
                    "{what} {key:?} of business {business:?} is already recorded in this engine"
                ),
            });
        }
    }
    Ok(())
}

/// The items (with their numbers, a parallel list) whose number stays, renumbered, and
/// those of no number.
fn retain_numbered<T>(
    items: Vec<T>,
    numbers: Vec<Option<u32>>,
    number_map: &Remap,
) -> (Vec<T>, Vec<Option<u32>>) {
    debug_assert_eq!(
        items.len(),
        numbers.len(),
        "an engine's body lists every number"
    );
    items
        .into_iter()
        .zip(numbers)
        .filter_map(|(item, number)| match number {
            None => Some((item, None)),
            Some(n) => Some((item, Some(number_map.get(n)?))),
        })
        .unzip()
}

/// Where the numbers, templates, conversations and limit owners that move (or stay) go.
struct Ported<'a> {
    numbers: &'a Remap,
    templates: &'a Remap,
    conversations: &'a Remap,
    owners: &'a dyn Fn(u32) -> Option<u32>,
}

impl Ported<'_> {
    /// `key` naming the new index of what it names, if that moves (or stays).
    fn timer(&self, key: TimerKey) -> Option<TimerKey> {
        Some(match key {
            TimerKey::ChatIdle(c) => TimerKey::ChatIdle(self.conversations.get(c)?),
            TimerKey::WindowReminder(c) => TimerKey::WindowReminder(self.conversations.get(c)?),
            TimerKey::OutboxExpiry(c) => TimerKey::OutboxExpiry(self.conversations.get(c)?),
            TimerKey::TemplateDeadline(t) => TimerKey::TemplateDeadline(self.templates.get(t)?),
            TimerKey::NumberFlag(n) => TimerKey::NumberFlag(self.numbers.get(n)?),
            TimerKey::RestrictionEnd(n) => TimerKey::RestrictionEnd(self.numbers.get(n)?),
            TimerKey::LimitUpgrade(o) => TimerKey::LimitUpgrade((self.owners)(o)?),
        })
    }

    /// Entries keyed by conversation, for the conversations that move (or stay).
    fn by_conversation<V>(&self, entries: Vec<(u32, V)>) -> Vec<(u32, V)> {
        entries
            .into_iter()
            .filter_map(|(c, v)| Some((self.conversations.get(c)?, v)))
            .collect()
    }
}

/// Rewrites non-phone addresses to indices into a local string table.
struct Porter<'a> {
    interner: &'a Interner,
    strings: Vec<String>,
    /// The engine's string index → the export's (tags left off).
    by_old: crate::hash::FastMap<u64, u64>,
}

impl Porter<'_> {
    fn port(&mut self, key: AddressKey) -> AddressKey {
        if key.0 & TAG_MASK == 0 {
            return key;
        }
        // Keyed by the string, not the tagged key: an opaque id and a group id of one text
        // share an interned string, which the export lists once (a string listed twice is
        // refused as corrupt). The import maps one index for both tags.
        let old = key.0 & !TAG_MASK;
        let local = *self.by_old.entry(old).or_insert_with(|| {
            self.strings.push(self.interner.display(key));
            self.strings.len() as u64 - 1
        });
        AddressKey((key.0 & TAG_MASK) | local)
    }
}

impl Engine {
    /// One business's state as bytes for [`Engine::import_business`]; see the module docs
    /// for what travels. The engine is not changed.
    pub fn export_business(&self, business: &str) -> Result<Vec<u8>, Error> {
        let b = self.business_idx(business)?;
        let mut porter = Porter {
            interner: &self.interner,
            strings: Vec::new(),
            by_old: Default::default(),
        };

        let mut number_map = Remap::new(self.numbers.len());
        let mut numbers = Vec::new();
        for (i, n) in self.numbers.iter().enumerate() {
            if n.business == b {
                number_map.0[i] = numbers.len() as u32;
                let mut n = n.clone();
                n.business = 0;
                n.address = porter.port(n.address);
                numbers.push(n);
            }
        }
        let mut template_map = Remap::new(self.templates.len());
        let mut templates = Vec::new();
        for (i, t) in self.templates.iter().enumerate() {
            if t.business == b {
                template_map.0[i] = templates.len() as u32;
                let mut t = t.clone();
                t.disable_undo = t.undo_to_keep();
                t.set_business(0);
                templates.push(t);
            }
        }
        let mut conv_map = Remap::new(self.conversations.len());
        let mut conversations = Vec::new();
        for (i, c) in self.conversations.iter().enumerate() {
            if let Some(number) = number_map.get(c.number) {
                conv_map.0[i] = conversations.len() as u32;
                let mut c = c.clone();
                c.number = number;
                c.contact = porter.port(c.contact);
                conversations.push(c);
            }
        }
        let owner_map = |owner: u32| match self.policy.limits.scope {
            LimitScope::Number => number_map.get(owner),
            LimitScope::Business => (owner == b).then_some(0),
        };

        fn by_conv<V: Clone>(
            map: &crate::hash::FastMap<u32, V>,
            conv_map: &Remap,
        ) -> Vec<(u32, V)> {
            let mut v: Vec<(u32, V)> = map
                .iter()
                .filter_map(|(c, v)| Some((conv_map.get(*c)?, v.clone())))
                .collect();
            v.sort_unstable_by_key(|(c, _)| *c);
            v
        }
        let live_chats: Vec<(u32, LiveChat)> = self
            .live_chats()
            .filter_map(|(c, chat)| Some((conv_map.get(c)?, chat)))
            .collect();
        let outbox = by_conv(&self.outbox, &conv_map);
        let billing = by_conv(&self.billing, &conv_map);
        let backoffs = by_conv(&self.backoffs, &conv_map);
        let ticket_responses = by_conv(&self.ticket_responses, &conv_map);

        let mut consents: Vec<(AddressKey, ConsentRecord)> = self
            .consents
            .iter()
            .filter(|((owner, _), _)| *owner == b)
            .map(|((_, contact), r)| (*contact, *r))
            .collect();
        consents.sort_unstable_by_key(|(c, _)| *c);
        let consents = consents
            .into_iter()
            .map(|(c, r)| (porter.port(c), r))
            .collect();

        let sent_content = self
            .sent_content
            .records()
            .filter_map(|(at, c, hash)| Some((at, conv_map.get(c)?, hash)))
            .collect();

        let ported = Ported {
            numbers: &number_map,
            templates: &template_map,
            conversations: &conv_map,
            owners: &owner_map,
        };
        let timers = self
            .timers
            .armed_sorted()
            .into_iter()
            .filter_map(|(key, at)| Some((ported.timer(key)?, at)))
            .collect();

        let mut owners: Vec<(u32, u32)> = self
            .limits
            .keys()
            .filter_map(|&o| Some((owner_map(o)?, o)))
            .collect();
        owners.sort_unstable();
        let limits = owners
            .into_iter()
            .map(|(new, old)| self.limits[&old].stored(new, |contact| porter.port(contact)))
            .collect();

        let mut usage: Vec<((u32, u32), MonthlyUsage)> = self
            .usage
            .iter()
            .filter_map(|(&(n, month), u)| Some(((number_map.get(n)?, month), u.clone())))
            .collect();
        usage.sort_unstable_by_key(|(k, _)| *k);

        // Of the tables that forget, only what is still live travels: an expired entry has
        // no effect here, and its key or id may be given again.
        let sent_messages = self
            .sent_messages
            .live_entries(self.clock)
            .into_iter()
            .filter_map(|(id, at, m)| {
                let mut m = m.clone();
                m.conv = conv_map.get(m.conv)?;
                m.template = match m.template {
                    Some(t) => Some(template_map.get(t)?),
                    None => None,
                };
                Some((host_key(id).to_owned(), at, m))
            })
            .collect();

        let (idempotency, idempotency_requests): (Vec<_>, Vec<_>) = self
            .idempotency
            .live_entries(self.clock)
            .into_iter()
            .filter_map(|(key, at, r)| {
                let number = number_map.get(r.number?)?;
                let key = host_key(key).to_owned();
                Some(((key, at, r.decision.clone(), number), r.request))
            })
            .unzip();
        let (inbound_ids, inbound_id_senders): (Vec<_>, Vec<_>) = self
            .inbound_ids
            .live_entries(self.clock)
            .into_iter()
            .filter_map(|(key, at, &number)| {
                let (id, sender) = inbound_key_parts(key);
                let number = number_map.get(number?)?;
                Some(((id.to_owned(), at, number), sender.map(|s| porter.port(s))))
            })
            .unzip();

        let contact_links = (self.contact_links.of_business(b).into_iter())
            .map(|(alias, contact)| (porter.port(alias), porter.port(contact)))
            .collect();
        let consent_groups = (self.consent_groups.of_business(b).into_iter())
            .map(|(name, next)| (porter.port(name), porter.port(next)))
            .collect();
        let link_dates = (self.contact_links.dates_of_business(b).into_iter())
            .map(|(name, at)| (porter.port(name), at))
            .collect();
        let handovers = (self.contact_links.handovers_of_business(b).into_iter())
            .map(|(phone, (at, previous))| (porter.port(phone), (at, porter.port(previous))))
            .collect();

        let export = BusinessExport {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            policy: self.policy.clone(),
            clock: self.clock,
            next_ticket: self.next_ticket,
            interned: porter.strings,
            business: self.businesses[b as usize].clone(),
            numbers,
            templates,
            conversations,
            live_chats,
            outbox,
            consents,
            sent_content,
            timers,
            limits,
            billing,
            usage,
            backoffs,
            sent_messages,
            idempotency,
            idempotency_requests,
            inbound_ids,
            inbound_id_senders,
            contact_links,
            consent_groups,
            link_dates,
            handovers,
            ticket_responses,
        };
        let body = serde_json::to_vec(&export).expect("export types serialise infallibly");
        Ok(seal_as(EXPORT_FORMAT, EXPORT_VERSION, &body))
    }

    /// Adds a business exported by [`Engine::export_business`]. The engines must run the
    /// same policy, and neither the business nor any of its numbers may exist here yet. Its
    /// idempotency keys, message ids and inbound message ids are its own (held under the
    /// business, its numbers and their senders): the same key or id of a business here is
    /// another. (An inbound id of an export written before ids kept their senders matches
    /// any sender, and must not be live here.) Everything is checked before anything
    /// changes: an error leaves the engine as it was. Timers that fell due between the two
    /// engines' clocks fire at their own instants (see the module docs); poll their effects
    /// after the import as after any input.
    pub fn import_business(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let x = read_export(bytes)?;
        self.check_import(&x)?;
        self.apply_import(x)
    }

    /// A new engine holding only the business exported by [`Engine::export_business`],
    /// under the export's policy: the first business of a new node.
    pub fn from_business_export(bytes: &[u8]) -> Result<Engine, Error> {
        let x = read_export(bytes)?;
        // Checked before an engine runs under it, as `check_import` checks it for an import.
        x.policy.validate()?;
        let mut engine = Engine::new(x.policy.clone());
        engine.check_import(&x)?;
        engine.apply_import(x)?;
        Ok(engine)
    }

    /// Drops a business and everything it owns (what [`Engine::export_business`] takes, see
    /// the module docs), so that its name and numbers are free here: the last step of moving
    /// it to another engine; its numbers' idempotency keys and inbound message ids go too.
    /// Engine-wide state stays: effects already queued, keys and ids of no number (restored
    /// from a snapshot older than version 4), the ticket counter, and the interned text of
    /// the opaque ids (emails, user ids) its conversations used, which other businesses may
    /// share. The other businesses are untouched and keep deciding as before, their timers
    /// firing in the same order.
    ///
    /// It rebuilds the engine in memory from its own state without the business, checked as
    /// a restore is (no JSON on the way): about 0.13 s at a million conversations, with room
    /// for a second copy of the engine meanwhile. A step of rebalancing, not of traffic. An
    /// unknown business is an error and changes nothing.
    pub fn remove_business(&mut self, business: &str) -> Result<(), Error> {
        let b = self.business_idx(business)?;
        let mut s = self.snapshot_body();
        // Businesses after the removed one move up by one.
        let business_map = |i: u32| (i != b).then(|| i - u32::from(i > b));
        s.businesses.remove(b as usize);
        let (numbers, number_map) = Remap::retain(std::mem::take(&mut s.numbers), |mut n| {
            n.business = business_map(n.business)?;
            Some(n)
        });
        let (templates, template_map) = Remap::retain(std::mem::take(&mut s.templates), |mut t| {
            t.business = business_map(t.business)?;
            if let Some(undo) = t.disable_undo.as_deref_mut() {
                undo.set_business(t.business);
            }
            Some(t)
        });
        let (conversations, conv_map) =
            Remap::retain(std::mem::take(&mut s.conversations), |mut c| {
                c.number = number_map.get(c.number)?;
                Some(c)
            });
        let owner_map = |owner: u32| match self.policy.limits.scope {
            LimitScope::Number => number_map.get(owner),
            LimitScope::Business => business_map(owner),
        };
        let ported = Ported {
            numbers: &number_map,
            templates: &template_map,
            conversations: &conv_map,
            owners: &owner_map,
        };
        s.numbers = numbers;
        s.templates = templates;
        s.conversations = conversations;
        s.live_chats = ported.by_conversation(std::mem::take(&mut s.live_chats));
        s.outbox = ported.by_conversation(std::mem::take(&mut s.outbox));
        s.billing = ported.by_conversation(std::mem::take(&mut s.billing));
        s.backoffs = ported.by_conversation(std::mem::take(&mut s.backoffs));
        s.ticket_responses = ported.by_conversation(std::mem::take(&mut s.ticket_responses));
        s.consents
            .retain_mut(|(owner, _, _)| rewrite(owner, business_map));
        s.contact_links
            .retain_mut(|(owner, _, _)| rewrite(owner, business_map));
        s.consent_groups
            .retain_mut(|(owner, _, _)| rewrite(owner, business_map));
        s.link_dates
            .retain_mut(|(owner, _, _)| rewrite(owner, business_map));
        s.handovers
            .retain_mut(|(owner, _, _)| rewrite(owner, business_map));
        s.sent_content
            .retain_mut(|(_, conv, _)| rewrite(conv, |c| conv_map.get(c)));
        s.timers
            .retain_mut(|(key, _)| rewrite(key, |k| ported.timer(k)));
        s.limits.retain_mut(|l| rewrite(&mut l.owner, owner_map));
        s.usage
            .retain_mut(|((number, _), _)| rewrite(number, |n| number_map.get(n)));
        s.sent_messages.retain_mut(|(_, _, m)| {
            // A message's template is its conversation's business's: it stays with it.
            m.template = m.template.and_then(|t| template_map.get(t));
            rewrite(&mut m.conv, |c| conv_map.get(c))
        });
        // Keys and ids of the business's numbers go; those of no number stay. (The key's
        // entry in `idempotency_order` may stay: a restore skips order entries without a key.)
        let mut requests = std::mem::take(&mut s.idempotency_requests);
        requests.resize(s.idempotency.len(), None);
        let keys = (std::mem::take(&mut s.idempotency).into_iter()).zip(requests);
        let (keys, numbers) = retain_numbered(
            keys.collect(),
            s.idempotency_numbers.take().unwrap_or_default(),
            &number_map,
        );
        (s.idempotency, s.idempotency_requests) = keys.into_iter().unzip();
        s.idempotency_numbers = Some(numbers);
        // An id's sender goes or stays with it (its key is this engine's either way).
        let mut senders = std::mem::take(&mut s.inbound_id_senders);
        senders.resize(s.inbound_ids.len(), None);
        let ids = (std::mem::take(&mut s.inbound_ids).into_iter()).zip(senders);
        let (ids, numbers) = retain_numbered(
            ids.collect(),
            s.inbound_id_numbers.take().unwrap_or_default(),
            &number_map,
        );
        s.inbound_id_numbers = Some(numbers);
        (s.inbound_ids, s.inbound_id_senders) = ids.into_iter().unzip();
        *self = Engine::from_snapshot(s)?;
        Ok(())
    }

    /// [`Engine::export_business`] and [`Engine::remove_business`] in one step: the
    /// business's export (the same bytes `export_business` gives), and the business gone
    /// from this engine. All or nothing: on an error (an unknown business is
    /// [`Error::UnknownBusiness`], as for an export) the engine is as it was, since the
    /// removal replaces the engine only once its rebuild has succeeded. On one engine it is
    /// a convenience; on a [`crate::sharded::ShardedEngine`] shared by threads it is what
    /// makes a move lose nothing (see [`crate::sharded::ShardedEngine::take_business`]).
    pub fn take_business(&mut self, business: &str) -> Result<Vec<u8>, Error> {
        let export = self.export_business(business)?;
        self.remove_business(business)?;
        Ok(export)
    }

    /// Every check of an import, before the first mutation.
    pub(crate) fn check_import(&self, x: &BusinessExport) -> Result<(), Error> {
        // The policy's own checks, as a restore makes them: an engine made from an export
        // under a policy that fails them would save a state that does not restore.
        x.policy.validate()?;
        if x.policy != self.policy {
            let (theirs, ours) = (&x.policy.name, &self.policy.name);
            let how = if theirs == ours {
                format!(
                    "policy {theirs:?} with other overrides than this engine's ({})",
                    x.policy.differences(&self.policy, ("exported", "here"))
                )
            } else {
                format!("policy {theirs:?}, and this engine runs {ours:?}")
            };
            return Err(Error::InvalidPolicy {
                problem: format!("business {:?} was exported under {how}", x.business.name),
            });
        }
        crate::engine::check_saved_business(&x.business.name)?;
        if self.business_index.contains_key(&x.business.name) {
            return Err(Error::InvalidEvent {
                problem: format!(
                    "business {:?} already exists in this engine; import it into one without it",
                    x.business.name
                ),
            });
        }
        // Interned strings must be valid addresses (a scratch interner checks them).
        let mut scratch = Interner::default();
        for s in &x.interned {
            scratch.group(s)?;
        }
        let interned = x.interned.len() as u64;
        let known = |key: AddressKey, what: &str| {
            if key.0 & TAG_MASK == 0 || (key.0 & !TAG_MASK) < interned {
                Ok(())
            } else {
                Err(corrupt(format!("{what} refers to an unknown interned id")))
            }
        };
        let number_count = x.numbers.len() as u32;
        for n in &x.numbers {
            known(n.address, "a number")?;
            if n.business != 0 {
                return Err(corrupt("a number names another business"));
            }
            n.check_saved(x.policy.limits.levels.len(), x.clock)
                .map_err(|problem| corrupt(format!("a number {problem}")))?;
            let text = number_text(n.address, &x.interned)
                .ok_or_else(|| corrupt("a number refers to an unknown interned id"))?;
            if let Some(id) = n
                .phone_number_id
                .as_ref()
                .filter(|id| self.provider_number_ids.contains_key(*id))
            {
                return Err(Error::phone_number_id_imported_twice(id));
            }
            if let Some(existing) = self.interner.find_address(&text)? {
                if let Some(&i) = self.number_index.get(&existing) {
                    return Err(Error::number_owned_by_other(
                        &text,
                        &self.businesses[self.numbers[i as usize].business as usize].name,
                        &x.business.name,
                    ));
                }
            }
        }
        let template_count = x.templates.len() as u32;
        for t in &x.templates {
            if t.business != 0 {
                return Err(corrupt("a template names another business"));
            }
            crate::engine::check_saved_template(&t.spec)?;
            parse_variables(&t.spec.body).map_err(|p| {
                corrupt(format!(
                    "template {:?} has an invalid body: {p}",
                    t.spec.name
                ))
            })?;
            crate::engine::check_saved_undo(t, &self.policy, x.clock)?;
        }
        let conv_count = x.conversations.len() as u32;
        for c in &x.conversations {
            known(c.contact, "a conversation")?;
            if c.number >= number_count {
                return Err(corrupt(format!(
                    "a conversation names number {} of {number_count}",
                    c.number
                )));
            }
        }
        let conv_ok = |c: u32, what: &str| {
            if c < conv_count {
                Ok(())
            } else {
                Err(corrupt(format!(
                    "{what} names conversation {c} of {conv_count}"
                )))
            }
        };
        for (c, _) in &x.live_chats {
            conv_ok(*c, "a live chat")?;
        }
        for (c, held) in &x.outbox {
            conv_ok(*c, "the outbox")?;
            if held.is_empty() {
                return Err(corrupt(format!("empty outbox entry for conversation {c}")));
            }
        }
        for (c, _) in &x.backoffs {
            conv_ok(*c, "a back-off")?;
        }
        for (c, _) in &x.ticket_responses {
            conv_ok(*c, "an email ticket's response times")?;
        }
        for (c, _) in &x.billing {
            conv_ok(*c, "a billing record")?;
        }
        for (_, c, _) in &x.sent_content {
            conv_ok(*c, "a sent-content record")?;
        }
        // The clock the import leaves: entries expired by it no longer count.
        for (id, _, m) in &x.sent_messages {
            conv_ok(m.conv, "a sent message")?;
            if m.template.is_some_and(|t| t >= template_count) {
                return Err(corrupt(format!(
                    "sent message {id:?} names a template beyond the {template_count} exported"
                )));
            }
        }
        let number_ok = |key: &str, n: u32, what: &str| {
            if n < number_count {
                Ok(())
            } else {
                Err(corrupt(format!(
                    "{what} {key:?} names number {n} of {number_count}"
                )))
            }
        };
        for (key, _, _, n) in &x.idempotency {
            number_ok(key, *n, "idempotency key")?;
        }
        let (requests, keys) = (x.idempotency_requests.len(), x.idempotency.len());
        check_by_position(requests, keys, "idempotency keys")?;
        for (id, _, n) in &x.inbound_ids {
            number_ok(id, *n, "inbound message id")?;
        }
        // Ids and keys are unique while remembered: one held live here was used from here
        // too, and one of the two answers would be lost.
        let now = self.clock.max(x.clock);
        let business = x.business.name.as_str();
        // Message ids of sends are held under their numbers, all new here: none clashes.
        // Keys are the business's own: they are held under the index it will have here, so
        // that the same key of a business already here is another key.
        let scope = Some(self.businesses.len() as u32);
        check_new(
            x.idempotency
                .iter()
                .map(|(key, at, ..)| (key.as_str(), *at)),
            "idempotency key",
            business,
            |key, at| self.idempotency.clashes(&scoped_key(scope, key), at, now),
        )?;
        // Inbound ids are held under their numbers and senders, the numbers all new here;
        // only one exported without its sender (an older export) is held under none, and
        // may clash.
        check_new(
            (x.inbound_ids.iter())
                .zip(x.id_senders())
                .filter(|(_, sender)| sender.is_none())
                .map(|((id, at, _), _)| (id.as_str(), *at)),
            "inbound message id",
            business,
            |id, at| self.inbound_ids.clashes(&inbound_key(None, id), at, now),
        )?;
        for (contact, _) in &x.consents {
            known(*contact, "a consent record")?;
        }
        let owner_count = match self.policy.limits.scope {
            LimitScope::Number => number_count,
            LimitScope::Business => 1,
        };
        let targets = TimerTargets {
            conversations: conv_count,
            templates: template_count,
            numbers: number_count,
            limit_owners: owner_count,
        };
        for (key, _) in &x.timers {
            key.check_target(targets).map_err(corrupt)?;
        }
        for l in &x.limits {
            if l.owner >= owner_count {
                return Err(corrupt(format!(
                    "a limit names owner {} of {owner_count}",
                    l.owner
                )));
            }
            for (contact, _) in l.window.iter().chain(&l.lookback) {
                known(*contact, "a limit")?;
            }
            self.restore_limit(l.clone(), x.clock)?;
        }
        for ((n, _), _) in &x.usage {
            if *n >= number_count {
                return Err(corrupt(format!("usage names number {n} of {number_count}")));
            }
        }
        let capacity = |what: &'static str, here: usize, more: usize| {
            if here + more < u32::MAX as usize {
                Ok(())
            } else {
                Err(Error::CapacityExceeded {
                    what,
                    limit: u64::from(u32::MAX),
                })
            }
        };
        capacity("numbers", self.numbers.len(), x.numbers.len())?;
        capacity("templates", self.templates.len(), x.templates.len())?;
        capacity(
            "conversations",
            self.conversations.len(),
            x.conversations.len(),
        )?;
        // Last, every check a restore makes, on the business as an engine of its own (things
        // listed twice, a live chat without a ticket, the ticket counter, entries out of
        // order or later than the clock): the checks above are those an import adds, and
        // when the two sets were kept apart they drifted, an export a restore would refuse
        // imported, and the engine saved a state it then refused.
        Engine::from_snapshot(x.as_snapshot_body())?;
        Ok(())
    }

    pub(crate) fn apply_import(&mut self, x: BusinessExport) -> Result<(), Error> {
        // One engine has one clock. The side that is behind runs its timers up to the
        // other's, each at its own instant, as one engine holding both would have: set
        // forward with their timers still armed, a node's reminders and chat ends came
        // later, dated at the clock they were found at (a window's reminder after its end).
        // The export's first, on the business alone (its own round trip, from an export
        // checked above); this engine's once the business is merged, as nothing can fail
        // any more (its timers touch none of the business's state).
        let (x, caught_up) = if x.clock < self.clock {
            self.caught_up(x)?
        } else {
            (x, Vec::new())
        };
        // The clock the import leaves, as in the checks.
        let now = self.clock.max(x.clock);
        // Interned strings → this engine's indices (checked valid above). Opaque ids and
        // group ids share the interner's table, so one index serves both tags.
        let mut indices = Vec::with_capacity(x.interned.len());
        for s in &x.interned {
            indices.push(self.interner.group(s)?.0 & !TAG_MASK);
        }
        let port = |key: AddressKey| {
            if key.0 & TAG_MASK == 0 {
                key
            } else {
                AddressKey((key.0 & TAG_MASK) | indices[(key.0 & !TAG_MASK) as usize])
            }
        };

        let b = self.businesses.len() as u32;
        self.business_index.insert(x.business.name.clone(), b);
        self.businesses.push(x.business);
        self.businesses[b as usize].numbers.clear();

        let number_base = self.numbers.len() as u32;
        for mut n in x.numbers {
            n.business = b;
            self.businesses[b as usize]
                .numbers
                .push(self.numbers.len() as u32);
            n.address = port(n.address);
            self.number_index
                .insert(n.address, self.numbers.len() as u32);
            if let Some(id) = &n.phone_number_id {
                self.provider_number_ids
                    .insert(id.clone(), self.numbers.len() as u32);
            }
            self.numbers.push(n);
        }
        let template_base = self.templates.len() as u32;
        for mut t in x.templates {
            t.set_business(b);
            t.variables = parse_variables(&t.spec.body).map_err(|p| corrupt(p.to_string()))?;
            // An export from before pauses were counted by their instants, as a restore
            // reads a snapshot of then.
            t.count_pause_in_progress(&self.policy);
            self.template_index.insert(
                b,
                &t.spec.name,
                &t.spec.language,
                self.templates.len() as u32,
            );
            self.templates.push(t);
        }
        let conv_base = self.conversations.len() as u32;
        for mut c in x.conversations {
            c.number += number_base;
            c.contact = port(c.contact);
            self.conversation_index
                .insert(c.number, c.contact, self.conversations.len() as u32);
            self.conversations.push(c);
        }
        for (c, chat) in x.live_chats {
            self.set_live_chat(c + conv_base, Some(chat));
        }
        for (c, held) in x.outbox {
            self.outbox.insert(c + conv_base, held);
        }
        for (c, state) in x.billing {
            self.billing.insert(c + conv_base, state);
        }
        for (c, backoff) in x.backoffs {
            self.backoffs.insert(c + conv_base, backoff);
        }
        for (c, record) in x.ticket_responses {
            self.ticket_responses.insert(c + conv_base, record);
        }
        for (contact, record) in x.consents {
            self.consents.insert((b, port(contact)), record);
        }
        for (alias, contact) in x.contact_links {
            self.contact_links.link(b, port(alias), port(contact));
        }
        for (name, next) in x.consent_groups {
            // Checked as rings of the business alone; its names are new here.
            let restored = self.consent_groups.restore(b, port(name), port(next));
            debug_assert!(restored.is_ok(), "{restored:?}");
        }
        for (name, at) in x.link_dates {
            // Checked as the business's alone; its names are new here.
            let restored = self.contact_links.restore_date(b, port(name), at);
            debug_assert!(restored.is_ok(), "{restored:?}");
        }
        for (phone, (at, previous)) in x.handovers {
            // Checked as the business's alone; its names are new here.
            let restored =
                (self.contact_links).restore_handover(b, port(phone), (at, port(previous)));
            debug_assert!(restored.is_ok(), "{restored:?}");
        }
        if !x.idempotency.is_empty() {
            // Keys checked new above, requests checked against them: the merge keeps every
            // entry.
            // Checked above: as many as the keys, or none (any request).
            let mut requests = x.idempotency_requests;
            requests.resize(x.idempotency.len(), None);
            let merged = self.idempotency.merge(
                (x.idempotency.into_iter())
                    .zip(requests)
                    .map(|((key, at, decision, n), request)| {
                        let number = Some(n + number_base);
                        let key = scoped_key(Some(b), &key);
                        let remembered = Remembered {
                            decision,
                            number,
                            request,
                        };
                        (key, at, remembered)
                    })
                    .collect(),
                now,
            );
            debug_assert!(merged, "idempotency keys checked unique before the import");
        }
        if !x.inbound_ids.is_empty() {
            let mut senders = x.inbound_id_senders;
            senders.resize(x.inbound_ids.len(), None);
            self.inbound_ids_unscoped |= senders.iter().any(Option::is_none);
            let merged = self.inbound_ids.merge(
                x.inbound_ids
                    .into_iter()
                    .zip(senders)
                    .map(|((id, at, n), sender)| {
                        let number = n + number_base;
                        let key = inbound_key(sender.map(|s| (number, port(s))), &id);
                        (key, at, Some(number))
                    })
                    .collect(),
                now,
            );
            debug_assert!(merged, "inbound ids checked unique before the import");
        }
        if !x.sent_content.is_empty() {
            // The two logs merged (`from_records` puts them in expiry order).
            let mut records: Vec<(Instant, u32, u64)> = self.sent_content.records().collect();
            records.extend(
                x.sent_content
                    .into_iter()
                    .map(|(expires_at, c, hash)| (expires_at, c + conv_base, hash)),
            );
            self.sent_content = SentContent::from_records(records, |c| self.recipient_of(c));
        }
        if !x.sent_messages.is_empty() {
            // Ids checked new above: the merge keeps every entry.
            let merged = self.sent_messages.merge(
                x.sent_messages
                    .into_iter()
                    .map(|(id, at, mut m)| {
                        m.conv += conv_base;
                        m.template = m.template.map(|t| t + template_base);
                        let number = self.conversations[m.conv as usize].number;
                        (scoped_key(Some(number), &id), at, m)
                    })
                    .collect(),
                now,
            );
            debug_assert!(merged, "sent message ids checked unique before the import");
        }
        let owner_base = match self.policy.limits.scope {
            LimitScope::Number => number_base,
            LimitScope::Business => b,
        };
        for mut stored in x.limits {
            stored.owner += owner_base;
            let port_all = |entries: Vec<(AddressKey, Instant)>| {
                entries.into_iter().map(|(c, t)| (port(c), t)).collect()
            };
            stored.window = port_all(stored.window);
            stored.lookback = port_all(stored.lookback);
            let (owner, state) = self.restore_limit(stored, x.clock)?;
            self.limits.insert(owner, state);
        }
        for ((n, month), usage) in x.usage {
            self.usage.insert((n + number_base, month), usage);
        }
        for (key, at) in x.timers {
            let key = match key {
                TimerKey::ChatIdle(c) => TimerKey::ChatIdle(c + conv_base),
                TimerKey::WindowReminder(c) => TimerKey::WindowReminder(c + conv_base),
                TimerKey::OutboxExpiry(c) => TimerKey::OutboxExpiry(c + conv_base),
                TimerKey::TemplateDeadline(t) => TimerKey::TemplateDeadline(t + template_base),
                TimerKey::NumberFlag(n) => TimerKey::NumberFlag(n + number_base),
                TimerKey::RestrictionEnd(n) => TimerKey::RestrictionEnd(n + number_base),
                TimerKey::LimitUpgrade(o) => TimerKey::LimitUpgrade(o + owner_base),
            };
            self.timers.arm(key, at);
        }
        self.effects.extend(caught_up);
        self.handle_timeout(x.clock); // sets the clock to the later of the two
        self.next_ticket = self.next_ticket.max(x.next_ticket);
        self.rebuild_allowance();
        Ok(())
    }
}

impl Engine {
    /// The export's business brought to this engine's clock on its own: its timers due by
    /// then fired at their instants, with the effects they caused.
    fn caught_up(&self, x: BusinessExport) -> Result<(BusinessExport, Vec<Effect>), Error> {
        let mut alone = Engine::from_snapshot(x.as_snapshot_body())?;
        alone.handle_timeout(self.clock);
        let effects = alone.effects.drain(..).collect();
        let x = read_export(&alone.export_business(x.business_name())?)?;
        Ok((x, effects))
    }
}

/// An export's entries of its business's names, as a snapshot of the business alone holds
/// them: under business 0.
fn of_business_zero<V: Copy>(entries: &[(AddressKey, V)]) -> Vec<(u32, AddressKey, V)> {
    entries
        .iter()
        .map(|&(name, value)| (0, name, value))
        .collect()
}

impl BusinessExport {
    /// The body of a snapshot of an engine holding only this business.
    fn as_snapshot_body(&self) -> SnapshotBody {
        // Keys in the order they were given (a stable sort, as the import's merge makes).
        let mut idempotency_order: Vec<(Instant, String)> = self
            .idempotency
            .iter()
            .map(|(key, at, ..)| (*at, key.clone()))
            .collect();
        idempotency_order.sort_by_key(|&(at, _)| at);
        SnapshotBody {
            policy: self.policy.clone(),
            clock: self.clock,
            interned: self.interned.clone(),
            businesses: vec![self.business.clone()],
            numbers: self.numbers.clone(),
            templates: self.templates.iter().map(StoredTemplate::from).collect(),
            conversations: self.conversations.clone(),
            live_chats: self.live_chats.clone(),
            outbox: self.outbox.clone(),
            consents: (self.consents.iter())
                .map(|(contact, record)| (0, *contact, *record))
                .collect(),
            sent_content: self.sent_content.clone(),
            idempotency: (self.idempotency.iter())
                .map(|(key, at, decision, _)| (key.clone(), *at, decision.clone()))
                .collect(),
            idempotency_order,
            idempotency_numbers: Some(self.idempotency.iter().map(|&(.., n)| Some(n)).collect()),
            idempotency_requests: self.idempotency_requests.clone(),
            timers: self.timers.clone(),
            effects: Vec::new(),
            next_ticket: self.next_ticket,
            limits: self.limits.clone(),
            billing: self.billing.clone(),
            usage: self.usage.clone(),
            sent_messages: self.sent_messages.clone(),
            inbound_ids: (self.inbound_ids.iter())
                .map(|(id, at, _)| (id.clone(), *at))
                .collect(),
            inbound_id_numbers: Some(self.inbound_ids.iter().map(|&(_, _, n)| Some(n)).collect()),
            inbound_id_senders: self.inbound_id_senders.clone(),
            backoffs: self.backoffs.clone(),
            contact_links: of_business_zero(&self.contact_links),
            consent_groups: of_business_zero(&self.consent_groups),
            link_dates: of_business_zero(&self.link_dates),
            handovers: of_business_zero(&self.handovers),
            ticket_responses: self.ticket_responses.clone(),
        }
    }

    /// The sender of each inbound id, by position (`None` where not known: for every id of
    /// an export written before they were kept).
    fn id_senders(&self) -> impl Iterator<Item = Option<AddressKey>> + '_ {
        (self.inbound_id_senders.iter().copied()).chain(std::iter::repeat(None))
    }

    /// The name of the business exported.
    pub(crate) fn business_name(&self) -> &str {
        &self.business.name
    }

    /// Its numbers' texts with their provider ids (so that a sharded engine can check and
    /// route them). Checked by [`Engine::check_import`]; a number whose interned id is
    /// unknown is left out.
    pub(crate) fn numbers(&self) -> Vec<(String, Option<String>)> {
        self.numbers
            .iter()
            .filter_map(|n| {
                let text = number_text(n.address, &self.interned)?;
                Some((text, n.phone_number_id.clone()))
            })
            .collect()
    }
}

fn not_an_export(e: serde_json::Error) -> Error {
    corrupt(format!("not a convstate business export: {e}"))
}

/// Bytes of another format given as an export, named with what reads them.
fn wrong_format(format: &str) -> Error {
    let hint = match format {
        crate::snapshot::SNAPSHOT_FORMAT => {
            " (an engine's snapshot: Engine::restore, C convstate_engine_restore, Python \
             Engine.restore)"
        }
        crate::sharded::SHARDED_SNAPSHOT_FORMAT => {
            " (a sharded engine's snapshot: ShardedEngine::restore, C \
             convstate_sharded_engine_restore, Python ShardedEngine.restore)"
        }
        _ => "",
    };
    corrupt(format!(
        "not a convstate business export: format is {format:?}, expected \
         {EXPORT_FORMAT:?}{hint}"
    ))
}

/// The text of an exported number's address: a packed phone number, or an interned id of
/// the export (`None` if it has no such id).
fn number_text(address: AddressKey, interned: &[String]) -> Option<String> {
    if address.0 & TAG_MASK == 0 {
        Some(format!("+{}", address.0))
    } else {
        interned.get((address.0 & !TAG_MASK) as usize).cloned()
    }
}
