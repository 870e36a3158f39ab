//! End-to-end tests of the `convstate` binary, run as a user runs it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const SUPPORT: &str = "+15550001111";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_owned()
}

fn example_day() -> PathBuf {
    workspace_root().join("examples/helpdesk-day.jsonl")
}

fn convstate(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_convstate"));
    command.args(args).current_dir(workspace_root());
    command
}

fn run(args: &[&str]) -> Output {
    convstate(args).output().expect("the binary runs")
}

fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = convstate(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let written = child.stdin.take().expect("stdin is piped").write_all(input);
    // A command refused before it reads its input (a usage error) closes the pipe first,
    // sometimes before the write: the tests judge it by its exit status and message.
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "stdin: {e}");
    }
    child.wait_with_output().expect("the binary finishes")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// The output lines, each a JSON value.
fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// Whether `path` is a symbolic link (not followed).
fn is_link(path: impl AsRef<Path>) -> bool {
    std::fs::symlink_metadata(path)
        .expect("the path exists")
        .file_type()
        .is_symlink()
}

/// The command exited with `code`, saying `message` on standard error.
fn assert_exit_saying(output: &Output, code: i32, message: &str) {
    assert_exit(output, code);
    assert!(stderr(output).contains(message), "{}", stderr(output));
}

fn example_summary() -> Value {
    let path = example_day();
    let output = run(&[
        "replay",
        path.to_str().unwrap(),
        "--summary",
        "--summary-format",
        "json",
    ]);
    assert_exit(&output, 0);
    serde_json::from_str(&stdout(&output)).expect("the summary is JSON")
}

/// The JSON summary of replaying `log` from standard input.
fn summary_of(log: &str) -> Value {
    summary_in("wire", log)
}

/// The JSON summary of replaying `log`, in `--format format`, from standard input.
fn summary_in(format: &str, log: &str) -> Value {
    let output = run_with_stdin(
        &[
            "replay",
            "-",
            "--format",
            format,
            "--summary",
            "--summary-format",
            "json",
        ],
        log.as_bytes(),
    );
    assert_exit(&output, 0);
    serde_json::from_str(&stdout(&output)).expect("the summary is JSON")
}

fn example_lines() -> Vec<String> {
    std::fs::read_to_string(example_day())
        .expect("the example exists")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What the core's own JSON door answers for the lines, for comparison.
fn core_outputs(lines: &[String]) -> String {
    let mut engine = convstate::Engine::with_preset("cloud-2025").unwrap();
    let mut text = String::new();
    for line in lines {
        for output in engine.handle_json(line) {
            text.push_str(&output);
            text.push('\n');
        }
    }
    text
}

#[test]
fn example_day_summary_counts_chats_tickets_and_refusals() {
    let summary = example_summary();
    assert_eq!(summary["events"], 579, "{summary:#}");
    assert_eq!(summary["events_by_type"]["send"], 283);
    assert_eq!(summary["events_by_type"]["opt_in"], 264);
    assert_eq!(summary["events_by_type"]["inbound"], 16);
    // Refusals the core makes today, one each by construction of the day.
    let denied = &summary["sends"]["denied_by_reason"];
    for reason in [
        "window_closed",
        "duplicate",
        "marketing_stopped",
        "marketing_to_us_number",
        "no_opt_in",
    ] {
        assert_eq!(denied[reason], 1, "{reason}: {summary:#}");
    }
    assert_eq!(summary["charges_by_category"]["utility"], 2);
    assert_eq!(summary["free_by_reason"]["service_window"], 16);
    assert_eq!(summary["chats"]["started"], 13);
    assert_eq!(summary["chats"]["missed"], 1);
    assert_eq!(summary["chats"]["ended_by_reason"]["agent"], 3);
    // Response times (RULES.md 3): twelve chats answered, 24 min to their first answers;
    // fifteen answers in all, 32 min.
    assert_eq!(summary["chats"]["first_responses"], 12);
    assert_eq!(summary["chats"]["first_response_total_ms"], 24 * 60_000);
    assert_eq!(summary["chats"]["responses"], 15);
    assert_eq!(summary["chats"]["response_total_ms"], 32 * 60_000);
    assert_eq!(summary["tickets"]["opened"], 12);
    assert_eq!(summary["tickets"]["status_changes"]["open -> closed"], 3);
    assert_eq!(summary["effects_by_type"]["outbox_released"], 1);
    assert_eq!(summary["effects_by_type"]["inbound_file_too_large"], 1);
    let changes = summary["template_status_changes"].as_array().unwrap();
    assert!(
        changes.iter().any(|c| c["template"] == "acme/winback/en"
            && c["from"] == "pending"
            && c["to"] == "rejected"),
        "{changes:?}"
    );
}

/// The day as RULES.md says it must go under cloud-2025:
/// - the limit of a new business is 250 unique contacts in 24h (§7); before the campaign
///   two business-initiated templates went out (order_ready to C2, initiate's follow_up to
///   C5), so of the 259 eligible campaign recipients outside a window 248 get it and 11 are
///   refused `limit_reached`; the one who wrote first is inside the window and takes no slot;
/// - at 14:00 `autumn_sale` drops to low quality: paused for 3h (§5 pause ladder), so the
///   14:30 send of it is refused `template_not_sendable`, and the pause ends at 17:00;
/// - marketing charged: the 248 + the one inside the window (per-message pricing, §11).
#[test]
fn example_day_summary_with_limits_and_template_quality() {
    let summary = example_summary();
    assert_eq!(summary["malformed_lines_skipped"], 0, "{summary:#}");
    let denied = &summary["sends"]["denied_by_reason"];
    assert_eq!(denied["limit_reached"], 11);
    assert_eq!(denied["template_not_sendable"], 1);
    let slots: u64 = summary["limit_slots_by_number"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(slots, 250);
    assert_eq!(summary["charges_by_category"]["marketing"], 249);
    let changes: Vec<(String, String, String)> = summary["template_status_changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["template"] == "acme/autumn_sale/en")
        .map(|c| {
            let field = |k: &str| c[k].as_str().unwrap().to_owned();
            (field("from"), field("to"), field("at"))
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                "approved".into(),
                "paused".into(),
                "2026-11-02T14:00:00Z".into()
            ),
            (
                "paused".into(),
                "approved".into(),
                "2026-11-02T17:00:00Z".into()
            ),
        ]
    );
}

#[test]
fn the_summary_counts_email_tickets_answers() {
    let scenario =
        workspace_root().join("tests/scenarios/465-an-email-ticket-keeps-its-response-times.jsonl");
    let log = std::fs::read_to_string(&scenario).expect("scenario 465");
    // The header line is no event; the rest is a plain log.
    let log: String = log.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let tickets = &summary_of(&log)["tickets"];
    assert_eq!(tickets["email_first_responses"], 2, "{tickets:#}");
    assert_eq!(tickets["email_first_response_total_ms"], 9_900_000);
    assert_eq!(tickets["email_responses"], 3);
    assert_eq!(tickets["email_response_total_ms"], 11_700_000);
    assert_eq!(tickets["email_closed_unanswered"], 1);
    let output = run_with_stdin(&["replay", "-", "--summary"], log.as_bytes());
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(
        text.contains(
            "email first responses 2 (mean 1h22m30s), responses 3 (mean 1h5m), closed unanswered 1"
        ),
        "{text}"
    );
}

#[test]
fn readme_main_job_command_runs_the_example() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.contains("# main job"))
        .expect("the README's Quickstart has a main-job line");
    let command = line.split('#').next().unwrap().trim();
    let prefix = "cargo run --release -p convstate-cli -- ";
    let args = command
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("the main job is `{prefix}...`, found `{command}`"));
    // The same arguments, through the binary cargo already built for this test.
    let args: Vec<&str> = args.split_whitespace().collect();
    let output = run(&args);
    assert_exit(&output, 0);
    let table = stdout(&output);
    for row in [
        "events",
        "sends",
        "charged",
        "limit slots used",
        "chats",
        "template changes",
    ] {
        assert!(table.contains(row), "no {row:?} row in:\n{table}");
    }
    assert!(
        table.contains("acme/winback/en: pending -> rejected"),
        "{table}"
    );
}

#[test]
fn the_readme_describes_the_dry_runs_row_the_summary_prints() {
    // The table prints `check_send` decisions in a row of their own, which the README's
    // description of the summary left out.
    let log = [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"check_send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hello"}}"#,
    ]
    .join("\n");
    let output = run_with_stdin(&["replay", "-", "--summary"], log.as_bytes());
    assert_exit(&output, 0);
    let table = stdout(&output);
    assert!(
        table.lines().any(|l| l.starts_with("dry runs ")),
        "no dry runs row in:\n{table}"
    );
    assert_eq!(summary_of(&log)["dry_runs"]["denied"], 1);
    let readme = std::fs::read_to_string(workspace_root().join("cli/README.md")).unwrap();
    let summary = readme
        .split("\n- ")
        .find(|item| item.starts_with("`--summary` prints a table"))
        .expect("the README describes --summary");
    for name in ["`dry runs`", "`dry_runs`", "`check_send`"] {
        assert!(summary.contains(name), "{name} not in:\n{summary}");
    }
}

#[test]
fn output_lines_are_what_the_core_json_door_returns() {
    let path = example_day();
    let output = run(&["replay", path.to_str().unwrap()]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), core_outputs(&example_lines()));
}

#[test]
fn stdin_dash_and_out_file_give_the_same_lines() {
    let path = example_day();
    let from_file = run(&["replay", path.to_str().unwrap()]);
    let input = std::fs::read(&path).unwrap();
    let from_stdin = run_with_stdin(&["replay", "-"], &input);
    assert_exit(&from_stdin, 0);
    assert_eq!(stdout(&from_stdin), stdout(&from_file));

    let directory = tempfile::tempdir().unwrap();
    let out = directory.path().join("out.jsonl");
    let with_out = run(&[
        "replay",
        path.to_str().unwrap(),
        "--summary",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_exit(&with_out, 0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), stdout(&from_file));
    assert!(
        stdout(&with_out).starts_with("events"),
        "only the summary on stdout"
    );
    assert!(
        stdout(&with_out).contains("first responses 12 (mean 2m), responses 15 (mean 2m8s)"),
        "the chats' response times: {}",
        stdout(&with_out)
    );
}

#[test]
fn state_round_trip_continues_where_it_stopped() {
    let lines = example_lines();
    let (morning, rest) = lines.split_at(300);
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let first = run_with_stdin(
        &["replay", "-", "--state", state_arg],
        (morning.join("\n") + "\n").as_bytes(),
    );
    assert_exit(&first, 0);
    assert!(state.exists(), "the state was saved");
    let second = run_with_stdin(
        &["replay", "-", "--state", state_arg],
        (rest.join("\n") + "\n").as_bytes(),
    );
    assert_exit(&second, 0);
    assert_eq!(
        stdout(&first) + &stdout(&second),
        core_outputs(&lines),
        "two runs through the saved state answer as one run"
    );
    assert_eq!(stderr(&second), "", "a continuation is no late log");
    // The same rest again: every input is older than the clock the second run saved.
    let again = run_with_stdin(
        &["replay", "-", "--state", state_arg],
        (rest.join("\n") + "\n").as_bytes(),
    );
    assert_exit(&again, 0);
    let warning = stderr(&again);
    assert!(
        warning.starts_with("convstate: warning: <stdin>:1: the log starts at ")
            && warning.contains(&format!("before the clock of the state {state_arg} ("))
            && warning.contains("a log replayed into this state before is applied a second time"),
        "{warning}"
    );
    assert_eq!(warning.lines().count(), 1, "said once: {warning}");
    let mut leftovers: Vec<_> = std::fs::read_dir(directory.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        [".state.json.lock", "state.json"],
        "no temporary file is left behind, only the (empty) lock file that guards the state"
    );
}

/// Waits until another process holds the lock file at `lock` (this process's own attempt
/// would block), for at most half a minute.
fn wait_until_held(lock: &Path) {
    for _ in 0..3000 {
        if let Ok(file) = std::fs::File::open(lock) {
            if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no run took {} within 30 s", lock.display());
}

#[test]
fn a_state_held_by_another_run_is_refused_and_loses_no_event() {
    let lines = example_lines();
    let (morning, rest) = lines.split_at(300);
    let (noon, evening) = rest.split_at(100);
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let other = directory.path().join("other.json");
    let other_arg = other.to_str().unwrap();
    let first = run_with_stdin(
        &["replay", "-", "--state", state_arg],
        (morning.join("\n") + "\n").as_bytes(),
    );
    assert_exit(&first, 0);
    let export = run(&["business", "export", state_arg, "--business", "acme"]);
    assert_exit(&export, 0);
    let beta = br#"{"type":"register_number","at":"2026-11-02T06:00:00Z","business":"beta","number":"+15550009999","channel":"official"}"#;
    assert_exit(
        &run_with_stdin(&["replay", "-", "--state", other_arg], beta),
        0,
    );
    let other_before = std::fs::read(&other).unwrap();
    // A long run (a stream still being written) holds the state until it ends.
    let mut held = convstate(&["replay", "-", "--state", state_arg])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = held.stdin.take().expect("stdin is piped");
    input
        .write_all((noon.join("\n") + "\n").as_bytes())
        .unwrap();
    wait_until_held(&directory.path().join(".state.json.lock"));
    // Each of these would load the state the held run started from, and its save (or the
    // held run's, whichever came last) would drop the other's events.
    let refused = [
        run_with_stdin(
            &["replay", "-", "--state", state_arg],
            (evening.join("\n") + "\n").as_bytes(),
        ),
        run_with_stdin(&["business", "import", state_arg, "-"], &export.stdout),
        run(&["business", "remove", state_arg, "--business", "acme"]),
        run(&[
            "business",
            "move",
            state_arg,
            other_arg,
            "--business",
            "acme",
        ]),
        run(&[
            "business",
            "move",
            other_arg,
            state_arg,
            "--business",
            "beta",
        ]),
    ];
    for output in &refused {
        assert_exit_saying(output, 3, "in use by another convstate run (it holds ");
        assert!(
            stderr(output).contains(".state.json.lock"),
            "{}",
            stderr(output)
        );
    }
    assert_eq!(
        std::fs::read(&other).unwrap(),
        other_before,
        "a refused move wrote nothing"
    );
    let missing = directory.path().join("missing.json");
    let from_missing = run(&[
        "business",
        "remove",
        missing.to_str().unwrap(),
        "--business",
        "acme",
    ]);
    assert_exit_saying(&from_missing, 3, "missing.json: no such file");
    assert!(
        !directory.path().join(".missing.json.lock").exists(),
        "a mistyped state file got no lock file beside it"
    );
    input
        .write_all((evening.join("\n") + "\n").as_bytes())
        .unwrap();
    drop(input);
    let held = held.wait_with_output().expect("the binary finishes");
    assert_exit(&held, 0);
    assert_eq!(
        stdout(&first) + &stdout(&held),
        core_outputs(&lines),
        "the held run answered every event, and nothing refused changed the state under it"
    );
    // The run has ended, and with it the hold: the state is free again.
    let after = run(&["business", "remove", state_arg, "--business", "acme"]);
    assert_exit(&after, 0);
}

#[test]
fn malformed_line_stops_with_line_and_field_and_leaves_state_untouched() {
    let lines = example_lines();
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let setup = run_with_stdin(
        &["replay", "-", "--state", state_arg],
        (lines[..10].join("\n") + "\n").as_bytes(),
    );
    assert_exit(&setup, 0);
    let saved = std::fs::read(&state).unwrap();

    let bad = format!(
        "{}\n{}\n{}\n",
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915100000009","kind":"text"}"#,
        r#"{"type":"tick","at":"2026-11-02T09:05:00Z"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:06:00Z","number":"+15550001111","contact":"+4915100000009","kind":"txt"}"#,
    );
    let output = run_with_stdin(&["replay", "-", "--state", state_arg], bad.as_bytes());
    assert_exit(&output, 1);
    let message = stderr(&output);
    assert!(message.contains("<stdin>:3:"), "{message}");
    assert!(message.contains(r#"field "kind""#), "{message}");
    assert!(message.contains("expected one of"), "{message}");
    assert_eq!(std::fs::read(&state).unwrap(), saved, "state untouched");

    let fresh = directory.path().join("fresh.json");
    let output = run_with_stdin(
        &["replay", "-", "--state", fresh.to_str().unwrap()],
        bad.as_bytes(),
    );
    assert_exit(&output, 1);
    assert!(!fresh.exists(), "no state written on failure");
}

#[test]
fn keep_going_reports_skips_and_goes_on() {
    let input = [
        r#"{"type":"register_number","at":"2026-11-02T07:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915100000001","size":"big","kind":"image"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+4915100000001","kind":"text"}"#,
    ]
    .join("\n");
    let output = run_with_stdin(&["replay", "-", "--keep-going"], input.as_bytes());
    assert_exit(&output, 0);
    let warning = stderr(&output);
    assert!(warning.contains("<stdin>:2:"), "{warning}");
    assert!(warning.contains(r#"field "size""#), "{warning}");
    let lines = json_lines(&output);
    assert_eq!(lines[0]["of"], "register_number");
    assert_eq!(lines[1]["type"], "error");
    assert_eq!(lines[1]["error"], "invalid_event");
    assert_eq!(lines[2]["of"], "inbound");
    assert!(
        lines[3..].iter().any(|l| l["effect"] == "chat_started"),
        "the line after the skipped one was applied"
    );
    let without = run_with_stdin(&["replay", "-"], input.as_bytes());
    assert_exit(&without, 1);
}

#[test]
fn a_line_that_is_not_utf8_is_malformed_like_any_other() {
    let mut input = br#"{"type":"tick","at":"2026-11-02T09:00:00Z"}"#.to_vec();
    input.extend_from_slice(b"\n\xff\xfe\r\n");
    input.extend_from_slice(br#"{"type":"tick","at":"2026-11-02T09:01:00Z"}"#);
    input.extend_from_slice(b"\r\n");

    let output = run_with_stdin(&["replay", "-", "--keep-going"], &input);
    assert_exit_saying(&output, 0, "<stdin>:2: line is not UTF-8");
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[1]["error"], "invalid_event");
    assert_eq!(
        lines[2]["of"], "tick",
        "the line after it, with its \\r\\n, is applied"
    );

    let output = run_with_stdin(&["replay", "-"], &input);
    assert_exit_saying(&output, 1, "<stdin>:2: line is not UTF-8");
}

/// A log saved as UTF-16 (Windows PowerShell 5's `>` writes one) is refused naming the
/// encoding and the way out, with or without its byte-order mark: it said "invalid utf-8
/// sequence of 1 bytes from index 0", or "key must be a string at line 1 column 2".
#[test]
fn a_utf16_log_is_refused_naming_its_encoding() {
    let text = "{\"type\":\"tick\",\"at\":\"2026-11-02T09:00:00Z\"}\r\n";
    let little_endian: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let big_endian: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
    for (input, says) in [
        (
            [&b"\xFF\xFE"[..], &little_endian].concat(),
            "UTF-16 byte-order mark",
        ),
        (
            [&b"\xFE\xFF"[..], &big_endian].concat(),
            "UTF-16 byte-order mark",
        ),
        (little_endian.clone(), "mostly NUL bytes"),
        (big_endian, "mostly NUL bytes"),
    ] {
        let output = run_with_stdin(&["replay", "-"], &input);
        assert_exit_saying(&output, 1, "<stdin>:1: ");
        assert_exit_saying(&output, 1, says);
        assert_exit_saying(&output, 1, "iconv -f UTF-16 -t UTF-8");
    }
}

/// A compressed log given as it is, not decompressed, is refused saying so: it said "line is
/// not UTF-8: invalid utf-8 sequence of 1 bytes from index 1".
#[test]
fn a_gzip_compressed_log_is_refused_naming_its_compression() {
    // `gzip -n` of one tick line, written here so that the test needs no gzip on the machine.
    const GZIPPED_TICK: [u8; 61] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x2a, 0xa9, 0x2c,
        0x48, 0x55, 0xb2, 0x52, 0x2a, 0xc9, 0x4c, 0xce, 0x56, 0xd2, 0x51, 0x4a, 0x2c, 0x01, 0xb2,
        0x8d, 0x0c, 0x8c, 0xcc, 0x74, 0x0d, 0x0d, 0x75, 0x0d, 0x8c, 0x42, 0x0c, 0x2c, 0xad, 0x0c,
        0x0c, 0x80, 0x28, 0x4a, 0xa9, 0x96, 0x0b, 0x00, 0x41, 0x2a, 0x33, 0x58, 0x2c, 0x00, 0x00,
        0x00,
    ];
    let directory = tempfile::tempdir().unwrap();
    let log = directory.path().join("day.jsonl.gz");
    std::fs::write(&log, GZIPPED_TICK).unwrap();
    let output = run(&["replay", log.to_str().unwrap()]);
    assert_exit_saying(&output, 1, "day.jsonl.gz:1: ");
    assert_exit_saying(&output, 1, "the input is gzip-compressed");
    assert!(!stderr(&output).contains("UTF-16"), "{}", stderr(&output));
}

#[test]
fn a_line_over_the_limit_is_malformed_without_being_held_whole() {
    // 16 MiB is the limit; the line is one byte over, and the one after it is applied.
    let mut input = br#"{"type":"tick","at":"2026-11-02T09:00:00Z"}"#.to_vec();
    input.push(b'\n');
    input.resize(input.len() + (16 << 20) + 1, b' ');
    input.extend_from_slice(b"\n");
    input.extend_from_slice(br#"{"type":"tick","at":"2026-11-02T09:01:00Z"}"#);

    let limit = "<stdin>:2: line is longer than 16777216 bytes, the limit of one input line";
    let output = run_with_stdin(&["replay", "-", "--keep-going"], &input);
    assert_exit_saying(&output, 0, limit);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[1]["error"], "invalid_event");
    assert_eq!(lines[2]["of"], "tick", "the line after it is applied");

    let output = run_with_stdin(&["replay", "-"], &input);
    assert_exit_saying(&output, 1, limit);
}

#[cfg(unix)]
#[test]
fn an_endless_line_is_refused_at_the_limit() {
    // Read whole, /dev/zero's one line would take every byte of memory and abort.
    let output = run(&["replay", "/dev/zero"]);
    assert_exit_saying(
        &output,
        1,
        "/dev/zero:1: line is longer than 16777216 bytes, the limit of one input line",
    );
}
#[test]
fn a_byte_order_mark_starting_the_input_is_skipped_and_named_anywhere_else() {
    let tick = br#"{"type":"tick","at":"2026-11-02T09:00:00Z"}"#;
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend_from_slice(tick);
    input.extend_from_slice(b"\r\n\xEF\xBB\xBF");
    input.extend_from_slice(tick);

    let output = run_with_stdin(&["replay", "-"], &input);
    assert_exit(&output, 1);
    assert_eq!(
        stdout(&output).lines().next(),
        Some(r#"{"type":"ack","of":"tick"}"#),
        "the first line is read without its mark"
    );
    assert!(
        stderr(&output)
            .contains("<stdin>:2: not valid JSON: the line starts with a byte-order mark"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn replay_refuses_an_out_file_that_is_its_input_or_state() {
    let directory = tempfile::tempdir().unwrap();
    let input = directory.path().join("day.jsonl");
    std::fs::copy(example_day(), &input).unwrap();
    let state = directory.path().join("state.json");
    let setup = run(&[
        "replay",
        input.to_str().unwrap(),
        "--summary",
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_exit(&setup, 0);
    let link = directory.path().join("link.jsonl");
    std::fs::hard_link(&input, &link).unwrap();
    let (day, saved) = (
        std::fs::read(&input).unwrap(),
        std::fs::read(&state).unwrap(),
    );

    for (out, problem) in [
        (input.to_str().unwrap(), "is the input file itself"),
        (link.to_str().unwrap(), "is the input file itself"),
        (state.to_str().unwrap(), "is the --state file"),
    ] {
        let output = run(&[
            "replay",
            input.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
            "--out",
            out,
        ]);
        assert_exit_saying(&output, 2, problem);
        assert_eq!(std::fs::read(&input).unwrap(), day, "input kept");
        assert_eq!(std::fs::read(&state).unwrap(), saved, "state kept");
    }
    // Standard input redirected from the file `--out` names (`replay - --out log < log`).
    #[cfg(unix)]
    {
        let output = convstate(&["replay", "-", "--out", input.to_str().unwrap()])
            .stdin(std::fs::File::open(&input).unwrap())
            .output()
            .unwrap();
        assert_exit_saying(&output, 2, "is the input file itself");
        assert_eq!(std::fs::read(&input).unwrap(), day, "input kept");
    }
}

#[test]
fn outputs_never_overwrite_a_state_or_overrides_file_not_written_yet_or_linked() {
    let directory = tempfile::tempdir().unwrap();
    let dir = |name: &str| directory.path().join(name).to_str().unwrap().to_owned();
    let day = example_day();
    let day = day.to_str().unwrap();
    // The state file does not exist yet: `--out` names it in another spelling.
    let state = dir("fresh.state");
    let other_spelling = format!("{}/./fresh.state", directory.path().display());
    let output = run(&["replay", day, "--state", &state, "--out", &other_spelling]);
    assert_exit_saying(&output, 2, "is the --state file");
    assert!(!Path::new(&state).exists(), "nothing written");
    // The policy overrides' file, for replay's --out and simulate's --write-events.
    let overrides = dir("policy.json");
    std::fs::write(&overrides, r#"{"chat":{"idle_timeout":"15m"}}"#).unwrap();
    let at_file = format!("@{overrides}");
    for args in [
        vec![
            "replay",
            day,
            "--policy-overrides",
            &at_file,
            "--out",
            &overrides,
        ],
        vec![
            "simulate",
            "--contacts",
            "10",
            "--days",
            "1",
            "--policy-overrides",
            &at_file,
            "--write-events",
            &overrides,
        ],
    ] {
        let output = run(&args);
        assert_exit_saying(&output, 2, "is the --policy-overrides file");
        assert_eq!(
            std::fs::read_to_string(&overrides).unwrap(),
            r#"{"chat":{"idle_timeout":"15m"}}"#
        );
    }
    // Saving through a symbolic link replaces the file it names and keeps its permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let real = dir("real.state");
        assert_exit(&run(&["replay", day, "--summary", "--state", &real]), 0);
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir("link.state");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let before = std::fs::read(&real).unwrap();
        let tick = r#"{"type":"tick","at":"2026-11-09T00:00:00Z"}"#;
        let output = run_with_stdin(&["replay", "-", "--state", &link], tick.as_bytes());
        assert_exit(&output, 0);
        assert!(is_link(&link), "the link stays a link");
        assert_ne!(
            std::fs::read(&real).unwrap(),
            before,
            "saved through the link"
        );
        let mode = std::fs::metadata(&real).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        // A link to a file not created yet: the file is created, the link stays.
        let dangling = dir("dangling.state");
        std::os::unix::fs::symlink("created.state", &dangling).unwrap();
        let output = run_with_stdin(&["replay", "-", "--state", &dangling], tick.as_bytes());
        assert_exit(&output, 0);
        assert!(is_link(&dangling), "the link stays a link");
        assert!(Path::new(&dir("created.state")).is_file());
        // `--out` through a link to the --state file, neither written yet.
        let out_link = dir("out.link");
        std::os::unix::fs::symlink("later.state", &out_link).unwrap();
        let output = run(&[
            "replay",
            day,
            "--state",
            &dir("later.state"),
            "--out",
            &out_link,
        ]);
        assert_exit_saying(&output, 2, "is the --state file");
    }
}

#[test]
fn a_state_file_without_a_directory_is_refused_before_the_replay() {
    // The whole replay ran, and printed its output, before the save failed.
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("missing").join("s.state");
    let day = example_day();
    let output = run(&[
        "replay",
        day.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_exit_saying(&output, 3, "to save it in");
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));
}

#[test]
fn simulate_refuses_sizes_it_cannot_hold_or_date() {
    // Four billion contacts aborted on allocation; three million days ran for minutes
    // and then panicked past the year 9999.
    for (flag, value) in [
        ("--contacts", "4000000000"),
        ("--days", "2912139"),
        ("--businesses", "0"),
    ] {
        let output = run(&["simulate", flag, value]);
        assert_exit_saying(&output, 2, flag);
    }
}

fn simulate(seed: &str) -> String {
    let output = run(&[
        "simulate",
        "--businesses",
        "2",
        "--contacts",
        "300",
        "--days",
        "2",
        "--seed",
        seed,
        "--summary-format",
        "json",
    ]);
    assert_exit(&output, 0);
    assert!(
        stderr(&output).contains("events/s"),
        "throughput is reported"
    );
    stdout(&output)
}

#[test]
fn simulate_is_deterministic_for_a_seed() {
    let first = simulate("42");
    assert_eq!(first, simulate("42"));
    assert_ne!(first, simulate("43"), "another seed, other traffic");
    let summary: Value = serde_json::from_str(&first).unwrap();
    assert!(
        summary["sends"]["allowed"].as_u64().unwrap() > 100,
        "{summary:#}"
    );
    assert!(summary["chats"]["started"].as_u64().unwrap() > 50);
    assert!(summary["chats"]["missed"].as_u64().unwrap() > 0);
    assert!(
        summary["charges_by_category"]["marketing"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        summary["sends"]["denied_by_reason"]["no_opt_in"]
            .as_u64()
            .unwrap()
            > 0
    );
}

/// The header's flags replay the file even where the overrides switch a tagged rule's kind
/// (its fields given whole) or name a map key with a dot in it: written as field paths, they
/// were refused by replay.
#[test]
fn the_write_events_header_replays_a_tagged_rule_and_a_dotted_key() {
    let directory = tempfile::tempdir().unwrap();
    let events = directory.path().join("events.jsonl");
    let overrides = r#"{"buttons":{"rule":{"kind":"grouped","total_max":10,"url_max":2,"phone_max":1,"copy_code_max":1}},"content":{"outbound_file_max_bytes_by_provider":{"360.dialog":1000}}}"#;
    let simulated = run(&[
        "simulate",
        "--days",
        "1",
        "--contacts",
        "100",
        "--policy",
        "classic",
        "--policy-overrides",
        overrides,
        "--summary-format",
        "json",
        "--write-events",
        events.to_str().unwrap(),
    ]);
    assert_exit(&simulated, 0);
    let written = std::fs::read_to_string(&events).unwrap();
    let header = written.lines().next().unwrap();
    let given = header
        .split_once("--policy-overrides '")
        .and_then(|(_, rest)| rest.split_once("' for the same answers"))
        .map(|(json, _)| json)
        .unwrap_or_else(|| panic!("{header}"));
    assert!(header.contains("--policy classic "), "{header}");
    let replayed = run(&[
        "replay",
        events.to_str().unwrap(),
        "--policy",
        "classic",
        "--policy-overrides",
        given,
        "--state",
        directory.path().join("state.json").to_str().unwrap(),
    ]);
    assert_exit(&replayed, 0);
    // The state saved under the header's flags holds the policy simulated under.
    let inspect = run(&[
        "inspect",
        directory.path().join("state.json").to_str().unwrap(),
    ]);
    let overview: Value = serde_json::from_str(&stdout(&inspect)).unwrap();
    let kept = &overview["policy_overrides"];
    assert_eq!(kept["buttons.rule.kind"], "grouped", "{overview:#}");
    assert_eq!(
        kept[r#"content.outbound_file_max_bytes_by_provider."360.dialog""#], 1000,
        "{overview:#}"
    );
}

#[test]
fn simulated_events_replay_to_the_same_summary() {
    let directory = tempfile::tempdir().unwrap();
    let events = directory.path().join("events.jsonl");
    let args = [
        "simulate",
        "--contacts",
        "200",
        "--days",
        "1",
        "--seed",
        "5",
    ];
    let mut with_file: Vec<&str> = args.to_vec();
    with_file.extend([
        "--policy-overrides",
        r#"{"chat":{"idle_timeout":"3m"}}"#,
        "--summary-format",
        "json",
        "--write-events",
        events.to_str().unwrap(),
    ]);
    let simulated = run(&with_file);
    assert_exit(&simulated, 0);
    // The file's first line, a comment replay skips, says how to replay it alike: the
    // events alone do not say which rules decided them.
    let written = std::fs::read_to_string(&events).unwrap();
    let (header, lines) = written.split_once('\n').unwrap();
    assert_eq!(
        header,
        "// convstate simulate --businesses 2 --contacts 200 --days 1 --seed 5: replay with \
         --policy cloud-2025 --policy-overrides '{\"chat\":{\"idle_timeout\":\"3m\"}}' for the \
         same answers"
    );
    let replay = |policy: &[&str]| {
        let mut args = vec![
            "replay",
            events.to_str().unwrap(),
            "--summary",
            "--summary-format",
            "json",
        ];
        args.extend(policy);
        let replayed = run(&args);
        assert_exit(&replayed, 0);
        let mut summary: Value = serde_json::from_str(&stdout(&replayed)).unwrap();
        // Where a rejection was is said of lines, which simulate's events have none of.
        summary
            .as_object_mut()
            .unwrap()
            .remove("first_rejected_line");
        summary
    };
    let simulated: Value = serde_json::from_str(&stdout(&simulated)).unwrap();
    assert!(simulated["rejected_by_error"]["no_live_chat"].as_u64() > Some(0));
    let flags = [
        "--policy",
        "cloud-2025",
        "--policy-overrides",
        r#"{"chat":{"idle_timeout":"3m"}}"#,
    ];
    assert_eq!(replay(&flags), simulated);
    assert_ne!(replay(&[]), simulated, "the flags matter");
    // Written as the wire docs write events: the type first (the fastest for every reader).
    for line in lines.lines() {
        assert!(line.starts_with(r#"{"type":""#), "{line}");
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(event["at"].is_string(), "{line}");
    }
}

#[test]
fn inspect_shows_contact_number_and_template() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let path = example_day();
    let replay = run(&[
        "replay",
        path.to_str().unwrap(),
        "--summary",
        "--state",
        state_arg,
    ]);
    assert_exit(&replay, 0);

    let json = |args: &[&str]| -> Value {
        let output = run(args);
        assert_exit(&output, 0);
        serde_json::from_str(&stdout(&output)).unwrap()
    };
    let overview = json(&["inspect", state_arg]);
    assert_eq!(overview["policy"], "cloud-2025");
    assert_eq!(overview["clock"], "2026-11-02T23:59:59Z");

    let number = json(&["inspect", state_arg, "--number", SUPPORT]);
    assert_eq!(number["business"], "acme");
    assert_eq!(number["counters"]["chats_missed"], 1);

    let contact = json(&[
        "inspect",
        state_arg,
        "--number",
        SUPPORT,
        "--contact",
        "+4915100000001",
    ]);
    assert_eq!(contact["ticket"]["status"], "closed");
    assert_eq!(
        contact["window_open"], true,
        "wrote at 12:30, open until 12:30 tomorrow"
    );
    // --at in either spelling of an instant.
    for at in ["2026-11-03T13:00:00Z", "1793710800000"] {
        let later = json(&[
            "inspect",
            state_arg,
            "--number",
            SUPPORT,
            "--contact",
            "+4915100000001",
            "--at",
            at,
        ]);
        assert_eq!(
            later["window_open"], false,
            "closed at 12:30 the next day ({at})"
        );
    }

    let template = json(&[
        "inspect",
        state_arg,
        "--template",
        "winback",
        "--business",
        "acme",
    ]);
    assert_eq!(template["status"], "rejected");
    assert_eq!(template["category"], "marketing");

    let unknown = run(&["inspect", state_arg, "--number", "+15559999999"]);
    assert_exit_saying(&unknown, 1, "unknown number");

    // A template's business or language without --template names no view: refused, where it
    // showed the overview as if the filter had been read.
    for alone in [["--language", "fr"], ["--business", "acme"]] {
        let output = run(&["inspect", state_arg, alone[0], alone[1]]);
        assert_exit_saying(&output, 2, "--template <NAME>");
    }
}

#[test]
fn inspect_at_applies_to_every_view_that_has_an_instant() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let input = [
        r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"autumn_sale","language":"en","category":"marketing","body":"Hi {{1}}, our sale starts today.","status":"approved","quality":"high"}"#,
        r#"{"type":"template_quality","at":"2026-11-02T14:00:00Z","business":"acme","name":"autumn_sale","language":"en","quality":"low"}"#,
    ]
    .join("\n");
    let replay = run_with_stdin(
        &["replay", "-", "--summary", "--state", state_arg],
        input.as_bytes(),
    );
    assert_exit(&replay, 0);
    let status = |at: Option<&str>| -> Value {
        let mut args = vec![
            "inspect",
            state_arg,
            "--template",
            "autumn_sale",
            "--business",
            "acme",
        ];
        args.extend(at.map(|at| ["--at", at]).into_iter().flatten());
        let output = run(&args);
        assert_exit(&output, 0);
        serde_json::from_str::<Value>(&stdout(&output)).unwrap()["status"].clone()
    };
    assert_eq!(status(None), "paused", "paused at 14:00 by the low quality");
    assert_eq!(
        status(Some("2026-11-03T14:00:00Z")),
        "approved",
        "the first pause has ended a day later"
    );

    let overview = run(&["inspect", state_arg, "--at", "2026-11-03T14:00:00Z"]);
    assert_exit_saying(&overview, 2, "--at needs a view");
}

#[test]
fn the_summary_lists_templates_the_provider_recategorized() {
    let input = [
        r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"notice","language":"en","category":"utility","body":"Your order {{1}} has shipped.","status":"approved"}"#,
        r#"{"type":"template_category","at":"2026-11-02T10:00:00Z","business":"acme","name":"notice","language":"en","category":"marketing"}"#,
        r#"{"type":"template_category","at":"2026-11-02T10:00:00Z","business":"acme","name":"notice","language":"en","category":"marketing"}"#,
    ]
    .join("\n");
    let summary = summary_of(&input);
    assert_eq!(
        summary["template_category_changes"],
        serde_json::json!([{"template": "acme/notice/en", "from": "utility", "to": "marketing", "at": "2026-11-02T10:00:00Z"}]),
        "the repeated change is not a second one"
    );
    let table = run_with_stdin(&["replay", "-", "--summary"], input.as_bytes());
    assert_exit(&table, 0);
    assert!(
        stdout(&table).contains("acme/notice/en: utility -> marketing at 2026-11-02T10:00:00Z"),
        "{}",
        stdout(&table)
    );
}

#[test]
fn the_summary_shows_the_flag_a_template_change_leaves_in_force() {
    // A provider flag on a paused template was listed `paused -> paused` with nothing to say
    // what changed: the pause keeps the flag, and its deadline. A pause said nothing of its
    // end.
    let input = [
        r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}, see our offer.","status":"approved"}"#,
        r#"{"type":"template_quality","at":"2026-11-02T09:00:00Z","business":"acme","name":"promo","language":"en","quality":"low"}"#,
        r#"{"type":"template_status","at":"2026-11-02T10:00:00Z","business":"acme","name":"promo","language":"en","status":"flagged","until":"2026-11-04T08:00:00Z"}"#,
    ]
    .join("\n");
    let summary = summary_of(&input);
    assert_eq!(
        summary["template_status_changes"],
        serde_json::json!([
            {"template": "acme/promo/en", "from": "approved", "to": "paused", "at": "2026-11-02T09:00:00Z", "until": "2026-11-02T12:00:00Z"},
            {"template": "acme/promo/en", "from": "paused", "to": "paused", "at": "2026-11-02T10:00:00Z", "until": "2026-11-02T12:00:00Z", "flagged_until": "2026-11-04T08:00:00Z"},
        ]),
    );
    let table = run_with_stdin(&["replay", "-", "--summary"], input.as_bytes());
    assert_exit(&table, 0);
    let table = stdout(&table);
    assert!(
        table.contains(
            "acme/promo/en: paused -> paused at 2026-11-02T10:00:00Z \
             (until 2026-11-02T12:00:00Z; flagged until 2026-11-04T08:00:00Z)\n"
        ),
        "{table}"
    );
    // A pause says when it ends (the first low's, three hours on cloud-2025).
    assert!(
        table.contains(
            "acme/promo/en: approved -> paused at 2026-11-02T09:00:00Z \
             (until 2026-11-02T12:00:00Z)\n"
        ),
        "{table}"
    );
    // After the pause, the flag alone: its `until` is the flag's deadline, said once.
    let later = format!(
        "{input}\n{}",
        r#"{"type":"tick","at":"2026-11-02T13:00:00Z"}"#
    );
    let table = run_with_stdin(&["replay", "-", "--summary"], later.as_bytes());
    assert!(
        stdout(&table).contains(
            "acme/promo/en: paused -> flagged at 2026-11-02T12:00:00Z \
             (flagged until 2026-11-04T08:00:00Z)\n"
        ),
        "{}",
        stdout(&table)
    );
}

/// The state the example day leaves (its clock: 2026-11-02T23:59:59Z), saved in `directory`.
fn example_state(directory: &Path) -> PathBuf {
    replayed_into_state(&example_day(), &directory.join("state.json"))
}

/// `log` replayed into a new state at `state`: its path.
fn replayed_into_state(log: &Path, state: &Path) -> PathBuf {
    let replay = run(&[
        "replay",
        log.to_str().unwrap(),
        "--summary",
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_exit(&replay, 0);
    state.to_path_buf()
}

#[test]
fn inspect_at_out_of_range_names_the_argument_and_the_range() {
    let directory = tempfile::tempdir().unwrap();
    let state = example_state(directory.path());
    let state_arg = state.to_str().unwrap();
    // Too long for any integer, past year 9999 by a millisecond, negative, before 1970 as
    // RFC 3339: each named as given, with the range in both spellings.
    for at in [
        "99999999999999999999",
        "253402300800000",
        "-5",
        "1969-12-31T23:59:59Z",
    ] {
        let output = run(&["inspect", state_arg, "--number", SUPPORT, "--at", at]);
        assert_exit_saying(
            &output,
            2,
            &format!(
                "convstate: error: --at {at}: outside the accepted range, \
                 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z \
                 (unix milliseconds 0 to 253402300799999)"
            ),
        );
        assert!(!stderr(&output).contains("year"), "{}", stderr(&output));
    }
    // The last instant of the range is accepted.
    let last = run(&[
        "inspect",
        state_arg,
        "--number",
        SUPPORT,
        "--at",
        "253402300799999",
    ]);
    assert_exit(&last, 0);
    // A date that is not one still says what is expected.
    assert_exit_saying(
        &run(&["inspect", state_arg, "--number", SUPPORT, "--at", "soon"]),
        2,
        r#"--at: invalid instant "soon""#,
    );
}

#[test]
fn inspect_at_before_the_states_clock_is_refused_naming_both() {
    let directory = tempfile::tempdir().unwrap();
    let state = example_state(directory.path());
    let state_arg = state.to_str().unwrap();
    let refusal = "is before the state's clock, 2026-11-02T23:59:59Z (the latest instant of \
                   the events it has replayed): a state keeps no history, so it shows its \
                   clock or a later instant";
    let before = [
        ("2026-11-02T09:00:00Z", "2026-11-02T09:00:00Z"),
        (
            "2026-11-02T10:00:00+01:00",
            "2026-11-02T10:00:00+01:00 (2026-11-02T09:00:00Z)",
        ),
        ("1793610000000", "1793610000000 (2026-11-02T09:00:00Z)"),
        ("0", "0 (1970-01-01T00:00:00Z)"),
    ];
    let views: [&[&str]; 3] = [
        &["--number", SUPPORT],
        &["--number", SUPPORT, "--contact", "+4915100000001"],
        &["--template", "winback", "--business", "acme"],
    ];
    for view in views {
        for (at, shown) in before {
            let mut args = vec!["inspect", state_arg, "--at", at];
            args.extend(view);
            assert_exit_saying(
                &run(&args),
                2,
                &format!("convstate: error: --at {shown} {refusal}"),
            );
        }
        // The clock itself, and any later instant, are shown.
        for at in ["2026-11-02T23:59:59Z", "2026-11-03T00:00:00Z"] {
            let mut args = vec!["inspect", state_arg, "--at", at];
            args.extend(view);
            assert_exit(&run(&args), 0);
        }
    }
    // The overview takes no instant, before the clock or not.
    assert_exit_saying(
        &run(&["inspect", state_arg, "--at", "2026-11-02T09:00:00Z"]),
        2,
        "--at needs a view",
    );
}

#[test]
fn inspect_names_the_flag_of_a_number_or_contact_that_is_none() {
    // They said `invalid user id ""` without the flag, which a command with a number and a
    // contact leaves to guess.
    let directory = tempfile::tempdir().unwrap();
    let state = example_state(directory.path());
    let state_arg = state.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--number", ""], r#"--number: invalid user id """#),
        (
            &["--number", "+1"],
            r#"--number: invalid phone number "+1""#,
        ),
        (
            &["--number", "", "--contact", ""],
            r#"--number: invalid user id """#,
        ),
        (
            &["--number", SUPPORT, "--contact", ""],
            r#"--contact: invalid user id """#,
        ),
        (
            &["--number", SUPPORT, "--contact", "+1"],
            r#"--contact: invalid phone number "+1""#,
        ),
    ];
    for (view, says) in cases {
        let args = [&["inspect", state_arg][..], view].concat();
        assert_exit_saying(&run(&args), 2, &format!("convstate: error: {says}"));
    }
}

#[test]
fn inspect_refusals_name_the_state_file() {
    // They named the number, contact or template alone, as if no state could hold it: a
    // deployment with one state per node asks the wrong one as often as it mistypes.
    let directory = tempfile::tempdir().unwrap();
    let state = example_state(directory.path());
    let state_arg = state.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--number", "+15550009999"],
            r#"unknown number "+15550009999": register it first"#,
        ),
        (
            &["--number", SUPPORT, "--contact", "+79110000009"],
            r#"unknown contact "+79110000009": no conversation with +15550001111"#,
        ),
        (
            &["--template", "nosuch", "--business", "acme"],
            r#"unknown template "nosuch" (en) of business "acme""#,
        ),
    ];
    for (view, says) in cases {
        let args = [&["inspect", state_arg][..], view].concat();
        assert_exit_saying(
            &run(&args),
            1,
            &format!("convstate: error: {state_arg}: {says}"),
        );
    }
}

#[test]
fn inspect_of_a_contact_the_state_does_not_know_is_refused() {
    // It showed an empty conversation and exited 0: a mistyped contact read as a real one.
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let input = [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550003333","channel":"unofficial"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","user_id":"US.13491208655302741918","kind":"text"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550003333","group":"120363042000000001@g.us","kind":"text"}"#,
        r#"{"type":"opt_in","at":"2026-11-02T09:00:00Z","business":"acme","contact":"+79110000002"}"#,
    ]
    .join("\n");
    let replay = run_with_stdin(
        &["replay", "-", "--summary", "--state", state_arg],
        input.as_bytes(),
    );
    assert_exit(&replay, 0);
    let inspect = |number: &str, contact: &str| {
        run(&[
            "inspect",
            state_arg,
            "--number",
            number,
            "--contact",
            contact,
        ])
    };
    assert_exit_saying(
        &inspect(SUPPORT, "+79110000009"),
        1,
        &format!(
            "convstate: error: {state_arg}: unknown contact \"+79110000009\": no conversation \
             with +15550001111 and no opt-in or marketing stop on record"
        ),
    );
    assert_exit_saying(
        &inspect("+15550003333", "+79110000001"),
        1,
        "unknown contact \"+79110000001\": no conversation with +15550003333",
    );
    // A contact by any of its names, a group, and a contact whose only record is its consent
    // are shown.
    for (number, contact, shown) in [
        (SUPPORT, "+79110000001", "+79110000001"),
        (SUPPORT, "79110000001", "+79110000001"),
        (SUPPORT, "US.13491208655302741918", "+79110000001"),
        (
            "+15550003333",
            "120363042000000001@g.us",
            "120363042000000001@g.us",
        ),
        (SUPPORT, "+79110000002", "+79110000002"),
    ] {
        let output = inspect(number, contact);
        assert_exit(&output, 0);
        let view: Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(view["contact"], shown, "{contact}");
    }
}

#[test]
fn a_reader_that_closes_the_output_stops_the_replay_quietly() {
    // Enough output to fill any pipe buffer: a thousand chats.
    let input: String = (0..1000)
        .map(|i| {
            format!(
                r#"{{"type":"inbound","at":"2026-11-02T08:00:00Z","number":"{SUPPORT}","contact":"+49151{i:08}","kind":"text"}}"#
            ) + "\n"
        })
        .collect();
    let register = r#"{"type":"register_number","at":"2026-11-02T07:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#;
    let directory = tempfile::tempdir().unwrap();
    let events = directory.path().join("events.jsonl");
    std::fs::write(&events, format!("{register}\n{input}")).unwrap();
    let state = directory.path().join("state.json");
    let mut child = convstate(&[
        "replay",
        events.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("the binary runs");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout is piped")),
        &mut first,
    )
    .unwrap();
    // The reader is dropped here, as `head -1` exits after its line.
    assert!(first.starts_with('{'), "the first output line: {first}");
    let output = child.wait_with_output().expect("the binary finishes");
    assert_exit(&output, 141);
    assert_eq!(
        stderr(&output),
        "",
        "no error message for a reader that stopped on purpose"
    );
    assert!(!state.exists(), "a replay cut short saves no state");
}

#[test]
fn a_summary_its_reader_never_took_saves_no_state() {
    // With --summary the summary is the first thing written to standard output. A reader
    // already gone (exit status 141) or a device that takes nothing (1): the run counted
    // for nothing, so no state is saved (saved before the summary, the state kept a run
    // whose status said it did not, and a script that ran it again replayed it twice).
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let args = [
        "replay",
        "examples/helpdesk-day.jsonl",
        "--state",
        state.to_str().unwrap(),
        "--summary",
    ];
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = convstate(&args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs");
    assert_exit(&output, 141);
    assert!(!state.exists(), "no state saved after a 141");
    #[cfg(target_os = "linux")]
    {
        let output = run_into_full_device(&args);
        assert_exit_saying(&output, 1, "convstate: error: cannot write <stdout>");
        assert!(
            !state.exists(),
            "no state saved after an unwritable summary"
        );
    }
    let output = run(&args);
    assert_exit(&output, 0);
    assert!(state.exists());
}

/// Runs the binary with standard output going to `/dev/full`, where every write fails.
#[cfg(target_os = "linux")]
fn run_into_full_device(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full opens");
    convstate(args)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs")
}

#[test]
#[cfg(target_os = "linux")]
fn messages_name_standard_input_and_output_as_such() {
    let path = example_day();
    let path = path.to_str().unwrap();
    let directory = tempfile::tempdir().unwrap();
    let state = example_state(directory.path());
    let state_arg = state.to_str().unwrap();
    // Every command that writes standard output: the output lines, the summary, a view, an
    // export.
    let writers: [&[&str]; 5] = [
        &["replay", path],
        &["replay", path, "--summary", "--out", "-"],
        &["replay", path, "--summary"],
        &["inspect", state_arg],
        &["business", "export", state_arg, "--business", "acme"],
    ];
    for args in writers {
        let output = run_into_full_device(args);
        assert_exit_saying(&output, 1, "convstate: error: cannot write <stdout>: ");
    }
    // A file is named by its path, simulate's --write-events too (it said the option).
    let output = run(&["replay", path, "--out", "/dev/full"]);
    assert_exit_saying(&output, 1, "convstate: error: cannot write /dev/full: ");
    let output = run(&["simulate", "--days", "1", "--write-events", "/dev/full"]);
    assert_exit_saying(&output, 1, "convstate: error: cannot write /dev/full: ");
    // An export names the step that failed once (it said `cannot write` twice).
    let output = run(&[
        "business",
        "export",
        state_arg,
        "--business",
        "acme",
        "--out",
        "/dev/full",
    ]);
    assert_exit_saying(
        &output,
        1,
        "convstate: error: cannot export to /dev/full: cannot write: ",
    );
    assert_eq!(stderr(&output).matches("cannot write").count(), 1);

    // Standard input, as replay names it in its line numbers.
    let import = directory.path().join("new.json");
    let import_arg = import.to_str().unwrap();
    let output = run_with_stdin(&["business", "import", import_arg, "-"], b"{");
    assert_exit_saying(&output, 1, "convstate: error: <stdin>: cannot import: ");
    let unreadable = convstate(&["business", "import", import_arg, "-"])
        .stdin(std::fs::File::open(directory.path()).expect("a directory opens"))
        .output()
        .expect("the binary runs");
    assert_exit_saying(&unreadable, 1, "convstate: error: cannot read <stdin>: ");
    assert!(!import.exists(), "nothing imported, nothing saved");
}

/// `--version` names the commit the tool was built from beside the version, so builds of
/// one version tell themselves apart.
#[test]
fn version_names_the_build_commit() {
    let output = run(&["--version"]);
    assert_exit(&output, 0);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("convstate {}\n", convstate::VERSION_AND_COMMIT)
    );
    assert!(convstate::VERSION_AND_COMMIT.ends_with(&format!("({})", convstate::BUILD_COMMIT)));
}

/// Help and version are output like any other: one that cannot be written exits 1, not 0.
#[test]
#[cfg(target_os = "linux")]
fn help_and_version_that_cannot_be_written_exit_1() {
    let asks: [&[&str]; 4] = [
        &["--help"],
        &["--version"],
        &["replay", "--help"],
        &["business", "move", "-h"],
    ];
    for args in asks {
        let output = run_into_full_device(args);
        assert_exit_saying(&output, 1, "convstate: error: cannot write <stdout>: ");
    }
    assert_exit(&run(&["--help"]), 0);
}

/// Messages on standard error are not the command's output: one that cannot be written
/// changes no exit code and stops nothing (`eprintln!` panicked, exiting 101).
#[test]
#[cfg(target_os = "linux")]
fn a_standard_error_that_cannot_be_written_changes_no_exit_code() {
    let run_with_full_stderr = |args: &[&str], input: &[u8]| {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full opens");
        let mut child = convstate(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(full)
            .spawn()
            .expect("the binary runs");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait().expect("the binary ends").code()
    };
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("kept.json");
    let state_arg = state.to_str().unwrap();
    let input = b"{\"type\":\"tick\",\"at\":1}\n{bad\n";
    // The error of a malformed line, a warning of one skipped, simulate's throughput, a move.
    assert_eq!(run_with_full_stderr(&["replay", "-"], input), Some(1));
    assert_eq!(
        run_with_full_stderr(
            &["replay", "-", "--keep-going", "--state", state_arg],
            input
        ),
        Some(0)
    );
    assert!(state.exists(), "the replay went on and saved its state");
    assert_eq!(
        run_with_full_stderr(&["simulate", "--days", "1", "--contacts", "5"], b""),
        Some(0)
    );
    let from = example_state(directory.path());
    let to = directory.path().join("to.json");
    let args = [
        "business",
        "move",
        from.to_str().unwrap(),
        to.to_str().unwrap(),
        "--business",
        "acme",
    ];
    assert_eq!(run_with_full_stderr(&args, b""), Some(0));
}

/// An empty path was refused only when opened (`cannot open : No such file or directory`,
/// exit 1 or 3, a state's after the whole replay): it is a bad value, named by its argument.
#[test]
fn an_empty_path_is_a_usage_error_naming_its_argument() {
    let path = example_day();
    let path = path.to_str().unwrap();
    let directory = tempfile::tempdir().unwrap();
    let state = example_state(directory.path());
    let state = state.to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["replay", ""], "'<FILE>'"),
        (&["replay", path, "--out", ""], "'--out <FILE>'"),
        (&["replay", path, "--state", ""], "'--state <STATE>'"),
        (
            &["replay", path, "--policy-overrides", "@"],
            "'--policy-overrides",
        ),
        (&["inspect", ""], "'<STATE>'"),
        (
            &["simulate", "--write-events", ""],
            "'--write-events <FILE>'",
        ),
        (
            &[
                "business",
                "export",
                state,
                "--business",
                "acme",
                "--out",
                "",
            ],
            "'--out <FILE>'",
        ),
        (&["business", "import", state, ""], "'<FILE>'"),
        (
            &["business", "move", state, "", "--business", "acme"],
            "'<TO>'",
        ),
    ];
    for (args, argument) in cases {
        let output = run(args);
        assert_exit_saying(&output, 2, argument);
        assert!(
            stderr(&output).contains("names no file"),
            "{}",
            stderr(&output)
        );
    }
}

/// A path whose last part is no file name names a directory. Resolved, it lost that part:
/// `--state states/` saved the file `states`, which `--state states/` then could not read.
#[test]
fn a_path_that_names_a_directory_is_not_saved_as_a_file() {
    let directory = tempfile::tempdir().unwrap();
    let state = example_state(directory.path());
    let state = state.to_str().unwrap();
    let missing = directory.path().join("states");
    for written in ["states/", "states/."] {
        let target = directory.path().join(written);
        let target = target.to_str().unwrap();
        let output = run_with_stdin(
            &["replay", "-", "--state", target],
            br#"{"type":"tick","at":1}"#,
        );
        assert_exit_saying(&output, 3, "names a directory");
        let export = run(&[
            "business",
            "export",
            state,
            "--business",
            "acme",
            "--out",
            target,
        ]);
        assert_exit_saying(&export, 1, "names a directory");
        assert!(!missing.exists(), "{written}: nothing written");
    }
}

/// The help's exit codes name every kind of thing `inspect` refuses as not held with 1: a
/// template too (the list named a business, number or contact).
#[test]
fn the_help_names_an_unknown_template_among_the_input_errors() {
    let directory = tempfile::tempdir().unwrap();
    let state = example_state(directory.path());
    let output = run(&[
        "inspect",
        state.to_str().unwrap(),
        "--template",
        "nosuch",
        "--business",
        "acme",
    ]);
    assert_exit_saying(&output, 1, "unknown template");
    let help = stdout(&run(&["inspect", "--help"]));
    assert!(
        help.contains("contact or template the state does not hold"),
        "{help}"
    );
}

/// `simulate` reads no saved state and no standard input: its policy flags' help spoke of
/// `replay`'s (`--state`, `replay -`), shared with it.
#[test]
fn simulate_help_speaks_of_its_own_policy_flags() {
    let help = stdout(&run(&["simulate", "--help"]));
    assert!(help.contains("[default: cloud-2025]\n"), "{help}");
    assert!(
        help.contains("`@-` reads them from standard input\n"),
        "{help}"
    );
    let options = help.split("Exit codes").next().unwrap();
    assert!(
        !options.contains("--state") && !options.contains("replay -"),
        "{help}"
    );
    let replay = stdout(&run(&["replay", "--help"]));
    assert!(replay.contains("the policy saved there"), "{replay}");
}

#[test]
fn exit_codes_are_as_documented() {
    // Every command's help lists them, the `business` group's too (it listed its
    // subcommands alone, though each of them exits with these codes).
    for command in [
        &["--help"][..],
        &["replay", "--help"],
        &["simulate", "--help"],
        &["inspect", "--help"],
        &["business", "--help"],
        &["business", "move", "--help"],
        &["business", "export", "--help"],
        &["business", "import", "--help"],
        &["business", "remove", "--help"],
    ] {
        let help = run(command);
        assert_exit(&help, 0);
        assert!(stdout(&help).contains("Exit codes"), "{command:?}");
    }

    assert_exit(&run(&["replay", "no/such/file.jsonl"]), 1);
    // A directory is not blamed on a line of it.
    let directory = tempfile::tempdir().unwrap();
    assert_exit_saying(
        &run(&["replay", directory.path().to_str().unwrap()]),
        1,
        ": it is a directory",
    );
    assert_exit(&run(&["replay"]), 2);
    let path = example_day();
    let path = path.to_str().unwrap();
    assert_exit(&run(&["replay", path, "--policy", "cloud-1999"]), 2);
    // The overrides are blamed, not --policy, and the field is named.
    assert_exit_saying(
        &run(&[
            "replay",
            path,
            "--policy-overrides",
            r#"{"chat":{"idle":"1m"}}"#,
        ]),
        2,
        r#"--policy-overrides: invalid policy: field "chat.idle": unknown field `idle`"#,
    );
    assert_exit(&run(&["simulate", "--businesses", "0"]), 2);
    // Options that would do nothing are refused rather than ignored.
    assert_exit_saying(
        &run(&["replay", path, "--summary-format", "json"]),
        2,
        "--summary",
    );
    assert_exit_saying(
        &run(&["replay", path, "--waba-business", "1=acme"]),
        2,
        "--waba-business maps webhook payloads: it needs --format meta-webhook",
    );
    let webhook = [
        "replay",
        path,
        "--format",
        "meta-webhook",
        "--waba-business",
    ];
    assert_exit_saying(
        &run(&[&webhook[..], &["=acme"]].concat()),
        2,
        "--waba-business: WABA id is empty",
    );
    assert_exit_saying(
        &run(&[&webhook[..], &["1= acme"]].concat()),
        2,
        "--waba-business: business \" acme\" is blank or begins or ends with white space",
    );
    assert_exit_saying(
        &run(&[&webhook[..], &["1acme"]].concat()),
        2,
        "--waba-business: expected WABA_ID=BUSINESS, got \"1acme\"",
    );
    assert_exit_saying(
        &run(&[&webhook[..], &["1=acme", "--waba-business", "1=globex"]].concat()),
        2,
        "--waba-business: WABA \"1\" is mapped to business \"acme\" already: a WABA belongs to one \
         business",
    );

    let directory = tempfile::tempdir().unwrap();
    let corrupt = directory.path().join("state.json");
    std::fs::write(&corrupt, b"{\"format\":\"something else\"}").unwrap();
    assert_exit(
        &run(&["replay", path, "--state", corrupt.to_str().unwrap()]),
        3,
    );
    assert_exit(&run(&["inspect", corrupt.to_str().unwrap()]), 3);
}

#[test]
fn policy_overrides_change_the_rules() {
    let input = [
        r#"{"type":"register_number","at":"2026-11-02T07:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915100000001","kind":"text"}"#,
        r#"{"type":"tick","at":"2026-11-02T09:12:00Z"}"#,
    ]
    .join("\n");
    let default = run_with_stdin(&["replay", "-"], input.as_bytes());
    assert!(
        stdout(&default).contains("chat_ended"),
        "10 minutes idle ends the chat"
    );
    let directory = tempfile::tempdir().unwrap();
    let overrides = directory.path().join("policy.json");
    std::fs::write(&overrides, r#"{"chat":{"idle_timeout":"15m"}}"#).unwrap();
    let at_file = format!("@{}", overrides.display());
    let longer = run_with_stdin(
        &[
            "replay",
            "-",
            "--policy",
            "classic",
            "--policy-overrides",
            &at_file,
        ],
        input.as_bytes(),
    );
    assert_exit(&longer, 0);
    assert!(
        !stdout(&longer).contains("chat_ended"),
        "15 minutes: still live"
    );
}

#[test]
fn policy_overrides_at_dash_read_standard_input() {
    let directory = tempfile::tempdir().unwrap();
    let events = directory.path().join("events.jsonl");
    std::fs::write(
        &events,
        [
            r#"{"type":"register_number","at":"2026-11-02T07:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915100000001","kind":"text"}"#,
            r#"{"type":"tick","at":"2026-11-02T09:12:00Z"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let events = events.to_str().unwrap();
    let state = directory.path().join("state.json");
    // `@-` is standard input (it read a file named `-`), and is read once: a new --state
    // starts from the policy it gave.
    let longer = run_with_stdin(
        &[
            "replay",
            events,
            "--policy-overrides",
            "@-",
            "--state",
            state.to_str().unwrap(),
        ],
        br#"{"chat":{"idle_timeout":"15m"}}"#,
    );
    assert_exit(&longer, 0);
    assert!(
        !stdout(&longer).contains("chat_ended"),
        "15 minutes: still live: {}",
        stdout(&longer)
    );
    let saved = run(&["inspect", state.to_str().unwrap()]);
    assert_exit(&saved, 0);
    // Its problems name <stdin>, as a file's name the file.
    assert_exit_saying(
        &run_with_stdin(&["replay", events, "--policy-overrides", "@-"], b"{"),
        2,
        "--policy-overrides: <stdin>: not valid JSON",
    );
    let bad = directory.path().join("bad.json");
    std::fs::write(&bad, r#"{"chat":{"idle_timeout":"15m"},}"#).unwrap();
    let bad = bad.to_str().unwrap();
    assert_exit_saying(
        &run(&["replay", events, "--policy-overrides", &format!("@{bad}")]),
        2,
        &format!("--policy-overrides: {bad}: not valid JSON: trailing comma"),
    );
    assert_exit_saying(
        &run(&["replay", events, "--policy-overrides", "{"]),
        2,
        "--policy-overrides: not valid JSON",
    );
    let unreadable = convstate(&["replay", events, "--policy-overrides", "@-"])
        .stdin(std::fs::File::open(directory.path()).expect("a directory opens"))
        .output()
        .expect("the binary runs");
    assert_exit_saying(
        &unreadable,
        2,
        "convstate: error: --policy-overrides: cannot read <stdin>: ",
    );
    // Standard input cannot hold both the overrides and the event log.
    let both = run_with_stdin(
        &["replay", "-", "--policy-overrides", "@-"],
        br#"{"chat":{"idle_timeout":"15m"}}"#,
    );
    assert_exit_saying(
        &both,
        2,
        "--policy-overrides @- and the event log - both read standard input",
    );
    assert!(stdout(&both).is_empty(), "{}", stdout(&both));
    // Also when either names standard input by a path (the overrides read the event log
    // and called it invalid JSON).
    for (file, overrides) in [("/dev/stdin", "@-"), ("-", "@/dev/stdin")] {
        let both = run_with_stdin(
            &["replay", file, "--policy-overrides", overrides],
            br#"{"chat":{"idle_timeout":"15m"}}"#,
        );
        assert_exit_saying(
            &both,
            2,
            &format!(
                "--policy-overrides {overrides} and the event log {file} both read standard input"
            ),
        );
    }
    // simulate reads no other input.
    let simulated = run_with_stdin(
        &["simulate", "--days", "1", "--policy-overrides", "@-"],
        br#"{"chat":{"idle_timeout":"15m"}}"#,
    );
    assert_exit(&simulated, 0);
}

#[test]
fn policy_overrides_a_policy_refuses_name_their_file() {
    // JSON that does not parse named its file; JSON that parses into overrides the policy
    // refuses (an unknown field, a value out of range) named none.
    let directory = tempfile::tempdir().unwrap();
    let path = example_day();
    let path = path.to_str().unwrap();
    for (overrides, says) in [
        (
            r#"{"chat":{"idle":"1m"}}"#,
            r#"invalid policy: field "chat.idle": unknown field `idle`"#,
        ),
        (
            r#"{"outbox":{"hold_for":"0ms"}}"#,
            "invalid policy: outbox.hold_for must be positive",
        ),
    ] {
        let file = directory.path().join("policy.json");
        std::fs::write(&file, overrides).unwrap();
        let file = file.to_str().unwrap();
        assert_exit_saying(
            &run(&["replay", path, "--policy-overrides", &format!("@{file}")]),
            2,
            &format!("convstate: error: --policy-overrides: {file}: {says}"),
        );
        assert_exit_saying(
            &run_with_stdin(
                &["replay", path, "--policy-overrides", "@-"],
                overrides.as_bytes(),
            ),
            2,
            &format!("convstate: error: --policy-overrides: <stdin>: {says}"),
        );
        // Given inline, there is no file to name.
        assert_exit_saying(
            &run(&["replay", path, "--policy-overrides", overrides]),
            2,
            &format!("convstate: error: --policy-overrides: {says}"),
        );
    }
    // An unknown preset is --policy's, not the file's.
    let file = directory.path().join("policy.json");
    std::fs::write(&file, "{}").unwrap();
    let output = run(&[
        "replay",
        path,
        "--policy",
        "cloud-1999",
        "--policy-overrides",
        &format!("@{}", file.display()),
    ]);
    assert_exit_saying(&output, 2, "convstate: error: --policy: unknown policy");
    assert!(
        !stderr(&output).contains("policy.json"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn standard_input_that_cannot_be_read_is_named_not_blamed_on_a_line() {
    let directory = tempfile::tempdir().unwrap();
    for format in ["wire", "meta-webhook"] {
        let output = convstate(&["replay", "--format", format, "-"])
            .stdin(std::fs::File::open(directory.path()).expect("a directory opens"))
            .output()
            .expect("the binary runs");
        assert_exit_saying(&output, 1, "convstate: error: cannot read <stdin>: ");
        let message = stderr(&output);
        assert!(!message.contains(":1:"), "{message}");
        assert!(!message.contains("line"), "{message}");
    }
}

#[test]
fn a_webhook_log_reads_a_line_with_a_type_key_as_a_wire_event_whatever_else_it_holds() {
    // A line of a webhook log with a `type` key is a wire event (cli/README), refused as
    // the wire decoder refuses it: it was taken for a webhook body when it also had an
    // `object` key (dropped as `unrecognized`, exit status 0), a byte-order mark or a lone
    // surrogate ("webhook object: missing").
    let register = r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#;
    for (line, message) in [
        (
            r#"{"type":"tick","at":"2026-11-02T09:00:00Z","object":1}"#,
            "log.jsonl:2: field \"object\": unknown field `object`",
        ),
        (
            "\u{feff}{\"type\":\"tick\",\"at\":\"2026-11-02T09:00:00Z\"}",
            "log.jsonl:2: not valid JSON: the line starts with a byte-order mark",
        ),
    ] {
        let directory = tempfile::tempdir().unwrap();
        let log = directory.path().join("log.jsonl");
        std::fs::write(&log, format!("{register}\n{line}\n")).unwrap();
        let output = run(&["replay", "--format", "meta-webhook", log.to_str().unwrap()]);
        assert_exit_saying(&output, 1, message);
    }
    // A comment holding half an emoji is no concern of the event's: applied.
    let directory = tempfile::tempdir().unwrap();
    let log = directory.path().join("log.jsonl");
    let tick = r#"{"type":"tick","at":"2026-11-02T09:00:00Z","comment":"cut \ud83d"}"#;
    std::fs::write(&log, format!("{register}\n{tick}\n")).unwrap();
    let output = run(&["replay", "--format", "meta-webhook", log.to_str().unwrap()]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output).lines().last(),
        Some(r#"{"type":"ack","of":"tick"}"#)
    );
}

#[test]
fn replay_meta_webhooks_mixed_with_wire_events() {
    let output = run(&[
        "replay",
        "--format",
        "meta-webhook",
        "examples/meta-webhooks.jsonl",
    ]);
    assert_exit(&output, 0);
    let lines = json_lines(&output);
    // The free-form send after the provider's 131047 is refused: the window closed at the
    // failure, although locally it would run until the next day.
    let refusal = lines
        .iter()
        .find(|l| l["type"] == "decision" && l["verdict"] == "denied")
        .expect("a refused send");
    assert_eq!(refusal["denial"]["reason"], "window_closed");
    assert_eq!(
        refusal["denial"]["window_closed_at"],
        "2026-11-02T10:00:00Z"
    );
    // The redelivered failure is acknowledged and causes no effect.
    let failures: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l["of"] == "message_status")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failures.len(), 2);
    assert_ne!(lines[failures[1] + 1]["type"], "effect");
    let unrecognized: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "unrecognized")
        .map(|l| l["path"].as_str().unwrap())
        .collect();
    assert_eq!(unrecognized.len(), 4, "{unrecognized:?}");
}

#[test]
fn replay_meta_webhook_reports_a_body_that_is_not_json_with_its_line() {
    let output = run_with_stdin(
        &["replay", "--format", "meta-webhook", "-"],
        b"{\"object\":\"whatsapp_business_account\",\"entry\":\n",
    );
    assert_exit_saying(&output, 1, "convstate: error: <stdin>:1: webhook $: ");
}

#[test]
fn a_skipped_webhook_body_is_reported_as_a_webhook_problem() {
    // Its warning read `invalid event: webhook $: ...`, the prefix of a wire event's error.
    let output = run_with_stdin(
        &["replay", "--format", "meta-webhook", "--keep-going", "-"],
        b"[1]\n",
    );
    assert_exit_saying(
        &output,
        0,
        "convstate: warning: <stdin>:1: webhook $: expected a JSON object; a Meta Cloud API \
         webhook body is the JSON object Meta posts, \
         {\"object\":\"whatsapp_business_account\",\"entry\":[...]}; other providers' \
         payloads are mapped by the host to wire events (skipped)",
    );
    // The error line is the core's, prefix and all.
    assert_eq!(
        json_lines(&output)[0]["message"],
        "invalid event: webhook $: expected a JSON object; a Meta Cloud API webhook body is the \
         JSON object Meta posts, {\"object\":\"whatsapp_business_account\",\"entry\":[...]}; \
         other providers' payloads are mapped by the host to wire events"
    );
}

/// Three simulated businesses replayed into one state, in `directory`: the state's path.
fn three_business_state(directory: &Path) -> PathBuf {
    let events = directory.join("events.jsonl");
    let state = directory.join("a.json");
    let simulate = run(&[
        "simulate",
        "--businesses",
        "3",
        "--contacts",
        "600",
        "--days",
        "2",
        "--seed",
        "7",
        "--write-events",
        events.to_str().unwrap(),
    ]);
    assert_exit(&simulate, 0);
    replayed_into_state(&events, &state)
}

fn restore(path: &Path) -> convstate::Engine {
    convstate::Engine::restore(&std::fs::read(path).unwrap()).expect("the state restores")
}

/// What `inspect STATE` says about the number of conversations.
fn conversations(path: &Path) -> u64 {
    let output = run(&["inspect", path.to_str().unwrap()]);
    assert_exit(&output, 0);
    let overview: Value = serde_json::from_str(&stdout(&output)).unwrap();
    overview["conversations"].as_u64().unwrap()
}

#[test]
fn business_move_splits_a_state_and_both_halves_go_on() {
    let directory = tempfile::tempdir().unwrap();
    let a = three_business_state(directory.path());
    let b = directory.path().join("b.json");
    let (a_arg, b_arg) = (a.to_str().unwrap(), b.to_str().unwrap());
    // An inbound with its provider id and a reply with an idempotency key, before the move.
    let inbound = br#"{"type":"inbound","at":"2026-11-05T08:00:00Z","number":"+15551000011","contact":"+4915100000042","kind":"text","message_id":"wamid.cli.1"}
"#;
    let reply = br#"{"type":"send","at":"2026-11-05T08:01:00Z","number":"+15551000011","contact":"+4915100000042","message":{"kind":"text","text":"On it"},"idempotency_key":"cli-key-1"}
"#;
    for line in [&inbound[..], reply] {
        assert_exit(&run_with_stdin(&["replay", "-", "--state", a_arg], line), 0);
    }
    let original = restore(&a);
    let shop1 = original.export_business("shop1").unwrap();
    let before = conversations(&a);

    let moved = run(&["business", "move", a_arg, b_arg, "--business", "shop1"]);
    assert_exit_saying(&moved, 0, "moved business \"shop1\"");
    // The business travelled whole: the new state exports it byte for byte as the old
    // one did, and the old state no longer holds it.
    assert_eq!(restore(&b).export_business("shop1").unwrap(), shop1);
    assert!(matches!(
        restore(&a).export_business("shop1"),
        Err(convstate::Error::UnknownBusiness { .. })
    ));
    let (left, went) = (conversations(&a), conversations(&b));
    assert!(left > 0 && went > 0, "{left} and {went}");
    assert_eq!(left + went, before, "no conversation lost or doubled");

    // Each state goes on with its own traffic: shop1's number answers from b only, where
    // the redelivered inbound is recognised (an acknowledgement, nothing else) and the
    // retried reply gets its first decision back (not a refusal as a duplicate).
    let retries = [&inbound[..], reply].concat();
    let on_b = run_with_stdin(&["replay", "-", "--state", b_arg], &retries);
    assert_exit(&on_b, 0);
    let mut expected = original.clone();
    let answers: Vec<String> = retries
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .flat_map(|l| expected.handle_json(std::str::from_utf8(l).unwrap()))
        .map(|l| l + "\n")
        .collect();
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers[1].contains(r#""verdict":"allowed""#), "{answers:?}");
    assert_eq!(stdout(&on_b), answers.concat());
    let on_a = run_with_stdin(&["replay", "-", "--state", a_arg], inbound);
    assert_exit(&on_a, 0);
    assert!(
        stdout(&on_a).contains(r#""error":"unknown_number""#),
        "{}",
        stdout(&on_a)
    );
}

#[test]
fn business_export_import_remove_equal_one_move() {
    let directory = tempfile::tempdir().unwrap();
    let a = three_business_state(directory.path());
    let steps_a = directory.path().join("steps-a.json");
    std::fs::copy(&a, &steps_a).unwrap();
    let (b, steps_b) = (
        directory.path().join("b.json"),
        directory.path().join("steps-b.json"),
    );
    let path = |p: &PathBuf| p.to_str().unwrap().to_owned();

    let moved = run(&[
        "business",
        "move",
        &path(&a),
        &path(&b),
        "--business",
        "shop2",
    ]);
    assert_exit(&moved, 0);

    // The same move by hand, through standard output and standard input.
    let unmoved = std::fs::read(&steps_a).unwrap();
    let export = run(&["business", "export", &path(&steps_a), "--business", "shop2"]);
    assert_exit(&export, 0);
    assert_eq!(
        std::fs::read(&steps_a).unwrap(),
        unmoved,
        "export leaves the state as it was"
    );
    let import = run_with_stdin(
        &["business", "import", &path(&steps_b), "-"],
        &export.stdout,
    );
    assert_exit(&import, 0);
    let remove = run(&["business", "remove", &path(&steps_a), "--business", "shop2"]);
    assert_exit(&remove, 0);

    assert_eq!(std::fs::read(&steps_a).unwrap(), std::fs::read(&a).unwrap());
    assert_eq!(std::fs::read(&steps_b).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn business_refusals_name_the_problem_and_change_no_file() {
    let directory = tempfile::tempdir().unwrap();
    let a = three_business_state(directory.path());
    let b = directory.path().join("b.json");
    let (a_arg, b_arg) = (a.to_str().unwrap(), b.to_str().unwrap());
    let saved = std::fs::read(&a).unwrap();
    let refused = |args: &[&str], code: i32, says: &str| {
        let output = run(args);
        assert_exit(&output, code);
        assert!(
            stderr(&output).contains(says),
            "{args:?}: {}",
            stderr(&output)
        );
        assert_eq!(
            std::fs::read(&a).unwrap(),
            saved,
            "{args:?} changed {a_arg}"
        );
    };

    refused(
        &["business", "move", a_arg, b_arg, "--business", "shop9"],
        1,
        "unknown business \"shop9\"",
    );
    assert!(!b.exists(), "no destination written for a refused move");
    refused(
        &["business", "move", a_arg, a_arg, "--business", "shop0"],
        2,
        "both the state to move from and the one to move to",
    );
    refused(
        &["business", "remove", a_arg, "--business", "shop9"],
        1,
        "unknown business \"shop9\"",
    );
    let missing = directory.path().join("missing.json");
    refused(
        &[
            "business",
            "export",
            missing.to_str().unwrap(),
            "--business",
            "shop0",
        ],
        3,
        "no such file",
    );

    // An export cannot go back into a state that still holds the business, nor under
    // another policy, nor when it is not an export at all.
    let export = directory.path().join("shop0.json");
    let export_arg = export.to_str().unwrap();
    export_business(a_arg, "shop0", export_arg);
    assert!(
        std::fs::read(&export).unwrap().starts_with(b"{"),
        "the export is written whole, by the atomic write the state uses"
    );
    let leftovers: Vec<_> = std::fs::read_dir(directory.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".convstate-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let nowhere = directory.path().join("no/such/dir/shop0.json");
    refused(
        &[
            "business",
            "export",
            a_arg,
            "--business",
            "shop0",
            "--out",
            nowhere.to_str().unwrap(),
        ],
        1,
        "no directory",
    );
    refused(
        &["business", "import", a_arg, export_arg],
        1,
        "business \"shop0\" already exists",
    );
    refused(
        &[
            "business",
            "export",
            a_arg,
            "--business",
            "shop0",
            "--out",
            a_arg,
        ],
        2,
        "is the state file itself",
    );
    // A saved state runs its own policy: an export of another is refused.
    let classic = directory.path().join("classic.json");
    let classic_arg = classic.to_str().unwrap();
    assert_exit(
        &run_with_stdin(
            &["replay", "-", "--policy", "classic", "--state", classic_arg],
            b"",
        ),
        0,
    );
    let empty_classic = std::fs::read(&classic).unwrap();
    let into_classic = run(&["business", "import", classic_arg, export_arg]);
    assert_exit(&into_classic, 1);
    assert!(
        stderr(&into_classic)
            .contains(r#"exported under policy "cloud-2025", and this engine runs "classic""#),
        "{}",
        stderr(&into_classic)
    );
    assert_eq!(std::fs::read(&classic).unwrap(), empty_classic);
    std::fs::write(&export, b"{\"format\":\"something else\"}").unwrap();
    refused(
        &["business", "import", a_arg, export_arg],
        1,
        "not a convstate business export",
    );

    // A move into a state that already holds the business changes neither state.
    std::fs::copy(&a, &b).unwrap();
    refused(
        &["business", "move", a_arg, b_arg, "--business", "shop0"],
        1,
        "already exists",
    );
    assert_eq!(std::fs::read(&b).unwrap(), saved);
}

/// An import that the state cannot take says what is in the way, with no `invalid event:`
/// prefix: the export is no event, and the prefix sent the reader looking for a bad line.
#[test]
fn an_import_refusal_names_the_conflict_not_an_invalid_event() {
    let directory = tempfile::tempdir().unwrap();
    let a = three_business_state(directory.path());
    let a_arg = a.to_str().unwrap();
    let export = directory.path().join("shop0.json");
    let export_arg = export.to_str().unwrap();
    export_business(a_arg, "shop0", export_arg);
    let import = run(&["business", "import", a_arg, export_arg]);
    assert_exit_saying(
        &import,
        1,
        &format!(
            "convstate: error: {export_arg}: cannot import: business \"shop0\" already exists \
             in this engine"
        ),
    );
    let b = directory.path().join("b.json");
    std::fs::copy(&a, &b).unwrap();
    let into_copy = run(&[
        "business",
        "move",
        a_arg,
        b.to_str().unwrap(),
        "--business",
        "shop1",
    ]);
    assert_exit(&into_copy, 1);
    for output in [&import, &into_copy] {
        assert!(
            !stderr(output).contains("invalid event"),
            "{}",
            stderr(output)
        );
    }
}

/// Exports `business` of the state at `state` to the file `out`, which must succeed.
fn export_business(state: &str, business: &str, out: &str) {
    let args = [
        "business",
        "export",
        state,
        "--business",
        business,
        "--out",
        out,
    ];
    assert_exit(&run(&args), 0);
}

#[test]
fn a_file_written_into_a_missing_directory_names_the_directory_given() {
    // They named the temporary file the atomic write creates there, a random name:
    // `at path "/tmp/.../no/.convstate-xspsCs.tmp"`.
    let directory = tempfile::tempdir().unwrap();
    let a = example_state(directory.path());
    let a_arg = a.to_str().unwrap();
    let export = directory.path().join("acme.json");
    let export_arg = export.to_str().unwrap();
    export_business(a_arg, "acme", export_arg);
    let nowhere = directory.path().join("no");
    let into = |name: &str| nowhere.join(name).to_str().unwrap().to_owned();
    let (out, to) = (into("acme.json"), into("b.json"));
    let refusals: [(&[&str], i32, String); 3] = [
        (
            &[
                "business",
                "export",
                a_arg,
                "--business",
                "acme",
                "--out",
                &out,
            ],
            1,
            format!(
                "cannot export to {out}: no directory {} to save it in",
                nowhere.display()
            ),
        ),
        (
            &["business", "import", &to, export_arg],
            3,
            format!(
                "state file {to}: no directory {} to save it in",
                nowhere.display()
            ),
        ),
        (
            &["business", "move", a_arg, &to, "--business", "acme"],
            3,
            format!(
                "state file {to}: no directory {} to save it in",
                nowhere.display()
            ),
        ),
    ];
    for (args, code, says) in refusals {
        let output = run(args);
        assert_exit_saying(&output, code, &format!("convstate: error: {says}\n"));
        assert!(
            !stderr(&output).contains(".convstate-"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn business_import_into_a_new_state_runs_the_exports_policy() {
    let directory = tempfile::tempdir().unwrap();
    three_business_state(directory.path());
    let path = |name: &str| directory.path().join(name).to_str().unwrap().to_owned();
    let replay = run(&[
        "replay",
        &path("events.jsonl"),
        "--summary",
        "--policy",
        "classic",
        "--state",
        &path("classic.json"),
    ]);
    assert_exit(&replay, 0);
    let export = run(&[
        "business",
        "export",
        &path("classic.json"),
        "--business",
        "shop0",
    ]);
    assert_exit(&export, 0);
    let import = run_with_stdin(
        &["business", "import", &path("new.json"), "-"],
        &export.stdout,
    );
    assert_exit(&import, 0);
    let overview = run(&["inspect", &path("new.json")]);
    assert_exit(&overview, 0);
    let overview: Value = serde_json::from_str(&stdout(&overview)).unwrap();
    assert_eq!(overview["policy"], "classic");
    assert_eq!(
        restore(Path::new(&path("new.json")))
            .export_business("shop0")
            .unwrap(),
        restore(Path::new(&path("classic.json")))
            .export_business("shop0")
            .unwrap(),
    );
}

/// `replay -` of one tick with `--state state` and the policy arguments `policy`.
fn tick_with_state(state: &str, policy: &[&str]) -> Output {
    let args = [&["replay", "-", "--state", state][..], policy].concat();
    run_with_stdin(&args, br#"{"type":"tick","at":"2026-11-03T00:00:00Z"}"#)
}

#[test]
fn a_state_saved_under_overrides_names_the_fields_that_differ() {
    // The same preset with other overrides read "saved under policy \"cloud-2025\" and the
    // command line asks for another" although the command line asked for cloud-2025.
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state = state.to_str().unwrap();
    let overrides = r#"{"chat":{"idle_timeout":"15m"}}"#;
    assert_exit(
        &tick_with_state(state, &["--policy-overrides", overrides]),
        0,
    );
    assert_exit_saying(
        &tick_with_state(state, &["--policy", "cloud-2025"]),
        2,
        r#"(chat.idle_timeout: saved "15m", asked "10m")"#,
    );
}

#[test]
fn inspect_shows_the_overrides_a_state_was_saved_under() {
    // The overview showed the preset's name alone, as if its rules were in force.
    let directory = tempfile::tempdir().unwrap();
    let overview = |state: &str| -> Value {
        let output = run(&["inspect", state]);
        assert_exit(&output, 0);
        serde_json::from_str(&stdout(&output)).unwrap()
    };
    let state = directory.path().join("overridden.json");
    let state = state.to_str().unwrap();
    let overrides = r#"{"chat":{"idle_timeout":"15m"},"window":{"length":"24h"},
        "content":{"outbound_file_max_bytes_by_provider":{"360.dialog":1000}}}"#;
    assert_exit(
        &tick_with_state(state, &["--policy-overrides", overrides]),
        0,
    );
    let shown = overview(state);
    assert_eq!(shown["policy"], "cloud-2025");
    // A map key with a dot in it is quoted: unquoted, the path read as a key "360" holding
    // a field "dialog".
    assert_eq!(
        shown["policy_overrides"],
        serde_json::json!({
            "chat.idle_timeout": "15m",
            r#"content.outbound_file_max_bytes_by_provider."360.dialog""#: 1000,
        }),
        "the window's length is the preset's own: no override"
    );
    let plain = directory.path().join("plain.json");
    let plain = plain.to_str().unwrap();
    assert_exit(&tick_with_state(plain, &["--policy", "classic"]), 0);
    assert_eq!(overview(plain).get("policy_overrides"), None);
}

#[test]
fn overrides_for_a_saved_state_are_merged_over_its_policy() {
    // Without --policy, overrides were merged over cloud-2025 whatever the state was saved
    // under: a state saved under classic refused even `{}`, listing 34 differences.
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state = state.to_str().unwrap();
    assert_exit(&tick_with_state(state, &["--policy", "classic"]), 0);
    assert_exit(&tick_with_state(state, &["--policy-overrides", "{}"]), 0);
    let other = tick_with_state(
        state,
        &["--policy-overrides", r#"{"chat":{"idle_timeout":"15m"}}"#],
    );
    assert_exit_saying(&other, 2, r#"saved under policy "classic""#);
    assert_exit_saying(&other, 2, &format!("the state {state} was saved"));
    assert_exit_saying(&other, 2, "chat.idle_timeout");
    // Nor can overrides rename the policy a state is saved under.
    let renamed = run_with_stdin(
        &["replay", "-", "--policy-overrides", r#"{"name":"classic"}"#],
        br#"{"type":"tick","at":"2026-11-03T00:00:00Z"}"#,
    );
    assert_exit_saying(&renamed, 2, r#"field "name""#);
}

#[test]
fn the_summary_table_reads_limit_changes_as_template_changes() {
    // They were printed as raw JSON objects beside formatted template changes.
    let path = example_day();
    let output = run(&["replay", path.to_str().unwrap(), "--summary"]);
    assert_exit(&output, 0);
    let table = stderr(&output) + &stdout(&output);
    assert!(
        table.contains("acme: 250 -> 2000 at 2026-11-02T16:02:04Z (upgrade)"),
        "{table}"
    );
    assert!(!table.contains(r#"{"at":"#), "{table}");
}

#[test]
fn the_summary_counts_charged_sends_a_failed_allowance_message_made_free() {
    // The month's one free service message fails after the next was charged for want of
    // its slot: that one is free now (`message_repriced`), though decided charged.
    let input = [
        r#"{"type":"register_number","at":"2026-11-02T07:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915100000001","kind":"text"}"#,
        r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+4915100000001","message":{"kind":"text","text":"one"},"message_id":"m1"}"#,
        r#"{"type":"send","at":"2026-11-02T09:02:00Z","number":"+15550001111","contact":"+4915100000001","message":{"kind":"text","text":"two"},"message_id":"m2"}"#,
        r#"{"type":"message_status","at":"2026-11-02T09:03:00Z","number":"+15550001111","contact":"+4915100000001","message_id":"m1","status":"failed"}"#,
    ]
    .join("\n");
    let replay = |summary_format: &str| {
        run_with_stdin(
            &[
                "replay",
                "-",
                "--policy",
                "cloud-2026-10",
                "--policy-overrides",
                r#"{"pricing":{"service_free_per_month":1}}"#,
                "--summary",
                "--summary-format",
                summary_format,
            ],
            input.as_bytes(),
        )
    };
    let output = replay("json");
    assert_exit(&output, 0);
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["charges_by_category"]["service"], 1, "as decided");
    assert_eq!(summary["sends_failed_after"], 1, "{summary:#}");
    assert_eq!(summary["sends_repriced_after"], 1, "{summary:#}");
    assert_eq!(
        summary["effects_by_type"]["message_repriced"], 1,
        "{summary:#}"
    );
    let table = replay("table");
    assert!(
        stdout(&table).contains("free after send   1\n"),
        "{}",
        stdout(&table)
    );
}

#[test]
fn the_summary_counts_sends_reported_failed_and_webhook_items_not_applied() {
    let input = [
        r#"{"type":"register_number","at":"2026-11-02T07:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}, see our offer.","status":"approved"}"#,
        r#"{"type":"opt_in","at":"2026-11-02T07:00:00Z","business":"acme","contact":"+4915100000001"}"#,
        r#"{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915100000001","message":{"kind":"template","name":"promo","language":"en","params":["A"]},"message_id":"wamid.1"}"#,
        r#"{"type":"message_status","at":"2026-11-02T09:00:05Z","number":"+15550001111","contact":"+4915100000001","message_id":"wamid.1","status":"failed","errors":[132015]}"#,
    ]
    .join("\n");
    let summary = summary_of(&input);
    assert_eq!(summary["charges_by_category"]["marketing"], 1, "as decided");
    assert_eq!(summary["sends_failed_after"], 1, "{summary:#}");
    let table = run_with_stdin(&["replay", "-", "--summary"], input.as_bytes());
    assert!(
        stdout(&table).contains("failed after send 1\n"),
        "{}",
        stdout(&table)
    );

    let output = run(&[
        "replay",
        "--format",
        "meta-webhook",
        "examples/meta-webhooks.jsonl",
        "--summary",
        "--summary-format",
        "json",
    ]);
    assert_exit(&output, 0);
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let lines = stdout(&run(&[
        "replay",
        "--format",
        "meta-webhook",
        "examples/meta-webhooks.jsonl",
    ]));
    let count = |kind: &str| {
        lines
            .lines()
            .filter(|l| l.starts_with(&format!(r#"{{"type":"{kind}""#)))
            .count()
    };
    assert!(count("unrecognized") > 0);
    assert_eq!(
        summary["webhook_items"]["unrecognized"],
        count("unrecognized")
    );
    assert_eq!(summary["webhook_items"]["skipped"], count("skipped"));
    assert_eq!(summary["webhook_items"]["redelivered"], 0);

    // Each body delivered twice: the second time its messages are skipped, and counted.
    let example =
        std::fs::read_to_string(workspace_root().join("examples/meta-webhooks.jsonl")).unwrap();
    let twice: String = example
        .lines()
        .flat_map(|l| match l.starts_with(r#"{"object""#) {
            true => vec![l, l],
            false => vec![l],
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let replay_twice = |args: &[&str]| {
        let args = [&["replay", "-", "--format", "meta-webhook"][..], args].concat();
        run_with_stdin(&args, twice.as_bytes())
    };
    // Every message the single replay took comes again: skipped, with its event.
    let taken = lines.matches(r#"{"type":"ack","of":"inbound""#).count();
    let twice_lines = stdout(&replay_twice(&[]));
    let again = twice_lines
        .lines()
        .filter(|l| {
            l.starts_with(r#"{"type":"skipped""#) && l.contains(r#""event":{"type":"inbound""#)
        })
        .count();
    assert!(taken > 0);
    assert_eq!(again, taken, "{twice_lines}");
    let twice_summary: Value = serde_json::from_str(&stdout(&replay_twice(&[
        "--summary",
        "--summary-format",
        "json",
    ])))
    .unwrap();
    assert_eq!(twice_summary["webhook_items"]["redelivered"], again);
    // Still events read, as the same inbound on a wire line is.
    assert_eq!(
        twice_summary["events_by_type"]["inbound"].as_u64(),
        summary["events_by_type"]["inbound"].as_u64().map(|n| 2 * n)
    );
    let table = stdout(&replay_twice(&["--summary"]));
    assert!(
        table.contains(&format!(", of them {again} messages delivered again (")),
        "{table}"
    );
}

/// A log of webhook bodies replayed into the state that holds it already gets the late-log
/// warning a wire log gets: its items, dated by their own timestamps, are the log's events.
#[test]
fn webhook_bodies_replayed_into_their_state_again_are_warned_of() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let example =
        std::fs::read_to_string(workspace_root().join("examples/meta-webhooks.jsonl")).unwrap();
    let (bodies, setup): (Vec<&str>, Vec<&str>) = example
        .lines()
        .filter(|l| l.starts_with(r#"{"object""#) || l.starts_with(r#"{"type":"register_"#))
        .partition(|l| l.starts_with(r#"{"object""#));
    let webhook_replay = |lines: &[&str]| {
        run_with_stdin(
            &[
                "replay",
                "-",
                "--format",
                "meta-webhook",
                "--state",
                state_arg,
            ],
            (lines.join("\n") + "\n").as_bytes(),
        )
    };
    let first = webhook_replay(&setup);
    assert_exit(&first, 0);
    let once = webhook_replay(&bodies);
    assert_exit(&once, 0);
    assert_eq!(
        stderr(&once),
        "",
        "the bodies come after the setup: no late log"
    );
    let again = webhook_replay(&bodies);
    assert_exit(&again, 0);
    assert!(
        stderr(&again).starts_with("convstate: warning: <stdin>:1: the log starts at "),
        "{}",
        stderr(&again)
    );
}

/// The table's webhook row points at the output lines that say why an item was not applied:
/// with `--summary` they are written only with `--out`, so the row says so; it said "their
/// lines say why" of lines the command had not written anywhere.
#[test]
fn the_webhook_items_row_says_where_the_lines_that_say_why_are() {
    let output = run(&[
        "replay",
        "--format",
        "meta-webhook",
        "examples/meta-webhooks.jsonl",
        "--summary",
    ]);
    assert_exit(&output, 0);
    let table = stdout(&output);
    let row = table
        .lines()
        .find(|l| l.starts_with("webhook items"))
        .unwrap_or_else(|| panic!("no webhook items row: {table}"));
    assert!(row.contains("--out"), "{row}");
}

#[test]
fn a_webhook_event_the_engine_refuses_counts_among_the_events_as_a_wire_one_does() {
    let register = r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#;
    // A template the engine does not know, paused by the provider: as a wire line and as a
    // webhook body.
    let wire = r#"{"type":"template_status","at":"2026-11-02T09:00:00Z","business":"acme","name":"nosuch","language":"en_US","status":"paused"}"#;
    let webhook = r#"{"object":"whatsapp_business_account","entry":[{"id":"acme","time":1793610000,"changes":[{"value":{"event":"PAUSED","message_template_id":1,"message_template_name":"nosuch","message_template_language":"en_US","reason":"NONE"},"field":"message_template_status_update"}]}]}"#;
    for (format, line) in [("wire", wire), ("meta-webhook", webhook)] {
        let summary = summary_in(format, &format!("{register}\n{line}\n"));
        assert_eq!(
            summary["rejected_by_error"]["unknown_template"], 1,
            "{format}"
        );
        assert_eq!(summary["events"], 2, "{format}: {summary:#}");
        assert_eq!(summary["events_by_type"]["template_status"], 1, "{format}");
        assert_eq!(
            summary["first_rejected_line"]["unknown_template"], 2,
            "{format}: the body's line"
        );
    }
}

/// An `error` output line does not say which input it answers: the summary names the line
/// of each error code's first rejection, counting blank and comment lines as the input's
/// lines (what an editor shows).
#[test]
fn the_summary_names_the_line_of_each_first_rejection() {
    let log = [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        "",
        "// the second number was never registered",
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550002222","contact":"+79110000001","kind":"text"}"#,
        r#"{"type":"end_chat","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000001","by":"agent"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:02:00Z","number":"+15550002222","contact":"+79110000001","kind":"text"}"#,
    ]
    .join("\n");
    let summary = summary_of(&log);
    assert_eq!(summary["rejected_by_error"]["unknown_number"], 2);
    assert_eq!(
        summary["first_rejected_line"],
        serde_json::json!({"unknown_number": 4, "no_live_chat": 5})
    );
    let table = run_with_stdin(&["replay", "-", "--summary"], log.as_bytes());
    assert_exit(&table, 0);
    let table = stdout(&table);
    assert!(
        table.contains("unknown_number        2  (first on line 4)\n")
            && table.contains("no_live_chat          1  (first on line 5)\n"),
        "{table}"
    );
    // No rejection, no key.
    let clean = summary_of(&log.lines().take(1).collect::<String>());
    assert!(clean.get("first_rejected_line").is_none(), "{clean:#}");
}

#[test]
fn summary_counts_an_idempotent_retry_once() {
    // A host retried one send twice with its idempotency key: the engine answers the first
    // decision and changes nothing, so the summary counts one send, one charge, one slot.
    let send = |at: &str| {
        format!(
            r#"{{"type":"send","at":"2026-11-02T{at}Z","number":"+15550001111","contact":"+79110000001","message":{{"kind":"template","name":"promo","language":"en","params":["x"]}},"idempotency_key":"k1"}}"#
        )
    };
    let log = [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#.to_owned(),
        r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}, see our offer.","status":"approved"}"#.to_owned(),
        r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000001"}"#.to_owned(),
        send("09:00:00"),
        send("09:01:00"),
        send("09:02:00"),
    ]
    .join("\n");
    let summary = summary_of(&log);
    assert_eq!(summary["sends"]["allowed"], 1, "{summary}");
    assert_eq!(summary["sends"]["repeated"], 2, "{summary}");
    assert_eq!(summary["charges_by_category"]["marketing"], 1, "{summary}");
    assert_eq!(
        summary["limit_slots_by_number"]["+15550001111"], 1,
        "{summary}"
    );
    let table = stdout(&run_with_stdin(
        &["replay", "-", "--summary"],
        log.as_bytes(),
    ));
    assert!(
        table.contains("2 idempotent retries answered with their first decision"),
        "{table}"
    );
}

#[test]
fn limit_slots_are_counted_by_number_however_it_is_spelled() {
    let log = [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"utility","body":"Hello {{1}}.","status":"approved"}"#,
        r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000001"}"#,
        r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000002"}"#,
        r#"{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"promo","language":"en","params":["x"]}}"#,
        r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+1 (555) 000-1111","contact":"+79110000002","message":{"kind":"template","name":"promo","language":"en","params":["x"]}}"#,
    ]
    .join("\n");
    let summary = summary_of(&log);
    assert_eq!(
        summary["limit_slots_by_number"],
        serde_json::json!({"+15550001111": 2}),
        "{summary}"
    );
}

/// `--out` naming a named pipe: written to, not replaced by a regular file, and the check
/// that it is no input file does not open it (which blocked until a writer came, while the
/// reader waited for this one).
#[cfg(unix)]
#[test]
fn outputs_to_a_named_pipe_are_written_in_place_without_hanging() {
    use std::os::unix::fs::FileTypeExt;
    let directory = tempfile::tempdir().unwrap();
    let fifo = directory.path().join("out.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let state = directory.path().join("state.json");
    assert_exit(
        &run(&[
            "replay",
            example_day().to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ]),
        0,
    );
    for args in [
        vec!["replay", example_day().to_str().unwrap()],
        vec![
            "business",
            "export",
            state.to_str().unwrap(),
            "--business",
            "acme",
        ],
    ] {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).expect("the pipe reads"))
        };
        let mut child = convstate(&args)
            .args(["--out", fifo.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > std::time::Duration::from_secs(60) {
                child.kill().unwrap();
                let _ = std::fs::OpenOptions::new().write(true).open(&fifo); // free the reader
                panic!("{args:?} --out FIFO hung");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert!(status.success(), "{args:?}: {status}");
        let read = reader.join().unwrap();
        assert!(!read.is_empty(), "{args:?}: the reader got the output");
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(
            kind.is_fifo(),
            "{args:?}: the pipe was replaced by a {kind:?}"
        );
    }
}

#[test]
fn a_dash_is_no_state_file() {
    // `--state -` saved the state into a file named `-` in the working directory, where `-`
    // means standard input or output everywhere else on the command line.
    let log = example_day();
    let log = log.to_str().unwrap();
    for args in [
        &["replay", log, "--state", "-"][..],
        &["inspect", "-"],
        &["business", "export", "-", "--business", "acme"],
        &["business", "import", "-", "export.json"],
        &["business", "remove", "-", "--business", "acme"],
        &["business", "move", "-", "to.json", "--business", "acme"],
        &["business", "move", "from.json", "-", "--business", "acme"],
        &["simulate", "--days", "1", "--write-events", "-"],
    ] {
        let output = run(args);
        assert_exit_saying(&output, 2, "`-` is not a file here");
        assert!(
            !workspace_root().join("-").exists(),
            "{args:?} wrote a file named -"
        );
    }
}

#[test]
fn an_empty_state_file_is_refused_as_empty_and_left_alone() {
    // `mktemp`, `touch` or a stray `> state.json` leave an empty file where a state is
    // expected. It is no snapshot (saves are atomic, so no crash leaves one), and it was
    // refused with the parser's "EOF while parsing a value at line 1 column 0".
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("empty.json");
    std::fs::write(&state, b"").unwrap();
    let state = state.to_str().unwrap();
    let export = directory.path().join("acme.json");
    export_business(
        example_state(directory.path()).to_str().unwrap(),
        "acme",
        export.to_str().unwrap(),
    );
    for args in [
        &["replay", "-", "--state", state][..],
        &["inspect", state],
        &["business", "export", state, "--business", "acme"],
        &["business", "import", state, export.to_str().unwrap()],
        &["business", "remove", state, "--business", "acme"],
    ] {
        let output = run_with_stdin(args, br#"{"type":"tick","at":1}"#);
        assert_exit_saying(
            &output,
            3,
            &format!("state file {state}: the file is empty (0 bytes)"),
        );
        assert!(!stderr(&output).contains("EOF"), "{}", stderr(&output));
        assert_eq!(std::fs::read(state).unwrap(), b"", "{args:?}");
    }
}

#[test]
fn policy_overrides_longer_than_a_line_are_refused_unread() {
    // Overrides are a policy's fields, a few kilobytes. `@FILE` read its file whole: an event
    // log given by mistake was held in memory to the last byte, and `@/dev/zero` until the
    // machine ran out of it. Refused past the limit of an input line, naming the file.
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("huge.json");
    let mut text = vec![b' '; 16 << 20];
    text.extend_from_slice(b"{}");
    std::fs::write(&file, &text).unwrap();
    let file = file.to_str().unwrap();
    let simulate_with =
        |overrides: &str| run(&["simulate", "--days", "0", "--policy-overrides", overrides]);
    let output = simulate_with(&format!("@{file}"));
    assert_exit_saying(
        &output,
        2,
        &format!("--policy-overrides: {file}: longer than 16777216 bytes"),
    );
    let output = run_with_stdin(
        &["simulate", "--days", "0", "--policy-overrides", "@-"],
        &text,
    );
    assert_exit_saying(
        &output,
        2,
        "--policy-overrides: <stdin>: longer than 16777216 bytes",
    );
    // Just under the limit, the same overrides are read.
    std::fs::write(file, &text[2..]).unwrap();
    let output = simulate_with(&format!("@{file}"));
    assert_exit(&output, 0);
}

/// A log sorted otherwise than by time (by conversation, as a CRM export may be) replays
/// with each late send decided at the clock: the replay says so once on standard error, and
/// the summary counts the late sends with the first one's line. A sorted log says nothing;
/// a late provider report (line 4's inbound) is no late send.
#[test]
fn a_log_not_sorted_by_time_is_told_once_and_its_late_sends_counted() {
    let register = r#"{"type":"register_number","at":"2026-11-01T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#;
    let talk = |day: u32, contact: u32| {
        format!(
            "{{\"type\":\"inbound\",\"at\":\"2026-11-0{day}T09:00:00Z\",\"number\":\"+15550001111\",\"contact\":\"+7911000000{contact}\",\"kind\":\"text\"}}\n\
             {{\"type\":\"send\",\"at\":\"2026-11-0{day}T09:05:00Z\",\"number\":\"+15550001111\",\"contact\":\"+7911000000{contact}\",\"message\":{{\"kind\":\"text\",\"text\":\"Hi\"}}}}\n"
        )
    };
    // Late too, but not decided at the clock: a retry answered from memory, and a send the
    // engine refuses (an unknown number).
    let retry = r#"{"type":"send","at":"2026-11-02T09:10:00Z","number":"+15550001111","contact":"+79110000009","idempotency_key":"k1","message":{"kind":"text","text":"Hi"}}"#;
    let unknown = r#"{"type":"send","at":"2026-11-01T09:06:00Z","number":"+15550009999","contact":"+79110000002","message":{"kind":"text","text":"Hi"}}"#;
    let unsorted = format!(
        "{register}\n{}{retry}\n{}{retry}\n{unknown}\n",
        talk(2, 1),
        talk(1, 2)
    );
    let output = run_with_stdin(
        &["replay", "-", "--summary", "--summary-format", "json"],
        unsorted.as_bytes(),
    );
    assert_exit(&output, 0);
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["late_sends"], 1, "{summary:#}");
    assert_eq!(summary["first_late_send_line"], 6, "{summary:#}");
    assert_eq!(summary["sends"]["repeated"], 1, "{summary:#}");
    assert_eq!(
        summary["rejected_by_error"]["unknown_number"], 1,
        "{summary:#}"
    );
    // The late reply, five minutes after its contact wrote, was decided at the clock (the
    // other denial is the keyed send's, to a contact who never wrote).
    assert_eq!(summary["sends"]["denied_by_reason"]["window_closed"], 2);
    let told = stderr(&output);
    assert_eq!(told.matches("warning").count(), 1, "{told}");
    assert!(
        told.contains("<stdin>:6: a send dated before an earlier line"),
        "{told}"
    );

    let sorted = format!("{register}\n{}{}", talk(1, 2), talk(2, 1));
    let output = run_with_stdin(
        &["replay", "-", "--summary", "--summary-format", "json"],
        sorted.as_bytes(),
    );
    assert_exit(&output, 0);
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["late_sends"], 0, "{summary:#}");
    assert!(summary.get("first_late_send_line").is_none(), "{summary:#}");
    assert_eq!(summary["sends"]["allowed"], 2, "{summary:#}");
    assert_eq!(stderr(&output), "");
}

/// Unix seconds given where milliseconds go (Meta's webhook timestamps are seconds) are a
/// valid instant of January 1970: the replay goes on, and says so once.
#[test]
fn unix_seconds_given_as_milliseconds_are_warned_of_once() {
    let log = [
        r#"{"type":"register_number","at":1793606400,"business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"inbound","at":1793606460,"number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
    ]
    .join("\n");
    let output = run_with_stdin(&["replay", "-"], log.as_bytes());
    assert_exit(&output, 0);
    assert_eq!(json_lines(&output)[0]["type"], "ack");
    let told = stderr(&output);
    assert_eq!(told.matches("warning").count(), 1, "{told}");
    assert!(
        told.contains("<stdin>:1: dated 1970-01-21T18:13:26.400Z, before any WhatsApp traffic"),
        "{told}"
    );
    let in_millis = log
        .replace("1793606400", "1793606400000")
        .replace("1793606460", "1793606460000");
    let output = run_with_stdin(&["replay", "-"], in_millis.as_bytes());
    assert_exit(&output, 0);
    assert_eq!(stderr(&output), "");
}

/// `--out /dev/stdout` is standard output by another name: with `--summary` the lines and
/// the summary follow one another, as with `--out -`, instead of the summary landing over
/// the lines of a file the shell redirected stdout to. A state or `--write-events` file
/// naming standard input or output is a usage error.
#[test]
fn standard_output_by_its_device_name_is_standard_output() {
    let directory = tempfile::tempdir().unwrap();
    let redirected = directory.path().join("both.txt");
    let log = example_day();
    let dash = run(&["replay", log.to_str().unwrap(), "--summary", "--out", "-"]);
    assert_exit(&dash, 0);
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} replay {} --summary --out /dev/stdout > {}",
            env!("CARGO_BIN_EXE_convstate"),
            log.display(),
            redirected.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_to_string(&redirected).unwrap(), stdout(&dash));
    let output = run(&["simulate", "--write-events", "/dev/stdout"]);
    assert_exit_saying(
        &output,
        2,
        "/dev/stdout is standard input or output, not a file",
    );
    // A state only read may come through standard input's name.
    let state = directory.path().join("state.json");
    let saved = run(&[
        "replay",
        log.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ]);
    assert_exit(&saved, 0);
    let inspected = run_with_stdin(&["inspect", "/dev/stdin"], &std::fs::read(&state).unwrap());
    assert_exit(&inspected, 0);
    assert_eq!(
        stdout(&inspected),
        stdout(&run(&["inspect", state.to_str().unwrap()]))
    );
    let output = run(&["replay", log.to_str().unwrap(), "--state", "/dev/stdin"]);
    assert_exit_saying(
        &output,
        2,
        "/dev/stdin is standard input or output, not a file",
    );
}

/// A day's log of a resumed state that starts with a delivery status dated before the saved
/// clock (a read receipt arriving hours after the send) is no log replayed twice: no
/// warning. Its first event of its own time decides, as before.
#[test]
fn a_late_status_first_is_no_log_replayed_twice() {
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let day1 = [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
        r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000001","message_id":"wamid.1","message":{"kind":"text","text":"Hi"}}"#,
        r#"{"type":"tick","at":"2026-11-02T23:00:00Z"}"#,
    ];
    let first = run_with_stdin(
        &["replay", "-", "--state", state_arg],
        (day1.join("\n") + "\n").as_bytes(),
    );
    assert_exit(&first, 0);
    let day2 = [
        r#"{"type":"message_status","at":"2026-11-02T22:00:00Z","number":"+15550001111","contact":"+79110000001","message_id":"wamid.1","status":"read"}"#,
        r#"{"type":"inbound","at":"2026-11-03T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
    ];
    let second = run_with_stdin(
        &["replay", "-", "--state", state_arg],
        (day2.join("\n") + "\n").as_bytes(),
    );
    assert_exit(&second, 0);
    assert_eq!(stderr(&second), "");
    // Day 1 again: its first event is older than the clock.
    let again = run_with_stdin(
        &["replay", "-", "--state", state_arg],
        (day1.join("\n") + "\n").as_bytes(),
    );
    assert_exit(&again, 0);
    assert!(
        stderr(&again).contains("<stdin>:1: the log starts at 2026-11-02T08:00:00Z"),
        "{}",
        stderr(&again)
    );
}

/// A mistyped year moves the clock forward for good: the first line dated more than a year
/// before the clock a line of the run set is warned of, naming both lines. A log that starts
/// with a setup dated years before its traffic, or a state saved long ago, is no mistake.
#[test]
fn a_line_a_year_before_the_clock_is_warned_of_once() {
    let register = |year: u32| {
        format!(
            r#"{{"type":"register_number","at":"{year}-01-10T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}}"#
        )
    };
    let inbound = |at: &str| {
        format!(
            r#"{{"type":"inbound","at":"{at}","number":"+15550001111","contact":"+79110000001","kind":"text"}}"#
        )
    };
    let typo = [
        register(2026),
        inbound("2062-11-02T09:00:00Z"),
        inbound("2026-11-02T09:05:00Z"),
        inbound("2026-11-02T09:06:00Z"),
    ]
    .join("\n");
    let output = run_with_stdin(&["replay", "-"], typo.as_bytes());
    assert_exit(&output, 0);
    let told = stderr(&output);
    assert_eq!(told.matches("warning").count(), 1, "{told}");
    assert!(
        told.contains(
            "<stdin>:3: dated 2026-11-02T09:05:00Z, more than a year before the engine's clock \
             (2062-11-02T09:00:00Z, from line 2)"
        ),
        "{told}"
    );
    let setup_long_before = [
        register(2024),
        inbound("2026-11-02T09:00:00Z"),
        inbound("2026-11-02T09:05:00Z"),
    ]
    .join("\n");
    let output = run_with_stdin(&["replay", "-"], setup_long_before.as_bytes());
    assert_exit(&output, 0);
    assert_eq!(stderr(&output), "");
}

/// A device given as a state or an export (`/dev/zero`) is refused at once: read to its end
/// it never ends, and the command ran out of memory.
#[test]
fn a_device_is_no_state_or_export() {
    let output = run(&["inspect", "/dev/zero"]);
    assert_exit_saying(
        &output,
        3,
        "state file /dev/zero: cannot read: it is a device",
    );
    let directory = tempfile::tempdir().unwrap();
    let state = directory.path().join("state.json");
    let output = run(&["business", "import", state.to_str().unwrap(), "/dev/zero"]);
    assert_exit_saying(&output, 1, "cannot read /dev/zero: it is a device");
    assert!(!state.exists());
}

#[test]
fn the_summary_counts_statuses_that_matched_no_send() {
    // A host recording sends under ids the provider does not echo sees every status
    // acknowledged like a matched one: no delivery and no confirmed pricing, unnoticed.
    let log = [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"inbound","at":"2026-11-02T08:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":"wamid.in"}"#,
        r#"{"type":"send","at":"2026-11-02T08:00:01Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"hi"},"message_id":"crm-1"}"#,
        r#"{"type":"message_status","at":"2026-11-02T08:00:02Z","number":"+15550001111","contact":"+79110000001","message_id":"crm-1","status":"delivered"}"#,
        r#"{"type":"message_status","at":"2026-11-02T08:00:03Z","number":"+15550001111","contact":"+79110000001","message_id":"wamid.out","status":"read"}"#,
    ]
    .join("\n");
    let json = summary_of(&log);
    assert_eq!(json["statuses_unmatched"], 1, "{json:#}");
    let output = run_with_stdin(&["replay", "-", "--summary"], log.as_bytes());
    assert_exit(&output, 0);
    let table = stdout(&output);
    assert!(
        table.contains("unmatched statuses 1 (no send recorded under their message_id"),
        "{table}"
    );

    // A webhook's status items are counted alike: the example's statuses all match; under
    // an id no send was recorded under, none does.
    let example =
        std::fs::read_to_string(workspace_root().join("examples/meta-webhooks.jsonl")).unwrap();
    let unmatched = |example: &str| {
        let json = summary_in("meta-webhook", example);
        (
            json["statuses_unmatched"].as_u64(),
            json["events_by_type"]["message_status"].as_u64(),
        )
    };
    assert_eq!(unmatched(&example), (Some(0), Some(2)));
    let renamed = example.replace(r#""message_id":"wamid.OUT2""#, r#""message_id":"crm-2""#);
    assert_ne!(renamed, example);
    assert_eq!(unmatched(&renamed), (Some(2), Some(2)));
}

#[test]
fn business_move_prints_the_timers_the_import_fired_at_their_instants() {
    // Into a state an hour ahead, the moved business's chat ends where it fell idle, and the
    // line says so once both states are saved (left queued, the next replay of `to` printed
    // it with its first input's lines).
    let directory = tempfile::tempdir().unwrap();
    let (from, to) = (
        directory.path().join("from.json"),
        directory.path().join("to.json"),
    );
    let (from_arg, to_arg) = (from.to_str().unwrap(), to.to_str().unwrap());
    let from_log = br#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}
{"type":"inbound","at":"2026-11-02T08:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}
"#;
    let to_log = br#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"zeta","number":"+15550002222","channel":"official"}
{"type":"tick","at":"2026-11-02T09:00:00Z"}
"#;
    assert_exit(
        &run_with_stdin(&["replay", "-", "--state", from_arg], from_log),
        0,
    );
    assert_exit(
        &run_with_stdin(&["replay", "-", "--state", to_arg], to_log),
        0,
    );
    let moved = run(&["business", "move", from_arg, to_arg, "--business", "acme"]);
    assert_exit_saying(&moved, 0, "moved business \"acme\"");
    let lines = stdout(&moved);
    let ended: Value = serde_json::from_str(lines.lines().next().unwrap_or("{}")).unwrap();
    assert_eq!(ended["effect"], "chat_ended", "{lines}");
    assert_eq!(ended["at"], "2026-11-02T08:10:00Z", "{lines}");
    assert_eq!(lines.lines().count(), 1, "{lines}");
    // Told once: the saved state keeps no copy for the next replay.
    let next = run_with_stdin(
        &["replay", "-", "--state", to_arg],
        br#"{"type":"tick","at":"2026-11-02T09:00:01Z"}
"#,
    );
    assert_eq!(stdout(&next), "{\"type\":\"ack\",\"of\":\"tick\"}\n");
}
