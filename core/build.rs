//! Records the commit the library is built from, so that builds of different commits tell
//! themselves apart (`convstate::BUILD_COMMIT`, which the CLI's `--version`, the C library's
//! `convstate_build_commit` and the Python package's `build_commit` give): the
//! `CONVSTATE_BUILD_COMMIT` environment variable when a packager sets it, else `git
//! rev-parse --short=12 HEAD` of the checkout built, else `unknown` (a build from a source
//! archive without either).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CONVSTATE_BUILD_COMMIT");
    let given = std::env::var("CONVSTATE_BUILD_COMMIT").ok();
    let commit = match given {
        Some(given) if is_commit_name(&given) => given,
        Some(given) => panic!(
            "CONVSTATE_BUILD_COMMIT is {given:?}: give 1 to 64 letters, digits, '.', '-', '_' or '+'"
        ),
        None => git_head().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=CONVSTATE_BUILD_COMMIT={commit}");
}

/// Whether `name` can stand in a version line as it is.
fn is_commit_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
}

/// The checkout's commit, watching the files that change when it moves: `HEAD` and its
/// log (appended to on every commit, checkout and reset, also when the branch's ref is
/// packed), and the branch's ref where it is a file of its own.
fn git_head() -> Option<String> {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    for watched in ["HEAD", "logs/HEAD"].into_iter().chain(branch.as_deref()) {
        if let Some(path) = git(&["rev-parse", "--git-path", watched]) {
            let path = dir.join(Path::new(&path));
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    git(&["rev-parse", "--short=12", "HEAD"]).filter(|c| is_commit_name(c))
}
