//! Memory per conversation, counted by a global allocator: live heap bytes after building N
//! conversations, minus the bytes of the engine with its numbers and templates only, over N.
//!
//! `cargo run --release -p convstate-benches --bin memory -- [N]` (default 1,000,000).
//! Prints idle conversations (window and ticket, chat ended), conversations with a live
//! chat, unanswered and answered once, the snapshot size, and the idle engine restored from its snapshot (no slack).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use convstate_benches::{
    at, contact, drain, end_live_chats, limited_policy, number, number_of, registered, set_counter,
    text_send, with_conversations,
};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let live = if new_size >= layout.size() {
            LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size()
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed) - (layout.size() - new_size)
        };
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn main() {
    let n: u64 = match std::env::args().nth(1) {
        None => 1_000_000,
        Some(arg) => match arg.replace('_', "").parse() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("usage: memory [N]: N must be a positive integer, got {arg:?}");
                std::process::exit(2);
            }
        },
    };
    let base = {
        let before = live();
        let engine = registered(limited_policy());
        let bytes = live() - before;
        drop(engine);
        bytes
    };
    for (label, idle, answered) in [
        ("idle (chat ended)", true, false),
        (
            "idle, its chat answered once before it ended (duplicate record included)",
            true,
            true,
        ),
        ("live chat", false, false),
        (
            "live chat answered once (duplicate record included)",
            false,
            true,
        ),
    ] {
        let before = live();
        let mut engine = with_conversations(limited_policy(), n, false);
        if answered {
            // One reply each, a minute in: the chat keeps its first response, count and
            // total in the engine's table of answered chats.
            let mut reply = text_send(0, at(60_000));
            for i in 0..n {
                reply.number = number(number_of(i));
                reply.contact = Some(contact(i));
                set_counter(&mut reply, i);
                assert!(engine.send(&reply).expect("send").is_allowed());
                if i % 1024 == 0 {
                    drain(&mut engine);
                }
            }
        }
        if idle {
            end_live_chats(&mut engine);
        }
        drain(&mut engine);
        let bytes = live() - before - base;
        let snapshot = if idle { engine.snapshot().len() } else { 0 };
        println!(
            "{n} conversations, {label}: {bytes} bytes live, {:.1} bytes per conversation",
            bytes as f64 / n as f64
        );
        if idle {
            println!(
                "  snapshot: {snapshot} bytes, {:.1} bytes per conversation",
                snapshot as f64 / n as f64
            );
            // The engine above keeps the capacity its maps and timer heap grew to while the
            // chats were live; a restored engine holds the same state without that slack.
            let bytes_snapshot = engine.snapshot();
            drop(engine);
            let before = live();
            let restored = convstate::Engine::restore(&bytes_snapshot).expect("restores");
            let bytes = live() - before - base;
            println!(
                "  restored from its snapshot: {bytes} bytes live, {:.1} bytes per conversation",
                bytes as f64 / n as f64
            );
            drop(restored);
        } else {
            drop(engine);
        }
    }
    println!("peak live heap: {} bytes", PEAK.load(Ordering::Relaxed));
}
