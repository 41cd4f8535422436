//! What the application persists so that it can restart without
//! equivocating and can serve value sync. Files, one per object, written
//! with write-to-temp + fsync + rename (decided blocks live in the node's RocksDB store).
//!
//! ```text
//! <home>/wal/consensus.wal                  Malachite's WAL (votes, proposals, timeouts, values)
//! <home>/undecided/<height>-<hash>.block    bodies of blocks proposed or received, not yet decided
//! <home>/undecided/built-<height>-<round>   hash of the block this node proposed at (height, round)
//! <home>/undecided/<height>-<hash>-<round>-<proposer>.init
//!                                           signed `Init` part of each proposal seen (round,
//!                                           pol_round, proposer): rebuilds the `ProposedValue`s
//!                                           for `StartedRound` and allows restreaming
//! ```
//!
//! Malachite's WAL holds our signed votes and proposals and the *headers*
//! (`ProposedValue`s) of the current height; it does not hold transactions.
//! Hence the bodies must be on disk before the app replies with them, and
//! the block built for `(height, round)` must be returned again after a
//! restart (Malachite refuses to sign a different proposal for a round it
//! already signed: `ReplayDivergence`).

use std::fs;
use std::path::{Path, PathBuf};

use eyre::{Context, Result};
use pantheon_runtime::block::Block;
use pantheon_runtime::codec::{Encode, decode_exact};
use pantheon_runtime::hash::BlockHash;

use malachitebft_app_channel::app::types::codec::Codec;

use crate::consensus::codec::PantheonCodec;
use crate::consensus::context::{ProposalInit, ProposalPart};

/// The application's files under a node home.
#[derive(Debug, Clone)]
pub struct Undecided {
    undecided: PathBuf,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    pantheon_anchor::fsio::write_atomic(path, bytes)
        .with_context(|| format!("writing {}", path.display()))
}

impl Undecided {
    /// Opens (creating) the store under `home`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn open(home: &Path) -> Result<Self> {
        let s = Self {
            undecided: home.join("undecided"),
        };
        fs::create_dir_all(&s.undecided)?;
        Ok(s)
    }

    /// Persists the body of an undecided block.
    ///
    /// # Errors
    /// I/O errors.
    pub fn put_undecided(&self, block: &Block) -> Result<()> {
        let p = self.undecided.join(format!(
            "{:020}-{}.block",
            block.header.height.get(),
            block.header.hash()
        ));
        if p.exists() {
            return Ok(());
        }
        write_atomic(&p, &block.to_bytes())
    }

    /// Records that this node proposed `hash` at `(height, round)`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn put_built(&self, height: u64, round: u32, hash: BlockHash) -> Result<()> {
        write_atomic(
            &self.undecided.join(format!("built-{height:020}-{round}")),
            hash.to_string().as_bytes(),
        )
    }

    /// Persists the signed `Init` of a proposal we received.
    ///
    /// # Errors
    /// I/O errors.
    pub fn put_init(&self, init: &ProposalInit) -> Result<()> {
        let p = self.undecided.join(format!(
            "{:020}-{}-{}-{}.init",
            init.height.0.get(),
            init.header.hash(),
            init.round,
            init.proposer.0
        ));
        if p.exists() {
            return Ok(());
        }
        let bytes = PantheonCodec.encode(&ProposalPart::Init(init.clone()))?;
        write_atomic(&p, &bytes)
    }

    /// Undecided blocks, our built choices, and the proposals seen for `height`.
    ///
    /// # Errors
    /// I/O or decoding errors.
    #[allow(clippy::type_complexity)]
    pub fn undecided(
        &self,
        height: u64,
    ) -> Result<(Vec<Block>, Vec<(u32, BlockHash)>, Vec<ProposalInit>)> {
        let mut blocks = Vec::new();
        let mut built = Vec::new();
        let mut inits = Vec::new();
        let prefix = format!("{height:020}-");
        let built_prefix = format!("built-{height:020}-");
        for entry in fs::read_dir(&self.undecided)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                // A write interrupted by a crash: it never happened.
                fs::remove_file(self.undecided.join(&name))?;
                continue;
            }
            if name.starts_with(&prefix) && name.ends_with(".block") {
                let bytes = fs::read(self.undecided.join(&name))?;
                blocks.push(decode_exact(&bytes).map_err(|e| eyre::eyre!("{name}: {e}"))?);
            } else if name.starts_with(&prefix) && name.ends_with(".init") {
                let bytes = fs::read(self.undecided.join(&name))?;
                if let ProposalPart::Init(i) = PantheonCodec.decode(bytes.into())? {
                    inits.push(i);
                }
            } else if let Some(round) = name.strip_prefix(&built_prefix) {
                let round: u32 = round.parse()?;
                let text = fs::read_to_string(self.undecided.join(&name))?;
                built.push((
                    round,
                    text.trim()
                        .parse()
                        .map_err(|e| eyre::eyre!("{name}: {e}"))?,
                ));
            }
        }
        Ok((blocks, built, inits))
    }

    /// Deletes undecided files of heights up to `height`.
    ///
    /// # Errors
    /// I/O errors.
    pub fn prune_undecided(&self, height: u64) -> Result<()> {
        for entry in fs::read_dir(&self.undecided)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let digits = name.strip_prefix("built-").unwrap_or(&name);
            if let Some(h) = digits.get(..20).and_then(|d| d.parse::<u64>().ok())
                && h <= height
            {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_interrupted_by_a_crash_are_ignored_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Undecided::open(dir.path()).unwrap();
        let h = BlockHash::default();
        store.put_built(5, 0, h).unwrap();
        // A crash between creating the temporary file and renaming it.
        let stray = dir
            .path()
            .join("undecided")
            .join(format!("built-{:020}-1.tmp", 5));
        fs::write(&stray, "partial").unwrap();
        let (blocks, built, inits) = store.undecided(5).unwrap();
        assert!(blocks.is_empty() && inits.is_empty());
        assert_eq!(built, vec![(0, h)]);
        assert!(!stray.exists());
    }
}
