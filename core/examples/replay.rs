//! Replays wire-format event logs through the engine and prints every output line.
//!
//! `cargo run -p convstate --example replay -- examples/helpdesk-day.jsonl [--policy NAME]`
//!
//! The command-line tool (`convstate replay`) does this and more; this example shows the
//! whole loop in a few lines for anyone embedding the crate.

use std::io::{BufRead, BufReader};

use convstate::Engine;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut files = Vec::new();
    let mut policy = "cloud-2025".to_owned();
    while let Some(arg) = args.next() {
        if arg == "--policy" {
            policy = args.next().unwrap_or_default();
        } else {
            files.push(arg);
        }
    }
    if files.is_empty() {
        eprintln!("usage: replay FILE.jsonl... [--policy classic|cloud-2025|cloud-2026-10]");
        std::process::exit(2);
    }
    let mut engine = match Engine::with_preset(&policy) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    for file in files {
        let reader = match std::fs::File::open(&file) {
            Ok(f) => BufReader::new(f),
            Err(e) => {
                eprintln!("error: cannot open {file}: {e}");
                std::process::exit(1);
            }
        };
        for line in reader.lines() {
            let line = line.unwrap_or_else(|e| {
                eprintln!("error: cannot read {file}: {e}");
                std::process::exit(1);
            });
            if line.trim().is_empty() || line.trim_start().starts_with("//") {
                continue;
            }
            for out in engine.handle_json(&line) {
                println!("{out}");
            }
        }
    }
}
