//! A crash during `convstate replay --state` never corrupts the saved state: the process is
//! killed (SIGKILL, no chance to clean up) at several moments of a long replay, and each time
//! the state file is either the previous snapshot, byte for byte, or a complete snapshot that
//! restores. Temporary files a killed run leaves behind do not matter.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use convstate::Engine;

fn convstate(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_convstate"));
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn run(args: &[&str]) {
    let status = convstate(args).status().expect("convstate runs");
    assert!(status.success(), "convstate {args:?} failed: {status}");
}

#[test]
fn killing_replay_never_leaves_a_corrupt_state() {
    let directory = tempfile::tempdir().unwrap();
    let path = |name: &str| directory.path().join(name).to_str().unwrap().to_owned();
    let (big, small, state, previous) = (
        path("big.jsonl"),
        path("small.jsonl"),
        path("state.json"),
        path("previous.json"),
    );
    // ~12,000 events: about a second of debug-build replay, so the kills land mid-run.
    run(&[
        "simulate",
        "--contacts",
        "3000",
        "--days",
        "2",
        "--seed",
        "7",
        "--write-events",
        &big,
    ]);
    let first_lines: Vec<String> = std::fs::read_to_string(&big)
        .unwrap()
        .lines()
        .take(200)
        .map(String::from)
        .collect();
    std::fs::write(&small, first_lines.join("\n") + "\n").unwrap();
    run(&["replay", &small, "--state", &previous]);
    let previous_bytes = std::fs::read(&previous).unwrap();
    Engine::restore(&previous_bytes).expect("the previous state is valid");

    let mut killed_mid_run = 0;
    let mut saved_new_state = 0;
    for delay_ms in [0, 2, 10, 30, 80, 150, 300, 500, 800, 1_200, 3_000, 10_000] {
        std::fs::copy(&previous, &state).unwrap();
        let mut child = convstate(&["replay", &big, "--state", &state, "--keep-going"])
            .spawn()
            .expect("convstate starts");
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed_mid_run += 1;
        }
        child.wait().unwrap();

        let bytes = std::fs::read(&state)
            .unwrap_or_else(|e| panic!("after {delay_ms} ms the state file is gone: {e}"));
        if bytes == previous_bytes {
            continue;
        }
        match Engine::restore(&bytes) {
            Ok(engine) => {
                assert_eq!(engine.snapshot(), bytes, "after {delay_ms} ms");
                saved_new_state += 1;
            }
            Err(e) => panic!(
                "after a kill at {delay_ms} ms the state file is corrupt ({} bytes): {e}",
                bytes.len()
            ),
        }
    }
    assert!(
        killed_mid_run >= 3,
        "only {killed_mid_run} runs were killed mid-replay: the test proves nothing"
    );
    assert!(saved_new_state >= 1, "no run completed and saved its state");
    assert!(Path::new(&state).exists());
}
