//! Key files: ML-DSA-65 seeds as PKCS#8 PEM, created with mode 0600.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};
use pantheon_runtime::crypto::{Keypair, SEED_LEN};

/// A new key from the operating system's random number generator.
pub fn generate() -> Result<Keypair> {
    let mut seed = [0u8; SEED_LEN];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(Keypair::from_seed(&seed))
}

/// Writes `key` to `path` with mode 0600. Refuses to overwrite an existing
/// file unless `force`; an overwrite is atomic (write, fsync, rename).
pub fn write(path: &Path, key: &Keypair, force: bool) -> Result<()> {
    let pem = key.to_pkcs8_pem()?;
    if path.exists() && !force {
        bail!(
            "{} exists; refusing to overwrite a key (use --force)",
            path.display()
        );
    }
    let tmp = path.with_extension("key.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Reads a key file.
pub fn read(path: &Path) -> Result<Keypair> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Keypair::from_pkcs8_pem(&pem)
        .with_context(|| format!("{} is not a Pantheon key", path.display()))
}
