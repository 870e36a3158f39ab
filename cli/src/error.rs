//! The tool's failures and the exit code each one maps to.

use std::path::PathBuf;

/// Exit code: a malformed input line, an unreadable input file, an output that cannot be
/// written.
pub const EXIT_INPUT: u8 = 1;
/// Exit code: the command line is wrong (clap uses 2 for its own errors too).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the `--state` snapshot cannot be read, restored or written.
pub const EXIT_STATE: u8 = 3;
/// Exit code: the reader of the output closed it (a pipe into `head`), the status a shell
/// reports for a tool stopped by SIGPIPE (128 + 13).
pub const EXIT_CLOSED_OUTPUT: u8 = 141;

/// How messages name standard input, given as `-`.
pub const STDIN_NAME: &str = "<stdin>";
/// How messages name an input file argument: `-` is standard input.
pub fn input_name(file: &str) -> &str {
    if file == "-" {
        STDIN_NAME
    } else {
        file
    }
}

/// How messages name standard output, given as `-` or written by default.
pub const STDOUT_NAME: &str = "<stdout>";

/// Writes a message and a line break to standard error, as `eprintln!` does, except that a
/// standard error that cannot be written (`2>/dev/full`, a pipe whose reader closed it) is
/// passed over: messages are not the command's output, and `eprintln!` panicked there,
/// exiting 101 in the middle of a replay or after a move had saved both states.
pub fn report(message: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// Everything that stops a command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A line of the input that does not decode as a wire-format event.
    #[error("{source_name}:{line}: {problem}")]
    MalformedLine {
        /// File name, or [`STDIN_NAME`].
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// The field at fault and what was expected.
        problem: String,
    },
    /// An input or output file that cannot be opened, read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done (`cannot read`, `cannot write`...).
        what: &'static str,
        /// The file, or [`STDIN_NAME`] / [`STDOUT_NAME`].
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Input that is well-formed but names something that does not exist.
    #[error("{0}")]
    Data(String),
    /// A command line that parses but does not make sense.
    #[error("{0}")]
    Usage(String),
    /// The state snapshot cannot be used.
    #[error("state file {path}: {problem}")]
    State {
        /// The snapshot file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
}

impl CliError {
    /// The documented exit code of this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::MalformedLine { .. } | CliError::Io { .. } | CliError::Data(_) => EXIT_INPUT,
            CliError::Usage(_) => EXIT_USAGE,
            CliError::State { .. } => EXIT_STATE,
        }
    }

    /// Whether the command stopped because the reader of its output went away: no error
    /// worth a message, since the reader stopped on purpose.
    pub fn is_closed_output(&self) -> bool {
        matches!(self, CliError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
