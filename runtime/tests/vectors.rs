//! The committed test vectors in `docs/vectors/` match the code. A failure
//! here means a frozen format changed: that is a breaking change for every
//! independent verifier. Regenerate only on purpose, with
//! `cargo run -p pantheon-runtime --example vectors -- docs/vectors`.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::Path;

#[test]
fn committed_vectors_match_the_code() {
    // At run time, not `env!`: a test binary reused from another checkout
    // sharing the target directory would read that checkout's files.
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let dir = Path::new(&root).join("../docs/vectors");
    for file in pantheon_runtime::vectors::generate() {
        let path = dir.join(format!("{}.json", file.name));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let committed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            committed == file.json,
            "{} differs from the code: a frozen format changed",
            path.display()
        );
    }
}
