//! Fixtures shared by the criterion benches and the memory measurement: engines holding N
//! conversations built through the typed API, and pools of prebuilt inputs to replay.
//!
//! Phone numbers are derived from integers (contact `i` is `+4915` followed by `i` in nine
//! digits), conversations are spread over [`NUMBERS`] numbers of [`BUSINESSES`] businesses,
//! and inputs pick conversations with a fixed-seed generator so that runs are comparable.
//! Inputs are built once and mutated in place (their instant, a counter in a text), so a
//! bench measures the engine, not the building of its inputs.

use std::fmt::Write as _;

use convstate::event::{Consent, Inbound, InboundKind, SendRequest};
use convstate::message::{TemplateMessage, TemplateParams};
use convstate::sharded::ShardedEngine;
use convstate::wire::decode_event;
use convstate::{
    ConversationId, Decision, Duration, Effect, Engine, Error, Event, InboundOutcome, Instant,
    OutboundMessage, Policy, SendToRef,
};
use convstate_ffi_shim as ffi;

/// Numbers the conversations are spread over.
pub const NUMBERS: u64 = 100;
/// Businesses owning those numbers (ten numbers each).
pub const BUSINESSES: u64 = 10;
/// 2026-11-02T08:00:00Z: when the fixtures' conversations were last written to.
pub const T0_MS: i64 = 1_793_606_400_000;

/// `CONVSTATE_BENCH_FULL=1` adds the 1 million conversation sizes.
pub fn sizes() -> Vec<u64> {
    if std::env::var("CONVSTATE_BENCH_FULL").is_ok_and(|v| v == "1") {
        vec![10_000, 1_000_000]
    } else {
        vec![10_000]
    }
}

/// The instant `ms` milliseconds after [`T0_MS`].
pub fn at(ms: i64) -> Instant {
    Instant::from_unix_millis(T0_MS + ms).expect("fixture instants are in range")
}

/// Contact `i`'s phone number.
pub fn contact(i: u64) -> String {
    format!("+4915{i:09}")
}

/// Number `j`'s phone number.
pub fn number(j: u64) -> String {
    format!("+1555{j:07}")
}

/// The business of number `j`.
pub fn business(j: u64) -> String {
    format!("biz{}", j % BUSINESSES)
}

/// Conversation `i` is between `number(i % NUMBERS)` and `contact(i)`.
pub fn number_of(i: u64) -> u64 {
    i % NUMBERS
}

/// cloud-2025 with every business at the unlimited messaging tier (a large CRM's
/// established businesses), so template sends are decided by the window, consent and
/// template rules rather than all denied by a 250-contact day.
pub fn unlimited_policy() -> Policy {
    Policy::with_overrides(
        "cloud-2025",
        &serde_json::json!({"limits": {"levels": ["unlimited"]}}),
    )
    .expect("a valid override")
}

/// The cloud-2025 preset as is (250 new contacts a day per business to start with).
pub fn limited_policy() -> Policy {
    Policy::preset("cloud-2025").expect("a preset")
}

fn event(line: &str) -> Event {
    decode_event(line).unwrap_or_else(|e| panic!("fixture line {line}: {e}"))
}

/// The businesses' `order_ready` templates, then their numbers, as events.
pub fn registration() -> Vec<Event> {
    let templates = (0..BUSINESSES).map(|b| {
        event(&format!(
            r#"{{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"biz{b}","name":"order_ready","language":"en","category":"utility","body":"Your order {{{{1}}}} is ready.","status":"approved","quality":"high"}}"#
        ))
    });
    let numbers = (0..NUMBERS).map(|j| {
        event(&format!(
            r#"{{"type":"register_number","at":"2026-11-02T07:00:00Z","business":"{}","number":"{}","channel":"official"}}"#,
            business(j),
            number(j)
        ))
    });
    templates.chain(numbers).collect()
}

/// Businesses, their `order_ready` template and their numbers.
pub fn registered(policy: Policy) -> Engine {
    let mut engine = Engine::new(policy);
    for e in registration() {
        engine.handle(e).expect("registration");
    }
    engine
}

/// An inbound text from conversation `i` at `at` (fields reused by [`retarget_inbound`]).
pub fn inbound(i: u64, at: Instant) -> Inbound {
    Inbound {
        at,
        number: number(number_of(i)),
        contact: Some(contact(i)),
        group: None,
        kind: InboundKind::Text,
        size: None,
        referral: false,
        message_id: None,
        user_id: None,
    }
}

/// Points an inbound at conversation `i` without allocating.
pub fn retarget_inbound(e: &mut Inbound, i: u64) {
    e.number.clear();
    write!(e.number, "+1555{:07}", number_of(i)).expect("write to String");
    let contact = e.contact.get_or_insert_with(String::new);
    contact.clear();
    write!(contact, "+4915{i:09}").expect("write to String");
}

/// Drops queued effects (benches measure deciding, not the host's handling of effects).
pub fn drain(engine: &mut Engine) -> usize {
    let mut n = 0;
    while engine.poll_effect().is_some() {
        n += 1;
    }
    n
}

/// An engine with `n` conversations whose contacts wrote at [`T0_MS`]; with `idle`, an hour
/// later so their live chats have ended (idle conversations: a window, a ticket, no chat).
pub fn with_conversations(policy: Policy, n: u64, idle: bool) -> Engine {
    let mut engine = registered(policy);
    let mut e = inbound(0, at(0));
    for i in 0..n {
        retarget_inbound(&mut e, i);
        engine.inbound(&e).expect("inbound");
        if i % 1024 == 0 {
            drain(&mut engine);
        }
    }
    if idle {
        end_live_chats(&mut engine);
    }
    drain(&mut engine);
    engine
}

/// An hour on: the live chats of [`with_conversations`] have ended by inactivity.
pub fn end_live_chats(engine: &mut Engine) {
    engine.handle_timeout(at(Duration::from_hours(1).millis()));
}

/// A fixed-seed generator (SplitMix64) for choosing conversations.
#[derive(Debug, Clone)]
pub struct Picker(u64);

impl Picker {
    /// A generator with `seed`.
    pub fn new(seed: u64) -> Picker {
        Picker(seed)
    }
    /// The next conversation index below `n`.
    pub fn pick(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// Prebuilt inputs replayed in a cycle.
pub const POOL: usize = 1 << 16;

/// The JSON door's input: [`POOL`] wire lines, alternately an `inbound` and a `check_send`
/// (a text reply) for conversations picked among `n` with `seed`.
pub fn json_door_lines(n: u64, seed: u64) -> Vec<String> {
    let mut picker = Picker::new(seed);
    (0..POOL)
        .map(|k| {
            let i = picker.pick(n);
            if k % 2 == 0 {
                format!(
                    r#"{{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"{}","contact":"{}","kind":"text"}}"#,
                    number(number_of(i)),
                    contact(i)
                )
            } else {
                format!(
                    r#"{{"type":"check_send","at":"2026-11-02T09:00:00Z","number":"{}","contact":"{}","message":{{"kind":"text","text":"On its way, ref {k}"}}}}"#,
                    number(number_of(i)),
                    contact(i)
                )
            }
        })
        .collect()
}

/// A free-form text reply to conversation `i` whose text ends in a rewritable counter.
pub fn text_send(i: u64, at: Instant) -> SendRequest {
    SendRequest {
        at,
        number: number(number_of(i)),
        contact: Some(contact(i)),
        group: None,
        message: OutboundMessage::Text {
            text: "Thanks, we are on it (ref 0000000000)".to_owned(),
        },
        idempotency_key: None,
        force: false,
        message_id: None,
        automated: false,
    }
}

/// A send of business `i`'s `order_ready` template to conversation `i`.
pub fn template_send(i: u64, at: Instant) -> SendRequest {
    match event(&format!(
        r#"{{"type":"send","at":"2026-11-02T08:00:00Z","number":"{}","contact":"{}","message":{{"kind":"template","name":"order_ready","language":"en","params":["A-{i}"]}}}}"#,
        number(number_of(i)),
        contact(i)
    )) {
        Event::Send(mut req) => {
            req.at = at;
            req
        }
        _ => unreachable!("a send line decodes to a send"),
    }
}

/// Rewrites the counter in a text message or a template's first parameter (so repeated
/// sends are not duplicates), without allocating once the string has grown.
pub fn set_counter(req: &mut SendRequest, counter: u64) {
    let digits = ten_hex_digits(counter);
    // SAFETY: ASCII hex digits are UTF-8 (validating them cost the measured loop 45
    // instructions an input).
    let digits = unsafe { std::str::from_utf8_unchecked(&digits) };
    match &mut req.message {
        OutboundMessage::Text { text } => {
            text.truncate(text.len() - 11);
            text.push_str(digits);
            text.push(')');
        }
        OutboundMessage::Template(TemplateMessage {
            params: TemplateParams::Positional(params),
            ..
        }) => {
            if let Some(first) = params.first_mut() {
                first.truncate(2);
                first.push_str(digits);
            }
        }
        _ => {}
    }
}

/// `counter` modulo 2^40 as ten hex digits, written in place of the previous ones so that
/// the harness does not format (or allocate) inside the measured loop. Hex, not decimal:
/// shifts instead of ten divisions cost the measured loop about 40 instructions a send less,
/// and any distinct text serves (the content only has to differ from the last send's).
fn ten_hex_digits(counter: u64) -> [u8; 10] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0; 10];
    for (k, d) in digits.iter_mut().enumerate() {
        *d = HEX[(counter >> (4 * (9 - k))) as usize & 0xF];
    }
    digits
}

/// A pool of sends to conversations picked by `picker` among `n`, each contact opted in first
/// (so that templates are decided by the window and limits, not refused for consent).
pub fn opted_in_pool(
    engine: &mut Engine,
    n: u64,
    picker: &mut Picker,
    send: fn(u64, Instant) -> SendRequest,
) -> Vec<SendRequest> {
    (0..POOL)
        .map(|_| {
            let i = picker.pick(n);
            opt_in(engine, i);
            send(i, at(0))
        })
        .collect()
}

/// Records the opt-in of conversation `i`'s contact with its number's business.
pub fn opt_in(engine: &mut Engine, i: u64) {
    engine.handle(opt_in_event(i)).expect("opt-in");
}

/// The opt-in of conversation `i`'s contact with its number's business.
pub fn opt_in_event(i: u64) -> Event {
    Event::OptIn(Consent {
        at: at(0),
        business: Some(business(number_of(i))),
        number: None,
        contact: contact(i),
    })
}

/// One input of realistic mixed traffic.
#[derive(Debug, Clone)]
pub enum Op {
    /// A customer writes.
    Inbound(Inbound),
    /// An agent replies (free-form).
    Reply(SendRequest),
    /// A template send (notification).
    Template(SendRequest),
    /// A dry-run decision (a UI asking whether the send button is enabled).
    Check(SendRequest),
}

/// A mixed pool over `n` conversations: 45% inbound, 35% replies, 10% template sends, 10%
/// checks. Template recipients are opted in.
pub fn mixed_pool(engine: &mut Engine, n: u64, seed: u64) -> Vec<Op> {
    mixed_pool_with(n, seed, |i| opt_in(engine, i))
}

/// [`mixed_pool`] for any engine: `opt_in(i)` records conversation `i`'s opt-in.
pub fn mixed_pool_with(n: u64, seed: u64, mut opt_in: impl FnMut(u64)) -> Vec<Op> {
    let mut picker = Picker::new(seed);
    (0..POOL)
        .map(|k| {
            let i = picker.pick(n);
            match k % 20 {
                0..=8 => Op::Inbound(inbound(i, at(0))),
                9..=15 => Op::Reply(text_send(i, at(0))),
                16 | 17 => {
                    opt_in(i);
                    Op::Template(template_send(i, at(0)))
                }
                _ => Op::Check(text_send(i, at(0))),
            }
        })
        .collect()
}

/// What mixed traffic is applied to: one [`Engine`], or a [`ShardedEngine`] with the
/// calling thread's effects ([`Shared`]).
pub trait Target {
    /// [`Engine::inbound`].
    fn inbound(&mut self, e: &Inbound) -> Result<InboundOutcome, Error>;
    /// [`Engine::send`].
    fn send(&mut self, req: &SendRequest) -> Result<Decision, Error>;
    /// [`Engine::check_send`].
    fn check_send(&mut self, req: &SendRequest) -> Result<Decision, Error>;
}

impl Target for Engine {
    fn inbound(&mut self, e: &Inbound) -> Result<InboundOutcome, Error> {
        Engine::inbound(self, e)
    }
    fn send(&mut self, req: &SendRequest) -> Result<Decision, Error> {
        Engine::send(self, req)
    }
    fn check_send(&mut self, req: &SendRequest) -> Result<Decision, Error> {
        Engine::check_send(self, req)
    }
}

/// A sharded engine as one thread uses it: the effects its calls hand back go to `effects`.
#[derive(Debug)]
pub struct Shared<'a> {
    /// The engine the threads share.
    pub engine: &'a ShardedEngine,
    /// This thread's effects.
    pub effects: &'a mut Vec<Effect>,
}

impl Target for Shared<'_> {
    fn inbound(&mut self, e: &Inbound) -> Result<InboundOutcome, Error> {
        self.engine.inbound(e, self.effects)
    }
    fn send(&mut self, req: &SendRequest) -> Result<Decision, Error> {
        self.engine.send(req, self.effects)
    }
    fn check_send(&mut self, req: &SendRequest) -> Result<Decision, Error> {
        self.engine.check_send(req)
    }
}

impl Op {
    /// Applies the input at `now` to `target`, with `counter` written into a send's text (so
    /// that repeated sends are not duplicates): `decided` of the decision of a send or check,
    /// `None` for an inbound. (`decided` takes what it needs where the decision is made; a
    /// `Decision` moved out whole cost the measured loop 40 instructions an input.)
    #[inline]
    pub fn run<R>(
        &mut self,
        target: &mut impl Target,
        now: Instant,
        counter: u64,
        decided: impl FnOnce(Decision) -> R,
    ) -> Result<Option<R>, Error> {
        match self {
            Op::Inbound(e) => {
                e.at = now;
                target.inbound(e).map(|_| None)
            }
            Op::Reply(req) | Op::Template(req) => {
                req.at = now;
                set_counter(req, counter);
                target.send(req).map(|d| Some(decided(d)))
            }
            Op::Check(req) => {
                req.at = now;
                target.check_send(req).map(|d| Some(decided(d)))
            }
        }
    }

    /// The business number the input goes to.
    pub fn number(&self) -> &str {
        match self {
            Op::Inbound(e) => &e.number,
            Op::Reply(req) | Op::Template(req) | Op::Check(req) => &req.number,
        }
    }
}

/// Applies one mixed-traffic input at `now`; returns whether it was allowed or applied.
pub fn apply(engine: &mut Engine, op: &mut Op, now: Instant, counter: u64) -> bool {
    let ok = allowed_or_applied(op.run(engine, now, counter, |d| d.is_allowed()));
    drain(engine);
    ok
}

/// The conversation id of each send and check of `pool` (`None` for an inbound), resolved
/// once, as a host that keeps the id with its conversation record has it at hand.
pub fn conversation_ids(engine: &Engine, pool: &[Op]) -> Vec<Option<ConversationId>> {
    pool.iter()
        .map(|op| match op {
            Op::Inbound(_) => None,
            Op::Reply(req) | Op::Template(req) | Op::Check(req) => {
                let id = engine.conversation_id(&req.number, req.contact.as_deref(), None);
                Some(
                    id.expect("fixture names")
                        .expect("fixture conversations exist"),
                )
            }
        })
        .collect()
}

/// An engine whose sends and checks go to one conversation by its id ([`Engine::send_to`],
/// [`Engine::check_send_to`]); inbounds by name, as the provider names their sender.
#[derive(Debug)]
pub struct ById<'a> {
    /// The engine.
    pub engine: &'a mut Engine,
    /// The conversation of the input's send or check (`None` for an inbound).
    pub id: Option<ConversationId>,
}

impl ById<'_> {
    fn id(&self) -> ConversationId {
        self.id.expect("a send's conversation id")
    }
}

/// The parts of `req` a send by id reads.
fn send_to(req: &SendRequest) -> SendToRef<'_> {
    SendToRef {
        at: req.at,
        message: &req.message,
        idempotency_key: req.idempotency_key.as_deref(),
        force: req.force,
        message_id: req.message_id.as_deref(),
        automated: req.automated,
    }
}

impl Target for ById<'_> {
    fn inbound(&mut self, e: &Inbound) -> Result<InboundOutcome, Error> {
        self.engine.inbound(e)
    }
    fn send(&mut self, req: &SendRequest) -> Result<Decision, Error> {
        let id = self.id();
        self.engine.send_to(id, send_to(req))
    }
    fn check_send(&mut self, req: &SendRequest) -> Result<Decision, Error> {
        self.engine.check_send_to(self.id(), send_to(req))
    }
}

/// [`apply`] with sends and checks by conversation id ([`conversation_ids`]).
pub fn apply_by_id(
    engine: &mut Engine,
    op: &mut Op,
    id: Option<ConversationId>,
    now: Instant,
    counter: u64,
) -> bool {
    let mut target = ById { engine, id };
    let ok = allowed_or_applied(op.run(&mut target, now, counter, |d| d.is_allowed()));
    drain(engine);
    ok
}

/// Whether an input was applied (an inbound) or allowed (a send or check).
#[inline]
fn allowed_or_applied(result: Result<Option<bool>, Error>) -> bool {
    result.is_ok_and(|allowed| allowed.unwrap_or(true))
}

/// A sharded engine of `shards` shards holding what [`with_conversations`] holds (idle).
pub fn sharded_with_conversations(policy: Policy, n: u64, shards: usize) -> ShardedEngine {
    let engine = ShardedEngine::new(policy, shards).expect("a shard count in range");
    let mut effects = Vec::new();
    for e in registration() {
        engine.handle(e, &mut effects).expect("registration");
    }
    let mut e = inbound(0, at(0));
    for i in 0..n {
        retarget_inbound(&mut e, i);
        engine.inbound(&e, &mut effects).expect("inbound");
        effects.clear();
    }
    engine.handle_timeout(at(Duration::from_hours(1).millis()), &mut effects);
    engine
}

/// [`apply`] for a sharded engine shared between threads; `effects` is the calling thread's.
#[inline(never)]
pub fn apply_sharded(
    engine: &ShardedEngine,
    op: &mut Op,
    now: Instant,
    counter: u64,
    effects: &mut Vec<Effect>,
) -> bool {
    let ok = allowed_or_applied(op.run(&mut Shared { engine, effects }, now, counter, |d| {
        d.is_allowed()
    }));
    effects.clear();
    ok
}

/// A multiply-rotate hasher like the engine's own, for the fast-hash baseline.
#[derive(Default, Clone, Copy, Debug)]
pub struct FxLike(u64);

impl std::hash::Hasher for FxLike {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The baseline's key of conversation `i`: the contact's digits and the number index, as
/// the engine's own conversation key packs them.
pub fn baseline_key(i: u64) -> u64 {
    (4_915_000_000_000 + i) ^ (number_of(i) << 50)
}

/// A copy of an engine behind the C library's handle, with the text of [`text_send`] as a
/// prebuilt message: the C typed calls, measured against the Rust calls they wrap
/// (criterion's `c_abi` group and the `profile` tool's `c_check_send`).
#[derive(Debug)]
pub struct CEngine {
    handle: *mut ffi::convstate_engine,
    message: *mut ffi::convstate_message,
}

impl CEngine {
    /// `engine` restored from its snapshot through the C library.
    pub fn restore(engine: &Engine) -> CEngine {
        let snapshot = engine.snapshot();
        let mut handle = std::ptr::null_mut();
        // SAFETY: valid pointers and lengths; `handle` is freed on drop.
        let rc = unsafe {
            ffi::convstate_engine_restore(snapshot.as_ptr(), snapshot.len(), &mut handle)
        };
        assert_eq!(rc, ffi::convstate_result::CONVSTATE_OK);
        let reply = text_send(0, Instant::EPOCH);
        let OutboundMessage::Text { text } = &reply.message else {
            unreachable!("text_send builds a text message")
        };
        let mut message = std::ptr::null_mut();
        // SAFETY: a valid string; `message` is freed on drop.
        let rc = unsafe {
            ffi::convstate_message_new_text(text.as_ptr().cast(), text.len(), &mut message)
        };
        assert_eq!(rc, ffi::convstate_result::CONVSTATE_OK);
        CEngine { handle, message }
    }

    /// `convstate_engine_inbound`: a text from `contact` to `number` at `now`.
    #[inline]
    pub fn inbound(&self, number: &str, contact: &str, now: Instant) -> ffi::convstate_result {
        // SAFETY: a live handle and valid (pointer, length) strings.
        unsafe {
            ffi::convstate_engine_inbound(
                self.handle,
                now.unix_millis(),
                number.as_ptr().cast(),
                number.len(),
                contact.as_ptr().cast(),
                contact.len(),
                std::ptr::null(),
                0,
                ffi::convstate_inbound_kind::CONVSTATE_INBOUND_TEXT as u32,
                -1,
            )
        }
    }

    /// `convstate_engine_check_send`: the message to `contact` from `number` at `now`.
    #[inline]
    pub fn check_send(&self, number: &str, contact: &str, now: Instant) -> ffi::convstate_result {
        let request = ffi::convstate_send_request {
            at_ms: now.unix_millis(),
            number: number.as_ptr().cast(),
            number_len: number.len(),
            contact: contact.as_ptr().cast(),
            contact_len: contact.len(),
            group: std::ptr::null(),
            group_len: 0,
            message: self.message,
            idempotency_key: std::ptr::null(),
            idempotency_key_len: 0,
            force: 0,
            automated: 0,
            message_id: std::ptr::null(),
            message_id_len: 0,
        };
        let mut decision = std::mem::MaybeUninit::<ffi::convstate_decision>::uninit();
        // SAFETY: a live handle, a valid request and an output slot.
        unsafe { ffi::convstate_engine_check_send(self.handle, &request, decision.as_mut_ptr()) }
    }
}

impl Drop for CEngine {
    fn drop(&mut self) {
        // SAFETY: both were created in `restore` and are not used afterwards.
        unsafe {
            ffi::convstate_message_free(self.message);
            ffi::convstate_engine_free(self.handle);
        }
    }
}
