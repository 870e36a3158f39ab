//! Whether two paths name one file, so that a command refuses to overwrite the file it
//! reads (`replay --out` naming the input or the state, `business export --out` the state,
//! `business move` between one state).

use std::path::Path;

/// Whether `a` and `b` name one existing file: the same inode on Unix, so that a hard link
/// or another spelling of the path counts; the same canonical path elsewhere.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_and_links_of_one_file_are_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        let other = dir.path().join("other.json");
        std::fs::write(&file, "{}").unwrap();
        std::fs::write(&other, "{}").unwrap();
        assert!(same_file(&file, &dir.path().join(".").join("state.json")));
        assert!(!same_file(&file, &other));
        assert!(!same_file(&file, &dir.path().join("missing.json")));
        #[cfg(unix)]
        {
            let link = dir.path().join("link.json");
            std::fs::hard_link(&file, &link).unwrap();
            assert!(same_file(&file, &link));
        }
    }
}
