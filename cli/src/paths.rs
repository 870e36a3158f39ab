//! Which file a path names, so that a command never writes over a file it reads, and saves
//! through a symbolic link into the file the link names.

use std::path::{Path, PathBuf};

/// Whether an input argument reads the process's standard input: `-`, or one of the
/// paths that name it (a second reader of that stream would get what the first left).
pub fn reads_standard_input(file: &str) -> bool {
    matches!(file, "-" | "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0")
}

/// Whether an output argument writes the process's standard output: one of the paths that
/// name it. Created as a file, it is emptied and written from its own position, over what
/// the process writes to standard output itself (a summary).
pub fn writes_standard_output(file: &str) -> bool {
    matches!(file, "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1")
}

/// Reads a whole file the command takes as data (a state, an export), refusing a device
/// (`/dev/zero`, `/dev/urandom`): read to its end it never ends, and the command ran out
/// of memory. Pipes (`/dev/stdin`) and regular files are read as they are.
pub fn read_data_file(path: &Path) -> std::io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = std::fs::metadata(path)?.file_type();
        if kind.is_char_device() || kind.is_block_device() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "it is a device, not a file of data",
            ));
        }
    }
    std::fs::read(path)
}

/// The directory a file is in (or would be created in).
pub fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// The file `path` names, as an absolute path: symbolic links followed, also to a file not
/// created yet, which is named by its directory and name.
pub fn resolved(path: &Path) -> PathBuf {
    let mut path = path.to_owned();
    // A chain of links ends within as many steps as the kernel allows (ELOOP).
    for _ in 0..40 {
        if let Ok(real) = path.canonicalize() {
            return real;
        }
        match std::fs::read_link(&path) {
            // A relative target is relative to the link's directory; an absolute one
            // replaces it in `join`.
            Ok(target) => path = directory_of(&path).join(target),
            Err(_) => break,
        }
    }
    match (directory_of(&path).canonicalize(), path.file_name()) {
        (Ok(directory), Some(name)) => directory.join(name),
        _ => path,
    }
}

/// Whether two paths name one file, by any spelling, symbolic or hard link, whether or not
/// it exists yet (`--out s.json --state ./s.json` before either is written).
pub fn same_file(a: &Path, b: &Path) -> bool {
    existing_same_file(a, b) || resolved(a) == resolved(b)
}

/// Two existing files compared by device and inode, read with `stat`: opening a named pipe
/// to look at it (as comparing open handles does) blocks until a writer comes, so
/// `--out fifo` hung.
#[cfg(unix)]
fn existing_same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn existing_same_file(a: &Path, b: &Path) -> bool {
    same_file::is_same_file(a, b).unwrap_or(false)
}
