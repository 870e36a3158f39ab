//! `convstate`: replay WhatsApp Business traffic through the convstate rules engine, simulate
//! traffic, inspect saved state and move businesses between states. See `cli/README.md`.

mod business;
mod error;
mod input;
mod inspect;
mod oddities;
mod paths;
mod replay;
mod simulate;
mod state;
mod summary;

use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use convstate::{Engine, Policy};

use crate::error::{input_name, report, CliError, EXIT_CLOSED_OUTPUT, STDIN_NAME, STDOUT_NAME};
use crate::input::MAX_LINE_BYTES;
use crate::oddities::Oddities;
use crate::paths::{reads_standard_input, same_file, writes_standard_output};
use crate::replay::{Malformed, Replayer};
use crate::summary::Summary;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  input error: a malformed line (reported with its line number, field and what was
     expected), an unreadable input file or standard input, an output that cannot be
     written, a business, number, contact or template the state does not hold, an export
     the state cannot import
  2  usage error: unknown option or bad value (an --at out of range or before the state's
     clock, an inspect --number or --contact that is no phone number or user id, `-` as a
     state file), bad policy name or override, contradictory arguments
     (replay - with --policy-overrides @-: both read standard input)
  3  state error: a saved state (--state, or the STATE of inspect and business) cannot be
     read, restored or written, or another convstate run holds it
  141  the output's reader closed it (a pipe into head): stopped quietly, no state saved
       (business import and move print their effects after saving both states)";

/// Replays WhatsApp Business traffic through the convstate rules engine: what would these
/// rules have done to my traffic?
#[derive(Debug, Parser)]
#[command(name = "convstate", version = convstate::VERSION_AND_COMMIT, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Feed a wire-format event log (JSON lines) through the engine; one output line per input.
    #[command(after_help = EXIT_CODES)]
    Replay(ReplayArgs),
    /// Generate realistic traffic from a seed, replay it, and print throughput and a summary.
    #[command(after_help = EXIT_CODES)]
    Simulate(SimulateArgs),
    /// Show state from a snapshot written by `replay --state`.
    #[command(after_help = EXIT_CODES)]
    Inspect(InspectArgs),
    /// Move a business between states saved by `replay --state`: all at once, or export,
    /// import and remove one by one.
    #[command(subcommand, after_help = EXIT_CODES)]
    Business(BusinessCommand),
}

#[derive(Debug, Subcommand)]
enum BusinessCommand {
    /// Export from one state, import into the other and remove from the first, in memory;
    /// then save both, the destination first. Nothing is saved if a step is refused.
    #[command(after_help = EXIT_CODES)]
    Move(BusinessMoveArgs),
    /// Write one business's state (JSON) for `business import`; the state is not changed.
    #[command(after_help = EXIT_CODES)]
    Export {
        /// A snapshot written by `convstate replay --state`.
        #[arg(value_parser = file_path)]
        state: PathBuf,
        /// The business to export.
        #[arg(long, value_name = "NAME")]
        business: String,
        /// Write the export to this file (`-`: standard output, the default).
        #[arg(long, value_name = "FILE", value_parser = named_file)]
        out: Option<String>,
    },
    /// Add an exported business to a state, which must run the export's policy and hold
    /// neither the business nor its numbers (idempotency keys and message ids are each
    /// business's own); a state that does not exist is created under the export's policy.
    #[command(after_help = EXIT_CODES)]
    Import {
        /// The state to import into.
        #[arg(value_parser = written_path)]
        state: PathBuf,
        /// A file written by `business export`; `-` reads standard input.
        #[arg(value_parser = named_file)]
        file: String,
    },
    /// Drop a business and everything it owns from a state: the last step of a move.
    #[command(after_help = EXIT_CODES)]
    Remove {
        /// A snapshot written by `convstate replay --state`.
        #[arg(value_parser = written_path)]
        state: PathBuf,
        /// The business to remove.
        #[arg(long, value_name = "NAME")]
        business: String,
    },
}

#[derive(Debug, Args)]
struct BusinessMoveArgs {
    /// The state that holds the business now.
    #[arg(value_parser = written_path)]
    from: PathBuf,
    /// The state to move it to (created, under FROM's policy, if it does not exist).
    #[arg(value_parser = written_path)]
    to: PathBuf,
    /// The business to move.
    #[arg(long, value_name = "NAME")]
    business: String,
}

#[derive(Debug, Args)]
struct PolicyArgs {
    /// Rule set: `classic`, `cloud-2025` or `cloud-2026-10` [default: cloud-2025; `replay`
    /// with an existing `--state`: the policy saved there].
    #[arg(long, value_name = "NAME")]
    policy: Option<String>,
    /// Overrides merged over the policy, as JSON or `@FILE` (e.g. `{"chat":{"idle_timeout":"15m"}}`);
    /// `@-` reads them from standard input (not with `replay -`; a file named `-`: `@./-`).
    #[arg(long, value_name = "JSON|@FILE", value_parser = overrides)]
    policy_overrides: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SummaryFormat {
    /// A table for people.
    Table,
    /// One JSON object, for scripts.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum InputFormat {
    /// One wire-format event per line.
    Wire,
    /// One Meta Cloud API webhook body per line (as received, on one line); a line with a
    /// `type` key is a wire event (registrations, sends) and is fed as such.
    MetaWebhook,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// The event log, one JSON event per line; `-` reads standard input. Blank lines and
    /// lines starting with `//` are skipped.
    #[arg(value_parser = named_file)]
    file: String,
    /// What each line of FILE is.
    #[arg(long, value_enum, default_value = "wire")]
    format: InputFormat,
    /// With `--format meta-webhook`: the business of a WhatsApp Business Account id, for
    /// template and account webhooks (which name only the WABA). Repeatable. Without it, a
    /// WABA maps to the business of the same name, else to the only business.
    #[arg(long, value_name = "WABA_ID=BUSINESS")]
    waba_business: Vec<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Load the engine from this snapshot before (if it exists) and save it after, atomically.
    /// Nothing is written when the replay fails.
    #[arg(long, value_name = "STATE", value_parser = written_path)]
    state: Option<PathBuf>,
    /// Print a summary: sends allowed and refused by reason, chats, tickets, template
    /// changes, limit usage, charges. Output lines are then only written with --out.
    #[arg(long)]
    summary: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value = "table", requires = "summary")]
    summary_format: SummaryFormat,
    /// Write the output lines to this file (`-`: standard output, the default without --summary).
    #[arg(long, value_name = "FILE", value_parser = named_file)]
    out: Option<String>,
    /// Report malformed lines on standard error, answer them with an `error` line and go on
    /// (the exit code stays 0; the summary counts them as skipped lines).
    #[arg(long)]
    keep_going: bool,
}

#[derive(Debug, Args)]
// The policy flags as `replay` has them, less what only `replay` reads (a saved state,
// standard input): `simulate` reads neither.
#[command(mut_arg("policy", |a| a.help(
    "Rule set: `classic`, `cloud-2025` or `cloud-2026-10` [default: cloud-2025]"
)))]
#[command(mut_arg("policy_overrides", |a| a.help(
    "Overrides merged over the policy, as JSON or `@FILE` (e.g. \
     `{\"chat\":{\"idle_timeout\":\"15m\"}}`); `@-` reads them from standard input"
)))]
struct SimulateArgs {
    /// Businesses, each with two numbers and three templates (1 to 100,000).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    businesses: u32,
    /// Contacts, spread over the businesses (at most 10 million: all are held in memory).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(..=10_000_000))]
    contacts: u32,
    /// Days of traffic (at most 3,650, ten years from 2026-11-02).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(..=3_650))]
    days: u32,
    /// Seed: the same seed gives the same traffic and the same summary.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Summary format.
    #[arg(long, value_enum, default_value = "table")]
    summary_format: SummaryFormat,
    /// Also write the generated events to this file, to replay them later.
    #[arg(long, value_name = "FILE", value_parser = written_path)]
    write_events: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// A snapshot written by `convstate replay --state`.
    #[arg(value_parser = file_path)]
    state: PathBuf,
    /// A contact's conversation with --number.
    #[arg(long, value_name = "CONTACT", requires = "number")]
    contact: Option<String>,
    /// A number's registration and counters (or, with --contact, the conversation).
    #[arg(long, value_name = "NUMBER")]
    number: Option<String>,
    /// A template's status and quality (needs --business).
    #[arg(long, value_name = "NAME", requires = "business", conflicts_with_all = ["contact", "number"])]
    template: Option<String>,
    /// The template's business.
    #[arg(long, value_name = "BUSINESS", requires = "template")]
    business: Option<String>,
    /// The template's language.
    #[arg(long, value_name = "LANG", default_value = "en", requires = "template")]
    language: String,
    /// Show the view as of this instant, the state's clock or later: the conversation's
    /// window, the number's flag and restriction, the template's status (RFC 3339, or integer
    /// unix milliseconds; years 1970 to 9999) [default: the state's clock].
    #[arg(long, value_name = "INSTANT", allow_negative_numbers = true)]
    at: Option<String>,
}

/// A file argument, `-` (standard input or output) or a path. An empty one names no file:
/// it was refused only when opened, as `cannot open : No such file or directory`, naming
/// neither the argument nor what was wrong (a state's, after the whole replay).
fn named_file(path: &str) -> Result<String, String> {
    match path {
        "" => Err("an empty path names no file".into()),
        path => Ok(path.to_owned()),
    }
}

/// `--policy-overrides`: JSON, or `@` and a file (`@-`: standard input).
fn overrides(text: &str) -> Result<String, String> {
    match text {
        "@" => Err("`@` names no file: `@FILE`, or `@-` for standard input".into()),
        text => Ok(text.to_owned()),
    }
}

/// A path to a file the command reads or writes in place (a state, `--write-events`). `-`
/// is refused: elsewhere it means standard input or output, here it made a file named `-`.
fn file_path(path: &str) -> Result<PathBuf, String> {
    named_file(path)?;
    if path == "-" {
        return Err(
            "`-` is not a file here (a state is read and written in place; \
                    standard input and output are not); a file named `-`: `./-`"
                .into(),
        );
    }
    Ok(PathBuf::from(path))
}

/// [`file_path`] for a file the command writes (a state it saves, `--write-events`): a
/// name of standard input or output is no such file either. Created as one, standard
/// output was emptied and written from its own position, over the summary.
fn written_path(path: &str) -> Result<PathBuf, String> {
    let file = file_path(path)?;
    if reads_standard_input(path) || writes_standard_output(path) {
        return Err(format!(
            "{path} is standard input or output, not a file (a state is read and written in \
             place; standard output holds the command's summary)"
        ));
    }
    Ok(file)
}

fn main() -> ExitCode {
    let cli =
        match Cli::try_parse() {
            Ok(cli) => cli,
            Err(e) if e.use_stderr() => e.exit(),
            // `--help` and `--version` are the command's output: clap's own exit leaves a failed
            // write of them untold (`--help > /dev/full` exited 0).
            Err(e) => {
                return finish(e.print().and_then(|()| std::io::stdout().flush()).map_err(
                    |source| CliError::Io {
                        what: "cannot write",
                        path: STDOUT_NAME.into(),
                        source,
                    },
                ))
            }
        };
    finish(match cli.command {
        Command::Replay(args) => run_replay(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Business(command) => business::run(&command),
    })
}

/// The exit code of a command's result, with its error reported.
fn finish(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of the output went away (`convstate replay ... | head`): stop quietly,
        // with the status of a tool stopped by SIGPIPE, and save no state.
        Err(error) if error.is_closed_output() => ExitCode::from(EXIT_CLOSED_OUTPUT),
        Err(error) => {
            report(format_args!("convstate: error: {error}"));
            ExitCode::from(error.exit_code())
        }
    }
}

impl PolicyArgs {
    /// The policy the arguments ask for; `None` when they name none (use the default or the
    /// saved state's). Overrides without `--policy` are merged over `preset` (the saved
    /// state's, which is the default there).
    fn requested(&self, preset: &str) -> Result<Option<Policy>, CliError> {
        if self.policy.is_none() && self.policy_overrides.is_none() {
            return Ok(None);
        }
        let name = self.policy.as_deref().unwrap_or(preset);
        // A file's name, for the reader to find what it gave: in its problems as JSON and in
        // those of the policy it makes, which named no file.
        let source = match self
            .policy_overrides
            .as_deref()
            .and_then(|t| t.strip_prefix('@'))
        {
            Some(path) => format!(" {}:", input_name(path)),
            None => String::new(),
        };
        let policy = match &self.policy_overrides {
            None => Policy::preset(name),
            Some(text) => {
                let json = match text.strip_prefix('@') {
                    Some(path) => {
                        let read = match path {
                            "-" => read_overrides(std::io::stdin().lock()),
                            path => std::fs::File::open(path).and_then(read_overrides),
                        };
                        match read.map_err(|e| {
                            CliError::Usage(format!(
                                "--policy-overrides: cannot read {}: {e}",
                                input_name(path)
                            ))
                        })? {
                            Some(json) => json,
                            None => {
                                return Err(CliError::Usage(format!(
                                    "--policy-overrides:{source} longer than {MAX_LINE_BYTES} \
                                     bytes, the limit of one input line (overrides are a \
                                     policy's fields, a few kilobytes)"
                                )))
                            }
                        }
                    }
                    None => text.clone(),
                };
                let overrides = convstate::policy::overrides_from_json(&json).map_err(|e| {
                    let problem = match e {
                        convstate::Error::InvalidPolicy { problem } => problem,
                        other => other.to_string(),
                    };
                    CliError::Usage(format!("--policy-overrides:{source} {problem}"))
                })?;
                Policy::with_overrides(name, &overrides)
            }
        };
        // An unknown preset is --policy's fault; anything else the overrides' (their file's).
        let (flag, source) = match &policy {
            Err(convstate::Error::UnknownPolicy { .. }) | Ok(_) => ("--policy", ""),
            Err(_) => ("--policy-overrides", source.as_str()),
        };
        policy
            .map(Some)
            .map_err(|e| CliError::Usage(format!("{flag}:{source} {e}")))
    }

    /// The policy to start a new engine with.
    fn or_default(&self) -> Result<Policy, CliError> {
        or_default(self.requested(DEFAULT_POLICY)?)
    }

    /// Whether the overrides are read from standard input (`@-`, or `@/dev/stdin`).
    fn overrides_from_stdin(&self) -> bool {
        self.policy_overrides
            .as_deref()
            .and_then(|text| text.strip_prefix('@'))
            .is_some_and(reads_standard_input)
    }
}

/// The text of an overrides file, or `None` past [`MAX_LINE_BYTES`]: read whole, an event
/// log given by mistake was held in memory to its last byte, and `/dev/zero` until the
/// machine ran out of it.
fn read_overrides(input: impl std::io::Read) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    input
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_LINE_BYTES {
        return Ok(None);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// `requested`, or the default policy when it is `None`. (The arguments are read once:
/// overrides from standard input cannot be read a second time.)
fn or_default(requested: Option<Policy>) -> Result<Policy, CliError> {
    match requested {
        Some(policy) => Ok(policy),
        None => Policy::preset(DEFAULT_POLICY).map_err(|e| CliError::Usage(e.to_string())),
    }
}

const DEFAULT_POLICY: &str = "cloud-2025";

fn print_summary(summary: &Summary, format: SummaryFormat) -> Result<(), CliError> {
    let text = match format {
        SummaryFormat::Table => summary.to_table(),
        SummaryFormat::Json => {
            let mut json =
                serde_json::to_string_pretty(summary).expect("summaries serialise infallibly");
            json.push('\n');
            json
        }
    };
    write_stdout(text.as_bytes())
}

/// Writes all of `bytes` to standard output.
fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|source| CliError::Io {
            what: "cannot write",
            path: STDOUT_NAME.into(),
            source,
        })
}

/// The engine a replay starts from: the saved state if there is one, else a new engine.
fn starting_engine(args: &ReplayArgs) -> Result<Engine, CliError> {
    let saved = match &args.state {
        Some(path) => state::load(path)?,
        None => None,
    };
    let preset = saved
        .as_ref()
        .map_or(DEFAULT_POLICY, |engine| &engine.policy().name);
    let requested = args.policy.requested(preset)?;
    if let (None, Some(path)) = (&saved, &args.state) {
        state::check_directory(path)?;
    }
    match (saved, requested) {
        (Some(engine), Some(policy)) if engine.policy() != &policy => {
            Err(CliError::Usage(format!(
                "the state {} was saved under policy {:?} and the command line asks for \
                 another ({}); drop --policy/--policy-overrides or start a new state file",
                args.state.as_deref().unwrap_or(Path::new("")).display(),
                engine.policy().name,
                engine.policy().differences(&policy, ("saved", "asked"))
            )))
        }
        (Some(engine), _) => Ok(engine),
        (None, requested) => Ok(Engine::new(or_default(requested)?)),
    }
}

fn run_replay(args: &ReplayArgs) -> Result<(), CliError> {
    if !args.waba_business.is_empty() && !matches!(args.format, InputFormat::MetaWebhook) {
        return Err(CliError::Usage(
            "--waba-business maps webhook payloads: it needs --format meta-webhook".to_owned(),
        ));
    }
    let mut reader = convstate::webhook::WebhookReader::new();
    for mapping in &args.waba_business {
        let (waba, business) = mapping.split_once('=').ok_or_else(|| {
            CliError::Usage(format!(
                "--waba-business: expected WABA_ID=BUSINESS, got {mapping:?}"
            ))
        })?;
        // The core's rule, as every binding maps: both named, and one business a WABA (two
        // for one WABA is a typo, not a choice the last one should win).
        reader.map_business(waba, business).map_err(|e| match e {
            convstate::Error::InvalidEvent { problem } => {
                CliError::Usage(format!("--waba-business: {problem}"))
            }
            other => CliError::Usage(format!("--waba-business: {other}")),
        })?;
    }
    if reads_standard_input(&args.file) && args.policy.overrides_from_stdin() {
        let overrides = args.policy.policy_overrides.as_deref().unwrap_or_default();
        return Err(CliError::Usage(format!(
            "--policy-overrides {overrides} and the event log {} both read standard input \
             ({STDIN_NAME}); give the overrides as JSON or @FILE, or the event log as a file",
            args.file
        )));
    }
    refuse_overwriting_inputs(args)?;
    let _hold = args.state.as_deref().map(state::hold).transpose()?;
    let mut replayer = Replayer::new(starting_engine(args)?);
    // A resumed run whose log starts before the saved clock is most often a log replayed into
    // this state a second time: its inputs are taken as late ones, applied at the clock
    // (sends denied as duplicates, a late webhook's way), and nothing else would say so.
    replayer.oddities = Oddities::new(
        (args.state.as_ref()).map(|path| (path.display().to_string(), replayer.engine.clock())),
    );
    let source_name = input_name(&args.file).to_owned();
    let mut input: Box<dyn BufRead> = if args.file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let cannot_open = |source| CliError::Io {
            what: "cannot open",
            path: args.file.clone(),
            source,
        };
        let file = std::fs::File::open(&args.file).map_err(cannot_open)?;
        // A directory opens on Unix and fails at the first read, which would blame line 1.
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(cannot_open(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a directory",
            )));
        }
        Box::new(std::io::BufReader::new(file))
    };
    let out_path = match (&args.out, args.summary) {
        // Standard output by another name is standard output: opened as a file, the summary
        // written after the lines landed over them.
        (Some(path), _) if writes_standard_output(path) => Some("-"),
        (Some(path), _) => Some(path.as_str()),
        (None, false) => Some("-"),
        (None, true) => None,
    };
    let mut out: Option<Box<dyn Write>> = match out_path {
        None => None,
        Some("-") => Some(Box::new(BufWriter::new(std::io::stdout().lock()))),
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|source| CliError::Io {
                what: "cannot create",
                path: path.to_owned(),
                source,
            })?;
            Some(Box::new(BufWriter::new(file)))
        }
    };
    let write_error = |source| CliError::Io {
        what: "cannot write",
        path: match out_path {
            Some("-") | None => STDOUT_NAME,
            Some(path) => path,
        }
        .to_owned(),
        source,
    };
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    // An input that cannot be read (standard input redirected from a directory fails its
    // first read with EISDIR; a disk error, later) is the input's fault, not a line's: it is
    // named with the OS error, like a file that cannot be opened.
    let read_error = |source| CliError::Io {
        what: "cannot read",
        path: source_name.clone(),
        source,
    };
    for line_number in 1u64.. {
        let too_long = match input::read_line(&mut input, &mut buf, MAX_LINE_BYTES) {
            Ok(input::Line::End) => break,
            Ok(input::Line::Read) => false,
            Ok(input::Line::TooLong) => true,
            Err(e) => return Err(read_error(e)),
        };
        let bytes = buf.strip_suffix(b"\r").unwrap_or(&buf);
        let bytes = match line_number {
            1 => convstate::wire::strip_byte_order_mark(bytes),
            _ => bytes,
        };
        lines.clear();
        replayer.line = line_number;
        // A line that is not UTF-8, or too long to hold, is malformed like any other: with
        // --keep-going it gets an error line and the replay goes on.
        let fed = match convstate::wire::line_text(bytes) {
            _ if too_long => Err(Malformed::from(convstate::Error::InvalidEvent {
                problem: format!(
                    "line is longer than {MAX_LINE_BYTES} bytes, the limit of one input line"
                ),
            })),
            Ok(line) if convstate::wire::is_skippable(line) => continue,
            Ok(line) => match args.format {
                InputFormat::Wire => replayer.feed(line, &mut lines),
                InputFormat::MetaWebhook => replayer.feed_webhook(line, &reader, &mut lines),
            },
            Err(error) => Err(error.into()),
        };
        if too_long && args.keep_going {
            input::skip_rest_of_line(&mut input).map_err(read_error)?;
        }
        for oddity in replayer.oddities.take() {
            report(format_args!(
                "convstate: warning: {source_name}:{line_number}: {oddity}"
            ));
        }
        if let Err(mut malformed) = fed {
            // The reader learns the input's encoding is at fault, not this line's JSON (the
            // error line keeps the core's words, as every door gives them).
            if let Some(hint) = input::encoding_hint(bytes, line_number == 1).filter(|_| !too_long)
            {
                malformed.problem = format!("{}; {hint}", malformed.problem);
            }
            if !args.keep_going {
                if let Some(out) = out.as_mut() {
                    out.flush().map_err(write_error)?;
                }
                return Err(CliError::MalformedLine {
                    source_name,
                    line: line_number,
                    problem: malformed.problem,
                });
            }
            report(format_args!(
                "convstate: warning: {source_name}:{line_number}: {} (skipped)",
                malformed.problem
            ));
            lines.push(replayer.skip_malformed(&malformed));
        }
        if let Some(out) = out.as_mut() {
            for output in &lines {
                out.write_all(output.as_bytes()).map_err(write_error)?;
                out.write_all(b"\n").map_err(write_error)?;
            }
        }
    }
    if let Some(mut out) = out {
        out.flush().map_err(write_error)?;
    }
    // The summary before the state, as the output lines before it: a reader gone before the
    // summary was written stops the run with no state saved, as exit status 141 says
    // (saved first, the state counted the run though the status said it did not, and a
    // script that ran it again replayed the log twice). A state that cannot be saved after
    // the summary is exit status 3, which says the run did not count.
    if args.summary {
        print_summary(&replayer.summary, args.summary_format)?;
    }
    if let Some(path) = &args.state {
        state::save(path, &replayer.engine)?;
    }
    Ok(())
}

/// Refuses an `--out` that names the input, the `--state` file or the policy overrides'
/// file: it is created (emptied) before they are read, and the state is saved over it.
fn refuse_overwriting_inputs(args: &ReplayArgs) -> Result<(), CliError> {
    let Some(out) = args.out.as_deref().filter(|out| *out != "-") else {
        return Ok(());
    };
    let out_path = Path::new(out);
    // `-` is standard input, which may be the very file `--out` names (`< log`): creating
    // the output would empty it before it is read. `/dev/stdin` names what it reads.
    let input = match args.file.as_str() {
        "-" => Path::new("/dev/stdin"),
        file => Path::new(file),
    };
    if same_file(input, out_path) {
        return Err(CliError::Usage(format!(
            "--out {out} is the input file itself"
        )));
    }
    if let Some(state) = args.state.as_deref().filter(|s| same_file(s, out_path)) {
        return Err(CliError::Usage(format!(
            "--out {out} is the --state file {}",
            state.display()
        )));
    }
    args.policy.refuse_writing_over_overrides("--out", out_path)
}

impl PolicyArgs {
    /// Refuses an output file (`flag`) that is the `--policy-overrides @FILE` file.
    fn refuse_writing_over_overrides(&self, flag: &str, out: &Path) -> Result<(), CliError> {
        let overrides = self.policy_overrides.as_deref();
        // `@-` is standard input, not a file named `-`.
        match overrides.and_then(|text| text.strip_prefix('@')) {
            Some(file) if file != "-" && same_file(Path::new(file), out) => {
                Err(CliError::Usage(format!(
                    "{flag} {} is the --policy-overrides file {file}",
                    out.display()
                )))
            }
            _ => Ok(()),
        }
    }
}

/// Whether progress bars may be drawn: only for a person watching.
fn interactive() -> bool {
    std::io::stdout().is_terminal()
}
