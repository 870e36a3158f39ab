//! A small workload for `valgrind --tool=callgrind` (instruction counts are repeatable on a
//! noisy machine, unlike timings): `profile
//! <inbound|reply|template|mixed|mixed_by_id|sharded_mixed|json|json_into|check_send|c_check_send|
//! snapshot|quiet_limit>
//! [events] [conversations]` on 10,000 idle conversations by default. With a million
//! conversations, `valgrind --tool=cachegrind --cache-sim=yes` shows which tables miss the
//! cache.
//!
//! `quiet_limit [contacts]` is a latency probe rather than a loop: one business sends a
//! template campaign to `contacts` new contacts, and two days later one more template; it
//! prints how long that send took (the messaging limit's contact list drops the whole
//! campaign then) and, for callgrind, the send is `first_send_after_quiet`.

use convstate_benches::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "mixed".to_owned());
    let events: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let mut engine = with_conversations(unlimited_policy(), n, true);
    let mut picker = Picker::new(5);
    let mut ok = 0u64;
    match workload.as_str() {
        "inbound" => {
            let mut e = inbound(0, at(0));
            for k in 0..events {
                retarget_inbound(&mut e, picker.pick(n));
                e.at = at(3_600_000 + k as i64);
                ok += u64::from(engine.inbound(&e).is_ok());
                drain(&mut engine);
            }
        }
        "reply" | "template" => {
            let template = workload == "template";
            let send = if template { template_send } else { text_send };
            let mut pool = opted_in_pool(&mut engine, n, &mut picker, send);
            let start = if template { 2 * 86_400_000 } else { 3_600_000 };
            for k in 0..events {
                let req = &mut pool[k as usize % POOL];
                req.at = at(start + k as i64);
                set_counter(req, k);
                ok += u64::from(engine.send(req).is_ok_and(|d| d.is_allowed()));
                drain(&mut engine);
            }
        }
        "mixed" => {
            let mut pool = mixed_pool(&mut engine, n, 23);
            for k in 0..events {
                let op = &mut pool[k as usize % POOL];
                ok += u64::from(apply(&mut engine, op, at(3_600_000 + k as i64), k));
            }
        }
        "mixed_by_id" => {
            // The same traffic with sends and checks by conversation id (toggle
            // `convstate_benches::apply_by_id`).
            let mut pool = mixed_pool(&mut engine, n, 23);
            let ids = conversation_ids(&engine, &pool);
            for k in 0..events {
                let slot = k as usize % POOL;
                let now = at(3_600_000 + k as i64);
                ok += u64::from(apply_by_id(&mut engine, &mut pool[slot], ids[slot], now, k));
            }
        }
        "sharded_mixed" => {
            // The same traffic through a two-shard engine from one thread (toggle
            // `convstate_benches::apply_sharded`): the cost of the locks and routing.
            let sharded = sharded_with_conversations(unlimited_policy(), n, 2);
            let mut effects = Vec::new();
            let mut pool = mixed_pool_with(n, 23, |i| {
                sharded
                    .handle(opt_in_event(i), &mut effects)
                    .expect("opt-in");
            });
            for k in 0..events {
                let op = &mut pool[k as usize % POOL];
                let now = at(3_600_000 + k as i64);
                ok += u64::from(apply_sharded(&sharded, op, now, k, &mut effects));
            }
        }
        "json" => {
            // The criterion bench's json_door lines: half inbound, half check_send.
            let lines = json_door_lines(n, 29);
            for k in 0..events as usize {
                let out = engine.handle_json(&lines[k % POOL]);
                ok += u64::from(!out[0].starts_with(r#"{"type":"error""#));
            }
        }
        "json_into" => {
            // The same lines through the buffer API, one buffer reused.
            let lines = json_door_lines(n, 29);
            let mut out = String::with_capacity(4096);
            for k in 0..events as usize {
                out.clear();
                engine.handle_json_into(&lines[k % POOL], &mut out);
                ok += u64::from(!out.starts_with(r#"{"type":"error""#));
            }
        }
        "check_send" | "c_check_send" => {
            // The c_abi bench's pair: the same text replies through the Rust typed call and
            // the C library's, at one instant (no timers fire). Toggle collection on
            // `convstate::send::<impl convstate::engine::Engine>::check_send_borrowed` (the
            // core's work, both sides) and on `convstate::send::<impl
            // convstate::engine::Engine>::check_send` or `convstate_engine_check_send` (a
            // whole call): the difference is the binding's cost.
            let now = at(3_600_000);
            let picks: Vec<u64> = (0..POOL).map(|_| picker.pick(n)).collect();
            if workload == "check_send" {
                let pool: Vec<_> = picks.iter().map(|&i| text_send(i, now)).collect();
                for k in 0..events as usize {
                    ok += u64::from(engine.check_send(&pool[k % POOL]).is_ok());
                }
            } else {
                let c_engine = CEngine::restore(&engine);
                let numbers: Vec<String> = picks.iter().map(|&i| number(number_of(i))).collect();
                let contacts: Vec<String> = picks.iter().map(|&i| contact(i)).collect();
                for k in 0..events as usize {
                    let rc = c_engine.check_send(&numbers[k % POOL], &contacts[k % POOL], now);
                    ok += u64::from(rc == convstate_ffi_shim::convstate_result::CONVSTATE_OK);
                }
            }
        }
        "snapshot" => {
            for _ in 0..events {
                let bytes = engine.snapshot();
                engine = convstate::Engine::restore(&bytes).expect("restores its own snapshot");
                ok += 1;
            }
        }
        "quiet_limit" => {
            // Contacts `100 k` all talk to number 0, so one business counts them all.
            let contacts: Vec<u64> = (0..events.max(1)).map(|k| n + 100 * k).collect();
            for &i in &contacts {
                opt_in(&mut engine, i);
            }
            let (last, campaign) = contacts.split_last().expect("at least one contact");
            for (k, &i) in campaign.iter().enumerate() {
                let req = template_send(i, at(86_400_000 + k as i64));
                ok += u64::from(engine.send(&req).is_ok_and(|d| d.is_allowed()));
                drain(&mut engine);
            }
            let req = template_send(*last, at(3 * 86_400_000));
            let started = std::time::Instant::now();
            ok += u64::from(first_send_after_quiet(&mut engine, &req));
            let took = started.elapsed();
            println!("quiet_limit: the send after the quiet spell took {took:?}");
        }
        other => {
            eprintln!(
                "unknown workload {other:?}: inbound, reply, template, mixed, mixed_by_id, sharded_mixed, json, json_into, \
                 check_send, c_check_send, snapshot or quiet_limit"
            );
            std::process::exit(2);
        }
    }
    println!("{workload}: {ok} of {events} applied or allowed");
}

/// The one send `quiet_limit` times (a callgrind toggle).
#[inline(never)]
fn first_send_after_quiet(
    engine: &mut convstate::Engine,
    req: &convstate::event::SendRequest,
) -> bool {
    engine.send(req).is_ok_and(|d| d.is_allowed())
}
