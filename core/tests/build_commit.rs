//! The commit a build names (`BUILD_COMMIT`) is the checkout's, as `git` tells it now: the
//! build script reruns when what names the checkout's HEAD changes (`HEAD`, its log, the
//! branch refs), so a commit or a checkout between two test runs is seen.

use std::process::Command;

/// What the build script finds: the packager's variable, else git's HEAD, else `unknown`.
fn expected() -> String {
    if let Ok(given) = std::env::var("CONVSTATE_BUILD_COMMIT") {
        if !given.is_empty() {
            return given;
        }
    }
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8(out.stdout).unwrap().trim().to_owned());
    head.unwrap_or_else(|| "unknown".to_owned())
}

#[test]
fn the_build_names_the_commit_it_was_built_from() {
    assert_eq!(convstate::BUILD_COMMIT, expected());
    assert_eq!(
        convstate::VERSION_AND_COMMIT,
        format!("{} ({})", env!("CARGO_PKG_VERSION"), expected())
    );
    assert_eq!(
        convstate::BUILD_COMMIT_NUL,
        format!("{}\0", convstate::BUILD_COMMIT)
    );
}
