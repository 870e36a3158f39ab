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

/// The system calls of `convstate args` (`openat`, `renameat`, `fsync`), as strace prints
/// them; `None` where strace is not installed, unless `CONVSTATE_REQUIRE_STRACE` is set (the
/// README's test command sets it after installing strace, so there the check cannot be
/// skipped).
fn traced(args: &[&str], directory: &Path) -> Option<Vec<String>> {
    let log = directory.join("strace.log");
    let status = Command::new("strace")
        .args(["-qq", "-f", "-o"])
        .arg(&log)
        .args(["-e", "trace=openat,rename,renameat,renameat2,fsync"])
        .arg(env!("CARGO_BIN_EXE_convstate"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let status = match status {
        Ok(status) => status,
        Err(error) if std::env::var_os("CONVSTATE_REQUIRE_STRACE").is_some() => {
            panic!("CONVSTATE_REQUIRE_STRACE is set but strace cannot run: {error}")
        }
        Err(_) => return None,
    };
    assert!(
        status.success(),
        "strace convstate {args:?} failed: {status}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    Some(text.lines().map(str::to_owned).collect())
}

/// The paths the `fsync` calls of `calls` synced, in order, among the renames into them
/// (`rename PATH`): each file descriptor is named by the path it was opened on.
fn renames_and_syncs(calls: &[String]) -> Vec<String> {
    let mut opened = std::collections::HashMap::new();
    let mut events = Vec::new();
    for call in calls {
        let quoted: Vec<&str> = call.split('"').skip(1).step_by(2).collect();
        let result = call.rsplit("= ").next().unwrap_or_default().trim();
        if call.contains("openat(") {
            if let (Some(path), Ok(fd)) = (quoted.first(), result.parse::<i32>()) {
                opened.insert(fd, path.to_string());
            }
        } else if call.contains("rename") && result == "0" {
            events.push(format!("rename {}", quoted.last().unwrap()));
        } else if let Some(fd) = call.split("fsync(").nth(1) {
            let fd: i32 = fd.split(')').next().unwrap().parse().unwrap();
            events.push(format!("fsync {}", opened[&fd]));
        }
    }
    events
}

#[test]
fn a_move_saves_the_destination_durably_before_it_saves_the_source() {
    let directory = tempfile::tempdir().unwrap();
    let root = directory.path().canonicalize().unwrap();
    let (log, from, to) = (
        root.join("day.jsonl"),
        root.join("a.json"),
        root.join("b.json"),
    );
    std::fs::write(
        &log,
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}
"#,
    )
    .unwrap();
    let text = |path: &Path| path.to_str().unwrap().to_owned();
    run(&["replay", &text(&log), "--state", &text(&from)]);
    let args = [
        "business",
        "move",
        &text(&from),
        &text(&to),
        "--business",
        "acme",
    ];
    let Some(calls) = traced(&args, &root) else {
        eprintln!("strace is not installed: the order of the writes is not checked");
        return;
    };
    // The rename of a file into place is on disk once its directory is synced; until then a
    // power cut may undo it (or, for a new file, leave none). Were `b.json`'s rename not synced
    // before `a.json`'s, the cut could keep the second and lose the first: the business in
    // neither state, which the move's order exists to prevent.
    let events = renames_and_syncs(&calls);
    let position = |event: String| {
        events
            .iter()
            .position(|e| *e == event)
            .unwrap_or_else(|| panic!("no {event} in {events:#?}"))
    };
    let renamed_to = position(format!("rename {}", text(&to)));
    let renamed_from = position(format!("rename {}", text(&from)));
    let synced = |after: usize| {
        events[after..]
            .iter()
            .position(|e| *e == format!("fsync {}", text(&root)))
            .map(|i| i + after)
    };
    assert!(renamed_to < renamed_from, "{events:#?}");
    assert!(
        synced(renamed_to).is_some_and(|sync| sync < renamed_from),
        "the destination's directory is not synced before the source is replaced: {events:#?}"
    );
    assert!(
        synced(renamed_from).is_some(),
        "the source's directory is not synced after it is replaced: {events:#?}"
    );
}
