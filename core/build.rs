//! Records the commit the library is built from, so that builds of different commits tell
//! themselves apart (`convstate::BUILD_COMMIT`, which the CLI's `--version`, the C library's
//! `convstate_build_commit` and the Python package's `build_commit` give): the
//! `CONVSTATE_BUILD_COMMIT` environment variable when a packager sets it (empty counts as
//! unset); else, in the project's own git checkout, `git rev-parse --short=12 HEAD` (the
//! commit checked out: local changes are not marked); else, in a packaged crate, the commit
//! `cargo package` recorded in `.cargo_vcs_info.json`; else `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CONVSTATE_BUILD_COMMIT");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let given = std::env::var("CONVSTATE_BUILD_COMMIT")
        .ok()
        .filter(|given| !given.is_empty());
    let commit = match given {
        Some(given) if is_commit_name(&given) => given,
        Some(given) => panic!(
            "CONVSTATE_BUILD_COMMIT is {given:?}: give 1 to 64 letters, digits, '.', '-', '_' or '+'"
        ),
        None => git_head(&dir)
            .or_else(|| packaged_commit(&dir))
            .unwrap_or_else(|| "unknown".to_owned()),
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

/// The commit checked out, when `dir` is this project's own checkout (the crate's parent is
/// the repository's top level: a packaged or vendored copy inside another project's
/// repository is not), watching what changes when it moves: `HEAD`, its log, the branch
/// refs and their packed file, or a reftable. (A reflog entry that moves nothing, as a
/// checkout of the branch already out, reruns this for nothing.)
fn git_head(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
    };
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    let ours = dir.parent()?;
    if top.canonicalize().ok()? != ours.canonicalize().ok()? {
        return None;
    }
    for watched in ["HEAD", "logs/HEAD", "refs/heads", "packed-refs", "reftable"] {
        if let Some(path) = git(&["rev-parse", "--git-path", watched]) {
            let path = dir.join(Path::new(&path));
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    git(&["rev-parse", "--short=12", "HEAD"]).filter(|c| is_commit_name(c))
}

/// The commit `cargo package` recorded for a packaged crate (`"sha1"` in
/// `.cargo_vcs_info.json`), shortened as git's.
fn packaged_commit(dir: &Path) -> Option<String> {
    let info = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let sha1 = info.split("\"sha1\"").nth(1)?.split('"').nth(1)?;
    let short = sha1.get(..12)?;
    is_commit_name(short).then(|| short.to_owned())
}
