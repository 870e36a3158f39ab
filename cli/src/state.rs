//! Loading and saving the engine's snapshot for `--state`, and writing any file that must
//! not be left half-written.
//!
//! Saving writes a temporary file in the same directory, flushes it to disk, renames it
//! over the target and flushes the directory: a rename within one file system is atomic, so
//! a crash leaves either the old snapshot or the new one, never half of one, and once the
//! save returns the new one stays.

use std::io::Write;
use std::path::Path;

use convstate::Engine;

use crate::error::CliError;
use crate::paths::{directory_of, resolved};

fn state_error(path: &Path, problem: impl std::fmt::Display) -> CliError {
    CliError::State {
        path: path.to_owned(),
        problem: problem.to_string(),
    }
}

/// A command's hold on a state file, from loading it to saving it. Two runs on one file (two
/// scheduled replays, a replay and a `business import`) would each load the same saved state,
/// and the later save would drop the other's events; the second is refused instead.
///
/// The hold is an exclusive lock on a hidden file beside the state, `.NAME.lock` (each save
/// replaces the state file itself, which a lock on it would not outlive). The operating
/// system lets go of it when the process ends, a crash included, so no stale lock is ever left
/// to remove. The empty lock file stays: removed at the end of a run, a run that had opened it
/// meanwhile would lock a file no longer there while a third locked its replacement.
#[must_use = "the state is held only while the Hold lives"]
pub struct Hold {
    _lock: Option<std::fs::File>,
}

/// Holds the state file at `path` (which may not exist yet) for this run, or says which other
/// run holds it. A device or named pipe is not held: it is no saved state, which loading says.
pub fn hold(path: &Path) -> Result<Hold, CliError> {
    let target = resolved(path);
    if std::fs::metadata(&target).is_ok_and(|m| !m.is_file()) {
        return Ok(Hold { _lock: None });
    }
    check_directory(path)?;
    let mut name = std::ffi::OsString::from(".");
    name.push(target.file_name().unwrap_or_default());
    name.push(".lock");
    let lock_path = directory_of(&target).join(name);
    let shown = lock_path.display();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| state_error(path, format!("cannot open the lock file {shown}: {e}")))?;
    match file.try_lock() {
        Ok(()) => Ok(Hold { _lock: Some(file) }),
        Err(std::fs::TryLockError::WouldBlock) => Err(state_error(
            path,
            format!(
                "in use by another convstate run (it holds {shown}); run this one when it \
                 has finished, or give each run its own state file"
            ),
        )),
        // A file system without locks (some network mounts) cannot guard the file; the run
        // goes on as it did before there were locks.
        Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            Ok(Hold { _lock: None })
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(state_error(path, format!("cannot lock {shown}: {e}")))
        }
    }
}

/// Holds the state file at `path`, which must exist: a mistyped name is refused before a lock
/// file is made beside it.
pub fn hold_existing(path: &Path) -> Result<Hold, CliError> {
    if std::fs::metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
        return Err(no_such_file(path));
    }
    hold(path)
}

fn no_such_file(path: &Path) -> CliError {
    state_error(path, "no such file")
}

/// Restores the engine saved at `path`, or `None` when the file does not exist yet.
pub fn load(path: &Path) -> Result<Option<Engine>, CliError> {
    let bytes = match crate::paths::read_data_file(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(state_error(path, format!("cannot read: {e}"))),
    };
    // Saves are atomic, so an empty file is no state cut short: something else made it
    // (`mktemp`, `touch`, a stray `> state.json`). Said so, not with the parser's "EOF while
    // parsing a value at line 1 column 0"; it is not taken for a new state, which a truncated
    // copy would then silently restart.
    if bytes.is_empty() {
        return Err(state_error(
            path,
            "the file is empty (0 bytes), not a saved state; `replay --state` and \
             `business import` create a state file that does not exist, so remove it to \
             start a new one",
        ));
    }
    Engine::restore(&bytes)
        .map(Some)
        .map_err(|e| state_error(path, e))
}

/// Refuses a state file that could not be saved because its directory does not exist,
/// before a replay runs to its end only to fail there.
pub fn check_directory(path: &Path) -> Result<(), CliError> {
    match names_directory(path).or_else(|| missing_directory(&resolved(path))) {
        Some(e) => Err(state_error(path, e)),
        None => Ok(()),
    }
}

/// The refusal of a path whose last part is no file name (`states/`, `states/.`): it names a
/// directory, and resolving it dropped that part, so that the file `states` was written,
/// which the same path could not read back (`Not a directory`).
fn names_directory(path: &Path) -> Option<std::io::Error> {
    let bytes = path.as_os_str().as_encoded_bytes();
    let last = bytes
        .rsplit(|&b| std::path::is_separator(char::from(b)))
        .next()
        .unwrap_or_default();
    matches!(last, b"" | b"." | b"..").then(|| {
        std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "the path names a directory, not a file",
        )
    })
}

/// The refusal of a file (resolved) whose directory does not exist, naming the directory as
/// given: the temporary file's own error named the temporary file, a random name in it.
fn missing_directory(target: &Path) -> Option<std::io::Error> {
    let directory = directory_of(target);
    (!directory.is_dir()).then(|| {
        let shown = directory.display();
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no directory {shown} to save it in"),
        )
    })
}

/// Restores the engine saved at `path`, which must exist.
pub fn load_existing(path: &Path) -> Result<Engine, CliError> {
    load(path)?.ok_or_else(|| no_such_file(path))
}

/// Writes the engine's snapshot to `path` atomically.
pub fn save(path: &Path, engine: &Engine) -> Result<(), CliError> {
    write_atomically(path, &engine.snapshot()).map_err(|e| state_error(path, e))
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the new one: a temporary
/// file in the same directory, flushed to disk, renamed over `path`, and the directory
/// flushed (the rename is durable when this returns). The error says which step failed.
///
/// A symbolic link is followed (even to a file not created yet): the file it names is
/// written, not the link. A device or named pipe is written in place. The file
/// keeps its permissions; a new one gets those `File::create` would give (0666 less the
/// umask), not the temporary file's 0600.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fn step(what: &'static str) -> impl Fn(std::io::Error) -> std::io::Error {
        move |e| std::io::Error::new(e.kind(), format!("{what}: {e}"))
    }
    if let Some(e) = names_directory(path) {
        return Err(e);
    }
    let target = resolved(path);
    let path = target.as_path();
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        // A device or a named pipe (`--out /dev/null`, a FIFO) is written to, not replaced:
        // renaming over it put a regular file in its place. (A directory fails to open.)
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut file| file.write_all(bytes))
            .map_err(step("cannot write"));
    }
    if let Some(e) = missing_directory(path) {
        return Err(e);
    }
    let directory = directory_of(path);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".convstate-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    // The temporary file's errors name it, a random name the user never gave: they are
    // told by their kind, with the directory, and its writes go to the file, not the wrapper.
    let temporary = builder.tempfile_in(directory).map_err(|e| {
        let (kind, shown) = (e.kind(), directory.display());
        std::io::Error::new(
            kind,
            format!("cannot create a temporary file in {shown}: {kind}"),
        )
    })?;
    if let Ok(existing) = std::fs::metadata(path) {
        temporary
            .as_file()
            .set_permissions(existing.permissions())
            .map_err(step("cannot copy the permissions"))?;
    }
    let mut file = temporary.as_file();
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(step("cannot write"))?;
    temporary
        .persist(path)
        .map_err(|e| step("cannot replace")(e.error))?;
    // The rename is on disk only once the directory is: until then a power cut may undo it
    // (or leave no file, for a new one). `business move` saves `TO` before `FROM` so that a
    // failure leaves the business in both, never in neither; unsynced, the cut could keep
    // `FROM`'s rename and lose `TO`'s.
    sync_directory(directory).map_err(step("cannot sync the directory"))
}

/// Flushes a directory's entries (a rename into it) to disk.
#[cfg(unix)]
fn sync_directory(directory: &Path) -> std::io::Result<()> {
    match std::fs::File::open(directory).and_then(|d| d.sync_all()) {
        // A file system that cannot sync a directory (EINVAL) has nothing more to flush.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Ok(()),
        result => result,
    }
}

/// Windows makes a rename durable with the file (`MoveFileEx` has no directory to sync).
#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> std::io::Result<()> {
    Ok(())
}
