//! The `web/` folder for the browser tests (verifier and explorer).

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
}

/// `npm ci` in `web/` if its packages are not installed (the registry's,
/// pinned by the committed lock file).
pub fn ensure_web() {
    let web = web_dir();
    if !web.join("node_modules/playwright-core").exists() {
        let s = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&web)
            .status()
            .expect("npm (Node.js 20) is needed for the browser tests");
        assert!(s.success(), "npm ci in web/ failed");
    }
}
