//! Key files: ML-DSA-65 seeds as PKCS#8 PEM, created with mode 0600.

use std::path::Path;

use anyhow::{Context, Result, bail};
use pantheon_anchor::fsio;
use pantheon_runtime::crypto::{Keypair, SEED_LEN};

/// A new key from the operating system's random number generator.
pub fn generate() -> Result<Keypair> {
    let mut seed = [0u8; SEED_LEN];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(Keypair::from_seed(&seed))
}

/// Writes `key` to `path` with mode 0600, durably. Refuses to overwrite
/// an existing file unless `force`; an overwrite is atomic (the old key or
/// the new one, never a mix, after a crash).
pub fn write(path: &Path, key: &Keypair, force: bool) -> Result<()> {
    let pem = key.to_pkcs8_pem()?;
    let written = if force {
        fsio::write_atomic_private(path, pem.as_bytes())
    } else {
        fsio::create_private(path, pem.as_bytes())
    };
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} exists; refusing to overwrite a key (use --force)",
            path.display()
        ),
        other => other.with_context(|| format!("writing {}", path.display())),
    }
}

/// Reads a key file.
pub fn read(path: &Path) -> Result<Keypair> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Keypair::from_pkcs8_pem(&pem)
        .with_context(|| format!("{} is not a Pantheon key", path.display()))
}
