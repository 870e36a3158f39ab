//! Snapshots: the whole engine as versioned JSON, restored exactly.
//!
//! Everything is written in a deterministic order (vectors in index order, maps sorted), so
//! `restore(snapshot(e)).snapshot() == snapshot(e)` byte for byte, and a restored engine
//! gives the same outputs as the original for any further input. Lookup maps are not stored:
//! they are rebuilt, and every index is checked, so a corrupt snapshot is an error rather
//! than a panic later.
//!
//! # Integrity
//!
//! The state is written as a JSON *body* inside a fixed envelope that carries a checksum of
//! the body's exact bytes:
//!
//! ```text
//! {"format":"convstate-snapshot","version":4,"checksum":"<8 hex digits>","body":{...}}
//! ```
//!
//! The checksum is CRC-32 ([`Checksum`]): any change within 32 consecutive bits of the body
//! (so any single changed byte) always changes it, and other damage goes unnoticed once in
//! 2³². A bit flip or a torn write is reported as [`Error::CorruptSnapshot`] instead of
//! restoring a silently different engine. It guards against accidents (disks, truncated
//! copies), not against someone forging a snapshot. Version 3 snapshots (the same checksum)
//! and version 2 snapshots (summed with 64-bit FNV-1a) are still read.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::address::{normalize_phone, AddressKey, Interner};
use crate::chat::LiveChat;
use crate::conversation::Conversation;
use crate::conversation_index::ConversationIndex;
use crate::decision::Decision;
use crate::delivery::{Backoff, SentMessage};
use crate::effect::Effect;
use crate::engine::{Business, ConsentRecord, DisableUndo, Engine, HeldMessage, Template};
use crate::expiring::ExpiringMap;
use crate::keys::{host_key, inbound_key, inbound_key_parts, scoped_key};
use crate::latest_by_instant::{RecentRatings, RecentReports};
use crate::limits::StoredLimit;
use crate::number::NumberState;
use crate::policy::LimitScope;
use crate::policy::Policy;
use crate::pricing::{ConversationBilling, MonthlyUsage};
use crate::provider_order::ProviderOrder;
use crate::send::Remembered;
use crate::sent_content::SentContent;
use crate::template::{parse_variables, Quality, TemplateSpec, TemplateStatus};
use crate::time::{Duration, Instant};
use crate::timers::{TimerKey, TimerTargets, Timers};
use crate::Error;

/// The `format` field of every snapshot.
pub const SNAPSHOT_FORMAT: &str = "convstate-snapshot";
/// The snapshot format version this build writes.
/// Version 2 wrapped the version 1 body in the checksummed envelope (see the module docs);
/// version 3 changed only the checksum, from FNV-1a to CRC-32; version 4 added the number of
/// each idempotency key and inbound message id (so that they move with their business),
/// which older bodies lack.
pub const SNAPSHOT_VERSION: u32 = 4;

/// The envelope versions this build reads, each with its checksum, the one it writes first.
const READABLE_VERSIONS: [(u32, Checksum); 3] = [
    (SNAPSHOT_VERSION, Checksum::CURRENT),
    (3, Checksum::Crc32),
    (2, Checksum::Fnv1a64),
];

/// Everything before the checksum's hex digits, byte for byte, of an envelope of `format`.
fn envelope_head(format: &str, version: u32) -> String {
    format!("{{\"format\":\"{format}\",\"version\":{version},\"checksum\":\"")
}
/// Between the checksum's hex digits and the body.
const ENVELOPE_MIDDLE: &str = "\",\"body\":";
/// After the body.
const ENVELOPE_TAIL: &str = "}";

/// How a snapshot format sums the bytes it protects.
///
/// CRC-32 (engine snapshots since version 3, sharded ones since version 2): a CRC detects
/// every burst of damage no longer than its width, so any change within 32 consecutive bits
/// (any single byte, up to four adjacent ones) always changes it; other damage goes
/// unnoticed once in 2³². crc32fast runs it on the processor's carry-less multiply, about
/// 23 ms for the 190 MB of a million conversations.
///
/// 64-bit FNV-1a (the earlier versions, still read): each step is a bijection of the running
/// state, so any single changed byte changes it, but each byte waits for the previous one's
/// multiply: 270 ms for the same 190 MB, a third of a restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// CRC-32 (IEEE), written as 8 lowercase hex digits.
    Crc32,
    /// 64-bit FNV-1a, written as 16 lowercase hex digits.
    Fnv1a64,
}

impl Checksum {
    /// The checksum this build writes.
    pub const CURRENT: Checksum = Checksum::Crc32;

    /// How many hex digits the checksum is written with.
    pub const fn digits(self) -> usize {
        match self {
            Checksum::Crc32 => 8,
            Checksum::Fnv1a64 => 16,
        }
    }

    /// The checksum of `bytes`.
    pub fn of(self, bytes: &[u8]) -> u64 {
        match self {
            Checksum::Crc32 => u64::from(crc32fast::hash(bytes)),
            Checksum::Fnv1a64 => {
                const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
                const PRIME: u64 = 0x0000_0100_0000_01b3;
                bytes.iter().fold(OFFSET_BASIS, |hash, &byte| {
                    (hash ^ u64::from(byte)).wrapping_mul(PRIME)
                })
            }
        }
    }

    /// The checksum of `bytes` as the snapshot formats write it: lowercase hex digits.
    pub fn hex(self, bytes: &[u8]) -> String {
        format!("{:0width$x}", self.of(bytes), width = self.digits())
    }

    /// Whether `text` is written as [`Checksum::hex`] writes this checksum.
    pub(crate) fn is_hex(self, text: &str) -> bool {
        text.len() == self.digits() && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }
}

/// Wraps a snapshot body (the JSON object of the engine's state) in the checksummed
/// envelope. [`Engine::snapshot`] is `seal(body)`; hosts that edit a body (the C library
/// re-queues an undelivered effect this way) seal it again.
pub fn seal(body: &[u8]) -> Vec<u8> {
    seal_as(SNAPSHOT_FORMAT, SNAPSHOT_VERSION, body)
}

/// Wraps `body` in the checksummed envelope of `format` (snapshots, business exports).
pub(crate) fn seal_as(format: &str, version: u32, body: &[u8]) -> Vec<u8> {
    let head = envelope_head(format, version);
    let checksum = Checksum::CURRENT.hex(body);
    let mut out = Vec::with_capacity(
        head.len() + checksum.len() + ENVELOPE_MIDDLE.len() + body.len() + ENVELOPE_TAIL.len(),
    );
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(checksum.as_bytes());
    out.extend_from_slice(ENVELOPE_MIDDLE.as_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(ENVELOPE_TAIL.as_bytes());
    out
}

/// The body of a sealed snapshot of any readable version, after checking the format, the
/// version and the checksum. Nothing of the body is parsed before its checksum matched.
pub fn unseal(bytes: &[u8]) -> Result<&[u8], Error> {
    unseal_versioned(bytes).map(|(_, body)| body)
}

/// [`unseal`], with the envelope's version.
fn unseal_versioned(bytes: &[u8]) -> Result<(u32, &[u8]), Error> {
    // Whitespace after the envelope (a newline an editor or `echo` adds) is no damage, as
    // for exports: it was refused as "truncated".
    let bytes = bytes.trim_ascii_end();
    for (version, checksum) in READABLE_VERSIONS {
        if let Some(body) = unseal_as(SNAPSHOT_FORMAT, version, checksum, bytes) {
            return Ok((version, body?));
        }
    }
    // Not one of our exact envelopes: say why in the most useful terms (wrong format or
    // version, not JSON at all), reading only the two header fields.
    // The first JSON value only: a sharded snapshot has more lines after its header.
    let header: Header = serde_json::Deserializer::from_slice(bytes)
        .into_iter()
        .next()
        .unwrap_or_else(|| serde_json::from_slice(bytes))
        .map_err(|e| corrupt(format!("not a convstate snapshot: {e}")))?;
    if header.format != SNAPSHOT_FORMAT {
        let hint = match header.format.as_str() {
            crate::sharded::SHARDED_SNAPSHOT_FORMAT => {
                " (a sharded engine's snapshot restores as a sharded engine: \
                 ShardedEngine::restore, C convstate_sharded_engine_restore, Python \
                 ShardedEngine.restore)"
            }
            crate::partition::EXPORT_FORMAT => {
                " (a business export imports into an engine: Engine::import_business, \
                 Engine::from_business_export for an engine of its own, C \
                 convstate_engine_import_business, Python Engine.import_business, CLI \
                 convstate business import)"
            }
            _ => "",
        };
        return Err(corrupt(format!(
            "format is {:?}, expected {SNAPSHOT_FORMAT:?}{hint}",
            header.format
        )));
    }
    if !READABLE_VERSIONS.iter().any(|&(v, _)| v == header.version) {
        return Err(Error::UnsupportedSnapshotVersion {
            found: header.version,
            supported: SNAPSHOT_VERSION,
        });
    }
    Err(corrupt(format!(
        "the envelope does not start with {:?}",
        envelope_head(SNAPSHOT_FORMAT, header.version)
    )))
}

/// The body of `bytes` if they are an envelope of `format` and `version` (`None` when they
/// do not start as one), after checking the checksum.
pub(crate) fn unseal_as<'a>(
    format: &str,
    version: u32,
    checksum: Checksum,
    bytes: &'a [u8],
) -> Option<Result<&'a [u8], Error>> {
    let rest = bytes.strip_prefix(envelope_head(format, version).as_bytes())?;
    Some(unseal_rest(bytes.len(), rest, checksum))
}

/// The body inside `rest`, the envelope after its head (`total` bytes in all).
fn unseal_rest(total: usize, rest: &[u8], checksum: Checksum) -> Result<&[u8], Error> {
    let digits = checksum.digits();
    if rest.len() < digits + ENVELOPE_MIDDLE.len() + ENVELOPE_TAIL.len() {
        return Err(corrupt(format!(
            "truncated: {total} bytes in all, too short for the envelope"
        )));
    }
    let (recorded, rest) = rest.split_at(digits);
    let recorded = std::str::from_utf8(recorded)
        .ok()
        .filter(|hex| checksum.is_hex(hex))
        .ok_or_else(|| corrupt(format!("the checksum is not {digits} lowercase hex digits")))?;
    let body = rest
        .strip_prefix(ENVELOPE_MIDDLE.as_bytes())
        .ok_or_else(|| corrupt(format!("expected {ENVELOPE_MIDDLE:?} after the checksum")))?
        .strip_suffix(ENVELOPE_TAIL.as_bytes())
        .ok_or_else(|| {
            corrupt(format!(
                "truncated: the envelope does not end with {ENVELOPE_TAIL:?}"
            ))
        })?;
    let actual = checksum.hex(body);
    if actual != recorded {
        return Err(corrupt(format!(
            "checksum mismatch: the envelope records {recorded}, its body hashes to {actual} \
             (truncated or altered)"
        )));
    }
    Ok(body)
}

#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// The engine's state: the body inside the envelope.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnapshotBody {
    pub policy: Policy,
    pub clock: Instant,
    pub interned: Vec<String>,
    pub businesses: Vec<Business>,
    pub numbers: Vec<NumberState>,
    pub templates: Vec<StoredTemplate>,
    pub conversations: Vec<Conversation>,
    pub live_chats: Vec<(u32, LiveChat)>,
    pub outbox: Vec<(u32, Vec<HeldMessage>)>,
    pub consents: Vec<(u32, AddressKey, ConsentRecord)>,
    pub sent_content: Vec<(Instant, u32, u64)>,
    pub idempotency: Vec<(String, Instant, Decision)>,
    pub idempotency_order: Vec<(Instant, String)>,
    /// The number each key of `idempotency` was decided for, by position (`null`: none).
    /// Since version 4, which always writes it; absent from older bodies, whose keys belong
    /// to no number. `None` when absent, so that a body claiming an older version while
    /// holding it is told apart (see [`Engine::restore`]).
    #[serde(default)]
    pub idempotency_numbers: Option<Vec<Option<u32>>>,
    /// The request each key of `idempotency` was first given for, by position (`null`:
    /// any). Absent from bodies written before it was kept: any, for every key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idempotency_requests: Vec<Option<u64>>,
    pub timers: Vec<(TimerKey, Instant)>,
    #[serde(deserialize_with = "Effect::deserialize_queued")]
    pub effects: Vec<Effect>,
    pub next_ticket: u64,
    pub limits: Vec<StoredLimit>,
    pub billing: Vec<(u32, ConversationBilling)>,
    pub usage: Vec<((u32, u32), MonthlyUsage)>,
    pub sent_messages: Vec<(String, Instant, SentMessage)>,
    pub inbound_ids: Vec<(String, Instant)>,
    /// The number each of `inbound_ids` arrived at, by position; as `idempotency_numbers`.
    #[serde(default)]
    pub inbound_id_numbers: Option<Vec<Option<u32>>>,
    /// The sender of each of `inbound_ids` as the provider named it, by position (`None`:
    /// not known, as for every id when the list is absent, in states saved before it was
    /// kept, or when there are none, so that such a state reads as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbound_id_senders: Vec<Option<AddressKey>>,
    pub backoffs: Vec<(u32, Backoff)>,
    /// Other names of contacts, as (business, alias, contact key); see `contact_links.rs`.
    /// Absent when there are none, so that an engine without them writes what earlier
    /// versions read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact_links: Vec<(u32, AddressKey, AddressKey)>,
    /// Names of one user kept apart that hold one consent, as (business, name, next name
    /// of its group); see `consent_groups.rs`. Absent when there are none, as
    /// `contact_links`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent_groups: Vec<(u32, AddressKey, AddressKey)>,
    /// The latest instant an inbound named each phone number and user id in a pair that
    /// stands, as (business, name, instant); see `contact_links.rs`. Absent when there are
    /// none, as `contact_links` (a state saved before they were kept takes any late pair as
    /// a change of hands or a move, as then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_dates: Vec<(u32, AddressKey, Instant)>,
    /// The latest change of hands of each phone number that changed hands, as (business,
    /// phone, (instant, another name of the previous owner)); see `contact_links.rs`. Absent
    /// when there are none, as `contact_links` (a state saved before they were kept takes a
    /// late consent event naming the number alone as the new owner's, as then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handovers: Vec<(u32, AddressKey, (Instant, AddressKey))>,
    /// Email tickets' response times, by conversation; see `ticket_responses.rs`. Absent
    /// when there are none, as `contact_links`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ticket_responses: Vec<(u32, crate::TicketResponses)>,
}

/// A template without its derived variables (re-parsed from the body on restore).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredTemplate {
    pub business: u32,
    pub spec: TemplateSpec,
    pub status: TemplateStatus,
    pub quality: Quality,
    pub paused_until: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<Instant>,
    pub flag_deadline: Option<Instant>,
    pub pause_strikes: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counted_pauses: Vec<(Instant, Instant)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rateable_changes: Vec<Instant>,
    pub edits: Vec<Instant>,
    pub awaiting_reinstatement: bool,
    pub last_provider_event_at: Option<Instant>,
    /// Written for every template (the epoch for none), so that its absence marks a state
    /// saved before it was kept: read then as the latest status applied, which ordered a
    /// late disable out as those builds did.
    #[serde(default)]
    pub reinstating_report_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_status_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub quality_event: ProviderOrder,
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub category_event: ProviderOrder,
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub components_event: ProviderOrder,
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub status_event: ProviderOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at_deadline: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "RecentRatings::is_empty")]
    pub recent_ratings: RecentRatings,
    #[serde(default, skip_serializing_if = "RecentReports::is_empty")]
    pub recent_reports: RecentReports,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_pause: Option<crate::engine::CutPause>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_lifted_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_changed_at: Option<Instant>,
    /// Absent (unlocked) in snapshots older than the lock, and for unlocked templates, so
    /// that an engine without locks writes what earlier builds read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub lock_event: ProviderOrder,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_pause_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_undo: Option<Box<DisableUndo>>,
}

impl From<&Template> for StoredTemplate {
    fn from(t: &Template) -> StoredTemplate {
        StoredTemplate {
            business: t.business,
            spec: t.spec.clone(),
            status: t.status,
            quality: t.quality,
            paused_until: t.paused_until,
            paused_at: t.paused_at,
            flag_deadline: t.flag_deadline,
            pause_strikes: t.pause_strikes,
            counted_pauses: t.counted_pauses.clone(),
            rateable_changes: t.rateable_changes.clone(),
            edits: t.edits.clone(),
            awaiting_reinstatement: t.awaiting_reinstatement,
            last_provider_event_at: t.last_provider_event_at,
            reinstating_report_at: Some(t.reinstating_report_at.unwrap_or(Instant::EPOCH)),
            quality_status_at: t.quality_status_at,
            quality_event: t.quality_event,
            category_event: t.category_event,
            components_event: t.components_event,
            status_event: t.status_event,
            disabled_at_deadline: t.disabled_at_deadline,
            recovered_at: t.recovered_at,
            recent_ratings: t.recent_ratings.clone(),
            recent_reports: t.recent_reports.clone(),
            cut_pause: t.cut_pause,
            flagged_at: t.flagged_at,
            flag_lifted_at: t.flag_lifted_at,
            text_changed_at: t.text_changed_at,
            locked: t.locked,
            lock_event: t.lock_event,
            failure_pause_at: t.failure_pause_at,
            registered_at: t.registered_at,
            disable_undo: t.undo_to_keep(),
        }
    }
}

/// `bytes` as the JSON text they must be, checked for UTF-8 once. Parsing the text rather
/// than the bytes spares serde_json re-checking every string it reads, about a fifth of
/// a restore's instructions.
pub(crate) fn json_text(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes).map_err(|e| corrupt(format!("not UTF-8 text: {e}")))
}

/// A [`Error::CorruptSnapshot`] naming `problem` (snapshots, sharded snapshots, exports).
pub(crate) fn corrupt(problem: impl Into<String>) -> Error {
    Error::CorruptSnapshot {
        problem: problem.into(),
    }
}

/// An entry listed twice: a saved state never repeats one, and keeping either copy would
/// silently drop the other.
fn twice(what: String) -> Error {
    corrupt(format!("{what} appears twice"))
}

/// Checks that no saved content record expires later than a send at `clock` would make it
/// expire: such a record would stay behind the records that expire before it, unpruned.
fn check_content_expiry(
    records: &[(Instant, u32, u64)],
    clock: Instant,
    period: Duration,
) -> Result<(), Error> {
    if records
        .iter()
        .any(|&(expires_at, ..)| expires_at > clock.plus(period))
    {
        return Err(corrupt(
            "a sent-content record expires later than a send at the clock would",
        ));
    }
    Ok(())
}

/// Checks a saved ticket counter against the largest ticket id saved with it: above every
/// id, at most [`MAX_NEXT_TICKET`](crate::engine::MAX_NEXT_TICKET), where every new
/// ticket takes it (so it may equal the largest id).
fn check_ticket_counter(next_ticket: u64, max_ticket: u64) -> Result<(), Error> {
    let most = crate::engine::MAX_NEXT_TICKET;
    if next_ticket > most {
        return Err(corrupt(format!(
            "next ticket id {next_ticket} is above the largest allowed, {most}"
        )));
    }
    if next_ticket < max_ticket || (next_ticket == max_ticket && next_ticket != most) {
        return Err(corrupt(format!(
            "next ticket id {next_ticket} is not above the largest ticket {max_ticket}"
        )));
    }
    Ok(())
}

/// The idempotency keys from a snapshot's two lists, each key's first decision put in the
/// place the expiry order gives it. `keys` are scoped to their businesses ([`scoped_key`])
/// and the order lists host keys, so an order entry places an entry of its instant and host
/// key (of two businesses' entries of one instant and key, either may go first). Order
/// entries of a key that was replaced since (older engines wrote them) are skipped; a key
/// with no place in the order is corrupt, and so is a key repeated within one business.
fn restore_idempotency(
    ttl: Duration,
    keys: Vec<(String, Instant, Remembered)>,
    order: Vec<(Instant, String)>,
    clock: Instant,
) -> Result<ExpiringMap<Remembered>, Error> {
    let mut seen = HashSet::with_capacity(keys.len());
    for (key, ..) in &keys {
        if !seen.insert(key.as_str()) {
            let key = host_key(key);
            return Err(corrupt(format!("idempotency key {key:?} is repeated")));
        }
    }
    drop(seen);
    let count = keys.len();
    // (instant, host key) → the entries waiting for their place.
    let mut unplaced: HashMap<(Instant, String), Vec<(String, Remembered)>> =
        HashMap::with_capacity(count);
    for (key, at, remembered) in keys {
        let place = (at, host_key(&key).to_owned());
        unplaced.entry(place).or_default().push((key, remembered));
    }
    let mut entries = Vec::with_capacity(count);
    for (at, host) in order {
        if let Some((key, remembered)) = unplaced.get_mut(&(at, host)).and_then(Vec::pop) {
            entries.push((key, at, remembered));
        }
    }
    if entries.len() < count {
        let key = unplaced
            .into_iter()
            .filter(|(_, waiting)| !waiting.is_empty())
            .map(|((_, host), _)| host)
            .min()
            .expect("an entry is left");
        return Err(corrupt(format!(
            "idempotency key {key:?} has no place in the expiry order"
        )));
    }
    ExpiringMap::from_entries(ttl, entries, clock)
        .ok_or_else(|| corrupt("idempotency keys out of expiry order or after the clock"))
}

/// `items` each with its number from the parallel list `numbers` (one per item, each
/// naming one of `number_count` numbers).
fn numbered<T>(
    items: Vec<T>,
    numbers: Vec<Option<u32>>,
    number_count: u32,
    what: &str,
) -> Result<Vec<(T, Option<u32>)>, Error> {
    if numbers.len() != items.len() {
        return Err(corrupt(format!(
            "{} {what} but {} numbers for them",
            items.len(),
            numbers.len()
        )));
    }
    if let Some(n) = numbers.iter().flatten().find(|&&n| n >= number_count) {
        return Err(corrupt(format!(
            "one of the {what} names number {n} of {number_count}"
        )));
    }
    Ok(items.into_iter().zip(numbers).collect())
}

/// The requests kept beside `len` idempotency keys by position, absent (empty) from bodies
/// written before they were kept: then `None` (any request) for every key.
fn by_position<T>(
    mut items: Vec<Option<T>>,
    len: usize,
    what: &str,
) -> Result<Vec<Option<T>>, Error> {
    check_by_position(items.len(), len, what)?;
    items.resize_with(len, || None);
    Ok(items)
}

/// That `requests` requests stand beside `len` of `what`: as many, or none.
pub(crate) fn check_by_position(requests: usize, len: usize, what: &str) -> Result<(), Error> {
    if requests == 0 || requests == len {
        return Ok(());
    }
    Err(corrupt(format!(
        "{len} {what} but {requests} requests for them"
    )))
}

fn sorted<K: Ord + Copy, V: Clone>(map: &crate::hash::FastMap<K, V>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = map.iter().map(|(k, v)| (*k, v.clone())).collect();
    v.sort_unstable_by_key(|(k, _)| *k);
    v
}

impl Engine {
    /// The whole state as JSON bytes, effects not yet polled included: drain
    /// [`Engine::poll_effect`] first, or the restored engine hands them out again.
    pub fn snapshot(&self) -> Vec<u8> {
        let body = self.snapshot_body();
        seal(&serde_json::to_vec(&body).expect("snapshot types serialise infallibly"))
    }

    /// The whole state as the snapshot's body, in memory.
    pub(crate) fn snapshot_body(&self) -> SnapshotBody {
        // Keys with their first decision (sorted by key) and the order they expire in: the
        // two lists the format has always had. They list the host's keys: a key's business
        // is its number's (one of two businesses' same key first in business order).
        let mut remembered = self.idempotency.entries();
        let idempotency_order = remembered
            .iter()
            .map(|&(k, t, _)| (t, host_key(k).to_owned()))
            .collect();
        remembered.sort_unstable_by(|a, b| (host_key(a.0), a.0).cmp(&(host_key(b.0), b.0)));
        let idempotency_requests = remembered.iter().map(|(.., r)| r.request).collect();
        let (idempotency, idempotency_numbers) = remembered
            .into_iter()
            .map(|(k, t, r)| ((host_key(k).to_owned(), t, r.decision.clone()), r.number))
            .unzip();
        let mut inbound_ids = Vec::new();
        let mut inbound_id_numbers = Vec::new();
        let mut inbound_id_senders = Vec::new();
        for (k, t, &number) in self.inbound_ids.entries() {
            let (id, sender) = inbound_key_parts(k);
            inbound_ids.push((id.to_owned(), t));
            inbound_id_numbers.push(number);
            inbound_id_senders.push(sender);
        }
        SnapshotBody {
            policy: self.policy.clone(),
            clock: self.clock,
            interned: self
                .interner
                .strings()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            businesses: self.businesses.clone(),
            numbers: self.numbers.clone(),
            templates: self.templates.iter().map(StoredTemplate::from).collect(),
            conversations: self.conversations.clone(),
            live_chats: self.live_chats().collect(),
            outbox: sorted(&self.outbox),
            consents: sorted(&self.consents)
                .into_iter()
                .map(|((b, c), r)| (b, c, r))
                .collect(),
            sent_content: self.sent_content.records().collect(),
            idempotency,
            idempotency_order,
            idempotency_numbers: Some(idempotency_numbers),
            idempotency_requests,
            timers: self.timers.armed_sorted(),
            effects: self.effects.iter().cloned().collect(),
            next_ticket: self.next_ticket,
            limits: {
                let mut owners: Vec<u32> = self.limits.keys().copied().collect();
                owners.sort_unstable();
                owners
                    .into_iter()
                    .map(|owner| self.limits[&owner].stored(owner, |contact| contact))
                    .collect()
            },
            billing: sorted(&self.billing),
            usage: sorted(&self.usage),
            // The provider's ids; each is its conversation's number's.
            sent_messages: self
                .sent_messages
                .entries()
                .into_iter()
                .map(|(k, t, v)| (host_key(k).to_owned(), t, v.clone()))
                .collect(),
            inbound_ids,
            inbound_id_numbers: Some(inbound_id_numbers),
            inbound_id_senders,
            backoffs: sorted(&self.backoffs),
            contact_links: self.contact_links.sorted(),
            consent_groups: self.consent_groups.sorted(),
            link_dates: self.contact_links.sorted_dates(),
            handovers: self.contact_links.sorted_handovers(),
            ticket_responses: sorted(&self.ticket_responses),
        }
    }

    /// Rebuilds an engine from [`Engine::snapshot`] bytes. Unknown versions, a checksum that
    /// does not match (truncated or altered bytes) and corrupt or inconsistent input are
    /// errors.
    pub fn restore(bytes: &[u8]) -> Result<Engine, Error> {
        let (version, body) = unseal_versioned(bytes)?;
        let mut s: SnapshotBody =
            serde_json::from_str(json_text(body)?).map_err(|e| corrupt(e.to_string()))?;
        if version < 4 {
            // The checksum covers the body, not the envelope's version, and versions 3 and
            // 4 share it: a version 4 body relabelled as 3 would restore with every key's
            // and inbound id's number and sender dropped. Version 4 always writes the
            // numbers (and senders when it has any) and older versions never did, so a body
            // holding them is not of the version it claims.
            let newer = [
                ("idempotency_numbers", s.idempotency_numbers.is_some()),
                ("inbound_id_numbers", s.inbound_id_numbers.is_some()),
                ("inbound_id_senders", !s.inbound_id_senders.is_empty()),
            ];
            if let Some((field, _)) = newer.iter().find(|(_, held)| *held) {
                return Err(corrupt(format!(
                    "the envelope says version {version}, and the body holds \
                     `{field}`, which only version 4 and later write (the version altered?)"
                )));
            }
            // Older bodies did not record numbers: their keys and ids belong to none.
            s.idempotency_numbers = Some(vec![None; s.idempotency.len()]);
            s.inbound_id_numbers = Some(vec![None; s.inbound_ids.len()]);
        }
        Engine::from_snapshot(s)
    }

    /// An engine from a snapshot's body, every index checked.
    pub(crate) fn from_snapshot(s: SnapshotBody) -> Result<Engine, Error> {
        // A policy that could not have been built through the overrides is not restored.
        s.policy.validate()?;
        let mut engine = Engine::new(s.policy);
        engine.clock = s.clock;
        engine.interner = Interner::from_strings(s.interned)?;
        let known = |key: AddressKey, what: &str| {
            if engine.interner.knows(key) {
                Ok(())
            } else {
                Err(corrupt(format!("{what} refers to an unknown interned id")))
            }
        };

        for (i, b) in s.businesses.iter().enumerate() {
            crate::engine::check_saved_business(&b.name)?;
            if engine
                .business_index
                .insert(b.name.clone(), i as u32)
                .is_some()
            {
                return Err(corrupt(format!("business {:?} appears twice", b.name)));
            }
        }
        let business_count = s.businesses.len() as u32;
        engine.businesses = s.businesses;
        let business_ok = |b: u32, what: &str| {
            if b < business_count {
                Ok(())
            } else {
                Err(corrupt(format!(
                    "{what} names business {b} of {business_count}"
                )))
            }
        };

        for (i, n) in s.numbers.iter().enumerate() {
            known(n.address, "a number")?;
            // A number is a phone number or an account id (interned as an opaque id), never a
            // group: `register_number` and every input find it as one of those, so a number
            // tagged a group was beyond their reach, beside one of the same text.
            if n.address.is_group() {
                return Err(corrupt(format!(
                    "number {i}'s address is tagged a group; a number is a phone number or \
                     an account id"
                )));
            }
            // A packed address must be a phone number, as an import checks it: restored, the
            // number's export would be refused.
            if let Some(text) = n.address.phone_text() {
                if let Err(e) = normalize_phone(&text) {
                    return Err(corrupt(format!("number {i}'s address: {e}")));
                }
            }
            business_ok(n.business, &format!("number {i}"))?;
            if engine.number_index.insert(n.address, i as u32).is_some() {
                return Err(corrupt(format!("number {i} appears twice")));
            }
            n.check_saved(engine.policy.limits.levels.len(), s.clock)
                .map_err(|problem| corrupt(format!("number {i} {problem}")))?;
            if let Some(id) = &n.phone_number_id {
                if engine
                    .provider_number_ids
                    .insert(id.clone(), i as u32)
                    .is_some()
                {
                    return Err(corrupt(format!("phone_number_id {id:?} appears twice")));
                }
            }
        }
        let number_count = s.numbers.len() as u32;
        for b in &mut engine.businesses {
            b.numbers.clear();
        }
        for (i, n) in s.numbers.iter().enumerate() {
            engine.businesses[n.business as usize]
                .numbers
                .push(i as u32);
        }
        engine.numbers = s.numbers;

        for (i, t) in s.templates.into_iter().enumerate() {
            business_ok(t.business, &format!("template {i}"))?;
            crate::engine::check_saved_template(&t.spec)?;
            let variables = parse_variables(&t.spec.body).map_err(|p| {
                corrupt(format!(
                    "template {:?} has an invalid body: {p}",
                    t.spec.name
                ))
            })?;
            crate::engine::check_saved_state(
                &crate::engine::SavedState {
                    name: &t.spec.name,
                    recent_ratings: &t.recent_ratings,
                    recent_reports: &t.recent_reports,
                    status: t.status,
                    disabled_at_deadline: t.disabled_at_deadline,
                    edits: &t.edits,
                    locked: t.locked,
                    lock_event: t.lock_event,
                },
                s.clock,
            )?;
            if engine
                .template_index
                .insert(t.business, &t.spec.name, &t.spec.language, i as u32)
                .is_some()
            {
                return Err(corrupt(format!("template {:?} appears twice", t.spec.name)));
            }
            engine.templates.push(Template {
                business: t.business,
                spec: t.spec,
                variables,
                status: t.status,
                quality: t.quality,
                paused_until: t.paused_until,
                paused_at: t.paused_at,
                flag_deadline: t.flag_deadline,
                pause_strikes: t.pause_strikes,
                counted_pauses: t.counted_pauses,
                rateable_changes: t.rateable_changes,
                edits: t.edits,
                awaiting_reinstatement: t.awaiting_reinstatement,
                last_provider_event_at: t.last_provider_event_at,
                reinstating_report_at: match t.reinstating_report_at {
                    Some(Instant::EPOCH) => None,
                    Some(at) => Some(at),
                    None => t.last_provider_event_at,
                },
                quality_status_at: t.quality_status_at,
                quality_event: t.quality_event,
                category_event: t.category_event,
                components_event: t.components_event,
                status_event: t.status_event,
                disabled_at_deadline: t.disabled_at_deadline,
                recovered_at: t.recovered_at,
                recent_ratings: t.recent_ratings,
                recent_reports: t.recent_reports,
                cut_pause: t.cut_pause,
                flagged_at: t.flagged_at,
                flag_lifted_at: t.flag_lifted_at,
                text_changed_at: t.text_changed_at,
                locked: t.locked,
                lock_event: t.lock_event,
                failure_pause_at: t.failure_pause_at,
                registered_at: t.registered_at,
                disable_undo: t.disable_undo,
            });
            crate::engine::check_saved_undo(&engine.templates[i], &engine.policy, s.clock)?;
            engine.templates[i].count_pause_in_progress(&engine.policy);
        }

        let mut max_ticket = 0;
        // As many as an engine creates (`Engine::conversation_or_create`): `u32::MAX`, so
        // that the last place is below `u32::MAX` and no conversation id is `u64::MAX`.
        if s.conversations.len() > u32::MAX as usize {
            return Err(corrupt(format!(
                "{} conversations: at most {} (an engine's capacity)",
                s.conversations.len(),
                u32::MAX
            )));
        }
        engine.conversation_index = ConversationIndex::with_capacity(s.conversations.len());
        for (i, c) in s.conversations.iter().enumerate() {
            known(c.contact, "a conversation")?;
            if c.number >= number_count {
                return Err(corrupt(format!(
                    "conversation {i} names number {} of {number_count}",
                    c.number
                )));
            }
            if engine
                .conversation_index
                .get(&s.conversations, c.number, c.contact)
                .is_some()
            {
                return Err(corrupt(format!("conversation {i} appears twice")));
            }
            engine
                .conversation_index
                .insert(c.number, c.contact, i as u32);
            max_ticket = max_ticket.max(c.ticket().map_or(0, |t| t.id));
        }
        let conv_count = s.conversations.len() as u32;
        check_ticket_counter(s.next_ticket, max_ticket)?;
        let conv_ok = |c: u32, what: &str| {
            if c < conv_count {
                Ok(())
            } else {
                Err(corrupt(format!(
                    "{what} names conversation {c} of {conv_count}"
                )))
            }
        };
        // Conversations rebuilt in memory (a business removed or imported) carry their
        // chats already, so a repeat is looked for in the list itself.
        let mut chatting = HashSet::new();
        for &(c, _) in &s.live_chats {
            conv_ok(c, "a live chat")?;
            if !chatting.insert(c) {
                return Err(twice(format!("the live chat of conversation {c}")));
            }
            if s.conversations[c as usize].ticket().is_none() {
                return Err(corrupt(format!(
                    "live chat of conversation {c} has no ticket"
                )));
            }
        }
        // A chat's last message came at or before the clock: a later one would put the
        // next message, at the clock, before the chat started.
        if let Some((c, chat)) = s
            .live_chats
            .iter()
            .find(|(_, chat)| chat.last_activity_at > s.clock)
        {
            return Err(corrupt(format!(
                "live chat of conversation {c}: last_activity_at {} is after the state's clock {}",
                chat.last_activity_at, s.clock
            )));
        }
        for (c, held) in s.outbox {
            conv_ok(c, "the outbox")?;
            if held.is_empty() {
                return Err(corrupt(format!("empty outbox entry for conversation {c}")));
            }
            crate::outbox::check_saved(&held, s.clock, engine.policy.outbox.hold_for)
                .map_err(|problem| corrupt(format!("outbox of conversation {c}: {problem}")))?;
            if engine.outbox.insert(c, held).is_some() {
                return Err(twice(format!("the outbox of conversation {c}")));
            }
        }
        for (b, contact, record) in s.consents {
            business_ok(b, "consent")?;
            known(contact, "a consent record")?;
            if engine.consents.insert((b, contact), record).is_some() {
                return Err(twice(format!("a consent record of business {b}")));
            }
        }
        for (b, alias, contact) in s.contact_links {
            business_ok(b, "a contact link")?;
            known(alias, "a contact link")?;
            known(contact, "a contact link")?;
            engine
                .contact_links
                .restore(b, alias, contact)
                .map_err(corrupt)?;
        }
        engine.contact_links.check_no_chains().map_err(corrupt)?;
        for (b, name, at) in s.link_dates {
            business_ok(b, "a link date")?;
            known(name, "a link date")?;
            engine
                .contact_links
                .restore_date(b, name, at)
                .map_err(corrupt)?;
        }
        for (b, phone, (at, previous)) in s.handovers {
            business_ok(b, "a change of hands")?;
            known(phone, "a change of hands")?;
            known(previous, "a change of hands")?;
            if at > s.clock {
                return Err(corrupt(format!(
                    "a change of hands of business {b} at {at} is after the state's clock {}",
                    s.clock
                )));
            }
            engine
                .contact_links
                .restore_handover(b, phone, (at, previous))
                .map_err(corrupt)?;
        }
        for &(b, name, next) in &s.consent_groups {
            business_ok(b, "a consent group")?;
            known(name, "a consent group")?;
            known(next, "a consent group")?;
            engine
                .consent_groups
                .restore(b, name, next)
                .map_err(corrupt)?;
            // Consent is kept under a contact's key, never an alias; and the names of a
            // group hold copies of one record (a ring of equal neighbours: all equal).
            let record = |key| engine.consents.get(&(b, key));
            if engine.contact_links.resolve(b, name) != name || record(name) != record(next) {
                return Err(corrupt(format!(
                    "a consent group of business {b} names an alias or holds two records"
                )));
            }
        }
        engine.consent_groups.check_rings().map_err(corrupt)?;
        for &(_, c, _) in &s.sent_content {
            conv_ok(c, "a sent-content record")?;
        }
        check_content_expiry(&s.sent_content, s.clock, engine.policy.dedup.content_period)?;
        let requests = by_position(
            s.idempotency_requests,
            s.idempotency.len(),
            "idempotency keys",
        )?;
        let idempotency = numbered(
            s.idempotency,
            s.idempotency_numbers.unwrap_or_default(),
            number_count,
            "idempotency keys",
        )?;
        engine.idempotency = restore_idempotency(
            engine.policy.dedup.idempotency_key_ttl,
            idempotency
                .into_iter()
                .zip(requests)
                .map(|(((key, at, decision), number), request)| {
                    // Held under the business of the number it was decided for.
                    let business = number.map(|n| engine.numbers[n as usize].business);
                    let key = scoped_key(business, &key);
                    let remembered = Remembered {
                        decision,
                        number,
                        request,
                    };
                    (key, at, remembered)
                })
                .collect(),
            s.idempotency_order,
            s.clock,
        )?;
        let template_count = engine.templates.len() as u32;
        let owner_count = match engine.policy.limits.scope {
            LimitScope::Number => number_count,
            LimitScope::Business => business_count,
        };
        let targets = TimerTargets {
            conversations: conv_count,
            templates: template_count,
            numbers: number_count,
            limit_owners: owner_count,
        };
        let mut armed = HashSet::new();
        for (key, _) in &s.timers {
            key.check_target(targets).map_err(corrupt)?;
            if !armed.insert(*key) {
                return Err(twice(format!("timer {key:?}")));
            }
        }
        for stored in s.limits {
            if stored.owner >= owner_count {
                return Err(corrupt(format!(
                    "a limit names owner {} of {owner_count}",
                    stored.owner
                )));
            }
            // Contacts as an import checks them: restored, an unknown one was exported as an
            // index into no string, and the export was refused.
            for (contact, _) in &stored.window {
                known(*contact, "a messaging limit's window contact")?;
            }
            for (contact, _) in &stored.lookback {
                known(*contact, "a messaging limit's lookback contact")?;
            }
            let (owner, state) = engine.restore_limit(stored, engine.clock)?;
            if engine.limits.insert(owner, state).is_some() {
                return Err(twice(format!("the limit of owner {owner}")));
            }
        }
        for (c, state) in s.billing {
            conv_ok(c, "a billing record")?;
            if engine.billing.insert(c, state).is_some() {
                return Err(twice(format!("the billing record of conversation {c}")));
            }
        }
        let memory = engine.policy.provider.status_memory;
        for (_, _, sent) in &s.sent_messages {
            conv_ok(sent.conv, "a sent message")?;
            if sent.template.is_some_and(|t| t >= template_count) {
                return Err(corrupt("a sent message names an unknown template"));
            }
        }
        let sent_messages = (s.sent_messages.into_iter())
            .map(|(id, at, sent)| {
                // Its conversation, checked above to be one of the snapshot's.
                let number = s.conversations[sent.conv as usize].number;
                (scoped_key(Some(number), &id), at, sent)
            })
            .collect();
        engine.sent_messages = ExpiringMap::from_entries(memory, sent_messages, s.clock)
            .ok_or_else(|| corrupt("sent messages out of order, repeated or after the clock"))?;
        let inbound_ids = numbered(
            s.inbound_ids,
            s.inbound_id_numbers.unwrap_or_default(),
            number_count,
            "inbound ids",
        )?;
        let senders = match s.inbound_id_senders.len() {
            0 => vec![None; inbound_ids.len()],
            n if n == inbound_ids.len() => s.inbound_id_senders,
            n => {
                return Err(corrupt(format!(
                    "{} inbound ids but {n} senders for them",
                    inbound_ids.len()
                )))
            }
        };
        let mut scoped_ids = Vec::with_capacity(inbound_ids.len());
        for (((id, at), number), sender) in inbound_ids.into_iter().zip(senders) {
            let scope = match (number, sender) {
                (Some(number), Some(sender)) => {
                    known(sender, "an inbound id's sender")?;
                    Some((number, sender))
                }
                (None, Some(_)) => {
                    return Err(corrupt(format!(
                        "inbound id {id:?} names a sender but no number"
                    )))
                }
                (_, None) => None,
            };
            engine.inbound_ids_unscoped |= scope.is_none();
            scoped_ids.push((inbound_key(scope, &id), at, number));
        }
        engine.inbound_ids = ExpiringMap::from_entries(memory, scoped_ids, s.clock)
            .ok_or_else(|| corrupt("inbound ids out of order, repeated or after the clock"))?;
        for (c, backoff) in s.backoffs {
            conv_ok(c, "a back-off")?;
            if engine.backoffs.insert(c, backoff).is_some() {
                return Err(twice(format!("the back-off of conversation {c}")));
            }
        }
        for ((n, month), usage) in s.usage {
            if n >= number_count {
                return Err(corrupt(format!("usage names number {n} of {number_count}")));
            }
            if engine.usage.insert((n, month), usage).is_some() {
                return Err(twice(format!("the usage of number {n} in month {month}")));
            }
        }
        engine.timers = Timers::from_armed(s.timers);
        engine.conversations = s.conversations;
        // Rebuilt once the conversations are in: a record's recipient is its conversation's.
        engine.sent_content = SentContent::from_records(s.sent_content, |c| engine.recipient_of(c));
        for (c, chat) in s.live_chats {
            engine.set_live_chat(c, Some(chat));
        }
        for (c, record) in s.ticket_responses {
            conv_ok(c, "an email ticket's response times")?;
            engine.check_ticket_responses(c, &record, s.clock)?;
            if engine.ticket_responses.insert(c, record).is_some() {
                return Err(twice(format!(
                    "the email ticket response times of conversation {c}"
                )));
            }
        }
        engine.check_conversation_timers()?;
        engine.effects = s.effects.into();
        engine.next_ticket = s.next_ticket;
        engine.rebuild_allowance();
        Ok(engine)
    }
}

impl Engine {
    /// Refuses a restored state whose live chat or held messages have no timer armed by
    /// their deadline (the chat's idle end, the first message's expiry). The engine arms
    /// each as it makes them and only ever brings one forward, so a state without one was
    /// not saved by an engine; restored, its chat stayed live, or its messages held,
    /// forever, as nothing else wakes them.
    fn check_conversation_timers(&self) -> Result<(), Error> {
        let due_by = |key: TimerKey, deadline: Instant| {
            self.timers.armed_at(key).is_some_and(|at| at <= deadline)
        };
        for (c, chat) in self.live_chats() {
            let number = self.conversations[c as usize].number;
            let deadline = chat.last_activity_at.plus(self.idle_timeout(number));
            if !due_by(TimerKey::ChatIdle(c), deadline) {
                return Err(corrupt(format!(
                    "live chat of conversation {c} has no idle timer armed by its end at \
                     {deadline}"
                )));
            }
        }
        // The lowest such conversation, so that the error is the same in every run (the
        // outbox map's order is not).
        let unarmed = (self.outbox.iter())
            .map(|(&c, held)| (c, held.first().map_or(Instant::EPOCH, |h| h.expires_at)))
            .filter(|&(c, first)| !due_by(TimerKey::OutboxExpiry(c), first))
            .min();
        if let Some((c, first)) = unarmed {
            return Err(corrupt(format!(
                "outbox of conversation {c} has no expiry timer armed by its first message's \
                 expiry at {first}"
            )));
        }
        Ok(())
    }
}
