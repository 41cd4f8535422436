//! The anchoring node's Bitcoin key: one secp256k1 key, spent as P2WPKH.
//!
//! The key file holds the 32-byte secret as 64 lower-case hex digits and a
//! newline, nothing else. Hex, rather than WIF, because one file serves every
//! network (the address is derived per [`Network`]); [`AnchorKey::to_wif`]
//! and [`AnchorKey::descriptor`] export it for a wallet when the coins must be
//! recovered. Loading also accepts a WIF string, for importing an existing
//! key.
//!
//! The file is created with mode 0600 (`create_new`, so an existing key is
//! never overwritten), written, fsynced, and its directory fsynced.

use std::fs;
use std::path::{Path, PathBuf};

use bitcoin::secp256k1::{self, All, Secp256k1, SecretKey};
use bitcoin::{Address, CompressedPublicKey, Network, PrivateKey, ScriptBuf};

/// Key file errors.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read, created or written.
    #[error("anchor key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not hold a secp256k1 secret in hex or WIF.
    #[error("anchor key file {path}: {reason}")]
    Invalid {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The operating system gave no randomness.
    #[error("no randomness for a new anchor key: {0}")]
    Random(String),
}

/// The anchoring node's key.
#[derive(Clone)]
pub struct AnchorKey {
    secret: SecretKey,
    public: CompressedPublicKey,
    secp: Secp256k1<All>,
}

impl std::fmt::Debug for AnchorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnchorKey")
            .field("public", &self.public.to_string())
            .finish_non_exhaustive()
    }
}

impl AnchorKey {
    /// Wraps a secret key.
    #[must_use]
    pub fn from_secret(secret: SecretKey) -> Self {
        let secp = Secp256k1::new();
        let public = CompressedPublicKey(secret.public_key(&secp));
        Self {
            secret,
            public,
            secp,
        }
    }

    /// A fresh key from the operating system's randomness.
    ///
    /// # Errors
    /// [`KeyError::Random`] when no randomness is available.
    pub fn generate() -> Result<Self, KeyError> {
        loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
            // Fails only for zero or values >= the group order (p ~ 2^-128).
            if let Ok(secret) = SecretKey::from_slice(&bytes) {
                return Ok(Self::from_secret(secret));
            }
        }
    }

    /// Loads the key at `path`, or creates it (mode 0600) if the file does
    /// not exist.
    ///
    /// # Errors
    /// [`KeyError`] when the file cannot be read or created, or does not
    /// hold a key.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        match Self::load(path) {
            Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                match key.write_new(path) {
                    Ok(()) => {
                        tracing::info!(target: "pantheon::anchor", path = %path.display(), "created anchor key");
                        Ok(key)
                    }
                    // Another process created it in between: use theirs.
                    Err(KeyError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        Self::load(path)
                    }
                    Err(e) => Err(e),
                }
            }
            other => other,
        }
    }

    /// Loads the key at `path` (hex secret or WIF, surrounding whitespace
    /// ignored).
    ///
    /// # Errors
    /// [`KeyError`] when the file cannot be read or does not hold a key.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = fs::read_to_string(path).map_err(io)?;
        warn_if_readable_by_others(path);
        Self::parse(text.trim()).map_err(|reason| KeyError::Invalid {
            path: path.to_path_buf(),
            reason,
        })
    }

    fn parse(text: &str) -> Result<Self, String> {
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes: [u8; 32] = pantheon_runtime::hash::decode_hex_array(text)
                .map_err(|e| format!("bad hex secret: {e}"))?;
            let secret = SecretKey::from_slice(&bytes)
                .map_err(|e| format!("not a secp256k1 secret: {e}"))?;
            return Ok(Self::from_secret(secret));
        }
        let wif = PrivateKey::from_wif(text)
            .map_err(|_| "expected 64 hex digits or a WIF private key".to_owned())?;
        if !wif.compressed {
            return Err("uncompressed WIF keys cannot be spent as P2WPKH".to_owned());
        }
        Ok(Self::from_secret(wif.inner))
    }

    /// Writes the key to a new file at `path` with mode 0600.
    ///
    /// # Errors
    /// [`KeyError::Io`], with kind `AlreadyExists` if the file exists.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let text = format!("{}\n", hex::encode(self.secret.secret_bytes()));
        crate::fsio::create_private(path, text.as_bytes()).map_err(io)
    }

    /// The compressed public key.
    #[must_use]
    pub const fn public_key(&self) -> CompressedPublicKey {
        self.public
    }

    /// The P2WPKH address on `network`.
    #[must_use]
    pub fn address(&self, network: Network) -> Address {
        Address::p2wpkh(&self.public, network)
    }

    /// The P2WPKH output script (the same on every network).
    #[must_use]
    pub fn script_pubkey(&self) -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&self.public.wpubkey_hash())
    }

    /// The secret as WIF for `network` (for recovering coins with a wallet).
    #[must_use]
    pub fn to_wif(&self, network: Network) -> String {
        PrivateKey::new(self.secret, network).to_wif()
    }

    /// The output descriptor `wpkh(<WIF>)` with its checksum omitted, for
    /// `importdescriptors` in a Bitcoin Core wallet.
    #[must_use]
    pub fn descriptor(&self, network: Network) -> String {
        format!("wpkh({})", self.to_wif(network))
    }

    pub(crate) fn secret(&self) -> &SecretKey {
        &self.secret
    }

    pub(crate) fn secp(&self) -> &Secp256k1<All> {
        &self.secp
    }

    pub(crate) fn public_secp(&self) -> secp256k1::PublicKey {
        self.public.0
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                target: "pantheon::anchor",
                path = %path.display(),
                mode = format!("{mode:o}"),
                "anchor key file is readable by other users; chmod 600 it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_with_mode_0600_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("bitcoin.key");
        let key = AnchorKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65);
        assert!(text.ends_with('\n'));
        let again = AnchorKey::load_or_create(&path).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        // Never overwritten.
        assert!(key.write_new(&path).is_err());
    }

    #[test]
    fn addresses_per_network_and_wif_import() {
        let secret = SecretKey::from_slice(&[0x11; 32]).unwrap();
        let key = AnchorKey::from_secret(secret);
        assert!(
            key.address(Network::Regtest)
                .to_string()
                .starts_with("bcrt1q")
        );
        assert!(
            key.address(Network::Testnet4)
                .to_string()
                .starts_with("tb1q")
        );
        assert!(key.address(Network::Signet).to_string().starts_with("tb1q"));
        assert!(
            key.address(Network::Bitcoin)
                .to_string()
                .starts_with("bc1q")
        );
        assert_eq!(
            key.address(Network::Regtest).script_pubkey(),
            key.script_pubkey()
        );
        let wif = key.to_wif(Network::Testnet4);
        let imported = AnchorKey::parse(&wif).unwrap();
        assert_eq!(imported.public_key(), key.public_key());
        assert!(key.descriptor(Network::Bitcoin).starts_with("wpkh(K"));
    }

    #[test]
    fn rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bitcoin.key");
        fs::write(&path, "not a key\n").unwrap();
        assert!(matches!(
            AnchorKey::load(&path),
            Err(KeyError::Invalid { .. })
        ));
        fs::write(&path, format!("{}\n", "00".repeat(32))).unwrap();
        assert!(matches!(
            AnchorKey::load(&path),
            Err(KeyError::Invalid { .. })
        ));
    }
}
