//! Criterion benches of the engine; see docs/PERFORMANCE.md for how to run them and the
//! results. Sizes: 10 thousand conversations, plus 1 million with `CONVSTATE_BENCH_FULL=1`.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

use convstate::{Duration, Engine};
use convstate_benches::*;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The hardware's yardstick: one hash-map update per event over the same keys.
fn bench_baseline(c: &mut Criterion) {
    let mut group = c.benchmark_group("baseline");
    group.throughput(Throughput::Elements(1));
    for n in sizes() {
        let mut picker = Picker::new(7);
        let keys: Vec<u64> = (0..POOL).map(|_| baseline_key(picker.pick(n))).collect();
        let mut sip: HashMap<u64, i64> = (0..n).map(|i| (baseline_key(i), 0)).collect();
        let mut k = 0usize;
        group.bench_function(BenchmarkId::new("hashmap_u64_i64_siphash", n), |b| {
            b.iter(|| {
                *sip.entry(keys[k % POOL]).or_insert(0) += 1;
                k += 1;
            })
        });
        let mut fx: HashMap<u64, i64, BuildHasherDefault<FxLike>> =
            (0..n).map(|i| (baseline_key(i), 0)).collect();
        group.bench_function(BenchmarkId::new("hashmap_u64_i64_fxhash", n), |b| {
            b.iter(|| {
                *fx.entry(keys[k % POOL]).or_insert(0) += 1;
                k += 1;
            })
        });
    }
}

/// Inbound messages into existing conversations, time moving 1 ms every 16 inputs.
fn bench_inbound(c: &mut Criterion) {
    let mut group = c.benchmark_group("inbound");
    group.throughput(Throughput::Elements(1));
    for n in sizes() {
        let mut engine = with_conversations(unlimited_policy(), n, true);
        let mut picker = Picker::new(11);
        let mut pool: Vec<_> = (0..POOL).map(|_| inbound(picker.pick(n), at(0))).collect();
        let mut k = 0u64;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                let e = &mut pool[k as usize % POOL];
                e.at = at(HOUR_MS + (k / 16) as i64);
                k += 1;
                black_box(engine.inbound(e)).ok();
                drain(&mut engine);
            })
        });
    }
}

/// Send decisions: a reply in an open window, a template once the window has closed, and a
/// campaign bound by the 250-contact daily limit.
fn bench_send(c: &mut Criterion) {
    let mut group = c.benchmark_group("send");
    group.throughput(Throughput::Elements(1));
    for n in sizes() {
        let mut engine = with_conversations(unlimited_policy(), n, true);
        let mut picker = Picker::new(13);
        let mut pool: Vec<_> = (0..POOL)
            .map(|_| text_send(picker.pick(n), at(0)))
            .collect();
        let mut k = 0u64;
        group.bench_function(BenchmarkId::new("window_open_reply", n), |b| {
            b.iter(|| {
                let req = &mut pool[k as usize % POOL];
                req.at = at(HOUR_MS + (k / 16) as i64);
                set_counter(req, k);
                k += 1;
                black_box(engine.send(req)).ok();
                drain(&mut engine);
            })
        });

        // A fresh engine: on the reply bench's engine, the first template send (two days on)
        // would expire every reply recorded above, inside this bench's measurement.
        let mut engine = with_conversations(unlimited_policy(), n, true);
        let mut picker = Picker::new(17);
        let mut pool = opted_in_pool(&mut engine, n, &mut picker, template_send);
        group.bench_function(BenchmarkId::new("window_closed_template", n), |b| {
            b.iter(|| {
                let req = &mut pool[k as usize % POOL];
                req.at = at(2 * DAY_MS + (k / 16) as i64);
                set_counter(req, k);
                k += 1;
                black_box(engine.send(req)).ok();
                drain(&mut engine);
            })
        });

        let mut engine = with_conversations(limited_policy(), n, true);
        let mut picker = Picker::new(19);
        let mut pool = opted_in_pool(&mut engine, n, &mut picker, template_send);
        group.bench_function(BenchmarkId::new("limit_bound_campaign", n), |b| {
            b.iter(|| {
                let req = &mut pool[k as usize % POOL];
                req.at = at(2 * DAY_MS + (k / 16) as i64);
                set_counter(req, k);
                k += 1;
                black_box(engine.send(req)).ok();
                drain(&mut engine);
            })
        });
    }
}

/// Realistic mixed traffic (45% inbound, 35% replies, 10% templates, 10% checks), one
/// millisecond apart, with timers firing as chats go idle.
fn bench_mixed(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixed");
    group.throughput(Throughput::Elements(1));
    for n in sizes() {
        let mut engine = with_conversations(unlimited_policy(), n, true);
        let mut pool = mixed_pool(&mut engine, n, 23);
        let mut k = 0u64;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                let op = &mut pool[k as usize % POOL];
                black_box(apply(&mut engine, op, at(HOUR_MS + k as i64), k));
                k += 1;
            })
        });
    }
}

/// The same traffic with every send and check by conversation id (`Engine::send_to`), as a
/// host that keeps the id with its conversation record sends: what finding the number,
/// contact and conversation by name costs is `mixed` less this.
fn bench_mixed_by_id(c: &mut Criterion) {
    mixed_by_id_group(c, "mixed_by_id", None);
}

/// How many inputs ahead `mixed_by_id_prefetch` prefetches the conversation of a send.
const PREFETCH_AHEAD: usize = 4;

/// `mixed_by_id` as a host applying a batch feeds it: before each input, a prefetch hint
/// (`Engine::prefetch`) for the conversation of the send or check [`PREFETCH_AHEAD`] inputs
/// on, so its record's fetch from memory overlaps the inputs in between.
fn bench_mixed_by_id_prefetch(c: &mut Criterion) {
    mixed_by_id_group(c, "mixed_by_id_prefetch", Some(PREFETCH_AHEAD));
}

/// Mixed traffic by conversation id as the group `name`, with the prefetch hint given
/// `prefetch_ahead` inputs ahead, or none.
fn mixed_by_id_group(c: &mut Criterion, name: &str, prefetch_ahead: Option<usize>) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    for n in sizes() {
        let mut engine = with_conversations(unlimited_policy(), n, true);
        let mut pool = mixed_pool(&mut engine, n, 23);
        let ids = conversation_ids(&engine, &pool);
        let mut k = 0u64;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                let slot = k as usize % POOL;
                if let Some(ahead) = prefetch_ahead.and_then(|d| ids[(slot + d) % POOL]) {
                    engine.prefetch(ahead);
                }
                let now = at(HOUR_MS + k as i64);
                black_box(apply_by_id(&mut engine, &mut pool[slot], ids[slot], now, k));
                k += 1;
            })
        });
    }
}

/// Mixed traffic through a two-shard `ShardedEngine`, from one thread (every input) and from
/// two threads (each feeding the businesses of one shard). An element is one input; the two
/// threads' inputs are counted together, so on two free cores the second should come near
/// twice the first. The one-thread case against `mixed` is the cost of the locks and routing.
fn bench_sharded(c: &mut Criterion) {
    const SHARDS: usize = 2;
    let mut group = c.benchmark_group("sharded_mixed");
    for n in sizes() {
        let engine = sharded_with_conversations(unlimited_policy(), n, SHARDS);
        let mut effects = Vec::new();
        let mut all = mixed_pool_with(n, 23, |i| {
            engine
                .handle(opt_in_event(i), &mut effects)
                .expect("opt-in");
        });
        let shard_of = |op: &Op| {
            let j = op.number()[5..].parse::<u64>().expect("a fixture number");
            engine.shard_of_business(&business(j))
        };
        let mut per_shard: Vec<Vec<Op>> = vec![Vec::new(); SHARDS];
        for op in &all {
            per_shard[shard_of(op)].push(op.clone());
        }
        assert!(
            per_shard.iter().all(|ops| ops.len() > POOL / 10),
            "both shards get traffic"
        );
        // Every run continues the instants of the one before, so no shard's clock goes back.
        let mut next_k = 0u64;
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("1_thread", n), |b| {
            b.iter(|| {
                let op = &mut all[next_k as usize % POOL];
                black_box(apply_sharded(
                    &engine,
                    op,
                    at(HOUR_MS + next_k as i64),
                    next_k,
                    &mut effects,
                ));
                next_k += 1;
            })
        });
        group.throughput(Throughput::Elements(SHARDS as u64));
        group.bench_function(BenchmarkId::new(format!("{SHARDS}_threads"), n), |b| {
            b.iter_custom(|iters| {
                let start = std::time::Instant::now();
                std::thread::scope(|scope| {
                    for ops in per_shard.iter_mut() {
                        let engine = &engine;
                        scope.spawn(move || {
                            let mut effects = Vec::new();
                            let len = ops.len();
                            for m in 0..iters {
                                let k = next_k + m;
                                let op = &mut ops[k as usize % len];
                                black_box(apply_sharded(
                                    engine,
                                    op,
                                    at(HOUR_MS + k as i64),
                                    k,
                                    &mut effects,
                                ));
                            }
                        });
                    }
                });
                next_k += iters;
                start.elapsed()
            })
        });
    }
}

/// Firing N due chat-idle timers in one `handle_timeout`.
fn bench_timeouts(c: &mut Criterion) {
    let mut group = c.benchmark_group("handle_timeout");
    group.sample_size(10);
    for n in sizes() {
        group.throughput(Throughput::Elements(n));
        let live = with_conversations(unlimited_policy(), n, false);
        let due = at(Duration::from_hours(1).millis());
        group.bench_function(BenchmarkId::new("due_chat_timers", n), |b| {
            b.iter_batched_ref(
                || live.clone(),
                |engine| {
                    engine.handle_timeout(due);
                    drain(engine)
                },
                BatchSize::PerIteration,
            )
        });
    }
}

/// Snapshot and restore of N idle conversations.
fn bench_snapshots(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10);
    for n in sizes() {
        group.throughput(Throughput::Elements(n));
        let engine = with_conversations(unlimited_policy(), n, true);
        group.bench_function(BenchmarkId::new("snapshot", n), |b| {
            b.iter(|| black_box(engine.snapshot()))
        });
        let bytes = engine.snapshot();
        group.bench_function(BenchmarkId::new("restore", n), |b| {
            b.iter(|| black_box(Engine::restore(&bytes).expect("restores")))
        });
        // One of the ten businesses (a tenth of the conversations) removed after a move: an
        // element is one conversation of the engine, which is rebuilt whole.
        group.bench_function(BenchmarkId::new("remove_business", n), |b| {
            b.iter_batched(
                || engine.clone(),
                |mut engine| {
                    engine.remove_business("biz0").expect("biz0 exists");
                    engine
                },
                BatchSize::LargeInput,
            )
        });
    }
}

/// The JSON-lines door: inbound and check_send lines in, result and effect lines out, as a
/// `Vec<String>` per input (`lines`) and appended to one reused buffer (`into_buffer`).
fn bench_json_door(c: &mut Criterion) {
    let mut group = c.benchmark_group("json_door");
    group.throughput(Throughput::Elements(1));
    for n in sizes() {
        let mut engine = with_conversations(unlimited_policy(), n, true);
        let lines = json_door_lines(n, 29);
        let mut k = 0usize;
        group.bench_function(BenchmarkId::new("lines", n), |b| {
            b.iter(|| {
                let out = engine.handle_json(&lines[k % POOL]);
                k += 1;
                black_box(out)
            })
        });
        // The same lines into one reused buffer: no allocation per output line.
        let mut out = String::with_capacity(4096);
        group.bench_function(BenchmarkId::new("into_buffer", n), |b| {
            b.iter(|| {
                out.clear();
                engine.handle_json_into(&lines[k % POOL], &mut out);
                k += 1;
                black_box(out.len())
            })
        });
    }
}

/// The C ABI's typed calls against the Rust calls they wrap, on the same state.
fn bench_c_abi(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_abi");
    group.throughput(Throughput::Elements(1));
    let n = 10_000;
    let mut engine = with_conversations(unlimited_policy(), n, true);
    let c_engine = CEngine::restore(&engine);
    let mut picker = Picker::new(31);
    let picks: Vec<u64> = (0..POOL).map(|_| picker.pick(n)).collect();
    let numbers: Vec<String> = picks.iter().map(|&i| number(number_of(i))).collect();
    let contacts: Vec<String> = picks.iter().map(|&i| contact(i)).collect();
    // A fixed instant: neither side fires timers, so both do the same work every call.
    let now = at(HOUR_MS);

    let pool: Vec<_> = picks.iter().map(|&i| inbound(i, now)).collect();
    let mut k = 0usize;
    group.bench_function("inbound/rust_typed", |b| {
        b.iter(|| {
            black_box(engine.inbound(&pool[k % POOL])).ok();
            k += 1;
        })
    });
    group.bench_function("inbound/c_typed", |b| {
        b.iter(|| {
            black_box(c_engine.inbound(&numbers[k % POOL], &contacts[k % POOL], now));
            k += 1;
        })
    });

    let checks: Vec<_> = picks.iter().map(|&i| text_send(i, now)).collect();
    group.bench_function("check_send/rust_typed", |b| {
        b.iter(|| {
            black_box(engine.check_send(&checks[k % POOL])).ok();
            k += 1;
        })
    });
    group.bench_function("check_send/c_typed", |b| {
        b.iter(|| {
            black_box(c_engine.check_send(&numbers[k % POOL], &contacts[k % POOL], now));
            k += 1;
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_baseline,
    bench_inbound,
    bench_send,
    bench_mixed,
    bench_mixed_by_id,
    bench_mixed_by_id_prefetch,
    bench_sharded,
    bench_timeouts,
    bench_snapshots,
    bench_json_door,
    bench_c_abi
);
criterion_main!(benches);
