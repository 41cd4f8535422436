//! Writes the test vectors to a directory: `cargo run -p pantheon-runtime
//! --example vectors -- docs/vectors`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "docs/vectors".into()),
    );
    std::fs::create_dir_all(&dir)?;
    for file in pantheon_runtime::vectors::generate() {
        let mut text = serde_json::to_string_pretty(&file.json).map_err(std::io::Error::other)?;
        text.push('\n');
        std::fs::write(dir.join(format!("{}.json", file.name)), text)?;
    }
    Ok(())
}
